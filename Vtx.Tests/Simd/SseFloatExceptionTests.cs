using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Simd.SseFloatHarness;

namespace Vtx.Tests.Simd;

/// <summary>
/// The exception rules of SSE floating-point instructions: availability (#UD, #NM; SDM Vol. 3A,
/// Table 2-2 and 13.1), alignment (#GP(0) for misaligned 16-byte operands; SDM Vol. 1, 10.4.1.1),
/// memory faults before any update, and SIMD floating-point exceptions (SDM Vol. 1, 11.5.2): #XM
/// or #UD by CR4.OSXMMEXCPT, flags set, no destination element written, pre-computation precedence.
/// Also the x87-to-MMX transition of the conversions with MMX operands (SDM Vol. 2, CVTPI2PS...).
/// </summary>
public class SseFloatExceptionTests
{
    private const uint One = 0x3F80_0000, Two = 0x4000_0000, Three = 0x4040_0000;

    private static (Machine M, RunResult R) Go(Action<Assembler> insn, UInt128 x1, UInt128 x2, uint mxcsr, Action<Machine>? more = null) =>
        Exec(Code(insn), m => { m.Cpu.SetXmm(1, x1); m.Cpu.SetXmm(2, x2); m.Cpu.Mxcsr = mxcsr; m.WriteMemory(Data, Bytes(x2)); more?.Invoke(m); });

    [Theory]
    [InlineData(true, ExceptionVector.XM)]
    [InlineData(false, ExceptionVector.UD)]
    public void UnmaskedExceptionRaisesXmOrUdByOsxmmexcptWithFlagsSetAndNoWrite(bool osxmmexcpt, ExceptionVector expected)
    {
        // DIVPS with ZE unmasked (MXCSR 1D80h): lane 1 divides by zero, the others are fine.
        UInt128 dst = Pack32(One, One, Two, Three), src = Pack32(Two, 0, One, One);
        var (m, r) = Go(a => a.divps(xmm1, xmm2), dst, src, 0x1D80,
            mm => mm.Cpu.Cr4Value = osxmmexcpt ? mm.Cpu.Cr4Value | Cr4.OSXMMEXCPT : mm.Cpu.Cr4Value & ~Cr4.OSXMMEXCPT);
        AssertFault(r, expected);
        Assert.Equal(dst, m.Cpu.GetXmm(1));                  // no lane written, not even the good ones
        Assert.Equal(0x1D80u | (uint)FpExceptions.ZeroDivide, m.Cpu.Mxcsr); // ZE set; the post-computation PE of lane 0 (1/2 exact) is not involved
    }

    [Fact]
    public void PreComputationExceptionSuppressesPostComputationFlags()
    {
        // Lane 0: 1/3 is inexact (PE, masked); lane 1: a denormal operand, with DE unmasked.
        uint mxcsr = 0x1F80 & ~(uint)((int)FpExceptions.Denormal << 7);
        var (m, r) = Go(a => a.divps(xmm1, xmm2), Pack32(One, 0x0000_0001, One, One), Pack32(Three, One, One, One), mxcsr);
        AssertFault(r, ExceptionVector.XM);
        Assert.Equal(mxcsr | (uint)FpExceptions.Denormal, m.Cpu.Mxcsr); // DE only: PE of lane 0 is not recorded
        // Masked DE instead: both DE and PE are recorded and the result is written.
        (m, r) = Go(a => a.divps(xmm1, xmm2), Pack32(One, 0x0000_0001, One, One), Pack32(Three, One, One, One), 0x1F80);
        AssertRetired(r);
        Assert.Equal(0x1F80u | (uint)(FpExceptions.Denormal | FpExceptions.Precision), m.Cpu.Mxcsr); // lane 1's tiny result is exact: no UE when masked
    }

    [Fact]
    public void UnmaskedPostComputationExceptionWritesNothing()
    {
        // ADDSD with PE unmasked (MXCSR 0F80h): 1 + 2^-60 is inexact; the upper lane must stay too.
        UInt128 dst = new(0xAAAA_BBBB_CCCC_DDDD, 0x3FF0_0000_0000_0000);
        var (m, r) = Go(a => a.addsd(xmm1, xmm2), dst, 0x3C30_0000_0000_0000, 0x0F80);
        AssertFault(r, ExceptionVector.XM);
        Assert.Equal(dst, m.Cpu.GetXmm(1));
        Assert.Equal(0x0F80u | (uint)FpExceptions.Precision, m.Cpu.Mxcsr);
    }

