using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Vtx.Bench;

/// <summary>
/// What the peer benchmarks (<c>--paged</c>, <c>--peers</c>) need from the host: whole-process wall and CPU
/// time of a child, medians, and Debian's QEMU found on PATH or installed with apt-get.
/// </summary>
internal static class HostProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> to completion and returns its wall time and CPU time (user + system of the
    /// reaped child, getrusage(RUSAGE_CHILDREN): on a shared machine the wall time depends on the other tenants,
    /// the CPU time much less; QEMU's TCG and I/O threads are both counted). Throws, naming
    /// <paramref name="name"/>, when the exit status or the standard output differ from what is expected, so a
    /// timing is never reported for a wrong result.
    /// </summary>
    public static (double Wall, double Cpu, string Stderr) Time(string file, string args, string expected, int expectedExit, string name)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        double cpu0 = ChildrenCpuSeconds();
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var errTask = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        sw.Stop();
        double cpu = ChildrenCpuSeconds() - cpu0;
        string err = errTask.Result;
        if (p.ExitCode != expectedExit || stdout != expected)
            throw new InvalidOperationException($"{name}: exit {p.ExitCode}, output \"{stdout.Trim()}\" (expected \"{expected.Trim()}\"); stderr: {err.Trim()}");
        return (sw.Elapsed.TotalSeconds, cpu, err);
    }

    /// <summary>The median of <paramref name="values"/> (NaN when there are none).</summary>
    public static double Median(IEnumerable<double> values)
    {
        double[] s = [.. values.Order()];
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>
    /// The qemu-system-x86_64 binary: found on PATH, else Debian's qemu-system-x86 installed with apt-get (never
    /// assumed present); "" when that fails, and the caller reports QEMU as not available.
    /// </summary>
    public static string EnsureQemu()
    {
        string? found = Which("qemu-system-x86_64");
        if (found is not null) return found;
        Console.WriteLine("qemu-system-x86_64 not found: apt-get install -y qemu-system-x86");
        try
        {
            foreach (string args in new[] { "update", "install -y qemu-system-x86" })
            {
                using var p = Process.Start(new ProcessStartInfo("apt-get", args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true });
                if (p is null) continue;
                var err = p.StandardError.ReadToEndAsync();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                _ = err.Result;
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.WriteLine($"apt-get failed: {e.Message}");
        }
        return Which("qemu-system-x86_64") ?? "";
    }

    /// <summary>The first <paramref name="name"/> on PATH, or null.</summary>
    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out RUsage usage);

    // Linux x86-64 struct rusage: two timevals (user, system), then 14 longs.
    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSec, UserUsec, SysSec, SysUsec;
        public long Rest0, Rest1, Rest2, Rest3, Rest4, Rest5, Rest6, Rest7, Rest8, Rest9, Rest10, Rest11, Rest12, Rest13;
    }

    private static double ChildrenCpuSeconds()
    {
        const int RusageChildren = -1;
        if (!OperatingSystem.IsLinux() || getrusage(RusageChildren, out RUsage u) != 0) return double.NaN;
        return u.UserSec + u.UserUsec / 1e6 + u.SysSec + u.SysUsec / 1e6;
    }
}
