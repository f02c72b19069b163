using FsCheck;
using FsCheck.Fluent;
using Vtx.Kit;
using Vtx.Vmx;

namespace Vtx.Kit.Generators;

public static partial class VmxGen
{
    /// <summary>
    /// Values of control field <paramref name="kind"/> that respect its capability MSR (every allowed-0 bit 1, no bit
    /// outside allowed-1; SDM Vol. 3C, A.3-A.5): the allowed bits over their full range, plus the special values
    /// "minimum" (allowed-0 only), "maximum" (allowed-1) and allowed-0 with one optional control.
    /// </summary>
    public static Gen<uint> Control(VmxCapabilities caps, VmxControlKind kind)
    {
        ArgumentNullException.ThrowIfNull(caps);
        var s = VmxControlSet.AllowedSettings(caps, kind);
        uint lo = s.Allowed0, hi = s.Allowed1;
        uint optional = hi & ~lo;
        var single = optional == 0
            ? Gen.Constant(lo)
            : Gen.Elements(Enumerable.Range(0, 32).Where(b => (optional >> b & 1) != 0).Select(b => lo | 1u << b).ToArray());
        return Gen.Frequency(
            (6, UInt32.Select(r => (r | lo) & hi)),
            (1, Gen.Constant(lo)),
            (1, Gen.Constant(hi)),
            (2, single));
    }

    /// <summary>
    /// Control sets whose five fields each respect the capability MSRs (<see cref="Control"/>; SDM Vol. 3C, A.3-A.5).
    /// They need not pass VM entry's other control checks (26.2.1: dependencies between controls, addresses);
    /// <see cref="EnterableControls"/> gives sets that do on <see cref="VmxTestBed"/>.
    /// </summary>
    public static Gen<VmxControlSet> Controls(VmxCapabilities caps) =>
        from pin in Control(caps, VmxControlKind.PinBased)
        from proc in Control(caps, VmxControlKind.PrimaryProcessorBased)
        from proc2 in Control(caps, VmxControlKind.SecondaryProcessorBased)
        from exit in Control(caps, VmxControlKind.Exit)
        from entry in Control(caps, VmxControlKind.Entry)
        select new VmxControlSet(pin, proc, proc2, exit, entry);

    private static readonly uint[] SafePin = [PinBasedControls.ExternalInterruptExiting, PinBasedControls.NmiExiting, PinBasedControls.ActivatePreemptionTimer];

    private static readonly uint[] SafePrimary =
    [
        PrimaryProcessorBasedControls.InterruptWindowExiting, PrimaryProcessorBasedControls.UseTscOffsetting, PrimaryProcessorBasedControls.HltExiting,
        PrimaryProcessorBasedControls.InvlpgExiting, PrimaryProcessorBasedControls.MwaitExiting, PrimaryProcessorBasedControls.RdpmcExiting,
        PrimaryProcessorBasedControls.RdtscExiting, PrimaryProcessorBasedControls.Cr3LoadExiting, PrimaryProcessorBasedControls.Cr3StoreExiting,
        PrimaryProcessorBasedControls.Cr8LoadExiting, PrimaryProcessorBasedControls.Cr8StoreExiting, PrimaryProcessorBasedControls.UseTprShadow,
        PrimaryProcessorBasedControls.MovDrExiting, PrimaryProcessorBasedControls.UnconditionalIoExiting, PrimaryProcessorBasedControls.UseIoBitmaps,
        PrimaryProcessorBasedControls.MonitorTrapFlag, PrimaryProcessorBasedControls.UseMsrBitmaps, PrimaryProcessorBasedControls.MonitorExiting,
        PrimaryProcessorBasedControls.PauseExiting,
    ];

    private static readonly uint[] SafeSecondary =
    [
        SecondaryProcessorBasedControls.DescriptorTableExiting, SecondaryProcessorBasedControls.EnableRdtscp, SecondaryProcessorBasedControls.EnableVpid,
        SecondaryProcessorBasedControls.WbinvdExiting, SecondaryProcessorBasedControls.EnableEpt, SecondaryProcessorBasedControls.PauseLoopExiting,
        SecondaryProcessorBasedControls.EnableInvpcid, SecondaryProcessorBasedControls.RdrandExiting, SecondaryProcessorBasedControls.RdseedExiting,
    ];

