// `mpirun -np 2 cm ...` on this machine: data-parallel training equals one process with the whole batch, sharded
// sampling equals one process, a rank that dies ends the job. Needs OpenMPI (.ci/run installs openmpi-bin).
using System.Diagnostics;
using System.Security.Cryptography;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Tests.Cli;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Distributed;

[Collection(GlobalRngCollection.Name)]     // two extra processes on two cores: run alone
public class MpiRunTests
{
    /// <summary>Starts <c>mpirun -np ranks dotnet cm.dll args</c> with redirected output.</summary>
    private static Process StartMpi(string mpirun, int ranks, params string[] args)
    {
        var psi = new ProcessStartInfo(mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), "dotnet", Path.Combine(AppContext.BaseDirectory, "cm.dll") }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["CM_CACHE_DIR"] = CmProcess.EmptyCache;
        return Process.Start(psi)!;
    }

    private static CmProcess.Result RunMpi(string mpirun, int ranks, TimeSpan timeout, params string[] args)
    {
        using var p = StartMpi(mpirun, ranks, args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout)) { p.Kill(true); throw new TimeoutException($"mpirun did not finish in {timeout} (a hang)"); }
        return new CmProcess.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    [SkippableTheory]
    [InlineData("ct")]
    [InlineData("edm")]
    public void TwoRanksWithHalfBatchesEqualOneProcessWithTheWholeBatch(string mode)
    {
        var mpirun = Requirements.MpiRun();
        var data = Requirements.FashionMnist(Requirements.FashionMnistTestImages);
        using var dir = new TempDir();
        string[] Args(string output) =>
            ["train", mode, "--preset", "fmnist32", "--data", data, "--output", output, "--global-batch-size", "4", "--total-training-steps", "3",
             "--save-interval", "3", "--log-interval", "1", "--seed", "4", "--dropout", "0", "--ema-rate", "0.9", "--sample-columns", "0", "--threads", "1"];
        var one = CmProcess.Run(Args(dir.File("one")));
        Assert.True(one.ExitCode == 0, one.All);
        var two = RunMpi(mpirun, 2, TimeSpan.FromMinutes(5), Args(dir.File("two")));
        Assert.True(two.ExitCode == 0, two.All);

        var files = new List<string> { "model000003.pt", "ema_0.9_000003.pt" };
        if (mode != "edm") files.Add("target_model000003.pt");
        using var scope = NewDisposeScope();
        foreach (var f in files)
        {
            var a = TorchCheckpoint.LoadStateDict(dir.File($"one/{f}"));
            var b = TorchCheckpoint.LoadStateDict(dir.File($"two/{f}"));
            Assert.Equal(a.Keys, b.Keys);
            double worst = a.Keys.Max(k => (a[k] - b[k]).abs().max().item<float>());
            // Same data, same randoms, gradients summed in another order: equal to fp32 rounding.
            Assert.True(worst < 2e-5, $"{f}: max |one - two| = {worst}");
        }
        var lossOne = File.ReadAllLines(dir.File("one/log.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var lossTwo = File.ReadAllLines(dir.File("two/log.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(3, lossOne.Length);
        for (int i = 0; i < 3; i++) Assert.Equal(lossOne[i], lossTwo[i], 4);
        Assert.Contains("data-parallel over 2 MPI ranks", two.Stdout);
        // The runs trained (so equality is not trivial): the loss moved.
        Assert.NotEqual(lossOne[0], lossOne[2]);
    }

    [SkippableFact]
    public void ShardedSamplingEqualsOneProcess()
    {
        var mpirun = Requirements.MpiRun();
        using var dir = new TempDir();
        var two = RunMpi(mpirun, 2, TimeSpan.FromMinutes(3), "generate", "-n", "9", "--batch-size", "2", "--npz", dir.File("two.npz"), "--threads", "1");
        Assert.True(two.ExitCode == 0, two.All);
        // The same batches as the ranks' (rank 0 takes samples 0-3, rank 1 4-8; batches of 2 line up with one process's)
        // and one thread each: the images are then the same bits, whatever rounding a different batch size would move.
        var one = CmProcess.Run("generate", "-n", "9", "--batch-size", "2", "--npz", dir.File("one.npz"), "--threads", "1");
        Assert.True(one.ExitCode == 0, one.All);
        Assert.Equal(File.ReadAllBytes(dir.File("one.npz")), File.ReadAllBytes(dir.File("two.npz")));

        var shards = RunMpi(mpirun, 2, TimeSpan.FromMinutes(3), "sample", "--num-samples", "30", "--shard-size", "10", "--output-dir", dir.File("s2"), "--threads", "1");
        Assert.True(shards.ExitCode == 0, shards.All);
        var single = CmProcess.Run("sample", "--num-samples", "30", "--shard-size", "10", "--output-dir", dir.File("s1"), "--threads", "1");
        Assert.True(single.ExitCode == 0, single.All);
        foreach (var i in Enumerable.Range(0, 3))
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(dir.File($"s1/samples_{i:D5}.npz"))), SHA256.HashData(File.ReadAllBytes(dir.File($"s2/samples_{i:D5}.npz"))));
    }

    [SkippableFact]
    public void ARankThatDiesEndsTheJobInsteadOfHanging()
    {
        var mpirun = Requirements.MpiRun();
        var data = Requirements.FashionMnist(Requirements.FashionMnistTestImages);
        using var dir = new TempDir();
        using var p = StartMpi(mpirun, 2, "train", "ct", "--preset", "fmnist32", "--data", data, "--output", dir.File("run"), "--global-batch-size", "4",
                               "--total-training-steps", "100000", "--save-interval", "100000", "--sample-columns", "0", "--threads", "1");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            // Wait until rank 1 is training (its process exists), then kill it hard.
            int? victim = null;
            var clock = Stopwatch.StartNew();
            while (victim is null && clock.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited)
            {
                Thread.Sleep(500);
                victim = FindRank(1, dir.File("run"));
            }
            Assert.True(victim is not null, "rank 1 never started");
            Thread.Sleep(3000);
            Process.GetProcessById(victim!.Value).Kill();
            bool ended = p.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(ended, "the job hung after a rank died");
            Assert.NotEqual(0, p.ExitCode);
        }
        finally
        {
            if (!p.HasExited) p.Kill(true);
        }
    }

    /// <summary>The pid of the cm process of MPI rank <paramref name="rank"/> whose command line mentions <paramref name="marker"/>.</summary>
    private static int? FindRank(int rank, string marker)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (!cmdline.Contains("cm.dll") || !cmdline.Contains(marker) || cmdline.Contains("mpirun")) continue;
                var environ = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                if (environ.Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return null;
    }
}
