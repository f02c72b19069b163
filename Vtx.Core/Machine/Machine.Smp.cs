using Vtx.Apic;
using Vtx.Devices;

namespace Vtx;

/// <summary>
/// The state of the deterministic multiprocessor schedule (captured by snapshots): the round being
/// run, which processor's turn it is, and whether the round has begun.
/// </summary>
internal sealed class SmpSchedule
{
    public ulong RoundEnd;   // the cycle at which the current round ends (a multiple of the quantum)
    public int Turn;         // the processor whose turn it is
    public bool InRound;     // a round has begun and not every processor has had its turn
    public ulong TscSeen;    // the highest TSC count (cycles × TSC per cycle, before offsets) any processor has read
}

public sealed partial class Machine
{
    // Deterministic SMP (issue 12 item 1). Time is cut into rounds of SmpQuantum cycles on the shared
    // cycle clock (rounds are [kQ, (k+1)Q)); in each round the processors take turns in index order,
    // each running (an ordinary Cpu.Run) until its own cycle count reaches the round's end. A
    // processor that is halted with nothing to wake it, or waits for a SIPI, lets its clock pass to
    // the round's end; when every processor is idle, time jumps to the earliest deadline any of them
    // has (a timer, a device, a posted event) or the run ends Halted. Nothing depends on host
    // threads or timing, so the same program and quantum always give the same interleaving, and a
    // run cut by an instruction limit continues exactly where the whole run would be (the schedule
    // state survives between runs and in snapshots). One processor is the ordinary Cpu.Run, unchanged.

    private readonly Cpu[] _cpus;
    private int _quantum = MachineOptions.DefaultSmpQuantum;
    private readonly SmpSchedule _smp = new();
    private int _smpStop; // host stop: 1 requested, 2 the wall-clock budget is spent

    /// <summary>The processors: <see cref="Cpu"/> (the bootstrap processor) first, then the application processors with APIC IDs 1..N-1.</summary>
    public IReadOnlyList<Cpu> Cpus => _cpus;

    /// <summary>The turn length in cycles of the multiprocessor schedule (<see cref="MachineOptions.SmpQuantum"/>).</summary>
    public int SmpQuantum => _quantum;

    private Cpu[] CreateProcessors(MachineOptions options)
    {
        _quantum = options.SmpQuantum;
        var cpus = new Cpu[options.Cpus];
        cpus[0] = Cpu;
        if (cpus.Length == 1) return cpus;
        for (int i = 1; i < cpus.Length; i++) cpus[i] = new Cpu(Memory, Cpu.Model, Cpu, i);
        var bus = new ApicBus(Array.ConvertAll(cpus, c => c.Apic));
        foreach (var c in cpus)
        {
            var cpu = c;
            cpu.TscSync = _smp;
            cpu.Apic.Bus = bus;
            cpu.Apic.InitSignal = cpu.RaiseInit;
            cpu.Apic.StartupSignal = cpu.RaiseSipi;
        }
        return cpus;
    }

    /// <summary>The schedule's state, for snapshots.</summary>
    internal SmpSchedule Schedule => _smp;

    /// <summary>The processor whose turn it is (devices that stop the run, the platform clock).</summary>
    private Cpu Running => _cpus[_smp.Turn];

    private void AttachPlatformProcessors()
    {
        if (Platform is null || _cpus.Length == 1) return;
        for (int i = 1; i < _cpus.Length; i++) Platform.AddProcessor(_cpus[i], () => Running, _cpus[0].Apic.Bus!);
    }

    /// <summary>The debug-exit device's stop request goes to the processor that wrote the port.</summary>
    private sealed class RunningCpuControl(Machine machine) : IMachineControl
    {
        public void RequestStop(int exitCode) => machine.Running.RequestStop(exitCode);
    }

    private void RequestSmpStop(int kind)
    {
        Interlocked.CompareExchange(ref _smpStop, kind == 0 ? 1 : kind, 0);
        Running.RequestStop(); // the turn in progress stops at its next boundary
    }

