namespace Vtx.Vmx;

/// <summary>The VM-execution, VM-exit and VM-entry control fields whose allowed settings the capability MSRs report (SDM Vol. 3C, Appendix A.3-A.5).</summary>
public enum VmxControlKind
{
    /// <summary>Pin-based VM-execution controls (field 4000h; IA32_VMX_PINBASED_CTLS / IA32_VMX_TRUE_PINBASED_CTLS, SDM A.3.1).</summary>
    PinBased,
    /// <summary>Primary processor-based VM-execution controls (field 4002h; IA32_VMX_PROCBASED_CTLS / IA32_VMX_TRUE_PROCBASED_CTLS, SDM A.3.2).</summary>
    PrimaryProcessorBased,
    /// <summary>Secondary processor-based VM-execution controls (field 401Eh; IA32_VMX_PROCBASED_CTLS2, SDM A.3.3).</summary>
    SecondaryProcessorBased,
    /// <summary>Primary VM-exit controls (field 400Ch; IA32_VMX_EXIT_CTLS / IA32_VMX_TRUE_EXIT_CTLS, SDM A.4.1).</summary>
    Exit,
    /// <summary>VM-entry controls (field 4012h; IA32_VMX_ENTRY_CTLS / IA32_VMX_TRUE_ENTRY_CTLS, SDM A.5).</summary>
    Entry,
}

/// <summary>Pin-based VM-execution control bits, field 4000h (SDM Vol. 3C, 24.6.1).</summary>
public static class PinBasedControls
{
    /// <summary>Bit 0: external interrupts cause VM exits (reason 1) instead of guest delivery; RFLAGS.IF does not mask them (SDM Vol. 3C, 24.6.1).</summary>
    public const uint ExternalInterruptExiting = 1u << 0;
    /// <summary>Bit 3: NMIs cause VM exits (reason 0) (SDM Vol. 3C, 24.6.1).</summary>
    public const uint NmiExiting = 1u << 3;
    /// <summary>Bit 5: virtual NMIs (requires NMI exiting) (SDM Vol. 3C, 24.6.1).</summary>
    public const uint VirtualNmis = 1u << 5;
    /// <summary>Bit 6: activate the VMX-preemption timer (SDM Vol. 3C, 24.6.1).</summary>
    public const uint ActivatePreemptionTimer = 1u << 6;
    /// <summary>Bit 7: process posted interrupts (SDM Vol. 3C, 24.6.1).</summary>
    public const uint ProcessPostedInterrupts = 1u << 7;
    /// <summary>The default1 class: reserved bits 1, 2 and 4, reported as must-be-1 by IA32_VMX_PINBASED_CTLS (SDM Vol. 3C, A.2, A.3.1).</summary>
    public const uint Default1 = 0x0000_0016;
}

/// <summary>Primary processor-based VM-execution control bits, field 4002h (SDM Vol. 3C, 24.6.2).</summary>
public static class PrimaryProcessorBasedControls
{
    /// <summary>Bit 2: interrupt-window exiting (exit reason 7) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint InterruptWindowExiting = 1u << 2;
    /// <summary>Bit 3: use TSC offsetting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UseTscOffsetting = 1u << 3;
    /// <summary>Bit 7: HLT exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint HltExiting = 1u << 7;
    /// <summary>Bit 9: INVLPG exiting (also governs INVPCID when "enable INVPCID" is 1) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint InvlpgExiting = 1u << 9;
    /// <summary>Bit 10: MWAIT exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint MwaitExiting = 1u << 10;
    /// <summary>Bit 11: RDPMC exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint RdpmcExiting = 1u << 11;
    /// <summary>Bit 12: RDTSC exiting (also RDTSCP when enabled) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint RdtscExiting = 1u << 12;
    /// <summary>Bit 15: CR3-load exiting (default1 in IA32_VMX_PROCBASED_CTLS) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint Cr3LoadExiting = 1u << 15;
    /// <summary>Bit 16: CR3-store exiting (default1 in IA32_VMX_PROCBASED_CTLS) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint Cr3StoreExiting = 1u << 16;
    /// <summary>Bit 17: activate tertiary controls (SDM Vol. 3C, 24.6.2).</summary>
    public const uint ActivateTertiaryControls = 1u << 17;
    /// <summary>Bit 19: CR8-load exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint Cr8LoadExiting = 1u << 19;
    /// <summary>Bit 20: CR8-store exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint Cr8StoreExiting = 1u << 20;
    /// <summary>Bit 21: use TPR shadow (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UseTprShadow = 1u << 21;
    /// <summary>Bit 22: NMI-window exiting (exit reason 8) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint NmiWindowExiting = 1u << 22;
    /// <summary>Bit 23: MOV-DR exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint MovDrExiting = 1u << 23;
    /// <summary>Bit 24: unconditional I/O exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UnconditionalIoExiting = 1u << 24;
    /// <summary>Bit 25: use I/O bitmaps (overrides unconditional I/O exiting) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UseIoBitmaps = 1u << 25;
    /// <summary>Bit 27: monitor trap flag (SDM Vol. 3C, 24.6.2).</summary>
    public const uint MonitorTrapFlag = 1u << 27;
    /// <summary>Bit 28: use MSR bitmaps (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UseMsrBitmaps = 1u << 28;
    /// <summary>Bit 29: MONITOR exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint MonitorExiting = 1u << 29;
    /// <summary>Bit 30: PAUSE exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint PauseExiting = 1u << 30;
    /// <summary>Bit 31: activate secondary controls (SDM Vol. 3C, 24.6.2).</summary>
    public const uint ActivateSecondaryControls = 1u << 31;
    /// <summary>
    /// The default1 class: reserved bits 1, 4-6, 8, 13, 14 and 26 plus CR3-load/CR3-store exiting (15, 16),
    /// reported as must-be-1 by IA32_VMX_PROCBASED_CTLS (SDM Vol. 3C, A.2, A.3.2). The TRUE MSR may allow 15 and 16 to be 0.
    /// </summary>
    public const uint Default1 = 0x0401_E172;
}

