// The invertible linear operator A and mask of Song et al. (2023) Algorithm 4, as cm/karras_diffusion.py's editing functions use them.
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

/// <summary>
/// A zero-shot edit's linear map A (pixels → latent), its inverse, and which latent entries are known from the
/// reference. <see cref="Known"/> is the official code's <c>mask</c> (1 = keep the reference), i.e. the paper's 1 − Ω.
/// </summary>
public abstract class EditOperator : IDisposable
{
    /// <summary>A x.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>A⁻¹ z.</summary>
    public abstract Tensor Inverse(Tensor latent);

    /// <summary>1 where the latent comes from the reference, 0 where the model generates it; broadcasts against A x.</summary>
    public abstract Tensor Known { get; }

    /// <summary>What the reference's unknown part is set to (official: 0 in the latent, −1 pixels for inpainting).</summary>
    public virtual Tensor Degrade(Tensor reference)
    {
        using var zeros = zeros_like(reference);
        return Replace(reference, zeros);
    }

    /// <summary>The official <c>replacement(x0, x1)</c>: A⁻¹[(A reference)·known + (A x)·(1 − known)].</summary>
    public Tensor Replace(Tensor reference, Tensor x)
    {
        using var scope = NewDisposeScope();
        var known = Known.to(reference.device);
        var mixed = Forward(reference) * known + Forward(x) * (1.0 - known);
        return Inverse(mixed).MoveToOuterDisposeScope();
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>
    /// The orthogonal matrix whose first column is <paramref name="firstColumn"/> normalised, as the official helpers
    /// make it: numpy QR (LAPACK Householder, float64) of the identity with that first column, sign-fixed so the first
    /// column sums positive, then cast to float32.
    /// </summary>
    internal static Tensor OrthogonalBasis(double[] firstColumn)
    {
        int n = firstColumn.Length;
        double norm = Math.Sqrt(firstColumn.Sum(v => v * v));
        using var m = eye(n, dtype: ScalarType.Float64);
        using (var col = tensor(firstColumn.Select(v => v / norm).ToArray(), dtype: ScalarType.Float64)) m[TensorIndex.Colon, 0] = col;
        var (q, r) = linalg.qr(m);
        r.Dispose();
        using (q)
        {
            using var s = q[TensorIndex.Colon, 0].sum();
            using var fixedSign = s.item<double>() < 0 ? q.neg() : q.clone();
            return fixedSign.to(ScalarType.Float32);
        }
    }
}
