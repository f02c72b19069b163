using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// x87 arithmetic, comparison and classification (SDM Vol. 1, 8.3.5-8.3.7; Vol. 2A pages of each
// instruction). The arithmetic itself is the soft-float core's; this file applies the x87 operand
// rules: stack faults, masked/unmasked responses, C0-C3, pops and the pointers.
public sealed unsafe partial class Cpu
{
    // Arithmetic variant: operation (bits 2:0) | operand form << 3 | pop << 6.
    private const int ArAdd = 0, ArMul = 1, ArSub = 2, ArSubr = 3, ArDiv = 4, ArDivr = 5;
    // Forms: 0 registers (destination d.Reg, source d.Reg2), 1 m32fp, 2 m64fp, 3 m16int, 4 m32int.

    private static void RegisterX87Arith(InstructionTable t)
    {
        (Code St0Sti, Code StiSt0, Code Pop, Code M32, Code M64, Code I16, Code I32, int Op)[] ops =
        [
            (Code.Fadd_st0_sti, Code.Fadd_sti_st0, Code.Faddp_sti_st0, Code.Fadd_m32fp, Code.Fadd_m64fp, Code.Fiadd_m16int, Code.Fiadd_m32int, ArAdd),
            (Code.Fmul_st0_sti, Code.Fmul_sti_st0, Code.Fmulp_sti_st0, Code.Fmul_m32fp, Code.Fmul_m64fp, Code.Fimul_m16int, Code.Fimul_m32int, ArMul),
            (Code.Fsub_st0_sti, Code.Fsub_sti_st0, Code.Fsubp_sti_st0, Code.Fsub_m32fp, Code.Fsub_m64fp, Code.Fisub_m16int, Code.Fisub_m32int, ArSub),
            (Code.Fsubr_st0_sti, Code.Fsubr_sti_st0, Code.Fsubrp_sti_st0, Code.Fsubr_m32fp, Code.Fsubr_m64fp, Code.Fisubr_m16int, Code.Fisubr_m32int, ArSubr),
            (Code.Fdiv_st0_sti, Code.Fdiv_sti_st0, Code.Fdivp_sti_st0, Code.Fdiv_m32fp, Code.Fdiv_m64fp, Code.Fidiv_m16int, Code.Fidiv_m32int, ArDiv),
            (Code.Fdivr_st0_sti, Code.Fdivr_sti_st0, Code.Fdivrp_sti_st0, Code.Fdivr_m32fp, Code.Fdivr_m64fp, Code.Fidivr_m16int, Code.Fidivr_m32int, ArDivr),
        ];
        foreach (var o in ops)
        {
            t.Add(o.St0Sti, &X87ArithH, (byte)o.Op);
            t.Add(o.StiSt0, &X87ArithH, (byte)o.Op);
            t.Add(o.Pop, &X87ArithH, (byte)(o.Op | 64));
            t.Add(o.M32, &X87ArithH, (byte)(o.Op | 1 << 3));
            t.Add(o.M64, &X87ArithH, (byte)(o.Op | 2 << 3));
            t.Add(o.I16, &X87ArithH, (byte)(o.Op | 3 << 3));
            t.Add(o.I32, &X87ArithH, (byte)(o.Op | 4 << 3));
        }

        // Compares: variant = form (0 ST(i), 1 m32fp, 2 m64fp, 3 m16int, 4 m32int, 5 +0.0) | quiet << 3 | pops << 4 | EFLAGS << 6
        t.Add(Code.Fcom_st0_sti, &X87CompareH, 0);
        t.Add(Code.Fcom_st0_sti_DCD0, &X87CompareH, 0);          // reserved alias (DC D0+i)
        t.Add(Code.Fcomp_st0_sti, &X87CompareH, 1 << 4);
        t.Add(Code.Fcomp_st0_sti_DCD8, &X87CompareH, 1 << 4);    // reserved aliases (DC D8+i, DE D0+i)
        t.Add(Code.Fcomp_st0_sti_DED0, &X87CompareH, 1 << 4);
        t.Add(Code.Fcompp, &X87CompareH, 2 << 4);
        t.Add(Code.Fcom_m32fp, &X87CompareH, 1);
        t.Add(Code.Fcomp_m32fp, &X87CompareH, 1 | 1 << 4);
        t.Add(Code.Fcom_m64fp, &X87CompareH, 2);
        t.Add(Code.Fcomp_m64fp, &X87CompareH, 2 | 1 << 4);
        t.Add(Code.Ficom_m16int, &X87CompareH, 3);
        t.Add(Code.Ficomp_m16int, &X87CompareH, 3 | 1 << 4);
        t.Add(Code.Ficom_m32int, &X87CompareH, 4);
        t.Add(Code.Ficomp_m32int, &X87CompareH, 4 | 1 << 4);
        t.Add(Code.Ftst, &X87CompareH, 5);
        t.Add(Code.Fucom_st0_sti, &X87CompareH, 1 << 3);
        t.Add(Code.Fucomp_st0_sti, &X87CompareH, 1 << 3 | 1 << 4);
        t.Add(Code.Fucompp, &X87CompareH, 1 << 3 | 2 << 4);
        t.Add(Code.Fcomi_st0_sti, &X87CompareH, 1 << 6);
        t.Add(Code.Fcomip_st0_sti, &X87CompareH, 1 << 6 | 1 << 4);
        t.Add(Code.Fucomi_st0_sti, &X87CompareH, 1 << 6 | 1 << 3);
        t.Add(Code.Fucomip_st0_sti, &X87CompareH, 1 << 6 | 1 << 3 | 1 << 4);
        t.Add(Code.Fxam, &X87ExamineH);

        // One-operand ST(0) instructions: variant = operation
        t.Add(Code.Fchs, &X87UnaryH, 0);
        t.Add(Code.Fabs, &X87UnaryH, 1);
        t.Add(Code.Fsqrt, &X87UnaryH, 2);
        t.Add(Code.Frndint, &X87UnaryH, 3);
        t.Add(Code.Fscale, &X87ScaleH);
        t.Add(Code.Fxtract, &X87ExtractH);
        t.Add(Code.Fprem, &X87RemainderH, 0);
        t.Add(Code.Fprem1, &X87RemainderH, 1);
    }

