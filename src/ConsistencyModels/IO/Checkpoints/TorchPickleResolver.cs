using System.Text;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// The torch.save side of unpickling, modelled on PyTorch's <c>weights_only=True</c> unpickler: a fixed allow-list of
/// globals (ordered dicts, tensor rebuild functions, storage classes, a few value types). Anything else, including
/// every numpy global, is refused by name before it can be called.
/// </summary>
internal sealed class TorchPickleResolver(string source) : IPickleResolver
{
    private const string OrderedDict = "collections.OrderedDict";
    private const string RebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
    private const string RebuildParameter = "torch._utils._rebuild_parameter";
    private const string RebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";
    private const string RebuildFromTypeV2 = "torch._tensor._rebuild_from_type_v2";
    private const string TorchDevice = "torch.device";
    private const string TorchSize = "torch.Size";
    private const string CodecsEncode = "_codecs.encode"; // how protocol 2 spells a Python 3 bytes object

    private static readonly HashSet<string> Allowed =
    [
        OrderedDict, RebuildTensorV2, RebuildParameter, RebuildParameterWithState, RebuildFromTypeV2,
        TorchDevice, TorchSize, CodecsEncode,
        // Only ever arguments of _rebuild_from_type_v2 (the tensor's Python class); calling them is refused below.
        "torch.Tensor", "torch.nn.parameter.Parameter",
    ];

    private readonly Dictionary<string, TorchStorageRef> _storages = [];

    public object ResolveGlobal(string module, string name)
    {
        if (module == "torch" && TensorDtypes.FromStorageName(name) is { } dtype) return new TorchStorageType(name, dtype);
        if (module == "torch" && name == "UntypedStorage")
            return new TorchStorageType(name, TensorDtypes.FromStorageName("ByteStorage")!);
        var full = module + "." + name;
        if (Allowed.Contains(full)) return new PickleGlobal(module, name);
        throw new CheckpointFormatException(
            $"{source}: refusing to unpickle global '{InputText.Clip(full)}': a checkpoint is data, not code. {Hint(module)}");
    }

    private static string Hint(string module) =>
        module == "numpy" || module.StartsWith("numpy.", StringComparison.Ordinal)
            ? "NumPy objects are not supported: store tensors (torch.from_numpy) instead."
            : "Only tensors, dicts, lists and plain values can be read; in Python, save model.state_dict() rather than a module or other object.";

    public object? Call(object? callable, object?[] args)
    {
        if (callable is not PickleGlobal g)
            throw Error($"REDUCE calls a {PickleReader.Describe(callable)}, which is not callable");
        switch (g.FullName)
        {
            case OrderedDict: return NewOrderedDict(args);
            case RebuildTensorV2: return RebuildTensor(args);
            case RebuildParameter:
            case RebuildParameterWithState:
                // (data, requires_grad, backward_hooks[, state]): the parameter is its data tensor here.
                return args.Length >= 3 && args[0] is TorchTensorRecipe data
                    ? data : throw Error($"{g.FullName} expects (tensor, requires_grad, hooks, ...)");
            case RebuildFromTypeV2:
                // (func, new_type, args, state): a tensor subclass (e.g. Parameter); rebuild the plain tensor.
                if (args.Length != 4 || args[0] is not PickleGlobal inner || args[2] is not object?[] innerArgs
                    || args[1] is not PickleGlobal { FullName: "torch.Tensor" or "torch.nn.parameter.Parameter" })
                    throw Error($"{g.FullName} expects (function, torch.Tensor or Parameter, args, state)");
                return Call(inner, innerArgs);
            case TorchDevice:
                return args switch
                {
                    [string type] => type,
                    [string type, long index] => $"{type}:{index}",
                    _ => throw Error("torch.device expects (type[, index])"),
                };
            case TorchSize:
                return args is [object?[] dims] ? dims : throw Error("torch.Size expects one tuple");
            case CodecsEncode:
                return args is [string text, "latin1" or "latin-1"]
                    ? Encoding.Latin1.GetBytes(text) : throw Error("_codecs.encode is only accepted as (str, 'latin1')");
            default:
                throw Error($"global '{g.FullName}' cannot be called");
        }
    }

    public object? NewObject(object? cls, object?[] args) =>
        cls is PickleGlobal { FullName: OrderedDict }
            ? new OrderedDictionary<string, object?>()
            : throw Error($"cannot instantiate {PickleReader.Describe(cls)}");

    public void Build(object? target, object? state)
    {
        switch (target)
        {
            // state_dict() pickles its `_metadata` attribute (module versions) this way: not needed to load weights.
            case OrderedDictionary<string, object?>:
            // Python attributes set on a tensor or Parameter: nothing a state dict needs.
            case TorchTensorRecipe:
                return;
            default:
                throw Error($"BUILD (setting state) on a {PickleReader.Describe(target)} is not supported");
        }
    }

    public object? PersistentLoad(object? pid)
    {
        // torch.save: ('storage', storage_type, key, location, numel)
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Error($"unsupported persistent id {PickleReader.Describe(pid)} (expected ('storage', type, key, location, numel))");
        if (t[1] is not TorchStorageType type) throw Error($"persistent id names {PickleReader.Describe(t[1])}, not a storage class");
        if (t[2] is not string key || t[3] is not string || t[4] is not long numel || numel < 0)
            throw Error("persistent id expects (str key, str location, int numel)");
        if (_storages.TryGetValue(key, out var known))
        {
            if (known.Dtype != type.Dtype)
                throw Error($"storage '{InputText.Clip(key)}' is viewed as both {known.Dtype.Type} and {type.Dtype.Type}, which is not supported");
            return known; // like torch.load: the first reference fixes the storage
        }
        return _storages[key] = new TorchStorageRef(key, type.Dtype, numel);
    }

    private OrderedDictionary<string, object?> NewOrderedDict(object?[] args)
    {
        var dict = new OrderedDictionary<string, object?>();
        if (args.Length == 0) return dict;
        // OrderedDict([(key, value), ...]) -- not what pickle emits, but cheap to accept.
        if (args is [List<object?> pairs] && pairs.All(p => p is object?[] { Length: 2 } && ((object?[])p!)[0] is string))
        {
            foreach (object?[] p in pairs.Cast<object?[]>()) dict[(string)p[0]!] = p[1];
            return dict;
        }
        throw Error("collections.OrderedDict expects no arguments or a list of (str, value) pairs");
    }

    private TorchTensorRecipe RebuildTensor(object?[] args)
    {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (args.Length is < 6 or > 7 || args[0] is not TorchStorageRef storage || args[1] is not long offset
            || args[2] is not object?[] size || args[3] is not object?[] stride || args[4] is not bool)
            throw Error("_rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks[, metadata])");
        if (size.Length != stride.Length) throw Error($"tensor size has {size.Length} dims but stride has {stride.Length}");
        return new TorchTensorRecipe(storage, offset, Longs(size, "size"), Longs(stride, "stride"));
    }

    private long[] Longs(object?[] items, string what) =>
        items.Select(i => i is long l ? l : throw Error($"tensor {what} holds a {PickleReader.Describe(i)}, not an int")).ToArray();

    private CheckpointFormatException Error(string message) => new($"{source}: {message}");
}
