using System.Numerics;
using System.Runtime.CompilerServices;

namespace Vtx.Float;

// The shared machinery: one unpacked operand form, one round-and-pack routine parameterised by
// significand width and exponent range (binary32, binary64, double extended with or without x87
// precision control), the exact kernels (add, multiply, divide, square root) and the NaN rules.
public static partial class SoftFloat
{
    // Exponent ranges (unbiased exponent of the smallest and largest normal): SDM Vol. 1, Table 4-3.
    private const int Emin32 = -126, Emax32 = 127, Emin64 = -1022, Emax64 = 1023, Emin80 = -16382, Emax80 = 16383;

    /// <summary>x87 bias adjustment of unmasked overflow/underflow register results (SDM Vol. 1, 8.5.4, 8.5.5).</summary>
    private const int X87BiasAdjust = 24576;

    private const uint Indefinite32 = 0xFFC0_0000;
    private const ulong Indefinite64 = 0xFFF8_0000_0000_0000;

    private enum Kind : byte { Zero, Finite, Inf, QNaN, SNaN, Unsupported }

    /// <summary>
    /// An unpacked operand. For <see cref="Kind.Finite"/> the value is Sig × 2^(Exp − 63) with Sig
    /// normalised (bit 63 set), whatever the source format; Denormal records a denormal (or x87
    /// pseudo-denormal) encoding, for the DE flag.
    /// </summary>
    private struct Op
    {
        public Kind Kind;
        public bool Sign;
        public bool Denormal;
        public int Exp;
        public ulong Sig;

        public readonly bool IsNaN => Kind is Kind.QNaN or Kind.SNaN;
    }

    /// <summary>A rounded result: Kind Zero, Finite or Inf; for Finite, Sig holds p bits with the
    /// integer bit at p − 1 (clear only for a denormal result, whose Exp is then Emin).</summary>
    private struct Rounded
    {
        public Kind Kind;
        public bool Sign;
        public int Exp;
        public ulong Sig;
    }

    private static int Bits(FpPrecision pc) => pc switch { FpPrecision.Single => 24, FpPrecision.Double => 53, _ => 64 };

    // ---------------------------------------------------------------- unpacking

    private static Op Unpack80(Float80 a)
    {
        Op o = default;
        o.Sign = a.Sign;
        int e = a.Exponent;
        ulong s = a.Significand;
        if (e == 0)
        {
            if (s == 0) { o.Kind = Kind.Zero; return o; }
            // Denormals and pseudo-denormals (J = 1) both have the weight of exponent 1 − bias
            // (SDM Vol. 1, 8.2.2: pseudo-denormals are accepted as operands and raise DE).
            int lz = BitOperations.LeadingZeroCount(s);
            o.Kind = Kind.Finite; o.Denormal = true; o.Sig = s << lz; o.Exp = 1 - Float80.Bias - lz;
            return o;
        }
        if ((s >> 63) == 0)
        {
            // Unnormal, pseudo-infinity or pseudo-NaN: unsupported since the 387 (SDM Vol. 1, 8.2.2).
            o.Kind = Kind.Unsupported; return o;
        }
        if (e == 0x7FFF)
        {
            o.Kind = (s << 1) == 0 ? Kind.Inf : (s & 0x4000_0000_0000_0000) != 0 ? Kind.QNaN : Kind.SNaN;
            o.Sig = s;
            return o;
        }
        o.Kind = Kind.Finite; o.Sig = s; o.Exp = e - Float80.Bias;
        return o;
    }

    /// <summary>Unpacks binary32 (<paramref name="dbl"/> false) or binary64; DAZ turns denormals into zeros (no DE).</summary>
    private static Op UnpackBin(ulong x, bool dbl, bool daz)
    {
        int fracBits = dbl ? 52 : 23, bias = dbl ? 1023 : 127;
        ulong expMask = dbl ? 0x7FFul : 0xFFul;
        Op o = default;
        o.Sign = ((x >> (dbl ? 63 : 31)) & 1) != 0;
        int e = (int)((x >> fracBits) & expMask);
        ulong f = x & ((1ul << fracBits) - 1);
        if (e == (int)expMask)
        {
            o.Kind = f == 0 ? Kind.Inf : (f >> (fracBits - 1)) != 0 ? Kind.QNaN : Kind.SNaN;
            o.Sig = f;
            return o;
        }
        if (e == 0)
        {
            if (f == 0 || daz) { o.Kind = Kind.Zero; return o; }
            int lz = BitOperations.LeadingZeroCount(f);
            o.Kind = Kind.Finite; o.Denormal = true; o.Sig = f << lz;
            o.Exp = 1 - bias - fracBits + 63 - lz;
            return o;
        }
        o.Kind = Kind.Finite;
        o.Sig = (f | (1ul << fracBits)) << (63 - fracBits);
        o.Exp = e - bias;
        return o;
    }

