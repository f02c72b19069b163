using Vtx.Float;
using Xunit;
using Xunit.Abstractions;
using static Vtx.Float.FpExceptions;

namespace Vtx.Tests.Float;

/// <summary>
/// The special-operand tables of the SDM Vol. 2 pages FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1,
/// FYL2X and FYL2XP1, the out-of-range rule of the trigonometric instructions, the NaN rules of SDM
/// Vol. 1 Table 4-7, and the 66-bit π argument reduction (SDM Vol. 1, 8.3.8) against the true sine.
/// Expected irrational values come from the BigInteger reference (<see cref="TrRef"/>).
/// </summary>
public class TranscendentalSpecialTests(ITestOutputHelper output)
{
    private static FpEnv Env(FpRounding rc = FpRounding.Nearest) => TranscendentalAccuracyTests.Env(rc);

    // Operands.
    private static readonly Float80 PZero = new(0, 0), NZero = new(0, 0x8000);
    private static readonly Float80 PInf = new(0x8000_0000_0000_0000, 0x7FFF), NInf = new(0x8000_0000_0000_0000, 0xFFFF);
    private static readonly Float80 One = new(0x8000_0000_0000_0000, 0x3FFF), NegOne = new(0x8000_0000_0000_0000, 0xBFFF);
    private static readonly Float80 QNaN = new(0xC000_0000_0000_1234, 0x7FFF), QNaNBig = new(0xC000_0000_0000_5678, 0xFFFF);
    private static readonly Float80 SNaN = new(0x8000_0000_0000_4321, 0x7FFF), SNaNBig = new(0xA000_0000_0000_0000, 0x7FFF);
    private static readonly Float80 Unnormal = new(0x4000_0000_0000_0000, 0x4000);
    private static readonly Float80 PseudoInf = new(0, 0x7FFF), PseudoNaN = new(0x4000_0000_0000_0001, 0x7FFF);
    private static readonly Float80 Denorm = new(0x0000_0000_1234_5678, 0), NegDenorm = new(0x0000_0000_1234_5678, 0x8000);
    private static readonly Float80 PseudoDenorm = new(0x8000_0000_0000_0001, 0);

    /// <summary>±2^k × 1.0.</summary>
    private static Float80 Pow2(int k, bool neg = false) => new(0x8000_0000_0000_0000, (ushort)((neg ? 0x8000 : 0) | (k + 16383)));

    /// <summary>A small integer as Float80 (exact).</summary>
    private static Float80 I(long v)
    {
        if (v == 0) return PZero;
        ulong m = (ulong)Math.Abs(v);
        int lz = System.Numerics.BitOperations.LeadingZeroCount(m);
        return new Float80(m << lz, (ushort)((v < 0 ? 0x8000 : 0) | (63 - lz + 16383)));
    }

    private static Float80 Quiet(Float80 a) => new(a.Significand | 0x4000_0000_0000_0000, a.SignExponent);
    private static Float80 R(RefFloat v) => TrRef.Round(v, FpRounding.Nearest);
    private static readonly Float80 Pi = R(TrRef.Pi), HalfPi = R(TrRef.Pi.Scale(-1)), QuarterPi = R(TrRef.Pi.Scale(-2));
    private static readonly Float80 ThreeQuarterPi = R(TrRef.Pi.Scale(-2) * RefFloat.FromInt(3));
    private static Float80 Neg(Float80 a) => new(a.Significand, (ushort)(a.SignExponent ^ 0x8000));

    // ---- FSIN / FCOS / FSINCOS / FPTAN ---------------------------------------------------------

    private delegate Float80 Unary(Float80 x, ref FpEnv env, out bool outOfRange);

    private static readonly Unary[] Trig = [SoftFloat.Sin80, SoftFloat.Cos80, SoftFloat.Tan80, SinOfSinCos, CosOfSinCos];

    private static Float80 SinOfSinCos(Float80 x, ref FpEnv env, out bool oor)
    {
        SoftFloat.SinCos80(x, out Float80 s, out _, ref env, out oor);
        return s;
    }

    private static Float80 CosOfSinCos(Float80 x, ref FpEnv env, out bool oor)
    {
        SoftFloat.SinCos80(x, out _, out Float80 c, ref env, out oor);
        return c;
    }

