using Vtx.Kit;
using Vtx.Samples;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Samples;

/// <summary>
/// The VMX samples end to end: each hypervisor (guest code of the sample itself) must produce exactly
/// the expected sequence of VM entries, exits and failed entries — kinds, reasons, interruption
/// information, guest RIPs — and the guest must see the events the answer claims.
/// </summary>
public class VmxSampleTests
{
    private const uint Nmi = 0x8000_0202;

    private static (T sample, string trace, string answer) Run<T>() where T : VmxSample, new()
    {
        var s = new T();
        var w = new StringWriter();
        string answer = s.Run(w);
        return (s, w.ToString(), answer);
    }

    /// <summary>One transition as (kind, exit reason, interruption info, guest RIP); entries carry the injected information.</summary>
    private static (VmxTransitionKind, uint, uint, ulong)[] Shape(VmxRun r) =>
        r.Transitions.Select(t => (t.Kind, t.ExitReason, t.InterruptionInfo, t.GuestRip)).ToArray();

    private static (VmxTransitionKind, uint, uint, ulong) Entry(ulong rip, uint inject = 0) => (VmxTransitionKind.Entry, 0, inject, rip);
    private static (VmxTransitionKind, uint, uint, ulong) Exit(VmxExitReason reason, ulong rip, uint info = 0) => (VmxTransitionKind.Exit, (uint)reason, info, rip);

    private static void AssertCleanHypervisorRun(VmxRun r)
    {
        Assert.True(r.Clean, $"{r.Title}: {r.Result}");
        // The hypervisor brought VMX up itself: the bring-up log comes before any transition.
        Assert.StartsWith("CPUID.1:ECX.VMX = 1", r.HypervisorLog[0]);
        Assert.StartsWith("VMXON, VMCLEAR, VMPTRLD done", r.HypervisorLog[1]);
        Assert.StartsWith("controls (adjusted by the capability MSRs)", r.HypervisorLog[2]);
        Assert.Equal(0xFFFF_FFFFu, r.GuestWord(VmxLab.GuestUnexpected));
        Assert.DoesNotContain(r.Transitions, t => t.Kind is VmxTransitionKind.EntryFail or VmxTransitionKind.Abort);
        // Every exit but the last is answered by VMRESUME (or the entry failure path), ending with the guest's VMCALL.
        var last = r.Transitions[^1];
        Assert.Equal(VmxTransitionKind.Exit, last.Kind);
        Assert.Equal(VmxExitReason.Vmcall, last.BasicReason);
        Assert.Equal(r.Labels["vmcall"], last.GuestRip);
    }

    [Fact]
    public void NmiExitingZeroDeliversThroughTheGuestIdtAndOneExitsUntilReinjected()
    {
        var (s, trace, answer) = Run<NmiExitingSample>();
        Assert.Equal(2, s.Runs.Count);

        var off = s.Runs[0];
        AssertCleanHypervisorRun(off);
        Assert.Equal(new[] { Entry(off.Labels["start"]), Exit(VmxExitReason.Vmcall, off.Labels["vmcall"]) }, Shape(off));
        var nmi = Assert.Single(off.GuestEvents);
        Assert.Equal((byte)2, nmi.Vector);
        Assert.Equal(EventKind.Nmi, nmi.Kind);
        Assert.InRange(nmi.Cycle, off.Transitions[0].Cycle, off.Transitions[1].Cycle);
        Assert.Equal(1u, off.GuestWord(VmxSample.NmiCount));

        var on = s.Runs[1];
        AssertCleanHypervisorRun(on);
        ulong afterHlt = on.Labels["after-hlt"];
        Assert.Equal(new[]
        {
            Entry(on.Labels["start"]),
            Exit(VmxExitReason.ExceptionOrNmi, afterHlt, Nmi),     // the NMI exits; the guest was halted, RIP is past its HLT
            Entry(afterHlt, Nmi),                                  // re-injected
            Exit(VmxExitReason.Vmcall, on.Labels["vmcall"]),
        }, Shape(on));
        Assert.Equal(0u, on.Transitions[1].IdtVectoringInfo);
        Assert.Equal(0UL, on.Transitions[1].Qualification);
        nmi = Assert.Single(on.GuestEvents);
        Assert.Equal((byte)2, nmi.Vector);
        Assert.InRange(nmi.Cycle, on.Transitions[2].Cycle, on.Transitions[3].Cycle); // only after the re-injection
        Assert.Equal(1u, on.GuestWord(VmxSample.NmiCount));

        Assert.Contains("activity HLT", trace);
        Assert.Contains("inject 0x80000202 (NMI, vector 0x02)", trace);
        Assert.StartsWith("with NMI exiting = 0 the NMI goes through the guest IDT (vector 2) with no VM exit; with NMI exiting = 1 it causes VM exit reason 0 (interruption info 0x80000202", answer);
    }

