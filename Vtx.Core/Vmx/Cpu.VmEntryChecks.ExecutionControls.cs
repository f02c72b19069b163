using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the VM-execution control fields (SDM Vol. 3C, 26.2.1.1): any failure is VMfailValid(7).</summary>
    private bool CheckExecutionControls(in ControlCheckState c)
    {
        var caps = Model.Vmx!;
        uint pin = c.Pin, proc = c.Proc, proc2 = c.Proc2, exit = c.Exit;
        if (!caps.ControlsValid(VmxControlKind.PinBased, pin))
            return Fail(VmEntryChecks.ControlPinBasedAllowedSettings, VmcsField.PinBasedVmExecControls, pin, "pin-based controls must obey the allowed 0- and 1-settings of IA32_VMX_(TRUE_)PINBASED_CTLS");
        if (!caps.ControlsValid(VmxControlKind.PrimaryProcessorBased, proc))
            return Fail(VmEntryChecks.ControlPrimaryAllowedSettings, VmcsField.PrimaryProcBasedVmExecControls, proc, "primary processor-based controls must obey IA32_VMX_(TRUE_)PROCBASED_CTLS");
        if (!caps.ControlsValid(VmxControlKind.SecondaryProcessorBased, proc2))
            return Fail(VmEntryChecks.ControlSecondaryAllowedSettings, VmcsField.SecondaryProcBasedVmExecControls, proc2, "secondary processor-based controls must obey IA32_VMX_PROCBASED_CTLS2");
        if ((proc & PrimaryProcessorBasedControls.ActivateTertiaryControls) != 0 && !caps.TertiaryControlsValid(F(VmcsField.TertiaryProcBasedVmExecControls)))
            return Fail(VmEntryChecks.ControlTertiaryAllowedSettings, VmcsField.TertiaryProcBasedVmExecControls, F(VmcsField.TertiaryProcBasedVmExecControls), "tertiary controls must obey IA32_VMX_PROCBASED_CTLS3");
        ulong cr3Count = F(VmcsField.Cr3TargetCount);
        if (cr3Count > (ulong)caps.Cr3TargetCount)
            return Fail(VmEntryChecks.ControlCr3TargetCount, VmcsField.Cr3TargetCount, cr3Count, $"the CR3-target count must not exceed IA32_VMX_MISC[24:16] ({caps.Cr3TargetCount})");
        if ((proc & PrimaryProcessorBasedControls.UseIoBitmaps) != 0
            && (!CheckPageField(VmcsField.IoBitmapA, VmEntryChecks.ControlIoBitmapA, "I/O bitmap A") || !CheckPageField(VmcsField.IoBitmapB, VmEntryChecks.ControlIoBitmapB, "I/O bitmap B")))
            return false;
        if ((proc & PrimaryProcessorBasedControls.UseMsrBitmaps) != 0 && !CheckPageField(VmcsField.MsrBitmap, VmEntryChecks.ControlMsrBitmap, "the MSR-bitmap address"))
            return false;
        if ((proc & PrimaryProcessorBasedControls.UseTprShadow) != 0)
        {
            if (!CheckPageField(VmcsField.VirtualApicAddress, VmEntryChecks.ControlVirtualApicAddress, "the virtual-APIC address")) return false;
            ulong threshold = F(VmcsField.TprThreshold);
            if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) == 0)
            {
                if ((threshold & ~0xFUL) != 0)
                    return Fail(VmEntryChecks.ControlTprThresholdReserved, VmcsField.TprThreshold, threshold, "TPR threshold bits 31:4 must be 0");
                if ((proc2 & SecondaryProcessorBasedControls.VirtualizeApicAccesses) == 0)
                {
                    ulong vtpr = ReadPhysical(F(VmcsField.VirtualApicAddress) + 0x80, 1);
                    if (threshold > (vtpr >> 4))
                        return Fail(VmEntryChecks.ControlTprThresholdVtpr, VmcsField.TprThreshold, threshold, "TPR threshold[3:0] must not exceed VTPR[7:4] of the virtual-APIC page");
                }
            }
        }
        else if ((proc2 & (SecondaryProcessorBasedControls.VirtualizeX2ApicMode | SecondaryProcessorBasedControls.ApicRegisterVirtualization | SecondaryProcessorBasedControls.VirtualInterruptDelivery)) != 0)
            return Fail(VmEntryChecks.ControlTprShadowRequired, VmcsField.SecondaryProcBasedVmExecControls, proc2, "virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery need \"use TPR shadow\"");
        if ((pin & PinBasedControls.NmiExiting) == 0 && (pin & PinBasedControls.VirtualNmis) != 0)
            return Fail(VmEntryChecks.ControlVirtualNmisNeedNmiExiting, VmcsField.PinBasedVmExecControls, pin, "\"virtual NMIs\" requires \"NMI exiting\"");
        if ((pin & PinBasedControls.VirtualNmis) == 0 && (proc & PrimaryProcessorBasedControls.NmiWindowExiting) != 0)
            return Fail(VmEntryChecks.ControlNmiWindowNeedVirtualNmis, VmcsField.PrimaryProcBasedVmExecControls, proc, "\"NMI-window exiting\" requires \"virtual NMIs\"");
        if ((proc2 & SecondaryProcessorBasedControls.VirtualizeApicAccesses) != 0)
        {
            if (!CheckPageField(VmcsField.ApicAccessAddress, VmEntryChecks.ControlApicAccessAddress, "the APIC-access address")) return false;
            if ((proc2 & SecondaryProcessorBasedControls.VirtualizeX2ApicMode) != 0)
                return Fail(VmEntryChecks.ControlApicVirtualizationExclusive, VmcsField.SecondaryProcBasedVmExecControls, proc2, "\"virtualize APIC accesses\" and \"virtualize x2APIC mode\" are exclusive");
        }
        if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) != 0 && (pin & PinBasedControls.ExternalInterruptExiting) == 0)
            return Fail(VmEntryChecks.ControlVirtualInterruptDeliveryNeedExternalInterruptExiting, VmcsField.PinBasedVmExecControls, pin, "virtual-interrupt delivery requires external-interrupt exiting");
        if ((pin & PinBasedControls.ProcessPostedInterrupts) != 0)
        {
            ulong vector = F(VmcsField.PostedInterruptNotificationVector), desc = F(VmcsField.PostedInterruptDescriptorAddress);
            if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) == 0 || (exit & ExitControls.AcknowledgeInterruptOnExit) == 0
                || (vector & 0xFF00) != 0 || (desc & 0x3F) != 0 || !PhysOk(desc))
                return Fail(VmEntryChecks.ControlPostedInterrupts, VmcsField.PinBasedVmExecControls, pin, "posted interrupts need virtual-interrupt delivery, acknowledge-interrupt-on-exit, a notification vector below 256 and a 64-byte aligned descriptor");
        }
        if ((proc2 & SecondaryProcessorBasedControls.EnableVpid) != 0 && F(VmcsField.VirtualProcessorId) == 0)
            return Fail(VmEntryChecks.ControlVpidNonzero, VmcsField.VirtualProcessorId, 0, "with \"enable VPID\" the VPID must not be 0000h");
        if ((proc2 & SecondaryProcessorBasedControls.EnableEpt) != 0)
        {
            ulong eptp = F(VmcsField.EptPointer);
            if (!IsValidEptp(eptp))
                return Fail(VmEntryChecks.ControlEptp, VmcsField.EptPointer, eptp, "the EPT pointer must name an offered memory type and walk length, with reserved bits 0");
        }
        const uint needEpt = SecondaryProcessorBasedControls.UnrestrictedGuest | SecondaryProcessorBasedControls.EnablePml
            | SecondaryProcessorBasedControls.ModeBasedExecuteControl | SecondaryProcessorBasedControls.SubPageWritePermissions;
        if ((proc2 & needEpt) != 0 && (proc2 & SecondaryProcessorBasedControls.EnableEpt) == 0)
            return Fail(VmEntryChecks.ControlEptRequired, VmcsField.SecondaryProcBasedVmExecControls, proc2, "unrestricted guest, PML, mode-based execute control and sub-page permissions need \"enable EPT\"");
        if ((proc2 & SecondaryProcessorBasedControls.EnablePml) != 0 && !CheckPageField(VmcsField.PmlAddress, VmEntryChecks.ControlPmlAddress, "the PML address")) return false;
        if ((proc2 & SecondaryProcessorBasedControls.EnableVmFunctions) != 0)
        {
            ulong fn = F(VmcsField.VmFunctionControls);
            if ((fn & ~caps.VmFunctions) != 0)
                return Fail(VmEntryChecks.ControlVmFunctionsAllowed, VmcsField.VmFunctionControls, fn, "VM-function controls must obey IA32_VMX_VMFUNC");
            if ((fn & 1) != 0 && ((proc2 & SecondaryProcessorBasedControls.EnableEpt) == 0 || !PageAlignedPhys(F(VmcsField.EptpListAddress))))
                return Fail(VmEntryChecks.ControlVmFunctionsEptpSwitching, VmcsField.EptpListAddress, F(VmcsField.EptpListAddress), "EPTP switching needs EPT and a 4-KiB aligned EPTP-list address");
        }
        if ((proc2 & SecondaryProcessorBasedControls.VmcsShadowing) != 0
            && (!CheckPageField(VmcsField.VmreadBitmapAddress, VmEntryChecks.ControlVmreadBitmap, "the VMREAD-bitmap address")
                || !CheckPageField(VmcsField.VmwriteBitmapAddress, VmEntryChecks.ControlVmwriteBitmap, "the VMWRITE-bitmap address")))
            return false;
        if ((proc2 & SecondaryProcessorBasedControls.EptViolationVe) != 0
            && !CheckPageField(VmcsField.VirtualizationExceptionInformationAddress, VmEntryChecks.ControlVeInformationAddress, "the #VE-information address"))
            return false;
        return true;
    }
}
