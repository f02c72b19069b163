using Vtx.Tests.Native;

namespace Vtx.Tests.Differential;

/// <summary>
/// Operand values for the table-driven differential runner: full-range random bits mixed, per lane, with the special
/// values of each format (SDM Vol. 1, 4.2 and 4.8: ±0, denormals, ±inf, QNaN, SNaN, the QNaN indefinite, max/min
/// normal, the integer indefinite, values that overflow or round at the integer conversion limits).
/// </summary>
public static class SimdValues
{
    /// <summary>binary32 specials.</summary>
    public static readonly uint[] F32 =
    [
        0x0000_0000, 0x8000_0000,                           // ±0
        0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x807F_FFFF, 0x0040_0000, // denormals
        0x0080_0000, 0x8080_0000, 0x7F7F_FFFF, 0xFF7F_FFFF, // min/max normal
        0x7F80_0000, 0xFF80_0000,                           // ±inf
        0x7FC0_0000, 0xFFC0_0000, 0x7FFF_FFFF, 0xFFC0_1234, // QNaNs (FFC00000h = indefinite)
        0x7F80_0001, 0xFFA0_0000, 0x7FBF_FFFF,              // SNaNs
        0x3F80_0000, 0xBF80_0000, 0x3F00_0000, 0xBF00_0000, 0x3FC0_0000, 0xC020_0000, 0x4040_0000, // 1, 0.5, 1.5, -2.5, 3
        0x4F00_0000, 0xCF00_0000, 0x4EFF_FFFF, 0xCF00_0001, // ±2^31 and neighbours (cvt to int32)
        0x5F00_0000, 0xDF00_0000, 0x5EFF_FFFF, 0xDF00_0001, // ±2^63 and neighbours (cvt to int64)
        0x4B00_0000, 0x4AFF_FFFF, 0x4B7F_FFFF, 0xCB00_0001, // 2^23 region (round to integral)
        0x3400_0000, 0x3380_0000, 0x0080_0001, 0x00FF_FFFF, // tiny, near min normal
    ];

    /// <summary>binary64 specials.</summary>
    public static readonly ulong[] F64 =
    [
        0x0000_0000_0000_0000, 0x8000_0000_0000_0000,
        0x0000_0000_0000_0001, 0x8000_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF, 0x800F_FFFF_FFFF_FFFF, 0x0008_0000_0000_0000,
        0x0010_0000_0000_0000, 0x8010_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF,
        0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000,
        0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0xFFF8_0000_1234_5678,
        0x7FF0_0000_0000_0001, 0xFFF4_0000_0000_0000, 0x7FF7_FFFF_FFFF_FFFF,
        0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x3FE0_0000_0000_0000, 0x3FF8_0000_0000_0000, 0xC004_0000_0000_0000,
        0x41E0_0000_0000_0000, 0xC1E0_0000_0000_0000, 0x41DF_FFFF_FFC0_0000, 0xC1E0_0000_0020_0000, 0x41DF_FFFF_FFE0_0000, // 2^31 limits, 2^31-0.5
        0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000, 0x43DF_FFFF_FFFF_FFFF, 0xC3E0_0000_0000_0001, // 2^63 limits
        0x4330_0000_0000_0000, 0x432F_FFFF_FFFF_FFFF, 0xC330_0000_0000_0001,                          // 2^52 region
        0x47EF_FFFF_E000_0000, 0x47EF_FFFF_F000_0000, 0x47F0_0000_0000_0000, 0xC7F0_0000_0000_0000,    // binary32 overflow edge
        0x3810_0000_0000_0000, 0x380F_FFFF_F000_0000, 0x3800_0000_0000_0000, 0x36A0_0000_0000_0000, 0x3690_0000_0000_0000, // binary32 underflow edge
    ];

    /// <summary>32-bit integer specials (the integer indefinite 80000000h, limits, values not exact in binary32).</summary>
    public static readonly uint[] I32 =
    [
        0, 1, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0x0100_0001, 0x00FF_FFFF, 0xFEFF_FFFF, 0x7FFF_FFC0, 0x7FFF_FF80,
        0x0000_7FFF, 0x0000_8000, 0xFFFF_8000, 0x0000_00FF, 0x0000_0080, 0xFFFF_FF80,
    ];

    /// <summary>64-bit integer specials.</summary>
    public static readonly ulong[] I64 =
    [
        0, 1, ulong.MaxValue, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, 0x0020_0000_0000_0001,
        0x0000_0000_8000_0000, 0xFFFF_FFFF_7FFF_FFFF, 0x7FFF_FFFF_FFFF_FC00, 0x0100_0000_0000_0001, 0x0000_0000_0100_0001,
    ];

