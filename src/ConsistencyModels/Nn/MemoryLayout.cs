// Channels-last (NHWC) strides for 4-D tensors. TorchSharp 0.107 exposes no memory_format argument, but libtorch
// picks its layout from the strides, so permute -> contiguous -> permute back yields the same tensor as
// x.contiguous(memory_format=torch.channels_last).
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

public static class MemoryLayout
{
    public static Tensor ToChannelsLast(Tensor x)
    {
        if (x.dim() != 4) return x;
        using var nhwc = x.permute(0, 2, 3, 1).contiguous();
        return nhwc.permute(0, 3, 1, 2);
    }

    public static bool IsChannelsLast(Tensor x)
    {
        if (x.dim() != 4) return false;
        var st = x.stride();
        long c = x.shape[1], w = x.shape[3];
        return st[1] == 1 && (x.shape[3] == 1 || st[3] == c) && (x.shape[2] == 1 || st[2] == c * w);
    }
}
