// Super-resolution, Song et al. (2023) §5.3 and appendix D — as cm/karras_diffusion.py::iterative_superres.
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

/// <summary>
/// A applies, to every p×p patch, an orthonormal basis whose first vector is the constant patch (so latent 0 is the
/// patch mean × p): the low-resolution image (latent 0) is kept, the detail (latents 1…p²−1) generated.
/// Any channel count (upstream hard-codes 3); the image side must be a multiple of p.
/// </summary>
public sealed class SuperResolution : EditOperator
{
    public int PatchSize { get; }
    public Tensor Q { get; }
    private readonly Tensor _known;
    private readonly int _channels, _size;

    public SuperResolution(int patchSize, int channels, int imageSize)
    {
        if (patchSize < 2) throw new ArgumentException($"`PatchSize` must be at least 2 (got {patchSize})");
        if (imageSize % patchSize != 0) throw new ArgumentException($"the image size {imageSize} is not a multiple of the patch size {patchSize}");
        (PatchSize, _channels, _size) = (patchSize, channels, imageSize);
        Q = OrthogonalBasis(Enumerable.Repeat(1.0, patchSize * patchSize).ToArray());
        int n = imageSize / patchSize;
        _known = zeros(1, channels, n * n, patchSize * patchSize);
        _known[TensorIndex.Ellipsis, 0] = tensor(1f);
    }

    public override Tensor Known => _known;

    public override Tensor Forward(Tensor x)
    {
        using var patches = ToPatches(x);
        return einsum("bcnd,de->bcne", patches, Q.to(x.device));
    }

    public override Tensor Inverse(Tensor latent)
    {
        using var patches = einsum("bcne,de->bcnd", latent, Q.to(latent.device));
        return FromPatches(patches);
    }

    /// <summary>The official <c>average_image_patches</c>: every patch replaced by its mean (the nearest-upsampled low-res image).</summary>
    public override Tensor Degrade(Tensor reference)
    {
        using var scope = NewDisposeScope();
        int pp = PatchSize * PatchSize;
        var mean = ToPatches(reference).mean([-1], keepdim: true).repeat(1, 1, 1, pp);
        return FromPatches(mean).MoveToOuterDisposeScope();
    }

    private Tensor ToPatches(Tensor x)
    {
        int p = PatchSize, n = _size / p;
        return x.reshape(-1, _channels, n, p, n, p).permute(0, 1, 2, 4, 3, 5).reshape(-1, _channels, n * n, p * p);
    }

    private Tensor FromPatches(Tensor x)
    {
        int p = PatchSize, n = _size / p;
        return x.reshape(-1, _channels, n, n, p, p).permute(0, 1, 2, 4, 3, 5).reshape(-1, _channels, _size, _size);
    }

    public override void Dispose() { Q.Dispose(); _known.Dispose(); base.Dispose(); }
}
