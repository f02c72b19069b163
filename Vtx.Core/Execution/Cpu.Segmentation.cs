using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    // Protected-mode segmentation (SDM Vol. 3A, chapter 3 and 5.5-5.8): descriptor reads, segment
    // register loads with their privilege and type checks, and the selector-error-code faults.

    /// <summary>Selector error code: index and TI of <paramref name="sel"/> (RPL cleared), plus EXT.</summary>
    private static uint SelError(ushort sel, bool ext = false) => (uint)(sel & 0xFFFC) | (ext ? 1u : 0u);

    /// <summary>
    /// Reads the 8-byte descriptor <paramref name="sel"/> names in the GDT or LDT (an implicit
    /// supervisor access). #GP(selector) when the index is beyond the table limit.
    /// </summary>
    private bool ReadDescriptor(ushort sel, out ulong desc, out ulong lin, bool ext = false)
    {
        desc = 0;
        bool ldt = (sel & 4) != 0;
        ulong tableBase = ldt ? _ldtr.Base : _gdtr.Base;
        uint limit = ldt ? (_ldtr.IsUnusable ? 0 : _ldtr.Limit) : _gdtr.Limit;
        uint offset = (uint)(sel & 0xFFF8);
        lin = (tableBase + offset) & _linMask;
        if ((ldt && _ldtr.IsUnusable) || offset + 7 > limit) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        return ReadSupervisor(lin, 8, out desc);
    }

    /// <summary>True when <paramref name="sel"/> indexes a descriptor inside the GDT or the (usable) LDT.</summary>
    private bool InDescriptorTable(ushort sel)
    {
        bool ldt = (sel & 4) != 0;
        if (ldt && _ldtr.IsUnusable) return false;
        return (uint)(sel & 0xFFF8) + 7 <= (ldt ? _ldtr.Limit : _gdtr.Limit);
    }

    /// <summary>A real-mode (or virtual-8086) segment load: selector and base = selector × 16; limit and attributes stay.</summary>
    private void LoadRealModeSegment(int seg, ushort sel) => _seg[seg] = _seg[seg] with { Selector = sel, Base = (ulong)sel << 4 };

    // Canonical addresses (SDM Vol. 1, 3.3.7.1; Vol. 3A, 4.5): bits 63:N-1 all equal, N the linear-
    // address width. One rule, two widths:
    //  - an address used for an access or loaded into RIP (memory operands, fetch, branch, return and
    //    event targets, the stack) is checked at the width of the current paging mode: 57 bits with
    //    CR4.LA57 = 1 (5-level paging), else 48;
    //  - an address loaded into a register for later use (WRMSR to FS/GS/KERNEL_GS base, LSTAR,
    //    CSTAR, SYSENTER_ESP/EIP; LGDT/LIDT and LLDT/LTR bases in IA-32e mode; INVPCID/INVVPID
    //    addresses; the VMCS base, SYSENTER and guest-RIP fields at VM entry) is checked at the
    //    processor's maximum width: 57 when the model offers 5-level paging (CPUID.(7,0):ECX.LA57),
    //    whatever CR4.LA57, as such processors do (Intel 5-level paging white paper, 2.5 and 2.6),
    //    else the model's CPUID.80000008h linear-address width.

    /// <summary>The access rule: canonical at the current width (57 bits with CR4.LA57, else 48).</summary>
    private bool IsCanonical(ulong a) => (ulong)((long)(a << _canonShift) >> _canonShift) == a;

    /// <summary>64 minus the current linear-address width (16, or 7 with CR4.LA57): updated by ModeChanged.</summary>
    private int _canonShift = 16;

    /// <summary>The load rule: canonical at the processor's maximum linear-address width.</summary>
    private bool IsCanonicalLoad(ulong a) => IsCanonicalBits(a, MaxLinearAddressBits);

    /// <summary>Canonical for a linear-address width of <paramref name="bits"/> (64: always).</summary>
    private static bool IsCanonicalBits(ulong a, int bits) =>
        bits >= 64 || (ulong)((long)(a << (64 - bits)) >> (64 - bits)) == a;

    /// <summary>The processor's maximum linear-address width: 57 when the model offers LA57, else CPUID.80000008h:EAX[15:8].</summary>
    private int MaxLinearAddressBits
    {
        get
        {
            if (_maxLinearBits == 0)
                _maxLinearBits = (Model.Cpuid(7, 0).Ecx & (1u << 16)) != 0 ? 57 : Math.Clamp(Model.LinearAddressBits, 32, 64);
            return _maxLinearBits;
        }
    }

    private int _maxLinearBits;

    /// <summary>An implicit supervisor-mode read (descriptor tables, TSS, IDT).</summary>
    private bool ReadSupervisor(ulong lin, int size, out ulong v)
    {
        _implicitAccess = true;
        UpdateTlbKey();
        bool ok = Read(lin & _linMask, size, out v);
        _implicitAccess = false;
        UpdateTlbKey();
        return ok;
    }

    /// <summary>An implicit supervisor-mode write (accessed bits, busy TSS).</summary>
    private bool WriteSupervisor(ulong lin, int size, ulong v)
    {
        _implicitAccess = true;
        UpdateTlbKey();
        bool ok = Write(lin & _linMask, size, v);
        _implicitAccess = false;
        UpdateTlbKey();
        return ok;
    }

    /// <summary>Sets the accessed bit of a code/data descriptor in memory if it is clear (SDM Vol. 3A, 3.4.5.1).</summary>
    private bool MarkAccessed(ulong desc, ulong lin)
    {
        if ((desc & (1UL << 40)) != 0) return true;
        return WriteSupervisor(lin + 5, 1, (desc >> 40) | 1);
    }

    /// <summary>
    /// Loads data/stack segment register <paramref name="seg"/> with <paramref name="sel"/>
    /// (MOV Sreg, POP Sreg, LDS/LES/LFS/LGS/LSS), with the checks of SDM Vol. 2B MOV and 5.6:
    /// null selectors, table limits, type, privilege, presence.
    /// </summary>
    private bool LoadSegment(int seg, ushort sel)
    {
        if (seg == 1) return Fault(ExceptionVector.UD); // MOV CS is undefined
        if ((_cr0 & Cr0.PE) == 0 || (_rflags & (ulong)RFlags.VM) != 0)
        {
            LoadRealModeSegment(seg, sel);
            ModeChanged();
            return true;
        }
        int rpl = sel & 3;
        if ((sel & 0xFFFC) == 0)
        {
            if (seg == 2)
            {
                // A null SS is allowed only in 64-bit mode below CPL 3 with RPL = CPL.
                if (Mode != OperatingMode.Long64 || _cpl == 3 || rpl != _cpl) return FaultGp0();
                _seg[2] = SegmentCache.NullStack(sel, _cpl);
            }
            else _seg[seg] = SegmentCache.Null(sel);
            ModeChanged();
            return true;
        }
        if (!ReadDescriptor(sel, out ulong desc, out ulong lin)) return false;
        var c = SegmentCache.FromDescriptor(sel, desc);
        bool codeOrData = (c.AccessRights & SegmentCache.S) != 0;
        bool code = codeOrData && (c.Type & 8) != 0;
        if (seg == 2)
        {
            bool writableData = codeOrData && !code && (c.Type & 2) != 0;
            if (rpl != _cpl || !writableData || c.Dpl != _cpl) return Fault(ExceptionVector.GP, SelError(sel), true);
            if (!c.Present) return Fault(ExceptionVector.SS, SelError(sel), true);
        }
        else
        {
            bool readable = codeOrData && (!code || (c.Type & 2) != 0);
            bool conforming = code && (c.Type & 4) != 0;
            if (!readable || (!conforming && (rpl > c.Dpl || _cpl > c.Dpl))) return Fault(ExceptionVector.GP, SelError(sel), true);
            if (!c.Present) return Fault(ExceptionVector.NP, SelError(sel), true);
        }
        if (!MarkAccessed(desc, lin)) return false;
        _seg[seg] = c with { AccessRights = c.AccessRights | 1 };
        ModeChanged();
        return true;
    }

    /// <summary>
    /// Loads CS for a far transfer to a code segment at privilege <paramref name="newCpl"/>
    /// (the selector's RPL becomes the CPL), reading the 64-bit base rules of IA-32e mode.
    /// </summary>
    private void LoadCs(ushort sel, ulong desc, int newCpl)
    {
        var c = SegmentCache.FromDescriptor((ushort)((sel & 0xFFFC) | newCpl), desc);
        _seg[1] = c with { AccessRights = c.AccessRights | 1 };
        _cpl = newCpl;
        ModeChanged();
    }

    /// <summary>Checks a code-segment descriptor as a far JMP/CALL/RET target (SDM Vol. 3A, 5.8.1-5.8.2), CS.L/D consistency in IA-32e mode.</summary>
    private bool CheckCodeTarget(ushort sel, ulong desc, bool isReturn, bool ext = false)
    {
        var c = SegmentCache.FromDescriptor(sel, desc);
        if ((c.AccessRights & SegmentCache.S) == 0 || (c.Type & 8) == 0) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        bool conforming = (c.Type & 4) != 0;
        int rpl = sel & 3;
        if (isReturn)
        {
            if (rpl < _cpl || (conforming ? c.Dpl > rpl : c.Dpl != rpl)) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        }
        else if (conforming ? c.Dpl > _cpl : (rpl > _cpl || c.Dpl != _cpl)) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        if ((_efer & Efer.LMA) != 0 && c.Long && c.Big) return Fault(ExceptionVector.GP, SelError(sel, ext), true);
        if (!c.Present) return Fault(ExceptionVector.NP, SelError(sel, ext), true);
        return true;
    }

    // ------------------------------------------------------------------ instructions

    private void ExecMovToSeg(ref DecodedInstruction d)
    {
        if (!ReadB(ref d, 2, out ulong sel)) return;
        if (!LoadSegment(d.Extra, (ushort)sel)) return;
        if (d.Extra == 2) BeginShadow(ShadowMovSs);
    }

    private void ExecMovFromSeg(ref DecodedInstruction d)
    {
        ushort sel = _seg[d.Extra].Selector;
        // To a register: zero-extended at the operand size; to memory: always 16 bits.
        if ((d.Flags & DecodedFlags.MemA) != 0) Write(Lin(ref d), 2, sel, d.Segment == 2);
        else SetReg(d.Reg, d.OpSize, sel);
    }

    private void ExecLoadFarPointer(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong lin = Lin(ref d);
        if (!Read(lin, size, out ulong offset, d.Segment == 2) || !Read(lin + (ulong)size, 2, out ulong sel, d.Segment == 2)) return;
        if (!LoadSegment(d.Extra, (ushort)sel)) return;
        SetReg(d.Reg, size, offset);
    }

    private void ExecPopSegChecked(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!Peek(size, out ulong v)) return;
        ulong oldSp = _gpr[4];
        SetSp(Sp() + (ulong)size);
        if (!LoadSegment(d.Segment, (ushort)v)) { _gpr[4] = oldSp; return; }
        if (d.Segment == 2) BeginShadow(ShadowMovSs);
    }
}
