using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>VMLAUNCH/VMRESUME, the VM-entry checks and the VM exits of the mission's events (SDM Vol. 3C, chapters 25-27).</summary>
public class VmEntryExitTests
{
    [Fact]
    public void InterruptWindowWithIfSetExitsBeforeTheFirstGuestInstruction()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.hlt(); });
        g.W(VmcsField.GuestRflags, 0x202);
        g.Controls(proc: PrimaryProcessorBasedControls.InterruptWindowExiting);
        g.Launch();
        Assert.Equal(VmxExitReason.InterruptWindow, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(0UL, g.R(VmcsField.ExitQualification));
        Assert.Equal([VmxTransitionKind.Entry, VmxTransitionKind.Exit], g.Transitions.Select(t => t.Kind));
    }

    [Fact]
    public void InterruptWindowOpensOneInstructionAfterSti()
    {
        var g = new VmxGuest();
        ulong afterStiNext = 0;
        var labels = g.Guest(a =>
        {
            var l = a.CreateLabel();
            a.nop();
            a.sti();
            a.nop();
            a.Label(ref l);
            a.nop();
            a.hlt();
            afterStiNext = 0; // resolved below
            _ = l;
        });
        g.Controls(proc: PrimaryProcessorBasedControls.InterruptWindowExiting);
        g.Launch();
        Assert.Equal(VmxExitReason.InterruptWindow, g.ExitReason);
        // nop (1) + sti (1) + nop (1): the window opens after the instruction that follows STI.
        Assert.Equal(VmxGuest.GuestCode + 3, g.R(VmcsField.GuestRip));
        Assert.Equal(0UL, g.R(VmcsField.GuestInterruptibilityState));
        _ = labels;
        _ = afterStiNext;
    }

    [Fact]
    public void VmlaunchWithInvalidControlsIsVmFailValid7WithTheNamedCheck()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        g.W(VmcsField.PinBasedVmExecControls, 0); // default1 bits 1, 2, 4 missing
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal((ulong)RFlags.ZF, g.Cpu.Rflags & (ulong)RFlags.Status);
        Assert.Equal(7UL, g.R(VmcsField.VmInstructionError));
        Assert.Equal("control.pin-based.allowed-settings", g.Cpu.LastVmEntryFailure!.Check);
        Assert.Equal(VmxTransitionKind.EntryFail, g.Transitions.Single().Kind);
    }

    [Fact]
    public void BadHostStateIsVmFailValid8()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        g.W(VmcsField.HostTrSelector, 0);
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal(8UL, g.R(VmcsField.VmInstructionError));
        Assert.Equal("host.tr.nonzero", g.Cpu.LastVmEntryFailure!.Check);
    }

    [Fact]
    public void StiBlockingWithIfClearIsAGuestStateEntryFailure()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        g.W(VmcsField.GuestInterruptibilityState, 1);
        g.Launch();
        Assert.Equal(VmxExitReason.EntryFailureGuestState, g.ExitReason);
        Assert.Equal(0x8000_0021UL, g.R(VmcsField.ExitReason));
        Assert.Equal("guest.interruptibility.sti-needs-if", g.Cpu.LastVmEntryFailure!.Check);
        Assert.False(g.Vmcs.Launched);
        Assert.Equal(2UL, g.Cpu.Rflags);
    }

    [Fact]
    public void PreemptionTimerZeroExitsBeforeTheFirstInstruction()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.hlt(); });
        g.Controls(pin: PinBasedControls.ActivatePreemptionTimer, exit: ExitControls.HostAddressSpaceSize | ExitControls.SavePreemptionTimerValue);
        g.W(VmcsField.VmxPreemptionTimerValue, 0);
        g.Launch();
        Assert.Equal(VmxExitReason.PreemptionTimerExpired, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(0UL, g.R(VmcsField.VmxPreemptionTimerValue));
    }

    [Fact]
    public void PreemptionTimerExpiresAfterItsValueTimesTheRate()
    {
        var g = new VmxGuest();
        g.Guest(a => { var top = a.CreateLabel(); a.Label(ref top); a.inc(rax); a.jmp(top); });
        g.Controls(pin: PinBasedControls.ActivatePreemptionTimer);
        g.W(VmcsField.VmxPreemptionTimerValue, 100);
        ulong start = g.Cpu.Cycles;
        g.Launch(1_000_000);
        Assert.Equal(VmxExitReason.PreemptionTimerExpired, g.ExitReason);
        ulong elapsed = g.Cpu.Cycles - start;
        ulong rate = 1UL << g.Caps.PreemptionTimerRate;
        Assert.InRange(elapsed, 99 * rate, 101 * rate + 1000);
    }

    [Fact]
    public void ExceptionBitmapDecidesBetweenExitAndGuestDelivery()
    {
        var g = new VmxGuest();
        g.Guest(a => a.ud2());
        g.W(VmcsField.ExceptionBitmap, 1u << 6);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0306UL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));

        var h = new VmxGuest();
        h.Guest(a => a.ud2());
        var r = h.Launch();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(h.Cpu.InVmxNonRoot);
        Assert.Equal(6u, h.LastGuestVector);
    }

    [Fact]
    public void NmiGoesThroughTheGuestIdtWithoutNmiExitingAndExitsWithIt()
    {
        foreach (bool exiting in new[] { false, true })
        {
            var g = new VmxGuest();
            g.Guest(a => { var top = a.CreateLabel(); a.Label(ref top); a.pause(); a.jmp(top); });
            g.Controls(pin: exiting ? PinBasedControls.NmiExiting : 0);
            g.Cpu.PostEvent(g.Cpu.Cycles + 500, nmi: true);
            g.Launch();
            if (exiting)
            {
                Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
                Assert.Equal(0x8000_0202UL, g.R(VmcsField.VmExitInterruptionInformation));
                Assert.True(g.Cpu.NmiBlocked);
                Assert.Equal(0xFFFF_FFFFu, g.LastGuestVector);
            }
            else
            {
                Assert.True(g.Cpu.InVmxNonRoot);
                Assert.Equal(2u, g.LastGuestVector);
                Assert.Equal(VmxTransitionKind.Entry, g.Transitions.Single().Kind);
            }
        }
    }

    [Fact]
    public void InjectedExceptionReachesTheGuestHandlerWithItsErrorCode()
    {
        var g = new VmxGuest();
        g.Guest(a => a.hlt());
        g.SetGuestHandler(13, a => { a.mov(rax, __qword_ptr[rsp]); a.mov(__qword_ptr[Sys.Scratch + 0x300], rax); a.mov(rax, __qword_ptr[rsp + 8]); a.mov(__qword_ptr[Sys.Scratch + 0x308], rax); a.hlt(); });
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0B0D);
        g.W(VmcsField.VmEntryExceptionErrorCode, 0x1234);
        g.Launch();
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(0x1234UL, g.S.R64(Sys.Scratch + 0x300));
        Assert.Equal(VmxGuest.GuestCode, g.S.R64(Sys.Scratch + 0x308));
    }
}
