using Vtx.Memory.Paging;
using Xunit;
using static Vtx.Tests.Paging.PagingTestBuilder;

namespace Vtx.Tests.Paging;

/// <summary>Paging-mode selection (SDM Vol. 3A, Table 4-1), canonical widths and the context's derived values.</summary>
public class PagingModeTests
{
    [Theory]
    [InlineData(0UL, 0UL, 0UL, PagingMode.Disabled)]
    [InlineData(0UL, Cr4Pae | Cr4La57, EferLme, PagingMode.Disabled)]
    [InlineData(Cr0Pg, 0UL, 0UL, PagingMode.Legacy32)]
    [InlineData(Cr0Pg, Cr4Pse | Cr4La57, 0UL, PagingMode.Legacy32)]
    [InlineData(Cr0Pg, Cr4Pae, 0UL, PagingMode.Pae)]
    [InlineData(Cr0Pg, Cr4Pae | Cr4La57, EferNxe, PagingMode.Pae)]
    [InlineData(Cr0Pg, Cr4Pae, EferLme, PagingMode.Level4)]
    [InlineData(Cr0Pg, Cr4Pae, EferLma, PagingMode.Level4)]
    [InlineData(Cr0Pg, Cr4Pae | Cr4La57, EferLme | EferLma, PagingMode.Level5)]
    public void ModeFollowsTable4_1(ulong cr0, ulong cr4, ulong efer, PagingMode expected)
    {
        Assert.Equal(expected, PagingModes.From(cr0, cr4, efer));
        Assert.Equal(expected, new PagingContext(cr0, 0, cr4, efer).Mode);
    }

    [Fact]
    public void LinearWidthsAndCanonicality()
    {
        Assert.Equal(48, PagingMode.Level4.LinearAddressBits());
        Assert.Equal(57, PagingMode.Level5.LinearAddressBits());
        Assert.Equal(32, PagingMode.Pae.LinearAddressBits());
        Assert.Equal(32, PagingMode.Legacy32.LinearAddressBits());
        Assert.Equal(32, PagingMode.Disabled.LinearAddressBits());

        Assert.True(PagingMode.Level4.IsCanonical(0x0000_7FFF_FFFF_FFFFUL));
        Assert.True(PagingMode.Level4.IsCanonical(0xFFFF_8000_0000_0000UL));
        Assert.False(PagingMode.Level4.IsCanonical(0x0000_8000_0000_0000UL));
        Assert.False(PagingMode.Level4.IsCanonical(0x00FF_0000_0000_0000UL));
        Assert.True(PagingMode.Level5.IsCanonical(0x00FF_0000_0000_0000UL));
        Assert.True(PagingMode.Level5.IsCanonical(0xFF00_0000_0000_0000UL));
        Assert.False(PagingMode.Level5.IsCanonical(0x0100_0000_0000_0000UL));
        Assert.True(PagingMode.Pae.IsCanonical(0x1234_5678_9ABC_DEF0UL));
    }

    [Fact]
    public void ContextDerivesPcidRootAndCacheBits()
    {
        var withPcid = Long4(0x12_3456_7ABCUL, cr4Extra: Cr4Pcide);
        Assert.Equal((ushort)0xABC, withPcid.Pcid);
        Assert.Equal(0x12_3456_7000UL, withPcid.RootTableAddress);
        Assert.False(withPcid.Cr3Pwt);
        Assert.False(withPcid.Cr3Pcd);

        var noPcid = Long4(0x5018UL);
        Assert.Equal((ushort)0, noPcid.Pcid);
        Assert.True(noPcid.Cr3Pwt);
        Assert.True(noPcid.Cr3Pcd);

        Assert.Equal(0x1_2000UL, Legacy(0x1_2FFFUL).RootTableAddress);
        Assert.Equal(0x1_2FE0UL, new PagingContext(Cr0Pg, 0x1_2FFFUL, Cr4Pae, 0).RootTableAddress);
        // CR3 bits at and above MAXPHYADDR are not part of the root address.
        Assert.Equal(0x3000UL, Long4((1UL << 40) | 0x3000, maxPhy: 40).RootTableAddress);
    }

    [Fact]
    public void ContextFlagsAndErrorCodes()
    {
        var c = Long4(0, Cr0Wp, Cr4Smep | Cr4Smap | Cr4Pge, EferNxe);
        Assert.True(c.WriteProtect && c.Smep && c.Smap && c.GlobalPagesEnabled && c.Nxe && c.ExecuteDisableEnabled);
        Assert.False(Legacy(0, eferExtra: EferNxe).ExecuteDisableEnabled); // 32-bit paging has no XD
        Assert.Equal(PageFaultErrorCode.Present | PageFaultErrorCode.Write | PageFaultErrorCode.User,
            c.FaultErrorCode(PageAccess.Write(3), PageFaultErrorCode.Present));
        Assert.Equal(PageFaultErrorCode.InstructionFetch, c.FaultErrorCode(PageAccess.Execute(0), PageFaultErrorCode.None));
        Assert.Equal(PageFaultErrorCode.Present, c.FaultErrorCode(new PageAccess(PageAccessKind.Read, 3, implicitSupervisor: true), PageFaultErrorCode.Present));
    }

    [Theory]
    [InlineData(31)]
    [InlineData(53)]
    [InlineData(0)]
    public void MaxPhyAddrOutsideRangeIsRejected(int bits) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PagingContext(Cr0Pg, 0, 0, 0, bits));
}
