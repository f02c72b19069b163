using Vtx.Apic;
using Xunit;

namespace Vtx.Tests.ApicTests;

/// <summary>
/// IA32_APIC_BASE and its state machine (SDM Vol. 3A, 11.4.4 and 11.12.5, Figure 11-27), and the
/// x2APIC MSR interface (11.12.1-11.12.11).
/// </summary>
public class ApicModeTests
{
    private const ulong Base = LocalApic.DefaultBase, Bsp = LocalApic.BaseBsp, En = LocalApic.BaseEnable, Extd = LocalApic.BaseExtd;

    private static ApicRig X2(uint id = 0)
    {
        var r = new ApicRig(id);
        Assert.True(r.A.TryWriteBaseMsr(Base | Bsp | En | Extd));
        Assert.True(r.A.TryWriteMsr(Reg.Msr(Reg.Svr), 0x1FF));
        return r;
    }

    private static bool Wr(ApicRig r, uint msr, ulong v) => r.A.TryWriteMsr(msr, v);

    private static ulong? Rd(ApicRig r, uint msr) => r.A.TryReadMsr(msr, out ulong v) ? v : null;

    // ------------------------------------------------------------------ IA32_APIC_BASE

    [Fact]
    public void DisablingResetsTheApicAndEnablingAgainGivesAWorkingXApic()
    {
        // Kernels that find the APIC disabled by firmware re-enable it by setting EN again.
        var r = new ApicRig(id: 1).Enable(0x3F);
        var a = r.A;
        a.Write(Reg.Tpr, 0x20);
        a.Write(Reg.LvtLint0, 0x30);
        a.Write(Reg.Ldr, 0x0400_0000);
        a.Write(Reg.LvtTimer, 0x40);
        a.Write(Reg.InitialCount, 1000);
        a.Accept(0x90);
        Assert.Equal((byte)0x90, a.Acknowledge());
        a.Accept(0x50);

        Assert.True(a.TryWriteBaseMsr(Base | Bsp));
        Assert.False(a.XApicMode || a.X2ApicMode || a.SoftwareEnabled);
        Assert.Equal(Base | Bsp, a.BaseMsr);
        Assert.False(a.HasDeliverable);
        Assert.Equal(ulong.MaxValue, a.NextTimerDeadline);
        Assert.False(a.TryReadMsr(Reg.Msr(Reg.Version), out _));

        Assert.True(a.TryWriteBaseMsr(Base | Bsp | En));
        Assert.True(a.XApicMode);
        Assert.Equal(0u, a.Read(Reg.Tpr));
        Assert.Equal(0xFFu, a.Read(Reg.Svr));
        Assert.Equal(0x0001_0000u, a.Read(Reg.LvtLint0));
        Assert.Equal(0x0001_0000u, a.Read(Reg.LvtTimer));
        Assert.Equal(0u, a.Read(Reg.Ldr));
        Assert.Equal(0u, a.Read(Reg.InitialCount));
        Assert.Equal(1u << 24, a.Read(Reg.Id));
        Assert.True(r.IrrEmpty && r.IsrEmpty);

        // and it works
        r.Enable();
        a.Write(Reg.LvtLint0, 0x31);
        a.RaiseLint(0);
        Assert.Equal(new byte[] { 0x31 }, r.DrainAll());
    }

