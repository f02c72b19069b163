using Iced.Intel;
using Vtx.Kit;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Samples;

/// <summary>
/// What L1 (the guest hypervisor) runs L2 with: its desired controls, L2's RFLAGS and exception bitmap,
/// and L2's program. The same L1 image runs either directly in VMX root operation on Vtx or in VMX
/// non-root operation under L0.
/// </summary>
internal sealed record L1Config
{
    public required string Title { get; init; }
    public uint Pin { get; init; }
    public uint Proc { get; init; }
    public uint Exit { get; init; } = ExitControls.HostAddressSpaceSize;
    public uint Entry { get; init; } = EntryControls.Ia32eModeGuest;
    public uint ExceptionBitmap { get; init; }
    public ulong GuestRflags { get; init; } = 2;
    /// <summary>Code L1 runs first, before its VMX bring-up (tests use it to probe what L1 sees).</summary>
    public Action<Assembler>? Prelude { get; init; }
    /// <summary>Code L1 runs right before its VMLAUNCH, with its VMCS current (tests use it to exercise VMREAD/VMWRITE forms).</summary>
    public Action<Assembler>? BeforeLaunch { get; init; }
    /// <summary>After <see cref="L1Hypervisor.MaxExits"/> exits, keep handling exits without logging them (else L1 stops L2 there).</summary>
    public bool KeepGoing { get; init; }
    /// <summary>L2's program (code at <see cref="VmxLab.GuestCode"/>, data at <see cref="VmxLab.GuestData"/>).</summary>
    public required Action<GuestAssembler> Guest { get; init; }
}

/// <summary>
/// L1: a small, general hypervisor written with Iced's assembler. It brings VMX up exactly as the other
/// samples' hypervisors do (<see cref="HypervisorAssembler.EmitBringUp"/>), launches L2, and for every exit records
/// (reason, qualification, interruption information, instruction length, guest RIP, IDT-vectoring
/// information) in its exit log, then: an NMI → inject a virtual NMI (or wait for the NMI window while
/// virtual-NMI blocking is set); an external interrupt → inject it if L2 can take it, else hold it and
/// set interrupt-window exiting; an exception → reflect it into L2; any other instruction exit → skip the
/// instruction; VMCALL or a failed entry → record L2's final state, VMXOFF and power off.
/// </summary>
internal static class L1Hypervisor
{
    public const ulong Code = 0x5_0000, Stubs = 0x5_F000, Data = 0x6_0000, VmxonRegion = 0x6_1000, VmcsRegion = 0x6_2000;
    public const ulong Idt = 0x6_3000, Stack = 0x6_8000, ExitStack = 0x6_C000;
    /// <summary>L1 variables: the held interrupt vector, the exit count, the vector of an exception L1 itself took.</summary>
    public const ulong Held = Data + 0x40, ExitCount = Data + 0x48, OwnFault = Data + 0x50, IdtDescriptor = Data + 0x60;
    /// <summary>When one of L1's VMX instructions fails: RFLAGS right after it, and the VM-instruction error L1 then reads (all ones if none).</summary>
    public const ulong FailFlags = Data + 0x70, FailError = Data + 0x78;
    /// <summary>Scratch space for a <see cref="L1Config.Prelude"/> or <see cref="L1Config.BeforeLaunch"/> (128 bytes).</summary>
    public const ulong PreludeData = Data + 0x80;
    /// <summary>L2's final state as L1 read it at the end: RIP, RSP, RFLAGS, interruptibility (4 × 8 bytes).</summary>
    public const ulong Final = Data + 0x200;
    /// <summary>L1's exit log: <see cref="RecordSize"/>-byte records from here, at most <see cref="MaxExits"/>.</summary>
    public const ulong Log = Data + 0x400;
    public const int RecordSize = 48, MaxExits = 64;
    /// <summary>The record slot for exits past the log (<see cref="L1Config.KeepGoing"/>).</summary>
    public const ulong Scratch = Data + 0x380;
    /// <summary>Code L1 powers the machine off with when it finishes (debug-exit exit code (0 &lt;&lt; 1) | 1).</summary>
    public const byte LogBase = 0x41;

