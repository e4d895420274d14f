namespace ConsistencyModels.IO;

/// <summary>Checks on an input path made before it is opened.</summary>
internal static class InputFiles
{
    public const string EmptyOrNotRegular = "the file is empty (0 bytes) or not a regular file (a pipe, socket or device)";

    /// <summary>
    /// True for an empty file and for anything that is not a regular file: stat gives pipes, sockets and devices length
    /// 0, and opening a FIFO to read blocks until something writes to it, so this must be asked before opening.
    /// </summary>
    public static bool IsEmptyOrNotRegular(string path) => new FileInfo(path).Length == 0;
}
