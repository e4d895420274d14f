// The one table from library property names (written `Name` in library messages) to the CLI's flags.
using System.Text.RegularExpressions;

namespace ConsistencyModels.Cli;

internal static partial class OptionNames
{
    /// <summary>Library property (as the library's messages quote it) to the flag or command that sets it here.</summary>
    public static IReadOnlyDictionary<string, string> Flags { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Models (ModelSpec.Resolve)
        ["Preset"] = "--preset", ["Recipe"] = "--recipe", ["ModelConfig"] = "--model-config", ["Checkpoint"] = "--checkpoint",
        ["CheckpointKey"] = "--checkpoint-key", ["CacheDir"] = "--cache-dir",
        // Sampling (SamplingOptions, GenerationRequest)
        ["Sampler"] = "--sampler", ["Steps"] = "--steps", ["Ts"] = "--ts", ["Sigmas"] = "--sigmas", ["Generator"] = "--generator", ["ClassLabels"] = "--class-labels",
        ["NumSamples"] = "--num-samples", ["BatchSize"] = "--batch-size", ["Seed"] = "--seed",
        ["AdvanceGeneratorPerBatch"] = "--official-batch-noise", ["GenerateBatches"] = "--output-dir",
        // Editing (EditRequest)
        ["Frames"] = "--frames", ["Pairs"] = "--pairs", ["PatchSize"] = "--patch-size", ["Sigma"] = "--sigma",
        ["KnownMask"] = "--mask", ["Images"] = "--input",
        // Training (TrainingOptions)
        ["GlobalBatchSize"] = "--global-batch-size", ["Microbatch"] = "--microbatch", ["LearningRate"] = "--lr",
        ["EmaRates"] = "--ema-rate", ["EmaHalfLifeKimg"] = "--ema-halflife-kimg", ["EmaRampupRatio"] = "--ema-rampup-ratio", ["TeacherPath"] = "--teacher", ["LossNorm"] = "--loss-norm", ["Perceptual"] = "--lpips-weights",
        ["SaveInterval"] = "--save-interval", ["LogInterval"] = "--log-interval", ["MaxSteps"] = "--max-steps",
        ["TotalSteps"] = "--total-training-steps", ["Q"] = "-q", ["Stage"] = "the ECT stage (advanced every --double steps)", ["HuberC"] = "--huber-c", ["Mapping"] = "--mapping", ["EctStageSteps"] = "--double", ["Resume"] = "--resume", ["ResumeWithChanges"] = "--resume-with-changes", ["Mode"] = "the training mode (edm, cd, ct, ect)",
        // Downloads
        ["BaseUrl"] = "--base-url", ["Download"] = "cm download", ["DownloadCatalog"] = "cm download --list",
        // Export (OnnxExportOptions, ModelConfig)
        ["Opset"] = "--opset", ["ExternalData"] = "--external-data", ["Precision"] = "--precision", ["NumChannels"] = "num_channels (model config)",
        // Evaluation
        ["InceptionPath"] = "--inception", ["FeatureExtractor"] = "--feature-extractor",
        // Input limits (ReadLimits): environment variables, read by InputLimits
        ["MaxPickleDepth"] = "environment variable CM_MAX_PICKLE_DEPTH", ["MaxPickleObjects"] = "environment variable CM_MAX_PICKLE_OBJECTS",
        ["MaxPickleKeyLength"] = "environment variable CM_MAX_PICKLE_KEY_LENGTH", ["MaxIntegerDigits"] = "environment variable CM_MAX_INTEGER_DIGITS",
        ["MaxExpandedTensorBytes"] = "environment variable CM_MAX_EXPANDED_TENSOR_BYTES",
        ["MaxDeflatedRecordBytes"] = "environment variable CM_MAX_DEFLATED_RECORD_BYTES", ["MaxImageSide"] = "environment variable CM_MAX_IMAGE_SIDE",
    };

    [GeneratedRegex(@"`([A-Z][A-Za-z0-9]*)`")]
    private static partial Regex Token();

    /// <summary>A library message with each quoted property replaced by its flag (unknown names are shown bare).</summary>
    public static string ForCli(string message) =>
        Token().Replace(message, m => Flags.TryGetValue(m.Groups[1].Value, out var flag) ? flag : m.Groups[1].Value);

    /// <summary>A library message for the studio's JSON API, whose fields are the properties in camelCase.</summary>
    public static string ForApi(string message) =>
        Token().Replace(message, m => char.ToLowerInvariant(m.Groups[1].Value[0]) + m.Groups[1].Value[1..]);
}
