// "Bring your own libtorch": load libtorch from a chosen folder (e.g. an installed PyTorch's torch/lib) before TorchSharp does.
using System.Runtime.InteropServices;

namespace ConsistencyModels.Runtime;

public static class LibTorchLocator
{
    public const string EnvironmentVariable = "CM_LIBTORCH";

    // Dependency order: each library's DT_NEEDED entries are already loaded when it is opened. Missing optional ones
    // (CUDA parts in a CPU build) are skipped.
    private static readonly string[] Libraries =
        ["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"];

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
        if (!File.Exists(Path.Combine(directory, "libtorch_cpu.so")))
            throw new FileNotFoundException($"{EnvironmentVariable}={directory} has no libtorch_cpu.so: not a libtorch lib folder", Path.Combine(directory, "libtorch_cpu.so"));
        var loaded = new List<string>();
        foreach (var name in Libraries)
        {
            var path = Path.Combine(directory, name);
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

    /// <summary>Where the libtorch in this process was loaded from (read from /proc/self/maps), or null before loading.</summary>
    public static string? LoadedFrom()
    {
        try
        {
            var line = File.ReadLines("/proc/self/maps").FirstOrDefault(l => l.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal));
            return line is null ? null : Path.GetDirectoryName(line[line.IndexOf('/')..]);
        }
        catch (IOException) { return null; }
    }
}
