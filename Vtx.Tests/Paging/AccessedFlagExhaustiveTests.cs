using Vtx.Memory.Paging;
using Xunit;

namespace Vtx.Tests.Paging;

/// <summary>
/// Exhaustive comparison of the walker with the reference model: every combination of P, R/W, U/S,
/// XD and PS at every level of a 4-level walk (and P, R/W, U/S, PS for 32-bit paging), for user and
/// supervisor accesses, reads, writes and fetches, and every setting of CR0.WP, CR4.SMEP, CR4.SMAP,
/// RFLAGS.AC and IA32_EFER.NXE (CR4.PSE for 32-bit paging). Same outcome, error code, physical
/// address, and the same accessed/dirty flags afterwards. Independently of both, a fault caused by
/// the rights must leave the entry that maps the page untouched (no A, no D) while every entry above
/// it has A (SDM Vol. 3A, 4.8): the defect the random scenarios missed.
/// </summary>
public class AccessedFlagExhaustiveTests
{
    /// <summary>Paging-structure entries at fixed addresses; every other address reads 0 (never written).</summary>
    private sealed class EntryMemory : IPhysicalMemoryAccess, ReferencePaging.IModelMemory
    {
        public readonly ulong[] Address = new ulong[4];
        public readonly ulong[] Value = new ulong[4];
        public int Count;
        public string? Stray;

        public void Load(ulong[] addresses, ulong[] values, int count)
        {
            Array.Copy(addresses, Address, count);
            Array.Copy(values, Value, count);
            Count = count;
            Stray = null;
        }

        private int Find(ulong a)
        {
            for (int i = 0; i < Count; i++) if (Address[i] == a) return i;
            return -1;
        }

        public ulong Get(ulong address, int bytes)
        {
            int i = Find(address);
            ulong v = i < 0 ? 0 : Value[i];
            return bytes == 8 ? v : v & 0xFFFF_FFFF;
        }

        public void Set(ulong address, int bytes, ulong value)
        {
            int i = Find(address);
            if (i < 0) { Stray = $"write of 0x{value:X} at 0x{address:X}, not an entry of the walk"; return; }
            Value[i] = bytes == 8 ? value : (Value[i] & ~0xFFFF_FFFFUL) | (uint)value;
        }

        public ulong ReadU64(ulong address) => Get(address, 8);
        public uint ReadU32(ulong address) => (uint)Get(address, 4);
        public void WriteU64(ulong address, ulong value) => Set(address, 8, value);
        public void WriteU32(ulong address, uint value) => Set(address, 4, value);
    }

    private const ulong P = 1, RW = 2, US = 4, PS = 0x80, A = 0x20, D = 0x40, XD = 1UL << 63;

    private static readonly (PageAccessKind Kind, ReferencePaging.Kind ModelKind)[] Kinds =
    [
        (PageAccessKind.Read, ReferencePaging.Kind.Read),
        (PageAccessKind.Write, ReferencePaging.Kind.Write),
        (PageAccessKind.Execute, ReferencePaging.Kind.Fetch),
    ];

    /// <summary>
    /// All entry chains of a walk: at each level not present (the walk stops), or present with each
    /// combination of the flag bits in <paramref name="flags"/>, and where a level may map a page,
    /// with PS = 1 (stops) or 0 (continues). Entries point at the next table or at an aligned frame.
    /// </summary>
    private static List<ulong[]> Chains(int levels, ulong[] flagSets, Func<int, bool> psAllowed, Func<int, bool, ulong> target)
    {
        var all = new List<ulong[]>();
        void Walk(List<ulong> prefix, int level)
        {
            all.Add(prefix.Append(0UL).ToArray()); // not present (the other bits do not matter)
            foreach (ulong f in flagSets)
            {
                bool last = level == levels - 1;
                if (psAllowed(level)) all.Add(prefix.Append(P | f | PS | target(level, true)).ToArray());
                ulong e = P | f | target(level, false);
                if (last) all.Add(prefix.Append(e).ToArray());
                else Walk(prefix.Append(e).ToList(), level + 1);
            }
        }
        Walk(new List<ulong>(), 0);
        return all;
    }

