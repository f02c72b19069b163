using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the VM-entry control fields (SDM Vol. 3C, 26.2.1.3): any failure is VMfailValid(7).</summary>
    private bool CheckEntryControls(in ControlCheckState c)
    {
        var caps = Model.Vmx!;
        uint proc = c.Proc, proc2 = c.Proc2, entry = c.Entry;
        if (!caps.ControlsValid(VmxControlKind.Entry, entry))
            return Fail(VmEntryChecks.ControlEntryAllowedSettings, VmcsField.VmEntryControls, entry, "VM-entry controls must obey IA32_VMX_(TRUE_)ENTRY_CTLS");
        if ((entry & (EntryControls.EntryToSmm | EntryControls.DeactivateDualMonitorTreatment)) != 0)
            return Fail(VmEntryChecks.ControlEntrySmm, VmcsField.VmEntryControls, entry, "outside SMM \"entry to SMM\" and \"deactivate dual-monitor treatment\" must be 0");
        if (!CheckMsrArea(VmcsField.VmEntryMsrLoadAddress, VmcsField.VmEntryMsrLoadCount, VmEntryChecks.ControlEntryMsrLoadArea)) return false;
        return CheckInjectionControls(proc, proc2);
    }

    /// <summary>The event-injection checks on the VM-entry interruption-information field (SDM Vol. 3C, 26.2.1.3).</summary>
    private bool CheckInjectionControls(uint proc, uint proc2)
    {
        uint info = (uint)F(VmcsField.VmEntryInterruptionInformation);
        if ((info & 0x8000_0000) == 0) return true;
        var caps = Model.Vmx!;
        var f = VmcsField.VmEntryInterruptionInformation;
        uint type = (info >> 8) & 7, vector = info & 0xFF;
        bool deliverError = (info & 0x800) != 0;
        if (type == 1 || (type == 7 && (caps.PrimaryProcessorBased.Allowed1 & PrimaryProcessorBasedControls.MonitorTrapFlag) == 0))
            return Fail(VmEntryChecks.ControlInjectionType, f, info, "the interruption type must not be 1 (reserved), nor 7 without the monitor trap flag");
        if ((type == 2 && vector != 2) || (type == 3 && vector > 31) || (type == 7 && vector != 0))
            return Fail(VmEntryChecks.ControlInjectionVector, f, info, "an NMI must have vector 2, a hardware exception a vector below 32, an other event vector 0");
        bool unrestricted = (proc2 & SecondaryProcessorBasedControls.UnrestrictedGuest) != 0;
        bool protectedGuest = !unrestricted || (F(VmcsField.GuestCr0) & Cr0.PE) != 0;
        bool needsError = protectedGuest && type == 3 && vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;
        bool errorOk = caps.AnyVectorErrorCodeInjection
            ? !deliverError || (protectedGuest && type == 3)
            : deliverError == needsError;
        if (!errorOk)
            return Fail(VmEntryChecks.ControlInjectionDeliverErrorCode, f, info, "\"deliver error code\" must be 1 exactly for hardware exceptions that push one (#DF, #TS, #NP, #SS, #GP, #PF, #AC) in protected mode");
        if ((info & 0x7FFF_F000) != 0)
            return Fail(VmEntryChecks.ControlInjectionReserved, f, info, "bits 30:12 of the VM-entry interruption information must be 0");
        // Bits 31:16, as processors check: error codes are 16-bit values (older SDM revisions said
        // 31:15 in error; Linux KVM commit 567926cca99b "Fix consistency check on injected exception error code").
        if (deliverError && (F(VmcsField.VmEntryExceptionErrorCode) & 0xFFFF_0000) != 0)
            return Fail(VmEntryChecks.ControlInjectionErrorCodeReserved, VmcsField.VmEntryExceptionErrorCode, F(VmcsField.VmEntryExceptionErrorCode), "bits 31:16 of the injected error code must be 0");
        if (type is 4 or 5 or 6)
        {
            ulong len = F(VmcsField.VmEntryInstructionLength);
            if (len > 15 || (len == 0 && !caps.ZeroLengthSoftwareEventInjection))
                return Fail(VmEntryChecks.ControlInjectionInstructionLength, VmcsField.VmEntryInstructionLength, len, "software interrupts and exceptions need an instruction length of 1..15 (0 if IA32_VMX_MISC[30])");
        }
        _ = proc;
        return true;
    }
}
