namespace ConsistencyModels.IO.Checkpoints;

/// <summary>A global the unpickler was allowed to look up: only a name, never a live reference to code.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
    public override string ToString() => FullName;
}

/// <summary>
/// Everything in a pickle that could run code goes through here: the resolver decides which globals exist and what
/// calling them means, so <see cref="PickleReader"/> itself can never execute anything.
/// </summary>
internal interface IPickleResolver
{
    /// <summary>GLOBAL / STACK_GLOBAL / INST: returns a token for an allowed global, throws for any other.</summary>
    object ResolveGlobal(string module, string name);

    /// <summary>REDUCE: <c>callable(*args)</c>.</summary>
    object? Call(object? callable, object?[] args);

    /// <summary>NEWOBJ / NEWOBJ_EX / OBJ / INST: <c>cls.__new__(cls, *args)</c>.</summary>
    object? NewObject(object? cls, object?[] args);

    /// <summary>BUILD: <c>target.__setstate__(state)</c>.</summary>
    void Build(object? target, object? state);

    /// <summary>BINPERSID: the object an out-of-band reference (torch: a storage) stands for.</summary>
    object? PersistentLoad(object? pid);
}
