#!/bin/bash
# The intermediate σ of two-step sampling (--sigmas 80,σ): FID-FMNIST of 2,000 samples (seed 1) for each σ, best last.
# Usage: bench/results/sigma-sweep.sh RUN_DIR CHECKPOINT OUT_DIR [σ ...]   (default σ: ECT's 0.821 and a log-spaced range)
# CM may point at a built cm (default: dotnet run).
set -euo pipefail
RUN=$(realpath "${1:?run folder}"); CKPT=${2:?checkpoint in the run folder}; OUT=${3:?output folder}; shift 3
SIGMAS=("$@"); [ ${#SIGMAS[@]} -gt 0 ] || SIGMAS=(0.2 0.35 0.5 0.821 1.2 1.8 2.5 4)
CM=${CM:-"dotnet run --project $(cd "$(dirname "$0")" && pwd)/../../src/ConsistencyModels.Cli -c Release --"}
mkdir -p "$OUT"; cd "$OUT"
for s in "${SIGMAS[@]}"; do
  [ -f "s$s.json" ] && continue
  $CM sample --num-samples 2000 --seed 1 --batch-size 100 --model-config "$RUN/config.json" --checkpoint "$RUN/$CKPT" \
    --sampler multistep --sigmas "80,$s" --output-dir "samples-$s" >/dev/null
  $CM evaluate --samples "samples-$s" --json > "s$s.json"
  rm -rf "samples-$s"
done
for s in "${SIGMAS[@]}"; do
  python3 -c "import json,sys; r=json.load(open('s$s.json')); print(f\"{sys.argv[1]:>6}  FID {r['fid']:7.2f}  precision {r['precision']:.3f}  recall {r['recall']:.3f}\")" "$s"
done | sort -k3 -n -r
