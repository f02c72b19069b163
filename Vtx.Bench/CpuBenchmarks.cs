using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Vtx.Bench;

/// <summary>
/// Each workload runs natively (the baseline of its category) and in Vtx, so the Ratio column reads Vtx/native.
/// The "Guest insns" and "MIPS" columns come from <see cref="GuestInstructionsColumn"/> and <see cref="MipsColumn"/>.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[Config(typeof(BenchConfig))]
public class CpuBenchmarks
{
    private VtxHost _checksum = null!, _fib = null!, _sort = null!, _matMul = null!, _x87 = null!;
    private NativeHost? _nChecksum, _nFib, _nSort, _nMatMul, _nX87;

    // One setup per category, so each benchmark process only prepares (and validates) its own workload.
    [GlobalSetup(Targets = [nameof(Checksum_Native), nameof(Checksum_Vtx)])]
    public void SetupChecksum() => Prepare(Workloads.Checksum, out _checksum, out _nChecksum);

    [GlobalSetup(Targets = [nameof(Fib_Native), nameof(Fib_Vtx)])]
    public void SetupFib() => Prepare(Workloads.Fib, out _fib, out _nFib);

    [GlobalSetup(Targets = [nameof(Sort_Native), nameof(Sort_Vtx)])]
    public void SetupSort() => Prepare(Workloads.Sort, out _sort, out _nSort);

    [GlobalSetup(Targets = [nameof(MatMul_Native), nameof(MatMul_Vtx)])]
    public void SetupMatMul() => Prepare(Workloads.MatMul, out _matMul, out _nMatMul);

    [GlobalSetup(Targets = [nameof(X87Series_Native), nameof(X87Series_Vtx)])]
    public void SetupX87() => Prepare(Workloads.X87Series, out _x87, out _nX87);

    private static void Prepare(Workload w, out VtxHost vtx, out NativeHost native)
    {
        ulong insns = Validation.Check(w);
        Console.WriteLine($"// {w.Name}: {insns:N0} guest instructions per run ({w.Description}); Vtx and native results agree");
        vtx = new VtxHost(w);
        native = new NativeHost(w);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _nChecksum?.Dispose();
        _nFib?.Dispose();
        _nSort?.Dispose();
        _nMatMul?.Dispose();
        _nX87?.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Checksum")]
    public ulong Checksum_Native() => _nChecksum!.Call();

    [Benchmark, BenchmarkCategory("Checksum")]
    public ulong Checksum_Vtx() => _checksum.Call();

    [Benchmark(Baseline = true), BenchmarkCategory("Fib")]
    public ulong Fib_Native() => _nFib!.Call();

    [Benchmark, BenchmarkCategory("Fib")]
    public ulong Fib_Vtx() => _fib.Call();

    [Benchmark(Baseline = true), BenchmarkCategory("Sort")]
    public ulong Sort_Native() => _nSort!.Call();

    [Benchmark, BenchmarkCategory("Sort")]
    public ulong Sort_Vtx() => _sort.Call();

    [Benchmark(Baseline = true), BenchmarkCategory("MatMul")]
    public ulong MatMul_Native() => _nMatMul!.Call();

    [Benchmark, BenchmarkCategory("MatMul")]
    public ulong MatMul_Vtx() => _matMul.Call();

    [Benchmark(Baseline = true), BenchmarkCategory("X87Series")]
    public ulong X87Series_Native() => _nX87!.Call();

    [Benchmark, BenchmarkCategory("X87Series")]
    public ulong X87Series_Vtx() => _x87.Call();
}

/// <summary>
/// Decode-cache cold start: a block of straight-line code executed once per run, either with its decodings
/// cached (warm, the baseline) or after rewriting the code bytes, which drops them (cold: every instruction
/// is decoded through Iced again and its page record re-created).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[Config(typeof(DecodeBenchConfig))] // issue 13: with ns and B per guest instruction
public class DecodeCacheBenchmarks
{
    public const int StraightLineInstructions = 4000;

    private VtxHost _host = null!;

    [GlobalSetup]
    public void Setup()
    {
        _host = new VtxHost(Workloads.ColdStart);
        _host.Call();
        Console.WriteLine($"// ColdStart: {_host.LastRun.Instructions:N0} guest instructions per run, {Workloads.ColdStart.Code.Length:N0} bytes of code");
    }

    [Benchmark(Baseline = true), BenchmarkCategory("ColdStart")]
    public ulong Warm_Vtx() => _host.Call();

    [Benchmark, BenchmarkCategory("ColdStart")]
    public ulong Cold_Vtx()
    {
        _host.InvalidateCode();
        return _host.Call();
    }
}
