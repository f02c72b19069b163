using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>Host stops and cycle limits of a multiprocessor run (they bound the whole machine).</summary>
public class SmpLimitsTests
{
    /// <summary>Two processors counting forever in RAX.</summary>
    private static SmpRig Counting(int quantum = 100)
    {
        var rig = new SmpRig(2, quantum);
        Label loop = default;
        rig.Load(a =>
        {
            loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(rax);
            a.jmp(loop);
        });
        rig.StartHost(1, loop);
        return rig;
    }

    [Fact]
    public void ARequestMadeBeforeTheRunStopsItAtOnceAndIsConsumed()
    {
        var rig = Counting();
        rig.M.RequestStop();
        var r = rig.Run(10_000);
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.Equal(0UL, r.Instructions);
        r = rig.Run(10_000);
        Assert.Equal(StopReason.InstructionLimit, r.Reason); // no stale request left on any processor
        Assert.Equal(10_000UL, r.Instructions);
    }

    [Fact]
    public void ACancelledTokenAndASpentWallClockBudgetStopTheMachine()
    {
        var rig = Counting();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Equal(StopReason.Cancelled, rig.M.Run(new RunLimits { Cancellation = cts.Token, MaxInstructions = 1000 }).Reason);
        Assert.Equal(StopReason.WallClockLimit, rig.M.Run(new RunLimits { MaxWallTime = TimeSpan.Zero, MaxInstructions = 1000 }).Reason);
        var r = rig.M.Run(new RunLimits { MaxWallTime = TimeSpan.FromMilliseconds(50) });
        Assert.Equal(StopReason.WallClockLimit, r.Reason);
        Assert.True(rig[0][Gpr.Rax] > 0 && rig[1][Gpr.Rax] > 0);
    }

    [Fact]
    public void ACancellationFromAnotherThreadStopsARunningMachine()
    {
        var rig = Counting();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(30));
        var r = rig.M.Run(new RunLimits { Cancellation = cts.Token });
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.Equal(StopReason.InstructionLimit, rig.Run(100).Reason);
    }

    [Theory]
    [InlineData(100, 1)]
    [InlineData(100, 250)]
    [InlineData(1000, 5000)]
    public void ACycleLimitEndsAtTheFirstRoundEndAtOrPastIt(int quantum, ulong limit)
    {
        var rig = Counting(quantum);
        var r = rig.M.Run(new RunLimits { MaxCycles = limit });
        Assert.Equal(StopReason.CycleLimit, r.Reason);
        ulong q = (ulong)quantum;
        ulong roundEnd = (limit + q - 1) / q * q;
        foreach (var c in rig.M.Cpus) Assert.InRange(c.Cycles, roundEnd, roundEnd + 64); // overshoot: the last instruction's cost
        // Slicing by round-aligned cycle limits gives the whole run.
        var whole = Counting(quantum);
        whole.M.Run(new RunLimits { MaxCycles = 2 * roundEnd });
        rig.M.Run(new RunLimits { MaxCycles = roundEnd });
        Assert.Equal(whole.StateDigest(), rig.StateDigest());
    }

    [Fact]
    public void AStopAddressStopsWhicheverProcessorReachesIt()
    {
        var rig = new SmpRig(2, 100);
        Label ap = default, target = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel(); target = a.CreateLabel();
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
            a.Label(ref ap);
            a.mov(ecx, 100);
            var d = a.CreateLabel();
            a.Label(ref d);
            a.dec(ecx);
            a.jnz(d);
            a.Label(ref target);
            a.hlt();
        });
        rig.StartHost(1, ap);
        var r = rig.M.Run(new RunLimits { MaxInstructions = 100_000, StopAddress = rig.At(target) });
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal(1, r.CpuIndex);
        Assert.Equal(rig.At(target), r.Rip);
        Assert.Equal(0UL, rig[1][Gpr.Rcx]);
    }
}
