using Vtx.Decoding;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // Instruction-caused VM exits in VMX non-root operation (SDM Vol. 3C, 25.1-25.3 and 27.2;
    // VMX.md 8.3, 9.3, 12). The instruction handlers call these from one-line hooks guarded by
    // `_nonRoot`, placed where the SDM's priority puts the exit: after #UD and the faults based on
    // privilege level (CPL, CR4.TSD/PCE/UMIP, IOPL and the TSS I/O bitmap), before every other fault
    // of the instruction (25.1.1). Three documented exceptions: VMX instructions exit after only their
    // #UD checks (no CPL check first); MOV-DR exits also beat the CPL #GP and the DR4/DR5 #UD (25.1.3);
    // LMSW reads its memory operand (and takes that operand's faults) before deciding.
    //
    // Every exit here is fault-like: RIP stays at the instruction and the VM-exit instruction length
    // is recorded (ExitForInstruction). The unconditional exits of INVD and XSETBV also come after
    // their CPL check (a privilege-based fault, 25.1.1); Bochs exits on XSETBV before the CPL check.
    //
    // Not modelled (the processor model does not offer the instructions, so they raise #UD first,
    // which is what the SDM's priority gives): GETSEC (CPUID.1:ECX.SMX = 0 and CR4.SMXE cannot be
    // set), MONITOR/MWAIT (CPUID.1:ECX.MONITOR = 0), RDRAND/RDSEED, XSAVES/XRSTORS, ENCLS/ENCLV,
    // UMWAIT/TPAUSE, PCONFIG. VMCS shadowing for VMREAD/VMWRITE is not offered by the default
    // capabilities, so VMREAD/VMWRITE always exit. PAUSE-loop exiting and the TPR shadow for MOV CR8
    // are handled with PAUSE exiting and MOV CR8 below.


    // ------------------------------------------------------------------ exit-information encodings

    /// <summary>
    /// The exit qualification of an instruction with a memory operand (SDM Vol. 3C, 27.2.1; VMX.md
    /// 9.3.7): the displacement sign-extended to 64 bits (0 without a memory operand); for
    /// RIP-relative addressing the displacement plus the RIP of the next instruction.
    /// </summary>
    private ulong DisplacementQualification(ref DecodedInstruction d)
    {
        if (!d.HasMemory) return 0;
        if (d.Base != DecodedInstruction.RipBase) return (ulong)d.Disp;
        ulong sum = _nextRip + (ulong)d.Disp;
        return d.AddrSize == 8 ? sum : sum & 0xFFFF_FFFF;
    }

    /// <summary>The address-size code of the instruction-information field: 0 = 16, 1 = 32, 2 = 64 bits.</summary>
    private static uint AddressSizeCode(int bytes) => bytes switch { 2 => 0u, 4 => 1u, _ => 2u };

    /// <summary>
    /// The memory-operand part of the VM-exit instruction-information field (SDM Vol. 3C, 27.2.4):
    /// scaling (1:0), address size (9:7), segment (17:15), index (21:18, bit 22 = invalid), base
    /// (26:23, bit 27 = invalid; RIP-relative has no base register). Bit 10 (register operand) is 0.
    /// </summary>
    private static uint MemoryOperandInfo(ref DecodedInstruction d)
    {
        uint info = (uint)(d.Scale & 3) | AddressSizeCode(d.AddrSize) << 7 | (uint)(d.Segment & 7) << 15;
        info |= d.Index == DecodedInstruction.NoReg ? 1u << 22 : (uint)(d.Index & 15) << 18;
        info |= d.Base is DecodedInstruction.NoReg or DecodedInstruction.RipBase ? 1u << 27 : (uint)(d.Base & 15) << 23;
        return info;
    }

    /// <summary>The register-operand form of the instruction-information field: bit 10 set, Reg1 in bits 6:3.</summary>
    private static uint RegisterOperandInfo(int reg) => 1u << 10 | (uint)(reg & 15) << 3;

    // ------------------------------------------------------------------ VMX instructions

    /// <summary>
    /// The VM exit of a VMX instruction executed in non-root operation (SDM Vol. 3C, 25.1.2, 30.3):
    /// after only the #UD checks, at any CPL. The memory-operand instructions report the displacement
    /// and the instruction information (VMX.md 9.3.7): VMREAD/VMWRITE with Reg1 (a register r/m
    /// operand) and Reg2 (the register holding the field encoding), INVEPT/INVVPID with Reg2 = the
    /// type register. VMREAD/VMWRITE exit unconditionally: VMCS shadowing is not offered.
    /// </summary>
    private void ExitForVmxInstruction(ref DecodedInstruction d, VmxExitReason reason)
    {
        uint info = 0;
        switch (reason)
        {
            case VmxExitReason.Vmclear or VmxExitReason.Vmptrld or VmxExitReason.Vmptrst or VmxExitReason.Vmxon:
                info = MemoryOperandInfo(ref d);
                break;
            case VmxExitReason.Vmread:
                // VMREAD r/m, reg: operand A is the destination, B the encoding register.
                info = ((d.Flags & DecodedFlags.MemA) != 0 ? MemoryOperandInfo(ref d) : RegisterOperandInfo(d.Reg)) | (uint)(d.Reg2 & 15) << 28;
                break;
            case VmxExitReason.Vmwrite:
                // VMWRITE reg, r/m: operand A is the encoding register, B the source.
                info = ((d.Flags & DecodedFlags.MemB) != 0 ? MemoryOperandInfo(ref d) : RegisterOperandInfo(d.Reg2)) | (uint)(d.Reg & 15) << 28;
                break;
            case VmxExitReason.Invept or VmxExitReason.Invvpid:
                info = MemoryOperandInfo(ref d) | (uint)(d.Reg & 15) << 28;
                break;
        }
        ExitForInstruction(ref d, reason, DisplacementQualification(ref d), info);
    }

    // ------------------------------------------------------------------ control registers

    /// <summary>CR0 as the guest reads it (MOV from CR0, SMSW): bits owned by the host (set in the guest/host mask) come from the read shadow (SDM Vol. 3C, 25.3).</summary>
    private ulong Cr0AsRead => _nonRoot ? (_cr0 & ~_nr.Cr0Mask) | (_nr.Cr0Shadow & _nr.Cr0Mask) : _cr0;

    /// <summary>CR4 as the guest reads it (MOV from CR4): host-owned bits come from the read shadow (SDM Vol. 3C, 25.3).</summary>
    private ulong Cr4AsRead => _nonRoot ? (_cr4 & ~_nr.Cr4Mask) | (_nr.Cr4Shadow & _nr.Cr4Mask) : _cr4;

    /// <summary>Exit qualification for control-register accesses (SDM Vol. 3C, Table 27-3; VMX.md 9.3.1).</summary>
    private static ulong CrQualification(int cr, ControlRegisterAccessType access, int gpr) => ControlRegisterAccessQualification.Create(cr, access, gpr).Value;

    /// <summary>
    /// MOV to CR0/CR3/CR4/CR8 in non-root operation (after the CPL check; SDM Vol. 3C, 25.1.3):
    /// CR0/CR4 exit unless every host-owned bit of the source equals the read shadow, and a write that
    /// does not exit leaves the host-owned bits unchanged (<paramref name="value"/> is adjusted); CR3
    /// exits with "CR3-load exiting" unless the source equals one of the first CR3-target-count
    /// target values; CR8 exits with "CR8-load exiting". Returns true when the VM exit was taken.
    /// </summary>
    private bool MovToCrExits(ref DecodedInstruction d, ref ulong value)
    {
        int cr = d.Reg3;
        switch (cr)
        {
            case 0:
                if (((value ^ _nr.Cr0Shadow) & _nr.Cr0Mask) == 0) { value = (_cr0 & _nr.Cr0Mask) | (value & ~_nr.Cr0Mask); return false; }
                break;
            case 4:
                if (((value ^ _nr.Cr4Shadow) & _nr.Cr4Mask) == 0) { value = (_cr4 & _nr.Cr4Mask) | (value & ~_nr.Cr4Mask); return false; }
                break;
            case 3:
                if (!NrProc(PrimaryProcessorBasedControls.Cr3LoadExiting) || IsCr3Target(value)) return false;
                break;
            case 8:
                if (!NrProc(PrimaryProcessorBasedControls.Cr8LoadExiting)) return false;
                break;
            default:
                return false; // CR2 never exits; other numbers raise #UD in the handler
        }
        ExitForInstruction(ref d, VmxExitReason.ControlRegisterAccess, CrQualification(cr, ControlRegisterAccessType.MovToCr, d.Reg2));
        return true;
    }

    /// <summary>The CR0 fixed-bit rule in non-root operation: with "unrestricted guest", PE and PG may be 0 (SDM Vol. 3C, 23.8, 25.3).</summary>
    private bool GuestCr0FixedOk(ulong cr0) =>
        Cr0FixedOk(NrProc2(SecondaryProcessorBasedControls.UnrestrictedGuest) ? cr0 | Cr0.PE | Cr0.PG : cr0);

    /// <summary>True when <paramref name="value"/> equals one of the first CR3-target-count CR3-target values (SDM Vol. 3C, 24.6.7).</summary>
    private bool IsCr3Target(ulong value)
    {
        uint n = _nr.Cr3TargetCount;
        return (n > 0 && value == _nr.Cr3Target0) || (n > 1 && value == _nr.Cr3Target1)
               || (n > 2 && value == _nr.Cr3Target2) || (n > 3 && value == _nr.Cr3Target3);
    }

    /// <summary>
    /// MOV from CR in non-root operation, after the CPL check (SDM Vol. 3C, 25.1.3, 25.3): CR3 and
    /// CR8 exit with "CR3-store exiting" / "CR8-store exiting"; CR0 and CR4 read their host-owned
    /// bits from the read shadows.
    /// </summary>
    private void ExecMovFromCrNonRoot(ref DecodedInstruction d)
    {
        uint control = d.Reg3 switch
        {
            3 => PrimaryProcessorBasedControls.Cr3StoreExiting,
            8 => PrimaryProcessorBasedControls.Cr8StoreExiting,
            _ => 0,
        };
        if (control != 0 && NrProc(control))
        {
            ExitForInstruction(ref d, VmxExitReason.ControlRegisterAccess, CrQualification(d.Reg3, ControlRegisterAccessType.MovFromCr, d.Reg));
            return;
        }
        if (!TryReadCr(d.Reg3, out ulong v)) return;
        if (d.Reg3 == 0) v = Cr0AsRead;
        else if (d.Reg3 == 4) v = Cr4AsRead;
        SetReg(d.Reg, d.OpSize, v);
    }

    /// <summary>
    /// CLTS in non-root operation (after the CPL check; SDM Vol. 3C, 25.1.3, 25.3): when CR0.TS is
    /// host-owned, CLTS exits if the read shadow has TS set and otherwise does nothing. Returns true
    /// when the normal CLTS must not run (exit taken, or TS host-owned).
    /// </summary>
    private bool CltsIntercepted(ref DecodedInstruction d)
    {
        if ((_nr.Cr0Mask & Cr0.TS) == 0) return false;
        if ((_nr.Cr0Shadow & Cr0.TS) != 0) ExitForInstruction(ref d, VmxExitReason.ControlRegisterAccess, CrQualification(0, ControlRegisterAccessType.Clts, 0));
        return true;
    }

    /// <summary>
    /// LMSW in non-root operation, after its source operand was read (SDM Vol. 3C, 25.1.3): exits when
    /// PE is host-owned, clear in the shadow and set in the source, or when any host-owned bit of
    /// MP/EM/TS differs between source and shadow. The qualification carries the source data and the
    /// operand type; a memory operand's linear address goes to the guest-linear address field. A
    /// write that does not exit leaves host-owned bits unchanged (<paramref name="newCr0"/> is adjusted).
    /// </summary>
    private bool LmswExits(ref DecodedInstruction d, ulong source, ulong lin, ref ulong newCr0)
    {
        ulong mask = _nr.Cr0Mask, shadow = _nr.Cr0Shadow;
        bool exits = ((mask & source & ~shadow & 1) != 0) || ((source ^ shadow) & mask & 0xE) != 0;
        if (!exits)
        {
            newCr0 = (_cr0 & mask) | (newCr0 & ~mask);
            return false;
        }
        bool memory = (d.Flags & DecodedFlags.MemA) != 0;
        ulong qual = ControlRegisterAccessQualification.Create(0, ControlRegisterAccessType.Lmsw, 0, memory, (ushort)source).Value;
        ExitForInstruction(ref d, VmxExitReason.ControlRegisterAccess, qual, guestLinear: memory ? lin : null);
        return true;
    }

    /// <summary>
    /// MOV to/from DR in non-root operation with "MOV-DR exiting" (SDM Vol. 3C, 25.1.3, Table 27-4):
    /// this exit takes priority over the CPL #GP and the DR4/DR5 #UD (an exception to 25.1.1), so the
    /// hook sits before them; only a non-existent DR8-DR15 stays #UD.
    /// </summary>
    private bool MovDrExits(ref DecodedInstruction d, bool toDr)
    {
        if (!NrProc(PrimaryProcessorBasedControls.MovDrExiting) || d.Reg3 > 7) return false;
        ulong qual = DebugRegisterAccessQualification.Create(d.Reg3, !toDr, toDr ? d.Reg2 : d.Reg).Value;
        ExitForInstruction(ref d, VmxExitReason.MovDr, qual);
        return true;
    }

    // ------------------------------------------------------------------ I/O

    /// <summary>
    /// IN/OUT/INS/OUTS in non-root operation, after the IOPL / TSS I/O-bitmap check (SDM Vol. 3C,
    /// 25.1.3): with "use I/O bitmaps" the exit follows bitmap A (ports 0000-7FFF) and B (8000-FFFF),
    /// an access that wraps past FFFFh always exiting; otherwise "unconditional I/O exiting" decides.
    /// The qualification follows Table 27-5; INS/OUTS also report the linear address of their memory
    /// operand and (IA32_VMX_BASIC[54]) address size and segment. Exits of INS/OUTS come before the
    /// segment checks of that memory operand.
    /// </summary>
    private bool IoExits(ref DecodedInstruction d, ushort port, int size)
    {
        if (NrProc(PrimaryProcessorBasedControls.UseIoBitmaps)) { if (!IoBitmapExits(port, size)) return false; }
        else if (!NrProc(PrimaryProcessorBasedControls.UnconditionalIoExiting)) return false;
        bool input = d.Op is Op.In or Op.Ins, str = d.Op is Op.Ins or Op.Outs;
        ulong qual = IoQualification.Create(size, input, str, str && (d.Flags & DecodedFlags.Rep) != 0, (d.Flags & DecodedFlags.ImmB) != 0, port).Value;
        ulong? lin = null;
        uint info = 0;
        if (str)
        {
            int seg = input ? 0 : d.Segment;
            ulong offset = GetReg(input ? 7 : 6, d.AddrSize);
            lin = (_segBase[seg] + offset) & _linMask;
            if (Model.Vmx!.InsOutsInstructionInformation) info = AddressSizeCode(d.AddrSize) << 7 | (uint)seg << 15;
        }
        ExitForInstruction(ref d, VmxExitReason.IoInstruction, qual, info, lin);
        return true;
    }

    /// <summary>True when the I/O bitmaps make an access of <paramref name="size"/> bytes at <paramref name="port"/> exit (SDM Vol. 3C, 25.1.3).</summary>
    private bool IoBitmapExits(ushort port, int size)
    {
        for (int i = 0; i < size; i++)
        {
            int p = port + i;
            if (p > 0xFFFF) return true; // wraps around the I/O space
            ulong map = p < 0x8000 ? _nr.IoBitmapA : _nr.IoBitmapB;
            if (((ReadPhysical(map + (ulong)((p & 0x7FFF) >> 3), 1) >> (p & 7)) & 1) != 0) return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ MSRs and the TSC

    /// <summary>
    /// RDMSR/WRMSR in non-root operation, after the CPL check (SDM Vol. 3C, 25.1.3, 24.6.9): without
    /// "use MSR bitmaps" every access exits; with it, indices 0-1FFFh and C0000000h-C0001FFFh follow
    /// the read-low/read-high/write-low/write-high bitmaps and any other index exits. The exit comes
    /// before the #GP of a non-existent MSR or a bad value.
    /// </summary>
    private bool MsrExits(ref DecodedInstruction d, bool write)
    {
        uint index = (uint)_gpr[1];
        // Without an exit, "virtualize x2APIC mode" may handle an x2APIC MSR itself (Cpu.ApicVirtAccess.cs, 29.5).
        if (NrProc(PrimaryProcessorBasedControls.UseMsrBitmaps) && !MsrBitmapExits(index, write))
            return index - 0x800u <= 0xFF && NrProc2(SecondaryProcessorBasedControls.VirtualizeX2ApicMode) && X2ApicMsrVirtualized(index, write);
        ExitForInstruction(ref d, write ? VmxExitReason.Wrmsr : VmxExitReason.Rdmsr);
        return true;
    }

    /// <summary>The MSR-bitmap rule for <paramref name="index"/> (out-of-range indices always exit).</summary>
    private bool MsrBitmapExits(uint index, bool write)
    {
        ulong offset;
        if (index <= 0x1FFF) offset = 0;
        else if (index - 0xC000_0000u <= 0x1FFF) offset = 1024;
        else return true;
        if (write) offset += 2048;
        offset += (index & 0x1FFF) >> 3;
        return ((ReadPhysical(_nr.MsrBitmap + offset, 1) >> (int)(index & 7)) & 1) != 0;
    }

    /// <summary>
    /// The TSC as RDTSC, RDTSCP and RDMSR(IA32_TIME_STAMP_COUNTER) return it in non-root operation
    /// (SDM Vol. 3C, 25.3): with "use TSC offsetting", <paramref name="tsc"/> plus the TSC offset,
    /// after scaling by (TSC × multiplier) &gt;&gt; 48 when "use TSC scaling" is also 1.
    /// </summary>
    private ulong GuestTsc(ulong tsc)
    {
        if (!NrProc(PrimaryProcessorBasedControls.UseTscOffsetting)) return tsc;
        if (NrProc2(SecondaryProcessorBasedControls.UseTscScaling)) tsc = (ulong)(((UInt128)tsc * _nr.TscMultiplier) >> 48);
        return tsc + _nr.TscOffset;
    }

    // ------------------------------------------------------------------ conditional exits on one control

    /// <summary>Takes the VM exit <paramref name="reason"/> when primary control <paramref name="control"/> is 1 (qualification 0). Returns true when taken.</summary>
    private bool ExitsOnProc(ref DecodedInstruction d, uint control, VmxExitReason reason)
    {
        if (!NrProc(control)) return false;
        ExitForInstruction(ref d, reason);
        return true;
    }

    /// <summary>HLT with "HLT exiting" (after the CPL check): exit 12.</summary>
    private bool HltExits(ref DecodedInstruction d) => ExitsOnProc(ref d, PrimaryProcessorBasedControls.HltExiting, VmxExitReason.Hlt);

    private bool _pleFresh;          // the next PAUSE at CPL 0 starts a loop (first one after VM entry)
    private ulong _pleLast, _pleStart; // TSC of the previous PAUSE at CPL 0 and of the first PAUSE of the current loop

    /// <summary>
    /// PAUSE with "PAUSE exiting": exit 40 at any CPL. With "PAUSE-loop exiting" at CPL 0 (SDM Vol. 3C,
    /// 25.1.3): a PAUSE more than PLE_Gap TSC ticks after the previous one (or the first after VM
    /// entry) starts a loop; one more than PLE_Window ticks after the start of its loop exits (40).
    /// </summary>
    private bool PauseExits(ref DecodedInstruction d)
    {
        if (ExitsOnProc(ref d, PrimaryProcessorBasedControls.PauseExiting, VmxExitReason.Pause)) return true;
        if (!NrProc2(SecondaryProcessorBasedControls.PauseLoopExiting) || _cpl != 0) return false;
        ulong tsc = Tsc;
        bool exits = false;
        if (_pleFresh || tsc - _pleLast > _nr.PleGap)
        {
            _pleFresh = false;
            _pleStart = tsc;
        }
        else exits = tsc - _pleStart > _nr.PleWindow;
        _pleLast = tsc;
        if (exits) ExitForInstruction(ref d, VmxExitReason.Pause);
        return exits;
    }

    /// <summary>
    /// MOV to CR8 with "use TPR shadow" (SDM Vol. 3C, 29.3): writes VTPR (virtual-APIC page + 80h)
    /// with the source in bits 7:4 and the rest cleared; TPR virtualization follows the instruction
    /// (trap-like: a TPR-below-threshold exit 43 saves RIP after the MOV; Cpu.ApicVirt.cs).
    /// </summary>
    private void WriteVirtualTpr(ulong v)
    {
        WritePhysical(_nr.VirtualApic + 0x80, 4, (v & 0xF) << 4);
        RequestApicVirtTrap(TrapTpr);
    }

    /// <summary>WBINVD / WBNOINVD with "WBINVD exiting" (secondary control 6; after the CPL check): exit 54.</summary>
    private bool WbinvdExits(ref DecodedInstruction d)
    {
        if (!NrProc2(SecondaryProcessorBasedControls.WbinvdExiting)) return false;
        ExitForInstruction(ref d, VmxExitReason.Wbinvd);
        return true;
    }

    /// <summary>INVLPG with "INVLPG exiting" (after the CPL check): exit 14 with the linear-address operand as qualification (bits 63:32 zero outside IA-32e mode).</summary>
    private bool InvlpgExits(ref DecodedInstruction d)
    {
        if (!NrProc(PrimaryProcessorBasedControls.InvlpgExiting)) return false;
        ExitForInstruction(ref d, VmxExitReason.Invlpg, (_segBase[d.Segment] + Ea(ref d)) & _linMask);
        return true;
    }

    /// <summary>
    /// INVPCID in non-root operation (SDM Vol. 3C, 25.1.3), called first in the handler: #UD when
    /// "enable INVPCID" is 0 (before any other fault); then, after the CPL check, a VM exit (58, with
    /// displacement and instruction information, Reg2 = the type register) when "INVLPG exiting" is 1.
    /// Returns true when the normal INVPCID must not run.
    /// </summary>
    private bool InvpcidIntercepted(ref DecodedInstruction d)
    {
        if (!NrProc2(SecondaryProcessorBasedControls.EnableInvpcid)) return !Fault(ExceptionVector.UD);
        if (_cpl != 0 || !NrProc(PrimaryProcessorBasedControls.InvlpgExiting)) return false; // the handler raises the CPL #GP
        ExitForInstruction(ref d, VmxExitReason.Invpcid, DisplacementQualification(ref d), MemoryOperandInfo(ref d) | (uint)(d.Reg & 15) << 28);
        return true;
    }

    /// <summary>
    /// LGDT/LIDT/SGDT/SIDT (exit 46) and LLDT/LTR/SLDT/STR (exit 47) with "descriptor-table exiting"
    /// (after the CPL/UMIP and mode checks, before the operand is accessed): displacement and
    /// instruction information with the instruction identity in bits 29:28 (SDM Vol. 3C, Tables
    /// 27-10, 27-11); for the GDTR/IDTR group bit 11 is the operand size (0 = 16, 1 = 32 bits).
    /// </summary>
    private bool DescriptorTableExits(ref DecodedInstruction d, VmxExitReason reason, uint identity)
    {
        if (!NrProc2(SecondaryProcessorBasedControls.DescriptorTableExiting)) return false;
        uint info = d.HasMemory ? MemoryOperandInfo(ref d) : RegisterOperandInfo(d.Reg);
        info |= identity << 28;
        if (reason == VmxExitReason.GdtrIdtrAccess)
        {
            bool size16 = d.Op is Op.Lgdt or Op.Lidt ? d.OpSize == 2 : d.Code is Iced.Intel.Code.Sgdt_m1632_16 or Iced.Intel.Code.Sidt_m1632_16;
            if (!size16) info |= 1u << 11;
        }
        ExitForInstruction(ref d, reason, DisplacementQualification(ref d), info);
        return true;
    }

    /// <summary>RDPMC with "RDPMC exiting" (after the CR4.PCE/CPL check, before the counter-index check): exit 15.</summary>
    private bool RdpmcExits(ref DecodedInstruction d) => ExitsOnProc(ref d, PrimaryProcessorBasedControls.RdpmcExiting, VmxExitReason.Rdpmc);

    // ------------------------------------------------------------------ task switches

    /// <summary>
    /// A far JMP or CALL (<paramref name="call"/>) to a TSS descriptor or task gate in non-root
    /// operation outside IA-32e mode (SDM Vol. 3C, 25.4.2): the checks that precede the exit — gate or
    /// TSS DPL against CPL and RPL (#GP), a TSS in the GDT (#GP), present (#NP); through a task gate
    /// the TSS selector must name the GDT (#GP), within its limit (#GP), an available TSS (#GP),
    /// present (#NP); the TSS
    /// limit must be at least 67h (2Bh for a 16-bit TSS) (#TS) — then a task-switch VM exit (reason 9)
    /// with the new TSS selector and the source (0 = CALL, 2 = JMP) in the qualification. Nothing of
    /// the task switch is performed. Returns false when a fault was recorded.
    /// </summary>
    private bool TaskSwitchFromFar(ref DecodedInstruction d, ushort sel, ulong desc, bool call)
    {
        var target = SegmentCache.FromDescriptor(sel, desc);
        if (target.Dpl < _cpl || target.Dpl < (sel & 3)) return Fault(ExceptionVector.GP, SelError(sel), true);
        if (target.Type != 5 && (sel & 4) != 0) return Fault(ExceptionVector.GP, SelError(sel), true); // a TSS descriptor must be in the GDT
        if (!target.Present) return Fault(ExceptionVector.NP, SelError(sel), true);
        ushort tss = sel;
        var t = target;
        if (target.Type == 5)
        {
            tss = (ushort)(desc >> 16);
            if ((tss & 4) != 0) return Fault(ExceptionVector.GP, SelError(tss), true);
            if (!ReadDescriptor(tss, out ulong tssDesc, out _)) return false;
            t = SegmentCache.FromDescriptor(tss, tssDesc);
            if ((t.AccessRights & SegmentCache.S) != 0 || t.Type is not (1 or 9)) return Fault(ExceptionVector.GP, SelError(tss), true);
            if (!t.Present) return Fault(ExceptionVector.NP, SelError(tss), true);
        }
        if (t.Limit < (t.Type == 9 ? 0x67u : 0x2Bu)) return Fault(ExceptionVector.TS, SelError(tss), true);
        ExitForInstruction(ref d, VmxExitReason.TaskSwitch, tss | (call ? 0UL : 2UL << 30));
        return true;
    }

    /// <summary>
    /// IRET with RFLAGS.NT = 1 in non-root operation in protected mode outside IA-32e mode (SDM Vol.
    /// 3C, 25.4.2; Vol. 2A IRET "TASK-RETURN"): the previous-task link of the current TSS must name the
    /// GDT within its limit (#TS), a busy TSS (#TS), present (#NP), with a valid limit (#TS); then a
    /// task-switch VM exit with source 1 (IRET). Called first in the IRET handler (after the NMI
    /// unblocking): a task return pops nothing. Returns true when the IRET is finished (exit or fault).
    /// </summary>
    private bool IretTaskSwitchIntercepted(ref DecodedInstruction d)
    {
        if ((_rflags & (ulong)RFlags.NT) == 0 || IsRealOrV86 || (_efer & Efer.LMA) != 0) return false;
        if (!ReadSupervisor(_tr.Base, 2, out ulong linkValue)) return true;
        ushort link = (ushort)linkValue;
        if ((link & 4) != 0 || !InDescriptorTable(link)) return !Fault(ExceptionVector.TS, SelError(link), true);
        if (!ReadDescriptor(link, out ulong desc, out _)) return true;
        var t = SegmentCache.FromDescriptor(link, desc);
        if ((t.AccessRights & SegmentCache.S) != 0 || t.Type is not (3 or 11)) return !Fault(ExceptionVector.TS, SelError(link), true);
        if (!t.Present) return !Fault(ExceptionVector.NP, SelError(link), true);
        if (t.Limit < (t.Type == 11 ? 0x67u : 0x2Bu)) return !Fault(ExceptionVector.TS, SelError(link), true);
        ExitForInstruction(ref d, VmxExitReason.TaskSwitch, link | 1UL << 30);
        return true;
    }
}
