namespace Vtx.Float;

/// <summary>
/// Bit-exact IEEE 754 binary32/binary64 arithmetic as SSE performs it, and x87 double-extended
/// arithmetic, in software: every result, NaN choice and exception flag follows the Intel SDM
/// (Vol. 1, chapters 4, 8 and 11), for every rounding mode, precision control, FTZ/DAZ setting and
/// exception mask, independent of the host's floating-point state.
/// </summary>
/// <remarks>
/// binary32 values travel as <see cref="uint"/>, binary64 as <see cref="ulong"/>, double-extended as
/// <see cref="Float80"/>. Binary32/64 operations follow the SSE rules (NaN operands: the first
/// source's NaN, quieted, wins; DAZ/FTZ; underflow reported for tiny results when unmasked, for tiny
/// and inexact ones when masked). 80-bit operations follow the x87 rules (NaN selection by the larger
/// significand, unsupported encodings are invalid, precision control rounds the significand only,
/// unmasked overflow/underflow deliver the bias-adjusted result). Flags are OR-ed into
/// <see cref="FpEnv.Flags"/>; a masked response is always returned — the caller decides whether an
/// unmasked exception suppresses the write. <see cref="FpEnv.RoundedUp"/> reports a magnitude
/// rounded up (x87 C1).
/// <para>Decisions, with their sources: tininess is detected after rounding, for SSE and x87 alike
/// (SDM Vol. 1, 4.9.1.5: "the result of rounding with unbounded exponent (taking into account
/// precision control for x87) is non-zero and tiny"); with OE or UE unmasked, PE is set only if that
/// unbounded-exponent rounding was inexact (SDM Vol. 1, 11.5.2.4); a NaN operand takes precedence over
/// DE (exception priority, SDM Vol. 1, 4.9.2), other special cases raise DE for a denormal operand;
/// conversions to integers (CVT(T)SS2SI..., FIST) and FST m32/m64 raise no DE (their SDM pages
/// list none); FPREM/FPREM1 reduce an exponent difference D ≥ 64 by N = 32 + (D mod 32) (the SDM says
/// "implementation-dependent, 32..63"; AMD's value) and report quotient bits 0 for a partial result.</para>
/// </remarks>
public static partial class SoftFloat
{
    // Bodies: Vtx.Core/Float/SoftFloat.*.cs (the implementation files).
}
