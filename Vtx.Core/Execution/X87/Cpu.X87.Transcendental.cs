using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// x87 transcendental instructions (SDM Vol. 1, 8.3.9-8.3.10; Vol. 2A FSIN, FCOS, FSINCOS, FPTAN,
// FPATAN, F2XM1, FYL2X, FYL2XP1): the functions are the soft-float core's (always 64-bit
// precision); here the stack, C2 range reporting, C1 and the exception responses.
public sealed unsafe partial class Cpu
{
    static partial void RegisterX87Transcendental(InstructionTable t)
    {
        t.Add(Code.Fsin, &X87TrigH, 0);
        t.Add(Code.Fcos, &X87TrigH, 1);
        t.Add(Code.Fptan, &X87PushingTrigH, 0);
        t.Add(Code.Fsincos, &X87PushingTrigH, 1);
        t.Add(Code.F2xm1, &X87F2xm1H);
        t.Add(Code.Fpatan, &X87BinaryPopH, 0);
        t.Add(Code.Fyl2x, &X87BinaryPopH, 1);
        t.Add(Code.Fyl2xp1, &X87BinaryPopH, 2);
    }

    /// <summary>
    /// FSIN / FCOS: ST(0) = sin/cos ST(0). |ST(0)| &gt;= 2^63: C2 = 1 and ST(0) unchanged (no
    /// exception); otherwise C2 = 0, C1 = rounded up. Empty: stack underflow (masked: indefinite).
    /// </summary>
    private static void X87TrigH(Cpu c, ref DecodedInstruction d) => c.X87Trig(ref d);

    private void X87Trig(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        _fpuStatus &= unchecked((ushort)~FswC2);    // C2 = 1 only for an out-of-range operand
        if (StEmpty(0))
        {
            if (X87StackFault(false)) SetSt(0, Float80.Indefinite);
            return;
        }
        var env = X87Env();
        Float80 r = d.Cond == 0 ? SoftFloat.Sin80(St(0), ref env, out bool outOfRange) : SoftFloat.Cos80(St(0), ref env, out outOfRange);
        if (outOfRange) { _fpuStatus |= FswC2; return; }
        if (!X87MergeRounded(in env)) return;
        St(0) = r;
    }

    /// <summary>
    /// FPTAN (ST(0) = tan ST(0), then push +1.0, or the NaN result again) and FSINCOS (ST(0) = sin, then push cos: afterwards
    /// ST(0) = cos, ST(1) = sine). Out of range: C2 = 1, nothing changes. A stack fault (empty ST(0)
    /// or full stack), masked: ST(0) and the pushed register get the indefinite.
    /// </summary>
    private static void X87PushingTrigH(Cpu c, ref DecodedInstruction d) => c.X87PushingTrig(ref d);

    private void X87PushingTrig(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        _fpuStatus &= unchecked((ushort)~FswC2);    // C2 = 1 only for an out-of-range operand
        bool empty = StEmpty(0), full = !StEmpty(7);
        if (empty || full)
        {
            if (!X87StackFault(!empty)) return;
            SetSt(0, Float80.Indefinite);
            X87Push(Float80.Indefinite);
            return;
        }
        var env = X87Env();
        Float80 first, second;
        bool outOfRange;
        if (d.Cond == 0)
        {
            first = SoftFloat.Tan80(St(0), ref env, out outOfRange);
            // +1.0 is pushed after a tangent; a NaN result (NaN, infinite or unsupported operand,
            // masked IE) is pushed instead, so ST(0) and ST(1) both hold it (as silicon and Bochs do).
            second = SoftFloat.Classify80(first) == X87Class.NaN ? first : new Float80(0x8000_0000_0000_0000, 0x3FFF);
        }
        else SoftFloat.SinCos80(St(0), out first, out second, ref env, out outOfRange);
        if (outOfRange) { _fpuStatus |= FswC2; return; }
        if (!X87MergeRounded(in env)) return;
        St(0) = first;
        X87Push(second);
    }

    /// <summary>F2XM1: ST(0) = 2^ST(0) - 1 (defined for -1 &lt;= ST(0) &lt;= 1).</summary>
    private static void X87F2xm1H(Cpu c, ref DecodedInstruction d) => c.X87F2xm1(ref d);

    private void X87F2xm1(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        if (StEmpty(0))
        {
            if (X87StackFault(false)) SetSt(0, Float80.Indefinite);
            return;
        }
        var env = X87Env();
        Float80 r = SoftFloat.F2xm1_80(St(0), ref env);
        if (!X87MergeRounded(in env)) return;
        St(0) = r;
    }

    /// <summary>
    /// FPATAN (ST(1) = arctan(ST(1) / ST(0))), FYL2X (ST(1) = ST(1) * log2 ST(0)), FYL2XP1
    /// (ST(1) = ST(1) * log2(ST(0) + 1)), then pop. Empty operand: stack underflow, masked: ST(1) =
    /// indefinite and pop. Unmasked IE/DE/ZE: nothing changes.
    /// </summary>
    private static void X87BinaryPopH(Cpu c, ref DecodedInstruction d) => c.X87BinaryPop(ref d);

    private void X87BinaryPop(ref DecodedInstruction d)
    {
        if (!X87Enter(ref d, true)) return;
        X87SetPointers(ref d);
        if (StEmpty(0) || StEmpty(1))
        {
            if (!X87StackFault(false)) return;
            SetSt(1, Float80.Indefinite);
            X87Pop();
            return;
        }
        var env = X87Env();
        Float80 x = St(0), y = St(1);
        Float80 r = d.Cond switch
        {
            0 => SoftFloat.Atan80(y, x, ref env),
            1 => SoftFloat.Yl2x80(x, y, ref env),
            _ => SoftFloat.Yl2xp1_80(x, y, ref env),
        };
        if (!X87MergeRounded(in env)) return;
        St(1) = r;
        X87Pop();
    }
}
