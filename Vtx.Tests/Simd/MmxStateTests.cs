using Iced.Intel;
using Xunit;
using static Vtx.Tests.Simd.SimdRig;

namespace Vtx.Tests.Simd;

/// <summary>
/// The availability rules and the MMX/x87 state interaction of the MMX and SSE integer/move
/// instructions: SDM Vol. 3A Table 2-2, Table 12-1 and 13.1.3 (CR0.EM, CR0.TS, CR4.OSFXSR, pending x87
/// exception), LOCK (#UD), and Vol. 3A 12.2 (TOP = 0 and all tags valid after any MMX instruction,
/// EMMS empties the tags, exponent FFFFh for a written MMX register). Every fault changes nothing.
/// </summary>
public class MmxStateTests
{
    /// <summary>One instruction of each handler shape, SSE forms.</summary>
    public static TheoryData<string> SseForms => new(SseInstructions.Keys);

    private static readonly Dictionary<string, Instruction> SseInstructions = new()
    {
        ["paddb"] = I(Code.Paddb_xmm_xmmm128, Register.XMM1, Register.XMM2),
        ["phaddw"] = I(Code.Phaddw_xmm_xmmm128, Register.XMM1, Register.XMM2),
        ["pmaddwd"] = I(Code.Pmaddwd_xmm_xmmm128, Register.XMM1, Register.XMM2),
        ["psllw imm"] = I(Code.Psllw_xmm_imm8, Register.XMM1, 3),
        ["pslldq"] = I(Code.Pslldq_xmm_imm8, Register.XMM1, 3),
        ["pmovsxbw"] = I(Code.Pmovsxbw_xmm_xmmm64, Register.XMM1, Register.XMM2),
        ["ptest"] = I(Code.Ptest_xmm_xmmm128, Register.XMM1, Register.XMM2),
        ["pshufd"] = I(Code.Pshufd_xmm_xmmm128_imm8, Register.XMM1, Register.XMM2, 0x1B),
        ["pinsrd"] = I(Code.Pinsrd_xmm_rm32_imm8, Register.XMM1, Register.EAX, 1),
        ["pextrd"] = I(Code.Pextrd_rm32_xmm_imm8, Register.EAX, Register.XMM1, 1),
        ["pmovmskb"] = I(Code.Pmovmskb_r32_xmm, Register.EAX, Register.XMM1),
        ["movdqa"] = I(Code.Movdqa_xmm_xmmm128, Register.XMM1, Register.XMM2),
        ["movd"] = I(Code.Movd_xmm_rm32, Register.XMM1, Register.EAX),
        ["movss"] = I(Code.Movss_xmm_xmmm32, Register.XMM1, Register.XMM2),
        ["pcmpistri"] = I(Code.Pcmpistri_xmm_xmmm128_imm8, Register.XMM1, Register.XMM2, 0),
        ["maskmovdqu"] = Instruction.CreateMaskmovdqu(64, Register.XMM1, Register.XMM2),
        ["movq2dq"] = I(Code.Movq2dq_xmm_mm, Register.XMM1, Register.MM2),
        ["movdq2q"] = I(Code.Movdq2q_mm_xmm, Register.MM1, Register.XMM2),
    };

    public static TheoryData<string> MmxForms => new(MmxInstructions.Keys);

    private static readonly Dictionary<string, Instruction> MmxInstructions = new()
    {
        ["paddb mm"] = I(Code.Paddb_mm_mmm64, Register.MM1, Register.MM2),
        ["psllw mm imm"] = I(Code.Psllw_mm_imm8, Register.MM1, 3),
        ["pshufw"] = I(Code.Pshufw_mm_mmm64_imm8, Register.MM1, Register.MM2, 0x1B),
        ["movd r32, mm"] = I(Code.Movd_rm32_mm, Register.EAX, Register.MM1),
        ["pextrw r32, mm"] = I(Code.Pextrw_r32_mm_imm8, Register.EAX, Register.MM1, 1),
        ["pmovmskb r32, mm"] = I(Code.Pmovmskb_r32_mm, Register.EAX, Register.MM1),
        ["movntq"] = I(Code.Movntq_m64_mm, AtRbx, Register.MM1),
        ["maskmovq"] = Instruction.CreateMaskmovq(64, Register.MM1, Register.MM2),
        ["emms"] = Instruction.Create(Code.Emms),
    };

    private static (SimdRig Rig, string Before) Prepare(Instruction ins, Action<Cpu> setup)
    {
        var rig = new SimdRig(ins);
        var c = rig.Cpu;
        c.SetXmm(1, 0x0102_0304); c.SetXmm(2, 0xFF00_FF00);
        rig.SetMm(1, 0x1111); rig.SetMm(2, 0x2222);
        c.FpuStatusWord = 6 << 11; c.FpuAbridgedTag = 0x0F;
        c[Gpr.Rax] = 0xAAAA; c[Gpr.Rdi] = SimdRig.Data;
        setup(c);
        return (rig, State(rig));
    }

    private static string State(SimdRig rig)
    {
        var c = rig.Cpu;
        var s = $"xmm1={Hex(c.GetXmm(1))} xmm2={Hex(c.GetXmm(2))} rax={c[Gpr.Rax]:X} rcx={c[Gpr.Rcx]:X} fsw={c.FpuStatusWord:X} tag={c.FpuAbridgedTag:X} mem={Hex(rig.R128(SimdRig.Data))} rflags={c.Rflags:X}";
        for (int i = 0; i < 8; i++) s += $" r{i}={c.GetFpuRegister(i)}";
        return s;
    }

    private static string Hex(UInt128 v) => SimdRef.Hex(v);

