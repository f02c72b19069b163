using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// x87 data transfer (SDM Vol. 1, 8.3.3, 8.3.4, 8.3.6): FLD/FST/FSTP, FILD/FIST/FISTP/FISTTP,
// FBLD/FBSTP, the constants, FXCH, FCMOVcc, and the stack-management control instructions.
public sealed unsafe partial class Cpu
{
    private static void RegisterX87Data(InstructionTable t)
    {
        // FLD: variant = source format (0 ST(i), 1 m32fp, 2 m64fp, 3 m80fp, 4 m16int, 5 m32int, 6 m64int)
        t.Add(Code.Fld_sti, &X87LoadH, 0);
        t.Add(Code.Fld_m32fp, &X87LoadH, 1);
        t.Add(Code.Fld_m64fp, &X87LoadH, 2);
        t.Add(Code.Fld_m80fp, &X87LoadH, 3);
        t.Add(Code.Fild_m16int, &X87LoadH, 4);
        t.Add(Code.Fild_m32int, &X87LoadH, 5);
        t.Add(Code.Fild_m64int, &X87LoadH, 6);
        // FST: variant = format (0 ST(i), 1 m32fp, 2 m64fp, 3 m80fp, 4 m16int, 5 m32int, 6 m64int) | pop << 3 | truncate << 4
        t.Add(Code.Fst_sti, &X87StoreH, 0);
        t.Add(Code.Fstp_sti, &X87StoreH, 8);
        t.Add(Code.Fstpnce_sti, &X87StoreH, 8);      // D9 D8+i: reserved alias of FSTP ST(i)
        t.Add(Code.Fstp_sti_DFD0, &X87StoreH, 8);    // DF D0+i / D8+i: reserved aliases of FSTP ST(i)
        t.Add(Code.Fstp_sti_DFD8, &X87StoreH, 8);
        t.Add(Code.Fst_m32fp, &X87StoreH, 1);
        t.Add(Code.Fstp_m32fp, &X87StoreH, 1 | 8);
        t.Add(Code.Fst_m64fp, &X87StoreH, 2);
        t.Add(Code.Fstp_m64fp, &X87StoreH, 2 | 8);
        t.Add(Code.Fstp_m80fp, &X87StoreH, 3 | 8);
        t.Add(Code.Fist_m16int, &X87StoreH, 4);
        t.Add(Code.Fistp_m16int, &X87StoreH, 4 | 8);
        t.Add(Code.Fist_m32int, &X87StoreH, 5);
        t.Add(Code.Fistp_m32int, &X87StoreH, 5 | 8);
        t.Add(Code.Fistp_m64int, &X87StoreH, 6 | 8);
        t.Add(Code.Fisttp_m16int, &X87StoreH, 4 | 8 | 16);
        t.Add(Code.Fisttp_m32int, &X87StoreH, 5 | 8 | 16);
        t.Add(Code.Fisttp_m64int, &X87StoreH, 6 | 8 | 16);
        t.Add(Code.Fbld_m80bcd, &X87BcdLoadH);
        t.Add(Code.Fbstp_m80bcd, &X87BcdStoreH);
        // Constants: variant = index into X87Constants
        t.Add(Code.Fld1, &X87ConstH, 0);
        t.Add(Code.Fldl2t, &X87ConstH, 1);
        t.Add(Code.Fldl2e, &X87ConstH, 2);
        t.Add(Code.Fldpi, &X87ConstH, 3);
        t.Add(Code.Fldlg2, &X87ConstH, 4);
        t.Add(Code.Fldln2, &X87ConstH, 5);
        t.Add(Code.Fldz, &X87ConstH, 6);
        t.Add(Code.Fxch_st0_sti, &X87XchH);
        t.Add(Code.Fxch_st0_sti_DDC8, &X87XchH);     // reserved aliases of FXCH
        t.Add(Code.Fxch_st0_sti_DFC8, &X87XchH);
        // FCMOVcc: variant = EFLAGS condition code (Jcc numbering)
        t.Add(Code.Fcmovb_st0_sti, &X87CmovH, 2);
        t.Add(Code.Fcmovnb_st0_sti, &X87CmovH, 3);
        t.Add(Code.Fcmove_st0_sti, &X87CmovH, 4);
        t.Add(Code.Fcmovne_st0_sti, &X87CmovH, 5);
        t.Add(Code.Fcmovbe_st0_sti, &X87CmovH, 6);
        t.Add(Code.Fcmovnbe_st0_sti, &X87CmovH, 7);
        t.Add(Code.Fcmovu_st0_sti, &X87CmovH, 10);
        t.Add(Code.Fcmovnu_st0_sti, &X87CmovH, 11);
        t.Add(Code.Fincstp, &X87StackPtrH, 1);
        t.Add(Code.Fdecstp, &X87StackPtrH, 0xFF);
        t.Add(Code.Ffree_sti, &X87FreeH, 0);
        t.Add(Code.Ffreep_sti, &X87FreeH, 1);         // DF C0+i: FFREE ST(i) then pop (reserved, executed by Intel parts)
    }

