namespace Vtx.Vmx;

/// <summary>Indices of the VMX capability MSRs (SDM Vol. 3C, Appendix A; SDM Vol. 4, Table 2-2). All are read-only.</summary>
public static class VmxMsr
{
    /// <summary>IA32_VMX_BASIC: revision identifier, region size, memory type, INS/OUTS reporting, TRUE controls (SDM A.1).</summary>
    public const uint Basic = 0x480;
    /// <summary>IA32_VMX_PINBASED_CTLS: allowed settings of the pin-based controls, default1 bits reported as 1 (SDM A.3.1).</summary>
    public const uint PinBasedCtls = 0x481;
    /// <summary>IA32_VMX_PROCBASED_CTLS: allowed settings of the primary processor-based controls (SDM A.3.2).</summary>
    public const uint ProcBasedCtls = 0x482;
    /// <summary>IA32_VMX_EXIT_CTLS: allowed settings of the primary VM-exit controls (SDM A.4.1).</summary>
    public const uint ExitCtls = 0x483;
    /// <summary>IA32_VMX_ENTRY_CTLS: allowed settings of the VM-entry controls (SDM A.5).</summary>
    public const uint EntryCtls = 0x484;
    /// <summary>IA32_VMX_MISC: preemption-timer rate, activity states, CR3-target count, MSR-list size, ... (SDM A.6).</summary>
    public const uint Misc = 0x485;
    /// <summary>IA32_VMX_CR0_FIXED0: CR0 bits fixed to 1 in VMX operation (SDM A.7).</summary>
    public const uint Cr0Fixed0 = 0x486;
    /// <summary>IA32_VMX_CR0_FIXED1: CR0 bits allowed to be 1 in VMX operation (SDM A.7).</summary>
    public const uint Cr0Fixed1 = 0x487;
    /// <summary>IA32_VMX_CR4_FIXED0: CR4 bits fixed to 1 in VMX operation (SDM A.8).</summary>
    public const uint Cr4Fixed0 = 0x488;
    /// <summary>IA32_VMX_CR4_FIXED1: CR4 bits allowed to be 1 in VMX operation (SDM A.8).</summary>
    public const uint Cr4Fixed1 = 0x489;
    /// <summary>IA32_VMX_VMCS_ENUM: bits 9:1 = highest index of any supported VMCS encoding (SDM A.9).</summary>
    public const uint VmcsEnum = 0x48A;
    /// <summary>IA32_VMX_PROCBASED_CTLS2: allowed settings of the secondary processor-based controls (SDM A.3.3).</summary>
    public const uint ProcBasedCtls2 = 0x48B;
    /// <summary>IA32_VMX_EPT_VPID_CAP: EPT and VPID capabilities (SDM A.10).</summary>
    public const uint EptVpidCap = 0x48C;
    /// <summary>IA32_VMX_TRUE_PINBASED_CTLS: pin-based allowed settings where default1 controls may be 0 (SDM A.3.1).</summary>
    public const uint TruePinBasedCtls = 0x48D;
    /// <summary>IA32_VMX_TRUE_PROCBASED_CTLS: primary processor-based allowed settings where default1 controls may be 0 (SDM A.3.2).</summary>
    public const uint TrueProcBasedCtls = 0x48E;
    /// <summary>IA32_VMX_TRUE_EXIT_CTLS: VM-exit allowed settings where default1 controls may be 0 (SDM A.4.1).</summary>
    public const uint TrueExitCtls = 0x48F;
    /// <summary>IA32_VMX_TRUE_ENTRY_CTLS: VM-entry allowed settings where default1 controls may be 0 (SDM A.5).</summary>
    public const uint TrueEntryCtls = 0x490;
    /// <summary>IA32_VMX_VMFUNC: bit X = 1 if VM function X may be enabled (SDM A.11).</summary>
    public const uint VmFunc = 0x491;
    /// <summary>IA32_VMX_PROCBASED_CTLS3: allowed 1-settings of the 64-bit tertiary processor-based controls (SDM A.3.4).</summary>
    public const uint ProcBasedCtls3 = 0x492;
    /// <summary>IA32_VMX_EXIT_CTLS2: allowed 1-settings of the 64-bit secondary VM-exit controls (SDM A.4.2).</summary>
    public const uint ExitCtls2 = 0x493;
}

