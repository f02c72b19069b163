using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Vtx.Vmx;

namespace Vtx.Debugging;

/// <summary>How a gdb session ended.</summary>
public enum GdbSessionEnd
{
    /// <summary>The client detached ('D'): the machine is left as it is and may run on.</summary>
    Detached,
    /// <summary>The client asked to kill the target ('k').</summary>
    Killed,
    /// <summary>The connection closed (or the host cancelled the session) without a detach.</summary>
    Disconnected,
    /// <summary>The guest ended the run itself (debug-exit port); the client was told it exited.</summary>
    Exited,
}

/// <summary>
/// A gdb remote-serial-protocol stub for one <see cref="Machine"/>: the client (gdb, or any tool
/// speaking the protocol) reads and writes registers and memory, sets software/hardware breakpoints
/// and watchpoints, single-steps, continues, interrupts with Ctrl-C and runs <c>monitor</c> commands
/// for VMX. Breakpoints and watchpoints are the host's (<see cref="Cpu.AddHostBreakpoint"/>,
/// <see cref="Cpu.AddHostWatchpoint"/>): no guest byte or debug register changes, so the guest
/// cannot see the debugger. Memory is read through the current paging (guest tables, then EPT in
/// non-root operation) unless <c>monitor phys on</c> selects physical addresses. Each processor of
/// the machine is a thread (processor i is thread i + 1; <c>qfThreadInfo</c> lists them, <c>Hg</c>
/// selects whose registers and memory view the client sees, a stop reply names the processor that
/// stopped and makes it the selected one). Breakpoints and watchpoints apply to every processor;
/// continuing and stepping run the whole machine (a step retires one instruction on the processor
/// whose turn it is).
/// </summary>
/// <remarks>
/// Packets handled: qSupported, qXfer:features:read (target.xml), ?, g, G, p, P, m, M, X, c, s,
/// vCont (c, s, C, S), Z0-Z4 / z0-z4, H, T, qC, qfThreadInfo, qsThreadInfo, qAttached, qRcmd
/// (monitor), QStartNoAckMode, D, k; anything else gets the empty reply (unsupported), as the
/// protocol requires. Malformed packets get an error reply (E01..) or a '-' for a bad checksum;
/// nothing a client sends can throw out of <see cref="Serve(Stream, CancellationToken)"/>.
/// Monitor commands: <c>help</c>, <c>vmx</c>, <c>break-on-vmexit [reason|any|off]</c>,
/// <c>break-on-vmentry [on|off]</c>, <c>cycles</c>, <c>phys [on|off]</c>.
/// </remarks>
public sealed class GdbStub
{
    private const int MaxPacket = 0x4000;
    private readonly Machine _machine;
    private readonly IReadOnlyList<Cpu> _cpus;
    private Cpu _cpu;            // the selected thread (Hg), and the one that stopped last
    private int _stopThread = 1; // the thread a stop reply names (processor index + 1)
    private Stream _stream = Stream.Null;
    private readonly BlockingCollection<int> _input = new(new ConcurrentQueue<int>());
    private volatile bool _running;
    private bool _noAck, _swbreakReported, _physical;
    private readonly HashSet<ulong> _swBreakpoints = [], _hwBreakpoints = [];
    // What the session itself added to the processor (a breakpoint or watchpoint the host had already
    // set stays when the session ends).
    private readonly HashSet<(int Cpu, ulong Address)> _ownedBreakpoints = [];
    private readonly HashSet<(int Cpu, ulong Address, ulong Length, WatchKind Kind)> _ownedWatchpoints = [];
    private VmxExitReason? _breakOnExit;
    private bool _breakOnAnyExit, _breakOnEntry;
    private string? _vmxStopNote;
    private StopReply _lastStop = new(5, null);

    private readonly record struct StopReply(int Signal, string? Extra);

    /// <summary>Creates a stub for <paramref name="machine"/> (nothing is attached until <see cref="Serve(Stream, CancellationToken)"/>).</summary>
    public GdbStub(Machine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        _machine = machine;
        _cpu = machine.Cpu;
        _cpus = machine.Cpus;
    }

    /// <summary>Lines describing what the stub did (connections, monitor commands, stops); null for none.</summary>
    public TextWriter? Log { get; set; }

