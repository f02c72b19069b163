using Vtx.Decoding;

namespace Vtx;

public sealed partial class Cpu
{
    // Debug exceptions outside VMX non-root specifics (SDM Vol. 3A, chapter 18): DR0-DR3 breakpoints
    // enabled by DR7, general detect, IA32_DEBUGCTL.BTF, and IA32_MISC_ENABLE. Root and non-root
    // share the pending-debug model (_pendingDbg, _dbTrapPending) with Vmx/Cpu.NonRootEvents.cs.
    //
    // Cost: nothing is checked while DR7 enables no breakpoint. With one enabled, _bpArmed stops
    // sequential runs (each instruction is a step, checked for an instruction breakpoint at the
    // boundary), and with a data breakpoint enabled the TLB key carries TlbSlowKey, which no entry
    // is ever filled with, so every access takes the slow path where the breakpoints are matched.

    private bool _bpArmed;        // DR7 enables some DR0-DR3 breakpoint (any type)
    private bool _dataBpArmed;    // ... a data breakpoint (R/W = 01b or 11b)
    private bool _ioBpArmed;      // ... an I/O breakpoint (R/W = 10b with CR4.DE = 1)
    private ulong _bpMatched;     // B0-B3 of the breakpoints the current instruction's accesses matched (enabled or not)
    private bool _bpHit;          // one of them is enabled: a #DB trap follows the instruction
    private ulong _repBpRip = ulong.MaxValue, _repBpRetired; // a REP instruction that yielded between iterations
    private ulong _stepFrom;      // RIP at the start of the current step (IA32_DEBUGCTL.BTF)
    private ulong _miscEnable = MiscFastStrings | MiscBtsUnavailable | MiscPebsUnavailable;

    /// <summary>TLB key bit no entry is filled with (one of <see cref="TlbSlowKeys"/>): set while data breakpoints are armed, every access misses the fast path.</summary>
    private const ulong TlbBreakpointKey = 1UL << 61;

    private const ulong DebugCtlBtf = 2; // IA32_DEBUGCTL itself (_debugCtl) lives in Cpu.DebugCtl.cs
    private const ulong MiscFastStrings = 1, MiscBtsUnavailable = 1UL << 11, MiscPebsUnavailable = 1UL << 12,
        MiscXtprDisable = 1UL << 23, MiscXdDisable = 1UL << 34;

    /// <summary>
    /// IA32_MISC_ENABLE (MSR 1A0h; SDM Vol. 4, Table 2-2): fast strings (bit 0, R/W, reset 1), BTS and
    /// PEBS unavailable (bits 11-12, read-only 1), xTPR message disable (bit 23, R/W) and XD bit
    /// disable (bit 34, R/W: when 1, CPUID.80000001h:EDX.NX reads 0 and EFER.NXE cannot be set).
    /// Enhanced SpeedStep (bit 16) and the others read 0.
    /// </summary>
    public ulong MiscEnable => _miscEnable;

    /// <summary>True when IA32_MISC_ENABLE.XD disable hides NX (SDM Vol. 4, Table 2-2, bit 34).</summary>
    private bool XdDisabled => (_miscEnable & MiscXdDisable) != 0;

    /// <summary>
    /// Re-derives the armed flags from DR7 and CR4.DE after either changed (MOV DR, mode changes,
    /// VMX transitions, host writes), then the TLB key.
    /// </summary>
    private void DebugRegistersChanged()
    {
        ulong dr7 = _dr[7];
        bool any = false, data = false, io = false;
        for (int i = 0; i < 4; i++)
        {
            if (((dr7 >> (i * 2)) & 3) == 0) continue;
            any = true;
            ulong rw = (dr7 >> (16 + i * 4)) & 3;
            if (rw is 1 or 3) data = true;
            else if (rw == 2 && (_cr4 & Cr4.DE) != 0) io = true;
        }
        _bpArmed = any;
        _dataBpArmed = data;
        _ioBpArmed = io;
        UpdateTlbKey();
    }

    /// <summary>
    /// Bytes covered by breakpoint <paramref name="i"/>: LEN 00b = 1, 01b = 2, 11b = 4, 10b = 8; the
    /// address is masked down to that alignment (SDM Vol. 3A, 18.2.5).
    /// </summary>
    private ulong BreakpointRange(int i, out ulong start)
    {
        ulong len = ((_dr[7] >> (18 + i * 4)) & 3) switch { 0 => 1, 1 => 2, 2 => 8, _ => 4 };
        start = _dr[i] & ~(len - 1);
        return len;
    }

