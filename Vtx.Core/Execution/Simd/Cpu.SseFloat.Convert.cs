using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// SSE/SSE2 conversions (SDM Vol. 1, 11.4.5 and Vol. 2, CVT*). Float-to-integer conversions give the
// integer indefinite (80000000h / 8000000000000000h) with IE for NaNs and out-of-range values; the
// T forms truncate, the others round by MXCSR.RC.
public sealed unsafe partial class Cpu
{
    // Variant bits of the GPR conversions.
    private const byte SfTruncate = 1, SfWide = 2;

    private static void SfRegisterConversions(InstructionTable t)
    {
        // integer (GPR) -> scalar: variant SfWide = r/m64 source (REX.W)
        t.Add(Code.Cvtsi2ss_xmm_rm32, &SfCvtSi2Ss, 0);
        t.Add(Code.Cvtsi2ss_xmm_rm64, &SfCvtSi2Ss, SfWide);
        t.Add(Code.Cvtsi2sd_xmm_rm32, &SfCvtSi2Sd, 0);
        t.Add(Code.Cvtsi2sd_xmm_rm64, &SfCvtSi2Sd, SfWide);
        // scalar -> integer (GPR): SfWide = 64-bit destination, SfTruncate = CVTT
        t.Add(Code.Cvtss2si_r32_xmmm32, &SfCvtSs2Si, 0);
        t.Add(Code.Cvtss2si_r64_xmmm32, &SfCvtSs2Si, SfWide);
        t.Add(Code.Cvttss2si_r32_xmmm32, &SfCvtSs2Si, SfTruncate);
        t.Add(Code.Cvttss2si_r64_xmmm32, &SfCvtSs2Si, SfTruncate | SfWide);
        t.Add(Code.Cvtsd2si_r32_xmmm64, &SfCvtSd2Si, 0);
        t.Add(Code.Cvtsd2si_r64_xmmm64, &SfCvtSd2Si, SfWide);
        t.Add(Code.Cvttsd2si_r32_xmmm64, &SfCvtSd2Si, SfTruncate);
        t.Add(Code.Cvttsd2si_r64_xmmm64, &SfCvtSd2Si, SfTruncate | SfWide);
        // float <-> float
        t.Add(Code.Cvtss2sd_xmm_xmmm32, &SfCvtSs2Sd);
        t.Add(Code.Cvtsd2ss_xmm_xmmm64, &SfCvtSd2Ss);
        t.Add(Code.Cvtps2pd_xmm_xmmm64, &SfCvtPs2Pd);
        t.Add(Code.Cvtpd2ps_xmm_xmmm128, &SfCvtPd2Ps);
        // packed integer <-> float (XMM)
        t.Add(Code.Cvtdq2ps_xmm_xmmm128, &SfCvtDq2Ps);
        t.Add(Code.Cvtps2dq_xmm_xmmm128, &SfCvtPs2Dq, 0);
        t.Add(Code.Cvttps2dq_xmm_xmmm128, &SfCvtPs2Dq, SfTruncate);
        t.Add(Code.Cvtdq2pd_xmm_xmmm64, &SfCvtDq2Pd);
        t.Add(Code.Cvtpd2dq_xmm_xmmm128, &SfCvtPd2Dq, 0);
        t.Add(Code.Cvttpd2dq_xmm_xmmm128, &SfCvtPd2Dq, SfTruncate);
        // MMX operand forms
        t.Add(Code.Cvtpi2ps_xmm_mmm64, &SfCvtPi2Ps);
        t.Add(Code.Cvtpi2pd_xmm_mmm64, &SfCvtPi2Pd);
        t.Add(Code.Cvtps2pi_mm_xmmm64, &SfCvtPs2Pi, 0);
        t.Add(Code.Cvttps2pi_mm_xmmm64, &SfCvtPs2Pi, SfTruncate);
        t.Add(Code.Cvtpd2pi_mm_xmmm128, &SfCvtPd2Pi, 0);
        t.Add(Code.Cvttpd2pi_mm_xmmm128, &SfCvtPd2Pi, SfTruncate);
    }

    /// <summary>Reads the integer source of CVTSI2SS/SD: r/m32 or r/m64 (REX.W).</summary>
    private bool SfIntSource(ref DecodedInstruction d, int size, out ulong v)
    {
        if ((d.Flags & DecodedFlags.MemB) != 0)
            return Read(ExtLin(ref d, size), size, out v, IsStackOperand(ref d));
        v = GetReg(d.Reg2, size);
        return true;
    }

