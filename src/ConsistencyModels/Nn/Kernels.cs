// Switches for the fused / reduced-traffic paths of the UNet glue; turning them all off (StatisticsGroupNorm = Never,
// the two bools false) reproduces the official op sequence (used by the benchmark to measure what each path buys).
// Where the statistics GroupNorm runs, the two bools do not apply: it has no float32 round trip and folds the scale-shift.
using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

public static class Kernels
{
    /// <summary>GroupNorm on bf16/fp16 activations without the float32 round trip (statistics still float32). Default on.</summary>
    public static bool ReducedPrecisionGroupNorm { get; set; } = true;

    /// <summary>Scale-shift norm as one <c>addcmul(shift, norm(h), 1 + scale)</c> instead of a multiply and an add. Default on.</summary>
    public static bool FusedScaleShift { get; set; } = true;

    /// <summary>
    /// Where GroupNorm is computed as per-sample statistics plus one affine pass (<see cref="GroupNorm32.FromStatistics"/>)
    /// instead of libtorch's group_norm. libtorch's CUDA group_norm converts a channels-last input to NCHW and back;
    /// the statistics path reads it in place and also folds a ResBlock's scale-shift into the affine pass.
    /// </summary>
    public static StatisticsGroupNorm StatisticsGroupNorm { get; set; } = StatisticsGroupNorm.ChannelsLastOffCpu;

    internal static bool UseStatisticsGroupNorm(Tensor x) => StatisticsGroupNorm switch
    {
        StatisticsGroupNorm.Always => true,
        StatisticsGroupNorm.OffCpu => x.device_type != DeviceType.CPU,
        StatisticsGroupNorm.ChannelsLastOffCpu => x.device_type != DeviceType.CPU && MemoryLayout.IsChannelsLast(x),
        _ => false,
    };

    private static readonly ConcurrentDictionary<(DeviceType, ScalarType), bool> MixedAffine = new();

    /// <summary>Whether group_norm on this device takes <paramref name="x"/>'s reduced dtype with float32 weight and bias (probed once).</summary>
    internal static bool AcceptsMixedAffine(Tensor x, Tensor weight, int groups) =>
        MixedAffine.GetOrAdd((x.device_type, x.dtype), _ =>
        {
            if (x.device_type == DeviceType.CPU) return x.dtype == ScalarType.BFloat16;   // libtorch's CPU mixed kernel (bf16 only)
            try
            {
                using var probe = zeros([1, weight.shape[0], 2, 2], x.dtype, x.device);
                using var w = ones(weight.shape[0], ScalarType.Float32, x.device);
                using var b = zeros(weight.shape[0], ScalarType.Float32, x.device);
                using var y = nn.functional.group_norm(probe, groups, w, b, 1e-5);
                return y.dtype == x.dtype;
            }
            catch (Exception) { return false; }
        });
}

/// <summary>When GroupNorm takes the statistics path (see <see cref="Kernels.StatisticsGroupNorm"/>).</summary>
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
