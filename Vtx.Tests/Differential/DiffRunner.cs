using System.Text;
using Vtx.Tests.Native;

namespace Vtx.Tests.Differential;

/// <summary>Thrown when Vtx and the host CPU disagree on a defined result.</summary>
public sealed class DifferentialMismatchException(string message) : Exception(message);

/// <summary>Result of running one case in Vtx.</summary>
public sealed record VtxOutcome(ulong[] Gpr, ulong Rflags, ulong Rip, RunResult Result, byte[] Scratch, byte[] Stack);

/// <summary>
/// Runs a <see cref="DiffCase"/> natively (the oracle) and in Vtx from the same initial state and compares
/// all 16 GPRs, RIP, the status flags and DF, the scratch memory and the stack image, skipping only what
/// the case's <see cref="Undefined"/> masks.
/// </summary>
public static class DiffRunner
{
    private static readonly Lazy<NativeExecutor> s_native = new(() => new NativeExecutor());

    [ThreadStatic] private static Machine? t_machine;

    private static readonly StreamWriter? s_trace =
        Environment.GetEnvironmentVariable("VTX_DIFF_TRACE") is { Length: > 0 } path ? new StreamWriter(path, append: false) : null;

    private static readonly byte[] s_zeroPage = new byte[0x1000];

    /// <summary>Runs <paramref name="c"/> on the host CPU.</summary>
    public static (CpuSnapshot State, byte[] Scratch, byte[] Stack) RunNative(DiffCase c) => RunNative(c, catchInvalidOpcode: false);

    /// <summary>
    /// Runs <paramref name="c"/> on the host CPU; with <paramref name="catchInvalidOpcode"/> a native #UD is reported as
    /// <see cref="CpuSnapshot.ExitRip"/> = <see cref="NativeExecutor.InvalidOpcodeExitRip"/> instead of killing the process.
    /// </summary>
    public static (CpuSnapshot State, byte[] Scratch, byte[] Stack) RunNative(DiffCase c, bool catchInvalidOpcode)
    {
        if (s_trace is not null)
        {
            // VTX_DIFF_TRACE=file: log every case before running it natively, to find one that kills the process.
            lock (s_trace)
            {
                s_trace.WriteLine($"[{c.Family}] {c}\n{c.DescribeInput()}");
                s_trace.Flush();
            }
        }
        var input = new CpuSnapshot { Gpr = (ulong[])c.Gpr.Clone(), Rflags = c.Rflags & Layout.Compared };
        byte[] scratch = (byte[])c.Scratch.Clone();
        byte[] stack = (byte[])c.Stack.Clone();
        CpuSnapshot output = s_native.Value.Run(c.Bytes, input, scratch, stack, catchInvalidOpcode);
        return (output, scratch, stack);
    }

