using FsCheck;
using FsCheck.Fluent;
using Vtx.Float;
using Xunit;
using static Vtx.Tests.Float.SoftFloatGen;

namespace Vtx.Tests.Float;

/// <summary>
/// SoftFloat against the BigInteger reference model (<see cref="Ref"/>, <see cref="RefOps"/>):
/// every operation, format, rounding mode, precision control, FTZ/DAZ setting and OE/UE mask, with
/// full-range operands mixed with special values. Result bits and the raised flags must match exactly.
/// </summary>
public class SoftFloatPropertyTests
{
    /// <summary>Cases per property; VTX_SOFTFLOAT_ITERATIONS raises it for a local deep run (CI keeps the default).</summary>
    private static readonly int N = int.TryParse(Environment.GetEnvironmentVariable("VTX_SOFTFLOAT_ITERATIONS"), out int n) && n > 0 ? n : 1500;

    private static void Check<T>(Gen<T> gen, Func<T, string?> mismatch, int n = 0)
        => Prop.ForAll(gen.ToArbitrary(), t =>
        {
            string? m = mismatch(t);
            if (m != null) throw new Xunit.Sdk.XunitException($"{t}: {m}");
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(n > 0 ? n : N));

    private static string? Diff(UInt128 got, FpExceptions gotFlags, UInt128 want, FpExceptions wantFlags, int hexDigits)
        => got == want && gotFlags == wantFlags ? null
            : $"got {got.ToString("X" + hexDigits)} [{gotFlags}], want {want.ToString("X" + hexDigits)} [{wantFlags}]";

    private static uint Op32(char op, uint a, uint b, ref FpEnv e) => op switch
    {
        '+' => SoftFloat.Add32(a, b, ref e), '-' => SoftFloat.Sub32(a, b, ref e), '*' => SoftFloat.Mul32(a, b, ref e),
        '/' => SoftFloat.Div32(a, b, ref e), _ => SoftFloat.Sqrt32(a, ref e),
    };

    private static ulong Op64(char op, ulong a, ulong b, ref FpEnv e) => op switch
    {
        '+' => SoftFloat.Add64(a, b, ref e), '-' => SoftFloat.Sub64(a, b, ref e), '*' => SoftFloat.Mul64(a, b, ref e),
        '/' => SoftFloat.Div64(a, b, ref e), _ => SoftFloat.Sqrt64(a, ref e),
    };

    private static Float80 Op80(char op, Float80 a, Float80 b, ref FpEnv e) => op switch
    {
        '+' => SoftFloat.Add80(a, b, ref e), '-' => SoftFloat.Sub80(a, b, ref e), '*' => SoftFloat.Mul80(a, b, ref e),
        '/' => SoftFloat.Div80(a, b, ref e), _ => SoftFloat.Sqrt80(a, ref e),
    };

    [Theory]
    [InlineData('+')] [InlineData('-')] [InlineData('*')] [InlineData('/')] [InlineData('s')]
    public void Binary32MatchesReference(char op) => Check(
        from p in Pair32 from env in Env select (p.A, p.B, env),
        t =>
        {
            FpEnv e = t.env;
            uint got = Op32(op, t.A, t.B, ref e);
            UInt128 want = Ref.Arith(op, RefFormat.S, t.A, t.B, t.env, out var wf, out _);
            return Diff(got, e.Flags, want, wf, 8);
        });

    [Theory]
    [InlineData('+')] [InlineData('-')] [InlineData('*')] [InlineData('/')] [InlineData('s')]
    public void Binary64MatchesReference(char op) => Check(
        from p in Pair64 from env in Env select (p.A, p.B, env),
        t =>
        {
            FpEnv e = t.env;
            ulong got = Op64(op, t.A, t.B, ref e);
            UInt128 want = Ref.Arith(op, RefFormat.D, t.A, t.B, t.env, out var wf, out _);
            return Diff(got, e.Flags, want, wf, 16);
        });

    [Theory]
    [InlineData('+')] [InlineData('-')] [InlineData('*')] [InlineData('/')] [InlineData('s')]
    public void Extended80MatchesReference(char op) => Check(
        from p in Pair80 from env in Env select (p.A, p.B, env),
        t =>
        {
            FpEnv e = t.env;
            Float80 got = Op80(op, t.A, t.B, ref e);
            UInt128 want = Ref.Arith(op, RefFormat.X, Bits(t.A), Bits(t.B), t.env, out var wf, out bool up);
            string? d = Diff(Bits(got), e.Flags, want, wf, 20);
            if (d == null && e.RoundedUp != up) d = $"C1 round-up {e.RoundedUp}, want {up}";
            return d;
        });

    [Theory]
    [InlineData('+')] [InlineData('-')] [InlineData('*')] [InlineData('/')]
    public void RangeBoundariesMatchReference(char op)
    {
        Check(from p in SoftFloatGen.Boundary(RefFormat.S) from env in Env select (p.A, p.B, env), t =>
        {
            FpEnv e = t.env;
            uint got = Op32(op, (uint)t.A, (uint)t.B, ref e);
            return Diff(got, e.Flags, Ref.Arith(op, RefFormat.S, t.A, t.B, t.env, out var wf, out _), wf, 8);
        }, N / 2);
        Check(from p in SoftFloatGen.Boundary(RefFormat.D) from env in Env select (p.A, p.B, env), t =>
        {
            FpEnv e = t.env;
            ulong got = Op64(op, (ulong)t.A, (ulong)t.B, ref e);
            return Diff(got, e.Flags, Ref.Arith(op, RefFormat.D, t.A, t.B, t.env, out var wf, out _), wf, 16);
        }, N / 2);
        Check(from p in SoftFloatGen.Boundary(RefFormat.X) from env in Env select (p.A, p.B, env), t =>
        {
            FpEnv e = t.env;
            Float80 got = Op80(op, F(t.A), F(t.B), ref e);
            UInt128 want = Ref.Arith(op, RefFormat.X, t.A, t.B, t.env, out var wf, out bool up);
            return Diff(Bits(got), e.Flags, want, wf, 20) ?? (e.RoundedUp == up ? null : $"C1 {e.RoundedUp}, want {up}");
        }, N / 2);
    }

    /// <summary>Second oracle: the host's IEEE binary32/binary64 arithmetic (round to nearest, no FTZ/DAZ).</summary>
    [Fact]
    public void BinaryRoundToNearestMatchesHost()
    {
        FpEnv env0 = FpEnv.FromMxcsr(0x1F80);
        Check(from p in Pair32 from op in Gen.Elements('+', '-', '*', '/', 's') select (p.A, p.B, op), t =>
        {
            FpEnv e = env0;
            uint got = Op32(t.op, t.A, t.B, ref e);
            float x = BitConverter.UInt32BitsToSingle(t.A), y = BitConverter.UInt32BitsToSingle(t.B);
            float h = t.op switch { '+' => x + y, '-' => x - y, '*' => x * y, '/' => x / y, _ => MathF.Sqrt(x) };
            uint hb = BitConverter.SingleToUInt32Bits(h);
            // NaN payload choice is the instruction's business (the JIT may swap commutative operands).
            bool ok = float.IsNaN(h) ? float.IsNaN(BitConverter.UInt32BitsToSingle(got)) : hb == got;
            return ok ? null : $"{t.op}: got {got:X8}, host {hb:X8}";
        });
        Check(from p in Pair64 from op in Gen.Elements('+', '-', '*', '/', 's') select (p.A, p.B, op), t =>
        {
            FpEnv e = env0;
            ulong got = Op64(t.op, t.A, t.B, ref e);
            double x = BitConverter.UInt64BitsToDouble(t.A), y = BitConverter.UInt64BitsToDouble(t.B);
            double h = t.op switch { '+' => x + y, '-' => x - y, '*' => x * y, '/' => x / y, _ => Math.Sqrt(x) };
            ulong hb = BitConverter.DoubleToUInt64Bits(h);
            bool ok = double.IsNaN(h) ? double.IsNaN(BitConverter.UInt64BitsToDouble(got)) : hb == got;
            return ok ? null : $"{t.op}: got {got:X16}, host {hb:X16}";
        });
        Check(from a in F64 select a, a =>
        {
            FpEnv e = env0;
            uint got = SoftFloat.F64ToF32(a, ref e);
            double x = BitConverter.UInt64BitsToDouble(a);
            uint hb = BitConverter.SingleToUInt32Bits((float)x);
            return double.IsNaN(x) || hb == got ? null : $"cvtsd2ss: got {got:X8}, host {hb:X8}";
        });
        Check(from a in F32 select a, a =>
        {
            FpEnv e = env0;
            ulong got = SoftFloat.F32ToF64(a, ref e);
            float x = BitConverter.UInt32BitsToSingle(a);
            ulong hb = BitConverter.DoubleToUInt64Bits(x);
            int t = SoftFloat.F32ToI32(a, true, ref e);
            // In range, C#'s float → int conversion truncates exactly like CVTTSS2SI.
            bool inRange = !float.IsNaN(x) && x > -2147483904f && x < 2147483648f;
            return (float.IsNaN(x) || hb == got) && (!inRange || t == (int)x) ? null : $"cvtss2sd/cvttss2si: got {got:X16}/{t}, host {hb:X16}/{(inRange ? (int)x : 0)}";
        });
        Check(from i in Ints select i, i =>
        {
            FpEnv e = env0;
            uint g32 = SoftFloat.I64ToF32(i, ref e);
            ulong g64 = SoftFloat.I64ToF64(i, ref e);
            uint h32 = BitConverter.SingleToUInt32Bits((float)i);
            ulong h64 = BitConverter.DoubleToUInt64Bits((double)i);
            return g32 == h32 && g64 == h64 ? null : $"cvtsi2ss/sd: got {g32:X8}/{g64:X16}, host {h32:X8}/{h64:X16}";
        });
    }

    [Fact]
    public void FloatToFloatConversionsMatchReference()
    {
        Check(from a in F32 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            ulong got = SoftFloat.F32ToF64(t.a, ref e);
            UInt128 want = RefOps.Convert(RefFormat.S, RefFormat.D, t.a, t.env, true, true, out var wf);
            return Diff(got, e.Flags, want, wf, 16);
        });
        Check(from a in F64 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            uint got = SoftFloat.F64ToF32(t.a, ref e);
            UInt128 want = RefOps.Convert(RefFormat.D, RefFormat.S, t.a, t.env, true, true, out var wf);
            return Diff(got, e.Flags, want, wf, 8);
        });
        Check(from a in F32 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            Float80 got = SoftFloat.F32ToF80(t.a, ref e);
            UInt128 want = RefOps.Convert(RefFormat.S, RefFormat.X, t.a, t.env, false, true, out var wf);
            return Diff(Bits(got), e.Flags, want, wf, 20);
        });
        Check(from a in F64 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            Float80 got = SoftFloat.F64ToF80(t.a, ref e);
            UInt128 want = RefOps.Convert(RefFormat.D, RefFormat.X, t.a, t.env, false, true, out var wf);
            return Diff(Bits(got), e.Flags, want, wf, 20);
        });
        Check(from a in F80 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            uint got = SoftFloat.F80ToF32(t.a, ref e);
            UInt128 want = RefOps.Convert(RefFormat.X, RefFormat.S, Bits(t.a), t.env, false, false, out var wf);
            return Diff(got, e.Flags, want, wf, 8);
        });
        Check(from a in F80 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            ulong got = SoftFloat.F80ToF64(t.a, ref e);
            UInt128 want = RefOps.Convert(RefFormat.X, RefFormat.D, Bits(t.a), t.env, false, false, out var wf);
            return Diff(got, e.Flags, want, wf, 16);
        });
    }

    [Fact]
    public void IntegerToFloatConversionsMatchReference() => Check(from i in Ints from env in Env select (i, env), t =>
    {
        FpEnv e1 = t.env, e2 = t.env, e3 = t.env, e4 = t.env;
        int i32 = (int)t.i;
        uint a = SoftFloat.I32ToF32(i32, ref e1);
        uint b = SoftFloat.I64ToF32(t.i, ref e2);
        ulong c = SoftFloat.I32ToF64(i32, ref e3);
        ulong d = SoftFloat.I64ToF64(t.i, ref e4);
        Float80 x = SoftFloat.I64ToF80(t.i);
        return Diff(a, e1.Flags, RefOps.FromInt(RefFormat.S, i32, t.env, out var f1), f1, 8)
            ?? Diff(b, e2.Flags, RefOps.FromInt(RefFormat.S, t.i, t.env, out var f2), f2, 8)
            ?? Diff(c, e3.Flags, RefOps.FromInt(RefFormat.D, i32, t.env, out var f3), f3, 16)
            ?? Diff(d, e4.Flags, RefOps.FromInt(RefFormat.D, t.i, t.env, out var f4), f4, 16)
            ?? Diff(Bits(x), 0, RefOps.FromInt(RefFormat.X, t.i, t.env, out var f5), f5, 20);
    });

    private static string? IntDiff(long got, FpExceptions gf, long want, FpExceptions wf, string what)
        => got == want && gf == wf ? null : $"{what}: got {got:X} [{gf}], want {want:X} [{wf}]";

    [Fact]
    public void FloatToIntegerConversionsMatchReference()
    {
        Check(from a in F32 from env in Env from tr in Gen.Elements(false, true) select (a, env, tr), t =>
        {
            FpEnv e1 = t.env, e2 = t.env;
            int g32 = SoftFloat.F32ToI32(t.a, t.tr, ref e1);
            long g64 = SoftFloat.F32ToI64(t.a, t.tr, ref e2);
            long w32 = RefOps.ToInt(RefFormat.S, t.a, 32, t.tr, t.env, t.env.DenormalsAreZero, out var f1, out _);
            long w64 = RefOps.ToInt(RefFormat.S, t.a, 64, t.tr, t.env, t.env.DenormalsAreZero, out var f2, out _);
            return IntDiff(g32, e1.Flags, w32, f1, "cvtss2si") ?? IntDiff(g64, e2.Flags, w64, f2, "cvtss2si64");
        });
        Check(from a in F64 from env in Env from tr in Gen.Elements(false, true) select (a, env, tr), t =>
        {
            FpEnv e1 = t.env, e2 = t.env;
            int g32 = SoftFloat.F64ToI32(t.a, t.tr, ref e1);
            long g64 = SoftFloat.F64ToI64(t.a, t.tr, ref e2);
            long w32 = RefOps.ToInt(RefFormat.D, t.a, 32, t.tr, t.env, t.env.DenormalsAreZero, out var f1, out _);
            long w64 = RefOps.ToInt(RefFormat.D, t.a, 64, t.tr, t.env, t.env.DenormalsAreZero, out var f2, out _);
            return IntDiff(g32, e1.Flags, w32, f1, "cvtsd2si") ?? IntDiff(g64, e2.Flags, w64, f2, "cvtsd2si64");
        });
        // Exponents near 2^15, 2^31, 2^63 so the range limits are crossed often.
        var near = from s in Gen.Elements(0, 0x8000) from e in Gen.Elements(16383 + 14, 16383 + 15, 16383 + 30, 16383 + 31, 16383 + 62, 16383 + 63, 16383 + 64)
                   from f in F80 select new Float80(f.Significand | 1ul << 63, (ushort)(s | e));
        Check(from a in Gen.Frequency((3, F80), (1, near)) from env in Env from tr in Gen.Elements(false, true) select (a, env, tr), t =>
        {
            FpEnv e1 = t.env, e2 = t.env, e3 = t.env;
            short g16 = SoftFloat.F80ToI16(t.a, t.tr, ref e1);
            int g32 = SoftFloat.F80ToI32(t.a, t.tr, ref e2);
            long g64 = SoftFloat.F80ToI64(t.a, t.tr, ref e3);
            long w16 = RefOps.ToInt(RefFormat.X, Bits(t.a), 16, t.tr, t.env, false, out var f1, out _);
            long w32 = RefOps.ToInt(RefFormat.X, Bits(t.a), 32, t.tr, t.env, false, out var f2, out _);
            long w64 = RefOps.ToInt(RefFormat.X, Bits(t.a), 64, t.tr, t.env, false, out var f3, out _);
            return IntDiff(g16, e1.Flags, w16, f1, "fist16") ?? IntDiff(g32, e2.Flags, w32, f2, "fist32") ?? IntDiff(g64, e3.Flags, w64, f3, "fist64");
        });
    }

    [Fact]
    public void RoundToIntegralMatchesReference()
    {
        var modes = Gen.Elements(FpRounding.Nearest, FpRounding.Down, FpRounding.Up, FpRounding.TowardZero);
        Check(from a in F32 from env in Env from m in modes from sup in Gen.Elements(false, true) select (a, env, m, sup), t =>
        {
            FpEnv e = t.env;
            uint got = SoftFloat.RoundInt32(t.a, t.m, t.sup, ref e);
            return Diff(got, e.Flags, RefOps.RoundInt(RefFormat.S, t.a, t.m, t.sup, t.env, out var wf), wf, 8);
        });
        Check(from a in F64 from env in Env from m in modes from sup in Gen.Elements(false, true) select (a, env, m, sup), t =>
        {
            FpEnv e = t.env;
            ulong got = SoftFloat.RoundInt64(t.a, t.m, t.sup, ref e);
            return Diff(got, e.Flags, RefOps.RoundInt(RefFormat.D, t.a, t.m, t.sup, t.env, out var wf), wf, 16);
        });
        Check(from a in F80 from env in Env select (a, env), t =>
        {
            FpEnv e = t.env;
            Float80 got = SoftFloat.RoundToIntegral80(t.a, ref e);
            return Diff(Bits(got), e.Flags, RefOps.RoundInt(RefFormat.X, Bits(t.a), t.env.Rounding, false, t.env, out var wf), wf, 20);
        });
    }

    [Fact]
    public void ComparisonsMatchReference()
    {
        Check(from p in Pair32 from env in Env from q in Gen.Elements(false, true) select (p.A, p.B, env, q), t =>
        {
            FpEnv e = t.env;
            FpCompare got = SoftFloat.Compare32(t.A, t.B, t.q, ref e);
            FpCompare want = RefOps.Compare(RefFormat.S, t.A, t.B, t.q, t.env, out var wf);
            return got == want && e.Flags == wf ? null : $"got {got} [{e.Flags}], want {want} [{wf}]";
        });
        Check(from p in Pair64 from env in Env from q in Gen.Elements(false, true) select (p.A, p.B, env, q), t =>
        {
            FpEnv e = t.env;
            FpCompare got = SoftFloat.Compare64(t.A, t.B, t.q, ref e);
            FpCompare want = RefOps.Compare(RefFormat.D, t.A, t.B, t.q, t.env, out var wf);
            return got == want && e.Flags == wf ? null : $"got {got} [{e.Flags}], want {want} [{wf}]";
        });
        Check(from p in Pair80 from env in Env from q in Gen.Elements(false, true) select (p.A, p.B, env, q), t =>
        {
            FpEnv e = t.env;
            FpCompare got = SoftFloat.Compare80(t.A, t.B, t.q, ref e);
            FpCompare want = RefOps.Compare(RefFormat.X, Bits(t.A), Bits(t.B), t.q, t.env, out var wf);
            return got == want && e.Flags == wf ? null : $"got {got} [{e.Flags}], want {want} [{wf}]";
        });
    }

    [Fact]
    public void PartialRemainderMatchesReference()
    {
        // Exponent differences around 0, 63/64 and far beyond, besides the general pairs.
        var close = from a in F80 from d in Gen.Choose(-3, 100) from b in F80
                    where a.Exponent > 200 && a.Exponent < 0x7F00
                    select (a, new Float80(b.Significand | 1ul << 63, (ushort)((b.SignExponent & 0x8000) | (a.Exponent - d))));
        Check(from p in Gen.Frequency((1, Pair80), (2, close)) from env in Env from ieee in Gen.Elements(false, true) select (p.Item1, p.Item2, env, ieee), t =>
        {
            FpEnv e = t.env;
            Float80 got = SoftFloat.Remainder80(t.Item1, t.Item2, t.ieee, out int q3, out bool inc, ref e);
            UInt128 want = RefOps.Remainder(Bits(t.Item1), Bits(t.Item2), t.ieee, t.env, out var wf, out int wq, out bool winc);
            return Diff(Bits(got), e.Flags, want, wf, 20) ?? (q3 == wq && inc == winc ? null : $"quotient {q3}/{inc}, want {wq}/{winc}");
        });
    }

    [Fact]
    public void ScaleMatchesReference()
    {
        var scale = from s in Gen.Elements(0, 0x8000) from e in Gen.Choose(16383 - 2, 16383 + 17) from f in F80
                    select new Float80(f.Significand | 1ul << 63, (ushort)(s | e));
        Check(from a in F80 from b in Gen.Frequency((1, F80), (3, scale)) from env in Env select (a, b, env), t =>
        {
            FpEnv e = t.env;
            Float80 got = SoftFloat.Scale80(t.a, t.b, ref e);
            return Diff(Bits(got), e.Flags, RefOps.Scale(Bits(t.a), Bits(t.b), t.env, out var wf), wf, 20);
        });
    }

    [Fact]
    public void ExtractRebuildsTheValue() => Check(from a in F80 select a, a =>
    {
        FpEnv e = FpEnv.FromX87ControlWord(0x037F);
        SoftFloat.Extract80(a, out Float80 exp, out Float80 sig, ref e);
        RefValue v = Ref.Decode(RefFormat.X, Bits(a), false);
        if (v.Kind != RefKind.Finite) return null; // special cases are named tests
        int log2 = Ref.FloorLog2(v.Mant, System.Numerics.BigInteger.One) + v.Exp;
        FpExceptions wf = v.Denormal ? Ref.DE : 0;
        UInt128 wantExp = RefOps.FromInt(RefFormat.X, log2, e, out _);
        RefValue s = Ref.Decode(RefFormat.X, Bits(sig), false);
        bool sigOk = s.Kind == RefKind.Finite && !s.Denormal && s.Sign == v.Sign && s.Exp == -63
                     && s.Mant == v.Mant << (int)(64 - v.Mant.GetBitLength());
        return Bits(exp) == wantExp && sigOk && e.Flags == wf ? null : $"exp {exp}, sig {sig} [{e.Flags}]";
    });

    /// <summary>
    /// RoundPack80 (the building block the transcendentals use) against the reference rounding: a
    /// 128-bit significand with sticky (modelled as significand + 1/2), any exponent, every precision
    /// control, rounding mode and OE/UE mask.
    /// </summary>
    [Fact]
    public void RoundPack80MatchesReference()
    {
        var wide = from hi in Ints from lo in Ints from top in Gen.Choose(100, 127) select ((UInt128)(ulong)hi << 64 | (ulong)lo) >> (127 - top) | UInt128.One << top;
        var exps = Gen.Frequency((2, Gen.Choose(-16500, 16500)), (3, Gen.Choose(-16450, -16370)), (2, Gen.Choose(16370, 16390)), (1, Gen.Choose(-60000, 60000)));
        Check(from sig in wide from exp in exps from sign in Gen.Elements(false, true) from sticky in Gen.Elements(false, true) from env in Env
              select (sign, exp, sig, sticky, env), t =>
        {
            FpEnv e = t.env;
            Float80 got = SoftFloat.RoundPack80(t.sign, t.exp, t.sig, t.sticky, t.env.Precision, ref e);
            // value = (sig + sticky/2) × 2^(exp − 127)
            System.Numerics.BigInteger num = (System.Numerics.BigInteger)t.sig * 2 + (t.sticky ? 1 : 0);
            int sh = t.exp - 128;
            var (n, d) = sh >= 0 ? (num << sh, System.Numerics.BigInteger.One) : (num, System.Numerics.BigInteger.One << -sh);
            FpExceptions wf = 0;
            UInt128 want = Ref.Round(RefFormat.X, Ref.PrecisionBits(t.env.Precision), t.sign, n, d, t.env, true, false, ref wf, out bool up);
            return Diff(Bits(got), e.Flags, want, wf, 20) ?? (e.RoundedUp == up ? null : $"C1 {e.RoundedUp}, want {up}");
        });
    }
}
