using Vtx.Memory;
using Vtx.Memory.Paging;

namespace Vtx.Tests.Paging;

/// <summary>Hand-written paging structures in a real <see cref="PhysicalMemory"/>, for the example-based tests.</summary>
internal sealed class PagingTestBuilder
{
    public const ulong P = 1, RW = 2, US = 4, PWT = 8, PCD = 0x10, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, XD = 1UL << 63;
    public const ulong Cr0Pg = 1UL << 31, Cr0Wp = 1UL << 16, Cr0Pe = 1;
    public const ulong Cr4Pse = 1 << 4, Cr4Pae = 1 << 5, Cr4Pge = 1 << 7, Cr4La57 = 1 << 12, Cr4Pcide = 1 << 17, Cr4Smep = 1 << 20, Cr4Smap = 1 << 21;
    public const ulong EferLme = 1 << 8, EferLma = 1 << 10, EferNxe = 1 << 11;
    public const ulong RamBytes = 8UL << 20;

    private ulong _nextTable = 0x10_0000;

    public PhysicalMemory Ram { get; } = new(RamBytes);
    public PhysicalMemoryAccess Mem => new(Ram);

    public ulong NewTable()
    {
        ulong t = _nextTable;
        _nextTable += 0x1000;
        return t;
    }

    public ulong Get64(ulong pa) => Mem.ReadU64(pa);
    public uint Get32(ulong pa) => Mem.ReadU32(pa);
    public void Set64(ulong pa, ulong v) => Mem.WriteU64(pa, v);
    public void Set32(ulong pa, uint v) => Mem.WriteU32(pa, v);

    /// <summary>
    /// IA-32e (or PAE below the PDPT) walk of <paramref name="linear"/> from <paramref name="root"/> (at
    /// <paramref name="topLevel"/>), creating missing tables with <paramref name="tableFlags"/> and
    /// writing <paramref name="leaf"/> at <paramref name="leafLevel"/>. Returns the entry addresses, top first.
    /// </summary>
    public ulong[] Map(ulong root, int topLevel, ulong linear, int leafLevel, ulong leaf, ulong tableFlags = P | RW | US)
    {
        var path = new List<ulong>();
        ulong table = root;
        for (int level = topLevel; ; level--)
        {
            ulong at = table + ((linear >> (12 + 9 * (level - 1))) & 0x1FF) * 8;
            path.Add(at);
            if (level == leafLevel)
            {
                Set64(at, leaf);
                return path.ToArray();
            }
            ulong e = Get64(at);
            if ((e & P) == 0)
            {
                e = NewTable() | tableFlags;
                Set64(at, e);
            }
            table = e & 0x000F_FFFF_FFFF_F000UL;
        }
    }

    /// <summary>32-bit paging: a PDE and (unless <paramref name="pte"/> is 0) a PTE in the table it references, for <paramref name="linear"/>.</summary>
    public (ulong Pde, ulong Pte) Map32(ulong pageDirectory, uint linear, uint pde, uint pte)
    {
        ulong pdeAt = pageDirectory + (linear >> 22) * 4;
        Set32(pdeAt, pde);
        ulong pteAt = (pde & 0xFFFF_F000) + ((linear >> 12) & 0x3FF) * 4;
        if (pte != 0) Set32(pteAt, pte);
        return (pdeAt, pteAt);
    }

    public static PagingContext Long4(ulong cr3, ulong cr0Extra = 0, ulong cr4Extra = 0, ulong eferExtra = 0, int maxPhy = 46) =>
        new(Cr0Pg | Cr0Pe | cr0Extra, cr3, Cr4Pae | cr4Extra, EferLme | EferLma | eferExtra, maxPhy);

    public static PagingContext Long5(ulong cr3, ulong cr0Extra = 0, ulong cr4Extra = 0, ulong eferExtra = 0, int maxPhy = 46) =>
        new(Cr0Pg | Cr0Pe | cr0Extra, cr3, Cr4Pae | Cr4La57 | cr4Extra, EferLme | EferLma | eferExtra, maxPhy);

    public static PagingContext Legacy(ulong cr3, ulong cr0Extra = 0, ulong cr4Extra = 0, ulong eferExtra = 0, int maxPhy = 46) =>
        new(Cr0Pg | Cr0Pe | cr0Extra, cr3, cr4Extra, eferExtra, maxPhy);

    public PagingContext Pae(ulong cr3, ulong cr0Extra = 0, ulong cr4Extra = 0, ulong eferExtra = 0, int maxPhy = 46)
    {
        if (!PageWalker.LoadPdptes(Mem, cr3, maxPhy, out var pdptes)) throw new InvalidOperationException("PDPTE load failed");
        return new(Cr0Pg | Cr0Pe | cr0Extra, cr3, Cr4Pae | cr4Extra, eferExtra, maxPhy, pdptes);
    }

    public PageWalkResult Walk(in PagingContext context, ulong linear, PageAccess access) => PageWalker.Walk(Mem, in context, linear, access);
}
