using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Issue 11, deviation 4: the SS/CS access-rights checks of SDM Vol. 3C 26.3.1.2 for an unrestricted
/// guest (EPT on, "unrestricted guest" = 1, outside IA-32e mode), over generated CS/SS states in real-mode-like
/// (CR0.PE = 0) and protected (CR0.PE = 1, paging off) guests, against an independent model of the checks
/// written here from the SDM text.
/// </summary>
public class UnrestrictedSsProperties
{
    private sealed record SegCase(bool Pe, int CsType, int CsDpl, int SsRpl, int SsType, int SsDpl, bool SsUnusable, int CsRpl);

    private static readonly Gen<SegCase> Cases =
        from pe in Gen.Elements(false, true)
        from csType in Gen.Elements(3, 9, 11, 13, 15, 1, 5, 8)
        from csDpl in Gen.Choose(0, 3)
        from ssRpl in Gen.Choose(0, 3)
        from ssType in Gen.Elements(3, 7, 1, 5, 11, 2)
        from ssDpl in Gen.Choose(0, 3)
        from unusable in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        from csRpl in Gen.Choose(0, 3)
        select new SegCase(pe, csType, csDpl, ssRpl, ssType, ssDpl, unusable, csRpl);

    /// <summary>The SDM 26.3.1.2 checks touching CS and SS, with "unrestricted guest" = 1 and no virtual-8086 mode.</summary>
    private static bool ModelAccepts(SegCase c)
    {
        // Selector fields: SS.RPL = CS.RPL only when "unrestricted guest" = 0 -> not checked.
        // Type: CS 9, 11, 13, 15, or 3 with unrestricted guest; SS (if usable) 3 or 7.
        if (c.CsType is not (3 or 9 or 11 or 13 or 15)) return false;
        if (!c.SsUnusable && c.SsType is not (3 or 7)) return false;
        // DPL: CS type 3 -> 0; non-conforming -> = SS.DPL; conforming -> <= SS.DPL (SS.DPL read whether or not SS is usable).
        if (c.CsType == 3 && c.CsDpl != 0) return false;
        if (c.CsType is 9 or 11 && c.CsDpl != c.SsDpl) return false;
        if (c.CsType is 13 or 15 && c.CsDpl > c.SsDpl) return false;
        // SS.DPL = SS.RPL only when "unrestricted guest" = 0; SS.DPL must be 0 if CS type is 3 or CR0.PE = 0.
        if ((c.CsType == 3 || !c.Pe) && c.SsDpl != 0) return false;
        return true;
    }

    [Property(MaxTest = 150)]
    public Property UnrestrictedGuestSsAndCsChecksFollowSdm26312() => Prop.ForAll(Arb.From(Cases), c =>
    {
        var g = new VmxGuest();
        g.S.W64(0x7_8000, 0x7_9007);
        g.S.W64(0x7_9000, 0x80 | 6 << 3 | 7);
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt | SecondaryProcessorBasedControls.UnrestrictedGuest, entry: 0);
        g.W(VmcsField.EptPointer, 0x7_801E);
        g.W(VmcsField.GuestCr0, Cr0.NE | Cr0.ET | (c.Pe ? Cr0.PE : 0));
        g.W(VmcsField.GuestCr4, Cr4.VMXE);
        g.W(VmcsField.GuestEfer, 0);
        foreach (var (sel, b, lim, ar) in new[]
        {
            (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights),
            (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights),
            (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights),
            (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights),
        })
        {
            g.W(sel, 0);
            g.W(b, 0);
            g.W(lim, 0xFFFF);
            g.W(ar, 0x93);
        }
        // P = 1, S = 1, 16-bit, byte granular.
        g.W(VmcsField.GuestCsSelector, 0x3000UL | (uint)c.CsRpl);
        g.W(VmcsField.GuestCsBase, 0x3_0000);
        g.W(VmcsField.GuestCsLimit, 0xFFFF);
        g.W(VmcsField.GuestCsAccessRights, 0x90UL | (uint)c.CsType | (uint)c.CsDpl << 5);
        g.W(VmcsField.GuestSsSelector, 0x10UL | (uint)c.SsRpl);
        g.W(VmcsField.GuestSsBase, 0);
        g.W(VmcsField.GuestSsLimit, 0xFFFF);
        g.W(VmcsField.GuestSsAccessRights, 0x90UL | (uint)c.SsType | (uint)c.SsDpl << 5 | (c.SsUnusable ? 1UL << 16 : 0));
        g.W(VmcsField.GuestRip, 0);
        g.W(VmcsField.GuestRsp, 0x8000);
        g.W(VmcsField.GuestTrAccessRights, 0x8B);
        g.S.W8(0x3_0000, 0xF4); // HLT
        g.Launch(2);
        var failure = g.Cpu.LastVmEntryFailure;
        bool accepted = failure is null;
        bool segmentCheck = failure is { Class: VmEntryCheckClass.GuestState } && (failure.Check.StartsWith("guest.cs.") || failure.Check.StartsWith("guest.ss."));
        return (accepted == ModelAccepts(c) && (accepted || segmentCheck))
            .Label($"{c}: model {ModelAccepts(c)}, got {(failure is null ? "entry" : failure.Check)}");
    });
}
