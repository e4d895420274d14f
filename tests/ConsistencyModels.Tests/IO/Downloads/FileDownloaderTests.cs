// Downloads against a loopback HTTP server: complete, resumed, 404, HTML, truncated archive, corruption on reload, concurrency.
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

    private static (LoopbackFileServer server, HttpClient http, FileDownloader downloader) Serve(params (DownloadItem item, byte[] bytes)[] files)
    {
        var server = new LoopbackFileServer();
        foreach (var (item, bytes) in files) server.Add(item.RelativeUrl, bytes);
        var http = new HttpClient();
        return (server, http, new FileDownloader(http));
    }

    [Fact]
    public async Task FullDownloadIsRecordedWithItsSha256AndResolvesByName()
    {
        var bytes = CheckpointBytes(300_000, 1);
        var (server, http, downloader) = Serve((L2, bytes));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        var reports = new List<DownloadProgress>();
        var entry = await downloader.DownloadAsync(L2, cache.Path, server.BaseUrl, progress: new ImmediateProgress<DownloadProgress>(reports.Add));
        Assert.Equal(bytes, File.ReadAllBytes(cache.File(L2.FileName)));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), entry.Sha256);
        Assert.Equal(bytes.Length, entry.Size);
        Assert.Equal(bytes.Length, reports[^1].Received);
        Assert.Equal(bytes.Length, reports[^1].Total);
        Assert.False(File.Exists(cache.File(L2.FileName + FileDownloader.PartialSuffix)));
        Assert.Equal(cache.File(L2.FileName), ModelCache.ResolveFile("cd_imagenet64_l2", cache.Path));
        Assert.Equal(cache.File(L2.FileName), ModelCache.ResolveFile("cd_imagenet64_l2.pt", cache.Path));
        // A second call finds the verified copy and does not ask the server again.
        int requests = server.RangeHeaders.Count;
        await downloader.DownloadAsync(L2, cache.Path, server.BaseUrl);
        Assert.Equal(requests, server.RangeHeaders.Count);
    }

    [Fact]
    public async Task InterruptedDownloadResumesWithARangeRequest()
    {
        var bytes = CheckpointBytes(500_000, 2);
        var (server, http, downloader) = Serve((L2, bytes));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        server.Behaviour = LoopbackFileServer.Mode.TruncateFirstResponse;
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.DownloadAsync(L2, cache.Path, server.BaseUrl));
        Assert.Contains("run the same command again to resume", e.Message);
        long partial = new FileInfo(cache.File(L2.FileName + FileDownloader.PartialSuffix)).Length;
        Assert.InRange(partial, 1, bytes.Length - 1);
        Assert.False(File.Exists(cache.File(L2.FileName)));

        await downloader.DownloadAsync(L2, cache.Path, server.BaseUrl);
        Assert.Equal($"bytes={partial}-", server.RangeHeaders[^1]);
        Assert.Equal(bytes, File.ReadAllBytes(cache.File(L2.FileName)));
    }

    [Fact]
    public async Task AServerThatIgnoresRangesMakesTheDownloadStartOver()
    {
        var bytes = CheckpointBytes(100_000, 3);
        var (server, http, downloader) = Serve((L2, bytes));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        File.WriteAllBytes(cache.File(L2.FileName + FileDownloader.PartialSuffix), bytes.AsSpan(0, 1000).ToArray());
        server.Behaviour = LoopbackFileServer.Mode.IgnoreRanges;
        await downloader.DownloadAsync(L2, cache.Path, server.BaseUrl);
        Assert.Equal(bytes, File.ReadAllBytes(cache.File(L2.FileName)));
    }

    [Fact]
    public async Task NotFoundIsReportedWithTheUrl()
    {
        var (server, http, downloader) = Serve();
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.DownloadAsync(L2, cache.Path, server.BaseUrl));
        Assert.Contains("HTTP 404", e.Message);
        Assert.Contains(L2.Url(server.BaseUrl), e.Message);
        Assert.False(File.Exists(cache.File(L2.FileName)));
    }

    [Fact]
    public async Task AnHtmlPageIsNeverTakenForWeights()
    {
        var (server, http, downloader) = Serve((L2, CheckpointBytes(1000, 4)));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        server.Behaviour = LoopbackFileServer.Mode.Html;
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.DownloadAsync(L2, cache.Path, server.BaseUrl));
        Assert.Contains("HTML", e.Message);
        Assert.False(File.Exists(cache.File(L2.FileName)));

        // The same page sent as application/octet-stream is caught by looking at the bytes.
        server.Behaviour = LoopbackFileServer.Mode.Normal;
        server.Add(L2.RelativeUrl, "<!DOCTYPE html><html><body>Error</body></html>"u8.ToArray());
        e = await Assert.ThrowsAsync<DownloadException>(() => downloader.DownloadAsync(L2, cache.Path, server.BaseUrl));
        Assert.Contains("HTML", e.Message);
        Assert.False(File.Exists(cache.File(L2.FileName)));
    }

    [Fact]
    public async Task ATruncatedArchiveIsDetectedAndRemoved()
    {
        var bytes = CheckpointBytes(50_000, 5);
        var (server, http, downloader) = Serve((L2, bytes.AsSpan(0, bytes.Length - 300).ToArray()));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        var e = await Assert.ThrowsAsync<DownloadException>(() => downloader.DownloadAsync(L2, cache.Path, server.BaseUrl));
        Assert.Contains("truncated", e.Message);
        Assert.False(File.Exists(cache.File(L2.FileName)));
        Assert.False(File.Exists(cache.File(L2.FileName + FileDownloader.PartialSuffix)));
    }

    [Fact]
    public async Task ACorruptedCachedFileIsDetectedOnLoad()
    {
        var bytes = CheckpointBytes(20_000, 6);
        var (server, http, downloader) = Serve((L2, bytes));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        await downloader.DownloadAsync(L2, cache.Path, server.BaseUrl);
        var corrupted = (byte[])bytes.Clone();
        corrupted[corrupted.Length / 2] ^= 0xFF;                     // same size, one byte flipped
        File.WriteAllBytes(cache.File(L2.FileName), corrupted);
        var e = Assert.Throws<InvalidDataException>(() => ModelCache.ResolveFile("cd_imagenet64_l2", cache.Path));
        Assert.Contains("corrupted", e.Message);
        // Touching the file without changing it is fine: the hash still matches.
        File.WriteAllBytes(cache.File(L2.FileName), bytes);
        Assert.Equal(cache.File(L2.FileName), ModelCache.ResolveFile("cd_imagenet64_l2", cache.Path));
    }

    [Fact]
    public async Task ConcurrentDownloadsOfDifferentFilesAllLand()
    {
        var files = new[] { (L2, CheckpointBytes(200_000, 7)), (Lpips, CheckpointBytes(150_000, 8)), (Ct, CheckpointBytes(100_000, 9)) };
        var (server, http, downloader) = Serve(files);
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        await Task.WhenAll(files.Select(f => downloader.DownloadAsync(f.Item1, cache.Path, server.BaseUrl)));
        var manifest = new CacheManifest(cache.Path).Read();
        foreach (var (item, bytes) in files)
        {
            Assert.Equal(bytes, File.ReadAllBytes(cache.File(item.FileName)));
            Assert.Equal(bytes.Length, manifest[item.FileName].Size);
        }
    }

    [Fact]
    public async Task ReferenceBatchesMustBeNpzArchives()
    {
        var reference = DownloadCatalog.TryGet("ref_imagenet64")!;
        using var tmp = new TempDir();
        Npz.Write(tmp.File("ref.npz"), NpyArray.Create<double>("mu", new double[] { 1, 2 }, 2));
        var (server, http, downloader) = Serve((reference, File.ReadAllBytes(tmp.File("ref.npz"))));
        using var _ = server; using var __ = http;
        using var cache = new TempDir();
        await downloader.DownloadAsync(reference, cache.Path, server.BaseUrl);
        Assert.Equal(2, Npz.Read(cache.File(reference.FileName))["mu"].ElementCount);
    }

    [Fact]
    public void CliDownloadsListsAndExplainsFailures()
    {
        var bytes = CheckpointBytes(10_000, 10);
        var (server, http, _) = Serve((L2, bytes));
        using var __ = server; using var ___ = http;
        using var cache = new TempDir();
        var ok = CmProcess.Run("download", "cd_imagenet64_l2", "--base-url", server.BaseUrl, "--cache-dir", cache.Path);
        Assert.True(ok.ExitCode == 0, ok.All);
        Assert.Equal(bytes, File.ReadAllBytes(cache.File(L2.FileName)));
        var list = CmProcess.Run("download", "--list", "--cache-dir", cache.Path);
        Assert.Contains("cd_imagenet64_l2.pt", list.Stdout);
        var missing = CmProcess.Run("download", "ct_cat256", "--base-url", server.BaseUrl, "--cache-dir", cache.Path);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("HTTP 404", missing.All);
        var unknown = CmProcess.Run("download", "cd_imagenet64_l3", "--cache-dir", cache.Path);
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("Known: all, evaluator", unknown.All);
    }
}
