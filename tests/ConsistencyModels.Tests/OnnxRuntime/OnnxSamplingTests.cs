// ConsistencyModels.OnnxRuntime against the libtorch path: the denoiser (1e-4), generated images (1 uint8 level) for the
// built-in cd_fmnist32 (onestep, multistep by ts and by σ list, three generators) and an EDM-kind model (heun, multistep),
// and the zero-shot edits (inpaint, colorize, superres, stroke, denoise).
using ConsistencyModels.Editing;
using LibEdit = ConsistencyModels.Editing.EditTask;
using NnKind = ConsistencyModels.Nn.DenoiserKind;
using KarrasSchedule = ConsistencyModels.Diffusion.KarrasSchedule;
using ConsistencyModels.Export;
using ConsistencyModels.Nn;
using ConsistencyModels.OnnxRuntime;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Tests.Export;
using ConsistencyModels.Tests.Parity;
using Google.Protobuf;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Lib = ConsistencyModels.Sampling;
using Ort = ConsistencyModels.OnnxRuntime;

namespace ConsistencyModels.Tests.OnnxRuntime;

public sealed class OnnxSamplingTests(ITestOutputHelper output)
{
    private static readonly Lazy<(ConsistencyPipeline Torch, OnnxPipeline Onnx)> BuiltIn = new(() =>
    {
        // cd_fmnist32, whose figures docs/onnx.md reports (the export is the same code for every model).
        var pipeline = ConsistencyPipeline.LoadBuiltIn(BuiltInModels.CdFashionMnist32.Name);
        var options = new OnnxExportOptions
        {
            Sampling = new Lib.SamplingOptions(), Generator = Lib.GeneratorKind.Determ, ClassNames = BuiltInModels.FashionMnistClasses, Name = BuiltInModels.CdFashionMnist32.Name,
        };
        var onnx = new OnnxPipeline(OnnxDenoiser.Load(OnnxExport.Build(pipeline.Model, options).ToByteArray()));
        return (pipeline, onnx);
    });

    [Fact]
    public void MetadataIsRead()
    {
        var info = BuiltIn.Value.Onnx.Info;
        Assert.Equal((32, 1, 10), (info.ImageSize, info.InChannels, info.NumClasses));
        Assert.Equal(Ort.DenoiserKind.Consistency, info.Denoiser);
        Assert.Equal((0.002, 80.0, 0.5, 7.0), (info.SigmaMin, info.SigmaMax, info.SigmaData, info.Rho));
        Assert.Equal(NoiseKind.Determ, info.DefaultGenerator);
        Assert.Equal(Ort.SamplerKind.Onestep, info.DefaultSampling().Sampler);
        Assert.Equal("Sneaker", info.ClassNames![7]);
    }

    [Fact]
    public void BuiltInDenoiserMatchesLibtorch()
    {
        var (torchPipe, onnx) = BuiltIn.Value;
        using var scope = NewDisposeScope();
        var x = randn([4, 1, 32, 32], generator: new TorchSharp.torch.Generator(5)) * 3;
        float[] sigma = [80f, 10f, 0.5f, 0.01f];
        long[] labels = [1, 4, 7, 9];
        Tensor expected;
        using (no_grad()) expected = torchPipe.CreateDenoiser(tensor(labels), clipDenoised: false)(x, tensor(sigma));
        var actual = onnx.Denoiser.Denoise(x.data<float>().ToArray(), sigma, labels);
        double diff = MaxDiff(expected.data<float>().ToArray(), actual);
        output.WriteLine($"cd_fmnist32 denoiser: max |ORT - libtorch| = {diff:G3}");
        Assert.True(diff <= 1e-4, $"max |diff| = {diff:G3}");
    }

