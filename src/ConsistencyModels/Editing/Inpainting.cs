// Inpainting, Song et al. (2023) §5.3 / Algorithm 4 with A = I — as cm/karras_diffusion.py::iterative_inpainting.
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

/// <summary>A = I; <paramref name="known"/> [B or 1, 1, H, W] is 1 on pixels to keep, 0 on pixels to regenerate.
/// The reference's unknown pixels are set to −1 (black), as upstream.</summary>
public sealed class Inpainting(Tensor known) : EditOperator
{
    private readonly Tensor _known = known.to(ScalarType.Float32);

    public override Tensor Known => _known;
    public override Tensor Forward(Tensor x) => x.alias();
    public override Tensor Inverse(Tensor latent) => latent.alias();

    public override Tensor Degrade(Tensor reference)
    {
        using var minusOnes = full_like(reference, -1.0);
        return Replace(reference, minusOnes);
    }

    /// <summary>Known-pixel mask from a mask image (values in [0, 1], [H, W]): white (&gt; 0.5) = regenerate, as `cm edit inpaint --mask`.</summary>
    public static Tensor KnownFromMaskImage(Tensor maskHw) => (maskHw <= 0.5).to(ScalarType.Float32).reshape(1, 1, maskHw.shape[0], maskHw.shape[1]);

    public override void Dispose() { _known.Dispose(); base.Dispose(); }
}
