// CM_MAX_* variables raise the library's read limits at the CLI edge; messages name the variable.
using ConsistencyModels.Cli;
using ConsistencyModels.IO;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class InputLimitsTests
{
    [Fact]
    public void Variables_override_the_defaults_and_nothing_else()
    {
        var env = new Dictionary<string, string> { ["CM_MAX_IMAGE_SIDE"] = "8192", ["CM_MAX_EXPANDED_TENSOR_BYTES"] = "2G", ["CM_MAX_PICKLE_OBJECTS"] = " 20000000 " };
        var limits = InputLimits.From(n => env.GetValueOrDefault(n));
        Assert.Equal(ReadLimits.Default with { MaxImageSide = 8192, MaxExpandedTensorBytes = 2L << 30, MaxPickleObjects = 20_000_000 }, limits);
        Assert.Equal(ReadLimits.Default, InputLimits.From(_ => null));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("lots")]
    [InlineData("99999999999")] // more than an int holds
    public void Bad_values_are_refused_by_name(string value)
    {
        var e = Assert.Throws<ArgumentException>(() => InputLimits.From(n => n == "CM_MAX_PICKLE_DEPTH" ? value : null));
        Assert.Contains($"CM_MAX_PICKLE_DEPTH={value}", e.Message);
    }

    [Fact]
    public void Every_limit_has_a_variable_and_messages_name_it()
    {
        var fields = typeof(ReadLimits).GetProperties().Where(p => p.CanWrite).Select(p => p.Name).ToList();
        Assert.Equal(fields.Count, InputLimits.Variables.Count);
        foreach (var field in fields)
        {
            var variable = "CM_" + string.Concat(field.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();
            Assert.Contains(InputLimits.Variables, v => v.Variable == variable);
            Assert.Equal($"above the limit (environment variable {variable})", OptionNames.ForCli($"above the limit (`{field}`)"));
        }
    }
}
