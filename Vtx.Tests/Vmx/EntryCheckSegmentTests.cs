using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The per-segment guest-state checks of SDM Vol. 3C, 26.3.1.2 on each of ES, CS, SS, DS, FS and GS
/// (<see cref="VmEntryChecks.GuestSegments"/>): a valid VMCS with exactly that segment broken in exactly
/// that way, asserting a VM-entry failure (exit reason 33, qualification 0) reported as
/// <c>guest.&lt;segment&gt;.&lt;check&gt;</c>. Segments checked before the broken one are made valid for the
/// mode in question (virtual-8086 segments need base = selector × 16, limit FFFFh, access rights F3h).
/// </summary>
public class EntryCheckSegmentTests
{
    private const ulong NonCanonical = 0x0100_0000_0000_0000;
    private static readonly string[] Names = ["es", "cs", "ss", "ds", "fs", "gs"];

    private static (VmcsField Sel, VmcsField Base, VmcsField Limit, VmcsField Ar) Fields(int i) => i switch
    {
        0 => (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights),
        1 => (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights),
        2 => (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights),
        3 => (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights),
        4 => (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights),
        _ => (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights),
    };

    /// <summary>A usable flat ring-0 data segment (read/write, accessed, G = 1, D/B = 1) or, for CS, a 64-bit code segment.</summary>
    private static void Flat(VmxGuest g, int i)
    {
        var f = Fields(i);
        g.W(f.Sel, i == 1 ? Sys.KCode64 : Sys.KData);
        g.W(f.Base, 0);
        g.W(f.Limit, 0xFFFF_FFFF);
        g.W(f.Ar, i == 1 ? 0xA09Bu : 0xC093u);
    }

    /// <summary>The access rights <see cref="Flat"/> gives segment <paramref name="i"/>.</summary>
    private static uint FlatAr(int i) => i == 1 ? 0xA09Bu : 0xC093u;

    private static void V86Valid(VmxGuest g, int i)
    {
        var f = Fields(i);
        g.W(f.Base, g.R(f.Sel) << 4);
        g.W(f.Limit, 0xFFFF);
        g.W(f.Ar, 0xF3);
    }

    public static TheoryData<int, string> Cases()
    {
        var d = new TheoryData<int, string>();
        for (int i = 0; i < 6; i++)
            foreach (var k in new[] { "v86-base", "v86-limit", "v86-access-rights", "s", "present", "reserved", "granularity" })
                d.Add(i, k);
        foreach (int i in new[] { 0, 2, 3, 4, 5 }) d.Add(i, "base");   // CS: VmEntryCheckTests.GuestCsBaseUpperBits
        foreach (int i in new[] { 0, 3, 4, 5 }) d.Add(i, "type");       // CS, SS: VmEntryCheckTests
        foreach (int i in new[] { 0, 3, 4, 5 }) d.Add(i, "dpl");        // CS, SS: VmEntryCheckTests
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachSegmentCheckFailsAlone(int seg, string kind)
    {
        var check = VmEntryChecks.GuestSegments[seg];
        string name = $"guest.{Names[seg]}.{kind}";
        Assert.NotNull(VmEntryChecks.ByName(name));
        var failure = VmEntryCheckTests.Guest(name, g =>
        {
            for (int i = 0; i < 6; i++) Flat(g, i);
            var f = Fields(seg);
            switch (kind)
            {
                case "v86-base" or "v86-limit" or "v86-access-rights":
                    g.W(VmcsField.GuestRflags, 0x2_0002); // RFLAGS.VM: its own 26.3.1.4 check comes after the segments
                    for (int i = 0; i < seg; i++) V86Valid(g, i);
                    V86Valid(g, seg);
                    if (kind == "v86-base") g.W(f.Base, (g.R(f.Sel) << 4) + 0x10);
                    else if (kind == "v86-limit") g.W(f.Limit, 0xFFFE);
                    else g.W(f.Ar, 0xF2);
                    break;
                case "s": g.W(f.Ar, FlatAr(seg) & ~0x10u); break;              // descriptor type S = 0
                case "present": g.W(f.Ar, FlatAr(seg) & ~0x80u); break;        // P = 0 (still usable)
                case "reserved": g.W(f.Ar, FlatAr(seg) | 0x100u); break;       // bit 8
                case "granularity": g.W(f.Limit, 0x1000); break;              // G = 1 with limit[11:0] not all ones
                case "base": g.W(f.Base, seg is 4 or 5 ? NonCanonical : 1UL << 32); break;
                case "type": g.W(f.Ar, 0xC092); break;                        // data segment not accessed
                case "dpl": g.W(f.Sel, Sys.KData | 3); break;                 // RPL 3 above DPL 0
                default: throw new ArgumentException(kind);
            }
        });
        Assert.Equal("26.3.1.2", failure.Section);
        Assert.Contains(failure.Check, new[] { check.V86Base, check.V86Limit, check.V86AccessRights, check.S, check.Present, check.Reserved, check.Granularity, check.Base, check.Type, check.Dpl }.Select(c => c.Name));
    }
}