    // ------------------------------------------------------------------ FADD..FDIVR (SDM Vol. 2A)

    private static Float80 X87BinaryOp(int op, Float80 a, Float80 b, ref FpEnv env) => op switch
    {
        ArAdd => SoftFloat.Add80(a, b, ref env),
        ArMul => SoftFloat.Mul80(a, b, ref env),
        ArSub => SoftFloat.Sub80(a, b, ref env),
        ArSubr => SoftFloat.Sub80(b, a, ref env),
        ArDiv => SoftFloat.Div80(a, b, ref env),
        _ => SoftFloat.Div80(b, a, ref env),
    };

    /// <summary>
    /// Reads the floating-point or integer memory source of an arithmetic/compare form, converted
    /// exactly to 80 bits. An SNaN stays signaling (so the operation applies the NaN rules of SDM
    /// Vol. 1, Table 4-7: an SNaN against a QNaN yields the QNaN); a denormal reports DE in
    /// <paramref name="convFlags"/>, which the caller keeps only when no invalid operation or NaN
    /// operand takes precedence (SDM Vol. 1, 4.9.2).
    /// </summary>
    private bool X87ReadSource(ref DecodedInstruction d, int form, out Float80 v, out FpExceptions convFlags)
    {
        v = default;
        convFlags = 0;
        int size = form switch { 1 => 4, 2 => 8, 3 => 2, _ => 4 };
        ulong lin = ExtLin(ref d, size);
        if (!Read(lin, size, out ulong raw, IsStackOperand(ref d))) return false;
        var env = X87Env();
        if (form == 1 && (raw & 0x7F80_0000) == 0x7F80_0000 && (raw & 0x7F_FFFF) != 0 && (raw & 0x40_0000) == 0)
            v = new Float80(0x8000_0000_0000_0000 | (raw & 0x7F_FFFF) << 40, (ushort)((raw >> 31) << 15 | 0x7FFF));
        else if (form == 2 && (raw & 0x7FF0_0000_0000_0000) == 0x7FF0_0000_0000_0000 && (raw & 0xF_FFFF_FFFF_FFFF) != 0 && (raw & 0x8_0000_0000_0000) == 0)
            v = new Float80(0x8000_0000_0000_0000 | (raw & 0xF_FFFF_FFFF_FFFF) << 11, (ushort)((raw >> 63) << 15 | 0x7FFF));
        else
        {
            v = form switch
            {
                1 => SoftFloat.F32ToF80((uint)raw, ref env),
                2 => SoftFloat.F64ToF80(raw, ref env),
                3 => SoftFloat.I64ToF80((short)raw),
                _ => SoftFloat.I64ToF80((int)raw),
            };
            convFlags = env.Flags & FpExceptions.Denormal;
        }
        return true;
    }

