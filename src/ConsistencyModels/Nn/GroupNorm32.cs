// GroupNorm whose statistics are always float32 — port of cm/nn.py::GroupNorm32 (32 groups, eps 1e-5).
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

    public GroupNorm32(int channels, int groups = 32, double eps = 1e-5, Device? device = null) : base(nameof(GroupNorm32))
    {
        if (channels % groups != 0)
            throw new ArgumentException($"GroupNorm32: {channels} channels are not divisible into {groups} groups");
        _groups = groups;
        _eps = eps;
        register_parameter("weight", new Parameter(ones(channels, device: device)));
        register_parameter("bias", new Parameter(zeros(channels, device: device)));
    }

    /// <summary>Replaces a parameter ("weight" or "bias") by a loaded tensor without copying (see ModelWeights.Materialize).</summary>
    internal void SetParameter(string name, Parameter value)
    {
        if (name is not ("weight" or "bias")) throw new ArgumentException($"GroupNorm32 has no parameter '{name}'");
        ConditionallyRegisterParameter(name, value);
    }

    public Parameter Weight => get_parameter("weight")!;
    public Parameter Bias => get_parameter("bias")!;

    public override Tensor forward(Tensor x)
    {
        Tensor w = Weight, b = Bias;
        if (x.dtype == w.dtype) return nn.functional.group_norm(x, _groups, w, b, _eps);
        if (Kernels.ReducedPrecisionGroupNorm && (x.dtype == ScalarType.BFloat16 || x.dtype == ScalarType.Float16))
        {
            // Reduced-precision input: libtorch's kernels accumulate the statistics in float32 anyway, so skip the
            // float32 round trip of the activations (two full passes). Mixed input/affine dtypes where the kernel
            // takes them (CPU: bit-identical to upcast -> norm -> downcast), else affine parameters in x's dtype.
            if (Kernels.AcceptsMixedAffine(x, w, _groups))
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
}
