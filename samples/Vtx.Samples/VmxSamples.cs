using Iced.Intel;
using Vtx.Kit;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Samples;

/// <summary>
/// A sample whose program is a small hypervisor (run by the kit's <see cref="VmxLab"/>): it enters VMX operation, fills
/// its VMCS with VMWRITE, launches a guest and handles its exits. <see cref="Runs"/> holds what the
/// last <see cref="Sample.Run"/> observed, for tests.
/// </summary>
public abstract class VmxSample : Sample
{
    private readonly List<VmxRun> _runs = new();

    /// <summary>The hypervisor runs of the last <see cref="Run"/>, in order.</summary>
    public IReadOnlyList<VmxRun> Runs => _runs;

    /// <inheritdoc/>
    public sealed override string Run(TextWriter trace)
    {
        _runs.Clear();
        return Demonstrate(trace);
    }

    /// <summary>Runs the scenarios (with <see cref="RunScenario"/>) and returns the answer.</summary>
    protected abstract string Demonstrate(TextWriter trace);

    internal VmxRun RunScenario(TextWriter trace, VmxScenario s)
    {
        var run = new VmxLab(NewMachine(new MachineOptions { MemoryMiB = 2 }), trace).Run(s);
        _runs.Add(run);
        return run;
    }

    /// <summary>The VMCALL ending every guest (exit reason 18: "I am done"), and a halt in case it comes back.</summary>
    internal static void GuestDone(GuestAssembler g) => g.Done();

    /// <summary>Exit reason 18 (VMCALL): the guest is done; the hypervisor powers off.</summary>
    internal static void OnVmcall(HypervisorAssembler h, Label vmcall, byte code)
    {
        h.A.Label(ref vmcall);
        h.Log(code);
        h.A.jmp(h.Done);
    }

    /// <summary>Interruption information of an NMI: valid | type 2 (NMI) | vector 2.</summary>
    public const uint NmiInfo = 0x8000_0202;
    /// <summary>Guest variable (offset in the guest data page): how many times the guest's NMI handler ran.</summary>
    public const int NmiCount = 0;
    /// <summary>Guest variable: the vector the guest's interrupt handler saw.</summary>
    public const int SeenVector = 4;

    /// <summary>The guest's NMI handler: count and return.</summary>
    internal static void CountingNmiHandler(GuestAssembler g)
    {
        g.Handler(2, "nmi-handler");
        g.A.inc(__dword_ptr[VmxLab.GuestData + NmiCount]);
        g.A.iretq();
    }

    internal static string Fail(VmxRun r, string what) =>
        $"UNEXPECTED ({r.Title}): {what}; run ended {r.Result}";
}

/// <summary>Issue item 9.1: the same guest and the same NMI with pin-based NMI exiting = 0 and = 1.</summary>
public sealed class NmiExitingSample : VmxSample
{
    public override string Name => "nmi-exiting";
    public override string Question => "Where does an NMI go with pin-based \"NMI exiting\" = 0, and with = 1?";

    protected override string Demonstrate(TextWriter trace)
    {
        var off = RunScenario(trace, Build(exiting: false));
        var on = RunScenario(trace, Build(exiting: true));

        if (!off.Clean) return Fail(off, "the hypervisor did not finish");
        if (!on.Clean) return Fail(on, "the hypervisor did not finish");
        bool offNoNmiExit = off.Transitions.All(t => !(t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.ExceptionOrNmi));
        bool offGuestNmi = off.GuestEvents.Count == 1 && off.GuestEvents[0] is { Vector: 2, Kind: EventKind.Nmi };
        var exit = on.Transitions.FirstOrDefault(t => t.Kind == VmxTransitionKind.Exit);
        var reinject = on.Transitions.Where(t => t.Kind == VmxTransitionKind.Entry).Skip(1).FirstOrDefault();
        bool onGuestNmiAfterReinjection = on.GuestEvents.Count == 1 && reinject is not null && on.GuestEvents[0].Cycle >= reinject.Cycle;
        if (!offNoNmiExit || !offGuestNmi) return Fail(off, "expected the NMI in the guest IDT without a VM exit");
        if (exit is null || exit.BasicReason != VmxExitReason.ExceptionOrNmi || exit.InterruptionInfo != NmiInfo
            || reinject?.InterruptionInfo != NmiInfo || !onGuestNmiAfterReinjection)
            return Fail(on, "expected VM exit 0 with 0x80000202, then the guest handler after re-injection");
        return "with NMI exiting = 0 the NMI goes through the guest IDT (vector 2) with no VM exit; with NMI exiting = 1 it causes " +
               $"VM exit reason {(int)exit.BasicReason} (interruption info 0x{exit.InterruptionInfo:X8}: NMI, vector 2) and reaches the guest's " +
               $"handler only when the hypervisor re-injects it (VM-entry interruption information 0x{reinject.InterruptionInfo:X8}) and VMRESUMEs.";
    }

