// The code paths that differ per operating system: native file names, MPI library names, CPU feature detection, and no
// Linux-only file read outside an OperatingSystem.IsLinux() branch. Windows and macOS cannot run here; these check the
// names and the guards those systems would take.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ConsistencyModels.Distributed;
using ConsistencyModels.Runtime;
using Xunit;

namespace ConsistencyModels.Tests.Runtime;

public class PlatformPathsTests
{
    [Fact]
    public void LibtorchFileNamesFollowEachPlatform()
    {
        Assert.Equal("libtorch_cpu.so", LibTorchLocator.FileName("torch_cpu", OSPlatform.Linux));
        Assert.Equal("torch_cpu.dll", LibTorchLocator.FileName("torch_cpu", OSPlatform.Windows));
        Assert.Equal("libtorch_cpu.dylib", LibTorchLocator.FileName("torch_cpu", OSPlatform.OSX));
        Assert.Equal("libtorch_cpu.so", LibTorchLocator.FileName("torch_cpu"));   // this machine
    }

    [Fact]
    public void MpiLibraryNamesFollowEachPlatform()
    {
        Assert.Equal(["libmpi.so.40", "libmpi.so.12", "libmpi.so"], MpiCommunicator.LibraryNamesFor(OSPlatform.Linux));
        Assert.Equal(["msmpi.dll"], MpiCommunicator.LibraryNamesFor(OSPlatform.Windows));
        Assert.All(MpiCommunicator.LibraryNamesFor(OSPlatform.OSX), n => Assert.EndsWith(".dylib", n));
    }

    [Fact]
    public void CpuFeaturesAgreeWithDotnetsDetectionWhereBothKnow()
    {
        // Off Linux only .NET's detection is used; on Linux /proc/cpuinfo must agree with it on AVX-512F.
        Assert.Equal(Avx512F.IsSupported, CpuFeatures.IntrinsicsFlags().Contains("avx512f"));
        Assert.Equal(Avx512F.IsSupported, CpuFeatures.Avx512);
    }

    [Fact]
    public void LinuxOnlyFilesAreReadOnlyBehindALinuxCheck()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "ConsistencyModels.sln"))) root = root.Parent;
        Assert.NotNull(root);
        var src = Path.Combine(root!.FullName, "src");
        var offenders = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadLines(f).Any(l => l.Contains("\"/proc/") && !l.TrimStart().StartsWith("//")))
            .Where(f => !File.ReadAllText(f).Contains("OperatingSystem.IsLinux()"))
            .ToArray();
        Assert.True(offenders.Length == 0, "reads /proc without an OperatingSystem.IsLinux() check: " + string.Join(", ", offenders));
    }
}
