using Iced.Intel;
using Vtx.Kit;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Samples;

/// <summary>
/// L0: the hypervisor Vtx runs in VMX root operation, which runs L1 (a hypervisor) in VMX non-root
/// operation and emulates VMX for it by trap and emulate (SDM Vol. 3C, 25.1.2: every VMX instruction of
/// L1 exits, reasons 18-27). L0 keeps L1's VMCS12 as a field store in L1's VMCS region
/// (<see cref="NestedFields"/>); on L1's VMLAUNCH/VMRESUME it builds VMCS02 from VMCS12's guest state and
/// controls merged with its own needs and its own host state, and enters L2; an exit from L2 that L1 asked
/// for (per VMCS12's controls) is reflected: guest state and exit information go back into VMCS12, and L1
/// resumes at VMCS12's host RIP with VMCS12's host state (SDM 27.5), as if its VMLAUNCH/VMRESUME had
/// entered L2 and L2 had exited to it. With <c>shadowing</c>, L1's VMREAD/VMWRITE of the shadowed fields
/// go to a shadow VMCS without exiting (SDM 24.10, 30.3), and L0 syncs the shadow and the store around
/// L1's VMPTRLD/VMCLEAR/VMLAUNCH/VMRESUME and the exits it reflects.
/// </summary>
internal sealed class L0Hypervisor
{
    // L0's data (all below 2 MiB, identity-mapped like everything else).
    public const ulong Data = 0x10_0000;
    /// <summary>L1's/L2's general-purpose registers in hardware order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15): the operand decoding indexes them.</summary>
    public const ulong Gprs = Data;
    public const ulong Level = Data + 0x100, Vmcs12 = Data + 0x108, L1Vmxon = Data + 0x110, Vmcs01Ptr = Data + 0x118, Vmcs02Ptr = Data + 0x120;
    public const ulong ShadowPtr = Data + 0x128, LastReason = Data + 0x130, Scratch = Data + 0x800;
    /// <summary>Exits from L1 and from L2 that reached L0, by basic reason (64 dwords each), and how many L2 exits L0 reflected to L1.</summary>
    public const ulong L1Exits = Data + 0x200, L2Exits = Data + 0x300, Reflected = Data + 0x400;
    public const ulong Tables = Data + 0x1000, Lookup = 0x10_8000;
    public const ulong Vmcs01 = VmxLab.VmcsRegion, Vmcs02 = 0x2_2000, ShadowVmcs = 0x2_3000, VmreadBitmap = 0x2_4000, VmwriteBitmap = 0x2_5000, MsrBitmap = 0x2_6000;

    /// <summary>What L0 adds to VMCS12's pin-based and primary controls for its own needs (none: every L2 exit is L1's; L0 has no device of its own).</summary>
    public static readonly uint OwnPin = 0, OwnProc = 0;
    /// <summary>Exit controls L0 does not emulate when it loads L1's host state (VMLAUNCH of a VMCS12 with them: VMfailValid 7).</summary>
    public const uint UnemulatedExit = ExitControls.LoadPerfGlobalCtrl | ExitControls.LoadPat | ExitControls.LoadEfer | 0xFF80_0000;

    /// <summary>Capability MSRs L1 reads through L0's filter: IA32_VMX_PROCBASED_CTLS and its TRUE form, with allowed-1 bit 31 ("activate secondary controls") cleared.</summary>
    public static readonly uint[] FilteredCapabilityMsrs = [VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls];
    /// <summary>Capability MSRs that do not exist for L1 (their feature is not offered, SDM Appendix A): RDMSR gets #GP(0).</summary>
    public static readonly uint[] HiddenCapabilityMsrs = [VmxMsr.ProcBasedCtls2, VmxMsr.EptVpidCap, VmxMsr.VmFunc, VmxMsr.ProcBasedCtls3];

    /// <summary>L0's messages (POST codes 01h-03h bring-up, 10h-1Fh emulation, E0h-E4h failures).</summary>
    public static readonly IReadOnlyDictionary<byte, string> Messages = new Dictionary<byte, string>
    {
        [0x01] = "CPUID.1:ECX.VMX = 1, IA32_FEATURE_CONTROL locked with VMXON enabled, CR0/CR4 fixed bits applied (CR4.VMXE = 1)",
        [0x02] = "VMXON, VMCLEAR, VMPTRLD done: VMCS01 (L0's VMCS for L1) at 0x21000 is current",
        [0x03] = "VMCS01's controls (adjusted by the capability MSRs), host state and guest state (L1 at its first instruction) written with VMWRITE",
        [0x04] = "MSR bitmap: L1's RDMSR/WRMSR run on the hardware but for the VMX capabilities L0 filters; VMCS02 at 0x22000 gets L0's host state; VMLAUNCH L1",
        [0x10] = "emulated L1's VMXON: L1 is in (virtual) VMX root operation",
        [0x11] = "emulated L1's VMCLEAR: VMCS12 launch state := clear",
        [0x12] = "emulated L1's VMPTRLD: VMCS12 at 0x62000 is L1's current VMCS",
        [0x13] = "L1's VMLAUNCH: VMCS02 := VMCS12 guest state + controls merged with L0's + L0's host state; VMLAUNCH L2",
        [0x14] = "L1's VMRESUME: VMCS02 rebuilt from VMCS12; VMRESUME L2",
        [0x15] = "reflect",
        [0x16] = "emulated L1's VMXOFF",
        [0x17] = "emulated L1's CPUID (VMX offered)",
        [0x18] = "VMCS02 entry failed (VMfail): reflected to L1 as its VMLAUNCH/VMRESUME failing",
        [0x19] = "L1 read a VMX capability MSR: answered without \"activate secondary controls\" (L0 offers L1 none)",
        [0x1A] = "L1 read a VMX capability MSR of a feature L0 does not offer: #GP(0)",
        [0xE0] = "a VMX instruction of L0 failed (VMfail); stopping",
        [0xE1] = "an exit L0 does not handle; stopping",
        [0xE2] = "a control L0 needs is not supported; stopping",
        [0xE3] = "VMX is not available; stopping",
        [0xE4] = "an L2 exit L1 did not ask for (L0 has no use for it); stopping",
    };