/// <summary>Secondary processor-based VM-execution control bits, field 401Eh (SDM Vol. 3C, 24.6.2).</summary>
public static class SecondaryProcessorBasedControls
{
    /// <summary>Bit 0: virtualize APIC accesses (SDM Vol. 3C, 24.6.2).</summary>
    public const uint VirtualizeApicAccesses = 1u << 0;
    /// <summary>Bit 1: enable EPT (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableEpt = 1u << 1;
    /// <summary>Bit 2: descriptor-table exiting (LGDT/LIDT/SGDT/SIDT reason 46; LLDT/LTR/SLDT/STR reason 47) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint DescriptorTableExiting = 1u << 2;
    /// <summary>Bit 3: enable RDTSCP (otherwise RDTSCP raises #UD) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableRdtscp = 1u << 3;
    /// <summary>Bit 4: virtualize x2APIC mode (SDM Vol. 3C, 24.6.2).</summary>
    public const uint VirtualizeX2ApicMode = 1u << 4;
    /// <summary>Bit 5: enable VPID (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableVpid = 1u << 5;
    /// <summary>Bit 6: WBINVD exiting (also WBNOINVD) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint WbinvdExiting = 1u << 6;
    /// <summary>Bit 7: unrestricted guest (requires enable EPT) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UnrestrictedGuest = 1u << 7;
    /// <summary>Bit 8: APIC-register virtualization (SDM Vol. 3C, 24.6.2).</summary>
    public const uint ApicRegisterVirtualization = 1u << 8;
    /// <summary>Bit 9: virtual-interrupt delivery (SDM Vol. 3C, 24.6.2).</summary>
    public const uint VirtualInterruptDelivery = 1u << 9;
    /// <summary>Bit 10: PAUSE-loop exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint PauseLoopExiting = 1u << 10;
    /// <summary>Bit 11: RDRAND exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint RdrandExiting = 1u << 11;
    /// <summary>Bit 12: enable INVPCID (otherwise INVPCID raises #UD) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableInvpcid = 1u << 12;
    /// <summary>Bit 13: enable VM functions (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableVmFunctions = 1u << 13;
    /// <summary>Bit 14: VMCS shadowing (SDM Vol. 3C, 24.6.2).</summary>
    public const uint VmcsShadowing = 1u << 14;
    /// <summary>Bit 15: enable ENCLS exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableEnclsExiting = 1u << 15;
    /// <summary>Bit 16: RDSEED exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint RdseedExiting = 1u << 16;
    /// <summary>Bit 17: enable PML (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnablePml = 1u << 17;
    /// <summary>Bit 18: EPT-violation #VE (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EptViolationVe = 1u << 18;
    /// <summary>Bit 19: conceal VMX from Intel PT (SDM Vol. 3C, 24.6.2).</summary>
    public const uint ConcealVmxFromPt = 1u << 19;
    /// <summary>Bit 20: enable XSAVES/XRSTORS (otherwise they raise #UD) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableXsaves = 1u << 20;
    /// <summary>Bit 21: PASID translation (SDM Vol. 3C, 24.6.2).</summary>
    public const uint PasidTranslation = 1u << 21;
    /// <summary>Bit 22: mode-based execute control for EPT (SDM Vol. 3C, 24.6.2).</summary>
    public const uint ModeBasedExecuteControl = 1u << 22;
    /// <summary>Bit 23: sub-page write permissions for EPT (SDM Vol. 3C, 24.6.2).</summary>
    public const uint SubPageWritePermissions = 1u << 23;
    /// <summary>Bit 24: Intel PT uses guest-physical addresses (SDM Vol. 3C, 24.6.2).</summary>
    public const uint PtUsesGuestPhysicalAddresses = 1u << 24;
    /// <summary>Bit 25: use TSC scaling (SDM Vol. 3C, 24.6.2).</summary>
    public const uint UseTscScaling = 1u << 25;
    /// <summary>Bit 26: enable user wait and pause (TPAUSE, UMONITOR, UMWAIT; otherwise #UD) (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableUserWaitAndPause = 1u << 26;
    /// <summary>Bit 27: enable PCONFIG (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnablePconfig = 1u << 27;
    /// <summary>Bit 28: enable ENCLV exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const uint EnableEnclvExiting = 1u << 28;
    /// <summary>Bit 30: VMM bus-lock detection (SDM Vol. 3C, 24.6.2).</summary>
    public const uint VmmBusLockDetection = 1u << 30;
    /// <summary>Bit 31: instruction timeout (SDM Vol. 3C, 24.6.2).</summary>
    public const uint InstructionTimeout = 1u << 31;
}

