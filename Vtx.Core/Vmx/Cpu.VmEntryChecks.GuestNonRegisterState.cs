using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    /// <summary>Checks on the guest non-register state (SDM Vol. 3C, 26.3.1.5) other than the VMCS link pointer: a failure is a VM-entry failure (reason 33).</summary>
    private bool CheckGuestNonRegisterState(in GuestCheckState s)
    {
        var caps = Model.Vmx!;
        uint pin = s.Pin;
        var inj = s.Injection;
        ulong rflags = s.Rflags;
        var ss = s.Ss;
        var activity = (GuestActivity)(uint)F(VmcsField.GuestActivityState);
        bool activityOffered = activity switch
        {
            GuestActivity.Active => true,
            GuestActivity.Hlt => caps.ActivityHlt,
            GuestActivity.Shutdown => caps.ActivityShutdown,
            GuestActivity.WaitForSipi => caps.ActivityWaitForSipi,
            _ => false,
        };
        if (!activityOffered) return GFail(VmEntryChecks.GuestActivitySupported, VmcsField.GuestActivityState, (ulong)activity, "the activity state must be 0..3 and offered by IA32_VMX_MISC[8:6]");
        if (activity == GuestActivity.Hlt && ss.Dpl != 0) return GFail(VmEntryChecks.GuestActivityHltNeedsCpl0, VmcsField.GuestActivityState, (ulong)activity, "the HLT activity state needs SS.DPL = 0");
        var intr = (Interruptibility)(uint)F(VmcsField.GuestInterruptibilityState);
        bool shadow = (intr & Interruptibility.StiOrMovSs) != 0;
        if (shadow && activity != GuestActivity.Active) return GFail(VmEntryChecks.GuestActivityBlockingNeedsActive, VmcsField.GuestActivityState, (ulong)activity, "blocking by STI or MOV SS requires the active state");
        if (inj.Valid)
        {
            int type = inj.Type;
            byte vec = inj.Vector;
            bool allowed = activity switch
            {
                GuestActivity.Active => true,
                GuestActivity.Hlt => type is (int)EventKind.ExternalInterrupt or (int)EventKind.Nmi
                    || (type == (int)EventKind.HardwareException && vec is 1 or 18) || (type == Vtx.Vmx.InterruptionInfo.OtherEventType && vec == 0),
                GuestActivity.Shutdown => type == (int)EventKind.Nmi || (type == (int)EventKind.HardwareException && vec == 18),
                _ => false,
            };
            if (!allowed) return GFail(VmEntryChecks.GuestActivityInjection, VmcsField.GuestActivityState, (ulong)activity, "the event injected is not allowed in this activity state (HLT: interrupts, NMI, #DB, #MC, MTF; shutdown: NMI, #MC; wait-for-SIPI: none)");
        }
        bool injectingInterrupt = inj.Valid && inj.Type == (int)EventKind.ExternalInterrupt;
        bool injectingNmi = inj.Valid && inj.Type == (int)EventKind.Nmi;
        const Interruptibility defined = Interruptibility.BlockingBySti | Interruptibility.BlockingByMovSs | Interruptibility.BlockingBySmi | Interruptibility.BlockingByNmi;
        if ((intr & ~defined) != 0) return GFail(VmEntryChecks.GuestInterruptibilityReserved, VmcsField.GuestInterruptibilityState, (ulong)intr, "interruptibility bits 31:4 must be 0 (no SGX)");
        if ((intr & Interruptibility.StiOrMovSs) == Interruptibility.StiOrMovSs) return GFail(VmEntryChecks.GuestInterruptibilityStiAndMovSs, VmcsField.GuestInterruptibilityState, (ulong)intr, "blocking by STI and by MOV SS cannot both be set");
        if ((intr & Interruptibility.BlockingBySti) != 0 && (rflags & (ulong)RFlags.IF) == 0) return GFail(VmEntryChecks.GuestInterruptibilityStiNeedsIf, VmcsField.GuestInterruptibilityState, (ulong)intr, "blocking by STI requires RFLAGS.IF = 1");
        if (injectingInterrupt && shadow) return GFail(VmEntryChecks.GuestInterruptibilityExternalInterruptInjection, VmcsField.GuestInterruptibilityState, (ulong)intr, "injecting an external interrupt requires no blocking by STI or MOV SS");
        if (injectingNmi && (intr & Interruptibility.BlockingByMovSs) != 0) return GFail(VmEntryChecks.GuestInterruptibilityNmiInjectionMovSs, VmcsField.GuestInterruptibilityState, (ulong)intr, "injecting an NMI requires no blocking by MOV SS");
        if ((intr & Interruptibility.BlockingBySmi) != 0) return GFail(VmEntryChecks.GuestInterruptibilitySmi, VmcsField.GuestInterruptibilityState, (ulong)intr, "blocking by SMI must be 0 outside SMM");
        if (injectingNmi && (pin & PinBasedControls.VirtualNmis) != 0 && (intr & Interruptibility.BlockingByNmi) != 0)
            return GFail(VmEntryChecks.GuestInterruptibilityNmiInjectionVirtualNmiBlocking, VmcsField.GuestInterruptibilityState, (ulong)intr, "with virtual NMIs, injecting an NMI requires no virtual-NMI blocking");
        ulong pdbg = F(VmcsField.GuestPendingDebugExceptions);
        if ((pdbg & ~0x1_500FUL) != 0) return GFail(VmEntryChecks.GuestPendingDebugReserved, VmcsField.GuestPendingDebugExceptions, pdbg, "pending debug exceptions bits 11:4, 13, 15 and 63:17 must be 0");
        if (shadow || activity == GuestActivity.Hlt)
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
