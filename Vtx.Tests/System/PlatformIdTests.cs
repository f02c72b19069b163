using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// IA32_PLATFORM_ID (MSR 17h; SDM Vol. 4, Table 2-2; Vol. 3A, 10.11.2): read-only, the platform ID in
/// bits 52:50, every other bit reserved. Linux's microcode driver reads it on every Intel family-6 part.
/// </summary>
public class PlatformIdTests
{
    [Fact]
    public void ReadsWithOnlyThePlatformIdFieldPossiblySet()
    {
        var m = Guest.Run(a =>
        {
            a.mov(ecx, 0x17); a.mov(eax, 0xDEAD); a.mov(edx, 0xBEEF); a.rdmsr();
        });
        ulong value = m.Cpu[Gpr.Rdx] << 32 | m.Cpu[Gpr.Rax];
        Assert.Equal(0UL, value & ~(7UL << 50));
        Assert.Equal(m.Cpu.ReadMsr(0x17), value);
    }

    [Fact]
    public void WriteIsGeneralProtection()
    {
        var m = Guest.Load(Guest.Assemble(a => { a.mov(ecx, 0x17); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); a.hlt(); }));
        var r = m.Run(RunLimits.Instructions(10));
        Assert.True(r.Reason == StopReason.Exception && r.Fault == new FaultInfo(ExceptionVector.GP, 0), "expected #GP(0), got " + r);
    }
}
