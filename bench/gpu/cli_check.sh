#!/usr/bin/env bash
# One device call: cm itself on CUDA (prepared with bench/gpu/prepare.sh cli). The built-in model through the CLI with
# its defaults (channels-last, statistics GroupNorm) in fp32/fp16/bf16, written as npz to $OUT for comparison with the
# same command on the CPU, and `cm sample` throughput.
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mkdir -p /tmp/dn && tar -xJf .gpu/dotnet-runtime.tar.xz -C /tmp/dn && tar -xJf .gpu/aspnet.tar.xz -C /tmp/dn
export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1
TORCH_LIB=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
export LD_LIBRARY_PATH=$TORCH_LIB:$PWD/.gpu/cmlite
cm() { dotnet .gpu/cmlite/cm.dll "$@"; }
cm doctor 2>&1 | tail -8
for p in fp32 fp16 bf16; do cm generate -n 32 --class-labels rows --device cuda --precision $p --npz "$OUT/cuda-$p.npz" 2>&1 | tail -1; done
cm sample --num-samples 2000 --batch-size 500 --device cuda --precision fp16 --output-dir /tmp/s 2>&1 | tail -2