    /// <summary>x87 double-extended specials as (sign/exponent, significand) (SDM Vol. 1, 8.2.2, Table 8-3).</summary>
    public static readonly (ushort Se, ulong Sig)[] F80 =
    [
        (0x0000, 0), (0x8000, 0),                                                          // ±0
        (0x0000, 1), (0x8000, 0x7FFF_FFFF_FFFF_FFFF), (0x0000, 0x4000_0000_0000_0000),       // denormals
        (0x0001, 0x8000_0000_0000_0000), (0x8001, 0x8000_0000_0000_0000),                  // min normal
        (0x7FFE, 0xFFFF_FFFF_FFFF_FFFF), (0xFFFE, 0xFFFF_FFFF_FFFF_FFFF),                  // max normal
        (0x7FFF, 0x8000_0000_0000_0000), (0xFFFF, 0x8000_0000_0000_0000),                  // ±inf
        (0x7FFF, 0xC000_0000_0000_0000), (0xFFFF, 0xC000_0000_0000_0000), (0x7FFF, 0xC000_0000_1234_5678), // QNaN, indefinite
        (0x7FFF, 0x8000_0000_0000_0001), (0xFFFF, 0xA000_0000_0000_0000), (0x7FFF, 0xBFFF_FFFF_FFFF_FFFF), // SNaN
        (0x3FFF, 0x8000_0000_0000_0000), (0xBFFF, 0x8000_0000_0000_0000), (0x3FFE, 0x8000_0000_0000_0000), // ±1, 0.5
        (0x3FFF, 0xC000_0000_0000_0000), (0xC000, 0xA000_0000_0000_0000),                  // 1.5, -2.5
        (0x401E, 0x8000_0000_0000_0000), (0xC01E, 0x8000_0000_0000_0000), (0x401D, 0xFFFF_FFFF_0000_0000), (0xC01E, 0x8000_0001_0000_0000), // 2^31
        (0x403E, 0x8000_0000_0000_0000), (0xC03E, 0x8000_0000_0000_0000), (0x403D, 0xFFFF_FFFF_FFFF_FFFF), (0xC03E, 0x8000_0000_0000_0001), // 2^63
        (0x400E, 0x8000_0000_0000_0000), (0xC00E, 0x8000_0000_0000_0000), (0xC00E, 0x8001_0000_0000_0000), // 2^15 (FIST m16)
        (0x4040, 0xDE0B_6B3A_7640_0000), (0xC03F, 0xDE0B_6B3A_763F_FFFF), // 10^18 (FBSTP limit) and just below -10^18/2
        (0x3C00, 0x8000_0000_0000_0000), (0x3F80, 0x8000_0000_0000_0000), (0x43FF, 0x8000_0000_0000_0000), // binary64 edges
        (0x3FFF, 0xC90F_DAA2_2168_C235), (0x4000, 0xC90F_DAA2_2168_C235),                  // pi/2, pi
        // Unsupported encodings (SDM Vol. 1, 8.2.2): both vendors raise #IA for them as operands (AMD APM Vol. 1, 6.2.3).
        (0x3FFF, 0x4000_0000_0000_0000), (0x7FFF, 0x4000_0000_0000_0000), (0x7FFF, 0),     // unnormal, pseudo-NaN, pseudo-inf
        (0x0000, 0x8000_0000_0000_0001),                                                   // pseudo-denormal
    ];

    /// <summary>A random binary32 value: special, random-bit, or random sign/exponent/significand.</summary>
    public static uint Float32(Random r) => r.Next(10) switch
    {
        < 4 => F32[r.Next(F32.Length)],
        < 6 => (uint)r.Next() ^ ((uint)r.Next(2) << 31),
        _ => ((uint)r.Next(2) << 31) | ((uint)(r.Next(3) == 0 ? r.Next(256) : 127 + r.Next(-40, 40)) << 23) | ((uint)r.Next() & 0x7F_FFFF),
    };

    /// <summary>A random binary64 value.</summary>
    public static ulong Float64(Random r) => r.Next(10) switch
    {
        < 4 => F64[r.Next(F64.Length)],
        < 6 => (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63),
        _ => ((ulong)r.Next(2) << 63) | ((ulong)(r.Next(3) == 0 ? r.Next(2048) : 1023 + r.Next(-70, 70)) << 52) | ((ulong)r.NextInt64() & 0xF_FFFF_FFFF_FFFF),
    };

