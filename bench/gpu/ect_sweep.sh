#!/usr/bin/env bash
# Issue 18 on a GPU machine: ECT from the built-in teacher edm_fmnist32 at short budgets, one run per variant (same
# steps, batch, seed, EMAs), then 5,000 samples (seed 1) of each run's newest half-life EMA at one step and at two
# (σ 80, 1.5). Variants: "name=flags;name=flags" in VARIANTS (default: the paper's q 2 over 8 stages, --recipe ect;
# ECT's 1-hour CIFAR-10 setting q 256 in one stage; q 16 in one stage, what cm train ect now defaults to). Back: per variant a tar of the run (log,
# config, the EMAs at the end and the half-life EMA at 3/4 of the run as fp16 safetensors: about 4 MB each), one tar.xz of all samples; score on the CPU with bench/results/score_runs.sh.
# Prepare: bench/gpu/prepare.sh train; carry [".gpu/cmlite.tar.xz", ".gpu/dotnet-runtime.tar.xz", ".gpu/data"]
# Dry run on this CPU: CM="dotnet src/ConsistencyModels.Cli/bin/Release/net10.0/linux-x64/cm.dll" DEVICE=cpu \
#   STEPS=8 BATCH=8 SAMPLES=50 bash bench/gpu/ect_sweep.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; W=${WORK:-/tmp/w}; mkdir -p "$OUT" "$W"
DEVICE=${DEVICE:-cuda}; SAMPLES=${SAMPLES:-5000}; SAMPLE_BATCH=${SAMPLE_BATCH:-1000}
STEPS=${STEPS:-1000}; BATCH=${BATCH:-256}
VARIANTS=${VARIANTS:-"q2x8=--recipe ect;q256=-q 256 --double 1000000;q16=-q 16 --double 1000000"}
T0=$SECONDS
say() { echo "[$((SECONDS - T0)) s] $*" | tee -a "$OUT/ect_sweep.txt"; }
source bench/gpu/cm_env.sh
say "$CARD: ECT from edm_fmnist32, $STEPS steps x $BATCH, variants: $VARIANTS"
fmnist_data "$W/data"
IFS=';' read -ra VS <<< "$VARIANTS"
for v in "${VS[@]}"; do
  name=${v%%=*}; read -ra flags <<< "${v#*=}"; run=$W/ect-$name; rm -rf "$run"
  timeout ${RUN_S:-150} $CM train ect --preset edm_fmnist32 --data "$DATA" --device "$DEVICE" --sample-columns 0 --log-interval 50 \
    --output "$run" --global-batch-size "$BATCH" --total-training-steps "$STEPS" --save-interval $((STEPS / 4)) \
    --ema-rate 0.9993 --ema-halflife-kimg 500 --seed 7 "${flags[@]}" > "$W/ect-$name.log" 2>&1
  say "$name (${flags[*]}): rc=$?; $(tail -1 "$run/log.csv" 2>/dev/null); $(tail -c 300 "$W/ect-$name.log" | tr '\r\n' '  ' | tail -c 150)"
  ck=$(ls -1 "$run"/ema_hl*kimg_*.pt 2>/dev/null | sort | tail -1)
  [ -n "$ck" ] || continue
  for s in one two; do
    extra=(); [ $s = two ] && extra=(--sampler multistep --sigmas 80,1.5)
    timeout 120 $CM sample --num-samples "$SAMPLES" --seed 1 --batch-size "$SAMPLE_BATCH" --device "$DEVICE" \
      --model-config "$run/config.json" --checkpoint "$ck" "${extra[@]}" --output-dir "$W/samples/ect-$name-$s" > "$W/sample-$name-$s.log" 2>&1
    rc=$?
    echo "$CARD: cm sample --num-samples $SAMPLES --seed 1 --device $DEVICE --checkpoint ect-$name/$(basename "$ck") ${extra[*]}" > "$W/samples/ect-$name-$s/imported.txt"
    say "sample $name $s: rc=$rc"
  done
  mkdir -p "$W/pack/ect-$name"
  cp "$run"/config.json "$run"/log.csv "$W/pack/ect-$name/"
  cp "$(ls -1 "$run"/train_state*.json | sort | tail -1)" "$W/pack/ect-$name/"
  for e in "$run/ema_0.9993_$(printf %06d "$STEPS").pt" "$ck" "$run/ema_hl500kimg_$(printf %06d $((STEPS * 3 / 4))).pt"; do
    $CM convert "$e" "$W/pack/ect-$name/$(basename "$e" .pt).safetensors" --dtype fp16 > /dev/null 2>&1
  done
  echo "$CARD (one GPU, cm --device $DEVICE)" > "$W/pack/ect-$name/device.txt"
  tar -C "$W/pack" -cf "$OUT/ect-$name.tar" "ect-$name"; say "packed ect-$name.tar ($(du -h "$OUT/ect-$name.tar" | cut -f1))"
done
[ -d "$W/samples" ] && tar -C "$W" -cf - samples | xz -6 -T0 > "$OUT/ect-samples.tar.xz" && say "packed ect-samples.tar.xz ($(du -h "$OUT/ect-samples.tar.xz" | cut -f1))"
say done
