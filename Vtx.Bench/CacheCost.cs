using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;

namespace Vtx.Bench;

/// <summary>
/// <c>cache-cost [seconds]</c>: the speed cost of the optional cache model (issue 10, <see cref="CpuModel.CacheTiming"/>).
/// For each integer workload, two machines (model off / on) are timed in alternating slices within the same
/// window, so load changes hit both alike; prints the median call time of each, the on/off ratio and the
/// guest cycles each reports (the model changes cycles, not results).
/// </summary>
public static class CacheCost
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        double seconds = args.Length > 1 && double.TryParse(args[1], NumberStyles.Float, Inv, out double s) && s > 0 ? s : 2;
        Console.WriteLine($"Optional cache model: speed cost (same window, alternating slices, {seconds.ToString("0.#", Inv)} s per workload)");
        Console.WriteLine("| Workload | Guest insns/run | Off median | On median | On/off time | Off MIPS | On MIPS | Guest cycles off | Guest cycles on |");
        Console.WriteLine("|----------|----------------:|-----------:|----------:|------------:|---------:|--------:|-----------------:|----------------:|");
        foreach (Workload w in Workloads.Integer)
        {
            var off = new VtxHost(w, new CpuModel { CacheTiming = false });
            var on = new VtxHost(w, new CpuModel { CacheTiming = true });
            if (off.Call() != on.Call()) throw new InvalidOperationException($"{w.Name}: the cache model changed the result");
            var toff = new List<double>();
            var ton = new List<double>();
            var budget = Stopwatch.StartNew();
            while (budget.Elapsed.TotalSeconds < seconds)
            {
                toff.Add(Time(off));
                ton.Add(Time(on));
            }
            double mo = Median(toff), mn = Median(ton);
            ulong insns = off.LastRun.Instructions;
            Console.WriteLine($"| {w.Name,-8} | {insns,15:N0} | {mo * 1e3,8:0.000} ms | {mn * 1e3,7:0.000} ms | {mn / mo,10:0.00}x | {insns / mo / 1e6,8:0.0} | {insns / mn / 1e6,7:0.0} | {off.LastRun.Cycles,16:N0} | {on.LastRun.Cycles,15:N0} |");
        }
        return 0;
    }

    private static double Time(VtxHost h)
    {
        long t0 = Stopwatch.GetTimestamp();
        h.Call();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static double Median(List<double> v) => HostProcess.Median(v);
}
