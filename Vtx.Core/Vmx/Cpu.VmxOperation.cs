using Vtx.Decoding;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // VMX operation (SDM Vol. 3C, chapter 23 "Introduction to VMX operation" and chapter 30
    // "VMX instruction reference"): entering and leaving VMX root operation. The VMCS, the other
    // VMX instructions, VM entry and VM exit build on this state.

    private bool _vmxOn;
    private ulong _vmxonPointer;
    private ulong _currentVmcs = ulong.MaxValue;

    /// <summary>True in VMX operation (after a successful VMXON, until VMXOFF).</summary>
    public bool InVmxOperation => _vmxOn;

    /// <summary>The VMXON region's physical address (meaningful in VMX operation).</summary>
    public ulong VmxonPointer => _vmxonPointer;

    /// <summary>The current-VMCS pointer; FFFFFFFF_FFFFFFFFh when there is none (SDM Vol. 3C, 24.1).</summary>
    public ulong CurrentVmcsPointer => _currentVmcs;

    private bool Cr0FixedOk(ulong cr0) =>
        Model.Vmx is { } c && (cr0 & c.Cr0Fixed0) == c.Cr0Fixed0 && (cr0 & ~c.Cr0Fixed1) == 0; // all 64 bits: FIXED1[63:32] = 0, so bits 63:32 must be 0 (SDM 26.2.2, 26.3.1.1, A.7)

    private bool Cr4FixedOk(ulong cr4) =>
        Model.Vmx is { } c && (cr4 & c.Cr4Fixed0) == c.Cr4Fixed0 && (cr4 & ~c.Cr4Fixed1) == 0;

    /// <summary>VMsucceed: CF, PF, AF, ZF, SF, OF cleared (SDM Vol. 3C, 30.2).</summary>
    private void VmSucceed() => SetStatus(StatusMask, 0);

    /// <summary>VMfailInvalid: CF = 1, the other status flags cleared.</summary>
    private void VmFailInvalid() => SetStatus(StatusMask, CF);

    /// <summary>
    /// VMfail(n): VMfailInvalid without a current VMCS, else VMfailValid(n) — ZF = 1 and the
    /// VM-instruction error field of the current VMCS set to n.
    /// </summary>
    private void VmFail(VmInstructionError error)
    {
        if (_currentVmcs == ulong.MaxValue) { VmFailInvalid(); return; }
        SetStatus(StatusMask, ZF);
        LastVmInstructionError = error;
    }

    /// <summary>The VM-instruction error of the last VMfailValid (also stored in the current VMCS's field 4400h).</summary>
    public VmInstructionError LastVmInstructionError { get; private set; }

    /// <summary>
    /// The #UD conditions shared by the VMX instructions (SDM Vol. 3C, 30.3): CR0.PE = 0,
    /// RFLAGS.VM = 1, or IA-32e mode outside 64-bit mode.
    /// </summary>
    private bool VmxModeUd() =>
        (_cr0 & Cr0.PE) == 0 || (_rflags & (ulong)RFlags.VM) != 0 || ((_efer & Efer.LMA) != 0 && !_seg[1].Long);

    /// <summary>
    /// VMXON m64 (SDM Vol. 3C, 30.3 VMXON): #UD without CR4.VMXE or in the wrong mode; outside VMX
    /// operation #GP(0) at CPL &gt; 0, with CR0/CR4 outside their fixed bits, or with
    /// IA32_FEATURE_CONTROL unlocked or VMX-outside-SMX disabled; then the VMXON pointer is checked
    /// (4-KiB aligned, within MAXPHYADDR: else VMfailInvalid) and the region's revision identifier
    /// (must match IA32_VMX_BASIC, bit 31 clear: else VMfailInvalid). In VMX non-root operation: a VM exit (reason 27). In VMX root operation:
    /// #GP(0) at CPL &gt; 0, else VMfail(15).
    /// </summary>
    private void ExecVmxon(ref DecodedInstruction d)
    {
        var caps = Model.Vmx;
        if (caps is null || (_cr4 & Cr4.VMXE) == 0 || VmxModeUd() || (d.Flags & DecodedFlags.MemA) == 0) { Fault(ExceptionVector.UD); return; }
        if (_nonRoot) { ExitForVmxInstruction(ref d, VmxExitReason.Vmxon); return; }
        if (_vmxOn)
        {
            if (_cpl > 0) { FaultGp0(); return; }
            VmFailRecord(VmInstructionError.VmxonInVmxRoot);
            return;
        }
        if (_cpl > 0 || !Cr0FixedOk(_cr0) || !Cr4FixedOk(_cr4) || (_featureControl & 1) == 0 || (_featureControl & 4) == 0)
        {
            FaultGp0();
            return;
        }
        if (!Read(Lin(ref d), 8, out ulong ptr, d.Segment == 2)) return;
        if ((ptr & 0xFFF) != 0 || (ptr >> Model.PhysicalAddressBits) != 0) { VmFailInvalid(); return; }
        uint revision = (uint)ReadPhysical(ptr, 4);
        if ((revision & 0x7FFF_FFFF) != caps.RevisionId || (revision & 0x8000_0000) != 0) { VmFailInvalid(); return; }
        _vmxOn = true;
        _vmxonPointer = ptr;
        _currentVmcs = ulong.MaxValue;
        VmSucceed();
    }

    /// <summary>VMXOFF (SDM Vol. 3C, 30.3 VMXOFF): #UD outside VMX operation, a VM exit (reason 26) in non-root operation, #GP(0) at CPL &gt; 0; leaves VMX operation.</summary>
    private void ExecVmxoff(ref DecodedInstruction d)
    {
        if (!_vmxOn || VmxModeUd()) { Fault(ExceptionVector.UD); return; }
        if (_nonRoot) { ExitForInstruction(ref d, VmxExitReason.Vmxoff); return; }
        if (_cpl > 0) { FaultGp0(); return; }
        _vmxOn = false;
        _currentVmcs = ulong.MaxValue;
        VmSucceed();
        if (_initPending) _signal |= SignalEvent; // INIT is unblocked: a latched one is taken at the next boundary
    }
}
