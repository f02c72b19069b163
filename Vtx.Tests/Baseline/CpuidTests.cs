using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Baseline.BaselineHarness;

namespace Vtx.Tests.Baseline;

/// <summary>
/// CPUID reports exactly what the model offers (SDM Vol. 2A, CPUID, Tables 3-8 to 3-20; bit positions
/// written here from the SDM): each Iced feature's bit against <see cref="CpuModel.Offers"/>, the
/// x86-64-v2 level, and set bit => the instruction executes, clear bit => #UD.
/// </summary>
public class CpuidTests
{
    /// <summary>(feature, leaf, register: 0 EAX 1 EBX 2 ECX 3 EDX, bit) from the SDM's CPUID tables.</summary>
    public static TheoryData<CpuidFeature, uint, int, int> FeatureBits => new()
    {
        { CpuidFeature.FPU, 1, 3, 0 },
        { CpuidFeature.CX8, 1, 3, 8 },
        { CpuidFeature.CMOV, 1, 3, 15 },
        { CpuidFeature.CLFSH, 1, 3, 19 },
        { CpuidFeature.MMX, 1, 3, 23 },
        { CpuidFeature.FXSR, 1, 3, 24 },
        { CpuidFeature.SSE, 1, 3, 25 },
        { CpuidFeature.SSE2, 1, 3, 26 },
        { CpuidFeature.SSE3, 1, 2, 0 },
        { CpuidFeature.SSSE3, 1, 2, 9 },
        { CpuidFeature.CMPXCHG16B, 1, 2, 13 },
        { CpuidFeature.SSE4_1, 1, 2, 19 },
        { CpuidFeature.SSE4_2, 1, 2, 20 },
        { CpuidFeature.MOVBE, 1, 2, 22 },
        { CpuidFeature.POPCNT, 1, 2, 23 },
        { CpuidFeature.XSAVE, 1, 2, 26 },
        { CpuidFeature.CLFLUSHOPT, 7, 1, 23 },
        { CpuidFeature.PREFETCHW, 0x80000001, 2, 8 },
        { CpuidFeature.XSAVEOPT, 0xD, 0, 0 },   // sub-leaf 1
        { CpuidFeature.XSAVEC, 0xD, 0, 1 },     // sub-leaf 1
        // Bits of features Vtx does not model must be clear.
        { CpuidFeature.PCLMULQDQ, 1, 2, 1 },
        { CpuidFeature.MONITOR, 1, 2, 3 },
        { CpuidFeature.FMA, 1, 2, 12 },
        { CpuidFeature.AES, 1, 2, 25 },
        { CpuidFeature.AVX, 1, 2, 28 },
        { CpuidFeature.F16C, 1, 2, 29 },
        { CpuidFeature.RDRAND, 1, 2, 30 },
        { CpuidFeature.AVX2, 7, 1, 5 },
        { CpuidFeature.CLWB, 7, 1, 24 },
        { CpuidFeature.SHA, 7, 1, 29 },
        { CpuidFeature.PREFETCHWT1, 7, 2, 0 },
        { CpuidFeature.CLDEMOTE, 7, 2, 25 },
        { CpuidFeature.XSAVES, 0xD, 0, 3 },     // sub-leaf 1
    };

    private static uint Reg(CpuidResult r, int reg) => reg switch { 0 => r.Eax, 1 => r.Ebx, 2 => r.Ecx, _ => r.Edx };

    [Theory]
    [MemberData(nameof(FeatureBits))]
    public void EachFeatureBitIsSetExactlyWhenTheModelOffersTheFeature(CpuidFeature f, uint leaf, int reg, int bit)
    {
        var model = new CpuModel();
        uint sub = leaf == 0xD ? 1u : 0u;
        bool set = (Reg(model.Cpuid(leaf, sub), reg) >> bit & 1) != 0;
        Assert.Equal(model.Offers(f), set);
    }

    [Fact]
    public void TheX86_64V2LevelIsComplete()
    {
        var model = new CpuModel();
        var l1 = model.Cpuid(1, 0);
        var e1 = model.Cpuid(0x80000001, 0);
        // x86-64 baseline: CMOV, CX8, FPU, FXSR, MMX, SCE (SYSCALL), SSE, SSE2 (and LM).
        foreach (int b in new[] { 15, 8, 0, 24, 23, 25, 26 }) Assert.True((l1.Edx >> b & 1) != 0, $"CPUID.1:EDX[{b}]");
        Assert.True((e1.Edx >> 11 & 1) != 0 && (e1.Edx >> 29 & 1) != 0, "SYSCALL, LM");
        // v2: CMPXCHG16B, LAHF-SAHF, POPCNT, SSE3, SSE4.1, SSE4.2, SSSE3.
        foreach (int b in new[] { 13, 23, 0, 19, 20, 9 }) Assert.True((l1.Ecx >> b & 1) != 0, $"CPUID.1:ECX[{b}]");
        Assert.True((e1.Ecx & 1) != 0, "LAHF-SAHF");
        // CLFLUSH line size: EBX[15:8] in 8-byte units = 64 bytes.
        Assert.Equal(8u, l1.Ebx >> 8 & 0xFF);
    }