    [Fact]
    public void VirtualNmiWaitsForTheNmiWindowAfterTheGuestsIret()
    {
        var (s, trace, answer) = Run<VirtualNmiSample>();
        var r = Assert.Single(s.Runs);
        AssertCleanHypervisorRun(r);
        ulong afterHlt = r.Labels["after-hlt"], work = r.Labels["handler-work"];
        Assert.Equal(new[]
        {
            Entry(r.Labels["start"]),
            Exit(VmxExitReason.ExceptionOrNmi, afterHlt, Nmi),     // NMI #1
            Entry(afterHlt, Nmi),                                  // injected as a virtual NMI
            Exit(VmxExitReason.ExceptionOrNmi, work, Nmi),         // NMI #2, inside the guest's handler
            Entry(work),                                           // held: NMI-window exiting, nothing injected
            Exit(VmxExitReason.NmiWindow, afterHlt),               // right after the handler's IRET, at its return address
            Entry(afterHlt, Nmi),                                  // the held NMI
            Exit(VmxExitReason.Vmcall, r.Labels["vmcall"]),
        }, Shape(r));
        Assert.Equal(0UL, r.Transitions[5].Qualification);
        Assert.Equal(2, r.GuestEvents.Count);
        Assert.All(r.GuestEvents, e => Assert.Equal((EventKind.Nmi, (byte)2), (e.Kind, e.Vector)));
        Assert.InRange(r.GuestEvents[0].Cycle, r.Transitions[2].Cycle, r.Transitions[3].Cycle);
        Assert.InRange(r.GuestEvents[1].Cycle, r.Transitions[6].Cycle, r.Transitions[7].Cycle);
        Assert.Equal(2u, r.GuestWord(VmxSample.NmiCount));
        // The hypervisor saw virtual-NMI blocking in the saved interruptibility state and set primary bit 22 for that one entry.
        var lines = trace.Split('\n');
        Assert.Contains(lines, l => l.Contains("VM exit") && l.Contains($"guest RIP 0x{work:X}") && l.Contains("interruptibility 8"));
        Assert.Contains(lines, l => l.Contains("VM entry") && l.Contains($"guest RIP 0x{work:X}") && l.Contains("proc 0x04406172"));
        Assert.Contains("guest RIP 0x30001, where the handler returned", answer);
    }

    [Fact]
    public void InterruptWindowOpensOneInstructionAfterStiAndTheHeldInterruptIsInjectedThere()
    {
        var (s, trace, answer) = Run<InterruptWindowSample>();
        var r = Assert.Single(s.Runs);
        AssertCleanHypervisorRun(r);
        const uint vector30 = 0x8000_0030;
        ulong spin = r.Labels["spin"], window = r.Labels["window"];
        Assert.Equal(r.Labels["sti"] + 1, r.Labels["shadow"]);   // STI, then one MOV (5 bytes) in its shadow
        Assert.Equal(r.Labels["shadow"] + 5, window);
        Assert.Equal(new[]
        {
            Entry(r.Labels["start"]),
            Exit(VmxExitReason.ExternalInterrupt, spin, vector30), // acknowledged on exit, IF = 0 in the guest
            Entry(spin),                                           // held: interrupt-window exiting
            Exit(VmxExitReason.InterruptWindow, window),           // the instruction after the one following STI
            Entry(window, vector30),                               // injected as type 0
            Exit(VmxExitReason.Vmcall, r.Labels["vmcall"]),
        }, Shape(r));
        var e = Assert.Single(r.GuestEvents);
        Assert.Equal((EventKind.ExternalInterrupt, (byte)0x30), (e.Kind, e.Vector));
        Assert.Equal(0x30u, r.GuestWord(VmxSample.SeenVector));
        Assert.Contains("proc 0x04006176", trace);                 // bit 2 set for the entry that waits for the window
        Assert.StartsWith("not before the window opens: with interrupt-window exiting the hypervisor gets exit reason 7 exactly one instruction after the guest's STI", answer);
    }

    [Fact]
    public void MovSsBlockingDelaysTheWindowOneInstructionAndFailsNmiInjection()
    {
        var (s, trace, answer) = Run<MovSsBlockingSample>();
        var r = Assert.Single(s.Runs);
        AssertCleanHypervisorRun(r);
        ulong start = r.Labels["start"], second = r.Labels["second"];
        Assert.Equal(start + 5, second);                           // exactly one guest instruction (MOV EAX, imm32)
        Assert.Equal(new[]
        {
            Entry(start),
            Exit(VmxExitReason.InterruptWindow, second),
            (VmxTransitionKind.EntryFailure, 0x8000_0021u, 0u, 0UL),
            Entry(second, Nmi),
            Exit(VmxExitReason.Vmcall, r.Labels["vmcall"]),
        }, Shape(r));
        var failure = r.Transitions[2];
        Assert.Equal(0UL, failure.Qualification);
        Assert.Equal("guest.interruptibility.nmi-injection-mov-ss", failure.Failure?.Check);
        Assert.Equal(VmEntryCheckClass.GuestState, failure.Failure?.Class);
        Assert.Contains("Cpu.LastVmEntryFailure: guest.interruptibility.nmi-injection-mov-ss", trace);
        Assert.Contains("interruptibility 2", trace);
        var nmi = Assert.Single(r.GuestEvents);
        Assert.Equal((EventKind.Nmi, (byte)2), (nmi.Kind, nmi.Vector));
        Assert.Equal(1u, r.GuestWord(VmxSample.NmiCount));
        Assert.Contains("exit reason 0x80000021 (guest.interruptibility.nmi-injection-mov-ss)", answer);
    }

    [Fact]
    public void EverySampleGivesTheSameOutputTwice()
    {
        foreach (var template in Sample.All)
        {
            string Once()
            {
                var s = (Sample)Activator.CreateInstance(template.GetType())!;
                var w = new StringWriter();
                string answer = s.Run(w);
                return w + answer;
            }
            string first = Once(), second = Once();
            Assert.Equal(first, second);
            Assert.DoesNotContain("UNEXPECTED", first);
        }
    }
}
