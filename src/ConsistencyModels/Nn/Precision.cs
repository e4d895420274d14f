// Numeric precision of the UNet torso (--precision).
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// fp32: everything float32 (parity reference). bf16 / fp16: the convolutions of input/middle/output blocks and the
/// attention run in that type; GroupNorm statistics, embeddings, the denoiser scalings and the σ schedule stay float32,
/// as in the official fp16 path.
/// </summary>
public enum Precision { Fp32, Bf16, Fp16 }

public static class PrecisionExtensions
{
    public static ScalarType ToScalarType(this Precision p) => p switch
    {
        Precision.Bf16 => ScalarType.BFloat16,
        Precision.Fp16 => ScalarType.Float16,
        _ => ScalarType.Float32,
    };
}
