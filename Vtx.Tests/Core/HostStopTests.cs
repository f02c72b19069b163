using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>
/// Host stops: <see cref="Cpu.RequestStop"/> from another thread, <see cref="RunLimits.Cancellation"/>
/// and <see cref="RunLimits.MaxWallTime"/> end a run that no guest-visible limit would end, at an
/// instruction boundary (or between REP iterations), and change nothing when unused.
/// </summary>
public class HostStopTests
{
    /// <summary>An endless loop that counts in RAX (so progress is visible).</summary>
    private static Machine Spin() => CoreHarness.Load(a =>
    {
        var top = a.CreateLabel();
        a.Label(ref top);
        a.inc(rax);
        a.jmp(top);
    });

    private static Machine HugeRep() => CoreHarness.Load(a => { a.rep.stosb(); a.hlt(); }, setup: c =>
    {
        c[Gpr.Rcx] = ulong.MaxValue;
        c[Gpr.Rdi] = 0x2_0000;
    });

    [Fact]
    public void RequestStopFromAnotherThreadEndsAnEndlessRun()
    {
        var m = Spin();
        var t = CoreHarness.StartRun(() => m.Run(default));
        while (m.Cpu[Gpr.Rax] < 1000) Thread.Yield(); // the run is going
        m.RequestStop();
        var r = t.Wait();
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.Equal(m.Cpu.Rip, r.Rip);
        Assert.True(r.Rip is Guest.CodeBase or Guest.CodeBase + 3, $"stopped off a boundary: {r.Rip:X}");
        Assert.Null(r.Fault);
        // The request was consumed: the next run is not affected.
        ulong rax = m.Cpu[Gpr.Rax];
        var again = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.InstructionLimit, again.Reason);
        Assert.Equal(100UL, again.Instructions);
        Assert.Equal(rax + 50, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void RequestStopBeforeRunStopsItBeforeTheFirstInstruction()
    {
        var m = Spin();
        m.Cpu.RequestStop();
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.Equal(0UL, r.Instructions);
        Assert.Equal(0UL, r.Cycles);
        Assert.Equal(StopReason.InstructionLimit, m.Run(RunLimits.Instructions(100)).Reason);
    }

    [Fact]
    public void RequestStopInterruptsAHugeRepBetweenIterations()
    {
        var m = HugeRep();
        var t = CoreHarness.StartRun(() => m.Run(default));
        while (m.Cpu[Gpr.Rdi] < 0x2_1000) Thread.Yield();
        m.RequestStop();
        var r = t.Wait();
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.Equal(Guest.CodeBase, m.Cpu.Rip);                                  // still on the REP
        Assert.Equal(ulong.MaxValue - (m.Cpu[Gpr.Rdi] - 0x2_0000), m.Cpu[Gpr.Rcx]); // progress consistent
        Assert.Equal(0UL, r.Instructions);
    }

    [Fact]
    public void CancellationTokenEndsTheRun()
    {
        var m = Spin();
        using var cts = new CancellationTokenSource();
        var t = CoreHarness.StartRun(() => m.Run(new RunLimits { Cancellation = cts.Token }));
        while (m.Cpu[Gpr.Rax] < 1000) Thread.Yield(); // the run is going
        cts.Cancel();
        var r = t.Wait();
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.True(r.Instructions > 0);

        // Already cancelled: nothing runs.
        var r2 = m.Run(new RunLimits { Cancellation = cts.Token, MaxInstructions = 10 });
        Assert.Equal(StopReason.Cancelled, r2.Reason);
        Assert.Equal(0UL, r2.Instructions);
    }

    [Fact]
    public void WallClockBudgetEndsEndlessRunsAndHugeReps()
    {
        var m = Spin();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = CoreHarness.Bounded(() => m.Run(new RunLimits { MaxWallTime = TimeSpan.FromMilliseconds(50) }));
        Assert.Equal(StopReason.WallClockLimit, r.Reason);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(45), "stopped before its budget: " + sw.Elapsed);
        Assert.True(r.Instructions > 0);

        var rep = HugeRep();
        var rr = CoreHarness.Bounded(() => rep.Run(new RunLimits { MaxWallTime = TimeSpan.FromMilliseconds(30) }));
        Assert.Equal(StopReason.WallClockLimit, rr.Reason);
        Assert.Equal(Guest.CodeBase, rr.Rip);

        // A zero budget stops before the first instruction; an ample one changes nothing.
        Assert.Equal(StopReason.WallClockLimit, m.Run(new RunLimits { MaxWallTime = TimeSpan.Zero }).Reason);
        Assert.Equal(StopReason.InstructionLimit, m.Run(new RunLimits { MaxWallTime = TimeSpan.FromHours(1), MaxInstructions = 10 }).Reason);
    }

    /// <summary>An uncancelled token and an unspent budget leave results bit-identical to a run without them.</summary>
    [Fact]
    public void UnusedHostStopsKeepRunsDeterministic()
    {
        string Final(RunLimits limits)
        {
            var m = Spin();
            var r = m.Run(limits);
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            return CoreHarness.Fingerprint(m) + r;
        }
        using var cts = new CancellationTokenSource();
        string plain = Final(RunLimits.Instructions(10_007));
        Assert.Equal(plain, Final(new RunLimits { MaxInstructions = 10_007, Cancellation = cts.Token }));
        Assert.Equal(plain, Final(new RunLimits { MaxInstructions = 10_007, MaxWallTime = TimeSpan.FromMinutes(5) }));
    }
}
