// `cm generate --onnx` and `cm sample --onnx`: the same request on ONNX Runtime gives the libtorch path's images (within
// 1 uint8 level) and labels; flags it cannot honour fail in one line naming the flag.
using ConsistencyModels.IO.Numpy;
using Xunit;
using Xunit.Abstractions;

namespace ConsistencyModels.Tests.Cli;

public sealed class OnnxCommandTests(ITestOutputHelper output)
{
    private static readonly Lazy<string> Exported = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), "cm-onnx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, true); } catch (IOException) { } };
        var path = Path.Combine(dir, "cd_fmnist32.onnx");
        var r = CmProcess.Run("export", "onnx", "--output", path);
        Assert.True(r.ExitCode == 0, r.All);
        return path;
    });

    [Theory]
    [InlineData("")]
    [InlineData("--sampler multistep --ts 0,22,39 --generator determ-indiv")]
    public void GenerateOnnxEqualsLibtorch(string options)
    {
        var extra = options.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var dir = new TempDir();
        string[] common = ["generate", "-n", "12", "-b", "5", "--seed", "3", "--class-labels", "random", .. extra];
        var torchRun = CmProcess.Run([.. common, "--npz", dir.File("torch.npz")]);
        Assert.True(torchRun.ExitCode == 0, torchRun.All);
        var onnxRun = CmProcess.Run([.. common, "--onnx", Exported.Value, "--npz", dir.File("onnx.npz"), "--output", dir.File("grid.png")]);
        Assert.True(onnxRun.ExitCode == 0, onnxRun.All);
        Assert.Contains("ONNX Runtime, Cpu execution provider", onnxRun.Stdout);
        Assert.True(File.Exists(dir.File("grid.png")));
        var (t, o) = (Npz.Read(dir.File("torch.npz")), Npz.Read(dir.File("onnx.npz")));
        Assert.Equal(t["arr_1"].ToArray<long>(), o["arr_1"].ToArray<long>());
        int diff = MaxDiff(t["arr_0"].Data, o["arr_0"].Data);
        output.WriteLine($"cm generate {string.Join(' ', extra)}: max uint8 |--onnx - libtorch| = {diff}");
        Assert.True(diff <= 1, $"max uint8 diff {diff}");
    }

    [Fact]
    public void SampleOnnxEqualsLibtorch()
    {
        using var dir = new TempDir();
        string[] common = ["sample", "-n", "6", "--shard-size", "4", "-b", "3", "--seed", "9"];
        var torchRun = CmProcess.Run([.. common, "--output-dir", dir.File("torch")]);
        Assert.True(torchRun.ExitCode == 0, torchRun.All);
        var onnxRun = CmProcess.Run([.. common, "--onnx", Exported.Value, "--output-dir", dir.File("onnx")]);
        Assert.True(onnxRun.ExitCode == 0, onnxRun.All);
        foreach (var shard in new[] { "samples_00000.npz", "samples_00001.npz" })
        {
            var (t, o) = (Npz.Read(Path.Combine(dir.File("torch"), shard)), Npz.Read(Path.Combine(dir.File("onnx"), shard)));
            Assert.Equal(t["arr_1"].ToArray<long>(), o["arr_1"].ToArray<long>());
            int diff = MaxDiff(t["arr_0"].Data, o["arr_0"].Data);
            output.WriteLine($"cm sample {shard}: max uint8 |--onnx - libtorch| = {diff}");
            Assert.True(diff <= 1, $"{shard}: max uint8 diff {diff}");
        }
    }

    [Theory]
    [InlineData("--precision", "bf16", "--precision bf16 cannot be used with --onnx")]
    [InlineData("--sampler", "dpm", "--sampler dpm cannot be used with --onnx")]
    [InlineData("--preset", "cd_fmnist32", "--preset cannot be used with --onnx")]
    [InlineData("--device", "directml", "DirectML execution provider is not in this ONNX Runtime build")]
    [InlineData("--device", "tpu", "is not an ONNX Runtime execution provider")]
    public void UnsupportedOptionsFailInOneLine(string flag, string value, string message)
    {
        var r = CmProcess.Run("generate", "--onnx", Exported.Value, flag, value, "-n", "1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.All);
        Assert.DoesNotContain("   at ", r.All);
    }

    [Fact]
    public void MissingFileIsOneLine()
    {
        var r = CmProcess.Run("generate", "--onnx", "no-such-model.onnx");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("no-such-model.onnx", r.All);
        Assert.DoesNotContain("   at ", r.All);
    }

    private static int MaxDiff(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
    }
}
