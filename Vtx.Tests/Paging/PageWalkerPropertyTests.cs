using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Memory.Paging;
using Xunit;

namespace Vtx.Tests.Paging;

/// <summary>
/// The walker against the independent reference model over generated page tables: same
/// translation (physical address, page size, rights, global, dirty) or the same #PF error code and
/// CR2, and the same memory afterwards (accessed/dirty flags).
/// </summary>
public class PageWalkerPropertyTests
{
    private static void Check(PagingScenario s)
    {
        var walkerMem = s.BuildMemory();
        var modelMem = walkerMem.Clone();
        var context = new PagingContext(s.Cr0, s.Cr3, s.Cr4, s.Efer, s.MaxPhyAddr);
        Assert.Equal(s.Mode, context.Mode);

        ulong[]? modelPdptes = null;
        if (s.Mode == PagingMode.Pae)
        {
            bool loaded = PageWalker.LoadPdptes(walkerMem, s.Cr3, s.MaxPhyAddr, out var pdptes);
            modelPdptes = ReferencePaging.LoadPdptes(modelMem, s.Cr3, s.MaxPhyAddr);
            Assert.Equal(modelPdptes is not null, loaded);
            if (!loaded) return; // MOV to CR3 would raise #GP(0): no walk
            Assert.Equal(modelPdptes, new[] { pdptes.Pdpte0, pdptes.Pdpte1, pdptes.Pdpte2, pdptes.Pdpte3 });
            context = context.WithPdptes(pdptes);
        }

        walkerMem.ResetCounters();
        var r = PageWalker.Walk(walkerMem, in context, s.Linear, s.Access);
        var m = ReferencePaging.Translate(modelMem, s.ModelRegisters, modelPdptes, s.Linear, s.ModelAccess);

        string what = $"walker {r} vs model {m}";
        Assert.True(m.Ok == r.Success, what);
        Assert.True(m.Cr2 == r.LinearAddress, what);
        if (m.Ok)
        {
            Assert.True(m.Physical == r.PhysicalAddress, what);
            Assert.True(m.PageBits == (int)r.Size, what);
            Assert.True(m.Writable == r.Writable && m.User == r.User && m.Executable == r.Executable, what);
            Assert.True(m.Global == r.Global && m.Dirty == r.Dirty, what);
        }
        else
        {
            Assert.True(m.ErrorCode == (uint)r.ErrorCode, what);
        }
        var diff = walkerMem.Differences(modelMem).Take(4).Select(a => $"0x{a:X}: walker 0x{walkerMem.Get(a, 8):X16} model 0x{modelMem.Get(a, 8):X16}").ToList();
        Assert.True(diff.Count == 0, what + "; memory differs at " + string.Join("; ", diff));
        Assert.Equal(walkerMem.Reads + walkerMem.Writes, r.MemoryAccesses);
    }

    [Property(MaxTest = 4000)]
    public Property Legacy32MatchesTheModel() => Prop.ForAll(Arb.From(PagingScenario.For(PagingMode.Legacy32)), Check);

    [Property(MaxTest = 4000)]
    public Property PaeMatchesTheModel() => Prop.ForAll(Arb.From(PagingScenario.For(PagingMode.Pae)), Check);

    [Property(MaxTest = 4000)]
    public Property Level4MatchesTheModel() => Prop.ForAll(Arb.From(PagingScenario.For(PagingMode.Level4)), Check);

    [Property(MaxTest = 4000)]
    public Property Level5MatchesTheModel() => Prop.ForAll(Arb.From(PagingScenario.For(PagingMode.Level5)), Check);

    /// <summary>Rights cached from a walk decide later accesses the way a fresh walk does (what a TLB hit relies on).</summary>
    [Property(MaxTest = 2000)]
    public Property CachedRightsAgreeWithAFreshWalk() =>
        Prop.ForAll(Arb.From(
            from s in PagingScenario.For(PagingMode.Level4)
            from kind in Gen.Elements(PageAccessKind.Read, PageAccessKind.Write, PageAccessKind.Execute)
            from cpl in Gen.Elements(0, 3)
            select (s, kind, cpl)), t =>
        {
            var (s, kind2, cpl2) = t;
            var mem = s.BuildMemory();
            var context = new PagingContext(s.Cr0, s.Cr3, s.Cr4, s.Efer, s.MaxPhyAddr);
            var first = PageWalker.Walk(mem, in context, s.Linear, s.Access);
            if (!first.Success) return;
            var second = new PageAccess(kind2, cpl2, s.Implicit && cpl2 == 3, s.Ac);
            bool cached = PageWalker.IsAccessAllowed(in context, second, first.Rights);
            var fresh = PageWalker.Walk(mem, in context, s.Linear, second);
            Assert.Equal(fresh.Success, cached);
            if (!cached) Assert.Equal(fresh.ErrorCode, context.FaultErrorCode(second, PageFaultErrorCode.Present));
        });
}
