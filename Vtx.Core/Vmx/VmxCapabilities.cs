namespace Vtx.Vmx;

/// <summary>
/// The VMX capabilities a processor reports through its capability MSRs (IA32_VMX_BASIC 480h to
/// IA32_VMX_EXIT_CTLS2 493h, SDM Vol. 3C, Appendix A), and the rules VMX operation derives from them: which
/// control settings VM entry accepts, which VMCS fields exist, which CR0/CR4 bits are fixed.
/// </summary>
/// <remarks>
/// <para>Like <see cref="CpuModel"/>, a plain object the host may configure before creating a machine. The
/// default resembles a recent Intel server core restricted to what Vtx models: the classic VMX control set
/// (every pin-based and primary processor-based control except posted interrupts and tertiary controls; TPR
/// shadow, MSR and I/O bitmaps, MTF, the preemption timer), EPT with VPID and unrestricted guest, PAUSE-loop
/// exiting, descriptor-table and WBINVD exiting, RDTSCP/INVPCID enabling and TSC scaling; PAT and EFER
/// load/save on entry and exit. Features needing hardware Vtx does not model (SGX, Intel PT, SMM dual-monitor
/// treatment, PCONFIG, PASID, CET, FRED, PKS, LBRs, MPX, performance counters) are not offered, nor (as yet)
/// APIC virtualization beyond the TPR shadow, posted interrupts, PML, #VE, VM functions and
/// mode-based or sub-page EPT permissions; each can be offered by setting its allowed-1 bit. VMCS shadowing
/// is offered (with IA32_VMX_MISC[29], VMWRITE to the VM-exit information fields); clearing its allowed-1 bit in
/// <see cref="SecondaryProcessorBased"/> turns it off as on parts without it.</para>
/// <para>The control capabilities are configured as the TRUE MSRs report them (<see cref="PinBased"/> etc.);
/// the plain MSRs report the same allowed-1 settings and the allowed-0 settings with the default1 class
/// (SDM A.2) forced to 1. If <see cref="TrueControls"/> (IA32_VMX_BASIC[55]) is false, the TRUE MSRs do not
/// exist and VM entry checks the plain ones.</para>
/// <para>Section numbers of chapters follow the 2016 SDM edition (VM entries = chapter 26, VMX instructions =
/// chapter 30); 2020 and later editions number them one higher. Appendix A is the same in both.</para>
/// </remarks>
public sealed class VmxCapabilities
{
    /// <summary>The default capabilities (see the class remarks; SDM Vol. 3C, Appendix A).</summary>
    public static VmxCapabilities Default { get; } = new();

    // ---- IA32_VMX_BASIC (480h), SDM A.1 ----

    /// <summary>VMCS revision identifier, IA32_VMX_BASIC[30:0]: Vtx's own VMCS format ("VTX" in ASCII); software must read it from the MSR (SDM A.1).</summary>
    public uint RevisionId { get; init; } = 0x0056_5458;
    /// <summary>Bytes to allocate for the VMXON region and each VMCS region, IA32_VMX_BASIC[44:32], at most 4096 (SDM A.1).</summary>
    public int RegionSize { get; init; } = 4096;
    /// <summary>IA32_VMX_BASIC[48]: VMXON, VMCS and referenced structures limited to 32-bit physical addresses (always 0 on Intel 64 processors; SDM A.1).</summary>
    public bool PhysicalAddressesLimitedTo32Bits { get; init; }
    /// <summary>IA32_VMX_BASIC[49]: dual-monitor treatment of SMIs and SMM is supported (SDM A.1). Vtx does not model SMM.</summary>
    public bool DualMonitorTreatment { get; init; }
    /// <summary>IA32_VMX_BASIC[53:50]: memory type for the VMCS and structures it references: 0 = UC, 6 = WB (SDM A.1).</summary>
    public int MemoryType { get; init; } = 6;
    /// <summary>IA32_VMX_BASIC[54]: VM exits due to INS and OUTS store the VM-exit instruction-information field (SDM A.1).</summary>
    public bool InsOutsInstructionInformation { get; init; } = true;
    /// <summary>IA32_VMX_BASIC[55]: default1 controls may be 0; the IA32_VMX_TRUE_*_CTLS MSRs exist and VM entry checks them (SDM A.1, A.2).</summary>
    public bool TrueControls { get; init; } = true;
    /// <summary>IA32_VMX_BASIC[56]: VM entry may deliver a hardware exception with or without an error code regardless of its vector (SDM A.1, 26.2.1.3).</summary>
    public bool AnyVectorErrorCodeInjection { get; init; }

