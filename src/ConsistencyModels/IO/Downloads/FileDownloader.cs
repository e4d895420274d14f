// Resumable HTTP downloads into the cache: Range + If-Range requests, stall detection and retries, temporary file +
// rename, size and content checks, SHA-256 manifest.
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using ConsistencyModels.IO.Checkpoints;

namespace ConsistencyModels.IO.Downloads;

/// <summary>Bytes so far (including a resumed part), the total when the server says it, and the current rate.</summary>
public sealed record DownloadProgress(string Name, long Received, long? Total, double BytesPerSecond);

/// <summary>A download that failed for a reason outside the program (HTTP status, lost connection, wrong content).</summary>
public sealed class DownloadException(string message, Exception? inner = null) : IOException(message, inner)
{
    /// <summary>A stall, a broken connection or a server error: another attempt may succeed (and resumes).</summary>
    public bool Transient { get; init; }
}

/// <summary>How long a download waits for data, and how often it tries again.</summary>
public sealed record DownloadOptions
{
    /// <summary>No byte for this long (waiting for the answer or for the body): the attempt has stalled and is dropped.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Attempts per file; after a stall, a broken connection or a 5xx the next one resumes where the last stopped.</summary>
    public int Attempts { get; init; } = 4;
    /// <summary>Wait before attempt k+1: k times this.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);
}

public sealed class FileDownloader(HttpClient http, DownloadOptions? options = null)
{
    public const string PartialSuffix = ".partial";
    /// <summary>Beside the partial file: the ETag or Last-Modified of the response it came from (the If-Range value).</summary>
    public const string ValidatorSuffix = PartialSuffix + ".validator";

    private readonly DownloadOptions _options = options ?? new DownloadOptions();

