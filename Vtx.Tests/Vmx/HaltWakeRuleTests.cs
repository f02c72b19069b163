using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Deviation 8 of issue 11: "can a halted processor wake" and "what does the arbiter take" are one
/// rule. A guest entered in the HLT or shutdown activity state with generated pending events,
/// blocking state and controls either stays halted (the run ends Halted in non-root operation) or
/// takes exactly the event an independent model of SDM Vol. 3C 25.2, 26.6.2 (activity states) and
/// the priority of 8.2 (VMX.md) names — never wakes without taking anything, never takes anything
/// without waking.
/// </summary>
public class HaltWakeRuleTests
{
    public sealed record WakeCase(int Activity, bool If, bool NmiPending, bool IntrPending, bool NmiBlocked,
        bool NmiExiting, bool VirtualNmis, bool ExtIntExiting, bool IntrWindow, bool NmiWindow);

    private static readonly Gen<bool> B = Gen.Elements(false, true);

    private static readonly Gen<WakeCase> Cases =
        from activity in Gen.Elements(1, 1, 1, 2, 3)
        from iflag in B
        from nmi in B
        from intr in B
        from blocked in B
        from nmiExiting in B
        from vnmi in B
        from ext in B
        from iw in B
        from nw in B
        select new WakeCase(activity, iflag, nmi, intr, blocked, nmiExiting, nmiExiting && vnmi, ext, iw, nmiExiting && vnmi && nw);

    /// <summary>What the SDM says happens first, or null when the processor stays halted.</summary>
    private static (VmxExitReason Reason, int GuestVector)? Expected(WakeCase c)
    {
        if (c.Activity == 3) return null;                                       // wait-for-SIPI: only a SIPI ends it
        if (c.NmiWindow && !c.NmiBlocked) return (VmxExitReason.NmiWindow, -1);   // VNB = interruptibility bit 3
        bool nmiUnblocked = c.NmiExiting && c.VirtualNmis || !c.NmiBlocked;
        if (c.NmiPending && nmiUnblocked)
        {
            if (c.NmiExiting) return (VmxExitReason.ExceptionOrNmi, -1);
            // Delivered through the guest IDT: the processor is active at the handler (IF = 0 there);
            // a pending external interrupt then exits at its first instruction if external-interrupt
            // exiting ignores IF, else the handler runs to its CPUID.
            return c.IntrPending && c.ExtIntExiting ? (VmxExitReason.ExternalInterrupt, -1) : (VmxExitReason.Cpuid, 2);
        }
        if (c.Activity == 2) return null;                                       // shutdown blocks the rest
        if (c.IntrWindow && c.If) return (VmxExitReason.InterruptWindow, -1);
        if (c.IntrPending && c.ExtIntExiting) return (VmxExitReason.ExternalInterrupt, -1);
        if (c.IntrPending && c.If) return (VmxExitReason.Cpuid, 0x40);
        return null;
    }

    [Property(MaxTest = 120)]
    public Property HaltedGuestWakesExactlyForWhatTheArbiterTakes() => Prop.ForAll(Arb.From(Cases), c =>
    {
        var g = new VmxGuest();
        g.SetGuestHandler(2, a => { a.mov(__dword_ptr[Sys.Scratch + 0x200], 2); a.cpuid(); });
        g.SetGuestHandler(0x40, a => { a.mov(__dword_ptr[Sys.Scratch + 0x200], 0x40); a.cpuid(); });
        g.Guest(a => a.hlt());
        uint pin = (c.NmiExiting ? PinBasedControls.NmiExiting : 0) | (c.VirtualNmis ? PinBasedControls.VirtualNmis : 0)
                   | (c.ExtIntExiting ? PinBasedControls.ExternalInterruptExiting : 0);
        uint proc = (c.IntrWindow ? PrimaryProcessorBasedControls.InterruptWindowExiting : 0) | (c.NmiWindow ? PrimaryProcessorBasedControls.NmiWindowExiting : 0);
        g.Controls(pin: pin, proc: proc, exit: ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit);
        g.W(VmcsField.GuestActivityState, (ulong)c.Activity);
        g.W(VmcsField.GuestRflags, c.If ? 0x202UL : 2UL);
        g.W(VmcsField.GuestInterruptibilityState, c.NmiBlocked ? 8UL : 0);
        // Held pending while the host runs (IF = 0, NMIs blocked) until VM entry loads the guest's state.
        g.Cpu.NmiBlocked = true;
        if (c.NmiPending) g.Cpu.RaiseNmi();
        if (c.IntrPending) g.Cpu.RaiseInterrupt(0x40);
        g.S.W32(Sys.Scratch + 0x200, 0xFFFF_FFFF);
        g.Cpu.Rip = Sys.Code;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        // A cycle limit too: a halted processor that "can wake" but takes nothing would spin in time.
        var r = g.S.M.Run(new RunLimits { MaxInstructions = 1_000, MaxCycles = 10_000_000 });
        var expected = Expected(c);
        if (expected is null)
        {
            Assert.Equal(StopReason.Halted, r.Reason);
            Assert.True(g.Cpu.InVmxNonRoot && g.Cpu.IsHalted, $"{c}: {string.Join("; ", g.Transitions)}");
            return;
        }
        Assert.Equal(expected.Value.Reason, g.ExitReason);
        if (expected.Value.GuestVector >= 0) Assert.Equal((uint)expected.Value.GuestVector, g.LastGuestVector);
    });

    [Fact]
    public void SingleStepTrapAfterHltIsDeliveredAndEndsTheHaltInRootOperation()
    {
        // SDM Vol. 2A HLT: a debug exception resumes execution. HLT with RFLAGS.TF = 1 takes its
        // single-step #DB after it retires; the handler runs (it once stayed halted at its first byte).
        var s = new Sys();
        s.EnterLong(0);
        s.Load(a => { a.mov(__dword_ptr[Sys.Scratch], 0x1234); a.hlt(); }, 0x1_8000);
        s.Gate64(1, 0x1_8000);
        s.Load(a => { a.pushfq(); a.or(__dword_ptr[rsp], 0x100); a.popfq(); a.hlt(); a.nop(); });
        s.Cpu.Rip = Sys.Code;
        var r = s.Run(100);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(0x1234u, s.R32(Sys.Scratch));
    }
}
