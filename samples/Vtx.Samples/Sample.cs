using Iced.Intel;

namespace Vtx.Samples;

/// <summary>
/// A runnable demonstration: it builds a guest program with Iced's assembler, runs it on Vtx,
/// writes a readable trace and returns a one-line answer to the question it demonstrates.
/// Every sample is also run by the test suite, which asserts its trace.
/// </summary>
public abstract class Sample
{
    /// <summary>Short name used on the command line.</summary>
    public abstract string Name { get; }

    /// <summary>The question the sample answers.</summary>
    public abstract string Question { get; }

    /// <summary>Runs the sample, writing its trace to <paramref name="trace"/>; returns the one-line answer.</summary>
    public abstract string Run(TextWriter trace);

    /// <summary>
    /// Called with every machine a sample run on this thread creates, before it runs (e.g. to attach a
    /// timeline recorder: <c>--timeline DIR</c>); null for none. Per thread, so samples run in parallel
    /// (as the test suite does) do not see each other's hooks.
    /// </summary>
    public static Action<Machine>? MachineCreated { get => _machineCreated; set => _machineCreated = value; }

    [ThreadStatic] private static Action<Machine>? _machineCreated;

    /// <summary>Creates a machine for a sample and reports it to <see cref="MachineCreated"/>.</summary>
    public static Machine NewMachine(MachineOptions options)
    {
        var m = new Machine(options);
        MachineCreated?.Invoke(m);
        return m;
    }

    /// <summary>All samples, in the order the runner shows them.</summary>
    public static IReadOnlyList<Sample> All { get; } = new Sample[]
    {
        new FibSample(),
        new SelfModifyingCodeSample(),
        new DivideErrorSample(),
        new NmiExitingSample(),
        new VirtualNmiSample(),
        new InterruptWindowSample(),
        new MovSsBlockingSample(),
        new NestedSample(),
    };

    /// <summary>Assembles 64-bit code at <paramref name="at"/>.</summary>
    protected static byte[] Assemble(Action<Assembler> body, ulong at, int bitness = 64)
    {
        var a = new Assembler(bitness);
        body(a);
        var w = new ByteWriter();
        a.Assemble(w, at);
        return w.Bytes.ToArray();
    }

    /// <summary>Writes one trace line: cycle, event, fields.</summary>
    protected static void Trace(TextWriter w, Cpu cpu, string ev, string fields) =>
        w.WriteLine($"  [cycle {cpu.Cycles,8}] {ev,-14} {fields}");

    private sealed class ByteWriter : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
