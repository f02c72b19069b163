using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>XGETBV/XSETBV and CR4.OSXSAVE follow what the CPU model offers (SDM Vol. 2C, XGETBV/XSETBV; Vol. 3A, 2.6).</summary>
public class XsaveEnumerationTests
{
    private static (Machine M, RunResult R) Run(bool xsave, Action<Iced.Intel.Assembler> body)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Xsave = xsave } });
        m.WriteMemory(Guest.CodeBase, Guest.Assemble(a => { body(a); a.hlt(); }));
        m.Cpu.Rip = Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Guest.StackTop;
        return (m, m.Run(RunLimits.Instructions(100)));
    }

    private static void EnableOsxsave(Iced.Intel.Assembler a)
    {
        a.mov(rax, cr4);
        a.or(rax, 0x4_0020); // OSXSAVE | PAE (PAE must stay set in IA-32e mode)
        a.mov(cr4, rax);
    }

    [Fact]
    public void WithXsaveOfferedXcr0HoldsX87StateAndCpuidMirrorsOsxsave()
    {
        var (m, r) = Run(true, a =>
        {
            EnableOsxsave(a);
            a.mov(eax, 1);
            a.cpuid();
            a.mov(r8d, ecx);     // CPUID.1:ECX
            a.xor(ecx, ecx);
            a.xgetbv();
            a.mov(r9d, eax);     // XCR0
            a.mov(eax, 1);
            a.xor(edx, edx);
            a.xsetbv();          // x87 only: allowed
        });
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.NotEqual(0UL, m.Cpu[Gpr.R8] & (1UL << 26)); // XSAVE
        Assert.NotEqual(0UL, m.Cpu[Gpr.R8] & (1UL << 27)); // OSXSAVE
        Assert.Equal(1UL, m.Cpu[Gpr.R9]);
    }

    [Fact]
    public void XsetbvOfUnsupportedStateIsGp0()
    {
        var (_, r) = Run(true, a =>
        {
            EnableOsxsave(a);
            a.mov(eax, 7); // x87 | SSE | AVX: AVX state is not offered
            a.xor(edx, edx);
            a.xor(ecx, ecx);
            a.xsetbv();
        });
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
    }

    [Fact]
    public void WithoutXsaveCr4OsxsaveIsReservedAndXgetbvIsUd()
    {
        var (_, r1) = Run(false, EnableOsxsave);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r1.Fault);
        var (_, r2) = Run(false, a => { a.xor(ecx, ecx); a.xgetbv(); });
        Assert.Equal(ExceptionVector.UD, r2.Fault!.Value.Vector);
    }
}
