using Vtx.Float;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Simd;

/// <summary>
/// SIMD memory operands outside 64-bit mode: the segment limit check covers all 16 (or 8) bytes of
/// the operand (SDM Vol. 3A, 5.3), a faulting store writes nothing, and MASKMOVQ/MASKMOVDQU use
/// DS:[DI]/[EDI] by the address size.
/// </summary>
public class SimdMoveLegacyModeTests
{
    private static SegmentCache Data(uint limit) => new(0x10, 0, limit, 3 | SegmentCache.S | SegmentCache.P | SegmentCache.DB);

    private static (Machine M, RunResult R) Run32(Action<Iced.Intel.Assembler> body, Action<Cpu> setup)
    {
        var m = Guest.Load(Guest.Assemble(a => { body(a); a.hlt(); }, Guest.CodeBase, 32), bitness: 32);
        setup(m.Cpu);
        return (m, m.Run(RunLimits.Instructions(100)));
    }

    [Fact]
    public void SixteenByteLoadChecksTheWholeOperandAgainstTheLimit()
    {
        var (_, ok) = Run32(a => a.movdqu(xmm1, __xmmword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x2FFF)); c[Gpr.Rbx] = 0x2FF0; });
        Assert.Equal(StopReason.Halted, ok.Reason);
        var (m, r) = Run32(a => a.movdqu(xmm1, __xmmword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x2FFF)); c[Gpr.Rbx] = 0x2FF1; c.SetXmm(1, 5); });
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal((UInt128)5, m.Cpu.GetXmm(1));
    }

    [Fact]
    public void SixteenByteStorePastTheLimitWritesNothing()
    {
        var (m, r) = Run32(a => a.movdqu(__xmmword_ptr[ebx], xmm1), c =>
        {
            c.SetSegment(SegmentRegister.Ds, Data(0x2FFF)); c[Gpr.Rbx] = 0x2FF8; c.SetXmm(1, UInt128.MaxValue);
        });
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.All(m.ReadMemory(0x2FF8, 16), b => Assert.Equal(0, b));
    }

    [Fact]
    public void MmxLoadChecksEightBytes()
    {
        var (m, r) = Run32(a => a.movq(mm1, __qword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x2FFF)); c[Gpr.Rbx] = 0x2FF9; });
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        var (_, ok) = Run32(a => a.movq(mm1, __qword_ptr[ebx]), c => { c.SetSegment(SegmentRegister.Ds, Data(0x2FFF)); c[Gpr.Rbx] = 0x2FF8; });
        Assert.Equal(StopReason.Halted, ok.Reason);
    }

    [Fact]
    public void MaskmovqUsesDiWithSixteenBitAddressing()
    {
        // 67h: the address is DI, so the upper half of EDI is ignored.
        var (m, r) = Run32(a => { a.db(0x67); a.maskmovq(mm1, mm2); }, c =>
        {
            c[Gpr.Rdi] = 0xABCD_3000; c.SetFpuRegister(1, new Float80(0x1122_3344_5566_7788, 0)); c.SetFpuRegister(2, new Float80(0x8000_8080_0000_0080, 0));
        });
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(new byte[] { 0x88, 0, 0, 0, 0x44, 0x33, 0, 0x11 }, m.ReadMemory(0x3000, 8));
    }

    [Fact]
    public void MaskmovdquPastTheLimitWritesNothing()
    {
        var (m, r) = Run32(a => a.maskmovdqu(xmm1, xmm2), c =>
        {
            c.SetSegment(SegmentRegister.Ds, Data(0x300F)); c[Gpr.Rdi] = 0x3008;
            c.SetXmm(1, UInt128.MaxValue); c.SetXmm(2, UInt128.MaxValue);
        });
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.All(m.ReadMemory(0x3008, 16), b => Assert.Equal(0, b));
    }
}
