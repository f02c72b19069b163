using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>
/// Exceptions the host-CPU differential suite cannot observe: faults are precise (SDM Vol. 3A, 6.5):
/// RIP points at the faulting instruction, and it changes no register, flag or memory.
/// </summary>
public class FaultTests
{
    private static readonly FaultInfo De = new(ExceptionVector.DE, null);
    private static readonly FaultInfo Gp0 = new(ExceptionVector.GP, 0);
    private static readonly FaultInfo Ss0 = new(ExceptionVector.SS, 0);

    /// <summary>
    /// Loads "nop; insn; hlt", runs the nop, runs again and returns the outcome of <c>insn</c>
    /// with the state before it, so that a fault can be checked for changing nothing.
    /// </summary>
    private static (Machine M, RunResult R, CoreHarness.Snapshot Before) RunOne(Action<Assembler> insn, Action<Cpu> setup, int bitness = 64) =>
        RunOne(Assemble(insn, bitness), setup, bitness);

    /// <summary>"nop; insn; hlt" assembled once (properties run the same code many times).</summary>
    private static byte[] Assemble(Action<Assembler> insn, int bitness = 64) =>
        Guest.Assemble(a => { a.nop(); insn(a); a.hlt(); }, Guest.CodeBase, bitness);

    private static (Machine M, RunResult R, CoreHarness.Snapshot Before) RunOne(byte[] code, Action<Cpu> setup, int bitness = 64)
    {
        var m = CoreHarness.Load(code, bitness);
        setup(m.Cpu);
        Assert.Equal(StopReason.InstructionLimit, CoreHarness.Step(m).Reason);
        var before = new CoreHarness.Snapshot(m);
        var r = m.Run(RunLimits.Instructions(1));
        return (m, r, before);
    }

    private static void AssertFaultedAtSecondInstruction(Machine m, RunResult r, CoreHarness.Snapshot before, FaultInfo expected)
    {
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(expected, r.Fault);
        Assert.Equal(Guest.CodeBase + 1, r.Rip);
        Assert.Equal(0UL, r.Instructions);
        // Nothing changed: registers, RIP, RFLAGS, memory, and the instruction did not retire.
        before.AssertUnchanged(m);
    }

    // ------------------------------------------------------------------ #DE

    public static TheoryData<string, int, bool, ulong, ulong, ulong> DivideErrors => new()
    {
        // what, size, signed, rdx, rax, divisor
        { "div r64 by 0", 8, false, 0, 5, 0 },
        { "div r64 quotient 2^64", 8, false, 1, 0, 1 },
        { "div r64 rdx == divisor", 8, false, 7, 0, 7 },
        { "div r32 by 0", 4, false, 0, 5, 0 },
        { "div r32 quotient 2^32", 4, false, 1, 0, 1 },
        { "div r16 quotient overflow", 2, false, 0x10, 0, 0x10 },
        { "div r8 by 0", 1, false, 0, 0x1234, 0 },
        { "div r8 quotient 0x100", 1, false, 0, 0x1000, 0x10 },
        { "idiv r64 by 0", 8, true, 0, 5, 0 },
        { "idiv r64 MIN / -1", 8, true, ulong.MaxValue, 0x8000_0000_0000_0000, ulong.MaxValue },
        { "idiv r64 128-bit MIN / -1", 8, true, 0x8000_0000_0000_0000, 0, ulong.MaxValue },
        { "idiv r64 128-bit MIN / 1", 8, true, 0x8000_0000_0000_0000, 0, 1 },
        { "idiv r64 2^63 / 1", 8, true, 0, 0x8000_0000_0000_0000, 1 },
        { "idiv r32 MIN / -1", 4, true, 0xFFFF_FFFF, 0x8000_0000, 0xFFFF_FFFF },
        { "idiv r32 64-bit MIN / -1", 4, true, 0x8000_0000, 0, 0xFFFF_FFFF },
        { "idiv r16 MIN / -1", 2, true, 0xFFFF, 0x8000, 0xFFFF },
        { "idiv r8 -128 / -1", 1, true, 0, 0xFF80, 0xFF },
        { "idiv r8 -32768 / -1", 1, true, 0, 0x8000, 0xFF },
        { "idiv r8 by 0", 1, true, 0, 0x8000, 0 },
        { "idiv r8 +128 / 1", 1, true, 0, 0x0080, 1 },
    };