    [Theory]
    [InlineData(0x7F00_0000u, 0x4000_0000u, 0x1B80u, 0x08u)] // OE unmasked; 2^127 * 2 is exact with an unbounded exponent: OE only
    [InlineData(0x7F7F_FFFFu, 0x7F7F_FFFFu, 0x1B80u, 0x28u)] // OE unmasked; max * max is inexact: OE and PE
    [InlineData(0x0080_0000u, 0x3F00_0000u, 0x1780u, 0x10u)] // UE unmasked; 2^-126 * 0.5 is tiny and exact: UE only
    [InlineData(0x0080_0001u, 0x3F00_0000u, 0x1780u, 0x10u)] // UE unmasked; 2^-127 + 2^-150 is inexact as a denormal but exact unbounded: UE only
    public void UnmaskedOverflowAndUnderflowSetPrecisionOnlyForAnInexactUnboundedResult(uint a, uint b, uint mxcsr, uint flags)
    {
        // SDM Vol. 1, 4.9.1.4 / 4.9.1.5 and 11.5.2.4: with OE/UE unmasked, PE reports the inexactness of
        // the result rounded with an unbounded exponent; no destination is written.
        var (m, r) = Go(x => x.mulss(xmm1, xmm2), a, b, mxcsr);
        AssertFault(r, ExceptionVector.XM);
        Assert.Equal((UInt128)a, m.Cpu.GetXmm(1));
        Assert.Equal(mxcsr | flags, m.Cpu.Mxcsr);
    }

    [Fact]
    public void ComissWithUnmaskedInvalidLeavesRflags()
    {
        ulong before = 0;
        var (m, r) = Go(a => a.comiss(xmm1, xmm2), 0x7FC0_0000, One, 0x1F00, mm => { mm.Cpu.Rflags = 0x2 | 0x800 | 0x80; before = mm.Cpu.Rflags; });
        AssertFault(r, ExceptionVector.XM);
        Assert.Equal(before, m.Cpu.Rflags);
        Assert.Equal(0x1F01u, m.Cpu.Mxcsr);
    }

    // ------------------------------------------------------------------ availability

    public static TheoryData<string> AnInstructionOfEachKind => new() { "addps", "sqrtsd", "cmpps", "comisd", "cvtsi2ss", "cvttsd2si", "rcpps", "roundps", "dppd", "haddps", "cvtps2pi" };

    private static Action<Assembler> Insn(string name) => name switch
    {
        "addps" => a => a.addps(xmm1, xmm2),
        "sqrtsd" => a => a.sqrtsd(xmm1, xmm2),
        "cmpps" => a => a.cmpps(xmm1, xmm2, 1),
        "comisd" => a => a.comisd(xmm1, xmm2),
        "cvtsi2ss" => a => a.cvtsi2ss(xmm1, rbx),
        "cvttsd2si" => a => a.cvttsd2si(ebx, xmm2),
        "rcpps" => a => a.rcpps(xmm1, xmm2),
        "roundps" => a => a.roundps(xmm1, xmm2, 0),
        "dppd" => a => a.dppd(xmm1, xmm2, 0x31),
        "haddps" => a => a.haddps(xmm1, xmm2),
        _ => a => a.cvtps2pi(mm1, xmm2),
    };

    [Theory]
    [MemberData(nameof(AnInstructionOfEachKind))]
    public void CrTsRaisesNm(string name)
    {
        var (m, r) = Go(Insn(name), One, One, 0x1F80, mm => mm.Cpu.Cr0Value |= Cr0.TS);
        AssertFault(r, ExceptionVector.NM);
        Assert.Equal((UInt128)One, m.Cpu.GetXmm(1));
    }

    [Theory]
    [MemberData(nameof(AnInstructionOfEachKind))]
    public void NoOsfxsrOrEmRaisesUdBeforeNm(string name)
    {
        var (_, r) = Go(Insn(name), One, One, 0x1F80, mm => { mm.Cpu.Cr4Value &= ~Cr4.OSFXSR; mm.Cpu.Cr0Value |= Cr0.TS; });
        AssertFault(r, ExceptionVector.UD);
        (_, r) = Go(Insn(name), One, One, 0x1F80, mm => mm.Cpu.Cr0Value |= Cr0.EM | Cr0.TS);
        AssertFault(r, ExceptionVector.UD);
    }

