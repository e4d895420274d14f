// The 1000 ILSVRC-2012 class names in label order (as the ImageNet-64 checkpoints number them), for pickers and logs.
namespace ConsistencyModels.Presets;

public static class ImageNetClasses
{
    private static readonly Lazy<IReadOnlyList<string>> Lazy = new(Load);

    /// <summary>Names by label, 0 = "tench, Tinca tinca" … 999 = "toilet tissue, …" (the list of Debian's opencv-doc,
    /// examples/data/dnn/classification_classes_ILSVRC2012.txt).</summary>
    public static IReadOnlyList<string> Names => Lazy.Value;

    private static IReadOnlyList<string> Load()
    {
        using var stream = typeof(ImageNetClasses).Assembly.GetManifestResourceStream("ConsistencyModels.imagenet_classes.txt")
            ?? throw new InvalidOperationException("the ImageNet class names are missing from the library");
        using var reader = new StreamReader(stream);
        var names = new List<string>(1000);
        while (reader.ReadLine() is { } line) if (line.Length > 0) names.Add(line);
        return names.Count == 1000 ? names : throw new InvalidDataException($"expected 1000 ImageNet class names, found {names.Count}");
    }
}
