using System.Text;
using Iced.Intel;
using Vtx.Debugging;
using Vtx.Tests.Debugging;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// The gdb stub shows each processor as a thread (gdb remote protocol: qfThreadInfo/qsThreadInfo,
/// Hg, T, qC, qThreadExtraInfo, the thread field of stop replies).
/// </summary>
public class SmpGdbTests
{
    private static ulong Rax(RspClient c) => BitConverter.ToUInt64(Convert.FromHexString(c.Ask("p0").PadRight(16, '0')[..16]));

    [Fact]
    public void ProcessorsAreThreadsAndABreakpointStopNamesTheProcessorThatHitIt()
    {
        var rig = new SmpRig(3, 100);
        Label spin = default, ap2 = default, target = default;
        rig.Load(a =>
        {
            spin = a.CreateLabel(); ap2 = a.CreateLabel(); target = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
            a.Label(ref ap2);
            a.mov(ecx, 50);
            var d = a.CreateLabel();
            a.Label(ref d);
            a.dec(ecx);
            a.jnz(d);
            a.Label(ref target);
            a.hlt();
        });
        rig.StartHost(1, spin);
        rig.StartHost(2, ap2);
        for (int i = 0; i < 3; i++) rig[i][Gpr.Rax] = 0x1000UL + (ulong)i;

        var session = new StubSession(rig.M);
        var c = new RspClient(session.Port);
        Assert.StartsWith("PacketSize=", c.Ask("qSupported:multiprocess+;swbreak+;hwbreak+"));
        Assert.Equal("m1,2,3", c.Ask("qfThreadInfo"));
        Assert.Equal("l", c.Ask("qsThreadInfo"));
        Assert.Equal("QC1", c.Ask("qC"));
        Assert.Equal("OK", c.Ask("T3"));
        Assert.Equal("E01", c.Ask("T4"));
        Assert.Equal("E01", c.Ask("Hg4"));
        Assert.Equal(0x1000UL, Rax(c));
        Assert.Equal("OK", c.Ask("Hg2"));
        Assert.Equal(0x1001UL, Rax(c));
        Assert.Equal("QC2", c.Ask("qC"));
        Assert.Equal("OK", c.Ask("Hg3"));
        Assert.Equal(0x1002UL, Rax(c));
        Assert.Equal("OK", c.Ask("Hc-1"));
        Assert.Equal("CPU 1, APIC ID 1", Encoding.Latin1.GetString(Convert.FromHexString(c.Ask("qThreadExtraInfo,2"))));

        Assert.Equal("OK", c.Ask("Hg1"));
        Assert.Equal("OK", c.Ask($"Z0,{rig.At(target):x},1"));
        string stop = c.Ask("c");
        Assert.StartsWith("T05thread:3;", stop);
        Assert.Equal("QC3", c.Ask("qC"));              // the stopping processor became the selected thread
        Assert.Equal(0UL, BitConverter.ToUInt64(Convert.FromHexString(c.Ask("p2").PadRight(16, '0')[..16]))); // its RCX
        Assert.Equal(rig.At(target), rig[2].Rip);
        Assert.Equal("OK", c.Ask($"z0,{rig.At(target):x},1"));
        Assert.Equal("OK", c.Ask("D"));
        c.Dispose();
        Assert.Equal(GdbSessionEnd.Detached, session.End());
        // The session's breakpoint is gone from every processor.
        Assert.DoesNotContain(rig.M.Cpus, cpu => cpu.HostBreakpoints.Contains(rig.At(target)));
    }
}
