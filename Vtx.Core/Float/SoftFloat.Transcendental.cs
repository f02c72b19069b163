namespace Vtx.Float;

using K = TranscendentalKernel;

public static partial class SoftFloat
{
    // The x87 transcendental instructions (SDM Vol. 2 FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X,
    // FYL2XP1). Intel documents results within 1 ulp for in-range arguments (SDM Vol. 1, 8.3.10
    // "Transcendental Instruction Accuracy"); Vtx computes each function with a 128-bit significand
    // (TranscendentalKernel, relative error below 2^-115) and rounds once through RoundPack80 at
    // 64-bit precision, so results are correctly rounded unless the exact value lies within about
    // 2^-50 ulp of a rounding boundary. Precision control does not apply (SDM Vol. 1, 8.1.5.2).
    // Flags follow the exception priority of SDM Vol. 1, 4.9.2: unsupported/SNaN (IE), QNaN,
    // other IE and ZE, then DE, then OE/UE/PE from the rounding.

    private const ulong TrIntegerBit = 0x8000_0000_0000_0000;
    private const ulong TrQuietBit = 0x4000_0000_0000_0000;

    private static bool TrUnsupported(Float80 a) => a.Exponent != 0 && (a.Significand & TrIntegerBit) == 0;
    private static bool TrIsNaN(Float80 a) => a.Exponent == 0x7FFF && (a.Significand << 1) != 0;
    private static bool TrIsInf(Float80 a) => a.Exponent == 0x7FFF && (a.Significand << 1) == 0;
    private static bool TrIsZero(Float80 a) => a.Exponent == 0 && a.Significand == 0;
    private static bool TrIsDenormal(Float80 a) => a.Exponent == 0 && a.Significand != 0;
    private static bool TrIsSNaN(Float80 a) => TrIsNaN(a) && (a.Significand & TrQuietBit) == 0;
    private static Float80 TrZero(bool neg) => new(0, neg ? (ushort)0x8000 : (ushort)0);
    private static Float80 TrInf(bool neg) => new(TrIntegerBit, neg ? (ushort)0xFFFF : (ushort)0x7FFF);

    private static Float80 TrInvalid(ref FpEnv env)
    {
        env.Flags |= FpExceptions.Invalid;
        return Float80.Indefinite;
    }

    /// <summary>One NaN operand: an SNaN is quieted with IE, a QNaN passes (SDM Vol. 1, Table 4-7).</summary>
    private static Float80 TrNaN1(Float80 a, ref FpEnv env)
    {
        if (TrIsSNaN(a)) env.Flags |= FpExceptions.Invalid;
        return new Float80(a.Significand | TrQuietBit, a.SignExponent);
    }

    /// <summary>
    /// Two operands, at least one NaN (SDM Vol. 1, Table 4-7, x87 column): an SNaN raises IE; an SNaN
    /// against a QNaN yields the QNaN; two NaNs of one kind yield the larger significand (on a tie the
    /// positive one); the result is quiet.
    /// </summary>
    private static Float80 TrNaN2(Float80 a, Float80 b, ref FpEnv env)
    {
        bool aNaN = TrIsNaN(a), bNaN = TrIsNaN(b);
        bool aS = TrIsSNaN(a), bS = TrIsSNaN(b);
        if (aS || bS) env.Flags |= FpExceptions.Invalid;
        Float80 r;
        if (aNaN && bNaN)
        {
            if (aS != bS) r = aS ? b : a;
            else if (a.Significand != b.Significand) r = a.Significand > b.Significand ? a : b;
            else r = a.SignExponent <= b.SignExponent ? a : b;
        }
        else r = aNaN ? a : b;
        return new Float80(r.Significand | TrQuietBit, r.SignExponent);
    }

    /// <summary>Rounds an inexact kernel value (its true value is irrational) to 64 bits.</summary>
    private static Float80 TrRound(TrWide w, ref FpEnv env)
        => RoundPack80(w.Neg, w.Exp, w.M, true, FpPrecision.Extended, ref env);

