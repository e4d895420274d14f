// Peak resident memory of "load a checkpoint and generate one image in one step", each case in a fresh process so that
// no case inherits another's high-water mark. The parent writes random-weight checkpoints of the full-size
// architectures to the temp folder (once) and re-invokes this executable with `--memory-case NAME FILE` per case.
using System.Diagnostics;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class MemoryBench
{
    private sealed record Case(string Name, Func<ModelConfig> Config, string Format);

    private static readonly Case[] Cases =
    [
        new("imagenet64-pt", () => CheckpointPresets.ImageNet64(DenoiserKind.Consistency), "pt"),
        new("imagenet64-safetensors", () => CheckpointPresets.ImageNet64(DenoiserKind.Consistency), "safetensors"),
        new("lsun256-pt", () => CheckpointPresets.Lsun256(DenoiserKind.Consistency), "pt"),
        new("lsun256-safetensors", () => CheckpointPresets.Lsun256(DenoiserKind.Consistency), "safetensors"),
    ];

    /// <summary>The parent: prepares the files, runs each case in a child process, prints one table.</summary>
    public static int Run(string[] only, string? markdown)
    {
        var lines = new List<string>
        {
            "| case | weights MB | baseline RSS MB | peak after load MB | peak after one-step generate MB | generation adds MB | load peak / weights | peak / weights |",
            "|---|---|---|---|---|---|---|---|",
        };
        foreach (var c in Cases.Where(c => only.Length == 0 || only.Contains(c.Name)))
        {
            var file = Prepare(c);
            var (exe, prefix) = SelfCommand();
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in prefix) psi.ArgumentList.Add(a);
            foreach (var a in new[] { "--memory-case", c.Name, file }) psi.ArgumentList.Add(a);
            using var child = Process.Start(psi)!;
            var output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            var result = output.Split('\n').FirstOrDefault(l => l.StartsWith("MEMORY "));
            if (child.ExitCode != 0 || result is null) { Console.Error.WriteLine($"{c.Name}: child failed (exit {child.ExitCode})\n{output}"); return 1; }
            var f = result["MEMORY ".Length..].Split(' ').Select(double.Parse).ToArray();   // weights, baseline, load peak, loaded RSS, total peak
            double weights = f[0], baseline = f[1], loadPeak = f[2], loaded = f[3], peak = f[4];
            var line = $"| {c.Name} | {weights:F0} | {baseline:F0} | {loadPeak:F0} | {peak:F0} | {peak - loaded:F0} | {loadPeak / weights:F2} | {peak / weights:F2} |";
            Console.Error.WriteLine(line);
            lines.Add(line);
        }
        lines.Add("");
        lines.Add("- each case ran in its own process: baseline = resident memory after libtorch is loaded; peaks are VmHWM " +
                  "(`ConsistencyPipeline.Load` of a random-weight fp32 checkpoint, then one-step generation of one image; " +
                  "`generation adds` = peak minus the resident memory after load, i.e. activations and allocator growth)");
        foreach (var l in lines) Console.WriteLine(l);
        if (markdown is not null) File.WriteAllLines(markdown, lines);
        return 0;
    }

    /// <summary>The child: one case, measured from a fresh process; prints `MEMORY weights baseline loadPeak loadedRss peak` (MB).</summary>
    public static int RunCase(string name, string file)
    {
        var c = Cases.Single(c => c.Name == name);
        var config = c.Config();
        using (var warm = ones(4)) { }   // libtorch loaded and initialised: the baseline
        double baseline = Status("VmRSS:");
        double weights = new FileInfo(file).Length / 1048576.0;
        using var pipeline = ConsistencyPipeline.Load(config, file);
        double loadPeak = Status("VmHWM:"), loaded = Status("VmRSS:");
        Console.Error.WriteLine($"  {name}: after load RSS {loaded:F0} MB, peak {loadPeak:F0} MB");
        var request = new GenerationRequest { NumSamples = 1, BatchSize = 1 };
        pipeline.Generate(request);
        double peak = Status("VmHWM:");
        Console.Error.WriteLine($"  {name}: after generate RSS {Status("VmRSS:"):F0} MB, peak {peak:F0} MB");
        Console.WriteLine($"MEMORY {weights:F1} {baseline:F1} {loadPeak:F1} {loaded:F1} {peak:F1}");
        return 0;
    }

    private static string Prepare(Case c)
    {
        var config = c.Config();
        var file = Path.Combine(Path.GetTempPath(), $"cm-bench-mem-{c.Name}.{c.Format}");
        if (File.Exists(file)) return file;
        Console.Error.WriteLine($"writing random weights to {file}");
        manual_seed(1234);
        using var model = new UNetModel(config);
        var sd = model.state_dict();
        if (c.Format == "pt") TorchCheckpoint.Save(file, sd);
        else Safetensors.Save(file, sd);
        return file;
    }

    private static (string Exe, string[] Prefix) SelfCommand()
    {
        var process = Environment.ProcessPath!;
        var assembly = typeof(MemoryBench).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? (process, [assembly]) : (process, []);
    }

    private static double Status(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key)) return long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        return -1;
    }
}
