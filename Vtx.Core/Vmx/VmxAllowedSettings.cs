namespace Vtx.Vmx;

/// <summary>
/// The allowed settings of a 32-bit VMX control field as a capability MSR reports them (SDM Vol. 3C, A.3-A.5):
/// bit X of <see cref="Allowed0"/> (MSR bits 31:0) = 1 means control X must be 1; bit X of
/// <see cref="Allowed1"/> (MSR bits 63:32) = 0 means control X must be 0. VM entry fails with
/// VM-instruction error 7 if a control violates them (SDM Vol. 3C, 26.2.1).
/// </summary>
/// <param name="Allowed0">Allowed 0-settings: the controls that must be 1.</param>
/// <param name="Allowed1">Allowed 1-settings: the controls that may be 1.</param>
public readonly record struct VmxAllowedSettings(uint Allowed0, uint Allowed1)
{
    /// <summary>The MSR value: allowed 0-settings in bits 31:0, allowed 1-settings in bits 63:32 (SDM Vol. 3C, A.3.1).</summary>
    public ulong MsrValue => Allowed0 | (ulong)Allowed1 << 32;

    /// <summary>The settings an MSR value reports (SDM Vol. 3C, A.3.1).</summary>
    public static VmxAllowedSettings FromMsr(ulong value) => new((uint)value, (uint)(value >> 32));

    /// <summary>
    /// True if <paramref name="controls"/> is allowed: every bit that must be 1 is 1 and no bit that must be 0 is 1
    /// (SDM Vol. 3C, 26.2.1.1-26.2.1.3; A.3.1).
    /// </summary>
    public bool Permits(uint controls) => (controls & Allowed0) == Allowed0 && (controls & ~Allowed1) == 0;

    /// <summary>
    /// <paramref name="desired"/> with the must-be-1 bits set and the must-be-0 bits cleared, the adjustment
    /// software makes before writing a control field (SDM Vol. 3C, A.2 and 31.5.1 "algorithms for determining
    /// VMX capabilities"). The result is permitted whenever the settings are consistent.
    /// </summary>
    public uint Adjust(uint desired) => (desired | Allowed0) & Allowed1;

    /// <summary>True if every control that must be 1 may be 1 (allowed-0 bits are a subset of allowed-1 bits), so some setting is permitted (SDM Vol. 3C, A.3.1).</summary>
    public bool IsConsistent => (Allowed0 & ~Allowed1) == 0;

    /// <summary>True if control bits <paramref name="mask"/> may all be 1: their allowed-1 bits are set (SDM Vol. 3C, A.3.1).</summary>
    public bool MayBeOne(uint mask) => (Allowed1 & mask) == mask;

    /// <summary>True if control bits <paramref name="mask"/> may all be 0: their allowed-0 bits are clear (SDM Vol. 3C, A.3.1).</summary>
    public bool MayBeZero(uint mask) => (Allowed0 & mask) == 0;

    /// <summary>The MSR value in hex, allowed-1 (bits 63:32) and allowed-0 (bits 31:0) halves separated (SDM Vol. 3C, A.3.1).</summary>
    public override string ToString() => $"0x{Allowed1:X8}_{Allowed0:X8}";
}
