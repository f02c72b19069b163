using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Vtx.Tests.Simd.SimdRef;
using static Vtx.Tests.Simd.SimdRig;

namespace Vtx.Tests.Simd;

/// <summary>
/// MMX/SSE data movement, inserts/extracts and sign masks, from the SDM Vol. 2 "Operation"
/// sections: which bytes move, which are zeroed or kept, the 16-byte alignment rule (only the
/// explicitly unaligned forms accept any address), and that a faulting store writes nothing.
/// </summary>
public class SimdMoveTests
{
    private static readonly Gen<(UInt128, UInt128)> Two = Gen.Zip(V128, V128, (a, b) => (a, b));

    public static TheoryData<string, Code, Code, bool> Moves128 => new()
    {
        // name, load/reg form, store form (or INVALID), requires alignment
        { "movaps", Code.Movaps_xmm_xmmm128, Code.Movaps_xmmm128_xmm, true },
        { "movapd", Code.Movapd_xmm_xmmm128, Code.Movapd_xmmm128_xmm, true },
        { "movdqa", Code.Movdqa_xmm_xmmm128, Code.Movdqa_xmmm128_xmm, true },
        { "movups", Code.Movups_xmm_xmmm128, Code.Movups_xmmm128_xmm, false },
        { "movupd", Code.Movupd_xmm_xmmm128, Code.Movupd_xmmm128_xmm, false },
        { "movdqu", Code.Movdqu_xmm_xmmm128, Code.Movdqu_xmmm128_xmm, false },
        { "lddqu", Code.Lddqu_xmm_m128, Code.INVALID, false },
        { "movntdqa", Code.Movntdqa_xmm_m128, Code.INVALID, true },
        { "movntps", Code.INVALID, Code.Movntps_m128_xmm, true },
        { "movntpd", Code.INVALID, Code.Movntpd_m128_xmm, true },
        { "movntdq", Code.INVALID, Code.Movntdq_m128_xmm, true },
    };

    /// <summary>128-bit loads, stores and register moves; misaligned operands of the aligned forms raise #GP(0) and change nothing.</summary>
    [Theory]
    [MemberData(nameof(Moves128))]
    public void Moves128Bits(string name, Code load, Code store, bool aligned)
    {
        var ins = new List<Instruction>();
        bool hasLoad = load != Code.INVALID, hasStore = store != Code.INVALID, reg = hasLoad && load != Code.Lddqu_xmm_m128 && load != Code.Movntdqa_xmm_m128;
        ins.Add(hasLoad ? I(load, Register.XMM1, AtRbx) : Instruction.Create(Code.Nopd));
        ins.Add(hasLoad ? Mem(load, Register.XMM1, 8) : Instruction.Create(Code.Nopd));
        ins.Add(hasStore ? I(store, AtRbx, Register.XMM12) : Instruction.Create(Code.Nopd));
        ins.Add(hasStore ? Instruction.Create(store, new MemoryOperand(Register.RBX, 4), Register.XMM12) : Instruction.Create(Code.Nopd));
        ins.Add(reg ? I(load, Register.XMM1, Register.XMM12) : Instruction.Create(Code.Nopd));
        ins.Add(hasStore && reg ? I(store, Register.XMM1, Register.XMM12) : Instruction.Create(Code.Nopd));
        var rig = new SimdRig(ins.ToArray());
        var c = rig.Cpu;
        Check(Two, t =>
        {
            var (a, b) = t;
            if (hasLoad)
            {
                rig.W128(SimdRig.Data, a); rig.W128(SimdRig.Data + 16, b);
                c.SetXmm(1, 7); rig.Ok(0, name);
                Assert.Equal(a, c.GetXmm(1));
                c.SetXmm(1, 7);
                if (aligned) { rig.Faults(ExceptionVector.GP, 1, name); Assert.Equal((UInt128)7, c.GetXmm(1)); }
                else { rig.Ok(1, name); Assert.Equal((a >> 64) | (b << 64), c.GetXmm(1)); }
            }
            if (hasStore)
            {
                rig.W128(SimdRig.Data, 0); rig.W128(SimdRig.Data + 16, 0);
                c.SetXmm(12, a); rig.Ok(2, name);
                Assert.Equal(a, rig.R128(SimdRig.Data));
                rig.W128(SimdRig.Data, 0);
                if (aligned) { rig.Faults(ExceptionVector.GP, 3, name); Assert.Equal((UInt128)0, rig.R128(SimdRig.Data) | rig.R128(SimdRig.Data + 16)); }
                else { rig.Ok(3, name); Assert.Equal(a << 32, rig.R128(SimdRig.Data)); Assert.Equal(a >> 96, rig.R128(SimdRig.Data + 16)); }
            }
            if (reg)
            {
                c.SetXmm(1, b); c.SetXmm(12, a); rig.Ok(4, name);
                Assert.Equal(a, c.GetXmm(1));
                if (hasStore) { c.SetXmm(1, b); rig.Ok(5, name); Assert.Equal(a, c.GetXmm(1)); }
            }
            return true;
        }, 40);
    }

