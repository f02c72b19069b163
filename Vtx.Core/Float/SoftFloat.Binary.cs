namespace Vtx.Float;

// binary32 / binary64 arithmetic with SSE semantics (SDM Vol. 1, chapters 4, 10.2.3, 11.5).
// binary32 values travel in the low 32 bits of the ulong the shared code works on.
public static partial class SoftFloat
{
    private static int PBin(bool dbl) => dbl ? 53 : 24;
    private static int EminBin(bool dbl) => dbl ? Emin64 : Emin32;
    private static int EmaxBin(bool dbl) => dbl ? Emax64 : Emax32;
    private static ulong IndefiniteBin(bool dbl) => dbl ? Indefinite64 : Indefinite32;
    private static ulong QuietBin(ulong x, bool dbl) => x | (dbl ? 0x0008_0000_0000_0000ul : 0x0040_0000ul);
    private static ulong InfBin(bool sign, bool dbl) => dbl
        ? (sign ? 0xFFF0_0000_0000_0000 : 0x7FF0_0000_0000_0000)
        : (sign ? 0xFF80_0000ul : 0x7F80_0000ul);
    private static ulong ZeroBin(bool sign, bool dbl) => sign ? 1ul << (dbl ? 63 : 31) : 0;

    /// <summary>
    /// SSE NaN operands (SDM Vol. 1, Table 4-7, SSE column): IE for any SNaN; the result is the first
    /// source operand if it is a NaN, else the second, quieted either way.
    /// </summary>
    private static ulong PropagateNaNBin(ulong a, ulong b, in Op ua, in Op ub, bool dbl, ref FpEnv env)
    {
        if (ua.Kind == Kind.SNaN || ub.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
        return QuietBin(ua.IsNaN ? a : b, dbl);
    }

    private static ulong InvalidBin(bool dbl, ref FpEnv env)
    {
        env.Flags |= FpExceptions.Invalid;
        return IndefiniteBin(dbl);
    }

    private static ulong AddSubBin(ulong a, ulong b, bool negB, bool dbl, ref FpEnv env)
    {
        Op ua = UnpackBin(a, dbl, env.DenormalsAreZero), ub = UnpackBin(b, dbl, env.DenormalsAreZero);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaNBin(a, b, ua, ub, dbl, ref env);
        ub.Sign ^= negB;
        if (ua.Kind == Kind.Inf || ub.Kind == Kind.Inf)
        {
            if (ua.Kind == Kind.Inf && ub.Kind == Kind.Inf && ua.Sign != ub.Sign) return InvalidBin(dbl, ref env);
            if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return InfBin(ua.Kind == Kind.Inf ? ua.Sign : ub.Sign, dbl);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        return PackBin(AddCore(ua, ub, PBin(dbl), EminBin(dbl), EmaxBin(dbl), false, env.FlushToZero, ref env), dbl);
    }

    private static ulong MulBin(ulong a, ulong b, bool dbl, ref FpEnv env)
    {
        Op ua = UnpackBin(a, dbl, env.DenormalsAreZero), ub = UnpackBin(b, dbl, env.DenormalsAreZero);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaNBin(a, b, ua, ub, dbl, ref env);
        if (ua.Kind == Kind.Inf || ub.Kind == Kind.Inf)
        {
            if (ua.Kind == Kind.Zero || ub.Kind == Kind.Zero) return InvalidBin(dbl, ref env);
            if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return InfBin(ua.Sign ^ ub.Sign, dbl);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        return PackBin(MulCore(ua, ub, PBin(dbl), EminBin(dbl), EmaxBin(dbl), false, env.FlushToZero, ref env), dbl);
    }

    private static ulong DivBin(ulong a, ulong b, bool dbl, ref FpEnv env)
    {
        Op ua = UnpackBin(a, dbl, env.DenormalsAreZero), ub = UnpackBin(b, dbl, env.DenormalsAreZero);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaNBin(a, b, ua, ub, dbl, ref env);
        bool sign = ua.Sign ^ ub.Sign;
        if (ua.Kind == Kind.Inf)
        {
            if (ub.Kind == Kind.Inf) return InvalidBin(dbl, ref env);
            if (ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return InfBin(sign, dbl);
        }
        if (ub.Kind == Kind.Inf)
        {
            if (ua.Denormal) env.Flags |= FpExceptions.Denormal;
            return ZeroBin(sign, dbl);
        }
        if (ub.Kind == Kind.Zero)
        {
            if (ua.Kind == Kind.Zero) return InvalidBin(dbl, ref env);
            // Divide-by-zero is checked before the denormal operand (SDM Vol. 1, 11.5.2.1 order of the
            // pre-computation checks): a denormal dividend over zero raises ZE alone. The host CPU
            // (differential tests) and SoftFloat-based peers agree.
            env.Flags |= FpExceptions.ZeroDivide;
            return InfBin(sign, dbl);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        return PackBin(DivCore(ua, ub, PBin(dbl), EminBin(dbl), EmaxBin(dbl), false, env.FlushToZero, ref env), dbl);
    }

    private static ulong SqrtBin(ulong a, bool dbl, ref FpEnv env)
    {
        Op ua = UnpackBin(a, dbl, env.DenormalsAreZero);
        if (ua.IsNaN) return PropagateNaNBin(a, a, ua, ua, dbl, ref env);
        if (ua.Kind == Kind.Zero) return ZeroBin(ua.Sign, dbl); // √±0 = ±0 (a DAZ denormal gives its signed zero)
        if (ua.Sign) return InvalidBin(dbl, ref env);
        if (ua.Kind == Kind.Inf) return a;
        if (ua.Denormal) env.Flags |= FpExceptions.Denormal;
        return PackBin(SqrtCore(ua, PBin(dbl), EminBin(dbl), EmaxBin(dbl), false, env.FlushToZero, ref env), dbl);
    }

    private static FpCompare CompareBin(ulong a, ulong b, bool dbl, bool quiet, ref FpEnv env)
    {
        Op ua = UnpackBin(a, dbl, env.DenormalsAreZero), ub = UnpackBin(b, dbl, env.DenormalsAreZero);
        if (ua.IsNaN || ub.IsNaN)
        {
            if (!quiet || ua.Kind == Kind.SNaN || ub.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
            return FpCompare.Unordered;
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        return CompareOrdered(ua, ub);
    }

    private static ulong IntToBin(bool sign, ulong mag, bool dbl, ref FpEnv env)
    {
        if (mag == 0) return 0; // integer zero converts to +0
        return PackBin(RoundCore(sign, 127, mag, false, PBin(dbl), EminBin(dbl), EmaxBin(dbl), false, false, ref env), dbl);
    }

    private static ulong Magnitude(long a) => a < 0 ? (ulong)(-(a + 1)) + 1 : (ulong)a;

    private static long BinToInt(ulong a, bool dbl, bool truncate, int bits, ref FpEnv env)
    {
        // CVT(T)SS2SI / CVT(T)SD2SI raise only IE and PE (SDM Vol. 2): no DE; DAZ still zeroes denormals.
        Op o = UnpackBin(a, dbl, env.DenormalsAreZero);
        return OpToInt(o, truncate, bits, ref env);
    }

    private static ulong RoundIntBin(ulong a, bool dbl, FpRounding mode, bool suppressPrecision, ref FpEnv env)
    {
        // ROUNDSS/ROUNDSD raise IE (SNaN) and PE (unless imm8[3]); no DE (SDM Vol. 2 ROUNDSS).
        Op o = UnpackBin(a, dbl, env.DenormalsAreZero);
        switch (o.Kind)
        {
            case Kind.QNaN:
            case Kind.SNaN:
                return PropagateNaNBin(a, a, o, o, dbl, ref env);
            case Kind.Inf:
                return a;
            case Kind.Zero:
                return ZeroBin(o.Sign, dbl);
        }
        if (o.Exp >= (dbl ? 52 : 23)) return a; // already integral
        RoundToIntMag(o, mode, out ulong mag, out bool inexact, out _);
        if (inexact && !suppressPrecision) env.Flags |= FpExceptions.Precision;
        if (mag == 0) return ZeroBin(o.Sign, dbl); // the zero keeps the operand's sign
        FpEnv exact = env; // the integral value is exact in the format: no flags can arise
        return PackBin(RoundCore(o.Sign, 127, mag, false, PBin(dbl), EminBin(dbl), EmaxBin(dbl), false, false, ref exact), dbl);
    }

    /// <summary>binary32 addition as ADDSS performs it (SDM Vol. 1, 11.5; Vol. 2 ADDSS).</summary>
    public static uint Add32(uint a, uint b, ref FpEnv env) => (uint)AddSubBin(a, b, false, false, ref env);

    /// <summary>binary32 subtraction a − b as SUBSS performs it (SDM Vol. 2 SUBSS).</summary>
    public static uint Sub32(uint a, uint b, ref FpEnv env) => (uint)AddSubBin(a, b, true, false, ref env);

    /// <summary>binary32 multiplication as MULSS performs it (SDM Vol. 2 MULSS).</summary>
    public static uint Mul32(uint a, uint b, ref FpEnv env) => (uint)MulBin(a, b, false, ref env);

    /// <summary>binary32 division a / b as DIVSS performs it (SDM Vol. 2 DIVSS).</summary>
    public static uint Div32(uint a, uint b, ref FpEnv env) => (uint)DivBin(a, b, false, ref env);

    /// <summary>binary32 square root as SQRTSS performs it (SDM Vol. 2 SQRTSS); √−0 = −0.</summary>
    public static uint Sqrt32(uint a, ref FpEnv env) => (uint)SqrtBin(a, false, ref env);

    /// <summary>binary64 addition as ADDSD performs it (SDM Vol. 1, 11.5; Vol. 2 ADDSD).</summary>
    public static ulong Add64(ulong a, ulong b, ref FpEnv env) => AddSubBin(a, b, false, true, ref env);

    /// <summary>binary64 subtraction a − b as SUBSD performs it (SDM Vol. 2 SUBSD).</summary>
    public static ulong Sub64(ulong a, ulong b, ref FpEnv env) => AddSubBin(a, b, true, true, ref env);

    /// <summary>binary64 multiplication as MULSD performs it (SDM Vol. 2 MULSD).</summary>
    public static ulong Mul64(ulong a, ulong b, ref FpEnv env) => MulBin(a, b, true, ref env);

    /// <summary>binary64 division a / b as DIVSD performs it (SDM Vol. 2 DIVSD).</summary>
    public static ulong Div64(ulong a, ulong b, ref FpEnv env) => DivBin(a, b, true, ref env);

    /// <summary>binary64 square root as SQRTSD performs it (SDM Vol. 2 SQRTSD); √−0 = −0.</summary>
    public static ulong Sqrt64(ulong a, ref FpEnv env) => SqrtBin(a, true, ref env);

    /// <summary>
    /// binary32 comparison as (U)COMISS / CMPSS evaluate it (SDM Vol. 2 COMISS, UCOMISS): quiet
    /// raises IE only for an SNaN operand, !quiet for any NaN; DE for a denormal operand unless DAZ.
    /// </summary>
    public static FpCompare Compare32(uint a, uint b, bool quiet, ref FpEnv env) => CompareBin(a, b, false, quiet, ref env);

    /// <summary>binary64 comparison as (U)COMISD / CMPSD evaluate it; see <see cref="Compare32"/>.</summary>
    public static FpCompare Compare64(ulong a, ulong b, bool quiet, ref FpEnv env) => CompareBin(a, b, true, quiet, ref env);

    /// <summary>binary32 → binary64 as CVTSS2SD performs it (exact; SNaN quieted with IE; DE unless DAZ).</summary>
    public static ulong F32ToF64(uint a, ref FpEnv env)
    {
        Op o = UnpackBin(a, false, env.DenormalsAreZero);
        switch (o.Kind)
        {
            case Kind.QNaN:
            case Kind.SNaN:
                if (o.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
                return ZeroBin(o.Sign, true) | 0x7FF8_0000_0000_0000ul | ((ulong)(a & 0x3F_FFFF) << 29);
            case Kind.Inf: return InfBin(o.Sign, true);
            case Kind.Zero: return ZeroBin(o.Sign, true);
        }
        if (o.Denormal) env.Flags |= FpExceptions.Denormal;
        return PackBin(RoundOp(o, 53, Emin64, Emax64, false, false, ref env), true);
    }

    /// <summary>binary64 → binary32 as CVTSD2SS performs it (rounded by MXCSR.RC; FTZ/DAZ apply).</summary>
    public static uint F64ToF32(ulong a, ref FpEnv env)
    {
        Op o = UnpackBin(a, true, env.DenormalsAreZero);
        switch (o.Kind)
        {
            case Kind.QNaN:
            case Kind.SNaN:
                if (o.Kind == Kind.SNaN) env.Flags |= FpExceptions.Invalid;
                return (uint)ZeroBin(o.Sign, false) | 0x7FC0_0000 | (uint)((a >> 29) & 0x3F_FFFF);
            case Kind.Inf: return (uint)InfBin(o.Sign, false);
            case Kind.Zero: return (uint)ZeroBin(o.Sign, false);
        }
        if (o.Denormal) env.Flags |= FpExceptions.Denormal;
        return (uint)PackBin(RoundOp(o, 24, Emin32, Emax32, false, env.FlushToZero, ref env), false);
    }

    /// <summary>int32 → binary32 as CVTSI2SS performs it (rounded by MXCSR.RC, PE when inexact).</summary>
    public static uint I32ToF32(int a, ref FpEnv env) => (uint)IntToBin(a < 0, Magnitude(a), false, ref env);

    /// <summary>int64 → binary32 as CVTSI2SS with REX.W performs it.</summary>
    public static uint I64ToF32(long a, ref FpEnv env) => (uint)IntToBin(a < 0, Magnitude(a), false, ref env);

    /// <summary>int32 → binary64 as CVTSI2SD performs it (always exact).</summary>
    public static ulong I32ToF64(int a, ref FpEnv env) => IntToBin(a < 0, Magnitude(a), true, ref env);

    /// <summary>int64 → binary64 as CVTSI2SD with REX.W performs it (rounded by MXCSR.RC, PE when inexact).</summary>
    public static ulong I64ToF64(long a, ref FpEnv env) => IntToBin(a < 0, Magnitude(a), true, ref env);

    /// <summary>
    /// binary32 → int32 as CVTSS2SI (rounded by env.Rounding) or CVTTSS2SI (<paramref name="truncate"/>)
    /// performs it: NaN, ∞ or out of range → integer indefinite 8000_0000h with IE (SDM Vol. 1, 4.8.3.3).
    /// </summary>
    public static int F32ToI32(uint a, bool truncate, ref FpEnv env) => (int)BinToInt(a, false, truncate, 32, ref env);

    /// <summary>binary32 → int64 (CVT(T)SS2SI with REX.W); invalid → 8000_0000_0000_0000h with IE.</summary>
    public static long F32ToI64(uint a, bool truncate, ref FpEnv env) => BinToInt(a, false, truncate, 64, ref env);

    /// <summary>binary64 → int32 (CVT(T)SD2SI); invalid → 8000_0000h with IE.</summary>
    public static int F64ToI32(ulong a, bool truncate, ref FpEnv env) => (int)BinToInt(a, true, truncate, 32, ref env);

    /// <summary>binary64 → int64 (CVT(T)SD2SI with REX.W); invalid → 8000_0000_0000_0000h with IE.</summary>
    public static long F64ToI64(ulong a, bool truncate, ref FpEnv env) => BinToInt(a, true, truncate, 64, ref env);

    /// <summary>
    /// binary32 round to integral value as ROUNDSS performs it (SDM Vol. 2 ROUNDSS): rounded with
    /// <paramref name="mode"/>; PE unless <paramref name="suppressPrecision"/> (imm8 bit 3); SNaN → QNaN with IE.
    /// </summary>
    public static uint RoundInt32(uint a, FpRounding mode, bool suppressPrecision, ref FpEnv env)
        => (uint)RoundIntBin(a, false, mode, suppressPrecision, ref env);

    /// <summary>binary64 round to integral value as ROUNDSD performs it; see <see cref="RoundInt32"/>.</summary>
    public static ulong RoundInt64(ulong a, FpRounding mode, bool suppressPrecision, ref FpEnv env)
        => RoundIntBin(a, true, mode, suppressPrecision, ref env);
}
