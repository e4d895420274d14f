// `cm serve` as a real process on loopback: the JSON API lists, generates and edits; bad input gets 4xx with a message
// and the server keeps running.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using ConsistencyModels.IO.Images;
using Xunit;

namespace ConsistencyModels.Tests.Studio;

/// <summary>A real `cm serve` on a free loopback port, with extra arguments and environment; killed on dispose.</summary>
public class StudioProcess : IDisposable
{
    public Process Server { get; }
    public HttpClient Http { get; }
    public int Port { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }
    private readonly System.Text.StringBuilder _output = new();

    public StudioProcess(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        Port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "cm.dll"), "serve", "--port", Port.ToString() }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["CM_CACHE_DIR"] = Cli.CmProcess.EmptyCache;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        Server = Process.Start(psi)!;
        Server.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        Server.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        Server.BeginOutputReadLine();
        Server.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromMinutes(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            try { if (Http.GetAsync("/api/models").Result.IsSuccessStatusCode) return; }
            catch (AggregateException) { }
            if (Server.HasExited) break;
            Thread.Sleep(250);
        }
        throw new InvalidOperationException("cm serve did not come up: " + Output);
    }

    public void Dispose()
    {
        Http.Dispose();
        if (!Server.HasExited) Server.Kill(true);
        Server.Dispose();
        GC.SuppressFinalize(this);
    }
}

public sealed class StudioServerFixture() : StudioProcess(["--queue", "4"]);

