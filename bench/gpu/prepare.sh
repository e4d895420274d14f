#!/usr/bin/env bash
# Builds what a GPU machine needs, into .gpu/ (ignored; name the parts in carry, 64 MiB in all):
#   bench/gpu/prepare.sh        the benchmark (.gpu/bench) + this machine's .NET runtime (.gpu/dotnet-runtime.tar.xz)
#                               carry [".gpu/bench", ".gpu/dotnet-runtime.tar.xz"], run bench/gpu/run.sh
#   bench/gpu/prepare.sh cli    cm itself (.gpu/cmlite, without the plotting natives) + the runtime + ASP.NET Core
#                               carry [".gpu/cmlite", ".gpu/dotnet-runtime.tar.xz", ".gpu/aspnet.tar.xz"], run bench/gpu/cli_check.sh
# Both are published framework-dependent without a bundled libtorch: they run on the machine's PyTorch libtorch.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime() { dotnet --list-runtimes | awk -v n="$1" '$1 == n {v=$2} END {print v}'; }
ver=$(runtime Microsoft.NETCore.App)
mkdir -p .gpu
[ -f .gpu/dotnet-runtime.tar.xz ] || tar -C "$root" -cJf .gpu/dotnet-runtime.tar.xz dotnet "host/fxr/$ver" "shared/Microsoft.NETCore.App/$ver"
if [ "${1:-}" = cli ]; then
  rm -rf .gpu/cmlite
  dotnet publish src/ConsistencyModels.Cli -c Release -p:LibTorchBackend=none -r linux-x64 --self-contained false -o .gpu/cmlite
  rm -f .gpu/cmlite/libSkiaSharp.so .gpu/cmlite/libHarfBuzzSharp.so   # PNG/plot natives: not needed for npz output
  asp=$(runtime Microsoft.AspNetCore.App)
  [ -f .gpu/aspnet.tar.xz ] || tar -C "$root" -cJf .gpu/aspnet.tar.xz "shared/Microsoft.AspNetCore.App/$asp"
else
  rm -rf .gpu/bench
  dotnet publish bench/ConsistencyModels.Benchmarks -c Release -p:LibTorchBackend=none -r linux-x64 --self-contained false -o .gpu/bench
fi
du -sh .gpu/*
