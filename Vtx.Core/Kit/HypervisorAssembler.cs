using Iced.Intel;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Kit;

/// <summary>
/// A hypervisor program being written with Iced's <see cref="Assembler"/> (64-bit), with the pieces every
/// VMX hypervisor needs as one call each: VMREAD/VMWRITE with failure checks, control fields adjusted by the
/// capability MSRs at run time, saving and restoring the guest's registers around an exit, VMRESUME, a log
/// on the POST port, and the whole bring-up (<see cref="EmitBringUp"/>). Register use: RCX holds field
/// encodings, RAX values; a VMREAD/VMWRITE that fails (CF or ZF, SDM Vol. 3C, 30.2) jumps to <see cref="VmFail"/>.
/// </summary>
public sealed class HypervisorAssembler
{
    /// <summary>VMfailInvalid / VMfailValid of any VMX instruction (SDM Vol. 3C, 30.2): bind it to the hypervisor's failure path.</summary>
    public Label VmFail;
    /// <summary>The guest is done: bind it to the hypervisor's power-off path.</summary>
    public Label Done;
    /// <summary>An exit the scenario did not expect: bind it to a failure path.</summary>
    public Label Unexpected;
    /// <summary>A control the hypervisor needs is not allowed by the capability MSRs (SDM Vol. 3C, A.3-A.5): bind it to a failure path.</summary>
    public Label ControlUnsupported;

    /// <summary>Creates the builder; <paramref name="data"/> is the base of the hypervisor's variables (see <see cref="Data"/>).</summary>
    public HypervisorAssembler(ulong data = VmxLab.HvData)
    {
        Data = data;
        VmFail = A.CreateLabel("vmfail");
        Done = A.CreateLabel("done");
        Unexpected = A.CreateLabel("unexpected");
        ControlUnsupported = A.CreateLabel("control-unsupported");
    }

    /// <summary>The assembler the hypervisor's instructions are written to (64-bit code).</summary>
    public Assembler A { get; } = new(64);

    /// <summary>Base of this hypervisor's variables (below 4 GiB): VMXON/VMCS pointers at +0/+8, IA32_VMX_BASIC at +10h, SGDT/SIDT scratch at +20h, the guest's registers at +100h.</summary>
    public ulong Data { get; }

    /// <summary>VMWRITE <paramref name="field"/> := <paramref name="value"/> (SDM Vol. 3C, 30.3 VMWRITE; clobbers RAX, RCX).</summary>
    public void Write(uint field, ulong value)
    {
        if (value <= int.MaxValue) A.mov(eax, (uint)value);
        else A.mov(rax, value);
        WriteFrom(field, rax);
    }

    /// <summary>VMWRITE <paramref name="field"/> := <paramref name="value"/> register (any register but RCX; SDM Vol. 3C, 30.3).</summary>
    public void WriteFrom(uint field, AssemblerRegister64 value)
    {
        A.mov(ecx, field);
        A.vmwrite(rcx, value);
        A.jbe(VmFail);
    }

    /// <summary>VMREAD <paramref name="dst"/> := <paramref name="field"/> (any register but RCX; SDM Vol. 3C, 30.3 VMREAD).</summary>
    public void Read(AssemblerRegister64 dst, uint field)
    {
        A.mov(ecx, field);
        A.vmread(dst, rcx);
        A.jbe(VmFail);
    }

    /// <summary>Sets <paramref name="bits"/> in a 32-bit control field (read-modify-write with RAX).</summary>
    public void SetBits(uint field, uint bits)
    {
        Read(rax, field);
        A.or(eax, (int)bits);
        WriteFrom(field, rax);
    }

    /// <summary>Clears <paramref name="bits"/> in a 32-bit control field (read-modify-write with RAX).</summary>
    public void ClearBits(uint field, uint bits)
    {
        Read(rax, field);
        A.and(eax, (int)~bits);
        WriteFrom(field, rax);
    }

