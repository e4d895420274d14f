// Residual block with timestep conditioning (scale-shift norm or additive) — port of cm/unet.py::ResBlock.
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// Keys: <c>in_layers.{0,2}</c>, <c>emb_layers.1</c>, <c>out_layers.{0,3}</c>, <c>skip_connection</c> (only when the
/// channel count changes). Parameterless layers keep their slots so the indices match upstream.
/// </summary>
public sealed class ResBlock : nn.Module<Tensor, Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly bool _useScaleShiftNorm;
    private readonly bool _updown;
    private readonly nn.Module<Tensor, Tensor> _inRest;     // GroupNorm32 + SiLU (in_layers[:-1])
    private readonly Conv2d _inConv;                         // in_layers[-1]
    private readonly nn.Module<Tensor, Tensor>? _hUpd, _xUpd;
    private readonly Sequential _embLayers;
    private readonly GroupNorm32 _outNorm;
    private readonly Sequential _outRest;                    // SiLU, Dropout, Conv (out_layers[1:])
    private readonly Sequential _outLayers;
    private readonly Conv2d? _skip;                          // 1x1, where the channels change

    /// <summary>The kernel paths this block and its norms take (from its <see cref="UNetModel"/>).</summary>
    public KernelOptions Kernels { get; }

    /// <summary>Whether the timestep embedding scales and shifts the output norm (else it is added before it).</summary>
    public bool UseScaleShiftNorm => _useScaleShiftNorm;

    /// <summary>Nearest x2 upsampling of both paths between the input activation and conv (an "up" resblock).</summary>
    public bool Up { get; }

    /// <summary>2x2 average pooling of both paths between the input activation and conv (a "down" resblock).</summary>
    public bool Down { get; }

    public ResBlock(int channels, int embChannels, double dropout, int? outChannels = null, bool useScaleShiftNorm = false,
                    bool up = false, bool down = false, Device? device = null, KernelOptions? kernels = null) : base(nameof(ResBlock))
    {
        int outCh = outChannels ?? channels;
        Kernels = kernels ?? KernelOptions.Default;
        _useScaleShiftNorm = useScaleShiftNorm;
        _updown = up || down;
        Up = up;
        Down = down;

        var inNorm = new GroupNorm32(channels, device: device, kernels: Kernels);
        var inAct = nn.SiLU();
        _inConv = nn.Conv2d(channels, outCh, 3, padding: 1, device: device);
        var inLayers = nn.Sequential(("0", inNorm), ("1", inAct), ("2", _inConv));
        _inRest = nn.Sequential(("0", inNorm), ("1", inAct));
        register_module("in_layers", inLayers);

        if (up) { _hUpd = new Upsample(channels, false); _xUpd = new Upsample(channels, false); }
        else if (down) { _hUpd = new Downsample(channels, false); _xUpd = new Downsample(channels, false); }

        _embLayers = nn.Sequential(("0", nn.SiLU()), ("1", nn.Linear(embChannels, useScaleShiftNorm ? 2 * outCh : outCh, device: device)));
        register_module("emb_layers", _embLayers);

        _outNorm = new GroupNorm32(outCh, device: device, kernels: Kernels);
        var outConv = nn.Conv2d(outCh, outCh, 3, padding: 1, device: device);
        ZeroInit.Apply(outConv);
        var outAct = nn.SiLU();
        var drop = new Dropout(dropout, Kernels);
        _outLayers = nn.Sequential(("0", _outNorm), ("1", outAct), ("2", drop), ("3", outConv));
        _outRest = nn.Sequential(("1", outAct), ("2", drop), ("3", outConv));
        register_module("out_layers", _outLayers);

        if (outCh != channels)
        {
            _skip = nn.Conv2d(channels, outCh, 1, device: device);
            register_module("skip_connection", _skip);
        }
    }

    public override Tensor forward(Tensor x, Tensor emb)
    {
        // Intermediates are disposed as soon as they are consumed (autograd keeps its own references), so that
        // inference holds ~3 activations per block, not ~8, as PyTorch's reference counting would.
        using var scope = NewDisposeScope();
        Tensor h;
        var a = _inRest.call(x);
        if (_updown)
        {
            // Resample between the activation and the conv, on both paths (upstream order).
            var resampled = _hUpd!.call(a);
            a.Dispose();
            h = _inConv.call(resampled);
            resampled.Dispose();
            x = _xUpd!.call(x);
        }
        else
        {
            h = _inConv.call(a);
            a.Dispose();
        }

        var embRaw = _embLayers.call(emb);                                         // [N, C(x2)] float32
        Tensor EmbAsMap() => embRaw.to(h.dtype).unsqueeze(-1).unsqueeze(-1);      // [N, C(x2), 1, 1] in the torso dtype
        Tensor pre;
        if (_useScaleShiftNorm && _outNorm.FoldsScaleShift(h))
        {
            // Statistics-path norm: the scale-shift is folded into its single affine pass (float32 coefficients).
            var parts = embRaw.chunk(2, dim: 1);                                   // scale first, then shift
            pre = _outNorm.NormalizeScaleShift(h, parts[0], parts[1]);
            h.Dispose();
            h = _outRest.call(pre);
        }
        else if (_useScaleShiftNorm)
        {
            var chunks = EmbAsMap().chunk(2, dim: 1);
            var normed = _outNorm.call(h);
            h.Dispose();
            if (Kernels.FusedScaleShift && normed.dtype != ScalarType.Float32)
                pre = addcmul(chunks[1], normed, chunks[0] + 1, 1);                // one pass; fp32 keeps upstream's two ops
            else
            {
                var scaled = normed * (chunks[0] + 1);
                pre = scaled + chunks[1];
                scaled.Dispose();
            }
            normed.Dispose();
            h = _outRest.call(pre);
        }
        else
        {
            pre = h + EmbAsMap();
            h.Dispose();
            h = _outLayers.call(pre);
        }
        pre.Dispose();
        var skip = _skip is null ? x : PointwiseConvolution.Apply(_skip, x);
        var result = skip + h;
        h.Dispose();
        return result.MoveToOuterDisposeScope();
    }
}
