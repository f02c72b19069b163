using System.Diagnostics;
using System.Text;
using Vtx.Tests.Native;
using Vtx.Tests.NativeTests;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Differential;

/// <summary>
/// Prefix-combination differential test: every form of <see cref="PxTable"/> (the generator's own opcode table) with
/// random 66/67/F2/F3/segment/LOCK prefixes and REX bytes, random ModRM/SIB/displacement forms and full-range inputs,
/// run on the host CPU and in Vtx. Defined results must agree; a host #UD (caught natively as SIGILL) must be a #UD in
/// Vtx with nothing committed; and the host must agree with the generator's own #UD model.
/// </summary>
/// <remarks>
/// Environment: <c>VTX_PREFIX_SCALE=n</c> (n times the CI cases per form: the long campaign),
/// <c>VTX_PREFIX_SEED=s</c> (base seed; default fixed), <c>VTX_PREFIX_ONLY=text</c> (forms whose name contains it),
/// <c>VTX_PREFIX_CASE=form:seed</c> (replay one case; printed with every failure), <c>VTX_PREFIX_TRACE=file</c> (the
/// replay key of every case before it runs, to find one that kills the process).
/// </remarks>
public sealed class PrefixDiffTests(ITestOutputHelper output)
{
    /// <summary>Cases per form at the CI size.</summary>
    public const int CasesPerForm = 64;

    /// <summary>Statistics of one campaign.</summary>
    public sealed class Stats
    {
        public int Compared, HostUd, Executed;
        public readonly HashSet<string> PrefixSequences = new(), PrefixSets = new(), FormPrefixSets = new(), Encodings = new();
        public readonly Dictionary<string, List<string>> Mismatches = new();
        public readonly Dictionary<string, int> MaskedByReason = new();
    }

    /// <summary>Runs one case on both sides; returns a description of every defined difference, or null.</summary>
    public static string? RunOne(PxCase pc, Stats? stats = null)
    {
        DiffCase c = pc.Case;
        if (pc.LengthDisagreement.Length > 0)
        {
            if (stats is not null) stats.Compared++;
            return $"[{pc.Form.Name}] {c.Hex}   {c.Disassembly}   prefixes {pc.PrefixKey}\n  replay: VTX_PREFIX_CASE={pc.FormIndex}:{pc.Seed}\n" +
                   $"  not executed: {pc.LengthDisagreement}\n";
        }
        var (native, nScratch, nStack) = DiffRunner.RunNative(c, catchInvalidOpcode: true);
        bool hostUd = native.ExitRip == NativeExecutor.InvalidOpcodeExitRip;
        VtxOutcome v = DiffRunner.RunVtx(c);
        var sb = new StringBuilder();
        if (stats is not null)
        {
            stats.Compared++;
            if (hostUd) stats.HostUd++; else stats.Executed++;
            stats.PrefixSequences.Add(pc.PrefixKey);
            stats.PrefixSets.Add(pc.PrefixSet);
            stats.FormPrefixSets.Add(pc.Form.Name + "|" + pc.PrefixSet);
            int head = pc.Prefixes.Length + pc.Form.Opcode.Length + (pc.Form.HasModRm ? 1 : 0);
            stats.Encodings.Add(Convert.ToHexString(c.Bytes, 0, Math.Min(head, c.Bytes.Length)));
        }
        if (hostUd != pc.ExpectUd)
            sb.AppendLine(hostUd
                ? "  the host raised #UD where the generator's model expects execution (table or vendor difference)"
                : $"  the host executed it where the generator's model expects #UD: {pc.UdReason}");
        if (hostUd)
        {
            bool vtxUd = v.Result.Reason == StopReason.Exception && v.Result.Fault?.Vector == ExceptionVector.UD;
            if (!vtxUd) sb.AppendLine($"  the host raised #UD; Vtx: {v.Result}");
            else
            {
                if (v.Rip != Layout.CodeAddress) sb.AppendLine($"  #UD RIP: expected 0x{Layout.CodeAddress:X}, actual 0x{v.Rip:X}");
                for (int i = 0; i < 16; i++)
                    if (v.Gpr[i] != c.Gpr[i]) sb.AppendLine($"  {Regs.Name(i)} changed by a #UD instruction: 0x{c.Gpr[i]:X16} -> 0x{v.Gpr[i]:X16}");
                if (((v.Rflags ^ c.Rflags) & Layout.Compared) != 0) sb.AppendLine("  flags changed by a #UD instruction");
            }
        }
        else
        {
            try
            {
                DiffRunner.AssertSame(c, native, nScratch, nStack, v);
            }
            catch (DifferentialMismatchException e)
            {
                sb.Append(e.Message);
            }
        }
        if (stats is not null)
            foreach (string r in c.Undefined.Reasons)
            {
                string key = r[(r.IndexOf(':') + 1)..].Trim();
                stats.MaskedByReason[key] = stats.MaskedByReason.GetValueOrDefault(key) + 1;
            }
        if (sb.Length == 0) return null;
        return $"[{pc.Form.Name}] {c.Hex}   {c.Disassembly}   prefixes {pc.PrefixKey}\n" +
               $"  replay: VTX_PREFIX_CASE={pc.FormIndex}:{pc.Seed}\n{sb}" +
               "  input:\n    " + c.DescribeInput().TrimEnd().Replace("\n", "\n    ") + "\n";
    }