    private static void EmitDiv(Assembler a, int size, bool signed, bool memory)
    {
        if (memory)
        {
            switch (size, signed)
            {
                case (8, false): a.div(__qword_ptr[rbx]); break;
                case (4, false): a.div(__dword_ptr[rbx]); break;
                case (2, false): a.div(__word_ptr[rbx]); break;
                case (1, false): a.div(__byte_ptr[rbx]); break;
                case (8, true): a.idiv(__qword_ptr[rbx]); break;
                case (4, true): a.idiv(__dword_ptr[rbx]); break;
                case (2, true): a.idiv(__word_ptr[rbx]); break;
                default: a.idiv(__byte_ptr[rbx]); break;
            }
            return;
        }
        switch (size, signed)
        {
            case (8, false): a.div(rcx); break;
            case (4, false): a.div(ecx); break;
            case (2, false): a.div(cx); break;
            case (1, false): a.div(cl); break;
            case (8, true): a.idiv(rcx); break;
            case (4, true): a.idiv(ecx); break;
            case (2, true): a.idiv(cx); break;
            default: a.idiv(cl); break;
        }
    }

    [Theory]
    [MemberData(nameof(DivideErrors))]
    public void DivideErrorLeavesEverythingUnchanged(string what, int size, bool signed, ulong rdx, ulong rax, ulong divisor)
    {
        foreach (bool memory in new[] { false, true })
        {
            var (m, r, before) = RunOne(a => EmitDiv(a, size, signed, memory), c =>
            {
                // Garbage above the operand size must not matter.
                ulong hi = size == 8 ? 0 : 0xDEAD_BEEF_0000_0000UL & ~((1UL << (size * 8)) - 1);
                c[Gpr.Rdx] = rdx | hi;
                c[Gpr.Rax] = rax | hi;
                c[Gpr.Rcx] = divisor | hi;
                c[Gpr.Rbx] = 0x6000;
            });
            // (The memory divisor at [rbx] is 0: #DE too.)
            Assert.True(r.Reason == StopReason.Exception, $"{what} (memory: {memory}): {r}");
            AssertFaultedAtSecondInstruction(m, r, before, De);
        }
    }

    [Fact]
    public void DivideErrorFromMemoryDivisor()
    {
        var (m, r, before) = RunOne(a => a.div(__qword_ptr[rbx + 8]), c =>
        {
            c[Gpr.Rbx] = 0x6000;
            c[Gpr.Rdx] = 3;
            c[Gpr.Rax] = 0;
        });
        AssertFaultedAtSecondInstruction(m, r, before, De);
    }