    private static VmxScenario Build(bool exiting) => new()
    {
        Title = $"pin-based NMI exiting = {(exiting ? 1 : 0)}: an NMI arrives 200 cycles after VMLAUNCH while the guest waits in HLT",
        Pin = exiting ? PinBasedControls.NmiExiting : 0,
        Guest = g =>
        {
            g.Mark("start");
            g.A.hlt();                              // IF = 0: only an NMI can wake the guest
            g.Mark("after-hlt");
            GuestDone(g);
            CountingNmiHandler(g);
        },
        OnExit = h =>
        {
            var a = h.A;
            var vmcall = a.CreateLabel();
            h.Read(rbx, E.ExitReason);
            a.cmp(ebx, (int)VmxExitReason.Vmcall);
            a.je(vmcall);
            a.test(ebx, ebx);                       // 0: exception or NMI
            a.jne(h.Unexpected);
            h.Read(rbx, E.VmExitInterruptionInformation);
            a.cmp(ebx, unchecked((int)NmiInfo));
            a.jne(h.Unexpected);
            h.Log(0x10);
            h.WriteFrom(E.VmEntryInterruptionInformation, rbx);
            h.Resume();
            OnVmcall(h, vmcall, 0x11);
        },
        Log = new Dictionary<byte, string>
        {
            [0x10] = "NMI exit: interruption info 0x80000202 (NMI, vector 2); re-inject it: VM-entry interruption information := 0x80000202, VMRESUME",
            [0x11] = "VMCALL exit: the guest is done",
        },
        Events = [ScheduledEvent.NmiAt(200)],          // 200 cycles after VMLAUNCH
    };
}

/// <summary>Issue item 9.2: virtual NMIs and NMI-window exiting: a second NMI while the guest is still in its NMI handler.</summary>
public sealed class VirtualNmiSample : VmxSample
{
    public override string Name => "virtual-nmi";
    public override string Question => "With virtual NMIs, how does a hypervisor give the guest a second NMI while it is still in its NMI handler?";

    protected override string Demonstrate(TextWriter trace)
    {
        var r = RunScenario(trace, Build());
        if (!r.Clean) return Fail(r, "the hypervisor did not finish");
        var window = r.Transitions.FirstOrDefault(t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.NmiWindow);
        if (window is null) return Fail(r, "no NMI-window exit");
        if (r.GuestWord(NmiCount) != 2) return Fail(r, $"the guest's NMI handler ran {r.GuestWord(NmiCount)} times, expected 2");
        return "the second NMI exits (reason 0) even though the guest is in its handler, but cannot be injected while interruptibility " +
               "bit 3 (virtual-NMI blocking) is set; with NMI-window exiting the hypervisor gets exit reason 8 right after the guest's IRET " +
               $"(guest RIP 0x{window.GuestRip:X}, where the handler returned) and injects the NMI there; the handler ran twice.";
    }

