using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest descriptor-table registers (SDM Vol. 3C, 26.3.1.3): a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestDescriptorTableRegisters()
    {
        if (!IsCanonicalLoad(F(VmcsField.GuestGdtrBase))) return GFail(VmEntryChecks.GuestGdtrBase, VmcsField.GuestGdtrBase, F(VmcsField.GuestGdtrBase), "the GDTR base must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.GuestIdtrBase))) return GFail(VmEntryChecks.GuestIdtrBase, VmcsField.GuestIdtrBase, F(VmcsField.GuestIdtrBase), "the IDTR base must be canonical");
        if (F(VmcsField.GuestGdtrLimit) > 0xFFFF) return GFail(VmEntryChecks.GuestGdtrLimit, VmcsField.GuestGdtrLimit, F(VmcsField.GuestGdtrLimit), "GDTR limit bits 31:16 must be 0");
        if (F(VmcsField.GuestIdtrLimit) > 0xFFFF) return GFail(VmEntryChecks.GuestIdtrLimit, VmcsField.GuestIdtrLimit, F(VmcsField.GuestIdtrLimit), "IDTR limit bits 31:16 must be 0");
        return true;
    }
}
