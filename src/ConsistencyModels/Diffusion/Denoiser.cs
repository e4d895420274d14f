// The single seam between network and algorithms (k-diffusion's Denoiser, EDM's EDMPrecond).
using static TorchSharp.torch;

namespace ConsistencyModels.Diffusion;

/// <summary>D(x, σ): the denoised estimate of x at noise levels σ ([N] float32). Samplers and editors see only this.</summary>
public delegate Tensor Denoiser(Tensor x, Tensor sigma);

public static class DenoiserExtensions
{
    /// <summary>
    /// <paramref name="f"/> that throws <see cref="OperationCanceledException"/> before each evaluation once
    /// <paramref name="cancel"/> is set: every sampler and editor stops between network calls without knowing of tokens.
    /// </summary>
    public static Denoiser Cancellable(this Denoiser f, CancellationToken cancel) => !cancel.CanBeCanceled ? f : (x, sigma) =>
    {
        cancel.ThrowIfCancellationRequested();
        return f(x, sigma);
    };
}