    /// <summary>
    /// Listens on the loopback address at <paramref name="port"/> (0: any free port), accepts one
    /// client and serves it until it detaches, kills or disconnects. <paramref name="listening"/> is
    /// called with the port once the socket listens (before the accept), e.g. to tell a user or a
    /// test where to connect.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not 0..65535.</exception>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public GdbSessionEnd ServeTcp(int port, Action<int>? listening = null, CancellationToken cancellation = default)
    {
        if (port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "a TCP port is 0..65535");
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start(1);
        try
        {
            int actual = ((IPEndPoint)listener.LocalEndpoint).Port;
            Log?.WriteLine($"gdb stub: listening on 127.0.0.1:{actual}");
            listening?.Invoke(actual);
            Socket socket;
            try { socket = listener.AcceptSocketAsync(cancellation).AsTask().GetAwaiter().GetResult(); }
            catch (OperationCanceledException) { return GdbSessionEnd.Disconnected; }
            using (socket)
            {
                socket.NoDelay = true;
                using var ns = new NetworkStream(socket, ownsSocket: false);
                Log?.WriteLine($"gdb stub: client connected from {socket.RemoteEndPoint}");
                return Serve(ns, cancellation);
            }
        }
        finally { listener.Stop(); }
    }

    /// <summary>
    /// Serves one client over <paramref name="stream"/> (a connected socket, a pipe, a test stream)
    /// until it detaches, kills, disconnects or <paramref name="cancellation"/> is cancelled. The
    /// processor runs on the calling thread; a reader thread watches the stream for Ctrl-C while it runs.
    /// Host breakpoints and watchpoints the session set are removed when it ends; those the host had set stay.
    /// </summary>
    public GdbSessionEnd Serve(Stream stream, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        var previous = new Action<VmxTransition>?[_cpus.Count];
        for (int i = 0; i < _cpus.Count; i++)
        {
            var before = previous[i] = _cpus[i].VmxTransitionObserved;
            _cpus[i].VmxTransitionObserved = t => { before?.Invoke(t); OnTransition(t); };
        }
        var reader = new Thread(() => ReadLoop(stream)) { IsBackground = true, Name = "gdb stub reader" };
        reader.Start();
        using var reg = cancellation.Register(() => { _input.Add(-1); if (_running) _machine.RequestStop(); });
        try
        {
            return Session(cancellation);
        }
        finally
        {
            for (int i = 0; i < _cpus.Count; i++) _cpus[i].VmxTransitionObserved = previous[i];
            foreach (var (c, a) in _ownedBreakpoints) _cpus[c].RemoveHostBreakpoint(a);
            foreach (var (c, a, n, k) in _ownedWatchpoints) _cpus[c].RemoveHostWatchpoint(a, n, k);
            _ownedBreakpoints.Clear();
            _ownedWatchpoints.Clear();
            _swBreakpoints.Clear();
            _hwBreakpoints.Clear();
        }
    }

