using Iced.Intel;
using Vtx.Apic;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.ApicTests;

/// <summary>
/// The local APIC seen by a 64-bit guest through the processor: the xAPIC page by MMIO, the
/// x2APIC MSRs, CR8, and delivery of its interrupts through the IDT at exactly the cycle the timer
/// says (SDM Vol. 3A, chapters 6 and 11).
/// </summary>
public class ApicGuestTests
{
    private const long D = (long)ApicGuest.Data; // scratch data the handlers write
    private const ulong Apic = ApicGuest.ApicBase;

    /// <summary>An interrupt handler that counts into [D], saves its return RIP to [D+8], writes EOI through MMIO (RBX = APIC base) and returns.</summary>
    private static void MmioHandler(Assembler a, ref Label label)
    {
        a.Label(ref label);
        a.inc(__qword_ptr[D]);
        a.mov(rax, __qword_ptr[rsp]);
        a.mov(__qword_ptr[D + 8], rax);
        a.mov(__dword_ptr[rbx + 0xB0], 0);
        a.iretq();
    }

    public static TheoryData<uint, ulong> DivideData() => ApicTimerTests.DivideData();

    [Theory]
    [MemberData(nameof(DivideData))]
    public void OneShotTimerProgrammedByMmioInterruptsHltAtTheExactDeadline(uint config, ulong divisor)
    {
        var g = new ApicGuest();
        Label arm = default, after = default, handler = default;
        g.Load(a =>
        {
            arm = a.CreateLabel(); after = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);        // SVR: software enable, spurious FFh
            a.mov(__dword_ptr[rbx + 0x3E0], (int)config); // divide configuration
            a.mov(__dword_ptr[rbx + 0x320], 0x40);        // LVT timer: one-shot, vector 40h
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 700);         // initial count: starts the timer
            a.sti();
            a.hlt();
            a.Label(ref after);
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x40, g.At(handler));
        Assert.Equal(StopReason.StopAddress, g.RunTo(arm).Reason);
        ulong start = g.Cpu.Cycles; // the count starts when the write executes
        g.RunToHalt();

