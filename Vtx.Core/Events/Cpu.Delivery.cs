using Vtx.Execution;

namespace Vtx;

/// <summary>How an event reaches the processor; the values are the VMX interruption types (SDM Vol. 3C, 24.8.3).</summary>
public enum EventKind : byte
{
    /// <summary>External (maskable) interrupt.</summary>
    ExternalInterrupt = 0,
    /// <summary>Non-maskable interrupt.</summary>
    Nmi = 2,
    /// <summary>Hardware exception (faults, traps and aborts raised by instructions).</summary>
    HardwareException = 3,
    /// <summary>Software interrupt (INT n).</summary>
    SoftwareInterrupt = 4,
    /// <summary>Privileged software exception (INT1).</summary>
    PrivilegedSoftwareException = 5,
    /// <summary>Software exception (INT3, INTO).</summary>
    SoftwareException = 6,
}

public sealed partial class Cpu
{
    // Event delivery through the IVT (real mode) or the IDT (protected and IA-32e mode), with the
    // double-fault rules (SDM Vol. 3A, 6.4-6.15, 20.1.4) and triple-fault shutdown.

    private bool _shutdown;

    /// <summary>Vectors that stop the run (reported as <see cref="StopReason.Exception"/>) instead of being delivered, one bit per vector 0-31.</summary>
    public uint InterceptedExceptions { get; set; }

    /// <summary>True when the host intercepts exception <paramref name="vector"/> (it stops the run instead of being delivered).</summary>
    private bool IsIntercepted(int vector) => vector < 32 && (InterceptedExceptions & (1u << vector)) != 0;

    /// <summary>True after a triple fault: the processor is in the shutdown state until <see cref="Reset"/>.</summary>
    public bool IsShutdown => _shutdown;

    private static bool IsContributory(int v) => v is 0 or 10 or 11 or 12 or 13;

    /// <summary>The page-fault class of Table 6-5 (SDM Vol. 3A, 6.15): #PF and the virtualization exception #VE.</summary>
    private static bool IsPageFaultClass(int v) => v is 14 or 20;

    /// <summary>Faults push RF = 1 so the handler's IRET does not re-trigger instruction breakpoints (SDM Vol. 3A, 18.3.1.1); #DB, #BP and #OF do not.</summary>
    private bool FaultSetsRf(int vector, EventKind kind, ulong returnRip) =>
        kind == EventKind.HardwareException && vector is not (1 or 3 or 4) && returnRip == _rip;

    private static bool HasErrorCode(int v) => v is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21;

    /// <summary>Raised by a host hook: invoked after every event delivered (vector, kind, error code), when set.</summary>
    public Action<byte, EventKind, uint?>? EventDelivered { get; set; }

