using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks related to address-space size (SDM Vol. 3C, 26.2.4): any failure is VMfailValid(8).</summary>
    private bool CheckHostAddressSpaceSize()
    {
        uint exit = (uint)F(VmcsField.VmExitControls), entry = (uint)F(VmcsField.VmEntryControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        ulong cr4 = F(VmcsField.HostCr4);
        bool inLong = (_efer & Efer.LMA) != 0;
        if (!inLong && ((entry & EntryControls.Ia32eModeGuest) != 0 || hostLong))
            return Fail(VmEntryChecks.HostAddressSpaceOutsideIa32e, VmcsField.VmExitControls, exit, "outside IA-32e mode \"IA-32e mode guest\" and \"host address-space size\" must be 0");
        if (inLong && !hostLong)
            return Fail(VmEntryChecks.HostAddressSpaceIa32e, VmcsField.VmExitControls, exit, "in IA-32e mode \"host address-space size\" must be 1");
        ulong rip = F(VmcsField.HostRip);
        if (!hostLong)
        {
            // The SDM's "IA-32e mode guest must be 0 with a 32-bit host" needs no check of its own: a 32-bit
            // host here means the processor is outside IA-32e mode, where the first check refused that control.
            if ((cr4 & Cr4.PCIDE) != 0) return Fail(VmEntryChecks.HostCr4Pcide, VmcsField.HostCr4, cr4, "a 32-bit host must have CR4.PCIDE = 0");
            if ((rip >> 32) != 0) return Fail(VmEntryChecks.HostRip32Bit, VmcsField.HostRip, rip, "a 32-bit host's RIP bits 63:32 must be 0");
        }
        else
        {
            if ((cr4 & Cr4.PAE) == 0) return Fail(VmEntryChecks.HostCr4Pae, VmcsField.HostCr4, cr4, "a 64-bit host must have CR4.PAE = 1");
            if (!IsCanonicalBits(rip, (cr4 & Cr4.LA57) != 0 ? 57 : 48)) return Fail(VmEntryChecks.HostRipCanonical, VmcsField.HostRip, rip, "a 64-bit host's RIP must be canonical");
        }
        return true;
    }
}
