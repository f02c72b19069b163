using Vtx.Debugging;
using Vtx.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Debugging;

/// <summary>
/// The stub against the real gdb (Debian's gdb package, installed once when missing), in batch mode:
/// connect, read registers, break, continue, single-step, examine memory, a hardware watchpoint, a
/// monitor command, detach — the session a user has, checked on gdb's own output.
/// </summary>
public class GdbEndToEndTests
{
    private readonly ITestOutputHelper _out;

    public GdbEndToEndTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void GdbConnectsBreaksStepsWatchesAndDetaches()
    {
        HostTools.Ensure("gdb", "gdb");
        // inc rax; mov [0x2000], rax; jmp back.
        var m = new Machine(new MachineOptions { MemoryMiB = 2 });
        m.WriteMemory(0x1000, [0x48, 0xFF, 0xC0, 0x48, 0x89, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00, 0xEB, 0xF3]);
        m.Cpu.Rip = 0x1000;
        var session = new StubSession(m);
        string[] commands =
        [
            "set pagination off", "set confirm off",
            $"target remote 127.0.0.1:{session.Port}",
            "info registers rip",
            "break *0x100b", "continue", "p/x $rax",
            "stepi", "p/x $pc",
            "x/2xb 0x1000",
            "delete", "watch *(long*)0x2000", "continue",
            "monitor cycles",
            "detach",
        ];
        string args = "-nx -batch " + string.Join(" ", commands.Select(c => $"-ex \"{c}\""));
        var (code, stdout, stderr) = HostTools.Sh("gdb", args, timeoutMs: 120_000);
        _out.WriteLine(stdout);
        _out.WriteLine(stderr);
        Assert.Equal(GdbSessionEnd.Detached, session.End());
        Assert.Equal(0, code);
        Assert.Matches(@"rip\s+0x1000\s", stdout);
        Assert.Matches(@"Breakpoint 1, 0x0*100b in", stdout);
        Assert.Contains("$1 = 0x1", stdout);
        Assert.Contains("$2 = 0x1000", stdout);           // stepi over the jmp
        Assert.Matches(@"0x1000:\s+0x48\s+0xff", stdout);
        Assert.Matches(@"Hardware watchpoint 2: \*\(long\s*\*\)\s*0x2000", stdout);
        Assert.Matches(@"Old value = 1\s+New value = 2", stdout);
        Assert.Matches(@"cycles \d+, instructions retired \d+", stdout + stderr); // gdb prints monitor output on stderr
        Assert.Equal(2UL, m.Cpu[Gpr.Rax]);
        Assert.Empty(m.Cpu.HostBreakpoints);
    }
}
