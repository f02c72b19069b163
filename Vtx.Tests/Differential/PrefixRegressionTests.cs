using Xunit;

namespace Vtx.Tests.Differential;

/// <summary>
/// Regression tests for what the prefix-combination differential test (<see cref="PrefixDiffTests"/>) found, each
/// naming its encoding; the expected results are the SDM's, written out here (no host needed).
/// </summary>
public class PrefixRegressionTests
{
    private const ulong CodeAt = 0x10_0000;

    private static (Cpu Cpu, RunResult Result) Run(byte[] bytes, Action<Cpu> setup)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 4 });
        m.WriteMemory(CodeAt, bytes);
        Cpu cpu = m.Cpu;
        setup(cpu);
        cpu.Rip = CodeAt;
        return (cpu, m.Run(RunLimits.Instructions(1)));
    }

    /// <summary>
    /// <c>F3 REX.B 90</c> is XCHG r8, rAX with an ignored F3h, not PAUSE: with REX.B the opcode 90+rd names R8 (SDM Vol. 2B
    /// XCHG "REX.W + 90+rd" / "90+rd", Vol. 2A 2.2.1.2); PAUSE is F3 90. Found as <c>F3 49 90</c> and
    /// <c>36 F3 65 45 90</c> (the AMD host exchanged RAX and R8; Vtx, through Iced, executed PAUSE).
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xF3, 0x49, 0x90 }, 8)]               // xchg r8, rax
    [InlineData(new byte[] { 0x36, 0xF3, 0x65, 0x45, 0x90 }, 4)]   // xchg r8d, eax (SS/GS ignored, REX.R ignored)
    [InlineData(new byte[] { 0xF3, 0x41, 0x90 }, 4)]               // xchg r8d, eax
    [InlineData(new byte[] { 0x66, 0xF3, 0x41, 0x90 }, 2)]         // xchg r8w, ax
    [InlineData(new byte[] { 0xF3, 0xF3, 0x4B, 0x90 }, 8)]         // repeated F3h, REX.WXB
    public void F3_RexB_90_IsXchgR8(byte[] bytes, int size)
    {
        const ulong rax = 0x1111_2222_3333_4444, r8 = 0xAAAA_BBBB_CCCC_DDDD;
        var (cpu, r) = Run(bytes, c => { c[Gpr.Rax] = rax; c[Gpr.R8] = r8; });
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(CodeAt + (ulong)bytes.Length, cpu.Rip);
        // 32-bit operands zero-extend both registers (SDM Vol. 1, 3.4.1.1); 16-bit ones keep bits 63:16.
        ulong mask = size == 8 ? ulong.MaxValue : size == 4 ? 0xFFFF_FFFFUL : 0xFFFFUL;
        ulong keep = size == 2 ? ~mask : 0;
        Assert.Equal((rax & keep) | (r8 & mask), cpu[Gpr.Rax]);
        Assert.Equal((r8 & keep) | (rax & mask), cpu[Gpr.R8]);
    }

    /// <summary>F3 90 without REX.B stays PAUSE (a NOP for the architectural state), also with REX.W or a misplaced REX.B.</summary>
    [Theory]
    [InlineData(new byte[] { 0xF3, 0x90 })]
    [InlineData(new byte[] { 0xF3, 0x48, 0x90 })]
    [InlineData(new byte[] { 0x41, 0xF3, 0x90 })]   // REX.B followed by F3h is ignored (SDM Vol. 2A 2.2.1)
    public void F3_90_WithoutRexB_IsPause(byte[] bytes)
    {
        var (cpu, r) = Run(bytes, c => { c[Gpr.Rax] = 1; c[Gpr.R8] = 2; });
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(1UL, cpu[Gpr.Rax]);
        Assert.Equal(2UL, cpu[Gpr.R8]);
        Assert.Equal(CodeAt + (ulong)bytes.Length, cpu.Rip);
    }
}
