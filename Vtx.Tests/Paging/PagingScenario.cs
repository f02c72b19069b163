using FsCheck;
using FsCheck.Fluent;
using Vtx.Memory.Paging;

namespace Vtx.Tests.Paging;

/// <summary>
/// One generated translation problem: control registers, an access, and the entries along the walk
/// of <see cref="Linear"/> (top level first), placed into a sparse memory whose untouched bytes are
/// zero, garbage or all ones. Entries get random flag bits, random PS, random XD, frames from a
/// small pool (so tables alias), from large-page-aligned addresses or from outside RAM, and now and
/// then a random extra bit (often a reserved one).
/// </summary>
internal sealed record PagingScenario(
    PagingMode Mode, int MaxPhyAddr, bool Wp, bool Pse, bool Pge, bool Smep, bool Smap, bool Pcide, bool Nxe,
    ulong Cr3, ulong Linear, PageAccessKind Kind, int Cpl, bool Implicit, bool Ac,
    ulong[] Entries, ulong[] OtherPdptes, int FillKind, ulong FillSeed)
{
    public const ulong RamSize = 64UL << 20;

    public ulong Cr0 => (1UL << 31) | 1 | (Wp ? 1UL << 16 : 0);

    public ulong Cr4 => (Mode == PagingMode.Legacy32 ? 0 : 1UL << 5) | (Mode == PagingMode.Level5 ? 1UL << 12 : 0)
        | (Pse ? 1UL << 4 : 0) | (Pge ? 1UL << 7 : 0) | (Smep ? 1UL << 20 : 0) | (Smap ? 1UL << 21 : 0)
        | (Pcide && Mode is PagingMode.Level4 or PagingMode.Level5 ? 1UL << 17 : 0);

    public ulong Efer => (Mode is PagingMode.Level4 or PagingMode.Level5 ? (1UL << 8) | (1UL << 10) : 0) | (Nxe ? 1UL << 11 : 0);

    public PageAccess Access => new(Kind, Cpl, Implicit, Ac);

    public ReferencePaging.Access ModelAccess => new(
        Kind switch { PageAccessKind.Read => ReferencePaging.Kind.Read, PageAccessKind.Write => ReferencePaging.Kind.Write, _ => ReferencePaging.Kind.Fetch },
        Cpl, Implicit, Ac);

    public ReferencePaging.Registers ModelRegisters => new(Cr0, Cr3, Cr4, Efer, MaxPhyAddr);

    /// <summary>Builds the memory: entries placed along the path the linear address selects.</summary>
    public SparseMemory BuildMemory()
    {
        var mem = new SparseMemory(RamSize, (SparseMemory.Fill)FillKind, FillSeed);
        ulong addrMask = ((1UL << MaxPhyAddr) - 1) & ~0xFFFUL;
        switch (Mode)
        {
            case PagingMode.Legacy32:
            {
                ulong pd = Cr3 & 0xFFFF_F000;
                mem.Set(pd + ((Linear >> 22) & 0x3FF) * 4, 4, (uint)Entries[0]);
                ulong pt = Entries[0] & 0xFFFF_F000;
                mem.Set(pt + ((Linear >> 12) & 0x3FF) * 4, 4, (uint)Entries[1]);
                break;
            }
            case PagingMode.Pae:
            {
                ulong pdpt = Cr3 & 0xFFFF_FFE0;
                int slot = (int)((Linear >> 30) & 3);
                for (int i = 0, o = 0; i < 4; i++)
                    mem.Set(pdpt + (ulong)i * 8, 8, i == slot ? Entries[0] : OtherPdptes[o++]);
                ulong table = Entries[0] & addrMask;
                for (int level = 2; level >= 1; level--)
                {
                    ulong e = Entries[3 - level];
                    mem.Set(table + ((Linear >> (3 + 9 * level)) & 0x1FF) * 8, 8, e);
                    table = e & addrMask;
                }
                break;
            }
            default:
            {
                int top = Mode == PagingMode.Level5 ? 5 : 4;
                ulong table = Cr3 & addrMask;
                for (int level = top; level >= 1; level--)
                {
                    ulong e = Entries[top - level];
                    mem.Set(table + ((Linear >> (3 + 9 * level)) & 0x1FF) * 8, 8, e);
                    table = e & addrMask;
                }
                break;
            }
        }
        return mem;
    }

    public override string ToString() =>
        $"{Mode} M={MaxPhyAddr} WP={Wp} PSE={Pse} PGE={Pge} SMEP={Smep} SMAP={Smap} PCIDE={Pcide} NXE={Nxe} CR3=0x{Cr3:X} lin=0x{Linear:X} " +
        $"{Kind} CPL={Cpl} implicit={Implicit} AC={Ac} entries=[{string.Join(", ", Entries.Select(e => $"0x{e:X}"))}] " +
        $"otherPdptes=[{string.Join(", ", OtherPdptes.Select(e => $"0x{e:X}"))}] fill={(SparseMemory.Fill)FillKind}/0x{FillSeed:X}";

    // ------------------------------------------------------------------ generators

    private static Gen<ulong> U64 { get; } =
        Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue)).Select(t => ((ulong)(uint)t.Item1 << 32) | (uint)t.Item2);

    private static Gen<bool> Chance(int percent) => Gen.Frequency((percent, Gen.Constant(true)), (100 - percent, Gen.Constant(false)));

    /// <summary>A 4-KiB frame in the small shared pool (1 MiB .. 1 MiB + 192 KiB) where the tables live.</summary>
    private static Gen<ulong> PoolFrame { get; } = Gen.Choose(0, 47).Select(k => 0x10_0000UL + (ulong)k * 0x1000);

    /// <summary>
    /// The address field of an entry. An entry referencing another table mostly points into the pool
    /// (sometimes beyond RAM: garbage tables); one mapping a page gets pool frames, large-page-aligned
    /// addresses below 2^MAXPHYADDR, or addresses beyond RAM.
    /// </summary>
    private static Gen<ulong> Frame(int maxPhyAddr, bool legacy, bool mapsPage)
    {
        if (!mapsPage) return Gen.Frequency((30, PoolFrame), (1, Gen.Constant(RamSize)));
        ulong below = (1UL << (legacy ? 32 : maxPhyAddr)) - 1;
        return Gen.Frequency(
            (12, PoolFrame),
            (3, U64.Select(v => v & below & ~((1UL << 21) - 1))),               // 2-MiB aligned
            (2, U64.Select(v => v & below & ~((1UL << 30) - 1))),               // 1-GiB aligned
            (legacy ? 3 : 0, U64.Select(v => v & below & ~((1UL << 22) - 1))), // 4-MiB aligned (PSE-36 bits 20:13 stay random below)
            (1, Gen.Constant(RamSize)),                                      // just beyond RAM
            (1, U64.Select(v => (v & below & ~0xFFFUL) | RamSize)));         // somewhere beyond RAM
    }

    /// <summary>
    /// One mostly well-formed paging-structure entry: random flags, PS only in PDEs and PDPTEs
    /// (<paramref name="level"/> 2 or 3), XD only with NXE, random ignored bits 62:52 in IA-32e paging,
    /// an address below 2^MAXPHYADDR (a large page on an unaligned pool frame does set reserved
    /// low address bits). Corruption is applied separately.
    /// </summary>
    private static Gen<ulong> Entry(int maxPhyAddr, PagingMode mode, int level, bool nxe)
    {
        bool legacy = mode == PagingMode.Legacy32;
        bool ia32e = mode is PagingMode.Level4 or PagingMode.Level5;
        return
            from present in Chance(95)
            from rw in Chance(75)
            from us in Chance(80)
            from flags in Gen.Choose(0, 0xFFF)
            from ps in Chance(level is 2 or 3 ? 30 : 0)
            from xd in Chance(nxe && !legacy ? 25 : 0)
            from frame in Frame(maxPhyAddr, legacy, mapsPage: level == 1 || ps)
            from ignoredHigh in Gen.Frequency((3, Gen.Constant(0UL)), (ia32e ? 1 : 0, U64.Select(v => v & 0x7FF0_0000_0000_0000UL)))
            let e = frame | ((ulong)flags & ~0x87UL) | (present ? 1UL : 0) | (rw ? 2UL : 0) | (us ? 4UL : 0) | (ps ? 0x80UL : 0) | (xd ? 1UL << 63 : 0) | ignoredHigh
            select legacy ? e & 0xFFFF_FFFFUL : e;
    }

    /// <summary>Flips one random bit of the entries now and then: reserved bits, P, PS, XD without NXE and so on.</summary>
    private static Gen<ulong[]> Corrupt(ulong[] entries, bool legacy) =>
        Gen.Frequency(
            (6, Gen.Constant(entries)),
            (4, from index in Gen.Choose(0, entries.Length - 1)
                from bit in Gen.Frequency((3, Gen.Choose(0, legacy ? 31 : 63)), (1, Gen.Elements(7, 63, 51, 13, 20, 21, 29)))
                select entries.Select((e, i) => i == index ? (e ^ (1UL << bit)) & (legacy ? 0xFFFF_FFFFUL : ulong.MaxValue) : e).ToArray()));

    private static Gen<ulong> LinearFor(PagingMode mode) => mode switch
    {
        PagingMode.Level4 => U64.Select(v => (ulong)((long)(v << 16) >> 16)),
        PagingMode.Level5 => U64.Select(v => (ulong)((long)(v << 7) >> 7)),
        // Outside IA-32e paging only bits 31:0 count: sometimes add garbage above them.
        _ => Gen.Frequency((4, U64.Select(v => v & 0xFFFF_FFFFUL)), (1, U64)),
    };

    private static Gen<ulong> Cr3Gen { get; } =
        from frame in PoolFrame
        from low in Gen.Choose(0, 0xFFF)
        select frame | (uint)low; // PAE: bits 31:5 locate the PDPT; otherwise PWT/PCD, PCID or ignored bits

    public static Gen<PagingScenario> For(PagingMode mode) =>
        from maxPhy in Gen.Elements(36, 39, 40, 42, 46, 52)
        from cr in Gen.ArrayOf(Gen.Elements(false, true), 8)
        let nxe = cr[6]
        let pse = cr[1]
        from cr3 in Cr3Gen
        from linear in LinearFor(mode)
        from kind in Gen.Elements(PageAccessKind.Read, PageAccessKind.Write, PageAccessKind.Execute)
        from cpl in Gen.Elements(0, 0, 1, 2, 3, 3, 3)
        from implicitAccess in Chance(20)
        from clean in Sequence(LevelsOf(mode).Select(l => l == 9
            ? Entry(maxPhy, PagingMode.Pae, 9, false).Select(e => e & ~0x1E6UL & ((1UL << maxPhy) - 1)) // PAE PDPTE
            : Entry(maxPhy, mode, l, nxe)))
        from entries in Corrupt(clean, mode == PagingMode.Legacy32)
        from others in Gen.ArrayOf(Gen.Frequency(
            (12, Entry(maxPhy, PagingMode.Pae, 9, false).Select(e => e & ~0x1E6UL & ((1UL << maxPhy) - 1))),
            (1, Entry(maxPhy, PagingMode.Pae, 9, false).Select(e => e | 0x2))), 3)
        from fill in Gen.Elements(0, 0, 1, 2)
        from seed in U64
        select new PagingScenario(mode, maxPhy, cr[0], pse, cr[2], cr[3], cr[4], cr[5], nxe, cr3, linear, kind, cpl, implicitAccess, cr[7],
            entries, others, fill, seed);

    private static Gen<ulong[]> Sequence(IEnumerable<Gen<ulong>> gens) =>
        gens.Aggregate(Gen.Constant(Array.Empty<ulong>()), (acc, g) => from a in acc from x in g select a.Append(x).ToArray());

    /// <summary>The levels walked, top first (9 stands for the PAE PDPTE register); 32-bit paging: PDE (2), PTE (1).</summary>
    private static int[] LevelsOf(PagingMode mode) => mode switch
    {
        PagingMode.Legacy32 => [2, 1],
        PagingMode.Pae => [9, 2, 1],
        PagingMode.Level4 => [4, 3, 2, 1],
        _ => [5, 4, 3, 2, 1],
    };
}
