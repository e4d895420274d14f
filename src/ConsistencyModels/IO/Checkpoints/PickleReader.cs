using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using Op = ConsistencyModels.IO.Checkpoints.PickleOpcodes;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// A restricted unpickler (protocols 0-5, the opcodes torch.save and CPython emit for plain data). It builds only
/// plain values itself; every global, call, BUILD and persistent id goes through an <see cref="IPickleResolver"/>,
/// which is how PyTorch's <c>weights_only=True</c> keeps a checkpoint from running code.
/// </summary>
/// <remarks>
/// Values: None → null, bool, int → <see cref="long"/> (<see cref="BigInteger"/> beyond 64 bits), float →
/// <see cref="double"/>, str → <see cref="string"/>, bytes → byte[], tuple → object?[], list and set → List&lt;object?&gt;,
/// dict → OrderedDictionary&lt;string, object?&gt; (insertion order kept; non-string keys become their Python repr-like
/// text, e.g. optimizer state keyed by 0, 1, ... becomes "0", "1", ...).
/// </remarks>
internal sealed class PickleReader
{
    private readonly byte[] _data;
    private readonly string _source;
    private readonly IPickleResolver _resolver;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;
    private int _opStart;

    private PickleReader(byte[] data, string source, IPickleResolver resolver)
    {
        _data = data;
        _source = source;
        _resolver = resolver;
    }

    /// <summary>Unpickles <paramref name="data"/>; <paramref name="source"/> names it in error messages.</summary>
    public static object? Load(byte[] data, string source, IPickleResolver resolver) =>
        new PickleReader(data, source, resolver).Run();

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw Error("the pickle ends without a STOP opcode (truncated?)");
            _opStart = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case Op.Proto:
                    if (ReadU8() > 5) throw Error($"unsupported pickle protocol {_data[_pos - 1]}");
                    break;
                case Op.Frame: ReadU64(); break; // framing is only a read-ahead hint
                case Op.Stop: return Pop();

                case Op.Mark: _marks.Push(_stack.Count); break;
                case Op.Pop:
                    if (_stack.Count > Floor) _stack.RemoveAt(_stack.Count - 1);
                    else PopMark();
                    break;
                case Op.PopMark: PopMark(); break;
                case Op.Dup: Push(Peek()); break;

                case Op.None: Push(null); break;
                case Op.NewTrue: Push(true); break;
                case Op.NewFalse: Push(false); break;
                case Op.BinInt: Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case Op.BinInt1: Push((long)ReadU8()); break;
                case Op.BinInt2: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case Op.Long1: Push(DecodeLong(ReadBytes(ReadU8()))); break;
                case Op.Long4: Push(DecodeLong(ReadBytes(ReadLength(ReadI32())))); break;
                case Op.Int: Push(ParseTextInt(ReadLine())); break;
                case Op.Long: Push(ParseTextLong(ReadLine())); break;
                case Op.BinFloat: Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;
                case Op.Float: Push(ParseTextFloat(ReadLine())); break;

                case Op.ShortBinUnicode: Push(Utf8(ReadBytes(ReadU8()))); break;
                case Op.BinUnicode: Push(Utf8(ReadBytes(ReadU32()))); break;
                case Op.BinUnicode8: Push(Utf8(ReadBytes(ReadU64()))); break;
                case Op.Unicode: Push(RawUnicodeEscape(ReadLineBytes())); break;
                // Python 2 str: torch.load decodes them as UTF-8.
                case Op.ShortBinString: Push(Utf8(ReadBytes(ReadU8()))); break;
                case Op.BinString: Push(Utf8(ReadBytes(ReadLength(ReadI32())))); break;
                case Op.ShortBinBytes: Push(ReadBytes(ReadU8()).ToArray()); break;
                case Op.BinBytes: Push(ReadBytes(ReadU32()).ToArray()); break;
                case Op.BinBytes8:
                case Op.ByteArray8: Push(ReadBytes(ReadU64()).ToArray()); break;

                case Op.EmptyTuple: Push(Array.Empty<object?>()); break;
                case Op.Tuple: Push(PopMark().ToArray()); break;
                case Op.Tuple1: Push(PopN(1)); break;
                case Op.Tuple2: Push(PopN(2)); break;
                case Op.Tuple3: Push(PopN(3)); break;
                case Op.EmptyList: Push(new List<object?>()); break;
                case Op.List: Push(PopMark()); break;
                case Op.EmptyDict: Push(new OrderedDictionary<string, object?>()); break;
                case Op.Dict:
                    {
                        var dict = new OrderedDictionary<string, object?>();
                        SetItems(dict, PopMark());
                        Push(dict);
                        break;
                    }
                case Op.EmptySet: Push(new List<object?>()); break;
                case Op.FrozenSet: Push(PopMark().ToArray()); break;