    [Fact]
    public void RerunningAFaultReportsItAgainAndFixingTheCauseResumes()
    {
        var m = CoreHarness.Load(a => { a.nop(); a.div(rcx); a.hlt(); }, setup: c => { c[Gpr.Rax] = 100; c[Gpr.Rcx] = 0; });
        var r1 = m.Run(RunLimits.Instructions(10));
        var r2 = m.Run(RunLimits.Instructions(10));
        Assert.Equal(De, r1.Fault);
        Assert.Equal(r1 with { Instructions = 0, Cycles = 0 }, r2);
        Assert.Equal(1UL, m.Cpu.InstructionsRetired);
        m.Cpu[Gpr.Rcx] = 7; // the host (an exception handler, say) fixes the divisor
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(14UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(2UL, m.Cpu[Gpr.Rdx]);
    }

    [Fact]
    public void DivideSucceedsJustBelowOverflow()
    {
        // RDX = divisor - 1 gives the largest quotient that fits.
        var m = CoreHarness.RunToHalt(a => a.div(rcx), setup: c =>
        {
            c[Gpr.Rdx] = 6;
            c[Gpr.Rax] = ulong.MaxValue;
            c[Gpr.Rcx] = 7;
        });
        UInt128 n = ((UInt128)6 << 64) | ulong.MaxValue;
        Assert.Equal((ulong)(n / 7), m.Cpu[Gpr.Rax]);
        Assert.Equal((ulong)(n % 7), m.Cpu[Gpr.Rdx]);
    }

    /// <summary>
    /// DIV and IDIV over the full operand range: #DE exactly when the divisor is 0 or the quotient
    /// does not fit the destination (SDM Vol. 2A, DIV/IDIV), and then nothing changes; otherwise the
    /// truncated quotient and the remainder (sign of the dividend).
    /// </summary>
    private static readonly Dictionary<(int, bool), byte[]> DivCode =
        (from size in new[] { 1, 2, 4, 8 } from signed in new[] { false, true } select (size, signed))
        .ToDictionary(k => k, k => Assemble(a => EmitDiv(a, k.size, k.signed, false)));

    [Property(MaxTest = 250)]
    public Property DivideFaultsExactlyWhenTheQuotientDoesNotFit() =>
        Prop.ForAll(
            Arb.From(from rdx in CoreHarness.Full64
                     from rax in CoreHarness.Full64
                     from divisor in CoreHarness.Full64
                     from size in Gen.Elements(1, 2, 4, 8)
                     from signed in Gen.Elements(false, true)
                     select (rdx, rax, divisor, size, signed)),
            t =>
            {
                var (rdx, rax, divisor, size, signed) = t;
                int bits = size * 8;
                BigInteger mask = (BigInteger.One << bits) - 1;
                BigInteger Low(ulong v) => new BigInteger(v) & mask;
                BigInteger Signed(BigInteger v, int b) => v >= BigInteger.One << (b - 1) ? v - (BigInteger.One << b) : v;
                BigInteger dividend = size == 1 ? new BigInteger(rax & 0xFFFF) : (Low(rdx) << bits) | Low(rax);
                BigInteger div = Low(divisor);
                if (signed)
                {
                    dividend = Signed(dividend, bits * 2);
                    div = Signed(div, bits);
                }
                bool fault = div.IsZero;
                BigInteger q = 0, rem = 0;
                if (!fault)
                {
                    q = BigInteger.DivRem(dividend, div, out rem); // truncates toward zero; remainder has the dividend's sign
                    fault = signed ? q < -(BigInteger.One << (bits - 1)) || q >= BigInteger.One << (bits - 1) : q > mask;
                }

                var (m, r, before) = RunOne(DivCode[(size, signed)], c =>
                {
                    c[Gpr.Rdx] = rdx;
                    c[Gpr.Rax] = rax;
                    c[Gpr.Rcx] = divisor;
                });
                if (fault)
                {
                    AssertFaultedAtSecondInstruction(m, r, before, De);
                    return;
                }
                Assert.Equal(StopReason.InstructionLimit, r.Reason);
                ulong qv = (ulong)(q & mask), rv = (ulong)(rem & mask);
                ulong outRax = m.Cpu[Gpr.Rax], outRdx = m.Cpu[Gpr.Rdx];
                switch (size)
                {
                    case 1:
                        Assert.Equal((rax & ~0xFFFFUL) | (rv << 8) | qv, outRax);
                        Assert.Equal(rdx, outRdx);
                        break;
                    case 2:
                        Assert.Equal((rax & ~0xFFFFUL) | qv, outRax);
                        Assert.Equal((rdx & ~0xFFFFUL) | rv, outRdx);
                        break;
                    default: // 32-bit results zero-extend; 64-bit are whole
                        Assert.Equal(qv, outRax);
                        Assert.Equal(rv, outRdx);
                        break;
                }
            });

    // ------------------------------------------------------------------ canonical addresses

    [Theory]
    [InlineData(0x0000_8000_0000_0000UL)]
    [InlineData(0xFFFF_7FFF_FFFF_FFF8UL)]
    [InlineData(0x1234_5678_9ABC_DEF0UL)]
    public void NonCanonicalDataAccessIsGp0(ulong address)
    {
        foreach (var insn in new Action<Assembler>[]
                 {
                     a => a.mov(rax, __qword_ptr[rdi]),
                     a => a.mov(__qword_ptr[rdi], rax),
                     a => a.add(__dword_ptr[rdi], 1),
                     a => a.inc(__byte_ptr[rdi]),
                     a => a.push(__qword_ptr[rdi]),
                     a => a.movsq(),
                 })
        {
            var (m, r, before) = RunOne(insn, c => { c[Gpr.Rdi] = address; c[Gpr.Rsi] = 0x6000; c[Gpr.Rax] = 0x55; });
            AssertFaultedAtSecondInstruction(m, r, before, Gp0);
        }
    }

    [Theory]
    [InlineData(0x0000_8000_0000_0008UL)]
    [InlineData(0xFFFF_0000_0000_1000UL)]
    public void NonCanonicalStackAccessIsSs0(ulong address)
    {
        foreach (var insn in new Action<Assembler>[]
                 {
                     a => a.push(rax),
                     a => a.pop(rax),
                     a => a.call(rbx),
                     a => a.ret(),
                     a => a.pushfq(),
                     a => a.mov(rax, __qword_ptr[rsp + 8]),
                     a => a.mov(__qword_ptr[rsp], rax),
                     a => a.leave(),
                 })
        {
            var (m, r, before) = RunOne(insn, c => { c[Gpr.Rsp] = address; c[Gpr.Rbp] = address; c[Gpr.Rbx] = Guest.CodeBase; });
            AssertFaultedAtSecondInstruction(m, r, before, Ss0);
        }
    }

    [Fact]
    public void RbpBasedOperandIsAStackReference()
    {
        // [rbp+disp] defaults to SS: #SS(0); with a DS override it is a data reference: #GP(0).
        var (m, r, before) = RunOne(a => a.mov(rax, __qword_ptr[rbp + 0x10]), c => c[Gpr.Rbp] = 0x8000_0000_0000_0000UL);
        AssertFaultedAtSecondInstruction(m, r, before, Ss0);
        (m, r, before) = RunOne(a => a.mov(rax, __qword_ptr[rax + rbp]), c => c[Gpr.Rbp] = 0x8000_0000_0000_0000UL);
        AssertFaultedAtSecondInstruction(m, r, before, Gp0);
    }

    [Fact]
    public void AccessSpanningTheCanonicalBoundaryFaults()
    {
        // First byte canonical, last byte not.
        var (m, r, before) = RunOne(a => a.mov(rax, __qword_ptr[rdi]), c => c[Gpr.Rdi] = 0x0000_7FFF_FFFF_FFFCUL);
        AssertFaultedAtSecondInstruction(m, r, before, Gp0);
        (m, r, before) = RunOne(a => a.push(rax), c => c[Gpr.Rsp] = 0x0000_8000_0000_0004UL);
        AssertFaultedAtSecondInstruction(m, r, before, Ss0);
    }

    [Fact]
    public void CanonicalAddressOutsideRamReadsOnesAndIgnoresWrites()
    {
        var m = CoreHarness.RunToHalt(a =>
        {
            a.mov(__qword_ptr[rdi], rcx);
            a.mov(rax, __qword_ptr[rdi]);
            a.mov(edx, __dword_ptr[rsi]);
        }, setup: c => { c[Gpr.Rdi] = 0xFFFF_8000_0000_0000UL; c[Gpr.Rsi] = 0x0000_7FFF_FFFF_FFF0UL; c[Gpr.Rcx] = 0x1234; });
        Assert.Equal(ulong.MaxValue, m.Cpu[Gpr.Rax]);
        Assert.Equal(0xFFFF_FFFFUL, m.Cpu[Gpr.Rdx]);
    }

    private static readonly byte[] MovRaxMemRdi = Assemble(a => a.mov(rax, __qword_ptr[rdi]));
    private static readonly byte[] PushRax = Assemble(a => a.push(rax));
    private static readonly byte[] CallRax = Assemble(a => a.call(rax));
    private static readonly byte[] Ret = Assemble(a => a.ret());

    /// <summary>A data read faults (#GP(0)) exactly when its first or last byte is non-canonical.</summary>
    [Property(MaxTest = 150)]
    public Property DataReadFaultsExactlyForNonCanonicalAddresses() =>
        Prop.ForAll(CoreHarness.ArbFull64, addr =>
        {
            var (m, r, before) = RunOne(MovRaxMemRdi, c => c[Gpr.Rdi] = addr);
            if (CoreHarness.IsCanonical(addr) && CoreHarness.IsCanonical(addr + 7))
                Assert.Equal(StopReason.InstructionLimit, r.Reason);
            else
                AssertFaultedAtSecondInstruction(m, r, before, Gp0);
        });

    /// <summary>PUSH faults (#SS(0)) exactly when the pushed slot is non-canonical; RSP is unchanged then.</summary>
    [Property(MaxTest = 150)]
    public Property PushFaultsExactlyForNonCanonicalStack() =>
        Prop.ForAll(CoreHarness.ArbFull64, rsp =>
        {
            var (m, r, before) = RunOne(PushRax, c => c[Gpr.Rsp] = rsp);
            ulong slot = rsp - 8;
            if (CoreHarness.IsCanonical(slot) && CoreHarness.IsCanonical(slot + 7))
            {
                Assert.Equal(StopReason.InstructionLimit, r.Reason);
                Assert.Equal(slot, m.Cpu[Gpr.Rsp]);
            }
            else AssertFaultedAtSecondInstruction(m, r, before, Ss0);
        });

    // ------------------------------------------------------------------ branches to non-canonical targets

    [Theory]
    [InlineData(0x0000_8000_0000_0000UL)]
    [InlineData(0xFFFF_7FFF_FFFF_FFFFUL)]
    [InlineData(0x8000_0000_0000_0000UL)]
    public void BranchToNonCanonicalTargetIsGp0AtTheBranch(ulong target)
    {
        foreach (var insn in new Action<Assembler>[]
                 {
                     a => a.jmp(rax),
                     a => a.call(rax),
                     a => a.jmp(__qword_ptr[rbx]),
                     a => a.call(__qword_ptr[rbx]),
                     a => a.ret(),
                     a => a.ret(16),
                 })
        {
            var (m, r, before) = RunOne(insn, c =>
            {
                c[Gpr.Rax] = target;
                c[Gpr.Rbx] = 0x6000;
                c.Memory.Write(0x6000, BitConverter.GetBytes(target));
                c.Memory.Write(Guest.StackTop, BitConverter.GetBytes(target));
            });
            AssertFaultedAtSecondInstruction(m, r, before, Gp0);
            Assert.Equal(Guest.StackTop, m.Cpu[Gpr.Rsp]);
        }
    }

    /// <summary>CALL r64 with any target: #GP(0) with nothing pushed iff non-canonical; else RIP = target, return address pushed.</summary>
    [Property(MaxTest = 150)]
    public Property CallFaultsExactlyForNonCanonicalTargets() =>
        Prop.ForAll(CoreHarness.ArbFull64, target =>
        {
            var (m, r, before) = RunOne(CallRax, c => c[Gpr.Rax] = target);
            if (!CoreHarness.IsCanonical(target))
            {
                AssertFaultedAtSecondInstruction(m, r, before, Gp0);
                return;
            }
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            Assert.Equal(target, m.Cpu.Rip);
            Assert.Equal(Guest.StackTop - 8, m.Cpu[Gpr.Rsp]);
            Assert.Equal(Guest.CodeBase + 3, BitConverter.ToUInt64(m.ReadMemory(Guest.StackTop - 8, 8)));
        });

    /// <summary>RET with any return address: #GP(0) with RSP unchanged iff non-canonical.</summary>
    [Property(MaxTest = 150)]
    public Property RetFaultsExactlyForNonCanonicalReturnAddresses() =>
        Prop.ForAll(CoreHarness.ArbFull64, target =>
        {
            var (m, r, before) = RunOne(Ret, c => c.Memory.Write(Guest.StackTop, BitConverter.GetBytes(target)));
            if (!CoreHarness.IsCanonical(target))
            {
                AssertFaultedAtSecondInstruction(m, r, before, Gp0);
                return;
            }
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            Assert.Equal(target, m.Cpu.Rip);
            Assert.Equal(Guest.StackTop + 8, m.Cpu[Gpr.Rsp]);
        });

    [Fact]
    public void BranchTargetsOutside64BitModeAreTruncatedNotChecked()
    {
        // 32-bit mode: jmp eax to any 32-bit value is fine (no canonical check); RIP = EIP.
        var m = CoreHarness.Load(a => { a.nop(); a.jmp(eax); }, bitness: 32, setup: c => c[Gpr.Rax] = 0x8765_4321);
        var r = m.Run(RunLimits.Instructions(2));
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(0x8765_4321UL, m.Cpu.Rip);
    }

    // ------------------------------------------------------------------ CMPXCHG16B alignment

    [Theory]
    [InlineData(0x6008UL)]
    [InlineData(0x6001UL)]
    [InlineData(0x600FUL)]
    public void Cmpxchg16bOnAMisalignedOperandIsGp0(ulong address)
    {
        foreach (bool locked in new[] { false, true })
        {
            var (m, r, before) = RunOne(a =>
            {
                if (locked) a.@lock.cmpxchg16b(__xmmword_ptr[rdi]);
                else a.cmpxchg16b(__xmmword_ptr[rdi]);
            }, c =>
            {
                c[Gpr.Rdi] = address;
                // Memory equals RDX:RAX, so an unchecked execution would store RCX:RBX.
                c[Gpr.Rax] = 0; c[Gpr.Rdx] = 0; c[Gpr.Rbx] = 0x1111; c[Gpr.Rcx] = 0x2222;
            });
            AssertFaultedAtSecondInstruction(m, r, before, Gp0);
        }
    }

    [Fact]
    public void Cmpxchg16bOnAnAlignedOperandExecutes()
    {
        var m = CoreHarness.RunToHalt(a => a.@lock.cmpxchg16b(__xmmword_ptr[rdi]), setup: c =>
        {
            c[Gpr.Rdi] = 0x6010;
            c[Gpr.Rbx] = 0x1111; c[Gpr.Rcx] = 0x2222;
        });
        Assert.Equal(0x1111UL, BitConverter.ToUInt64(m.ReadMemory(0x6010, 8)));
        Assert.Equal(0x2222UL, BitConverter.ToUInt64(m.ReadMemory(0x6018, 8)));
        Assert.True((m.Cpu.Rflags & (ulong)RFlags.ZF) != 0);
    }

    [Fact]
    public void Cmpxchg8bNeedsNoAlignment()
    {
        var m = CoreHarness.RunToHalt(a => a.cmpxchg8b(__qword_ptr[rdi]), setup: c =>
        {
            c[Gpr.Rdi] = 0x6003;
            c[Gpr.Rbx] = 0x1111; c[Gpr.Rcx] = 0x2222;
        });
        Assert.Equal(0x0000_2222_0000_1111UL, BitConverter.ToUInt64(m.ReadMemory(0x6003, 8)));
    }
}
