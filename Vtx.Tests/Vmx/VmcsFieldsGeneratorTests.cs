using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The checked-in VmcsField.g.cs is exactly what the generator makes of VmcsFields.txt (the Iced pattern:
/// the data file is the single source, and a stale generated file fails the build's tests).
/// </summary>
public class VmcsFieldsGeneratorTests
{
    [Fact]
    public void GeneratedFileIsUpToDate()
    {
        string root = VmcsFieldsGenerator.RepositoryRoot();
        string data = File.ReadAllText(Path.Combine(root, VmcsFieldsGenerator.DataPath));
        string outputPath = Path.Combine(root, VmcsFieldsGenerator.OutputPath);
        string expected = VmcsFieldsGenerator.Generate(data);
        string actual = File.Exists(outputPath) ? File.ReadAllText(outputPath) : "";

        if (Environment.GetEnvironmentVariable("VTX_REGENERATE") == "1")
        {
            if (actual != expected) File.WriteAllText(outputPath, expected);
            return;
        }
        Assert.True(actual == expected,
            $"{VmcsFieldsGenerator.OutputPath} is stale: run scripts/gen-vmcs-fields.sh after editing {VmcsFieldsGenerator.DataPath}; "
            + FirstDifference(expected, actual));
    }

    [Fact]
    public void GeneratedMembersAgreeWithTheDataFile()
    {
        string root = VmcsFieldsGenerator.RepositoryRoot();
        var entries = VmcsFieldsGenerator.Parse(File.ReadAllText(Path.Combine(root, VmcsFieldsGenerator.DataPath)));
        Assert.Equal(entries.Select(e => e.Encoding), VmcsField.AllFields.Select(f => f.Encoding));
        foreach (var e in entries)
        {
            var f = new VmcsField(e.Encoding);
            Assert.Equal(e.Name, f.Name);
            Assert.Equal(e.Description, f.Description);
            Assert.Equal(e.Recent, f.IsRecentAddition);
            Assert.Equal(e.Requires, f.RequiredFeature.ToString());
            Assert.True(VmcsField.TryFromName(e.Name, out var byName) && byName == f, e.Name);
            var member = typeof(VmcsField).GetField(e.Name);
            Assert.NotNull(member);
            Assert.Equal(f, (VmcsField)member!.GetValue(null)!);
            Assert.Equal(e.Encoding, (uint)typeof(VmcsEncoding).GetField(e.Name)!.GetRawConstantValue()!);
        }
    }

    [Theory]
    [InlineData("[16-bit control]\nFoo 0x0001 Always x\n")]            // high access
    [InlineData("[16-bit control]\nFoo 0x1000 Always x\n")]            // reserved bit 12
    [InlineData("[16-bit control]\nFoo 0x0000 Always x\nBar 0x0000 Always y\n")] // duplicate encoding
    [InlineData("[16-bit control]\nFoo 0x0000 Always x\nFoo 0x0002 Always y\n")] // duplicate name
    [InlineData("Foo 0x0000 Always x\n")]                               // no group
    [InlineData("[16-bit control]\nFoo 0x0000 Always\n")]              // no description
    [InlineData("[16-bit control]\nFooHigh 0x2000 Always x\n")]        // reserved suffix
    public void MalformedDataIsRejected(string text) =>
        Assert.Throws<FormatException>(() => VmcsFieldsGenerator.Parse(text));

    private static string FirstDifference(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        int line = a.Take(i).Count(c => c == '\n') + 1;
        return $"first difference at line {line} (generated {a.Length} chars, file {b.Length} chars)";
    }
}
