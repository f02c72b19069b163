using Vtx.Memory;
using Vtx.Memory.Paging;
using Xunit;
using static Vtx.Tests.Paging.PagingTestBuilder;

namespace Vtx.Tests.Paging;

/// <summary>
/// Example-based page walks: every page size in every mode, every fault kind with its exact error
/// code (SDM Vol. 3A, 4.7), PDPTE loading, accessed/dirty updates and garbage tables.
/// </summary>
public class PageWalkerTests
{
    private const PageFaultErrorCode Pr = PageFaultErrorCode.Present, Wr = PageFaultErrorCode.Write, Us = PageFaultErrorCode.User,
        Rsvd = PageFaultErrorCode.Reserved, Id = PageFaultErrorCode.InstructionFetch, None = PageFaultErrorCode.None;

    private static readonly PageAccess SupRead = PageAccess.Read(0), SupWrite = PageAccess.Write(0), SupFetch = PageAccess.Execute(0);
    private static readonly PageAccess UserRead = PageAccess.Read(3), UserWrite = PageAccess.Write(3), UserFetch = PageAccess.Execute(3);

    private static void AssertFault(PageWalkResult r, PageFaultErrorCode code, ulong cr2)
    {
        Assert.False(r.Success, r.ToString());
        Assert.Equal(code, r.ErrorCode);
        Assert.Equal(cr2, r.LinearAddress);
        Assert.Equal(PageSize.None, r.Size);
    }

    private static void AssertMaps(PageWalkResult r, ulong physical, PageSize size)
    {
        Assert.True(r.Success, r.ToString());
        Assert.Equal(physical, r.PhysicalAddress);
        Assert.Equal(size, r.Size);
    }

    // ------------------------------------------------------------------ paging disabled

    [Fact]
    public void DisabledIsIdentity()
    {
        var b = new PagingTestBuilder();
        var r = b.Walk(new PagingContext(Cr0Pe, 0x1000, 0, 0), 0xDEAD_BEEFUL, UserWrite);
        AssertMaps(r, 0xDEAD_BEEFUL, PageSize.Size4KiB);
        Assert.Equal(PageRights.All, r.Rights);
        Assert.Equal(0, r.MemoryAccesses);
    }

    // ------------------------------------------------------------------ 32-bit paging

    [Fact]
    public void Legacy32MapsA4KiBPageAndSetsAccessedAndDirty()
    {
        var b = new PagingTestBuilder();
        ulong pd = b.NewTable(), pt = b.NewTable();
        var (pdeAt, pteAt) = b.Map32(pd, 0x8049_1234, (uint)(pt | P | RW | US), 0x0055_5000 | (uint)(P | RW | US));
        var ctx = Legacy(pd | PWT);

        var r = b.Walk(ctx, 0x8049_1234, UserRead);
        AssertMaps(r, 0x0055_5234, PageSize.Size4KiB);
        Assert.Equal(PageRights.All, r.Rights);
        Assert.False(r.Dirty);
        Assert.Equal(4, r.MemoryAccesses); // two reads, two A updates
        Assert.Equal(pt | P | RW | US | A, b.Get32(pdeAt));
        Assert.Equal(0x0055_5000 | P | RW | US | A, b.Get32(pteAt));

        r = b.Walk(ctx, 0x8049_1FFF, UserWrite);
        AssertMaps(r, 0x0055_5FFF, PageSize.Size4KiB);
        Assert.True(r.Dirty);
        Assert.Equal(3, r.MemoryAccesses); // D only, on the PTE
        Assert.Equal(pt | P | RW | US | A, b.Get32(pdeAt));
        Assert.Equal(0x0055_5000 | P | RW | US | A | D, b.Get32(pteAt));

        Assert.Equal(2, b.Walk(ctx, 0x8049_1000, SupWrite).MemoryAccesses); // nothing left to set
    }