    /// <summary>A random 64-bit integer pattern (edges, specials, uniform).</summary>
    public static ulong Int64(Random r) => r.Next(6) switch
    {
        0 => I64[r.Next(I64.Length)],
        1 => Values.Edges[r.Next(Values.Edges.Length)],
        2 => (ulong)(long)(int)I32[r.Next(I32.Length)],
        _ => (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63),
    };

    /// <summary>A random x87 value (special or random with the integer bit set).</summary>
    public static (ushort Se, ulong Sig) Float80(Random r) => r.Next(10) switch
    {
        < 4 => F80[r.Next(F80.Length)],
        < 5 => ((ushort)r.Next(0x10000), (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63)),
        _ => ((ushort)((r.Next(2) << 15) | (r.Next(4) == 0 ? r.Next(1, 0x7FFF) : 0x3FFF + r.Next(-80, 80))), (ulong)r.NextInt64() | (1UL << 63)),
    };

    /// <summary>Lane layouts an XMM/MMX value is drawn from.</summary>
    public enum LaneKind { Float32, Float64, Int32, Int64, Bits }

    /// <summary>A 64-bit chunk made of lanes of <paramref name="kind"/>.</summary>
    public static ulong Chunk(Random r, LaneKind kind) => kind switch
    {
        LaneKind.Float32 => Float32(r) | ((ulong)Float32(r) << 32),
        LaneKind.Float64 => Float64(r),
        LaneKind.Int32 => I32[r.Next(I32.Length)] | ((ulong)(r.Next(2) == 0 ? I32[r.Next(I32.Length)] : (uint)r.Next()) << 32),
        LaneKind.Int64 => Int64(r),
        _ => (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63),
    };

    /// <summary>
    /// A random safe x87/SSE state: every exception masked (so the native run cannot raise SIGFPE), FSW.ES = 0, random
    /// rounding (MXCSR.RC, FCW.RC), FTZ/DAZ, precision control (00/10/11; 01 is reserved, SDM Vol. 1, 8.1.5.2), sticky flags,
    /// TOP, tags and register contents. <paramref name="preferred"/> biases the XMM lane layout towards the instruction's.
    /// </summary>
    public static FxState RandomState(Random r, LaneKind preferred, uint hostMxcsrMask)
    {
        var fx = new FxState();
        int pc = r.Next(3) switch { 0 => 0, 1 => 2, _ => 3 };
        fx.Fcw = (ushort)(0x0040 | FxState.FcwMasks | (pc << 8) | (r.Next(4) << 10));
        // Status: exception flags (incl. SF) random but not ES/B, C0-C3 random, TOP random.
        fx.Fsw = (ushort)((r.Next(3) == 0 ? r.Next(0x80) : 0) | (r.Next(16) is var cc ? ((cc & 7) << 8) | ((cc >> 3) << 14) : 0));
        fx.Top = r.Next(8);
        fx.Ftw = (byte)(r.Next(4) switch { 0 => 0, 1 => 0xFF, _ => r.Next(256) });
        fx.Fop = (ushort)r.Next(0x800);
        fx.Fip = (ulong)r.NextInt64();
        fx.Fdp = (ulong)r.NextInt64();
        uint mxcsr = FxState.MxcsrMasks | ((uint)r.Next(4) << 13);
        if (r.Next(3) == 0) mxcsr |= (uint)r.Next(0x40) & 0x3F;
        if (r.Next(2) == 0) mxcsr |= 0x8000;                                  // FTZ
        if (r.Next(2) == 0 && (hostMxcsrMask & 0x40) != 0) mxcsr |= 0x40;     // DAZ
        fx.Mxcsr = mxcsr;
        for (int i = 0; i < 8; i++)
        {
            var (se, sig) = Float80(r);
            fx.SetPhysical(i, sig, se);
        }
        for (int i = 0; i < 16; i++)
        {
            LaneKind k = r.Next(2) == 0 ? preferred : (LaneKind)r.Next(5);
            fx.SetXmm(i, new UInt128(Chunk(r, k), Chunk(r, k)));
        }
        // Equal operands matter (CMPxx, MIN/MAX of ±0): sometimes duplicate a register or a lane.
        if (r.Next(4) == 0) fx.SetXmm(r.Next(16), fx.GetXmm(r.Next(16)));
        if (r.Next(4) == 0)
        {
            int a = r.Next(8), b = r.Next(8);
            var (sig, se) = fx.GetPhysical(a);
            fx.SetPhysical(b, sig, se);
        }
        return fx;
    }
}
