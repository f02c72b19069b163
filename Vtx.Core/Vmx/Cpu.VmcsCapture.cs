using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // Host conveniences for building a VMCS from the processor's current state — what a hypervisor's
    // own code does with dozens of VMWRITEs, in one call. They only write fields; every VM-entry check
    // still applies to what they write.

    /// <summary>
    /// Writes the guest-state area of <paramref name="vmcs"/> from the processor's current state:
    /// control registers, DR7, SYSENTER MSRs, PAT, EFER, every segment register with its hidden part
    /// (access rights in the VMCS format, unusable bit included), LDTR, TR, GDTR, IDTR, RSP, RIP,
    /// RFLAGS; activity state active, no blocking, no pending debug exceptions, and the VMCS link
    /// pointer FFFFFFFF_FFFFFFFFh (SDM Vol. 3C, 24.4).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="vmcs"/> is null.</exception>
    public void CaptureGuestState(Vmcs vmcs)
    {
        ArgumentNullException.ThrowIfNull(vmcs);
        WriteGuestRegisters(vmcs, _rip);
        vmcs.Write(VmcsField.GuestDr7, _dr[7]);
        vmcs.Write(VmcsField.GuestDebugCtl, _debugCtl);
        vmcs.Write(VmcsField.GuestPat, _pat);
        vmcs.Write(VmcsField.GuestEfer, _efer);
        vmcs.Write(VmcsField.GuestActivityState, 0);
        vmcs.Write(VmcsField.GuestInterruptibilityState, 0);
        vmcs.Write(VmcsField.GuestPendingDebugExceptions, 0);
        vmcs.Write(VmcsField.VmcsLinkPointer, ulong.MaxValue);
    }

    /// <summary>
    /// Writes the host-state area of <paramref name="vmcs"/> from the processor's current state:
    /// CR0, CR3, CR4, the CS, SS, DS, ES, FS, GS and TR selectors, the FS, GS, TR, GDTR and IDTR bases,
    /// SYSENTER MSRs, PAT and EFER, with <paramref name="hostRip"/> and <paramref name="hostRsp"/> as
    /// where VM exits continue (SDM Vol. 3C, 24.5).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="vmcs"/> is null.</exception>
    public void CaptureHostState(Vmcs vmcs, ulong hostRip, ulong hostRsp)
    {
        ArgumentNullException.ThrowIfNull(vmcs);
        vmcs.Write(VmcsField.HostCr0, _cr0);
        vmcs.Write(VmcsField.HostCr3, _cr3);
        vmcs.Write(VmcsField.HostCr4, _cr4);
        vmcs.Write(VmcsField.HostCsSelector, _seg[1].Selector);
        vmcs.Write(VmcsField.HostSsSelector, _seg[2].Selector);
        vmcs.Write(VmcsField.HostDsSelector, _seg[3].Selector);
        vmcs.Write(VmcsField.HostEsSelector, _seg[0].Selector);
        vmcs.Write(VmcsField.HostFsSelector, _seg[4].Selector);
        vmcs.Write(VmcsField.HostGsSelector, _seg[5].Selector);
        vmcs.Write(VmcsField.HostTrSelector, _tr.Selector);
        vmcs.Write(VmcsField.HostFsBase, _seg[4].Base);
        vmcs.Write(VmcsField.HostGsBase, _seg[5].Base);
        vmcs.Write(VmcsField.HostTrBase, _tr.Base);
        vmcs.Write(VmcsField.HostGdtrBase, _gdtr.Base);
        vmcs.Write(VmcsField.HostIdtrBase, _idtr.Base);
        vmcs.Write(VmcsField.HostSysenterCs, _sysenterCs);
        vmcs.Write(VmcsField.HostSysenterEsp, _sysenterEsp);
        vmcs.Write(VmcsField.HostSysenterEip, _sysenterEip);
        vmcs.Write(VmcsField.HostPat, _pat);
        vmcs.Write(VmcsField.HostEfer, _efer);
        vmcs.Write(VmcsField.HostRip, hostRip);
        vmcs.Write(VmcsField.HostRsp, hostRsp);
    }

    /// <summary>The register part of the guest-state area, shared by VM exits and <see cref="CaptureGuestState"/>.</summary>
    private void WriteGuestRegisters(Vmcs v, ulong rip)
    {
        v.Write(VmcsField.GuestCr0, _cr0);
        v.Write(VmcsField.GuestCr3, _cr3);
        v.Write(VmcsField.GuestCr4, _cr4);
        v.Write(VmcsField.GuestSysenterCs, _sysenterCs);
        v.Write(VmcsField.GuestSysenterEsp, _sysenterEsp);
        v.Write(VmcsField.GuestSysenterEip, _sysenterEip);
        for (int i = 0; i < 6; i++)
        {
            var g = GuestSegments[i];
            WriteSegment(v, g.Sel, g.Base, g.Limit, g.Ar, in _seg[i]);
        }
        WriteSegment(v, VmcsField.GuestTrSelector, VmcsField.GuestTrBase, VmcsField.GuestTrLimit, VmcsField.GuestTrAccessRights, in _tr);
        WriteSegment(v, VmcsField.GuestLdtrSelector, VmcsField.GuestLdtrBase, VmcsField.GuestLdtrLimit, VmcsField.GuestLdtrAccessRights, in _ldtr);
        v.Write(VmcsField.GuestGdtrBase, _gdtr.Base);
        v.Write(VmcsField.GuestGdtrLimit, _gdtr.Limit);
        v.Write(VmcsField.GuestIdtrBase, _idtr.Base);
        v.Write(VmcsField.GuestIdtrLimit, _idtr.Limit);
        v.Write(VmcsField.GuestRsp, _gpr[4]);
        v.Write(VmcsField.GuestRip, rip);
        v.Write(VmcsField.GuestRflags, ReadRflags());
    }

    /// <summary>Writes one segment register's selector, base, limit and access rights (VMCS format, unusable bit included).</summary>
    private static void WriteSegment(Vmcs v, VmcsField sel, VmcsField b, VmcsField limit, VmcsField ar, in SegmentCache sc)
    {
        v.Write(sel, sc.Selector);
        v.Write(b, sc.Base);
        v.Write(limit, sc.Limit);
        v.Write(ar, sc.AccessRights);
    }
}
