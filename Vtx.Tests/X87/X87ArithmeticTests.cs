using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// FADD..FDIVR in every operand form, FSQRT, and the memory-source conversions, against an exact
/// rational reference (SDM Vol. 1, 4.8.4 rounding, 8.1.5.2 precision control, 8.1.3.3 C1 =
/// rounded up, PE for inexact results).
/// </summary>
public class X87ArithmeticTests
{
    private enum Form { St0Sti, StiSt0, Pop, M64, I32 }

    private static readonly string[] Ops = ["add", "mul", "sub", "subr", "div", "divr"];

    private static void Emit(Assembler a, int op, Form form)
    {
        switch (form)
        {
            case Form.St0Sti:
                switch (op) { case 0: a.fadd(st0, st1); break; case 1: a.fmul(st0, st1); break; case 2: a.fsub(st0, st1); break; case 3: a.fsubr(st0, st1); break; case 4: a.fdiv(st0, st1); break; default: a.fdivr(st0, st1); break; }
                break;
            case Form.StiSt0:
                switch (op) { case 0: a.fadd(st1, st0); break; case 1: a.fmul(st1, st0); break; case 2: a.fsub(st1, st0); break; case 3: a.fsubr(st1, st0); break; case 4: a.fdiv(st1, st0); break; default: a.fdivr(st1, st0); break; }
                break;
            case Form.Pop:
                switch (op) { case 0: a.faddp(st1, st0); break; case 1: a.fmulp(st1, st0); break; case 2: a.fsubp(st1, st0); break; case 3: a.fsubrp(st1, st0); break; case 4: a.fdivp(st1, st0); break; default: a.fdivrp(st1, st0); break; }
                break;
            case Form.M64:
                var m = __qword_ptr[rbx + 0x20];
                switch (op) { case 0: a.fadd(m); break; case 1: a.fmul(m); break; case 2: a.fsub(m); break; case 3: a.fsubr(m); break; case 4: a.fdiv(m); break; default: a.fdivr(m); break; }
                break;
            default:
                var i = __dword_ptr[rbx + 0x28];
                switch (op) { case 0: a.fiadd(i); break; case 1: a.fimul(i); break; case 2: a.fisub(i); break; case 3: a.fisubr(i); break; case 4: a.fidiv(i); break; default: a.fidivr(i); break; }
                break;
        }
    }

    /// <summary>x OP y exactly (x = the destination's value, y = the source's).</summary>
    private static (BigInteger, BigInteger) Apply(int op, (BigInteger N, BigInteger D) x, (BigInteger N, BigInteger D) y) => op switch
    {
        0 => (x.N * y.D + y.N * x.D, x.D * y.D),
        1 => (x.N * y.N, x.D * y.D),
        2 => (x.N * y.D - y.N * x.D, x.D * y.D),
        3 => (y.N * x.D - x.N * y.D, x.D * y.D),
        4 => (x.N * y.D, x.D * y.N),
        _ => (y.N * x.D, y.D * x.N),
    };

    private static Gen<double> Doubles =>
        from bits in ArbMap.Default.GeneratorFor<ulong>()
        from e in Gen.Choose(1023 - 900, 1023 + 900)
        select BitConverter.Int64BitsToDouble((long)((bits & 0x800F_FFFF_FFFF_FFFF) | ((ulong)e << 52)));