public class StudioApiTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private HttpClient Http => studio.Http;

    private async Task<JsonElement> Finish(HttpResponseMessage accepted)
    {
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var job = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        string id = job.GetProperty("id").GetString()!;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            job = await Http.GetFromJsonAsync<JsonElement>($"/api/jobs/{id}");
            var status = job.GetProperty("status").GetString();
            if (status is "done" or "failed") return job;
            await Task.Delay(100);
        }
        throw new TimeoutException("job did not finish");
    }

    private static async Task<string> ErrorOf(HttpResponseMessage r) => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    [Fact]
    public async Task ModelsListTheBuiltInModelWithClassNames()
    {
        var models = await Http.GetFromJsonAsync<JsonElement>("/api/models");
        var builtIn = models.EnumerateArray().Single(m => m.GetProperty("name").GetString() == "cd_fmnist32");
        Assert.Equal("Sandal", builtIn.GetProperty("classNames")[5].GetString());
        Assert.Equal(32, builtIn.GetProperty("imageSize").GetInt32());
    }

    [Fact]
    public async Task GenerateGivesAGridAndOnePngPerSample()
    {
        var job = await Finish(await Http.PostAsJsonAsync("/api/generate", new { count = 6, seed = 3, classLabels = new[] { 7 } }));
        Assert.Equal("done", job.GetProperty("status").GetString());
        Assert.Equal(6, job.GetProperty("images").GetArrayLength());
        var grid = await Http.GetByteArrayAsync(job.GetProperty("grid").GetString());
        Assert.Equal((byte)0x89, grid[0]);                                   // PNG signature
        // The images are those the library makes for the same request (onestep, determ noise, seed 3, class 7).
        using var pipeline = ConsistencyModels.Pipelines.ConsistencyPipeline.LoadBuiltIn();
        var expected = pipeline.Generate(new ConsistencyModels.Pipelines.GenerationRequest
        {
            NumSamples = 6, BatchSize = 6, Seed = 3, Generator = ConsistencyModels.Sampling.GeneratorKind.Determ, ClassLabels = [7],
            Sampling = new ConsistencyModels.Sampling.SamplingOptions { Sampler = ConsistencyModels.Sampling.SamplerKind.Onestep, Steps = 40 },
        });
        using var dir = new TempDir();
        for (int i = 0; i < 6; i++)
        {
            File.WriteAllBytes(dir.File($"{i}.png"), await Http.GetByteArrayAsync(job.GetProperty("images")[i].GetString()));
            var (pixels, h, w) = ImageIO.LoadGray(dir.File($"{i}.png"));
            Assert.Equal((32, 32), (h, w));
            Assert.Equal(expected.Images.AsSpan(i * 1024, 1024).ToArray(), pixels);
        }
    }

    [Fact]
    public async Task TwoStepGenerationUsesTheModelsTs()
    {
        var job = await Finish(await Http.PostAsJsonAsync("/api/generate", new { count = 2, sampler = "multistep" }));
        Assert.Equal("done", job.GetProperty("status").GetString());
        Assert.Equal(2, job.GetProperty("total").GetInt32());                // two network evaluations
    }

    [Fact]
    public async Task InpaintWithAnUploadedImageAndMask()
    {
        using var dir = new TempDir();
        var image = new byte[32 * 32];
        for (int i = 0; i < image.Length; i++) image[i] = (byte)(i % 32 * 8);
        ImageIO.SavePng(dir.File("in.png"), image, 32, 32, 1);
        var mask = new byte[32 * 32];
        for (int y = 8; y < 24; y++) for (int x = 8; x < 24; x++) mask[y * 32 + x] = 255;
        ImageIO.SavePng(dir.File("mask.png"), mask, 32, 32, 1);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("inpaint"), "task" },
            { new StringContent("5"), "seed" },
            { new StringContent("3"), "classLabel" },
            { new ByteArrayContent(File.ReadAllBytes(dir.File("in.png"))), "image", "in.png" },
            { new ByteArrayContent(File.ReadAllBytes(dir.File("mask.png"))), "mask", "mask.png" },
        };
        var job = await Finish(await Http.PostAsync("/api/edit", form));
        Assert.True(job.GetProperty("status").GetString() == "done", job.ToString());
        Assert.Equal(3, job.GetProperty("images").GetArrayLength());           // reference, input, result
        Assert.Equal("reference | input | result", job.GetProperty("note").GetString());
    }

    [Fact]
    public async Task BadRequestsGetMessagesAndTheServerKeepsRunning()
    {
        var unknown = await Http.PostAsJsonAsync("/api/generate", new { model = "nope" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("unknown model 'nope'", await ErrorOf(unknown));

        var tooMany = await Http.PostAsJsonAsync("/api/generate", new { count = 1000 });
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("count must be", await ErrorOf(tooMany));

        var badLabel = await Http.PostAsJsonAsync("/api/generate", new { classLabels = new[] { 12 } });
        Assert.Equal(HttpStatusCode.BadRequest, badLabel.StatusCode);
        Assert.Contains("outside [0, 9]", await ErrorOf(badLabel));

        var badJson = await Http.PostAsync("/api/generate", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Contains("JSON", await ErrorOf(badJson));

        using var notImage = new MultipartFormDataContent
        {
            { new StringContent("superres"), "task" },
            { new StringContent("1"), "classLabel" },
            { new ByteArrayContent("hello"u8.ToArray()), "image", "x.png" },
        };
        var bad = await Http.PostAsync("/api/edit", notImage);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var badMessage = await ErrorOf(bad);
        Assert.Contains("'x.png'", badMessage);
        Assert.DoesNotContain("/tmp", badMessage);

        // A tiny file that declares a huge image is refused from its header.
        using (var hugeDir = new TempDir())
        {
            var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(5000, 8, SkiaSharp.SKColorType.Gray8));
            using (var fs = File.Create(hugeDir.File("wide.png"))) bitmap.Encode(fs, SkiaSharp.SKEncodedImageFormat.Png, 100);
            using var huge = new MultipartFormDataContent
            {
                { new StringContent("superres"), "task" },
                { new StringContent("1"), "classLabel" },
                { new ByteArrayContent(File.ReadAllBytes(hugeDir.File("wide.png"))), "image", "wide.png" },
            };
            var tooBig = await Http.PostAsync("/api/edit", huge);
            Assert.Equal(HttpStatusCode.BadRequest, tooBig.StatusCode);
            Assert.Contains("5000x8", await ErrorOf(tooBig));
        }

        using var noLabel = new MultipartFormDataContent { { new StringContent("interpolate"), "task" } };
        var unlabelled = await Http.PostAsync("/api/edit", noLabel);
        Assert.Equal(HttpStatusCode.BadRequest, unlabelled.StatusCode);
        Assert.Contains("class-conditional", await ErrorOf(unlabelled));

        using var colorize = new MultipartFormDataContent { { new StringContent("colorize"), "task" } };
        var grey = await Http.PostAsync("/api/edit", colorize);
        Assert.Equal(HttpStatusCode.BadRequest, grey.StatusCode);

        using var dir = new TempDir();
        ImageIO.SavePng(dir.File("img.png"), new byte[32 * 32], 32, 32, 1);
        ImageIO.SavePng(dir.File("mask.png"), new byte[16 * 16], 16, 16, 1);
        using var wrongMask = new MultipartFormDataContent
        {
            { new StringContent("inpaint"), "task" },
            { new StringContent("0"), "classLabel" },
            { new ByteArrayContent(File.ReadAllBytes(dir.File("img.png"))), "image", "img.png" },
            { new ByteArrayContent(File.ReadAllBytes(dir.File("mask.png"))), "mask", "mask.png" },
        };
        var mask = await Http.PostAsync("/api/edit", wrongMask);
        Assert.Equal(HttpStatusCode.BadRequest, mask.StatusCode);
        Assert.Contains("16x16", await ErrorOf(mask));

        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/api/jobs/doesnotexist")).StatusCode);
        // Still serving.
        Assert.True((await Http.GetAsync("/api/models")).IsSuccessStatusCode);
        Assert.False(studio.Server.HasExited);
        Assert.DoesNotContain("   at ", studio.Output);                    // no stack traces
    }

    [Fact]
    public async Task ThePageIsServedWithItsScriptAndNoExternalResources()
    {
        var html = await Http.GetStringAsync("/");
        Assert.Contains("<script src=\"/studio.js\">", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
        Assert.DoesNotContain("https://", html);
        var js = await Http.GetStringAsync("/studio.js");
        Assert.Contains("/api/generate", js);
    }
}

public class ImageNetClassNamesTests
{
    [Fact]
    public void AllThousandNamesInLabelOrder()
    {
        var names = ConsistencyModels.Presets.ImageNetClasses.Names;
        Assert.Equal(1000, names.Count);
        Assert.StartsWith("tench", names[0]);
        Assert.Equal("golden retriever", names[207]);
        Assert.StartsWith("toilet tissue", names[999]);
    }
}
