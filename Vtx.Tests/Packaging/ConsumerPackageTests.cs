using System.Diagnostics;
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Text.Json;
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
    /// Packs Vtx.Decoder, Vtx.Core and Vtx.FsCheck, consumes Vtx.Core and Vtx.FsCheck by version
    /// from a fresh console project (local package folder + nuget.org, private package cache) and
    /// runs a tiny guest program, a tiny hypervisor on the VMX test kit and an FsCheck property.
    /// The script itself checks the output (Rax=5, Halted); this test checks it too, then reads
    /// the symbol packages' pdbs (SourceLink, deterministic paths: <see cref="CheckSymbols"/>).
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
        string packagesOut = Path.Combine(Path.GetTempPath(), $"vtx-smoke-packages-{Guid.NewGuid():N}");
        psi.Environment["VTX_SMOKE_PACKAGES_OUT"] = packagesOut;
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
        Assert.Contains("KitExit=Cpuid", text);
        Assert.Contains("KitExit=Vmcall at vmcall=True", text);
        Assert.Contains("Ok, passed 40 tests", text);
        Assert.Contains("Property=passed", text);
        Assert.Contains("consumer-smoke: PASS", text);

        try
        {
            foreach (string id in new[] { "Vtx.Decoder", "Vtx.Core", "Vtx.FsCheck" })
                CheckSymbols(packagesOut, id, root);
        }
        finally { Directory.Delete(packagesOut, recursive: true); }
    }

    /// <summary>The SourceLink custom debug information kind (Portable PDB spec, "SourceLink").</summary>
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");
    /// <summary>The embedded-source custom debug information kind (Portable PDB spec, "EmbeddedSource").</summary>
    private static readonly Guid EmbeddedSourceKind = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");

    /// <summary>
    /// The symbol package's pdb belongs to the package's dll (same PDB id as the dll's CodeView
    /// entry), its SourceLink maps the repository-relative root /_/ to the repository's raw files at
    /// the commit that was packed, and every document is either under /_/ (so SourceLink can fetch
    /// it) or embedded in the pdb (generated files); no path of the packing machine's checkout leaks.
    /// </summary>
    private void CheckSymbols(string packages, string id, string repositoryRoot)
    {
        string nupkg = Assert.Single(Directory.GetFiles(packages, $"{id}.*.nupkg"));
        string snupkg = Assert.Single(Directory.GetFiles(packages, $"{id}.*.snupkg"));
        byte[] dll = ReadEntry(nupkg, $"lib/net10.0/{id}.dll");
        byte[] pdb = ReadEntry(snupkg, $"lib/net10.0/{id}.pdb");

        using var pe = new PEReader(new MemoryStream(dll));
        var codeView = pe.ReadDebugDirectory().Single(e => e.Type == DebugDirectoryEntryType.CodeView);
        var cv = pe.ReadCodeViewDebugDirectoryData(codeView);
        using var provider = MetadataReaderProvider.FromPortablePdbStream(new MemoryStream(pdb));
        var reader = provider.GetMetadataReader();
        var pdbId = new BlobContentId(reader.DebugMetadataHeader!.Id);
        Assert.Equal(cv.Guid, pdbId.Guid);
        Assert.Equal(Path.GetFileName(cv.Path), $"{id}.pdb");

        string? sourceLink = null;
        var embedded = new HashSet<DocumentHandle>();
        foreach (var h in reader.CustomDebugInformation)
        {
            var cdi = reader.GetCustomDebugInformation(h);
            Guid kind = reader.GetGuid(cdi.Kind);
            if (kind == SourceLinkKind) sourceLink = Encoding.UTF8.GetString(reader.GetBlobBytes(cdi.Value));
            else if (kind == EmbeddedSourceKind && cdi.Parent.Kind == HandleKind.Document) embedded.Add((DocumentHandle)cdi.Parent);
        }
        Assert.True(sourceLink is not null, $"{id}.pdb has no SourceLink information");
        var documents = JsonDocument.Parse(sourceLink).RootElement.GetProperty("documents");
        string url = documents.GetProperty("/_/*").GetString()!;
        var m = System.Text.RegularExpressions.Regex.Match(url, "^https://raw\\.githubusercontent\\.com/vtx-emu/vtx/([0-9a-f]{40})/\\*$");
        Assert.True(m.Success, $"{id}.pdb SourceLink maps /_/* to {url}");
        if (GitHead(repositoryRoot) is { } head) Assert.Equal(head, m.Groups[1].Value);

        int mapped = 0;
        string checkout = repositoryRoot.TrimEnd('/') + "/";
        foreach (var dh in reader.Documents)
        {
            string name = reader.GetString(reader.GetDocument(dh).Name);
            Assert.False(name.StartsWith(checkout, StringComparison.Ordinal), $"{id}.pdb names {name}: a path of the packing checkout");
            if (name.StartsWith("/_/", StringComparison.Ordinal)) mapped++;
            else Assert.True(embedded.Contains(dh), $"{id}.pdb document {name} is neither under /_/ nor embedded");
        }
        Assert.True(mapped > 0, $"{id}.pdb has no document under /_/");
        output.WriteLine($"{id}.pdb: {mapped} documents under /_/, {embedded.Count} embedded, SourceLink {url}");
    }

    private static byte[] ReadEntry(string zip, string entry)
    {
        using var archive = ZipFile.OpenRead(zip);
        var e = archive.GetEntry(entry);
        Assert.True(e is not null, $"{Path.GetFileName(zip)} lacks {entry}");
        using var s = e.Open();
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>The checkout's HEAD commit, or null when git cannot say (no git on PATH).</summary>
    private static string? GitHead(string root)
    {
        if (!IsOnPath("git")) return null;
        var psi = new ProcessStartInfo("git") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("rev-parse");
        psi.ArgumentList.Add("HEAD");
        using var p = Process.Start(psi)!;
        string sha = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return p.ExitCode == 0 && sha.Length == 40 ? sha : null;
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