    private void ReadLoop(Stream stream)
    {
        var buf = new byte[4096];
        try
        {
            while (true)
            {
                int n = stream.Read(buf, 0, buf.Length);
                if (n <= 0) break;
                for (int i = 0; i < n; i++)
                {
                    // Ctrl-C (an out-of-band 0x03) interrupts a running target at its next boundary,
                    // whose stop reply answers it; a stopped target answers it with a stop reply at once.
                    if (buf[i] == 0x03 && _running) { _machine.RequestStop(); continue; }
                    _input.Add(buf[i]);
                }
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        catch (InvalidOperationException) { } // the collection completed: the session is over
        try { _input.Add(-1); } catch (InvalidOperationException) { }
    }

    private int Next()
    {
        try { return _input.Take(); }
        catch (InvalidOperationException) { return -1; }
    }

    /// <summary>Reads the next packet's payload; null at end of stream. Handles acks, Ctrl-C and bad checksums.</summary>
    private string? ReadPacket(out bool interrupt)
    {
        interrupt = false;
        while (true)
        {
            int c = Next();
            if (c < 0) return null;
            if (c == 0x03) { interrupt = true; return ""; }
            if (c != '$') continue; // acks ('+'/'-') and noise between packets
            var sb = new StringBuilder();
            bool tooLong = false;
            while (true)
            {
                c = Next();
                if (c < 0) return null;
                if (c == '#') break;
                if (sb.Length < MaxPacket * 2) sb.Append((char)c); else tooLong = true;
            }
            int h1 = Next(), h2 = Next();
            if (h1 < 0 || h2 < 0) return null;
            string payload = sb.ToString();
            bool ok = int.TryParse($"{(char)h1}{(char)h2}", NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int sum)
                      && sum == Checksum(payload) && !tooLong;
            if (!_noAck) Send(ok ? "+" : "-");
            if (ok) return payload;
        }
    }

    private static int Checksum(string s)
    {
        int sum = 0;
        foreach (char ch in s) sum += (byte)ch;
        return sum & 0xFF;
    }

    private void Send(string raw)
    {
        byte[] b = Encoding.Latin1.GetBytes(raw);
        try { _stream.Write(b, 0, b.Length); _stream.Flush(); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    private void Reply(string payload) => Send($"${payload}#{Checksum(payload):x2}");

    private GdbSessionEnd Session(CancellationToken cancellation)
    {
        while (!cancellation.IsCancellationRequested)
        {
            string? p = ReadPacket(out bool interrupt);
            if (p is null) return GdbSessionEnd.Disconnected;
            if (interrupt) { Reply(StopText(_lastStop = new StopReply(2, null))); continue; }
            if (p.Length == 0) { Reply(""); continue; }
            GdbSessionEnd? end;
            try { end = Handle(p); }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or IndexOutOfRangeException)
            {
                Log?.WriteLine($"gdb stub: malformed packet '{Abbrev(p)}': {e.Message}");
                Reply("E01");
                end = null;
            }
            if (end is not null) return end.Value;
        }
        return GdbSessionEnd.Disconnected;
    }

    private static string Abbrev(string p) => p.Length <= 40 ? p : p[..40] + "...";

    private GdbSessionEnd? Handle(string p)
    {
        switch (p[0])
        {
            case '?': Reply(StopText(_lastStop)); return null;
            case 'g': Reply(ReadAllRegisters()); return null;
            case 'G': Reply(WriteAllRegisters(p[1..]) ? "OK" : "E01"); return null;
            case 'p': Reply(ReadRegister(ParseHex(p[1..]))); return null;
            case 'P':
            {
                int eq = p.IndexOf('=');
                Reply(WriteRegister(ParseHex(p[1..eq]), p[(eq + 1)..]) ? "OK" : "E01");
                return null;
            }
            case 'm': Reply(ReadMemoryPacket(p[1..])); return null;
            case 'M': Reply(WriteMemoryPacket(p[1..], binary: false)); return null;
            case 'X': Reply(WriteMemoryPacket(p[1..], binary: true)); return null;
            case 'c': return Resume(step: false, p.Length > 1 ? ParseHex(p[1..]) : null);
            case 's': return Resume(step: true, p.Length > 1 ? ParseHex(p[1..]) : null);
            case 'Z': Reply(SetPoint(p[1..], insert: true)); return null;
            case 'z': Reply(SetPoint(p[1..], insert: false)); return null;
            case 'H': Reply(SelectThread(p)); return null;
            case 'T': Reply(ThreadOf(p[1..]) is int t && t >= 1 ? "OK" : "E01"); return null;
            case 'D':
                Reply("OK");
                Log?.WriteLine("gdb stub: client detached");
                return GdbSessionEnd.Detached;
            case 'k':
                Log?.WriteLine("gdb stub: client killed the target");
                return GdbSessionEnd.Killed;
            case 'q': Reply(Query(p)); return null;
            case 'Q':
                if (p == "QStartNoAckMode") { Reply("OK"); _noAck = true; return null; }
                Reply("");
                return null;
            case 'v':
                if (p == "vCont?") { Reply("vCont;c;C;s;S"); return null; }
                if (p.StartsWith("vCont;", StringComparison.Ordinal))
                {
                    // The first action names what the machine does (all processors run together).
                    string action = p[6..].Split(';')[0];
                    char kind = action.Length > 0 ? action[0] : 'c';
                    return kind is 's' or 'S' ? Resume(step: true, null) : kind is 'c' or 'C' ? Resume(step: false, null) : Error();
                }
                Reply("");
                return null;
            default: Reply(""); return null;
        }
    }

    private GdbSessionEnd? Error()
    {
        Reply("E01");
        return null;
    }

    private string Query(string p)
    {
        if (p.StartsWith("qSupported", StringComparison.Ordinal))
        {
            _swbreakReported = p.Contains("swbreak+", StringComparison.Ordinal);
            return $"PacketSize={MaxPacket:x};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+";
        }
        if (p.StartsWith("qXfer:features:read:", StringComparison.Ordinal))
        {
            string[] parts = p["qXfer:features:read:".Length..].Split(':');
            if (parts.Length != 2 || parts[0] != "target.xml") return "E00";
            string[] range = parts[1].Split(',');
            int offset = ParseHex(range[0]), length = ParseHex(range[1]);
            string xml = GdbRegisters.TargetXml();
            if (offset >= xml.Length) return "l";
            string chunk = xml.Substring(offset, Math.Min(length, xml.Length - offset));
            return (offset + chunk.Length >= xml.Length ? "l" : "m") + Escape(chunk);
        }
        switch (p)
        {
            case "qC": return $"QC{Index(_cpu) + 1:x}";
            case "qfThreadInfo": return "m" + string.Join(",", Enumerable.Range(1, _cpus.Count).Select(i => i.ToString("x")));
            case "qsThreadInfo": return "l";
            case "qAttached": return "1";
        }
        if (p.StartsWith("qThreadExtraInfo,", StringComparison.Ordinal))
        {
            if (ThreadOf(p["qThreadExtraInfo,".Length..]) is not int t || t < 1) return "E01";
            var c = _cpus[t - 1];
            string info = $"CPU {t - 1}, APIC ID {c.Apic.Id}{(c.IsBootstrapProcessor ? ", BSP" : "")}{(c.IsWaitingForSipi ? ", wait-for-SIPI" : c.IsHalted ? ", halted" : "")}";
            return Convert.ToHexString(Encoding.Latin1.GetBytes(info));
        }
        if (p.StartsWith("qRcmd,", StringComparison.Ordinal))
        {
            string command = Encoding.Latin1.GetString(Convert.FromHexString(p[6..]));
            foreach (string line in Monitor(command.Trim()))
                Reply("O" + Convert.ToHexString(Encoding.Latin1.GetBytes(line + "\n")));
            return "OK";
        }
        return "";
    }

    /// <summary>Escapes the characters the protocol reserves in binary data ('#', '$', '}', '*').</summary>
    private static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char ch in s)
        {
            if (ch is '#' or '$' or '}' or '*') sb.Append('}').Append((char)(ch ^ 0x20));
            else sb.Append(ch);
        }
        return sb.ToString();
    }

    private static int ParseHex(string s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    private static ulong ParseHex64(string s) => ulong.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    // ---------------------------------------------------------------- registers

    private string ReadAllRegisters()
    {
        var sb = new StringBuilder();
        Span<byte> b = stackalloc byte[16];
        foreach (var r in GdbRegisters.All)
        {
            r.Read(_cpu, b[..r.Bytes]);
            sb.Append(Convert.ToHexStringLower(b[..r.Bytes]));
        }
        return sb.ToString();
    }

    private bool WriteAllRegisters(string hex)
    {
        byte[] data = Convert.FromHexString(hex);
        int pos = 0;
        bool ok = true;
        foreach (var r in GdbRegisters.All)
        {
            if (pos + r.Bytes > data.Length) break; // a shorter 'G' leaves the rest unchanged
            ok &= r.Write(_cpu, data.AsSpan(pos, r.Bytes));
            pos += r.Bytes;
        }
        return ok;
    }

    private string ReadRegister(int n)
    {
        if ((uint)n >= (uint)GdbRegisters.All.Length) return "E01";
        var r = GdbRegisters.All[n];
        Span<byte> b = stackalloc byte[16];
        r.Read(_cpu, b[..r.Bytes]);
        return Convert.ToHexStringLower(b[..r.Bytes]);
    }

    private bool WriteRegister(int n, string hex)
    {
        if ((uint)n >= (uint)GdbRegisters.All.Length) return false;
        var r = GdbRegisters.All[n];
        byte[] data = Convert.FromHexString(hex);
        return data.Length == r.Bytes && r.Write(_cpu, data);
    }

    // ---------------------------------------------------------------- memory

    /// <summary>Physical address of <paramref name="address"/> as the session addresses memory (linear through paging, or physical).</summary>
    private bool Locate(ulong address, out ulong physical)
    {
        if (_physical) { physical = address; return true; }
        return _cpu.TryTranslate(address, out physical);
    }

    private string ReadMemoryPacket(string args)
    {
        string[] a = args.Split(',');
        ulong address = ParseHex64(a[0]);
        int length = Math.Min(ParseHex(a[1]), MaxPacket / 2 - 8);
        var data = new byte[length];
        int done = 0;
        while (done < length)
        {
            ulong at = address + (ulong)done;
            int chunk = (int)Math.Min((ulong)(length - done), 0x1000 - (at & 0xFFF));
            if (!Locate(at, out ulong pa) || !_machine.Memory.IsRam(pa, (ulong)chunk)) break;
            _machine.Memory.Read(pa, data.AsSpan(done, chunk));
            done += chunk;
        }
        // A read that starts on an unmapped page fails; one that runs into one returns what was read.
        return done == 0 && length != 0 ? "E14" : Convert.ToHexStringLower(data.AsSpan(0, done));
    }

    private string WriteMemoryPacket(string args, bool binary)
    {
        int colon = args.IndexOf(':');
        if (colon < 0) return "E01";
        string[] a = args[..colon].Split(',');
        ulong address = ParseHex64(a[0]);
        int length = ParseHex(a[1]);
        byte[] data = binary ? Unescape(args[(colon + 1)..]) : Convert.FromHexString(args[(colon + 1)..]);
        if (data.Length != length) return "E01";
        // Every page is located before anything is written: a write that cannot complete writes nothing.
        var pieces = new List<(ulong Pa, int Offset, int Length)>();
        int done = 0;
        while (done < length)
        {
            ulong at = address + (ulong)done;
            int chunk = (int)Math.Min((ulong)(length - done), 0x1000 - (at & 0xFFF));
            if (!Locate(at, out ulong pa) || !_machine.Memory.IsRam(pa, (ulong)chunk)) return "E14";
            pieces.Add((pa, done, chunk));
            done += chunk;
        }
        foreach (var (pa, offset, len) in pieces) _machine.Memory.Write(pa, data.AsSpan(offset, len));
        return "OK";
    }

    private static byte[] Unescape(string s)
    {
        var bytes = new List<byte>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '}' && i + 1 < s.Length) bytes.Add((byte)(s[++i] ^ 0x20));
            else bytes.Add((byte)s[i]);
        }
        return [.. bytes];
    }