    private static void AssertFault(Instruction ins, Action<Cpu> setup, ExceptionVector v, string name)
    {
        var (rig, before) = Prepare(ins, setup);
        rig.Faults(v, 0, name);
        Assert.Equal(before, State(rig));
    }

    private static void AssertRuns(Instruction ins, Action<Cpu> setup, string name)
    {
        var (rig, _) = Prepare(ins, setup);
        rig.Ok(0, name);
    }

    /// <summary>SSE forms: CR4.OSFXSR = 0 or CR0.EM = 1 give #UD, CR0.TS = 1 gives #NM; a pending x87 exception is ignored (except by MOVQ2DQ/MOVDQ2Q).</summary>
    [Theory]
    [MemberData(nameof(SseForms))]
    public void SseAvailability(string name)
    {
        var ins = SseInstructions[name];
        bool touchesMmx = name is "movq2dq" or "movdq2q";
        AssertFault(ins, c => c.Cr4Value &= ~Cr4.OSFXSR, ExceptionVector.UD, name + " OSFXSR=0");
        AssertFault(ins, c => c.Cr0Value |= Cr0.EM, ExceptionVector.UD, name + " EM=1");
        AssertFault(ins, c => c.Cr0Value |= Cr0.TS, ExceptionVector.NM, name + " TS=1");
        // #UD (OSFXSR) comes before #NM (TS).
        AssertFault(ins, c => { c.Cr4Value &= ~Cr4.OSFXSR; c.Cr0Value |= Cr0.TS; }, ExceptionVector.UD, name + " OSFXSR=0 TS=1");
        if (touchesMmx) AssertFault(ins, c => c.FpuStatusWord = 0x81, ExceptionVector.MF, name + " ES=1");
        else AssertRuns(ins, c => c.FpuStatusWord = 0x81, name + " ES=1");
    }

    /// <summary>MMX forms: CR0.EM = 1 gives #UD, CR0.TS = 1 #NM, FSW.ES = 1 #MF (CR0.NE = 1); CR4.OSFXSR does not matter.</summary>
    [Theory]
    [MemberData(nameof(MmxForms))]
    public void MmxAvailability(string name)
    {
        var ins = MmxInstructions[name];
        AssertFault(ins, c => c.Cr0Value |= Cr0.EM, ExceptionVector.UD, name + " EM=1");
        AssertFault(ins, c => c.Cr0Value |= Cr0.TS, ExceptionVector.NM, name + " TS=1");
        AssertFault(ins, c => c.FpuStatusWord = 0x81 | (6 << 11), ExceptionVector.MF, name + " ES=1");
        AssertFault(ins, c => { c.FpuStatusWord = 0x81; c.Cr0Value |= Cr0.TS; }, ExceptionVector.NM, name + " TS before ES");
        AssertRuns(ins, c => c.Cr4Value &= ~Cr4.OSFXSR, name + " OSFXSR=0");
    }

    /// <summary>A LOCK prefix on any of these instructions is #UD.</summary>
    [Theory]
    [MemberData(nameof(SseForms))]
    public void LockIsInvalid(string name)
    {
        var ins = SseInstructions[name];
        ins.HasLockPrefix = true;
        AssertFault(ins, _ => { }, ExceptionVector.UD, name + " LOCK");
    }

    /// <summary>
    /// Every MMX instruction, including those that only read an MMX register (stores, MOVD r32, PEXTRW,
    /// PMOVMSKB), sets TOP = 0 and all tags valid; only a written MMX register gets exponent FFFFh.
    /// </summary>
    [Theory]
    [MemberData(nameof(MmxForms))]
    public void MmxTransition(string name)
    {
        var (rig, _) = Prepare(MmxInstructions[name], _ => { });
        var c = rig.Cpu;
        rig.Ok(0, name);
        Assert.Equal(0, (c.FpuStatusWord >> 11) & 7);
        if (name == "emms")
        {
            Assert.Equal(0, c.FpuAbridgedTag);   // all empty
            Assert.Equal(0, rig.MmExp(1));
            return;
        }
        Assert.Equal(0xFF, c.FpuAbridgedTag);
        bool writesMm1 = name is "paddb mm" or "psllw mm imm" or "pshufw";
        Assert.Equal(writesMm1 ? 0xFFFF : 0, rig.MmExp(1));
        Assert.Equal(0, rig.MmExp(2));
        for (int i = 3; i < 8; i++) Assert.Equal(0, c.GetFpuRegister(i).SignExponent);
    }

    /// <summary>A faulting memory operand of an MMX instruction leaves TOP, the tags and the registers as they were.</summary>
    [Fact]
    public void FaultingMmxLoadChangesNoX87State()
    {
        var (rig, before) = Prepare(I(Code.Paddb_mm_mmm64, Register.MM1, AtRbx), c => c[Gpr.Rbx] = 0x8000_0000_0000_0000UL);
        rig.Faults(ExceptionVector.GP, 0, "non-canonical");
        Assert.Equal(before, State(rig));
    }

    /// <summary>MMX register i is physical register Ri whatever TOP is (SDM Vol. 3A, 12.2).</summary>
    [Fact]
    public void MmxRegistersArePhysical()
    {
        var (rig, _) = Prepare(I(Code.Movq_mm_mmm64, Register.MM3, Register.MM1), c => c.FpuStatusWord = 5 << 11);
        rig.Ok();
        Assert.Equal(0x1111UL, rig.Cpu.GetFpuRegister(3).Significand);
        Assert.Equal(0xFFFF, rig.Cpu.GetFpuRegister(3).SignExponent);
    }
}
