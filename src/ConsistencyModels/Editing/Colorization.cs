// Colorization, Song et al. (2023) §5.3 and appendix D — as cm/karras_diffusion.py::iterative_colorization.
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

/// <summary>
/// A maps RGB to an orthonormal basis whose first axis is the luminance direction (0.2989, 0.5870, 0.1140): latent
/// channel 0 is kept from the reference, channels 1-2 (chroma) are generated. Needs three channels.
/// </summary>
public sealed class Colorization : EditOperator
{
    /// <summary>The official Q (3x3, float32; ≈ [[0.4471, −0.8204, 0.3564], [0.8781, 0.4785, 0], [0.1705, −0.3129, −0.9343]]).</summary>
    public Tensor Q { get; } = OrthogonalBasis([0.2989, 0.5870, 0.1140]);
    private readonly Tensor _known = tensor(new float[] { 1, 0, 0 }).reshape(1, 3, 1, 1);

    public override Tensor Known => _known;
    public override Tensor Forward(Tensor x) => einsum("bchw,cd->bdhw", x, Q.to(x.device));
    public override Tensor Inverse(Tensor latent) => einsum("bdhw,cd->bchw", latent, Q.to(latent.device));

    public override void Dispose() { Q.Dispose(); _known.Dispose(); base.Dispose(); }
}
