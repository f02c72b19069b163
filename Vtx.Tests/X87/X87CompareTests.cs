using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// Comparisons (SDM Vol. 2A FCOM/FUCOM/FICOM/FTST: C3,C2,C0 = 000 &gt;, 001 &lt;, 100 =, 111
/// unordered; FCOMI/FUCOMI: ZF,PF,CF likewise with OF, SF, AF cleared), the NaN rules (FUCOM
/// raises IE only for SNaN) and the pops.
/// </summary>
public class X87CompareTests
{
    private const ulong CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SFl = 0x80, OF = 0x800;

    private static readonly Float80 QNaN = new(0xC000_0000_0000_0000, 0x7FFF);
    private static readonly Float80 SNaN = new(0x8000_0000_0000_0001, 0x7FFF);

    /// <summary>The ordering of two values by the reference model; null when unordered.</summary>
    private static int? Order(Float80 a, Float80 b)
    {
        bool nanA = a.Exponent == 0x7FFF && (a.Significand << 1) != 0, nanB = b.Exponent == 0x7FFF && (b.Significand << 1) != 0;
        if (nanA || nanB) return null;
        BigInteger Key(Float80 v)
        {
            if (v.Exponent == 0x7FFF) return v.Sign ? -(BigInteger.One << 40000) : BigInteger.One << 40000;
            var (n, d) = Exact(v);
            return n * (BigInteger.One << 16500) / d;   // d is a power of two up to 2^16445: exact
        }
        return Key(a).CompareTo(Key(b));
    }

    private static Gen<Float80> Operands => Gen.OneOf(Normal(3), Gen.Elements(QNaN, new Float80(0, 0), new Float80(0, 0x8000),
        new Float80(0x8000_0000_0000_0000, 0x7FFF), new Float80(0x8000_0000_0000_0000, 0xFFFF), One, new Float80(1, 0), new Float80(1, 0x8000)));

    [Property(MaxTest = 150)]
    public Property FcomAndFcomiOrderTheOperands() =>
        Prop.ForAll(Arb.From(from a in Operands from b in Operands select (a, b)), t =>
        {
            var (a, b) = t;
            var m = Exec(asm =>
            {
                asm.fld(__tword_ptr[rbx + 0x10]);   // ST(1) = b
                asm.fld(__tword_ptr[rbx]);          // ST(0) = a
                asm.fucom(st0, st1);
                asm.fnstsw(ax);
                asm.mov(ecx, 0x8D5);                // set OF SF ZF AF PF CF
                asm.push(rcx);
                asm.popfq();
                asm.fucomi(st0, st1);
                asm.pushfq();
                asm.pop(rdx);
            }, m => { WriteF80(m, Data, a); WriteF80(m, Data + 0x10, b); });
            int? o = Order(a, b);
            ushort cc = o switch { null => C0 | C2 | C3, < 0 => C0, 0 => C3, _ => 0 };
            ulong fl = o switch { null => ZF | PF | CF, < 0 => CF, 0 => ZF, _ => 0 };
            Assert.Equal(cc, (ushort)m.Cpu[Gpr.Rax] & (C0 | C1 | C2 | C3));
            Assert.Equal(fl, m.Cpu[Gpr.Rdx] & (CF | PF | AF | ZF | SFl | OF));
            // A QNaN operand takes precedence over the denormal-operand exception (SDM Vol. 1, 4.9.2).
            bool denormal = o is not null && (a.Exponent == 0 && a.Significand != 0 || b.Exponent == 0 && b.Significand != 0);
            Assert.Equal(denormal ? DE : 0, m.Cpu.FpuStatusWord & 0x3F);   // QNaN: no IE for the unordered compares
        });

    public static TheoryData<string, int, ushort> NaNCases => new()
    {
        // compare kind (0 FCOM, 1 FUCOM, 2 FCOMI, 3 FUCOMI), the NaN operand's IE
        { "FCOM QNaN", 0, IE }, { "FUCOM QNaN", 1, 0 }, { "FCOMI QNaN", 2, IE }, { "FUCOMI QNaN", 3, 0 },
    };

