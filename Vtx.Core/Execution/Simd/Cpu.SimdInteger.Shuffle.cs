using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

// Shuffles, unpacks, packs, blends, inserts and extracts (SDM Vol. 2 pages of SHUFPS, PSHUFD,
// PUNPCK*, PACK*, BLEND*, INSERTPS, PINSR*, PEXTR*, PALIGNR, PSHUFB, MOVMSK*).
public sealed unsafe partial class Cpu
{
    private static void RegisterSimdShuffle(InstructionTable t)
    {
        SiReg(t, Code.Shufps_xmm_xmmm128_imm8, &Shufps);
        SiReg(t, Code.Shufpd_xmm_xmmm128_imm8, &Shufpd);
        SiReg(t, Code.Pshufd_xmm_xmmm128_imm8, &Pshufd);
        SiReg(t, Code.Pshufhw_xmm_xmmm128_imm8, &SiPshufw, 4);
        SiReg(t, Code.Pshuflw_xmm_xmmm128_imm8, &SiPshufw, 0);
        SiReg(t, Code.Pshufw_mm_mmm64_imm8, &SiPshufw, 0);
        SiReg(t, Code.Pshufb_mm_mmm64, &Pshufb); SiReg(t, Code.Pshufb_xmm_xmmm128, &Pshufb);
        SiReg(t, Code.Palignr_mm_mmm64_imm8, &Palignr); SiReg(t, Code.Palignr_xmm_xmmm128_imm8, &Palignr);

        // SiUnpack: variant 0 = low halves, 1 = high halves
        SiReg(t, Code.Punpcklbw_mm_mmm32, &SiUnpack<byte>, 0); SiReg(t, Code.Punpcklbw_xmm_xmmm128, &SiUnpack<byte>, 0);
        SiReg(t, Code.Punpcklwd_mm_mmm32, &SiUnpack<ushort>, 0); SiReg(t, Code.Punpcklwd_xmm_xmmm128, &SiUnpack<ushort>, 0);
        SiReg(t, Code.Punpckldq_mm_mmm32, &SiUnpack<uint>, 0); SiReg(t, Code.Punpckldq_xmm_xmmm128, &SiUnpack<uint>, 0);
        SiReg(t, Code.Punpcklqdq_xmm_xmmm128, &SiUnpack<ulong>, 0);
        SiReg(t, Code.Punpckhbw_mm_mmm64, &SiUnpack<byte>, 1); SiReg(t, Code.Punpckhbw_xmm_xmmm128, &SiUnpack<byte>, 1);
        SiReg(t, Code.Punpckhwd_mm_mmm64, &SiUnpack<ushort>, 1); SiReg(t, Code.Punpckhwd_xmm_xmmm128, &SiUnpack<ushort>, 1);
        SiReg(t, Code.Punpckhdq_mm_mmm64, &SiUnpack<uint>, 1); SiReg(t, Code.Punpckhdq_xmm_xmmm128, &SiUnpack<uint>, 1);
        SiReg(t, Code.Punpckhqdq_xmm_xmmm128, &SiUnpack<ulong>, 1);
        SiReg(t, Code.Unpcklps_xmm_xmmm128, &SiUnpack<uint>, 0); SiReg(t, Code.Unpckhps_xmm_xmmm128, &SiUnpack<uint>, 1);
        SiReg(t, Code.Unpcklpd_xmm_xmmm128, &SiUnpack<ulong>, 0); SiReg(t, Code.Unpckhpd_xmm_xmmm128, &SiUnpack<ulong>, 1);

        // SiPack with saturation
        SiReg(t, Code.Packsswb_mm_mmm64, &SiPack<short, sbyte>); SiReg(t, Code.Packsswb_xmm_xmmm128, &SiPack<short, sbyte>);
        SiReg(t, Code.Packssdw_mm_mmm64, &SiPack<int, short>); SiReg(t, Code.Packssdw_xmm_xmmm128, &SiPack<int, short>);
        SiReg(t, Code.Packuswb_mm_mmm64, &SiPack<short, byte>); SiReg(t, Code.Packuswb_xmm_xmmm128, &SiPack<short, byte>);
        SiReg(t, Code.Packusdw_xmm_xmmm128, &SiPack<int, ushort>);

        // Blends: variant 0 = imm8 selects, 1 = the sign bit of XMM0's element selects
        SiReg(t, Code.Blendps_xmm_xmmm128_imm8, &SiBlend<uint>, 0); SiReg(t, Code.Blendpd_xmm_xmmm128_imm8, &SiBlend<ulong>, 0);
        SiReg(t, Code.Pblendw_xmm_xmmm128_imm8, &SiBlend<ushort>, 0);
        SiReg(t, Code.Blendvps_xmm_xmmm128, &SiBlend<uint>, 1); SiReg(t, Code.Blendvpd_xmm_xmmm128, &SiBlend<ulong>, 1);
        SiReg(t, Code.Pblendvb_xmm_xmmm128, &SiBlend<byte>, 1);

        // Insert / extract
        SiReg(t, Code.Insertps_xmm_xmmm32_imm8, &Insertps);
        SiReg(t, Code.Extractps_rm32_xmm_imm8, &SiPextr<uint>); SiReg(t, Code.Extractps_r64m32_xmm_imm8, &SiPextr<uint>);
        SiReg(t, Code.Pinsrb_xmm_r32m8_imm8, &SiPinsr<byte>); SiReg(t, Code.Pinsrb_xmm_r64m8_imm8, &SiPinsr<byte>);
        SiReg(t, Code.Pinsrw_mm_r32m16_imm8, &SiPinsr<ushort>); SiReg(t, Code.Pinsrw_mm_r64m16_imm8, &SiPinsr<ushort>);
        SiReg(t, Code.Pinsrw_xmm_r32m16_imm8, &SiPinsr<ushort>); SiReg(t, Code.Pinsrw_xmm_r64m16_imm8, &SiPinsr<ushort>);
        SiReg(t, Code.Pinsrd_xmm_rm32_imm8, &SiPinsr<uint>); SiReg(t, Code.Pinsrq_xmm_rm64_imm8, &SiPinsr<ulong>);
        SiReg(t, Code.Pextrb_r32m8_xmm_imm8, &SiPextr<byte>); SiReg(t, Code.Pextrb_r64m8_xmm_imm8, &SiPextr<byte>);
        SiReg(t, Code.Pextrw_r32_mm_imm8, &SiPextr<ushort>); SiReg(t, Code.Pextrw_r64_mm_imm8, &SiPextr<ushort>);
        SiReg(t, Code.Pextrw_r32_xmm_imm8, &SiPextr<ushort>); SiReg(t, Code.Pextrw_r64_xmm_imm8, &SiPextr<ushort>);
        SiReg(t, Code.Pextrw_r32m16_xmm_imm8, &SiPextr<ushort>); SiReg(t, Code.Pextrw_r64m16_xmm_imm8, &SiPextr<ushort>);
        SiReg(t, Code.Pextrd_rm32_xmm_imm8, &SiPextr<uint>); SiReg(t, Code.Pextrq_rm64_xmm_imm8, &SiPextr<ulong>);

        // Sign masks
        SiReg(t, Code.Movmskps_r32_xmm, &SiMoveMask<uint>); SiReg(t, Code.Movmskps_r64_xmm, &SiMoveMask<uint>);
        SiReg(t, Code.Movmskpd_r32_xmm, &SiMoveMask<ulong>); SiReg(t, Code.Movmskpd_r64_xmm, &SiMoveMask<ulong>);
        SiReg(t, Code.Pmovmskb_r32_mm, &SiMoveMask<byte>); SiReg(t, Code.Pmovmskb_r64_mm, &SiMoveMask<byte>);
        SiReg(t, Code.Pmovmskb_r32_xmm, &SiMoveMask<byte>); SiReg(t, Code.Pmovmskb_r64_xmm, &SiMoveMask<byte>);
    }

