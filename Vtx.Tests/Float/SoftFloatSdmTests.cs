using System.Numerics;
using Vtx.Float;
using Xunit;

namespace Vtx.Tests.Float;

/// <summary>Named special cases from the SDM (section or instruction page cited on each test).</summary>
public class SoftFloatSdmTests
{
    private const FpExceptions IE = FpExceptions.Invalid, DE = FpExceptions.Denormal, ZE = FpExceptions.ZeroDivide,
        OE = FpExceptions.Overflow, UE = FpExceptions.Underflow, PE = FpExceptions.Precision, None = FpExceptions.None;

    private static FpEnv Sse(FpRounding rc = FpRounding.Nearest, bool ftz = false, bool daz = false, FpExceptions masks = FpExceptions.All)
        => new() { Rounding = rc, Precision = FpPrecision.Extended, FlushToZero = ftz, DenormalsAreZero = daz, Masks = masks };

    private static FpEnv X87(FpRounding rc = FpRounding.Nearest, FpPrecision pc = FpPrecision.Extended, FpExceptions masks = FpExceptions.All)
        => new() { Rounding = rc, Precision = pc, Masks = masks };

    /// <summary>An exact double-extended value built from a normal binary64 by re-packing its bits (no arithmetic).</summary>
    private static Float80 X(double d)
    {
        ulong b = BitConverter.DoubleToUInt64Bits(d);
        ushort sign = (ushort)((b >> 48) & 0x8000);
        if ((b & ~(1ul << 63)) == 0) return new Float80(0, sign);
        int e = (int)((b >> 52) & 0x7FF);
        Assert.InRange(e, 1, 2046);
        return new Float80(((b & 0xF_FFFF_FFFF_FFFF) | 1ul << 52) << 11, (ushort)(sign | (e - 1023 + 16383)));
    }

    private static uint S(float f) => BitConverter.SingleToUInt32Bits(f);
    private static ulong D(double d) => BitConverter.DoubleToUInt64Bits(d);

    private static readonly Float80 QNaN80 = new(0xC000_0000_0000_1234, 0x7FFF);
    private static readonly Float80 SNaN80 = new(0x8000_0000_0000_5678, 0x7FFF);
    private static readonly Float80 Inf80 = new(0x8000_0000_0000_0000, 0x7FFF);
    private static readonly Float80 Max80 = new(ulong.MaxValue, 0x7FFE);
    private static readonly Float80 MinNormal80 = new(0x8000_0000_0000_0000, 0x0001);

    // SDM Vol. 1, 4.8.3.7 / Table 4-3: masked invalid operations return the QNaN floating-point indefinite.
    [Fact]
    public void InvalidOperationsReturnTheIndefinite()
    {
        var e = Sse();
        Assert.Equal(0xFFC0_0000u, SoftFloat.Div32(0, 0, ref e));
        Assert.Equal(0xFFC0_0000u, SoftFloat.Sub32(S(float.PositiveInfinity), S(float.PositiveInfinity), ref e));
        Assert.Equal(0xFFC0_0000u, SoftFloat.Mul32(0, S(float.NegativeInfinity), ref e));
        Assert.Equal(0xFFF8_0000_0000_0000ul, SoftFloat.Sqrt64(D(-1.0), ref e));
        Assert.Equal(0xFFF8_0000_0000_0000ul, SoftFloat.Div64(D(double.PositiveInfinity), D(double.NegativeInfinity), ref e));
        Assert.Equal(IE, e.Flags);
        var x = X87();
        Assert.Equal(Float80.Indefinite, SoftFloat.Add80(Inf80, new Float80(Inf80.Significand, 0xFFFF), ref x));
        Assert.Equal(Float80.Indefinite, SoftFloat.Sqrt80(X(-2.0), ref x));
        Assert.Equal(Float80.Indefinite, SoftFloat.Div80(Float80.Zero, Float80.Zero, ref x));
        Assert.Equal(IE, x.Flags);
    }

