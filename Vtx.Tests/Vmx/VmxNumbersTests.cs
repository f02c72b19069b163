using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>Exit reasons (SDM Vol. 3C, Appendix C) and VM-instruction error numbers (SDM Vol. 3C, 30.4).</summary>
public class VmxNumbersTests
{
    [Fact]
    public void ExitReasonNumbers()
    {
        Assert.Equal(0, (int)VmxExitReason.ExceptionOrNmi);
        Assert.Equal(2, (int)VmxExitReason.TripleFault);
        Assert.Equal(7, (int)VmxExitReason.InterruptWindow);
        Assert.Equal(10, (int)VmxExitReason.Cpuid);
        Assert.Equal(12, (int)VmxExitReason.Hlt);
        Assert.Equal(18, (int)VmxExitReason.Vmcall);
        Assert.Equal(28, (int)VmxExitReason.ControlRegisterAccess);
        Assert.Equal(30, (int)VmxExitReason.IoInstruction);
        Assert.Equal(33, (int)VmxExitReason.EntryFailureGuestState);
        Assert.Equal(34, (int)VmxExitReason.EntryFailureMsrLoading);
        Assert.Equal(37, (int)VmxExitReason.MonitorTrapFlag);
        Assert.Equal(41, (int)VmxExitReason.EntryFailureMachineCheck);
        Assert.Equal(48, (int)VmxExitReason.EptViolation);
        Assert.Equal(49, (int)VmxExitReason.EptMisconfiguration);
        Assert.Equal(52, (int)VmxExitReason.PreemptionTimerExpired);
        Assert.Equal(55, (int)VmxExitReason.Xsetbv);
        Assert.Equal(62, (int)VmxExitReason.PmlFull);
        Assert.Equal(75, (int)VmxExitReason.InstructionTimeout);
        // Unused numbers have no member; 0..85 otherwise consecutive.
        int[] unused = [35, 38, 42, 71, 82, 83];
        var values = Enum.GetValues<VmxExitReason>().Select(r => (int)r).ToArray();
        Assert.Equal(Enumerable.Range(0, 86).Except(unused), values);
        Assert.Equal(0x8000_0000u, ExitReasonBits.EntryFailure);
        Assert.Equal(33u | ExitReasonBits.EntryFailure, (uint)VmxExitReason.EntryFailureGuestState | ExitReasonBits.EntryFailure);
    }

    [Fact]
    public void VmInstructionErrorNumbers()
    {
        Assert.Equal(1u, (uint)VmInstructionError.VmcallInVmxRoot);
        Assert.Equal(4u, (uint)VmInstructionError.VmlaunchNonClearVmcs);
        Assert.Equal(5u, (uint)VmInstructionError.VmresumeNonLaunchedVmcs);
        Assert.Equal(7u, (uint)VmInstructionError.EntryInvalidControlFields);
        Assert.Equal(8u, (uint)VmInstructionError.EntryInvalidHostStateFields);
        Assert.Equal(11u, (uint)VmInstructionError.VmptrldIncorrectRevisionId);
        Assert.Equal(12u, (uint)VmInstructionError.UnsupportedVmcsComponent);
        Assert.Equal(13u, (uint)VmInstructionError.VmwriteReadOnlyComponent);
        Assert.Equal(15u, (uint)VmInstructionError.VmxonInVmxRoot);
        Assert.Equal(26u, (uint)VmInstructionError.EntryEventsBlockedByMovSs);
        Assert.Equal(28u, (uint)VmInstructionError.InvalidInveptInvvpidOperand);
        var values = Enum.GetValues<VmInstructionError>().Select(e => (int)e).ToArray();
        Assert.Equal(Enumerable.Range(0, 29).Except([14, 21, 27]), values);
    }
}