    /// <summary>MOVSS/MOVSD: the register form merges the low element, the load form zeroes the rest, the store writes only the element.</summary>
    [Theory]
    [InlineData(Code.Movss_xmm_xmmm32, Code.Movss_xmmm32_xmm, 4)]
    [InlineData(Code.Movsd_xmm_xmmm64, Code.Movsd_xmmm64_xmm, 8)]
    public void ScalarMoves(Code load, Code store, int sz)
    {
        var rig = new SimdRig(I(load, Register.XMM1, Register.XMM2), I(store, Register.XMM1, Register.XMM2), Mem(load, Register.XMM1, 3),
            Instruction.Create(store, new MemoryOperand(Register.RBX, 3), Register.XMM2));
        var c = rig.Cpu;
        UInt128 m = sz == 4 ? 0xFFFF_FFFFUL : ulong.MaxValue;
        Check(Two, t =>
        {
            var (a, b) = t;
            for (int k = 0; k < 2; k++)
            {
                c.SetXmm(1, a); c.SetXmm(2, b); rig.Ok(k);
                Assert.Equal((a & ~m) | (b & m), c.GetXmm(1));
            }
            rig.W128(SimdRig.Data, b); c.SetXmm(1, a); rig.Ok(2);
            Assert.Equal((b >> 24) & m, c.GetXmm(1));   // unaligned scalar load: no #GP
            rig.W128(SimdRig.Data, a); c.SetXmm(2, b); rig.Ok(3);
            UInt128 window = m << 24;
            Assert.Equal((a & ~window) | ((b << 24) & window), rig.R128(SimdRig.Data));
            return true;
        }, 60);
    }

    /// <summary>MOVLPS/MOVLPD/MOVHPS/MOVHPD (64-bit loads/stores of one half, the other half kept), MOVHLPS, MOVLHPS.</summary>
    [Fact]
    public void HalfMoves()
    {
        var rig = new SimdRig(
            Mem(Code.Movlps_xmm_m64, Register.XMM1, 4), Mem(Code.Movlpd_xmm_m64, Register.XMM1, 4),
            Mem(Code.Movhps_xmm_m64, Register.XMM1, 4), Mem(Code.Movhpd_xmm_m64, Register.XMM1, 4),
            Instruction.Create(Code.Movlps_m64_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM2),
            Instruction.Create(Code.Movlpd_m64_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM2),
            Instruction.Create(Code.Movhps_m64_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM2),
            Instruction.Create(Code.Movhpd_m64_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM2),
            I(Code.Movhlps_xmm_xmm, Register.XMM1, Register.XMM2), I(Code.Movlhps_xmm_xmm, Register.XMM1, Register.XMM2));
        var c = rig.Cpu;
        Check(Two, t =>
        {
            var (a, b) = t;
            UInt128 lo = ulong.MaxValue, hi = lo << 64;
            ulong mem = (ulong)(b >> 32);
            for (int k = 0; k < 4; k++)
            {
                rig.W128(SimdRig.Data, b); c.SetXmm(1, a); rig.Ok(k);
                Assert.Equal(k < 2 ? (a & hi) | mem : (a & lo) | ((UInt128)mem << 64), c.GetXmm(1));
            }
            for (int k = 4; k < 8; k++)
            {
                rig.W128(SimdRig.Data, 0); rig.W128(SimdRig.Data + 16, 0); c.SetXmm(2, a); rig.Ok(k);
                ulong e = k < 6 ? (ulong)a : (ulong)(a >> 64);
                Assert.Equal((UInt128)e << 32, rig.R128(SimdRig.Data));
                Assert.Equal((UInt128)0, rig.R128(SimdRig.Data + 16));
            }
            c.SetXmm(1, a); c.SetXmm(2, b); rig.Ok(8);
            Assert.Equal((a & hi) | (b >> 64), c.GetXmm(1));
            c.SetXmm(1, a); c.SetXmm(2, b); rig.Ok(9);
            Assert.Equal((a & lo) | (b << 64), c.GetXmm(1));
            return true;
        }, 60);
    }

