// Which reduced-precision instructions this CPU has (AVX-512, AVX512-BF16/FP16, AMX), from /proc/cpuinfo on Linux;
// elsewhere from .NET's own x86 feature detection, which knows AVX-512F but not BF16/FP16/AMX (reported absent there).
using System.Runtime.Intrinsics.X86;
using ConsistencyModels.Nn;

namespace ConsistencyModels.Runtime;

/// <summary>
/// CPU features that decide whether reduced precision is fast here: read from /proc/cpuinfo on Linux; on Windows and
/// macOS only AVX-512F is known (from .NET's x86 intrinsics), the BF16/FP16/AMX extensions are reported absent.
/// </summary>
public static class CpuFeatures
{
    private static readonly Lazy<HashSet<string>> Flags = new(() => OperatingSystem.IsLinux() ? LinuxFlags() : IntrinsicsFlags());

    private static HashSet<string> LinuxFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags"));
            return line is null ? [] : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (IOException) { return IntrinsicsFlags(); }
        catch (UnauthorizedAccessException) { return IntrinsicsFlags(); }
    }

    /// <summary>The /proc/cpuinfo flag names that .NET's own feature detection can answer (x86-64 only).</summary>
    internal static HashSet<string> IntrinsicsFlags() => Avx512F.IsSupported ? ["avx512f"] : [];

    public static bool Avx512 => Flags.Value.Contains("avx512f");
    public static bool Avx512Bf16 => Flags.Value.Contains("avx512_bf16");
    public static bool AmxBf16 => Flags.Value.Contains("amx_bf16");
    public static bool Avx512Fp16 => Flags.Value.Contains("avx512_fp16");
    public static bool AmxFp16 => Flags.Value.Contains("amx_fp16");

    /// <summary>One line saying whether <paramref name="p"/> has hardware support on this CPU.</summary>
    public static string Describe(Precision p) => p switch
    {
        Precision.Fp32 => Avx512 ? "fp32 (AVX-512)" : "fp32",
        Precision.Bf16 => AmxBf16 ? "bf16 with AMX tiles (oneDNN): fast"
            : Avx512Bf16 ? "bf16 with AVX512-BF16: faster than fp32"
            : "bf16 WITHOUT hardware support on this CPU: expect it to be slower than fp32",
        Precision.Fp16 => AmxFp16 ? "fp16 with AMX-FP16"
            : Avx512Fp16 ? "fp16 with AVX512-FP16 (oneDNN support varies; bf16 is usually faster on CPU)"
            : "fp16 WITHOUT hardware support on this CPU: expect it to be much slower than fp32",
        _ => p.ToString(),
    };
}