/// <summary>Bits of IA32_VMX_EPT_VPID_CAP (MSR 48Ch) (SDM Vol. 3C, A.10).</summary>
public static class EptVpidCapability
{
    /// <summary>Bit 0: execute-only EPT translations (R = W = 0, X = 1) are supported (SDM Vol. 3C, A.10).</summary>
    public const ulong ExecuteOnly = 1UL << 0;
    /// <summary>Bit 6: page-walk length of 4 is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong PageWalkLength4 = 1UL << 6;
    /// <summary>Bit 7: page-walk length of 5 is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong PageWalkLength5 = 1UL << 7;
    /// <summary>Bit 8: the EPT paging-structure memory type may be uncacheable (EPTP[2:0] = 0) (SDM Vol. 3C, A.10).</summary>
    public const ulong UncacheableType = 1UL << 8;
    /// <summary>Bit 14: the EPT paging-structure memory type may be write-back (EPTP[2:0] = 6) (SDM Vol. 3C, A.10).</summary>
    public const ulong WriteBackType = 1UL << 14;
    /// <summary>Bit 16: EPT PDEs may map 2-MByte pages (SDM Vol. 3C, A.10).</summary>
    public const ulong Pde2MbPages = 1UL << 16;
    /// <summary>Bit 17: EPT PDPTEs may map 1-GByte pages (SDM Vol. 3C, A.10).</summary>
    public const ulong Pdpte1GbPages = 1UL << 17;
    /// <summary>Bit 20: INVEPT is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong Invept = 1UL << 20;
    /// <summary>Bit 21: accessed and dirty flags for EPT are supported (EPTP bit 6) (SDM Vol. 3C, A.10).</summary>
    public const ulong AccessedDirtyFlags = 1UL << 21;
    /// <summary>Bit 22: advanced VM-exit information for EPT violations (SDM Vol. 3C, A.10).</summary>
    public const ulong AdvancedExitInformation = 1UL << 22;
    /// <summary>Bit 23: supervisor shadow-stack control (EPTP bit 7) (SDM Vol. 3C, A.10).</summary>
    public const ulong SupervisorShadowStack = 1UL << 23;
    /// <summary>Bit 25: single-context INVEPT (type 1) is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong InveptSingleContext = 1UL << 25;
    /// <summary>Bit 26: all-context INVEPT (type 2) is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong InveptAllContext = 1UL << 26;
    /// <summary>Bit 32: INVVPID is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong Invvpid = 1UL << 32;
    /// <summary>Bit 40: individual-address INVVPID (type 0) is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong InvvpidIndividualAddress = 1UL << 40;
    /// <summary>Bit 41: single-context INVVPID (type 1) is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong InvvpidSingleContext = 1UL << 41;
    /// <summary>Bit 42: all-context INVVPID (type 2) is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong InvvpidAllContext = 1UL << 42;
    /// <summary>Bit 43: single-context-retaining-globals INVVPID (type 3) is supported (SDM Vol. 3C, A.10).</summary>
    public const ulong InvvpidSingleContextRetainingGlobals = 1UL << 43;
    /// <summary>The EPT capability bits (31:0 and HLAT prefix size 53:48); reported only when "enable EPT" may be 1 (SDM Vol. 3C, A.10).</summary>
    public const ulong EptMask = 0x003F_0000_FFFF_FFFFUL;
    /// <summary>The VPID capability bits (47:32); reported only when "enable VPID" may be 1 (SDM Vol. 3C, A.10).</summary>
    public const ulong VpidMask = 0x0000_FFFF_0000_0000UL;
}

/// <summary>VM functions, the bits of IA32_VMX_VMFUNC and of the VM-function controls field 2018h (SDM Vol. 3C, 24.6.14, A.11).</summary>
public static class VmFunction
{
    /// <summary>VM function 0: EPTP switching (SDM Vol. 3C, A.11).</summary>
    public const ulong EptpSwitching = 1UL << 0;
}
