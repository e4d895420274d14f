// Downloads against a loopback HTTP server: complete, resumed (If-Range), retried after a stall, a file changed between
// attempts, 404, HTML, truncated archive, corruption on reload, concurrency.
using ConsistencyModels.Presets;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Tests.Cli;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Downloads;

public class FileDownloaderTests
{
    private static readonly DownloadItem L2 = DownloadCatalog.TryGet("cd_imagenet64_l2")!;
    private static readonly DownloadItem Lpips = DownloadCatalog.TryGet("cd_imagenet64_lpips")!;
    private static readonly DownloadItem Ct = DownloadCatalog.TryGet("ct_imagenet64")!;

    /// <summary>A real PyTorch zip checkpoint of about <paramref name="floats"/> × 4 bytes.</summary>
    private static byte[] CheckpointBytes(int floats, int seed)
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var g = new Generator(0, CPU).manual_seed(seed);
        TorchCheckpoint.Save(dir.File("c.pt"), new Dictionary<string, Tensor> { ["w"] = randn([floats], generator: g) });
        return File.ReadAllBytes(dir.File("c.pt"));
    }

    /// <summary>A loopback server holding <paramref name="files"/>, a client, and an empty cache folder.</summary>
    private sealed class Harness : IDisposable
    {
        public LoopbackFileServer Server { get; } = new();
        public TempDir Cache { get; } = new();
        private readonly HttpClient _http = new();

        public Harness(params (DownloadItem item, byte[] bytes)[] files)
        {
            foreach (var (item, bytes) in files) Server.Add(item.RelativeUrl, bytes);
        }

        /// <summary>Quick retries, so that a test with stalls takes a second, not minutes.</summary>
        public DownloadOptions Options { get; set; } = new() { StallTimeout = TimeSpan.FromSeconds(5), RetryDelay = TimeSpan.Zero };

        public Task<CacheEntry> Download(DownloadItem item, IProgress<DownloadProgress>? progress = null) =>
            new FileDownloader(_http, Options).DownloadAsync(item, Cache.Path, Server.BaseUrl, progress: progress)
                .WaitAsync(TimeSpan.FromSeconds(60));                     // a hang fails the test instead of the run

        public void Dispose() { _http.Dispose(); Server.Dispose(); Cache.Dispose(); }
    }

    [Fact]
    public async Task FullDownloadIsRecordedWithItsSha256AndResolvesByName()
    {
        var bytes = CheckpointBytes(300_000, 1);
        using var h = new Harness((L2, bytes));
        var reports = new List<DownloadProgress>();
        var entry = await h.Download(L2, new ImmediateProgress<DownloadProgress>(reports.Add));
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), entry.Sha256);
        Assert.Equal(bytes.Length, entry.Size);
        Assert.Equal(bytes.Length, reports[^1].Received);
        Assert.Equal(bytes.Length, reports[^1].Total);
        Assert.False(File.Exists(h.Cache.File(L2.FileName + FileDownloader.PartialSuffix)));
        Assert.Equal(h.Cache.File(L2.FileName), ModelCache.ResolveFile("cd_imagenet64_l2", h.Cache.Path));
        Assert.Equal(h.Cache.File(L2.FileName), ModelCache.ResolveFile("cd_imagenet64_l2.pt", h.Cache.Path));
        // A second call finds the verified copy and does not ask the server again.
        int requests = h.Server.RangeHeaders.Count;
        await h.Download(L2);
        Assert.Equal(requests, h.Server.RangeHeaders.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InterruptedDownloadResumesWithARangeRequestNamingTheVersion(bool lastModifiedOnly)
    {
        var bytes = CheckpointBytes(500_000, 2);
        using var h = new Harness((L2, bytes));
        h.Server.Behaviour = LoopbackFileServer.Mode.TruncateFirstResponse;
        h.Server.SendValidators = lastModifiedOnly ? LoopbackFileServer.Validators.LastModified : LoopbackFileServer.Validators.ETag;
        h.Options = h.Options with { Attempts = 1 };
        var e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.Contains("run the same command again to resume", e.Message);
        long partial = new FileInfo(h.Cache.File(L2.FileName + FileDownloader.PartialSuffix)).Length;
        Assert.InRange(partial, 1, bytes.Length - 1);
        Assert.False(File.Exists(h.Cache.File(L2.FileName)));

        await h.Download(L2);
        Assert.Equal($"bytes={partial}-", h.Server.RangeHeaders[^1]);
        Assert.NotNull(h.Server.IfRangeHeaders[^1]);
        Assert.Equal(206, h.Server.StatusCodes[^1]);
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
        Assert.Empty(Directory.EnumerateFiles(h.Cache.Path, "*.partial*"));
    }

    [Fact]
    public async Task ABrokenConnectionIsResumedByTheNextAttempt()
    {
        var bytes = CheckpointBytes(500_000, 12);
        using var h = new Harness((L2, bytes));
        h.Server.Behaviour = LoopbackFileServer.Mode.TruncateFirstResponse;
        await h.Download(L2);                                             // one call: the retry resumes
        Assert.Equal([200, 206], h.Server.StatusCodes);
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
    }

    [Fact]
    public async Task AStalledServerIsDroppedRetriedAndReportedInOneLine()
    {
        // Headers and 10 bytes, then silence: the download used to wait forever.
        var bytes = CheckpointBytes(50_000, 13);
        using var h = new Harness((L2, bytes));
        h.Options = h.Options with { StallTimeout = TimeSpan.FromSeconds(1), Attempts = 2 };
        h.Server.Behaviour = LoopbackFileServer.Mode.StallAlways;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        string expected = $"{L2.Url(h.Server.BaseUrl)}: no data for 1 s after 20 of {bytes.Length:N0} bytes; gave up after 2 attempts: run the same command again to resume";
        Assert.True(e.Message == expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Equal(2, h.Server.RangeHeaders.Count);
        Assert.Equal("bytes=10-", h.Server.RangeHeaders[1]);              // the second attempt resumed (and got 10 more)

        // A server that never answers at all.
        h.Server.Behaviour = LoopbackFileServer.Mode.Silent;
        e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.Contains("no data for 1 s (no answer)", e.Message);

        // A stall once: the next attempt continues and the file lands.
        h.Server.Behaviour = LoopbackFileServer.Mode.StallFirstResponse;
        File.Delete(h.Cache.File(L2.FileName + FileDownloader.PartialSuffix));
        await h.Download(L2);
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AFileChangedOnTheServerBetweenAttemptsRestartsFromZero(bool serverHonoursIfRange)
    {
        // Same size, other content: a resumed download would splice the old head onto the new tail, and the zip
        // directory (in the tail) would still open.
        byte[] old = CheckpointBytes(100_000, 14), changed = CheckpointBytes(100_000, 15);
        Assert.Equal(old.Length, changed.Length);
        using var h = new Harness((L2, old));
        h.Server.Behaviour = LoopbackFileServer.Mode.TruncateFirstResponse;
        h.Server.HonourIfRange = serverHonoursIfRange;
        h.Server.AfterTruncation = () => h.Server.Add(L2.RelativeUrl, changed);
        // As a user would: run the same command again if the first run fails.
        try { await h.Download(L2); }
        catch (DownloadException) { await h.Download(L2); }
        Assert.Equal(changed, File.ReadAllBytes(h.Cache.File(L2.FileName)));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(changed)), new CacheManifest(h.Cache.Path).Read()[L2.FileName].Sha256);
        Assert.Equal(200, h.Server.StatusCodes[^1]);                       // the whole new file, from byte 0
    }

    [Fact]
    public async Task APartialFileOfUnknownVersionIsNotContinued()
    {
        // A server without ETag or Last-Modified gives no way to know the rest belongs to the same file: start over.
        var bytes = CheckpointBytes(100_000, 16);
        using var h = new Harness((L2, bytes));
        h.Server.SendValidators = LoopbackFileServer.Validators.None;
        h.Server.Behaviour = LoopbackFileServer.Mode.TruncateFirstResponse;
        await h.Download(L2);
        Assert.Equal([null, null], h.Server.RangeHeaders);
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
    }

    [Fact]
    public async Task AServerThatIgnoresRangesMakesTheDownloadStartOver()
    {
        var bytes = CheckpointBytes(100_000, 3);
        using var h = new Harness((L2, bytes));
        File.WriteAllBytes(h.Cache.File(L2.FileName + FileDownloader.PartialSuffix), bytes.AsSpan(0, 1000).ToArray());
        File.WriteAllText(h.Cache.File(L2.FileName + FileDownloader.ValidatorSuffix), h.Server.ETag(L2.RelativeUrl));
        h.Server.Behaviour = LoopbackFileServer.Mode.IgnoreRanges;
        await h.Download(L2);
        Assert.Equal("bytes=1000-", h.Server.RangeHeaders[^1]);
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
    }

    [Fact]
    public async Task NotFoundIsReportedWithTheUrl()
    {
        using var h = new Harness();
        var e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.Contains("HTTP 404", e.Message);
        Assert.Contains(L2.Url(h.Server.BaseUrl), e.Message);
        Assert.False(File.Exists(h.Cache.File(L2.FileName)));
    }

    [Fact]
    public async Task AnHtmlPageIsNeverTakenForWeights()
    {
        using var h = new Harness((L2, CheckpointBytes(1000, 4)));
        h.Server.Behaviour = LoopbackFileServer.Mode.Html;
        var e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.Contains("HTML", e.Message);
        Assert.False(File.Exists(h.Cache.File(L2.FileName)));

        // The same page sent as application/octet-stream is caught by looking at the bytes.
        h.Server.Behaviour = LoopbackFileServer.Mode.Normal;
        h.Server.Add(L2.RelativeUrl, "<!DOCTYPE html><html><body>Error</body></html>"u8.ToArray());
        e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.Contains("HTML", e.Message);
        Assert.False(File.Exists(h.Cache.File(L2.FileName)));
    }

    [Fact]
    public async Task ATruncatedArchiveIsDetectedAndRemoved()
    {
        var bytes = CheckpointBytes(50_000, 5);
        using var h = new Harness((L2, bytes.AsSpan(0, bytes.Length - 300).ToArray()));
        var e = await Assert.ThrowsAsync<DownloadException>(() => h.Download(L2));
        Assert.Contains("truncated", e.Message);
        Assert.False(File.Exists(h.Cache.File(L2.FileName)));
        Assert.False(File.Exists(h.Cache.File(L2.FileName + FileDownloader.PartialSuffix)));
    }

    [Fact]
    public async Task ACorruptedCachedFileIsDetectedOnLoad()
    {
        var bytes = CheckpointBytes(20_000, 6);
        using var h = new Harness((L2, bytes));
        await h.Download(L2);
        var corrupted = (byte[])bytes.Clone();
        corrupted[corrupted.Length / 2] ^= 0xFF;                     // same size, one byte flipped
        File.WriteAllBytes(h.Cache.File(L2.FileName), corrupted);
        var e = Assert.Throws<InvalidDataException>(() => ModelCache.ResolveFile("cd_imagenet64_l2", h.Cache.Path));
        Assert.Contains("corrupted", e.Message);
        // Touching the file without changing it is fine: the hash still matches.
        File.WriteAllBytes(h.Cache.File(L2.FileName), bytes);
        Assert.Equal(h.Cache.File(L2.FileName), ModelCache.ResolveFile("cd_imagenet64_l2", h.Cache.Path));
    }

    [Fact]
    public async Task ConcurrentDownloadsOfDifferentFilesAllLand()
    {
        var files = new[] { (L2, CheckpointBytes(200_000, 7)), (Lpips, CheckpointBytes(150_000, 8)), (Ct, CheckpointBytes(100_000, 9)) };
        using var h = new Harness(files);
        await Task.WhenAll(files.Select(f => h.Download(f.Item1)));
        var manifest = new CacheManifest(h.Cache.Path).Read();
        foreach (var (item, bytes) in files)
        {
            Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(item.FileName)));
            Assert.Equal(bytes.Length, manifest[item.FileName].Size);
        }
    }

    [Fact]
    public async Task ReferenceBatchesMustBeNpzArchives()
    {
        var reference = DownloadCatalog.TryGet("ref_imagenet64")!;
        using var tmp = new TempDir();
        Npz.Write(tmp.File("ref.npz"), NpyArray.Create<double>("mu", new double[] { 1, 2 }, 2));
        using var h = new Harness((reference, File.ReadAllBytes(tmp.File("ref.npz"))));
        await h.Download(reference);
        Assert.Equal(2, Npz.Read(h.Cache.File(reference.FileName))["mu"].ElementCount);
    }

    [Fact]
    public void CliDownloadsListsAndExplainsFailures()
    {
        var bytes = CheckpointBytes(10_000, 10);
        using var h = new Harness((L2, bytes));
        var ok = CmProcess.Run("download", "cd_imagenet64_l2", "--base-url", h.Server.BaseUrl, "--cache-dir", h.Cache.Path);
        Assert.True(ok.ExitCode == 0, ok.All);
        Assert.Equal(bytes, File.ReadAllBytes(h.Cache.File(L2.FileName)));
        var list = CmProcess.Run("download", "--list", "--cache-dir", h.Cache.Path);
        Assert.Contains("cd_imagenet64_l2.pt", list.Stdout);
        var missing = CmProcess.Run("download", "ct_cat256", "--base-url", h.Server.BaseUrl, "--cache-dir", h.Cache.Path);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("HTTP 404", missing.All);
        var unknown = CmProcess.Run("download", "cd_imagenet64_l3", "--cache-dir", h.Cache.Path);
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("Known: all, evaluator", unknown.All);
    }
}
