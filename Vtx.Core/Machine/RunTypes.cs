namespace Vtx;

/// <summary>Why <see cref="Cpu.Run(in RunLimits)"/> returned.</summary>
public enum StopReason
{
    /// <summary>The instruction limit was reached.</summary>
    InstructionLimit,
    /// <summary>The cycle limit was reached (checked at instruction boundaries and between REP iterations).</summary>
    CycleLimit,
    /// <summary>RIP reached the requested stop address (the instruction there has not executed).</summary>
    StopAddress,
    /// <summary>An instruction raised an exception; <see cref="RunResult.Fault"/> says which. RIP is the faulting instruction.</summary>
    Exception,
    /// <summary>HLT executed and nothing can wake the processor (no NMI or unmasked interrupt pending, none posted).</summary>
    Halted,
    /// <summary>A triple fault put the processor in the shutdown state (SDM Vol. 3A, 6.15, interrupt 8).</summary>
    Shutdown,
    /// <summary>The guest asked to stop through a device (the debug-exit port); <see cref="RunResult.ExitCode"/> holds the code.</summary>
    DebugExit,
    /// <summary>
    /// The host asked the run to stop (<see cref="Cpu.RequestStop()"/>, <see cref="Machine.RequestStop()"/>
    /// or <see cref="RunLimits.Cancellation"/>); RIP is at an instruction boundary (possibly on a REP
    /// string instruction interrupted between iterations), and running again continues from there.
    /// </summary>
    Cancelled,
    /// <summary>The run's wall-clock budget (<see cref="RunLimits.MaxWallTime"/>) was spent; RIP is at an instruction boundary as for <see cref="Cancelled"/>.</summary>
    WallClockLimit,
    /// <summary>RIP reached a host breakpoint (<see cref="Cpu.AddHostBreakpoint"/>); the instruction there has not executed.</summary>
    Breakpoint,
    /// <summary>An instruction's data access touched a host watchpoint (<see cref="Cpu.AddHostWatchpoint"/>); it has retired, and <see cref="Cpu.LastWatchpoint"/> says which.</summary>
    Watchpoint,
    /// <summary>
    /// The guest powered the machine off through the ACPI fixed hardware (a write of SLP_TYP = S5 with
    /// SLP_EN to PM1a_CNT, ACPI 6.5, 7.4.2 and 4.8.3.2.1); RIP is after the I/O instruction.
    /// </summary>
    PowerOff,
    /// <summary>The guest reset the machine through the reset register (FADT RESET_REG, port CF9h); RIP is after the I/O instruction.</summary>
    Reset,
}

/// <summary>An exception raised by the guest (SDM Vol. 3A, 6.3).</summary>
/// <param name="Vector">Exception vector.</param>
/// <param name="ErrorCode">Error code, for the exceptions that push one; null otherwise.</param>
public readonly record struct FaultInfo(ExceptionVector Vector, uint? ErrorCode)
{
    /// <inheritdoc />
    public override string ToString() => ErrorCode is uint e ? $"#{Vector}({e:X})" : $"#{Vector}";
}

/// <summary>
/// Limits for one <see cref="Cpu.Run(in RunLimits)"/> call. A null limit is unlimited. Every limit
/// bounds host time: no guest state (a REP string instruction with RCX = 2^64 - 1, HLT, wait-for-SIPI)
/// keeps a run going past any of them.
/// </summary>
public readonly record struct RunLimits
{
    /// <summary>
    /// Stop after this many more instructions. Each retired instruction counts one, and so does each
    /// iteration of a REP string instruction other than the one that completes it (which retires the
    /// instruction): a REP of n iterations counts n. When the limit is reached inside a REP, the run
    /// stops between iterations (<see cref="StopReason.InstructionLimit"/>) with RIP on the instruction
    /// and rCX/rSI/rDI holding the progress, as the SDM allows (Vol. 2B, REP); the next run continues
    /// it. <see cref="Cpu.InstructionsRetired"/> and <see cref="RunResult.Instructions"/> count only
    /// retirements, so a stop inside a REP may report fewer instructions than the limit. Each exception
    /// delivered through the IDT also counts as one, so a guest caught in a loop of faults (that retires
    /// nothing) is still stopped by this limit.
    /// </summary>
    public ulong? MaxInstructions { get; init; }
    /// <summary>Stop once this many more cycles have elapsed (at the first boundary at or past it).</summary>
    public ulong? MaxCycles { get; init; }
    /// <summary>Stop when RIP equals this address, before executing the instruction there.</summary>
    public ulong? StopAddress { get; init; }

    /// <summary>
    /// Stops the run with <see cref="StopReason.Cancelled"/> at the next instruction boundary the loop
    /// looks at once the token is cancelled (already cancelled: before the first instruction). The
    /// token is watched through a registration made for the duration of the run; like
    /// <see cref="Cpu.RequestStop()"/>, it costs the run loop nothing beyond the one flag it reads per
    /// iteration. Results stay deterministic as long as the token is not cancelled.
    /// </summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>
    /// A wall-clock budget for the run: once this much host time has passed, the run stops with
    /// <see cref="StopReason.WallClockLimit"/> at the next boundary the loop looks at (zero or
    /// negative: before the first instruction). Measured by a timer started with the run, not by the
    /// loop, so the interpreter pays nothing for it; precision is that of the system timer (about a
    /// millisecond or more). Where such a run stops depends on host speed: use it as a safety net,
    /// and instruction or cycle limits for reproducible results.
    /// </summary>
    public TimeSpan? MaxWallTime { get; init; }

    /// <summary>Limits with only an instruction count.</summary>
    public static RunLimits Instructions(ulong count) => new() { MaxInstructions = count };
}

/// <summary>The outcome of a run.</summary>
/// <param name="Reason">Why the run stopped.</param>
/// <param name="Rip">RIP at the stop.</param>
/// <param name="Instructions">Instructions retired during this run.</param>
/// <param name="Cycles">Cycles elapsed during this run.</param>
/// <param name="Fault">The exception, when <paramref name="Reason"/> is <see cref="StopReason.Exception"/>.</param>
public readonly record struct RunResult(StopReason Reason, ulong Rip, ulong Instructions, ulong Cycles, FaultInfo? Fault)
{
    /// <summary>The exit code a guest gave through the debug-exit device (<see cref="StopReason.DebugExit"/>), else null.</summary>
    public int? ExitCode { get; init; }

    /// <summary>
    /// The processor the stop concerns (its index in <see cref="Machine.Cpus"/>; 0 with one processor):
    /// the one that faulted, halted the machine's last activity, reached the limit or the stop address,
    /// or whose turn a host stop ended. <see cref="Rip"/> and <see cref="Cycles"/> are that processor's.
    /// </summary>
    public int CpuIndex { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Reason}{(Fault is FaultInfo f ? " " + f : "")} at 0x{Rip:X} after {Instructions} instructions, {Cycles} cycles";
}
