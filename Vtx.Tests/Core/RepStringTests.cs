using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>
/// REP-prefixed string instructions are interruptible between iterations (SDM Vol. 2B, REP/REPE/REPZ/
/// REPNE/REPNZ, "Operation" and Vol. 1, 7.3.9.1): when the run's cycle budget ends mid-way, RIP stays
/// on the instruction, rCX/rSI/rDI hold the progress, the instruction has not retired, and resuming
/// finishes with the same state and total cycles as an uninterrupted run.
/// </summary>
public class RepStringTests
{
    private const ulong Src = 0x10000, Dst = 0x20000;

    private static Machine Load(Action<Assembler> body, Action<Cpu>? setup = null)
    {
        var m = CoreHarness.Load(a => { body(a); a.hlt(); }, setup: setup);
        var pattern = new byte[0x4000];
        for (int i = 0; i < pattern.Length; i++) pattern[i] = (byte)(i * 7 + 3);
        m.WriteMemory(Src, pattern);
        return m;
    }

    private static RunResult RunToEnd(Machine m) => m.Run(RunLimits.Instructions(1_000_000));

    private static readonly string[] ProgramNames = { "movsb", "movsq-backward", "stosd", "lodsw", "repe-cmpsb", "repne-scasb", "movsb-addr32" };

    public static TheoryData<string> Programs => new(ProgramNames);

