using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

// Packed logic, integer arithmetic, comparison, shift and the SSE4.1 miscellany (PTEST, MPSADBW,
// PHMINPOSUW, PMOVSX/ZX) of MMX, SSE2, SSSE3 and SSE4.1: SDM Vol. 1, 9.4, 11.4.4, 12.3, 12.10 and
// the Vol. 2 pages. Element semantics are the generic lane operations below, one line each.
public sealed unsafe partial class Cpu
{
    private struct SiAndOp : ISiLane<ulong> { public static ulong Op(ulong a, ulong b) => a & b; }
    private struct SiAndNOp : ISiLane<ulong> { public static ulong Op(ulong a, ulong b) => ~a & b; }
    private struct SiOrOp : ISiLane<ulong> { public static ulong Op(ulong a, ulong b) => a | b; }
    private struct SiXorOp : ISiLane<ulong> { public static ulong Op(ulong a, ulong b) => a ^ b; }

    /// <summary>Wrap-around addition (PADDB/SiW/D/Q).</summary>
    private struct SiAddOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => a + b; }
    /// <summary>Wrap-around subtraction (PSUBB/SiW/D/Q).</summary>
    private struct SiSubOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => a - b; }
    /// <summary>Saturating addition, signed or unsigned by the element type (PADDS*, PADDUS*).</summary>
    private struct SiAddSatOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => SiSat<T>(SiW(a) + SiW(b)); }
    /// <summary>Saturating subtraction (PSUBS*, PSUBUS*).</summary>
    private struct SiSubSatOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => SiSat<T>(SiW(a) - SiW(b)); }
    /// <summary>Low half of the product (PMULLW, PMULLD).</summary>
    private struct SiMulLoOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => a * b; }
    /// <summary>High half of the product, signed or unsigned by the element type (PMULHW, PMULHUW).</summary>
    private struct SiMulHiOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T>
    { public static T Op(T a, T b) => T.CreateTruncating((SiW(a) * SiW(b)) >> (Unsafe.SizeOf<T>() * 8)); }
    /// <summary>PMULHRSW: bits 16:1 of ((a*b >> 14) + 1).</summary>
    private struct SiMulHrsOp : ISiLane<short> { public static short Op(short a, short b) => (short)((((a * b) >> 14) + 1) >> 1); }
    /// <summary>PMULUDQ: unsigned 32x32 -> 64 of the low doublewords.</summary>
    private struct SiMulUdqOp : ISiLane<ulong> { public static ulong Op(ulong a, ulong b) => (a & 0xFFFF_FFFF) * (b & 0xFFFF_FFFF); }
    /// <summary>PMULDQ: signed 32x32 -> 64 of the low doublewords.</summary>
    private struct SiMulDqOp : ISiLane<ulong> { public static ulong Op(ulong a, ulong b) => (ulong)((long)(int)a * (int)b); }
    /// <summary>Rounded unsigned average (PAVGB, PAVGW).</summary>
    private struct SiAvgOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => T.CreateTruncating((SiW(a) + SiW(b) + 1) >> 1); }
    private struct SiMinOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => T.Min(a, b); }
    private struct SiMaxOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => T.Max(a, b); }
    /// <summary>PABS*: |source| (the most negative value stays, read as unsigned it is 2^(n-1)).</summary>
    private struct SiAbsOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => T.IsNegative(b) ? T.Zero - b : b; }
    /// <summary>PSIGN*: negate, zero or keep the destination element by the sign of the source element.</summary>
    private struct SiSignOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T>
    { public static T Op(T a, T b) => T.IsNegative(b) ? T.Zero - a : T.IsZero(b) ? T.Zero : a; }
    private struct SiEqOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => a == b ? T.AllBitsSet : T.Zero; }
    /// <summary>Signed greater-than (PCMPGT*): the element type is signed.</summary>
    private struct SiGtOp<T> : ISiLane<T> where T : unmanaged, IBinaryInteger<T> { public static T Op(T a, T b) => a > b ? T.AllBitsSet : T.Zero; }

    private static void RegisterSimdLogicArith(InstructionTable t)
    {
        // Logic (SDM Vol. 1, 9.4.5, 10.4.3, 11.4.4)
        SiReg(t, Code.Pand_mm_mmm64, &SiLanewise<ulong, SiAndOp>); SiReg(t, Code.Pand_xmm_xmmm128, &SiLanewise<ulong, SiAndOp>);
        SiReg(t, Code.Andps_xmm_xmmm128, &SiLanewise<ulong, SiAndOp>); SiReg(t, Code.Andpd_xmm_xmmm128, &SiLanewise<ulong, SiAndOp>);
        SiReg(t, Code.Pandn_mm_mmm64, &SiLanewise<ulong, SiAndNOp>); SiReg(t, Code.Pandn_xmm_xmmm128, &SiLanewise<ulong, SiAndNOp>);
        SiReg(t, Code.Andnps_xmm_xmmm128, &SiLanewise<ulong, SiAndNOp>); SiReg(t, Code.Andnpd_xmm_xmmm128, &SiLanewise<ulong, SiAndNOp>);
        SiReg(t, Code.Por_mm_mmm64, &SiLanewise<ulong, SiOrOp>); SiReg(t, Code.Por_xmm_xmmm128, &SiLanewise<ulong, SiOrOp>);
        SiReg(t, Code.Orps_xmm_xmmm128, &SiLanewise<ulong, SiOrOp>); SiReg(t, Code.Orpd_xmm_xmmm128, &SiLanewise<ulong, SiOrOp>);
        SiReg(t, Code.Pxor_mm_mmm64, &SiLanewise<ulong, SiXorOp>); SiReg(t, Code.Pxor_xmm_xmmm128, &SiLanewise<ulong, SiXorOp>);
        SiReg(t, Code.Xorps_xmm_xmmm128, &SiLanewise<ulong, SiXorOp>); SiReg(t, Code.Xorpd_xmm_xmmm128, &SiLanewise<ulong, SiXorOp>);

        // Add / subtract, wrap-around and saturating
        SiReg(t, Code.Paddb_mm_mmm64, &SiLanewise<byte, SiAddOp<byte>>); SiReg(t, Code.Paddb_xmm_xmmm128, &SiLanewise<byte, SiAddOp<byte>>);
        SiReg(t, Code.Paddw_mm_mmm64, &SiLanewise<ushort, SiAddOp<ushort>>); SiReg(t, Code.Paddw_xmm_xmmm128, &SiLanewise<ushort, SiAddOp<ushort>>);
        SiReg(t, Code.Paddd_mm_mmm64, &SiLanewise<uint, SiAddOp<uint>>); SiReg(t, Code.Paddd_xmm_xmmm128, &SiLanewise<uint, SiAddOp<uint>>);
        SiReg(t, Code.Paddq_mm_mmm64, &SiLanewise<ulong, SiAddOp<ulong>>); SiReg(t, Code.Paddq_xmm_xmmm128, &SiLanewise<ulong, SiAddOp<ulong>>);
        SiReg(t, Code.Psubb_mm_mmm64, &SiLanewise<byte, SiSubOp<byte>>); SiReg(t, Code.Psubb_xmm_xmmm128, &SiLanewise<byte, SiSubOp<byte>>);
        SiReg(t, Code.Psubw_mm_mmm64, &SiLanewise<ushort, SiSubOp<ushort>>); SiReg(t, Code.Psubw_xmm_xmmm128, &SiLanewise<ushort, SiSubOp<ushort>>);
        SiReg(t, Code.Psubd_mm_mmm64, &SiLanewise<uint, SiSubOp<uint>>); SiReg(t, Code.Psubd_xmm_xmmm128, &SiLanewise<uint, SiSubOp<uint>>);
        SiReg(t, Code.Psubq_mm_mmm64, &SiLanewise<ulong, SiSubOp<ulong>>); SiReg(t, Code.Psubq_xmm_xmmm128, &SiLanewise<ulong, SiSubOp<ulong>>);
        SiReg(t, Code.Paddsb_mm_mmm64, &SiLanewise<sbyte, SiAddSatOp<sbyte>>); SiReg(t, Code.Paddsb_xmm_xmmm128, &SiLanewise<sbyte, SiAddSatOp<sbyte>>);
        SiReg(t, Code.Paddsw_mm_mmm64, &SiLanewise<short, SiAddSatOp<short>>); SiReg(t, Code.Paddsw_xmm_xmmm128, &SiLanewise<short, SiAddSatOp<short>>);
        SiReg(t, Code.Paddusb_mm_mmm64, &SiLanewise<byte, SiAddSatOp<byte>>); SiReg(t, Code.Paddusb_xmm_xmmm128, &SiLanewise<byte, SiAddSatOp<byte>>);
        SiReg(t, Code.Paddusw_mm_mmm64, &SiLanewise<ushort, SiAddSatOp<ushort>>); SiReg(t, Code.Paddusw_xmm_xmmm128, &SiLanewise<ushort, SiAddSatOp<ushort>>);
        SiReg(t, Code.Psubsb_mm_mmm64, &SiLanewise<sbyte, SiSubSatOp<sbyte>>); SiReg(t, Code.Psubsb_xmm_xmmm128, &SiLanewise<sbyte, SiSubSatOp<sbyte>>);
        SiReg(t, Code.Psubsw_mm_mmm64, &SiLanewise<short, SiSubSatOp<short>>); SiReg(t, Code.Psubsw_xmm_xmmm128, &SiLanewise<short, SiSubSatOp<short>>);
        SiReg(t, Code.Psubusb_mm_mmm64, &SiLanewise<byte, SiSubSatOp<byte>>); SiReg(t, Code.Psubusb_xmm_xmmm128, &SiLanewise<byte, SiSubSatOp<byte>>);
        SiReg(t, Code.Psubusw_mm_mmm64, &SiLanewise<ushort, SiSubSatOp<ushort>>); SiReg(t, Code.Psubusw_xmm_xmmm128, &SiLanewise<ushort, SiSubSatOp<ushort>>);

        // Multiply
        SiReg(t, Code.Pmullw_mm_mmm64, &SiLanewise<ushort, SiMulLoOp<ushort>>); SiReg(t, Code.Pmullw_xmm_xmmm128, &SiLanewise<ushort, SiMulLoOp<ushort>>);
        SiReg(t, Code.Pmulld_xmm_xmmm128, &SiLanewise<uint, SiMulLoOp<uint>>);
        SiReg(t, Code.Pmulhw_mm_mmm64, &SiLanewise<short, SiMulHiOp<short>>); SiReg(t, Code.Pmulhw_xmm_xmmm128, &SiLanewise<short, SiMulHiOp<short>>);
        SiReg(t, Code.Pmulhuw_mm_mmm64, &SiLanewise<ushort, SiMulHiOp<ushort>>); SiReg(t, Code.Pmulhuw_xmm_xmmm128, &SiLanewise<ushort, SiMulHiOp<ushort>>);
        SiReg(t, Code.Pmulhrsw_mm_mmm64, &SiLanewise<short, SiMulHrsOp>); SiReg(t, Code.Pmulhrsw_xmm_xmmm128, &SiLanewise<short, SiMulHrsOp>);
        SiReg(t, Code.Pmuludq_mm_mmm64, &SiLanewise<ulong, SiMulUdqOp>); SiReg(t, Code.Pmuludq_xmm_xmmm128, &SiLanewise<ulong, SiMulUdqOp>);
        SiReg(t, Code.Pmuldq_xmm_xmmm128, &SiLanewise<ulong, SiMulDqOp>);
        SiReg(t, Code.Pmaddwd_mm_mmm64, &Pmaddwd); SiReg(t, Code.Pmaddwd_xmm_xmmm128, &Pmaddwd);
        SiReg(t, Code.Pmaddubsw_mm_mmm64, &Pmaddubsw); SiReg(t, Code.Pmaddubsw_xmm_xmmm128, &Pmaddubsw);

        // Average, sum of absolute differences, min/max, abs, sign
        SiReg(t, Code.Pavgb_mm_mmm64, &SiLanewise<byte, SiAvgOp<byte>>); SiReg(t, Code.Pavgb_xmm_xmmm128, &SiLanewise<byte, SiAvgOp<byte>>);
        SiReg(t, Code.Pavgw_mm_mmm64, &SiLanewise<ushort, SiAvgOp<ushort>>); SiReg(t, Code.Pavgw_xmm_xmmm128, &SiLanewise<ushort, SiAvgOp<ushort>>);
        SiReg(t, Code.Psadbw_mm_mmm64, &Psadbw); SiReg(t, Code.Psadbw_xmm_xmmm128, &Psadbw);
        SiReg(t, Code.Pminub_mm_mmm64, &SiLanewise<byte, SiMinOp<byte>>); SiReg(t, Code.Pminub_xmm_xmmm128, &SiLanewise<byte, SiMinOp<byte>>);
        SiReg(t, Code.Pmaxub_mm_mmm64, &SiLanewise<byte, SiMaxOp<byte>>); SiReg(t, Code.Pmaxub_xmm_xmmm128, &SiLanewise<byte, SiMaxOp<byte>>);
        SiReg(t, Code.Pminsw_mm_mmm64, &SiLanewise<short, SiMinOp<short>>); SiReg(t, Code.Pminsw_xmm_xmmm128, &SiLanewise<short, SiMinOp<short>>);
        SiReg(t, Code.Pmaxsw_mm_mmm64, &SiLanewise<short, SiMaxOp<short>>); SiReg(t, Code.Pmaxsw_xmm_xmmm128, &SiLanewise<short, SiMaxOp<short>>);
        SiReg(t, Code.Pminsb_xmm_xmmm128, &SiLanewise<sbyte, SiMinOp<sbyte>>); SiReg(t, Code.Pmaxsb_xmm_xmmm128, &SiLanewise<sbyte, SiMaxOp<sbyte>>);
        SiReg(t, Code.Pminuw_xmm_xmmm128, &SiLanewise<ushort, SiMinOp<ushort>>); SiReg(t, Code.Pmaxuw_xmm_xmmm128, &SiLanewise<ushort, SiMaxOp<ushort>>);
        SiReg(t, Code.Pminsd_xmm_xmmm128, &SiLanewise<int, SiMinOp<int>>); SiReg(t, Code.Pmaxsd_xmm_xmmm128, &SiLanewise<int, SiMaxOp<int>>);
        SiReg(t, Code.Pminud_xmm_xmmm128, &SiLanewise<uint, SiMinOp<uint>>); SiReg(t, Code.Pmaxud_xmm_xmmm128, &SiLanewise<uint, SiMaxOp<uint>>);
        SiReg(t, Code.Pabsb_mm_mmm64, &SiLanewise<sbyte, SiAbsOp<sbyte>>); SiReg(t, Code.Pabsb_xmm_xmmm128, &SiLanewise<sbyte, SiAbsOp<sbyte>>);
        SiReg(t, Code.Pabsw_mm_mmm64, &SiLanewise<short, SiAbsOp<short>>); SiReg(t, Code.Pabsw_xmm_xmmm128, &SiLanewise<short, SiAbsOp<short>>);
        SiReg(t, Code.Pabsd_mm_mmm64, &SiLanewise<int, SiAbsOp<int>>); SiReg(t, Code.Pabsd_xmm_xmmm128, &SiLanewise<int, SiAbsOp<int>>);
        SiReg(t, Code.Psignb_mm_mmm64, &SiLanewise<sbyte, SiSignOp<sbyte>>); SiReg(t, Code.Psignb_xmm_xmmm128, &SiLanewise<sbyte, SiSignOp<sbyte>>);
        SiReg(t, Code.Psignw_mm_mmm64, &SiLanewise<short, SiSignOp<short>>); SiReg(t, Code.Psignw_xmm_xmmm128, &SiLanewise<short, SiSignOp<short>>);
        SiReg(t, Code.Psignd_mm_mmm64, &SiLanewise<int, SiSignOp<int>>); SiReg(t, Code.Psignd_xmm_xmmm128, &SiLanewise<int, SiSignOp<int>>);

        // SiHorizontal add / subtract (SSSE3)
        SiReg(t, Code.Phaddw_mm_mmm64, &SiHorizontal<short, SiAddOp<short>>); SiReg(t, Code.Phaddw_xmm_xmmm128, &SiHorizontal<short, SiAddOp<short>>);
        SiReg(t, Code.Phaddd_mm_mmm64, &SiHorizontal<int, SiAddOp<int>>); SiReg(t, Code.Phaddd_xmm_xmmm128, &SiHorizontal<int, SiAddOp<int>>);
        SiReg(t, Code.Phaddsw_mm_mmm64, &SiHorizontal<short, SiAddSatOp<short>>); SiReg(t, Code.Phaddsw_xmm_xmmm128, &SiHorizontal<short, SiAddSatOp<short>>);
        SiReg(t, Code.Phsubw_mm_mmm64, &SiHorizontal<short, SiSubOp<short>>); SiReg(t, Code.Phsubw_xmm_xmmm128, &SiHorizontal<short, SiSubOp<short>>);
        SiReg(t, Code.Phsubd_mm_mmm64, &SiHorizontal<int, SiSubOp<int>>); SiReg(t, Code.Phsubd_xmm_xmmm128, &SiHorizontal<int, SiSubOp<int>>);
        SiReg(t, Code.Phsubsw_mm_mmm64, &SiHorizontal<short, SiSubSatOp<short>>); SiReg(t, Code.Phsubsw_xmm_xmmm128, &SiHorizontal<short, SiSubSatOp<short>>);

        // Compare
        SiReg(t, Code.Pcmpeqb_mm_mmm64, &SiLanewise<byte, SiEqOp<byte>>); SiReg(t, Code.Pcmpeqb_xmm_xmmm128, &SiLanewise<byte, SiEqOp<byte>>);
        SiReg(t, Code.Pcmpeqw_mm_mmm64, &SiLanewise<ushort, SiEqOp<ushort>>); SiReg(t, Code.Pcmpeqw_xmm_xmmm128, &SiLanewise<ushort, SiEqOp<ushort>>);
        SiReg(t, Code.Pcmpeqd_mm_mmm64, &SiLanewise<uint, SiEqOp<uint>>); SiReg(t, Code.Pcmpeqd_xmm_xmmm128, &SiLanewise<uint, SiEqOp<uint>>);
        SiReg(t, Code.Pcmpeqq_xmm_xmmm128, &SiLanewise<ulong, SiEqOp<ulong>>);
        SiReg(t, Code.Pcmpgtb_mm_mmm64, &SiLanewise<sbyte, SiGtOp<sbyte>>); SiReg(t, Code.Pcmpgtb_xmm_xmmm128, &SiLanewise<sbyte, SiGtOp<sbyte>>);
        SiReg(t, Code.Pcmpgtw_mm_mmm64, &SiLanewise<short, SiGtOp<short>>); SiReg(t, Code.Pcmpgtw_xmm_xmmm128, &SiLanewise<short, SiGtOp<short>>);
        SiReg(t, Code.Pcmpgtd_mm_mmm64, &SiLanewise<int, SiGtOp<int>>); SiReg(t, Code.Pcmpgtd_xmm_xmmm128, &SiLanewise<int, SiGtOp<int>>);
        SiReg(t, Code.Pcmpgtq_xmm_xmmm128, &SiLanewise<long, SiGtOp<long>>);

        // Shifts by register/memory count and by imm8 (variant: 0 left, 1 right; signed element = arithmetic)
        SiReg(t, Code.Psllw_mm_mmm64, &SiShift<ushort>, 0); SiReg(t, Code.Psllw_xmm_xmmm128, &SiShift<ushort>, 0); SiReg(t, Code.Psllw_mm_imm8, &SiShift<ushort>, 0); SiReg(t, Code.Psllw_xmm_imm8, &SiShift<ushort>, 0);
        SiReg(t, Code.Pslld_mm_mmm64, &SiShift<uint>, 0); SiReg(t, Code.Pslld_xmm_xmmm128, &SiShift<uint>, 0); SiReg(t, Code.Pslld_mm_imm8, &SiShift<uint>, 0); SiReg(t, Code.Pslld_xmm_imm8, &SiShift<uint>, 0);
        SiReg(t, Code.Psllq_mm_mmm64, &SiShift<ulong>, 0); SiReg(t, Code.Psllq_xmm_xmmm128, &SiShift<ulong>, 0); SiReg(t, Code.Psllq_mm_imm8, &SiShift<ulong>, 0); SiReg(t, Code.Psllq_xmm_imm8, &SiShift<ulong>, 0);
        SiReg(t, Code.Psrlw_mm_mmm64, &SiShift<ushort>, 1); SiReg(t, Code.Psrlw_xmm_xmmm128, &SiShift<ushort>, 1); SiReg(t, Code.Psrlw_mm_imm8, &SiShift<ushort>, 1); SiReg(t, Code.Psrlw_xmm_imm8, &SiShift<ushort>, 1);
        SiReg(t, Code.Psrld_mm_mmm64, &SiShift<uint>, 1); SiReg(t, Code.Psrld_xmm_xmmm128, &SiShift<uint>, 1); SiReg(t, Code.Psrld_mm_imm8, &SiShift<uint>, 1); SiReg(t, Code.Psrld_xmm_imm8, &SiShift<uint>, 1);
        SiReg(t, Code.Psrlq_mm_mmm64, &SiShift<ulong>, 1); SiReg(t, Code.Psrlq_xmm_xmmm128, &SiShift<ulong>, 1); SiReg(t, Code.Psrlq_mm_imm8, &SiShift<ulong>, 1); SiReg(t, Code.Psrlq_xmm_imm8, &SiShift<ulong>, 1);
        SiReg(t, Code.Psraw_mm_mmm64, &SiShift<short>, 1); SiReg(t, Code.Psraw_xmm_xmmm128, &SiShift<short>, 1); SiReg(t, Code.Psraw_mm_imm8, &SiShift<short>, 1); SiReg(t, Code.Psraw_xmm_imm8, &SiShift<short>, 1);
        SiReg(t, Code.Psrad_mm_mmm64, &SiShift<int>, 1); SiReg(t, Code.Psrad_xmm_xmmm128, &SiShift<int>, 1); SiReg(t, Code.Psrad_mm_imm8, &SiShift<int>, 1); SiReg(t, Code.Psrad_xmm_imm8, &SiShift<int>, 1);
        SiReg(t, Code.Pslldq_xmm_imm8, &SiByteShift, 0); SiReg(t, Code.Psrldq_xmm_imm8, &SiByteShift, 1);

        // Sign/zero extension (SSE4.1)
        SiReg(t, Code.Pmovsxbw_xmm_xmmm64, &SiExtend<sbyte, short>); SiReg(t, Code.Pmovsxbd_xmm_xmmm32, &SiExtend<sbyte, int>);
        SiReg(t, Code.Pmovsxbq_xmm_xmmm16, &SiExtend<sbyte, long>); SiReg(t, Code.Pmovsxwd_xmm_xmmm64, &SiExtend<short, int>);
        SiReg(t, Code.Pmovsxwq_xmm_xmmm32, &SiExtend<short, long>); SiReg(t, Code.Pmovsxdq_xmm_xmmm64, &SiExtend<int, long>);
        SiReg(t, Code.Pmovzxbw_xmm_xmmm64, &SiExtend<byte, ushort>); SiReg(t, Code.Pmovzxbd_xmm_xmmm32, &SiExtend<byte, uint>);
        SiReg(t, Code.Pmovzxbq_xmm_xmmm16, &SiExtend<byte, ulong>); SiReg(t, Code.Pmovzxwd_xmm_xmmm64, &SiExtend<ushort, uint>);
        SiReg(t, Code.Pmovzxwq_xmm_xmmm32, &SiExtend<ushort, ulong>); SiReg(t, Code.Pmovzxdq_xmm_xmmm64, &SiExtend<uint, ulong>);

        SiReg(t, Code.Ptest_xmm_xmmm128, &SiPtest);
        SiReg(t, Code.Mpsadbw_xmm_xmmm128_imm8, &Mpsadbw);
        SiReg(t, Code.Phminposuw_xmm_xmmm128, &Phminposuw);
        SiReg(t, Code.Emms, &SiEmms);
    }

    /// <summary>
    /// PHADD*/PHSUB* (SDM Vol. 2, PHADDW/PHADDD/PHADDSW/PHSUBW/PHSUBD/PHSUBSW): the lower half of the
    /// result is Op over adjacent pairs of the destination, the upper half over pairs of the source.
    /// </summary>
    private static void SiHorizontal<T, TOp>(Cpu c, ref DecodedInstruction d) where T : unmanaged where TOp : struct, ISiLane<T>
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<T> x = SiL<T>(ref a), y = SiL<T>(ref b), z = SiL<T>(ref r);
        int h = SiWidth(ref d) / Unsafe.SizeOf<T>() / 2;
        for (int i = 0; i < h; i++)
        {
            z[i] = TOp.Op(x[2 * i], x[2 * i + 1]);
            z[h + i] = TOp.Op(y[2 * i], y[2 * i + 1]);
        }
        c.SiSetA(ref d, r);
    }

    /// <summary>PMADDWD: each doubleword = a[2i]*b[2i] + a[2i+1]*b[2i+1] of signed words, wrapping (8000h pairs give 80000000h).</summary>
    private static void Pmaddwd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<short> x = SiL<short>(ref a), y = SiL<short>(ref b);
        Span<int> z = SiL<int>(ref r);
        int n = SiWidth(ref d) / 4;
        for (int i = 0; i < n; i++) z[i] = unchecked((int)((long)x[2 * i] * y[2 * i] + (long)x[2 * i + 1] * y[2 * i + 1]));
        c.SiSetA(ref d, r);
    }

    /// <summary>PMADDUBSW: unsigned destination bytes times signed source bytes, adjacent products added with signed word saturation.</summary>
    private static void Pmaddubsw(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<byte> x = SiL<byte>(ref a);
        Span<sbyte> y = SiL<sbyte>(ref b);
        Span<short> z = SiL<short>(ref r);
        int n = SiWidth(ref d) / 2;
        for (int i = 0; i < n; i++) z[i] = SiSat<short>(x[2 * i] * y[2 * i] + x[2 * i + 1] * y[2 * i + 1]);
        c.SiSetA(ref d, r);
    }

    /// <summary>PSADBW: per quadword, the sum of the 8 absolute byte differences in bits 15:0, zeros above.</summary>
    private static void Psadbw(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<byte> x = SiL<byte>(ref a), y = SiL<byte>(ref b);
        int n = SiWidth(ref d);
        ulong s0 = 0, s1 = 0;
        for (int i = 0; i < n; i++)
        {
            ulong diff = (ulong)Math.Abs(x[i] - y[i]);
            if (i < 8) s0 += diff; else s1 += diff;
        }
        r.Lo = s0; r.Hi = s1;
        c.SiSetA(ref d, r);
    }

    /// <summary>
    /// PSLL/PSRL/PSRA by the low 64 bits of an MMX/XMM/memory source or by imm8 (SDM Vol. 2, PSLLW...):
    /// a count above the element width minus one gives zeros (logical) or copies of the sign (arithmetic).
    /// The element type's signedness selects logical (unsigned) or arithmetic (signed) right shifts.
    /// </summary>
    private static void SiShift<T>(Cpu c, ref DecodedInstruction d) where T : unmanaged, IBinaryInteger<T>
    {
        if (!c.SiStart(ref d)) return;
        ulong count;
        if ((d.Flags & DecodedFlags.ImmB) != 0) count = (byte)d.Imm;
        else
        {
            if (!c.SiSrc(ref d, out SiVec b)) return;
            count = b.Lo;
        }
        SiVec a = c.SiA(ref d);
        Span<T> x = SiL<T>(ref a);
        int bits = Unsafe.SizeOf<T>() * 8, n = SiWidth(ref d) / Unsafe.SizeOf<T>();
        bool right = (d.Cond & SiSel) != 0, signed = T.IsNegative(T.AllBitsSet);
        for (int i = 0; i < n; i++)
        {
            if (!right) x[i] = count >= (ulong)bits ? T.Zero : x[i] << (int)count;
            else if (signed) x[i] = x[i] >> (int)Math.Min(count, (ulong)bits - 1);
            else x[i] = count >= (ulong)bits ? T.Zero : x[i] >>> (int)count;
        }
        c.SiSetA(ref d, a);
    }

    /// <summary>PSLLDQ/PSRLDQ: the whole register shifted by imm8 bytes (imm8 above 15 clears it).</summary>
    private static void SiByteShift(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d)) return;
        UInt128 v = new(c.XmmLane(d.Reg, 1), c.XmmLane(d.Reg, 0));
        int n = (byte)d.Imm;
        v = n > 15 ? UInt128.Zero : (d.Cond & SiSel) == 0 ? v << (n * 8) : v >> (n * 8);
        c.SiSetXmm(d.Reg, new SiVec((ulong)v, (ulong)(v >> 64)));
    }

    /// <summary>PMOVSX*/PMOVZX*: the low elements of the source, sign- or zero-extended by <typeparamref name="TFrom"/>'s signedness.</summary>
    private static void SiExtend<TFrom, TTo>(Cpu c, ref DecodedInstruction d)
        where TFrom : unmanaged, IBinaryInteger<TFrom> where TTo : unmanaged, IBinaryInteger<TTo>
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec r = default;
        Span<TFrom> x = SiL<TFrom>(ref b);
        Span<TTo> z = SiL<TTo>(ref r);
        for (int i = 0; i < z.Length; i++) z[i] = TTo.CreateTruncating(x[i]);
        c.SiSetA(ref d, r);
    }

    /// <summary>PTEST: ZF = (dest AND src) == 0, CF = (NOT dest AND src) == 0; AF, OF, PF, SF cleared.</summary>
    private static void SiPtest(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d);
        ulong f = 0;
        if (((a.Lo & b.Lo) | (a.Hi & b.Hi)) == 0) f |= ZF;
        if (((~a.Lo & b.Lo) | (~a.Hi & b.Hi)) == 0) f |= CF;
        c.SiSetFlags(f);
    }

    /// <summary>
    /// MPSADBW: eight sums of absolute differences of a 4-byte block of the source (offset imm8[1:0]*4)
    /// against sliding 4-byte windows of the destination starting at imm8[2]*4.
    /// </summary>
    private static void Mpsadbw(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d), r = default;
        Span<byte> x = SiL<byte>(ref a), y = SiL<byte>(ref b);
        Span<ushort> z = SiL<ushort>(ref r);
        int ao = (int)((d.Imm >> 2) & 1) * 4, bo = (int)(d.Imm & 3) * 4;
        for (int j = 0; j < 8; j++)
        {
            int s = 0;
            for (int k = 0; k < 4; k++) s += Math.Abs(x[ao + j + k] - y[bo + k]);
            z[j] = (ushort)s;
        }
        c.SiSetA(ref d, r);
    }

    /// <summary>PHMINPOSUW: the minimum unsigned word in bits 15:0, its lowest index in bits 18:16, zeros above.</summary>
    private static void Phminposuw(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        Span<ushort> y = SiL<ushort>(ref b);
        int idx = 0;
        for (int i = 1; i < 8; i++) if (y[i] < y[idx]) idx = i;
        c.SiSetA(ref d, new SiVec(y[idx] | ((ulong)idx << 16), 0));
    }

    /// <summary>EMMS: all x87 tags empty; like every MMX instruction it sets TOP = 0 (SDM Vol. 3A, 12.2).</summary>
    private static void SiEmms(Cpu c, ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.Lock) != 0) { c.Fault(ExceptionVector.UD); return; }
        if (!c.MmxAvailable()) return;
        c._fpuTop = 0;
        c._fpuEmpty = 0xFF;
    }
}