    /// <summary>True for NaNs and the unsupported encodings (the operands whose handling outranks a denormal-operand exception).</summary>
    private static bool X87NaNOrUnsupported(Float80 v) =>
        v.Exponent == 0x7FFF ? (v.Significand << 1) != 0 || (v.Significand >> 63) == 0
        : v.Exponent != 0 && (v.Significand >> 63) == 0;

    /// <summary>
    /// FADD/FADDP/FIADD, FSUB/FSUBP/FISUB, FSUBR/FSUBRP/FISUBR, FMUL/FMULP/FIMUL, FDIV/FDIVP/FIDIV,
    /// FDIVR/FDIVRP/FIDIVR. Empty operand: stack underflow, masked response writes the indefinite to
    /// the destination (and pops for the P forms). Unmasked IE/DE/ZE: no write, no pop; unmasked
    /// OE/UE: the soft-float core's bias-adjusted result is written (SDM Vol. 1, 8.5.4, 8.5.5).
    /// C1 = rounded up (<see cref="FpEnv.RoundedUp"/>). Precision control applies (SDM Vol. 1, 8.1.5.2).
    /// </summary>
    private static void X87ArithH(Cpu c, ref DecodedInstruction d) => c.X87Arith(ref d);

    private void X87Arith(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        int op = d.Cond & 7, form = (d.Cond >> 3) & 7;
        bool pop = (d.Cond & 64) != 0;
        var env = X87Env();
        int dst, src;
        Float80 b;
        bool empty;
        FpExceptions conv = 0;
        if (form == 0)
        {
            dst = d.Reg;
            src = d.Reg2;
            b = St(src);
            empty = StEmpty(dst) || StEmpty(src);
        }
        else
        {
            dst = 0;
            if (!X87ReadSource(ref d, form, out b, out conv)) return;
            empty = StEmpty(0);
        }
        X87SetPointers(ref d);
        if (empty)
        {
            if (!X87StackFault(false)) return;
            SetSt(dst, Float80.Indefinite);
            if (pop) X87Pop();
            return;
        }
        Float80 a = St(dst);
        Float80 r = X87BinaryOp(op, a, b, ref env);
        if ((env.Flags & FpExceptions.Invalid) == 0 && !X87NaNOrUnsupported(a)) env.Flags |= conv;
        if (!X87MergeRounded(in env)) return;
        St(dst) = r;
        if (pop) X87Pop();
    }

    // ------------------------------------------------------------------ compares (SDM Vol. 2A "FCOM", "FUCOM", "FICOM", "FTST", "FCOMI")

    /// <summary>
    /// FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP, FTST: C3,C2,C0 = 000 (ST(0) &gt; source),
    /// 001 (&lt;), 100 (=), 111 (unordered); C1 = 0. FCOMI/FCOMIP/FUCOMI/FUCOMIP set ZF,PF,CF the
    /// same way and clear OF, SF, AF (C0, C2, C3 unchanged). The FUCOM forms raise IE only for SNaNs
    /// (and unsupported formats), the others for any NaN. Empty operand: stack underflow; masked,
    /// the result is "unordered" and the pops happen. Unmasked IE/DE: no flags set, no pop.
    /// </summary>
    private static void X87CompareH(Cpu c, ref DecodedInstruction d) => c.X87Compare(ref d);

