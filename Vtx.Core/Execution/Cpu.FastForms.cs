using System.Numerics;
using System.Runtime.CompilerServices;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    // Fast forms: at decode time the commonest (operation, operand form, size) triples get their
    // own handler index, so the handler runs straight-line code with no tests of operand-form or
    // size bits. Each has exactly the semantics of the generic handler it replaces (the
    // differential suite runs through both, since decoding picks the fast form where it applies).

    private interface IOpSize { static abstract int Size { get; } }
    private struct S64 : IOpSize { public static int Size => 8; }
    private struct S32 : IOpSize { public static int Size => 4; }

    /// <summary>Picks a fast form for a freshly decoded instruction, or keeps its generic op.</summary>
    private Op Specialize(in DecodedInstruction d)
    {
        int size = d.OpSize;
        DecodedFlags f = d.Flags & (DecodedFlags.MemA | DecodedFlags.MemB | DecodedFlags.ImmB | DecodedFlags.Imm3);
        bool rr = f == 0, ri = f == DecodedFlags.ImmB, rm = f == DecodedFlags.MemB;
        bool wide = size is 8 or 4, s64 = size == 8;
        if (wide && f == DecodedFlags.MemA)
        {
            // Memory destination, register source: the read-modify-write (or compare) forms.
            Op mr = d.Op switch
            {
                Op.Add => Op.AddMR64, Op.Sub => Op.SubMR64, Op.Cmp => Op.CmpMR64, Op.And => Op.AndMR64,
                Op.Or => Op.OrMR64, Op.Xor => Op.XorMR64, Op.Test => Op.TestMR64, _ => Op.Invalid,
            };
            if (mr != Op.Invalid) return s64 ? mr : mr + 1;
        }
        if (f == (DecodedFlags.MemA | DecodedFlags.ImmB) && size is 8 or 4 or 1)
        {
            // Memory destination, immediate source.
            if (d.Op == Op.Mov) return size == 8 ? Op.MovMI64 : size == 4 ? Op.MovMI32 : Op.MovMI8;
            if (d.Op == Op.Cmp) return size == 8 ? Op.CmpMI64 : size == 4 ? Op.CmpMI32 : Op.CmpMI8;
        }
        switch (d.Op)
        {
            case Op.Mov when size == 1 && f == DecodedFlags.MemA: return Op.MovMR8;
            case Op.Movzx when wide && rm && d.SrcSize == 1: return Op.MovzxRM8;
            case Op.Mov when wide:
                if (rr) return s64 ? Op.MovRR64 : Op.MovRR32;
                if (ri) return s64 ? Op.MovRI64 : Op.MovRI32;
                if (rm) return s64 ? Op.MovRM64 : Op.MovRM32;
                if (f == DecodedFlags.MemA) return s64 ? Op.MovMR64 : Op.MovMR32;
                break;
            case Op.Add when wide: return Pick(rr, ri, rm, s64, Op.AddRR64, Op.AddRI64, Op.AddRM64, d.Op);
            case Op.Sub when wide: return Pick(rr, ri, rm, s64, Op.SubRR64, Op.SubRI64, Op.SubRM64, d.Op);
            case Op.Cmp when wide: return Pick(rr, ri, rm, s64, Op.CmpRR64, Op.CmpRI64, Op.CmpRM64, d.Op);
            case Op.And when wide: return Pick(rr, ri, rm, s64, Op.AndRR64, Op.AndRI64, Op.AndRM64, d.Op);
            case Op.Or when wide: return Pick(rr, ri, rm, s64, Op.OrRR64, Op.OrRI64, Op.OrRM64, d.Op);
            case Op.Xor when wide: return Pick(rr, ri, rm, s64, Op.XorRR64, Op.XorRI64, Op.XorRM64, d.Op);
            case Op.Test when wide: return Pick(rr, ri, false, s64, Op.TestRR64, Op.TestRI64, d.Op, d.Op);
            case Op.Inc when wide && rr: return s64 ? Op.IncR64 : Op.IncR32;
            case Op.Dec when wide && rr: return s64 ? Op.DecR64 : Op.DecR32;
            case Op.Push when _codeBits == 64 && s64 && rr: return Op.PushR64;
            case Op.Pop when _codeBits == 64 && s64 && rr: return Op.PopR64;
            case Op.Call when _codeBits == 64 && s64: return Op.CallRel64;
            case Op.Ret when _codeBits == 64 && s64 && d.Imm == 0: return Op.Ret64;
            case Op.Lea when s64 && d.AddrSize == 8: return Op.LeaR64;
            case Op.Rol when wide && ri: return s64 ? Op.RolRI64 : Op.RolRI32;
            case Op.Ror when wide && ri: return s64 ? Op.RorRI64 : Op.RorRI32;
            case Op.Shl when wide && ri: return s64 ? Op.ShlRI64 : Op.ShlRI32;
            case Op.Shr when wide && ri: return s64 ? Op.ShrRI64 : Op.ShrRI32;
            case Op.Sar when wide && ri: return s64 ? Op.SarRI64 : Op.SarRI32;
        }
        return d.Op;

        // The fast forms come in (64-bit, 32-bit) pairs: the 32-bit one follows the 64-bit one.
        static Op Pick(bool rr, bool ri, bool rm, bool s64, Op opRR, Op opRI, Op opRM, Op generic)
        {
            Op o = rr ? opRR : ri ? opRI : rm ? opRM : generic;
            return o == generic || s64 ? o : o + 1;
        }
    }

    private void FastAluRR<T, S>(ref DecodedInstruction d) where T : struct, IAluOp where S : struct, IOpSize
    {
        int size = S.Size;
        ref ulong dst = ref R(d.Reg);
        ulong a = size == 8 ? dst : (uint)dst;
        ulong b = size == 8 ? R(d.Reg2) : (uint)R(d.Reg2);
        ulong r = T.Compute(a, b, 0);
        if (T.Store) dst = size == 8 ? r : (uint)r;
        T.Flags(this, size, a, b, r, 0);
    }

    private void FastAluRI<T, S>(ref DecodedInstruction d) where T : struct, IAluOp where S : struct, IOpSize
    {
        int size = S.Size;
        ref ulong dst = ref R(d.Reg);
        ulong a = size == 8 ? dst : (uint)dst;
        ulong b = size == 8 ? d.Imm : (uint)d.Imm;
        ulong r = T.Compute(a, b, 0);
        if (T.Store) dst = size == 8 ? r : (uint)r;
        T.Flags(this, size, a, b, r, 0);
    }

    private void FastAluRM<T, S>(ref DecodedInstruction d) where T : struct, IAluOp where S : struct, IOpSize
    {
        int size = S.Size;
        if (!Read(Lin(ref d), size, out ulong b, d.Segment == 2)) return;
        ref ulong dst = ref R(d.Reg);
        ulong a = size == 8 ? dst : (uint)dst;
        ulong r = T.Compute(a, b, 0);
        if (T.Store) dst = size == 8 ? r : (uint)r;
        T.Flags(this, size, a, b, r, 0);
    }

    private void FastAluMR<T, S>(ref DecodedInstruction d) where T : struct, IAluOp where S : struct, IOpSize
    {
        int size = S.Size;
        ulong lin = Lin(ref d);
        bool stack = d.Segment == 2;
        // A storing operation translates its destination for write on the read (W = 1 in a #PF).
        if (!(T.Store ? ReadRmw(lin, size, out ulong a, stack) : Read(lin, size, out a, stack))) return;
        ulong b = size == 8 ? R(d.Reg2) : (uint)R(d.Reg2);
        ulong r = T.Compute(a, b, 0);
        if (T.Store && !Write(lin, size, r, stack)) return;
        T.Flags(this, size, a, b, r, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastMovRM(ref DecodedInstruction d, int size)
    {
        if (Read(Lin(ref d), size, out ulong v, d.Segment == 2)) R(d.Reg) = v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastMovMR(ref DecodedInstruction d, int size) => Write(Lin(ref d), size, R(d.Reg2), d.Segment == 2);

    private void FastIncDec<S>(ref DecodedInstruction d, bool dec) where S : struct, IOpSize
    {
        int size = S.Size;
        ref ulong g = ref R(d.Reg);
        ulong a = size == 8 ? g : (uint)g;
        ulong r = dec ? a - 1 : a + 1;
        // CF is kept (SDM Vol. 2A, INC/DEC): after another INC/DEC it already is in _faux.
        ulong cf = _fop is FlagOp.Inc or FlagOp.Dec ? _faux : CarryBit();
        g = size == 8 ? r : (uint)r;
        SetFlags(dec ? FlagOp.Dec : FlagOp.Inc, size, a, 1, r);
        _faux = cf;
    }

    // Issue 13: the 64-bit stack forms use the stack pointer without a bounds check (R(4)) and are
    // inlined into the dispatch; the memory access is the software-TLB hit of Read/Write. Nothing more
    // is forced inline: Run holds the dispatch twice (quiet and stepping loops) and sits at the JIT's
    // inlining budget; forcing the ALU/INC/DEC forms in too (checksum +20 % in the quiet loop)
    // made the JIT stop inlining R(), Condition and JumpRelative in the stepping loop's copy.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastPush64(ref DecodedInstruction d)
    {
        ref ulong rsp = ref R(4);
        ulong sp = rsp - 8;
        if (Write(sp, 8, R(d.Reg), stack: true)) rsp = sp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastPop64(ref DecodedInstruction d)
    {
        ref ulong rsp = ref R(4);
        ulong sp = rsp;
        if (!Read(sp, 8, out ulong v, stack: true)) return;
        rsp = sp + 8;
        R(d.Reg) = v; // POP RSP: the popped value wins over the increment
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastCall64(ref DecodedInstruction d)
    {
        ulong ret = _nextRip, target = ret + (ulong)d.Disp;
        if (!IsCanonical(target)) { FaultGp0(); return; }
        ref ulong rsp = ref R(4);
        ulong sp = rsp - 8;
        if (!Write(sp, 8, ret, stack: true)) return;
        rsp = sp;
        _nextRip = target;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastRet64()
    {
        ref ulong rsp = ref R(4);
        ulong sp = rsp;
        if (!Read(sp, 8, out ulong target, stack: true)) return;
        if (!IsCanonical(target)) { FaultGp0(); return; }
        rsp = sp + 8;
        _nextRip = target;
    }

    /// <summary>
    /// ROL/ROR register, imm8 at 32/64 bits: <see cref="ExecRotate"/> for these operands. The count is
    /// masked to 5 (6) bits, so it is below the width and the rotate is one host rotate; a zero count
    /// changes no flag but still zero-extends a 32-bit register.
    /// </summary>
    private void FastRotateRI<S>(ref DecodedInstruction d, bool right) where S : struct, IOpSize
    {
        int size = S.Size;
        ref ulong g = ref R(d.Reg);
        int cnt = (int)(d.Imm & (size == 8 ? 63u : 31u));
        if (size == 4) g = (uint)g;
        if (cnt == 0) return;
        ulong r;
        ulong bits;
        if (size == 8)
        {
            r = right ? BitOperations.RotateRight(g, cnt) : BitOperations.RotateLeft(g, cnt);
            ulong msb = r >> 63;
            bits = right ? (msb * CF) | ((msb ^ ((r >> 62) & 1)) * OF) : ((r & 1) * CF) | ((msb ^ (r & 1)) * OF);
        }
        else
        {
            uint r32 = right ? BitOperations.RotateRight((uint)g, cnt) : BitOperations.RotateLeft((uint)g, cnt);
            r = r32;
            ulong msb = r >> 31;
            bits = right ? (msb * CF) | ((msb ^ ((r >> 30) & 1)) * OF) : ((r & 1) * CF) | ((msb ^ (r & 1)) * OF);
        }
        g = r;
        SetRotateFlags(bits);
    }

    /// <summary>
    /// SHL/SHR/SAR register, imm8 at 32/64 bits: <see cref="ExecShift"/> for these operands (the masked
    /// count is below the width; OF by the count-1 rule for every count, AF = 0, as there).
    /// </summary>
    private void FastShiftRI<S>(ref DecodedInstruction d, int kind) where S : struct, IOpSize
    {
        int size = S.Size;
        ref ulong g = ref R(d.Reg);
        int cnt = (int)(d.Imm & (size == 8 ? 63u : 31u));
        ulong a = size == 8 ? g : (uint)g;
        if (size == 4) g = a;
        if (cnt == 0) return;
        int bits = size * 8;
        ulong r, cf, of;
        if (kind == 0) // SHL
        {
            r = size == 8 ? a << cnt : (uint)(a << cnt);
            cf = (a >> (bits - cnt)) & 1;
            of = (r >> (bits - 1)) ^ cf;
        }
        else if (kind == 1) // SHR
        {
            r = a >> cnt;
            cf = (a >> (cnt - 1)) & 1;
            of = a >> (bits - 1);
        }
        else // SAR
        {
            long sa = size == 8 ? (long)a : (int)(uint)a;
            r = size == 8 ? (ulong)(sa >> cnt) : (uint)(sa >> cnt);
            cf = (ulong)(sa >> (cnt - 1)) & 1;
            of = 0;
        }
        g = r;
        SetFlagsResult(size, r, (cf * CF) | (of * OF));
    }

    /// <summary>MOV memory, immediate (8, 32, 64 bits; the 64-bit immediate is the sign-extended imm32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastMovMI(ref DecodedInstruction d, int size) => Write(Lin(ref d), size, d.Imm, d.Segment == 2);

    /// <summary>MOV m8, r8 (AH..BH as registers 16..19).</summary>
    private void FastMovMR8(ref DecodedInstruction d) => Write(Lin(ref d), 1, GetReg(d.Reg2, 1), d.Segment == 2);

    /// <summary>MOVZX r32/r64, m8: the byte zero-extended into the whole register.</summary>
    private void FastMovzxRM8(ref DecodedInstruction d)
    {
        if (Read(Lin(ref d), 1, out ulong v, d.Segment == 2)) R(d.Reg) = v;
    }

    /// <summary>CMP memory, immediate: <see cref="Alu{T}"/> with <see cref="CmpOp"/> for these operands.</summary>
    private void FastCmpMI(ref DecodedInstruction d, int size)
    {
        if (!Read(Lin(ref d), size, out ulong a, d.Segment == 2)) return;
        ulong b = d.Imm;
        SetFlags(FlagOp.Sub, size, a, b, a - b);
    }
}
