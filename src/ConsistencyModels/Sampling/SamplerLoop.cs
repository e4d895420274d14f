// The iteration of every multi-step sampler, owning the tensor lifetimes so that each sampler file holds only its math.
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary>One sampler iteration: from state <paramref name="x"/> at iteration <paramref name="i"/>, the next state.</summary>
internal delegate Tensor SamplerIteration(int i, Tensor x);

internal static class SamplerLoop
{
    /// <summary>
    /// Runs <paramref name="iterations"/> iterations from <paramref name="x"/>. Every iteration gets its own dispose
    /// scope, so its temporaries die with it; only the new state leaves it, and the previous state is freed unless it
    /// is the caller's <paramref name="x"/> (the caller owns that). The result is always a tensor the caller may
    /// dispose (an alias of <paramref name="x"/> after zero iterations).
    /// </summary>
    public static Tensor Run(Tensor x, int iterations, SamplerIteration iteration)
    {
        var state = x;
        for (int i = 0; i < iterations; i++)
        {
            using var scope = NewDisposeScope();
            var previous = state;
            state = iteration(i, state);
            state.MoveToOuterDisposeScope();
            if (!ReferenceEquals(previous, x) && !ReferenceEquals(previous, state)) previous.Dispose();
        }
        return ReferenceEquals(state, x) ? x.alias() : state;
    }
}
