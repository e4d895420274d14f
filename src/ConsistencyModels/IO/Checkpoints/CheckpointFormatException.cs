namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// A file is not a checkpoint this project can read: wrong format, corrupt or truncated, or it asks for code to be
/// run (a pickled global outside the allow-list). Derives from <see cref="IOException"/> so generic file-error
/// handlers still catch it.
/// </summary>
public sealed class CheckpointFormatException : IOException
{
    public CheckpointFormatException(string message) : base(message) { }

    public CheckpointFormatException(string message, Exception? inner) : base(message, inner) { }
}
