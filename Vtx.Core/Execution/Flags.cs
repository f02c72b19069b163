using System.Numerics;
using System.Runtime.CompilerServices;

namespace Vtx.Execution;

/// <summary>
/// What produced the arithmetic status flags (CF, PF, AF, ZF, SF, OF) when they are held lazily:
/// instructions record their inputs and result, and a flag is computed only when something reads it.
/// </summary>
internal enum FlagOp : byte
{
    /// <summary>Flags are materialized in the RFLAGS image.</summary>
    None = 0,
    /// <summary>ADD: result = dst + src.</summary>
    Add,
    /// <summary>ADC: result = dst + src + aux (carry-in 0/1).</summary>
    Adc,
    /// <summary>SUB/CMP/NEG: result = dst - src.</summary>
    Sub,
    /// <summary>SBB: result = dst - src - aux (borrow-in 0/1).</summary>
    Sbb,
    /// <summary>AND/OR/XOR/TEST and friends: CF = OF = AF = 0.</summary>
    Logic,
    /// <summary>INC: result = dst + 1; CF kept from before (aux).</summary>
    Inc,
    /// <summary>DEC: result = dst - 1; CF kept from before (aux).</summary>
    Dec,
    /// <summary>ZF, SF, PF from the result; CF, AF, OF as explicit bits in aux (shifts, multiplies, BMI).</summary>
    Result,
}

/// <summary>Size helpers shared by the handlers.</summary>
internal static class Sz
{
    /// <summary>All-ones mask of an operand of <paramref name="size"/> bytes (1, 2, 4, 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size << 3)) - 1;

    /// <summary>Sign bit of an operand of <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sign(int size) => 1UL << ((size << 3) - 1);

    /// <summary>Bit width of an operand of <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bits(int size) => size << 3;

    /// <summary>Sign-extends the low <paramref name="size"/> bytes of <paramref name="v"/> to 64 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SignExtend(ulong v, int size)
    {
        int sh = 64 - (size << 3);
        return (ulong)((long)(v << sh) >> sh);
    }

    /// <summary>Parity flag value: true when the low byte has an even number of 1 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Parity(ulong v) => (BitOperations.PopCount((uint)(v & 0xFF)) & 1) == 0;
}
