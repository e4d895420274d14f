// An exported model (`cm export onnx`) in an ONNX Runtime session: D(x, σ, class) over float arrays.
using Microsoft.ML.OnnxRuntime;

namespace ConsistencyModels.OnnxRuntime;

/// <summary>Where ONNX Runtime runs the graph.</summary>
public enum ExecutionProvider { Cpu, Cuda, DirectML, CoreML }

/// <summary>How to open a model: execution provider (CPU by default), its device, and CPU threads.</summary>
public sealed record OnnxModelOptions
{
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;
    /// <summary>The GPU for CUDA and DirectML.</summary>
    public int DeviceId { get; init; }
    /// <summary>Threads within one operator (null: ONNX Runtime's choice, one per physical core).</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>Parses cpu, cuda, cuda:N, directml, directml:N (dml) or coreml.</summary>
    public static OnnxModelOptions ParseProvider(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        int colon = s.IndexOf(':');
        string name = colon < 0 ? s : s[..colon];
        int id = 0;
        if (colon >= 0 && !int.TryParse(s[(colon + 1)..], out id))
            throw new ArgumentException($"'{text}': the device index must be an integer, e.g. cuda:0");
        var provider = name switch
        {
            "cpu" => ExecutionProvider.Cpu,
            "cuda" => ExecutionProvider.Cuda,
            "directml" or "dml" => ExecutionProvider.DirectML,
            "coreml" => ExecutionProvider.CoreML,
            _ => throw new ArgumentException($"'{text}' is not an ONNX Runtime execution provider: use cpu, cuda[:N], directml[:N] or coreml"),
        };
        return new OnnxModelOptions { Provider = provider, DeviceId = id };
    }
}

