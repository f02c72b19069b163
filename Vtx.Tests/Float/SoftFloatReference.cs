using System.Numerics;
using Vtx.Float;

namespace Vtx.Tests.Float;

/// <summary>A floating-point format for the reference model: width 32/64 (binary, hidden bit) or 80 (explicit integer bit).</summary>
internal readonly record struct RefFormat(int Width, int P, int Emin, int Emax)
{
    public static readonly RefFormat S = new(32, 24, -126, 127);
    public static readonly RefFormat D = new(64, 53, -1022, 1023);
    public static readonly RefFormat X = new(80, 64, -16382, 16383);
    public bool IsX87 => Width == 80;
    /// <summary>Fraction bits below the integer bit.</summary>
    public int Frac => P - 1;
}

internal enum RefKind { Zero, Finite, Inf, QNaN, SNaN, Unsupported }

/// <summary>A decoded value: Mant × 2^Exp for finite values.</summary>
internal struct RefValue
{
    public RefKind Kind;
    public bool Sign;
    public bool Denormal;
    public BigInteger Mant;
    public int Exp;
    public UInt128 Bits;
    public readonly bool IsNaN => Kind is RefKind.QNaN or RefKind.SNaN;
}

/// <summary>
/// An independent, slow and simple model of Intel's floating-point results: values are decoded into
/// exact rationals (System.Numerics.BigInteger), the operation is computed exactly, and the exact
/// result is rounded by long division to the destination format. The exception rules are written
/// from the SDM text (Vol. 1, 4.8-4.9, 8.5, 10.2.3, 11.5; Table 4-7 for NaNs; Table 4-10 for
/// overflow; tininess after rounding per 4.9.1.5).
/// </summary>
internal static class Ref
{
    public const FpExceptions IE = FpExceptions.Invalid, DE = FpExceptions.Denormal, ZE = FpExceptions.ZeroDivide,
        OE = FpExceptions.Overflow, UE = FpExceptions.Underflow, PE = FpExceptions.Precision;

    // ------------------------------------------------------------ encoding

    public static RefValue Decode(RefFormat f, UInt128 bits, bool daz)
    {
        var v = new RefValue { Bits = bits };
        if (f.IsX87)
        {
            ulong sig = (ulong)bits;
            int se = (int)(bits >> 64) & 0xFFFF;
            int e = se & 0x7FFF;
            v.Sign = (se & 0x8000) != 0;
            bool j = (sig >> 63) != 0;
            if (e == 0)
            {
                if (sig == 0) { v.Kind = RefKind.Zero; return v; }
                v.Kind = RefKind.Finite; v.Denormal = true; v.Mant = sig; v.Exp = f.Emin - 63; // pseudo-denormals too
                return v;
            }
            if (!j) { v.Kind = RefKind.Unsupported; return v; }
            if (e == 0x7FFF)
            {
                v.Kind = (sig << 1) == 0 ? RefKind.Inf : ((sig >> 62) & 1) != 0 ? RefKind.QNaN : RefKind.SNaN;
                return v;
            }
            v.Kind = RefKind.Finite; v.Mant = sig; v.Exp = e - 16383 - 63;
            return v;
        }
        int expBits = f.Width - f.P;
        int field = (int)(bits >> f.Frac) & ((1 << expBits) - 1);
        UInt128 frac = bits & ((UInt128.One << f.Frac) - 1);
        v.Sign = ((bits >> (f.Width - 1)) & 1) != 0;
        if (field == (1 << expBits) - 1)
        {
            v.Kind = frac == 0 ? RefKind.Inf : ((frac >> (f.Frac - 1)) & 1) != 0 ? RefKind.QNaN : RefKind.SNaN;
            return v;
        }
        if (field == 0)
        {
            if (frac == 0 || daz) { v.Kind = RefKind.Zero; return v; }
            v.Kind = RefKind.Finite; v.Denormal = true; v.Mant = (BigInteger)frac; v.Exp = f.Emin - f.Frac;
            return v;
        }
        v.Kind = RefKind.Finite; v.Mant = (BigInteger)(frac | (UInt128.One << f.Frac)); v.Exp = field - f.Emax - f.Frac;
        return v;
    }