    /// <summary>
    /// Downloads <paramref name="item"/> into <paramref name="cacheDir"/>. Bytes go to <c>NAME.partial</c>; a later
    /// attempt (a retry after a stall or broken connection, or a later call) continues it with a Range request whose
    /// If-Range names the version it came from, so a file that changed on the server restarts from zero instead of being
    /// spliced (a partial file without a recorded ETag or Last-Modified is not trusted). Only a complete file whose size
    /// matches the server's full length and whose content is a readable archive of the expected kind is renamed to its
    /// final name and recorded (size, SHA-256) in the cache manifest. An existing verified file is not downloaded again
    /// unless <paramref name="force"/>.
    /// </summary>
    public async Task<CacheEntry> DownloadAsync(DownloadItem item, string cacheDir, string? baseUrl = null, bool force = false,
                                                IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(cacheDir);
        var manifest = new CacheManifest(cacheDir);
        string final = Path.Combine(cacheDir, item.FileName), partial = final + PartialSuffix, validator = final + ValidatorSuffix, url = item.Url(baseUrl);
        if (!force && File.Exists(final) && manifest.Read().TryGetValue(item.FileName, out var existing))
        {
            manifest.Verify(item.FileName);
            return existing;
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await AttemptAsync(item, partial, validator, url, progress, cancellationToken);
                break;
            }
            catch (DownloadException e) when (e.Transient)
            {
                if (attempt >= _options.Attempts)
                    throw new DownloadException($"{e.Message}; gave up after {attempt} attempt{(attempt == 1 ? "" : "s")}: run the same command again to resume", e);
                await Task.Delay(_options.RetryDelay * attempt, cancellationToken);
            }
        }
        CheckContent(partial, validator, item, url);
        File.Move(partial, final, overwrite: true);
        File.Delete(validator);
        return manifest.Record(item.FileName, url);
    }

    /// <summary>
    /// One request: continues <paramref name="partial"/> when the version it came from is recorded in
    /// <paramref name="validatorFile"/>, else starts over. A partial file the server cannot continue is dropped and the
    /// file requested again from zero.
    /// </summary>
    private async Task AttemptAsync(DownloadItem item, string partial, string validatorFile, string url, IProgress<DownloadProgress>? progress,
                                    CancellationToken cancellationToken)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        string? validator = have > 0 && File.Exists(validatorFile) ? File.ReadAllText(validatorFile).Trim() : null;
        if (string.IsNullOrEmpty(validator)) have = 0;                    // cannot prove the server still has that version
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0)
        {
            request.Headers.Range = new RangeHeaderValue(have, null);
            request.Headers.TryAddWithoutValidation("If-Range", validator);
        }

        // One timer for the whole attempt, pushed back whenever bytes arrive: a silent server ends it, a slow one does not.
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(_options.StallTimeout);
        long received = 0;
        long? total = null;
        bool Stalled() => stall.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
        DownloadException StallError(Exception inner) => new(
            $"{url}: no data for {_options.StallTimeout.TotalSeconds:0.###} s " +
            (received == 0 ? "(no answer)" : $"after {received:N0}{(total is long t ? $" of {t:N0}" : "")} bytes"), inner) { Transient = true };

        HttpResponseMessage response;
        try { response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token); }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException && Stalled()) { throw StallError(e); }
        catch (HttpRequestException e) { throw new DownloadException($"{url}: {e.Message}", e) { Transient = true }; }
        using (response)
        {
            if (!response.IsSuccessStatusCode && !(have > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable))
                throw new DownloadException($"{url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}" +
                    (response.StatusCode == HttpStatusCode.NotFound ? " (no such file on the server: check the name, or `BaseUrl` for a mirror)" : ""))
                    { Transient = (int)response.StatusCode >= 500 || response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests };
            if (response.Content.Headers.ContentType?.MediaType is "text/html")
                throw new DownloadException($"{url}: the server answered with an HTML page, not the file (a login or error page? check `BaseUrl`)");

            string? version = Validator(response);
            var range = response.Content.Headers.ContentRange;
            bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (append && range?.From != have)
                throw new DownloadException($"{url}: asked to resume at byte {have}, the server sent {range}");
            // 416: the partial file is no prefix the server can continue (the file shrank). A 206 of another version (a
            // server that ignored If-Range) or without the full length cannot be completed safely either.
            if (have > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable
                || append && (version is not null && version != validator || range!.Length is null))
            {
                Discard(partial, validatorFile);
                response.Dispose();
                await AttemptAsync(item, partial, validatorFile, url, progress, cancellationToken);   // have = 0: no second restart
                return;
            }
            // A fresh file: record its version before its first byte, so that any later attempt can ask for the same one.
            if (!append)
            {
                if (version is null) File.Delete(validatorFile);
                else File.WriteAllText(validatorFile, version);
            }
            total = append ? range!.Length : response.Content.Headers.ContentLength;
            received = append ? have : 0;
            await using (var file = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var buffer = new byte[1 << 20];
                var clock = System.Diagnostics.Stopwatch.StartNew();
                long atStart = received;
                double lastReport = -1;
                try
                {
                    await using var body = await response.Content.ReadAsStreamAsync(stall.Token);
                    int n;
                    while ((n = await body.ReadAsync(buffer, stall.Token)) > 0)
                    {
                        stall.CancelAfter(_options.StallTimeout);
                        await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                        received += n;
                        double t = clock.Elapsed.TotalSeconds;
                        if (t - lastReport >= 0.1) { progress?.Report(new(item.Name, received, total, (received - atStart) / Math.Max(t, 1e-3))); lastReport = t; }
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException && Stalled()) { throw StallError(e); }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    throw new DownloadException($"{url}: the connection broke after {received:N0}{(total is long t0 ? $" of {t0:N0}" : "")} bytes ({e.Message})", e) { Transient = true };
                }
                progress?.Report(new(item.Name, received, total, (received - atStart) / Math.Max(clock.Elapsed.TotalSeconds, 1e-3)));
            }
            // The file on disk, not the byte count, against the server's full length (Content-Range total or Content-Length).
            long onDisk = new FileInfo(partial).Length;
            if (total is long expected && onDisk != expected)
            {
                if (onDisk > expected) Discard(partial, validatorFile);
                throw new DownloadException($"{url}: got {onDisk:N0} of {expected:N0} bytes") { Transient = true };
            }
        }
    }

    /// <summary>The response's strong ETag, else its Last-Modified date: what If-Range may name (weak ETags may not).</summary>
    private static string? Validator(HttpResponseMessage response) =>
        response.Headers.ETag is { IsWeak: false } etag ? etag.ToString()
        : response.Content.Headers.LastModified is { } modified ? modified.ToString("R") : null;

    /// <summary>Every catalog file is a zip (PyTorch checkpoints, TorchScript, npz): it must open as a complete archive.</summary>
    private static void CheckContent(string path, string validatorFile, DownloadItem item, string url)
    {
        if (item.Kind is DownloadKind.Checkpoint or DownloadKind.TorchScript or DownloadKind.TorchWeights
            && CheckpointSniffer.Sniff(path, out var problem) != CheckpointKind.TorchZip)
        {
            Discard(path, validatorFile);
            throw new DownloadException($"{url} did not deliver a PyTorch file: {problem.Replace(path, "the download")}");
        }
        try
        {
            using var zip = ZipFile.OpenRead(path);
            if (zip.Entries.Count == 0) throw new InvalidDataException("the archive is empty");
        }
        catch (InvalidDataException e)
        {
            Discard(path, validatorFile);
            throw new DownloadException($"{url} did not deliver a complete {(item.Kind == DownloadKind.ReferenceBatch ? "npz" : "checkpoint")} archive " +
                                        $"({e.Message}): a truncated or wrong file; the partial data was removed", e);
        }
    }

    private static void Discard(string partial, string validatorFile)
    {
        File.Delete(partial);
        File.Delete(validatorFile);
    }
}
