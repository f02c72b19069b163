using FsCheck;
using FsCheck.Fluent;
using Vtx.Timing;
using Xunit;

namespace Vtx.Tests.Timing;

/// <summary>
/// Issue 13: <see cref="TlbTimingModel"/> keeps per-set counts of valid ways and a word of the page sizes present so that
/// its miss path scans nothing it need not. Its decisions must stay those of the textbook structure it models: per
/// structure, sets of ways holding (page at its size, context); lookups first level (4K, 2M/4M, 1G) then second level;
/// an insertion takes the lowest empty way, else the FIFO victim (oldest insertion; hits change nothing); flushes by
/// context, VPID, combined bit or covering page. The reference below is that structure as lists, written from the
/// rules (it shares no code with the model), and random operation sequences must give the same outcomes, the same
/// evicted first-level entry, and the same first-level entries handed back by every flush.
/// </summary>
public sealed class TlbTimingModelTests
{
    private const ulong Global = TlbTimingModel.GlobalBit, Combined = TlbTimingModel.CombinedBit;

    private sealed class Reference
    {
        private sealed class Slot { public bool Used; public ulong Page; public int Shift; public ulong Ctx; }
        private readonly List<Slot[]>[] _sets = new List<Slot[]>[5];
        private readonly List<int>[] _cursor = new List<int>[5];
        public readonly List<(ulong, int)> Dropped = [];

        public Reference(TimingProfile p)
        {
            for (int s = 0; s < 5; s++)
            {
                var g = p.Tlb((TlbStructure)s);
                int sets = g.Entries == 0 ? 0 : g.Entries / g.Ways;
                _sets[s] = Enumerable.Range(0, sets).Select(_ => Enumerable.Range(0, g.Ways).Select(_ => new Slot()).ToArray()).ToList();
                _cursor[s] = Enumerable.Repeat(0, sets).ToList();
            }
        }

        private static bool Matches(Slot e, ulong page, int shift, ulong ctx)
        {
            const ulong vpidCombined = (0xFFFFUL << 12) | Combined;
            return e.Used && e.Page == page && e.Shift == shift && ((e.Ctx ^ ctx) & vpidCombined) == 0
                && ((e.Ctx & Global) != 0 || ((e.Ctx ^ ctx) & TlbTimingModel.PcidMask) == 0);
        }

        private Slot? Find(int s, ulong lin, int shift, ulong ctx)
        {
            if (_sets[s].Count == 0) return null;
            ulong page = (lin >> shift) & ((1UL << 56) - 1);
            return _sets[s][(int)(page % (ulong)_sets[s].Count)].FirstOrDefault(e => Matches(e, page, shift, ctx));
        }

        private (ulong, int) Insert(int s, ulong page, int shift, ulong ctx)
        {
            page &= (1UL << 56) - 1;
            int set = (int)(page % (ulong)_sets[s].Count);
            var ways = _sets[s][set];
            (ulong, int) evicted = (0, 0);
            var slot = ways.FirstOrDefault(e => !e.Used);
            if (slot is null)
            {
                slot = ways[_cursor[s][set]];
                _cursor[s][set] = (_cursor[s][set] + 1) % ways.Length;
                evicted = (slot.Page, slot.Shift);
            }
            slot.Used = true; slot.Page = page; slot.Shift = shift; slot.Ctx = ctx;
            return evicted;
        }

        private (ulong, int) InsertL1(ulong lin, int shift, ulong ctx)
        {
            int s = shift == 12 ? 0 : shift == 30 ? 2 : 1;
            if (_sets[s].Count == 0) { s = 0; shift = 12; }
            return Insert(s, lin >> shift, shift, ctx);
        }

        public (TlbTimingModel.Outcome, ulong, int) Access(ulong lin, ulong ctx, int pageShift, bool global)
        {
            if (Find(0, lin, 12, ctx) is not null || Find(1, lin, 21, ctx) is not null || Find(1, lin, 22, ctx) is not null || Find(2, lin, 30, ctx) is not null)
                return (TlbTimingModel.Outcome.L1Hit, 0, 0);
            foreach (var (s, shift) in new[] { (3, 12), (3, 21), (3, 22), (4, 30) })
                if (Find(s, lin, shift, ctx) is Slot hit)
                {
                    var (p, sh) = InsertL1(lin, shift, ctx | (hit.Ctx & Global));
                    return (TlbTimingModel.Outcome.StlbHit, p, sh);
                }
            if (pageShift == 0) return (TlbTimingModel.Outcome.Miss, 0, 0);
            ulong c = ctx | (global ? Global : 0);
            int second = pageShift == 30 ? 4 : 3;
            if (_sets[second].Count != 0) Insert(second, lin >> pageShift, pageShift, c);
            var (ep, es) = InsertL1(lin, pageShift, c);
            return (TlbTimingModel.Outcome.Miss, ep, es);
        }

