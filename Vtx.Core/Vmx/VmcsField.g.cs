// Generated from VmcsFields.txt by Vtx.Tests/Vmx/VmcsFieldsGenerator.cs: do not edit by hand.
// Edit VmcsFields.txt and run scripts/gen-vmcs-fields.sh; VmcsFieldsGeneratorTests fails while this file is stale.

namespace Vtx.Vmx;

/// <summary>
/// The full-access encodings of the architectural VMCS fields as constants, for switch statements
/// (SDM Vol. 3C, Appendix B). The high access of a 64-bit field is its constant + 1.
/// </summary>
public static class VmcsEncoding
{
    /// <summary>Virtual-processor identifier (VPID): 16-bit control field, encoding 0x0000 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.Vpid"/>.</summary>
    public const uint VirtualProcessorId = 0x0000;
    /// <summary>Posted-interrupt notification vector: 16-bit control field, encoding 0x0002 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.PostedInterrupts"/>.</summary>
    public const uint PostedInterruptNotificationVector = 0x0002;
    /// <summary>EPTP index: 16-bit control field, encoding 0x0004 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.EptViolationVe"/>.</summary>
    public const uint EptpIndex = 0x0004;
    /// <summary>HLAT prefix size: 16-bit control field, encoding 0x0006 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.Hlat"/>. Recent addition.</summary>
    public const uint HlatPrefixSize = 0x0006;
    /// <summary>Last PID-pointer index: 16-bit control field, encoding 0x0008 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.IpiVirtualization"/>. Recent addition.</summary>
    public const uint LastPidPointerIndex = 0x0008;
    /// <summary>Virtual-timer vector: 16-bit control field, encoding 0x000A (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.ApicTimerVirtualization"/>. Recent addition.</summary>
    public const uint VirtualTimerVector = 0x000A;
    /// <summary>Guest ES selector: 16-bit guest-state field, encoding 0x0800 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestEsSelector = 0x0800;
    /// <summary>Guest CS selector: 16-bit guest-state field, encoding 0x0802 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestCsSelector = 0x0802;
    /// <summary>Guest SS selector: 16-bit guest-state field, encoding 0x0804 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestSsSelector = 0x0804;
    /// <summary>Guest DS selector: 16-bit guest-state field, encoding 0x0806 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestDsSelector = 0x0806;
    /// <summary>Guest FS selector: 16-bit guest-state field, encoding 0x0808 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestFsSelector = 0x0808;
    /// <summary>Guest GS selector: 16-bit guest-state field, encoding 0x080A (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestGsSelector = 0x080A;
    /// <summary>Guest LDTR selector: 16-bit guest-state field, encoding 0x080C (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestLdtrSelector = 0x080C;
    /// <summary>Guest TR selector: 16-bit guest-state field, encoding 0x080E (SDM Vol. 3C, Appendix B.1.2).</summary>
    public const uint GuestTrSelector = 0x080E;
    /// <summary>Guest interrupt status (RVI in bits 7:0, SVI in bits 15:8): 16-bit guest-state field, encoding 0x0810 (SDM Vol. 3C, Appendix B.1.2). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public const uint GuestInterruptStatus = 0x0810;
    /// <summary>PML index: 16-bit guest-state field, encoding 0x0812 (SDM Vol. 3C, Appendix B.1.2). Exists only on processors offering <see cref="VmxFeature.Pml"/>.</summary>
    public const uint PmlIndex = 0x0812;
    /// <summary>Guest UINV (user-interrupt notification vector): 16-bit guest-state field, encoding 0x0814 (SDM Vol. 3C, Appendix B.1.2). Exists only on processors offering <see cref="VmxFeature.Uinv"/>. Recent addition.</summary>
    public const uint GuestUinv = 0x0814;
    /// <summary>Host ES selector: 16-bit host-state field, encoding 0x0C00 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostEsSelector = 0x0C00;
    /// <summary>Host CS selector: 16-bit host-state field, encoding 0x0C02 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostCsSelector = 0x0C02;
    /// <summary>Host SS selector: 16-bit host-state field, encoding 0x0C04 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostSsSelector = 0x0C04;
    /// <summary>Host DS selector: 16-bit host-state field, encoding 0x0C06 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostDsSelector = 0x0C06;
    /// <summary>Host FS selector: 16-bit host-state field, encoding 0x0C08 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostFsSelector = 0x0C08;
    /// <summary>Host GS selector: 16-bit host-state field, encoding 0x0C0A (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostGsSelector = 0x0C0A;
    /// <summary>Host TR selector: 16-bit host-state field, encoding 0x0C0C (SDM Vol. 3C, Appendix B.1.3).</summary>
    public const uint HostTrSelector = 0x0C0C;
    /// <summary>Address of I/O bitmap A (ports 0000h-7FFFh): 64-bit control field, encoding 0x2000 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint IoBitmapA = 0x2000;
    /// <summary>Address of I/O bitmap B (ports 8000h-FFFFh): 64-bit control field, encoding 0x2002 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint IoBitmapB = 0x2002;
    /// <summary>Address of MSR bitmaps: 64-bit control field, encoding 0x2004 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.MsrBitmaps"/>.</summary>
    public const uint MsrBitmap = 0x2004;
    /// <summary>VM-exit MSR-store address: 64-bit control field, encoding 0x2006 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint VmExitMsrStoreAddress = 0x2006;
    /// <summary>VM-exit MSR-load address: 64-bit control field, encoding 0x2008 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint VmExitMsrLoadAddress = 0x2008;
    /// <summary>VM-entry MSR-load address: 64-bit control field, encoding 0x200A (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint VmEntryMsrLoadAddress = 0x200A;
    /// <summary>Executive-VMCS pointer: 64-bit control field, encoding 0x200C (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint ExecutiveVmcsPointer = 0x200C;
    /// <summary>PML address: 64-bit control field, encoding 0x200E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Pml"/>.</summary>
    public const uint PmlAddress = 0x200E;
    /// <summary>TSC offset: 64-bit control field, encoding 0x2010 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public const uint TscOffset = 0x2010;
    /// <summary>Virtual-APIC address: 64-bit control field, encoding 0x2012 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.TprShadow"/>.</summary>
    public const uint VirtualApicAddress = 0x2012;
    /// <summary>APIC-access address: 64-bit control field, encoding 0x2014 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualizeApicAccesses"/>.</summary>
    public const uint ApicAccessAddress = 0x2014;
    /// <summary>Posted-interrupt descriptor address: 64-bit control field, encoding 0x2016 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PostedInterrupts"/>.</summary>
    public const uint PostedInterruptDescriptorAddress = 0x2016;
    /// <summary>VM-function controls: 64-bit control field, encoding 0x2018 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VmFunctions"/>.</summary>
    public const uint VmFunctionControls = 0x2018;
    /// <summary>EPT pointer (EPTP): 64-bit control field, encoding 0x201A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public const uint EptPointer = 0x201A;
    /// <summary>EOI-exit bitmap 0 (vectors 0-63): 64-bit control field, encoding 0x201C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public const uint EoiExitBitmap0 = 0x201C;
    /// <summary>EOI-exit bitmap 1 (vectors 64-127): 64-bit control field, encoding 0x201E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public const uint EoiExitBitmap1 = 0x201E;
    /// <summary>EOI-exit bitmap 2 (vectors 128-191): 64-bit control field, encoding 0x2020 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public const uint EoiExitBitmap2 = 0x2020;
    /// <summary>EOI-exit bitmap 3 (vectors 192-255): 64-bit control field, encoding 0x2022 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public const uint EoiExitBitmap3 = 0x2022;
    /// <summary>EPTP-list address: 64-bit control field, encoding 0x2024 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EptpSwitching"/>.</summary>
    public const uint EptpListAddress = 0x2024;
    /// <summary>VMREAD-bitmap address: 64-bit control field, encoding 0x2026 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VmcsShadowing"/>.</summary>
    public const uint VmreadBitmapAddress = 0x2026;
    /// <summary>VMWRITE-bitmap address: 64-bit control field, encoding 0x2028 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VmcsShadowing"/>.</summary>
    public const uint VmwriteBitmapAddress = 0x2028;
    /// <summary>Virtualization-exception information address: 64-bit control field, encoding 0x202A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EptViolationVe"/>.</summary>
    public const uint VirtualizationExceptionInformationAddress = 0x202A;
    /// <summary>XSS-exiting bitmap: 64-bit control field, encoding 0x202C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Xsaves"/>.</summary>
    public const uint XssExitingBitmap = 0x202C;
    /// <summary>ENCLS-exiting bitmap: 64-bit control field, encoding 0x202E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EnclsExiting"/>.</summary>
    public const uint EnclsExitingBitmap = 0x202E;
    /// <summary>Sub-page-permission-table pointer: 64-bit control field, encoding 0x2030 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SubPageWritePermissions"/>.</summary>
    public const uint SubPagePermissionTablePointer = 0x2030;
    /// <summary>TSC multiplier: 64-bit control field, encoding 0x2032 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.TscScaling"/>.</summary>
    public const uint TscMultiplier = 0x2032;
    /// <summary>Tertiary processor-based VM-execution controls: 64-bit control field, encoding 0x2034 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.TertiaryControls"/>.</summary>
    public const uint TertiaryProcBasedVmExecControls = 0x2034;
    /// <summary>ENCLV-exiting bitmap: 64-bit control field, encoding 0x2036 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EnclvExiting"/>.</summary>
    public const uint EnclvExitingBitmap = 0x2036;
    /// <summary>Low PASID directory address: 64-bit control field, encoding 0x2038 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PasidTranslation"/>. Recent addition.</summary>
    public const uint LowPasidDirectoryAddress = 0x2038;
    /// <summary>High PASID directory address: 64-bit control field, encoding 0x203A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PasidTranslation"/>. Recent addition.</summary>
    public const uint HighPasidDirectoryAddress = 0x203A;
    /// <summary>Shared-EPT pointer (SEAM VMX operation): 64-bit control field, encoding 0x203C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Seam"/>. Recent addition.</summary>
    public const uint SharedEptPointer = 0x203C;
    /// <summary>PCONFIG-exiting bitmap: 64-bit control field, encoding 0x203E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PconfigExiting"/>.</summary>
    public const uint PconfigExitingBitmap = 0x203E;
    /// <summary>Hypervisor-managed linear-address translation pointer: 64-bit control field, encoding 0x2040 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Hlat"/>. Recent addition.</summary>
    public const uint HlatPointer = 0x2040;
    /// <summary>PID-pointer table address: 64-bit control field, encoding 0x2042 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.IpiVirtualization"/>. Recent addition.</summary>
    public const uint PidPointerTableAddress = 0x2042;
    /// <summary>Secondary VM-exit controls: 64-bit control field, encoding 0x2044 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SecondaryExitControls"/>. Recent addition.</summary>
    public const uint SecondaryVmExitControls = 0x2044;
    /// <summary>IA32_SPEC_CTRL mask: 64-bit control field, encoding 0x204A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SpecCtrlVirtualization"/>.</summary>
    public const uint SpecCtrlMask = 0x204A;
    /// <summary>IA32_SPEC_CTRL shadow: 64-bit control field, encoding 0x204C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SpecCtrlVirtualization"/>.</summary>
    public const uint SpecCtrlShadow = 0x204C;
    /// <summary>Virtual-timer guest-deadline shadow: 64-bit control field, encoding 0x204E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.ApicTimerVirtualization"/>. Recent addition.</summary>
    public const uint GuestDeadlineShadow = 0x204E;
    /// <summary>Injected-event data (FRED): 64-bit control field, encoding 0x2052 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>. Recent addition.</summary>
    public const uint InjectedEventData = 0x2052;
    /// <summary>Guest-physical address: 64-bit read-only data field, encoding 0x2400 (SDM Vol. 3C, Appendix B.2.2). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public const uint GuestPhysicalAddress = 0x2400;
    /// <summary>MSR data (RDMSRLIST/WRMSRLIST exits): 64-bit read-only data field, encoding 0x2402 (SDM Vol. 3C, Appendix B.2.2). Exists only on processors offering <see cref="VmxFeature.MsrList"/>. Recent addition.</summary>
    public const uint MsrData = 0x2402;
    /// <summary>Original-event data (FRED): 64-bit read-only data field, encoding 0x2404 (SDM Vol. 3C, Appendix B.2.2). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>. Recent addition.</summary>
    public const uint OriginalEventData = 0x2404;
    /// <summary>VMCS link pointer: 64-bit guest-state field, encoding 0x2800 (SDM Vol. 3C, Appendix B.2.3).</summary>
    public const uint VmcsLinkPointer = 0x2800;
    /// <summary>Guest IA32_DEBUGCTL: 64-bit guest-state field, encoding 0x2802 (SDM Vol. 3C, Appendix B.2.3).</summary>
    public const uint GuestDebugCtl = 0x2802;
    /// <summary>Guest IA32_PAT: 64-bit guest-state field, encoding 0x2804 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestPat"/>.</summary>
    public const uint GuestPat = 0x2804;
    /// <summary>Guest IA32_EFER: 64-bit guest-state field, encoding 0x2806 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestEfer"/>.</summary>
    public const uint GuestEfer = 0x2806;
    /// <summary>Guest IA32_PERF_GLOBAL_CTRL: 64-bit guest-state field, encoding 0x2808 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestPerfGlobalCtrl"/>.</summary>
    public const uint GuestPerfGlobalCtrl = 0x2808;
    /// <summary>Guest PDPTE0: 64-bit guest-state field, encoding 0x280A (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public const uint GuestPdpte0 = 0x280A;
    /// <summary>Guest PDPTE1: 64-bit guest-state field, encoding 0x280C (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public const uint GuestPdpte1 = 0x280C;
    /// <summary>Guest PDPTE2: 64-bit guest-state field, encoding 0x280E (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public const uint GuestPdpte2 = 0x280E;
    /// <summary>Guest PDPTE3: 64-bit guest-state field, encoding 0x2810 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public const uint GuestPdpte3 = 0x2810;
    /// <summary>Guest IA32_BNDCFGS: 64-bit guest-state field, encoding 0x2812 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestBndcfgs"/>.</summary>
    public const uint GuestBndcfgs = 0x2812;
    /// <summary>Guest IA32_RTIT_CTL: 64-bit guest-state field, encoding 0x2814 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestRtitCtl"/>.</summary>
    public const uint GuestRtitCtl = 0x2814;
    /// <summary>Guest IA32_LBR_CTL: 64-bit guest-state field, encoding 0x2816 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestLbrCtl"/>.</summary>
    public const uint GuestLbrCtl = 0x2816;
    /// <summary>Guest IA32_PKRS: 64-bit guest-state field, encoding 0x2818 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestPkrs"/>.</summary>
    public const uint GuestPkrs = 0x2818;
    /// <summary>Guest IA32_FRED_CONFIG: 64-bit guest-state field, encoding 0x281A (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredConfig = 0x281A;
    /// <summary>Guest IA32_FRED_RSP1: 64-bit guest-state field, encoding 0x281C (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredRsp1 = 0x281C;
    /// <summary>Guest IA32_FRED_RSP2: 64-bit guest-state field, encoding 0x281E (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredRsp2 = 0x281E;
    /// <summary>Guest IA32_FRED_RSP3: 64-bit guest-state field, encoding 0x2820 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredRsp3 = 0x2820;
    /// <summary>Guest IA32_FRED_STKLVLS: 64-bit guest-state field, encoding 0x2822 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredStackLevels = 0x2822;
    /// <summary>Guest IA32_FRED_SSP1: 64-bit guest-state field, encoding 0x2824 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredSsp1 = 0x2824;
    /// <summary>Guest IA32_FRED_SSP2: 64-bit guest-state field, encoding 0x2826 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredSsp2 = 0x2826;
    /// <summary>Guest IA32_FRED_SSP3: 64-bit guest-state field, encoding 0x2828 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public const uint GuestFredSsp3 = 0x2828;
    /// <summary>Guest IA32_SPEC_CTRL: 64-bit guest-state field, encoding 0x282E (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestSpecCtrl"/>.</summary>
    public const uint GuestSpecCtrl = 0x282E;
    /// <summary>Virtual-timer guest deadline: 64-bit guest-state field, encoding 0x2830 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.ApicTimerVirtualization"/>. Recent addition.</summary>
    public const uint GuestDeadline = 0x2830;
    /// <summary>Host IA32_PAT: 64-bit host-state field, encoding 0x2C00 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostPat"/>.</summary>
    public const uint HostPat = 0x2C00;
    /// <summary>Host IA32_EFER: 64-bit host-state field, encoding 0x2C02 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostEfer"/>.</summary>
    public const uint HostEfer = 0x2C02;
    /// <summary>Host IA32_PERF_GLOBAL_CTRL: 64-bit host-state field, encoding 0x2C04 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostPerfGlobalCtrl"/>.</summary>
    public const uint HostPerfGlobalCtrl = 0x2C04;
    /// <summary>Host IA32_PKRS: 64-bit host-state field, encoding 0x2C06 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostPkrs"/>.</summary>
    public const uint HostPkrs = 0x2C06;
    /// <summary>Host IA32_FRED_CONFIG: 64-bit host-state field, encoding 0x2C08 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredConfig = 0x2C08;
    /// <summary>Host IA32_FRED_RSP1: 64-bit host-state field, encoding 0x2C0A (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredRsp1 = 0x2C0A;
    /// <summary>Host IA32_FRED_RSP2: 64-bit host-state field, encoding 0x2C0C (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredRsp2 = 0x2C0C;
    /// <summary>Host IA32_FRED_RSP3: 64-bit host-state field, encoding 0x2C0E (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredRsp3 = 0x2C0E;
    /// <summary>Host IA32_FRED_STKLVLS: 64-bit host-state field, encoding 0x2C10 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredStackLevels = 0x2C10;
    /// <summary>Host IA32_FRED_SSP1: 64-bit host-state field, encoding 0x2C12 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredSsp1 = 0x2C12;
    /// <summary>Host IA32_FRED_SSP2: 64-bit host-state field, encoding 0x2C14 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredSsp2 = 0x2C14;
    /// <summary>Host IA32_FRED_SSP3: 64-bit host-state field, encoding 0x2C16 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public const uint HostFredSsp3 = 0x2C16;
    /// <summary>Host IA32_SPEC_CTRL: 64-bit host-state field, encoding 0x2C1A (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostSpecCtrl"/>.</summary>
    public const uint HostSpecCtrl = 0x2C1A;
    /// <summary>Pin-based VM-execution controls: 32-bit control field, encoding 0x4000 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint PinBasedVmExecControls = 0x4000;
    /// <summary>Primary processor-based VM-execution controls: 32-bit control field, encoding 0x4002 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint PrimaryProcBasedVmExecControls = 0x4002;
    /// <summary>Exception bitmap: 32-bit control field, encoding 0x4004 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint ExceptionBitmap = 0x4004;
    /// <summary>Page-fault error-code mask: 32-bit control field, encoding 0x4006 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint PageFaultErrorCodeMask = 0x4006;
    /// <summary>Page-fault error-code match: 32-bit control field, encoding 0x4008 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint PageFaultErrorCodeMatch = 0x4008;
    /// <summary>CR3-target count: 32-bit control field, encoding 0x400A (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint Cr3TargetCount = 0x400A;
    /// <summary>Primary VM-exit controls: 32-bit control field, encoding 0x400C (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmExitControls = 0x400C;
    /// <summary>VM-exit MSR-store count: 32-bit control field, encoding 0x400E (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmExitMsrStoreCount = 0x400E;
    /// <summary>VM-exit MSR-load count: 32-bit control field, encoding 0x4010 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmExitMsrLoadCount = 0x4010;
    /// <summary>VM-entry controls: 32-bit control field, encoding 0x4012 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmEntryControls = 0x4012;
    /// <summary>VM-entry MSR-load count: 32-bit control field, encoding 0x4014 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmEntryMsrLoadCount = 0x4014;
    /// <summary>VM-entry interruption-information field: 32-bit control field, encoding 0x4016 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmEntryInterruptionInformation = 0x4016;
    /// <summary>VM-entry exception error code: 32-bit control field, encoding 0x4018 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmEntryExceptionErrorCode = 0x4018;
    /// <summary>VM-entry instruction length: 32-bit control field, encoding 0x401A (SDM Vol. 3C, Appendix B.3.1).</summary>
    public const uint VmEntryInstructionLength = 0x401A;
    /// <summary>TPR threshold: 32-bit control field, encoding 0x401C (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.TprShadow"/>.</summary>
    public const uint TprThreshold = 0x401C;
    /// <summary>Secondary processor-based VM-execution controls: 32-bit control field, encoding 0x401E (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.SecondaryControls"/>.</summary>
    public const uint SecondaryProcBasedVmExecControls = 0x401E;
    /// <summary>PAUSE-loop exiting gap (PLE_Gap): 32-bit control field, encoding 0x4020 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.PauseLoopExiting"/>.</summary>
    public const uint PleGap = 0x4020;
    /// <summary>PAUSE-loop exiting window (PLE_Window): 32-bit control field, encoding 0x4022 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.PauseLoopExiting"/>.</summary>
    public const uint PleWindow = 0x4022;
    /// <summary>Instruction-timeout control (notify window): 32-bit control field, encoding 0x4024 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.InstructionTimeout"/>.</summary>
    public const uint InstructionTimeoutControl = 0x4024;
    /// <summary>Guest KeyID (SEAM VMX operation): 32-bit control field, encoding 0x4026 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.Seam"/>. Recent addition.</summary>
    public const uint SeamGuestKeyId = 0x4026;
    /// <summary>VM-instruction error: 32-bit read-only data field, encoding 0x4400 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint VmInstructionError = 0x4400;
    /// <summary>Exit reason: 32-bit read-only data field, encoding 0x4402 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint ExitReason = 0x4402;
    /// <summary>VM-exit interruption information: 32-bit read-only data field, encoding 0x4404 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint VmExitInterruptionInformation = 0x4404;
    /// <summary>VM-exit interruption error code: 32-bit read-only data field, encoding 0x4406 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint VmExitInterruptionErrorCode = 0x4406;
    /// <summary>IDT-vectoring information field: 32-bit read-only data field, encoding 0x4408 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint IdtVectoringInformation = 0x4408;
    /// <summary>IDT-vectoring error code: 32-bit read-only data field, encoding 0x440A (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint IdtVectoringErrorCode = 0x440A;
    /// <summary>VM-exit instruction length: 32-bit read-only data field, encoding 0x440C (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint VmExitInstructionLength = 0x440C;
    /// <summary>VM-exit instruction information: 32-bit read-only data field, encoding 0x440E (SDM Vol. 3C, Appendix B.3.2).</summary>
    public const uint VmExitInstructionInformation = 0x440E;
    /// <summary>Guest ES limit: 32-bit guest-state field, encoding 0x4800 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestEsLimit = 0x4800;
    /// <summary>Guest CS limit: 32-bit guest-state field, encoding 0x4802 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestCsLimit = 0x4802;
    /// <summary>Guest SS limit: 32-bit guest-state field, encoding 0x4804 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestSsLimit = 0x4804;
    /// <summary>Guest DS limit: 32-bit guest-state field, encoding 0x4806 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestDsLimit = 0x4806;
    /// <summary>Guest FS limit: 32-bit guest-state field, encoding 0x4808 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestFsLimit = 0x4808;
    /// <summary>Guest GS limit: 32-bit guest-state field, encoding 0x480A (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestGsLimit = 0x480A;
    /// <summary>Guest LDTR limit: 32-bit guest-state field, encoding 0x480C (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestLdtrLimit = 0x480C;
    /// <summary>Guest TR limit: 32-bit guest-state field, encoding 0x480E (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestTrLimit = 0x480E;
    /// <summary>Guest GDTR limit: 32-bit guest-state field, encoding 0x4810 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestGdtrLimit = 0x4810;
    /// <summary>Guest IDTR limit: 32-bit guest-state field, encoding 0x4812 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestIdtrLimit = 0x4812;
    /// <summary>Guest ES access rights: 32-bit guest-state field, encoding 0x4814 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestEsAccessRights = 0x4814;
    /// <summary>Guest CS access rights: 32-bit guest-state field, encoding 0x4816 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestCsAccessRights = 0x4816;
    /// <summary>Guest SS access rights: 32-bit guest-state field, encoding 0x4818 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestSsAccessRights = 0x4818;
    /// <summary>Guest DS access rights: 32-bit guest-state field, encoding 0x481A (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestDsAccessRights = 0x481A;
    /// <summary>Guest FS access rights: 32-bit guest-state field, encoding 0x481C (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestFsAccessRights = 0x481C;
    /// <summary>Guest GS access rights: 32-bit guest-state field, encoding 0x481E (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestGsAccessRights = 0x481E;
    /// <summary>Guest LDTR access rights: 32-bit guest-state field, encoding 0x4820 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestLdtrAccessRights = 0x4820;
    /// <summary>Guest TR access rights: 32-bit guest-state field, encoding 0x4822 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestTrAccessRights = 0x4822;
    /// <summary>Guest interruptibility state: 32-bit guest-state field, encoding 0x4824 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestInterruptibilityState = 0x4824;
    /// <summary>Guest activity state: 32-bit guest-state field, encoding 0x4826 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestActivityState = 0x4826;
    /// <summary>Guest SMBASE: 32-bit guest-state field, encoding 0x4828 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestSmbase = 0x4828;
    /// <summary>Guest IA32_SYSENTER_CS: 32-bit guest-state field, encoding 0x482A (SDM Vol. 3C, Appendix B.3.3).</summary>
    public const uint GuestSysenterCs = 0x482A;
    /// <summary>VMX-preemption timer value: 32-bit guest-state field, encoding 0x482E (SDM Vol. 3C, Appendix B.3.3). Exists only on processors offering <see cref="VmxFeature.PreemptionTimer"/>.</summary>
    public const uint VmxPreemptionTimerValue = 0x482E;
    /// <summary>Host IA32_SYSENTER_CS: 32-bit host-state field, encoding 0x4C00 (SDM Vol. 3C, Appendix B.3.4).</summary>
    public const uint HostSysenterCs = 0x4C00;
    /// <summary>CR0 guest/host mask: natural-width control field, encoding 0x6000 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr0GuestHostMask = 0x6000;
    /// <summary>CR4 guest/host mask: natural-width control field, encoding 0x6002 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr4GuestHostMask = 0x6002;
    /// <summary>CR0 read shadow: natural-width control field, encoding 0x6004 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr0ReadShadow = 0x6004;
    /// <summary>CR4 read shadow: natural-width control field, encoding 0x6006 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr4ReadShadow = 0x6006;
    /// <summary>CR3-target value 0: natural-width control field, encoding 0x6008 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr3TargetValue0 = 0x6008;
    /// <summary>CR3-target value 1: natural-width control field, encoding 0x600A (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr3TargetValue1 = 0x600A;
    /// <summary>CR3-target value 2: natural-width control field, encoding 0x600C (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr3TargetValue2 = 0x600C;
    /// <summary>CR3-target value 3: natural-width control field, encoding 0x600E (SDM Vol. 3C, Appendix B.4.1).</summary>
    public const uint Cr3TargetValue3 = 0x600E;
    /// <summary>Exit qualification: natural-width read-only data field, encoding 0x6400 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public const uint ExitQualification = 0x6400;
    /// <summary>I/O RCX: natural-width read-only data field, encoding 0x6402 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public const uint IoRcx = 0x6402;
    /// <summary>I/O RSI: natural-width read-only data field, encoding 0x6404 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public const uint IoRsi = 0x6404;
    /// <summary>I/O RDI: natural-width read-only data field, encoding 0x6406 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public const uint IoRdi = 0x6406;
    /// <summary>I/O RIP: natural-width read-only data field, encoding 0x6408 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public const uint IoRip = 0x6408;
    /// <summary>Guest-linear address: natural-width read-only data field, encoding 0x640A (SDM Vol. 3C, Appendix B.4.2).</summary>
    public const uint GuestLinearAddress = 0x640A;
    /// <summary>Guest CR0: natural-width guest-state field, encoding 0x6800 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestCr0 = 0x6800;
    /// <summary>Guest CR3: natural-width guest-state field, encoding 0x6802 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestCr3 = 0x6802;
    /// <summary>Guest CR4: natural-width guest-state field, encoding 0x6804 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestCr4 = 0x6804;
    /// <summary>Guest ES base: natural-width guest-state field, encoding 0x6806 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestEsBase = 0x6806;
    /// <summary>Guest CS base: natural-width guest-state field, encoding 0x6808 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestCsBase = 0x6808;
    /// <summary>Guest SS base: natural-width guest-state field, encoding 0x680A (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestSsBase = 0x680A;
    /// <summary>Guest DS base: natural-width guest-state field, encoding 0x680C (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestDsBase = 0x680C;
    /// <summary>Guest FS base: natural-width guest-state field, encoding 0x680E (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestFsBase = 0x680E;
    /// <summary>Guest GS base: natural-width guest-state field, encoding 0x6810 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestGsBase = 0x6810;
    /// <summary>Guest LDTR base: natural-width guest-state field, encoding 0x6812 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestLdtrBase = 0x6812;
    /// <summary>Guest TR base: natural-width guest-state field, encoding 0x6814 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestTrBase = 0x6814;
    /// <summary>Guest GDTR base: natural-width guest-state field, encoding 0x6816 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestGdtrBase = 0x6816;
    /// <summary>Guest IDTR base: natural-width guest-state field, encoding 0x6818 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestIdtrBase = 0x6818;
    /// <summary>Guest DR7: natural-width guest-state field, encoding 0x681A (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestDr7 = 0x681A;
    /// <summary>Guest RSP: natural-width guest-state field, encoding 0x681C (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestRsp = 0x681C;
    /// <summary>Guest RIP: natural-width guest-state field, encoding 0x681E (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestRip = 0x681E;
    /// <summary>Guest RFLAGS: natural-width guest-state field, encoding 0x6820 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestRflags = 0x6820;
    /// <summary>Guest pending debug exceptions: natural-width guest-state field, encoding 0x6822 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestPendingDebugExceptions = 0x6822;
    /// <summary>Guest IA32_SYSENTER_ESP: natural-width guest-state field, encoding 0x6824 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestSysenterEsp = 0x6824;
    /// <summary>Guest IA32_SYSENTER_EIP: natural-width guest-state field, encoding 0x6826 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public const uint GuestSysenterEip = 0x6826;
    /// <summary>Guest IA32_S_CET: natural-width guest-state field, encoding 0x6828 (SDM Vol. 3C, Appendix B.4.3). Exists only on processors offering <see cref="VmxFeature.GuestCet"/>.</summary>
    public const uint GuestSCet = 0x6828;
    /// <summary>Guest SSP: natural-width guest-state field, encoding 0x682A (SDM Vol. 3C, Appendix B.4.3). Exists only on processors offering <see cref="VmxFeature.GuestCet"/>.</summary>
    public const uint GuestSsp = 0x682A;
    /// <summary>Guest IA32_INTERRUPT_SSP_TABLE_ADDR: natural-width guest-state field, encoding 0x682C (SDM Vol. 3C, Appendix B.4.3). Exists only on processors offering <see cref="VmxFeature.GuestCet"/>.</summary>
    public const uint GuestInterruptSspTableAddress = 0x682C;
    /// <summary>Host CR0: natural-width host-state field, encoding 0x6C00 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostCr0 = 0x6C00;
    /// <summary>Host CR3: natural-width host-state field, encoding 0x6C02 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostCr3 = 0x6C02;
    /// <summary>Host CR4: natural-width host-state field, encoding 0x6C04 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostCr4 = 0x6C04;
    /// <summary>Host FS base: natural-width host-state field, encoding 0x6C06 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostFsBase = 0x6C06;
    /// <summary>Host GS base: natural-width host-state field, encoding 0x6C08 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostGsBase = 0x6C08;
    /// <summary>Host TR base: natural-width host-state field, encoding 0x6C0A (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostTrBase = 0x6C0A;
    /// <summary>Host GDTR base: natural-width host-state field, encoding 0x6C0C (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostGdtrBase = 0x6C0C;
    /// <summary>Host IDTR base: natural-width host-state field, encoding 0x6C0E (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostIdtrBase = 0x6C0E;
    /// <summary>Host IA32_SYSENTER_ESP: natural-width host-state field, encoding 0x6C10 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostSysenterEsp = 0x6C10;
    /// <summary>Host IA32_SYSENTER_EIP: natural-width host-state field, encoding 0x6C12 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostSysenterEip = 0x6C12;
    /// <summary>Host RSP: natural-width host-state field, encoding 0x6C14 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostRsp = 0x6C14;
    /// <summary>Host RIP: natural-width host-state field, encoding 0x6C16 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public const uint HostRip = 0x6C16;
    /// <summary>Host IA32_S_CET: natural-width host-state field, encoding 0x6C18 (SDM Vol. 3C, Appendix B.4.4). Exists only on processors offering <see cref="VmxFeature.HostCet"/>.</summary>
    public const uint HostSCet = 0x6C18;
    /// <summary>Host SSP: natural-width host-state field, encoding 0x6C1A (SDM Vol. 3C, Appendix B.4.4). Exists only on processors offering <see cref="VmxFeature.HostCet"/>.</summary>
    public const uint HostSsp = 0x6C1A;
    /// <summary>Host IA32_INTERRUPT_SSP_TABLE_ADDR: natural-width host-state field, encoding 0x6C1C (SDM Vol. 3C, Appendix B.4.4). Exists only on processors offering <see cref="VmxFeature.HostCet"/>.</summary>
    public const uint HostInterruptSspTableAddress = 0x6C1C;
}

