using System.Buffers.Binary;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

/// <summary>
/// FXSAVE/FXRSTOR (SDM Vol. 1, 10.5; Vol. 2A FXSAVE/FXRSTOR), LDMXCSR/STMXCSR (Vol. 2A) and the
/// XSAVE feature set XSAVE/XSAVEOPT/XSAVEC/XRSTOR (Vol. 1, chapter 13) for the state components this
/// processor implements: x87 (XCR0 bit 0) and SSE (bit 1). Components of the extended region (AVX
/// and later) are added through <see cref="CpuModel.XsaveComponents"/> and the two per-component hooks
/// marked below.
/// </summary>
public sealed unsafe partial class Cpu
{
    /// <summary>XCR0 bit of the x87 state component (SDM Vol. 1, 13.1).</summary>
    internal const ulong XfeatureX87 = 1;
    /// <summary>XCR0 bit of the SSE state component (XMM registers and MXCSR).</summary>
    internal const ulong XfeatureSse = 2;
    /// <summary>XCR0 bit of the AVX state component (not offered yet; MXCSR also belongs to it for the standard XRSTOR).</summary>
    internal const ulong XfeatureAvx = 4;

    private const int LegacyRegionSize = 512;
    private const int XsaveHeaderSize = 64;
    private const int StateImageSize = 416;   // bytes of the legacy region FXSAVE/XSAVE may write (511:416 are never touched)

    // Components XRSTOR loaded from memory stay "in use" (XINUSE = 1) until initialized again (SDM Vol. 1,
    // 13.8.3); otherwise a component is tracked as in use exactly when it is not in its initial configuration.
    private ulong _xinuseLoaded;

    // XRSTOR_INFO (SDM Vol. 1, 13.6 and 13.9): the CPL, VMX non-root flag, linear address and XCOMP_BV of
    // the last XRSTOR, and the state it left, so XSAVEOPT can skip components not modified since.
    private bool _xrstorInfoValid;
    private int _xrstorCpl;
    private bool _xrstorNonRoot;
    private ulong _xrstorLin, _xrstorCompBv;
    private readonly byte[] _xrstorState = new byte[CanonicalStateSize];

    static partial void RegisterSimdState(InstructionTable t)
    {
        t.Add(Code.Fxsave_m512byte, &ExecFxsave, 0);
        t.Add(Code.Fxsave64_m512byte, &ExecFxsave, 1);
        t.Add(Code.Fxrstor_m512byte, &ExecFxrstor, 0);
        t.Add(Code.Fxrstor64_m512byte, &ExecFxrstor, 1);
        t.Add(Code.Ldmxcsr_m32, &ExecLdmxcsr);
        t.Add(Code.Stmxcsr_m32, &ExecStmxcsr);
        // Variant: bit 0 = REX.W (64-bit x87 pointer format), bits 2:1 = XSAVE (0), XSAVEOPT (1), XSAVEC (2).
        t.Add(Code.Xsave_mem, &ExecXsave, 0);
        t.Add(Code.Xsave64_mem, &ExecXsave, 1);
        t.Add(Code.Xsaveopt_mem, &ExecXsave, 2);
        t.Add(Code.Xsaveopt64_mem, &ExecXsave, 3);
        t.Add(Code.Xsavec_mem, &ExecXsave, 4);
        t.Add(Code.Xsavec64_mem, &ExecXsave, 5);
        t.Add(Code.Xrstor_mem, &ExecXrstor, 0);
        t.Add(Code.Xrstor64_mem, &ExecXrstor, 1);
    }

    // ------------------------------------------------------------------ FXSAVE / FXRSTOR

    private static void ExecFxsave(Cpu c, ref DecodedInstruction d) => c.Fxsave(ref d, d.Cond != 0);
    private static void ExecFxrstor(Cpu c, ref DecodedInstruction d) => c.Fxrstor(ref d, d.Cond != 0);

    /// <summary>XMM registers in the legacy region: XMM0-15 in 64-bit mode, XMM0-7 elsewhere (SDM Vol. 1, 10.5.1.2).</summary>
    private int LegacyXmmCount => _codeBits == 64 ? 16 : 8;

