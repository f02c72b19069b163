using Vtx.Loaders;

namespace Vtx.Run;

/// <summary>
/// Command-line runner: boots a multiboot, ELF, Linux or flat image on a Vtx machine, streams the
/// guest's serial output, and exits with the guest's debug-exit code (see <see cref="ExitCodes"/>).
/// </summary>
public static class Runner
{
    /// <summary>The short usage line printed after usage errors.</summary>
    public const string UsageLine = "usage: Vtx.Run <image> [options]    (Vtx.Run --help lists the options and exit statuses)";

    /// <summary>The program: runs <paramref name="args"/> on the console; the exit status is listed in <see cref="ExitCodes"/>.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// Runs the command line <paramref name="args"/>, writing guest output (and --help) to
    /// <paramref name="output"/> and messages to <paramref name="diagnostics"/>. Never throws: a
    /// usage error is status 2 with a message naming the option and value, a host failure status 8.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter diagnostics)
    {
        RunnerCommand.Outcome parsed;
        try { parsed = new RunnerCommand().Parse(args); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // System.CommandLine reports every malformed input as a parse error; this is the backstop.
            diagnostics.WriteLine($"Vtx.Run: cannot parse the command line: {e.Message}");
            diagnostics.WriteLine(UsageLine);
            return ExitCodes.Usage;
        }
        if (parsed.Help is { } help)
        {
            RunnerCommand.WriteHelp(help, output);
            return 0;
        }
        if (parsed.Settings is not { } s)
        {
            foreach (string e in parsed.Errors) diagnostics.WriteLine($"Vtx.Run: {e}");
            diagnostics.WriteLine(UsageLine);
            return ExitCodes.Usage;
        }
        try { return Run(s, output, diagnostics); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The guest cannot raise a host exception (the library's rule); these are the host's
            // own failures: a trace file on a full disk, a closed output stream.
            try { output.Flush(); } catch (Exception f) when (f is IOException or ObjectDisposedException) { }
            diagnostics.WriteLine($"Vtx.Run: host error: {e.GetType().Name}: {e.Message}");
            return ExitCodes.HostError;
        }
    }

    /// <summary>Runs valid <paramref name="s"/>: loads the files, builds the machine, attaches the tools and runs.</summary>
    private static int Run(RunSettings s, TextWriter output, TextWriter diagnostics)
    {
        int Fail(string message)
        {
            diagnostics.WriteLine($"Vtx.Run: {message}");
            return ExitCodes.Usage;
        }

        if (!TryRead(s.ImagePath, out byte[] image, out string? why)) return Fail($"cannot read {s.ImagePath}: {why}");
        byte[]? initrd = null;
        if (s.InitrdPath is not null && !TryRead(s.InitrdPath, out initrd, out why)) return Fail($"--initrd: cannot read {s.InitrdPath}: {why}");
        var modules = new List<MultibootModule>(s.Modules.Count);
        foreach (var mod in s.Modules)
        {
            if (!TryRead(mod.Path, out byte[] data, out why)) return Fail($"--module: cannot read {mod.Path}: {why}");
            modules.Add(new MultibootModule(data, mod.ModuleString));
        }

        bool linux = s.Flat is null && IsBzImage(image);
        bool multiboot = s.Flat is null && !linux && HasMultibootMagic(image);
        if (initrd is not null && !linux) return Fail($"--initrd needs a Linux bzImage; {s.ImagePath} is not one");
        if (modules.Count > 0 && !multiboot) return Fail($"--module needs a multiboot kernel; {s.ImagePath} is not one");

        Machine m;
        var platform = linux || s.Pc ? MachinePlatform.Pc : MachinePlatform.Minimal;
        var model = new CpuModel { Timing = s.Timing, TscFrequencyHz = platform == MachinePlatform.Pc ? Devices.PcPlatform.DefaultTscHz : 0 };
        try { m = new Machine(new MachineOptions { MemoryMiB = s.RamMiB, Cpus = s.Cpus, Platform = platform, CpuModel = model }); }
        catch (OutOfMemoryException)
        {
            return Fail($"--ram {s.RamMiB}: the host cannot allocate {s.RamMiB} MiB of guest RAM");
        }
        m.Uart.OutputWriter = output;
        try
        {
            if (s.Flat is ulong at)
            {
                m.LoadFlat(image, at);
                m.LoadMultibootState(new MultibootEntryState { Eip = (uint)at, Ebx = 0 });
            }
            else if (linux)
            {
                var lx = m.LoadLinux(image, new LinuxBootOptions { CommandLine = s.CommandLine, Initrd = initrd });
                diagnostics.WriteLine($"Vtx.Run: Linux bzImage (boot protocol {lx.ProtocolVersion >> 8}.{lx.ProtocolVersion & 0xFF:D2}), loaded at 0x{lx.LoadAddress:X}, 64-bit entry 0x{lx.Entry64:X}" +
                                      (initrd is null ? "" : $", initrd at 0x{lx.Initrd.Start:X} ({lx.Initrd.Length} bytes)"));
            }
            else if (multiboot)
            {
                var mb = m.LoadMultiboot(image, new MultibootOptions { KernelName = Path.GetFileName(s.ImagePath), Arguments = s.CommandLine, Modules = modules });
                diagnostics.WriteLine($"Vtx.Run: multiboot kernel, entry 0x{mb.Entry:X}, command line \"{mb.CommandLine}\"");
                foreach (var lm in mb.Modules)
                    diagnostics.WriteLine($"Vtx.Run: module at 0x{lm.Start:X}-0x{lm.End:X} \"{lm.CommandLine}\"");
            }
            else
            {
                var elf = m.LoadElf(image);
                diagnostics.WriteLine($"Vtx.Run: ELF{(elf.Class == ElfClass.Elf64 ? 64 : 32)} image, entry 0x{elf.PhysicalEntry:X}");
            }
        }
        catch (Exception e) when (e is InvalidImageException or ArgumentException)
        {
            return Fail($"{s.ImagePath}: {e.Message}");
        }

        bool smp = m.Cpus.Count > 1;
        if (s.TraceEvents)
            for (int i = 0; i < m.Cpus.Count; i++)
            {
                var cpu = m.Cpus[i];
                string who = smp ? $"cpu {i} " : "";
                cpu.EventDelivered = (vector, kind, error) =>
                    diagnostics.WriteLine($"  [{who}cycle {cpu.Cycles,10}] {kind} vector {vector}{(error is uint e ? $" error 0x{e:X}" : "")} rip=0x{cpu.Rip:X}");
            }

        StreamWriter? vmxFile = null;
        if (s.VmxTrace is { } vmxTrace)
        {
            try
            {
                TextWriter sink = vmxTrace == "-" ? diagnostics : vmxFile = new StreamWriter(vmxTrace);
                if (!smp) _ = new Vmx.VmxTraceWriter(m.Cpu, sink);
                else
                    for (int i = 0; i < m.Cpus.Count; i++)
                    {
                        // The same JSON object with the processor's index first.
                        string head = $"{{\"cpu\":{i},";
                        var previous = m.Cpus[i].VmxTransitionObserved;
                        m.Cpus[i].VmxTransitionObserved = t => { previous?.Invoke(t); sink.WriteLine(head + t.ToJson()[1..]); };
                    }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return Fail($"--vmx-trace {vmxTrace}: cannot write: {e.Message}");
            }
        }
        using var closeVmx = vmxFile;
        Tracing.TimelineRecorder? recorder = null;
        if (s.Timeline is { } timeline)
        {
            try { recorder = Tracing.TimelineRecorder.ToFile(timeline, $"Vtx.Run {Path.GetFileName(s.ImagePath)}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return Fail($"--timeline {timeline}: cannot write: {e.Message}");
            }
            for (int i = 0; i < m.Cpus.Count; i++) recorder.Attach(m.Cpus[i], i);
        }
        using var closeTimeline = recorder;
        if (s.GdbPort is int port)
        {
            var stub = new Debugging.GdbStub(m) { Log = diagnostics };
            Debugging.GdbSessionEnd end;
            try { end = stub.ServeTcp(port, p => diagnostics.WriteLine($"Vtx.Run: waiting for gdb on 127.0.0.1:{p} (gdb: target remote :{p})")); }
            catch (System.Net.Sockets.SocketException e)
            {
                return Fail($"--gdb {port}: cannot listen: {e.Message}");
            }
            if (end == Debugging.GdbSessionEnd.Killed) { output.Flush(); diagnostics.WriteLine("Vtx.Run: killed from gdb"); return ExitCodes.KilledFromGdb; }
            if (end == Debugging.GdbSessionEnd.Exited) { output.Flush(); return m.DebugExit.ExitCode ?? ExitCodes.PowerOff; }
        }
        RunResult r;
        using (ProgressLine.Start(m.Cpus, diagnostics))
            r = m.Run(new RunLimits { MaxInstructions = s.MaxInstructions, MaxCycles = s.MaxCycles });
        vmxFile?.Flush();
        recorder?.Dispose();
        output.Flush();
        diagnostics.WriteLine($"Vtx.Run: {r}{(smp ? $" (cpu {r.CpuIndex})" : "")}");
        return r.Reason switch
        {
            StopReason.DebugExit => r.ExitCode ?? 0,
            StopReason.Halted => ExitCodes.Halted,
            StopReason.Shutdown => ExitCodes.Shutdown,
            StopReason.InstructionLimit or StopReason.CycleLimit => ExitCodes.Limit,
            StopReason.PowerOff => ExitCodes.PowerOff,
            StopReason.Reset => ExitCodes.Reset,
            _ => ExitCodes.Usage,
        };
    }

    /// <summary>Reads a whole file; false with the reason for a missing, unreadable or invalid path (a directory, say).</summary>
    private static bool TryRead(string path, out byte[] data, out string? why)
    {
        try
        {
            data = File.ReadAllBytes(path);
            why = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or System.Security.SecurityException)
        {
            data = [];
            why = e.Message;
            return false;
        }
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
}
