using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Op = ConsistencyModels.IO.Checkpoints.PickleOpcodes;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Emits pickle opcodes (protocol 2, the one torch.save uses by default, which every PyTorch since 1.6 and its
/// weights_only unpickler read). Callers compose the object; globals are memoised so each is spelled out once.
/// </summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _out = new();
    private readonly Dictionary<string, int> _globalMemo = [];
    private int _memoCount;

    public PickleWriter() => Bytes(Op.Proto, 2);

    public byte[] ToArray() => _out.ToArray();

    public PickleWriter Mark() => Bytes(Op.Mark);
    public PickleWriter Stop() => Bytes(Op.Stop);
    public PickleWriter None() => Bytes(Op.None);
    public PickleWriter Bool(bool value) => Bytes(value ? Op.NewTrue : Op.NewFalse);
    public PickleWriter EmptyDict() => Bytes(Op.EmptyDict);
    public PickleWriter EmptyList() => Bytes(Op.EmptyList);
    public PickleWriter SetItem() => Bytes(Op.SetItem);
    public PickleWriter SetItems() => Bytes(Op.SetItems);
    public PickleWriter Append() => Bytes(Op.Append);
    public PickleWriter Appends() => Bytes(Op.Appends);
    public PickleWriter Reduce() => Bytes(Op.Reduce);
    public PickleWriter Build() => Bytes(Op.Build);
    public PickleWriter BinPersId() => Bytes(Op.BinPersId);

    /// <summary>TUPLE over everything since the last MARK.</summary>
    public PickleWriter TupleFromMark() => Bytes(Op.Tuple);

    public PickleWriter Global(string module, string name)
    {
        var key = module + "\n" + name;
        if (_globalMemo.TryGetValue(key, out var index)) return Get(index);
        Bytes(Op.Global);
        _out.Write(Encoding.UTF8.GetBytes(key + "\n"));
        _globalMemo[key] = _memoCount;
        return Put(_memoCount++);
    }

    public PickleWriter String(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Bytes(Op.BinUnicode);
        WriteU32((uint)bytes.Length);
        _out.Write(bytes);
        return this;
    }

    public PickleWriter Int(long value)
    {
        if (value is >= 0 and < 256) return Bytes(Op.BinInt1, (byte)value);
        if (value is >= 0 and < 65536)
        {
            Bytes(Op.BinInt2);
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)value);
            _out.Write(b);
            return this;
        }
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            Bytes(Op.BinInt);
            WriteU32((uint)(int)value);
            return this;
        }
        // LONG1: minimal little-endian two's complement.
        var bytes = new BigInteger(value).ToByteArray(isUnsigned: false, isBigEndian: false);
        Bytes(Op.Long1, (byte)bytes.Length);
        _out.Write(bytes);
        return this;
    }

    /// <summary>Any integer: the compact opcodes within 64 bits, LONG1/LONG4 beyond.</summary>
    public PickleWriter Int(BigInteger value)
    {
        if (value >= long.MinValue && value <= long.MaxValue) return Int((long)value);
        var bytes = value.ToByteArray(isUnsigned: false, isBigEndian: false);
        if (bytes.Length < 256) Bytes(Op.Long1, (byte)bytes.Length);
        else WithU32(Op.Long4, (uint)bytes.Length);
        _out.Write(bytes);
        return this;
    }

    public PickleWriter Float(double value)
    {
        Bytes(Op.BinFloat);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, value);
        _out.Write(b);
        return this;
    }

    /// <summary>A tuple of ints, e.g. a tensor's size or stride.</summary>
    public PickleWriter IntTuple(IReadOnlyList<long> values)
    {
        if (values.Count == 0) return Bytes(Op.EmptyTuple);
        if (values.Count > 3) Mark();
        foreach (var v in values) Int(v);
        return Bytes(values.Count switch { 1 => Op.Tuple1, 2 => Op.Tuple2, 3 => Op.Tuple3, _ => Op.Tuple });
    }

    public PickleWriter EmptyTuple() => Bytes(Op.EmptyTuple);

    /// <summary>TUPLE1/TUPLE2/TUPLE3 over the top 1-3 stack items (no MARK).</summary>
    public PickleWriter SmallTuple(int count) => count switch
    {
        1 => Bytes(Op.Tuple1),
        2 => Bytes(Op.Tuple2),
        3 => Bytes(Op.Tuple3),
        _ => throw new ArgumentOutOfRangeException(nameof(count), count, "TUPLE1-3 take 1 to 3 items"),
    };

    /// <summary>Stores the object on top of the stack in the next memo slot (read back with <see cref="MemoGet"/>).</summary>
    public PickleWriter Memoize(out int index)
    {
        index = _memoCount++;
        return Put(index);
    }

    /// <summary>Pushes the object stored by <see cref="Memoize"/> under <paramref name="index"/>.</summary>
    public PickleWriter MemoGet(int index) => Get(index);

    private PickleWriter Put(int index) =>
        index < 256 ? Bytes(Op.BinPut, (byte)index) : WithU32(Op.LongBinPut, (uint)index);

    private PickleWriter Get(int index) =>
        index < 256 ? Bytes(Op.BinGet, (byte)index) : WithU32(Op.LongBinGet, (uint)index);

    private PickleWriter WithU32(byte op, uint value)
    {
        Bytes(op);
        WriteU32(value);
        return this;
    }

    private void WriteU32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _out.Write(b);
    }

    private PickleWriter Bytes(params ReadOnlySpan<byte> bytes)
    {
        _out.Write(bytes);
        return this;
    }
}