                case Op.Append: { var v = Pop(); ListOnTop("APPEND").Add(v); break; }
                case Op.Appends:
                case Op.AddItems: { var items = PopMark(); ListOnTop("APPENDS").AddRange(items); break; }
                case Op.SetItem:
                    {
                        var value = Pop();
                        var key = Pop();
                        DictOnTop()[ToKey(key)] = value;
                        break;
                    }
                case Op.SetItems: { var items = PopMark(); SetItems(DictOnTop(), items); break; }

                case Op.BinPut: _memo[ReadU8()] = Peek(); break;
                case Op.LongBinPut: _memo[ReadU32()] = Peek(); break;
                case Op.Put: _memo[ParseMemoKey(ReadLine())] = Peek(); break;
                case Op.Memoize: _memo[_memo.Count] = Peek(); break;
                case Op.BinGet: Push(MemoGet(ReadU8())); break;
                case Op.LongBinGet: Push(MemoGet(ReadU32())); break;
                case Op.Get: Push(MemoGet(ParseMemoKey(ReadLine()))); break;

                case Op.Global:
                    {
                        var module = ReadLine();
                        var name = ReadLine();
                        Push(_resolver.ResolveGlobal(module, name));
                        break;
                    }
                case Op.StackGlobal:
                    {
                        var name = Pop() as string ?? throw Error("STACK_GLOBAL expects a string name");
                        var module = Pop() as string ?? throw Error("STACK_GLOBAL expects a string module");
                        Push(_resolver.ResolveGlobal(module, name));
                        break;
                    }
                case Op.Reduce:
                    {
                        var args = Pop() as object?[] ?? throw Error("REDUCE expects an argument tuple");
                        var callable = Pop();
                        Push(_resolver.Call(callable, args));
                        break;
                    }
                case Op.NewObj:
                    {
                        var args = Pop() as object?[] ?? throw Error("NEWOBJ expects an argument tuple");
                        var cls = Pop();
                        Push(_resolver.NewObject(cls, args));
                        break;
                    }
                case Op.NewObjEx:
                    {
                        var kwargs = Pop();
                        var args = Pop() as object?[] ?? throw Error("NEWOBJ_EX expects an argument tuple");
                        var cls = Pop();
                        if (kwargs is OrderedDictionary<string, object?> { Count: > 0 })
                            throw Error("NEWOBJ_EX with keyword arguments is not supported");
                        Push(_resolver.NewObject(cls, args));
                        break;
                    }
                case Op.Inst:
                    {
                        // The class name goes through the resolver first, so a refused global is named in the error.
                        var cls = _resolver.ResolveGlobal(ReadLine(), ReadLine());
                        Push(_resolver.NewObject(cls, PopMark().ToArray()));
                        break;
                    }
                case Op.Obj:
                    {
                        var items = PopMark();
                        if (items.Count == 0) throw Error("OBJ without a class");
                        Push(_resolver.NewObject(items[0], items.Skip(1).ToArray()));
                        break;
                    }
                case Op.Build:
                    {
                        var state = Pop();
                        _resolver.Build(Peek(), state);
                        break;
                    }
                case Op.BinPersId: Push(_resolver.PersistentLoad(Pop())); break;