    /// <summary>MOVDDUP (low qword twice; m64 needs no alignment), MOVSLDUP (even dwords), MOVSHDUP (odd dwords).</summary>
    [Fact]
    public void DuplicatingMoves()
    {
        var rig = new SimdRig(I(Code.Movddup_xmm_xmmm64, Register.XMM1, Register.XMM2), Mem(Code.Movddup_xmm_xmmm64, Register.XMM1, 8),
            I(Code.Movsldup_xmm_xmmm128, Register.XMM1, Register.XMM2), I(Code.Movsldup_xmm_xmmm128, Register.XMM1, AtRbx),
            I(Code.Movshdup_xmm_xmmm128, Register.XMM1, Register.XMM2), I(Code.Movshdup_xmm_xmmm128, Register.XMM1, AtRbx),
            Mem(Code.Movshdup_xmm_xmmm128, Register.XMM1, 8));
        var c = rig.Cpu;
        Check(Two, t =>
        {
            var (a, b) = t;
            c.SetXmm(2, b); rig.W128(SimdRig.Data, b); rig.W128(SimdRig.Data + 16, a);
            c.SetXmm(1, a); rig.Ok(0); Assert.Equal(Map(8, 16, i => (long)U(b, 8, 0)), c.GetXmm(1));
            c.SetXmm(1, a); rig.Ok(1); Assert.Equal(Map(8, 16, i => (long)U(b, 8, 1)), c.GetXmm(1));
            for (int k = 2; k < 4; k++) { c.SetXmm(1, a); rig.Ok(k); Assert.Equal(Map(4, 16, i => (long)U(b, 4, i & ~1)), c.GetXmm(1)); }
            for (int k = 4; k < 6; k++) { c.SetXmm(1, a); rig.Ok(k); Assert.Equal(Map(4, 16, i => (long)U(b, 4, i | 1)), c.GetXmm(1)); }
            return true;
        }, 60);
        rig.Faults(ExceptionVector.GP, 6, "movshdup misaligned");
    }

