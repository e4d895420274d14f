// Load a checkpoint and generate images: the library counterpart of scripts/image_sample.py.
using TorchSharp;
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Pipelines;

public sealed class ConsistencyPipeline : IDisposable
{
    public UNetModel Model { get; }
    public ModelConfig Config => Model.Config;
    public KarrasDenoiser Preconditioning { get; }
    public Device Device { get; }

    public ConsistencyPipeline(UNetModel model, Device? device = null)
    {
        Device = device ?? CPU;
        Model = model;
        Model.to(Device);
        Model.eval();
        Preconditioning = KarrasDenoiser.FromConfig(model.Config);
    }

    /// <summary>Builds the UNet for <paramref name="config"/> and loads <paramref name="checkpointPath"/> strictly (.pt or .safetensors).</summary>
    public static ConsistencyPipeline Load(ModelConfig config, string checkpointPath, Device? device = null)
    {
        if (!File.Exists(checkpointPath)) throw new FileNotFoundException($"checkpoint '{checkpointPath}' does not exist", checkpointPath);
        var stateDict = CheckpointFile.LoadStateDict(checkpointPath);
        try
        {
            var model = new UNetModel(config);
            ModelWeights.LoadInto(model, stateDict, checkpointPath, config);
            return new ConsistencyPipeline(model, device);
        }
        finally
        {
            foreach (var t in stateDict.Values) t.Dispose();
        }
    }

    public static ConsistencyPipeline FromPreset(string presetName, string checkpointPath, Device? device = null) =>
        Load(CheckpointPresets.Get(presetName).Model, checkpointPath, device);

    /// <summary>D(x, σ) of this model for fixed class labels (null for unconditional models), clamped as upstream.</summary>
    public Denoiser CreateDenoiser(Tensor? classLabels, bool clipDenoised = true) =>
        Preconditioning.AsDenoiser((x, cNoise, y) => Model.call(x, cNoise, y), classLabels, clipDenoised);

    /// <summary>Generates <see cref="GenerationRequest.NumSamples"/> images batch by batch.</summary>
    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancel = default)
    {
        request.Validate();
        request.Sampling.Validate(Config.SigmaMin, Config.SigmaMax, Config.Rho);
        int n = request.NumSamples, size = Config.ImageSize, ch = Config.InChannels;
        long[]? labels = ResolveLabels(request);
        var rng = SampleGenerators.Create(request.Generator, n, request.Seed);
        var images = new byte[(long)n * size * size * ch];
        int batches = (n + request.BatchSize - 1) / request.BatchSize, evals = request.Sampling.Evaluations;

        using var noGrad = no_grad();
        for (int b = 0, done = 0; done < n; b++)
        {
            cancel.ThrowIfCancellationRequested();
            int bs = Math.Min(request.BatchSize, n - done);
            if (request.AdvanceGeneratorPerBatch) rng.SetDoneSamples(done);
            using var scope = NewDisposeScope();
            var y = labels is null ? null : tensor(labels[done..(done + bs)]).to(Device);
            int batchIndex = b, doneSoFar = done;
            var x = KarrasSample.Sample(CreateDenoiser(y, request.Sampling.ClipDenoised), [bs, ch, size, size], request.Sampling, rng,
                Preconditioning, Device, step => progress?.Report(new GenerationProgress(batchIndex + 1, batches, doneSoFar, n, step.Evaluation, evals)));
            var bytes = ImageIO.ToUint8Nhwc(x).cpu();
            bytes.bytes.CopyTo(images.AsSpan((int)((long)done * size * size * ch)));
            done += bs;
            progress?.Report(new GenerationProgress(batchIndex + 1, batches, done, n, evals, evals));
        }
        return new GenerationResult(images, n, size, size, ch, labels);
    }

    private long[]? ResolveLabels(GenerationRequest request)
    {
        int n = request.NumSamples;
        if (Config.ResolvedNumClasses is not int numClasses)
        {
            if (request.ClassLabels is not null)
                throw new ArgumentException("this model is unconditional (class_cond=false): class labels cannot be used");
            return null;
        }
        if (request.ClassLabels is { } given)
        {
            foreach (var l in given)
                if (l < 0 || l >= numClasses) throw new ArgumentException($"class label {l} is outside [0, {numClasses - 1}]");
            return Enumerable.Range(0, n).Select(i => (long)given[i % given.Count]).ToArray();
        }
        // Upstream draws labels from the unseeded global RNG; here they come from a generator seeded with --seed.
        using var g = new Generator(unchecked((ulong)request.Seed));
        using var drawn = randint(0, numClasses, [n], dtype: ScalarType.Int64, generator: g);
        return drawn.data<long>().ToArray();
    }

    public void Dispose() => Model.Dispose();
}
