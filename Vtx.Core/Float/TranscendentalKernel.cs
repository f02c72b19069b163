namespace Vtx.Float;

/// <summary>
/// A working value of the transcendental kernels: a 128-bit significand with an unbounded (int)
/// exponent, value = (−1)^Neg × M × 2^(Exp − 127). M = 0 is zero; otherwise bit 127 of M is set. The
/// layout is the one <see cref="SoftFloat.RoundPack80"/> takes, so a kernel result rounds in one step.
/// </summary>
/// <remarks>
/// Every operation truncates to 128 bits and ORs the discarded bits into bit 0 ("jamming"), so a value
/// that is slightly below or above a short binary number never looks exactly like it; the relative
/// error of one operation is below 2^-126.
/// </remarks>
internal readonly struct TrWide
{
    public readonly bool Neg;
    public readonly int Exp;
    public readonly UInt128 M;

    public TrWide(bool neg, int exp, UInt128 m)
    {
        Neg = neg;
        Exp = exp;
        M = m;
    }

    public bool IsZero => M == UInt128.Zero;

    public TrWide Negate() => new(!Neg, Exp, M);

    public TrWide Abs() => new(false, Exp, M);

    /// <summary>The value times 2^n.</summary>
    public TrWide Scale(int n) => M == UInt128.Zero ? this : new(Neg, Exp + n, M);
}

/// <summary>
/// The fixed-point engine of the x87 transcendental instructions (SDM Vol. 1, 8.3.7-8.3.10): 128-bit
/// multiply/add/divide with jamming, the series kernels (sin, cos, atan, atanh, expm1) and the argument
/// reduction by the x87's 66-bit π. No allocation per call: the tables are built once.
/// </summary>
internal static class TranscendentalKernel
{
    private static readonly UInt128 Top = UInt128.One << 127;

    public static readonly TrWide One = new(false, 0, UInt128.One << 127);
    public static readonly TrWide Two = new(false, 1, UInt128.One << 127);

    // Constants rounded to 128 bits (ln 2, 1/ln 2, π, π/2, atan(k/8)); generated with a 400-bit
    // multiple-precision evaluation.
    public static readonly TrWide Ln2 = new(false, -1, new UInt128(0xB17217F7D1CF79AB, 0xC9E3B39803F2F6AF));
    public static readonly TrWide InvLn2 = new(false, 0, new UInt128(0xB8AA3B295C17F0BB, 0xBE87FED0691D3E89));
    public static readonly TrWide Pi = new(false, 1, new UInt128(0xC90FDAA22168C234, 0xC4C6628B80DC1CD1));
    public static readonly TrWide HalfPi = new(false, 0, new UInt128(0xC90FDAA22168C234, 0xC4C6628B80DC1CD1));
    public static readonly TrWide QuarterPi = new(false, -1, new UInt128(0xC90FDAA22168C234, 0xC4C6628B80DC1CD1));

    private static readonly TrWide[] AtanEighths =
    [
        default,
        new(false, -4, new UInt128(0xFEADD4D5617B6E32, 0xC897989F3E888EF8)),
        new(false, -3, new UInt128(0xFADBAFC96406EB15, 0x6DC79EF5F7A217E6)),
        new(false, -2, new UInt128(0xB7B0CA0F26F78473, 0x8AA32122DCFE4483)),
        new(false, -2, new UInt128(0xED63382B0DDA7B45, 0x6FE445ECBC3A8D03)),
        new(false, -1, new UInt128(0x8F005D5EF7F59F9B, 0x5C835E1665C43748)),
        new(false, -1, new UInt128(0xA4BC7D1934F70924, 0x19A87F2A457DAC9F)),
        new(false, -1, new UInt128(0xB8053E2BC2319E73, 0xCB2DA55210A4443D)),
        new(false, -1, new UInt128(0xC90FDAA22168C234, 0xC4C6628B80DC1CD1)),
    ];

    /// <summary>
    /// The x87's internal π (SDM Vol. 1, 8.3.8 "Pi"): 0.C90FDAA2_2168C234_C × 2^2, a 66-bit mantissa;
    /// as an integer P = C90FDAA22168C234Ch, π66 = P × 2^-66 and π66/2 = P × 2^-67.
    /// </summary>
    public static readonly UInt128 Pi66 = new(0xC, 0x90FDAA22168C234C);

