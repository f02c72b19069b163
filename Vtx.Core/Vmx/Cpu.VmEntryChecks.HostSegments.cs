using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the host segment and descriptor-table registers (SDM Vol. 3C, 26.2.3): any failure is VMfailValid(8).</summary>
    private bool CheckHostSegmentAndDescriptorTableRegisters()
    {
        uint exit = (uint)F(VmcsField.VmExitControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        foreach (var sf in HostSelectors)
            if ((F(sf) & 7) != 0) return Fail(VmEntryChecks.HostSelectorRplTi, sf, F(sf), "host selectors must have RPL = 0 and TI = 0");
        if (F(VmcsField.HostCsSelector) == 0) return Fail(VmEntryChecks.HostCsNonzero, VmcsField.HostCsSelector, 0, "the host CS selector must not be 0000h");
        if (F(VmcsField.HostTrSelector) == 0) return Fail(VmEntryChecks.HostTrNonzero, VmcsField.HostTrSelector, 0, "the host TR selector must not be 0000h");
        if (!hostLong && F(VmcsField.HostSsSelector) == 0) return Fail(VmEntryChecks.HostSsNonzero, VmcsField.HostSsSelector, 0, "the host SS selector must not be 0000h unless the host is 64-bit");
        foreach (var bf in HostBases)
            if (!IsCanonicalLoad(F(bf))) return Fail(VmEntryChecks.HostBaseCanonical, bf, F(bf), "host FS, GS, GDTR, IDTR and TR bases must be canonical");
        return true;
    }

    private static readonly VmcsField[] HostSelectors =
        [VmcsField.HostEsSelector, VmcsField.HostCsSelector, VmcsField.HostSsSelector, VmcsField.HostDsSelector, VmcsField.HostFsSelector, VmcsField.HostGsSelector, VmcsField.HostTrSelector];
    private static readonly VmcsField[] HostBases = [VmcsField.HostFsBase, VmcsField.HostGsBase, VmcsField.HostGdtrBase, VmcsField.HostIdtrBase, VmcsField.HostTrBase];
}
