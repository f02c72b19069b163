using System.Diagnostics;

namespace Vtx.Fuzz;

/// <summary>The settings of a campaign.</summary>
public sealed record FuzzOptions
{
    /// <summary>Campaign seed: case i of kind k has seed <see cref="FuzzCampaign.CaseSeed"/>(Seed, k, i).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Cases per kind.</summary>
    public int CasesPerKind { get; init; } = 100;
    /// <summary>The kinds to run.</summary>
    public IReadOnlyList<FuzzKind> Kinds { get; init; } = Enum.GetValues<FuzzKind>();
    /// <summary>Guest-instruction budget of one execution of a code or paged case.</summary>
    public ulong InstructionsPerCase { get; init; } = 20_000;
    /// <summary>VM entries one VMX case aims for.</summary>
    public int VmEntriesPerCase { get; init; } = 100;
    /// <summary>Host time one execution may take before it counts as exceeding its bound (every run is bounded by instruction and cycle limits).</summary>
    public TimeSpan CaseTimeBound { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Stop starting new cases after this much host time (null: run every case).</summary>
    public TimeSpan? Duration { get; init; }
}

/// <summary>A defect: a host exception, a run past its bound, or two runs of one case that differ.</summary>
/// <param name="Kind">Case kind.</param>
/// <param name="CaseSeed">The case seed (replay it with <c>--replay Kind:Seed</c>).</param>
/// <param name="What">What went wrong.</param>
public sealed record FuzzFinding(FuzzKind Kind, ulong CaseSeed, string What)
{
    /// <summary>The command-line argument that replays this case.</summary>
    public string Replay => $"--replay {Kind}:{CaseSeed:X16}";

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} case {CaseSeed:X16}: {What} (replay: dotnet run --project samples/Vtx.Fuzz -- {Replay})";
}

/// <summary>What a campaign did and found.</summary>
public sealed class FuzzReport
{
    /// <summary>Cases run (each executed twice).</summary>
    public int Cases { get; internal set; }
    /// <summary>Guest instructions retired over all executions.</summary>
    public ulong Instructions { get; internal set; }
    /// <summary>VM entries attempted over all executions.</summary>
    public ulong VmEntries { get; internal set; }
    /// <summary>Host time taken.</summary>
    public TimeSpan Elapsed { get; internal set; }
    /// <summary>Cases per kind.</summary>
    public Dictionary<FuzzKind, int> CasesByKind { get; } = new();
    /// <summary>The defects found.</summary>
    public List<FuzzFinding> Findings { get; } = new();

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Cases:N0} cases ({string.Join(", ", CasesByKind.Select(kv => $"{kv.Key} {kv.Value:N0}"))}), each run twice: " +
        $"{Instructions:N0} guest instructions, {VmEntries:N0} VM entries, {Elapsed.TotalSeconds:N1} s, {Findings.Count} findings";
}

/// <summary>
/// Runs fuzz cases: each case is built from its seed, executed twice on fresh machines, and reported
/// when an execution throws out of the library, exceeds its host-time bound, or when the two
/// executions end in different states.
/// </summary>
public static class FuzzCampaign
{
    /// <summary>The seed of case <paramref name="index"/> of <paramref name="kind"/> in a campaign seeded with <paramref name="seed"/>.</summary>
    public static ulong CaseSeed(ulong seed, FuzzKind kind, int index)
    {
        ulong x = seed ^ ((ulong)kind << 56) ^ (ulong)index * 0x9E37_79B9UL;
        return Rng.SplitMix(ref x);
    }

    private static readonly bool Trace = Environment.GetEnvironmentVariable("VTX_FUZZ_TRACE") == "1";

    /// <summary>Runs a campaign; <paramref name="log"/> receives findings as they happen.</summary>
    public static FuzzReport Run(FuzzOptions o, Action<string>? log = null)
    {
        var report = new FuzzReport();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < o.CasesPerKind; i++)
        {
            foreach (FuzzKind kind in o.Kinds)
            {
                if (o.Duration is TimeSpan d && total.Elapsed > d) goto done;
                ulong seed = CaseSeed(o.Seed, kind, i);
                // VTX_FUZZ_TRACE=1 names each case before it runs, so a case that never returns (a hang no
                // limit bounds) can be found and replayed.
                if (Trace) Console.Error.WriteLine($"case {kind}:{seed:X16}");
                FuzzFinding? f = Check(kind, seed, o, out CaseResult r);
                report.Cases++;
                report.CasesByKind[kind] = report.CasesByKind.GetValueOrDefault(kind) + 1;
                report.Instructions += 2 * r.Instructions;
                report.VmEntries += 2 * r.VmEntries;
                if (f is not null)
                {
                    report.Findings.Add(f);
                    log?.Invoke(f.ToString());
                }
            }
        }
    done:
        report.Elapsed = total.Elapsed;
        return report;
    }

    /// <summary>Executes one case twice and returns its finding, or null when both executions agree and stayed within bounds.</summary>
    public static FuzzFinding? Check(FuzzKind kind, ulong seed, FuzzOptions o, out CaseResult result)
    {
        result = default;
        CaseResult[] runs = new CaseResult[2];
        for (int k = 0; k < 2; k++)
        {
            var sw = Stopwatch.StartNew();
            try
            {
                runs[k] = Cases.Execute(kind, seed, o);
            }
            catch (Exception e)
            {
                return new FuzzFinding(kind, seed, $"host exception {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
            if (sw.Elapsed > o.CaseTimeBound)
                return new FuzzFinding(kind, seed, $"execution took {sw.Elapsed.TotalSeconds:N1} s, beyond the {o.CaseTimeBound.TotalSeconds:N1} s bound");
        }
        result = runs[0];
        if (runs[0] != runs[1])
            return new FuzzFinding(kind, seed, $"nondeterministic: first {runs[0]}, second {runs[1]}");
        return null;
    }
}
