// Dynamic loss scaling of fp16 training — port of cm/fp16_util.py::MixedPrecisionTrainer (lg_loss_scale).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

/// <summary>
/// The loss is multiplied by 2^lg before backward, so small fp16 gradients do not flush to zero, and the fp32 master
/// gradients are divided by it again. A step whose gradients overflow is not taken and lg drops by one; each step taken
/// raises lg by <see cref="GrowthLog2"/>, as upstream. bf16 has fp32's exponent range and runs unscaled (lg 0).
/// </summary>
public static class LossScale
{
    /// <summary>fp16_util.INITIAL_LOG_LOSS_SCALE.</summary>
    public const double InitialLog2 = 20.0;
    /// <summary>MixedPrecisionTrainer's fp16_scale_growth default.</summary>
    public const double GrowthLog2 = 1e-3;

    /// <summary>lg at the start of a run of <paramref name="precision"/>.</summary>
    public static double InitialFor(Precision precision) => precision == Precision.Fp16 ? InitialLog2 : 0;

    /// <summary>How much lg grows with each step taken.</summary>
    public static double GrowthFor(Precision precision) => precision == Precision.Fp16 ? GrowthLog2 : 0;
}