    // ---------------------------------------------------------------- breakpoints and watchpoints

    private string SetPoint(string args, bool insert)
    {
        string[] a = args.Split(',');
        if (a.Length < 3) return "E01";
        int type = ParseHex(a[0]);
        ulong address = ParseHex64(a[1]);
        ulong kind = ParseHex64(a[2].Split(';')[0]);
        switch (type)
        {
            case 0 or 1:
            {
                var set = type == 0 ? _swBreakpoints : _hwBreakpoints;
                if (insert)
                {
                    if (set.Add(address))
                        for (int i = 0; i < _cpus.Count; i++)
                            if (_cpus[i].AddHostBreakpoint(address)) _ownedBreakpoints.Add((i, address));
                }
                else if (set.Remove(address) && !_swBreakpoints.Contains(address) && !_hwBreakpoints.Contains(address))
                {
                    for (int i = 0; i < _cpus.Count; i++)
                        if (_ownedBreakpoints.Remove((i, address))) _cpus[i].RemoveHostBreakpoint(address);
                }
                return "OK";
            }
            case 2 or 3 or 4:
            {
                if (kind == 0) return "E01";
                WatchKind wk = type switch { 2 => WatchKind.Write, 3 => WatchKind.Read, _ => WatchKind.Access };
                if (insert)
                {
                    for (int i = 0; i < _cpus.Count; i++)
                        if (_cpus[i].AddHostWatchpoint(address, kind, wk)) _ownedWatchpoints.Add((i, address, kind, wk));
                }
                else
                {
                    for (int i = 0; i < _cpus.Count; i++)
                        if (_ownedWatchpoints.Remove((i, address, kind, wk))) _cpus[i].RemoveHostWatchpoint(address, kind, wk);
                }
                return "OK";
            }
            default: return "";
        }
    }