    // ---- control capabilities (SDM A.3-A.5), as the TRUE MSRs report them ----

    /// <summary>Pin-based controls (IA32_VMX_TRUE_PINBASED_CTLS; the plain MSR adds <see cref="PinBasedControls.Default1"/> to allowed-0) (SDM A.3.1).</summary>
    public VmxAllowedSettings PinBased { get; init; } = new(PinBasedControls.Default1,
        PinBasedControls.Default1 | PinBasedControls.ExternalInterruptExiting | PinBasedControls.NmiExiting
        | PinBasedControls.VirtualNmis | PinBasedControls.ActivatePreemptionTimer);

    /// <summary>Primary processor-based controls (IA32_VMX_TRUE_PROCBASED_CTLS; CR3-load/store exiting may be 0) (SDM A.3.2).</summary>
    public VmxAllowedSettings PrimaryProcessorBased { get; init; } = new(
        PrimaryProcessorBasedControls.Default1 & ~(PrimaryProcessorBasedControls.Cr3LoadExiting | PrimaryProcessorBasedControls.Cr3StoreExiting),
        0xFFFF_FFFEu & ~(PrimaryProcessorBasedControls.ActivateTertiaryControls | 1u << 18));

    /// <summary>Secondary processor-based controls (IA32_VMX_PROCBASED_CTLS2; no default1 class) (SDM A.3.3).</summary>
    public VmxAllowedSettings SecondaryProcessorBased { get; init; } = new(0,
        SecondaryProcessorBasedControls.EnableEpt | SecondaryProcessorBasedControls.DescriptorTableExiting
        | SecondaryProcessorBasedControls.EnableRdtscp | SecondaryProcessorBasedControls.EnableVpid
        | SecondaryProcessorBasedControls.WbinvdExiting | SecondaryProcessorBasedControls.UnrestrictedGuest
        | SecondaryProcessorBasedControls.PauseLoopExiting | SecondaryProcessorBasedControls.EnableInvpcid
        | SecondaryProcessorBasedControls.UseTscScaling | SecondaryProcessorBasedControls.VmcsShadowing);

    /// <summary>Primary VM-exit controls (IA32_VMX_TRUE_EXIT_CTLS; "save debug controls" may be 0) (SDM A.4.1).</summary>
    public VmxAllowedSettings Exit { get; init; } = new(ExitControls.Default1 & ~ExitControls.SaveDebugControls,
        ExitControls.Default1 | ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit
        | ExitControls.SavePat | ExitControls.LoadPat | ExitControls.SaveEfer | ExitControls.LoadEfer
        | ExitControls.SavePreemptionTimerValue);

    /// <summary>VM-entry controls (IA32_VMX_TRUE_ENTRY_CTLS; "load debug controls" may be 0) (SDM A.5).</summary>
    public VmxAllowedSettings Entry { get; init; } = new(EntryControls.Default1 & ~EntryControls.LoadDebugControls,
        EntryControls.Default1 | EntryControls.Ia32eModeGuest | EntryControls.EntryToSmm
        | EntryControls.DeactivateDualMonitorTreatment | EntryControls.LoadPat | EntryControls.LoadEfer);

    /// <summary>IA32_VMX_PROCBASED_CTLS3: allowed 1-settings of the tertiary controls (all may be 0); exists only if "activate tertiary controls" may be 1 (SDM A.3.4).</summary>
    public ulong TertiaryProcessorBasedAllowed1 { get; init; }

    /// <summary>IA32_VMX_EXIT_CTLS2: allowed 1-settings of the secondary VM-exit controls (all may be 0); exists only if exit control 31 may be 1 (SDM A.4.2).</summary>
    public ulong SecondaryExitAllowed1 { get; init; }

    // ---- IA32_VMX_MISC (485h), SDM A.6 ----

