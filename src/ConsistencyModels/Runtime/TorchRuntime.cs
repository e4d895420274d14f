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

    [LibraryImport("torch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static partial void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool value);

    [LibraryImport("torch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool UserEnabledMkldnn(IntPtr context);

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

    /// <summary>torch.backends.mkldnn.enabled (oneDNN for CPU convolutions); false where the symbol is missing.</summary>
    public static bool TrySetMkldnnEnabled(bool enabled)
    {
        try
        {
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
            SetUserEnabledMkldnn(GlobalContext(), enabled);
            return UserEnabledMkldnn(GlobalContext()) == enabled;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>torch.backends.mkldnn.enabled, or null where the symbol is missing.</summary>
    public static bool? MkldnnEnabled()
    {
        try
        {
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
            return UserEnabledMkldnn(GlobalContext());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    private static readonly Lazy<string?> CpuConvolutionFault = new(CheckCpuConvolutions, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Makes sure libtorch's CPU convolutions compute correct values, once per process: on some CPUs (seen on an AMD
    /// EPYC Zen 5 VM, family 26 model 2, with libtorch 2.10's oneDNN 3.7.1, both its AVX-512 and AVX2 kernels) oneDNN's
    /// convolutions are wrong wherever a channel count is not a multiple of the kernel's channel block (16 / 8): the
    /// input gradient of a convolution with 1 or 3 output channels (every UNet's <c>out</c> conv, so every gradient
    /// upstream of it: relative error ~1, with NaN from garbage memory at random), and the forward pass of one with
    /// e.g. 17 input channels. The check runs such convolutions with oneDNN and with libtorch's own kernels (2x32x8x8,
    /// well under a millisecond); if they disagree, oneDNN is switched off for the process
    /// (torch.backends.mkldnn.enabled = false), which costs speed but gives correct values. On a sound CPU nothing
    /// changes. Returns the fault found (and worked around), or null.
    /// </summary>
    public static string? EnsureSoundCpuConvolutions() => CpuConvolutionFault.Value;

    private static string? CheckCpuConvolutions()
    {
        if (Environment.GetEnvironmentVariable("CM_SKIP_CONV_CHECK") == "1") return null;
        if (MkldnnEnabled() != true) return null;                     // missing symbol, or already off
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var gen = new TorchSharp.torch.Generator(12345);
        var x = TorchSharp.torch.randn([2, 32, 8, 8], generator: gen);
        var w = TorchSharp.torch.randn([1, 32, 3, 3], generator: gen) * 0.1;   // one output channel: the out conv's tail
        var go = TorchSharp.torch.randn([2, 1, 8, 8], generator: gen);
        var x17 = TorchSharp.torch.randn([2, 17, 8, 8], generator: gen);
        var w17 = TorchSharp.torch.randn([16, 17, 3, 3], generator: gen) * 0.1;  // an input channel tail
        (TorchSharp.torch.Tensor gx, TorchSharp.torch.Tensor y17) Run()
        {
            var xi = x.detach().requires_grad_(true);
            using var enable = TorchSharp.torch.enable_grad();
            var y = TorchSharp.torch.nn.functional.conv2d(xi, w, padding: [1, 1]);
            y.backward([go]);
            using var _ = TorchSharp.torch.no_grad();
            return (xi.grad!.clone(), TorchSharp.torch.nn.functional.conv2d(x17, w17, padding: [1, 1]));
        }
        var (gxOn, yOn) = Run();
        TrySetMkldnnEnabled(false);
        var (gxOff, yOff) = Run();
        TrySetMkldnnEnabled(true);
        static double RelErr(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) =>
            (a - b).abs().nan_to_num(1e30, 1e30, 1e30).max().item<float>() / Math.Max(b.abs().max().item<float>(), 1e-30);
        double eGrad = RelErr(gxOn, gxOff), eFwd = RelErr(yOn, yOff);
        if (eGrad < 1e-4 && eFwd < 1e-4) return null;
        TrySetMkldnnEnabled(false);
        return $"oneDNN's CPU convolutions are wrong on this machine (relative error {eGrad:G3} in an input gradient with 1 output channel, " +
               $"{eFwd:G3} in a forward pass with 17 input channels): oneDNN is switched off for convolutions (slower, correct)";
    }
}