    private readonly HypervisorAssembler _h = new();
    private readonly NestedFields _f;
    private readonly bool _shadowing;
    private Assembler A => _h.A;
    private Label _copyTo, _copyFrom, _operandAddr, _fieldSlot, _succeed, _failInvalid, _failValid, _advance, _resumeL1, _syncToShadow, _syncFromShadow;
    private readonly Dictionary<string, ulong> _tables = new();

    private L0Hypervisor(NestedFields f, bool shadowing)
    {
        _f = f;
        _shadowing = shadowing;
    }

    private static readonly AssemblerRegister64[] HwOrder = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];

    /// <summary>Assembles L0 and its data tables into the machine.</summary>
    public static void Load(VmxLab lab, NestedFields f, bool shadowing)
    {
        var l0 = new L0Hypervisor(f, shadowing);
        l0.LoadTables(lab);
        var bytes = l0.Emit();
        if (bytes.Length > 0xF000) throw new InvalidOperationException("L0 image too large");
        lab.M.WriteMemory(VmxLab.HvCode, bytes);
    }

    private void LoadTables(VmxLab lab)
    {
        ulong at = Tables;
        foreach (var (name, fields) in new (string, IEnumerable<uint>)[]
                 {
                     ("guest", _f.Guest), ("controls", _f.Controls), ("exit-info", _f.ExitInfo), ("host", _f.Host), ("shadowed", _f.Shadowed),
                 })
        {
            var t = _f.Table(fields);
            lab.M.WriteMemory(at, t);
            _tables[name] = at;
            at += (ulong)t.Length;
        }
        lab.M.WriteMemory(Lookup, _f.Lookup());
        lab.M.WriteMemory(Data, new byte[0x800]);
        // MSR bitmap: L1's RDMSR/WRMSR run on the hardware, except reads of the VMX capability MSRs that describe what L0 does
        // not offer L1 (secondary and later controls, EPT/VPID, VM functions): those exit and L0 answers (SDM 24.6.9).
        var msrBitmap = new byte[4096];
        foreach (uint msr in HiddenCapabilityMsrs.Concat(FilteredCapabilityMsrs)) msrBitmap[msr >> 3] |= (byte)(1 << (int)(msr & 7));
        lab.M.WriteMemory(MsrBitmap, msrBitmap);
        // The VMREAD bitmap passes every shadowed field; the VMWRITE bitmap only the writable ones (not exit information).
        lab.M.WriteMemory(VmreadBitmap, NestedFields.Bitmap(_f.Shadowed));
        lab.M.WriteMemory(VmwriteBitmap, NestedFields.Bitmap(_f.Shadowed.Where(e => !new VmcsField(e).IsExitInformation)));
    }

    private int Off(uint field) => _f.Offset(field);

    private byte[] Emit()
    {
        var h = _h;
        var a = A;
        var exitHandler = a.CreateLabel("l0-exit-handler");
        var noVmx = a.CreateLabel();
        foreach (var name in new[] { "copyTo", "copyFrom", "operandAddr", "fieldSlot", "succeed", "failInvalid", "failValid", "advance", "resumeL1", "syncToShadow", "syncFromShadow" })
        {
            var l = a.CreateLabel(name);
            switch (name)
            {
                case "copyTo": _copyTo = l; break;
                case "copyFrom": _copyFrom = l; break;
                case "operandAddr": _operandAddr = l; break;
                case "fieldSlot": _fieldSlot = l; break;
                case "succeed": _succeed = l; break;
                case "failInvalid": _failInvalid = l; break;
                case "failValid": _failValid = l; break;
                case "advance": _advance = l; break;
                case "resumeL1": _resumeL1 = l; break;
                case "syncToShadow": _syncToShadow = l; break;
                default: _syncFromShadow = l; break;
            }
        }

        // ---- bring-up: VMCS01 runs L1 from its first instruction, on its stack, with its IDT.
        h.EmitBringUp(new VmxBringUp
        {
            VmxonRegion = VmxLab.VmxonRegion, VmcsRegion = Vmcs01,
            Proc = PrimaryProcessorBasedControls.UseMsrBitmaps | (_shadowing ? PrimaryProcessorBasedControls.ActivateSecondaryControls : 0),
            ExitStack = VmxLab.ExitStack, ExitHandler = exitHandler,
            GuestRip = L1Hypervisor.Code, GuestRsp = L1Hypervisor.Stack, GuestIdt = L1Hypervisor.Idt, GuestIdtLimit = 32 * 16 - 1,
        }, noVmx);
        h.Write(E.MsrBitmap, MsrBitmap);
        if (_shadowing)
        {
            h.Control(E.SecondaryProcBasedVmExecControls, VmxMsr.ProcBasedCtls2, VmxMsr.ProcBasedCtls2, SecondaryProcessorBasedControls.VmcsShadowing);
            h.Write(E.VmreadBitmapAddress, VmreadBitmap);
            h.Write(E.VmwriteBitmapAddress, VmwriteBitmap);
        }
        a.mov(qword_ptr_abs(Vmcs12), -1);
        a.mov(qword_ptr_abs(L1Vmxon), 0);
        foreach (var (ptr, region) in new[] { (Vmcs01Ptr, Vmcs01), (Vmcs02Ptr, Vmcs02), (ShadowPtr, ShadowVmcs) })
        {
            a.mov(eax, (uint)region);
            a.mov(qword_ptr_abs(ptr), rax);
        }
        // VMCS02 and the shadow VMCS get the revision identifier (the shadow one with bit 31, SDM 24.10).
        a.mov(eax, __dword_ptr[h.Data + 0x10]);
        a.and(eax, 0x7FFF_FFFF);
        a.mov(__dword_ptr[Vmcs02], eax);
        a.or(eax, unchecked((int)0x8000_0000));
        a.mov(__dword_ptr[ShadowVmcs], eax);
        // VMCS02's host state is L0's, the same as VMCS01's: copy it through the scratch store.
        a.mov(edi, (uint)Scratch);
        a.mov(esi, (uint)_tables["host"]);
        a.call(_copyFrom);
        a.vmclear(qword_ptr_abs(Vmcs02Ptr));
        a.jbe(h.VmFail);
        a.vmptrld(qword_ptr_abs(Vmcs02Ptr));
        a.jbe(h.VmFail);
        a.mov(esi, (uint)_tables["host"]);
        a.call(_copyTo);
        if (_shadowing)
        {
            a.vmclear(qword_ptr_abs(ShadowPtr));
            a.jbe(h.VmFail);
        }
        a.vmptrld(qword_ptr_abs(Vmcs01Ptr));
        a.jbe(h.VmFail);
        a.mov(qword_ptr_abs(Level), 1);
        h.Log(0x04);
        // L1 starts with a clear register file, as after reset (not with L0's scratch values).
        foreach (var r in HwOrder)
            if (r != rsp) a.xor(r, r);
        a.vmlaunch();
        a.jmp(h.VmFail);

        EmitSubroutines();

        // ---- the exit handler: exits of L1 (VMCS01) and of L2 (VMCS02) both land here.
        var l2Exit = a.CreateLabel("l2-exit");
        a.Label(ref exitHandler);
        for (int i = 0; i < 16; i++)
            if (i != 4) a.mov(qword_ptr_abs(Gprs + (ulong)i * 8), HwOrder[i]);
        a.cmp(qword_ptr_abs(Level), 2);
        a.je(l2Exit);
        EmitL1Exit();
        a.Label(ref l2Exit);
        EmitL2Exit();

        h.EmitEndings(noVmx);
        return VmxLab.Assemble(a, VmxLab.HvCode, out _);
    }

    private static AssemblerMemoryOperand qword_ptr_abs(ulong at) => __qword_ptr[at];

    private void RestoreGprs()
    {
        for (int i = 0; i < 16; i++)
            if (i != 4) A.mov(HwOrder[i], qword_ptr_abs(Gprs + (ulong)i * 8));
    }

    // ------------------------------------------------------------------ shared routines

    private void EmitSubroutines()
    {
        var a = A;
        var h = _h;

        // copyTo: RSI = table, RDI = store; VMWRITE every (encoding, offset) of the table from the store into the current VMCS.
        // copyFrom: the reverse (VMREAD into the store). Both keep RDI.
        foreach (bool to in new[] { true, false })
        {
            var done = a.CreateLabel();
            var top = to ? _copyTo : _copyFrom;
            a.Label(ref top);
            a.mov(ecx, __dword_ptr[rsi]);
            a.cmp(ecx, -1);
            a.je(done);
            a.mov(edx, __dword_ptr[rsi + 4]);
            if (to)
            {
                a.mov(rax, __qword_ptr[rdi + rdx]);
                a.vmwrite(rcx, rax);
            }
            else
            {
                a.vmread(rax, rcx);
            }
            a.jbe(h.VmFail);
            if (!to) a.mov(__qword_ptr[rdi + rdx], rax);
            a.add(rsi, 8);
            a.jmp(top);
            a.Label(ref done);
            a.ret();
        }

        // syncToShadow / syncFromShadow: the shadow VMCS ↔ the store of the current VMCS12; VMCS01 is current again after.
        foreach (bool to in new[] { true, false })
        {
            var l = to ? _syncToShadow : _syncFromShadow;
            a.Label(ref l);
            if (_shadowing)
            {
                a.vmptrld(qword_ptr_abs(ShadowPtr));
                a.jbe(h.VmFail);
                a.mov(rdi, qword_ptr_abs(Vmcs12));
                a.mov(esi, (uint)_tables["shadowed"]);
                a.call(to ? _copyTo : _copyFrom);
                a.vmptrld(qword_ptr_abs(Vmcs01Ptr));
                a.jbe(h.VmFail);
            }
            a.ret();
        }

        // operandAddr: RAX := the linear address of the memory operand of L1's exiting instruction, from the exit
        // qualification (displacement) and the instruction-information field (SDM Vol. 3C, 27.2.1, 27.2.4): base + index << scale,
        // truncated to 32 bits for a 32-bit address size. L1 runs flat (segment bases 0). Clobbers RBX, RCX, RDX.
        {
            var noBase = a.CreateLabel();
            var noIndex = a.CreateLabel();
            var done = a.CreateLabel();
            a.Label(ref _operandAddr);
            h.Read(rbx, E.VmExitInstructionInformation);
            h.Read(rax, E.ExitQualification);
            a.bt(ebx, 27);
            a.jb(noBase);
            a.mov(ecx, ebx);
            a.shr(ecx, 23);
            a.and(ecx, 15);
            a.add(rax, __qword_ptr[rcx * 8 + (long)Gprs]);
            a.Label(ref noBase);
            a.bt(ebx, 22);
            a.jb(noIndex);
            a.mov(ecx, ebx);
            a.shr(ecx, 18);
            a.and(ecx, 15);
            a.mov(rdx, __qword_ptr[rcx * 8 + (long)Gprs]);
            a.mov(ecx, ebx);
            a.and(ecx, 3);
            a.shl(rdx, cl);
            a.add(rax, rdx);
            a.Label(ref noIndex);
            a.mov(ecx, ebx);
            a.shr(ecx, 7);
            a.and(ecx, 7);
            a.cmp(ecx, 1);
            a.jne(done);
            a.mov(eax, eax);
            a.Label(ref done);
            a.ret();
        }

        // fieldSlot: RAX = a field encoding from L1 → RDX = its offset in the store, R13 = 1 for a high access. An encoding
        // L0 does not support (reserved bits, high access of a field that is not 64-bit, not in the lookup) fails the
        // instruction with VM-instruction error 12 (SDM Vol. 3C, 30.3 VMREAD/VMWRITE). Keeps RAX.
        {
            var bad = a.CreateLabel();
            var full = a.CreateLabel();
            a.Label(ref _fieldSlot);
            a.mov(rcx, rax);
            a.shr(rcx, 32);
            a.jne(bad);
            a.test(eax, unchecked((int)VmcsField.ReservedMask));
            a.jne(bad);
            a.mov(r13d, eax);
            a.and(r13d, 1);
            a.je(full);
            a.mov(ecx, eax);
            a.shr(ecx, 13);
            a.and(ecx, 3);
            a.cmp(ecx, 1);                               // width 1: 64-bit
            a.jne(bad);
            a.Label(ref full);
            a.mov(ecx, eax);
            a.and(ecx, 0x7FFE);
            a.shr(ecx, 1);
            a.movzx(edx, __word_ptr[rcx * 2 + (long)Lookup]);
            a.test(edx, edx);
            a.je(bad);
            a.ret();
            a.Label(ref bad);
            a.add(rsp, 8);                               // drop the return address: the instruction fails
            a.mov(ebx, (int)VmInstructionError.UnsupportedVmcsComponent);
            a.jmp(_failValid);
        }

        // The outcomes of an emulated VMX instruction for L1 (SDM Vol. 3C, 30.2): VMsucceed, VMfailInvalid (CF), VMfailValid(EBX) (ZF and
        // the VM-instruction error in VMCS12; VMfailInvalid when L1 has no current VMCS); then L1's RIP moves past the instruction.
        a.Label(ref _succeed);
        h.Read(rax, E.GuestRflags);
        a.and(eax, ~0x8D5);
        h.WriteFrom(E.GuestRflags, rax);
        a.jmp(_advance);
        a.Label(ref _failInvalid);
        h.Read(rax, E.GuestRflags);
        a.and(eax, ~0x8D5);
        a.or(eax, 1);
        h.WriteFrom(E.GuestRflags, rax);
        a.jmp(_advance);
        a.Label(ref _failValid);
        a.cmp(qword_ptr_abs(Vmcs12), -1);
        a.je(_failInvalid);
        a.mov(rdi, qword_ptr_abs(Vmcs12));
        a.mov(ebx, ebx);
        a.mov(__qword_ptr[rdi + Off(E.VmInstructionError)], rbx);
        h.Read(rax, E.GuestRflags);
        a.and(eax, ~0x8D5);
        a.or(eax, 0x40);
        h.WriteFrom(E.GuestRflags, rax);
        a.Label(ref _advance);
        h.Read(rax, E.GuestRip);
        h.Read(rbx, E.VmExitInstructionLength);
        a.add(rax, rbx);
        h.WriteFrom(E.GuestRip, rax);
        a.Label(ref _resumeL1);
        a.mov(rax, qword_ptr_abs(Gprs + 4 * 8));
        h.WriteFrom(E.GuestRsp, rax);
        a.mov(qword_ptr_abs(Level), 1);
        RestoreGprs();
        a.vmresume();
        a.jmp(h.VmFail);
    }

    // ------------------------------------------------------------------ exits of L1: VMX emulation

    private void EmitL1Exit()
    {
        var a = A;
        var h = _h;
        h.Read(rax, E.GuestRsp);
        a.mov(qword_ptr_abs(Gprs + 4 * 8), rax);
        h.Read(rbx, E.ExitReason);
        a.mov(eax, ebx);
        a.and(eax, 63);
        a.inc(__dword_ptr[rax * 4 + (long)L1Exits]);

        var handlers = new Dictionary<VmxExitReason, Label>();
        foreach (var r in new[] { VmxExitReason.Rdmsr, VmxExitReason.Cpuid, VmxExitReason.Vmxon, VmxExitReason.Vmclear, VmxExitReason.Vmptrld, VmxExitReason.Vmptrst,
                     VmxExitReason.Vmread, VmxExitReason.Vmwrite, VmxExitReason.Vmlaunch, VmxExitReason.Vmresume, VmxExitReason.Vmxoff })
        {
            handlers[r] = a.CreateLabel(r.ToString());
            a.cmp(ebx, (int)r);
            a.je(handlers[r]);
        }
        a.jmp(h.Unexpected);

        // Before VMXON, L1's other VMX instructions are #UD (SDM Vol. 3C, 30.3): L0 injects it.
        var notInVmx = a.CreateLabel("l1-ud");
        a.Label(ref notInVmx);
        h.Write(E.VmEntryInterruptionInformation, 0x8000_0306);
        a.jmp(_resumeL1);
        void RequireVmxOn()
        {
            a.cmp(qword_ptr_abs(L1Vmxon), 0);
            a.je(notInVmx);
        }
        void FailValid(VmInstructionError e)
        {
            a.mov(ebx, (int)e);
            a.jmp(_failValid);
        }
        void Label(VmxExitReason r)
        {
            var l = handlers[r];
            a.Label(ref l);
        }

        // RDMSR of a capability MSR the MSR bitmap intercepts: the hardware's value, less what L0 does not offer.
        {
            var filtered = a.CreateLabel();
            Label(VmxExitReason.Rdmsr);
            a.mov(rcx, qword_ptr_abs(Gprs + 8));
            foreach (uint msr in FilteredCapabilityMsrs)
            {
                a.cmp(ecx, (int)msr);
                a.je(filtered);
            }
            foreach (uint msr in HiddenCapabilityMsrs)
            {
                var next = a.CreateLabel();
                a.cmp(ecx, (int)msr);
                a.jne(next);
                h.Write(E.VmEntryInterruptionInformation, 0x8000_0B0D);   // #GP, hardware exception, error code delivered
                h.Write(E.VmEntryExceptionErrorCode, 0);
                h.Log(0x1A);
                a.jmp(_resumeL1);
                a.Label(ref next);
            }
            a.jmp(h.Unexpected);
            a.Label(ref filtered);
            a.rdmsr();
            a.and(edx, 0x7FFF_FFFF);                                  // allowed-1 bit 31 (MSR bit 63): activate secondary controls
            a.mov(qword_ptr_abs(Gprs), rax);
            a.mov(qword_ptr_abs(Gprs + 16), rdx);
            h.Log(0x19);
            a.jmp(_advance);
        }

        // CPUID: L0 runs it and gives L1 the answer (VMX stays offered: L1 may be a hypervisor).
        Label(VmxExitReason.Cpuid);
        a.mov(rax, qword_ptr_abs(Gprs));
        a.mov(rcx, qword_ptr_abs(Gprs + 8));
        a.cpuid();
        a.mov(qword_ptr_abs(Gprs), rax);
        a.mov(qword_ptr_abs(Gprs + 8), rcx);
        a.mov(qword_ptr_abs(Gprs + 16), rdx);
        a.mov(qword_ptr_abs(Gprs + 24), rbx);
        h.Log(0x17);
        a.jmp(_advance);

        // VMXON: the region must be aligned and carry the revision identifier (else VMfailInvalid); in VMX operation already: VMfail(15).
        {
            var fresh = a.CreateLabel();
            Label(VmxExitReason.Vmxon);
            a.cmp(qword_ptr_abs(L1Vmxon), 0);
            a.je(fresh);
            FailValid(VmInstructionError.VmxonInVmxRoot);
            a.Label(ref fresh);
            a.call(_operandAddr);
            a.mov(rax, __qword_ptr[rax]);
            a.test(eax, 0xFFF);
            a.jne(_failInvalid);
            a.mov(edx, __dword_ptr[rax]);
            a.mov(ecx, __dword_ptr[h.Data + 0x10]);
            a.and(ecx, 0x7FFF_FFFF);
            a.cmp(edx, ecx);
            a.jne(_failInvalid);
            a.mov(qword_ptr_abs(L1Vmxon), rax);
            a.mov(qword_ptr_abs(Vmcs12), -1);
            h.Log(0x10);
            a.jmp(_succeed);
        }

        // VMCLEAR: VMfail(2) unaligned, VMfail(3) the VMXON pointer; launch state := clear; the current VMCS12 stops being current.
        {
            var notCurrent = a.CreateLabel();
            Label(VmxExitReason.Vmclear);
            RequireVmxOn();
            a.call(_operandAddr);
            a.mov(r12, __qword_ptr[rax]);
            a.test(r12d, 0xFFF);
            var aligned = a.CreateLabel();
            a.je(aligned);
            FailValid(VmInstructionError.VmclearInvalidAddress);
            a.Label(ref aligned);
            a.cmp(r12, qword_ptr_abs(L1Vmxon));
            var notVmxon = a.CreateLabel();
            a.jne(notVmxon);
            FailValid(VmInstructionError.VmclearVmxonPointer);
            a.Label(ref notVmxon);
            a.cmp(r12, qword_ptr_abs(Vmcs12));
            a.jne(notCurrent);
            a.call(_syncFromShadow);
            a.mov(qword_ptr_abs(Vmcs12), -1);
            if (_shadowing) h.Write(E.VmcsLinkPointer, ulong.MaxValue);
            a.Label(ref notCurrent);
            a.mov(__byte_ptr[r12 + NestedFields.LaunchState], 0);
            h.Log(0x11);
            a.jmp(_succeed);
        }

        // VMPTRLD: VMfail(9) unaligned, VMfail(10) the VMXON pointer, VMfail(11) a wrong revision or a shadow VMCS (L0 offers L1 no shadowing).
        {
            Label(VmxExitReason.Vmptrld);
            RequireVmxOn();
            a.call(_operandAddr);
            a.mov(r12, __qword_ptr[rax]);
            var aligned = a.CreateLabel();
            var notVmxon = a.CreateLabel();
            var revOk = a.CreateLabel();
            a.test(r12d, 0xFFF);
            a.je(aligned);
            FailValid(VmInstructionError.VmptrldInvalidAddress);
            a.Label(ref aligned);
            a.cmp(r12, qword_ptr_abs(L1Vmxon));
            a.jne(notVmxon);
            FailValid(VmInstructionError.VmptrldVmxonPointer);
            a.Label(ref notVmxon);
            a.mov(edx, __dword_ptr[r12]);
            a.mov(ecx, __dword_ptr[h.Data + 0x10]);
            a.and(ecx, 0x7FFF_FFFF);
            a.cmp(edx, ecx);
            a.je(revOk);
            FailValid(VmInstructionError.VmptrldIncorrectRevisionId);
            a.Label(ref revOk);
            if (_shadowing)
            {
                // The old current VMCS12's shadowed fields go back to its store before the shadow VMCS takes the new one.
                var none = a.CreateLabel();
                a.cmp(qword_ptr_abs(Vmcs12), -1);
                a.je(none);
                a.call(_syncFromShadow);
                a.Label(ref none);
            }
            a.mov(qword_ptr_abs(Vmcs12), r12);
            if (_shadowing)
            {
                a.call(_syncToShadow);
                h.Write(E.VmcsLinkPointer, ShadowVmcs);
            }
            h.Log(0x12);
            a.jmp(_succeed);
        }

        // VMPTRST: store the current-VMCS pointer.
        Label(VmxExitReason.Vmptrst);
        RequireVmxOn();
        a.call(_operandAddr);
        a.mov(rdx, qword_ptr_abs(Vmcs12));
        a.mov(__qword_ptr[rax], rdx);
        a.jmp(_succeed);

        // VMREAD: from the store (VMfailInvalid without a current VMCS12); register or memory destination (instruction information bit 10).
        {
            var noHigh = a.CreateLabel();
            var mem = a.CreateLabel();
            Label(VmxExitReason.Vmread);
            RequireVmxOn();
            a.cmp(qword_ptr_abs(Vmcs12), -1);
            a.je(_failInvalid);
            h.Read(r12, E.VmExitInstructionInformation);
            a.mov(ecx, r12d);
            a.shr(ecx, 28);
            a.mov(rax, __qword_ptr[rcx * 8 + (long)Gprs]);
            a.call(_fieldSlot);
            a.mov(rdi, qword_ptr_abs(Vmcs12));
            a.mov(rax, __qword_ptr[rdi + rdx]);
            a.test(r13d, r13d);
            a.je(noHigh);
            a.shr(rax, 32);
            a.Label(ref noHigh);
            a.bt(r12d, 10);
            a.jae(mem);
            a.mov(ecx, r12d);
            a.shr(ecx, 3);
            a.and(ecx, 15);
            a.mov(__qword_ptr[rcx * 8 + (long)Gprs], rax);
            a.jmp(_succeed);
            a.Label(ref mem);
            a.mov(r14, rax);
            a.call(_operandAddr);
            a.mov(__qword_ptr[rax], r14);
            a.jmp(_succeed);
        }

        // VMWRITE: the source (register or memory) is read first, then the encoding checked; the value is truncated to the field's width.
        {
            var got = a.CreateLabel();
            var high = a.CreateLabel();
            var not16 = a.CreateLabel();
            var store = a.CreateLabel();
            Label(VmxExitReason.Vmwrite);
            RequireVmxOn();
            a.cmp(qword_ptr_abs(Vmcs12), -1);
            a.je(_failInvalid);
            h.Read(r12, E.VmExitInstructionInformation);
            var memSrc = a.CreateLabel();
            a.bt(r12d, 10);
            a.jae(memSrc);
            a.mov(ecx, r12d);
            a.shr(ecx, 3);
            a.and(ecx, 15);
            a.mov(r14, __qword_ptr[rcx * 8 + (long)Gprs]);
            a.jmp(got);
            a.Label(ref memSrc);
            a.call(_operandAddr);
            a.mov(r14, __qword_ptr[rax]);
            a.Label(ref got);
            a.mov(ecx, r12d);
            a.shr(ecx, 28);
            a.mov(rax, __qword_ptr[rcx * 8 + (long)Gprs]);
            a.call(_fieldSlot);
            a.mov(rdi, qword_ptr_abs(Vmcs12));
            a.test(r13d, r13d);
            a.jne(high);
            a.mov(ecx, eax);
            a.shr(ecx, 13);
            a.and(ecx, 3);
            a.jne(not16);
            a.movzx(r14d, r14w);
            a.jmp(store);
            a.Label(ref not16);
            a.cmp(ecx, 2);
            a.jne(store);
            a.mov(r14d, r14d);
            a.Label(ref store);
            a.mov(__qword_ptr[rdi + rdx], r14);
            a.jmp(_succeed);
            a.Label(ref high);
            a.mov(__dword_ptr[rdi + rdx + 4], r14d);
            a.jmp(_succeed);
        }

        // VMLAUNCH / VMRESUME: build VMCS02 and enter L2.
        foreach (bool launch in new[] { true, false })
        {
            Label(launch ? VmxExitReason.Vmlaunch : VmxExitReason.Vmresume);
            RequireVmxOn();
            a.cmp(qword_ptr_abs(Vmcs12), -1);
            a.je(_failInvalid);
            a.call(_syncFromShadow);
            a.mov(rdi, qword_ptr_abs(Vmcs12));
            a.movzx(eax, __byte_ptr[rdi + NestedFields.LaunchState]);
            a.cmp(eax, launch ? 0 : 1);
            var stateOk = a.CreateLabel();
            a.je(stateOk);
            FailValid(launch ? VmInstructionError.VmlaunchNonClearVmcs : VmInstructionError.VmresumeNonLaunchedVmcs);
            a.Label(ref stateOk);
            EmitEnterL2(launch);
        }

        // VMXOFF: L1 leaves VMX operation.
        Label(VmxExitReason.Vmxoff);
        RequireVmxOn();
        a.call(_syncFromShadow);
        a.mov(qword_ptr_abs(L1Vmxon), 0);
        a.mov(qword_ptr_abs(Vmcs12), -1);
        if (_shadowing) h.Write(E.VmcsLinkPointer, ulong.MaxValue);
        h.Log(0x16);
        a.jmp(_succeed);
    }

    /// <summary>
    /// L1's VMLAUNCH/VMRESUME after its checks passed: L0's own acceptance checks, then VMCS02 := VMCS12's guest
    /// state and controls (merged with L0's) on L0's host state, and VMLAUNCH/VMRESUME of VMCS02. A VMfail of
    /// VMCS02 becomes L1's VMfail; a VM-entry failure of VMCS02 comes back as an exit and is reflected.
    /// </summary>
    private void EmitEnterL2(bool launch)
    {
        var a = A;
        var h = _h;
        var ok = a.CreateLabel();
        var reject = a.CreateLabel();
        // L0 accepts what it can emulate: no secondary controls (it offers L1 no EPT, shadowing...), a 64-bit L1 host, and no
        // host-state loads it does not emulate on a reflected exit. Anything else: VMfailValid 7 (invalid control field).
        a.mov(eax, __dword_ptr[rdi + Off(E.PrimaryProcBasedVmExecControls)]);
        a.test(eax, unchecked((int)PrimaryProcessorBasedControls.ActivateSecondaryControls));
        a.jne(reject);
        a.mov(eax, __dword_ptr[rdi + Off(E.VmExitControls)]);
        a.test(eax, unchecked((int)UnemulatedExit));
        a.jne(reject);
        a.test(eax, (int)ExitControls.HostAddressSpaceSize);
        a.jne(ok);
        a.Label(ref reject);
        a.mov(ebx, (int)VmInstructionError.EntryInvalidControlFields);
        a.jmp(_failValid);
        a.Label(ref ok);

        if (launch)
        {
            a.vmclear(qword_ptr_abs(Vmcs02Ptr));
            a.jbe(h.VmFail);
        }
        a.vmptrld(qword_ptr_abs(Vmcs02Ptr));
        a.jbe(h.VmFail);
        a.mov(esi, (uint)_tables["guest"]);
        a.call(_copyTo);
        a.mov(esi, (uint)_tables["controls"]);
        a.call(_copyTo);
        // The merge: L1's controls plus what L0 needs for itself; VMCS02's exits return to L0 on a 64-bit host.
        a.mov(eax, __dword_ptr[rdi + Off(E.PinBasedVmExecControls)]);
        if (OwnPin != 0) a.or(eax, (int)OwnPin);
        h.WriteFrom(E.PinBasedVmExecControls, rax);
        a.mov(eax, __dword_ptr[rdi + Off(E.PrimaryProcBasedVmExecControls)]);
        if (OwnProc != 0) a.or(eax, (int)OwnProc);
        h.WriteFrom(E.PrimaryProcBasedVmExecControls, rax);
        a.mov(eax, __dword_ptr[rdi + Off(E.VmExitControls)]);
        a.or(eax, (int)ExitControls.HostAddressSpaceSize);
        h.WriteFrom(E.VmExitControls, rax);
        a.mov(eax, __dword_ptr[rdi + Off(E.VmEntryControls)]);
        h.WriteFrom(E.VmEntryControls, rax);
        h.Log((byte)(launch ? 0x13 : 0x14));
        a.mov(qword_ptr_abs(Level), 2);
        RestoreGprs();
        if (launch) a.vmlaunch();
        else a.vmresume();
        // VMCS02 was not entered: L1's VMLAUNCH/VMRESUME fails the same way.
        var invalid = a.CreateLabel();
        a.mov(qword_ptr_abs(Level), 1);
        a.jb(invalid);
        h.Read(rbx, E.VmInstructionError);
        a.vmptrld(qword_ptr_abs(Vmcs01Ptr));
        a.jbe(h.VmFail);
        h.Log(0x18);
        a.jmp(_failValid);
        a.Label(ref invalid);
        a.vmptrld(qword_ptr_abs(Vmcs01Ptr));
        a.jbe(h.VmFail);
        a.jmp(_failInvalid);
    }

    // ------------------------------------------------------------------ exits of L2: reflection

    private void EmitL2Exit()
    {
        var a = A;
        var h = _h;
        var failure = a.CreateLabel("entry-failure");
        var wanted = a.CreateLabel("l1-wants-it");
        var notWanted = a.CreateLabel("not-l1s");
        h.Read(rbx, E.ExitReason);
        a.mov(qword_ptr_abs(LastReason), rbx);
        a.mov(eax, ebx);
        a.and(eax, 63);
        a.inc(__dword_ptr[rax * 4 + (long)L2Exits]);
        a.mov(rdi, qword_ptr_abs(Vmcs12));
        a.test(ebx, ebx);
        a.js(failure);
        a.mov(__byte_ptr[rdi + NestedFields.LaunchState], 1);    // VMCS02 was entered: VMCS12 is launched

        // Does L1 want this exit? Per VMCS12's controls (SDM Vol. 3C, 25.1-25.2): the event and window exits by their
        // controls, an exception by the exception bitmap, HLT/RDTSC by theirs; the rest are unconditional or L1's alone.
        EmitWantsL1(wanted, notWanted);
        a.Label(ref notWanted);
        h.Log(0xE4);
        a.jmp(h.Unexpected);

        a.Label(ref wanted);
        a.mov(esi, (uint)_tables["guest"]);
        a.call(_copyFrom);
        a.Label(ref failure);
        a.mov(esi, (uint)_tables["exit-info"]);
        a.call(_copyFrom);
        // The controls an exit itself changes (SDM 27.2.3, 27.3.1): the entry interruption information (valid bit cleared)
        // and the "IA-32e mode guest" entry control (:= guest EFER.LMA).
        foreach (uint f in new[] { E.VmEntryInterruptionInformation, E.VmEntryControls })
        {
            h.Read(rax, f);
            a.mov(__qword_ptr[rdi + Off(f)], rax);
        }
        a.vmptrld(qword_ptr_abs(Vmcs01Ptr));
        a.jbe(h.VmFail);
        EmitLoadL1Host();
        a.call(_syncToShadow);
        a.inc(__dword_ptr[Reflected]);
        h.Log(0x15);
        a.mov(qword_ptr_abs(Level), 1);
        RestoreGprs();
        a.vmresume();
        a.jmp(h.VmFail);
    }

    private void EmitWantsL1(Label wanted, Label notWanted)
    {
        var a = A;
        var h = _h;
        // EBX = basic reason (bit 31 clear), RDI = VMCS12 store.
        void IfBit(VmxExitReason r, uint field, int bit)
        {
            var skip = a.CreateLabel();
            a.cmp(ebx, (int)r);
            a.jne(skip);
            a.bt(__dword_ptr[rdi + Off(field)], (byte)bit);
            a.jb(wanted);
            a.jmp(notWanted);
            a.Label(ref skip);
        }
        // Reason 0: an NMI is L1's if it set NMI exiting; an exception if its bitmap bit is set; a #PF exit always is (VMCS02 has
        // L1's bitmap and error-code mask/match, which may make a #PF exit with bit 14 clear, SDM 25.2).
        var notZero = a.CreateLabel();
        a.test(ebx, ebx);
        a.jne(notZero);
        h.Read(rax, E.VmExitInterruptionInformation);
        a.mov(ecx, eax);
        a.shr(ecx, 8);
        a.and(ecx, 7);
        a.cmp(ecx, 2);
        var exception = a.CreateLabel();
        a.jne(exception);
        a.bt(__dword_ptr[rdi + Off(E.PinBasedVmExecControls)], 3);
        a.jb(wanted);
        a.jmp(notWanted);
        a.Label(ref exception);
        a.and(eax, 31);
        a.bt(__dword_ptr[rdi + Off(E.ExceptionBitmap)], eax);
        a.jb(wanted);
        a.cmp(eax, 14);
        a.je(wanted);
        a.jmp(notWanted);
        a.Label(ref notZero);
        IfBit(VmxExitReason.ExternalInterrupt, E.PinBasedVmExecControls, 0);
        IfBit(VmxExitReason.InterruptWindow, E.PrimaryProcBasedVmExecControls, 2);
        IfBit(VmxExitReason.NmiWindow, E.PrimaryProcBasedVmExecControls, 22);
        IfBit(VmxExitReason.Hlt, E.PrimaryProcBasedVmExecControls, 7);
        IfBit(VmxExitReason.Rdtsc, E.PrimaryProcBasedVmExecControls, 12);
        IfBit(VmxExitReason.PreemptionTimerExpired, E.PinBasedVmExecControls, 6);
        a.jmp(wanted);
    }

    /// <summary>
    /// Loads VMCS12's host state into VMCS01's guest state, as a VM exit loads host state (SDM Vol. 3C, 27.5; VMX.md 11.4):
    /// control registers, RSP, RIP, selectors, bases; fixed attributes for CS (64-bit code), SS/DS/ES/FS/GS (flat data, or
    /// unusable when the selector is 0), TR (busy 64-bit TSS), LDTR (unusable); GDTR/IDTR limits FFFFh; RFLAGS 2; DR7 400h;
    /// activity active; no STI/MOV-SS blocking; NMI blocking kept, and set when the exit was an NMI (27.5.5).
    /// </summary>
    private void EmitLoadL1Host()
    {
        var a = A;
        var h = _h;
        foreach (var (host, guest) in new[]
                 {
                     (E.HostCr0, E.GuestCr0), (E.HostCr3, E.GuestCr3), (E.HostCr4, E.GuestCr4), (E.HostRsp, E.GuestRsp), (E.HostRip, E.GuestRip),
                     (E.HostCsSelector, E.GuestCsSelector), (E.HostTrSelector, E.GuestTrSelector),
                     (E.HostFsBase, E.GuestFsBase), (E.HostGsBase, E.GuestGsBase), (E.HostTrBase, E.GuestTrBase),
                     (E.HostGdtrBase, E.GuestGdtrBase), (E.HostIdtrBase, E.GuestIdtrBase),
                     (E.HostSysenterCs, E.GuestSysenterCs), (E.HostSysenterEsp, E.GuestSysenterEsp), (E.HostSysenterEip, E.GuestSysenterEip),
                 })
        {
            a.mov(rax, __qword_ptr[rdi + Off(host)]);
            h.WriteFrom(guest, rax);
        }
        h.Write(E.GuestCsBase, 0);
        h.Write(E.GuestCsLimit, 0xFFFF_FFFF);
        h.Write(E.GuestCsAccessRights, 0xA09B);
        foreach (var (hostSel, sel, b, lim, ar) in new[]
                 {
                     (E.HostSsSelector, E.GuestSsSelector, E.GuestSsBase, E.GuestSsLimit, E.GuestSsAccessRights),
                     (E.HostDsSelector, E.GuestDsSelector, E.GuestDsBase, E.GuestDsLimit, E.GuestDsAccessRights),
                     (E.HostEsSelector, E.GuestEsSelector, E.GuestEsBase, E.GuestEsLimit, E.GuestEsAccessRights),
                     (E.HostFsSelector, E.GuestFsSelector, 0u, E.GuestFsLimit, E.GuestFsAccessRights),
                     (E.HostGsSelector, E.GuestGsSelector, 0u, E.GuestGsLimit, E.GuestGsAccessRights),
                 })
        {
            var usable = a.CreateLabel();
            a.mov(rax, __qword_ptr[rdi + Off(hostSel)]);
            h.WriteFrom(sel, rax);
            a.mov(edx, 0xC093);
            a.test(eax, eax);
            a.jne(usable);
            a.mov(edx, 0x1_0000);
            a.Label(ref usable);
            h.WriteFrom(ar, rdx);
            if (b != 0) h.Write(b, 0);
            h.Write(lim, 0xFFFF_FFFF);
        }
        h.Write(E.GuestTrLimit, 0x67);
        h.Write(E.GuestTrAccessRights, 0x8B);
        h.Write(E.GuestLdtrSelector, 0);
        h.Write(E.GuestLdtrAccessRights, 0x1_0000);
        h.Write(E.GuestGdtrLimit, 0xFFFF);
        h.Write(E.GuestIdtrLimit, 0xFFFF);
        h.Write(E.GuestRflags, 2);
        h.Write(E.GuestDr7, 0x400);
        h.Write(E.GuestActivityState, 0);
        h.Write(E.GuestPendingDebugExceptions, 0);
        // Interruptibility: only NMI blocking survives an exit; an exit caused by an NMI sets it.
        var notNmi = a.CreateLabel();
        h.Read(rax, E.GuestInterruptibilityState);
        a.and(eax, 8);
        a.mov(rdx, qword_ptr_abs(LastReason));
        a.test(edx, edx);
        a.jne(notNmi);
        a.mov(ecx, __dword_ptr[rdi + Off(E.VmExitInterruptionInformation)]);
        a.shr(ecx, 8);
        a.and(ecx, 7);
        a.cmp(ecx, 2);
        a.jne(notNmi);
        a.or(eax, 8);
        a.Label(ref notNmi);
        h.WriteFrom(E.GuestInterruptibilityState, rax);
    }
}
