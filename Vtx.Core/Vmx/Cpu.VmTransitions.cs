using Vtx.Timing;
using Vtx.Decoding;
using Vtx.Memory.Paging;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // VM entry (VMLAUNCH/VMRESUME, SDM Vol. 3C, chapter 26) and VM exit (chapter 27): loading and
    // saving guest state, host-state loading, the MSR lists, event injection, VM-entry failures and
    // VMX aborts. The VM-execution controls are copied out of the VMCS at entry (as processors cache
    // them): the guest cannot change them (VMWRITE exits), and a host writing the current VMCS during
    // non-root operation changes what the next entry loads.

    /// <summary>The VM-execution controls in force during non-root operation, read at VM entry.</summary>
    private struct NonRootControls
    {
        public uint Pin, Proc, Proc2, Exit, Entry, ExceptionBitmap, PfMask, PfMatch, Cr3TargetCount;
        public ulong Cr0Mask, Cr4Mask, Cr0Shadow, Cr4Shadow, Cr3Target0, Cr3Target1, Cr3Target2, Cr3Target3;
        public ulong TscOffset, IoBitmapA, IoBitmapB, MsrBitmap, VmFunctionControls, EptpList, TscMultiplier;
        public ulong VirtualApic, TprThreshold, PleGap, PleWindow;
    }

    private NonRootControls _nr;
    private static readonly (VmcsField Sel, int Index)[] HostDataSelectors =
        [(VmcsField.HostEsSelector, 0), (VmcsField.HostSsSelector, 2), (VmcsField.HostDsSelector, 3), (VmcsField.HostFsSelector, 4), (VmcsField.HostGsSelector, 5)];
    private bool _nonRoot;
    private bool _vnmiBlocked;        // virtual-NMI blocking (virtual NMIs = 1)
    private bool _hostNmiBlocked;     // real NMI blocking set aside while virtual NMIs run the guest
    private bool _mtfPending;         // a monitor-trap-flag VM exit is pending
    private bool _vmxStep;            // windows or MTF armed: look at every boundary
    private bool _vmxWatch;           // something of non-root operation needs the arbiter
    private bool _preemptArmed;
    private ulong _preemptDeadlineTsc;
    private int _guestActivity;       // 0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI (while _halted in non-root)
    private ulong _iretNmiUnblockAt = ulong.MaxValue; // _retired of an IRET that removed (virtual-)NMI blocking
    private uint _vectoringInfo, _vectoringError; // the event being delivered (IDT-vectoring information)

    private const int SignalVmx = 8;

    /// <summary>True in VMX non-root operation (between a VM entry and the next VM exit).</summary>
    public bool InVmxNonRoot => _nonRoot;

    /// <summary>Virtual-NMI blocking (meaningful in non-root operation with "virtual NMIs" = 1; SDM Vol. 3C, 25.3).</summary>
    public bool VirtualNmiBlocked => _vnmiBlocked;

    /// <summary>
    /// Called after every VMX transition (entry, failed entry, VM-entry failure, exit, abort), when
    /// set. Costs one null test per transition when unset.
    /// </summary>
    public Action<VmxTransition>? VmxTransitionObserved { get; set; }

    private bool NrProc(uint bit) => (_nr.Proc & bit) != 0;
    private bool NrProc2(uint bit) => (_nr.Proc2 & bit) != 0;
    private bool NrPin(uint bit) => (_nr.Pin & bit) != 0;

    private void Observe(VmxTransitionKind kind, uint reason = 0, ulong qual = 0, uint intr = 0, uint intrErr = 0, uint idt = 0, uint idtErr = 0, ulong guestRip = 0, VmInstructionError err = VmInstructionError.None)
    {
        VmxTransitionObserved?.Invoke(new VmxTransition(kind, _cycles, reason, qual, intr, intrErr, idt, idtErr, guestRip, err,
            kind is VmxTransitionKind.EntryFail or VmxTransitionKind.EntryFailure ? _entryFailure : null));
    }

    /// <summary>VMLAUNCH / VMRESUME (SDM Vol. 3C, 30.3 and chapter 26): the checks in order, then guest-state loading, MSR loading and event injection.</summary>
    private void ExecVmentry(ref DecodedInstruction d, bool resume)
    {
        if (!_vmxOn || VmxModeUd()) { Fault(ExceptionVector.UD); return; }
        if (_nonRoot) { ExitForInstruction(ref d, resume ? VmxExitReason.Vmresume : VmxExitReason.Vmlaunch); return; }
        if (_cpl > 0) { FaultGp0(); return; }
        _entryFailure = null;
        // No current VMCS, or a shadow VMCS as the current one: VMfailInvalid (SDM Vol. 3C, 26.1).
        if (_currentVmcs == ulong.MaxValue || Vmcs.IsShadow) { VmFailInvalid(); Observe(VmxTransitionKind.EntryFail); return; }
        var vmcs = Vmcs;
        VmInstructionError error = VmInstructionError.None;
        if (_shadowAt == _retired && _shadow == ShadowMovSs) error = VmInstructionError.EntryEventsBlockedByMovSs;
        else if (!resume && vmcs.Launched) error = VmInstructionError.VmlaunchNonClearVmcs;
        else if (resume && !vmcs.Launched) error = VmInstructionError.VmresumeNonLaunchedVmcs;
        else if (!CheckControls()) error = VmInstructionError.EntryInvalidControlFields;
        else if (!CheckHostState()) error = VmInstructionError.EntryInvalidHostStateFields;
        if (error != VmInstructionError.None)
        {
            VmFailRecord(error);
            Observe(VmxTransitionKind.EntryFail, err: error);
            return;
        }
        if (!CheckGuestState(out PaePdptes pdptes))
        {
            EntryFailure(VmxExitReason.EntryFailureGuestState, _entryFailure!.Qualification);
            return;
        }
        bool hostNmiBlocked = _nmiBlocked;
        LoadGuestState(pdptes);
        uint failedMsr = ProcessMsrList(F(VmcsField.VmEntryMsrLoadAddress), F(VmcsField.VmEntryMsrLoadCount), load: true);
        if (failedMsr != 0)
        {
            _nmiBlocked = hostNmiBlocked;
            _entryFailure = new VmEntryFailure(VmEntryChecks.MsrLoadEntry.Class, VmEntryChecks.MsrLoadEntry.Name, null, failedMsr, VmEntryChecks.MsrLoadEntry.Section,
                "an entry of the VM-entry MSR-load list has reserved bits set, names a forbidden MSR (FS/GS base, x2APIC, SMM) or a value WRMSR would refuse", failedMsr);
            EntryFailure(VmxExitReason.EntryFailureMsrLoading, failedMsr);
            return;
        }
        if (!resume) vmcs.Launched = true;
        _entryFailure = null;
        EnterNonRoot(hostNmiBlocked);
        _signal |= SignalVmx;
        _cycles += (ulong)SystemCycles(SystemCost.VmEntry); // issue 10: the profile's VM-entry cost
        uint info = (uint)F(VmcsField.VmEntryInterruptionInformation);
        Observe(VmxTransitionKind.Entry, intr: (info & 0x8000_0000) != 0 ? info : 0, intrErr: (uint)F(VmcsField.VmEntryExceptionErrorCode), guestRip: _rip);
        InjectEvent(info);
        _nextRip = _rip;
    }

    /// <summary>Copies the controls, sets up the event state of the guest, and starts non-root operation (SDM Vol. 3C, 26.6).</summary>
    private void EnterNonRoot(bool hostNmiBlocked)
    {
        var v = Vmcs;
        _nr = new NonRootControls
        {
            Pin = (uint)v.Read(VmcsField.PinBasedVmExecControls),
            Proc = (uint)v.Read(VmcsField.PrimaryProcBasedVmExecControls),
            Exit = (uint)v.Read(VmcsField.VmExitControls),
            Entry = (uint)v.Read(VmcsField.VmEntryControls),
            ExceptionBitmap = (uint)v.Read(VmcsField.ExceptionBitmap),
            PfMask = (uint)v.Read(VmcsField.PageFaultErrorCodeMask),
            PfMatch = (uint)v.Read(VmcsField.PageFaultErrorCodeMatch),
            Cr3TargetCount = (uint)v.Read(VmcsField.Cr3TargetCount),
            Cr0Mask = v.Read(VmcsField.Cr0GuestHostMask),
            Cr4Mask = v.Read(VmcsField.Cr4GuestHostMask),
            Cr0Shadow = v.Read(VmcsField.Cr0ReadShadow),
            Cr4Shadow = v.Read(VmcsField.Cr4ReadShadow),
            Cr3Target0 = v.Read(VmcsField.Cr3TargetValue0),
            Cr3Target1 = v.Read(VmcsField.Cr3TargetValue1),
            Cr3Target2 = v.Read(VmcsField.Cr3TargetValue2),
            Cr3Target3 = v.Read(VmcsField.Cr3TargetValue3),
            TscOffset = v.Read(VmcsField.TscOffset),
            IoBitmapA = v.Read(VmcsField.IoBitmapA),
            IoBitmapB = v.Read(VmcsField.IoBitmapB),
            MsrBitmap = v.Read(VmcsField.MsrBitmap),
            VmFunctionControls = v.Read(VmcsField.VmFunctionControls),
            EptpList = v.Read(VmcsField.EptpListAddress),
            TscMultiplier = v.Read(VmcsField.TscMultiplier),
            VirtualApic = v.Read(VmcsField.VirtualApicAddress),
            TprThreshold = v.Read(VmcsField.TprThreshold),
            PleGap = v.Read(VmcsField.PleGap),
            PleWindow = v.Read(VmcsField.PleWindow),
        };
        _pleFresh = true;
        if ((_nr.Proc & PrimaryProcessorBasedControls.ActivateSecondaryControls) != 0)
            _nr.Proc2 = (uint)v.Read(VmcsField.SecondaryProcBasedVmExecControls);
        _nonRoot = true;
        TimingTlbVmTransition(entry: true, NrProc2(SecondaryProcessorBasedControls.EnableVpid) ? (ushort)v.Read(VmcsField.VirtualProcessorId) : (ushort)0); // issue 10
        SetEpt(NrProc2(SecondaryProcessorBasedControls.EnableEpt), v.Read(VmcsField.EptPointer));
        _mtfPending = false;
        _vectoringInfo = 0;
        ulong intr = v.Read(VmcsField.GuestInterruptibilityState);
        uint inject = (uint)v.Read(VmcsField.VmEntryInterruptionInformation);
        bool vectoring = (inject & 0x8000_0000) != 0 && ((inject >> 8) & 7) != 7;
        // NMI blocking: with virtual NMIs, bit 3 is virtual-NMI blocking and physical NMIs are not
        // blocked by guest state; otherwise bit 3 is NMI blocking itself (SDM Vol. 3C, 26.6.1).
        if (NrPin(PinBasedControls.VirtualNmis))
        {
            _vnmiBlocked = (intr & 8) != 0;
            _hostNmiBlocked = hostNmiBlocked;
            _nmiBlocked = false;
        }
        else
        {
            _vnmiBlocked = false;
            _nmiBlocked = (intr & 8) != 0;
        }
        // Blocking by STI / MOV SS covers the first guest instruction; a vectoring entry has none (26.6.4 via VMX.md 6.5).
        _shadow = 0;
        if (!vectoring && (intr & 3) != 0)
        {
            _shadow = (intr & 1) != 0 ? ShadowSti : ShadowMovSs;
            _shadowAt = _retired + 1;
        }
        ulong activity = v.Read(VmcsField.GuestActivityState);
        _guestActivity = vectoring ? 0 : (int)activity;
        _halted = _guestActivity != 0;
        // Pending debug exceptions (26.6.3): delivered as a #DB trap at the first boundary unless an event is injected.
        _dbTrapPending = false;
        ulong pdbg = v.Read(VmcsField.GuestPendingDebugExceptions);
        if ((inject & 0x8000_0000) == 0 && activity < 2 && (pdbg & 0x5000) != 0)
        {
            _pendingDbg = (pdbg & 0x400F) | 0;
            _dbTrapPending = true;
        }
        // The VMX-preemption timer counts from this entry at TSC >> IA32_VMX_MISC[4:0] (25.5.1).
        _preemptArmed = NrPin(PinBasedControls.ActivatePreemptionTimer);
        if (_preemptArmed)
        {
            int x = Model.Vmx!.PreemptionTimerRate;
            ulong value = v.Read(VmcsField.VmxPreemptionTimerValue);
            _preemptDeadlineTsc = SatAdd(Tsc >> x, value) is var ticks && ticks > ulong.MaxValue >> x ? ulong.MaxValue : ticks << x;
        }
        if (NrProc(PrimaryProcessorBasedControls.MonitorTrapFlag) && vectoring) _mtfPending = true;
        ApicVirtEnter(v);
        UpdateVmxWatch();
        _signal |= SignalEvent;
    }

    private void UpdateVmxWatch()
    {
        const uint step = PrimaryProcessorBasedControls.InterruptWindowExiting | PrimaryProcessorBasedControls.NmiWindowExiting | PrimaryProcessorBasedControls.MonitorTrapFlag;
        // A recognized virtual interrupt held off by RFLAGS.IF or a shadow is looked at every boundary.
        _vmxStep = _nonRoot && ((_nr.Proc & step) != 0 || _mtfPending || _vintrRecognized);
        _vmxWatch = _nonRoot && (_vmxStep || _preemptArmed || _apicVirtTrap != 0);
    }

    /// <summary>Loads the guest-state area into the processor (SDM Vol. 3C, 26.3.2).</summary>
    private void LoadGuestState(PaePdptes pdptes)
    {
        uint entry = (uint)F(VmcsField.VmEntryControls);
        bool ia32e = (entry & EntryControls.Ia32eModeGuest) != 0;
        const ulong keep = 0x7FFA_FFD0; // ET, NW, CD and reserved CR0 bits are not loaded
        _cr0 = (F(VmcsField.GuestCr0) & ~keep & 0xFFFF_FFFF) | (_cr0 & keep) | Cr0.ET;
        _cr3 = F(VmcsField.GuestCr3);
        _cr4 = F(VmcsField.GuestCr4);
        if ((entry & EntryControls.LoadDebugControls) != 0)
        {
            _dr[7] = (F(VmcsField.GuestDr7) | 0x400) & ~0xD000UL & 0xFFFF_FFFF;
            _debugCtl = F(VmcsField.GuestDebugCtl); // checked for reserved bits (26.3.1.1)
        }
        _sysenterCs = F(VmcsField.GuestSysenterCs) & 0xFFFF_FFFF;
        _sysenterEsp = F(VmcsField.GuestSysenterEsp);
        _sysenterEip = F(VmcsField.GuestSysenterEip);
        if ((entry & EntryControls.LoadEfer) != 0) _efer = F(VmcsField.GuestEfer);
        else
        {
            _efer = ia32e ? _efer | Efer.LMA : _efer & ~Efer.LMA;
            if ((_cr0 & Cr0.PG) != 0) _efer = ia32e ? _efer | Efer.LME : _efer & ~Efer.LME;
        }
        if ((entry & EntryControls.LoadPat) != 0) _pat = F(VmcsField.GuestPat);
        for (int i = 0; i < 6; i++)
        {
            var g = GuestSegments[i];
            var sc = new SegmentCache((ushort)F(g.Sel), F(g.Base), (uint)F(g.Limit), (uint)F(g.Ar) & 0x1_F0FF);
            if (sc.IsUnusable)
            {
                // Unusable: only SS.DPL and the FS/GS bases stay meaningful; SS/DS/ES bases lose bits 63:32.
                sc = sc with { Base = i is 4 or 5 ? sc.Base : sc.Base & 0xFFFF_FFFF, Limit = 0, AccessRights = SegmentCache.Unusable | (i == 2 ? sc.AccessRights & 0x60 : 0) };
            }
            _seg[i] = sc;
        }
        _tr = new SegmentCache((ushort)F(VmcsField.GuestTrSelector), F(VmcsField.GuestTrBase), (uint)F(VmcsField.GuestTrLimit), (uint)F(VmcsField.GuestTrAccessRights));
        var ldtr = new SegmentCache((ushort)F(VmcsField.GuestLdtrSelector), F(VmcsField.GuestLdtrBase), (uint)F(VmcsField.GuestLdtrLimit), (uint)F(VmcsField.GuestLdtrAccessRights));
        _ldtr = ldtr.IsUnusable ? SegmentCache.Null(ldtr.Selector) : ldtr;
        _gdtr = new DescriptorTableRegister(F(VmcsField.GuestGdtrBase), (ushort)F(VmcsField.GuestGdtrLimit));
        _idtr = new DescriptorTableRegister(F(VmcsField.GuestIdtrBase), (ushort)F(VmcsField.GuestIdtrLimit));
        _gpr[4] = F(VmcsField.GuestRsp);
        WriteRflags(F(VmcsField.GuestRflags));
        _cpl = _seg[2].Dpl;
        ModeChanged();
        // RIP is loaded whole (bits 63:32 are 0 outside 64-bit mode, a checked rule), not cut to the code size.
        _rip = F(VmcsField.GuestRip) & (_codeBits == 64 ? ulong.MaxValue : 0xFFFF_FFFFUL);
        if (_paging.Mode == PagingMode.Pae) _paging = _paging.WithPdptes(pdptes);
        FlushTlb();
    }

    /// <summary>
    /// Processes an MSR-load (<paramref name="load"/>) or MSR-store list of <paramref name="count"/>
    /// 16-byte entries (SDM Vol. 3C, 26.4, 27.4, 27.6). Returns 0, or the 1-based index of the entry that failed.
    /// </summary>
    private uint ProcessMsrList(ulong address, ulong count, bool load)
    {
        for (ulong i = 0; i < count; i++)
        {
            ulong e = address + 16 * i;
            ulong head = ReadPhysical(e, 8);
            uint index = (uint)head;
            bool forbidden = (head >> 32) != 0 || index is >= 0x800 and <= 0x8FF || index == 0x9B
                             || (load && index is Msr.FsBase or Msr.GsBase) || (!load && index == 0x9E);
            if (forbidden) return (uint)(i + 1);
            if (load)
            {
                if (!TryWriteMsr(index, ReadPhysical(e + 8, 8))) return (uint)(i + 1);
            }
            else
            {
                if (!TryReadMsr(index, out ulong v)) return (uint)(i + 1);
                WritePhysical(e + 8, 8, v);
            }
        }
        return 0;
    }

    /// <summary>Event injection at VM entry (SDM Vol. 3C, 26.5): delivered through the guest IDT as if at the boundary before guest RIP.</summary>
    private void InjectEvent(uint info)
    {
        if ((info & 0x8000_0000) == 0) return;
        uint type = (info >> 8) & 7;
        if (type == 7)
        {
            // Pending MTF VM exit before the first guest instruction, whatever the MTF control.
            _mtfPending = true;
            UpdateVmxWatch();
            return;
        }
        byte vector = (byte)info;
        var kind = (EventKind)type;
        if (type == 2)
        {
            if (NrPin(PinBasedControls.VirtualNmis)) _vnmiBlocked = true;
            else _nmiBlocked = true;
        }
        bool hasError = (info & 0x800) != 0;
        uint error = (uint)F(VmcsField.VmEntryExceptionErrorCode);
        ulong returnRip = _rip;
        if (type is 4 or 5 or 6) returnRip = (_rip + F(VmcsField.VmEntryInstructionLength)) & _ipMask;
        _halted = false;
        _guestActivity = 0;
        DeliverEvent(vector, kind, error, hasError, returnRip, injected: true);
    }

    /// <summary>Issue 10: the profile's VM-exit latency for the class of <paramref name="reason"/> (basic exit otherwise).</summary>
    private int VmExitCost(VmxExitReason reason)
    {
        SystemCost c = reason switch
        {
            VmxExitReason.ExternalInterrupt => SystemCost.VmExitExternalInterrupt,
            VmxExitReason.EptViolation or VmxExitReason.EptMisconfiguration => SystemCost.VmExitEpt,
            VmxExitReason.IoInstruction => SystemCost.VmExitIo,
            VmxExitReason.Rdmsr or VmxExitReason.Wrmsr => SystemCost.VmExitMsr,
            VmxExitReason.ControlRegisterAccess => SystemCost.VmExitCrAccess,
            VmxExitReason.ExceptionOrNmi => SystemCost.VmExitException,
            _ => SystemCost.VmExit,
        };
        return SystemCycles(c);
    }

    /// <summary>A VM-entry failure (SDM Vol. 3C, 26.7): exit reason with bit 31, qualification, host state and the VM-exit MSR-load list; nothing else.</summary>
    private void EntryFailure(VmxExitReason reason, ulong qualification)
    {
        var v = Vmcs;
        uint fullReason = 0x8000_0000u | (uint)reason;
        v.Write(VmcsField.ExitReason, fullReason);
        v.Write(VmcsField.ExitQualification, qualification);
        _nonRoot = false;
        UpdateVmxWatch();
        LoadHostState();
        if (ProcessMsrList(F(VmcsField.VmExitMsrLoadAddress), F(VmcsField.VmExitMsrLoadCount), load: true) != 0) { VmxAbort(4); return; }
        _signal |= SignalVmx;
        _cycles += (ulong)VmExitCost(reason); // issue 10: the profile's VM-exit cost
        _nextRip = _rip;
        Observe(VmxTransitionKind.EntryFailure, fullReason, qualification);
    }

    /// <summary>A VM exit caused by the current instruction (fault-like: RIP stays at the instruction, RF saved 0).</summary>
    private void ExitForInstruction(ref DecodedInstruction d, VmxExitReason reason, ulong qualification = 0, uint instructionInfo = 0, ulong? guestLinear = null)
    {
        _rflags &= ~(ulong)RFlags.RF;
        VmExit(reason, qualification, guestRip: _rip, instructionLength: d.Length, instructionInfo: instructionInfo, guestLinear: guestLinear);
        _signal |= SignalVmx;
        _nextRip = _rip;
    }

    /// <summary>
    /// A VM exit (SDM Vol. 3C, chapter 27): records the exit information, saves guest state, stores
    /// the MSR-store list, loads host state and the MSR-load list. Leaves the processor in VMX root
    /// operation at host RIP.
    /// </summary>
    private void VmExit(VmxExitReason reason, ulong qualification = 0, uint interruptionInfo = 0, uint interruptionError = 0,
        ulong? guestRip = null, int instructionLength = 0, uint instructionInfo = 0, ulong? guestLinear = null)
    {
        var v = Vmcs;
        ulong rip = guestRip ?? _rip;
        // 27.2 exit information.
        v.Write(VmcsField.ExitReason, (uint)reason);
        v.Write(VmcsField.ExitQualification, qualification);
        v.Write(VmcsField.VmExitInterruptionInformation, interruptionInfo);
        v.Write(VmcsField.VmExitInterruptionErrorCode, (interruptionInfo & 0x800) != 0 ? interruptionError : 0);
        v.Write(VmcsField.IdtVectoringInformation, _vectoringInfo);
        v.Write(VmcsField.IdtVectoringErrorCode, (_vectoringInfo & 0x800) != 0 ? _vectoringError : 0);
        v.Write(VmcsField.VmExitInstructionLength, (uint)instructionLength);
        v.Write(VmcsField.VmExitInstructionInformation, instructionInfo);
        v.Write(VmcsField.GuestLinearAddress, guestLinear ?? 0);
        v.Write(VmcsField.VmEntryInterruptionInformation, v.Read(VmcsField.VmEntryInterruptionInformation) & 0x7FFF_FFFF);
        uint idt = _vectoringInfo, idtErr = _vectoringError;
        _vectoringInfo = 0;

        SaveGuestState(v, rip, reason);
        bool nmiExit = reason == VmxExitReason.ExceptionOrNmi && (interruptionInfo & 0x700) == 0x200;
        if (ProcessMsrList(v.Read(VmcsField.VmExitMsrStoreAddress), v.Read(VmcsField.VmExitMsrStoreCount), load: false) != 0) { VmxAbort(1); return; }
        if (NrPin(PinBasedControls.VirtualNmis)) _nmiBlocked = _hostNmiBlocked;
        // An NMI that caused the exit directly leaves NMIs blocked in the host (27.5.5).
        if (nmiExit) _nmiBlocked = true;
        _nonRoot = false;
        TimingTlbVmTransition(entry: false, 0); // issue 10
        SetEpt(false, 0);
        _mtfPending = false;
        _preemptArmed = false;
        _vnmiBlocked = false;
        _dbTrapPending = false;
        _shadow = 0;
        _halted = false;
        _guestActivity = 0;
        UpdateVmxWatch();
        LoadHostState();
        if (ProcessMsrList(v.Read(VmcsField.VmExitMsrLoadAddress), v.Read(VmcsField.VmExitMsrLoadCount), load: true) != 0) { VmxAbort(4); return; }
        _cycles += (ulong)VmExitCost(reason); // issue 10: the profile's VM-exit cost
        _nextRip = _rip;
        // A VM exit taken inside an instruction (INT3 hitting the bitmap, a fault while delivering):
        // the loop must not do the guest instruction's RF/single-step bookkeeping in the host.
        _signal |= SignalEvent | SignalVmx;
        Observe(VmxTransitionKind.Exit, (uint)reason, qualification, interruptionInfo, interruptionError, idt, idtErr, rip);
    }

    /// <summary>Saves the processor state into the guest-state area (SDM Vol. 3C, 27.3).</summary>
    private void SaveGuestState(Vmcs v, ulong rip, VmxExitReason reason)
    {
        WriteGuestRegisters(v, rip);
        if ((_nr.Exit & ExitControls.SaveDebugControls) != 0)
        {
            v.Write(VmcsField.GuestDr7, _dr[7]);
            v.Write(VmcsField.GuestDebugCtl, _debugCtl);
        }
        if ((_nr.Exit & ExitControls.SavePat) != 0) v.Write(VmcsField.GuestPat, _pat);
        if ((_nr.Exit & ExitControls.SaveEfer) != 0) v.Write(VmcsField.GuestEfer, _efer);
        if (_eptOn && _paging.Mode == PagingMode.Pae)
        {
            v.Write(VmcsField.GuestPdpte0, _paging.Pdptes.Pdpte0);
            v.Write(VmcsField.GuestPdpte1, _paging.Pdptes.Pdpte1);
            v.Write(VmcsField.GuestPdpte2, _paging.Pdptes.Pdpte2);
            v.Write(VmcsField.GuestPdpte3, _paging.Pdptes.Pdpte3);
        }
        // Pending debug exceptions: kept for exits that leave a #DB trap pending (MTF, trap-like exits,
        // exits inside a MOV-SS shadow); 0 otherwise (27.3.4).
        bool keepDbg = _dbTrapPending && (reason is VmxExitReason.MonitorTrapFlag or VmxExitReason.TprBelowThreshold or VmxExitReason.VirtualizedEoi or VmxExitReason.ApicWrite
                                          || (_shadowAt == _retired && _shadow == ShadowMovSs));
        v.Write(VmcsField.GuestPendingDebugExceptions, keepDbg ? _pendingDbg | ((_pendingDbg & 0xF) != 0 ? 0x1000UL : 0) : 0);
        v.Write(VmcsField.GuestActivityState, (ulong)(_halted ? Math.Max(_guestActivity, 1) : 0));
        ulong intr = 0;
        // An instruction that exits inside a shadow did not complete: the blocking is saved as still in force.
        if (_shadowAt == _retired && _shadow != 0 && reason is not (VmxExitReason.InterruptWindow or VmxExitReason.NmiWindow)) intr |= _shadow == ShadowSti ? 1UL : 2UL;
        if (NrPin(PinBasedControls.VirtualNmis) ? _vnmiBlocked : _nmiBlocked) intr |= 8;
        v.Write(VmcsField.GuestInterruptibilityState, intr);
        ApicVirtSave(v);
        if ((_nr.Exit & ExitControls.SavePreemptionTimerValue) != 0)
        {
            int x = Model.Vmx!.PreemptionTimerRate;
            ulong now = Tsc >> x, end = _preemptDeadlineTsc >> x;
            v.Write(VmcsField.VmxPreemptionTimerValue, reason == VmxExitReason.PreemptionTimerExpired || now >= end ? 0 : Math.Min(end - now, 0xFFFF_FFFF));
        }
        if (Model.Vmx!.ExitStoresLma)
        {
            ulong entry = v.Read(VmcsField.VmEntryControls);
            v.Write(VmcsField.VmEntryControls, (_efer & Efer.LMA) != 0 ? entry | EntryControls.Ia32eModeGuest : entry & ~(ulong)EntryControls.Ia32eModeGuest);
        }
    }

    /// <summary>Loads the host-state area (SDM Vol. 3C, 27.5): CPL 0, flat segments, RFLAGS = 2, DR7 = 400h.</summary>
    private void LoadHostState()
    {
        var v = Vmcs;
        uint exit = (uint)v.Read(VmcsField.VmExitControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        const ulong keep = 0x7FFA_FFD0;
        _cr0 = (v.Read(VmcsField.HostCr0) & ~keep & 0xFFFF_FFFF) | (_cr0 & keep) | Cr0.ET;
        _cr3 = v.Read(VmcsField.HostCr3) & ((1UL << Model.PhysicalAddressBits) - 1);
        ulong cr4 = v.Read(VmcsField.HostCr4);
        _cr4 = hostLong ? cr4 | Cr4.PAE : cr4 & ~Cr4.PCIDE;
        _dr[7] = 0x400;
        _debugCtl = 0; // IA32_DEBUGCTL is cleared on every VM exit (SDM Vol. 3C, 27.5.1)
        _sysenterCs = v.Read(VmcsField.HostSysenterCs) & 0xFFFF_FFFF;
        _sysenterEsp = v.Read(VmcsField.HostSysenterEsp);
        _sysenterEip = v.Read(VmcsField.HostSysenterEip);
        if ((exit & ExitControls.LoadEfer) != 0) _efer = v.Read(VmcsField.HostEfer);
        else _efer = hostLong ? _efer | Efer.LMA | Efer.LME : _efer & ~(Efer.LMA | Efer.LME);
        if ((exit & ExitControls.LoadPat) != 0) _pat = v.Read(VmcsField.HostPat);
        _seg[1] = new SegmentCache((ushort)v.Read(VmcsField.HostCsSelector), 0, 0xFFFF_FFFF, 0x9B | SegmentCache.G | (hostLong ? SegmentCache.L : SegmentCache.DB));
        foreach (var (sf, i) in HostDataSelectors)
        {
            ushort sel = (ushort)v.Read(sf);
            ulong b = i == 4 ? v.Read(VmcsField.HostFsBase) : i == 5 ? v.Read(VmcsField.HostGsBase) : 0;
            _seg[i] = sel == 0
                ? new SegmentCache(0, b, 0, SegmentCache.Unusable | (i == 2 ? SegmentCache.DB : 0))
                : new SegmentCache(sel, b, 0xFFFF_FFFF, 0x93 | SegmentCache.DB | SegmentCache.G);
        }
        _tr = new SegmentCache((ushort)v.Read(VmcsField.HostTrSelector), v.Read(VmcsField.HostTrBase), 0x67, 0x8B);
        _ldtr = SegmentCache.Null();
        _gdtr = new DescriptorTableRegister(v.Read(VmcsField.HostGdtrBase), 0xFFFF);
        _idtr = new DescriptorTableRegister(v.Read(VmcsField.HostIdtrBase), 0xFFFF);
        _gpr[4] = v.Read(VmcsField.HostRsp);
        WriteRflags(2);
        _cpl = 0;
        ModeChanged();
        _rip = v.Read(VmcsField.HostRip);
        if (_paging.Mode == PagingMode.Pae && !RefreshPaging(true)) { VmxAbort(2); return; }
        FlushTlb();
    }

    /// <summary>VMX abort (SDM Vol. 3C, 27.7): the indicator is written at offset 4 of the VMCS region and the processor shuts down.</summary>
    private void VmxAbort(uint code)
    {
        WritePhysical(_currentVmcs + 4, 4, code);
        _nonRoot = false;
        SetEpt(false, 0);
        UpdateVmxWatch();
        _shutdown = true;
        _signal |= SignalVmx;
        Observe(VmxTransitionKind.Abort, code);
    }
}
