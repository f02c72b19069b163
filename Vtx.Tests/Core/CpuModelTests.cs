using System.Text;
using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>
/// What the processor model decides: CPUID answers (SDM Vol. 2A, CPUID), which instructions exist
/// (#UD for a feature the model lacks), the time-stamp counter (SDM Vol. 3B, 18.17) and HLT.
/// </summary>
public class CpuModelTests
{
    private static CpuidResult Cpuid(uint leaf, uint subleaf = 0, CpuModel? model = null)
    {
        var m = CoreHarness.RunToHalt(a => a.cpuid(), model: model, setup: c =>
        {
            // Garbage in the upper halves and in RBX/RDX: CPUID writes all four registers, zero-extended.
            c[Gpr.Rax] = 0xFFFF_FFFF_0000_0000UL | leaf;
            c[Gpr.Rcx] = 0xFFFF_FFFF_0000_0000UL | subleaf;
            c[Gpr.Rbx] = c[Gpr.Rdx] = ulong.MaxValue;
        });
        var c = m.Cpu;
        Assert.True(c[Gpr.Rax] <= uint.MaxValue && c[Gpr.Rbx] <= uint.MaxValue && c[Gpr.Rcx] <= uint.MaxValue && c[Gpr.Rdx] <= uint.MaxValue);
        return new CpuidResult((uint)c[Gpr.Rax], (uint)c[Gpr.Rbx], (uint)c[Gpr.Rcx], (uint)c[Gpr.Rdx]);
    }

    private static string Ascii(params uint[] words) =>
        Encoding.ASCII.GetString(words.SelectMany(BitConverter.GetBytes).ToArray()).TrimEnd('\0');

    private static bool Bit(uint v, int bit) => ((v >> bit) & 1) != 0;

    // ------------------------------------------------------------------ CPUID

    [Fact]
    public void Leaf0GivesMaximumLeafAndVendor()
    {
        var r = Cpuid(0);
        Assert.Equal("GenuineIntel", Ascii(r.Ebx, r.Edx, r.Ecx)); // EBX, EDX, ECX order
        Assert.True(r.Eax >= 7, "leaf 7 (structured extended features) must be reported");
    }

    [Fact]
    public void Leaf1GivesSignatureAndFeatureBits()
    {
        var r = Cpuid(1);
        // Default model: family 6, model 0x8F, stepping 8 (extended model 8, model F).
        Assert.Equal(0x0008_06F8u, r.Eax);
        Assert.True(Bit(r.Ecx, 13), "CMPXCHG16B");
        Assert.True(Bit(r.Ecx, 22), "MOVBE");
        Assert.True(Bit(r.Ecx, 23), "POPCNT");
        Assert.True(Bit(r.Edx, 4), "TSC");
        Assert.True(Bit(r.Edx, 8), "CMPXCHG8B");
        Assert.True(Bit(r.Edx, 15), "CMOV");
    }

