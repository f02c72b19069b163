using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Timing;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Timing;

/// <summary>
/// Issue 13: a data-TLB miss the timing model charges no longer ends the sequential run when the rest of the run, with
/// the extra cycles, still fits the cycle limit and the next event deadline. Guest-visible results must not move: the
/// same program gives the same cycles at every boundary where an event is delivered, the same boundaries where limits
/// land mid-run, and the same final state. Each program here runs twice — once with <c>Cpu.ChargesEndRuns</c> set (every
/// charge ends the run, the behaviour before the change) and once without — and everything observable is compared.
/// </summary>
public sealed class ChargedMissRunTests
{
    public static TheoryData<string> CoreProfiles => new() { "skylake-client", "haswell" };

    private const ulong Window = 0x4000_0000;  // 1 GiB: 4-KByte pages (PDPT entry 1)
    private const ulong WindowPd = 0x20_0000, WindowPts = 0x20_1000, Frames = 0x30_0000;
    private const int WindowPages = 2048;       // 4 page tables; aliasing 32 physical frames
    private const ulong Handler = Sys.Code + 0x400, NmiHandler = Sys.Code + 0x500;
    private const byte Vec = 0x40;

    /// <summary>
    /// IA-32e mode at CPL 0 with IF = 1 (an IDT with a handler for <see cref="Vec"/> and the NMI that count in R9 and R10 and IRET),
    /// and a loop over <paramref name="pages"/> 4-KByte pages <paramref name="stride"/> apart that reads and writes each:
    /// every access of a large enough stride misses the software TLB and the modelled first level.
    /// </summary>
    private static (Sys S, List<(byte Vector, ulong Cycles, ulong Rip, ulong Retired)> Log) Build(string profile, ulong rounds, ulong pages, ulong stride, bool chargesEndRuns, bool cacheTiming = false)
    {
        var s = new Sys(memoryMiB: 8, model: new CpuModel { Timing = TimingProfile.ByName(profile), CacheTiming = cacheTiming });
        s.EnterLong();
        s.W64(Sys.Pdpt + 8, WindowPd | 3);
        for (int t = 0; t < WindowPages / 512; t++)
        {
            s.W64(WindowPd + 8UL * (ulong)t, (WindowPts + 0x1000UL * (ulong)t) | 3);
            for (int i = 0; i < 512; i++)
                s.W64(WindowPts + 0x1000UL * (ulong)t + 8UL * (ulong)i, (Frames + 0x1000UL * (ulong)((t * 512 + i) % 32)) | 3);
        }
        s.Load(a =>
        {
            var outer = a.CreateLabel();
            var inner = a.CreateLabel();
            a.mov(rcx, rounds);
            a.Label(ref outer);
            a.mov(rsi, Window);
            a.mov(rdx, pages);
            a.Label(ref inner);
            a.mov(rax, __qword_ptr[rsi]);
            a.add(rax, rcx);
            a.mov(__qword_ptr[rsi + 8], rax);
            a.add(rsi, rbx);
            a.add(r8, rax);
            a.dec(rdx);
            a.jne(inner);
            a.dec(rcx);
            a.jne(outer);
            // Events posted for later wake the HLT (NMIs even with IF = 0): halt again until none is left.
            var halt = a.CreateLabel();
            a.cli();
            a.Label(ref halt);
            a.hlt();
            a.jmp(halt);
        });
        s.Load(a => { a.inc(r9); a.iretq(); }, Handler);
        s.Load(a => { a.inc(r10); a.iretq(); }, NmiHandler);
        s.Gate64(Vec, Handler);
        s.Gate64(2, NmiHandler);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        s.Cpu[Gpr.Rbx] = stride;
        s.Cpu.ChargesEndRuns = chargesEndRuns;
        var log = new List<(byte, ulong, ulong, ulong)>();
        var cpu = s.Cpu;
        cpu.EventDelivered = (v, k, e) => log.Add((v, cpu.Cycles, cpu.Rip, cpu.InstructionsRetired));
        return (s, log);
    }

    /// <summary>Everything a run leaves that the guest or the host can see.</summary>
    private static string State(Sys s) =>
        string.Join(",", Enumerable.Range(0, 16).Select(i => s.Cpu[(Gpr)i].ToString("X"))) +
        $" rip={s.Cpu.Rip:X} cycles={s.Cpu.Cycles} retired={s.Cpu.InstructionsRetired} flags={s.Cpu.Rflags:X}";