    /// <summary>
    /// Delivers an event, applying the double-fault rules when delivery itself faults: a
    /// contributory exception or #PF during a contributory/#PF delivery becomes #DF; a fault while
    /// delivering #DF is a triple fault (shutdown). Returns false when the processor shut down.
    /// </summary>
    /// <remarks>
    /// In VMX non-root operation each exception (hardware, INT1, INT3, INTO) is first checked
    /// against the exception bitmap — before the double-fault rules — and may cause a VM exit; an
    /// exit while an outer event was being delivered records that event as IDT-vectoring
    /// information; a triple fault is VM exit 2 (SDM Vol. 3C, 25.2, 27.2.3). An event injected by
    /// VM entry (<paramref name="injected"/>) is not subject to the bitmap.
    /// </remarks>
    private bool DeliverEvent(byte vector, EventKind kind, uint error, bool hasError, ulong returnRip, bool injected = false)
    {
        int current = vector;
        bool benignFirst = kind != EventKind.HardwareException;
        _vectoringInfo = 0;
        for (int depth = 0; depth < 4; depth++)
        {
            _signal &= ~SignalFault;
            if (_nonRoot && !(depth == 0 && injected) && kind is EventKind.HardwareException or EventKind.SoftwareException or EventKind.PrivilegedSoftwareException
                && ExceptionExits(current, error))
            {
                ExitForException(current, kind, error, hasError, returnRip);
                return true;
            }
            if (_nonRoot) _vectoringInfo = InterruptionInfo(current, kind, hasError && (_cr0 & Cr0.PE) != 0);
            _vectoringError = error;
            if (DeliverOnce((byte)current, kind, error, hasError, returnRip))
            {
                _vectoringInfo = 0;
                EventDelivered?.Invoke((byte)current, kind, hasError ? error : null);
                return true;
            }
            int second = _faultVector;
            uint secondError = _faultError;
            bool secondHasError = _faultHasError;
            _signal &= ~SignalFault;
            if (second == EptExitVector)
            {
                // An EPT violation while delivering: the exit records the event as IDT-vectoring information.
                TakeEptExit();
                return true;
            }
            if (second == ApicAccessExitVector)
            {
                // An APIC-access exit while delivering (type 3 qualification, IDT-vectoring information).
                TakeApicAccessExit();
                return true;
            }
            if (current == 8 && kind == EventKind.HardwareException && (IsContributory(second) || IsPageFaultClass(second) || second == 8))
                return TripleFault();
            bool toDouble = !benignFirst && kind == EventKind.HardwareException
                            && ((IsContributory(current) && IsContributory(second)) || (IsPageFaultClass(current) && (IsPageFaultClass(second) || IsContributory(second))));
            if (toDouble)
            {
                // The nested exception may itself exit (the bitmap is consulted before #DF forms).
                if (_nonRoot && ExceptionExits(second, secondError))
                {
                    ExitForException(second, EventKind.HardwareException, secondError, secondHasError, _rip);
                    return true;
                }
                current = 8;
                error = 0;
                hasError = true;
                _vectoringInfo = 0; // a #DF that exits records no IDT-vectoring information
            }
            else
            {
                current = second;
                error = secondError;
                hasError = secondHasError;
            }
            kind = EventKind.HardwareException;
            benignFirst = false;
            // A fault during delivery is a fault of the instruction at RIP: for INT n/INT3/INTO/INT1 the
            // frame points at that instruction, not after it (SDM Vol. 3A, 6.5 "Faults").
            returnRip = _rip;
        }
        return TripleFault();
    }

    /// <summary>A triple fault: shutdown in root operation (returns false), VM exit 2 in non-root operation (SDM Vol. 3C, 25.2).</summary>
    private bool TripleFault()
    {
        _vectoringInfo = 0;
        if (!_nonRoot)
        {
            _shutdown = true;
            return false;
        }
        VmExit(Vmx.VmxExitReason.TripleFault);
        return true;
    }

    /// <summary>One delivery attempt; on failure a fault is recorded (no state committed).</summary>
    private bool DeliverOnce(byte vector, EventKind kind, uint error, bool hasError, ulong returnRip)
    {
        // EXT is set for events external to the program, INT1 included (SDM Vol. 2A, INT n: "IF instruction = INT1 THEN EXT := 1").
        bool ext = kind is EventKind.ExternalInterrupt or EventKind.Nmi or EventKind.HardwareException or EventKind.PrivilegedSoftwareException;
        bool software = kind is EventKind.SoftwareInterrupt or EventKind.SoftwareException;
        ulong flags = ReadRflags();
        if (FaultSetsRf(vector, kind, returnRip)) flags |= (ulong)RFlags.RF;

        if ((_cr0 & Cr0.PE) == 0) return DeliverReal(vector, flags, returnRip);
        return (_efer & Efer.LMA) != 0
            ? DeliverLong(vector, ext, software, error, hasError, flags, returnRip)
            : DeliverProtected(vector, ext, software, error, hasError, flags, returnRip);
    }

