using System.Runtime.CompilerServices;

namespace Vtx;

public sealed partial class Cpu
{
    // The instruction-boundary arbiter (SDM Vol. 3A, 6.9, Table 6-2): the one place that decides
    // what happens between two instructions — pending debug traps, NMI, maskable interrupts —
    // with blocking by STI, by MOV SS/POP SS, by NMI (until IRET) and by RFLAGS.IF.

    private const int ShadowSti = 1, ShadowMovSs = 2;
    private int _shadow;           // kind of interrupt shadow, valid while _shadowAt == _retired
    private ulong _shadowAt;       // the boundary (retired count) the shadow covers
    private bool _nmiPending, _nmiBlocked, _intrPending, _dbTrapPending;
    private byte _intrVector;
    private bool _halted;
    private readonly SortedList<(ulong Cycle, ulong Seq), PostedEvent> _posted = new();
    private ulong _postSeq;

    private readonly record struct PostedEvent(bool Nmi, byte Vector);

    /// <summary>True while an NMI has been delivered and no IRET has executed since (SDM Vol. 3A, 6.7.1).</summary>
    public bool NmiBlocked { get => _nmiBlocked; set => _nmiBlocked = value; }

    /// <summary>True while an NMI is latched, waiting to be delivered.</summary>
    public bool NmiPending => _nmiPending;

    /// <summary>The interrupt shadow in force at the current boundary: "sti", "mov-ss" or null.</summary>
    public string? InterruptShadow => _shadowAt == _retired ? _shadow switch { ShadowSti => "sti", ShadowMovSs => "mov-ss", _ => null } : null;

    /// <summary>Raises the NMI line now: the NMI is latched (one at most) and delivered at the first boundary where NMIs are not blocked.</summary>
    public void RaiseNmi() => _nmiPending = true;

    /// <summary>
    /// Asserts a maskable external interrupt with <paramref name="vector"/> (the INTR line with the
    /// vector an interrupt controller would supply on acknowledge). It stays pending until delivered.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Vectors 0-15 are not valid external interrupt vectors here (they alias exceptions).</exception>
    public void RaiseInterrupt(byte vector)
    {
        if (vector < 16) throw new ArgumentOutOfRangeException(nameof(vector), vector, "external interrupt vectors must be 16..255");
        _intrPending = true;
        _intrVector = vector;
    }

    /// <summary>
    /// Schedules an NMI (<paramref name="nmi"/> true) or an external interrupt at cycle
    /// <paramref name="cycle"/>: it is raised at the first instruction boundary whose cycle count is
    /// at least <paramref name="cycle"/> (time passes in HLT until then). Events at the same cycle
    /// are raised in the order posted.
    /// </summary>
    public void PostEvent(ulong cycle, bool nmi, byte vector = 0)
    {
        if (!nmi && vector < 16) throw new ArgumentOutOfRangeException(nameof(vector), vector, "external interrupt vectors must be 16..255");
        _posted.Add((cycle, _postSeq++), new PostedEvent(nmi, vector));
    }

    private ulong NextDeadline => Math.Min(Math.Min(Math.Min(_posted.Count == 0 ? ulong.MaxValue : _posted.Keys[0].Cycle, Apic.NextTimerDeadline), PreemptionDeadlineCycle), _platformDeadline);

    /// <summary>
    /// The next deadline that could end a HLT: as <see cref="NextDeadline"/>, but without the APIC timer
    /// when a maskable interrupt could not wake the processor (RFLAGS.IF = 0, and in VMX non-root
    /// operation no "external-interrupt exiting"; SDM Vol. 3C 25.2): a periodic timer (whose deadlines never
    /// run out) must not keep a halted processor spinning through time forever.
    /// </summary>
    private ulong HaltWakeDeadline
    {
        get
        {
            // Whether a maskable interrupt could wake is the arbiter's own rule (EventRules).
            bool interruptsWake = InterruptsUnmasked;
            // A one-shot timer still lets time pass to its expiry (its interrupt then waits in IRR).
            ulong apic = !Apic.TimerPeriodic || (interruptsWake && !Apic.TimerMasked) ? Apic.NextTimerDeadline : ulong.MaxValue;
            // Platform timers (PIT, RTC) only raise maskable interrupts: they wake nothing when those cannot.
            ulong platform = interruptsWake ? _platformDeadline : ulong.MaxValue;
            return Math.Min(Math.Min(Math.Min(_posted.Count == 0 ? ulong.MaxValue : _posted.Keys[0].Cycle, PreemptionDeadlineCycle), apic), platform);
        }
    }

