// Tests whose results depend on libtorch's global random generator (manual_seed, weight init, dropout) run alone:
// xunit runs other test classes in parallel, and any of them drawing from the global generator would shift the stream.
using Xunit;

namespace ConsistencyModels.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "global torch RNG";
}
