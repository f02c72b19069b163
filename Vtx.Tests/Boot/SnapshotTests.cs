using System.Security.Cryptography;
using Xunit;

namespace Vtx.Tests.Boot;

/// <summary>Snapshot and restore: a restored machine continues exactly as the original did.</summary>
public class SnapshotTests
{
    private static string Fingerprint(Machine m, RunResult r)
    {
        var regs = string.Join(",", Enumerable.Range(0, 16).Select(i => m.Cpu[(Gpr)i].ToString("X")));
        var ram = Convert.ToHexString(SHA256.HashData(m.ReadMemory(0, (int)m.Memory.Size)));
        return $"{r.Reason}/{r.ExitCode}/{m.Cpu.Rip:X}/{m.Cpu.Rflags:X}/{m.Cpu.Cycles}/{m.Cpu.InstructionsRetired}/{regs}/{m.Uart.Output}/{ram}";
    }

    [Theory]
    [InlineData(1)]
    [InlineData(500)]
    [InlineData(2_000)]
    public void RestoredMachineReplaysTheSameFuture(ulong after)
    {
        var kernel = LongModeKernelTests.BuildKernel(out _, out _);
        var m = new Machine(new MachineOptions { MemoryMiB = 16 });
        m.LoadMultiboot(kernel);
        m.Run(RunLimits.Instructions(after));
        var snap = m.Snapshot();

        var first = Fingerprint(m, m.Run(RunLimits.Instructions(2_000_000)));
        m.Restore(snap);
        var second = Fingerprint(m, m.Run(RunLimits.Instructions(2_000_000)));
        Assert.Equal(first, second);
        Assert.StartsWith("DebugExit/85/", first);
    }

    [Fact]
    public void SnapshotMovesToAnotherMachineOfTheSameSize()
    {
        var kernel = LongModeKernelTests.BuildKernel(out _, out _);
        var a = new Machine(new MachineOptions { MemoryMiB = 16 });
        a.LoadMultiboot(kernel);
        a.Run(RunLimits.Instructions(3000));
        var snap = a.Snapshot();
        var b = new Machine(new MachineOptions { MemoryMiB = 16 });
        b.Restore(snap);
        Assert.Equal(Fingerprint(a, a.Run(RunLimits.Instructions(2_000_000))), Fingerprint(b, b.Run(RunLimits.Instructions(2_000_000))));
        Assert.Equal("long mode\nnmi\ndone\n", b.Uart.Output); // the UART's output is machine state too
    }

    [Fact]
    public void RestoringIntoADifferentRamSizeIsRefused()
    {
        var snap = new Machine(new MachineOptions { MemoryMiB = 2 }).Snapshot();
        var ex = Assert.Throws<ArgumentException>(() => new Machine(new MachineOptions { MemoryMiB = 4 }).Restore(snap));
        Assert.Contains("RAM", ex.Message);
    }
}
