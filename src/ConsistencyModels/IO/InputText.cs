using System.Text;

namespace ConsistencyModels.IO;

/// <summary>Text taken from a file and quoted in a message: one line, and short, whatever the file holds.</summary>
internal static class InputText
{
    public const int MaxQuoted = 200;

    /// <summary><paramref name="text"/> with control characters escaped, cut at <see cref="MaxQuoted"/> characters.</summary>
    public static string Clip(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, MaxQuoted) + 32);
        foreach (char c in text.AsSpan(0, Math.Min(text.Length, MaxQuoted)))
            sb.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c);
        if (text.Length > MaxQuoted) sb.Append($"... ({text.Length} characters)");
        return sb.ToString();
    }
}
