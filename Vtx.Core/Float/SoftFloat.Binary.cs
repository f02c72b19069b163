namespace Vtx.Float;

public static partial class SoftFloat
{
    /// <summary>binary32 addition as ADDSS performs it (SDM Vol. 1, 11.5; Vol. 2 ADDSS).</summary>
    public static uint Add32(uint a, uint b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 subtraction a − b as SUBSS performs it (SDM Vol. 2 SUBSS).</summary>
    public static uint Sub32(uint a, uint b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 multiplication as MULSS performs it (SDM Vol. 2 MULSS).</summary>
    public static uint Mul32(uint a, uint b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 division a / b as DIVSS performs it (SDM Vol. 2 DIVSS).</summary>
    public static uint Div32(uint a, uint b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 square root as SQRTSS performs it (SDM Vol. 2 SQRTSS).</summary>
    public static uint Sqrt32(uint a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 addition as ADDSD performs it (SDM Vol. 1, 11.5; Vol. 2 ADDSD).</summary>
    public static ulong Add64(ulong a, ulong b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 subtraction a − b as SUBSD performs it (SDM Vol. 2 SUBSD).</summary>
    public static ulong Sub64(ulong a, ulong b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 multiplication as MULSD performs it (SDM Vol. 2 MULSD).</summary>
    public static ulong Mul64(ulong a, ulong b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 division a / b as DIVSD performs it (SDM Vol. 2 DIVSD).</summary>
    public static ulong Div64(ulong a, ulong b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 square root as SQRTSD performs it (SDM Vol. 2 SQRTSD).</summary>
    public static ulong Sqrt64(ulong a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// binary32 comparison as (U)COMISS / CMPSS evaluate it (SDM Vol. 2 COMISS, UCOMISS): quiet
    /// raises IE only for an SNaN operand, !quiet for any NaN; DE for a denormal operand unless DAZ.
    /// </summary>
    public static FpCompare Compare32(uint a, uint b, bool quiet, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 comparison as (U)COMISD / CMPSD evaluate it; see <see cref="Compare32"/>.</summary>
    public static FpCompare Compare64(ulong a, ulong b, bool quiet, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 → binary64 as CVTSS2SD performs it (exact; SNaN quieted with IE; DE unless DAZ).</summary>
    public static ulong F32ToF64(uint a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 → binary32 as CVTSD2SS performs it (rounded by MXCSR.RC; FTZ/DAZ apply).</summary>
    public static uint F64ToF32(ulong a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>int32 → binary32 as CVTSI2SS performs it (rounded, PE when inexact).</summary>
    public static uint I32ToF32(int a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>int64 → binary32 as CVTSI2SS with REX.W performs it.</summary>
    public static uint I64ToF32(long a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>int32 → binary64 as CVTSI2SD performs it (always exact).</summary>
    public static ulong I32ToF64(int a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>int64 → binary64 as CVTSI2SD with REX.W performs it.</summary>
    public static ulong I64ToF64(long a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// binary32 → int32 as CVTSS2SI (rounded by env.Rounding) or CVTTSS2SI (<paramref name="truncate"/>)
    /// performs it: NaN or out of range → integer indefinite 8000_0000h with IE (SDM Vol. 1, 4.8.3.3).
    /// </summary>
    public static int F32ToI32(uint a, bool truncate, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 → int64 (CVT(T)SS2SI with REX.W); invalid → 8000_0000_0000_0000h with IE.</summary>
    public static long F32ToI64(uint a, bool truncate, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 → int32 (CVT(T)SD2SI); invalid → 8000_0000h with IE.</summary>
    public static int F64ToI32(ulong a, bool truncate, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 → int64 (CVT(T)SD2SI with REX.W); invalid → 8000_0000_0000_0000h with IE.</summary>
    public static long F64ToI64(ulong a, bool truncate, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// binary32 round to integral value as ROUNDSS performs it (SDM Vol. 2 ROUNDSS): rounded with
    /// <paramref name="mode"/>; PE unless <paramref name="suppressPrecision"/> (imm8 bit 3); SNaN → QNaN with IE.
    /// </summary>
    public static uint RoundInt32(uint a, FpRounding mode, bool suppressPrecision, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 round to integral value as ROUNDSD performs it; see <see cref="RoundInt32"/>.</summary>
    public static ulong RoundInt64(ulong a, FpRounding mode, bool suppressPrecision, ref FpEnv env) => throw new NotImplementedException();
}
