namespace Vtx;

public sealed partial class Cpu
{
    // Host stops: requests from outside the run (another thread, a cancellation token, a wall-clock
    // budget). They share one int that the run loop reads once per iteration (and REP string
    // instructions once per iteration of theirs); only when it is non-zero does TakeHostStop look at
    // what was asked. Nothing here touches architectural state, so a run that uses none of them is
    // exactly as deterministic as before.

    private int _hostStop;
    private const int HostStopLook = 1;       // something may have asked: examine at the next boundary
    private const int HostStopRequested = 2;  // RequestStop was called and no run has consumed it yet

    /// <summary>
    /// Asks the running (or the next) <see cref="Run(in RunLimits)"/> to stop at its next instruction
    /// boundary with <see cref="StopReason.Cancelled"/>. Thread-safe: this is the one member that may
    /// be called from another thread while <c>Run</c> executes. The request stays pending until a run
    /// consumes it, so a request made just before <c>Run</c> starts is not lost: that run then stops
    /// before executing anything. The stop is taken where the loop looks: between sequential runs of
    /// at most 64 instructions, and between the iterations of a REP string instruction (RIP stays on
    /// it, registers hold the progress, as for any interrupted REP; SDM Vol. 2B, REP).
    /// </summary>
    public void RequestStop() => Interlocked.Or(ref _hostStop, HostStopLook | HostStopRequested);

    /// <summary>The per-run state of a cancellation token and a wall-clock budget (default: neither).</summary>
    private struct HostStopWatch
    {
        public CancellationTokenRegistration Registration;
        public WallClockTimer? Timer;

        public readonly bool Expired => Timer is { Expired: true };

        public readonly void Dispose()
        {
            Registration.Dispose();
            Timer?.Dispose();
        }
    }

    /// <summary>Fires once when a run's wall-clock budget is spent: marks itself expired and raises the look flag.</summary>
    private sealed class WallClockTimer : IDisposable
    {
        private readonly Cpu _cpu;
        private readonly Timer? _timer;
        private volatile bool _expired;

        public WallClockTimer(Cpu cpu, TimeSpan budget)
        {
            _cpu = cpu;
            if (budget <= TimeSpan.Zero) { Fire(); return; }
            // System.Threading.Timer takes at most 0xFFFFFFFE ms; a longer budget is as good as none.
            if (budget.TotalMilliseconds >= 0xFFFF_FFFEu) return;
            _timer = new Timer(static s => ((WallClockTimer)s!).Fire(), this, budget, Timeout.InfiniteTimeSpan);
        }

        public bool Expired => _expired;

        private void Fire()
        {
            _expired = true; // before the flag: the loop that sees the flag sees this too
            Interlocked.Or(ref _cpu._hostStop, HostStopLook);
        }

        public void Dispose() => _timer?.Dispose();
    }

    private HostStopWatch StartHostStopWatch(in RunLimits limits)
    {
        var w = new HostStopWatch();
        if (limits.MaxWallTime is TimeSpan budget) w.Timer = new WallClockTimer(this, budget);
        if (limits.Cancellation.CanBeCanceled)
            w.Registration = limits.Cancellation.Register(static s => Interlocked.Or(ref ((Cpu)s!)._hostStop, HostStopLook), this);
        return w;
    }

    /// <summary>
    /// The look flag was set: decide whether this run stops. A request or a cancelled token gives
    /// <see cref="StopReason.Cancelled"/>, a spent budget <see cref="StopReason.WallClockLimit"/>;
    /// a flag left over from an earlier run's timer or token is cleared and the run goes on.
    /// </summary>
    private bool TakeHostStop(in RunLimits limits, in HostStopWatch watch, out StopReason reason)
    {
        // Clear "look" before examining: whatever is raised after this is seen at the next boundary.
        int was = Interlocked.And(ref _hostStop, ~(HostStopLook | HostStopRequested));
        if ((was & HostStopRequested) != 0 || limits.Cancellation.IsCancellationRequested) { reason = StopReason.Cancelled; return true; }
        if (watch.Expired) { reason = StopReason.WallClockLimit; return true; }
        reason = default;
        return false;
    }
}
