using System.Numerics;
using Vtx.Float;

namespace Vtx.Tests.Float;

/// <summary>
/// An independent high-precision reference for the transcendental tests: binary floating point with a
/// <see cref="BigInteger"/> significand of <see cref="Prec"/> bits (value = M × 2^E, truncated toward
/// zero after each operation), and the functions computed with different algorithms from the library's
/// (Machin's formula for π, Σ 1/(k·2^k) for ln 2, argument halving for exp/ln/atan, Newton square roots).
/// The results carry a relative error far below 2^-250; the tests treat 2^-200 as the bound.
/// </summary>
internal readonly record struct RefFloat(BigInteger M, long E)
{
    public const int Prec = 320;

    public bool IsZero => M.IsZero;
    public int Sign => M.Sign;

    private static long BitLen(BigInteger m) => (long)BigInteger.Abs(m).GetBitLength();

    /// <summary>Exponent of the leading bit (value in [2^Top, 2^(Top+1))).</summary>
    public long Top => BitLen(M) - 1 + E;

    public static RefFloat Norm(BigInteger m, long e)
    {
        if (m.IsZero) return new(BigInteger.Zero, 0);
        long bl = BitLen(m);
        if (bl > Prec)
        {
            int s = (int)(bl - Prec);
            m = m.Sign < 0 ? -(BigInteger.Negate(m) >> s) : m >> s;
            e += s;
        }
        return new(m, e);
    }

    public static RefFloat FromInt(BigInteger v) => Norm(v, 0);

    public static RefFloat Pow2(long n) => new(BigInteger.One, n);

    public static RefFloat FromF80(Float80 a)
    {
        int e = a.Exponent == 0 ? 1 : a.Exponent;
        BigInteger m = a.Significand;
        return Norm(a.Sign ? -m : m, e - 16383 - 63);
    }

    public RefFloat Neg() => new(-M, E);
    public RefFloat Abs() => new(BigInteger.Abs(M), E);
    public RefFloat Scale(long n) => IsZero ? this : new(M, E + n);

    public static RefFloat operator +(RefFloat a, RefFloat b)
    {
        if (a.IsZero) return b;
        if (b.IsZero) return a;
        // A far smaller operand only nudges the larger one: keep it as a unit far below Prec bits.
        if (a.Top - b.Top > Prec + 64) b = new(b.Sign, a.Top - Prec - 64);
        else if (b.Top - a.Top > Prec + 64) a = new(a.Sign, b.Top - Prec - 64);
        long e = Math.Min(a.E, b.E);
        return Norm((a.M << (int)(a.E - e)) + (b.M << (int)(b.E - e)), e);
    }

    public static RefFloat operator -(RefFloat a, RefFloat b) => a + b.Neg();
    public static RefFloat operator *(RefFloat a, RefFloat b) => Norm(a.M * b.M, a.E + b.E);

    public static RefFloat operator /(RefFloat a, RefFloat b)
    {
        if (a.IsZero) return a;
        int s = Prec + 8 + (int)BitLen(b.M) - (int)BitLen(a.M);
        if (s < 0) s = 0;
        return Norm((a.M << s) / b.M, a.E - b.E - s);
    }

    public static RefFloat operator /(RefFloat a, long d) => a / FromInt(d);

    public static int Compare(RefFloat a, RefFloat b) => (a - b).Sign;

    public static RefFloat Sqrt(RefFloat a)
    {
        if (a.IsZero) return a;
        // Make M × 2^E with even E and M of about 2·Prec bits, then an integer Newton square root.
        BigInteger m = a.M;
        long e = a.E;
        int shift = 2 * Prec + 8 - (int)BitLen(m);
        if (shift < 0) shift = 0;
        if (((e - shift) & 1) != 0) shift++;
        m <<= shift;
        e -= shift;
        BigInteger x = BigInteger.One << (int)((BitLen(m) + 1) / 2 + 1);
        while (true)
        {
            BigInteger y = (x + m / x) >> 1;
            if (y >= x) break;
            x = y;
        }
        return Norm(x, e / 2);
    }

    public double ToDouble()
    {
        if (IsZero) return 0;
        long bl = BitLen(M);
        int s = (int)Math.Max(0, bl - 60);
        BigInteger m = M.Sign < 0 ? -(BigInteger.Negate(M) >> s) : M >> s;
        long e = E + s;
        if (e > 2000) return M.Sign * double.PositiveInfinity;
        if (e < -2000) return 0;
        return Math.ScaleB((double)m, (int)e);
    }

    public override string ToString() => $"{ToDouble():R} (2^{Top})";
}

