// `cm train` stopped by SIGTERM or SIGINT (Ctrl-C): it saves the step it reached (the normal atomic checkpoint), exits
// 143 / 130 with one line naming that step, and `--resume` continues from it bit-identically to a run never stopped.
using System.Text.RegularExpressions;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Nn;
using ConsistencyModels.Training;
using ConsistencyModels.Tests.Training.Loop;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class TrainSignalTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>A tiny unconditional 16x16 EDM run on 16 random images: a step takes milliseconds.</summary>
    private string[] TrainArgs(string output, params string[] extra)
    {
        var config = _tmp.File("config.json");
        if (!File.Exists(config))
        {
            File.WriteAllText(config, ModelConfigJson.ToJson(TrainerTests.Tiny(DenoiserKind.Edm) with { ClassCond = false }));
            var pixels = new byte[16 * 16 * 16];
            new Random(1).NextBytes(pixels);
            Npz.Write(_tmp.File("data.npz"), NpyArray.Create<byte>("arr_0", pixels, 16, 16, 16, 1));
        }
        // Neither --save-interval nor the end of the schedule comes within reach: only the signal can cause a save.
        return ["train", "edm", "--model-config", config, "--data", _tmp.File("data.npz"), "--output", output,
                "--global-batch-size", "4", "--ema-rate", "0.9", "--seed", "3", "--total-training-steps", "1000000",
                "--save-interval", "1000000", "--log-interval", "1", "--sample-columns", "0", "--threads", "1", .. extra];
    }

    /// <summary>The steps log.csv holds so far (read while the run appends to it).</summary>
    private static int LoggedSteps(string run)
    {
        var log = Path.Combine(run, "log.csv");
        if (!File.Exists(log)) return 0;
        using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        return reader.ReadToEnd().Split('\n').Count(line => line.Length > 0 && char.IsAsciiDigit(line[0]));
    }

    /// <summary>Whether <paramref name="signal"/> is ignored in process <paramref name="pid"/> (SIG_IGN inherited: a shell's
    /// background job ignores SIGINT, and then the runtime leaves it ignored).</summary>
    private static bool Ignores(int pid, int signal)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) >> (signal - 1) & 1) == 1;
    }

    [SkippableTheory]
    [InlineData(15, 143, "SIGTERM")]
    [InlineData(2, 130, "Ctrl-C (SIGINT)")]
    public void ASignalSavesTheReachedStepAndResumeContinuesFromIt(int signal, int exitCode, string named)
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX signals");
        string run = _tmp.File("run"), straight = _tmp.File("straight");

        long step;
        using (var cm = CmProcess.Start(TrainArgs(run)))
        {
            // Training is under way once a few steps are logged.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (LoggedSteps(run) < 3)
            {
                Assert.False(cm.HasExited, $"cm train ended before it was signalled:\n{cm.OutputSoFar}");
                Assert.True(DateTime.UtcNow < deadline, $"cm train logged no progress in 60 s:\n{cm.OutputSoFar}");
                Thread.Sleep(50);
            }
            Skip.If(OperatingSystem.IsLinux() && Ignores(cm.Id, signal), $"signal {signal} is ignored in this process tree (started as a background job?)");
            cm.Signal(signal);
            var r = cm.WaitForExit(TimeSpan.FromSeconds(60));

            Assert.True(r.ExitCode == exitCode, $"expected exit code {exitCode} after signal {signal}, got {r.ExitCode}:\n{r.All}");
            var saved = Regex.Matches(r.Stdout, $@"stopped by {Regex.Escape(named)}: saved step (\d+) \(train_state(\d+)\.json\)");
            Assert.True(saved.Count == 1, $"expected one line naming the saved step:\n{r.All}");
            step = long.Parse(saved[0].Groups[1].Value);
            Assert.Equal(step, long.Parse(saved[0].Groups[2].Value));
            Assert.DoesNotContain("Exception", r.All);
        }

        // The save is a complete checkpoint of the reached step (the newest, and the only one) and nothing is half-written.
        Assert.True(step >= 3, $"saved step {step}, but 3 steps were logged before the signal");
        Assert.Equal(step, TrainingCheckpoints.Latest(run));
        foreach (var file in new[] { TrainingCheckpoints.Model(run, step), TrainingCheckpoints.Optimizer(run, step), TrainingCheckpoints.Ema(run, 0.9, step), TrainingCheckpoints.State(run, step) })
            Assert.True(File.Exists(file), $"{Path.GetFileName(file)} missing after the signal");
        Assert.Single(Directory.GetFiles(run, "train_state*.json"));
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
        Assert.Equal(step, LoggedSteps(run));

        // --resume continues from it...
        var resumed = CmProcess.Run(TrainArgs(run, "--resume", "--max-steps", "2"));
        Assert.True(resumed.ExitCode == 0, resumed.All);
        Assert.Contains($"resumed from step {step}", resumed.All);
        Assert.Contains($"done at step {step + 2}", resumed.All);

        // ... exactly as a run that was never stopped.
        var uninterrupted = CmProcess.Run(TrainArgs(straight, "--max-steps", (step + 2).ToString()));
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.All);
        foreach (var name in new Func<string, long, string>[] { TrainingCheckpoints.Model, TrainingCheckpoints.Optimizer, (dir, s) => TrainingCheckpoints.Ema(dir, 0.9, s) })
        {
            string a = name(straight, step + 2), b = name(run, step + 2);
            Assert.True(File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b)), $"{Path.GetFileName(b)} differs from the uninterrupted run's");
        }
    }
}
