namespace ConsistencyModels.IO.Zip;

/// <summary>
/// The details in which zip writers that store entries uncompressed differ, so that <see cref="ZipStoreWriter"/> can
/// reproduce each format's reference writer byte for byte: PyTorch's (miniz, for torch.save checkpoints) and CPython's
/// zipfile (for numpy.savez).
/// </summary>
internal sealed record ZipStoreLayout
{
    /// <summary>
    /// Each entry's data starts on a multiple of this many bytes, padded by an "FB" local extra field that is written
    /// even when no padding is needed (PyTorch, so storages can be mapped in place); 0: no such field.
    /// </summary>
    public required int DataAlignment { get; init; }

    /// <summary>The first entry size, offset, central-directory size or offset that needs Zip64 fields.</summary>
    public required long Zip64SizeFrom { get; init; }

    /// <summary>The first entry count that needs the Zip64 end records.</summary>
    public required long Zip64CountFrom { get; init; }

    /// <summary>Use Zip64 fields for every entry and the end records whatever the sizes.</summary>
    public bool ForceZip64 { get; init; }

    /// <summary>
    /// Every local header carries a Zip64 extra with the real sizes, even where its 32-bit fields hold them too
    /// (numpy.savez passes force_zip64, whose only effect in CPython's zipfile is this).
    /// </summary>
    public bool Zip64ExtraInEveryLocalHeader { get; init; }

    /// <summary>
    /// Unix permission bits recorded in the central directory, made by "Unix" at the version each entry needs;
    /// null: made by "MS-DOS" version 4.5 with no attributes.
    /// </summary>
    public int? UnixMode { get; init; }

    /// <summary>
    /// When the Zip64 end records are written, the classic end record holds 0xFFFF and 0xFFFFFFFF in all its count,
    /// size and offset fields; otherwise each value clamped to its field.
    /// </summary>
    public bool SaturateEndRecord { get; init; }

    /// <summary>What torch.save writes (miniz): 64-byte aligned data, Zip64 only where a 32-bit field overflows.</summary>
    public static readonly ZipStoreLayout PyTorch = new()
    {
        DataAlignment = 64,
        Zip64SizeFrom = 0xFFFFFFFF,
        Zip64CountFrom = 0xFFFF,
        SaturateEndRecord = true,
    };

    /// <summary>
    /// What numpy.savez writes through CPython's zipfile on Linux: no padding, a Zip64 extra in every local header,
    /// Zip64 fields from 2 GiB (CPython's ZIP64_LIMIT), mode 0600.
    /// </summary>
    public static readonly ZipStoreLayout NumpySavez = new()
    {
        DataAlignment = 0,
        Zip64SizeFrom = 1L << 31,
        Zip64CountFrom = 0x10000,
        Zip64ExtraInEveryLocalHeader = true,
        UnixMode = 0x180, // rw-------
    };
}
