namespace Vtx;

/// <summary>Model-specific register indices the CPU model exposes (SDM Vol. 4, chapter 2).</summary>
public static class Msr
{
    /// <summary>IA32_TIME_STAMP_COUNTER.</summary>
    public const uint Tsc = 0x10;
    /// <summary>IA32_PLATFORM_ID (read-only): the platform ID in bits 52:50 that selects microcode updates (SDM Vol. 4, Table 2-2; Vol. 3A, 10.11.2). This model reads 0.</summary>
    public const uint PlatformId = 0x17;
    /// <summary>IA32_APIC_BASE.</summary>
    public const uint ApicBase = 0x1B;
    /// <summary>IA32_FEATURE_CONTROL.</summary>
    public const uint FeatureControl = 0x3A;
    /// <summary>IA32_BIOS_SIGN_ID: the microcode update signature in bits 63:32 (SDM Vol. 4, Table 2-2; Vol. 3A, 10.11.7.1).</summary>
    public const uint BiosSignId = 0x8B;
    /// <summary>IA32_MTRRCAP.</summary>
    public const uint MtrrCap = 0xFE;
    /// <summary>IA32_MISC_ENABLE (SDM Vol. 4, Table 2-2).</summary>
    public const uint MiscEnable = 0x1A0;
    /// <summary>IA32_DEBUGCTL (SDM Vol. 3B, 18.4.1): this model accepts LBR (bit 0) and BTF (bit 1) only.</summary>
    public const uint DebugCtl = 0x1D9;
    /// <summary>IA32_SYSENTER_CS.</summary>
    public const uint SysenterCs = 0x174;
    /// <summary>IA32_SYSENTER_ESP.</summary>
    public const uint SysenterEsp = 0x175;
    /// <summary>IA32_SYSENTER_EIP.</summary>
    public const uint SysenterEip = 0x176;
    /// <summary>IA32_MTRR_PHYSBASE0 (variable-range MTRR pairs 0x200..0x20F).</summary>
    public const uint MtrrPhysBase0 = 0x200;
    /// <summary>IA32_MTRR_FIX64K_00000.</summary>
    public const uint MtrrFix64K = 0x250;
    /// <summary>IA32_PAT.</summary>
    public const uint Pat = 0x277;
    /// <summary>IA32_MTRR_DEF_TYPE.</summary>
    public const uint MtrrDefType = 0x2FF;
    /// <summary>IA32_EFER.</summary>
    public const uint Efer = 0xC000_0080;
    /// <summary>IA32_STAR.</summary>
    public const uint Star = 0xC000_0081;
    /// <summary>IA32_LSTAR.</summary>
    public const uint Lstar = 0xC000_0082;
    /// <summary>IA32_CSTAR.</summary>
    public const uint Cstar = 0xC000_0083;
    /// <summary>IA32_FMASK (SFMASK).</summary>
    public const uint Fmask = 0xC000_0084;
    /// <summary>IA32_FS_BASE.</summary>
    public const uint FsBase = 0xC000_0100;
    /// <summary>IA32_GS_BASE.</summary>
    public const uint GsBase = 0xC000_0101;
    /// <summary>IA32_KERNEL_GS_BASE.</summary>
    public const uint KernelGsBase = 0xC000_0102;
    /// <summary>IA32_TSC_AUX.</summary>
    public const uint TscAux = 0xC000_0103;
}