    /// <summary>
    /// The multiprocessor run. Limits bound the whole machine: <see cref="RunLimits.MaxInstructions"/>
    /// counts every processor's units, <see cref="RunLimits.MaxCycles"/> ends the run at the first
    /// round end at or past the machine clock plus the limit (the machine clock: the start of the
    /// round), <see cref="RunLimits.StopAddress"/> applies to every processor, host stops end the turn
    /// in progress. The result's RIP, reason and cycles are those of the processor that stopped
    /// (<see cref="RunResult.CpuIndex"/>); instructions are the sum over all processors.
    /// </summary>
    private RunResult RunSmp(in RunLimits limits)
    {
        int n = _cpus.Length;
        ulong q = (ulong)_quantum;
        var startCycles = new ulong[n];
        ulong startRetired = 0;
        for (int i = 0; i < n; i++) { startCycles[i] = _cpus[i].Cycles; startRetired += _cpus[i].InstructionsRetired; }
        if (!_smp.InRound && _smp.RoundEnd == 0) _smp.RoundEnd = _cpus[0].Cycles / q * q; // first run: the round the BSP is in
        ulong roundStart = _smp.InRound ? _smp.RoundEnd - q : _smp.RoundEnd;
        ulong target = limits.MaxCycles is ulong mc ? Sat(roundStart, mc) : ulong.MaxValue;
        ulong budget = limits.MaxInstructions ?? ulong.MaxValue;
        bool counted = limits.MaxInstructions is not null;

        using var reg = limits.Cancellation.CanBeCanceled ? limits.Cancellation.Register(static s => ((Machine)s!).RequestSmpStop(1), this) : default;
        using var timer = limits.MaxWallTime is TimeSpan wall ? StartWallTimer(wall) : null;
        if (limits.Cancellation.IsCancellationRequested) Interlocked.CompareExchange(ref _smpStop, 1, 0);

        StopReason reason;
        int who;
        while (true)
        {
            if (Volatile.Read(ref _smpStop) != 0) { who = _smp.Turn; reason = TakeSmpStop(); break; }
            if (!_smp.InRound)
            {
                // A new round [RoundEnd, RoundEnd + q).
                ulong start = _smp.RoundEnd;
                if (start >= target) { who = 0; reason = StopReason.CycleLimit; break; }
                if (AllIdle(out ulong wake))
                {
                    if (wake == ulong.MaxValue) { who = 0; reason = StopReason.Halted; break; }
                    // Nothing runs until the earliest deadline: jump to its round (not past the cycle limit).
                    ulong to = Math.Min(wake, target) / q * q;
                    if (to > start) start = to;
                    foreach (var c in _cpus) c.IdleUntil(start);
                    if (start >= target) { _smp.RoundEnd = start; who = 0; reason = StopReason.CycleLimit; break; }
                }
                _smp.RoundEnd = Sat(start, q);
                _smp.Turn = 0;
                _smp.InRound = true;
            }

            var cpu = _cpus[_smp.Turn];
            ulong end = _smp.RoundEnd;
            if (cpu.Cycles < end)
            {
                if (cpu.IsWaitingForSipi) cpu.IdleUntil(end);
                else
                {
                    if (counted && budget == 0) { who = _smp.Turn; reason = StopReason.InstructionLimit; break; }
                    ulong retiredBefore = cpu.InstructionsRetired;
                    var r = cpu.Run(new RunLimits
                    {
                        MaxCycles = end - cpu.Cycles,
                        MaxInstructions = counted ? budget : null,
                        StopAddress = limits.StopAddress,
                    });
                    if (counted) budget -= Math.Min(budget, cpu.LimitUnitsUsed(budget, retiredBefore));
                    if (r.Reason == StopReason.Halted) cpu.IdleUntil(end);
                    else if (r.Reason != StopReason.CycleLimit)
                    {
                        who = _smp.Turn;
                        reason = r.Reason;
                        if (reason == StopReason.Cancelled && Volatile.Read(ref _smpStop) != 0) reason = TakeSmpStop();
                        return Result(reason, who, r.Fault, r.ExitCode, startCycles, startRetired);
                    }
                }
            }
            if (++_smp.Turn == n)
            {
                _smp.Turn = 0;
                _smp.InRound = false;
            }
        }
        return Result(reason, who, null, null, startCycles, startRetired);
    }

    private RunResult Result(StopReason reason, int who, FaultInfo? fault, int? exitCode, ulong[] startCycles, ulong startRetired)
    {
        ulong retired = 0;
        foreach (var c in _cpus) retired += c.InstructionsRetired;
        var cpu = _cpus[who];
        return new RunResult(reason, cpu.Rip, retired - startRetired, cpu.Cycles - startCycles[who], fault) { ExitCode = exitCode, CpuIndex = who };
    }

    /// <summary>Every processor halted (or waiting for a SIPI) with nothing to take; <paramref name="wake"/> = the earliest cycle one could wake by itself.</summary>
    private bool AllIdle(out ulong wake)
    {
        wake = ulong.MaxValue;
        foreach (var c in _cpus)
        {
            if (!c.IsIdle) return false;
            wake = Math.Min(wake, c.IdleWakeDeadline);
        }
        return true;
    }

    /// <summary>Consumes the machine's host stop: the reason, and no processor keeps a stale request.</summary>
    private StopReason TakeSmpStop()
    {
        int kind = Interlocked.Exchange(ref _smpStop, 0);
        foreach (var c in _cpus) c.ClearHostStop();
        return kind == 2 ? StopReason.WallClockLimit : StopReason.Cancelled;
    }

    private Timer? StartWallTimer(TimeSpan budget)
    {
        if (budget <= TimeSpan.Zero) { Interlocked.Exchange(ref _smpStop, 2); return null; }
        if (budget.TotalMilliseconds >= 0xFFFF_FFFEu) return null; // as good as no budget (Timer's limit)
        return new Timer(static s => ((Machine)s!).RequestSmpStop(2), this, budget, Timeout.InfiniteTimeSpan);
    }

    private static ulong Sat(ulong a, ulong b) => a + b < a ? ulong.MaxValue : a + b;
}
