using Iced.Intel;
using Xunit;
using static Vtx.Tests.Simd.SimdRef;
using static Vtx.Tests.Simd.SimdRig;

namespace Vtx.Tests.Simd;

/// <summary>
/// Two-operand packed integer and logic instructions (MMX, SSE2, SSSE3, SSE4.1), register and
/// memory forms, against element-by-element reference models written from the SDM Vol. 2 "Operation"
/// sections: the result register, the untouched source, the 16-byte alignment rule of legacy SSE
/// memory operands (SDM Vol. 1, 10.4.1.1), and for MMX forms the x87 state transition (SDM Vol. 3A, 12.2).
/// </summary>
public class SimdIntegerArithTests
{
    /// <summary>One instruction: XMM code, MMX code (or INVALID), reference (dest, source, width in bytes) -> result.</summary>
    internal sealed record Spec(Code Xmm, Code Mm, Func<UInt128, UInt128, int, UInt128> Ref);

    private static Func<UInt128, UInt128, int, UInt128> Lanes(int sz, Func<UInt128, UInt128, int, long> f) =>
        (a, b, w) => Map(sz, w, i => f(a, b, i));

    private static Func<UInt128, UInt128, int, UInt128> Horiz(int sz, Func<long, long, long> f) => (a, b, w) =>
    {
        int h = w / sz / 2;
        return Map(sz, w, i => i < h ? f(S(a, sz, 2 * i), S(a, sz, 2 * i + 1)) : f(S(b, sz, 2 * (i - h)), S(b, sz, 2 * (i - h) + 1)));
    };

    private static Func<UInt128, UInt128, int, UInt128> PackRef(int from, bool signedSat) => (a, b, w) =>
    {
        int n = w / from, to = from / 2;
        return Map(to, w, i => { long v = i < n ? S(a, from, i) : S(b, from, i - n); return signedSat ? SatS(to, v) : SatU(to, v); });
    };

    private static Func<UInt128, UInt128, int, UInt128> UnpackRef(int sz, bool high) => (a, b, w) =>
    {
        int o = high ? w / sz / 2 : 0;
        return Map(sz, w, i => (long)((i & 1) == 0 ? U(a, sz, o + i / 2) : U(b, sz, o + i / 2)));
    };

    private static Func<UInt128, UInt128, int, UInt128> ExtendRef(int from, int to, bool signed) =>
        (a, b, w) => Map(to, 16, i => signed ? S(b, from, i) : (long)U(b, from, i));

