using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

// SSE4.2 packed string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM Vol. 2, 4.1
// "Imm8 Control Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").
public sealed unsafe partial class Cpu
{
    // Variant bits of the string compares.
    private const byte StrExplicit = 1; // lengths from EAX/EDX (RAX/RDX with REX.W) rather than the first null element
    private const byte StrMask = 2;     // result to XMM0 (PCMPxSTRM) rather than an index to ECX (PCMPxSTRI)
    private const byte StrRexW = 4;     // REX.W form: 64-bit length registers

    private static void RegisterSimdString(InstructionTable t)
    {
        // The 128-bit memory operand of these instructions need not be aligned (SDM Vol. 2, PCMPESTRI: "Exceptions").
        SiReg(t, Code.Pcmpestri_xmm_xmmm128_imm8, &PcmpStr, StrExplicit | SiUnaligned);
        SiReg(t, Code.Pcmpestri64_xmm_xmmm128_imm8, &PcmpStr, StrExplicit | StrRexW | SiUnaligned);
        SiReg(t, Code.Pcmpestrm_xmm_xmmm128_imm8, &PcmpStr, StrExplicit | StrMask | SiUnaligned);
        SiReg(t, Code.Pcmpestrm64_xmm_xmmm128_imm8, &PcmpStr, StrExplicit | StrMask | StrRexW | SiUnaligned);
        SiReg(t, Code.Pcmpistri_xmm_xmmm128_imm8, &PcmpStr, SiUnaligned);
        SiReg(t, Code.Pcmpistrm_xmm_xmmm128_imm8, &PcmpStr, StrMask | SiUnaligned);
    }

    /// <summary>
    /// Element <paramref name="i"/> of a packed string in the imm8[1:0] format (unsigned/signed bytes or
    /// words), widened to int so that one comparison serves all four formats.
    /// </summary>
    private static int StrElem(in SiVec v, int i, int fmt)
    {
        int bytePos = (fmt & 1) != 0 ? i * 2 : i;
        ulong q = bytePos < 8 ? v.Lo : v.Hi;
        int sh = (bytePos & 7) * 8;
        return fmt switch
        {
            0 => (byte)(q >> sh),
            1 => (ushort)(q >> sh),
            2 => (sbyte)(q >> sh),
            _ => (short)(q >> sh),
        };
    }

    /// <summary>The saturated absolute value of an explicit length register (SDM: |EAX| / |EDX| saturated to the element count).</summary>
    private static int StrExplicitLength(ulong reg, bool rexW, int max)
    {
        long v = rexW ? (long)reg : (int)reg;
        ulong mag = v < 0 ? (ulong)(-(v + 1)) + 1 : (ulong)v;
        return mag > (ulong)max ? max : (int)mag;
    }

    /// <summary>The implicit length: the index of the first zero element, or the element count.</summary>
    private static int StrImplicitLength(in SiVec v, int fmt, int max)
    {
        for (int i = 0; i < max; i++) if (StrElem(v, i, fmt) == 0) return i;
        return max;
    }

    /// <summary>
    /// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM. Operand 1 (register A) and operand 2 (register or
    /// memory B) are compared element pair by element pair with the imm8[3:2] aggregation, the
    /// validity overrides applied for elements at or past each operand's length; imm8[5:4] sets the
    /// polarity, imm8[6] the index/mask form. Flags: CF = result != 0, ZF = length 2 below the
    /// count, SF = length 1 below the count, OF = result bit 0, AF = PF = 0.
    /// </summary>
    private static void PcmpStr(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d);
        int imm = (byte)d.Imm, fmt = imm & 3, agg = (imm >> 2) & 3, pol = (imm >> 4) & 3;
        int n = (fmt & 1) != 0 ? 8 : 16;
        int la, lb;
        if ((d.Cond & StrExplicit) != 0)
        {
            bool w = (d.Cond & StrRexW) != 0;
            la = StrExplicitLength(c.R(0), w, n);
            lb = StrExplicitLength(c.R(2), w, n);
        }
        else
        {
            la = StrImplicitLength(a, fmt, n);
            lb = StrImplicitLength(b, fmt, n);
        }

        uint res1 = 0;
        switch (agg)
        {
            case 0: // equal any: is element j of operand 2 any valid element of operand 1?
                for (int j = 0; j < lb; j++)
                {
                    int e = StrElem(b, j, fmt);
                    for (int i = 0; i < la; i++)
                        if (StrElem(a, i, fmt) == e) { res1 |= 1u << j; break; }
                }
                break;
            case 1: // ranges: is element j of operand 2 within any valid [low, high] pair of operand 1?
                for (int j = 0; j < lb; j++)
                {
                    int e = StrElem(b, j, fmt);
                    for (int i = 0; i + 1 < la; i += 2)
                        if (StrElem(a, i, fmt) <= e && e <= StrElem(a, i + 1, fmt)) { res1 |= 1u << j; break; }
                }
                break;
            case 2: // equal each: both valid and equal, or both invalid
                for (int i = 0; i < n; i++)
                {
                    bool va = i < la, vb = i < lb;
                    bool r = va && vb ? StrElem(a, i, fmt) == StrElem(b, i, fmt) : !va && !vb;
                    if (r) res1 |= 1u << i;
                }
                break;
            default: // equal ordered: does operand 1 (an invalid tail matches anything) occur at element j of operand 2?
                for (int j = 0; j < n; j++)
                {
                    bool r = true;
                    for (int i = 0; i < n - j && r; i++)
                    {
                        int k = j + i;
                        if (i >= la) break;              // operand-1 element invalid: true
                        if (k >= lb) r = false;          // operand 1 valid, operand 2 invalid: false
                        else r = StrElem(a, i, fmt) == StrElem(b, k, fmt);
                    }
                    if (r) res1 |= 1u << j;
                }
                break;
        }

        uint all = (1u << n) - 1, res2 = pol switch
        {
            1 => ~res1 & all,
            3 => (res1 ^ ((1u << lb) - 1)) & all, // masked negative: only valid operand-2 elements are inverted
            _ => res1,
        };

        ulong f = 0;
        if (res2 != 0) f |= CF;
        if (lb < n) f |= ZF;
        if (la < n) f |= SF;
        if ((res2 & 1) != 0) f |= OF;

        if ((d.Cond & StrMask) != 0)
        {
            SiVec m = default;
            if ((imm & 0x40) == 0) m.Lo = res2;
            else
            {
                Span<byte> z = SiL<byte>(ref m);
                int size = 16 / n;
                for (int i = 0; i < n; i++)
                    if (((res2 >> i) & 1) != 0) for (int k = 0; k < size; k++) z[i * size + k] = 0xFF;
            }
            c.SiSetXmm(0, m);
        }
        else
        {
            int index = res2 == 0 ? n : (imm & 0x40) != 0 ? 31 - System.Numerics.BitOperations.LeadingZeroCount(res2) : System.Numerics.BitOperations.TrailingZeroCount(res2);
            c.SetReg(1, 4, (uint)index);
        }
        c.SiSetFlags(f);
    }
}
