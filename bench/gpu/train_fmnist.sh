#!/usr/bin/env bash
# One device call for issue 18: the fmnist32 EDM teacher, ECT from it, iCT and CT from scratch, each on one GPU in a
# fixed time box, then 5,000 samples (seed 1) for every row of docs/results.md, all with cm itself. What comes back
# (run folders and sample shards, at most 8 files) is scored on the CPU with bench/results/results.sh.
# Prepare here: bench/gpu/prepare.sh train; then on the device, with
#   carry [".gpu/cmlite.tar.xz", ".gpu/dotnet-runtime.tar.xz", ".gpu/data"]:  bash bench/gpu/train_fmnist.sh
# A dry run on this CPU: CM="dotnet src/ConsistencyModels.Cli/bin/Release/net10.0/linux-x64/cm.dll" DEVICE=cpu \
#   TEACHER_S=60 ECT_S=30 ICT_S=20 CT_S=20 SAMPLES=200 bash bench/gpu/train_fmnist.sh
# Time boxes in seconds (TEACHER_S, ECT_S, ICT_S, CT_S) and batch sizes (TEACHER_BATCH, TUNE_BATCH) come from the
# environment. The teacher runs until its box closes (killed; its newest checkpoint counts and the log is cut there);
# the others are sized from the teacher's measured steps/s so that their schedules (ECT's stages, CT's N(k)) complete.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; W=${WORK:-/tmp/w}; mkdir -p "$OUT" "$W"
DEVICE=${DEVICE:-cuda}; SAMPLES=${SAMPLES:-5000}; SAMPLE_BATCH=${SAMPLE_BATCH:-1000}
TEACHER_S=${TEACHER_S:-250}; ECT_S=${ECT_S:-85}; ICT_S=${ICT_S:-35}; CT_S=${CT_S:-35}
TEACHER_BATCH=${TEACHER_BATCH:-512}; TUNE_BATCH=${TUNE_BATCH:-256}
T0=$SECONDS
say() { echo "[$((SECONDS - T0)) s] $*" | tee -a "$OUT/logs.txt"; }

source bench/gpu/cm_env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee -a "$OUT/logs.txt"
fmnist_data "$W/data"
COMMON=(--preset fmnist32 --data "$DATA" --device "$DEVICE" --sample-columns 0 --log-interval 100)

newest() { ls -1 "$1"/$2 2>/dev/null | sort | tail -1; }
step_of() { basename "$1" .pt | grep -o '[0-9]*$' | sed 's/^0*//'; }
rate() { python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1])))[-1]; print(int(r['step'])/float(r['elapsed_seconds']))" "$1/log.csv"; }
finish_run() {   # run folder, checkpoint: cut log.csv at the checkpoint's step, note the card, pack what the table needs
  local run=$1 ckpt=$2 s; s=$(step_of "$ckpt")
  python3 -c "import sys; L=open(sys.argv[1]).read().splitlines(); open(sys.argv[1],'w').write('\n'.join([L[0]]+[l for l in L[1:] if int(l.split(',')[0])<=int(sys.argv[2])])+'\n')" "$run/log.csv" "$s"
  echo "$CARD (one GPU, cm --device $DEVICE)" > "$run/device.txt"
  say "$(basename "$run"): checkpoint $(basename "$ckpt") at step $s; $(tail -1 "$run/log.csv")"
}
prune() {       # run folder, checkpoint: keep only that half-life EMA (the optimiser, online and fixed-rate EMAs stay here)
  rm -f "$1"/opt*.pt "$1"/model*.pt "$1"/ema_0.*.pt "$1"/target*.pt
  ls "$1"/ema_hl*.pt | grep -v "$(basename "$2")" | xargs -r rm -f
}
sample() {   # id, run folder, checkpoint, sampler options...
  local id=$1 run=$2 ckpt=$3; shift 3
  timeout 120 $CM sample --num-samples "$SAMPLES" --seed 1 --batch-size "$SAMPLE_BATCH" --device "$DEVICE" \
    --model-config "$run/config.json" --checkpoint "$ckpt" "$@" --output-dir "$W/samples/samples-$id" > "$W/sample-$id.log" 2>&1
  local rc=$?
  echo "$CARD: cm sample --num-samples $SAMPLES --seed 1 --batch-size $SAMPLE_BATCH --device $DEVICE --checkpoint $(basename "$ckpt") $*" > "$W/samples/samples-$id/imported.txt" 2>/dev/null
  say "sample $id rc=$rc: $(tail -c 200 "$W/sample-$id.log" | tr '\r\n' '  ' | tail -c 120)"
}
pack() { tar -C "$W/${3:-.}" -cf - "${@:4}" | ${2:-cat} > "$OUT/$1"; say "packed $1 ($(du -h "$OUT/$1" | cut -f1))"; }

# 1. The EDM teacher: EDM's CIFAR-10 batch and learning rate, half-life EMA (500 kimg, ramp-up 0.05), until the box closes.
say "teacher: batch $TEACHER_BATCH, ${TEACHER_S} s"
timeout -s KILL "$TEACHER_S" $CM train edm "${COMMON[@]}" --output "$W/edm-fmnist32" --global-batch-size "$TEACHER_BATCH" \
  --lr 1e-3 --total-training-steps 1000000 --save-interval "${SAVE_EVERY:-500}" --ema-halflife-kimg 500 --seed 7 > "$W/teacher.log" 2>&1
