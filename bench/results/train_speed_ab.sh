#!/bin/bash
# Training-step speed of two builds of cm, whole processes interleaved (A, B, A, B, ...), on Fashion-MNIST at batch 32:
# images/s from each run's log.csv after its first 10 steps, median over the rounds. For changes a one-process benchmark
# cannot toggle (the C heap's settings). One line per case: the medians of A and B, B / A, then each run's median
# (the spread between processes). Usage: [ONLY="edm-fp32 ..."] bench/results/train_speed_ab.sh CM_A CM_B [ROUNDS] [STEPS]
set -euo pipefail
A=${1:?cm of build A}; B=${2:?cm of build B}; ROUNDS=${3:-2}; STEPS=${4:-40}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
CASES=$(cat <<'C'
edm-fp32|edm --preset fmnist32 --precision fp32
edm-bf16|edm --preset fmnist32 --precision bf16
ct-fp32|ct --preset fmnist32 --precision fp32
ct-bf16|ct --preset fmnist32 --precision bf16
ect-fp32|ect --preset edm_fmnist32 --precision fp32
ect-bf16|ect --preset edm_fmnist32 --precision bf16
C
)
echo "| case | A (images/s) | B (images/s) | B / A | A's runs | B's runs |"
echo "$CASES" | while IFS='|' read -r name args; do
  [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $name "* ]] || continue   # ONLY="edm-fp32 ...": those cases alone
  for r in $(seq "$ROUNDS"); do
    for build in A B; do
      cm=$([ $build = A ] && echo "$A" || echo "$B")
      run=$OUT/$name-$build-$r
      # shellcheck disable=SC2086
      $cm train $args --data "$DATA" --output "$run" --total-training-steps "$STEPS" --global-batch-size 32 \
        --save-interval 100000 --log-interval 10 --sample-columns 0 --seed 1 --threads 2 < /dev/null > "$run.out" 2>&1 \
        || { echo "$name, build $build: cm train failed (STEPS must exceed 20):"; tail -5 "$run.out"; exit 1; }
      # images/s over the steps after the first 10 (the log's rate column is per log interval)
      tail -n +3 "$run/log.csv" | cut -d, -f5 | tr '\n' ' ' > "$OUT/$name-$build-$r.ips"
    done
  done
  python3 - "$OUT" "$name" "$ROUNDS" <<'PY'
import sys, statistics
out, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rates(b): return [float(v) for r in range(1, rounds + 1) for v in open(f"{out}/{name}-{b}-{r}.ips").read().split()]
a, b = statistics.median(rates('A')), statistics.median(rates('B'))
def runs(b): return ", ".join(f"{statistics.median(float(v) for v in open(f'{out}/{name}-{b}-{r}.ips').read().split()):.1f}" for r in range(1, rounds + 1))
print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f}x | {runs('A')} | {runs('B')} |")   # then each run's median: the spread between processes
PY
done
