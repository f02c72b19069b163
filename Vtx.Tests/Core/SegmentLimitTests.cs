using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>Segment limit and null-segment checks on memory operands outside 64-bit mode (SDM Vol. 3A, 5.3).</summary>
public class SegmentLimitTests
{
    private static Machine Run32(Action<Iced.Intel.Assembler> body, Action<Cpu> setup, out RunResult r)
    {
        var m = Guest.Load(Guest.Assemble(a => { body(a); a.hlt(); }, Guest.CodeBase, 32), bitness: 32);
        setup(m.Cpu);
        r = m.Run(RunLimits.Instructions(100));
        return m;
    }

    private static SegmentCache Data(uint limit, uint type = 3, bool big = true) =>
        new(0x10, 0, limit, type | SegmentCache.S | SegmentCache.P | (big ? SegmentCache.DB : 0));

    [Fact]
    public void ReadInsideTheLimitWorksAndPastItIsGp0()
    {
        Run32(a => a.mov(eax, __dword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0xFFF)); c[Gpr.Rbx] = 0xFFC; }, out var ok);
        Assert.Equal(StopReason.Halted, ok.Reason);

        var m = Run32(a => a.mov(eax, __dword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0xFFF)); c[Gpr.Rbx] = 0xFFD; c[Gpr.Rax] = 7; }, out var r);
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(7UL, m.Cpu[Gpr.Rax]); // nothing loaded
        Assert.Equal(Guest.CodeBase, r.Rip);
    }

    [Fact]
    public void AWriteBeyondTheLimitChangesNoMemory()
    {
        var m = Run32(a => a.mov(__dword_ptr[ebx], eax), c => { c.SetSegment(SegmentRegister.Ds, Data(0x1FFF)); c[Gpr.Rbx] = 0x2000; c[Gpr.Rax] = 0xDEADBEEF; }, out var r);
        Assert.Equal(ExceptionVector.GP, r.Fault!.Value.Vector);
        Assert.Equal(0u, BitConverter.ToUInt32(m.ReadMemory(0x2000, 4)));
    }

    [Fact]
    public void StackSegmentLimitGivesSs0()
    {
        Run32(a => a.mov(eax, __dword_ptr[ebp + 8]), c => { c.SetSegment(SegmentRegister.Ss, Data(0xFFF)); c[Gpr.Rbp] = 0xFFC; }, out var r);
        Assert.Equal(new FaultInfo(ExceptionVector.SS, 0), r.Fault);
    }

    [Fact]
    public void NullDataSegmentGivesGp0()
    {
        Run32(a => a.mov(eax, __dword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, SegmentCache.Null()); c[Gpr.Rbx] = 0x3000; }, out var r);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
    }

    [Fact]
    public void ExpandDownSegmentAcceptsOnlyOffsetsAboveTheLimit()
    {
        // Expand-down, 16-bit (B = 0): valid offsets are (limit, 0xFFFF].
        Run32(a => a.mov(eax, __dword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x0FFF, type: 7, big: false)); c[Gpr.Rbx] = 0x1000; }, out var ok);
        Assert.Equal(StopReason.Halted, ok.Reason);
        Run32(a => a.mov(eax, __dword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x0FFF, type: 7, big: false)); c[Gpr.Rbx] = 0x0FFF; }, out var low);
        Assert.Equal(ExceptionVector.GP, low.Fault!.Value.Vector);
        Run32(a => a.mov(eax, __dword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x0FFF, type: 7, big: false)); c[Gpr.Rbx] = 0xFFFE; }, out var high);
        Assert.Equal(ExceptionVector.GP, high.Fault!.Value.Vector);
    }

    [Fact]
    public void SixtyFourBitModeIgnoresLimits()
    {
        var m = Guest.Load(Guest.Assemble(a => { a.mov(eax, __dword_ptr[rbx]); a.hlt(); }));
        m.Cpu.SetSegment(SegmentRegister.Ds, Data(0xFFF));
        m.Cpu[Gpr.Rbx] = 0x5000;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
    }
}

public class StackAndStringSegmentLimitTests
{
    [Fact]
    public void PushBelowAnExpandDownStackLimitIsSs0AndLeavesEspAlone()
    {
        // Expand-down 32-bit stack (B = 1) with limit 0x7FFF: valid offsets are 0x8000..0xFFFFFFFF.
        var m = Guest.Load(Guest.Assemble(a => { a.push(eax); a.push(eax); a.hlt(); }, Guest.CodeBase, 32), bitness: 32);
        m.Cpu.SetSegment(SegmentRegister.Ss, new SegmentCache(0x10, 0, 0x7FFF, 7 | SegmentCache.S | SegmentCache.P | SegmentCache.DB));
        m.Cpu[Gpr.Rsp] = 0x8004;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(new FaultInfo(ExceptionVector.SS, 0), r.Fault); // the second push would write 0x7FFC..0x7FFF
        Assert.Equal(0x8000UL, m.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void StringStorePastEsLimitIsGp0AfterTheIterationsThatFit()
    {
        var m = Guest.Load(Guest.Assemble(a => { a.rep.stosb(); a.hlt(); }, Guest.CodeBase, 32), bitness: 32);
        m.Cpu.SetSegment(SegmentRegister.Es, new SegmentCache(0x10, 0, 0x2003, 3 | SegmentCache.S | SegmentCache.P | SegmentCache.DB));
        m.Cpu[Gpr.Rdi] = 0x2000;
        m.Cpu[Gpr.Rcx] = 8;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(0x2004UL, m.Cpu[Gpr.Rdi]);  // four bytes stored, then the fifth faulted
        Assert.Equal(4UL, m.Cpu[Gpr.Rcx]);
    }
}
