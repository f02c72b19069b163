using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Simd.SseFloatHarness;

namespace Vtx.Tests.Simd;

/// <summary>
/// RCPPS/RCPSS/RSQRTPS/RSQRTSS (SDM Vol. 2): |relative error| &lt;= 1.5 * 2^-12 for every input,
/// and the documented special values. The exact outputs are Vtx's own (Intel's tables are not
/// published), so the tests check the documented bound, never particular approximations.
/// </summary>
public class SseFloatApproxTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const double Bound = 1.5 / 4096;

    private static double RelErrRcp(uint x, uint r) =>
        Math.Abs((double)BitConverter.UInt32BitsToSingle(r) * BitConverter.UInt32BitsToSingle(x) - 1.0);

    private static double RelErrRsqrt(uint x, uint r) =>
        Math.Abs((double)BitConverter.UInt32BitsToSingle(r) * Math.Sqrt(BitConverter.UInt32BitsToSingle(x)) - 1.0);

    /// <summary>Every significand in [1, 2) (RCP), and in [1, 2) and [2, 4) (RSQRT: both exponent parities), meets the bound.</summary>
    [Fact]
    public void BoundHoldsForEverySignificand()
    {
        double worstRcp = 0, worstRsqrt = 0;
        for (uint f = 0; f < 1u << 23; f++)
        {
            uint x1 = 0x3F80_0000 | f, x2 = 0x4000_0000 | f;
            worstRcp = Math.Max(worstRcp, RelErrRcp(x1, Cpu.SfRcp32(x1)));
            worstRsqrt = Math.Max(worstRsqrt, Math.Max(RelErrRsqrt(x1, Cpu.SfRsqrt32(x1)), RelErrRsqrt(x2, Cpu.SfRsqrt32(x2))));
        }
        output.WriteLine($"worst relative error: RCP {worstRcp * 4096:F4} * 2^-12, RSQRT {worstRsqrt * 4096:F4} * 2^-12 (bound 1.5)");
        Assert.True(worstRcp <= Bound, $"RCP worst relative error {worstRcp * 4096:F4} * 2^-12");
        Assert.True(worstRsqrt <= Bound, $"RSQRT worst relative error {worstRsqrt * 4096:F4} * 2^-12");
    }

    private static readonly byte[] Rcpps = Code(a => a.rcpps(xmm1, xmm2));
    private static readonly byte[] RcppsMem = Code(a => a.rcpps(xmm1, __[rax]));
    private static readonly byte[] Rsqrtps = Code(a => a.rsqrtps(xmm1, xmm2));
    private static readonly byte[] Rsqrtss = Code(a => a.rsqrtss(xmm1, xmm2));
    private static readonly byte[] Rcpss = Code(a => a.rcpss(xmm1, __[rax]));

    private static UInt128 RunApprox(byte[] code, UInt128 src, UInt128 dst = default, uint mxcsr = 0x1F80)
    {
        var (m, r) = Exec(code, mm => { mm.Cpu.SetXmm(1, dst); mm.Cpu.SetXmm(2, src); mm.Cpu.Mxcsr = mxcsr; mm.WriteMemory(Data, Bytes(src)); });
        AssertRetired(r);
        Assert.Equal(mxcsr, m.Cpu.Mxcsr); // no exception flags, whatever the masks
        return m.Cpu.GetXmm(1);
    }

    /// <summary>Full-range inputs through the instructions: the bound for normal results, tiny results flushed to ±0.</summary>
    [Property(MaxTest = 200)]
    public Property PackedResultsMeetTheBound() => Prop.ForAll(Arb.From(Gen.Zip(Vec32, Gen.Elements(0, 1, 2))), t =>
    {
        byte[] code = t.Item2 switch { 0 => Rcpps, 1 => RcppsMem, _ => Rsqrtps };
        bool rsqrt = t.Item2 == 2;
        UInt128 got = RunApprox(code, t.Item1, mxcsr: 0x0000); // all exceptions unmasked: still no #XM
        for (int i = 0; i < 4; i++)
        {
            uint x = Lane32(t.Item1, i), r = Lane32(got, i);
            uint e = (x >> 23) & 0xFF, sign = x & 0x8000_0000;
            if (e == 0 || e == 0xFF) continue; // special values: see SpecialValues
            if (rsqrt)
            {
                if (sign != 0) Assert.Equal(0xFFC0_0000u, r);
                else Assert.True(RelErrRsqrt(x, r) <= Bound, $"rsqrt({x:X8}) = {r:X8}");
                continue;
            }
            Assert.Equal(sign, r & 0x8000_0000);
            double exact = 1.0 / Math.Abs(BitConverter.UInt32BitsToSingle(x));
            if (exact >= Math.ScaleB(1.0, -126) * (1 + Bound)) Assert.True(RelErrRcp(x, r) <= Bound, $"rcp({x:X8}) = {r:X8}");
            else if (exact < Math.ScaleB(1.0, -126) * (1 - Bound)) Assert.Equal(sign, r); // tiny: flushed to zero
        }
    });

    [Fact]
    public void RcpSpecialValues()
    {
        // +0, -0, +denormal, -denormal (treated as zero even without DAZ), +inf, -inf, SNaN, QNaN
        var got = RunApprox(Rcpps, Pack32(0x0000_0000, 0x8000_0000, 0x0000_0001, 0x807F_FFFF));
        Assert.Equal(Pack32(0x7F80_0000, 0xFF80_0000, 0x7F80_0000, 0xFF80_0000), got);
        got = RunApprox(Rcpps, Pack32(0x7F80_0000, 0xFF80_0000, 0x7F80_0001, 0xFFC1_2345));
        Assert.Equal(Pack32(0x0000_0000, 0x8000_0000, 0x7FC0_0001, 0xFFC1_2345), got);
        // Tiny results are flushed: 1 / 2^127 and 1 / max normal are below 2^-126; 1 / 2^125 is not tiny.
        got = RunApprox(Rcpps, Pack32(0x7F00_0000, 0xFF7F_FFFF, 0x7E00_0000, 0x3F80_0000));
        Assert.Equal(0u, Lane32(got, 0));
        Assert.Equal(0x8000_0000u, Lane32(got, 1));
        Assert.True(RelErrRcp(0x7E00_0000, Lane32(got, 2)) <= Bound);
        Assert.True(RelErrRcp(0x3F80_0000, Lane32(got, 3)) <= Bound);
    }

    [Fact]
    public void RsqrtSpecialValues()
    {
        var got = RunApprox(Rsqrtps, Pack32(0x0000_0000, 0x8000_0000, 0x0000_0001, 0x8000_0001));
        Assert.Equal(Pack32(0x7F80_0000, 0xFF80_0000, 0x7F80_0000, 0xFF80_0000), got);
        // +inf -> +0; -inf and negative normals -> QNaN indefinite; SNaN quieted; QNaN kept.
        got = RunApprox(Rsqrtps, Pack32(0x7F80_0000, 0xFF80_0000, 0xBF80_0000, 0xFF80_0001));
        Assert.Equal(Pack32(0x0000_0000, 0xFFC0_0000, 0xFFC0_0000, 0xFFC0_0001), got);
        // Extremes of the exponent range stay normal and within the bound.
        foreach (uint x in new uint[] { 0x0080_0000, 0x7F7F_FFFF, 0x0100_0000 })
            Assert.True(RelErrRsqrt(x, Lane32(RunApprox(Rsqrtps, x), 0)) <= Bound, $"rsqrt({x:X8})");
    }

    [Fact]
    public void ScalarFormsKeepTheUpperElements()
    {
        UInt128 dst = Pack32(0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444);
        var got = RunApprox(Rsqrtss, Pack32(0x4080_0000, 0x4080_0000, 0x4080_0000, 0x4080_0000), dst); // rsqrt(4) ~ 0.5
        Assert.Equal(dst >> 32, got >> 32);
        Assert.True(RelErrRsqrt(0x4080_0000, Lane32(got, 0)) <= Bound);
        // RCPSS with a 4-byte memory operand at an unaligned address is fine.
        var (m, r) = Exec(Rcpss, mm => { mm.Cpu.SetXmm(1, dst); mm.Cpu[Gpr.Rax] = Data + 1; mm.WriteMemory(Data + 1, BitConverter.GetBytes(0x4000_0000u)); });
        AssertRetired(r);
        Assert.Equal(dst >> 32, m.Cpu.GetXmm(1) >> 32);
        Assert.True(RelErrRcp(0x4000_0000, Lane32(m.Cpu.GetXmm(1), 0)) <= Bound);
    }
}