    private static UInt128 SignBit(RefFormat f, bool sign) => sign ? UInt128.One << (f.Width - 1) : UInt128.Zero;

    public static UInt128 Zero(RefFormat f, bool sign) => SignBit(f, sign);

    public static UInt128 Inf(RefFormat f, bool sign) => f.IsX87
        ? SignBit(f, sign) | ((UInt128)0x7FFF << 64) | (UInt128)0x8000_0000_0000_0000
        : SignBit(f, sign) | ((((UInt128)1 << (f.Width - f.P)) - 1) << f.Frac);

    /// <summary>The QNaN floating-point indefinite (SDM Vol. 1, Table 4-3).</summary>
    public static UInt128 Indefinite(RefFormat f) => f.IsX87
        ? ((UInt128)0xFFFF << 64) | (UInt128)0xC000_0000_0000_0000
        : Inf(f, true) | (UInt128.One << (f.Frac - 1));

    public static UInt128 Quiet(RefFormat f, UInt128 nan) => nan | (UInt128.One << (f.Frac - 1));

    /// <summary>Encodes ±r × 2^(e − p + 1) with r < 2^p (a denormal when r < 2^(p−1), then e = Emin).</summary>
    public static UInt128 Encode(RefFormat f, int p, bool sign, int e, BigInteger r)
    {
        if (f.IsX87)
        {
            ulong sig = (ulong)(r << (64 - p));
            int field = (sig >> 63) != 0 ? e + 16383 : 0;
            return SignBit(f, sign) | ((UInt128)(uint)field << 64) | sig;
        }
        BigInteger hidden = BigInteger.One << f.Frac;
        if (r >= hidden) return SignBit(f, sign) | ((UInt128)(uint)(e + f.Emax) << f.Frac) | (UInt128)(r - hidden);
        return SignBit(f, sign) | (UInt128)r;
    }

    /// <summary>Converts a NaN between formats: the fraction stays left-aligned (low bits dropped or zero-filled), then quieted.</summary>
    public static UInt128 ConvertNaN(RefFormat from, RefFormat to, UInt128 nan)
    {
        UInt128 frac = nan & ((UInt128.One << from.Frac) - 1);
        bool sign = from.IsX87 ? ((nan >> 79) & 1) != 0 : ((nan >> (from.Width - 1)) & 1) != 0;
        UInt128 f2 = to.Frac >= from.Frac ? frac << (to.Frac - from.Frac) : frac >> (from.Frac - to.Frac);
        UInt128 expAll = to.IsX87 ? ((UInt128)0x7FFF << 64) | (UInt128)0x8000_0000_0000_0000 : (((UInt128)1 << (to.Width - to.P)) - 1) << to.Frac;
        return Quiet(to, SignBit(to, sign) | expAll | f2);
    }

    // ------------------------------------------------------------ rounding

    public static int FloorLog2(BigInteger num, BigInteger den)
    {
        int e = (int)(num.GetBitLength() - den.GetBitLength());
        bool less = e >= 0 ? num < (den << e) : (num << -e) < den;
        return less ? e - 1 : e;
    }

    /// <summary>Rounds num/den × 2^s to an integer with the rounding mode (sign = the value's sign).</summary>
    public static (BigInteger R, bool Inexact, bool Up) RoundScaled(BigInteger num, BigInteger den, int s, bool sign, FpRounding rm)
    {
        BigInteger x = s >= 0 ? num << s : num, y = s >= 0 ? den : den << -s;
        BigInteger i = BigInteger.DivRem(x, y, out BigInteger rem);
        if (rem.IsZero) return (i, false, false);
        int c = (rem * 2).CompareTo(y);
        bool up = rm switch
        {
            FpRounding.Nearest => c > 0 || (c == 0 && !i.IsEven),
            FpRounding.Up => !sign,
            FpRounding.Down => sign,
            _ => false,
        };
        return (up ? i + 1 : i, true, up);
    }

