using Xunit;

namespace Vtx.Tests.Kit;

/// <summary>The README's property-test example and <see cref="VmEntryProperties"/> are the same code, so they cannot drift.</summary>
public class ReadmeExampleTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Vtx.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find Vtx.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>Lines trimmed of trailing space and of the common indentation, blank lines at the ends dropped.</summary>
    private static string[] Normalize(IEnumerable<string> lines)
    {
        var l = lines.Select(x => x.TrimEnd()).ToList();
        while (l.Count > 0 && l[0].Length == 0) l.RemoveAt(0);
        while (l.Count > 0 && l[^1].Length == 0) l.RemoveAt(l.Count - 1);
        int indent = l.Where(x => x.Length > 0).Select(x => x.Length - x.TrimStart().Length).DefaultIfEmpty(0).Min();
        return l.Select(x => x.Length >= indent ? x[indent..] : x).ToArray();
    }

    [Fact]
    public void TheReadmePropertyIsTheTestedOne()
    {
        string root = RepositoryRoot();
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        int section = Array.FindIndex(readme, l => l.StartsWith("## Write a VMX property test", StringComparison.Ordinal));
        Assert.True(section >= 0, "README.md has no \"## Write a VMX property test\" section");
        // The property is the section's first C# block that carries the [Property] attribute.
        int start = -1, end = -1;
        for (int i = section + 1; i < readme.Length && !readme[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            if (readme[i].Trim() != "```csharp") continue;
            int close = Array.FindIndex(readme, i + 1, l => l.Trim() == "```");
            if (close > i && readme[(i + 1)..close].Any(l => l.Contains("[Property", StringComparison.Ordinal))) { start = i + 1; end = close; break; }
        }
        Assert.True(start > 0, "no ```csharp block with a [Property] in the section");
        var source = File.ReadAllLines(Path.Combine(root, "Vtx.Tests", "Kit", "VmEntryProperties.cs"));
        int b = Array.FindIndex(source, l => l.Trim() == "// README-BEGIN"), e = Array.FindIndex(source, l => l.Trim() == "// README-END");
        Assert.True(b >= 0 && e > b, "VmEntryProperties.cs lost its README markers");
        Assert.Equal(Normalize(source[(b + 1)..e]), Normalize(readme[start..end]));
        Assert.InRange(end - start, 5, 12); // "about ten lines"
    }
}
