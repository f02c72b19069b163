using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Vtx.Tests.Native;

namespace Vtx.Bench;

/// <summary>
/// <c>--peers [rounds]</c> (issue 13, "Peers side by side"): the flat workloads on the same code bytes
/// with the same inputs, in one window, under native execution, Vtx, QEMU's TCG (system emulation of
/// the <see cref="PeerImage"/> multiboot image, whole process, boot cost subtracted) and Unicorn
/// (libunicorn2 through P/Invoke, optional); every result is checked against the native/host result.
/// Prints one markdown table with the machine line and the commands.
/// </summary>
public static class Peers
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Guest instructions each timed QEMU run of an integer workload executes (iterations = this / instructions per call), ~0.5-2 s of TCG; a tenth for the floating-point ones.</summary>
    private const double QemuGuestInstructions = 1.5e9;

    /// <summary>Seconds of single-call timing per in-process host, per round.</summary>
    private const double SecondsPerHost = 1.0;

    private sealed class Row
    {
        public required Workload W;
        public ulong Insns, Result;
        public ulong Iterations;
        /// <summary>Per round: median wall and median thread-CPU ns of single calls.</summary>
        public readonly List<(double Wall, double Cpu)> Native = [], Vtx = [], Unicorn = [];
        /// <summary>Per round: whole-process wall and CPU seconds of the image running N calls and 0 calls.</summary>
        public readonly List<(double Wall, double Cpu)> QemuN = [], Qemu0 = [];
        public string? UnicornError, QemuError;
    }

    /// <summary><c>--peers-check</c>: only the image self-check in Vtx (no timing, no QEMU); 0 when every image computes the host's result.</summary>
    public static int CheckImages()
    {
        foreach (Workload w in Workloads.All)
        {
            ulong insns = Validation.Check(w);
            var vtx = new VtxHost(w);
            ulong r = vtx.Call();
            Console.WriteLine(SelfCheck(w, r, insns, vtx.Machine.ReadMemory(Layout.DataAddress, w.DataBytes)));
        }
        return 0;
    }

    /// <summary>
    /// Runs the image of <paramref name="w"/> for 1 and 2 iterations in Vtx's multiboot loader and checks the
    /// printed sums against <paramref name="result"/> and that one more iteration retires exactly the
    /// in-process call's instructions plus the wrapper loop's (the image runs the same code).
    /// </summary>
    private static string SelfCheck(Workload w, ulong result, ulong insns, ReadOnlySpan<byte> data)
    {
        var one = PeerImage.RunInVtx(PeerImage.Build(w, 1));
        var two = PeerImage.RunInVtx(PeerImage.Build(w, 2));
        foreach (var (run, n) in new[] { (one, 1UL), (two, 2UL) })
        {
            string expectedOutput = PeerImage.ExpectedOutput(result, n, data);
            if (run.Reason != StopReason.DebugExit || run.Output != expectedOutput)
                throw new InvalidOperationException($"{w.Name}: image x{n} in Vtx: {run.Reason}, output \"{run.Output.Trim()}\", expected \"{expectedOutput.Trim()}\"");
        }
        // The in-process count includes the trailing HLT the RET returns to; in the image the RET returns
        // into the wrapper loop instead.
        ulong delta = two.Instructions - one.Instructions, expected = insns - 1 + PeerImage.LoopInstructions;
        if (delta != expected)
            throw new InvalidOperationException($"{w.Name}: one more image iteration retires {delta:N0} instructions, expected {expected:N0}");
        return $"  {w.Name,-9} image in Vtx: result {result:x16}, data fold {PeerImage.DataChecksum(data):x16}: x1 and x2 correct, +{delta:N0} instructions per iteration (= one call without its HLT + {PeerImage.LoopInstructions} loop)";
    }

    /// <summary>Runs the table for <paramref name="rounds"/> rounds over <paramref name="only"/> (workload names; empty = all).</summary>
    public static int Run(int rounds, IReadOnlyCollection<string> only)
    {
        string qemu = HostProcess.EnsureQemu();
        bool haveUnicorn = UnicornHost.IsAvailable(install: true, out string unicornReason);
        string tmp = Path.Combine(Path.GetTempPath(), "vtx-peers");
        Directory.CreateDirectory(tmp);

        Console.WriteLine($"Peers side by side: {rounds} round(s); in-process hosts: median of single calls, {SecondsPerHost.ToString("0.#", Inv)} s per host and round;");
        Console.WriteLine($"QEMU: whole process, N iterations minus 0 iterations (boot), medians over the rounds, divided by N.");
        Console.WriteLine($"native: {(NativeExecutor.IsSupported ? "yes" : "no (" + NativeExecutor.UnsupportedReason + ")")}; " +
                          $"QEMU: {(qemu.Length > 0 ? QemuVersion(qemu) : "not installed")}; Unicorn: {(haveUnicorn ? "libunicorn " + UnicornHost.Version() : unicornReason)}");
        string machine = MachineLine();
        Console.WriteLine(machine);

        var rows = new List<Row>();
        foreach (Workload w in Workloads.All.Where(x => only.Count == 0 || only.Contains(x.Name)))
        {
            var row = new Row { W = w };
            var vtx = new VtxHost(w);
            byte[] dataAfter;
            try
            {
                row.Insns = Validation.Check(w);                // Vtx against native: RAX and data buffer, repeatable
                row.Result = vtx.Call();
                dataAfter = vtx.Machine.ReadMemory(Layout.DataAddress, w.DataBytes);
                Console.WriteLine(SelfCheck(w, row.Result, row.Insns, dataAfter));
            }
            catch (InvalidOperationException e)
            {
                // A workload Vtx gets wrong (or whose image does not compute the same) is reported, not timed.
                Console.WriteLine($"  {w.Name,-9} not timed: {e.Message}");
                continue;
            }
            rows.Add(row);
            // TCG's x87 and SSE go through soft-float helpers (tens of MIPS): fewer guest instructions there.
            double target = Workloads.FloatingPoint.Contains(w) ? QemuGuestInstructions / 10 : QemuGuestInstructions;
            row.Iterations = Math.Max(1, (ulong)Math.Round(target / row.Insns));

            string imageN = Path.Combine(tmp, $"{w.Name}-x{row.Iterations}.bin"), image0 = Path.Combine(tmp, $"{w.Name}-x0.bin");
            File.WriteAllBytes(imageN, PeerImage.Build(w, row.Iterations));
            File.WriteAllBytes(image0, PeerImage.Build(w, 0));

            UnicornHost? uc = null;
            if (haveUnicorn)
            {
                try
                {
                    uc = new UnicornHost(w);
                    ulong u = uc.Call();
                    if (u != row.Result) throw new InvalidOperationException($"returned 0x{u:X}, Vtx/native 0x{row.Result:X}");
                    if (w.DataBytes > 0 && !uc.ReadData().AsSpan().SequenceEqual(vtx.Machine.ReadMemory(Layout.DataAddress, w.DataBytes)))
                        throw new InvalidOperationException("data buffer differs from Vtx's after the run");
                }
                catch (InvalidOperationException e)
                {
                    row.UnicornError = e.Message;
                    uc?.Dispose();
                    uc = null;
                    Console.WriteLine($"  {w.Name,-9} Unicorn: {e.Message}");
                }
            }
            using NativeHost? native = NativeExecutor.IsSupported ? new NativeHost(w) : null;

            for (int round = 0; round < rounds; round++)
            {
                if (native is not null) row.Native.Add(Time(() => native.Call(), SecondsPerHost));
                row.Vtx.Add(Time(() => vtx.Call(), SecondsPerHost));
                if (uc is not null) row.Unicorn.Add(Time(() => uc.Call(), SecondsPerHost));
                if (qemu.Length > 0 && row.QemuError is null)
                {
                    try
                    {
                        row.Qemu0.Add(TimeProcess(qemu, QemuArgs(image0), PeerImage.ExpectedOutput(row.Result, 0, PeerImage.InitialData(w))));
                        row.QemuN.Add(TimeProcess(qemu, QemuArgs(imageN), PeerImage.ExpectedOutput(row.Result, row.Iterations, dataAfter)));
                    }
                    catch (InvalidOperationException e)
                    {
                        row.QemuError = e.Message;
                        Console.WriteLine($"  {w.Name,-9} QEMU: {e.Message}");
                    }
                }
                Console.WriteLine(string.Format(Inv, "  {0,-9} round {1} (wall / CPU): native {2}, Vtx {3}, Unicorn {4}, QEMU x{5} {6} / x0 {7}",
                    w.Name, round + 1, Last(row.Native), Last(row.Vtx), Last(row.Unicorn), row.Iterations,
                    row.QemuN.Count > 0 ? $"{Format(row.QemuN[^1].Wall * 1e9)} / {Format(row.QemuN[^1].Cpu * 1e9)}" : "n/a",
                    row.Qemu0.Count > 0 ? $"{Format(row.Qemu0[^1].Wall * 1e9)} / {Format(row.Qemu0[^1].Cpu * 1e9)}" : "n/a"));
            }
            uc?.Dispose();
        }

        Console.WriteLine();
        Console.WriteLine(machine);
        Console.WriteLine($"At the end: {MachineLine()}");
        Console.WriteLine();
        PrintTable(rows, cpu: true, qemu.Length > 0, haveUnicorn);
        Console.WriteLine();
        Console.WriteLine("Wall time, same runs:");
        Console.WriteLine();
        PrintTable(rows, cpu: false, qemu.Length > 0, haveUnicorn);
        Console.WriteLine();
        Console.WriteLine("Times per call: first table CPU time (thread CPU time of the call in process; QEMU: user + system of the process), second wall;");
        Console.WriteLine("medians over the rounds of each round's median. MIPS = guest instructions per call / time. Ratios are time ratios (Vtx / peer).");
        if (qemu.Length > 0)
        {
            Console.WriteLine("QEMU per call = (median whole-process time of the image running N calls - median of the same image running 0 calls) / N;");
            Console.WriteLine("the subtracted boot (QEMU start, SeaBIOS, multiboot load, page tables, exit) and the raw figures:");
            Console.WriteLine();
            Console.WriteLine("| Workload | N | N calls: wall / CPU | 0 calls: wall / CPU | per call: wall / CPU | Vtx/QEMU (CPU) |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            foreach (Row r in rows)
            {
                if (r.QemuN.Count == 0) continue;
                double qc = QemuPerCall(r, cpu: true);
                Console.WriteLine(string.Format(Inv, "| {0} | {1} | {2:F3} / {3:F3} s | {4:F3} / {5:F3} s | {6} / {7} | {8} |",
                    r.W.Name, r.Iterations, Median(r.QemuN.Select(x => x.Wall)), Median(r.QemuN.Select(x => x.Cpu)),
                    Median(r.Qemu0.Select(x => x.Wall)), Median(r.Qemu0.Select(x => x.Cpu)),
                    Format(QemuPerCall(r, cpu: false)), Format(qc), Ratio(Median(r.Vtx.Select(x => x.Cpu)), qc)));
            }
        }
        Console.WriteLine();
        Console.WriteLine("Commands:");
        Console.WriteLine("  dotnet run -c Release --project Vtx.Bench -- --peers " + rounds.ToString(Inv) + string.Concat(only.Select(o => " " + o)));
        if (qemu.Length > 0)
            Console.WriteLine($"  {qemu} {QemuArgs(Path.Combine(tmp, "NAME-xN.bin"))}   (exit status 1 = the guest's debug exit)");
        return 0;
    }

    private static void PrintTable(List<Row> rows, bool cpu, bool haveQemu, bool haveUnicorn)
    {
        Console.WriteLine($"| Workload | Guest insns/call | Native | Vtx | QEMU TCG | Unicorn | Vtx/native | Vtx/QEMU | Vtx/Unicorn |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Row r in rows)
        {
            double n = Median(r.Native.Select(x => cpu ? x.Cpu : x.Wall)), v = Median(r.Vtx.Select(x => cpu ? x.Cpu : x.Wall));
            double u = Median(r.Unicorn.Select(x => cpu ? x.Cpu : x.Wall)), q = QemuPerCall(r, cpu);
            string qCell = !haveQemu ? "not installed" : r.QemuError is not null ? "error (see log)" : Cell(q, r.Insns);
            string uCell = !haveUnicorn ? "not installed" : r.UnicornError is not null ? "error: " + r.UnicornError : Cell(u, r.Insns);
            Console.WriteLine(string.Format(Inv, "| {0} | {1:N0} | {2} | {3} | {4} | {5} | {6} | {7} | {8} |",
                r.W.Name, r.Insns, Cell(n, r.Insns), Cell(v, r.Insns), qCell, uCell, Ratio(v, n), Ratio(v, q), Ratio(v, u)));
        }
    }

    private static double QemuPerCall(Row r, bool cpu)
    {
        if (r.QemuN.Count == 0 || r.QemuError is not null) return double.NaN;
        double n = Median(r.QemuN.Select(x => cpu ? x.Cpu : x.Wall)), z = Median(r.Qemu0.Select(x => cpu ? x.Cpu : x.Wall));
        return (n - z) / r.Iterations * 1e9;
    }

    /// <summary>QEMU's command line for <paramref name="image"/>: TCG, -cpu max, debugcon on stdout, debug-exit at F4h.</summary>
    public static string QemuArgs(string image) =>
        $"-machine pc -accel tcg -cpu max -m {PeerImage.MemoryMiB} -display none -no-reboot -serial none -monitor none " +
        $"-debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel {image}";

    private static string Cell(double ns, ulong insns) =>
        double.IsNaN(ns) ? "n/a" : $"{Format(ns)} ({(insns * 1e3 / ns).ToString("N0", Inv)} MIPS)";

    private static string Ratio(double a, double b) => double.IsNaN(a) || double.IsNaN(b) || b <= 0 ? "—" : (a / b).ToString(a / b >= 10 ? "N0" : "N2", Inv);

    private static string Last(List<(double Wall, double Cpu)> l) => l.Count > 0 ? $"{Format(l[^1].Wall)} / {Format(l[^1].Cpu)}" : "n/a";

    /// <summary>
    /// Medians in ns of the wall time and the thread CPU time of single calls of <paramref name="call"/> over about
    /// <paramref name="seconds"/> (at least 5 calls, 3 warm-up calls first).
    /// </summary>
    private static (double Wall, double Cpu) Time(Func<ulong> call, double seconds)
    {
        for (int i = 0; i < 3; i++) call();
        var wall = new List<double>();
        var cpu = new List<double>();
        var total = Stopwatch.StartNew();
        while (wall.Count < 5 || (total.Elapsed.TotalSeconds < seconds && wall.Count < 100_000))
        {
            double c0 = ThreadCpuNs();
            long t0 = Stopwatch.GetTimestamp();
            call();
            wall.Add(Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
            cpu.Add(ThreadCpuNs() - c0);
        }
        return (Median(wall), Median(cpu));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Sec, Nsec;
    }

    [DllImport("libc")]
    private static extern int clock_gettime(int clock, out TimeSpec ts);

    /// <summary>This thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID); NaN off Linux.</summary>
    private static double ThreadCpuNs()
    {
        const int ClockThreadCpuTimeId = 3;
        if (!OperatingSystem.IsLinux() || clock_gettime(ClockThreadCpuTimeId, out TimeSpec t) != 0) return double.NaN;
        return t.Sec * 1e9 + t.Nsec;
    }

    private static double Median(IEnumerable<double> values) => HostProcess.Median(values);

    private static string Format(double ns) =>
        double.IsNaN(ns) ? "n/a"
        : ns >= 1e9 ? (ns / 1e9).ToString("N2", Inv) + " s"
        : ns >= 1e6 ? (ns / 1e6).ToString("N2", Inv) + " ms"
        : ns >= 1e3 ? (ns / 1e3).ToString("N2", Inv) + " us"
        : ns.ToString("N0", Inv) + " ns";

    /// <summary>nproc, CPU model, 1/5/15-minute load average and the UTC date.</summary>
    private static string MachineLine()
    {
        string model = "?";
        try
        {
            model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException) { }
        string load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
        return $"Machine: nproc {Environment.ProcessorCount}, \"{model}\", load average {load}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, .NET {Environment.Version}";
    }

    /// <summary>One QEMU process (<see cref="HostProcess.Time"/>): isa-debug-exit gives status (value &lt;&lt; 1) | 1 = 1.</summary>
    private static (double Wall, double Cpu) TimeProcess(string file, string args, string expected)
    {
        var (wall, cpu, _) = HostProcess.Time(file, args, expected, 1, "qemu");
        return (wall, cpu);
    }

    private static string QemuVersion(string qemu)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(qemu, "--version") { RedirectStandardOutput = true, UseShellExecute = false });
            string v = p?.StandardOutput.ReadLine() ?? "";
            p?.StandardOutput.ReadToEnd();
            p?.WaitForExit();
            return v.Replace("QEMU emulator version ", "qemu-system-x86_64 ", StringComparison.Ordinal);
        }
        catch (System.ComponentModel.Win32Exception) { return "qemu-system-x86_64"; }
    }
}