    /// <summary>
    /// MOVD/MOVQ in every form: GPR/memory to MMX (whole register) or XMM (upper bits zeroed), MMX/XMM to
    /// GPR (a 32-bit destination zero-extends into the 64-bit register) or memory (only 4/8 bytes written),
    /// MOVQ between MMX registers/memory, MOVQ xmm,xmm/m64 and xmm/m64,xmm (upper quadword zeroed), MOVQ2DQ, MOVDQ2Q.
    /// </summary>
    [Fact]
    public void MovdMovqAllForms()
    {
        var rig = new SimdRig(
            I(Code.Movd_mm_rm32, Register.MM1, Register.ECX), Mem(Code.Movd_mm_rm32, Register.MM1, 4),            // 0, 1
            I(Code.Movq_mm_rm64, Register.MM1, Register.RCX), Mem(Code.Movq_mm_rm64, Register.MM1, 4),            // 2, 3
            I(Code.Movd_xmm_rm32, Register.XMM9, Register.ECX), Mem(Code.Movd_xmm_rm32, Register.XMM9, 4),        // 4, 5
            I(Code.Movq_xmm_rm64, Register.XMM9, Register.R10), Mem(Code.Movq_xmm_rm64, Register.XMM9, 4),        // 6, 7
            I(Code.Movd_rm32_mm, Register.ECX, Register.MM1), Instruction.Create(Code.Movd_rm32_mm, new MemoryOperand(Register.RBX, 4), Register.MM1), // 8, 9
            I(Code.Movq_rm64_mm, Register.RCX, Register.MM1), Instruction.Create(Code.Movq_rm64_mm, new MemoryOperand(Register.RBX, 4), Register.MM1), // 10, 11
            I(Code.Movd_rm32_xmm, Register.R10D, Register.XMM9), Instruction.Create(Code.Movd_rm32_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM9), // 12, 13
            I(Code.Movq_rm64_xmm, Register.RCX, Register.XMM9), Instruction.Create(Code.Movq_rm64_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM9), // 14, 15
            I(Code.Movq_mm_mmm64, Register.MM1, Register.MM2), Mem(Code.Movq_mm_mmm64, Register.MM1, 4),          // 16, 17
            I(Code.Movq_mmm64_mm, Register.MM1, Register.MM2), Instruction.Create(Code.Movq_mmm64_mm, new MemoryOperand(Register.RBX, 4), Register.MM2), // 18, 19
            I(Code.Movq_xmm_xmmm64, Register.XMM1, Register.XMM9), Mem(Code.Movq_xmm_xmmm64, Register.XMM1, 4),  // 20, 21
            I(Code.Movq_xmmm64_xmm, Register.XMM1, Register.XMM9), Instruction.Create(Code.Movq_xmmm64_xmm, new MemoryOperand(Register.RBX, 4), Register.XMM9), // 22, 23
            I(Code.Movq2dq_xmm_mm, Register.XMM1, Register.MM2), I(Code.Movdq2q_mm_xmm, Register.MM1, Register.XMM9)); // 24, 25
        var c = rig.Cpu;
        Check(Gen.Zip(Two, Lane, (p, g) => (p.Item1, p.Item2, g)), t =>
        {
            var (a, b, g) = t;
            ulong ml = (ulong)b, mem = (ulong)(b >> 32);
            void Reset() { rig.W128(SimdRig.Data, b); rig.W128(SimdRig.Data + 16, 0); c[Gpr.Rcx] = g; c[Gpr.R10] = g; rig.SetMm(1, (ulong)a); rig.SetMm(2, ml); c.SetXmm(9, a); c.SetXmm(1, a); }
            Reset(); rig.Ok(0); Assert.Equal((ulong)(uint)g, rig.Mm(1)); Assert.Equal(0xFFFF, rig.MmExp(1));
            Reset(); rig.Ok(1); Assert.Equal((ulong)(uint)mem, rig.Mm(1));
            Reset(); rig.Ok(2); Assert.Equal(g, rig.Mm(1));
            Reset(); rig.Ok(3); Assert.Equal(mem, rig.Mm(1));
            Reset(); rig.Ok(4); Assert.Equal((UInt128)(uint)g, c.GetXmm(9));
            Reset(); rig.Ok(5); Assert.Equal((UInt128)(uint)mem, c.GetXmm(9));
            Reset(); rig.Ok(6); Assert.Equal((UInt128)g, c.GetXmm(9));
            Reset(); rig.Ok(7); Assert.Equal((UInt128)mem, c.GetXmm(9));
            Reset(); rig.Ok(8); Assert.Equal((ulong)(uint)a, c[Gpr.Rcx]);
            Reset(); rig.Ok(9); Assert.Equal((b & ~((UInt128)0xFFFF_FFFFUL << 32)) | ((UInt128)(uint)a << 32), rig.R128(SimdRig.Data));
            Reset(); rig.Ok(10); Assert.Equal((ulong)a, c[Gpr.Rcx]);
            Reset(); rig.Ok(11); Assert.Equal((b & ~((UInt128)ulong.MaxValue << 32)) | ((UInt128)(ulong)a << 32), rig.R128(SimdRig.Data));
            Reset(); rig.Ok(12); Assert.Equal((ulong)(uint)a, c[Gpr.R10]);
            Reset(); rig.Ok(13); Assert.Equal((b & ~((UInt128)0xFFFF_FFFFUL << 32)) | ((UInt128)(uint)a << 32), rig.R128(SimdRig.Data));
            Reset(); rig.Ok(14); Assert.Equal((ulong)a, c[Gpr.Rcx]);
            Reset(); rig.Ok(15); Assert.Equal((b & ~((UInt128)ulong.MaxValue << 32)) | ((UInt128)(ulong)a << 32), rig.R128(SimdRig.Data));
            Reset(); rig.Ok(16); Assert.Equal(ml, rig.Mm(1));
            Reset(); rig.Ok(17); Assert.Equal(mem, rig.Mm(1));
            Reset(); rig.Ok(18); Assert.Equal(ml, rig.Mm(1));
            Reset(); rig.Ok(19); Assert.Equal((b & ~((UInt128)ulong.MaxValue << 32)) | ((UInt128)ml << 32), rig.R128(SimdRig.Data));
            Reset(); rig.Ok(20); Assert.Equal((UInt128)(ulong)a, c.GetXmm(1));
            Reset(); rig.Ok(21); Assert.Equal((UInt128)mem, c.GetXmm(1));
            Reset(); c.SetXmm(1, b); rig.Ok(22); Assert.Equal((UInt128)(ulong)a, c.GetXmm(1));
            Reset(); rig.Ok(23); Assert.Equal((b & ~((UInt128)ulong.MaxValue << 32)) | ((UInt128)(ulong)a << 32), rig.R128(SimdRig.Data));
            Reset(); c.FpuStatusWord = 5 << 11; c.FpuAbridgedTag = 0; rig.Ok(24);
            Assert.Equal((UInt128)ml, c.GetXmm(1)); Assert.Equal(0, (c.FpuStatusWord >> 11) & 7); Assert.Equal(0xFF, c.FpuAbridgedTag);
            Reset(); c.FpuStatusWord = 5 << 11; c.FpuAbridgedTag = 0; rig.Ok(25);
            Assert.Equal((ulong)a, rig.Mm(1)); Assert.Equal(0xFFFF, rig.MmExp(1)); Assert.Equal(0, (c.FpuStatusWord >> 11) & 7); Assert.Equal(0xFF, c.FpuAbridgedTag);
            return true;
        }, 60);
    }

