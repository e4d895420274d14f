#!/bin/bash
# Regenerates the numbers of docs/results.md and the scaling table of docs/distributed.md.
# Usage: bench/results/results.sh RUNS_DIR OUT_DIR   (RUNS_DIR holds edm-fmnist32, ct-fmnist32, ict-fmnist32 of docs/training.md)
# CM may point at a built cm (default: dotnet run). Takes about 1.5 h on a 2-core CPU, most of it the teacher's samples.
set -euo pipefail
RUNS=${1:?runs folder}; OUT=${2:?output folder}
CM=${CM:-"dotnet run --project $(dirname "$0")/../../src/ConsistencyModels.Cli -c Release --"}
mkdir -p "$OUT"; cd "$OUT"
S="--num-samples 5000 --seed 1 --batch-size 100"
model() { echo --model-config "$RUNS/$1/config.json" --checkpoint "$RUNS/$1/$2"; }
$CM sample $S --output-dir cd1
$CM sample $S --sampler multistep --ts 0,22,39 --output-dir cd2
$CM sample $S $(model ct-fmnist32 ema_0.999_001500.pt) --output-dir ct1
$CM sample $S $(model ct-fmnist32 ema_0.999_001500.pt) --sampler multistep --ts 0,22,39 --output-dir ct2
$CM sample $S $(model ict-fmnist32 ema_0.999_001500.pt) --output-dir ict1
$CM sample $S $(model ict-fmnist32 ema_0.999_001500.pt) --sampler multistep --ts 0,22,39 --output-dir ict2
$CM sample $S $(model edm-fmnist32 ema_0.999_011250.pt) --sampler heun --steps 18 --output-dir edm-heun18
for d in cd1 cd2 ct1 ct2 ict1 ict2 edm-heun18; do $CM evaluate --samples $d --json > $d.json; done
$CM evaluate --samples /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --num-samples 5000 --json > floor.json

# images/s, alone on the machine
ips() { local name=$1 n=$2; shift 2; $CM sample --num-samples $n --seed 9 --batch-size 100 --threads 2 --output-dir ips-$name "$@" | grep -o '([0-9.]* images/s)' | sed "s/^/$name /"; }
ips cd1 1000
ips cd2 1000 --sampler multistep --ts 0,22,39
ips ct1 1000 $(model ct-fmnist32 ema_0.999_001500.pt)
ips ict2 1000 $(model ict-fmnist32 ema_0.999_001500.pt) --sampler multistep --ts 0,22,39
ips edm-heun18 200 $(model edm-fmnist32 ema_0.999_011250.pt) --sampler heun --steps 18

# 1 rank x 2 threads against 2 MPI ranks x 1 thread
TR="train ct --preset fmnist32 --data /usr/share/datasets/fashion-mnist --global-batch-size 32 --total-training-steps 16 --save-interval 16 --log-interval 8 --sample-columns 0 --seed 1"
MPI="mpirun --allow-run-as-root --oversubscribe -np 2"
/usr/bin/time -f "train 1x2 %e s" $CM $TR --output t1 --threads 2 >/dev/null; tail -1 t1/log.csv
/usr/bin/time -f "train 2x1 %e s" $MPI $CM $TR --output t2 --threads 1 >/dev/null; tail -1 t2/log.csv
/usr/bin/time -f "sample 1x2 %e s" $CM sample --num-samples 2000 --shard-size 250 --threads 2 --output-dir s1 >/dev/null
/usr/bin/time -f "sample 2x1 %e s" $MPI $CM sample --num-samples 2000 --shard-size 250 --threads 1 --output-dir s2 >/dev/null
cmp <(cat s1/*.npz) <(cat s2/*.npz) && echo "sharded samples identical"
