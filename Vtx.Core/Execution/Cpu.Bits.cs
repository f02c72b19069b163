using System.Numerics;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>
    /// The operands of a shift or rotate: the count (B, masked to 5 bits, 6 with 64-bit operands)
    /// and operand A (masked to its size). False when the instruction is done: a fault, or a zero
    /// count, which changes nothing but still writes a 32-bit register (zero-extending it).
    /// </summary>
    private bool ShiftOperands(ref DecodedInstruction d, int size, out int cnt, out ulong a, out ulong lin)
    {
        cnt = 0;
        a = lin = 0;
        if (!ReadB(ref d, 1, out ulong c)) return false;
        cnt = (int)(c & (size == 8 ? 63u : 31u));
        if (!ReadARmw(ref d, size, out a, out lin)) return false;
        if (cnt == 0) { ZeroCountWrite(ref d, size, a); return false; }
        a &= Sz.Mask(size);
        return true;
    }

    /// <summary>A zero shift/rotate count changes nothing but still writes a 32-bit register (zero-extending it).</summary>
    private void ZeroCountWrite(ref DecodedInstruction d, int size, ulong a)
    {
        if (size == 4 && (d.Flags & DecodedFlags.MemA) == 0) SetReg(d.Reg, 4, a);
    }

    /// <summary>
    /// SHL/SAL, SHR, SAR by 1, CL or imm8 (SDM Vol. 2B, SAL/SAR/SHL/SHR). The count is masked to
    /// 5 bits (6 with 64-bit operands); a zero count leaves flags alone. OF is defined for a count of
    /// 1 only and AF is undefined; Vtx computes OF by the count-1 rule for every count and AF = 0.
    /// </summary>
    private void ExecShift(ref DecodedInstruction d)
    {
        int size = d.OpSize, bits = size * 8;
        if (!ShiftOperands(ref d, size, out int cnt, out ulong a, out ulong lin)) return;
        ulong m = Sz.Mask(size), sign = Sz.Sign(size);
        ulong r;
        bool cf, of;
        switch (d.Op)
        {
            case Op.Shl:
                r = cnt >= 64 ? 0 : (a << cnt) & m;
                cf = cnt <= bits && ((a >> (bits - cnt)) & 1) != 0;
                of = ((r & sign) != 0) != cf;
                break;
            case Op.Shr:
                r = a >> cnt;
                cf = cnt <= bits && ((a >> (cnt - 1)) & 1) != 0;
                of = (a & sign) != 0;
                break;
            default: // SAR
            {
                long sa = (long)Sz.SignExtend(a, size);
                r = (ulong)(sa >> Math.Min(cnt, 63)) & m;
                cf = ((sa >> Math.Min(cnt - 1, 63)) & 1) != 0;
                of = false;
                break;
            }
        }
        if (!WriteA(ref d, size, r, lin)) return;
        SetFlagsResult(size, r, (cf ? CF : 0) | (of ? OF : 0));
    }

    /// <summary>
    /// ROL, ROR, RCL, RCR (SDM Vol. 2B, RCL/RCR/ROL/ROR): only CF and OF change; OF is defined
    /// for a masked count of 1 (Vtx applies the same rule for every count). SF/ZF/AF/PF stay lazy
    /// (<see cref="SetRotateFlags"/>).
    /// </summary>
    private void ExecRotate(ref DecodedInstruction d)
    {
        int size = d.OpSize, bits = size * 8;
        if (!ShiftOperands(ref d, size, out int cnt, out ulong a, out ulong lin)) return;
        ulong m = Sz.Mask(size), sign = Sz.Sign(size);
        ulong r;
        bool cf, of;
        switch (d.Op)
        {
            case Op.Rol:
            {
                int t = cnt % bits;
                r = t == 0 ? a : ((a << t) | (a >> (bits - t))) & m;
                cf = (r & 1) != 0;
                of = ((r & sign) != 0) != cf;
                break;
            }
            case Op.Ror:
            {
                int t = cnt % bits;
                r = t == 0 ? a : ((a >> t) | (a << (bits - t))) & m;
                cf = (r & sign) != 0;
                of = ((r & sign) != 0) != ((r & (sign >> 1)) != 0);
                break;
            }
            case Op.Rcl:
            {
                int t = size < 4 ? cnt % (bits + 1) : cnt;
                bool carry = GetCF();
                r = a;
                for (int i = 0; i < t; i++)
                {
                    bool msb = (r & sign) != 0;
                    r = ((r << 1) | (carry ? 1UL : 0)) & m;
                    carry = msb;
                }
                cf = carry;
                of = ((r & sign) != 0) != cf;
                break;
            }
            default: // RCR
            {
                int t = size < 4 ? cnt % (bits + 1) : cnt;
                bool carry = GetCF();
                of = ((a & sign) != 0) != carry;
                r = a;
                for (int i = 0; i < t; i++)
                {
                    bool lsb = (r & 1) != 0;
                    r = (r >> 1) | (carry ? sign : 0);
                    carry = lsb;
                }
                cf = carry;
                break;
            }
        }
        if (!WriteA(ref d, size, r, lin)) return;
        SetRotateFlags((cf ? CF : 0) | (of ? OF : 0));
    }

    /// <summary>
    /// SHLD/SHRD (SDM Vol. 2B). Count masked to 5 (6) bits; zero changes nothing. A 16-bit count
    /// above 16 is undefined: Vtx shifts through the 48-bit pattern dst:src:dst.
    /// </summary>
    private void ExecShiftDouble(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong c = (d.Flags & DecodedFlags.Imm3) != 0 ? d.Imm : GetReg(1, 1);
        int cnt = (int)(c & (size == 8 ? 63u : 31u));
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        if (cnt == 0) { ZeroCountWrite(ref d, size, a); return; }
        ulong m = Sz.Mask(size), sign = Sz.Sign(size);
        a &= m;
        ulong s = GetReg(d.Reg2, size);
        ulong r;
        bool cf;
        bool left = d.Op == Op.Shld;
        if (size == 8)
        {
            r = left ? (a << cnt) | (s >> (64 - cnt)) : (a >> cnt) | (s << (64 - cnt));
            cf = left ? ((a >> (64 - cnt)) & 1) != 0 : ((a >> (cnt - 1)) & 1) != 0;
        }
        else if (size == 4)
        {
            ulong x = left ? (a << 32) | s : (s << 32) | a;
            r = left ? (x << cnt) >> 32 : x >> cnt;
            cf = left ? ((x >> (64 - cnt)) & 1) != 0 : ((x >> (cnt - 1)) & 1) != 0;
        }
        else
        {
            ulong x = left ? (a << 32) | (s << 16) | a : (a << 32) | (s << 16) | a;
            if (left)
            {
                r = (x << cnt) >> 32;
                cf = ((x >> (48 - cnt)) & 1) != 0;
            }
            else
            {
                r = x >> cnt;
                cf = ((x >> (cnt - 1)) & 1) != 0;
            }
        }
        r &= m;
        bool of = ((r & sign) != 0) != ((a & sign) != 0);
        if (!WriteA(ref d, size, r, lin)) return;
        SetFlagsResult(size, r, (cf ? CF : 0) | (of ? OF : 0));
    }

    /// <summary>SARX, SHLX, SHRX (count in VEX.vvvv) and RORX (imm8): no flags (SDM Vol. 2B).</summary>
    private void ExecShiftBmi(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong a)) return;
        int mask = size == 8 ? 63 : 31;
        ulong m = Sz.Mask(size);
        a &= m;
        ulong r;
        switch (d.Op)
        {
            case Op.Shlx: r = a << (int)(GetReg(d.Reg3, size) & (ulong)mask); break;
            case Op.Shrx: r = a >> (int)(GetReg(d.Reg3, size) & (ulong)mask); break;
            case Op.Sarx: r = (ulong)((long)Sz.SignExtend(a, size) >> (int)(GetReg(d.Reg3, size) & (ulong)mask)); break;
            default:
            {
                int t = (int)(d.Imm & (ulong)mask);
                int bits = size * 8;
                r = t == 0 ? a : (a >> t) | (a << (bits - t));
                break;
            }
        }
        SetReg(d.Reg, size, r & m);
    }

    /// <summary>
    /// BT, BTS, BTR, BTC (SDM Vol. 2A, BT). CF = the selected bit; ZF unchanged; OF, SF, AF, PF
    /// undefined (left unchanged). With a memory operand and a register offset the offset is a
    /// signed bit index into a bit string starting at the effective address.
    /// </summary>
    private void ExecBitTest(ref DecodedInstruction d)
    {
        int size = d.OpSize, bits = size * 8;
        if (!ReadB(ref d, size, out ulong off)) return;
        ulong a, lin = 0;
        int bit;
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            if ((d.Flags & DecodedFlags.ImmB) == 0)
            {
                // The register offset selects an operand-sized word relative to the effective address;
                // the sum is an effective address, so it wraps at the address size (67h: 32 bits)
                // before the segment base is added and the segment checks apply.
                long soff = (long)Sz.SignExtend(off, size);
                ulong ea = Ea(ref d) + (ulong)((soff >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * size);
                if (d.AddrSize != 8) ea &= Sz.Mask(d.AddrSize);
                lin = _segChecks ? SegLinChecked(d.Segment, ea, size) : (_segBase[d.Segment] + ea) & _linMask;
            }
            else lin = Lin(ref d);
            bit = (int)(off & (ulong)(bits - 1));
            // BTS/BTR/BTC translate for write on the read (W = 1 in a #PF); BT only reads.
            if (!(d.Op == Op.Bt ? Read(lin, size, out a, d.Segment == 2) : ReadRmw(lin, size, out a, d.Segment == 2))) return;
        }
        else
        {
            bit = (int)(off & (ulong)(bits - 1));
            a = GetReg(d.Reg, size);
        }
        ulong mask = 1UL << bit;
        bool old = (a & mask) != 0;
        if (d.Op != Op.Bt)
        {
            ulong r = d.Op == Op.Bts ? a | mask : d.Op == Op.Btr ? a & ~mask : a ^ mask;
            if ((d.Flags & DecodedFlags.MemA) != 0) { if (!Write(lin, size, r, d.Segment == 2)) return; }
            else SetReg(d.Reg, size, r);
        }
        SetStatus(CF, old ? CF : 0);
    }

    /// <summary>
    /// BSF/BSR (SDM Vol. 2A). Source 0: ZF = 1 and the destination is left unchanged (undefined
    /// per Intel, unchanged on the parts that document it). CF, OF, SF, AF, PF undefined (unchanged).
    /// </summary>
    private void ExecBitScan(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong s)) return;
        s &= Sz.Mask(size);
        if (s == 0) { SetStatus(ZF, ZF); return; }
        int idx = d.Op == Op.Bsf ? BitOperations.TrailingZeroCount(s) : 63 - BitOperations.LeadingZeroCount(s);
        SetReg(d.Reg, size, (ulong)idx);
        SetStatus(ZF, 0);
    }

    /// <summary>
    /// LZCNT, TZCNT (CF = source is 0, ZF = result is 0; OF, SF, AF, PF undefined, left unchanged)
    /// and POPCNT (ZF = source is 0; CF, OF, SF, AF, PF cleared).
    /// </summary>
    private void ExecCount(ref DecodedInstruction d)
    {
        int size = d.OpSize, bits = size * 8;
        if (!ReadB(ref d, size, out ulong s)) return;
        s &= Sz.Mask(size);
        ulong r;
        switch (d.Op)
        {
            case Op.Lzcnt:
                r = (ulong)(BitOperations.LeadingZeroCount(s) - (64 - bits));
                SetReg(d.Reg, size, r);
                SetStatus(CF | ZF, (s == 0 ? CF : 0) | (r == 0 ? ZF : 0));
                break;
            case Op.Tzcnt:
                r = s == 0 ? (ulong)bits : (ulong)BitOperations.TrailingZeroCount(s);
                SetReg(d.Reg, size, r);
                SetStatus(CF | ZF, (s == 0 ? CF : 0) | (r == 0 ? ZF : 0));
                break;
            default:
                r = (ulong)BitOperations.PopCount(s);
                SetReg(d.Reg, size, r);
                SetStatus(StatusMask, s == 0 ? ZF : 0);
                break;
        }
    }

    /// <summary>
    /// BMI1/BMI2 bit-field instructions (SDM Vol. 2A/2B): ANDN, BEXTR, BLSI, BLSMSK, BLSR, BZHI
    /// (flags per the instruction; AF and PF undefined, Vtx derives PF from the result and AF = 0)
    /// and PDEP/PEXT (no flags).
    /// </summary>
    private void ExecBmi(ref DecodedInstruction d)
    {
        int size = d.OpSize, bits = size * 8;
        ulong m = Sz.Mask(size);
        if (!ReadB(ref d, size, out ulong b)) return;
        b &= m;
        ulong r;
        switch (d.Op)
        {
            case Op.Andn:
                r = ~GetReg(d.Reg3, size) & b & m;
                SetReg(d.Reg, size, r);
                SetFlagsResult(size, r, 0);
                break;
            case Op.Bextr:
            {
                ulong ctl = GetReg(d.Reg3, size);
                int start = (int)(ctl & 0xFF), len = (int)((ctl >> 8) & 0xFF);
                r = start >= bits ? 0 : b >> start;
                if (len < 64) r &= (1UL << len) - 1;
                r &= m;
                SetReg(d.Reg, size, r);
                SetFlagsResult(size, r, 0);
                break;
            }
            case Op.Blsi:
                r = (0 - b) & b & m;
                SetReg(d.Reg, size, r);
                SetFlagsResult(size, r, b != 0 ? CF : 0);
                break;
            case Op.Blsmsk:
                r = ((b - 1) ^ b) & m;
                SetReg(d.Reg, size, r);
                SetFlagsResult(size, r, b == 0 ? CF : 0);
                break;
            case Op.Blsr:
                r = (b - 1) & b & m;
                SetReg(d.Reg, size, r);
                SetFlagsResult(size, r, b == 0 ? CF : 0);
                break;
            case Op.Bzhi:
            {
                int n = (int)(GetReg(d.Reg3, size) & 0xFF);
                bool cf = n > bits - 1;
                r = cf ? b : b & ((1UL << n) - 1);
                SetReg(d.Reg, size, r);
                SetFlagsResult(size, r, cf ? CF : 0);
                break;
            }
            case Op.Pdep:
            {
                ulong src = GetReg(d.Reg3, size);
                r = 0;
                int k = 0;
                for (ulong mask = b; mask != 0; mask &= mask - 1, k++)
                    if (((src >> k) & 1) != 0) r |= mask & (0 - mask);
                SetReg(d.Reg, size, r);
                break;
            }
            default: // PEXT
            {
                ulong src = GetReg(d.Reg3, size);
                r = 0;
                int k = 0;
                for (ulong mask = b; mask != 0; mask &= mask - 1, k++)
                    if ((src & mask & (0 - mask)) != 0) r |= 1UL << k;
                SetReg(d.Reg, size, r);
                break;
            }
        }
    }
}