    /// <summary>CVTSI2SS xmm, r/m32 or r/m64: rounded by MXCSR.RC (PE); bits 127:32 unchanged.</summary>
    private static void SfCvtSi2Ss(Cpu c, ref DecodedInstruction d)
    {
        bool wide = (d.Cond & SfWide) != 0;
        if (!c.SseAvailable() || !c.SfIntSource(ref d, wide ? 8 : 4, out ulong v)) return;
        FpEnv env = c.SfEnv();
        uint r = wide ? SoftFloat.I64ToF32((long)v, ref env) : SoftFloat.I32ToF32((int)v, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        ref ulong lane = ref c.XmmLane(d.Reg, 0);
        lane = (lane & 0xFFFF_FFFF_0000_0000) | r;
    }

    /// <summary>CVTSI2SD xmm, r/m32 (exact) or r/m64 (PE possible); bits 127:64 unchanged.</summary>
    private static void SfCvtSi2Sd(Cpu c, ref DecodedInstruction d)
    {
        bool wide = (d.Cond & SfWide) != 0;
        if (!c.SseAvailable() || !c.SfIntSource(ref d, wide ? 8 : 4, out ulong v)) return;
        FpEnv env = c.SfEnv();
        ulong r = wide ? SoftFloat.I64ToF64((long)v, ref env) : SoftFloat.I32ToF64((int)v, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r;
    }

    /// <summary>
    /// CVTSS2SI / CVTTSS2SI r32/r64, xmm/m32. A 32-bit destination is zero-extended into bits 63:32
    /// (SDM Vol. 1, 3.4.1.1); an unmasked IE/PE leaves the register unchanged.
    /// </summary>
    private static void SfCvtSs2Si(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong s, out _)) return;
        bool truncate = (d.Cond & SfTruncate) != 0, wide = (d.Cond & SfWide) != 0;
        FpEnv env = c.SfEnv();
        ulong r = wide ? (ulong)SoftFloat.F32ToI64((uint)s, truncate, ref env) : (uint)SoftFloat.F32ToI32((uint)s, truncate, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.SetReg(d.Reg, wide ? 8 : 4, r);
    }

    /// <summary>CVTSD2SI / CVTTSD2SI r32/r64, xmm/m64.</summary>
    private static void SfCvtSd2Si(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong s, out _)) return;
        bool truncate = (d.Cond & SfTruncate) != 0, wide = (d.Cond & SfWide) != 0;
        FpEnv env = c.SfEnv();
        ulong r = wide ? (ulong)SoftFloat.F64ToI64(s, truncate, ref env) : (uint)SoftFloat.F64ToI32(s, truncate, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.SetReg(d.Reg, wide ? 8 : 4, r);
    }

