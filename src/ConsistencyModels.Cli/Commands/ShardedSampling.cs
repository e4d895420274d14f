// Splitting a generation run over MPI ranks and gathering the images on rank 0.
using ConsistencyModels.Distributed;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Cli.Commands;

internal static class ShardedSampling
{
    /// <summary>This rank's contiguous share of the request (the whole request in a single process).</summary>
    public static GenerationRequest ForRank(GenerationRequest request, ICommunicator world)
    {
        if (world.Size == 1) return request;
        if (request.Generator == GeneratorKind.Dummy || !request.AdvanceGeneratorPerBatch)
            throw new ArgumentException("sampling over several MPI ranks needs per-sample noise: --generator determ or determ-indiv, without --official-batch-noise");
        if (request.NumSamples < world.Size)
            throw new ArgumentException($"{request.NumSamples} samples cannot be shared by {world.Size} ranks: ask for at least one per rank");
        var (start, end) = Communicators.Share(request.NumSamples, world.Rank, world.Size);
        return request with { FirstSample = start, EndSample = end };
    }

    /// <summary>Every rank's batches, in sample order, on rank 0 (empty elsewhere).</summary>
    public static IEnumerable<GenerationBatch> GatherOnRoot(ICommunicator world, IReadOnlyList<GenerationBatch> mine, ModelConfig config)
    {
        // Wire format per rank: [start:int32][count:int32][images][labels int64 × count, when conditional].
        bool conditional = config.ResolvedNumClasses is not null;
        int start = mine.Count > 0 ? mine[0].Start : 0, count = mine.Sum(b => b.Count);
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(start); w.Write(count);
            foreach (var b in mine) w.Write(b.Images);
            if (conditional) foreach (var b in mine) foreach (var l in b.Labels!) w.Write(l);
        }
        var parts = world.Gather(ms.ToArray());
        if (parts is null) yield break;
        int size = config.ImageSize, ch = config.InChannels, bytesPerImage = size * size * ch;
        foreach (var part in parts)
        {
            using var r = new BinaryReader(new MemoryStream(part));
            int s = r.ReadInt32(), n = r.ReadInt32();
            var images = r.ReadBytes(n * bytesPerImage);
            long[]? labels = conditional ? Enumerable.Range(0, n).Select(_ => r.ReadInt64()).ToArray() : null;
            yield return new GenerationBatch(s, n, images, size, size, ch, labels);
        }
    }
}
