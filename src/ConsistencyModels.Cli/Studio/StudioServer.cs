// `cm serve`: the studio's HTTP side on ASP.NET Core minimal APIs: static page, JSON API, jobs with polled progress.
using ConsistencyModels.Editing;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting;
using ConsistencyModels.Cli.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace ConsistencyModels.Cli.Studio;

/// <summary>Body of POST /api/generate; every field optional but the model defaults to the built-in one.</summary>
internal sealed record GenerateBody(string? Model, string? Sampler, int? Steps, int[]? Ts, long? Seed, int[]? ClassLabels, int? Count, double[]? Sigmas = null);

/// <summary>What one job may ask for: a request beyond these is refused with 400 (<c>cm serve --max-steps/--max-count</c> raise them).</summary>
internal sealed record StudioLimits(int MaxSteps = 1000, int MaxCount = 64);

internal static class StudioServer
{
    public const int MaxUploadBytes = 10 << 20;

    public static WebApplication Build(string host, int port, StudioModels models, StudioJobs jobs, StudioLimits? limits = null)
    {
        limits ??= new StudioLimits();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{host}:{port}");
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxUploadBytes + (1 << 20));
        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = MaxUploadBytes);
        // Malformed JSON or parameters reach the middleware below as exceptions, so they get a message, not an empty 400.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        var app = builder.Build();
        // Anything unexpected becomes a short JSON message; the server keeps running.
        app.Use(async (ctx, next) =>
        {
            try { await next(ctx); }
            catch (BadHttpRequestException e) { await Error(ctx, e.StatusCode, e.InnerException is System.Text.Json.JsonException j ? $"invalid JSON: {j.Message}" : e.Message); }
            catch (Exception e) when (!ctx.Response.HasStarted) { await Error(ctx, 500, $"internal error: {e.GetType().Name}: {e.Message}"); }
        });
        // Before any route: a rebound DNS name is not this server, and another site's page may not start or cancel jobs.
        app.Use(async (ctx, next) =>
        {
            var request = ctx.Request;
            if (!StudioOrigin.IsKnownHost(request.Host, host, ctx.Connection.LocalPort))
                await Error(ctx, 400, $"unknown Host '{request.Host}': open the studio by its address (http://{host}:{ctx.Connection.LocalPort}, or localhost)");
            else if (StudioOrigin.ChangesState(request.Method) && !StudioOrigin.IsSameOrigin(request.Headers.Origin, request.Headers["Sec-Fetch-Site"], request.Host))
                await Error(ctx, 403, $"cross-origin request refused (Origin '{request.Headers.Origin}', Sec-Fetch-Site '{request.Headers["Sec-Fetch-Site"]}'): " +
                                      $"only the studio's own page at http://{request.Host} may start or cancel jobs");
            else await next(ctx);
        });

        app.MapGet("/", () => Static("index.html", "text/html; charset=utf-8"));
        app.MapGet("/studio.js", () => Static("studio.js", "text/javascript; charset=utf-8"));
        app.MapGet("/studio.css", () => Static("studio.css", "text/css; charset=utf-8"));
        app.MapGet("/api/models", () => Results.Json(models.All.Select(m => m.Describe())));
        app.MapPost("/api/generate", (GenerateBody body) => Guard(() => Generate(body, models, jobs, limits)));
        app.MapPost("/api/edit", async (HttpRequest request) =>
        {
            if (!request.HasFormContentType) return Results.BadRequest(new { error = "send the edit as multipart/form-data (fields: model, task, image, mask, seed)" });
            IFormCollection form;
            try { form = await request.ReadFormAsync(); }
            catch (InvalidDataException e) when (e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
            {
                // The form reader's own limit (not Kestrel's, which answers 413 itself) throws a plain InvalidDataException.
                return Results.Json(new { error = $"the upload is over the limit of {MaxUploadBytes >> 20} MB" }, statusCode: StatusCodes.Status413PayloadTooLarge);
            }
            return Guard(() => Edit(form, models, jobs));
        });
        app.MapGet("/api/jobs/{id}", (string id) => jobs.Get(id) is { } job ? Results.Json(job.Describe()) : NotFound($"no job '{id}'"));
        app.MapDelete("/api/jobs/{id}", (string id) => jobs.Cancel(id) switch
        {
            CancelOutcome.NotFound => NotFound($"no job '{id}'"),
            CancelOutcome.AlreadyFinished => Results.Json(new { error = $"job '{id}' has already ended ({jobs.Get(id)?.Status.ToString().ToLowerInvariant()})" }, statusCode: StatusCodes.Status409Conflict),
            _ => Results.Json(jobs.Get(id)!.Describe()),
        });
        app.MapGet("/api/jobs/{id}/grid.png", (string id) => File(jobs, id, "grid.png"));
        app.MapGet("/api/jobs/{id}/images/{k:int}.png", (string id, int k) => File(jobs, id, $"{k:D4}.png"));
        return app;
    }

    private static IResult Guard(Func<IResult> handler)
    {
        try { return handler(); }
        catch (KeyNotFoundException e) { return NotFound(e.Message); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FormatException or FileNotFoundException)
        {
            return Results.BadRequest(new { error = OptionNames.ForApi(e.Message) });
        }
    }

    private static IResult NotFound(string message) => Results.NotFound(new { error = message });

    private static Task Error(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new { error = message });
    }

    private static IResult Queued(StudioJob? job) => job is null
        ? Results.Json(new { error = "the job queue is full: wait for running jobs to finish" }, statusCode: 429)
        : Results.Accepted($"/api/jobs/{job.Id}", job.Describe());

    private static IResult Generate(GenerateBody body, StudioModels models, StudioJobs jobs, StudioLimits limits)
    {
        var m = models.Get(body.Model ?? Presets.BuiltInModels.DefaultName);
        int count = body.Count ?? 8, steps = body.Steps ?? m.Spec.Steps;
        // One worker serves everyone: a job may not hold it for hours (DELETE /api/jobs/{id} stops one that runs long anyway).
        if (count is < 1 || count > limits.MaxCount) throw new ArgumentException($"count must be 1-{limits.MaxCount} (got {count}); cm serve --max-count raises the limit");
        if (steps < 1 || steps > limits.MaxSteps) throw new ArgumentException($"steps must be 1-{limits.MaxSteps} (got {steps}); cm serve --max-steps raises the limit");
        if (body.Sigmas is { Length: var levels } && levels > limits.MaxSteps)
            throw new ArgumentException($"sigmas has {levels} levels; the limit is {limits.MaxSteps} (cm serve --max-steps raises it)");
        var sampler = body.Sampler is not null ? Parse.Sampler(body.Sampler) : body.Sigmas is not null ? SamplerKind.Multistep : m.Spec.DefaultSampler;
        IReadOnlyList<int>? ts = sampler == SamplerKind.Multistep && body.Sigmas is null ? body.Ts ?? m.Spec.TwoStepTs
            ?? throw new ArgumentException("multistep needs ts (grid indices, e.g. [0, 22, 39]) or sigmas (e.g. [80, 0.821])") : null;
        var request = new GenerationRequest
        {
            NumSamples = count, BatchSize = count, Seed = body.Seed ?? 42, Generator = m.Spec.DefaultGenerator,
            ClassLabels = body.ClassLabels is { Length: > 0 } labels ? labels : null,
            Sampling = new SamplingOptions { Sampler = sampler, Steps = steps, Ts = ts, Sigmas = body.Sigmas },
        }.Validate(m.Config);                                             // bad input answers 400 now, not later in the job
        return Queued(jobs.TryEnqueue("generate", job =>
        {
            job.Total = request.Sampling.Evaluations;
            var pipeline = models.Pipeline(m);
            var progress = new SyncProgress<GenerationProgress>(p => job.Done = p.Evaluation);
            WriteImages(job, pipeline.Generate(request, progress, job.Cancellation), columns: Math.Min(count, 8));
        }));
    }

    private static IResult Edit(IFormCollection form, StudioModels models, StudioJobs jobs)
    {
        var m = models.Get(form["model"].FirstOrDefault() ?? Presets.BuiltInModels.DefaultName);
        var task = Parse.EditTask(form["task"].FirstOrDefault() ?? throw new ArgumentException("task is required: inpaint, colorize, superres, stroke, denoise or interpolate"));
        int size = m.Config.ImageSize, channels = m.Config.InChannels;
        long seed = long.TryParse(form["seed"].FirstOrDefault(), out var sd) ? sd : 42;
        var folder = jobs.NewUploadFolder();
        try
        {
            Tensor? images = null, mask = null;
            IReadOnlyList<int>? labels = int.TryParse(form["classLabel"].FirstOrDefault(), out var label) ? [label] : null;
            if (m.Config.ResolvedNumClasses is int classes)
            {
                if (labels is null) throw new ArgumentException($"{m.Name} is class-conditional: choose the class of the image (classLabel 0-{classes - 1})");
                if (label < 0 || label >= classes) throw new ArgumentException($"classLabel {label} is outside 0-{classes - 1}");
            }
            if (task.TakesImages)
            {
                var file = form.Files["image"] ?? throw new ArgumentException($"{task.Name} needs an input image (field 'image')");
                var path = Save(file, folder, "image");
                images = EditInputs.FromFiles([path], size, channels, InputLimits.FromEnvironment()).Images.DetachFromDisposeScope();
            }
            if (form.Files["mask"] is { } maskFile)
            {
                if (!task.TakesMask) throw new ArgumentException("a mask applies to inpaint only");
                mask = EditInputs.MaskFromFile(Save(maskFile, folder, "mask"), size, InputLimits.FromEnvironment()).DetachFromDisposeScope();
            }
            task.CheckModel(m.Config, m.Name);
            var request = new EditRequest { Task = task, Images = images, KnownMask = mask, ClassLabels = labels, Seed = seed, Pairs = 1, Frames = 8 };
            return Queued(jobs.TryEnqueue("edit", job =>
            {
                using var scope = NewDisposeScope();
                try
                {
                    var pipeline = models.Pipeline(m);
                    job.Total = request.Evaluations;
                    var r = ImageEditor.Edit(pipeline, request, step => job.Done = step.Evaluation, job.Cancellation);
                    WriteImages(job, r.Grid(), r.Columns);
                    job.Note = r.Reference is null ? "one row per pair of latents" : "reference | input | result";
                }
                finally { images?.Dispose(); mask?.Dispose(); }
            }));
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException)
        {
            // Name the upload as the user called it, not by its temporary path.
            throw new ArgumentException(e.Message.Replace(folder + Path.DirectorySeparatorChar, ""), e);
        }
        finally { try { Directory.Delete(folder, recursive: true); } catch (IOException) { } }
    }

    private static string Save(IFormFile file, string folder, string name)
    {
        if (file.Length > MaxUploadBytes) throw new ArgumentException($"{name} is {file.Length / 1e6:F1} MB; the limit is {MaxUploadBytes >> 20} MB");
        var safe = string.Concat(Path.GetFileName(file.FileName).Select(ch => char.IsLetterOrDigit(ch) || ch is '.' or '-' or '_' ? ch : '_'));
        var path = Path.Combine(folder, safe.Length > 0 ? safe : name);
        using (var fs = System.IO.File.Create(path)) file.CopyTo(fs);
        // Read the size from the header before anything decodes it: a small file can hold a huge image.
        using (var codec = SkiaSharp.SKCodec.Create(path))
        {
            if (codec is null) throw new ArgumentException($"{name} '{file.FileName}' is not an image SkiaSharp can read (PNG, JPEG, WebP, ...)");
            // The one image limit, shared with every other image reader (ReadLimits.MaxImageSide, CM_MAX_IMAGE_SIDE).
            int maxSide = InputLimits.FromEnvironment().MaxImageSide;
            if (codec.Info.Width > maxSide || codec.Info.Height > maxSide)
                throw new ArgumentException($"{name} '{file.FileName}' is {codec.Info.Width}x{codec.Info.Height}; the limit is {maxSide} pixels a side");
        }
        return path;
    }

    private static void WriteImages(StudioJob job, ImageBatch images, int columns)
    {
        images.SaveGrid(Path.Combine(job.Folder, "grid.png"), columns);
        images.SavePngs(job.Folder, digits: 4);
        job.Images = images.Count;
    }

    private static IResult File(StudioJobs jobs, string id, string name)
    {
        if (jobs.Get(id) is not { Status: JobStatus.Done } job) return NotFound($"job '{id}' has no finished images");
        var path = Path.Combine(job.Folder, name);
        return System.IO.File.Exists(path) ? Results.File(path, "image/png", $"{job.Kind}-{id}-{name}") : NotFound($"no image {name}");
    }

    private static IResult Static(string name, string contentType)
    {
        using var stream = typeof(StudioServer).Assembly.GetManifestResourceStream("Studio." + name)
            ?? throw new InvalidOperationException($"the page file {name} is missing from cm");
        using var reader = new StreamReader(stream);
        return Results.Content(reader.ReadToEnd(), contentType);
    }
}