                default:
                    throw Error($"unsupported pickle opcode 0x{op:x2}{Printable(op)} (a checkpoint needs only plain data opcodes)");
            }
        }
    }

    private static string Printable(byte op) => op is >= 0x21 and < 0x7f ? $" '{(char)op}'" : "";

    // ---- stack ------------------------------------------------------------------------------------------------

    /// <summary>Index of the first stack slot above the innermost MARK: nothing below it may be popped.</summary>
    private int Floor => _marks.Count > 0 ? _marks.Peek() : 0;

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        if (_stack.Count <= Floor) throw Error("stack underflow (malformed pickle)");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        if (_stack.Count <= Floor) throw Error("stack underflow (malformed pickle)");
        return _stack[^1];
    }

    private object?[] PopN(int n)
    {
        if (_stack.Count - Floor < n) throw Error("stack underflow (malformed pickle)");
        var items = _stack.GetRange(_stack.Count - n, n).ToArray();
        _stack.RemoveRange(_stack.Count - n, n);
        return items;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack (malformed pickle)");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private List<object?> ListOnTop(string op) =>
        Peek() as List<object?> ?? throw Error($"{op} on a {Describe(Peek())}, not a list");

    private OrderedDictionary<string, object?> DictOnTop() =>
        Peek() as OrderedDictionary<string, object?> ?? throw Error($"SETITEM(S) on a {Describe(Peek())}, not a dict");

    private void SetItems(OrderedDictionary<string, object?> dict, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
        for (int i = 0; i < items.Count; i += 2) dict[ToKey(items[i])] = items[i + 1];
    }

    private object? MemoGet(long key) =>
        _memo.TryGetValue(key, out var v) ? v : throw Error($"memo entry {key} is read before it is written");

    // ---- decoding -----------------------------------------------------------------------------------------------

    private byte ReadU8() => ReadBytes(1)[0];

    private int ReadI32() => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));

    private long ReadU32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));

    private long ReadU64()
    {
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));
        return v > int.MaxValue ? throw Error($"length {v} exceeds the pickle's size") : (long)v;
    }

    private long ReadLength(int n) => n < 0 ? throw Error($"negative length {n}") : n;

    private ReadOnlySpan<byte> ReadBytes(long n)
    {
        // Lengths come from the file: check them against what is there before allocating anything.
        if (n < 0 || n > _data.Length - _pos) throw Error($"a {n}-byte field runs past the end of the pickle (truncated?)");
        var span = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return span;
    }

    private string ReadLine() => Utf8(ReadLineBytes());

    private ReadOnlySpan<byte> ReadLineBytes()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Error("a text field has no terminating newline (truncated?)");
        var line = _data.AsSpan(_pos, end - _pos);
        _pos = end + 1;
        return line;
    }

    /// <summary>Protocol 0 UNICODE: Latin-1 text with \uXXXX and \UXXXXXXXX escapes.</summary>
    private string RawUnicodeEscape(ReadOnlySpan<byte> line)
    {
        var sb = new StringBuilder(line.Length);
        for (int i = 0; i < line.Length; i++)
        {
            int digits = line[i] == '\\' && i + 1 < line.Length ? line[i + 1] switch { (byte)'u' => 4, (byte)'U' => 8, _ => 0 } : 0;
            if (digits == 0) { sb.Append((char)line[i]); continue; }
            if (i + 2 + digits > line.Length
                || !int.TryParse(Encoding.ASCII.GetString(line.Slice(i + 2, digits)), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)
                || cp < 0 || cp > 0x10FFFF)
                throw Error("bad escape in a protocol 0 string");
            if (cp is >= 0xD800 and <= 0xDFFF) sb.Append((char)cp); // a lone surrogate, as Python allows
            else sb.Append(char.ConvertFromUtf32(cp));
            i += 1 + digits;
        }
        return sb.ToString();
    }

    private static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>LONG1/LONG4 payload: little-endian two's complement.</summary>
    private static object DecodeLong(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) return 0L;
        var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        if (big >= long.MinValue && big <= long.MaxValue) return (long)big;
        return big;
    }

    private object ParseTextInt(string s)
    {
        // Protocol 0 spells booleans as INT "00" / "01".
        if (s == "00") return false;
        if (s == "01") return true;
        return ParseTextLong(s);
    }

    private object ParseTextLong(string s)
    {
        s = s.TrimEnd('L');
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var b)) return b;
        throw Error($"bad integer literal '{s}'");
    }

    private double ParseTextFloat(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Error($"bad float literal '{s}'");

    private long ParseMemoKey(string s) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : throw Error($"bad memo key '{s}'");

    /// <summary>Dict keys as text, close to Python's repr so they stay readable and distinct.</summary>
    private string ToKey(object? key) => key switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        BigInteger b => b.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        object?[] t => "(" + string.Join(", ", t.Select(ToKey)) + (t.Length == 1 ? ",)" : ")"),
        _ => throw Error($"unsupported dict key of type {Describe(key)}"),
    };

    internal static string Describe(object? v) => v switch
    {
        null => "None",
        PickleGlobal g => $"global '{g.FullName}'",
        object?[] => "tuple",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        _ => v.GetType().Name,
    };

    private CheckpointFormatException Error(string message) =>
        new($"{_source}: {message} (pickle byte offset {_opStart})");
}
