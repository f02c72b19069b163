using Iced.Intel;
using Xunit;

namespace Vtx.Tests.X87;

/// <summary>
/// Every x87 instruction form Iced knows and the default model offers (CPUID features FPU, FPU287,
/// FPU387, plus CMOV for FCMOVcc and SSE3 for FISTTP) has a handler; the forms of parts Vtx is not
/// (287XL FRSTPM, 387SL FSTDW/FSTSG, Cyrix FTSTP/FRINT2/...) are not offered and stay #UD.
/// </summary>
public class X87CoverageTests
{
    private static bool IsX87(Code code) =>
        code.CpuidFeatures().Any(f => f is CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387)
        && !code.ToString().StartsWith("Fxsave") && !code.ToString().StartsWith("Fxrstor") && code != Code.Femms;

    [Fact]
    public void EveryOfferedX87CodeIsRegistered()
    {
        var model = new CpuModel();
        var missing = Enum.GetValues<Code>().Where(c => IsX87(c) && model.OffersAll(c) && !Cpu.Ext.Has(c)).ToList();
        Assert.True(missing.Count == 0, "not registered: " + string.Join(", ", missing));
        Assert.True(Cpu.Ext.Has(Code.Wait));
    }

    [Theory]
    [InlineData(new byte[] { 0xDB, 0xE5 })]          // FRSTPM (287XL only)
    [InlineData(new byte[] { 0xDF, 0xE1 })]          // FSTDW AX (387SL only)
    public void PartSpecificFormsAreUndefined(byte[] bytes)
    {
        var m = X87Harness.Load(a => a.db(bytes));
        Assert.Equal(new FaultInfo(ExceptionVector.UD, null), m.Run(RunLimits.Instructions(5)).Fault);
    }
}

/// <summary>x87 handlers allocate nothing per instruction (the common brief's hot-path rule).</summary>
public class X87AllocationTests
{
    [Fact]
    public void AnX87LoopAllocatesNothing()
    {
        var m = X87Harness.Load(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.fld1();
            a.fldpi();
            a.fmul(Iced.Intel.AssemblerRegisters.st0, Iced.Intel.AssemblerRegisters.st1);
            a.fsin();
            a.fcomi(Iced.Intel.AssemblerRegisters.st0, Iced.Intel.AssemblerRegisters.st1);
            a.fstp(Iced.Intel.AssemblerRegisters.__qword_ptr[Iced.Intel.AssemblerRegisters.rbx]);
            a.fistp(Iced.Intel.AssemblerRegisters.__dword_ptr[Iced.Intel.AssemblerRegisters.rbx + 8]);
            a.fnsave(Iced.Intel.AssemblerRegisters.__[Iced.Intel.AssemblerRegisters.rbx + 16]);
            a.frstor(Iced.Intel.AssemblerRegisters.__[Iced.Intel.AssemblerRegisters.rbx + 16]);
            a.fbld(Iced.Intel.AssemblerRegisters.__tword_ptr[Iced.Intel.AssemblerRegisters.rbx + 0x100]);
            a.fbstp(Iced.Intel.AssemblerRegisters.__tword_ptr[Iced.Intel.AssemblerRegisters.rbx + 0x100]);
            a.fninit();
            a.jmp(top);
        }, hlt: false);
        m.Run(RunLimits.Instructions(10_000));
        // One allocating instruction in this 13-instruction loop would allocate >= 180 KB over 100000
        // instructions; the bound leaves room for run-loop bookkeeping and background JIT noise.
        long least = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var r = m.Run(RunLimits.Instructions(100_000));
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
        }
        Assert.True(least < 16_384, $"{least} bytes allocated over 100000 instructions");
    }
}