    /// <summary>IA32_VMX_MISC[4:0]: the VMX-preemption timer counts down by 1 each time bit X of the TSC changes (SDM A.6, 25.5.1).</summary>
    public int PreemptionTimerRate { get; init; } = 5;
    /// <summary>IA32_VMX_MISC[5]: VM exits store IA32_EFER.LMA into the "IA-32e mode guest" entry control (required with unrestricted guest; SDM A.6).</summary>
    public bool ExitStoresLma { get; init; } = true;
    /// <summary>IA32_VMX_MISC[6]: the HLT activity state (1) is supported (SDM A.6, 24.4.2).</summary>
    public bool ActivityHlt { get; init; } = true;
    /// <summary>IA32_VMX_MISC[7]: the shutdown activity state (2) is supported (SDM A.6, 24.4.2).</summary>
    public bool ActivityShutdown { get; init; } = true;
    /// <summary>IA32_VMX_MISC[8]: the wait-for-SIPI activity state (3) is supported (SDM A.6, 24.4.2).</summary>
    public bool ActivityWaitForSipi { get; init; } = true;
    /// <summary>IA32_VMX_MISC[14]: Intel PT may be used in VMX operation (SDM A.6).</summary>
    public bool ProcessorTraceInVmx { get; init; }
    /// <summary>IA32_VMX_MISC[15]: RDMSR may read IA32_SMBASE in SMM (SDM A.6).</summary>
    public bool SmbaseReadableInSmm { get; init; }
    /// <summary>IA32_VMX_MISC[24:16]: number of CR3-target values supported (SDM A.6, 24.6.7).</summary>
    public int Cr3TargetCount { get; init; } = 4;
    /// <summary>IA32_VMX_MISC[27:25] = N: the recommended maximum number of MSRs in each MSR list is 512 * (N + 1) (SDM A.6).</summary>
    public int MsrListSizeCode { get; init; }
    /// <summary>IA32_VMX_MISC[28]: bit 2 of IA32_SMM_MONITOR_CTL may be set (SDM A.6).</summary>
    public bool SmmMonitorCtlBit2 { get; init; }
    /// <summary>IA32_VMX_MISC[29]: VMWRITE may write any supported VMCS field, including VM-exit information fields (SDM A.6, 24.11.2).</summary>
    public bool VmwriteToExitInformation { get; init; } = true;
    /// <summary>IA32_VMX_MISC[30]: VM entry may inject software interrupts and (privileged) software exceptions with instruction length 0 (SDM A.6, 26.2.1.3).</summary>
    public bool ZeroLengthSoftwareEventInjection { get; init; } = true;
    /// <summary>IA32_VMX_MISC[63:32]: MSEG revision identifier (SDM A.6).</summary>
    public uint MsegRevisionId { get; init; }

    // ---- CR fixed bits, EPT/VPID, VM functions (SDM A.7, A.8, A.10, A.11) ----

    /// <summary>IA32_VMX_CR0_FIXED0: CR0 bits that must be 1 in VMX operation: PE, NE, PG (SDM A.7).</summary>
    public ulong Cr0Fixed0 { get; init; } = Cr0.PE | Cr0.NE | Cr0.PG;
    /// <summary>IA32_VMX_CR0_FIXED1: CR0 bits that may be 1 in VMX operation (SDM A.7).</summary>
    public ulong Cr0Fixed1 { get; init; } = 0xFFFF_FFFF;
    /// <summary>IA32_VMX_CR4_FIXED0: CR4 bits that must be 1 in VMX operation: VMXE (SDM A.8).</summary>
    public ulong Cr4Fixed0 { get; init; } = Cr4.VMXE;
    /// <summary>
    /// IA32_VMX_CR4_FIXED1: CR4 bits that may be 1 in VMX operation (SDM A.8): the CR4 bits of the features the
    /// CPU model offers, plus VMXE. Keep it in step with the CPU's supported CR4 mask.
    /// </summary>
    public ulong Cr4Fixed1 { get; init; } = Cr4.TSD | Cr4.DE | Cr4.PSE | Cr4.PAE | Cr4.PGE | Cr4.PCE | Cr4.UMIP
        | Cr4.LA57 | Cr4.VMXE | Cr4.PCIDE | Cr4.SMEP | Cr4.SMAP | Cr4.OSFXSR | Cr4.OSXMMEXCPT | Cr4.OSXSAVE;

    /// <summary>
    /// IA32_VMX_EPT_VPID_CAP (SDM A.10): execute-only translations, 4-level walks, UC and WB paging-structure
    /// types, 2-MByte and 1-GByte pages, INVEPT (single- and all-context), INVVPID (all four types). EPT
    /// accessed/dirty flags, advanced exit information and 5-level walks are not offered.
    /// </summary>
    public ulong EptVpidCapabilities { get; init; } = EptVpidCapability.ExecuteOnly | EptVpidCapability.PageWalkLength4
        | EptVpidCapability.UncacheableType | EptVpidCapability.WriteBackType | EptVpidCapability.Pde2MbPages
        | EptVpidCapability.Pdpte1GbPages | EptVpidCapability.Invept | EptVpidCapability.InveptSingleContext
        | EptVpidCapability.InveptAllContext | EptVpidCapability.Invvpid | EptVpidCapability.InvvpidIndividualAddress
        | EptVpidCapability.InvvpidSingleContext | EptVpidCapability.InvvpidAllContext
        | EptVpidCapability.InvvpidSingleContextRetainingGlobals;

