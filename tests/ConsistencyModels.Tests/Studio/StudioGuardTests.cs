// Issue 19: the studio obeys only its own page (Host and Origin checks), caps what a job may ask for, cancels jobs,
// answers oversized uploads with 413, and leaves no temporary folder behind.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Xunit;

namespace ConsistencyModels.Tests.Studio;

public sealed class GuardedStudioFixture() : StudioProcess(["--queue", "4"]);

public partial class StudioGuardTests(GuardedStudioFixture studio) : IClassFixture<GuardedStudioFixture>
{
    private HttpClient Http => studio.Http;
    private string Self => $"http://127.0.0.1:{studio.Port}";

    private static async Task<string> ErrorOf(HttpResponseMessage r) => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    private static MultipartFormDataContent InterpolateForm() => new()
    {
        { new StringContent("interpolate"), "task" },
        { new StringContent("3"), "classLabel" },
    };

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, HttpContent? content, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        foreach (var (name, value) in headers)
            if (name == "Host") request.Headers.Host = value;
            else request.Headers.TryAddWithoutValidation(name, value);
        return Http.SendAsync(request);
    }

    private async Task<JsonElement> WaitFor(string id, Func<string, bool> until)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            var job = await Http.GetFromJsonAsync<JsonElement>($"/api/jobs/{id}");
            if (until(job.GetProperty("status").GetString()!)) return job;
            await Task.Delay(50);
        }
        throw new TimeoutException($"job {id} did not get there");
    }

    private static async Task<string> IdOf(HttpResponseMessage accepted)
    {
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        return (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task CrossSiteRequestsCannotStartOrCancelJobs()
    {
        // What a form on http://evil.example submits to the studio: multipart and urlencoded.
        var multipart = await Send(HttpMethod.Post, "/api/edit", InterpolateForm(), ("Origin", "http://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, multipart.StatusCode);
        Assert.Contains("cross-origin", await ErrorOf(multipart));
        var urlencoded = new FormUrlEncodedContent(new Dictionary<string, string> { ["task"] = "interpolate", ["classLabel"] = "3" });
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/api/edit", urlencoded, ("Origin", "http://evil.example"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/api/edit", InterpolateForm(), ("Origin", "null"))).StatusCode);
        // Another port of this machine is another origin; a browser that sends only Sec-Fetch-Site is judged by it.
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/api/edit", InterpolateForm(), ("Origin", "http://127.0.0.1:1"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/api/edit", InterpolateForm(), ("Sec-Fetch-Site", "cross-site"))).StatusCode);
        var json = JsonContent.Create(new { count = 1 });
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/api/generate", json, ("Origin", "http://evil.example"))).StatusCode);

        // The page itself (same origin) and programs without browser headers (curl) are served.
        var own = await Send(HttpMethod.Post, "/api/edit", InterpolateForm(), ("Origin", Self), ("Sec-Fetch-Site", "same-origin"));
        string id = await IdOf(own);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Delete, $"/api/jobs/{id}", null, ("Origin", "http://evil.example"))).StatusCode);
        Assert.Equal("done", (await WaitFor(id, s => s is "done" or "failed" or "cancelled")).GetProperty("status").GetString());
        await IdOf(await Http.PostAsync("/api/edit", InterpolateForm()));
    }

    [Fact]
    public async Task UnknownHostHeadersAreRefused()
    {
        // DNS rebinding: evil.example re-pointed at 127.0.0.1 reaches the port with its own name in Host.
        var rebound = await Send(HttpMethod.Get, "/api/models", null, ("Host", $"evil.example:{studio.Port}"));
        Assert.Equal(HttpStatusCode.BadRequest, rebound.StatusCode);
        Assert.Contains("unknown Host", await ErrorOf(rebound));
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/", null, ("Host", "evil.example"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/api/models", null, ("Host", $"127.0.0.1:{studio.Port + 1}"))).StatusCode);
        foreach (var known in new[] { $"localhost:{studio.Port}", $"127.0.0.1:{studio.Port}", $"[::1]:{studio.Port}" })
            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/api/models", null, ("Host", known))).StatusCode);
    }

    [Fact]
    public async Task StepsCountAndSigmasAreCappedNamingTheField()
    {
        var steps = await Http.PostAsJsonAsync("/api/generate", new { sampler = "heun", steps = 1_000_000 });
        Assert.Equal(HttpStatusCode.BadRequest, steps.StatusCode);
        Assert.StartsWith("steps must be 1-1000 (got 1000000)", await ErrorOf(steps));
        var count = await Http.PostAsJsonAsync("/api/generate", new { count = 65 });
        Assert.Equal(HttpStatusCode.BadRequest, count.StatusCode);
        Assert.StartsWith("count must be 1-64", await ErrorOf(count));
        var sigmas = await Http.PostAsJsonAsync("/api/generate", new { sigmas = Enumerable.Range(0, 5000).Select(i => 80.0 - i * 0.0159).ToArray() });
        Assert.Equal(HttpStatusCode.BadRequest, sigmas.StatusCode);
        Assert.StartsWith("sigmas has 5000 levels", await ErrorOf(sigmas));
    }

    [Fact]
    public async Task DeleteCancelsRunningAndQueuedJobs()
    {
        // About 2000 evaluations of 64 images: minutes on a CPU, unless cancelled.
        string running = await IdOf(await Http.PostAsJsonAsync("/api/generate", new { sampler = "heun", steps = 1000, count = 64 }));
        await WaitFor(running, s => s != "queued");
        string queued = await IdOf(await Http.PostAsJsonAsync("/api/generate", new { count = 1 }));

        var q = await Http.DeleteAsync($"/api/jobs/{queued}");
        Assert.Equal(HttpStatusCode.OK, q.StatusCode);
        Assert.Equal("cancelled", (await q.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, (await Http.DeleteAsync($"/api/jobs/{running}")).StatusCode);
        var stopped = await WaitFor(running, s => s is not ("running" or "cancelling"));
        Assert.Equal("cancelled", stopped.GetProperty("status").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.True(stopped.GetProperty("done").GetInt32() < stopped.GetProperty("total").GetInt32());
        Assert.Equal(JsonValueKind.Null, stopped.GetProperty("grid").ValueKind);

        var again = await Http.DeleteAsync($"/api/jobs/{running}");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("already ended (cancelled)", await ErrorOf(again));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.DeleteAsync("/api/jobs/nosuchjob")).StatusCode);
        // The worker is free again.
        string next = await IdOf(await Http.PostAsJsonAsync("/api/generate", new { count = 1 }));
        Assert.Equal("done", (await WaitFor(next, s => s is "done" or "failed")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task AnUploadOverTheLimitIs413()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("superres"), "task" },
            { new StringContent("1"), "classLabel" },
            { new ByteArrayContent(new byte[(10 << 20) + (300 << 10)]), "image", "big.png" },
        };
        var r = await Http.PostAsync("/api/edit", form);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        Assert.Contains("over the limit of 10 MB", await ErrorOf(r));
    }

    [Fact]
    public async Task AFinishedInterpolationCountsEveryFrame()
    {
        string id = await IdOf(await Http.PostAsync("/api/edit", InterpolateForm()));
        var job = await WaitFor(id, s => s is "done" or "failed");
        Assert.Equal("done", job.GetProperty("status").GetString());
        Assert.Equal(8, job.GetProperty("total").GetInt32());
        Assert.Equal(8, job.GetProperty("done").GetInt32());
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Fact]
    public async Task NoTemporaryFolderOutlivesTheStudio()
    {
        using var tmp = new TempDir();
        // A studio killed with SIGKILL left this behind: its process is gone. A live process's folder is not touched.
        using var gone = Process.Start(new ProcessStartInfo("true"))!;
        gone.WaitForExit();
        string orphan = Path.Combine(tmp.Path, $"cm-studio-{gone.Id}"), live = Path.Combine(tmp.Path, $"cm-studio-{Environment.ProcessId}");
        Directory.CreateDirectory(Path.Combine(orphan, "abc"));
        File.WriteAllBytes(Path.Combine(orphan, "abc", "grid.png"), [1, 2, 3]);
        Directory.CreateDirectory(live);

        using var server = new StudioProcess([], new Dictionary<string, string> { ["TMPDIR"] = tmp.Path + "/" });
        Assert.False(Directory.Exists(orphan), "the orphan folder is still there");
        Assert.True(Directory.Exists(live));
        string own = Path.Combine(tmp.Path, $"cm-studio-{server.Server.Id}");
        Assert.True(Directory.Exists(own));

        // SIGTERM (what systemd, docker stop and kill send) while a long job runs and another waits.
        string id = await IdOf(await server.Http.PostAsJsonAsync("/api/generate", new { sampler = "heun", steps = 1000, count = 64 }));
        await IdOf(await server.Http.PostAsJsonAsync("/api/generate", new { count = 1 }));
        var clock = Stopwatch.StartNew();
        while ((await server.Http.GetFromJsonAsync<JsonElement>($"/api/jobs/{id}")).GetProperty("status").GetString() == "queued")
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1));
            await Task.Delay(50);
        }
        Assert.Equal(0, Kill(server.Server.Id, 15));
        Assert.True(server.Server.WaitForExit(TimeSpan.FromSeconds(60)), "cm serve did not stop on SIGTERM");
        Assert.False(Directory.Exists(own), $"left behind: {string.Join(", ", Directory.EnumerateFileSystemEntries(tmp.Path, "*", SearchOption.AllDirectories))}");
    }
}