    private static VmxScenario Build() => new()
    {
        Title = "pin-based NMI exiting = 1, virtual NMIs = 1: two NMIs, the second while the guest's handler is still running",
        Pin = PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis,
        Guest = g =>
        {
            var a = g.A;
            var start = g.Mark("start");
            a.hlt();                                // wait for NMIs
            g.Mark("after-hlt");
            a.cmp(__dword_ptr[VmxLab.GuestData + NmiCount], 2);
            a.jb(start);
            GuestDone(g);
            g.Handler(2, "nmi-handler");
            a.inc(__dword_ptr[VmxLab.GuestData + NmiCount]);
            a.mov(ecx, 200);
            var work = g.Mark("handler-work");      // the handler's work: a LOOP the second NMI interrupts
            a.loop(work);
            g.Mark("handler-iret");
            a.iretq();
        },
        OnExit = h =>
        {
            var a = h.A;
            var vmcall = a.CreateLabel();
            var window = a.CreateLabel();
            var blocked = a.CreateLabel();
            h.Read(rbx, E.ExitReason);
            a.cmp(ebx, (int)VmxExitReason.Vmcall);
            a.je(vmcall);
            a.cmp(ebx, (int)VmxExitReason.NmiWindow);
            a.je(window);
            a.test(ebx, ebx);
            a.jne(h.Unexpected);
            h.Read(rbx, E.VmExitInterruptionInformation);
            a.cmp(ebx, unchecked((int)NmiInfo));
            a.jne(h.Unexpected);
            // A physical NMI: give the guest a virtual NMI, unless it is still handling one.
            h.Read(rax, E.GuestInterruptibilityState);
            a.test(al, 8);                          // bit 3: virtual-NMI blocking
            a.jne(blocked);
            h.Log(0x20);
            h.Write(E.VmEntryInterruptionInformation, NmiInfo);
            h.Resume();

            a.Label(ref blocked);
            h.Log(0x21);
            a.mov(__dword_ptr[VmxLab.HvHeld], 1);
            h.SetBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.NmiWindowExiting);
            h.Resume();

            a.Label(ref window);
            a.cmp(__dword_ptr[VmxLab.HvHeld], 0);         // the window was asked for a held NMI
            a.je(h.Unexpected);
            h.Log(0x22);
            h.ClearBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.NmiWindowExiting);
            a.mov(__dword_ptr[VmxLab.HvHeld], 0);
            h.Write(E.VmEntryInterruptionInformation, NmiInfo);
            h.Resume();
            OnVmcall(h, vmcall, 0x23);
        },
        Log = new Dictionary<byte, string>
        {
            [0x20] = "NMI exit, guest interruptibility bit 3 = 0: inject a virtual NMI (0x80000202), VMRESUME",
            [0x21] = "NMI exit, but guest interruptibility bit 3 = 1 (virtual-NMI blocking: still in its handler): hold it, set NMI-window exiting (primary bit 22), VMRESUME",
            [0x22] = "NMI-window exit: the guest's IRET ended virtual-NMI blocking; clear NMI-window exiting, inject the held NMI (0x80000202), VMRESUME",
            [0x23] = "VMCALL exit: the guest is done",
        },
        Events =
        [
            ScheduledEvent.NmiAt(200) with { Name = "NMI #1" },
            // 50 cycles after the first NMI reaches the guest's handler: while it still runs.
            ScheduledEvent.NmiAt(50, EventAnchor.GuestDelivery) with { AnchorVector = 2, Name = "NMI #2", Remark = "while the guest's handler runs" },
        ],
    };
}

/// <summary>Issue item 9.3: holding an external interrupt for a guest with IF = 0 until the interrupt window opens.</summary>
public sealed class InterruptWindowSample : VmxSample
{
    public override string Name => "interrupt-window";
    public override string Question => "When can a hypervisor inject an external interrupt that arrives while its guest runs with IF = 0?";

    internal const byte Vector = 0x30;