    /// <summary>MASKMOVQ/MASKMOVDQU: exactly the bytes whose mask byte has bit 7 set are stored at DS:[RDI] (also with a 32-bit address and an FS override).</summary>
    [Fact]
    public void MaskedStores()
    {
        var q = Instruction.CreateMaskmovq(64, Register.MM1, Register.MM2);
        var dq = Instruction.CreateMaskmovdqu(64, Register.XMM1, Register.XMM12);
        var dq32 = Instruction.CreateMaskmovdqu(32, Register.XMM1, Register.XMM12, Register.FS);
        var rig = new SimdRig(q, dq, dq32);
        var c = rig.Cpu;
        Check(Gen.Zip(Two, V128, (p, mk) => (p.Item1, p.Item2, mk)), t =>
        {
            var (data, before, mask) = t;
            UInt128 sel = Map(1, 16, i => (U(mask, 1, i) & 0x80) != 0 ? 0xFF : 0);
            // MASKMOVQ at an odd address
            c[Gpr.Rdi] = SimdRig.Data + 3; rig.W128(SimdRig.Data, 0); rig.W128(SimdRig.Data + 3, before);
            rig.SetMm(1, (ulong)data); rig.SetMm(2, (ulong)mask); rig.Ok(0, "maskmovq");
            UInt128 s8 = sel & ulong.MaxValue;
            Assert.Equal((before & ~s8) | (data & s8), rig.R128(SimdRig.Data + 3));
            // MASKMOVDQU
            c[Gpr.Rdi] = SimdRig.Data + 5; rig.W128(SimdRig.Data + 5, before);
            c.SetXmm(1, data); c.SetXmm(12, mask); rig.Ok(1, "maskmovdqu");
            Assert.Equal((before & ~sel) | (data & sel), rig.R128(SimdRig.Data + 5));
            // 32-bit address (upper RDI bits ignored) relative to FS
            c.SetSegment(SegmentRegister.Fs, c.GetSegment(SegmentRegister.Fs) with { Base = 0x100 });
            c[Gpr.Rdi] = 0xFFFF_FFFF_0000_0000UL | (SimdRig.Data - 0x100 + 7); rig.W128(SimdRig.Data + 7, before); rig.Ok(2, "maskmovdqu a32");
            Assert.Equal((before & ~sel) | (data & sel), rig.R128(SimdRig.Data + 7));
            return true;
        }, 60);
    }

