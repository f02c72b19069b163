namespace Vtx.Float;

public static partial class SoftFloat
{
    /// <summary>
    /// Rounds and packs an exact intermediate into a double-extended register value: value =
    /// (−1)^sign × significand × 2^(exponent − 127), i.e. <paramref name="exponent"/> is the unbiased
    /// exponent of significand bit 127; the significand need not be normalised and
    /// <paramref name="sticky"/> says that nonzero bits lie below it. Rounds the significand to
    /// <paramref name="precision"/> (24/53/64 bits, x87 precision control, SDM Vol. 1, 8.1.5.2) with
    /// env.Rounding, keeps the 15-bit exponent range, raises PE/OE/UE, delivers denormal results, and
    /// for unmasked OE/UE the bias-adjusted result (SDM Vol. 1, 8.5.4, 8.5.5).
    /// </summary>
    internal static Float80 RoundPack80(bool sign, int exponent, UInt128 significand, bool sticky, FpPrecision precision, ref FpEnv env)
        => throw new NotImplementedException();

    /// <summary>x87 addition (FADD; SDM Vol. 2 FADD/FADDP/FIADD), precision control applies.</summary>
    public static Float80 Add80(Float80 a, Float80 b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>x87 subtraction a − b (FSUB; SDM Vol. 2 FSUB/FSUBP/FISUB), precision control applies.</summary>
    public static Float80 Sub80(Float80 a, Float80 b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>x87 multiplication (FMUL; SDM Vol. 2 FMUL/FMULP/FIMUL), precision control applies.</summary>
    public static Float80 Mul80(Float80 a, Float80 b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>x87 division a / b (FDIV; SDM Vol. 2 FDIV/FDIVP/FIDIV), precision control applies.</summary>
    public static Float80 Div80(Float80 a, Float80 b, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>x87 square root (FSQRT; SDM Vol. 2 FSQRT), precision control applies; √−0 = −0.</summary>
    public static Float80 Sqrt80(Float80 a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// x87 comparison (FCOM/FUCOM/FCOMI/FUCOMI; SDM Vol. 2): quiet (FUCOM) raises IE only for SNaN and
    /// unsupported operands, !quiet for any NaN; DE for denormal operands.
    /// </summary>
    public static FpCompare Compare80(Float80 a, Float80 b, bool quiet, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary32 → double extended (FLD m32fp): exact; SNaN → QNaN with IE; DE for denormals.</summary>
    public static Float80 F32ToF80(uint a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>binary64 → double extended (FLD m64fp): exact; SNaN → QNaN with IE; DE for denormals.</summary>
    public static Float80 F64ToF80(ulong a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>
    /// double extended → binary32 (FST m32fp; SDM Vol. 2 FST): rounded by env.Rounding; the masked
    /// response is always returned (an unmasked exception suppresses the store in the caller).
    /// </summary>
    public static uint F80ToF32(Float80 a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>double extended → binary64 (FST m64fp); see <see cref="F80ToF32"/>.</summary>
    public static ulong F80ToF64(Float80 a, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>int64 → double extended (FILD): always exact.</summary>
    public static Float80 I64ToF80(long a) => throw new NotImplementedException();

    /// <summary>
    /// double extended → int64 (FIST/FISTP m64int, FISTTP with <paramref name="truncate"/>; SDM Vol. 2):
    /// NaN, unsupported or out of range → integer indefinite with IE.
    /// </summary>
    public static long F80ToI64(Float80 a, bool truncate, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>double extended → int32 (FIST m32int); see <see cref="F80ToI64"/>.</summary>
    public static int F80ToI32(Float80 a, bool truncate, ref FpEnv env) => throw new NotImplementedException();

    /// <summary>double extended → int16 (FIST m16int); see <see cref="F80ToI64"/>.</summary>
    public static short F80ToI16(Float80 a, bool truncate, ref FpEnv env) => throw new NotImplementedException();
}
