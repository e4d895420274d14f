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
    private readonly ReadLimits _limits;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;
    private int _opStart;
    private long _objects;

    private PickleReader(byte[] data, string source, IPickleResolver resolver, ReadLimits limits)
    {
        _data = data;
        _source = source;
        _resolver = resolver;
        _limits = limits;
    }

    /// <summary>
    /// Unpickles <paramref name="data"/>; <paramref name="source"/> names it in error messages. Object count, key
    /// length, key nesting and text-integer length are bounded by <paramref name="limits"/> (default
    /// <see cref="ReadLimits.Default"/>), so a small pickle cannot take unbounded memory, time or stack.
    /// </summary>
    public static object? Load(byte[] data, string source, IPickleResolver resolver, ReadLimits? limits = null) =>
        new PickleReader(data, source, resolver, limits ?? ReadLimits.Default).Run();

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

                case Op.BinPut: Memoize(ReadU8()); break;
                case Op.LongBinPut: Memoize(ReadU32()); break;
                case Op.Put: Memoize(ParseMemoKey(ReadLine())); break;
                case Op.Memoize: Memoize(_memo.Count); break;
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

    private void Push(object? value)
    {
        Count();
        _stack.Add(value);
    }

    private void Memoize(long key)
    {
        Count();
        _memo[key] = Peek();
    }

    /// <summary>Every value pushed or memoised costs memory whatever the file's size (EMPTY_LIST is one byte).</summary>
    private void Count()
    {
        if (++_objects > _limits.MaxPickleObjects)
            throw Error($"the pickle creates more than {_limits.MaxPickleObjects} objects, the limit (`MaxPickleObjects`); no checkpoint needs that many");
    }

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
        // Decimal parsing is quadratic in the digits: 50 million would take hours.
        if (s.Length > _limits.MaxIntegerDigits + 2)
            throw Error($"a text integer of {s.Length} digits, more than {_limits.MaxIntegerDigits} (`MaxIntegerDigits`)");
        s = s.TrimEnd('L');
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var b)) return b;
        throw Error($"bad integer literal '{InputText.Clip(s)}'");
    }

    private double ParseTextFloat(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Error($"bad float literal '{InputText.Clip(s)}'");

    private long ParseMemoKey(string s) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : throw Error($"bad memo key '{InputText.Clip(s)}'");

    /// <summary>
    /// Dict keys as text, close to Python's repr so they stay readable and distinct. Tuples are spelled out without
    /// recursion and within <see cref="ReadLimits.MaxPickleKeyLength"/>: a key nested 200,000 tuples deep, or a
    /// memo-shared tuple doubled at each level, is refused instead of overflowing the stack or the memory.
    /// </summary>
    private string ToKey(object? key)
    {
        if (key is string s) return s.Length <= _limits.MaxPickleKeyLength ? s : throw KeyTooLong(s.Length);
        var text = new StringBuilder();
        var open = new Stack<(object?[] Tuple, int Next)>();
        var current = key;
        while (true)
        {
            if (current is object?[] t)
            {
                if (open.Count >= _limits.MaxPickleDepth)
                    throw Error($"a dict key is nested more than {_limits.MaxPickleDepth} tuples deep (`MaxPickleDepth`)");
                text.Append('(');
                open.Push((t, 0));
            }
            else AppendScalarKey(text, current);
            if (text.Length > _limits.MaxPickleKeyLength) throw KeyTooLong(text.Length);

            // The next element of the innermost open tuple; close the tuples that are done.
            bool more = false;
            while (open.Count > 0)
            {
                var (tuple, next) = open.Pop();
                if (next < tuple.Length)
                {
                    if (next > 0) text.Append(", ");
                    open.Push((tuple, next + 1));
                    current = tuple[next];
                    more = true;
                    break;
                }
                text.Append(tuple.Length == 1 ? ",)" : ")");
            }
            if (!more) break;
        }
        if (text.Length > _limits.MaxPickleKeyLength) throw KeyTooLong(text.Length);
        return text.ToString();
    }

    private void AppendScalarKey(StringBuilder text, object? key)
    {
        switch (key)
        {
            case string s: text.Append(s); break;
            case null: text.Append("None"); break;
            case bool b: text.Append(b ? "True" : "False"); break;
            case long l: text.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case BigInteger b:
                // Printing is quadratic in the digits: refuse what cannot fit before printing it (log10(2) < 0.302).
                if (b.GetBitLength() * 0.302 > _limits.MaxPickleKeyLength) throw KeyTooLong((long)(b.GetBitLength() * 0.302));
                text.Append(b.ToString(CultureInfo.InvariantCulture));
                break;
            case double d: text.Append(d.ToString("R", CultureInfo.InvariantCulture)); break;
            default: throw Error($"unsupported dict key of type {Describe(key)}");
        }
    }

    private CheckpointFormatException KeyTooLong(long length) =>
        Error($"a dict key of {length} characters or more, above the limit of {_limits.MaxPickleKeyLength} (`MaxPickleKeyLength`)");

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
