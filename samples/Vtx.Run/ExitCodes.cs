namespace Vtx.Run;

/// <summary>Vtx.Run's exit statuses (listed in --help and README.md).</summary>
public static class ExitCodes
{
    /// <summary>The guest powered the machine off (ACPI S5), or the program ended under gdb without a debug-exit code.</summary>
    public const int PowerOff = 0;
    /// <summary>A usage error (bad option or value, missing image), an unreadable file or an image that cannot be loaded; also a run that stopped for a reason with no status of its own.</summary>
    public const int Usage = 2;
    /// <summary>HLT with nothing to wake the processor.</summary>
    public const int Halted = 3;
    /// <summary>A triple fault (shutdown).</summary>
    public const int Shutdown = 4;
    /// <summary>The instruction or cycle limit was reached.</summary>
    public const int Limit = 5;
    /// <summary>The guest reset the machine.</summary>
    public const int Reset = 6;
    /// <summary>gdb sent 'kill'.</summary>
    public const int KilledFromGdb = 7;
    /// <summary>A host failure during the run (e.g. a trace file that cannot be written any more); the message says which.</summary>
    public const int HostError = 8;

    /// <summary>The table --help and README show: status, meaning.</summary>
    public static readonly IReadOnlyList<(string Code, string Meaning)> Table =
    [
        ("odd", "the guest's debug exit: (v << 1) | 1 for a write of v to port 0xF4 (POSIX keeps the low 8 bits)"),
        ("0", "the guest powered off (ACPI S5), or its program ended under gdb without a debug exit"),
        ("2", "usage error, unreadable file, image that cannot be loaded, or a run stopped otherwise"),
        ("3", "halted with nothing to wake the processor"),
        ("4", "triple fault (shutdown)"),
        ("5", "instruction or cycle limit reached"),
        ("6", "reset"),
        ("7", "killed from gdb"),
        ("8", "host error during the run (e.g. a trace file that cannot be written)"),
    ];
}