    /// <summary>
    /// Rounds the nonzero exact value ±num/den to p significand bits in format f. Tininess after
    /// rounding (SDM Vol. 1, 4.9.1.5); masked/unmasked UE and OE as SDM 4.9.1.4-5 and Table 4-10;
    /// FTZ (SSE, UE masked) as 10.2.3.3; x87 register results with OE/UE unmasked get ∓24576 (8.5.4-5).
    /// </summary>
    public static UInt128 Round(RefFormat f, int p, bool sign, BigInteger num, BigInteger den, FpEnv env, bool x87Reg, bool ftz,
        ref FpExceptions flags, out bool roundedUp)
    {
        roundedUp = false;
        int e = FloorLog2(num, den);
        var (r, inexact, up) = RoundScaled(num, den, p - 1 - e, sign, env.Rounding);
        if (r == BigInteger.One << p) { r >>= 1; e++; }
        if (e > f.Emax)
        {
            bool toInf = env.Rounding switch
            {
                FpRounding.Nearest => true,
                FpRounding.Up => !sign,
                FpRounding.Down => sign,
                _ => false,
            };
            if ((env.Masks & OE) == 0)
            {
                // Unmasked: PE only for a loss of accuracy with unbounded exponent (SDM Vol. 1, 11.5.2.4).
                flags |= OE | (inexact ? PE : 0);
                if (x87Reg)
                {
                    roundedUp = up;
                    e -= 24576;
                    return e > f.Emax ? Inf(f, sign) : Encode(f, p, sign, e, r);
                }
            }
            else flags |= OE | PE;
            roundedUp = toInf;
            return toInf ? Inf(f, sign) : Encode(f, p, sign, f.Emax, (BigInteger.One << p) - 1);
        }
        if (e >= f.Emin)
        {
            if (inexact) flags |= PE;
            roundedUp = up;
            return Encode(f, p, sign, e, r);
        }
        bool ueMasked = (env.Masks & UE) != 0;
        if (!ueMasked)
        {
            flags |= UE | (inexact ? PE : 0);
            if (x87Reg)
            {
                roundedUp = up;
                e += 24576;
                return e < f.Emin ? Zero(f, sign) : Encode(f, p, sign, e, r);
            }
        }
        else if (ftz)
        {
            flags |= UE | PE;
            return Zero(f, sign);
        }
        var (d, dInexact, dUp) = RoundScaled(num, den, p - 1 - f.Emin, sign, env.Rounding);
        if (ueMasked && dInexact) flags |= UE | PE;
        roundedUp = dUp;
        if (d.IsZero) return Zero(f, sign);
        return Encode(f, p, sign, f.Emin, d);
    }

    /// <summary>Exact value of a finite operand as (sign, num, den).</summary>
    public static (BigInteger Num, BigInteger Den) Ratio(in RefValue v) => v.Exp >= 0
        ? (v.Mant << v.Exp, BigInteger.One)
        : (v.Mant, BigInteger.One << -v.Exp);