    /// <summary>Starts an interrupt shadow covering the boundary after the current instruction; back-to-back SS loads do not extend it.</summary>
    private void BeginShadow(int kind)
    {
        if (kind == ShadowMovSs && _shadowAt == _retired && _shadow == ShadowMovSs) return;
        _shadow = kind;
        _shadowAt = _retired + 1;
        _signal |= SignalEvent;
    }

    /// <summary>
    /// Something the arbiter would take at this boundary: a halted processor wakes exactly for what
    /// the arbiter would deliver or exit for (one rule, <see cref="NextEvent"/>).
    /// </summary>
    private bool CanWake => NextEvent(CurrentShadow) != BoundaryEvent.None;

    private bool EventsPending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _nmiPending | _intrPending | _dbTrapPending | _halted || _posted.Count != 0
               || Apic.NextTimerDeadline != ulong.MaxValue || Apic.HasDeliverable || _vmxWatch || _initPending
               || _platformDeadline != ulong.MaxValue;
    }

    /// <summary>
    /// Arbitrates at an instruction boundary: takes the highest-priority unmasked event
    /// (<see cref="NextEvent"/>). Returns true when an event was delivered, a VM exit taken (or the
    /// processor shut down), so the caller re-fetches.
    /// </summary>
    private bool Arbitrate()
    {
        while (_posted.Count != 0 && _posted.Keys[0].Cycle <= _cycles)
        {
            var e = _posted.Values[0];
            _posted.RemoveAt(0);
            if (e.Nmi) _nmiPending = true;
            else { _intrPending = true; _intrVector = e.Vector; }
        }
        AdvancePlatform();
        Apic.Advance(_cycles);
        if (_nonRoot) return ArbitrateNonRoot(CurrentShadow);
        switch (NextEvent(CurrentShadow))
        {
            case BoundaryEvent.Init:
                // An INIT latched in VMX root operation, unblocked by VMXOFF (SDM Vol. 3C, 23.8, VMXOFF).
                _initPending = false;
                EnterInitState();
                return true;
            case BoundaryEvent.DebugTrap:
                // Traps on the previous instruction (single step) come before NMI and interrupts
                // (SDM Vol. 3A, 6.9); a debug exception also ends HLT (SDM Vol. 2A, HLT).
                _dbTrapPending = false;
                DebugException(_pendingDbg);
                _pendingDbg = 0;
                // A host that intercepts #DB sees the trap as a stop, RIP after the stepped instruction.
                if (IsIntercepted(1)) { Fault(ExceptionVector.DB); return false; }
                _halted = false;
                DeliverEvent(1, EventKind.HardwareException, 0, false, _rip);
                return true;
            case BoundaryEvent.Nmi:
                _nmiPending = false;
                _halted = false;
                if (!DeliverEvent(2, EventKind.Nmi, 0, false, _rip)) return true;
                _nmiBlocked = true;
                return true;
            case BoundaryEvent.Interrupt:
                DeliverExternalInterrupt();
                return true;
            default:
                return false;
        }
    }

    /// <summary>Delivers the pending maskable interrupt through the IDT.</summary>
    private void DeliverExternalInterrupt()
    {
        _halted = false;
        _guestActivity = 0;
        DeliverEvent(AcknowledgeInterrupt(), EventKind.ExternalInterrupt, 0, false, _rip);
    }

    /// <summary>Takes the vector of the pending maskable interrupt: the external INTR line (host-raised) first, then the local APIC (acknowledged).</summary>
    private byte AcknowledgeInterrupt()
    {
        _lastAckFromApic = !_intrPending;
        if (!_intrPending) return Apic.Acknowledge();
        return AcknowledgeIntr();
    }
}
