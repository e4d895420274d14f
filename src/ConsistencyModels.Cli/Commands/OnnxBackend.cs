// `cm generate --onnx` / `cm sample --onnx`: the same request, run on ONNX Runtime (ConsistencyModels.OnnxRuntime) over
// an exported model file. The model's facts come from the file's metadata; flags it cannot honour are refused by name.
using ConsistencyModels.IO;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using Spectre.Console;
using Ort = ConsistencyModels.OnnxRuntime;

namespace ConsistencyModels.Cli.Commands;

internal sealed class OnnxBackend : IDisposable
{
    private readonly Ort.OnnxPipeline _pipeline;

    public ModelSpec Spec { get; }
    public string Provider => _pipeline.Denoiser.Provider.ToString();

    private OnnxBackend(Ort.OnnxPipeline pipeline, ModelSpec spec) => (_pipeline, Spec) = (pipeline, spec);

    /// <summary>Refuses the flags ONNX Runtime cannot honour (one line naming the flag), then opens the file.</summary>
    public static OnnxBackend Open(SamplingSettings s)
    {
        string? refused = s.Preset is not null ? "--preset" : s.ModelConfig is not null ? "--model-config" : s.Recipe is not null ? "--recipe"
            : s.Checkpoint is not null ? "--checkpoint" : s.CheckpointKey is not null ? "--checkpoint-key" : null;
        if (refused is not null) throw new ArgumentException($"{refused} cannot be used with --onnx: the exported file is the model (its metadata gives the sampling defaults)");
        if (!s.Precision.Equals("fp32", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--precision {s.Precision} cannot be used with --onnx: exported files are float32");
        if (s.Sampler is not null && s.Sampler.Trim().ToLowerInvariant() is not ("onestep" or "multistep" or "heun" or "euler"))
            throw new ArgumentException($"--sampler {s.Sampler} cannot be used with --onnx: ONNX Runtime sampling has onestep, multistep, heun and euler");
        if (Cluster.World.Size > 1) throw new ArgumentException("--onnx does not run under mpirun: start one process");
        var options = Ort.OnnxModelOptions.ParseProvider(s.Device) with { IntraOpThreads = s.Threads };

        var pipeline = AnsiConsole.Status().Start($"loading {Markup.Escape(s.Onnx!)}", _ => Ort.OnnxPipeline.Load(s.Onnx!, options));
        try { return new OnnxBackend(pipeline, SpecOf(pipeline.Info, s.Onnx!)); }
        catch { pipeline.Dispose(); throw; }
    }

    /// <summary>The model as the plan needs it, from the file's metadata; a built-in model's export keeps its name and defaults.</summary>
    private static ModelSpec SpecOf(Ort.OnnxModelInfo info, string path)
    {
        if (info.ModelConfigJson is null) throw new InvalidDataException($"'{path}' has no model_config metadata: export it with `cm export onnx`");
        var config = ModelConfigJson.Parse(info.ModelConfigJson);
        bool builtIn = info.Name is { } n && BuiltInModels.TryGet(n, out _);
        var sampler = info.DefaultSampler is { } ds ? Parse.Sampler(ds) : config.Denoiser == Nn.DenoiserKind.Edm ? SamplerKind.Heun : SamplerKind.Onestep;
        var generator = info.DefaultGenerator is { } g ? (GeneratorKind)(int)g : GeneratorKind.Determ;
        return new ModelSpec(builtIn ? info.Name! : Path.GetFileNameWithoutExtension(path), builtIn ? ModelOrigin.BuiltIn : ModelOrigin.ConfigFile,
                             config, Path.GetFullPath(path), null, sampler, info.DefaultSteps ?? ModelSpec.DefaultEdmSteps, info.DefaultTs, generator, info.ClassNames);
    }

    /// <summary>The library's request in this package's words; a sampler it lacks is one line naming --sampler.</summary>
    public static Ort.OnnxGenerationRequest Convert(GenerationRequest r)
    {
        var o = r.Sampling;
        var sampler = o.Sampler switch
        {
            Sampling.SamplerKind.Onestep => Ort.SamplerKind.Onestep,
            Sampling.SamplerKind.Multistep => Ort.SamplerKind.Multistep,
            Sampling.SamplerKind.Heun => Ort.SamplerKind.Heun,
            Sampling.SamplerKind.Euler => Ort.SamplerKind.Euler,
            var other => throw new ArgumentException($"--sampler {other.ToString().ToLowerInvariant()} cannot be used with --onnx: ONNX Runtime sampling has onestep, multistep, heun and euler"),
        };
        return new Ort.OnnxGenerationRequest
        {
            NumSamples = r.NumSamples, BatchSize = r.BatchSize, Seed = r.Seed, Generator = (Ort.NoiseKind)(int)r.Generator, ClassLabels = r.ClassLabels,
            AdvanceGeneratorPerBatch = r.AdvanceGeneratorPerBatch, FirstSample = r.FirstSample, EndSample = r.EndSample,
            Sampling = new Ort.SamplingOptions
            {
                Sampler = sampler, Steps = o.Steps, Ts = o.Ts, Sigmas = o.Sigmas, ClipDenoised = o.ClipDenoised,
                Churn = new Ort.ChurnOptions(o.Churn.SChurn, o.Churn.STmin, o.Churn.STmax, o.Churn.SNoise),
            },
        };
    }

    /// <summary>As <see cref="ConsistencyPipeline.GenerateBatches"/>: the same batches, images and progress.</summary>
    public IEnumerable<GenerationBatch> GenerateBatches(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancel = default)
    {
        var p = progress is null ? null : new SyncProgress<Ort.OnnxProgress>(o => progress.Report(
            new GenerationProgress(o.Batch, o.Batches, o.SamplesDone, o.NumSamples, o.Evaluation, o.EvaluationsPerBatch)));
        foreach (var b in _pipeline.GenerateBatches(Convert(request), p, cancel))
            yield return new GenerationBatch(b.Start, b.Count, b.Pixels, b.Height, b.Width, b.Channels, b.Labels);
    }

    /// <summary>As <see cref="ConsistencyPipeline.Generate"/>: every image of the request's range together.</summary>
    public ImageBatch Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancel = default)
    {
        var c = Spec.Config;
        var collector = new GenerationCollector(request.ResolvedEndSample - request.FirstSample, c.ImageSize, c.ImageSize, c.InChannels, c.ResolvedNumClasses is not null);
        foreach (var b in GenerateBatches(request, progress, cancel)) collector.Add(b with { Start = b.Start - request.FirstSample });
        return collector.Result;
    }

    public void Dispose() => _pipeline.Dispose();
}
