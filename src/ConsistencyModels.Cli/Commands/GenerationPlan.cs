// Resolves --preset / --recipe / --model-config plus overrides into a model config and a GenerationRequest.
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Cli.Commands;

/// <param name="ClassRows">Labels are one grid row per class (--class-labels rows).</param>
internal sealed record GenerationPlan(string ModelName, ModelConfig Config, GenerationRequest Request, int? GridColumns = null, bool ClassRows = false)
{
    public string Describe()
    {
        var o = Request.Sampling;
        return o.Sampler switch
        {
            SamplerKind.Multistep => $"multistep ts={string.Join(",", o.Ts!)} steps={o.Steps} ({o.Evaluations} evaluations)",
            SamplerKind.Onestep => "onestep (1 evaluation)",
            _ => $"{o.Sampler.ToString().ToLowerInvariant()} steps={o.Steps} ({o.Evaluations} evaluations)",
        };
    }

    /// <param name="gridColumns">`cm generate --grid-columns`; with <paramref name="rowsByDefault"/> the built-in model
    /// defaults to one grid row per class (`cm sample` draws random labels instead).</param>
    public static GenerationPlan From(SamplingSettings s, int? gridColumns = null, bool rowsByDefault = true)
    {
        string name;
        ModelConfig config;
        SamplerKind sampler;
        int steps, numSamples = 16, batch = 16;
        long seed = 42;
        IReadOnlyList<int>? ts;
        GeneratorKind generator;
        if (s.Recipe is not null)
        {
            var r = CheckpointPresets.GetRecipe(s.Recipe);
            var p = CheckpointPresets.Get(r.Preset);
            (name, config, sampler, steps, ts, generator, numSamples, batch, seed) = (r.Name, p.Model, r.Sampler, r.Steps, r.Ts, r.Generator, r.NumSamples, r.BatchSize, r.Seed);
        }
        else if (s.Preset is not null || s.ModelConfig is null)
        {
            // No model options: the built-in model.
            var p = s.Preset is null ? BuiltInModels.CdFashionMnist32
                : BuiltInModels.TryGet(s.Preset, out var builtIn) ? builtIn! : CheckpointPresets.Get(s.Preset);
            (name, config, sampler, steps, ts, generator) = (p.Name, p.Model, p.DefaultSampler, p.Steps, p.TwoStepTs, p.DefaultGenerator);
        }
        else
        {
            config = ModelConfigJson.Load(s.ModelConfig!);
            name = Path.GetFileName(s.ModelConfig!);
            sampler = config.Denoiser == DenoiserKind.Edm ? SamplerKind.Heun : SamplerKind.Onestep;
            (steps, ts, generator) = (40, null, GeneratorKind.Determ);
        }

        if (s.Sampler is not null) sampler = Parse.Sampler(s.Sampler);
        if (s.Steps is int st) steps = st;
        if (s.Ts is not null) ts = Parse.IntList(s.Ts, "--ts");
        if (sampler == SamplerKind.Multistep && ts is null)
            throw new ArgumentException($"--sampler multistep needs --ts (ascending grid indices ending at steps-1 = {steps - 1}, e.g. 0,{steps / 2},{steps - 1})");
        if (sampler != SamplerKind.Multistep && s.Ts is not null)
            throw new ArgumentException($"--ts only applies to --sampler multistep (the sampler is {sampler.ToString().ToLowerInvariant()})");
        if (s.Generator is not null) generator = Parse.Generator(s.Generator);

        IReadOnlyList<int>? labels = null;
        int? columns = gridColumns;
        bool builtInDefault = s.Recipe is null && s.ModelConfig is null && BuiltInModels.TryGet(name, out _);
        string labelMode = s.ClassLabels ?? (rowsByDefault && builtInDefault && config.ResolvedNumClasses is not null ? "rows" : "random");
        bool rows = labelMode.Equals("rows", StringComparison.OrdinalIgnoreCase);
        if (rows)
        {
            int classes = config.ResolvedNumClasses ?? throw new ArgumentException($"--class-labels rows needs a class-conditional model ({name} is unconditional)");
            columns ??= 8;
            // One row per class; -n cuts the grid short (or repeats the classes), row by row.
            labels = Enumerable.Range(0, s.NumSamples ?? classes * columns.Value).Select(i => i / columns.Value % classes).ToList();
        }
        else if (!labelMode.Equals("random", StringComparison.OrdinalIgnoreCase))
            labels = Parse.IntList(labelMode, "--class-labels");

        // Explicit labels fix the sample count unless -n says otherwise.
        int count = s.NumSamples ?? (s.Recipe is null && labels is { Count: > 1 } ? labels.Count : numSamples);
        var request = new GenerationRequest
        {
            NumSamples = count,
            BatchSize = s.BatchSize ?? (builtInDefault ? Math.Min(count, 100) : Math.Min(batch, count)),
            Seed = s.Seed ?? seed,
            Generator = generator,
            ClassLabels = labels,
            AdvanceGeneratorPerBatch = !s.OfficialBatchNoise,
            Sampling = new SamplingOptions
            {
                Sampler = sampler, Steps = steps, Ts = sampler == SamplerKind.Multistep ? ts : null,
                Churn = new ChurnOptions(s.SChurn, s.STmin, s.STmax, s.SNoise),
            },
        };
        request.Validate(config);
        return new GenerationPlan(name, config, request, columns, rows);
    }
}