    private static void Emit(string name, Assembler a)
    {
        switch (name)
        {
            case "movsb":
                a.mov(esi, (uint)Src); a.mov(edi, (uint)Dst); a.mov(ecx, 1000);
                a.rep.movsb();
                break;
            case "movsq-backward":
                a.mov(esi, (uint)Src + 8 * 299); a.mov(edi, (uint)Dst + 8 * 299); a.mov(ecx, 300);
                a.std();
                a.rep.movsq();
                a.cld();
                break;
            case "stosd":
                a.mov(eax, 0xA5A5_1234); a.mov(edi, (uint)Dst); a.mov(ecx, 777);
                a.rep.stosd();
                break;
            case "lodsw":
                a.mov(esi, (uint)Src); a.mov(ecx, 500);
                a.rep.lodsw();
                break;
            case "repe-cmpsb":
                // Dst is a copy of Src except at byte 613: REPE stops there.
                a.mov(esi, (uint)Src); a.mov(edi, (uint)Dst); a.mov(ecx, 2000);
                a.rep.movsb();
                a.mov(__byte_ptr[Dst + 613], 0);
                a.mov(esi, (uint)Src); a.mov(edi, (uint)Dst); a.mov(ecx, 2000);
                a.repe.cmpsb();
                break;
            case "repne-scasb":
                a.mov(edi, (uint)Src); a.mov(ecx, 0x4000);
                a.mov(al, unchecked((byte)(901 * 7 + 3))); // first match at index 901 mod 256 = 133
                a.repne.scasb();
                break;
            case "movsb-addr32":
                // 32-bit address size: ECX/ESI/EDI are the counters, the upper halves are ignored and cleared.
                a.mov(rsi, 0xFFFF_FFFF_0000_0000UL | Src); a.mov(rdi, 0xFFFF_FFFF_0000_0000UL | Dst);
                a.mov(rcx, 0xFFFF_FFFF_0000_0000UL | 1000);
                a.db(0x67, 0xF3, 0xA4); // rep movsb with a 67 prefix
                break;
            default: throw new ArgumentException(name);
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void InterruptedRepResumesToTheSameStateAndCycles(string name)
    {
        var whole = Load(a => Emit(name, a));
        var rw = RunToEnd(whole);
        Assert.Equal(StopReason.Halted, rw.Reason);
        string expected = CoreHarness.Fingerprint(whole);

        foreach (ulong budget in new ulong[] { 1, 2, 3, 7, 50, 333 })
        {
            var m = Load(a => Emit(name, a));
            ulong total = 0;
            int stops = 0;
            RunResult r;
            do
            {
                r = m.Run(new RunLimits { MaxCycles = budget });
                total += r.Cycles;
                // Every slice makes progress (a final run may only find the processor already halted).
                if (r.Reason == StopReason.CycleLimit) Assert.True(r.Cycles >= budget);
                stops++;
                Assert.True(stops < 100_000);
            } while (r.Reason == StopReason.CycleLimit);
            Assert.Equal(StopReason.Halted, r.Reason);
            Assert.Equal(expected, CoreHarness.Fingerprint(m));
            Assert.Equal(rw.Cycles, total);
        }
    }

    [Fact]
    public void RepMovsbStoppedMidWayShowsItsProgress()
    {
        var m = Load(a => Emit("movsb", a));
        Assert.Equal(StopReason.InstructionLimit, m.Run(RunLimits.Instructions(3)).Reason);
        ulong repAt = m.Cpu.Rip;
        ulong cycles0 = m.Cpu.Cycles, retired0 = m.Cpu.InstructionsRetired;

        // 20 cycles: less than the whole copy takes on any profile (1000 single-byte iterations, or the fast-string
        // start-up plus 1000 bytes at the profile's rate), so the limit falls inside the instruction.
        var r = m.Run(new RunLimits { MaxCycles = 20 });
        Assert.Equal(StopReason.CycleLimit, r.Reason);
        Assert.Equal(repAt, r.Rip);
        Assert.Equal(repAt, m.Cpu.Rip);
        Assert.Equal(0UL, r.Instructions);
        Assert.Equal(retired0, m.Cpu.InstructionsRetired);
        Assert.True(r.Cycles >= 20);

        ulong rcx = m.Cpu[Gpr.Rcx];
        ulong done = 1000 - rcx;
        Assert.InRange(done, 1UL, 999UL);
        Assert.Equal(Src + done, m.Cpu[Gpr.Rsi]);
        Assert.Equal(Dst + done, m.Cpu[Gpr.Rdi]);
        Assert.Equal(r.Cycles, m.Cpu.Cycles - cycles0);
        // Exactly the first `done` bytes were copied.
        Assert.Equal(m.ReadMemory(Src, (int)done), m.ReadMemory(Dst, (int)done));
        Assert.Equal(0, m.ReadMemory(Dst + done, 1)[0]);

        // Another slice makes more progress, still on the same instruction.
        r = m.Run(new RunLimits { MaxCycles = 20 });
        Assert.Equal(StopReason.CycleLimit, r.Reason);
        Assert.Equal(repAt, r.Rip);
        Assert.True(m.Cpu[Gpr.Rcx] < rcx);

        r = RunToEnd(m);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(0UL, m.Cpu[Gpr.Rcx]);
        Assert.Equal(retired0 + 2, m.Cpu.InstructionsRetired); // the REP counted once, then HLT
        Assert.Equal(m.ReadMemory(Src, 1000), m.ReadMemory(Dst, 1000));
    }

    [Fact]
    public void InterruptedRepeCmpsKeepsTheFlagsOfTheLastIteration()
    {
        var m = Load(a => Emit("repe-cmpsb", a));
        // Run up to the REPE CMPSB, then slice it.
        while (true)
        {
            var r = m.Run(RunLimits.Instructions(1));
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            if (m.ReadMemory(m.Cpu.Rip, 2) is [0xF3, 0xA6]) break;
        }
        ulong at = m.Cpu.Rip;
        var s = m.Run(new RunLimits { MaxCycles = 20 });
        Assert.Equal(StopReason.CycleLimit, s.Reason);
        Assert.Equal(at, m.Cpu.Rip);
        Assert.True((m.Cpu.Rflags & (ulong)RFlags.ZF) != 0); // all equal so far
        Assert.Equal(StopReason.Halted, RunToEnd(m).Reason);
        Assert.Equal(2000UL - 614, m.Cpu[Gpr.Rcx]);
        Assert.Equal(Src + 614, m.Cpu[Gpr.Rsi]);
        Assert.True((m.Cpu.Rflags & (ulong)RFlags.ZF) == 0);
    }

    [Fact]
    public void RepWithCountZeroDoesNothingButRetires()
    {
        foreach (var insn in new Action<Assembler>[]
                 {
                     a => a.rep.movsb(), a => a.rep.stosq(), a => a.rep.lodsd(),
                     a => a.repe.cmpsw(), a => a.repne.cmpsb(), a => a.repe.scasq(), a => a.repne.scasb(),
                 })
        {
            var m = Load(a => { a.cmp(eax, eax); insn(a); }, c =>
            {
                c[Gpr.Rcx] = 0;
                c[Gpr.Rsi] = Src;
                c[Gpr.Rdi] = Dst;
                c[Gpr.Rax] = 0x1234_5678_9ABC_DEF0UL;
            });
            Assert.Equal(StopReason.InstructionLimit, m.Run(RunLimits.Instructions(1)).Reason);
            var regs = CoreHarness.Gprs(m.Cpu);
            ulong flags = m.Cpu.Rflags, rip = m.Cpu.Rip;
            string mem = CoreHarness.MemoryHash(m);
            var r = m.Run(RunLimits.Instructions(1));
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            Assert.Equal(1UL, r.Instructions);
            Assert.True(m.Cpu.Rip > rip);
            Assert.Equal(regs, CoreHarness.Gprs(m.Cpu));
            Assert.Equal(flags, m.Cpu.Rflags);
            Assert.Equal(mem, CoreHarness.MemoryHash(m));
        }
    }

    [Fact]
    public void RepWithEcxZeroButRcxNonZeroUnder32BitAddressingDoesNothing()
    {
        var m = Load(a => a.db(0x67, 0xF3, 0xA4), c =>
        {
            c[Gpr.Rcx] = 0x1_0000_0000UL;
            c[Gpr.Rsi] = Src;
            c[Gpr.Rdi] = Dst;
        });
        Assert.Equal(StopReason.Halted, RunToEnd(m).Reason);
        Assert.Equal(0x1_0000_0000UL, m.Cpu[Gpr.Rcx]);
        Assert.Equal(Dst, m.Cpu[Gpr.Rdi]);
        Assert.Equal(0, m.ReadMemory(Dst, 1)[0]);
    }

    [Fact]
    public void FaultInAnIterationKeepsTheProgressOfThePreviousOnes()
    {
        // REP STOSB running from canonical into non-canonical space: #GP(0) on the first bad byte,
        // with RDI/RCX describing the bytes already stored (SDM Vol. 2B, REP: "...the instruction can be restarted").
        ulong start = 0x0000_7FFF_FFFF_FFF0UL;
        var m = Load(a => a.rep.stosb(), c => { c[Gpr.Rdi] = start; c[Gpr.Rcx] = 100; c[Gpr.Rax] = 0x42; });
        var r = RunToEnd(m);
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(Guest.CodeBase, r.Rip);
        Assert.Equal(0x0000_8000_0000_0000UL, m.Cpu[Gpr.Rdi]);
        Assert.Equal(100UL - 16, m.Cpu[Gpr.Rcx]);
        Assert.Equal(0UL, m.Cpu.InstructionsRetired);
    }

    /// <summary>
    /// Any slicing of a string-heavy program by cycle budgets ends in the state of the uninterrupted
    /// run, with the same total cycles, and every stop is on an instruction boundary.
    /// </summary>
    [Property(MaxTest = 40)]
    public Property AnyCycleSlicingGivesTheUninterruptedResult() =>
        Prop.ForAll(Arb.From(Gen.Zip(Gen.ArrayOf(Gen.Choose(1, 400), 64), Gen.Elements(ProgramNames))), t =>
        {
            var (budgets, name) = t;
            var whole = Load(a => Emit(name, a));
            var rw = RunToEnd(whole);
            var m = Load(a => Emit(name, a));
            ulong total = 0;
            int i = 0;
            RunResult r;
            do
            {
                r = m.Run(new RunLimits { MaxCycles = (ulong)budgets[i++ % budgets.Length] });
                total += r.Cycles;
            } while (r.Reason == StopReason.CycleLimit);
            Assert.Equal(CoreHarness.Fingerprint(whole), CoreHarness.Fingerprint(m));
            Assert.Equal(rw.Cycles, total);
        });

    // ------------------------------------------------------------------ REP iterations vs the instruction limit

    /// <summary>
    /// Every REP iteration counts toward MaxInstructions: with RCX = 2^64 - 1, a limit of 10 stops the
    /// run after ten iterations, between iterations (SDM Vol. 2B, REP: the instruction may be
    /// interrupted between iterations, RIP stays on it, rCX/rDI hold the progress), having retired
    /// nothing; the next run continues from there.
    /// </summary>
    [Fact]
    public void InstructionLimitEndsARepWithAHugeCount()
    {
        var m = Load(a => a.rep.stosb(), c => { c[Gpr.Rcx] = ulong.MaxValue; c[Gpr.Rdi] = Dst; c[Gpr.Rax] = 0x5A; });
        var r = CoreHarness.Bounded(() => m.Run(RunLimits.Instructions(10)));
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(Guest.CodeBase, r.Rip);
        Assert.Equal(0UL, r.Instructions);
        Assert.Equal(ulong.MaxValue - 10, m.Cpu[Gpr.Rcx]);
        Assert.Equal(Dst + 10, m.Cpu[Gpr.Rdi]);
        Assert.Equal(Enumerable.Repeat((byte)0x5A, 10), m.ReadMemory(Dst, 10));
        Assert.Equal(0, m.ReadMemory(Dst + 10, 1)[0]);

        r = CoreHarness.Bounded(() => m.Run(RunLimits.Instructions(5)));
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(ulong.MaxValue - 15, m.Cpu[Gpr.Rcx]);
        Assert.Equal(Guest.CodeBase, m.Cpu.Rip);
    }

    /// <summary>
    /// A REP of n iterations counts n toward the limit: n - 1 iterations that leave RIP on the
    /// instruction, and the last one, which retires it.
    /// </summary>
    [Theory]
    [InlineData(5UL, 3UL, 2UL, false)]   // limit 3: three iterations, RCX 5 -> 2, nothing retired
    [InlineData(5UL, 5UL, 0UL, true)]    // limit 5: the fifth iteration retires the REP
    [InlineData(5UL, 6UL, 0UL, true)]    // limit 6: the REP, then HLT
    [InlineData(1UL, 1UL, 0UL, true)]
    public void RepIterationsCountTowardTheInstructionLimit(ulong count, ulong limit, ulong rcxAfter, bool retired)
    {
        var m = Load(a => a.rep.movsb(), c => { c[Gpr.Rcx] = count; c[Gpr.Rsi] = Src; c[Gpr.Rdi] = Dst; });
        var r = m.Run(RunLimits.Instructions(limit));
        Assert.Equal(rcxAfter, m.Cpu[Gpr.Rcx]);
        bool halted = limit > count; // the REP, then HLT (which retires too)
        Assert.Equal((retired ? 1UL : 0UL) + (halted ? 1UL : 0UL), m.Cpu.InstructionsRetired);
        Assert.Equal(halted ? StopReason.Halted : StopReason.InstructionLimit, r.Reason);
        Assert.Equal(halted ? Guest.CodeBase + 3 : retired ? Guest.CodeBase + 2 : Guest.CodeBase, m.Cpu.Rip);
    }

    /// <summary>
    /// Any slicing of a string-heavy program by instruction limits ends in the state of the
    /// uninterrupted run with the same cycles, and the limits sum to the iterations plus the other
    /// instructions (each run that stops on its limit consumed exactly its limit).
    /// </summary>
    [Property(MaxTest = 30)]
    public Property AnyInstructionSlicingGivesTheUninterruptedResult() =>
        Prop.ForAll(Arb.From(Gen.Zip(Gen.ArrayOf(Gen.Choose(1, 300), 64), Gen.Elements(ProgramNames))), t =>
        {
            var (budgets, name) = t;
            var whole = Load(a => Emit(name, a));
            var rw = RunToEnd(whole);
            var m = Load(a => Emit(name, a));
            ulong cycles = 0;
            int i = 0, stops = 0;
            RunResult r;
            do
            {
                r = m.Run(RunLimits.Instructions((ulong)budgets[i++ % budgets.Length]));
                cycles += r.Cycles;
                Assert.True(++stops < 100_000);
            } while (r.Reason == StopReason.InstructionLimit);
            Assert.Equal(StopReason.Halted, r.Reason);
            Assert.Equal(CoreHarness.Fingerprint(whole), CoreHarness.Fingerprint(m));
            Assert.Equal(rw.Cycles, cycles);
        });
}