    private static Float80 TrRound(TrWide w, bool neg, ref FpEnv env)
        => RoundPack80(neg, w.Exp, w.M, true, FpPrecision.Extended, ref env);

    // ---- FSIN / FCOS / FSINCOS / FPTAN ---------------------------------------------------------

    /// <summary>
    /// The checks the four trigonometric instructions share (SDM Vol. 2 FSIN/FCOS/FSINCOS/FPTAN
    /// tables). Returns 1 with <paramref name="early"/> as the result for: unsupported or ±∞ (IE, the
    /// indefinite), NaN (propagated), |x| ≥ 2^63 (out of range: C2 = 1, x unchanged, no exception);
    /// returns 2 for ±0; otherwise raises DE for a denormal and returns 0 with <paramref name="r"/> =
    /// x reduced modulo π66/2 and the quadrant.
    /// </summary>
    private static int TrTrigSetup(Float80 x, ref FpEnv env, out bool outOfRange, out Float80 early, out TrWide r, out int quadrant)
    {
        outOfRange = false;
        early = x;
        r = default;
        quadrant = 0;
        if (TrUnsupported(x) || TrIsInf(x))
        {
            early = TrInvalid(ref env);
            return 1;
        }
        if (TrIsNaN(x))
        {
            early = TrNaN1(x, ref env);
            return 1;
        }
        if (TrIsZero(x)) return 2;
        ulong sig = x.Significand;
        int exp = x.Exponent - Float80.Bias;
        if (x.Exponent == 0)
        {
            env.Flags |= FpExceptions.Denormal;
            int lz = System.Numerics.BitOperations.LeadingZeroCount(sig);
            sig <<= lz;
            exp = 1 - Float80.Bias - lz;
        }
        if (exp >= 63)
        {
            outOfRange = true;
            return 1;
        }
        r = K.ReducePi66(sig, exp, out quadrant);
        return 0;
    }

    /// <summary>
    /// FSIN (SDM Vol. 2 FSIN): sin x, x in radians. For |x| &lt; 2^63 the argument is reduced modulo the
    /// x87's 66-bit π (SDM Vol. 1, 8.3.8), so for large |x| the result is the sine of x reduced by that
    /// π, as the hardware computes it, not the true sine. |x| ≥ 2^63: <paramref name="outOfRange"/> is set
    /// (C2 = 1) and x is returned unchanged with no exception. ±0 → ±0 exactly; ±∞ or an unsupported
    /// encoding → IE and the indefinite; NaN → propagated (IE for SNaN); denormal → DE; the result
    /// raises PE (always inexact for x ≠ 0) and UE when tiny (SDM Vol. 1, 8.3.10: within 1 ulp; Vtx
    /// rounds correctly).
    /// </summary>
    public static Float80 Sin80(Float80 x, ref FpEnv env, out bool outOfRange)
    {
        int kind = TrTrigSetup(x, ref env, out outOfRange, out Float80 early, out TrWide r, out int q);
        if (kind == 1) return early;
        if (kind == 2) return x;
        TrWide v = (q & 1) == 0 ? K.Sin(r) : K.Cos(r);
        bool neg = v.Neg ^ ((q & 2) != 0) ^ x.Sign;
        return TrRound(v, neg, ref env);
    }

    /// <summary>
    /// FCOS (SDM Vol. 2 FCOS): cos x, x in radians, reduced modulo the x87's 66-bit π (SDM Vol. 1,
    /// 8.3.8). |x| ≥ 2^63: <paramref name="outOfRange"/> is set (C2 = 1), x returned unchanged. ±0 → +1
    /// exactly; ±∞ or unsupported → IE, indefinite; NaN → propagated; denormal → DE; PE otherwise
    /// (SDM Vol. 1, 8.3.10: within 1 ulp; Vtx rounds correctly).
    /// </summary>
    public static Float80 Cos80(Float80 x, ref FpEnv env, out bool outOfRange)
    {
        int kind = TrTrigSetup(x, ref env, out outOfRange, out Float80 early, out TrWide r, out int q);
        if (kind == 1) return early;
        if (kind == 2) return new Float80(TrIntegerBit, 0x3FFF);
        // cos(q·π/2 + r): q = 0: cos r, 1: −sin r, 2: −cos r, 3: sin r.
        TrWide v = (q & 1) == 0 ? K.Cos(r) : K.Sin(r);
        bool flip = q == 1 || q == 2;
        return TrRound(v, v.Neg ^ flip, ref env);
    }

