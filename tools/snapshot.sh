#!/usr/bin/env bash
# Behaviour snapshot: runs a published cm through generate, edit and four short training runs and hashes every output
# (log.csv without its timing columns), so that a refactoring can be checked byte for byte:
#   dotnet publish src/ConsistencyModels.Cli -c Release -o /tmp/cm-a   (at the old commit; again to /tmp/cm-b at the new one)
#   tools/snapshot.sh /tmp/cm-a /tmp/snap-a && tools/snapshot.sh /tmp/cm-b /tmp/snap-b && diff /tmp/snap-a.sha /tmp/snap-b.sha
# Needs Fashion-MNIST in /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist). About a minute.

set -e
CM="$(realpath "$1")/cm"; O="$(realpath -m "$2")"; rm -rf "$O"; mkdir -p "$O"; cd "$O"
D=/usr/share/datasets/fashion-mnist
$CM generate --output gen1.png --npz gen1.npz >/dev/null
$CM generate --sampler multistep --ts 0,22,39 -n 12 --seed 7 --output gen2.png >/dev/null
$CM edit inpaint --input-dataset $D/t10k-images-idx3-ubyte.gz --indices 0-3 --output inpaint.png --output-dir inpaint >/dev/null
$CM edit superres --input-dataset $D/t10k-images-idx3-ubyte.gz --indices 0-3 --output superres.png >/dev/null
$CM edit interpolate --pairs 2 --frames 4 --output interp.png >/dev/null
$CM edit denoise --input-dataset $D/t10k-images-idx3-ubyte.gz --indices 0-3 --output denoise.png >/dev/null
$CM train edm --preset fmnist32 --data $D --output tedm --global-batch-size 4 --total-training-steps 4 --save-interval 2 --seed 1 >/dev/null
$CM train ct --preset fmnist32 --data $D --output tct --global-batch-size 4 --total-training-steps 4 --save-interval 2 --seed 1 >/dev/null
$CM train ct --recipe ict --preset fmnist32 --data $D --output tict --global-batch-size 4 --total-training-steps 4 --save-interval 4 --seed 1 >/dev/null
$CM train cd --preset fmnist32 --data $D --teacher tedm/ema_0.999_000004.pt --output tcd --global-batch-size 4 --total-training-steps 3 --save-interval 3 --seed 2 >/dev/null
find . -type f ! -name log.csv ! -name '*.png' -path './t*' -o -type f -path './t*' -name 'samples*.png' -o -type f ! -path './t*' | sort | xargs sha256sum > "$O.sha"
# log.csv minus timing columns
for f in t*/log.csv; do cut -d, -f1-4 $f | sha256sum | sed "s|-|$f|"; done >> "$O.sha"