    // IEEE 754 6.3 as the SDM applies it (Vol. 1, 4.8.3.1 and Table 4-? of signed zeros): x − x is +0 except when rounding toward −∞.
    [Theory]
    [InlineData(FpRounding.Nearest, false)] [InlineData(FpRounding.Up, false)] [InlineData(FpRounding.TowardZero, false)] [InlineData(FpRounding.Down, true)]
    public void ExactCancellationGivesMinusZeroOnlyWhenRoundingDown(FpRounding rc, bool negative)
    {
        var e = Sse(rc);
        Assert.Equal(negative ? 0x8000_0000u : 0u, SoftFloat.Sub32(S(1.5f), S(1.5f), ref e));
        Assert.Equal(negative ? 1ul << 63 : 0ul, SoftFloat.Add64(D(-3.25), D(3.25), ref e));
        var x = X87(rc);
        Assert.Equal(new Float80(0, (ushort)(negative ? 0x8000 : 0)), SoftFloat.Sub80(X(7.0), X(7.0), ref x));
        Assert.Equal(None, e.Flags | x.Flags);
    }

    // SDM Vol. 2 SQRTSS/SQRTSD/FSQRT: the square root of −0 is −0, with no exception.
    [Fact]
    public void SquareRootOfMinusZeroIsMinusZero()
    {
        var e = Sse();
        Assert.Equal(0x8000_0000u, SoftFloat.Sqrt32(0x8000_0000u, ref e));
        Assert.Equal(1ul << 63, SoftFloat.Sqrt64(1ul << 63, ref e));
        var x = X87();
        Assert.Equal(new Float80(0, 0x8000), SoftFloat.Sqrt80(new Float80(0, 0x8000), ref x));
        Assert.Equal(None, e.Flags | x.Flags);
    }

    // SDM Vol. 1, Table 4-10: masked overflow responses by rounding mode and sign.
    [Theory]
    [InlineData(FpRounding.Nearest, false, 0x7F80_0000u)] [InlineData(FpRounding.Nearest, true, 0xFF80_0000u)]
    [InlineData(FpRounding.Down, false, 0x7F7F_FFFFu)] [InlineData(FpRounding.Down, true, 0xFF80_0000u)]
    [InlineData(FpRounding.Up, false, 0x7F80_0000u)] [InlineData(FpRounding.Up, true, 0xFF7F_FFFFu)]
    [InlineData(FpRounding.TowardZero, false, 0x7F7F_FFFFu)] [InlineData(FpRounding.TowardZero, true, 0xFF7F_FFFFu)]
    public void MaskedOverflowFollowsTable4_10(FpRounding rc, bool negative, uint expected)
    {
        var e = Sse(rc);
        uint max = negative ? 0xFF7F_FFFFu : 0x7F7F_FFFFu;
        Assert.Equal(expected, SoftFloat.Mul32(max, S(2f), ref e));
        Assert.Equal(OE | PE, e.Flags);
    }

    // SDM Vol. 1, 11.5.2.4: with OE unmasked, PE is set only if rounding with unbounded exponent was inexact;
    // masked, OE always comes with PE (Table 4-10 responses are never exact).
    [Fact]
    public void UnmaskedOverflowSetsPrecisionOnlyForALossOfAccuracy()
    {
        var exact = Sse(masks: FpExceptions.All & ~OE);
        SoftFloat.Mul32(0x7F7F_FFFFu, S(2f), ref exact);
        Assert.Equal(OE, exact.Flags);
        var lossy = Sse(masks: FpExceptions.All & ~OE);
        SoftFloat.Mul32(0x7F7F_FFFFu, S(1.5f), ref lossy);
        Assert.Equal(OE | PE, lossy.Flags);
        var masked = Sse();
        SoftFloat.Mul32(0x7F7F_FFFFu, S(2f), ref masked);
        Assert.Equal(OE | PE, masked.Flags);
        var fst = X87(masks: FpExceptions.All & ~OE);
        SoftFloat.F80ToF64(Max80, ref fst);
        Assert.Equal(OE | PE, fst.Flags);
    }

    // SDM Vol. 1, 4.9.1.5: tininess is judged on the result rounded with unbounded exponent.
    // (1 + 2^−23) × (largest denormal) = 2^−126 × (1 − 2^−46): rounded to nearest it is the smallest
    // normal, so it is not tiny (PE only); truncated it stays below 2^−126 (tiny and inexact: UE, PE).
    [Fact]
    public void TininessIsDetectedAfterRounding()
    {
        var rn = Sse();
        Assert.Equal(0x0080_0000u, SoftFloat.Mul32(0x3F80_0001u, 0x007F_FFFFu, ref rn));
        Assert.Equal(PE | DE, rn.Flags);
        var rz = Sse(FpRounding.TowardZero);
        Assert.Equal(0x007F_FFFFu, SoftFloat.Mul32(0x3F80_0001u, 0x007F_FFFFu, ref rz));
        Assert.Equal(UE | PE | DE, rz.Flags);
    }

