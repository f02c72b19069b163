using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest RIP and RFLAGS (SDM Vol. 3C, 26.3.1.4): a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestRipAndRflags(in GuestCheckState s)
    {
        bool ia32e = s.Ia32e, v86 = s.V86, injecting = s.Injecting;
        ulong cr0 = s.Cr0, rflags = s.Rflags;
        uint injType = s.InjectionType;
        var cs = s.Cs;
        ulong rip = F(VmcsField.GuestRip);
        bool code64 = ia32e && cs.Long;
        if (!code64 && (rip >> 32) != 0) return GFail(VmEntryChecks.GuestRipUpper, VmcsField.GuestRip, rip, "RIP bits 63:32 must be 0 outside 64-bit mode");
        if (code64 && !IsCanonicalLoad(rip)) return GFail(VmEntryChecks.GuestRipCanonical, VmcsField.GuestRip, rip, "RIP must be canonical in 64-bit mode");
        if ((rflags & 0xFFFF_FFFF_FFC0_8028UL) != 0 || (rflags & 2) == 0) return GFail(VmEntryChecks.GuestRflagsReserved, VmcsField.GuestRflags, rflags, "RFLAGS bits 63:22, 15, 5, 3 must be 0 and bit 1 must be 1");
        if (v86 && (ia32e || (cr0 & Cr0.PE) == 0)) return GFail(VmEntryChecks.GuestRflagsVm, VmcsField.GuestRflags, rflags, "RFLAGS.VM must be 0 in an IA-32e mode guest or with CR0.PE = 0");
        if (injecting && injType == 0 && (rflags & (ulong)RFlags.IF) == 0)
            return GFail(VmEntryChecks.GuestRflagsIfForExternalInterrupt, VmcsField.GuestRflags, rflags, "RFLAGS.IF must be 1 when injecting an external interrupt");
        return true;
    }
}
