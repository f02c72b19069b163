using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// SSE, SSE2, SSE3 and SSE4.1 floating-point computation (legacy encodings): arithmetic, MIN/MAX,
// RCP/RSQRT, compares, COMIS, conversions, ADDSUB, horizontal add/sub, ROUND and DP.
//
// Shared rules (SDM Vol. 1, 11.5.2 and Vol. 3A, Table 2-2 / 13.1):
//  - SseAvailable() first (#UD on CR0.EM or !CR4.OSFXSR, then #NM on CR0.TS);
//  - 16-byte memory operands of packed instructions must be 16-byte aligned (#GP(0)); scalar and
//    64-bit memory operands need not be (SDM Vol. 1, 10.4.1.1; the #GP(0) lines of each Vol. 2 page);
//  - every memory fault happens before any state change;
//  - all lanes are computed with one FpEnv built from MXCSR, so their flags OR together;
//  - a raised unmasked exception writes NO destination element, still sets the MXCSR flags, and
//    raises #XM (CR4.OSXMMEXCPT = 1) or #UD (CR4.OSXMMEXCPT = 0);
//  - pre-computation exceptions (IE, DE, ZE) take precedence over post-computation ones (OE, UE, PE):
//    if any lane raised an unmasked pre-computation exception, only the pre-computation flags of all
//    lanes are recorded (post-computation exceptions are not even detected, SDM Vol. 1, 11.5.2.1).
public sealed unsafe partial class Cpu
{
    /// <summary>The pre-computation exceptions of SDM Vol. 1, 11.5.2 (detected before the arithmetic).</summary>
    private const FpExceptions SfPreComputation = FpExceptions.Invalid | FpExceptions.Denormal | FpExceptions.ZeroDivide;

    // Arithmetic operation selectors (the registration variant of the arithmetic handlers).
    private const byte SfAdd = 0, SfSub = 1, SfMul = 2, SfDiv = 3, SfMin = 4, SfMax = 5, SfSqrt = 6;

