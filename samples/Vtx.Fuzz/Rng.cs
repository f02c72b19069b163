namespace Vtx.Fuzz;

/// <summary>
/// The fuzzer's pseudo-random generator (xoshiro256**, seeded through SplitMix64): a case seed always
/// gives the same stream on every machine and .NET version, so a reported seed replays its case.
/// </summary>
public struct Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator whose whole stream is determined by <paramref name="seed"/>.</summary>
    public Rng(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    /// <summary>One step of SplitMix64 (also used to derive case seeds from a campaign seed).</summary>
    public static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A value in [0, <paramref name="n"/>) (n &gt; 0).</summary>
    public int Below(int n) => (int)(Next() % (ulong)n);

    /// <summary>True with probability <paramref name="percent"/>/100.</summary>
    public bool Chance(int percent) => Below(100) < percent;

    /// <summary>One of <paramref name="items"/>.</summary>
    public T Pick<T>(params T[] items) => items[Below(items.Length)];

    /// <summary>Fills <paramref name="dest"/> with random bytes.</summary>
    public void Fill(Span<byte> dest)
    {
        for (int i = 0; i < dest.Length; i++) dest[i] = (byte)Next();
    }

    /// <summary>
    /// A register value biased toward what finds bugs: full-range bits, zero, all ones, small
    /// values, an address inside <paramref name="lo"/>..<paramref name="hi"/>, or a non-canonical address.
    /// </summary>
    public ulong Value(ulong lo, ulong hi) => Below(8) switch
    {
        0 => 0,
        1 => ulong.MaxValue,
        2 => (ulong)Below(256),
        3 or 4 => lo + Next() % (hi - lo),
        5 => 0x8000_0000_0000_0000UL | Next() >> 20,
        _ => Next(),
    };
}
