using static TorchSharp.torch;

namespace ConsistencyModels.IO.Numpy;

/// <summary>The little-endian numpy dtypes this project reads and writes.</summary>
public enum NpyDtype
{
    UInt8,
    Int8,
    Int16,
    Int32,
    Int64,
    Float16,
    Float32,
    Float64,
    Bool,
}

public static class NpyDtypeExtensions
{
    /// <summary>The numpy <c>descr</c> string numpy itself writes ('|' for one-byte types, '&lt;' otherwise).</summary>
    public static string Descr(this NpyDtype dtype) => dtype switch
    {
        NpyDtype.UInt8 => "|u1",
        NpyDtype.Int8 => "|i1",
        NpyDtype.Int16 => "<i2",
        NpyDtype.Int32 => "<i4",
        NpyDtype.Int64 => "<i8",
        NpyDtype.Float16 => "<f2",
        NpyDtype.Float32 => "<f4",
        NpyDtype.Float64 => "<f8",
        NpyDtype.Bool => "|b1",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static int ItemSize(this NpyDtype dtype) => dtype switch
    {
        NpyDtype.UInt8 or NpyDtype.Int8 or NpyDtype.Bool => 1,
        NpyDtype.Int16 or NpyDtype.Float16 => 2,
        NpyDtype.Int32 or NpyDtype.Float32 => 4,
        NpyDtype.Int64 or NpyDtype.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static ScalarType ToScalarType(this NpyDtype dtype) => dtype switch
    {
        NpyDtype.UInt8 => ScalarType.Byte,
        NpyDtype.Int8 => ScalarType.Int8,
        NpyDtype.Int16 => ScalarType.Int16,
        NpyDtype.Int32 => ScalarType.Int32,
        NpyDtype.Int64 => ScalarType.Int64,
        NpyDtype.Float16 => ScalarType.Float16,
        NpyDtype.Float32 => ScalarType.Float32,
        NpyDtype.Float64 => ScalarType.Float64,
        NpyDtype.Bool => ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static NpyDtype FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Byte => NpyDtype.UInt8,
        ScalarType.Int8 => NpyDtype.Int8,
        ScalarType.Int16 => NpyDtype.Int16,
        ScalarType.Int32 => NpyDtype.Int32,
        ScalarType.Int64 => NpyDtype.Int64,
        ScalarType.Float16 => NpyDtype.Float16,
        ScalarType.Float32 => NpyDtype.Float32,
        ScalarType.Float64 => NpyDtype.Float64,
        ScalarType.Bool => NpyDtype.Bool,
        _ => throw new NotSupportedException($"Tensor dtype {type} has no numpy equivalent supported here."),
    };

    /// <summary>
    /// Parses a numpy descr. Accepts '|', '&lt;' and '=' (native, little-endian on every host we run on)
    /// byte orders, plus the bare forms ("u1", "f4"); big-endian and structured dtypes are rejected.
    /// </summary>
    public static NpyDtype ParseDescr(string descr)
    {
        var d = descr;
        if (d.Length == 3 && d[0] is '|' or '<' or '=')
            d = d[1..];
        else if (d.Length == 3 && d[0] == '>')
            throw new NotSupportedException($"Big-endian numpy dtype '{descr}' is not supported; convert with arr.astype('<{descr[1..]}') first.");
        return d switch
        {
            "u1" => NpyDtype.UInt8,
            "i1" => NpyDtype.Int8,
            "i2" => NpyDtype.Int16,
            "i4" => NpyDtype.Int32,
            "i8" => NpyDtype.Int64,
            "f2" => NpyDtype.Float16,
            "f4" => NpyDtype.Float32,
            "f8" => NpyDtype.Float64,
            "b1" => NpyDtype.Bool,
            _ => throw new NotSupportedException(
                $"numpy dtype '{descr}' is not supported (supported: u1, i1, i2, i4, i8, f2, f4, f8, b1, little-endian)."),
        };
    }

    /// <summary>The dtype matching a .NET element type, for typed access to <see cref="NpyArray.Data"/>.</summary>
    public static NpyDtype Of<T>() where T : unmanaged
    {
        var t = typeof(T);
        if (t == typeof(byte)) return NpyDtype.UInt8;
        if (t == typeof(sbyte)) return NpyDtype.Int8;
        if (t == typeof(short)) return NpyDtype.Int16;
        if (t == typeof(int)) return NpyDtype.Int32;
        if (t == typeof(long)) return NpyDtype.Int64;
        if (t == typeof(Half)) return NpyDtype.Float16;
        if (t == typeof(float)) return NpyDtype.Float32;
        if (t == typeof(double)) return NpyDtype.Float64;
        if (t == typeof(bool)) return NpyDtype.Bool;
        throw new NotSupportedException($"{t.Name} has no numpy dtype supported here.");
    }
}
