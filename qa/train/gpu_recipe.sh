#!/usr/bin/env bash
# The reader recipe on one GPU, in one go: train the all-mpnet-base-v2 teacher from its base
# weights, then distil it into the MiniLM reader. The steps are the CPU recipe's
# `python -m qa.train train-reader` commands (MODEL_CARD.md), run with `--device cuda`.
#
# Why a script: a borrowed GPU comes for minutes and with a small transfer limit: what travels to
# it in one call, the project's own tracked files included, is at most 64 MiB. The base weights
# travel packed (`python -m qa.train pack-model`, qa/train/transport.py) over several calls, and
# nothing here may stop half-way for a person to look.
#
#   qa/train/gpu_recipe.sh prepare    here: split what `run` needs into .xfer/1 .. .xfer/N, each
#                                     small enough to travel beside the working tree
#   qa/train/gpu_recipe.sh stash      there, one call per part K < N (carry .xfer/K): keep it
#   qa/train/gpu_recipe.sh run        there, last call (carry .xfer/N): keep it too, unpack, train
#                                     teacher and student; results land in $OUT
#   qa/train/gpu_recipe.sh land DIR   here, with DIR the fetched $OUT: the CPU recipe's export,
#                                     calibration and evaluation of the student (cpu_recipe.sh)
#
# The device releases an idle machine within seconds, so the calls must follow each other at
# once. What `run` reads from $STASH: mpnet/ (packed all-mpnet-base-v2), data.tar.xz (the
# ../shared/data files), a bm25s wheel. The student needs no transfer: `run` recovers it there
# from the shipped reader, which travels with the working tree (`recover-reader`).
# BUDGET_S: the seconds `run` may take in all; the teacher's steps are cut to fit, from a
# measured step time, and the steps taken are recorded in each run's train_config.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
XFER=${XFER:-.xfer}
STASH=${STASH:-/root/qa-xfer-stash}
WORK=${WORK:-/tmp/qa-gpu}
OUT=${OUT:-$WORK/out}
BUDGET_S=${BUDGET_S:-540}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-2}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-3}
export PYTHONUNBUFFERED=1
# here the project's virtualenv; there (where no .venv travels) the machine's own Python
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
DEVICE=${DEVICE:-cuda}
# A dry run elsewhere sets TEACHER_STEPS and STUDENT_STEPS (no timing, no plan) and adds
# EXTRA_FLAGS (e.g. --max-examples 100) to every train-reader command.
EXTRA_FLAGS=${EXTRA_FLAGS:-}