    /// <summary>IA32_VMX_VMFUNC: bit X = 1 if VM function X may be enabled (SDM A.11). None by default.</summary>
    public ulong VmFunctions { get; init; }

    // ---- MSR values ----

    /// <summary>The value of IA32_VMX_BASIC (SDM A.1).</summary>
    public ulong Basic =>
        (RevisionId & 0x7FFF_FFFFUL)
        | ((ulong)RegionSize & 0x1FFF) << 32
        | (PhysicalAddressesLimitedTo32Bits ? 1UL << 48 : 0)
        | (DualMonitorTreatment ? 1UL << 49 : 0)
        | ((ulong)MemoryType & 0xF) << 50
        | (InsOutsInstructionInformation ? 1UL << 54 : 0)
        | (TrueControls ? 1UL << 55 : 0)
        | (AnyVectorErrorCodeInjection ? 1UL << 56 : 0);

    /// <summary>The value of IA32_VMX_MISC (SDM A.6).</summary>
    public ulong Misc =>
        ((ulong)PreemptionTimerRate & 0x1F)
        | (ExitStoresLma ? 1UL << 5 : 0)
        | (ActivityHlt ? 1UL << 6 : 0)
        | (ActivityShutdown ? 1UL << 7 : 0)
        | (ActivityWaitForSipi ? 1UL << 8 : 0)
        | (ProcessorTraceInVmx ? 1UL << 14 : 0)
        | (SmbaseReadableInSmm ? 1UL << 15 : 0)
        | ((ulong)Cr3TargetCount & 0x1FF) << 16
        | ((ulong)MsrListSizeCode & 7) << 25
        | (SmmMonitorCtlBit2 ? 1UL << 28 : 0)
        | (VmwriteToExitInformation ? 1UL << 29 : 0)
        | (ZeroLengthSoftwareEventInjection ? 1UL << 30 : 0)
        | (ulong)MsegRevisionId << 32;

    /// <summary>The value of IA32_VMX_VMCS_ENUM: <see cref="HighestSupportedIndex"/> in bits 9:1, all other bits 0 (SDM A.9).</summary>
    public ulong VmcsEnum => (ulong)HighestSupportedIndex << 1;

    /// <summary>The recommended maximum number of entries in each VM-entry/VM-exit MSR list, 512 * (N + 1) (SDM A.6).</summary>
    public int MaxMsrListEntries => 512 * ((MsrListSizeCode & 7) + 1);

    /// <summary>
    /// The value of VMX capability MSR <paramref name="index"/>, or false if the MSR does not exist on this
    /// processor, in which case RDMSR raises #GP(0) (SDM Vol. 3C, Appendix A: PROCBASED_CTLS2 exists only if
    /// "activate secondary controls" may be 1; EPT_VPID_CAP only if EPT or VPID may be enabled; the TRUE MSRs only
    /// if IA32_VMX_BASIC[55] = 1; VMFUNC only if "enable VM functions" may be 1; PROCBASED_CTLS3 only if
    /// "activate tertiary controls" may be 1; EXIT_CTLS2 only if exit control 31 may be 1).
    /// </summary>
    public bool TryReadMsr(uint index, out ulong value)
    {
        value = 0;
        switch (index)
        {
            case VmxMsr.Basic: value = Basic; return true;
            case VmxMsr.PinBasedCtls: value = ReportedSettings(VmxControlKind.PinBased, trueMsr: false).MsrValue; return true;
            case VmxMsr.ProcBasedCtls: value = ReportedSettings(VmxControlKind.PrimaryProcessorBased, trueMsr: false).MsrValue; return true;
            case VmxMsr.ExitCtls: value = ReportedSettings(VmxControlKind.Exit, trueMsr: false).MsrValue; return true;
            case VmxMsr.EntryCtls: value = ReportedSettings(VmxControlKind.Entry, trueMsr: false).MsrValue; return true;
            case VmxMsr.Misc: value = Misc; return true;
            case VmxMsr.Cr0Fixed0: value = Cr0Fixed0; return true;
            case VmxMsr.Cr0Fixed1: value = Cr0Fixed1; return true;
            case VmxMsr.Cr4Fixed0: value = Cr4Fixed0; return true;
            case VmxMsr.Cr4Fixed1: value = Cr4Fixed1; return true;
            case VmxMsr.VmcsEnum: value = VmcsEnum; return true;
            case VmxMsr.ProcBasedCtls2:
                if (!Offers(VmxFeature.SecondaryControls)) return false;
                value = SecondaryProcessorBased.MsrValue;
                return true;
            case VmxMsr.EptVpidCap:
                if (!Offers(VmxFeature.Ept) && !Offers(VmxFeature.Vpid)) return false;
                value = EptVpidCapabilities;
                return true;
            case VmxMsr.TruePinBasedCtls when TrueControls: value = PinBased.MsrValue; return true;
            case VmxMsr.TrueProcBasedCtls when TrueControls: value = PrimaryProcessorBased.MsrValue; return true;
            case VmxMsr.TrueExitCtls when TrueControls: value = Exit.MsrValue; return true;
            case VmxMsr.TrueEntryCtls when TrueControls: value = Entry.MsrValue; return true;
            case VmxMsr.VmFunc:
                if (!Offers(VmxFeature.VmFunctions)) return false;
                value = VmFunctions;
                return true;
            case VmxMsr.ProcBasedCtls3:
                if (!Offers(VmxFeature.TertiaryControls)) return false;
                value = TertiaryProcessorBasedAllowed1;
                return true;
            case VmxMsr.ExitCtls2:
                if (!Offers(VmxFeature.SecondaryExitControls)) return false;
                value = SecondaryExitAllowed1;
                return true;
            default:
                return false;
        }
    }

