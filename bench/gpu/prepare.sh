#!/usr/bin/env bash
# Builds what a GPU machine needs, into .gpu/ (ignored; name the parts in carry, 64 MiB in all):
#   bench/gpu/prepare.sh        the benchmark (.gpu/bench) + this machine's .NET runtime (.gpu/dotnet-runtime.tar.xz)
#                               carry [".gpu/bench", ".gpu/dotnet-runtime.tar.xz"], run bench/gpu/run.sh
#   bench/gpu/prepare.sh cli    cm itself (.gpu/cmlite, without the plotting natives) + the runtime + ASP.NET Core
#                               carry [".gpu/cmlite", ".gpu/dotnet-runtime.tar.xz", ".gpu/aspnet.tar.xz"], run bench/gpu/cli_check.sh
#   bench/gpu/prepare.sh train  cm as above, packed (.gpu/cmlite.tar.xz), and Fashion-MNIST's training set (.gpu/data)
#                               carry [".gpu/cmlite.tar.xz", ".gpu/dotnet-runtime.tar.xz", ".gpu/data"], run bench/gpu/train_fmnist.sh
#                               (64 MiB travel in all: runs/ may have to stay behind, see train_fmnist.sh)
# Both are published framework-dependent without a bundled libtorch: they run on the machine's PyTorch libtorch.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime() { dotnet --list-runtimes | awk -v n="$1" '$1 == n {v=$2} END {print v}'; }
ver=$(runtime Microsoft.NETCore.App)
mkdir -p .gpu
[ -f .gpu/dotnet-runtime.tar.xz ] || tar -C "$root" -cJf .gpu/dotnet-runtime.tar.xz dotnet "host/fxr/$ver" "shared/Microsoft.NETCore.App/$ver"
if [ "${1:-}" = cli ] || [ "${1:-}" = train ]; then
  rm -rf .gpu/cmlite
  dotnet publish src/ConsistencyModels.Cli -c Release -p:LibTorchBackend=none -r linux-x64 --self-contained false -o .gpu/cmlite
  rm -f .gpu/cmlite/libSkiaSharp.so .gpu/cmlite/libHarfBuzzSharp.so   # PNG/plot natives: not needed for npz output
  asp=$(runtime Microsoft.AspNetCore.App)
  [ -f .gpu/aspnet.tar.xz ] || tar -C "$root" -cJf .gpu/aspnet.tar.xz "shared/Microsoft.AspNetCore.App/$asp"
  if [ "$1" = train ]; then
    rm -f .gpu/cmlite/*.pdb .gpu/cmlite/*.xml .gpu/cmlite/libonnxruntime*.so   # training and sampling run on libtorch
    tar -C .gpu -cJf .gpu/cmlite.tar.xz cmlite
    fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
    mkdir -p .gpu/data
    [ -f .gpu/data/train-images-idx3-ubyte.xz ] || zcat "$fm/train-images-idx3-ubyte.gz" | xz -9e -T2 > .gpu/data/train-images-idx3-ubyte.xz
    zcat "$fm/train-labels-idx1-ubyte.gz" > .gpu/data/train-labels-idx1-ubyte
  fi
else
  rm -rf .gpu/bench
  dotnet publish bench/ConsistencyModels.Benchmarks -c Release -p:LibTorchBackend=none -r linux-x64 --self-contained false -o .gpu/bench
fi
du -sh .gpu/*
