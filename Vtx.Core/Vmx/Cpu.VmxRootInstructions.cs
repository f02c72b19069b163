using Vtx.Decoding;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // INVEPT, INVVPID and VMCALL (SDM Vol. 3C, 30.3). In non-root operation they cause VM exits
    // (reasons 50, 53, 18; Cpu.NonRootInstructions.cs).

    /// <summary>
    /// An EPT pointer VM entry would accept (SDM Vol. 3C, 26.2.1.1): memory type UC or WB as offered,
    /// a 4-level (or, if offered, 5-level) walk, A/D enable only if offered, bits 11:7 zero, no bits at
    /// or above MAXPHYADDR.
    /// </summary>
    internal bool IsValidEptp(ulong eptp)
    {
        ulong cap = Model.Vmx!.EptVpidCapabilities;
        ulong type = eptp & 7;
        if (!(type == 0 && (cap & EptVpidCapability.UncacheableType) != 0) && !(type == 6 && (cap & EptVpidCapability.WriteBackType) != 0)) return false;
        ulong walk = (eptp >> 3) & 7;
        if (!(walk == 3 && (cap & EptVpidCapability.PageWalkLength4) != 0) && !(walk == 4 && (cap & EptVpidCapability.PageWalkLength5) != 0)) return false;
        if ((eptp & (1UL << 6)) != 0 && (cap & EptVpidCapability.AccessedDirtyFlags) == 0) return false;
        if ((eptp & 0xF80) != 0) return false;
        return (eptp >> Model.PhysicalAddressBits) == 0;
    }

    private bool Offers(uint secondaryControl) =>
        (Model.Vmx!.SecondaryProcessorBased.Allowed1 & secondaryControl) != 0;

    /// <summary>
    /// INVEPT reg, m128: #UD unless EPT and INVEPT are offered; the type (register) must be offered
    /// (1 single-context, 2 all-context) and a single-context descriptor's EPTP valid, else VMfail(28).
    /// Single-context invalidates the cached guest-physical mappings of the descriptor's EPTRTA, all-context
    /// those of every EPTRTA; every combined (linear) mapping goes too (the SDM allows invalidating more).
    /// </summary>
    private void ExecInvept(ref DecodedInstruction d)
    {
        var caps = Model.Vmx;
        if (caps is null || (caps.EptVpidCapabilities & EptVpidCapability.Invept) == 0 || !Offers(SecondaryProcessorBasedControls.EnableEpt))
        {
            Fault(ExceptionVector.UD);
            return;
        }
        if (!VmxPrelude(ref d, VmxExitReason.Invept)) return;
        ulong type = GetReg(d.Reg, _codeBits == 64 ? 8 : 4);
        ulong lin = Lin(ref d);
        if (!Read(lin, 8, out ulong eptp, d.Segment == 2) || !Read(lin + 8, 8, out _, d.Segment == 2)) return;
        bool supported = type switch
        {
            1 => (caps.EptVpidCapabilities & EptVpidCapability.InveptSingleContext) != 0,
            2 => (caps.EptVpidCapabilities & EptVpidCapability.InveptAllContext) != 0,
            _ => false,
        };
        if (!supported || (type == 1 && !IsValidEptp(eptp))) { VmFailRecord(VmInstructionError.InvalidInveptInvvpidOperand); return; }
        // Guest-physical mappings of the EPTRTA (single-context) or of all (all-context); the combined
        // mappings of the ordinary TLB are not tagged with an EPTRTA and all go (28.3.3.1).
        FlushEptTlb(type == 1 ? eptp & PhysAddrMask : null);
        FlushTlb();
        TimingTlbFlushCombined(anyVpid: true); // issue 10
        VmSucceed();
    }

    /// <summary>
    /// INVVPID reg, m128: #UD unless VPID and INVVPID are offered; type 0-3 as offered, descriptor
    /// bits 63:16 zero, VPID non-zero for types 0, 1 and 3, a canonical address for type 0; else
    /// VMfail(28).
    /// </summary>
    private void ExecInvvpid(ref DecodedInstruction d)
    {
        var caps = Model.Vmx;
        if (caps is null || (caps.EptVpidCapabilities & EptVpidCapability.Invvpid) == 0 || !Offers(SecondaryProcessorBasedControls.EnableVpid))
        {
            Fault(ExceptionVector.UD);
            return;
        }
        if (!VmxPrelude(ref d, VmxExitReason.Invvpid)) return;
        ulong type = GetReg(d.Reg, _codeBits == 64 ? 8 : 4);
        ulong lin = Lin(ref d);
        if (!Read(lin, 8, out ulong lo, d.Segment == 2) || !Read(lin + 8, 8, out ulong address, d.Segment == 2)) return;
        ulong cap = caps.EptVpidCapabilities;
        bool supported = type <= 3 && (cap & (1UL << (int)(40 + type))) != 0;
        ulong vpid = lo & 0xFFFF;
        bool ok = supported && (lo >> 16) == 0
                  && (type == 2 || vpid != 0)
                  && (type != 0 || IsCanonicalLoad(address));
        if (!ok) { VmFailRecord(VmInstructionError.InvalidInveptInvvpidOperand); return; }
        if (type == 0) { InvalidatePage(address); TimingTlbInvalidatePage(address, (ushort)vpid); }
        else { FlushTlb(); TimingTlbInvvpid(type, (ushort)vpid); } // issue 10
        VmSucceed();
    }

    /// <summary>
    /// VMCALL (SDM Vol. 3C, 30.3 VMCALL): #UD outside VMX operation; in non-root operation a VM exit
    /// (reason 18) at any CPL and in any mode; in root operation #UD in virtual-8086/compatibility
    /// mode, #GP(0) above CPL 0, and — without the dual-monitor treatment of SMIs, which Vtx does not
    /// offer — VMfail(1).
    /// </summary>
    private void ExecVmcall(ref DecodedInstruction d)
    {
        if (!_vmxOn) { Fault(ExceptionVector.UD); return; }
        if (_nonRoot) { ExitForInstruction(ref d, VmxExitReason.Vmcall); return; }
        if ((_rflags & (ulong)RFlags.VM) != 0 || ((_efer & Efer.LMA) != 0 && !_seg[1].Long)) { Fault(ExceptionVector.UD); return; }
        if (_cpl > 0) { FaultGp0(); return; }
        VmFailRecord(VmInstructionError.VmcallInVmxRoot);
    }
}
