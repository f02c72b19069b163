using Vtx.Memory;
using Vtx.Memory.Paging;
using Vtx.Vmx;
using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx;

public sealed partial class Cpu
{
    // The VM-entry checks (SDM Vol. 3C, 26.2 and 26.3), each with a stable name, the field and
    // value it read, and its SDM section, so a failure says exactly what was wrong. The control and
    // host-state checks (26.2) may be made in any order by hardware; Vtx makes them in the order of
    // the SDM's text, controls first.

    private VmEntryFailure? _entryFailure;

    /// <summary>The failed check of the last VMLAUNCH/VMRESUME that failed with VMfailValid(7/8) or a VM-entry failure; null after a successful entry.</summary>
    public VmEntryFailure? LastVmEntryFailure => _entryFailure;

    // The current VMCS object, looked up once: VM entries and exits read and write dozens of fields.
    // Dropped wherever the set of active VMCSs changes (VMCLEAR, VMPTRLD, RESET, snapshot restore).
    private Vmcs? _vmcsCache;

    private Vmcs Vmcs
    {
        get
        {
            var c = _vmcsCache;
            if (c is not null && c.Address == _currentVmcs) return c;
            return _vmcsCache = _activeVmcs[_currentVmcs];
        }
    }

    private ulong F(VmcsField f) => Vmcs.Read(f);

    /// <summary>Records the first failed check; returns false so callers can write <c>return Fail(...)</c>.</summary>
    private bool Fail(VmEntryCheckClass cls, string check, VmcsField? field, ulong value, string section, string description, uint qualification = 0)
    {
        _entryFailure = new VmEntryFailure(cls, check, field, value, section, description, qualification);
        return false;
    }

    private bool PhysOk(ulong pa) => (pa >> Model.PhysicalAddressBits) == 0;

    private bool PageAlignedPhys(ulong pa) => (pa & 0xFFF) == 0 && PhysOk(pa);

    private bool CheckPageField(VmcsField f, string check, string section, string what)
    {
        ulong v = F(f);
        return PageAlignedPhys(v) || Fail(ControlFields, check, f, v, section, what + " must be 4-KiB aligned and within MAXPHYADDR");
    }

    private bool CheckMsrArea(VmcsField address, VmcsField count, string check)
    {
        ulong n = F(count);
        if (n == 0) return true;
        ulong a = F(address);
        if ((a & 0xF) != 0 || !PhysOk(a) || !PhysOk(a + 16 * n - 1))
            return Fail(ControlFields, check, address, a, "26.2.1.2", "an MSR area's address must be 16-byte aligned and the whole list within MAXPHYADDR");
        return true;
    }