    private static void Run(PagingMode mode, List<ulong[]> chains, ulong[] tables, Func<int, ulong> entryOffset, ulong linear, int controlBits,
        Func<int, (ulong Cr0, ulong Cr4, ulong Efer, bool Ac)> controls)
    {
        var addresses = new ulong[4];
        for (int l = 0; l < tables.Length; l++) addresses[l] = tables[l] + entryOffset(l);
        long cases = 0;
        string? firstFailure = null;
        // The chains are independent: checked in parallel, each worker with its own memories.
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, chains.Count, 64), range =>
        {
            var walkerMem = new EntryMemory();
            var modelMem = new EntryMemory();
            long local = 0;
            for (int k = range.Item1; k < range.Item2 && Volatile.Read(ref firstFailure) is null; k++)
            {
                var chain = chains[k];
                for (int c = 0; c < 1 << controlBits; c++)
                {
                    var (cr0, cr4, efer, ac) = controls(c);
                    var context = new PagingContext(cr0, tables[0], cr4, efer, 46);
                    if (context.Mode != mode) { Interlocked.CompareExchange(ref firstFailure, $"mode {context.Mode}, expected {mode}", null); return; }
                    var regs = new ReferencePaging.Registers(cr0, tables[0], cr4, efer, 46);
                    for (int cpl = 0; cpl <= 3; cpl += 3)
                    {
                        foreach (var (kind, modelKind) in Kinds)
                        {
                            local++;
                            string? failure = CheckOne(walkerMem, modelMem, addresses, chain, in context, regs, linear, kind, modelKind, cpl, ac);
                            if (failure is not null)
                                Interlocked.CompareExchange(ref firstFailure,
                                    $"{mode} chain [{string.Join(", ", chain.Select(e => $"0x{e:X}"))}] CR0=0x{cr0:X} CR4=0x{cr4:X} EFER=0x{efer:X} AC={ac} CPL={cpl} {kind}: {failure}", null);
                        }
                    }
                }
            }
            Interlocked.Add(ref cases, local);
        });
        Assert.Null(firstFailure);
        Assert.True(cases > 0);
    }

    /// <summary>One case: null when walker, model and the independent A/D rule agree, else what differs (built only then).</summary>
    private static string? CheckOne(EntryMemory walkerMem, EntryMemory modelMem, ulong[] addresses, ulong[] chain,
        in PagingContext context, ReferencePaging.Registers regs, ulong linear, PageAccessKind kind, ReferencePaging.Kind modelKind, int cpl, bool ac)
    {
        walkerMem.Load(addresses, chain, chain.Length);
        modelMem.Load(addresses, chain, chain.Length);
        var r = PageWalker.Walk(walkerMem, in context, linear, new PageAccess(kind, cpl, false, ac));
        var m = ReferencePaging.Translate(modelMem, regs, null, linear, new ReferencePaging.Access(modelKind, cpl, false, ac));
        if (walkerMem.Stray is not null) return walkerMem.Stray;
        if (m.Ok != r.Success || (m.Ok ? m.Physical != r.PhysicalAddress || m.Dirty != r.Dirty : m.ErrorCode != (uint)r.ErrorCode))
            return $"walker {r}, model {m}";
        for (int i = 0; i < chain.Length; i++)
            if (walkerMem.Value[i] != modelMem.Value[i]) return $"walker {r}, model {m}: entry {i} walker 0x{walkerMem.Value[i]:X} model 0x{modelMem.Value[i]:X}";
        // Independent of both: a rights fault (P = 1, RSVD = 0) leaves the leaf as it was, A on the rest.
        int leaf = chain.Length - 1;
        if (!r.Success && ((uint)r.ErrorCode & 9) == 1)
        {
            if (walkerMem.Value[leaf] != chain[leaf]) return $"walker {r}: the leaf got 0x{walkerMem.Value[leaf] & (A | D):X} (A/D) on a rights fault";
            for (int i = 0; i < leaf; i++) if ((walkerMem.Value[i] & A) == 0) return $"walker {r}: entry {i} above the leaf lacks A";
        }
        if (r.Success)
        {
            ulong want = kind == PageAccessKind.Write ? A | D : A;
            if ((walkerMem.Value[leaf] & want) != want) return $"walker {r}: the leaf lacks A/D after a successful access";
        }
        return null;
    }

    [Fact]
    public void FourLevelPagingEveryFlagCombination()
    {
        // Tables in consecutive frames; the linear address uses a different index at each level.
        ulong[] tables = [0x1000, 0x2000, 0x3000, 0x4000];
        const ulong linear = (1UL << 39) | (2UL << 30) | (3UL << 21) | (4UL << 12) | 0x567;
        ulong[] flagSets = Enumerable.Range(0, 8).Select(i => ((i & 1) != 0 ? RW : 0) | ((i & 2) != 0 ? US : 0) | ((i & 4) != 0 ? XD : 0)).ToArray();
        var chains = Chains(4, flagSets,
            psAllowed: level => level is 1 or 2,                                   // PDPTE (1 GiB) and PDE (2 MiB)
            target: (level, page) => page ? (level == 1 ? 0x4000_0000UL : 0x20_0000UL) : level == 3 ? 0x5000UL : tables[level + 1]);
        Assert.Equal(5257, chains.Count);
        Run(PagingMode.Level4, chains, tables, level => ((linear >> (39 - 9 * level)) & 0x1FF) * 8, linear, 5, c =>
        {
            bool wp = (c & 1) != 0, smep = (c & 2) != 0, smap = (c & 4) != 0, ac = (c & 8) != 0, nxe = (c & 16) != 0;
            ulong cr0 = (1UL << 31) | 1 | (wp ? 1UL << 16 : 0);
            ulong cr4 = (1UL << 5) | (smep ? 1UL << 20 : 0) | (smap ? 1UL << 21 : 0);
            ulong efer = (1UL << 8) | (1UL << 10) | (nxe ? 1UL << 11 : 0);
            return (cr0, cr4, efer, ac);
        });
    }

    [Fact]
    public void ThirtyTwoBitPagingEveryFlagCombination()
    {
        ulong[] tables = [0x1000, 0x2000];
        const ulong linear = (5UL << 22) | (6UL << 12) | 0x321;
        ulong[] flagSets = Enumerable.Range(0, 4).Select(i => ((i & 1) != 0 ? RW : 0) | ((i & 2) != 0 ? US : 0)).ToArray();
        var chains = Chains(2, flagSets,
            psAllowed: level => level == 0,                                         // 4-MiB PDE (with CR4.PSE)
            target: (level, page) => page ? 0x40_0000UL : level == 1 ? 0x5000UL : tables[1]);
        Run(PagingMode.Legacy32, chains, tables, level => ((linear >> (22 - 10 * level)) & 0x3FF) * 4, linear, 5, c =>
        {
            bool wp = (c & 1) != 0, smep = (c & 2) != 0, smap = (c & 4) != 0, ac = (c & 8) != 0, pse = (c & 16) != 0;
            ulong cr0 = (1UL << 31) | 1 | (wp ? 1UL << 16 : 0);
            ulong cr4 = (pse ? 1UL << 4 : 0) | (smep ? 1UL << 20 : 0) | (smap ? 1UL << 21 : 0);
            return (cr0, cr4, 0UL, ac);
        });
    }
}