    /// <summary>
    /// FPTAN (SDM Vol. 2 FPTAN): tan x, x in radians, reduced modulo the x87's 66-bit π (SDM Vol. 1,
    /// 8.3.8); the instruction then pushes 1.0, which is the caller's part. |x| ≥ 2^63:
    /// <paramref name="outOfRange"/> is set (C2 = 1), x returned unchanged. ±0 → ±0 exactly; ±∞ or
    /// unsupported → IE, indefinite; NaN → propagated; denormal → DE; PE, and UE when tiny.
    /// </summary>
    public static Float80 Tan80(Float80 x, ref FpEnv env, out bool outOfRange)
    {
        int kind = TrTrigSetup(x, ref env, out outOfRange, out Float80 early, out TrWide r, out int q);
        if (kind == 1) return early;
        if (kind == 2) return x;
        // tan(q·π/2 + r) = tan r for even q, −cot r = −1/tan r for odd q.
        TrWide t = K.Tan(r);
        TrWide v = (q & 1) == 0 ? t : K.Div(K.One, t).Negate();
        return TrRound(v, v.Neg ^ x.Sign, ref env);
    }

    /// <summary>
    /// FSINCOS (SDM Vol. 2 FSINCOS): sin x and cos x of one argument reduced modulo the x87's 66-bit π
    /// (SDM Vol. 1, 8.3.8), each rounded correctly; the flags of both are raised. |x| ≥ 2^63:
    /// <paramref name="outOfRange"/> is set (C2 = 1) and both outputs are x (the caller leaves ST(0)
    /// unchanged and pushes nothing). Special operands as for FSIN/FCOS; on IE both outputs are the
    /// masked response.
    /// </summary>
    public static void SinCos80(Float80 x, out Float80 sin, out Float80 cos, ref FpEnv env, out bool outOfRange)
    {
        int kind = TrTrigSetup(x, ref env, out outOfRange, out Float80 early, out TrWide r, out int q);
        if (kind == 1)
        {
            sin = cos = early;
            return;
        }
        if (kind == 2)
        {
            sin = x;
            cos = new Float80(TrIntegerBit, 0x3FFF);
            return;
        }
        TrWide s = K.Sin(r), c = K.Cos(r);
        TrWide sv = (q & 1) == 0 ? s : c;
        sin = TrRound(sv, sv.Neg ^ ((q & 2) != 0) ^ x.Sign, ref env);
        TrWide cv = (q & 1) == 0 ? c : s;
        cos = TrRound(cv, cv.Neg ^ (q == 1 || q == 2), ref env);
    }

    // ---- FPATAN ---------------------------------------------------------------------------------

