using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // Events in VMX non-root operation, decided by the same rule as in root operation
    // (Events/Cpu.EventRules.cs), in the order of SDM Vol. 3C, 25.2/26.6 (VMX.md 8.2): APIC-
    // virtualization traps, INIT, SIPI, pending MTF exit, debug traps, VMX-preemption timer, NMI
    // window, NMI, interrupt window, virtual interrupt, external interrupt. The masks (MOV SS, STI,
    // RFLAGS.IF, NMI blocking, activity state) live in MaskedEvents; HLT wake-up asks the same rule.

    private ulong _pendingDbg; // DR6-format bits of the pending #DB trap (B3-B0, BS)

    /// <summary>
    /// The TSC deadline of the VMX-preemption timer as a cycle count (ulong.MaxValue when not armed).
    /// In the wait-for-SIPI state the timer counts down, but reaching zero there causes no VM exit
    /// (SDM Vol. 3C, 26.5.1: "the timer does not cause a VM exit if it counts down to zero in the
    /// wait-for-SIPI state"); it stays at zero. So time passes up to its expiry like any deadline,
    /// and once expired it is no deadline at all: with nothing else scheduled the run ends (Halted)
    /// instead of waiting at the same cycle forever. A SIPI exit then saves the value 0.
    /// </summary>
    private ulong PreemptionDeadlineCycle
    {
        get
        {
            if (!_preemptArmed || !_nonRoot) return ulong.MaxValue;
            ulong tsc = Tsc;
            if (tsc >= _preemptDeadlineTsc) return _guestActivity == 3 ? ulong.MaxValue : _cycles;
            ulong per = Model.TscPerCycle;
            ulong delta = _preemptDeadlineTsc - tsc;
            return SatAdd(_cycles, (delta + per - 1) / per);
        }
    }

    /// <summary>
    /// The boundary arbiter in non-root operation: takes the event <see cref="NextEvent"/> names (the
    /// rule shared with HLT wake-up). Returns true when an event was delivered or a VM exit taken.
    /// </summary>
    private bool ArbitrateNonRoot(int shadow)
    {
        // A SIPI outside wait-for-SIPI is discarded (SDM Vol. 3C, 26.6.2).
        if (_sipiPending && _guestActivity != 3) _sipiPending = false;
        switch (NextEvent(shadow))
        {
            case BoundaryEvent.ApicVirtTrap:
                // Trap-like APIC-virtualization work of the previous instruction, above everything (29.1, 29.4.3.2).
                return RunApicVirtTrap();
            case BoundaryEvent.Init:
                // INIT is never blocked in non-root operation (except in wait-for-SIPI): it exits (reason 3).
                _initPending = false;
                VmExit(VmxExitReason.InitSignal);
                return true;
            case BoundaryEvent.Sipi:
                // A SIPI exits (reason 4, qualification = its vector) only in wait-for-SIPI.
                _sipiPending = false;
                VmExit(VmxExitReason.StartupIpi, _sipiVector);
                return true;
            case BoundaryEvent.Mtf:
                // A pending MTF VM exit comes before debug traps and everything lower (25.5.2).
                _mtfPending = false;
                VmExit(VmxExitReason.MonitorTrapFlag);
                return true;
            case BoundaryEvent.DebugTrap:
            {
                _dbTrapPending = false;
                ulong bits = _pendingDbg;
                _pendingDbg = 0;
                if (ExceptionExits(1, 0))
                {
                    VmExit(VmxExitReason.ExceptionOrNmi, bits & 0x400F, 0x8000_0301, guestRip: _rip);
                    return true;
                }
                _halted = false;
                DebugException(bits);
                DeliverEvent(1, EventKind.HardwareException, 0, false, _rip);
                return true;
            }
            case BoundaryEvent.PreemptionTimer:
                VmExit(VmxExitReason.PreemptionTimerExpired);
                return true;
            case BoundaryEvent.NmiWindow:
                VmExit(VmxExitReason.NmiWindow);
                return true;
            case BoundaryEvent.Nmi:
                _nmiPending = false;
                if (NrPin(PinBasedControls.NmiExiting))
                {
                    VmExit(VmxExitReason.ExceptionOrNmi, 0, 0x8000_0202);
                    return true;
                }
                _halted = false;
                _guestActivity = 0;
                _nmiBlocked = true;
                DeliverEvent(2, EventKind.Nmi, 0, false, _rip);
                return true;
            case BoundaryEvent.InterruptWindow:
                VmExit(VmxExitReason.InterruptWindow);
                return true;
            case BoundaryEvent.VirtualInterrupt:
                DeliverVirtualInterrupt();
                return true;
            case BoundaryEvent.Interrupt:
                if (NrPin(PinBasedControls.ExternalInterruptExiting))
                {
                    // With "acknowledge interrupt on exit" the vector is taken from the controller and
                    // reported (or, with posted interrupts, the notification vector is processed without
                    // an exit); otherwise the interrupt stays pending for the host (27.2.2, 29.6).
                    uint info = 0;
                    if ((_nr.Exit & ExitControls.AcknowledgeInterruptOnExit) != 0)
                    {
                        byte vector = AcknowledgeInterrupt();
                        if (ProcessPostedInterrupts(vector)) return true;
                        info = 0x8000_0000u | vector;
                    }
                    VmExit(VmxExitReason.ExternalInterrupt, 0, info);
                    return true;
                }
                DeliverExternalInterrupt();
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// True when exception <paramref name="vector"/> causes a VM exit by the exception bitmap; for
    /// #PF the error code is matched against the mask and match fields (SDM Vol. 3C, 25.2).
    /// </summary>
    private bool ExceptionExits(int vector, uint error)
    {
        if (vector >= 32) return false;
        bool bit = (_nr.ExceptionBitmap & (1u << vector)) != 0;
        if (vector != 14) return bit;
        bool match = (error & _nr.PfMask) == _nr.PfMatch;
        return match == bit;
    }

    /// <summary>The VMX interruption-information encoding of an event (SDM Vol. 3C, 24.9.2).</summary>
    private static uint InterruptionInfo(int vector, EventKind kind, bool hasError) =>
        0x8000_0000u | ((uint)kind << 8) | (uint)(byte)vector | (hasError ? 0x800u : 0);

    /// <summary>
    /// VM exit for an exception that hits the exception bitmap (exit reason 0): the exception is not
    /// delivered and changes no architectural state (CR2, DR6 stay); RIP is where delivery would have
    /// returned, or the INT3/INTO/INT1 itself for software exceptions (SDM Vol. 3C, 27.2.2, 27.3.3).
    /// </summary>
    private void ExitForException(int vector, EventKind kind, uint error, bool hasError, ulong returnRip)
    {
        bool software = kind is EventKind.SoftwareException or EventKind.PrivilegedSoftwareException;
        ulong qual = 0;
        if (vector == 14)
        {
            qual = _cr2;
            _cr2 = _cr2BeforeFault;
        }
        else if (vector == 1 && !software)
        {
            qual = _pendingDbg & 0x600F;
        }
        // Bit 12: NMI unblocking due to IRET, when an IRET that removed (virtual-)NMI blocking faults.
        uint info = InterruptionInfo(vector, kind, hasError && (_cr0 & Cr0.PE) != 0);
        bool iretFault = _iretNmiUnblockAt == _retired && _vectoringInfo == 0 && vector != 8;
        if (iretFault && !(NrPin(PinBasedControls.NmiExiting) && !NrPin(PinBasedControls.VirtualNmis))) info |= 0x1000;
        // RF as the delivered frame would have had it: set for faults other than #DB.
        if (FaultSetsRf(vector, kind, returnRip)) _rflags |= (ulong)RFlags.RF;
        int length = software ? (int)((returnRip - _rip) & _ipMask) : 0;
        VmExit(VmxExitReason.ExceptionOrNmi, qual, info, error, guestRip: software ? _rip : returnRip, instructionLength: length);
    }

    /// <summary>
    /// IRET and NMI blocking (SDM Vol. 3A, 6.7.1; Vol. 3C, 25.3): IRET removes NMI blocking — even
    /// when it then faults. In non-root operation with NMI exiting it leaves NMI blocking alone, and
    /// with virtual NMIs it removes virtual-NMI blocking instead. A removal is remembered for the
    /// "NMI unblocking due to IRET" bit of a VM exit the IRET's own fault may cause.
    /// </summary>
    private void IretUnblocksNmis()
    {
        if (!_nonRoot) { _nmiBlocked = false; return; }
        if (NrPin(PinBasedControls.NmiExiting))
        {
            if (!NrPin(PinBasedControls.VirtualNmis)) return;
            if (_vnmiBlocked) _iretNmiUnblockAt = _retired;
            _vnmiBlocked = false;
            return;
        }
        if (_nmiBlocked) _iretNmiUnblockAt = _retired;
        _nmiBlocked = false;
    }

    /// <summary>Non-root bookkeeping after an instruction retired while windows or MTF are armed: MTF makes an exit pending (SDM Vol. 3C, 25.5.2).</summary>
    private void NonRootRetired()
    {
        if (NrProc(PrimaryProcessorBasedControls.MonitorTrapFlag))
        {
            _mtfPending = true;
            _vmxWatch = true;
        }
    }

    private bool _initPending, _sipiPending;
    private byte _sipiVector;

    /// <summary>
    /// Signals INIT to this processor (SDM Vol. 3A, 9.1; Vol. 3C, 25.2, 23.8). In VMX non-root
    /// operation it causes a VM exit (reason 3) at the next boundary, above MTF and below nothing
    /// modelled; in VMX root operation INIT is blocked and stays pending (VMXOFF does not deliver
    /// it: the host may clear it by <see cref="Reset"/>); outside VMX operation it puts the processor
    /// in its INIT state (<see cref="EnterInitState"/>: the register state of SDM Table 9-1's INIT
    /// column; an application processor then waits for a SIPI).
    /// </summary>
    public void RaiseInit()
    {
        if (_vmxOn)
        {
            _initPending = true;
            _signal |= SignalEvent;
            return;
        }
        EnterInitState();
    }

    /// <summary>
    /// Signals a start-up IPI with <paramref name="vector"/>. In VMX non-root operation in the
    /// wait-for-SIPI activity state it causes a VM exit (reason 4, qualification = vector); in any
    /// other state it is discarded (SDM Vol. 3C, 25.2, 26.6.2). Outside non-root operation a processor
    /// in the wait-for-SIPI state starts in real mode at CS:IP = vector·100h:0 (SDM Vol. 3A, 9.4.4,
    /// 11.6.1); any other processor discards it.
    /// </summary>
    public void RaiseSipi(byte vector)
    {
        if (!_nonRoot)
        {
            if (IsWaitingForSipi) StartUp(vector);
            return;
        }
        _sipiPending = true;
        _sipiVector = vector;
        _vmxWatch = true;
    }
}
