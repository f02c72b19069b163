using Vtx.Kit;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Tests.Kit;

/// <summary>
/// <see cref="VmxLab"/> scenarios written the way a user writes one: a guest, an exit handler, devices. The
/// hypervisor is guest code (its bring-up from <see cref="HypervisorAssembler.EmitBringUp"/>); the assertions
/// are the SDM's: with "NMI exiting" an NMI is a VM exit with reason 0 and interruption information 80000202h
/// (SDM Vol. 3C, 25.2, 27.2.2), raised no earlier than its scheduled cycle; without it, the guest's IDT gets it.
/// </summary>
public class KitLabTests
{
    private static VmxScenario SpinningGuest(bool nmiExiting, ScheduledEvent nmi) => new()
    {
        Title = "a guest spins; an NMI arrives",
        Pin = nmiExiting ? PinBasedControls.NmiExiting : 0,
        Guest = g =>
        {
            g.Mark("start");
            g.A.mov(ecx, 100_000);                        // busy long enough for the NMI to arrive
            var spin = g.Mark("spin");
            g.A.loop(spin);
            g.Done();
            g.Handler(2, "nmi-handler");
            g.A.inc(__dword_ptr[VmxLab.GuestData]);
            g.A.iretq();
        },
        OnExit = h =>
        {
            var vmcall = h.A.CreateLabel();
            h.Read(rbx, E.ExitReason);
            h.A.cmp(ebx, (int)VmxExitReason.Vmcall);
            h.A.je(vmcall);
            h.A.test(ebx, ebx);                           // 0: exception or NMI
            h.A.jne(h.Unexpected);
            h.Log(0x10);
            h.Resume();
            h.A.Label(ref vmcall);
            h.A.jmp(h.Done);
        },
        Log = new Dictionary<byte, string> { [0x10] = "NMI exit" },
        Events = [nmi],
    };

    [Theory]
    [InlineData(EventAnchor.Start, 5_000UL)]
    [InlineData(EventAnchor.FirstEntry, 0UL)]
    [InlineData(EventAnchor.FirstEntry, 7_777UL)]
    public void AScheduledNmiExitsWithNmiExitingAtOrAfterItsCycle(EventAnchor anchor, ulong delay)
    {
        // Runs are deterministic: a first run without the event finds the cycle of VMLAUNCH's entry, so a
        // Start-anchored event can be placed after it without assuming what the bring-up costs.
        ulong entry = new VmxLab().Run(SpinningGuest(true, ScheduledEvent.NmiAt(ulong.MaxValue))).Transitions[0].Cycle;
        if (anchor == EventAnchor.Start) delay += entry;
        var trace = new StringWriter();
        var run = new VmxLab(null, trace).Run(SpinningGuest(true, ScheduledEvent.NmiAt(delay, anchor)));
        Assert.True(run.Clean, trace.ToString());
        Assert.Equal(entry, run.Transitions[0].Cycle);
        var exit = Assert.Single(run.ExitsOf(VmxExitReason.ExceptionOrNmi));
        Assert.Equal(0x8000_0202u, exit.InterruptionInfo);
        ulong at = anchor == EventAnchor.Start ? delay : entry + delay;
        Assert.True(exit.Cycle >= at, $"exit at {exit.Cycle}, scheduled for {at}");
        Assert.Contains($"NMI scheduled for cycle {at}", trace.ToString());
        Assert.Equal(4, run.HypervisorLog.Count);
        Assert.StartsWith("CPUID.1:ECX.VMX = 1", run.HypervisorLog[0]);
        Assert.StartsWith("controls (adjusted by the capability MSRs)", run.HypervisorLog[2]);
        Assert.Equal("NMI exit", run.HypervisorLog[3]);
        Assert.Empty(run.GuestEvents);                                              // the NMI exited instead of reaching the guest
        Assert.Equal(VmxExitReason.Vmcall, run.Transitions[^1].BasicReason);
        Assert.Equal(run.Labels["vmcall"], run.Transitions[^1].GuestRip);
    }

    [Fact]
    public void WithoutNmiExitingTheGuestIdtTakesTheScheduledNmi()
    {
        var run = new VmxLab().Run(SpinningGuest(false, ScheduledEvent.NmiAt(3_000)));
        Assert.True(run.Clean);
        var e = Assert.Single(run.GuestEvents);
        Assert.Equal((EventKind.Nmi, (byte)2), (e.Kind, e.Vector));
        Assert.Empty(run.ExitsOf(VmxExitReason.ExceptionOrNmi));
        Assert.Equal(1u, run.GuestWord(0));
        Assert.Equal(0xFFFF_FFFFu, run.GuestWord(VmxLab.GuestUnexpected));
    }

    [Fact]
    public void AControlTheCpuLacksStopsTheHypervisorWithItsCode()
    {
        var caps = new VmxCapabilities { PinBased = new(PinBasedControls.Default1, PinBasedControls.Default1 | PinBasedControls.ExternalInterruptExiting) };
        var lab = new VmxLab(new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Vmx = caps } }));
        var run = lab.Run(SpinningGuest(true, ScheduledEvent.NmiAt(100)));
        Assert.False(run.Clean);
        Assert.Equal(StopReason.DebugExit, run.Result.Reason);
        Assert.Equal(VmxLab.StandardLog(0xE2), run.HypervisorLog[^1]);             // "a control this hypervisor needs is not supported"
        Assert.Empty(run.Transitions);
    }
}