    internal static readonly Dictionary<string, Spec> Specs = new()
    {
        ["pand"] = new(Code.Pand_xmm_xmmm128, Code.Pand_mm_mmm64, (a, b, w) => a & b),
        ["pandn"] = new(Code.Pandn_xmm_xmmm128, Code.Pandn_mm_mmm64, (a, b, w) => Low(~a, w) & b),
        ["por"] = new(Code.Por_xmm_xmmm128, Code.Por_mm_mmm64, (a, b, w) => a | b),
        ["pxor"] = new(Code.Pxor_xmm_xmmm128, Code.Pxor_mm_mmm64, (a, b, w) => a ^ b),
        ["andps"] = new(Code.Andps_xmm_xmmm128, Code.INVALID, (a, b, w) => a & b),
        ["andpd"] = new(Code.Andpd_xmm_xmmm128, Code.INVALID, (a, b, w) => a & b),
        ["andnps"] = new(Code.Andnps_xmm_xmmm128, Code.INVALID, (a, b, w) => ~a & b),
        ["andnpd"] = new(Code.Andnpd_xmm_xmmm128, Code.INVALID, (a, b, w) => ~a & b),
        ["orps"] = new(Code.Orps_xmm_xmmm128, Code.INVALID, (a, b, w) => a | b),
        ["orpd"] = new(Code.Orpd_xmm_xmmm128, Code.INVALID, (a, b, w) => a | b),
        ["xorps"] = new(Code.Xorps_xmm_xmmm128, Code.INVALID, (a, b, w) => a ^ b),
        ["xorpd"] = new(Code.Xorpd_xmm_xmmm128, Code.INVALID, (a, b, w) => a ^ b),

        ["paddb"] = new(Code.Paddb_xmm_xmmm128, Code.Paddb_mm_mmm64, Lanes(1, (a, b, i) => (long)(U(a, 1, i) + U(b, 1, i)))),
        ["paddw"] = new(Code.Paddw_xmm_xmmm128, Code.Paddw_mm_mmm64, Lanes(2, (a, b, i) => (long)(U(a, 2, i) + U(b, 2, i)))),
        ["paddd"] = new(Code.Paddd_xmm_xmmm128, Code.Paddd_mm_mmm64, Lanes(4, (a, b, i) => (long)(U(a, 4, i) + U(b, 4, i)))),
        ["paddq"] = new(Code.Paddq_xmm_xmmm128, Code.Paddq_mm_mmm64, Lanes(8, (a, b, i) => unchecked((long)(U(a, 8, i) + U(b, 8, i))))),
        ["psubb"] = new(Code.Psubb_xmm_xmmm128, Code.Psubb_mm_mmm64, Lanes(1, (a, b, i) => (long)U(a, 1, i) - (long)U(b, 1, i))),
        ["psubw"] = new(Code.Psubw_xmm_xmmm128, Code.Psubw_mm_mmm64, Lanes(2, (a, b, i) => (long)U(a, 2, i) - (long)U(b, 2, i))),
        ["psubd"] = new(Code.Psubd_xmm_xmmm128, Code.Psubd_mm_mmm64, Lanes(4, (a, b, i) => (long)U(a, 4, i) - (long)U(b, 4, i))),
        ["psubq"] = new(Code.Psubq_xmm_xmmm128, Code.Psubq_mm_mmm64, Lanes(8, (a, b, i) => unchecked((long)(U(a, 8, i) - U(b, 8, i))))),
        ["paddsb"] = new(Code.Paddsb_xmm_xmmm128, Code.Paddsb_mm_mmm64, Lanes(1, (a, b, i) => SatS(1, S(a, 1, i) + S(b, 1, i)))),
        ["paddsw"] = new(Code.Paddsw_xmm_xmmm128, Code.Paddsw_mm_mmm64, Lanes(2, (a, b, i) => SatS(2, S(a, 2, i) + S(b, 2, i)))),
        ["paddusb"] = new(Code.Paddusb_xmm_xmmm128, Code.Paddusb_mm_mmm64, Lanes(1, (a, b, i) => SatU(1, (long)(U(a, 1, i) + U(b, 1, i))))),
        ["paddusw"] = new(Code.Paddusw_xmm_xmmm128, Code.Paddusw_mm_mmm64, Lanes(2, (a, b, i) => SatU(2, (long)(U(a, 2, i) + U(b, 2, i))))),
        ["psubsb"] = new(Code.Psubsb_xmm_xmmm128, Code.Psubsb_mm_mmm64, Lanes(1, (a, b, i) => SatS(1, S(a, 1, i) - S(b, 1, i)))),
        ["psubsw"] = new(Code.Psubsw_xmm_xmmm128, Code.Psubsw_mm_mmm64, Lanes(2, (a, b, i) => SatS(2, S(a, 2, i) - S(b, 2, i)))),
        ["psubusb"] = new(Code.Psubusb_xmm_xmmm128, Code.Psubusb_mm_mmm64, Lanes(1, (a, b, i) => SatU(1, (long)U(a, 1, i) - (long)U(b, 1, i)))),
        ["psubusw"] = new(Code.Psubusw_xmm_xmmm128, Code.Psubusw_mm_mmm64, Lanes(2, (a, b, i) => SatU(2, (long)U(a, 2, i) - (long)U(b, 2, i)))),

        ["pmullw"] = new(Code.Pmullw_xmm_xmmm128, Code.Pmullw_mm_mmm64, Lanes(2, (a, b, i) => S(a, 2, i) * S(b, 2, i))),
        ["pmulld"] = new(Code.Pmulld_xmm_xmmm128, Code.INVALID, Lanes(4, (a, b, i) => S(a, 4, i) * S(b, 4, i))),
        ["pmulhw"] = new(Code.Pmulhw_xmm_xmmm128, Code.Pmulhw_mm_mmm64, Lanes(2, (a, b, i) => (S(a, 2, i) * S(b, 2, i)) >> 16)),
        ["pmulhuw"] = new(Code.Pmulhuw_xmm_xmmm128, Code.Pmulhuw_mm_mmm64, Lanes(2, (a, b, i) => (long)(U(a, 2, i) * U(b, 2, i)) >> 16)),
        ["pmulhrsw"] = new(Code.Pmulhrsw_xmm_xmmm128, Code.Pmulhrsw_mm_mmm64, Lanes(2, (a, b, i) => (((S(a, 2, i) * S(b, 2, i)) >> 14) + 1) >> 1)),
        ["pmuludq"] = new(Code.Pmuludq_xmm_xmmm128, Code.Pmuludq_mm_mmm64, Lanes(8, (a, b, i) => unchecked((long)(U(a, 4, 2 * i) * U(b, 4, 2 * i))))),
        ["pmuldq"] = new(Code.Pmuldq_xmm_xmmm128, Code.INVALID, Lanes(8, (a, b, i) => S(a, 4, 2 * i) * S(b, 4, 2 * i))),
        ["pmaddwd"] = new(Code.Pmaddwd_xmm_xmmm128, Code.Pmaddwd_mm_mmm64,
            Lanes(4, (a, b, i) => S(a, 2, 2 * i) * S(b, 2, 2 * i) + S(a, 2, 2 * i + 1) * S(b, 2, 2 * i + 1))),
        ["pmaddubsw"] = new(Code.Pmaddubsw_xmm_xmmm128, Code.Pmaddubsw_mm_mmm64,
            Lanes(2, (a, b, i) => SatS(2, (long)U(a, 1, 2 * i) * S(b, 1, 2 * i) + (long)U(a, 1, 2 * i + 1) * S(b, 1, 2 * i + 1)))),

        ["pavgb"] = new(Code.Pavgb_xmm_xmmm128, Code.Pavgb_mm_mmm64, Lanes(1, (a, b, i) => (long)(U(a, 1, i) + U(b, 1, i) + 1) >> 1)),
        ["pavgw"] = new(Code.Pavgw_xmm_xmmm128, Code.Pavgw_mm_mmm64, Lanes(2, (a, b, i) => (long)(U(a, 2, i) + U(b, 2, i) + 1) >> 1)),
        ["psadbw"] = new(Code.Psadbw_xmm_xmmm128, Code.Psadbw_mm_mmm64,
            Lanes(8, (a, b, i) => Enumerable.Range(0, 8).Sum(k => Math.Abs((long)U(a, 1, 8 * i + k) - (long)U(b, 1, 8 * i + k))))),
        ["pminub"] = new(Code.Pminub_xmm_xmmm128, Code.Pminub_mm_mmm64, Lanes(1, (a, b, i) => (long)Math.Min(U(a, 1, i), U(b, 1, i)))),
        ["pmaxub"] = new(Code.Pmaxub_xmm_xmmm128, Code.Pmaxub_mm_mmm64, Lanes(1, (a, b, i) => (long)Math.Max(U(a, 1, i), U(b, 1, i)))),
        ["pminsw"] = new(Code.Pminsw_xmm_xmmm128, Code.Pminsw_mm_mmm64, Lanes(2, (a, b, i) => Math.Min(S(a, 2, i), S(b, 2, i)))),
        ["pmaxsw"] = new(Code.Pmaxsw_xmm_xmmm128, Code.Pmaxsw_mm_mmm64, Lanes(2, (a, b, i) => Math.Max(S(a, 2, i), S(b, 2, i)))),
        ["pminsb"] = new(Code.Pminsb_xmm_xmmm128, Code.INVALID, Lanes(1, (a, b, i) => Math.Min(S(a, 1, i), S(b, 1, i)))),
        ["pmaxsb"] = new(Code.Pmaxsb_xmm_xmmm128, Code.INVALID, Lanes(1, (a, b, i) => Math.Max(S(a, 1, i), S(b, 1, i)))),
        ["pminuw"] = new(Code.Pminuw_xmm_xmmm128, Code.INVALID, Lanes(2, (a, b, i) => (long)Math.Min(U(a, 2, i), U(b, 2, i)))),
        ["pmaxuw"] = new(Code.Pmaxuw_xmm_xmmm128, Code.INVALID, Lanes(2, (a, b, i) => (long)Math.Max(U(a, 2, i), U(b, 2, i)))),
        ["pminsd"] = new(Code.Pminsd_xmm_xmmm128, Code.INVALID, Lanes(4, (a, b, i) => Math.Min(S(a, 4, i), S(b, 4, i)))),
        ["pmaxsd"] = new(Code.Pmaxsd_xmm_xmmm128, Code.INVALID, Lanes(4, (a, b, i) => Math.Max(S(a, 4, i), S(b, 4, i)))),
        ["pminud"] = new(Code.Pminud_xmm_xmmm128, Code.INVALID, Lanes(4, (a, b, i) => (long)Math.Min(U(a, 4, i), U(b, 4, i)))),
        ["pmaxud"] = new(Code.Pmaxud_xmm_xmmm128, Code.INVALID, Lanes(4, (a, b, i) => (long)Math.Max(U(a, 4, i), U(b, 4, i)))),
        ["pabsb"] = new(Code.Pabsb_xmm_xmmm128, Code.Pabsb_mm_mmm64, Lanes(1, (a, b, i) => Math.Abs(S(b, 1, i)))),
        ["pabsw"] = new(Code.Pabsw_xmm_xmmm128, Code.Pabsw_mm_mmm64, Lanes(2, (a, b, i) => Math.Abs(S(b, 2, i)))),
        ["pabsd"] = new(Code.Pabsd_xmm_xmmm128, Code.Pabsd_mm_mmm64, Lanes(4, (a, b, i) => Math.Abs(S(b, 4, i)))),
        ["psignb"] = new(Code.Psignb_xmm_xmmm128, Code.Psignb_mm_mmm64, Lanes(1, (a, b, i) => S(b, 1, i) < 0 ? -S(a, 1, i) : S(b, 1, i) == 0 ? 0 : S(a, 1, i))),
        ["psignw"] = new(Code.Psignw_xmm_xmmm128, Code.Psignw_mm_mmm64, Lanes(2, (a, b, i) => S(b, 2, i) < 0 ? -S(a, 2, i) : S(b, 2, i) == 0 ? 0 : S(a, 2, i))),
        ["psignd"] = new(Code.Psignd_xmm_xmmm128, Code.Psignd_mm_mmm64, Lanes(4, (a, b, i) => S(b, 4, i) < 0 ? -S(a, 4, i) : S(b, 4, i) == 0 ? 0 : S(a, 4, i))),

        ["phaddw"] = new(Code.Phaddw_xmm_xmmm128, Code.Phaddw_mm_mmm64, Horiz(2, (x, y) => x + y)),
        ["phaddd"] = new(Code.Phaddd_xmm_xmmm128, Code.Phaddd_mm_mmm64, Horiz(4, (x, y) => x + y)),
        ["phaddsw"] = new(Code.Phaddsw_xmm_xmmm128, Code.Phaddsw_mm_mmm64, Horiz(2, (x, y) => SatS(2, x + y))),
        ["phsubw"] = new(Code.Phsubw_xmm_xmmm128, Code.Phsubw_mm_mmm64, Horiz(2, (x, y) => x - y)),
        ["phsubd"] = new(Code.Phsubd_xmm_xmmm128, Code.Phsubd_mm_mmm64, Horiz(4, (x, y) => x - y)),
        ["phsubsw"] = new(Code.Phsubsw_xmm_xmmm128, Code.Phsubsw_mm_mmm64, Horiz(2, (x, y) => SatS(2, x - y))),

        ["pcmpeqb"] = new(Code.Pcmpeqb_xmm_xmmm128, Code.Pcmpeqb_mm_mmm64, Lanes(1, (a, b, i) => U(a, 1, i) == U(b, 1, i) ? -1 : 0)),
        ["pcmpeqw"] = new(Code.Pcmpeqw_xmm_xmmm128, Code.Pcmpeqw_mm_mmm64, Lanes(2, (a, b, i) => U(a, 2, i) == U(b, 2, i) ? -1 : 0)),
        ["pcmpeqd"] = new(Code.Pcmpeqd_xmm_xmmm128, Code.Pcmpeqd_mm_mmm64, Lanes(4, (a, b, i) => U(a, 4, i) == U(b, 4, i) ? -1 : 0)),
        ["pcmpeqq"] = new(Code.Pcmpeqq_xmm_xmmm128, Code.INVALID, Lanes(8, (a, b, i) => U(a, 8, i) == U(b, 8, i) ? -1 : 0)),
        ["pcmpgtb"] = new(Code.Pcmpgtb_xmm_xmmm128, Code.Pcmpgtb_mm_mmm64, Lanes(1, (a, b, i) => S(a, 1, i) > S(b, 1, i) ? -1 : 0)),
        ["pcmpgtw"] = new(Code.Pcmpgtw_xmm_xmmm128, Code.Pcmpgtw_mm_mmm64, Lanes(2, (a, b, i) => S(a, 2, i) > S(b, 2, i) ? -1 : 0)),
        ["pcmpgtd"] = new(Code.Pcmpgtd_xmm_xmmm128, Code.Pcmpgtd_mm_mmm64, Lanes(4, (a, b, i) => S(a, 4, i) > S(b, 4, i) ? -1 : 0)),
        ["pcmpgtq"] = new(Code.Pcmpgtq_xmm_xmmm128, Code.INVALID, Lanes(8, (a, b, i) => S(a, 8, i) > S(b, 8, i) ? -1 : 0)),

        ["packsswb"] = new(Code.Packsswb_xmm_xmmm128, Code.Packsswb_mm_mmm64, PackRef(2, true)),
        ["packssdw"] = new(Code.Packssdw_xmm_xmmm128, Code.Packssdw_mm_mmm64, PackRef(4, true)),
        ["packuswb"] = new(Code.Packuswb_xmm_xmmm128, Code.Packuswb_mm_mmm64, PackRef(2, false)),
        ["packusdw"] = new(Code.Packusdw_xmm_xmmm128, Code.INVALID, PackRef(4, false)),
        ["punpcklbw"] = new(Code.Punpcklbw_xmm_xmmm128, Code.Punpcklbw_mm_mmm32, UnpackRef(1, false)),
        ["punpcklwd"] = new(Code.Punpcklwd_xmm_xmmm128, Code.Punpcklwd_mm_mmm32, UnpackRef(2, false)),
        ["punpckldq"] = new(Code.Punpckldq_xmm_xmmm128, Code.Punpckldq_mm_mmm32, UnpackRef(4, false)),
        ["punpcklqdq"] = new(Code.Punpcklqdq_xmm_xmmm128, Code.INVALID, UnpackRef(8, false)),
        ["punpckhbw"] = new(Code.Punpckhbw_xmm_xmmm128, Code.Punpckhbw_mm_mmm64, UnpackRef(1, true)),
        ["punpckhwd"] = new(Code.Punpckhwd_xmm_xmmm128, Code.Punpckhwd_mm_mmm64, UnpackRef(2, true)),
        ["punpckhdq"] = new(Code.Punpckhdq_xmm_xmmm128, Code.Punpckhdq_mm_mmm64, UnpackRef(4, true)),
        ["punpckhqdq"] = new(Code.Punpckhqdq_xmm_xmmm128, Code.INVALID, UnpackRef(8, true)),
        ["unpcklps"] = new(Code.Unpcklps_xmm_xmmm128, Code.INVALID, UnpackRef(4, false)),
        ["unpckhps"] = new(Code.Unpckhps_xmm_xmmm128, Code.INVALID, UnpackRef(4, true)),
        ["unpcklpd"] = new(Code.Unpcklpd_xmm_xmmm128, Code.INVALID, UnpackRef(8, false)),
        ["unpckhpd"] = new(Code.Unpckhpd_xmm_xmmm128, Code.INVALID, UnpackRef(8, true)),
        ["pshufb"] = new(Code.Pshufb_xmm_xmmm128, Code.Pshufb_mm_mmm64,
            (a, b, w) => Map(1, w, i => (U(b, 1, i) & 0x80) != 0 ? 0 : (long)U(a, 1, (int)(U(b, 1, i) & (ulong)(w - 1))))),

        ["pmovsxbw"] = new(Code.Pmovsxbw_xmm_xmmm64, Code.INVALID, ExtendRef(1, 2, true)),
        ["pmovsxbd"] = new(Code.Pmovsxbd_xmm_xmmm32, Code.INVALID, ExtendRef(1, 4, true)),
        ["pmovsxbq"] = new(Code.Pmovsxbq_xmm_xmmm16, Code.INVALID, ExtendRef(1, 8, true)),
        ["pmovsxwd"] = new(Code.Pmovsxwd_xmm_xmmm64, Code.INVALID, ExtendRef(2, 4, true)),
        ["pmovsxwq"] = new(Code.Pmovsxwq_xmm_xmmm32, Code.INVALID, ExtendRef(2, 8, true)),
        ["pmovsxdq"] = new(Code.Pmovsxdq_xmm_xmmm64, Code.INVALID, ExtendRef(4, 8, true)),
        ["pmovzxbw"] = new(Code.Pmovzxbw_xmm_xmmm64, Code.INVALID, ExtendRef(1, 2, false)),
        ["pmovzxbd"] = new(Code.Pmovzxbd_xmm_xmmm32, Code.INVALID, ExtendRef(1, 4, false)),
        ["pmovzxbq"] = new(Code.Pmovzxbq_xmm_xmmm16, Code.INVALID, ExtendRef(1, 8, false)),
        ["pmovzxwd"] = new(Code.Pmovzxwd_xmm_xmmm64, Code.INVALID, ExtendRef(2, 4, false)),
        ["pmovzxwq"] = new(Code.Pmovzxwq_xmm_xmmm32, Code.INVALID, ExtendRef(2, 8, false)),
        ["pmovzxdq"] = new(Code.Pmovzxdq_xmm_xmmm64, Code.INVALID, ExtendRef(4, 8, false)),
        ["phminposuw"] = new(Code.Phminposuw_xmm_xmmm128, Code.INVALID, (a, b, w) =>
        {
            int idx = 0;
            for (int i = 1; i < 8; i++) if (U(b, 2, i) < U(b, 2, idx)) idx = i;
            return (UInt128)(U(b, 2, idx) | ((ulong)idx << 16));
        }),
    };