    /// <summary>L1's messages (POST codes 41h-5Fh; D0h-D3h are its failures).</summary>
    public static readonly IReadOnlyDictionary<byte, string> Messages = new Dictionary<byte, string>
    {
        [0x41] = "CPUID.1:ECX.VMX = 1, IA32_FEATURE_CONTROL allows VMXON, CR0/CR4 fixed bits applied",
        [0x42] = "VMXON, VMCLEAR, VMPTRLD done: its VMCS (VMCS12) at 0x62000 is current",
        [0x43] = "controls, host state and L2's guest state written with VMWRITE; VMLAUNCH",
        [0x50] = "NMI exit, L2 not blocking virtual NMIs: inject a virtual NMI (0x80000202), VMRESUME",
        [0x51] = "NMI exit while L2 still handles one (virtual-NMI blocking): set NMI-window exiting, VMRESUME",
        [0x52] = "NMI-window exit: clear NMI-window exiting, inject the held NMI, VMRESUME",
        [0x53] = "external-interrupt exit (acknowledged) but L2 has IF = 0: hold the vector, set interrupt-window exiting, VMRESUME",
        [0x54] = "external-interrupt exit and L2 can take it: inject it, VMRESUME",
        [0x55] = "interrupt-window exit: clear interrupt-window exiting, inject the held vector (type 0), VMRESUME",
        [0x56] = "exception exit: reflect the exception into L2 (same interruption information), VMRESUME",
        [0x57] = "instruction exit: skip the instruction (guest RIP += instruction length), VMRESUME",
        [0x58] = "VMCALL exit: L2 is done; record its final state",
        [0x59] = "VM-entry failure: record it",
        [0x5A] = "VMXOFF done; L1 powers the machine off",
        [0x5B] = "exit log full; stopping L2",
        [0xD0] = "L1: a VMX instruction failed (VMfail); stopping",
        [0xD1] = "L1: unexpected exit; stopping",
        [0xD2] = "L1: a control it needs is not supported; stopping",
        [0xD3] = "L1: VMX is not available; stopping",
    };