    public static TheoryData<string, Code, int> MaskCodes => new()
    {
        { "movmskps r32", Code.Movmskps_r32_xmm, 4 }, { "movmskps r64", Code.Movmskps_r64_xmm, 4 },
        { "movmskpd r32", Code.Movmskpd_r32_xmm, 8 }, { "movmskpd r64", Code.Movmskpd_r64_xmm, 8 },
        { "pmovmskb r32", Code.Pmovmskb_r32_xmm, 1 }, { "pmovmskb r64", Code.Pmovmskb_r64_xmm, 1 },
        { "pmovmskb r32 mm", Code.Pmovmskb_r32_mm, 1 }, { "pmovmskb r64 mm", Code.Pmovmskb_r64_mm, 1 },
    };

    /// <summary>MOVMSKPS/MOVMSKPD/PMOVMSKB: element sign bits packed into the GPR, all higher bits of the 64-bit register cleared.</summary>
    [Theory]
    [MemberData(nameof(MaskCodes))]
    public void SignMasks(string name, Code code, int sz)
    {
        bool mm = name.EndsWith("mm", StringComparison.Ordinal), r64 = name.Contains("r64", StringComparison.Ordinal);
        var rig = new SimdRig(I(code, r64 ? Register.R9 : Register.R9D, mm ? Register.MM3 : Register.XMM11));
        var c = rig.Cpu;
        Check(V128, v =>
        {
            int w = mm ? 8 : 16;
            ulong e = 0;
            for (int i = 0; i < w / sz; i++) if (S(v, sz, i) < 0) e |= 1UL << i;
            c[Gpr.R9] = ulong.MaxValue; c.SetXmm(11, v); rig.SetMm(3, (ulong)v);
            rig.Ok(0, name);
            Assert.Equal(e, c[Gpr.R9]);
            return true;
        }, 100);
    }

    public static TheoryData<string, Code, int, bool> Inserts => new()
    {
        // name, code, element size, MMX
        { "pinsrb r32", Code.Pinsrb_xmm_r32m8_imm8, 1, false }, { "pinsrb r64", Code.Pinsrb_xmm_r64m8_imm8, 1, false },
        { "pinsrw r32", Code.Pinsrw_xmm_r32m16_imm8, 2, false }, { "pinsrw r64", Code.Pinsrw_xmm_r64m16_imm8, 2, false },
        { "pinsrw mm r32", Code.Pinsrw_mm_r32m16_imm8, 2, true }, { "pinsrw mm r64", Code.Pinsrw_mm_r64m16_imm8, 2, true },
        { "pinsrd", Code.Pinsrd_xmm_rm32_imm8, 4, false }, { "pinsrq", Code.Pinsrq_xmm_rm64_imm8, 8, false },
    };

