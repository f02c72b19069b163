namespace Vtx.Devices;

/// <summary>The INTA cycle of an external interrupt controller (8259A): returns the vector of the interrupt being acknowledged.</summary>
public interface IInterruptAcknowledge
{
    /// <summary>Acknowledges the highest-priority request and returns its vector (or the controller's spurious vector).</summary>
    byte Acknowledge();
}

/// <summary>The platform's timed devices, run by the processor at instruction boundaries (<see cref="Cpu.AttachPlatformClock"/>).</summary>
public interface IPlatformClock
{
    /// <summary>Runs every device whose deadline is at or before cycle <paramref name="now"/>.</summary>
    void Advance(ulong now);
}

/// <summary>A device with events at points of the cycle clock (a PIT output edge, an RTC periodic flag).</summary>
public interface ITimedDevice
{
    /// <summary>The cycle of the device's next event, or <see cref="ulong.MaxValue"/>.</summary>
    ulong NextDeadline { get; }

    /// <summary>Handles every event due at or before <paramref name="now"/> and computes the next deadline.</summary>
    void Advance(ulong now);
}

/// <summary>
/// A message on the APIC bus (SDM Vol. 3A, 11.6.1; 82093AA redirection entry fields): where it goes
/// and how it is delivered.
/// </summary>
/// <param name="Destination">APIC ID (physical mode) or logical destination (logical mode); 0xFF broadcasts.</param>
/// <param name="Logical">Logical destination mode.</param>
/// <param name="DeliveryMode">0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT.</param>
/// <param name="Vector">The vector (fixed and lowest priority).</param>
/// <param name="Level">Level-triggered (the accepting local APIC sets TMR and broadcasts the EOI).</param>
public readonly record struct InterruptMessage(uint Destination, bool Logical, int DeliveryMode, byte Vector, bool Level);

/// <summary>Delivers interrupt messages to the local APICs they address (the APIC bus / system bus).</summary>
public interface IInterruptMessageSink
{
    /// <summary>Delivers <paramref name="message"/> to every local APIC it addresses (one for lowest priority).</summary>
    void Deliver(in InterruptMessage message);
}

/// <summary>
/// The platform clock: converts the processor's cycle count to device time and runs the devices
/// whose events are due. Device time is derived from the time-stamp counter at its nominal
/// frequency: a device clocked at f Hz has seen floor(cycles × TscPerCycle × f / TscHz) ticks at a
/// given cycle count, so every run with the same program gives the same device behaviour.
/// In a machine with several processors the clock is the one of the processor running its turn,
/// never going back (a processor whose turn starts earlier on the cycle clock than what the devices
/// have seen finds them as they are); each processor gets the devices' deadline, and whichever
/// reaches it first runs them.
/// </summary>
public sealed class PlatformClock : IPlatformClock
{
    private readonly Cpu _cpu;
    private readonly List<ITimedDevice> _devices = new();
    private readonly List<Cpu> _others = new();
    private Func<Cpu>? _running;
    private ulong _seen; // the latest cycle the devices were looked at (several processors only)

    /// <summary>Creates the clock of <paramref name="cpu"/> whose TSC runs at <paramref name="tscHz"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tscHz"/> is 0.</exception>
    public PlatformClock(Cpu cpu, ulong tscHz)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (tscHz == 0) throw new ArgumentOutOfRangeException(nameof(tscHz), tscHz, "the TSC frequency must be positive");
        _cpu = cpu;
        TscHz = tscHz;
        TscPerCycle = Math.Max(cpu.Model.TscPerCycle, 1);
        cpu.AttachPlatformClock(this);
    }

    /// <summary>The nominal TSC frequency in Hz (CPUID 15h/16h report it).</summary>
    public ulong TscHz { get; }

    /// <summary>TSC increments per cycle.</summary>
    public ulong TscPerCycle { get; }

    /// <summary>The processor's current cycle count (with several processors: the running one's, never less than before).</summary>
    public ulong Now => _running is null ? _cpu.Cycles : Monotonic(_running().Cycles);

    private ulong Monotonic(ulong now) => _seen = Math.Max(_seen, now);

    /// <summary>Adds another processor of the machine (it gets the deadline too); <paramref name="running"/> names the processor whose turn it is.</summary>
    internal void AddProcessor(Cpu cpu, Func<Cpu> running)
    {
        _others.Add(cpu);
        _running = running;
        cpu.AttachPlatformClock(this);
        Reschedule();
    }

    /// <summary>Ticks of a <paramref name="hz"/> clock elapsed at cycle <paramref name="cycle"/>.</summary>
    public ulong Ticks(ulong cycle, ulong hz) => (ulong)((UInt128)cycle * TscPerCycle * hz / TscHz);

    /// <summary>The first cycle at which a <paramref name="hz"/> clock has seen <paramref name="ticks"/> ticks (saturating).</summary>
    public ulong CycleOfTick(ulong ticks, ulong hz)
    {
        UInt128 den = (UInt128)hz * TscPerCycle;
        UInt128 c = ((UInt128)ticks * TscHz + den - 1) / den;
        return c > ulong.MaxValue ? ulong.MaxValue : (ulong)c;
    }

    /// <summary>Adds a timed device.</summary>
    public void Add(ITimedDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _devices.Add(device);
        Reschedule();
    }

    /// <summary>Recomputes the processor's platform deadline (a device's next event changed).</summary>
    public void Reschedule()
    {
        ulong d = ulong.MaxValue;
        foreach (var dev in _devices) d = Math.Min(d, dev.NextDeadline);
        _cpu.SetPlatformDeadline(d);
        foreach (var c in _others) c.SetPlatformDeadline(d);
    }

    /// <inheritdoc />
    public void Advance(ulong now)
    {
        if (_running is not null) now = Monotonic(now);
        foreach (var dev in _devices)
            if (dev.NextDeadline <= now) dev.Advance(now);
        Reschedule();
    }
}
