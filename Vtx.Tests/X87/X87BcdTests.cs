using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// FBLD/FBSTP (SDM Vol. 1, 4.7 packed BCD integers: 18 packed BCD digits in bytes 0-8, sign in bit 79;
/// Vol. 2A FBSTP: rounding per RC, out-of-range/NaN/infinity -> IE and the packed BCD indefinite).
/// </summary>
public class X87BcdTests
{
    private static byte[] Bcd(bool neg, ulong value)
    {
        var b = new byte[10];
        for (int i = 0; i < 9; i++) { b[i] = (byte)(value % 10 | (value / 10 % 10) << 4); value /= 100; }
        if (neg) b[9] = 0x80;
        return b;
    }

    private static readonly byte[] BcdIndefinite = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

    [Property(MaxTest = 200)]
    public Property FbldLoadsExactlyAndFbstpStoresTheSameBytes() =>
        Prop.ForAll(
            Arb.From(from v in ArbMap.Default.GeneratorFor<ulong>() from edge in Gen.Elements(0UL, 1UL, 999_999_999_999_999_999UL, 100_000_000_000_000_000UL)
                     from pick in Gen.Elements(false, true) from neg in Gen.Elements(false, true)
                     select (neg, pick ? edge : v % 1_000_000_000_000_000_000UL)),
            t =>
            {
                var (neg, value) = t;
                var bytes = Bcd(neg, value);
                var m = Exec(a => { a.fbld(__tword_ptr[rbx]); a.fld(st0); a.fbstp(__tword_ptr[rbx + 0x10]); },
                             m => m.WriteMemory(Data, bytes));
                var expected = value == 0 ? new Float80(0, neg ? (ushort)0x8000 : (ushort)0) : Round(neg ? -(BigInteger)value : value, 1, 64, 0, out _, out _);
                Assert.Equal(expected, St(m.Cpu, 0));
                Assert.Equal(bytes, m.ReadMemory(Data + 0x10, 10));
                Assert.Equal(0, m.Cpu.FpuStatusWord & 0x3F);
            });

    [Theory]
    [InlineData(2.5, 0, false, 2UL, 0)]
    [InlineData(3.5, 0, false, 4UL, C1)]
    [InlineData(-2.5, 1, true, 3UL, C1)]
    [InlineData(2.5, 2, false, 3UL, C1)]
    [InlineData(-2.9, 3, true, 2UL, 0)]
    [InlineData(-0.25, 0, true, 0UL, 0)]       // rounds to -0: sign kept
    public void FbstpRoundsPerRc(double v, int rc, bool neg, ulong digits, ushort c1)
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 0x20]); a.fld(__qword_ptr[rbx]); a.fbstp(__tword_ptr[rbx + 0x10]); },
                     m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(v)); W16(m, Data + 0x20, (ushort)(0x037F | rc << 10)); });
        Assert.Equal(Bcd(neg, digits), m.ReadMemory(Data + 0x10, 10));
        Assert.Equal(c1, m.Cpu.FpuStatusWord & C1);
        Assert.Equal(v == Math.Round(v) ? 0 : PE, m.Cpu.FpuStatusWord & 0x3F);
        Assert.Equal(0, Top(m.Cpu));
    }

    [Theory]
    [InlineData(0, false)]       // 10^18 - 1/2 rounds (to even) to 10^18: out of range
    [InlineData(1, true)]        // rounding down gives 10^18 - 1: the largest BCD value
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void FbstpRangeIsDecidedAfterRounding(int rc, bool fits)
    {
        // 10^18 - 1/2 is exact in 64 significand bits (10^18 < 2^60).
        var v = Round(2 * BigInteger.Pow(10, 18) - 1, 2, 64, 0, out bool inexact, out _);
        Assert.False(inexact);
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 0x20]); a.fld(__tword_ptr[rbx]); a.fbstp(__tword_ptr[rbx + 0x10]); },
                     m => { WriteF80(m, Data, v); W16(m, Data + 0x20, (ushort)(0x037F | rc << 10)); });
        Assert.Equal(fits ? Bcd(false, 999_999_999_999_999_999UL) : BcdIndefinite, m.ReadMemory(Data + 0x10, 10));
        Assert.Equal(fits ? PE : IE, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Theory]
    [InlineData(1e18)]
    [InlineData(-1e18)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(double.NaN)]
    public void FbstpOutOfRangeStoresTheIndefiniteOrNothing(double v)
    {
        var m = Exec(a => { a.fld(__qword_ptr[rbx]); a.fbstp(__tword_ptr[rbx + 0x10]); }, m => W64(m, Data, BitConverter.DoubleToUInt64Bits(v)));
        Assert.Equal(BcdIndefinite, m.ReadMemory(Data + 0x10, 10));
        Assert.Equal(IE, m.Cpu.FpuStatusWord & 0x3F);
        Assert.Equal(0, Top(m.Cpu));

        m = Exec(a => { a.fldcw(__word_ptr[rbx + 0x20]); a.fld(__qword_ptr[rbx]); a.fbstp(__tword_ptr[rbx + 0x10]); },
                 m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(v)); W16(m, Data + 0x20, 0x037E); });
        Assert.Equal(new byte[10], m.ReadMemory(Data + 0x10, 10));
        Assert.Equal(IE | ES, m.Cpu.FpuStatusWord & (0x3F | ES));
        Assert.Equal(7, Top(m.Cpu));
    }
}