    [Fact]
    public void XApicToX2ApicKeepsTheStateButTakesTheInitialIdAndDerivesTheLdr()
    {
        // SDM Vol. 3A, 11.12.5.1: going to x2APIC mode does not preserve the LDR, a software-written
        // xAPIC ID, or ICR[63:32]; the x2APIC ID is the initial APIC ID and the LDR is derived from it
        // (11.12.10.2: cluster = ID[19:4], bit ID[3:0] in the low 16 bits).
        var r = new ApicRig(id: 0x23).Enable();
        var a = r.A;
        a.Write(Reg.Tpr, 0x30);
        a.Write(Reg.LvtLint0, 0x31);
        a.Write(Reg.Id, 0x0500_0000);
        a.Write(Reg.Ldr, 0x0800_0000);
        Assert.True(a.TryWriteBaseMsr(Base | Bsp | En | Extd));
        Assert.True(a.X2ApicMode);
        Assert.False(a.XApicMode);
        Assert.Equal(0x23UL, Rd(r, Reg.Msr(Reg.Id)));
        Assert.Equal((0x2UL << 16) | (1UL << 3), Rd(r, Reg.Msr(Reg.Ldr)));
        Assert.Equal(0x30UL, Rd(r, Reg.Msr(Reg.Tpr)));
        Assert.Equal(0x31UL, Rd(r, Reg.Msr(Reg.LvtLint0)));
        Assert.Equal(0x1FFUL, Rd(r, Reg.Msr(Reg.Svr)));
        Assert.Equal((ulong)a.Read(Reg.Version), Rd(r, Reg.Msr(Reg.Version)));
    }

    [Fact]
    public void X2ApicToXApicIsRefusedAndChangesNothing()
    {
        var r = X2();
        Assert.True(Wr(r, Reg.Msr(Reg.Tpr), 0x40));
        Assert.False(r.A.TryWriteBaseMsr(Base | Bsp | En));
        Assert.True(r.A.X2ApicMode);
        Assert.Equal(Base | Bsp | En | Extd, r.A.BaseMsr);
        Assert.Equal(0x40UL, Rd(r, Reg.Msr(Reg.Tpr)));
    }

    [Fact]
    public void DisabledToX2ApicIsRefusedButX2ApicToDisabledToXApicWorks()
    {
        var r = X2();
        Assert.True(r.A.TryWriteBaseMsr(Base | Bsp));          // x2APIC -> disabled
        Assert.False(r.A.TryWriteBaseMsr(Base | Bsp | En | Extd)); // disabled -> x2APIC
        Assert.Equal(Base | Bsp, r.A.BaseMsr);
        Assert.True(r.A.TryWriteBaseMsr(Base | Bsp | En));     // disabled -> xAPIC
        Assert.True(r.A.XApicMode);
        Assert.True(r.A.TryWriteBaseMsr(Base | Bsp | En | Extd)); // xAPIC -> x2APIC
        Assert.True(r.A.X2ApicMode);
    }

    [Fact]
    public void ExtdWithoutEnIsRefusedFromEveryState()
    {
        var r = new ApicRig();
        Assert.False(r.A.TryWriteBaseMsr(Base | Bsp | Extd));
        Assert.True(r.A.XApicMode);
        var x = X2();
        Assert.False(x.A.TryWriteBaseMsr(Base | Bsp | Extd));
        Assert.True(x.A.X2ApicMode);
        Assert.True(x.A.TryWriteBaseMsr(Base | Bsp));
        Assert.False(x.A.TryWriteBaseMsr(Base | Bsp | Extd));
        Assert.Equal(Base | Bsp, x.A.BaseMsr);
    }

    [Theory]
    [InlineData(1UL << 0)]
    [InlineData(1UL << 7)]
    [InlineData(1UL << 9)]
    [InlineData(1UL << 46)] // MAXPHYADDR = 46
    [InlineData(1UL << 63)]
    public void ReservedBitsAreRefused(ulong bit)
    {
        var r = new ApicRig();
        Assert.False(r.A.TryWriteBaseMsr(Base | Bsp | En | bit));
        Assert.Equal(Base | Bsp | En, r.A.BaseMsr);
    }

    [Fact]
    public void TheBaseMovesWithinMaxPhyAddr()
    {
        var r = new ApicRig();
        Assert.True(r.A.TryWriteBaseMsr((1UL << 45) | 0xFED0_0000 | Bsp | En));
        Assert.Equal((1UL << 45) | 0xFED0_0000, r.A.BaseAddress);
        Assert.True(r.A.XApicMode);
    }

    // ------------------------------------------------------------------ x2APIC MSRs