    // ---------------------------------------------------------------- rounding

    /// <summary>Direction decision for a discarded part: guard = its top bit, lower = anything below it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RoundsUp(FpRounding rm, bool sign, bool odd, bool guard, bool lower) => rm switch
    {
        FpRounding.Nearest => guard && (lower || odd),
        FpRounding.Up => !sign && (guard || lower),
        FpRounding.Down => sign && (guard || lower),
        _ => false,
    };

    /// <summary>Splits sig (plus sticky below it) at bit <paramref name="shift"/> (≥ 1): the kept part and the discarded guard / lower bits.</summary>
    private static ulong SplitAt(UInt128 sig, bool sticky, int shift, out bool guard, out bool lower)
    {
        if (shift < 128)
        {
            guard = ((sig >> (shift - 1)) & 1) != 0;
            lower = sticky || (sig & ((UInt128.One << (shift - 1)) - 1)) != 0;
            return (ulong)(sig >> shift);
        }
        if (shift == 128)
        {
            guard = (sig >> 127) != 0;
            lower = sticky || (sig << 1) != 0;
            return 0;
        }
        guard = false;
        lower = sticky || sig != 0;
        return 0;
    }

    /// <summary>
    /// The one round-and-pack routine. Value = (−1)^sign × sig × 2^(exp − 127) (+ a nonzero amount
    /// below sig's last bit when sticky). Rounds to <paramref name="p"/> significand bits within the
    /// exponent range [emin, emax]:
    /// - tininess is detected AFTER rounding, as "the result of rounding with unbounded exponent
    ///   (taking into account precision control for x87) is non-zero and tiny" (SDM Vol. 1, 4.9.1.5;
    ///   8.5.5 for the x87; 11.5.2.5 for SSE);
    /// - masked underflow: UE only when tiny and inexact, the denormalised result is returned;
    ///   unmasked: UE whenever tiny (SDM Vol. 1, 4.9.1.5);
    /// - unmasked OE/UE: PE only when rounding with unbounded exponent was inexact (SDM Vol. 1, 11.5.2.4);
    /// - SSE flush-to-zero (<paramref name="ftz"/>, UE masked): a tiny result becomes a zero of the
    ///   result's sign with UE and PE (SDM Vol. 1, 10.2.3.3);
    /// - masked overflow: OE and PE, ∞ or the largest finite value by rounding mode (SDM Vol. 1, Table 4-10);
    /// - <paramref name="x87Reg"/> (an x87 register destination) with OE/UE unmasked: the significand
    ///   is rounded normally and the exponent is biased by ∓24576; a result still out of range after
    ///   the adjustment (FSCALE only) becomes a signed ∞ or 0 (SDM Vol. 1, 8.5.4, 8.5.5).
    /// </summary>
    private static Rounded RoundCore(bool sign, int exp, UInt128 sig, bool sticky, int p, int emin, int emax,
        bool x87Reg, bool ftz, ref FpEnv env)
    {
        Rounded r = default;
        r.Sign = sign;
        if (sig == 0)
        {
            if (!sticky) { r.Kind = Kind.Zero; return r; }
            sig = 1; // a nonzero amount below the last bit: behaves as the smallest value there
        }
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        exp -= lz;

        // Rounding with unbounded exponent.
        ulong kept = SplitAt(sig, sticky, 128 - p, out bool guard, out bool lower);
        bool inexact = guard || lower;
        bool up = RoundsUp(env.Rounding, sign, (kept & 1) != 0, guard, lower);
        UInt128 rsWide = (UInt128)kept + (up ? 1u : 0u); // p may be 64: the carry needs a 65th bit
        int re = exp;
        if ((rsWide >> p) != 0) { rsWide >>= 1; re++; }
        ulong rs = (ulong)rsWide;

        if (re > emax)
        {
            bool toInf = env.Rounding == FpRounding.Nearest || (env.Rounding == FpRounding.Up && !sign) || (env.Rounding == FpRounding.Down && sign);
            if ((env.Masks & FpExceptions.Overflow) == 0)
            {
                // Unmasked: OE, and PE only if rounding with unbounded exponent lost accuracy (SDM
                // Vol. 1, 11.5.2.4 for SSE, 8.5.4 for the x87). A register destination of the x87
                // receives the bias-adjusted result; SSE and memory destinations stay unaltered (the
                // caller suppresses the write; the masked response is returned anyway).
                env.Flags |= FpExceptions.Overflow | (inexact ? FpExceptions.Precision : 0);
                if (x87Reg)
                {
                    if (up) env.RoundedUp = true;
                    re -= X87BiasAdjust;
                    if (re > emax) { r.Kind = Kind.Inf; return r; }
                    r.Kind = Kind.Finite; r.Exp = re; r.Sig = rs;
                    return r;
                }
            }
            else env.Flags |= FpExceptions.Overflow | FpExceptions.Precision;
            if (toInf) { env.RoundedUp = true; r.Kind = Kind.Inf; return r; }
            r.Kind = Kind.Finite; r.Exp = emax; r.Sig = p == 64 ? ulong.MaxValue : (1ul << p) - 1;
            return r;
        }
        if (re >= emin)
        {
            if (inexact) env.Flags |= FpExceptions.Precision;
            if (up) env.RoundedUp = true;
            r.Kind = Kind.Finite; r.Exp = re; r.Sig = rs;
            return r;
        }

        // Tiny.
        bool ueMasked = (env.Masks & FpExceptions.Underflow) != 0;
        if (!ueMasked)
        {
            // Unmasked: UE for any tiny result, PE only if rounding with unbounded exponent lost
            // accuracy (SDM Vol. 1, 4.9.1.5, 11.5.2.5, 8.5.5); FTZ does not apply. The x87 register
            // destination receives the bias-adjusted result (a result still tiny after the bias,
            // possible with FSCALE only, becomes a signed zero).
            env.Flags |= FpExceptions.Underflow | (inexact ? FpExceptions.Precision : 0);
            if (x87Reg)
            {
                if (up) env.RoundedUp = true;
                re += X87BiasAdjust;
                if (re < emin) { r.Kind = Kind.Zero; return r; }
                r.Kind = Kind.Finite; r.Exp = re; r.Sig = rs;
                return r;
            }
        }
        else if (ftz)
        {
            env.Flags |= FpExceptions.Underflow | FpExceptions.Precision;
            r.Kind = Kind.Zero;
            return r;
        }
        // Denormalise: the last kept bit has weight 2^(emin − p + 1).
        ulong dk = SplitAt(sig, sticky, 128 - p + (emin - exp), out bool dg, out bool dl);
        bool dInexact = dg || dl;
        bool dUp = RoundsUp(env.Rounding, sign, (dk & 1) != 0, dg, dl);
        ulong ds = dk + (dUp ? 1ul : 0ul);
        if (ueMasked && dInexact) env.Flags |= FpExceptions.Underflow | FpExceptions.Precision;
        if (dUp) env.RoundedUp = true;
        if (ds == 0) { r.Kind = Kind.Zero; return r; }
        r.Kind = Kind.Finite; r.Exp = emin; r.Sig = ds;
        return r;
    }