    /// <summary>
    /// FXSAVE: CR0.EM or CR0.TS raise #NM (FXSAVE page: EM is #NM, not #UD); a misaligned area #GP(0).
    /// Writes bytes 159:0 (x87 state with the reserved bytes between fields as 0, MXCSR and MXCSR_MASK)
    /// and, when CR4.OSFXSR = 1, the XMM registers; bytes 511:416 (and 415:288 outside 64-bit mode) are
    /// not written. With CR4.OSFXSR = 0 the SDM lets the XMM registers go unsaved; this model saves MXCSR
    /// but not the XMM registers, as Bochs does.
    /// </summary>
    private void Fxsave(ref DecodedInstruction d, bool rexW)
    {
        if ((_cr0 & (Cr0.EM | Cr0.TS)) != 0) { Fault(ExceptionVector.NM); return; }
        ulong lin = ExtLin(ref d, LegacyRegionSize);
        if (SegmentFaulted || !CheckAligned(lin, 16)) return;
        Span<byte> img = stackalloc byte[StateImageSize];
        img.Clear();
        BuildX87Image(img, rexW);
        BuildMxcsrImage(img);
        int n = (_cr4 & Cr4.OSFXSR) != 0 ? LegacyXmmCount : 0;
        BuildXmmImage(img, n);
        WriteBlock(lin, img[..(160 + 16 * n)], IsStackOperand(ref d));
    }

    /// <summary>
    /// FXRSTOR: the faults of FXSAVE, then #GP(0) when the image's MXCSR sets a bit outside MXCSR_MASK
    /// (checked before anything is loaded). MXCSR is loaded whatever CR4.OSFXSR is; the XMM registers
    /// only when CR4.OSFXSR = 1 (SDM: implementation dependent; Bochs does the same).
    /// </summary>
    private void Fxrstor(ref DecodedInstruction d, bool rexW)
    {
        if ((_cr0 & (Cr0.EM | Cr0.TS)) != 0) { Fault(ExceptionVector.NM); return; }
        ulong lin = ExtLin(ref d, LegacyRegionSize);
        if (SegmentFaulted || !CheckAligned(lin, 16)) return;
        int n = (_cr4 & Cr4.OSFXSR) != 0 ? LegacyXmmCount : 0;
        Span<byte> img = stackalloc byte[StateImageSize];
        if (!ReadBlock(lin, img[..(160 + 16 * n)], IsStackOperand(ref d))) return;
        uint mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(img[24..]);
        if ((mxcsr & ~MxcsrMask) != 0) { FaultGp0(); return; }
        LoadX87Image(img, rexW);
        _mxcsr = mxcsr;
        LoadXmmImage(img, n);
    }

    // ------------------------------------------------------------------ LDMXCSR / STMXCSR