    // SDM Vol. 1, 4.9.1.5: masked UE needs tiny AND inexact; unmasked UE is raised for any tiny result.
    [Fact]
    public void UnderflowMaskDecidesWhetherExactTinyResultsReportUE()
    {
        var masked = Sse();
        Assert.Equal(0x0040_0000u, SoftFloat.Mul32(0x0080_0000u, S(0.5f), ref masked));
        Assert.Equal(None, masked.Flags);
        var unmasked = Sse(masks: FpExceptions.All & ~UE);
        Assert.Equal(0x0040_0000u, SoftFloat.Mul32(0x0080_0000u, S(0.5f), ref unmasked));
        Assert.Equal(UE, unmasked.Flags);
    }

    // SDM Vol. 1, 10.2.3.3: FTZ with UE masked returns a zero of the true sign with UE and PE; with UE
    // unmasked FTZ does not apply (the unmasked response: UE, the denormal computed for the handler).
    [Fact]
    public void FlushToZeroOnlyWhenUnderflowIsMasked()
    {
        var ftz = Sse(ftz: true);
        Assert.Equal(0x8000_0000u, SoftFloat.Mul32(0x8080_0000u, S(0.5f), ref ftz));
        Assert.Equal(UE | PE, ftz.Flags);
        var unmasked = Sse(ftz: true, masks: FpExceptions.All & ~UE);
        Assert.Equal(0x0040_0000u, SoftFloat.Mul32(0x0080_0000u, S(0.5f), ref unmasked));
        Assert.Equal(UE, unmasked.Flags);
        var d = Sse(ftz: true);
        Assert.Equal(0ul, SoftFloat.F64ToF32(D(1e-40), ref d) & 0x7FFF_FFFFu);
        Assert.Equal(UE | PE, d.Flags);
    }

    // SDM Vol. 1, 10.2.3.4: DAZ turns denormal sources into zeros of the same sign without DE.
    [Fact]
    public void DenormalsAreZeroWithoutDE()
    {
        var daz = Sse(daz: true);
        Assert.Equal(0x8000_0000u, SoftFloat.Add32(0x8000_0001u, 0x8000_0000u, ref daz));
        Assert.Equal(FpCompare.Equal, SoftFloat.Compare64(1, 0, false, ref daz));
        Assert.Equal(None, daz.Flags);
        var plain = Sse();
        Assert.Equal(0x8000_0001u, SoftFloat.Add32(0x8000_0001u, 0x8000_0000u, ref plain));
        Assert.Equal(DE, plain.Flags);
    }

    // SDM Vol. 1, 8.2.2 and 8.5.2: denormal and pseudo-denormal operands raise DE; a pseudo-denormal
    // has the value of exponent 1 (here exactly 2^−16382).
    [Fact]
    public void X87DenormalAndPseudoDenormalOperandsRaiseDE()
    {
        var x = X87();
        var pseudo = new Float80(0x8000_0000_0000_0000, 0);
        Assert.Equal(MinNormal80, SoftFloat.Add80(pseudo, Float80.Zero, ref x));
        Assert.Equal(DE, x.Flags);
        x = X87();
        Assert.Equal(X(1.0), SoftFloat.Mul80(new Float80(0x4000_0000_0000_0000, 0), new Float80(0x8000_0000_0000_0000, 0x7FFE), ref x));
        Assert.Equal(DE, x.Flags);
        Assert.Equal(X87Class.Denormal, SoftFloat.Classify80(pseudo));
    }

    // SDM Vol. 1, 8.2.2: unnormals, pseudo-NaNs and pseudo-infinities are invalid operands.
    [Theory]
    [InlineData(0x4000_0000_0000_0000ul, 0x3FFF)] // unnormal
    [InlineData(0x0000_0000_0000_0000ul, 0x7FFF)] // pseudo-infinity
    [InlineData(0x4000_0000_0000_0001ul, 0x7FFF)] // pseudo-NaN
    public void UnsupportedEncodingsAreInvalid(ulong sig, int se)
    {
        var v = new Float80(sig, (ushort)se);
        var x = X87();
        Assert.Equal(Float80.Indefinite, SoftFloat.Add80(v, X(1.0), ref x));
        Assert.Equal(FpCompare.Unordered, SoftFloat.Compare80(v, X(1.0), true, ref x));
        Assert.Equal(0xFFC0_0000u, SoftFloat.F80ToF32(v, ref x));
        Assert.Equal(IE, x.Flags);
        Assert.Equal(X87Class.Unsupported, SoftFloat.Classify80(v));
    }

