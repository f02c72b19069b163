using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using Vtx.Debugging;
using Vtx.Tests.SystemArchitecture;
using Vtx.Tests.Vmx;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Debugging;

/// <summary>
/// A minimal client of the gdb remote serial protocol, written from the protocol's description
/// (packet framing "$payload#checksum", acks, Ctrl-C as a raw 0x03, "O" console-output packets)
/// independently of the stub, to drive it over a real loopback socket.
/// </summary>
internal sealed class RspClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _s;
    public List<string> Console { get; } = new();

    public RspClient(int port)
    {
        _tcp = new TcpClient();
        _tcp.Connect("127.0.0.1", port);
        _tcp.NoDelay = true;
        _s = _tcp.GetStream();
        _s.ReadTimeout = 20_000;
    }

    public void SendRaw(string raw) { var b = Encoding.ASCII.GetBytes(raw); _s.Write(b, 0, b.Length); }

    public static string Frame(string payload)
    {
        int sum = 0;
        foreach (char c in payload) sum += c;
        return $"${payload}#{sum & 0xFF:x2}";
    }

    /// <summary>Sends a packet and returns the reply payload, collecting "O" packets into <see cref="Console"/>.</summary>
    public string Ask(string payload)
    {
        SendRaw(Frame(payload));
        Assert.Equal('+', (char)ReadByte());
        return Reply();
    }

    /// <summary>The next non-console reply packet (acked).</summary>
    public string Reply()
    {
        while (true)
        {
            int c;
            while ((c = ReadByte()) != '$') { }
            var sb = new StringBuilder();
            while ((c = ReadByte()) != '#') sb.Append((char)c);
            string sum = $"{(char)ReadByte()}{(char)ReadByte()}";
            string p = sb.ToString();
            int expect = 0;
            foreach (char ch in p) expect += ch;
            Assert.Equal(expect & 0xFF, int.Parse(sum, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            try { SendRaw("+"); } catch (IOException) { } // the stub may close right after a final reply (D, W)
            if (p.Length > 1 && p[0] == 'O' && p != "OK")
            {
                Console.Add(Encoding.ASCII.GetString(Convert.FromHexString(p[1..])));
                continue;
            }
            return p;
        }
    }

    public int ReadByte()
    {
        int c = _s.ReadByte();
        if (c < 0) throw new IOException("stub closed the connection");
        return c;
    }

    public void Dispose() { _s.Dispose(); _tcp.Dispose(); }
}

/// <summary>A stub serving one client on its own thread (xunit forbids blocking on tasks in tests).</summary>
internal sealed class StubSession
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _listening = new();
    public int Port { get; private set; }
    public GdbSessionEnd? Result { get; private set; }

    public StubSession(Machine m)
    {
        var stub = new GdbStub(m);
        _thread = new Thread(() => Result = stub.ServeTcp(0, p => { Port = p; _listening.Set(); })) { IsBackground = true };
        _thread.Start();
        Assert.True(_listening.Wait(20_000), "the stub did not start listening");
    }

    /// <summary>Waits for the session to end and returns how it ended.</summary>
    public GdbSessionEnd End()
    {
        Assert.True(_thread.Join(20_000), "the session did not end");
        return Result!.Value;
    }
}

public class GdbStubTests
{
    // inc rax; mov [0x2000], rax; jmp back: an endless loop with one store per iteration.
    private static readonly byte[] Loop = [0x48, 0xFF, 0xC0, 0x48, 0x89, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00, 0xEB, 0xF3];

