// BatchLoader tests: determinism, bit-identical resume, per-epoch coverage, flips, bad samples, background errors.
using ConsistencyModels.Data;
using Xunit;

namespace ConsistencyModels.Tests.Data;

public class BatchLoaderTests
{
    /// <summary>1×2×2 images whose pixels encode the index (not in [-1, 1], which the loader does not care about); label = index.</summary>
    sealed class IndexDataset(int count, params int[] bad) : ITrainingDataset
    {
        public int Count => count;
        public int Channels => 1;
        public int ImageSize => 2;
        public int? NumClasses => count;
        public Exception? Failure { get; init; }
        public int Read(int index, Span<float> dest)
        {
            if (Failure is not null) throw Failure;
            if (bad.Contains(index)) throw new InvalidDataException($"sample {index} is broken");
            for (var i = 0; i < 4; i++) dest[i] = index * 10 + i;
            return index;
        }
        public string Describe(int index) => $"fake #{index}";
    }

    static List<TrainingBatch> Take(BatchLoader loader, int n) => Enumerable.Range(0, n).Select(_ => loader.Next()).ToList();

    static void AssertSame(TrainingBatch a, TrainingBatch b)
    {
        Assert.Equal(a.Step, b.Step);
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(a.Images, b.Images);
    }

    [Fact]
    public void SameSeed_SameBatches_WithOrWithoutPrefetch()
    {
        var data = new IndexDataset(10);
        using var a = new BatchLoader(data, 3, seed: 5, randomFlip: true, startStep: 0);
        using var b = new BatchLoader(data, 3, seed: 5, randomFlip: true, startStep: 0, prefetch: 0);
        using var c = new BatchLoader(data, 3, seed: 6, randomFlip: true, startStep: 0);
        var (x, y, z) = (Take(a, 12), Take(b, 12), Take(c, 12));
        for (var i = 0; i < 12; i++) AssertSame(x[i], y[i]);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), x.Select(t => t.Step));
        Assert.NotEqual(x.SelectMany(t => t.Labels), z.SelectMany(t => t.Labels));
        Assert.Equal((3, 1, 2, 12), (x[0].BatchSize, x[0].Channels, x[0].ImageSize, x[0].Images.Length));
    }

    [Fact]
    public void ResumedLoader_MatchesOneThatAdvanced()
    {
        var data = new IndexDataset(10);
        using var fromZero = new BatchLoader(data, 4, seed: 11, randomFlip: true, startStep: 0);
        var advanced = Take(fromZero, 9);
        using var resumed = new BatchLoader(data, 4, seed: 11, randomFlip: true, startStep: 7);
        AssertSame(advanced[7], resumed.Next());
        AssertSame(advanced[8], resumed.Next());
    }

    [Fact]
    public void EverySample_OncePerEpoch()
    {
        var data = new IndexDataset(10);
        using var loader = new BatchLoader(data, 4, seed: 1, randomFlip: false, startStep: 0);
        var positions = Take(loader, 10).SelectMany(b => b.Labels).ToArray(); // 40 positions = 4 epochs, batches straddle them
        var epochs = positions.Chunk(10).Select(e => e.Order().ToArray()).ToList();
        Assert.All(epochs, e => Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), e));
        Assert.Equal(4, positions.Chunk(10).Select(e => string.Join(",", e)).Distinct().Count()); // the epoch orders differ
        Assert.Equal(BatchLoader.EpochPermutation(10, 1, 2).Select(i => (long)i), positions[20..30]);
    }

    [Fact]
    public void Prng_AndPermutation_ArePinned()
    {
        // The order rule is part of the checkpoint contract (a resume replays it): a change here breaks resumes.
        // SplitMix64 from seed 1234567: the reference outputs of Vigna's splitmix64.c.
        Assert.Equal(new[] { 6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL }, SplitMixOutputs(1234567, 3));
        Assert.Equal(PinnedPermutation, BatchLoader.EpochPermutation(10, 0, 0));
    }

    // Checked against an independent Python transcription of SplitMix64 + Lemire + Fisher-Yates.
    static readonly int[] PinnedPermutation = [6, 9, 8, 5, 1, 3, 2, 0, 4, 7];

    static ulong[] SplitMixOutputs(ulong seed, int n)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next()).ToArray();
    }

    [Fact]
    public void Flips_MirrorRows_AndDependOnTheStep()
    {
        var data = new IndexDataset(50);
        using var plain = new BatchLoader(data, 50, seed: 2, randomFlip: false, startStep: 0);
        using var flipped = new BatchLoader(data, 50, seed: 2, randomFlip: true, startStep: 0);
        var (p, f) = (plain.Next(), flipped.Next());
        Assert.Equal(p.Labels, f.Labels); // flipping never changes the order
        var flips = 0;
        for (var j = 0; j < 50; j++)
        {
            var a = p.Images.AsSpan(j * 4, 4);
            var b = f.Images.AsSpan(j * 4, 4);
            if (a.SequenceEqual(b)) continue;
            flips++;
            Assert.Equal(new[] { a[1], a[0], a[3], a[2] }, b.ToArray());
        }
        Assert.InRange(flips, 10, 40);
    }

    [Fact]
    public void BadSample_WarnsOnce_AndIsReplacedByTheNextInThePermutation()
    {
        var data = new IndexDataset(6, 4);
        var warnings = new List<string>();
        using var loader = new BatchLoader(data, 6, seed: 9, randomFlip: false, startStep: 0, warn: warnings.Add);
        var batches = Take(loader, 3);
        Assert.Equal("Skipping unreadable training sample fake #4: sample 4 is broken", Assert.Single(warnings));
        for (var e = 0; e < 3; e++)
        {
            var perm = BatchLoader.EpochPermutation(6, 9, e);
            var at = Array.IndexOf(perm, 4);
            var expected = perm.Select((v, i) => (long)(i == at ? perm[(at + 1) % 6] : v));
            Assert.Equal(expected, batches[e].Labels);
        }
    }

    [Fact]
    public void WorkerErrors_AreRethrownByNext_AndDisposeStops()
    {
        var loader = new BatchLoader(new IndexDataset(4) { Failure = new IOException("disk gone") }, 2, 0, false, 0);
        Assert.Equal("disk gone", Assert.Throws<IOException>(() => loader.Next()).Message);
        loader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => loader.Next());

        var allBad = new BatchLoader(new IndexDataset(3, 0, 1, 2), 2, 0, false, 0, prefetch: 0);
        Assert.Contains("None of the 3", Assert.Throws<InvalidDataException>(() => allBad.Next()).Message);
        allBad.Dispose();
    }

    [Fact]
    public void Arguments_AreChecked()
    {
        var data = new IndexDataset(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLoader(data, 0, 0, false, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLoader(data, 1, 0, false, -1));
        Assert.Throws<ArgumentException>(() => new BatchLoader(new IndexDataset(0), 1, 0, false, 0));
    }
}
