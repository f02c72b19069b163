using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>RFLAGS.TF: a single-step #DB trap after each instruction that began with TF = 1 (SDM Vol. 3A, 18.3.1.4).</summary>
public class SingleStepTests
{
    [Fact]
    public void EachInstructionAfterTheOneThatSetsTfTraps()
    {
        var code = Guest.Assemble(a =>
        {
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x100);
            a.popfq();          // sets TF: no trap after this one (TF was 0 when it began)
            a.mov(eax, 1);      // traps after
            a.mov(ebx, 2);      // traps after
            a.hlt();
        });
        var m = Guest.Load(code);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(ExceptionVector.DB, r.Fault!.Value.Vector);
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(0UL, m.Cpu[Gpr.Rbx]);
        Assert.Equal(4UL, r.Instructions);                      // pushfq, or, popfq, mov eax
        Assert.NotEqual(0UL, m.Cpu.GetDebugRegister(6) & (1UL << 14)); // DR6.BS

        var r2 = m.Run(RunLimits.Instructions(100));
        Assert.Equal(ExceptionVector.DB, r2.Fault!.Value.Vector);
        Assert.Equal(2UL, m.Cpu[Gpr.Rbx]);
        Assert.Equal(1UL, r2.Instructions);
    }

    [Fact]
    public void MovSsShadowHoldsTheTrapForOneInstruction()
    {
        var code = Guest.Assemble(a =>
        {
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x100);
            a.popfq();
            a.mov(ss, ax);       // TF trap after this is held by the MOV SS shadow...
            a.mov(ebx, 2);       // ...and taken after this one
            a.hlt();
        });
        var m = Guest.Load(code);
        m.Cpu[Gpr.Rax] = 0x10; // the flat machine's data selector... a null-free selector is not needed in flat mode
        m.Cpu.Gdtr = new DescriptorTableRegister(0x7000, 0x17);
        m.WriteMemory(0x7010, BitConverter.GetBytes(0x00CF_9200_0000_FFFFUL));
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(ExceptionVector.DB, r.Fault!.Value.Vector);
        Assert.Equal(2UL, m.Cpu[Gpr.Rbx]); // no trap between MOV SS and the next instruction
        Assert.Equal(5UL, r.Instructions);
    }
}
