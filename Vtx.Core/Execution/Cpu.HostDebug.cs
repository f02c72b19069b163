using Vtx.Memory.Paging;

namespace Vtx;

/// <summary>The accesses a host watchpoint stops on (the gdb remote protocol's Z2/Z3/Z4 kinds).</summary>
public enum WatchKind
{
    /// <summary>Data writes (including the write of a read-modify-write instruction).</summary>
    Write = 1,
    /// <summary>Data reads (including the read of a read-modify-write instruction).</summary>
    Read = 2,
    /// <summary>Data reads and writes.</summary>
    Access = 3,
}

/// <summary>A host watchpoint that stopped a run: the watched range's start, and what touched it.</summary>
/// <param name="Address">The linear address the watchpoint was set at.</param>
/// <param name="Kind">The watchpoint's kind.</param>
/// <param name="Write">True when the access that matched was a write.</param>
public readonly record struct WatchpointHit(ulong Address, WatchKind Kind, bool Write);

public sealed partial class Cpu
{
    // Host breakpoints and watchpoints: a debugger's view (the gdb stub, tools), invisible to the
    // guest — no DR6/DR7 change, no #DB, no bytes written into guest memory. While any is set every
    // run goes one instruction per step (as with an armed DR7 breakpoint); with a watchpoint set the
    // TLB key carries TlbBreakpointKey, so every data access takes the slow path where they are
    // matched. With none set the run loop pays one test of _hostDebugArmed per boundary.

    private ulong[] _hostBreakpoints = [];
    private (ulong Start, ulong Length, WatchKind Kind)[] _hostWatchpoints = [];
    private bool _hostDebugArmed;   // some host breakpoint or watchpoint is set
    private bool _hostWatchArmed;   // some host watchpoint is set: data accesses take the slow path
    private WatchpointHit? _hostWatchHit;
    private ulong _hostSkipRip = ulong.MaxValue, _hostSkipRetired;

    /// <summary>The host breakpoints (RIP values) currently set.</summary>
    public IReadOnlyList<ulong> HostBreakpoints => _hostBreakpoints;

    /// <summary>
    /// Sets a host breakpoint: a run stops with <see cref="StopReason.Breakpoint"/> when RIP equals
    /// <paramref name="rip"/> at an instruction boundary, before the instruction executes (after any
    /// event delivered at that boundary). A run that starts at a breakpoint executes that instruction
    /// first, so "continue" from a breakpoint makes progress. The guest sees nothing of it. Returns
    /// false when one is already set there.
    /// </summary>
    public bool AddHostBreakpoint(ulong rip)
    {
        if (Array.IndexOf(_hostBreakpoints, rip) >= 0) return false;
        _hostBreakpoints = [.. _hostBreakpoints, rip];
        HostDebugChanged();
        return true;
    }

    /// <summary>Removes the host breakpoint at <paramref name="rip"/>; false when none was set.</summary>
    public bool RemoveHostBreakpoint(ulong rip)
    {
        int i = Array.IndexOf(_hostBreakpoints, rip);
        if (i < 0) return false;
        _hostBreakpoints = [.. _hostBreakpoints[..i], .. _hostBreakpoints[(i + 1)..]];
        HostDebugChanged();
        return true;
    }

