using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// The processors' time-stamp counters are synchronised (SDM Vol. 3B, 18.17: the invariant TSC runs at a
/// constant rate on every core of a package): a TSC read that follows, through memory, another processor's
/// read never returns less, whatever the turn order of the deterministic schedule. Software checks exactly
/// this (Linux's TSC warp test) before trusting the TSC as a clock.
/// </summary>
public class SmpTscTests
{
    private const long Last = 0x9000, Failures = 0x9100, Reads = 0x9200;

    /// <summary>
    /// Every processor, <paramref name="iterations"/> times: load the last TSC value any processor stored,
    /// RDTSC, count a failure when its own value is lower, store its value.
    /// </summary>
    private static SmpRig WarpProgram(int cpus, int quantum, int iterations)
    {
        var rig = new SmpRig(cpus, quantum);
        Label ap = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel();
            var loop = a.CreateLabel(); var ok = a.CreateLabel();
            a.Label(ref ap);
            a.mov(r8d, iterations);
            a.Label(ref loop);
            a.mov(rbx, __qword_ptr[Last]);
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.cmp(rax, rbx);
            a.jae(ok);
            a.@lock.inc(__dword_ptr[r9 * 4 + Failures]);
            a.Label(ref ok);
            a.mov(__qword_ptr[Last], rax);
            a.@lock.inc(__dword_ptr[r9 * 4 + Reads]);
            a.dec(r8d);
            a.jnz(loop);
            a.cli();
            a.hlt();
        });
        for (int i = 1; i < cpus; i++) rig.StartHost(i, ap);
        for (int i = 0; i < cpus; i++) rig[i][Gpr.R9] = (ulong)i;
        rig[0].Rip = rig.At(ap);
        return rig;
    }

    [Theory]
    [InlineData(2, 1000)]
    [InlineData(2, 37)]
    [InlineData(4, 5000)]
    public void NoProcessorReadsATscBelowOneAlreadyRead(int cpus, int quantum)
    {
        const int Iterations = 3000;
        var rig = WarpProgram(cpus, quantum, Iterations);
        var r = rig.M.Run(RunLimits.Instructions(10_000_000));
        Assert.Equal(StopReason.Halted, r.Reason);
        for (int i = 0; i < cpus; i++)
        {
            Assert.Equal((uint)Iterations, BitConverter.ToUInt32(rig.M.ReadMemory((ulong)(Reads + i * 4), 4)));
            Assert.Equal(0u, BitConverter.ToUInt32(rig.M.ReadMemory((ulong)(Failures + i * 4), 4)));
        }
        // Each processor's own clock still runs on: the last value stored is at least the highest cycle count.
        ulong last = BitConverter.ToUInt64(rig.M.ReadMemory((ulong)Last, 8));
        Assert.True(last > 0);
    }

    /// <summary>One processor keeps its plain TSC: cycles × TSC per cycle + offset, nothing shared.</summary>
    [Fact]
    public void OneProcessorReadsItsOwnCount()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2 });
        m.WriteMemory(0x1000, new byte[] { 0x0F, 0x31, 0xF4 }); // RDTSC; HLT
        m.Cpu.SetFlatMode(64);
        m.Cpu.Rip = 0x1000;
        m.Cpu.TscOffset = 12345;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Halted, r.Reason);
        ulong read = (m.Cpu[Gpr.Rdx] << 32) | (uint)m.Cpu[Gpr.Rax];
        Assert.True(read >= 12345 && read <= m.Cpu.Tsc, $"read {read}, TSC now {m.Cpu.Tsc}");
    }
}
