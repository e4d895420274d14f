#!/bin/bash
# FID-FMNIST / precision / recall of 5,000 samples (seed 1) of checkpoints, one and two steps, on this machine:
#   bench/results/score_runs.sh RUN_DIR:CHECKPOINT[:NAME] ...   (two steps at SIGMAS, default 80,1.5; one JSON per row)
# Writes RUN_DIR/score-NAME-{1,2}step.json (resumable: rows already scored are skipped) and prints a markdown row each.
# CM may point at a built cm (default: dotnet run). Used for the GPU runs of bench/gpu/ect_sweep.sh.
set -euo pipefail
CM=${CM:-"dotnet run --project $(cd "$(dirname "$0")" && pwd)/../../src/ConsistencyModels.Cli -c Release --"}
SIGMAS=${SIGMAS:-80,1.5}
for spec in "$@"; do
  IFS=: read -r run ckpt name <<< "$spec"; name=${name:-${ckpt%.*}}
  for k in 1 2; do
    json="$run/score-$name-${k}step$([ $k = 2 ] && echo "-sigmas-$SIGMAS" || true).json"; [ -s "$json" ] && continue
    extra=(); [ $k = 2 ] && extra=(--sampler multistep --sigmas "$SIGMAS")
    s=$(mktemp -d); trap 'rm -rf "$s"' EXIT
    $CM sample --model-config "$run/config.json" --checkpoint "$run/$ckpt" --num-samples 5000 --seed 1 --batch-size 100 \
      "${extra[@]}" --output-dir "$s/samples" > /dev/null
    $CM evaluate --samples "$s/samples" --json > "$json.tmp" && mv "$json.tmp" "$json"
    rm -rf "$s"
  done
  SIGMAS=$SIGMAS python3 - "$run" "$name" <<'PY'
import json, sys, os
run, name = sys.argv[1], sys.argv[2]
def row(k):
    suffix = f"-sigmas-{os.environ.get('SIGMAS', '80,1.5')}" if k == 2 else ""
    d = json.load(open(os.path.join(run, f"score-{name}-{k}step{suffix}.json")))
    return f"{d['fid']:.1f} / {d['precision']:.3f} / {d['recall']:.3f}"
print(f"| {os.path.basename(run.rstrip('/'))} {name} | {row(1)} | {row(2)} |")
PY
done
