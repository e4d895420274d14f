// The built-in model: embedded weights load strictly, and `cm generate` with no options writes one grid row per class.
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Cli;

public sealed class DefaultModelTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Temp(string name) => _tmp.File(name);

    [Fact]
    public void TheDefaultIsTheEctModelFp16WithItsTrainingRecorded()
    {
        Assert.Same(BuiltInModels.EctFashionMnist32, BuiltInModels.Default);
        Assert.Equal("ect_fmnist32", BuiltInModels.DefaultName);
        Assert.Equal((DenoiserKind.Consistency, SamplerKind.Onestep), (BuiltInModels.Default.Model.Denoiser, BuiltInModels.Default.DefaultSampler));
        AssertFp16WeightsFit(BuiltInModels.Default);
        var meta = BuiltInModels.Metadata(BuiltInModels.Default);
        Assert.Contains("cm train ect --preset edm_fmnist32", meta["command"]);
        Assert.Contains("q 16", meta["recipe"]);
        // The second stage (a smaller gap from the first stage's EMA) is recorded too.
        Assert.Contains("--teacher runs/ect-fmnist32-cpu/ema_hl500kimg_005500.safetensors", meta["command"]);
        Assert.Contains("q 64", meta["recipe"]);
        // And the third (the same gap at half the learning rate, from the second stage's EMA 0.999).
        Assert.Contains("--teacher runs/ect-fmnist32-cpu-q64/ema_0.999_003000.safetensors -q 64 --lr 5e-5", meta["command"]);
        Assert.Contains("1,500 steps at lr 5e-05", meta["recipe"]);
        Assert.Contains("--dtype fp16", meta["converted"]);
    }

    [Fact]
    public void TheIctModelStaysBuiltInFp16WithItsTrainingRecorded()
    {
        Assert.True(BuiltInModels.TryGet("ict_fmnist32", out var preset));
        Assert.Same(BuiltInModels.IctFashionMnist32, preset);
        AssertFp16WeightsFit(preset!);
        var meta = BuiltInModels.Metadata(preset!);
        Assert.Contains("cm train ct --recipe ict", meta["command"]);
        Assert.Contains("N ImprovedCtDoubling 10 -> 160", meta["recipe"]);
    }

    [Fact]
    public void EmbeddedWeightsAreFp16AndFitTheFashionMnistArchitecture()
    {
        var preset = BuiltInModels.CdFashionMnist32;
        AssertFp16WeightsFit(preset);
        var meta = BuiltInModels.Metadata(preset);
        Assert.Contains("cm train cd", meta["command"]);
        Assert.Contains("cm train edm", meta["teacher_command"]);
    }

    /// <summary>The embedded weights are fp16 and have exactly the preset architecture's keys and shapes.</summary>
    private static void AssertFp16WeightsFit(CheckpointPreset preset)
    {
        var state = BuiltInModels.LoadStateDict(preset);
        try
        {
            Assert.All(state, kv => Assert.Equal(ScalarType.Float16, kv.Value.dtype));
            using var model = new UNetModel(preset.Model, META);
            var own = model.state_dict();
            Assert.Equal(own.Keys.Order(), state.Keys.Order());
            foreach (var (k, v) in own) Assert.Equal(v.shape, state[k].shape);
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    [Fact]
    public void TheEdmTeacherIsBuiltInFp16WithHeunAndItsTrainingRecorded()
    {
        Assert.True(BuiltInModels.TryGet("edm_fmnist32", out var preset));
        Assert.Same(BuiltInModels.EdmFashionMnist32, preset);
        Assert.Equal((DenoiserKind.Edm, SamplerKind.Heun, 18), (preset!.Model.Denoiser, preset.DefaultSampler, preset.Steps));
        AssertFp16WeightsFit(preset);
        var meta = BuiltInModels.Metadata(preset);
        Assert.Contains("cm train edm", meta["command"]);
        Assert.Contains("--dtype fp16", meta["converted"]);
    }

    [Fact]
    public void TheBuiltInTeacherDenoisesTowardsGarments()
    {
        // Heun at 18 steps (35 evaluations) from the teacher by name: trained weights give dark backgrounds with bright
        // garments; random or mis-scaled ones give grey or saturated noise.
        using var pipeline = ConsistencyPipeline.LoadBuiltIn("edm_fmnist32");
        var result = pipeline.Generate(new GenerationRequest
        {
            NumSamples = 4, BatchSize = 4, Seed = 1, ClassLabels = [0, 1, 7, 9],
            Sampling = BuiltInModels.EdmFashionMnist32.DefaultSampling(),
        });
        Assert.Equal((4, 32, 32, 1), (result.Count, result.Height, result.Width, result.Channels));
        double mean = result.Images.Average(b => (double)b);
        Assert.InRange(mean, 20, 120);
        Assert.True(result.Images.Count(b => b > 200) > 4 * 20, "too few bright pixels for garments");
        Assert.True(result.Images.Count(b => b < 10) > 4 * 200, "too few dark background pixels");
    }

    [Fact]
    public void LoadBuiltInSamplesTenClassesInOneStep()
    {
        using var pipeline = ConsistencyPipeline.LoadBuiltIn();
        var result = pipeline.Generate(new GenerationRequest
        {
            NumSamples = 10, BatchSize = 10, Seed = 1, ClassLabels = Enumerable.Range(0, 10).ToList(),
            Sampling = BuiltInModels.Default.DefaultSampling(),
        });
        Assert.Equal((10, 32, 32, 1), (result.Count, result.Height, result.Width, result.Channels));
        // Fashion-MNIST is dark background, bright garment: a working model gives mostly-black images with some bright
        // pixels, unlike the mid-grey of an untrained network.
        double mean = result.Images.Average(b => (double)b);
        Assert.InRange(mean, 20, 120);
        Assert.True(result.Images.Count(b => b > 200) > 10 * 20, "too few bright pixels for garments");
    }

    [Fact]
    public void GenerateWithNoOptionsWritesOneRowPerClass()
    {
        var grid = Temp("grid.png");
        var npz = Temp("s.npz");
        var r = CmProcess.Run("generate", "--output", grid, "--npz", npz);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("ect_fmnist32", r.All);
        var samples = Npz.Read(npz);
        Assert.Equal(Enumerable.Range(0, 80).Select(i => (long)(i / 8)), samples["arr_1"].ToArray<long>());
        // Eight columns, so one row per class; the grid holds the npz's images in order.
        var tiles = GridImages.Read(grid, 80, 32, 32, 1, columns: 8);
        for (int k = 0; k < 80; k++) Assert.Equal(GridImages.Image(samples["arr_0"].Data, k, 32, 32, 1), tiles[k]);
    }

    [Fact]
    public void RowsNeedAClassConditionalModelAndAPresetNeedsNoCheckpointOnlyWhenBuiltIn()
    {
        var r = CmProcess.Run("generate", "--preset", "cd_imagenet64_lpips");
        Assert.NotEqual(0, r.ExitCode);
        // A released preset without --checkpoint uses the download cache, which is empty here.
        Assert.Contains("cm download cd_imagenet64_lpips", r.All);
        var rows = CmProcess.Run("generate", "--preset", "cd_fmnist32", "--class-labels", "rows", "--grid-columns", "2", "-n", "4", "--npz", Temp("r.npz"));
        Assert.True(rows.ExitCode == 0, rows.All);
    }
}