    /// <summary>
    /// FPATAN (SDM Vol. 2 FPATAN): arctan(y/x) with the quadrant of the point (x, y), y = ST(1),
    /// x = ST(0); the result has the sign of y and |result| ≤ π. The special cases follow the
    /// instruction's table: y = ±0 → ±0 for x ≥ +0 (exact), ±π for x ≤ −0; x = ±0, y ≠ 0 → ±π/2;
    /// y = ±∞ → ±π/4 (x = +∞), ±3π/4 (x = −∞), ±π/2 (x finite); x = +∞ → ±0, x = −∞ → ±π. Unsupported
    /// → IE, indefinite; NaN → propagated (SDM Vol. 1, Table 4-7); denormal operands → DE. Every
    /// nonzero result is inexact (PE) and correctly rounded (SDM Vol. 1, 8.3.10: within 1 ulp); π here
    /// is the true π (no argument reduction is involved).
    /// </summary>
    public static Float80 Atan80(Float80 y, Float80 x, ref FpEnv env)
    {
        if (TrUnsupported(y) || TrUnsupported(x)) return TrInvalid(ref env);
        if (TrIsNaN(y) || TrIsNaN(x)) return TrNaN2(y, x, ref env);
        if (TrIsDenormal(y) || TrIsDenormal(x)) env.Flags |= FpExceptions.Denormal;
        bool ys = y.Sign, xs = x.Sign;
        if (TrIsInf(y))
        {
            if (TrIsInf(x)) return TrRound(xs ? K.Add(K.HalfPi, K.QuarterPi) : K.QuarterPi, ys, ref env);
            return TrRound(K.HalfPi, ys, ref env);
        }
        if (TrIsInf(x) || TrIsZero(y)) return xs ? TrRound(K.Pi, ys, ref env) : TrZero(ys);
        if (TrIsZero(x)) return TrRound(K.HalfPi, ys, ref env);

        TrWide a = K.FromFloat80(y).Abs(), b = K.FromFloat80(x).Abs();
        bool swap = a.Exp > b.Exp || (a.Exp == b.Exp && a.M > b.M);
        TrWide v = K.Atan(swap ? K.Div(b, a) : K.Div(a, b));
        if (swap) v = K.Sub(K.HalfPi, v);     // atan(a/b) = π/2 − atan(b/a)
        if (xs) v = K.Sub(K.Pi, v);           // second/third quadrant
        return TrRound(v, ys, ref env);
    }

    // ---- F2XM1 ----------------------------------------------------------------------------------

    /// <summary>
    /// 2^n − 1 for an integer n ≠ 0 as a kernel value; <paramref name="exact"/> when it has at most
    /// 128 significant bits.
    /// </summary>
    private static TrWide TrPow2Minus1(int n, out bool exact)
    {
        if (n > 0)
        {
            exact = n <= 128;
            if (!exact) return new TrWide(false, n - 1, UInt128.MaxValue);   // just below 2^n; sticky above
            return K.Normalize(false, 127, n == 128 ? UInt128.MaxValue : (UInt128.One << n) - 1);
        }
        // −(1 − 2^n), n < 0: magnitude (2^128 − 2^(128+n)) × 2^-128.
        exact = n >= -128;
        if (!exact) return new TrWide(true, -1, UInt128.MaxValue);
        return K.Normalize(true, -1, UInt128.MaxValue - (UInt128.One << (128 + n)) + 1);
    }

    /// <summary>
    /// F2XM1 (SDM Vol. 2 F2XM1): 2^x − 1. The SDM defines the instruction for −1.0 ≤ x ≤ +1.0 (±0 →
    /// ±0; results within 1 ulp, SDM Vol. 1, 8.3.10) and leaves other arguments undefined; Vtx returns
    /// the correctly rounded 2^x − 1 for every finite x (OE for x ≥ 16384, −1 rounded for very negative
    /// x), +∞ → +∞ and −∞ → −1 (the limits, no exception). Unsupported → IE, indefinite; NaN →
    /// propagated; denormal → DE; PE unless exact (x an integer), UE when tiny.
    /// </summary>
    public static Float80 F2xm1_80(Float80 x, ref FpEnv env)
    {
        if (TrUnsupported(x)) return TrInvalid(ref env);
        if (TrIsNaN(x)) return TrNaN1(x, ref env);
        if (TrIsInf(x)) return x.Sign ? new Float80(TrIntegerBit, 0xBFFF) : x;
        if (TrIsZero(x)) return x;
        if (TrIsDenormal(x)) env.Flags |= FpExceptions.Denormal;

        TrWide xw = K.FromFloat80(x);
        if (xw.Exp <= -2)   // |x| < 1/2: 2^x − 1 = expm1(x ln 2), no cancellation
            return TrRound(K.Expm1(K.Mul(xw, K.Ln2)), ref env);
        if (xw.Exp >= 15 || (x.Sign && xw.Exp >= 7))
        {
            // x ≥ 32768: 2^x overflows any exponent. x ≤ −128: 2^x − 1 lies in (−1, −1 + 2^-127), so it
            // rounds as −1 + (a nonzero amount below 2^-128) does.
            return x.Sign
                ? RoundPack80(true, -1, UInt128.MaxValue, true, FpPrecision.Extended, ref env)
                : RoundPack80(false, 32768, UInt128.One << 127, true, FpPrecision.Extended, ref env);
        }
        // x = n + f, n = round(x), |f| ≤ 1/2, in 64-bit fixed point: Q = x × 2^64 (|Q| < 2^79).
        // |x| × 2^64 = M × 2^(Exp − 63); M has 64 significant bits and Exp ≤ 14, so the shift drops nothing.
        Int128 qx = (Int128)(xw.M >> (63 - xw.Exp));
        if (x.Sign) qx = -qx;
        Int128 n128 = (qx + ((Int128)1 << 63)) >> 64;
        Int128 fq = qx - (n128 << 64);
        int n = (int)n128;
        if (n == 0) return TrRound(K.Expm1(K.Mul(xw, K.Ln2)), ref env);   // x = −1/2 rounds to n = 0
        TrWide p = TrPow2Minus1(n, out bool exact);
        if (fq == 0) return RoundPack80(p.Neg, p.Exp, p.M, !exact, FpPrecision.Extended, ref env);
        TrWide f = fq < 0 ? K.Normalize(true, 63, (UInt128)(-fq)) : K.Normalize(false, 63, (UInt128)fq);
        // 2^x − 1 = 2^n (2^f − 1) + (2^n − 1).
        TrWide e = K.Expm1(K.Mul(f, K.Ln2));
        return TrRound(K.Add(e.Scale(n), p), ref env);
    }

