using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// x87 exception reporting (SDM Vol. 1, 8.4-8.7; Vol. 3A, Table 2-2 and 2.5): #NM from CR0.EM/TS
/// (WAIT: MP and TS), #MF at the next waiting instruction with FIP/FOP/FDP naming the instruction
/// that raised the exception, non-waiting instructions that do not check, CR0.NE = 0, LOCK #UD,
/// masked and unmasked responses for register and memory destinations, and faults that leave the
/// FPU unchanged.
/// </summary>
public class X87ExceptionTests
{
    private static readonly FaultInfo Mf = new(ExceptionVector.MF, null);
    private static readonly FaultInfo Nm = new(ExceptionVector.NM, null);

    /// <summary>1.0 / +0.0 with ZE unmasked, then the next instruction.</summary>
    private static X87Program DivideByZeroThen(Action<Assembler> next)
    {
        var p = new X87Program();
        var a = p.A;
        a.fldcw(__word_ptr[rbx]);
        a.fld1();
        p.Mark("div");
        a.fdiv(__dword_ptr[rbx + 0x10]);
        p.Mark("next");
        next(a);
        a.hlt();
        p.Mark("env");
        a.fnstenv(__[rbx + 0x40]);
        a.hlt();
        return p;
    }

    private static void SetupZeroMaskOff(Machine m)
    {
        W16(m, Data, 0x037B);      // ZM = 0
        W32(m, Data + 0x10, 0);    // +0.0f
    }

    [Fact]
    public void UnmaskedExceptionIsDeliveredAtTheNextWaitingInstructionWithFipAtTheFaultingOne()
    {
        var p = DivideByZeroThen(a => a.fld1());
        var m = p.Load(SetupZeroMaskOff);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(Mf, r.Fault);
        Assert.Equal(p["next"], r.Rip);
        var c = m.Cpu;
        // The division changed nothing but FSW: ZE, ES, B (pre-computation exception, SDM Vol. 1, 8.5.3).
        Assert.Equal(7, Top(c));
        Assert.Equal(One, St(c, 0));
        Assert.Equal(ZE | ES | B, c.FpuStatusWord & (0x3F | SF | ES | B));

        // The handler's view: FNSTENV (non-waiting) shows FIP/FOP/FDP of the FDIV (SDM Vol. 1, 8.1.8, 8.1.9).
        c.Rip = p["env"];
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        ulong env = Data + 0x40;
        Assert.Equal((uint)p["div"], R32(m, env + 12));                       // FIP
        Assert.Equal(c.GetSelector(SegmentRegister.Cs), R16(m, env + 16));   // FCS
        Assert.Equal((ushort)0x073, (ushort)(R32(m, env + 16) >> 16));        // FOP: D8 /6, ModR/M 73h ([rbx+disp8])
        Assert.Equal((uint)(Data + 0x10), R32(m, env + 20));                 // FDP
        Assert.Equal(c.GetSelector(SegmentRegister.Ds), R16(m, env + 24));   // FDS
        // FNSTENV then masks every exception.
        Assert.Equal(0x3F, c.FpuControlWord & 0x3F);
    }

    [Fact]
    public void NonWaitingInstructionsDoNotTakeThePendingExceptionButFwaitDoes()
    {
        var p = DivideByZeroThen(a => { a.fnstsw(ax); a.fnstcw(__word_ptr[rbx + 2]); a.wait(); });
        var m = p.Load(SetupZeroMaskOff);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(Mf, r.Fault);
        Assert.Equal(p["next"] + 2 + 3, r.Rip);      // fnstsw ax (DF E0) + fnstcw [rbx+2] (D9 7B 02)
        Assert.Equal(m.Cpu.FpuStatusWord, (ushort)m.Cpu[Gpr.Rax]);
        Assert.Equal((ushort)0x037B, R16(m, Data + 2));
    }

    [Fact]
    public void FnclexClearsThePendingException()
    {
        var p = DivideByZeroThen(a => { a.fnclex(); a.fld1(); });
        var m = p.Load(SetupZeroMaskOff);
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        Assert.Equal(0, m.Cpu.FpuStatusWord & (0x3F | SF | ES | B));
        Assert.Equal(6, Top(m.Cpu));
    }