    [Fact]
    public void Fp16BuiltInImagesAreCloseToLibtorchFp16()
    {
        // The same fp16 split on both routes (float16 torso, float32 norms and scalings); float16 rounding in different
        // kernels moves a pixel by a level or two at most, where fp32 routes agree within one.
        using var torchPipe = ConsistencyPipeline.LoadBuiltIn(BuiltInModels.CdFashionMnist32.Name, precision: Precision.Fp16);
        using var onnx = new OnnxPipeline(OnnxDenoiser.Load(OnnxExport.Build(BuiltIn.Value.Torch.Model, new OnnxExportOptions { Precision = Precision.Fp16 }).ToByteArray()));
        Assert.Equal(GraphPrecision.Fp16, onnx.Info.Precision);
        Assert.Equal(GraphPrecision.Fp32, BuiltIn.Value.Onnx.Info.Precision);
        var lib = torchPipe.Generate(new GenerationRequest { NumSamples = 8, BatchSize = 8, Seed = 7, Generator = Lib.GeneratorKind.Determ, Sampling = new Lib.SamplingOptions() });
        var ort = onnx.Generate(new OnnxGenerationRequest { NumSamples = 8, BatchSize = 8, Seed = 7, Generator = NoiseKind.Determ, Sampling = new Ort.SamplingOptions() });
        int diff = MaxByteDiff(lib.Images, ort.Pixels, out int differing);
        output.WriteLine($"cd_fmnist32 fp16 onestep: max uint8 |ORT fp16 - libtorch fp16| = {diff} ({differing} of {ort.Pixels.Length} bytes differ)");
        Assert.True(diff <= 3, $"max uint8 diff {diff}");
    }

