using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the VM-exit control fields (SDM Vol. 3C, 26.2.1.2): any failure is VMfailValid(7).</summary>
    private bool CheckExitControls(in ControlCheckState c)
    {
        var caps = Model.Vmx!;
        uint pin = c.Pin, exit = c.Exit;
        if (!caps.ControlsValid(VmxControlKind.Exit, exit))
            return Fail(VmEntryChecks.ControlExitAllowedSettings, VmcsField.VmExitControls, exit, "VM-exit controls must obey IA32_VMX_(TRUE_)EXIT_CTLS");
        if ((exit & ExitControls.ActivateSecondaryControls) != 0 && !caps.SecondaryExitControlsValid(F(VmcsField.SecondaryVmExitControls)))
            return Fail(VmEntryChecks.ControlExitSecondaryAllowedSettings, VmcsField.SecondaryVmExitControls, F(VmcsField.SecondaryVmExitControls), "secondary VM-exit controls must obey IA32_VMX_EXIT_CTLS2");
        if ((pin & PinBasedControls.ActivatePreemptionTimer) == 0 && (exit & ExitControls.SavePreemptionTimerValue) != 0)
            return Fail(VmEntryChecks.ControlExitSavePreemptionTimer, VmcsField.VmExitControls, exit, "\"save VMX-preemption timer value\" requires \"activate VMX-preemption timer\"");
        if (!CheckMsrArea(VmcsField.VmExitMsrStoreAddress, VmcsField.VmExitMsrStoreCount, VmEntryChecks.ControlExitMsrStoreArea)
            || !CheckMsrArea(VmcsField.VmExitMsrLoadAddress, VmcsField.VmExitMsrLoadCount, VmEntryChecks.ControlExitMsrLoadArea))
            return false;
        return true;
    }
}
