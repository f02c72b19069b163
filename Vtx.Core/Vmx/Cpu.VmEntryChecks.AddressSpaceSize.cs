using Vtx.Vmx;
using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks related to address-space size (SDM Vol. 3C, 26.2.4): any failure is VMfailValid(8).</summary>
    private bool CheckHostAddressSpaceSize()
    {
        uint exit = (uint)F(VmcsField.VmExitControls), entry = (uint)F(VmcsField.VmEntryControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        ulong cr4 = F(VmcsField.HostCr4);
        const string s4 = "26.2.4";
        bool inLong = (_efer & Efer.LMA) != 0;
        if (!inLong && ((entry & EntryControls.Ia32eModeGuest) != 0 || hostLong))
            return Fail(HostState, "host.address-space.outside-ia32e", VmcsField.VmExitControls, exit, s4, "outside IA-32e mode \"IA-32e mode guest\" and \"host address-space size\" must be 0");
        if (inLong && !hostLong)
            return Fail(HostState, "host.address-space.ia32e", VmcsField.VmExitControls, exit, s4, "in IA-32e mode \"host address-space size\" must be 1");
        ulong rip = F(VmcsField.HostRip);
        if (!hostLong)
        {
            if ((entry & EntryControls.Ia32eModeGuest) != 0) return Fail(HostState, "host.address-space.guest-needs-64-bit-host", VmcsField.VmEntryControls, entry, s4, "an IA-32e mode guest needs a 64-bit host");
            if ((cr4 & Cr4.PCIDE) != 0) return Fail(HostState, "host.cr4.pcide", VmcsField.HostCr4, cr4, s4, "a 32-bit host must have CR4.PCIDE = 0");
            if ((rip >> 32) != 0) return Fail(HostState, "host.rip.32-bit", VmcsField.HostRip, rip, s4, "a 32-bit host's RIP bits 63:32 must be 0");
        }
        else
        {
            if ((cr4 & Cr4.PAE) == 0) return Fail(HostState, "host.cr4.pae", VmcsField.HostCr4, cr4, s4, "a 64-bit host must have CR4.PAE = 1");
            if (!IsCanonicalBits(rip, (cr4 & Cr4.LA57) != 0 ? 57 : 48)) return Fail(HostState, "host.rip.canonical", VmcsField.HostRip, rip, s4, "a 64-bit host's RIP must be canonical");
        }
        return true;
    }
}
