// What an exported file says about its model (metadata_props written by `cm export onnx`, docs/onnx.md).
using System.Globalization;

namespace ConsistencyModels.OnnxRuntime;

/// <summary>The preconditioning in the graph: EDM scalings (teachers) or the boundary-condition ones (CD/CT models).</summary>
public enum DenoiserKind { Edm, Consistency }

/// <summary>The graph's arithmetic: float32 throughout, or the official fp16 split (float16 torso convolutions); inputs and output are float32 either way.</summary>
public enum GraphPrecision { Fp32, Fp16 }

/// <summary>
/// The facts an exported model carries in its metadata: image shape, classes, the Karras σ range, the denoiser kind and
/// the model's default sampling (sampler, steps, ts or σ list, noise generator).
/// </summary>
public sealed record OnnxModelInfo
{
    public int ImageSize { get; init; }
    public int InChannels { get; init; }
    /// <summary>Number of classes; 0 for an unconditional model (the graph then has no <c>class_labels</c> input).</summary>
    public int NumClasses { get; init; }
    public double SigmaMin { get; init; } = 0.002;
    public double SigmaMax { get; init; } = 80;
    public double SigmaData { get; init; } = 0.5;
    public double Rho { get; init; } = 7;
    public DenoiserKind Denoiser { get; init; } = DenoiserKind.Consistency;
    /// <summary>Metadata <c>precision</c> (fp32 where a file predates it).</summary>
    public GraphPrecision Precision { get; init; } = GraphPrecision.Fp32;
    /// <summary>The samplers clamp every denoised estimate to [−1, 1] (the graph's output is not clamped).</summary>
    public bool ClipDenoised { get; init; } = true;
    /// <summary>The model's default sampler name (onestep, multistep, heun, ...), if the file names one.</summary>
    public string? DefaultSampler { get; init; }
    public int? DefaultSteps { get; init; }
    public IReadOnlyList<int>? DefaultTs { get; init; }
    public IReadOnlyList<double>? DefaultSigmas { get; init; }
    public NoiseKind? DefaultGenerator { get; init; }
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>The graph's name: the exported model's name (e.g. cd_fmnist32).</summary>
    public string? Name { get; init; }
    /// <summary>The JSON model config (official flag names), as written by the exporter.</summary>
    public string? ModelConfigJson { get; init; }

    public bool IsConditional => NumClasses > 0;
    /// <summary>Floats per image: channels × size × size.</summary>
    public int ImageLength => InChannels * ImageSize * ImageSize;

    /// <summary>Reads the metadata map of an exported file; throws naming the first missing or malformed key.</summary>
    public static OnnxModelInfo FromMetadata(IReadOnlyDictionary<string, string> m)
    {
        string Need(string key) => m.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"the ONNX file has no '{key}' metadata: it was not written by `cm export onnx` (docs/onnx.md)");
        int Int(string key) => int.TryParse(Need(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"metadata '{key}' = '{m[key]}' is not an integer");
        double Real(string key) => double.TryParse(Need(key), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"metadata '{key}' = '{m[key]}' is not a number");
        string? Opt(string key) => m.TryGetValue(key, out var v) && v.Length > 0 ? v : null;

        var info = new OnnxModelInfo
        {
            ImageSize = Int("image_size"), InChannels = Int("in_channels"), NumClasses = Int("num_classes"),
            SigmaMin = Real("sigma_min"), SigmaMax = Real("sigma_max"), SigmaData = Real("sigma_data"), Rho = Real("rho"),
            Denoiser = Need("denoiser") switch
            {
                "edm" => DenoiserKind.Edm,
                "consistency" => DenoiserKind.Consistency,
                var d => throw new InvalidDataException($"metadata 'denoiser' = '{d}' is neither edm nor consistency"),
            },
            Precision = Opt("precision") switch
            {
                null or "fp32" => GraphPrecision.Fp32,
                "fp16" => GraphPrecision.Fp16,
                var p => throw new InvalidDataException($"metadata 'precision' = '{p}' is neither fp32 nor fp16"),
            },
            ClipDenoised = Opt("clip_denoised") is not { } c || !c.Equals("false", StringComparison.OrdinalIgnoreCase),
            DefaultSampler = Opt("default_sampler"),
            DefaultSteps = Opt("default_steps") is { } st ? int.Parse(st, CultureInfo.InvariantCulture) : null,
            DefaultTs = Opt("default_ts")?.Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray(),
            DefaultSigmas = Opt("default_sigmas")?.Split(',').Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray(),
            DefaultGenerator = Opt("default_generator") is { } g ? NoiseGenerator.ParseKind(g) : null,
            ClassNames = Opt("class_names")?.Split('\n'),
            ModelConfigJson = Opt("model_config"),
        };
        if (info.ImageSize < 1 || info.InChannels < 1 || info.NumClasses < 0)
            throw new InvalidDataException($"metadata image_size {info.ImageSize}, in_channels {info.InChannels}, num_classes {info.NumClasses} do not describe a model");
        if (!(info.SigmaMin > 0 && info.SigmaMax > info.SigmaMin))
            throw new InvalidDataException($"metadata sigma_min {info.SigmaMin} and sigma_max {info.SigmaMax} are not a noise range");
        return info;
    }

    /// <summary>The model's default sampling options (onestep when the file names none or a sampler this package lacks).</summary>
    public SamplingOptions DefaultSampling()
    {
        bool multistep = DefaultSampler == "multistep" && (DefaultTs is not null || DefaultSigmas is not null);
        return multistep
            ? new SamplingOptions { Sampler = SamplerKind.Multistep, Steps = DefaultSteps ?? 40, Ts = DefaultSigmas is null ? DefaultTs : null, Sigmas = DefaultSigmas }
            : new SamplingOptions { Sampler = SamplerKind.Onestep, Steps = DefaultSteps ?? 40 };
    }
}