tail -c 1500 "$W/teacher.log" | tr '\r' '\n' | tail -5 >> "$OUT/logs.txt"
TEACHER=$(newest "$W/edm-fmnist32" 'ema_hl*kimg_*.pt')
[ -n "$TEACHER" ] || { say "no teacher checkpoint"; exit 1; }
finish_run "$W/edm-fmnist32" "$TEACHER"
R=$(rate "$W/edm-fmnist32"); say "teacher: $R steps/s at batch $TEACHER_BATCH"
prune "$W/edm-fmnist32" "$TEACHER"
ls "$W"/edm-fmnist32/train_state*.json | grep -v "$(step_of "$TEACHER" | xargs printf '%06d').json" | xargs -r rm -f
pack teacher.tar "" . edm-fmnist32
sample edm18 "$W/edm-fmnist32" "$TEACHER" --sampler heun --steps 18
sample edm40 "$W/edm-fmnist32" "$TEACHER" --sampler heun --steps 40
pack samples-teacher.tar.xz "xz -6 -T0" samples samples-edm18 samples-edm40

# Steps that fit a box for a step costing `factor` teacher steps at batch TUNE_BATCH (step time taken as batch-bound).
steps_for() { python3 -c "import sys; r,s,f,b,tb=map(float,sys.argv[1:]); print(max(16,int(r*s*0.8/f*min(1,tb/b))//16*16))" "$R" "$1" "$2" "$TUNE_BATCH" "$TEACHER_BATCH"; }

# 2. ECT from the teacher: the paper's q 2, sigmoid mapping, 8 stages over the run, RAdam 1e-4.
N=$(steps_for "$ECT_S" 1.4); say "ect: $N steps at batch $TUNE_BATCH"
timeout -s KILL $((ECT_S + 40)) $CM train ect --recipe ect "${COMMON[@]}" --teacher "$TEACHER" --output "$W/ect-fmnist32" \
  --global-batch-size "$TUNE_BATCH" --total-training-steps "$N" --save-interval $((N / 4)) --ema-halflife-kimg 500 --seed 7 > "$W/ect.log" 2>&1
tail -c 1500 "$W/ect.log" | tr '\r' '\n' | tail -4 >> "$OUT/logs.txt"
ECT=$(newest "$W/ect-fmnist32" 'ema_hl*kimg_*.pt')
if [ -n "$ECT" ]; then
  finish_run "$W/ect-fmnist32" "$ECT"
  sample ect1 "$W/ect-fmnist32" "$ECT"
  for s in 0.4 0.821 1.5; do sample "ect2-$s" "$W/ect-fmnist32" "$ECT" --sampler multistep --sigmas "80,$s"; done
  prune "$W/ect-fmnist32" "$ECT"
  pack ect.tar "" . ect-fmnist32
  (cd "$W/samples" && ls -d samples-ect*) > /dev/null 2>&1 && pack samples-ect.tar.xz "xz -6 -T0" samples $(cd "$W/samples" && ls -d samples-ect*)
fi

# 3. iCT and CT from scratch at the same batch, each sized to its box (their schedules follow --total-training-steps).
N=$(steps_for "$ICT_S" 1.4); say "ict: $N steps"
timeout -s KILL $((ICT_S + 30)) $CM train ct --recipe ict --end-scales 1280 "${COMMON[@]}" --output "$W/ict-fmnist32" --global-batch-size "$TUNE_BATCH" \
  --total-training-steps "$N" --save-interval $((N / 2)) --ema-halflife-kimg 500 --seed 7 > "$W/ict.log" 2>&1
tail -c 1000 "$W/ict.log" | tr '\r' '\n' | tail -3 >> "$OUT/logs.txt"
N=$(steps_for "$CT_S" 1.6); say "ct: $N steps"
timeout -s KILL $((CT_S + 30)) $CM train ct "${COMMON[@]}" --output "$W/ct-fmnist32" --global-batch-size "$TUNE_BATCH" \
  --total-training-steps "$N" --save-interval $((N / 2)) --ema-halflife-kimg 500 --seed 7 > "$W/ct.log" 2>&1
tail -c 1000 "$W/ct.log" | tr '\r' '\n' | tail -3 >> "$OUT/logs.txt"
runs=()
for m in ict ct; do
  C=$(newest "$W/$m-fmnist32" 'ema_hl*kimg_*.pt'); [ -n "$C" ] || continue
  finish_run "$W/$m-fmnist32" "$C"
  sample "${m}1" "$W/$m-fmnist32" "$C"
  sample "${m}2" "$W/$m-fmnist32" "$C" --sampler multistep --ts 0,22,39
  prune "$W/$m-fmnist32" "$C"
  runs+=("$m-fmnist32")
done
[ ${#runs[@]} -gt 0 ] && pack scratch.tar "" . "${runs[@]}"
ls -d "$W"/samples/samples-ict* "$W"/samples/samples-ct* > /dev/null 2>&1 && \
  pack samples-scratch.tar.xz "xz -6 -T0" samples $(cd "$W/samples" && ls -d samples-ict* samples-ct* 2>/dev/null)
say "done"