    public static BigInteger ISqrt(BigInteger n)
    {
        if (n.IsZero) return n;
        BigInteger x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger y = (x + n / x) >> 1;
            if (y >= x) return x;
            x = y;
        }
    }

    public static int PrecisionBits(FpPrecision pc) => pc switch { FpPrecision.Single => 24, FpPrecision.Double => 53, _ => 64 };

    // ------------------------------------------------------------ NaN selection

    /// <summary>SDM Vol. 1, Table 4-7.</summary>
    public static UInt128 SelectNaN(RefFormat f, in RefValue a, in RefValue b, ref FpExceptions flags)
    {
        if (a.Kind == RefKind.SNaN || b.Kind == RefKind.SNaN) flags |= IE;
        if (!f.IsX87) return Quiet(f, a.IsNaN ? a.Bits : b.Bits); // SSE: the first source operand
        if (a.IsNaN && b.IsNaN)
        {
            if (a.Kind != b.Kind) return Quiet(f, a.Kind == RefKind.QNaN ? a.Bits : b.Bits); // SNaN and QNaN: the QNaN
            ulong sa = (ulong)a.Bits | (1ul << 62), sb = (ulong)b.Bits | (1ul << 62);
            if (sa != sb) return Quiet(f, sa > sb ? a.Bits : b.Bits); // the larger significand
            return Quiet(f, !a.Sign ? a.Bits : b.Bits);
        }
        return Quiet(f, a.IsNaN ? a.Bits : b.Bits);
    }

    // ------------------------------------------------------------ operations

    /// <summary>
    /// add/sub/mul/div ('+', '-', '*', '/') and sqrt ('s', b ignored) in format f with SSE rules
    /// (binary32/64: DAZ/FTZ, first-operand NaN) or x87 rules (80-bit: precision control,
    /// unsupported encodings, Table 4-7 NaNs, bias-adjusted unmasked OE/UE).
    /// </summary>
    public static UInt128 Arith(char op, RefFormat f, UInt128 a, UInt128 b, FpEnv env, out FpExceptions flags, out bool roundedUp)
    {
        flags = 0;
        roundedUp = false;
        bool x87 = f.IsX87;
        bool daz = !x87 && env.DenormalsAreZero, ftz = !x87 && env.FlushToZero;
        int p = x87 ? PrecisionBits(env.Precision) : f.P;
        RefValue A = Decode(f, a, daz), B = op == 's' ? Decode(f, UInt128.Zero, false) : Decode(f, b, daz);
        if (A.Kind == RefKind.Unsupported || B.Kind == RefKind.Unsupported) { flags |= IE; return Indefinite(f); }
        if (op == 's')
        {
            if (A.IsNaN) return SelectNaN(f, A, A, ref flags);
            if (A.Kind == RefKind.Zero) return Zero(f, A.Sign);
            if (A.Sign) { flags |= IE; return Indefinite(f); }
            if (A.Kind == RefKind.Inf) return Inf(f, false);
            if (A.Denormal) flags |= DE;
            // Scaled integer square root with ≥ p + 3 root bits; an inexact root is replaced by
            // root + 1/2, which lies on the same side of every rounding boundary as the true value.
            int t = 2 * p + 8;
            if (((A.Exp - t) & 1) != 0) t++;
            BigInteger x = A.Mant << t;
            BigInteger root = ISqrt(x);
            int half = (A.Exp - t) / 2;
            BigInteger num = root * root == x ? root : 2 * root + 1;
            int exp = root * root == x ? half : half - 1;
            var (n2, d2) = exp >= 0 ? (num << exp, BigInteger.One) : (num, BigInteger.One << -exp);
            return Round(f, p, false, n2, d2, env, x87, ftz, ref flags, out roundedUp);
        }
        if (A.IsNaN || B.IsNaN) return SelectNaN(f, A, B, ref flags);
        if (op == '-') { B.Sign = !B.Sign; op = '+'; }
        bool denormal = A.Denormal || B.Denormal;
        bool sx = A.Sign ^ B.Sign;
        switch (op)
        {
            case '+':
                if (A.Kind == RefKind.Inf || B.Kind == RefKind.Inf)
                {
                    if (A.Kind == RefKind.Inf && B.Kind == RefKind.Inf && A.Sign != B.Sign) { flags |= IE; return Indefinite(f); }
                    if (denormal) flags |= DE;
                    return Inf(f, A.Kind == RefKind.Inf ? A.Sign : B.Sign);
                }
                break;
            case '*':
                if (A.Kind == RefKind.Inf || B.Kind == RefKind.Inf)
                {
                    if (A.Kind == RefKind.Zero || B.Kind == RefKind.Zero) { flags |= IE; return Indefinite(f); }
                    if (denormal) flags |= DE;
                    return Inf(f, sx);
                }
                break;
            case '/':
                if ((A.Kind == RefKind.Inf && B.Kind == RefKind.Inf) || (A.Kind == RefKind.Zero && B.Kind == RefKind.Zero)) { flags |= IE; return Indefinite(f); }
                // Finite / 0 reports ZE alone (SDM Vol. 1, 11.5.2.1: divide-by-zero before denormal; x87 alike).
                if (B.Kind == RefKind.Zero && A.Kind != RefKind.Inf) { flags |= ZE; return Inf(f, sx); }
                if (denormal) flags |= DE;
                if (A.Kind == RefKind.Inf) return Inf(f, sx);
                if (B.Kind == RefKind.Inf) return Zero(f, sx);
                if (B.Kind == RefKind.Zero) { flags |= ZE; return Inf(f, sx); }
                break;
        }
        if (denormal) flags |= DE;
        BigInteger numR, denR;
        bool sign;
        switch (op)
        {
            case '+':
            {
                if (A.Kind == RefKind.Zero && B.Kind == RefKind.Zero)
                    return Zero(f, A.Sign == B.Sign ? A.Sign : env.Rounding == FpRounding.Down);
                int m = Math.Min(A.Kind == RefKind.Zero ? int.MaxValue : A.Exp, B.Kind == RefKind.Zero ? int.MaxValue : B.Exp);
                BigInteger sa = A.Kind == RefKind.Zero ? 0 : (A.Sign ? -A.Mant : A.Mant) << (A.Exp - m);
                BigInteger sb = B.Kind == RefKind.Zero ? 0 : (B.Sign ? -B.Mant : B.Mant) << (B.Exp - m);
                BigInteger s = sa + sb;
                if (s.IsZero) return Zero(f, env.Rounding == FpRounding.Down);
                sign = s.Sign < 0;
                s = BigInteger.Abs(s);
                (numR, denR) = m >= 0 ? (s << m, BigInteger.One) : (s, BigInteger.One << -m);
                break;
            }
            case '*':
            {
                if (A.Kind == RefKind.Zero || B.Kind == RefKind.Zero) return Zero(f, sx);
                sign = sx;
                int e = A.Exp + B.Exp;
                BigInteger m = A.Mant * B.Mant;
                (numR, denR) = e >= 0 ? (m << e, BigInteger.One) : (m, BigInteger.One << -e);
                break;
            }
            default:
            {
                if (A.Kind == RefKind.Zero) return Zero(f, sx);
                sign = sx;
                var (an, ad) = Ratio(A);
                var (bn, bd) = Ratio(B);
                numR = an * bd;
                denR = ad * bn;
                break;
            }
        }
        return Round(f, p, sign, numR, denR, env, x87, ftz, ref flags, out roundedUp);
    }
}

