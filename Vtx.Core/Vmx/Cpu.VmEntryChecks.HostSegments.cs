using Vtx.Vmx;
using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the host segment and descriptor-table registers (SDM Vol. 3C, 26.2.3): any failure is VMfailValid(8).</summary>
    private bool CheckHostSegmentAndDescriptorTableRegisters()
    {
        uint exit = (uint)F(VmcsField.VmExitControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        const string s3 = "26.2.3";
        foreach (var sf in HostSelectors)
            if ((F(sf) & 7) != 0) return Fail(HostState, "host.selector.rpl-ti", sf, F(sf), s3, "host selectors must have RPL = 0 and TI = 0");
        if (F(VmcsField.HostCsSelector) == 0) return Fail(HostState, "host.cs.nonzero", VmcsField.HostCsSelector, 0, s3, "the host CS selector must not be 0000h");
        if (F(VmcsField.HostTrSelector) == 0) return Fail(HostState, "host.tr.nonzero", VmcsField.HostTrSelector, 0, s3, "the host TR selector must not be 0000h");
        if (!hostLong && F(VmcsField.HostSsSelector) == 0) return Fail(HostState, "host.ss.nonzero", VmcsField.HostSsSelector, 0, s3, "the host SS selector must not be 0000h unless the host is 64-bit");
        foreach (var bf in HostBases)
            if (!IsCanonicalLoad(F(bf))) return Fail(HostState, "host.base.canonical", bf, F(bf), s3, "host FS, GS, GDTR, IDTR and TR bases must be canonical");
        return true;
    }

    private static readonly VmcsField[] HostSelectors =
        [VmcsField.HostEsSelector, VmcsField.HostCsSelector, VmcsField.HostSsSelector, VmcsField.HostDsSelector, VmcsField.HostFsSelector, VmcsField.HostGsSelector, VmcsField.HostTrSelector];
    private static readonly VmcsField[] HostBases = [VmcsField.HostFsBase, VmcsField.HostGsBase, VmcsField.HostGdtrBase, VmcsField.HostIdtrBase, VmcsField.HostTrBase];
}
