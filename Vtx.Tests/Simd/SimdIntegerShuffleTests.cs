using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Vtx.Tests.Simd.SimdRef;
using static Vtx.Tests.Simd.SimdRig;

namespace Vtx.Tests.Simd;

/// <summary>
/// The imm8-controlled instructions (shuffles, blends, PALIGNR, MPSADBW, INSERTPS, shifts by
/// immediate, PSLLDQ/PSRLDQ) for EVERY imm8 value, the shifts by register/memory count, and the
/// XMM0-controlled blends, against reference models written from the SDM Vol. 2 "Operation" sections.
/// </summary>
public class SimdIntegerShuffleTests
{
    /// <summary>XMM code, MMX code or INVALID, unary (op reg, imm8) or binary, reference (dest, src, width, imm8).</summary>
    internal sealed record ImmSpec(Code Xmm, Code Mm, bool Unary, Func<UInt128, UInt128, int, int, UInt128> Ref);

    private static UInt128 Sel(int sz, int w, Func<int, ulong> f) => Map(sz, w, i => (long)f(i));

    private static Func<UInt128, UInt128, int, int, UInt128> ShiftRef(int sz, int kind) => (a, b, w, imm) => ShiftModel(a, sz, w, (ulong)imm, kind);

    /// <summary>PSLL (kind 0) / PSRL (1) / PSRA (2) of each element by <paramref name="count"/> (SDM: count above width-1 clears or sign-fills).</summary>
    internal static UInt128 ShiftModel(UInt128 a, int sz, int w, ulong count, int kind)
    {
        int bits = sz * 8;
        return Map(sz, w, i => kind switch
        {
            0 => count >= (ulong)bits ? 0 : (long)(U(a, sz, i) << (int)count),
            1 => count >= (ulong)bits ? 0 : (long)(U(a, sz, i) >> (int)count),
            _ => S(a, sz, i) >> (int)Math.Min(count, (ulong)bits - 1),
        });
    }

