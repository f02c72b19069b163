using Iced.Intel;
using Vtx.Apic;
using Vtx.Tests.Core;
using Vtx.Tests.Support;

// "Vtx.Tests.ApicTests", not "Vtx.Tests.Apic": a namespace named Apic inside Vtx.Tests would
// shadow the Vtx.Apic namespace for every Vtx.Tests.* file. The filter
// FullyQualifiedName~Vtx.Tests.Apic still selects these tests.
namespace Vtx.Tests.ApicTests;

/// <summary>xAPIC register offsets in the 4-KiB page (SDM Vol. 3A, Table 11-1).</summary>
internal static class Reg
{
    public const uint Id = 0x20, Version = 0x30, Tpr = 0x80, Apr = 0x90, Ppr = 0xA0, Eoi = 0xB0, Ldr = 0xD0, Dfr = 0xE0, Svr = 0xF0;
    public const uint Isr = 0x100, Tmr = 0x180, Irr = 0x200, Esr = 0x280;
    public const uint LvtCmci = 0x2F0, IcrLow = 0x300, IcrHigh = 0x310, LvtTimer = 0x320, LvtThermal = 0x330, LvtPerf = 0x340;
    public const uint LvtLint0 = 0x350, LvtLint1 = 0x360, LvtError = 0x370, InitialCount = 0x380, CurrentCount = 0x390, Divide = 0x3E0;

    /// <summary>The x2APIC MSR of an xAPIC register offset (SDM Vol. 3A, 11.12.1.2).</summary>
    public static uint Msr(uint offset) => 0x800 + (offset >> 4);

    public const uint Masked = 1u << 16, Periodic = 1u << 17, TscDeadline = 2u << 17;
    public const uint Fixed = 0 << 8, LowestPriority = 1 << 8, Smi = 2 << 8, Nmi = 4 << 8, Init = 5 << 8, StartUp = 6 << 8, ExtInt = 7 << 8;
    public const uint Logical = 1u << 11, Assert = 1u << 14, Level = 1u << 15;
    public const uint ToSelf = 1u << 18, AllIncludingSelf = 2u << 18, AllButSelf = 3u << 18;

    /// <summary>Divide configuration values and their divisors (SDM Vol. 3A, Figure 11-10).</summary>
    public static readonly (uint Config, ulong Divisor)[] Divides =
        [(0b0000, 2), (0b0001, 4), (0b0010, 8), (0b0011, 16), (0b1000, 32), (0b1001, 64), (0b1010, 128), (0b1011, 1)];
}

/// <summary>A local APIC on a fake clock: the test sets <see cref="Now"/>; the TSC is Now × ratio + offset.</summary>
internal sealed class ApicRig
{
    public ulong Now;
    public ulong TscRatio = 1, TscOffset;
    public int Nmis;
    public LocalApic A { get; }

    public ApicRig(uint id = 0, ulong tscRatio = 1)
    {
        TscRatio = tscRatio;
        A = new LocalApic(() => Now, () => Now * TscRatio + TscOffset, () => Nmis++, id, tscPerCycle: tscRatio);
    }

    public ulong Tsc => Now * TscRatio + TscOffset;

    /// <summary>SVR: software enable with spurious vector <paramref name="spurious"/>.</summary>
    public ApicRig Enable(byte spurious = 0xFF)
    {
        A.Write(Reg.Svr, 0x100u | spurious);
        return this;
    }

    private bool Bit(uint bank, int v) => ((A.Read(bank + (uint)(v >> 5) * 0x10) >> (v & 31)) & 1) != 0;
    public bool InIrr(int v) => Bit(Reg.Irr, v);
    public bool InIsr(int v) => Bit(Reg.Isr, v);
    public bool InTmr(int v) => Bit(Reg.Tmr, v);

    public bool IrrEmpty => Enumerable.Range(0, 8).All(i => A.Read(Reg.Irr + (uint)i * 0x10) == 0);
    public bool IsrEmpty => Enumerable.Range(0, 8).All(i => A.Read(Reg.Isr + (uint)i * 0x10) == 0);

    /// <summary>ESR as software reads it: a write latches the errors detected since the last write (SDM Vol. 3A, 11.5.3).</summary>
    public uint LatchEsr()
    {
        A.Write(Reg.Esr, 0);
        return A.Read(Reg.Esr);
    }

    /// <summary>xAPIC ICR: high dword first (it does not send), then the low dword (sends).</summary>
    public void SendIcr(uint low, byte dest = 0)
    {
        A.Write(Reg.IcrHigh, (uint)dest << 24);
        A.Write(Reg.IcrLow, low);
    }

    /// <summary>Acknowledges and retires everything deliverable (so the next check starts from an empty IRR/ISR).</summary>
    public List<byte> DrainAll()
    {
        var got = new List<byte>();
        while (A.HasDeliverable)
        {
            got.Add(A.Acknowledge());
            A.EndOfInterrupt();
        }
        return got;
    }
}