    // ------------------------------------------------------------------ alignment and memory faults

    public static TheoryData<string, bool> AlignmentCases => new()
    {
        // 16-byte operands of packed instructions must be aligned; scalar and 64-bit operands need not be.
        { "addps", true }, { "divpd", true }, { "cmppd", true }, { "cvtpd2ps", true }, { "cvtdq2ps", true }, { "cvtpd2pi", true },
        { "haddpd", true }, { "dpps", true }, { "roundpd", true }, { "rsqrtps", true },
        { "addss", false }, { "mulsd", false }, { "cvtps2pd", false }, { "cvtdq2pd", false }, { "cvtps2pi", false }, { "comisd", false },
        { "cvtpi2ps", false }, { "roundsd", false },
    };

    private static Action<Assembler> MemInsn(string name) => name switch
    {
        "addps" => a => a.addps(xmm1, __[rax]),
        "divpd" => a => a.divpd(xmm1, __[rax]),
        "cmppd" => a => a.cmppd(xmm1, __[rax], 0),
        "cvtpd2ps" => a => a.cvtpd2ps(xmm1, __[rax]),
        "cvtdq2ps" => a => a.cvtdq2ps(xmm1, __[rax]),
        "cvtpd2pi" => a => a.cvtpd2pi(mm1, __[rax]),
        "haddpd" => a => a.haddpd(xmm1, __[rax]),
        "dpps" => a => a.dpps(xmm1, __[rax], 0xFF),
        "roundpd" => a => a.roundpd(xmm1, __[rax], 0),
        "rsqrtps" => a => a.rsqrtps(xmm1, __[rax]),
        "addss" => a => a.addss(xmm1, __[rax]),
        "mulsd" => a => a.mulsd(xmm1, __[rax]),
        "cvtps2pd" => a => a.cvtps2pd(xmm1, __[rax]),
        "cvtdq2pd" => a => a.cvtdq2pd(xmm1, __[rax]),
        "cvtps2pi" => a => a.cvtps2pi(mm1, __[rax]),
        "comisd" => a => a.comisd(xmm1, __[rax]),
        "cvtpi2ps" => a => a.cvtpi2ps(xmm1, __[rax]),
        _ => a => a.roundsd(xmm1, __[rax], 0),
    };

    [Theory]
    [MemberData(nameof(AlignmentCases))]
    public void MisalignedPackedOperandsRaiseGp0(string name, bool mustAlign)
    {
        UInt128 dst = Pack32(One, One, One, One);
        var (m, r) = Go(MemInsn(name), dst, 0, 0x1F80, mm => mm.Cpu[Gpr.Rax] = Data + 8);
        if (mustAlign)
        {
            AssertFault(r, ExceptionVector.GP, 0);
            Assert.Equal(dst, m.Cpu.GetXmm(1));
            Assert.Equal(0x1F80u, m.Cpu.Mxcsr);
        }
        else AssertRetired(r);
    }

    [Fact]
    public void AMemoryFaultComesBeforeAnyUpdate()
    {
        // A non-canonical address: #GP(0); the division by zero it would have done sets no flag.
        UInt128 dst = Pack32(One, One, One, One);
        var (m, r) = Go(a => a.divss(xmm1, __[rax]), dst, 0, 0x1F80, mm => mm.Cpu[Gpr.Rax] = 0x8000_0000_0000_0000);
        AssertFault(r, ExceptionVector.GP, 0);
        Assert.Equal(dst, m.Cpu.GetXmm(1));
        Assert.Equal(0x1F80u, m.Cpu.Mxcsr);
    }

    [Fact]
    public void ThirtyTwoBitProtectedModeUsesTheSameRules()
    {
        byte[] code = Tests.Support.Guest.Assemble(a => { a.addps(xmm1, __[eax]); a.cvtsi2sd(xmm2, ebx); a.hlt(); }, Tests.Support.Guest.CodeBase, 32);
        foreach (var (address, aligned) in new[] { (Data, true), (Data + 4, false) })
        {
            var m = Tests.Core.CoreHarness.Load(code, bitness: 32);
            m.Cpu[Gpr.Rax] = address;
            m.Cpu[Gpr.Rbx] = 0xFFFF_FFFF; // -1 as r/m32
            m.Cpu.SetXmm(1, Pack32(One, One, One, One));
            m.WriteMemory(Data, Bytes(Pack32(One, Two, One, Two)));
            m.WriteMemory(Data + 16, Bytes(Pack32(One, Two, One, Two)));
            var r = m.Run(RunLimits.Instructions(2));
            if (!aligned) { AssertFault(r, ExceptionVector.GP, 0); continue; }
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            Assert.Equal(Pack32(Two, Three, Two, Three), m.Cpu.GetXmm(1));
            Assert.Equal(0xBFF0_0000_0000_0000UL, (ulong)m.Cpu.GetXmm(2));
        }
    }