    /// <summary>
    /// The guest's general-purpose registers (all but RSP, which the VMCS holds): a VM exit does not save them
    /// (SDM Vol. 3C, 27.3) and the host's code uses them, so the exit handler stores them first and <see cref="Resume"/> restores them.
    /// </summary>
    public static IReadOnlyList<AssemblerRegister64> GuestGprs { get; } = [rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15];

    /// <summary>Stores the guest's registers at <see cref="Data"/> + 100h (the first thing an exit handler does).</summary>
    public void SaveGuestRegisters()
    {
        for (int i = 0; i < GuestGprs.Count; i++) A.mov(__qword_ptr[Data + 0x100 + (ulong)i * 8], GuestGprs[i]);
    }

    /// <summary>Restores the guest's registers and executes VMRESUME (SDM Vol. 3C, 30.3); a VMfail falls through to <see cref="VmFail"/>.</summary>
    public void Resume()
    {
        for (int i = 0; i < GuestGprs.Count; i++) A.mov(GuestGprs[i], __qword_ptr[Data + 0x100 + (ulong)i * 8]);
        A.vmresume();
        A.jmp(VmFail);
    }

    /// <summary>Writes a progress code to the POST port 80h (clobbers AL): the hypervisor's log, read by <see cref="Machine.PostCodes"/>.</summary>
    public void Log(byte code)
    {
        A.mov(al, code);
        A.@out(0x80, al);
    }

    /// <summary>
    /// Binds the program's endings: <see cref="Done"/> ends the run through the debug-exit port F4h with code 0
    /// (exit status 1); <see cref="VmFail"/>, <see cref="Unexpected"/>, <see cref="ControlUnsupported"/> and
    /// <paramref name="noVmx"/> log E0h, E1h, E2h, E3h on the POST port and end the run with that code.
    /// </summary>
    public void EmitEndings(Label noVmx)
    {
        A.Label(ref Done);
        A.xor(eax, eax);
        A.@out(0xF4, al);                                 // debug-exit: code (0 << 1) | 1 = 1
        A.hlt();
        foreach (var (label, code) in new[] { (VmFail, (byte)0xE0), (Unexpected, (byte)0xE1), (ControlUnsupported, (byte)0xE2), (noVmx, (byte)0xE3) })
        {
            var l = label;
            A.Label(ref l);
            Log(code);
            A.mov(al, code);
            A.@out(0xF4, al);
            A.hlt();
        }
    }

    /// <summary>
    /// A control field adjusted by its capability MSR at run time as a VMM must (SDM Vol. 3C, A.3-A.5): the TRUE MSR
    /// when IA32_VMX_BASIC[55] = 1 (read into <see cref="Data"/> + 10h by the bring-up), else the plain one;
    /// value = (desired | allowed-0) &amp; allowed-1, and every desired bit must survive, else <see cref="ControlUnsupported"/>.
    /// </summary>
    public void Control(uint field, uint plainMsr, uint trueMsr, uint desired)
    {
        A.mov(ecx, plainMsr);
        A.mov(eax, trueMsr);
        A.test(__byte_ptr[Data + 0x10 + 6], 0x80); // IA32_VMX_BASIC[55]: the TRUE capability MSRs exist
        A.cmovne(ecx, eax);
        A.rdmsr();                                      // EAX = allowed-0 (must be 1), EDX = allowed-1 (may be 1)
        A.mov(ebx, desired);
        A.or(ebx, eax);
        A.and(ebx, edx);
        A.mov(eax, ebx);
        A.and(eax, (int)desired);
        A.cmp(eax, (int)desired);
        A.jne(ControlUnsupported);
        WriteFrom(field, rbx);
    }

