#!/usr/bin/env bash
# Issue 17 on a GPU machine: training images/s at batch 32 on the ImageNet-64 UNet. `cm train edm|cd|ct` (each in
# the precisions of $PRECISIONS, default fp32 and fp16 mixed precision; three EMAs as the official launch.sh) against official_train.py, the re-created official step (fp16, the
# official setting, and fp32), on the same card, with GPU memory. Writes $OUT/throughput.txt and official_train.json.
# Prepare: bench/gpu/prepare.sh train; carry [".gpu/cmlite.tar.xz", ".gpu/dotnet-runtime.tar.xz"]
# Dry run on this CPU (fmnist32, tiny): CM="dotnet src/ConsistencyModels.Cli/bin/Release/net10.0/linux-x64/cm.dll" \
#   DEVICE=cpu ARCH=small STEPS=6 FROM=2 PY=/usr/bin/python3 bash bench/gpu/train_throughput.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; W=${WORK:-/tmp/w}; mkdir -p "$OUT" "$W"
DEVICE=${DEVICE:-cuda}; BATCH=${BATCH:-32}; STEPS=${STEPS:-30}; FROM=${FROM:-10}; PY=${PY:-python3}; ARCH=${ARCH:-im64}
source bench/gpu/cm_env.sh
T=$OUT/throughput.txt
echo "$CARD; cm train at batch $BATCH, images/s over steps $FROM-$STEPS (log.csv elapsed_seconds)" | tee -a "$T"
if [ "$ARCH" = im64 ]; then
  $PY bench/gpu/official_train.py --save-teacher "$W/teacher64.pt" || exit 1
  $PY -c "import numpy as np, sys; r = np.random.default_rng(0); np.savez(sys.argv[1], r.integers(0, 256, (512, 64, 64, 3), dtype=np.uint8), r.integers(0, 1000, 512))" "$W/rand64.npz"
  DATA=$W/rand64.npz
else
  DATA=/usr/share/datasets/fashion-mnist
fi
for mode in edm cd ct; do for prec in ${PRECISIONS:-fp32 fp16}; do
  if [ "$ARCH" = im64 ]; then
    preset=cd_imagenet64_l2; [ $mode = edm ] && preset=edm_imagenet64_ema
    extra=(); [ $mode = cd ] && extra=(--teacher "$W/teacher64.pt")
  else
    preset=fmnist32; extra=(); [ $mode = cd ] && extra=(--teacher edm_fmnist32)
  fi
  run=$W/im64-$mode-$prec; rm -rf "$run"
  $CM train $mode --preset $preset "${extra[@]}" --data "$DATA" --device "$DEVICE" --global-batch-size "$BATCH" --precision $prec \
    --total-training-steps 100000 --save-interval 1000000 --log-interval 5 --sample-columns 0 \
    --ema-rate 0.999,0.9999,0.9999432189950708 --output "$run" > "$W/im64-$mode-$prec.log" 2>&1 &
  pid=$!; peak=0; t0=$SECONDS
  while kill -0 $pid 2>/dev/null && [ $((SECONDS - t0)) -lt ${PER_MODE_S:-120} ]; do
    m=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
    [ -n "$m" ] && [ "$m" -gt "$peak" ] && peak=$m
    last=$(tail -1 "$run/log.csv" 2>/dev/null | cut -d, -f1)
    [[ "$last" =~ ^[0-9]+$ ]] && [ "$last" -ge "$STEPS" ] && break
    sleep 1
  done
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  $PY - "$run/log.csv" "$FROM" "$STEPS" "$BATCH" "$mode $prec" "$peak" <<'PYEOF' | tee -a "$T"
import csv, sys
path, a, b, batch, mode, peak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
try:
    rows = {int(r["step"]): float(r["elapsed_seconds"]) for r in csv.DictReader(open(path))}
    ips = (b - a) * batch / (rows[b] - rows[a])
    print(f"cm train {mode}: {ips:.1f} images/s ({(rows[b] - rows[a]) / (b - a) * 1e3:.0f} ms/step), GPU memory used (nvidia-smi peak) {peak / 1024:.2f} GiB")
except Exception as e:
    print(f"cm train {mode}: no rate ({e!r}); log: {open(path).read()[-300:] if __import__('os').path.exists(path) else 'none'}")
PYEOF
  tail -c 400 "$W/im64-$mode-$prec.log" | tr '\r' '\n' | tail -2 >> "$T"
done; done
if [ "$ARCH" = im64 ]; then
  PYTHONUNBUFFERED=1 timeout ${PY_S:-150} $PY bench/gpu/official_train.py --json "$OUT/official_train.json" 2>&1 | tee -a "$T"
else
  PYTHONUNBUFFERED=1 $PY bench/gpu/official_train.py --device cpu --tiny --json "$OUT/official_train.json" 2>&1 | tee -a "$T"
fi