    [Fact]
    public void Legacy32MapsA4MiBPageWithPse()
    {
        var b = new PagingTestBuilder();
        ulong pd = b.NewTable();
        var (pdeAt, _) = b.Map32(pd, 0xC012_3456, 0x0840_0000 | (uint)(P | RW | PS | G), 0);
        var r = b.Walk(Legacy(pd, cr4Extra: Cr4Pse | Cr4Pge), 0xC012_3456, SupWrite);
        AssertMaps(r, 0x0852_3456, PageSize.Size4MiB);
        Assert.True(r.Global);
        Assert.True(r.Dirty);
        Assert.Equal(PageRights.Writable | PageRights.Executable, r.Rights);
        Assert.Equal(0x0840_0000 | P | RW | PS | G | A | D, b.Get32(pdeAt));
    }

    [Fact]
    public void Legacy32IgnoresPsWithoutPse()
    {
        var b = new PagingTestBuilder();
        ulong pd = b.NewTable(), pt = b.NewTable();
        b.Map32(pd, 0x0040_2000, (uint)(pt | P | RW | PS), 0x0077_7000 | (uint)(P | G));
        var r = b.Walk(Legacy(pd, cr4Extra: Cr4Pge), 0x0040_2010, SupRead);
        AssertMaps(r, 0x0077_7010, PageSize.Size4KiB);
        Assert.True(r.Global);
        Assert.Equal(PageRights.Executable, r.Rights);
    }

    [Theory]
    [InlineData(40, 0x24u << 13, 0x24_0000_0000UL)]    // PDE bits 20:13 -> PA bits 39:32
    [InlineData(36, 0x0001_E000u, 0x0F_0000_0000UL)]   // bits 16:13 = 0xF -> PA bits 35:32
    [InlineData(46, 0x001F_E000u, 0xFF_0000_0000UL)]   // MAXPHYADDR above 40: capped at 40 bits
    public void Legacy32Pse36HighAddressBits(int maxPhy, uint highField, ulong expectedHigh)
    {
        var b = new PagingTestBuilder();
        ulong pd = b.NewTable();
        b.Map32(pd, 0x0080_0000, 0x0C00_0000 | highField | (uint)(P | PS), 0);
        var r = b.Walk(Legacy(pd, cr4Extra: Cr4Pse, maxPhy: maxPhy), 0x0080_0ABC, SupRead);
        AssertMaps(r, expectedHigh | 0x0C00_0ABC, PageSize.Size4MiB);
    }

    [Theory]
    [InlineData(40, 21)]
    [InlineData(36, 17)]
    [InlineData(36, 21)]
    [InlineData(32, 13)]
    public void Legacy32Pse36ReservedBitsFault(int maxPhy, int bit)
    {
        var b = new PagingTestBuilder();
        ulong pd = b.NewTable();
        var (pdeAt, _) = b.Map32(pd, 0x0080_0000, 0x0C00_0000 | (1u << bit) | (uint)(P | PS | US), 0);
        var r = b.Walk(Legacy(pd, cr4Extra: Cr4Pse, maxPhy: maxPhy), 0x0080_0ABC, UserWrite);
        AssertFault(r, Pr | Wr | Us | Rsvd, 0x0080_0ABC);
        Assert.Equal(0x0C00_0000 | (1u << bit) | (uint)(P | PS | US), b.Get32(pdeAt)); // a faulting entry is not written
    }

    [Fact]
    public void Legacy32HasNoExecuteDisableAndReportsIdOnlyWithSmep()
    {
        var b = new PagingTestBuilder();
        ulong pd = b.NewTable(), pt = b.NewTable();
        b.Map32(pd, 0x0010_0000, (uint)(pt | P | RW | US), 0);
        // Not-present fetch with NXE = 1: I/D stays 0 because CR4.PAE = 0 (SDM Vol. 3A, 4.7).
        AssertFault(b.Walk(Legacy(pd, eferExtra: EferNxe), 0x0010_0123, UserFetch), Us, 0x0010_0123);
        AssertFault(b.Walk(Legacy(pd, cr4Extra: Cr4Smep), 0x0010_0123, UserFetch), Us | Id, 0x0010_0123);
        // Linear-address bits above 31 do not exist outside IA-32e mode.
        AssertFault(b.Walk(Legacy(pd), 0xFFFF_0000_0010_0123UL, SupRead), None, 0x0010_0123);
    }

    // ------------------------------------------------------------------ PAE paging

