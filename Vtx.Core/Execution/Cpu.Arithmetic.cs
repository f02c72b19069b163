using System.Runtime.CompilerServices;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    // Two-operand ALU instructions share one handler, specialised per operation by the JIT through
    // a struct type parameter: no per-execution switch on the operation, one copy of the operand logic.
    private interface IAluOp
    {
        static abstract bool Store { get; }
        static abstract bool UsesCarry { get; }
        static abstract ulong Compute(ulong a, ulong b, ulong carry);
        static abstract void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry);
    }

    private struct AddOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a + b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Add, size, a, b, r);
    }

    private struct AdcOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => true;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a + b + carry;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) { c.SetFlags(FlagOp.Adc, size, a, b, r); c._faux = carry; }
    }

    private struct SubOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a - b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Sub, size, a, b, r);
    }

    private struct CmpOp : IAluOp
    {
        public static bool Store => false;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a - b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Sub, size, a, b, r);
    }

    private struct SbbOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => true;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a - b - carry;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) { c.SetFlags(FlagOp.Sbb, size, a, b, r); c._faux = carry; }
    }

    private struct AndOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a & b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Logic, size, a, b, r);
    }

    private struct TestOp : IAluOp
    {
        public static bool Store => false;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a & b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Logic, size, a, b, r);
    }

    private struct OrOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a | b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Logic, size, a, b, r);
    }

    private struct XorOp : IAluOp
    {
        public static bool Store => true;
        public static bool UsesCarry => false;
        public static ulong Compute(ulong a, ulong b, ulong carry) => a ^ b;
        public static void Flags(Cpu c, int size, ulong a, ulong b, ulong r, ulong carry) => c.SetFlags(FlagOp.Logic, size, a, b, r);
    }

    /// <summary>ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST: read both operands, write A (memory first), then flags.</summary>
    private void Alu<T>(ref DecodedInstruction d) where T : struct, IAluOp
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong b)) return;
        ulong carry = T.UsesCarry ? CarryBit() : 0UL;
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            ulong lin = Lin(ref d);
            // A storing operation translates its destination for write on the read (W = 1 in a #PF).
            if (!(T.Store ? ReadRmw(lin, size, out ulong a, d.Segment == 2) : Read(lin, size, out a, d.Segment == 2))) return;
            ulong r = T.Compute(a, b, carry);
            if (T.Store && !Write(lin, size, r, d.Segment == 2)) return;
            T.Flags(this, size, a, b, r, carry);
        }
        else
        {
            ulong a = GetReg(d.Reg, size);
            ulong r = T.Compute(a, b, carry);
            if (T.Store) SetReg(d.Reg, size, r);
            T.Flags(this, size, a, b, r, carry);
        }
    }

    /// <summary>INC/DEC: like ADD/SUB 1 but CF is preserved (SDM Vol. 2A, INC, DEC).</summary>
    private void ExecIncDec(ref DecodedInstruction d, bool dec)
    {
        int size = d.OpSize;
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        ulong r = dec ? a - 1 : a + 1;
        if (!WriteA(ref d, size, r, lin)) return;
        ulong cf = CarryBit();
        SetFlags(dec ? FlagOp.Dec : FlagOp.Inc, size, a, 1, r);
        _faux = cf;
    }

    /// <summary>NEG: 0 - A; CF = (A != 0) (SDM Vol. 2B, NEG).</summary>
    private void ExecNeg(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        ulong r = 0 - a;
        if (!WriteA(ref d, size, r, lin)) return;
        SetFlags(FlagOp.Sub, size, 0, a, r);
    }

    /// <summary>NOT: no flags.</summary>
    private void ExecNot(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        WriteA(ref d, size, ~a, lin);
    }

    /// <summary>
    /// MUL / one-operand IMUL into rDX:rAX (AX for bytes). CF = OF = the upper half is significant;
    /// SF, ZF, AF, PF are undefined (Vtx derives SF/ZF/PF from the low half, AF = 0).
    /// </summary>
    private void ExecMul(ref DecodedInstruction d, bool signed)
    {
        int size = d.OpSize;
        if (!ReadA(ref d, size, out ulong src, out _)) return;
        ulong acc = GetReg(0, size);
        ulong lo, hi;
        bool overflow;
        if (size == 8)
        {
            if (signed)
            {
                Int128 p = (Int128)(long)acc * (long)src;
                lo = (ulong)p;
                hi = (ulong)(p >> 64);
                overflow = p != (long)lo;
            }
            else
            {
                hi = Math.BigMul(acc, src, out lo);
                overflow = hi != 0;
            }
        }
        else
        {
            int bits = size * 8;
            ulong m = Sz.Mask(size);
            if (signed)
            {
                long p = (long)Sz.SignExtend(acc, size) * (long)Sz.SignExtend(src, size);
                lo = (ulong)p & m;
                hi = ((ulong)p >> bits) & m;
                overflow = p != (long)Sz.SignExtend(lo, size);
            }
            else
            {
                ulong p = (acc & m) * (src & m);
                lo = p & m;
                hi = (p >> bits) & m;
                overflow = hi != 0;
            }
        }
        if (size == 1) SetReg(0, 2, (hi << 8) | lo);
        else
        {
            SetReg(0, size, lo);
            SetReg(2, size, hi);
        }
        SetFlagsResult(size, lo, overflow ? CF | OF : 0);
    }

    /// <summary>IMUL r, r/m and IMUL r, r/m, imm: truncated product; CF = OF = truncation lost significance.</summary>
    private void ExecImul(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong a, b;
        if ((d.Flags & DecodedFlags.Imm3) != 0)
        {
            // Three-operand form: Reg <- B * imm.
            if (!ReadB(ref d, size, out a)) return;
            b = d.Imm;
        }
        else
        {
            a = GetReg(d.Reg, size);
            if (!ReadB(ref d, size, out b)) return;
        }
        ulong r;
        bool overflow;
        if (size == 8)
        {
            Int128 p = (Int128)(long)a * (long)b;
            r = (ulong)p;
            overflow = p != (long)r;
        }
        else
        {
            long p = (long)Sz.SignExtend(a, size) * (long)Sz.SignExtend(b, size);
            r = (ulong)p & Sz.Mask(size);
            overflow = p != (long)Sz.SignExtend(r, size);
        }
        SetReg(d.Reg, size, r);
        SetFlagsResult(size, r, overflow ? CF | OF : 0);
    }

    /// <summary>DIV: unsigned rDX:rAX / src; #DE on a zero divisor or a quotient too large. Flags undefined (left unchanged).</summary>
    private void ExecDiv(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadA(ref d, size, out ulong src, out _)) return;
        src &= Sz.Mask(size);
        if (src == 0) { Fault(ExceptionVector.DE); return; }
        ulong q, rem;
        int dbits; // significant bits of the dividend (issue 10: the divider's latency depends on it)
        if (size == 8)
        {
            UInt128 n = ((UInt128)_gpr[2] << 64) | _gpr[0];
            dbits = 128 - (int)UInt128.LeadingZeroCount(n);
            UInt128 qq = n / src;
            if (qq > ulong.MaxValue) { Fault(ExceptionVector.DE); return; }
            q = (ulong)qq;
            rem = (ulong)(n % src);
        }
        else
        {
            int bits = size * 8;
            ulong m = Sz.Mask(size);
            ulong n = size == 1 ? GetReg(0, 2) : ((GetReg(2, size) << bits) | GetReg(0, size));
            dbits = 64 - System.Numerics.BitOperations.LeadingZeroCount(n);
            q = n / src;
            if (q > m) { Fault(ExceptionVector.DE); return; }
            rem = n % src;
        }
        StoreQuotient(size, q, rem);
        if (_blockTiming is not null) DivideTiming(size, false, dbits); // issue 10: data-dependent latency
    }

    /// <summary>IDIV: signed rDX:rAX / src, quotient truncated toward zero; #DE on zero or overflow (including MIN / -1).</summary>
    private void ExecIdiv(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadA(ref d, size, out ulong src, out _)) return;
        long s = (long)Sz.SignExtend(src, size);
        if (s == 0) { Fault(ExceptionVector.DE); return; }
        ulong q, rem;
        int dbits; // significant bits of the dividend's magnitude (issue 10)
        if (size == 8)
        {
            Int128 n = (Int128)(((UInt128)_gpr[2] << 64) | _gpr[0]);
            dbits = 128 - (int)UInt128.LeadingZeroCount((UInt128)(n < 0 ? -n : n));
            // MIN / -1 overflows the host division too: its quotient (2^127) is out of range anyway.
            Int128 qq = s == -1 ? (n == Int128.MinValue ? Int128.MaxValue : -n) : n / s;
            if (qq > long.MaxValue || qq < long.MinValue) { Fault(ExceptionVector.DE); return; }
            q = (ulong)(long)qq;
            rem = (ulong)(long)(n % s);
        }
        else
        {
            int bits = size * 8;
            long n = size == 1 ? (short)GetReg(0, 2) : (long)Sz.SignExtend((GetReg(2, size) << bits) | GetReg(0, size), size * 2);
            dbits = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(n < 0 ? -n : n));
            long qq = s == -1 ? (n == long.MinValue ? long.MaxValue : -n) : n / s; // as above (EDX:EAX = -2^63)
            long max = (long)(Sz.Sign(size) - 1), min = -max - 1;
            if (qq > max || qq < min) { Fault(ExceptionVector.DE); return; }
            q = (ulong)qq;
            rem = (ulong)(n % s);
        }
        StoreQuotient(size, q, rem);
        if (_blockTiming is not null) DivideTiming(size, true, dbits); // issue 10: data-dependent latency
    }

    private void StoreQuotient(int size, ulong q, ulong rem)
    {
        if (size == 1) SetReg(0, 2, ((rem & 0xFF) << 8) | (q & 0xFF));
        else
        {
            SetReg(0, size, q);
            SetReg(2, size, rem);
        }
    }

    /// <summary>ADCX (carry through CF) / ADOX (carry through OF); no other flag changes (SDM Vol. 2A, ADCX, ADOX).</summary>
    private void ExecAdx(ref DecodedInstruction d, ulong flag)
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong b)) return;
        MaterializeFlags();
        ulong a = GetReg(d.Reg, size), m = Sz.Mask(size);
        ulong cin = (_rflags & flag) != 0 ? 1UL : 0UL;
        ulong r = (a & m) + (b & m) + cin;
        bool cout = size == 8 ? (cin != 0 ? r <= a : r < a) : (r >> (size * 8)) != 0;
        SetReg(d.Reg, size, r);
        _rflags = cout ? _rflags | flag : _rflags & ~flag;
    }

    /// <summary>MULX: unsigned rDX * src; high half to A, low half to VEX.vvvv; flags unaffected. Same register: high half wins.</summary>
    private void ExecMulx(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong src)) return;
        ulong lo, hi;
        if (size == 8) hi = Math.BigMul(_gpr[2], src, out lo);
        else
        {
            ulong p = (ulong)(uint)_gpr[2] * (uint)src;
            lo = (uint)p;
            hi = p >> 32;
        }
        SetReg(d.Reg3, size, lo);
        SetReg(d.Reg, size, hi);
    }
}
