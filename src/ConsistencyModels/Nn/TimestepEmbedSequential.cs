// Sequential whose children may take the timestep embedding — port of cm/unet.py::TimestepEmbedSequential.
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>Children are registered as "0", "1", ... so their keys match upstream.</summary>
public sealed class TimestepEmbedSequential : nn.Module<Tensor, Tensor, Tensor>
{
    // Keys are registered explicitly with upstream names; no reflection over private fields.
    protected override void RegisterComponents() { }

    private readonly nn.Module[] _layers;

    public TimestepEmbedSequential(params nn.Module[] layers) : base(nameof(TimestepEmbedSequential))
    {
        _layers = layers;
        for (int i = 0; i < layers.Length; i++)
            register_module(i.ToString(), layers[i]);
    }

    public IReadOnlyList<nn.Module> Layers => _layers;

    public override Tensor forward(Tensor x, Tensor emb)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in _layers)
        {
            x = layer switch
            {
                nn.Module<Tensor, Tensor, Tensor> withEmb => withEmb.call(x, emb),
                nn.Module<Tensor, Tensor> plain => plain.call(x),
                _ => throw new InvalidOperationException($"unsupported layer {layer.GetType().Name}"),
            };
        }
        return x.MoveToOuterDisposeScope();
    }
}
