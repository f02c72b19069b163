namespace Vtx.Vmx;

/// <summary>
/// A processor capability on which the existence of VMCS components depends (SDM Vol. 3C, Appendix B:
/// "this field exists only on processors that support the 1-setting of ..."). A VMREAD or VMWRITE of a
/// component whose feature the processor does not offer fails with VM-instruction error 12
/// (SDM Vol. 3C, 30.3 VMREAD/VMWRITE). <see cref="VmxCapabilities.Offers"/> answers each one from the
/// capability MSRs.
/// </summary>
public enum VmxFeature
{
    /// <summary>Present on every processor that supports VMX (SDM Vol. 3C, Appendix B).</summary>
    Always,
    /// <summary>1-setting of the "activate secondary controls" primary processor-based control (bit 31) (SDM Vol. 3C, A.3.2, Appendix B).</summary>
    SecondaryControls,
    /// <summary>1-setting of the "activate tertiary controls" primary processor-based control (bit 17) (SDM Vol. 3C, A.3.2, Appendix B).</summary>
    TertiaryControls,
    /// <summary>1-setting of the "use MSR bitmaps" primary processor-based control (bit 28) (SDM Vol. 3C, A.3.2, Appendix B).</summary>
    MsrBitmaps,
    /// <summary>1-setting of the "use TPR shadow" primary processor-based control (bit 21) (SDM Vol. 3C, A.3.2, Appendix B).</summary>
    TprShadow,
    /// <summary>1-setting of the "activate VMX-preemption timer" pin-based control (bit 6) (SDM Vol. 3C, A.3.1, Appendix B).</summary>
    PreemptionTimer,
    /// <summary>1-setting of the "process posted interrupts" pin-based control (bit 7) (SDM Vol. 3C, A.3.1, Appendix B).</summary>
    PostedInterrupts,
    /// <summary>1-setting of the "virtualize APIC accesses" secondary control (bit 0) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    VirtualizeApicAccesses,
    /// <summary>1-setting of the "enable EPT" secondary control (bit 1) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    Ept,
    /// <summary>1-setting of the "enable VPID" secondary control (bit 5) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    Vpid,
    /// <summary>1-setting of the "virtual-interrupt delivery" secondary control (bit 9) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    VirtualInterruptDelivery,
    /// <summary>1-setting of the "PAUSE-loop exiting" secondary control (bit 10) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    PauseLoopExiting,
    /// <summary>1-setting of the "enable VM functions" secondary control (bit 13) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    VmFunctions,
    /// <summary>1-setting of the "VMCS shadowing" secondary control (bit 14) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    VmcsShadowing,
    /// <summary>1-setting of the "enable ENCLS exiting" secondary control (bit 15) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    EnclsExiting,
    /// <summary>1-setting of the "enable PML" secondary control (bit 17) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    Pml,
    /// <summary>1-setting of the "EPT-violation #VE" secondary control (bit 18) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    EptViolationVe,
    /// <summary>1-setting of the "enable XSAVES/XRSTORS" secondary control (bit 20) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    Xsaves,
    /// <summary>1-setting of the "PASID translation" secondary control (bit 21) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    PasidTranslation,
    /// <summary>1-setting of the "sub-page write permissions for EPT" secondary control (bit 23) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    SubPageWritePermissions,
    /// <summary>1-setting of the "use TSC scaling" secondary control (bit 25) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    TscScaling,
    /// <summary>1-setting of the "enable PCONFIG" secondary control (bit 27) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    PconfigExiting,
    /// <summary>1-setting of the "enable ENCLV exiting" secondary control (bit 28) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    EnclvExiting,
    /// <summary>1-setting of the "instruction timeout" secondary control (bit 31) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    InstructionTimeout,
    /// <summary>EPTP switching (VM function 0) is allowed by IA32_VMX_VMFUNC and VM functions are offered (SDM Vol. 3C, A.11, Appendix B).</summary>
    EptpSwitching,
    /// <summary>1-setting of the "enable HLAT" tertiary control (bit 1) (SDM Vol. 3C, A.3.4, Appendix B).</summary>
    Hlat,
    /// <summary>1-setting of the "IPI virtualization" tertiary control (bit 4) (SDM Vol. 3C, A.3.4, Appendix B).</summary>
    IpiVirtualization,
    /// <summary>1-setting of the "enable MSR-list instructions" tertiary control (bit 6) (SDM Vol. 3C, A.3.4, Appendix B).</summary>
    MsrList,
    /// <summary>1-setting of the "virtualize IA32_SPEC_CTRL" tertiary control (bit 7) (SDM Vol. 3C, A.3.4, Appendix B).</summary>
    SpecCtrlVirtualization,
    /// <summary>1-setting of the "APIC-timer virtualization" tertiary control (bit 8) (SDM Vol. 3C, A.3.4, Appendix B).</summary>
    ApicTimerVirtualization,
    /// <summary>1-setting of the "activate secondary controls" VM-exit control (bit 31) (SDM Vol. 3C, A.3.3, Appendix B).</summary>
    SecondaryExitControls,
    /// <summary>1-setting of the "load IA32_PAT" VM-entry control (bit 14) or the "save IA32_PAT" VM-exit control (bit 18) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestPat,
    /// <summary>1-setting of the "load IA32_PAT" VM-exit control (bit 19) (SDM Vol. 3C, A.4.1, Appendix B).</summary>
    HostPat,
    /// <summary>1-setting of the "load IA32_EFER" VM-entry control (bit 15) or the "save IA32_EFER" VM-exit control (bit 20) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestEfer,
    /// <summary>1-setting of the "load IA32_EFER" VM-exit control (bit 21) (SDM Vol. 3C, A.4.1, Appendix B).</summary>
    HostEfer,
    /// <summary>1-setting of the "load IA32_PERF_GLOBAL_CTRL" VM-entry control (bit 13) or the "save IA32_PERF_GLOBAL_CTRL" VM-exit control (bit 30) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestPerfGlobalCtrl,
    /// <summary>1-setting of the "load IA32_PERF_GLOBAL_CTRL" VM-exit control (bit 12) (SDM Vol. 3C, A.4.1, Appendix B).</summary>
    HostPerfGlobalCtrl,
    /// <summary>1-setting of the "load IA32_BNDCFGS" VM-entry control (bit 16) or the "clear IA32_BNDCFGS" VM-exit control (bit 23) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestBndcfgs,
    /// <summary>1-setting of the "load IA32_RTIT_CTL" VM-entry control (bit 18) or the "clear IA32_RTIT_CTL" VM-exit control (bit 25) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestRtitCtl,
    /// <summary>1-setting of the "load guest IA32_LBR_CTL" VM-entry control (bit 21) or the "clear IA32_LBR_CTL" VM-exit control (bit 26) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestLbrCtl,
    /// <summary>1-setting of the "load PKRS" VM-entry control (bit 22) (SDM Vol. 3C, A.5, Appendix B).</summary>
    GuestPkrs,
    /// <summary>1-setting of the "load PKRS" VM-exit control (bit 29) (SDM Vol. 3C, A.4.1, Appendix B).</summary>
    HostPkrs,
    /// <summary>1-setting of the "load CET state" VM-entry control (bit 20) (SDM Vol. 3C, A.5, Appendix B).</summary>
    GuestCet,
    /// <summary>1-setting of the "load CET state" VM-exit control (bit 28) (SDM Vol. 3C, A.4.1, Appendix B).</summary>
    HostCet,
    /// <summary>1-setting of the "load UINV" VM-entry control (bit 19) or the "clear UINV" VM-exit control (bit 27) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    Uinv,
    /// <summary>1-setting of the "load FRED" VM-entry control (bit 23) or the "save FRED" secondary VM-exit control (bit 0) (SDM Vol. 3C, A.4, A.5, Appendix B).</summary>
    GuestFred,
    /// <summary>1-setting of the "load FRED" secondary VM-exit control (bit 1) (SDM Vol. 3C, A.4.2, Appendix B).</summary>
    HostFred,
    /// <summary>1-setting of the "load IA32_SPEC_CTRL" VM-entry control (bit 24) (SDM Vol. 3C, A.5, Appendix B).</summary>
    GuestSpecCtrl,
    /// <summary>1-setting of the "load IA32_SPEC_CTRL" secondary VM-exit control (bit 2) (SDM Vol. 3C, A.4.2, Appendix B).</summary>
    HostSpecCtrl,
    /// <summary>
    /// SEAM VMX operation (Intel TDX module). It has no VMX capability bit; a software model never offers it,
    /// so its fields are always unsupported (SDM Vol. 3C, Appendix B).
    /// </summary>
    Seam,
}
