// Interpolation, Song et al. (2023) §5.3 and the official editing notebook: slerp between two latents, then one step.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

public static class Interpolation
{
    /// <summary>
    /// Spherical interpolation per sample: sin((1−α)ψ)/sin ψ · z₁ + sin(αψ)/sin ψ · z₂ with ψ the angle between the
    /// flattened latents (cosine clipped to [−1, 1]). α = 0 and 1 give z₁ and z₂ exactly.
    /// </summary>
    public static Tensor Slerp(Tensor z1, Tensor z2, double alpha)
    {
        using var scope = NewDisposeScope();
        var a = z1.flatten(1).to(ScalarType.Float64);
        var b = z2.flatten(1).to(ScalarType.Float64);
        var cos = ((a * b).sum(1) / (a.norm(1) * b.norm(1))).clamp(-1.0, 1.0);
        var psi = cos.acos();
        var sinPsi = psi.sin();
        // Parallel latents (ψ = 0): fall back to linear interpolation.
        var w1 = where(sinPsi > 1e-12, ((1 - alpha) * psi).sin() / sinPsi, full_like(psi, 1 - alpha));
        var w2 = where(sinPsi > 1e-12, (alpha * psi).sin() / sinPsi, full_like(psi, alpha));
        var z = w1.unsqueeze(1) * a + w2.unsqueeze(1) * b;
        return z.reshape(z1.shape).to(z1.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="frames"/> images per pair, α = 0 … 1 evenly: f(slerp(z₁, z₂, α)·T, T), one evaluation
    /// per frame. Result [frames, B, C, H, W].
    /// </summary>
    public static Tensor Interpolate(Denoiser f, Tensor z1, Tensor z2, int frames, double sigmaMax = 80.0, Action<SamplerStep>? callback = null)
    {
        if (frames < 2) throw new ArgumentException($"`Frames` must be at least 2 (got {frames})");
        if (!z1.shape.SequenceEqual(z2.shape)) throw new ArgumentException("the two latents differ in shape");
        using var scope = NewDisposeScope();
        using var t = full(z1.shape[0], sigmaMax, dtype: z1.dtype, device: z1.device);
        var outs = new List<Tensor>();
        for (int k = 0; k < frames; k++)
        {
            double alpha = (double)k / (frames - 1);
            using var inner = NewDisposeScope();
            var z = Slerp(z1, z2, alpha);
            var image = f(z * sigmaMax, t);
            callback?.Invoke(new SamplerStep(k + 1, frames, sigmaMax, image));
            outs.Add(image.MoveToOuterDisposeScope());
        }
        return stack(outs).MoveToOuterDisposeScope();
    }
}