/// <summary>Reference conversions, comparisons and x87 special operations (same model as <see cref="Ref"/>).</summary>
internal static class RefOps
{
    private const FpExceptions IE = Ref.IE, DE = Ref.DE, ZE = Ref.ZE, PE = Ref.PE;

    /// <summary>Float → float (CVTSS2SD/CVTSD2SS with SSE rules; FLD/FST m32/m64 with x87 rules: no DAZ/FTZ).</summary>
    public static UInt128 Convert(RefFormat from, RefFormat to, UInt128 a, FpEnv env, bool sse, bool raiseDE, out FpExceptions flags)
    {
        flags = 0;
        RefValue A = Ref.Decode(from, a, sse && env.DenormalsAreZero);
        switch (A.Kind)
        {
            case RefKind.Unsupported: flags |= IE; return Ref.Indefinite(to);
            case RefKind.QNaN:
            case RefKind.SNaN:
                if (A.Kind == RefKind.SNaN) flags |= IE;
                return Ref.ConvertNaN(from, to, a);
            case RefKind.Zero: return Ref.Zero(to, A.Sign);
            case RefKind.Inf: return Ref.Inf(to, A.Sign);
        }
        if (A.Denormal && raiseDE) flags |= DE;
        var (n, d) = Ref.Ratio(A);
        return Ref.Round(to, to.P, A.Sign, n, d, env, false, sse && env.FlushToZero, ref flags, out _);
    }

    public static UInt128 FromInt(RefFormat to, long i, FpEnv env, out FpExceptions flags)
    {
        flags = 0;
        if (i == 0) return UInt128.Zero;
        BigInteger m = BigInteger.Abs(i);
        return Ref.Round(to, to.P, i < 0, m, BigInteger.One, env, false, false, ref flags, out _);
    }

