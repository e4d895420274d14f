// Zero-initialised output layers — port of cm/nn.py::zero_module.
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

internal static class ZeroInit
{
    /// <summary>Only matters for training from scratch; loading a checkpoint overwrites it.</summary>
    public static void Apply(nn.Module module)
    {
        using var _ = no_grad();
        foreach (var p in module.parameters()) p.zero_();
    }
}