    /// <summary>Checks on the VM-execution, VM-exit and VM-entry control fields (SDM Vol. 3C, 26.2.1): any failure is VMfailValid(7).</summary>
    private bool CheckControls()
    {
        var caps = Model.Vmx!;
        uint pin = (uint)F(VmcsField.PinBasedVmExecControls);
        uint proc = (uint)F(VmcsField.PrimaryProcBasedVmExecControls);
        uint proc2 = (proc & PrimaryProcessorBasedControls.ActivateSecondaryControls) != 0 ? (uint)F(VmcsField.SecondaryProcBasedVmExecControls) : 0;
        uint exit = (uint)F(VmcsField.VmExitControls);
        uint entry = (uint)F(VmcsField.VmEntryControls);
        const string s1 = "26.2.1.1";
        if (!caps.ControlsValid(VmxControlKind.PinBased, pin))
            return Fail(ControlFields, "control.pin-based.allowed-settings", VmcsField.PinBasedVmExecControls, pin, s1, "pin-based controls must obey the allowed 0- and 1-settings of IA32_VMX_(TRUE_)PINBASED_CTLS");
        if (!caps.ControlsValid(VmxControlKind.PrimaryProcessorBased, proc))
            return Fail(ControlFields, "control.primary.allowed-settings", VmcsField.PrimaryProcBasedVmExecControls, proc, s1, "primary processor-based controls must obey IA32_VMX_(TRUE_)PROCBASED_CTLS");
        if (!caps.ControlsValid(VmxControlKind.SecondaryProcessorBased, proc2))
            return Fail(ControlFields, "control.secondary.allowed-settings", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "secondary processor-based controls must obey IA32_VMX_PROCBASED_CTLS2");
        if ((proc & PrimaryProcessorBasedControls.ActivateTertiaryControls) != 0 && !caps.TertiaryControlsValid(F(VmcsField.TertiaryProcBasedVmExecControls)))
            return Fail(ControlFields, "control.tertiary.allowed-settings", VmcsField.TertiaryProcBasedVmExecControls, F(VmcsField.TertiaryProcBasedVmExecControls), s1, "tertiary controls must obey IA32_VMX_PROCBASED_CTLS3");
        ulong cr3Count = F(VmcsField.Cr3TargetCount);
        if (cr3Count > (ulong)caps.Cr3TargetCount)
            return Fail(ControlFields, "control.cr3-target-count", VmcsField.Cr3TargetCount, cr3Count, s1, $"the CR3-target count must not exceed IA32_VMX_MISC[24:16] ({caps.Cr3TargetCount})");
        if ((proc & PrimaryProcessorBasedControls.UseIoBitmaps) != 0
            && (!CheckPageField(VmcsField.IoBitmapA, "control.io-bitmap-a", s1, "I/O bitmap A") || !CheckPageField(VmcsField.IoBitmapB, "control.io-bitmap-b", s1, "I/O bitmap B")))
            return false;
        if ((proc & PrimaryProcessorBasedControls.UseMsrBitmaps) != 0 && !CheckPageField(VmcsField.MsrBitmap, "control.msr-bitmap", s1, "the MSR-bitmap address"))
            return false;
        if ((proc & PrimaryProcessorBasedControls.UseTprShadow) != 0)
        {
            if (!CheckPageField(VmcsField.VirtualApicAddress, "control.virtual-apic-address", s1, "the virtual-APIC address")) return false;
            ulong threshold = F(VmcsField.TprThreshold);
            if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) == 0)
            {
                if ((threshold & ~0xFUL) != 0)
                    return Fail(ControlFields, "control.tpr-threshold.reserved", VmcsField.TprThreshold, threshold, s1, "TPR threshold bits 31:4 must be 0");
                if ((proc2 & SecondaryProcessorBasedControls.VirtualizeApicAccesses) == 0)
                {
                    ulong vtpr = ReadPhysical(F(VmcsField.VirtualApicAddress) + 0x80, 1);
                    if (threshold > (vtpr >> 4))
                        return Fail(ControlFields, "control.tpr-threshold.vtpr", VmcsField.TprThreshold, threshold, s1, "TPR threshold[3:0] must not exceed VTPR[7:4] of the virtual-APIC page");
                }
            }
        }
        else if ((proc2 & (SecondaryProcessorBasedControls.VirtualizeX2ApicMode | SecondaryProcessorBasedControls.ApicRegisterVirtualization | SecondaryProcessorBasedControls.VirtualInterruptDelivery)) != 0)
            return Fail(ControlFields, "control.tpr-shadow.required", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery need \"use TPR shadow\"");
        if ((pin & PinBasedControls.NmiExiting) == 0 && (pin & PinBasedControls.VirtualNmis) != 0)
            return Fail(ControlFields, "control.virtual-nmis.need-nmi-exiting", VmcsField.PinBasedVmExecControls, pin, s1, "\"virtual NMIs\" requires \"NMI exiting\"");
        if ((pin & PinBasedControls.VirtualNmis) == 0 && (proc & PrimaryProcessorBasedControls.NmiWindowExiting) != 0)
            return Fail(ControlFields, "control.nmi-window.need-virtual-nmis", VmcsField.PrimaryProcBasedVmExecControls, proc, s1, "\"NMI-window exiting\" requires \"virtual NMIs\"");
        if ((proc2 & SecondaryProcessorBasedControls.VirtualizeApicAccesses) != 0)
        {
            if (!CheckPageField(VmcsField.ApicAccessAddress, "control.apic-access-address", s1, "the APIC-access address")) return false;
            if ((proc2 & SecondaryProcessorBasedControls.VirtualizeX2ApicMode) != 0)
                return Fail(ControlFields, "control.apic-virtualization.exclusive", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "\"virtualize APIC accesses\" and \"virtualize x2APIC mode\" are exclusive");
        }
        if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) != 0 && (pin & PinBasedControls.ExternalInterruptExiting) == 0)
            return Fail(ControlFields, "control.virtual-interrupt-delivery.need-external-interrupt-exiting", VmcsField.PinBasedVmExecControls, pin, s1, "virtual-interrupt delivery requires external-interrupt exiting");
        if ((pin & PinBasedControls.ProcessPostedInterrupts) != 0)
        {
            ulong vector = F(VmcsField.PostedInterruptNotificationVector), desc = F(VmcsField.PostedInterruptDescriptorAddress);
            if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) == 0 || (exit & ExitControls.AcknowledgeInterruptOnExit) == 0
                || (vector & 0xFF00) != 0 || (desc & 0x3F) != 0 || !PhysOk(desc))
                return Fail(ControlFields, "control.posted-interrupts", VmcsField.PinBasedVmExecControls, pin, s1, "posted interrupts need virtual-interrupt delivery, acknowledge-interrupt-on-exit, a notification vector below 256 and a 64-byte aligned descriptor");
        }
        if ((proc2 & SecondaryProcessorBasedControls.EnableVpid) != 0 && F(VmcsField.VirtualProcessorId) == 0)
            return Fail(ControlFields, "control.vpid.nonzero", VmcsField.VirtualProcessorId, 0, s1, "with \"enable VPID\" the VPID must not be 0000h");
        if ((proc2 & SecondaryProcessorBasedControls.EnableEpt) != 0)
        {
            ulong eptp = F(VmcsField.EptPointer);
            if (!IsValidEptp(eptp))
                return Fail(ControlFields, "control.eptp", VmcsField.EptPointer, eptp, s1, "the EPT pointer must name an offered memory type and walk length, with reserved bits 0");
        }
        const uint needEpt = SecondaryProcessorBasedControls.UnrestrictedGuest | SecondaryProcessorBasedControls.EnablePml
            | SecondaryProcessorBasedControls.ModeBasedExecuteControl | SecondaryProcessorBasedControls.SubPageWritePermissions;
        if ((proc2 & needEpt) != 0 && (proc2 & SecondaryProcessorBasedControls.EnableEpt) == 0)
            return Fail(ControlFields, "control.ept.required", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "unrestricted guest, PML, mode-based execute control and sub-page permissions need \"enable EPT\"");
        if ((proc2 & SecondaryProcessorBasedControls.EnablePml) != 0 && !CheckPageField(VmcsField.PmlAddress, "control.pml-address", s1, "the PML address")) return false;
        if ((proc2 & SecondaryProcessorBasedControls.EnableVmFunctions) != 0)
        {
            ulong fn = F(VmcsField.VmFunctionControls);
            if ((fn & ~caps.VmFunctions) != 0)
                return Fail(ControlFields, "control.vm-functions.allowed", VmcsField.VmFunctionControls, fn, s1, "VM-function controls must obey IA32_VMX_VMFUNC");
            if ((fn & 1) != 0 && ((proc2 & SecondaryProcessorBasedControls.EnableEpt) == 0 || !PageAlignedPhys(F(VmcsField.EptpListAddress))))
                return Fail(ControlFields, "control.vm-functions.eptp-switching", VmcsField.EptpListAddress, F(VmcsField.EptpListAddress), s1, "EPTP switching needs EPT and a 4-KiB aligned EPTP-list address");
        }
        if ((proc2 & SecondaryProcessorBasedControls.VmcsShadowing) != 0
            && (!CheckPageField(VmcsField.VmreadBitmapAddress, "control.vmread-bitmap", s1, "the VMREAD-bitmap address")
                || !CheckPageField(VmcsField.VmwriteBitmapAddress, "control.vmwrite-bitmap", s1, "the VMWRITE-bitmap address")))
            return false;
        if ((proc2 & SecondaryProcessorBasedControls.EptViolationVe) != 0
            && !CheckPageField(VmcsField.VirtualizationExceptionInformationAddress, "control.ve-information-address", s1, "the #VE-information address"))
            return false;

        // VM-exit controls (26.2.1.2).
        const string s2 = "26.2.1.2";
        if (!caps.ControlsValid(VmxControlKind.Exit, exit))
            return Fail(ControlFields, "control.exit.allowed-settings", VmcsField.VmExitControls, exit, s2, "VM-exit controls must obey IA32_VMX_(TRUE_)EXIT_CTLS");
        if ((exit & ExitControls.ActivateSecondaryControls) != 0 && !caps.SecondaryExitControlsValid(F(VmcsField.SecondaryVmExitControls)))
            return Fail(ControlFields, "control.exit.secondary-allowed-settings", VmcsField.SecondaryVmExitControls, F(VmcsField.SecondaryVmExitControls), s2, "secondary VM-exit controls must obey IA32_VMX_EXIT_CTLS2");
        if ((pin & PinBasedControls.ActivatePreemptionTimer) == 0 && (exit & ExitControls.SavePreemptionTimerValue) != 0)
            return Fail(ControlFields, "control.exit.save-preemption-timer", VmcsField.VmExitControls, exit, s2, "\"save VMX-preemption timer value\" requires \"activate VMX-preemption timer\"");
        if (!CheckMsrArea(VmcsField.VmExitMsrStoreAddress, VmcsField.VmExitMsrStoreCount, "control.exit.msr-store-area")
            || !CheckMsrArea(VmcsField.VmExitMsrLoadAddress, VmcsField.VmExitMsrLoadCount, "control.exit.msr-load-area"))
            return false;

        // VM-entry controls and event injection (26.2.1.3).
        const string s3 = "26.2.1.3";
        if (!caps.ControlsValid(VmxControlKind.Entry, entry))
            return Fail(ControlFields, "control.entry.allowed-settings", VmcsField.VmEntryControls, entry, s3, "VM-entry controls must obey IA32_VMX_(TRUE_)ENTRY_CTLS");
        if ((entry & (EntryControls.EntryToSmm | EntryControls.DeactivateDualMonitorTreatment)) != 0)
            return Fail(ControlFields, "control.entry.smm", VmcsField.VmEntryControls, entry, s3, "outside SMM \"entry to SMM\" and \"deactivate dual-monitor treatment\" must be 0");
        if (!CheckMsrArea(VmcsField.VmEntryMsrLoadAddress, VmcsField.VmEntryMsrLoadCount, "control.entry.msr-load-area")) return false;
        return CheckInjectionControls(proc, proc2);
    }

    /// <summary>The event-injection checks on the VM-entry interruption-information field (SDM Vol. 3C, 26.2.1.3).</summary>
    private bool CheckInjectionControls(uint proc, uint proc2)
    {
        const string s3 = "26.2.1.3";
        uint info = (uint)F(VmcsField.VmEntryInterruptionInformation);
        if ((info & 0x8000_0000) == 0) return true;
        var caps = Model.Vmx!;
        var f = VmcsField.VmEntryInterruptionInformation;
        uint type = (info >> 8) & 7, vector = info & 0xFF;
        bool deliverError = (info & 0x800) != 0;
        if (type == 1 || (type == 7 && (caps.PrimaryProcessorBased.Allowed1 & PrimaryProcessorBasedControls.MonitorTrapFlag) == 0))
            return Fail(ControlFields, "control.injection.type", f, info, s3, "the interruption type must not be 1 (reserved), nor 7 without the monitor trap flag");
        if ((type == 2 && vector != 2) || (type == 3 && vector > 31) || (type == 7 && vector != 0))
            return Fail(ControlFields, "control.injection.vector", f, info, s3, "an NMI must have vector 2, a hardware exception a vector below 32, an other event vector 0");
        bool unrestricted = (proc2 & SecondaryProcessorBasedControls.UnrestrictedGuest) != 0;
        bool protectedGuest = !unrestricted || (F(VmcsField.GuestCr0) & Cr0.PE) != 0;
        bool needsError = protectedGuest && type == 3 && vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;
        bool errorOk = caps.AnyVectorErrorCodeInjection
            ? !deliverError || (protectedGuest && type == 3)
            : deliverError == needsError;
        if (!errorOk)
            return Fail(ControlFields, "control.injection.deliver-error-code", f, info, s3, "\"deliver error code\" must be 1 exactly for hardware exceptions that push one (#DF, #TS, #NP, #SS, #GP, #PF, #AC) in protected mode");
        if ((info & 0x7FFF_F000) != 0)
            return Fail(ControlFields, "control.injection.reserved", f, info, s3, "bits 30:12 of the VM-entry interruption information must be 0");
        // Bits 31:16, as processors check: error codes are 16-bit values (older SDM revisions said
        // 31:15 in error; Linux KVM commit 567926cca99b "Fix consistency check on injected exception error code").
        if (deliverError && (F(VmcsField.VmEntryExceptionErrorCode) & 0xFFFF_0000) != 0)
            return Fail(ControlFields, "control.injection.error-code-reserved", VmcsField.VmEntryExceptionErrorCode, F(VmcsField.VmEntryExceptionErrorCode), s3, "bits 31:16 of the injected error code must be 0");
        if (type is 4 or 5 or 6)
        {
            ulong len = F(VmcsField.VmEntryInstructionLength);
            if (len > 15 || (len == 0 && !caps.ZeroLengthSoftwareEventInjection))
                return Fail(ControlFields, "control.injection.instruction-length", VmcsField.VmEntryInstructionLength, len, s3, "software interrupts and exceptions need an instruction length of 1..15 (0 if IA32_VMX_MISC[30])");
        }
        _ = proc;
        return true;
    }

    /// <summary>Checks on the host-state area (SDM Vol. 3C, 26.2.2-26.2.4): any failure is VMfailValid(8).</summary>
    private bool CheckHostState()
    {
        uint exit = (uint)F(VmcsField.VmExitControls), entry = (uint)F(VmcsField.VmEntryControls);
        bool hostLong = (exit & ExitControls.HostAddressSpaceSize) != 0;
        ulong cr0 = F(VmcsField.HostCr0), cr3 = F(VmcsField.HostCr3), cr4 = F(VmcsField.HostCr4);
        const string s2 = "26.2.2", s3 = "26.2.3", s4 = "26.2.4";
        if (!Cr0FixedOk(cr0)) return Fail(HostState, "host.cr0.fixed-bits", VmcsField.HostCr0, cr0, s2, "host CR0 must obey IA32_VMX_CR0_FIXED0/FIXED1");
        if (!Cr4FixedOk(cr4)) return Fail(HostState, "host.cr4.fixed-bits", VmcsField.HostCr4, cr4, s2, "host CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1");
        if ((cr4 & Cr4.CET) != 0 && (cr0 & Cr0.WP) == 0) return Fail(HostState, "host.cr4.cet-needs-wp", VmcsField.HostCr4, cr4, s2, "CR4.CET = 1 requires CR0.WP = 1");
        if (!PhysOk(cr3)) return Fail(HostState, "host.cr3.width", VmcsField.HostCr3, cr3, s2, "host CR3 must not set bits at or above MAXPHYADDR");
        if (!IsCanonicalLoad(F(VmcsField.HostSysenterEsp))) return Fail(HostState, "host.sysenter-esp.canonical", VmcsField.HostSysenterEsp, F(VmcsField.HostSysenterEsp), s2, "host IA32_SYSENTER_ESP must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.HostSysenterEip))) return Fail(HostState, "host.sysenter-eip.canonical", VmcsField.HostSysenterEip, F(VmcsField.HostSysenterEip), s2, "host IA32_SYSENTER_EIP must be canonical");
        if ((exit & ExitControls.LoadPat) != 0 && !ValidPat(F(VmcsField.HostPat)))
            return Fail(HostState, "host.pat", VmcsField.HostPat, F(VmcsField.HostPat), s2, "each host IA32_PAT byte must be a valid memory type (0, 1, 4, 5, 6, 7)");
        if ((exit & ExitControls.LoadEfer) != 0)
        {
            ulong efer = F(VmcsField.HostEfer);
            bool lma = (efer & Efer.LMA) != 0, lme = (efer & Efer.LME) != 0;
            if ((efer & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) != 0 || lma != hostLong || lme != hostLong)
                return Fail(HostState, "host.efer", VmcsField.HostEfer, efer, s2, "host IA32_EFER reserved bits must be 0 and LMA, LME must equal \"host address-space size\"");
        }
        foreach (var sf in HostSelectors)
            if ((F(sf) & 7) != 0) return Fail(HostState, "host.selector.rpl-ti", sf, F(sf), s3, "host selectors must have RPL = 0 and TI = 0");
        if (F(VmcsField.HostCsSelector) == 0) return Fail(HostState, "host.cs.nonzero", VmcsField.HostCsSelector, 0, s3, "the host CS selector must not be 0000h");
        if (F(VmcsField.HostTrSelector) == 0) return Fail(HostState, "host.tr.nonzero", VmcsField.HostTrSelector, 0, s3, "the host TR selector must not be 0000h");
        if (!hostLong && F(VmcsField.HostSsSelector) == 0) return Fail(HostState, "host.ss.nonzero", VmcsField.HostSsSelector, 0, s3, "the host SS selector must not be 0000h unless the host is 64-bit");
        foreach (var bf in HostBases)
            if (!IsCanonicalLoad(F(bf))) return Fail(HostState, "host.base.canonical", bf, F(bf), s3, "host FS, GS, GDTR, IDTR and TR bases must be canonical");
        bool inLong = (_efer & Efer.LMA) != 0;
        if (!inLong && ((entry & EntryControls.Ia32eModeGuest) != 0 || hostLong))
            return Fail(HostState, "host.address-space.outside-ia32e", VmcsField.VmExitControls, exit, s4, "outside IA-32e mode \"IA-32e mode guest\" and \"host address-space size\" must be 0");
        if (inLong && !hostLong)
            return Fail(HostState, "host.address-space.ia32e", VmcsField.VmExitControls, exit, s4, "in IA-32e mode \"host address-space size\" must be 1");
        ulong rip = F(VmcsField.HostRip);
        if (!hostLong)
        {
            if ((entry & EntryControls.Ia32eModeGuest) != 0) return Fail(HostState, "host.address-space.guest-needs-64-bit-host", VmcsField.VmEntryControls, entry, s4, "an IA-32e mode guest needs a 64-bit host");
            if ((cr4 & Cr4.PCIDE) != 0) return Fail(HostState, "host.cr4.pcide", VmcsField.HostCr4, cr4, s4, "a 32-bit host must have CR4.PCIDE = 0");
            if ((rip >> 32) != 0) return Fail(HostState, "host.rip.32-bit", VmcsField.HostRip, rip, s4, "a 32-bit host's RIP bits 63:32 must be 0");
        }
        else
        {
            if ((cr4 & Cr4.PAE) == 0) return Fail(HostState, "host.cr4.pae", VmcsField.HostCr4, cr4, s4, "a 64-bit host must have CR4.PAE = 1");
            if (!IsCanonicalBits(rip, (cr4 & Cr4.LA57) != 0 ? 57 : 48)) return Fail(HostState, "host.rip.canonical", VmcsField.HostRip, rip, s4, "a 64-bit host's RIP must be canonical");
        }
        return true;
    }

    private static bool ValidPat(ulong pat)
    {
        for (int i = 0; i < 8; i++)
            if (((pat >> (i * 8)) & 0xFF) is 2 or 3 or > 7) return false;
        return true;
    }

    private static readonly VmcsField[] HostSelectors =
        [VmcsField.HostEsSelector, VmcsField.HostCsSelector, VmcsField.HostSsSelector, VmcsField.HostDsSelector, VmcsField.HostFsSelector, VmcsField.HostGsSelector, VmcsField.HostTrSelector];
    private static readonly VmcsField[] HostBases = [VmcsField.HostFsBase, VmcsField.HostGsBase, VmcsField.HostGdtrBase, VmcsField.HostIdtrBase, VmcsField.HostTrBase];
    private static readonly VmcsField[] GuestPdpteFields = [VmcsField.GuestPdpte0, VmcsField.GuestPdpte1, VmcsField.GuestPdpte2, VmcsField.GuestPdpte3];
    private static readonly int[] StackAndDataSegments = [2, 3, 0];   // SS, DS, ES
    private static readonly int[] DataSegments = [3, 0, 4, 5];        // DS, ES, FS, GS

    private static readonly (VmcsField Sel, VmcsField Base, VmcsField Limit, VmcsField Ar, string Name)[] GuestSegments =
    [
        (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights, "es"),
        (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights, "cs"),
        (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights, "ss"),
        (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights, "ds"),
        (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights, "fs"),
        (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights, "gs"),
    ];

    private bool GFail(string check, VmcsField field, ulong value, string section, string description, uint qualification = 0) =>
        Fail(GuestState, check, field, value, section, description, qualification);

    /// <summary>Checks on the guest-state area (SDM Vol. 3C, 26.3.1): a failure is a VM-entry failure with exit reason 33.</summary>
    private bool CheckGuestState(out PaePdptes pdptes)
    {
        pdptes = default;
        var caps = Model.Vmx!;
        uint entry = (uint)F(VmcsField.VmEntryControls);
        uint proc = (uint)F(VmcsField.PrimaryProcBasedVmExecControls);
        uint proc2 = (proc & PrimaryProcessorBasedControls.ActivateSecondaryControls) != 0 ? (uint)F(VmcsField.SecondaryProcBasedVmExecControls) : 0;
        uint pin = (uint)F(VmcsField.PinBasedVmExecControls);
        bool ia32e = (entry & EntryControls.Ia32eModeGuest) != 0;
        bool unrestricted = (proc2 & SecondaryProcessorBasedControls.UnrestrictedGuest) != 0;
        ulong cr0 = F(VmcsField.GuestCr0), cr3 = F(VmcsField.GuestCr3), cr4 = F(VmcsField.GuestCr4);
        ulong rflags = F(VmcsField.GuestRflags);
        const string s1 = "26.3.1.1", s2 = "26.3.1.2", s3 = "26.3.1.3", s4 = "26.3.1.4", s5 = "26.3.1.5";

        // 26.3.1.1 control registers, debug registers and MSRs.
        ulong cr0Check = unrestricted ? cr0 | Cr0.PE | Cr0.PG : cr0;
        if (!Cr0FixedOk(cr0Check)) return GFail("guest.cr0.fixed-bits", VmcsField.GuestCr0, cr0, s1, "guest CR0 must obey IA32_VMX_CR0_FIXED0/FIXED1 (PE and PG exempt with unrestricted guest)");
        if ((cr0 & Cr0.PG) != 0 && (cr0 & Cr0.PE) == 0) return GFail("guest.cr0.pg-needs-pe", VmcsField.GuestCr0, cr0, s1, "guest CR0.PG = 1 requires CR0.PE = 1");
        if (!Cr4FixedOk(cr4)) return GFail("guest.cr4.fixed-bits", VmcsField.GuestCr4, cr4, s1, "guest CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1");
        if ((cr4 & Cr4.CET) != 0 && (cr0 & Cr0.WP) == 0) return GFail("guest.cr4.cet-needs-wp", VmcsField.GuestCr4, cr4, s1, "CR4.CET = 1 requires CR0.WP = 1");
        if ((entry & EntryControls.LoadDebugControls) != 0 && (F(VmcsField.GuestDr7) >> 32) != 0)
            return GFail("guest.dr7.upper", VmcsField.GuestDr7, F(VmcsField.GuestDr7), s1, "with \"load debug controls\" DR7 bits 63:32 must be 0");
        if ((entry & EntryControls.LoadDebugControls) != 0 && (F(VmcsField.GuestDebugCtl) & ~DebugCtlSupported) != 0)
            return GFail("guest.debugctl.reserved", VmcsField.GuestDebugCtl, F(VmcsField.GuestDebugCtl), s1, "with \"load debug controls\" the IA32_DEBUGCTL bits this processor reserves must be 0");
        if (ia32e && ((cr0 & Cr0.PG) == 0 || (cr4 & Cr4.PAE) == 0)) return GFail("guest.ia32e.paging", VmcsField.GuestCr4, cr4, s1, "an IA-32e mode guest needs CR0.PG = 1 and CR4.PAE = 1");
        if (!ia32e && (cr4 & Cr4.PCIDE) != 0) return GFail("guest.cr4.pcide", VmcsField.GuestCr4, cr4, s1, "CR4.PCIDE must be 0 unless the guest is in IA-32e mode");
        if (!PhysOk(cr3)) return GFail("guest.cr3.width", VmcsField.GuestCr3, cr3, s1, "guest CR3 must not set bits at or above MAXPHYADDR");
        if (!IsCanonicalLoad(F(VmcsField.GuestSysenterEsp))) return GFail("guest.sysenter-esp.canonical", VmcsField.GuestSysenterEsp, F(VmcsField.GuestSysenterEsp), s1, "guest IA32_SYSENTER_ESP must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.GuestSysenterEip))) return GFail("guest.sysenter-eip.canonical", VmcsField.GuestSysenterEip, F(VmcsField.GuestSysenterEip), s1, "guest IA32_SYSENTER_EIP must be canonical");
        if ((entry & EntryControls.LoadPat) != 0 && !ValidPat(F(VmcsField.GuestPat)))
            return GFail("guest.pat", VmcsField.GuestPat, F(VmcsField.GuestPat), s1, "each guest IA32_PAT byte must be a valid memory type");
        if ((entry & EntryControls.LoadEfer) != 0)
        {
            ulong efer = F(VmcsField.GuestEfer);
            bool lma = (efer & Efer.LMA) != 0;
            if ((efer & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) != 0 || lma != ia32e || ((cr0 & Cr0.PG) != 0 && ((efer & Efer.LME) != 0) != lma))
                return GFail("guest.efer", VmcsField.GuestEfer, efer, s1, "guest IA32_EFER reserved bits must be 0, LMA must equal \"IA-32e mode guest\", and with CR0.PG LME must equal LMA");
        }

        // 26.3.1.2 segment registers.
        bool v86 = (rflags & (ulong)RFlags.VM) != 0;
        var segs = new SegmentCache[6];
        for (int i = 0; i < 6; i++)
        {
            var g = GuestSegments[i];
            segs[i] = new SegmentCache((ushort)F(g.Sel), F(g.Base), (uint)F(g.Limit), (uint)F(g.Ar));
        }
        var tr = new SegmentCache((ushort)F(VmcsField.GuestTrSelector), F(VmcsField.GuestTrBase), (uint)F(VmcsField.GuestTrLimit), (uint)F(VmcsField.GuestTrAccessRights));
        var ldtr = new SegmentCache((ushort)F(VmcsField.GuestLdtrSelector), F(VmcsField.GuestLdtrBase), (uint)F(VmcsField.GuestLdtrLimit), (uint)F(VmcsField.GuestLdtrAccessRights));
        if ((tr.Selector & 4) != 0) return GFail("guest.tr.ti", VmcsField.GuestTrSelector, tr.Selector, s2, "the TR selector's TI flag must be 0");
        if (!ldtr.IsUnusable && (ldtr.Selector & 4) != 0) return GFail("guest.ldtr.ti", VmcsField.GuestLdtrSelector, ldtr.Selector, s2, "a usable LDTR selector's TI flag must be 0");
        var cs = segs[1];
        var ss = segs[2];
        if (!v86 && !unrestricted && (ss.Selector & 3) != (cs.Selector & 3))
            return GFail("guest.ss.rpl", VmcsField.GuestSsSelector, ss.Selector, s2, "SS.RPL must equal CS.RPL (unless virtual-8086 or unrestricted guest)");
        if (v86)
        {
            for (int i = 0; i < 6; i++)
            {
                var g = GuestSegments[i];
                var sc = segs[i];
                if (sc.Base != (ulong)sc.Selector << 4) return GFail($"guest.{g.Name}.v86-base", g.Base, sc.Base, s2, "in virtual-8086 mode a segment base must be the selector shifted left 4");
                if (sc.Limit != 0xFFFF) return GFail($"guest.{g.Name}.v86-limit", g.Limit, sc.Limit, s2, "in virtual-8086 mode a segment limit must be FFFFh");
                if (sc.AccessRights != 0xF3) return GFail($"guest.{g.Name}.v86-access-rights", g.Ar, sc.AccessRights, s2, "in virtual-8086 mode access rights must be 000000F3h");
            }
        }
        if (!IsCanonicalLoad(tr.Base)) return GFail("guest.tr.base", VmcsField.GuestTrBase, tr.Base, s2, "the TR base must be canonical");
        if (!IsCanonicalLoad(segs[4].Base)) return GFail("guest.fs.base", VmcsField.GuestFsBase, segs[4].Base, s2, "the FS base must be canonical");
        if (!IsCanonicalLoad(segs[5].Base)) return GFail("guest.gs.base", VmcsField.GuestGsBase, segs[5].Base, s2, "the GS base must be canonical");
        if (!ldtr.IsUnusable && !IsCanonicalLoad(ldtr.Base)) return GFail("guest.ldtr.base", VmcsField.GuestLdtrBase, ldtr.Base, s2, "a usable LDTR base must be canonical");
        if ((cs.Base >> 32) != 0) return GFail("guest.cs.base", VmcsField.GuestCsBase, cs.Base, s2, "CS base bits 63:32 must be 0");
        foreach (int i in StackAndDataSegments)
            if (!segs[i].IsUnusable && (segs[i].Base >> 32) != 0)
                return GFail($"guest.{GuestSegments[i].Name}.base", GuestSegments[i].Base, segs[i].Base, s2, "usable SS, DS, ES bases must have bits 63:32 = 0");
        if (!v86)
        {
            // Access rights: CS always; the others when usable.
            int csType = cs.Type;
            bool csOk = csType is 9 or 11 or 13 or 15 || (unrestricted && csType == 3);
            if (!csOk) return GFail("guest.cs.type", VmcsField.GuestCsAccessRights, cs.AccessRights, s2, "CS must be an accessed code segment (type 9, 11, 13 or 15; 3 with unrestricted guest)");
            if (!ss.IsUnusable && ss.Type is not (3 or 7)) return GFail("guest.ss.type", VmcsField.GuestSsAccessRights, ss.AccessRights, s2, "a usable SS must be a read/write accessed data segment (type 3 or 7)");
            foreach (int i in DataSegments)
            {
                var sc = segs[i];
                if (sc.IsUnusable) continue;
                if ((sc.Type & 1) == 0 || ((sc.Type & 8) != 0 && (sc.Type & 2) == 0))
                    return GFail($"guest.{GuestSegments[i].Name}.type", GuestSegments[i].Ar, sc.AccessRights, s2, "a usable data segment must be accessed, and a code segment also readable");
            }
            for (int i = 0; i < 6; i++)
            {
                var sc = segs[i];
                var g = GuestSegments[i];
                if (i != 1 && sc.IsUnusable) continue;
                if ((sc.AccessRights & SegmentCache.S) == 0) return GFail($"guest.{g.Name}.s", g.Ar, sc.AccessRights, s2, "code and data segments must have S = 1");
                if (!sc.Present) return GFail($"guest.{g.Name}.present", g.Ar, sc.AccessRights, s2, "usable segments must be present");
                if ((sc.AccessRights & 0xFFFE_0F00) != 0) return GFail($"guest.{g.Name}.reserved", g.Ar, sc.AccessRights, s2, "access-rights bits 11:8 and 31:17 must be 0");
                if (!GranularityOk(sc.Limit, sc.AccessRights)) return GFail($"guest.{g.Name}.granularity", g.Ar, sc.AccessRights, s2, "G must be 1 if any of limit[31:20] is 1, and 0 unless limit[11:0] are all 1");
            }
            if (csType == 3 && cs.Dpl != 0) return GFail("guest.cs.dpl", VmcsField.GuestCsAccessRights, cs.AccessRights, s2, "a type-3 CS (unrestricted guest) must have DPL 0");
            if (csType is 9 or 11 && cs.Dpl != ss.Dpl) return GFail("guest.cs.dpl", VmcsField.GuestCsAccessRights, cs.AccessRights, s2, "a non-conforming CS's DPL must equal SS.DPL");
            if (csType is 13 or 15 && cs.Dpl > ss.Dpl) return GFail("guest.cs.dpl", VmcsField.GuestCsAccessRights, cs.AccessRights, s2, "a conforming CS's DPL must not exceed SS.DPL");
            if (!unrestricted && ss.Dpl != (ss.Selector & 3)) return GFail("guest.ss.dpl", VmcsField.GuestSsAccessRights, ss.AccessRights, s2, "SS.DPL must equal SS.RPL (unless unrestricted guest)");
            if ((csType == 3 || (cr0 & Cr0.PE) == 0) && ss.Dpl != 0) return GFail("guest.ss.dpl-zero", VmcsField.GuestSsAccessRights, ss.AccessRights, s2, "SS.DPL must be 0 with a type-3 CS or CR0.PE = 0");
            if (!unrestricted)
                foreach (int i in DataSegments)
                {
                    var sc = segs[i];
                    if (!sc.IsUnusable && sc.Type <= 11 && sc.Dpl < (sc.Selector & 3))
                        return GFail($"guest.{GuestSegments[i].Name}.dpl", GuestSegments[i].Ar, sc.AccessRights, s2, "a data or non-conforming code segment's DPL must not be below its RPL");
                }
            if (ia32e && cs.Long && cs.Big) return GFail("guest.cs.l-and-db", VmcsField.GuestCsAccessRights, cs.AccessRights, s2, "CS.D/B must be 0 when CS.L = 1 in an IA-32e mode guest");
        }
        // TR and LDTR.
        bool trTypeOk = tr.Type == 11 || (!ia32e && tr.Type == 3);
        if (tr.IsUnusable || !trTypeOk) return GFail("guest.tr.type", VmcsField.GuestTrAccessRights, tr.AccessRights, s2, "TR must be usable and a busy TSS (type 11, or 3 outside IA-32e mode)");
        if ((tr.AccessRights & SegmentCache.S) != 0 || !tr.Present || (tr.AccessRights & 0xFFFE_0F00) != 0 || !GranularityOk(tr.Limit, tr.AccessRights))
            return GFail("guest.tr.access-rights", VmcsField.GuestTrAccessRights, tr.AccessRights, s2, "TR must be a present system segment with reserved bits 0 and consistent granularity");
        if (!ldtr.IsUnusable && (ldtr.Type != 2 || (ldtr.AccessRights & SegmentCache.S) != 0 || !ldtr.Present || (ldtr.AccessRights & 0xFFFE_0F00) != 0 || !GranularityOk(ldtr.Limit, ldtr.AccessRights)))
            return GFail("guest.ldtr.access-rights", VmcsField.GuestLdtrAccessRights, ldtr.AccessRights, s2, "a usable LDTR must be a present LDT descriptor (type 2, S = 0) with consistent granularity");

        // 26.3.1.3 descriptor-table registers.
        if (!IsCanonicalLoad(F(VmcsField.GuestGdtrBase))) return GFail("guest.gdtr.base", VmcsField.GuestGdtrBase, F(VmcsField.GuestGdtrBase), s3, "the GDTR base must be canonical");
        if (!IsCanonicalLoad(F(VmcsField.GuestIdtrBase))) return GFail("guest.idtr.base", VmcsField.GuestIdtrBase, F(VmcsField.GuestIdtrBase), s3, "the IDTR base must be canonical");
        if (F(VmcsField.GuestGdtrLimit) > 0xFFFF) return GFail("guest.gdtr.limit", VmcsField.GuestGdtrLimit, F(VmcsField.GuestGdtrLimit), s3, "GDTR limit bits 31:16 must be 0");
        if (F(VmcsField.GuestIdtrLimit) > 0xFFFF) return GFail("guest.idtr.limit", VmcsField.GuestIdtrLimit, F(VmcsField.GuestIdtrLimit), s3, "IDTR limit bits 31:16 must be 0");

        // 26.3.1.4 RIP and RFLAGS.
        ulong rip = F(VmcsField.GuestRip);
        bool code64 = ia32e && cs.Long;
        if (!code64 && (rip >> 32) != 0) return GFail("guest.rip.upper", VmcsField.GuestRip, rip, s4, "RIP bits 63:32 must be 0 outside 64-bit mode");
        if (code64 && !IsCanonicalLoad(rip)) return GFail("guest.rip.canonical", VmcsField.GuestRip, rip, s4, "RIP must be canonical in 64-bit mode");
        if ((rflags & 0xFFFF_FFFF_FFC0_8028UL) != 0 || (rflags & 2) == 0) return GFail("guest.rflags.reserved", VmcsField.GuestRflags, rflags, s4, "RFLAGS bits 63:22, 15, 5, 3 must be 0 and bit 1 must be 1");
        if (v86 && (ia32e || (cr0 & Cr0.PE) == 0)) return GFail("guest.rflags.vm", VmcsField.GuestRflags, rflags, s4, "RFLAGS.VM must be 0 in an IA-32e mode guest or with CR0.PE = 0");
        uint injInfo = (uint)F(VmcsField.VmEntryInterruptionInformation);
        bool injecting = (injInfo & 0x8000_0000) != 0;
        uint injType = (injInfo >> 8) & 7;
        if (injecting && injType == 0 && (rflags & (ulong)RFlags.IF) == 0)
            return GFail("guest.rflags.if-for-external-interrupt", VmcsField.GuestRflags, rflags, s4, "RFLAGS.IF must be 1 when injecting an external interrupt");

        // 26.3.1.5 non-register state.
        ulong activity = F(VmcsField.GuestActivityState);
        bool activityOffered = activity switch { 0 => true, 1 => caps.ActivityHlt, 2 => caps.ActivityShutdown, 3 => caps.ActivityWaitForSipi, _ => false };
        if (!activityOffered) return GFail("guest.activity.supported", VmcsField.GuestActivityState, activity, s5, "the activity state must be 0..3 and offered by IA32_VMX_MISC[8:6]");
        if (activity == 1 && ss.Dpl != 0) return GFail("guest.activity.hlt-needs-cpl0", VmcsField.GuestActivityState, activity, s5, "the HLT activity state needs SS.DPL = 0");
        ulong intr = F(VmcsField.GuestInterruptibilityState);
        if ((intr & 3) != 0 && activity != 0) return GFail("guest.activity.blocking-needs-active", VmcsField.GuestActivityState, activity, s5, "blocking by STI or MOV SS requires the active state");
        if (injecting)
        {
            uint vec = injInfo & 0xFF;
            bool allowed = activity switch
            {
                0 => true,
                1 => injType is 0 or 2 || (injType == 3 && vec is 1 or 18) || (injType == 7 && vec == 0),
                2 => injType == 2 || (injType == 3 && vec == 18),
                _ => false,
            };
            if (!allowed) return GFail("guest.activity.injection", VmcsField.GuestActivityState, activity, s5, "the event injected is not allowed in this activity state (HLT: interrupts, NMI, #DB, #MC, MTF; shutdown: NMI, #MC; wait-for-SIPI: none)");
        }
        if ((intr & ~0xFUL) != 0) return GFail("guest.interruptibility.reserved", VmcsField.GuestInterruptibilityState, intr, s5, "interruptibility bits 31:4 must be 0 (no SGX)");
        if ((intr & 3) == 3) return GFail("guest.interruptibility.sti-and-mov-ss", VmcsField.GuestInterruptibilityState, intr, s5, "blocking by STI and by MOV SS cannot both be set");
        if ((intr & 1) != 0 && (rflags & (ulong)RFlags.IF) == 0) return GFail("guest.interruptibility.sti-needs-if", VmcsField.GuestInterruptibilityState, intr, s5, "blocking by STI requires RFLAGS.IF = 1");
        if (injecting && injType == 0 && (intr & 3) != 0) return GFail("guest.interruptibility.external-interrupt-injection", VmcsField.GuestInterruptibilityState, intr, s5, "injecting an external interrupt requires no blocking by STI or MOV SS");
        if (injecting && injType == 2 && (intr & 2) != 0) return GFail("guest.interruptibility.nmi-injection-mov-ss", VmcsField.GuestInterruptibilityState, intr, s5, "injecting an NMI requires no blocking by MOV SS");
        if ((intr & 4) != 0) return GFail("guest.interruptibility.smi", VmcsField.GuestInterruptibilityState, intr, s5, "blocking by SMI must be 0 outside SMM");
        if (injecting && injType == 2 && (pin & PinBasedControls.VirtualNmis) != 0 && (intr & 8) != 0)
            return GFail("guest.interruptibility.nmi-injection-virtual-nmi-blocking", VmcsField.GuestInterruptibilityState, intr, s5, "with virtual NMIs, injecting an NMI requires no virtual-NMI blocking");
        ulong pdbg = F(VmcsField.GuestPendingDebugExceptions);
        if ((pdbg & ~0x1_500FUL) != 0) return GFail("guest.pending-debug.reserved", VmcsField.GuestPendingDebugExceptions, pdbg, s5, "pending debug exceptions bits 11:4, 13, 15 and 63:17 must be 0");
        if ((intr & 3) != 0 || activity == 1)
        {
            bool tf = (rflags & (ulong)RFlags.TF) != 0, btf = (F(VmcsField.GuestDebugCtl) & 2) != 0;
            bool bs = (pdbg & 0x4000) != 0;
            if (tf && !btf && !bs) return GFail("guest.pending-debug.bs-set", VmcsField.GuestPendingDebugExceptions, pdbg, s5, "with STI/MOV SS blocking or HLT, BS must be 1 when RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0");
            if ((!tf || btf) && bs) return GFail("guest.pending-debug.bs-clear", VmcsField.GuestPendingDebugExceptions, pdbg, s5, "with STI/MOV SS blocking or HLT, BS must be 0 when RFLAGS.TF = 0 or BTF = 1");
        }
        if ((pdbg & 0x1_0000) != 0) return GFail("guest.pending-debug.rtm", VmcsField.GuestPendingDebugExceptions, pdbg, s5, "the RTM bit needs RTM, which the model does not offer");
        ulong link = F(VmcsField.VmcsLinkPointer);
        if (link != ulong.MaxValue)
        {
            bool shadowing = (proc2 & SecondaryProcessorBasedControls.VmcsShadowing) != 0;
            uint rev = (link & 0xFFF) == 0 && PhysOk(link) ? (uint)ReadPhysical(link, 4) : 0;
            if ((link & 0xFFF) != 0 || !PhysOk(link) || (rev & 0x7FFF_FFFF) != caps.RevisionId || ((rev >> 31) != 0) != shadowing || link == _currentVmcs)
                return GFail("guest.vmcs-link-pointer", VmcsField.VmcsLinkPointer, link, s5, "the VMCS link pointer must be FFFFFFFF_FFFFFFFFh or name a 4-KiB aligned VMCS (shadow iff VMCS shadowing) other than the current one", 4);
        }

        // 26.3.1.6 PDPTEs: under PAE paging (not IA-32e) the four PDPTEs are loaded from CR3 and checked.
        if ((cr0 & Cr0.PG) != 0 && (cr4 & Cr4.PAE) != 0 && !ia32e)
        {
            if ((proc2 & SecondaryProcessorBasedControls.EnableEpt) != 0)
            {
                // With EPT the PDPTEs come from the guest-state fields (26.3.1.6).
                pdptes = new PaePdptes(F(VmcsField.GuestPdpte0), F(VmcsField.GuestPdpte1), F(VmcsField.GuestPdpte2), F(VmcsField.GuestPdpte3));
                foreach (var pf in GuestPdpteFields)
                    if (PaePdptes.HasReservedBits(F(pf), Model.PhysicalAddressBits))
                        return GFail("guest.pdpte-fields", pf, F(pf), "26.3.1.6", "with EPT, a present guest PDPTE field sets a reserved bit", 2);
            }
            else if (!PageWalker.LoadPdptes(new PhysicalMemoryAccess(_mem), cr3, Model.PhysicalAddressBits, out pdptes))
                return GFail("guest.pdptes", VmcsField.GuestCr3, cr3, "26.3.1.6", "a present PDPTE referenced by guest CR3 sets a reserved bit", 2);
        }
        return true;
    }

    /// <summary>The limit/granularity consistency of SDM Vol. 3C, 26.3.1.2: limit[11:0] not all ones needs G = 0; any of limit[31:20] set needs G = 1.</summary>
    private static bool GranularityOk(uint limit, uint ar)
    {
        bool g = (ar & SegmentCache.G) != 0;
        if ((limit & 0xFFF) != 0xFFF && g) return false;
        if ((limit & 0xFFF0_0000) != 0 && !g) return false;
        return true;
    }
}