    private const int SeriesTerms = 40;
    private static readonly TrWide[] InvFactorial = BuildInvFactorial();   // 1/n!, n = 0..SeriesTerms
    private static readonly TrWide[] InvOdd = BuildInvOdd();               // 1/(2k+1), k = 0..SeriesTerms

    private static TrWide[] BuildInvFactorial()
    {
        var t = new TrWide[SeriesTerms + 1];
        t[0] = One;
        for (int n = 1; n <= SeriesTerms; n++) t[n] = Div(t[n - 1], FromUInt64((ulong)n));
        return t;
    }

    private static TrWide[] BuildInvOdd()
    {
        var t = new TrWide[SeriesTerms + 1];
        for (int k = 0; k <= SeriesTerms; k++) t[k] = Div(One, FromUInt64((ulong)(2 * k + 1)));
        return t;
    }

    // ---- construction ----------------------------------------------------------------------

    /// <summary>Normalises value = (−1)^neg × m × 2^(exp − 127).</summary>
    public static TrWide Normalize(bool neg, int exp, UInt128 m)
    {
        if (m == UInt128.Zero) return new TrWide(neg, 0, UInt128.Zero);
        int lz = (int)UInt128.LeadingZeroCount(m);
        return new TrWide(neg, exp - lz, m << lz);
    }

    public static TrWide FromUInt64(ulong v) => Normalize(false, 127, v);

    public static TrWide FromInt(long v) => v < 0 ? Normalize(true, 127, (UInt128)(ulong)(-(v + 1)) + 1) : Normalize(false, 127, (ulong)v);

    /// <summary>The exact value of a finite, supported x87 operand (denormals and pseudo-denormals included).</summary>
    public static TrWide FromFloat80(Float80 a)
    {
        int e = a.Exponent == 0 ? 1 : a.Exponent;
        // value = sig × 2^(e − 16383 − 63); with M = sig << 64, M × 2^(Exp − 127) gives Exp = e − 16383.
        return Normalize(a.Sign, e - Float80.Bias, (UInt128)a.Significand << 64);
    }

    // ---- arithmetic ------------------------------------------------------------------------

    private static UInt128 ShiftRightJam(UInt128 m, int n)
    {
        if (n <= 0) return m;
        if (n >= 128) return m != UInt128.Zero ? UInt128.One : UInt128.Zero;
        UInt128 lost = m & ((UInt128.One << n) - 1);
        return (m >> n) | (lost != UInt128.Zero ? UInt128.One : UInt128.Zero);
    }

    public static TrWide Mul(TrWide a, TrWide b)
    {
        bool neg = a.Neg ^ b.Neg;
        if (a.IsZero || b.IsZero) return new TrWide(neg, 0, UInt128.Zero);
        ulong a1 = (ulong)(a.M >> 64), a0 = (ulong)a.M, b1 = (ulong)(b.M >> 64), b0 = (ulong)b.M;
        UInt128 p00 = Math.BigMul(a0, b0), p01 = Math.BigMul(a0, b1), p10 = Math.BigMul(a1, b0), p11 = Math.BigMul(a1, b1);
        UInt128 mid = (UInt128)(ulong)p01 + (ulong)p10 + (p00 >> 64);
        UInt128 hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        UInt128 lo = (mid << 64) | (ulong)p00;
        int exp = a.Exp + b.Exp + 1;
        if ((hi & Top) == UInt128.Zero)
        {
            hi = (hi << 1) | (lo >> 127);
            lo <<= 1;
            exp--;
        }
        if (lo != UInt128.Zero) hi |= UInt128.One;
        return new TrWide(neg, exp, hi);
    }

    public static TrWide Add(TrWide a, TrWide b)
    {
        if (b.IsZero) return a;
        if (a.IsZero) return b;
        // |a| >= |b|
        if (a.Exp < b.Exp || (a.Exp == b.Exp && a.M < b.M)) (a, b) = (b, a);
        int d = a.Exp - b.Exp;
        UInt128 bm = ShiftRightJam(b.M, d);
        if (a.Neg == b.Neg)
        {
            UInt128 sum = a.M + bm;
            if (sum < a.M) return new TrWide(a.Neg, a.Exp + 1, (sum >> 1) | (sum & UInt128.One) | Top);
            return new TrWide(a.Neg, a.Exp, sum);
        }
        return Normalize(a.Neg, a.Exp, a.M - bm);
    }

    public static TrWide Sub(TrWide a, TrWide b) => Add(a, b.Negate());