    /// <summary>Real-address mode: the IVT entry CS:IP; push FLAGS, CS, IP; clear IF, TF, AC, RF (SDM Vol. 3A, 20.1.4).</summary>
    private bool DeliverReal(byte vector, ulong flags, ulong returnRip)
    {
        uint entry = (uint)vector * 4;
        if (entry + 3 > _idtr.Limit) return FaultGp0();
        if (!Read((_idtr.Base + entry) & _linMask, 4, out ulong ivt)) return false;
        ulong sp = Sp();
        ulong ss = _segBase[2];
        if (!Write((ss + ((sp - 2) & 0xFFFF)) & _linMask, 2, flags, true)
            || !Write((ss + ((sp - 4) & 0xFFFF)) & _linMask, 2, _seg[1].Selector, true)
            || !Write((ss + ((sp - 6) & 0xFFFF)) & _linMask, 2, returnRip, true)) return false;
        SetSp(sp - 6);
        WriteRflags(flags & ~(ulong)(RFlags.IF | RFlags.TF | RFlags.AC | RFlags.RF));
        ushort cs = (ushort)(ivt >> 16);
        LoadRealModeSegment(1, cs);
        ModeChanged();
        _rip = ivt & 0xFFFF;
        return true;
    }

    /// <summary>Reads the TSS stack pointer for privilege level <paramref name="level"/> (32-bit or 16-bit TSS; SDM Vol. 3A, 7.2.1).</summary>
    private bool ReadTssStack(int level, out ushort ss, out ulong sp, bool ext)
    {
        ss = 0;
        sp = 0;
        bool tss32 = (_tr.Type & 8) != 0;
        uint off = tss32 ? (uint)(level * 8 + 4) : (uint)(level * 4 + 2);
        uint width = tss32 ? 4u : 2u;
        if (_tr.IsUnusable || off + width * 2 - 1 > _tr.Limit) return Fault(ExceptionVector.TS, SelError(_tr.Selector, ext), true);
        if (!ReadSupervisor(_tr.Base + off, (int)width, out sp) || !ReadSupervisor(_tr.Base + off + width, 2, out ulong s)) return false;
        ss = (ushort)s;
        return true;
    }

