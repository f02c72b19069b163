using System.Globalization;
using Vtx.Loaders;

namespace Vtx.Run;

/// <summary>
/// Command-line runner: boots a multiboot, ELF or flat image on a Vtx machine, streams the
/// guest's serial output, and exits with the guest's debug-exit code.
/// </summary>
public static class Runner
{
    public const string Usage =
        "usage: Vtx.Run <image> [--ram SIZE (MiB, or with M/G: 1 MiB-64 GiB, default 128)] [--max-instructions N] [--max-cycles N] [--flat ADDR]\n" +
        "               [--trace-events] [--vmx-trace FILE] [--cmdline \"args\"] [--initrd FILE] [--pc] [--cpus N (1-64)]\n" +
        "  Linux bzImages (64-bit boot protocol 2.12+) are detected and booted on the PC platform with\n" +
        "  --cmdline and --initrd; --pc gives other images the PC platform (I/O APIC, PIT, RTC, ACPI) too.\n" +
        "               [--gdb PORT] [--timeline FILE] [--timing skylake|haswell|simple]\n" +
        "  --timing picks the core whose cycles the clock counts (default skylake; simple = 1 per ALU op).\n" +
        "  On a terminal, runs longer than a second show a progress line on stderr (not when redirected).\n" +
        "  --vmx-trace writes every VM entry and exit as one JSON object per line (- = stderr).\n" +
        "  --timeline FILE writes the run's VM entries, exits and events: FILE.html is a page for a browser,\n" +
        "  any other name gets trace-event JSON for Perfetto (ui.perfetto.dev) or chrome://tracing.\n" +
        "  --gdb PORT waits for gdb on 127.0.0.1:PORT before the first instruction (gdb: target remote :PORT);\n" +
        "  after gdb detaches the run goes on with the limits; 'kill' from gdb ends it with status 7.\n" +
        "  Multiboot kernels and ELF files are detected; --flat ADDR loads a raw image at ADDR and\n" +
        "  enters it there in 32-bit flat protected mode.\n" +
        "exit status: the guest's debug-exit code ((v << 1) | 1 for a write of v to port 0xF4);\n" +
        "  2 usage or image error, 3 halted with nothing to wake it, 4 triple fault (shutdown),\n" +
        "  5 instruction or cycle limit reached, 0 ACPI power-off, 6 reset, 7 killed from gdb.";

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the command line <paramref name="args"/>, writing guest output to <paramref name="output"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter diagnostics)
    {
        string? path = null;
        int ram = 128;
        ulong? maxInstructions = 1_000_000_000, maxCycles = null, flat = null;
        bool trace = false;
        string? vmxTrace = null;
        string cmdline = "";
        int? gdbPort = null;
        string? timeline = null;
        Timing.TimingProfile? timing = null;
        string? initrdPath = null;
        bool pc = false;
        int cpus = 1;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
                switch (a)
                {
                    case "--ram": ram = ParseRam(Next()); break;
                    case "--max-instructions": maxInstructions = ParseNumber(a, Next()); break;
                    case "--max-cycles": maxCycles = ParseNumber(a, Next()); break;
                    case "--flat": flat = ParseNumber(a, Next()); break;
                    case "--trace-events": trace = true; break;
                    case "--vmx-trace": vmxTrace = Next(); break;
                    case "--cmdline": cmdline = Next(); break;
                    case "--gdb": gdbPort = ParsePort(Next()); break;
                    case "--timeline": timeline = Next(); break;
                    case "--timing" or "--cost-model":
                    {
                        string name = Next();
                        try { timing = Timing.TimingProfile.ByName(name); }
                        catch (ArgumentException) { throw new ArgumentException($"{a} '{name}': not a timing profile (skylake, haswell, simple)"); }
                        break;
                    }
                    case "--initrd": initrdPath = Next(); break;
                    case "--pc": pc = true; break;
                    case "--cpus":
                    {
                        string n = Next();
                        if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out cpus) || cpus is < 1 or > MachineOptions.MaxCpus)
                            throw new ArgumentException($"--cpus '{n}': not a processor count (1-{MachineOptions.MaxCpus})");
                        break;
                    }
                    case "-h" or "--help": output.WriteLine(Usage); return 0;
                    default:
                        if (a.StartsWith('-') || path is not null) throw new ArgumentException($"unexpected argument '{a}'");
                        path = a;
                        break;
                }
            }
            if (path is null) throw new ArgumentException("no image given");
        }
        catch (ArgumentException e)
        {
            diagnostics.WriteLine($"Vtx.Run: {e.Message}");
            diagnostics.WriteLine(Usage);
            return 2;
        }

        byte[] image;
        try { image = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            diagnostics.WriteLine($"Vtx.Run: cannot read {path}: {e.Message}");
            return 2;
        }

        byte[]? initrd = null;
        if (initrdPath is not null)
        {
            try { initrd = File.ReadAllBytes(initrdPath); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                diagnostics.WriteLine($"Vtx.Run: --initrd: cannot read {initrdPath}: {e.Message}");
                return 2;
            }
        }
        bool linux = flat is null && IsBzImage(image);
        if (initrd is not null && !linux)
        {
            diagnostics.WriteLine($"Vtx.Run: --initrd needs a Linux bzImage; {path} is not one");
            return 2;
        }

        Machine m;
        var platform = linux || pc ? MachinePlatform.Pc : MachinePlatform.Minimal;
        CpuModel? model = timing is null ? null
            : new CpuModel { Timing = timing, TscFrequencyHz = platform == MachinePlatform.Pc ? Devices.PcPlatform.DefaultTscHz : 0 };
        try { m = new Machine(new MachineOptions { MemoryMiB = ram, Platform = platform, CpuModel = model, Cpus = cpus }); }
        catch (OutOfMemoryException)
        {
            diagnostics.WriteLine($"Vtx.Run: --ram {ram}: the host cannot allocate {ram} MiB of guest RAM");
            return 2;
        }
        m.Uart.OutputWriter = output;
        try
        {
            if (flat is ulong at)
            {
                m.LoadFlat(image, at);
                var st = new MultibootEntryState { Eip = (uint)at, Ebx = 0 };
                m.LoadMultibootState(st);
            }
            else if (linux)
            {
                var lx = m.LoadLinux(image, new LinuxBootOptions { CommandLine = cmdline, Initrd = initrd });
                diagnostics.WriteLine($"Vtx.Run: Linux bzImage (boot protocol {lx.ProtocolVersion >> 8}.{lx.ProtocolVersion & 0xFF:D2}), loaded at 0x{lx.LoadAddress:X}, 64-bit entry 0x{lx.Entry64:X}" +
                                      (initrd is null ? "" : $", initrd at 0x{lx.Initrd.Start:X} ({lx.Initrd.Length} bytes)"));
            }
            else if (HasMultibootMagic(image))
            {
                var mb = m.LoadMultiboot(image, new MultibootOptions { KernelName = Path.GetFileName(path), Arguments = cmdline });
                diagnostics.WriteLine($"Vtx.Run: multiboot kernel, entry 0x{mb.Entry:X}, command line \"{mb.CommandLine}\"");
            }
            else
            {
                var elf = m.LoadElf(image);
                diagnostics.WriteLine($"Vtx.Run: ELF{(elf.Class == ElfClass.Elf64 ? 64 : 32)} image, entry 0x{elf.PhysicalEntry:X}");
            }
        }
        catch (Exception e) when (e is InvalidImageException or ArgumentException)
        {
            diagnostics.WriteLine($"Vtx.Run: {path}: {e.Message}");
            return 2;
        }

        if (trace)
            m.Cpu.EventDelivered = (vector, kind, error) =>
                diagnostics.WriteLine($"  [cycle {m.Cpu.Cycles,10}] {kind} vector {vector}{(error is uint e ? $" error 0x{e:X}" : "")} rip=0x{m.Cpu.Rip:X}");

        StreamWriter? vmxFile = null;
        if (vmxTrace is not null)
        {
            try
            {
                TextWriter sink = vmxTrace == "-" ? diagnostics : vmxFile = new StreamWriter(vmxTrace);
                _ = new Vmx.VmxTraceWriter(m.Cpu, sink);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                diagnostics.WriteLine($"Vtx.Run: --vmx-trace {vmxTrace}: cannot write: {e.Message}");
                return 2;
            }
        }
        Tracing.TimelineRecorder? recorder = null;
        if (timeline is not null)
        {
            try { recorder = Tracing.TimelineRecorder.ToFile(timeline, $"Vtx.Run {Path.GetFileName(path)}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                diagnostics.WriteLine($"Vtx.Run: --timeline {timeline}: cannot write: {e.Message}");
                return 2;
            }
            recorder.Attach(m.Cpu);
        }
        using var closeTimeline = recorder;
        if (gdbPort is int port)
        {
            var stub = new Debugging.GdbStub(m) { Log = diagnostics };
            Debugging.GdbSessionEnd end;
            try { end = stub.ServeTcp(port, p => diagnostics.WriteLine($"Vtx.Run: waiting for gdb on 127.0.0.1:{p} (gdb: target remote :{p})")); }
            catch (System.Net.Sockets.SocketException e)
            {
                diagnostics.WriteLine($"Vtx.Run: --gdb {port}: cannot listen: {e.Message}");
                return 2;
            }
            if (end == Debugging.GdbSessionEnd.Killed) { output.Flush(); diagnostics.WriteLine("Vtx.Run: killed from gdb"); return 7; }
            if (end == Debugging.GdbSessionEnd.Exited) { output.Flush(); return m.DebugExit.ExitCode ?? 0; }
        }
        RunResult r;
        using (ProgressLine.Start(m.Cpu, diagnostics))
            r = m.Run(new RunLimits { MaxInstructions = maxInstructions, MaxCycles = maxCycles });
        vmxFile?.Dispose();
        recorder?.Dispose();
        output.Flush();
        diagnostics.WriteLine($"Vtx.Run: {r}");
        return r.Reason switch
        {
            StopReason.DebugExit => r.ExitCode ?? 0,
            StopReason.Halted => 3,
            StopReason.Shutdown => 4,
            StopReason.InstructionLimit or StopReason.CycleLimit => 5,
            StopReason.PowerOff => 0,
            StopReason.Reset => 6,
            _ => 2,
        };
    }

    /// <summary>True when the image has the Linux boot sector flag (AA55h at 1FEh) and the "HdrS" setup header signature at 202h.</summary>
    private static bool IsBzImage(byte[] image) =>
        image.Length >= 0x206 && BitConverter.ToUInt16(image, 0x1FE) == 0xAA55 && BitConverter.ToUInt32(image, 0x202) == 0x53726448;

    /// <summary>True when the multiboot magic appears 4-byte aligned in the first 8 KiB (the loader then validates the header).</summary>
    private static bool HasMultibootMagic(byte[] image)
    {
        int end = Math.Min(image.Length, 8192) - 4;
        for (int i = 0; i <= end; i += 4)
            if (BitConverter.ToUInt32(image, i) == 0x1BADB002) return true;
        return false;
    }

    /// <summary>An unsigned decimal or 0x-prefixed hexadecimal number; anything else is a usage error naming the option and the value.</summary>
    private static ulong ParseNumber(string option, string s)
    {
        bool hex = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        bool ok = hex
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok) throw new ArgumentException($"{option} '{s}': not an unsigned decimal or 0x-prefixed hexadecimal number below 2^64");
        return v;
    }

    /// <summary>A TCP port for --gdb: 1 to 65535.</summary>
    private static int ParsePort(string s)
    {
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new ArgumentException($"--gdb '{s}': not a TCP port (1-65535)");
        return port;
    }

    /// <summary>The RAM size in MiB (a number of MiB, or a number with an M or G suffix): 1 to <see cref="MachineOptions.MaxMemoryMiB"/>.</summary>
    private static int ParseRam(string s)
    {
        long scale = 1;
        string n = s;
        if (s.Length > 1 && char.ToUpperInvariant(s[^1]) is 'G' or 'M')
        {
            scale = char.ToUpperInvariant(s[^1]) == 'G' ? 1024 : 1;
            n = s[..^1];
        }
        if (!long.TryParse(n, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) || v is < int.MinValue or > int.MaxValue)
            throw new ArgumentException($"--ram '{s}': not a whole number of MiB (or of MiB/GiB with an M/G suffix)");
        long big = v * scale;
        int mib = big is < int.MinValue or > int.MaxValue ? int.MaxValue : (int)big;
        if (mib is < 1 or > MachineOptions.MaxMemoryMiB)
            throw new ArgumentException($"--ram {mib}: RAM must be between 1 and {MachineOptions.MaxMemoryMiB} MiB");
        return mib;
    }
}

