using Vtx.Memory;

namespace Vtx.Loaders;

/// <summary>
/// Loads a flat binary: the file's bytes copied unchanged to one guest-physical address (the
/// "binary" output format of ld/objcopy, or a boot sector). There is no header, so the caller
/// chooses the address and the entry point.
/// </summary>
public static class FlatBinaryLoader
{
    /// <summary>Copies <paramref name="image"/> into <paramref name="memory"/> at <paramref name="address"/> (address 0 is allowed).</summary>
    /// <returns>The guest-physical range written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="InvalidImageException">The image is empty or does not lie entirely inside RAM.</exception>
    public static PhysicalRange Load(PhysicalMemory memory, ReadOnlySpan<byte> image, ulong address)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (image.IsEmpty)
            throw new InvalidImageException("flat binary is empty");
        var range = new PhysicalRange(address, (ulong)image.Length);
        if (!LoaderMemory.Fits(address, range.Length, memory.LowSize))
            throw new InvalidImageException(
                $"flat binary of 0x{image.Length:X} bytes at 0x{address:X} ends at {LoaderMemory.Hex((UInt128)address + range.Length)}, " +
                $"beyond the end of RAM (0x{memory.LowSize:X})");
        memory.Write(address, image);
        return range;
    }
}