    static partial void RegisterSseFloat(InstructionTable t)
    {
        // ---- arithmetic (SSE / SSE2)
        t.Add(Code.Addps_xmm_xmmm128, &SfPackedSingle, SfAdd);
        t.Add(Code.Subps_xmm_xmmm128, &SfPackedSingle, SfSub);
        t.Add(Code.Mulps_xmm_xmmm128, &SfPackedSingle, SfMul);
        t.Add(Code.Divps_xmm_xmmm128, &SfPackedSingle, SfDiv);
        t.Add(Code.Minps_xmm_xmmm128, &SfPackedSingle, SfMin);
        t.Add(Code.Maxps_xmm_xmmm128, &SfPackedSingle, SfMax);
        t.Add(Code.Sqrtps_xmm_xmmm128, &SfPackedSingle, SfSqrt);
        t.Add(Code.Addss_xmm_xmmm32, &SfScalarSingle, SfAdd);
        t.Add(Code.Subss_xmm_xmmm32, &SfScalarSingle, SfSub);
        t.Add(Code.Mulss_xmm_xmmm32, &SfScalarSingle, SfMul);
        t.Add(Code.Divss_xmm_xmmm32, &SfScalarSingle, SfDiv);
        t.Add(Code.Minss_xmm_xmmm32, &SfScalarSingle, SfMin);
        t.Add(Code.Maxss_xmm_xmmm32, &SfScalarSingle, SfMax);
        t.Add(Code.Sqrtss_xmm_xmmm32, &SfScalarSingle, SfSqrt);
        t.Add(Code.Addpd_xmm_xmmm128, &SfPackedDouble, SfAdd);
        t.Add(Code.Subpd_xmm_xmmm128, &SfPackedDouble, SfSub);
        t.Add(Code.Mulpd_xmm_xmmm128, &SfPackedDouble, SfMul);
        t.Add(Code.Divpd_xmm_xmmm128, &SfPackedDouble, SfDiv);
        t.Add(Code.Minpd_xmm_xmmm128, &SfPackedDouble, SfMin);
        t.Add(Code.Maxpd_xmm_xmmm128, &SfPackedDouble, SfMax);
        t.Add(Code.Sqrtpd_xmm_xmmm128, &SfPackedDouble, SfSqrt);
        t.Add(Code.Addsd_xmm_xmmm64, &SfScalarDouble, SfAdd);
        t.Add(Code.Subsd_xmm_xmmm64, &SfScalarDouble, SfSub);
        t.Add(Code.Mulsd_xmm_xmmm64, &SfScalarDouble, SfMul);
        t.Add(Code.Divsd_xmm_xmmm64, &SfScalarDouble, SfDiv);
        t.Add(Code.Minsd_xmm_xmmm64, &SfScalarDouble, SfMin);
        t.Add(Code.Maxsd_xmm_xmmm64, &SfScalarDouble, SfMax);
        t.Add(Code.Sqrtsd_xmm_xmmm64, &SfScalarDouble, SfSqrt);

        // ---- approximations (SSE)
        t.Add(Code.Rcpps_xmm_xmmm128, &SfApproxPacked, 0);
        t.Add(Code.Rsqrtps_xmm_xmmm128, &SfApproxPacked, 1);
        t.Add(Code.Rcpss_xmm_xmmm32, &SfApproxScalar, 0);
        t.Add(Code.Rsqrtss_xmm_xmmm32, &SfApproxScalar, 1);

        // ---- compares
        t.Add(Code.Cmpps_xmm_xmmm128_imm8, &SfCmpPs);
        t.Add(Code.Cmppd_xmm_xmmm128_imm8, &SfCmpPd);
        t.Add(Code.Cmpss_xmm_xmmm32_imm8, &SfCmpSs);
        t.Add(Code.Cmpsd_xmm_xmmm64_imm8, &SfCmpSd);
        t.Add(Code.Comiss_xmm_xmmm32, &SfComiss, 0);
        t.Add(Code.Ucomiss_xmm_xmmm32, &SfComiss, 1);
        t.Add(Code.Comisd_xmm_xmmm64, &SfComisd, 0);
        t.Add(Code.Ucomisd_xmm_xmmm64, &SfComisd, 1);

        // ---- SSE3 / SSE4.1 arithmetic
        t.Add(Code.Addsubps_xmm_xmmm128, &SfAddSubPs);
        t.Add(Code.Addsubpd_xmm_xmmm128, &SfAddSubPd);
        t.Add(Code.Haddps_xmm_xmmm128, &SfHorizontalPs, SfAdd);
        t.Add(Code.Hsubps_xmm_xmmm128, &SfHorizontalPs, SfSub);
        t.Add(Code.Haddpd_xmm_xmmm128, &SfHorizontalPd, SfAdd);
        t.Add(Code.Hsubpd_xmm_xmmm128, &SfHorizontalPd, SfSub);
        t.Add(Code.Roundps_xmm_xmmm128_imm8, &SfRoundPs);
        t.Add(Code.Roundpd_xmm_xmmm128_imm8, &SfRoundPd);
        t.Add(Code.Roundss_xmm_xmmm32_imm8, &SfRoundSs);
        t.Add(Code.Roundsd_xmm_xmmm64_imm8, &SfRoundSd);
        t.Add(Code.Dpps_xmm_xmmm128_imm8, &SfDpps);
        t.Add(Code.Dppd_xmm_xmmm128_imm8, &SfDppd);

        SfRegisterConversions(t);
    }

    // ------------------------------------------------------------------ operands

    /// <summary>
    /// Reads source operand B: an XMM register (all 128 bits), or <paramref name="size"/> bytes of
    /// memory (16 = a 16-byte-aligned packed operand, #GP(0) when misaligned; 8 or 4 = a scalar or
    /// half operand, any alignment, zero-extended into <paramref name="lo"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool SfSource(ref DecodedInstruction d, int size, out ulong lo, out ulong hi)
    {
        if ((d.Flags & DecodedFlags.MemB) == 0)
        {
            lo = XmmLane(d.Reg2, 0);
            hi = XmmLane(d.Reg2, 1);
            return true;
        }
        return SfMemorySource(ref d, size, out lo, out hi);
    }

