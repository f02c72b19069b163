using Vtx.Vmx;
using static Vtx.Vmx.VmEntryCheckClass;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the VM-execution control fields (SDM Vol. 3C, 26.2.1.1): any failure is VMfailValid(7).</summary>
    private bool CheckExecutionControls(in ControlCheckState c)
    {
        var caps = Model.Vmx!;
        uint pin = c.Pin, proc = c.Proc, proc2 = c.Proc2, exit = c.Exit;
        const string s1 = "26.2.1.1";
        if (!caps.ControlsValid(VmxControlKind.PinBased, pin))
            return Fail(ControlFields, "control.pin-based.allowed-settings", VmcsField.PinBasedVmExecControls, pin, s1, "pin-based controls must obey the allowed 0- and 1-settings of IA32_VMX_(TRUE_)PINBASED_CTLS");
        if (!caps.ControlsValid(VmxControlKind.PrimaryProcessorBased, proc))
            return Fail(ControlFields, "control.primary.allowed-settings", VmcsField.PrimaryProcBasedVmExecControls, proc, s1, "primary processor-based controls must obey IA32_VMX_(TRUE_)PROCBASED_CTLS");
        if (!caps.ControlsValid(VmxControlKind.SecondaryProcessorBased, proc2))
            return Fail(ControlFields, "control.secondary.allowed-settings", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "secondary processor-based controls must obey IA32_VMX_PROCBASED_CTLS2");
        if ((proc & PrimaryProcessorBasedControls.ActivateTertiaryControls) != 0 && !caps.TertiaryControlsValid(F(VmcsField.TertiaryProcBasedVmExecControls)))
            return Fail(ControlFields, "control.tertiary.allowed-settings", VmcsField.TertiaryProcBasedVmExecControls, F(VmcsField.TertiaryProcBasedVmExecControls), s1, "tertiary controls must obey IA32_VMX_PROCBASED_CTLS3");
        ulong cr3Count = F(VmcsField.Cr3TargetCount);
        if (cr3Count > (ulong)caps.Cr3TargetCount)
            return Fail(ControlFields, "control.cr3-target-count", VmcsField.Cr3TargetCount, cr3Count, s1, $"the CR3-target count must not exceed IA32_VMX_MISC[24:16] ({caps.Cr3TargetCount})");
        if ((proc & PrimaryProcessorBasedControls.UseIoBitmaps) != 0
            && (!CheckPageField(VmcsField.IoBitmapA, "control.io-bitmap-a", s1, "I/O bitmap A") || !CheckPageField(VmcsField.IoBitmapB, "control.io-bitmap-b", s1, "I/O bitmap B")))
            return false;
        if ((proc & PrimaryProcessorBasedControls.UseMsrBitmaps) != 0 && !CheckPageField(VmcsField.MsrBitmap, "control.msr-bitmap", s1, "the MSR-bitmap address"))
            return false;
        if ((proc & PrimaryProcessorBasedControls.UseTprShadow) != 0)
        {
            if (!CheckPageField(VmcsField.VirtualApicAddress, "control.virtual-apic-address", s1, "the virtual-APIC address")) return false;
            ulong threshold = F(VmcsField.TprThreshold);
            if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) == 0)
            {
                if ((threshold & ~0xFUL) != 0)
                    return Fail(ControlFields, "control.tpr-threshold.reserved", VmcsField.TprThreshold, threshold, s1, "TPR threshold bits 31:4 must be 0");
                if ((proc2 & SecondaryProcessorBasedControls.VirtualizeApicAccesses) == 0)
                {
                    ulong vtpr = ReadPhysical(F(VmcsField.VirtualApicAddress) + 0x80, 1);
                    if (threshold > (vtpr >> 4))
                        return Fail(ControlFields, "control.tpr-threshold.vtpr", VmcsField.TprThreshold, threshold, s1, "TPR threshold[3:0] must not exceed VTPR[7:4] of the virtual-APIC page");
                }
            }
        }
        else if ((proc2 & (SecondaryProcessorBasedControls.VirtualizeX2ApicMode | SecondaryProcessorBasedControls.ApicRegisterVirtualization | SecondaryProcessorBasedControls.VirtualInterruptDelivery)) != 0)
            return Fail(ControlFields, "control.tpr-shadow.required", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery need \"use TPR shadow\"");
        if ((pin & PinBasedControls.NmiExiting) == 0 && (pin & PinBasedControls.VirtualNmis) != 0)
            return Fail(ControlFields, "control.virtual-nmis.need-nmi-exiting", VmcsField.PinBasedVmExecControls, pin, s1, "\"virtual NMIs\" requires \"NMI exiting\"");
        if ((pin & PinBasedControls.VirtualNmis) == 0 && (proc & PrimaryProcessorBasedControls.NmiWindowExiting) != 0)
            return Fail(ControlFields, "control.nmi-window.need-virtual-nmis", VmcsField.PrimaryProcBasedVmExecControls, proc, s1, "\"NMI-window exiting\" requires \"virtual NMIs\"");
        if ((proc2 & SecondaryProcessorBasedControls.VirtualizeApicAccesses) != 0)
        {
            if (!CheckPageField(VmcsField.ApicAccessAddress, "control.apic-access-address", s1, "the APIC-access address")) return false;
            if ((proc2 & SecondaryProcessorBasedControls.VirtualizeX2ApicMode) != 0)
                return Fail(ControlFields, "control.apic-virtualization.exclusive", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "\"virtualize APIC accesses\" and \"virtualize x2APIC mode\" are exclusive");
        }
        if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) != 0 && (pin & PinBasedControls.ExternalInterruptExiting) == 0)
            return Fail(ControlFields, "control.virtual-interrupt-delivery.need-external-interrupt-exiting", VmcsField.PinBasedVmExecControls, pin, s1, "virtual-interrupt delivery requires external-interrupt exiting");
        if ((pin & PinBasedControls.ProcessPostedInterrupts) != 0)
        {
            ulong vector = F(VmcsField.PostedInterruptNotificationVector), desc = F(VmcsField.PostedInterruptDescriptorAddress);
            if ((proc2 & SecondaryProcessorBasedControls.VirtualInterruptDelivery) == 0 || (exit & ExitControls.AcknowledgeInterruptOnExit) == 0
                || (vector & 0xFF00) != 0 || (desc & 0x3F) != 0 || !PhysOk(desc))
                return Fail(ControlFields, "control.posted-interrupts", VmcsField.PinBasedVmExecControls, pin, s1, "posted interrupts need virtual-interrupt delivery, acknowledge-interrupt-on-exit, a notification vector below 256 and a 64-byte aligned descriptor");
        }
        if ((proc2 & SecondaryProcessorBasedControls.EnableVpid) != 0 && F(VmcsField.VirtualProcessorId) == 0)
            return Fail(ControlFields, "control.vpid.nonzero", VmcsField.VirtualProcessorId, 0, s1, "with \"enable VPID\" the VPID must not be 0000h");
        if ((proc2 & SecondaryProcessorBasedControls.EnableEpt) != 0)
        {
            ulong eptp = F(VmcsField.EptPointer);
            if (!IsValidEptp(eptp))
                return Fail(ControlFields, "control.eptp", VmcsField.EptPointer, eptp, s1, "the EPT pointer must name an offered memory type and walk length, with reserved bits 0");
        }
        const uint needEpt = SecondaryProcessorBasedControls.UnrestrictedGuest | SecondaryProcessorBasedControls.EnablePml
            | SecondaryProcessorBasedControls.ModeBasedExecuteControl | SecondaryProcessorBasedControls.SubPageWritePermissions;
        if ((proc2 & needEpt) != 0 && (proc2 & SecondaryProcessorBasedControls.EnableEpt) == 0)
            return Fail(ControlFields, "control.ept.required", VmcsField.SecondaryProcBasedVmExecControls, proc2, s1, "unrestricted guest, PML, mode-based execute control and sub-page permissions need \"enable EPT\"");
        if ((proc2 & SecondaryProcessorBasedControls.EnablePml) != 0 && !CheckPageField(VmcsField.PmlAddress, "control.pml-address", s1, "the PML address")) return false;
        if ((proc2 & SecondaryProcessorBasedControls.EnableVmFunctions) != 0)
        {
            ulong fn = F(VmcsField.VmFunctionControls);
            if ((fn & ~caps.VmFunctions) != 0)
                return Fail(ControlFields, "control.vm-functions.allowed", VmcsField.VmFunctionControls, fn, s1, "VM-function controls must obey IA32_VMX_VMFUNC");
            if ((fn & 1) != 0 && ((proc2 & SecondaryProcessorBasedControls.EnableEpt) == 0 || !PageAlignedPhys(F(VmcsField.EptpListAddress))))
                return Fail(ControlFields, "control.vm-functions.eptp-switching", VmcsField.EptpListAddress, F(VmcsField.EptpListAddress), s1, "EPTP switching needs EPT and a 4-KiB aligned EPTP-list address");
        }
        if ((proc2 & SecondaryProcessorBasedControls.VmcsShadowing) != 0
            && (!CheckPageField(VmcsField.VmreadBitmapAddress, "control.vmread-bitmap", s1, "the VMREAD-bitmap address")
                || !CheckPageField(VmcsField.VmwriteBitmapAddress, "control.vmwrite-bitmap", s1, "the VMWRITE-bitmap address")))
            return false;
        if ((proc2 & SecondaryProcessorBasedControls.EptViolationVe) != 0
            && !CheckPageField(VmcsField.VirtualizationExceptionInformationAddress, "control.ve-information-address", s1, "the #VE-information address"))
            return false;
        return true;
    }
}
