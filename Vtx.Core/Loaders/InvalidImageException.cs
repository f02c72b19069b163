using Vtx.Memory;

namespace Vtx.Loaders;

/// <summary>
/// A boot image (flat binary, ELF file or multiboot kernel) is malformed or does not fit the
/// machine. The message names exactly what is wrong, with the offending field and values. Loaders
/// validate the whole image before writing anything, so guest memory is unchanged when this is thrown.
/// </summary>
public sealed class InvalidImageException : Exception
{
    /// <summary>Creates the exception with a message naming the defect.</summary>
    public InvalidImageException(string message) : base(message) { }
}

/// <summary>A range of guest-physical addresses [<paramref name="Start"/>, <paramref name="Start"/> + <paramref name="Length"/>).</summary>
/// <param name="Start">The first address.</param>
/// <param name="Length">The length in bytes.</param>
public readonly record struct PhysicalRange(ulong Start, ulong Length)
{
    /// <summary>The first address past the range.</summary>
    public ulong End => Start + Length;

    /// <summary>True when the two ranges share at least one byte.</summary>
    public bool Overlaps(PhysicalRange other) =>
        Length != 0 && other.Length != 0 && Start < other.End && other.Start < End;

    /// <inheritdoc />
    public override string ToString() => $"0x{Start:X}-0x{End:X}";
}

/// <summary>Checks and writes shared by the loaders.</summary>
internal static class LoaderMemory
{
    private static readonly byte[] Zeros = new byte[64 * 1024];

    /// <summary>True when [start, start + length) lies below <paramref name="limit"/> (overflow-safe).</summary>
    public static bool Fits(ulong start, ulong length, ulong limit) => start <= limit && length <= limit - start;

    /// <summary>Hex form of a possibly 65-bit sum.</summary>
    public static string Hex(UInt128 v) => "0x" + v.ToString("X");

    /// <summary>Writes <paramref name="length"/> zero bytes at <paramref name="address"/> (already checked to be in RAM).</summary>
    public static void Zero(PhysicalMemory memory, ulong address, ulong length)
    {
        while (length > 0)
        {
            int n = (int)Math.Min(length, (ulong)Zeros.Length);
            memory.Write(address, Zeros.AsSpan(0, n));
            address += (ulong)n;
            length -= (ulong)n;
        }
    }
}
