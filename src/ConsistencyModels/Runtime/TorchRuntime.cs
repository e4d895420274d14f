// libtorch global settings that TorchSharp 0.107 does not expose (at::globalContext()), reached through their C++
// symbols. Each setter returns false where the loaded libtorch lacks the symbol instead of failing (so on Windows, whose
// MSVC-mangled names differ from these Itanium ones, they do nothing).
using System.Runtime.InteropServices;

namespace ConsistencyModels.Runtime;

public static partial class TorchRuntime
{
    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at7Context17setBenchmarkCuDNNEb")]
    private static partial void SetBenchmarkCuDNN(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool value);

    [LibraryImport("torch_cpu", EntryPoint = "_ZNK2at7Context14benchmarkCuDNNEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool BenchmarkCuDNN(IntPtr context);

    /// <summary>
    /// torch.backends.cudnn.benchmark: let cuDNN time its convolution algorithms on the first call of each shape and
    /// keep the fastest (pays off when the same shapes repeat, as in sampling and training).
    /// </summary>
    public static bool TrySetCudnnBenchmark(bool enabled)
    {
        try
        {
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);   // make sure libtorch is loaded
            SetBenchmarkCuDNN(GlobalContext(), enabled);
            return BenchmarkCuDNN(GlobalContext()) == enabled;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }
}
