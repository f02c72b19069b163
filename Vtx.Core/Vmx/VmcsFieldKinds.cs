namespace Vtx.Vmx;

/// <summary>
/// Width of a VMCS component, bits 14:13 of its encoding (SDM Vol. 3C, 24.11.2 and Appendix B,
/// Table B-1 "Structure of VMCS Component Encoding").
/// </summary>
public enum VmcsFieldWidth
{
    /// <summary>16-bit field (encoding bits 14:13 = 0) (SDM Vol. 3C, 24.11.2).</summary>
    Bits16 = 0,
    /// <summary>64-bit field (encoding bits 14:13 = 1); the only width with a "high" access (bit 0 = 1) (SDM Vol. 3C, 24.11.2).</summary>
    Bits64 = 1,
    /// <summary>32-bit field (encoding bits 14:13 = 2) (SDM Vol. 3C, 24.11.2).</summary>
    Bits32 = 2,
    /// <summary>Natural-width field (encoding bits 14:13 = 3): 64 bits on processors supporting Intel 64 (SDM Vol. 3C, 24.11.2).</summary>
    Natural = 3,
}

/// <summary>
/// Type of a VMCS component, bits 11:10 of its encoding (SDM Vol. 3C, 24.11.2 and Appendix B, Table B-1).
/// </summary>
public enum VmcsFieldType
{
    /// <summary>Control field (encoding bits 11:10 = 0) (SDM Vol. 3C, 24.11.2).</summary>
    Control = 0,
    /// <summary>
    /// VM-exit information field, the "read-only data" type (encoding bits 11:10 = 1): VMWRITE to it fails
    /// with VM-instruction error 13 unless IA32_VMX_MISC[29] is 1 (SDM Vol. 3C, 24.11.2, A.6).
    /// </summary>
    ExitInformation = 1,
    /// <summary>Guest-state field (encoding bits 11:10 = 2) (SDM Vol. 3C, 24.11.2).</summary>
    GuestState = 2,
    /// <summary>Host-state field (encoding bits 11:10 = 3) (SDM Vol. 3C, 24.11.2).</summary>
    HostState = 3,
}

/// <summary>
/// Access type of a VMCS component encoding, bit 0 (SDM Vol. 3C, 24.11.2 and Appendix B, Table B-1).
/// </summary>
public enum VmcsFieldAccess
{
    /// <summary>Full access: the whole field (encoding bit 0 = 0) (SDM Vol. 3C, 24.11.2).</summary>
    Full = 0,
    /// <summary>High access: bits 63:32 of a 64-bit field (encoding bit 0 = 1); invalid for other widths (SDM Vol. 3C, 24.11.2).</summary>
    High = 1,
}
