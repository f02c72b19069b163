using Vtx.Decoding;
using Vtx.Devices;
using Vtx.Execution;

namespace Vtx;

public sealed partial class Cpu : IMachineControl
{
    // Port I/O (SDM Vol. 1, chapter 19; Vol. 2 IN/OUT/INS/OUTS): IOPL and the TSS I/O permission
    // bitmap in protected mode, the port bus for devices, and the debug-exit stop request.

    private int? _exitCode;

    /// <summary>The port I/O bus IN/OUT/INS/OUTS reach (empty unless the host or <see cref="Machine"/> registers devices).</summary>
    public IoBus Io { get; } = new();

    /// <inheritdoc />
    public void RequestStop(int exitCode)
    {
        _exitCode = exitCode;
        _signal |= SignalEvent;
    }

    /// <summary>
    /// I/O permission (SDM Vol. 1, 19.5): always in real mode; in protected mode when CPL ≤ IOPL, or
    /// else when every bit for the accessed ports is 0 in the TSS I/O permission bitmap (bitmap
    /// offset at TSS+66h; bits beyond the TSS limit count as set). #GP(0) otherwise.
    /// </summary>
    private bool CheckIoPermission(ushort port, int size)
    {
        if ((_cr0 & Cr0.PE) == 0) return true;
        if ((_rflags & (ulong)RFlags.VM) == 0 && _cpl <= (int)((_rflags >> 12) & 3)) return true;
        bool tss32 = !_tr.IsUnusable && (_tr.Type & 8) != 0 && (_tr.AccessRights & SegmentCache.S) == 0;
        if (!tss32 || _tr.Limit < 0x67) return FaultGp0();
        if (!ReadSupervisor(_tr.Base + 0x66, 2, out ulong mapBase)) return false;
        ulong byteOff = mapBase + (ulong)(port >> 3);
        if (byteOff + 1 > _tr.Limit) return FaultGp0();
        if (!ReadSupervisor(_tr.Base + byteOff, 2, out ulong bits)) return false;
        ulong mask = ((1UL << size) - 1) << (port & 7);
        return (bits & mask) == 0 || FaultGp0();
    }

    private void ExecIn(ref DecodedInstruction d)
    {
        ushort port = (d.Flags & DecodedFlags.ImmB) != 0 ? (ushort)d.Imm : (ushort)_gpr[2];
        int size = d.OpSize;
        if (!CheckIoPermission(port, size)) return;
        if (_nonRoot && IoExits(ref d, port, size)) return;
        if (_ioBpArmed) IoBreakpointCheck(port, size);
        SetReg(0, size, Io.Read(port, size));
    }

    private void ExecOut(ref DecodedInstruction d)
    {
        ushort port = (d.Flags & DecodedFlags.ImmB) != 0 ? (ushort)d.Imm : (ushort)_gpr[2];
        int size = d.OpSize;
        if (!CheckIoPermission(port, size)) return;
        if (_nonRoot && IoExits(ref d, port, size)) return;
        if (_ioBpArmed) IoBreakpointCheck(port, size);
        Io.Write(port, size, (uint)GetReg(0, size));
        _signal |= SignalEvent; // a device may have asked to stop or raised an event
    }

    /// <summary>INS: port DX to ES:[rDI]; with REP, interruptible like the other string instructions.</summary>
    private void ExecIns(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        ushort port = (ushort)_gpr[2];
        if (!CheckIoPermission(port, size)) return;
        if (_nonRoot && IoExits(ref d, port, size)) return;
        if (_ioBpArmed) IoBreakpointCheck(port, size);
        bool rep = (d.Flags & DecodedFlags.Rep) != 0;
        ulong delta = StrDelta(size);
        do
        {
            ulong di = GetReg(7, asz);
            ulong lin = StrLin(0, di, asz, size);
            // The destination is checked for writability before the port is read (an IN has side effects).
            if (!Read(lin, size, out _)) return;
            if (!Write(lin, size, Io.Read(port, size))) return;
            SetReg(7, asz, di + delta);
        } while (rep && RepNext(ref d, false));
    }

    /// <summary>OUTS: [rSI] (segment overridable) to port DX.</summary>
    private void ExecOuts(ref DecodedInstruction d)
    {
        if (RepCountZero(ref d)) return;
        int size = d.OpSize, asz = d.AddrSize;
        ushort port = (ushort)_gpr[2];
        if (!CheckIoPermission(port, size)) return;
        if (_nonRoot && IoExits(ref d, port, size)) return;
        if (_ioBpArmed) IoBreakpointCheck(port, size);
        bool rep = (d.Flags & DecodedFlags.Rep) != 0;
        ulong delta = StrDelta(size);
        do
        {
            ulong si = GetReg(6, asz);
            if (!Read(StrLin(d.Segment, si, asz, size), size, out ulong v)) return;
            Io.Write(port, size, (uint)v);
            SetReg(6, asz, si + delta);
        } while (rep && RepNext(ref d, false));
        _signal |= SignalEvent;
    }
}
