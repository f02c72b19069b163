using System.Numerics;
using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ (SDM Vol. 1, 8.3.4; Vol. 2A "FLD1/..."): the internal
/// more-than-64-bit constant is rounded per FCW.RC, with no #P and no C1 rounding indication. The
/// expected values are the mathematical constants, computed here to 256 bits with series, then
/// rounded by the reference model.
/// </summary>
public class X87ConstantTests
{
    private const int Bits = 256;
    private static readonly BigInteger Scale = BigInteger.One << Bits;

    /// <summary>atanh(1/x) * 2^Bits (x &gt; 1): sum of 1 / ((2k+1) x^(2k+1)).</summary>
    private static BigInteger Atanh(int x)
    {
        BigInteger sum = 0, term = Scale / x, x2 = x * x;
        for (int k = 0; !term.IsZero; k++, term /= x2) sum += term / (2 * k + 1);
        return sum;
    }

    /// <summary>atan(1/x) * 2^Bits: alternating series.</summary>
    private static BigInteger Atan(int x)
    {
        BigInteger sum = 0, term = Scale / x, x2 = x * x;
        for (int k = 0; !term.IsZero; k++, term /= x2) sum += (k % 2 == 0 ? 1 : -1) * (term / (2 * k + 1));
        return sum;
    }

    private static readonly BigInteger Ln2 = 2 * Atanh(3);                      // ln 2 = 2 atanh(1/3)
    private static readonly BigInteger Ln10 = 3 * Ln2 + 2 * Atanh(9);           // ln 10 = 3 ln 2 + ln(5/4), ln(5/4) = 2 atanh(1/9)
    private static readonly BigInteger Pi = 16 * Atan(5) - 4 * Atan(239);       // Machin

    /// <summary>(name, code, numerator, denominator) of each constant.</summary>
    private static (string, Action<Assembler>, BigInteger, BigInteger)[] Constants =>
    [
        ("FLD1", a => a.fld1(), 1, 1),
        ("FLDL2T", a => a.fldl2t(), Ln10, Ln2),
        ("FLDL2E", a => a.fldl2e(), Scale, Ln2),
        ("FLDPI", a => a.fldpi(), Pi, Scale),
        ("FLDLG2", a => a.fldlg2(), Ln2, Ln10),
        ("FLDLN2", a => a.fldln2(), Ln2, Scale),
    ];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ConstantsAreRoundedPerRcWithoutPrecisionExceptionOrC1(int rc)
    {
        foreach (var (name, op, num, den) in Constants)
        {
            var m = Exec(a => { a.fldcw(__word_ptr[rbx]); op(a); }, m => W16(m, Data, (ushort)(0x037F | rc << 10)));
            var expected = Round(num, den, 64, rc, out _, out _);
            Assert.True(expected == St(m.Cpu, 0), $"{name} RC={rc}: expected {expected}, got {St(m.Cpu, 0)}");
            Assert.Equal(0, m.Cpu.FpuStatusWord & (0x3F | C1));
        }
    }

    [Fact]
    public void KnownRoundToNearestPatterns()
    {
        // The 8087/287 constants (Vol. 2A "FLD1/...": round-to-nearest gives the same values), as bit patterns.
        (Action<Assembler>, Float80)[] known =
        [
            (a => a.fldpi(), new Float80(0xC90F_DAA2_2168_C235, 0x4000)),
            (a => a.fldl2e(), new Float80(0xB8AA_3B29_5C17_F0BC, 0x3FFF)),
            (a => a.fldl2t(), new Float80(0xD49A_784B_CD1B_8AFE, 0x4000)),
            (a => a.fldlg2(), new Float80(0x9A20_9A84_FBCF_F799, 0x3FFD)),
            (a => a.fldln2(), new Float80(0xB172_17F7_D1CF_79AC, 0x3FFE)),
            (a => a.fldz(), new Float80(0, 0)),
        ];
        foreach (var (op, v) in known) Assert.Equal(v, St(Exec(op).Cpu, 0));
    }
}
