// Model configs of this project's own (trainable, shipped) models; the released ones are in CheckpointPresets.
using ConsistencyModels.Nn;

namespace ConsistencyModels.Presets;

public static class TrainingPresets
{
    /// <summary>
    /// Fashion-MNIST 32x32 (28x28 padded), 1 channel, 10 classes: a small ADM UNet (32-64-64 channels, attention at 8x8,
    /// ~2.6M parameters) that trains on a 2-core CPU. The EDM teacher uses dropout 0.1, as the official teachers.
    /// </summary>
    public static ModelConfig FashionMnist32(DenoiserKind kind) => new()
    {
        ImageSize = 32, NumChannels = 32, NumResBlocks = 2, ChannelMult = [1, 2, 2], AttentionResolutions = [8],
        NumHeadChannels = 32, NumHeads = 1, ClassCond = true, NumClasses = 10, UseScaleShiftNorm = true, ResblockUpdown = true,
        InChannels = 1, OutChannels = 1, Dropout = kind == DenoiserKind.Edm ? 0.1 : 0.0, Denoiser = kind,
    };

    /// <summary>Model configs by name for <c>cm train --preset</c>: this project's models and the released architectures.</summary>
    public static ModelConfig? TryGet(string name, DenoiserKind kind) => name.Trim().ToLowerInvariant() switch
    {
        "fmnist32" => FashionMnist32(kind),
        // The built-in models are all fmnist32 networks: their architecture with this mode's preconditioning and dropout.
        _ when BuiltInModels.TryGet(name, out var b) => b!.Model with { Denoiser = kind, Dropout = FashionMnist32(kind).Dropout },
        _ => CheckpointPresets.TryGet(name, out var p) ? p!.Model with { Denoiser = kind, Dropout = kind == DenoiserKind.Edm ? 0.1 : 0.0 } : null,
    };
}
