using System.Buffers.Binary;
using Vtx.Tests.Native;

namespace Vtx.Bench;

/// <summary>
/// Addresses shared by both hosts. Vtx uses the same addresses as the native runner
/// (<see cref="NativeExecutor"/>), so guest and host see the very same layout.
/// </summary>
public static class Layout
{
    public const ulong CodeAddress = NativeExecutor.CodeAddress;   // 0x10_0000
    public const ulong DataAddress = NativeExecutor.ScratchAddress; // 0x20_0000 (64 KiB)
    public const ulong StackTop = NativeExecutor.StackTop;          // 0x30_0000 (Vtx only; native code runs on the thread's stack)
    public const int MemoryMiB = 4;
}

/// <summary>Runs a <see cref="Workload"/> in a Vtx <see cref="Machine"/>.</summary>
public sealed class VtxHost
{
    private readonly Workload _w;
    private readonly RunLimits _limits = new() { MaxInstructions = 10_000_000_000 };

    /// <summary>A machine holding <paramref name="w"/>'s code and data, with <paramref name="model"/> (the default model when null).</summary>
    public VtxHost(Workload w, CpuModel? model = null)
    {
        _w = w;
        Machine = new Machine(new MachineOptions { MemoryMiB = Layout.MemoryMiB, CpuModel = model });
        Machine.WriteMemory(Layout.CodeAddress, w.Code);
        if (w.DataBytes > 0)
        {
            var data = new byte[w.DataBytes];
            w.InitData(data);
            Machine.WriteMemory(Layout.DataAddress, data);
        }
    }

    public Machine Machine { get; }

    /// <summary>The last run's result.</summary>
    public RunResult LastRun { get; private set; }

    /// <summary>
    /// Calls the function: RDI = data address, RSI = <see cref="Workload.Arg1"/>, a return address pointing at the
    /// trailing HLT on the stack, RIP at the entry; runs to the HLT and returns RAX. Allocation-free.
    /// </summary>
    public ulong Call()
    {
        Cpu cpu = Machine.Cpu;
        Span<byte> ret = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(ret, Layout.CodeAddress + (ulong)_w.HaltOffset);
        Machine.WriteMemory(Layout.StackTop - 8, ret);
        cpu[Gpr.Rsp] = Layout.StackTop - 8;
        cpu[Gpr.Rdi] = Layout.DataAddress;
        cpu[Gpr.Rsi] = _w.Arg1;
        cpu.Rip = Layout.CodeAddress;
        cpu.Resume();
        RunResult r = Machine.Run(_limits);
        LastRun = r;
        if (r.Reason != StopReason.Halted || r.Rip != Layout.CodeAddress + (ulong)_w.HaltOffset + 1)
            Fail(r);
        return cpu[Gpr.Rax];
    }

    /// <summary>Rewrites the code bytes, which drops their cached decodings (the next <see cref="Call"/> decodes afresh).</summary>
    public void InvalidateCode() => Machine.WriteMemory(Layout.CodeAddress, _w.Code);

    private void Fail(RunResult r) =>
        throw new InvalidOperationException($"{_w.Name}: Vtx run did not return to the HLT: {r}");
}

/// <summary>Runs a <see cref="Workload"/> natively through the test project's native runner.</summary>
public sealed class NativeHost : IDisposable
{
    private readonly NativeExecutor _exec;
    private readonly PreparedCode _code;
    private readonly Workload _w;

    public NativeHost(Workload w)
    {
        if (!NativeExecutor.IsSupported)
            throw new PlatformNotSupportedException("native runs unavailable: " + NativeExecutor.UnsupportedReason);
        _w = w;
        _exec = new NativeExecutor();
        if (w.DataBytes > 0)
        {
            var data = new byte[w.DataBytes];
            w.InitData(data);
            _exec.WriteScratch(data);
        }
        _code = _exec.Prepare(w.Code);
    }

    /// <summary>Calls the function natively with RDI = data address, RSI = <see cref="Workload.Arg1"/>.</summary>
    public ulong Call() => _code.Invoke(Layout.DataAddress, _w.Arg1);

    public byte[] ReadData()
    {
        var b = new byte[_w.DataBytes];
        _exec.ReadScratch(b);
        return b;
    }

    public void Dispose()
    {
        _code.Dispose();
        _exec.Dispose();
    }
}

/// <summary>Checks that Vtx and the host agree on a workload, and counts its guest instructions.</summary>
public static class Validation
{
    private static readonly Dictionary<string, ulong> s_counts = [];

    /// <summary>Runs the workload once in each host, compares RAX and the data buffer, returns the guest instruction count.</summary>
    public static ulong Check(Workload w)
    {
        var vtx = new VtxHost(w);
        ulong v = vtx.Call();
        ulong insns = vtx.LastRun.Instructions;
        if (vtx.Call() != v || vtx.LastRun.Instructions != insns)
            throw new InvalidOperationException($"{w.Name}: Vtx runs are not repeatable");
        if (NativeExecutor.IsSupported)
        {
            using var native = new NativeHost(w);
            ulong n = native.Call();
            if (n != v)
                throw new InvalidOperationException($"{w.Name}: Vtx returned 0x{v:X}, native 0x{n:X}");
            if (w.DataBytes > 0 && !native.ReadData().AsSpan().SequenceEqual(vtx.Machine.ReadMemory(Layout.DataAddress, w.DataBytes)))
                throw new InvalidOperationException($"{w.Name}: Vtx and native data buffers differ after the run");
        }
        return insns;
    }

    /// <summary>Guest instructions per Vtx run of <paramref name="w"/> (computed once per process).</summary>
    public static ulong InstructionsPerRun(Workload w)
    {
        lock (s_counts)
        {
            if (!s_counts.TryGetValue(w.Name, out ulong n))
            {
                var vtx = new VtxHost(w);
                vtx.Call();
                s_counts[w.Name] = n = vtx.LastRun.Instructions;
            }
            return n;
        }
    }
}