    private static readonly uint[] SafeExit =
    [
        ExitControls.SaveDebugControls, ExitControls.AcknowledgeInterruptOnExit, ExitControls.SavePat, ExitControls.LoadPat,
        ExitControls.SaveEfer, ExitControls.LoadEfer,
    ];

    private static readonly uint[] SafeEntry = [EntryControls.LoadDebugControls, EntryControls.LoadPat, EntryControls.LoadEfer];

    /// <summary>A random subset (full range over the subsets, plus none and all) of the controls in <paramref name="candidates"/> that the settings allow.</summary>
    private static Gen<uint> Subset(VmxAllowedSettings s, uint[] candidates)
    {
        uint allowed = candidates.Where(c => s.MayBeOne(c)).Aggregate(0u, (x, c) => x | c);
        return Gen.Frequency((6, UInt32.Select(r => r & allowed)), (1, Gen.Constant(0u)), (1, Gen.Constant(allowed)));
    }

    /// <summary>
    /// Control sets (as requested, before <see cref="VmxControlSet.Adjust"/>) that pass every VM-entry control check on
    /// <see cref="VmxTestBed"/>'s template: a 64-bit host and guest, plus any subset of the exiting controls, interrupt
    /// and NMI exiting (virtual NMIs and NMI-window exiting only with them), the preemption timer (saved only when
    /// active), TPR shadow, I/O and MSR bitmaps, MTF, VPID, EPT (with unrestricted guest), the PAT/EFER/debug-control
    /// load and save controls, and acknowledge interrupt on exit, each only if the capability MSRs allow it (SDM Vol. 3C, 26.2.1).
    /// </summary>
    public static Gen<VmxControlSet> EnterableControls(VmxCapabilities caps)
    {
        ArgumentNullException.ThrowIfNull(caps);
        var pinS = VmxControlSet.AllowedSettings(caps, VmxControlKind.PinBased);
        var procS = VmxControlSet.AllowedSettings(caps, VmxControlKind.PrimaryProcessorBased);
        var proc2S = VmxControlSet.AllowedSettings(caps, VmxControlKind.SecondaryProcessorBased);
        var exitS = VmxControlSet.AllowedSettings(caps, VmxControlKind.Exit);
        var entryS = VmxControlSet.AllowedSettings(caps, VmxControlKind.Entry);
        bool secondary = procS.MayBeOne(PrimaryProcessorBasedControls.ActivateSecondaryControls);
        return
            from pin in Subset(pinS, SafePin)
            from vnmi in Gen.Elements(false, true)
            from proc in Subset(procS, SafePrimary)
            from nmiWindow in Gen.Elements(false, true)
            from proc2 in secondary ? Subset(proc2S, SafeSecondary) : Gen.Constant(0u)
            from unrestricted in Gen.Elements(false, true)
            from exit in Subset(exitS, SafeExit)
            from saveTimer in Gen.Elements(false, true)
            from entry in Subset(entryS, SafeEntry)
            let p = pin | ((pin & PinBasedControls.NmiExiting) != 0 && vnmi && pinS.MayBeOne(PinBasedControls.VirtualNmis) ? PinBasedControls.VirtualNmis : 0)
            let pr = proc | ((p & PinBasedControls.VirtualNmis) != 0 && nmiWindow && procS.MayBeOne(PrimaryProcessorBasedControls.NmiWindowExiting) ? PrimaryProcessorBasedControls.NmiWindowExiting : 0)
            let p2 = proc2 | ((proc2 & SecondaryProcessorBasedControls.EnableEpt) != 0 && unrestricted && proc2S.MayBeOne(SecondaryProcessorBasedControls.UnrestrictedGuest) ? SecondaryProcessorBasedControls.UnrestrictedGuest : 0)
            let ex = exit | ExitControls.HostAddressSpaceSize
                     | ((p & PinBasedControls.ActivatePreemptionTimer) != 0 && saveTimer && exitS.MayBeOne(ExitControls.SavePreemptionTimerValue) ? ExitControls.SavePreemptionTimerValue : 0)
            select new VmxControlSet(p, pr, p2, ex, entry | EntryControls.Ia32eModeGuest);
    }
}