/// <summary>
/// The exported denoiser: inputs x float32 [batch, C, H, W], sigma float32 [batch] (and class_labels int64 [batch] for
/// class-conditional models), output the denoised estimate, not clamped. <see cref="Info"/> is the file's metadata.
/// </summary>
public sealed class OnnxDenoiser : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    public OnnxModelInfo Info { get; }
    /// <summary>The execution provider the session runs on.</summary>
    public ExecutionProvider Provider { get; }

    /// <summary>Instrumentation: called with the wall time of every network call.</summary>
    public Action<TimeSpan>? OnNetworkCall { get; set; }

    private OnnxDenoiser(InferenceSession session, ExecutionProvider provider)
    {
        _session = session;
        Provider = provider;
        Info = OnnxModelInfo.FromMetadata(session.ModelMetadata.CustomMetadataMap) with { Name = session.ModelMetadata.GraphName };
        foreach (var name in new[] { "x", "sigma" }.Concat(Info.IsConditional ? ["class_labels"] : Array.Empty<string>()))
            if (!session.InputMetadata.ContainsKey(name))
                throw new InvalidDataException($"the ONNX graph has no input '{name}' (inputs: {string.Join(", ", session.InputMetadata.Keys)})");
        _outputNames = [session.OutputMetadata.Keys.First()];
    }

    /// <summary>Opens an exported file (its <c>.onnx.data</c> side file, if any, must lie beside it).</summary>
    public static OnnxDenoiser Load(string path, OnnxModelOptions? options = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model '{path}' does not exist", path);
        options ??= new OnnxModelOptions();
        using var so = CreateSessionOptions(options);
        InferenceSession session;
        try { session = new InferenceSession(path, so); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"'{path}' is not a model ONNX Runtime can load: {e.Message}", e); }
        try { return new OnnxDenoiser(session, options.Provider); }
        catch { session.Dispose(); throw; }
    }

    /// <summary>Opens an exported model held in memory (no external data).</summary>
    public static OnnxDenoiser Load(byte[] model, OnnxModelOptions? options = null)
    {
        options ??= new OnnxModelOptions();
        using var so = CreateSessionOptions(options);
        return new OnnxDenoiser(new InferenceSession(model, so), options.Provider);
    }

    /// <summary>
    /// Session options for <paramref name="o"/>. A provider this ONNX Runtime build lacks is one clear error naming the
    /// providers it has and the package that brings the requested one.
    /// </summary>
    public static SessionOptions CreateSessionOptions(OnnxModelOptions o)
    {
        var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (o.IntraOpThreads is int t) so.IntraOpNumThreads = t;
        if (o.Provider == ExecutionProvider.Cpu) return so;
        var (ortName, package) = o.Provider switch
        {
            ExecutionProvider.Cuda => ("CUDAExecutionProvider", "Microsoft.ML.OnnxRuntime.Gpu (CUDA 12 and cuDNN 9 installed)"),
            ExecutionProvider.DirectML => ("DmlExecutionProvider", "Microsoft.ML.OnnxRuntime.DirectML (Windows)"),
            _ => ("CoreMLExecutionProvider", "Microsoft.ML.OnnxRuntime on macOS or iOS"),
        };
        var available = OrtEnv.Instance().GetAvailableProviders();
        if (!available.Contains(ortName))
        {
            so.Dispose();
            throw new NotSupportedException($"the {o.Provider} execution provider is not in this ONNX Runtime build (it has: {string.Join(", ", available)}); " +
                                            $"it comes with {package} in place of Microsoft.ML.OnnxRuntime");
        }
        try
        {
            switch (o.Provider)
            {
                case ExecutionProvider.Cuda: so.AppendExecutionProvider_CUDA(o.DeviceId); break;
                case ExecutionProvider.DirectML: so.AppendExecutionProvider_DML(o.DeviceId); break;
                default: so.AppendExecutionProvider_CoreML(); break;
            }
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            so.Dispose();
            throw new NotSupportedException($"the {o.Provider} execution provider could not start (device {o.DeviceId}): {e.Message}", e);
        }
        return so;
    }

    /// <summary>
    /// D(x, σ[, labels]) for <paramref name="sigma"/>.Length rows, not clamped. <paramref name="labels"/> is required
    /// exactly when the model is class-conditional.
    /// </summary>
    public float[] Denoise(float[] x, float[] sigma, long[]? labels)
    {
        int batch = sigma.Length, per = Info.ImageLength;
        if (batch < 1 || x.Length != batch * per)
            throw new ArgumentException($"x has {x.Length} values, expected {batch} × {Info.InChannels}×{Info.ImageSize}×{Info.ImageSize}");
        if (Info.IsConditional != labels is not null)
            throw new ArgumentException(Info.IsConditional ? $"the model is class-conditional ({Info.NumClasses} classes): give class labels"
                                                           : "the model is unconditional: class labels cannot be used");
        if (labels is not null && labels.Length != batch) throw new ArgumentException($"{labels.Length} class labels for a batch of {batch}");
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        using var xv = OrtValue.CreateTensorValueFromMemory(x, [batch, Info.InChannels, Info.ImageSize, Info.ImageSize]);
        using var sv = OrtValue.CreateTensorValueFromMemory(sigma, [batch]);
        using var lv = labels is null ? null : OrtValue.CreateTensorValueFromMemory(labels, [batch]);
        string[] names = lv is null ? ["x", "sigma"] : ["x", "sigma", "class_labels"];
        OrtValue[] values = lv is null ? [xv, sv] : [xv, sv, lv];
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, names, values, _outputNames);
        var result = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        OnNetworkCall?.Invoke(System.Diagnostics.Stopwatch.GetElapsedTime(start));
        return result;
    }

    /// <summary>The <see cref="ArrayDenoiser"/> the samplers use, for fixed labels: D, clamped to [−1, 1] when <paramref name="clip"/>.</summary>
    public ArrayDenoiser AsDenoiser(long[]? labels, bool clip = true) => (x, sigma) =>
    {
        var d = Denoise(x, sigma, labels);
        if (clip) Samplers.Clamp(d);
        return d;
    };

    public void Dispose() => _session.Dispose();
}
