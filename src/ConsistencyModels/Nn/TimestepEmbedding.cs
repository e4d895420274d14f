// Sinusoidal timestep embedding — port of cm/nn.py::timestep_embedding (cos half first, then sin).
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

public static class TimestepEmbedding
{
    /// <summary>[N] timesteps (here 250·ln σ) -> [N, dim] float32 embedding, max_period 10000.</summary>
    public static Tensor Compute(Tensor timesteps, int dim, double maxPeriod = 10000)
    {
        using var scope = NewDisposeScope();
        int half = dim / 2;
        // Same op order as upstream, in float32: exp(-ln(max_period) * arange(half) / half).
        var freqs = exp(arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) * (-Math.Log(maxPeriod)) / half);
        var args = timesteps.unsqueeze(1).to(ScalarType.Float32) * freqs.unsqueeze(0);
        var embedding = cat([cos(args), sin(args)], dim: -1);
        if (dim % 2 == 1)
            embedding = cat([embedding, zeros_like(embedding[.., ..1])], dim: -1);
        return embedding.MoveToOuterDisposeScope();
    }
}
