// Resumable HTTP downloads into the cache: Range requests, temporary file + rename, size and content checks, SHA-256 manifest.
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using ConsistencyModels.IO.Checkpoints;

namespace ConsistencyModels.IO.Downloads;

/// <summary>Bytes so far (including a resumed part), the total when the server says it, and the current rate.</summary>
public sealed record DownloadProgress(string Name, long Received, long? Total, double BytesPerSecond);

/// <summary>A download that failed for a reason outside the program (HTTP status, lost connection, wrong content).</summary>
public sealed class DownloadException(string message, Exception? inner = null) : IOException(message, inner);

public sealed class FileDownloader(HttpClient http)
{
    public const string PartialSuffix = ".partial";

    /// <summary>
    /// Downloads <paramref name="item"/> into <paramref name="cacheDir"/>. Bytes go to <c>NAME.partial</c>; a later call
    /// continues it with an HTTP Range request (a server that ignores ranges makes it start over). Only a complete file
    /// whose size matches the server's and whose content is a readable archive of the expected kind is renamed to its
    /// final name and recorded (size, SHA-256) in the cache manifest. An existing verified file is not downloaded again
    /// unless <paramref name="force"/>.
    /// </summary>
    public async Task<CacheEntry> DownloadAsync(DownloadItem item, string cacheDir, string? baseUrl = null, bool force = false,
                                                IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(cacheDir);
        var manifest = new CacheManifest(cacheDir);
        string final = Path.Combine(cacheDir, item.FileName), partial = final + PartialSuffix, url = item.Url(baseUrl);
        if (!force && File.Exists(final) && manifest.Read().TryGetValue(item.FileName, out var existing))
        {
            manifest.Verify(item.FileName);
            return existing;
        }

        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        HttpResponseMessage response;
        try { response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken); }
        catch (HttpRequestException e) { throw new DownloadException($"{url}: {e.Message}", e); }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
            {
                // The partial file is not a prefix the server can continue (e.g. the file changed): start over.
                File.Delete(partial);
                return await DownloadAsync(item, cacheDir, baseUrl, force, progress, cancellationToken);
            }
            if (!response.IsSuccessStatusCode)
                throw new DownloadException($"{url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}" +
                    (response.StatusCode == HttpStatusCode.NotFound ? " (no such file on the server: check the name, or `BaseUrl` for a mirror)" : ""));
            if (response.Content.Headers.ContentType?.MediaType is "text/html")
                throw new DownloadException($"{url}: the server answered with an HTML page, not the file (a login or error page? check `BaseUrl`)");

            bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (append && response.Content.Headers.ContentRange?.From != have)
                throw new DownloadException($"{url}: asked to resume at byte {have}, the server sent {response.Content.Headers.ContentRange}");
            long? total = append ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength;
            long received = append ? have : 0;
            await using (var file = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
            {
                var buffer = new byte[1 << 20];
                var clock = System.Diagnostics.Stopwatch.StartNew();
                long atStart = received;
                double lastReport = -1;
                try
                {
                    int n;
                    while ((n = await body.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                        received += n;
                        double t = clock.Elapsed.TotalSeconds;
                        if (t - lastReport >= 0.1) { progress?.Report(new(item.Name, received, total, (received - atStart) / Math.Max(t, 1e-3))); lastReport = t; }
                    }
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    throw new DownloadException($"{url}: the connection broke after {received:N0}{(total is long t0 ? $" of {t0:N0}" : "")} bytes " +
                                                $"({e.Message}); run the same command again to resume", e);
                }
                progress?.Report(new(item.Name, received, total, (received - atStart) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
            }
            if (total is long expected && received != expected)
                throw new DownloadException($"{url}: got {received:N0} of {expected:N0} bytes; run the same command again to resume");
        }
        CheckContent(partial, item, url);
        File.Move(partial, final, overwrite: true);
        return manifest.Record(item.FileName, url);
    }

    /// <summary>Every catalog file is a zip (PyTorch checkpoints, TorchScript, npz): it must open as a complete archive.</summary>
    private static void CheckContent(string path, DownloadItem item, string url)
    {
        if (item.Kind is DownloadKind.Checkpoint or DownloadKind.TorchScript or DownloadKind.TorchWeights
            && CheckpointSniffer.Sniff(path, out var problem) != CheckpointKind.TorchZip)
        {
            File.Delete(path);
            throw new DownloadException($"{url} did not deliver a PyTorch file: {problem.Replace(path, "the download")}");
        }
        try
        {
            using var zip = ZipFile.OpenRead(path);
            if (zip.Entries.Count == 0) throw new InvalidDataException("the archive is empty");
        }
        catch (InvalidDataException e)
        {
            File.Delete(path);
            throw new DownloadException($"{url} did not deliver a complete {(item.Kind == DownloadKind.ReferenceBatch ? "npz" : "checkpoint")} archive " +
                                        $"({e.Message}): a truncated or wrong file; the partial data was removed", e);
        }
    }
}
