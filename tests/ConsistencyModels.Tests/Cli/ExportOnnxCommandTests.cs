// `cm export onnx`: the built-in model's file runs in ONNX Runtime and equals the libtorch denoiser; bad flags fail in one line.
using ConsistencyModels.Pipelines;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Cli;

public sealed class ExportOnnxCommandTests(ITestOutputHelper output)
{
    [Fact]
    public void BuiltInModelExportsAndMatchesTheLibtorchDenoiser()
    {
        using var dir = new TempDir();
        var r = CmProcess.Run("export", "onnx", "--output", dir.File("ect_fmnist32.onnx"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("ect_fmnist32, consistency denoiser, 1x32x32, 10 classes", r.Stdout);

        using var session = new InferenceSession(dir.File("ect_fmnist32.onnx"));
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("onestep", meta["default_sampler"]);
        Assert.Equal("determ", meta["default_generator"]);
        Assert.Equal("Sneaker", meta["class_names"].Split('\n')[7]);

        using var pipeline = ConsistencyPipeline.LoadBuiltIn();
        using var scope = NewDisposeScope();
        var x = randn([4, 1, 32, 32], generator: new TorchSharp.torch.Generator(3)) * 80;
        var sigma = tensor(new[] { 80f, 80f, 2.5f, 0.002f });
        var labels = tensor(new long[] { 0, 7, 9, 3 });
        Tensor expected;
        using (no_grad()) expected = pipeline.CreateDenoiser(labels, clipDenoised: false)(x, sigma);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x.data<float>().ToArray(), [4, 1, 32, 32])),
            NamedOnnxValue.CreateFromTensor("sigma", new DenseTensor<float>(sigma.data<float>().ToArray(), [4])),
            NamedOnnxValue.CreateFromTensor("class_labels", new DenseTensor<long>(labels.data<long>().ToArray(), [4])),
        ]);
        var actual = results.Single().AsTensor<float>().ToArray();
        double diff = expected.data<float>().ToArray().Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
        output.WriteLine($"built-in ect_fmnist32: max |ONNX Runtime - libtorch| = {diff:G3}");
        Assert.True(diff <= 1e-4, $"max |diff| = {diff:G3}");
    }

    [Fact]
    public void Fp16FileIsSmallerAndSamplesThroughOnnx()
    {
        using var dir = new TempDir();
        var r = CmProcess.Run("export", "onnx", "--fp16", "--output", dir.File("fp16.onnx"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains(", fp16, opset 17", r.Stdout);
        using (var session = new InferenceSession(dir.File("fp16.onnx")))
            Assert.Equal("fp16", session.ModelMetadata.CustomMetadataMap["precision"]);
        var g = CmProcess.Run("generate", "-n", "4", "--onnx", dir.File("fp16.onnx"), "--output", dir.File("grid.png"));
        Assert.True(g.ExitCode == 0, g.All);
        Assert.True(File.Exists(dir.File("grid.png")));
    }

    [Theory]
    [InlineData("--opset", "9", "--opset must be between 13 and 21")]
    [InlineData("--output", "model.onx", "--output must end in .onnx")]
    public void BadOptionsFailInOneLine(string flag, string value, string message)
    {
        var args = flag == "--output" ? new[] { "export", "onnx", flag, value } : ["export", "onnx", "--output", "m.onnx", flag, value];
        var r = CmProcess.Run(args);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.All);
        Assert.DoesNotContain("   at ", r.All);
    }
}