    /// <summary>
    /// CPUID.1:EDX.APIC (bit 9) follows IA32_APIC_BASE.EN: a hardware-disabled local APIC is
    /// reported absent, and present again once re-enabled (SDM Vol. 3A, 11.4.3).
    /// </summary>
    [Fact]
    public void Leaf1ApicBitFollowsApicBaseEnable()
    {
        Assert.True(Bit(Cpuid(1).Edx, 9), "APIC present while IA32_APIC_BASE.EN = 1");
        var m = CoreHarness.RunToHalt(a =>
        {
            a.mov(ecx, 0x1B);
            a.mov(eax, 0xFEE0_0100u); // base FEE00000h, BSP, EN = 0
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, 1);
            a.cpuid();
            a.mov(r8d, edx);           // leaf 1 EDX with the APIC disabled
            a.mov(ecx, 0x1B);
            a.mov(eax, 0xFEE0_0900u); // EN = 1 again
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, 1);
            a.cpuid();
            a.mov(r9d, edx);
        });
        Assert.False(Bit((uint)m.Cpu[Gpr.R8], 9), "APIC bit must be clear while IA32_APIC_BASE.EN = 0");
        Assert.True(Bit((uint)m.Cpu[Gpr.R9], 9), "APIC bit must be set once IA32_APIC_BASE.EN = 1");
        Assert.Equal((uint)m.Cpu[Gpr.R8] | 1u << 9, (uint)m.Cpu[Gpr.R9]); // nothing else changes
    }

    [Fact]
    public void Leaf7GivesBmiAndAdx()
    {
        var r = Cpuid(7, 0);
        Assert.True(Bit(r.Ebx, 3), "BMI1");
        Assert.True(Bit(r.Ebx, 8), "BMI2");
        Assert.True(Bit(r.Ebx, 19), "ADX");
    }

    [Fact]
    public void ExtendedLeavesGiveLzcntLongModeAndBrand()
    {
        Assert.True(Cpuid(0x8000_0000).Eax >= 0x8000_0008);
        var r = Cpuid(0x8000_0001);
        Assert.True(Bit(r.Ecx, 0), "LAHF/SAHF in 64-bit mode");
        Assert.True(Bit(r.Ecx, 5), "LZCNT");
        Assert.True(Bit(r.Edx, 27), "RDTSCP");
        Assert.True(Bit(r.Edx, 29), "Intel 64");
        var b2 = Cpuid(0x8000_0002); var b3 = Cpuid(0x8000_0003); var b4 = Cpuid(0x8000_0004);
        Assert.Equal(new CpuModel().Brand, Ascii(b2.Eax, b2.Ebx, b2.Ecx, b2.Edx, b3.Eax, b3.Ebx, b3.Ecx, b3.Edx, b4.Eax, b4.Ebx, b4.Ecx, b4.Edx));
        var w = Cpuid(0x8000_0008);
        Assert.Equal(46u, w.Eax & 0xFF);
        Assert.Equal(57u, (w.Eax >> 8) & 0xFF); // LA57 is offered: 57-bit linear addresses (SDM Vol. 2A, CPUID leaf 80000008h)
        Assert.True(Bit(Cpuid(7).Ecx, 16), "LA57");
        var no57 = new CpuModel { La57 = false };
        Assert.Equal(48u, (no57.Cpuid(0x8000_0008, 0).Eax >> 8) & 0xFF);
        Assert.False(Bit(no57.Cpuid(7, 0).Ecx, 16), "LA57 not offered");
    }

    [Fact]
    public void DisabledFeaturesAreClearedInCpuid()
    {
        var model = new CpuModel { Bmi1 = false, Bmi2 = false, Adx = false, Lzcnt = false, Popcnt = false, Movbe = false, Cx16 = false, Rdtscp = false };
        Assert.Equal(0u, Cpuid(7, 0, model).Ebx & (1u << 3 | 1u << 8 | 1u << 19));
        var l1 = Cpuid(1, 0, model);
        Assert.False(Bit(l1.Ecx, 13) || Bit(l1.Ecx, 22) || Bit(l1.Ecx, 23));
        var e1 = Cpuid(0x8000_0001, 0, model);
        Assert.False(Bit(e1.Ecx, 5) || Bit(e1.Edx, 27));
    }

    [Fact]
    public void VendorAndOverridesComeFromTheModel()
    {
        var model = new CpuModel { Vendor = "VtxTestCPU!!" };
        model.Overrides[(0x4, 1)] = new CpuidResult(1, 2, 3, 4);
        var r = Cpuid(0, 0, model);
        Assert.Equal("VtxTestCPU!!", Ascii(r.Ebx, r.Edx, r.Ecx));
        Assert.Equal(new CpuidResult(1, 2, 3, 4), Cpuid(4, 1, model));
    }

    [Fact]
    public void LeafAboveTheMaximumAnswersWithTheHighestBasicLeaf()
    {
        // Intel: "If a value entered for CPUID.EAX is higher than the maximum input value for basic or
        // extended function ... the data for the highest basic information leaf is returned."
        uint max = Cpuid(0).Eax;
        Assert.Equal(Cpuid(max, 0), Cpuid(max + 1, 0));
        Assert.Equal(Cpuid(max, 0), Cpuid(0x8000_00FF, 0));
    }

    // ------------------------------------------------------------------ feature-gated instructions

    public static TheoryData<string> GatedInstructions => new()
    {
        "andn", "bextr", "blsr", "bzhi", "pdep", "mulx", "shlx", "rorx", "adcx", "adox", "popcnt", "movbe", "cmpxchg16b", "rdtscp",
    };

    private static (Action<Assembler> Emit, CpuModel Without) Gated(string name) => name switch
    {
        "andn" => (a => a.andn(rax, rbx, rcx), new CpuModel { Bmi1 = false }),
        "bextr" => (a => a.bextr(rax, rbx, rcx), new CpuModel { Bmi1 = false }),
        "blsr" => (a => a.blsr(rax, rbx), new CpuModel { Bmi1 = false }),
        "bzhi" => (a => a.bzhi(rax, rbx, rcx), new CpuModel { Bmi2 = false }),
        "pdep" => (a => a.pdep(rax, rbx, rcx), new CpuModel { Bmi2 = false }),
        "mulx" => (a => a.mulx(rax, rbx, rcx), new CpuModel { Bmi2 = false }),
        "shlx" => (a => a.shlx(rax, rbx, rcx), new CpuModel { Bmi2 = false }),
        "rorx" => (a => a.rorx(rax, rbx, 3), new CpuModel { Bmi2 = false }),
        "adcx" => (a => a.adcx(rax, rbx), new CpuModel { Adx = false }),
        "adox" => (a => a.adox(rax, rbx), new CpuModel { Adx = false }),
        "popcnt" => (a => a.popcnt(rax, rbx), new CpuModel { Popcnt = false }),
        "movbe" => (a => a.movbe(rax, __qword_ptr[rsp]), new CpuModel { Movbe = false }),
        "cmpxchg16b" => (a => a.cmpxchg16b(__xmmword_ptr[rsp]), new CpuModel { Cx16 = false }),
        "rdtscp" => (a => a.rdtscp(), new CpuModel { Rdtscp = false }),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(GatedInstructions))]
    public void InstructionOfAFeatureTheModelLacksIsUd(string name)
    {
        var (emit, without) = Gated(name);
        void Setup(Cpu c) { c[Gpr.Rbx] = 0xF0F0; c[Gpr.Rcx] = 0x0404; }

        var with = CoreHarness.Load(a => { emit(a); a.hlt(); }, setup: Setup);
        Assert.Equal(StopReason.Halted, with.Run(RunLimits.Instructions(10)).Reason);

        var m = CoreHarness.Load(a => { emit(a); a.hlt(); }, model: without, setup: Setup);
        var before = CoreHarness.Gprs(m.Cpu);
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.UD, null), r.Fault);
        Assert.Equal(Guest.CodeBase, r.Rip);
        Assert.Equal(before, CoreHarness.Gprs(m.Cpu));
    }

    [Fact]
    public void LzcntWithoutTheFeatureExecutesAsBsr()
    {
        // F3 0F BD without LZCNT support is BSR (the F3 prefix is ignored) - SDM Vol. 2A, LZCNT.
        void Setup(Cpu c) => c[Gpr.Rbx] = 0x10;
        var with = CoreHarness.RunToHalt(a => a.lzcnt(rax, rbx), setup: Setup);
        Assert.Equal(59UL, with.Cpu[Gpr.Rax]);
        var without = CoreHarness.RunToHalt(a => a.lzcnt(rax, rbx), model: new CpuModel { Lzcnt = false }, setup: Setup);
        Assert.Equal(4UL, without.Cpu[Gpr.Rax]);
        Assert.True((without.Cpu.Rflags & (ulong)RFlags.ZF) == 0);

        // Source 0: LZCNT gives the operand size and CF = 1; BSR sets ZF and leaves the destination.
        var zero = CoreHarness.RunToHalt(a => a.lzcnt(rax, rbx), model: new CpuModel { Lzcnt = false },
            setup: c => { c[Gpr.Rbx] = 0; c[Gpr.Rax] = 0x77; });
        Assert.Equal(0x77UL, zero.Cpu[Gpr.Rax]);
        Assert.True((zero.Cpu.Rflags & (ulong)RFlags.ZF) != 0);
    }

    [Fact]
    public void TzcntWithoutBmi1ExecutesAsBsf()
    {
        void Setup(Cpu c) => c[Gpr.Rbx] = 0x50;
        Assert.Equal(4UL, CoreHarness.RunToHalt(a => a.tzcnt(rax, rbx), setup: Setup).Cpu[Gpr.Rax]);
        var zero = CoreHarness.RunToHalt(a => a.tzcnt(rax, rbx), model: new CpuModel { Bmi1 = false },
            setup: c => { c[Gpr.Rbx] = 0; c[Gpr.Rax] = 0x77; });
        Assert.Equal(0x77UL, zero.Cpu[Gpr.Rax]); // BSF with a zero source: destination kept, ZF = 1
        Assert.True((zero.Cpu.Rflags & (ulong)RFlags.ZF) != 0);
    }

    [Fact]
    public void LahfIsUdIn64BitModeOnlyWhenTheModelLacksIt()
    {
        var model = new CpuModel { LahfSahf64 = false };
        var m = CoreHarness.Load(a => { a.lahf(); a.hlt(); }, model: model);
        Assert.Equal(ExceptionVector.UD, m.Run(RunLimits.Instructions(10)).Fault!.Value.Vector);
        var m32 = CoreHarness.Load(a => { a.lahf(); a.hlt(); }, bitness: 32, model: model);
        Assert.Equal(StopReason.Halted, m32.Run(RunLimits.Instructions(10)).Reason);
    }

    // ------------------------------------------------------------------ time-stamp counter

    [Fact]
    public void RdtscReturnsTheCycleClockAtTheInstruction()
    {
        var m = CoreHarness.Load(a =>
        {
            a.nop();
            a.imul(rbx, rbx);
            a.rdtsc();
            a.mov(r8, rax);
            a.mov(r9, rdx);
            a.rdtsc();
            a.hlt();
        }, setup: c => { c[Gpr.Rax] = c[Gpr.Rdx] = ulong.MaxValue; });
        m.Run(RunLimits.Instructions(2));
        ulong expected1 = m.Cpu.Tsc;
        Assert.Equal(m.Cpu.Cycles, expected1);
        m.Run(RunLimits.Instructions(3));
        ulong expected2 = m.Cpu.Tsc;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);

        Assert.Equal(expected1, (m.Cpu[Gpr.R9] << 32) | m.Cpu[Gpr.R8]);
        Assert.Equal(expected2, (m.Cpu[Gpr.Rdx] << 32) | m.Cpu[Gpr.Rax]);
        Assert.True(expected2 > expected1);
        Assert.True(m.Cpu[Gpr.R8] <= uint.MaxValue && m.Cpu[Gpr.R9] <= uint.MaxValue); // EDX:EAX, upper halves cleared
    }

    [Fact]
    public void RdtscScalesByTscPerCycleAndAddsTheOffset()
    {
        var model = new CpuModel { TscPerCycle = 3 };
        var m = CoreHarness.Load(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 50);
            a.Label(ref top);
            a.dec(ecx);
            a.jnz(top);
            a.rdtsc();
            a.hlt();
        }, model: model);
        m.Cpu.TscOffset = 0x1_0000_0000_0000UL - 5;
        m.Run(RunLimits.Instructions(101));
        ulong cycles = m.Cpu.Cycles;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        ulong tsc = (m.Cpu[Gpr.Rdx] << 32) | m.Cpu[Gpr.Rax];
        Assert.Equal(cycles * 3 + 0x1_0000_0000_0000UL - 5, tsc);
    }

    [Fact]
    public void RdtscIsMonotonicAcrossALoop()
    {
        // Each iteration stores RDTSC; the values must strictly increase by the loop's constant cost.
        var m = CoreHarness.RunToHalt(a =>
        {
            var top = a.CreateLabel();
            a.mov(edi, 0x6000);
            a.mov(ecx, 32);
            a.Label(ref top);
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.mov(__qword_ptr[rdi], rax);
            a.add(rdi, 8);
            a.dec(ecx);
            a.jnz(top);
        });
        var v = Enumerable.Range(0, 32).Select(i => BitConverter.ToUInt64(m.ReadMemory(0x6000 + (ulong)i * 8, 8))).ToArray();
        var deltas = v.Zip(v.Skip(1), (x, y) => (long)(y - x)).Distinct().ToArray();
        Assert.Single(deltas);
        Assert.True(deltas[0] > 0);
    }

    [Fact]
    public void RdtscpAlsoReturnsTscAux()
    {
        var m = CoreHarness.Load(a => { a.rdtscp(); a.hlt(); });
        m.Cpu.TscAux = 0xC0FFEE;
        m.Cpu.TscOffset = 1000;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0xC0FFEEUL, m.Cpu[Gpr.Rcx]);
        Assert.Equal(1000UL, m.Cpu[Gpr.Rax]);
    }

    // ------------------------------------------------------------------ HLT

    [Fact]
    public void HltRetiresThenHalts()
    {
        var m = CoreHarness.Load(a => { a.nop(); a.hlt(); a.inc(rax); });
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(Guest.CodeBase + 2, r.Rip);      // past the HLT
        Assert.Equal(Guest.CodeBase + 2, m.Cpu.Rip);
        Assert.Equal(2UL, r.Instructions);
        Assert.Equal(2UL, m.Cpu.InstructionsRetired);
        Assert.True(m.Cpu.IsHalted);
        ulong cycles = m.Cpu.Cycles;
        Assert.True(cycles >= 1); // a run costs at least a cycle (under a core profile NOP and HLT may retire together)

        // Halted: further runs do nothing.
        var again = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Halted, again.Reason);
        Assert.Equal(0UL, again.Instructions);
        Assert.Equal(0UL, again.Cycles);
        Assert.Equal(0UL, m.Cpu[Gpr.Rax]);

        // Resume continues after the HLT.
        m.Cpu.Resume();
        Assert.False(m.Cpu.IsHalted);
        var resumed = m.Run(RunLimits.Instructions(1));
        Assert.Equal(StopReason.InstructionLimit, resumed.Reason);
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void HltAtALimitBoundaryStillHalts(bool instructionLimit)
    {
        // HLT is the last instruction the limit allows: it retires and the processor is halted,
        // whichever stop is reported first; the next run reports Halted without doing anything.
        var m = CoreHarness.Load(a => { a.hlt(); a.nop(); });
        var r = m.Run(instructionLimit ? RunLimits.Instructions(1) : new RunLimits { MaxCycles = 1 });
        Assert.True(r.Reason is StopReason.Halted or StopReason.InstructionLimit or StopReason.CycleLimit, r.ToString());
        Assert.Equal(1UL, r.Instructions);
        Assert.Equal(Guest.CodeBase + 1, r.Rip);
        Assert.True(m.Cpu.IsHalted);
        var again = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Halted, again.Reason);
        Assert.Equal(0UL, again.Instructions);
        Assert.Equal(Guest.CodeBase + 1, again.Rip);
    }
}
