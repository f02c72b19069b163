using Vtx.Vmx;
using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the VM-exit control fields (SDM Vol. 3C, 26.2.1.2): any failure is VMfailValid(7).</summary>
    private bool CheckExitControls(in ControlCheckState c)
    {
        var caps = Model.Vmx!;
        uint pin = c.Pin, exit = c.Exit;
        const string s2 = "26.2.1.2";
        if (!caps.ControlsValid(VmxControlKind.Exit, exit))
            return Fail(ControlFields, "control.exit.allowed-settings", VmcsField.VmExitControls, exit, s2, "VM-exit controls must obey IA32_VMX_(TRUE_)EXIT_CTLS");
        if ((exit & ExitControls.ActivateSecondaryControls) != 0 && !caps.SecondaryExitControlsValid(F(VmcsField.SecondaryVmExitControls)))
            return Fail(ControlFields, "control.exit.secondary-allowed-settings", VmcsField.SecondaryVmExitControls, F(VmcsField.SecondaryVmExitControls), s2, "secondary VM-exit controls must obey IA32_VMX_EXIT_CTLS2");
        if ((pin & PinBasedControls.ActivatePreemptionTimer) == 0 && (exit & ExitControls.SavePreemptionTimerValue) != 0)
            return Fail(ControlFields, "control.exit.save-preemption-timer", VmcsField.VmExitControls, exit, s2, "\"save VMX-preemption timer value\" requires \"activate VMX-preemption timer\"");
        if (!CheckMsrArea(VmcsField.VmExitMsrStoreAddress, VmcsField.VmExitMsrStoreCount, "control.exit.msr-store-area")
            || !CheckMsrArea(VmcsField.VmExitMsrLoadAddress, VmcsField.VmExitMsrLoadCount, "control.exit.msr-load-area"))
            return false;
        return true;
    }
}
