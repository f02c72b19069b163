namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>CPUID: EAX/ECX select the leaf; answers come from <see cref="Model"/> (upper halves of RAX..RDX cleared).</summary>
    private ulong _biosSignId; // IA32_BIOS_SIGN_ID (MSR 8Bh): 0 until a CPUID executes, as after RESET

    private void ExecCpuid(ref Decoding.DecodedInstruction d)
    {
        if (_nonRoot) { ExitForInstruction(ref d, Vmx.VmxExitReason.Cpuid); return; } // unconditional (SDM Vol. 3C, 25.1.2)
        CpuidTiming((uint)_gpr[0]); // issue 10: the leaf's cost class
        CpuidResult r = Model.Cpuid((uint)_gpr[0], (uint)_gpr[1], _xcr0);
        // Any CPUID loads the microcode update signature into IA32_BIOS_SIGN_ID[63:32] (SDM Vol. 3A, 10.11.7.1).
        _biosSignId = (ulong)Model.MicrocodeRevision << 32 | (uint)_biosSignId;
        // CPUID.1:ECX.OSXSAVE[27] mirrors CR4.OSXSAVE (SDM Vol. 2A, CPUID).
        if ((uint)_gpr[0] == 1 && (_cr4 & Cr4.OSXSAVE) != 0) r = r with { Ecx = r.Ecx | 1u << 27 };
        // CPUID.1:EDX.APIC[9] reads 0 while IA32_APIC_BASE.EN is clear: the APIC is hardware-disabled
        // and software must see it absent (SDM Vol. 3A, 11.4.3).
        if ((uint)_gpr[0] == 1 && (Apic.BaseMsr & Vtx.Apic.LocalApic.BaseEnable) == 0) r = r with { Edx = r.Edx & ~(1u << 9) };
        // CPUID.1:EBX[31:24] is this processor's initial APIC ID (SDM Vol. 2A, CPUID; 0..N-1 in a machine).
        if ((uint)_gpr[0] == 1) r = r with { Ebx = (r.Ebx & 0x00FF_FFFF) | Apic.InitialId << 24 };
        // CPUID.80000001h:EDX.NX[20] reads 0 while IA32_MISC_ENABLE.XD disable = 1 (SDM Vol. 4, Table 2-2).
        if ((uint)_gpr[0] == 0x80000001 && XdDisabled) r = r with { Edx = r.Edx & ~(1u << 20) };
        _gpr[0] = r.Eax;
        _gpr[3] = r.Ebx;
        _gpr[1] = r.Ecx;
        _gpr[2] = r.Edx;
    }

    /// <summary>RDTSC / RDTSCP: EDX:EAX = TSC (the cycle clock at the start of the instruction); RDTSCP also ECX = IA32_TSC_AUX.</summary>
    private void ExecRdtsc(ref Decoding.DecodedInstruction d, bool aux)
    {
        // In non-root operation: RDTSCP without "enable RDTSCP" is #UD before anything else; after the
        // CR4.TSD check, "RDTSC exiting" exits (16, or 51 for RDTSCP); otherwise the guest sees the
        // offset (and scaled) TSC (SDM Vol. 3C, 25.1.3, 25.3).
        if (_nonRoot && aux && !NrProc2(Vmx.SecondaryProcessorBasedControls.EnableRdtscp)) { Fault(ExceptionVector.UD); return; }
        if ((_cr4 & Cr4.TSD) != 0 && _cpl != 0 && (_cr0 & Cr0.PE) != 0) { FaultGp0(); return; }
        if (_nonRoot && NrProc(Vmx.PrimaryProcessorBasedControls.RdtscExiting)) { ExitForInstruction(ref d, aux ? Vmx.VmxExitReason.Rdtscp : Vmx.VmxExitReason.Rdtsc); return; }
        ulong tsc = ReadTsc();
        if (_nonRoot) tsc = GuestTsc(tsc);
        _gpr[0] = (uint)tsc;
        _gpr[2] = tsc >> 32;
        if (aux) _gpr[1] = TscAux;
    }

    /// <summary>
    /// RDPID: the register = IA32_TSC_AUX. In VMX non-root operation with "enable RDTSCP" = 0 it is #UD,
    /// like RDTSCP (SDM Vol. 3C, 26.3 "RDPID"; 25.1.1 RDPID causes no exit).
    /// </summary>
    private void ExecRdpid(ref Decoding.DecodedInstruction d)
    {
        if (_nonRoot && !NrProc2(Vmx.SecondaryProcessorBasedControls.EnableRdtscp)) { Fault(ExceptionVector.UD); return; }
        SetReg(d.Reg, _codeBits == 64 ? 8 : 4, TscAux);
    }

    /// <summary>HLT: privileged (#GP(0) above CPL 0); stops the processor after retiring.</summary>
    private void ExecHlt(ref Decoding.DecodedInstruction d)
    {
        if (_cpl != 0) { FaultGp0(); return; }
        if (_nonRoot && HltExits(ref d)) return;
        _halted = true;
        _signal |= SignalEvent;
    }

    /// <summary>
    /// RDPMC: #GP(0) when CR4.PCE = 0 outside CPL 0 in protected mode; the model exposes no
    /// performance-monitoring counters (CPUID leaf 0Ah reports none), so every counter index is
    /// invalid: #GP(0). In VMX non-root operation "RDPMC exiting" exits after the privilege check.
    /// </summary>
    private void ExecRdpmc(ref Decoding.DecodedInstruction d)
    {
        if ((_cr4 & Cr4.PCE) == 0 && _cpl != 0 && (_cr0 & Cr0.PE) != 0) { FaultGp0(); return; }
        if (_nonRoot && RdpmcExits(ref d)) return;
        FaultGp0();
    }
}