    /// <summary>SHUFPS: dwords 0-1 chosen from the destination, 2-3 from the source, two imm8 bits each.</summary>
    private static void Shufps(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<uint> x = SiL<uint>(ref a), y = SiL<uint>(ref b), z = SiL<uint>(ref r);
        int imm = (byte)d.Imm;
        z[0] = x[imm & 3]; z[1] = x[(imm >> 2) & 3]; z[2] = y[(imm >> 4) & 3]; z[3] = y[(imm >> 6) & 3];
        c.SiSetA(ref d, r);
    }

    /// <summary>SHUFPD: qword 0 from the destination by imm8[0], qword 1 from the source by imm8[1].</summary>
    private static void Shufpd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d);
        c.SiSetA(ref d, new SiVec((d.Imm & 1) != 0 ? a.Hi : a.Lo, (d.Imm & 2) != 0 ? b.Hi : b.Lo));
    }

    /// <summary>PSHUFD: each destination dword is the source dword the imm8 field selects.</summary>
    private static void Pshufd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec r = default;
        Span<uint> y = SiL<uint>(ref b), z = SiL<uint>(ref r);
        for (int i = 0; i < 4; i++) z[i] = y[(int)(d.Imm >> (2 * i)) & 3];
        c.SiSetA(ref d, r);
    }

    /// <summary>
    /// PSHUFW / PSHUFLW / PSHUFHW: four words starting at word (variant) are shuffled by imm8 within
    /// that group; the other words (XMM forms) are copied from the source.
    /// </summary>
    private static void SiPshufw(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec r = b;
        Span<ushort> y = SiL<ushort>(ref b), z = SiL<ushort>(ref r);
        int o = d.Cond & SiSel;
        for (int i = 0; i < 4; i++) z[o + i] = y[o + ((int)(d.Imm >> (2 * i)) & 3)];
        c.SiSetA(ref d, r);
    }

    /// <summary>PSHUFB: each byte is the destination byte the source byte indexes (low 3 or 4 bits), or 0 if its bit 7 is set.</summary>
    private static void Pshufb(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<byte> x = SiL<byte>(ref a), y = SiL<byte>(ref b), z = SiL<byte>(ref r);
        int n = SiWidth(ref d);
        for (int i = 0; i < n; i++) z[i] = (y[i] & 0x80) != 0 ? (byte)0 : x[y[i] & (n - 1)];
        c.SiSetA(ref d, r);
    }

    /// <summary>PALIGNR: the concatenation destination:source shifted right by imm8 bytes, low half kept (zeros shift in).</summary>
    private static void Palignr(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<byte> x = SiL<byte>(ref a), y = SiL<byte>(ref b), z = SiL<byte>(ref r);
        int n = SiWidth(ref d), s = (byte)d.Imm;
        for (int i = 0; i < n; i++)
        {
            int k = i + s;
            z[i] = k < n ? y[k] : k < 2 * n ? x[k - n] : (byte)0;
        }
        c.SiSetA(ref d, r);
    }

    /// <summary>PUNPCKL*/PUNPCKH*/UNPCK*: interleaves the low (variant 0) or high (1) halves of destination and source.</summary>
    private static void SiUnpack<T>(Cpu c, ref DecodedInstruction d) where T : unmanaged
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<T> x = SiL<T>(ref a), y = SiL<T>(ref b), z = SiL<T>(ref r);
        int h = SiWidth(ref d) / Unsafe.SizeOf<T>() / 2, o = (d.Cond & SiSel) != 0 ? h : 0;
        for (int i = 0; i < h; i++) { z[2 * i] = x[o + i]; z[2 * i + 1] = y[o + i]; }
        c.SiSetA(ref d, r);
    }

    /// <summary>PACKSS*/PACKUS*: destination elements then source elements, each narrowed with saturation to <typeparamref name="TTo"/>'s range.</summary>
    private static void SiPack<TFrom, TTo>(Cpu c, ref DecodedInstruction d)
        where TFrom : unmanaged, IBinaryInteger<TFrom> where TTo : unmanaged, IBinaryInteger<TTo>
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<TFrom> x = SiL<TFrom>(ref a), y = SiL<TFrom>(ref b);
        Span<TTo> z = SiL<TTo>(ref r);
        int n = SiWidth(ref d) / Unsafe.SizeOf<TFrom>();
        for (int i = 0; i < n; i++) { z[i] = TTo.CreateSaturating(x[i]); z[n + i] = TTo.CreateSaturating(y[i]); }
        c.SiSetA(ref d, r);
    }

    /// <summary>BLENDPS/PD, PBLENDW (imm8 bit i) and BLENDVPS/PD, PBLENDVB (bit 7 of XMM0's element i): a set selector takes the source element.</summary>
    private static void SiBlend<T>(Cpu c, ref DecodedInstruction d) where T : unmanaged, IBinaryInteger<T>
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), m = c.SiXmm(0);
        Span<T> x = SiL<T>(ref a), y = SiL<T>(ref b), s = SiL<T>(ref m);
        int bits = Unsafe.SizeOf<T>() * 8;
        bool byImm = (d.Cond & SiSel) == 0;
        for (int i = 0; i < x.Length; i++)
            if (byImm ? ((d.Imm >> i) & 1) != 0 : !T.IsZero(s[i] >>> (bits - 1))) x[i] = y[i];
        c.SiSetA(ref d, a);
    }

    /// <summary>
    /// INSERTPS: the source dword (register: imm8[7:6] selects it; memory: the m32) goes to dword
    /// imm8[5:4], then the dwords imm8[3:0] marks are cleared.
    /// </summary>
    private static void Insertps(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        int imm = (byte)d.Imm;
        uint v = (d.Flags & DecodedFlags.MemB) != 0 ? (uint)b.Lo : SiL<uint>(ref b)[imm >> 6];
        SiVec a = c.SiA(ref d);
        Span<uint> x = SiL<uint>(ref a);
        x[(imm >> 4) & 3] = v;
        for (int i = 0; i < 4; i++) if (((imm >> i) & 1) != 0) x[i] = 0;
        c.SiSetA(ref d, a);
    }

    /// <summary>PINSRB/SiW/D/Q: the low element of a GPR or the memory element replaces element imm8 (modulo the element count).</summary>
    private static void SiPinsr<T>(Cpu c, ref DecodedInstruction d) where T : unmanaged, IBinaryInteger<T>
    {
        if (!c.SiStart(ref d)) return;
        ulong v;
        if ((d.Flags & DecodedFlags.MemB) != 0)
        {
            if (!c.SiLoad(ref d, Unsafe.SizeOf<T>(), out SiVec m)) return;
            v = m.Lo;
        }
        else v = c.GetReg(d.Reg2, 8);
        SiVec a = c.SiA(ref d);
        Span<T> x = SiL<T>(ref a);
        int n = SiWidth(ref d) / Unsafe.SizeOf<T>();
        x[(int)d.Imm & (n - 1)] = T.CreateTruncating(v);
        c.SiSetA(ref d, a);
    }

    /// <summary>Register operand B (an MMX or XMM register) as a vector.</summary>
    private SiVec SiRegB(ref DecodedInstruction d) =>
        (d.Cond & SiMmx) != 0 ? new SiVec(GetMm(d.Reg2), 0) : new SiVec(XmmLane(d.Reg2, 0), XmmLane(d.Reg2, 1));

    /// <summary>PEXTRB/SiW/D/Q, EXTRACTPS: element imm8 (modulo the count) to memory, or zero-extended to the whole GPR.</summary>
    private static void SiPextr<T>(Cpu c, ref DecodedInstruction d) where T : unmanaged, IBinaryInteger<T>
    {
        if (!c.SiStart(ref d)) return;
        SiVec b = c.SiRegB(ref d);
        Span<T> y = SiL<T>(ref b);
        int n = SiWidth(ref d) / Unsafe.SizeOf<T>();
        ulong v = ulong.CreateTruncating(y[(int)d.Imm & (n - 1)]);
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            if (!c.SiStore(ref d, Unsafe.SizeOf<T>(), new SiVec(v, 0))) return;
        }
        else c.SetReg(d.Reg, 8, v);
        if ((d.Cond & SiMmx) != 0) c.EnterMmxState();
    }

    /// <summary>MOVMSKPS/PD, PMOVMSKB: the sign bit of each element, packed into the low bits of the GPR (zeros above).</summary>
    private static void SiMoveMask<T>(Cpu c, ref DecodedInstruction d) where T : unmanaged, IBinaryInteger<T>
    {
        if (!c.SiStart(ref d)) return;
        SiVec b = c.SiRegB(ref d);
        Span<T> y = SiL<T>(ref b);
        int n = SiWidth(ref d) / Unsafe.SizeOf<T>(), bits = Unsafe.SizeOf<T>() * 8;
        ulong m = 0;
        for (int i = 0; i < n; i++) if (!T.IsZero(y[i] >>> (bits - 1))) m |= 1UL << i;
        c.SetReg(d.Reg, 8, m);
        if ((d.Cond & SiMmx) != 0) c.EnterMmxState();
    }
}
