using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Vtx.Bench;

/// <summary>The configuration every benchmark class here uses: the defaults plus the guest-instruction columns.</summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        // Median always (the MIPS column uses it); Min shows the least-disturbed run on a shared, noisy host.
        AddColumn(StatisticColumn.Median, StatisticColumn.Min, new GuestInstructionsColumn(), new MipsColumn());
    }

    /// <summary>The workload a benchmark case belongs to: its (single) category.</summary>
    internal static Workload? WorkloadOf(BenchmarkCase bc) =>
        bc.Descriptor.Categories.Select(Workloads.Find).FirstOrDefault(w => w is not null);
}

/// <summary>
/// Guest instructions retired per operation (one call of the workload), counted by running it once in Vtx
/// in the BenchmarkDotNet host process; the count is deterministic. Native rows run the same instruction
/// stream (minus the final HLT).
/// </summary>
public sealed class GuestInstructionsColumn : IColumn
{
    public string Id => nameof(GuestInstructionsColumn);
    public string ColumnName => "Guest insns/op";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Guest instructions retired per operation (Vtx count; native rows execute the same instructions)";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        BenchConfig.WorkloadOf(benchmarkCase) is Workload w
            ? Validation.InstructionsPerRun(w).ToString("N0", CultureInfo.InvariantCulture)
            : "-";
}

/// <summary>Millions of guest instructions per second: <see cref="GuestInstructionsColumn"/> / median time.</summary>
public sealed class MipsColumn : IColumn
{
    public string Id => nameof(MipsColumn);
    public string ColumnName => "MIPS";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Millions of guest instructions per second (Guest insns/op / Median)";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (BenchConfig.WorkloadOf(benchmarkCase) is not Workload w) return "-";
        double? medianNs = summary[benchmarkCase]?.ResultStatistics?.Median;
        if (medianNs is not double ns || ns <= 0) return "-";
        return (Validation.InstructionsPerRun(w) * 1e3 / ns).ToString("N1", CultureInfo.InvariantCulture);
    }
}

/// <summary>Issue 13: the decode cold-start benchmark's configuration: <see cref="BenchConfig"/> plus time and bytes per guest instruction.</summary>
public sealed class DecodeBenchConfig : ManualConfig
{
    public DecodeBenchConfig()
    {
        AddColumn(StatisticColumn.Median, StatisticColumn.Min, new GuestInstructionsColumn(), new MipsColumn(),
            new PerInstructionColumn(bytes: false), new PerInstructionColumn(bytes: true));
    }
}

/// <summary>
/// Median time (ns) or allocated bytes per guest instruction retired: the operation's figure divided by
/// <see cref="GuestInstructionsColumn"/>. For the cold-start rows every instruction is decoded once per operation.
/// </summary>
public sealed class PerInstructionColumn(bool bytes) : IColumn
{
    public string Id => nameof(PerInstructionColumn) + (bytes ? "B" : "ns");
    public string ColumnName => bytes ? "B/insn" : "ns/insn";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => bytes ? 3 : 2;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => bytes ? "Bytes allocated per guest instruction (Allocated / Guest insns/op)" : "Median nanoseconds per guest instruction (Median / Guest insns/op)";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (BenchConfig.WorkloadOf(benchmarkCase) is not Workload w) return "-";
        BenchmarkReport? report = summary[benchmarkCase];
        double insns = Validation.InstructionsPerRun(w);
        if (report is null || insns <= 0) return "-";
        if (bytes)
        {
            long? b = report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase);
            return b is long v ? (v / (double)insns).ToString("N2", CultureInfo.InvariantCulture) : "-";
        }
        double? medianNs = report.ResultStatistics?.Median;
        return medianNs is double ns ? (ns / insns).ToString("N1", CultureInfo.InvariantCulture) : "-";
    }
}
