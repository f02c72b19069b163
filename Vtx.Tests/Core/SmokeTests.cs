using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

public class SmokeTests
{
    [Fact]
    public void AddThenHalt()
    {
        var m = Guest.Run(a => a.add(rax, rbx), c => { c[Gpr.Rax] = 2; c[Gpr.Rbx] = 3; });
        Assert.Equal(5UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(2UL, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void LoopSumsOneToTen()
    {
        var m = Guest.Run(a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 10);
            a.Label(ref top);
            a.add(rax, rcx);
            a.dec(rcx);
            a.jnz(top);
        });
        Assert.Equal(55UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void CallRetFib()
    {
        var m = Guest.Run(a =>
        {
            var fib = a.CreateLabel();
            var done = a.CreateLabel();
            var recurse = a.CreateLabel();
            a.mov(edi, 15);
            a.call(fib);
            a.jmp(done);
            a.Label(ref fib);
            a.cmp(rdi, 2);
            a.jae(recurse);
            a.mov(rax, rdi);
            a.ret();
            a.Label(ref recurse);
            a.push(rdi);
            a.dec(rdi);
            a.call(fib);
            a.pop(rdi);
            a.push(rax);
            a.sub(rdi, 2);
            a.call(fib);
            a.pop(rcx);
            a.add(rax, rcx);
            a.ret();
            a.Label(ref done);
        });
        Assert.Equal(610UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void UndefinedOpcodeStopsWithUd()
    {
        var m = Guest.Load(new byte[] { 0x90, 0x0F, 0x0B });
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(ExceptionVector.UD, r.Fault!.Value.Vector);
        Assert.Equal(Guest.CodeBase + 1, r.Rip);
    }
}
