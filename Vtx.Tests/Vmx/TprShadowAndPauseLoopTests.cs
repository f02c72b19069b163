using Iced.Intel;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>"Use TPR shadow" for MOV CR8 and PAUSE-loop exiting (SDM Vol. 3C, 25.1.3, 29.3).</summary>
public class TprShadowAndPauseLoopTests
{
    private const ulong VirtualApic = 0x7_0000;

    private static VmxGuest WithTprShadow(uint threshold, byte vtpr)
    {
        var g = new VmxGuest();
        g.S.W32(VirtualApic + 0x80, vtpr);
        g.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow);
        g.W(VmcsField.VirtualApicAddress, VirtualApic);
        g.W(VmcsField.TprThreshold, threshold);
        return g;
    }

    [Fact]
    public void MovCr8ReadsAndWritesTheVirtualTprNotTheApic()
    {
        var g = WithTprShadow(0, 0x50);
        g.Cpu.Apic.Tpr = 0x20;
        g.Guest(a => { a.mov(rax, cr8); a.mov(ecx, 9); a.mov(cr8, rcx); a.hlt(); });
        var r = g.Launch();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(5UL, g.Cpu[Gpr.Rax]);
        Assert.Equal(0x90u, g.S.R32(VirtualApic + 0x80));
        Assert.Equal(0x20, g.Cpu.Apic.Tpr);
    }

    [Fact]
    public void LoweringTheVirtualTprBelowTheThresholdIsATrapLikeExit()
    {
        var g = WithTprShadow(6, 0x80);
        var l = g.Guest(a => { a.mov(ecx, 3); a.mov(cr8, rcx); a.nop(); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.TprBelowThreshold, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode + 5 + 4, g.R(VmcsField.GuestRip)); // after the MOV CR8 (trap-like)
        Assert.Equal(0x30u, g.S.R32(VirtualApic + 0x80));
    }

    [Fact]
    public void EntryChecksTheThresholdAgainstTheVirtualTpr()
    {
        var g = WithTprShadow(6, 0x50);
        g.Guest(a => a.hlt());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.tpr-threshold.vtpr", g.Cpu.LastVmEntryFailure!.Check);
    }

    [Fact]
    public void PauseLoopLongerThanTheWindowExits()
    {
        var g = new VmxGuest();
        g.Guest(a => { var top = a.CreateLabel(); a.Label(ref top); a.pause(); a.jmp(top); });
        g.Controls(proc2: SecondaryProcessorBasedControls.PauseLoopExiting);
        g.W(VmcsField.PleGap, 1000);     // PAUSEs closer than this form one loop
        g.W(VmcsField.PleWindow, 5000);  // a loop longer than this exits
        ulong start = g.Cpu.Cycles;
        g.Launch(100_000);
        Assert.Equal(VmxExitReason.Pause, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        ulong elapsed = g.Cpu.Cycles - start;
        Assert.InRange(elapsed, 5000UL, 5000UL + 1000);
    }

    [Fact]
    public void PausesFartherApartThanTheGapNeverExit()
    {
        var g = new VmxGuest();
        g.Guest(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.pause();
            var inner = a.CreateLabel();
            a.mov(ecx, 2000);                // at least 2,000 cycles (a run costs at least 1) > PLE_Gap between two PAUSEs, under any timing profile
            a.Label(ref inner);
            a.dec(ecx);
            a.jnz(inner);
            a.jmp(top);
        });
        g.Controls(proc2: SecondaryProcessorBasedControls.PauseLoopExiting);
        g.W(VmcsField.PleGap, 1000);
        g.W(VmcsField.PleWindow, 100);
        var r = g.Launch(20_000);
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.True(g.Cpu.InVmxNonRoot);
    }
}
