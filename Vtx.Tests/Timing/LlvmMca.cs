using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Vtx.Tests.Timing;

/// <summary>
/// Runs llvm-mca (LLVM's machine code analyzer, Debian package llvm-14) on assembly code regions and parses
/// its report: per region the instruction info table (µops, latency, reciprocal throughput, MayLoad,
/// MayStore, HasSideEffects), the resource pressure by instruction, and the steady-state totals
/// (iterations, total cycles). Many regions go in one process (LLVM-MCA-BEGIN/END markers).
/// </summary>
public static class LlvmMca
{
    /// <summary>The executable (llvm-mca-14 on Debian; the version is part of every generated file's header).</summary>
    public const string Executable = "llvm-mca-14";

    /// <summary>One instruction's line of the instruction-info table with its resource pressure.</summary>
    public sealed record InstructionReport(int Uops, int Latency, double ReciprocalThroughput, bool MayLoad, bool MayStore,
        bool HasSideEffects, string Text, IReadOnlyDictionary<string, double> Pressure);

    /// <summary>One code region's report.</summary>
    public sealed record RegionReport(string Name, int Iterations, long TotalCycles, IReadOnlyList<InstructionReport> Instructions);

    /// <summary>True when llvm-mca-14 can be started here; <paramref name="reason"/> says why not.</summary>
    public static bool IsAvailable(out string reason)
    {
        try
        {
            string v = Version();
            reason = v;
            return v.Contains("LLVM version", StringComparison.Ordinal);
        }
        catch (Exception e)
        {
            reason = $"{Executable} cannot be run ({e.GetType().Name}: {e.Message}); install Debian's llvm-14 package";
            return false;
        }
    }

    /// <summary>"LLVM version 14.0.6" line of <c>llvm-mca-14 --version</c>.</summary>
    public static string Version()
    {
        string output = Run(["--version"], "", out _);
        foreach (string line in output.Split('\n'))
            if (line.Contains("LLVM version", StringComparison.Ordinal)) return line.Trim();
        return output.Trim();
    }

    /// <summary>
    /// Analyses <paramref name="regions"/> (name, AT&amp;T assembly lines) for <paramref name="cpu"/> ("skylake",
    /// "haswell") in <paramref name="bitness"/>-bit mode, <paramref name="iterations"/> iterations each.
    /// Regions llvm-mca cannot assemble are missing from the result; <paramref name="errors"/> gets its diagnostics.
    /// </summary>
    public static Dictionary<string, RegionReport> Analyze(string cpu, int bitness, int iterations,
        IEnumerable<(string Name, IReadOnlyList<string> Lines)> regions, out string errors)
    {
        var sb = new StringBuilder();
        if (bitness == 32) sb.Append(".code32\n");
        foreach (var (name, lines) in regions)
        {
            sb.Append("# LLVM-MCA-BEGIN ").Append(name).Append('\n');
            foreach (string l in lines) sb.Append(l).Append('\n');
            sb.Append("# LLVM-MCA-END\n");
        }
        string triple = bitness == 64 ? "x86_64-unknown-linux-gnu" : "i686-unknown-linux-gnu";
        string output = Run([$"-mtriple={triple}", $"-mcpu={cpu}", "-instruction-info", "-resource-pressure",
            $"-iterations={iterations.ToString(CultureInfo.InvariantCulture)}", "-dispatch-stats=false", "-"], sb.ToString(), out errors);
        return Parse(output);
    }

    /// <summary>Parses llvm-mca's textual report (all regions).</summary>
    public static Dictionary<string, RegionReport> Parse(string output)
    {
        var result = new Dictionary<string, RegionReport>(StringComparer.Ordinal);
        string[] lines = output.Split('\n');
        int i = 0;
        while (i < lines.Length)
        {
            string line = lines[i];
            int at = line.IndexOf("] Code Region - ", StringComparison.Ordinal);
            if (line.StartsWith('[') && at > 0)
            {
                string name = line[(at + "] Code Region - ".Length)..].Trim();
                i = ParseRegion(lines, i + 1, name, out RegionReport? r);
                if (r is not null) result[name] = r;
                continue;
            }
            if (line.StartsWith("Iterations:", StringComparison.Ordinal) && result.Count == 0)
            {
                // A report without regions (one implicit region).
                i = ParseRegion(lines, i, "", out RegionReport? r);
                if (r is not null) result[""] = r;
                continue;
            }
            i++;
        }
        return result;
    }

