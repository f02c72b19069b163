namespace Vtx.Float;

/// <summary>The class of an 80-bit value as FXAM reports it in C3, C2, C0 (SDM Vol. 2 FXAM, "FXAM Results").</summary>
public enum X87Class
{
    /// <summary>Unsupported encoding (unnormal, pseudo-NaN, pseudo-infinity; SDM Vol. 1, 8.2.2): C3,C2,C0 = 000.</summary>
    Unsupported,
    /// <summary>NaN (quiet or signaling): 001.</summary>
    NaN,
    /// <summary>Normal finite number: 010.</summary>
    Normal,
    /// <summary>Infinity: 011.</summary>
    Infinity,
    /// <summary>Zero: 100.</summary>
    Zero,
    /// <summary>Denormal, including pseudo-denormals: 110.</summary>
    Denormal,
}

// x87-only operations: FRNDINT, FSCALE, FXTRACT, FPREM/FPREM1, FXAM. None of them is affected by
// precision control (SDM Vol. 1, 8.1.5.2 lists only FADD/FSUB/FMUL/FDIV/FSQRT and their forms).
public static partial class SoftFloat
{
    /// <summary>FRNDINT: rounds to an integral value with env.Rounding (SDM Vol. 2 FRNDINT); PE when inexact, DE for a denormal.</summary>
    public static Float80 RoundToIntegral80(Float80 a, ref FpEnv env)
    {
        Op o = Unpack80(a);
        switch (o.Kind)
        {
            case Kind.Unsupported: return Invalid80(ref env);
            case Kind.QNaN:
            case Kind.SNaN: return PropagateNaN80(a, a, o, o, ref env);
            case Kind.Zero:
            case Kind.Inf: return a;
        }
        if (o.Denormal) env.Flags |= FpExceptions.Denormal;
        if (o.Exp >= 63) return a; // no fraction bits
        RoundToIntMag(o, env.Rounding, out ulong mag, out bool inexact, out bool up);
        if (inexact) env.Flags |= FpExceptions.Precision;
        if (up) env.RoundedUp = true;
        if (mag == 0) return new Float80(0, (ushort)(o.Sign ? 0x8000 : 0));
        int lz = System.Numerics.BitOperations.LeadingZeroCount(mag);
        return new Float80(mag << lz, (ushort)((o.Sign ? 0x8000 : 0) | (Float80.Bias + 63 - lz)));
    }

    /// <summary>
    /// FSCALE: a × 2^trunc(b) (SDM Vol. 2 FSCALE, including its table of special cases: −∞ scale of
    /// ±∞ and +∞ scale of ±0 are invalid; a −∞ scale gives a signed zero, +∞ a signed ∞).
    /// </summary>
    public static Float80 Scale80(Float80 a, Float80 b, ref FpEnv env)
    {
        Op ua = Unpack80(a), ub = Unpack80(b);
        if (ua.Kind == Kind.Unsupported || ub.Kind == Kind.Unsupported) return Invalid80(ref env);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaN80(a, b, ua, ub, ref env);
        if (ua.Kind == Kind.Inf)
        {
            if (ub.Kind == Kind.Inf && ub.Sign) return Invalid80(ref env);
            if (ub.Denormal) env.Flags |= FpExceptions.Denormal;
            return a;
        }
        if (ub.Kind == Kind.Inf)
        {
            if (ua.Kind == Kind.Zero)
            {
                if (!ub.Sign) return Invalid80(ref env);
                return a;
            }
            if (ua.Denormal) env.Flags |= FpExceptions.Denormal;
            return ub.Sign ? new Float80(0, (ushort)(ua.Sign ? 0x8000 : 0)) : Inf80(ua.Sign);
        }
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        if (ua.Kind == Kind.Zero) return a;
        int scale = 0;
        if (ub.Kind == Kind.Finite && ub.Exp >= 0)
        {
            // trunc(b); beyond 2^16 every result overflows or underflows even after the ±24576 bias,
            // so the scale saturates there.
            scale = ub.Exp >= 16 ? 1 << 16 : (int)(ub.Sig >> (63 - ub.Exp));
            if (ub.Sign) scale = -scale;
        }
        Rounded r = RoundCore(ua.Sign, ua.Exp + scale, (UInt128)ua.Sig << 64, false, 64, Emin80, Emax80, true, false, ref env);
        return Pack80(r, 64);
    }

