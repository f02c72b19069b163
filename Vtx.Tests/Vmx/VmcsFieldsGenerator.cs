using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The generator of Vtx.Core/Vmx/VmcsField.g.cs from Vtx.Core/Vmx/VmcsFields.txt. A pure function of the text;
/// <see cref="VmcsFieldsGeneratorTests"/> regenerates in memory and fails when the checked-in file differs
/// (with VTX_REGENERATE=1 it rewrites the file instead: scripts/gen-vmcs-fields.sh).
/// </summary>
public static partial class VmcsFieldsGenerator
{
    public const string DataPath = "Vtx.Core/Vmx/VmcsFields.txt";
    public const string OutputPath = "Vtx.Core/Vmx/VmcsField.g.cs";

    /// <summary>One field line of the data file.</summary>
    public sealed record Entry(string Name, uint Encoding, string Requires, string Description, bool Recent, string Group, int Line);

    [GeneratedRegex(@"^\[(?<group>[^\]]+)\]$")]
    private static partial Regex GroupLine();

    [GeneratedRegex(@"^(?<name>[A-Z][A-Za-z0-9]*)\s+0x(?<enc>[0-9A-Fa-f]{4})\s+(?<req>[A-Z][A-Za-z0-9]*)\s+(?<desc>\S.*?)\s*$")]
    private static partial Regex FieldLine();

    /// <summary>Parses the data file; throws <see cref="FormatException"/> naming the line of any malformed or duplicate entry.</summary>
    public static IReadOnlyList<Entry> Parse(string text)
    {
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var encodings = new HashSet<uint>();
        string? group = null;
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r').Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var g = GroupLine().Match(line);
            if (g.Success) { group = g.Groups["group"].Value; continue; }
            var m = FieldLine().Match(line);
            if (!m.Success) throw new FormatException($"line {i + 1}: expected 'name 0xENCODING Feature description': {line}");
            if (group is null) throw new FormatException($"line {i + 1}: field before any [group] line");
            string name = m.Groups["name"].Value;
            uint enc = uint.Parse(m.Groups["enc"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            string desc = m.Groups["desc"].Value;
            bool recent = desc.StartsWith("(new)", StringComparison.Ordinal);
            if (recent) desc = desc["(new)".Length..].TrimStart();
            if (desc.Length == 0) throw new FormatException($"line {i + 1}: empty description");
            if ((enc & 0x9001) != 0) throw new FormatException($"line {i + 1}: 0x{enc:X4} is not a full-access encoding with reserved bits 0");
            if (name.EndsWith("High", StringComparison.Ordinal)) throw new FormatException($"line {i + 1}: the suffix 'High' is reserved for high accesses");
            if (!names.Add(name)) throw new FormatException($"line {i + 1}: duplicate name {name}");
            if (!encodings.Add(enc)) throw new FormatException($"line {i + 1}: duplicate encoding 0x{enc:X4}");
            entries.Add(new Entry(name, enc, m.Groups["req"].Value, desc, recent, group, i + 1));
        }
        return entries;
    }

    /// <summary>The text of VmcsField.g.cs for the given data file.</summary>
    public static string Generate(string dataText)
    {
        var entries = Parse(dataText);
        var sb = new StringBuilder();
        void L(string s = "") => sb.Append(s).Append('\n');

        L("// Generated from VmcsFields.txt by Vtx.Tests/Vmx/VmcsFieldsGenerator.cs: do not edit by hand.");
        L("// Edit VmcsFields.txt and run scripts/gen-vmcs-fields.sh; VmcsFieldsGeneratorTests fails while this file is stale.");
        L();
        L("namespace Vtx.Vmx;");
        L();
        L("/// <summary>");
        L("/// The full-access encodings of the architectural VMCS fields as constants, for switch statements");
        L("/// (SDM Vol. 3C, Appendix B). The high access of a 64-bit field is its constant + 1.");
        L("/// </summary>");
        L("public static class VmcsEncoding");
        L("{");
        foreach (var e in entries)
        {
            L($"    /// <summary>{Summary(e)}</summary>");
            L($"    public const uint {e.Name} = 0x{e.Encoding:X4};");
        }
        L("}");
        L();
        L("public readonly partial record struct VmcsField");
        L("{");
        foreach (var e in entries)
        {
            L($"    /// <summary>{Summary(e)}</summary>");
            L($"    public static readonly VmcsField {e.Name} = new(VmcsEncoding.{e.Name});");
        }
        L();
        L("    /// <summary>Position of the field with this full-access encoding in <see cref=\"Table.Fields\"/>, or -1.</summary>");
        L("    private static int OrdinalOf(uint fullEncoding) => fullEncoding switch");
        L("    {");
        for (int i = 0; i < entries.Count; i++)
            L($"        0x{entries[i].Encoding:X4} => {i},");
        L("        _ => -1,");
        L("    };");
        L();
        L("    /// <summary>The field list, in the order of VmcsFields.txt (SDM Vol. 3C, Appendix B).</summary>");
        L("    private static class Table");
        L("    {");
        L("        internal static readonly FieldInfo[] Fields =");
        L("        [");
        foreach (var e in entries)
            L($"            new(0x{e.Encoding:X4}, \"{e.Name}\", VmxFeature.{e.Requires}, {(e.Recent ? "true" : "false")}, \"{CsString(e.Description)}\"),");
        L("        ];");
        L("    }");
        L("}");
        return sb.ToString();
    }

    private static string Summary(Entry e)
    {
        uint width = (e.Encoding >> 13) & 3, type = (e.Encoding >> 10) & 3;
        string widthText = width switch { 0 => "16-bit", 1 => "64-bit", 2 => "32-bit", _ => "natural-width" };
        string typeText = type switch { 0 => "control", 1 => "read-only data", 2 => "guest-state", _ => "host-state" };
        // Appendix B: B.1 16-bit, B.2 64-bit, B.3 32-bit, B.4 natural-width fields; within each, control,
        // read-only data (absent for 16-bit), guest-state and host-state subsections.
        int section = width switch { 0 => 1, 1 => 2, 2 => 3, _ => 4 };
        int sub = width == 0 ? (type == 0 ? 1 : (int)type) : (int)type + 1;
        string text = $"{Xml(e.Description)}: {widthText} {typeText} field, encoding 0x{e.Encoding:X4} (SDM Vol. 3C, Appendix B.{section}.{sub}).";
        if (e.Requires != "Always")
            text += $" Exists only on processors offering <see cref=\"VmxFeature.{e.Requires}\"/>.";
        if (e.Recent)
            text += " Recent addition.";
        return text;
    }

    private static string Xml(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    private static string CsString(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

    /// <summary>The repository root (the directory holding Vtx.slnx) above the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Vtx.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"cannot find Vtx.slnx above {AppContext.BaseDirectory}");
    }
}
