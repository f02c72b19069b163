using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Differential;

/// <summary>
/// Vtx-only checks of DIV/IDIV faults, which the native oracle cannot run (a #DE would kill the test process):
/// a zero divisor and a quotient that does not fit raise #DE (SDM Vol. 2A DIV/IDIV, "Protected Mode Exceptions"),
/// and nothing is committed: registers, flags, memory and RIP are those before the instruction.
/// </summary>
public sealed class DivideFaultTests
{
    private const ulong CodeAt = 0x1000, DataAt = 0x8000;

    private static (Machine M, byte[] Bytes) Load(Action<Assembler> emit)
    {
        var a = new Assembler(64);
        emit(a);
        var w = new Writer();
        a.Assemble(w, CodeAt);
        var m = new Machine(new MachineOptions { MemoryMiB = 1 });
        m.WriteMemory(CodeAt, w.Bytes.ToArray());
        m.Cpu.Rip = CodeAt;
        m.Cpu[Gpr.Rsp] = 0x9000;
        return (m, w.Bytes.ToArray());
    }

    private sealed class Writer : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }

    /// <summary>Runs one instruction expecting #DE with every register, RFLAGS, RIP and the data unchanged.</summary>
    private static void ExpectDivideError(Machine m)
    {
        var before = Enumerable.Range(0, 16).Select(i => m.Cpu[(Gpr)i]).ToArray();
        ulong flags = m.Cpu.Rflags;
        byte[] data = m.ReadMemory(DataAt, 16);
        RunResult r = m.Run(RunLimits.Instructions(1));
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(ExceptionVector.DE, r.Fault!.Value.Vector);
        Assert.Null(r.Fault.Value.ErrorCode);
        Assert.Equal(CodeAt, m.Cpu.Rip);
        Assert.Equal(0UL, r.Instructions);
        for (int i = 0; i < 16; i++) Assert.Equal(before[i], m.Cpu[(Gpr)i]);
        Assert.Equal(flags, m.Cpu.Rflags);
        Assert.Equal(data, m.ReadMemory(DataAt, 16));
    }

    public static TheoryData<int, bool, bool> Forms()
    {
        var d = new TheoryData<int, bool, bool>();
        foreach (int size in new[] { 1, 2, 4, 8 })
            foreach (bool signed in new[] { false, true })
                foreach (bool memory in new[] { false, true })
                    d.Add(size, signed, memory);
        return d;
    }

    private static void EmitDivide(Assembler a, int size, bool signed, bool memory)
    {
        if (memory)
        {
            switch (size)
            {
                case 1: if (signed) a.idiv(__byte_ptr[rbx]); else a.div(__byte_ptr[rbx]); break;
                case 2: if (signed) a.idiv(__word_ptr[rbx]); else a.div(__word_ptr[rbx]); break;
                case 4: if (signed) a.idiv(__dword_ptr[rbx]); else a.div(__dword_ptr[rbx]); break;
                default: if (signed) a.idiv(__qword_ptr[rbx]); else a.div(__qword_ptr[rbx]); break;
            }
            return;
        }
        switch (size)
        {
            case 1: if (signed) a.idiv(cl); else a.div(cl); break;
            case 2: if (signed) a.idiv(cx); else a.div(cx); break;
            case 4: if (signed) a.idiv(ecx); else a.div(ecx); break;
            default: if (signed) a.idiv(rcx); else a.div(rcx); break;
        }
    }

    private static void SetDivisor(Machine m, int size, bool memory, ulong divisor)
    {
        ulong mask = Regs.Mask(size);
        if (memory)
        {
            m.Cpu[Gpr.Rbx] = DataAt;
            m.WriteMemory(DataAt, BitConverter.GetBytes(divisor & mask).AsSpan(0, size));
            m.Cpu[Gpr.Rcx] = 0x1234_5678_9ABC_DEF0;
        }
        else m.Cpu[Gpr.Rcx] = (0xA5A5_A5A5_A5A5_A5A5UL & ~mask) | (divisor & mask);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void DivideByZeroRaisesDivideError(int size, bool signed, bool memory)
    {
        var (m, _) = Load(a => EmitDivide(a, size, signed, memory));
        SetDivisor(m, size, memory, 0);
        m.Cpu[Gpr.Rax] = 0x1111_2222_3333_4444;
        m.Cpu[Gpr.Rdx] = 0x5555_6666_7777_8888;
        m.Cpu.Rflags = 0x2 | 0x1 | 0x40 | 0x800;
        ExpectDivideError(m);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void QuotientOverflowRaisesDivideError(int size, bool signed, bool memory)
    {
        var (m, _) = Load(a => EmitDivide(a, size, signed, memory));
        int bits = size * 8;
        ulong mask = Regs.Mask(size);
        if (signed)
        {
            // MIN / -1: the quotient 2^(n-1) does not fit (SDM IDIV: "If the quotient is too large ... #DE").
            SetDivisor(m, size, memory, mask);
            if (size == 1) m.Cpu[Gpr.Rax] = 0xFFFF_FFFF_FFFF_8000UL; // AX = 0x8000 = -32768
            else
            {
                m.Cpu[Gpr.Rax] = 0;
                m.Cpu[Gpr.Rdx] = 1UL << (bits - 1);
                if (size < 8)
                {
                    // rDX:rAX = MIN of the double width: rDX = 0x80..0, rAX = 0.
                    m.Cpu[Gpr.Rdx] = 0xDEAD_0000_0000_0000UL | (1UL << (bits - 1));
                }
            }
        }
        else
        {
            // The high half equals the divisor: the quotient is at least 2^n.
            SetDivisor(m, size, memory, 7);
            if (size == 1) m.Cpu[Gpr.Rax] = 0x0700;
            else
            {
                m.Cpu[Gpr.Rax] = 0x1234;
                m.Cpu[Gpr.Rdx] = 7;
            }
        }
        ExpectDivideError(m);
    }

    /// <summary>
    /// Property (Vtx only): for random divisors and dividends over the full range, DIV/IDIV either match a
    /// big-integer reference (quotient, remainder, upper register bits per operand size) or raise #DE exactly when
    /// the divisor is zero or the quotient does not fit, committing nothing.
    /// </summary>
    [Fact]
    public void DivideMatchesReferenceOrFaults()
    {
        var gen =
            from size in Gen.Elements(1, 2, 4, 8)
            from signed in Gen.Elements(false, true)
            from memory in Gen.Elements(false, true)
            from divisor in Gen.Frequency((1, Gen.Constant(0UL)), (2, Gen.Elements(Values.Edges)), (6, Values.Value64))
            from rax in Values.Value64
            from rdx in Gen.Frequency((3, Values.Value64), (1, Gen.Elements(0UL, ulong.MaxValue)))
            select (size, signed, memory, divisor, rax, rdx);
        Property prop = Prop.ForAll(Arb.From(gen), t =>
        {
            var (size, signed, memory, divisor, rax, rdx) = t;
            var (m, _) = Load(a => EmitDivide(a, size, signed, memory));
            SetDivisor(m, size, memory, divisor);
            m.Cpu[Gpr.Rax] = rax;
            m.Cpu[Gpr.Rdx] = rdx;
            int bits = size * 8;
            ulong mask = Regs.Mask(size);
            ulong d = divisor & mask;
            ulong lo = size == 1 ? rax & 0xFF : rax & mask, hi = size == 1 ? (rax >> 8) & 0xFF : rdx & mask;
            bool fault;
            ulong q = 0, r = 0;
            if (d == 0) fault = true;
            else if (!signed)
            {
                UInt128 n = ((UInt128)hi << bits) | lo;
                UInt128 qq = n / d;
                fault = qq > mask;
                q = (ulong)qq;
                r = (ulong)(n % d);
            }
            else
            {
                Int128 n = (Int128)(((UInt128)hi << bits) | lo);
                n = (n << (128 - 2 * bits)) >> (128 - 2 * bits);
                Int128 ds = (long)Regs.SignExtend(d, size);
                Int128 qq = n / ds;
                Int128 max = (Int128)(long)(mask >> 1);
                fault = qq > max || qq < -max - 1;
                q = (ulong)(long)qq;
                r = (ulong)(long)(n % ds);
            }
            if (fault)
            {
                ExpectDivideError(m);
                return;
            }
            RunResult res = m.Run(RunLimits.Instructions(1));
            Assert.Equal(StopReason.InstructionLimit, res.Reason);
            ulong eax = m.Cpu[Gpr.Rax], edx = m.Cpu[Gpr.Rdx];
            switch (size)
            {
                case 1:
                    Assert.Equal((rax & ~0xFFFFUL) | ((r & 0xFF) << 8) | (q & 0xFF), eax);
                    Assert.Equal(rdx, edx);
                    break;
                case 2:
                    Assert.Equal((rax & ~0xFFFFUL) | (q & 0xFFFF), eax);
                    Assert.Equal((rdx & ~0xFFFFUL) | (r & 0xFFFF), edx);
                    break;
                case 4:
                    Assert.Equal(q & 0xFFFF_FFFF, eax);
                    Assert.Equal(r & 0xFFFF_FFFF, edx);
                    break;
                default:
                    Assert.Equal(q, eax);
                    Assert.Equal(r, edx);
                    break;
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500).WithQuietOnSuccess(true), prop);
    }
}
