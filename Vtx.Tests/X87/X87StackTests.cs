using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// The register stack, tags and stack faults (SDM Vol. 1, 8.1.2, 8.1.7, 8.5.1.1): pushes and pops,
/// overflow/underflow with their masked responses (QNaN indefinite, integer/BCD indefinite stored),
/// C1 = 1 on overflow and 0 on underflow, FXCH, FCMOVcc, FFREE, FINCSTP/FDECSTP and FXAM.
/// </summary>
public class X87StackTests
{
    [Fact]
    public void PushesDecrementTopAndTagRegistersValid()
    {
        var m = Exec(a => { a.fld1(); a.fldz(); });
        var c = m.Cpu;
        Assert.Equal(6, Top(c));
        Assert.Equal(new Float80(0, 0), St(c, 0));
        Assert.Equal(One, St(c, 1));
        Assert.Equal(0b1100_0000, c.FpuAbridgedTag);   // R6 and R7 valid
        Assert.Equal(0, c.FpuStatusWord & 0x3F);
    }

    [Fact]
    public void MaskedStackOverflowPushesTheIndefiniteAndSetsC1()
    {
        var m = Exec(a => { for (int i = 0; i < 9; i++) a.fld1(); });
        var c = m.Cpu;
        Assert.Equal(7, Top(c));                        // the ninth push still decrements TOP
        Assert.Equal(Indefinite, St(c, 0));
        Assert.Equal(IE | SF | C1, c.FpuStatusWord & (0x3F | SF | ES | C1 | B));
    }

