#!/usr/bin/env bash
# The shipped reader taught to refuse what its paragraph only comes close to saying, on the CPU,
# resumable across sessions: near-miss questions made from the training questions
# (`near-miss`, qa/train/nearmiss.py), then the shipped reader trained on them beside its own
# data, with itself as the teacher of the answerable windows (so what it could already answer
# stays answered) and the no-answer label as the target of every unanswerable one; then export,
# calibration and the held-out measurements.
#
#   qa/train/refusal_recipe.sh          run or resume, in the foreground
#   nohup nice -n 19 qa/train/refusal_recipe.sh >> ~/.cache/qa-train/refusal/recipe.log 2>&1 &
#
# Every stage leaves `$CACHE/<stage>.done`; running the script again resumes the first unfinished
# one (training from its last checkpoint). Nothing but the repository and ../shared/data is
# needed: the starting weights are recovered from qa/models/reader/model.onnx.
# Results: $CACHE/artifact (int8 ONNX reader and calibration.json) and $CACHE/eval.
set -euo pipefail
cd "$(dirname "$0")/../.."
source qa/train/recipe_data.sh
recipe_setup refusal
EPOCHS=${EPOCHS:-1}
NEAR_MISS_FLAGS=${NEAR_MISS_FLAGS:-}  # e.g. "--quota removed_fact=20" for a dry run
recipe_flags "$DATA" cpu
# shellcheck disable=SC2206
FLAGS+=($EXTRA_FLAGS)
BASE=$CACHE/base

if ! done_ base; then
  $PY -m qa.train recover-reader --model qa/models/reader --out "$BASE"
  mark base
fi

if ! done_ near-miss; then
  T=$DATA/train
  # the answerable questions the reader trains on, but for the informal sources (reviews, forum
  # posts, COVID papers), whose questions rarely name what a swap could change
  # shellcheck disable=SC2086
  $PY -m qa.train near-miss --data "$DATA/squad1-dev-public.json" --split "$SPLIT" \
    --extra "$T/squad_train_partial.json" --extra "$T/squadshifts_new_wiki.json" \
    --extra "$T/nq_qed.json" --extra "$T/nq_open_oracle.json" \
    --extra "$T/tweetqa_extractive.json:3000" \
    --quota entity_swap=4000 --quota entity_swap_near=2500 --quota number_swap=2000 \
    --quota date_swap=2000 --quota ordinal_swap=2000 --quota negation=3000 \
    --quota antonym=3500 --quota removed_fact=5000 $NEAR_MISS_FLAGS \
    --out "$CACHE/near-miss.json" --show 50 > "$CACHE/near-miss.txt"
  mark near-miss
fi

if ! done_ student; then
  say "student: $BASE on its own logits and $CACHE/near-miss.json, $EPOCHS epoch(s)"
  $PY -m qa.train train-reader "${FLAGS[@]}" --extra "$CACHE/near-miss.json" \
    --base-model "$BASE" --teacher "$BASE" --teacher-cache "$CACHE/teacher-logits" \
    --distill-alpha 0.5 --temperature 2 --epochs "$EPOCHS" --lr 3e-5 --seed 51 \
    --out "$CACHE/student" --save-every 50 $(resume_flag "$CACHE/student")
  mark student
fi

last_stages