    /// <summary>Float → signed integer of the given width; invalid → integer indefinite (SDM Vol. 1, 4.8.3.3).</summary>
    public static long ToInt(RefFormat from, UInt128 a, int bits, bool truncate, FpEnv env, bool daz, out FpExceptions flags, out bool up)
    {
        flags = 0;
        up = false;
        long indefinite = long.MinValue >> (64 - bits);
        RefValue A = Ref.Decode(from, a, daz);
        if (A.Kind == RefKind.Zero) return 0;
        if (A.Kind != RefKind.Finite) { flags |= IE; return indefinite; }
        var (n, d) = Ref.Ratio(A);
        var (r, inexact, u) = Ref.RoundScaled(n, d, 0, A.Sign, truncate ? FpRounding.TowardZero : env.Rounding);
        BigInteger v = A.Sign ? -r : r;
        if (v < (BigInteger.MinusOne << (bits - 1)) || v > (BigInteger.One << (bits - 1)) - 1) { flags |= IE; return indefinite; }
        if (inexact) flags |= PE;
        up = u;
        return (long)v;
    }

    /// <summary>ROUNDSS/ROUNDSD (sse: DAZ applies, no DE) and FRNDINT (x87: DE, unsupported invalid).</summary>
    public static UInt128 RoundInt(RefFormat f, UInt128 a, FpRounding rm, bool suppressPE, FpEnv env, out FpExceptions flags)
    {
        flags = 0;
        RefValue A = Ref.Decode(f, a, !f.IsX87 && env.DenormalsAreZero);
        switch (A.Kind)
        {
            case RefKind.Unsupported: flags |= IE; return Ref.Indefinite(f);
            case RefKind.QNaN:
            case RefKind.SNaN: return Ref.SelectNaN(f, A, A, ref flags);
            case RefKind.Zero: return Ref.Zero(f, A.Sign);
            case RefKind.Inf: return Ref.Inf(f, A.Sign);
        }
        if (A.Denormal && f.IsX87) flags |= DE;
        var (n, d) = Ref.Ratio(A);
        var (r, inexact, _) = Ref.RoundScaled(n, d, 0, A.Sign, rm);
        if (inexact && !suppressPE) flags |= PE;
        if (r.IsZero) return Ref.Zero(f, A.Sign);
        int e = (int)r.GetBitLength() - 1;
        return Ref.Encode(f, f.P, A.Sign, e, r << (f.P - 1 - e));
    }

    /// <summary>Ordered comparison of exact values; NaN/unsupported → unordered with IE per the quiet rule.</summary>
    public static FpCompare Compare(RefFormat f, UInt128 a, UInt128 b, bool quiet, FpEnv env, out FpExceptions flags)
    {
        flags = 0;
        bool daz = !f.IsX87 && env.DenormalsAreZero;
        RefValue A = Ref.Decode(f, a, daz), B = Ref.Decode(f, b, daz);
        if (A.Kind == RefKind.Unsupported || B.Kind == RefKind.Unsupported) { flags |= IE; return FpCompare.Unordered; }
        if (A.IsNaN || B.IsNaN)
        {
            if (!quiet || A.Kind == RefKind.SNaN || B.Kind == RefKind.SNaN) flags |= IE;
            return FpCompare.Unordered;
        }
        if (A.Denormal || B.Denormal) flags |= DE;
        int c = Value(A).CompareTo(Value(B));
        if (c == 0 && (A.Kind == RefKind.Inf || B.Kind == RefKind.Inf)) c = 0;
        return c < 0 ? FpCompare.Less : c > 0 ? FpCompare.Greater : FpCompare.Equal;
    }

    /// <summary>A total order key for non-NaN values: infinities far beyond any finite value (a 2^20000 scale works for 80-bit).</summary>
    private static BigInteger Value(in RefValue v)
    {
        const int Shift = 20000;
        BigInteger mag = v.Kind switch
        {
            RefKind.Zero => BigInteger.Zero,
            RefKind.Inf => BigInteger.One << (2 * Shift),
            _ => v.Mant << (v.Exp + Shift),
        };
        return v.Sign ? -mag : mag;
    }

