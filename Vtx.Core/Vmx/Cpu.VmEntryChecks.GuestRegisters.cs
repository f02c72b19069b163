using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest control registers, debug registers and MSRs (SDM Vol. 3C, 26.3.1.1): a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestControlRegistersAndMsrs(in GuestCheckState s)
    {
        uint entry = s.Entry;
        bool ia32e = s.Ia32e, unrestricted = s.Unrestricted;
        ulong cr0 = s.Cr0, cr3 = s.Cr3, cr4 = s.Cr4;
        ulong cr0Check = unrestricted ? cr0 | Cr0.PE | Cr0.PG : cr0;
        if (!Cr0FixedOk(cr0Check)) return GFail(VmEntryChecks.GuestCr0FixedBits, VmcsField.GuestCr0, cr0, "guest CR0 must obey IA32_VMX_CR0_FIXED0/FIXED1 (PE and PG exempt with unrestricted guest)");
        if ((cr0 & Cr0.PG) != 0 && (cr0 & Cr0.PE) == 0) return GFail(VmEntryChecks.GuestCr0PgNeedsPe, VmcsField.GuestCr0, cr0, "guest CR0.PG = 1 requires CR0.PE = 1");
        if (!Cr4FixedOk(cr4)) return GFail(VmEntryChecks.GuestCr4FixedBits, VmcsField.GuestCr4, cr4, "guest CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1");
        if ((cr4 & Cr4.CET) != 0 && (cr0 & Cr0.WP) == 0) return GFail(VmEntryChecks.GuestCr4CetNeedsWp, VmcsField.GuestCr4, cr4, "CR4.CET = 1 requires CR0.WP = 1");
        if ((entry & EntryControls.LoadDebugControls) != 0 && (F(VmcsField.GuestDr7) >> 32) != 0)
            return GFail(VmEntryChecks.GuestDr7Upper, VmcsField.GuestDr7, F(VmcsField.GuestDr7), "with \"load debug controls\" DR7 bits 63:32 must be 0");
        if ((entry & EntryControls.LoadDebugControls) != 0 && (F(VmcsField.GuestDebugCtl) & ~DebugCtlSupported) != 0)
            return GFail(VmEntryChecks.GuestDebugctlReserved, VmcsField.GuestDebugCtl, F(VmcsField.GuestDebugCtl), "with \"load debug controls\" the IA32_DEBUGCTL bits this processor reserves must be 0");
        if (ia32e && ((cr0 & Cr0.PG) == 0 || (cr4 & Cr4.PAE) == 0)) return GFail(VmEntryChecks.GuestIa32ePaging, VmcsField.GuestCr4, cr4, "an IA-32e mode guest needs CR0.PG = 1 and CR4.PAE = 1");
        if (!ia32e && (cr4 & Cr4.PCIDE) != 0) return GFail(VmEntryChecks.GuestCr4Pcide, VmcsField.GuestCr4, cr4, "CR4.PCIDE must be 0 unless the guest is in IA-32e mode");
        if (!PhysOk(cr3)) return GFail(VmEntryChecks.GuestCr3Width, VmcsField.GuestCr3, cr3, "guest CR3 must not set bits at or above MAXPHYADDR");
        if (!IsCanonicalLoad(F(VmcsField.GuestSysenterEsp))) return GFail(VmEntryChecks.GuestSysenterEspCanonical, VmcsField.GuestSysenterEsp, F(VmcsField.GuestSysenterEsp), "guest IA32_SYSENTER_ESP must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.GuestSysenterEip))) return GFail(VmEntryChecks.GuestSysenterEipCanonical, VmcsField.GuestSysenterEip, F(VmcsField.GuestSysenterEip), "guest IA32_SYSENTER_EIP must be canonical");
        if ((entry & EntryControls.LoadPat) != 0 && !ValidPat(F(VmcsField.GuestPat)))
            return GFail(VmEntryChecks.GuestPat, VmcsField.GuestPat, F(VmcsField.GuestPat), "each guest IA32_PAT byte must be a valid memory type");
        if ((entry & EntryControls.LoadEfer) != 0)
        {
            ulong efer = F(VmcsField.GuestEfer);
            bool lma = (efer & Efer.LMA) != 0;
            if ((efer & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) != 0 || lma != ia32e || ((cr0 & Cr0.PG) != 0 && ((efer & Efer.LME) != 0) != lma))
                return GFail(VmEntryChecks.GuestEfer, VmcsField.GuestEfer, efer, "guest IA32_EFER reserved bits must be 0, LMA must equal \"IA-32e mode guest\", and with CR0.PG LME must equal LMA");
        }
        return true;
    }
}
