using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Numpy;

/// <summary>
/// One numpy array: little-endian, C-order raw bytes plus dtype and shape.
/// Record equality compares <see cref="Shape"/> and <see cref="Data"/> by reference (arrays);
/// use <see cref="ContentEquals"/> to compare contents.
/// </summary>
public sealed record NpyArray
{
    public NpyArray(string name, NpyDtype dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Any(d => d < 0))
            throw new ArgumentException($"Array '{name}': negative dimension in shape ({string.Join(", ", shape)}).", nameof(shape));
        var expected = checked(ElementCountOf(shape) * dtype.ItemSize());
        if (data.LongLength != expected)
            throw new ArgumentException(
                $"Array '{name}': {data.LongLength} bytes do not match shape ({string.Join(", ", shape)}) of {dtype.Descr()} ({expected} bytes).",
                nameof(data));
        Name = name;
        Dtype = dtype;
        Shape = shape;
        Data = data;
    }

    /// <summary>Key in an npz archive (the entry name without ".npy").</summary>
    public string Name { get; }
    public NpyDtype Dtype { get; }
    public long[] Shape { get; }
    /// <summary>Raw element bytes, little-endian, C order.</summary>
    public byte[] Data { get; }

    public string Descr => Dtype.Descr();
    public long ElementCount => ElementCountOf(Shape);

    /// <summary>Builds an array from typed values (dtype follows <typeparamref name="T"/>).</summary>
    public static NpyArray Create<T>(string name, ReadOnlySpan<T> values, params long[] shape) where T : unmanaged
        => new(name, NpyDtypeExtensions.Of<T>(), shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>The elements as <typeparamref name="T"/>, which must match <see cref="Dtype"/>.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var wanted = NpyDtypeExtensions.Of<T>();
        if (wanted != Dtype)
            throw new InvalidOperationException($"Array '{Name}' is {Descr}, not {wanted.Descr()}.");
        return MemoryMarshal.Cast<byte, T>(Data).ToArray();
    }

    public bool ContentEquals(NpyArray other)
        => Name == other.Name && Dtype == other.Dtype && Shape.AsSpan().SequenceEqual(other.Shape) && Data.AsSpan().SequenceEqual(other.Data);

    /// <summary>Copies a tensor (any device, any strides) into an array.</summary>
    public static NpyArray FromTensor(string name, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var dtype = NpyDtypeExtensions.FromScalarType(t.dtype);
        using var scope = NewDisposeScope();
        var cpu = t.detach().cpu().contiguous();
        // bytes is a view of native memory; ToArray copies it before the scope frees the tensor.
        return new NpyArray(name, dtype, t.shape, cpu.bytes.ToArray());
    }

    /// <summary>A new CPU tensor holding a copy of the data.</summary>
    public Tensor ToTensor()
    {
        var t = empty(Shape, Dtype.ToScalarType());
        if (Data.Length > 0)
            t.bytes = Data;
        return t;
    }

    internal static long ElementCountOf(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
            n = checked(n * d);
        return n;
    }
}
