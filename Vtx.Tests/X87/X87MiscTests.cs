using System.Numerics;
using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// The stack effects and condition codes of the transcendental and special instructions (SDM
/// Vol. 2A pages): FPTAN pushes +1.0, FSINCOS leaves the cosine on top, FSIN/FCOS/FPTAN set C2 and
/// change nothing for |x| &gt;= 2^63, FPATAN/FYL2X/FYL2XP1 pop; FSCALE, FXTRACT, FPREM/FPREM1 (C0, C3,
/// C1 = quotient bits 2, 1, 0; C2 = incomplete), FRNDINT; FNOP's pointers; FENI/FDISI/FSETPM as no-ops.
/// Values are exact cases (or within two binary64 ulps of the host's libm for the rounded ones).
/// </summary>
public class X87MiscTests
{
    private static Float80 F(double d)
    {
        var (n, den) = Exact(d);
        return n.IsZero ? new Float80(0, d < 0 || double.IsNegative(d) ? (ushort)0x8000 : (ushort)0) : Round(n, den, 64, 0, out _, out _);
    }

    private static double ToDouble(Float80 v)
    {
        var (n, d) = Exact(v);
        return (double)n / (double)d;
    }

    private static Machine Unary(Action<Assembler> op, params double[] values) =>
        Exec(a => { for (int i = 0; i < values.Length; i++) a.fld(__tword_ptr[rbx + 16 * i]); op(a); },
             m => { for (int i = 0; i < values.Length; i++) WriteF80(m, Data + 16 * (ulong)i, F(values[i])); });

    [Fact]
    public void FptanPushesOneAndFsincosLeavesTheCosineOnTop()
    {
        var m = Unary(a => a.fptan(), 0.0);
        Assert.Equal(6, Top(m.Cpu));
        Assert.Equal(One, St(m.Cpu, 0));
        Assert.Equal(F(0.0), St(m.Cpu, 1));
        Assert.Equal(0, m.Cpu.FpuStatusWord & (0x3F | C2));

        m = Unary(a => a.fptan(), 0.5);
        Assert.Equal(One, St(m.Cpu, 0));
        Assert.InRange(Math.Abs(ToDouble(St(m.Cpu, 1)) - Math.Tan(0.5)), 0, 2 * Math.BitIncrement(Math.Tan(0.5)) - 2 * Math.Tan(0.5));

        m = Unary(a => a.fsincos(), 0.0);
        Assert.Equal(6, Top(m.Cpu));
        Assert.Equal(One, St(m.Cpu, 0));       // cos 0
        Assert.Equal(F(0.0), St(m.Cpu, 1));    // sin 0
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ArgumentsOf2To63AndAboveSetC2AndChangeNothing(int which)
    {
        double big = Math.Pow(2, 63);
        Action<Assembler>[] ops = [a => a.fsin(), a => a.fcos(), a => a.fptan(), a => a.fsincos()];
        var m = Unary(ops[which], -big);
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(F(-big), St(m.Cpu, 0));
        Assert.Equal(C2, m.Cpu.FpuStatusWord & (0x3F | C2));

        m = Unary(ops[which], 1.0);                     // in range: C2 cleared
        Assert.Equal(0, m.Cpu.FpuStatusWord & C2);
    }

    [Fact]
    public void FpatanFyl2xFyl2xp1PopAndF2xm1IsExactAtTheEnds()
    {
        var m = Unary(a => a.fyl2x(), 3.0, 8.0);      // ST(1) = 3, ST(0) = 8: 3 * log2 8 = 9
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(F(9.0), St(m.Cpu, 0));
        Assert.Equal(0, m.Cpu.FpuStatusWord & 0x3F);

        m = Unary(a => a.fyl2xp1(), 5.0, 0.0);        // 5 * log2(0 + 1) = +0
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(F(0.0), St(m.Cpu, 0));

        m = Unary(a => a.fpatan(), 1.0, 1.0);         // atan(1/1) = pi/4
        Assert.Equal(7, Top(m.Cpu));
        Assert.InRange(Math.Abs(ToDouble(St(m.Cpu, 0)) - Math.PI / 4), 0, 1e-15);
        Assert.Equal(PE, m.Cpu.FpuStatusWord & 0x3F);

        m = Unary(a => a.f2xm1(), 1.0);
        Assert.Equal(One, St(m.Cpu, 0));
        m = Unary(a => a.f2xm1(), -1.0);
        Assert.Equal(F(-0.5), St(m.Cpu, 0));
    }

    [Fact]
    public void FscaleAndFxtract()
    {
        var m = Unary(a => a.fscale(), 3.7, 1.25);    // ST(1) = 3.7, ST(0) = 1.25: 1.25 * 2^3 = 10
        Assert.Equal(F(10.0), St(m.Cpu, 0));
        Assert.Equal(6, Top(m.Cpu));

        m = Unary(a => a.fxtract(), 12.0);
        Assert.Equal(6, Top(m.Cpu));
        Assert.Equal(F(1.5), St(m.Cpu, 0));
        Assert.Equal(F(3.0), St(m.Cpu, 1));

        m = Unary(a => a.fxtract(), -0.0);            // ZE; masked: ST(1) = -inf, ST(0) = the zero
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 0xFFFF), St(m.Cpu, 1));
        Assert.Equal(F(-0.0), St(m.Cpu, 0));
        Assert.Equal(ZE, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Theory]
    [InlineData(false, 10.0, 3.0, 1.0, 3)]
    [InlineData(false, -10.0, 3.0, -1.0, 3)]
    [InlineData(true, 11.0, 3.0, -1.0, 4)]
    [InlineData(false, 11.0, 3.0, 2.0, 3)]
    [InlineData(true, 21.0, 2.0, 1.0, 10)]          // quotient 10 = 1010b: low bits 010
    public void FpremReportsTheQuotientBits(bool ieee, double a, double b, double rem, int q)
    {
        var m = Unary(x => { if (ieee) x.fprem1(); else x.fprem(); }, b, a);
        Assert.Equal(F(rem), St(m.Cpu, 0));
        ushort cc = (ushort)(((q & 4) != 0 ? C0 : 0) | ((q & 2) != 0 ? C3 : 0) | ((q & 1) != 0 ? C1 : 0));
        Assert.Equal(cc, m.Cpu.FpuStatusWord & (C0 | C1 | C2 | C3));
    }