    private void X87Compare(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        int form = d.Cond & 7, pops = (d.Cond >> 4) & 3;
        bool quiet = (d.Cond & 8) != 0, eflags = (d.Cond & 64) != 0;
        var env = X87Env();
        Float80 b = default;
        bool empty = StEmpty(0);
        FpExceptions conv = 0;
        if (form == 0)
        {
            int i = d.Reg2 == DecodedInstruction.NoReg ? 1 : d.Reg2;
            b = St(i);
            empty |= StEmpty(i);
        }
        else if (form < 5)
        {
            if (!X87ReadSource(ref d, form, out b, out conv)) return;
        }
        X87SetPointers(ref d);
        FpCompare result;
        if (empty)
        {
            if (!X87StackFault(false)) return;
            result = FpCompare.Unordered;
        }
        else
        {
            result = SoftFloat.Compare80(St(0), b, quiet, ref env);
            if ((env.Flags & FpExceptions.Invalid) == 0 && !X87NaNOrUnsupported(St(0))) env.Flags |= conv;
            SetC1(false);
            if (!X87Merge(env.Flags, X87PreComputation)) return;
        }
        if (eflags)
        {
            // ZF (0x40), PF (0x04), CF (0x01); OF, SF, AF cleared (mask 0x8D5).
            ulong f = result switch { FpCompare.Greater => 0UL, FpCompare.Less => 0x01UL, FpCompare.Equal => 0x40UL, _ => 0x45UL };
            SetStatus(0x8D5, f);
        }
        else
        {
            ushort cc = result switch { FpCompare.Greater => 0, FpCompare.Less => FswC0, FpCompare.Equal => FswC3, _ => FswC0 | FswC2 | FswC3 };
            _fpuStatus = (ushort)((_fpuStatus & ~(FswC0 | FswC2 | FswC3)) | cc);
        }
        for (int k = 0; k < pops; k++) X87Pop();
    }

    /// <summary>
    /// FXAM (SDM Vol. 2A "FXAM", its condition-code table): C1 = sign of ST(0); C3,C2,C0 = 000 unsupported,
    /// 001 NaN, 010 normal, 011 infinity, 100 zero, 101 empty, 110 denormal (pseudo-denormals
    /// included). Never raises an exception.
    /// </summary>
    private static void X87ExamineH(Cpu c, ref DecodedInstruction d) => c.X87Examine(ref d);

    private void X87Examine(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        Float80 v = St(0);
        int e = v.Exponent;
        bool j = (v.Significand >> 63) != 0;
        ushort cc;
        if (StEmpty(0)) cc = FswC3 | FswC0;
        else if (e == 0) cc = v.Significand == 0 ? FswC3 : (ushort)(FswC3 | FswC2);
        else if (!j) cc = 0;                                                  // unnormal, pseudo-NaN, pseudo-infinity
        else if (e == 0x7FFF) cc = (v.Significand << 1) == 0 ? (ushort)(FswC2 | FswC0) : FswC0;
        else cc = FswC2;
        _fpuStatus = (ushort)((_fpuStatus & ~FswCC) | cc | (v.Sign ? FswC1 : 0));
    }

    // ------------------------------------------------------------------ FCHS, FABS, FSQRT, FRNDINT

    /// <summary>
    /// FCHS, FABS (sign only: no exceptions besides stack underflow, C1 = 0), FSQRT and FRNDINT (soft-float
    /// core; FSQRT obeys precision control, FRNDINT rounds per RC). Empty ST(0): stack underflow,
    /// masked response ST(0) = indefinite.
    /// </summary>
    private static void X87UnaryH(Cpu c, ref DecodedInstruction d) => c.X87Unary(ref d);