    // ------------------------------------------------------------------ MMX transition (SDM Vol. 1, 9.5.1; Vol. 2, CVTPI2PS/CVTPI2PD)

    private static (Machine M, RunResult R) GoMmx(Action<Assembler> insn, Action<Machine>? more = null) =>
        Go(insn, Pack32(One, One, One, One), Pack32(One, Two, Three, One), 0x1F80, m =>
        {
            m.Cpu.FpuStatusWord = 3 << 11; // TOP = 3, all registers empty (flat mode)
            m.Cpu.SetFpuRegister(1, new Float80(0x0000_0003_0000_0002, 0xFFFF)); // MM1 = {2, 3}
            m.WriteMemory(Data, BitConverter.GetBytes(0x0000_0005_0000_0004UL));
            more?.Invoke(m);
        });

    [Fact]
    public void RegisterFormsMakeTheMmxTransition()
    {
        foreach (var insn in new Action<Assembler>[] { a => a.cvtpi2ps(xmm1, mm1), a => a.cvtpi2pd(xmm1, mm1), a => a.cvtps2pi(mm0, xmm2), a => a.cvttpd2pi(mm0, xmm2), a => a.cvtps2pi(mm0, __[rax]) })
        {
            var (m, r) = GoMmx(insn);
            AssertRetired(r);
            Assert.Equal(0, (m.Cpu.FpuStatusWord >> 11) & 7); // TOP = 0
            Assert.Equal(0xFF, m.Cpu.FpuAbridgedTag);          // all tags valid
        }
    }

    [Fact]
    public void CvtpiWithAMemorySourceMakesNoTransitionAndTakesNoX87Exception()
    {
        // FSW.ES set (a pending unmasked x87 exception): the memory forms still run and leave the x87 state alone.
        foreach (var (insn, expected) in new (Action<Assembler>, UInt128)[]
        {
            (a => a.cvtpi2ps(xmm1, __[rax]), Pack32(0x4080_0000, 0x40A0_0000, One, One)),
            (a => a.cvtpi2pd(xmm1, __[rax]), new UInt128(0x4014_0000_0000_0000, 0x4010_0000_0000_0000)),
        })
        {
            var (m, r) = GoMmx(insn, mm => mm.Cpu.FpuStatusWord = (3 << 11) | 0x80 | 0x01);
            AssertRetired(r);
            Assert.Equal(expected, m.Cpu.GetXmm(1));
            Assert.Equal(3, (m.Cpu.FpuStatusWord >> 11) & 7);
            Assert.Equal(0x00, m.Cpu.FpuAbridgedTag);
        }
    }

    [Fact]
    public void MmxRegisterFormsTakeAPendingX87ExceptionAsMf()
    {
        foreach (var insn in new Action<Assembler>[] { a => a.cvtpi2ps(xmm1, mm1), a => a.cvtpi2pd(xmm1, mm1), a => a.cvtpd2pi(mm0, xmm2), a => a.cvttps2pi(mm0, __[rax]) })
        {
            var (m, r) = GoMmx(insn, mm => mm.Cpu.FpuStatusWord = (3 << 11) | 0x80 | 0x01);
            AssertFault(r, ExceptionVector.MF);
            Assert.Equal(3, (m.Cpu.FpuStatusWord >> 11) & 7);
            Assert.Equal(Pack32(One, One, One, One), m.Cpu.GetXmm(1));
        }
    }

