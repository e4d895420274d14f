// The ADM UNet used by every released consistency model — port of cm/unet.py::UNetModel (reference §1.6).
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// Takes the preconditioned input c_in·x, the noise level as <c>250·ln σ</c> and optional class labels, and returns
/// the raw network output F. Module names are the state_dict keys of the official checkpoints.
/// </summary>
public sealed class UNetModel : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly Sequential _timeEmbed;
    private readonly Embedding? _labelEmb;
    private readonly ModuleList<TimestepEmbedSequential> _inputBlocks;
    private readonly TimestepEmbedSequential _middleBlock;
    private readonly ModuleList<TimestepEmbedSequential> _outputBlocks;
    private readonly Sequential _out;

    public ModelConfig Config { get; }

    /// <summary>The kernel paths of every block (fixed at construction; <see cref="KernelOptions.Default"/> unless given).</summary>
    public KernelOptions Kernels { get; }

    /// <summary>dtype of the convolutions in input/middle/output blocks (the official fp16 "torso"); float32 by default.</summary>
    public ScalarType TorsoDtype { get; private set; } = ScalarType.Float32;

    /// <summary>Whether torso activations and conv weights use the channels-last (NHWC) memory layout.</summary>
    public bool ChannelsLast { get; private set; }

    public UNetModel(ModelConfig config, Device? device = null, KernelOptions? kernels = null) : base(nameof(UNetModel))
    {
        Config = config.Validate();
        Kernels = kernels ?? KernelOptions.Default;
        int mc = config.NumChannels, embDim = 4 * mc;
        var mult = config.ResolvedChannelMult;
        var attnDs = config.AttentionDownsampleFactors;
        int headsUp = config.NumHeadsUpsample == -1 ? config.NumHeads : config.NumHeadsUpsample;
        double p = config.Dropout;
        bool ss = config.UseScaleShiftNorm;

        _timeEmbed = nn.Sequential(("0", nn.Linear(mc, embDim, device: device)), ("1", nn.SiLU()), ("2", nn.Linear(embDim, embDim, device: device)));
        register_module("time_embed", _timeEmbed);
        if (config.ResolvedNumClasses is int numClasses)
        {
            _labelEmb = nn.Embedding(numClasses, embDim, device: device);
            register_module("label_emb", _labelEmb);
        }

        // Encoder.
        int ch = mult[0] * mc, inputCh = ch, ds = 1;
        var inputBlocks = new List<TimestepEmbedSequential> { new(nn.Conv2d(config.InChannels, ch, 3, padding: 1, device: device)) };
        var skipChannels = new Stack<int>([ch]);
        for (int level = 0; level < mult.Count; level++)
        {
            for (int i = 0; i < config.NumResBlocks; i++)
            {
                var layers = new List<nn.Module> { new ResBlock(ch, embDim, p, mult[level] * mc, ss, device: device, kernels: Kernels) };
                ch = mult[level] * mc;
                if (attnDs.Contains(ds)) layers.Add(new AttentionBlock(ch, config.NumHeads, config.NumHeadChannels, device, Kernels));
                inputBlocks.Add(new TimestepEmbedSequential([.. layers]));
                skipChannels.Push(ch);
            }
            if (level != mult.Count - 1)
            {
                inputBlocks.Add(new TimestepEmbedSequential(config.ResblockUpdown
                    ? new ResBlock(ch, embDim, p, ch, ss, down: true, device: device, kernels: Kernels)
                    : new Downsample(ch, true, ch, device)));
                skipChannels.Push(ch);
                ds *= 2;
            }
        }
        _inputBlocks = new ModuleList<TimestepEmbedSequential>([.. inputBlocks]);
        register_module("input_blocks", _inputBlocks);

        // Bottleneck.
        _middleBlock = new TimestepEmbedSequential(
            new ResBlock(ch, embDim, p, ch, ss, device: device, kernels: Kernels),
            new AttentionBlock(ch, config.NumHeads, config.NumHeadChannels, device, Kernels),
            new ResBlock(ch, embDim, p, ch, ss, device: device, kernels: Kernels));
        register_module("middle_block", _middleBlock);

        // Decoder.
        var outputBlocks = new List<TimestepEmbedSequential>();
        for (int level = mult.Count - 1; level >= 0; level--)
        {
            for (int i = 0; i <= config.NumResBlocks; i++)
            {
                int ich = skipChannels.Pop();
                var layers = new List<nn.Module> { new ResBlock(ch + ich, embDim, p, mc * mult[level], ss, device: device, kernels: Kernels) };
                ch = mc * mult[level];
                if (attnDs.Contains(ds)) layers.Add(new AttentionBlock(ch, headsUp, config.NumHeadChannels, device, Kernels));
                if (level > 0 && i == config.NumResBlocks)
                {
                    layers.Add(config.ResblockUpdown
                        ? new ResBlock(ch, embDim, p, ch, ss, up: true, device: device, kernels: Kernels)
                        : new Upsample(ch, true, ch, device));
                    ds /= 2;
                }
                outputBlocks.Add(new TimestepEmbedSequential([.. layers]));
            }
        }
        _outputBlocks = new ModuleList<TimestepEmbedSequential>([.. outputBlocks]);
        register_module("output_blocks", _outputBlocks);

        var outConv = nn.Conv2d(inputCh, config.ResolvedOutChannels, 3, padding: 1, device: device);
        ZeroInit.Apply(outConv);
        _outNorm = new GroupNorm32(ch, device: device, kernels: Kernels);
        _outConv = outConv;
        _out = nn.Sequential(("0", _outNorm), ("1", nn.SiLU()), ("2", outConv));
        register_module("out", _out);

        // oneDNN is wrong at channel tails on some CPUs (see there): the out conv is handled in Forward; the first conv's
        // input gradient is never taken; any other tail switches oneDNN off for the process.
        Runtime.TorchRuntime.EnsureSoundCpuConvolutions("the UNet", named_modules()
            .Where(m => m.module is Conv2d && m.name != "out.2")
            .Select(m => (m.name, ((Conv2d)m.module).weight!.shape[1], ((Conv2d)m.module).weight!.shape[0], m.name != "input_blocks.0.0")));
    }

    private readonly GroupNorm32 _outNorm;
    private readonly Conv2d _outConv;

    /// <summary>
    /// The out block where oneDNN's input gradients are wrong at output-channel tails on this CPU
    /// (<see cref="Runtime.TorchRuntime.CpuConvolutionChannelTailsWrong"/>) and one will be taken: the conv runs with
    /// zero filters appended up to a whole channel block and the extra channels dropped (the same values; right
    /// gradients). Null where the plain out block is right.
    /// </summary>
    private Tensor? OutWithBlockPaddedChannels(Tensor h)
    {
        var weight = _outConv.weight!;
        long extra = (Runtime.TorchRuntime.ConvolutionChannelBlock - weight.shape[0] % Runtime.TorchRuntime.ConvolutionChannelBlock) % Runtime.TorchRuntime.ConvolutionChannelBlock;
        if (extra == 0 || !h.requires_grad || h.device_type != TorchSharp.DeviceType.CPU || !Runtime.TorchRuntime.CpuConvolutionChannelTailsWrong) return null;
        var a = nn.functional.silu(_outNorm.call(h));
        var paddedWeight = nn.functional.pad(weight, [0, 0, 0, 0, 0, 0, 0, extra]);
        var paddedBias = _outConv.bias is { } b ? nn.functional.pad(b, [0, extra]) : null;
        return nn.functional.conv2d(a, paddedWeight, paddedBias, padding: [1, 1]).narrow(1, 0, weight.shape[0]).contiguous();
    }

    /// <summary>Runs the network: x [N, C, H, W] (already c_in-scaled), timesteps [N] (= 250·ln σ), y [N] int64 or null.</summary>
    public override Tensor forward(Tensor x, Tensor timesteps, Tensor? y) => Forward(x, timesteps, y, observe: null);

    /// <summary>
    /// The forward pass, optionally reporting each top-level module's output under its upstream name
    /// ("time_embed", "label_emb", "input_blocks.3", "middle_block", "output_blocks.7", "out") for parity checks.
    /// Tensors passed to <paramref name="observe"/> are disposed after the call; clone to keep them.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timesteps, Tensor? y, Action<string, Tensor>? observe)
    {
        if (_labelEmb is not null && y is null)
            throw new ArgumentException("this model is class-conditional: class labels (y) are required");
        if (_labelEmb is null && y is not null)
            throw new ArgumentException("this model is unconditional: do not pass class labels");
        if (x.dim() != 4 || x.shape[1] != Config.InChannels || x.shape[2] != Config.ImageSize || x.shape[3] != Config.ImageSize)
            throw new ArgumentException($"UNet input must be [N, {Config.InChannels}, {Config.ImageSize}, {Config.ImageSize}], got [{string.Join(", ", x.shape)}]");

        using var scope = NewDisposeScope();
        // Mapping.
        var emb = _timeEmbed.call(TimestepEmbedding.Compute(timesteps, Config.NumChannels));
        observe?.Invoke("time_embed", emb);
        if (_labelEmb is not null)
        {
            var label = _labelEmb.call(y!);
            observe?.Invoke("label_emb", label);
            emb = emb + label;
        }

        // Encoder.
        var hs = new List<Tensor>();
        var h = x.to(TorsoDtype);
        if (ChannelsLast) h = MemoryLayout.ToChannelsLast(h);
        for (int i = 0; i < _inputBlocks.Count; i++)
        {
            h = _inputBlocks[i].call(h, emb);
            observe?.Invoke($"input_blocks.{i}", h);
            hs.Add(h);
        }
        h = _middleBlock.call(h, emb);
        observe?.Invoke("middle_block", h);
        // Decoder: current h first, skip second. Free each activation as soon as it is consumed: the dispose scope
        // alone would keep every decoder activation alive until the end of the pass (GBs at 256 px).
        for (int i = 0; i < _outputBlocks.Count; i++)
        {
            var skip = hs[^1];
            hs.RemoveAt(hs.Count - 1);
            var joined = cat([h, skip], dim: 1);
            var next = _outputBlocks[i].call(joined, emb);
            joined.Dispose();
            if (!ReferenceEquals(skip, x)) skip.Dispose();
            if (!ReferenceEquals(h, x) && !hs.Contains(h)) h.Dispose();
            h = next;
            observe?.Invoke($"output_blocks.{i}", h);
        }
        h = h.to(x.dtype);
        var result = OutWithBlockPaddedChannels(h) ?? _out.call(h);
        observe?.Invoke("out", result);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Casts the convolution weights of input_blocks, middle_block and output_blocks to <paramref name="dtype"/>, as the
    /// official <c>convert_to_fp16</c> does: time/label embeddings, every Linear, every GroupNorm (which computes in
    /// float32 anyway) and the final <c>out</c> block stay float32; activations are cast on entry and exit of the torso.
    /// With <paramref name="channelsLast"/> the torso weights and activations use the NHWC layout (oneDNN's fast path).
    /// </summary>
    /// <remarks>Weights already in <paramref name="dtype"/> (and NHWC, with <paramref name="channelsLast"/>) are kept as they
    /// are: a model whose weights were converted while loading (<c>ModelWeights</c>) is not copied a second time.</remarks>
    public UNetModel ConvertTorso(ScalarType dtype, bool channelsLast)
    {
        using var _ = no_grad();
        foreach (var (name, module) in named_modules())
        {
            if (module is not Conv2d conv || !IsTorsoModule(name)) continue;
            var weight = conv.weight!;
            if (weight.dtype != dtype || (channelsLast && !MemoryLayout.HasChannelsLastStrides(weight)))
            {
                var w = weight.to(dtype);
                if (channelsLast) w = MemoryLayout.ToChannelsLast(w);
                conv.weight = new Parameter(w, requires_grad: weight.requires_grad);
            }
            if (conv.bias is { } b && b.dtype != dtype) conv.bias = new Parameter(b.to(dtype), requires_grad: b.requires_grad);
        }
        TorsoDtype = dtype;
        ChannelsLast = channelsLast;
        return this;
    }

    /// <summary>Whether the module named <paramref name="name"/> (a <c>named_modules()</c> path) is in the torso that
    /// <see cref="ConvertTorso"/> converts: input_blocks, middle_block, output_blocks.</summary>
    public static bool IsTorsoModule(string name) =>
        name.StartsWith("input_blocks.", StringComparison.Ordinal) || name.StartsWith("middle_block.", StringComparison.Ordinal) ||
        name.StartsWith("output_blocks.", StringComparison.Ordinal);

    /// <summary>Number of parameters (elements), e.g. 295,899,267 for ImageNet-64.</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());
}
