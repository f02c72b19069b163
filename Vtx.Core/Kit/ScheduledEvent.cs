using Vtx.Vmx;

namespace Vtx.Kit;

/// <summary>What starts the delay of a <see cref="ScheduledEvent"/>.</summary>
public enum EventAnchor
{
    /// <summary>The start of the run (the cycle count when the schedule is armed).</summary>
    Start,
    /// <summary>The first successful VM entry of the run (the cycle of its <see cref="VmxTransition"/>).</summary>
    FirstEntry,
    /// <summary>The first delivery of <see cref="ScheduledEvent.AnchorVector"/> through the guest's IDT in VMX non-root operation.</summary>
    GuestDelivery,
}

/// <summary>
/// One device event of a scenario: an NMI or a maskable external interrupt raised at a cycle (the machine's
/// event schedule, <see cref="Cpu.PostEvent"/>: raised at the first instruction boundary at or after that cycle,
/// time passing in HLT until then; SDM Vol. 3A, 6.7-6.8 for what the processor does with it, Vol. 3C, 25.2 in
/// VMX non-root operation).
/// </summary>
/// <param name="Nmi">True for an NMI, false for an external interrupt.</param>
/// <param name="Vector">The external interrupt's vector (16-255); 2 for an NMI.</param>
/// <param name="Delay">Cycles after the anchor.</param>
/// <param name="Anchor">What the delay counts from.</param>
public sealed record ScheduledEvent(bool Nmi, byte Vector, ulong Delay, EventAnchor Anchor = EventAnchor.FirstEntry)
{
    /// <summary>For <see cref="EventAnchor.GuestDelivery"/>: the vector whose first delivery in the guest starts the delay.</summary>
    public byte AnchorVector { get; init; }

    /// <summary>How a trace names the event ("NMI", "external interrupt 0x30" by default).</summary>
    public string? Name { get; init; }

    /// <summary>An optional remark appended to the trace line (", remark").</summary>
    public string? Remark { get; init; }

    /// <summary>An NMI <paramref name="delay"/> cycles after <paramref name="anchor"/>.</summary>
    public static ScheduledEvent NmiAt(ulong delay, EventAnchor anchor = EventAnchor.FirstEntry) => new(true, 2, delay, anchor);

    /// <summary>External interrupt <paramref name="vector"/> (16-255) <paramref name="delay"/> cycles after <paramref name="anchor"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Vectors 0-15 alias exceptions and are not external interrupt vectors here.</exception>
    public static ScheduledEvent InterruptAt(byte vector, ulong delay, EventAnchor anchor = EventAnchor.FirstEntry) =>
        vector < 16 ? throw new ArgumentOutOfRangeException(nameof(vector), vector, "external interrupt vectors must be 16..255") : new(false, vector, delay, anchor);

    /// <summary>The event's name in a trace.</summary>
    public string DisplayName => Name ?? (Nmi ? "NMI" : $"external interrupt 0x{Vector:X2}");
}

/// <summary>Arms a list of <see cref="ScheduledEvent"/>s on a CPU: posts each when its anchor happens (at most once).</summary>
internal sealed class EventScheduler
{
    private readonly Cpu _cpu;
    private readonly IReadOnlyList<ScheduledEvent> _events;
    private readonly bool[] _posted;
    private readonly Action<ulong, string>? _trace;

    public EventScheduler(Cpu cpu, IReadOnlyList<ScheduledEvent> events, Action<ulong, string>? trace)
    {
        _cpu = cpu;
        _events = events;
        _posted = new bool[events.Count];
        _trace = trace;
    }

    /// <summary>Posts the events anchored at the start of the run.</summary>
    public void Start() => Fire(EventAnchor.Start, _cpu.Cycles, 0);

    /// <summary>Called for every transition observed.</summary>
    public void OnTransition(VmxTransition t)
    {
        if (t.Kind == VmxTransitionKind.Entry) Fire(EventAnchor.FirstEntry, t.Cycle, 0);
    }

    /// <summary>Called for every event delivered through the guest's IDT.</summary>
    public void OnGuestEvent(ulong cycle, byte vector) => Fire(EventAnchor.GuestDelivery, cycle, vector);

    private void Fire(EventAnchor anchor, ulong cycle, byte vector)
    {
        for (int i = 0; i < _events.Count; i++)
        {
            var e = _events[i];
            if (_posted[i] || e.Anchor != anchor || (anchor == EventAnchor.GuestDelivery && e.AnchorVector != vector)) continue;
            _posted[i] = true;
            ulong at = cycle + e.Delay < cycle ? ulong.MaxValue : cycle + e.Delay;
            _cpu.PostEvent(at, e.Nmi, e.Nmi ? (byte)0 : e.Vector);
            _trace?.Invoke(cycle, $"{e.DisplayName} scheduled for cycle {at}" + (e.Remark is null ? "" : ", " + e.Remark));
        }
    }
}