    // SDM Vol. 1, Table 4-7: x87 picks the QNaN over an SNaN and the larger significand between two
    // NaNs of one kind; SSE picks the first source. Either way an SNaN raises IE and is quieted.
    [Fact]
    public void NaNOperandSelection()
    {
        var x = X87();
        var bigQ = new Float80(0xC000_0000_0000_9999, 0xFFFF);
        Assert.Equal(bigQ, SoftFloat.Add80(QNaN80, bigQ, ref x));
        Assert.Equal(bigQ, SoftFloat.Mul80(bigQ, QNaN80, ref x));
        Assert.Equal(None, x.Flags);
        Assert.Equal(QNaN80, SoftFloat.Sub80(SNaN80 with { Significand = 0xBFFF_FFFF_FFFF_FFFF }, QNaN80, ref x));
        Assert.Equal(IE, x.Flags);
        var twoSnans = X87();
        Assert.Equal(new Float80(0xC000_0000_0000_5679, 0x7FFF), SoftFloat.Div80(SNaN80, SNaN80 with { Significand = 0x8000_0000_0000_5679 }, ref twoSnans));
        var e = Sse();
        Assert.Equal(0x7FC0_0001u, SoftFloat.Add32(0x7F80_0001u, 0x7FC0_0002u, ref e)); // first source, quieted
        Assert.Equal(0xFFC0_0002u, SoftFloat.Add32(S(1f), 0xFFC0_0002u, ref e));
        Assert.Equal(0x7FC0_0002u, SoftFloat.Mul32(0x7FC0_0002u, 0x7F80_0001u, ref e));
        Assert.Equal(IE, e.Flags);
    }

    // SDM Vol. 1, 8.5.4: unmasked overflow on a register destination stores the result rounded to the
    // precision control with the exponent divided by 2^24576; OE (PE only if inexact).
    [Fact]
    public void X87UnmaskedOverflowDeliversBiasAdjustedResult()
    {
        var x = X87(masks: FpExceptions.All & ~OE);
        Float80 r = SoftFloat.Mul80(Max80, X(2.0), ref x);
        Assert.Equal(new Float80(ulong.MaxValue, 16384 - 24576 + 16383), r);
        Assert.Equal(OE, x.Flags);
        // FSCALE's massive overflow: still out of range after the bias, a signed ∞ (8.5.4).
        var s = X87(masks: FpExceptions.All & ~OE);
        Assert.Equal(new Float80(Inf80.Significand, 0xFFFF), SoftFloat.Scale80(X(-1.0), X(60000.0), ref s));
        Assert.Equal(OE, s.Flags);
    }

    // SDM Vol. 1, 8.5.5: unmasked underflow on a register destination multiplies by 2^24576; UE even if exact.
    [Fact]
    public void X87UnmaskedUnderflowDeliversBiasAdjustedResult()
    {
        var x = X87(masks: FpExceptions.All & ~UE);
        Assert.Equal(new Float80(0x8000_0000_0000_0000, -16383 + 24576 + 16383), SoftFloat.Mul80(MinNormal80, X(0.5), ref x));
        Assert.Equal(UE, x.Flags);
        var masked = X87();
        Assert.Equal(new Float80(0x4000_0000_0000_0000, 0), SoftFloat.Mul80(MinNormal80, X(0.5), ref masked));
        Assert.Equal(None, masked.Flags);
    }

