namespace Vtx.Kit;

/// <summary>
/// Builds EPT paging structures that map guest-physical addresses to the same host-physical addresses with
/// 2-MiB pages, read/write/execute, write-back (SDM Vol. 3C, 28.2.2 EPT translation, Tables 28-1 to 28-4),
/// and the EPTP that points at them (SDM Vol. 3C, 24.6.11).
/// </summary>
public static class EptIdentityMap
{
    /// <summary>EPT memory type write-back (6), in EPTP bits 2:0 and leaf bits 5:3 (SDM Vol. 3C, 28.2.6).</summary>
    public const ulong WriteBack = 6;

    /// <summary>
    /// The bytes of the structures at <paramref name="at"/> (4-KiB aligned) mapping [0, <paramref name="size"/>)
    /// (rounded up to 2 MiB, at most 512 GiB): the PML4 at <paramref name="at"/>, the PDPT at +1000h, the page
    /// directories from +2000h. <see cref="Eptp"/> gives the pointer.
    /// </summary>
    public static byte[] Build(ulong at, ulong size)
    {
        if ((at & 0xFFF) != 0) throw new ArgumentException("EPT structures must be 4-KiB aligned", nameof(at));
        if (size == 0 || size > 512UL << 30) throw new ArgumentOutOfRangeException(nameof(size), size, "1 byte to 512 GiB");
        ulong pages2M = (size + (1UL << 21) - 1) >> 21;
        int directories = (int)((pages2M + 511) / 512);
        var image = new byte[(2 + directories) * 4096];
        void Put(int offset, ulong value) => BitConverter.TryWriteBytes(image.AsSpan(offset, 8), value);
        const ulong rwx = 7;
        Put(0, (at + 0x1000) | rwx);                                      // PML4E 0 -> PDPT
        for (int d = 0; d < directories; d++)
            Put(0x1000 + d * 8, (at + 0x2000 + (ulong)d * 0x1000) | rwx); // PDPTE d -> page directory d
        for (ulong p = 0; p < pages2M; p++)
            Put(0x2000 + (int)p * 8, (p << 21) | 1UL << 7 | WriteBack << 3 | rwx); // 2-MiB leaf, WB, RWX
        return image;
    }

    /// <summary>
    /// The EPTP for structures at <paramref name="at"/>: memory type WB (bits 2:0 = 6), page-walk length 4
    /// (bits 5:3 = 3), and bit 6 to enable accessed and dirty flags when <paramref name="accessedDirty"/> (SDM Vol. 3C, 24.6.11).
    /// </summary>
    public static ulong Eptp(ulong at, bool accessedDirty = false) => at | WriteBack | 3UL << 3 | (accessedDirty ? 1UL << 6 : 0);

    /// <summary>Writes the structures (<see cref="Build"/>) into <paramref name="machine"/>'s memory and returns the EPTP.</summary>
    public static ulong Write(Machine machine, ulong at, ulong size, bool accessedDirty = false)
    {
        ArgumentNullException.ThrowIfNull(machine);
        machine.WriteMemory(at, Build(at, size));
        return Eptp(at, accessedDirty);
    }
}
