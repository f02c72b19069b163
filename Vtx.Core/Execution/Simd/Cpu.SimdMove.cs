using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

// MMX/SSE data movement (SDM Vol. 2 pages of MOVAPS ... MASKMOVDQU; Vol. 1, 10.4.1.1 and 11.4.1).
public sealed unsafe partial class Cpu
{
    // Variants of SiMove: what a load or a register source writes.
    private const byte MvFull = 0;      // whole register (MOVAPS/MOVDQU/MOVQ mm ...); a store writes OpSize bytes
    private const byte MvLowZero = 1;   // low OpSize bytes, the rest of the XMM register zeroed (MOVD/MOVQ xmm, MOVQ xmm,xmm/m64)
    private const byte MvScalar = 2;    // MOVSS/MOVSD: register source merges the low element, memory zeroes the rest
    private const byte MvLow64 = 3;     // MOVLPS/MOVLPD/MOVHLPS load: low qword written, high kept
    private const byte MvHigh64 = 4;    // MOVHPS/MOVHPD load, MOVLHPS: high qword written, low kept
    private const byte MvStoreHigh = 5; // MOVHPS/MOVHPD m64, xmm: the high qword is stored

    private static void RegisterSimdMove(InstructionTable t)
    {
        // 128-bit moves: aligned unless the mnemonic says unaligned
        SiReg(t, Code.Movaps_xmm_xmmm128, &SiMove, MvFull); SiReg(t, Code.Movaps_xmmm128_xmm, &SiMove, MvFull);
        SiReg(t, Code.Movapd_xmm_xmmm128, &SiMove, MvFull); SiReg(t, Code.Movapd_xmmm128_xmm, &SiMove, MvFull);
        SiReg(t, Code.Movdqa_xmm_xmmm128, &SiMove, MvFull); SiReg(t, Code.Movdqa_xmmm128_xmm, &SiMove, MvFull);
        SiReg(t, Code.Movups_xmm_xmmm128, &SiMove, MvFull | SiUnaligned); SiReg(t, Code.Movups_xmmm128_xmm, &SiMove, MvFull | SiUnaligned);
        SiReg(t, Code.Movupd_xmm_xmmm128, &SiMove, MvFull | SiUnaligned); SiReg(t, Code.Movupd_xmmm128_xmm, &SiMove, MvFull | SiUnaligned);
        SiReg(t, Code.Movdqu_xmm_xmmm128, &SiMove, MvFull | SiUnaligned); SiReg(t, Code.Movdqu_xmmm128_xmm, &SiMove, MvFull | SiUnaligned);
        SiReg(t, Code.Lddqu_xmm_m128, &SiMove, MvFull | SiUnaligned);
        SiReg(t, Code.Movntps_m128_xmm, &SiMove, MvFull); SiReg(t, Code.Movntpd_m128_xmm, &SiMove, MvFull);
        SiReg(t, Code.Movntdq_m128_xmm, &SiMove, MvFull); SiReg(t, Code.Movntdqa_xmm_m128, &SiMove, MvFull);
        SiReg(t, Code.Movntq_m64_mm, &SiMove, MvFull);

        // Scalar and half moves
        SiReg(t, Code.Movss_xmm_xmmm32, &SiMove, MvScalar); SiReg(t, Code.Movss_xmmm32_xmm, &SiMove, MvScalar);
        SiReg(t, Code.Movsd_xmm_xmmm64, &SiMove, MvScalar); SiReg(t, Code.Movsd_xmmm64_xmm, &SiMove, MvScalar);
        SiReg(t, Code.Movlps_xmm_m64, &SiMove, MvLow64); SiReg(t, Code.Movlpd_xmm_m64, &SiMove, MvLow64);
        SiReg(t, Code.Movlps_m64_xmm, &SiMove, MvFull); SiReg(t, Code.Movlpd_m64_xmm, &SiMove, MvFull);
        SiReg(t, Code.Movhps_xmm_m64, &SiMove, MvHigh64); SiReg(t, Code.Movhpd_xmm_m64, &SiMove, MvHigh64);
        SiReg(t, Code.Movhps_m64_xmm, &SiMove, MvStoreHigh); SiReg(t, Code.Movhpd_m64_xmm, &SiMove, MvStoreHigh);
        SiReg(t, Code.Movhlps_xmm_xmm, &Movhlps); SiReg(t, Code.Movlhps_xmm_xmm, &SiMove, MvHigh64);

        // MOVD/MOVQ between GPRs, memory, MMX and XMM registers
        SiReg(t, Code.Movd_mm_rm32, &SiMoveGpr); SiReg(t, Code.Movq_mm_rm64, &SiMoveGpr);
        SiReg(t, Code.Movd_xmm_rm32, &SiMoveGpr); SiReg(t, Code.Movq_xmm_rm64, &SiMoveGpr);
        SiReg(t, Code.Movd_rm32_mm, &SiMoveGpr); SiReg(t, Code.Movq_rm64_mm, &SiMoveGpr);
        SiReg(t, Code.Movd_rm32_xmm, &SiMoveGpr); SiReg(t, Code.Movq_rm64_xmm, &SiMoveGpr);
        SiReg(t, Code.Movq_mm_mmm64, &SiMove, MvFull); SiReg(t, Code.Movq_mmm64_mm, &SiMove, MvFull);
        SiReg(t, Code.Movq_xmm_xmmm64, &SiMove, MvLowZero); SiReg(t, Code.Movq_xmmm64_xmm, &SiMove, MvLowZero);
        SiReg(t, Code.Movq2dq_xmm_mm, &Movq2dq); SiReg(t, Code.Movdq2q_mm_xmm, &Movdq2q);

        // Duplicating loads (SSE3)
        SiReg(t, Code.Movddup_xmm_xmmm64, &Movdup, 0);
        SiReg(t, Code.Movsldup_xmm_xmmm128, &Movdup, 1);
        SiReg(t, Code.Movshdup_xmm_xmmm128, &Movdup, 2);

        // Byte-masked non-temporal stores to DS:[rDI]
        SiReg(t, Code.Maskmovq_rDI_mm_mm, &Maskmov); SiReg(t, Code.Maskmovdqu_rDI_xmm_xmm, &Maskmov);
    }

