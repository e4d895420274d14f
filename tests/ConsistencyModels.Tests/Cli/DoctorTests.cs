// `cm doctor` reports the runtime; CM_LIBTORCH loads libtorch from a chosen folder or says why it cannot.
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public class DoctorTests
{
    [Fact]
    public void DoctorNamesLibtorchCpuFeaturesAndThreads()
    {
        var r = CmProcess.Run("doctor");
        Assert.True(r.ExitCode == 0, r.All);
        foreach (var word in new[] { "libtorch", "CUDA", "CPU features", "threads", "cache" }) Assert.Contains(word, r.Stdout);
    }

    [SkippableFact]
    public void LibtorchFromAChosenFolderIsUsed()
    {
        // The bundled libtorch sits next to cm.dll in the test output: preloading it by path must work and be reported.
        string dir = AppContext.BaseDirectory.TrimEnd('/');
        Skip.IfNot(File.Exists(Path.Combine(dir, "libtorch_cpu.so")), "a build without a bundled libtorch (LibTorchBackend=none)");
        var r = CmProcess.RunWith(new Dictionary<string, string> { ["CM_LIBTORCH"] = dir }, "doctor");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains(dir, r.Stdout);
    }

    [Fact]
    public void ABadLibtorchFolderIsExplained()
    {
        using var tmp = new TempDir();
        var r = CmProcess.RunWith(new Dictionary<string, string> { ["CM_LIBTORCH"] = tmp.Path }, "doctor");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("has no libtorch_cpu.so", r.All);
    }
}
