using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Simd.SseFloatHarness;

namespace Vtx.Tests.Simd;

/// <summary>
/// CMPPS/CMPPD/CMPSS/CMPSD (predicates 0-7, quiet or signaling; SDM Vol. 2, CMPPS Table 3-1) and
/// COMISS/COMISD/UCOMISS/UCOMISD (ZF, PF, CF; OF, SF, AF cleared) against the model.
/// </summary>
public class SseFloatCompareTests
{
    private const ulong CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;

    /// <summary>The predicate table of the SDM for imm8[2:0]: (holds for less, equal, greater, unordered; signaling).</summary>
    private static readonly (bool Lt, bool Eq, bool Gt, bool Un, bool Signaling)[] Predicates =
    {
        (false, true, false, false, false), // EQ_OQ
        (true, false, false, false, true),  // LT_OS
        (true, true, false, false, true),   // LE_OS
        (false, false, false, true, false), // UNORD_Q
        (true, false, true, true, false),   // NEQ_UQ
        (false, true, true, true, true),    // NLT_US
        (false, false, true, true, true),   // NLE_US
        (true, true, true, false, false),   // ORD_Q
    };

    private static bool Holds(int imm, FpCompare r)
    {
        var p = Predicates[imm & 7];
        return r switch { FpCompare.Less => p.Lt, FpCompare.Equal => p.Eq, FpCompare.Greater => p.Gt, _ => p.Un };
    }

    [Property(MaxTest = 300)]
    public Property CmpMatchesThePredicateTable() => Prop.ForAll(Arb.From(
        from kind in Gen.Choose(0, 3)
        from mem in Gen.Elements(false, true)
        from imm in Gen.Frequency((4, Gen.Choose(0, 7)), (1, Gen.Choose(8, 255)))
        from d in kind is 0 or 2 ? Vec32 : Vec64
        from s in kind is 0 or 2 ? Vec32 : Vec64
        from x in AnyMxcsr
        select (kind, mem, imm, d, s, x)), t =>
    {
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        bool signaling = Predicates[t.imm & 7].Signaling;
        byte ib = (byte)t.imm;
        Action<Assembler> insn = (t.kind, t.mem) switch
        {
            (0, false) => a => a.cmpps(xmm1, xmm2, ib),
            (0, true) => a => a.cmpps(xmm1, __[rax], ib),
            (1, false) => a => a.cmppd(xmm1, xmm2, ib),
            (1, true) => a => a.cmppd(xmm1, __[rax], ib),
            (2, false) => a => a.cmpss(xmm1, xmm2, ib),
            (2, true) => a => a.cmpss(xmm1, __[rax], ib),
            (3, false) => a => a.cmpsd(xmm1, xmm2, ib),
            _ => a => a.cmpsd(xmm1, __[rax], ib),
        };
        bool single = t.kind is 0 or 2;
        int lanes = t.kind switch { 0 => 4, 1 => 2, _ => 1 };
        UInt128 exp = t.d;
        FpExceptions flags = 0;
        for (int k = 0; k < lanes; k++)
        {
            var f = single ? SseFloatFormat.F32 : SseFloatFormat.F64;
            int w = single ? 32 : 64;
            UInt128 laneMask = (single ? (UInt128)0xFFFF_FFFFu : ulong.MaxValue) << (w * k);
            ulong a = single ? Lane32(t.d, k) : Lane64(t.d, k), b = single ? Lane32(t.s, k) : Lane64(t.s, k);
            var r = SseFloatModel.Compare(f, a, b, !signaling, c, out var fl);
            flags |= fl;
            exp = (exp & ~laneMask) | (Holds(t.imm, r) ? laneMask : 0);
        }
        SseFloatArithmeticTests.Verify(Code($"cmp{t.kind}{t.mem}{t.imm}", insn), t.mem, t.d, t.s, t.x, exp, flags, $"cmp{t.kind} imm={t.imm} {t.d:X32}, {t.s:X32} mxcsr={t.x:X4}");
    });

    [Fact]
    public void QuietPredicatesIgnoreQNaNsAndSignalingOnesDoNot()
    {
        foreach (var (imm, ie) in new[] { (0, false), (1, true), (2, true), (3, false), (4, false), (5, true), (6, true), (7, false), (11, false), (9, true) })
        {
            var (m, r) = Exec(Code(a => a.cmpss(xmm1, xmm2, (byte)imm)), mm => { mm.Cpu.SetXmm(1, 0x3F80_0000); mm.Cpu.SetXmm(2, 0x7FC0_0000); });
            AssertRetired(r);
            Assert.Equal(ie ? 0x1F81u : 0x1F80u, m.Cpu.Mxcsr);
            bool holds = (imm & 7) is 3 or 4 or 5 or 6; // unordered: UNORD, NEQ, NLT, NLE hold
            Assert.Equal(holds ? 0xFFFF_FFFFu : 0u, (uint)m.Cpu.GetXmm(1));
        }
        // An SNaN raises IE for the quiet predicates too.
        var (m2, r2) = Exec(Code(a => a.cmpss(xmm1, xmm2, 0)), mm => { mm.Cpu.SetXmm(1, 0x3F80_0000); mm.Cpu.SetXmm(2, 0x7F80_0001); });
        AssertRetired(r2);
        Assert.Equal(0x1F81u, m2.Cpu.Mxcsr);
    }