    private void X87Unary(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        if (StEmpty(0))
        {
            if (X87StackFault(false)) SetSt(0, Float80.Indefinite);
            return;
        }
        Float80 a = St(0);
        switch (d.Cond)
        {
            case 0: SetC1(false); St(0) = new Float80(a.Significand, (ushort)(a.SignExponent ^ 0x8000)); return;
            case 1: SetC1(false); St(0) = new Float80(a.Significand, (ushort)(a.SignExponent & 0x7FFF)); return;
        }
        var env = X87Env();
        Float80 r = d.Cond == 2 ? SoftFloat.Sqrt80(a, ref env) : SoftFloat.RoundToIntegral80(a, ref env);
        if (!X87MergeRounded(in env)) return;
        St(0) = r;
    }

    // ------------------------------------------------------------------ FSCALE, FXTRACT, FPREM, FPREM1

    /// <summary>FSCALE: ST(0) = ST(0) * 2^trunc(ST(1)) (SDM Vol. 2A "FSCALE"); C1 = rounded up.</summary>
    private static void X87ScaleH(Cpu c, ref DecodedInstruction d) => c.X87Scale(ref d);

    private void X87Scale(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        if (StEmpty(0) || StEmpty(1))
        {
            if (X87StackFault(false)) SetSt(0, Float80.Indefinite);
            return;
        }
        var env = X87Env();
        Float80 a = St(0), b = St(1);
        Float80 r = SoftFloat.Scale80(a, b, ref env);
        if (!X87MergeRounded(in env)) return;
        St(0) = r;
    }

    /// <summary>
    /// FXTRACT (SDM Vol. 2A "FXTRACT"): ST(0) becomes the exponent (unbiased, as a value), then the
    /// significand is pushed: afterwards ST(0) = significand, ST(1) = exponent. Zero operand: ZE,
    /// masked response ST(1) = -infinity, ST(0) = the zero. Full stack: stack overflow.
    /// </summary>
    private static void X87ExtractH(Cpu c, ref DecodedInstruction d) => c.X87Extract(ref d);

    private void X87Extract(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        if (StEmpty(0))
        {
            if (!X87StackFault(false)) return;
            SetSt(0, Float80.Indefinite);
            if (StEmpty(7)) X87Push(Float80.Indefinite);
            return;
        }
        if (!StEmpty(7))
        {
            if (!X87StackFault(true)) return;
            SetSt(0, Float80.Indefinite);
            X87Push(Float80.Indefinite);
            return;
        }
        var env = X87Env();
        SoftFloat.Extract80(St(0), out Float80 exponent, out Float80 significand, ref env);
        SetC1(false);
        if (!X87Merge(env.Flags, X87PreComputation)) return;
        St(0) = exponent;
        X87Push(significand);
    }

    /// <summary>
    /// FPREM / FPREM1 (SDM Vol. 2A): ST(0) = partial remainder of ST(0) / ST(1) (truncating or
    /// round-to-nearest quotient); C2 = 1 when the reduction is incomplete; C0, C3, C1 = quotient
    /// bits 2, 1, 0.
    /// </summary>
    private static void X87RemainderH(Cpu c, ref DecodedInstruction d) => c.X87Remainder(ref d);

    private void X87Remainder(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        _fpuStatus &= unchecked((ushort)~FswC2);    // C2 = 1 only for an incomplete reduction
        if (StEmpty(0) || StEmpty(1))
        {
            if (X87StackFault(false)) SetSt(0, Float80.Indefinite);
            return;
        }
        var env = X87Env();
        Float80 r = SoftFloat.Remainder80(St(0), St(1), d.Cond != 0, out int q, out bool incomplete, ref env);
        if (!X87Merge(env.Flags, X87PreComputation)) return;
        ushort cc = (ushort)(((q & 4) != 0 ? FswC0 : 0) | ((q & 2) != 0 ? FswC3 : 0) | ((q & 1) != 0 ? FswC1 : 0) | (incomplete ? FswC2 : 0));
        _fpuStatus = (ushort)((_fpuStatus & ~FswCC) | cc);
        St(0) = r;
    }
}