    private bool SfMemorySource(ref DecodedInstruction d, int size, out ulong lo, out ulong hi)
    {
        hi = 0;
        ulong lin = ExtLin(ref d, size);
        bool stack = IsStackOperand(ref d);
        if (size == 16)
        {
            if (!CheckAligned(lin, 16)) { lo = 0; return false; }
            return Read128(lin, out lo, out hi, stack);
        }
        return Read(lin, size, out lo, stack);
    }

    /// <summary>
    /// Ends the exception processing of SDM Vol. 1, 11.5.2.1 for the flags <paramref name="raised"/>
    /// by all lanes: sets the MXCSR flags, and returns false (after recording #XM or #UD) when an
    /// unmasked exception means no destination element may be written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool SfCommitFlags(FpExceptions raised)
    {
        if (raised == FpExceptions.None) return true;
        return SfCommitFlagsSlow(raised);
    }

    private bool SfCommitFlagsSlow(FpExceptions raised)
    {
        var masks = (FpExceptions)((_mxcsr >> 7) & 0x3F);
        FpExceptions pre = raised & SfPreComputation;
        if ((pre & ~masks) != 0)
        {
            // An unmasked pre-computation exception: post-computation exceptions are not checked.
            _mxcsr |= (uint)pre;
            return SfFault();
        }
        _mxcsr |= (uint)(raised & FpExceptions.All);
        return (raised & ~masks & FpExceptions.All) == 0 || SfFault();
    }

    /// <summary>
    /// An unmasked SIMD floating-point exception: #XM when CR4.OSXMMEXCPT = 1, else #UD
    /// (SDM Vol. 1, 11.5.1 and 11.6.2; Vol. 3A, 13.1.4).
    /// </summary>
    private bool SfFault() => Fault((_cr4 & Cr4.OSXMMEXCPT) != 0 ? ExceptionVector.XM : ExceptionVector.UD);

    /// <summary>The MXCSR environment every SIMD floating-point computation starts from.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FpEnv SfEnv() => FpEnv.FromMxcsr(_mxcsr);

    // ------------------------------------------------------------------ arithmetic

    /// <summary>One binary32 operation of the arithmetic family (MIN/MAX with the SSE rules).</summary>
    private static uint SfArith32(byte op, uint a, uint b, ref FpEnv env) => op switch
    {
        SfAdd => SoftFloat.Add32(a, b, ref env),
        SfSub => SoftFloat.Sub32(a, b, ref env),
        SfMul => SoftFloat.Mul32(a, b, ref env),
        SfDiv => SoftFloat.Div32(a, b, ref env),
        SfMin => SfMinMax32(a, b, false, ref env),
        SfMax => SfMinMax32(a, b, true, ref env),
        _ => SoftFloat.Sqrt32(b, ref env),
    };

    /// <summary>One binary64 operation of the arithmetic family.</summary>
    private static ulong SfArith64(byte op, ulong a, ulong b, ref FpEnv env) => op switch
    {
        SfAdd => SoftFloat.Add64(a, b, ref env),
        SfSub => SoftFloat.Sub64(a, b, ref env),
        SfMul => SoftFloat.Mul64(a, b, ref env),
        SfDiv => SoftFloat.Div64(a, b, ref env),
        SfMin => SfMinMax64(a, b, false, ref env),
        SfMax => SfMinMax64(a, b, true, ref env),
        _ => SoftFloat.Sqrt64(b, ref env),
    };

    /// <summary>
    /// MINPS/MAXPS on one lane (SDM Vol. 2, MINPS/MAXPS): the first operand when it is strictly
    /// less (greater), else the second operand — so a NaN in either operand or two zeros of any
    /// sign give the second operand, unchanged (an SNaN is not quieted). Any NaN raises IE (the
    /// compare is signaling); denormal operands raise DE, or with DAZ are zeros (and returned as such).
    /// </summary>
    private static uint SfMinMax32(uint a, uint b, bool max, ref FpEnv env)
    {
        FpCompare c = SoftFloat.Compare32(a, b, false, ref env);
        if (env.DenormalsAreZero)
        {
            if ((a & 0x7F80_0000) == 0) a &= 0x8000_0000;
            if ((b & 0x7F80_0000) == 0) b &= 0x8000_0000;
        }
        return c == (max ? FpCompare.Greater : FpCompare.Less) ? a : b;
    }

