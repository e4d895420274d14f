#!/bin/bash
# CT and iCT from scratch at a short CPU budget: the released schedules against short-budget ones, same steps, batch,
# seed and learning rate (docs/training.md, "CT and iCT at short budgets"). For each variant: the run (resumable), class
# grids of the online, target and EMA networks at each save, and 5,000 samples (seed 1) one-step and two-step from the
# EMA, scored with FID-FMNIST, precision and recall.
# Usage: bench/results/ct_short_budget.sh OUT [STEPS] [VARIANT ...]      (default 1500 steps, every variant)
#   CM may point at a built cm (default: dotnet run); THREADS: libtorch threads per run (default 2); SEED: the training seed (default 7). DATA: Fashion-MNIST (default /usr/share/datasets/fashion-mnist).
set -euo pipefail
OUT=${1:?output folder}; STEPS=${2:-1500}; shift $(( $# < 2 ? $# : 2 ))
HERE=$(cd "$(dirname "$0")" && pwd)
CM=${CM:-"dotnet run --project $HERE/../../src/ConsistencyModels.Cli -c Release --"}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
SAVE=$(( STEPS / 3 ))
mkdir -p "$OUT"

# name | cm train ct options beyond the common ones (ct-default: none, `cm train ct`'s recipe ct-short, which at
# 782-3,124 steps is ct-n80-lognormal-ictw; ct-short: the earlier default, N 2 -> 10 with uniform pairs and weighting)
VARIANTS=$(cat <<'V'
ct-default|
ct-released|--recipe ct
ct-n10|--recipe ct --end-scales 10
ct-short|--recipe ct --end-scales 10 --target-ema-mode fixed --start-ema 0
ict-released|--recipe ict --end-scales 1280
ict-short|--recipe ict --end-scales 80
ct-n80|--recipe ct --end-scales 80 --target-ema-mode fixed --start-ema 0
ct-n80-doubling|--recipe ct --scale-mode ict-doubling --start-scales 10 --end-scales 80 --target-ema-mode fixed --start-ema 0
ct-n80-lognormal-ictw|--recipe ct --end-scales 80 --target-ema-mode fixed --start-ema 0 --pair-sampling lognormal --weight-schedule ict
ct-n80-huber|--recipe ct --end-scales 80 --target-ema-mode fixed --start-ema 0 --loss-norm pseudo-huber
V
)
wanted=" $* "
echo "$VARIANTS" | while IFS='|' read -r name opts; do
  [ $# -eq 0 ] || [[ $wanted == *" $name "* ]] || continue
  run=$OUT/$name
  # shellcheck disable=SC2086
  $CM train ct --preset fmnist32 --data "$DATA" --output "$run" --global-batch-size 32 --total-training-steps "$STEPS" \
      --save-interval "$SAVE" --log-interval 50 --ema-halflife-kimg 500 --seed "${SEED:-7}" --threads "${THREADS:-2}" $opts \
      $([ -f "$run/log.csv" ] && echo --resume) < /dev/null
  # Grids, one row per class (seed 42), at each save: online (model), target, EMA; one step.
  for ckpt in "$run"/model*.pt "$run"/target*.pt "$run"/ema_hl*.pt; do
    [ -f "$ckpt" ] || continue
    png="$run/grid-$(basename "${ckpt%.pt}").png"
    [ -f "$png" ] || $CM generate --model-config "$run/config.json" --checkpoint "$ckpt" --class-labels rows --grid-columns 8 -n 80 --seed 42 --output "$png" > /dev/null
  done
  ema=$(ls -1 "$run"/ema_hl*.pt | sort | tail -1)
  for sampling in "1|" "2|--sampler multistep --ts 0,22,39"; do
    IFS='|' read -r k extra <<< "$sampling"
    s="$run/samples-${k}step"
    # shellcheck disable=SC2086
    [ -d "$s" ] || $CM sample --model-config "$run/config.json" --checkpoint "$ema" --num-samples 5000 --seed 1 --batch-size 100 $extra --output-dir "$s" > /dev/null
    [ -s "$run/score-${k}step.json" ] || { $CM evaluate --samples "$s" --json > "$run/score.tmp" && mv "$run/score.tmp" "$run/score-${k}step.json"; }
  done
done

# One line per variant: FID-FMNIST / precision / recall at one and two steps.
for run in "$OUT"/*/; do
  name=$(basename "$run")
  [ -f "$run/score-1step.json" ] || continue
  python3 - "$run" "$name" <<'PY'
import json, sys, os
run, name = sys.argv[1], sys.argv[2]
def row(k):
    d = json.load(open(os.path.join(run, f"score-{k}step.json")))
    return f"{d.get('fid', float('nan')):.1f} / {d.get('precision', float('nan')):.3f} / {d.get('recall', float('nan')):.3f}"
print(f"| {name} | {row(1)} | {row(2)} |")
PY
done