    protected override string Demonstrate(TextWriter trace)
    {
        var r = RunScenario(trace, Build());
        if (!r.Clean) return Fail(r, "the hypervisor did not finish");
        var window = r.Transitions.FirstOrDefault(t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.InterruptWindow);
        var inject = r.Transitions.LastOrDefault(t => t.Kind == VmxTransitionKind.Entry && t.InterruptionInfo != 0);
        if (window is null || inject is null) return Fail(r, "no interrupt-window exit or no injection");
        if (r.GuestWord(SeenVector) != Vector) return Fail(r, $"the guest's handler saw vector 0x{r.GuestWord(SeenVector):X}");
        ulong sti = r.Labels["sti"], shadow = r.Labels["shadow"];
        return $"not before the window opens: with interrupt-window exiting the hypervisor gets exit reason 7 exactly one instruction after the guest's STI " +
               $"(STI at 0x{sti:X}, the shadowed instruction at 0x{shadow:X}, exit at guest RIP 0x{window.GuestRip:X}), injects 0x{inject.InterruptionInfo:X8} " +
               $"(external interrupt, vector 0x{Vector:X2}) there, and the guest's handler sees vector 0x{r.GuestWord(SeenVector):X2}.";
    }

    private static VmxScenario Build() => new()
    {
        Title = "external-interrupt exiting + acknowledge interrupt on exit: vector 0x30 arrives while the guest runs with IF = 0",
        Pin = PinBasedControls.ExternalInterruptExiting,
        Exit = ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit,
        GuestRflags = 2,                                // IF = 0
        Guest = g =>
        {
            var a = g.A;
            g.Mark("start");
            a.mov(ecx, 200);
            var spin = g.Mark("spin");                  // busy with interrupts off
            a.loop(spin);
            g.Mark("sti");
            a.sti();
            g.Mark("shadow");                           // the one instruction in the STI shadow
            a.mov(eax, 1);
            g.Mark("window");                           // the interrupt window opens here
            a.mov(eax, 2);
            GuestDone(g);
            g.Handler(Vector, "vector-0x30-handler");
            a.mov(__dword_ptr[VmxLab.GuestData + SeenVector], Vector);
            a.iretq();
        },
        OnExit = h =>
        {
            var a = h.A;
            var vmcall = a.CreateLabel();
            var window = a.CreateLabel();
            var hold = a.CreateLabel();
            var inject = a.CreateLabel();
            h.Read(rbx, E.ExitReason);
            a.cmp(ebx, (int)VmxExitReason.Vmcall);
            a.je(vmcall);
            a.cmp(ebx, (int)VmxExitReason.InterruptWindow);
            a.je(window);
            a.cmp(ebx, (int)VmxExitReason.ExternalInterrupt);
            a.jne(h.Unexpected);
            // Acknowledged on exit: the vector is in the exit interruption information.
            h.Read(rbx, E.VmExitInterruptionInformation);
            a.test(ebx, ebx);
            a.jns(h.Unexpected);                         // bit 31: valid
            a.mov(__dword_ptr[VmxLab.HvHeld], ebx);
            // Can the guest take it now? IF = 1 and no blocking by STI or MOV SS.
            h.Read(rax, E.GuestRflags);
            a.test(eax, 0x200);
            a.je(hold);
            h.Read(rax, E.GuestInterruptibilityState);
            a.test(al, 3);
            a.jne(hold);
            h.Log(0x32);
            a.jmp(inject);

            a.Label(ref hold);
            h.Log(0x30);
            h.SetBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.InterruptWindowExiting);
            h.Resume();

            a.Label(ref window);
            h.Log(0x31);
            h.ClearBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.InterruptWindowExiting);
            a.Label(ref inject);
            a.movzx(ebx, __byte_ptr[VmxLab.HvHeld]);     // the held vector
            a.or(ebx, unchecked((int)0x8000_0000));      // valid, type 0 (external interrupt)
            h.WriteFrom(E.VmEntryInterruptionInformation, rbx);
            h.Resume();
            OnVmcall(h, vmcall, 0x33);
        },
        Log = new Dictionary<byte, string>
        {
            [0x30] = "external-interrupt exit (acknowledged: 0x80000030) but the guest has IF = 0: hold vector 0x30, set interrupt-window exiting (primary bit 2), VMRESUME",
            [0x31] = "interrupt-window exit: clear interrupt-window exiting, inject the held vector as an external interrupt (type 0), VMRESUME",
            [0x32] = "external-interrupt exit and the guest can take it: inject it now",
            [0x33] = "VMCALL exit: the guest is done",
        },
        Events = [ScheduledEvent.InterruptAt(Vector, 50)],
    };
}