    [Theory]
    [MemberData(nameof(NaNCases))]
    public void OrderedComparesRaiseInvalidForQNaNsUnorderedOnesOnlyForSNaNs(string name, int kind, ushort ieForQNaN)
    {
        foreach (var (nan, ie) in new[] { (QNaN, ieForQNaN), (SNaN, IE) })
        {
            var m = Exec(a =>
            {
                a.fld1();
                a.fld(__tword_ptr[rbx]);
                switch (kind) { case 0: a.fcom(st0, st1); break; case 1: a.fucom(st0, st1); break; case 2: a.fcomi(st0, st1); break; default: a.fucomi(st0, st1); break; }
            }, m => WriteF80(m, Data, nan));
            Assert.True((m.Cpu.FpuStatusWord & 0x3F) == ie, name);
        }
    }

    [Fact]
    public void UnmaskedInvalidLeavesConditionCodesFlagsAndStackAlone()
    {
        var m = Exec(a =>
        {
            a.fldcw(__word_ptr[rbx + 0x10]);
            a.fld1();
            a.fld(__tword_ptr[rbx]);
            a.xor(eax, eax);                     // ZF = 1, PF = 1, CF = 0
            a.fcomip(st0, st1);
            a.pushfq();
            a.pop(rdx);
        }, m => { WriteF80(m, Data, QNaN); W16(m, Data + 0x10, 0x037E); m.Cpu.Cr0Value &= ~Cr0.NE; });
        Assert.Equal(ZF | PF, m.Cpu[Gpr.Rdx] & (ZF | PF | CF));
        Assert.Equal(6, Top(m.Cpu));             // no pop
        Assert.Equal(IE | ES | B, m.Cpu.FpuStatusWord & (0x3F | ES | B));
    }

    [Fact]
    public void PopsOfFcompFcomppFucomppAndFcomip()
    {
        var m = Exec(a => { a.fld1(); a.fld1(); a.fld1(); a.fld1(); a.fld1(); a.fcomp(st0, st1); a.fcompp(); a.fucompp(); });
        Assert.Equal(0, Top(m.Cpu));
        Assert.Equal(0, m.Cpu.FpuAbridgedTag);
        Assert.Equal(C3, m.Cpu.FpuStatusWord & (C0 | C1 | C2 | C3));
        m = Exec(a => { a.fld1(); a.fldz(); a.fcomip(st0, st1); a.fucomip(st0, st1); });
        Assert.Equal(0, Top(m.Cpu));
    }

    [Fact]
    public void MaskedUnderflowIsUnorderedAndStillPops()
    {
        var m = Exec(a => { a.fld1(); a.fcomp(st0, st1); });
        Assert.Equal(C0 | C2 | C3, m.Cpu.FpuStatusWord & (C0 | C1 | C2 | C3));
        Assert.Equal(IE | SF, m.Cpu.FpuStatusWord & (0x3F | SF));
        Assert.Equal(0, Top(m.Cpu));
    }

    [Theory]
    [InlineData(5, 3, 0)]
    [InlineData(-5, 3, C0)]
    [InlineData(3, 3, C3)]
    public void FicomAndFtst(int st0, int mem, ushort expected)
    {
        var m = Exec(a => { a.fild(__dword_ptr[rbx]); a.ficom(__word_ptr[rbx + 4]); a.fnstsw(ax); a.ficomp(__dword_ptr[rbx + 8]); a.fnstsw(__word_ptr[rbx + 0x30]); a.fild(__dword_ptr[rbx]); a.ftst(); },
                     m => { W32(m, Data, (uint)st0); W16(m, Data + 4, (ushort)mem); W32(m, Data + 8, (uint)mem); });
        Assert.Equal(expected, (ushort)m.Cpu[Gpr.Rax] & (C0 | C2 | C3));
        Assert.Equal(expected, R16(m, Data + 0x30) & (C0 | C2 | C3));
        Assert.Equal(st0 < 0 ? C0 : 0, m.Cpu.FpuStatusWord & (C0 | C2 | C3));
        Assert.Equal(7, Top(m.Cpu));
    }
}
