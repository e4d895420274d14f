#!/bin/bash
# Regenerates the table of docs/results.md: for each model, 5,000 samples (seed 1) scored with FID-FMNIST, precision and
# recall, its sampling speed, and the training compute that produced it (read from its run's log.csv and train_state).
# Usage: bench/results/results.sh RUNS_DIR OUT_DIR
#   RUNS_DIR holds the run folders of docs/training.md (edm-fmnist32, ect-fmnist32(-cpu, -cpu-q64, -cpu-stage3), ct-fmnist32, short-budget-2000, ict-fmnist32); a row
#   whose run folder is missing is left out. Samples and scores are kept in OUT_DIR, so a rerun only does what is new.
#   CM may point at a built cm (default: dotnet run). Run it alone on the machine: the images/s column is measured.
#   ONLY="ect1 ect2 ..." rescores those rows alone; a row not scored in OUT_DIR keeps its line in docs/results.md.
#   SPEED_ONLY=1 measures the images/s column alone (again, where OUT_DIR has earlier timings): nothing is scored, and
#   the rows kept from docs/results.md (all of them, or ONLY's) take the new speed.
set -euo pipefail
RUNS=$(realpath "${1:?runs folder}"); OUT=${2:?output folder}
HERE=$(cd "$(dirname "$0")" && pwd)
CM=${CM:-"dotnet run --project $HERE/../../src/ConsistencyModels.Cli -c Release --"}
DOC=$HERE/../../docs/results.md
grep -q '<!-- results.sh: table start -->' "$DOC" || { echo "$DOC: the table markers are missing"; exit 1; }
mkdir -p "$OUT"; cd "$OUT"

# id | label | network evaluations | run folder (or "builtin") | checkpoint (a glob: the newest match; builtin:NAME a built-in model) | sampling options
ROWS=$(cat <<'EOF'
edm18|EDM teacher `edm_fmnist32`, Heun 18 steps|35|edm-fmnist32|builtin:edm_fmnist32|--sampler heun --steps 18
edm40|EDM teacher `edm_fmnist32`, Heun 40 steps (the paper's setting)|79|edm-fmnist32|builtin:edm_fmnist32|--sampler heun --steps 40
ects1|ECT from `edm_fmnist32` on the CPU, q 16, q 64, then q 64 at lr 5e-5, one step: `ect_fmnist32` (the default)|1|ect-fmnist32-cpu-stage3|ema_0.999_*.safetensors|
ects2|ECT from `edm_fmnist32` on the CPU, q 16, q 64, then q 64 at lr 5e-5, two steps (σ 80, SIGMA_MID)|2|ect-fmnist32-cpu-stage3|ema_0.999_*.safetensors|--sampler multistep --sigmas 80,SIGMA_MID
ectq1|ECT from `edm_fmnist32` on the CPU, q 16 then q 64, one step|1|ect-fmnist32-cpu-q64|ema_0.999_*.safetensors|
ectq2|ECT from `edm_fmnist32` on the CPU, q 16 then q 64, two steps (σ 80, SIGMA_MID)|2|ect-fmnist32-cpu-q64|ema_0.999_*.safetensors|--sampler multistep --sigmas 80,SIGMA_MID
ectc1|ECT from `edm_fmnist32` on the CPU, q 16 only, one step|1|ect-fmnist32-cpu|ema_hl*kimg_*.safetensors|
ectc2|ECT from `edm_fmnist32` on the CPU, q 16 only, two steps (σ 80, 2.5)|2|ect-fmnist32-cpu|ema_hl*kimg_*.safetensors|--sampler multistep --sigmas 80,2.5
ect1|ECT from `edm_fmnist32` on the GPU, one step|1|ect-fmnist32|ema_hl*kimg_*.safetensors|
ect2|ECT from `edm_fmnist32` on the GPU, two steps (σ 80, SIGMA_MID)|2|ect-fmnist32|ema_hl*kimg_*.safetensors|--sampler multistep --sigmas 80,SIGMA_MID
cd1|CD (l2) from the first teacher, one step: `cd_fmnist32`|1|builtin|cd_fmnist32|
cd2|CD (l2) from the first teacher, two steps (ts 0,22,39)|2|builtin|cd_fmnist32|--sampler multistep --ts 0,22,39
ct1|CT from scratch, `cm train ct`'s default (N 2 → 80, iCT's lognormal pairs and weighting, l2 loss), one step|1|short-budget-2000/ct-n80-lognormal-ictw|ema_hl*kimg_*.safetensors|
ct2|CT from scratch, `cm train ct`'s default (N 2 → 80, iCT's lognormal pairs and weighting, l2 loss), two steps (ts 0,22,39)|2|short-budget-2000/ct-n80-lognormal-ictw|ema_hl*kimg_*.safetensors|--sampler multistep --ts 0,22,39
ctn1|CT from scratch, the earlier default (N 2 → 10, uniform pairs and weighting, l2 loss), one step|1|ct-fmnist32|ema_hl*kimg_*.safetensors|
ctn2|CT from scratch, the earlier default (N 2 → 10, uniform pairs and weighting, l2 loss), two steps (ts 0,22,39)|2|ct-fmnist32|ema_hl*kimg_*.safetensors|--sampler multistep --ts 0,22,39
ict1|iCT from scratch, one step: `ict_fmnist32`|1|ict-fmnist32|ema_hl*kimg_*.safetensors|
ict2|iCT from scratch, two steps (ts 0,22,39)|2|ict-fmnist32|ema_hl*kimg_*.safetensors|--sampler multistep --ts 0,22,39
EOF
)
export SIGMA_MID=${SIGMA_MID:-2.5}       # ECT's second σ: the best of a sweep (0.821, 1.5, 2.5, 4) for our model; CIFAR-10's is 0.821
export ROWS ONLY

