using System.Runtime.CompilerServices;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // The one source of truth for "which event happens at this boundary" (deviation 8 of issue 11).
    // Like Bochs's pending_event/event_mask pair (bochs/cpu/event.cc), the state is read as two bit
    // sets: the events that are pending (latched, requested or armed) and the events the current
    // state masks (NMI blocking, RFLAGS.IF, the STI/MOV-SS shadow, the activity state). The event
    // taken is the highest-priority pending event that is not masked. The arbiter acts on it, and
    // "can a halted processor wake" is the same question asked of the same two sets: a halted
    // processor wakes exactly when the arbiter would take something.
    //
    // Bit order is priority order (bit 0 highest): SDM Vol. 3A Table 6-2, and in VMX non-root
    // operation SDM Vol. 3C 25.2, 26.7.x, 29.2.2 (VMX.md 8.2).

    /// <summary>Boundary events, one bit each, in priority order (lowest bit first).</summary>
    [Flags]
    private enum BoundaryEvent : uint
    {
        None = 0,
        /// <summary>APIC-virtualization work left by the previous instruction: TPR virtualization, EOI virtualization, APIC-write emulation (trap-like exits 43/45/56; SDM 29.1, 29.4.3.2).</summary>
        ApicVirtTrap = 1u << 0,
        /// <summary>INIT (non-root: VM exit 3).</summary>
        Init = 1u << 1,
        /// <summary>Start-up IPI (non-root wait-for-SIPI: VM exit 4).</summary>
        Sipi = 1u << 2,
        /// <summary>Pending monitor-trap-flag VM exit (37).</summary>
        Mtf = 1u << 3,
        /// <summary>Traps of the previous instruction (single step, data/I/O breakpoints): #DB.</summary>
        DebugTrap = 1u << 4,
        /// <summary>VMX-preemption timer expired (52).</summary>
        PreemptionTimer = 1u << 5,
        /// <summary>NMI-window exiting (8).</summary>
        NmiWindow = 1u << 6,
        /// <summary>Non-maskable interrupt.</summary>
        Nmi = 1u << 7,
        /// <summary>Interrupt-window exiting (7).</summary>
        InterruptWindow = 1u << 8,
        /// <summary>A recognized pending virtual interrupt (virtual-interrupt delivery, SDM 29.2.2).</summary>
        VirtualInterrupt = 1u << 9,
        /// <summary>A maskable external interrupt (the INTR line or the local APIC).</summary>
        Interrupt = 1u << 10,
    }

    /// <summary>The events pending now, whether or not they are masked.</summary>
    private BoundaryEvent PendingEvents()
    {
        var e = BoundaryEvent.None;
        if (_dbTrapPending) e |= BoundaryEvent.DebugTrap;
        if (_nmiPending) e |= BoundaryEvent.Nmi;
        if (_intrPending || Apic.HasDeliverable) e |= BoundaryEvent.Interrupt;
        if (!_nonRoot) return e;
        if (_apicVirtTrap != 0) e |= BoundaryEvent.ApicVirtTrap;
        if (_initPending) e |= BoundaryEvent.Init;
        if (_sipiPending) e |= BoundaryEvent.Sipi;
        if (_mtfPending) e |= BoundaryEvent.Mtf;
        if (_preemptArmed && Tsc >= _preemptDeadlineTsc) e |= BoundaryEvent.PreemptionTimer;
        if (NrProc(PrimaryProcessorBasedControls.NmiWindowExiting)) e |= BoundaryEvent.NmiWindow;
        if (NrProc(PrimaryProcessorBasedControls.InterruptWindowExiting)) e |= BoundaryEvent.InterruptWindow;
        if (_vintrRecognized) e |= BoundaryEvent.VirtualInterrupt;
        return e;
    }

    /// <summary>
    /// The events the current state masks, given the interrupt shadow <paramref name="shadow"/> in
    /// force at this boundary (0, <see cref="ShadowSti"/> or <see cref="ShadowMovSs"/>).
    /// </summary>
    private BoundaryEvent MaskedEvents(int shadow)
    {
        bool iflag = (_rflags & (ulong)RFlags.IF) != 0;
        var m = BoundaryEvent.None;
        // Root operation (and outside VMX): a MOV-SS shadow holds off debug traps and NMIs; any shadow
        // and RFLAGS.IF = 0 hold off maskable interrupts; NMI blocking holds off NMIs until IRET.
        if (!_nonRoot)
        {
            // Wait-for-SIPI (after INIT on an application processor) holds off everything (SDM Vol. 3A, 9.4.4).
            if (InWaitForSipi) return ~BoundaryEvent.None;
            if (shadow == ShadowMovSs) m |= BoundaryEvent.DebugTrap | BoundaryEvent.Nmi;
            if (_nmiBlocked) m |= BoundaryEvent.Nmi;
            if (shadow != 0 || !iflag) m |= BoundaryEvent.Interrupt;
            return m;
        }
        int activity = _guestActivity;
        // Wait-for-SIPI blocks everything but a SIPI; in any other state a SIPI is discarded (26.6.2).
        if (activity == 3) return ~BoundaryEvent.Sipi & ~BoundaryEvent.ApicVirtTrap;
        m |= BoundaryEvent.Sipi;
        // Shutdown blocks MTF, maskable interrupts and the windows that depend on them (25.5.2, 26.6.2).
        if (activity == 2) m |= BoundaryEvent.Mtf | BoundaryEvent.InterruptWindow | BoundaryEvent.VirtualInterrupt | BoundaryEvent.Interrupt;
        // MOV-SS blocking holds off everything below MTF (VMX.md 6.5).
        const BoundaryEvent belowMtf = BoundaryEvent.DebugTrap | BoundaryEvent.PreemptionTimer | BoundaryEvent.NmiWindow | BoundaryEvent.Nmi
                                       | BoundaryEvent.InterruptWindow | BoundaryEvent.VirtualInterrupt | BoundaryEvent.Interrupt;
        if (shadow == ShadowMovSs) m |= belowMtf;
        // STI blocking holds off the preemption timer (Vtx follows Bochs where the SDM is silent), the
        // interrupt window, virtual-interrupt delivery and maskable interrupts — not NMIs or the NMI
        // window (an implementation choice the SDM allows, as in root operation).
        if (shadow == ShadowSti) m |= BoundaryEvent.PreemptionTimer | BoundaryEvent.InterruptWindow | BoundaryEvent.VirtualInterrupt | BoundaryEvent.Interrupt;
        if (_vnmiBlocked) m |= BoundaryEvent.NmiWindow;
        // NMI exiting with virtual NMIs: physical NMIs are never blocked by guest state; otherwise
        // NMI blocking (loaded from the guest or set by an injected NMI) holds them (25.3, 26.6.1).
        if (NrPin(PinBasedControls.NmiExiting) ? !NrPin(PinBasedControls.VirtualNmis) && _nmiBlocked : _nmiBlocked) m |= BoundaryEvent.Nmi;
        if (!iflag)
        {
            m |= BoundaryEvent.InterruptWindow | BoundaryEvent.VirtualInterrupt;
            // External-interrupt exiting: RFLAGS.IF no longer masks external interrupts (25.2).
            if (!NrPin(PinBasedControls.ExternalInterruptExiting)) m |= BoundaryEvent.Interrupt;
        }
        return m;
    }

    /// <summary>The interrupt shadow in force at the current boundary (0 when none).</summary>
    private int CurrentShadow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _shadowAt == _retired ? _shadow : 0;
    }

    /// <summary>The highest-priority pending event that is not masked at this boundary (None when nothing can happen).</summary>
    private BoundaryEvent NextEvent(int shadow)
    {
        uint e = (uint)(PendingEvents() & ~MaskedEvents(shadow));
        return (BoundaryEvent)(e & (0u - e));
    }

    /// <summary>True when a maskable interrupt that became pending now would be taken (delivered or exiting) rather than masked.</summary>
    private bool InterruptsUnmasked => (MaskedEvents(0) & BoundaryEvent.Interrupt) == 0;
}
