// Resolves --preset / --recipe / --model-config plus overrides into a model config and a GenerationRequest.
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Cli.Commands;

/// <param name="ClassRows">Labels are one grid row per class (--class-labels rows).</param>
internal sealed record GenerationPlan(ModelSpec Model, GenerationRequest Request, int? GridColumns = null, bool ClassRows = false)
{
    public string ModelName => Model.Name;
    public ModelConfig Config => Model.Config;

    public string Describe()
    {
        var o = Request.Sampling;
        return o.Sampler switch
        {
            SamplerKind.Multistep when o.Sigmas is { } sg => $"multistep sigmas={string.Join(",", sg.Select(v => v.ToString("G", System.Globalization.CultureInfo.InvariantCulture)))} ({o.Evaluations} evaluations)",
            SamplerKind.Multistep => $"multistep ts={string.Join(",", o.Ts!)} steps={o.Steps} ({o.Evaluations} evaluations)",
            SamplerKind.Onestep => "onestep (1 evaluation)",
            _ => $"{o.Sampler.ToString().ToLowerInvariant()} steps={o.Steps} ({o.Evaluations} evaluations)",
        };
    }

    /// <param name="gridColumns">`cm generate --grid-columns`; with <paramref name="rowsByDefault"/> the built-in model
    /// defaults to one grid row per class (`cm sample` draws random labels instead).</param>
    public static GenerationPlan From(SamplingSettings s, int? gridColumns = null, bool rowsByDefault = true) =>
        From(s, ModelSpec.Resolve(s.Preset, s.ModelConfig, s.Checkpoint, s.CheckpointKey, s.Recipe), gridColumns, rowsByDefault);

    /// <summary>The plan for an already resolved model (an exported ONNX file's, <see cref="OnnxBackend"/>).</summary>
    public static GenerationPlan From(SamplingSettings s, ModelSpec spec, int? gridColumns = null, bool rowsByDefault = true)
    {
        var (name, config, sampler, steps, ts, generator) = (spec.Name, spec.Config, spec.DefaultSampler, spec.Steps, spec.TwoStepTs, spec.DefaultGenerator);
        var (numSamples, batch, seed) = spec.Recipe is { } r ? (r.NumSamples, r.BatchSize, (long)r.Seed) : (16, 16, 42L);

        // --sigmas implies multistep and replaces the preset's ts; SamplingOptions.Validate refuses the rest (both given, another sampler).
        double[]? sigmas = s.Sigmas is null ? null : Parse.DoubleList(s.Sigmas, "--sigmas");
        if (s.Sampler is not null) sampler = Parse.Sampler(s.Sampler);
        else if (sigmas is not null) sampler = SamplerKind.Multistep;
        if (s.Steps is int st) steps = st;
        ts = s.Ts is not null ? Parse.IntList(s.Ts, "--ts") : sigmas is not null ? null : ts;
        if (sampler == SamplerKind.Multistep && ts is null && sigmas is null)
            throw new ArgumentException($"--sampler multistep needs --ts (ascending grid indices ending at steps-1 = {steps - 1}, e.g. 0,{steps / 2},{steps - 1})");
        if (sampler != SamplerKind.Multistep && s.Ts is not null)
            throw new ArgumentException($"--ts only applies to --sampler multistep (the sampler is {sampler.ToString().ToLowerInvariant()})");
        if (s.Generator is not null) generator = Parse.Generator(s.Generator);

        IReadOnlyList<int>? labels = null;
        int? columns = gridColumns;
        bool builtInDefault = spec.Origin == ModelOrigin.BuiltIn;
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
                Sampler = sampler, Steps = steps, Ts = sampler == SamplerKind.Multistep ? ts : null, Sigmas = sigmas,
                Churn = new ChurnOptions(s.SChurn, s.STmin, s.STmax, s.SNoise),
            },
        };
        request.Validate(config);
        return new GenerationPlan(spec, request, columns, rows);
    }
}
