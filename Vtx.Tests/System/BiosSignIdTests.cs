using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// IA32_BIOS_SIGN_ID (MSR 8Bh; SDM Vol. 3A, 10.11.7.1 "Determining the signature"): software writes 0,
/// executes CPUID, and reads the microcode update signature from bits 63:32.
/// </summary>
public class BiosSignIdTests
{
    [Theory]
    [InlineData(1u)]
    [InlineData(0x2Au)]
    [InlineData(0xFFFF_FFFFu)]
    public void WriteZeroThenCpuidLoadsTheSignature(uint revision)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { MicrocodeRevision = revision } });
        m.WriteMemory(Guest.CodeBase, Guest.Assemble(a =>
        {
            a.mov(ecx, 0x8B); a.rdmsr(); a.mov(r8d, edx);                       // before any CPUID: 0
            a.mov(ecx, 0x8B); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr();
            a.mov(eax, 1); a.cpuid();
            a.mov(ecx, 0x8B); a.rdmsr(); a.mov(r9d, edx); a.mov(r10d, eax);
            a.hlt();
        }));
        m.Cpu.Rip = Guest.CodeBase;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        Assert.Equal(0UL, m.Cpu[Gpr.R8]);
        Assert.Equal((ulong)revision, m.Cpu[Gpr.R9]);
        Assert.Equal(0UL, m.Cpu[Gpr.R10]);
    }
}
