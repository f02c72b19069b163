using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Vtx.Bench;

/// <summary>
/// Issue 13, cold decode: thread CPU time and bytes allocated per first-time decoded instruction, for a large
/// straight-line code area (the cold-start generator's register ALU mix, no loops, every instruction executed
/// once) run (1) on a fresh machine — new page records, runs never simulated by the timing engine before —
/// and (2) again after the code is rewritten in place, which drops the pages (pooled arrays, the timing
/// engine's result cache may answer). The warm figure (decodings cached) is the execution alone; "decode"
/// columns subtract it. CPU time is the thread's own (CLOCK_THREAD_CPUTIME_ID), so time spent waiting for a
/// core on a loaded machine does not count.
/// </summary>
public static class ColdDecode
{
    private const ulong Code = 0x10_0000;
    private const ulong StackTop = 0x10_0000 - 0x1000;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec, Nsec; }

    [DllImport("libc")]
    private static extern int clock_gettime(int clock, out Timespec ts);

    private static long ThreadNs()
    {
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out Timespec t);
        return t.Sec * 1_000_000_000 + t.Nsec;
    }

    public static int Run(int instructions, int rounds)
    {
        Workload w = Workloads.BuildStraightLine(instructions);
        int memMiB = (int)((Code + (ulong)w.Code.Length) >> 20) + 2;
        Console.WriteLine($"cold decode: {instructions:N0} straight-line instructions, {w.Code.Length:N0} bytes ({w.Code.Length / 4096.0:F0} pages), {rounds} rounds; thread CPU time");
        // A first round on its own machine so the JIT has settled before anything is measured.
        Measure(w, memMiB, out _, out _, out _, out _, out _, out _, out _);
        var first = new List<double>(); var again = new List<double>(); var warm = new List<double>();
        long firstB = 0, againB = 0; ulong n = 0;
        int gc0 = GC.CollectionCount(0), gc1 = GC.CollectionCount(1), gc2 = GC.CollectionCount(2);
        for (int r = 0; r < rounds; r++)
        {
            Measure(w, memMiB, out ulong insns, out long f, out long fb, out long wr, out long a, out long ab, out _);
            n = insns;
            first.Add(f / (double)insns); warm.Add(wr / (double)insns); again.Add(a / (double)insns);
            firstB = fb; againB = ab;
        }
        Console.WriteLine($"GCs during the measured rounds (gen0/1/2, incl. one forced per round): {GC.CollectionCount(0) - gc0}/{GC.CollectionCount(1) - gc1}/{GC.CollectionCount(2) - gc2}");
        double Med(List<double> l) { l.Sort(); return l[l.Count / 2]; }
        double fmin = first.Min(), amin = again.Min(), wmin = warm.Min();
        double fm = Med(first), wm = Med(warm), am = Med(again);
        Console.WriteLine($"instructions per run: {n:N0}");
        Console.WriteLine($"{"case",-34} {"ns/insn",9} {"decode ns/insn",15} {"B/insn",8}");
        Console.WriteLine($"{"first-time (fresh machine)",-34} {fm,9:F1} {fm - wm,15:F1} {firstB / (double)n,8:F1}");
        Console.WriteLine($"{"re-decode after drop (rewritten)",-34} {am,9:F1} {am - wm,15:F1} {againB / (double)n,8:F1}");
        Console.WriteLine($"{"warm (decoded; execution only)",-34} {wm,9:F1} {"",15} {"",8}");
        Console.WriteLine($"best round: first-time {fmin:F1} ({fmin - wmin:F1} decode), re-decode {amin:F1} ({amin - wmin:F1} decode), warm {wmin:F1} ns/insn");
        Console.WriteLine($"rounds (first/again ns/insn): {string.Join(" ", first.Select(x => x.ToString("F0")))} / {string.Join(" ", again.Select(x => x.ToString("F0")))}");
        return 0;
    }

    private static void Measure(Workload w, int memMiB, out ulong insns, out long firstNs, out long firstB,
        out long warmNs, out long againNs, out long againB, out ulong rax)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = memMiB });
        m.WriteMemory(Code, w.Code);
        ulong halt = Code + (ulong)w.HaltOffset;
        var limits = new RunLimits { MaxInstructions = 1_000_000_000 };
        GC.Collect();
        long b0 = GC.GetAllocatedBytesForCurrentThread(), t0 = ThreadNs();
        RunResult r = Call(m, halt, limits);
        long t1 = ThreadNs(), b1 = GC.GetAllocatedBytesForCurrentThread();
        insns = r.Instructions;
        firstNs = t1 - t0; firstB = b1 - b0;
        t0 = ThreadNs();
        Call(m, halt, limits);
        warmNs = ThreadNs() - t0;
        m.WriteMemory(Code, w.Code); // drops every page's decodings
        b0 = GC.GetAllocatedBytesForCurrentThread(); t0 = ThreadNs();
        Call(m, halt, limits);
        t1 = ThreadNs(); b1 = GC.GetAllocatedBytesForCurrentThread();
        againNs = t1 - t0; againB = b1 - b0;
        rax = m.Cpu[Gpr.Rax];
    }

    private static RunResult Call(Machine m, ulong halt, RunLimits limits)
    {
        Span<byte> ret = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(ret, halt);
        m.WriteMemory(StackTop - 8, ret);
        Cpu cpu = m.Cpu;
        cpu[Gpr.Rsp] = StackTop - 8;
        cpu.Rip = Code;
        cpu.Resume();
        RunResult r = m.Run(limits);
        if (r.Reason != StopReason.Halted || r.Rip != halt + 1)
            throw new InvalidOperationException($"cold decode: run did not reach the HLT: {r}");
        return r;
    }
}