/// <summary>
/// A once-a-second progress line (instructions, MIPS, cycles, VM exits) on the terminal for runs
/// longer than a second; nothing when the diagnostics are not the console's standard error or it is
/// redirected. It only reads counters from a timer thread, so the run (and its results) are unchanged.
/// </summary>
public sealed class ProgressLine : IDisposable
{
    private readonly Cpu _cpu;
    private readonly TextWriter _w;
    private readonly Timer _timer;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly ulong _startInstructions;
    private readonly Action<Vmx.VmxTransition>? _previous;
    private long _exits;
    private bool _printed;

    private ProgressLine(Cpu cpu, TextWriter w)
    {
        _cpu = cpu;
        _w = w;
        _startInstructions = cpu.InstructionsRetired;
        _previous = cpu.VmxTransitionObserved;
        cpu.VmxTransitionObserved = t => { _previous?.Invoke(t); if (t.Kind == Vmx.VmxTransitionKind.Exit) Interlocked.Increment(ref _exits); };
        _timer = new Timer(_ => Print(), null, 1000, 1000);
    }

    /// <summary>A progress line for <paramref name="cpu"/>'s run, or null when <paramref name="diagnostics"/> is not an interactive terminal.</summary>
    public static ProgressLine? Start(Cpu cpu, TextWriter diagnostics) =>
        ReferenceEquals(diagnostics, Console.Error) && !Console.IsErrorRedirected ? new ProgressLine(cpu, diagnostics) : null;

    private void Print()
    {
        lock (_timer)
        {
            ulong n = _cpu.InstructionsRetired - _startInstructions;
            double mips = n / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9) / 1e6;
            _w.Write($"\r[Vtx.Run] {n:N0} instructions, {mips:N0} MIPS, {_cpu.Cycles:N0} cycles, {Interlocked.Read(ref _exits):N0} VM exits   ");
            _w.Flush();
            _printed = true;
        }
    }

    /// <summary>Stops the timer, ends the line and restores the VMX observer.</summary>
    public void Dispose()
    {
        _timer.Dispose(new ManualResetEvent(false)); // no callback starts after this
        lock (_timer) { if (_printed) _w.WriteLine(); }
        _cpu.VmxTransitionObserved = _previous;
    }
}