/// <summary>Issue item 9.4: blocking by MOV SS at VM entry: the interrupt window waits one instruction, NMI injection fails the entry.</summary>
public sealed class MovSsBlockingSample : VmxSample
{
    public override string Name => "movss-blocking";
    public override string Question => "What does blocking by MOV SS at VM entry do to an interrupt window, and to injecting an NMI?";

    protected override string Demonstrate(TextWriter trace)
    {
        var r = RunScenario(trace, Build());
        if (!r.Clean) return Fail(r, "the hypervisor did not finish");
        var window = r.Transitions.FirstOrDefault(t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.InterruptWindow);
        var failure = r.Transitions.FirstOrDefault(t => t.Kind == VmxTransitionKind.EntryFailure);
        if (window is null || failure is null) return Fail(r, "no interrupt-window exit or no VM-entry failure");
        if (r.GuestWord(NmiCount) != 1) return Fail(r, "the NMI did not reach the guest after the fix");
        return $"(a) the interrupt window opens one instruction after the entry (exit reason 7 at guest RIP 0x{window.GuestRip:X}, " +
               $"{window.GuestRip - r.Labels["start"]} bytes = one MOV past 0x{r.Labels["start"]:X}); (b) injecting an NMI with MOV-SS blocking fails the entry " +
               $"with exit reason 0x{failure.ExitReason:X8} ({failure.Failure?.Check}); with interruptibility 0 the same injection works.";
    }

    private static VmxScenario Build() => new()
    {
    Title = "VM entry with guest interruptibility = 2 (blocking by MOV SS), RFLAGS.IF = 1, interrupt-window exiting",
    Proc = PrimaryProcessorBasedControls.InterruptWindowExiting,
    GuestRflags = 0x202,
    GuestInterruptibility = 2,
    Guest = g =>
    {
        var a = g.A;
        g.Mark("start");
        a.mov(eax, 0x1111);                         // runs in the MOV-SS shadow the entry loaded
        g.Mark("second");
        a.mov(eax, 0x2222);
        a.mov(eax, 0x3333);
        GuestDone(g);
        CountingNmiHandler(g);
    },
    OnExit = h =>
    {
        var a = h.A;
        var vmcall = a.CreateLabel();
        var window = a.CreateLabel();
        var entryFailure = a.CreateLabel();
        h.Read(rbx, E.ExitReason);
        a.cmp(ebx, (int)VmxExitReason.InterruptWindow);
        a.je(window);
        a.cmp(ebx, unchecked((int)(0x8000_0000u | (uint)VmxExitReason.EntryFailureGuestState)));
        a.je(entryFailure);
        a.cmp(ebx, (int)VmxExitReason.Vmcall);
        a.je(vmcall);
        a.jmp(h.Unexpected);

        // (a) -> (b): the window came one instruction late. Now try an NMI with MOV-SS blocking set.
        a.Label(ref window);
        h.Log(0x40);
        h.ClearBits(E.PrimaryProcBasedVmExecControls, PrimaryProcessorBasedControls.InterruptWindowExiting);
        h.Write(E.GuestInterruptibilityState, 2);
        h.Write(E.VmEntryInterruptionInformation, NmiInfo);
        h.Resume();

        // (b) -> (c): the entry failed (host state loaded, back at HOST_RIP). Drop the blocking, inject again.
        a.Label(ref entryFailure);
        h.Log(0x41);
        h.Write(E.GuestInterruptibilityState, 0);
        h.Write(E.VmEntryInterruptionInformation, NmiInfo);
        h.Resume();
        OnVmcall(h, vmcall, 0x42);
    },
    Log = new Dictionary<byte, string>
    {
        [0x40] = "interrupt-window exit one instruction into the guest. (b): interruptibility := 2 (MOV SS), inject an NMI (0x80000202), VMRESUME",
        [0x41] = "VM-entry failure (exit reason 0x80000021). (c): interruptibility := 0, inject the same NMI, VMRESUME",
        [0x42] = "VMCALL exit: the guest is done",
    },
    };
}