    /// <summary>Protected mode (legacy) delivery through a 16/32-bit interrupt or trap gate (SDM Vol. 3A, 6.12.1).</summary>
    private bool DeliverProtected(byte vector, bool ext, bool software, uint error, bool hasError, ulong flags, ulong returnRip)
    {
        uint idtErr = (uint)vector * 8 + 2 + (ext ? 1u : 0u);
        if ((uint)vector * 8 + 7 > _idtr.Limit) return Fault(ExceptionVector.GP, idtErr, true);
        if (!ReadSupervisor(_idtr.Base + (ulong)vector * 8, 8, out ulong gate)) return false;
        int type = (int)((gate >> 40) & 0x1F), gateDpl = (int)((gate >> 45) & 3);
        // Task gates (type 5) need hardware task switching, which Vtx does not model: #GP, never a crash.
        if (type is not (6 or 7 or 14 or 15)) return Fault(ExceptionVector.GP, idtErr, true);
        if (software && gateDpl < _cpl) return Fault(ExceptionVector.GP, idtErr, true);
        if ((gate & (1UL << 47)) == 0) return Fault(ExceptionVector.NP, idtErr, true);
        bool gate32 = (type & 8) != 0, trap = (type & 1) != 0;
        ushort sel = (ushort)(gate >> 16);
        ulong offset = (gate & 0xFFFF) | ((gate >> 32) & 0xFFFF0000);
        if (!gate32) offset &= 0xFFFF;
        if ((sel & 0xFFFC) == 0) return Fault(ExceptionVector.GP, ext ? 1u : 0u, true);
        if (!ReadDescriptor(sel, out ulong desc, out ulong descLin, ext)) return false;
        var cs = SegmentCache.FromDescriptor(sel, desc);
        if (!cs.IsCode || cs.Dpl > _cpl) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        if (!cs.Present) return Fault(ExceptionVector.NP, SelError(sel, ext), true);
        bool conforming = (cs.Type & 4) != 0;
        int newCpl = conforming ? _cpl : cs.Dpl;
        if (offset > cs.Limit) return FaultGp0();
        int w = gate32 ? 4 : 2;

        ulong oldSs = _seg[2].Selector, oldSp = _gpr[4];
        SegmentCache newSs = _seg[2];
        ulong sp;
        ulong ssBase;
        bool stackSwitch = newCpl < _cpl;
        if (stackSwitch)
        {
            if (!ReadTssStack(newCpl, out ushort ssSel, out ulong tssSp, ext)) return false;
            if ((ssSel & 0xFFFC) == 0) return Fault(ExceptionVector.TS, ext ? 1u : 0u, true);
            if (!InDescriptorTable(ssSel)) return Fault(ExceptionVector.TS, SelError(ssSel, ext), true);
            if (!ReadDescriptor(ssSel, out ulong ssDesc, out _, ext)) return false;
            newSs = SegmentCache.FromDescriptor(ssSel, ssDesc);
            bool writable = (newSs.AccessRights & SegmentCache.S) != 0 && (newSs.Type & 0xA) == 2;
            if ((ssSel & 3) != newCpl || newSs.Dpl != newCpl || !writable) return Fault(ExceptionVector.TS, SelError(ssSel, ext), true);
            if (!newSs.Present) return Fault(ExceptionVector.SS, SelError(ssSel, ext), true);
            sp = newSs.Big ? (uint)tssSp : tssSp & 0xFFFF;
            ssBase = newSs.Base;
        }
        else
        {
            sp = Sp();
            ssBase = _segBase[2];
        }
        ulong spMask = newSs.Big ? 0xFFFF_FFFFUL : 0xFFFFUL;
        int pushCpl = stackSwitch ? newCpl : _cpl;
        bool Push1(ulong value)
        {
            sp = (sp - (ulong)w) & spMask;
            return PushAtCpl(pushCpl, (ssBase + sp) & _linMask, w, value);
        }
        if (stackSwitch && (!Push1(oldSs) || !Push1(oldSp))) return false;
        if (!Push1(flags) || !Push1(_seg[1].Selector) || !Push1(returnRip)) return false;
        if (hasError && !Push1(error)) return false;
        if (!MarkAccessed(desc, descLin)) return false;

        if (stackSwitch) _seg[2] = newSs with { AccessRights = newSs.AccessRights | 1 };
        SetSpFor(newSs, sp);
        LoadCs(sel, desc, newCpl);
        ulong cleared = (ulong)(RFlags.TF | RFlags.NT | RFlags.RF | RFlags.VM) | (trap ? 0 : (ulong)RFlags.IF);
        WriteRflags(flags & ~cleared);
        _rip = offset;
        return true;
    }

    /// <summary>
    /// Writes one item of an interrupt frame as an access at privilege <paramref name="cpl"/>: after a
    /// stack switch to a more privileged level the frame goes to the new stack with the new CPL's
    /// rights (a supervisor-mode access: a CPL-3 interrupt onto a supervisor-only kernel stack, as
    /// Linux's page-table isolation uses, must not fault; a fault there reports U/S = 0). The
    /// processor's CPL changes only when delivery commits, so nothing else sees the temporary one.
    /// </summary>
    private bool PushAtCpl(int cpl, ulong lin, int size, ulong value)
    {
        if (cpl == _cpl) return Write(lin, size, value, true);
        int saved = _cpl;
        _cpl = cpl;
        UpdateTlbKey();
        bool ok = Write(lin, size, value, true);
        _cpl = saved;
        UpdateTlbKey();
        return ok;
    }

    /// <summary>Writes the stack pointer at the width <paramref name="ss"/> implies (16-bit SS keeps the upper bits).</summary>
    private void SetSpFor(in SegmentCache ss, ulong sp)
    {
        if (ss.Big) _gpr[4] = (uint)sp;
        else _gpr[4] = (_gpr[4] & ~0xFFFFUL) | (sp & 0xFFFF);
    }

