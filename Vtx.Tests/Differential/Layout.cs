using Iced.Intel;
using Vtx.Tests.Native;

namespace Vtx.Tests.Differential;

/// <summary>
/// The fixed guest layout shared by the native oracle and Vtx (guest linear = physical in Vtx, fixed
/// user mappings natively): code at 0x100000, branch landing pads, 64 KiB scratch at 0x200000, and the
/// top of the 64 KiB stack below 0x300000.
/// </summary>
internal static class Layout
{
    public const ulong CodeAddress = NativeExecutor.CodeAddress;
    public const ulong BranchTarget = NativeExecutor.BranchTarget;
    public const ulong ShortBranchTarget = NativeExecutor.ShortBranchTarget;
    public const ulong Scratch = NativeExecutor.ScratchAddress;
    public const int ScratchSize = (int)NativeExecutor.ScratchSize;
    public const ulong StackTop = NativeExecutor.StackTop;
    public const ulong StackBase = NativeExecutor.StackBase;

    /// <summary>Bytes of stack exchanged with both sides (8 KiB ending at <see cref="StackTop"/>).</summary>
    public const int StackImage = 0x2000;

    /// <summary>Lowest address of the exchanged stack image.</summary>
    public const ulong StackImageBase = StackTop - StackImage;

    /// <summary>Vtx RAM for every case.</summary>
    public const int MemoryMiB = 16;

    public const ulong CF = NativeRflags.CF, PF = NativeRflags.PF, AF = NativeRflags.AF, ZF = NativeRflags.ZF,
        SF = NativeRflags.SF, DF = NativeRflags.DF, OF = NativeRflags.OF, IF = NativeRflags.IF;

    /// <summary>The compared RFLAGS bits: the six status flags and DF.</summary>
    public const ulong Compared = NativeRflags.Status | DF;

    public static bool InScratch(ulong address, int length) =>
        address >= Scratch && address + (ulong)length <= Scratch + (ulong)ScratchSize;

    public static bool InStackImage(ulong address, int length) =>
        address >= StackImageBase && address + (ulong)length <= StackTop;
}

/// <summary>Iced general-purpose register helpers (architectural index, size, AH..BH).</summary>
internal static class Regs
{
    public static readonly Register[] R8 = Enumerable.Range(0, 20).Select(i => Register.AL + i).ToArray();
    public static readonly Register[] R16 = Enumerable.Range(0, 16).Select(i => Register.AX + i).ToArray();
    public static readonly Register[] R32 = Enumerable.Range(0, 16).Select(i => Register.EAX + i).ToArray();
    public static readonly Register[] R64 = Enumerable.Range(0, 16).Select(i => Register.RAX + i).ToArray();

    /// <summary>Architectural index 0..15 of <paramref name="r"/>, its size in bytes and whether it is AH/CH/DH/BH.</summary>
    public static (int Index, int Size, bool High) Info(Register r)
    {
        if (r >= Register.AL && r <= Register.R15L)
        {
            int n = r - Register.AL;
            return n < 4 ? (n, 1, false) : n < 8 ? (n - 4, 1, true) : (n - 4, 1, false);
        }
        if (r >= Register.AX && r <= Register.R15W) return (r - Register.AX, 2, false);
        if (r >= Register.EAX && r <= Register.R15D) return (r - Register.EAX, 4, false);
        if (r >= Register.RAX && r <= Register.R15) return (r - Register.RAX, 8, false);
        throw new ArgumentOutOfRangeException(nameof(r), r, "not a general-purpose register");
    }

    public static bool IsGpr(Register r) => r >= Register.AL && r <= Register.R15;

    /// <summary>The register of architectural index <paramref name="index"/> at <paramref name="size"/> bytes (SPL..DIL for bytes 4..7).</summary>
    public static Register Of(int index, int size) => size switch
    {
        1 => index < 4 ? Register.AL + index : Register.AL + index + 4,
        2 => Register.AX + index,
        4 => Register.EAX + index,
        _ => Register.RAX + index,
    };

    public static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    public static ulong SignExtend(ulong v, int size)
    {
        int sh = 64 - size * 8;
        return (ulong)((long)(v << sh) >> sh);
    }

    /// <summary>Value of <paramref name="r"/> in <paramref name="gpr"/> (zero-extended).</summary>
    public static ulong Read(ulong[] gpr, Register r)
    {
        var (i, size, high) = Info(r);
        return high ? (gpr[i] >> 8) & 0xFF : gpr[i] & Mask(size);
    }

    /// <summary>Bits of the full 64-bit register that <paramref name="r"/> occupies.</summary>
    public static ulong Bits(Register r)
    {
        var (_, size, high) = Info(r);
        return high ? 0xFF00UL : Mask(size);
    }

    /// <summary>
    /// Sets the bits of <paramref name="r"/> in an input state to <paramref name="v"/>, keeping every other bit
    /// (this builds inputs; it is not the architectural write, which zero-extends 32-bit destinations).
    /// </summary>
    public static void Insert(ulong[] gpr, Register r, ulong v)
    {
        var (i, size, high) = Info(r);
        if (high) gpr[i] = (gpr[i] & ~0xFF00UL) | ((v & 0xFF) << 8);
        else gpr[i] = (gpr[i] & ~Mask(size)) | (v & Mask(size));
    }

    public static string Name(int index) => ((Gpr)index).ToString().ToUpperInvariant();
}
