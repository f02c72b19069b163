namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>
    /// IA32_DEBUGCTL bits this model accepts (SDM Vol. 3B, 18.4.1; Vol. 4, MSR 1D9h): LBR (bit 0) and
    /// BTF (bit 1). They are stored, read back, and loaded/saved by the VMX "load/save debug controls"
    /// (SDM Vol. 3C, 26.3.2.1, 27.3.1). BTF (single-step on branches, SDM Vol. 3B 18.4.3) is modelled in
    /// Cpu.Debug.cs; LBR is accepted and records nothing (the model advertises neither PDCM nor
    /// architectural LBRs, CPUID.1:ECX[15] and CPUID.7:EDX[19]). Any other bit is reserved here: WRMSR setting it raises #GP(0), and VM entry with
    /// "load debug controls" fails its guest-state check (26.3.1.1).
    /// </summary>
    internal const ulong DebugCtlSupported = 0b11;

    /// <summary>IA32_DEBUGCTL: 0 at reset and after every VM exit (SDM Vol. 3C, 27.5.1).</summary>
    private ulong _debugCtl;
}
