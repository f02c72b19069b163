using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest segment registers (SDM Vol. 3C, 26.3.1.2): a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestSegmentRegisters(in GuestCheckState s)
    {
        bool ia32e = s.Ia32e, unrestricted = s.Unrestricted;
        ulong cr0 = s.Cr0, rflags = s.Rflags;
        bool v86 = (rflags & (ulong)RFlags.VM) != 0;
        Span<SegmentCache> segs = stackalloc SegmentCache[6]; // issue 13: 0 B per VM entry
        for (int i = 0; i < 6; i++)
        {
            var g = GuestSegments[i];
            segs[i] = new SegmentCache((ushort)F(g.Sel), F(g.Base), (uint)F(g.Limit), (uint)F(g.Ar));
        }
        var tr = new SegmentCache((ushort)F(VmcsField.GuestTrSelector), F(VmcsField.GuestTrBase), (uint)F(VmcsField.GuestTrLimit), (uint)F(VmcsField.GuestTrAccessRights));
        var ldtr = new SegmentCache((ushort)F(VmcsField.GuestLdtrSelector), F(VmcsField.GuestLdtrBase), (uint)F(VmcsField.GuestLdtrLimit), (uint)F(VmcsField.GuestLdtrAccessRights));
        if ((tr.Selector & 4) != 0) return GFail(VmEntryChecks.GuestTrTi, VmcsField.GuestTrSelector, tr.Selector, "the TR selector's TI flag must be 0");
        if (!ldtr.IsUnusable && (ldtr.Selector & 4) != 0) return GFail(VmEntryChecks.GuestLdtrTi, VmcsField.GuestLdtrSelector, ldtr.Selector, "a usable LDTR selector's TI flag must be 0");
        var cs = segs[1];
        var ss = segs[2];
        if (!v86 && !unrestricted && (ss.Selector & 3) != (cs.Selector & 3))
            return GFail(VmEntryChecks.GuestSsRpl, VmcsField.GuestSsSelector, ss.Selector, "SS.RPL must equal CS.RPL (unless virtual-8086 or unrestricted guest)");
        if (v86)
        {
            for (int i = 0; i < 6; i++)
            {
                var g = GuestSegments[i];
                var sc = segs[i];
                if (sc.Base != (ulong)sc.Selector << 4) return GFail(VmEntryChecks.GuestSegments[i].V86Base, g.Base, sc.Base, "in virtual-8086 mode a segment base must be the selector shifted left 4");
                if (sc.Limit != 0xFFFF) return GFail(VmEntryChecks.GuestSegments[i].V86Limit, g.Limit, sc.Limit, "in virtual-8086 mode a segment limit must be FFFFh");
                if (sc.AccessRights != 0xF3) return GFail(VmEntryChecks.GuestSegments[i].V86AccessRights, g.Ar, sc.AccessRights, "in virtual-8086 mode access rights must be 000000F3h");
            }
        }
        if (!IsCanonicalLoad(tr.Base)) return GFail(VmEntryChecks.GuestTrBase, VmcsField.GuestTrBase, tr.Base, "the TR base must be canonical");
        if (!IsCanonicalLoad(segs[4].Base)) return GFail(VmEntryChecks.GuestFs.Base, VmcsField.GuestFsBase, segs[4].Base, "the FS base must be canonical");
        if (!IsCanonicalLoad(segs[5].Base)) return GFail(VmEntryChecks.GuestGs.Base, VmcsField.GuestGsBase, segs[5].Base, "the GS base must be canonical");
        if (!ldtr.IsUnusable && !IsCanonicalLoad(ldtr.Base)) return GFail(VmEntryChecks.GuestLdtrBase, VmcsField.GuestLdtrBase, ldtr.Base, "a usable LDTR base must be canonical");
        if ((cs.Base >> 32) != 0) return GFail(VmEntryChecks.GuestCs.Base, VmcsField.GuestCsBase, cs.Base, "CS base bits 63:32 must be 0");
        foreach (int i in StackAndDataSegments)
            if (!segs[i].IsUnusable && (segs[i].Base >> 32) != 0)
                return GFail(VmEntryChecks.GuestSegments[i].Base, GuestSegments[i].Base, segs[i].Base, "usable SS, DS, ES bases must have bits 63:32 = 0");
        if (!v86)
        {
            // Access rights: CS always; the others when usable.
            int csType = cs.Type;
            bool csOk = csType is 9 or 11 or 13 or 15 || (unrestricted && csType == 3);
            if (!csOk) return GFail(VmEntryChecks.GuestCs.Type, VmcsField.GuestCsAccessRights, cs.AccessRights, "CS must be an accessed code segment (type 9, 11, 13 or 15; 3 with unrestricted guest)");
            if (!ss.IsUnusable && ss.Type is not (3 or 7)) return GFail(VmEntryChecks.GuestSs.Type, VmcsField.GuestSsAccessRights, ss.AccessRights, "a usable SS must be a read/write accessed data segment (type 3 or 7)");
            foreach (int i in DataSegments)
            {
                var sc = segs[i];
                if (sc.IsUnusable) continue;
                if ((sc.Type & 1) == 0 || ((sc.Type & 8) != 0 && (sc.Type & 2) == 0))
                    return GFail(VmEntryChecks.GuestSegments[i].Type, GuestSegments[i].Ar, sc.AccessRights, "a usable data segment must be accessed, and a code segment also readable");
            }
            for (int i = 0; i < 6; i++)
            {
                var sc = segs[i];
                var g = GuestSegments[i];
                if (i != 1 && sc.IsUnusable) continue;
                if ((sc.AccessRights & SegmentCache.S) == 0) return GFail(VmEntryChecks.GuestSegments[i].S, g.Ar, sc.AccessRights, "code and data segments must have S = 1");
                if (!sc.Present) return GFail(VmEntryChecks.GuestSegments[i].Present, g.Ar, sc.AccessRights, "usable segments must be present");
                if ((sc.AccessRights & 0xFFFE_0F00) != 0) return GFail(VmEntryChecks.GuestSegments[i].Reserved, g.Ar, sc.AccessRights, "access-rights bits 11:8 and 31:17 must be 0");
                if (!GranularityOk(sc.Limit, sc.AccessRights)) return GFail(VmEntryChecks.GuestSegments[i].Granularity, g.Ar, sc.AccessRights, "G must be 1 if any of limit[31:20] is 1, and 0 unless limit[11:0] are all 1");
            }
            if (csType == 3 && cs.Dpl != 0) return GFail(VmEntryChecks.GuestCs.Dpl, VmcsField.GuestCsAccessRights, cs.AccessRights, "a type-3 CS (unrestricted guest) must have DPL 0");
            if (csType is 9 or 11 && cs.Dpl != ss.Dpl) return GFail(VmEntryChecks.GuestCs.Dpl, VmcsField.GuestCsAccessRights, cs.AccessRights, "a non-conforming CS's DPL must equal SS.DPL");
            if (csType is 13 or 15 && cs.Dpl > ss.Dpl) return GFail(VmEntryChecks.GuestCs.Dpl, VmcsField.GuestCsAccessRights, cs.AccessRights, "a conforming CS's DPL must not exceed SS.DPL");
            if (!unrestricted && ss.Dpl != (ss.Selector & 3)) return GFail(VmEntryChecks.GuestSs.Dpl, VmcsField.GuestSsAccessRights, ss.AccessRights, "SS.DPL must equal SS.RPL (unless unrestricted guest)");
            if ((csType == 3 || (cr0 & Cr0.PE) == 0) && ss.Dpl != 0) return GFail(VmEntryChecks.GuestSsDplZero, VmcsField.GuestSsAccessRights, ss.AccessRights, "SS.DPL must be 0 with a type-3 CS or CR0.PE = 0");
            if (!unrestricted)
                foreach (int i in DataSegments)
                {
                    var sc = segs[i];
                    if (!sc.IsUnusable && sc.Type <= 11 && sc.Dpl < (sc.Selector & 3))
                        return GFail(VmEntryChecks.GuestSegments[i].Dpl, GuestSegments[i].Ar, sc.AccessRights, "a data or non-conforming code segment's DPL must not be below its RPL");
                }
            if (ia32e && cs.Long && cs.Big) return GFail(VmEntryChecks.GuestCsLAndDb, VmcsField.GuestCsAccessRights, cs.AccessRights, "CS.D/B must be 0 when CS.L = 1 in an IA-32e mode guest");
        }
        // TR and LDTR.
        bool trTypeOk = tr.Type == 11 || (!ia32e && tr.Type == 3);
        if (tr.IsUnusable || !trTypeOk) return GFail(VmEntryChecks.GuestTrType, VmcsField.GuestTrAccessRights, tr.AccessRights, "TR must be usable and a busy TSS (type 11, or 3 outside IA-32e mode)");
        if ((tr.AccessRights & SegmentCache.S) != 0 || !tr.Present || (tr.AccessRights & 0xFFFE_0F00) != 0 || !GranularityOk(tr.Limit, tr.AccessRights))
            return GFail(VmEntryChecks.GuestTrAccessRights, VmcsField.GuestTrAccessRights, tr.AccessRights, "TR must be a present system segment with reserved bits 0 and consistent granularity");
        if (!ldtr.IsUnusable && (ldtr.Type != 2 || (ldtr.AccessRights & SegmentCache.S) != 0 || !ldtr.Present || (ldtr.AccessRights & 0xFFFE_0F00) != 0 || !GranularityOk(ldtr.Limit, ldtr.AccessRights)))
            return GFail(VmEntryChecks.GuestLdtrAccessRights, VmcsField.GuestLdtrAccessRights, ldtr.AccessRights, "a usable LDTR must be a present LDT descriptor (type 2, S = 0) with consistent granularity");
        return true;
    }

    private static readonly int[] StackAndDataSegments = [2, 3, 0];   // SS, DS, ES
    private static readonly int[] DataSegments = [3, 0, 4, 5];        // DS, ES, FS, GS

    private static readonly (VmcsField Sel, VmcsField Base, VmcsField Limit, VmcsField Ar, string Name)[] GuestSegments =
    [
        (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights, "es"),
        (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights, "cs"),
        (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights, "ss"),
        (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights, "ds"),
        (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights, "fs"),
        (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights, "gs"),
    ];

    /// <summary>The limit/granularity consistency of SDM Vol. 3C, 26.3.1.2: limit[11:0] not all ones needs G = 0; any of limit[31:20] set needs G = 1.</summary>
    private static bool GranularityOk(uint limit, uint ar)
    {
        bool g = (ar & SegmentCache.G) != 0;
        if ((limit & 0xFFF) != 0xFFF && g) return false;
        if ((limit & 0xFFF0_0000) != 0 && !g) return false;
        return true;
    }
}