    // ---------------------------------------------------------------- running

    private GdbSessionEnd? Resume(bool step, int? _)
    {
        RunResult r;
        _vmxStopNote = null;
        _running = true;
        try
        {
            r = _machine.Run(step ? RunLimits.Instructions(1) : default);
        }
        finally { _running = false; }
        // The processor that stopped becomes the selected thread, as gdb expects after a stop.
        if ((uint)r.CpuIndex < (uint)_cpus.Count) _cpu = _cpus[r.CpuIndex];
        _stopThread = Index(_cpu) + 1;
        string? note = null;
        StopReply stop;
        switch (r.Reason)
        {
            case StopReason.DebugExit:
                Reply($"W{(r.ExitCode ?? 0) & 0xFF:x2}");
                Log?.WriteLine($"gdb stub: guest exited with code {r.ExitCode}");
                return GdbSessionEnd.Exited;
            case StopReason.Breakpoint:
                stop = new StopReply(5, _swBreakpoints.Contains(r.Rip) && _swbreakReported ? "swbreak:;" : "hwbreak:;");
                break;
            case StopReason.Watchpoint when _cpu.LastWatchpoint is WatchpointHit w:
                string key = w.Kind switch { WatchKind.Write => "watch", WatchKind.Read => "rwatch", _ => "awatch" };
                stop = new StopReply(5, $"{key}:{w.Address:x};");
                break;
            case StopReason.Cancelled when _vmxStopNote is not null:
                note = _vmxStopNote;
                stop = new StopReply(5, null);
                break;
            case StopReason.Cancelled:
                stop = new StopReply(2, null); // SIGINT: interrupted by the client
                break;
            case StopReason.Exception when r.Fault is FaultInfo f:
                note = $"vtx: exception {f} at 0x{r.Rip:x}";
                stop = new StopReply(f.Vector switch
                {
                    ExceptionVector.DE => 8,   // SIGFPE
                    ExceptionVector.UD => 4,   // SIGILL
                    ExceptionVector.PF or ExceptionVector.GP or ExceptionVector.SS or ExceptionVector.NP => 11, // SIGSEGV
                    _ => 5,
                }, null);
                break;
            case StopReason.Halted:
                note = "vtx: the processor is halted and nothing can wake it";
                stop = new StopReply(5, null);
                break;
            case StopReason.Shutdown:
                note = "vtx: triple fault: the processor is in the shutdown state";
                stop = new StopReply(5, null);
                break;
            default:
                stop = new StopReply(5, null);
                break;
        }
        if (note is not null)
        {
            Log?.WriteLine("gdb stub: " + note);
            Reply("O" + Convert.ToHexString(Encoding.Latin1.GetBytes(note + "\n")));
        }
        _lastStop = stop;
        Reply(StopText(stop));
        return null;
    }

