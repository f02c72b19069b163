using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Fault-class #DB in VMX non-root operation with #DB in the exception bitmap (SDM Vol. 3C, 27.1, 27.2.1):
/// the VM exit reports B0-B3/BD in the exit qualification; DR6 and DR7 are left unchanged (no delivery happened).
/// </summary>
public class DebugExceptionVmxTests
{
    /// <summary>General detect (SDM Vol. 3A 18.2.4) in the guest: exit qualification BD, guest RIP at the MOV DR, GD still set in the saved DR7.</summary>
    [Fact]
    public void GeneralDetectExitReportsBdAndLeavesDr6Dr7()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(rax, dr0); a.hlt(); });
        g.W(VmcsField.GuestDr7, 0x2400);
        g.Controls(exit: ExitControls.HostAddressSpaceSize | ExitControls.SaveDebugControls,
            entry: EntryControls.Ia32eModeGuest | EntryControls.LoadDebugControls);
        g.W(VmcsField.ExceptionBitmap, 1u << 1);
        ulong dr6 = g.Cpu.GetDebugRegister(6);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x2000UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(0x8000_0301UL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(0x2400UL, g.R(VmcsField.GuestDr7));
        Assert.Equal(dr6, g.Cpu.GetDebugRegister(6));
    }

    /// <summary>An instruction breakpoint (SDM Vol. 3A 18.3.1.1) in the guest: exit qualification B0, guest RIP at the breakpoint.</summary>
    [Fact]
    public void InstructionBreakpointExitReportsB0()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.nop(); a.hlt(); });
        g.Cpu.SetDebugRegister(0, VmxGuest.GuestCode + 1);
        g.W(VmcsField.GuestDr7, 0x401);
        g.Controls(exit: ExitControls.HostAddressSpaceSize | ExitControls.SaveDebugControls,
            entry: EntryControls.Ia32eModeGuest | EntryControls.LoadDebugControls);
        g.W(VmcsField.ExceptionBitmap, 1u << 1);
        ulong dr6 = g.Cpu.GetDebugRegister(6);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(1UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(VmxGuest.GuestCode + 1, g.R(VmcsField.GuestRip));
        Assert.Equal(dr6, g.Cpu.GetDebugRegister(6));
    }
}
