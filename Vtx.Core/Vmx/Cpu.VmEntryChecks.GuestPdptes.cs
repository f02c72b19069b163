using Vtx.Memory;
using Vtx.Memory.Paging;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest page-directory-pointer-table entries (SDM Vol. 3C, 26.3.1.6): a failure is a VM-entry failure (reason 33, qualification 2).</summary>
    private bool CheckGuestPdptes(in GuestCheckState s, out PaePdptes pdptes)
    {
        pdptes = default;
        bool ia32e = s.Ia32e;
        uint proc2 = s.Proc2;
        ulong cr0 = s.Cr0, cr3 = s.Cr3, cr4 = s.Cr4;
        if ((cr0 & Cr0.PG) != 0 && (cr4 & Cr4.PAE) != 0 && !ia32e)
        {
            if ((proc2 & SecondaryProcessorBasedControls.EnableEpt) != 0)
            {
                // With EPT the PDPTEs come from the guest-state fields (26.3.1.6).
                pdptes = new PaePdptes(F(VmcsField.GuestPdpte0), F(VmcsField.GuestPdpte1), F(VmcsField.GuestPdpte2), F(VmcsField.GuestPdpte3));
                foreach (var pf in GuestPdpteFields)
                    if (PaePdptes.HasReservedBits(F(pf), Model.PhysicalAddressBits))
                        return GFail(VmEntryChecks.GuestPdpteFields, pf, F(pf), "with EPT, a present guest PDPTE field sets a reserved bit", 2);
            }
            else if (!PageWalker.LoadPdptes(new PhysicalMemoryAccess(_mem), cr3, Model.PhysicalAddressBits, out pdptes))
                return GFail(VmEntryChecks.GuestPdptes, VmcsField.GuestCr3, cr3, "a present PDPTE referenced by guest CR3 sets a reserved bit", 2);
        }
        return true;
    }

    private static readonly VmcsField[] GuestPdpteFields = [VmcsField.GuestPdpte0, VmcsField.GuestPdpte1, VmcsField.GuestPdpte2, VmcsField.GuestPdpte3];
}