    /// <summary>LDMXCSR: SSE availability (#UD/#NM), the load, then #GP(0) for a reserved bit (SDM Vol. 2A, LDMXCSR).</summary>
    private static void ExecLdmxcsr(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable()) return;
        ulong lin = c.ExtLin(ref d, 4);
        if (!c.Read(lin, 4, out ulong v, IsStackOperand(ref d))) return;
        if ((v & ~(ulong)MxcsrMask) != 0) { c.FaultGp0(); return; }
        c._mxcsr = (uint)v;
    }

    /// <summary>STMXCSR: SSE availability (#UD/#NM), then stores MXCSR (reserved bits read as 0).</summary>
    private static void ExecStmxcsr(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable()) return;
        ulong lin = c.ExtLin(ref d, 4);
        c.Write(lin, 4, c._mxcsr & MxcsrMask, IsStackOperand(ref d));
    }

    // ------------------------------------------------------------------ legacy-region images

    /// <summary>
    /// x87 state into the legacy-region image (SDM Vol. 1, Table 10-2/10-3): FCW, FSW with TOP, abridged
    /// FTW (bit i = physical register Ri valid), FOP, FIP/FCS and FDP/FDS (REX.W: 64-bit FIP and FDP,
    /// no selectors), ST0-ST7 in stack order, 10 bytes each in 16-byte slots.
    /// </summary>
    private void BuildX87Image(Span<byte> img, bool rexW)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(img, _fpuControl);
        BinaryPrimitives.WriteUInt16LittleEndian(img[2..], FpuStatusWord);
        img[4] = (byte)~_fpuEmpty;
        img[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(img[6..], (ushort)(_fpuOpcode & 0x7FF));
        if (rexW)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(img[8..], _fpuIp);
            BinaryPrimitives.WriteUInt64LittleEndian(img[16..], _fpuDp);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(img[8..], (uint)_fpuIp);
            BinaryPrimitives.WriteUInt32LittleEndian(img[12..], _fpuCs);
            BinaryPrimitives.WriteUInt32LittleEndian(img[16..], (uint)_fpuDp);
            BinaryPrimitives.WriteUInt32LittleEndian(img[20..], _fpuDs);
        }
        for (int i = 0; i < 8; i++)
        {
            Float80 r = _fpr[(_fpuTop + i) & 7];
            Span<byte> slot = img.Slice(32 + 16 * i, 16);
            BinaryPrimitives.WriteUInt64LittleEndian(slot, r.Significand);
            BinaryPrimitives.WriteUInt16LittleEndian(slot[8..], r.SignExponent);
            slot[10..].Clear();
        }
    }

    /// <summary>MXCSR and MXCSR_MASK at bytes 24 and 28.</summary>
    private void BuildMxcsrImage(Span<byte> img)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(img[24..], _mxcsr);
        BinaryPrimitives.WriteUInt32LittleEndian(img[28..], MxcsrMask);
    }

    /// <summary>XMM0..XMM(<paramref name="count"/>-1) at byte 160 + 16 i.</summary>
    private void BuildXmmImage(Span<byte> img, int count)
    {
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(img[(160 + 16 * i)..], XmmLane(i, 0));
            BinaryPrimitives.WriteUInt64LittleEndian(img[(168 + 16 * i)..], XmmLane(i, 1));
        }
    }

    /// <summary>
    /// Loads the x87 state of a legacy-region image: FCW with its reserved bits cleared and bit 6 set,
    /// FSW (ES and B recomputed from the unmasked exception flags, so a restored pending exception is
    /// delivered by the next waiting instruction, as after FLDENV/FRSTOR), TOP, tags, FOP (11 bits),
    /// pointers (REX.W: 64-bit offsets, selectors 0) and ST0-ST7 from stack order.
    /// </summary>
    private void LoadX87Image(ReadOnlySpan<byte> img, bool rexW)
    {
        ushort fcw = (ushort)((BinaryPrimitives.ReadUInt16LittleEndian(img) & 0x1F3F) | 0x40);
        ushort fsw = BinaryPrimitives.ReadUInt16LittleEndian(img[2..]);
        bool pending = (fsw & ~fcw & 0x3F) != 0;
        fsw = (ushort)(pending ? fsw | 0x8080 : fsw & ~0x8080);
        _fpuControl = fcw;
        _fpuStatus = (ushort)(fsw & ~0x3800);
        _fpuTop = (fsw >> 11) & 7;
        _fpuEmpty = (byte)~img[4];
        _fpuOpcode = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(img[6..]) & 0x7FF);
        if (rexW)
        {
            _fpuIp = BinaryPrimitives.ReadUInt64LittleEndian(img[8..]);
            _fpuDp = BinaryPrimitives.ReadUInt64LittleEndian(img[16..]);
            _fpuCs = _fpuDs = 0;
        }
        else
        {
            _fpuIp = BinaryPrimitives.ReadUInt32LittleEndian(img[8..]);
            _fpuCs = BinaryPrimitives.ReadUInt16LittleEndian(img[12..]);
            _fpuDp = BinaryPrimitives.ReadUInt32LittleEndian(img[16..]);
            _fpuDs = BinaryPrimitives.ReadUInt16LittleEndian(img[20..]);
        }
        for (int i = 0; i < 8; i++)
        {
            ReadOnlySpan<byte> slot = img.Slice(32 + 16 * i, 10);
            _fpr[(_fpuTop + i) & 7] = new Float80(BinaryPrimitives.ReadUInt64LittleEndian(slot), BinaryPrimitives.ReadUInt16LittleEndian(slot[8..]));
        }
    }

    private void LoadXmmImage(ReadOnlySpan<byte> img, int count)
    {
        for (int i = 0; i < count; i++)
        {
            XmmLane(i, 0) = BinaryPrimitives.ReadUInt64LittleEndian(img[(160 + 16 * i)..]);
            XmmLane(i, 1) = BinaryPrimitives.ReadUInt64LittleEndian(img[(168 + 16 * i)..]);
        }
    }

    // ------------------------------------------------------------------ init configurations and XINUSE (SDM Vol. 1, 13.6)

    /// <summary>x87 initial configuration: FCW 037Fh, FSW 0, all tags empty, FOP/FIP/FDP/FCS/FDS 0, ST0-ST7 +0.</summary>
    private bool X87InInitialConfiguration()
    {
        if (_fpuControl != 0x037F || _fpuStatus != 0 || _fpuTop != 0 || _fpuEmpty != 0xFF || _fpuOpcode != 0
            || _fpuIp != 0 || _fpuDp != 0 || _fpuCs != 0 || _fpuDs != 0) return false;
        for (int i = 0; i < 8; i++)
            if (_fpr[i].Significand != 0 || _fpr[i].SignExponent != 0) return false;
        return true;
    }

    /// <summary>SSE initial configuration: the XMM registers of the current mode are 0 (MXCSR is not considered).</summary>
    private bool SseInInitialConfiguration()
    {
        int n = LegacyXmmCount;
        for (int i = 0; i < n; i++)
            if ((XmmLane(i, 0) | XmmLane(i, 1)) != 0) return false;
        return true;
    }

    /// <summary>The x87 component's initial configuration (SDM Vol. 1, 13.6): the FNINIT state with the data registers zeroed.</summary>
    private void InitX87State()
    {
        X87Reset();
        Array.Clear(_fpr);
    }

    private void InitSseState()
    {
        int n = LegacyXmmCount;
        for (int i = 0; i < n; i++) XmmLane(i, 0) = XmmLane(i, 1) = 0;
    }

    /// <summary>
    /// XINUSE for the implemented components: 1 when XRSTOR loaded the component and it was not
    /// initialized since, or when it is not in its initial configuration (a component in its initial
    /// configuration may be reported either way, SDM Vol. 1, 13.6).
    /// </summary>
    private ulong XinUse()
    {
        ulong u = _xinuseLoaded;
        if (!X87InInitialConfiguration()) u |= XfeatureX87;
        if (!SseInInitialConfiguration()) u |= XfeatureSse;
        return u;
    }

    // The state XSAVEOPT compares with what the last XRSTOR left: x87 in bytes 0..111, SSE in 112..367.
    private const int CanonicalStateSize = 112 + 256;

    private void CaptureCanonicalState(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(s, _fpuControl);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], FpuStatusWord);
        s[4] = _fpuEmpty;
        s[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(s[6..], _fpuOpcode);
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], _fpuIp);
        BinaryPrimitives.WriteUInt64LittleEndian(s[16..], _fpuDp);
        BinaryPrimitives.WriteUInt16LittleEndian(s[24..], _fpuCs);
        BinaryPrimitives.WriteUInt16LittleEndian(s[26..], _fpuDs);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 0);
        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[(32 + 10 * i)..], _fpr[i].Significand);
            BinaryPrimitives.WriteUInt16LittleEndian(s[(40 + 10 * i)..], _fpr[i].SignExponent);
        }
        for (int i = 0; i < 16; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[(112 + 16 * i)..], XmmLane(i, 0));
            BinaryPrimitives.WriteUInt64LittleEndian(s[(120 + 16 * i)..], XmmLane(i, 1));
        }
    }

    // ------------------------------------------------------------------ XSAVE / XSAVEOPT / XSAVEC

    private static void ExecXsave(Cpu c, ref DecodedInstruction d) => c.Xsave(ref d, (d.Cond & 1) != 0, d.Cond >> 1);

    /// <summary>
    /// The common checks of the XSAVE family (SDM Vol. 1, 13.7-13.10): CR4.OSXSAVE = 0 is #UD, CR0.TS = 1
    /// #NM (CR0.EM does not apply), then the segment checks and #GP(0) for an area not 64-byte aligned.
    /// </summary>
    private bool XsaveArea(ref DecodedInstruction d, out ulong lin)
    {
        lin = 0;
        if ((_cr4 & Cr4.OSXSAVE) == 0) return Fault(ExceptionVector.UD);
        if ((_cr0 & Cr0.TS) != 0) return Fault(ExceptionVector.NM);
        lin = ExtLin(ref d, LegacyRegionSize + XsaveHeaderSize);
        return !SegmentFaulted && CheckAligned(lin, 64);
    }

    /// <summary>
    /// XSAVE (kind 0), XSAVEOPT (1), XSAVEC (2). RFBM = XCR0 AND EDX:EAX. XSAVE writes every RFBM
    /// component and XSTATE_BV[i] = XINUSE[i] for i in RFBM (other header bytes untouched). XSAVEOPT
    /// skips components not in use (init optimization) and, when the last XRSTOR was the standard form
    /// at this linear address with this CPL and VMX non-root flag, components not modified since it
    /// (modified optimization; this model detects "modified" by comparing with the state XRSTOR left).
    /// XSAVEC uses the compacted format: components in use only, XSTATE_BV = XINUSE AND RFBM,
    /// XCOMP_BV = RFBM OR 2^63. MXCSR and MXCSR_MASK are written when RFBM[1] or RFBM[2] is set, whatever
    /// XINUSE says. Bytes 511:416 are never written. All pages written are checked before any is.
    /// </summary>
    private void Xsave(ref DecodedInstruction d, bool rexW, int kind)
    {
        if (!XsaveArea(ref d, out ulong lin)) return;
        bool stack = IsStackOperand(ref d);
        ulong rfbm = _xcr0 & (((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0]);
        ulong inuse = XinUse();
        ulong oldBv = 0;
        if (kind != 2 && !Read((lin + LegacyRegionSize) & _linMask, 8, out oldBv, stack)) return;

        ulong save = rfbm;
        if (kind != 0) save &= inuse;
        if (kind == 1 && _xrstorInfoValid && _xrstorCompBv == 0 && _xrstorLin == lin && _xrstorCpl == _cpl && _xrstorNonRoot == _nonRoot)
        {
            Span<byte> now = stackalloc byte[CanonicalStateSize];
            CaptureCanonicalState(now);
            if (now[..112].SequenceEqual(_xrstorState.AsSpan(0, 112))) save &= ~XfeatureX87;
            if (now[112..].SequenceEqual(_xrstorState.AsSpan(112))) save &= ~XfeatureSse;
        }
        bool mxcsr = (rfbm & (XfeatureSse | XfeatureAvx)) != 0;

        Span<byte> img = stackalloc byte[LegacyRegionSize + XsaveHeaderSize];
        img.Clear();
        // Byte ranges written, as (start, end) pairs.
        Span<int> ranges = stackalloc int[12];
        int nr = 0;
        if ((save & XfeatureX87) != 0)
        {
            BuildX87Image(img, rexW);
            ranges[nr++] = 0; ranges[nr++] = 24;
            ranges[nr++] = 32; ranges[nr++] = 160;
        }
        if (mxcsr)
        {
            BuildMxcsrImage(img);
            ranges[nr++] = 24; ranges[nr++] = 32;
        }
        if ((save & XfeatureSse) != 0)
        {
            BuildXmmImage(img, LegacyXmmCount);
            ranges[nr++] = 160; ranges[nr++] = 160 + 16 * LegacyXmmCount;
        }
        // Extended-region components (AVX and later) would be written here at their standard or compacted offsets.
        if (kind == 2)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(img[LegacyRegionSize..], rfbm & inuse);
            BinaryPrimitives.WriteUInt64LittleEndian(img[(LegacyRegionSize + 8)..], rfbm | 1UL << 63);
            ranges[nr++] = LegacyRegionSize; ranges[nr++] = LegacyRegionSize + 16;
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(img[LegacyRegionSize..], (oldBv & ~rfbm) | (inuse & rfbm));
            ranges[nr++] = LegacyRegionSize; ranges[nr++] = LegacyRegionSize + 8;
        }
        for (int i = 0; i < nr; i += 2)
            if (!ProbeWrite((lin + (ulong)ranges[i]) & _linMask, ranges[i + 1] - ranges[i], stack)) return;
        for (int i = 0; i < nr; i += 2)
            if (!WriteBlock((lin + (ulong)ranges[i]) & _linMask, img[ranges[i]..ranges[i + 1]], stack)) return;
    }

    // ------------------------------------------------------------------ XRSTOR

    private static void ExecXrstor(Cpu c, ref DecodedInstruction d) => c.Xrstor(ref d, d.Cond != 0);

    /// <summary>
    /// XRSTOR (SDM Vol. 1, 13.8): RFBM = XCR0 AND EDX:EAX; the header decides the form (XCOMP_BV[63]).
    /// Standard form: #GP(0) when XSTATE_BV sets a bit not in XCR0 or header bytes 23:8 are not 0; MXCSR is
    /// loaded from memory when RFBM[1] or RFBM[2] is set. Compacted form (needs XSAVEC): #GP(0) when
    /// XCOMP_BV[62:0] sets a bit not in XCR0, XSTATE_BV a bit not in XCOMP_BV[62:0], or header bytes 63:16
    /// are not 0; MXCSR is loaded when RFBM[1] = XSTATE_BV[1] = 1 and set to 1F80h when RFBM[1] = 1 and
    /// XSTATE_BV[1] = 0. A component with RFBM[i] = 1 is loaded when XSTATE_BV[i] = 1, else initialized.
    /// An illegal MXCSR is #GP(0). Every check precedes every change.
    /// </summary>
    private void Xrstor(ref DecodedInstruction d, bool rexW)
    {
        if (!XsaveArea(ref d, out ulong lin)) return;
        bool stack = IsStackOperand(ref d);
        ulong rfbm = _xcr0 & (((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0]);
        Span<byte> img = stackalloc byte[LegacyRegionSize + XsaveHeaderSize];
        Span<byte> header = img[LegacyRegionSize..];
        if (!ReadBlock((lin + LegacyRegionSize) & _linMask, header, stack)) return;
        ulong bv = BinaryPrimitives.ReadUInt64LittleEndian(header);
        ulong compBv = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        bool compacted = (compBv >> 63) != 0;
        if (compacted)
        {
            if (!Model.Offers(CpuidFeature.XSAVEC) || (compBv & ~(1UL << 63) & ~_xcr0) != 0
                || (bv & ~(compBv & ~(1UL << 63))) != 0 || !IsZero(header[16..])) { FaultGp0(); return; }
        }
        else if ((bv & ~_xcr0) != 0 || !IsZero(header[8..24])) { FaultGp0(); return; }

        bool loadX87 = (rfbm & bv & XfeatureX87) != 0;
        bool loadSse = (rfbm & bv & XfeatureSse) != 0;
        bool mxcsrFromMemory = compacted ? loadSse : (rfbm & (XfeatureSse | XfeatureAvx)) != 0;
        int n = LegacyXmmCount;
        if (loadX87 && (!ReadBlock(lin, img[..24], stack) || !ReadBlock((lin + 32) & _linMask, img[32..160], stack))) return;
        if (mxcsrFromMemory && !ReadBlock((lin + 24) & _linMask, img[24..28], stack)) return;
        if (loadSse && !ReadBlock((lin + 160) & _linMask, img[160..(160 + 16 * n)], stack)) return;
        uint mxcsr = mxcsrFromMemory ? BinaryPrimitives.ReadUInt32LittleEndian(img[24..]) : MxcsrReset;
        if ((mxcsr & ~MxcsrMask) != 0) { FaultGp0(); return; }

        if ((rfbm & XfeatureX87) != 0)
        {
            if (loadX87) LoadX87Image(img, rexW);
            else InitX87State();
        }
        if ((rfbm & XfeatureSse) != 0)
        {
            if (loadSse) LoadXmmImage(img, n);
            else InitSseState();
        }
        if (mxcsrFromMemory || (compacted && (rfbm & XfeatureSse) != 0)) _mxcsr = mxcsr;
        // Extended-region components would be loaded or initialized here.
        _xinuseLoaded = (_xinuseLoaded & ~rfbm) | (rfbm & bv);
        _xrstorInfoValid = true;
        _xrstorCpl = _cpl;
        _xrstorNonRoot = _nonRoot;
        _xrstorLin = lin;
        _xrstorCompBv = compBv;
        CaptureCanonicalState(_xrstorState);
    }

    /// <summary>
    /// True when the segment checks of <see cref="ExtLin"/> recorded a fault (its returned address is
    /// then meaningless; comparing it with a sentinel would misfire on that same address in 64-bit mode).
    /// </summary>
    private bool SegmentFaulted => (_signal & SignalFault) != 0;

    private static bool IsZero(ReadOnlySpan<byte> s) => s.IndexOfAnyExcept((byte)0) < 0;
}