    private string StopText(StopReply s) => $"T{s.Signal:x2}thread:{_stopThread:x};{s.Extra}";

    private int Index(Cpu c)
    {
        for (int i = 0; i < _cpus.Count; i++) if (ReferenceEquals(_cpus[i], c)) return i;
        return 0;
    }

    /// <summary>A thread id of the protocol (hex, or p1.tid in multiprocess form): 1..N, 0 = any, -1 = all; null when malformed or unknown.</summary>
    private int? ThreadOf(string id)
    {
        if (id.StartsWith("p1.", StringComparison.Ordinal)) id = id[3..];
        if (id == "-1") return -1;
        if (id.Length is 0 or > 8 || !int.TryParse(id, System.Globalization.NumberStyles.HexNumber, null, out int t)) return null;
        return t <= _cpus.Count ? t : null;
    }

    /// <summary>Hg selects the thread whose registers and memory the client sees (0 / -1: keep the current one); Hc is accepted (the machine runs as a whole).</summary>
    private string SelectThread(string p)
    {
        if (p.Length < 2) return "E01";
        if (ThreadOf(p[2..]) is not int t) return "E01";
        if (p[1] == 'g' && t >= 1) _cpu = _cpus[t - 1];
        return p[1] is 'g' or 'c' ? "OK" : "E01";
    }

    private void OnTransition(VmxTransition t)
    {
        if (!_running) return;
        bool exit = t.Kind == VmxTransitionKind.Exit;
        if (exit && (_breakOnAnyExit || _breakOnExit == t.BasicReason))
        {
            _vmxStopNote = $"vtx: VM exit, reason {(int)t.BasicReason} ({t.BasicReason}), guest RIP 0x{t.GuestRip:x}, qualification 0x{t.Qualification:x}, cycle {t.Cycle}";
            _machine.RequestStop();
        }
        else if (!exit && _breakOnEntry)
        {
            _vmxStopNote = $"vtx: VM {(t.Kind == VmxTransitionKind.Entry ? "entry" : "entry failure")}, guest RIP 0x{t.GuestRip:x}, cycle {t.Cycle}";
            _machine.RequestStop();
        }
    }