    [Fact]
    public void FpremOfAHugeRatioIsIncomplete()
    {
        var m = Unary(x => x.fprem(), 3.0, Math.Pow(2, 200));
        Assert.Equal(C2, m.Cpu.FpuStatusWord & C2);
    }

    [Theory]
    [InlineData(2.5, 0, 2.0, 0)]
    [InlineData(3.5, 0, 4.0, C1)]
    [InlineData(-2.5, 1, -3.0, C1)]
    [InlineData(2.1, 2, 3.0, C1)]
    [InlineData(-2.9, 3, -2.0, 0)]
    public void FrndintRoundsPerRc(double v, int rc, double expected, ushort c1)
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 0x20]); a.fld(__tword_ptr[rbx]); a.frndint(); },
                     m => { WriteF80(m, Data, F(v)); W16(m, Data + 0x20, (ushort)(0x037F | rc << 10)); });
        Assert.Equal(F(expected), St(m.Cpu, 0));
        Assert.Equal(PE | c1, m.Cpu.FpuStatusWord & (0x3F | C1));
    }

    [Fact]
    public void FnopIsANonControlInstructionForThePointers()
    {
        var p = new X87Program();
        p.A.fld1();
        p.Mark("nop");
        p.A.fnop();
        p.A.fnstenv(__[rbx]);
        p.A.hlt();
        var m = p.Load();
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal((uint)p["nop"], R32(m, Data + 12));
        Assert.Equal((ushort)0x1D0, R16(m, Data + 18) & 0x7FF);   // D9 D0
    }

    [Fact]
    public void ReservedStpAliasStoresAndPops()
    {
        // D9 D9: FSTP ST(1) through the reserved D9 D8+i encoding.
        var m = Exec(a => { a.fldz(); a.fld1(); a.db(0xD9, 0xD9); });
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(One, St(m.Cpu, 0));
    }

    [Fact]
    public void LegacyControlOpcodesAreNoOpsThatStillNeedTheFpu()
    {
        var m = Exec(a => { a.fld1(); a.db(0xDB, 0xE0, 0xDB, 0xE1, 0xDB, 0xE4, 0x9B, 0xDB, 0xE0); });   // FNENI, FNDISI, FNSETPM, FENI
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(0, m.Cpu.FpuStatusWord & 0xFF);
        Assert.Equal(0x037F, m.Cpu.FpuControlWord);

        var n = Load(a => a.db(0xDB, 0xE4), m => m.Cpu.Cr0Value |= Cr0.TS);
        Assert.Equal(new FaultInfo(ExceptionVector.NM, null), n.Run(RunLimits.Instructions(5)).Fault);
    }
}

/// <summary>Operand-priority rules (SDM Vol. 1, 4.9.2 and Table 4-7) where a memory operand meets a special ST(0).</summary>
public class X87PriorityTests
{
    [Fact]
    public void SnanInMemoryAgainstAQnanOnTheStackYieldsTheQnan()
    {
        var qnan = new Float80(0xC000_0000_0000_0000, 0xFFFF);
        var m = Exec(a => { a.fld(__tword_ptr[rbx]); a.fsubr(__qword_ptr[rbx + 0x10]); a.fld(__tword_ptr[rbx]); a.fdivr(__dword_ptr[rbx + 0x18]); },
                     m => { WriteF80(m, Data, qnan); W64(m, Data + 0x10, 0x7FF3_E6C3_3661_B000); W32(m, Data + 0x18, 0x7FB4_0C76); });
        Assert.Equal(qnan, St(m.Cpu, 0));
        Assert.Equal(qnan, St(m.Cpu, 1));
        Assert.Equal(IE, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Fact]
    public void InvalidOperationOutranksTheDenormalOperand()
    {
        var unsupported = new Float80(0x4000_0000_0000_0000, 0x3FFF);   // unnormal
        var m = Exec(a => { a.fld(__tword_ptr[rbx]); a.fdiv(__qword_ptr[rbx + 0x10]); a.fld(__tword_ptr[rbx]); a.fcomp(__dword_ptr[rbx + 0x18]); },
                     m => { WriteF80(m, Data, unsupported); W64(m, Data + 0x10, 1); W32(m, Data + 0x18, 1); });
        Assert.Equal(IE, m.Cpu.FpuStatusWord & 0x3F);

        m = Exec(a => { a.fld1(); a.fadd(__qword_ptr[rbx + 0x10]); }, m => W64(m, Data + 0x10, 1));
        Assert.Equal(DE | PE, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void StackUnderflowClearsC2OfTheRangeReportingInstructions(int which)
    {
        Action<Iced.Intel.Assembler>[] ops = [a => a.fsin(), a => a.fptan(), a => a.fprem()];
        var m = Exec(a => ops[which](a), m => m.Cpu.FpuStatusWord = C2);
        Assert.Equal(IE | SF, m.Cpu.FpuStatusWord & (0x3F | SF | C2));
    }
}
