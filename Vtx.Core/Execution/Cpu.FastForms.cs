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
        switch (d.Op)
        {
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
        ulong cf = GetCF() ? 1UL : 0UL;
        g = size == 8 ? r : (uint)r;
        SetFlags(dec ? FlagOp.Dec : FlagOp.Inc, size, a, 1, r);
        _faux = cf;
    }

    private void FastPush64(ref DecodedInstruction d)
    {
        ulong sp = _gpr[4] - 8;
        if (Write(sp, 8, R(d.Reg), stack: true)) _gpr[4] = sp;
    }

    private void FastPop64(ref DecodedInstruction d)
    {
        ulong sp = _gpr[4];
        if (!Read(sp, 8, out ulong v, stack: true)) return;
        _gpr[4] = sp + 8;
        R(d.Reg) = v; // POP RSP: the popped value wins over the increment
    }

    private void FastCall64(ref DecodedInstruction d)
    {
        ulong ret = _nextRip, target = ret + (ulong)d.Disp;
        if (!IsCanonical(target)) { FaultGp0(); return; }
        ulong sp = _gpr[4] - 8;
        if (!Write(sp, 8, ret, stack: true)) return;
        _gpr[4] = sp;
        _nextRip = target;
    }

    private void FastRet64()
    {
        ulong sp = _gpr[4];
        if (!Read(sp, 8, out ulong target, stack: true)) return;
        if (!IsCanonical(target)) { FaultGp0(); return; }
        _gpr[4] = sp + 8;
        _nextRip = target;
    }
}