    /// <summary>a / b (b nonzero), 128 quotient bits by restoring division, the remainder jammed.</summary>
    public static TrWide Div(TrWide a, TrWide b)
    {
        bool neg = a.Neg ^ b.Neg;
        if (a.IsZero) return new TrWide(neg, 0, UInt128.Zero);
        UInt128 d = b.M, rem = a.M, q = UInt128.Zero;
        int exp = a.Exp - b.Exp;
        int bits = 128;
        if (rem >= d)
        {
            rem -= d;
            q = UInt128.One;
            bits = 127;
        }
        else exp--;
        for (int i = 0; i < bits; i++)
        {
            bool carry = (rem & Top) != UInt128.Zero;
            rem <<= 1;
            q <<= 1;
            if (carry || rem >= d)
            {
                rem -= d;
                q |= UInt128.One;
            }
        }
        if (rem != UInt128.Zero) q |= UInt128.One;
        return new TrWide(neg, exp, q);
    }

    /// <summary>True when |t| is below 2^-130 relative to the leading term: the series may stop.</summary>
    /// <remarks>
    /// The series sum their tails first and add the leading term last, once: a tail far below the
    /// leading term then survives as one jammed bit on the correct side, which is what decides the
    /// rounding of sin x, atan x, … for tiny x (two opposite jams would cancel).
    /// </remarks>
    private static bool Negligible(TrWide t, TrWide sum) => t.IsZero || t.Exp < sum.Exp - 130;

    // ---- series kernels --------------------------------------------------------------------

    /// <summary>sin r for |r| ≤ π/4 (Taylor series; terms fall by at least r²/6 ≤ 0.11 each).</summary>
    public static TrWide Sin(TrWide r)
    {
        if (r.IsZero) return r;
        TrWide r2 = Mul(r, r), p = r, tail = default;
        for (int k = 1; 2 * k + 1 <= SeriesTerms; k++)
        {
            p = Mul(p, r2);
            TrWide t = Mul(p, InvFactorial[2 * k + 1]);
            tail = (k & 1) != 0 ? Sub(tail, t) : Add(tail, t);
            if (Negligible(t, r)) break;
        }
        return Add(r, tail);
    }

    /// <summary>cos r for |r| ≤ π/4 (Taylor series; the result is at least 0.70).</summary>
    public static TrWide Cos(TrWide r)
    {
        if (r.IsZero) return One;
        TrWide r2 = Mul(r, r), p = One, tail = default;
        for (int k = 1; 2 * k <= SeriesTerms; k++)
        {
            p = Mul(p, r2);
            TrWide t = Mul(p, InvFactorial[2 * k]);
            tail = (k & 1) != 0 ? Sub(tail, t) : Add(tail, t);
            if (Negligible(t, One)) break;
        }
        return Add(One, tail);
    }

    private static readonly TrWide TanC5 = Div(FromUInt64(2), FromUInt64(15));
    private static readonly TrWide TanC7 = Div(FromUInt64(17), FromUInt64(315));

    /// <summary>
    /// tan r for |r| ≤ π/4. sin r / cos r, except for |r| &lt; 2^-20, where the quotient of two values
    /// that each differ from r and 1 by less than their own rounding error would lose which side of r
    /// tan r lies on: there tan r = r + r³/3 + 2r⁵/15 + 17r⁷/315 (next term below 2^-160 relative).
    /// </summary>
    public static TrWide Tan(TrWide r)
    {
        if (r.IsZero || r.Exp >= -20) return Div(Sin(r), Cos(r));
        TrWide r2 = Mul(r, r);
        TrWide poly = Mul(r2, Add(InvOdd[1], Mul(r2, Add(TanC5, Mul(r2, TanC7)))));
        return Add(r, Mul(r, poly));
    }

    /// <summary>e^z − 1 for |z| ≤ 0.35 (Taylor series, no cancellation for small z).</summary>
    public static TrWide Expm1(TrWide z)
    {
        if (z.IsZero) return z;
        TrWide p = z, tail = default;
        for (int n = 2; n <= SeriesTerms; n++)
        {
            p = Mul(p, z);
            TrWide t = Mul(p, InvFactorial[n]);
            tail = Add(tail, t);
            if (Negligible(t, z)) break;
        }
        return Add(z, tail);
    }

