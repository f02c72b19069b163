using Vtx.Decoding;

namespace Vtx;

// RCPPS/RCPSS/RSQRTPS/RSQRTSS (SDM Vol. 2): approximations with |relative error| <= 1.5 * 2^-12.
//
// Decision: Intel documents only the error bound; the exact outputs are implementation tables that
// differ between Intel and AMD parts (and between generations), are not published, and Bochs does
// not reproduce them either (bochs/cpu/sse_rcp.cc computes its own tables: 1/(1.yyyyyyyyyy1) rounded
// to 11 fraction bits). Vtx therefore implements its own deterministic approximation, derived here
// rather than copied: the significand is split into intervals by its leading SfApproxIndexBits fraction
// bits (and, for RSQRT, the exponent's parity); each interval gets the 12-bit value k/4096 that
// minimizes the largest relative error over the interval (of the two 12-bit neighbours of the
// minimax real value). Tables are computed once at start-up in double precision (IEEE, so the same on
// every host); Vtx.Tests checks the bound exhaustively over every significand.
//
// Special values (SDM Vol. 2, RCPPS/RSQRTPS): ±0 and ±denormals (always treated as zero, whatever
// MXCSR.DAZ) give ±inf; RCP(±inf) = ±0; RSQRT(+inf) = +0; RSQRT of a negative nonzero value (or
// -inf) gives the default QNaN FFC00000h; an SNaN is quieted, a QNaN is returned; tiny RCP results
// (biased exponent 0) are flushed to ±0. MXCSR is neither read nor written: no exceptions.
public sealed partial class Cpu
{
    /// <summary>Fraction bits that select an interval of the approximation tables.</summary>
    internal const int SfApproxIndexBits = 12;

    /// <summary>RCP: per interval of [1, 2), the result significand k (1/x ~ k/4096, 2048 &lt;= k &lt;= 4096).</summary>
    private static readonly ushort[] SfRcpTable = SfBuildApproxTable(false);

    /// <summary>RSQRT: per interval of [1, 4) (even exponents first, then [2, 4) for odd ones), k with 1/sqrt(x) ~ k/4096.</summary>
    private static readonly ushort[] SfRsqrtTable = SfBuildApproxTable(true);

    private static ushort[] SfBuildApproxTable(bool rsqrt)
    {
        int n = 1 << SfApproxIndexBits;
        var table = new ushort[rsqrt ? 2 * n : n];
        for (int i = 0; i < table.Length; i++)
        {
            int frac = i & (n - 1);
            double scale = rsqrt && i >= n ? 2.0 : 1.0;
            // Interval of inputs [a, b]: b is the largest binary32 significand in the interval.
            double a = scale * (1.0 + (double)frac / n);
            double b = scale * (1.0 + (double)(frac + 1) / n - Math.ScaleB(1.0, -23));
            double fa = rsqrt ? Math.Sqrt(a) : a, fb = rsqrt ? Math.Sqrt(b) : b;
            double ideal = 2.0 / (fa + fb); // equal relative error at both ends
            int k0 = (int)Math.Floor(ideal * 4096.0);
            ushort best = 0;
            double bestErr = double.MaxValue;
            for (int k = k0; k <= k0 + 1; k++)
            {
                double r = k / 4096.0;
                double err = Math.Max(Math.Abs(r * fa - 1.0), Math.Abs(r * fb - 1.0));
                if (err < bestErr) { bestErr = err; best = (ushort)k; }
            }
            table[i] = best;
        }
        return table;
    }

    /// <summary>Packs k/4096 * 2^p (2048 &lt;= k &lt;= 4096) as binary32; tiny results flush to +0.</summary>
    private static uint SfPackApprox(int k, int p)
    {
        int biased = k == 4096 ? p + 127 : p + 126;
        if (biased <= 0) return 0; // tiny: flushed to zero (SDM Vol. 2, RCPPS)
        uint fraction = k == 4096 ? 0u : (uint)(k - 2048) << 12;
        return ((uint)biased << 23) | fraction;
    }

    /// <summary>The RCPPS approximation of one binary32 value (see the file comment).</summary>
    internal static uint SfRcp32(uint x)
    {
        uint sign = x & 0x8000_0000;
        int e = (int)(x >> 23) & 0xFF;
        uint f = x & 0x7F_FFFF;
        if (e == 0xFF) return f != 0 ? x | 0x40_0000 : sign; // NaN (quieted) / ±inf -> ±0
        if (e == 0) return sign | 0x7F80_0000;                // ±0 and denormals -> ±inf
        int k = SfRcpTable[f >> (23 - SfApproxIndexBits)];
        return sign | SfPackApprox(k, 127 - e);
    }

    /// <summary>The RSQRTPS approximation of one binary32 value (see the file comment).</summary>
    internal static uint SfRsqrt32(uint x)
    {
        uint sign = x & 0x8000_0000;
        int e = (int)(x >> 23) & 0xFF;
        uint f = x & 0x7F_FFFF;
        if (e == 0xFF && f != 0) return x | 0x40_0000;        // NaN, quieted
        if (e == 0) return sign | 0x7F80_0000;                // ±0, ±denormal -> ±inf
        if (sign != 0) return 0xFFC0_0000;                    // negative (including -inf): QNaN indefinite
        if (e == 0xFF) return 0;                              // +inf -> +0
        int unbiased = e - 127;
        int odd = unbiased & 1;
        int k = SfRsqrtTable[(odd << SfApproxIndexBits) | (int)(f >> (23 - SfApproxIndexBits))];
        // x = m * 2^(unbiased - odd) with m in [1, 4): 1/sqrt(x) = 1/sqrt(m) * 2^-((unbiased - odd) / 2).
        return SfPackApprox(k, -((unbiased - odd) >> 1));
    }

    /// <summary>RCPPS (variant 0) / RSQRTPS (variant 1) xmm, xmm/m128.</summary>
    private static void SfApproxPacked(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong lo, out ulong hi)) return;
        bool rsqrt = d.Cond != 0;
        ulong r0 = rsqrt ? SfRsqrt32((uint)lo) : SfRcp32((uint)lo);
        ulong r1 = rsqrt ? SfRsqrt32((uint)(lo >> 32)) : SfRcp32((uint)(lo >> 32));
        ulong r2 = rsqrt ? SfRsqrt32((uint)hi) : SfRcp32((uint)hi);
        ulong r3 = rsqrt ? SfRsqrt32((uint)(hi >> 32)) : SfRcp32((uint)(hi >> 32));
        c.XmmLane(d.Reg, 0) = r0 | (r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | (r3 << 32);
    }

    /// <summary>RCPSS (variant 0) / RSQRTSS (variant 1) xmm, xmm/m32: bits 127:32 unchanged.</summary>
    private static void SfApproxScalar(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong s, out _)) return;
        uint r = d.Cond != 0 ? SfRsqrt32((uint)s) : SfRcp32((uint)s);
        ref ulong lane = ref c.XmmLane(d.Reg, 0);
        lane = (lane & 0xFFFF_FFFF_0000_0000) | r;
    }
}