    private static Machine LoopMachine()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2 });
        m.WriteMemory(0x1000, Loop);
        m.Cpu.Rip = 0x1000;
        m.Cpu[Gpr.Rsp] = 0x8000;
        return m;
    }

    /// <summary>Runs a stub for <paramref name="m"/> on a thread; returns the client and the session's result.</summary>
    private static (RspClient Client, StubSession Session) Attach(Machine m)
    {
        var session = new StubSession(m);
        var c = new RspClient(session.Port);
        Assert.StartsWith("PacketSize=", c.Ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386"));
        return (c, session);
    }

    private static ulong Reg(RspClient c, int n) =>
        BitConverter.ToUInt64(Convert.FromHexString(c.Ask($"p{n:x}").PadRight(16, '0')[..16]));

    private static string TargetXml(RspClient c)
    {
        var sb = new StringBuilder();
        while (true)
        {
            string r = c.Ask($"qXfer:features:read:target.xml:{sb.Length:x},400");
            Assert.True(r.Length > 0 && r[0] is 'm' or 'l', r);
            sb.Append(r[1..]);
            if (r[0] == 'l') return sb.ToString();
        }
    }

    private static int RegNum(string xml, string name)
    {
        var regs = XDocument.Parse(xml).Descendants("reg").Select(e => (string)e.Attribute("name")!).ToList();
        int i = regs.IndexOf(name);
        Assert.True(i >= 0, $"register {name} missing");
        return i;
    }

    private static void End(RspClient c, StubSession session, GdbSessionEnd expected = GdbSessionEnd.Detached)
    {
        if (expected == GdbSessionEnd.Detached) Assert.Equal("OK", c.Ask("D"));
        c.Dispose();
        Assert.Equal(expected, session.End());
    }

    [Fact]
    public void TargetDescriptionHasTheRegistersGdbRequiresForX86_64()
    {
        var m = LoopMachine();
        var (c, s) = Attach(m);
        string xml = TargetXml(c);
        var doc = XDocument.Parse(xml);
        Assert.Equal("i386:x86-64", doc.Root!.Element("architecture")!.Value);
        var core = doc.Descendants("feature").Single(f => (string)f.Attribute("name")! == "org.gnu.gdb.i386.core");
        string[] required = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
            "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7",
            "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"];
        Assert.Equal(required, core.Elements("reg").Select(e => (string)e.Attribute("name")!).ToArray());
        var sse = doc.Descendants("feature").Single(f => (string)f.Attribute("name")! == "org.gnu.gdb.i386.sse");
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"xmm{i}").Append("mxcsr"), sse.Elements("reg").Select(e => (string)e.Attribute("name")!));
        // 'g' carries every register in order with its declared size.
        int bytes = doc.Descendants("reg").Sum(e => int.Parse((string)e.Attribute("bitsize")!, CultureInfo.InvariantCulture) / 8);
        Assert.Equal(bytes * 2, c.Ask("g").Length);
        End(c, s);
    }

    [Fact]
    public void RegistersReadAndWrite()
    {
        var m = LoopMachine();
        m.Cpu[Gpr.R13] = 0x1122334455667788;
        m.Cpu.SetXmm(5, (UInt128.One << 100) | 0xABCD);
        var (c, s) = Attach(m);
        string xml = TargetXml(c);
        Assert.Equal(0x1000UL, Reg(c, RegNum(xml, "rip")));
        Assert.Equal(0x1122334455667788UL, Reg(c, RegNum(xml, "r13")));
        string x5 = c.Ask($"p{RegNum(xml, "xmm5"):x}");
        Assert.Equal((UInt128.One << 100) | 0xABCD, new UInt128(BitConverter.ToUInt64(Convert.FromHexString(x5[16..])), BitConverter.ToUInt64(Convert.FromHexString(x5[..16]))));
        Assert.Equal("OK", c.Ask($"P{RegNum(xml, "rax"):x}=efbeadde00000000"));
        Assert.Equal(0xDEADBEEFUL, m.Cpu[Gpr.Rax]);
        // A segment selector cannot be loaded without its descriptor: a different value is refused.
        Assert.Equal("E01", c.Ask($"P{RegNum(xml, "cs"):x}=33000000"));
        // 'G' writes back what 'g' read: accepted, nothing changes.
        string all = c.Ask("g");
        Assert.Equal("OK", c.Ask("G" + all));
        Assert.Equal(0xDEADBEEFUL, m.Cpu[Gpr.Rax]);
        Assert.Equal("E01", c.Ask("p3ff"));
        End(c, s);
    }

    [Fact]
    public void BreakpointStopsBeforeTheInstructionAndContinueMakesProgress()
    {
        var m = LoopMachine();
        var (c, s) = Attach(m);
        Assert.Equal("OK", c.Ask("Z0,100b,1"));
        Assert.Equal("T05thread:1;swbreak:;", c.Ask("c"));
        Assert.Equal(0x100BUL, m.Cpu.Rip);
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
        Assert.Equal("T05thread:1;swbreak:;", c.Ask("c"));
        Assert.Equal(2UL, m.Cpu[Gpr.Rax]); // continuing from a breakpoint executes it first
        Assert.Equal("OK", c.Ask("z0,100b,1"));
        Assert.Equal("OK", c.Ask("Z1,1003,1"));
        Assert.Equal("T05thread:1;hwbreak:;", c.Ask("vCont;c"));
        Assert.Equal(0x1003UL, m.Cpu.Rip);
        End(c, s);
        Assert.Empty(m.Cpu.HostBreakpoints); // the session removes what it set
    }

    [Fact]
    public void SingleStepExecutesOneInstruction()
    {
        var m = LoopMachine();
        var (c, s) = Attach(m);
        Assert.Equal("T05thread:1;", c.Ask("s"));
        Assert.Equal(0x1003UL, m.Cpu.Rip);
        Assert.Equal("T05thread:1;", c.Ask("vCont;s:1"));
        Assert.Equal(0x100BUL, m.Cpu.Rip);
        Assert.Equal(2UL, m.Cpu.InstructionsRetired);
        End(c, s);
    }

    [Fact]
    public void WriteWatchpointStopsAfterTheStore()
    {
        var m = LoopMachine();
        var (c, s) = Attach(m);
        Assert.Equal("OK", c.Ask("Z2,2004,2"));
        Assert.Equal("T05thread:1;watch:2004;", c.Ask("c"));
        Assert.Equal(0x100BUL, m.Cpu.Rip); // the store at 0x1003 has retired
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(1UL, BitConverter.ToUInt64(m.ReadMemory(0x2000, 8)));
        Assert.Equal("OK", c.Ask("z2,2004,2"));
        // A read watchpoint on the same bytes never fires: the loop only writes them.
        Assert.Equal("OK", c.Ask("Z3,2000,8"));
        Assert.Equal("OK", c.Ask("Z0,1000,1"));
        Assert.Equal("T05thread:1;swbreak:;", c.Ask("c"));
        End(c, s);
    }

    [Fact]
    public void CtrlCInterruptsARunningGuest()
    {
        var m = LoopMachine();
        var (c, s) = Attach(m);
        c.SendRaw(RspClient.Frame("c"));
        Assert.Equal('+', (char)c.ReadByte());
        Thread.Sleep(200);
        c.SendRaw("\u0003");
        Assert.Equal("T02thread:1;", c.Reply());
        Assert.True(m.Cpu.InstructionsRetired > 0);
        Assert.Equal("T02thread:1;", c.Ask("?"));
        End(c, s);
    }

    [Fact]
    public void MemoryReadsAndWritesGoThroughPagingOrPhysicalAddresses()
    {
        var sys = new Sys();
        sys.EnterLong();
        // Map linear 0xFFFF_8000_0012_3000 to physical 0x15_6000 with a 4 KiB page (tables built here).
        ulong lin = 0xFFFF_8000_0012_3000;
        const ulong pdpt = 0x10_0000, pd = 0x10_1000, pt = 0x10_2000, page = 0x15_6000;
        sys.W64(Sys.Pml4 + ((lin >> 39) & 511) * 8, pdpt | 3);
        sys.W64(pdpt + ((lin >> 30) & 511) * 8, pd | 3);
        sys.W64(pd + ((lin >> 21) & 511) * 8, pt | 3);
        sys.W64(pt + ((lin >> 12) & 511) * 8, page | 3);
        sys.M.WriteMemory(page + 0x10, "vtx!"u8);
        var (c, s) = Attach(sys.M);
        Assert.Equal(Convert.ToHexStringLower("vtx!"u8), c.Ask($"m{lin + 0x10:x},4"));
        Assert.Equal(0UL, sys.R64(pt + ((lin >> 12) & 511) * 8) & 0x60); // no accessed/dirty flag was set
        Assert.Equal("OK", c.Ask($"M{lin + 0x20:x},2:beef"));
        Assert.Equal(new byte[] { 0xBE, 0xEF }, sys.M.ReadMemory(page + 0x20, 2));
        Assert.Equal("OK", c.Ask($"X{lin + 0x30:x},3:a}}]b")); // binary: '}' escapes ']' ^ 0x20 = '}'
        Assert.Equal("a}b"u8.ToArray(), sys.M.ReadMemory(page + 0x30, 3));
        Assert.Equal("E14", c.Ask($"m{lin + 0x1000:x},4"));               // next page unmapped
        Assert.Equal(8, c.Ask($"m{lin + 0xFFC:x},8").Length);                // a read running into it is cut short
        Assert.Equal("E14", c.Ask($"M{lin + 0xFFE:x},4:01020304"));         // a write that cannot complete...
        Assert.Equal(new byte[2], sys.M.ReadMemory(page + 0xFFE, 2));        // ...writes nothing
        Assert.Equal("E14", c.Ask("m800000000000,4"));                      // not canonical
        Assert.Equal("OK", c.Ask("qRcmd," + Convert.ToHexString("phys on"u8)));
        Assert.Equal(Convert.ToHexStringLower("vtx!"u8), c.Ask($"m{page + 0x10:x},4"));
        End(c, s);
    }

    [Fact]
    public void TryTranslateWalksLargePagesAndEveryLevelWithoutSideEffects()
    {
        var sys = new Sys(memoryMiB: 8);
        sys.EnterLong();
        var cpu = sys.Cpu;
        // 2 MiB page: linear 0x7FC0_0000_0000 + 0x1234 -> 0x60_0000 + 0x1234; 1 GiB page: 0x40_0000_0000 -> 0x4000_0000 (physical need not be RAM).
        const ulong pdpt = 0x10_0000, pd = 0x10_1000;
        ulong l2m = 0x7FC0_0000_0000UL, l1g = 0x40_0000_0000UL;
        sys.W64(Sys.Pml4 + ((l2m >> 39) & 511) * 8, pdpt | 3);
        sys.W64(pdpt + ((l2m >> 30) & 511) * 8, pd | 3);
        sys.W64(pd + ((l2m >> 21) & 511) * 8, 0x60_0000 | 0x83);
        sys.W64(Sys.Pml4 + ((l1g >> 39) & 511) * 8, 0x10_2000 | 3);
        sys.W64(0x10_2000 + ((l1g >> 30) & 511) * 8, 0x4000_0000 | 0x83);
        Assert.True(cpu.TryTranslate(l2m + 0x1234, out ulong pa) && pa == 0x60_1234);
        Assert.True(cpu.TryTranslate(l1g + 0x2345_6789, out pa) && pa == 0x6345_6789);
        Assert.False(cpu.TryTranslate(l2m + 0x20_0000, out _)); // the next PDE is not present
        Assert.Equal(0UL, sys.R64(pd + ((l2m >> 21) & 511) * 8) & 0x20);
        // Paging off: identity.
        var flat = new Machine(new MachineOptions { MemoryMiB = 1 });
        Assert.True(flat.Cpu.TryTranslate(0x1234_5678, out pa) && pa == 0x1234_5678);
    }

    [Fact]
    public void MonitorCommandsAndBreakOnVmExit()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.nop(); a.cpuid(); a.hlt(); });
        g.Cpu.Rip = Sys.Code; // the host's VMLAUNCH (the set-up run ended in HLT)
        g.Cpu.Resume();
        var (c, s) = Attach(g.S.M);
        Assert.Equal("OK", c.Ask("qRcmd," + Convert.ToHexString("vmx"u8)));
        Assert.True(c.Console.Any(l => l.Contains("root operation", StringComparison.Ordinal)), string.Join(" | ", c.Console));
        Assert.True(c.Console.Any(l => l.Contains($"current VMCS 0x{VmxGuest.VmcsRegion:x}", StringComparison.Ordinal)), string.Join(" | ", c.Console));
        c.Console.Clear();
        Assert.Equal("OK", c.Ask("qRcmd," + Convert.ToHexString("break-on-vmexit cpuid"u8)));
        Assert.True(c.Console.Any(l => l.Contains("reason 10 (Cpuid)", StringComparison.Ordinal)), string.Join(" | ", c.Console));
        c.Console.Clear();
        Assert.Equal("T05thread:1;", c.Ask("c"));
        Assert.True(c.Console.Any(l => l.Contains("VM exit, reason 10 (Cpuid)", StringComparison.Ordinal)), string.Join(" | ", c.Console));
        Assert.False(g.Cpu.InVmxNonRoot);
        Assert.Equal(VmxGuest.ExitStop, g.Cpu.Rip); // stopped at the host's first instruction after the exit
        c.Console.Clear();
        Assert.Equal("OK", c.Ask("qRcmd," + Convert.ToHexString("cycles"u8)));
        Assert.True(c.Console.Any(l => l.StartsWith($"cycles {g.Cpu.Cycles},", StringComparison.Ordinal)), string.Join(" | ", c.Console));
        c.Console.Clear();
        Assert.Equal("OK", c.Ask("qRcmd," + Convert.ToHexString("break-on-vmexit nonsense"u8)));
        Assert.True(c.Console.Any(l => l.Contains("unknown exit reason", StringComparison.Ordinal)), string.Join(" | ", c.Console));
        End(c, s);
    }

    [Fact]
    public void GarbageIsAnsweredAndADisconnectMidPacketEndsTheSession()
    {
        var m = LoopMachine();
        var (c, s) = Attach(m);
        c.SendRaw("$g#00");                                   // bad checksum: NAK
        Assert.Equal('-', (char)c.ReadByte());
        Assert.Equal("", c.Ask("qNoSuchThing"));             // unknown: the empty reply
        Assert.Equal("E01", c.Ask("mzz,4"));                 // malformed numbers
        Assert.Equal("E01", c.Ask("Z2,2000,0"));             // a zero-length watchpoint
        Assert.Equal("E01", c.Ask("G123"));                  // odd-length hex
        Assert.Equal("", c.Ask("Z9,1000,1"));                // unknown point type: unsupported
        c.SendRaw("$m1000,");                                // then vanish mid-packet
        c.Dispose();
        Assert.Equal(GdbSessionEnd.Disconnected, s.End());
    }

    [Fact]
    public void GuestExitEndsTheSessionWithItsCode()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2 });
        m.WriteMemory(0x1000, [0xB0, 0x07, 0xE6, 0xF4]); // mov al, 7; out 0xF4, al
        m.Cpu.Rip = 0x1000;
        var (c, s) = Attach(m);
        Assert.Equal($"W{(7 << 1) | 1:x2}", c.Ask("c"));
        End(c, s, GdbSessionEnd.Exited);
    }

    [Fact]
    public void HostBreakpointsAreInvisibleToTheGuest()
    {
        var m = LoopMachine();
        ulong dr7 = m.Cpu.GetDebugRegister(7);
        m.Cpu.AddHostBreakpoint(0x1003);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Breakpoint, r.Reason);
        Assert.Equal(0x1003UL, r.Rip);
        Assert.Equal(Loop, m.ReadMemory(0x1000, Loop.Length)); // no INT3 was written
        Assert.Equal(dr7, m.Cpu.GetDebugRegister(7));
        r = m.Run(RunLimits.Instructions(10));                // starts on the breakpoint: it executes
        Assert.Equal(StopReason.Breakpoint, r.Reason);
        Assert.Equal(3UL, r.Instructions);
        Assert.True(m.Cpu.RemoveHostBreakpoint(0x1003));
        Assert.False(m.Cpu.RemoveHostBreakpoint(0x1003));
        Assert.Equal(StopReason.InstructionLimit, m.Run(RunLimits.Instructions(30)).Reason);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Cpu.AddHostWatchpoint(0x2000, 0, WatchKind.Write));
    }

    [Fact]
    public void VtxRunWaitsForGdbAndRunsOnAfterDetach()
    {
        // A flat image: two NOPs, then mov al, 5; out 0xF4, al (exit code 11).
        string path = Path.Combine(Path.GetTempPath(), $"vtx-gdb-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, [0x90, 0x90, 0xB0, 0x05, 0xE6, 0xF4]);
        var probe = new TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        int code = -1;
        var diag = new StringWriter();
        var runner = new Thread(() => code = Vtx.Run.Runner.Run([path, "--flat", "0x1000", "--gdb", port.ToString(CultureInfo.InvariantCulture)], new StringWriter(), TextWriter.Synchronized(diag)));
        runner.Start();
        RspClient? c = null;
        for (int i = 0; i < 200 && c is null; i++)
        {
            try { c = new RspClient(port); }
            catch (SocketException) { Thread.Sleep(50); }
        }
        Assert.NotNull(c);
        Assert.Equal("T05thread:1;", c.Ask("s"));
        Assert.Equal("OK", c.Ask("D"));
        c.Dispose();
        Assert.True(runner.Join(20_000), "Vtx.Run did not finish");
        File.Delete(path);
        Assert.Equal((5 << 1) | 1, code);
        Assert.Contains($"waiting for gdb on 127.0.0.1:{port}", diag.ToString(), StringComparison.Ordinal);
    }
}
