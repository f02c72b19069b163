using Vtx.Decoding;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // VMCS shadowing (SDM Vol. 3C, 24.10, 25.1.3, 30.3 VMREAD/VMWRITE): with the "VMCS shadowing"
    // secondary control (bit 14), VMREAD and VMWRITE in VMX non-root operation access the shadow
    // VMCS the VMCS link pointer names, unless the encoding sets bits 63:15 (31:15 outside 64-bit
    // mode) or its bit in the VMREAD/VMWRITE bitmap is 1, which makes them exit (reasons 23/25).
    // The bitmaps and the link pointer are read from the current VMCS, which VMWRITE cannot change
    // in non-root operation, so they are as VM entry saw them.

    /// <summary>
    /// The active VMCS whose region is at <paramref name="address"/> (made active by VMPTRLD, or as the shadow
    /// VMCS of a shadowed VMREAD/VMWRITE), or null if that VMCS is not active (SDM Vol. 3C, 24.1): host-level
    /// access to any active VMCS, e.g. a shadow VMCS while another VMCS is current.
    /// </summary>
    public Vmcs? GetActiveVmcs(ulong address) => _activeVmcs.GetValueOrDefault(address);

    /// <summary>
    /// The prelude of VMREAD/VMWRITE (SDM Vol. 3C, 30.3): #UD outside VMX operation or in the wrong mode;
    /// in VMX non-root operation a VM exit unless the access is shadowed (<see cref="ShadowedAccess"/>);
    /// #GP(0) above CPL 0, checked after the exit decision. Returns true when the instruction proceeds.
    /// </summary>
    private bool ShadowingPrelude(ref DecodedInstruction d, VmxExitReason reason, VmcsField bitmap, ulong encoding)
    {
        if (!_vmxOn || VmxModeUd()) return Fault(ExceptionVector.UD);
        if (_nonRoot && !ShadowedAccess(bitmap, encoding)) { ExitForVmxInstruction(ref d, reason); return false; }
        if (_cpl > 0) return FaultGp0();
        return true;
    }

    /// <summary>
    /// True if a VMREAD/VMWRITE of <paramref name="encoding"/> in VMX non-root operation does not exit
    /// (SDM Vol. 3C, 25.1.3): "VMCS shadowing" is 1, the encoding has no bit above 14 set, and bit
    /// <c>encoding[14:0]</c> of the 4-KiB bitmap at <paramref name="bitmap"/> (byte n / 8, bit n % 8) is 0.
    /// </summary>
    private bool ShadowedAccess(VmcsField bitmap, ulong encoding)
    {
        if (!NrProc2(SecondaryProcessorBasedControls.VmcsShadowing) || encoding > 0x7FFF) return false;
        ulong at = Vmcs.Read(bitmap) + (encoding >> 3);
        return ((ReadPhysical(at, 1) >> (int)(encoding & 7)) & 1) == 0;
    }

    /// <summary>
    /// The shadow VMCS that shadowed VMREAD/VMWRITE access (the one the VMCS link pointer names), made active
    /// if it is not; null if the link pointer is FFFFFFFF_FFFFFFFFh, which makes them VMfailInvalid
    /// (SDM Vol. 3C, 30.3). VM entry checked that any other value names a shadow VMCS (26.3.1.5).
    /// </summary>
    private Vmcs? ShadowVmcs()
    {
        ulong link = Vmcs.Read(VmcsField.VmcsLinkPointer);
        return link == ulong.MaxValue ? null : ActivateVmcs(link);
    }
}
