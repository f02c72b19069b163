using System.Buffers.Binary;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>MOV in all forms: A &lt;- B (memory written before anything else changes).</summary>
    private void ExecMov(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadB(ref d, size, out ulong v)) return;
        if ((d.Flags & DecodedFlags.MemA) != 0) Write(Lin(ref d), size, v, d.Segment == 2);
        else SetReg(d.Reg, size, v);
    }

    /// <summary>MOVZX: zero-extend B (<see cref="DecodedInstruction.SrcSize"/>) into A.</summary>
    private void ExecMovzx(ref DecodedInstruction d)
    {
        if (!ReadB(ref d, d.SrcSize, out ulong v)) return;
        SetReg(d.Reg, d.OpSize, v & Sz.Mask(d.SrcSize));
    }

    /// <summary>MOVSX/MOVSXD: sign-extend B into A.</summary>
    private void ExecMovsx(ref DecodedInstruction d)
    {
        if (!ReadB(ref d, d.SrcSize, out ulong v)) return;
        SetReg(d.Reg, d.OpSize, Sz.SignExtend(v, d.SrcSize));
    }

    /// <summary>XCHG: swap A and B (a memory operand is written first).</summary>
    private void ExecXchg(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        ulong b = GetReg(d.Reg2, size);
        if (!WriteA(ref d, size, b, lin)) return;
        SetReg(d.Reg2, size, a);
    }

    /// <summary>XADD: TEMP = A + B; B = A; A = TEMP; flags as ADD (SDM Vol. 2B, XADD).</summary>
    private void ExecXadd(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        ulong b = GetReg(d.Reg2, size);
        ulong r = a + b;
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            if (!Write(lin, size, r, d.Segment == 2)) return;
            SetReg(d.Reg2, size, a);
        }
        else
        {
            // Source first, destination last: with the same register twice the sum survives.
            SetReg(d.Reg2, size, a);
            SetReg(d.Reg, size, r);
        }
        SetFlags(FlagOp.Add, size, a, b, r);
    }

    /// <summary>
    /// CMPXCHG: compare the accumulator with A; equal: A = B, ZF = 1; else accumulator = A, ZF = 0.
    /// Flags as CMP accumulator, A. A memory destination is always written (SDM Vol. 2A, CMPXCHG).
    /// </summary>
    private void ExecCmpxchg(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!ReadARmw(ref d, size, out ulong a, out ulong lin)) return;
        ulong acc = GetReg(0, size);
        ulong m = Sz.Mask(size);
        if ((acc & m) == (a & m))
        {
            if (!WriteA(ref d, size, GetReg(d.Reg2, size), lin)) return;
        }
        else
        {
            if ((d.Flags & DecodedFlags.MemA) != 0 && !Write(lin, size, a, d.Segment == 2)) return;
            SetReg(0, size, a);
        }
        SetFlags(FlagOp.Sub, size, acc, a, acc - a);
    }

    /// <summary>
    /// CMPXCHG8B / CMPXCHG16B: compare rDX:rAX with the memory operand; equal: store rCX:rBX, ZF = 1;
    /// else load it into rDX:rAX, ZF = 0. Other flags unchanged. CMPXCHG16B needs a 16-byte-aligned
    /// operand (#GP(0)) (SDM Vol. 2A, CMPXCHG8B/CMPXCHG16B).
    /// </summary>
    private void ExecCmpxchgNb(ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.MemA) == 0) { Fault(ExceptionVector.UD); return; }
        ulong lin = Lin(ref d);
        bool seg = d.Segment == 2;
        if (d.OpSize == 16)
        {
            if ((lin & 15) != 0) { FaultGp0(); return; }
            if (!ReadRmw(lin, 8, out ulong lo, seg) || !ReadRmw(lin + 8, 8, out ulong hi, seg)) return;
            if (lo == _gpr[0] && hi == _gpr[2])
            {
                if (!Write(lin, 8, _gpr[3], seg) || !Write(lin + 8, 8, _gpr[1], seg)) return;
                SetStatus(ZF, ZF);
            }
            else
            {
                if (!Write(lin, 8, lo, seg) || !Write(lin + 8, 8, hi, seg)) return;
                _gpr[0] = lo;
                _gpr[2] = hi;
                SetStatus(ZF, 0);
            }
        }
        else
        {
            if (!ReadRmw(lin, 8, out ulong v, seg)) return;
            ulong cmp = ((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0];
            if (v == cmp)
            {
                if (!Write(lin, 8, ((ulong)(uint)_gpr[1] << 32) | (uint)_gpr[3], seg)) return;
                SetStatus(ZF, ZF);
            }
            else
            {
                if (!Write(lin, 8, v, seg)) return;
                SetReg(0, 4, v);
                SetReg(2, 4, v >> 32);
                SetStatus(ZF, 0);
            }
        }
    }

    /// <summary>BSWAP (a 16-bit operand is undefined; Vtx clears the low word as Intel parts do).</summary>
    private void ExecBswap(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong v = GetReg(d.Reg, size);
        ulong r = size switch { 8 => BinaryPrimitives.ReverseEndianness(v), 4 => BinaryPrimitives.ReverseEndianness((uint)v), _ => 0 };
        SetReg(d.Reg, size, r);
    }

    /// <summary>LEA: the effective address (no segment base), truncated to the operand size.</summary>
    private void ExecLea(ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.MemB) == 0) { Fault(ExceptionVector.UD); return; }
        SetReg(d.Reg, d.OpSize, Ea(ref d));
    }

    /// <summary>PUSH r/m, r, imm. A memory source using rSP is addressed with rSP before the push.</summary>
    private void ExecPush(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong v;
        if ((d.Flags & DecodedFlags.ImmB) != 0) v = d.Imm;
        else if ((d.Flags & (DecodedFlags.MemA | DecodedFlags.MemB)) != 0) { if (!Read(Lin(ref d), size, out v, d.Segment == 2)) return; }
        else v = GetReg(d.Reg, size);
        Push(v, size);
    }

    /// <summary>POP r/m, r. rSP is incremented before a memory destination's address is computed (SDM Vol. 2B, POP).</summary>
    private void ExecPop(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!Peek(size, out ulong v)) return;
        ulong oldSp = _gpr[4];
        SetSp(Sp() + (ulong)size);
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            if (!Write(Lin(ref d), size, v, d.Segment == 2)) _gpr[4] = oldSp;
        }
        else SetReg(d.Reg, size, v);
    }

    /// <summary>PUSH FS/GS: pushes the selector (zero-extended).</summary>
    private void ExecPushSeg(ref DecodedInstruction d) => Push(_seg[d.Segment].Selector, d.OpSize);

    /// <summary>PUSHF/PUSHFD/PUSHFQ: RFLAGS with VM and RF cleared in the pushed image (SDM Vol. 2B, PUSHF).</summary>
    private void ExecPushf(ref DecodedInstruction d)
    {
        ulong f = ReadRflags() & ~(ulong)(RFlags.VM | RFlags.RF);
        Push(f, d.OpSize);
    }

    /// <summary>
    /// POPF/POPFD/POPFQ (SDM Vol. 2B, POPF, protected/64-bit mode): at CPL 0 every non-reserved flag
    /// but RF, VM, VIF, VIP may change (RF is cleared); above CPL 0 IOPL is kept, and IF is kept
    /// when CPL &gt; IOPL. A 16-bit POPF changes only bits 15:0.
    /// </summary>
    private void ExecPopf(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if (!Peek(size, out ulong v)) return;
        SetSp(Sp() + (ulong)size);
        ulong old = ReadRflags();
        ulong changeable = (ulong)(RFlags.Status | RFlags.TF | RFlags.IF | RFlags.DF | RFlags.IOPL | RFlags.NT | RFlags.AC | RFlags.ID);
        if (_cpl > 0)
        {
            changeable &= ~(ulong)RFlags.IOPL;
            if (_cpl > (int)((old >> 12) & 3)) changeable &= ~(ulong)RFlags.IF;
        }
        if (size == 2) changeable &= 0xFFFF;
        ulong nf = (old & ~changeable) | (v & changeable);
        if (size != 2) nf &= ~(ulong)RFlags.RF;
        WriteRflags(nf);
        // IF or TF changed: back to the boundary, where the arbiter (and single-stepping) look again.
        if (((old ^ nf) & (ulong)(RFlags.IF | RFlags.TF)) != 0) _signal |= SignalEvent;
    }

    /// <summary>ENTER imm16, imm8: make a stack frame with up to 31 levels of display (SDM Vol. 2A, ENTER).</summary>
    private void ExecEnter(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        int level = d.Extra & 31;
        ulong allocation = d.Imm & 0xFFFF;
        ulong sp = Sp();
        ulong smask = Sz.Mask(_stackSize);
        ulong bp = _stackSize == 8 ? _gpr[5] : _gpr[5] & smask;
        // Writes go below rSP; registers change only after all of them succeed.
        sp -= (ulong)size;
        if (!Write(StackLin(sp, size), size, GetReg(5, size), true)) return;
        ulong frameTemp = sp;
        if (level > 0)
        {
            for (int i = 1; i < level; i++)
            {
                bp -= (ulong)size;
                if (!Read(StackLin(bp, size), size, out ulong v, true)) return;
                sp -= (ulong)size;
                if (!Write(StackLin(sp, size), size, v, true)) return;
            }
            sp -= (ulong)size;
            if (!Write(StackLin(sp, size), size, frameTemp, true)) return;
        }
        sp -= allocation;
        // The final stack pointer must be writable: the processor checks a write of the operand size
        // there (segment limit, then paging), before RSP/RBP change (SDM Vol. 2A, ENTER: "#SS(0) if
        // the new value of the stack pointer is outside the stack segment limit", "#PF if a write
        // using the final value of the stack pointer would cause a page fault"). Nothing is written.
        ulong finalLin = StackLin(sp, size);
        if ((_signal & SignalFault) != 0 || !ProbeWrite(finalLin, size, stack: true)) return;
        // The new frame pointer is written at the operand size; the stack pointer at the stack size.
        SetReg(5, size, frameTemp);
        SetSp(sp);
    }

    /// <summary>LEAVE: rSP = rBP, then pop rBP.</summary>
    private void ExecLeave(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        ulong bp = _gpr[5] & Sz.Mask(_stackSize);
        if (!Read(StackLin(bp, size), size, out ulong v, true)) return;
        SetSp(bp + (ulong)size);
        SetReg(5, size, v);
    }

    /// <summary>MOVBE: load or store with the bytes reversed (SDM Vol. 2B, MOVBE).</summary>
    private void ExecMovbe(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            Write(Lin(ref d), size, Swap(GetReg(d.Reg2, size), size), d.Segment == 2);
        }
        else
        {
            if (!ReadB(ref d, size, out ulong v)) return;
            SetReg(d.Reg, size, Swap(v, size));
        }

        static ulong Swap(ulong v, int size) => size switch
        {
            8 => BinaryPrimitives.ReverseEndianness(v),
            4 => BinaryPrimitives.ReverseEndianness((uint)v),
            _ => BinaryPrimitives.ReverseEndianness((ushort)v),
        };
    }

    /// <summary>CBW/CWDE/CDQE: sign-extend the lower half of the accumulator.</summary>
    private void ExecCbw(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        SetReg(0, size, Sz.SignExtend(GetReg(0, size / 2), size / 2));
    }

    /// <summary>CWD/CDQ/CQO: rDX = sign of rAX.</summary>
    private void ExecCwd(ref DecodedInstruction d)
    {
        int size = d.OpSize;
        SetReg(2, size, (GetReg(0, size) & Sz.Sign(size)) != 0 ? ulong.MaxValue : 0);
    }

    /// <summary>LAHF: AH = SF:ZF:0:AF:0:PF:1:CF.</summary>
    private void ExecLahf() => SetReg(16, 1, (StatusBits() & 0xD5) | 2);

    /// <summary>SAHF: SF, ZF, AF, PF, CF from AH (OF unchanged).</summary>
    private void ExecSahf() => SetStatus(0xD5, GetReg(16, 1));
}
