// Nearest x2 upsampling and x2 downsampling, each with an optional conv — port of cm/unet.py::Upsample / Downsample.
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>Nearest-neighbour x2, then a 3x3 conv (key <c>conv</c>) when <c>useConv</c>.</summary>
public sealed class Upsample : nn.Module<Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly Conv2d? _conv;

    public Upsample(int channels, bool useConv, int? outChannels = null, Device? device = null) : base(nameof(Upsample))
    {
        if (useConv)
        {
            _conv = nn.Conv2d(channels, outChannels ?? channels, 3, padding: 1, device: device);
            register_module("conv", _conv);
        }
    }

    /// <summary>Whether a 3x3 conv (key <c>conv</c>) follows the upsampling.</summary>
    public bool HasConv => _conv is not null;

    public override Tensor forward(Tensor x)
    {
        var up = nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        if (_conv is null) return up;
        using (up) return _conv.call(up);
    }
}

/// <summary>Stride-2 3x3 conv (key <c>op</c>) when <c>useConv</c>, else 2x2 average pooling.</summary>
public sealed class Downsample : nn.Module<Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly Conv2d? _conv;

    public Downsample(int channels, bool useConv, int? outChannels = null, Device? device = null) : base(nameof(Downsample))
    {
        if (useConv)
        {
            _conv = nn.Conv2d(channels, outChannels ?? channels, 3, stride: 2, padding: 1, device: device);
            register_module("op", _conv);
        }
    }

    /// <summary>Whether the block is a stride-2 conv (key <c>op</c>) rather than average pooling.</summary>
    public bool HasConv => _conv is not null;

    public override Tensor forward(Tensor x) =>
        _conv is null ? nn.functional.avg_pool2d(x, 2, 2) : _conv.call(x);
}
