using Vtx.Decoding;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>
    /// VMFUNC (SDM Vol. 3C, 25.5.5 and the VMFUNC instruction reference): #UD outside non-root
    /// operation, with "enable VM functions" = 0, or with EAX above 63; a VM exit (reason 59,
    /// fault-like) when VM-function control bit EAX is 0. Function 0, EPTP switching (25.5.5.3): ECX
    /// selects one of the 512 entries of the EPTP list; an index above 511 or an entry VM entry would
    /// not accept as an EPTP (26.2.1.1) is a VM exit 59; otherwise the entry becomes the EPTP (in the
    /// VMCS field too) and ECX[15:0] the EPTP index (the processor supports "EPT-violation #VE"
    /// whenever it offers it), and the instruction completes. Cached guest-physical mappings are tagged
    /// with their EPTRTA and stay (28.3.1); the combined (linear) mappings of the ordinary TLB are not
    /// tagged, so they are dropped.
    /// </summary>
    private void ExecVmfunc(ref DecodedInstruction d)
    {
        uint fn = (uint)_gpr[0];
        if (!_nonRoot || !NrProc2(SecondaryProcessorBasedControls.EnableVmFunctions) || fn >= 64) { Fault(ExceptionVector.UD); return; }
        if (((_nr.VmFunctionControls >> (int)fn) & 1) == 0) { ExitForInstruction(ref d, VmxExitReason.Vmfunc); return; }
        // Function 0 is the only one a processor may offer (IA32_VMX_VMFUNC); VM entry refused any other bit.
        uint index = (uint)_gpr[1];
        if (fn != 0 || index >= 512) { ExitForInstruction(ref d, VmxExitReason.Vmfunc); return; }
        ulong eptp = ReadPhysical(_nr.EptpList + 8UL * index, 8);
        if (!IsValidEptp(eptp)) { ExitForInstruction(ref d, VmxExitReason.Vmfunc); return; }
        Vmcs.Write(VmcsField.EptPointer, eptp);
        if (Model.Vmx!.Offers(VmxFeature.EptViolationVe)) Vmcs.Write(VmcsField.EptpIndex, index);
        LoadEptp(eptp);
        FlushTlb();
        TimingTlbFlushCombined(anyVpid: false); // issue 10
    }
}
