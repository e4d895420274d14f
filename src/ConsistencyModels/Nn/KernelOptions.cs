// Which fused / reduced-traffic paths the UNet glue takes; all off (StatisticsGroupNorm = Never, the two bools false)
// reproduces the official op sequence (used by the benchmark to measure what each path buys).
// Where the statistics GroupNorm runs, the two bools do not apply: it has no float32 round trip and folds the scale-shift.
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// Kernel choices of a <see cref="UNetModel"/>, fixed when it is built (<see cref="UNetModel.Kernels"/>) and handed to
/// its blocks. They change speed and rounding, never the function computed (<see cref="HashedCpuDropout"/> changes
/// which dropout masks training draws, not their distribution).
/// </summary>
/// <param name="ReducedPrecisionGroupNorm">GroupNorm on bf16/fp16 activations without the float32 round trip
/// (statistics still float32).</param>
/// <param name="FusedScaleShift">Scale-shift norm as one <c>addcmul(shift, norm(h), 1 + scale)</c> instead of a
/// multiply and an add.</param>
/// <param name="StatisticsGroupNorm">Where GroupNorm is computed as per-sample statistics plus one affine pass
/// (<see cref="GroupNorm32.FromStatistics"/>) instead of libtorch's group_norm. libtorch's CUDA group_norm converts a
/// channels-last input to NCHW and back; the statistics path reads it in place and also folds a ResBlock's
/// scale-shift into the affine pass.</param>
/// <param name="HashedCpuDropout">Training-mode dropout on the CPU with masks from a parallel counter-based hash
/// (<see cref="Dropout"/>) instead of libtorch's serial bernoulli_ (whose masks also differ between CPU vendors).</param>
public sealed record KernelOptions(
    bool ReducedPrecisionGroupNorm = true,
    bool FusedScaleShift = true,
    StatisticsGroupNorm StatisticsGroupNorm = StatisticsGroupNorm.ChannelsLastOffCpu,
    bool HashedCpuDropout = true)
{
    /// <summary>The library's defaults: every path on, statistics GroupNorm for channels-last inputs on a GPU.</summary>
    public static KernelOptions Default { get; } = new();

    /// <summary>Whether GroupNorm takes the statistics path for <paramref name="x"/>.</summary>
    internal bool UsesStatisticsGroupNorm(Tensor x) => StatisticsGroupNorm switch
    {
        StatisticsGroupNorm.Always => true,
        StatisticsGroupNorm.OffCpu => x.device_type != DeviceType.CPU,
        StatisticsGroupNorm.ChannelsLastOffCpu => x.device_type != DeviceType.CPU && MemoryLayout.IsChannelsLast(x),
        _ => false,
    };
}

/// <summary>When GroupNorm takes the statistics path (see <see cref="KernelOptions.StatisticsGroupNorm"/>).</summary>
public enum StatisticsGroupNorm
{
    Never,
    /// <summary>Channels-last inputs on a GPU (libtorch's CPU group_norm has its own channels-last kernel).</summary>
    ChannelsLastOffCpu,
    /// <summary>Every input on a GPU.</summary>
    OffCpu,
    /// <summary>Every input on every device (tests, benchmarks).</summary>
    Always,
}
