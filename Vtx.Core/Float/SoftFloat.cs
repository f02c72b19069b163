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
/// unmasked exception suppresses the write.
/// </remarks>
public static partial class SoftFloat
{
    // Bodies: Vtx.Core/Float/SoftFloat.*.cs (the implementation files).
}
