using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Microsoft.FSharp.Core;
using Vtx.Tests.NativeTests;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Differential;

/// <summary>
/// Differential property for the table-driven instructions (x87, MMX, SSE-SSE4.2, state, baseline): every Iced code
/// registered in <c>Cpu.Ext</c> that the default <see cref="CpuModel"/> offers and the host CPU supports runs on the host
/// (native oracle with FXRSTOR64/FXSAVE64) and in Vtx from the same generated state; every defined result must agree.
/// Families register codes as they land; with none registered the test reports "0 codes registered" and passes.
/// </summary>
/// <remarks>
/// Environment variables (CI size: about <see cref="CasesPerCode"/> FsCheck cases per code plus a 256-value imm8 sweep):
/// <list type="bullet">
/// <item><description><c>VTX_SIMD_SCALE=n</c>: n times more cases per code and n sweeps of every imm8 value (a longer campaign,
/// e.g. <c>VTX_SIMD_SCALE=50</c>).</description></item>
/// <item><description><c>VTX_SIMD_ONLY=a,b</c>: only these Iced code names or families (x87, mmx, sse-float, sse-int, state, baseline).</description></item>
/// <item><description><c>VTX_SIMD_REPLAY="seed,gamma,size"</c> with <c>VTX_SIMD_ONLY=Code</c>: replay an FsCheck failure (the message prints the command).</description></item>
/// <item><description><c>VTX_SIMD_CASE="Code:seed:imm"</c>: run exactly one generated case (imm -1 = generated), as printed by the imm8 sweep.</description></item>
/// <item><description><c>VTX_SIMD_TRACE=file</c>: log every case before it runs natively and each code's time (to find an input that
/// kills the process, or a slow handler).</description></item>
/// <item><description><c>VTX_SIMD_KEEP_GOING=0</c>: stop at the first failing code (default: every code runs, all failures are listed).</description></item>
/// </list>
/// </remarks>
public sealed class SimdDiffTests(ITestOutputHelper output)
{
    /// <summary>FsCheck cases per code in the CI-sized run.</summary>
    public const int CasesPerCode = 20;

    /// <summary>Mnemonics never run natively, with the reason (printed when such a code is registered).</summary>
    private static readonly Dictionary<Mnemonic, string> s_excluded = new()
    {
        [Mnemonic.Cpuid] = "reports the host's identity, not the model's",
        [Mnemonic.Rdtsc] = "time-dependent", [Mnemonic.Rdtscp] = "time-dependent", [Mnemonic.Rdpid] = "host-dependent",
        [Mnemonic.Rdrand] = "random", [Mnemonic.Rdseed] = "random",
        [Mnemonic.Xgetbv] = "reports the host's XCR0 (AVX/AVX-512 state enabled by Linux), not the model's",
        [Mnemonic.Xsetbv] = "privileged (#GP at CPL 3)",
        [Mnemonic.Xsave] = "host XCR0 enables more state components than the model; XSTATE_BV depends on XINUSE (SDM Vol. 1, 13.6)",
        [Mnemonic.Xsave64] = "as XSAVE", [Mnemonic.Xsaveopt] = "as XSAVE", [Mnemonic.Xsaveopt64] = "as XSAVE",
        [Mnemonic.Xsavec] = "as XSAVE", [Mnemonic.Xsavec64] = "as XSAVE", [Mnemonic.Xrstor] = "as XSAVE", [Mnemonic.Xrstor64] = "as XSAVE",
        [Mnemonic.Xsaves] = "privileged", [Mnemonic.Xsaves64] = "privileged", [Mnemonic.Xrstors] = "privileged", [Mnemonic.Xrstors64] = "privileged",
        [Mnemonic.Monitor] = "privileged on Linux (CPL 3 #UD)", [Mnemonic.Mwait] = "privileged on Linux (CPL 3 #UD)",
        [Mnemonic.Hlt] = "privileged", [Mnemonic.Invd] = "privileged", [Mnemonic.Wbinvd] = "privileged", [Mnemonic.Invlpg] = "privileged",
        [Mnemonic.Ud0] = "faults", [Mnemonic.Ud1] = "faults", [Mnemonic.Ud2] = "faults",
        [Mnemonic.Sgdt] = "UMIP may fault at CPL 3", [Mnemonic.Sidt] = "UMIP may fault at CPL 3", [Mnemonic.Sldt] = "UMIP may fault at CPL 3",
        [Mnemonic.Str] = "UMIP may fault at CPL 3", [Mnemonic.Smsw] = "UMIP may fault at CPL 3",
    };

