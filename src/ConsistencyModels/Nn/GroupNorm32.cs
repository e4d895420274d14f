// GroupNorm whose statistics are always float32 — port of cm/nn.py::GroupNorm32 (32 groups, eps 1e-5).
using System.Collections.Concurrent;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// Owns its <c>weight</c>/<c>bias</c> (keys <c>*.weight</c>, <c>*.bias</c>) instead of wrapping nn.GroupNorm:
/// wrapping would add a key segment, and TorchSharp 0.107's GroupNorm leaves its affine parameters uninitialised.
/// The parameters are looked up by name at each call, never cached in fields: <c>Module.to(device/dtype)</c> replaces
/// registered parameters and disposes the old ones, so a field would go stale.
/// </summary>
public sealed class GroupNorm32 : nn.Module<Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly int _groups;
    private readonly double _eps;

    /// <summary>The kernel paths this norm takes (from its <see cref="UNetModel"/>).</summary>
    public KernelOptions Kernels { get; }

    public GroupNorm32(int channels, int groups = 32, double eps = 1e-5, Device? device = null, KernelOptions? kernels = null) : base(nameof(GroupNorm32))
    {
        if (channels % groups != 0)
            throw new ArgumentException($"GroupNorm32: {channels} channels are not divisible into {groups} groups");
        _groups = groups;
        _eps = eps;
        Kernels = kernels ?? KernelOptions.Default;
        register_parameter("weight", new Parameter(ones(channels, device: device)));
        register_parameter("bias", new Parameter(zeros(channels, device: device)));
    }

    /// <summary>Replaces a parameter ("weight" or "bias") by a loaded tensor without copying (see ModelWeights.Materialize).</summary>
    internal void SetParameter(string name, Parameter value)
    {
        if (name is not ("weight" or "bias")) throw new ArgumentException($"GroupNorm32 has no parameter '{name}'");
        ConditionallyRegisterParameter(name, value);
    }

    /// <summary>Number of groups (32 in every official model).</summary>
    public int Groups => _groups;

    /// <summary>The variance epsilon (1e-5).</summary>
    public double Eps => _eps;

    public Parameter Weight => get_parameter("weight")!;
    public Parameter Bias => get_parameter("bias")!;

    public override Tensor forward(Tensor x)
    {
        Tensor w = Weight, b = Bias;
        if (Kernels.UsesStatisticsGroupNorm(x)) return FromStatistics(x, _groups, _eps, w, b);
        if (x.dtype == w.dtype) return nn.functional.group_norm(x, _groups, w, b, _eps);
        if (Kernels.ReducedPrecisionGroupNorm && (x.dtype == ScalarType.BFloat16 || x.dtype == ScalarType.Float16))
        {
            // Reduced-precision input: libtorch's kernels accumulate the statistics in float32 anyway, so skip the
            // float32 round trip of the activations (two full passes). Mixed input/affine dtypes where the kernel
            // takes them (CPU: bit-identical to upcast -> norm -> downcast), else affine parameters in x's dtype.
            if (AcceptsMixedAffine(x, w, _groups))
                return nn.functional.group_norm(x, _groups, w, b, _eps);
            using var wx = w.to(x.dtype);
            using var bx = b.to(x.dtype);
            return nn.functional.group_norm(x, _groups, wx, bx, _eps);
        }
        // The official op sequence: x.float() -> GroupNorm -> back to x's dtype.
        using var x32 = x.to(ScalarType.Float32);
        using var w32 = w.to(ScalarType.Float32);
        using var b32 = b.to(ScalarType.Float32);
        using var y = nn.functional.group_norm(x32, _groups, w32, b32, _eps);
        return y.to(x.dtype);
    }

    /// <summary>Whether <see cref="NormalizeScaleShift"/> folds the scale-shift into the norm for this input.</summary>
    internal bool FoldsScaleShift(Tensor x) => Kernels.UsesStatisticsGroupNorm(x);

    // A fact of the loaded libtorch and device, not a setting: probed once per device type and dtype.
    private static readonly ConcurrentDictionary<(DeviceType, ScalarType), bool> MixedAffine = new();

    /// <summary>Whether group_norm on this device takes <paramref name="x"/>'s reduced dtype with float32 weight and bias (probed once).</summary>
    private static bool AcceptsMixedAffine(Tensor x, Tensor weight, int groups) =>
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

    /// <summary>norm(x)·(1 + scale) + shift in one pass over x (statistics path); scale, shift: float32 [N, C].</summary>
    internal Tensor NormalizeScaleShift(Tensor x, Tensor scale, Tensor shift) => FromStatistics(x, _groups, _eps, Weight, Bias, scale, shift);

    /// <summary>
    /// GroupNorm as float32 per-sample statistics followed by one pass y = x·a + b, with a and b per sample and channel
    /// (the affine parameters, and optionally a scale-shift (1 + scale, shift) [N, C], folded in). Reads x in its own
    /// layout: NCHW rows of a group, or for channels-last per-channel moments over H·W (contiguous channels) pooled
    /// per group (exact: every channel has H·W values). The reduction kernels accumulate in float32; their results are
    /// rounded once to x's dtype (std_mean has no dtype argument; the standard deviation, not the variance, so that fp16
    /// cannot overflow below std 65504) before the float32 pooling and coefficients. In reduced precision the folded
    /// offset b ≈ bias − mean·a is rounded too, so the error grows with |mean|/std (bf16: ~(|mean|/std)·2⁻⁹), where
    /// libtorch's grows with |y|. On an H100, fp16/bf16 images stay within 1 uint8 level of fp32
    /// (docs/performance.md); fp32 images are identical.
    /// </summary>
    public static Tensor FromStatistics(Tensor x, int groups, double eps, Tensor weight, Tensor bias, Tensor? scale = null, Tensor? shift = null)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], c = x.shape[1], perGroup = c / groups;
        Tensor mean, variance;                                                   // [N, G] float32
        if (MemoryLayout.IsChannelsLast(x))
        {
            var (channelStd, channelMean) = std_mean(x.permute(0, 2, 3, 1).reshape(n, -1, c), [1L], unbiased: false);
            var m = channelMean.to(ScalarType.Float32).view(n, groups, perGroup);
            mean = m.mean([2L]);
            variance = channelStd.to(ScalarType.Float32).square().view(n, groups, perGroup).mean([2L]) + m.var(2L, unbiased: false);
        }
        else
        {
            var (sd, m) = std_mean(x.reshape(n, groups, -1), [2L], unbiased: false);
            (variance, mean) = (sd.to(ScalarType.Float32).square(), m.to(ScalarType.Float32));
        }
        var rstd = (variance + eps).rsqrt_();
        var a = (rstd.unsqueeze(2) * weight.to(ScalarType.Float32).view(groups, perGroup)).view(n, c);
        var b = bias.to(ScalarType.Float32) - (mean.unsqueeze(2) * a.view(n, groups, perGroup)).view(n, c);
        if (scale is not null)
        {
            var s1 = scale + 1;
            a = a * s1;
            b = b * s1 + shift!;
        }
        var y = addcmul(b.to(x.dtype).view(n, c, 1, 1), x, a.to(x.dtype).view(n, c, 1, 1), 1);
        return y.MoveToOuterDisposeScope();
    }
}
