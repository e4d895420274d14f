// The official PyTorch evaluator's Inception-v3 (TorchScript inception-2015-12-05.pt, reference §8.1): pool_3 features, 2048-d.
using ConsistencyModels.Presets;
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>
/// Runs the TorchScript Inception-v3 that <c>evaluations/th_evaluator.py</c> (and StyleGAN2-ADA's metrics) load:
/// <c>forward(img, return_features, use_fp16, no_output_bias)</c> takes uint8 [n, 3, H, W] and resizes to 299 inside.
/// Features are the 2048-d pool_3 activations; probabilities are the softmax of the output head without its bias,
/// computed from those features with the file's own <c>output.weight</c> so that each batch runs the network once.
/// TorchScript is interpreted by libtorch (no Python runs), but it is still a program: load only files you trust.
/// </summary>
public sealed class InceptionV3Extractor : IFeatureExtractor
{
    public const string FileName = "inception-2015-12-05.pt";
    public const string DownloadUrl = "https://openaipublic.blob.core.windows.net/consistency/inception/inception-2015-12-05.pt";

    private readonly jit.ScriptModule _module;
    private readonly Tensor? _outputWeight;
    private readonly Device _device;

    private InceptionV3Extractor(jit.ScriptModule module, Device device, string path)
    {
        _module = module;
        _device = device;
        Path = path;
        _outputWeight = module.named_parameters().FirstOrDefault(p => p.name == "output.weight").parameter?.detach();
    }

    public string Path { get; }
    public string Name => $"inception-v3 pool_3 ({System.IO.Path.GetFileName(Path)})";
    public int FeatureDim => 2048;

    /// <summary>Where the file is looked for when no path is given: $CM_INCEPTION, else the model cache folder.</summary>
    public static string DefaultPath =>
        Environment.GetEnvironmentVariable("CM_INCEPTION") is { Length: > 0 } env ? env : System.IO.Path.Combine(Presets.ModelCache.Directory, FileName);

    public static InceptionV3Extractor Load(string? path = null, Device? device = null)
    {
        Runtime.TorchRuntime.EnsureSoundCpuConvolutions();   // once per process, as every network: oneDNN is wrong on some CPUs
        path ??= DefaultPath;
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"the Inception-v3 network for FID/IS is not at {path}. It cannot be bundled; download it once " +
                $"with `Download` inception (or from {DownloadUrl}, 96 MB, to that path), or pass its location (`InceptionPath` FILE or CM_INCEPTION). " +
                "For the built-in Fashion-MNIST model use `FeatureExtractor` fmnist instead.", path);
        device ??= CPU;
        jit.ScriptModule module;
        try { module = jit.load(path, device); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"{path} is not a TorchScript file that libtorch can load ({e.Message.Split('\n')[0]}); " +
                                      $"the FID network is the TorchScript {FileName}, not a state dict", e);
        }
        module.eval();
        return new InceptionV3Extractor(module, device, path);
    }

    public (Tensor Features, Tensor? Probabilities) Extract(Tensor imagesNhwc)
    {
        if (imagesNhwc.dim() != 4 || (imagesNhwc.shape[3] != 3 && imagesNhwc.shape[3] != 1) || imagesNhwc.dtype != ScalarType.Byte)
            throw new ArgumentException($"Inception takes uint8 images [n, H, W, 3 or 1], got {imagesNhwc.dtype} [{string.Join(", ", imagesNhwc.shape)}]");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = imagesNhwc.permute(0, 3, 1, 2);
        if (x.shape[1] == 1) x = x.expand(-1, 3, -1, -1);      // grey images as RGB, as the evaluators do
        x = x.contiguous().to(_device);
        var result = _module.forward(x, true, false, false);
        if (result is not Tensor features || features.dim() != 2 || features.shape[0] != x.shape[0])
            throw new FormatException($"{Path}: forward(img, return_features=True) did not return [n, features]");
        Tensor probabilities;
        if (_outputWeight is not null && _outputWeight.shape[1] == features.shape[1])
            probabilities = nn.functional.softmax(features.matmul(_outputWeight.t()), 1);
        else
            probabilities = (Tensor)_module.forward(x, false, false, true);
        return (features.to(ScalarType.Float32, CPU).MoveToOuterDisposeScope(), probabilities.to(ScalarType.Float32, CPU).MoveToOuterDisposeScope());
    }

    public void Dispose() { _outputWeight?.Dispose(); _module.Dispose(); }
}
