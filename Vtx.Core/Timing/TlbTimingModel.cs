using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vtx.Timing;

/// <summary>
/// A deterministic model of a core's data TLBs, for timing only (issue 10, "page walks on TLB misses"):
/// first-level DTLBs per page size and the second-level TLB (STLB), set-associative with the profile's
/// sizes (<see cref="TimingProfile.Tlb"/>), tagged like the hardware's (page number at the page size, PCID,
/// VPID, whether the mapping is combined with EPT, global). It never translates: Vtx's software TLB does.
/// <para>
/// Guest cycles must not depend on host-only state (what the software TLB holds or refuses to hold: host
/// watchpoints, alignment checking, a debugger). So: replacement is FIFO per set (the insertion order; a hit
/// changes nothing), the model is consulted only when the software TLB misses, and the software TLB is kept
/// a subset of the model's first level (whatever the model drops from it, the processor drops from the
/// software TLB). Then a software hit is a model hit that would have changed nothing, and the cycles are those
/// of consulting the model on every access.
/// </para>
/// <para>
/// The state is one <c>ulong[]</c> owned by the processor (so snapshots copy it with the rest of its state):
/// per structure, sets × ways entries of two words (key, context), then per structure one word per set (FIFO cursor
/// in bits 31:0, number of valid ways in bits 63:32), then one word of the (structure, page size) classes inserted
/// since the last <see cref="FlushAll"/> (issue 13: a lookup skips the classes never inserted; a full set is not
/// scanned for an empty way). All zero is the empty TLB.
/// </para>
/// </summary>
internal sealed class TlbTimingModel
{
    private const int Structures = 5;
    private const int L14K = (int)TlbStructure.Dtlb4K, L12M = (int)TlbStructure.Dtlb2M, L11G = (int)TlbStructure.Dtlb1G;
    private const int S = (int)TlbStructure.Stlb, S1G = (int)TlbStructure.Stlb1G;

    /// <summary>Context word: PCID bits 11:0, VPID bits 27:12, combined (EPT) bit 28, global bit 29.</summary>
    public const ulong PcidMask = 0xFFF, VpidShift = 12, CombinedBit = 1UL << 28, GlobalBit = 1UL << 29;
    private const ulong VpidMask = 0xFFFFUL << 12;
    private const ulong Valid = 1UL << 63;
    private const ulong PageMask = (1UL << 56) - 1;

    private static readonly ConditionalWeakTable<TimingProfile, TlbTimingModel> Cache = new();

    // Issue 13: a structure's geometry as plain fields (no arrays, no bounds checks on the miss path).
    private readonly struct Geometry(int entries, int ways, int sets, int counters)
    {
        public readonly int Entries = entries;          // index of its first entry word
        public readonly int Ways = ways;                // 0 when the profile has no such structure
        public readonly ulong SetMask = (ulong)Math.Max(sets - 1, 0);
        public readonly int Counters = counters;        // index of its first per-set word: FIFO cursor (bits 31:0) | valid ways (bits 63:32)
    }

    private readonly Geometry _l14k, _l12m, _l11g, _s, _s1g;
    private readonly int _presence; // index of the word of (structure, page size) classes inserted since the last FlushAll