/// <summary>
/// A machine in 64-bit mode with paging off (linear = physical, so the xAPIC page at FEE0_0000h is
/// reachable), a GDT with a 64-bit code segment (08h) and data (10h), and a 64-bit IDT at
/// <see cref="IdtBase"/> whose gates the test installs. Delivered events are recorded with the
/// cycle count at delivery (<see cref="Cpu.EventDelivered"/> runs before the delivery cost is charged).
/// </summary>
internal sealed class ApicGuest
{
    public const ulong GdtBase = 0x800, IdtBase = 0x2000, Data = 0x9000, Code = Guest.CodeBase;
    public const ulong Pml4 = 0x4000, Pdpt = 0x5000, Pd = 0x6000, PdHigh = 0x7000;
    public const ushort CodeSel = 0x08, DataSel = 0x10;
    public const ulong ApicBase = LocalApic.DefaultBase;
    public static readonly ulong Code64Desc = 0x00AF_9B00_0000_FFFFUL, DataDesc = 0x00CF_9300_0000_FFFFUL;

    public Machine M { get; }
    public Cpu Cpu => M.Cpu;
    public readonly List<(byte Vector, EventKind Kind, ulong Cycle)> Events = new();
    private Func<Label, ulong> _at = _ => throw new InvalidOperationException("no code loaded");

    public ApicGuest(CpuModel? model = null)
    {
        M = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = model });
        W64(GdtBase + 8, Code64Desc);
        W64(GdtBase + 16, DataDesc);
        Cpu.Gdtr = new DescriptorTableRegister(GdtBase, 0x17);
        Cpu.Idtr = new DescriptorTableRegister(IdtBase, 256 * 16 - 1);
        Cpu.SetSegment(SegmentRegister.Cs, SegmentCache.FromDescriptor(CodeSel, Code64Desc | (1UL << 40)));
        foreach (var s in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            Cpu.SetSegment(s, SegmentCache.FromDescriptor(DataSel, DataDesc | (1UL << 40)));
        Cpu.InterceptedExceptions = 0;
        Cpu.Rflags = 2;
        Cpu[Gpr.Rsp] = Guest.StackTop;
        Cpu.EventDelivered = (v, k, _) => Events.Add((v, k, Cpu.Cycles));
    }

    /// <summary>
    /// Turns on 4-level paging with an identity map of the first GiB and of the 2-MiB region holding
    /// the APIC page (PCD set), as a kernel would map it.
    /// </summary>
    public void EnablePaging()
    {
        W64(Pml4, Pdpt | 3);
        W64(Pdpt, Pd | 3);
        W64(Pdpt + 3 * 8, PdHigh | 3);
        for (ulong i = 0; i < 512; i++) W64(Pd + i * 8, (i << 21) | 0x83);
        W64(PdHigh + ((ApicBase >> 21) & 511) * 8, ApicBase | 0x83 | 0x10);
        Cpu.Cr3Value = Pml4;
        Cpu.Cr4Value = Cr4.PAE;
        Cpu.Cr0Value = Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG;
    }

    public void W64(ulong a, ulong v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    public ulong R64(ulong a) => BitConverter.ToUInt64(M.ReadMemory(a, 8));
    public uint R32(ulong a) => BitConverter.ToUInt32(M.ReadMemory(a, 4));

    /// <summary>Installs a 64-bit interrupt gate for <paramref name="vector"/> to <paramref name="handler"/>.</summary>
    public void Gate(int vector, ulong handler)
    {
        ulong lo = (handler & 0xFFFF) | ((ulong)CodeSel << 16) | (14UL << 40) | (1UL << 47) | (((handler >> 16) & 0xFFFF) << 48);
        W64(IdtBase + (ulong)vector * 16, lo);
        W64(IdtBase + (ulong)vector * 16 + 8, handler >> 32);
    }

    /// <summary>Assembles and loads <paramref name="body"/> at <see cref="Code"/>, RIP there.</summary>
    public void Load(Action<Assembler> body)
    {
        var (code, at) = CoreHarness.AssembleWithLabels(body, Code);
        M.WriteMemory(Code, code);
        _at = at;
        Cpu.Rip = Code;
    }

    public ulong At(Label l) => _at(l);

    public RunResult RunTo(Label l, ulong maxInstructions = 100_000) =>
        M.Run(new RunLimits { MaxInstructions = maxInstructions, StopAddress = At(l) });

    public RunResult Run(ulong maxInstructions = 100_000) => M.Run(RunLimits.Instructions(maxInstructions));

    public RunResult RunToHalt(ulong maxInstructions = 100_000)
    {
        var r = Run(maxInstructions);
        Xunit.Assert.True(r.Reason == StopReason.Halted, "expected HLT, got " + r);
        return r;
    }
}
