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
    /// retirements, so a stop inside a REP may report fewer instructions than the limit.
    /// </summary>
    public ulong? MaxInstructions { get; init; }
    /// <summary>Stop once this many more cycles have elapsed (at the first boundary at or past it).</summary>
    public ulong? MaxCycles { get; init; }
    /// <summary>Stop when RIP equals this address, before executing the instruction there.</summary>
    public ulong? StopAddress { get; init; }

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

    /// <inheritdoc />
    public override string ToString() =>
        $"{Reason}{(Fault is FaultInfo f ? " " + f : "")} at 0x{Rip:X} after {Instructions} instructions, {Cycles} cycles";
}
