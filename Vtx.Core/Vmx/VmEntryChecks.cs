using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx.Vmx;

/// <summary>
/// One named VM-entry check of SDM Vol. 3C, 26.2-26.4 (2016 numbering): a stable dotted name, the
/// class of failure it produces (VMfailValid 7 or 8, or a VM-entry failure with exit reason 33 or 34)
/// and the SDM subsection that defines it. Every instance is declared once in
/// <see cref="VmEntryChecks"/>, which makes the whole set enumerable (<see cref="VmEntryChecks.All"/>).
/// </summary>
public sealed class VmEntryCheck
{
    internal VmEntryCheck(string name, VmEntryCheckClass cls, string section)
    {
        Name = name;
        Class = cls;
        Section = section;
        VmEntryChecks.Register(this);
    }

    /// <summary>The stable dotted name reported in <see cref="VmEntryFailure.Check"/>, e.g. <c>guest.interruptibility.sti-needs-if</c>.</summary>
    public string Name { get; }

    /// <summary>What a failure of this check produces: VMfailValid(7), VMfailValid(8), or a VM-entry failure with exit reason 33 or 34.</summary>
    public VmEntryCheckClass Class { get; }

    /// <summary>The SDM Vol. 3C subsection that defines the check (2016 numbering, e.g. "26.3.1.5").</summary>
    public string Section { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// The checks SDM Vol. 3C, 26.3.1.2 makes on one guest segment register (ES, CS, SS, DS, FS or GS):
/// named <c>guest.&lt;segment&gt;.&lt;check&gt;</c>.
/// </summary>
public sealed class VmEntrySegmentChecks
{
    internal VmEntrySegmentChecks(string segment)
    {
        Segment = segment;
        VmEntryCheck G(string check) => new($"guest.{segment}.{check}", GuestState, "26.3.1.2");
        V86Base = G("v86-base");
        V86Limit = G("v86-limit");
        V86AccessRights = G("v86-access-rights");
        Base = G("base");
        Type = G("type");
        S = G("s");
        Present = G("present");
        Reserved = G("reserved");
        Granularity = G("granularity");
        Dpl = G("dpl");
    }

    /// <summary>The segment's lower-case name ("es", "cs", "ss", "ds", "fs", "gs").</summary>
    public string Segment { get; }

    /// <summary>In virtual-8086 mode the base must be the selector shifted left 4.</summary>
    public VmEntryCheck V86Base { get; }

    /// <summary>In virtual-8086 mode the limit must be FFFFh.</summary>
    public VmEntryCheck V86Limit { get; }

    /// <summary>In virtual-8086 mode the access rights must be 000000F3h.</summary>
    public VmEntryCheck V86AccessRights { get; }

    /// <summary>Base bits 63:32 must be 0 (CS; SS, DS, ES when usable), or the base must be canonical (FS, GS).</summary>
    public VmEntryCheck Base { get; }

    /// <summary>The segment type: CS an accessed code segment (type 3 too with unrestricted guest), SS a read/write accessed data segment, the others accessed and, if code, readable.</summary>
    public VmEntryCheck Type { get; }

    /// <summary>Code and data segments must have the descriptor-type flag S = 1.</summary>
    public VmEntryCheck S { get; }

    /// <summary>A usable segment must be present (P = 1).</summary>
    public VmEntryCheck Present { get; }

    /// <summary>Access-rights bits 11:8 and 31:17 must be 0.</summary>
    public VmEntryCheck Reserved { get; }

    /// <summary>G must be 1 if any of limit[31:20] is 1, and 0 unless limit[11:0] are all 1.</summary>
    public VmEntryCheck Granularity { get; }

    /// <summary>The DPL rules: CS against SS.DPL (non-conforming equal, conforming not above; 0 for type 3), SS.DPL equal to SS.RPL, a data segment's DPL not below its RPL.</summary>
    public VmEntryCheck Dpl { get; }
}

/// <summary>
/// Every VM-entry check Vtx makes (SDM Vol. 3C, 26.2-26.4), declared once here in the order the
/// processor makes them; <see cref="All"/> enumerates them. A new check is a new field here (or in
/// <see cref="VmEntrySegmentChecks"/>) used by one <c>Fail</c> in a Cpu.VmEntryChecks.*.cs file.
/// </summary>
public static class VmEntryChecks
{
    private static List<VmEntryCheck>? s_all;
    private static Dictionary<string, VmEntryCheck>? s_byName;

    // Each check adds itself as the type initializer creates it: one declaration, no parallel list.
    internal static void Register(VmEntryCheck check) => (s_all ??= []).Add(check);

    /// <summary>All named VM-entry checks, in declaration order (controls, host state, guest state, MSR loading).</summary>
    public static IReadOnlyList<VmEntryCheck> All => s_all!;

    /// <summary>The check with the given dotted name, or null.</summary>
    public static VmEntryCheck? ByName(string name)
    {
        var map = s_byName;
        if (map is null)
        {
            map = new Dictionary<string, VmEntryCheck>(StringComparer.Ordinal);
            foreach (var c in All) map.Add(c.Name, c);
            s_byName = map;
        }
        return map.GetValueOrDefault(name);
    }

    // ---- 26.2.1 control fields: VMfailValid(7)

    /// <summary>Pin-based controls must obey the allowed 0- and 1-settings of IA32_VMX_(TRUE_)PINBASED_CTLS. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlPinBasedAllowedSettings = new("control.pin-based.allowed-settings", ControlFields, "26.2.1.1");

    /// <summary>Primary processor-based controls must obey IA32_VMX_(TRUE_)PROCBASED_CTLS. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlPrimaryAllowedSettings = new("control.primary.allowed-settings", ControlFields, "26.2.1.1");

    /// <summary>Secondary processor-based controls must obey IA32_VMX_PROCBASED_CTLS2. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlSecondaryAllowedSettings = new("control.secondary.allowed-settings", ControlFields, "26.2.1.1");

    /// <summary>Tertiary controls must obey IA32_VMX_PROCBASED_CTLS3. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlTertiaryAllowedSettings = new("control.tertiary.allowed-settings", ControlFields, "26.2.1.1");

    /// <summary>The CR3-target count must not exceed IA32_VMX_MISC[24:16] (N). SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlCr3TargetCount = new("control.cr3-target-count", ControlFields, "26.2.1.1");

    /// <summary>TPR threshold bits 31:4 must be 0. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlTprThresholdReserved = new("control.tpr-threshold.reserved", ControlFields, "26.2.1.1");

    /// <summary>TPR threshold[3:0] must not exceed VTPR[7:4] of the virtual-APIC page. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlTprThresholdVtpr = new("control.tpr-threshold.vtpr", ControlFields, "26.2.1.1");

    /// <summary>Virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery need "use TPR shadow". SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlTprShadowRequired = new("control.tpr-shadow.required", ControlFields, "26.2.1.1");

    /// <summary>"virtual NMIs" requires "NMI exiting". SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVirtualNmisNeedNmiExiting = new("control.virtual-nmis.need-nmi-exiting", ControlFields, "26.2.1.1");

    /// <summary>"NMI-window exiting" requires "virtual NMIs". SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlNmiWindowNeedVirtualNmis = new("control.nmi-window.need-virtual-nmis", ControlFields, "26.2.1.1");

    /// <summary>"virtualize APIC accesses" and "virtualize x2APIC mode" are exclusive. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlApicVirtualizationExclusive = new("control.apic-virtualization.exclusive", ControlFields, "26.2.1.1");

    /// <summary>Virtual-interrupt delivery requires external-interrupt exiting. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVirtualInterruptDeliveryNeedExternalInterruptExiting = new("control.virtual-interrupt-delivery.need-external-interrupt-exiting", ControlFields, "26.2.1.1");

    /// <summary>Posted interrupts need virtual-interrupt delivery, acknowledge-interrupt-on-exit, a notification vector below 256 and a 64-byte aligned descriptor. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlPostedInterrupts = new("control.posted-interrupts", ControlFields, "26.2.1.1");

    /// <summary>With "enable VPID" the VPID must not be 0000h. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVpidNonzero = new("control.vpid.nonzero", ControlFields, "26.2.1.1");

    /// <summary>The EPT pointer must name an offered memory type and walk length, with reserved bits 0. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlEptp = new("control.eptp", ControlFields, "26.2.1.1");

    /// <summary>Unrestricted guest, PML, mode-based execute control and sub-page permissions need "enable EPT". SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlEptRequired = new("control.ept.required", ControlFields, "26.2.1.1");

    /// <summary>VM-function controls must obey IA32_VMX_VMFUNC. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVmFunctionsAllowed = new("control.vm-functions.allowed", ControlFields, "26.2.1.1");

    /// <summary>EPTP switching needs EPT and a 4-KiB aligned EPTP-list address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVmFunctionsEptpSwitching = new("control.vm-functions.eptp-switching", ControlFields, "26.2.1.1");

    /// <summary>I/O bitmap A. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlIoBitmapA = new("control.io-bitmap-a", ControlFields, "26.2.1.1");

    /// <summary>I/O bitmap B. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlIoBitmapB = new("control.io-bitmap-b", ControlFields, "26.2.1.1");

    /// <summary>The MSR-bitmap address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlMsrBitmap = new("control.msr-bitmap", ControlFields, "26.2.1.1");

    /// <summary>The virtual-APIC address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVirtualApicAddress = new("control.virtual-apic-address", ControlFields, "26.2.1.1");

    /// <summary>The APIC-access address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlApicAccessAddress = new("control.apic-access-address", ControlFields, "26.2.1.1");

    /// <summary>The PML address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlPmlAddress = new("control.pml-address", ControlFields, "26.2.1.1");

    /// <summary>The VMREAD-bitmap address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVmreadBitmap = new("control.vmread-bitmap", ControlFields, "26.2.1.1");

    /// <summary>The VMWRITE-bitmap address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVmwriteBitmap = new("control.vmwrite-bitmap", ControlFields, "26.2.1.1");

    /// <summary>The #VE-information address. SDM Vol. 3C, 26.2.1.1.</summary>
    public static readonly VmEntryCheck ControlVeInformationAddress = new("control.ve-information-address", ControlFields, "26.2.1.1");

    /// <summary>VM-exit controls must obey IA32_VMX_(TRUE_)EXIT_CTLS. SDM Vol. 3C, 26.2.1.2.</summary>
    public static readonly VmEntryCheck ControlExitAllowedSettings = new("control.exit.allowed-settings", ControlFields, "26.2.1.2");

    /// <summary>Secondary VM-exit controls must obey IA32_VMX_EXIT_CTLS2. SDM Vol. 3C, 26.2.1.2.</summary>
    public static readonly VmEntryCheck ControlExitSecondaryAllowedSettings = new("control.exit.secondary-allowed-settings", ControlFields, "26.2.1.2");

    /// <summary>"save VMX-preemption timer value" requires "activate VMX-preemption timer". SDM Vol. 3C, 26.2.1.2.</summary>
    public static readonly VmEntryCheck ControlExitSavePreemptionTimer = new("control.exit.save-preemption-timer", ControlFields, "26.2.1.2");

    /// <summary>With a nonzero VM-exit MSR-store count, the MSR-store address must be 16-byte aligned and the whole list within MAXPHYADDR. SDM Vol. 3C, 26.2.1.2.</summary>
    public static readonly VmEntryCheck ControlExitMsrStoreArea = new("control.exit.msr-store-area", ControlFields, "26.2.1.2");

    /// <summary>With a nonzero VM-exit MSR-load count, the MSR-load address must be 16-byte aligned and the whole list within MAXPHYADDR. SDM Vol. 3C, 26.2.1.2.</summary>
    public static readonly VmEntryCheck ControlExitMsrLoadArea = new("control.exit.msr-load-area", ControlFields, "26.2.1.2");

    /// <summary>VM-entry controls must obey IA32_VMX_(TRUE_)ENTRY_CTLS. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlEntryAllowedSettings = new("control.entry.allowed-settings", ControlFields, "26.2.1.3");

    /// <summary>Outside SMM "entry to SMM" and "deactivate dual-monitor treatment" must be 0. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlEntrySmm = new("control.entry.smm", ControlFields, "26.2.1.3");

    /// <summary>The interruption type must not be 1 (reserved), nor 7 without the monitor trap flag. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlInjectionType = new("control.injection.type", ControlFields, "26.2.1.3");

    /// <summary>An NMI must have vector 2, a hardware exception a vector below 32, an other event vector 0. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlInjectionVector = new("control.injection.vector", ControlFields, "26.2.1.3");

    /// <summary>"deliver error code" must be 1 exactly for hardware exceptions that push one (#DF, #TS, #NP, #SS, #GP, #PF, #AC) in protected mode. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlInjectionDeliverErrorCode = new("control.injection.deliver-error-code", ControlFields, "26.2.1.3");

    /// <summary>Bits 30:12 of the VM-entry interruption information must be 0. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlInjectionReserved = new("control.injection.reserved", ControlFields, "26.2.1.3");

    /// <summary>Bits 31:16 of the injected error code must be 0. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlInjectionErrorCodeReserved = new("control.injection.error-code-reserved", ControlFields, "26.2.1.3");

    /// <summary>Software interrupts and exceptions need an instruction length of 1..15 (0 if IA32_VMX_MISC[30]). SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlInjectionInstructionLength = new("control.injection.instruction-length", ControlFields, "26.2.1.3");

    /// <summary>With a nonzero VM-entry MSR-load count, the MSR-load address must be 16-byte aligned and the whole list within MAXPHYADDR. SDM Vol. 3C, 26.2.1.3.</summary>
    public static readonly VmEntryCheck ControlEntryMsrLoadArea = new("control.entry.msr-load-area", ControlFields, "26.2.1.3");

    // ---- 26.2.2-26.2.4 host state: VMfailValid(8)

    /// <summary>Host CR0 must obey IA32_VMX_CR0_FIXED0/FIXED1. SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostCr0FixedBits = new("host.cr0.fixed-bits", HostState, "26.2.2");

    /// <summary>Host CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1. SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostCr4FixedBits = new("host.cr4.fixed-bits", HostState, "26.2.2");

    /// <summary>CR4.CET = 1 requires CR0.WP = 1. SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostCr4CetNeedsWp = new("host.cr4.cet-needs-wp", HostState, "26.2.2");

    /// <summary>Host CR3 must not set bits at or above MAXPHYADDR. SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostCr3Width = new("host.cr3.width", HostState, "26.2.2");

    /// <summary>Host IA32_SYSENTER_ESP must be canonical. SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostSysenterEspCanonical = new("host.sysenter-esp.canonical", HostState, "26.2.2");

    /// <summary>Host IA32_SYSENTER_EIP must be canonical. SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostSysenterEipCanonical = new("host.sysenter-eip.canonical", HostState, "26.2.2");

    /// <summary>Each host IA32_PAT byte must be a valid memory type (0, 1, 4, 5, 6, 7). SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostPat = new("host.pat", HostState, "26.2.2");

    /// <summary>Host IA32_EFER reserved bits must be 0 and LMA, LME must equal "host address-space size". SDM Vol. 3C, 26.2.2.</summary>
    public static readonly VmEntryCheck HostEfer = new("host.efer", HostState, "26.2.2");

    /// <summary>Host selectors must have RPL = 0 and TI = 0. SDM Vol. 3C, 26.2.3.</summary>
    public static readonly VmEntryCheck HostSelectorRplTi = new("host.selector.rpl-ti", HostState, "26.2.3");

    /// <summary>The host CS selector must not be 0000h. SDM Vol. 3C, 26.2.3.</summary>
    public static readonly VmEntryCheck HostCsNonzero = new("host.cs.nonzero", HostState, "26.2.3");

    /// <summary>The host TR selector must not be 0000h. SDM Vol. 3C, 26.2.3.</summary>
    public static readonly VmEntryCheck HostTrNonzero = new("host.tr.nonzero", HostState, "26.2.3");

    /// <summary>The host SS selector must not be 0000h unless the host is 64-bit. SDM Vol. 3C, 26.2.3.</summary>
    public static readonly VmEntryCheck HostSsNonzero = new("host.ss.nonzero", HostState, "26.2.3");

    /// <summary>Host FS, GS, GDTR, IDTR and TR bases must be canonical. SDM Vol. 3C, 26.2.3.</summary>
    public static readonly VmEntryCheck HostBaseCanonical = new("host.base.canonical", HostState, "26.2.3");

    /// <summary>Outside IA-32e mode "IA-32e mode guest" and "host address-space size" must be 0. SDM Vol. 3C, 26.2.4.</summary>
    public static readonly VmEntryCheck HostAddressSpaceOutsideIa32e = new("host.address-space.outside-ia32e", HostState, "26.2.4");

    /// <summary>In IA-32e mode "host address-space size" must be 1. SDM Vol. 3C, 26.2.4.</summary>
    public static readonly VmEntryCheck HostAddressSpaceIa32e = new("host.address-space.ia32e", HostState, "26.2.4");

    /// <summary>A 32-bit host must have CR4.PCIDE = 0. SDM Vol. 3C, 26.2.4.</summary>
    public static readonly VmEntryCheck HostCr4Pcide = new("host.cr4.pcide", HostState, "26.2.4");

    /// <summary>A 32-bit host's RIP bits 63:32 must be 0. SDM Vol. 3C, 26.2.4.</summary>
    public static readonly VmEntryCheck HostRip32Bit = new("host.rip.32-bit", HostState, "26.2.4");

    /// <summary>A 64-bit host must have CR4.PAE = 1. SDM Vol. 3C, 26.2.4.</summary>
    public static readonly VmEntryCheck HostCr4Pae = new("host.cr4.pae", HostState, "26.2.4");

    /// <summary>A 64-bit host's RIP must be canonical. SDM Vol. 3C, 26.2.4.</summary>
    public static readonly VmEntryCheck HostRipCanonical = new("host.rip.canonical", HostState, "26.2.4");

    // ---- 26.3.1 guest state: VM-entry failure, exit reason 33

    /// <summary>Guest CR0 must obey IA32_VMX_CR0_FIXED0/FIXED1 (PE and PG exempt with unrestricted guest). SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestCr0FixedBits = new("guest.cr0.fixed-bits", GuestState, "26.3.1.1");

    /// <summary>Guest CR0.PG = 1 requires CR0.PE = 1. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestCr0PgNeedsPe = new("guest.cr0.pg-needs-pe", GuestState, "26.3.1.1");

    /// <summary>Guest CR4 must obey IA32_VMX_CR4_FIXED0/FIXED1. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestCr4FixedBits = new("guest.cr4.fixed-bits", GuestState, "26.3.1.1");

    /// <summary>CR4.CET = 1 requires CR0.WP = 1. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestCr4CetNeedsWp = new("guest.cr4.cet-needs-wp", GuestState, "26.3.1.1");

    /// <summary>With "load debug controls" DR7 bits 63:32 must be 0. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestDr7Upper = new("guest.dr7.upper", GuestState, "26.3.1.1");

    /// <summary>With "load debug controls" the IA32_DEBUGCTL bits this processor reserves must be 0. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestDebugctlReserved = new("guest.debugctl.reserved", GuestState, "26.3.1.1");

    /// <summary>An IA-32e mode guest needs CR0.PG = 1 and CR4.PAE = 1. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestIa32ePaging = new("guest.ia32e.paging", GuestState, "26.3.1.1");

    /// <summary>CR4.PCIDE must be 0 unless the guest is in IA-32e mode. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestCr4Pcide = new("guest.cr4.pcide", GuestState, "26.3.1.1");

    /// <summary>Guest CR3 must not set bits at or above MAXPHYADDR. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestCr3Width = new("guest.cr3.width", GuestState, "26.3.1.1");

    /// <summary>Guest IA32_SYSENTER_ESP must be canonical. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestSysenterEspCanonical = new("guest.sysenter-esp.canonical", GuestState, "26.3.1.1");

    /// <summary>Guest IA32_SYSENTER_EIP must be canonical. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestSysenterEipCanonical = new("guest.sysenter-eip.canonical", GuestState, "26.3.1.1");

    /// <summary>Each guest IA32_PAT byte must be a valid memory type. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestPat = new("guest.pat", GuestState, "26.3.1.1");

    /// <summary>Guest IA32_EFER reserved bits must be 0, LMA must equal "IA-32e mode guest", and with CR0.PG LME must equal LMA. SDM Vol. 3C, 26.3.1.1.</summary>
    public static readonly VmEntryCheck GuestEfer = new("guest.efer", GuestState, "26.3.1.1");

    /// <summary>The TR selector's TI flag must be 0. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestTrTi = new("guest.tr.ti", GuestState, "26.3.1.2");

    /// <summary>A usable LDTR selector's TI flag must be 0. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestLdtrTi = new("guest.ldtr.ti", GuestState, "26.3.1.2");

    /// <summary>SS.RPL must equal CS.RPL (unless virtual-8086 or unrestricted guest). SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestSsRpl = new("guest.ss.rpl", GuestState, "26.3.1.2");

    /// <summary>The TR base must be canonical. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestTrBase = new("guest.tr.base", GuestState, "26.3.1.2");

    /// <summary>A usable LDTR base must be canonical. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestLdtrBase = new("guest.ldtr.base", GuestState, "26.3.1.2");

    /// <summary>SS.DPL must be 0 with a type-3 CS or CR0.PE = 0. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestSsDplZero = new("guest.ss.dpl-zero", GuestState, "26.3.1.2");

    /// <summary>CS.D/B must be 0 when CS.L = 1 in an IA-32e mode guest. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestCsLAndDb = new("guest.cs.l-and-db", GuestState, "26.3.1.2");

    /// <summary>TR must be usable and a busy TSS (type 11, or 3 outside IA-32e mode). SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestTrType = new("guest.tr.type", GuestState, "26.3.1.2");

    /// <summary>TR must be a present system segment with reserved bits 0 and consistent granularity. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestTrAccessRights = new("guest.tr.access-rights", GuestState, "26.3.1.2");

    /// <summary>A usable LDTR must be a present LDT descriptor (type 2, S = 0) with consistent granularity. SDM Vol. 3C, 26.3.1.2.</summary>
    public static readonly VmEntryCheck GuestLdtrAccessRights = new("guest.ldtr.access-rights", GuestState, "26.3.1.2");

    /// <summary>The GDTR base must be canonical. SDM Vol. 3C, 26.3.1.3.</summary>
    public static readonly VmEntryCheck GuestGdtrBase = new("guest.gdtr.base", GuestState, "26.3.1.3");

    /// <summary>The IDTR base must be canonical. SDM Vol. 3C, 26.3.1.3.</summary>
    public static readonly VmEntryCheck GuestIdtrBase = new("guest.idtr.base", GuestState, "26.3.1.3");

    /// <summary>GDTR limit bits 31:16 must be 0. SDM Vol. 3C, 26.3.1.3.</summary>
    public static readonly VmEntryCheck GuestGdtrLimit = new("guest.gdtr.limit", GuestState, "26.3.1.3");

    /// <summary>IDTR limit bits 31:16 must be 0. SDM Vol. 3C, 26.3.1.3.</summary>
    public static readonly VmEntryCheck GuestIdtrLimit = new("guest.idtr.limit", GuestState, "26.3.1.3");

    /// <summary>RIP bits 63:32 must be 0 outside 64-bit mode. SDM Vol. 3C, 26.3.1.4.</summary>
    public static readonly VmEntryCheck GuestRipUpper = new("guest.rip.upper", GuestState, "26.3.1.4");

    /// <summary>RIP must be canonical in 64-bit mode. SDM Vol. 3C, 26.3.1.4.</summary>
    public static readonly VmEntryCheck GuestRipCanonical = new("guest.rip.canonical", GuestState, "26.3.1.4");

    /// <summary>RFLAGS bits 63:22, 15, 5, 3 must be 0 and bit 1 must be 1. SDM Vol. 3C, 26.3.1.4.</summary>
    public static readonly VmEntryCheck GuestRflagsReserved = new("guest.rflags.reserved", GuestState, "26.3.1.4");

    /// <summary>RFLAGS.VM must be 0 in an IA-32e mode guest or with CR0.PE = 0. SDM Vol. 3C, 26.3.1.4.</summary>
    public static readonly VmEntryCheck GuestRflagsVm = new("guest.rflags.vm", GuestState, "26.3.1.4");

    /// <summary>RFLAGS.IF must be 1 when injecting an external interrupt. SDM Vol. 3C, 26.3.1.4.</summary>
    public static readonly VmEntryCheck GuestRflagsIfForExternalInterrupt = new("guest.rflags.if-for-external-interrupt", GuestState, "26.3.1.4");

    /// <summary>The activity state must be 0..3 and offered by IA32_VMX_MISC[8:6]. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestActivitySupported = new("guest.activity.supported", GuestState, "26.3.1.5");

    /// <summary>The HLT activity state needs SS.DPL = 0. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestActivityHltNeedsCpl0 = new("guest.activity.hlt-needs-cpl0", GuestState, "26.3.1.5");

    /// <summary>Blocking by STI or MOV SS requires the active state. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestActivityBlockingNeedsActive = new("guest.activity.blocking-needs-active", GuestState, "26.3.1.5");

    /// <summary>The event injected is not allowed in this activity state (HLT: interrupts, NMI, #DB, #MC, MTF; shutdown: NMI, #MC; wait-for-SIPI: none). SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestActivityInjection = new("guest.activity.injection", GuestState, "26.3.1.5");

    /// <summary>Interruptibility bits 31:4 must be 0 (no SGX). SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilityReserved = new("guest.interruptibility.reserved", GuestState, "26.3.1.5");

    /// <summary>Blocking by STI and by MOV SS cannot both be set. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilityStiAndMovSs = new("guest.interruptibility.sti-and-mov-ss", GuestState, "26.3.1.5");

    /// <summary>Blocking by STI requires RFLAGS.IF = 1. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilityStiNeedsIf = new("guest.interruptibility.sti-needs-if", GuestState, "26.3.1.5");

    /// <summary>Injecting an external interrupt requires no blocking by STI or MOV SS. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilityExternalInterruptInjection = new("guest.interruptibility.external-interrupt-injection", GuestState, "26.3.1.5");

    /// <summary>Injecting an NMI requires no blocking by MOV SS. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilityNmiInjectionMovSs = new("guest.interruptibility.nmi-injection-mov-ss", GuestState, "26.3.1.5");

    /// <summary>Blocking by SMI must be 0 outside SMM. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilitySmi = new("guest.interruptibility.smi", GuestState, "26.3.1.5");

    /// <summary>With virtual NMIs, injecting an NMI requires no virtual-NMI blocking. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestInterruptibilityNmiInjectionVirtualNmiBlocking = new("guest.interruptibility.nmi-injection-virtual-nmi-blocking", GuestState, "26.3.1.5");

    /// <summary>Pending debug exceptions bits 11:4, 13, 15 and 63:17 must be 0. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestPendingDebugReserved = new("guest.pending-debug.reserved", GuestState, "26.3.1.5");

    /// <summary>With STI/MOV SS blocking or HLT, BS must be 1 when RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestPendingDebugBsSet = new("guest.pending-debug.bs-set", GuestState, "26.3.1.5");

    /// <summary>With STI/MOV SS blocking or HLT, BS must be 0 when RFLAGS.TF = 0 or BTF = 1. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestPendingDebugBsClear = new("guest.pending-debug.bs-clear", GuestState, "26.3.1.5");

    /// <summary>The RTM bit needs RTM, which the model does not offer. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestPendingDebugRtm = new("guest.pending-debug.rtm", GuestState, "26.3.1.5");

    /// <summary>The VMCS link pointer must be FFFFFFFF_FFFFFFFFh or name a 4-KiB aligned VMCS (shadow iff VMCS shadowing) other than the current one. SDM Vol. 3C, 26.3.1.5.</summary>
    public static readonly VmEntryCheck GuestVmcsLinkPointer = new("guest.vmcs-link-pointer", GuestState, "26.3.1.5");

    /// <summary>With EPT and PAE paging, no present guest PDPTE field may set a reserved bit (qualification 2). SDM Vol. 3C, 26.3.1.6.</summary>
    public static readonly VmEntryCheck GuestPdpteFields = new("guest.pdpte-fields", GuestState, "26.3.1.6");

    /// <summary>Without EPT and with PAE paging, no present PDPTE referenced by guest CR3 may set a reserved bit (qualification 2). SDM Vol. 3C, 26.3.1.6.</summary>
    public static readonly VmEntryCheck GuestPdptes = new("guest.pdptes", GuestState, "26.3.1.6");

    // ---- 26.4 MSR loading: VM-entry failure, exit reason 34

    /// <summary>Each entry of the VM-entry MSR-load list must have reserved bits 0, name an MSR that may be loaded (not FS/GS base, x2APIC, SMM) and hold a value WRMSR would accept; the failing entry's 1-based index is the exit qualification. SDM Vol. 3C, 26.4.</summary>
    public static readonly VmEntryCheck MsrLoadEntry = new("msr-load.entry", MsrLoading, "26.4");


    // ---- 26.3.1.2 the per-segment checks

    /// <summary>The ES checks (SDM Vol. 3C, 26.3.1.2).</summary>
    public static readonly VmEntrySegmentChecks GuestEs = new("es");

    /// <summary>The CS checks (SDM Vol. 3C, 26.3.1.2).</summary>
    public static readonly VmEntrySegmentChecks GuestCs = new("cs");

    /// <summary>The SS checks (SDM Vol. 3C, 26.3.1.2).</summary>
    public static readonly VmEntrySegmentChecks GuestSs = new("ss");

    /// <summary>The DS checks (SDM Vol. 3C, 26.3.1.2).</summary>
    public static readonly VmEntrySegmentChecks GuestDs = new("ds");

    /// <summary>The FS checks (SDM Vol. 3C, 26.3.1.2).</summary>
    public static readonly VmEntrySegmentChecks GuestFs = new("fs");

    /// <summary>The GS checks (SDM Vol. 3C, 26.3.1.2).</summary>
    public static readonly VmEntrySegmentChecks GuestGs = new("gs");

    /// <summary>The per-segment checks indexed by <see cref="SegmentRegister"/> (ES, CS, SS, DS, FS, GS).</summary>
    public static readonly IReadOnlyList<VmEntrySegmentChecks> GuestSegments = [GuestEs, GuestCs, GuestSs, GuestDs, GuestFs, GuestGs];
}