    private static (PagingTestBuilder B, ulong Cr3, ulong Pd) PaeSetup(ulong pdpteFlags = P)
    {
        var b = new PagingTestBuilder();
        ulong pdpt = b.NewTable() + 0x40; // 32-byte aligned anywhere in the page
        ulong pd = b.NewTable();
        b.Set64(pdpt + 2 * 8, pd | pdpteFlags); // linear 0x8000_0000 .. 0xBFFF_FFFF
        return (b, pdpt, pd);
    }

    [Fact]
    public void PaeMaps4KiBAnd2MiBPages()
    {
        var (b, cr3, pd) = PaeSetup(P | PWT);
        var ctx = b.Pae(cr3 | 0x18);
        Assert.Equal(pd | P | PWT, ctx.Pdptes.Pdpte2);
        var path = b.Map(pd, 2, 0x8123_4567, 1, 0x1_2345_6000UL | P | RW | US);
        var r = b.Walk(ctx, 0x8123_4567, UserWrite);
        AssertMaps(r, 0x1_2345_6567UL, PageSize.Size4KiB); // above 4 GiB
        Assert.Equal(4, r.MemoryAccesses);             // PDE, PTE; A on the PDE; A|D on the PTE
        Assert.Equal(A, b.Get64(path[0]) & (A | D));
        Assert.Equal(A | D, b.Get64(path[1]) & (A | D));

        b.Map(pd, 2, 0x8060_0000, 2, 0x2_0060_0000UL | P | PS | G | XD);
        var nx = b.Pae(cr3, cr4Extra: Cr4Pge, eferExtra: EferNxe);
        r = b.Walk(nx, 0x807F_FFFF, SupRead);
        AssertMaps(r, 0x2_007F_FFFFUL, PageSize.Size2MiB);
        Assert.True(r.Global);
        Assert.Equal(PageRights.None, r.Rights);
        AssertFault(b.Walk(nx, 0x807F_FFFF, SupFetch), Pr | Id, 0x807F_FFFF);
    }

    [Fact]
    public void PaeNotPresentPdpteFaults()
    {
        var (b, cr3, _) = PaeSetup();
        var ctx = b.Pae(cr3, eferExtra: EferNxe);
        AssertFault(b.Walk(ctx, 0x4000_0000, SupRead), None, 0x4000_0000);
        AssertFault(b.Walk(ctx, 0x4000_0000, UserWrite), Wr | Us, 0x4000_0000);
        AssertFault(b.Walk(ctx, 0x4000_0000, UserFetch), Us | Id, 0x4000_0000);
        Assert.Equal(0, b.Walk(ctx, 0x4000_0000, SupRead).MemoryAccesses);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(5, false)]
    [InlineData(6, false)]
    [InlineData(7, false)]
    [InlineData(8, false)]
    [InlineData(46, false)]
    [InlineData(51, false)]
    [InlineData(63, false)]
    [InlineData(3, true)]  // PWT
    [InlineData(4, true)]  // PCD
    [InlineData(9, true)]  // 11:9 ignored
    [InlineData(45, true)] // an address bit
    public void PdpteLoadChecksReservedBits(int bit, bool loads)
    {
        var (b, cr3, pd) = PaeSetup();
        b.Set64(cr3 + 8, pd | P | (1UL << bit));
        Assert.Equal(loads, PageWalker.LoadPdptes(b.Mem, cr3, 46, out var pdptes));
        if (loads) Assert.Equal(pd | P | (1UL << bit), pdptes.Pdpte1);
        else Assert.Equal(default, pdptes);
        // A not-present PDPTE has no reserved bits.
        b.Set64(cr3 + 8, ~P);
        Assert.True(PageWalker.LoadPdptes(b.Mem, cr3, 46, out _));
        Assert.True(PaePdptes.HasReservedBits(P | (1UL << 36), 36));
        Assert.False(PaePdptes.HasReservedBits(P | (1UL << 35), 36));
    }

