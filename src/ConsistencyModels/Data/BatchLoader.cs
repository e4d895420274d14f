// Deterministic, resumable batch loader — replaces cm/image_datasets.py's shuffled infinite DataLoader (order rule: epoch-seeded Fisher-Yates).
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace ConsistencyModels.Data;

/// <summary>One training batch: images NCHW flattened, float32 in [-1, 1]; labels 0 when unconditional.</summary>
public sealed record TrainingBatch(long Step, float[] Images, long[] Labels, int BatchSize, int Channels, int ImageSize);

/// <summary>
/// Yields the batches of steps startStep, startStep + 1, ... The batch of step k depends only on
/// (data, batchSize, seed, randomFlip, k), so a run resumed at step k sees exactly the batches it would have seen.
/// Slot j of step k takes global position p = k·batchSize + j: epoch e = p / Count, and p % Count indexes a
/// Fisher-Yates permutation of 0..Count−1 drawn from SplitMix64(seed, e). The flip of slot j is bit 63 of the j-th
/// draw of SplitMix64(seed, k). A sample whose Read throws <see cref="InvalidDataException"/> is reported once
/// through <c>warn</c> and replaced by the next sample of the same permutation (wrapping) that reads fine.
/// With prefetch &gt; 0 a background task builds up to that many batches ahead (each decoded in parallel);
/// with 0, <see cref="Next"/> builds the batch itself.
/// </summary>
public sealed class BatchLoader : IDisposable
{
    const ulong PermutationStream = 0x7065726D75746531; // "permute1"
    const ulong FlipStream = 0x666C697068727A31;        // "fliphrz1"

    readonly ITrainingDataset _data;
    readonly int _batchSize;
    readonly long _seed;
    readonly bool _randomFlip;
    readonly Action<string>? _warn;
    readonly ConcurrentDictionary<int, byte> _bad = new();
    readonly object _warnLock = new();
    readonly (long epoch, int[] perm)?[] _permCache = new (long, int[])?[2];
    readonly Channel<TrainingBatch>? _channel;
    readonly CancellationTokenSource _cts = new();
    readonly Task? _worker;
    long _nextStep;
    bool _disposed;

    public BatchLoader(ITrainingDataset data, int batchSize, long seed, bool randomFlip, long startStep, int prefetch = 2, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count < 1) throw new ArgumentException("The training dataset is empty.", nameof(data));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be positive.");
        if (startStep < 0) throw new ArgumentOutOfRangeException(nameof(startStep), startStep, "The start step cannot be negative.");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "Prefetch cannot be negative.");
        (_data, _batchSize, _seed, _randomFlip, _warn, _nextStep) = (data, batchSize, seed, randomFlip, warn, startStep);
        if (prefetch == 0) return;
        _channel = Channel.CreateBounded<TrainingBatch>(new BoundedChannelOptions(prefetch)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _worker = Task.Run(() => ProduceAsync(startStep, _cts.Token));
    }

    /// <summary>The batch of the next step; rethrows an exception the background worker hit.</summary>
    public TrainingBatch Next()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_channel is null)
            return Build(_nextStep++, CancellationToken.None);
        try
        {
            return _channel.Reader.TryRead(out var batch) ? batch : _channel.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _cts.Cancel();
        try { _worker?.Wait(); } catch (AggregateException) { } // the worker reports through the channel
        _cts.Dispose();
    }

    async Task ProduceAsync(long step, CancellationToken ct)
    {
        var writer = _channel!.Writer;
        try
        {
            for (; ; step++)
                await writer.WriteAsync(Build(step, ct), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    TrainingBatch Build(long step, CancellationToken ct)
    {
        int n = _batchSize, c = _data.Channels, s = _data.ImageSize, per = c * s * s;
        var images = new float[checked(n * per)];
        var labels = new long[n];
        var perms = new int[n][];
        var positions = new int[n];
        for (var j = 0; j < n; j++)
        {
            var p = checked(step * n + j);
            perms[j] = Permutation(p / _data.Count);
            positions[j] = (int)(p % _data.Count);
        }
        var flips = new bool[n];
        if (_randomFlip)
        {
            var rng = SplitMix64.For(_seed, FlipStream, step);
            for (var j = 0; j < n; j++)
                flips[j] = rng.Next() >> 63 != 0;
        }
        try
        {
            Parallel.For(0, n, new ParallelOptions { CancellationToken = ct }, j =>
            {
                var dest = images.AsSpan(j * per, per);
                labels[j] = ReadWithFallback(perms[j], positions[j], dest);
                if (flips[j]) Pixels.FlipHorizontal(dest, c, s);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return new TrainingBatch(step, images, labels, n, c, s);
    }

    int ReadWithFallback(int[] perm, int position, Span<float> dest)
    {
        for (var tries = 0; tries < perm.Length; tries++)
        {
            var index = perm[(position + tries) % perm.Length];
            if (_bad.ContainsKey(index)) continue;
            try
            {
                return _data.Read(index, dest);
            }
            catch (InvalidDataException e)
            {
                if (_bad.TryAdd(index, 0) && _warn is not null)
                    lock (_warnLock) _warn($"Skipping unreadable training sample {_data.Describe(index)}: {e.Message}");
            }
        }
        throw new InvalidDataException($"None of the {_data.Count} training samples could be read (first: {_data.Describe(perm[0])}).");
    }

    /// <summary>The epoch's sample order; built on the producing thread only, the last two epochs cached.</summary>
    int[] Permutation(long epoch)
    {
        foreach (var entry in _permCache)
            if (entry is { } hit && hit.epoch == epoch) return hit.perm;
        var perm = EpochPermutation(_data.Count, _seed, epoch);
        _permCache[1] = _permCache[0];
        _permCache[0] = (epoch, perm);
        return perm;
    }

    /// <summary>Fisher-Yates shuffle of 0..count−1 driven by SplitMix64(seed, epoch).</summary>
    internal static int[] EpochPermutation(int count, long seed, long epoch)
    {
        var perm = new int[count];
        for (var i = 0; i < count; i++) perm[i] = i;
        var rng = SplitMix64.For(seed, PermutationStream, epoch);
        for (var i = count - 1; i > 0; i--)
        {
            var j = rng.NextBelow(i + 1);
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        return perm;
    }
}