/// <summary>Tertiary processor-based VM-execution control bits, 64-bit field 2034h (SDM Vol. 3C, 24.6.2).</summary>
public static class TertiaryProcessorBasedControls
{
    /// <summary>Bit 0: LOADIWKEY exiting (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong LoadiwkeyExiting = 1UL << 0;
    /// <summary>Bit 1: enable HLAT (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong EnableHlat = 1UL << 1;
    /// <summary>Bit 2: EPT paging-write control (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong EptPagingWriteControl = 1UL << 2;
    /// <summary>Bit 3: guest-paging verification (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong GuestPagingVerification = 1UL << 3;
    /// <summary>Bit 4: IPI virtualization (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong IpiVirtualization = 1UL << 4;
    /// <summary>Bit 6: enable MSR-list instructions (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong EnableMsrListInstructions = 1UL << 6;
    /// <summary>Bit 7: virtualize IA32_SPEC_CTRL (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong VirtualizeSpecCtrl = 1UL << 7;
    /// <summary>Bit 8: APIC-timer virtualization (SDM Vol. 3C, 24.6.2).</summary>
    public const ulong ApicTimerVirtualization = 1UL << 8;
}

/// <summary>Primary VM-exit control bits, field 400Ch (SDM Vol. 3C, 24.7.1).</summary>
public static class ExitControls
{
    /// <summary>Bit 2: save debug controls (DR7, IA32_DEBUGCTL); default1 in IA32_VMX_EXIT_CTLS (SDM Vol. 3C, 24.7.1).</summary>
    public const uint SaveDebugControls = 1u << 2;
    /// <summary>Bit 9: host address-space size (1 = the host runs in 64-bit mode after the exit) (SDM Vol. 3C, 24.7.1).</summary>
    public const uint HostAddressSpaceSize = 1u << 9;
    /// <summary>Bit 12: load IA32_PERF_GLOBAL_CTRL (SDM Vol. 3C, 24.7.1).</summary>
    public const uint LoadPerfGlobalCtrl = 1u << 12;
    /// <summary>Bit 15: acknowledge interrupt on exit (SDM Vol. 3C, 24.7.1).</summary>
    public const uint AcknowledgeInterruptOnExit = 1u << 15;
    /// <summary>Bit 18: save IA32_PAT (SDM Vol. 3C, 24.7.1).</summary>
    public const uint SavePat = 1u << 18;
    /// <summary>Bit 19: load IA32_PAT (SDM Vol. 3C, 24.7.1).</summary>
    public const uint LoadPat = 1u << 19;
    /// <summary>Bit 20: save IA32_EFER (SDM Vol. 3C, 24.7.1).</summary>
    public const uint SaveEfer = 1u << 20;
    /// <summary>Bit 21: load IA32_EFER (SDM Vol. 3C, 24.7.1).</summary>
    public const uint LoadEfer = 1u << 21;
    /// <summary>Bit 22: save VMX-preemption timer value (SDM Vol. 3C, 24.7.1).</summary>
    public const uint SavePreemptionTimerValue = 1u << 22;
    /// <summary>Bit 23: clear IA32_BNDCFGS (SDM Vol. 3C, 24.7.1).</summary>
    public const uint ClearBndcfgs = 1u << 23;
    /// <summary>Bit 24: conceal VMX from Intel PT (SDM Vol. 3C, 24.7.1).</summary>
    public const uint ConcealVmxFromPt = 1u << 24;
    /// <summary>Bit 25: clear IA32_RTIT_CTL (SDM Vol. 3C, 24.7.1).</summary>
    public const uint ClearRtitCtl = 1u << 25;
    /// <summary>Bit 26: clear IA32_LBR_CTL (SDM Vol. 3C, 24.7.1).</summary>
    public const uint ClearLbrCtl = 1u << 26;
    /// <summary>Bit 27: clear UINV (SDM Vol. 3C, 24.7.1).</summary>
    public const uint ClearUinv = 1u << 27;
    /// <summary>Bit 28: load CET state (SDM Vol. 3C, 24.7.1).</summary>
    public const uint LoadCetState = 1u << 28;
    /// <summary>Bit 29: load PKRS (SDM Vol. 3C, 24.7.1).</summary>
    public const uint LoadPkrs = 1u << 29;
    /// <summary>Bit 30: save IA32_PERF_GLOBAL_CTRL (SDM Vol. 3C, 24.7.1).</summary>
    public const uint SavePerfGlobalCtrl = 1u << 30;
    /// <summary>Bit 31: activate secondary VM-exit controls (SDM Vol. 3C, 24.7.1).</summary>
    public const uint ActivateSecondaryControls = 1u << 31;
    /// <summary>
    /// The default1 class: reserved bits 0, 1, 3-8, 10, 11, 13, 14, 16, 17 plus save debug controls (2), reported as
    /// must-be-1 by IA32_VMX_EXIT_CTLS (SDM Vol. 3C, A.2, A.4.1). The TRUE MSR may allow bit 2 to be 0.
    /// </summary>
    public const uint Default1 = 0x0003_6DFF;
}