    private static readonly StreamWriter? s_trace =
        Environment.GetEnvironmentVariable("VTX_PREFIX_TRACE") is { Length: > 0 } path ? new StreamWriter(path, append: false) : null;

    internal static ulong CaseSeed(ulong baseSeed, int form, int i) =>
        new PxRng(baseSeed ^ ((ulong)form << 32) ^ (ulong)i * 0x9E37_79B9UL).Next();

    /// <summary>Runs the campaign: <paramref name="perForm"/> cases for every form matching <paramref name="only"/>.</summary>
    public static Stats Campaign(int perForm, ulong baseSeed, string? only)
    {
        var stats = new Stats();
        for (int f = 0; f < PxTable.All.Length; f++)
        {
            PxForm form = PxTable.All[f];
            if (!string.IsNullOrEmpty(only) && !form.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
            for (int i = 0; i < perForm; i++)
            {
                ulong caseSeed = CaseSeed(baseSeed, f, i);
                if (s_trace is not null)
                {
                    // VTX_PREFIX_TRACE=file: the replay key of every case before it runs (a native crash cannot be caught).
                    s_trace.WriteLine($"{f}:{caseSeed}");
                    s_trace.Flush();
                }
                PxCase pc = PxGenerator.Make(f, caseSeed);
                string? m = RunOne(pc, stats);
                if (m is null) continue;
                if (!stats.Mismatches.TryGetValue(form.Name, out var list)) stats.Mismatches[form.Name] = list = new();
                list.Add(m);
            }
        }
        return stats;
    }

    [NativeFact]
    public void PrefixCombinationsMatchHostCpu()
    {
        string? replay = Environment.GetEnvironmentVariable("VTX_PREFIX_CASE");
        if (!string.IsNullOrWhiteSpace(replay))
        {
            var parts = replay.Split(':');
            PxCase pc = PxGenerator.Make(int.Parse(parts[0]), ulong.Parse(parts[1]));
            string? m = RunOne(pc);
            output.WriteLine(m ?? $"replayed {pc.Case}: host and Vtx agree");
            Assert.Null(m);
            return;
        }
        int scale = int.TryParse(Environment.GetEnvironmentVariable("VTX_PREFIX_SCALE"), out int s) && s > 0 ? s : 1;
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("VTX_PREFIX_SEED"), out ulong sd) ? sd : 0x5EED_0009UL;
        var sw = Stopwatch.StartNew();
        Stats st = Campaign(CasesPerForm * scale, seed, Environment.GetEnvironmentVariable("VTX_PREFIX_ONLY"));
        output.WriteLine($"prefix differential: {st.Compared} instructions compared ({st.Executed} executed, {st.HostUd} #UD on the host) over " +
                         $"{PxTable.All.Length} forms in {sw.ElapsedMilliseconds} ms; {st.PrefixSequences.Count} distinct prefix sequences, " +
                         $"{st.PrefixSets.Count} distinct prefix sets, {st.FormPrefixSets.Count} distinct form x prefix-set pairs, " +
                         $"{st.Encodings.Count} distinct prefix+opcode+ModRM encodings (seed {seed}, scale {scale})");
        foreach (var kv in DiffRunner.MaskedDifferences.Where(k => k.Key.Family.StartsWith("prefix:", StringComparison.Ordinal)).OrderBy(k => k.Key.Family))
            output.WriteLine($"  masked undefined result differed: {kv.Key.Family} {kv.Key.Item} x{kv.Value}");
        if (st.Mismatches.Count == 0) return;
        var sb = new StringBuilder();
        sb.AppendLine($"{st.Mismatches.Sum(m => m.Value.Count)} mismatches in {st.Mismatches.Count} forms:");
        foreach (var (form, list) in st.Mismatches.OrderBy(k => k.Key))
        {
            sb.AppendLine($"== {form}: {list.Count}");
            foreach (string m in list.Take(2)) sb.AppendLine(m);
        }
        output.WriteLine(sb.ToString());
        Assert.Fail(sb.ToString());
    }
}
