// A small builder of ONNX graphs over OnnxSharp's generated protobuf classes (onnx/onnx.proto, IR version 8).
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace ConsistencyModels.Export;

/// <summary>
/// Appends nodes in topological order (each call returns its output's name) and holds the initializers. Names of
/// weights are their state_dict keys, so an exported file reads like the checkpoint it came from.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly Dictionary<string, string> _constants = [];
    private int _next;

    public GraphProto Proto { get; } = new();

    /// <summary>Bytes of initializer data so far (protobuf caps one message at 2 GB).</summary>
    public long InitializerBytes { get; private set; }

    public OnnxGraph(string name) => Proto.Name = name;

    /// <summary>One node with one output; attributes are (name, int | long | float | string | long[] | float[]).</summary>
    public string Op(string opType, string[] inputs, string hint, params (string Name, object Value)[] attributes) =>
        Ops(opType, inputs, 1, hint, attributes)[0];

    /// <summary>One node with <paramref name="outputs"/> outputs.</summary>
    public string[] Ops(string opType, string[] inputs, int outputs, string hint, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{hint}/{opType}_{_next}" };
        node.Input.AddRange(inputs);
        var names = new string[outputs];
        for (int i = 0; i < outputs; i++) names[i] = $"{hint}/{opType}_{_next}" + (outputs > 1 ? $":{i}" : "");
        _next++;
        node.Output.AddRange(names);
        foreach (var (name, value) in attributes) node.Attribute.Add(Attribute(name, value));
        Proto.Node.Add(node);
        return names;
    }

    /// <summary>A float32 initializer named <paramref name="name"/>.</summary>
    public string Initializer(string name, ReadOnlySpan<float> data, long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(data), dims);

    /// <summary>A float16 initializer (IEEE half bits) named <paramref name="name"/>.</summary>
    public string Initializer(string name, ReadOnlySpan<Half> data, long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Float16, MemoryMarshal.AsBytes(data), dims);

    /// <summary>An int64 constant (shapes, axes, split sizes), shared by every node that uses the same values.</summary>
    public string Int64s(params long[] values)
    {
        string key = "i64:" + string.Join(",", values);
        if (_constants.TryGetValue(key, out var name)) return name;
        name = $"const_i64_{_constants.Count}";
        AddInitializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()), [values.Length]);
        return _constants[key] = name;
    }

    /// <summary>An int64 scalar constant (rank 0: a Gather index that drops its axis).</summary>
    public string Int64Scalar(long value)
    {
        string key = "i64s:" + value;
        if (_constants.TryGetValue(key, out var name)) return name;
        name = $"const_i64s_{_constants.Count}";
        AddInitializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), []);
        return _constants[key] = name;
    }

    /// <summary>A float32 vector constant (e.g. Resize scales), shared like <see cref="Int64s"/>.</summary>
    public string Float32s(params float[] values)
    {
        string key = "f32v:" + string.Join(",", values.Select(v => BitConverter.SingleToInt32Bits(v)));
        if (_constants.TryGetValue(key, out var name)) return name;
        name = $"const_f32v_{_constants.Count}";
        AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values.AsSpan()), [values.Length]);
        return _constants[key] = name;
    }

    /// <summary>A float32 scalar constant (rank 0), shared like <see cref="Int64s"/>.</summary>
    public string Scalar(float value)
    {
        string key = "f32:" + BitConverter.SingleToInt32Bits(value);
        if (_constants.TryGetValue(key, out var name)) return name;
        name = $"const_f32_{_constants.Count}";
        AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), []);
        return _constants[key] = name;
    }

    /// <summary>A float16 scalar constant (rank 0), shared like <see cref="Int64s"/>.</summary>
    public string Half(float value)
    {
        var h = (System.Half)value;
        string key = "f16:" + BitConverter.HalfToInt16Bits(h);
        if (_constants.TryGetValue(key, out var name)) return name;
        name = $"const_f16_{_constants.Count}";
        AddInitializer(name, TensorProto.Types.DataType.Float16, MemoryMarshal.AsBytes(new[] { h }.AsSpan()), []);
        return _constants[key] = name;
    }

    /// <summary>Declares a graph input or output: element type and dims, a string dim being symbolic (e.g. "batch").</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s }
                                        : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private string AddInitializer(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> raw, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        tensor.Dims.AddRange(dims);
        Proto.Initializer.Add(tensor);
        InitializerBytes += raw.Length;
        return name;
    }

    private static AttributeProto Attribute(string name, object value) => value switch
    {
        int i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        long l => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = l },
        float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
        string s => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
        long[] ls => WithInts(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints }, ls),
        float[] fs => WithFloats(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats }, fs),
        _ => throw new ArgumentException($"ONNX attribute {name}: unsupported value type {value.GetType().Name}"),
    };

    private static AttributeProto WithInts(AttributeProto a, long[] values) { a.Ints.AddRange(values); return a; }
    private static AttributeProto WithFloats(AttributeProto a, float[] values) { a.Floats.AddRange(values); return a; }
}
