using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Microsoft.FSharp.Core;
using Vtx.Tests.Native;
using Vtx.Tests.NativeTests;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Differential;

/// <summary>
/// Differential conformance properties: each family's instruction forms run on the host CPU and in Vtx
/// from the same random state, and every defined result must agree.
/// </summary>
/// <remarks>
/// Environment variables:
/// <list type="bullet">
/// <item><description><c>VTX_DIFF_REPLAY="seed,gamma,size"</c>: replay a failure; the failure message prints the exact
/// command (the numbers are FsCheck's "Last step was invoked with size of N and seed of (S,G)").</description></item>
/// <item><description><c>VTX_DIFF_ONLY=family[,family]</c>: run only these families (<c>chains</c> for the flag chains).</description></item>
/// <item><description><c>VTX_DIFF_SCALE=n</c>: n times more cases (a longer soak).</description></item>
/// <item><description><c>VTX_DIFF_TRACE=file</c>: log every case before it runs natively, to identify an input that kills
/// the test process (the oracle cannot survive a fault).</description></item>
/// </list>
/// </remarks>
public sealed class DifferentialTests(ITestOutputHelper output)
{
    /// <summary>Codes of every case that ran (informational; the coverage test counts deterministically).</summary>
    internal static readonly ConcurrentDictionary<Code, int> Executed = new();

    public static TheoryData<string> FamilyNames => new(Families.All.Select(f => f.Name));

    [NativeTheory]
    [MemberData(nameof(FamilyNames))]
    public void MatchesHostCpu(string family)
    {
        Family f = Families.Get(family);
        string? only = Environment.GetEnvironmentVariable("VTX_DIFF_ONLY");
        if (!string.IsNullOrEmpty(only) && !only.Split(',').Contains(family)) return;
        string missing = HostFeatures.Missing(f.Requires);
        if (missing.Length > 0)
        {
            output.WriteLine($"SKIPPED {family}: the host CPU lacks {missing} (CPUID)");
            return;
        }
        var sw = Stopwatch.StartNew();
        int cases = f.CasesPerProperty * Scale();
        Check(f.Name, CaseGeneration.CaseGen(f), cases);
        output.WriteLine($"{family}: {cases} cases over {f.Codes.Length} Iced codes in {sw.ElapsedMilliseconds} ms");
        PrintMaskedDifferences(family);
    }

    /// <summary>Flag producers followed by flag consumers: Vtx's lazily evaluated flags against the host.</summary>
    [NativeFact]
    public void FlagChainsMatchHostCpu()
    {
        string? only = Environment.GetEnvironmentVariable("VTX_DIFF_ONLY");
        if (!string.IsNullOrEmpty(only) && !only.Split(',').Contains("chains")) return;
        var sw = Stopwatch.StartNew();
        int cases = 1000 * Scale();
        Check("chains", FlagChains.Gen(), cases);
        output.WriteLine($"flag chains: {cases} cases in {sw.ElapsedMilliseconds} ms");
        PrintMaskedDifferences("chains");
    }

    private void PrintMaskedDifferences(string family)
    {
        var hits = DiffRunner.MaskedDifferences.Where(kv => kv.Key.Family == family).OrderBy(kv => kv.Key.Item).ToList();
        if (hits.Count > 0)
            output.WriteLine("  undefined results that differed (masked): " + string.Join(", ", hits.Select(kv => $"{kv.Key.Item} x{kv.Value}")));
    }

    internal static int Scale() =>
        int.TryParse(Environment.GetEnvironmentVariable("VTX_DIFF_SCALE"), out int s) && s > 0 ? s : 1;

    /// <summary>Runs the property "native and Vtx agree" over <paramref name="gen"/> with FsCheck.</summary>
    internal static void Check(string name, Gen<DiffCase> gen, int maxTest)
    {
        Property prop = Prop.ForAll(Arb.From(gen), (DiffCase c) =>
        {
            Executed.AddOrUpdate(c.Code, 1, (_, n) => n + 1);
            DiffRunner.AssertSame(c);
        });
        Config config = Config.QuickThrowOnFailure.WithMaxTest(maxTest).WithQuietOnSuccess(true).WithName(name);
        string? replay = Environment.GetEnvironmentVariable("VTX_DIFF_REPLAY");
        if (!string.IsNullOrWhiteSpace(replay))
        {
            ulong[] p = replay.Trim('(', ')', ' ').Split(',').Select(x => ulong.Parse(x.Trim())).ToArray();
            var size = p.Length > 2 ? FSharpOption<int>.Some((int)p[2]) : FSharpOption<int>.None;
            config = config.WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(p[0], p[1]), size)));
        }
        try
        {
            FsCheck.Check.One(config, prop);
        }
        catch (Exception e) when (e is not DifferentialMismatchException)
        {
            // FsCheck prints "Last step was invoked with size of N and seed of (S,G)": replaying (S,G,N) regenerates the failing case.
            var m = Regex.Match(e.Message, @"size of (\d+) and seed of \((\d+),(\d+)\)");
            string how = m.Success
                ? $"Replay: VTX_DIFF_REPLAY=\"{m.Groups[2].Value},{m.Groups[3].Value},{m.Groups[1].Value}\" VTX_DIFF_ONLY={name} dotnet test Vtx.Tests --filter \"FullyQualifiedName~Differential\""
                : "Replay: see the FsCheck seed above";
            throw new Xunit.Sdk.XunitException($"[{name}] {e.Message}\n{how}");
        }
    }
}

/// <summary>
/// Coverage: every Iced code of the table runs natively and in Vtx (a few cases each), and the number of distinct
/// codes is reported (see COVERAGE.md).
/// </summary>
public sealed class DifferentialCoverageTests(ITestOutputHelper output)
{
    [NativeFact]
    public void EveryTableCodeRunsAndAgrees()
    {
        var covered = new SortedSet<Code>();
        var decoded = new HashSet<Code>();
        var skipped = new List<string>();
        foreach (Family f in Families.All)
        {
            string missing = HostFeatures.Missing(f.Requires);
            if (missing.Length > 0)
            {
                skipped.Add($"{f.Name} (host lacks {missing})");
                continue;
            }
            foreach (Code code in f.Codes)
            {
                var seen = new HashSet<Code>();
                var gen = CaseGeneration.CaseGen(f, [code]).Select(c =>
                {
                    lock (seen) seen.Add(c.Code);
                    return c;
                });
                DifferentialTests.Check($"{f.Name}/{code}", gen, 4);
                covered.Add(code);
                decoded.UnionWith(seen);
            }
        }
        var mnemonics = covered.Select(c => c.ToOpCode().Mnemonic.ToString().ToUpperInvariant()).Distinct().Order().ToList();
        output.WriteLine($"Differential coverage: {covered.Count} distinct Iced Code values in the table, " +
                         $"{decoded.Count} distinct decoded Code values executed, {mnemonics.Count} mnemonics.");
        output.WriteLine("Mnemonics: " + string.Join(' ', mnemonics));
        if (skipped.Count > 0) output.WriteLine("Skipped families: " + string.Join(", ", skipped));
        output.WriteLine("Codes: " + string.Join(' ', covered));
        Assert.True(covered.Count > 500, $"only {covered.Count} codes covered");
    }
}