    [Fact]
    public void FinitWaitsButFninitDoesNot()
    {
        var p = DivideByZeroThen(a => a.finit());
        var m = p.Load(SetupZeroMaskOff);
        Assert.Equal(Mf, m.Run(RunLimits.Instructions(100)).Fault);
        p = DivideByZeroThen(a => a.fninit());
        m = p.Load(SetupZeroMaskOff);
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        Assert.Equal(0x037F, m.Cpu.FpuControlWord);
        Assert.Equal(0, m.Cpu.FpuStatusWord);
        Assert.Equal(0, m.Cpu.FpuAbridgedTag);
    }

    [Fact]
    public void WithCr0NeClearThePendingExceptionIsIgnoredAndStaysPending()
    {
        // Vtx models a platform with IGNNE# asserted (see Cpu.X87Enter): no #MF, ES stays 1.
        var p = DivideByZeroThen(a => { a.fld1(); a.wait(); });
        var m = p.Load(m => { SetupZeroMaskOff(m); m.Cpu.Cr0Value &= ~Cr0.NE; });
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        Assert.Equal(6, Top(m.Cpu));
        Assert.Equal(ZE | ES | B, m.Cpu.FpuStatusWord & (0x3F | ES | B));
    }

    [Fact]
    public void FldcwThatUnmasksARaisedFlagMakesItPending()
    {
        var p = new X87Program();
        var a = p.A;
        a.fld1();
        a.fdiv(__dword_ptr[rbx + 0x10]);   // masked ZE: flag only
        a.fldcw(__word_ptr[rbx]);          // unmask ZE: ES = 1 now
        p.Mark("next");
        a.fld1();
        a.hlt();
        var m = p.Load(SetupZeroMaskOff);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(Mf, r.Fault);
        Assert.Equal(p["next"], r.Rip);
        Assert.Equal(ZE | ES | B, m.Cpu.FpuStatusWord & (0x3F | ES | B));
        Assert.Equal(new Float80(0x8000_0000_0000_0000, 0x7FFF), St(m.Cpu, 0)); // the masked response +inf

        // Masking it again clears ES and B (observable with CR0.NE = 0, where the waiting FLDCW does not take it).
        m = Exec(b => { b.fld1(); b.fdiv(__dword_ptr[rbx + 0x10]); b.fldcw(__word_ptr[rbx]); b.fldcw(__word_ptr[rbx + 2]); b.fld1(); },
                 m => { SetupZeroMaskOff(m); W16(m, Data + 2, 0x037F); m.Cpu.Cr0Value &= ~Cr0.NE; });
        Assert.Equal(ZE, m.Cpu.FpuStatusWord & (0x3F | ES | B));
    }

    public static TheoryData<string, ulong, bool, bool> NmCases => new()
    {
        // CR0 bits (MP=2, EM=4, TS=8), x87 instruction faults, FWAIT faults
        { "clear", 0, false, false },
        { "TS", 8, true, false },
        { "MP TS", 2 | 8, true, true },
        { "EM", 4, true, false },
        { "MP EM", 2 | 4, true, false },
        { "EM TS", 4 | 8, true, false },
        { "MP EM TS", 2 | 4 | 8, true, true },
    };

    [Theory]
    [MemberData(nameof(NmCases))]
    public void DeviceNotAvailableFollowsCr0(string name, ulong bits, bool x87Faults, bool waitFaults)
    {
        void Setup(Machine m) => m.Cpu.Cr0Value = (m.Cpu.Cr0Value & ~(Cr0.MP | Cr0.EM | Cr0.TS)) | bits;
        foreach (var (insn, faults) in new (Action<Assembler>, bool)[] { (a => a.fld1(), x87Faults), (a => a.fninit(), x87Faults), (a => a.fnstsw(ax), x87Faults), (a => a.wait(), waitFaults) })
        {
            var m = Load(insn, Setup);
            var r = m.Run(RunLimits.Instructions(10));
            if (faults)
            {
                Assert.True(r.Reason == StopReason.Exception, name);
                Assert.Equal(Nm, r.Fault);
                Assert.Equal(Support.Guest.CodeBase, r.Rip);
                Assert.Equal(0, m.Cpu.FpuAbridgedTag);
            }
            else Assert.True(r.Reason == StopReason.Halted, name + ": " + r);
        }
    }

    [Fact]
    public void DeviceNotAvailableComesBeforeThePendingException()
    {
        var p = DivideByZeroThen(a => a.fld1());
        var m = p.Load(SetupZeroMaskOff);
        Assert.Equal(Mf, m.Run(RunLimits.Instructions(100)).Fault);
        m.Cpu.Cr0Value |= Cr0.TS;
        Assert.Equal(Nm, m.Run(RunLimits.Instructions(1)).Fault);
    }