stash() {  # every part carried here (this call's, and earlier ones' the machine kept) into $STASH
  mkdir -p "$STASH"
  local d
  for d in "$XFER"/*/; do
    [ -d "$d" ] && cp -r "$d". "$STASH"/
  done
  find "$STASH" -type f | sort | xargs ls -la
}

unxz_into() {  # unxz_into DEST SRC: every file of SRC/ copied into DEST, .xz ones expanded
  local dest=$1 src=$2 f
  [ -d "$src" ] || { echo "$src: nothing stashed there" >&2; exit 1; }
  mkdir -p "$dest"
  for f in "$src"/*; do
    case $f in
      *.xz) xz -d -c "$f" > "$dest/$(basename "${f%.xz}")" ;;
      *) cp "$f" "$dest/" ;;
    esac
  done
}

plan_steps() {  # plan_steps T0: set TEACHER_STEPS and STUDENT_STEPS from measured step times
  # Step times of both models on this machine, to size the teacher's run to the budget.
  $PY - "$WORK/mpnet" "$WORK/student" "$DEVICE" > "$OUT/speed.json" <<'EOF'
import json, sys, time
import torch
from transformers import AutoModelForQuestionAnswering
dev = torch.device(sys.argv[3])
sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
res = {}
for name, path in (("teacher", sys.argv[1]), ("student", sys.argv[2])):
    m = AutoModelForQuestionAnswering.from_pretrained(path).to(dev).train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-5)
    ids = torch.randint(1000, 20000, (32, 224), device=dev)
    pos = torch.randint(0, 224, (32,), device=dev)
    for k in range(25):
        if k == 5:
            sync(); t = time.time()
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = m(input_ids=ids, attention_mask=torch.ones_like(ids),
                     start_positions=pos, end_positions=pos).loss
        loss.backward(); opt.step(); opt.zero_grad()
        loss.item()
    sync()
    res[name] = (time.time() - t) / 20
    del m, opt
print(json.dumps(res))
EOF
  cat "$OUT/speed.json"
  local steps_epoch=1700  # 54k windows / 32, rounded up
  local plan
  plan=$($PY - "$OUT/speed.json" "$BUDGET_S" "$((SECONDS - $1))" "$steps_epoch" \
    "$TEACHER_EPOCHS" "$STUDENT_EPOCHS" <<'EOF'
import json, math, sys
s = json.load(open(sys.argv[1]))
budget, spent, per_epoch = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
t_ep, s_ep = float(sys.argv[5]), float(sys.argv[6])
# Outside the step loops: two data builds, three probes, scoring the teacher on the student's
# windows (a forward is about a third of a step), saving. Step time plus a third for the
# batches' own work (collation, lengths) on top of the synthetic measurement.
fixed = 150 + per_epoch * s["teacher"] / 3 + 20
student_steps = math.ceil(per_epoch * s_ep)
left = budget - spent - fixed - student_steps * s["student"] * 1.4
teacher_steps = min(math.ceil(per_epoch * t_ep), int(left / (s["teacher"] * 1.35)))
print(max(teacher_steps, 0), student_steps)
EOF
)
  read -r TEACHER_STEPS STUDENT_STEPS <<< "$plan"
  echo "plan: teacher $TEACHER_STEPS steps, student $STUDENT_STEPS steps (spent $((SECONDS - $1)) s)"
  [ "$TEACHER_STEPS" -ge 300 ] || { echo "budget too small for a teacher"; exit 3; }
}

run() {
  mkdir -p "$WORK" "$OUT"
  local t0=$SECONDS
  stash > /dev/null
  if ls "$STASH"/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --target "$WORK/site" "$STASH"/*.whl
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  mkdir -p "$WORK/data" && tar xJf "$STASH/data.tar.xz" -C "$WORK/data"
  unxz_into "$WORK/packed/mpnet" "$STASH/mpnet"
  $PY -m qa.train unpack-model --from "$WORK/packed/mpnet" --out "$WORK/mpnet"
  $PY -m qa.train recover-reader --model qa/models/reader --out "$WORK/student"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

  local D=$WORK/data
  source qa/train/recipe_data.sh
  recipe_flags "$D" "$DEVICE"
  FLAGS+=(--save-every 100000000)
  # shellcheck disable=SC2206
  FLAGS+=($EXTRA_FLAGS)
  if [ -n "${TEACHER_STEPS:-}" ] && [ -n "${STUDENT_STEPS:-}" ]; then
    echo "plan given: teacher $TEACHER_STEPS steps, student $STUDENT_STEPS steps"
  else
    plan_steps "$t0"
  fi

  $PY -m qa.train train-reader "${FLAGS[@]}" --base-model "$WORK/mpnet" --out "$WORK/teacher" \
    --epochs "$TEACHER_EPOCHS" --max-steps "$TEACHER_STEPS" --lr 4e-5 --seed 33 \
    2>&1 | grep -v -E "^(DEBUG|Loading|Writing)" | tail -5
  echo "teacher done at $((SECONDS - t0)) s"
  for m in teacher/final student; do
    $PY -m qa.train probe-reader --model "$WORK/$m" --data "$D/squad2-dev-public.json" \
      --split "$SPLIT" --device "$DEVICE" 2>"$WORK/probe.err" \
      | tee -a "$OUT/probes.jsonl" || { tail -20 "$WORK/probe.err"; exit 1; }
  done
  $PY -m qa.train train-reader "${FLAGS[@]}" --base-model "$WORK/student" --out "$WORK/distilled" \
    --teacher "$WORK/teacher/final" --teacher-cache "$WORK/teacher-logits" \
    --distill-alpha 0.9 --temperature 2 \
    --epochs "$STUDENT_EPOCHS" --max-steps "$STUDENT_STEPS" --lr 5e-5 --seed 46 \
    2>&1 | grep -v -E "^(DEBUG|Loading|Writing)" | tail -5
  echo "student done at $((SECONDS - t0)) s"
  $PY -m qa.train probe-reader --model "$WORK/distilled/final" --data "$D/squad2-dev-public.json" \
    --split "$SPLIT" --device "$DEVICE" 2>"$WORK/probe.err" \
    | tee -a "$OUT/probes.jsonl" || { tail -20 "$WORK/probe.err"; exit 1; }

  # The student back in fp16 (training ran in bf16 autocast over fp32 weights), cut to fit the
  # transfer's file size; the rest of its folder and both runs' logs in one archive.
  $PY - "$WORK/distilled/final" "$OUT" <<'EOF'
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
src, out = Path(sys.argv[1]), Path(sys.argv[2])
t = {k: v.half() if v.is_floating_point() else v for k, v in load_file(src / "model.safetensors").items()}
save_file(t, str(out / "student-fp16.safetensors"))
EOF
  split -b 15m -d -a 1 "$OUT/student-fp16.safetensors" "$OUT/student-fp16.safetensors.part"
  rm "$OUT/student-fp16.safetensors"
  tar czf "$OUT/runs.tar.gz" -C "$WORK" --exclude='*.safetensors' --exclude='*.pt' \
    distilled/final teacher/train_config.json teacher/train.log \
    distilled/train_config.json distilled/train.log
  echo "all done at $((SECONDS - t0)) s"
  ls -la "$OUT"
}

travelling_bytes() {  # what a call sends whatever it carries: tracked and unignored files
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null |
      awk '{ n += $1 } END { print n + 0 }'
  else  # a tree without git (a release archive): every file that .gitignore does not name
    "$PY" - <<'EOF'
import os
import pathspec
with open(".gitignore", encoding="utf-8") as f:
    ignored = pathspec.GitIgnoreSpec.from_lines(f.read().splitlines())
total = 0
for top, dirs, files in os.walk("."):
    dirs[:] = [d for d in dirs if not ignored.match_file(os.path.normpath(f"{top}/{d}") + "/")]
    total += sum(os.path.getsize(f"{top}/{n}") for n in files
                 if not ignored.match_file(os.path.normpath(f"{top}/{n}")))
print(total)
EOF
  fi
}

prepare() {  # on this machine: everything `run` needs, in parts that each fit one call
  local data=${DATA:-../shared/data} p=$WORK/prepare base
  # 64 MiB a call, less the working tree that travels anyway and a MiB of slack
  local room=$(((64 << 20) - $(travelling_bytes) - (1 << 20)))
  [ "$room" -ge $((4 << 20)) ] || { echo "the working tree leaves no room to carry" >&2; exit 4; }
  rm -rf "$XFER" "$p"
  mkdir -p "$p/all/mpnet"
  source qa/train/recipe_data.sh
  if [ -n "${TEACHER_BASE:-}" ]; then
    base=$TEACHER_BASE
  else
    fetch_mpnet "$PY" "$WORK/mpnet-base"
    base=$WORK/mpnet-base/all-mpnet-base-v2
  fi
  # a part a MiB under the room; xz takes more off, and the small files fill in
  local part_mib=$(((room >> 20) - 1))
  # int8 rows with 4-bit word embeddings: the teacher's fine-tuning adapts to the rounding
  $PY -m qa.train pack-model --model "$base" --out "$p/all/mpnet" --part-mib "$part_mib" > /dev/null
  # int8 parts shrink by about an eighth under xz; `run` expands them (unxz_into)
  xz -T0 -6 "$p"/all/mpnet/*.npz.*
  tar cJf "$p/all/data.tar.xz" -C "$data" squad1-dev-public.json squad2-dev-public.json train
  # the device's Python may lack bm25s (retrieved negatives); WHEELS="" sends none
  local wheels=${WHEELS-bm25s==$($PY -c 'import bm25s; print(bm25s.__version__)')}
  # shellcheck disable=SC2086
  [ -z "$wheels" ] || $PY -m pip download -q --no-deps -d "$p/all" $wheels
  # first fit, largest files first, each keeping its path under the part
  local n=0 f size k placed
  local -a used=()
  while read -r size f; do
    [ "$size" -le "$room" ] || { echo "$f is larger than a call can carry" >&2; exit 4; }
    placed=
    for ((k = 1; k <= n; k++)); do
      if [ $((used[k] + size)) -le "$room" ]; then placed=$k; break; fi
    done
    [ -n "$placed" ] || { n=$((n + 1)); used[n]=0; placed=$n; }
    used[placed]=$((used[placed] + size))
    mkdir -p "$XFER/$placed/$(dirname "$f")"
    cp "$p/all/$f" "$XFER/$placed/$f"
  done < <(cd "$p/all" && find . -type f -printf '%s %P\n' | sort -k1,1nr -k2)
  echo "room per call: $room bytes; $n parts"
  for ((k = 1; k <= n; k++)); do echo "$XFER/$k: ${used[k]} bytes"; done
  echo "device calls: carry [\"$XFER/K\"], command \"qa/train/gpu_recipe.sh stash\" for K = 1..$((n - 1));"
  echo "then at once carry [\"$XFER/$n\"], command \"qa/train/gpu_recipe.sh run\""
}

land() {  # land DIR: the fetched results of `run` become the CPU recipe's finished student stage
  local from=${1:?usage: $0 land DIR}
  local cache=${CACHE:-$HOME/.cache/qa-train/gpu-land}
  local final=$cache/student/final
  ls "$from"/student-fp16.safetensors.part* > /dev/null && [ -f "$from/runs.tar.gz" ] ||
    { echo "$from holds no student-fp16.safetensors.part* and runs.tar.gz from \`run\`" >&2; exit 2; }
  rm -rf "$cache/gpu-run" "$final"
  mkdir -p "$cache/gpu-run" "$final"
  tar xzf "$from/runs.tar.gz" -C "$cache/gpu-run"
  cp "$cache"/gpu-run/distilled/final/* "$final/"
  cat "$from"/student-fp16.safetensors.part* > "$final/model.safetensors"
  cp "$from"/*.jsonl "$from"/*.json "$cache/gpu-run/" 2>/dev/null || true
  for stage in teacher student; do date -u +%FT%TZ > "$cache/$stage.done"; done
  rm -f "$cache/artifact.done" "$cache/eval.done"
  CACHE=$cache PY=$PY qa/train/cpu_recipe.sh
}

case ${1:-} in
  prepare) prepare ;;
  stash) stash ;;
  run) run ;;
  land) land "${2:-}" ;;
  *) echo "usage: $0 prepare|stash|run|land DIR" >&2; exit 2 ;;
esac
