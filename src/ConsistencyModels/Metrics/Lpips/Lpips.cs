// LPIPS as the consistency losses use it — port of piq 0.7.0 `LPIPS(replace_pooling=True, reduction="none")`
// (piq/perceptual.py ContentLoss/LPIPS; reference §6.2): torchvision VGG16 `features` with every MaxPool replaced by
// AvgPool2d(2, 2), ImageNet mean/std input normalisation, channel-unit-normalised features at relu1_2, relu2_2,
// relu3_3, relu4_3, relu5_3, squared difference × learned per-channel weights, spatial mean, summed.
using ConsistencyModels.IO.Checkpoints;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ConsistencyModels.Metrics;

public sealed class Lpips : IImageDistance, IDisposable
{
    /// <summary>Indices of the 13 convolutions in torchvision's vgg16().features.</summary>
    public static readonly int[] ConvIndices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

    /// <summary>Indices of the pooling layers (MaxPool in torchvision, AvgPool2d(2, 2) here).</summary>
    public static readonly int[] PoolIndices = [4, 9, 16, 23, 30];

    /// <summary>Indices of the ReLUs whose outputs are compared (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).</summary>
    public static readonly int[] FeatureIndices = [3, 8, 15, 22, 29];

    private const double Eps = 1e-10;                  // piq.perceptual.EPS
    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    private readonly Dictionary<int, (Tensor weight, Tensor bias)> _convs;
    private readonly Tensor[] _lin;                    // [1, C, 1, 1] each
    private readonly Tensor _mean, _std;               // [1, 3, 1, 1]

    /// <summary>From VGG16 feature weights (conv index → weight, bias) and the five LPIPS layer weights [1, C, 1, 1].</summary>
    public Lpips(IReadOnlyDictionary<int, (Tensor weight, Tensor bias)> convs, IReadOnlyList<Tensor> lin, Device? device = null)
    {
        Runtime.TorchRuntime.EnsureSoundCpuConvolutions();   // once per process, as every network: oneDNN is wrong on some CPUs
        device ??= CPU;
        if (lin.Count != FeatureIndices.Length) throw new ArgumentException($"LPIPS needs {FeatureIndices.Length} layer weights, got {lin.Count}");
        _convs = [];
        foreach (int i in ConvIndices)
        {
            if (!convs.TryGetValue(i, out var c)) throw new ArgumentException($"VGG16 features.{i} (conv) is missing");
            _convs[i] = (Prepare(c.weight, device), Prepare(c.bias, device));
        }
        _lin = [.. lin.Select(w => Prepare(w, device))];
        _mean = tensor(ImageNetMean, device: device).view(1, -1, 1, 1).DetachFromDisposeScope();
        _std = tensor(ImageNetStd, device: device).view(1, -1, 1, 1).DetachFromDisposeScope();
    }

    // Long-lived like module parameters: never disposed by a caller's dispose scope.
    private static Tensor Prepare(Tensor t, Device device) => t.to(ScalarType.Float32, device).detach().requires_grad_(false).DetachFromDisposeScope();

    /// <summary>
    /// Loads the weights from a .pt holding <c>vgg16.features.N.weight/bias</c> (or <c>features.N.*</c>; any float
    /// dtype, upcast to float32) and <c>lin.0</c> … <c>lin.4</c> (as in the fixtures' <c>lpips_random_weights.pt</c>).
    /// </summary>
    public static Lpips Load(string path, Device? device = null)
    {
        var tensors = TorchCheckpoint.LoadTensors(path);
        try
        {
            Tensor Find(params string[] keys)
            {
                foreach (var k in keys) if (tensors.TryGetValue(k, out var t)) return t;
                throw new CheckpointFormatException($"{path}: no tensor '{keys[0]}' (LPIPS weights)");
            }
            var convs = ConvIndices.ToDictionary(i => i, i =>
                (Find($"vgg16.features.{i}.weight", $"features.{i}.weight"), Find($"vgg16.features.{i}.bias", $"features.{i}.bias")));
            var lin = Enumerable.Range(0, FeatureIndices.Length).Select(k => Find($"lin.{k}", $"{k}")).ToList();
            return new Lpips(convs, lin, device);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Per-sample LPIPS [B] of images in [0, 1] shaped [B, 3, H, W] (reduction "none"); differentiable in x and y.</summary>
    public Tensor Distance(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var fx = Features(x);
        var fy = Features(y);
        var perLayer = new Tensor[fx.Count];
        for (int k = 0; k < fx.Count; k++)
        {
            var d = (fx[k] - fy[k]).pow(2);                                  // MSELoss(reduction="none")
            perLayer[k] = (d * _lin[k].to(d.dtype, d.device)).mean([2, 3]);
        }
        return cat(perLayer, 1).sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>The five channel-unit-normalised feature maps of ContentLoss.get_features.</summary>
    public List<Tensor> Features(Tensor x)
    {
        var h = (x - _mean.to(x.dtype, x.device)) / _std.to(x.dtype, x.device);
        var features = new List<Tensor>();
        int f = 0;
        for (int i = 0; i <= FeatureIndices[^1]; i++)
        {
            if (_convs.TryGetValue(i, out var c))
                h = F.conv2d(h, c.weight.to(h.dtype, h.device), c.bias.to(h.dtype, h.device), padding: [1, 1]);
            else if (Array.IndexOf(PoolIndices, i) >= 0)
                h = F.avg_pool2d(h, [2, 2], [2, 2]);
            else
            {
                h = F.relu(h);
                if (f < FeatureIndices.Length && i == FeatureIndices[f])
                {
                    features.Add(Normalize(h));
                    f++;
                }
            }
        }
        return features;
    }

    // ContentLoss.normalize: x / (sqrt(sum(x², dim=1, keepdim)) + EPS).
    private static Tensor Normalize(Tensor x) => x / (x.pow(2).sum(1, keepdim: true).sqrt() + Eps);

    public void Dispose()
    {
        foreach (var (w, b) in _convs.Values) { w.Dispose(); b.Dispose(); }
        foreach (var l in _lin) l.Dispose();
        _mean.Dispose();
        _std.Dispose();
    }
}
