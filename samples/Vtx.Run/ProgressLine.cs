namespace Vtx.Run;

/// <summary>
/// A once-a-second progress line (instructions, MIPS, cycles, VM exits) on the terminal for runs
/// longer than a second; nothing when the diagnostics are not the console's standard error or it is
/// redirected. It only reads counters from a timer thread, so the run (and its results) are unchanged.
/// With several processors, instructions and VM exits are summed over all of them; cycles are the
/// bootstrap processor's (the machine clock).
/// </summary>
public sealed class ProgressLine : IDisposable
{
    private readonly Cpu[] _cpus;
    private readonly TextWriter _w;
    private readonly Timer _timer;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly ulong _startInstructions;
    private readonly Action<Vmx.VmxTransition>?[] _previous;
    private long _exits;
    private bool _printed;

    private ProgressLine(IReadOnlyList<Cpu> cpus, TextWriter w)
    {
        _cpus = cpus.ToArray();
        _w = w;
        _startInstructions = Retired();
        _previous = new Action<Vmx.VmxTransition>?[_cpus.Length];
        for (int i = 0; i < _cpus.Length; i++)
        {
            var previous = _previous[i] = _cpus[i].VmxTransitionObserved;
            _cpus[i].VmxTransitionObserved = t => { previous?.Invoke(t); if (t.Kind == Vmx.VmxTransitionKind.Exit) Interlocked.Increment(ref _exits); };
        }
        _timer = new Timer(_ => Print(), null, 1000, 1000);
    }

    /// <summary>A progress line for <paramref name="cpu"/>'s run, or null when <paramref name="diagnostics"/> is not an interactive terminal.</summary>
    public static ProgressLine? Start(Cpu cpu, TextWriter diagnostics) => Start([cpu], diagnostics);

    /// <summary>A progress line for the run of <paramref name="cpus"/> (a machine's processors), or null when <paramref name="diagnostics"/> is not an interactive terminal.</summary>
    public static ProgressLine? Start(IReadOnlyList<Cpu> cpus, TextWriter diagnostics) =>
        ReferenceEquals(diagnostics, Console.Error) && !Console.IsErrorRedirected ? new ProgressLine(cpus, diagnostics) : null;

    private ulong Retired()
    {
        ulong n = 0;
        foreach (var c in _cpus) n += c.InstructionsRetired;
        return n;
    }

    private void Print()
    {
        lock (_timer)
        {
            ulong n = Retired() - _startInstructions;
            double mips = n / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9) / 1e6;
            _w.Write($"\r[Vtx.Run] {n:N0} instructions, {mips:N0} MIPS, {_cpus[0].Cycles:N0} cycles, {Interlocked.Read(ref _exits):N0} VM exits   ");
            _w.Flush();
            _printed = true;
        }
    }

    /// <summary>Stops the timer, ends the line and restores the VMX observers.</summary>
    public void Dispose()
    {
        _timer.Dispose(new ManualResetEvent(false)); // no callback starts after this
        lock (_timer) { if (_printed) _w.WriteLine(); }
        for (int i = 0; i < _cpus.Length; i++) _cpus[i].VmxTransitionObserved = _previous[i];
    }
}