        private void Drop(Func<Slot, bool> match)
        {
            for (int s = 0; s < 5; s++)
                foreach (var set in _sets[s])
                    foreach (var e in set)
                        if (e.Used && match(e))
                        {
                            e.Used = false;
                            if (s <= 2) Dropped.Add((e.Page, e.Shift));
                        }
        }

        public void FlushAll() { foreach (var l in _sets) foreach (var set in l) foreach (var e in set) e.Used = false; foreach (var c in _cursor) for (int i = 0; i < c.Count; i++) c[i] = 0; }
        public void FlushNonGlobal(ushort vpid, int pcid) => Drop(e => (e.Ctx & Global) == 0 && (e.Ctx >> 12 & 0xFFFF) == vpid && (pcid < 0 || (int)(e.Ctx & 0xFFF) == pcid));
        public void FlushVpid(ushort vpid, bool keepGlobal) => Drop(e => (e.Ctx >> 12 & 0xFFFF) == vpid && !(keepGlobal && (e.Ctx & Global) != 0));
        public void FlushCombined(ushort vpid, bool any) => Drop(e => (e.Ctx & Combined) != 0 && (any || (e.Ctx >> 12 & 0xFFFF) == vpid));
        public void InvalidatePage(ulong lin, ushort vpid) => Drop(e => (e.Ctx >> 12 & 0xFFFF) == vpid && e.Page == lin >> e.Shift);
    }

    /// <summary>One operation: kind 0-5 accesses (of mixed page sizes and contexts), 6 INVLPG, 7 MOV CR3, 8 VPID flush, 9 INVEPT, 10 everything.</summary>
    private sealed record Op(int Kind, int Page, int Ctx, int Size, bool Global);

    private static readonly Gen<Op> Ops =
        from kind in Gen.Frequency((30, Gen.Choose(0, 5)), (1, Gen.Choose(6, 9)), (1, Gen.Constant(10)))
        from page in Gen.Frequency((6, Gen.Choose(0, 63).Select(i => i * 16)), (3, Gen.Choose(0, 4095)), (1, Gen.Elements(0, 512, 0x40000, 0x3FFFF)))
        from ctx in Gen.Choose(0, 7)
        from size in Gen.Frequency((8, Gen.Constant(12)), (2, Gen.Constant(21)), (1, Gen.Constant(22)), (1, Gen.Constant(30)), (1, Gen.Constant(0)))
        from global in Gen.Elements(false, false, true)
        select new Op(kind, page, ctx, size, global);

    private static ulong Context(int c) => (ulong)(uint)(c & 1) | ((ulong)(uint)((c >> 1) & 1) << (int)TlbTimingModel.VpidShift) | ((c & 4) != 0 ? Combined : 0UL);

    [Theory]
    [InlineData("skylake-client")]
    [InlineData("haswell")]
    public void RandomSequencesDecideAsTheTextbookStructure(string name)
    {
        var p = TimingProfile.ByName(name);
        var model = TlbTimingModel.For(p)!;
        Prop.ForAll(Gen.ArrayOf(Ops).Select(a => a.Take(3000).ToArray()).ToArbitrary(), ops =>
        {
            var state = new ulong[model.StateLength];
            var reference = new Reference(p);
            var dropped = new List<(ulong, int)>();
            void Drop(ulong page, int shift) => dropped.Add((page, shift));
            foreach (var op in ops)
            {
                ulong lin = ((ulong)op.Page << 12) | 0xABC;
                ulong ctx = Context(op.Ctx);
                ushort vpid = (ushort)(ctx >> 12 & 0xFFFF);
                switch (op.Kind)
                {
                    case <= 5:
                        var o = model.Access(state, lin, ctx, op.Size, op.Global, out ulong ep, out int es);
                        Assert.Equal(reference.Access(lin, ctx, op.Size, op.Global), (o, ep, es));
                        break;
                    case 6: model.InvalidatePage(state, lin, vpid, Drop); reference.InvalidatePage(lin, vpid); break;
                    case 7: model.FlushNonGlobal(state, vpid, (int)(ctx & 1), Drop); reference.FlushNonGlobal(vpid, (int)(ctx & 1)); break;
                    case 8: model.FlushVpid(state, vpid, op.Global, Drop); reference.FlushVpid(vpid, op.Global); break;
                    case 9: model.FlushCombined(state, vpid, op.Global, Drop); reference.FlushCombined(vpid, op.Global); break;
                    default: TlbTimingModel.FlushAll(state); reference.FlushAll(); break;
                }
                // The software TLB drops what it is handed, in any order.
                Assert.Equal(reference.Dropped.Order(), dropped.Order());
                reference.Dropped.Clear();
                dropped.Clear();
            }
        }).QuickCheckThrowOnFailure();
    }
}
