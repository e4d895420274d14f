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

    /// <summary>The block of channels oneDNN's CPU convolution kernels work in (AVX-512: 16); see <see cref="EnsureSoundCpuConvolutions()"/>.</summary>
    public const int ConvolutionChannelBlock = 16;

    private sealed record ConvolutionCheck(bool ChannelTailsWrong, string? Fault);

    private static readonly Lazy<ConvolutionCheck> CpuConvolutions = new(CheckCpuConvolutions, LazyThreadSafetyMode.ExecutionAndPublication);
    private static volatile string? _oneDnnSwitchedOffFor;

    /// <summary>
    /// Makes sure libtorch's CPU convolutions compute correct values, once per process. On some CPUs (seen on an AMD
    /// EPYC Zen 5 VM, family 26 model 2, with libtorch 2.10's oneDNN 3.7.1) oneDNN's 3x3 convolutions are wrong at
    /// channel tails, and only there: the forward pass where the input channels are more than 16 and not a multiple of
    /// 16 (17, 24, 33, 40 checked), the input gradient wherever the output channels are not a multiple of 16 (1 to 15,
    /// 17, 24: every UNet's <c>out</c> conv, so every gradient upstream of it; relative error ~1, NaN from garbage memory
    /// at random); multiples of 16, fewer than 16 input channels, 1x1 kernels (in value: for some channels-last shapes the
    /// 1x1 kernel kills the process instead, see <see cref="Nn.PointwiseConvolution"/>) and weight gradients are right. The check
    /// runs one convolution of each faulty kind with oneDNN and with libtorch's own kernels (2x32x8x8, well under a
    /// millisecond). If only the channel tails are wrong, oneDNN stays on (several times faster than the fallback
    /// kernels) and the networks keep clear of the tails: <see cref="Nn.UNetModel"/> computes its out conv with the output
    /// channels padded to 16 where an input gradient is taken, and a network with other tail convolutions switches oneDNN
    /// off when it is built (<see cref="EnsureSoundCpuConvolutions(string, IEnumerable{ValueTuple{string, long, long, bool}})"/>).
    /// If anything else is wrong, oneDNN is switched off for the process (torch.backends.mkldnn.enabled = false). On a
    /// sound CPU nothing changes. Returns the fault found and what was done about it, or null.
    /// </summary>
    public static string? EnsureSoundCpuConvolutions()
    {
        var check = CpuConvolutions.Value;
        return _oneDnnSwitchedOffFor is { } off ? $"{check.Fault}; {off}" : check.Fault;
    }

    /// <summary>Whether CPU convolutions run on libtorch's own (slower) kernels because oneDNN was found wrong here.</summary>
    public static bool CpuConvolutionsOnFallbackKernels => EnsureSoundCpuConvolutions() is not null && MkldnnEnabled() == false;

    /// <summary>Whether oneDNN is on and wrong at channel tails on this CPU: convolutions whose input gradient is taken
    /// need output channels in whole blocks of <see cref="ConvolutionChannelBlock"/> (pad them).</summary>
    public static bool CpuConvolutionChannelTailsWrong => CpuConvolutions.Value.ChannelTailsWrong && _oneDnnSwitchedOffFor is null;

    /// <summary>
    /// For a network about to run CPU convolutions of these channel counts (each with whether its input gradient will be
    /// taken): where oneDNN is wrong at channel tails (see <see cref="EnsureSoundCpuConvolutions()"/>) and one of them
    /// would hit a wrong kernel, oneDNN is switched off for the process. Returns the fault, as the overload without arguments.
    /// </summary>
    public static string? EnsureSoundCpuConvolutions(string network, IEnumerable<(string Name, long In, long Out, bool InputGradient)> convolutions)
    {
        if (CpuConvolutionChannelTailsWrong && FirstTailConvolution(convolutions) is { } c)
        {
            TrySetMkldnnEnabled(false);
            _oneDnnSwitchedOffFor = $"oneDNN switched off for the process: {network} has the convolution {c.Name} ({c.In} -> {c.Out} channels), " +
                                    $"a channel tail its kernels get wrong here (slower, correct)";
        }
        return EnsureSoundCpuConvolutions();
    }

    /// <summary>The first convolution that hits a wrong kernel where oneDNN is wrong at channel tails: more than a block
    /// of input channels but not whole blocks (forward), or output channels not in whole blocks with an input gradient.</summary>
    internal static (string Name, long In, long Out)? FirstTailConvolution(IEnumerable<(string Name, long In, long Out, bool InputGradient)> convolutions)
    {
        foreach (var (name, cin, cout, inputGradient) in convolutions)
        {
            bool wrongForward = cin > ConvolutionChannelBlock && cin % ConvolutionChannelBlock != 0;
            bool wrongGradient = inputGradient && cout % ConvolutionChannelBlock != 0;
            if (wrongForward || wrongGradient) return (name, cin, cout);
        }
        return null;
    }

    private static ConvolutionCheck CheckCpuConvolutions()
    {
        if (Environment.GetEnvironmentVariable("CM_SKIP_CONV_CHECK") == "1") return new(false, null);
        if (MkldnnEnabled() != true) return new(false, null);                     // missing symbol, or already off
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var gen = new TorchSharp.torch.Generator(12345);
        TorchSharp.torch.Tensor Randn(params long[] shape) => TorchSharp.torch.randn(shape, generator: gen);
        // (input, weight, output gradient): a 1-output-channel conv (the out conv's tail), 17 input channels (an input
        // tail), and the shapes that must be right for oneDNN to stay on: whole blocks, the out conv padded to 16, a
        // 3-channel input conv.
        var tailGrad = (x: Randn(2, 32, 8, 8), w: Randn(1, 32, 3, 3) * 0.1, go: Randn(2, 1, 8, 8));
        var tailFwd = (x: Randn(2, 17, 8, 8), w: Randn(16, 17, 3, 3) * 0.1, go: Randn(2, 16, 8, 8));
        var whole = (x: Randn(2, 32, 8, 8), w: Randn(32, 32, 3, 3) * 0.1, go: Randn(2, 32, 8, 8));
        var padded = (x: Randn(2, 32, 8, 8), w: Randn(16, 32, 3, 3) * 0.1, go: Randn(2, 16, 8, 8));
        var rgb = (x: Randn(2, 3, 8, 8), w: Randn(32, 3, 3, 3) * 0.1, go: Randn(2, 32, 8, 8));
        static (TorchSharp.torch.Tensor y, TorchSharp.torch.Tensor gx, TorchSharp.torch.Tensor gw) Run(
            (TorchSharp.torch.Tensor x, TorchSharp.torch.Tensor w, TorchSharp.torch.Tensor go) c)
        {
            using var enable = TorchSharp.torch.enable_grad();
            var xi = c.x.detach().requires_grad_(true);
            var wi = c.w.detach().requires_grad_(true);
            var y = TorchSharp.torch.nn.functional.conv2d(xi, wi, padding: [1, 1]);
            y.backward([c.go]);
            return (y.detach().clone(), xi.grad!.clone(), wi.grad!.clone());
        }
        var cases = new[] { tailGrad, tailFwd, whole, padded, rgb };
        var on = cases.Select(Run).ToArray();
        TrySetMkldnnEnabled(false);
        var off = cases.Select(Run).ToArray();
        TrySetMkldnnEnabled(true);
        static double RelErr(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) =>
            (a - b).abs().nan_to_num(1e30, 1e30, 1e30).max().item<float>() / Math.Max(b.abs().max().item<float>(), 1e-30);
        double Worst(int i) => Math.Max(RelErr(on[i].y, off[i].y), Math.Max(RelErr(on[i].gx, off[i].gx), RelErr(on[i].gw, off[i].gw)));
        double eGrad = RelErr(on[0].gx, off[0].gx), eFwd = RelErr(on[1].y, off[1].y);
        if (eGrad < 1e-4 && eFwd < 1e-4 && Worst(0) < 1e-4 && Worst(1) < 1e-4) return new(false, null);
        bool othersRight = Worst(2) < 1e-4 && Worst(3) < 1e-4 && Worst(4) < 1e-4 && RelErr(on[0].y, off[0].y) < 1e-4 && RelErr(on[1].gx, off[1].gx) < 1e-4;
        string found = $"oneDNN's CPU convolutions are wrong on this machine at channel tails (relative error {eGrad:G3} in an input gradient " +
                       $"with 1 output channel, {eFwd:G3} in a forward pass with 17 input channels)";
        if (othersRight)
            return new(true, found + $": oneDNN stays on and such convolutions are avoided (output channels padded to {ConvolutionChannelBlock} where an input gradient is taken)");
        TrySetMkldnnEnabled(false);
        return new(false, found + " and elsewhere: oneDNN is switched off for convolutions (slower, correct)");
    }
}
