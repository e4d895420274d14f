// The 12 released checkpoints (reference §2.1-2.2, sampling settings §5.4) and the model-zoo sampling recipes.
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Presets;

/// <summary>A released checkpoint: its architecture, preconditioning and recommended sampling settings.</summary>
/// <param name="Name">File name without <c>.pt</c>, e.g. <c>cd_imagenet64_lpips</c>.</param>
/// <param name="TwoStepTs">The released two-step <c>ts</c> (null where none was released).</param>
/// <param name="TsNote">Where <see cref="TwoStepTs"/> comes from.</param>
public sealed record CheckpointPreset(
    string Name,
    ModelConfig Model,
    SamplerKind DefaultSampler,
    int Steps,
    IReadOnlyList<int>? TwoStepTs,
    GeneratorKind DefaultGenerator,
    string Description,
    string TsNote)
{
    public string FileName => Name + ".pt";
    public string DownloadUrl => "https://openaipublic.blob.core.windows.net/consistency/" + FileName;

    /// <summary>Sampling options for this checkpoint, overriding the sampler (multistep gets the released ts).</summary>
    public SamplingOptions DefaultSampling(SamplerKind? sampler = null)
    {
        var kind = sampler ?? DefaultSampler;
        return new SamplingOptions { Sampler = kind, Steps = Steps, Ts = kind == SamplerKind.Multistep ? TwoStepTs : null };
    }
}

/// <summary>A named sampling recipe from the model zoo's config files (MMagic PR #2086 configs/consistency_models).</summary>
public sealed record SamplingRecipe(string Name, string Preset, SamplerKind Sampler, IReadOnlyList<int>? Ts, int Steps,
                                    GeneratorKind Generator, int BatchSize, int Seed)
{
    public int NumSamples => BatchSize;    // the zoo configs set no num_samples: one batch
}
