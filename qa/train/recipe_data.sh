# The data every stage of the reader recipe trains on, for cpu_recipe.sh and gpu_recipe.sh to
# source: one list, so that the two recipes cannot drift apart. MODEL_CARD.md gives the sources
# and their licenses.

# the held-out articles (calibration and test halves) that training never sees
SPLIT=qa/models/reader/split.json

recipe_flags() {  # recipe_flags DATA_DIR DEVICE: the train-reader flags, into the array FLAGS
  local D=$1 T=$1/train
  FLAGS=(--data "$D/squad1-dev-public.json" --no-answer "$D/squad2-dev-public.json"
    --split "$SPLIT"
    --extra "$T/squad_train_partial.json" --extra "$T/squadshifts_new_wiki.json"
    --extra "$T/nq_qed.json" --extra "$T/nq_open_oracle.json" --extra "$T/covid_qa_partial.json:600"
    --extra "$T/squadshifts_amazon.json:3000" --extra "$T/squadshifts_reddit.json:3000"
    --extra "$T/tweetqa_extractive.json:2000" --negatives 5000 --max-negative-windows 2
    --bf16 --batch 32 --device "$2")
}