    [Fact]
    public void X2ApicMsrsAreRefusedOutsideX2ApicMode()
    {
        var r = new ApicRig().Enable();
        Assert.Null(Rd(r, Reg.Msr(Reg.Id)));
        Assert.Null(Rd(r, Reg.Msr(Reg.Version)));
        Assert.False(Wr(r, Reg.Msr(Reg.Tpr), 0x10));
        Assert.False(Wr(r, 0x83F, 0x40));
        Assert.True(r.IrrEmpty);
        Assert.Equal(0u, r.A.Read(Reg.Tpr));
    }

    [Fact]
    public void IcrIsOne64BitMsrWithA32BitDestination()
    {
        var r = X2(id: 5);
        Assert.True(Wr(r, 0x830, (5UL << 32) | 0x50));
        Assert.True(r.InIrr(0x50));
        Assert.Equal((5UL << 32) | 0x50, Rd(r, 0x830));
        Assert.Null(Rd(r, 0x831)); // no ICR high MSR
        Assert.False(Wr(r, 0x831, 0));

        Assert.True(Wr(r, 0x830, (0x105UL << 32) | 0x51)); // ID 105h: not this APIC (32-bit compare)
        Assert.False(r.InIrr(0x51));
        Assert.True(Wr(r, 0x830, (0xFFFF_FFFFUL << 32) | 0x52)); // broadcast
        Assert.True(r.InIrr(0x52));
        // Logical: cluster 0 (ID 5 -> LDR = 0000_0020h), member bit 5.
        Assert.True(Wr(r, 0x830, (0x20UL << 32) | Reg.Logical | 0x53));
        Assert.True(r.InIrr(0x53));
        Assert.True(Wr(r, 0x830, (0x1_0020UL << 32) | Reg.Logical | 0x54)); // cluster 1
        Assert.False(r.InIrr(0x54));
        Assert.True(Wr(r, 0x830, Reg.ToSelf | 0x55));
        Assert.True(r.InIrr(0x55));
        Assert.True(Wr(r, 0x830, Reg.ToSelf | Reg.Nmi));
        Assert.Equal(1, r.Nmis);
    }

    [Theory]
    [InlineData(1UL << 13)]
    [InlineData(1UL << 16)]
    [InlineData(1UL << 17)]
    [InlineData(1UL << 20)]
    [InlineData(1UL << 31)]
    public void IcrReservedBitsRaiseGp(ulong bit)
    {
        // SDM Vol. 3A, 11.12.1.3 and Figure 11-28: x2APIC reserved bits are RsvdZ, a non-zero write is #GP.
        var r = X2();
        Assert.False(Wr(r, 0x830, Reg.ToSelf | 0x50 | bit));
        Assert.False(r.InIrr(0x50));
    }

    [Fact]
    public void SelfIpiMsrTakesAVectorOnly()
    {
        var r = X2();
        Assert.True(Wr(r, 0x83F, 0x60));
        Assert.True(r.InIrr(0x60));
        Assert.False(Wr(r, 0x83F, 0x161));
        Assert.False(Wr(r, 0x83F, 1UL << 32));
        Assert.False(r.InIrr(0x61));
        Assert.Null(Rd(r, 0x83F)); // write-only
        Assert.True(Wr(r, 0x83F, 0x03));
        Assert.Equal(1UL << 5, LatchEsrX2(r) & (1UL << 5)); // send illegal vector
    }

    private static ulong LatchEsrX2(ApicRig r)
    {
        Assert.True(Wr(r, Reg.Msr(Reg.Esr), 0));
        return Rd(r, Reg.Msr(Reg.Esr)) ?? throw new InvalidOperationException();
    }

    [Fact]
    public void EoiMsrRequiresZero()
    {
        var r = X2();
        Assert.True(Wr(r, 0x83F, 0x70));
        Assert.Equal((byte)0x70, r.A.Acknowledge());
        Assert.False(Wr(r, 0x80B, 1));
        Assert.True(r.InIsr(0x70));
        Assert.True(Wr(r, 0x80B, 0));
        Assert.True(r.IsrEmpty);
        Assert.Null(Rd(r, 0x80B)); // write-only
    }