    /// <summary>Memory size in bytes of the FLD/FST format variant.</summary>
    private static int X87FormatSize(int format) => format switch { 1 => 4, 2 => 8, 3 => 10, 4 => 2, 5 => 4, _ => 8 };

    // ------------------------------------------------------------------ FLD / FILD

    /// <summary>
    /// FLD ST(i)/m32fp/m64fp/m80fp and FILD m16/m32/m64int (SDM Vol. 2A "FLD", "FILD"): push the
    /// source, converted exactly to double-extended precision. m32/m64: SNaN -> IE (QNaN pushed when
    /// masked), denormal -> DE; m80 and ST(i) load the bits unchanged with no exception. A full
    /// stack (ST(7) not empty) is a stack overflow: masked, the indefinite is pushed.
    /// </summary>
    private static void X87LoadH(Cpu c, ref DecodedInstruction d) => c.X87Load(ref d);

    private void X87Load(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        int format = d.Cond;
        Float80 v = default;
        var env = X87Env();
        bool srcEmpty = false;
        if (format == 0)
        {
            srcEmpty = StEmpty(d.Reg);
            v = St(d.Reg);
        }
        else
        {
            bool stack = IsStackOperand(ref d);
            ulong lin = ExtLin(ref d, X87FormatSize(format));
            ulong raw = 0;
            if (format == 3) { if (!ReadF80(lin, out v, stack)) return; }
            else if (!Read(lin, X87FormatSize(format), out raw, stack)) return;
            v = format switch
            {
                1 => SoftFloat.F32ToF80((uint)raw, ref env),
                2 => SoftFloat.F64ToF80(raw, ref env),
                3 => v,
                4 => SoftFloat.I64ToF80((short)raw),
                5 => SoftFloat.I64ToF80((int)raw),
                _ => SoftFloat.I64ToF80((long)raw),
            };
        }
        X87SetPointers(ref d);
        if (!StEmpty(7))
        {
            if (X87StackFault(true)) X87Push(Float80.Indefinite);
            return;
        }
        if (srcEmpty)
        {
            if (X87StackFault(false)) X87Push(Float80.Indefinite);
            return;
        }
        SetC1(false);
        if (!X87Merge(env.Flags, X87PreComputation)) return;
        X87Push(v);
    }

    // ------------------------------------------------------------------ FST / FIST / FISTTP

    /// <summary>
    /// FST/FSTP ST(i), m32fp, m64fp, m80fp; FIST/FISTP m16/m32/m64int; FISTTP (SDM Vol. 2A "FST",
    /// "FIST", "FISTTP"). Conversions round per FCW.RC (FISTTP always truncates); C1 = 1 when the
    /// stored value was rounded up in magnitude. Empty ST(0): stack underflow, masked response stores
    /// the indefinite of the destination format (QNaN indefinite, integer indefinite 80..0h).
    /// Unmasked IE/DE/OE/UE: memory is not written and nothing is popped (SDM Vol. 1, 8.5);
    /// the value is written to memory before any FPU state changes, so a fault changes nothing.
    /// </summary>
    private static void X87StoreH(Cpu c, ref DecodedInstruction d) => c.X87Store(ref d);