    /// <summary>
    /// Emits the VMX bring-up, up to (not including) VMLAUNCH: CPUID and IA32_FEATURE_CONTROL checks (jumping to
    /// <paramref name="noVmx"/> when VMX is unavailable), CR0/CR4 fixed bits, VMXON, VMCLEAR, VMPTRLD, the
    /// four primary control fields (adjusted by the capability MSRs, <see cref="Control"/>), the other controls
    /// zeroed, this code's own registers as host state, and a 64-bit ring-0 guest on the same GDT and page tables
    /// as <see cref="VmxLab"/> lays them out (SDM Vol. 3C, 23.6-23.7, 24.2-24.8, Appendix A). Logs
    /// <see cref="VmxBringUp.LogBase"/>, +1 and +2 on the POST port as it passes each stage.
    /// </summary>
    public void EmitBringUp(VmxBringUp p, Label noVmx)
    {
        ArgumentNullException.ThrowIfNull(p);
        var a = A;
        var locked = a.CreateLabel();
        var fcOk = a.CreateLabel();

        // ---- 1. Is VMX there, and may VMXON run? (SDM Vol. 3C, 23.6, 23.7)
        a.mov(eax, 1);
        a.cpuid();
        a.bt(ecx, 5);                                   // CPUID.1:ECX.VMX
        a.jae(noVmx);
        a.mov(ecx, Msr.FeatureControl);
        a.rdmsr();
        a.test(al, 1);                                  // lock bit
        a.jne(locked);
        a.or(eax, 5);                                   // lock + enable VMXON outside SMX
        a.wrmsr();
        a.jmp(fcOk);
        a.Label(ref locked);
        a.test(al, 4);
        a.je(noVmx);
        a.Label(ref fcOk);
        // CR0 and CR4 must respect IA32_VMX_CR0/CR4_FIXED0 (bits fixed to 1) and FIXED1 (bits allowed to be 1); CR4.VMXE is in FIXED0.
        foreach (var (fixed0, cr) in new[] { (VmxMsr.Cr0Fixed0, cr0), (VmxMsr.Cr4Fixed0, cr4) })
        {
            a.mov(rbx, cr);
            a.mov(ecx, fixed0);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.or(rbx, rax);
            a.mov(ecx, fixed0 + 1);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.and(rbx, rax);
            a.mov(cr, rbx);
        }
        Log(p.LogBase);

        // ---- 2. VMXON, VMCLEAR, VMPTRLD: revision identifier from IA32_VMX_BASIC[30:0] (SDM Vol. 3C, 24.2, A.1).
        a.mov(ecx, VmxMsr.Basic);
        a.rdmsr();
        a.mov(__dword_ptr[Data + 0x10], eax);
        a.mov(__dword_ptr[Data + 0x14], edx);
        a.and(eax, 0x7FFF_FFFF);
        a.mov(__dword_ptr[p.VmxonRegion], eax);
        a.mov(__dword_ptr[p.VmcsRegion], eax);
        a.mov(eax, (uint)p.VmxonRegion);
        a.mov(__qword_ptr[Data], rax);
        a.mov(eax, (uint)p.VmcsRegion);
        a.mov(__qword_ptr[Data + 8], rax);
        a.vmxon(__qword_ptr[Data]);
        a.jbe(VmFail);
        a.vmclear(__qword_ptr[Data + 8]);
        a.jbe(VmFail);
        a.vmptrld(__qword_ptr[Data + 8]);
        a.jbe(VmFail);
        Log((byte)(p.LogBase + 1));

        // ---- 3. VM-execution, VM-exit and VM-entry controls (SDM Vol. 3C, 24.6-24.8).
        Control(E.PinBasedVmExecControls, VmxMsr.PinBasedCtls, VmxMsr.TruePinBasedCtls, p.Pin);
        Control(E.PrimaryProcBasedVmExecControls, VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls, p.Proc);
        Control(E.VmExitControls, VmxMsr.ExitCtls, VmxMsr.TrueExitCtls, p.Exit);
        Control(E.VmEntryControls, VmxMsr.EntryCtls, VmxMsr.TrueEntryCtls, p.Entry);
        foreach (uint f in new[] { E.ExceptionBitmap, E.PageFaultErrorCodeMask, E.PageFaultErrorCodeMatch, E.Cr3TargetCount,
                     E.VmExitMsrStoreCount, E.VmExitMsrLoadCount, E.VmEntryMsrLoadCount, E.VmEntryExceptionErrorCode,
                     E.VmEntryInstructionLength, E.Cr0GuestHostMask, E.Cr4GuestHostMask, E.Cr0ReadShadow, E.Cr4ReadShadow, E.TscOffset })
            Write(f, 0);
        Write(E.VmEntryInterruptionInformation, p.LaunchInjection);

        // ---- 4. Host state: this hypervisor's own registers (SDM Vol. 3C, 24.5).
        foreach (var (f, cr) in new[] { (E.HostCr0, cr0), (E.HostCr3, cr3), (E.HostCr4, cr4) })
        {
            a.mov(rax, cr);
            WriteFrom(f, rax);
        }
        foreach (var (f, sreg) in new[] { (E.HostCsSelector, cs), (E.HostSsSelector, ss), (E.HostDsSelector, ds), (E.HostEsSelector, es), (E.HostFsSelector, fs), (E.HostGsSelector, gs) })
        {
            a.mov(rax, sreg);
            WriteFrom(f, rax);
        }
        a.xor(eax, eax);
        a.str(ax);
        WriteFrom(E.HostTrSelector, rax);
        Write(E.HostTrBase, VmxLab.Tss);                 // the hypervisor's own TSS
        a.sgdt(__qword_ptr[Data + 0x20]);
        a.mov(rax, __qword_ptr[Data + 0x22]);
        WriteFrom(E.HostGdtrBase, rax);
        a.sidt(__qword_ptr[Data + 0x20]);
        a.mov(rax, __qword_ptr[Data + 0x22]);
        WriteFrom(E.HostIdtrBase, rax);
        foreach (var (f, msr) in new[] { (E.HostFsBase, Msr.FsBase), (E.HostGsBase, Msr.GsBase), (E.HostSysenterCs, Msr.SysenterCs),
                     (E.HostSysenterEsp, Msr.SysenterEsp), (E.HostSysenterEip, Msr.SysenterEip) })
        {
            a.mov(ecx, msr);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            WriteFrom(f, rax);
        }
        Write(E.HostRsp, p.ExitStack);
        a.lea(rax, __[p.ExitHandler]);
        WriteFrom(E.HostRip, rax);

        // ---- 5. Guest state: a 64-bit ring-0 guest on the same GDT and page tables, with its own IDT and stack (SDM Vol. 3C, 24.4).
        foreach (var (f, cr) in new[] { (E.GuestCr0, cr0), (E.GuestCr3, cr3), (E.GuestCr4, cr4) })
        {
            a.mov(rax, cr);
            WriteFrom(f, rax);
        }
        Write(E.GuestDr7, 0x400);
        Write(E.GuestCsSelector, VmxLab.CodeSel);
        Write(E.GuestCsBase, 0);
        Write(E.GuestCsLimit, 0xFFFF_FFFF);
        Write(E.GuestCsAccessRights, 0xA09B);            // present, DPL 0, execute/read accessed code, L = 1, G = 1
        foreach (var (sel, b, lim, ar) in new[]
                 {
                     (E.GuestSsSelector, E.GuestSsBase, E.GuestSsLimit, E.GuestSsAccessRights),
                     (E.GuestDsSelector, E.GuestDsBase, E.GuestDsLimit, E.GuestDsAccessRights),
                     (E.GuestEsSelector, E.GuestEsBase, E.GuestEsLimit, E.GuestEsAccessRights),
                     (E.GuestFsSelector, E.GuestFsBase, E.GuestFsLimit, E.GuestFsAccessRights),
                     (E.GuestGsSelector, E.GuestGsBase, E.GuestGsLimit, E.GuestGsAccessRights),
                 })
        {
            Write(sel, VmxLab.DataSel);
            Write(b, 0);
            Write(lim, 0xFFFF_FFFF);
            Write(ar, 0xC093);                            // present, DPL 0, read/write accessed data, D/B = 1, G = 1
        }
        Write(E.GuestTrSelector, VmxLab.TssSel);
        Write(E.GuestTrBase, VmxLab.Tss);
        Write(E.GuestTrLimit, 0x67);
        Write(E.GuestTrAccessRights, 0x8B);               // busy 64-bit TSS
        Write(E.GuestLdtrSelector, 0);
        Write(E.GuestLdtrAccessRights, 0x1_0000);         // unusable
        Write(E.GuestGdtrBase, VmxLab.Gdt);
        Write(E.GuestGdtrLimit, VmxLab.GdtLimit);
        Write(E.GuestIdtrBase, p.GuestIdt);
        Write(E.GuestIdtrLimit, p.GuestIdtLimit);
        Write(E.GuestRip, p.GuestRip);
        Write(E.GuestRsp, p.GuestRsp);
        Write(E.GuestRflags, p.GuestRflags);
        Write(E.GuestPendingDebugExceptions, 0);
        Write(E.GuestActivityState, 0);
        Write(E.GuestInterruptibilityState, p.GuestInterruptibility);
        Write(E.GuestSysenterCs, 0);
        Write(E.GuestSysenterEsp, 0);
        Write(E.GuestSysenterEip, 0);
        Write(E.VmcsLinkPointer, ulong.MaxValue);
        Log((byte)(p.LogBase + 2));
    }
}