    /// <summary>
    /// FXTRACT: splits a into its unbiased exponent and its significand with exponent 0 (SDM Vol. 2
    /// FXTRACT); a zero gives ZE, exponent −∞ and significand the zero; ∞ gives exponent +∞ and
    /// significand the ∞; a NaN gives the (quieted) NaN in both.
    /// </summary>
    public static void Extract80(Float80 a, out Float80 exponent, out Float80 significand, ref FpEnv env)
    {
        Op o = Unpack80(a);
        switch (o.Kind)
        {
            case Kind.Unsupported:
                exponent = significand = Invalid80(ref env);
                return;
            case Kind.QNaN:
            case Kind.SNaN:
                exponent = significand = PropagateNaN80(a, a, o, o, ref env);
                return;
            case Kind.Zero:
                env.Flags |= FpExceptions.ZeroDivide;
                exponent = Inf80(true);
                significand = a;
                return;
            case Kind.Inf:
                exponent = Inf80(false);
                significand = a;
                return;
        }
        if (o.Denormal) env.Flags |= FpExceptions.Denormal;
        exponent = I64ToF80(o.Exp);
        significand = new Float80(o.Sig, (ushort)((o.Sign ? 0x8000 : 0) | Float80.Bias));
    }

    /// <summary>
    /// FPREM (<paramref name="ieee"/> false: quotient truncated toward zero) and FPREM1 (true: quotient
    /// rounded to nearest even) partial remainder of a / b (SDM Vol. 2 FPREM, FPREM1). When the exponent
    /// difference D is below 64 the remainder is exact and complete, with the quotient's three low bits
    /// (Q2..Q0 for C0, C3, C1). Otherwise the reduction is partial (C2 = 1, quotient bits 0): the SDM
    /// leaves N "implementation-dependent between 32 and 63"; Vtx uses N = 32 + (D mod 32), the value
    /// AMD documents and QEMU and Bochs use, so a − b × trunc(a/b / 2^(D−N)) × 2^(D−N) is returned.
    /// </summary>
    public static Float80 Remainder80(Float80 a, Float80 b, bool ieee, out int quotientLow3, out bool incomplete, ref FpEnv env)
    {
        quotientLow3 = 0;
        incomplete = false;
        Op ua = Unpack80(a), ub = Unpack80(b);
        if (ua.Kind == Kind.Unsupported || ub.Kind == Kind.Unsupported) return Invalid80(ref env);
        if (ua.IsNaN || ub.IsNaN) return PropagateNaN80(a, b, ua, ub, ref env);
        if (ua.Kind == Kind.Inf || ub.Kind == Kind.Zero) return Invalid80(ref env);
        if (ua.Denormal || ub.Denormal) env.Flags |= FpExceptions.Denormal;
        if (ua.Kind == Kind.Zero) return a;
        if (ub.Kind == Kind.Inf) return Pack80(RoundOp(ua, 64, Emin80, Emax80, true, false, ref env), 64);

        int d = ua.Exp - ub.Exp;
        bool sign = ua.Sign;
        if (d >= 64)
        {
            int n = 32 + (d & 31);
            // The top n quotient bits: (SigA × 2^n) / SigB, remainder weighted 2^(ExpA − n − 63).
            UInt128 num = (UInt128)ua.Sig << n;
            UInt128 rem = num % ub.Sig;
            incomplete = true;
            return Pack80(RoundCore(sign, ua.Exp - n - 63 + 127, rem, false, 64, Emin80, Emax80, true, false, ref env), 64);
        }
        if (d < -1) return Pack80(RoundOp(ua, 64, Emin80, Emax80, true, false, ref env), 64); // |a| < |b|/2: quotient 0
        // Common scale 2^(min(ExpA, ExpB) − 63).
        UInt128 A = d >= 0 ? (UInt128)ua.Sig << d : ua.Sig;
        UInt128 B = d >= 0 ? ub.Sig : (UInt128)ub.Sig << 1;
        int scaleExp = Math.Min(ua.Exp, ub.Exp);
        UInt128 q = A / B;
        UInt128 r = A - q * B;
        if (ieee)
        {
            UInt128 twice = r << 1;
            if (twice > B || (twice == B && (q & 1) != 0))
            {
                q++;
                r = B - r;
                sign = !sign;
            }
        }
        quotientLow3 = (int)(q & 7);
        if (r == 0) return new Float80(0, (ushort)(ua.Sign ? 0x8000 : 0)); // a zero remainder has the dividend's sign
        return Pack80(RoundCore(sign, scaleExp - 63 + 127, r, false, 64, Emin80, Emax80, true, false, ref env), 64);
    }

    /// <summary>FXAM classification of an 80-bit value (SDM Vol. 2 FXAM); the sign goes to C1 separately.</summary>
    public static X87Class Classify80(Float80 a)
    {
        int e = a.Exponent;
        ulong s = a.Significand;
        if (e == 0) return s == 0 ? X87Class.Zero : X87Class.Denormal;
        if ((s >> 63) == 0) return X87Class.Unsupported;
        if (e == 0x7FFF) return (s << 1) == 0 ? X87Class.Infinity : X87Class.NaN;
        return X87Class.Normal;
    }
}
