using Vtx.Devices;

namespace Vtx;

public sealed partial class Cpu
{
    // The processor's wiring to platform devices (issue 12): the INTR pin driven by an external
    // interrupt controller (8259 PIC, ExtINT), and the deadline of the platform's timed devices
    // (PIT, RTC, PM timer) on the shared cycle clock.

    private IInterruptAcknowledge? _intrController;
    private bool _intrFromController;
    private IPlatformClock? _platformClock;
    private ulong _platformDeadline = ulong.MaxValue;

    /// <summary>
    /// Drives the INTR pin from an external interrupt controller (an 8259A output, reached directly
    /// or through LINT0 programmed for ExtINT; SDM Vol. 3A, 11.5.1): while asserted, a maskable
    /// interrupt is pending, and when the processor takes it the INTA cycle asks
    /// <paramref name="controller"/> for the vector (it may have changed since the line rose, as on
    /// hardware). Deasserting withdraws a request that has not been taken. A vector raised by the
    /// host with <see cref="RaiseInterrupt"/> shares the pin: the last to assert it supplies the vector.
    /// </summary>
    public void SetInterruptLine(bool asserted, IInterruptAcknowledge controller)
    {
        ArgumentNullException.ThrowIfNull(controller);
        _intrController = controller;
        if (asserted)
        {
            _intrPending = true;
            _intrFromController = true;
            _signal |= SignalEvent;
        }
        else if (_intrFromController)
        {
            _intrPending = false;
            _intrFromController = false;
        }
    }

    /// <summary>
    /// Attaches the platform clock: the processor calls <see cref="IPlatformClock.Advance"/> at the
    /// first instruction boundary whose cycle count reaches the deadline set with
    /// <see cref="SetPlatformDeadline"/>, and lets time pass in HLT up to it when an interrupt could wake it.
    /// </summary>
    public void AttachPlatformClock(IPlatformClock clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _platformClock = clock;
    }

    /// <summary>The cycle at which the platform clock wants to run next (<see cref="ulong.MaxValue"/>: never).</summary>
    public void SetPlatformDeadline(ulong cycle)
    {
        _platformDeadline = cycle;
        if (cycle != ulong.MaxValue) _signal |= SignalEvent;
    }

    /// <summary>The platform clock's next deadline (<see cref="ulong.MaxValue"/>: none).</summary>
    public ulong PlatformDeadline => _platformDeadline;

    /// <summary>Runs the platform clock when its deadline has come (at an instruction boundary).</summary>
    private void AdvancePlatform()
    {
        if (_cycles >= _platformDeadline && _platformClock is { } c) c.Advance(_cycles);
    }

    /// <summary>The INTA cycle for a request on the INTR pin (controller-driven or host-raised).</summary>
    private byte AcknowledgeIntr()
    {
        _intrPending = false;
        if (!_intrFromController || _intrController is null) return _intrVector;
        _intrFromController = false; // the controller re-asserts the pin during the cycle if more requests wait
        return _intrController.Acknowledge();
    }

    private StopReason? _platformStop;

    /// <summary>
    /// Asks the run to stop at the next instruction boundary with <paramref name="reason"/> (a platform
    /// device: <see cref="StopReason.PowerOff"/>, <see cref="StopReason.Reset"/>); running again continues after the instruction.
    /// </summary>
    public void RequestPlatformStop(StopReason reason)
    {
        _platformStop = reason;
        _exitCode = 0;
        _signal |= SignalEvent;
    }

    private StopReason TakeStopReason()
    {
        var r = _platformStop ?? StopReason.DebugExit;
        _platformStop = null;
        if (r != StopReason.DebugExit) _exitCode = null;
        return r;
    }
}