    /// <summary>
    /// Matches a data access against DR0-DR3 (SDM Vol. 3A, 18.2.4-18.2.5): R/W = 01b on writes,
    /// 11b on reads and writes; any byte of the access inside the breakpoint's range. Called from
    /// the memory slow paths only, while data breakpoints are armed.
    /// </summary>
    private void DataBreakpointCheck(ulong lin, int size, bool write)
    {
        ulong dr7 = _dr[7];
        for (int i = 0; i < 4; i++)
        {
            ulong rw = (dr7 >> (16 + i * 4)) & 3;
            if (rw == 0 || rw == 2 || (rw == 1 && !write)) continue;
            ulong len = BreakpointRange(i, out ulong start);
            if (lin - start < len || start - lin < (ulong)size) Matched(i);
        }
    }

    /// <summary>Matches a port access against the I/O breakpoints (R/W = 10b, CR4.DE = 1; SDM Vol. 3A, 18.2.4).</summary>
    private void IoBreakpointCheck(ushort port, int size)
    {
        ulong dr7 = _dr[7];
        for (int i = 0; i < 4; i++)
        {
            if (((dr7 >> (16 + i * 4)) & 3) != 2) continue;
            ulong len = BreakpointRange(i, out ulong start);
            start &= 0xFFFF;
            if ((ulong)port - start < len || start - port < (ulong)size) Matched(i);
        }
    }

    /// <summary>Breakpoint i's condition was met: B_i is reported; a trap follows if DR7 enables it (SDM Vol. 3A, 18.2.3).</summary>
    private void Matched(int i)
    {
        _bpMatched |= 1UL << i;
        if (((_dr[7] >> (i * 2)) & 3) != 0) _bpHit = true;
    }

    /// <summary>
    /// Instruction breakpoints (R/W = 00b; SDM Vol. 3A, 18.3.1.1): a fault before the instruction
    /// at the breakpoint's linear address executes, unless RFLAGS.RF = 1 or a REP instruction is
    /// resuming between iterations. DR6 reports every execute breakpoint that matched. Returns true
    /// when the fault was recorded.
    /// </summary>
    private bool InstructionBreakpoint()
    {
        if (_rip == _repBpRip && _retired == _repBpRetired) return false;
        ulong lin = (_rip + _csBase) & _linMask, dr7 = _dr[7], matched = 0;
        bool enabled = false;
        for (int i = 0; i < 4; i++)
        {
            if (((dr7 >> (16 + i * 4)) & 3) != 0 || (_dr[i] & _linMask) != lin) continue;
            matched |= 1UL << i;
            if (((dr7 >> (i * 2)) & 3) != 0) enabled = true;
        }
        if (!enabled) return false;
        DebugFault(matched);
        return true;
    }

    /// <summary>
    /// A fault-class #DB (instruction breakpoint, general detect). In VMX non-root operation with #DB
    /// in the exception bitmap the VM exit reports the bits in its exit qualification and DR6/DR7
    /// stay unchanged (SDM Vol. 3C, 27.1, 27.2.1); otherwise DR6/DR7 are updated for the delivery.
    /// </summary>
    private void DebugFault(ulong bits)
    {
        if (_nonRoot && ExceptionExits(1, 0)) _pendingDbg = bits;
        else DebugException(bits);
        Fault(ExceptionVector.DB);
    }

    /// <summary>
    /// DR6/DR7 at the delivery of a #DB (SDM Vol. 3A, 18.2.3-18.2.4): B0-B3 are replaced by this
    /// exception's, BD/BS/BT accumulate (software clears them); DR7.GD is cleared so the handler
    /// may use the debug registers. IA32_DEBUGCTL.BTF is cleared: "The processor clears the BTF
    /// flag when it generates a debug exception" (SDM Vol. 3B, 18.4.3). DR6.BT (bit 15, a task switch
    /// to a TSS with T = 1) is never set: hardware task switches are not modelled (root operation
    /// raises #GP for a TSS or task-gate target; in VMX non-root operation a task switch is a VM exit
    /// and the VMM emulates it, T bit included).
    /// </summary>
    private void DebugException(ulong bits)
    {
        _debugCtl &= ~DebugCtlBtf;
        _dr[6] = (_dr[6] & ~0xFUL) | (bits & 0x0001_E00FUL);
        if ((_dr[7] & 0x2000) != 0) { _dr[7] &= ~0x2000UL; DebugRegistersChanged(); }
    }