    // ---------------------------------------------------------------- monitor

    private IEnumerable<string> Monitor(string command)
    {
        string[] words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string verb = words.Length > 0 ? words[0] : "help";
        string arg = words.Length > 1 ? words[1] : "";
        switch (verb)
        {
            case "vmx": return VmxSummary();
            case "cycles":
                return [$"cycles {_cpu.Cycles}, instructions retired {_cpu.InstructionsRetired}, cost model {_cpu.CostModel.Name}"];
            case "phys":
                if (arg is "on" or "off") _physical = arg == "on";
                return [$"memory addresses are {(_physical ? "physical" : "linear (through the current paging)")}"];
            case "break-on-vmentry":
                _breakOnEntry = arg != "off";
                return [_breakOnEntry ? "will stop after every VM entry (and failed entry)" : "will not stop on VM entries"];
            case "break-on-vmexit":
                if (arg is "" or "any") { _breakOnAnyExit = true; _breakOnExit = null; return ["will stop after every VM exit"]; }
                if (arg == "off") { _breakOnAnyExit = false; _breakOnExit = null; return ["will not stop on VM exits"]; }
                if (uint.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out uint n) && n <= 0xFFFF)
                    _breakOnExit = (VmxExitReason)n;
                else if (Enum.TryParse(arg, ignoreCase: true, out VmxExitReason named) && !int.TryParse(arg, out _))
                    _breakOnExit = named;
                else
                    return [$"unknown exit reason '{arg}': give a number or a name such as Cpuid, ExternalInterrupt, EptViolation"];
                _breakOnAnyExit = false;
                return [$"will stop after VM exits with reason {(int)_breakOnExit} ({_breakOnExit})"];
            default:
                return [
                    "Vtx monitor commands:",
                    "  vmx                              VMX mode and the current VMCS's main fields",
                    "  break-on-vmexit [reason|any|off]  stop after VM exits (reason: number or name)",
                    "  break-on-vmentry [on|off]        stop after VM entries",
                    "  cycles                           cycle and instruction counts",
                    "  phys [on|off]                    memory packets use physical (on) or linear (off) addresses",
                ];
        }
    }

    private IEnumerable<string> VmxSummary()
    {
        if (!_cpu.InVmxOperation) { yield return "VMX: off (not in VMX operation)"; yield break; }
        yield return $"VMX: {(_cpu.InVmxNonRoot ? "non-root" : "root")} operation; VMXON region 0x{_cpu.VmxonPointer:x}";
        Vmcs? v = _cpu.CurrentVmcs;
        if (v is null) { yield return "current VMCS: none"; yield break; }
        yield return $"current VMCS 0x{v.Address:x} ({(v.Launched ? "launched" : "clear")})";
        (string, VmcsField)[] fields =
        [
            ("pin-based controls", VmcsField.PinBasedVmExecControls),
            ("primary processor-based controls", VmcsField.PrimaryProcBasedVmExecControls),
            ("secondary processor-based controls", VmcsField.SecondaryProcBasedVmExecControls),
            ("VM-exit controls", VmcsField.VmExitControls),
            ("VM-entry controls", VmcsField.VmEntryControls),
            ("exit reason", VmcsField.ExitReason),
            ("exit qualification", VmcsField.ExitQualification),
            ("guest RIP", VmcsField.GuestRip),
            ("guest RSP", VmcsField.GuestRsp),
            ("guest RFLAGS", VmcsField.GuestRflags),
            ("guest CR0", VmcsField.GuestCr0),
            ("guest CR3", VmcsField.GuestCr3),
            ("guest CR4", VmcsField.GuestCr4),
            ("guest interruptibility", VmcsField.GuestInterruptibilityState),
            ("guest activity state", VmcsField.GuestActivityState),
            ("host RIP", VmcsField.HostRip),
        ];
        foreach (var (name, field) in fields)
            yield return $"  {name,-36} 0x{v.Read(field):x}";
    }
}