        Assert.Equal([((byte)0x40, EventKind.ExternalInterrupt, start + 700 * divisor)], g.Events);
        Assert.Equal(1UL, g.R64(ApicGuest.Data));
        Assert.Equal(g.At(after), g.R64(ApicGuest.Data + 8)); // the HLT had retired
        Assert.Equal(g.At(after) + 1, g.Cpu.Rip);
        Assert.Equal(0u, g.Cpu.Apic.Read(Reg.Isr + 0x20)); // the handler's EOI retired vector 40h
        Assert.Equal(0u, g.Cpu.Apic.Read(Reg.Irr + 0x20));
    }

    [Fact]
    public void PeriodicTimerInterruptsEveryPeriodExactly()
    {
        var g = new ApicGuest();
        Label arm = default, wait = default, handler = default;
        g.Load(a =>
        {
            arm = a.CreateLabel(); wait = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b0001);       // ÷4
            a.mov(__dword_ptr[rbx + 0x320], 0x20041);     // periodic, vector 41h
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 250);         // period 1000 cycles
            a.sti();
            a.Label(ref wait);
            a.hlt();
            a.cmp(__qword_ptr[D], 8);
            a.jb(wait);
            a.mov(__dword_ptr[rbx + 0x380], 0);           // stop
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x41, g.At(handler));
        g.RunTo(arm);
        ulong start = g.Cpu.Cycles;
        g.RunToHalt();
        Assert.Equal(Enumerable.Range(1, 8).Select(k => ((byte)0x41, EventKind.ExternalInterrupt, start + (ulong)k * 1000)), g.Events);
        Assert.Equal(ulong.MaxValue, g.Cpu.Apic.NextTimerDeadline);
    }

    /// <summary>The periodic guest of <see cref="PeriodicTimerInterruptsEveryPeriodExactly"/>, for runs cut into pieces.</summary>
    private static ApicGuest PeriodicGuest()
    {
        var g = new ApicGuest();
        Label wait = default, handler = default;
        g.Load(a =>
        {
            wait = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b1011);      // ÷1
            a.mov(__dword_ptr[rbx + 0x320], 0x20047);
            a.mov(__dword_ptr[rbx + 0x380], 1333);          // a period well above the handler (its EOI is an uncached MMIO write)
            a.sti();
            a.Label(ref wait);
            a.add(rcx, 1);                                 // some work, then wait
            a.cmp(rcx, 50);
            a.jb(wait);
            a.xor(ecx, ecx);
            a.hlt();
            a.cmp(__qword_ptr[D], 12);
            a.jb(wait);
            a.mov(__dword_ptr[rbx + 0x380], 0);
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x47, g.At(handler));
        return g;
    }

    [Theory]
    [InlineData(1UL, 0UL)]
    [InlineData(0UL, 97UL)]
    [InlineData(0UL, 1000UL)]
    [InlineData(7UL, 0UL)]
    public void CuttingTheRunIntoPiecesChangesNoDeliveryCycle(ulong instructionsPerRun, ulong cyclesPerRun)
    {
        var whole = PeriodicGuest();
        whole.RunToHalt(1_000_000);
        var cut = PeriodicGuest();
        for (int i = 0; i < 1_000_000; i++)
        {
            var r = cut.M.Run(new RunLimits
            {
                MaxInstructions = instructionsPerRun == 0 ? null : instructionsPerRun,
                MaxCycles = cyclesPerRun == 0 ? null : cyclesPerRun,
            });
            if (r.Reason == StopReason.Halted && cut.R64(ApicGuest.Data) >= 12) break;
            Assert.True(r.Reason is StopReason.InstructionLimit or StopReason.CycleLimit or StopReason.Halted, r.ToString());
        }
        Assert.Equal(12, whole.Events.Count);
        Assert.Equal(whole.Events, cut.Events);
        Assert.Equal(whole.Cpu.Cycles, cut.Cpu.Cycles);
        Assert.Equal(whole.Cpu.InstructionsRetired, cut.Cpu.InstructionsRetired);
    }

    [Fact]
    public void CurrentCountReadByTheGuestFollowsTheCycleCount()
    {
        var g = new ApicGuest();
        Label arm = default, read = default;
        g.Load(a =>
        {
            arm = a.CreateLabel(); read = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b0000);      // ÷2
            a.mov(__dword_ptr[rbx + 0x320], 0x10048);     // masked one-shot
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 100_000);
            a.mov(ecx, 300);
            var l = a.CreateLabel();
            a.Label(ref l);
            a.imul(eax, eax, 3);
            a.dec(ecx);
            a.jnz(l);
            a.Label(ref read);
            a.mov(eax, __dword_ptr[rbx + 0x390]);
            a.mov(__dword_ptr[D + 0x20], eax);
            a.mov(eax, __dword_ptr[rbx + 0x380]);
            a.mov(__dword_ptr[D + 0x24], eax);
            a.hlt();
        });
        g.RunTo(arm);
        ulong start = g.Cpu.Cycles;
        g.RunTo(read);
        ulong at = g.Cpu.Cycles;
        g.RunToHalt();
        Assert.Equal(100_000u - (uint)((at - start) / 2), g.R32(ApicGuest.Data + 0x20));
        Assert.Equal(100_000u, g.R32(ApicGuest.Data + 0x24));
    }

    [Fact]
    public void ReadModifyWriteInstructionsReachTheApicRegisters()
    {
        var g = new ApicGuest();
        g.Load(a =>
        {
            a.mov(rbx, Apic);
            a.or(__dword_ptr[rbx + 0xF0], 0x100);         // software enable, keeping spurious vector FFh
            a.mov(eax, 0x20);
            a.xchg(__dword_ptr[rbx + 0x80], eax);          // TPR := 20h, EAX := old TPR
            a.mov(__dword_ptr[D + 0x20], eax);
            a.hlt();
        });
        g.RunToHalt();
        Assert.Equal(0x1FFu, g.Cpu.Apic.Read(Reg.Svr));
        Assert.True(g.Cpu.Apic.SoftwareEnabled);
        Assert.Equal(0x20u, g.Cpu.Apic.Read(Reg.Tpr));
        Assert.Equal(0u, g.R32(ApicGuest.Data + 0x20));
    }

    [Fact]
    public void TimerDeadlineInterruptsABusyLoopAtTheFirstBoundaryAfterIt()
    {
        var g = new ApicGuest();
        Label arm = default, spin = default, handler = default;
        g.Load(a =>
        {
            arm = a.CreateLabel(); spin = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b1011);      // ÷1
            a.mov(__dword_ptr[rbx + 0x320], 0x42);
            a.sti();
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 10_001);
            a.Label(ref spin);
            a.add(rcx, 1);
            a.cmp(__qword_ptr[D], 0);                     // 5 cycles (memory operand)
            a.je(spin);
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x42, g.At(handler));
        g.RunTo(arm);
        ulong deadline = g.Cpu.Cycles + 10_001;
        g.RunToHalt(1_000_000);
        var e = Assert.Single(g.Events);
        Assert.Equal((byte)0x42, e.Vector);
        Assert.InRange(e.Cycle, deadline, deadline + 4); // the previous boundary was before the deadline
    }

    [Fact]
    public void TimerInterruptWithIfClearStaysInIrrAndHltWithNothingToWakeItEndsTheRun()
    {
        var g = new ApicGuest();
        Label arm = default;
        g.Load(a =>
        {
            arm = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b1011);
            a.mov(__dword_ptr[rbx + 0x320], 0x43);
            a.cli();
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 5000);
            a.hlt();
        });
        g.RunTo(arm);
        ulong deadline = g.Cpu.Cycles + 5000;
        g.RunToHalt();
        Assert.Equal(deadline, g.Cpu.Cycles); // time passed in HLT up to the timer, then nothing could wake it
        Assert.Empty(g.Events);
        Assert.NotEqual(0u, g.Cpu.Apic.Read(Reg.Irr + 0x20) & (1u << 3));
    }

    [Fact]
    public void SelfIpiThroughTheXApicIcrIsTakenAtTheNextBoundary()
    {
        var g = new ApicGuest();
        Label next = default, handler = default;
        g.Load(a =>
        {
            next = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.sti();
            a.nop();
            a.mov(__dword_ptr[rbx + 0x300], 0x40050);     // self, fixed, vector 50h
            a.Label(ref next);
            a.nop();
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x50, g.At(handler));
        g.RunToHalt();
        Assert.Equal([(byte)0x50], g.Events.Select(e => e.Vector));
        Assert.Equal(EventKind.ExternalInterrupt, g.Events[0].Kind);
        Assert.Equal(g.At(next), g.R64(ApicGuest.Data + 8));
        Assert.Equal(1UL, g.R64(ApicGuest.Data));
    }

    [Fact]
    public void X2ApicSelfIpiAndIcrMsrAreDeliveredAndTheMmioPageIsGone()
    {
        var g = new ApicGuest();
        Label next1 = default, next2 = default, handler = default;
        g.Load(a =>
        {
            next1 = a.CreateLabel(); next2 = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.or(eax, 0xC00);                              // EN | EXTD
            a.wrmsr();
            a.xor(edx, edx);
            a.mov(ecx, 0x80F);
            a.mov(eax, 0x1FF);                             // SVR
            a.wrmsr();
            a.mov(rbx, Apic);
            a.mov(eax, __dword_ptr[rbx + 0x30]);           // no MMIO in x2APIC mode
            a.mov(__dword_ptr[D + 0x20], eax);
            a.sti();
            a.nop();
            a.mov(ecx, 0x83F);
            a.mov(eax, 0x51);
            a.wrmsr();                                     // SELF IPI
            a.Label(ref next1);
            a.mov(ecx, 0x830);
            a.mov(eax, 0x52);                              // fixed, physical, destination EDX = 0 (this APIC)
            a.wrmsr();
            a.Label(ref next2);
            a.hlt();
            a.Label(ref handler);
            a.inc(__qword_ptr[D]);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(rsi, __qword_ptr[D]);
            a.mov(__qword_ptr[rsi * 8 + D], rax);          // return RIPs at D+8, D+16
            a.mov(ecx, 0x80B);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();                                     // EOI
            a.iretq();
        });
        g.Gate(0x51, g.At(handler));
        g.Gate(0x52, g.At(handler));
        g.RunToHalt();
        Assert.True(g.Cpu.Apic.X2ApicMode);
        Assert.Equal([(byte)0x51, (byte)0x52], g.Events.Select(e => e.Vector));
        Assert.Equal(g.At(next1), g.R64(ApicGuest.Data + 8));
        Assert.Equal(g.At(next2), g.R64(ApicGuest.Data + 16));
        Assert.Equal(0xFFFF_FFFFu, g.R32(ApicGuest.Data + 0x20)); // unclaimed bus, not the version register
        Assert.True(g.Cpu.Apic.TryReadMsr(0x808 + 0x8, out _)); // ISR readable; all retired:
        for (uint i = 0; i < 8; i++)
        {
            Assert.True(g.Cpu.Apic.TryReadMsr(0x810 + i, out ulong isr));
            Assert.Equal(0UL, isr);
        }
    }

    [Fact]
    public void Cr8IsTprBits7To4AndAHigherTprHoldsTheInterruptUntilLowered()
    {
        var g = new ApicGuest();
        Label lower = default, after = default, handler = default;
        g.Load(a =>
        {
            lower = a.CreateLabel(); after = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(eax, 5);
            a.mov(cr8, rax);
            a.mov(eax, __dword_ptr[rbx + 0x80]);
            a.mov(__dword_ptr[D + 0x20], eax);             // TPR = 50h
            a.mov(__dword_ptr[rbx + 0x80], 0x7C);
            a.mov(rax, cr8);
            a.mov(__qword_ptr[D + 0x28], rax);             // CR8 = 7
            a.mov(eax, 5);
            a.mov(cr8, rax);
            a.mov(eax, __dword_ptr[rbx + 0x80]);
            a.mov(__dword_ptr[D + 0x30], eax);             // 50h: TPR[3:0] cleared
            a.sti();
            a.mov(__dword_ptr[rbx + 0x300], 0x40055);     // self IPI, vector 55h: class 5 is not above 5
            a.nop();
            a.nop();
            a.mov(__qword_ptr[D + 0x38], 1);
            a.mov(eax, 4);
            a.Label(ref lower);
            a.mov(cr8, rax);
            a.Label(ref after);
            a.nop();
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x55, g.At(handler));
        Assert.Equal(StopReason.StopAddress, g.RunTo(lower).Reason);
        Assert.Empty(g.Events);
        Assert.NotEqual(0u, g.Cpu.Apic.Read(Reg.Irr + 0x20) & (1u << 0x15));
        Assert.Equal(0x50u, g.Cpu.Apic.Read(Reg.Ppr));
        g.RunToHalt();
        Assert.Equal(0x50u, g.R32(ApicGuest.Data + 0x20));
        Assert.Equal(7UL, g.R64(ApicGuest.Data + 0x28));
        Assert.Equal(0x50u, g.R32(ApicGuest.Data + 0x30));
        Assert.Equal([(byte)0x55], g.Events.Select(e => e.Vector));
        Assert.Equal(g.At(after), g.R64(ApicGuest.Data + 8)); // taken right after CR8 was lowered
        Assert.Equal(0x40u, g.Cpu.Apic.Read(Reg.Tpr));
    }

    [Fact]
    public void Cr8ReservedBitsRaiseGp()
    {
        var g = new ApicGuest();
        g.Load(a =>
        {
            a.mov(eax, 0x10);
            a.mov(cr8, rax);
            a.hlt();
        });
        g.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = g.Run();
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(0, g.Cpu.Apic.Tpr);
    }

    [Fact]
    public void NmiSentThroughTheIcrReachesTheNmiHandlerWithIfClear()
    {
        var g = new ApicGuest();
        Label next = default, handler = default;
        g.Load(a =>
        {
            next = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.cli();
            a.mov(__dword_ptr[rbx + 0x300], 0x44400);     // self, NMI (the APIC is software-disabled)
            a.Label(ref next);
            a.nop();
            a.hlt();
            a.Label(ref handler);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[D + 8], rax);
            a.iretq();
        });
        g.Gate(2, g.At(handler));
        g.RunToHalt();
        Assert.Equal([((byte)2, EventKind.Nmi)], g.Events.Select(e => (e.Vector, e.Kind)));
        Assert.Equal(g.At(next), g.R64(ApicGuest.Data + 8));
        Assert.False(g.Cpu.NmiBlocked); // IRETQ unblocked NMIs
    }

    [Fact]
    public void Lint1ProgrammedForNmiDeliversAnNmiToTheGuest()
    {
        var g = new ApicGuest();
        Label handler = default;
        g.Load(a =>
        {
            handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x360], 0x400);       // LINT1: NMI
            a.hlt();
            a.hlt();
            a.Label(ref handler);
            a.iretq();
        });
        g.Gate(2, g.At(handler));
        g.RunToHalt();
        g.Cpu.Apic.RaiseLint(1);
        g.RunToHalt();
        Assert.Equal([((byte)2, EventKind.Nmi)], g.Events.Select(e => (e.Vector, e.Kind)));
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(3UL)]
    public void TscDeadlineTimerFiresAtTheFirstCycleWhoseTscReachesTheDeadline(ulong tscPerCycle)
    {
        var g = new ApicGuest(new CpuModel { TscPerCycle = tscPerCycle });
        Label handler = default;
        g.Load(a =>
        {
            handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x320], 0x40044);     // TSC-deadline, vector 44h
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.add(rax, 3001);
            a.mov(__qword_ptr[D + 0x20], rax);
            a.mov(rdx, rax);
            a.shr(rdx, 32);
            a.mov(ecx, 0x6E0);
            a.wrmsr();
            a.sti();
            a.hlt();
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x44, g.At(handler));
        g.RunToHalt();
        ulong deadline = g.R64(ApicGuest.Data + 0x20);
        var e = Assert.Single(g.Events);
        Assert.Equal((byte)0x44, e.Vector);
        Assert.Equal((deadline - g.Cpu.TscOffset + tscPerCycle - 1) / tscPerCycle, e.Cycle);
        Assert.Equal(0UL, g.Cpu.ReadMsr(0x6E0)); // disarmed after it fired
    }

    [Fact]
    public void WritingTheTscMovesAnArmedTscDeadline()
    {
        // The timer compares the deadline with the TSC, so writing IA32_TSC changes when it fires.
        var g = new ApicGuest();
        Label handler = default;
        g.Load(a =>
        {
            handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x320], 0x40045);
            a.mov(ecx, 0x6E0);
            a.mov(eax, 0x10_0000);                         // deadline: TSC = 1 Mi
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, 0x10);
            a.mov(eax, 0x10_0000 - 2000);                  // TSC := deadline - 2000
            a.wrmsr();
            a.sti();
            a.hlt();
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x45, g.At(handler));
        g.RunToHalt();
        var e = Assert.Single(g.Events);
        Assert.Equal(0x10_0000UL, e.Cycle * g.Cpu.Model.TscPerCycle + g.Cpu.TscOffset); // the TSC at delivery is the deadline
    }

    [Fact]
    public void RelocatingTheApicBaseOverRamHidesItAndDisablingTheApicShowsItAgain()
    {
        const ulong ram = 0x10_0000;
        var g = new ApicGuest();
        g.W64(ram + 0x30, 0x1122_3344_5566_7788);
        g.Load(a =>
        {
            a.mov(rbx, (long)ram);
            a.mov(eax, __dword_ptr[rbx + 0x30]);
            a.mov(__dword_ptr[D + 0x20], eax);             // RAM (and a TLB entry for it)
            a.mov(ecx, 0x1B);
            a.mov(eax, (int)ram | 0x900);                  // base 10_0000h, EN, BSP
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, __dword_ptr[rbx + 0x30]);
            a.mov(__dword_ptr[D + 0x24], eax);             // the version register
            a.mov(__dword_ptr[rbx + 0x80], 0x30);          // TPR, not RAM
            a.mov(rsi, (long)Apic);
            a.mov(eax, __dword_ptr[rsi + 0x30]);
            a.mov(__dword_ptr[D + 0x28], eax);             // the old base is no longer the APIC
            a.mov(eax, (int)ram | 0x100);                  // EN = 0
            a.wrmsr();
            a.mov(eax, __dword_ptr[rbx + 0x30]);
            a.mov(__dword_ptr[D + 0x2C], eax);             // RAM again, untouched
            a.mov(eax, __dword_ptr[rbx + 0x80]);
            a.mov(__dword_ptr[D + 0x30], eax);
            a.hlt();
        });
        g.RunToHalt();
        var ver = new LocalApic(() => 0, () => 0, () => { }).Read(Reg.Version);
        Assert.Equal(0x5566_7788u, g.R32(ApicGuest.Data + 0x20));
        Assert.Equal(ver, g.R32(ApicGuest.Data + 0x24));
        Assert.Equal(0xFFFF_FFFFu, g.R32(ApicGuest.Data + 0x28));
        Assert.Equal(0x5566_7788u, g.R32(ApicGuest.Data + 0x2C));
        Assert.Equal(0u, g.R32(ApicGuest.Data + 0x30));
        Assert.Equal(0x1122_3344_5566_7788UL, g.R64(ram + 0x30));
        Assert.False(g.Cpu.Apic.XApicMode);
    }

    [Fact]
    public void TheTimerWorksThroughPagingWithTheApicPageMapped()
    {
        var g = new ApicGuest();
        g.EnablePaging();
        Label arm = default, handler = default;
        g.Load(a =>
        {
            arm = a.CreateLabel(); handler = a.CreateLabel();
            a.mov(rbx, Apic);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(eax, __dword_ptr[rbx + 0xF0]);
            a.mov(__dword_ptr[D + 0x20], eax);
            a.mov(__dword_ptr[rbx + 0x3E0], 0b0011);      // ÷16
            a.mov(__dword_ptr[rbx + 0x320], 0x46);
            a.Label(ref arm);
            a.mov(__dword_ptr[rbx + 0x380], 64);
            a.sti();
            a.hlt();
            a.hlt();
            MmioHandler(a, ref handler);
        });
        g.Gate(0x46, g.At(handler));
        g.RunTo(arm);
        ulong start = g.Cpu.Cycles;
        g.RunToHalt();
        Assert.Equal(0x1FFu, g.R32(ApicGuest.Data + 0x20));
        Assert.Equal([((byte)0x46, start + 64 * 16)], g.Events.Select(e => (e.Vector, e.Cycle)));
        Assert.Equal(0u, g.Cpu.Apic.Read(Reg.Isr + 0x20));
    }

    [Theory]
    [InlineData(0x808u, 0x10u, 0u)]          // x2APIC TPR while in xAPIC mode
    [InlineData(0x83Fu, 0x40u, 0u)]          // x2APIC SELF IPI while in xAPIC mode
    [InlineData(0x1Bu, 0xFEE0_0500u, 0u)]    // EXTD without EN
    [InlineData(0x1Bu, 0xFEE0_0B00u, 0u)]    // reserved bit 9
    [InlineData(0x1Bu, 0xFEE0_0900u, 0x4000u)] // bit 46: above MAXPHYADDR (46)
    public void RefusedApicMsrWritesRaiseGp(uint msr, uint lo, uint hi)
    {
        var g = new ApicGuest();
        g.Load(a =>
        {
            a.mov(ecx, (int)msr);
            a.mov(eax, unchecked((int)lo));
            a.mov(edx, (int)hi);
            a.wrmsr();
            a.hlt();
        });
        g.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = g.Run();
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(0xFEE0_0900UL, g.Cpu.ReadMsr(0x1B));
        Assert.Equal(0u, g.Cpu.Apic.Read(Reg.Tpr));
        Assert.Equal(0u, g.Cpu.Apic.Read(Reg.Irr + 0x20));
    }

    [Fact]
    public void X2ApicToXApicThroughWrmsrRaisesGp()
    {
        var g = new ApicGuest();
        Label back = default;
        g.Load(a =>
        {
            back = a.CreateLabel();
            a.mov(ecx, 0x1B);
            a.mov(eax, unchecked((int)0xFEE0_0D00));      // x2APIC
            a.xor(edx, edx);
            a.wrmsr();
            a.Label(ref back);
            a.mov(eax, unchecked((int)0xFEE0_0900));      // back to xAPIC: invalid
            a.wrmsr();
            a.hlt();
        });
        g.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = g.Run();
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.True(g.Cpu.Apic.X2ApicMode);
        Assert.Equal(0xFEE0_0D00UL, g.Cpu.ReadMsr(0x1B));
    }
}