    // ---- control checks ----

    /// <summary>The default1 class of a control field: the reserved controls the plain capability MSR reports as must-be-1 (SDM A.2).</summary>
    public static uint Default1(VmxControlKind kind) => kind switch
    {
        VmxControlKind.PinBased => PinBasedControls.Default1,
        VmxControlKind.PrimaryProcessorBased => PrimaryProcessorBasedControls.Default1,
        VmxControlKind.SecondaryProcessorBased => 0,
        VmxControlKind.Exit => ExitControls.Default1,
        VmxControlKind.Entry => EntryControls.Default1,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// The allowed settings capability MSR of <paramref name="kind"/> reports: the TRUE MSR (<paramref name="trueMsr"/>)
    /// as configured, or the plain MSR, whose allowed-0 settings also require the default1 class (SDM A.3-A.5).
    /// The secondary controls have a single MSR.
    /// </summary>
    public VmxAllowedSettings ReportedSettings(VmxControlKind kind, bool trueMsr)
    {
        var s = kind switch
        {
            VmxControlKind.PinBased => PinBased,
            VmxControlKind.PrimaryProcessorBased => PrimaryProcessorBased,
            VmxControlKind.SecondaryProcessorBased => SecondaryProcessorBased,
            VmxControlKind.Exit => Exit,
            VmxControlKind.Entry => Entry,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return trueMsr ? s : s with { Allowed0 = s.Allowed0 | Default1(kind) };
    }

    /// <summary>
    /// The allowed settings VM entry checks for <paramref name="kind"/>: the TRUE MSR's if IA32_VMX_BASIC[55] = 1,
    /// otherwise the plain MSR's (SDM A.2, 26.2.1.1-26.2.1.3).
    /// </summary>
    public VmxAllowedSettings AllowedSettings(VmxControlKind kind) => ReportedSettings(kind, TrueControls);

    /// <summary>
    /// True if VM entry accepts <paramref name="value"/> for the control field <paramref name="kind"/>: every bit is set
    /// that the allowed-0 settings require and none that the allowed-1 settings forbid (SDM 26.2.1.1-26.2.1.3;
    /// otherwise VMfailValid(7)). The secondary controls are checked only if "activate secondary controls" is 1;
    /// that is the caller's decision.
    /// </summary>
    public bool ControlsValid(VmxControlKind kind, uint value) => AllowedSettings(kind).Permits(value);

    /// <summary>
    /// <paramref name="desired"/> adjusted to what VM entry accepts for <paramref name="kind"/>: must-be-1 bits set,
    /// must-be-0 bits cleared (SDM A.2, 31.5.1).
    /// </summary>
    public uint AdjustControls(VmxControlKind kind, uint desired) => AllowedSettings(kind).Adjust(desired);

    /// <summary>True if VM entry accepts the 64-bit tertiary controls <paramref name="value"/> (allowed 1-settings of IA32_VMX_PROCBASED_CTLS3; SDM A.3.4, 26.2.1.1).</summary>
    public bool TertiaryControlsValid(ulong value) => (value & ~(Offers(VmxFeature.TertiaryControls) ? TertiaryProcessorBasedAllowed1 : 0)) == 0;

    /// <summary>True if VM entry accepts the 64-bit secondary VM-exit controls <paramref name="value"/> (allowed 1-settings of IA32_VMX_EXIT_CTLS2; SDM A.4.2, 26.2.1.2).</summary>
    public bool SecondaryExitControlsValid(ulong value) => (value & ~(Offers(VmxFeature.SecondaryExitControls) ? SecondaryExitAllowed1 : 0)) == 0;

    /// <summary>
    /// True if the controls <paramref name="mask"/> of field <paramref name="kind"/> may all be 1 (allowed-1); a
    /// secondary control additionally needs "activate secondary controls" to be allowed (SDM A.3.3).
    /// </summary>
    public bool CanSet(VmxControlKind kind, uint mask)
    {
        if (kind == VmxControlKind.SecondaryProcessorBased
            && !PrimaryProcessorBased.MayBeOne(PrimaryProcessorBasedControls.ActivateSecondaryControls))
            return false;
        return ReportedSettings(kind, trueMsr: true).MayBeOne(mask);
    }

    private bool CanSetTertiary(ulong mask) =>
        PrimaryProcessorBased.MayBeOne(PrimaryProcessorBasedControls.ActivateTertiaryControls) && (TertiaryProcessorBasedAllowed1 & mask) == mask;

    private bool CanSetSecondaryExit(ulong mask) =>
        Exit.MayBeOne(ExitControls.ActivateSecondaryControls) && (SecondaryExitAllowed1 & mask) == mask;

    /// <summary>True if the processor offers <paramref name="feature"/>, read off the capability MSRs (SDM Vol. 3C, Appendix A; Appendix B for what each feature governs).</summary>
    public bool Offers(VmxFeature feature)
    {
        const VmxControlKind pin = VmxControlKind.PinBased, primary = VmxControlKind.PrimaryProcessorBased,
            secondary = VmxControlKind.SecondaryProcessorBased, exit = VmxControlKind.Exit, entry = VmxControlKind.Entry;
        return feature switch
        {
            VmxFeature.Always => true,
            VmxFeature.SecondaryControls => CanSet(primary, PrimaryProcessorBasedControls.ActivateSecondaryControls),
            VmxFeature.TertiaryControls => CanSet(primary, PrimaryProcessorBasedControls.ActivateTertiaryControls),
            VmxFeature.MsrBitmaps => CanSet(primary, PrimaryProcessorBasedControls.UseMsrBitmaps),
            VmxFeature.TprShadow => CanSet(primary, PrimaryProcessorBasedControls.UseTprShadow),
            VmxFeature.PreemptionTimer => CanSet(pin, PinBasedControls.ActivatePreemptionTimer),
            VmxFeature.PostedInterrupts => CanSet(pin, PinBasedControls.ProcessPostedInterrupts),
            VmxFeature.VirtualizeApicAccesses => CanSet(secondary, SecondaryProcessorBasedControls.VirtualizeApicAccesses),
            VmxFeature.Ept => CanSet(secondary, SecondaryProcessorBasedControls.EnableEpt),
            VmxFeature.Vpid => CanSet(secondary, SecondaryProcessorBasedControls.EnableVpid),
            VmxFeature.VirtualInterruptDelivery => CanSet(secondary, SecondaryProcessorBasedControls.VirtualInterruptDelivery),
            VmxFeature.PauseLoopExiting => CanSet(secondary, SecondaryProcessorBasedControls.PauseLoopExiting),
            VmxFeature.VmFunctions => CanSet(secondary, SecondaryProcessorBasedControls.EnableVmFunctions),
            VmxFeature.VmcsShadowing => CanSet(secondary, SecondaryProcessorBasedControls.VmcsShadowing),
            VmxFeature.EnclsExiting => CanSet(secondary, SecondaryProcessorBasedControls.EnableEnclsExiting),
            VmxFeature.Pml => CanSet(secondary, SecondaryProcessorBasedControls.EnablePml),
            VmxFeature.EptViolationVe => CanSet(secondary, SecondaryProcessorBasedControls.EptViolationVe),
            VmxFeature.Xsaves => CanSet(secondary, SecondaryProcessorBasedControls.EnableXsaves),
            VmxFeature.PasidTranslation => CanSet(secondary, SecondaryProcessorBasedControls.PasidTranslation),
            VmxFeature.SubPageWritePermissions => CanSet(secondary, SecondaryProcessorBasedControls.SubPageWritePermissions),
            VmxFeature.TscScaling => CanSet(secondary, SecondaryProcessorBasedControls.UseTscScaling),
            VmxFeature.PconfigExiting => CanSet(secondary, SecondaryProcessorBasedControls.EnablePconfig),
            VmxFeature.EnclvExiting => CanSet(secondary, SecondaryProcessorBasedControls.EnableEnclvExiting),
            VmxFeature.InstructionTimeout => CanSet(secondary, SecondaryProcessorBasedControls.InstructionTimeout),
            VmxFeature.EptpSwitching => Offers(VmxFeature.VmFunctions) && (VmFunctions & VmFunction.EptpSwitching) != 0,
            VmxFeature.Hlat => CanSetTertiary(TertiaryProcessorBasedControls.EnableHlat),
            VmxFeature.IpiVirtualization => CanSetTertiary(TertiaryProcessorBasedControls.IpiVirtualization),
            VmxFeature.MsrList => CanSetTertiary(TertiaryProcessorBasedControls.EnableMsrListInstructions),
            VmxFeature.SpecCtrlVirtualization => CanSetTertiary(TertiaryProcessorBasedControls.VirtualizeSpecCtrl),
            VmxFeature.ApicTimerVirtualization => CanSetTertiary(TertiaryProcessorBasedControls.ApicTimerVirtualization),
            VmxFeature.SecondaryExitControls => CanSet(exit, ExitControls.ActivateSecondaryControls),
            VmxFeature.GuestPat => CanSet(entry, EntryControls.LoadPat) || CanSet(exit, ExitControls.SavePat),
            VmxFeature.HostPat => CanSet(exit, ExitControls.LoadPat),
            VmxFeature.GuestEfer => CanSet(entry, EntryControls.LoadEfer) || CanSet(exit, ExitControls.SaveEfer),
            VmxFeature.HostEfer => CanSet(exit, ExitControls.LoadEfer),
            VmxFeature.GuestPerfGlobalCtrl => CanSet(entry, EntryControls.LoadPerfGlobalCtrl) || CanSet(exit, ExitControls.SavePerfGlobalCtrl),
            VmxFeature.HostPerfGlobalCtrl => CanSet(exit, ExitControls.LoadPerfGlobalCtrl),
            VmxFeature.GuestBndcfgs => CanSet(entry, EntryControls.LoadBndcfgs) || CanSet(exit, ExitControls.ClearBndcfgs),
            VmxFeature.GuestRtitCtl => CanSet(entry, EntryControls.LoadRtitCtl) || CanSet(exit, ExitControls.ClearRtitCtl),
            VmxFeature.GuestLbrCtl => CanSet(entry, EntryControls.LoadLbrCtl) || CanSet(exit, ExitControls.ClearLbrCtl),
            VmxFeature.GuestPkrs => CanSet(entry, EntryControls.LoadPkrs),
            VmxFeature.HostPkrs => CanSet(exit, ExitControls.LoadPkrs),
            VmxFeature.GuestCet => CanSet(entry, EntryControls.LoadCetState),
            VmxFeature.HostCet => CanSet(exit, ExitControls.LoadCetState),
            VmxFeature.Uinv => CanSet(entry, EntryControls.LoadUinv) || CanSet(exit, ExitControls.ClearUinv),
            VmxFeature.GuestFred => CanSet(entry, EntryControls.LoadFred) || CanSetSecondaryExit(SecondaryExitControls.SaveFred),
            VmxFeature.HostFred => CanSetSecondaryExit(SecondaryExitControls.LoadFred),
            VmxFeature.GuestSpecCtrl => CanSet(entry, EntryControls.LoadSpecCtrl),
            VmxFeature.HostSpecCtrl => CanSetSecondaryExit(SecondaryExitControls.LoadSpecCtrl),
            VmxFeature.Seam => false,
            _ => throw new ArgumentOutOfRangeException(nameof(feature)),
        };
    }

    // ---- VMCS fields ----

    /// <summary>
    /// True if VMREAD/VMWRITE may access <paramref name="field"/> on this processor: a well-formed encoding of an
    /// architectural field whose <see cref="VmcsField.RequiredFeature"/> is offered. Otherwise they fail with
    /// VM-instruction error 12 (SDM Vol. 3C, 24.11.2, Appendix B; VMREAD/VMWRITE, 30.3).
    /// </summary>
    public bool Supports(VmcsField field) => field.IsArchitectural && Offers(field.RequiredFeature);

    /// <summary>The highest index (encoding bits 9:1) of any supported field, which IA32_VMX_VMCS_ENUM reports (SDM A.9).</summary>
    public int HighestSupportedIndex
    {
        get
        {
            // The configuration is immutable once initialised, so the scan is done once.
            int highest = _highestSupportedIndex;
            if (highest < 0)
                _highestSupportedIndex = highest = VmcsField.AllFields.Where(Supports).Select(f => f.Index).DefaultIfEmpty(0).Max();
            return highest;
        }
    }
    private int _highestSupportedIndex = -1;

    // ---- consistency ----

    /// <summary>
    /// The ways in which this configuration contradicts the SDM's rules for capability MSRs (empty when
    /// consistent): allowed-0 bits not allowed to be 1, default1 controls not allowed to be 1, capability bits of
    /// features not offered, and the like (SDM Vol. 3C, Appendix A).
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        void Require(bool ok, string what) { if (!ok) problems.Add(what); }

        Require(RevisionId <= 0x7FFF_FFFF, "IA32_VMX_BASIC[31] must be 0: the revision identifier has 31 bits (A.1)");
        Require(RegionSize is > 0 and <= 4096, "the VMXON/VMCS region size must be 1..4096 bytes (A.1)");
        Require(MemoryType is 0 or 6, "the VMCS memory type must be UC (0) or WB (6) (A.1)");
        foreach (var kind in Enum.GetValues<VmxControlKind>())
        {
            var s = ReportedSettings(kind, trueMsr: true);
            Require(s.IsConsistent, $"{kind}: allowed-0 bits 0x{s.Allowed0 & ~s.Allowed1:X8} are not allowed to be 1 (A.3-A.5)");
            Require((Default1(kind) & ~s.Allowed1) == 0, $"{kind}: default1 bits 0x{Default1(kind) & ~s.Allowed1:X8} must be allowed to be 1 (A.2)");
        }
        Require(SecondaryProcessorBased.Allowed1 == 0 || Offers(VmxFeature.SecondaryControls),
            "secondary controls are offered but \"activate secondary controls\" may not be 1 (A.3.3)");
        Require(TertiaryProcessorBasedAllowed1 == 0 || Offers(VmxFeature.TertiaryControls),
            "tertiary controls are offered but \"activate tertiary controls\" may not be 1 (A.3.4)");
        Require(SecondaryExitAllowed1 == 0 || Offers(VmxFeature.SecondaryExitControls),
            "secondary VM-exit controls are offered but exit control 31 may not be 1 (A.4.2)");
        Require(PreemptionTimerRate is >= 0 and <= 31, "the preemption-timer rate has 5 bits (A.6)");
        Require(Cr3TargetCount == 4, "the CR3-target count must be 4, the number of CR3-target value fields in the VMCS (A.6, B.4.1)");
        Require(MsrListSizeCode is >= 0 and <= 7, "the MSR-list size code has 3 bits (A.6)");
        Require(!CanSet(VmxControlKind.SecondaryProcessorBased, SecondaryProcessorBasedControls.UnrestrictedGuest) || ExitStoresLma,
            "unrestricted guest requires IA32_VMX_MISC[5] (A.6)");
        Require(!CanSet(VmxControlKind.SecondaryProcessorBased, SecondaryProcessorBasedControls.UnrestrictedGuest) || Offers(VmxFeature.Ept),
            "unrestricted guest requires EPT (26.2.1.1)");
        Require((Cr0Fixed0 & ~Cr0Fixed1) == 0, "IA32_VMX_CR0_FIXED0 bits must be set in IA32_VMX_CR0_FIXED1 (A.7)");
        Require((Cr4Fixed0 & ~Cr4Fixed1) == 0, "IA32_VMX_CR4_FIXED0 bits must be set in IA32_VMX_CR4_FIXED1 (A.8)");
        Require((Cr4Fixed0 & Cr4.VMXE) != 0, "CR4.VMXE must be fixed to 1 in VMX operation (A.8)");
        Require((EptVpidCapabilities & EptVpidCapability.EptMask) == 0 || Offers(VmxFeature.Ept),
            "EPT capabilities are reported but EPT is not offered (A.10)");
        Require((EptVpidCapabilities & EptVpidCapability.VpidMask) == 0 || Offers(VmxFeature.Vpid),
            "VPID capabilities are reported but VPID is not offered (A.10)");
        Require(!Offers(VmxFeature.Ept) || (EptVpidCapabilities & (EptVpidCapability.PageWalkLength4 | EptVpidCapability.PageWalkLength5)) != 0,
            "EPT is offered but no page-walk length is (A.10)");
        Require(!Offers(VmxFeature.Ept) || (EptVpidCapabilities & (EptVpidCapability.UncacheableType | EptVpidCapability.WriteBackType)) != 0,
            "EPT is offered but no paging-structure memory type is (A.10)");
        Require(VmFunctions == 0 || Offers(VmxFeature.VmFunctions), "VM functions are reported but \"enable VM functions\" may not be 1 (A.11)");
        Require((VmFunctions & VmFunction.EptpSwitching) == 0 || Offers(VmxFeature.Ept), "EPTP switching requires EPT (A.11)");
        return problems;
    }
}
