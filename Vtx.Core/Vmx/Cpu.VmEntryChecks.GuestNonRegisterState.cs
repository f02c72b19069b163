using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest non-register state (SDM Vol. 3C, 26.3.1.5) other than the VMCS link pointer: a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestNonRegisterState(in GuestCheckState s)
    {
        var caps = Model.Vmx!;
        uint pin = s.Pin, injInfo = s.InjectionInfo, injType = s.InjectionType;
        bool injecting = s.Injecting;
        ulong rflags = s.Rflags;
        var ss = s.Ss;
        ulong activity = F(VmcsField.GuestActivityState);
        bool activityOffered = activity switch { 0 => true, 1 => caps.ActivityHlt, 2 => caps.ActivityShutdown, 3 => caps.ActivityWaitForSipi, _ => false };
        if (!activityOffered) return GFail(VmEntryChecks.GuestActivitySupported, VmcsField.GuestActivityState, activity, "the activity state must be 0..3 and offered by IA32_VMX_MISC[8:6]");
        if (activity == 1 && ss.Dpl != 0) return GFail(VmEntryChecks.GuestActivityHltNeedsCpl0, VmcsField.GuestActivityState, activity, "the HLT activity state needs SS.DPL = 0");
        ulong intr = F(VmcsField.GuestInterruptibilityState);
        if ((intr & 3) != 0 && activity != 0) return GFail(VmEntryChecks.GuestActivityBlockingNeedsActive, VmcsField.GuestActivityState, activity, "blocking by STI or MOV SS requires the active state");
        if (injecting)
        {
            uint vec = injInfo & 0xFF;
            bool allowed = activity switch
            {
                0 => true,
                1 => injType is 0 or 2 || (injType == 3 && vec is 1 or 18) || (injType == 7 && vec == 0),
                2 => injType == 2 || (injType == 3 && vec == 18),
                _ => false,
            };
            if (!allowed) return GFail(VmEntryChecks.GuestActivityInjection, VmcsField.GuestActivityState, activity, "the event injected is not allowed in this activity state (HLT: interrupts, NMI, #DB, #MC, MTF; shutdown: NMI, #MC; wait-for-SIPI: none)");
        }
        if ((intr & ~0xFUL) != 0) return GFail(VmEntryChecks.GuestInterruptibilityReserved, VmcsField.GuestInterruptibilityState, intr, "interruptibility bits 31:4 must be 0 (no SGX)");
        if ((intr & 3) == 3) return GFail(VmEntryChecks.GuestInterruptibilityStiAndMovSs, VmcsField.GuestInterruptibilityState, intr, "blocking by STI and by MOV SS cannot both be set");
        if ((intr & 1) != 0 && (rflags & (ulong)RFlags.IF) == 0) return GFail(VmEntryChecks.GuestInterruptibilityStiNeedsIf, VmcsField.GuestInterruptibilityState, intr, "blocking by STI requires RFLAGS.IF = 1");
        if (injecting && injType == 0 && (intr & 3) != 0) return GFail(VmEntryChecks.GuestInterruptibilityExternalInterruptInjection, VmcsField.GuestInterruptibilityState, intr, "injecting an external interrupt requires no blocking by STI or MOV SS");
        if (injecting && injType == 2 && (intr & 2) != 0) return GFail(VmEntryChecks.GuestInterruptibilityNmiInjectionMovSs, VmcsField.GuestInterruptibilityState, intr, "injecting an NMI requires no blocking by MOV SS");
        if ((intr & 4) != 0) return GFail(VmEntryChecks.GuestInterruptibilitySmi, VmcsField.GuestInterruptibilityState, intr, "blocking by SMI must be 0 outside SMM");
        if (injecting && injType == 2 && (pin & PinBasedControls.VirtualNmis) != 0 && (intr & 8) != 0)
            return GFail(VmEntryChecks.GuestInterruptibilityNmiInjectionVirtualNmiBlocking, VmcsField.GuestInterruptibilityState, intr, "with virtual NMIs, injecting an NMI requires no virtual-NMI blocking");
        ulong pdbg = F(VmcsField.GuestPendingDebugExceptions);
        if ((pdbg & ~0x1_500FUL) != 0) return GFail(VmEntryChecks.GuestPendingDebugReserved, VmcsField.GuestPendingDebugExceptions, pdbg, "pending debug exceptions bits 11:4, 13, 15 and 63:17 must be 0");
        if ((intr & 3) != 0 || activity == 1)
        {
            bool tf = (rflags & (ulong)RFlags.TF) != 0, btf = (F(VmcsField.GuestDebugCtl) & 2) != 0;
            bool bs = (pdbg & 0x4000) != 0;
            if (tf && !btf && !bs) return GFail(VmEntryChecks.GuestPendingDebugBsSet, VmcsField.GuestPendingDebugExceptions, pdbg, "with STI/MOV SS blocking or HLT, BS must be 1 when RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0");
            if ((!tf || btf) && bs) return GFail(VmEntryChecks.GuestPendingDebugBsClear, VmcsField.GuestPendingDebugExceptions, pdbg, "with STI/MOV SS blocking or HLT, BS must be 0 when RFLAGS.TF = 0 or BTF = 1");
        }
        if ((pdbg & 0x1_0000) != 0) return GFail(VmEntryChecks.GuestPendingDebugRtm, VmcsField.GuestPendingDebugExceptions, pdbg, "the RTM bit needs RTM, which the model does not offer");
        return true;
    }
}
