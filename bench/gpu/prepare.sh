#!/usr/bin/env bash
# Builds what bench/gpu/run.sh carries to a GPU machine: the benchmark published framework-dependent without a
# bundled libtorch, and this machine's .NET runtime as an xz archive. Both go to .gpu/ (ignored; name it in carry).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu/bench
dotnet publish bench/ConsistencyModels.Benchmarks -c Release -p:LibTorchBackend=none -r linux-x64 --self-contained false -o .gpu/bench
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
ver=$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}')
[ -f .gpu/dotnet-runtime.tar.xz ] || tar -C "$root" -cJf .gpu/dotnet-runtime.tar.xz dotnet "host/fxr/$ver" "shared/Microsoft.NETCore.App/$ver"
du -sh .gpu