    private void X87Store(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        int format = d.Cond & 7;
        bool pop = (d.Cond & 8) != 0, truncate = (d.Cond & 16) != 0;
        Float80 v = St(0);
        bool empty = StEmpty(0);
        if (format == 0)
        {
            X87SetPointers(ref d);
            if (empty)
            {
                if (!X87StackFault(false)) return;
                v = Float80.Indefinite;
            }
            else SetC1(false);
            SetSt(d.Reg, v);
            if (pop) X87Pop();
            return;
        }

        var env = X87Env();
        ulong raw;
        bool roundedUp = false;
        if (empty)
        {
            raw = format switch
            {
                1 => 0xFFC0_0000UL,
                2 => 0xFFF8_0000_0000_0000UL,
                4 => 0x8000UL,
                5 => 0x8000_0000UL,
                6 => 0x8000_0000_0000_0000UL,
                _ => 0,
            };
            if (format == 3) v = Float80.Indefinite;
        }
        else
        {
            raw = X87Convert(format, v, truncate, ref env);
            roundedUp = env.RoundedUp;
        }

        // Decide before writing: an unmasked exception (or unmasked stack underflow) stores nothing.
        FpExceptions masks = (FpExceptions)(_fpuControl & 0x3F);
        bool write = empty ? (masks & FpExceptions.Invalid) != 0 : (env.Flags & ~masks & X87MemoryAbort) == 0;
        if (write)
        {
            bool stack = IsStackOperand(ref d);
            int size = X87FormatSize(format);
            ulong lin = ExtLin(ref d, size);
            if (format == 3) { if (!WriteF80(lin, v, stack)) return; }
            else if (!Write(lin, size, raw, stack)) return;
        }
        X87SetPointers(ref d);
        if (empty)
        {
            if (X87StackFault(false) && pop) X87Pop();
            return;
        }
        SetC1(roundedUp);
        if (!X87Merge(env.Flags, X87MemoryAbort)) return;
        if (pop) X87Pop();
    }

    /// <summary>Converts <paramref name="v"/> to the memory format (raw bits); flags into <paramref name="env"/>.</summary>
    private static ulong X87Convert(int format, Float80 v, bool truncate, ref FpEnv env) => format switch
    {
        1 => SoftFloat.F80ToF32(v, ref env),
        2 => SoftFloat.F80ToF64(v, ref env),
        3 => 0,
        4 => (ushort)SoftFloat.F80ToI16(v, truncate, ref env),
        5 => (uint)SoftFloat.F80ToI32(v, truncate, ref env),
        _ => (ulong)SoftFloat.F80ToI64(v, truncate, ref env),
    };

    // ------------------------------------------------------------------ FBLD / FBSTP (SDM Vol. 1, 4.7; Vol. 2A "FBLD", "FBSTP")

    /// <summary>FBLD m80bcd: pushes the 18-digit packed BCD integer (bit 79 sign, bytes 8..0 digit pairs), converted exactly. Invalid digits give an undefined result; Vtx weights each nibble by its power of ten.</summary>
    private static void X87BcdLoadH(Cpu c, ref DecodedInstruction d) => c.X87BcdLoad(ref d);

