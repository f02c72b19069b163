using Vtx.Decoding;
using Vtx.Float;

namespace Vtx;

// CMPPS/CMPPD/CMPSS/CMPSD and COMISS/COMISD/UCOMISS/UCOMISD (SDM Vol. 2; Vol. 1, 11.4.1 / 10.4.2.2).
public sealed partial class Cpu
{
    /// <summary>
    /// One CMPxx predicate (SDM Vol. 2, CMPPS, Table 3-1, predicates 0-7): EQ_OQ, LT_OS, LE_OS,
    /// UNORD_Q, NEQ_UQ, NLT_US, NLE_US, ORD_Q. The O/U letter gives the result for unordered
    /// operands; S (LT, LE, NLT, NLE) is signaling (any NaN raises IE), Q only SNaNs raise IE.
    /// </summary>
    /// <remarks>
    /// Legacy-SSE encodings define only imm8[2:0]; imm8[7:3] are reserved. Iced decodes any imm8,
    /// and Vtx uses imm8[2:0] as the predicate, as Bochs does for the legacy forms (bochs/cpu/sse_pfp.cc,
    /// CMPPS_VpsWpsIbR: <c>ib &amp; 7</c>); the 32 predicates of VEX encodings do not apply here.
    /// </remarks>
    private static bool SfCmpPredicate(int predicate, FpCompare r) => (predicate & 7) switch
    {
        0 => r == FpCompare.Equal,
        1 => r == FpCompare.Less,
        2 => r is FpCompare.Less or FpCompare.Equal,
        3 => r == FpCompare.Unordered,
        4 => r != FpCompare.Equal,
        5 => r != FpCompare.Less,
        6 => r is not (FpCompare.Less or FpCompare.Equal),
        _ => r != FpCompare.Unordered,
    };

    /// <summary>True when predicate imm8[2:0] is a quiet one (EQ, UNORD, NEQ, ORD).</summary>
    private static bool SfCmpQuiet(int predicate) => (predicate & 3) is 0 or 3;

    private static uint SfCmp32(int p, uint a, uint b, ref FpEnv env) =>
        SfCmpPredicate(p, SoftFloat.Compare32(a, b, SfCmpQuiet(p), ref env)) ? 0xFFFF_FFFFu : 0u;

    private static ulong SfCmp64(int p, ulong a, ulong b, ref FpEnv env) =>
        SfCmpPredicate(p, SoftFloat.Compare64(a, b, SfCmpQuiet(p), ref env)) ? ulong.MaxValue : 0UL;

    /// <summary>CMPPS xmm, xmm/m128, imm8: each lane all ones when the predicate holds, else zero.</summary>
    private static void SfCmpPs(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        int p = (int)d.Imm;
        ulong dlo = c.XmmLane(d.Reg, 0), dhi = c.XmmLane(d.Reg, 1);
        FpEnv env = c.SfEnv();
        ulong r0 = SfCmp32(p, (uint)dlo, (uint)slo, ref env);
        ulong r1 = SfCmp32(p, (uint)(dlo >> 32), (uint)(slo >> 32), ref env);
        ulong r2 = SfCmp32(p, (uint)dhi, (uint)shi, ref env);
        ulong r3 = SfCmp32(p, (uint)(dhi >> 32), (uint)(shi >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | (r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | (r3 << 32);
    }

    /// <summary>CMPPD xmm, xmm/m128, imm8.</summary>
    private static void SfCmpPd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        int p = (int)d.Imm;
        FpEnv env = c.SfEnv();
        ulong r0 = SfCmp64(p, c.XmmLane(d.Reg, 0), slo, ref env);
        ulong r1 = SfCmp64(p, c.XmmLane(d.Reg, 1), shi, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>CMPSS xmm, xmm/m32, imm8: bits 127:32 unchanged.</summary>
    private static void SfCmpSs(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong slo, out _)) return;
        ref ulong lane = ref c.XmmLane(d.Reg, 0);
        FpEnv env = c.SfEnv();
        uint r = SfCmp32((int)d.Imm, (uint)lane, (uint)slo, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        lane = (lane & 0xFFFF_FFFF_0000_0000) | r;
    }

    /// <summary>CMPSD xmm, xmm/m64, imm8: bits 127:64 unchanged.</summary>
    private static void SfCmpSd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong slo, out _)) return;
        FpEnv env = c.SfEnv();
        ulong r = SfCmp64((int)d.Imm, c.XmmLane(d.Reg, 0), slo, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r;
    }

    /// <summary>
    /// The RFLAGS result of COMISS/UCOMISS/COMISD/UCOMISD (SDM Vol. 2, COMISS): unordered ZF,PF,CF =
    /// 111; greater 000; less 001; equal 100; OF, SF and AF cleared.
    /// </summary>
    private void SfSetComisFlags(FpCompare r)
    {
        ulong v = r switch
        {
            FpCompare.Unordered => ZF | PF | CF,
            FpCompare.Less => CF,
            FpCompare.Equal => ZF,
            _ => 0,
        };
        SetStatus(CF | PF | AF | ZF | SF | OF, v);
    }

    /// <summary>
    /// COMISS (variant 0: any NaN raises IE) / UCOMISS (variant 1: only an SNaN raises IE)
    /// xmm, xmm/m32. An unmasked exception leaves RFLAGS unchanged.
    /// </summary>
    private static void SfComiss(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong slo, out _)) return;
        FpEnv env = c.SfEnv();
        FpCompare r = SoftFloat.Compare32((uint)c.XmmLane(d.Reg, 0), (uint)slo, d.Cond != 0, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.SfSetComisFlags(r);
    }

    /// <summary>COMISD (variant 0) / UCOMISD (variant 1) xmm, xmm/m64.</summary>
    private static void SfComisd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong slo, out _)) return;
        FpEnv env = c.SfEnv();
        FpCompare r = SoftFloat.Compare64(c.XmmLane(d.Reg, 0), slo, d.Cond != 0, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.SfSetComisFlags(r);
    }
}