/// <summary>The reference functions and the rounding of a reference value to the 80-bit format.</summary>
internal static class TrRef
{
    private const int Work = RefFloat.Prec + 64;

    /// <summary>π by Machin's formula π = 16 atan(1/5) − 4 atan(1/239), in fixed point.</summary>
    public static readonly RefFloat Pi = RefFloat.Norm(16 * AtanInvFixed(5) - 4 * AtanInvFixed(239), -Work);

    /// <summary>ln 2 = Σ 1/(k·2^k), in fixed point.</summary>
    public static readonly RefFloat Ln2 = ComputeLn2();

    /// <summary>The x87's 66-bit π (SDM Vol. 1, 8.3.8): 0.C90FDAA2_2168C234_C × 2^2 = C90FDAA22168C234Ch × 2^-66.</summary>
    public static readonly BigInteger Pi66Int = BigInteger.Parse("0C90FDAA22168C234C", System.Globalization.NumberStyles.HexNumber);

    private static BigInteger AtanInvFixed(int n)
    {
        BigInteger one = BigInteger.One << Work, sum = 0, p = one / n;
        long n2 = (long)n * n;
        for (int k = 0; !p.IsZero; k++)
        {
            BigInteger t = p / (2 * k + 1);
            sum += (k & 1) == 0 ? t : -t;
            p /= n2;
        }
        return sum;
    }

    private static RefFloat ComputeLn2()
    {
        BigInteger one = BigInteger.One << Work, sum = 0;
        for (int k = 1; k < Work + 8; k++) sum += (one >> k) / k;
        return RefFloat.Norm(sum, -Work);
    }

    private static bool Small(RefFloat t, RefFloat sum) => t.IsZero || t.Top < sum.Top - RefFloat.Prec - 8;

    /// <summary>sin r, Taylor series (|r| ≤ 1).</summary>
    public static RefFloat SinTaylor(RefFloat r)
    {
        if (r.IsZero) return r;
        RefFloat sum = r, t = r, r2 = r * r;
        for (int n = 3; ; n += 2)
        {
            t = (t * r2 / ((long)(n - 1) * n)).Neg();
            sum += t;
            if (Small(t, sum)) return sum;
        }
    }

    /// <summary>cos r, Taylor series (|r| ≤ 1).</summary>
    public static RefFloat CosTaylor(RefFloat r)
    {
        RefFloat one = RefFloat.FromInt(1), sum = one, t = one, r2 = r * r;
        if (r.IsZero) return one;
        for (int n = 2; ; n += 2)
        {
            t = (t * r2 / ((long)(n - 1) * n)).Neg();
            sum += t;
            if (Small(t, sum)) return sum;
        }
    }

    /// <summary>
    /// The x87 trigonometric model (SDM Vol. 1, 8.3.8): |x| = q·(π66/2) + r exactly with q the nearest
    /// integer (|r| ≤ π66/4), then sin/cos of the quadrant. Returns (sin, cos) of that model.
    /// </summary>
    public static (RefFloat Sin, RefFloat Cos) SinCosPi66(Float80 x)
    {
        RefFloat xv = RefFloat.FromF80(x).Abs();
        // x × 2^67 / P, exactly: x = M × 2^E.
        BigInteger num = xv.M, den = Pi66Int;
        long sh = xv.E + 67;
        if (sh >= 0) num <<= (int)sh; else den <<= (int)-sh;
        BigInteger q = (2 * num + den) / (2 * den);   // the nearest integer (no ties: P/2's odd part exceeds 2^64)
        RefFloat r = xv - RefFloat.Norm(q * Pi66Int, -67);
        RefFloat s = SinTaylor(r), c = CosTaylor(r);
        int quad = (int)(q % 4);
        (RefFloat S, RefFloat C) res = quad switch
        {
            0 => (s, c),
            1 => (c, s.Neg()),
            2 => (s.Neg(), c.Neg()),
            _ => (c.Neg(), s),
        };
        if (x.Sign) res.S = res.S.Neg();
        return res;
    }

