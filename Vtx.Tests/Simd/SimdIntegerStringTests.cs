using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Vtx.Tests.Simd.SimdRef;
using static Vtx.Tests.Simd.SimdRig;

namespace Vtx.Tests.Simd;

/// <summary>
/// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM for every imm8, against a reference written from SDM
/// Vol. 2, 4.1 "Imm8 Control Byte Operation for PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM": the full
/// BoolRes matrix with the validity overrides of Table 4-7, then the aggregation, polarity and
/// output selection as the section's pseudo-code states them.
/// </summary>
public class SimdIntegerStringTests
{
    internal readonly record struct StrResult(ulong Index, UInt128 Mask, ulong Flags);

    private static long Elem(UInt128 v, int fmt, int i)
    {
        int sz = (fmt & 1) != 0 ? 2 : 1;
        return (fmt & 2) != 0 ? S(v, sz, i) : (long)U(v, sz, i);
    }

    private static int Implicit(UInt128 v, int fmt, int n)
    {
        for (int i = 0; i < n; i++) if (Elem(v, fmt, i) == 0) return i;
        return n;
    }

    private static int Explicit(long reg, int n) => reg == long.MinValue || Math.Abs(reg) > n ? n : (int)Math.Abs(reg);

    /// <summary>The reference: lengths la/lb (explicit) or null for implicit.</summary>
    internal static StrResult Reference(UInt128 a, UInt128 b, int imm, long? eax, long? edx)
    {
        int fmt = imm & 3, agg = (imm >> 2) & 3, pol = (imm >> 4) & 3, n = (fmt & 1) != 0 ? 8 : 16;
        int la = eax is { } x ? Explicit(x, n) : Implicit(a, fmt, n);
        int lb = edx is { } y ? Explicit(y, n) : Implicit(b, fmt, n);

        var br = new bool[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                bool v1 = i < la, v2 = j < lb;
                if (v1 && v2)
                {
                    long e1 = Elem(a, fmt, i), e2 = Elem(b, fmt, j);
                    br[i, j] = agg == 1 ? ((i & 1) == 0 ? e1 <= e2 : e1 >= e2) : e1 == e2;
                }
                else if (!v1 && !v2) br[i, j] = agg >= 2;   // equal each / equal ordered: true; equal any / ranges: false
                else if (!v1) br[i, j] = agg == 3;          // only equal ordered forces true
                else br[i, j] = false;                     // operand 1 valid, operand 2 invalid
            }

        uint r1 = 0;
        switch (agg)
        {
            case 0:
                for (int j = 0; j < n; j++) for (int i = 0; i < n; i++) if (br[i, j]) r1 |= 1u << j;
                break;
            case 1:
                for (int j = 0; j < n; j++) for (int i = 0; i < n; i += 2) if (br[i, j] && br[i + 1, j]) r1 |= 1u << j;
                break;
            case 2:
                for (int i = 0; i < n; i++) if (br[i, i]) r1 |= 1u << i;
                break;
            default:
                r1 = (1u << n) - 1;
                for (int j = 0; j < n; j++)
                    for (int i = 0, k = j; i <= n - 1 - j; i++, k++)
                        if (!br[i, k]) r1 &= ~(1u << j);
                break;
        }
        uint r2 = 0;
        for (int i = 0; i < n; i++)
        {
            bool bit = ((r1 >> i) & 1) != 0;
            if (pol == 1 || (pol == 3 && i < lb)) bit = !bit;
            if (bit) r2 |= 1u << i;
        }

        ulong flags = (r2 != 0 ? 1UL : 0) | (lb < n ? 0x40UL : 0) | (la < n ? 0x80UL : 0) | ((r2 & 1) != 0 ? 0x800UL : 0);
        ulong index = (ulong)n;
        if (r2 != 0)
        {
            if ((imm & 0x40) == 0) { index = 0; while (((r2 >> (int)index) & 1) == 0) index++; }
            else { index = (ulong)n - 1; while (((r2 >> (int)index) & 1) == 0) index--; }
        }
        UInt128 mask = 0;
        if ((imm & 0x40) == 0) mask = r2;
        else
        {
            int sz = 16 / n;
            for (int i = 0; i < n; i++) if (((r2 >> i) & 1) != 0) mask |= (UInt128)Mask(sz) << (i * sz * 8);
        }
        return new StrResult(index, mask, flags);
    }

