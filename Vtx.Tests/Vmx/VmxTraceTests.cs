using System.Text.Json;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>The host's view of VMX transitions: the observer hook and the JSON-lines trace.</summary>
public class VmxTraceTests
{
    [Fact]
    public void TraceWriterEmitsOneJsonObjectPerTransition()
    {
        var g = new VmxGuest();
        var sw = new StringWriter();
        _ = new VmxTraceWriter(g.Cpu, sw);
        g.Guest(a => { a.nop(); a.hlt(); });
        g.W(VmcsField.GuestRflags, 0x202);
        g.Controls(proc: PrimaryProcessorBasedControls.InterruptWindowExiting);
        g.Launch();
        string[] lines = sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var entry = JsonDocument.Parse(lines[0]);
        using var exit = JsonDocument.Parse(lines[1]);
        Assert.Equal("entry", entry.RootElement.GetProperty("kind").GetString());
        Assert.Equal("exit", exit.RootElement.GetProperty("kind").GetString());
        Assert.Equal(7, exit.RootElement.GetProperty("reason").GetInt32());
        Assert.Equal("InterruptWindow", exit.RootElement.GetProperty("reasonName").GetString());
        Assert.Equal("0x30000", exit.RootElement.GetProperty("guestRip").GetString());
        Assert.True(exit.RootElement.GetProperty("cycle").GetUInt64() > entry.RootElement.GetProperty("cycle").GetUInt64());
        // The observer the harness attached before the writer still sees every transition.
        Assert.Equal(2, g.Transitions.Count);
    }

    [Fact]
    public void FailedEntryTraceNamesTheCheck()
    {
        var g = new VmxGuest();
        var sw = new StringWriter();
        _ = new VmxTraceWriter(g.Cpu, sw);
        g.Guest(a => a.hlt());
        g.W(VmcsField.GuestRflags, 0x000A); // bit 3 is reserved
        g.Launch();
        using var doc = JsonDocument.Parse(sw.ToString().Trim());
        Assert.Equal("entry-failure", doc.RootElement.GetProperty("kind").GetString());
        Assert.True(doc.RootElement.GetProperty("entryFailure").GetBoolean());
        Assert.Equal("guest.rflags.reserved", doc.RootElement.GetProperty("check").GetString());
        Assert.Equal("GuestRflags", doc.RootElement.GetProperty("field").GetString());
    }

    [Fact]
    public void HostReadsAndWritesTheCurrentVmcsBetweenExits()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.nop(); a.hlt(); });
        g.Controls(proc: PrimaryProcessorBasedControls.MonitorTrapFlag);
        g.Launch();
        Assert.Equal(VmxExitReason.MonitorTrapFlag, g.ExitReason);
        // The host turns MTF off through the API and resumes: the guest runs to its HLT.
        g.W(VmcsField.PrimaryProcBasedVmExecControls, g.R(VmcsField.PrimaryProcBasedVmExecControls) & ~(ulong)PrimaryProcessorBasedControls.MonitorTrapFlag);
        var r = g.Resume();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(VmxGuest.GuestCode + 3, g.Cpu.Rip);
    }
}
