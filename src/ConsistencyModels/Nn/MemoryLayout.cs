// Channels-last (NHWC) strides for 4-D tensors. TorchSharp 0.107 exposes no memory_format argument, but libtorch
// picks its layout from the strides, so a tensor with NHWC strides is what x.contiguous(memory_format=channels_last) gives.
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

public static class MemoryLayout
{
    /// <summary>Whether <paramref name="x"/> already has exactly the strides <see cref="ToChannelsLast"/> gives (so a copy would change nothing).</summary>
    public static bool HasChannelsLastStrides(Tensor x)
    {
        if (x.dim() != 4) return true;
        long c = x.shape[1], h = x.shape[2], w = x.shape[3];
        return x.stride().SequenceEqual([h * w * c, 1, w * c, c]);
    }

    public static Tensor ToChannelsLast(Tensor x)
    {
        if (x.dim() != 4) return x;
        // A fresh tensor with NHWC strides, not a permuted view: a view made under no_grad cannot be a parameter that
        // the optimiser updates in place while autograd is recording.
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var result = empty_strided([n, c, h, w], [h * w * c, 1, w * c, c], dtype: x.dtype, device: x.device);
        using (no_grad()) result.copy_(x);
        return result;
    }

    public static bool IsChannelsLast(Tensor x)
    {
        if (x.dim() != 4) return false;
        var st = x.stride();
        long c = x.shape[1], w = x.shape[3];
        return st[1] == 1 && (x.shape[3] == 1 || st[3] == c) && (x.shape[2] == 1 || st[2] == c * w);
    }
}
