// The library's ReadLimits with the user's CM_MAX_* environment variables applied: the one place the CLI reads them.
using System.Globalization;
using ConsistencyModels.IO;

namespace ConsistencyModels.Cli;

internal static class InputLimits
{
    /// <summary>Each variable and the field it sets (OptionNames maps the field names in messages back to these).</summary>
    public static readonly IReadOnlyList<(string Variable, Func<ReadLimits, long, ReadLimits> Set)> Variables =
    [
        ("CM_MAX_PICKLE_DEPTH", (l, v) => l with { MaxPickleDepth = checked((int)v) }),
        ("CM_MAX_PICKLE_OBJECTS", (l, v) => l with { MaxPickleObjects = v }),
        ("CM_MAX_PICKLE_KEY_LENGTH", (l, v) => l with { MaxPickleKeyLength = checked((int)v) }),
        ("CM_MAX_INTEGER_DIGITS", (l, v) => l with { MaxIntegerDigits = checked((int)v) }),
        ("CM_MAX_EXPANDED_TENSOR_BYTES", (l, v) => l with { MaxExpandedTensorBytes = v }),
        ("CM_MAX_DEFLATED_RECORD_BYTES", (l, v) => l with { MaxDeflatedRecordBytes = v }),
        ("CM_MAX_IMAGE_SIDE", (l, v) => l with { MaxImageSide = checked((int)v) }),
    ];

    /// <summary><see cref="ReadLimits.Default"/> with every CM_MAX_* variable that is set applied.</summary>
    public static ReadLimits FromEnvironment() => From(Environment.GetEnvironmentVariable);

    /// <summary>Values are positive integers, optionally with a binary suffix: 4096, 512M, 2G.</summary>
    internal static ReadLimits From(Func<string, string?> variable)
    {
        var limits = ReadLimits.Default;
        foreach (var (name, set) in Variables)
        {
            if (variable(name) is not { Length: > 0 } text) continue;
            try { limits = set(limits, Parse(text)); }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new ArgumentException($"{name}={text} is not a positive integer (e.g. 4096, 512M, 2G)");
            }
        }
        return limits;
    }

    private static long Parse(string text)
    {
        text = text.Trim();
        int shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        var digits = shift == 0 ? text : text[..^1];
        long v = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        if (v <= 0) throw new FormatException();
        return v > long.MaxValue >> shift ? throw new OverflowException() : v << shift;
    }
}