    [Theory]
    [InlineData(52, false)] // PAE: bits 62:M are reserved (unlike IA-32e paging, where 62:52 are ignored)
    [InlineData(62, false)]
    [InlineData(46, false)]
    [InlineData(63, false)] // XD with NXE = 0
    [InlineData(9, true)]  // ignored
    [InlineData(11, true)]
    public void PaePdeReservedBits(int bit, bool ok)
    {
        var (b, cr3, pd) = PaeSetup();
        b.Map(pd, 2, 0x8000_0000, 1, 0x5000 | P);
        ulong pdeAt = pd;
        b.Set64(pdeAt, b.Get64(pdeAt) | (1UL << bit));
        var r = b.Walk(b.Pae(cr3), 0x8000_0010, SupRead);
        if (ok) Assert.True(r.Success);
        else AssertFault(r, Pr | Rsvd, 0x8000_0010);
    }

    [Fact]
    public void Pae2MiBPageLowAddressBitsAreReserved()
    {
        var (b, cr3, pd) = PaeSetup();
        b.Map(pd, 2, 0x8000_0000, 2, 0x0020_0000 | (1UL << 13) | P | PS);
        AssertFault(b.Walk(b.Pae(cr3), 0x8000_0000, SupFetch), Pr | Rsvd, 0x8000_0000);
        b.Map(pd, 2, 0x8000_0000, 2, 0x0020_0000 | (1UL << 12) | P | PS); // bit 12 is PAT
        AssertMaps(b.Walk(b.Pae(cr3), 0x8000_0000, SupFetch), 0x0020_0000, PageSize.Size2MiB);
    }

    // ------------------------------------------------------------------ 4-level and 5-level paging

