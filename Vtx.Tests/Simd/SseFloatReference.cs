using System.Numerics;
using Vtx.Float;

namespace Vtx.Tests.Simd;

/// <summary>A binary floating-point format: P significand bits (with the hidden bit), exponent range.</summary>
internal sealed record SseFloatFormat(int P, int Emin, int Emax, int ExpBits)
{
    public static readonly SseFloatFormat F32 = new(24, -126, 127, 8);
    public static readonly SseFloatFormat F64 = new(53, -1022, 1023, 11);

    public int Bias => Emax;
    public ulong FracMask => (1UL << (P - 1)) - 1;
    public ulong ExpField => (1UL << ExpBits) - 1;
    public ulong SignBit => 1UL << (ExpBits + P - 1);
    public ulong QuietBit => 1UL << (P - 2);
    public ulong Inf => ExpField << (P - 1);
    public ulong DefaultNaN => SignBit | Inf | QuietBit;
    public ulong MaxFinite => ((ExpField - 1) << (P - 1)) | FracMask;

    public ulong Exp(ulong v) => (v >> (P - 1)) & ExpField;
    public ulong Frac(ulong v) => v & FracMask;
    public bool Neg(ulong v) => (v & SignBit) != 0;
    public bool IsNaN(ulong v) => Exp(v) == ExpField && Frac(v) != 0;
    public bool IsSNaN(ulong v) => IsNaN(v) && (v & QuietBit) == 0;
    public bool IsInf(ulong v) => Exp(v) == ExpField && Frac(v) == 0;
    public bool IsZero(ulong v) => (v & ~SignBit) == 0;
    public bool IsDenormal(ulong v) => Exp(v) == 0 && Frac(v) != 0;

    /// <summary>The finite value |v| as m * 2^e.</summary>
    public (BigInteger M, int E) Magnitude(ulong v)
    {
        ulong e = Exp(v), f = Frac(v);
        return e == 0 ? (f, Emin - (P - 1)) : (f | (1UL << (P - 1)), (int)e - Bias - (P - 1));
    }
}

/// <summary>
/// An independent model of SSE binary32/binary64 arithmetic (SDM Vol. 1, 4.8, 4.9, 10.2.3, 11.5):
/// exact rational arithmetic with BigInteger, then rounding to the format with the rounding mode,
/// tininess detected after rounding, masked/unmasked underflow reporting, FTZ and DAZ.
/// </summary>
internal static class SseFloatModel
{
    public enum Op { Add, Sub, Mul, Div, Sqrt }

    /// <summary>The MXCSR controls the model uses.</summary>
    public readonly record struct Ctl(FpRounding Mode, bool Daz, bool Ftz, FpExceptions Masks)
    {
        public static Ctl FromMxcsr(uint mxcsr) => new((FpRounding)((mxcsr >> 13) & 3), (mxcsr & 0x40) != 0, (mxcsr & 0x8000) != 0, (FpExceptions)((mxcsr >> 7) & 0x3F));
    }

    public static ulong Quiet(SseFloatFormat f, ulong v) => v | f.QuietBit;

    private static ulong Daz(SseFloatFormat f, ulong v, Ctl c) => c.Daz && f.IsDenormal(v) ? v & f.SignBit : v;

