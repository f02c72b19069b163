using Iced.Intel;
using Vtx.Devices;
using Vtx.Tests.Core;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Devices;

/// <summary>
/// Guests on the PC platform taking device interrupts end to end: PIT channel 0 → I/O APIC pin 2
/// (the ISA override) → local APIC → IDT; PIT → 8259 → LINT0 ExtINT (virtual wire) → INTA → IDT;
/// the same with the local APIC disabled (8259 on INTR directly); ACPI power-off and reset.
/// </summary>
public class PcInterruptGuestTests
{
    private const ulong GdtBase = 0x800, IdtBase = 0x2000, Counter = 0x9000, Code = 0x10000, StackTop = 0x80000;
    private static readonly ulong Code64Desc = 0x00AF_9B00_0000_FFFFUL, DataDesc = 0x00CF_9300_0000_FFFFUL;

    private sealed class PcGuest
    {
        public Machine M { get; }
        public readonly List<(byte Vector, ulong Cycle)> Delivered = new();
        public readonly List<ulong> PitCountWrites = new();

        public PcGuest()
        {
            M = new Machine(new MachineOptions
            {
                MemoryMiB = 8, Platform = MachinePlatform.Pc,
                CpuModel = new CpuModel { TscFrequencyHz = 100_000_000 }, // 100 MHz: a PIT clock is about 84 cycles
            });
            var cpu = M.Cpu;
            W64(GdtBase + 8, Code64Desc);
            W64(GdtBase + 16, DataDesc);
            cpu.Gdtr = new DescriptorTableRegister(GdtBase, 0x17);
            cpu.Idtr = new DescriptorTableRegister(IdtBase, 256 * 16 - 1);
            cpu.SetSegment(SegmentRegister.Cs, SegmentCache.FromDescriptor(0x08, Code64Desc | (1UL << 40)));
            foreach (var s in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
                cpu.SetSegment(s, SegmentCache.FromDescriptor(0x10, DataDesc | (1UL << 40)));
            cpu.InterceptedExceptions = 0;
            cpu.Rflags = 2;
            cpu[Gpr.Rsp] = StackTop;
            cpu.EventDelivered = (v, k, _) => { if (k == EventKind.ExternalInterrupt) Delivered.Add((v, cpu.Cycles)); };
            // Record the cycle of the OUT that completes counter 0's count (the second byte).
            int bytes = 0;
            cpu.Io.AccessObserved = a =>
            {
                if (a.IsWrite && a.Port == 0x43) bytes = 0;
                if (a.IsWrite && a.Port == 0x40 && ++bytes == 2) PitCountWrites.Add(cpu.Cycles);
            };
        }

        public void W64(ulong a, ulong v) => M.WriteMemory(a, BitConverter.GetBytes(v));

        public void Gate(int vector, ulong handler)
        {
            ulong lo = (handler & 0xFFFF) | (0x08UL << 16) | (14UL << 40) | (1UL << 47) | (((handler >> 16) & 0xFFFF) << 48);
            W64(IdtBase + (ulong)vector * 16, lo);
            W64(IdtBase + (ulong)vector * 16 + 8, handler >> 32);
        }

        public Func<Label, ulong> Load(Action<Assembler> body)
        {
            var (code, at) = CoreHarness.AssembleWithLabels(body, Code);
            M.WriteMemory(Code, code);
            M.Cpu.Rip = Code;
            return at;
        }
    }

    /// <summary>Programs PIT counter 0 for mode 2 with <paramref name="n"/>, then waits in HLT for <paramref name="count"/> interrupts counted by the handler.</summary>
    private static void PitAndWait(Assembler a, int n, int count, ref Label done)
    {
        var wait = a.CreateLabel();
        a.mov(al, 0x34); a.@out(0x43, al);
        a.mov(al, (byte)n); a.@out(0x40, al);
        a.mov(al, (byte)(n >> 8)); a.@out(0x40, al);
        a.sti();
        a.Label(ref wait);
        a.hlt();
        a.cmp(__qword_ptr[Counter], count);
        a.jb(wait);
        a.cli();
        a.Label(ref done);
        a.hlt();
    }

