using Vtx.Memory;

namespace Vtx;

public sealed partial class Cpu
{
    // Multiprocessor hooks (issue 12 item 1): the INIT state and wait-for-SIPI of an application
    // processor, the SIPI start-up, and what the machine's scheduler (Machine.Smp.cs) asks of a
    // processor between its turns. The run loop itself is unchanged: a turn is an ordinary Run.

    // Wait-for-SIPI outside VMX non-root operation (SDM Vol. 3A, 9.4.4): in force while the processor
    // stays halted and retires nothing, so anything that ends the halt (Resume, SetFlatMode, Reset, a
    // SIPI) ends it, and a later HLT is an ordinary halt.
    private bool _waitForSipi;
    private ulong _waitForSipiAt; // InstructionsRetired when the wait began
    private ulong _lastRunBoundary = ulong.MaxValue;

    /// <summary>
    /// Creates application processor <paramref name="index"/> of a machine: it shares
    /// <paramref name="bootstrap"/>'s I/O bus and MMIO map (the devices) and memory, has its own
    /// registers, MSRs, TLB, VMX state and local APIC (APIC ID = <paramref name="index"/>,
    /// IA32_APIC_BASE.BSP clear), and starts in its power-up state waiting for a SIPI (SDM Vol. 3A, 9.4.2).
    /// </summary>
    internal Cpu(PhysicalMemory memory, CpuModel model, Cpu bootstrap, int index) : this(memory, model)
    {
        Io = bootstrap.Io;
        Mmio = bootstrap.Mmio;
        Apic.AssignInitialId((uint)index);
        Apic.Bootstrap = false;
        Reset();
        BeginWaitForSipi();
    }

    /// <summary>True on the bootstrap processor (IA32_APIC_BASE.BSP, SDM Vol. 3A, 9.4.1): the processor of a one-processor machine and processor 0 of a multiprocessor one.</summary>
    public bool IsBootstrapProcessor => Apic.Bootstrap;

    /// <summary>
    /// True while the processor waits for a start-up IPI outside VMX non-root operation (the state an
    /// application processor enters after RESET or INIT, SDM Vol. 3A, 9.4.4): it executes nothing and
    /// every event but a SIPI (<see cref="RaiseSipi"/>) or another INIT is held off.
    /// </summary>
    public bool IsWaitingForSipi => InWaitForSipi && !_nonRoot;

    private bool InWaitForSipi => _waitForSipi && _halted && _retired == _waitForSipiAt;

    private void BeginWaitForSipi()
    {
        _halted = true;
        _waitForSipi = true;
        _waitForSipiAt = _retired;
    }

    /// <summary>
    /// Puts the processor in its INIT state (SDM Vol. 3A, 9.1, Table 9-1 INIT column): real mode at
    /// CS:IP = F000:FFF0 (CS base FFFF_0000h), general registers 0 but EDX (the signature), RFLAGS 2,
    /// CR0 = 60000010h with CD/NW unchanged, CR2-CR4 and EFER 0, DR0-DR3 0, DR6 FFFF0FF0h, DR7 400h,
    /// descriptor tables base 0 limit FFFFh; the x87/SSE state, XCR0, the other MSRs and the TSC are
    /// kept, TLBs flushed, pending NMI and INTR dropped; the local APIC takes its INIT response
    /// (<see cref="Apic.LocalApic.Init"/>). An application processor (IA32_APIC_BASE.BSP = 0) then
    /// waits for a SIPI (<see cref="IsWaitingForSipi"/>); the bootstrap processor runs from the reset vector.
    /// This is what <see cref="RaiseInit"/> does outside VMX operation.
    /// </summary>
    public void EnterInitState()
    {
        ResetCore(init: true);
        if (!Apic.Bootstrap) BeginWaitForSipi();
    }

    /// <summary>The start-up of a processor in wait-for-SIPI: real mode at CS = vector·100h (base vector·1000h), IP = 0 (SDM Vol. 3A, 11.6.1 "Start-Up").</summary>
    private void StartUp(byte vector)
    {
        _waitForSipi = false;
        _halted = false;
        _seg[1] = new SegmentCache((ushort)(vector << 8), (ulong)vector << 12, 0xFFFF, 0x9B);
        _rip = 0;
        ModeChanged();
    }

    // ------------------------------------------------------------------ scheduler hooks

    /// <summary>Halted (or waiting for a SIPI) with nothing the arbiter could take now.</summary>
    internal bool IsIdle => _halted && !CanWake;

    /// <summary>The cycle at which an idle processor could wake by itself (a timer, a posted event), or <see cref="ulong.MaxValue"/>.</summary>
    internal ulong IdleWakeDeadline => IsWaitingForSipi ? ulong.MaxValue : HaltWakeDeadline;

    /// <summary>Lets time pass for an idle processor up to <paramref name="cycle"/> (the machine clock of its turn).</summary>
    internal void IdleUntil(ulong cycle)
    {
        if (_halted && cycle > _cycles) _cycles = cycle;
    }

    /// <summary>The units of <see cref="RunLimits.MaxInstructions"/> (<paramref name="limit"/>) the last run consumed: retirements, REP iterations and delivered exceptions.</summary>
    internal ulong LimitUnitsUsed(ulong limit, ulong retiredAtStart)
    {
        ulong retired = _retired - retiredAtStart;
        ulong left = _lastRunBoundary >= _retired ? _lastRunBoundary - _retired : 0;
        ulong used = limit > left ? limit - left : 0;
        return Math.Max(used, Math.Min(retired, limit));
    }

    /// <summary>Drops a host stop request this processor has not consumed (the machine consumed it for the whole run).</summary>
    internal void ClearHostStop() => Interlocked.Exchange(ref _hostStop, 0);
}
