using System.Collections.Frozen;
using System.Collections.ObjectModel;

namespace Vtx.Vmx;

/// <summary>
/// A VMCS component encoding, the operand VMREAD and VMWRITE name a field by (SDM Vol. 3C, 24.11.2 and
/// Appendix B). The value is the architectural 32-bit encoding itself; its width, type, access and index
/// are read off the encoding bits (bit 0 access, bits 9:1 index, bits 11:10 type, bits 14:13 width;
/// bits 12, 15 and 31:16 reserved), never looked up in a table.
/// </summary>
/// <remarks>
/// The named static members (generated from <c>VmcsFields.txt</c> into <c>VmcsField.g.cs</c>) are the
/// architectural fields of Appendix B, each with its full-access encoding; <see cref="AllFields"/> lists
/// them. Whether a processor supports a field depends on its capabilities
/// (<see cref="RequiredFeature"/>, <see cref="VmxCapabilities.Supports"/>).
/// Chapter numbers in these comments follow the 2016 SDM edition (VMCS = chapter 24); 2020 and later
/// editions number the VMX chapters one higher. Appendix letters are the same in both.
/// </remarks>
/// <param name="Encoding">The 32-bit component encoding (SDM Vol. 3C, Appendix B, Table B-1).</param>
public readonly partial record struct VmcsField(uint Encoding)
{
    /// <summary>Encoding bits that must be 0 in every valid encoding: 31:16, 15 and 12 (SDM Vol. 3C, 24.11.2).</summary>
    public const uint ReservedMask = 0xFFFF_9000;

    /// <summary>Access type, encoding bit 0 (SDM Vol. 3C, 24.11.2).</summary>
    public VmcsFieldAccess Access => (VmcsFieldAccess)(Encoding & 1);

    /// <summary>True for a high access (bit 0 = 1): bits 63:32 of a 64-bit field (SDM Vol. 3C, 24.11.2).</summary>
    public bool IsHigh => (Encoding & 1) != 0;

    /// <summary>Index, encoding bits 9:1 (SDM Vol. 3C, 24.11.2).</summary>
    public int Index => (int)(Encoding >> 1) & 0x1FF;

    /// <summary>Type, encoding bits 11:10 (SDM Vol. 3C, 24.11.2).</summary>
    public VmcsFieldType Type => (VmcsFieldType)((Encoding >> 10) & 3);

    /// <summary>Width, encoding bits 14:13 (SDM Vol. 3C, 24.11.2).</summary>
    public VmcsFieldWidth Width => (VmcsFieldWidth)((Encoding >> 13) & 3);

    /// <summary>True if the encoding is well formed: see <see cref="IsValidEncoding"/> (SDM Vol. 3C, 24.11.2).</summary>
    public bool IsValid => IsValidEncoding(Encoding);

    /// <summary>
    /// True if <paramref name="encoding"/> is well formed: bits 31:16, 15 and 12 are 0, and a high access
    /// (bit 0 = 1) names a 64-bit field (SDM Vol. 3C, 24.11.2; a malformed encoding makes VMREAD/VMWRITE fail
    /// with VM-instruction error 12, SDM 30.3). Well formed does not mean supported: see
    /// <see cref="VmxCapabilities.Supports"/>.
    /// </summary>
    public static bool IsValidEncoding(uint encoding) =>
        (encoding & ReservedMask) == 0 && ((encoding & 1) == 0 || ((encoding >> 13) & 3) == (uint)VmcsFieldWidth.Bits64);

    /// <summary>
    /// The encoding of the component with the given width, type, index and access
    /// (<c>width &lt;&lt; 13 | type &lt;&lt; 10 | index &lt;&lt; 1 | access</c>, SDM Vol. 3C, 24.11.2).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside 0..511, or a high access of a field that is not 64-bit is asked for.</exception>
    public static VmcsField Compose(VmcsFieldWidth width, VmcsFieldType type, int index, VmcsFieldAccess access = VmcsFieldAccess.Full)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 0x1FF);
        if (access == VmcsFieldAccess.High && width != VmcsFieldWidth.Bits64)
            throw new ArgumentOutOfRangeException(nameof(access), "only 64-bit fields have a high access");
        return new VmcsField(((uint)width & 3) << 13 | ((uint)type & 3) << 10 | (uint)index << 1 | ((uint)access & 1));
    }

    /// <summary>The full access of the same field (bit 0 cleared) (SDM Vol. 3C, 24.11.2).</summary>
    public VmcsField FullAccess => new(Encoding & ~1u);

    /// <summary>The high access of this 64-bit field (bit 0 set) (SDM Vol. 3C, 24.11.2).</summary>
    /// <exception cref="InvalidOperationException">The field is not 64-bit.</exception>
    public VmcsField HighAccess => Width == VmcsFieldWidth.Bits64
        ? new(Encoding | 1)
        : throw new InvalidOperationException($"{this} is not a 64-bit field and has no high access");

    /// <summary>
    /// Number of value bits an access transfers: 16 or 32 for those widths, 32 for a high access, and 64 for a
    /// full 64-bit or natural-width access on an Intel 64 processor (SDM Vol. 3C, 24.11.2; VMREAD/VMWRITE, 30.3).
    /// </summary>
    public int ValueBits => IsHigh ? 32 : Width switch
    {
        VmcsFieldWidth.Bits16 => 16,
        VmcsFieldWidth.Bits32 => 32,
        _ => 64,
    };

    /// <summary>Mask of the value bits an access transfers, <see cref="ValueBits"/> low bits set (SDM Vol. 3C, 24.11.2; VMREAD/VMWRITE, 30.3).</summary>
    public ulong ValueMask => ValueBits == 64 ? ulong.MaxValue : (1UL << ValueBits) - 1;

    /// <summary>True for a VM-exit information ("read-only data") field, type 1 (SDM Vol. 3C, 24.9, 24.11.2).</summary>
    public bool IsExitInformation => Type == VmcsFieldType.ExitInformation;

    /// <summary>
    /// True if VMWRITE to this field fails with VM-instruction error 13 ("VMWRITE to read-only VMCS component"):
    /// it is a VM-exit information field and the processor does not allow VMWRITE to any supported field
    /// (IA32_VMX_MISC[29] = 0) (SDM Vol. 3C, 24.11.2, A.6; VMWRITE, 30.3).
    /// </summary>
    /// <param name="vmwriteToExitInformation">IA32_VMX_MISC[29]: VMWRITE may write VM-exit information fields.</param>
    public bool IsReadOnly(bool vmwriteToExitInformation) => IsExitInformation && !vmwriteToExitInformation;

    /// <summary>
    /// True if VMWRITE to this field fails with VM-instruction error 13 on a processor with the given
    /// capabilities (<see cref="VmxCapabilities.VmwriteToExitInformation"/>, IA32_VMX_MISC[29]; SDM Vol. 3C, 24.11.2, A.6).
    /// </summary>
    public bool IsReadOnly(VmxCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(capabilities);
        return IsReadOnly(capabilities.VmwriteToExitInformation);
    }

    /// <summary>
    /// True if this is a well-formed access of an architectural field listed in SDM Vol. 3C, Appendix B: the full
    /// access of a named field, or the high access of a named 64-bit field.
    /// </summary>
    public bool IsArchitectural => Info is not null;

    /// <summary>
    /// The member name of the architectural field (with "High" appended for a high access), or null if
    /// <see cref="IsArchitectural"/> is false (SDM Vol. 3C, Appendix B).
    /// </summary>
    public string? Name => Info is { } i ? i.Name + (IsHigh ? "High" : "") : null;

    /// <summary>The SDM name of the architectural field, or null if <see cref="IsArchitectural"/> is false (SDM Vol. 3C, Appendix B).</summary>
    public string? Description => Info?.Description;

    /// <summary>
    /// The capability whose support makes this field exist (SDM Vol. 3C, Appendix B), <see cref="VmxFeature.Always"/>
    /// for fields every VMX processor has; meaningful only when <see cref="IsArchitectural"/>.
    /// </summary>
    public VmxFeature RequiredFeature => Info?.Feature ?? VmxFeature.Always;

    /// <summary>
    /// True for a recently added field (marked "(new)" in the field list: FRED event data, HLAT, IPI and
    /// APIC-timer virtualization, MSR lists, SEAM, ...) that a first implementation may leave unsupported
    /// (SDM Vol. 3C, Appendix B).
    /// </summary>
    public bool IsRecentAddition => Info?.Recent ?? false;

    /// <summary>Every architectural field of SDM Vol. 3C, Appendix B, by its full-access encoding, in Appendix B order.</summary>
    public static IReadOnlyList<VmcsField> AllFields => Lookup.All;

    /// <summary>The highest index (encoding bits 9:1) of any architectural field in <see cref="AllFields"/> (SDM Vol. 3C, A.9).</summary>
    public static int HighestIndex => Lookup.HighestIndex;

    /// <summary>The architectural field whose member name is <paramref name="name"/> (case-sensitive; a "High" suffix names the high access) (SDM Vol. 3C, Appendix B).</summary>
    public static bool TryFromName(string name, out VmcsField field)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Lookup.ByName.TryGetValue(name, out field)) return true;
        if (name.EndsWith("High", StringComparison.Ordinal) && Lookup.ByName.TryGetValue(name[..^4], out var full)
            && full.Width == VmcsFieldWidth.Bits64)
        {
            field = full.HighAccess;
            return true;
        }
        field = default;
        return false;
    }

    /// <summary>The member name of an architectural field, otherwise the encoding in hex (SDM Vol. 3C, Appendix B).</summary>
    public override string ToString() => Name ?? $"VmcsField(0x{Encoding:X8})";

    /// <summary>The list entry of the architectural field this encoding accesses, or null.</summary>
    private FieldInfo? Info => IsValid && OrdinalOf(Encoding & ~1u) is var i and >= 0 ? Table.Fields[i] : null;

    /// <summary>One line of the field list: the data VmcsField.g.cs is generated from.</summary>
    private readonly record struct FieldInfo(uint Encoding, string Name, VmxFeature Feature, bool Recent, string Description);

    // Derived lookups live in a nested class so that they are built on first use, after the generated table
    // (static initialisers of the two partial files would otherwise run in an unspecified order).
    private static class Lookup
    {
        internal static readonly ReadOnlyCollection<VmcsField> All = Array.AsReadOnly(Array.ConvertAll(Table.Fields, f => new VmcsField(f.Encoding)));
        internal static readonly int HighestIndex = All.Max(f => f.Index);
        internal static readonly FrozenDictionary<string, VmcsField> ByName =
            Table.Fields.ToFrozenDictionary(f => f.Name, f => new VmcsField(f.Encoding), StringComparer.Ordinal);
    }
}