    private static (Float80 R, FpExceptions F, bool Oor) Run(int fn, Float80 x, FpRounding rc = FpRounding.Nearest)
    {
        FpEnv env = Env(rc);
        Float80 r = Trig[fn](x, ref env, out bool oor);
        return (r, env.Flags, oor);
    }

    [Theory]
    [InlineData(0, false)] [InlineData(0, true)] [InlineData(2, false)] [InlineData(2, true)] [InlineData(3, false)] [InlineData(3, true)]
    public void SinTanOfSignedZeroIsThatZeroExactly(int fn, bool neg)
    {
        var (r, f, oor) = Run(fn, neg ? NZero : PZero);
        Assert.Equal(neg ? NZero : PZero, r);
        Assert.Equal(None, f);
        Assert.False(oor);
    }

    [Theory]
    [InlineData(1, false)] [InlineData(1, true)] [InlineData(4, false)] [InlineData(4, true)]
    public void CosOfSignedZeroIsPlusOneExactly(int fn, bool neg)
    {
        var (r, f, _) = Run(fn, neg ? NZero : PZero);
        Assert.Equal(One, r);
        Assert.Equal(None, f);
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)]
    public void TrigOfInfinityOrUnsupportedIsInvalidWithTheIndefinite(int fn)
    {
        foreach (Float80 x in new[] { PInf, NInf, Unnormal, PseudoInf, PseudoNaN })
        {
            var (r, f, oor) = Run(fn, x);
            Assert.Equal(Float80.Indefinite, r);
            Assert.Equal(Invalid, f);
            Assert.False(oor);
        }
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)]
    public void TrigPropagatesAQNaNQuietlyAndQuietsAnSNaNWithIE(int fn)
    {
        var (r, f, _) = Run(fn, QNaN);
        Assert.Equal(QNaN, r);
        Assert.Equal(None, f);
        (r, f, _) = Run(fn, SNaN);
        Assert.Equal(Quiet(SNaN), r);
        Assert.Equal(Invalid, f);
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)]
    public void TrigOutsideMinus2Pow63To2Pow63SetsOutOfRangeAndLeavesTheOperand(int fn)
    {
        // SDM Vol. 2 FSIN/FCOS/FSINCOS/FPTAN: |x| ≥ 2^63 → C2 = 1, ST(0) unchanged, no exception.
        foreach (Float80 x in new[] { Pow2(63), Pow2(63, true), Pow2(100), new Float80(ulong.MaxValue, 0x7FFE), new Float80(ulong.MaxValue, 0xFFFE) })
        {
            var (r, f, oor) = Run(fn, x);
            Assert.True(oor);
            Assert.Equal(x, r);
            Assert.Equal(None, f);
        }
        // The largest value below 2^63 is in range and reduced.
        var below = new Float80(ulong.MaxValue, 0x403D);
        var (r2, f2, oor2) = Run(fn, below);
        Assert.False(oor2);
        Assert.Equal(Precision, f2);
        var (s, c) = TrRef.SinCosPi66(below);
        RefFloat expected = fn switch { 0 or 3 => s, 1 or 4 => c, _ => s / c };
        Assert.Equal(R(expected), r2);
    }

    [Fact]
    public void SinAndTanOfADenormalRaiseDenormalUnderflowPrecisionAndRoundToTheOperand()
    {
        foreach (Float80 x in new[] { Denorm, NegDenorm })
        {
            foreach (int fn in new[] { 0, 2, 3 })
            {
                var (r, f, _) = Run(fn, x);
                Assert.Equal(x, r);
                Assert.Equal(Denormal | Underflow | Precision, f);
            }
            var (c, fc, _) = Run(1, x);
            Assert.Equal(One, c);
            Assert.Equal(Denormal | Precision, fc);
        }
    }

    [Fact]
    public void APseudoDenormalOperandIsReadAsItsValueWithDE()
    {
        // SDM Vol. 1, 8.2.2: pseudo-denormals are accepted as operands (DE); the value is
        // (1 + 2^-63) × 2^-16382, a normal number once written back.
        var (r, f, _) = Run(0, PseudoDenorm);
        Assert.Equal(new Float80(0x8000_0000_0000_0001, 1), r);
        Assert.True((f & (Denormal | Precision)) == (Denormal | Precision), f.ToString());
        Assert.True((f & Invalid) == 0);
    }

    [Fact]
    public void TinyArgumentsRoundOnTheSideTheSeriesPutsThem()
    {
        // sin x = x − x³/6 < x, tan x = x + x³/3 > x, cos x = 1 − x²/2 < 1 for x = 2^-40.
        Float80 x = Pow2(-40);
        Float80 below = new(ulong.MaxValue, (ushort)(x.SignExponent - 1)), above = new(0x8000_0000_0000_0001, x.SignExponent);
        Assert.Equal(below, Run(0, x, FpRounding.TowardZero).R);
        Assert.Equal(x, Run(0, x, FpRounding.Up).R);
        Assert.Equal(x, Run(0, x, FpRounding.Nearest).R);
        Assert.Equal(above, Run(2, x, FpRounding.Up).R);
        Assert.Equal(x, Run(2, x, FpRounding.Down).R);
        Assert.Equal(new Float80(ulong.MaxValue, 0x3FFE), Run(1, x, FpRounding.Down).R);
        Assert.Equal(One, Run(1, x, FpRounding.Up).R);
        // Negative: sin(−x) = −sin x, rounding toward −∞ moves away from zero only if |sin x| < |x|... it is.
        Assert.Equal(Neg(x), Run(0, Neg(x), FpRounding.Down).R);
        Assert.Equal(Neg(below), Run(0, Neg(x), FpRounding.Up).R);
    }

    [Fact]
    public void SinNearPiFollowsThe66BitPiNotTheTruePi()
    {
        // x = π rounded to 64 bits = C90FDAA22168C235h × 2^-62. The x87 reduces by π66 (SDM Vol. 1,
        // 8.3.8): x − π66 = 4 × 2^-66 = 2^-64 exactly, so FSIN gives −sin(2^-64) → −2^-64, while the true
        // sine is −(x − π) ≈ −5.0165e-20: documented behaviour, about 2^61 ulps away.
        Float80 x = new(0xC90F_DAA2_2168_C235, 0x4000);
        var (r, f, _) = Run(0, x);
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 0xBFBF), r);
        Assert.Equal(Precision, f);
        Assert.Equal(R(TrRef.SinCosPi66(x).Sin), r);
        RefFloat truth = TrRef.SinTrue(x);
        double ulps = TrRef.UlpError(r, truth);
        output.WriteLine($"FSIN({x}) = {r} (pi66 model); true sine {truth}; {ulps:E3} ulp apart");
        Assert.True(ulps > 1e15);
    }

    [Fact]
    public void CosNearHalfPiFollowsThe66BitPi()
    {
        // x = π/2 rounded = C90FDAA22168C235h × 2^-63: x − π66/2 = 2^-65, cos x = −sin(2^-65) → −2^-65.
        Float80 x = new(0xC90F_DAA2_2168_C235, 0x3FFF);
        var (r, f, _) = Run(1, x);
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 0xBFBE), r);
        Assert.Equal(Precision, f);
        // FPTAN there: tan = −cot(2^-65) = −2^65 (1 − 2^-130/3) → −2^65 in round to nearest.
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 0xC040), Run(2, x).R);
    }

    [Fact]
    public void LargeArgumentsFollowThePi66ModelAndDifferFromTheTrueSine()
    {
        var rng = new Random(66);
        int differ = 0;
        for (int i = 0; i < 40; i++)
        {
            Float80 x = new(0x8000_0000_0000_0000UL | (ulong)rng.NextInt64(long.MinValue, long.MaxValue), (ushort)(16383 + 55 + rng.Next(8)));
            var (r, _, oor) = Run(0, x);
            Assert.False(oor);
            Assert.Equal(R(TrRef.SinCosPi66(x).Sin), r);
            if (R(TrRef.SinTrue(x)) != r) differ++;
        }
        // π66 differs from π by ~2^-68 relative; at |x| ~ 2^60 the reduced arguments differ by ~2^-6 rad.
        output.WriteLine($"{differ}/40 sines of x in [2^55, 2^63) differ from the true sine");
        Assert.True(differ >= 35);
    }

    // ---- FPATAN -------------------------------------------------------------------------------

    public static TheoryData<string, Float80, Float80, Float80, FpExceptions> AtanTable()
    {
        var d = new TheoryData<string, Float80, Float80, Float80, FpExceptions>();
        Float80 two = I(2), mtwo = I(-2);
        d.Add("+0/+0", PZero, PZero, PZero, None);
        d.Add("-0/+0", NZero, PZero, NZero, None);
        d.Add("+0/-0", PZero, NZero, Pi, Precision);
        d.Add("-0/-0", NZero, NZero, Neg(Pi), Precision);
        d.Add("+0/+F", PZero, two, PZero, None);
        d.Add("-0/+F", NZero, two, NZero, None);
        d.Add("+0/-F", PZero, mtwo, Pi, Precision);
        d.Add("-0/-F", NZero, mtwo, Neg(Pi), Precision);
        d.Add("+F/+0", two, PZero, HalfPi, Precision);
        d.Add("+F/-0", two, NZero, HalfPi, Precision);
        d.Add("-F/+0", mtwo, PZero, Neg(HalfPi), Precision);
        d.Add("-F/-0", mtwo, NZero, Neg(HalfPi), Precision);
        d.Add("+inf/+inf", PInf, PInf, QuarterPi, Precision);
        d.Add("-inf/+inf", NInf, PInf, Neg(QuarterPi), Precision);
        d.Add("+inf/-inf", PInf, NInf, ThreeQuarterPi, Precision);
        d.Add("-inf/-inf", NInf, NInf, Neg(ThreeQuarterPi), Precision);
        d.Add("+inf/+F", PInf, two, HalfPi, Precision);
        d.Add("+inf/-F", PInf, mtwo, HalfPi, Precision);
        d.Add("-inf/-0", NInf, NZero, Neg(HalfPi), Precision);
        d.Add("+F/+inf", two, PInf, PZero, None);
        d.Add("-F/+inf", mtwo, PInf, NZero, None);
        d.Add("+F/-inf", two, NInf, Pi, Precision);
        d.Add("-F/-inf", mtwo, NInf, Neg(Pi), Precision);
        d.Add("+0/+inf", PZero, PInf, PZero, None);
        d.Add("-0/-inf", NZero, NInf, Neg(Pi), Precision);
        d.Add("1/1", One, One, QuarterPi, Precision);
        d.Add("-1/-1", NegOne, NegOne, Neg(ThreeQuarterPi), Precision);
        d.Add("QNaN/F", QNaN, two, QNaN, None);
        d.Add("F/SNaN", two, SNaN, Quiet(SNaN), Invalid);
        d.Add("SNaN/QNaN", SNaN, QNaN, QNaN, Invalid);
        d.Add("QNaN/QNaN larger wins", QNaN, QNaNBig, QNaNBig, None);
        d.Add("SNaN/SNaN larger wins", SNaN, SNaNBig, Quiet(SNaNBig), Invalid);
        d.Add("unsupported y", Unnormal, two, Float80.Indefinite, Invalid);
        d.Add("unsupported x beats NaN", QNaN, PseudoInf, Float80.Indefinite, Invalid);
        d.Add("denormal x, y = +0", PZero, Denorm, PZero, Denormal);
        d.Add("denormal y / 1", Denorm, One, Denorm, Denormal | Underflow | Precision);
        return d;
    }

    [Theory]
    [MemberData(nameof(AtanTable))]
    public void FpatanFollowsTheSdmTable(string name, Float80 y, Float80 x, Float80 expected, FpExceptions flags)
    {
        FpEnv env = Env();
        Float80 r = SoftFloat.Atan80(y, x, ref env);
        Assert.True(expected == r, $"{name}: {r}, expected {expected}");
        Assert.Equal(flags, env.Flags);
    }

    // ---- F2XM1 -------------------------------------------------------------------------------

    public static TheoryData<string, Float80, Float80, FpExceptions> F2xm1Table()
    {
        var d = new TheoryData<string, Float80, Float80, FpExceptions>();
        d.Add("+0", PZero, PZero, None);
        d.Add("-0", NZero, NZero, None);
        d.Add("+1 -> 1 exactly", One, One, None);
        d.Add("-1 -> -1/2 exactly", NegOne, Pow2(-1, true), None);
        d.Add("+1/2 -> sqrt2 - 1", Pow2(-1), R(RefFloat.Sqrt(RefFloat.FromInt(2)) - RefFloat.FromInt(1)), Precision);
        d.Add("-1/2 -> sqrt(1/2) - 1", Pow2(-1, true), R(RefFloat.Sqrt(RefFloat.Pow2(-1)) - RefFloat.FromInt(1)), Precision);
        d.Add("+inf (Vtx: the limit)", PInf, PInf, None);
        d.Add("-inf (Vtx: the limit)", NInf, NegOne, None);
        d.Add("QNaN", QNaN, QNaN, None);
        d.Add("SNaN", SNaN, Quiet(SNaN), Invalid);
        d.Add("unnormal", Unnormal, Float80.Indefinite, Invalid);
        d.Add("pseudo-infinity", PseudoInf, Float80.Indefinite, Invalid);
        d.Add("denormal", Denorm, R(RefFloat.FromF80(Denorm) * TrRef.Ln2), Denormal | Underflow | Precision);
        d.Add("2 -> 3 (outside the SDM range)", I(2), I(3), None);
        d.Add("64 -> 2^64 - 1", I(64), new Float80(ulong.MaxValue, 16383 + 63), None);
        d.Add("65 -> 2^65 rounded", I(65), Pow2(65), Precision);
        d.Add("-64 -> -(1 - 2^-64)", I(-64), new Float80(ulong.MaxValue, 0xBFFE), None);
        d.Add("-200 -> -1 rounded", I(-200), NegOne, Precision);
        d.Add("20000 overflows", I(20000), PInf, Overflow | Precision);
        return d;
    }

    [Theory]
    [MemberData(nameof(F2xm1Table))]
    public void F2xm1FollowsTheSdmTableAndVtxsDocumentedExtension(string name, Float80 x, Float80 expected, FpExceptions flags)
    {
        FpEnv env = Env();
        Float80 r = SoftFloat.F2xm1_80(x, ref env);
        Assert.True(expected == r, $"{name}: {r}, expected {expected}");
        Assert.Equal(flags, env.Flags);
    }

    // ---- FYL2X -------------------------------------------------------------------------------

    private const string IE = "*", ZEp = "+inf!", ZEm = "-inf!";

    /// <summary>
    /// SDM Vol. 2 FYL2X table: rows ST(0) = x, columns ST(1) = y ∈ {−∞, −3, −0, +0, +3, +∞}; "*" is
    /// IE (indefinite), "!" marks ZE. x = 0.5 and 2 make the finite results exact (log2 = ∓1).
    /// </summary>
    public static TheoryData<string, Float80, string[]> Fyl2xTable() => new()
    {
        { "-inf", NInf, [IE, IE, IE, IE, IE, IE] },
        { "-F", I(-2), [IE, IE, IE, IE, IE, IE] },
        { "-denormal", NegDenorm, [IE, IE, IE, IE, IE, IE] },
        { "-0", NZero, ["+inf", ZEp, IE, IE, ZEm, "-inf"] },
        { "+0", PZero, ["+inf", ZEp, IE, IE, ZEm, "-inf"] },
        { "+0<x<+1", Pow2(-1), ["+inf", "+3", "+0", "-0", "-3", "-inf"] },
        { "+1", One, [IE, "-0", "-0", "+0", "+0", IE] },
        { "x>+1", I(2), ["-inf", "-3", "-0", "+0", "+3", "+inf"] },
        { "+inf", PInf, ["-inf", "-inf", IE, IE, "+inf", "+inf"] },
    };

    private static readonly Float80[] YColumn = [NInf, I(-3), NZero, PZero, I(3), PInf];

    private static void AssertCell(string what, string cell, Float80 r, FpExceptions f)
    {
        (Float80 v, FpExceptions fl) = cell switch
        {
            IE => (Float80.Indefinite, Invalid),
            ZEp => (PInf, ZeroDivide),
            ZEm => (NInf, ZeroDivide),
            "+inf" => (PInf, None),
            "-inf" => (NInf, None),
            "+0" => (PZero, None),
            "-0" => (NZero, None),
            "+3" => (I(3), None),
            "-3" => (I(-3), None),
            _ => throw new ArgumentException(cell),
        };
        Assert.True(v == r, $"{what}: {r}, expected {cell}");
        // A denormal operand that is not rejected adds DE; none of these rows has one.
        Assert.Equal(fl, f);
    }

    [Theory]
    [MemberData(nameof(Fyl2xTable))]
    public void Fyl2xFollowsTheSdmTable(string row, Float80 x, string[] cells)
    {
        for (int i = 0; i < YColumn.Length; i++)
        {
            FpEnv env = Env();
            Float80 r = SoftFloat.Yl2x80(x, YColumn[i], ref env);
            AssertCell($"FYL2X x={row} y={YColumn[i]}", cells[i], r, env.Flags);
        }
    }

    [Fact]
    public void Fyl2xOperandRules()
    {
        FpEnv env = Env();
        Assert.Equal(QNaN, SoftFloat.Yl2x80(QNaN, I(3), ref env));
        Assert.Equal(None, env.Flags);
        env = Env();
        Assert.Equal(Quiet(SNaN), SoftFloat.Yl2x80(I(-3), SNaN, ref env));   // NaN beats the negative-x IE
        Assert.Equal(Invalid, env.Flags);
        env = Env();
        Assert.Equal(Float80.Indefinite, SoftFloat.Yl2x80(Unnormal, QNaN, ref env));
        Assert.Equal(Invalid, env.Flags);
        // log2 3 rounded, inexact.
        env = Env();
        Assert.Equal(R(TrRef.Ln(RefFloat.FromInt(3)) / TrRef.Ln2), SoftFloat.Yl2x80(I(3), One, ref env));
        Assert.Equal(Precision, env.Flags);
        // Exact: x = 2^-16400 (a denormal), y = 1 → −16400; y denormal, x = 2 → y.
        env = Env();
        Assert.Equal(I(-16400), SoftFloat.Yl2x80(new Float80(1UL << 45, 0), One, ref env));
        Assert.Equal(Denormal, env.Flags);
        env = Env();
        Assert.Equal(Denorm, SoftFloat.Yl2x80(I(2), Denorm, ref env));
        Assert.Equal(Denormal, env.Flags);
        // x = +0 with a denormal y: ZE outranks DE (SDM Vol. 1, 4.9.2).
        env = Env();
        Assert.Equal(NInf, SoftFloat.Yl2x80(PZero, Denorm, ref env));
        Assert.Equal(ZeroDivide, env.Flags);
        // Overflow: y = max, x = 2^16000.
        env = Env();
        Assert.Equal(PInf, SoftFloat.Yl2x80(Pow2(16000), new Float80(ulong.MaxValue, 0x7FFE), ref env));
        Assert.Equal(Overflow | Precision, env.Flags);
    }

    // ---- FYL2XP1 -----------------------------------------------------------------------------

    /// <summary>
    /// SDM Vol. 2 FYL2XP1 table: rows x ∈ {−(1 − √2/2) &lt; x &lt; −0, −0, +0, +0 &lt; x &lt; +(1 − √2/2)},
    /// columns y ∈ {−∞, −F, −0, +0, +F, +∞}; "±F" is a finite nonzero value of that sign, inexact.
    /// </summary>
    public static TheoryData<string, Float80, string[]> Fyl2xp1Table() => new()
    {
        { "-0.25", Pow2(-2, true), ["+inf", "+F", "+0", "-0", "-F", "-inf"] },
        { "-0", NZero, [IE, "+0", "+0", "-0", "-0", IE] },
        { "+0", PZero, [IE, "-0", "-0", "+0", "+0", IE] },
        { "+0.25", Pow2(-2), ["-inf", "-F", "-0", "+0", "+F", "+inf"] },
    };

    [Theory]
    [MemberData(nameof(Fyl2xp1Table))]
    public void Fyl2xp1FollowsTheSdmTable(string row, Float80 x, string[] cells)
    {
        for (int i = 0; i < YColumn.Length; i++)
        {
            FpEnv env = Env();
            Float80 r = SoftFloat.Yl2xp1_80(x, YColumn[i], ref env);
            string what = $"FYL2XP1 x={row} y={YColumn[i]}";
            if (cells[i] is "+F" or "-F")
            {
                RefFloat v = RefFloat.FromF80(YColumn[i]) * TrRef.Ln1p(RefFloat.FromF80(x)) / TrRef.Ln2;
                Assert.True(R(v) == r, $"{what}: {r}, expected {R(v)}");
                Assert.Equal(cells[i] == "-F", r.Sign);
                Assert.Equal(Precision, env.Flags);
            }
            else AssertCell(what, cells[i], r, env.Flags);
        }
    }

    [Fact]
    public void Fyl2xp1OutsideTheSdmRangeIsVtxsDocumentedExtension()
    {
        FpEnv env = Env();
        Assert.Equal(NInf, SoftFloat.Yl2xp1_80(NegOne, I(3), ref env));          // log2(0): ZE, as FYL2X
        Assert.Equal(ZeroDivide, env.Flags);
        env = Env();
        Assert.Equal(Float80.Indefinite, SoftFloat.Yl2xp1_80(NegOne, PZero, ref env));
        Assert.Equal(Invalid, env.Flags);
        env = Env();
        Assert.Equal(Float80.Indefinite, SoftFloat.Yl2xp1_80(I(-2), One, ref env)); // 1 + x < 0
        Assert.Equal(Invalid, env.Flags);
        env = Env();
        Assert.Equal(Float80.Indefinite, SoftFloat.Yl2xp1_80(NInf, One, ref env));
        Assert.Equal(Invalid, env.Flags);
        env = Env();
        Assert.Equal(NInf, SoftFloat.Yl2xp1_80(PInf, I(-3), ref env));
        Assert.Equal(None, env.Flags);
        env = Env();
        Assert.Equal(I(3), SoftFloat.Yl2xp1_80(One, I(3), ref env));              // 3 × log2 2, exact
        Assert.Equal(None, env.Flags);
        env = Env();
        Assert.Equal(I(-3), SoftFloat.Yl2xp1_80(Pow2(-1, true), I(3), ref env));  // 3 × log2(1/2), exact
        Assert.Equal(None, env.Flags);
        env = Env();
        Assert.Equal(Quiet(SNaN), SoftFloat.Yl2xp1_80(SNaN, PInf, ref env));
        Assert.Equal(Invalid, env.Flags);
        // A denormal x: y·x/ln 2 to first order, DE and PE (and UE: the result is tiny).
        env = Env();
        Float80 r = SoftFloat.Yl2xp1_80(Denorm, One, ref env);
        Assert.Equal(R(RefFloat.FromF80(Denorm) / TrRef.Ln2), r);
        Assert.Equal(Denormal | Underflow | Precision, env.Flags);
    }

    // ---- hot-path cost -------------------------------------------------------------------------

    [Fact]
    public void TheTranscendentalsAllocateNothingPerCall()
    {
        Float80[] args = [Pow2(-1), I(3), new Float80(0xC90F_DAA2_2168_C235, 0x403C), Denorm, Pow2(-2, true), QNaN, Pow2(70)];
        void RunAll()
        {
            foreach (Float80 x in args)
            {
                FpEnv env = Env();
                SoftFloat.Sin80(x, ref env, out _);
                SoftFloat.Cos80(x, ref env, out _);
                SoftFloat.Tan80(x, ref env, out _);
                SoftFloat.SinCos80(x, out _, out _, ref env, out _);
                SoftFloat.Atan80(x, I(3), ref env);
                SoftFloat.F2xm1_80(x, ref env);
                SoftFloat.Yl2x80(x, I(3), ref env);
                SoftFloat.Yl2xp1_80(x, I(3), ref env);
            }
        }
        RunAll();   // static tables are built once, here
        // The smallest of three windows: a one-off runtime event on this thread (tiered JIT promoting a
        // method) cannot fail the test, while a per-call allocation shows in every window (>= 6,300 calls).
        long allocated = long.MaxValue;
        var sw = new System.Diagnostics.Stopwatch();
        for (int w = 0; w < 3; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            sw.Restart();
            for (int i = 0; i < 100; i++) RunAll();
            sw.Stop();
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        output.WriteLine($"{100 * args.Length * 9} calls: {sw.Elapsed.TotalMicroseconds / (100 * args.Length * 9):F2} us per call, {allocated} B allocated");
        Assert.Equal(0, allocated);
    }
}