    [Fact]
    public void IcedDecodesLegacyCmpWithAnImm8AboveSeven()
    {
        // 0F C2 /r ib with ib = 0Dh: a legacy CMPPS whose reserved bits 7:3 are set; imm8[2:0] = 5 (NLT).
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(new byte[] { 0x0F, 0xC2, 0xCA, 0x0D }));
        var ins = decoder.Decode();
        Assert.Equal(Iced.Intel.Code.Cmpps_xmm_xmmm128_imm8, ins.Code);
        Assert.Equal(0x0Du, ins.Immediate8);
    }

    // ------------------------------------------------------------------ COMIS / UCOMIS

    private static ulong ComisFlags(FpCompare r) => r switch
    {
        FpCompare.Unordered => ZF | PF | CF,
        FpCompare.Less => CF,
        FpCompare.Equal => ZF,
        _ => 0,
    };

    [Property(MaxTest = 300)]
    public Property ComisMatchesTheModel() => Prop.ForAll(Arb.From(
        from kind in Gen.Choose(0, 3)
        from mem in Gen.Elements(false, true)
        from d in kind < 2 ? Vec32 : Vec64
        from s in kind < 2 ? Vec32 : Vec64
        from x in AnyMxcsr
        from fl in Gen.Choose(0, 0xFFF)
        select (kind, mem, d, s, x, fl)), t =>
    {
        Action<Assembler> insn = (t.kind, t.mem) switch
        {
            (0, false) => a => a.comiss(xmm1, xmm2),
            (0, true) => a => a.comiss(xmm1, __[rax]),
            (1, false) => a => a.ucomiss(xmm1, xmm2),
            (1, true) => a => a.ucomiss(xmm1, __[rax]),
            (2, false) => a => a.comisd(xmm1, xmm2),
            (2, true) => a => a.comisd(xmm1, __[rax]),
            (3, false) => a => a.ucomisd(xmm1, xmm2),
            _ => a => a.ucomisd(xmm1, __[rax]),
        };
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        bool quiet = t.kind is 1 or 3;
        var r = t.kind < 2
            ? SseFloatModel.Compare(SseFloatFormat.F32, Lane32(t.d, 0), Lane32(t.s, 0), quiet, c, out var flags)
            : SseFloatModel.Compare(SseFloatFormat.F64, Lane64(t.d, 0), Lane64(t.s, 0), quiet, c, out flags);
        ulong rflagsIn = 2 | ((ulong)t.fl & 0x8D5);
        var (m, res) = Exec(Code($"comis{t.kind}{t.mem}", insn), mm =>
        {
            mm.Cpu.SetXmm(1, t.d); mm.Cpu.SetXmm(2, t.s); mm.Cpu.Mxcsr = t.x; mm.WriteMemory(Data, Bytes(t.s));
            mm.Cpu.Rflags = rflagsIn;
        });
        var (mx, faults) = Outcome(t.x, flags);
        Assert.Equal(mx, m.Cpu.Mxcsr);
        Assert.Equal(t.d, m.Cpu.GetXmm(1));
        if (faults)
        {
            AssertFault(res, ExceptionVector.XM);
            Assert.Equal(rflagsIn, m.Cpu.Rflags);
        }
        else
        {
            AssertRetired(res);
            const ulong status = CF | PF | AF | ZF | SF | OF;
            Assert.Equal((rflagsIn & ~status) | ComisFlags(r), m.Cpu.Rflags);
        }
    });

    [Fact]
    public void ComissSetsZfPfCfAndClearsOfSfAf()
    {
        const uint one = 0x3F80_0000, two = 0x4000_0000, qnan = 0x7FC0_0000;
        foreach (var (a, b, expected) in new[] { (one, two, CF), (two, one, 0UL), (one, one, ZF), (0u, 0x8000_0000u, ZF), (qnan, one, ZF | PF | CF), (0xFF80_0000u, 0x7F80_0000u, CF) })
        {
            var (m, r) = Exec(Code(x => x.comiss(xmm1, xmm2)), mm => { mm.Cpu.SetXmm(1, a); mm.Cpu.SetXmm(2, b); mm.Cpu.Rflags = 2 | OF | SF | AF | ZF | PF | CF; });
            AssertRetired(r);
            Assert.Equal(2 | expected, m.Cpu.Rflags);
        }
    }

    [Fact]
    public void UcomissSignalsOnlySNaNsComissAnyNaN()
    {
        foreach (var (ucomis, b, ie) in new[] { (true, 0x7FC0_0000u, false), (true, 0x7F80_0001u, true), (false, 0x7FC0_0000u, true), (false, 0x7F80_0001u, true) })
        {
            Action<Assembler> insn = ucomis ? a => a.ucomiss(xmm1, xmm2) : a => a.comiss(xmm1, xmm2);
            var (m, r) = Exec(Code(insn), mm => { mm.Cpu.SetXmm(1, 0x3F80_0000); mm.Cpu.SetXmm(2, b); });
            AssertRetired(r);
            Assert.Equal(ie ? 0x1F81u : 0x1F80u, m.Cpu.Mxcsr);
            Assert.Equal(2 | ZF | PF | CF, m.Cpu.Rflags);
        }
    }
}
