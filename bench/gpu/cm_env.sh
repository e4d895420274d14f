# Sourced by the device scripts: unpacks cm (.gpu/cmlite.tar.xz) and the .NET runtime, points them at the machine's
# PyTorch libtorch and sets CM (the command) and CARD (what the numbers ran on). With CM already set (a dry run on this
# CPU), only CARD is set. fmnist_data FOLDER sets DATA: Fashion-MNIST's training set unpacked from .gpu/data into
# FOLDER, or the local copy where nothing travelled (a dry run).
if [ -z "${CM:-}" ]; then
  mkdir -p /tmp/dn && tar -xJf .gpu/dotnet-runtime.tar.xz -C /tmp/dn && tar -xJf .gpu/cmlite.tar.xz -C /tmp
  # Training and sampling need no ASP.NET Core (only `cm serve` does), and it does not fit in what travels.
  python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); f=c['runtimeOptions']['frameworks']; c['runtimeOptions']['frameworks']=[x for x in f if x['name']!='Microsoft.AspNetCore.App']; json.dump(c,open(p,'w'))" /tmp/cmlite/cm.runtimeconfig.json
  TORCH_LIB=${TORCH_LIB:-$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")}
  export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 LD_LIBRARY_PATH=$TORCH_LIB:/tmp/cmlite
  CM="dotnet /tmp/cmlite/cm.dll"
fi
fmnist_data() {
  if [ -f .gpu/data/train-images-idx3-ubyte.xz ]; then
    mkdir -p "$1"
    [ -f "$1/train-images-idx3-ubyte" ] || xz -dc .gpu/data/train-images-idx3-ubyte.xz > "$1/train-images-idx3-ubyte"
    cp .gpu/data/train-labels-idx1-ubyte "$1/"; DATA=$1/train-images-idx3-ubyte
  else
    DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
  fi
}
CARD=$( (nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || lscpu | sed -n 's/^Model name: *//p') | head -1)