    [Theory]
    [InlineData(4, 1, 0x0000_7F12_3456_789AUL, 0x3_ABCD_E000UL, 0x3_ABCD_E89AUL, PageSize.Size4KiB)]
    [InlineData(4, 2, 0xFFFF_8000_1234_5678UL, 0x3_4000_0000UL, 0x3_4014_5678UL, PageSize.Size2MiB)]
    [InlineData(4, 3, 0xFFFF_FFFF_C123_4567UL, 0x40_0000_0000UL, 0x40_0123_4567UL, PageSize.Size1GiB)]
    [InlineData(5, 1, 0x00AB_CDEF_0123_4567UL, 0x7000UL, 0x7567UL, PageSize.Size4KiB)]
    [InlineData(5, 2, 0xFF12_3456_789A_BCDEUL, 0x20_0000UL, 0x3A_BCDEUL, PageSize.Size2MiB)]
    [InlineData(5, 3, 0x0012_3456_789A_BCDEUL, 0x1_C000_0000UL, 0x1_F89A_BCDEUL, PageSize.Size1GiB)]
    public void IA32eMapsEveryPageSize(int levels, int leafLevel, ulong linear, ulong frame, ulong expected, PageSize size)
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        ulong leaf = frame | P | RW | (leafLevel > 1 ? PS : 0);
        var path = b.Map(root, levels, linear, leafLevel, leaf);
        var ctx = levels == 5 ? Long5(root) : Long4(root);
        var r = b.Walk(ctx, linear, SupRead);
        AssertMaps(r, expected, size);
        Assert.Equal(PageRights.Writable | PageRights.Executable, r.Rights);
        Assert.False(r.Dirty);
        Assert.Equal(path.Length * 2, r.MemoryAccesses);
        foreach (ulong at in path) Assert.Equal(A, b.Get64(at) & (A | D));
        r = b.Walk(ctx, linear, SupWrite);
        Assert.True(r.Dirty);
        Assert.Equal(path.Length + 1, r.MemoryAccesses);
        Assert.Equal(A | D, b.Get64(path[^1]) & (A | D));
        for (int i = 0; i < path.Length - 1; i++) Assert.Equal(A, b.Get64(path[i]) & (A | D)); // D only on the leaf
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    [InlineData(2)]
    [InlineData(1)]
    public void NotPresentAtEachLevel(int level)
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        const ulong lin = 0x0000_1234_5678_9000UL;
        var path = b.Map(root, 4, lin, 1, 0x9000 | P | RW | US);
        ulong np = b.Get64(path[4 - level]) & ~P; // P = 0 with all other bits left as they were
        b.Set64(path[4 - level], np);
        var ctx = Long4(root, eferExtra: EferNxe);
        AssertFault(b.Walk(ctx, lin, SupRead), None, lin);
        AssertFault(b.Walk(ctx, lin, SupWrite), Wr, lin);
        AssertFault(b.Walk(ctx, lin, UserRead), Us, lin);
        AssertFault(b.Walk(ctx, lin, UserWrite), Wr | Us, lin);
        AssertFault(b.Walk(ctx, lin, SupFetch), Id, lin);
        AssertFault(b.Walk(ctx, lin, UserFetch), Us | Id, lin);
        AssertFault(b.Walk(Long4(root), lin, UserFetch), Us, lin); // NXE = 0, SMEP = 0: no I/D
        // Entries above the not-present one were used (A set); it and those below were not touched.
        for (int i = 0; i < path.Length; i++)
        {
            ulong a = b.Get64(path[i]) & A;
            Assert.Equal(i < 4 - level ? A : 0, a);
        }
        Assert.Equal(np, b.Get64(path[4 - level]));
    }

    [Theory]
    [InlineData(4, 7, 46)]   // PS in a PML4E
    [InlineData(4, 51, 46)]  // above MAXPHYADDR
    [InlineData(4, 46, 46)]
    [InlineData(3, 40, 40)]
    [InlineData(2, 63, 46)]  // XD with NXE = 0
    [InlineData(1, 63, 52)]
    [InlineData(1, 50, 50)]
    public void ReservedBitAtEachLevel(int level, int bit, int maxPhy)
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        const ulong lin = 0xFFFF_8765_4321_0FFFUL;
        var path = b.Map(root, 4, lin, 1, 0x9000 | P | RW | US);
        ulong bad = b.Get64(path[4 - level]) | (1UL << bit);
        b.Set64(path[4 - level], bad);
        var ctx = Long4(root, maxPhy: maxPhy);
        AssertFault(b.Walk(ctx, lin, UserWrite), Pr | Wr | Us | Rsvd, lin);
        AssertFault(b.Walk(ctx, lin, SupRead), Pr | Rsvd, lin);
        for (int i = 0; i < path.Length; i++)
            Assert.Equal(i < 4 - level ? A : 0, b.Get64(path[i]) & A);
        Assert.Equal(bad, b.Get64(path[4 - level]));
    }

    [Fact]
    public void PsInAPml5eIsReserved()
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        var path = b.Map(root, 5, 0x1000, 1, 0x1000 | P);
        b.Set64(path[0], b.Get64(path[0]) | PS);
        AssertFault(b.Walk(Long5(root), 0x1000, SupRead), Pr | Rsvd, 0x1000);
    }

    [Theory]
    [InlineData(3, 13)]
    [InlineData(3, 29)]
    [InlineData(2, 13)]
    [InlineData(2, 20)]
    public void LargePageLowAddressBitsAreReserved(int level, int bit)
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        b.Map(root, 4, 0x4000_0000, level, 0x40_0000_0000UL | (1UL << bit) | P | PS);
        AssertFault(b.Walk(Long4(root), 0x4000_0000, SupRead), Pr | Rsvd, 0x4000_0000);
    }

    [Fact]
    public void IA32eIgnoresBits62To52AndUsesXdOnlyWithNxe()
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        var path = b.Map(root, 4, 0x5000, 1, 0x7FF0_0000_0000_5000UL | P | US);
        var r = b.Walk(Long4(root, eferExtra: EferNxe), 0x5000, UserFetch);
        AssertMaps(r, 0x5000, PageSize.Size4KiB);
        b.Set64(path[3], b.Get64(path[3]) | XD);
        AssertFault(b.Walk(Long4(root, eferExtra: EferNxe), 0x5000, UserFetch), Pr | Us | Id, 0x5000);
        AssertMaps(b.Walk(Long4(root, eferExtra: EferNxe), 0x5000, UserRead), 0x5000, PageSize.Size4KiB);
        AssertFault(b.Walk(Long4(root), 0x5000, UserRead), Pr | Us | Rsvd, 0x5000);
    }

    // ------------------------------------------------------------------ access rights (SDM Vol. 3A, 4.6.1)

    public enum Who { Sup, User, Implicit, ImplicitAtCpl3 }

    /// <summary>
    /// One 4-KiB user or supervisor page behind 4-level paging; <paramref name="pageFlags"/> go on the PTE,
    /// <paramref name="upperFlags"/> replace R/W/U/S/XD on the PDPTE (ANDed / ORed over levels).
    /// </summary>
    [Theory]
    // supervisor writes and CR0.WP
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Write, false, 0UL, 0UL, 0u)]
    [InlineData(US, P | RW | US, Who.Sup, PageAccessKind.Write, false, 0UL, 0UL, 0u)]
    [InlineData(US, P | RW | US, Who.Sup, PageAccessKind.Write, false, Cr0Wp, 0UL, 0x3u)]
    [InlineData(0UL, P | RW | US, Who.Sup, PageAccessKind.Write, false, Cr0Wp, 0UL, 0x3u)]
    [InlineData(RW, P | US, Who.Sup, PageAccessKind.Write, false, Cr0Wp, 0UL, 0x3u)]   // R/W = 0 on the PTE
    // user accesses
    [InlineData(0UL, P | RW | US, Who.User, PageAccessKind.Read, false, 0UL, 0UL, 0x5u)]
    [InlineData(RW, P | RW, Who.User, PageAccessKind.Read, false, 0UL, 0UL, 0x5u)]
    [InlineData(RW | US, P | RW, Who.User, PageAccessKind.Read, false, 0UL, 0UL, 0x5u)] // U/S = 0 on the PTE
    [InlineData(US, P | RW | US, Who.User, PageAccessKind.Write, false, 0UL, 0UL, 0x7u)] // WP = 0 does not matter
    [InlineData(RW | US, P | RW | US, Who.User, PageAccessKind.Write, false, Cr0Wp, 0UL, 0u)]
    [InlineData(RW, P | RW, Who.User, PageAccessKind.Execute, false, 0UL, 0UL, 0x5u)]
    [InlineData(RW, P | RW, Who.User, PageAccessKind.Execute, false, 0UL, EferNxe, 0x15u)]
    // execute-disable (ORed over levels)
    [InlineData(RW | US | XD, P | RW | US, Who.User, PageAccessKind.Execute, false, 0UL, EferNxe, 0x15u)]
    [InlineData(RW | US | XD, P | RW | US, Who.Sup, PageAccessKind.Execute, false, 0UL, EferNxe, 0x11u)]
    [InlineData(RW | US, P | RW | US | XD, Who.Sup, PageAccessKind.Read, false, 0UL, EferNxe, 0u)]
    // SMEP
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Execute, false, 0UL, 0UL, 0u)]
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Execute, false, Cr4Smep << 32, 0UL, 0x11u)]
    [InlineData(RW, P | RW | US, Who.Sup, PageAccessKind.Execute, false, Cr4Smep << 32, 0UL, 0u)] // supervisor page
    [InlineData(RW | US, P | RW | US, Who.User, PageAccessKind.Execute, false, Cr4Smep << 32, 0UL, 0u)]
    // SMAP
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Read, false, Cr4Smap << 32, 0UL, 0x1u)]
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Read, true, Cr4Smap << 32, 0UL, 0u)]
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Write, false, Cr4Smap << 32, 0UL, 0x3u)]
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Write, true, Cr4Smap << 32, 0UL, 0u)]
    [InlineData(RW | US, P | US, Who.Sup, PageAccessKind.Write, true, (Cr4Smap << 32) | Cr0Wp, 0UL, 0x3u)] // AC = 1, then WP
    [InlineData(RW | US, P | RW | US, Who.Implicit, PageAccessKind.Read, true, Cr4Smap << 32, 0UL, 0x1u)] // implicit: AC does not help
    [InlineData(RW | US, P | RW | US, Who.ImplicitAtCpl3, PageAccessKind.Read, true, Cr4Smap << 32, 0UL, 0x1u)] // U/S = 0 in the code
    [InlineData(RW | US, P | RW | US, Who.ImplicitAtCpl3, PageAccessKind.Write, false, 0UL, 0UL, 0u)]
    [InlineData(RW | US, P | RW, Who.ImplicitAtCpl3, PageAccessKind.Write, false, Cr0Wp, 0UL, 0u)] // supervisor page is fine
    [InlineData(RW | US, P | RW | US, Who.Sup, PageAccessKind.Execute, false, Cr4Smap << 32, 0UL, 0u)] // SMAP is for data only
    [InlineData(RW, P | RW, Who.Sup, PageAccessKind.Read, false, Cr4Smap << 32, 0UL, 0u)] // supervisor page
    public void AccessRights(ulong upperFlags, ulong pageFlags, Who who, PageAccessKind kind, bool ac, ulong crBits, ulong efer, uint expected)
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        const ulong lin = 0x0000_0040_1234_5000UL;
        var path = b.Map(root, 4, lin, 1, 0x8_8000_0000UL | pageFlags);
        b.Set64(path[1], (b.Get64(path[1]) & ~(RW | US | XD)) | upperFlags);
        var ctx = Long4(root, crBits & 0xFFFF_FFFF, crBits >> 32, efer);
        var access = who switch
        {
            Who.Sup => new PageAccess(kind, 0, alignmentCheck: ac),
            Who.User => new PageAccess(kind, 3, alignmentCheck: ac),
            Who.Implicit => new PageAccess(kind, 0, implicitSupervisor: true, alignmentCheck: ac),
            _ => new PageAccess(kind, 3, implicitSupervisor: true, alignmentCheck: ac),
        };
        ulong pteBefore = b.Get64(path[3]);
        var r = b.Walk(ctx, lin | 0x678, access);
        if (expected == 0)
        {
            AssertMaps(r, 0x8_8000_0678UL, PageSize.Size4KiB);
            Assert.Equal(kind == PageAccessKind.Write ? A | D : A, b.Get64(path[3]) & (A | D));
        }
        else
        {
            AssertFault(r, (PageFaultErrorCode)expected, lin | 0x678);
            // A protection fault: the entries used to reach the PTE get A, the PTE itself (the
            // access is not made) keeps its A and D as they were (SDM Vol. 3A, 4.8; silicon).
            Assert.Equal(pteBefore, b.Get64(path[3]));
            for (int i = 0; i < 3; i++) Assert.Equal(A, b.Get64(path[i]) & A);
        }
        Assert.Equal(expected == 0, PageWalker.IsAccessAllowed(ctx, access, RightsOf(upperFlags, pageFlags, ctx)));
    }

    private static PageRights RightsOf(ulong upper, ulong page, PagingContext ctx) =>
        ((upper & page & RW) != 0 ? PageRights.Writable : 0) | ((upper & page & US) != 0 ? PageRights.User : 0)
        | (((upper | page) & XD) != 0 && ctx.ExecuteDisableEnabled ? 0 : PageRights.Executable);

    [Fact]
    public void GlobalNeedsPgeAndTheLeafEntry()
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        b.Map(root, 4, 0x1000, 1, 0x1000 | P | G, tableFlags: P | RW | US);
        b.Map(root, 4, 0x2000, 1, 0x2000 | P);
        Assert.True(b.Walk(Long4(root, cr4Extra: Cr4Pge), 0x1000, SupRead).Global);
        Assert.False(b.Walk(Long4(root), 0x1000, SupRead).Global);
        Assert.False(b.Walk(Long4(root, cr4Extra: Cr4Pge), 0x2000, SupRead).Global);
    }

    // ------------------------------------------------------------------ aliasing and garbage

    [Fact]
    public void RecursiveSelfMappingTranslatesToThePml4Itself()
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        b.Set64(root + 511 * 8, root | P | RW);
        const ulong lin = 0xFFFF_FFFF_FFFF_FFF8UL; // every index 511: the PML4 used as PDPT, PD and PT
        var r = b.Walk(Long4(root), lin, SupWrite);
        AssertMaps(r, root + 0xFF8, PageSize.Size4KiB);
        Assert.Equal(root | P | RW | A | D, b.Get64(root + 511 * 8));
        Assert.Equal(4 + 1 + 1, r.MemoryAccesses); // A written once (later reads see it), then D
    }

    [Fact]
    public void GarbageCr3OutsideRamFaultsWithoutTouchingMemory()
    {
        var b = new PagingTestBuilder();
        const ulong outside = 0x40_0000_0000UL; // far beyond 8 MiB of RAM: reads all ones
        // 4-level: all ones sets bits 51:46 (MAXPHYADDR 46) and PS in the PML4E.
        AssertFault(b.Walk(Long4(outside), 0x1234, SupRead), Pr | Rsvd, 0x1234);
        AssertFault(b.Walk(Long5(outside, maxPhy: 52), 0x1234, UserWrite), Pr | Wr | Us | Rsvd, 0x1234);
        Assert.Equal(1, b.Walk(Long4(outside, maxPhy: 52), 0x1234, SupRead).MemoryAccesses);
        // PAE: an all-ones PDPTE sets reserved bits, so MOV to CR3 would raise #GP(0).
        Assert.False(PageWalker.LoadPdptes(b.Mem, 0xFFFF_F000, 46, out _));
        // 32-bit paging with PSE: a 4-MiB PDE with reserved bit 21 set.
        AssertFault(b.Walk(Legacy(0xFFFF_F000, cr4Extra: Cr4Pse), 0x1234, SupRead), Pr | Rsvd, 0x1234);
        // 32-bit paging without PSE has no reserved bits: the all-ones PDE and PTE form a valid
        // translation to 0xFFFFF000 (with A and D already set, so nothing is written).
        var r = b.Walk(Legacy(0xFFFF_F000), 0x1234, UserWrite);
        AssertMaps(r, 0xFFFF_F234, PageSize.Size4KiB);
        Assert.Equal(2, r.MemoryAccesses);
        Assert.True(b.Ram.View(0, (int)RamBytes).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void TablesBeyondRamInsideAWalkFault()
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        b.Set64(root, 0x1000_0000UL | P | RW); // PDPT beyond RAM
        AssertFault(b.Walk(Long4(root), 0x10, SupRead), Pr | Rsvd, 0x10);
        Assert.Equal(0x1000_0000UL | P | RW | A, b.Get64(root));
    }

    [Fact]
    public void PhysicalMemoryAdapterReadsOnesOutsideRamAndDropsWrites()
    {
        var ram = new PhysicalMemory(0x2000);
        var m = new PhysicalMemoryAccess(ram);
        m.WriteU64(0x1FF8, 0x1122_3344_5566_7788UL);
        Assert.Equal(0x1122_3344_5566_7788UL, m.ReadU64(0x1FF8));
        Assert.Equal(0x1122_3344u, m.ReadU32(0x1FFC));
        m.WriteU64(0x1FFC, 0xAAAA_BBBB_CCCC_DDDDUL); // straddles the end: the half outside is dropped
        Assert.Equal(0xFFFF_FFFF_CCCC_DDDDUL, m.ReadU64(0x1FFC));
        m.WriteU32(0x2000, 0x1234_5678);
        Assert.Equal(ulong.MaxValue, m.ReadU64(0x2000));
        Assert.Equal(uint.MaxValue, m.ReadU32(0xFFFF_FFFF_0000UL));
    }

    [Fact]
    public void WalksDoNotAllocate()
    {
        var b = new PagingTestBuilder();
        ulong root = b.NewTable();
        b.Map(root, 4, 0x7000, 1, 0x7000 | P | RW);
        b.Map(root, 4, 0x4000_0000, 3, 0x4000_0000 | P | PS);
        var ctx = Long4(root);
        var mem = b.Mem;
        PageWalker.Walk(mem, in ctx, 0x7000, SupWrite);
        PageWalker.Walk(mem, in ctx, 0x9000, SupWrite);
        // The JIT may allocate on this thread while it tiers the loop up: take the quietest of a few windows.
        long least = long.MaxValue;
        ulong sum = 0;
        for (int window = 0; window < 4; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                sum += PageWalker.Walk(mem, in ctx, 0x7000 + (ulong)(i & 0xFFF), SupWrite).PhysicalAddress;
                sum += PageWalker.Walk(mem, in ctx, 0x4000_0000 + (ulong)i, SupRead).PhysicalAddress;
                sum += (ulong)PageWalker.Walk(mem, in ctx, 0x9000, SupRead).ErrorCode;
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
        Assert.NotEqual(0UL, sum);
    }
}
