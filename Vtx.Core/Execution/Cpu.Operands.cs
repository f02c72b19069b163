using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Reads register <paramref name="r"/> at <paramref name="size"/> bytes (16..19 = AH..BH for bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong GetReg(int r, int size)
    {
        ref ulong g0 = ref MemoryMarshal.GetArrayDataReference(_gpr);
        switch (size)
        {
            case 8: return Unsafe.Add(ref g0, r & 15);
            case 4: return (uint)Unsafe.Add(ref g0, r & 15);
            case 2: return (ushort)Unsafe.Add(ref g0, r & 15);
            default: return r < 16 ? (byte)Unsafe.Add(ref g0, r) : (byte)(Unsafe.Add(ref g0, r & 3) >> 8);
        }
    }

    /// <summary>
    /// Writes register <paramref name="r"/> at <paramref name="size"/> bytes: a 32-bit write zero-extends
    /// into bits 63:32; 8- and 16-bit writes leave the other bits unchanged (SDM Vol. 1, 3.4.1.1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetReg(int r, int size, ulong v)
    {
        ref ulong g0 = ref MemoryMarshal.GetArrayDataReference(_gpr);
        switch (size)
        {
            case 8: Unsafe.Add(ref g0, r & 15) = v; break;
            case 4: Unsafe.Add(ref g0, r & 15) = (uint)v; break;
            case 2: { ref ulong g = ref Unsafe.Add(ref g0, r & 15); g = (g & ~0xFFFFUL) | (ushort)v; break; }
            default:
                if (r < 16) { ref ulong g = ref Unsafe.Add(ref g0, r); g = (g & ~0xFFUL) | (byte)v; }
                else { ref ulong g = ref Unsafe.Add(ref g0, r & 3); g = (g & ~0xFF00UL) | ((ulong)(byte)v << 8); }
                break;
        }
    }

    /// <summary>Full 64-bit register by number 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref ulong R(int r) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_gpr), r & 15);

    /// <summary>Effective address of the memory operand, truncated to the address size (SDM Vol. 1, 3.7.5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Ea(ref DecodedInstruction d)
    {
        ulong ea = (ulong)d.Disp;
        if (d.Base != DecodedInstruction.NoReg) ea += d.Base == DecodedInstruction.RipBase ? _nextRip : R(d.Base);
        if (d.Index != DecodedInstruction.NoReg) ea += R(d.Index) << d.Scale;
        return d.AddrSize == 8 ? ea : ea & Sz.Mask(d.AddrSize);
    }

    /// <summary>Linear address of the memory operand: segment base plus effective address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Lin(ref DecodedInstruction d)
    {
        if (_segChecks) return LinChecked(ref d);
        return (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_segBase), d.Segment) + Ea(ref d)) & _linMask; // Segment is 0..5 by construction
    }

    /// <summary>
    /// An address the TLB never holds and whose slow path fails: returned by a segment check that
    /// recorded a fault, so the access that follows aborts without touching memory or registers.
    /// </summary>
    private const ulong FaultedAddress = 0x8000_0000_0000_0000UL;

    /// <summary>
    /// Outside 64-bit mode: the segment checks of SDM Vol. 3A, 5.3 for a memory operand — a null
    /// (unusable) segment raises #GP(0); an offset outside the limit (expand-up: offset + size - 1
    /// above the limit; expand-down: offset at or below the limit or above the upper bound)
    /// raises #GP(0), or #SS(0) for SS. The operand size stands for the access size.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong LinChecked(ref DecodedInstruction d)
    {
        return SegLinChecked(d.Segment, Ea(ref d), Math.Max((int)d.OpSize, 1));
    }

    /// <summary>Reads operand B (register, memory or immediate) at <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadB(ref DecodedInstruction d, int size, out ulong v)
    {
        if ((d.Flags & DecodedFlags.ImmB) != 0) { v = d.Imm; return true; }
        if ((d.Flags & DecodedFlags.MemB) != 0) return Read(Lin(ref d), size, out v, d.Segment == 2);
        v = GetReg(d.Reg2, size);
        return true;
    }

    /// <summary>Reads operand A (register or memory) at <paramref name="size"/>; <paramref name="lin"/> is its address when in memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadA(ref DecodedInstruction d, int size, out ulong v, out ulong lin)
    {
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            lin = Lin(ref d);
            return Read(lin, size, out v, d.Segment == 2);
        }
        lin = 0;
        v = GetReg(d.Reg, size);
        return true;
    }

    /// <summary>
    /// Reads operand A of a read-modify-write instruction: as <see cref="ReadA"/>, but a memory
    /// operand is translated for write (<see cref="ReadRmw"/>), so a fault on the read reports W = 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadARmw(ref DecodedInstruction d, int size, out ulong v, out ulong lin)
    {
        if ((d.Flags & DecodedFlags.MemA) != 0)
        {
            lin = Lin(ref d);
            return ReadRmw(lin, size, out v, d.Segment == 2);
        }
        lin = 0;
        v = GetReg(d.Reg, size);
        return true;
    }

    /// <summary>Writes operand A (register or the memory address <paramref name="lin"/> from <see cref="ReadA"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool WriteA(ref DecodedInstruction d, int size, ulong v, ulong lin)
    {
        if ((d.Flags & DecodedFlags.MemA) != 0) return Write(lin, size, v, d.Segment == 2);
        SetReg(d.Reg, size, v);
        return true;
    }

    // ------------------------------------------------------------------ stack

    /// <summary>The stack pointer at the stack-address size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Sp() => _stackSize == 8 ? _gpr[4] : _gpr[4] & Sz.Mask(_stackSize);

    /// <summary>Sets the stack pointer at the stack-address size (upper bits of RSP kept for 16-bit stacks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetSp(ulong v)
    {
        if (_stackSize == 8) _gpr[4] = v;
        else if (_stackSize == 4) _gpr[4] = (uint)v;
        else _gpr[4] = (_gpr[4] & ~0xFFFFUL) | (ushort)v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong StackLin(ulong sp, int size) =>
        _segChecks ? SegLinChecked(2, sp & Sz.Mask(_stackSize), size) : (_segBase[2] + (sp & Sz.Mask(_stackSize))) & _linMask;

    /// <summary>The segment checks of <see cref="LinChecked"/> for an implicit operand (stack, string) at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong SegLinChecked(int seg, ulong offset, int size)
    {
        ref SegmentCache s = ref _seg[seg];
        ExceptionVector v = seg == 2 ? ExceptionVector.SS : ExceptionVector.GP;
        if ((_cr0 & Cr0.PE) != 0 && s.IsUnusable) { Fault(v, 0, true); return FaultedAddress; }
        ulong last = offset + (ulong)size - 1;
        bool expandDown = !s.IsCode && (s.AccessRights & SegmentCache.S) != 0 && (s.Type & 4) != 0;
        bool ok = expandDown ? offset > s.Limit && last <= (s.Big ? 0xFFFF_FFFFUL : 0xFFFFUL) : last <= s.Limit;
        if (!ok) { Fault(v, 0, true); return FaultedAddress; }
        return (_segBase[seg] + offset) & _linMask;
    }

    /// <summary>Pushes <paramref name="size"/> bytes; RSP changes only if the write succeeds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Push(ulong v, int size)
    {
        ulong sp = Sp() - (ulong)size;
        if (!Write(StackLin(sp, size), size, v, stack: true)) return false;
        SetSp(sp);
        return true;
    }

    /// <summary>Reads the top of stack without popping (so a later fault leaves RSP intact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Peek(int size, out ulong v, ulong offset = 0) => Read(StackLin(Sp() + offset, size), size, out v, stack: true);
}
