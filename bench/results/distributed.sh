#!/bin/bash
# The scaling table of docs/distributed.md: 1 rank x 2 threads against 2 MPI ranks x 1 thread, training and sampling.
# Usage: bench/results/distributed.sh OUT_DIR   (CM may point at a built cm; run it alone on the machine)
set -euo pipefail
OUT=${1:?output folder}
CM=${CM:-"dotnet run --project $(cd "$(dirname "$0")" && pwd)/../../src/ConsistencyModels.Cli -c Release --"}
mkdir -p "$OUT"; cd "$OUT"
# 1 rank x 2 threads against 2 MPI ranks x 1 thread
TR="train ct --preset fmnist32 --data /usr/share/datasets/fashion-mnist --global-batch-size 32 --total-training-steps 16 --save-interval 16 --log-interval 8 --sample-columns 0 --seed 1"
MPI="mpirun --allow-run-as-root --oversubscribe -np 2"
/usr/bin/time -f "train 1x2 %e s" $CM $TR --output t1 --threads 2 >/dev/null; tail -1 t1/log.csv
/usr/bin/time -f "train 2x1 %e s" $MPI $CM $TR --output t2 --threads 1 >/dev/null; tail -1 t2/log.csv
/usr/bin/time -f "sample 1x2 %e s" $CM sample --num-samples 2000 --shard-size 250 --threads 2 --output-dir s1 >/dev/null
/usr/bin/time -f "sample 2x1 %e s" $MPI $CM sample --num-samples 2000 --shard-size 250 --threads 1 --output-dir s2 >/dev/null
cmp <(cat s1/*.npz) <(cat s2/*.npz) && echo "sharded samples identical"
