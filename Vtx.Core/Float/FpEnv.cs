namespace Vtx.Float;

/// <summary>
/// Floating-point exception flags, in the bit positions the x87 status word (bits 5:0) and MXCSR
/// (bits 5:0) share (SDM Vol. 1, 4.9 and 8.1.3.1).
/// </summary>
[Flags]
public enum FpExceptions : byte
{
    /// <summary>No exception.</summary>
    None = 0,
    /// <summary>#I invalid operation (IE).</summary>
    Invalid = 1,
    /// <summary>#D denormal operand (DE).</summary>
    Denormal = 2,
    /// <summary>#Z divide by zero (ZE).</summary>
    ZeroDivide = 4,
    /// <summary>#O numeric overflow (OE).</summary>
    Overflow = 8,
    /// <summary>#U numeric underflow (UE).</summary>
    Underflow = 16,
    /// <summary>#P inexact result, precision (PE).</summary>
    Precision = 32,
    /// <summary>All six.</summary>
    All = 63,
}

/// <summary>Rounding control, encoded as in FCW.RC and MXCSR.RC (SDM Vol. 1, Table 4-8).</summary>
public enum FpRounding : byte
{
    /// <summary>Round to nearest, ties to even.</summary>
    Nearest = 0,
    /// <summary>Round down, toward −∞.</summary>
    Down = 1,
    /// <summary>Round up, toward +∞.</summary>
    Up = 2,
    /// <summary>Round toward zero (truncate).</summary>
    TowardZero = 3,
}

/// <summary>x87 precision control, encoded as in FCW.PC (SDM Vol. 1, 8.1.5.2); value 1 is reserved.</summary>
public enum FpPrecision : byte
{
    /// <summary>24-bit significand.</summary>
    Single = 0,
    /// <summary>53-bit significand.</summary>
    Double = 2,
    /// <summary>64-bit significand (the default after FNINIT).</summary>
    Extended = 3,
}

/// <summary>Outcome of a floating-point comparison.</summary>
public enum FpCompare : byte
{
    /// <summary>a &lt; b.</summary>
    Less,
    /// <summary>a = b (including +0 = −0).</summary>
    Equal,
    /// <summary>a &gt; b.</summary>
    Greater,
    /// <summary>At least one operand is a NaN (or, for 80-bit operands, an unsupported format).</summary>
    Unordered,
}

/// <summary>
/// The environment of soft-float operations: rounding and precision control, the SSE flush-to-zero
/// and denormals-are-zero modes, which exceptions are masked (masking changes results: masked
/// responses, SSE underflow reporting, x87 bias-adjusted results), and the flags the operations
/// raised (OR-ed in; the caller merges them into FSW or MXCSR, or raises #MF/#XM).
/// </summary>
public struct FpEnv
{
    /// <summary>Rounding mode.</summary>
    public FpRounding Rounding;
    /// <summary>x87 precision control for 80-bit operations (ignored by binary32/binary64 operations).</summary>
    public FpPrecision Precision;
    /// <summary>MXCSR.FZ: with underflow masked, tiny results become zero (binary32/binary64 only).</summary>
    public bool FlushToZero;
    /// <summary>MXCSR.DAZ: denormal operands are treated as zero of the same sign (binary32/binary64 only).</summary>
    public bool DenormalsAreZero;
    /// <summary>The masked exceptions.</summary>
    public FpExceptions Masks;
    /// <summary>The exceptions raised so far.</summary>
    public FpExceptions Flags;
    /// <summary>
    /// Set (never cleared) by an operation whose inexact result was rounded up in magnitude: the x87
    /// C1 "round-up" bit after a #P (SDM Vol. 1, 8.1.3.1, 8.5.4).
    /// </summary>
    public bool RoundedUp;

    /// <summary>The environment MXCSR describes (flags start empty).</summary>
    public static FpEnv FromMxcsr(uint mxcsr) => new()
    {
        Rounding = (FpRounding)((mxcsr >> 13) & 3),
        Precision = FpPrecision.Extended,
        FlushToZero = (mxcsr & 0x8000) != 0,
        DenormalsAreZero = (mxcsr & 0x40) != 0,
        Masks = (FpExceptions)((mxcsr >> 7) & 0x3F),
    };

    /// <summary>The environment an x87 control word describes (flags start empty); the reserved PC value 1 acts as 24-bit... see remarks.</summary>
    /// <remarks>PC = 01b is reserved (SDM Vol. 1, Table 8-2); Vtx treats it as single precision, like PC = 00b... (decided by the x87 implementation).</remarks>
    public static FpEnv FromX87ControlWord(ushort fcw) => new()
    {
        Rounding = (FpRounding)((fcw >> 10) & 3),
        Precision = ((fcw >> 8) & 3) switch { 2 => FpPrecision.Double, 3 => FpPrecision.Extended, _ => FpPrecision.Single },
        Masks = (FpExceptions)(fcw & 0x3F),
    };

    /// <summary>True when any raised flag is unmasked.</summary>
    public readonly bool HasUnmasked => (Flags & ~Masks & FpExceptions.All) != 0;
}
