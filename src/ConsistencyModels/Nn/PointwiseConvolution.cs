// A 1x1 convolution of a channels-last CPU tensor as the matrix product it is: [N·H·W, C] × [C, O] (+ bias).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// The UNet's 1x1 convolutions (<c>skip_connection</c>, <c>qkv</c>, <c>proj_out</c>). On the CPU with channels-last
/// activations libtorch 2.10 hands them to oneDNN's brgemm 1x1 kernel, whose blocking heuristic divides by zero for
/// some shapes: the process dies of SIGFPE, nothing to catch (seen on an AMD EPYC Zen 5 VM with 2-4 threads: 512 -> 1024
/// and 1024 -> 512 channels at 8-32 px, batch 1-2, so every LSUN-256 model; of 23 channel pairs tried, from
/// ImageNet-64's 192 -> 384 to the qkv's 1024 -> 3072, only these two). There the product of the NHWC rows with the
/// weight matrix computes the same function without that kernel, and its output keeps channels-last strides.
/// Elsewhere (GPUs, NCHW, which oneDNN runs with another kernel) the module runs as it is.
/// </summary>
internal static class PointwiseConvolution
{
    /// <summary><paramref name="conv"/> (built with kernel 1, stride 1, no padding, one group) applied to <paramref name="x"/>.</summary>
    public static Tensor Apply(Conv2d conv, Tensor x)
    {
        if (!UsesMatrixProduct(conv, x)) return conv.call(x);
        using var scope = NewDisposeScope();
        var weight = conv.weight!;
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], o = weight.shape[0];
        var rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c);                   // a view of NHWC memory
        var matrix = weight.reshape(o, c).t();
        var y = conv.bias is { } bias ? addmm(bias, rows, matrix, 1, 1) : rows.mm(matrix);
        return y.view(n, h, w, o).permute(0, 3, 1, 2).MoveToOuterDisposeScope();  // [N, O, H, W] with NHWC strides
    }

    /// <summary>Whether <see cref="Apply"/> computes a matrix product (a 1x1 kernel over as many channels as
    /// <paramref name="x"/> has, on a channels-last CPU tensor) rather than calling the module.</summary>
    internal static bool UsesMatrixProduct(Conv2d conv, Tensor x)
    {
        var weight = conv.weight!;
        return x.device_type == DeviceType.CPU && x.dim() == 4 && weight.shape[2] == 1 && weight.shape[3] == 1
               && weight.shape[1] == x.shape[1] && MemoryLayout.IsChannelsLast(x);
    }
}
