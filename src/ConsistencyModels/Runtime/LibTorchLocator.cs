// "Bring your own libtorch": load libtorch from a chosen folder (e.g. an installed PyTorch's torch/lib) before TorchSharp does.
// The file names are the platform's (libtorch_cpu.so, libtorch_cpu.dylib, torch_cpu.dll); tested on Linux only.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ConsistencyModels.Runtime;

public static class LibTorchLocator
{
    public const string EnvironmentVariable = "CM_LIBTORCH";

    // Dependency order: each library's DT_NEEDED entries are already loaded when it is opened. Missing optional ones
    // (CUDA parts in a CPU build) are skipped.
    private static readonly string[] Libraries = ["c10", "c10_cuda", "torch_cpu", "torch_cuda", "torch"];

    /// <summary>A libtorch library's file name on this operating system: <c>libNAME.so</c>, <c>libNAME.dylib</c> or <c>NAME.dll</c>.</summary>
    public static string FileName(string name) =>
        FileName(name, OperatingSystem.IsWindows() ? OSPlatform.Windows : OperatingSystem.IsMacOS() ? OSPlatform.OSX : OSPlatform.Linux);

    internal static string FileName(string name, OSPlatform os) =>
        os == OSPlatform.Windows ? name + ".dll" : os == OSPlatform.OSX ? "lib" + name + ".dylib" : "lib" + name + ".so";

    /// <summary>The folder given by <c>CM_LIBTORCH</c>, or null.</summary>
    public static string? RequestedDirectory => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } d ? d : null;

    /// <summary>
    /// Opens libtorch from <paramref name="directory"/> with full paths. The dynamic loader then resolves TorchSharp's
    /// own <c>libtorch.so</c> dependency to these already-loaded libraries (it matches by soname), so no
    /// LD_LIBRARY_PATH is needed. Must run before the first TorchSharp call. Throws naming what is missing.
    /// </summary>
    public static IReadOnlyList<string> Preload(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{EnvironmentVariable}={directory}: no such folder (point it at a libtorch lib folder, e.g. the torch/lib of an installed PyTorch)");
        var torchCpu = FileName("torch_cpu");
        if (!File.Exists(Path.Combine(directory, torchCpu)))
            throw new FileNotFoundException($"{EnvironmentVariable}={directory} has no {torchCpu}: not a libtorch lib folder", Path.Combine(directory, torchCpu));
        var loaded = new List<string>();
        foreach (var name in Libraries)
        {
            var path = Path.Combine(directory, FileName(name));
            if (!File.Exists(path)) continue;
            try { NativeLibrary.Load(path); }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException($"{path} could not be loaded ({e.Message}). A CUDA build of libtorch also needs the CUDA " +
                                               "runtime libraries it was built with (they ship in the PyTorch wheel's nvidia/* packages).", e);
            }
            loaded.Add(path);
        }
        return loaded;
    }

    /// <summary>
    /// Where the libtorch in this process was loaded from, or null before loading: from /proc/self/maps on Linux, from
    /// the process's module list elsewhere.
    /// </summary>
    public static string? LoadedFrom()
    {
        var torchCpu = FileName("torch_cpu");
        try
        {
            if (OperatingSystem.IsLinux())
            {
                var line = File.ReadLines("/proc/self/maps").FirstOrDefault(l => l.EndsWith("/" + torchCpu, StringComparison.Ordinal));
                return line is null ? null : Path.GetDirectoryName(line[line.IndexOf('/')..]);
            }
            using var self = Process.GetCurrentProcess();
            foreach (ProcessModule m in self.Modules)
                if (string.Equals(Path.GetFileName(m.FileName), torchCpu, StringComparison.OrdinalIgnoreCase))
                    return Path.GetDirectoryName(m.FileName);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or NotSupportedException
                                      or System.ComponentModel.Win32Exception) { return null; }
    }
}
