// Switches for the fused / reduced-traffic paths of the UNet glue; turning them off reproduces the official op sequence
// (used by the benchmark to measure what each path buys).
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
