using FsCheck;
using FsCheck.Fluent;
using Vtx.Float;

namespace Vtx.Tests.Float;

/// <summary>
/// Generators over the full encoding space of each format, mixed with the special values (±0,
/// denormals, min/max normal, ±∞, QNaN/SNaN, indefinite; for 80-bit also pseudo-denormals,
/// unnormals, pseudo-NaNs and pseudo-infinities), exponents near the range boundaries and short
/// significands (so that ties and exact results are common), and related pairs (equal, negated,
/// one ulp apart, same exponent) for cancellation.
/// </summary>
internal static class SoftFloatGen
{
    private static readonly Gen<ulong> Any64 =
        from a in Gen.Choose(0, 0xFFFF)
        from b in Gen.Choose(0, 0xFFFF)
        from c in Gen.Choose(0, 0xFFFF)
        from d in Gen.Choose(0, 0xFFFF)
        select (ulong)(uint)a << 48 | (ulong)(uint)b << 32 | (ulong)(uint)c << 16 | (ulong)(uint)d;

    /// <summary>A fraction of <paramref name="bits"/> bits: random, short (few significant bits), all ones, zero, one.</summary>
    private static Gen<ulong> Fraction(int bits)
    {
        ulong mask = bits == 64 ? ulong.MaxValue : (1ul << bits) - 1;
        return Gen.Frequency(
            (6, Any64.Select(x => x & mask)),
            (3, from x in Any64 from keep in Gen.Choose(1, Math.Min(bits, 12)) select x & mask & ~(mask >> keep)),
            (1, Gen.Elements(0ul, mask, 1ul, 1ul << (bits - 1), mask >> 1)));
    }

    /// <summary>A biased exponent field: uniform, or near 0, the maximum, the bias or half the bias.</summary>
    private static Gen<int> Field(int max, int bias) => Gen.Frequency(
        (4, Gen.Choose(0, max)),
        (2, Gen.Choose(0, 3)),
        (2, Gen.Choose(max - 3, max)),
        (2, Gen.Choose(bias - 3, bias + 3)),
        (2, Gen.Choose(bias / 2 - 40, bias / 2 + 40)),
        (2, Gen.Choose(bias + bias / 2 - 40, bias + bias / 2 + 40)));

    public static readonly Gen<uint> F32 =
        from s in Gen.Elements(0u, 1u)
        from e in Field(255, 127)
        from f in Fraction(23)
        select s << 31 | (uint)e << 23 | (uint)f;

    public static readonly Gen<ulong> F64 =
        from s in Gen.Elements(0ul, 1ul)
        from e in Field(2047, 1023)
        from f in Fraction(52)
        select s << 63 | (ulong)e << 52 | f;

    public static readonly Gen<Float80> F80 =
        from s in Gen.Elements(0, 0x8000)
        from e in Field(0x7FFF, 16383)
        from f in Fraction(63)
        from j in Gen.Frequency((12, Gen.Constant(1ul << 63)), (1, Gen.Constant(0ul)))
        select new Float80(f | (e == 0 ? (f == 0 ? 0 : j ^ (1ul << 63)) : j), (ushort)(s | e));

    /// <summary>Pairs: independent, or the second derived from the first for cancellation and ties.</summary>
    public static Gen<(T A, T B)> Pair<T>(Gen<T> g, Func<T, ulong, T> perturb) => Gen.Frequency(
        (6, from a in g from b in g select (a, b)),
        (2, from a in g from d in Gen.Choose(-4, 4) from which in Gen.Choose(0, 3) select (a, perturb(a, (ulong)(long)d | ((ulong)which << 62)))),
        (1, from a in g select (a, a)));

    public static readonly Gen<(uint A, uint B)> Pair32 = Pair(F32, (a, d) => ((d >> 62) & 1) != 0 ? a ^ 0x8000_0000u : (uint)(a + (uint)(int)(long)(d << 2 >> 2)));
    public static readonly Gen<(ulong A, ulong B)> Pair64 = Pair(F64, (a, d) => ((d >> 62) & 1) != 0 ? a ^ 0x8000_0000_0000_0000ul : a + (ulong)((long)(d << 2) >> 2));
    public static readonly Gen<(Float80 A, Float80 B)> Pair80 = Pair(F80, (a, d) => ((d >> 62) & 1) != 0
        ? new Float80(a.Significand, (ushort)(a.SignExponent ^ 0x8000))
        : new Float80(a.Significand + (ulong)((long)(d << 2) >> 2), a.SignExponent));