    /// <summary>MINPD/MAXPD on one lane (see <see cref="SfMinMax32"/>).</summary>
    private static ulong SfMinMax64(ulong a, ulong b, bool max, ref FpEnv env)
    {
        FpCompare c = SoftFloat.Compare64(a, b, false, ref env);
        if (env.DenormalsAreZero)
        {
            if ((a & 0x7FF0_0000_0000_0000) == 0) a &= 0x8000_0000_0000_0000;
            if ((b & 0x7FF0_0000_0000_0000) == 0) b &= 0x8000_0000_0000_0000;
        }
        return c == (max ? FpCompare.Greater : FpCompare.Less) ? a : b;
    }

    /// <summary>ADDPS/SUBPS/MULPS/DIVPS/MINPS/MAXPS/SQRTPS xmm, xmm/m128 (SQRTPS: DEST = sqrt(SRC)).</summary>
    private static void SfPackedSingle(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        byte op = d.Cond;
        ulong dlo = c.XmmLane(d.Reg, 0), dhi = c.XmmLane(d.Reg, 1);
        FpEnv env = c.SfEnv();
        uint r0 = SfArith32(op, (uint)dlo, (uint)slo, ref env);
        uint r1 = SfArith32(op, (uint)(dlo >> 32), (uint)(slo >> 32), ref env);
        uint r2 = SfArith32(op, (uint)dhi, (uint)shi, ref env);
        uint r3 = SfArith32(op, (uint)(dhi >> 32), (uint)(shi >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | ((ulong)r3 << 32);
    }

    /// <summary>ADDSS ... SQRTSS xmm, xmm/m32: the low element; bits 127:32 of the destination unchanged.</summary>
    private static void SfScalarSingle(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong slo, out _)) return;
        ref ulong lane = ref c.XmmLane(d.Reg, 0);
        FpEnv env = c.SfEnv();
        uint r = SfArith32(d.Cond, (uint)lane, (uint)slo, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        lane = (lane & 0xFFFF_FFFF_0000_0000) | r;
    }

    /// <summary>ADDPD ... SQRTPD xmm, xmm/m128.</summary>
    private static void SfPackedDouble(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        byte op = d.Cond;
        FpEnv env = c.SfEnv();
        ulong r0 = SfArith64(op, c.XmmLane(d.Reg, 0), slo, ref env);
        ulong r1 = SfArith64(op, c.XmmLane(d.Reg, 1), shi, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>ADDSD ... SQRTSD xmm, xmm/m64: the low element; bits 127:64 of the destination unchanged.</summary>
    private static void SfScalarDouble(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong slo, out _)) return;
        FpEnv env = c.SfEnv();
        ulong r = SfArith64(d.Cond, c.XmmLane(d.Reg, 0), slo, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r;
    }

    // ------------------------------------------------------------------ SSE3: ADDSUB, HADD, HSUB

    /// <summary>ADDSUBPS: lanes 0 and 2 subtract, lanes 1 and 3 add (SDM Vol. 2, ADDSUBPS).</summary>
    private static void SfAddSubPs(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        ulong dlo = c.XmmLane(d.Reg, 0), dhi = c.XmmLane(d.Reg, 1);
        FpEnv env = c.SfEnv();
        uint r0 = SoftFloat.Sub32((uint)dlo, (uint)slo, ref env);
        uint r1 = SoftFloat.Add32((uint)(dlo >> 32), (uint)(slo >> 32), ref env);
        uint r2 = SoftFloat.Sub32((uint)dhi, (uint)shi, ref env);
        uint r3 = SoftFloat.Add32((uint)(dhi >> 32), (uint)(shi >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | ((ulong)r3 << 32);
    }

    /// <summary>ADDSUBPD: lane 0 subtracts, lane 1 adds.</summary>
    private static void SfAddSubPd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        FpEnv env = c.SfEnv();
        ulong r0 = SoftFloat.Sub64(c.XmmLane(d.Reg, 0), slo, ref env);
        ulong r1 = SoftFloat.Add64(c.XmmLane(d.Reg, 1), shi, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>
    /// HADDPS/HSUBPS: DEST = {d0 op d1, d2 op d3, s0 op s1, s2 op s3}, the lower-numbered element
    /// being the first operand (SDM Vol. 2, HADDPS/HSUBPS: xmm1[31:0] - xmm1[63:32], ...).
    /// </summary>
    private static void SfHorizontalPs(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        byte op = d.Cond;
        ulong dlo = c.XmmLane(d.Reg, 0), dhi = c.XmmLane(d.Reg, 1);
        FpEnv env = c.SfEnv();
        uint r0 = SfArith32(op, (uint)dlo, (uint)(dlo >> 32), ref env);
        uint r1 = SfArith32(op, (uint)dhi, (uint)(dhi >> 32), ref env);
        uint r2 = SfArith32(op, (uint)slo, (uint)(slo >> 32), ref env);
        uint r3 = SfArith32(op, (uint)shi, (uint)(shi >> 32), ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | ((ulong)r3 << 32);
    }

    /// <summary>HADDPD/HSUBPD: DEST = {d0 op d1, s0 op s1}.</summary>
    private static void SfHorizontalPd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        byte op = d.Cond;
        FpEnv env = c.SfEnv();
        ulong r0 = SfArith64(op, c.XmmLane(d.Reg, 0), c.XmmLane(d.Reg, 1), ref env);
        ulong r1 = SfArith64(op, slo, shi, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    // ------------------------------------------------------------------ SSE4.1: ROUND

    /// <summary>
    /// The rounding of ROUNDPS/PD/SS/SD (SDM Vol. 2, ROUNDPD, Table 4-18): imm8[2] = 1 takes
    /// MXCSR.RC, else imm8[1:0]; imm8[3] = 1 suppresses the precision exception.
    /// </summary>
    private FpRounding SfRoundMode(ref DecodedInstruction d, out bool suppressPrecision)
    {
        int imm = (int)d.Imm;
        suppressPrecision = (imm & 8) != 0;
        return (imm & 4) != 0 ? (FpRounding)((_mxcsr >> 13) & 3) : (FpRounding)(imm & 3);
    }

    /// <summary>ROUNDPS xmm, xmm/m128, imm8.</summary>
    private static void SfRoundPs(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        FpRounding mode = c.SfRoundMode(ref d, out bool sp);
        FpEnv env = c.SfEnv();
        uint r0 = SoftFloat.RoundInt32((uint)slo, mode, sp, ref env);
        uint r1 = SoftFloat.RoundInt32((uint)(slo >> 32), mode, sp, ref env);
        uint r2 = SoftFloat.RoundInt32((uint)shi, mode, sp, ref env);
        uint r3 = SoftFloat.RoundInt32((uint)(shi >> 32), mode, sp, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0 | ((ulong)r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | ((ulong)r3 << 32);
    }

    /// <summary>ROUNDPD xmm, xmm/m128, imm8.</summary>
    private static void SfRoundPd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        FpRounding mode = c.SfRoundMode(ref d, out bool sp);
        FpEnv env = c.SfEnv();
        ulong r0 = SoftFloat.RoundInt64(slo, mode, sp, ref env);
        ulong r1 = SoftFloat.RoundInt64(shi, mode, sp, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r0;
        c.XmmLane(d.Reg, 1) = r1;
    }

    /// <summary>ROUNDSS xmm, xmm/m32, imm8: bits 127:32 of the destination unchanged.</summary>
    private static void SfRoundSs(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 4, out ulong slo, out _)) return;
        FpRounding mode = c.SfRoundMode(ref d, out bool sp);
        FpEnv env = c.SfEnv();
        uint r = SoftFloat.RoundInt32((uint)slo, mode, sp, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        ref ulong lane = ref c.XmmLane(d.Reg, 0);
        lane = (lane & 0xFFFF_FFFF_0000_0000) | r;
    }

    /// <summary>ROUNDSD xmm, xmm/m64, imm8: bits 127:64 of the destination unchanged.</summary>
    private static void SfRoundSd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 8, out ulong slo, out _)) return;
        FpRounding mode = c.SfRoundMode(ref d, out bool sp);
        FpEnv env = c.SfEnv();
        ulong r = SoftFloat.RoundInt64(slo, mode, sp, ref env);
        if (!c.SfCommitFlags(env.Flags)) return;
        c.XmmLane(d.Reg, 0) = r;
    }

    // ------------------------------------------------------------------ SSE4.1: DPPS, DPPD

    /// <summary>
    /// Ends one step of a dot product: DPPS/DPPD determine exceptions "separately for each add and
    /// multiply operation, in the order of their execution" (SDM Vol. 2, DPPS), so the flags of
    /// each step (its parallel operations) go through the rule of SDM Vol. 1, 11.5.2.1, and an
    /// unmasked exception stops the instruction before the next step.
    /// </summary>
    private bool SfDpStep(ref FpEnv env)
    {
        FpExceptions raised = env.Flags;
        env.Flags = FpExceptions.None;
        return SfCommitFlags(raised);
    }

    /// <summary>
    /// DPPS xmm, xmm/m128, imm8 (SDM Vol. 2, DPPS, DP_primitive): products of the lanes selected by
    /// imm8[7:4] (unselected: +0.0, no multiply), then (p0 + p1) and (p2 + p3), then their sum,
    /// each rounded; the sum goes to the lanes selected by imm8[3:0], +0.0 to the others.
    /// </summary>
    private static void SfDpps(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        int imm = (int)d.Imm;
        ulong dlo = c.XmmLane(d.Reg, 0), dhi = c.XmmLane(d.Reg, 1);
        FpEnv env = c.SfEnv();
        uint p0 = (imm & 0x10) != 0 ? SoftFloat.Mul32((uint)dlo, (uint)slo, ref env) : 0;
        uint p1 = (imm & 0x20) != 0 ? SoftFloat.Mul32((uint)(dlo >> 32), (uint)(slo >> 32), ref env) : 0;
        uint p2 = (imm & 0x40) != 0 ? SoftFloat.Mul32((uint)dhi, (uint)shi, ref env) : 0;
        uint p3 = (imm & 0x80) != 0 ? SoftFloat.Mul32((uint)(dhi >> 32), (uint)(shi >> 32), ref env) : 0;
        if (!c.SfDpStep(ref env)) return;
        uint t2 = SoftFloat.Add32(p0, p1, ref env);
        uint t3 = SoftFloat.Add32(p2, p3, ref env);
        if (!c.SfDpStep(ref env)) return;
        uint t4 = SoftFloat.Add32(t2, t3, ref env);
        if (!c.SfDpStep(ref env)) return;
        ulong r0 = (imm & 1) != 0 ? t4 : 0UL, r1 = (imm & 2) != 0 ? t4 : 0UL;
        ulong r2 = (imm & 4) != 0 ? t4 : 0UL, r3 = (imm & 8) != 0 ? t4 : 0UL;
        c.XmmLane(d.Reg, 0) = r0 | (r1 << 32);
        c.XmmLane(d.Reg, 1) = r2 | (r3 << 32);
    }

    /// <summary>
    /// DPPD xmm, xmm/m128, imm8 (SDM Vol. 2, DPPD, DP_primitive): products selected by imm8[5:4],
    /// their rounded sum to the lanes selected by imm8[1:0] (+0.0 elsewhere).
    /// </summary>
    private static void SfDppd(Cpu c, ref DecodedInstruction d)
    {
        if (!c.SseAvailable() || !c.SfSource(ref d, 16, out ulong slo, out ulong shi)) return;
        int imm = (int)d.Imm;
        FpEnv env = c.SfEnv();
        ulong p0 = (imm & 0x10) != 0 ? SoftFloat.Mul64(c.XmmLane(d.Reg, 0), slo, ref env) : 0;
        ulong p1 = (imm & 0x20) != 0 ? SoftFloat.Mul64(c.XmmLane(d.Reg, 1), shi, ref env) : 0;
        if (!c.SfDpStep(ref env)) return;
        ulong t = SoftFloat.Add64(p0, p1, ref env);
        if (!c.SfDpStep(ref env)) return;
        c.XmmLane(d.Reg, 0) = (imm & 1) != 0 ? t : 0;
        c.XmmLane(d.Reg, 1) = (imm & 2) != 0 ? t : 0;
    }
}
