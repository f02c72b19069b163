using System.Diagnostics;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Packaging;

/// <summary>
/// Runs alone, after the parallel tests: it packs, restores and builds, which keeps both cores
/// busy for a while and would otherwise slow down (and perturb) everything running beside it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection
{
    public const string Name = "Packaging (runs alone)";
}

/// <summary>
/// A <see cref="FactAttribute"/> that is skipped, with the reason shown, when the environment
/// variable <c>VTX_SKIP_PACKAGING</c> is <c>1</c>. Anything else runs the test; a missing
/// <c>dotnet</c>, <c>bash</c> or package source then fails it rather than passing silently.
/// </summary>
public sealed class PackagingFactAttribute : FactAttribute
{
    public PackagingFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("VTX_SKIP_PACKAGING") == "1")
            Skip = "VTX_SKIP_PACKAGING=1 is set: the pack-and-consume test (scripts/consumer-smoke.sh) was not run";
    }
}

[Collection(PackagingCollection.Name)]
public class ConsumerPackageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Packs Vtx.Core and Vtx.Decoder, consumes Vtx.Core by version from a fresh console project
    /// (local package folder + nuget.org, private package cache) and runs a tiny guest program.
    /// The script itself checks the output (Rax=5, Halted); this test checks it too.
    /// </summary>
    [PackagingFact]
    public async Task PackedVtxCoreRestoresBuildsAndRunsInAConsoleProject()
    {
        string root = FindRepositoryRoot();
        string script = Path.Combine(root, "scripts", "consumer-smoke.sh");
        Assert.True(File.Exists(script), $"missing {script}");
        Assert.True(IsOnPath("dotnet"), "'dotnet' is not on PATH: the packaging test needs the .NET SDK (set VTX_SKIP_PACKAGING=1 to skip it)");
        string bash = IsOnPath("bash") ? "bash" : throw new InvalidOperationException("'bash' is not on PATH: the packaging test runs scripts/consumer-smoke.sh with it");

        var psi = new ProcessStartInfo(bash)
        {
            WorkingDirectory = root,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        // The test host may carry MSBuild settings from the `dotnet test` that started it; the
        // script's own dotnet commands must start from a clean slate.
        foreach (string key in psi.Environment.Keys.ToList())
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || key.StartsWith("VSTEST_", StringComparison.OrdinalIgnoreCase))
                psi.Environment.Remove(key);

        var log = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (log) log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (log) log.AppendLine("[stderr] " + e.Data); };
        p.Start();
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();

        bool exited;
        using (var cts = new CancellationTokenSource(ScriptTimeout))
        {
            try { await p.WaitForExitAsync(cts.Token); exited = true; }
            catch (OperationCanceledException) { exited = false; }
        }
        if (!exited)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(10_000);
        }
        // (WaitForExitAsync has also waited for the output readers to reach the end of both streams.)

        string text;
        lock (log) text = log.ToString();
        output.WriteLine($"scripts/consumer-smoke.sh took {sw.Elapsed.TotalSeconds:F1} s");
        if (exited && p.ExitCode == 0)
            output.WriteLine(text); // on failure the assertion message below carries it instead

        Assert.True(exited, $"scripts/consumer-smoke.sh did not finish within {ScriptTimeout.TotalMinutes} minutes; output so far:\n{text}");
        Assert.True(p.ExitCode == 0, $"scripts/consumer-smoke.sh failed with exit code {p.ExitCode}:\n{text}");
        Assert.Contains("Rax=5", text);
        Assert.Contains("Reason=Halted", text);
        Assert.Contains("consumer-smoke: PASS", text);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Vtx.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"cannot find Vtx.slnx above {AppContext.BaseDirectory}");
    }

    private static bool IsOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, program)));
}
