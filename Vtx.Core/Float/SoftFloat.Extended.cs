namespace Vtx.Float;

// x87 double-extended arithmetic and conversions (SDM Vol. 1, chapter 8; Vol. 2 instruction pages).
public static partial class SoftFloat
{
    /// <summary>
    /// Rounds and packs an exact intermediate into a double-extended register value: value =
    /// (−1)^sign × significand × 2^(exponent − 127), i.e. <paramref name="exponent"/> is the unbiased
    /// exponent of significand bit 127; the significand need not be normalised and
    /// <paramref name="sticky"/> says that nonzero bits lie below it. Rounds the significand to
    /// <paramref name="precision"/> (24/53/64 bits, x87 precision control, SDM Vol. 1, 8.1.5.2) with
    /// env.Rounding, keeps the 15-bit exponent range, raises PE/OE/UE (tininess after rounding, SDM
    /// Vol. 1, 4.9.1.5), delivers denormal results, and for unmasked OE/UE the bias-adjusted result
    /// (SDM Vol. 1, 8.5.4, 8.5.5). A zero significand without sticky gives a zero of the given sign.
    /// </summary>
    internal static Float80 RoundPack80(bool sign, int exponent, UInt128 significand, bool sticky, FpPrecision precision, ref FpEnv env)
    {
        int p = Bits(precision);
        // Beyond ±2^20 every result is a certain overflow or underflow, even after the ±24576 bias;
        // clamping keeps the exponent arithmetic below far from int overflow.
        exponent = Math.Clamp(exponent, -(1 << 20), 1 << 20);
        Rounded r = RoundCore(sign, exponent, significand, sticky, p, Emin80, Emax80, true, false, ref env);
        return Pack80(r, p);
    }

    private static Float80 Quiet80(Float80 a) => new(a.Significand | 0x4000_0000_0000_0000, a.SignExponent);