    /// <summary>
    /// Runs the program to HLT in slices of alternating cycle and instruction limits (from <paramref name="slices"/>,
    /// cycled), with interrupts and NMIs posted at <paramref name="events"/> cycles from the start; returns every slice's
    /// result, every delivery (vector, cycles, RIP, retired) and the final state.
    /// </summary>
    private static (List<string> Results, List<(byte, ulong, ulong, ulong)> Events, string Final) Trace(
        string profile, ulong stride, ulong[] slices, ulong[] events, bool chargesEndRuns, bool cacheTiming)
    {
        var (s, log) = Build(profile, rounds: 3, pages: 160, stride, chargesEndRuns, cacheTiming);
        ulong start = s.Cpu.Cycles;
        for (int i = 0; i < events.Length; i++) s.Cpu.PostEvent(start + events[i], nmi: i % 3 == 2, Vec);
        var results = new List<string>();
        for (int i = 0; results.Count < 100_000; i++)
        {
            ulong n = slices.Length == 0 ? 0 : slices[i % slices.Length];
            var limits = n == 0 ? RunLimits.Instructions(10_000_000)
                : i % 2 == 0 ? new RunLimits { MaxCycles = n } : new RunLimits { MaxInstructions = n };
            var r = s.M.Run(limits);
            results.Add($"{r.Reason} rip={r.Rip:X} insns={r.Instructions} cycles={r.Cycles}");
            if (r.Reason == StopReason.Halted) break;
            Assert.True(r.Reason is StopReason.CycleLimit or StopReason.InstructionLimit, r.ToString());
        }
        return (results, log, State(s));
    }

    private static void AssertSame(string profile, ulong stride, ulong[] slices, ulong[] events, bool cacheTiming = false)
    {
        var before = Trace(profile, stride, slices, events, chargesEndRuns: true, cacheTiming);
        var after = Trace(profile, stride, slices, events, chargesEndRuns: false, cacheTiming);
        Assert.Equal(before.Results, after.Results);
        Assert.Equal(before.Events, after.Events);
        Assert.Equal(before.Final, after.Final);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void OneRunWithEventsDeliversThemAtTheSameCycles(string profile)
    {
        // Events every few hundred cycles, at offsets that land inside runs with charged misses in them.
        var events = Enumerable.Range(1, 40).Select(i => (ulong)(i * 257 + (i * i) % 113)).ToArray();
        var before = Trace(profile, 0x1000, [], events, chargesEndRuns: true, cacheTiming: false);
        Assert.True(before.Events.Count >= 30, $"{before.Events.Count} deliveries"); // the program is long enough to take them
        AssertSame(profile, 0x1000, [], events);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void CycleAndInstructionLimitsLandOnTheSameBoundaries(string profile)
    {
        // Slices from 1 cycle up: limits fall before, inside and just after runs whose misses add cycles.
        foreach (ulong[] slices in new[] { new ulong[] { 1, 1 }, [7, 3], [37, 5], [101, 11], [250, 29], [1000, 64] })
            AssertSame(profile, 0x1000, slices, []);
    }

    [Fact]
    public void WithTheCacheModelLimitsAndEventsLandOnTheSameBoundaries()
    {
        var events = Enumerable.Range(1, 30).Select(i => (ulong)(i * 331 + (i * i) % 97)).ToArray();
        foreach (ulong[] slices in new[] { new ulong[] { 3, 2 }, [53, 7], [400, 40] })
            AssertSame("skylake-client", 0x1008, slices, events, cacheTiming: true);
    }

    [Fact]
    public void LimitsAndEventsTogetherAgreeForAnyStrideSlicesAndEventCycles()
    {
        Prop.ForAll(
            Gen.Elements(0UL, 8UL, 0x1000UL, 0x3000UL, 0xC000UL, 0x1008UL).ToArbitrary(),
            Gen.ArrayOf(Gen.Choose(1, 400).Select(x => (ulong)x)).ToArbitrary(),
            Gen.ArrayOf(Gen.Choose(0, 12_000).Select(x => (ulong)x)).ToArbitrary(),
            (stride, slices, events) =>
            {
                // The cache model's charges (Skylake, strides not a multiple of 16) take the same rule as the TLB's.
                bool cache = (stride & 8) != 0;
                AssertSame(cache || stride % 0x2000 == 0 ? "skylake-client" : "haswell", stride, slices.Take(6).ToArray(), events.Take(12).ToArray(), cache);
            }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void TheStridedProgramIsChargedForMisses()
    {
        // Guards the comparisons above against testing nothing: the strided loop is charged walks (cycles above the
        // same loop on one page), so the runs compared do contain charged misses.
        ulong Cycles(ulong stride)
        {
            var (s, _) = Build("skylake-client", 3, 160, stride, chargesEndRuns: false);
            Assert.Equal(StopReason.Halted, s.M.Run(RunLimits.Instructions(1_000_000)).Reason);
            return s.Cpu.Cycles;
        }
        var p = TimingProfile.Skylake;
        Assert.True(Cycles(0x1000) - Cycles(0) >= (ulong)(3 * 160 - 2) * (ulong)p.System(SystemCost.StlbHit));
    }
}
