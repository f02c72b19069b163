using System.Runtime.CompilerServices;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>
    /// Sets the next RIP to a branch target at operand size <paramref name="size"/>; in 64-bit mode a
    /// non-canonical target raises #GP(0) on the branch itself (SDM Vol. 2A, JMP, "64-bit mode exceptions").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool SetBranchTarget(ulong target, int size)
    {
        if (size == 8)
        {
            if (!IsCanonical(target)) return FaultGp0();
            _nextRip = target;
        }
        else _nextRip = target & Sz.Mask(size);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void JumpRelative(ref DecodedInstruction d) => SetBranchTarget(_nextRip + (ulong)d.Disp, d.OpSize);

    private void ExecJmp(ref DecodedInstruction d) => JumpRelative(ref d);

    private void ExecJmpIndirect(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadA(ref d, size, out ulong t, out _)) return;
        SetBranchTarget(t, size);
    }

    /// <summary>CALL rel: push the return address, then branch (the target is checked before anything is pushed).</summary>
    private void ExecCall(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong ret = _nextRip;
        if (!SetBranchTarget(_nextRip + (ulong)d.Disp, size)) return;
        if (!Push(ret, size)) _nextRip = ret;
    }

    private void ExecCallIndirect(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadA(ref d, size, out ulong t, out _)) return;
        ulong ret = _nextRip;
        if (!SetBranchTarget(t, size)) return;
        if (!Push(ret, size)) _nextRip = ret;
    }

    /// <summary>RET near [imm16]: pop the return address, then release imm16 more bytes.</summary>
    private void ExecRet(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!Peek(size, out ulong t)) return;
        if (!SetBranchTarget(t, size)) return;
        SetSp(Sp() + (ulong)size + (d.Imm & 0xFFFF));
    }

    /// <summary>JCXZ/JECXZ/JRCXZ: branch when the counter (at address size) is zero.</summary>
    private void ExecJrcxz(ref DecodedInstruction d)
    {
        if ((_gpr[1] & Sz.Mask(d.AddrSize)) == 0) JumpRelative(ref d);
    }

    /// <summary>LOOP/LOOPE/LOOPNE: decrement the counter at address size (flags unchanged), branch while non-zero (and ZF condition).</summary>
    private void ExecLoop(ref DecodedInstruction d)
    {
        int asz = d.AddrSize;
        ulong c = (GetReg(1, asz) - 1) & Sz.Mask(asz);
        bool take = c != 0 && (d.Op == Op.Loop || (d.Op == Op.Loope ? GetZF() : !GetZF()));
        if (take)
        {
            // The branch may fault (non-canonical target): then the counter is not updated either.
            if (!SetBranchTarget(_nextRip + (ulong)d.Disp, d.OpSize)) return;
        }
        SetReg(1, asz, c);
    }

    private void ExecSetcc(ref DecodedInstruction d)
    {
        ulong v = Condition(d.Cond) ? 1UL : 0UL;
        if ((d.Flags & DecodedFlags.MemA) != 0) Write(Lin(ref d), 1, v, d.Segment == 2);
        else SetReg(d.Reg, 1, v);
    }

    /// <summary>
    /// CMOVcc: the source is read whatever the condition (a memory source may fault); a 32-bit
    /// destination is zero-extended even when the condition is false (SDM Vol. 2A, CMOVcc).
    /// </summary>
    private void ExecCmovcc(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong v)) return;
        if (Condition(d.Cond)) SetReg(d.Reg, size, v);
        else if (size == 4) SetReg(d.Reg, 4, GetReg(d.Reg, 4));
    }
}