public readonly partial record struct VmcsField
{
    /// <summary>Virtual-processor identifier (VPID): 16-bit control field, encoding 0x0000 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.Vpid"/>.</summary>
    public static readonly VmcsField VirtualProcessorId = new(VmcsEncoding.VirtualProcessorId);
    /// <summary>Posted-interrupt notification vector: 16-bit control field, encoding 0x0002 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.PostedInterrupts"/>.</summary>
    public static readonly VmcsField PostedInterruptNotificationVector = new(VmcsEncoding.PostedInterruptNotificationVector);
    /// <summary>EPTP index: 16-bit control field, encoding 0x0004 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.EptViolationVe"/>.</summary>
    public static readonly VmcsField EptpIndex = new(VmcsEncoding.EptpIndex);
    /// <summary>HLAT prefix size: 16-bit control field, encoding 0x0006 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.Hlat"/>. Recent addition.</summary>
    public static readonly VmcsField HlatPrefixSize = new(VmcsEncoding.HlatPrefixSize);
    /// <summary>Last PID-pointer index: 16-bit control field, encoding 0x0008 (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.IpiVirtualization"/>. Recent addition.</summary>
    public static readonly VmcsField LastPidPointerIndex = new(VmcsEncoding.LastPidPointerIndex);
    /// <summary>Virtual-timer vector: 16-bit control field, encoding 0x000A (SDM Vol. 3C, Appendix B.1.1). Exists only on processors offering <see cref="VmxFeature.ApicTimerVirtualization"/>. Recent addition.</summary>
    public static readonly VmcsField VirtualTimerVector = new(VmcsEncoding.VirtualTimerVector);
    /// <summary>Guest ES selector: 16-bit guest-state field, encoding 0x0800 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestEsSelector = new(VmcsEncoding.GuestEsSelector);
    /// <summary>Guest CS selector: 16-bit guest-state field, encoding 0x0802 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestCsSelector = new(VmcsEncoding.GuestCsSelector);
    /// <summary>Guest SS selector: 16-bit guest-state field, encoding 0x0804 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestSsSelector = new(VmcsEncoding.GuestSsSelector);
    /// <summary>Guest DS selector: 16-bit guest-state field, encoding 0x0806 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestDsSelector = new(VmcsEncoding.GuestDsSelector);
    /// <summary>Guest FS selector: 16-bit guest-state field, encoding 0x0808 (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestFsSelector = new(VmcsEncoding.GuestFsSelector);
    /// <summary>Guest GS selector: 16-bit guest-state field, encoding 0x080A (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestGsSelector = new(VmcsEncoding.GuestGsSelector);
    /// <summary>Guest LDTR selector: 16-bit guest-state field, encoding 0x080C (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestLdtrSelector = new(VmcsEncoding.GuestLdtrSelector);
    /// <summary>Guest TR selector: 16-bit guest-state field, encoding 0x080E (SDM Vol. 3C, Appendix B.1.2).</summary>
    public static readonly VmcsField GuestTrSelector = new(VmcsEncoding.GuestTrSelector);
    /// <summary>Guest interrupt status (RVI in bits 7:0, SVI in bits 15:8): 16-bit guest-state field, encoding 0x0810 (SDM Vol. 3C, Appendix B.1.2). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public static readonly VmcsField GuestInterruptStatus = new(VmcsEncoding.GuestInterruptStatus);
    /// <summary>PML index: 16-bit guest-state field, encoding 0x0812 (SDM Vol. 3C, Appendix B.1.2). Exists only on processors offering <see cref="VmxFeature.Pml"/>.</summary>
    public static readonly VmcsField PmlIndex = new(VmcsEncoding.PmlIndex);
    /// <summary>Guest UINV (user-interrupt notification vector): 16-bit guest-state field, encoding 0x0814 (SDM Vol. 3C, Appendix B.1.2). Exists only on processors offering <see cref="VmxFeature.Uinv"/>. Recent addition.</summary>
    public static readonly VmcsField GuestUinv = new(VmcsEncoding.GuestUinv);
    /// <summary>Host ES selector: 16-bit host-state field, encoding 0x0C00 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostEsSelector = new(VmcsEncoding.HostEsSelector);
    /// <summary>Host CS selector: 16-bit host-state field, encoding 0x0C02 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostCsSelector = new(VmcsEncoding.HostCsSelector);
    /// <summary>Host SS selector: 16-bit host-state field, encoding 0x0C04 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostSsSelector = new(VmcsEncoding.HostSsSelector);
    /// <summary>Host DS selector: 16-bit host-state field, encoding 0x0C06 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostDsSelector = new(VmcsEncoding.HostDsSelector);
    /// <summary>Host FS selector: 16-bit host-state field, encoding 0x0C08 (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostFsSelector = new(VmcsEncoding.HostFsSelector);
    /// <summary>Host GS selector: 16-bit host-state field, encoding 0x0C0A (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostGsSelector = new(VmcsEncoding.HostGsSelector);
    /// <summary>Host TR selector: 16-bit host-state field, encoding 0x0C0C (SDM Vol. 3C, Appendix B.1.3).</summary>
    public static readonly VmcsField HostTrSelector = new(VmcsEncoding.HostTrSelector);
    /// <summary>Address of I/O bitmap A (ports 0000h-7FFFh): 64-bit control field, encoding 0x2000 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField IoBitmapA = new(VmcsEncoding.IoBitmapA);
    /// <summary>Address of I/O bitmap B (ports 8000h-FFFFh): 64-bit control field, encoding 0x2002 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField IoBitmapB = new(VmcsEncoding.IoBitmapB);
    /// <summary>Address of MSR bitmaps: 64-bit control field, encoding 0x2004 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.MsrBitmaps"/>.</summary>
    public static readonly VmcsField MsrBitmap = new(VmcsEncoding.MsrBitmap);
    /// <summary>VM-exit MSR-store address: 64-bit control field, encoding 0x2006 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField VmExitMsrStoreAddress = new(VmcsEncoding.VmExitMsrStoreAddress);
    /// <summary>VM-exit MSR-load address: 64-bit control field, encoding 0x2008 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField VmExitMsrLoadAddress = new(VmcsEncoding.VmExitMsrLoadAddress);
    /// <summary>VM-entry MSR-load address: 64-bit control field, encoding 0x200A (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField VmEntryMsrLoadAddress = new(VmcsEncoding.VmEntryMsrLoadAddress);
    /// <summary>Executive-VMCS pointer: 64-bit control field, encoding 0x200C (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField ExecutiveVmcsPointer = new(VmcsEncoding.ExecutiveVmcsPointer);
    /// <summary>PML address: 64-bit control field, encoding 0x200E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Pml"/>.</summary>
    public static readonly VmcsField PmlAddress = new(VmcsEncoding.PmlAddress);
    /// <summary>TSC offset: 64-bit control field, encoding 0x2010 (SDM Vol. 3C, Appendix B.2.1).</summary>
    public static readonly VmcsField TscOffset = new(VmcsEncoding.TscOffset);
    /// <summary>Virtual-APIC address: 64-bit control field, encoding 0x2012 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.TprShadow"/>.</summary>
    public static readonly VmcsField VirtualApicAddress = new(VmcsEncoding.VirtualApicAddress);
    /// <summary>APIC-access address: 64-bit control field, encoding 0x2014 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualizeApicAccesses"/>.</summary>
    public static readonly VmcsField ApicAccessAddress = new(VmcsEncoding.ApicAccessAddress);
    /// <summary>Posted-interrupt descriptor address: 64-bit control field, encoding 0x2016 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PostedInterrupts"/>.</summary>
    public static readonly VmcsField PostedInterruptDescriptorAddress = new(VmcsEncoding.PostedInterruptDescriptorAddress);
    /// <summary>VM-function controls: 64-bit control field, encoding 0x2018 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VmFunctions"/>.</summary>
    public static readonly VmcsField VmFunctionControls = new(VmcsEncoding.VmFunctionControls);
    /// <summary>EPT pointer (EPTP): 64-bit control field, encoding 0x201A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public static readonly VmcsField EptPointer = new(VmcsEncoding.EptPointer);
    /// <summary>EOI-exit bitmap 0 (vectors 0-63): 64-bit control field, encoding 0x201C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public static readonly VmcsField EoiExitBitmap0 = new(VmcsEncoding.EoiExitBitmap0);
    /// <summary>EOI-exit bitmap 1 (vectors 64-127): 64-bit control field, encoding 0x201E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public static readonly VmcsField EoiExitBitmap1 = new(VmcsEncoding.EoiExitBitmap1);
    /// <summary>EOI-exit bitmap 2 (vectors 128-191): 64-bit control field, encoding 0x2020 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public static readonly VmcsField EoiExitBitmap2 = new(VmcsEncoding.EoiExitBitmap2);
    /// <summary>EOI-exit bitmap 3 (vectors 192-255): 64-bit control field, encoding 0x2022 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VirtualInterruptDelivery"/>.</summary>
    public static readonly VmcsField EoiExitBitmap3 = new(VmcsEncoding.EoiExitBitmap3);
    /// <summary>EPTP-list address: 64-bit control field, encoding 0x2024 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EptpSwitching"/>.</summary>
    public static readonly VmcsField EptpListAddress = new(VmcsEncoding.EptpListAddress);
    /// <summary>VMREAD-bitmap address: 64-bit control field, encoding 0x2026 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VmcsShadowing"/>.</summary>
    public static readonly VmcsField VmreadBitmapAddress = new(VmcsEncoding.VmreadBitmapAddress);
    /// <summary>VMWRITE-bitmap address: 64-bit control field, encoding 0x2028 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.VmcsShadowing"/>.</summary>
    public static readonly VmcsField VmwriteBitmapAddress = new(VmcsEncoding.VmwriteBitmapAddress);
    /// <summary>Virtualization-exception information address: 64-bit control field, encoding 0x202A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EptViolationVe"/>.</summary>
    public static readonly VmcsField VirtualizationExceptionInformationAddress = new(VmcsEncoding.VirtualizationExceptionInformationAddress);
    /// <summary>XSS-exiting bitmap: 64-bit control field, encoding 0x202C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Xsaves"/>.</summary>
    public static readonly VmcsField XssExitingBitmap = new(VmcsEncoding.XssExitingBitmap);
    /// <summary>ENCLS-exiting bitmap: 64-bit control field, encoding 0x202E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EnclsExiting"/>.</summary>
    public static readonly VmcsField EnclsExitingBitmap = new(VmcsEncoding.EnclsExitingBitmap);
    /// <summary>Sub-page-permission-table pointer: 64-bit control field, encoding 0x2030 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SubPageWritePermissions"/>.</summary>
    public static readonly VmcsField SubPagePermissionTablePointer = new(VmcsEncoding.SubPagePermissionTablePointer);
    /// <summary>TSC multiplier: 64-bit control field, encoding 0x2032 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.TscScaling"/>.</summary>
    public static readonly VmcsField TscMultiplier = new(VmcsEncoding.TscMultiplier);
    /// <summary>Tertiary processor-based VM-execution controls: 64-bit control field, encoding 0x2034 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.TertiaryControls"/>.</summary>
    public static readonly VmcsField TertiaryProcBasedVmExecControls = new(VmcsEncoding.TertiaryProcBasedVmExecControls);
    /// <summary>ENCLV-exiting bitmap: 64-bit control field, encoding 0x2036 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.EnclvExiting"/>.</summary>
    public static readonly VmcsField EnclvExitingBitmap = new(VmcsEncoding.EnclvExitingBitmap);
    /// <summary>Low PASID directory address: 64-bit control field, encoding 0x2038 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PasidTranslation"/>. Recent addition.</summary>
    public static readonly VmcsField LowPasidDirectoryAddress = new(VmcsEncoding.LowPasidDirectoryAddress);
    /// <summary>High PASID directory address: 64-bit control field, encoding 0x203A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PasidTranslation"/>. Recent addition.</summary>
    public static readonly VmcsField HighPasidDirectoryAddress = new(VmcsEncoding.HighPasidDirectoryAddress);
    /// <summary>Shared-EPT pointer (SEAM VMX operation): 64-bit control field, encoding 0x203C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Seam"/>. Recent addition.</summary>
    public static readonly VmcsField SharedEptPointer = new(VmcsEncoding.SharedEptPointer);
    /// <summary>PCONFIG-exiting bitmap: 64-bit control field, encoding 0x203E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.PconfigExiting"/>.</summary>
    public static readonly VmcsField PconfigExitingBitmap = new(VmcsEncoding.PconfigExitingBitmap);
    /// <summary>Hypervisor-managed linear-address translation pointer: 64-bit control field, encoding 0x2040 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.Hlat"/>. Recent addition.</summary>
    public static readonly VmcsField HlatPointer = new(VmcsEncoding.HlatPointer);
    /// <summary>PID-pointer table address: 64-bit control field, encoding 0x2042 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.IpiVirtualization"/>. Recent addition.</summary>
    public static readonly VmcsField PidPointerTableAddress = new(VmcsEncoding.PidPointerTableAddress);
    /// <summary>Secondary VM-exit controls: 64-bit control field, encoding 0x2044 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SecondaryExitControls"/>. Recent addition.</summary>
    public static readonly VmcsField SecondaryVmExitControls = new(VmcsEncoding.SecondaryVmExitControls);
    /// <summary>IA32_SPEC_CTRL mask: 64-bit control field, encoding 0x204A (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SpecCtrlVirtualization"/>.</summary>
    public static readonly VmcsField SpecCtrlMask = new(VmcsEncoding.SpecCtrlMask);
    /// <summary>IA32_SPEC_CTRL shadow: 64-bit control field, encoding 0x204C (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.SpecCtrlVirtualization"/>.</summary>
    public static readonly VmcsField SpecCtrlShadow = new(VmcsEncoding.SpecCtrlShadow);
    /// <summary>Virtual-timer guest-deadline shadow: 64-bit control field, encoding 0x204E (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.ApicTimerVirtualization"/>. Recent addition.</summary>
    public static readonly VmcsField GuestDeadlineShadow = new(VmcsEncoding.GuestDeadlineShadow);
    /// <summary>Injected-event data (FRED): 64-bit control field, encoding 0x2052 (SDM Vol. 3C, Appendix B.2.1). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>. Recent addition.</summary>
    public static readonly VmcsField InjectedEventData = new(VmcsEncoding.InjectedEventData);
    /// <summary>Guest-physical address: 64-bit read-only data field, encoding 0x2400 (SDM Vol. 3C, Appendix B.2.2). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public static readonly VmcsField GuestPhysicalAddress = new(VmcsEncoding.GuestPhysicalAddress);
    /// <summary>MSR data (RDMSRLIST/WRMSRLIST exits): 64-bit read-only data field, encoding 0x2402 (SDM Vol. 3C, Appendix B.2.2). Exists only on processors offering <see cref="VmxFeature.MsrList"/>. Recent addition.</summary>
    public static readonly VmcsField MsrData = new(VmcsEncoding.MsrData);
    /// <summary>Original-event data (FRED): 64-bit read-only data field, encoding 0x2404 (SDM Vol. 3C, Appendix B.2.2). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>. Recent addition.</summary>
    public static readonly VmcsField OriginalEventData = new(VmcsEncoding.OriginalEventData);
    /// <summary>VMCS link pointer: 64-bit guest-state field, encoding 0x2800 (SDM Vol. 3C, Appendix B.2.3).</summary>
    public static readonly VmcsField VmcsLinkPointer = new(VmcsEncoding.VmcsLinkPointer);
    /// <summary>Guest IA32_DEBUGCTL: 64-bit guest-state field, encoding 0x2802 (SDM Vol. 3C, Appendix B.2.3).</summary>
    public static readonly VmcsField GuestDebugCtl = new(VmcsEncoding.GuestDebugCtl);
    /// <summary>Guest IA32_PAT: 64-bit guest-state field, encoding 0x2804 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestPat"/>.</summary>
    public static readonly VmcsField GuestPat = new(VmcsEncoding.GuestPat);
    /// <summary>Guest IA32_EFER: 64-bit guest-state field, encoding 0x2806 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestEfer"/>.</summary>
    public static readonly VmcsField GuestEfer = new(VmcsEncoding.GuestEfer);
    /// <summary>Guest IA32_PERF_GLOBAL_CTRL: 64-bit guest-state field, encoding 0x2808 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestPerfGlobalCtrl"/>.</summary>
    public static readonly VmcsField GuestPerfGlobalCtrl = new(VmcsEncoding.GuestPerfGlobalCtrl);
    /// <summary>Guest PDPTE0: 64-bit guest-state field, encoding 0x280A (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public static readonly VmcsField GuestPdpte0 = new(VmcsEncoding.GuestPdpte0);
    /// <summary>Guest PDPTE1: 64-bit guest-state field, encoding 0x280C (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public static readonly VmcsField GuestPdpte1 = new(VmcsEncoding.GuestPdpte1);
    /// <summary>Guest PDPTE2: 64-bit guest-state field, encoding 0x280E (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public static readonly VmcsField GuestPdpte2 = new(VmcsEncoding.GuestPdpte2);
    /// <summary>Guest PDPTE3: 64-bit guest-state field, encoding 0x2810 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.Ept"/>.</summary>
    public static readonly VmcsField GuestPdpte3 = new(VmcsEncoding.GuestPdpte3);
    /// <summary>Guest IA32_BNDCFGS: 64-bit guest-state field, encoding 0x2812 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestBndcfgs"/>.</summary>
    public static readonly VmcsField GuestBndcfgs = new(VmcsEncoding.GuestBndcfgs);
    /// <summary>Guest IA32_RTIT_CTL: 64-bit guest-state field, encoding 0x2814 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestRtitCtl"/>.</summary>
    public static readonly VmcsField GuestRtitCtl = new(VmcsEncoding.GuestRtitCtl);
    /// <summary>Guest IA32_LBR_CTL: 64-bit guest-state field, encoding 0x2816 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestLbrCtl"/>.</summary>
    public static readonly VmcsField GuestLbrCtl = new(VmcsEncoding.GuestLbrCtl);
    /// <summary>Guest IA32_PKRS: 64-bit guest-state field, encoding 0x2818 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestPkrs"/>.</summary>
    public static readonly VmcsField GuestPkrs = new(VmcsEncoding.GuestPkrs);
    /// <summary>Guest IA32_FRED_CONFIG: 64-bit guest-state field, encoding 0x281A (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredConfig = new(VmcsEncoding.GuestFredConfig);
    /// <summary>Guest IA32_FRED_RSP1: 64-bit guest-state field, encoding 0x281C (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredRsp1 = new(VmcsEncoding.GuestFredRsp1);
    /// <summary>Guest IA32_FRED_RSP2: 64-bit guest-state field, encoding 0x281E (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredRsp2 = new(VmcsEncoding.GuestFredRsp2);
    /// <summary>Guest IA32_FRED_RSP3: 64-bit guest-state field, encoding 0x2820 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredRsp3 = new(VmcsEncoding.GuestFredRsp3);
    /// <summary>Guest IA32_FRED_STKLVLS: 64-bit guest-state field, encoding 0x2822 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredStackLevels = new(VmcsEncoding.GuestFredStackLevels);
    /// <summary>Guest IA32_FRED_SSP1: 64-bit guest-state field, encoding 0x2824 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredSsp1 = new(VmcsEncoding.GuestFredSsp1);
    /// <summary>Guest IA32_FRED_SSP2: 64-bit guest-state field, encoding 0x2826 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredSsp2 = new(VmcsEncoding.GuestFredSsp2);
    /// <summary>Guest IA32_FRED_SSP3: 64-bit guest-state field, encoding 0x2828 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestFred"/>.</summary>
    public static readonly VmcsField GuestFredSsp3 = new(VmcsEncoding.GuestFredSsp3);
    /// <summary>Guest IA32_SPEC_CTRL: 64-bit guest-state field, encoding 0x282E (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.GuestSpecCtrl"/>.</summary>
    public static readonly VmcsField GuestSpecCtrl = new(VmcsEncoding.GuestSpecCtrl);
    /// <summary>Virtual-timer guest deadline: 64-bit guest-state field, encoding 0x2830 (SDM Vol. 3C, Appendix B.2.3). Exists only on processors offering <see cref="VmxFeature.ApicTimerVirtualization"/>. Recent addition.</summary>
    public static readonly VmcsField GuestDeadline = new(VmcsEncoding.GuestDeadline);
    /// <summary>Host IA32_PAT: 64-bit host-state field, encoding 0x2C00 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostPat"/>.</summary>
    public static readonly VmcsField HostPat = new(VmcsEncoding.HostPat);
    /// <summary>Host IA32_EFER: 64-bit host-state field, encoding 0x2C02 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostEfer"/>.</summary>
    public static readonly VmcsField HostEfer = new(VmcsEncoding.HostEfer);
    /// <summary>Host IA32_PERF_GLOBAL_CTRL: 64-bit host-state field, encoding 0x2C04 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostPerfGlobalCtrl"/>.</summary>
    public static readonly VmcsField HostPerfGlobalCtrl = new(VmcsEncoding.HostPerfGlobalCtrl);
    /// <summary>Host IA32_PKRS: 64-bit host-state field, encoding 0x2C06 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostPkrs"/>.</summary>
    public static readonly VmcsField HostPkrs = new(VmcsEncoding.HostPkrs);
    /// <summary>Host IA32_FRED_CONFIG: 64-bit host-state field, encoding 0x2C08 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredConfig = new(VmcsEncoding.HostFredConfig);
    /// <summary>Host IA32_FRED_RSP1: 64-bit host-state field, encoding 0x2C0A (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredRsp1 = new(VmcsEncoding.HostFredRsp1);
    /// <summary>Host IA32_FRED_RSP2: 64-bit host-state field, encoding 0x2C0C (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredRsp2 = new(VmcsEncoding.HostFredRsp2);
    /// <summary>Host IA32_FRED_RSP3: 64-bit host-state field, encoding 0x2C0E (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredRsp3 = new(VmcsEncoding.HostFredRsp3);
    /// <summary>Host IA32_FRED_STKLVLS: 64-bit host-state field, encoding 0x2C10 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredStackLevels = new(VmcsEncoding.HostFredStackLevels);
    /// <summary>Host IA32_FRED_SSP1: 64-bit host-state field, encoding 0x2C12 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredSsp1 = new(VmcsEncoding.HostFredSsp1);
    /// <summary>Host IA32_FRED_SSP2: 64-bit host-state field, encoding 0x2C14 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredSsp2 = new(VmcsEncoding.HostFredSsp2);
    /// <summary>Host IA32_FRED_SSP3: 64-bit host-state field, encoding 0x2C16 (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostFred"/>.</summary>
    public static readonly VmcsField HostFredSsp3 = new(VmcsEncoding.HostFredSsp3);
    /// <summary>Host IA32_SPEC_CTRL: 64-bit host-state field, encoding 0x2C1A (SDM Vol. 3C, Appendix B.2.4). Exists only on processors offering <see cref="VmxFeature.HostSpecCtrl"/>.</summary>
    public static readonly VmcsField HostSpecCtrl = new(VmcsEncoding.HostSpecCtrl);
    /// <summary>Pin-based VM-execution controls: 32-bit control field, encoding 0x4000 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField PinBasedVmExecControls = new(VmcsEncoding.PinBasedVmExecControls);
    /// <summary>Primary processor-based VM-execution controls: 32-bit control field, encoding 0x4002 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField PrimaryProcBasedVmExecControls = new(VmcsEncoding.PrimaryProcBasedVmExecControls);
    /// <summary>Exception bitmap: 32-bit control field, encoding 0x4004 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField ExceptionBitmap = new(VmcsEncoding.ExceptionBitmap);
    /// <summary>Page-fault error-code mask: 32-bit control field, encoding 0x4006 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField PageFaultErrorCodeMask = new(VmcsEncoding.PageFaultErrorCodeMask);
    /// <summary>Page-fault error-code match: 32-bit control field, encoding 0x4008 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField PageFaultErrorCodeMatch = new(VmcsEncoding.PageFaultErrorCodeMatch);
    /// <summary>CR3-target count: 32-bit control field, encoding 0x400A (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField Cr3TargetCount = new(VmcsEncoding.Cr3TargetCount);
    /// <summary>Primary VM-exit controls: 32-bit control field, encoding 0x400C (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmExitControls = new(VmcsEncoding.VmExitControls);
    /// <summary>VM-exit MSR-store count: 32-bit control field, encoding 0x400E (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmExitMsrStoreCount = new(VmcsEncoding.VmExitMsrStoreCount);
    /// <summary>VM-exit MSR-load count: 32-bit control field, encoding 0x4010 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmExitMsrLoadCount = new(VmcsEncoding.VmExitMsrLoadCount);
    /// <summary>VM-entry controls: 32-bit control field, encoding 0x4012 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmEntryControls = new(VmcsEncoding.VmEntryControls);
    /// <summary>VM-entry MSR-load count: 32-bit control field, encoding 0x4014 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmEntryMsrLoadCount = new(VmcsEncoding.VmEntryMsrLoadCount);
    /// <summary>VM-entry interruption-information field: 32-bit control field, encoding 0x4016 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmEntryInterruptionInformation = new(VmcsEncoding.VmEntryInterruptionInformation);
    /// <summary>VM-entry exception error code: 32-bit control field, encoding 0x4018 (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmEntryExceptionErrorCode = new(VmcsEncoding.VmEntryExceptionErrorCode);
    /// <summary>VM-entry instruction length: 32-bit control field, encoding 0x401A (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static readonly VmcsField VmEntryInstructionLength = new(VmcsEncoding.VmEntryInstructionLength);
    /// <summary>TPR threshold: 32-bit control field, encoding 0x401C (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.TprShadow"/>.</summary>
    public static readonly VmcsField TprThreshold = new(VmcsEncoding.TprThreshold);
    /// <summary>Secondary processor-based VM-execution controls: 32-bit control field, encoding 0x401E (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.SecondaryControls"/>.</summary>
    public static readonly VmcsField SecondaryProcBasedVmExecControls = new(VmcsEncoding.SecondaryProcBasedVmExecControls);
    /// <summary>PAUSE-loop exiting gap (PLE_Gap): 32-bit control field, encoding 0x4020 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.PauseLoopExiting"/>.</summary>
    public static readonly VmcsField PleGap = new(VmcsEncoding.PleGap);
    /// <summary>PAUSE-loop exiting window (PLE_Window): 32-bit control field, encoding 0x4022 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.PauseLoopExiting"/>.</summary>
    public static readonly VmcsField PleWindow = new(VmcsEncoding.PleWindow);
    /// <summary>Instruction-timeout control (notify window): 32-bit control field, encoding 0x4024 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.InstructionTimeout"/>.</summary>
    public static readonly VmcsField InstructionTimeoutControl = new(VmcsEncoding.InstructionTimeoutControl);
    /// <summary>Guest KeyID (SEAM VMX operation): 32-bit control field, encoding 0x4026 (SDM Vol. 3C, Appendix B.3.1). Exists only on processors offering <see cref="VmxFeature.Seam"/>. Recent addition.</summary>
    public static readonly VmcsField SeamGuestKeyId = new(VmcsEncoding.SeamGuestKeyId);
    /// <summary>VM-instruction error: 32-bit read-only data field, encoding 0x4400 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField VmInstructionError = new(VmcsEncoding.VmInstructionError);
    /// <summary>Exit reason: 32-bit read-only data field, encoding 0x4402 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField ExitReason = new(VmcsEncoding.ExitReason);
    /// <summary>VM-exit interruption information: 32-bit read-only data field, encoding 0x4404 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField VmExitInterruptionInformation = new(VmcsEncoding.VmExitInterruptionInformation);
    /// <summary>VM-exit interruption error code: 32-bit read-only data field, encoding 0x4406 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField VmExitInterruptionErrorCode = new(VmcsEncoding.VmExitInterruptionErrorCode);
    /// <summary>IDT-vectoring information field: 32-bit read-only data field, encoding 0x4408 (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField IdtVectoringInformation = new(VmcsEncoding.IdtVectoringInformation);
    /// <summary>IDT-vectoring error code: 32-bit read-only data field, encoding 0x440A (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField IdtVectoringErrorCode = new(VmcsEncoding.IdtVectoringErrorCode);
    /// <summary>VM-exit instruction length: 32-bit read-only data field, encoding 0x440C (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField VmExitInstructionLength = new(VmcsEncoding.VmExitInstructionLength);
    /// <summary>VM-exit instruction information: 32-bit read-only data field, encoding 0x440E (SDM Vol. 3C, Appendix B.3.2).</summary>
    public static readonly VmcsField VmExitInstructionInformation = new(VmcsEncoding.VmExitInstructionInformation);
    /// <summary>Guest ES limit: 32-bit guest-state field, encoding 0x4800 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestEsLimit = new(VmcsEncoding.GuestEsLimit);
    /// <summary>Guest CS limit: 32-bit guest-state field, encoding 0x4802 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestCsLimit = new(VmcsEncoding.GuestCsLimit);
    /// <summary>Guest SS limit: 32-bit guest-state field, encoding 0x4804 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestSsLimit = new(VmcsEncoding.GuestSsLimit);
    /// <summary>Guest DS limit: 32-bit guest-state field, encoding 0x4806 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestDsLimit = new(VmcsEncoding.GuestDsLimit);
    /// <summary>Guest FS limit: 32-bit guest-state field, encoding 0x4808 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestFsLimit = new(VmcsEncoding.GuestFsLimit);
    /// <summary>Guest GS limit: 32-bit guest-state field, encoding 0x480A (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestGsLimit = new(VmcsEncoding.GuestGsLimit);
    /// <summary>Guest LDTR limit: 32-bit guest-state field, encoding 0x480C (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestLdtrLimit = new(VmcsEncoding.GuestLdtrLimit);
    /// <summary>Guest TR limit: 32-bit guest-state field, encoding 0x480E (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestTrLimit = new(VmcsEncoding.GuestTrLimit);
    /// <summary>Guest GDTR limit: 32-bit guest-state field, encoding 0x4810 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestGdtrLimit = new(VmcsEncoding.GuestGdtrLimit);
    /// <summary>Guest IDTR limit: 32-bit guest-state field, encoding 0x4812 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestIdtrLimit = new(VmcsEncoding.GuestIdtrLimit);
    /// <summary>Guest ES access rights: 32-bit guest-state field, encoding 0x4814 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestEsAccessRights = new(VmcsEncoding.GuestEsAccessRights);
    /// <summary>Guest CS access rights: 32-bit guest-state field, encoding 0x4816 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestCsAccessRights = new(VmcsEncoding.GuestCsAccessRights);
    /// <summary>Guest SS access rights: 32-bit guest-state field, encoding 0x4818 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestSsAccessRights = new(VmcsEncoding.GuestSsAccessRights);
    /// <summary>Guest DS access rights: 32-bit guest-state field, encoding 0x481A (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestDsAccessRights = new(VmcsEncoding.GuestDsAccessRights);
    /// <summary>Guest FS access rights: 32-bit guest-state field, encoding 0x481C (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestFsAccessRights = new(VmcsEncoding.GuestFsAccessRights);
    /// <summary>Guest GS access rights: 32-bit guest-state field, encoding 0x481E (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestGsAccessRights = new(VmcsEncoding.GuestGsAccessRights);
    /// <summary>Guest LDTR access rights: 32-bit guest-state field, encoding 0x4820 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestLdtrAccessRights = new(VmcsEncoding.GuestLdtrAccessRights);
    /// <summary>Guest TR access rights: 32-bit guest-state field, encoding 0x4822 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestTrAccessRights = new(VmcsEncoding.GuestTrAccessRights);
    /// <summary>Guest interruptibility state: 32-bit guest-state field, encoding 0x4824 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestInterruptibilityState = new(VmcsEncoding.GuestInterruptibilityState);
    /// <summary>Guest activity state: 32-bit guest-state field, encoding 0x4826 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestActivityState = new(VmcsEncoding.GuestActivityState);
    /// <summary>Guest SMBASE: 32-bit guest-state field, encoding 0x4828 (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestSmbase = new(VmcsEncoding.GuestSmbase);
    /// <summary>Guest IA32_SYSENTER_CS: 32-bit guest-state field, encoding 0x482A (SDM Vol. 3C, Appendix B.3.3).</summary>
    public static readonly VmcsField GuestSysenterCs = new(VmcsEncoding.GuestSysenterCs);
    /// <summary>VMX-preemption timer value: 32-bit guest-state field, encoding 0x482E (SDM Vol. 3C, Appendix B.3.3). Exists only on processors offering <see cref="VmxFeature.PreemptionTimer"/>.</summary>
    public static readonly VmcsField VmxPreemptionTimerValue = new(VmcsEncoding.VmxPreemptionTimerValue);
    /// <summary>Host IA32_SYSENTER_CS: 32-bit host-state field, encoding 0x4C00 (SDM Vol. 3C, Appendix B.3.4).</summary>
    public static readonly VmcsField HostSysenterCs = new(VmcsEncoding.HostSysenterCs);
    /// <summary>CR0 guest/host mask: natural-width control field, encoding 0x6000 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr0GuestHostMask = new(VmcsEncoding.Cr0GuestHostMask);
    /// <summary>CR4 guest/host mask: natural-width control field, encoding 0x6002 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr4GuestHostMask = new(VmcsEncoding.Cr4GuestHostMask);
    /// <summary>CR0 read shadow: natural-width control field, encoding 0x6004 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr0ReadShadow = new(VmcsEncoding.Cr0ReadShadow);
    /// <summary>CR4 read shadow: natural-width control field, encoding 0x6006 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr4ReadShadow = new(VmcsEncoding.Cr4ReadShadow);
    /// <summary>CR3-target value 0: natural-width control field, encoding 0x6008 (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr3TargetValue0 = new(VmcsEncoding.Cr3TargetValue0);
    /// <summary>CR3-target value 1: natural-width control field, encoding 0x600A (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr3TargetValue1 = new(VmcsEncoding.Cr3TargetValue1);
    /// <summary>CR3-target value 2: natural-width control field, encoding 0x600C (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr3TargetValue2 = new(VmcsEncoding.Cr3TargetValue2);
    /// <summary>CR3-target value 3: natural-width control field, encoding 0x600E (SDM Vol. 3C, Appendix B.4.1).</summary>
    public static readonly VmcsField Cr3TargetValue3 = new(VmcsEncoding.Cr3TargetValue3);
    /// <summary>Exit qualification: natural-width read-only data field, encoding 0x6400 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public static readonly VmcsField ExitQualification = new(VmcsEncoding.ExitQualification);
    /// <summary>I/O RCX: natural-width read-only data field, encoding 0x6402 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public static readonly VmcsField IoRcx = new(VmcsEncoding.IoRcx);
    /// <summary>I/O RSI: natural-width read-only data field, encoding 0x6404 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public static readonly VmcsField IoRsi = new(VmcsEncoding.IoRsi);
    /// <summary>I/O RDI: natural-width read-only data field, encoding 0x6406 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public static readonly VmcsField IoRdi = new(VmcsEncoding.IoRdi);
    /// <summary>I/O RIP: natural-width read-only data field, encoding 0x6408 (SDM Vol. 3C, Appendix B.4.2).</summary>
    public static readonly VmcsField IoRip = new(VmcsEncoding.IoRip);
    /// <summary>Guest-linear address: natural-width read-only data field, encoding 0x640A (SDM Vol. 3C, Appendix B.4.2).</summary>
    public static readonly VmcsField GuestLinearAddress = new(VmcsEncoding.GuestLinearAddress);
    /// <summary>Guest CR0: natural-width guest-state field, encoding 0x6800 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestCr0 = new(VmcsEncoding.GuestCr0);
    /// <summary>Guest CR3: natural-width guest-state field, encoding 0x6802 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestCr3 = new(VmcsEncoding.GuestCr3);
    /// <summary>Guest CR4: natural-width guest-state field, encoding 0x6804 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestCr4 = new(VmcsEncoding.GuestCr4);
    /// <summary>Guest ES base: natural-width guest-state field, encoding 0x6806 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestEsBase = new(VmcsEncoding.GuestEsBase);
    /// <summary>Guest CS base: natural-width guest-state field, encoding 0x6808 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestCsBase = new(VmcsEncoding.GuestCsBase);
    /// <summary>Guest SS base: natural-width guest-state field, encoding 0x680A (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestSsBase = new(VmcsEncoding.GuestSsBase);
    /// <summary>Guest DS base: natural-width guest-state field, encoding 0x680C (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestDsBase = new(VmcsEncoding.GuestDsBase);
    /// <summary>Guest FS base: natural-width guest-state field, encoding 0x680E (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestFsBase = new(VmcsEncoding.GuestFsBase);
    /// <summary>Guest GS base: natural-width guest-state field, encoding 0x6810 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestGsBase = new(VmcsEncoding.GuestGsBase);
    /// <summary>Guest LDTR base: natural-width guest-state field, encoding 0x6812 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestLdtrBase = new(VmcsEncoding.GuestLdtrBase);
    /// <summary>Guest TR base: natural-width guest-state field, encoding 0x6814 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestTrBase = new(VmcsEncoding.GuestTrBase);
    /// <summary>Guest GDTR base: natural-width guest-state field, encoding 0x6816 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestGdtrBase = new(VmcsEncoding.GuestGdtrBase);
    /// <summary>Guest IDTR base: natural-width guest-state field, encoding 0x6818 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestIdtrBase = new(VmcsEncoding.GuestIdtrBase);
    /// <summary>Guest DR7: natural-width guest-state field, encoding 0x681A (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestDr7 = new(VmcsEncoding.GuestDr7);
    /// <summary>Guest RSP: natural-width guest-state field, encoding 0x681C (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestRsp = new(VmcsEncoding.GuestRsp);
    /// <summary>Guest RIP: natural-width guest-state field, encoding 0x681E (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestRip = new(VmcsEncoding.GuestRip);
    /// <summary>Guest RFLAGS: natural-width guest-state field, encoding 0x6820 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestRflags = new(VmcsEncoding.GuestRflags);
    /// <summary>Guest pending debug exceptions: natural-width guest-state field, encoding 0x6822 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestPendingDebugExceptions = new(VmcsEncoding.GuestPendingDebugExceptions);
    /// <summary>Guest IA32_SYSENTER_ESP: natural-width guest-state field, encoding 0x6824 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestSysenterEsp = new(VmcsEncoding.GuestSysenterEsp);
    /// <summary>Guest IA32_SYSENTER_EIP: natural-width guest-state field, encoding 0x6826 (SDM Vol. 3C, Appendix B.4.3).</summary>
    public static readonly VmcsField GuestSysenterEip = new(VmcsEncoding.GuestSysenterEip);
    /// <summary>Guest IA32_S_CET: natural-width guest-state field, encoding 0x6828 (SDM Vol. 3C, Appendix B.4.3). Exists only on processors offering <see cref="VmxFeature.GuestCet"/>.</summary>
    public static readonly VmcsField GuestSCet = new(VmcsEncoding.GuestSCet);
    /// <summary>Guest SSP: natural-width guest-state field, encoding 0x682A (SDM Vol. 3C, Appendix B.4.3). Exists only on processors offering <see cref="VmxFeature.GuestCet"/>.</summary>
    public static readonly VmcsField GuestSsp = new(VmcsEncoding.GuestSsp);
    /// <summary>Guest IA32_INTERRUPT_SSP_TABLE_ADDR: natural-width guest-state field, encoding 0x682C (SDM Vol. 3C, Appendix B.4.3). Exists only on processors offering <see cref="VmxFeature.GuestCet"/>.</summary>
    public static readonly VmcsField GuestInterruptSspTableAddress = new(VmcsEncoding.GuestInterruptSspTableAddress);
    /// <summary>Host CR0: natural-width host-state field, encoding 0x6C00 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostCr0 = new(VmcsEncoding.HostCr0);
    /// <summary>Host CR3: natural-width host-state field, encoding 0x6C02 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostCr3 = new(VmcsEncoding.HostCr3);
    /// <summary>Host CR4: natural-width host-state field, encoding 0x6C04 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostCr4 = new(VmcsEncoding.HostCr4);
    /// <summary>Host FS base: natural-width host-state field, encoding 0x6C06 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostFsBase = new(VmcsEncoding.HostFsBase);
    /// <summary>Host GS base: natural-width host-state field, encoding 0x6C08 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostGsBase = new(VmcsEncoding.HostGsBase);
    /// <summary>Host TR base: natural-width host-state field, encoding 0x6C0A (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostTrBase = new(VmcsEncoding.HostTrBase);
    /// <summary>Host GDTR base: natural-width host-state field, encoding 0x6C0C (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostGdtrBase = new(VmcsEncoding.HostGdtrBase);
    /// <summary>Host IDTR base: natural-width host-state field, encoding 0x6C0E (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostIdtrBase = new(VmcsEncoding.HostIdtrBase);
    /// <summary>Host IA32_SYSENTER_ESP: natural-width host-state field, encoding 0x6C10 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostSysenterEsp = new(VmcsEncoding.HostSysenterEsp);
    /// <summary>Host IA32_SYSENTER_EIP: natural-width host-state field, encoding 0x6C12 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostSysenterEip = new(VmcsEncoding.HostSysenterEip);
    /// <summary>Host RSP: natural-width host-state field, encoding 0x6C14 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostRsp = new(VmcsEncoding.HostRsp);
    /// <summary>Host RIP: natural-width host-state field, encoding 0x6C16 (SDM Vol. 3C, Appendix B.4.4).</summary>
    public static readonly VmcsField HostRip = new(VmcsEncoding.HostRip);
    /// <summary>Host IA32_S_CET: natural-width host-state field, encoding 0x6C18 (SDM Vol. 3C, Appendix B.4.4). Exists only on processors offering <see cref="VmxFeature.HostCet"/>.</summary>
    public static readonly VmcsField HostSCet = new(VmcsEncoding.HostSCet);
    /// <summary>Host SSP: natural-width host-state field, encoding 0x6C1A (SDM Vol. 3C, Appendix B.4.4). Exists only on processors offering <see cref="VmxFeature.HostCet"/>.</summary>
    public static readonly VmcsField HostSsp = new(VmcsEncoding.HostSsp);
    /// <summary>Host IA32_INTERRUPT_SSP_TABLE_ADDR: natural-width host-state field, encoding 0x6C1C (SDM Vol. 3C, Appendix B.4.4). Exists only on processors offering <see cref="VmxFeature.HostCet"/>.</summary>
    public static readonly VmcsField HostInterruptSspTableAddress = new(VmcsEncoding.HostInterruptSspTableAddress);

    /// <summary>Position of the field with this full-access encoding in <see cref="Table.Fields"/>, or -1.</summary>
    private static int OrdinalOf(uint fullEncoding) => fullEncoding switch
    {
        0x0000 => 0,
        0x0002 => 1,
        0x0004 => 2,
        0x0006 => 3,
        0x0008 => 4,
        0x000A => 5,
        0x0800 => 6,
        0x0802 => 7,
        0x0804 => 8,
        0x0806 => 9,
        0x0808 => 10,
        0x080A => 11,
        0x080C => 12,
        0x080E => 13,
        0x0810 => 14,
        0x0812 => 15,
        0x0814 => 16,
        0x0C00 => 17,
        0x0C02 => 18,
        0x0C04 => 19,
        0x0C06 => 20,
        0x0C08 => 21,
        0x0C0A => 22,
        0x0C0C => 23,
        0x2000 => 24,
        0x2002 => 25,
        0x2004 => 26,
        0x2006 => 27,
        0x2008 => 28,
        0x200A => 29,
        0x200C => 30,
        0x200E => 31,
        0x2010 => 32,
        0x2012 => 33,
        0x2014 => 34,
        0x2016 => 35,
        0x2018 => 36,
        0x201A => 37,
        0x201C => 38,
        0x201E => 39,
        0x2020 => 40,
        0x2022 => 41,
        0x2024 => 42,
        0x2026 => 43,
        0x2028 => 44,
        0x202A => 45,
        0x202C => 46,
        0x202E => 47,
        0x2030 => 48,
        0x2032 => 49,
        0x2034 => 50,
        0x2036 => 51,
        0x2038 => 52,
        0x203A => 53,
        0x203C => 54,
        0x203E => 55,
        0x2040 => 56,
        0x2042 => 57,
        0x2044 => 58,
        0x204A => 59,
        0x204C => 60,
        0x204E => 61,
        0x2052 => 62,
        0x2400 => 63,
        0x2402 => 64,
        0x2404 => 65,
        0x2800 => 66,
        0x2802 => 67,
        0x2804 => 68,
        0x2806 => 69,
        0x2808 => 70,
        0x280A => 71,
        0x280C => 72,
        0x280E => 73,
        0x2810 => 74,
        0x2812 => 75,
        0x2814 => 76,
        0x2816 => 77,
        0x2818 => 78,
        0x281A => 79,
        0x281C => 80,
        0x281E => 81,
        0x2820 => 82,
        0x2822 => 83,
        0x2824 => 84,
        0x2826 => 85,
        0x2828 => 86,
        0x282E => 87,
        0x2830 => 88,
        0x2C00 => 89,
        0x2C02 => 90,
        0x2C04 => 91,
        0x2C06 => 92,
        0x2C08 => 93,
        0x2C0A => 94,
        0x2C0C => 95,
        0x2C0E => 96,
        0x2C10 => 97,
        0x2C12 => 98,
        0x2C14 => 99,
        0x2C16 => 100,
        0x2C1A => 101,
        0x4000 => 102,
        0x4002 => 103,
        0x4004 => 104,
        0x4006 => 105,
        0x4008 => 106,
        0x400A => 107,
        0x400C => 108,
        0x400E => 109,
        0x4010 => 110,
        0x4012 => 111,
        0x4014 => 112,
        0x4016 => 113,
        0x4018 => 114,
        0x401A => 115,
        0x401C => 116,
        0x401E => 117,
        0x4020 => 118,
        0x4022 => 119,
        0x4024 => 120,
        0x4026 => 121,
        0x4400 => 122,
        0x4402 => 123,
        0x4404 => 124,
        0x4406 => 125,
        0x4408 => 126,
        0x440A => 127,
        0x440C => 128,
        0x440E => 129,
        0x4800 => 130,
        0x4802 => 131,
        0x4804 => 132,
        0x4806 => 133,
        0x4808 => 134,
        0x480A => 135,
        0x480C => 136,
        0x480E => 137,
        0x4810 => 138,
        0x4812 => 139,
        0x4814 => 140,
        0x4816 => 141,
        0x4818 => 142,
        0x481A => 143,
        0x481C => 144,
        0x481E => 145,
        0x4820 => 146,
        0x4822 => 147,
        0x4824 => 148,
        0x4826 => 149,
        0x4828 => 150,
        0x482A => 151,
        0x482E => 152,
        0x4C00 => 153,
        0x6000 => 154,
        0x6002 => 155,
        0x6004 => 156,
        0x6006 => 157,
        0x6008 => 158,
        0x600A => 159,
        0x600C => 160,
        0x600E => 161,
        0x6400 => 162,
        0x6402 => 163,
        0x6404 => 164,
        0x6406 => 165,
        0x6408 => 166,
        0x640A => 167,
        0x6800 => 168,
        0x6802 => 169,
        0x6804 => 170,
        0x6806 => 171,
        0x6808 => 172,
        0x680A => 173,
        0x680C => 174,
        0x680E => 175,
        0x6810 => 176,
        0x6812 => 177,
        0x6814 => 178,
        0x6816 => 179,
        0x6818 => 180,
        0x681A => 181,
        0x681C => 182,
        0x681E => 183,
        0x6820 => 184,
        0x6822 => 185,
        0x6824 => 186,
        0x6826 => 187,
        0x6828 => 188,
        0x682A => 189,
        0x682C => 190,
        0x6C00 => 191,
        0x6C02 => 192,
        0x6C04 => 193,
        0x6C06 => 194,
        0x6C08 => 195,
        0x6C0A => 196,
        0x6C0C => 197,
        0x6C0E => 198,
        0x6C10 => 199,
        0x6C12 => 200,
        0x6C14 => 201,
        0x6C16 => 202,
        0x6C18 => 203,
        0x6C1A => 204,
        0x6C1C => 205,
        _ => -1,
    };

    /// <summary>The field list, in the order of VmcsFields.txt (SDM Vol. 3C, Appendix B).</summary>
    private static class Table
    {
        internal static readonly FieldInfo[] Fields =
        [
            new(0x0000, "VirtualProcessorId", VmxFeature.Vpid, false, "Virtual-processor identifier (VPID)"),
            new(0x0002, "PostedInterruptNotificationVector", VmxFeature.PostedInterrupts, false, "Posted-interrupt notification vector"),
            new(0x0004, "EptpIndex", VmxFeature.EptViolationVe, false, "EPTP index"),
            new(0x0006, "HlatPrefixSize", VmxFeature.Hlat, true, "HLAT prefix size"),
            new(0x0008, "LastPidPointerIndex", VmxFeature.IpiVirtualization, true, "Last PID-pointer index"),
            new(0x000A, "VirtualTimerVector", VmxFeature.ApicTimerVirtualization, true, "Virtual-timer vector"),
            new(0x0800, "GuestEsSelector", VmxFeature.Always, false, "Guest ES selector"),
            new(0x0802, "GuestCsSelector", VmxFeature.Always, false, "Guest CS selector"),
            new(0x0804, "GuestSsSelector", VmxFeature.Always, false, "Guest SS selector"),
            new(0x0806, "GuestDsSelector", VmxFeature.Always, false, "Guest DS selector"),
            new(0x0808, "GuestFsSelector", VmxFeature.Always, false, "Guest FS selector"),
            new(0x080A, "GuestGsSelector", VmxFeature.Always, false, "Guest GS selector"),
            new(0x080C, "GuestLdtrSelector", VmxFeature.Always, false, "Guest LDTR selector"),
            new(0x080E, "GuestTrSelector", VmxFeature.Always, false, "Guest TR selector"),
            new(0x0810, "GuestInterruptStatus", VmxFeature.VirtualInterruptDelivery, false, "Guest interrupt status (RVI in bits 7:0, SVI in bits 15:8)"),
            new(0x0812, "PmlIndex", VmxFeature.Pml, false, "PML index"),
            new(0x0814, "GuestUinv", VmxFeature.Uinv, true, "Guest UINV (user-interrupt notification vector)"),
            new(0x0C00, "HostEsSelector", VmxFeature.Always, false, "Host ES selector"),
            new(0x0C02, "HostCsSelector", VmxFeature.Always, false, "Host CS selector"),
            new(0x0C04, "HostSsSelector", VmxFeature.Always, false, "Host SS selector"),
            new(0x0C06, "HostDsSelector", VmxFeature.Always, false, "Host DS selector"),
            new(0x0C08, "HostFsSelector", VmxFeature.Always, false, "Host FS selector"),
            new(0x0C0A, "HostGsSelector", VmxFeature.Always, false, "Host GS selector"),
            new(0x0C0C, "HostTrSelector", VmxFeature.Always, false, "Host TR selector"),
            new(0x2000, "IoBitmapA", VmxFeature.Always, false, "Address of I/O bitmap A (ports 0000h-7FFFh)"),
            new(0x2002, "IoBitmapB", VmxFeature.Always, false, "Address of I/O bitmap B (ports 8000h-FFFFh)"),
            new(0x2004, "MsrBitmap", VmxFeature.MsrBitmaps, false, "Address of MSR bitmaps"),
            new(0x2006, "VmExitMsrStoreAddress", VmxFeature.Always, false, "VM-exit MSR-store address"),
            new(0x2008, "VmExitMsrLoadAddress", VmxFeature.Always, false, "VM-exit MSR-load address"),
            new(0x200A, "VmEntryMsrLoadAddress", VmxFeature.Always, false, "VM-entry MSR-load address"),
            new(0x200C, "ExecutiveVmcsPointer", VmxFeature.Always, false, "Executive-VMCS pointer"),
            new(0x200E, "PmlAddress", VmxFeature.Pml, false, "PML address"),
            new(0x2010, "TscOffset", VmxFeature.Always, false, "TSC offset"),
            new(0x2012, "VirtualApicAddress", VmxFeature.TprShadow, false, "Virtual-APIC address"),
            new(0x2014, "ApicAccessAddress", VmxFeature.VirtualizeApicAccesses, false, "APIC-access address"),
            new(0x2016, "PostedInterruptDescriptorAddress", VmxFeature.PostedInterrupts, false, "Posted-interrupt descriptor address"),
            new(0x2018, "VmFunctionControls", VmxFeature.VmFunctions, false, "VM-function controls"),
            new(0x201A, "EptPointer", VmxFeature.Ept, false, "EPT pointer (EPTP)"),
            new(0x201C, "EoiExitBitmap0", VmxFeature.VirtualInterruptDelivery, false, "EOI-exit bitmap 0 (vectors 0-63)"),
            new(0x201E, "EoiExitBitmap1", VmxFeature.VirtualInterruptDelivery, false, "EOI-exit bitmap 1 (vectors 64-127)"),
            new(0x2020, "EoiExitBitmap2", VmxFeature.VirtualInterruptDelivery, false, "EOI-exit bitmap 2 (vectors 128-191)"),
            new(0x2022, "EoiExitBitmap3", VmxFeature.VirtualInterruptDelivery, false, "EOI-exit bitmap 3 (vectors 192-255)"),
            new(0x2024, "EptpListAddress", VmxFeature.EptpSwitching, false, "EPTP-list address"),
            new(0x2026, "VmreadBitmapAddress", VmxFeature.VmcsShadowing, false, "VMREAD-bitmap address"),
            new(0x2028, "VmwriteBitmapAddress", VmxFeature.VmcsShadowing, false, "VMWRITE-bitmap address"),
            new(0x202A, "VirtualizationExceptionInformationAddress", VmxFeature.EptViolationVe, false, "Virtualization-exception information address"),
            new(0x202C, "XssExitingBitmap", VmxFeature.Xsaves, false, "XSS-exiting bitmap"),
            new(0x202E, "EnclsExitingBitmap", VmxFeature.EnclsExiting, false, "ENCLS-exiting bitmap"),
            new(0x2030, "SubPagePermissionTablePointer", VmxFeature.SubPageWritePermissions, false, "Sub-page-permission-table pointer"),
            new(0x2032, "TscMultiplier", VmxFeature.TscScaling, false, "TSC multiplier"),
            new(0x2034, "TertiaryProcBasedVmExecControls", VmxFeature.TertiaryControls, false, "Tertiary processor-based VM-execution controls"),
            new(0x2036, "EnclvExitingBitmap", VmxFeature.EnclvExiting, false, "ENCLV-exiting bitmap"),
            new(0x2038, "LowPasidDirectoryAddress", VmxFeature.PasidTranslation, true, "Low PASID directory address"),
            new(0x203A, "HighPasidDirectoryAddress", VmxFeature.PasidTranslation, true, "High PASID directory address"),
            new(0x203C, "SharedEptPointer", VmxFeature.Seam, true, "Shared-EPT pointer (SEAM VMX operation)"),
            new(0x203E, "PconfigExitingBitmap", VmxFeature.PconfigExiting, false, "PCONFIG-exiting bitmap"),
            new(0x2040, "HlatPointer", VmxFeature.Hlat, true, "Hypervisor-managed linear-address translation pointer"),
            new(0x2042, "PidPointerTableAddress", VmxFeature.IpiVirtualization, true, "PID-pointer table address"),
            new(0x2044, "SecondaryVmExitControls", VmxFeature.SecondaryExitControls, true, "Secondary VM-exit controls"),
            new(0x204A, "SpecCtrlMask", VmxFeature.SpecCtrlVirtualization, false, "IA32_SPEC_CTRL mask"),
            new(0x204C, "SpecCtrlShadow", VmxFeature.SpecCtrlVirtualization, false, "IA32_SPEC_CTRL shadow"),
            new(0x204E, "GuestDeadlineShadow", VmxFeature.ApicTimerVirtualization, true, "Virtual-timer guest-deadline shadow"),
            new(0x2052, "InjectedEventData", VmxFeature.GuestFred, true, "Injected-event data (FRED)"),
            new(0x2400, "GuestPhysicalAddress", VmxFeature.Ept, false, "Guest-physical address"),
            new(0x2402, "MsrData", VmxFeature.MsrList, true, "MSR data (RDMSRLIST/WRMSRLIST exits)"),
            new(0x2404, "OriginalEventData", VmxFeature.GuestFred, true, "Original-event data (FRED)"),
            new(0x2800, "VmcsLinkPointer", VmxFeature.Always, false, "VMCS link pointer"),
            new(0x2802, "GuestDebugCtl", VmxFeature.Always, false, "Guest IA32_DEBUGCTL"),
            new(0x2804, "GuestPat", VmxFeature.GuestPat, false, "Guest IA32_PAT"),
            new(0x2806, "GuestEfer", VmxFeature.GuestEfer, false, "Guest IA32_EFER"),
            new(0x2808, "GuestPerfGlobalCtrl", VmxFeature.GuestPerfGlobalCtrl, false, "Guest IA32_PERF_GLOBAL_CTRL"),
            new(0x280A, "GuestPdpte0", VmxFeature.Ept, false, "Guest PDPTE0"),
            new(0x280C, "GuestPdpte1", VmxFeature.Ept, false, "Guest PDPTE1"),
            new(0x280E, "GuestPdpte2", VmxFeature.Ept, false, "Guest PDPTE2"),
            new(0x2810, "GuestPdpte3", VmxFeature.Ept, false, "Guest PDPTE3"),
            new(0x2812, "GuestBndcfgs", VmxFeature.GuestBndcfgs, false, "Guest IA32_BNDCFGS"),
            new(0x2814, "GuestRtitCtl", VmxFeature.GuestRtitCtl, false, "Guest IA32_RTIT_CTL"),
            new(0x2816, "GuestLbrCtl", VmxFeature.GuestLbrCtl, false, "Guest IA32_LBR_CTL"),
            new(0x2818, "GuestPkrs", VmxFeature.GuestPkrs, false, "Guest IA32_PKRS"),
            new(0x281A, "GuestFredConfig", VmxFeature.GuestFred, false, "Guest IA32_FRED_CONFIG"),
            new(0x281C, "GuestFredRsp1", VmxFeature.GuestFred, false, "Guest IA32_FRED_RSP1"),
            new(0x281E, "GuestFredRsp2", VmxFeature.GuestFred, false, "Guest IA32_FRED_RSP2"),
            new(0x2820, "GuestFredRsp3", VmxFeature.GuestFred, false, "Guest IA32_FRED_RSP3"),
            new(0x2822, "GuestFredStackLevels", VmxFeature.GuestFred, false, "Guest IA32_FRED_STKLVLS"),
            new(0x2824, "GuestFredSsp1", VmxFeature.GuestFred, false, "Guest IA32_FRED_SSP1"),
            new(0x2826, "GuestFredSsp2", VmxFeature.GuestFred, false, "Guest IA32_FRED_SSP2"),
            new(0x2828, "GuestFredSsp3", VmxFeature.GuestFred, false, "Guest IA32_FRED_SSP3"),
            new(0x282E, "GuestSpecCtrl", VmxFeature.GuestSpecCtrl, false, "Guest IA32_SPEC_CTRL"),
            new(0x2830, "GuestDeadline", VmxFeature.ApicTimerVirtualization, true, "Virtual-timer guest deadline"),
            new(0x2C00, "HostPat", VmxFeature.HostPat, false, "Host IA32_PAT"),
            new(0x2C02, "HostEfer", VmxFeature.HostEfer, false, "Host IA32_EFER"),
            new(0x2C04, "HostPerfGlobalCtrl", VmxFeature.HostPerfGlobalCtrl, false, "Host IA32_PERF_GLOBAL_CTRL"),
            new(0x2C06, "HostPkrs", VmxFeature.HostPkrs, false, "Host IA32_PKRS"),
            new(0x2C08, "HostFredConfig", VmxFeature.HostFred, false, "Host IA32_FRED_CONFIG"),
            new(0x2C0A, "HostFredRsp1", VmxFeature.HostFred, false, "Host IA32_FRED_RSP1"),
            new(0x2C0C, "HostFredRsp2", VmxFeature.HostFred, false, "Host IA32_FRED_RSP2"),
            new(0x2C0E, "HostFredRsp3", VmxFeature.HostFred, false, "Host IA32_FRED_RSP3"),
            new(0x2C10, "HostFredStackLevels", VmxFeature.HostFred, false, "Host IA32_FRED_STKLVLS"),
            new(0x2C12, "HostFredSsp1", VmxFeature.HostFred, false, "Host IA32_FRED_SSP1"),
            new(0x2C14, "HostFredSsp2", VmxFeature.HostFred, false, "Host IA32_FRED_SSP2"),
            new(0x2C16, "HostFredSsp3", VmxFeature.HostFred, false, "Host IA32_FRED_SSP3"),
            new(0x2C1A, "HostSpecCtrl", VmxFeature.HostSpecCtrl, false, "Host IA32_SPEC_CTRL"),
            new(0x4000, "PinBasedVmExecControls", VmxFeature.Always, false, "Pin-based VM-execution controls"),
            new(0x4002, "PrimaryProcBasedVmExecControls", VmxFeature.Always, false, "Primary processor-based VM-execution controls"),
            new(0x4004, "ExceptionBitmap", VmxFeature.Always, false, "Exception bitmap"),
            new(0x4006, "PageFaultErrorCodeMask", VmxFeature.Always, false, "Page-fault error-code mask"),
            new(0x4008, "PageFaultErrorCodeMatch", VmxFeature.Always, false, "Page-fault error-code match"),
            new(0x400A, "Cr3TargetCount", VmxFeature.Always, false, "CR3-target count"),
            new(0x400C, "VmExitControls", VmxFeature.Always, false, "Primary VM-exit controls"),
            new(0x400E, "VmExitMsrStoreCount", VmxFeature.Always, false, "VM-exit MSR-store count"),
            new(0x4010, "VmExitMsrLoadCount", VmxFeature.Always, false, "VM-exit MSR-load count"),
            new(0x4012, "VmEntryControls", VmxFeature.Always, false, "VM-entry controls"),
            new(0x4014, "VmEntryMsrLoadCount", VmxFeature.Always, false, "VM-entry MSR-load count"),
            new(0x4016, "VmEntryInterruptionInformation", VmxFeature.Always, false, "VM-entry interruption-information field"),
            new(0x4018, "VmEntryExceptionErrorCode", VmxFeature.Always, false, "VM-entry exception error code"),
            new(0x401A, "VmEntryInstructionLength", VmxFeature.Always, false, "VM-entry instruction length"),
            new(0x401C, "TprThreshold", VmxFeature.TprShadow, false, "TPR threshold"),
            new(0x401E, "SecondaryProcBasedVmExecControls", VmxFeature.SecondaryControls, false, "Secondary processor-based VM-execution controls"),
            new(0x4020, "PleGap", VmxFeature.PauseLoopExiting, false, "PAUSE-loop exiting gap (PLE_Gap)"),
            new(0x4022, "PleWindow", VmxFeature.PauseLoopExiting, false, "PAUSE-loop exiting window (PLE_Window)"),
            new(0x4024, "InstructionTimeoutControl", VmxFeature.InstructionTimeout, false, "Instruction-timeout control (notify window)"),
            new(0x4026, "SeamGuestKeyId", VmxFeature.Seam, true, "Guest KeyID (SEAM VMX operation)"),
            new(0x4400, "VmInstructionError", VmxFeature.Always, false, "VM-instruction error"),
            new(0x4402, "ExitReason", VmxFeature.Always, false, "Exit reason"),
            new(0x4404, "VmExitInterruptionInformation", VmxFeature.Always, false, "VM-exit interruption information"),
            new(0x4406, "VmExitInterruptionErrorCode", VmxFeature.Always, false, "VM-exit interruption error code"),
            new(0x4408, "IdtVectoringInformation", VmxFeature.Always, false, "IDT-vectoring information field"),
            new(0x440A, "IdtVectoringErrorCode", VmxFeature.Always, false, "IDT-vectoring error code"),
            new(0x440C, "VmExitInstructionLength", VmxFeature.Always, false, "VM-exit instruction length"),
            new(0x440E, "VmExitInstructionInformation", VmxFeature.Always, false, "VM-exit instruction information"),
            new(0x4800, "GuestEsLimit", VmxFeature.Always, false, "Guest ES limit"),
            new(0x4802, "GuestCsLimit", VmxFeature.Always, false, "Guest CS limit"),
            new(0x4804, "GuestSsLimit", VmxFeature.Always, false, "Guest SS limit"),
            new(0x4806, "GuestDsLimit", VmxFeature.Always, false, "Guest DS limit"),
            new(0x4808, "GuestFsLimit", VmxFeature.Always, false, "Guest FS limit"),
            new(0x480A, "GuestGsLimit", VmxFeature.Always, false, "Guest GS limit"),
            new(0x480C, "GuestLdtrLimit", VmxFeature.Always, false, "Guest LDTR limit"),
            new(0x480E, "GuestTrLimit", VmxFeature.Always, false, "Guest TR limit"),
            new(0x4810, "GuestGdtrLimit", VmxFeature.Always, false, "Guest GDTR limit"),
            new(0x4812, "GuestIdtrLimit", VmxFeature.Always, false, "Guest IDTR limit"),
            new(0x4814, "GuestEsAccessRights", VmxFeature.Always, false, "Guest ES access rights"),
            new(0x4816, "GuestCsAccessRights", VmxFeature.Always, false, "Guest CS access rights"),
            new(0x4818, "GuestSsAccessRights", VmxFeature.Always, false, "Guest SS access rights"),
            new(0x481A, "GuestDsAccessRights", VmxFeature.Always, false, "Guest DS access rights"),
            new(0x481C, "GuestFsAccessRights", VmxFeature.Always, false, "Guest FS access rights"),
            new(0x481E, "GuestGsAccessRights", VmxFeature.Always, false, "Guest GS access rights"),
            new(0x4820, "GuestLdtrAccessRights", VmxFeature.Always, false, "Guest LDTR access rights"),
            new(0x4822, "GuestTrAccessRights", VmxFeature.Always, false, "Guest TR access rights"),
            new(0x4824, "GuestInterruptibilityState", VmxFeature.Always, false, "Guest interruptibility state"),
            new(0x4826, "GuestActivityState", VmxFeature.Always, false, "Guest activity state"),
            new(0x4828, "GuestSmbase", VmxFeature.Always, false, "Guest SMBASE"),
            new(0x482A, "GuestSysenterCs", VmxFeature.Always, false, "Guest IA32_SYSENTER_CS"),
            new(0x482E, "VmxPreemptionTimerValue", VmxFeature.PreemptionTimer, false, "VMX-preemption timer value"),
            new(0x4C00, "HostSysenterCs", VmxFeature.Always, false, "Host IA32_SYSENTER_CS"),
            new(0x6000, "Cr0GuestHostMask", VmxFeature.Always, false, "CR0 guest/host mask"),
            new(0x6002, "Cr4GuestHostMask", VmxFeature.Always, false, "CR4 guest/host mask"),
            new(0x6004, "Cr0ReadShadow", VmxFeature.Always, false, "CR0 read shadow"),
            new(0x6006, "Cr4ReadShadow", VmxFeature.Always, false, "CR4 read shadow"),
            new(0x6008, "Cr3TargetValue0", VmxFeature.Always, false, "CR3-target value 0"),
            new(0x600A, "Cr3TargetValue1", VmxFeature.Always, false, "CR3-target value 1"),
            new(0x600C, "Cr3TargetValue2", VmxFeature.Always, false, "CR3-target value 2"),
            new(0x600E, "Cr3TargetValue3", VmxFeature.Always, false, "CR3-target value 3"),
            new(0x6400, "ExitQualification", VmxFeature.Always, false, "Exit qualification"),
            new(0x6402, "IoRcx", VmxFeature.Always, false, "I/O RCX"),
            new(0x6404, "IoRsi", VmxFeature.Always, false, "I/O RSI"),
            new(0x6406, "IoRdi", VmxFeature.Always, false, "I/O RDI"),
            new(0x6408, "IoRip", VmxFeature.Always, false, "I/O RIP"),
            new(0x640A, "GuestLinearAddress", VmxFeature.Always, false, "Guest-linear address"),
            new(0x6800, "GuestCr0", VmxFeature.Always, false, "Guest CR0"),
            new(0x6802, "GuestCr3", VmxFeature.Always, false, "Guest CR3"),
            new(0x6804, "GuestCr4", VmxFeature.Always, false, "Guest CR4"),
            new(0x6806, "GuestEsBase", VmxFeature.Always, false, "Guest ES base"),
            new(0x6808, "GuestCsBase", VmxFeature.Always, false, "Guest CS base"),
            new(0x680A, "GuestSsBase", VmxFeature.Always, false, "Guest SS base"),
            new(0x680C, "GuestDsBase", VmxFeature.Always, false, "Guest DS base"),
            new(0x680E, "GuestFsBase", VmxFeature.Always, false, "Guest FS base"),
            new(0x6810, "GuestGsBase", VmxFeature.Always, false, "Guest GS base"),
            new(0x6812, "GuestLdtrBase", VmxFeature.Always, false, "Guest LDTR base"),
            new(0x6814, "GuestTrBase", VmxFeature.Always, false, "Guest TR base"),
            new(0x6816, "GuestGdtrBase", VmxFeature.Always, false, "Guest GDTR base"),
            new(0x6818, "GuestIdtrBase", VmxFeature.Always, false, "Guest IDTR base"),
            new(0x681A, "GuestDr7", VmxFeature.Always, false, "Guest DR7"),
            new(0x681C, "GuestRsp", VmxFeature.Always, false, "Guest RSP"),
            new(0x681E, "GuestRip", VmxFeature.Always, false, "Guest RIP"),
            new(0x6820, "GuestRflags", VmxFeature.Always, false, "Guest RFLAGS"),
            new(0x6822, "GuestPendingDebugExceptions", VmxFeature.Always, false, "Guest pending debug exceptions"),
            new(0x6824, "GuestSysenterEsp", VmxFeature.Always, false, "Guest IA32_SYSENTER_ESP"),
            new(0x6826, "GuestSysenterEip", VmxFeature.Always, false, "Guest IA32_SYSENTER_EIP"),
            new(0x6828, "GuestSCet", VmxFeature.GuestCet, false, "Guest IA32_S_CET"),
            new(0x682A, "GuestSsp", VmxFeature.GuestCet, false, "Guest SSP"),
            new(0x682C, "GuestInterruptSspTableAddress", VmxFeature.GuestCet, false, "Guest IA32_INTERRUPT_SSP_TABLE_ADDR"),
            new(0x6C00, "HostCr0", VmxFeature.Always, false, "Host CR0"),
            new(0x6C02, "HostCr3", VmxFeature.Always, false, "Host CR3"),
            new(0x6C04, "HostCr4", VmxFeature.Always, false, "Host CR4"),
            new(0x6C06, "HostFsBase", VmxFeature.Always, false, "Host FS base"),
            new(0x6C08, "HostGsBase", VmxFeature.Always, false, "Host GS base"),
            new(0x6C0A, "HostTrBase", VmxFeature.Always, false, "Host TR base"),
            new(0x6C0C, "HostGdtrBase", VmxFeature.Always, false, "Host GDTR base"),
            new(0x6C0E, "HostIdtrBase", VmxFeature.Always, false, "Host IDTR base"),
            new(0x6C10, "HostSysenterEsp", VmxFeature.Always, false, "Host IA32_SYSENTER_ESP"),
            new(0x6C12, "HostSysenterEip", VmxFeature.Always, false, "Host IA32_SYSENTER_EIP"),
            new(0x6C14, "HostRsp", VmxFeature.Always, false, "Host RSP"),
            new(0x6C16, "HostRip", VmxFeature.Always, false, "Host RIP"),
            new(0x6C18, "HostSCet", VmxFeature.HostCet, false, "Host IA32_S_CET"),
            new(0x6C1A, "HostSsp", VmxFeature.HostCet, false, "Host SSP"),
            new(0x6C1C, "HostInterruptSspTableAddress", VmxFeature.HostCet, false, "Host IA32_INTERRUPT_SSP_TABLE_ADDR"),
        ];
    }
}
