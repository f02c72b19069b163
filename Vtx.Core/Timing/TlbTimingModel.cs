using System.Runtime.CompilerServices;

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
/// per structure, sets × ways entries of two words (key, context), then one FIFO cursor per set.
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

    private static readonly ConditionalWeakTable<TimingProfile, TlbTimingModel> Cache = new();

    private readonly int[] _sets = new int[Structures], _ways = new int[Structures], _entries = new int[Structures], _cursors = new int[Structures];

    private TlbTimingModel(TimingProfile p)
    {
        int at = 0;
        for (int s = 0; s < Structures; s++)
        {
            TlbGeometry g = p.Tlb((TlbStructure)s);
            _ways[s] = g.Entries == 0 ? 0 : g.Ways;
            _sets[s] = g.Entries == 0 ? 0 : g.Entries / g.Ways;
            _entries[s] = at;
            at += 2 * g.Entries;
        }
        for (int s = 0; s < Structures; s++)
        {
            _cursors[s] = at;
            at += _sets[s];
        }
        StateLength = at;
        StlbHitCycles = p.System(SystemCost.StlbHit);
        WalkCycles = p.System(SystemCost.PageWalk);
    }

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
        if (Find(state, L14K, lin, 12, ctx, out _) || Find(state, L12M, lin, 21, ctx, out _) || Find(state, L12M, lin, 22, ctx, out _)
            || Find(state, L11G, lin, 30, ctx, out _))
            return Outcome.L1Hit;
        ulong gbit = global ? GlobalBit : 0;
        // The STLB holds 4-KByte and 2/4-MByte translations; 1-GByte ones have their own second level (Skylake) or none (Haswell).
        ulong found;
        int hitShift = Find(state, S, lin, 12, ctx, out found) ? 12 : Find(state, S, lin, 21, ctx, out found) ? 21
            : Find(state, S, lin, 22, ctx, out found) ? 22 : Find(state, S1G, lin, 30, ctx, out found) ? 30 : 0;
        if (hitShift != 0)
        {
            InsertL1(state, lin, hitShift, ctx | (found & GlobalBit), out evictedPage, out evictedShift);
            return Outcome.StlbHit;
        }
        if (pageShift != 0)
        {
            int second = pageShift == 30 ? S1G : S;
            if (_sets[second] != 0) Insert(state, second, lin >> pageShift, pageShift, ctx | gbit, out _, out _);
            InsertL1(state, lin, pageShift, ctx | gbit, out evictedPage, out evictedShift);
        }
        return Outcome.Miss;
    }

    private void InsertL1(ulong[] state, ulong lin, int shift, ulong ctx, out ulong evictedPage, out int evictedShift)
    {
        int s = shift == 12 ? L14K : shift == 30 ? L11G : L12M;
        if (_sets[s] == 0) { s = L14K; shift = 12; } // no first-level array for the size: the page is held as 4-KByte pieces
        Insert(state, s, lin >> shift, shift, ctx, out evictedPage, out evictedShift);
    }

    private bool Find(ulong[] state, int s, ulong lin, int shift, ulong ctx, out ulong found)
    {
        found = 0;
        int sets = _sets[s];
        if (sets == 0) return false;
        ulong page = lin >> shift;
        ulong key = Key(page, shift);
        int e = _entries[s] + 2 * (int)(page & (ulong)(sets - 1)) * _ways[s];
        for (int w = 0; w < _ways[s]; w++, e += 2)
        {
            if (state[e] != key) continue;
            ulong c = state[e + 1];
            // The VPID and the combined bit always match; the PCID too, unless the entry is global.
            if (((c ^ ctx) & (VpidMask | CombinedBit)) != 0) continue;
            if ((c & GlobalBit) == 0 && ((c ^ ctx) & PcidMask) != 0) continue;
            found = c;
            return true;
        }
        return false;
    }

    private void Insert(ulong[] state, int s, ulong page, int shift, ulong ctx, out ulong evictedPage, out int evictedShift)
    {
        evictedPage = 0;
        evictedShift = 0;
        int sets = _sets[s], ways = _ways[s];
        int set = (int)(page & (ulong)(sets - 1));
        int e0 = _entries[s] + 2 * set * ways;
        int way = -1;
        for (int w = 0; w < ways; w++)
            if (state[e0 + 2 * w] == 0) { way = w; break; } // an empty way first (after an invalidation)
        if (way < 0)
        {
            // FIFO: the way the cursor names is the oldest insertion.
            ref ulong cursor = ref state[_cursors[s] + set];
            way = (int)cursor;
            cursor = (ulong)((way + 1) % ways);
            ulong old = state[e0 + 2 * way];
            evictedShift = (int)((old >> 56) & 0x3F);
            evictedPage = old & ((1UL << 56) - 1);
        }
        state[e0 + 2 * way] = Key(page, shift);
        state[e0 + 2 * way + 1] = ctx;
    }

    private static ulong Key(ulong page, int shift) => Valid | ((ulong)shift << 56) | (page & ((1UL << 56) - 1));

    /// <summary>Drops every entry.</summary>
    public static void FlushAll(ulong[] state) => Array.Clear(state);

    /// <summary>
    /// Drops the entries a predicate selects in every structure; the first-level ones dropped are handed to
    /// <paramref name="dropped"/> (page, shift) so that the software TLB follows.
    /// </summary>
    private void Drop<T>(ulong[] state, T match, Action<ulong, int>? dropped) where T : IEntryMatch
    {
        for (int s = 0; s < Structures; s++)
        {
            int n = _sets[s] * _ways[s];
            for (int i = 0, e = _entries[s]; i < n; i++, e += 2)
            {
                ulong k = state[e];
                if (k == 0 || !match.Matches(k, state[e + 1])) continue;
                state[e] = 0;
                state[e + 1] = 0;
                if (s <= L11G) dropped?.Invoke(k & ((1UL << 56) - 1), (int)((k >> 56) & 0x3F));
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
            return (ctx & VpidMask) == vpid && (key & ((1UL << 56) - 1)) == lin >> shift;
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
            if (_sets[s] == 0) continue;
            foreach (int shift in s is L14K ? Shifts4K : s is L12M ? Shifts2M : s is S ? ShiftsStlb : Shifts1G)
            {
                int e = _entries[s] + 2 * (int)((lin >> shift) & (ulong)(_sets[s] - 1)) * _ways[s];
                for (int w = 0; w < _ways[s]; w++, e += 2)
                {
                    ulong k = state[e];
                    if (k == 0 || (int)((k >> 56) & 0x3F) != shift || !match.Matches(k, state[e + 1])) continue;
                    state[e] = 0;
                    state[e + 1] = 0;
                    if (s <= L11G) dropped?.Invoke(k & ((1UL << 56) - 1), shift);
                }
            }
        }
    }

    private static readonly int[] Shifts4K = [12], Shifts2M = [21, 22], ShiftsStlb = [12, 21, 22], Shifts1G = [30];
}
