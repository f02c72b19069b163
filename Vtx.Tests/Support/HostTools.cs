using System.Diagnostics;
using Xunit;

namespace Vtx.Tests.Support;

/// <summary>
/// Host programs some tests drive (gcc, gdb...): run one, and install a Debian package once when a
/// program is missing and the tests run as root with apt-get (as .ci/run does on a fresh machine).
/// </summary>
internal static class HostTools
{
    private static readonly object InstallLock = new();
    private static bool _updated;
    private static readonly HashSet<string> Tried = [];

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; returns its exit code and output.</summary>
    public static (int Code, string Out, string Err) Sh(string file, string args, string? cwd = null, int timeoutMs = 600_000)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = cwd ?? "" };
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            return (-1, so.Result, se.Result + $"\n(killed after {timeoutMs} ms)");
        }
        return (p.ExitCode, so.Result, se.Result);
    }

    /// <summary>True when <paramref name="tool"/> is on PATH.</summary>
    public static bool Has(string tool)
    {
        try { return Sh("sh", $"-c \"command -v {tool}\"").Code == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>
    /// Makes sure every program in <paramref name="tools"/> is there, installing Debian package
    /// <paramref name="package"/> once (apt-get update; apt-get install -y) when one is missing; fails
    /// the test with a message naming the package when that is impossible.
    /// </summary>
    public static void Ensure(string package, params string[] tools)
    {
        lock (InstallLock)
        {
            if (tools.All(Has)) return;
            if (Tried.Add(package) && Environment.UserName == "root" && Has("apt-get"))
            {
                if (!_updated) { _updated = true; Sh("apt-get", "update"); }
                Sh("apt-get", $"install -y {package}");
            }
            Assert.True(tools.All(Has), $"{string.Join("/", tools)} not installed and could not be installed (needs root and apt-get: apt-get install -y {package})");
        }
    }

    /// <summary>
    /// The files in <paramref name="directory"/> matching <paramref name="pattern"/> (sorted by name),
    /// installing Debian package <paramref name="package"/> once when there are none (see <see cref="EnsureThat"/>).
    /// </summary>
    public static string[] EnsureFiles(string package, string directory, string pattern)
    {
        string[] Find() => Directory.Exists(directory) ? Directory.GetFiles(directory, pattern).Order(StringComparer.Ordinal).ToArray() : [];
        EnsureThat(package, () => Find().Length > 0, Path.Combine(directory, pattern));
        return Find();
    }

    /// <summary>
    /// Makes sure <paramref name="present"/> holds, installing Debian package <paramref name="package"/>
    /// once (apt-get update; apt-get install -y, non-interactively) when it does not and the tests run as
    /// root with apt-get; fails the test naming <paramref name="what"/> and the package when it still does not.
    /// </summary>
    public static void EnsureThat(string package, Func<bool> present, string what)
    {
        lock (InstallLock)
        {
            if (present()) return;
            if (Tried.Add(package) && Environment.UserName == "root" && Has("apt-get"))
            {
                if (!_updated) { _updated = true; Sh("apt-get", "update"); }
                Sh("env", $"DEBIAN_FRONTEND=noninteractive apt-get install -y {package}");
            }
            Assert.True(present(), $"{what}: not installed and could not be installed (needs root and apt-get: apt-get install -y {package})");
        }
    }
}
