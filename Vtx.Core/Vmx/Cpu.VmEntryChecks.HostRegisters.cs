using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the host control registers and MSRs (SDM Vol. 3C, 26.2.2): any failure is VMfailValid(8).</summary>
    private bool CheckHostControlRegistersAndMsrs()
    {
        uint exit = (uint)F(VmcsField.VmExitControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        ulong cr0 = F(VmcsField.HostCr0), cr3 = F(VmcsField.HostCr3), cr4 = F(VmcsField.HostCr4);
        if (!Cr0FixedOk(cr0)) return Fail(VmEntryChecks.HostCr0FixedBits, VmcsField.HostCr0, cr0, "host CR0 must obey IA32_VMX_CR0_FIXED0/FIXED1");
        if (!Cr4FixedOk(cr4)) return Fail(VmEntryChecks.HostCr4FixedBits, VmcsField.HostCr4, cr4, "host CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1");
        if ((cr4 & Cr4.CET) != 0 && (cr0 & Cr0.WP) == 0) return Fail(VmEntryChecks.HostCr4CetNeedsWp, VmcsField.HostCr4, cr4, "CR4.CET = 1 requires CR0.WP = 1");
        if (!PhysOk(cr3)) return Fail(VmEntryChecks.HostCr3Width, VmcsField.HostCr3, cr3, "host CR3 must not set bits at or above MAXPHYADDR");
        if (!IsCanonicalLoad(F(VmcsField.HostSysenterEsp))) return Fail(VmEntryChecks.HostSysenterEspCanonical, VmcsField.HostSysenterEsp, F(VmcsField.HostSysenterEsp), "host IA32_SYSENTER_ESP must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.HostSysenterEip))) return Fail(VmEntryChecks.HostSysenterEipCanonical, VmcsField.HostSysenterEip, F(VmcsField.HostSysenterEip), "host IA32_SYSENTER_EIP must be canonical");
        if ((exit & ExitControls.LoadPat) != 0 && !ValidPat(F(VmcsField.HostPat)))
            return Fail(VmEntryChecks.HostPat, VmcsField.HostPat, F(VmcsField.HostPat), "each host IA32_PAT byte must be a valid memory type (0, 1, 4, 5, 6, 7)");
        if ((exit & ExitControls.LoadEfer) != 0)
        {
            ulong efer = F(VmcsField.HostEfer);
            bool lma = (efer & Efer.LMA) != 0, lme = (efer & Efer.LME) != 0;
            if ((efer & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) != 0 || lma != hostLong || lme != hostLong)
                return Fail(VmEntryChecks.HostEfer, VmcsField.HostEfer, efer, "host IA32_EFER reserved bits must be 0 and LMA, LME must equal \"host address-space size\"");
        }
        return true;
    }

    private static bool ValidPat(ulong pat)
    {
        for (int i = 0; i < 8; i++)
            if (((pat >> (i * 8)) & 0xFF) is 2 or 3 or > 7) return false;
        return true;
    }
}
