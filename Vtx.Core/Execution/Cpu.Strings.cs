using System.Runtime.CompilerServices;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Timing;

namespace Vtx;

public sealed partial class Cpu
{
    // String instructions (SDM Vol. 1, 7.3.9; Vol. 2B, REP/REPE/REPNE). With a REP prefix the
    // instruction runs iteration by iteration, stopping at the run's cycle boundary: then RIP stays
    // on the instruction, rCX/rSI/rDI hold the progress, and the next run continues it. An iteration
    // that faults leaves the registers as the previous iteration left them.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong StrDelta(int size) => (_rflags & DF) != 0 ? (ulong)(-size) : (ulong)size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong StrLin(int seg, ulong offset, int asz, int size) =>
        _segChecks ? SegLinChecked(seg, offset & Sz.Mask(asz), size) : (_segBase[seg] + (offset & Sz.Mask(asz))) & _linMask;

    /// <summary>
    /// Bookkeeping after one iteration of a REP string instruction: decrements rCX and decides
    /// whether to iterate again now, stop at a boundary (RIP stays), or finish.
    /// Returns true to run another iteration within this step.
    /// </summary>
    private bool RepNext(ref DecodedInstruction d, bool zfStop)
    {
        int asz = d.AddrSize;
        ulong c = (GetReg(1, asz) - 1) & Sz.Mask(asz);
        SetReg(1, asz, c);
        // Issue 10: with a core profile an iteration costs its share of the profile's throughput rule
        // (Timing/Cpu.BeyondTheCore.cs); otherwise the instruction's cost per iteration, as before.
        // (REP INS/OUTS keep the per-iteration cost: a flag left by a REP that faulted does not apply to them.)
        bool timed = _repTimed && d.Op is Op.Movs or Op.Stos or Op.Lods or Op.Cmps or Op.Scas;
        ulong cost = timed ? RepIterationCycles(c) : d.Cost;
        if (c == 0 || zfStop)
        {
            if (timed) { _cycles += cost - d.Cost; _repTimed = false; } // the loop adds d.Cost when it retires
            return false;
        }
        // More to do: charge this iteration and either continue or yield at the boundary.
        _cycles += cost;
        // The iteration did not retire the instruction: it consumes one unit of the instruction limit,
        // so a limit bounds the work of any REP (RCX may be 2^64 - 1). The SDM allows interrupting
        // between iterations; RIP stays on the instruction and the registers hold the progress.
        _insnBoundary--;
        // The monitor trap flag takes its VM exit after the first iteration (SDM Vol. 3C, 25.5.2).
        if (_cycles + d.Cost > _cycleBoundary || _retired >= _insnBoundary || Volatile.Read(ref _hostStop) != 0
            || (_vmxStep && NrProc(Vmx.PrimaryProcessorBasedControls.MonitorTrapFlag))
            // A data breakpoint traps after the iteration that hit it, TF after every iteration (SDM Vol. 3A, 18.3.1.2, 18.3.1.4).
            || _bpHit || (_rflags & (ulong)RFlags.TF) != 0)
        {
            // Resuming this instruction at the next boundary does not hit its own instruction breakpoint again.
            if (_bpArmed) { _repBpRip = _rip; _repBpRetired = _retired; }
            // Not retired yet: the loop will add the cost of the step and count it; undo the count.
            _nextRip = _rip;
            _retired--;
            _cycles -= d.Cost;
            if (timed) RepYield(c, _cycles + d.Cost); // issue 10: continued by the next run without a new start-up
            return false;
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool RepCountZero(ref DecodedInstruction d) =>
        (d.Flags & (DecodedFlags.Rep | DecodedFlags.Repne)) != 0 && (GetReg(1, d.AddrSize) & Sz.Mask(d.AddrSize)) == 0;

    private void ExecMovs(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        bool rep = (d.Flags & DecodedFlags.Rep) != 0;
        if (rep) RepBegin(RepStringKind.Movs, size, asz, _gpr[7], d.Segment, _gpr[6], hasSource: true);
        ulong delta = StrDelta(size);
        do
        {
            ulong si = GetReg(6, asz), di = GetReg(7, asz);
            if (!Read(StrLin(d.Segment, si, asz, size), size, out ulong v)) return;
            if (!Write(StrLin(0, di, asz, size), size, v)) return;
            SetReg(6, asz, si + delta);
            SetReg(7, asz, di + delta);
        } while (rep && RepNext(ref d, false));
    }

    private void ExecStos(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        bool rep = (d.Flags & DecodedFlags.Rep) != 0;
        if (rep) RepBegin(RepStringKind.Stos, size, asz, _gpr[7], 0, 0, hasSource: false);
        ulong delta = StrDelta(size);
        ulong v = GetReg(0, size);
        do
        {
            ulong di = GetReg(7, asz);
            if (!Write(StrLin(0, di, asz, size), size, v)) return;
            SetReg(7, asz, di + delta);
        } while (rep && RepNext(ref d, false));
    }

    private void ExecLods(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        bool rep = (d.Flags & DecodedFlags.Rep) != 0;
        if (rep) RepBegin(RepStringKind.Lods, size, asz, _gpr[6], 0, 0, hasSource: false);
        ulong delta = StrDelta(size);
        do
        {
            ulong si = GetReg(6, asz);
            if (!Read(StrLin(d.Segment, si, asz, size), size, out ulong v)) return;
            SetReg(0, size, v);
            SetReg(6, asz, si + delta);
        } while (rep && RepNext(ref d, false));
    }

    /// <summary>CMPS: compare [rSI] with ES:[rDI] (flags as CMP src, dst); REPE/REPNE stop on ZF.</summary>
    private void ExecCmps(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        bool repe = (d.Flags & DecodedFlags.Rep) != 0, repne = (d.Flags & DecodedFlags.Repne) != 0;
        if (repe || repne) RepBegin(RepStringKind.Cmps, size, asz, _gpr[7], d.Segment, _gpr[6], hasSource: true);
        ulong delta = StrDelta(size), m = Sz.Mask(size);
        bool again;
        do
        {
            ulong si = GetReg(6, asz), di = GetReg(7, asz);
            if (!Read(StrLin(d.Segment, si, asz, size), size, out ulong a)) return;
            if (!Read(StrLin(0, di, asz, size), size, out ulong b)) return;
            SetReg(6, asz, si + delta);
            SetReg(7, asz, di + delta);
            SetFlags(FlagOp.Sub, size, a, b, a - b);
            bool equal = (a & m) == (b & m);
            again = (repe || repne) && RepNext(ref d, repe ? !equal : equal);
        } while (again);
    }

    /// <summary>SCAS: compare the accumulator with ES:[rDI]; REPE/REPNE stop on ZF.</summary>
    private void ExecScas(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        bool repe = (d.Flags & DecodedFlags.Rep) != 0, repne = (d.Flags & DecodedFlags.Repne) != 0;
        if (repe || repne) RepBegin(RepStringKind.Scas, size, asz, _gpr[7], 0, 0, hasSource: false);
        ulong delta = StrDelta(size), m = Sz.Mask(size);
        ulong a = GetReg(0, size);
        bool again;
        do
        {
            ulong di = GetReg(7, asz);
            if (!Read(StrLin(0, di, asz, size), size, out ulong b)) return;
            SetReg(7, asz, di + delta);
            SetFlags(FlagOp.Sub, size, a, b, a - b);
            bool equal = (a & m) == (b & m);
            again = (repe || repne) && RepNext(ref d, repe ? !equal : equal);
        } while (again);
    }
}
