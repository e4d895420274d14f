// The exported files pass the reference ONNX checker (full_check) and strict shape inference with type checks
// (onnx/onnx's Python package: Debian's python3-onnx, which .ci/run installs; skipped where it is absent, failed under CI).
// Debian's onnx 1.12 knows opsets up to 17 (IR version 8): later opsets are checked by ONNX Runtime loading them only.
using System.Diagnostics;
using ConsistencyModels.Export;
using ConsistencyModels.Nn;
using Xunit;
using Xunit.Abstractions;

namespace ConsistencyModels.Tests.Export;

public sealed class OnnxCheckerTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";

    private static readonly Lazy<bool> HasOnnx = new(() => File.Exists(Python) && RunPython("import onnx").ExitCode == 0);

    [SkippableTheory]
    [InlineData(true, DenoiserKind.Consistency, Precision.Fp32)]
    [InlineData(false, DenoiserKind.Edm, Precision.Fp32)]
    [InlineData(true, DenoiserKind.Edm, Precision.Fp16)]
    [InlineData(false, DenoiserKind.Consistency, Precision.Fp16)]
    public void ExportedFilePassesTheCheckerAndShapeInference(bool conditional, DenoiserKind kind, Precision precision)
    {
        Requirements.Require(HasOnnx.Value, "Debian's python3-onnx is not installed (apt-get install python3-onnx)");
        var config = (conditional ? OnnxExportTests.TinyConditional : OnnxExportTests.TinyUnconditional) with { Denoiser = kind };
        using var model = OnnxExportTests.RandomModel(config, seed: 2);
        using var dir = new TempDir();
        var path = dir.File("model.onnx");
        OnnxExport.Save(model, path, new OnnxExportOptions { Precision = precision });
        var r = RunPython(
            "import onnx, sys\n" +
            "m = onnx.load(sys.argv[1])\n" +
            "onnx.checker.check_model(m, full_check=True)\n" +
            "onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)\n" +
            "print('ok', onnx.__version__)", path);
        output.WriteLine(r.Output);
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.StartsWith("ok", r.Output.Trim());
    }

    private static (int ExitCode, string Output) RunPython(string code, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(code);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