    private static Float80 Pack80(in Rounded r, int p)
    {
        ushort s = r.Sign ? (ushort)0x8000 : (ushort)0;
        switch (r.Kind)
        {
            case Kind.Zero: return new Float80(0, s);
            case Kind.Inf: return new Float80(0x8000_0000_0000_0000, (ushort)(s | 0x7FFF));
        }
        ulong sig = r.Sig << (64 - p);
        int field = (sig >> 63) != 0 ? r.Exp + Float80.Bias : 0;
        return new Float80(sig, (ushort)(s | field));
    }

    private static ulong PackBin(in Rounded r, bool dbl)
    {
        int fracBits = dbl ? 52 : 23, bias = dbl ? 1023 : 127;
        ulong sign = r.Sign ? 1ul << (dbl ? 63 : 31) : 0;
        ulong expAll = dbl ? 0x7FFul : 0xFFul;
        switch (r.Kind)
        {
            case Kind.Zero: return sign;
            case Kind.Inf: return sign | (expAll << fracBits);
        }
        ulong field = (r.Sig >> fracBits) != 0 ? (ulong)(r.Exp + bias) : 0;
        return sign | (field << fracBits) | (r.Sig & ((1ul << fracBits) - 1));
    }

    /// <summary>Rounds an unpacked finite operand (exactly Sig × 2^(Exp − 63)) into a format.</summary>
    private static Rounded RoundOp(in Op o, int p, int emin, int emax, bool x87Reg, bool ftz, ref FpEnv env)
        => RoundCore(o.Sign, o.Exp, (UInt128)o.Sig << 64, false, p, emin, emax, x87Reg, ftz, ref env);

