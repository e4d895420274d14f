// GroupNorm that always computes in float32 — port of cm/nn.py::GroupNorm32 (32 groups, eps 1e-5).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// Owns its <c>weight</c>/<c>bias</c> (keys <c>*.weight</c>, <c>*.bias</c>) instead of wrapping nn.GroupNorm:
/// wrapping would add a key segment, and TorchSharp 0.107's GroupNorm leaves its affine parameters uninitialised.
/// </summary>
public sealed class GroupNorm32 : nn.Module<Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly int _groups;
    private readonly double _eps;
    private Parameter _weight;
    private Parameter _bias;

    public GroupNorm32(int channels, int groups = 32, double eps = 1e-5, Device? device = null) : base(nameof(GroupNorm32))
    {
        if (channels % groups != 0)
            throw new ArgumentException($"GroupNorm32: {channels} channels are not divisible into {groups} groups");
        _groups = groups;
        _eps = eps;
        _weight = new Parameter(ones(channels, device: device));
        _bias = new Parameter(zeros(channels, device: device));
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    /// <summary>Replaces a parameter ("weight" or "bias") by a loaded tensor without copying (see ModelWeights.Materialize).</summary>
    internal void SetParameter(string name, Parameter value)
    {
        if (name == "weight") _weight = value;
        else if (name == "bias") _bias = value;
        else throw new ArgumentException($"GroupNorm32 has no parameter '{name}'");
        ConditionallyRegisterParameter(name, value);
    }

    public override Tensor forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32)
            return nn.functional.group_norm(x, _groups, _weight, _bias, _eps);
        // libtorch's CPU kernel takes bf16 input with float32 affine parameters and accumulates the statistics in
        // float32: the same result as upcast -> GroupNorm -> downcast (checked bit-identical), without two extra passes.
        if (x.dtype == ScalarType.BFloat16 && x.device_type == TorchSharp.DeviceType.CPU && _weight.dtype == ScalarType.Float32)
            return nn.functional.group_norm(x, _groups, _weight, _bias, _eps);
        using var x32 = x.to(ScalarType.Float32);
        using var w32 = _weight.to(ScalarType.Float32);
        using var b32 = _bias.to(ScalarType.Float32);
        using var y = nn.functional.group_norm(x32, _groups, w32, b32, _eps);
        return y.to(x.dtype);
    }
}
