// --device cpu|cuda|cuda:N, checked before anything is loaded.
using TorchSharp;

namespace ConsistencyModels.Cli;

internal static class DeviceOption
{
    public static torch.Device Parse(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s == "cpu") return torch.CPU;
        if (s == "cuda" || s.StartsWith("cuda:"))
        {
            int index = 0;
            if (s.Length > 5 && !int.TryParse(s[5..], out index))
                throw new ArgumentException($"--device '{text}': the CUDA index must be an integer, e.g. cuda:0");
            if (!torch.cuda.is_available())
                throw new ArgumentException("--device cuda was requested, but this libtorch has no usable CUDA device. The default build " +
                    "bundles the CPU libtorch; for NVIDIA GPUs build with -p:LibTorchBackend=none and run with an installed PyTorch's " +
                    "torch/lib on LD_LIBRARY_PATH (see README, 'CUDA').");
            int count = torch.cuda.device_count();
            if (index >= count) throw new ArgumentException($"--device {text}: only {count} CUDA device(s) are visible");
            return torch.device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"--device '{text}' is not a device: use cpu, cuda or cuda:N");
    }
}
