// A real HTTP server on 127.0.0.1 for download tests: serves files with Range support and misbehaves on request.
using System.Net;
using System.Net.Sockets;

namespace ConsistencyModels.Tests.IO.Downloads;

internal sealed class LoopbackFileServer : IDisposable
{
    public enum Mode { Normal, TruncateFirstResponse, Html, NotFound, IgnoreRanges }

    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, byte[]> _files = [];
    private readonly Task _loop;
    private int _truncations;

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

    public void Add(string relativePath, byte[] content) { lock (_files) _files["/" + relativePath] = content; }

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
            string? range = ctx.Request.Headers["Range"];
            lock (RangeHeaders) RangeHeaders.Add(range);
            byte[]? content;
            lock (_files) _files.TryGetValue(ctx.Request.Url!.AbsolutePath, out content);
            if (Behaviour == Mode.NotFound || content is null) { response.StatusCode = 404; response.Close(); return; }
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
                if (start >= content.Length) { response.StatusCode = 416; response.Close(); return; }
                response.StatusCode = 206;
                response.AddHeader("Content-Range", $"bytes {start}-{content.Length - 1}/{content.Length}");
            }
            response.ContentType = "application/octet-stream";
            response.ContentLength64 = content.Length - start;
            if (Behaviour == Mode.TruncateFirstResponse && Interlocked.Increment(ref _truncations) == 1)
            {
                // Promise the whole file, send half, drop the connection.
                response.OutputStream.Write(content, (int)start, (content.Length - (int)start) / 2);
                response.OutputStream.Flush();
                response.Abort();
                return;
            }
            response.OutputStream.Write(content, (int)start, content.Length - (int)start);
            response.Close();
        }
        catch (Exception) { try { response.Abort(); } catch (Exception) { } }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (Exception) { }
    }
}