    /// <summary>a op b (Sqrt: sqrt(b)); returns the masked-response bits and the raised flags.</summary>
    public static ulong Arith(Op op, SseFloatFormat f, ulong a, ulong b, Ctl c, out FpExceptions flags)
    {
        flags = FpExceptions.None;
        if (op == Op.Sqrt) a = 0;
        bool denA = f.IsDenormal(a) && !c.Daz, denB = f.IsDenormal(b) && !c.Daz;
        a = Daz(f, a, c); b = Daz(f, b, c);
        if (op == Op.Sqrt ? f.IsNaN(b) : f.IsNaN(a) || f.IsNaN(b))
        {
            if (f.IsSNaN(a) || f.IsSNaN(b)) flags |= FpExceptions.Invalid;
            return Quiet(f, f.IsNaN(a) && op != Op.Sqrt ? a : b);
        }
        bool na = f.Neg(a), nb = f.Neg(b);
        if (op == Op.Sub) { nb = !nb; b ^= f.SignBit; }
        bool invalid = op switch
        {
            Op.Add or Op.Sub => f.IsInf(a) && f.IsInf(b) && na != nb,
            Op.Mul => (f.IsInf(a) && f.IsZero(b)) || (f.IsZero(a) && f.IsInf(b)),
            Op.Div => (f.IsZero(a) && f.IsZero(b)) || (f.IsInf(a) && f.IsInf(b)),
            _ => nb && !f.IsZero(b),
        };
        if (invalid) { flags |= FpExceptions.Invalid; return f.DefaultNaN; }
        // Finite / 0: divide-by-zero is reported and the denormal-operand check is not reached (SDM Vol. 1,
        // 11.5.2.1; the host CPU agrees).
        bool zeroDivide = op == Op.Div && f.IsZero(b) && !f.IsInf(a);
        if ((denA || denB) && !zeroDivide) flags |= FpExceptions.Denormal;
        bool sx = na ^ nb;
        switch (op)
        {
            case Op.Add or Op.Sub:
                if (f.IsInf(a)) return a;
                if (f.IsInf(b)) return b;
                break;
            case Op.Mul:
                if (f.IsInf(a) || f.IsInf(b)) return (sx ? f.SignBit : 0) | f.Inf;
                if (f.IsZero(a) || f.IsZero(b)) return sx ? f.SignBit : 0;
                break;
            case Op.Div:
                if (f.IsInf(a)) return (sx ? f.SignBit : 0) | f.Inf;
                if (f.IsInf(b) || f.IsZero(a)) return sx ? f.SignBit : 0;
                if (f.IsZero(b)) { flags |= FpExceptions.ZeroDivide; return (sx ? f.SignBit : 0) | f.Inf; }
                break;
            default:
                if (f.IsInf(b) || f.IsZero(b)) return b;
                break;
        }
        var (ma, ea) = f.Magnitude(a);
        var (mb, eb) = f.Magnitude(b);
        switch (op)
        {
            case Op.Add or Op.Sub:
            {
                int e = Math.Min(ea, eb);
                BigInteger va = (na ? -ma : ma) << (ea - e), vb = (nb ? -mb : mb) << (eb - e);
                BigInteger s = va + vb;
                // An exact zero sum: -0 when both addends are negative, or (x + -x) when rounding down.
                if (s.IsZero) return (na && nb) || (na != nb && c.Mode == FpRounding.Down) ? f.SignBit : 0;
                return Round(f, s.Sign < 0, BigInteger.Abs(s), BigInteger.One, e, c, ref flags);
            }
            case Op.Mul:
                return Round(f, sx, ma * mb, BigInteger.One, ea + eb, c, ref flags);
            case Op.Div:
                return Round(f, sx, ma, mb, ea - eb, c, ref flags);
            default:
            {
                // sqrt(mb * 2^eb): even exponent, then an integer root with many more bits than P and a sticky bit.
                BigInteger m = mb; int e = eb;
                if ((e & 1) != 0) { m <<= 1; e -= 1; }
                m <<= 2 * 200; e -= 2 * 200;
                BigInteger r = ISqrt(m);
                BigInteger num = r * r == m ? r << 1 : (r << 1) + 1;
                return Round(f, false, num, BigInteger.One, e / 2 - 1, c, ref flags);
            }
        }
    }