    [Fact]
    public void LockPrefixIsUndefined()
    {
        var m = Load(a => a.db(0xF0, 0xD9, 0xE8));     // lock fld1
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(new FaultInfo(ExceptionVector.UD, null), r.Fault);
        Assert.Equal(0, m.Cpu.FpuAbridgedTag);
    }

    [Fact]
    public void UnmaskedInvalidLeavesTheRegisterStackUnchanged()
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx]); a.fldz(); a.fldz(); a.fdivp(st1, st0); }, m => W16(m, Data, 0x037E));
        Assert.Equal(6, Top(m.Cpu));
        Assert.Equal(new Float80(0, 0), St(m.Cpu, 0));
        Assert.Equal(IE | ES | B, m.Cpu.FpuStatusWord & (0x3F | SF | ES | B));

        m = Exec(a => { a.fldz(); a.fldz(); a.fdivp(st1, st0); });
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(Indefinite, St(m.Cpu, 0));        // masked response
        Assert.Equal(IE, m.Cpu.FpuStatusWord & (0x3F | SF | ES | B));
    }

    [Fact]
    public void UnmaskedOverflowDeliversTheBiasAdjustedResult()
    {
        var max = new Float80(0xFFFF_FFFF_FFFF_FFFF, 0x7FFE);
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 16]); a.fld(__tword_ptr[rbx]); a.fld(st0); a.fmulp(st1, st0); },
                     m => { WriteF80(m, Data, max); W16(m, Data + 16, 0x0377); });  // OM = 0
        var (n, d) = Exact(max);
        // SDM Vol. 1, 8.5.4: the result divided by 2^24576, rounded to the destination precision.
        var expected = Round(n * n, d * d * (System.Numerics.BigInteger.One << 24576), 64, 0, out _, out bool up);
        Assert.Equal(expected, St(m.Cpu, 0));
        Assert.Equal(7, Top(m.Cpu));
        Assert.Equal(OE | PE | ES | B | (up ? C1 : 0), m.Cpu.FpuStatusWord & (0x3F | ES | B | C1));
    }

    [Fact]
    public void OverflowingStoreToMemoryWritesNothingWhenUnmaskedAndInfinityWhenMasked()
    {
        var big = new Float80(0x8000_0000_0000_0000, 16383 + 200);
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 16]); a.fld(__tword_ptr[rbx]); a.fstp(__dword_ptr[rbx + 32]); },
                     m => { WriteF80(m, Data, big); W16(m, Data + 16, 0x0377); W32(m, Data + 32, 0x12345678); });
        Assert.Equal(0x12345678u, R32(m, Data + 32));
        Assert.Equal(7, Top(m.Cpu));                    // not popped
        Assert.Equal(OE, m.Cpu.FpuStatusWord & OE);
        Assert.Equal(ES, m.Cpu.FpuStatusWord & ES);

        m = Exec(a => { a.fld(__tword_ptr[rbx]); a.fstp(__dword_ptr[rbx + 32]); }, m => WriteF80(m, Data, big));
        Assert.Equal(0x7F80_0000u, R32(m, Data + 32));
        Assert.Equal(0, Top(m.Cpu));
        Assert.Equal(OE | PE | C1, m.Cpu.FpuStatusWord & (0x3F | ES | C1)); // rounded up to infinity
    }

    public static TheoryData<double, int, ushort, ushort> FistCases => new()
    {
        // value, RC, expected m16, C1
        { 2.5, 0, 2, 0 }, { 3.5, 0, 4, C1 }, { -2.5, 0, unchecked((ushort)-2), 0 }, { -3.5, 0, unchecked((ushort)-4), C1 },
        { 2.25, 1, 2, 0 }, { -2.25, 1, unchecked((ushort)-3), C1 }, { 2.25, 2, 3, C1 }, { -2.25, 2, unchecked((ushort)-2), 0 },
        { 2.75, 3, 2, 0 }, { -2.75, 3, unchecked((ushort)-2), 0 }, { 32767.0, 0, 32767, 0 }, { -32768.0, 0, 0x8000, 0 },
    };

    [Theory]
    [MemberData(nameof(FistCases))]
    public void FistRoundsPerRcAndReportsRoundUpInC1(double v, int rc, ushort expected, ushort c1)
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 16]); a.fld(__qword_ptr[rbx]); a.fistp(__word_ptr[rbx + 32]); },
                     m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(v)); W16(m, Data + 16, (ushort)(0x037F | rc << 10)); });
        Assert.Equal(expected, R16(m, Data + 32));
        Assert.Equal(c1, m.Cpu.FpuStatusWord & C1);
        Assert.Equal(v == Math.Round(v) ? 0 : PE, m.Cpu.FpuStatusWord & 0x3F);
    }

    [Theory]
    [InlineData(32767.5, 0)]    // rounds to 32768: out of range
    [InlineData(-32768.5, 1)]   // rounds down to -32769
    [InlineData(40000.0, 3)]
    [InlineData(double.PositiveInfinity, 0)]
    [InlineData(double.NaN, 0)]
    public void FistOutOfRangeStoresTheIntegerIndefiniteWhenMaskedAndNothingWhenUnmasked(double v, int rc)
    {
        var m = Exec(a => { a.fldcw(__word_ptr[rbx + 16]); a.fld(__qword_ptr[rbx]); a.fistp(__word_ptr[rbx + 32]); },
                     m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(v)); W16(m, Data + 16, (ushort)(0x037F | rc << 10)); });
        Assert.Equal((ushort)0x8000, R16(m, Data + 32));
        Assert.Equal(IE, m.Cpu.FpuStatusWord & (0x3F | ES));
        Assert.Equal(0, Top(m.Cpu));

        m = Exec(a => { a.fldcw(__word_ptr[rbx + 16]); a.fld(__qword_ptr[rbx]); a.fistp(__word_ptr[rbx + 32]); },
                 m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(v)); W16(m, Data + 16, (ushort)(0x037E | rc << 10)); W16(m, Data + 32, 0x1234); });
        Assert.Equal((ushort)0x1234, R16(m, Data + 32));
        Assert.Equal(IE | ES, m.Cpu.FpuStatusWord & (0x3F | ES));
        Assert.Equal(7, Top(m.Cpu));
    }

    [Fact]
    public void FisttpTruncatesWhateverRc()
    {
        foreach (int rc in new[] { 0, 1, 2 })
        {
            var m = Exec(a => { a.fldcw(__word_ptr[rbx + 16]); a.fld(__qword_ptr[rbx]); a.fisttp(__dword_ptr[rbx + 32]); a.fld(__qword_ptr[rbx + 8]); a.fisttp(__qword_ptr[rbx + 40]); },
                         m => { W64(m, Data, BitConverter.DoubleToUInt64Bits(2.99)); W64(m, Data + 8, BitConverter.DoubleToUInt64Bits(-7.5)); W16(m, Data + 16, (ushort)(0x037F | rc << 10)); });
            Assert.Equal(2u, R32(m, Data + 32));
            Assert.Equal(unchecked((ulong)-7L), R64(m, Data + 40));
            Assert.Equal(0, m.Cpu.FpuStatusWord & C1);
        }
    }

    [Fact]
    public void AFaultingStoreLeavesTheFpuUnchanged()
    {
        var p = new X87Program();
        var a = p.A;
        a.fld1();
        p.Mark("last");
        a.fld(__tword_ptr[rdi]);
        p.Mark("store");
        a.fstp(__tword_ptr[rbx]);         // RBX non-canonical: #GP(0)
        a.hlt();
        p.Mark("save");
        a.fnsave(__[rbx]);                 // also #GP: no FNINIT may follow
        a.hlt();
        p.Mark("env");
        a.fnstenv(__[rdi + 0x40]);
        a.hlt();
        var m = p.Load(m => { m.Cpu[Gpr.Rbx] = 0x8000_0000_0000_0000; m.Cpu[Gpr.Rdi] = Data; WriteF80(m, Data, new Float80(0xC000_0000_0000_0000, 0x4000)); });
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(p["store"], r.Rip);
        var c = m.Cpu;
        Assert.Equal(6, Top(c));
        Assert.Equal(0b1100_0000, c.FpuAbridgedTag);
        Assert.Equal(0, c.FpuStatusWord & 0xFF);

        c.Rip = p["save"];
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), m.Run(RunLimits.Instructions(1)).Fault);
        Assert.Equal(6, Top(c));
        Assert.Equal(0b1100_0000, c.FpuAbridgedTag);

        c.Rip = p["env"];
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal((uint)p["last"], R32(m, Data + 0x40 + 12));   // FIP still names the FLD
        Assert.Equal((uint)Data, R32(m, Data + 0x40 + 20));         // FDP its operand
    }
}