    /// <summary>atanh s = s + s³/3 + s⁵/5 + … for |s| ≤ 0.18.</summary>
    public static TrWide Atanh(TrWide s)
    {
        if (s.IsZero) return s;
        TrWide s2 = Mul(s, s), p = s, tail = default;
        for (int k = 1; k <= SeriesTerms; k++)
        {
            p = Mul(p, s2);
            TrWide t = Mul(p, InvOdd[k]);
            tail = Add(tail, t);
            if (Negligible(t, s)) break;
        }
        return Add(s, tail);
    }

    /// <summary>atan u = u − u³/3 + u⁵/5 − … for |u| ≤ 1/16.</summary>
    private static TrWide AtanSeries(TrWide u)
    {
        if (u.IsZero) return u;
        TrWide u2 = Mul(u, u), p = u, tail = default;
        for (int k = 1; k <= SeriesTerms; k++)
        {
            p = Mul(p, u2);
            TrWide t = Mul(p, InvOdd[k]);
            tail = (k & 1) != 0 ? Sub(tail, t) : Add(tail, t);
            if (Negligible(t, u)) break;
        }
        return Add(u, tail);
    }

    /// <summary>atan t for 0 ≤ t ≤ 1: atan t = atan(k/8) + atan((t − k/8)/(1 + t·k/8)), k = round(8t).</summary>
    public static TrWide Atan(TrWide t)
    {
        if (t.IsZero || t.Exp < -4) return AtanSeries(t);
        int k = (int)(((t.M >> (123 - t.Exp)) + 1) >> 1);   // round(8t); t.Exp in [-4, 0]
        if (k == 0) return AtanSeries(t);
        TrWide c = FromUInt64((ulong)k).Scale(-3);
        TrWide u = Div(Sub(t, c), Add(One, Mul(t, c)));
        return Add(AtanEighths[k], AtanSeries(u));
    }

    /// <summary>
    /// log2 v for v &gt; 0: v = m' × 2^e with m' in [√2/2, √2), ln m' = 2 atanh((m' − 1)/(m' + 1)).
    /// </summary>
    public static TrWide Log2(TrWide v)
    {
        int e = v.Exp;
        TrWide num, den;
        if (v.M >= new UInt128(0xB504F333F9DE6484, 0))
        {
            // m' = M × 2^-128 in [0.707, 1): m' − 1 = −(2^128 − M) × 2^-128, m' + 1 = (M/2 + 2^127) × 2^-127.
            e++;
            num = Normalize(true, -1, UInt128.Zero - v.M);
            den = new TrWide(false, 0, (v.M >> 1) | Top | (v.M & UInt128.One));
        }
        else
        {
            // m' = M × 2^-127 in [1, 1.414): m' − 1 = (M − 2^127) × 2^-127, m' + 1 = (M/2 + 2^126) × 2^-126.
            num = Normalize(false, 0, v.M - Top);
            den = new TrWide(false, 1, ((v.M >> 1) + (UInt128.One << 126)) | (v.M & UInt128.One));
        }
        TrWide lnM = Atanh(Div(num, den)).Scale(1);
        return Add(FromInt(e), Mul(lnM, InvLn2));
    }

    /// <summary>
    /// Reduces |x| (x = sig × 2^(exp − 63), exp ≤ 62) modulo π66/2 exactly: |x| = q·π66/2 + r with
    /// |r| ≤ π66/4; returns r and q mod 4 (SDM Vol. 1, 8.3.8: the reduction uses the 66-bit π).
    /// </summary>
    public static TrWide ReducePi66(ulong sig, int exp, out int quadrant)
    {
        quadrant = 0;
        if (exp < -1) return Normalize(false, exp, (UInt128)sig << 64);   // |x| < 1/2 < π/4
        // X = |x| × 2^67 = sig × 2^(exp + 4), an integer; long division by P bit by bit.
        UInt128 rem = sig;   // sig < 2^64 < P
        int q = 0;
        for (int i = 0; i < exp + 4; i++)
        {
            rem <<= 1;
            q = (q << 1) & 3;   // only q mod 4 matters (the quadrant)
            if (rem >= Pi66)
            {
                rem -= Pi66;
                q |= 1;
            }
        }
        bool neg = false;
        if (rem << 1 > Pi66)
        {
            rem = Pi66 - rem;
            q++;
            neg = true;
        }
        quadrant = q & 3;
        // r = rem × 2^-67 = M × 2^(Exp − 127) with M = rem: Exp = 60.
        return Normalize(neg, 60, rem);
    }
}
