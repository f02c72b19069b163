using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Apic;
using Xunit;

namespace Vtx.Tests.ApicTests;

/// <summary>
/// The APIC timer on a fake cycle clock (SDM Vol. 3A, 11.5.4): one-shot and periodic modes with
/// every divide value, exact to the cycle (deadline = start + initial count × divisor), the current
/// count, stopping with an initial count of 0, TSC-deadline mode (11.5.4.1) and mode switches.
/// </summary>
public class ApicTimerTests
{
    private const byte V = 0x40;

    private static ApicRig Armed(uint divide, uint lvt, ulong start, uint initial)
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.Divide, divide);
        r.A.Write(Reg.LvtTimer, lvt);
        r.Now = start;
        r.A.Write(Reg.InitialCount, initial);
        return r;
    }

    public static TheoryData<uint, ulong> DivideData()
    {
        var d = new TheoryData<uint, ulong>();
        foreach (var (c, div) in Reg.Divides) d.Add(c, div);
        return d;
    }

    [Theory]
    [MemberData(nameof(DivideData))]
    public void OneShotFiresExactlyAtStartPlusInitialTimesDivisor(uint config, ulong divisor)
    {
        const ulong start = 1000;
        const uint initial = 100;
        var r = Armed(config, V, start, initial);
        ulong deadline = start + initial * divisor;
        Assert.Equal(deadline, r.A.NextTimerDeadline);
        Assert.Equal(config, r.A.Read(Reg.Divide));
        Assert.Equal(initial, r.A.Read(Reg.InitialCount));
        Assert.Equal(initial, r.A.Read(Reg.CurrentCount));

        r.Now = deadline - 1;
        r.A.Advance(r.Now);
        Assert.False(r.InIrr(V));
        Assert.Equal(1u, r.A.Read(Reg.CurrentCount));

        r.Now = deadline;
        r.A.Advance(r.Now);
        Assert.True(r.InIrr(V));
        Assert.Equal(0u, r.A.Read(Reg.CurrentCount));
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
        Assert.Equal(new byte[] { V }, r.DrainAll());

        // One-shot: nothing more, however long we wait; the initial count stays readable.
        r.Now = deadline + 100 * initial * divisor;
        r.A.Advance(r.Now);
        Assert.True(r.IrrEmpty);
        Assert.Equal(initial, r.A.Read(Reg.InitialCount));
        Assert.Equal(0u, r.A.Read(Reg.CurrentCount));
    }

    private static readonly Gen<(int DivIndex, uint Initial, ulong Elapsed, ulong Start)> CountCase =
        from di in Gen.Choose(0, 7)
        from initial in Gen.Frequency((3, Gen.Choose(1, 1000)), (1, Gen.Choose(1, int.MaxValue)))
        from frac in Gen.Choose(0, 1100)
        from start in Gen.Choose(0, int.MaxValue)
        select (di, (uint)initial, (ulong)initial * Reg.Divides[di].Divisor * (ulong)frac / 1000, (ulong)start);

    [Property(MaxTest = 1000)]
    public Property OneShotCurrentCountIsInitialMinusElapsedOverDivisor() => Prop.ForAll(Arb.From(CountCase), c =>
    {
        // The count decrements once per `divisor` cycles and stops at 0 (SDM Vol. 3A, 11.5.4).
        var (config, divisor) = Reg.Divides[c.DivIndex];
        var r = Armed(config, V, c.Start, c.Initial);
        r.Now = c.Start + c.Elapsed;
        ulong ticks = c.Elapsed / divisor;
        uint expected = ticks >= c.Initial ? 0 : c.Initial - (uint)ticks;
        Assert.Equal(expected, r.A.Read(Reg.CurrentCount));
        r.A.Advance(r.Now);
        Assert.Equal(expected == 0, r.InIrr(V));
    });

    [Property(MaxTest = 300)]
    public Property PeriodicCurrentCountReloadsFromTheInitialCount() => Prop.ForAll(Arb.From(CountCase), c =>
    {
        var (config, divisor) = Reg.Divides[c.DivIndex];
        var r = Armed(config, V | Reg.Periodic, c.Start, c.Initial);
        ulong elapsed = c.Elapsed * 3; // beyond the first period too
        r.Now = c.Start + elapsed;
        ulong ticks = elapsed / divisor;
        Assert.Equal(c.Initial - (uint)(ticks % c.Initial), r.A.Read(Reg.CurrentCount));
    });

    [Theory]
    [InlineData(0b1011u, 1u)]
    [InlineData(0b0010u, 37u)]
    [InlineData(0b1010u, 3u)]
    public void PeriodicRearmsWithoutDriftOverManyPeriods(uint config, uint initial)
    {
        const ulong start = 12_345;
        ulong divisor = Reg.Divides.Single(d => d.Config == config).Divisor;
        ulong period = initial * divisor;
        var r = Armed(config, V | Reg.Periodic, start, initial);
        for (ulong k = 1; k <= 5000; k++)
        {
            ulong deadline = start + k * period;
            Assert.Equal(deadline, r.A.NextTimerDeadline);
            // Look at boundaries before the deadline, then at (or a little after) it: the lateness of
            // the look never moves the next period.
            r.Now = deadline - 1;
            r.A.Advance(r.Now);
            Assert.True(r.IrrEmpty);
            r.Now = deadline + (k * 7919 % period);
            r.A.Advance(r.Now);
            Assert.True(r.InIrr(V), $"period {k}");
            Assert.Equal(new byte[] { V }, r.DrainAll());
        }
        Assert.Equal(start + 5001 * period, r.A.NextTimerDeadline);
    }

    [Fact]
    public void PeriodicCurrentCountRightAfterAReloadIsTheInitialCount()
    {
        var r = Armed(0b0001, V | Reg.Periodic, 0, 10); // ÷4, period 40
        r.Now = 40;
        r.A.Advance(40);
        Assert.Equal(10u, r.A.Read(Reg.CurrentCount));
        r.Now = 40 + 4 * 3 + 1;
        Assert.Equal(7u, r.A.Read(Reg.CurrentCount));
    }

    [Fact]
    public void AMaskedTimerKeepsCountingAndRearmingWithoutInterrupts()
    {
        var r = Armed(0b1011, V | Reg.Periodic | Reg.Masked, 0, 50);
        for (ulong k = 1; k <= 10; k++)
        {
            r.Now = k * 50;
            r.A.Advance(r.Now);
        }
        Assert.True(r.IrrEmpty);
        Assert.Equal(550UL, r.A.NextTimerDeadline);
        r.A.Write(Reg.LvtTimer, V | Reg.Periodic); // unmask: same mode, the count goes on
        Assert.Equal(550UL, r.A.NextTimerDeadline);
        r.Now = 550;
        r.A.Advance(550);
        Assert.True(r.InIrr(V));
    }

    [Fact]
    public void WritingInitialCountZeroStopsTheTimer()
    {
        var r = Armed(0b1011, V | Reg.Periodic, 0, 100);
        r.Now = 30;
        r.A.Write(Reg.InitialCount, 0);
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
        Assert.Equal(0u, r.A.Read(Reg.CurrentCount));
        r.Now = 10_000;
        r.A.Advance(r.Now);
        Assert.True(r.IrrEmpty);
    }

    [Fact]
    public void RewritingInitialCountRestartsTheCountFromNow()
    {
        var r = Armed(0b0000, V, 0, 100); // ÷2: deadline 200
        r.Now = 150;
        r.A.Write(Reg.InitialCount, 10);
        Assert.Equal(170UL, r.A.NextTimerDeadline);
        r.A.Advance(169);
        Assert.True(r.IrrEmpty);
        r.A.Advance(170);
        Assert.True(r.InIrr(V));
    }

    [Fact]
    public void ATimerWithAnIllegalVectorRaisesAnErrorInsteadOfAnInterrupt()
    {
        var r = Armed(0b1011, 0x05, 0, 10);
        r.A.Advance(10);
        Assert.True(r.IrrEmpty);
        Assert.Equal(1u << 6, r.LatchEsr());
    }

    // ------------------------------------------------------------------ TSC-deadline mode

    [Fact]
    public void TscDeadlineFiresWhenTheTscReachesTheDeadlineAndClearsTheMsr()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        r.Now = 1000;
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 1500));
        Assert.True(r.A.TryReadMsr(LocalApic.TscDeadlineMsr, out ulong back));
        Assert.Equal(1500UL, back);
        Assert.Equal(1500UL, r.A.NextTimerDeadline);

        // In TSC-deadline mode the initial count is ignored and the current count reads 0.
        r.A.Write(Reg.InitialCount, 5);
        Assert.Equal(0u, r.A.Read(Reg.InitialCount));
        Assert.Equal(0u, r.A.Read(Reg.CurrentCount));
        Assert.Equal(1500UL, r.A.NextTimerDeadline);

        r.A.Advance(1499);
        Assert.True(r.IrrEmpty);
        r.A.Advance(1500);
        Assert.True(r.InIrr(V));
        Assert.True(r.A.TryReadMsr(LocalApic.TscDeadlineMsr, out back));
        Assert.Equal(0UL, back); // disarmed after firing
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
    }

    [Fact]
    public void TscDeadlineInThePastFiresAtOnce()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        r.Now = 5000;
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 4999));
        Assert.Equal(5000UL, r.A.NextTimerDeadline);
        r.A.Advance(5000);
        Assert.True(r.InIrr(V));
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 5000)); // now, exactly
        Assert.Equal(5000UL, r.A.NextTimerDeadline);
    }

    [Fact]
    public void WritingZeroDisarmsTheTscDeadline()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 100));
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 0));
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
        r.A.Advance(1000);
        Assert.True(r.IrrEmpty);
    }

    [Theory]
    [InlineData(1UL, 0UL, 1000UL, 250UL)]
    [InlineData(3UL, 0UL, 1000UL, 250UL)]
    [InlineData(4UL, 10UL, 1000UL, 401UL)]
    [InlineData(7UL, 123UL, 999UL, 1UL)]
    public void TscDeadlineIsInTscUnits(ulong ratio, ulong offset, ulong now, ulong ahead)
    {
        // The timer fires at the first cycle whose TSC (cycles × ratio + offset) is at least the deadline.
        var r = new ApicRig(tscRatio: ratio) { TscOffset = offset }.Enable();
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        r.Now = now;
        ulong deadline = r.Tsc + ahead;
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, deadline));
        ulong expected = (deadline - offset + ratio - 1) / ratio;
        Assert.Equal(expected, r.A.NextTimerDeadline);
        Assert.True((expected - 1) * ratio + offset < deadline && expected * ratio + offset >= deadline);
    }

    [Fact]
    public void TscDeadlineMsrIsIgnoredOutsideTscDeadlineMode()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtTimer, V); // one-shot
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 100));
        Assert.True(r.A.TryReadMsr(LocalApic.TscDeadlineMsr, out ulong back));
        Assert.Equal(0UL, back);
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
    }

    [Fact]
    public void SwitchingToTscDeadlineModeDisarmsTheCountingTimer()
    {
        var r = Armed(0b1011, V, 0, 100);
        r.Now = 10;
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
        Assert.Equal(0u, r.A.Read(Reg.CurrentCount));
        r.A.Advance(100);
        Assert.True(r.IrrEmpty);
    }

    [Fact]
    public void LeavingTscDeadlineModeDisarmsItForGood()
    {
        // SDM Vol. 3A, 11.5.4.1: a transition between TSC-deadline mode and another mode disarms the
        // timer; coming back to TSC-deadline mode does not revive the old deadline.
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 500));
        r.A.Write(Reg.LvtTimer, V);
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        Assert.True(r.A.TryReadMsr(LocalApic.TscDeadlineMsr, out ulong back));
        Assert.Equal(0UL, back);
        Assert.Equal(ulong.MaxValue, r.A.NextTimerDeadline);
        r.A.Advance(1000);
        Assert.True(r.IrrEmpty);
    }

    [Fact]
    public void RewritingTheTscDeadlineLvtWithTheSameModeKeepsTheDeadline()
    {
        var r = new ApicRig().Enable();
        r.A.Write(Reg.LvtTimer, V | Reg.TscDeadline);
        Assert.True(r.A.TryWriteMsr(LocalApic.TscDeadlineMsr, 500));
        r.A.Write(Reg.LvtTimer, 0x41u | Reg.TscDeadline);
        Assert.Equal(500UL, r.A.NextTimerDeadline);
        r.A.Advance(500);
        Assert.True(r.InIrr(V + 1));
    }
}
