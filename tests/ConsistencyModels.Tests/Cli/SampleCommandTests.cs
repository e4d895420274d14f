// `cm sample`: shards equal one `cm generate` run, a rerun redoes only missing shards (byte-identical), settings are guarded.
using System.Security.Cryptography;
using ConsistencyModels.IO.Numpy;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public class SampleCommandTests
{
    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void ShardsEqualOneGenerateRunAndAResumeRewritesOnlyMissingShards()
    {
        using var dir = new TempDir();
        string shards = dir.File("shards");
        var first = CmProcess.Run("sample", "--num-samples", "50", "--shard-size", "20", "--batch-size", "16", "--seed", "7", "--output-dir", shards);
        Assert.True(first.ExitCode == 0, first.All);
        var files = Directory.GetFiles(shards, "*.npz").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, files.Length);
        var hashes = files.Select(Hash).ToArray();

        // The same samples in one piece, at another batch size: per-sample noise makes them independent of both.
        var whole = CmProcess.Run("generate", "--num-samples", "50", "--batch-size", "50", "--seed", "7", "--generator", "determ-indiv",
                                  "--class-labels", "random", "--npz", dir.File("whole.npz"));
        Assert.True(whole.ExitCode == 0, whole.All);
        var all = Npz.Read(dir.File("whole.npz"));
        var joined = files.SelectMany(f => Npz.Read(f)["arr_0"].Data).ToArray();
        Assert.Equal(all["arr_0"].Data, joined);
        Assert.Equal(all["arr_1"].ToArray<long>(), files.SelectMany(f => Npz.Read(f)["arr_1"].ToArray<long>()).ToArray());

        // Interrupted run: shard 1 missing. The rerun makes it again, byte for byte, and leaves the others alone.
        File.Delete(files[1]);
        var times = files.Where(File.Exists).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var again = CmProcess.Run("sample", "--num-samples", "50", "--shard-size", "20", "--batch-size", "16", "--seed", "7", "--output-dir", shards);
        Assert.True(again.ExitCode == 0, again.All);
        Assert.Contains("2 complete, 1 to do", again.Stdout);
        Assert.Equal(hashes, files.Select(Hash).ToArray());
        foreach (var (f, t) in times) Assert.Equal(t, File.GetLastWriteTimeUtc(f));

        var nothing = CmProcess.Run("sample", "--num-samples", "50", "--shard-size", "20", "--batch-size", "16", "--seed", "7", "--output-dir", shards);
        Assert.Contains("nothing to do", nothing.Stdout);
    }

    [Fact]
    public void ARerunWithOtherSettingsIsRefused()
    {
        using var dir = new TempDir();
        var first = CmProcess.Run("sample", "--num-samples", "10", "--output-dir", dir.Path);
        Assert.True(first.ExitCode == 0, first.All);
        var other = CmProcess.Run("sample", "--num-samples", "10", "--seed", "1", "--output-dir", dir.Path);
        Assert.Equal(2, other.ExitCode);
        Assert.Contains("seed: 42 -> 1", other.All);
    }

    [Fact]
    public void NumSamplesIsRequiredAndDummyNoiseIsRefused()
    {
        using var dir = new TempDir();
        var missing = CmProcess.Run("sample", "--output-dir", dir.Path);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("--num-samples", missing.All);
        var dummy = CmProcess.Run("sample", "--num-samples", "10", "--generator", "dummy", "--output-dir", dir.Path);
        Assert.Equal(2, dummy.ExitCode);
        Assert.Contains("per-sample noise", dummy.All);
    }
}
