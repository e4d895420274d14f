// Architecture and noise-parameterisation of one UNet checkpoint: the flags of cm/script_util.py::create_model_and_diffusion.
namespace ConsistencyModels.Nn;

/// <summary>Which preconditioning wraps the UNet (reference §4.1).</summary>
public enum DenoiserKind
{
    /// <summary>Plain EDM scalings: the teacher models (<c>edm_*_ema.pt</c>, <c>--training_mode edm</c>).</summary>
    Edm,
    /// <summary>Boundary-condition scalings (σ − σ_min): CD and CT models.</summary>
    Consistency,
}

/// <summary>
/// Immutable model description. Property names map 1:1 to the official flags (JSON: snake_case,
/// see <see cref="IO.ModelConfigJson"/>). Validation happens in <see cref="Validate"/>, called by every consumer.
/// </summary>
public sealed record ModelConfig
{
    public int ImageSize { get; init; } = 64;
    public int NumChannels { get; init; } = 128;           // --num_channels (model_channels)
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Per-level channel multipliers; empty = the official default for <see cref="ImageSize"/>.</summary>
    public IReadOnlyList<int> ChannelMult { get; init; } = [];
    /// <summary>Pixel resolutions with self-attention, e.g. [32, 16, 8] (converted to downsample factors in one place).</summary>
    public IReadOnlyList<int> AttentionResolutions { get; init; } = [32, 16, 8];
    public int NumHeadChannels { get; init; } = -1;         // -1: use NumHeads
    public int NumHeads { get; init; } = 4;
    public int NumHeadsUpsample { get; init; } = -1;        // -1: NumHeads
    public bool ClassCond { get; init; }
    /// <summary>Number of classes of the label embedding; null when unconditional.</summary>
    public int? NumClasses { get; init; }
    public bool UseScaleShiftNorm { get; init; } = true;
    public bool ResblockUpdown { get; init; }
    public double Dropout { get; init; }
    public bool LearnSigma { get; init; }
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public double SigmaMin { get; init; } = 0.002;
    public double SigmaMax { get; init; } = 80.0;
    public double SigmaData { get; init; } = 0.5;
    public double Rho { get; init; } = 7.0;
    public DenoiserKind Denoiser { get; init; } = DenoiserKind.Consistency;

    /// <summary>Channel multipliers after applying the official image-size defaults (cm/script_util.py:122-132).</summary>
    public IReadOnlyList<int> ResolvedChannelMult => ChannelMult.Count > 0 ? ChannelMult : ImageSize switch
    {
        512 => throw new ArgumentException("channel_mult must be given for image_size 512: the official default (0.5,1,1,2,2,4,4) has a fractional entry this port does not build"),
        256 => [1, 1, 2, 2, 4, 4],
        128 => [1, 1, 2, 3, 4],
        64 => [1, 2, 3, 4],
        _ => throw new ArgumentException($"channel_mult must be given for image_size {ImageSize} (official defaults exist for 64, 128, 256)"),
    };

    /// <summary>Downsample factors at which attention is used: image_size // resolution (floor division, as upstream).</summary>
    public IReadOnlySet<int> AttentionDownsampleFactors => AttentionResolutions.Select(r => ImageSize / r).ToHashSet();

    /// <summary>Output channels built: 2·in_channels with learn_sigma (upstream's factory), else out_channels.</summary>
    public int ResolvedOutChannels => LearnSigma ? 2 * InChannels : OutChannels;

    public int? ResolvedNumClasses => ClassCond ? NumClasses ?? 1000 : null;

    /// <summary>The most classes <see cref="Validate"/> accepts: far above any dataset (ImageNet-21k has 21,841).</summary>
    public const int MaxNumClasses = 1_000_000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending flag.</summary>
    public ModelConfig Validate()
    {
        void Check(bool ok, string message) { if (!ok) throw new ArgumentException("invalid model config: " + message); }
        Check(ImageSize > 0, $"image_size must be positive (got {ImageSize})");
        Check(NumChannels > 0, $"num_channels must be positive (got {NumChannels})");
        Check(NumResBlocks > 0, $"num_res_blocks must be positive (got {NumResBlocks})");
        var mult = ResolvedChannelMult;
        Check(mult.All(m => m > 0), "channel_mult entries must be positive");
        Check(ImageSize % (1 << (mult.Count - 1)) == 0, $"image_size {ImageSize} is not divisible by 2^{mult.Count - 1} (one halving per channel_mult level)");
        foreach (var r in AttentionResolutions)
            Check(r > 0, $"attention resolutions must be positive (got {r})");
        Check(NumHeadChannels == -1 || NumHeadChannels > 0, "num_head_channels must be -1 or positive");
        Check(NumHeadChannels != -1 || NumHeads > 0, "num_heads must be positive when num_head_channels is -1");
        Check(!ClassCond || ResolvedNumClasses > 0, "num_classes must be positive for a class-conditional model");
        // Each class is a row of the label embedding: 2e9 classes would ask for terabytes before anything else runs.
        if (ResolvedNumClasses is int classes && classes > MaxNumClasses)
            Check(false, $"num_classes must be at most {MaxNumClasses} (got {classes}: its label embedding alone would take {(double)classes * 4 * NumChannels * 4 / 1e9:0.#} GB)");
        Check(SigmaMin > 0 && SigmaMax > SigmaMin, $"need 0 < sigma_min < sigma_max (got {SigmaMin}, {SigmaMax})");
        Check(SigmaData > 0, "sigma_data must be positive");
        Check(Dropout >= 0 && Dropout < 1, "dropout must be in [0, 1)");
        Check(InChannels > 0 && OutChannels > 0, "in_channels and out_channels must be positive");
        // D(x) = c_skip·x + c_out·F(x) needs F to have x's channels; upstream's KarrasDenoiser fails the same way.
        Check(!LearnSigma, "learn_sigma=true is not supported: the Karras denoiser needs out_channels == in_channels (the official code fails too)");
        Check(OutChannels == InChannels, $"out_channels ({OutChannels}) must equal in_channels ({InChannels}) for the Karras denoiser");
        return this;
    }
}