    [Property(MaxTest = 300)]
    public Property ArithmeticMatchesTheExactRationalRoundedPerRcAndPc() =>
        Prop.ForAll(
            Arb.From(from a in Normal(2000)
                     from b in Normal(2000)
                     from d in Doubles
                     from i in ArbMap.Default.GeneratorFor<int>()
                     from op in Gen.Choose(0, 5)
                     from form in Gen.Elements(Form.St0Sti, Form.StiSt0, Form.Pop, Form.M64, Form.I32)
                     from rc in Gen.Choose(0, 3)
                     from pc in Gen.Elements(0, 2, 3)
                     from same in Gen.Elements(false, false, false, true)
                     select (a, same ? a : b, d, i == 0 ? 1 : i, op, form, rc, pc)),
            t =>
            {
                var (a, b, dbl, integer, op, form, rc, pc) = t;
                ushort fcw = (ushort)(0x007F | pc << 8 | rc << 10);
                var m = Exec(asm => { asm.fldcw(__word_ptr[rbx + 0x30]); asm.fld(__tword_ptr[rbx]); asm.fld(__tword_ptr[rbx + 0x10]); Emit(asm, op, form); },
                             m => { WriteF80(m, Data, a); WriteF80(m, Data + 0x10, b); W64(m, Data + 0x20, BitConverter.DoubleToUInt64Bits(dbl)); W32(m, Data + 0x28, (uint)integer); W16(m, Data + 0x30, fcw); });
                // After the loads ST(0) = b, ST(1) = a.
                (BigInteger, BigInteger) x, y;
                int resultSt, top;
                switch (form)
                {
                    case Form.St0Sti: x = Exact(b); y = Exact(a); resultSt = 0; top = 6; break;
                    case Form.StiSt0: x = Exact(a); y = Exact(b); resultSt = 1; top = 6; break;
                    case Form.Pop: x = Exact(a); y = Exact(b); resultSt = 0; top = 7; break;
                    case Form.M64: x = Exact(b); y = Exact(dbl); resultSt = 0; top = 6; break;
                    default: x = Exact(b); y = (integer, BigInteger.One); resultSt = 0; top = 6; break;
                }
                var (n, dd) = Apply(op, x, y);
                int p = pc == 0 ? 24 : pc == 2 ? 53 : 64;
                Float80 expected;
                bool inexact = false, up = false;
                if (n.IsZero) expected = new Float80(0, rc == 1 ? (ushort)0x8000 : (ushort)0);   // exact zero sum: -0 only when rounding down
                else expected = Round(n, dd, p, rc, out inexact, out up);
                var c = m.Cpu;
                string what = $"{Ops[op]} {form} RC={rc} PC={pc} a={a} b={b} d={dbl:R} i={integer}";
                Assert.True(top == Top(c), what + " TOP");
                Assert.True(expected == St(c, resultSt), $"{what}: expected {expected}, got {St(c, resultSt)}");
                Assert.True((c.FpuStatusWord & (0x3F | C1)) == ((inexact ? PE : 0) | (up ? C1 : 0)), $"{what}: FSW {c.FpuStatusWord:X4}");
            });

