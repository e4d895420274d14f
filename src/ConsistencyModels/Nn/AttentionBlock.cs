// Spatial self-attention with the flash-path qkv layout (three, heads, head_dim) — port of
// cm/unet.py::AttentionBlock + QKVFlashAttention (reference §1.5; the legacy (heads, three, d) split gives garbage).
using TorchSharp;
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

    public AttentionBlock(int channels, int numHeads = 1, int numHeadChannels = -1, Device? device = null, KernelOptions? kernels = null) : base(nameof(AttentionBlock))
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
        _norm = new GroupNorm32(channels, device: device, kernels: kernels);
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
        var qkv = PointwiseConvolution.Apply(_qkv, normed);                       // [B, 3C, H, W]
        normed.Dispose();
        // Token-major [B, S, 3C]. CUDA: channels made contiguous (a view of a channels-last qkv, one copy of an NCHW
        // one, as flash-attn's packing), since a strided head dimension sends CUDA's SDPA to its math kernel (~25x
        // slower, measured on an H100). CPU: a plain view, which keeps the attention kernel and rounding that the
        // parity fixtures were matched with (fp32 loss gradients included).
        var tokens = x.device_type == DeviceType.CUDA
            ? qkv.permute(0, 2, 3, 1).contiguous().view(b, hgt * wid, 3 * c)
            : qkv.reshape(b, 3 * c, hgt * wid).transpose(1, 2);
        qkv.Dispose();
        var attended = AttendTokens(tokens);                                      // [B, S, C]
        tokens.Dispose();
        var h = attended.view(b, hgt, wid, c).permute(0, 3, 1, 2);                // [B, C, H, W] with channels-last strides
        if (!MemoryLayout.IsChannelsLast(x)) h = h.contiguous();                  // an NCHW model stays NCHW
        var projected = PointwiseConvolution.Apply(_projOut, h);
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
        var tokens = qkv.device_type == DeviceType.CUDA ? qkv.transpose(1, 2).contiguous() : qkv.transpose(1, 2);
        return AttendTokens(tokens).transpose(1, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attention on token-major qkv [B, S, 3C] (channels (three, heads, d)) -> [B, S, C]. q, k and v are [B, h, S, d]
    /// views whose last dimension is contiguous: what the fused (flash / memory-efficient) SDPA kernels need; a
    /// strided head dimension sends CUDA to the unfused math kernel, which materialises the S x S scores in float32.
    /// </summary>
    private Tensor AttendTokens(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0], s = tokens.shape[1], c = tokens.shape[2] / 3, d = c / _heads;
        var r = tokens.view(b, s, 3, _heads, d);
        var a = nn.functional.scaled_dot_product_attention(                       // [B, h, S, d]
            r.select(2, 0).transpose(1, 2), r.select(2, 1).transpose(1, 2), r.select(2, 2).transpose(1, 2));
        return a.transpose(1, 2).reshape(b, s, c).MoveToOuterDisposeScope();
    }
}