    // ---- FYL2X / FYL2XP1 ------------------------------------------------------------------------

    /// <summary>y × k for an integer k = log2 x exactly (x a power of two): exact unless it needs rounding.</summary>
    private static Float80 TrExactLog2Product(int k, Float80 y, ref FpEnv env)
    {
        if (k == 0) return TrZero(y.Sign);
        TrWide yw = K.FromFloat80(y);
        UInt128 prod = (yw.M >> 64) * (ulong)Math.Abs(k);   // ≤ 79 bits, exact
        // value = (M>>64) × 2^(Exp − 63) × |k| = prod × 2^((Exp + 64) − 127).
        return RoundPack80(y.Sign ^ (k < 0), yw.Exp + 64, prod, false, FpPrecision.Extended, ref env);
    }

    /// <summary>
    /// FYL2X (SDM Vol. 2 FYL2X): y × log2 x with x = ST(0), y = ST(1), per the instruction's table:
    /// x &lt; 0 (including −∞ and negative denormals) → IE; x = ±0: y = ±0 → IE, otherwise −sign(y)·∞
    /// with ZE for finite y; x = +∞: y = ±0 → IE, else sign(y)·∞; y = ±∞: x = +1 → IE, else ±∞ with the
    /// sign of y·log2 x; y = ±0 → ±0 with that sign; x = 1 → ±0 (sign of y), exact. Unsupported → IE,
    /// indefinite; NaN → propagated; denormals → DE. The finite result is exact when x is a power of
    /// two and the product fits, otherwise correctly rounded with PE (SDM Vol. 1, 8.3.10); OE/UE as
    /// the product requires.
    /// </summary>
    public static Float80 Yl2x80(Float80 x, Float80 y, ref FpEnv env)
    {
        if (TrUnsupported(x) || TrUnsupported(y)) return TrInvalid(ref env);
        if (TrIsNaN(x) || TrIsNaN(y)) return TrNaN2(x, y, ref env);
        if (x.Sign && !TrIsZero(x)) return TrInvalid(ref env);
        if (TrIsZero(x))
        {
            if (TrIsZero(y)) return TrInvalid(ref env);
            if (!TrIsInf(y)) env.Flags |= FpExceptions.ZeroDivide;
            return TrInf(!y.Sign);
        }
        bool xIsOne = x.Exponent == Float80.Bias && x.Significand == TrIntegerBit;
        if (TrIsInf(x))
        {
            if (TrIsZero(y)) return TrInvalid(ref env);
            if (TrIsDenormal(y)) env.Flags |= FpExceptions.Denormal;
            return TrInf(y.Sign);
        }
        if (TrIsInf(y))
        {
            if (xIsOne) return TrInvalid(ref env);
            if (TrIsDenormal(x)) env.Flags |= FpExceptions.Denormal;
            return TrInf(y.Sign ^ (x.Exponent < Float80.Bias));
        }
        if (TrIsDenormal(x) || TrIsDenormal(y)) env.Flags |= FpExceptions.Denormal;
        if (TrIsZero(y)) return TrZero(y.Sign ^ (x.Exponent < Float80.Bias));
        TrWide xw = K.FromFloat80(x);
        if (xw.M == (UInt128.One << 127)) return TrExactLog2Product(xw.Exp, y, ref env);
        return TrRound(K.Mul(K.FromFloat80(y), K.Log2(xw)), ref env);
    }