    /// <summary>CVTSS2SD xmm, xmm/m32 (exact; IE for an SNaN, DE for a denormal); bits 127:64 unchanged.</summary>
    private static void SfCvtSs2Sd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong s, out _)) return;
        FpEnv env = c.SfEnv();
        ulong r = SoftFloat.F32ToF64((uint)s, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r;
    }

    /// <summary>CVTSD2SS xmm, xmm/m64 (rounded: OE, UE, PE possible); bits 127:32 unchanged.</summary>
    private static void SfCvtSd2Ss(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong s, out _)) return;
        FpEnv env = c.SfEnv();
        uint r = SoftFloat.F64ToF32(s, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        ref ulong lane = ref c.XmmLane(d.Reg, 0);
        lane = (lane & 0xFFFF_FFFF_0000_0000) | r;
    }

    /// <summary>CVTPS2PD xmm, xmm/m64: the two low singles widened (a 64-bit memory operand, no alignment rule).</summary>
    private static void SfCvtPs2Pd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong s, out _)) return;
        FpEnv env = c.SfEnv();
        ulong r0 = SoftFloat.F32ToF64((uint)s, ref env);
        ulong r1 = SoftFloat.F32ToF64((uint)(s >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>CVTPD2PS xmm, xmm/m128: two singles in bits 63:0, bits 127:64 zeroed.</summary>
    private static void SfCvtPd2Ps(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        FpEnv env = c.SfEnv();
        uint r0 = SoftFloat.F64ToF32(slo, ref env);
        uint r1 = SoftFloat.F64ToF32(shi, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = 0;
    }

    /// <summary>CVTDQ2PS xmm, xmm/m128 (PE possible).</summary>
    private static void SfCvtDq2Ps(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        FpEnv env = c.SfEnv();
        uint r0 = SoftFloat.I32ToF32((int)slo, ref env);
        uint r1 = SoftFloat.I32ToF32((int)(slo >> 32), ref env);
        uint r2 = SoftFloat.I32ToF32((int)shi, ref env);
        uint r3 = SoftFloat.I32ToF32((int)(shi >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | ((ulong)r3 << 32);
    }

    /// <summary>CVTPS2DQ / CVTTPS2DQ xmm, xmm/m128.</summary>
    private static void SfCvtPs2Dq(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        bool t = (d.Cond & SfTruncate) != 0;
        FpEnv env = c.SfEnv();
        uint r0 = (uint)SoftFloat.F32ToI32((uint)slo, t, ref env);
        uint r1 = (uint)SoftFloat.F32ToI32((uint)(slo >> 32), t, ref env);
        uint r2 = (uint)SoftFloat.F32ToI32((uint)shi, t, ref env);
        uint r3 = (uint)SoftFloat.F32ToI32((uint)(shi >> 32), t, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | ((ulong)r3 << 32);
    }

    /// <summary>CVTDQ2PD xmm, xmm/m64: exact (no exceptions).</summary>
    private static void SfCvtDq2Pd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong s, out _)) return;
        FpEnv env = c.SfEnv();
        ulong r0 = SoftFloat.I32ToF64((int)s, ref env);
        ulong r1 = SoftFloat.I32ToF64((int)(s >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>CVTPD2DQ / CVTTPD2DQ xmm, xmm/m128: two doublewords in bits 63:0, bits 127:64 zeroed.</summary>
    private static void SfCvtPd2Dq(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        bool t = (d.Cond & SfTruncate) != 0;
        FpEnv env = c.SfEnv();
        uint r0 = (uint)SoftFloat.F64ToI32(slo, t, ref env);
        uint r1 = (uint)SoftFloat.F64ToI32(shi, t, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = 0;
    }

    // ------------------------------------------------------------------ MMX operand forms

    /// <summary>
    /// The checks of an SSE instruction that uses an MMX register (SDM Vol. 3B, Table 22-5/22-6):
    /// #UD (CR0.EM, !CR4.OSFXSR), #NM (CR0.TS), then #MF for a pending x87 exception (FSW.ES).
    /// </summary>
    private bool SfMmxAvailable() => SseAvailable() && MmxAvailable();

    /// <summary>
    /// CVTPI2PS xmm, mm/m64: two singles in bits 63:0 (PE possible), bits 127:64 unchanged. Only the
    /// register form touches the MMX state (#MF check, x87-to-MMX transition); with a memory
    /// source no MMX register is used, which the SDM states for CVTPI2PD (Vol. 2, CVTPI2PD; Vol. 3B,
    /// Table 22-6 note 1) and Bochs also applies to CVTPI2PS (bochs/cpu/sse_pfp.cc, CVTPI2PS_VpsQqM).
    /// </summary>
    private static void SfCvtPi2Ps(Cpu c, ref DecodedInstruction d)
    {
        bool mem = (d.Flags & DecodedFlags.MemB) != 0;
        ulong s;
        if (mem) { if (!c.SseAvailable() || !c.SfMemorySource(ref d, 8, out s, out _)) return; }
        else { if (!c.SfMmxAvailable()) return; s = c.GetMm(d.Reg2); }
        FpEnv env = c.SfEnv();
        uint r0 = SoftFloat.I32ToF32((int)s, ref env);
        uint r1 = SoftFloat.I32ToF32((int)(s >> 32), ref env);
        // As Bochs does, the transition happens even when an unmasked precision exception follows.
        if (!mem) c.EnterMmxState();
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
    }

    /// <summary>CVTPI2PD xmm, mm/m64: exact; the register form makes the x87-to-MMX transition (SDM Vol. 2, CVTPI2PD).</summary>
    private static void SfCvtPi2Pd(Cpu c, ref DecodedInstruction d)
    {
        bool mem = (d.Flags & DecodedFlags.MemB) != 0;
        ulong s;
        if (mem) { if (!c.SseAvailable() || !c.SfMemorySource(ref d, 8, out s, out _)) return; }
        else { if (!c.SfMmxAvailable()) return; s = c.GetMm(d.Reg2); c.EnterMmxState(); }
        FpEnv env = c.SfEnv();
        ulong r0 = SoftFloat.I32ToF64((int)s, ref env);
        ulong r1 = SoftFloat.I32ToF64((int)(s >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>
    /// CVTPS2PI / CVTTPS2PI mm, xmm/m64: two doublewords to an MMX register (always an MMX
    /// transition: the destination is an MMX register). The transition precedes the #XM check.
    /// </summary>
    private static void SfCvtPs2Pi(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SfMmxAvailable() || !c.SfSource(ref d, 8, out ulong s, out _)) return;
        bool t = (d.Cond & SfTruncate) != 0;
        FpEnv env = c.SfEnv();
        uint r0 = (uint)SoftFloat.F32ToI32((uint)s, t, ref env);
        uint r1 = (uint)SoftFloat.F32ToI32((uint)(s >> 32), t, ref env);
        c.EnterMmxState();
        if (!c.SfCommitFlags(env.Flags)) return;
        c.SetMm(d.Reg, r0 | ((ulong)r1 << 32));
    }

    /// <summary>CVTPD2PI / CVTTPD2PI mm, xmm/m128 (a 16-byte memory operand must be aligned).</summary>
    private static void SfCvtPd2Pi(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SfMmxAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        bool t = (d.Cond & SfTruncate) != 0;
        FpEnv env = c.SfEnv();
        uint r0 = (uint)SoftFloat.F64ToI32(slo, t, ref env);
        uint r1 = (uint)SoftFloat.F64ToI32(shi, t, ref env);
        c.EnterMmxState();
        if (!c.SfCommitFlags(env.Flags)) return;
        c.SetMm(d.Reg, r0 | ((ulong)r1 << 32));
    }
}