    public static TheoryData<string> Names => new(Specs.Keys);

    /// <summary>Runs one instruction's register, same-register, high-register and memory forms (XMM and MMX) over full-range values.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void MatchesReference(string name)
    {
        var s = Specs[name];
        bool mmx = s.Mm != Code.INVALID;
        var ins = new List<Instruction>
        {
            I(s.Xmm, Register.XMM1, Register.XMM2),
            I(s.Xmm, Register.XMM9, Register.XMM14),
            I(s.Xmm, Register.XMM5, Register.XMM5),
            I(s.Xmm, Register.XMM3, AtRbx),
            Mem(s.Xmm, Register.XMM3, 8),
        };
        if (mmx)
        {
            ins.Add(I(s.Mm, Register.MM1, Register.MM2));
            ins.Add(I(s.Mm, Register.MM7, Register.MM0));
            ins.Add(I(s.Mm, Register.MM3, AtRbx));
        }
        var rig = new SimdRig(ins.ToArray());
        var c = rig.Cpu;
        int memSize = Instruction.Create(s.Xmm, Register.XMM3, AtRbx).MemorySize.GetSize();

        Check(Pair, p =>
        {
            var (a, b) = p;
            UInt128 expect = s.Ref(a, b, 16);
            c.SetXmm(1, a); c.SetXmm(2, b); rig.Ok(0, name);
            Assert.True(expect == c.GetXmm(1), $"{name} xmm1={Hex(a)} xmm2={Hex(b)}: got {Hex(c.GetXmm(1))}, expected {Hex(expect)}");
            Assert.Equal(b, c.GetXmm(2));
            c.SetXmm(9, a); c.SetXmm(14, b); rig.Ok(1, name);
            Assert.Equal(expect, c.GetXmm(9));
            c.SetXmm(5, a); rig.Ok(2, name);
            Assert.Equal(s.Ref(a, a, 16), c.GetXmm(5));
            c.SetXmm(3, a); rig.W128(SimdRig.Data, b); rig.Ok(3, name);
            Assert.True(expect == c.GetXmm(3), $"{name} memory form: got {Hex(c.GetXmm(3))}, expected {Hex(expect)}");
            if (mmx)
            {
                ulong al = (ulong)a, bl = (ulong)b;
                ulong em = (ulong)s.Ref(al, bl, 8);
                c.FpuStatusWord = 3 << 11; c.FpuAbridgedTag = 0;
                rig.SetMm(1, al); rig.SetMm(2, bl); rig.Ok(5, name);
                Assert.True(em == rig.Mm(1), $"{name} mm1={al:X16} mm2={bl:X16}: got {rig.Mm(1):X16}, expected {em:X16}");
                Assert.Equal(0xFFFF, rig.MmExp(1));
                Assert.Equal(bl, rig.Mm(2));
                Assert.Equal(0, rig.MmExp(2));                  // a register not written keeps its exponent
                Assert.Equal(0, (c.FpuStatusWord >> 11) & 7);  // TOP = 0
                Assert.Equal(0xFF, c.FpuAbridgedTag);            // all tags valid
                rig.SetMm(7, al); rig.SetMm(0, bl); rig.Ok(6, name);
                Assert.Equal(em, rig.Mm(7));
                rig.SetMm(3, al); rig.W128(SimdRig.Data, b); rig.Ok(7, name);
                Assert.Equal(em, rig.Mm(3));
            }
            return true;
        });

        // Legacy SSE: a misaligned 16-byte operand raises #GP(0) and changes nothing; smaller operands need no alignment.
        c.SetXmm(3, 0x1234);
        if (memSize == 16)
        {
            rig.Faults(ExceptionVector.GP, 4, name);
            Assert.Equal((UInt128)0x1234, c.GetXmm(3));
        }
        else rig.Ok(4, name);
    }
}