model_args() {   # run checkpoint-glob -> --model-config/--checkpoint (or the built-in name)
  if [ "$1" = builtin ]; then echo "--preset $2"; return; fi
  case $2 in builtin:*) echo "--preset ${2#builtin:}"; return;; esac
  local ckpt; ckpt=$(ls -1 "$RUNS/$1"/$2 2>/dev/null | sort | tail -1)
  [ -n "$ckpt" ] || return 1
  echo "--model-config $RUNS/$1/config.json --checkpoint $ckpt"
}

echo "$ROWS" | while IFS='|' read -r id label nfe run glob opts; do
  [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $id "* ]] || continue   # ONLY="ect1 ect2": the other rows stay as they stand
  [ "$run" = builtin ] || [ -d "$RUNS/$run" ] || { echo "skip $id: no $RUNS/$run"; continue; }
  args=$(model_args "$run" "$glob") || { echo "skip $id: no $glob in $RUNS/$run"; continue; }
  opts=${opts//SIGMA_MID/$SIGMA_MID}
  [ "${SPEED_ONLY:-0}" != 1 ] || rm -f "$id.ips"   # timed afresh
  # Each step is redone only when missing; new weights or options (a changed key) redo the row.
  if [ "$(cat "$id.args" 2>/dev/null)" != "$args $opts" ]; then
    # Imported samples stay only when they name this checkpoint (they cannot be remade here).
    rm -f "$id.json" "$id.ips"; grep -qF -- "$(basename "${args##* }")" "samples-$id/imported.txt" 2>/dev/null || rm -rf "samples-$id"
    echo "$args $opts" > "$id.args"
  fi
  # Samples made elsewhere (bench/gpu/train_fmnist.sh on a GPU) come with imported.txt saying how; else made here.
  if [ ! -s "$id.json" ] && [ "${SPEED_ONLY:-0}" != 1 ]; then
    # shellcheck disable=SC2086
    [ -f "samples-$id/imported.txt" ] || $CM sample --num-samples 5000 --seed 1 --batch-size 100 $args $opts --output-dir "samples-$id"
    $CM evaluate --samples "samples-$id" --json > "$id.json.tmp" && mv "$id.json.tmp" "$id.json"
  fi
  # images/s: 1,000 samples (200 for the teacher) alone on the machine, 2 threads
  n=$([ "$nfe" -gt 2 ] && echo 200 || echo 1000)
  # shellcheck disable=SC2086
  [ "${SKIP_IPS:-0}" = 1 ] && { [ -s "$id.ips" ] || echo "–" > "$id.ips"; }   # SKIP_IPS=1: no timing (a machine that is not quiet)
  [ -s "$id.ips" ] || $CM sample --num-samples "$n" --seed 9 --batch-size 100 --threads 2 $args $opts --output-dir "ips-$id" \
    | grep -o '([0-9.]* images/s)' | grep -o '[0-9.]*' > "$id.ips"
  rm -rf "ips-$id"
done
[ -f floor.json ] || [ "${SPEED_ONLY:-0}" = 1 ] || $CM evaluate --samples /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --num-samples 5000 --json > floor.json
lscpu | sed -n 's/^Model name: *//p' | head -1 > cpu.txt

# The table: scores, speed, and compute from each run's log.csv (last row: step, elapsed seconds) and train_state (batch).
python3 - "$RUNS" "$DOC" <<'PY'
import json, glob, os, sys, csv, re
runs, doc = sys.argv[1], sys.argv[2]
rows = [l.split('|') for l in os.environ['ROWS'].strip().splitlines()]
def compute(run):
    if run == 'builtin': return None
    # A run that went on from another run's weights (continues.txt names that folder) adds that run's compute.
    earlier = os.path.join(runs, run, 'continues.txt')
    before = compute(open(earlier).read().strip()) if os.path.exists(earlier) else (0, 0, 0.0, None)
    log = os.path.join(runs, run, 'log.csv')
    last = list(csv.DictReader(open(log)))[-1]
    states = sorted(glob.glob(os.path.join(runs, run, 'train_state*.json')))
    batch = json.load(open(states[-1])).get('GlobalBatchSize', 32) if states else 32
    where = os.path.join(runs, run, 'device.txt')   # written by bench/gpu/train_fmnist.sh; absent: this CPU
    device = open(where).read().split('(')[0].strip() if os.path.exists(where) else 'this CPU'
    if before[3] not in (None, device): sys.exit(f'{run} (made on {device}) continues a run made on {before[3]}: their compute does not add up')
    return (before[0] + int(last['step']), before[1] + int(last['step']) * batch,
            before[2] + float(last['elapsed_seconds']) / 3600, device)
def fmt_compute(run):
    c = compute(run)
    if c is None: return 'first teacher 2.78 h + 0.78 h (docs/training.md)'
    steps, images, hours, device = c
    s = f'{hours * 60:.1f} min on {device}, {steps:,} steps, {images/1e6:.2f} M images'
    if run.startswith('ect-fmnist32') and compute('edm-fmnist32'):
        t = compute('edm-fmnist32')
        # Tuning against the teacher: time where both ran on the same machine, else images seen.
        s += f' (tuning; {hours / t[2]:.2f}x the teacher\'s time)' if device == t[3] else f' (tuning; {images / t[1]:.3f}x the teacher\'s images)'
    return s
out = ['<!-- results.sh: table start -->',
       f'5,000 samples per row, seed 1; FID-FMNIST against the 10,000 test images; images/s on {open("cpu.txt").read().strip()} (2 cores).',
       '',
       '| samples | network evaluations | FID-FMNIST ↓ | precision ↑ | recall ↑ | images/s | training compute (wall time, where, steps, images seen) |',
       '|---|---|---|---|---|---|---|']
text = open(doc).read()
kept = {l.split(' | ')[0]: l for l in text.splitlines() if l.startswith('| ')}   # the table's rows as they stand, by label
if os.path.exists('floor.json'):
    f = json.load(open('floor.json'))
    out.append(f"| real: 5,000 training images (the floor) | – | **{f['fid']:.2f}** | {f['precision']:.3f} | {f['recall']:.3f} | – | – |")
else:   # SPEED_ONLY=1 scores nothing: the floor as it stands
    out += [l for k, l in kept.items() if k.startswith('| real:')]
speed_only = os.environ.get('SPEED_ONLY') == '1'
for id, label, nfe, run, _, opts in rows:
    only = os.environ.get('ONLY', '').split()
    if not os.path.exists(id + '.json') or (only and id not in only):
        # Not scored in OUT_DIR (ONLY= left it out, or its samples came from a machine no longer at hand): the row as it stands.
        pattern = re.compile(re.escape('| ' + label).replace('SIGMA_MID', '[0-9.]+') + '$')
        row = next((l for k, l in kept.items() if pattern.match(k)), None)
        timed = speed_only and (not only or id in only) and os.path.exists(id + '.ips')
        if row and timed and open(id + '.ips').read().strip() not in ('', '–'):
            cells = row.split(' | ')            # label, evaluations, FID, precision, recall, images/s, compute
            cells[5] = open(id + '.ips').read().strip()
            row = ' | '.join(cells)
        if row: out.append(row); print(f'{id}: kept from {doc}', file=sys.stderr)
        continue
    r = json.load(open(id + '.json'))
    ips = open(id + '.ips').read().strip() if os.path.exists(id + '.ips') else '–'
    label = label.replace('SIGMA_MID', os.environ.get('SIGMA_MID', '2.5'))
    out.append(f"| {label} | {nfe} | **{r['fid']:.1f}** | {r['precision']:.3f} | {r['recall']:.3f} | {ips} | {fmt_compute(run)} |")
out.append('<!-- results.sh: table end -->')
start, end = text.find('<!-- results.sh: table start -->'), text.find('<!-- results.sh: table end -->')
if start < 0 or end < 0: sys.exit(f'{doc}: the table markers are missing')
open(doc, 'w').write(text[:start] + '\n'.join(out) + text[end + len('<!-- results.sh: table end -->'):])
print('\n'.join(out))
PY