    /// <summary>PINSRB/W/D/Q for every imm8 (index = imm8 modulo the element count), from a GPR and from memory.</summary>
    [Theory]
    [MemberData(nameof(Inserts))]
    public void InsertEveryImm8(string name, Code code, int sz, bool mm)
    {
        Register gpr = name.Contains("r64", StringComparison.Ordinal) || sz == 8 ? Register.R8 : Register.R8D;
        Register v = mm ? Register.MM5 : Register.XMM13;
        var ins = new List<Instruction>();
        for (int m = 0; m < 256; m++) { ins.Add(I(code, v, gpr, m)); ins.Add(Instruction.Create(code, v, new MemoryOperand(Register.RBX, 1), m)); }
        var rig = new SimdRig(ins.ToArray());
        var c = rig.Cpu;
        Check(Gen.Zip(Two, Lane, (p, g) => (p.Item1, p.Item2, g)), t =>
        {
            var (a, b, g) = t;
            int w = mm ? 8 : 16, n = w / sz;
            rig.W128(SimdRig.Data + 1, b);
            for (int m = 0; m < 256; m++)
            {
                for (int form = 0; form < 2; form++)
                {
                    ulong val = form == 0 ? g & Mask(sz) : U(b, sz, 0);
                    UInt128 e = Map(sz, w, i => i == (m % n) ? (long)val : (long)U(a, sz, i));
                    c[Gpr.R8] = g; c.SetXmm(13, a); rig.SetMm(5, (ulong)a);
                    rig.Ok(2 * m + form, name);
                    UInt128 got = mm ? rig.Mm(5) : c.GetXmm(13);
                    Assert.True(e == got, $"{name} imm8={m:X2} form={form}: got {Hex(got)}, expected {Hex(e)}");
                }
            }
            return true;
        }, 8);
    }

    public static TheoryData<string, Code, int, bool, bool> Extracts => new()
    {
        // name, code, element size, MMX, has memory form
        { "pextrb r32", Code.Pextrb_r32m8_xmm_imm8, 1, false, true }, { "pextrb r64", Code.Pextrb_r64m8_xmm_imm8, 1, false, true },
        { "pextrw r32 (0F C5)", Code.Pextrw_r32_xmm_imm8, 2, false, false }, { "pextrw r64 (0F C5)", Code.Pextrw_r64_xmm_imm8, 2, false, false },
        { "pextrw r32 mm", Code.Pextrw_r32_mm_imm8, 2, true, false }, { "pextrw r64 mm", Code.Pextrw_r64_mm_imm8, 2, true, false },
        { "pextrw r32 (0F3A 15)", Code.Pextrw_r32m16_xmm_imm8, 2, false, true }, { "pextrw r64 (0F3A 15)", Code.Pextrw_r64m16_xmm_imm8, 2, false, true },
        { "pextrd", Code.Pextrd_rm32_xmm_imm8, 4, false, true }, { "pextrq", Code.Pextrq_rm64_xmm_imm8, 8, false, true },
        { "extractps r32", Code.Extractps_rm32_xmm_imm8, 4, false, true }, { "extractps r64", Code.Extractps_r64m32_xmm_imm8, 4, false, false },
    };

    /// <summary>PEXTRB/W/D/Q and EXTRACTPS for every imm8: to a GPR (zero-extended into all 64 bits) or to memory (only the element's bytes written).</summary>
    [Theory]
    [MemberData(nameof(Extracts))]
    public void ExtractEveryImm8(string name, Code code, int sz, bool mm, bool memForm)
    {
        Register gpr = name.Contains("r64", StringComparison.Ordinal) || sz == 8 ? Register.R11 : Register.R11D;
        Register v = mm ? Register.MM6 : Register.XMM14;
        var ins = new List<Instruction>();
        for (int m = 0; m < 256; m++)
        {
            ins.Add(I(code, gpr, v, m));
            ins.Add(memForm ? Instruction.Create(code, new MemoryOperand(Register.RBX, 3), v, m) : Instruction.Create(Code.Nopd));
        }
        var rig = new SimdRig(ins.ToArray());
        var c = rig.Cpu;
        Check(Two, t =>
        {
            var (a, b) = t;
            int w = mm ? 8 : 16, n = w / sz;
            for (int m = 0; m < 256; m++)
            {
                ulong e = U(a, sz, m % n);
                c[Gpr.R11] = ulong.MaxValue; c.SetXmm(14, a); rig.SetMm(6, (ulong)a);
                rig.Ok(2 * m, name);
                Assert.True(e == c[Gpr.R11], $"{name} imm8={m:X2}: got {c[Gpr.R11]:X}, expected {e:X}");
                if (memForm)
                {
                    rig.W128(SimdRig.Data, b); rig.Ok(2 * m + 1, name);
                    UInt128 window = (UInt128)Mask(sz) << 24;
                    Assert.Equal((b & ~window) | ((UInt128)e << 24), rig.R128(SimdRig.Data));
                }
            }
            return true;
        }, 8);
    }
}
