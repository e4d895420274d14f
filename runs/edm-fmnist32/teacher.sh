#!/bin/bash
# Resume set of the fmnist32 EDM teacher (issue 18): step 9,000 of batch 32 (288k images, 2.6 h on 2 AMD EPYC cores).
# Continue it on any machine: copy this folder to a run folder and run this script from the repository root.
#   cp -r runs/edm-fmnist32 /tmp/edm-teacher && RUN=/tmp/edm-teacher runs/edm-fmnist32/teacher.sh
set -euo pipefail
RUN=${RUN:?run folder (a copy of this one)}
CM=${CM:-"dotnet run --project src/ConsistencyModels.Cli -c Release --"}
$CM train edm --preset fmnist32 --data /usr/share/datasets/fashion-mnist --output "$RUN" \
  --global-batch-size 32 --lr 1e-3 --total-training-steps 200000 --save-interval 500 --log-interval 50 \
  --ema-rate 0.9999 --ema-halflife-kimg 500 --seed 7 --threads 2 --resume
