using Iced.Intel;
using Vtx.Timing;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// Deterministic interleaving: LOCK CMPXCHG contention gives the same interleaving on every run with
/// the same quantum and the right count with any quantum; instruction-limit slicing and snapshots
/// continue the whole run exactly; a write by one processor to code another decoded is seen;
/// idle processors let time pass to the next deadline.
/// </summary>
public class SmpDeterminismTests
{
    private const long Counter = 0x9000, Failures = 0x9100, Trace = 0xA000;

    /// <summary>
    /// Every processor adds 1 to a shared counter <paramref name="perCpu"/> times with a LOCK CMPXCHG
    /// retry loop and writes its index into Trace[old value]; failed CMPXCHGs are counted per processor.
    /// A jump between the load and the CMPXCHG lets a turn end in between, so contention happens.
    /// </summary>
    private static SmpRig LockProgram(int cpus, int quantum, int perCpu, CpuModel? model = null)
    {
        var rig = new SmpRig(cpus, quantum, model: model);
        Label ap = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel();
            var loop = a.CreateLabel(); var retry = a.CreateLabel(); var mid = a.CreateLabel(); var fail = a.CreateLabel(); var ok = a.CreateLabel();
            a.Label(ref ap);
            a.mov(r8d, perCpu);
            a.Label(ref loop);
            a.nop();
            a.Label(ref retry);
            a.mov(eax, __dword_ptr[Counter]);
            a.jmp(mid);
            a.Label(ref mid);
            a.lea(ecx, __dword_ptr[rax + 1]);
            a.@lock.cmpxchg(__dword_ptr[Counter], ecx);
            a.je(ok);
            a.Label(ref fail);
            a.@lock.inc(__dword_ptr[r9 * 4 + Failures]);
            a.jmp(retry);
            a.Label(ref ok);
            a.mov(__byte_ptr[rax + Trace], r9b);
            a.dec(r8d);
            a.jnz(loop);
            a.cli();
            a.hlt();
        });
        for (int i = 1; i < cpus; i++) rig.StartHost(i, ap);
        for (int i = 0; i < cpus; i++) rig[i][Gpr.R9] = (ulong)i;
        rig[0].Rip = rig.At(ap);
        return rig;
    }

    private static (byte[] Trace, uint[] Failures, string Digest) RunLock(int cpus, int quantum, int perCpu, CpuModel? model = null)
    {
        var rig = LockProgram(cpus, quantum, perCpu, model);
        var r = rig.Run(10_000_000);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal((uint)(cpus * perCpu), rig.R32(Counter));
        var trace = rig.M.ReadMemory(Trace, cpus * perCpu);
        var fails = Enumerable.Range(0, cpus).Select(i => rig.R32(Failures + (ulong)i * 4)).ToArray();
        return (trace, fails, rig.StateDigest() + r);
    }

    public static TheoryData<int, int> Quanta() => new()
    {
        { 2, 1 }, { 2, 3 }, { 2, 64 }, { 2, 1000 }, { 2, 100_000 }, { 4, 1 }, { 4, 17 }, { 4, 1000 }, { 3, 250 },
    };

    [Theory]
    [MemberData(nameof(Quanta))]
    public void LockCmpxchgContentionCountsRightAndInterleavesTheSameOnEveryRun(int cpus, int quantum)
    {
        const int perCpu = 200;
        var first = RunLock(cpus, quantum, perCpu);
        var second = RunLock(cpus, quantum, perCpu);
        Assert.Equal(first.Trace, second.Trace);
        Assert.Equal(first.Failures, second.Failures);
        Assert.Equal(first.Digest, second.Digest);
        // Every increment is recorded once: each processor owns exactly perCpu slots of the trace.
        for (int i = 0; i < cpus; i++) Assert.Equal(perCpu, first.Trace.Count(b => b == i));
    }

    [Fact]
    public void WithOneCycleTurnsTheProcessorsReallyContend()
    {
        // With the simple profile every instruction costs at least a cycle, so a one-cycle quantum
        // switches processors at nearly every instruction: loads go stale and CMPXCHGs fail.
        var model = new CpuModel { Timing = TimingProfile.Simple };
        var (trace, fails, _) = RunLock(2, 1, 100, model);
        Assert.True(fails.Sum(f => (long)f) > 0, "no CMPXCHG ever failed");
        // Both processors made progress in alternation rather than one after the other.
        int switches = 0;
        for (int k = 1; k < trace.Length; k++) if (trace[k] != trace[k - 1]) switches++;
        Assert.True(switches > 10, $"only {switches} switches");
        // A huge quantum runs the processors one after the other: no contention at all.
        var (serial, serialFails, _) = RunLock(2, 10_000_000, 100, model);
        Assert.Equal(0, serialFails.Sum(f => (long)f));
        Assert.Equal(1, Enumerable.Range(1, serial.Length - 1).Count(k => serial[k] != serial[k - 1]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(1000)]
    public void SlicingTheRunByInstructionLimitsGivesTheWholeRun(ulong slice)
    {
        var whole = LockProgram(3, 50, 60);
        Assert.Equal(StopReason.Halted, whole.Run(10_000_000).Reason);
        var cut = LockProgram(3, 50, 60);
        ulong total = 0;
        RunResult r;
        int guard = 0;
        do
        {
            r = cut.Run(slice);
            total += r.Instructions;
            Assert.True(r.Instructions <= slice);
            Assert.True(++guard < 1_000_000);
        } while (r.Reason == StopReason.InstructionLimit);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(whole.StateDigest(), cut.StateDigest());
        Assert.Equal(whole.M.ReadMemory(Trace, 180), cut.M.ReadMemory(Trace, 180));
        Assert.Equal(whole.M.Cpus.Sum(c => (long)c.InstructionsRetired), (long)total);
    }

    [Fact]
    public void ASnapshotTakenMidRunContinuesIdenticallyOnEveryProcessor()
    {
        // Decodings (and so block-simulated costs) travel with the snapshot when the machines share the model objects.
        var model = new CpuModel();
        var rig = LockProgram(2, 40, 150, model);
        var r = rig.Run(1234);
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        var snap = rig.M.Snapshot();
        string before = rig.StateDigest();
        Assert.Equal(StopReason.Halted, rig.Run(10_000_000).Reason);
        string end1 = rig.StateDigest();
        var trace1 = rig.M.ReadMemory(Trace, 300);

        rig.M.Restore(snap);
        Assert.Equal(before, rig.StateDigest());
        Assert.Equal(StopReason.Halted, rig.Run(10_000_000).Reason);
        Assert.Equal(end1, rig.StateDigest());
        Assert.Equal(trace1, rig.M.ReadMemory(Trace, 300));

        // And into another machine of the same shape.
        var other = LockProgram(2, 40, 150, model);
        other.M.Restore(snap);
        Assert.Equal(StopReason.Halted, other.Run(10_000_000).Reason);
        Assert.Equal(end1, other.StateDigest());
        // A machine with another processor count refuses it.
        var three = new Machine(new MachineOptions { Cpus = 3, MemoryMiB = 4 });
        Assert.Throws<ArgumentException>(() => three.Restore(snap));
    }

    [Fact]
    public void InstructionLimitsBoundTheWholeMachineAndNameTheProcessor()
    {
        var rig = LockProgram(4, 10, 1000);
        var r = rig.Run(5000);
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(5000UL, r.Instructions); // no REP or exceptions here: every unit is a retirement
        Assert.Equal(5000L, rig.M.Cpus.Sum(c => (long)c.InstructionsRetired));
        Assert.InRange(r.CpuIndex, 0, 3);
        Assert.Equal(rig[r.CpuIndex].Rip, r.Rip);
    }

    [Fact]
    public void ARepStringInstructionOnAnotherProcessorStillCountsTowardTheLimit()
    {
        var rig = new SmpRig(2, 1000);
        Label ap = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel();
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
            a.Label(ref ap);
            a.mov(rcx, -1L);
            a.mov(rdi, 0x20000);
            a.xor(eax, eax);
            a.rep.stosb();
            a.hlt();
        });
        rig.StartHost(1, ap);
        var r = rig.Run(100_000);
        Assert.Equal(StopReason.InstructionLimit, r.Reason); // the REP never retires, yet the run ends
        Assert.True(rig[1][Gpr.Rcx] > 0xFFFF_FFFF_0000_0000UL);
    }

    [Fact]
    public void AWriteByOneProcessorToCodeAnotherDecodedIsSeenByIt()
    {
        // Processor 0 calls F (mov eax, 1111h; ret), flags 1, waits for processor 1 to rewrite F's
        // immediate to 2222h and flag 2, calls F again. The decoding of F is cached and shared.
        var rig = new SmpRig(2, 100);
        const long Flag = 0x9000, R1 = 0x9008, R2 = 0x9010;
        Label ap = default, f = default, imm = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel(); f = a.CreateLabel(); imm = a.CreateLabel();
            var w1 = a.CreateLabel();
            a.call(f);
            a.mov(__qword_ptr[R1], rax);
            a.mov(__qword_ptr[Flag], 1);
            a.Label(ref w1);
            a.cmp(__qword_ptr[Flag], 2);
            a.jne(w1);
            a.call(f);
            a.mov(__qword_ptr[R2], rax);
            a.hlt();
            a.Label(ref ap);
            a.cmp(__qword_ptr[Flag], 1);
            a.jne(ap);
            a.mov(rbx, 0);                       // patched below with the immediate's address
            a.Label(ref imm);
            a.mov(__dword_ptr[rbx], 0x2222);
            a.mov(__qword_ptr[Flag], 2);
            a.hlt();
            a.Label(ref f);
            a.mov(eax, 0x1111);
            a.ret();
        });
        // Point RBX at F's immediate (the 4 bytes after B8h).
        ulong immAddr = rig.At(f) + 1;
        var movRbx = rig.At(imm) - 10; // mov rbx, imm64 is 10 bytes (REX.W B8+r imm64)
        rig.M.WriteMemory(movRbx + 2, BitConverter.GetBytes(immAddr));
        rig.StartHost(1, ap);
        Assert.Equal(StopReason.Halted, rig.Run(1_000_000).Reason);
        Assert.Equal(0x1111UL, rig.R64(R1));
        Assert.Equal(0x2222UL, rig.R64(R2));
    }

    [Fact]
    public void WhenEveryProcessorIsIdleTimeJumpsToTheNextDeadline()
    {
        // Processor 1 arms its APIC timer (one-shot, 5,000,000 cycles at divide 1) and halts; processor 0
        // halts with interrupts off. Nothing runs until the deadline: the run must not step through
        // 5,000 rounds of 1000 cycles one by one, and the interrupt comes at the exact cycle.
        var rig = new SmpRig(2, 1000);
        const long Got = 0x9000;
        Label ap = default, handler = default, arm = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel(); handler = a.CreateLabel(); arm = a.CreateLabel();
            a.cli();
            a.hlt();
            a.Label(ref ap);
            a.mov(rbx, SmpRig.ApicBase);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b1011);   // divide by 1
            a.mov(__dword_ptr[rbx + 0x320], 0x45);     // one-shot, vector 45h
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 5_000_000);
            a.sti();
            a.hlt();
            a.cli();
            a.hlt();
            a.Label(ref handler);
            a.mov(__qword_ptr[Got], 1);
            a.mov(__dword_ptr[rbx + 0xB0], 0);
            a.iretq();
        });
        rig.Gate(0x45, handler);
        rig.StartHost(1, ap);
        // Run processor 1 to the arming write alone to learn the cycle the count starts at.
        ulong armedAt = 0;
        rig[1].VmxTransitionObserved = null;
        var r = rig.M.Run(new RunLimits { MaxInstructions = 1_000_000, StopAddress = rig.At(arm) });
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal(1, r.CpuIndex);
        armedAt = rig[1].Cycles; // the count starts when the write executes (its cycle at the boundary)
        var sw = System.Diagnostics.Stopwatch.StartNew();
        r = rig.Run(1_000_000);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(1UL, rig.R64(Got));
        var timer = rig.Events.Single(e => e.Vector == 0x45);
        Assert.Equal(1, timer.Cpu);
        Assert.Equal(armedAt + 5_000_000, timer.Cycle);
        Assert.True(rig[0].Cycles >= armedAt + 5_000_000 - 1000, "the idle processor's clock followed");
    }
}
