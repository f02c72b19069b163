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
            var off = new Host(w, cache: false);
            var on = new Host(w, cache: true);
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
            ulong insns = off.Last.Instructions;
            Console.WriteLine($"| {w.Name,-8} | {insns,15:N0} | {mo * 1e3,8:0.000} ms | {mn * 1e3,7:0.000} ms | {mn / mo,10:0.00}x | {insns / mo / 1e6,8:0.0} | {insns / mn / 1e6,7:0.0} | {off.Last.Cycles,16:N0} | {on.Last.Cycles,15:N0} |");
        }
        return 0;
    }

    private static double Time(Host h)
    {
        long t0 = Stopwatch.GetTimestamp();
        h.Call();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static double Median(List<double> v) => HostProcess.Median(v);

    /// <summary>A <see cref="VtxHost"/> with the cache model switched by the <see cref="CpuModel"/>.</summary>
    private sealed class Host
    {
        private readonly Workload _w;
        private readonly Machine _m;
        private readonly RunLimits _limits = new() { MaxInstructions = 10_000_000_000 };

        public Host(Workload w, bool cache)
        {
            _w = w;
            _m = new Machine(new MachineOptions { MemoryMiB = Layout.MemoryMiB, CpuModel = new CpuModel { CacheTiming = cache } });
            _m.WriteMemory(Layout.CodeAddress, w.Code);
            if (w.DataBytes > 0)
            {
                var data = new byte[w.DataBytes];
                w.InitData(data);
                _m.WriteMemory(Layout.DataAddress, data);
            }
        }

        public RunResult Last { get; private set; }

        public ulong Call()
        {
            Cpu cpu = _m.Cpu;
            Span<byte> ret = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(ret, Layout.CodeAddress + (ulong)_w.HaltOffset);
            _m.WriteMemory(Layout.StackTop - 8, ret);
            cpu[Gpr.Rsp] = Layout.StackTop - 8;
            cpu[Gpr.Rdi] = Layout.DataAddress;
            cpu[Gpr.Rsi] = _w.Arg1;
            cpu.Rip = Layout.CodeAddress;
            cpu.Resume();
            Last = _m.Run(_limits);
            if (Last.Reason != StopReason.Halted) throw new InvalidOperationException($"{_w.Name}: {Last}");
            return cpu[Gpr.Rax];
        }
    }
}