    /// <summary>
    /// The register/memory moves. A store (operand A is memory) writes the low OpSize bytes of
    /// register B (the high qword for MOVHPS/MOVHPD); 16-byte stores are aligned unless unaligned and
    /// never partial. A load or register move writes register A as the variant says.
    /// </summary>
    private static void SiMove(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d)) return;
        int kind = d.Cond & SiSel;
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            SiVec s = c.SiRegB(ref d);
            if (kind == MvStoreHigh) s = new SiVec(s.Hi, 0);
            if (!c.SiStore(ref d, d.OpSize, s)) return;
            if ((d.Cond & SiMmx) != 0) c.EnterMmxState();
            return;
        }
        bool mem = (d.Flags & DecodedFlags.MemB) != 0;
        if (!c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d);
        switch (kind)
        {
            case MvScalar:
                // Register form: only the low element moves; load form: the rest is zeroed.
                if (mem) a = b;
                else if (d.Code is Code.Movss_xmm_xmmm32 or Code.Movss_xmmm32_xmm) a.Lo = (a.Lo & 0xFFFF_FFFF_0000_0000UL) | (uint)b.Lo;
                else a.Lo = b.Lo;
                break;
            case MvLowZero: a = new SiVec(b.Lo, 0); break;
            case MvLow64: a.Lo = b.Lo; break;
            case MvHigh64: a.Hi = b.Lo; break;
            default: a = b; break;
        }
        c.SiSetA(ref d, a);
    }

    /// <summary>MOVHLPS: the high qword of the source to the low qword of the destination.</summary>
    private static void Movhlps(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d)) return;
        c.XmmLane(d.Reg, 0) = c.XmmLane(d.Reg2, 1);
    }

    /// <summary>
    /// MOVD/MOVQ with a general-purpose register or memory: to MMX (whole register) or XMM (upper
    /// bits zeroed), or from the low 32/64 bits of MMX/XMM to a GPR (a 32-bit write zero-extends) or memory.
    /// </summary>
    private static void SiMoveGpr(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d)) return;
        bool mmx = (d.Cond & SiMmx) != 0;
        int size = d.Code is Code.Movq_mm_rm64 or Code.Movq_xmm_rm64 or Code.Movq_rm64_mm or Code.Movq_rm64_xmm ? 8 : 4;
        bool toVec = d.Code is Code.Movd_mm_rm32 or Code.Movq_mm_rm64 or Code.Movd_xmm_rm32 or Code.Movq_xmm_rm64;
        if (toVec)
        {
            ulong v;
            if ((d.Flags & DecodedFlags.MemB) != 0)
            {
                if (!c.SiLoad(ref d, size, out SiVec m)) return;
                v = m.Lo;
            }
            else v = c.GetReg(d.Reg2, size);
            c.SiSetA(ref d, new SiVec(v, 0));
            return;
        }
        ulong s = mmx ? c.GetMm(d.Reg2) : c.XmmLane(d.Reg2, 0);
        if (size == 4) s = (uint)s;
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            if (!c.SiStore(ref d, size, new SiVec(s, 0))) return;
        }
        else c.SetReg(d.Reg, 8, s);
        if (mmx) c.EnterMmxState();
    }

    /// <summary>
    /// MOVQ2DQ / MOVDQ2Q: SSE2 instructions on an MMX register: the SSE checks, then the pending x87
    /// exception check (#MF), and the x87-to-MMX transition (SDM Vol. 2, MOVQ2DQ "Exceptions").
    /// </summary>
    private bool SiMmxSseStart(ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.Lock) != 0) return Fault(ExceptionVector.UD);
        return SseAvailable() && MmxAvailable();
    }

    /// <summary>MOVQ2DQ xmm, mm: the MMX register to the low qword, high qword zeroed.</summary>
    private static void Movq2dq(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiMmxSseStart(ref d)) return;
        c.SiSetXmm(d.Reg, new SiVec(c.GetMm(d.Reg2), 0));
        c.EnterMmxState();
    }

    /// <summary>MOVDQ2Q mm, xmm: the low qword of the XMM register to the MMX register.</summary>
    private static void Movdq2q(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiMmxSseStart(ref d)) return;
        c.EnterMmxState();
        c.SetMm(d.Reg, c.XmmLane(d.Reg2, 0));
    }

    /// <summary>MOVDDUP (variant 0: low qword twice), MOVSLDUP (1: even dwords), MOVSHDUP (2: odd dwords).</summary>
    private static void Movdup(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec r;
        switch (d.Cond & SiSel)
        {
            case 0: r = new SiVec(b.Lo, b.Lo); break;
            case 1: r = new SiVec((b.Lo & 0xFFFF_FFFF) * 0x1_0000_0001UL, (b.Hi & 0xFFFF_FFFF) * 0x1_0000_0001UL); break;
            default: r = new SiVec((b.Lo >> 32) * 0x1_0000_0001UL, (b.Hi >> 32) * 0x1_0000_0001UL); break;
        }
        c.SiSetA(ref d, r);
    }

    /// <summary>
    /// MASKMOVQ / MASKMOVDQU: the bytes of the first register whose mask byte (second register) has
    /// bit 7 set are stored at DS:[rDI] (segment overridable; address size from the prefix). Only the
    /// selected bytes are accessed; every page they touch is checked before any is written, so a fault
    /// stores nothing. The non-temporal hint has no architectural effect here.
    /// </summary>
    private static void Maskmov(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d)) return;
        bool mmx = (d.Cond & SiMmx) != 0;
        int n = mmx ? 8 : 16;
        // Iced: operand 0 is the implicit [rDI], so the data register is Reg2 and the mask Reg3.
        SiVec data = mmx ? new SiVec(c.GetMm(d.Reg2), 0) : c.SiXmm(d.Reg2);
        SiVec mask = mmx ? new SiVec(c.GetMm(d.Reg3), 0) : c.SiXmm(d.Reg3);
        Span<byte> x = SiL<byte>(ref data), m = SiL<byte>(ref mask);
        ulong ea = c.R(7) & Execution.Sz.Mask(d.AddrSize);
        for (int i = 0; i < n; i++)
        {
            if ((m[i] & 0x80) == 0) continue;
            ulong lin = c._segChecks ? c.SegLinChecked(d.Segment, (ea + (ulong)i) & Execution.Sz.Mask(d.AddrSize), 1)
                                      : (c._segBase[d.Segment] + ((ea + (ulong)i) & Execution.Sz.Mask(d.AddrSize))) & c._linMask;
            if (!c.ProbeWrite(lin, 1)) return;
        }
        for (int i = 0; i < n; i++)
        {
            if ((m[i] & 0x80) == 0) continue;
            ulong lin = c._segChecks ? c.SegLinChecked(d.Segment, (ea + (ulong)i) & Execution.Sz.Mask(d.AddrSize), 1)
                                      : (c._segBase[d.Segment] + ((ea + (ulong)i) & Execution.Sz.Mask(d.AddrSize))) & c._linMask;
            if (!c.Write(lin, 1, x[i])) return;
        }
        if (mmx) c.EnterMmxState();
    }
}