    [Fact]
    public void EsrMsrWritesMustBeZero()
    {
        // SDM Vol. 3A, Table 11-6: ESR, "WRMSR of a non-zero value causes #GP(0)".
        var r = X2();
        Assert.False(Wr(r, Reg.Msr(Reg.Esr), 1));
        Assert.True(Wr(r, Reg.Msr(Reg.Esr), 0));
    }

    [Fact]
    public void TprMsrReservedBitsRaiseGp()
    {
        var r = X2();
        Assert.True(Wr(r, Reg.Msr(Reg.Tpr), 0xA5));
        Assert.Equal(0xA5UL, Rd(r, Reg.Msr(Reg.Tpr)));
        Assert.False(Wr(r, Reg.Msr(Reg.Tpr), 0x1A5));
        Assert.False(Wr(r, Reg.Msr(Reg.Tpr), 1UL << 32));
        Assert.Equal(0xA5UL, Rd(r, Reg.Msr(Reg.Tpr)));
    }

    [Theory]
    [InlineData(0x802u)] // ID
    [InlineData(0x803u)] // version
    [InlineData(0x80Au)] // PPR
    [InlineData(0x80Du)] // LDR (read-only in x2APIC mode)
    [InlineData(0x810u)] // ISR
    [InlineData(0x817u)] // ISR
    [InlineData(0x818u)] // TMR
    [InlineData(0x820u)] // IRR
    [InlineData(0x827u)] // IRR
    [InlineData(0x839u)] // current count
    public void ReadOnlyMsrsRefuseWrites(uint msr)
    {
        var r = X2(id: 4);
        ulong before = Rd(r, msr) ?? throw new InvalidOperationException("readable");
        Assert.False(Wr(r, msr, 0));
        Assert.False(Wr(r, msr, 0x10));
        Assert.Equal(before, Rd(r, msr));
    }

    [Theory]
    [InlineData(0x800u)]
    [InlineData(0x801u)]
    [InlineData(0x804u)]
    [InlineData(0x807u)]
    [InlineData(0x809u)] // APR: not in x2APIC mode
    [InlineData(0x80Cu)] // RRD
    [InlineData(0x80Eu)] // DFR: not in x2APIC mode
    [InlineData(0x829u)]
    [InlineData(0x82Eu)]
    [InlineData(0x831u)] // ICR high
    [InlineData(0x83Au)]
    [InlineData(0x83Du)]
    [InlineData(0x840u)]
    [InlineData(0x8FFu)]
    public void ReservedMsrsRefuseReadsAndWrites(uint msr)
    {
        var r = X2();
        Assert.Null(Rd(r, msr));
        Assert.False(Wr(r, msr, 0));
    }

    [Fact]
    public void ReadableX2ApicMsrsMirrorTheRegisters()
    {
        var r = X2(id: 7);
        Assert.True(Wr(r, Reg.Msr(Reg.LvtTimer), 0x41));
        Assert.True(Wr(r, Reg.Msr(Reg.Divide), 0xB));
        Assert.True(Wr(r, Reg.Msr(Reg.LvtCmci), 0x42));
        Assert.Equal(0x41UL, Rd(r, Reg.Msr(Reg.LvtTimer)));
        Assert.Equal(0xBUL, Rd(r, Reg.Msr(Reg.Divide)));
        Assert.Equal(0x42UL, Rd(r, Reg.Msr(Reg.LvtCmci)));
        Assert.Equal(7UL, Rd(r, Reg.Msr(Reg.Id)));
        Assert.True(Wr(r, 0x83F, 0x99));
        Assert.Equal(1UL << (0x99 - 0x80), Rd(r, 0x824)); // IRR[159:128]
        Assert.False(Wr(r, Reg.Msr(Reg.LvtTimer), 1UL << 32));
    }
}
