using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// IA32_DEBUGCTL (MSR 1D9h) and the VMX "load debug controls" / "save debug controls" controls (issue 11,
/// deviation 6): the MSR holds the bits the model accepts (LBR, BTF; SDM Vol. 3B 18.4.1), VM entry loads
/// DR7 and IA32_DEBUGCTL from the guest-state area when "load debug controls" = 1 (SDM Vol. 3C 26.3.2.1),
/// VM exit saves both when "save debug controls" = 1 (27.3.1) and always clears IA32_DEBUGCTL (27.5.1).
/// </summary>
public class DebugControlsTests
{
    private const uint DebugCtl = 0x1D9;

    /// <summary>SDM Vol. 4 (MSR 1D9h) / Vol. 3B 18.4.1: WRMSR/RDMSR round-trip LBR and BTF; any other bit is reserved here -> #GP(0), nothing written.</summary>
    [Theory]
    [InlineData(0UL, true)]
    [InlineData(1UL, true)]
    [InlineData(2UL, true)]
    [InlineData(3UL, true)]
    [InlineData(4UL, false)]
    [InlineData(1UL << 63, false)]
    public void Ia32DebugCtlKeepsLbrAndBtfAndRejectsReservedBits(ulong value, bool accepted)
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a =>
        {
            a.mov(ecx, DebugCtl);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            a.wrmsr();
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.rdmsr();
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        if (!accepted)
        {
            s.ExpectFault(ExceptionVector.GP, 0, Sys.Code + 15);
            return;
        }
        s.RunToHalt();
        Assert.Equal(value, (s.Cpu[Gpr.Rdx] << 32) | s.Cpu[Gpr.Rax]);
    }

    private static VmxGuest GuestReadingAndWritingDebugCtl(uint entry, uint exit)
    {
        var g = new VmxGuest();
        // The guest reads IA32_DEBUGCTL into RBX, writes LBR (1), then VMCALLs.
        g.Guest(a =>
        {
            a.mov(ecx, DebugCtl);
            a.rdmsr();
            a.mov(rbx, rax);
            a.mov(eax, 1);
            a.xor(edx, edx);
            a.wrmsr();
            a.vmcall();
        });
        g.S.M.WriteMemory(VmxGuest.MsrBitmap, new byte[4096]);
        g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap);
        g.Controls(proc: PrimaryProcessorBasedControls.UseMsrBitmaps, exit: ExitControls.HostAddressSpaceSize | exit, entry: EntryControls.Ia32eModeGuest | entry);
        g.W(VmcsField.GuestDebugCtl, 2);
        g.W(VmcsField.GuestDr7, 0x401);
        // The host reads IA32_DEBUGCTL right after the exit into RSI.
        g.S.Load(a => { a.mov(ecx, DebugCtl); a.rdmsr(); a.mov(rsi, rax); a.hlt(); }, VmxGuest.ExitStop);
        return g;
    }

    /// <summary>SDM Vol. 3C 26.3.2.1 / 27.3.1 / 27.5.1: with both controls the guest sees GUEST_IA32_DEBUGCTL, its own value is saved on exit, and the host gets 0.</summary>
    [Fact]
    public void LoadAndSaveDebugControlsMoveIa32DebugCtl()
    {
        var g = GuestReadingAndWritingDebugCtl(EntryControls.LoadDebugControls, ExitControls.SaveDebugControls);
        g.Launch();
        Assert.Equal((ulong)VmxExitReason.Vmcall, g.R(VmcsField.ExitReason));
        Assert.Equal(2UL, g.Cpu[Gpr.Rbx]);               // loaded on entry
        Assert.Equal(1UL, g.R(VmcsField.GuestDebugCtl));  // saved on exit
        Assert.Equal(0x401UL, g.R(VmcsField.GuestDr7));
        Assert.Equal(0UL, g.Cpu[Gpr.Rsi]);                // cleared on exit
    }

    /// <summary>SDM Vol. 3C 26.3.2.1 / 27.3.1: without the controls IA32_DEBUGCTL is neither loaded nor saved (the field keeps its value); the exit still clears the MSR (27.5.1).</summary>
    [Fact]
    public void WithoutDebugControlsIa32DebugCtlIsNotLoadedNorSaved()
    {
        var g = GuestReadingAndWritingDebugCtl(0, 0);
        g.Launch();
        Assert.Equal((ulong)VmxExitReason.Vmcall, g.R(VmcsField.ExitReason));
        Assert.Equal(0UL, g.Cpu[Gpr.Rbx]);               // the host's value (0), not the field
        Assert.Equal(2UL, g.R(VmcsField.GuestDebugCtl));  // not saved
        Assert.Equal(0UL, g.Cpu[Gpr.Rsi]);
    }

    /// <summary>SDM Vol. 3C 26.3.1.1: with "load debug controls" the IA32_DEBUGCTL field's reserved bits must be 0 -> VM-entry failure, exit reason 33.</summary>
    [Fact]
    public void ReservedGuestDebugCtlBitsFailTheGuestChecks()
    {
        var g = GuestReadingAndWritingDebugCtl(EntryControls.LoadDebugControls, 0);
        g.W(VmcsField.GuestDebugCtl, 1UL << 2);
        g.Launch();
        Assert.Equal("guest.debugctl.reserved", g.Cpu.LastVmEntryFailure?.Check);
        Assert.Equal(0x8000_0021UL, g.R(VmcsField.ExitReason));
    }

    /// <summary>SDM Vol. 3C A.3-A.5: no control is offered whose state the model does not load/save: "load/save IA32_PERF_GLOBAL_CTRL" and the other MSR-moving controls not modelled may not be 1.</summary>
    [Fact]
    public void OnlyModelledMsrControlsAreOffered()
    {
        var caps = new VmxCapabilities();
        foreach (uint c in new[] { EntryControls.LoadPerfGlobalCtrl, EntryControls.LoadBndcfgs, EntryControls.LoadRtitCtl, EntryControls.LoadCetState, EntryControls.LoadPkrs })
            Assert.False(caps.Entry.MayBeOne(c), $"entry control 0x{c:X} offered but not modelled");
        foreach (uint c in new[] { ExitControls.LoadPerfGlobalCtrl, ExitControls.SavePerfGlobalCtrl, ExitControls.ClearBndcfgs, ExitControls.LoadCetState, ExitControls.LoadPkrs })
            Assert.False(caps.Exit.MayBeOne(c), $"exit control 0x{c:X} offered but not modelled");
        Assert.True(caps.Entry.MayBeOne(EntryControls.LoadDebugControls));
        Assert.True(caps.Exit.MayBeOne(ExitControls.SaveDebugControls));
    }
}