    /// <summary>
    /// Sets a host watchpoint on the <paramref name="length"/> bytes at linear address
    /// <paramref name="linear"/>: a run stops with <see cref="StopReason.Watchpoint"/> at the boundary
    /// after an instruction whose data access of kind <paramref name="kind"/> touched any of those
    /// bytes (the access has happened; <see cref="LastWatchpoint"/> says which). Instruction fetches
    /// and paging-structure accesses do not match; accesses of a REP string instruction stop the run
    /// after the whole instruction. Returns false when the same watchpoint is already set.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is 0 or the kind is not defined.</exception>
    public bool AddHostWatchpoint(ulong linear, ulong length, WatchKind kind)
    {
        if (length == 0) throw new ArgumentOutOfRangeException(nameof(length), length, "a watchpoint covers at least one byte");
        if (kind is not (WatchKind.Write or WatchKind.Read or WatchKind.Access)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a watchpoint kind");
        if (Array.IndexOf(_hostWatchpoints, (linear, length, kind)) >= 0) return false;
        _hostWatchpoints = [.. _hostWatchpoints, (linear, length, kind)];
        HostDebugChanged();
        return true;
    }

    /// <summary>Removes a watchpoint set by <see cref="AddHostWatchpoint"/> with the same arguments; false when none was set.</summary>
    public bool RemoveHostWatchpoint(ulong linear, ulong length, WatchKind kind)
    {
        int i = Array.IndexOf(_hostWatchpoints, (linear, length, kind));
        if (i < 0) return false;
        _hostWatchpoints = [.. _hostWatchpoints[..i], .. _hostWatchpoints[(i + 1)..]];
        HostDebugChanged();
        return true;
    }

    /// <summary>Removes every host breakpoint and watchpoint.</summary>
    public void ClearHostDebug()
    {
        _hostBreakpoints = [];
        _hostWatchpoints = [];
        HostDebugChanged();
    }

    /// <summary>The watchpoint that stopped the last run with <see cref="StopReason.Watchpoint"/>; null otherwise.</summary>
    public WatchpointHit? LastWatchpoint { get; private set; }

    private void HostDebugChanged()
    {
        _hostWatchArmed = _hostWatchpoints.Length != 0;
        _hostDebugArmed = _hostWatchArmed || _hostBreakpoints.Length != 0;
        _hostWatchHit = null;
        UpdateTlbKey();
    }

    /// <summary>At the start of a run: an instruction at a breakpoint where the run starts executes.</summary>
    private void HostDebugRunStarts()
    {
        _hostSkipRip = _rip;
        _hostSkipRetired = _retired;
        _hostWatchHit = null;
        LastWatchpoint = null;
    }

    /// <summary>At a boundary, before any event: a watchpoint matched by the instruction just retired stops the run.</summary>
    private bool HostWatchStop(out StopReason reason)
    {
        reason = StopReason.Watchpoint;
        if (_hostWatchHit is not WatchpointHit hit) return false;
        _hostWatchHit = null;
        LastWatchpoint = hit;
        return true;
    }

    /// <summary>At a boundary, just before the fetch: a breakpoint at RIP stops the run (unless the run started on it).</summary>
    private bool HostBreakpointStop()
    {
        if (Array.IndexOf(_hostBreakpoints, _rip) < 0) return false;
        return _rip != _hostSkipRip || _retired != _hostSkipRetired;
    }

    /// <summary>Matches a data access against the host watchpoints (from the memory slow paths, while armed).</summary>
    private void HostWatchCheck(ulong lin, int size, bool read, bool write)
    {
        foreach (var (start, length, kind) in _hostWatchpoints)
        {
            bool kindMatches = (write && (kind & WatchKind.Write) != 0) || (read && (kind & WatchKind.Read) != 0);
            if (!kindMatches) continue;
            if (lin - start < length || start - lin < (ulong)size)
            {
                _hostWatchHit ??= new WatchpointHit(start, kind, write);
                return;
            }
        }
    }

    /// <summary>
    /// Translates <paramref name="linear"/> through the current paging — the guest's own tables and,
    /// in VMX non-root operation with EPT, the EPT tables — to the physical address the processor would
    /// access, without side effects: no accessed/dirty flag is set, no TLB entry is filled, nothing
    /// faults, and permissions are not checked (a debugger reads what is mapped). Returns false when
    /// the address is not mapped (a not-present entry at some level, a non-canonical address, or an
    /// entry pointing outside what can be read). With paging off the address is its own translation.
    /// SDM Vol. 3A, 4.3-4.5 (paging structures), Vol. 3C, 29.3.2 (EPT translation).
    /// </summary>
    public bool TryTranslate(ulong linear, out ulong physical)
    {
        physical = 0;
        PagingContext ctx = _paging;
        ulong addrMask = ((1UL << Model.PhysicalAddressBits) - 1) & ~0xFFFUL;
        ulong pa;
        switch (ctx.Mode)
        {
            case PagingMode.Disabled:
                pa = linear & (Mode == OperatingMode.Long64 ? ulong.MaxValue : 0xFFFF_FFFFUL);
                break;
            case PagingMode.Legacy32:
            {
                linear &= 0xFFFF_FFFF;
                if (!ProbeRead(ctx.RootTableAddress + ((linear >> 22) * 4), 4, out ulong pde) || (pde & 1) == 0) return false;
                if ((pde & 0x80) != 0 && ctx.PageSizeExtensions)
                {
                    // 4-MiB page; PSE-36 bits 20:13 give physical-address bits 39:32.
                    pa = (pde & 0xFFC0_0000) | (((pde >> 13) & 0xFF) << 32) | (linear & 0x3F_FFFF);
                    break;
                }
                if (!ProbeRead((pde & 0xFFFF_F000) + (((linear >> 12) & 0x3FF) * 4), 4, out ulong pte) || (pte & 1) == 0) return false;
                pa = (pte & 0xFFFF_F000) | (linear & 0xFFF);
                break;
            }
            case PagingMode.Pae:
            {
                linear &= 0xFFFF_FFFF;
                ulong pdpte = ctx.Pdptes[(int)(linear >> 30)];
                if ((pdpte & 1) == 0) return false;
                if (!WalkLevels(pdpte & addrMask, linear, 2, addrMask, out pa)) return false;
                break;
            }
            case PagingMode.Level4 or PagingMode.Level5:
            {
                int levels = ctx.Mode == PagingMode.Level5 ? 5 : 4;
                int bits = levels == 5 ? 57 : 48;
                ulong top = (ulong)((long)(linear << (64 - bits)) >> (64 - bits));
                if (top != linear) return false; // not canonical
                if (!WalkLevels(ctx.RootTableAddress, linear, levels, addrMask, out pa)) return false;
                break;
            }
            default:
                return false;
        }
        return ProbeGuestPhysical(pa, out physical);
    }

    /// <summary>The PAE/IA-32e walk below the root: 8-byte entries, large pages at levels 3 (1 GiB) and 2 (2 MiB).</summary>
    private bool WalkLevels(ulong table, ulong linear, int levels, ulong addrMask, out ulong pa)
    {
        pa = 0;
        for (int level = levels; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            if (!ProbeRead(table + ((linear >> shift) & 511) * 8, 8, out ulong e) || (e & 1) == 0) return false;
            if (level == 1 || (level <= 3 && (e & 0x80) != 0))
            {
                ulong pageMask = (1UL << shift) - 1;
                pa = (e & addrMask & ~pageMask) | (linear & pageMask);
                return true;
            }
            table = e & addrMask;
        }
        return false;
    }

    /// <summary>Reads a guest paging-structure entry at guest-physical <paramref name="gpa"/> without side effects.</summary>
    private bool ProbeRead(ulong gpa, int size, out ulong value)
    {
        value = 0;
        if (!ProbeGuestPhysical(gpa, out ulong pa) || !_mem.IsRam(pa, (ulong)size)) return false;
        Span<byte> b = stackalloc byte[8];
        _mem.Read(pa, b[..size]);
        value = size == 8 ? BitConverter.ToUInt64(b) : BitConverter.ToUInt32(b);
        return true;
    }

    /// <summary>Guest-physical to physical: through EPT in non-root operation with EPT on (read-only walk), else the identity.</summary>
    private bool ProbeGuestPhysical(ulong gpa, out ulong pa)
    {
        pa = gpa;
        if (!_eptOn) return true;
        ulong addrMask = ((1UL << Model.PhysicalAddressBits) - 1) & ~0xFFFUL;
        ulong table = _eptRoot;
        Span<byte> b = stackalloc byte[8];
        for (int level = 4; level >= 1; level--)
        {
            int shift = 12 + 9 * (level - 1);
            ulong slot = table + ((gpa >> shift) & 511) * 8;
            if (!_mem.IsRam(slot, 8)) return false;
            _mem.Read(slot, b);
            ulong e = BitConverter.ToUInt64(b);
            if ((e & 7) == 0) return false;
            if (level == 1 || (level <= 3 && (e & 0x80) != 0))
            {
                ulong pageMask = (1UL << shift) - 1;
                pa = (e & addrMask & ~pageMask) | (gpa & pageMask);
                return true;
            }
            table = e & addrMask;
        }
        return false;
    }
}
