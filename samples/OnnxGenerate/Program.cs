// OnnxGenerate MODEL.onnx [OUTPUT.png] [-n N] [--seed S] [--provider cpu|cuda[:N]|directml[:N]|coreml]
// Samples an exported consistency model (`cm export onnx`) with its default sampler and noise generator and writes a
// grid PNG (make_grid's layout: ceil(sqrt(n)) columns, 2-pixel black padding). The images equal `cm generate`'s for the
// same model, seed, sampler and labels (within 1 uint8 level).
using ConsistencyModels.OnnxRuntime;
using OnnxGenerate;

string? model = null, output = null, provider = "cpu";
int n = 16;
long seed = 42;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "-n" or "--num-samples": n = int.Parse(Next()); break;
        case "--seed": seed = long.Parse(Next()); break;
        case "--provider": provider = Next(); break;
        case "-h" or "--help":
            Console.WriteLine("usage: OnnxGenerate MODEL.onnx [OUTPUT.png] [-n N] [--seed S] [--provider cpu|cuda[:N]|directml[:N]|coreml]");
            return 0;
        default:
            if (model is null) model = args[i];
            else if (output is null) output = args[i];
            else { Console.Error.WriteLine($"error: unexpected argument '{args[i]}'"); return 2; }
            break;
    }
}
if (model is null) { Console.Error.WriteLine("error: give the exported model: OnnxGenerate MODEL.onnx [OUTPUT.png]"); return 2; }
output ??= "samples.png";

try
{
    using var pipeline = OnnxPipeline.Load(model, OnnxModelOptions.ParseProvider(provider));
    var info = pipeline.Info;
    var request = pipeline.DefaultRequest(n, seed);
    Console.WriteLine($"model: {info.Name} ({info.Denoiser.ToString().ToLowerInvariant()}, {info.InChannels}x{info.ImageSize}x{info.ImageSize}, " +
                      $"{(info.IsConditional ? $"{info.NumClasses} classes" : "unconditional")}), sampler {request.Sampling.Sampler.ToString().ToLowerInvariant()} " +
                      $"({request.Sampling.Evaluations} evaluations), generator {request.Generator}, seed {seed}, {pipeline.Denoiser.Provider}");
    var started = DateTime.UtcNow;
    var images = pipeline.Generate(request);
    var (grid, gh, gw) = Grid(images.Pixels, images.Count, images.Height, images.Width, images.Channels);
    Png.Write(output, grid, gh, gw, images.Channels);
    var labels = images.Labels is { } l ? " labels " + string.Join(",", l.Select(v => info.ClassNames is { } names && v < names.Count ? names[(int)v] : v.ToString())) : "";
    Console.WriteLine($"wrote {output}: {images.Count} images in {(DateTime.UtcNow - started).TotalSeconds:F1} s;{labels}");
    return 0;
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 1;
}

// make_grid: rows of ceil(sqrt(n)) images, 2 pixels of 0 around and between them (a single image as it is).
static (byte[] grid, int h, int w) Grid(byte[] nhwc, int n, int h, int w, int c)
{
    if (n == 1) return (nhwc, h, w);
    const int pad = 2;
    int cols = (int)Math.Ceiling(Math.Sqrt(n)), rows = (n + cols - 1) / cols;
    int gh = rows * (h + pad) + pad, gw = cols * (w + pad) + pad;
    var grid = new byte[gh * gw * c];
    for (int k = 0; k < n; k++)
    {
        int top = k / cols * (h + pad) + pad, left = k % cols * (w + pad) + pad;
        for (int y = 0; y < h; y++)
            Array.Copy(nhwc, (k * h + y) * w * c, grid, ((top + y) * gw + left) * c, w * c);
    }
    return (grid, gh, gw);
}