    /// <summary>FPREM/FPREM1 by the SDM pseudo-code, with N = 32 + (D mod 32) for a partial remainder.</summary>
    public static UInt128 Remainder(UInt128 a, UInt128 b, bool ieee, FpEnv env, out FpExceptions flags, out int q3, out bool incomplete)
    {
        flags = 0; q3 = 0; incomplete = false;
        RefFormat f = RefFormat.X;
        RefValue A = Ref.Decode(f, a, false), B = Ref.Decode(f, b, false);
        if (A.Kind == RefKind.Unsupported || B.Kind == RefKind.Unsupported) { flags |= IE; return Ref.Indefinite(f); }
        if (A.IsNaN || B.IsNaN) return Ref.SelectNaN(f, A, B, ref flags);
        if (A.Kind == RefKind.Inf || B.Kind == RefKind.Zero) { flags |= IE; return Ref.Indefinite(f); }
        if (A.Denormal || B.Denormal) flags |= DE;
        if (A.Kind == RefKind.Zero) return a;
        var (an, ad) = Ref.Ratio(A);
        if (B.Kind == RefKind.Inf) return Ref.Round(f, 64, A.Sign, an, ad, env, true, false, ref flags, out _);
        var (bn, bd) = Ref.Ratio(B);
        int ea = Ref.FloorLog2(an, ad), eb = Ref.FloorLog2(bn, bd);
        int dd = ea - eb;
        // |a|/|b| = (an·bd)/(ad·bn)
        BigInteger qn = an * bd, qd = ad * bn;
        BigInteger q;
        bool sign = A.Sign;
        BigInteger rn, rd; // r = |a| − q·|b|·2^k as rn/rd
        if (dd >= 64)
        {
            int n = 32 + dd % 32;
            int k = dd - n;
            q = qn / (qd << k); // trunc(|a|/|b| / 2^k)
            rd = ad * bd;
            rn = an * bd - ((q * bn * ad) << k);
            incomplete = true;
        }
        else
        {
            q = BigInteger.DivRem(qn, qd, out BigInteger rem);
            if (ieee)
            {
                int c = (2 * rem).CompareTo(qd);
                if (c > 0 || (c == 0 && !q.IsEven)) q += 1;
            }
            rd = ad * bd;
            rn = an * bd - q * bn * ad;
            q3 = (int)(q & 7);
        }
        if (rn.Sign < 0) { rn = -rn; sign = !sign; }
        if (rn.IsZero) return Ref.Zero(f, A.Sign);
        return Ref.Round(f, 64, sign, rn, rd, env, true, false, ref flags, out _);
    }

    /// <summary>FSCALE by the SDM FSCALE table and a × 2^trunc(b) rounded to 64 bits.</summary>
    public static UInt128 Scale(UInt128 a, UInt128 b, FpEnv env, out FpExceptions flags)
    {
        flags = 0;
        RefFormat f = RefFormat.X;
        RefValue A = Ref.Decode(f, a, false), B = Ref.Decode(f, b, false);
        if (A.Kind == RefKind.Unsupported || B.Kind == RefKind.Unsupported) { flags |= IE; return Ref.Indefinite(f); }
        if (A.IsNaN || B.IsNaN) return Ref.SelectNaN(f, A, B, ref flags);
        if (A.Kind == RefKind.Inf)
        {
            if (B.Kind == RefKind.Inf && B.Sign) { flags |= IE; return Ref.Indefinite(f); }
            if (B.Denormal) flags |= DE;
            return a;
        }
        if (B.Kind == RefKind.Inf)
        {
            if (A.Kind == RefKind.Zero) { if (!B.Sign) { flags |= IE; return Ref.Indefinite(f); } return a; }
            if (A.Denormal) flags |= DE;
            return B.Sign ? Ref.Zero(f, A.Sign) : Ref.Inf(f, A.Sign);
        }
        if (A.Denormal || B.Denormal) flags |= DE;
        if (A.Kind == RefKind.Zero) return a;
        long s = 0;
        if (B.Kind == RefKind.Finite)
        {
            var (bn, bd) = Ref.Ratio(B);
            BigInteger t = bn / bd;
            // Any |scale| beyond 2^20 lands far outside even the bias-adjusted range.
            s = (long)BigInteger.Min(t, BigInteger.One << 20);
            if (B.Sign) s = -s;
        }
        var (an, ad) = Ref.Ratio(A);
        if (s >= 0) an <<= (int)s; else ad <<= (int)-s;
        return Ref.Round(f, 64, A.Sign, an, ad, env, true, false, ref flags, out _);
    }
}
