// A sample or reference file that cannot be scored, refused before any feature network runs.
namespace ConsistencyModels.Metrics;

/// <summary>
/// A sample or reference set that cannot be scored (wrong dtype or rank, images of different sizes, too few images,
/// mu/sigma that are not a d-vector and a d x d matrix). The message names the file (or folder) and why, on one line.
/// </summary>
public sealed class EvaluationInputException(string source, string reason) : Exception($"{source}: {reason}")
{
    /// <summary>The file or folder that was refused.</summary>
    public string Input { get; } = source;
    /// <summary>Why, without the file name.</summary>
    public string Reason { get; } = reason;
}
