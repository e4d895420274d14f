// A small Fashion-MNIST classifier whose penultimate features stand in for Inception's (FID with a domain classifier,
// reference datasets-and-metrics §3): the evaluator of the built-in model.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ConsistencyModels.Metrics;

/// <summary>
/// Two conv-conv-pool stages (32 and 64 channels) on 32x32 one-channel images in [−1, 1], a 128-d feature layer, and a
/// linear head for 10 classes. <see cref="Features"/> (after the ReLU of fc1) are what the metrics compare.
/// </summary>
public sealed class DomainClassifier : Module<Tensor, Tensor>
{
    public const int ImageSize = 32, FeatureDim = 128, Classes = 10;

    private readonly Conv2d conv1, conv2, conv3, conv4;
    private readonly Linear fc1, fc2;

    public DomainClassifier() : base(nameof(DomainClassifier))
    {
        Runtime.TorchRuntime.EnsureSoundCpuConvolutions();   // once per process, as every network: oneDNN is wrong on some CPUs
        conv1 = Conv2d(1, 32, 3, padding: 1);
        conv2 = Conv2d(32, 32, 3, padding: 1);
        conv3 = Conv2d(32, 64, 3, padding: 1);
        conv4 = Conv2d(64, 64, 3, padding: 1);
        fc1 = Linear(64 * 8 * 8, FeatureDim);
        fc2 = Linear(FeatureDim, Classes);
        RegisterComponents();
    }

    /// <summary>The 128-d penultimate features of images [B, 1, 32, 32] in [−1, 1].</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (x.dim() != 4 || x.shape[1] != 1 || x.shape[2] != ImageSize || x.shape[3] != ImageSize)
            throw new ArgumentException($"the Fashion-MNIST classifier takes [B, 1, 32, 32] images (got [{string.Join(", ", x.shape)}])");
        var h = functional.max_pool2d(functional.relu(conv2.call(functional.relu(conv1.call(x)))), 2);
        h = functional.max_pool2d(functional.relu(conv4.call(functional.relu(conv3.call(h)))), 2);
        return functional.relu(fc1.call(h.flatten(1))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The shipped evaluator (embedded fp16 weights, made by <c>cm train-classifier --epochs 3 --seed 0</c>; test accuracy
    /// in <see cref="BuiltInMetadata"/>), in eval mode on the CPU.
    /// </summary>
    public static DomainClassifier LoadBuiltIn()
    {
        using var stream = OpenBuiltIn();
        var state = IO.Checkpoints.Safetensors.Load(stream, ResourceName);
        try
        {
            var net = new DomainClassifier();
            Presets.ModelWeights.LoadInto(net, state, "built-in Fashion-MNIST classifier");
            net.eval();
            return net;
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    /// <summary>How the shipped weights were made and their test accuracy.</summary>
    public static IReadOnlyDictionary<string, string> BuiltInMetadata
    {
        get
        {
            using var stream = OpenBuiltIn();
            return IO.Checkpoints.Safetensors.ReadMetadata(stream, ResourceName);
        }
    }

    private const string ResourceName = "ConsistencyModels.fmnist_classifier.safetensors";

    private static Stream OpenBuiltIn() => typeof(DomainClassifier).Assembly.GetManifestResourceStream(ResourceName)
        ?? throw new InvalidOperationException($"the Fashion-MNIST classifier is missing from the library (resource {ResourceName})");

    /// <summary>Class logits [B, 10] from <see cref="Features"/> [B, 128].</summary>
    public Tensor LogitsOf(Tensor features) => fc2.call(features);

    /// <summary>Class logits [B, 10].</summary>
    public override Tensor forward(Tensor x)
    {
        using var features = Features(x);
        return fc2.call(features);
    }
}