    /// <summary>
    /// After an instruction retired with TF or a breakpoint armed: the data/I/O breakpoint trap
    /// (B0-B3) and the single-step trap (BS) become one pending #DB (SDM Vol. 3A, 18.3.1.2, 18.3.1.4).
    /// </summary>
    private void DebugStepRetired(ref DecodedInstruction d, bool singleStep)
    {
        if (!_dbTrapPending) _pendingDbg = 0; // bits left by a #DB VM exit's qualification are not pending
        if (_bpHit)
        {
            _pendingDbg |= _bpMatched;
            _dbTrapPending = true;
        }
        else if (singleStep) _pendingDbg |= _bpMatched; // matched, not enabled: reported with the single step
        _bpHit = false;
        _bpMatched = 0;
        if (singleStep) SingleStepTrap(ref d);
    }

    /// <summary>The instruction faulted: the breakpoints its accesses matched report nothing (it did not complete).</summary>
    private void ForgetBreakpointMatches()
    {
        _bpHit = false;
        _bpMatched = 0;
    }

    /// <summary>
    /// BTF (IA32_DEBUGCTL bit 1; SDM Vol. 3B, 18.4.1, 18.4.3): with TF the trap comes only after a taken
    /// branch, call, return, software interrupt or far transfer. A conditional branch is taken when
    /// it did not fall through. Interrupts and exceptions also end a "branch step": their delivery is a
    /// control transfer that clears TF on entry to the handler (64-bit, interrupt and trap gates), so no
    /// single-step #DB follows the delivery itself and BTF stays set; the pushed RFLAGS.TF = 1 resumes
    /// branch stepping after the handler's IRET. An instruction that faults reports no single step.
    /// </summary>
    private bool BranchTaken(ref DecodedInstruction d) => d.Op switch
    {
        Op.Jcc or Op.Jrcxz or Op.Loop or Op.Loope or Op.Loopne => _rip != ((_stepFrom + d.Length) & _ipMask),
        Op.Jmp or Op.JmpIndirect or Op.Call or Op.CallIndirect or Op.Ret or Op.CallRel64 or Op.Ret64
            or Op.JmpFar or Op.CallFar or Op.JmpFarIndirect or Op.CallFarIndirect or Op.RetFar or Op.Iret
            or Op.Int or Op.Int3 or Op.Into or Op.Int1 or Op.Syscall or Op.Sysret or Op.Sysenter or Op.Sysexit => true,
        _ => false,
    };

    /// <summary>
    /// MOV DR general detect (SDM Vol. 3A, 18.2.4): with DR7.GD = 1 any MOV to or from a debug
    /// register raises #DB before executing, with DR6.BD = 1 (GD cleared on delivery).
    /// </summary>
    private bool GeneralDetect()
    {
        if ((_dr[7] & 0x2000) == 0) return false;
        DebugFault(0x2000);
        return true;
    }

    /// <summary>RDMSR of IA32_MISC_ENABLE (IA32_DEBUGCTL is read in the MSR switch).</summary>
    private bool TryReadDebugMsr(uint index, out ulong v)
    {
        v = _miscEnable;
        return index == Msr.MiscEnable;
    }

    /// <summary>
    /// WRMSR of IA32_MISC_ENABLE (read-only bits must keep their value, reserved bits 0; XD disable
    /// refused while EFER.NXE = 1). Returns null for other MSRs (IA32_DEBUGCTL is written in the MSR switch).
    /// </summary>
    private bool? TryWriteDebugMsr(uint index, ulong v)
    {
        switch (index)
        {
            case Msr.MiscEnable:
            {
                ulong writable = MiscFastStrings | MiscXtprDisable | MiscXdDisable;
                const ulong fixedBits = MiscBtsUnavailable | MiscPebsUnavailable;
                if ((v & ~(writable | fixedBits)) != (_miscEnable & ~(writable | fixedBits)) || (v & fixedBits) != fixedBits) return false;
                // XD disable with EFER.NXE = 1 would leave NXE set on a processor without NX.
                if ((v & MiscXdDisable) != 0 && (_efer & Efer.NXE) != 0) return false;
                _miscEnable = v;
                return true;
            }
            default: return null;
        }
    }
}
