using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>The VMCS link-pointer check of the guest non-register state (SDM Vol. 3C, 26.3.1.5): a failure is a VM-entry failure (reason 33, qualification 4).</summary>
    private bool CheckGuestVmcsLinkPointer(in GuestCheckState s)
    {
        var caps = Model.Vmx!;
        uint proc2 = s.Proc2;
        ulong link = F(VmcsField.VmcsLinkPointer);
        if (link != ulong.MaxValue)
        {
            bool shadowing = (proc2 & SecondaryProcessorBasedControls.VmcsShadowing) != 0;
            uint rev = (link & 0xFFF) == 0 && PhysOk(link) ? (uint)ReadPhysical(link, 4) : 0;
            if ((link & 0xFFF) != 0 || !PhysOk(link) || (rev & 0x7FFF_FFFF) != caps.RevisionId || ((rev >> 31) != 0) != shadowing || link == _currentVmcs)
                return GFail(VmEntryChecks.GuestVmcsLinkPointer, VmcsField.VmcsLinkPointer, link, "the VMCS link pointer must be FFFFFFFF_FFFFFFFFh or name a 4-KiB aligned VMCS (shadow iff VMCS shadowing) other than the current one", 4);
        }
        return true;
    }
}