    /// <summary>
    /// NaN operands of a two-operand x87 instruction (SDM Vol. 1, Table 4-7): an SNaN raises IE; an
    /// SNaN and a QNaN give the QNaN; two SNaNs or two QNaNs give the one with the larger significand
    /// (quieted); equal significands give the positive one; one NaN gives itself, quieted.
    /// </summary>
    private static Float80 PropagateNaN80(Float80 a, Float80 b, in Op ua, in Op ub, ref FpEnv env)
    {
        if (ua.Kind == Kind.SNaN || ub.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
        if (ua.IsNaN && ub.IsNaN)
        {
            if (ua.Kind != ub.Kind) return Quiet80(ua.Kind == Kind.QNaN ? a : b);
            ulong sa = a.Significand | 0x4000_0000_0000_0000, sb = b.Significand | 0x4000_0000_0000_0000;
            if (sa != sb) return Quiet80(sa > sb ? a : b);
            return Quiet80(!a.Sign ? a : b);
        }
        return Quiet80(ua.IsNaN ? a : b);
    }

    private static Float80 Invalid80(ref FpEnv env)
    {
        env.Flags |= FpExceptions.Invalid;
        return Float80.Indefinite;
    }

    private static Float80 Inf80(bool sign) => new(0x8000_0000_0000_0000, (ushort)(sign ? 0xFFFF : 0x7FFF));

    /// <summary>x87 addition (FADD; SDM Vol. 2 FADD/FADDP/FIADD), precision control applies.</summary>
    public static Float80 Add80(Float80 a, Float80 b, ref FpEnv env) => AddSub80(a, b, false, ref env);

    /// <summary>x87 subtraction a − b (FSUB; SDM Vol. 2 FSUB/FSUBP/FISUB), precision control applies.</summary>
    public static Float80 Sub80(Float80 a, Float80 b, ref FpEnv env) => AddSub80(a, b, true, ref env);

    private static Float80 AddSub80(Float80 a, Float80 b, bool negB, ref FpEnv env)
    {
        Op ua = Unpack80(a), ub = Unpack80(b);
        if (ua.Kind == Kind.Unsupported || ub.Kind == Kind.Unsupported) return Invalid80(ref env);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaN80(a, b, ua, ub, ref env);
        ub.Sign ^= negB;
        if (ua.Kind == Kind.Inf || ub.Kind == Kind.Inf)
        {
            // ∞ − ∞ is invalid (SDM Vol. 1, 4.9.1.2); otherwise the infinity, DE for a denormal other operand.
            if (ua.Kind == Kind.Inf && ub.Kind == Kind.Inf && ua.Sign != ub.Sign) return Invalid80(ref env);
            if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return Inf80(ua.Kind == Kind.Inf ? ua.Sign : ub.Sign);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        int p = Bits(env.Precision);
        Rounded r = AddCore(ua, ub, p, Emin80, Emax80, true, false, ref env);
        return Pack80(r, p);
    }

    /// <summary>x87 multiplication (FMUL; SDM Vol. 2 FMUL/FMULP/FIMUL), precision control applies.</summary>
    public static Float80 Mul80(Float80 a, Float80 b, ref FpEnv env)
    {
        Op ua = Unpack80(a), ub = Unpack80(b);
        if (ua.Kind == Kind.Unsupported || ub.Kind == Kind.Unsupported) return Invalid80(ref env);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaN80(a, b, ua, ub, ref env);
        if (ua.Kind == Kind.Inf || ub.Kind == Kind.Inf)
        {
            // 0 × ∞ is invalid; ∞ × finite is ∞.
            if (ua.Kind == Kind.Zero || ub.Kind == Kind.Zero) return Invalid80(ref env);
            if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return Inf80(ua.Sign ^ ub.Sign);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        int p = Bits(env.Precision);
        return Pack80(MulCore(ua, ub, p, Emin80, Emax80, true, false, ref env), p);
    }

    /// <summary>x87 division a / b (FDIV; SDM Vol. 2 FDIV/FDIVP/FIDIV), precision control applies.</summary>
    public static Float80 Div80(Float80 a, Float80 b, ref FpEnv env)
    {
        Op ua = Unpack80(a), ub = Unpack80(b);
        if (ua.Kind == Kind.Unsupported || ub.Kind == Kind.Unsupported) return Invalid80(ref env);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaN80(a, b, ua, ub, ref env);
        bool sign = ua.Sign ^ ub.Sign;
        if (ua.Kind == Kind.Inf)
        {
            if (ub.Kind == Kind.Inf) return Invalid80(ref env); // ∞ / ∞
            if (ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return Inf80(sign);
        }
        if (ub.Kind == Kind.Inf)
        {
            if (ua.Denormal) env.Flags |= FpExceptions.Denormal;
            return new Float80(0, (ushort)(sign ? 0x8000 : 0));
        }
        if (ub.Kind == Kind.Zero)
        {
            if (ua.Kind == Kind.Zero) return Invalid80(ref env); // 0 / 0
            // Finite / 0: ZE, ∞ of the XOR sign (SDM Vol. 1, 4.9.1.3); a denormal dividend raises no DE
            // (divide-by-zero is detected first, as for SSE; the host CPU agrees).
            env.Flags |= FpExceptions.ZeroDivide;
            return Inf80(sign);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        int p = Bits(env.Precision);
        return Pack80(DivCore(ua, ub, p, Emin80, Emax80, true, false, ref env), p);
    }

    /// <summary>x87 square root (FSQRT; SDM Vol. 2 FSQRT), precision control applies; √−0 = −0.</summary>
    public static Float80 Sqrt80(Float80 a, ref FpEnv env)
    {
        Op ua = Unpack80(a);
        if (ua.Kind == Kind.Unsupported) return Invalid80(ref env);
        if (ua.IsNaN) return PropagateNaN80(a, a, ua, ua, ref env);
        if (ua.Kind == Kind.Zero) return a;
        if (ua.Sign) return Invalid80(ref env); // negative nonzero, including −∞ and −denormal
        if (ua.Kind == Kind.Inf) return a;
        if (ua.Denormal) env.Flags |= FpExceptions.Denormal;
        int p = Bits(env.Precision);
        return Pack80(SqrtCore(ua, p, Emin80, Emax80, true, false, ref env), p);
    }

    /// <summary>
    /// x87 comparison (FCOM/FUCOM/FCOMI/FUCOMI; SDM Vol. 2): quiet (FUCOM) raises IE only for SNaN and
    /// unsupported operands, !quiet for any NaN; DE for denormal operands of an ordered comparison.
    /// </summary>
    public static FpCompare Compare80(Float80 a, Float80 b, bool quiet, ref FpEnv env)
    {
        Op ua = Unpack80(a), ub = Unpack80(b);
        if (ua.Kind == Kind.Unsupported || ub.Kind == Kind.Unsupported)
        {
            env.Flags |= FpExceptions.Invalid;
            return FpCompare.Unordered;
        }
        if (ua.IsNaN || ub.IsNaN)
        {
            if (!quiet || ua.Kind == Kind.SNaN || ub.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
            return FpCompare.Unordered;
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        return CompareOrdered(ua, ub);
    }

    /// <summary>binary32 → double extended (FLD m32fp): exact; SNaN → QNaN with IE; DE for denormals.</summary>
    public static Float80 F32ToF80(uint a, ref FpEnv env) => BinToF80(a, false, ref env);

    /// <summary>binary64 → double extended (FLD m64fp): exact; SNaN → QNaN with IE; DE for denormals.</summary>
    public static Float80 F64ToF80(ulong a, ref FpEnv env) => BinToF80(a, true, ref env);

    private static Float80 BinToF80(ulong a, bool dbl, ref FpEnv env)
    {
        Op o = UnpackBin(a, dbl, false);
        ushort sign = o.Sign ? (ushort)0x8000 : (ushort)0;
        switch (o.Kind)
        {
            case Kind.Zero: return new Float80(0, sign);
            case Kind.Inf: return Inf80(o.Sign);
            case Kind.QNaN:
            case Kind.SNaN:
                if (o.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
                // The fraction moves to the top of the 63-bit fraction field, quieted (SDM Vol. 1, 4.8.3.4).
                ulong frac = o.Sig << (dbl ? 11 : 40);
                return new Float80(0xC000_0000_0000_0000 | frac, (ushort)(sign | 0x7FFF));
        }
        if (o.Denormal) env.Flags |= FpExceptions.Denormal;
        return new Float80(o.Sig, (ushort)(sign | (o.Exp + Float80.Bias)));
    }

    /// <summary>
    /// double extended → binary32 (FST m32fp; SDM Vol. 2 FST): rounded by env.Rounding; the masked
    /// response is always returned (an unmasked exception suppresses the store in the caller).
    /// </summary>
    public static uint F80ToF32(Float80 a, ref FpEnv env) => (uint)F80ToBin(a, false, ref env);

    /// <summary>double extended → binary64 (FST m64fp); see <see cref="F80ToF32"/>.</summary>
    public static ulong F80ToF64(Float80 a, ref FpEnv env) => F80ToBin(a, true, ref env);

    private static ulong F80ToBin(Float80 a, bool dbl, ref FpEnv env)
    {
        Op o = Unpack80(a);
        ulong sign = o.Sign ? 1ul << (dbl ? 63 : 31) : 0;
        switch (o.Kind)
        {
            case Kind.Unsupported:
                env.Flags |= FpExceptions.Invalid;
                return dbl ? Indefinite64 : Indefinite32;
            case Kind.QNaN:
            case Kind.SNaN:
                if (o.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
                // Quieted, the fraction's low bits dropped (SDM Vol. 1, 4.8.3.4).
                return dbl
                    ? sign | 0x7FF8_0000_0000_0000ul | ((o.Sig >> 11) & 0x000F_FFFF_FFFF_FFFF)
                    : sign | 0x7FC0_0000 | ((o.Sig >> 40) & 0x7F_FFFF);
            case Kind.Zero:
                return sign;
            case Kind.Inf:
                return sign | (dbl ? 0x7FF0_0000_0000_0000ul : 0x7F80_0000);
        }
        Rounded r = RoundOp(o, dbl ? 53 : 24, dbl ? Emin64 : Emin32, dbl ? Emax64 : Emax32, false, false, ref env);
        return PackBin(r, dbl);
    }

    /// <summary>int64 → double extended (FILD): always exact.</summary>
    public static Float80 I64ToF80(long a)
    {
        if (a == 0) return Float80.Zero;
        bool sign = a < 0;
        ulong mag = sign ? (ulong)(-(a + 1)) + 1 : (ulong)a;
        int lz = System.Numerics.BitOperations.LeadingZeroCount(mag);
        return new Float80(mag << lz, (ushort)((sign ? 0x8000 : 0) | (Float80.Bias + 63 - lz)));
    }

    /// <summary>
    /// double extended → int64 (FIST/FISTP m64int, FISTTP with <paramref name="truncate"/>; SDM Vol. 2):
    /// NaN, ∞, unsupported or out of range → integer indefinite with IE (SDM Vol. 1, 4.8.3.3); PE when inexact.
    /// </summary>
    public static long F80ToI64(Float80 a, bool truncate, ref FpEnv env) => OpToInt(Unpack80(a), truncate, 64, ref env);

    /// <summary>double extended → int32 (FIST m32int); see <see cref="F80ToI64"/>.</summary>
    public static int F80ToI32(Float80 a, bool truncate, ref FpEnv env) => (int)OpToInt(Unpack80(a), truncate, 32, ref env);

    /// <summary>double extended → int16 (FIST m16int); see <see cref="F80ToI64"/>.</summary>
    public static short F80ToI16(Float80 a, bool truncate, ref FpEnv env) => (short)OpToInt(Unpack80(a), truncate, 16, ref env);

    /// <summary>
    /// Float → signed integer of <paramref name="bits"/> bits: rounded by env.Rounding or truncated;
    /// invalid operands and results out of range give the integer indefinite (the most negative
    /// value) with IE and no PE.
    /// </summary>
    private static long OpToInt(in Op o, bool truncate, int bits, ref FpEnv env)
    {
        long indefinite = long.MinValue >> (64 - bits);
        switch (o.Kind)
        {
            case Kind.Zero: return 0;
            case Kind.Finite: break;
            default:
                env.Flags |= FpExceptions.Invalid;
                return indefinite;
        }
        FpRounding rm = truncate ? FpRounding.TowardZero : env.Rounding;
        ulong limit = (1ul << (bits - 1)) - (o.Sign ? 0ul : 1ul); // largest magnitude of that sign
        if (!RoundToIntMag(o, rm, out ulong mag, out bool inexact, out bool up) || mag > limit)
        {
            env.Flags |= FpExceptions.Invalid;
            return indefinite;
        }
        if (inexact) env.Flags |= FpExceptions.Precision;
        if (up) env.RoundedUp = true;
        return o.Sign ? (long)(0 - mag) : (long)mag;
    }
}