    [Fact]
    public void MmxConversionsProduceTheirValues()
    {
        var (m, r) = GoMmx(a => a.cvtpi2ps(xmm1, mm1));
        AssertRetired(r);
        Assert.Equal(Pack32(Two, Three, One, One), m.Cpu.GetXmm(1)); // {2.0f, 3.0f}, upper half unchanged
        (m, r) = GoMmx(a => a.cvtpi2pd(xmm1, mm1));
        Assert.Equal(new UInt128(0x4008_0000_0000_0000, 0x4000_0000_0000_0000), m.Cpu.GetXmm(1));
        (m, r) = GoMmx(a => a.cvtps2pi(mm0, xmm2)); // {1.0, 2.0} -> {1, 2}
        Assert.Equal(0x0000_0002_0000_0001UL, m.Cpu.GetFpuRegister(0).Significand);
        Assert.Equal(0xFFFF, m.Cpu.GetFpuRegister(0).SignExponent);
    }
}

/// <summary>Every legacy-encoded floating-point computation code of SSE-SSE4.1 that Iced knows is in the handler table.</summary>
public class SseFloatCoverageTests
{
    private static readonly HashSet<Mnemonic> Mnemonics = new()
    {
        Mnemonic.Addps, Mnemonic.Addpd, Mnemonic.Addss, Mnemonic.Addsd, Mnemonic.Subps, Mnemonic.Subpd, Mnemonic.Subss, Mnemonic.Subsd,
        Mnemonic.Mulps, Mnemonic.Mulpd, Mnemonic.Mulss, Mnemonic.Mulsd, Mnemonic.Divps, Mnemonic.Divpd, Mnemonic.Divss, Mnemonic.Divsd,
        Mnemonic.Sqrtps, Mnemonic.Sqrtpd, Mnemonic.Sqrtss, Mnemonic.Sqrtsd, Mnemonic.Minps, Mnemonic.Minpd, Mnemonic.Minss, Mnemonic.Minsd,
        Mnemonic.Maxps, Mnemonic.Maxpd, Mnemonic.Maxss, Mnemonic.Maxsd, Mnemonic.Rcpps, Mnemonic.Rcpss, Mnemonic.Rsqrtps, Mnemonic.Rsqrtss,
        Mnemonic.Cmpps, Mnemonic.Cmppd, Mnemonic.Cmpss, Mnemonic.Cmpsd, Mnemonic.Comiss, Mnemonic.Comisd, Mnemonic.Ucomiss, Mnemonic.Ucomisd,
        Mnemonic.Cvtsi2ss, Mnemonic.Cvtsi2sd, Mnemonic.Cvtss2si, Mnemonic.Cvttss2si, Mnemonic.Cvtsd2si, Mnemonic.Cvttsd2si,
        Mnemonic.Cvtss2sd, Mnemonic.Cvtsd2ss, Mnemonic.Cvtps2pd, Mnemonic.Cvtpd2ps, Mnemonic.Cvtdq2ps, Mnemonic.Cvtps2dq, Mnemonic.Cvttps2dq,
        Mnemonic.Cvtdq2pd, Mnemonic.Cvtpd2dq, Mnemonic.Cvttpd2dq, Mnemonic.Cvtpi2ps, Mnemonic.Cvtps2pi, Mnemonic.Cvttps2pi,
        Mnemonic.Cvtpi2pd, Mnemonic.Cvtpd2pi, Mnemonic.Cvttpd2pi, Mnemonic.Addsubps, Mnemonic.Addsubpd, Mnemonic.Haddps, Mnemonic.Haddpd,
        Mnemonic.Hsubps, Mnemonic.Hsubpd, Mnemonic.Roundps, Mnemonic.Roundpd, Mnemonic.Roundss, Mnemonic.Roundsd, Mnemonic.Dpps, Mnemonic.Dppd,
    };

    [Fact]
    public void EveryLegacyFormIsRegisteredAndOffered()
    {
        var cpu = new Machine(new MachineOptions { MemoryMiB = 1, CodeSize = 64 }).Cpu;
        var missing = new List<Iced.Intel.Code>();
        int count = 0;
        foreach (Iced.Intel.Code code in Enum.GetValues<Iced.Intel.Code>())
        {
            if (code.Encoding() != EncodingKind.Legacy || !Mnemonics.Contains(code.Mnemonic())) continue;
            if (!code.ToString().Contains("mm")) continue; // CMPSD also names the string compare
            count++;
            if (!cpu.ExtOffered(code)) missing.Add(code);
        }
        Assert.Empty(missing);
        Assert.Equal(80, count); // 28 arithmetic, 4 approximations, 8 compares, 12 SSE3/SSE4.1, 28 conversions
    }
}
