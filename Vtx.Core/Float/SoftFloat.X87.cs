namespace Vtx.Float;

/// <summary>The class of an 80-bit value as FXAM reports it (SDM Vol. 2 FXAM, Table 3-xx "FXAM Results").</summary>
public enum X87Class
{
    /// <summary>Unsupported encoding (unnormal, pseudo-NaN, pseudo-infinity; SDM Vol. 1, 8.2.2).</summary>
    Unsupported,
    /// <summary>NaN (quiet or signaling).</summary>
    NaN,
    /// <summary>Normal finite number.</summary>
    Normal,
    /// <summary>Infinity.</summary>
    Infinity,
    /// <summary>Zero.</summary>
    Zero,
    /// <summary>Denormal (including pseudo-denormals).</summary>
    Denormal,
}

public static partial class SoftFloat
{
    /// <summary>FRNDINT: rounds to an integral value with env.Rounding (SDM Vol. 2 FRNDINT); PE when inexact.</summary>
    public static Float80 RoundToIntegral80(Float80 a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>FSCALE: a × 2^trunc(b) (SDM Vol. 2 FSCALE, including its table of special cases).</summary>
    public static Float80 Scale80(Float80 a, Float80 b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// FXTRACT: splits a into its unbiased exponent and its significand with exponent 0 (SDM Vol. 2
    /// FXTRACT); a zero gives ZE, exponent −∞ and significand the zero.
    /// </summary>
    public static void Extract80(Float80 a, out Float80 exponent, out Float80 significand, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// FPREM (<paramref name="ieee"/> false: truncated quotient) and FPREM1 (true: quotient rounded to
    /// nearest) partial remainder of a / b (SDM Vol. 2 FPREM, FPREM1): the quotient's three low bits
    /// (C0, C3, C1) and whether the reduction is incomplete (C2).
    /// </summary>
    public static Float80 Remainder80(Float80 a, Float80 b, bool ieee, out int quotientLow3, out bool incomplete, ref FpEnv env)
        => throw new NotImplementedException();

    /// <summary>FXAM classification of an 80-bit value (SDM Vol. 2 FXAM).</summary>
    public static X87Class Classify80(Float80 a) => throw new NotImplementedException();
}