    /// <summary>Strings over a tiny alphabet with embedded zeros and the sign/byte edges, so matches, nulls and range hits are common.</summary>
    private static readonly Gen<UInt128> Str = Gen.Zip(V128, V128, (r, sel) =>
    {
        UInt128 v = 0;
        for (int i = 0; i < 16; i++)
        {
            ulong b = (U(sel, 1, i) % 10) switch { 0 => 0, 1 or 2 => 'a', 3 => 'b', 4 => 'c', 5 => 0x80, 6 => 0xFF, 7 => 'B', _ => U(r, 1, i) };
            v |= (UInt128)b << (8 * i);
        }
        return v;
    });

    private static readonly Gen<long> Len = Gen.Frequency(
        (6, Gen.Choose(-20, 20).Select(v => (long)v)),
        (1, Gen.Elements(int.MinValue, int.MaxValue, long.MinValue, long.MaxValue, 0x1_0000_0003L, -0x1_0000_0000L, 0xFFFF_FFFFL)));

    private sealed record Case(UInt128 A, UInt128 B, long Rax, long Rdx);

    private static readonly Gen<Case> Cases = Gen.Zip(
        Gen.Frequency((3, Gen.Zip(Str, Str, (a, b) => (a, b))), (1, Str.Select(a => (a, (a << 8) | 'a')))),
        Gen.Zip(Len, Len, (x, y) => (x, y)), (s, l) => new Case(s.Item1, s.Item2, l.x, l.y));

    public static TheoryData<string, Code, bool, bool, bool> Forms => new()
    {
        // name, code, explicit, mask output, REX.W
        { "pcmpestri", Code.Pcmpestri_xmm_xmmm128_imm8, true, false, false },
        { "pcmpestri64", Code.Pcmpestri64_xmm_xmmm128_imm8, true, false, true },
        { "pcmpestrm", Code.Pcmpestrm_xmm_xmmm128_imm8, true, true, false },
        { "pcmpestrm64", Code.Pcmpestrm64_xmm_xmmm128_imm8, true, true, true },
        { "pcmpistri", Code.Pcmpistri_xmm_xmmm128_imm8, false, false, false },
        { "pcmpistrm", Code.Pcmpistrm_xmm_xmmm128_imm8, false, true, false },
    };

    /// <summary>
    /// Every imm8, register and (unaligned) memory forms: ECX (zero-extended into RCX) or XMM0,
    /// CF/ZF/SF/OF as defined and AF/PF cleared; the other output is left unchanged.
    /// </summary>
    [Theory]
    [MemberData(nameof(Forms))]
    public void EveryImm8MatchesReference(string name, Code code, bool isExplicit, bool mask, bool rexW)
    {
        var ins = new List<Instruction>();
        for (int m = 0; m < 256; m++)
        {
            ins.Add(I(code, Register.XMM1, Register.XMM2, m));
            ins.Add(Instruction.Create(code, Register.XMM3, new MemoryOperand(Register.RBX, 1), m));
        }
        var rig = new SimdRig(ins.ToArray());
        var c = rig.Cpu;
        Check(Cases, t =>
        {
            long? eax = isExplicit ? (rexW ? t.Rax : (int)t.Rax) : null;
            long? edx = isExplicit ? (rexW ? t.Rdx : (int)t.Rdx) : null;
            rig.W128(SimdRig.Data + 1, t.B);
            for (int m = 0; m < 256; m++)
            {
                var e = Reference(t.A, t.B, m, eax, edx);
                for (int form = 0; form < 2; form++)
                {
                    c[Gpr.Rax] = (ulong)t.Rax; c[Gpr.Rdx] = (ulong)t.Rdx; c[Gpr.Rcx] = 0xDEAD_BEEF_DEAD_BEEF;
                    c.Rflags = 0x8D7;
                    c.SetXmm(0, 0x5555); c.SetXmm(form == 0 ? 1 : 3, t.A); c.SetXmm(2, t.B);
                    rig.Ok(2 * m + form, name);
                    string what = $"{name} imm8={m:X2} form={form} a={Hex(t.A)} b={Hex(t.B)} rax={t.Rax} rdx={t.Rdx}";
                    Assert.True(e.Flags == (c.Rflags & 0x8D5), $"{what}: flags {c.Rflags & 0x8D5:X}, expected {e.Flags:X}");
                    if (mask)
                    {
                        Assert.True(e.Mask == c.GetXmm(0), $"{what}: xmm0 {Hex(c.GetXmm(0))}, expected {Hex(e.Mask)}");
                        Assert.Equal(0xDEAD_BEEF_DEAD_BEEFUL, c[Gpr.Rcx]);
                    }
                    else
                    {
                        Assert.True(e.Index == c[Gpr.Rcx], $"{what}: rcx {c[Gpr.Rcx]:X}, expected {e.Index}");
                        Assert.Equal((UInt128)0x5555, c.GetXmm(0));
                    }
                }
            }
            return true;
        }, 12);
    }

