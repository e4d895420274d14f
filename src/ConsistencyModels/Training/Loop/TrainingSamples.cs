// The sample grid written at each save: the EMA network, one row per class (EDM: Heun 10 steps = 19 evaluations; CD/CT: one step).
using ConsistencyModels.IO.Images;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Training;

internal static class TrainingSamples
{
    public static void Write(Trainer trainer, string path)
    {
        int cols = trainer.Options.SampleGridColumns, classes = trainer.NumClasses;
        int n = classes > 0 ? classes * cols : cols * cols;
        using var pipeline = new ConsistencyPipeline(trainer.EmaModel(), trainer.Model.parameters().First().device, Precision.Fp32, channelsLast: false);
        var request = new GenerationRequest
        {
            NumSamples = n,
            BatchSize = n,
            Seed = 0,
            ClassLabels = classes > 0 ? [.. Enumerable.Range(0, n).Select(i => i / cols)] : null,
            Sampling = trainer.Model.Config.Denoiser == DenoiserKind.Edm
                ? new SamplingOptions { Sampler = SamplerKind.Heun, Steps = 10 }
                : new SamplingOptions(),
        };
        var result = pipeline.Generate(request);
        ImageIO.SaveGrid(path, result.Images, n, result.Height, result.Width, result.Channels, columns: cols);
    }
}