    // SDM Vol. 1, 8.1.5.2: precision control rounds the significand only; SDM 8.1.3.1: C1 = rounded up.
    [Fact]
    public void PrecisionControlRoundsTheSignificand()
    {
        var x = X87(pc: FpPrecision.Single);
        Assert.Equal(new Float80(0xAAAA_AB00_0000_0000, 0x3FFD), SoftFloat.Div80(X(1.0), X(3.0), ref x));
        Assert.Equal(PE, x.Flags);
        Assert.True(x.RoundedUp);
        var d = X87(pc: FpPrecision.Double);
        Assert.Equal(new Float80(0xAAAA_AAAA_AAAA_A800, 0x3FFD), SoftFloat.Div80(X(1.0), X(3.0), ref d));
        Assert.False(d.RoundedUp);
        // The exponent range stays that of double extended: 2^−16000 is normal under PC = single.
        var tiny = X87(pc: FpPrecision.Single);
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 16383 - 16000), SoftFloat.Mul80(new Float80(0x8000_0000_0000_0000, 16383 - 8000), new Float80(0x8000_0000_0000_0000, 16383 - 8000), ref tiny));
        Assert.Equal(None, tiny.Flags);
    }

    // SDM Vol. 1, 4.8.3.3 and the CVTxx2SI / FIST pages: invalid conversions give the integer indefinite.
    [Fact]
    public void InvalidIntegerConversionsGiveTheIntegerIndefinite()
    {
        var e = Sse();
        Assert.Equal(int.MinValue, SoftFloat.F64ToI32(D(double.NaN), false, ref e));
        Assert.Equal(int.MinValue, SoftFloat.F32ToI32(S(3e9f), true, ref e));
        Assert.Equal(long.MinValue, SoftFloat.F64ToI64(D(double.NegativeInfinity), false, ref e));
        Assert.Equal(IE, e.Flags);
        var ok = Sse();
        Assert.Equal(int.MinValue, SoftFloat.F64ToI32(D(-2147483648.5), true, ref ok));
        Assert.Equal(PE, ok.Flags);
        var over = Sse();
        Assert.Equal(int.MinValue, SoftFloat.F64ToI32(D(2147483647.5), false, ref over)); // rounds to 2^31
        Assert.Equal(IE, over.Flags);
        var x = X87();
        Assert.Equal(short.MinValue, SoftFloat.F80ToI16(X(40000.0), false, ref x));
        Assert.Equal(IE, x.Flags);
        var t = X87(FpRounding.Up);
        Assert.Equal(-2, SoftFloat.F80ToI32(X(-2.75), true, ref t)); // FISTTP truncates whatever RC says
        Assert.Equal(PE, t.Flags);
    }

    // SDM Vol. 2 FSCALE, table of results for ±∞/±0/finite combinations.
    [Fact]
    public void FscaleSpecialCases()
    {
        Float80 negInf = new(Inf80.Significand, 0xFFFF), negZero = new(0, 0x8000);
        void Is(Float80 a, Float80 b, Float80 want, FpExceptions flags)
        {
            var x = X87();
            Assert.Equal(want, SoftFloat.Scale80(a, b, ref x));
            Assert.Equal(flags, x.Flags);
        }
        Is(Inf80, negInf, Float80.Indefinite, IE);
        Is(negInf, negInf, Float80.Indefinite, IE);
        Is(Float80.Zero, Inf80, Float80.Indefinite, IE);
        Is(negZero, Inf80, Float80.Indefinite, IE);
        Is(X(-3.0), negInf, negZero, None);
        Is(X(3.0), Inf80, Inf80, None);
        Is(negZero, negInf, negZero, None);
        Is(negInf, X(-5.0), negInf, None);
        Is(Float80.Zero, X(100.0), Float80.Zero, None);
        Is(X(1.5), X(2.9), X(6.0), None);   // scale truncated toward zero
        Is(X(1.5), X(-0.5), X(1.5), None);
        Is(X(1.0), X(-16445.0), new Float80(1, 0), None); // the smallest denormal, exact
    }

    // SDM Vol. 2 FXTRACT: a zero gives ZE, exponent −∞ and the zero; ∞ gives +∞ and the ∞.
    [Fact]
    public void FxtractSpecialCases()
    {
        var x = X87();
        SoftFloat.Extract80(new Float80(0, 0x8000), out Float80 exp, out Float80 sig, ref x);
        Assert.Equal(new Float80(Inf80.Significand, 0xFFFF), exp);
        Assert.Equal(new Float80(0, 0x8000), sig);
        Assert.Equal(ZE, x.Flags);
        x = X87();
        SoftFloat.Extract80(new Float80(Inf80.Significand, 0xFFFF), out exp, out sig, ref x);
        Assert.Equal(Inf80, exp);
        Assert.Equal(new Float80(Inf80.Significand, 0xFFFF), sig);
        SoftFloat.Extract80(X(-12.0), out exp, out sig, ref x);
        Assert.Equal(X(3.0), exp);
        Assert.Equal(X(-1.5), sig);
        Assert.Equal(None, x.Flags);
    }

    // SDM Vol. 2 FPREM/FPREM1: truncated vs round-to-nearest quotient, C0/C3/C1 = Q2/Q1/Q0, C2 = incomplete.
    [Fact]
    public void PartialRemainderCases()
    {
        var x = X87();
        Assert.Equal(X(1.0), SoftFloat.Remainder80(X(7.0), X(2.0), false, out int q, out bool inc, ref x));
        Assert.Equal((3, false), (q, inc));
        Assert.Equal(X(-1.0), SoftFloat.Remainder80(X(7.0), X(2.0), true, out q, out inc, ref x));
        Assert.Equal((4, false), (q, inc));
        Assert.Equal(X(-1.0), SoftFloat.Remainder80(X(-7.0), X(2.0), false, out q, out _, ref x));
        Assert.Equal(3, q);
        Assert.Equal(new Float80(0, 0x8000), SoftFloat.Remainder80(X(-6.0), X(3.0), false, out q, out _, ref x)); // zero keeps the dividend's sign
        Assert.Equal(X(5.0), SoftFloat.Remainder80(X(5.0), Inf80, false, out _, out _, ref x));
        Assert.Equal(None, x.Flags);
        Assert.Equal(Float80.Indefinite, SoftFloat.Remainder80(Inf80, X(2.0), false, out _, out _, ref x));
        Assert.Equal(Float80.Indefinite, SoftFloat.Remainder80(X(2.0), Float80.Zero, true, out _, out _, ref x));
        Assert.Equal(IE, x.Flags);

        // 2^100 rem 3: D = 99 ≥ 64, partial with N = 32 + 99 mod 32 = 35: r = 2^100 − 3·trunc(2^100/3/2^64)·2^64.
        var p = X87();
        Float80 r = SoftFloat.Remainder80(new Float80(1ul << 63, 16383 + 100), X(3.0), false, out q, out inc, ref p);
        BigInteger a = BigInteger.One << 100, k = BigInteger.One << 64;
        BigInteger want = a - 3 * (a / (3 * k)) * k;
        Assert.True(inc);
        Assert.Equal(0, q);
        int lz = 64 - (int)want.GetBitLength();
        Assert.Equal(new Float80((ulong)(want << lz), (ushort)(16383 + 63 - lz)), r);
    }

    // SDM Vol. 2 FXAM: classes.
    [Fact]
    public void FxamClasses()
    {
        Assert.Equal(X87Class.Zero, SoftFloat.Classify80(new Float80(0, 0x8000)));
        Assert.Equal(X87Class.Denormal, SoftFloat.Classify80(new Float80(1, 0)));
        Assert.Equal(X87Class.Normal, SoftFloat.Classify80(X(-1.0)));
        Assert.Equal(X87Class.Infinity, SoftFloat.Classify80(Inf80));
        Assert.Equal(X87Class.NaN, SoftFloat.Classify80(SNaN80));
        Assert.Equal(X87Class.NaN, SoftFloat.Classify80(Float80.Indefinite));
        Assert.Equal(X87Class.Unsupported, SoftFloat.Classify80(new Float80(0x7FFF_FFFF_FFFF_FFFF, 0x4000)));
    }

    // SDM Vol. 2 COMISS/UCOMISS, FCOM/FUCOM: +0 = −0; QNaN raises IE only for the signalling (ordered) forms.
    [Fact]
    public void ComparisonRules()
    {
        var e = Sse();
        Assert.Equal(FpCompare.Equal, SoftFloat.Compare32(0, 0x8000_0000, false, ref e));
        Assert.Equal(FpCompare.Less, SoftFloat.Compare64(D(-1.0), D(-0.5), false, ref e));
        Assert.Equal(None, e.Flags);
        Assert.Equal(FpCompare.Unordered, SoftFloat.Compare32(0x7FC0_0000, 0, true, ref e));
        Assert.Equal(None, e.Flags);
        Assert.Equal(FpCompare.Unordered, SoftFloat.Compare32(0x7FC0_0000, 0, false, ref e));
        Assert.Equal(IE, e.Flags);
        var x = X87();
        Assert.Equal(FpCompare.Unordered, SoftFloat.Compare80(QNaN80, X(1.0), true, ref x));
        Assert.Equal(None, x.Flags);
        Assert.Equal(FpCompare.Unordered, SoftFloat.Compare80(SNaN80, X(1.0), true, ref x));
        Assert.Equal(IE, x.Flags);
        Assert.Equal(FpCompare.Greater, SoftFloat.Compare80(X(1.0), new Float80(1, 0x8000), false, ref x));
        Assert.Equal(IE | DE, x.Flags);
    }

    // SDM Vol. 1, 4.8.3.4: converting an SNaN quiets it (IE); FLD of a denormal raises DE and normalises.
    [Fact]
    public void ConversionSpecialCases()
    {
        var e = Sse();
        Assert.Equal(0x7FC0_0000u | (0x0001_2345_6789_ABCDul >> 29), SoftFloat.F64ToF32(0x7FF1_2345_6789_ABCDul, ref e));
        Assert.Equal(IE, e.Flags);
        var x = X87();
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 16383 - 149), SoftFloat.F32ToF80(1, ref x));
        Assert.Equal(DE, x.Flags);
        x = X87();
        Assert.Equal(new Float80(0xC000_0000_0000_0000 | (0x12345ul << 40), 0xFFFF), SoftFloat.F32ToF80(0xFF81_2345u, ref x));
        Assert.Equal(IE, x.Flags);
        Assert.Equal(new Float80(1ul << 63, (16383 + 63) | 0x8000), SoftFloat.I64ToF80(long.MinValue));
    }

    // SDM Vol. 2 ROUNDSS (imm8[3] suppresses PE) and FRNDINT (RC; signed zero kept).
    [Fact]
    public void RoundToIntegralCases()
    {
        var e = Sse();
        Assert.Equal(S(2f), SoftFloat.RoundInt32(S(2.5f), FpRounding.Nearest, true, ref e));
        Assert.Equal(None, e.Flags);
        Assert.Equal(0x8000_0000u, SoftFloat.RoundInt32(S(-0.5f), FpRounding.Nearest, false, ref e));
        Assert.Equal(PE, e.Flags);
        Assert.Equal(D(-3.0), SoftFloat.RoundInt64(D(-2.5), FpRounding.Down, false, ref e));
        var x = X87(FpRounding.Up);
        Assert.Equal(X(1.0), SoftFloat.RoundToIntegral80(new Float80(1, 0), ref x));
        Assert.Equal(DE | PE, x.Flags);
        Assert.True(x.RoundedUp);
        x = X87(FpRounding.Up);
        Assert.Equal(X(-2.0), SoftFloat.RoundToIntegral80(X(-2.5), ref x));
    }

    // RoundPack80 with absurd exponents still answers per SDM 8.5.4/8.5.5 (no host exception).
    [Fact]
    public void RoundPackExtremeExponents()
    {
        var x = X87();
        Assert.Equal(Float80.Zero, SoftFloat.RoundPack80(false, int.MinValue, 1, true, FpPrecision.Extended, ref x));
        Assert.Equal(UE | PE, x.Flags);
        x = X87(FpRounding.Up);
        // Rounding up under PC = double: the smallest denormal on the 53-bit grid, 2^(−16382−52).
        Assert.Equal(new Float80(1ul << 11, 0), SoftFloat.RoundPack80(false, int.MinValue, UInt128.MaxValue, false, FpPrecision.Double, ref x));
        Assert.Equal(UE | PE, x.Flags);
        x = X87();
        Assert.Equal(Inf80, SoftFloat.RoundPack80(false, int.MaxValue, 1, false, FpPrecision.Single, ref x));
        Assert.Equal(OE | PE, x.Flags);
        x = X87(masks: FpExceptions.All & ~OE);
        Assert.Equal(new Float80(Inf80.Significand, 0xFFFF), SoftFloat.RoundPack80(true, int.MaxValue, 1, false, FpPrecision.Single, ref x));
        Assert.Equal(OE, x.Flags);
        x = X87(masks: FpExceptions.All & ~UE);
        Assert.Equal(new Float80(0, 0x8000), SoftFloat.RoundPack80(true, int.MinValue, 1, false, FpPrecision.Extended, ref x));
        Assert.Equal(UE, x.Flags);
    }
}