    /// <summary>A classic use: PCMPISTRI "equal each, negative, least index" finds the first difference of two strings.</summary>
    [Fact]
    public void StrcmpIdiomFindsFirstDifference()
    {
        var rig = new SimdRig(I(Code.Pcmpistri_xmm_xmmm128_imm8, Register.XMM1, Register.XMM2, 0x18));
        var c = rig.Cpu;
        UInt128 s1 = 0, s2 = 0;
        var t1 = "hello, world"u8; var t2 = "hello, there"u8;
        for (int i = 0; i < t1.Length; i++) { s1 |= (UInt128)t1[i] << (8 * i); s2 |= (UInt128)t2[i] << (8 * i); }
        c.SetXmm(1, s1); c.SetXmm(2, s2);
        rig.Ok();
        Assert.Equal(7UL, c[Gpr.Rcx]);
        Assert.Equal(1UL, c.Rflags & 1);           // CF: a difference was found
        Assert.Equal(0xC0UL, c.Rflags & 0xC0);     // ZF, SF: both strings end within the 16 bytes
    }

    private static UInt128 Text(string s)
    {
        UInt128 v = 0;
        for (int i = 0; i < s.Length; i++) v |= (UInt128)(byte)s[i] << (8 * i);
        return v;
    }

    /// <summary>Known answers: "ranges" with the pair 'a'..'z' finds the first lower-case letter; "equal ordered" finds a substring (strstr).</summary>
    [Fact]
    public void RangesAndSubstringKnownAnswers()
    {
        var rig = new SimdRig(I(Code.Pcmpistri_xmm_xmmm128_imm8, Register.XMM1, Register.XMM2, 0x04),
            I(Code.Pcmpistri_xmm_xmmm128_imm8, Register.XMM1, Register.XMM2, 0x0C),
            I(Code.Pcmpistrm_xmm_xmmm128_imm8, Register.XMM1, Register.XMM2, 0x44));
        var c = rig.Cpu;
        c.SetXmm(1, Text("az")); c.SetXmm(2, Text("HELLO, World!"));
        rig.Ok(0);
        Assert.Equal(8UL, c[Gpr.Rcx]);                 // 'o' of "World"
        c.SetXmm(1, Text("lo, W")); c.SetXmm(2, Text("HELLO, hello, World"[..16]));
        rig.Ok(1);
        Assert.Equal(10UL, c[Gpr.Rcx]);                // "lo, W" starts at index 10 ("hello, Wo" -> 'l','o' at 10)
        c.SetXmm(1, Text("az")); c.SetXmm(2, Text("aB"));
        rig.Ok(2);
        Assert.Equal((UInt128)0xFF, c.GetXmm(0));      // byte mask: only element 0 is in 'a'..'z'
    }
}