    // ---------------------------------------------------------------- exact kernels (finite or zero operands)

    /// <summary>a + b (b's sign already reflects a subtraction), both Zero or Finite.</summary>
    private static Rounded AddCore(Op a, Op b, int p, int emin, int emax, bool x87Reg, bool ftz, ref FpEnv env)
    {
        if (a.Kind == Kind.Zero && b.Kind == Kind.Zero)
        {
            // IEEE 754 6.3 / SDM Vol. 1, 4.8.3.1: (+0) + (−0) is +0, or −0 when rounding down.
            Rounded z = default;
            z.Kind = Kind.Zero;
            z.Sign = a.Sign == b.Sign ? a.Sign : env.Rounding == FpRounding.Down;
            return z;
        }
        if (a.Kind == Kind.Zero) return RoundOp(b, p, emin, emax, x87Reg, ftz, ref env);
        if (b.Kind == Kind.Zero) return RoundOp(a, p, emin, emax, x87Reg, ftz, ref env);
        if (b.Exp > a.Exp || (b.Exp == a.Exp && b.Sig > a.Sig)) (a, b) = (b, a);
        int d = a.Exp - b.Exp;
        UInt128 A = (UInt128)a.Sig << 63, B = (UInt128)b.Sig << 63;
        if (d > 0)
        {
            // Shift right, jamming lost bits into bit 0: A's low 63 bits are zero, so bit 0 of the
            // difference or sum is then nonzero exactly when the true result has bits below it.
            if (d < 127) { bool lost = (B & ((UInt128.One << d) - 1)) != 0; B = (B >> d) | (lost ? UInt128.One : UInt128.Zero); }
            else B = 1;
        }
        UInt128 S;
        if (a.Sign == b.Sign) S = A + B;
        else
        {
            S = A - B;
            if (S == 0)
            {
                // x − x = +0 in every rounding mode except toward −∞ (IEEE 754 6.3).
                Rounded z = default;
                z.Kind = Kind.Zero;
                z.Sign = env.Rounding == FpRounding.Down;
                return z;
            }
        }
        return RoundCore(a.Sign, a.Exp + 1, S, false, p, emin, emax, x87Reg, ftz, ref env);
    }

    private static Rounded MulCore(in Op a, in Op b, int p, int emin, int emax, bool x87Reg, bool ftz, ref FpEnv env)
    {
        bool sign = a.Sign ^ b.Sign;
        if (a.Kind == Kind.Zero || b.Kind == Kind.Zero) { Rounded z = default; z.Kind = Kind.Zero; z.Sign = sign; return z; }
        UInt128 prod = (UInt128)a.Sig * b.Sig;
        return RoundCore(sign, a.Exp + b.Exp + 1, prod, false, p, emin, emax, x87Reg, ftz, ref env);
    }