    private void X87BcdLoad(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        bool stack = IsStackOperand(ref d);
        ulong lin = ExtLin(ref d, 10);
        if (!Read(lin, 8, out ulong lo, stack) || !Read((lin + 8) & _linMask, 2, out ulong hi, stack)) return;
        X87SetPointers(ref d);
        if (!StEmpty(7))
        {
            if (X87StackFault(true)) X87Push(Float80.Indefinite);
            return;
        }
        ulong value = 0;
        for (int i = 8; i >= 0; i--)
        {
            int b = (int)(i == 8 ? hi & 0xFF : (lo >> (8 * i)) & 0xFF);
            value = value * 100 + (ulong)((b >> 4) * 10 + (b & 15));
        }
        Float80 v = SoftFloat.I64ToF80((long)value);
        if ((hi & 0x8000) != 0) v = new Float80(v.Significand, (ushort)(v.SignExponent | 0x8000));
        SetC1(false);
        X87Push(v);
    }

    /// <summary>
    /// FBSTP m80bcd: ST(0) rounded to an integer per FCW.RC, stored as packed BCD, then popped. NaN,
    /// infinity, unsupported, or a rounded magnitude above 10^18 - 1: IE; masked, the packed BCD
    /// indefinite (FFFF C000 0000 0000 0000h) is stored. The sign bit is ST(0)'s (so -0 stores as
    /// negative zero). Unmasked IE: nothing stored or popped.
    /// </summary>
    private static void X87BcdStoreH(Cpu c, ref DecodedInstruction d) => c.X87BcdStore(ref d);

    private void X87BcdStore(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        const ulong IndefLo = 0xC000_0000_0000_0000UL, IndefHi = 0xFFFF;
        bool empty = StEmpty(0);
        Float80 v = St(0);
        var env = X87Env();
        ulong lo = IndefLo, hi = IndefHi;
        bool roundedUp = false;
        if (!empty)
        {
            long n = SoftFloat.F80ToI64(v, false, ref env);
            ulong mag = n < 0 ? (ulong)-(n + 1) + 1 : (ulong)n;
            if ((env.Flags & FpExceptions.Invalid) != 0 || mag > 999_999_999_999_999_999UL)
                env.Flags = (env.Flags & ~FpExceptions.Precision) | FpExceptions.Invalid;
            else
            {
                lo = 0;
                for (int i = 0; i < 16; i++) { lo |= (mag % 10) << (4 * i); mag /= 10; }
                hi = (mag % 10) | ((mag / 10) << 4);
                if (v.Sign) hi |= 0x8000;
                roundedUp = env.RoundedUp;
            }
        }
        FpExceptions masks = (FpExceptions)(_fpuControl & 0x3F);
        bool write = empty ? (masks & FpExceptions.Invalid) != 0 : (env.Flags & ~masks & X87MemoryAbort) == 0;
        if (write)
        {
            bool stack = IsStackOperand(ref d);
            ulong lin = ExtLin(ref d, 10);
            if (!ProbeWrite(lin, 10, stack)) return;
            if (!Write(lin, 8, lo, stack) || !Write((lin + 8) & _linMask, 2, hi, stack)) return;
        }
        X87SetPointers(ref d);
        if (empty)
        {
            if (X87StackFault(false)) X87Pop();
            return;
        }
        SetC1(roundedUp);
        if (!X87Merge(env.Flags, X87MemoryAbort)) return;
        X87Pop();
    }

    // ------------------------------------------------------------------ constants (SDM Vol. 1, 8.3.4; Vol. 2A "FLD1/FLDL2T/...")

    // Intel's internal constants carry 66 significand bits (Vol. 2A "FLD1/...": "an internal 66-bit
    // constant is rounded (as specified by the RC field...)"). Each is the mathematical value rounded
    // to nearest at 66 bits: the 64 high bits, then the 2 extra bits. None of the extra-bit pairs is
    // a tie (10b), so rounding them per RC gives the correctly rounded constant in every mode and the
    // 8087/287 constants in round-to-nearest (Vol. 2A "IA-32 Architecture Compatibility").
    private static readonly (ushort Exp, ulong Hi, byte Lo2)[] X87Constants =
    [
        (0x3FFF, 0x8000_0000_0000_0000, 0), // 1.0
        (0x4000, 0xD49A_784B_CD1B_8AFE, 1), // log2(10)
        (0x3FFF, 0xB8AA_3B29_5C17_F0BB, 3), // log2(e)
        (0x4000, 0xC90F_DAA2_2168_C234, 3), // pi
        (0x3FFD, 0x9A20_9A84_FBCF_F798, 3), // log10(2)
        (0x3FFE, 0xB172_17F7_D1CF_79AB, 3), // ln(2)
        (0x0000, 0, 0),                     // +0.0
    ];