    [Theory]
    [InlineData("onestep", "determ")]
    [InlineData("onestep", "determ-indiv")]
    [InlineData("onestep", "dummy")]
    [InlineData("multistep", "determ")]
    [InlineData("multistep", "determ-indiv")]
    [InlineData("sigmas", "determ")]
    public void BuiltInImagesEqualLibtorch(string sampler, string generator)
    {
        var (torchPipe, onnx) = BuiltIn.Value;
        var (libSampling, ortSampling) = sampler switch
        {
            "onestep" => (new Lib.SamplingOptions(), new Ort.SamplingOptions()),
            "multistep" => (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] },
                            new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] }),
            _ => (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Multistep, Sigmas = [80, 2.0, 0.3] },
                  new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Multistep, Sigmas = [80, 2.0, 0.3] }),
        };
        var kind = NoiseGenerator.ParseKind(generator);
        // 10 samples in batches of 4: a padded last batch; labels drawn from the seed.
        var lib = torchPipe.Generate(new GenerationRequest
        {
            NumSamples = 10, BatchSize = 4, Seed = 7, Generator = (Lib.GeneratorKind)(int)kind, Sampling = libSampling,
        });
        var ort = onnx.Generate(new OnnxGenerationRequest { NumSamples = 10, BatchSize = 4, Seed = 7, Generator = kind, Sampling = ortSampling });
        Assert.Equal(lib.Labels, ort.Labels);
        int diff = MaxByteDiff(lib.Images, ort.Pixels, out int differing);
        output.WriteLine($"cd_fmnist32 {sampler} {generator}: max uint8 |ORT - libtorch| = {diff} ({differing} of {ort.Pixels.Length} bytes differ)");
        Assert.True(diff <= 1, $"max uint8 diff {diff}");
    }

    [Theory]
    [InlineData("heun")]
    [InlineData("euler")]
    [InlineData("multistep")]
    public void EdmModelImagesEqualLibtorch(string sampler)
    {
        var config = OnnxExportTests.TinyConditional with { Denoiser = NnKind.Edm };
        using var model = OnnxExportTests.RandomModel(config, seed: 9);
        using var torchPipe = new ConsistencyPipeline(model, CPU, Precision.Fp32, channelsLast: false);
        using var onnx = new OnnxPipeline(OnnxDenoiser.Load(OnnxExport.Build(model, new OnnxExportOptions()).ToByteArray()));
        Assert.Equal(Ort.DenoiserKind.Edm, onnx.Info.Denoiser);

        double denoiserDiff;
        using (var scope = NewDisposeScope())
        {
            var x = randn([3, 3, 16, 16], generator: new TorchSharp.torch.Generator(2)) * 2;
            float[] sigma = [80f, 1f, 0.002f];
            long[] labels = [0, 5, 9];
            Tensor expected;
            using (no_grad()) expected = torchPipe.CreateDenoiser(tensor(labels), clipDenoised: false)(x, tensor(sigma));
            denoiserDiff = MaxDiff(expected.data<float>().ToArray(), onnx.Denoiser.Denoise(x.data<float>().ToArray(), sigma, labels));
        }

        var (libSampling, ortSampling) = sampler switch
        {
            "heun" => (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Heun, Steps = 6 }, new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Heun, Steps = 6 }),
            "euler" => (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Euler, Steps = 6 }, new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Euler, Steps = 6 }),
            _ => (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Multistep, Steps = 18, Ts = [0, 5, 11, 17] },
                  new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Multistep, Steps = 18, Ts = [0, 5, 11, 17] }),
        };
        var lib = torchPipe.Generate(new GenerationRequest { NumSamples = 3, BatchSize = 3, Seed = 3, Generator = Lib.GeneratorKind.DetermIndiv, Sampling = libSampling });
        var ort = onnx.Generate(new OnnxGenerationRequest { NumSamples = 3, BatchSize = 3, Seed = 3, Generator = NoiseKind.DetermIndiv, Sampling = ortSampling });
        int diff = MaxByteDiff(lib.Images, ort.Pixels, out int differing);
        output.WriteLine($"tiny EDM {sampler}: denoiser max |diff| {denoiserDiff:G3}; max uint8 |ORT - libtorch| = {diff} ({differing} of {ort.Pixels.Length} bytes differ)");
        Assert.True(denoiserDiff <= 1e-4, $"denoiser max |diff| = {denoiserDiff:G3}");
        Assert.True(diff <= 1, $"max uint8 diff {diff}");
    }

    [SkippableTheory]
    [InlineData(NnKind.Edm, "heun")]
    [InlineData(NnKind.Consistency, "multistep")]
    public void FixtureTopologyImagesEqualLibtorch(NnKind kind, string sampler)
    {
        var model = FixtureModels.Get("imagenet64", kind);      // the released ImageNet-64 topology at width 32 (cached: not disposed)
        var torchPipe = new ConsistencyPipeline(model, CPU, Precision.Fp32, channelsLast: false);
        using var onnx = new OnnxPipeline(OnnxDenoiser.Load(OnnxExport.Build(model, new OnnxExportOptions()).ToByteArray()));
        var (libSampling, ortSampling) = sampler == "heun"
            ? (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Heun, Steps = 2 }, new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Heun, Steps = 2 })
            : (new Lib.SamplingOptions { Sampler = Lib.SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] },
               new Ort.SamplingOptions { Sampler = Ort.SamplerKind.Multistep, Steps = 40, Ts = [0, 22, 39] });
        var lib = torchPipe.Generate(new GenerationRequest { NumSamples = 2, BatchSize = 2, Seed = 1, Sampling = libSampling });
        var ort = onnx.Generate(new OnnxGenerationRequest { NumSamples = 2, BatchSize = 2, Seed = 1, Sampling = ortSampling });
        Assert.Equal(lib.Labels, ort.Labels);
        int diff = MaxByteDiff(lib.Images, ort.Pixels, out int differing);
        output.WriteLine($"imagenet64 topology {kind} {sampler}: max uint8 |ORT - libtorch| = {diff} ({differing} of {ort.Pixels.Length} bytes differ)");
        Assert.True(diff <= 1, $"max uint8 diff {diff}");
    }

    [Theory]
    [InlineData(LibEdit.Inpaint)]
    [InlineData(LibEdit.Stroke)]
    [InlineData(LibEdit.Denoise)]
    [InlineData(LibEdit.SuperRes)]
    public void BuiltInEditsEqualLibtorch(LibEdit task)
    {
        var (torchPipe, onnx) = BuiltIn.Value;
        // References: one-step samples of the model itself (in [-1, 1]).
        var refs = onnx.Generate(new OnnxGenerationRequest { NumSamples = 3, BatchSize = 3, Seed = 11, ClassLabels = [0, 7, 9] });
        var images = ToUnitNchw(refs.Pixels, 3, 1, 32);
        CompareEdit(torchPipe, onnx.Denoiser, task, images, 3, 1, 32, labels: [0, 7, 9]);
    }

    [Theory]
    [InlineData(LibEdit.Colorize)]
    [InlineData(LibEdit.Inpaint)]
    public void RgbEditsEqualLibtorch(LibEdit task)
    {
        var config = OnnxExportTests.TinyConditional with { Denoiser = NnKind.Consistency };
        using var model = OnnxExportTests.RandomModel(config, seed: 4);
        using var torchPipe = new ConsistencyPipeline(model, CPU, Precision.Fp32, channelsLast: false);
        using var onnx = OnnxDenoiser.Load(OnnxExport.Build(model, new OnnxExportOptions()).ToByteArray());
        var images = randn([2, 3, 16, 16], generator: new TorchSharp.torch.Generator(8)).clamp(-1, 1).data<float>().ToArray();
        CompareEdit(torchPipe, onnx, task, images, 2, 3, 16, labels: [3]);
    }

    private void CompareEdit(ConsistencyPipeline torchPipe, OnnxDenoiser onnx, LibEdit task, float[] images, int n, int c, int s, int[] labels)
    {
        IReadOnlyList<int>? ts = task switch { LibEdit.Stroke => null, _ => [0, 10, 20, 39] };
        var lib = ImageEditor.Edit(torchPipe, new EditRequest
        {
            Task = task, Images = tensor(images, [n, c, s, s]), ClassLabels = labels, Ts = ts, Seed = 5, Generator = Lib.GeneratorKind.Determ,
        });
        var ort = ZeroShotEdits.Edit(onnx, new OnnxEditRequest
        {
            Task = Enum.Parse<Ort.EditTask>(task.ToString()), Images = images, Count = n, ClassLabels = labels, Ts = ts, Seed = 5,
        });
        int dDegraded = MaxByteDiff(lib.Degraded!.Images, Samplers.ToUint8Nhwc(ort.Degraded, n, c, s, s), out _);
        int dEdited = MaxByteDiff(lib.Edited.Images, Samplers.ToUint8Nhwc(ort.Edited, n, c, s, s), out int differing);
        output.WriteLine($"{task} ({c}x{s}x{s}): max uint8 |ORT - libtorch| degraded {dDegraded}, edited {dEdited} ({differing} of {lib.Edited.Images.Length} bytes differ)");
        Assert.True(dDegraded <= 1 && dEdited <= 1, $"max uint8 diff: degraded {dDegraded}, edited {dEdited}");
    }

    [Fact]
    public void UnavailableExecutionProviderIsOneClearError()
    {
        var e = Assert.Throws<NotSupportedException>(() => OnnxDenoiser.CreateSessionOptions(new OnnxModelOptions { Provider = ExecutionProvider.DirectML }));
        Assert.Contains("DirectML execution provider is not in this ONNX Runtime build", e.Message);
        Assert.Throws<ArgumentException>(() => OnnxModelOptions.ParseProvider("tpu"));
        Assert.Equal((ExecutionProvider.Cuda, 1), (OnnxModelOptions.ParseProvider("cuda:1").Provider, OnnxModelOptions.ParseProvider("cuda:1").DeviceId));
    }

    [Fact]
    public void KarrasGridEqualsLibtorch()
    {
        foreach (int n in new[] { 1, 2, 7, 40, 201 })
        {
            using var expected = KarrasSchedule.GetSigmasKarras(n);
            var e = expected.data<float>().ToArray();
            var a = KarrasGrid.Sigmas(n, 0.002, 80, 7);
            Assert.Equal(e.Length, a.Length);
            double rel = e.Zip(a, (x, y) => Math.Abs(x - y) / Math.Max(Math.Abs(x), 1e-30)).Max();
            Assert.True(rel <= 3e-6, $"n = {n}: max relative diff {rel:G3}");   // libtorch's vectorised linspace rounds a few values differently
        }
        Assert.Equal(79.999985f, KarrasGrid.Sigmas(40, 0.002, 80, 7)[0]);
    }

    private static float[] ToUnitNchw(byte[] nhwc, int n, int c, int s)
    {
        var x = new float[n * c * s * s];
        for (int b = 0; b < n; b++)
            for (int p = 0; p < s * s; p++)
                for (int ch = 0; ch < c; ch++) x[(b * c + ch) * s * s + p] = nhwc[(b * s * s + p) * c + ch] / 127.5f - 1f;
        return x;
    }

    private static double MaxDiff(float[] e, float[] a)
    {
        Assert.Equal(e.Length, a.Length);
        return e.Zip(a, (x, y) => Math.Abs((double)x - y)).Max();
    }

    private static int MaxByteDiff(byte[] e, byte[] a, out int differing)
    {
        Assert.Equal(e.Length, a.Length);
        differing = e.Zip(a, (x, y) => x != y).Count(d => d);
        return e.Zip(a, (x, y) => Math.Abs(x - y)).Max();
    }
}