    /// <summary>
    /// FYL2XP1 (SDM Vol. 2 FYL2XP1): y × log2(x + 1) with x = ST(0), y = ST(1). The SDM defines it for
    /// |x| &lt; 1 − √2/2 (table: x = ±0 with y = ±∞ → IE; x = ±0, y finite → zero with sign
    /// sign(x)·sign(y); y = ±∞, x ≠ 0 → ±∞ with the sign of y·x) and leaves other x undefined; Vtx
    /// returns the correctly rounded y × log2(1 + x) for every x &gt; −1 (x = +∞ → ±∞, IE if y = ±0),
    /// treats x = −1 as FYL2X treats x = 0 (ZE, −sign(y)·∞; IE if y = ±0) and raises IE for x &lt; −1.
    /// Unsupported → IE, indefinite; NaN → propagated; denormals → DE; PE unless exact; UE/OE as the
    /// result requires.
    /// </summary>
    public static Float80 Yl2xp1_80(Float80 x, Float80 y, ref FpEnv env)
    {
        if (TrUnsupported(x) || TrUnsupported(y)) return TrInvalid(ref env);
        if (TrIsNaN(x) || TrIsNaN(y)) return TrNaN2(x, y, ref env);
        if (TrIsInf(x))
        {
            if (x.Sign || TrIsZero(y)) return TrInvalid(ref env);
            if (TrIsDenormal(y)) env.Flags |= FpExceptions.Denormal;
            return TrInf(y.Sign);
        }
        if (x.Sign && x.Exponent >= Float80.Bias)
        {
            if (x.Exponent > Float80.Bias || x.Significand != TrIntegerBit) return TrInvalid(ref env);   // x < −1
            if (TrIsZero(y)) return TrInvalid(ref env);                                                // x = −1
            if (!TrIsInf(y)) env.Flags |= FpExceptions.ZeroDivide;
            return TrInf(!y.Sign);
        }
        if (TrIsZero(x))
        {
            if (TrIsInf(y)) return TrInvalid(ref env);
            if (TrIsDenormal(y)) env.Flags |= FpExceptions.Denormal;
            return TrZero(x.Sign ^ y.Sign);
        }
        if (TrIsInf(y))
        {
            if (TrIsDenormal(x)) env.Flags |= FpExceptions.Denormal;
            return TrInf(y.Sign ^ x.Sign);
        }
        if (TrIsDenormal(x) || TrIsDenormal(y)) env.Flags |= FpExceptions.Denormal;
        if (TrIsZero(y)) return TrZero(x.Sign ^ y.Sign);

        TrWide xw = K.FromFloat80(x);
        TrWide log2;
        if (xw.Exp <= -3)
        {
            // |x| < 1/4: ln(1 + x) = 2 atanh(x / (2 + x)), no cancellation for tiny x.
            log2 = K.Mul(K.Atanh(K.Div(xw, K.Add(K.Two, xw))).Scale(1), K.InvLn2);
        }
        else
        {
            TrWide v = K.Add(K.One, xw);   // exact unless x ≥ 2^64
            if (v.M == (UInt128.One << 127)) return TrExactLog2Product(v.Exp, y, ref env);
            log2 = K.Log2(v);
        }
        return TrRound(K.Mul(K.FromFloat80(y), log2), ref env);
    }
}
