// String -> library value conversions for the CLI edge (the only place upstream spellings are parsed).
using System.Globalization;
using ConsistencyModels.Sampling;
using Nn = ConsistencyModels.Nn;

namespace ConsistencyModels.Cli;

internal static class Parse
{
    public static SamplerKind Sampler(string s) => s.Trim().ToLowerInvariant() switch
    {
        "onestep" => SamplerKind.Onestep,
        "multistep" => SamplerKind.Multistep,
        "heun" => SamplerKind.Heun,
        "euler" => SamplerKind.Euler,
        "dpm" => SamplerKind.Dpm,
        "ancestral" or "euler_ancestral" => SamplerKind.Ancestral,
        "progdist" => SamplerKind.ProgDist,
        _ => throw new ArgumentException($"unknown sampler '{s}': use onestep, multistep, heun, euler, dpm, ancestral or progdist"),
    };

    public static GeneratorKind Generator(string s) => s.Trim().ToLowerInvariant() switch
    {
        "determ" => GeneratorKind.Determ,
        "determ-indiv" or "determ_indiv" => GeneratorKind.DetermIndiv,
        "dummy" => GeneratorKind.Dummy,
        _ => throw new ArgumentException($"unknown generator '{s}': use determ, determ-indiv or dummy"),
    };

    public static Nn.Precision Precision(string s) => s.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => Nn.Precision.Fp32,
        "bf16" or "bfloat16" => Nn.Precision.Bf16,
        "fp16" or "float16" or "half" => Nn.Precision.Fp16,
        _ => throw new ArgumentException($"--precision must be fp32, bf16 or fp16 (got '{s}')"),
    };

    public static Editing.EditTask EditTask(string s) => s.Trim().ToLowerInvariant() switch
    {
        "inpaint" or "inpainting" => Editing.EditTask.Inpaint,
        "colorize" or "colorise" or "colorization" => Editing.EditTask.Colorize,
        "superres" or "super-resolution" => Editing.EditTask.SuperRes,
        "stroke" => Editing.EditTask.Stroke,
        "interpolate" or "interpolation" => Editing.EditTask.Interpolate,
        "denoise" or "denoising" => Editing.EditTask.Denoise,
        _ => throw new ArgumentException($"unknown edit task '{s}': use inpaint, colorize, superres, stroke, interpolate or denoise"),
    };

    public static string Name(GeneratorKind g) => g switch
    {
        GeneratorKind.Determ => "determ", GeneratorKind.DetermIndiv => "determ-indiv", _ => "dummy",
    };

    /// <summary>"0,22,39" or "0-3,7" -> [0, 22, 39] / [0, 1, 2, 3, 7].</summary>
    /// <summary>A comma-separated list of numbers, e.g. noise levels 80,0.821.</summary>
    public static double[] DoubleList(string s, string what)
    {
        var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException($"{what} is empty");
        return parts.Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw new ArgumentException($"{what}: '{p}' is not a number (expected a list like 80,0.821)")).ToArray();
    }

    public static int[] IntList(string s, string what)
    {
        var result = new List<int>();
        foreach (var part in s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-', 2);
            if (range.Length == 2 && range[0].Length > 0 &&
                int.TryParse(range[0], CultureInfo.InvariantCulture, out int lo) && int.TryParse(range[1], CultureInfo.InvariantCulture, out int hi) && lo <= hi)
                result.AddRange(Enumerable.Range(lo, hi - lo + 1));
            else if (int.TryParse(part, CultureInfo.InvariantCulture, out int v))
                result.Add(v);
            else
                throw new ArgumentException($"{what}: '{part}' is not an integer (expected a list like 0,22,39)");
        }
        if (result.Count == 0) throw new ArgumentException($"{what} is empty");
        return [.. result];
    }
}