    /// <summary>
    /// Runs <paramref name="c"/> in Vtx: a 16 MiB machine (one per thread, its regions rewritten for every case),
    /// the instruction at the code address, the scratch image at 0x200000, the stack image below StackTop,
    /// RFLAGS = input status/DF plus IF (as natively, where IF is always 1 at CPL 3), one instruction.
    /// </summary>
    public static VtxOutcome RunVtx(DiffCase c)
    {
        Machine m = t_machine ??= new Machine(new MachineOptions { MemoryMiB = Layout.MemoryMiB });
        // Code page: zeros, then the instruction.
        m.WriteMemory(Layout.CodeAddress, s_zeroPage);
        m.WriteMemory(Layout.CodeAddress, c.Bytes);
        m.WriteMemory(Layout.Scratch, c.Scratch);
        // Stack region (and the slack page above its top) zeroed, then the image.
        for (ulong a = Layout.StackBase; a < Layout.StackTop + 0x1000; a += 0x1000) m.WriteMemory(a, s_zeroPage);
        m.WriteMemory(Layout.StackImageBase, c.Stack);

        Cpu cpu = m.Cpu;
        cpu.Resume();
        for (int i = 0; i < 16; i++) cpu[(Gpr)i] = c.Gpr[i];
        cpu.Rflags = (c.Rflags & Layout.Compared) | Layout.IF | 2;
        cpu.Rip = Layout.CodeAddress;
        cpu.FsBase = c.FsBase;
        cpu.GsBase = c.GsBase;
        // REP iterations count toward MaxInstructions without retiring (RunLimits.MaxInstructions): run
        // until the case's instructions have retired, as the host does, or another stop comes first.
        RunResult r;
        ulong retired = 0;
        int slices = 0;
        do
        {
            r = m.Run(RunLimits.Instructions((ulong)c.InstructionCount - retired));
            retired += r.Instructions;
        } while (r.Reason == StopReason.InstructionLimit && retired < (ulong)c.InstructionCount && ++slices < 1_000_000);
        r = r with { Instructions = retired };

        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++) gpr[i] = cpu[(Gpr)i];
        return new VtxOutcome(gpr, cpu.Rflags, cpu.Rip, r, m.ReadMemory(Layout.Scratch, Layout.ScratchSize),
            m.ReadMemory(Layout.StackImageBase, Layout.StackImage));
    }

    /// <summary>Runs both sides and throws <see cref="DifferentialMismatchException"/> describing every defined difference.</summary>
    public static void AssertSame(DiffCase c)
    {
        var (native, nScratch, nStack) = RunNative(c);
        VtxOutcome v = RunVtx(c);
        AssertSame(c, native, nScratch, nStack, v);
    }

    /// <summary>Compares a native result with Vtx's for <paramref name="c"/>; throws <see cref="DifferentialMismatchException"/> on a defined difference.</summary>
    public static void AssertSame(DiffCase c, in CpuSnapshot native, byte[] nScratch, byte[] nStack, VtxOutcome v)
    {
        var diffs = new List<string>();
        Undefined u = c.Undefined;

        if (v.Result.Reason != StopReason.InstructionLimit || v.Result.Instructions != (ulong)c.InstructionCount)
            diffs.Add($"Vtx did not retire {c.InstructionCount} instruction(s): {v.Result} (the host CPU executed without a fault)");

        for (int i = 0; i < 16; i++)
        {
            ulong cmp = ~u.Gpr[i];
            if (((native.Gpr[i] ^ v.Gpr[i]) & cmp) != 0)
                diffs.Add($"{Regs.Name(i),3}: expected 0x{native.Gpr[i]:X16}, actual 0x{v.Gpr[i]:X16}" +
                          (cmp != ulong.MaxValue ? $" (compared bits 0x{cmp:X16})" : ""));
        }
        if (native.ExitRip != v.Rip && !u.Rip)
            diffs.Add($"RIP: expected 0x{native.ExitRip:X}, actual 0x{v.Rip:X}");

        ulong flagCmp = Layout.Compared & ~u.Flags;
        ulong fd = (native.Rflags ^ v.Rflags) & flagCmp;
        if (fd != 0)
        {
            foreach (ulong bit in new[] { Layout.CF, Layout.PF, Layout.AF, Layout.ZF, Layout.SF, Layout.DF, Layout.OF })
                if ((fd & bit) != 0)
                    diffs.Add($"{Undefined.FlagNames(bit)}: expected {((native.Rflags & bit) != 0 ? 1 : 0)}, actual {((v.Rflags & bit) != 0 ? 1 : 0)}");
        }

        RecordMaskedDifferences(c, native, v);

        CompareMemory("scratch", Layout.Scratch, nScratch, v.Scratch, u, diffs);
        CompareMemory("stack", Layout.StackImageBase, nStack, v.Stack, u, diffs);

        if (diffs.Count == 0) return;

        var sb = new StringBuilder();
        sb.AppendLine($"Vtx differs from the host CPU [{c.Family}]");
        sb.AppendLine($"  instruction: {c.Hex}   {c.Disassembly}   (Iced {c.CodeNames})");
        sb.AppendLine("  input:");
        foreach (var line in c.DescribeInput().TrimEnd().Split('\n')) sb.Append("    ").AppendLine(line);
        if (u.Reasons.Count > 0)
        {
            sb.AppendLine("  masked as undefined:");
            foreach (var r in u.Reasons) sb.Append("    ").AppendLine(r);
        }
        sb.AppendLine("  differences (expected = host CPU, actual = Vtx):");
        foreach (var d in diffs) sb.Append("    ").AppendLine(d);
        sb.AppendLine($"  host RFLAGS=0x{native.Rflags:X} [{CpuSnapshot.FormatFlags(native.Rflags)}]  Vtx RFLAGS=0x{v.Rflags:X} [{CpuSnapshot.FormatFlags(v.Rflags)}]  Vtx run: {v.Result}");
        throw new DifferentialMismatchException(sb.ToString());
    }

    /// <summary>
    /// How often a masked (undefined) result actually differed between the host and Vtx, per family and item:
    /// evidence that each mask is needed (printed by the tests).
    /// </summary>
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Family, string Item), int> MaskedDifferences = new();

    private static void RecordMaskedDifferences(DiffCase c, in CpuSnapshot native, VtxOutcome v)
    {
        string family = c.Second is null ? c.Family : "chains";
        ulong f = (native.Rflags ^ v.Rflags) & c.Undefined.Flags & Layout.Compared;
        foreach (ulong bit in new[] { Layout.CF, Layout.PF, Layout.AF, Layout.ZF, Layout.SF, Layout.OF })
            if ((f & bit) != 0) MaskedDifferences.AddOrUpdate((family, Undefined.FlagNames(bit)), 1, (_, n) => n + 1);
        for (int i = 0; i < 16; i++)
            if (((native.Gpr[i] ^ v.Gpr[i]) & c.Undefined.Gpr[i]) != 0)
                MaskedDifferences.AddOrUpdate((family, "destination register"), 1, (_, n) => n + 1);
    }

    private static void CompareMemory(string name, ulong baseAddress, byte[] expected, byte[] actual, Undefined u, List<string> diffs)
    {
        int shown = 0, total = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == actual[i]) continue;
            ulong a = baseAddress + (ulong)i;
            if (u.IsMemoryMasked(a)) continue;
            total++;
            if (shown < 32)
            {
                diffs.Add($"{name}[0x{a:X}]: expected 0x{expected[i]:X2}, actual 0x{actual[i]:X2}");
                shown++;
            }
        }
        if (total > shown) diffs.Add($"... {total - shown} more differing {name} bytes");
    }
}