    [Fact]
    public void UnmaskedStackOverflowChangesNothingButTheFlags()
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx]); for (int i = 0; i < 9; i++) a.fld1(); },
                    m => W16(m, Data, 0x037E));        // IM = 0
        var c = m.Cpu;
        Assert.Equal(0, Top(c));
        Assert.Equal(One, St(c, 0));
        Assert.Equal(IE | SF | C1 | ES | B, c.FpuStatusWord & (0x3F | SF | ES | C1 | B));
        Assert.Equal(0xFF, c.FpuAbridgedTag);
    }

    [Fact]
    public void MaskedUnderflowOfARegisterOperationWritesTheIndefinite()
    {
        var m = Exec(a => { a.fld1(); a.fadd(st0, st3); });
        var c = m.Cpu;
        Assert.Equal(Indefinite, St(c, 0));
        Assert.Equal(IE | SF, c.FpuStatusWord & (0x3F | SF | ES | C1));   // C1 = 0: underflow
        Assert.Equal(7, Top(c));
    }

    [Fact]
    public void MaskedUnderflowOfStoresWritesEachFormatsIndefinite()
    {
        var m = Exec(a =>
        {
            a.fstp(__dword_ptr[rbx]);
            a.fstp(__qword_ptr[rbx + 8]);
            a.fistp(__word_ptr[rbx + 16]);
            a.fistp(__dword_ptr[rbx + 20]);
            a.fistp(__qword_ptr[rbx + 24]);
            a.fbstp(__tword_ptr[rbx + 32]);
            a.fstp(__tword_ptr[rbx + 48]);
            a.fisttp(__word_ptr[rbx + 64]);
        }, m => m.WriteMemory(Data, Enumerable.Repeat((byte)0x55, 80).ToArray()));
        Assert.Equal(0xFFC0_0000u, R32(m, Data));                                   // single QNaN indefinite
        Assert.Equal(0xFFF8_0000_0000_0000UL, R64(m, Data + 8));                    // double QNaN indefinite
        Assert.Equal((ushort)0x8000, R16(m, Data + 16));                            // integer indefinite
        Assert.Equal(0x8000_0000u, R32(m, Data + 20));
        Assert.Equal(0x8000_0000_0000_0000UL, R64(m, Data + 24));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF }, m.ReadMemory(Data + 32, 10)); // BCD indefinite
        Assert.Equal(Indefinite, ReadF80(m, Data + 48));
        Assert.Equal((ushort)0x8000, R16(m, Data + 64));
        // Each store popped: 8 pops from TOP 0.
        Assert.Equal(0, Top(m.Cpu));
        Assert.Equal(IE | SF, m.Cpu.FpuStatusWord & (0x3F | SF | ES | C1));
    }

    [Fact]
    public void UnmaskedUnderflowOfAStoreWritesNothingAndDoesNotPop()
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx]); a.fstp(__qword_ptr[rbx + 8]); },
                    m => { W16(m, Data, 0x037E); W64(m, Data + 8, 0x1122334455667788); });
        Assert.Equal(0x1122334455667788UL, R64(m, Data + 8));
        Assert.Equal(0, Top(m.Cpu));
        Assert.Equal(IE | SF | ES | B, m.Cpu.FpuStatusWord & (0x3F | SF | ES | C1 | B));
    }

    [Fact]
    public void FxchExchangesAndFillsEmptyOperandsWithTheIndefinite()
    {
        var m = Exec(a => { a.fld1(); a.fldz(); a.fxch(st0, st1); });
        Assert.Equal(One, St(m.Cpu, 0));
        Assert.Equal(new Float80(0, 0), St(m.Cpu, 1));
        Assert.Equal(0, m.Cpu.FpuStatusWord & 0x3F);

        m = Exec(a => { a.fld1(); a.fxch(st0, st2); });
        Assert.Equal(Indefinite, St(m.Cpu, 0));
        Assert.Equal(One, St(m.Cpu, 2));
        Assert.False(StEmpty(m.Cpu, 2));
        Assert.Equal(IE | SF, m.Cpu.FpuStatusWord & (0x3F | SF | C1));
    }

    public static TheoryData<string, ulong, bool[]> CmovCases => new()
    {
        // flags (CF=1, PF=4, ZF=0x40); moved for B, NB, E, NE, BE, NBE, U, NU
        { "none", 0, new[] { false, true, false, true, false, true, false, true } },
        { "CF", 1, new[] { true, false, false, true, true, false, false, true } },
        { "ZF", 0x40, new[] { false, true, true, false, true, false, false, true } },
        { "PF", 4, new[] { false, true, false, true, false, true, true, false } },
        { "ZF PF CF", 0x45, new[] { true, false, true, false, true, false, true, false } },
    };

    [Theory]
    [MemberData(nameof(CmovCases))]
    public void FcmovMovesExactlyWhenItsConditionHolds(string name, ulong flags, bool[] moved)
    {
        Action<Assembler>[] ops =
        [
            a => a.fcmovb(st0, st1), a => a.fcmovnb(st0, st1), a => a.fcmove(st0, st1), a => a.fcmovne(st0, st1),
            a => a.fcmovbe(st0, st1), a => a.fcmovnbe(st0, st1), a => a.fcmovu(st0, st1), a => a.fcmovnu(st0, st1),
        ];
        for (int i = 0; i < ops.Length; i++)
        {
            var m = Exec(a => { a.fld1(); a.fldz(); ops[i](a); }, m => m.Cpu.Rflags = 2 | flags);
            Assert.True((St(m.Cpu, 0) == One) == moved[i], $"{name}: op {i}");
        }
    }

    [Fact]
    public void FcmovWithAnEmptyOperandIsAStackUnderflowWhateverTheCondition()
    {
        var m = Exec(a => { a.fld1(); a.fcmovb(st0, st1); }, m => m.Cpu.Rflags = 2);
        Assert.Equal(Indefinite, St(m.Cpu, 0));
        Assert.Equal(IE | SF, m.Cpu.FpuStatusWord & (0x3F | SF | C1));
    }

    [Fact]
    public void FfreeFincstpFdecstpChangeOnlyTagsAndTop()
    {
        var m = Exec(a => { a.fld1(); a.fldz(); a.ffree(st1); a.fincstp(); });
        var c = m.Cpu;
        Assert.Equal(7, Top(c));
        Assert.True(StEmpty(c, 0));                     // R7 freed
        Assert.False(StEmpty(c, 7));                    // R6 still valid
        Assert.Equal(One, St(c, 0));                    // contents kept
        m = Exec(a => { a.fdecstp(); a.fdecstp(); });
        Assert.Equal(6, Top(m.Cpu));
        Assert.Equal(0xFF, (byte)~m.Cpu.FpuAbridgedTag);
    }

    [Fact]
    public void FfreepFreesAndPops()
    {
        // DF C1: FFREEP ST(1) (reserved encoding Intel parts execute).
        var m = Exec(a => { a.fld1(); a.fld1(); a.db(0xDF, 0xC1); });
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(0, m.Cpu.FpuAbridgedTag);          // R6 popped (emptied), R7 freed
    }

    public static TheoryData<string, ulong, ushort, ushort> FxamCases => new()
    {
        // C3 C2 C0 per SDM Vol. 2A FXAM: unsupported 000, NaN 001, normal 010, infinity 011, zero 100, denormal 110
        { "normal", 0x8000_0000_0000_0000, 0x3FFF, C2 },
        { "-normal", 0x8000_0000_0000_0000, 0xBFFF, C2 | C1 },
        { "zero", 0, 0, C3 },
        { "-zero", 0, 0x8000, C3 | C1 },
        { "denormal", 1, 0, C3 | C2 },
        { "pseudo-denormal", 0x8000_0000_0000_0000, 0, C3 | C2 },
        { "infinity", 0x8000_0000_0000_0000, 0x7FFF, C2 | C0 },
        { "QNaN", 0xC000_0000_0000_0000, 0x7FFF, C0 },
        { "SNaN", 0x8000_0000_0000_0001, 0x7FFF, C0 },
        { "unnormal", 0x4000_0000_0000_0000, 0x3FFF, 0 },
        { "pseudo-infinity", 0, 0x7FFF, 0 },
        { "pseudo-NaN", 0x4000_0000_0000_0000, 0xFFFF, C1 },
    };

    [Theory]
    [MemberData(nameof(FxamCases))]
    public void FxamClassifies(string name, ulong sig, ushort se, ushort expected)
    {
        var m = Exec(a => { a.fld(__tword_ptr[rbx]); a.fxam(); }, m => WriteF80(m, Data, new Float80(sig, se)));
        Assert.True((m.Cpu.FpuStatusWord & (C0 | C1 | C2 | C3)) == expected, name);
        Assert.Equal(0, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Fact]
    public void FxamOfAnEmptyRegister()
    {
        var m = Exec(a => a.fxam());
        Assert.Equal(C3 | C0, m.Cpu.FpuStatusWord & (C0 | C2 | C3));
    }

    [Fact]
    public void FchsAndFabsChangeOnlyTheSign()
    {
        var nan = new Float80(0x8000_0000_0000_0001, 0x7FFF); // an SNaN: no exception, no quieting
        var m = Exec(a => { a.fld(__tword_ptr[rbx]); a.fchs(); a.fld(st0); a.fabs(); }, m => WriteF80(m, Data, nan));
        Assert.Equal(new Float80(nan.Significand, 0xFFFF), St(m.Cpu, 1));
        Assert.Equal(nan, St(m.Cpu, 0));
        Assert.Equal(0, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Fact]
    public void LoadsOfExtendedValuesKeepEveryBitAndRaiseNothing()
    {
        // FLD m80 and FLD ST(i) copy unsupported encodings and SNaNs unchanged (SDM Vol. 2A FLD: #IA/#D not for m80/ST(i)).
        var v = new Float80(0x4000_0000_0000_0001, 0x7FFF);
        var m = Exec(a => { a.fld(__tword_ptr[rbx]); a.fld(st0); a.fstp(__tword_ptr[rbx + 16]); }, m => WriteF80(m, Data, v));
        Assert.Equal(v, ReadF80(m, Data + 16));
        Assert.Equal(v, St(m.Cpu, 0));
        Assert.Equal(0, m.Cpu.FpuStatusWord & 0x3F);
    }
}
