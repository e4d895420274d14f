// Generation and edit jobs run one at a time (each uses every core); a bounded queue refuses work beyond its size.
using System.Collections.Concurrent;
using System.Threading.Channels;

namespace ConsistencyModels.Cli.Studio;

internal enum JobStatus { Queued, Running, Done, Failed }

internal sealed class StudioJob(string id, string kind, string folder)
{
    public string Id { get; } = id;
    public string Kind { get; } = kind;
    public string Folder { get; } = folder;
    public volatile JobStatus Status = JobStatus.Queued;
    public int Done, Total = 1;
    public string? Error;
    public int Images;
    public string? Note;

    public object Describe() => new
    {
        id = Id, kind = Kind, status = Status.ToString().ToLowerInvariant(), done = Done, total = Total, error = Error, note = Note,
        grid = Status == JobStatus.Done ? $"/api/jobs/{Id}/grid.png" : null,
        images = Status == JobStatus.Done ? Enumerable.Range(0, Images).Select(i => $"/api/jobs/{Id}/images/{i}.png").ToArray() : null,
    };
}

internal sealed class StudioJobs : IDisposable
{
    private readonly Channel<(StudioJob Job, Action<StudioJob> Work)> _queue;
    private readonly ConcurrentDictionary<string, StudioJob> _jobs = new();
    private readonly Task _worker;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"cm-studio-{Environment.ProcessId}");
    private readonly ConcurrentQueue<StudioJob> _finished = new();
    private const int KeepFinished = 100;                   // older results (and their PNGs) are dropped

    public StudioJobs(int capacity = 8)
    {
        _queue = Channel.CreateBounded<(StudioJob, Action<StudioJob>)>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        Directory.CreateDirectory(_root);
        _worker = Task.Run(Work);
    }

    /// <summary>Queues <paramref name="work"/>; null when the queue is full (the caller answers 429).</summary>
    public StudioJob? TryEnqueue(string kind, Action<StudioJob> work)
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var job = new StudioJob(id, kind, Path.Combine(_root, id));
        if (!_queue.Writer.TryWrite((job, work))) return null;
        _jobs[id] = job;
        return job;
    }

    public StudioJob? Get(string id) => _jobs.TryGetValue(id, out var j) ? j : null;

    private async Task Work()
    {
        await foreach (var (job, work) in _queue.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
        {
            job.Status = JobStatus.Running;
            try
            {
                Directory.CreateDirectory(job.Folder);
                work(job);
                job.Status = JobStatus.Done;
            }
            catch (Exception e)
            {
                // Bad input found late (image content, checkpoint mismatch) becomes the job's message; the server goes on.
                job.Error = e is ArgumentException or IOException or InvalidDataException or KeyNotFoundException or NotSupportedException
                    ? OptionNames.ForApi(e.Message) : $"internal error: {e.GetType().Name}: {e.Message}";
                job.Status = JobStatus.Failed;
            }
            _finished.Enqueue(job);
            while (_finished.Count > KeepFinished && _finished.TryDequeue(out var old))
            {
                _jobs.TryRemove(old.Id, out _);
                try { Directory.Delete(old.Folder, recursive: true); } catch (IOException) { }
            }
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _stop.Cancel();
        try { _worker.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