    internal static readonly Dictionary<string, ImmSpec> Specs = new()
    {
        ["shufps"] = new(Code.Shufps_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) =>
            Sel(4, 16, i => U(i < 2 ? a : b, 4, (m >> (2 * i)) & 3))),
        ["shufpd"] = new(Code.Shufpd_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) =>
            Sel(8, 16, i => U(i == 0 ? a : b, 8, (m >> i) & 1))),
        ["pshufd"] = new(Code.Pshufd_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) => Sel(4, 16, i => U(b, 4, (m >> (2 * i)) & 3))),
        ["pshufhw"] = new(Code.Pshufhw_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) =>
            Sel(2, 16, i => i < 4 ? U(b, 2, i) : U(b, 2, 4 + ((m >> (2 * (i - 4))) & 3)))),
        ["pshuflw"] = new(Code.Pshuflw_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) =>
            Sel(2, 16, i => i >= 4 ? U(b, 2, i) : U(b, 2, (m >> (2 * i)) & 3))),
        ["pshufw"] = new(Code.INVALID, Code.Pshufw_mm_mmm64_imm8, false, (a, b, w, m) => Sel(2, 8, i => U(b, 2, (m >> (2 * i)) & 3))),
        ["palignr"] = new(Code.Palignr_xmm_xmmm128_imm8, Code.Palignr_mm_mmm64_imm8, false, (a, b, w, m) =>
        {
            // The 2w-byte concatenation dest:src, shifted right by imm8 bytes, low w bytes kept.
            BigInteger t = ((BigInteger)Low(a, w) << (8 * w)) | (BigInteger)Low(b, w);
            return (UInt128)((t >> (8 * m)) & ((BigInteger.One << (8 * w)) - 1));
        }),
        ["blendps"] = new(Code.Blendps_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) => Sel(4, 16, i => U(((m >> i) & 1) != 0 ? b : a, 4, i))),
        ["blendpd"] = new(Code.Blendpd_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) => Sel(8, 16, i => U(((m >> i) & 1) != 0 ? b : a, 8, i))),
        ["pblendw"] = new(Code.Pblendw_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) => Sel(2, 16, i => U(((m >> i) & 1) != 0 ? b : a, 2, i))),
        ["mpsadbw"] = new(Code.Mpsadbw_xmm_xmmm128_imm8, Code.INVALID, false, (a, b, w, m) =>
        {
            int ao = ((m >> 2) & 1) * 4, bo = (m & 3) * 4;
            return Sel(2, 16, j =>
            {
                ulong s = 0;
                for (int k = 0; k < 4; k++) s += (ulong)Math.Abs((long)U(a, 1, ao + j + k) - (long)U(b, 1, bo + k));
                return s;
            });
        }),
        ["insertps"] = new(Code.Insertps_xmm_xmmm32_imm8, Code.INVALID, false, (a, b, w, m) =>
        {
            ulong src = U(b, 4, m >> 6);
            return Sel(4, 16, i => ((m >> i) & 1) != 0 ? 0 : i == ((m >> 4) & 3) ? src : U(a, 4, i));
        }),
        ["pslldq"] = new(Code.Pslldq_xmm_imm8, Code.INVALID, true, (a, b, w, m) => m > 15 ? 0 : a << (8 * m)),
        ["psrldq"] = new(Code.Psrldq_xmm_imm8, Code.INVALID, true, (a, b, w, m) => m > 15 ? 0 : a >> (8 * m)),
        ["psllw_imm"] = new(Code.Psllw_xmm_imm8, Code.Psllw_mm_imm8, true, ShiftRef(2, 0)),
        ["pslld_imm"] = new(Code.Pslld_xmm_imm8, Code.Pslld_mm_imm8, true, ShiftRef(4, 0)),
        ["psllq_imm"] = new(Code.Psllq_xmm_imm8, Code.Psllq_mm_imm8, true, ShiftRef(8, 0)),
        ["psrlw_imm"] = new(Code.Psrlw_xmm_imm8, Code.Psrlw_mm_imm8, true, ShiftRef(2, 1)),
        ["psrld_imm"] = new(Code.Psrld_xmm_imm8, Code.Psrld_mm_imm8, true, ShiftRef(4, 1)),
        ["psrlq_imm"] = new(Code.Psrlq_xmm_imm8, Code.Psrlq_mm_imm8, true, ShiftRef(8, 1)),
        ["psraw_imm"] = new(Code.Psraw_xmm_imm8, Code.Psraw_mm_imm8, true, ShiftRef(2, 2)),
        ["psrad_imm"] = new(Code.Psrad_xmm_imm8, Code.Psrad_mm_imm8, true, ShiftRef(4, 2)),
    };

    public static TheoryData<string> Names => new(Specs.Keys);

    /// <summary>Every imm8 value, register form (XMM and MMX) over full-range operands; the memory form for a sample of imm8 values.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void EveryImm8MatchesReference(string name)
    {
        var s = Specs[name];
        var ins = new List<Instruction>();
        for (int m = 0; m < 256; m++)
        {
            if (s.Xmm != Code.INVALID)
            {
                ins.Add(s.Unary ? I(s.Xmm, Register.XMM1, m) : I(s.Xmm, Register.XMM1, Register.XMM10, m));
                if (!s.Unary) ins.Add(I(s.Xmm, Register.XMM2, AtRbx, m));
            }
            if (s.Mm != Code.INVALID)
            {
                ins.Add(s.Unary ? I(s.Mm, Register.MM1, m) : I(s.Mm, Register.MM1, Register.MM6, m));
                if (!s.Unary) ins.Add(I(s.Mm, Register.MM2, AtRbx, m));
            }
        }
        var rig = new SimdRig(ins.ToArray());
        var c = rig.Cpu;
        Check(Pair, p =>
        {
            var (a, b) = p;
            int k = 0;
            for (int m = 0; m < 256; m++)
            {
                if (s.Xmm != Code.INVALID)
                {
                    UInt128 e = s.Ref(a, b, 16, m);
                    c.SetXmm(1, a); c.SetXmm(10, b); rig.Ok(k++, name);
                    Assert.True(e == c.GetXmm(1), $"{name} imm8={m:X2} a={Hex(a)} b={Hex(b)}: got {Hex(c.GetXmm(1))}, expected {Hex(e)}");
                    if (!s.Unary)
                    {
                        c.SetXmm(2, a); rig.W128(SimdRig.Data, b); rig.Ok(k++, name);
                        // INSERTPS's memory form takes the m32 as the source dword, whatever imm8[7:6] says.
                        UInt128 em = name == "insertps" ? s.Ref(a, new UInt128(U(b, 4, 0) * 0x1_0000_0001UL, U(b, 4, 0) * 0x1_0000_0001UL), 16, m) : e;
                        Assert.True(em == c.GetXmm(2), $"{name} memory imm8={m:X2}: got {Hex(c.GetXmm(2))}, expected {Hex(em)}");
                    }
                }
                if (s.Mm != Code.INVALID)
                {
                    ulong al = (ulong)a, bl = (ulong)b, e = (ulong)s.Ref(al, bl, 8, m);
                    rig.SetMm(1, al); rig.SetMm(6, bl); rig.Ok(k++, name);
                    Assert.True(e == rig.Mm(1), $"{name} mmx imm8={m:X2} a={al:X16} b={bl:X16}: got {rig.Mm(1):X16}, expected {e:X16}");
                    Assert.Equal(0xFFFF, rig.MmExp(1));
                    if (!s.Unary)
                    {
                        rig.SetMm(2, al); rig.W128(SimdRig.Data, b); rig.Ok(k++, name);
                        Assert.Equal(e, rig.Mm(2));
                    }
                }
            }
            return true;
        }, 12);
    }

    /// <summary>Shift counts that matter: 0..width+1, 63/64, counts with high bits set (the whole low quadword is the count).</summary>
    private static readonly Gen<ulong> Count = Gen.Frequency(
        (6, Gen.Choose(0, 66).Select(v => (ulong)v)),
        (1, Gen.Elements(0x1_0000_0000UL, 0x8000_0000_0000_0000UL, 0x100UL, 0x10UL | 0x1_0000_0000UL, ulong.MaxValue)));

    public static TheoryData<string, Code, Code, int, int> RegisterShifts => new()
    {
        { "psllw", Code.Psllw_xmm_xmmm128, Code.Psllw_mm_mmm64, 2, 0 },
        { "pslld", Code.Pslld_xmm_xmmm128, Code.Pslld_mm_mmm64, 4, 0 },
        { "psllq", Code.Psllq_xmm_xmmm128, Code.Psllq_mm_mmm64, 8, 0 },
        { "psrlw", Code.Psrlw_xmm_xmmm128, Code.Psrlw_mm_mmm64, 2, 1 },
        { "psrld", Code.Psrld_xmm_xmmm128, Code.Psrld_mm_mmm64, 4, 1 },
        { "psrlq", Code.Psrlq_xmm_xmmm128, Code.Psrlq_mm_mmm64, 8, 1 },
        { "psraw", Code.Psraw_xmm_xmmm128, Code.Psraw_mm_mmm64, 2, 2 },
        { "psrad", Code.Psrad_xmm_xmmm128, Code.Psrad_mm_mmm64, 4, 2 },
    };

    /// <summary>Shifts by an XMM/m128 or MM/m64 count: the count is the whole low quadword (SDM Vol. 2, PSLLW "Operation").</summary>
    [Theory]
    [MemberData(nameof(RegisterShifts))]
    public void ShiftByRegisterCount(string name, Code xmm, Code mm, int sz, int kind)
    {
        var rig = new SimdRig(I(xmm, Register.XMM1, Register.XMM2), I(xmm, Register.XMM3, AtRbx), I(mm, Register.MM1, Register.MM2), I(mm, Register.MM3, AtRbx),
            Mem(xmm, Register.XMM3, 8));
        var c = rig.Cpu;
        Check(Gen.Zip(Gen.Zip(V128, Count, (a, n) => (a, n)), Lane, (p, hi) => (p.a, p.n, hi)), t =>
        {
            var (a, n, hi) = t;
            UInt128 cnt = new(hi, n), e = ShiftModel(a, sz, 16, n, kind);
            c.SetXmm(1, a); c.SetXmm(2, cnt); rig.Ok(0, name);
            Assert.True(e == c.GetXmm(1), $"{name} {Hex(a)} by {n}: got {Hex(c.GetXmm(1))}, expected {Hex(e)}");
            c.SetXmm(3, a); rig.W128(SimdRig.Data, cnt); rig.Ok(1, name);
            Assert.Equal(e, c.GetXmm(3));
            ulong em = (ulong)ShiftModel((ulong)a, sz, 8, n, kind);
            rig.SetMm(1, (ulong)a); rig.SetMm(2, n); rig.Ok(2, name);
            Assert.Equal(em, rig.Mm(1));
            rig.SetMm(3, (ulong)a); rig.W64(SimdRig.Data, n); rig.Ok(3, name);
            Assert.Equal(em, rig.Mm(3));
            return true;
        }, 150);
        rig.Faults(ExceptionVector.GP, 4, name);
    }

    public static TheoryData<string, Code, int> VariableBlends => new()
    {
        { "blendvps", Code.Blendvps_xmm_xmmm128, 4 },
        { "blendvpd", Code.Blendvpd_xmm_xmmm128, 8 },
        { "pblendvb", Code.Pblendvb_xmm_xmmm128, 1 },
    };

    /// <summary>BLENDVPS/BLENDVPD/PBLENDVB: the sign bit of each element of the implicit XMM0 selects the source element.</summary>
    [Theory]
    [MemberData(nameof(VariableBlends))]
    public void VariableBlendsUseXmm0(string name, Code code, int sz)
    {
        var rig = new SimdRig(I(code, Register.XMM1, Register.XMM2), I(code, Register.XMM3, AtRbx), I(code, Register.XMM0, Register.XMM4));
        var c = rig.Cpu;
        Check(Triple, t =>
        {
            var (a, b, m) = t;
            UInt128 e = Sel(sz, 16, i => (S(m, sz, i) < 0 ? U(b, sz, i) : U(a, sz, i)));
            c.SetXmm(0, m); c.SetXmm(1, a); c.SetXmm(2, b); rig.Ok(0, name);
            Assert.True(e == c.GetXmm(1), $"{name}: got {Hex(c.GetXmm(1))}, expected {Hex(e)}");
            Assert.Equal(m, c.GetXmm(0));
            c.SetXmm(3, a); rig.W128(SimdRig.Data, b); rig.Ok(1, name);
            Assert.Equal(e, c.GetXmm(3));
            // XMM0 as the destination is also the mask.
            c.SetXmm(0, m); c.SetXmm(4, b); rig.Ok(2, name);
            Assert.Equal(Sel(sz, 16, i => (S(m, sz, i) < 0 ? U(b, sz, i) : U(m, sz, i))), c.GetXmm(0));
            return true;
        }, 150);
    }

    /// <summary>PTEST: ZF = (a AND b) == 0, CF = (NOT a AND b) == 0, AF/OF/PF/SF cleared, whatever they were.</summary>
    [Fact]
    public void PtestSetsZfCfAndClearsTheRest()
    {
        var rig = new SimdRig(I(Code.Ptest_xmm_xmmm128, Register.XMM1, Register.XMM2), I(Code.Ptest_xmm_xmmm128, Register.XMM1, AtRbx), Mem(Code.Ptest_xmm_xmmm128, Register.XMM1, 8));
        var c = rig.Cpu;
        var g = Gen.Frequency((3, Pair), (1, V128.Select(a => (a, ~a))), (1, V128.Select(a => (a, a))), (1, V128.Select(a => (a, (UInt128)0))));
        Check(Gen.Zip(g, Gen.Elements(0x2UL, 0x8D7UL), (p, f) => (p.Item1, p.Item2, f)), t =>
        {
            var (a, b, f0) = t;
            ulong ef = ((a & b) == 0 ? 0x40UL : 0) | ((~a & b) == 0 ? 1UL : 0);
            for (int k = 0; k < 2; k++)
            {
                c.Rflags = f0; c.SetXmm(1, a); c.SetXmm(2, b); rig.W128(SimdRig.Data, b); rig.Ok(k, "ptest");
                Assert.Equal(ef, c.Rflags & 0x8D5);
                Assert.Equal(a, c.GetXmm(1));
            }
            return true;
        }, 200);
        rig.Faults(ExceptionVector.GP, 2, "ptest misaligned");
    }
}