    private static int ParseRegion(string[] lines, int i, string name, out RegionReport? report)
    {
        report = null;
        int iterations = 0;
        long cycles = 0;
        var infos = new List<(int, int, double, bool, bool, bool, string)>();
        var resources = new List<string>();
        var pressure = new List<Dictionary<string, double>>();
        for (; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith('[') && line.Contains("] Code Region - ", StringComparison.Ordinal)) break;
            if (line.StartsWith("Iterations:", StringComparison.Ordinal)) iterations = int.Parse(line[11..].Trim(), CultureInfo.InvariantCulture);
            else if (line.StartsWith("Total Cycles:", StringComparison.Ordinal)) cycles = long.Parse(line[13..].Trim(), CultureInfo.InvariantCulture);
            else if (line.StartsWith("[1]    [2]    [3]    [4]    [5]    [6]", StringComparison.Ordinal))
            {
                int c4 = line.IndexOf("[4]", StringComparison.Ordinal), c5 = line.IndexOf("[5]", StringComparison.Ordinal),
                    c6 = line.IndexOf("[6]", StringComparison.Ordinal), text = line.IndexOf("Instructions:", StringComparison.Ordinal);
                for (i++; i < lines.Length && lines[i].Trim().Length > 0; i++)
                {
                    string l = lines[i];
                    string[] w = l[..Math.Min(c4, l.Length)].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    infos.Add((int.Parse(w[0], CultureInfo.InvariantCulture), int.Parse(w[1], CultureInfo.InvariantCulture),
                        double.Parse(w[2], CultureInfo.InvariantCulture),
                        Flag(l, c4, c5), Flag(l, c5, c6), Flag(l, c6, text), l.Length > text ? l[text..].Trim() : ""));
                }
            }
            else if (line.StartsWith("Resources:", StringComparison.Ordinal))
            {
                for (i++; i < lines.Length && lines[i].StartsWith('['); i++)
                {
                    int dash = lines[i].IndexOf("- ", StringComparison.Ordinal);
                    resources.Add(lines[i][(dash + 2)..].Trim());
                }
            }
            else if (line.StartsWith("Resource pressure by instruction:", StringComparison.Ordinal))
            {
                for (i += 2; i < lines.Length && lines[i].Trim().Length > 0; i++)
                {
                    string[] w = lines[i].Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                    var d = new Dictionary<string, double>(StringComparer.Ordinal);
                    for (int r = 0; r < resources.Count && r < w.Length; r++)
                        if (w[r] != "-") d[resources[r]] = double.Parse(w[r], CultureInfo.InvariantCulture);
                    pressure.Add(d);
                }
                i--;
            }
        }
        if (iterations == 0) return i;
        var list = new List<InstructionReport>();
        for (int k = 0; k < infos.Count; k++)
        {
            var (u, lat, tp, ml, ms, se, text) = infos[k];
            list.Add(new InstructionReport(u, lat, tp, ml, ms, se, text,
                k < pressure.Count ? pressure[k] : new Dictionary<string, double>()));
        }
        report = new RegionReport(name, iterations, cycles, list);
        return i;
    }

    private static bool Flag(string l, int from, int to) => from < l.Length && l[from..Math.Min(to, l.Length)].Trim().Length > 0;

    private static string Run(string[] args, string stdin, out string stderr)
    {
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{Executable} did not start");
        var errTask = p.StandardError.ReadToEndAsync();
        var outTask = p.StandardOutput.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        string stdout = outTask.GetAwaiter().GetResult();
        stderr = errTask.GetAwaiter().GetResult();
        p.WaitForExit();
        return stdout;
    }
}