/// <summary>
/// What <see cref="HypervisorAssembler.EmitBringUp"/> puts in the VMCS: the VMXON and VMCS regions, the desired
/// controls (adjusted at run time by the capability MSRs, SDM Vol. 3C, A.3-A.5), the host's exit path and the
/// guest's entry state (SDM Vol. 3C, 24.4-24.8).
/// </summary>
public sealed class VmxBringUp
{
    /// <summary>Physical address of the 4-KiB VMXON region (SDM Vol. 3C, 24.11.5).</summary>
    public required ulong VmxonRegion { get; init; }
    /// <summary>Physical address of the 4-KiB VMCS region (SDM Vol. 3C, 24.2).</summary>
    public required ulong VmcsRegion { get; init; }
    /// <summary>Desired pin-based controls (SDM Vol. 3C, 24.6.1).</summary>
    public uint Pin { get; init; }
    /// <summary>Desired primary processor-based controls (SDM Vol. 3C, 24.6.2).</summary>
    public uint Proc { get; init; }
    /// <summary>Desired VM-exit controls (SDM Vol. 3C, 24.7.1); by default a 64-bit host.</summary>
    public uint Exit { get; init; } = ExitControls.HostAddressSpaceSize;
    /// <summary>Desired VM-entry controls (SDM Vol. 3C, 24.8.1); by default a 64-bit guest.</summary>
    public uint Entry { get; init; } = EntryControls.Ia32eModeGuest;
    /// <summary>VM-entry interruption information for the first entry (0: inject nothing; SDM Vol. 3C, 24.8.3).</summary>
    public uint LaunchInjection { get; init; }
    /// <summary>HOST_RSP: the stack the exit handler starts on (SDM Vol. 3C, 24.5).</summary>
    public required ulong ExitStack { get; init; }
    /// <summary>HOST_RIP: the exit handler's label (SDM Vol. 3C, 24.5).</summary>
    public required Label ExitHandler { get; init; }
    /// <summary>The guest's first RIP.</summary>
    public required ulong GuestRip { get; init; }
    /// <summary>The guest's RSP.</summary>
    public required ulong GuestRsp { get; init; }
    /// <summary>The guest's IDT base.</summary>
    public required ulong GuestIdt { get; init; }
    /// <summary>The guest's IDT limit.</summary>
    public ushort GuestIdtLimit { get; init; } = VmxLab.GuestIdtLimit;
    /// <summary>The guest's RFLAGS (bit 1 must be 1; SDM Vol. 3C, 26.3.1.4).</summary>
    public ulong GuestRflags { get; init; } = 2;
    /// <summary>The guest's interruptibility state (SDM Vol. 3C, 24.4.2).</summary>
    public ulong GuestInterruptibility { get; init; }
    /// <summary>The first of the three POST codes the bring-up logs.</summary>
    public byte LogBase { get; init; } = 0x01;
}
