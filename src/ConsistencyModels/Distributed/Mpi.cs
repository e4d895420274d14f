// MPI through a handful of P/Invokes, resolved at run time so that nothing needs libmpi unless launched by mpirun.
// OpenMPI passes handles as addresses of exported globals (ompi_mpi_comm_world, ...); MPICH as integer constants.
using System.Runtime.InteropServices;

namespace ConsistencyModels.Distributed;

public sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly IntPtr _lib;
    private readonly IntPtr _comm, _float, _double, _byte, _int, _sum;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _init;
    private readonly delegate* unmanaged<int*, int> _initialized;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<IntPtr, int*, int> _commRank, _commSize;
    private readonly delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, int> _allreduce;
    private readonly delegate* unmanaged<void*, int, IntPtr, int, IntPtr, int> _bcast;
    private readonly delegate* unmanaged<void*, int, IntPtr, void*, int*, int*, IntPtr, int, IntPtr, int> _gatherv;
    private readonly delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, int, IntPtr, int> _gather;
    private readonly delegate* unmanaged<IntPtr, int> _barrier;
    private readonly delegate* unmanaged<IntPtr, int, int> _abort;
    private bool _disposed;

    /// <summary>
    /// Library names tried in order: OpenMPI (Debian openmpi-bin), MPICH, then the generic name; on macOS their dylib
    /// names; on Windows MS-MPI (MPICH's handle encoding). Only Linux with OpenMPI is tested.
    /// </summary>
    private static readonly string[] LibraryNames =
        LibraryNamesFor(OperatingSystem.IsWindows() ? OSPlatform.Windows : OperatingSystem.IsMacOS() ? OSPlatform.OSX : OSPlatform.Linux);

    internal static string[] LibraryNamesFor(OSPlatform os) =>
        os == OSPlatform.Windows ? ["msmpi.dll"]
        : os == OSPlatform.OSX ? ["libmpi.40.dylib", "libmpi.12.dylib", "libmpi.dylib"]
        : ["libmpi.so.40", "libmpi.so.12", "libmpi.so"];

    private MpiCommunicator(IntPtr lib, bool openMpi)
    {
        _lib = lib;
        IntPtr F(string name) => NativeLibrary.TryGetExport(lib, name, out var p) ? p
            : throw new EntryPointNotFoundException($"libmpi has no {name}");
        _init = (delegate* unmanaged<IntPtr, IntPtr, int>)F("MPI_Init");
        _initialized = (delegate* unmanaged<int*, int>)F("MPI_Initialized");
        _finalize = (delegate* unmanaged<int>)F("MPI_Finalize");
        _commRank = (delegate* unmanaged<IntPtr, int*, int>)F("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<IntPtr, int*, int>)F("MPI_Comm_size");
        _allreduce = (delegate* unmanaged<void*, void*, int, IntPtr, IntPtr, IntPtr, int>)F("MPI_Allreduce");
        _bcast = (delegate* unmanaged<void*, int, IntPtr, int, IntPtr, int>)F("MPI_Bcast");
        _gatherv = (delegate* unmanaged<void*, int, IntPtr, void*, int*, int*, IntPtr, int, IntPtr, int>)F("MPI_Gatherv");
        _gather = (delegate* unmanaged<void*, int, IntPtr, void*, int, IntPtr, int, IntPtr, int>)F("MPI_Gather");
        _barrier = (delegate* unmanaged<IntPtr, int>)F("MPI_Barrier");
        _abort = (delegate* unmanaged<IntPtr, int, int>)F("MPI_Abort");
        if (openMpi)
        {
            IntPtr G(string name) => NativeLibrary.GetExport(lib, name);
            (_comm, _float, _double, _byte, _int, _sum) = (G("ompi_mpi_comm_world"), G("ompi_mpi_float"), G("ompi_mpi_double"),
                                                          G("ompi_mpi_byte"), G("ompi_mpi_int"), G("ompi_mpi_op_sum"));
        }
        else
        {
            // mpi.h of MPICH (and derivatives: Intel MPI, MVAPICH, Cray MPICH).
            (_comm, _float, _double, _byte, _int, _sum) = (0x44000000, 0x4c00040a, 0x4c00080b, 0x4c00010d, 0x4c000405, 0x58000003);
        }
        int already;
        Check(_initialized(&already), "MPI_Initialized");
        if (already == 0) Check(_init(IntPtr.Zero, IntPtr.Zero), "MPI_Init");
        int rank, size;
        Check(_commRank(_comm, &rank), "MPI_Comm_rank");
        Check(_commSize(_comm, &size), "MPI_Comm_size");
        (Rank, Size) = (rank, size);
    }

    public int Rank { get; }
    public int Size { get; }

    /// <summary>True when this process was started by mpirun/mpiexec/srun with more than one rank (read from the launcher's environment).</summary>
    public static bool LaunchedWithSeveralRanks => LauncherWorldSize() is > 1;

    public static int? LauncherWorldSize() => FirstInteger("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE");

    /// <summary>This process's rank as the launcher set it (readable before MPI is initialised), or null.</summary>
    public static int? LauncherRank() => FirstInteger("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK");

    private static int? FirstInteger(params string[] variables)
    {
        foreach (var name in variables)
            if (int.TryParse(Environment.GetEnvironmentVariable(name), out int n)) return n;
        return null;
    }

    /// <summary>Loads libmpi and joins MPI_COMM_WORLD; throws with what to install when libmpi cannot be found.</summary>
    public static MpiCommunicator Create()
    {
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            bool openMpi = NativeLibrary.TryGetExport(lib, "ompi_mpi_comm_world", out _);
            return new MpiCommunicator(lib, openMpi);
        }
        throw new DllNotFoundException("this process was started by an MPI launcher, but no MPI library (" + string.Join(", ", LibraryNames) +
                                       ") could be loaded: install one (Debian: apt-get install openmpi-bin) or run without mpirun");
    }

    public void AllreduceSum(Span<float> values) => Allreduce(values, _float, ref _sendFloats);
    public void AllreduceSum(Span<double> values) => Allreduce(values, _double, ref _sendDoubles);

    // Send buffers kept between calls: training reduces the gradients every step. (A separate send buffer because
    // MPI_IN_PLACE differs between implementations.)
    private float[] _sendFloats = [];
    private double[] _sendDoubles = [];

    private void Allreduce<T>(Span<T> values, IntPtr type, ref T[] send) where T : unmanaged
    {
        const int Chunk = 1 << 24;
        if (send.Length < Math.Min(values.Length, Chunk)) send = new T[Math.Min(values.Length, Chunk)];
        for (int start = 0; start < values.Length; start += Chunk)
        {
            var part = values.Slice(start, Math.Min(Chunk, values.Length - start));
            part.CopyTo(send);
            fixed (T* s = send) fixed (T* r = part) Check(_allreduce(s, r, part.Length, type, _sum, _comm), "MPI_Allreduce");
        }
    }

    public void Broadcast(Span<byte> buffer, int root = 0)
    {
        fixed (byte* b = buffer) Check(_bcast(b, buffer.Length, _byte, root, _comm), "MPI_Bcast");
    }

    public byte[][]? Gather(ReadOnlySpan<byte> mine, int root = 0)
    {
        int length = mine.Length;
        var lengths = new int[Size];
        fixed (int* l = lengths) Check(_gather(&length, 1, _int, l, 1, _int, root, _comm), "MPI_Gather");
        bool isRoot = Rank == root;
        var displacements = new int[Size];
        long total = 0;
        for (int i = 0; i < Size; i++) { displacements[i] = (int)total; total += lengths[i]; }
        if (isRoot && total > int.MaxValue) throw new NotSupportedException($"gathering {total} bytes exceeds MPI's int counts: write shards instead");
        var all = new byte[isRoot ? total : 0];
        fixed (byte* m = mine) fixed (byte* a = all) fixed (int* l = lengths) fixed (int* d = displacements)
            Check(_gatherv(m, length, _byte, a, l, d, _byte, root, _comm), "MPI_Gatherv");
        if (!isRoot) return null;
        return Enumerable.Range(0, Size).Select(i => all.AsSpan(displacements[i], lengths[i]).ToArray()).ToArray();
    }

    public void Barrier() => Check(_barrier(_comm), "MPI_Barrier");

    /// <summary>Ends every rank's process (MPI_Abort): used when one rank fails, so the others do not wait forever.</summary>
    public void Abort(int code) => _abort(_comm, code);

    private static void Check(int rc, string what)
    {
        if (rc != 0) throw new InvalidOperationException($"{what} failed with MPI error {rc}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _finalize();
    }
}
