// Generation and edit jobs run one at a time (each uses every core); a bounded queue refuses work beyond its size.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace ConsistencyModels.Cli.Studio;

internal enum JobStatus { Queued, Running, Done, Failed, Cancelled }

internal sealed class StudioJob(string id, string kind, string folder)
{
    private readonly CancellationTokenSource _cancel = new();

    public string Id { get; } = id;
    public string Kind { get; } = kind;
    public string Folder { get; } = folder;
    public volatile JobStatus Status = JobStatus.Queued;
    public int Done, Total = 1;
    public string? Error;
    public int Images;
    public string? Note;

    /// <summary>Set by <c>DELETE /api/jobs/{id}</c> or shutdown; the work observes it before every network evaluation.</summary>
    public CancellationToken Cancellation => _cancel.Token;

    internal void RequestCancel() => _cancel.Cancel();

    public bool Finished => Status is JobStatus.Done or JobStatus.Failed or JobStatus.Cancelled;

    public object Describe() => new
    {
        id = Id, kind = Kind, done = Done, total = Total, error = Error, note = Note,
        // A running job stops at its next network evaluation; until then it says so.
        status = Status == JobStatus.Running && _cancel.IsCancellationRequested ? "cancelling" : Status.ToString().ToLowerInvariant(),
        grid = Status == JobStatus.Done ? $"/api/jobs/{Id}/grid.png" : null,
        images = Status == JobStatus.Done ? Enumerable.Range(0, Images).Select(i => $"/api/jobs/{Id}/images/{i}.png").ToArray() : null,
    };
}

internal enum CancelOutcome { NotFound, AlreadyFinished, Cancelled }

internal sealed class StudioJobs : IDisposable
{
    /// <summary>Every temporary folder of a studio is <c>cm-studio-PID</c> under the temporary directory.</summary>
    public const string FolderPrefix = "cm-studio-";

    private readonly Channel<(StudioJob Job, Action<StudioJob> Work)> _queue;
    private readonly ConcurrentDictionary<string, StudioJob> _jobs = new();
    private readonly Task _worker;
    private readonly string _root = Path.Combine(Path.GetTempPath(), FolderPrefix + Environment.ProcessId);
    private readonly ConcurrentQueue<StudioJob> _finished = new();
    private const int KeepFinished = 100;                   // older results (and their PNGs) are dropped

    public StudioJobs(int capacity = 8)
    {
        RemoveOrphans(Path.GetTempPath());
        _queue = Channel.CreateBounded<(StudioJob, Action<StudioJob>)>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        Directory.CreateDirectory(_root);
        _worker = Task.Run(Work);
    }

    /// <summary>Queues <paramref name="work"/>; null when the queue is full (the caller answers 429).</summary>
    public StudioJob? TryEnqueue(string kind, Action<StudioJob> work)
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var job = new StudioJob(id, kind, Path.Combine(_root, id));
        _jobs[id] = job;
        if (_queue.Writer.TryWrite((job, work))) return job;
        _jobs.TryRemove(id, out _);
        return null;
    }

    public StudioJob? Get(string id) => _jobs.TryGetValue(id, out var j) ? j : null;

    /// <summary>A fresh folder for one request's uploads, inside this studio's temporary folder (removed with it).</summary>
    public string NewUploadFolder() => Directory.CreateDirectory(Path.Combine(_root, "uploads", Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>A queued job is dropped at once; a running one stops before its next network evaluation.</summary>
    public CancelOutcome Cancel(string id)
    {
        if (Get(id) is not { } job) return CancelOutcome.NotFound;
        lock (job)
        {
            if (job.Finished) return CancelOutcome.AlreadyFinished;
            job.RequestCancel();
            if (job.Status == JobStatus.Queued) Finish(job, JobStatus.Cancelled);
        }
        return CancelOutcome.Cancelled;
    }

    private async Task Work()
    {
        // Not cancelled by a token: after Dispose completes the writer, the jobs left are drained (they are cancelled).
        await foreach (var (job, work) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            lock (job)
            {
                if (job.Status != JobStatus.Queued) continue;                  // cancelled while it waited
                job.Status = JobStatus.Running;
            }
            JobStatus end;
            try
            {
                Directory.CreateDirectory(job.Folder);
                work(job);
                job.Done = job.Total;
                end = JobStatus.Done;
            }
            catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
            {
                end = JobStatus.Cancelled;
            }
            catch (Exception e)
            {
                // Bad input found late (image content, checkpoint mismatch) becomes the job's message; the server goes on.
                job.Error = e is ArgumentException or IOException or InvalidDataException or KeyNotFoundException or NotSupportedException
                    ? OptionNames.ForApi(e.Message) : $"internal error: {e.GetType().Name}: {e.Message}";
                end = JobStatus.Failed;
            }
            lock (job) Finish(job, end);
        }
    }

    private void Finish(StudioJob job, JobStatus status)
    {
        job.Status = status;
        if (status == JobStatus.Cancelled) DeleteFolder(job.Folder);
        _finished.Enqueue(job);
        while (_finished.Count > KeepFinished && _finished.TryDequeue(out var old))
        {
            _jobs.TryRemove(old.Id, out _);
            DeleteFolder(old.Folder);
        }
    }

    private static void DeleteFolder(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Removes the folders of studios that died without cleaning up (SIGKILL, power loss): a <c>cm-studio-PID</c> whose
    /// process is gone. Folders of running studios (and of other users, which cannot be deleted) stay.
    /// </summary>
    internal static void RemoveOrphans(string tempDirectory)
    {
        IEnumerable<string> folders;
        try { folders = Directory.EnumerateDirectories(tempDirectory, FolderPrefix + "*").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var folder in folders)
            if (int.TryParse(Path.GetFileName(folder)[FolderPrefix.Length..], out int pid) && pid != Environment.ProcessId && !IsAlive(pid))
                DeleteFolder(folder);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    /// <summary>Stops taking jobs, cancels the queued and running ones, waits for the worker, and removes the temporary folder.</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        foreach (var job in _jobs.Values) Cancel(job.Id);
        // The running job stops at its next network evaluation; a long one on a large model may take a while.
        try { _worker.Wait(TimeSpan.FromSeconds(30)); } catch (AggregateException) { }
        DeleteFolder(_root);
    }
}