    /// <summary>IA-32e mode delivery through a 64-bit interrupt or trap gate, with IST (SDM Vol. 3A, 6.14).</summary>
    private bool DeliverLong(byte vector, bool ext, bool software, uint error, bool hasError, ulong flags, ulong returnRip)
    {
        uint idtErr = (uint)vector * 8 + 2 + (ext ? 1u : 0u);
        if ((uint)vector * 16 + 15 > _idtr.Limit) return Fault(ExceptionVector.GP, idtErr, true);
        ulong gateLin = _idtr.Base + (ulong)vector * 16;
        if (!ReadSupervisor(gateLin, 8, out ulong gate) || !ReadSupervisor(gateLin + 8, 8, out ulong gateHi)) return false;
        int type = (int)((gate >> 40) & 0x1F), gateDpl = (int)((gate >> 45) & 3), ist = (int)((gate >> 32) & 7);
        if (type is not (14 or 15)) return Fault(ExceptionVector.GP, idtErr, true);
        if (software && gateDpl < _cpl) return Fault(ExceptionVector.GP, idtErr, true);
        if ((gate & (1UL << 47)) == 0) return Fault(ExceptionVector.NP, idtErr, true);
        bool trap = (type & 1) != 0;
        ushort sel = (ushort)(gate >> 16);
        ulong offset = (gate & 0xFFFF) | ((gate >> 32) & 0xFFFF0000) | (gateHi << 32);
        if ((sel & 0xFFFC) == 0) return Fault(ExceptionVector.GP, ext ? 1u : 0u, true);
        if (!ReadDescriptor(sel, out ulong desc, out ulong descLin, ext)) return false;
        var cs = SegmentCache.FromDescriptor(sel, desc);
        if (!cs.IsCode || !cs.Long || cs.Big || cs.Dpl > _cpl) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        if (!cs.Present) return Fault(ExceptionVector.NP, SelError(sel, ext), true);
        bool conforming = (cs.Type & 4) != 0;
        int newCpl = conforming ? _cpl : cs.Dpl;
        if (!IsCanonical(offset)) return FaultGp0();

        ulong rsp = _gpr[4];
        if (ist != 0 || newCpl < _cpl)
        {
            uint off = ist != 0 ? (uint)(0x24 + (ist - 1) * 8) : (uint)(4 + newCpl * 8);
            if (_tr.IsUnusable || off + 7 > _tr.Limit) return Fault(ExceptionVector.TS, SelError(_tr.Selector, ext), true);
            if (!ReadSupervisor(_tr.Base + off, 8, out rsp)) return false;
        }
        rsp &= ~0xFUL;
        // The frame is written at 64-bit addresses whatever the interrupted code size (compatibility
        // mode included): a non-canonical stack is #SS(EXT), never a write where the low bits point.
        if (!IsCanonical(rsp - 1) || !IsCanonical(rsp - 48)) return Fault(ExceptionVector.SS, ext ? 1u : 0u, true);
        ulong sp = rsp;
        int pushCpl = Math.Min(newCpl, _cpl);
        bool Push8(ulong value)
        {
            sp -= 8;
            return PushAtCpl(pushCpl, sp, 8, value);
        }
        if (!Push8(_seg[2].Selector) || !Push8(_gpr[4]) || !Push8(flags) || !Push8(_seg[1].Selector) || !Push8(returnRip)) return false;
        if (hasError && !Push8(error)) return false;
        if (!MarkAccessed(desc, descLin)) return false;

        if (newCpl < _cpl) _seg[2] = SegmentCache.NullStack((ushort)newCpl, newCpl);
        _gpr[4] = sp;
        LoadCs(sel, desc, newCpl);
        ulong cleared = (ulong)(RFlags.TF | RFlags.NT | RFlags.RF | RFlags.VM) | (trap ? 0 : (ulong)RFlags.IF);
        WriteRflags(flags & ~cleared);
        _rip = offset;
        return true;
    }
}
