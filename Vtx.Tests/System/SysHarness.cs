using Iced.Intel;
using Xunit;

// Not "Vtx.Tests.System": that namespace would shadow the BCL's System inside every Vtx.Tests.* file.
// The filter FullyQualifiedName~Vtx.Tests.System still selects these tests.
namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Descriptor encodings (SDM Vol. 3A, 3.4.5 Figure 3-8 segment descriptors; 5.8.3 / Figure 5-8 call
/// gates; 6.11 Figure 6-2 IDT gates; 6.14.1 Figure 6-8 64-bit gates; 7.2.2 / 8.2.3 TSS descriptors).
/// </summary>
internal static class Desc
{
    public const int DataRw = 0x2, CodeXr = 0xA, CodeX = 0x8, CodeConformingXr = 0xE;

    /// <summary>An 8-byte segment descriptor. <paramref name="limit"/> is the raw 20-bit field.</summary>
    public static ulong Seg(uint @base, uint limit, int type, int dpl, bool s = true, bool present = true,
        bool l = false, bool db = false, bool g = false) =>
        (limit & 0xFFFF)
        | ((ulong)(@base & 0xFF_FFFF) << 16)
        | ((ulong)(type & 0xF) << 40)
        | (s ? 1UL << 44 : 0)
        | ((ulong)(dpl & 3) << 45)
        | (present ? 1UL << 47 : 0)
        | ((ulong)((limit >> 16) & 0xF) << 48)
        | (l ? 1UL << 53 : 0)
        | (db ? 1UL << 54 : 0)
        | (g ? 1UL << 55 : 0)
        | ((ulong)(@base >> 24) << 56);

    /// <summary>Flat 4-GiB 32-bit code (execute/read, not accessed).</summary>
    public static ulong Code32(int dpl, bool present = true, int type = CodeXr) => Seg(0, 0xFFFFF, type, dpl, present: present, db: true, g: true);
    /// <summary>64-bit code (L = 1, D = 0).</summary>
    public static ulong Code64(int dpl, bool present = true, int type = CodeXr) => Seg(0, 0xFFFFF, type, dpl, present: present, l: true, g: true);
    /// <summary>16-bit code, 64-KiB limit, base <paramref name="base"/>.</summary>
    public static ulong Code16(int dpl, uint @base = 0) => Seg(@base, 0xFFFF, CodeXr, dpl);
    /// <summary>Flat 4-GiB writable data, B = 1.</summary>
    public static ulong Data32(int dpl, bool present = true, int type = DataRw) => Seg(0, 0xFFFFF, type, dpl, present: present, db: true, g: true);
    /// <summary>16-bit data, 64-KiB limit.</summary>
    public static ulong Data16(int dpl, uint @base = 0) => Seg(@base, 0xFFFF, DataRw, dpl);

    /// <summary>Available 32-bit (or 64-bit in IA-32e mode) TSS descriptor (type 9), low 8 bytes.</summary>
    public static ulong Tss(uint @base, uint limit, bool present = true) => Seg(@base, limit, 9, 0, s: false, present: present);
    /// <summary>LDT descriptor (type 2), low 8 bytes.</summary>
    public static ulong Ldt(uint @base, uint limit) => Seg(@base, limit, 2, 0, s: false);

    /// <summary>16/32-bit interrupt (type 6/14) or trap (type 7/15) gate.</summary>
    public static ulong Gate32(ushort sel, uint offset, int dpl, bool trap = false, bool present = true, bool gate16 = false)
    {
        int type = (gate16 ? 6 : 14) | (trap ? 1 : 0);
        return (offset & 0xFFFF) | ((ulong)sel << 16) | ((ulong)type << 40) | ((ulong)(dpl & 3) << 45)
               | (present ? 1UL << 47 : 0) | ((ulong)(offset >> 16) << 48);
    }

    /// <summary>64-bit interrupt/trap gate: (low, high) quadwords.</summary>
    public static (ulong Lo, ulong Hi) Gate64(ushort sel, ulong offset, int dpl, int ist = 0, bool trap = false, bool present = true)
    {
        ulong lo = (offset & 0xFFFF) | ((ulong)sel << 16) | ((ulong)(ist & 7) << 32) | ((ulong)(trap ? 15 : 14) << 40)
                   | ((ulong)(dpl & 3) << 45) | (present ? 1UL << 47 : 0) | (((offset >> 16) & 0xFFFF) << 48);
        return (lo, offset >> 32);
    }

    /// <summary>16-bit (type 4) or 32-bit (type 12) call gate; in IA-32e mode type 12 is the 64-bit call gate (high half from <see cref="CallGateHigh"/>).</summary>
    public static ulong CallGate(ushort sel, ulong offset, int dpl, int paramCount = 0, bool present = true, bool gate16 = false) =>
        (offset & 0xFFFF) | ((ulong)sel << 16) | ((ulong)(paramCount & 0x1F) << 32) | ((ulong)(gate16 ? 4 : 12) << 40)
        | ((ulong)(dpl & 3) << 45) | (present ? 1UL << 47 : 0) | (((offset >> 16) & 0xFFFF) << 48);

    /// <summary>Upper 8 bytes of a 16-byte system descriptor (64-bit call gate, TSS, LDT): bits 63:32 of the base/offset, type field 0.</summary>
    public static ulong CallGateHigh(ulong offset) => offset >> 32;
}

/// <summary>
/// A machine with a fixed system layout (GDT, IDT, TSS, identity page tables, stacks) and helpers to
/// put it in real, protected or IA-32e mode at a given CPL, to install handlers and to record events.
/// </summary>
internal sealed class Sys
{
    // Memory layout (2 MiB of RAM).
    public const ulong GdtBase = 0x800, IdtBase = 0x2000, TssBase = 0x3000, Pml4 = 0x4000, Pdpt = 0x5000, Pd = 0x6000, LdtBase = 0x7000;
    public const ulong Scratch = 0x8000, Pd32 = 0xE000, Code = 0x1_0000;
    public const ulong UserStack = 0x8_0000, KernelStack = 0x9_0000, IstStack1 = 0xA_0000, IstStack2 = 0xB_0000;
    public const ushort GdtLimit = 0xFF;

    // Selectors. 0x08/0x10 and 0x18/0x20/0x28 fit STAR for SYSCALL/SYSRET (STAR[47:32] = 0x08,
    // STAR[63:48] = 0x18); 0x30.. fit IA32_SYSENTER_CS = 0x30 in legacy mode (and 0x08 in IA-32e mode).
    public const ushort KCode64 = 0x08, KData = 0x10, UCode32 = 0x18, UData = 0x20, UCode64 = 0x28, UData2 = 0x30;
    public const ushort KCode32 = 0x30, KData2 = 0x38, UCode32b = 0x40, UData3 = 0x48, UCode64b = 0x50, UData4 = 0x58;
    public const ushort KCode16 = 0x60, KData16 = 0x68, TssSel = 0x70; // TSS takes 0x70 and 0x78 in IA-32e mode
    public const ushort Spare = 0x80;                                 // 0x80..0xF8: test-specific descriptors

    public Machine M { get; }
    public Cpu Cpu => M.Cpu;
    public readonly List<(byte Vector, EventKind Kind, uint? Error, ulong Cycles)> Events = new();

    public Sys(int memoryMiB = 2, CpuModel? model = null, int cpus = 1)
    {
        M = new Machine(new MachineOptions { MemoryMiB = memoryMiB, CpuModel = model, Cpus = cpus });
        Cpu.EventDelivered = (v, k, e) => Events.Add((v, k, e, Cpu.Cycles));
        WriteGdt();
        WritePageTables();
    }

    // ------------------------------------------------------------------ memory

    public void W8(ulong a, byte v) => M.WriteMemory(a, new[] { v });
    public void W16(ulong a, ushort v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    public void W32(ulong a, uint v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    public void W64(ulong a, ulong v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    public ushort R16(ulong a) => BitConverter.ToUInt16(M.ReadMemory(a, 2));
    public uint R32(ulong a) => BitConverter.ToUInt32(M.ReadMemory(a, 4));
    public ulong R64(ulong a) => BitConverter.ToUInt64(M.ReadMemory(a, 8));

    public void SetGdt(ushort sel, ulong desc) => W64(GdtBase + (ulong)(sel & 0xFFF8), desc);
    public void SetGdt16(ushort sel, ulong lo, ulong hi) { SetGdt(sel, lo); W64(GdtBase + (ulong)(sel & 0xFFF8) + 8, hi); }
    public ulong GdtEntry(ushort sel) => R64(GdtBase + (ulong)(sel & 0xFFF8));

    private void WriteGdt()
    {
        M.WriteMemory(GdtBase, new byte[GdtLimit + 1]);
        SetGdt(KCode64, Desc.Code64(0));
        SetGdt(KData, Desc.Data32(0));
        SetGdt(UCode32, Desc.Code32(3));
        SetGdt(UData, Desc.Data32(3));
        SetGdt(UCode64, Desc.Code64(3));
        SetGdt(KCode32, Desc.Code32(0));
        SetGdt(KData2, Desc.Data32(0));
        SetGdt(UCode32b, Desc.Code32(3));
        SetGdt(UData3, Desc.Data32(3));
        SetGdt(UCode64b, Desc.Code64(3));
        SetGdt(UData4, Desc.Data32(3));
        SetGdt(KCode16, Desc.Code16(0));
        SetGdt(KData16, Desc.Data16(0));
    }

    /// <summary>Identity maps (user, writable): the first GiB with 2-MiB pages for IA-32e paging at <see cref="Pml4"/>, all 4 GiB with 4-MiB pages for 32-bit paging at <see cref="Pd32"/>.</summary>
    private void WritePageTables()
    {
        W64(Pml4, Pdpt | 7);
        W64(Pdpt, Pd | 7);
        for (ulong i = 0; i < 512; i++) W64(Pd + i * 8, (i << 21) | 0x87);
        // 32-bit paging with CR4.PSE: 4-MiB pages identity-mapping the 4-GiB space.
        for (ulong i = 0; i < 1024; i++) W32(Pd32 + i * 4, (uint)((i << 22) | 0x87));
    }

    // ------------------------------------------------------------------ modes

    /// <summary>Legacy protected mode (paging off) at <paramref name="cpl"/> with flat 32-bit segments, a 32-bit TSS (ESP0/SS0 = KernelStack/KData) and a 32-bit IDT.</summary>
    public void EnterProtected(int cpl = 0)
    {
        var c = Cpu;
        c.EferValue = 0;
        c.Cr4Value = 0;
        c.Cr0Value = Cr0.PE | Cr0.NE | Cr0.ET;
        c.Gdtr = new DescriptorTableRegister(GdtBase, GdtLimit);
        c.Idtr = new DescriptorTableRegister(IdtBase, 256 * 8 - 1);
        M.WriteMemory(TssBase, new byte[0x68]);
        W32(TssBase + 4, (uint)KernelStack);          // ESP0
        W16(TssBase + 8, KData);                        // SS0
        W32(TssBase + 12, 0x7_0000);                    // ESP1
        W16(TssBase + 16, 0);                           // SS1 (null: a switch to ring 1 faults)
        SetGdt(TssSel, Desc.Tss((uint)TssBase, 0x67) | (2UL << 40)); // busy, as after LTR
        c.Tr = SegmentCache.FromDescriptor(TssSel, GdtEntry(TssSel));
        c.Ldtr = SegmentCache.Null();
        LoadSegments(cpl == 0 ? KCode32 : (ushort)(UCode32 | 3), cpl == 0 ? KData : (ushort)(UData | 3));
        c[Gpr.Rsp] = cpl == 0 ? KernelStack : UserStack;
        c.Rflags = 2;
        c.InterceptedExceptions = 0;
    }

    /// <summary>IA-32e mode (EFER.LME/LMA, CR4.PAE, CR0.PG with identity tables) in 64-bit mode at <paramref name="cpl"/>, a 64-bit TSS and IDT.</summary>
    public void EnterLong(int cpl = 0)
    {
        var c = Cpu;
        c.Cr3Value = Pml4;
        c.Cr4Value = Cr4.PAE;
        c.EferValue = Efer.LME | Efer.LMA | Efer.SCE;
        c.Cr0Value = Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG;
        c.Gdtr = new DescriptorTableRegister(GdtBase, GdtLimit);
        c.Idtr = new DescriptorTableRegister(IdtBase, 256 * 16 - 1);
        M.WriteMemory(TssBase, new byte[0x68]);
        W64(TssBase + 4, KernelStack);                  // RSP0
        W64(TssBase + 0x24, IstStack1);                 // IST1
        W64(TssBase + 0x2C, IstStack2);                 // IST2
        SetGdt16(TssSel, Desc.Tss((uint)TssBase, 0x67) | (2UL << 40), 0);
        c.Tr = SegmentCache.FromDescriptor(TssSel, GdtEntry(TssSel));
        c.Ldtr = SegmentCache.Null();
        LoadSegments(cpl == 0 ? KCode64 : (ushort)(UCode64 | 3), cpl == 0 ? KData : (ushort)(UData | 3));
        c[Gpr.Rsp] = cpl == 0 ? KernelStack : UserStack;
        c.Rflags = 2;
        c.InterceptedExceptions = 0;
    }

    /// <summary>Loads CS and the data segment registers from their GDT descriptors (hidden parts as a far transfer / MOV would load them).</summary>
    public void LoadSegments(ushort cs, ushort data)
    {
        Cpu.SetSegment(SegmentRegister.Cs, Cache(cs));
        foreach (var s in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            Cpu.SetSegment(s, Cache(data));
    }

    /// <summary>The descriptor-cache value loading <paramref name="sel"/> from the GDT gives (accessed bit set).</summary>
    public SegmentCache Cache(ushort sel)
    {
        var c = SegmentCache.FromDescriptor(sel, GdtEntry(sel));
        return c with { AccessRights = c.AccessRights | 1 };
    }

    /// <summary>Real-address mode after RESET, with CS = 0 and the IVT at 0.</summary>
    public void EnterReal(ushort ip = 0x1000, ushort sp = 0x7C00)
    {
        Cpu.Reset();
        Cpu.SetSegment(SegmentRegister.Cs, SegmentCache.Real(0, accessRights: 0x9B));
        Cpu.Rip = ip;
        Cpu[Gpr.Rsp] = sp;
    }

    // ------------------------------------------------------------------ IDT

    public void Gate32(int vector, ulong handler, int dpl = 0, bool trap = false, ushort sel = KCode32, bool present = true) =>
        W64(IdtBase + (ulong)vector * 8, Desc.Gate32(sel, (uint)handler, dpl, trap, present));

    public void Gate64(int vector, ulong handler, int dpl = 0, int ist = 0, bool trap = false, ushort sel = KCode64, bool present = true)
    {
        var (lo, hi) = Desc.Gate64(sel, handler, dpl, ist, trap, present);
        W64(IdtBase + (ulong)vector * 16, lo);
        W64(IdtBase + (ulong)vector * 16 + 8, hi);
    }

    public void Ivt(int vector, ushort cs, ushort ip)
    {
        W16((ulong)vector * 4, ip);
        W16((ulong)vector * 4 + 2, cs);
    }

    // ------------------------------------------------------------------ code

    /// <summary>Assembles <paramref name="body"/> at <paramref name="at"/>, writes it, and returns the label resolver.</summary>
    public Func<Label, ulong> Load(Action<Assembler> body, ulong at = Code, int bitness = 64)
    {
        var a = new Assembler(bitness);
        body(a);
        var w = new ByteWriter();
        var result = a.Assemble(w, at, BlockEncoderOptions.ReturnNewInstructionOffsets);
        M.WriteMemory(at, w.ToArray());
        return l => result.GetLabelRIP(l);
    }

    public RunResult Run(ulong maxInstructions = 100_000) => M.Run(RunLimits.Instructions(maxInstructions));

    public RunResult RunTo(ulong address, ulong maxInstructions = 100_000) =>
        M.Run(new RunLimits { MaxInstructions = maxInstructions, StopAddress = address });

    public RunResult Step(ulong n = 1) => M.Run(RunLimits.Instructions(n));

    /// <summary>Runs to HLT and asserts it halted (and nothing else).</summary>
    public RunResult RunToHalt(ulong maxInstructions = 100_000)
    {
        var r = Run(maxInstructions);
        Assert.True(r.Reason == StopReason.Halted, "expected HLT, got " + r);
        return r;
    }

    /// <summary>Runs and asserts the run stopped on an intercepted exception <paramref name="vector"/> with <paramref name="error"/> at <paramref name="rip"/>.</summary>
    public void ExpectFault(ExceptionVector vector, uint? error, ulong? rip = null, ulong maxInstructions = 1000)
    {
        Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = Run(maxInstructions);
        Assert.True(r.Reason == StopReason.Exception, "expected an exception, got " + r);
        Assert.Equal(new FaultInfo(vector, error), r.Fault);
        if (rip is ulong ip) Assert.Equal(ip, r.Rip);
    }

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