    /// <summary>floor(sqrt(v)) for v &gt;= 0 (Newton).</summary>
    private static BigInteger ISqrt(BigInteger v)
    {
        if (v < 2) return v;
        BigInteger x = BigInteger.One << (int)((v.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger y = (x + v / x) >> 1;
            if (y >= x) return x;
            x = y;
        }
    }

    [Property(MaxTest = 200)]
    public Property FsqrtIsCorrectlyRounded() =>
        Prop.ForAll(
            Arb.From(from a in Normal(16000) from rc in Gen.Choose(0, 3) from pc in Gen.Elements(0, 2, 3) select (a, rc, pc)),
            t =>
            {
                var (a, rc, pc) = t;
                a = new Float80(a.Significand, (ushort)(a.SignExponent & 0x7FFF));
                var m = Exec(asm => { asm.fldcw(__word_ptr[rbx + 0x30]); asm.fld(__tword_ptr[rbx]); asm.fsqrt(); },
                             m => { WriteF80(m, Data, a); W16(m, Data + 0x30, (ushort)(0x007F | pc << 8 | rc << 10)); });
                // a = sig * 2^e; make e even, then sqrt = isqrt(sig * 2^(e + 256)) * 2^-(128) with a sticky quarter when inexact.
                BigInteger sig = a.Significand;
                int e = a.Exponent - 16383 - 63;
                if ((e & 1) != 0) { sig <<= 1; e--; }
                BigInteger big = sig << 256;
                BigInteger r = ISqrt(big);
                bool exact = r * r == big;
                BigInteger num = exact ? r : 4 * r + 1, den = exact ? BigInteger.One : 4;
                int half = e / 2 - 128;
                if (half >= 0) num <<= half; else den <<= -half;
                int p = pc == 0 ? 24 : pc == 2 ? 53 : 64;
                var expected = Round(num, den, p, rc, out bool inexact, out bool up);
                var c = m.Cpu;
                Assert.True(expected == St(c, 0), $"sqrt {a} RC={rc} PC={pc}: expected {expected}, got {St(c, 0)}");
                Assert.Equal((inexact ? PE : 0) | (up ? C1 : 0), c.FpuStatusWord & (0x3F | C1));
            });

    [Property(MaxTest = 200)]
    public Property StoresToSingleAndDoubleRoundPerRc() =>
        Prop.ForAll(
            Arb.From(from a in Normal(120) from rc in Gen.Choose(0, 3) select (a, rc)),
            t =>
            {
                var (a, rc) = t;
                var m = Exec(asm => { asm.fldcw(__word_ptr[rbx + 0x30]); asm.fld(__tword_ptr[rbx]); asm.fst(__dword_ptr[rbx + 0x10]); asm.fstp(__qword_ptr[rbx + 0x18]); },
                             m => { WriteF80(m, Data, a); W16(m, Data + 0x30, (ushort)(0x037F | rc << 10)); });
                var (n, d) = Exact(a);
                var s = Round(n, d, 24, rc, out bool inexS, out bool upS);
                var q = Round(n, d, 53, rc, out bool inexD, out bool upD);
                uint single = (uint)((s.Sign ? 1u << 31 : 0) | (uint)(s.Exponent - 16383 + 127) << 23 | (uint)((s.Significand >> 40) & 0x7F_FFFF));
                ulong dbl = (q.Sign ? 1UL << 63 : 0) | (ulong)(q.Exponent - 16383 + 1023) << 52 | ((q.Significand >> 11) & 0xF_FFFF_FFFF_FFFF);
                Assert.Equal(single, R32(m, Data + 0x10));
                Assert.Equal(dbl, R64(m, Data + 0x18));
                Assert.Equal(inexS || inexD ? PE : 0, m.Cpu.FpuStatusWord & 0x3F);
                Assert.Equal(upD ? C1 : 0, m.Cpu.FpuStatusWord & C1);   // C1 of the last store
                _ = upS;
            });

    [Property(MaxTest = 200)]
    public Property LoadsOfSingleDoubleAndIntegersAreExact() =>
        Prop.ForAll(
            Arb.From(from d in Doubles from l in ArbMap.Default.GeneratorFor<long>() from big in Gen.Elements(long.MinValue, long.MaxValue, 0L, -1L, 1L) from pick in Gen.Elements(false, true) select (d, pick ? big : l)),
            t =>
            {
                var (dbl, l) = t;
                float f = (float)dbl;
                var m = Exec(asm => { asm.fld(__qword_ptr[rbx]); asm.fild(__qword_ptr[rbx + 8]); asm.fld(__dword_ptr[rbx + 16]); asm.fild(__word_ptr[rbx + 20]); asm.fild(__dword_ptr[rbx + 24]); },
                             m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(dbl)); W64(m, Data + 8, (ulong)l); W32(m, Data + 16, BitConverter.SingleToUInt32Bits(f)); W16(m, Data + 20, (ushort)l); W32(m, Data + 24, (uint)l); });
                var c = m.Cpu;
                Float80 Exactly(BigInteger n, BigInteger d) => n.IsZero ? new Float80(0, 0) : Round(n, d, 64, 0, out _, out _);
                var (dn, dd) = Exact(dbl);
                Assert.Equal(Exactly(dn, dd), St(c, 4));
                Assert.Equal(Exactly(l, 1), St(c, 3));
                if (float.IsFinite(f) && f != 0 && float.IsNormal(f)) { var (fn, fd) = Exact((double)f); Assert.Equal(Exactly(fn, fd), St(c, 2)); }
                Assert.Equal(Exactly((short)l, 1), St(c, 1));
                Assert.Equal(Exactly((int)l, 1), St(c, 0));
            });

    [Fact]
    public void SnanAndDenormalMemorySourcesRaiseIeAndDe()
    {
        // FLD m64 of an SNaN: IE, the quieted NaN pushed (masked); of a denormal: DE, exact value.
        var m = Exec(a => { a.fld(__qword_ptr[rbx]); a.fld(__qword_ptr[rbx + 8]); },
                     m => { W64(m, Data, 0x7FF0_0000_0000_0001); W64(m, Data + 8, 1); });
        Assert.Equal(new Float80(0xC000_0000_0000_0800, 0x7FFF), St(m.Cpu, 1));
        Assert.Equal(Round(1, BigInteger.One << 1074, 64, 0, out _, out _), St(m.Cpu, 0));
        Assert.Equal(IE | DE, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Fact]
    public void DivisionByZeroMaskedGivesSignedInfinity()
    {
        var m = Exec(a => { a.fld1(); a.fchs(); a.fldz(); a.fdivp(st1, st0); });
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 0xFFFF), St(m.Cpu, 0));
        Assert.Equal(ZE, m.Cpu.FpuStatusWord & 0x3F);
    }
}
