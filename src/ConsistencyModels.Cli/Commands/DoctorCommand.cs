// `cm doctor`: what this process runs on (libtorch, devices, CPU features, threads), to debug installs and CUDA setups.
using ConsistencyModels.Presets;
using System.Runtime.InteropServices;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Nn;
using ConsistencyModels.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace ConsistencyModels.Cli.Commands;

internal sealed class DoctorCommand : Command<DoctorCommand.Settings>
{
    public sealed class Settings : CommandSettings;

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var table = new Table().AddColumns("", "");
        void Row(string k, string v) => table.AddRow(k, Markup.Escape(v));
        Row("cm", typeof(DoctorCommand).Assembly.GetName().Version?.ToString() ?? "?");
        Row(".NET", $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})");
        Row("TorchSharp", typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?");
        InitializeDeviceType(TorchSharp.DeviceType.CPU);
        Row("libtorch", LibTorchLocator.LoadedFrom() ?? "(not found among the loaded libraries)");
        Row(LibTorchLocator.EnvironmentVariable, LibTorchLocator.RequestedDirectory ?? "(not set: the libtorch next to cm)");
        bool cudaAvailable = cuda.is_available();
        Row("CUDA", cudaAvailable ? $"available, {cuda.device_count()} device(s)" : "not available (the CPU libtorch, or no GPU/driver); see README, CUDA");
        Row("CPU", $"{Environment.ProcessorCount} logical cores; {CpuModel()}");
        Row("CPU features", string.Join(", ", new[]
        {
            CpuFeatures.Avx512 ? "AVX-512" : "no AVX-512",
            CpuFeatures.Avx512Bf16 ? "AVX512-BF16" : "no AVX512-BF16",
            CpuFeatures.AmxBf16 ? "AMX-BF16" : "no AMX",
            CpuFeatures.Avx512Fp16 ? "AVX512-FP16" : "no AVX512-FP16",
        }));
        Row("bf16 sampling", CpuFeatures.Describe(Precision.Bf16));
        Row("CPU convolutions", Runtime.TorchRuntime.EnsureSoundCpuConvolutions() ?? (Runtime.TorchRuntime.MkldnnEnabled() == true ? "oneDNN, checked" : "libtorch's own kernels"));
        Row("threads", $"{get_num_threads()} intra-op, {get_num_interop_threads()} inter-op (cm --threads N sets intra-op)");
        Row("MPI", Distributed.MpiCommunicator.LauncherWorldSize() is int n
            ? $"launched with {n} rank(s); this is rank {Cluster.World.Rank} of {Cluster.World.Size}"
            : "not launched by mpirun (single process)");
        Row("cache", $"{ModelCache.Directory} (${ModelCache.EnvironmentVariable}, $XDG_CACHE_HOME)");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>The CPU's name: /proc/cpuinfo on Linux, PROCESSOR_IDENTIFIER on Windows, the architecture elsewhere.</summary>
    private static string CpuModel()
    {
        if (OperatingSystem.IsWindows())
            return Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER") ?? RuntimeInformation.ProcessArchitecture.ToString();
        if (!OperatingSystem.IsLinux()) return RuntimeInformation.ProcessArchitecture.ToString();
        try { return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown model"; }
        catch (IOException) { return "unknown model"; }
    }
}