    /// <summary>FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: push the constant rounded per FCW.RC; no #P and no C1 rounding indication.</summary>
    private static void X87ConstH(Cpu c, ref DecodedInstruction d) => c.X87Const(ref d);

    private void X87Const(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        if (!StEmpty(7))
        {
            if (X87StackFault(true)) X87Push(Float80.Indefinite);
            return;
        }
        var (exp, hi, lo2) = X87Constants[d.Cond];
        bool up = (FpRounding)((_fpuControl >> 10) & 3) switch
        {
            FpRounding.Nearest => lo2 > 2 || (lo2 == 2 && (hi & 1) != 0),
            FpRounding.Up => lo2 != 0,     // all constants are positive
            _ => false,                    // down, toward zero
        };
        SetC1(false);
        X87Push(new Float80(up ? hi + 1 : hi, exp)); // no constant's significand is all ones: no carry out
    }

    // ------------------------------------------------------------------ FXCH, FCMOVcc

    /// <summary>FXCH ST(i): exchanges ST(0) and ST(i). An empty operand is a stack underflow; masked, empty registers are first loaded with the indefinite (SDM Vol. 2A "FXCH").</summary>
    private static void X87XchH(Cpu c, ref DecodedInstruction d) => c.X87Xch(ref d);

    private void X87Xch(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        int i = d.Reg2 == DecodedInstruction.NoReg ? 1 : d.Reg2;
        bool e0 = StEmpty(0), ei = StEmpty(i);
        if (e0 || ei)
        {
            if (!X87StackFault(false)) return;
            if (e0) SetSt(0, Float80.Indefinite);
            if (ei) SetSt(i, Float80.Indefinite);
        }
        else SetC1(false);
        Float80 a = St(0);
        St(0) = St(i);
        St(i) = a;
    }

    /// <summary>FCMOVcc ST(0), ST(i): ST(0) = ST(i) when the EFLAGS condition holds. An empty operand is a stack underflow whatever the condition; masked, ST(0) becomes the indefinite (SDM Vol. 2A "FCMOVcc").</summary>
    private static void X87CmovH(Cpu c, ref DecodedInstruction d) => c.X87Cmov(ref d);

    private void X87Cmov(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        int i = d.Reg2;
        if (StEmpty(0) || StEmpty(i))
        {
            if (X87StackFault(false)) SetSt(0, Float80.Indefinite);
            return;
        }
        SetC1(false);
        if (Condition(d.Cond)) St(0) = St(i);
    }

    // ------------------------------------------------------------------ FINCSTP, FDECSTP, FFREE, FFREEP

    /// <summary>FINCSTP / FDECSTP: TOP + 1 / TOP - 1 with no tag change; C1 = 0 (SDM Vol. 2A).</summary>
    private static void X87StackPtrH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87Enter(ref d, true)) return;
        c.X87SetPointers(ref d);
        c._fpuTop = (c._fpuTop + (sbyte)d.Cond) & 7;
        c.SetC1(false);
    }

    /// <summary>FFREE ST(i): tags ST(i) empty (contents and TOP unchanged); FFREEP then pops.</summary>
    private static void X87FreeH(Cpu c, ref DecodedInstruction d)
    {
        if (!c.X87Enter(ref d, true)) return;
        c.X87SetPointers(ref d);
        c._fpuEmpty |= (byte)(1 << ((c._fpuTop + d.Reg) & 7));
        if (d.Cond != 0) c.X87Pop();
    }
}