    private TlbTimingModel(TimingProfile p)
    {
        var g = new TlbGeometry[Structures];
        int at = 0;
        var entries = new int[Structures];
        for (int s = 0; s < Structures; s++)
        {
            g[s] = p.Tlb((TlbStructure)s);
            entries[s] = at;
            at += 2 * g[s].Entries;
        }
        var geo = new Geometry[Structures];
        for (int s = 0; s < Structures; s++)
        {
            int ways = g[s].Entries == 0 ? 0 : g[s].Ways, sets = g[s].Entries == 0 ? 0 : g[s].Entries / g[s].Ways;
            geo[s] = new Geometry(entries[s], ways, sets, at);
            at += sets;
        }
        (_l14k, _l12m, _l11g, _s, _s1g) = (geo[L14K], geo[L12M], geo[L11G], geo[S], geo[S1G]);
        _presence = at++;
        StateLength = at;
        StlbHitCycles = p.System(SystemCost.StlbHit);
        WalkCycles = p.System(SystemCost.PageWalk);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref readonly Geometry Of(int s)
    {
        switch (s)
        {
            case L14K: return ref _l14k;
            case L12M: return ref _l12m;
            case L11G: return ref _l11g;
            case S: return ref _s;
            default: return ref _s1g;
        }
    }

    /// <summary>The bit of the presence word for entries of structure <paramref name="s"/> at page size 2^<paramref name="shift"/>.</summary>
    private static ulong PresenceBit(int s, int shift) => 1UL << (s * 4 + (shift == 12 ? 0 : shift == 21 ? 1 : shift == 22 ? 2 : 3));

    /// <summary>The model for <paramref name="p"/> (null when the profile has no TLB data or charges nothing for misses).</summary>
    public static TlbTimingModel? For(TimingProfile p) =>
        p.HasTlbModel && (p.System(SystemCost.StlbHit) > 0 || p.System(SystemCost.PageWalk) > 0) ? Cache.GetValue(p, q => new TlbTimingModel(q)) : null;

    /// <summary>Length of the state array.</summary>
    public int StateLength { get; }

    /// <summary>Penalty of a first-level miss that hits the STLB.</summary>
    public int StlbHitCycles { get; }

    /// <summary>Penalty of a native 4-level walk (4 paging-structure references) after an STLB miss.</summary>
    public int WalkCycles { get; }

    /// <summary>
    /// Cycles of a walk that read <paramref name="references"/> paging-structure entries: the profile's walk
    /// figure (a native 4-level walk) scaled by the references, so a 2-level 32-bit walk costs half and a
    /// two-dimensional EPT walk (up to 24 references) six times as much. At least the STLB lookup.
    /// </summary>
    public int WalkPenalty(int references) => Math.Max(StlbHitCycles, (WalkCycles * references + 3) / 4);

    /// <summary>What an access found.</summary>
    public enum Outcome
    {
        /// <summary>First-level hit: no penalty, nothing changes.</summary>
        L1Hit,
        /// <summary>STLB hit: the entry was copied into the first level.</summary>
        StlbHit,
        /// <summary>Miss: a page walk (the translation was inserted when it succeeded).</summary>
        Miss,
    }

    /// <summary>
    /// Looks the access to <paramref name="lin"/> up in context <paramref name="ctx"/> (PCID | VPID | combined).
    /// On a first-level miss the translation found (<paramref name="pageShift"/> 12, 21, 22 or 30, 0 after a
    /// failed walk) is inserted. A first-level entry the insertion evicts is reported through
    /// <paramref name="evictedPage"/>/<paramref name="evictedShift"/> (shift 0: none) so that the caller drops
    /// the software TLB entries it covers.
    /// </summary>
    public Outcome Access(ulong[] state, ulong lin, ulong ctx, int pageShift, bool global, out ulong evictedPage, out int evictedShift)
    {
        evictedPage = 0;
        evictedShift = 0;
        // Issue 13: the state is the processor's array of StateLength words (snapshots copy it whole), and every
        // index below is a set of a structure of this geometry: no bounds checks. Page sizes never inserted into
        // a structure since the last FlushAll (the presence word) are not looked up: they cannot match.
        ref ulong st = ref MemoryMarshal.GetArrayDataReference(state);
        if (state.Length != StateLength) throw new ArgumentException("not this model's state", nameof(state));
        ulong present = Unsafe.Add(ref st, _presence);
        if (Find(ref st, in _l14k, present & PresenceBit(L14K, 12), lin, 12, ctx, out _)
            || Find(ref st, in _l12m, present & PresenceBit(L12M, 21), lin, 21, ctx, out _)
            || Find(ref st, in _l12m, present & PresenceBit(L12M, 22), lin, 22, ctx, out _)
            || Find(ref st, in _l11g, present & PresenceBit(L11G, 30), lin, 30, ctx, out _))
            return Outcome.L1Hit;
        ulong gbit = global ? GlobalBit : 0;
        // The STLB holds 4-KByte and 2/4-MByte translations; 1-GByte ones have their own second level (Skylake) or none (Haswell).
        ulong found;
        int hitShift = Find(ref st, in _s, present & PresenceBit(S, 12), lin, 12, ctx, out found) ? 12
            : Find(ref st, in _s, present & PresenceBit(S, 21), lin, 21, ctx, out found) ? 21
            : Find(ref st, in _s, present & PresenceBit(S, 22), lin, 22, ctx, out found) ? 22
            : Find(ref st, in _s1g, present & PresenceBit(S1G, 30), lin, 30, ctx, out found) ? 30 : 0;
        if (hitShift != 0)
        {
            InsertL1(ref st, lin, hitShift, ctx | (found & GlobalBit), out evictedPage, out evictedShift);
            return Outcome.StlbHit;
        }
        if (pageShift != 0)
        {
            if (pageShift == 30) { if (_s1g.Ways != 0) Insert(ref st, in _s1g, S1G, lin >> 30, 30, ctx | gbit, out _, out _); }
            else Insert(ref st, in _s, S, lin >> pageShift, pageShift, ctx | gbit, out _, out _);
            InsertL1(ref st, lin, pageShift, ctx | gbit, out evictedPage, out evictedShift);
        }
        return Outcome.Miss;
    }

    private void InsertL1(ref ulong st, ulong lin, int shift, ulong ctx, out ulong evictedPage, out int evictedShift)
    {
        int s = shift == 12 ? L14K : shift == 30 ? L11G : L12M;
        if (Of(s).Ways == 0) { s = L14K; shift = 12; } // no first-level array for the size: the page is held as 4-KByte pieces
        Insert(ref st, in Of(s), s, lin >> shift, shift, ctx, out evictedPage, out evictedShift);
    }

    /// <summary>The first way (in way order) of the set holding <paramref name="lin"/> whose entry matches; <paramref name="present"/> 0: none can.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Find(ref ulong st, in Geometry g, ulong present, ulong lin, int shift, ulong ctx, out ulong found)
    {
        found = 0;
        if (present == 0 || g.Ways == 0) return false;
        ulong page = lin >> shift;
        ulong key = Key(page, shift);
        ref ulong e = ref Unsafe.Add(ref st, g.Entries + 2 * (int)(page & g.SetMask) * g.Ways);
        for (int w = 0; w < g.Ways; w++, e = ref Unsafe.Add(ref e, 2))
        {
            if (e != key) continue;
            ulong c = Unsafe.Add(ref e, 1);
            // The VPID and the combined bit always match; the PCID too, unless the entry is global.
            if (((c ^ ctx) & (VpidMask | CombinedBit)) != 0) continue;
            if ((c & GlobalBit) == 0 && ((c ^ ctx) & PcidMask) != 0) continue;
            found = c;
            return true;
        }
        return false;
    }

    /// <summary>
    /// Inserts into the first empty way of the set (after an invalidation), else into the way the FIFO cursor names (the
    /// oldest insertion), reporting the entry evicted. Issue 13: the set's word counts its valid ways, so a full set (the
    /// steady state of a thrashed TLB) is not scanned.
    /// </summary>
    private void Insert(ref ulong st, in Geometry g, int s, ulong page, int shift, ulong ctx, out ulong evictedPage, out int evictedShift)
    {
        evictedPage = 0;
        evictedShift = 0;
        int ways = g.Ways;
        int set = (int)(page & g.SetMask);
        ref ulong e0 = ref Unsafe.Add(ref st, g.Entries + 2 * set * ways);
        ref ulong counter = ref Unsafe.Add(ref st, g.Counters + set);
        int way;
        if ((int)(counter >> 32) < ways)
        {
            way = 0;
            while (Unsafe.Add(ref e0, 2 * way) != 0) way++; // an empty way first (after an invalidation)
            counter += 1UL << 32;
        }
        else
        {
            // FIFO: the way the cursor names is the oldest insertion.
            way = (int)(uint)counter;
            counter = (counter & ~0xFFFF_FFFFUL) | (uint)(way + 1 == ways ? 0 : way + 1);
            ulong old = Unsafe.Add(ref e0, 2 * way);
            evictedShift = (int)((old >> 56) & 0x3F);
            evictedPage = old & PageMask;
        }
        Unsafe.Add(ref e0, 2 * way) = Key(page, shift);
        Unsafe.Add(ref e0, 2 * way + 1) = ctx;
        Unsafe.Add(ref st, _presence) |= PresenceBit(s, shift);
    }

    private static ulong Key(ulong page, int shift) => Valid | ((ulong)shift << 56) | (page & PageMask);

    /// <summary>Drops every entry.</summary>
    public static void FlushAll(ulong[] state) => Array.Clear(state);

    /// <summary>Empties entry <paramref name="i"/> (0-based within structure <paramref name="g"/>) and counts its set one way less.</summary>
    private static void Clear(ulong[] state, in Geometry g, int i)
    {
        int e = g.Entries + 2 * i;
        state[e] = 0;
        state[e + 1] = 0;
        state[g.Counters + i / g.Ways] -= 1UL << 32;
    }

    /// <summary>
    /// Drops the entries a predicate selects in every structure; the first-level ones dropped are handed to
    /// <paramref name="dropped"/> (page, shift) so that the software TLB follows.
    /// </summary>
    private void Drop<T>(ulong[] state, T match, Action<ulong, int>? dropped) where T : IEntryMatch
    {
        for (int s = 0; s < Structures; s++)
        {
            ref readonly Geometry g = ref Of(s);
            int n = g.Ways == 0 ? 0 : (int)(g.SetMask + 1) * g.Ways;
            for (int i = 0, e = g.Entries; i < n; i++, e += 2)
            {
                ulong k = state[e];
                if (k == 0 || !match.Matches(k, state[e + 1])) continue;
                Clear(state, in g, i);
                if (s <= L11G) dropped?.Invoke(k & PageMask, (int)((k >> 56) & 0x3F));
            }
        }
    }

    private interface IEntryMatch { bool Matches(ulong key, ulong ctx); }

    private readonly struct NonGlobal(ulong vpid, int pcid) : IEntryMatch
    {
        public bool Matches(ulong key, ulong ctx) =>
            (ctx & GlobalBit) == 0 && (ctx & VpidMask) == vpid && (pcid < 0 || (int)(ctx & PcidMask) == pcid);
    }

    private readonly struct OfVpid(ulong vpid, bool keepGlobal) : IEntryMatch
    {
        public bool Matches(ulong key, ulong ctx) => (ctx & VpidMask) == vpid && !(keepGlobal && (ctx & GlobalBit) != 0);
    }

    private readonly struct NonZeroVpid : IEntryMatch
    {
        public bool Matches(ulong key, ulong ctx) => (ctx & VpidMask) != 0;
    }

    private readonly struct Combined(ulong vpid, bool anyVpid) : IEntryMatch
    {
        public bool Matches(ulong key, ulong ctx) => (ctx & CombinedBit) != 0 && (anyVpid || (ctx & VpidMask) == vpid);
    }

    private readonly struct Covering(ulong lin, ulong vpid) : IEntryMatch
    {
        public bool Matches(ulong key, ulong ctx)
        {
            int shift = (int)((key >> 56) & 0x3F);
            return (ctx & VpidMask) == vpid && (key & PageMask) == lin >> shift;
        }
    }

    /// <summary>MOV to CR3, INVPCID types 1/3: the non-global entries of <paramref name="vpid"/> (of one PCID, or all with -1).</summary>
    public void FlushNonGlobal(ulong[] state, ushort vpid, int pcid, Action<ulong, int>? dropped) =>
        Drop(state, new NonGlobal((ulong)vpid << 12, pcid), dropped);

    /// <summary>The entries of <paramref name="vpid"/> (VM transitions without VPIDs; INVVPID single-context, keeping globals for type 3).</summary>
    public void FlushVpid(ulong[] state, ushort vpid, bool keepGlobal, Action<ulong, int>? dropped) =>
        Drop(state, new OfVpid((ulong)vpid << 12, keepGlobal), dropped);

    /// <summary>INVVPID all-context: every VPID but 0000h.</summary>
    public void FlushNonZeroVpids(ulong[] state, Action<ulong, int>? dropped) => Drop(state, new NonZeroVpid(), dropped);

    /// <summary>Combined (EPT) mappings: INVEPT (every VPID), EPTP switching (the current VPID).</summary>
    public void FlushCombined(ulong[] state, ushort vpid, bool anyVpid, Action<ulong, int>? dropped) =>
        Drop(state, new Combined((ulong)vpid << 12, anyVpid), dropped);

    /// <summary>
    /// INVLPG, INVPCID type 0, INVVPID type 0: the entries of <paramref name="vpid"/> whose page holds
    /// <paramref name="lin"/>, any PCID, global or not. Only the sets that can hold it are looked at (one per
    /// structure and page size), so the cost does not grow with the TLB.
    /// </summary>
    public void InvalidatePage(ulong[] state, ulong lin, ushort vpid, Action<ulong, int>? dropped)
    {
        var match = new Covering(lin, (ulong)vpid << 12);
        for (int s = 0; s < Structures; s++)
        {
            ref readonly Geometry g = ref Of(s);
            if (g.Ways == 0) continue;
            foreach (int shift in s is L14K ? Shifts4K : s is L12M ? Shifts2M : s is S ? ShiftsStlb : Shifts1G)
            {
                int i = (int)((lin >> shift) & g.SetMask) * g.Ways;
                for (int w = 0; w < g.Ways; w++, i++)
                {
                    int e = g.Entries + 2 * i;
                    ulong k = state[e];
                    if (k == 0 || (int)((k >> 56) & 0x3F) != shift || !match.Matches(k, state[e + 1])) continue;
                    Clear(state, in g, i);
                    if (s <= L11G) dropped?.Invoke(k & PageMask, shift);
                }
            }
        }
    }

    private static readonly int[] Shifts4K = [12], Shifts2M = [21, 22], ShiftsStlb = [12, 21, 22], Shifts1G = [30];
}