    [Fact]
    public void AModelWithoutAFeatureClearsItsBitAndItsDependants()
    {
        var noSse = new CpuModel { Sse = false, Sse2 = false, Sse3 = false, Ssse3 = false, Sse41 = false, Sse42 = false };
        var l1 = noSse.Cpuid(1, 0);
        Assert.Equal(0u, l1.Edx >> 25 & 3);
        Assert.Equal(0u, l1.Ecx & (1u | 1u << 9 | 1u << 19 | 1u << 20));
        Assert.Equal(1u, noSse.Cpuid(0xD, 0).Eax);   // XCR0 can hold x87 state only
        var noClflush = new CpuModel { Clflush = false }.Cpuid(1, 0);
        Assert.Equal(0u, noClflush.Edx >> 19 & 1);
        Assert.Equal(0u, noClflush.Ebx >> 8 & 0xFF); // no line size without CLFSH
        var noXsave = new CpuModel { Xsave = false };
        Assert.Equal(0u, noXsave.Cpuid(1, 0).Ecx >> 26 & 1);
        Assert.Equal(7u, noXsave.Cpuid(0, 0).Eax);
    }

    /// <summary>Rows: a feature, the model without it, and one of its instructions (after any set-up).</summary>
    public static TheoryData<string> Executables => new()
    {
        "FXSR", "SSE-LDMXCSR", "SSE-SFENCE", "SSE-PREFETCH", "SSE2-LFENCE", "SSE2-MOVNTI", "SSE4_2-CRC32", "CLFSH", "CLFLUSHOPT",
        "PREFETCHW", "XSAVE", "XSAVEOPT", "XSAVEC", "CMPXCHG16B", "POPCNT", "MOVBE",
    };

    private static (CpuModel Without, Action<Assembler> Insn, uint Leaf, int Reg, int Bit) Row(string name) => name switch
    {
        "FXSR" => (new CpuModel { Fxsr = false }, a => a.fxsave(__[rbx]), 1, 3, 24),
        "SSE-LDMXCSR" => (NoSse(1), a => a.ldmxcsr(__dword_ptr[rbx + 0x200]), 1, 3, 25),
        "SSE-SFENCE" => (NoSse(1), a => a.sfence(), 1, 3, 25),
        "SSE-PREFETCH" => (NoSse(1), a => a.prefetcht0(__byte_ptr[rbx]), 1, 3, 25),
        "SSE2-LFENCE" => (NoSse(2), a => a.lfence(), 1, 3, 26),
        "SSE2-MOVNTI" => (NoSse(2), a => a.movnti(__dword_ptr[rbx], eax), 1, 3, 26),
        "SSE4_2-CRC32" => (new CpuModel { Sse42 = false }, a => a.crc32(eax, ebx), 1, 2, 20),
        "CLFSH" => (new CpuModel { Clflush = false }, a => a.clflush(__byte_ptr[rbx]), 1, 3, 19),
        "CLFLUSHOPT" => (new CpuModel { ClflushOpt = false }, a => a.clflushopt(__byte_ptr[rbx]), 7, 1, 23),
        "PREFETCHW" => (new CpuModel { Prefetchw = false }, a => a.prefetchw(__byte_ptr[rbx]), 0x80000001, 2, 8),
        "XSAVE" => (new CpuModel { Xsave = false }, a => a.xsave(__[rbx]), 1, 2, 26),
        "XSAVEOPT" => (new CpuModel { XsaveOpt = false }, a => a.xsaveopt(__[rbx]), 0xD, 0, 0),
        "XSAVEC" => (new CpuModel { XsaveC = false }, a => a.xsavec(__[rbx]), 0xD, 0, 1),
        "CMPXCHG16B" => (new CpuModel { Cx16 = false }, a => a.cmpxchg16b(__xmmword_ptr[rbx]), 1, 2, 13),
        "POPCNT" => (new CpuModel { Popcnt = false }, a => a.popcnt(eax, ebx), 1, 2, 23),
        "MOVBE" => (new CpuModel { Movbe = false }, a => a.movbe(eax, __dword_ptr[rbx]), 1, 2, 22),
        _ => throw new ArgumentException(name),
    };

    /// <summary>A model without SSE level <paramref name="level"/> and everything above it.</summary>
    private static CpuModel NoSse(int level) => level == 1
        ? new CpuModel { Sse = false, Sse2 = false, Sse3 = false, Ssse3 = false, Sse41 = false, Sse42 = false }
        : new CpuModel { Sse2 = false, Sse3 = false, Ssse3 = false, Sse41 = false, Sse42 = false };

    [Theory]
    [MemberData(nameof(Executables))]
    public void ASetBitMeansTheInstructionExecutesAndAClearBitMeansUd(string name)
    {
        var (without, insn, leaf, reg, bit) = Row(name);
        foreach (var model in new[] { new CpuModel(), without })
        {
            uint sub = leaf == 0xD ? 1u : 0u;
            bool offered = (Reg(model.Cpuid(leaf, sub), reg) >> bit & 1) != 0;
            var (_, r) = BaselineHarness.Run(a =>
            {
                a.mov(rbx, Area);
                a.xor(eax, eax);
                insn(a);
            }, c =>
            {
                if ((c.Model.Xsave)) { c.Cr4Value |= Cr4.OSXSAVE; }
                c.Mxcsr = 0x1F80;
            }, model);
            if (offered) AssertHalted(r);
            else AssertFault(r, ExceptionVector.UD);
        }
        Assert.NotEqual(Row(name).Without.Cpuid(leaf, leaf == 0xD ? 1u : 0u), new CpuModel().Cpuid(leaf, leaf == 0xD ? 1u : 0u));
    }
}
