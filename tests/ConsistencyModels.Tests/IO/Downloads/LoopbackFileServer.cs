// A real HTTP server on 127.0.0.1 for download tests: serves files with Range, If-Range and validators (ETag or
// Last-Modified), and misbehaves on request (truncates, stalls, ignores ranges or If-Range).
using System.Net;
using System.Net.Sockets;

namespace ConsistencyModels.Tests.IO.Downloads;

internal sealed class LoopbackFileServer : IDisposable
{
    public enum Mode { Normal, TruncateFirstResponse, Html, NotFound, IgnoreRanges, StallFirstResponse, StallAlways, Silent }
    public enum Validators { ETag, LastModified, None }

    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, (byte[] Content, int Version)> _files = [];
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();
    private int _truncations, _stalls;

    public LoopbackFileServer()
    {
        int port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(BaseUrl + "/");
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    public string BaseUrl { get; }
    public Mode Behaviour { get; set; } = Mode.Normal;
    public List<string?> RangeHeaders { get; } = [];
    public List<string?> IfRangeHeaders { get; } = [];
    public List<int> StatusCodes { get; } = [];
    public Validators SendValidators { get; set; } = Validators.ETag;
    /// <summary>False: a broken server that answers a Range with 206 even when If-Range names another version.</summary>
    public bool HonourIfRange { get; set; } = true;
    /// <summary>Runs after the first truncated response (e.g. to replace the file, as a new release would).</summary>
    public Action? AfterTruncation { get; set; }

    /// <summary>Adds or replaces a file; a replaced file gets a new ETag and Last-Modified.</summary>
    public void Add(string relativePath, byte[] content)
    {
        lock (_files) _files["/" + relativePath] = (content, _files.TryGetValue("/" + relativePath, out var old) ? old.Version + 1 : 1);
    }

    public string ETag(string relativePath) { lock (_files) return ETagOf(_files["/" + relativePath].Content); }

    private static string ETagOf(byte[] content) => $"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content))[..16]}\"";

    private static string LastModifiedOf(int version) => new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(version).ToString("R");

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => Handle(ctx));
        }
    }

    private void Handle(HttpListenerContext ctx)
    {
        var response = ctx.Response;
        try
        {
            string? range = ctx.Request.Headers["Range"], ifRange = ctx.Request.Headers["If-Range"];
            lock (RangeHeaders) { RangeHeaders.Add(range); IfRangeHeaders.Add(ifRange); }
            byte[]? content;
            int version;
            lock (_files) (content, version) = _files.TryGetValue(ctx.Request.Url!.AbsolutePath, out var f) ? f : (null, 0);
            if (Behaviour == Mode.NotFound || content is null) { Respond(404); response.Close(); return; }
            if (Behaviour == Mode.Silent) { Hang(response); return; }
            string? validator = SendValidators switch
            {
                Validators.ETag => ETagOf(content),
                Validators.LastModified => LastModifiedOf(version),
                _ => null,
            };
            if (SendValidators == Validators.ETag) response.AddHeader("ETag", validator!);
            if (SendValidators == Validators.LastModified) response.AddHeader("Last-Modified", validator!);
            // RFC 9110 13.1.5: a Range is honoured only if If-Range (when sent) names the current version.
            if (ifRange is not null && HonourIfRange && ifRange != validator) range = null;
            if (Behaviour == Mode.Html)
            {
                var page = "<!DOCTYPE html><html><body>Sign in to continue</body></html>"u8.ToArray();
                response.ContentType = "text/html";
                response.ContentLength64 = page.Length;
                response.OutputStream.Write(page);
                response.Close();
                return;
            }
            long start = 0;
            if (range is not null && Behaviour != Mode.IgnoreRanges && range.StartsWith("bytes=") && range.EndsWith('-'))
            {
                start = long.Parse(range[6..^1]);
                if (start >= content.Length) { Respond(416); response.Close(); return; }
                Respond(206);
                response.AddHeader("Content-Range", $"bytes {start}-{content.Length - 1}/{content.Length}");
            }
            if (start == 0) Respond(200);
            response.ContentType = "application/octet-stream";
            response.ContentLength64 = content.Length - start;
            if (Behaviour == Mode.StallAlways || Behaviour == Mode.StallFirstResponse && Interlocked.Increment(ref _stalls) == 1)
            {
                // Headers and 10 bytes, then silence (a proxy or server that hangs mid-transfer).
                response.OutputStream.Write(content, (int)start, 10);
                response.OutputStream.Flush();
                Hang(response);
                return;
            }
            if (Behaviour == Mode.TruncateFirstResponse && Interlocked.Increment(ref _truncations) == 1)
            {
                // Promise the whole file, send half, drop the connection.
                response.OutputStream.Write(content, (int)start, (content.Length - (int)start) / 2);
                response.OutputStream.Flush();
                response.Abort();
                AfterTruncation?.Invoke();
                return;
            }
            response.OutputStream.Write(content, (int)start, content.Length - (int)start);
            response.Close();
        }
        catch (Exception) { try { response.Abort(); } catch (Exception) { } }

        void Respond(int status)
        {
            response.StatusCode = status;
            lock (RangeHeaders) StatusCodes.Add(status);
        }
    }

    /// <summary>Holds the connection open without sending anything more until the server is disposed (no thread held).</summary>
    private void Hang(HttpListenerResponse response) =>
        Task.Delay(Timeout.Infinite, _stop.Token).ContinueWith(_ => { try { response.Abort(); } catch (Exception) { } }, TaskScheduler.Default);

    public void Dispose()
    {
        _stop.Cancel();
        // Close alone (it stops too): after Stop, Close unregisters the prefix a second time, which binds the port again
        // and throws "Address already in use" when another test's server has taken that free port in between.
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (Exception) { }
    }
}
