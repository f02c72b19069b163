using Vtx.Vmx;
using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest descriptor-table registers (SDM Vol. 3C, 26.3.1.3): a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestDescriptorTableRegisters()
    {
        const string s3 = "26.3.1.3";
        if (!IsCanonicalLoad(F(VmcsField.GuestGdtrBase))) return GFail("guest.gdtr.base", VmcsField.GuestGdtrBase, F(VmcsField.GuestGdtrBase), s3, "the GDTR base must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.GuestIdtrBase))) return GFail("guest.idtr.base", VmcsField.GuestIdtrBase, F(VmcsField.GuestIdtrBase), s3, "the IDTR base must be canonical");
        if (F(VmcsField.GuestGdtrLimit) > 0xFFFF) return GFail("guest.gdtr.limit", VmcsField.GuestGdtrLimit, F(VmcsField.GuestGdtrLimit), s3, "GDTR limit bits 31:16 must be 0");
        if (F(VmcsField.GuestIdtrLimit) > 0xFFFF) return GFail("guest.idtr.limit", VmcsField.GuestIdtrLimit, F(VmcsField.GuestIdtrLimit), s3, "IDTR limit bits 31:16 must be 0");
        return true;
    }
}
