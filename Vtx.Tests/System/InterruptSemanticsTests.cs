using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Interrupt blocking at instruction boundaries (SDM Vol. 3A, 6.8.3 "Masking exceptions and
/// interrupts when switching stacks", 6.7.1 "Handling multiple NMIs", Vol. 2B STI; Vol. 3C 25.4.2
/// interruptibility state) and HLT (SDM Vol. 2A, HLT): STI and MOV SS/POP SS shadows, NMI blocking
/// until IRET with one latched NMI, and waking from HLT at the posted cycle.
/// </summary>
public class InterruptSemanticsTests
{
    private const uint F = (uint)Sys.Scratch;
    private const ulong Handler = Sys.Code + 0x200, NmiHandler = Sys.Code + 0x300;
    private const byte Vec = 0x50;

    /// <summary>
    /// A 32-bit ring-0 machine: the interrupt handler at <see cref="Handler"/> appends its return EIP
    /// to a log at F (count at F + 0x7C) and IRETs; the NMI handler does the same with its own log at F + 0x80.
    /// </summary>
    private static Sys Machine(Action<Assembler> main, bool interruptGate = true) => Machine(main, out _, interruptGate);

    private static Sys Machine(Action<Assembler> main, out Func<Label, ulong> at, bool interruptGate = true)
    {
        var s = new Sys();
        s.EnterProtected();
        at = s.Load(main, Sys.Code, 32);
        s.Load(a => Logger(a, F), Handler, 32);
        s.Load(a => Logger(a, F + 0x80), NmiHandler, 32);
        s.Gate32(Vec, Handler, trap: !interruptGate);
        s.Gate32(2, NmiHandler);
        s.Cpu.Rip = Sys.Code;
        return s;
    }

    private static void Logger(Assembler a, uint log)
    {
        a.push(eax);
        a.push(ebx);
        a.mov(ebx, __dword_ptr[log + 0x7C]);
        a.mov(eax, __dword_ptr[esp + 8]);              // the interrupted EIP
        a.mov(__dword_ptr[ebx * 4 + (int)log], eax);
        a.inc(__dword_ptr[log + 0x7C]);
        a.pop(ebx);
        a.pop(eax);
        a.iretd();
    }

    private static uint[] Log(Sys s, uint log = F) =>
        Enumerable.Range(0, (int)s.R32(log + 0x7C)).Select(i => s.R32(log + (uint)i * 4)).ToArray();

    /// <summary>nop × k1, sti, nop × (1 + k2), hlt, hlt — every instruction one byte, so boundary n is at Code + n.</summary>
    private static Action<Assembler> StiProgram(int k1, int k2) => a =>
    {
        for (int i = 0; i < k1; i++) a.nop();
        a.sti();
        for (int i = 0; i < 1 + k2; i++) a.nop();
        a.hlt();
        a.hlt(); // where a HLT woken by the interrupt returns
    };

    /// <summary>
    /// "No maskable interrupt is delivered between an STI that set IF and the next instruction":
    /// an interrupt raised at any boundary p (IF = 0 before the STI) is delivered at boundary
    /// max(p, sti + 2) — never at sti + 1 — and exactly once.
    /// </summary>
    [Fact]
    public void StiShadowProperty_RaisedAtAnyBoundary()
    {
        var gen = from k1 in Gen.Choose(0, 6) from k2 in Gen.Choose(0, 6) from p in Gen.Choose(0, k1 + k2 + 2) select (k1, k2, p);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (k1, k2, p) = t;
            var s = Machine(StiProgram(k1, k2));
            if (p > 0) Assert.Equal(StopReason.InstructionLimit, s.Step((ulong)p).Reason);
            s.Cpu.RaiseInterrupt(Vec);
            s.RunToHalt();
            int expected = Math.Max(p, k1 + 2);
            Assert.Equal(new[] { (uint)(Sys.Code + (ulong)expected) }, Log(s));
            Assert.DoesNotContain((uint)(Sys.Code + (ulong)k1 + 1), Log(s));
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>The same property for an interrupt posted at a cycle: delivered at the first boundary at or after that cycle that is not in the STI shadow.</summary>
    [Fact]
    public void StiShadowProperty_PostedAtAnyCycle()
    {
        var gen = from k1 in Gen.Choose(0, 6) from k2 in Gen.Choose(0, 6) from c in Gen.Choose(0, 40) select (k1, k2, c);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (k1, k2, c) = t;
            // Reference run without the interrupt: the cycle count at each boundary.
            var r = Machine(StiProgram(k1, k2));
            ulong start = r.Cpu.Cycles;
            var boundary = new List<ulong> { 0 };
            while (!r.Cpu.IsHalted) { r.Step(); boundary.Add(r.Cpu.Cycles - start); }
            int hlt = k1 + k2 + 2;

            var s = Machine(StiProgram(k1, k2));
            s.Cpu.PostEvent(s.Cpu.Cycles + (ulong)c, nmi: false, Vec);
            s.RunToHalt();
            int d = Enumerable.Range(0, hlt + 1).FirstOrDefault(i => boundary[i] >= (ulong)c && i >= k1 + 2, -1);
            uint expected = (uint)(Sys.Code + (ulong)(d < 0 ? hlt + 1 : d)); // past the HLT: HLT wakes
            Assert.Equal(new[] { expected }, Log(s));
            Assert.True(s.Events[0].Cycles - start >= (ulong)c, "delivered before the posted cycle");
            if (d < 0) Assert.Equal((ulong)c, s.Events[0].Cycles - start); // woken from HLT exactly then
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void StiHltWithPendingInterruptExecutesTheHltThenWakes()
    {
        // The idle idiom: STI; HLT never loses a wakeup and never takes the interrupt before HLT.
        var s = Machine(a => { a.sti(); a.hlt(); a.hlt(); });
        s.Cpu.RaiseInterrupt(Vec);
        s.RunToHalt();
        Assert.Equal(new[] { (uint)Sys.Code + 2 }, Log(s));
        Assert.Equal(Sys.Code + 3, s.Cpu.Rip);
    }

    [Fact]
    public void StiWithIfAlreadySetCreatesNoShadow()
    {
        var s = Machine(a => { a.nop(); a.sti(); a.nop(); a.nop(); a.hlt(); });
        s.Cpu.Rflags = 0x202;
        s.Step(2);
        Assert.Null(s.Cpu.InterruptShadow);
        s.Cpu.RaiseInterrupt(Vec);
        s.RunToHalt();
        Assert.Equal(new[] { (uint)Sys.Code + 2 }, Log(s));

        var t = Machine(a => { a.nop(); a.sti(); a.nop(); a.nop(); a.hlt(); });
        t.Step(2);
        Assert.Equal("sti", t.Cpu.InterruptShadow);
        t.Step();
        Assert.Null(t.Cpu.InterruptShadow);
    }

    [Theory]
    [InlineData("mov")]
    [InlineData("pop")]
    public void SsLoadShadowBlocksInterruptsAndNmiForOneInstruction(string how)
    {
        Label load = default, next = default, after = default;
        var s = Machine(a =>
        {
            load = a.CreateLabel(); next = a.CreateLabel(); after = a.CreateLabel();
            a.mov(eax, Sys.KData);
            a.push(eax);
            a.Label(ref load);
            if (how == "mov") a.mov(ss, ax); else a.pop(ss);
            a.Label(ref next);
            a.mov(esp, (uint)Sys.KernelStack - 0x40);
            a.Label(ref after);
            a.nop();
            a.hlt();
        }, out var at);
        s.Cpu.Rflags = 0x202;
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(load)).Reason);
        s.Step();
        Assert.Equal(at(next), s.Cpu.Rip);
        Assert.Equal("mov-ss", s.Cpu.InterruptShadow);
        s.Cpu.RaiseNmi();
        s.Cpu.RaiseInterrupt(Vec);
        s.RunToHalt();
        ulong afterAt = at(after);
        // Both events arrive after the instruction that follows the SS load: NMI first, then the
        // interrupt once the NMI handler's IRET has restored IF.
        Assert.Equal(new[] { (uint)afterAt }, Log(s, F + 0x80));
        Assert.Equal(new[] { (uint)afterAt }, Log(s));
        Assert.Equal(new byte[] { 2, Vec }, s.Events.Select(e => e.Vector));
    }

    [Fact]
    public void BackToBackSsLoadsDoNotExtendTheShadow()
    {
        Label first = default;
        var s = Machine(a =>
        {
            first = a.CreateLabel();
            a.mov(eax, Sys.KData);
            a.mov(ss, ax);
            a.mov(ss, ax);
            a.Label(ref first);
            a.nop();
            a.nop();
            a.hlt();
        }, out var at);
        s.Step(2);
        Assert.Equal("mov-ss", s.Cpu.InterruptShadow);
        s.Cpu.RaiseNmi();
        s.Step();                   // the second MOV SS runs in the first one's shadow
        Assert.Null(s.Cpu.InterruptShadow);
        s.RunToHalt();
        Assert.Equal(new[] { (uint)at(first) }, Log(s, F + 0x80));
    }

    [Fact]
    public void NmiBlocksNmisUntilIretAndOneIsLatched()
    {
        var s = new Sys();
        s.EnterProtected();
        Label loop = default, mark = default, nmi = default;
        var at = s.Load(a =>
        {
            loop = a.CreateLabel(); mark = a.CreateLabel(); nmi = a.CreateLabel();
            a.Label(ref loop);
            a.inc(ebx);
            a.cmp(ebx, 50);
            a.jne(loop);
            a.hlt();
            a.Label(ref nmi);
            a.inc(__dword_ptr[F]);
            a.Label(ref mark);
            a.nop();
            a.nop();
            a.iretd();
        }, bitness: 32);
        s.Gate32(2, at(nmi));
        s.Cpu.Rip = Sys.Code;
        s.Step(10);
        s.Cpu.RaiseNmi();
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(mark)).Reason);
        Assert.True(s.Cpu.NmiBlocked);
        s.Cpu.RaiseNmi();
        s.Cpu.RaiseNmi();            // NMIs do not queue: one stays latched
        s.Step();
        Assert.True(s.Cpu.NmiPending);
        Assert.Equal(1u, s.R32(F));
        // Run to the IRET, then one more instruction: the latched NMI arrives right after the IRET.
        s.Step();
        var beforeIret = s.Events.Count;
        s.Step();                    // IRETD
        Assert.Equal(beforeIret, s.Events.Count);
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(mark)).Reason);
        Assert.Equal(2u, s.R32(F));
        Assert.False(s.Cpu.NmiPending);
        s.RunToHalt();
        Assert.Equal(2u, s.R32(F));
        Assert.Equal(50UL, s.Cpu[Gpr.Rbx]);
        Assert.Equal(new byte[] { 2, 2 }, s.Events.Select(e => e.Vector));
        Assert.False(s.Cpu.NmiBlocked);
    }

    [Fact]
    public void NmiIsNotMaskedByIf()
    {
        var s = Machine(a => { a.nop(); a.nop(); a.hlt(); });
        s.Cpu.Rflags = 0x002;
        s.Cpu.RaiseNmi();
        s.Cpu.RaiseInterrupt(Vec);
        s.RunToHalt();
        Assert.Equal(new[] { (uint)Sys.Code }, Log(s, F + 0x80));
        Assert.Empty(Log(s));
    }

    [Fact]
    public void HltWithIfClearAndNothingPendingStopsHalted()
    {
        var s = Machine(a => { a.cli(); a.hlt(); a.nop(); });
        s.Cpu.Rflags = 0x202;
        var r = s.Run();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(s.Cpu.IsHalted);
        Assert.Equal(Sys.Code + 2, r.Rip);
        // A maskable interrupt posted with IF = 0 cannot wake it; the run ends without running to the end of time.
        s.Cpu.PostEvent(s.Cpu.Cycles + 1000, nmi: false, Vec);
        ulong before = s.Cpu.Cycles;
        r = s.Run();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(s.Cpu.Cycles <= before + 1000, $"cycles jumped to {s.Cpu.Cycles}");
        Assert.Empty(Log(s));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HltWakesAtThePostedCycleExactly(bool nmi)
    {
        var s = Machine(a => { a.hlt(); a.mov(eax, 1); a.hlt(); });
        s.Cpu.Rflags = nmi ? 0x002UL : 0x202UL;  // an NMI wakes HLT even with IF = 0
        ulong when = s.Cpu.Cycles + 12_345;
        s.Cpu.PostEvent(when, nmi, Vec);
        var r = s.Run();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Single(s.Events);
        Assert.Equal(when, s.Events[0].Cycles);
        Assert.Equal(new[] { (uint)Sys.Code + 1 }, Log(s, nmi ? F + 0x80 : F)); // returns after the HLT
        Assert.Equal(1UL, s.Cpu[Gpr.Rax]);
        Assert.True(s.Cpu.Cycles > when);
    }

    [Fact]
    public void CycleLimitsWhileHaltedDoNotChangeWhenTheEventArrives()
    {
        var s = Machine(a => { a.hlt(); a.hlt(); });
        s.Cpu.Rflags = 0x202;
        ulong when = s.Cpu.Cycles + 5000;
        s.Cpu.PostEvent(when, false, Vec);
        var r = s.M.Run(new RunLimits { MaxCycles = 1000 });
        Assert.Equal(StopReason.CycleLimit, r.Reason);
        Assert.True(s.Cpu.IsHalted);
        Assert.Empty(s.Events);
        r = s.M.Run(new RunLimits { MaxCycles = 3000 });
        Assert.Equal(StopReason.CycleLimit, r.Reason);
        Assert.Empty(s.Events);
        s.RunToHalt();
        Assert.Equal(when, s.Events[0].Cycles);
    }

    [Fact]
    public void InterruptGateBlocksNestedInterruptsTrapGateDoesNot()
    {
        // Two interrupts pending: with an interrupt gate the second arrives after the first handler's
        // IRET (return address in main code); with a trap gate it nests inside the first handler.
        foreach (bool gate in new[] { true, false })
        {
            var s = Machine(a => { a.nop(); a.nop(); a.hlt(); }, interruptGate: gate);
            s.Gate32(Vec + 1, Handler, trap: !gate);
            s.Cpu.Rflags = 0x202;
            s.Cpu.RaiseInterrupt(Vec);
            s.Step(); // delivers Vec, executes the handler's first instruction
            s.Cpu.RaiseInterrupt(Vec + 1);
            s.RunToHalt();
            var log = Log(s);
            Assert.Equal(2, log.Length);
            if (gate) Assert.All(log, e => Assert.InRange(e, (uint)Sys.Code, (uint)Sys.Code + 2));
            else Assert.InRange(log[0], (uint)Handler, (uint)Handler + 0x40); // nested: logged first, interrupted the handler
        }
    }
    [Fact]
    public void PopfAndIretThatSetIfOpenNoShadow()
    {
        // Only STI has a shadow: an interrupt pending when POPF sets IF arrives right after the POPF.
        Label after = default;
        var s = Machine(a =>
        {
            after = a.CreateLabel();
            a.push(0x202);
            a.popfd();
            a.Label(ref after);
            a.nop();
            a.hlt();
        }, out var at);
        s.Cpu.RaiseInterrupt(Vec);
        s.RunToHalt();
        Assert.Equal(new[] { (uint)at(after) }, Log(s));
    }
}
