using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    // Privileged system instructions (SDM Vol. 2 instruction pages; Vol. 3A 2.5-2.8, 5.9, 9.8).

    private ulong _star, _lstar, _cstar, _fmask, _kernelGsBase, _sysenterCs, _sysenterEsp, _sysenterEip;
    private ulong _pat = 0x0007_0406_0007_0406UL, _mtrrDefType, _featureControl;
    private readonly ulong[] _mtrrVar = new ulong[16];
    private readonly ulong[] _mtrrFixed = new ulong[11];

    /// <summary>IA32_FEATURE_CONTROL (MSR 3Ah); once bit 0 (lock) is set, WRMSR to it faults until reset.</summary>
    public ulong FeatureControl { get => _featureControl; set => _featureControl = value; }

    private bool CheckCpl0() => _cpl == 0 || FaultGp0();

    private bool IsPagingFlushBit(ulong changed) => (changed & (Cr4.PGE | Cr4.PAE | Cr4.PSE | Cr4.SMEP | Cr4.SMAP | Cr4.PCIDE | Cr4.LA57)) != 0;

    /// <summary>MOV CR0 with the checks of SDM Vol. 2B MOV-CR and 9.8.5 (IA-32e activation when PG turns on with EFER.LME).</summary>
    private bool WriteCr0(ulong v)
    {
        if ((v >> 32) != 0) return FaultGp0();
        v |= Cr0.ET;
        if (_vmxOn && !(_nonRoot ? GuestCr0FixedOk(v) : Cr0FixedOk(v))) return FaultGp0(); // in VMX operation CR0 keeps its fixed bits
        if ((v & Cr0.PG) != 0 && (v & Cr0.PE) == 0) return FaultGp0();
        if ((v & Cr0.NW) != 0 && (v & Cr0.CD) == 0) return FaultGp0();
        bool pgOn = (v & Cr0.PG) != 0 && (_cr0 & Cr0.PG) == 0, pgOff = (v & Cr0.PG) == 0 && (_cr0 & Cr0.PG) != 0;
        if (pgOn && (_efer & Efer.LME) != 0)
        {
            if ((_cr4 & Cr4.PAE) == 0 || _seg[1].Long) return FaultGp0();
            _efer |= Efer.LMA;
        }
        if (pgOff && (_efer & Efer.LMA) != 0)
        {
            if (Mode == OperatingMode.Long64) return FaultGp0();
            _efer &= ~Efer.LMA;
        }
        ulong changed = _cr0 ^ v;
        ulong oldCr0 = _cr0, oldEfer = _efer;
        _cr0 = v;
        // Turning on PAE paging (not IA-32e) loads the PDPTE registers; a reserved bit there is #GP(0).
        if ((changed & Cr0.PG) != 0 && !RefreshPaging(true))
        {
            _cr0 = oldCr0;
            _efer = oldEfer;
            RefreshPaging(false);
            return FaultGp0();
        }
        if ((changed & (Cr0.PG | Cr0.WP | Cr0.PE)) != 0) { FlushTlb(); TimingTlbFlushAll(); }
        ModeChanged();
        return true;
    }

    private bool WriteCr4(ulong v)
    {
        // Only bits of features the model offers may be set (SDM Vol. 2B, MOV CR: #GP on reserved bits):
        // no V86 extensions, no FSGSBASE; OSFXSR/OSXMMEXCPT with FXSR/SSE, OSXSAVE with XSAVE, VMXE with VMX.
        const ulong supported = Cr4.TSD | Cr4.DE | Cr4.PSE | Cr4.PAE | Cr4.PGE | Cr4.PCE
            | Cr4.UMIP | Cr4.PCIDE | Cr4.SMEP | Cr4.SMAP;
        ulong offered = supported | (Model.La57 ? Cr4.LA57 : 0) | (Model.Fxsr ? Cr4.OSFXSR : 0) | (Model.Sse ? Cr4.OSXMMEXCPT : 0)
            | (Model.Xsave ? Cr4.OSXSAVE : 0) | (Model.Vmx is not null ? Cr4.VMXE : 0);
        if ((v & ~offered) != 0) return FaultGp0();
        if (_vmxOn && !Cr4FixedOk(v)) return FaultGp0(); // in VMX operation CR4 keeps its fixed bits (VMXE stays set)
        if ((_efer & Efer.LMA) != 0 && ((v ^ _cr4) & Cr4.LA57) != 0) return FaultGp0(); // LA57 is fixed in IA-32e mode
        if ((_efer & Efer.LMA) != 0 && (v & Cr4.PAE) == 0) return FaultGp0();
        if ((v & Cr4.PCIDE) != 0 && (_cr4 & Cr4.PCIDE) == 0 && ((_efer & Efer.LMA) == 0 || (_cr3 & 0xFFF) != 0)) return FaultGp0();
        ulong changed = _cr4 ^ v;
        ulong old = _cr4;
        _cr4 = v;
        if ((changed & (Cr4.PAE | Cr4.PSE | Cr4.PGE | Cr4.SMEP)) != 0 && (_cr0 & Cr0.PG) != 0 && !RefreshPaging(true))
        {
            _cr4 = old;
            RefreshPaging(false);
            return FaultGp0();
        }
        if (IsPagingFlushBit(changed)) { FlushTlb(); TimingTlbFlushAll(); }
        ModeChanged();
        return true;
    }

    private bool WriteCr3(ulong v)
    {
        ulong mask = (_efer & Efer.LMA) != 0 ? (1UL << Model.PhysicalAddressBits) - 1 : 0xFFFF_FFFFUL;
        if ((_cr4 & Cr4.PCIDE) != 0) mask |= 1UL << 63;
        if ((v & ~mask) != 0) return FaultGp0();
        ulong old = _cr3;
        ulong oldPcid = _paging.Pcid;
        bool noFlush = (_cr4 & Cr4.PCIDE) != 0 && (v >> 63) != 0;
        _cr3 = v & ~(1UL << 63);
        if ((_cr0 & Cr0.PG) != 0 && !RefreshPaging(true))
        {
            _cr3 = old;
            RefreshPaging(false);
            return FaultGp0();
        }
        // The software TLB holds the current PCID's translations only (Cpu.cs, TlbEntry): a new PCID empties it.
        if (_paging.Pcid != oldPcid) FlushTlb();
        // MOV CR3 drops the non-global translations (of the new PCID with CR4.PCIDE; none when
        // bit 63 asks to keep them); global ones survive (SDM Vol. 3A, 4.10.4.1).
        if (noFlush) ForgetFetchPage();
        else
        {
            FlushTlbNonGlobal((_cr4 & Cr4.PCIDE) != 0 ? (int)(_cr3 & 0xFFF) : null);
            TimingTlbFlushNonGlobal((_cr4 & Cr4.PCIDE) != 0 ? (int)(_cr3 & 0xFFF) : -1); // issue 10
            MovToCr3Timing();
        }
        return true;
    }

    private void ExecMovToCr(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        ulong v = GetReg(d.Reg2, d.OpSize);
        if (_nonRoot && MovToCrExits(ref d, ref v)) return;
        switch (d.Reg3)
        {
            case 0: WriteCr0(v); break;
            case 2: _cr2 = v; break;
            case 3: WriteCr3(v); break;
            case 4: WriteCr4(v); break;
            case 8:
                // CR8 is TPR[7:4] (SDM Vol. 3A, 10.8.6.1).
                if ((v & ~0xFUL) != 0) { FaultGp0(); return; }
                if (_nonRoot && NrProc(Vmx.PrimaryProcessorBasedControls.UseTprShadow)) { WriteVirtualTpr(v); break; }
                Apic.Tpr = (byte)(v << 4);
                break;
            default: Fault(ExceptionVector.UD); return;
        }
        _signal |= SignalEvent; // the mode, paging or TPR may have changed: leave the run
    }

    private void ExecMovFromCr(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        if (_nonRoot) { ExecMovFromCrNonRoot(ref d); return; }
        if (TryReadCr(d.Reg3, out ulong v)) SetReg(d.Reg, d.OpSize, v);
    }

    /// <summary>The value MOV from CR<paramref name="n"/> reads (CR0, CR2, CR3, CR4, CR8); #UD for any other number.</summary>
    private bool TryReadCr(int n, out ulong v)
    {
        switch (n)
        {
            case 0: v = _cr0; return true;
            case 2: v = _cr2; return true;
            case 3: v = _cr3; return true;
            case 4: v = _cr4; return true;
            case 8: // CR8 is TPR[7:4]; with "use TPR shadow" it is VTPR[7:4] of the virtual-APIC page
                v = _nonRoot && NrProc(Vmx.PrimaryProcessorBasedControls.UseTprShadow) ? (ReadPhysical(_nr.VirtualApic + 0x80, 4) >> 4) & 0xF : (ulong)(Apic.Tpr >> 4);
                return true;
            default: v = 0; return Fault(ExceptionVector.UD);
        }
    }

    private void ExecMovDr(ref DecodedInstruction d, bool toDr)
    {
        if (_nonRoot && MovDrExits(ref d, toDr)) return;
        if (!CheckCpl0()) return;
        int n = d.Reg3;
        if (n is 4 or 5)
        {
            if ((_cr4 & Cr4.DE) != 0) { Fault(ExceptionVector.UD); return; }
            n += 2;
        }
        if (n > 7) { Fault(ExceptionVector.UD); return; }
        if (GeneralDetect()) return;
        if (toDr)
        {
            ulong v = GetReg(d.Reg2, d.OpSize);
            if (n >= 6 && (v >> 32) != 0) { FaultGp0(); return; }
            // DR6/DR7 fixed bits (SDM Vol. 3A, 18.2.3-18.2.4).
            if (n == 6) v = (v & 0x0001_E00FUL) | 0xFFFE_0FF0UL;
            if (n == 7) v = (v & 0xFFFF_2BFFUL) | 0x400UL;
            _dr[n] = v;
            if (n == 7)
            {
                DebugRegistersChanged();
                _signal |= SignalEvent; // end a sequential run: the next instructions may be breakpoint-checked steps
            }
        }
        else SetReg(d.Reg, d.OpSize, _dr[n]);
    }

    private void ExecLoadTable(ref DecodedInstruction d, bool idt)
    {
        if (!CheckCpl0()) return;
        if (_nonRoot && DescriptorTableExits(ref d, Vmx.VmxExitReason.GdtrIdtrAccess, idt ? 3u : 2u)) return;
        ulong lin = Lin(ref d);
        int bsize = _codeBits == 64 ? 8 : 4;
        if (!Read(lin, 2, out ulong limit, d.Segment == 2) || !Read(lin + 2, bsize, out ulong b, d.Segment == 2)) return;
        if (_codeBits != 64 && d.OpSize == 2) b &= 0xFF_FFFF;
        // In 64-bit mode the loaded base must be canonical at the processor's width (#GP(0)).
        if (_codeBits == 64 && !IsCanonicalLoad(b)) { FaultGp0(); return; }
        var r = new DescriptorTableRegister(b, (ushort)limit);
        if (idt) _idtr = r;
        else _gdtr = r;
    }

    private void ExecStoreTable(ref DecodedInstruction d, bool idt)
    {
        if (_cpl > 0 && (_cr4 & Cr4.UMIP) != 0) { FaultGp0(); return; }
        if (_nonRoot && DescriptorTableExits(ref d, Vmx.VmxExitReason.GdtrIdtrAccess, idt ? 1u : 0u)) return;
        var r = idt ? _idtr : _gdtr;
        ulong lin = Lin(ref d);
        int bsize = _codeBits == 64 ? 8 : 4;
        if (!Write(lin, 2, r.Limit, d.Segment == 2) || !Write(lin + 2, bsize, r.Base, d.Segment == 2)) return;
    }

    /// <summary>LLDT / LTR: a system descriptor from the GDT (16 bytes in IA-32e mode); LTR marks the TSS busy.</summary>
    private void ExecLoadSystemSegment(ref DecodedInstruction d, bool tr)
    {
        if (!CheckCpl0()) return;
        if ((_cr0 & Cr0.PE) == 0) { Fault(ExceptionVector.UD); return; }
        if (_nonRoot && DescriptorTableExits(ref d, Vmx.VmxExitReason.LdtrTrAccess, tr ? 3u : 2u)) return;
        if (!ReadA(ref d, 2, out ulong selv, out _)) return;
        ushort sel = (ushort)selv;
        if ((sel & 0xFFFC) == 0)
        {
            if (tr) { FaultGp0(); return; }
            _ldtr = SegmentCache.Null(sel);
            return;
        }
        if ((sel & 4) != 0) { Fault(ExceptionVector.GP, SelError(sel), true); return; }
        if (!ReadDescriptor(sel, out ulong desc, out ulong lin)) return;
        var c = SegmentCache.FromDescriptor(sel, desc);
        bool lma = (_efer & Efer.LMA) != 0;
        bool ok = tr ? (c.AccessRights & SegmentCache.S) == 0 && (c.Type == 9 || (!lma && c.Type == 1))
                     : (c.AccessRights & SegmentCache.S) == 0 && c.Type == 2;
        if (!ok) { Fault(ExceptionVector.GP, SelError(sel), true); return; }
        if (!c.Present) { Fault(ExceptionVector.NP, SelError(sel), true); return; }
        if (lma)
        {
            if (!ReadSupervisor(lin + 8, 8, out ulong hi)) return;
            if (((hi >> 40) & 0x1F) != 0) { Fault(ExceptionVector.GP, SelError(sel), true); return; } // the upper half's type field (bits 12:8 of its high dword) must be 0
            c = c with { Base = c.Base | ((hi & 0xFFFF_FFFF) << 32) };
            // A non-canonical 64-bit base is #GP(selector) (SDM Vol. 2A, LLDT/LTR), at the processor's width.
            if (!IsCanonicalLoad(c.Base)) { Fault(ExceptionVector.GP, SelError(sel), true); return; }
        }
        if (tr)
        {
            if (!WriteSupervisor(lin + 5, 1, (desc >> 40) | 2)) return;
            _tr = c with { AccessRights = c.AccessRights | 2 };
        }
        else _ldtr = c;
    }

    private void ExecStoreSystemSelector(ref DecodedInstruction d, bool tr)
    {
        if ((_cr0 & Cr0.PE) == 0) { Fault(ExceptionVector.UD); return; }
        if (_cpl > 0 && (_cr4 & Cr4.UMIP) != 0) { FaultGp0(); return; }
        if (_nonRoot && DescriptorTableExits(ref d, Vmx.VmxExitReason.LdtrTrAccess, tr ? 1u : 0u)) return;
        ushort sel = tr ? _tr.Selector : _ldtr.Selector;
        if ((d.Flags & DecodedFlags.MemA) != 0) Write(Lin(ref d), 2, sel, d.Segment == 2);
        else SetReg(d.Reg, d.OpSize, sel);
    }

    private void ExecLmsw(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        if (!ReadA(ref d, 2, out ulong v, out ulong lin)) return;
        // LMSW changes PE, MP, EM, TS and can set but not clear PE.
        ulong nv = (_cr0 & ~0xEUL) | (v & 0xF) | (_cr0 & Cr0.PE);
        if (_nonRoot && LmswExits(ref d, v, lin, ref nv)) return;
        WriteCr0(nv);
        _signal |= SignalEvent;
    }

    private void ExecSmsw(ref DecodedInstruction d)
    {
        if (_cpl > 0 && (_cr4 & Cr4.UMIP) != 0) { FaultGp0(); return; }
        ulong cr0 = Cr0AsRead; // host-owned bits read from the CR0 read shadow in non-root operation
        if ((d.Flags & DecodedFlags.MemA) != 0) Write(Lin(ref d), 2, cr0 & 0xFFFF, d.Segment == 2);
        else SetReg(d.Reg, d.OpSize, cr0);
    }

    private void ExecClts(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        if (_nonRoot && CltsIntercepted(ref d)) return;
        _cr0 &= ~Cr0.TS;
    }

    private void ExecInvlpg(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        if (_nonRoot && InvlpgExits(ref d)) return;
        InvalidatePage(Lin(ref d));
    }

    private void ExecInvpcid(ref DecodedInstruction d)
    {
        if (_nonRoot && InvpcidIntercepted(ref d)) return;
        if (!CheckCpl0()) return;
        ulong type = GetReg(d.Reg, _codeBits == 64 ? 8 : 4);
        ulong lin = Lin(ref d);
        if (!Read(lin, 8, out ulong pcid, d.Segment == 2) || !Read(lin + 8, 8, out ulong addr, d.Segment == 2)) return;
        if (type > 3 || (pcid >> 12) != 0) { FaultGp0(); return; }
        switch (type)
        {
            case 0: // individual address
                if (!IsCanonicalLoad(addr)) { FaultGp0(); return; }
                InvalidatePage(addr);
                break;
            case 1: FlushTlbNonGlobal((int)pcid); TimingTlbFlushNonGlobal((int)pcid); break; // single context
            case 2: FlushTlb(); TimingTlbFlushAll(); break;                                 // all contexts, globals included
            default: FlushTlbNonGlobal(); TimingTlbFlushNonGlobal(-1); break;              // all contexts, globals kept
        }
    }

    /// <summary>Drops any TLB entry for the page of <paramref name="lin"/> (INVLPG).</summary>
    private void InvalidatePage(ulong lin)
    {
        // Whatever the PCID or privilege key, and global or not (SDM Vol. 3A, INVLPG).
        ulong vpn = (lin >> 12) & TlbVpnMask; // bits 45:0 on both sides (address bits 57:12)
        int i = (int)(vpn & (TlbSize - 1));
        if ((_tlb[i].Tag & TlbVpnMask) == vpn) _tlb[i].Tag = NoTag;
        if ((_tlb[TlbSize + i].Tag & TlbVpnMask) == vpn) _tlb[TlbSize + i].Tag = NoTag;
        ForgetFetchPage();
        TimingTlbInvalidatePage(lin); // issue 10 (a large page drops all its software entries)
    }

    /// <summary>RDMSR/WRMSR for the MSRs the model exposes; any other index raises #GP(0) (SDM Vol. 2B, RDMSR).</summary>
    private bool TryReadMsr(uint index, out ulong v)
    {
        if (TryReadDebugMsr(index, out v)) return true;
        switch (index)
        {
            case Msr.Tsc: v = ReadTsc(); return true;
            case Msr.PlatformId: v = 0; return true; // platform ID 0; read-only (WRMSR falls through to #GP)
            case Msr.ApicBase: v = Apic.BaseMsr; return true;
            case Msr.FeatureControl: v = _featureControl; return true;
            case Msr.MtrrCap: v = 0x508; return true; // 8 variable ranges, fixed ranges, write-combining
            case Msr.BiosSignId: v = _biosSignId; return true;
            case Msr.DebugCtl: v = _debugCtl; return true;
            case Msr.SysenterCs: v = _sysenterCs; return true;
            case Msr.SysenterEsp: v = _sysenterEsp; return true;
            case Msr.SysenterEip: v = _sysenterEip; return true;
            case Msr.Pat: v = _pat; return true;
            case Msr.MtrrDefType: v = _mtrrDefType; return true;
            case Msr.Efer: v = _efer; return true;
            case Msr.Star: v = _star; return true;
            case Msr.Lstar: v = _lstar; return true;
            case Msr.Cstar: v = _cstar; return true;
            case Msr.Fmask: v = _fmask; return true;
            case Msr.FsBase: v = _seg[4].Base; return true;
            case Msr.GsBase: v = _seg[5].Base; return true;
            case Msr.KernelGsBase: v = _kernelGsBase; return true;
            case Msr.TscAux: v = TscAux; return true;
        }
        if (index is >= Msr.MtrrPhysBase0 and < Msr.MtrrPhysBase0 + 16) { v = _mtrrVar[index - Msr.MtrrPhysBase0]; return true; }
        int fixedIdx = FixedMtrrIndex(index);
        if (fixedIdx >= 0) { v = _mtrrFixed[fixedIdx]; return true; }
        if (Model.Vmx is { } vmx && vmx.TryReadMsr(index, out v)) return true;
        return Apic.TryReadMsr(index, out v);
    }

    /// <summary>Memory types an MTRR may hold: UC, WC, WT, WP, WB (SDM Vol. 3A, Table 12-8).</summary>
    private static bool IsMtrrType(ulong t) => t is 0 or 1 or 4 or 5 or 6;

    private static int FixedMtrrIndex(uint index) => index switch
    {
        0x250 => 0,
        0x258 => 1,
        0x259 => 2,
        >= 0x268 and <= 0x26F => (int)(index - 0x268) + 3,
        _ => -1,
    };

    private bool TryWriteMsr(uint index, ulong v)
    {
        bool canonical = IsCanonicalLoad(v); // MSRs holding linear addresses: the processor's maximum width
        if (TryWriteDebugMsr(index, v) is bool debugMsr) return debugMsr;
        switch (index)
        {
            case Msr.Tsc: TscOffset = v - _cycles * Model.TscPerCycle; return true;
            case Msr.ApicBase:
                if (!Apic.TryWriteBaseMsr(v)) return false;
                FlushTlb(); // the APIC page may have moved or appeared over RAM
                return true;
            case Msr.FeatureControl:
                if ((_featureControl & 1) != 0) return false;
                _featureControl = v;
                return true;
            case Msr.DebugCtl: if ((v & ~DebugCtlSupported) != 0) return false; _debugCtl = v; return true;
            case Msr.BiosSignId: _biosSignId = v; return true; // software writes 0, then CPUID fills in the signature
            case Msr.SysenterCs: _sysenterCs = v & 0xFFFF; return true;
            case Msr.SysenterEsp: if (!canonical) return false; _sysenterEsp = v; return true;
            case Msr.SysenterEip: if (!canonical) return false; _sysenterEip = v; return true;
            case Msr.Pat:
                for (int i = 0; i < 8; i++)
                {
                    ulong t = (v >> (i * 8)) & 0xFF;
                    if (t is 2 or 3 or > 7) return false;
                }
                _pat = v;
                return true;
            case Msr.MtrrDefType:
                if ((v & ~0xCFFUL) != 0 || !IsMtrrType(v & 0xFF)) return false;
                _mtrrDefType = v;
                return true;
            case Msr.Efer:
            {
                const ulong writable = Efer.SCE | Efer.LME | Efer.NXE;
                if ((v & ~(writable | Efer.LMA)) != 0) return false;
                if ((v & Efer.NXE) != 0 && XdDisabled) return false; // NX hidden by IA32_MISC_ENABLE.XD disable
                if (((v ^ _efer) & Efer.LME) != 0 && (_cr0 & Cr0.PG) != 0) return false;
                _efer = (v & writable) | (_efer & Efer.LMA);
                FlushTlb();
                ModeChanged();
                return true;
            }
            case Msr.Star: _star = v; return true;
            case Msr.Lstar: if (!canonical) return false; _lstar = v; return true;
            case Msr.Cstar: if (!canonical) return false; _cstar = v; return true;
            case Msr.Fmask: _fmask = v & 0xFFFF_FFFF; return true;
            case Msr.FsBase: if (!canonical) return false; _seg[4] = _seg[4] with { Base = v }; ModeChanged(); return true;
            case Msr.GsBase: if (!canonical) return false; _seg[5] = _seg[5] with { Base = v }; ModeChanged(); return true;
            case Msr.KernelGsBase: if (!canonical) return false; _kernelGsBase = v; return true;
            case Msr.TscAux: if ((v >> 32) != 0) return false; TscAux = (uint)v; return true;
        }
        // MTRRs: reserved bits and undefined memory types are #GP(0) (SDM Vol. 3A, 12.11.2-12.11.3).
        ulong physMask = (1UL << Model.PhysicalAddressBits) - 1;
        if (index is >= Msr.MtrrPhysBase0 and < Msr.MtrrPhysBase0 + 16)
        {
            bool ok = (index & 1) == 0
                ? IsMtrrType(v & 0xFF) && (v & 0xF00) == 0 && (v & ~physMask) == 0   // IA32_MTRR_PHYSBASEn
                : (v & 0x7FF) == 0 && (v & ~physMask) == 0;                          // IA32_MTRR_PHYSMASKn
            if (!ok) return false;
            _mtrrVar[index - Msr.MtrrPhysBase0] = v;
            return true;
        }
        int fixedIdx = FixedMtrrIndex(index);
        if (fixedIdx >= 0)
        {
            for (int i = 0; i < 64; i += 8) if (!IsMtrrType((v >> i) & 0xFF)) return false;
            _mtrrFixed[fixedIdx] = v;
            return true;
        }
        return Apic.TryWriteMsr(index, v);
    }

    /// <summary>Reads an MSR as RDMSR would (null for an index the model does not expose).</summary>
    public ulong? ReadMsr(uint index) => TryReadMsr(index, out ulong v) ? v : null;

    /// <summary>Writes an MSR as WRMSR would; false when WRMSR would raise #GP(0).</summary>
    public bool WriteMsr(uint index, ulong value) => TryWriteMsr(index, value);

    private void ExecRdmsr(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        if (_nonRoot && MsrExits(ref d, write: false)) return;
        uint index = (uint)_gpr[1];
        if (!TryReadMsr(index, out ulong v)) { FaultGp0(); return; }
        if (_nonRoot && index == Msr.Tsc) v = GuestTsc(v); // IA32_TIME_STAMP_COUNTER is offset (and scaled) for the guest
        _gpr[0] = (uint)v;
        _gpr[2] = v >> 32;
    }

    private void ExecWrmsr(ref DecodedInstruction d)
    {
        if (!CheckCpl0()) return;
        if (_nonRoot && MsrExits(ref d, write: true)) return;
        ulong v = ((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0];
        if (!TryWriteMsr((uint)_gpr[1], v)) { FaultGp0(); return; }
        _signal |= SignalEvent;
    }

    private void ExecSwapgs()
    {
        if (_codeBits != 64) { Fault(ExceptionVector.UD); return; }
        if (!CheckCpl0()) return;
        ulong t = _seg[5].Base;
        _seg[5] = _seg[5] with { Base = _kernelGsBase };
        _kernelGsBase = t;
        ModeChanged();
    }

    /// <summary>SYSCALL (64-bit mode): RCX = next RIP, R11 = RFLAGS, CS/SS from STAR[47:32], RFLAGS &amp;= ~FMASK, RIP = LSTAR (SDM Vol. 2B, SYSCALL).</summary>
    private void ExecSyscall()
    {
        if ((_efer & Efer.SCE) == 0 || _codeBits != 64) { Fault(ExceptionVector.UD); return; }
        ushort cs = (ushort)((_star >> 32) & 0xFFFC);
        _gpr[1] = _nextRip;
        _gpr[11] = ReadRflags() & ~(ulong)RFlags.RF;
        WriteRflags(ReadRflags() & ~_fmask & ~(ulong)RFlags.RF);
        _seg[1] = new SegmentCache(cs, 0, 0xFFFF_FFFF, 0x9B | SegmentCache.L | SegmentCache.G);
        _seg[2] = new SegmentCache((ushort)(cs + 8), 0, 0xFFFF_FFFF, 0x93 | SegmentCache.DB | SegmentCache.G);
        _cpl = 0;
        ModeChanged();
        _nextRip = _lstar;
    }

    /// <summary>SYSRET: back to CPL 3 in 64-bit (REX.W) or compatibility mode; #GP(0) for a non-canonical RCX (SDM Vol. 2B, SYSRET).</summary>
    private void ExecSysret(ref DecodedInstruction d)
    {
        if ((_efer & Efer.SCE) == 0 || _codeBits != 64) { Fault(ExceptionVector.UD); return; }
        if (!CheckCpl0()) return;
        bool to64 = d.OpSize == 8;
        ulong rip = to64 ? _gpr[1] : (uint)_gpr[1];
        if (to64 && !IsCanonical(rip)) { FaultGp0(); return; }
        ushort baseSel = (ushort)(_star >> 48);
        ushort cs = (ushort)((to64 ? baseSel + 16 : baseSel) | 3);
        WriteRflags((_gpr[11] & 0x3C7FD7) | 2);
        _seg[1] = new SegmentCache(cs, 0, 0xFFFF_FFFF, 0xFB | SegmentCache.G | (to64 ? SegmentCache.L : SegmentCache.DB));
        _seg[2] = _seg[2] with { Selector = (ushort)((baseSel + 8) | 3), AccessRights = 0xF3 | SegmentCache.DB | SegmentCache.G, Limit = 0xFFFF_FFFF, Base = 0 };
        _cpl = 3;
        ModeChanged();
        _nextRip = rip;
        _signal |= SignalEvent;
    }

    /// <summary>SYSENTER: CPL 0 flat code/stack from IA32_SYSENTER_CS, RIP/RSP from the MSRs; clears IF, VM, RF (SDM Vol. 2B, SYSENTER).</summary>
    private void ExecSysenter()
    {
        if ((_cr0 & Cr0.PE) == 0 || (_sysenterCs & 0xFFFC) == 0) { FaultGp0(); return; }
        bool lma = (_efer & Efer.LMA) != 0;
        ushort cs = (ushort)(_sysenterCs & 0xFFFC);
        WriteRflags(ReadRflags() & ~(ulong)(RFlags.IF | RFlags.VM | RFlags.RF));
        _seg[1] = new SegmentCache(cs, 0, 0xFFFF_FFFF, 0x9B | SegmentCache.G | (lma ? SegmentCache.L : SegmentCache.DB));
        _seg[2] = new SegmentCache((ushort)(cs + 8), 0, 0xFFFF_FFFF, 0x93 | SegmentCache.DB | SegmentCache.G);
        _cpl = 0;
        ModeChanged();
        _gpr[4] = lma ? _sysenterEsp : (uint)_sysenterEsp;
        _nextRip = lma ? _sysenterEip : (uint)_sysenterEip;
        _signal |= SignalEvent;
    }

    /// <summary>SYSEXIT: to CPL 3, RIP = rDX, RSP = rCX; 64-bit with REX.W (SDM Vol. 2B, SYSEXIT).</summary>
    private void ExecSysexit(ref DecodedInstruction d)
    {
        if ((_cr0 & Cr0.PE) == 0 || (_sysenterCs & 0xFFFC) == 0 || _cpl != 0) { FaultGp0(); return; }
        bool to64 = d.OpSize == 8;
        ushort cs = (ushort)(((_sysenterCs & 0xFFFC) + (to64 ? 32u : 16u)) | 3);
        ulong rip = to64 ? _gpr[2] : (uint)_gpr[2];
        if (to64 && !IsCanonical(rip)) { FaultGp0(); return; }
        _seg[1] = new SegmentCache(cs, 0, 0xFFFF_FFFF, 0xFB | SegmentCache.G | (to64 ? SegmentCache.L : SegmentCache.DB));
        _seg[2] = new SegmentCache((ushort)((cs + 8) | 3), 0, 0xFFFF_FFFF, 0xF3 | SegmentCache.DB | SegmentCache.G);
        _cpl = 3;
        ModeChanged();
        _gpr[4] = to64 ? _gpr[1] : (uint)_gpr[1];
        _nextRip = rip;
    }

    private void ExecXgetbv()
    {
        if ((_cr4 & Cr4.OSXSAVE) == 0) { Fault(ExceptionVector.UD); return; }
        if ((uint)_gpr[1] != 0) { FaultGp0(); return; }
        _gpr[0] = (uint)_xcr0;
        _gpr[2] = _xcr0 >> 32;
    }

    private void ExecXsetbv(ref DecodedInstruction d)
    {
        if ((_cr4 & Cr4.OSXSAVE) == 0) { Fault(ExceptionVector.UD); return; }
        if (!CheckCpl0()) return;
        if (_nonRoot) { ExitForInstruction(ref d, Vmx.VmxExitReason.Xsetbv); return; }
        ulong v = ((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0];
        // SDM Vol. 2C, XSETBV: ECX must select XCR0; XCR0 may set only supported components (CPUID.0Dh.0:
        // EDX:EAX), bit 0 (x87) must be 1, and AVX state (bit 2) requires SSE state (bit 1).
        if ((uint)_gpr[1] != 0 || (v & ~Model.XsaveComponents) != 0 || (v & XfeatureX87) == 0
            || ((v & XfeatureAvx) != 0 && (v & XfeatureSse) == 0)) { FaultGp0(); return; }
        _xcr0 = v;
    }

    private void ExecStacClac(bool set)
    {
        if (!CheckCpl0()) return;
        if (set) _rflags |= (ulong)RFlags.AC;
        else _rflags &= ~(ulong)RFlags.AC;
        UpdateTlbKey();
    }
}