    /// <summary>a / b with b finite nonzero.</summary>
    private static Rounded DivCore(in Op a, in Op b, int p, int emin, int emax, bool x87Reg, bool ftz, ref FpEnv env)
    {
        bool sign = a.Sign ^ b.Sign;
        if (a.Kind == Kind.Zero) { Rounded z = default; z.Kind = Kind.Zero; z.Sign = sign; return z; }
        // 128 quotient bits in two long-division steps, the final remainder as sticky.
        UInt128 n1 = (UInt128)a.Sig << 63;
        UInt128 q1 = n1 / b.Sig;
        UInt128 r1 = n1 - q1 * b.Sig;
        UInt128 n2 = r1 << 64;
        UInt128 q2 = n2 / b.Sig;
        UInt128 r2 = n2 - q2 * b.Sig;
        UInt128 q = (q1 << 64) | q2;
        return RoundCore(sign, a.Exp - b.Exp, q, r2 != 0, p, emin, emax, x87Reg, ftz, ref env);
    }

    /// <summary>√a for a finite positive (or zero: the zero is returned with its sign, √−0 = −0).</summary>
    private static Rounded SqrtCore(in Op a, int p, int emin, int emax, bool x87Reg, bool ftz, ref FpEnv env)
    {
        if (a.Kind == Kind.Zero) { Rounded z = default; z.Kind = Kind.Zero; z.Sign = a.Sign; return z; }
        // Radicand = Sig × 2^s with s making the exponent even; 66 root bits, digit by digit, the
        // final remainder as sticky.
        const int K = 66;
        int s = (a.Exp & 1) == 0 ? 2 * K - 2 - 63 : 2 * K - 1 - 63;
        UInt128 rem = 0, root = 0;
        for (int i = K - 1; i >= 0; i--)
        {
            int j = 2 * i;
            uint two = (RadicandBit(a.Sig, s, j + 1) << 1) | RadicandBit(a.Sig, s, j);
            rem = (rem << 2) | two;
            UInt128 trial = (root << 2) | 1;
            if (rem >= trial) { rem -= trial; root = (root << 1) | 1; }
            else root <<= 1;
        }
        return RoundCore(false, (a.Exp >> 1) + 62, root, rem != 0, p, emin, emax, x87Reg, ftz, ref env);
    }

    private static uint RadicandBit(ulong sig, int s, int j)
    {
        int k = j - s;
        return (uint)(k is >= 0 and < 64 ? (sig >> k) & 1 : 0);
    }

    /// <summary>Magnitude comparison of Zero/Finite/Inf operands.</summary>
    private static int CompareMag(in Op a, in Op b)
    {
        int ra = a.Kind == Kind.Zero ? 0 : a.Kind == Kind.Inf ? 2 : 1;
        int rb = b.Kind == Kind.Zero ? 0 : b.Kind == Kind.Inf ? 2 : 1;
        if (ra != rb) return ra < rb ? -1 : 1;
        if (ra != 1) return 0;
        if (a.Exp != b.Exp) return a.Exp < b.Exp ? -1 : 1;
        return a.Sig == b.Sig ? 0 : a.Sig < b.Sig ? -1 : 1;
    }

    private static FpCompare CompareOrdered(in Op a, in Op b)
    {
        // +0 = −0: zeros carry no sign for ordering.
        int sa = a.Kind == Kind.Zero ? 0 : a.Sign ? -1 : 1;
        int sb = b.Kind == Kind.Zero ? 0 : b.Sign ? -1 : 1;
        if (sa != sb) return sa < sb ? FpCompare.Less : FpCompare.Greater;
        if (sa == 0) return FpCompare.Equal;
        int m = CompareMag(a, b);
        if (sa < 0) m = -m;
        return m < 0 ? FpCompare.Less : m > 0 ? FpCompare.Greater : FpCompare.Equal;
    }

    /// <summary>
    /// Rounds a finite value to an integer magnitude with <paramref name="rm"/>; overflow (a magnitude
    /// above 2^64 − 1) is reported through the return value.
    /// </summary>
    private static bool RoundToIntMag(in Op a, FpRounding rm, out ulong mag, out bool inexact, out bool up)
    {
        up = false;
        if (a.Exp >= 63)
        {
            inexact = false;
            if (a.Exp > 63) { mag = 0; return false; }
            mag = a.Sig;
            return true;
        }
        int shift = 63 - a.Exp + 64;
        ulong kept = SplitAt((UInt128)a.Sig << 64, false, shift, out bool guard, out bool lower);
        inexact = guard || lower;
        up = RoundsUp(rm, a.Sign, (kept & 1) != 0, guard, lower);
        mag = kept + (up ? 1ul : 0ul); // kept < 2^63: no wrap
        return true;
    }
}