    /// <summary>The cycle of the k-th rising edge of counter 0 in mode 2 (k ≥ 1): the first cycle whose PIT tick count reaches start + k·n.</summary>
    private static ulong RiseCycle(Machine m, ulong writeCycle, int n, int k)
    {
        ulong hz = m.Cpu.Model.TscFrequencyHz, per = m.Cpu.Model.TscPerCycle;
        ulong start = (ulong)((UInt128)writeCycle * per * Pit8254.FrequencyHz / hz) + 1;
        UInt128 tick = start + (ulong)k * (ulong)n;
        UInt128 den = (UInt128)Pit8254.FrequencyHz * per;
        return (ulong)((tick * hz + den - 1) / den);
    }

    [Fact]
    public void PitThroughIoApic_DeliversAtTheEdgeCycles()
    {
        var g = new PcGuest();
        Label handler = default, done = default;
        var at = g.Load(a =>
        {
            handler = a.CreateLabel(); done = a.CreateLabel();
            var main = a.CreateLabel();
            a.jmp(main);
            a.Label(ref handler);
            a.inc(__qword_ptr[Counter]);
            a.mov(rax, 0xFEE0_00B0UL); a.mov(__dword_ptr[rax], 0);   // local APIC EOI
            a.iretq();
            a.Label(ref main);
            // Redirection entry 2 (IRQ 0 after the ISA override): vector 30h, fixed, physical APIC 0, edge, unmasked.
            a.mov(rbx, IoApic.DefaultBase);
            a.mov(__dword_ptr[rbx], 0x15); a.mov(__dword_ptr[rbx + 0x10], 0);
            a.mov(__dword_ptr[rbx], 0x14); a.mov(__dword_ptr[rbx + 0x10], 0x30);
            a.mov(al, 0xFF); a.@out(0x21, al); a.@out(0xA1, al);   // 8259 masked (as Linux does in APIC mode)
            PitAndWait(a, 1193, 5, ref done);
        });
        g.Gate(0x30, at(handler));
        var r = g.M.Run(RunLimits.Instructions(1_000_000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(at(done) + 1, r.Rip);
        Assert.Equal(5UL, BitConverter.ToUInt64(g.M.ReadMemory(Counter, 8)));
        Assert.Equal(5, g.Delivered.Count);
        Assert.All(g.Delivered, d => Assert.Equal(0x30, d.Vector));
        ulong w = Assert.Single(g.PitCountWrites);
        for (int k = 1; k <= 5; k++)
            Assert.Equal(RiseCycle(g.M, w, 1193, k), g.Delivered[k - 1].Cycle); // HLT lets time pass exactly to each edge
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PitThrough8259_VirtualWireOrDirectIntr_InterruptAcknowledgeGivesTheVector(bool apicEnabled)
    {
        var g = new PcGuest();
        if (!apicEnabled) Assert.True(g.M.Cpu.Apic.TryWriteBaseMsr(g.M.Cpu.Apic.BaseMsr & ~Vtx.Apic.LocalApic.BaseEnable));
        Label handler = default, done = default;
        var at = g.Load(a =>
        {
            handler = a.CreateLabel(); done = a.CreateLabel();
            var main = a.CreateLabel();
            a.jmp(main);
            a.Label(ref handler);
            a.inc(__qword_ptr[Counter]);
            a.mov(al, 0x20); a.@out(0x20, al);              // non-specific EOI
            a.iretq();
            a.Label(ref main);
            // Remap the master to 20h-27h (ICW1-ICW4), unmask IRQ 0 only.
            a.mov(al, 0x11); a.@out(0x20, al);
            a.mov(al, 0x20); a.@out(0x21, al);
            a.mov(al, 0x04); a.@out(0x21, al);
            a.mov(al, 0x01); a.@out(0x21, al);
            a.mov(al, 0xFE); a.@out(0x21, al);
            PitAndWait(a, 2000, 3, ref done);
        });
        g.Gate(0x20, at(handler));
        var r = g.M.Run(RunLimits.Instructions(1_000_000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(at(done) + 1, r.Rip);
        Assert.Equal(3, g.Delivered.Count);
        Assert.All(g.Delivered, d => Assert.Equal(0x20, d.Vector));
        ulong w = Assert.Single(g.PitCountWrites);
        for (int k = 1; k <= 3; k++) Assert.Equal(RiseCycle(g.M, w, 2000, k), g.Delivered[k - 1].Cycle);
        Assert.Equal(0, g.M.Pic.Master.Isr);
    }

    [Fact]
    public void PeriodicPitWithInterruptsOff_HltEndsTheRun()
    {
        var g = new PcGuest();
        g.Load(a =>
        {
            a.mov(al, 0x34); a.@out(0x43, al);
            a.mov(al, 0x10); a.@out(0x40, al); a.@out(0x40, al);
            a.hlt();
        });
        // IF = 0: nothing the PIT raises can wake HLT, so the run stops instead of spinning through time.
        var r = g.M.Run(new RunLimits { MaxCycles = 1_000_000_000_000 }); // (a safety bound: the run must end long before it)
        Assert.Equal(StopReason.Halted, r.Reason);
    }

    [Fact]
    public void Pm1aControlSlpTypS5WithSlpEn_PowersOff_ResetRegisterResets()
    {
        var g = new PcGuest();
        Label afterOff = default, afterReset = default;
        var at = g.Load(a =>
        {
            afterOff = a.CreateLabel(); afterReset = a.CreateLabel();
            a.mov(dx, 0x604);
            a.mov(ax, 1 << 10);                               // SLP_TYP 1 without SLP_EN: nothing
            a.@out(dx, ax);
            a.mov(ax, (5 << 10) | (1 << 13));
            a.@out(dx, ax);
            a.Label(ref afterOff);
            a.mov(dx, 0xCF9);
            a.mov(al, 0x06);
            a.@out(dx, al);
            a.Label(ref afterReset);
            a.hlt();
        });
        var r = g.M.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.PowerOff, r.Reason);
        Assert.Equal(at(afterOff), r.Rip);
        Assert.Null(r.ExitCode);
        r = g.M.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Reset, r.Reason);
        Assert.Equal(at(afterReset), r.Rip);
        Assert.Equal(StopReason.Halted, g.M.Run(RunLimits.Instructions(100)).Reason);
    }

    [Fact]
    public void Snapshot_OfAPcMachine_ReplaysTheSameInterrupts()
    {
        var g = new PcGuest();
        Label handler = default, done = default;
        var at = g.Load(a =>
        {
            handler = a.CreateLabel(); done = a.CreateLabel();
            var main = a.CreateLabel();
            a.jmp(main);
            a.Label(ref handler);
            a.inc(__qword_ptr[Counter]);
            a.mov(rax, 0xFEE0_00B0UL); a.mov(__dword_ptr[rax], 0);
            a.iretq();
            a.Label(ref main);
            a.mov(rbx, IoApic.DefaultBase);
            a.mov(__dword_ptr[rbx], 0x14); a.mov(__dword_ptr[rbx + 0x10], 0x30);
            PitAndWait(a, 700, 6, ref done);
        });
        g.Gate(0x30, at(handler));
        var r1 = g.M.Run(RunLimits.Instructions(8)); // the I/O APIC and PIT are programmed; no interrupt yet
        Assert.Equal(StopReason.InstructionLimit, r1.Reason);
        var snap = g.M.Snapshot();
        g.Delivered.Clear();
        var first = g.M.Run(RunLimits.Instructions(1_000_000));
        var firstEvents = g.Delivered.ToList();
        g.M.Restore(snap);
        g.Delivered.Clear();
        var second = g.M.Run(RunLimits.Instructions(1_000_000));
        Assert.Equal(first, second);
        Assert.Equal(firstEvents, g.Delivered);
        Assert.Equal(6, firstEvents.Count);
    }
}