/// <summary>Secondary VM-exit control bits, 64-bit field 2044h (SDM Vol. 3C, 24.7.1).</summary>
public static class SecondaryExitControls
{
    /// <summary>Bit 0: save FRED state (SDM Vol. 3C, 24.7.1).</summary>
    public const ulong SaveFred = 1UL << 0;
    /// <summary>Bit 1: load FRED state (SDM Vol. 3C, 24.7.1).</summary>
    public const ulong LoadFred = 1UL << 1;
    /// <summary>Bit 2: load IA32_SPEC_CTRL (SDM Vol. 3C, 24.7.1).</summary>
    public const ulong LoadSpecCtrl = 1UL << 2;
    /// <summary>Bit 3: prematurely busy shadow stack (SDM Vol. 3C, 24.7.1).</summary>
    public const ulong PrematurelyBusyShadowStack = 1UL << 3;
}

/// <summary>VM-entry control bits, field 4012h (SDM Vol. 3C, 24.8.1).</summary>
public static class EntryControls
{
    /// <summary>Bit 2: load debug controls (DR7, IA32_DEBUGCTL); default1 in IA32_VMX_ENTRY_CTLS (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadDebugControls = 1u << 2;
    /// <summary>Bit 9: IA-32e mode guest (SDM Vol. 3C, 24.8.1).</summary>
    public const uint Ia32eModeGuest = 1u << 9;
    /// <summary>Bit 10: entry to SMM (SDM Vol. 3C, 24.8.1).</summary>
    public const uint EntryToSmm = 1u << 10;
    /// <summary>Bit 11: deactivate dual-monitor treatment (SDM Vol. 3C, 24.8.1).</summary>
    public const uint DeactivateDualMonitorTreatment = 1u << 11;
    /// <summary>Bit 13: load IA32_PERF_GLOBAL_CTRL (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadPerfGlobalCtrl = 1u << 13;
    /// <summary>Bit 14: load IA32_PAT (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadPat = 1u << 14;
    /// <summary>Bit 15: load IA32_EFER (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadEfer = 1u << 15;
    /// <summary>Bit 16: load IA32_BNDCFGS (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadBndcfgs = 1u << 16;
    /// <summary>Bit 17: conceal VMX from Intel PT (SDM Vol. 3C, 24.8.1).</summary>
    public const uint ConcealVmxFromPt = 1u << 17;
    /// <summary>Bit 18: load IA32_RTIT_CTL (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadRtitCtl = 1u << 18;
    /// <summary>Bit 19: load UINV (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadUinv = 1u << 19;
    /// <summary>Bit 20: load CET state (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadCetState = 1u << 20;
    /// <summary>Bit 21: load guest IA32_LBR_CTL (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadLbrCtl = 1u << 21;
    /// <summary>Bit 22: load PKRS (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadPkrs = 1u << 22;
    /// <summary>Bit 23: load FRED state (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadFred = 1u << 23;
    /// <summary>Bit 24: load IA32_SPEC_CTRL (SDM Vol. 3C, 24.8.1).</summary>
    public const uint LoadSpecCtrl = 1u << 24;
    /// <summary>
    /// The default1 class: reserved bits 0, 1, 3-8, 12 plus load debug controls (2), reported as must-be-1 by
    /// IA32_VMX_ENTRY_CTLS (SDM Vol. 3C, A.2, A.5). The TRUE MSR may allow bit 2 to be 0.
    /// </summary>
    public const uint Default1 = 0x0000_11FF;
}
