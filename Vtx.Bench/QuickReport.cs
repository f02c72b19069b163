using System.Diagnostics;
using System.Globalization;
using Vtx.Tests.Native;

namespace Vtx.Bench;

/// <summary>
/// The <c>--short</c> mode: a self-timed report without BenchmarkDotNet (no separate build, no process per
/// benchmark). For each workload it checks Vtx against the native run, then times repeated calls for a fixed
/// budget and prints medians, guest MIPS, Vtx/native ratio and managed bytes allocated per Vtx run.
/// </summary>
public static class QuickReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(double secondsPerHost)
    {
        Console.WriteLine($"Vtx quick benchmark ({secondsPerHost.ToString("0.#", Inv)} s per workload and host; medians of single calls)");
        Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical CPUs, native runs: " +
                          (NativeExecutor.IsSupported ? "yes" : "no (" + NativeExecutor.UnsupportedReason + ")"));
        foreach (Workload w in Workloads.All)
            Console.WriteLine($"  {w.Name,-9} {w.Code.Length,4} bytes of code: {w.Description}");
        Console.WriteLine();
        Console.WriteLine("| Workload  | Guest insns/run | Vtx median | Guest MIPS | MIPS (best run) | Native median | Native MIPS | Vtx/native | Vtx bytes alloc/run |");
        Console.WriteLine("|-----------|----------------:|-----------:|-----------:|----------------:|--------------:|------------:|-----------:|--------------------:|");
        foreach (Workload w in Workloads.All)
        {
            ulong insns;
            try { insns = Validation.Check(w); }
            catch (InvalidOperationException e)
            {
                // A workload Vtx cannot run yet (or that disagrees with native) is reported, not timed.
                Console.WriteLine($"| {w.Name,-9} | not timed: {e.Message} |");
                continue;
            }

            var vtx = new VtxHost(w);
            vtx.Call(); // decode and JIT warm-up
            (double vtxNs, double vtxBestNs) = Time(() => vtx.Call(), secondsPerHost);
            // Steady state: measured after the timed calls, so the IL tier's one-time compiles of hot runs (which
            // allocate their DynamicMethods during the first calls) are not counted as per-run allocation.
            long alloc0 = GC.GetAllocatedBytesForCurrentThread();
            vtx.Call();
            long allocPerRun = GC.GetAllocatedBytesForCurrentThread() - alloc0;

            double nativeNs = double.NaN;
            if (NativeExecutor.IsSupported)
            {
                using var native = new NativeHost(w);
                native.Call();
                nativeNs = Time(() => native.Call(), secondsPerHost / 2).Median;
            }

            Console.WriteLine(string.Format(Inv,
                "| {0,-9} | {1,15:N0} | {2,10} | {3,10:N1} | {4,15:N1} | {5,13} | {6,11:N1} | {7,10:N1} | {8,19:N0} |",
                w.Name, insns, Format(vtxNs), insns * 1e3 / vtxNs, insns * 1e3 / vtxBestNs, Format(nativeNs), insns * 1e3 / nativeNs,
                vtxNs / nativeNs, allocPerRun));
        }
        Console.WriteLine();
        Console.WriteLine("Target from the issue: checksum loop >= 300 guest MIPS. Peers on this kind of machine: Bochs 2.7 ~93 MIPS,");
        Console.WriteLine("decode-every-time C interpreters ~60-67, QEMU (TCG JIT) ~2,200, native ~3,100.");
        return 0;
    }

    /// <summary>Runs workload <paramref name="name"/> in Vtx for about <paramref name="seconds"/> (a target for perf or a profiler).</summary>
    public static int Loop(string name, double seconds)
    {
        Workload w = Workloads.Find(name) ?? throw new ArgumentException($"unknown workload {name}; one of: {string.Join(", ", Workloads.All.Select(x => x.Name))}, ColdStart");
        var vtx = new VtxHost(w);
        var sw = Stopwatch.StartNew();
        ulong insns = 0;
        int runs = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            if (w == Workloads.ColdStart) vtx.InvalidateCode();
            vtx.Call();
            insns += vtx.LastRun.Instructions;
            runs++;
        }
        Console.WriteLine(string.Format(Inv, "{0}: {1} runs, {2:N0} guest instructions in {3:N2} s = {4:N1} MIPS",
            w.Name, runs, insns, sw.Elapsed.TotalSeconds, insns / sw.Elapsed.TotalSeconds / 1e6));
        return 0;
    }

    /// <summary>Times single calls of <paramref name="call"/> until <paramref name="seconds"/> have passed (at least 5); returns the median and minimum in ns.</summary>
    private static (double Median, double Min) Time(Action call, double seconds)
    {
        for (int i = 0; i < 3; i++) call();
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < 5 || (total.Elapsed.TotalSeconds < seconds && samples.Count < 100_000))
        {
            long t0 = Stopwatch.GetTimestamp();
            call();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
        }
        samples.Sort();
        return (samples[samples.Count / 2], samples[0]);
    }

    private static string Format(double ns) =>
        double.IsNaN(ns) ? "n/a"
        : ns >= 1e6 ? (ns / 1e6).ToString("N2", Inv) + " ms"
        : ns >= 1e3 ? (ns / 1e3).ToString("N2", Inv) + " us"
        : ns.ToString("N0", Inv) + " ns";
}
