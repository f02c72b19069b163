using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    // Far JMP/CALL/RET, IRET, INT n/INT3/INTO/INT1, CLI/STI (SDM Vol. 2A-2B instruction pages;
    // Vol. 3A 5.8 privilege rules for control transfers). Hardware task switching (TSS and task-gate
    // targets, IRET with NT = 1) and virtual-8086 mode are not modelled: they raise #GP as documented
    // on each handler, never a host error.

    private bool IsRealOrV86 => (_cr0 & Cr0.PE) == 0 || (_rflags & (ulong)RFlags.VM) != 0;

    /// <summary>Pushes at <paramref name="size"/> on the current stack with a local pointer (committed by the caller).</summary>
    private bool PushAt(ref ulong sp, ulong value, int size, ulong ssBase, ulong spMask)
    {
        sp = (sp - (ulong)size) & spMask;
        return Write((ssBase + sp) & _linMask, size, value, true);
    }

    /// <summary>Pushes onto the more privileged stack of a call through a gate, with that level's rights (see <see cref="PushAtCpl"/>).</summary>
    private bool PushInner(ref ulong sp, ulong value, int size, ulong ssBase, ulong spMask, int cpl)
    {
        sp = (sp - (ulong)size) & spMask;
        return PushAtCpl(cpl, (ssBase + sp) & _linMask, size, value);
    }

    private ulong StackMask => _stackSize == 8 ? ulong.MaxValue : Sz.Mask(_stackSize);

    private bool CanonicalOrGp(ulong target) => IsCanonical(target) || FaultGp0();

    /// <summary>Far JMP or CALL to <paramref name="sel"/>:<paramref name="offset"/> with operand size <paramref name="size"/>.</summary>
    private bool FarTransfer(ref DecodedInstruction d, ushort sel, ulong offset, int size, bool call)
    {
        ulong ret = _nextRip;
        ushort oldCs = _seg[1].Selector;
        if (IsRealOrV86)
        {
            ulong sp = Sp(), m = StackMask;
            if (call && (!PushAt(ref sp, oldCs, size, _segBase[2], m) || !PushAt(ref sp, ret, size, _segBase[2], m))) return false;
            if (call) SetSp(sp);
            LoadRealModeSegment(1, sel);
            ModeChanged();
            _nextRip = offset & Sz.Mask(size);
            return true;
        }
        if ((sel & 0xFFFC) == 0) return FaultGp0();
        if (!ReadDescriptor(sel, out ulong desc, out ulong descLin)) return false;
        var target = SegmentCache.FromDescriptor(sel, desc);
        bool lma = (_efer & Efer.LMA) != 0;
        if ((target.AccessRights & SegmentCache.S) != 0)
        {
            if (!CheckCodeTarget(sel, desc, isReturn: false)) return false;
            if (target.Long && lma) { if (!CanonicalOrGp(offset)) return false; }
            else if (offset > target.Limit) return FaultGp0();
            if (call)
            {
                ulong sp = Sp(), m = StackMask;
                if (!PushAt(ref sp, oldCs, size, _segBase[2], m) || !PushAt(ref sp, ret, size, _segBase[2], m)) return false;
                SetSp(sp);
            }
            if (!MarkAccessed(desc, descLin)) return false;
            LoadCs(sel, desc, _cpl);
            _nextRip = offset;
            return true;
        }
        // System descriptor: a call gate (type 4 = 16-bit, 12 = 32-bit or, in IA-32e mode, 64-bit).
        int type = target.Type;
        if (_nonRoot && !lma && type is 1 or 9 or 5) return TaskSwitchFromFar(ref d, sel, desc, call); // task switches exit (SDM Vol. 3C, 25.4.2)
        if (type != 12 && (type != 4 || lma)) return Fault(ExceptionVector.GP, SelError(sel), true); // TSS / task gate: not modelled
        if (target.Dpl < _cpl || target.Dpl < (sel & 3)) return Fault(ExceptionVector.GP, SelError(sel), true);
        if (!target.Present) return Fault(ExceptionVector.NP, SelError(sel), true);
        ushort csSel = (ushort)(desc >> 16);
        ulong gateOffset = (desc & 0xFFFF) | (type == 12 ? (desc >> 32) & 0xFFFF0000 : 0);
        int paramCount = (int)((desc >> 32) & 0x1F);
        if (lma)
        {
            if (!ReadSupervisor(descLin + 8, 8, out ulong hi)) return false;
            if (((hi >> 40) & 0x1F) != 0) return Fault(ExceptionVector.GP, SelError(sel), true); // upper half: type field must be 0
            gateOffset |= (hi & 0xFFFF_FFFF) << 32;
            paramCount = 0;
        }
        if ((csSel & 0xFFFC) == 0) return FaultGp0();
        if (!ReadDescriptor(csSel, out ulong csDesc, out ulong csLin)) return false;
        var cs = SegmentCache.FromDescriptor(csSel, csDesc);
        if (!cs.IsCode || cs.Dpl > _cpl || (lma && (!cs.Long || cs.Big))) return Fault(ExceptionVector.GP, SelError(csSel), true);
        if (!cs.Present) return Fault(ExceptionVector.NP, SelError(csSel), true);
        bool conforming = (cs.Type & 4) != 0;
        int gateSize = lma ? 8 : type == 12 ? 4 : 2;
        if (!call)
        {
            if (!conforming && cs.Dpl != _cpl) return Fault(ExceptionVector.GP, SelError(csSel), true);
            if (!MarkAccessed(csDesc, csLin)) return false;
            LoadCs(csSel, csDesc, _cpl);
            _nextRip = gateOffset;
            return true;
        }
        int newCpl = conforming ? _cpl : cs.Dpl;
        if (newCpl == _cpl)
        {
            ulong sp = Sp(), m = StackMask;
            if (!PushAt(ref sp, oldCs, gateSize, _segBase[2], m) || !PushAt(ref sp, ret, gateSize, _segBase[2], m)) return false;
            if (!MarkAccessed(csDesc, csLin)) return false;
            SetSp(sp);
            LoadCs(csSel, csDesc, newCpl);
            _nextRip = gateOffset;
            return true;
        }
        // More privileged: switch to the TSS stack of the new level, copy parameters, push the return.
        ulong oldSs = _seg[2].Selector, oldSp = _gpr[4];
        if (lma)
        {
            uint off = (uint)(4 + newCpl * 8);
            if (_tr.IsUnusable || off + 7 > _tr.Limit) return Fault(ExceptionVector.TS, SelError(_tr.Selector), true);
            if (!ReadSupervisor(_tr.Base + off, 8, out ulong rsp)) return false;
            ulong sp = rsp;
            if (!PushInner(ref sp, oldSs, 8, 0, ulong.MaxValue, newCpl) || !PushInner(ref sp, oldSp, 8, 0, ulong.MaxValue, newCpl)
                || !PushInner(ref sp, oldCs, 8, 0, ulong.MaxValue, newCpl) || !PushInner(ref sp, ret, 8, 0, ulong.MaxValue, newCpl)) return false;
            if (!MarkAccessed(csDesc, csLin)) return false;
            _seg[2] = SegmentCache.NullStack((ushort)newCpl, newCpl);
            _gpr[4] = sp;
        }
        else
        {
            if (!ReadTssStack(newCpl, out ushort ssSel, out ulong tssSp, false)) return false;
            if ((ssSel & 0xFFFC) == 0) return Fault(ExceptionVector.TS, 0, true);
            if (!InDescriptorTable(ssSel)) return Fault(ExceptionVector.TS, SelError(ssSel), true);
            if (!ReadDescriptor(ssSel, out ulong ssDesc, out _)) return false;
            var ss = SegmentCache.FromDescriptor(ssSel, ssDesc);
            bool writable = (ss.AccessRights & SegmentCache.S) != 0 && (ss.Type & 0xA) == 2;
            if ((ssSel & 3) != newCpl || ss.Dpl != newCpl || !writable) return Fault(ExceptionVector.TS, SelError(ssSel), true);
            if (!ss.Present) return Fault(ExceptionVector.SS, SelError(ssSel), true);
            ulong m = ss.Big ? 0xFFFF_FFFFUL : 0xFFFFUL, sp = tssSp & m;
            if (!PushInner(ref sp, oldSs, gateSize, ss.Base, m, newCpl) || !PushInner(ref sp, oldSp, gateSize, ss.Base, m, newCpl)) return false;
            for (int i = paramCount - 1; i >= 0; i--)
            {
                if (!Read(StackLin(Sp() + (ulong)(i * gateSize), gateSize), gateSize, out ulong p, true)) return false;
                if (!PushInner(ref sp, p, gateSize, ss.Base, m, newCpl)) return false;
            }
            if (!PushInner(ref sp, oldCs, gateSize, ss.Base, m, newCpl) || !PushInner(ref sp, ret, gateSize, ss.Base, m, newCpl)) return false;
            if (!MarkAccessed(csDesc, csLin)) return false;
            _seg[2] = ss with { AccessRights = ss.AccessRights | 1 };
            SetSpFor(ss, sp);
        }
        LoadCs(csSel, csDesc, newCpl);
        _nextRip = gateOffset;
        return true;
    }

    private void ExecJmpCallFar(ref DecodedInstruction d, bool call)
    {
        FarTransfer(ref d, (ushort)(d.Imm >> 48), d.Imm & 0xFFFF_FFFF, d.OpSize, call);
    }

    private void ExecJmpCallFarIndirect(ref DecodedInstruction d, bool call)
    {
        int size = d.OpSize;
        ulong lin = Lin(ref d);
        if (!Read(lin, size, out ulong offset, d.Segment == 2) || !Read(lin + (ulong)size, 2, out ulong sel, d.Segment == 2)) return;
        FarTransfer(ref d, (ushort)sel, offset, size, call);
    }

    /// <summary>After a return to an outer level, data segment registers the new CPL may not use become null (SDM Vol. 2B, RET).</summary>
    private void NullInaccessibleSegments()
    {
        foreach (int i in new[] { 0, 3, 4, 5 })
        {
            var s = _seg[i];
            if (s.IsUnusable) continue;
            bool conformingCode = s.IsCode && (s.Type & 4) != 0;
            if (!conformingCode && s.Dpl < _cpl) _seg[i] = SegmentCache.Null(s.Selector) with { Selector = 0 };
        }
        ModeChanged();
    }

    /// <summary>Loads SS:rSP popped by a return to an outer level, with the SS checks.</summary>
    private bool ReturnStack(ushort ssSel, ulong sp, int newCpl, bool lma, bool toLong)
    {
        if ((ssSel & 0xFFFC) == 0)
        {
            if (!(lma && toLong && newCpl < 3 && (ssSel & 3) == newCpl)) return FaultGp0();
            _seg[2] = SegmentCache.NullStack(ssSel, newCpl);
            _gpr[4] = sp;
            return true;
        }
        if (!ReadDescriptor(ssSel, out ulong desc, out ulong lin)) return false;
        var ss = SegmentCache.FromDescriptor(ssSel, desc);
        bool writable = (ss.AccessRights & SegmentCache.S) != 0 && (ss.Type & 0xA) == 2;
        if ((ssSel & 3) != newCpl || ss.Dpl != newCpl || !writable) return Fault(ExceptionVector.GP, SelError(ssSel), true);
        if (!ss.Present) return Fault(ExceptionVector.SS, SelError(ssSel), true);
        if (!MarkAccessed(desc, lin)) return false;
        _seg[2] = ss with { AccessRights = ss.AccessRights | 1 };
        if (toLong) _gpr[4] = sp;
        else SetSpFor(ss, sp);
        return true;
    }

    /// <summary>RET far [imm16] (SDM Vol. 2B, RET): same-level or outer-level return.</summary>
    private void ExecRetFar(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong release = (d.Flags & DecodedFlags.ImmB) != 0 ? d.Imm & 0xFFFF : 0;
        if (!Peek(size, out ulong offset) || !Peek(size, out ulong selv, (ulong)size)) return;
        ushort sel = (ushort)selv;
        if (IsRealOrV86)
        {
            SetSp(Sp() + (ulong)(2 * size) + release);
            LoadRealModeSegment(1, sel);
            ModeChanged();
            _nextRip = offset & Sz.Mask(size);
            return;
        }
        if ((sel & 0xFFFC) == 0) { FaultGp0(); return; }
        if (!ReadDescriptor(sel, out ulong desc, out ulong descLin)) return;
        if (!CheckCodeTarget(sel, desc, isReturn: true)) return;
        var cs = SegmentCache.FromDescriptor(sel, desc);
        bool lma = (_efer & Efer.LMA) != 0;
        bool toLong = lma && cs.Long;
        if (toLong) { if (!CanonicalOrGp(offset)) return; }
        else if (offset > cs.Limit) { FaultGp0(); return; }
        int rpl = sel & 3;
        if (rpl == _cpl)
        {
            if (!MarkAccessed(desc, descLin)) return;
            SetSp(Sp() + (ulong)(2 * size) + release);
            LoadCs(sel, desc, rpl);
            _nextRip = offset;
            return;
        }
        ulong spOff = (ulong)(2 * size) + release;
        if (!Peek(size, out ulong newSp, spOff) || !Peek(size, out ulong newSs, spOff + (ulong)size)) return;
        if (!MarkAccessed(desc, descLin)) return;
        var savedSs = _seg[2];
        ulong savedSp = _gpr[4];
        int savedCpl = _cpl;
        _cpl = rpl;
        if (!ReturnStack((ushort)newSs, newSp + release, rpl, lma, toLong))
        {
            _cpl = savedCpl;
            _seg[2] = savedSs;
            _gpr[4] = savedSp;
            return;
        }
        LoadCs(sel, desc, rpl);
        NullInaccessibleSegments();
        _nextRip = offset;
    }

    /// <summary>
    /// IRET/IRETD/IRETQ (SDM Vol. 2A, IRET). Clears NMI blocking first — even an IRET that faults
    /// unblocks NMIs (SDM Vol. 3A, 6.7.1). Returns with NT = 1 (task return) and returns to
    /// virtual-8086 mode are not modelled: #GP(0).
    /// </summary>
    private void ExecIret(ref DecodedInstruction d)
    {
        IretUnblocksNmis();
        if (_nonRoot && IretTaskSwitchIntercepted(ref d)) return;
        int size = d.OpSize;
        ulong oldFlags = ReadRflags();
        // NT = 1 in protected mode: a task return, which reads no stack (not modelled in legacy mode:
        // #GP(0); architecturally #GP(0) in IA-32e mode). Checked before any stack read.
        if (!IsRealOrV86 && (oldFlags & (ulong)RFlags.NT) != 0) { FaultGp0(); return; }
        if (!Peek(size, out ulong ip) || !Peek(size, out ulong selv, (ulong)size) || !Peek(size, out ulong fl, (ulong)(2 * size))) return;
        ushort sel = (ushort)selv;
        if (IsRealOrV86)
        {
            if ((_rflags & (ulong)RFlags.VM) != 0) { FaultGp0(); return; }
            SetSp(Sp() + (ulong)(3 * size));
            LoadRealModeSegment(1, sel);
            ModeChanged();
            ulong keep = size == 2 ? ~0xFFFFUL : (ulong)(RFlags.VM | RFlags.VIF | RFlags.VIP);
            WriteRflags((oldFlags & keep) | (fl & ~keep));
            _nextRip = ip & Sz.Mask(size);
            _signal |= SignalEvent;
            return;
        }
        bool lma = (_efer & Efer.LMA) != 0;
        if ((fl & (ulong)RFlags.VM) != 0 && _cpl == 0 && !lma && size == 4) { FaultGp0(); return; }
        if ((sel & 0xFFFC) == 0) { FaultGp0(); return; }
        if (!ReadDescriptor(sel, out ulong desc, out ulong descLin)) return;
        if (!CheckCodeTarget(sel, desc, isReturn: true)) return;
        var cs = SegmentCache.FromDescriptor(sel, desc);
        bool toLong = lma && cs.Long;
        if (toLong) { if (!CanonicalOrGp(ip)) return; }
        else if ((ip & Sz.Mask(size)) > cs.Limit) { FaultGp0(); return; }
        int rpl = sel & 3;
        // In 64-bit mode IRET (any operand size) always pops SS:RSP; otherwise only a return to an
        // outer level does (SDM Vol. 2A, IRET: "IF instruction began in 64-Bit Mode").
        bool popStack = rpl > _cpl || _codeBits == 64;
        ulong newSp = 0, newSs = 0;
        if (popStack && (!Peek(size, out newSp, (ulong)(3 * size)) || !Peek(size, out newSs, (ulong)(4 * size)))) return;
        if (!MarkAccessed(desc, descLin)) return;

        // Flags the return may change (SDM Vol. 2A, IRET "RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL").
        ulong changeable = (ulong)(RFlags.Status | RFlags.TF | RFlags.DF | RFlags.NT | RFlags.RF | RFlags.AC | RFlags.ID);
        if (_cpl <= (int)((oldFlags >> 12) & 3)) changeable |= (ulong)RFlags.IF;
        if (_cpl == 0) changeable |= (ulong)(RFlags.IOPL | RFlags.VIF | RFlags.VIP);
        if (size == 2) changeable &= 0xFFFF;
        ulong newFlags = (oldFlags & ~changeable) | (fl & changeable);

        if (popStack)
        {
            var savedSs = _seg[2];
            ulong savedSp = _gpr[4];
            int savedCpl = _cpl;
            _cpl = rpl;
            if (!ReturnStack((ushort)newSs, newSp, rpl, lma, toLong))
            {
                _cpl = savedCpl;
                _seg[2] = savedSs;
                _gpr[4] = savedSp;
                return;
            }
            _cpl = savedCpl;
        }
        else SetSp(Sp() + (ulong)(3 * size));
        WriteRflags(newFlags);
        LoadCs(sel, desc, rpl);
        if (rpl > 0 && popStack) NullInaccessibleSegments();
        _nextRip = toLong ? ip : ip & Sz.Mask(size);
        _signal |= SignalEvent; // IF may have changed: let the arbiter look
    }

    /// <summary>INT n / INT3 / INTO / INT1: a software event delivered now, returning after the instruction.</summary>
    private void SoftwareInterrupt(byte vector, EventKind kind)
    {
        // INT3, INTO and INT1 raise exceptions (#BP, #OF, #DB): an intercepted vector stops the run at
        // the instruction, like the VMX exception bitmap (INT n is not an exception and is never intercepted).
        if (kind != EventKind.SoftwareInterrupt && IsIntercepted(vector))
        {
            Fault((ExceptionVector)vector);
            return;
        }
        if (DeliverEvent(vector, kind, 0, false, _nextRip)) _nextRip = _rip;
        else _signal |= SignalEvent; // shut down: the loop sees IsShutdown
    }

    private void ExecInto()
    {
        if (GetOF()) SoftwareInterrupt(4, EventKind.SoftwareException);
    }

    /// <summary>CLI/STI: IF changes when CPL ≤ IOPL (always in real mode); else #GP(0). STI that sets IF opens a one-instruction shadow.</summary>
    private void ExecCliSti(bool set)
    {
        if ((_cr0 & Cr0.PE) != 0 && _cpl > (int)((_rflags >> 12) & 3)) { FaultGp0(); return; }
        bool wasSet = (_rflags & (ulong)RFlags.IF) != 0;
        if (set)
        {
            _rflags |= (ulong)RFlags.IF;
            if (!wasSet) BeginShadow(ShadowSti);
        }
        else _rflags &= ~(ulong)RFlags.IF;
        _signal |= SignalEvent;
    }
}