    public static BigInteger ISqrt(BigInteger n)
    {
        if (n.IsZero) return 0;
        BigInteger x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger y = (x + n / x) >> 1;
            if (y >= x) return x;
            x = y;
        }
    }

    /// <summary>Rounds num/den * 2^e2 (num &gt; 0) with sign <paramref name="neg"/> to format <paramref name="f"/>.</summary>
    public static ulong Round(SseFloatFormat f, bool neg, BigInteger num, BigInteger den, int e2, Ctl c, ref FpExceptions flags)
    {
        ulong sign = neg ? f.SignBit : 0;
        // Normalise: 2^E <= num/den * 2^e2 < 2^(E+1).
        int E = (int)(num.GetBitLength() - den.GetBitLength());
        if ((E >= 0 ? num : num << -E) < (E >= 0 ? den << E : den)) E--;
        // num/den >= 2^E now.
        E += e2;
        // Unbounded-exponent rounding (for tininess after rounding).
        BigInteger sigU = RoundAt(num, den, e2, E - (f.P - 1), neg, c.Mode, out bool inexactU);
        int Eu = E;
        if (sigU == (BigInteger.One << f.P)) Eu++;
        bool tiny = Eu < f.Emin;
        BigInteger sig; bool inexact; int Er;
        if (E < f.Emin)
        {
            sig = RoundAt(num, den, e2, f.Emin - (f.P - 1), neg, c.Mode, out inexact);
            Er = f.Emin;
        }
        else
        {
            sig = sigU; inexact = inexactU; Er = Eu;
            if (sig == (BigInteger.One << f.P)) sig >>= 1;
        }
        bool ueMasked = (c.Masks & FpExceptions.Underflow) != 0;
        if (tiny && c.Ftz && ueMasked)
        {
            flags |= FpExceptions.Underflow | FpExceptions.Precision;
            return sign;
        }
        bool oeMasked = (c.Masks & FpExceptions.Overflow) != 0;
        if (Er > f.Emax)
        {
            // Masked: the response (inf or max finite) is always inexact. Unmasked: PE only when the
            // result rounded with an unbounded exponent is inexact (SDM Vol. 1, 4.9.1.4, 11.5.2.4).
            flags |= FpExceptions.Overflow | (oeMasked || inexactU ? FpExceptions.Precision : 0);
            bool toInf = c.Mode switch { FpRounding.Nearest => true, FpRounding.TowardZero => false, FpRounding.Up => !neg, _ => neg };
            return sign | (toInf ? f.Inf : f.MaxFinite);
        }
        if (tiny && !ueMasked)
        {
            // Unmasked underflow: UE, and PE only when the unbounded-exponent result is inexact (SDM Vol. 1, 4.9.1.5).
            flags |= FpExceptions.Underflow | (inexactU ? FpExceptions.Precision : 0);
        }
        else
        {
            if (inexact) flags |= FpExceptions.Precision;
            if (tiny && inexact) flags |= FpExceptions.Underflow;
        }
        ulong s = (ulong)sig;
        if (s >= 1UL << (f.P - 1)) return sign | ((ulong)(Er + f.Bias) << (f.P - 1)) | (s & f.FracMask);
        return sign | s; // denormal (or zero)
    }

    /// <summary>Rounds num/den * 2^e2 / 2^q to an integer by <paramref name="mode"/>.</summary>
    private static BigInteger RoundAt(BigInteger num, BigInteger den, int e2, int q, bool neg, FpRounding mode, out bool inexact)
    {
        int sh = e2 - q;
        BigInteger n = num, d = den;
        if (sh >= 0) n <<= sh; else d <<= -sh;
        BigInteger iq = BigInteger.DivRem(n, d, out BigInteger rem);
        inexact = !rem.IsZero;
        if (!inexact) return iq;
        bool up = mode switch
        {
            FpRounding.Nearest => (rem << 1) > d || ((rem << 1) == d && !iq.IsEven),
            FpRounding.TowardZero => false,
            FpRounding.Up => !neg,
            _ => neg,
        };
        return up ? iq + 1 : iq;
    }

    /// <summary>A comparison as COMISS (quiet = false) / UCOMISS (quiet = true) or CMPxx evaluate it.</summary>
    public static FpCompare Compare(SseFloatFormat f, ulong a, ulong b, bool quiet, Ctl c, out FpExceptions flags)
    {
        flags = FpExceptions.None;
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            if (!quiet || f.IsSNaN(a) || f.IsSNaN(b)) flags |= FpExceptions.Invalid;
            return FpCompare.Unordered;
        }
        if (!c.Daz && (f.IsDenormal(a) || f.IsDenormal(b))) flags |= FpExceptions.Denormal;
        a = Daz(f, a, c); b = Daz(f, b, c);
        int r = CompareFinite(f, a, b);
        return r < 0 ? FpCompare.Less : r > 0 ? FpCompare.Greater : FpCompare.Equal;
    }

    /// <summary>Orders two non-NaN values (±0 equal).</summary>
    public static int CompareFinite(SseFloatFormat f, ulong a, ulong b)
    {
        if (f.IsZero(a) && f.IsZero(b)) return 0;
        long ka = Key(f, a), kb = Key(f, b);
        return ka.CompareTo(kb);
    }

    private static long Key(SseFloatFormat f, ulong v)
    {
        long m = (long)(v & ~f.SignBit);
        return f.Neg(v) ? -m : m;
    }

    /// <summary>The exact value of a finite operand as a rational (sign applied).</summary>
    public static (BigInteger Num, BigInteger Den) Rational(SseFloatFormat f, ulong v)
    {
        var (m, e) = f.Magnitude(v);
        if (f.Neg(v)) m = -m;
        return e >= 0 ? (m << e, BigInteger.One) : (m, BigInteger.One << -e);
    }

    /// <summary>CVT(T)xx2SI: the integer of <paramref name="bits"/> ((1 &lt;&lt; (bits-1)) indefinite with IE when invalid).</summary>
    public static long ToInt(SseFloatFormat f, ulong v, int bits, bool truncate, Ctl c, out FpExceptions flags)
    {
        flags = FpExceptions.None;
        long indefinite = bits == 32 ? int.MinValue : long.MinValue;
        if (f.IsNaN(v) || f.IsInf(v)) { flags |= FpExceptions.Invalid; return indefinite; }
        v = Daz(f, v, c);
        var (num, den) = Rational(f, v);
        BigInteger q = BigInteger.DivRem(num, den, out BigInteger rem); // truncates toward zero
        if (!rem.IsZero)
        {
            FpRounding mode = truncate ? FpRounding.TowardZero : c.Mode;
            BigInteger twice = BigInteger.Abs(rem) * 2;
            bool neg = num.Sign < 0;
            bool away = mode switch
            {
                FpRounding.Nearest => twice > den || (twice == den && !q.IsEven),
                FpRounding.TowardZero => false,
                FpRounding.Up => !neg,
                _ => neg,
            };
            if (away) q += neg ? -1 : 1;
        }
        BigInteger min = -(BigInteger.One << (bits - 1)), max = (BigInteger.One << (bits - 1)) - 1;
        if (q < min || q > max) { flags |= FpExceptions.Invalid; return indefinite; }
        if (!rem.IsZero) flags |= FpExceptions.Precision;
        return (long)q;
    }

    /// <summary>CVTSI2SS/SD and friends: an integer rounded to the format.</summary>
    public static ulong FromInt(SseFloatFormat f, long i, Ctl c, out FpExceptions flags)
    {
        flags = FpExceptions.None;
        if (i == 0) return 0;
        return Round(f, i < 0, BigInteger.Abs((BigInteger)i), BigInteger.One, 0, c, ref flags);
    }

    /// <summary>CVTSS2SD / CVTSD2SS: a value converted between formats.</summary>
    public static ulong Convert(SseFloatFormat from, SseFloatFormat to, ulong v, Ctl c, out FpExceptions flags)
    {
        flags = FpExceptions.None;
        ulong sign = from.Neg(v) ? to.SignBit : 0;
        if (from.IsNaN(v))
        {
            if (from.IsSNaN(v)) flags |= FpExceptions.Invalid;
            ulong payload = from.Frac(v);
            payload = to.P > from.P ? payload << (to.P - from.P) : payload >> (from.P - to.P);
            return sign | to.Inf | to.QuietBit | payload;
        }
        if (from.IsInf(v)) return sign | to.Inf;
        if (from.IsDenormal(v)) { if (c.Daz) return sign; flags |= FpExceptions.Denormal; }
        if (from.IsZero(v)) return sign;
        var (m, e) = from.Magnitude(v);
        return Round(to, from.Neg(v), m, BigInteger.One, e, c, ref flags);
    }

    /// <summary>ROUNDSS/SD: round to an integral value in the same format.</summary>
    public static ulong RoundIntegral(SseFloatFormat f, ulong v, FpRounding mode, bool suppressPe, Ctl c, out FpExceptions flags)
    {
        flags = FpExceptions.None;
        if (f.IsNaN(v)) { if (f.IsSNaN(v)) flags |= FpExceptions.Invalid; return Quiet(f, v); }
        v = Daz(f, v, c);
        if (f.IsInf(v) || f.IsZero(v)) return v;
        var (num, den) = Rational(f, v);
        BigInteger q = BigInteger.DivRem(num, den, out BigInteger rem);
        if (rem.IsZero) return v;
        if (!suppressPe) flags |= FpExceptions.Precision;
        bool neg = f.Neg(v);
        BigInteger twice = BigInteger.Abs(rem) * 2;
        bool away = mode switch
        {
            FpRounding.Nearest => twice > den || (twice == den && !q.IsEven),
            FpRounding.TowardZero => false,
            FpRounding.Up => !neg,
            _ => neg,
        };
        if (away) q += neg ? -1 : 1;
        if (q.IsZero) return neg ? f.SignBit : 0;
        var none = FpExceptions.None;
        return Round(f, neg, BigInteger.Abs(q), BigInteger.One, 0, c with { Mode = FpRounding.Nearest }, ref none);
    }
}