    /// <summary>Every rounding mode, precision control, FTZ/DAZ setting, and masked or unmasked OE/UE (others masked).</summary>
    public static readonly Gen<FpEnv> Env =
        from rc in Gen.Elements(FpRounding.Nearest, FpRounding.Down, FpRounding.Up, FpRounding.TowardZero)
        from pc in Gen.Elements(FpPrecision.Single, FpPrecision.Double, FpPrecision.Extended)
        from ftz in Gen.Elements(false, true)
        from daz in Gen.Elements(false, true)
        from masks in Gen.Elements(FpExceptions.All, FpExceptions.All & ~FpExceptions.Underflow, FpExceptions.All & ~FpExceptions.Overflow,
            FpExceptions.All & ~(FpExceptions.Overflow | FpExceptions.Underflow), FpExceptions.None)
        select new FpEnv { Rounding = rc, Precision = pc, FlushToZero = ftz, DenormalsAreZero = daz, Masks = masks };

    public static readonly Gen<long> Ints = Gen.Frequency(
        (4, Any64.Select(x => (long)x)),
        (2, from x in Any64 from k in Gen.Choose(0, 63) select (long)x >> k),
        (1, Gen.Elements(0L, 1L, -1L, long.MinValue, long.MaxValue, int.MinValue, int.MaxValue, (1L << 24) + 1, (1L << 53) + 1, -(1L << 53) - 3)));

    /// <summary>The exact value ±m × 2^x encoded in format f (it must be representable).</summary>
    private static UInt128 Exact(RefFormat f, bool sign, System.Numerics.BigInteger m, int x)
    {
        FpExceptions fl = 0;
        var env = new FpEnv { Masks = FpExceptions.All };
        var (n, d) = x >= 0 ? (m << x, System.Numerics.BigInteger.One) : (m, System.Numerics.BigInteger.One << -x);
        return Ref.Round(f, f.P, sign, n, d, env, false, false, ref fl, out _);
    }

    /// <summary>
    /// Operand pairs whose exact product or sum lies within a few units of the last place of 2^emin
    /// or 2^(emax+1), for every significand width m + 1 that rounding can use (24, 53, 64 with x87
    /// precision control): a = (1 + k·2^−m)·2^ea and b = (1 − j·2^−m)·2^(E−ea) give a·b =
    /// 2^E·(1 + (k−j)·2^−m − kj·2^−2m); a = 2^E, b = −j·2^(E−m−d) gives a sum just below 2^E. These
    /// decide tininess before/after rounding, overflow by rounding mode, and FTZ at the threshold.
    /// </summary>
    public static Gen<(UInt128 A, UInt128 B)> Boundary(RefFormat f)
    {
        int[] widths = f.IsX87 ? new[] { 23, 52, 63 } : new[] { f.P - 1 };
        return from m in Gen.Elements(widths)
               from k in Gen.Choose(0, 3)
               from j in Gen.Choose(0, 3)
               from hi in Gen.Elements(false, true)
               from ea in Gen.Choose(-1, 1)
               from deep in Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Choose(-3, 3)))
               from sa in Gen.Elements(false, true)
               from sb in Gen.Elements(false, true)
               from kind in Gen.Choose(0, 2)
               from d in Gen.Choose(1, 3)
               from swap in Gen.Elements(false, true)
               let E = (hi ? f.Emax + 1 : f.Emin) + deep
               let one = System.Numerics.BigInteger.One << m
               let pair = kind < 2
                   ? (Exact(f, sa, one + k, ea - m), Exact(f, sb, one - j, E - ea - m))
                   : (Exact(f, sa, System.Numerics.BigInteger.One, E), Exact(f, !sa ^ sb, j + 1, E - m - d))
               select swap ? (pair.Item2, pair.Item1) : pair;
    }

    public static UInt128 Bits(Float80 v) => (UInt128)v.SignExponent << 64 | v.Significand;
    public static Float80 F(UInt128 b) => new((ulong)b, (ushort)(b >> 64));
}