    /// <summary>The true sin x (reduction by the 384-bit π; |x| &lt; 2^64 leaves ≥ 250 good bits).</summary>
    public static RefFloat SinTrue(Float80 x)
    {
        RefFloat xv = RefFloat.FromF80(x);
        RefFloat halfPi = Pi.Scale(-1);
        BigInteger q = Floor(xv / halfPi + RefFloat.Pow2(-1));
        RefFloat r = xv - RefFloat.FromInt(q) * halfPi;
        RefFloat s = SinTaylor(r), c = CosTaylor(r);
        int quad = (int)(((q % 4) + 4) % 4);
        return quad switch { 0 => s, 1 => c, 2 => s.Neg(), _ => c.Neg() };
    }

    public static BigInteger Floor(RefFloat v)
    {
        if (v.E >= 0) return v.M << (int)v.E;
        BigInteger d = BigInteger.One << (int)-v.E;
        BigInteger q = BigInteger.DivRem(v.M, d, out BigInteger rem);
        if (rem.Sign < 0) q -= 1;
        return q;
    }

    /// <summary>e^z − 1 by halving z until tiny, the Taylor series, then expm1(2a) = expm1(a)·(expm1(a) + 2).</summary>
    public static RefFloat Expm1(RefFloat z)
    {
        if (z.IsZero) return z;
        int k = (int)Math.Max(0, z.Top + 40);
        RefFloat a = z.Scale(-k), sum = a, t = a;
        for (int n = 2; ; n++)
        {
            t = t * a / n;
            sum += t;
            if (Small(t, sum)) break;
        }
        RefFloat two = RefFloat.FromInt(2);
        for (int i = 0; i < k; i++) sum = sum * (sum + two);
        return sum;
    }

    /// <summary>ln(1 + u) for |u| ≤ 2^-8 by its Taylor series.</summary>
    public static RefFloat Log1pTaylor(RefFloat u)
    {
        if (u.IsZero) return u;
        RefFloat sum = u, p = u;
        for (int n = 2; ; n++)
        {
            p = (p * u).Neg();
            RefFloat t = p / n;
            sum += t;
            if (Small(t, sum)) return sum;
        }
    }

    /// <summary>ln v (v &gt; 0): v = m·2^e, m in [1, 2); ln m = 2^k ln(m^(1/2^k)) by k square roots.</summary>
    public static RefFloat Ln(RefFloat v)
    {
        long e = v.Top;
        RefFloat m = v.Scale(-e), one = RefFloat.FromInt(1);
        const int k = 40;
        for (int i = 0; i < k; i++) m = RefFloat.Sqrt(m);
        RefFloat lnM = Log1pTaylor(m - one).Scale(k);
        return RefFloat.FromInt(e) * Ln2 + lnM;
    }

    /// <summary>ln(1 + x), exact 1 + x when x is not tiny.</summary>
    public static RefFloat Ln1p(RefFloat x)
    {
        if (x.Top < -9) return Log1pTaylor(x);
        RefFloat one = RefFloat.FromInt(1);
        long e = Math.Min(x.E, 0);
        RefFloat v = new((x.M << (int)(x.E - e)) + (BigInteger.One << (int)-e), e);   // exact
        RefFloat vn = RefFloat.Norm(v.M, v.E);
        long top = vn.Top;
        // Near 1 after halving the exponent out, use the series on the exact (v·2^-top − 1).
        RefFloat m = vn.Scale(-top);
        if (top == 0 && (m - one).Top < -9) return Log1pTaylor(m - one);
        if (top == -1 && (one - m.Scale(-1)).Top < -9) return Log1pTaylor(m.Scale(-1) - one);
        return Ln(vn);
    }