    internal static int Scale() =>
        int.TryParse(Environment.GetEnvironmentVariable("VTX_SIMD_SCALE"), out int s) && s > 0 ? s : 1;

    private sealed class Stats
    {
        public int Codes;
        public readonly HashSet<string> Forms = new();
        public int Cases;
    }

    [NativeFact]
    public void TableDrivenCodesMatchHostCpu()
    {
        var sw = Stopwatch.StartNew();
        List<Code> registered = Cpu.Ext.Codes();
        output.WriteLine($"{registered.Count} codes registered in Cpu.Ext (host: {SimdHostFeatures.Vendor}, MXCSR_MASK {Native.NativeExecutor.HostMxcsrMask:X8}h)");
        var model = new CpuModel();
        string[] only = (Environment.GetEnvironmentVariable("VTX_SIMD_ONLY") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool keepGoing = Environment.GetEnvironmentVariable("VTX_SIMD_KEEP_GOING") != "0";
        string? single = Environment.GetEnvironmentVariable("VTX_SIMD_CASE");
        var skipped = new List<string>();
        var stats = new SortedDictionary<string, Stats>();
        var failures = new List<string>();
        int scale = Scale();

        foreach (Code code in registered)
        {
            string family = SimdCaseBuilder.FamilyOf(code);
            if (only.Length > 0 && !only.Contains(code.ToString()) && !only.Contains(family)) continue;
            if (!model.OffersAll(code)) { skipped.Add($"{code}: the default CpuModel does not offer {string.Join('+', code.CpuidFeatures())}"); continue; }
            string missing = SimdHostFeatures.Missing(code);
            if (missing.Length > 0) { skipped.Add($"{code}: the host CPU lacks {missing} (CPUID)"); continue; }
            if (s_excluded.TryGetValue(code.ToOpCode().Mnemonic, out string? why)) { skipped.Add($"{code}: not run natively: {why}"); continue; }
            if (SimdCaseBuilder.MemoryOnlyOnHost(code))
            {
                // Register forms #UD on AMD (PREFETCH group, AMD APM Vol. 3); memory forms decode as PREFETCH/PREFETCHW.
                skipped.Add($"{code}: not run natively: 0F 0D with a register operand is #UD on this AMD host (reserved NOP on Intel)");
                continue;
            }
            if (SimdCaseBuilder.Unsupported(code) is string unsupported) { skipped.Add($"{code}: no generator for {unsupported}"); continue; }

            if (!stats.TryGetValue(family, out Stats? st)) stats[family] = st = new Stats();
            st.Codes++;
            long started = sw.ElapsedMilliseconds;
            try
            {
                if (single is { Length: > 0 })
                {
                    string[] p = single.Split(':');
                    if (p[0] != code.ToString()) continue;
                    RunOne(code, int.Parse(p[1]), int.Parse(p[2]), st);
                    continue;
                }
                CheckCode(code, CasesPerCode * scale, st);
                if (SimdCaseBuilder.HasImm8(code))
                {
                    for (int round = 0; round < scale; round++)
                        for (int imm = 0; imm < 256; imm++)
                            RunOne(code, HashCode.Combine((int)code, imm, round, 0x51D), imm, st);
                }
            }
            catch (Exception e) when (keepGoing)
            {
                failures.Add(e.Message);
            }
            Trace($"{code}: {sw.ElapsedMilliseconds - started} ms");
        }

        foreach (var (family, st) in stats)
            output.WriteLine($"  {family}: {st.Codes} codes, {st.Forms.Count} forms, {st.Cases} cases compared");
        int total = stats.Values.Sum(s => s.Cases);
        output.WriteLine($"total: {stats.Values.Sum(s => s.Codes)} codes, {total} cases in {sw.ElapsedMilliseconds} ms");
        if (skipped.Count > 0)
        {
            output.WriteLine($"skipped {skipped.Count} registered codes:");
            foreach (string s in skipped) output.WriteLine("  SKIPPED " + s);
        }
        var masked = SimdDiffRunner.MaskedDifferences.OrderBy(kv => kv.Key.Family).ThenBy(kv => kv.Key.Item).ToList();
        if (masked.Count > 0)
        {
            output.WriteLine("masked items that actually differed (evidence each mask is needed):");
            foreach (var kv in masked) output.WriteLine($"  {kv.Key.Family}: {kv.Key.Item} x{kv.Value}");
        }
        if (failures.Count > 0)
        {
            var sb = new StringBuilder();
            sb.AppendLine($"{failures.Count} codes differ from the host CPU:");
            foreach (string f in failures) sb.AppendLine(f).AppendLine();
            string text = sb.ToString();
            output.WriteLine(text);
            Assert.Fail(text.Length > 60000 ? text[..60000] + "\n... (truncated; see the test output)" : text);
        }
    }

    private static readonly StreamWriter? s_trace =
        Environment.GetEnvironmentVariable("VTX_SIMD_TRACE") is { Length: > 0 } path ? new StreamWriter(path, append: false) : null;

    internal static void Trace(string line)
    {
        if (s_trace is null) return;
        lock (s_trace)
        {
            s_trace.WriteLine(line);
            s_trace.Flush();
        }
    }

    /// <summary>A case for <paramref name="code"/> from <paramref name="seed"/>, trying derived seeds when a choice cannot be encoded.</summary>
    private static SimdCase BuildSome(Code code, int seed, int imm = -1)
    {
        for (int attempt = 0; attempt < 64; attempt++)
            if (SimdCaseBuilder.Build(code, seed + attempt * 7919, imm) is SimdCase c) return c;
        throw new InvalidOperationException($"{code}: the generator found no encodable form (seed {seed})");
    }

    private static void RunOne(Code code, int seed, int imm, Stats st)
    {
        SimdCase c = BuildSome(code, seed, imm);
        lock (st) { st.Forms.Add(code + " " + c.Form); st.Cases++; }
        try
        {
            SimdDiffRunner.AssertSame(c);
        }
        catch (DifferentialMismatchException e)
        {
            throw new DifferentialMismatchException(e.Message + $"  Replay: VTX_SIMD_CASE=\"{code}:{c.Seed}:{imm}\" dotnet test Vtx.Tests --filter \"FullyQualifiedName~SimdDiffTests\"");
        }
    }

    /// <summary>FsCheck property over generated cases of one code; the failure message carries the replay command.</summary>
    private static void CheckCode(Code code, int maxTest, Stats st)
    {
        Gen<SimdCase> gen = Gen.Choose(int.MinValue, int.MaxValue)
            .Select(seed => BuildSome(code, seed));
        Property prop = Prop.ForAll(Arb.From(gen), (SimdCase c) =>
        {
            lock (st) { st.Forms.Add(code + " " + c.Form); st.Cases++; }
            SimdDiffRunner.AssertSame(c);
        });
        Config config = Config.QuickThrowOnFailure.WithMaxTest(maxTest).WithQuietOnSuccess(true).WithName(code.ToString());
        string? replay = Environment.GetEnvironmentVariable("VTX_SIMD_REPLAY");
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
        catch (Exception e)
        {
            var m = Regex.Match(e.Message, @"size of (\d+) and seed of \((\d+),(\d+)\)");
            string how = m.Success
                ? $"Replay: VTX_SIMD_REPLAY=\"{m.Groups[2].Value},{m.Groups[3].Value},{m.Groups[1].Value}\" VTX_SIMD_ONLY={code} dotnet test Vtx.Tests --filter \"FullyQualifiedName~SimdDiffTests\""
                : "Replay: see the FsCheck seed above";
            throw new DifferentialMismatchException($"[{code}] {e.Message}\n{how}");
        }
    }
}
