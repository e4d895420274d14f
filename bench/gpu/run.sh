#!/usr/bin/env bash
# One device call: .NET GPU benchmark + parity (published to .gpu/bench with -p:LibTorchBackend=none, run on the
# machine's PyTorch libtorch), then the official-code baseline on the same card. Results land in $OUT.
# Prepare here: bench/gpu/prepare.sh ; then run on the device with carry [".gpu/bench", ".gpu/dotnet-runtime.tar.xz"]: bash bench/gpu/run.sh
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/dn && tar -xJf .gpu/dotnet-runtime.tar.xz -C /tmp/dn
export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 PYTHONUNBUFFERED=1
TORCH_LIB=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
export LD_LIBRARY_PATH=$TORCH_LIB:$PWD/.gpu/bench
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cudnn', torch.backends.cudnn.version())" | tee -a "$OUT/gpu.txt"
timeout ${DOTNET_TIMEOUT:-330} dotnet .gpu/bench/ConsistencyModels.Benchmarks.dll --device cuda ${BENCH_ARGS:---quick} --markdown "$OUT/dotnet.md" > "$OUT/dotnet.log" 2>&1
echo "dotnet rc=$?"; tail -c 3000 "$OUT/dotnet.log"
timeout ${PY_TIMEOUT:-150} python3 bench/gpu/official_baseline.py ${PY_ARGS:---quick} --json "$OUT/official.json" > "$OUT/official.log" 2>&1
echo "python rc=$?"; tail -n 20 "$OUT/official.log"
cat "$OUT/dotnet.md" 2>/dev/null | tail -n 40