    /// <summary>atan t (t ≥ 0): halving atan t = 2 atan(t / (1 + √(1 + t²))) until t &lt; 2^-30, then Taylor.</summary>
    public static RefFloat Atan(RefFloat t)
    {
        if (t.IsZero) return t;
        RefFloat one = RefFloat.FromInt(1);
        if (t.Top >= 1) return Pi.Scale(-1) - Atan(one / t);
        int k = 0;
        while (t.Top > -30)
        {
            t = t / (one + RefFloat.Sqrt(one + t * t));
            k++;
        }
        RefFloat sum = t, p = t, t2 = t * t;
        for (int n = 3; ; n += 2)
        {
            p = (p * t2).Neg();
            RefFloat term = p / n;
            sum += term;
            if (Small(term, sum)) break;
        }
        return sum.Scale(k);
    }

    /// <summary>atan2 in the FPATAN convention: y = ST(1), x = ST(0), both finite and nonzero.</summary>
    public static RefFloat Atan2(Float80 y, Float80 x)
    {
        RefFloat a = RefFloat.FromF80(y).Abs(), b = RefFloat.FromF80(x).Abs();
        RefFloat v = Atan(a / b);
        if (x.Sign) v = Pi - v;
        return y.Sign ? v.Neg() : v;
    }

    // ---- rounding to the 80-bit format ---------------------------------------------------------

    /// <summary>The Float80 nearest v under <paramref name="mode"/> (64-bit significand, denormals, overflow).</summary>
    public static Float80 Round(RefFloat v, FpRounding mode)
    {
        if (v.IsZero) return new Float80(0, 0);
        bool neg = v.Sign < 0;
        BigInteger mag = BigInteger.Abs(v.M);
        long top = v.Top;
        long qe = Math.Max(top - 63, -16445);   // exponent of the last significand bit
        BigInteger sig;
        int cmpHalf = 0;   // remainder vs half a unit: -1 below, 0 exact half, 1 above; inexact flag separate
        bool inexact = false;
        if (v.E >= qe) sig = mag << (int)(v.E - qe);
        else
        {
            int s = (int)(qe - v.E);
            sig = mag >> s;
            BigInteger rem = mag - (sig << s);
            inexact = !rem.IsZero;
            cmpHalf = (rem << 1).CompareTo(BigInteger.One << s);
        }
        bool up = inexact && mode switch
        {
            FpRounding.Nearest => cmpHalf > 0 || (cmpHalf == 0 && !sig.IsEven),
            FpRounding.Up => !neg,
            FpRounding.Down => neg,
            _ => false,
        };
        if (up) sig += 1;
        if (sig >> 64 != 0)
        {
            sig >>= 1;
            qe++;
        }
        ushort signBit = neg ? (ushort)0x8000 : (ushort)0;
        if (sig.IsZero) return new Float80(0, signBit);
        long biased = sig >> 63 != 0 ? qe + 63 + 16383 : 0;
        if (biased >= 0x7FFF)
        {
            bool toInf = mode == FpRounding.Nearest || (mode == FpRounding.Up && !neg) || (mode == FpRounding.Down && neg);
            return toInf ? new Float80(0x8000_0000_0000_0000, (ushort)(signBit | 0x7FFF)) : new Float80(ulong.MaxValue, (ushort)(signBit | 0x7FFE));
        }
        return new Float80((ulong)sig, (ushort)(signBit | (ushort)biased));
    }

    /// <summary>Whether v's rounding is decided despite a relative error of 2^-200 in v.</summary>
    public static bool Decidable(RefFloat v, FpRounding mode)
    {
        RefFloat d = v.Abs().Scale(-200);
        return Round(v - d, mode) == Round(v + d, mode);
    }

    /// <summary>|r − v| in units of the last place of v's binade (64-bit significand; denormal spacing below 2^-16382).</summary>
    public static double UlpError(Float80 r, RefFloat v)
    {
        long qe = Math.Max(v.Top - 63, -16445);
        return (RefFloat.FromF80(r) - v).Abs().Scale(-qe).ToDouble();
    }
}
