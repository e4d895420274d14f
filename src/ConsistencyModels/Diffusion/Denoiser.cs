// The single seam between network and algorithms (k-diffusion's Denoiser, EDM's EDMPrecond).
using static TorchSharp.torch;

namespace ConsistencyModels.Diffusion;

/// <summary>D(x, σ): the denoised estimate of x at noise levels σ ([N] float32). Samplers and editors see only this.</summary>
public delegate Tensor Denoiser(Tensor x, Tensor sigma);
