using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>One tensor element type as the three formats name it.</summary>
/// <param name="StorageName">PyTorch's legacy storage class in module <c>torch</c> (what torch.save pickles).</param>
/// <param name="SafetensorsName">The safetensors header's dtype string.</param>
internal sealed record DtypeInfo(ScalarType Type, int ElementSize, string StorageName, string SafetensorsName);

/// <summary>The element types both readers and writers support (all stored little-endian).</summary>
internal static class TensorDtypes
{
    public static readonly IReadOnlyList<DtypeInfo> All =
    [
        new(ScalarType.Float32, 4, "FloatStorage", "F32"),
        new(ScalarType.Float16, 2, "HalfStorage", "F16"),
        new(ScalarType.BFloat16, 2, "BFloat16Storage", "BF16"),
        new(ScalarType.Float64, 8, "DoubleStorage", "F64"),
        new(ScalarType.Int64, 8, "LongStorage", "I64"),
        new(ScalarType.Int32, 4, "IntStorage", "I32"),
        new(ScalarType.Int16, 2, "ShortStorage", "I16"),
        new(ScalarType.Int8, 1, "CharStorage", "I8"),
        new(ScalarType.Byte, 1, "ByteStorage", "U8"),
        new(ScalarType.Bool, 1, "BoolStorage", "BOOL"),
    ];

    public static DtypeInfo? FromStorageName(string name) => All.FirstOrDefault(d => d.StorageName == name);

    public static DtypeInfo? FromSafetensorsName(string name) => All.FirstOrDefault(d => d.SafetensorsName == name);

    /// <summary>The entry for <paramref name="type"/>, or an exception naming the supported types (for writers).</summary>
    public static DtypeInfo Of(ScalarType type, string what) =>
        All.FirstOrDefault(d => d.Type == type)
        ?? throw new ArgumentException($"{what}: dtype {type} is not supported (supported: {string.Join(", ", All.Select(d => d.Type))})");

    /// <summary>Element count of <paramref name="shape"/>, or an exception when it is negative or overflows.</summary>
    public static long Numel(IReadOnlyList<long> shape, string what)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new CheckpointFormatException($"{what}: negative dimension in shape [{string.Join(", ", shape)}]");
            try { n = checked(n * d); }
            catch (OverflowException) { throw new CheckpointFormatException($"{what}: shape [{string.Join(", ", shape)}] is too large"); }
        }
        return n;
    }

    public static long ByteCount(IReadOnlyList<long> shape, DtypeInfo dtype, string what)
    {
        try { return checked(Numel(shape, what) * dtype.ElementSize); }
        catch (OverflowException) { throw new CheckpointFormatException($"{what}: shape [{string.Join(", ", shape)}] is too large"); }
    }
}
