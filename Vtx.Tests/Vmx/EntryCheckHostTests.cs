using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The host-state checks that need a VMX host outside IA-32e mode (SDM Vol. 3C, 26.2.4): a 32-bit
/// protected-mode host with paging (CR0.PE/NE/PG, 32-bit paging with PSE) executes VMXON, VMPTRLD and
/// VMLAUNCH; with "host address-space size" = 0 the host CR4.PCIDE and RIP[63:32] must be 0, and outside
/// IA-32e mode "host address-space size" itself must be 0. Each failure is VMfailValid(8).
/// </summary>
public class EntryCheckHostTests
{
    private const ulong VmxonRegion = 0x2_0000, VmcsRegion = 0x2_1000, Launch = Sys.Code + 0x100, ExitStop = Sys.Code + 0x800;

    /// <summary>A 32-bit host in VMX root operation with a current VMCS holding its own state as host state and as guest state.</summary>
    private static Sys Host32()
    {
        var s = new Sys();
        s.EnterProtected(0);
        var c = s.Cpu;
        c.Cr3Value = Sys.Pd32;
        c.Cr4Value = Cr4.PSE | Cr4.VMXE;
        c.Cr0Value |= Cr0.PG;
        c.FeatureControl = 5;
        uint rev = c.Model.Vmx!.RevisionId;
        s.W32(VmxonRegion, rev);
        s.W32(VmcsRegion, rev);
        s.W64(Sys.Scratch, VmxonRegion);
        s.W64(Sys.Scratch + 8, VmcsRegion);
        s.Load(a => { a.vmxon(__qword_ptr[Sys.Scratch]); a.vmclear(__qword_ptr[Sys.Scratch + 8]); a.vmptrld(__qword_ptr[Sys.Scratch + 8]); a.hlt(); }, Sys.Code, 32);
        c.Rip = Sys.Code;
        var r = s.Run(10);
        Assert.True(r.Reason == StopReason.Halted && c.CurrentVmcsPointer == VmcsRegion && (c.EferValue & Efer.LMA) == 0, $"32-bit VMX setup failed: {r}");
        EntryCheckCoverageTests.Record(() => [c.LastVmEntryFailure]);
        var v = c.CurrentVmcs!;
        c.CaptureHostState(v, ExitStop, Sys.KernelStack);
        c.CaptureGuestState(v);
        var caps = c.Model.Vmx;
        v.Write(VmcsField.PinBasedVmExecControls, caps.AdjustControls(VmxControlKind.PinBased, 0));
        v.Write(VmcsField.PrimaryProcBasedVmExecControls, caps.AdjustControls(VmxControlKind.PrimaryProcessorBased, 0));
        v.Write(VmcsField.VmExitControls, caps.AdjustControls(VmxControlKind.Exit, 0));
        v.Write(VmcsField.VmEntryControls, caps.AdjustControls(VmxControlKind.Entry, 0));
        s.Load(a => { a.vmlaunch(); a.hlt(); }, Launch, 32);
        return s;
    }

    private static void ExpectHostFailure(string check, Action<Vmcs> breakIt)
    {
        var s = Host32();
        var c = s.Cpu;
        breakIt(c.CurrentVmcs!);
        c.Rip = Launch;
        c.Rflags = 2;
        c.Resume();
        s.Run(5);
        Assert.False(c.InVmxNonRoot);
        Assert.Equal((ulong)RFlags.ZF, c.Rflags & (ulong)RFlags.Status);
        Assert.Equal((ulong)VmInstructionError.EntryInvalidHostStateFields, c.CurrentVmcs!.Read(VmcsField.VmInstructionError));
        var f = c.LastVmEntryFailure;
        Assert.Equal(check, f?.Check);
        Assert.Equal(VmEntryCheckClass.HostState, f!.Class);
        Assert.Equal("26.2.4", f.Section);
    }

    [Fact]
    public void OutsideIa32eModeHostAddressSpaceSizeMustBe0() => ExpectHostFailure("host.address-space.outside-ia32e",
        v => v.Write(VmcsField.VmExitControls, v.Read(VmcsField.VmExitControls) | ExitControls.HostAddressSpaceSize));

    [Fact]
    public void OutsideIa32eModeIa32eModeGuestMustBe0() => ExpectHostFailure("host.address-space.outside-ia32e",
        v => v.Write(VmcsField.VmEntryControls, v.Read(VmcsField.VmEntryControls) | EntryControls.Ia32eModeGuest));

    [Fact]
    public void A32BitHostMustHavePcideClear() => ExpectHostFailure("host.cr4.pcide",
        v => v.Write(VmcsField.HostCr4, v.Read(VmcsField.HostCr4) | Cr4.PCIDE));

    [Fact]
    public void A32BitHostRipMustFitIn32Bits() => ExpectHostFailure("host.rip.32-bit",
        v => v.Write(VmcsField.HostRip, 1UL << 32 | ExitStop));

    [Fact]
    public void TheUnbrokenHostStatePassesTheHostChecks()
    {
        // The same VMCS unbroken: whatever the guest-state checks say, the host-state checks pass (no VMfailValid 8).
        var s = Host32();
        var c = s.Cpu;
        c.Rip = Launch;
        c.Rflags = 2;
        c.Resume();
        s.Run(5);
        Assert.NotEqual(VmEntryCheckClass.HostState, c.LastVmEntryFailure?.Class);
        Assert.NotEqual(VmEntryCheckClass.ControlFields, c.LastVmEntryFailure?.Class);
    }
}
