// Models shipped inside the library: the default ect_fmnist32 (ECT from the built-in teacher), ict_fmnist32 (iCT from
// scratch), cd_fmnist32 (distilled from an earlier teacher) and the EDM teacher edm_fmnist32, all Fashion-MNIST 32x32
// (docs/training.md, docs/results.md).
using System.Reflection;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Presets;

public static class BuiltInModels
{
    /// <summary>
    /// The model `cm generate`, `cm edit` and the studio use when given no model: the best one-step model of
    /// docs/results.md (class-conditional Fashion-MNIST at 32x32).
    /// </summary>
    public const string DefaultName = "ect_fmnist32";

    /// <summary>Fashion-MNIST's ten class names, in label order (label 0 = T-shirt/top).</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The default: easy consistency tuning of <see cref="EdmFashionMnist32"/> on 2 CPU cores (the best one- and two-step model of docs/results.md).</summary>
    public static CheckpointPreset EctFashionMnist32 { get; } = new(
        DefaultName, TrainingPresets.FashionMnist32(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 22, 39], GeneratorKind.Determ,
        "built in (the default): easy consistency tuning (ECT) of edm_fmnist32, q 16 for 5,500 steps, q 64 for 3,000, then q 64 at half the learning rate for 1,500, x 32 on 2 CPU cores, Fashion-MNIST 32x32 class-conditional, fp16 weights",
        "the released cd_imagenet64_* value (N = 40: ts 22 is sigma 1.38); ECT's own two-step setting is sigmas 80 then 2.5");

    /// <summary>Improved consistency training from scratch on 2 CPU cores: the default of session 12 (one step FID-FMNIST 95.1 against CD's 124.7).</summary>
    public static CheckpointPreset IctFashionMnist32 { get; } = new(
        "ict_fmnist32", TrainingPresets.FashionMnist32(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 22, 39], GeneratorKind.Determ,
        "built in: improved consistency training (iCT) from scratch, 4,000 steps x 32 on 2 CPU cores, Fashion-MNIST 32x32 class-conditional, fp16 weights",
        "the released cd_imagenet64_* value (N = 40 here too), not tuned for this model");

    /// <summary>Consistency distillation from the first (CPU-trained) teacher: the default until session 12.</summary>
    public static CheckpointPreset CdFashionMnist32 { get; } = new(
        "cd_fmnist32", TrainingPresets.FashionMnist32(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 22, 39], GeneratorKind.Determ,
        "built in: consistency distillation (l2, N=40) from an EDM teacher, Fashion-MNIST 32x32 class-conditional, fp16 weights",
        "the released cd_imagenet64_* value (N = 40 here too), not tuned for this model");

    /// <summary>The EDM teacher (Heun, 18 steps = 35 evaluations by default): sample it, or distil or tune (ECT) from it by name.</summary>
    public static CheckpointPreset EdmFashionMnist32 { get; } = new(
        "edm_fmnist32", TrainingPresets.FashionMnist32(DenoiserKind.Edm), SamplerKind.Heun, 18, null, GeneratorKind.Determ,
        "built in: EDM teacher, Fashion-MNIST 32x32 class-conditional (1.5 M images on one GPU), fp16 weights; Heun 18 steps by default",
        "an EDM model: heun, euler and dpm take a step count; the multistep samplers do not apply");

    public static IReadOnlyList<CheckpointPreset> All { get; } = [EctFashionMnist32, IctFashionMnist32, CdFashionMnist32, EdmFashionMnist32];

    /// <summary>The model used when none is named (<see cref="DefaultName"/>).</summary>
    public static CheckpointPreset Default => EctFashionMnist32;

    public static bool TryGet(string name, out CheckpointPreset? preset)
    {
        var key = Path.GetFileNameWithoutExtension(name.Trim());
        preset = All.FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase));
        return preset is not null;
    }

    /// <summary>The embedded weights of a built-in model (fp16 on the CPU; the caller disposes them).</summary>
    public static OrderedDictionary<string, Tensor> LoadStateDict(CheckpointPreset preset)
    {
        using var stream = OpenResource(preset);
        return Safetensors.Load(stream, ResourceName(preset));
    }

    /// <summary>The embedded file's metadata: how it was trained (commands, steps, wall time).</summary>
    public static IReadOnlyDictionary<string, string> Metadata(CheckpointPreset preset)
    {
        using var stream = OpenResource(preset);
        return Safetensors.ReadMetadata(stream, ResourceName(preset));
    }

    private static string ResourceName(CheckpointPreset preset) => $"ConsistencyModels.{preset.Name}.safetensors";

    private static Stream OpenResource(CheckpointPreset preset) =>
        typeof(BuiltInModels).Assembly.GetManifestResourceStream(ResourceName(preset))
        ?? throw new InvalidOperationException($"built-in model '{preset.Name}' is missing from {typeof(BuiltInModels).Assembly.GetName().Name}.dll " +
                                               $"(resource {ResourceName(preset)}; the build embeds src/ConsistencyModels/Presets/Weights/{preset.Name}.safetensors)");
}
