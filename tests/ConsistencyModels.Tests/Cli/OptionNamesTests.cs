// The library names its own properties in messages; the CLI's one table turns them into flags.
using System.Text.RegularExpressions;
using ConsistencyModels.Cli;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed partial class OptionNamesTests
{
    [Fact]
    public void QuotedPropertiesBecomeFlagsAndApiFields()
    {
        const string Message = "`Ts` only applies to `Sampler` multistep; see `DownloadCatalog` or `Unmapped`";
        Assert.Equal("--ts only applies to --sampler multistep; see cm download --list or Unmapped", OptionNames.ForCli(Message));
        Assert.Equal("ts only applies to sampler multistep; see downloadCatalog or unmapped", OptionNames.ForApi(Message));
        Assert.Equal("no tokens: a `lower` word and --x stay", OptionNames.ForCli("no tokens: a `lower` word and --x stay"));
    }

    [Fact]
    public void LibrarySourceNamesNoCliFlagAndQuotesOnlyMappedProperties()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "ConsistencyModels.sln"))) root = root.Parent;
        Assert.True(root is not null, "the source tree must be above the test binaries");
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root!.FullName, "src", "ConsistencyModels"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")) continue;
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                var code = lines[i].TrimStart();
                if (code.StartsWith("//")) continue;                                     // comments may say anything
                int comment = code.IndexOf(" // ", StringComparison.Ordinal);
                if (comment >= 0 && code[..comment].Count(c => c == '"') % 2 == 0) code = code[..comment];
                var where = $"{Path.GetRelativePath(root.FullName, file)}:{i + 1}";
                if (Flag().IsMatch(code) || code.Contains("`cm ")) problems.Add($"{where}: names a CLI flag or command: {code.Trim()}");
                foreach (Match m in Token().Matches(code))
                    if (!OptionNames.Flags.ContainsKey(m.Groups[1].Value)) problems.Add($"{where}: `{m.Groups[1].Value}` is not in OptionNames.Flags");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [GeneratedRegex(@"""[^""]*(?<![\w-])--[a-z][a-z-]+")]
    private static partial Regex Flag();

    [GeneratedRegex(@"`([A-Z][A-Za-z0-9]*)`")]
    private static partial Regex Token();
}
