using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The events of VMX non-root operation decided by the boundary arbiter (SDM Vol. 3C, 25.2-25.5,
/// 26.5-26.6, 27.2): virtual NMIs, NMI-window and interrupt-window exits, external-interrupt
/// exiting with acknowledge-on-exit, MTF, IDT-vectoring information and triple faults.
/// </summary>
public class NonRootEventTests
{
    private const uint NmiInfo = 0x8000_0202;
    private const ulong Flag = Sys.Scratch + 0x400;

    /// <summary>A guest that spins on PAUSE forever.</summary>
    private static void Spin(Assembler a)
    {
        var top = a.CreateLabel();
        a.Label(ref top);
        a.pause();
        a.jmp(top);
    }

    [Fact]
    public void InjectedVirtualNmiSetsBlockingAndTheGuestIretClearsIt()
    {
        var g = new VmxGuest();
        // The NMI handler counts, then returns; the guest then spins.
        g.SetGuestHandler(2, a => { a.inc(__qword_ptr[Flag]); a.iretq(); });
        g.Guest(Spin);
        g.Controls(pin: PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis,
                   proc: PrimaryProcessorBasedControls.NmiWindowExiting);
        g.W(VmcsField.VmEntryInterruptionInformation, NmiInfo);
        g.Launch();
        // The injected NMI set virtual-NMI blocking; the NMI-window exit comes right after the handler's IRET.
        Assert.Equal(VmxExitReason.NmiWindow, g.ExitReason);
        Assert.Equal(1UL, g.S.R64(Flag));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(0UL, g.R(VmcsField.GuestInterruptibilityState) & 8);
        Assert.Equal(0x7FFF_FFFFUL & NmiInfo, g.R(VmcsField.VmEntryInterruptionInformation)); // valid bit cleared by the exit
    }

    [Fact]
    public void NoNmiWindowExitWhileVirtualNmiBlockingIsSet()
    {
        var g = new VmxGuest();
        g.Guest(a => { for (int i = 0; i < 10; i++) a.nop(); a.hlt(); });
        g.Controls(pin: PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis,
                   proc: PrimaryProcessorBasedControls.NmiWindowExiting | PrimaryProcessorBasedControls.HltExiting);
        g.W(VmcsField.GuestInterruptibilityState, 8); // virtual-NMI blocking, never cleared (no IRET)
        var r = g.Launch();
        Assert.True(g.Transitions.All(t => t.BasicReason != VmxExitReason.NmiWindow || t.Kind != VmxTransitionKind.Exit), "NMI-window exit under virtual-NMI blocking: " + r);
    }

    [Fact]
    public void PhysicalNmiExitsEvenUnderVirtualNmiBlocking()
    {
        var g = new VmxGuest();
        g.Guest(Spin);
        g.Controls(pin: PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis);
        g.W(VmcsField.GuestInterruptibilityState, 8);
        g.Cpu.PostEvent(g.Cpu.Cycles + 300, nmi: true);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(NmiInfo, (uint)g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(8UL, g.R(VmcsField.GuestInterruptibilityState) & 8); // virtual-NMI blocking saved
    }

    [Fact]
    public void NmiExitingWithoutVirtualNmisHoldsNmisWhileBlockedFromEntry()
    {
        var g = new VmxGuest();
        g.Guest(a => { for (int i = 0; i < 50; i++) a.nop(); a.hlt(); });
        g.Controls(pin: PinBasedControls.NmiExiting, proc: PrimaryProcessorBasedControls.HltExiting);
        g.W(VmcsField.GuestInterruptibilityState, 8); // NMI blocking loaded from the guest
        g.Cpu.PostEvent(g.Cpu.Cycles + 250, nmi: true);
        g.Launch();
        // The NMI stays pending until the VM exit (here the guest's HLT exit).
        Assert.True(g.Transitions.Count(t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.ExceptionOrNmi) == 0);
        Assert.True(g.Cpu.NmiPending);
    }

    [Fact]
    public void IretThatFaultsAfterRemovingVirtualNmiBlockingReportsBit12()
    {
        var g = new VmxGuest();
        // IRETQ with a non-canonical return RIP on the stack: #GP after virtual-NMI blocking is gone.
        g.Guest(a =>
        {
            a.push(0x10);                 // SS
            a.push((int)VmxGuest.GuestStack); // RSP
            a.push(2);                    // RFLAGS
            a.push(0x08);                 // CS
            a.mov(rax, 0x8000_0000_0000_0000UL);
            a.push(rax);                  // RIP: non-canonical
            a.iretq();
        });
        g.Controls(pin: PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis);
        g.W(VmcsField.GuestInterruptibilityState, 8);
        g.W(VmcsField.ExceptionBitmap, 1u << 13);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        uint info = (uint)g.R(VmcsField.VmExitInterruptionInformation);
        Assert.Equal(0x8000_0B0Du | 0x1000, info);
        Assert.Equal(0UL, g.R(VmcsField.GuestInterruptibilityState) & 8);
    }

    [Fact]
    public void ExternalInterruptExitingAcknowledgesOnExit()
    {
        foreach (bool ack in new[] { false, true })
        {
            var g = new VmxGuest();
            g.Guest(Spin);
            g.Controls(pin: PinBasedControls.ExternalInterruptExiting,
                       exit: ExitControls.HostAddressSpaceSize | (ack ? ExitControls.AcknowledgeInterruptOnExit : 0));
            g.Cpu.PostEvent(g.Cpu.Cycles + 300, nmi: false, vector: 0x41);
            g.Launch();
            Assert.Equal(VmxExitReason.ExternalInterrupt, g.ExitReason);
            Assert.Equal(ack ? 0x8000_0041UL : 0UL, g.R(VmcsField.VmExitInterruptionInformation));
            // Without acknowledge-on-exit the interrupt stays pending for the host (IF = 0 after the exit).
            Assert.Equal(ack ? 0xFFFF_FFFFu : 0xFFFF_FFFFu, g.LastGuestVector);
        }
    }

    [Fact]
    public void ExternalInterruptExitingIgnoresGuestIfButNotShadows()
    {
        var g = new VmxGuest();
        g.Guest(Spin);
        g.Controls(pin: PinBasedControls.ExternalInterruptExiting);
        g.W(VmcsField.GuestRflags, 2); // IF = 0
        g.Cpu.RaiseInterrupt(0x50);
        g.Launch();
        Assert.Equal(VmxExitReason.ExternalInterrupt, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void InterruptWindowWakesHltAndSavesTheActivityState()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        g.Controls(proc: PrimaryProcessorBasedControls.InterruptWindowExiting);
        g.W(VmcsField.GuestRflags, 0x202);
        g.W(VmcsField.GuestActivityState, 1);
        g.Launch();
        Assert.Equal(VmxExitReason.InterruptWindow, g.ExitReason);
        Assert.Equal(1UL, g.R(VmcsField.GuestActivityState));
    }

    [Fact]
    public void MovSsBlockingAtEntryDelaysTheInterruptWindowByOneInstruction()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.nop(); a.hlt(); });
        g.Controls(proc: PrimaryProcessorBasedControls.InterruptWindowExiting);
        g.W(VmcsField.GuestRflags, 0x202);
        g.W(VmcsField.GuestInterruptibilityState, 2);
        g.Launch();
        Assert.Equal(VmxExitReason.InterruptWindow, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode + 1, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void NmiInjectionUnderMovSsBlockingFailsTheEntryWithTheNamedCheck()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        g.W(VmcsField.GuestInterruptibilityState, 2);
        g.W(VmcsField.VmEntryInterruptionInformation, NmiInfo);
        g.Launch();
        Assert.Equal(VmxExitReason.EntryFailureGuestState, g.ExitReason);
        Assert.Equal("guest.interruptibility.nmi-injection-mov-ss", g.Cpu.LastVmEntryFailure!.Check);
        Assert.Equal(NmiInfo, (uint)g.R(VmcsField.VmEntryInterruptionInformation)); // not cleared by an entry failure
    }

    [Fact]
    public void MonitorTrapFlagExitsAfterEachInstruction()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(eax, 1); a.mov(ebx, 2); a.hlt(); });
        g.Controls(proc: PrimaryProcessorBasedControls.MonitorTrapFlag);
        g.Launch();
        Assert.Equal(VmxExitReason.MonitorTrapFlag, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode + 5, g.R(VmcsField.GuestRip));
        Assert.Equal(1UL, g.Cpu[Gpr.Rax]);
        g.Resume();
        Assert.Equal(VmxExitReason.MonitorTrapFlag, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode + 10, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void PendingMtfInjectionExitsBeforeTheFirstInstruction()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.hlt(); });
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0700);
        g.Launch();
        Assert.Equal(VmxExitReason.MonitorTrapFlag, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void FaultDuringInjectedDeliveryRecordsIdtVectoringInformation()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        // Gate 0x40 not present: delivering the injected software interrupt raises #NP(0x40*8+2).
        g.S.W64(VmxGuest.GuestIdt + 0x40 * 16 + 0, 0);
        g.S.W64(VmxGuest.GuestIdt + 0x40 * 16 + 8, 0);
        var (lo, hi) = Desc.Gate64(Sys.KCode64, VmxGuest.Handlers, 0, present: false);
        g.S.W64(VmxGuest.GuestIdt + 0x40 * 16, lo);
        g.S.W64(VmxGuest.GuestIdt + 0x40 * 16 + 8, hi);
        g.W(VmcsField.ExceptionBitmap, 1u << 11);
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0440); // software interrupt 0x40
        g.W(VmcsField.VmEntryInstructionLength, 2);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0B0BUL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(0x40UL * 8 + 2, g.R(VmcsField.VmExitInterruptionErrorCode));
        Assert.Equal(0x8000_0440UL, g.R(VmcsField.IdtVectoringInformation));
    }

    [Fact]
    public void TripleFaultInTheGuestIsVmExit2()
    {
        var g = new VmxGuest();
        g.Guest(a => a.ud2());
        g.W(VmcsField.GuestIdtrLimit, 0); // every delivery faults: #UD → #GP → #DF → triple fault
        var r = g.Launch();
        Assert.Equal(VmxExitReason.TripleFault, g.ExitReason);
        Assert.Equal(0UL, g.R(VmcsField.IdtVectoringInformation));
        Assert.NotEqual(StopReason.Shutdown, r.Reason);
    }

    [Fact]
    public void PageFaultExitLeavesCr2AndReportsTheAddress()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(rax, 0x40_0000_0000UL); a.mov(rbx, __qword_ptr[rax]); });
        g.W(VmcsField.ExceptionBitmap, 1u << 14);
        g.Cpu.Cr2Value = 0x1234;
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0B0EUL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(0x40_0000_0000UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(0x1234UL, g.Cpu.Cr2Value);
    }

    [Fact]
    public void PageFaultErrorCodeMaskAndMatchSelectWhichFaultsExit()
    {
        // The SDM rule: a #PF exits iff ((PFEC & mask) == match) equals exception-bitmap bit 14.
        var g = new VmxGuest();
        g.Guest(a => { a.mov(rax, 0x40_0000_0000UL); a.mov(rbx, __qword_ptr[rax]); });
        g.W(VmcsField.ExceptionBitmap, 1u << 14);
        g.W(VmcsField.PageFaultErrorCodeMask, 2);
        g.W(VmcsField.PageFaultErrorCodeMatch, 2);
        g.Launch();
        // A read fault (PFEC bit 1 = 0) does not match, bitmap bit is 1: delivered to the guest.
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(14u, g.LastGuestVector);
    }

    [Fact]
    public void ExitThenResumeContinuesWithTheSavedState()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(ecx, 7); a.ud2(); a.mov(edx, 9); a.hlt(); });
        g.W(VmcsField.ExceptionBitmap, 1u << 6);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        ulong rip = g.R(VmcsField.GuestRip);
        g.W(VmcsField.GuestRip, rip + 2); // skip the UD2
        g.Resume();
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(7UL, g.Cpu[Gpr.Rcx]);
        Assert.Equal(9UL, g.Cpu[Gpr.Rdx]);
    }

    [Fact]
    public void SnapshotTakenInNonRootReplaysTheSameFuture()
    {
        var g = new VmxGuest();
        g.Guest(a => { var top = a.CreateLabel(); a.Label(ref top); a.inc(rax); a.jmp(top); });
        g.Controls(pin: PinBasedControls.ActivatePreemptionTimer, exit: ExitControls.HostAddressSpaceSize | ExitControls.SavePreemptionTimerValue);
        g.W(VmcsField.VmxPreemptionTimerValue, 40);
        g.Cpu.Rip = Sys.Code;
        g.Cpu.Resume();
        g.S.Run(50);
        Assert.True(g.Cpu.InVmxNonRoot);
        var snap = g.S.M.Snapshot();
        string Future()
        {
            var r = g.S.Run(1_000_000);
            return $"{r} rax={g.Cpu[Gpr.Rax]} reason={g.R(VmcsField.ExitReason)} rip={g.R(VmcsField.GuestRip):X} timer={g.R(VmcsField.VmxPreemptionTimerValue)}";
        }
        string first = Future();
        g.S.M.Restore(snap);
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(first, Future());
        Assert.Contains("reason=52", first);
    }

    /// <summary>
    /// The priority at one instruction boundary (SDM Vol. 3C, 25.2/26.6; VMX.md 8.2): all events
    /// are armed at once right after VM entry, and each run removes the winner to reveal the next:
    /// MTF (injected type 7) → preemption timer (0) → NMI window → NMI → interrupt window →
    /// external interrupt.
    /// </summary>
    [Theory]
    [InlineData(6, VmxExitReason.MonitorTrapFlag)]
    [InlineData(5, VmxExitReason.PreemptionTimerExpired)]
    [InlineData(4, VmxExitReason.NmiWindow)]
    [InlineData(3, VmxExitReason.ExceptionOrNmi)]
    [InlineData(2, VmxExitReason.InterruptWindow)]
    [InlineData(1, VmxExitReason.ExternalInterrupt)]
    public void BoundaryPriorityAmongNonRootEvents(int armed, VmxExitReason expected)
    {
        var g = new VmxGuest();
        g.Guest(Spin);
        uint pin = PinBasedControls.ExternalInterruptExiting, proc = 0;
        if (armed >= 2) proc |= PrimaryProcessorBasedControls.InterruptWindowExiting;
        if (armed >= 3) { pin |= PinBasedControls.NmiExiting; g.Cpu.PostEvent(g.Cpu.Cycles + 1, nmi: true); }
        if (armed >= 4) { pin |= PinBasedControls.VirtualNmis; proc |= PrimaryProcessorBasedControls.NmiWindowExiting; }
        if (armed >= 5) { pin |= PinBasedControls.ActivatePreemptionTimer; g.W(VmcsField.VmxPreemptionTimerValue, 0); }
        if (armed >= 6) g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0700);
        g.Controls(pin: pin, proc: proc);
        g.W(VmcsField.GuestRflags, 0x202);
        g.Cpu.RaiseInterrupt(0x60);
        g.Launch(stopAtExit: true);
        Assert.Equal(expected, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void InitInNonRootExitsAndInRootStaysPendingUntilTheNextEntry()
    {
        var g = new VmxGuest();
        g.Guest(Spin);
        g.Cpu.RaiseInit(); // in VMX root operation: blocked, pending
        Assert.True(g.Cpu.InVmxOperation);
        g.Launch(stopAtExit: true);
        Assert.Equal(VmxExitReason.InitSignal, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));

        var h = new VmxGuest();
        h.Guest(Spin);
        h.Launch(200);
        Assert.True(h.Cpu.InVmxNonRoot);
        h.Cpu.RaiseInit();
        h.S.RunTo(VmxGuest.ExitStop);
        Assert.Equal(VmxExitReason.InitSignal, h.ExitReason);
    }

    [Fact]
    public void SipiEndsWaitForSipiWithItsVectorAndIsDroppedOtherwise()
    {
        var g = new VmxGuest();
        g.Guest(Spin);
        g.W(VmcsField.GuestActivityState, 3);
        var r = g.Launch();
        Assert.Equal(StopReason.Halted, r.Reason);       // nothing but a SIPI can wake it
        Assert.True(g.Cpu.InVmxNonRoot);
        g.Cpu.RaiseSipi(0x9A);
        g.S.RunTo(VmxGuest.ExitStop);
        Assert.Equal(VmxExitReason.StartupIpi, g.ExitReason);
        Assert.Equal(0x9AUL, g.R(VmcsField.ExitQualification));
        Assert.Equal(3UL, g.R(VmcsField.GuestActivityState));

        var h = new VmxGuest();
        h.Guest(a => { for (int i = 0; i < 20; i++) a.nop(); a.hlt(); });
        h.Launch(5);
        h.Cpu.RaiseSipi(0x10);                            // active guest: discarded
        var r2 = h.S.Run(100);
        Assert.Equal(StopReason.Halted, r2.Reason);
        Assert.True(h.Cpu.InVmxNonRoot);
    }

    /// <summary>
    /// Wait-for-SIPI with the VMX-preemption timer active: the timer counts down in that state but
    /// reaching zero causes no VM exit (SDM Vol. 3C, 26.5.1). Time passes to its expiry, the run then
    /// ends (nothing but a SIPI can wake the processor) whatever the limits, a cycle limit below the
    /// expiry ends it there, and the SIPI exit saves the timer value 0.
    /// </summary>
    [Fact]
    public void PreemptionTimerCountsDownInWaitForSipiWithoutAnExit()
    {
        const ulong timer = 100;
        int rate = new VmxCapabilities().PreemptionTimerRate;
        VmxGuest Make()
        {
            var g = new VmxGuest();
            g.Guest(Spin);
            g.W(VmcsField.GuestActivityState, 3);
            g.Controls(pin: PinBasedControls.ActivatePreemptionTimer, exit: ExitControls.HostAddressSpaceSize | ExitControls.SavePreemptionTimerValue);
            g.W(VmcsField.VmxPreemptionTimerValue, timer);
            return g;
        }

        var g = Make();
        ulong c0 = g.Cpu.Cycles;
        var r = Core.CoreHarness.Bounded(() => g.Launch());
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(g.Cpu.InVmxNonRoot, "the timer must not exit in wait-for-SIPI");
        ulong waitedTsc = (g.Cpu.Cycles - c0) * g.Cpu.Model.TscPerCycle;
        Assert.InRange(waitedTsc, (timer - 1) << rate, (timer + 1) << rate); // the timer's period passed (200-cycle entry included)
        ulong after = g.Cpu.Cycles;
        Assert.Equal(StopReason.Halted, g.S.Run(1000).Reason);              // stays waiting; time stands still now
        Assert.Equal(after, g.Cpu.Cycles);

        g.Cpu.RaiseSipi(0x12);
        g.S.RunTo(VmxGuest.ExitStop);
        Assert.Equal(VmxExitReason.StartupIpi, g.ExitReason);
        Assert.Equal(0UL, g.R(VmcsField.VmxPreemptionTimerValue));          // it counted down to zero

        // A cycle limit before the expiry ends the run there, still waiting; so does a host stop.
        var h = Make();
        h.Cpu.Rip = Sys.Code;
        h.Cpu.Rflags = 2;
        h.Cpu.Resume();
        var rc = Core.CoreHarness.Bounded(() => h.S.M.Run(new RunLimits { MaxCycles = 1000 }));
        Assert.Equal(StopReason.CycleLimit, rc.Reason);
        Assert.True(h.Cpu.InVmxNonRoot);
        h.Cpu.RaiseSipi(0x34);
        h.S.RunTo(VmxGuest.ExitStop);
        Assert.Equal(VmxExitReason.StartupIpi, h.ExitReason);
        Assert.True(h.R(VmcsField.VmxPreemptionTimerValue) is > 0 and < timer, "the timer counted down partly");
    }

    [Fact]
    public void MonitorTrapFlagExitsAfterTheFirstIterationOfARepString()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(ecx, 4); a.mov(edi, (int)Flag); a.xor(eax, eax); a.rep.stosb(); a.hlt(); });
        g.Controls(proc: PrimaryProcessorBasedControls.MonitorTrapFlag);
        g.Launch();
        for (int i = 0; i < 3; i++) { Assert.Equal(VmxExitReason.MonitorTrapFlag, g.ExitReason); g.Resume(); }
        // At the REP STOSB now: one iteration, then the exit with RIP still on it and RCX counting down.
        Assert.Equal(VmxExitReason.MonitorTrapFlag, g.ExitReason);
        ulong rep = g.R(VmcsField.GuestRip);
        Assert.Equal(3UL, g.Cpu[Gpr.Rcx]);
        g.Resume();
        Assert.Equal(rep, g.R(VmcsField.GuestRip));
        Assert.Equal(2UL, g.Cpu[Gpr.Rcx]);
    }

    [Fact]
    public void Int3HittingTheBitmapExitsAsASoftwareExceptionWithItsLength()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.int3(); a.hlt(); });
        g.W(VmcsField.ExceptionBitmap, 1u << 3);
        g.W(VmcsField.GuestRflags, 0x102); // TF = 1
        var r = g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0603UL, g.R(VmcsField.VmExitInterruptionInformation)); // software exception, vector 3
        Assert.Equal(1UL, g.R(VmcsField.VmExitInstructionLength));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(StopReason.Halted, r.Reason); // the host reached its HLT: no #DB was delivered to it
        Assert.Empty(g.S.Events);
    }

    /// <summary>An NMI arriving in an STI shadow exits at once (Vtx: STI blocking does not block NMIs, as in root operation); in a MOV-SS shadow it waits one instruction.</summary>
    [Theory]
    [InlineData(1UL, 0UL)]
    [InlineData(2UL, 1UL)]
    public void NmiExitUnderStiAndMovSsBlocking(ulong interruptibility, ulong ripAdvance)
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.nop(); a.hlt(); });
        g.Controls(pin: PinBasedControls.NmiExiting);
        g.W(VmcsField.GuestRflags, 0x202);
        g.W(VmcsField.GuestInterruptibilityState, interruptibility);
        g.Cpu.PostEvent(g.Cpu.Cycles + 1, nmi: true);
        g.Launch(stopAtExit: true);
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(NmiInfo, (uint)g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(VmxGuest.GuestCode + ripAdvance, g.R(VmcsField.GuestRip));
        // An exit at the STI-shadow boundary saves the blocking still in force; after one instruction it is gone.
        Assert.Equal(interruptibility == 1 ? 1UL : 0UL, g.R(VmcsField.GuestInterruptibilityState) & 3);
    }
}
