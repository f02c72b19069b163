using Iced.Intel;
using Vtx.Apic;
using Vtx.Tests.Core;
using Vtx.Tests.Support;

namespace Vtx.Tests.Smp;

/// <summary>
/// A multiprocessor machine for the SMP tests: one GDT (64-bit code 08h, data 10h) and one 64-bit
/// IDT shared by every processor, paging off (the xAPIC page at FEE0_0000h is reachable), code
/// assembled with Iced at <see cref="Code"/>, one stack per processor. <see cref="StartHost"/> puts
/// an application processor straight into 64-bit mode (as firmware that already ran the SIPI
/// trampoline would leave it); the start-up tests use real INIT/SIPI instead.
/// </summary>
internal sealed class SmpRig
{
    public const ulong GdtBase = 0x800, IdtBase = 0x2000, Code = 0x10000, Data = 0x9000, StackBase = 0x40000;
    public const ushort CodeSel = 0x08, DataSel = 0x10;
    public const ulong ApicBase = LocalApic.DefaultBase;
    private static readonly ulong Code64Desc = 0x00AF_9B00_0000_FFFFUL, DataDesc = 0x00CF_9300_0000_FFFFUL;

    public Machine M { get; }
    public readonly List<(int Cpu, byte Vector, EventKind Kind, ulong Cycle)> Events = new();
    private Func<Label, ulong> _at = _ => throw new InvalidOperationException("no code loaded");

    public SmpRig(int cpus, int quantum = MachineOptions.DefaultSmpQuantum, MachinePlatform platform = MachinePlatform.Minimal, CpuModel? model = null, int memoryMiB = 4)
    {
        M = new Machine(new MachineOptions { MemoryMiB = memoryMiB, Cpus = cpus, SmpQuantum = quantum, Platform = platform, CpuModel = model });
        W64(GdtBase + 8, Code64Desc);
        W64(GdtBase + 16, DataDesc);
        for (int i = 0; i < cpus; i++)
        {
            int id = i;
            var c = M.Cpus[i];
            c.EventDelivered = (v, k, _) => Events.Add((id, v, k, c.Cycles));
        }
        Enter64(M.Cpu, 0);
    }

    public Cpu this[int i] => M.Cpus[i];

    /// <summary>Puts processor <paramref name="i"/> in 64-bit mode with the shared GDT/IDT and its own stack (RSP = <see cref="StackTop"/>(i)).</summary>
    public void Enter64(Cpu cpu, int i)
    {
        cpu.SetFlatMode(64);
        cpu.Gdtr = new DescriptorTableRegister(GdtBase, 0x17);
        cpu.Idtr = new DescriptorTableRegister(IdtBase, 256 * 16 - 1);
        cpu.SetSegment(SegmentRegister.Cs, SegmentCache.FromDescriptor(CodeSel, Code64Desc | (1UL << 40)));
        foreach (var s in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            cpu.SetSegment(s, SegmentCache.FromDescriptor(DataSel, DataDesc | (1UL << 40)));
        cpu.InterceptedExceptions = 0;
        cpu.Rflags = 2;
        cpu[Gpr.Rsp] = StackTop(i);
    }

    public static ulong StackTop(int i) => StackBase + (ulong)(i + 1) * 0x1000;

    /// <summary>Starts application processor <paramref name="i"/> at <paramref name="rip"/> in 64-bit mode (leaving wait-for-SIPI).</summary>
    public void StartHost(int i, Label rip)
    {
        Enter64(M.Cpus[i], i);
        M.Cpus[i].Rip = At(rip);
    }

    /// <summary>Assembles <paramref name="body"/> at <see cref="Code"/>; the BSP starts at its first byte.</summary>
    public void Load(Action<Assembler> body)
    {
        var (code, at) = CoreHarness.AssembleWithLabels(body, Code);
        M.WriteMemory(Code, code);
        _at = at;
        M.Cpu.Rip = Code;
    }

    public ulong At(Label l) => _at(l);

    /// <summary>Installs a 64-bit interrupt gate for <paramref name="vector"/> to <paramref name="handler"/>.</summary>
    public void Gate(int vector, Label handler)
    {
        ulong h = At(handler);
        ulong lo = (h & 0xFFFF) | ((ulong)CodeSel << 16) | (14UL << 40) | (1UL << 47) | (((h >> 16) & 0xFFFF) << 48);
        W64(IdtBase + (ulong)vector * 16, lo);
        W64(IdtBase + (ulong)vector * 16 + 8, h >> 32);
    }

    public void W64(ulong a, ulong v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    public void W32(ulong a, uint v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    public ulong R64(ulong a) => BitConverter.ToUInt64(M.ReadMemory(a, 8));
    public uint R32(ulong a) => BitConverter.ToUInt32(M.ReadMemory(a, 4));

    public RunResult Run(ulong maxInstructions = 1_000_000) => M.Run(RunLimits.Instructions(maxInstructions));

    /// <summary>Every processor's registers, cycles and counts, for comparing two runs.</summary>
    public string StateDigest()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var c in M.Cpus)
        {
            sb.Append($"rip={c.Rip:X} cyc={c.Cycles} ret={c.InstructionsRetired} halted={c.IsHalted} wfs={c.IsWaitingForSipi} rfl={c.Rflags:X}");
            for (int r = 0; r < 16; r++) sb.Append($" {c[(Gpr)r]:X}");
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