    /// <summary>Assembles L1's code and its IDT stubs into the machine; returns the address of L1's exit handler (its VMCS's host RIP).</summary>
    public static ulong Load(VmxLab lab, L1Config cfg)
    {
        var h = new HypervisorAssembler(Data);
        var a = h.A;
        var exitHandler = a.CreateLabel("l1-exit-handler");
        var noVmx = a.CreateLabel();

        a.mov(rsp, Stack);
        a.lidt(__[IdtDescriptor]);                      // L1's own IDT: any exception in L1 stops the machine (code D7h)
        cfg.Prelude?.Invoke(a);
        h.EmitBringUp(new VmxBringUp
        {
            VmxonRegion = VmxonRegion, VmcsRegion = VmcsRegion, Pin = cfg.Pin, Proc = cfg.Proc, Exit = cfg.Exit, Entry = cfg.Entry,
            ExitStack = ExitStack, ExitHandler = exitHandler, GuestRip = VmxLab.GuestCode, GuestRsp = VmxLab.GuestStack,
            GuestIdt = VmxLab.GuestIdt, GuestRflags = cfg.GuestRflags, LogBase = LogBase,
        }, noVmx);
        h.Write(E.ExceptionBitmap, cfg.ExceptionBitmap);
        cfg.BeforeLaunch?.Invoke(a);
        a.vmlaunch();
        a.jmp(h.VmFail);

        // ---- the exit handler
        var finish = a.CreateLabel();
        var full = a.CreateLabel();
        var entryFailure = a.CreateLabel();
        var vmcall = a.CreateLabel();
        var excOrNmi = a.CreateLabel();
        var nmi = a.CreateLabel();
        var nmiBlocked = a.CreateLabel();
        var nmiWindow = a.CreateLabel();
        var extInt = a.CreateLabel();
        var hold = a.CreateLabel();
        var intWindow = a.CreateLabel();
        var inject = a.CreateLabel();
        var noError = a.CreateLabel();
        a.Label(ref exitHandler);
        h.SaveGuestRegisters();
        var record = a.CreateLabel();
        var read = a.CreateLabel();
        a.mov(eax, __dword_ptr[ExitCount]);
        a.cmp(eax, MaxExits);
        a.jb(record);
        if (!cfg.KeepGoing) a.jmp(full);
        a.mov(edi, (uint)Scratch);                     // past the log: the record goes to a scratch slot
        a.jmp(read);
        a.Label(ref record);
        a.imul(edi, eax, RecordSize);
        a.add(rdi, (int)Log);
        a.inc(__dword_ptr[ExitCount]);
        a.Label(ref read);
        h.Read(rbx, E.ExitReason);
        a.mov(__qword_ptr[rdi], rbx);
        int off = 8;
        foreach (uint f in new[] { E.ExitQualification, E.VmExitInterruptionInformation, E.VmExitInstructionLength, E.GuestRip, E.IdtVectoringInformation })
        {
            h.Read(rax, f);
            a.mov(__qword_ptr[rdi + off], rax);
            off += 8;
        }
        a.test(ebx, ebx);
        a.js(entryFailure);
        a.cmp(ebx, (int)VmxExitReason.Vmcall);
        a.je(vmcall);
        a.test(ebx, ebx);
        a.je(excOrNmi);
        a.cmp(ebx, (int)VmxExitReason.ExternalInterrupt);
        a.je(extInt);
        a.cmp(ebx, (int)VmxExitReason.InterruptWindow);
        a.je(intWindow);
        a.cmp(ebx, (int)VmxExitReason.NmiWindow);
        a.je(nmiWindow);
        // Any other exit is an instruction L1 does not emulate: skip it.
        a.mov(rax, __qword_ptr[rdi + 32]);
        a.add(rax, __qword_ptr[rdi + 24]);
        h.WriteFrom(E.GuestRip, rax);
        h.Log(0x57);
        h.Resume();

        a.Label(ref excOrNmi);
        a.mov(eax, __dword_ptr[rdi + 16]);
        a.mov(edx, eax);
        a.shr(edx, 8);
        a.and(edx, 7);
        a.cmp(edx, 2);                                  // type 2: NMI
        a.je(nmi);
        // An exception L1 intercepts: give it to L2 as it came (valid, type, vector, error-code bit; not bit 12).
        a.and(eax, unchecked((int)0x8000_0FFF));
        a.mov(r12, rax);
        h.WriteFrom(E.VmEntryInterruptionInformation, r12);
        a.test(r12d, 0x800);
        a.je(noError);
        h.Read(rax, E.VmExitInterruptionErrorCode);
        h.WriteFrom(E.VmEntryExceptionErrorCode, rax);
        a.Label(ref noError);
        a.mov(rax, __qword_ptr[rdi + 24]);
        h.WriteFrom(E.VmEntryInstructionLength, rax);  // software exceptions (INT3) are re-injected with their length
        h.Log(0x56);
        h.Resume();

        a.Label(ref nmi);
        h.Read(rax, E.GuestInterruptibilityState);
        a.test(al, 8);                                  // virtual-NMI blocking
        a.jne(nmiBlocked);
        h.Write(E.VmEntryInterruptionInformation, VmxSample.NmiInfo);
        h.Log(0x50);
        h.Resume();
        a.Label(ref nmiBlocked);
        h.SetBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.NmiWindowExiting);
        h.Log(0x51);
        h.Resume();
        a.Label(ref nmiWindow);
        h.ClearBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.NmiWindowExiting);
        h.Write(E.VmEntryInterruptionInformation, VmxSample.NmiInfo);
        h.Log(0x52);
        h.Resume();

        a.Label(ref extInt);
        a.mov(eax, __dword_ptr[rdi + 16]);
        a.mov(__dword_ptr[Held], eax);
        h.Read(rax, E.GuestRflags);
        a.test(eax, 0x200);
        a.je(hold);
        h.Read(rax, E.GuestInterruptibilityState);
        a.test(al, 3);
        a.jne(hold);
        h.Log(0x54);
        a.jmp(inject);
        a.Label(ref hold);
        h.SetBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.InterruptWindowExiting);
        h.Log(0x53);
        h.Resume();
        a.Label(ref intWindow);
        h.ClearBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.InterruptWindowExiting);
        h.Log(0x55);
        a.Label(ref inject);
        a.movzx(ebx, __byte_ptr[Held]);
        a.or(ebx, unchecked((int)0x8000_0000));
        h.WriteFrom(E.VmEntryInterruptionInformation, rbx);
        h.Resume();

        a.Label(ref full);
        h.Log(0x5B);
        a.jmp(finish);
        a.Label(ref entryFailure);
        h.Log(0x59);
        a.jmp(finish);
        a.Label(ref vmcall);
        h.Log(0x58);
        a.Label(ref finish);
        off = 0;
        foreach (uint f in new[] { E.GuestRip, E.GuestRsp, E.GuestRflags, E.GuestInterruptibilityState })
        {
            h.Read(rax, f);
            a.mov(__qword_ptr[Final + (ulong)off], rax);
            off += 8;
        }
        a.vmxoff();
        a.jbe(h.VmFail);
        h.Log(0x5A);
        a.Label(ref h.Done);
        a.xor(eax, eax);
        a.@out(0xF4, al);
        a.hlt();
        foreach (var (label, code) in new[] { (h.VmFail, (byte)0xD0), (h.Unexpected, (byte)0xD1), (h.ControlUnsupported, (byte)0xD2), (noVmx, (byte)0xD3) })
        {
            var l = label;
            a.Label(ref l);
            if (code == 0xD0)
            {
                // A VMX instruction failed: record RFLAGS (CF = VMfailInvalid, ZF = VMfailValid) and the VM-instruction error.
                a.pushfq();
                a.pop(rax);
                a.mov(__qword_ptr[FailFlags], rax);
                a.mov(rax, -1);
                a.mov(ecx, E.VmInstructionError);
                a.vmread(rax, rcx);
                a.mov(__qword_ptr[FailError], rax);
            }
            h.Log(code);
            a.mov(al, code);
            a.@out(0xF4, al);
            a.hlt();
        }
        lab.M.WriteMemory(Code, VmxLab.Assemble(a, Code, out var l1Rip));
        ulong exitHandlerRip = l1Rip(exitHandler);

        // L1's IDT: every exception or NMI that reaches L1 itself records its vector and stops the machine (code D7h).
        lab.FaultIdt(Idt, Stubs, OwnFault, 0xD7);
        lab.M.WriteMemory(Data, new byte[0x1000]);
        lab.W64(OwnFault, 0xFFFF_FFFF); // (again: it may lie in Data)
        lab.M.WriteMemory(IdtDescriptor, BitConverter.GetBytes((ushort)(32 * 16 - 1)));
        lab.W64(IdtDescriptor + 2, Idt);
        return exitHandlerRip;
    }
}
