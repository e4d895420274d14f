// The sample grid `cm train` writes at each save: the EMA network, one row per class (EDM: Heun 10 steps = 19 evaluations; CD/CT: one step).
using ConsistencyModels.IO.Images;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using ConsistencyModels.Training;

namespace ConsistencyModels.Cli.Reporting;

internal static class SampleGrid
{
    public static string PathIn(string dir, long step) => Path.Combine(dir, $"samples{step:D6}.png");

    /// <summary>
    /// <paramref name="columns"/> samples per class of the data (<paramref name="dataClasses"/>; a square grid when the
    /// model is unconditional) from the EMA of the smallest rate, seed 0.
    /// </summary>
    public static void Write(TrainingState state, int? dataClasses, int columns, string path)
    {
        var online = state.Online;
        int classes = online.Config.ClassCond ? dataClasses ?? 0 : 0;
        int n = classes > 0 ? classes * columns : columns * columns;
        using var pipeline = new ConsistencyPipeline(state.EmaNetwork(), online.parameters().First().device, Precision.Fp32, channelsLast: false);
        var request = new GenerationRequest
        {
            NumSamples = n,
            BatchSize = n,
            Seed = 0,
            ClassLabels = classes > 0 ? [.. Enumerable.Range(0, n).Select(i => i / columns)] : null,
            Sampling = online.Config.Denoiser == DenoiserKind.Edm
                ? new SamplingOptions { Sampler = SamplerKind.Heun, Steps = 10 }
                : new SamplingOptions(),
        };
        var result = pipeline.Generate(request);
        ImageIO.SaveGrid(path, result.Images, n, result.Height, result.Width, result.Channels, columns: columns);
    }
}
