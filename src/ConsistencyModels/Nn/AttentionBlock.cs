// Spatial self-attention with the flash-path qkv layout (three, heads, head_dim) — port of
// cm/unet.py::AttentionBlock + QKVFlashAttention (reference §1.5; the legacy (heads, three, d) split gives garbage).
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>Keys: <c>norm</c>, <c>qkv</c> (1x1 conv, [3C, C, 1, 1]), <c>proj_out</c> (1x1 conv).</summary>
public sealed class AttentionBlock : nn.Module<Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly int _heads;
    private readonly GroupNorm32 _norm;
    private readonly Conv2d _qkv;
    private readonly Conv2d _projOut;

    public AttentionBlock(int channels, int numHeads = 1, int numHeadChannels = -1, Device? device = null) : base(nameof(AttentionBlock))
    {
        if (numHeadChannels == -1) _heads = numHeads;
        else
        {
            if (channels % numHeadChannels != 0)
                throw new ArgumentException($"attention: {channels} channels are not divisible by num_head_channels {numHeadChannels}");
            _heads = channels / numHeadChannels;
        }
        if (channels % _heads != 0)
            throw new ArgumentException($"attention: {channels} channels are not divisible by {_heads} heads");
        _norm = new GroupNorm32(channels, device: device);
        _qkv = nn.Conv2d(channels, 3 * channels, 1, device: device);
        _projOut = nn.Conv2d(channels, channels, 1, device: device);
        ZeroInit.Apply(_projOut);
        register_module("norm", _norm);
        register_module("qkv", _qkv);
        register_module("proj_out", _projOut);
    }

    public int Heads => _heads;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], hgt = x.shape[2], wid = x.shape[3];
        var normed = _norm.call(x);
        var qkv = _qkv.call(normed);                                              // [B, 3C, H, W]
        normed.Dispose();
        var attended = Attention(qkv.reshape(b, 3 * c, hgt * wid));               // [B, C, S]
        qkv.Dispose();
        var h = attended.view(b, c, hgt, wid);
        var projected = _projOut.call(h);
        attended.Dispose(); h.Dispose();
        return (x + projected).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The attention core on a [B, 3C, S] qkv tensor, as QKVFlashAttention: channels laid out (three, heads, head_dim),
    /// softmax(q·kᵀ/√d)·v per head, output [B, C, S] with channel = head·d + i ("b s h d -> b (h d) s").
    /// </summary>
    public Tensor Attention(Tensor qkv)
    {
        using var scope = NewDisposeScope();
        long b = qkv.shape[0], c = qkv.shape[1] / 3, s = qkv.shape[2], d = c / _heads;
        var r = qkv.reshape(b, 3, _heads, d, s);                                  // [B, three, h, d, S]
        var a = nn.functional.scaled_dot_product_attention(                       // [B, h, S, d]
            r.select(1, 0).transpose(2, 3), r.select(1, 1).transpose(2, 3), r.select(1, 2).transpose(2, 3));
        return a.transpose(2, 3).reshape(b, c, s).MoveToOuterDisposeScope();
    }
}
