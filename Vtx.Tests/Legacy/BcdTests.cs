using Iced.Intel;
using Xunit;

namespace Vtx.Tests.LegacyInstructions;

/// <summary>
/// DAA, DAS, AAA, AAS, AAM, AAD and SALC (SDM Vol. 2A) against a reference written here from each
/// page's pseudo-code, exhaustively over AL × AF × CF in 32-bit flat mode; #UD in 64-bit mode.
/// Flags the SDM leaves undefined are masked out of the comparison.
/// </summary>
public class BcdTests
{
    private const ulong CodeBase = 0x1000;
    private const uint CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;

    private static bool Parity(byte v) => (System.Numerics.BitOperations.PopCount(v) & 1) == 0;

    private static uint Szp(byte al) => (al == 0 ? ZF : 0) | ((al & 0x80) != 0 ? SF : 0) | (Parity(al) ? PF : 0);

    /// <summary>A 32-bit flat machine whose code at <see cref="CodeBase"/> is <paramref name="bytes"/>.</summary>
    private static Machine Flat32(params byte[] bytes)
    {
        var m = new Machine(new MachineOptions { CodeSize = 32 });
        m.WriteMemory(CodeBase, bytes);
        return m;
    }

    /// <summary>Runs the single instruction at <see cref="CodeBase"/> with EAX and RFLAGS given; returns the stop.</summary>
    private static RunResult Exec(Machine m, ulong rax, ulong flags)
    {
        m.Cpu.Rip = CodeBase;
        m.Cpu[Gpr.Rax] = rax;
        m.Cpu.Rflags = flags | 2;
        return m.Run(RunLimits.Instructions(1));
    }

    // Reference models, from the pseudo-code of each SDM page. Each returns the new AX and the defined flags.

    private static (ushort Ax, uint Flags) RefDaa(ushort ax, bool af, bool cf)
    {
        int al = ax & 0xFF, oldAl = al;
        bool oldCf = cf;
        cf = false;
        if ((al & 0x0F) > 9 || af) { int sum = al + 6; al = sum & 0xFF; cf = oldCf || sum > 0xFF; af = true; }
        else af = false;
        if (oldAl > 0x99 || oldCf) { al = (al + 0x60) & 0xFF; cf = true; }
        else cf = false;
        return ((ushort)((ax & 0xFF00) | al), Szp((byte)al) | (af ? AF : 0) | (cf ? CF : 0));
    }

    private static (ushort Ax, uint Flags) RefDas(ushort ax, bool af, bool cf)
    {
        int al = ax & 0xFF, oldAl = al;
        bool oldCf = cf;
        cf = false;
        if ((al & 0x0F) > 9 || af) { int diff = al - 6; al = diff & 0xFF; cf = oldCf || diff < 0; af = true; }
        else af = false;
        if (oldAl > 0x99 || oldCf) { al = (al - 0x60) & 0xFF; cf = true; }
        return ((ushort)((ax & 0xFF00) | al), Szp((byte)al) | (af ? AF : 0) | (cf ? CF : 0));
    }

    private static (ushort Ax, uint Flags) RefAaa(ushort ax, bool af, bool cf)
    {
        if ((ax & 0x0F) > 9 || af) { ax = (ushort)(ax + 0x106); af = cf = true; }
        else af = cf = false;
        ax = (ushort)(ax & 0xFF0F);
        return (ax, (af ? AF : 0) | (cf ? CF : 0));
    }

    private static (ushort Ax, uint Flags) RefAas(ushort ax, bool af, bool cf)
    {
        if ((ax & 0x0F) > 9 || af)
        {
            ax = (ushort)(ax - 6);
            ax = (ushort)((((ax >> 8) - 1) & 0xFF) << 8 | (ax & 0xFF));
            af = cf = true;
        }
        else af = cf = false;
        ax = (ushort)(ax & 0xFF0F);
        return (ax, (af ? AF : 0) | (cf ? CF : 0));
    }

    public static TheoryData<string, byte> AdjustOpcodes => new() { { "DAA", 0x27 }, { "DAS", 0x2F }, { "AAA", 0x37 }, { "AAS", 0x3F } };

    [Theory]
    [MemberData(nameof(AdjustOpcodes))]
    public void AdjustMatchesPseudoCodeForEveryAlAfCf(string name, byte opcode)
    {
        Func<ushort, bool, bool, (ushort, uint)> reference = name switch
        {
            "DAA" => RefDaa, "DAS" => RefDas, "AAA" => RefAaa, _ => RefAas,
        };
        // DAA/DAS leave only OF undefined; AAA/AAS define only AF and CF.
        uint defined = name is "DAA" or "DAS" ? CF | PF | AF | ZF | SF : CF | AF;
        var m = Flat32(opcode);
        int checkedCases = 0;
        foreach (int ah in new[] { 0x00, 0x12, 0x7F, 0xFF })
            for (int al = 0; al < 256; al++)
                for (int fl = 0; fl < 4; fl++)
                {
                    bool af = (fl & 1) != 0, cf = (fl & 2) != 0;
                    ushort ax = (ushort)(ah << 8 | al);
                    ulong upper = 0xDEAD_0000UL;
                    var r = Exec(m, upper | ax, (af ? AF : 0) | (cf ? CF : 0) | OF);
                    Assert.Equal(StopReason.InstructionLimit, r.Reason);
                    var (expAx, expFlags) = reference(ax, af, cf);
                    ulong rax = m.Cpu[Gpr.Rax];
                    Assert.True(upper == (rax & 0xFFFF_0000) && expAx == (ushort)rax,
                        $"{name} AX={ax:X4} AF={af} CF={cf}: AX {expAx:X4} expected, got {rax:X}");
                    Assert.True(expFlags == ((uint)m.Cpu.Rflags & defined),
                        $"{name} AX={ax:X4} AF={af} CF={cf}: flags {expFlags:X} expected, got {m.Cpu.Rflags & defined:X}");
                    Assert.Equal(CodeBase + 1, m.Cpu.Rip);
                    checkedCases++;
                }
        Assert.Equal(4 * 256 * 4, checkedCases);
    }

    [Fact]
    public void AamDividesAlByImmediate()
    {
        foreach (byte imm in new byte[] { 10, 1, 2, 7, 16, 0x7F, 0x80, 0xFF })
        {
            var m = Flat32(0xD4, imm);
            for (int al = 0; al < 256; al++)
                for (int fl = 0; fl < 4; fl++)
                {
                    ulong flags = ((fl & 1) != 0 ? AF : 0) | ((fl & 2) != 0 ? CF : 0);
                    var r = Exec(m, 0x1234_5600UL | (uint)al, flags);
                    Assert.Equal(StopReason.InstructionLimit, r.Reason);
                    byte ah = (byte)(al / imm), newAl = (byte)(al % imm);
                    Assert.Equal(0x1234_0000UL | (uint)(ah << 8) | newAl, m.Cpu[Gpr.Rax]);
                    Assert.Equal(Szp(newAl), (uint)m.Cpu.Rflags & (ZF | SF | PF));
                }
        }
    }

    [Fact]
    public void AamWithZeroImmediateIsDivideError()
    {
        var m = Flat32(0xD4, 0x00);
        var r = Exec(m, 0x1234_5678, CF);
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.DE, null), r.Fault);
        Assert.Equal(CodeBase, r.Rip);
        Assert.Equal(0x1234_5678UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void AadCombinesAhAndAl()
    {
        foreach (byte imm in new byte[] { 10, 0, 1, 16, 0x80, 0xFF })
        {
            var m = Flat32(0xD5, imm);
            foreach (int ah in new[] { 0, 1, 9, 0x55, 0x80, 0xFF })
                for (int al = 0; al < 256; al++)
                {
                    var r = Exec(m, 0xABCD_0000UL | (uint)(ah << 8 | al), AF | CF);
                    Assert.Equal(StopReason.InstructionLimit, r.Reason);
                    byte newAl = (byte)((al + ah * imm) & 0xFF);
                    Assert.Equal(0xABCD_0000UL | newAl, m.Cpu[Gpr.Rax]);
                    Assert.Equal(Szp(newAl), (uint)m.Cpu.Rflags & (ZF | SF | PF));
                }
        }
    }

    [Fact]
    public void SalcSetsAlFromCarryWithoutTouchingFlags()
    {
        var m = Flat32(0xD6);
        foreach (ulong flags in new ulong[] { 0, CF, CF | ZF | OF, ZF | SF | PF | AF })
        {
            Exec(m, 0x1122_3344, flags);
            Assert.Equal(0x1122_3300UL | ((flags & CF) != 0 ? 0xFFUL : 0), m.Cpu[Gpr.Rax]);
            Assert.Equal(flags | 2, m.Cpu.Rflags);
        }
    }

    /// <summary>The 8086/186 instructions removed from 64-bit mode raise #UD there (SDM Vol. 2A, each page's 64-bit mode exceptions).</summary>
    [Theory]
    [InlineData("DAA", new byte[] { 0x27 })]
    [InlineData("DAS", new byte[] { 0x2F })]
    [InlineData("AAA", new byte[] { 0x37 })]
    [InlineData("AAS", new byte[] { 0x3F })]
    [InlineData("AAM", new byte[] { 0xD4, 0x0A })]
    [InlineData("AAD", new byte[] { 0xD5, 0x0A })]
    [InlineData("SALC", new byte[] { 0xD6 })]
    [InlineData("PUSHA", new byte[] { 0x60 })]
    [InlineData("POPA", new byte[] { 0x61 })]
    [InlineData("PUSHAW", new byte[] { 0x66, 0x60 })]
    public void InvalidIn64BitMode(string name, byte[] bytes)
    {
        var m = new Machine(new MachineOptions { CodeSize = 64 });
        m.WriteMemory(CodeBase, bytes);
        m.Cpu.Rip = CodeBase;
        m.Cpu[Gpr.Rsp] = 0x8_0000;
        m.Cpu[Gpr.Rax] = 0x99;
        var r = m.Run(RunLimits.Instructions(1));
        Assert.True(r.Reason == StopReason.Exception, name + ": " + r);
        Assert.Equal(new FaultInfo(ExceptionVector.UD, null), r.Fault);
        Assert.Equal(CodeBase, r.Rip);
        Assert.Equal(0x99UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(0x8_0000UL, m.Cpu[Gpr.Rsp]);
    }

    /// <summary>None of these instructions accepts LOCK: the prefix makes them #UD (SDM Vol. 2A, LOCK: "#UD otherwise").</summary>
    [Theory]
    [InlineData("DAA", new byte[] { 0xF0, 0x27 })]
    [InlineData("AAM", new byte[] { 0xF0, 0xD4, 0x0A })]
    [InlineData("PUSHAD", new byte[] { 0xF0, 0x60 })]
    [InlineData("BOUND", new byte[] { 0xF0, 0x62, 0x05, 0x00, 0x20, 0x00, 0x00 })]
    [InlineData("ARPL m16", new byte[] { 0xF0, 0x63, 0x05, 0x00, 0x20, 0x00, 0x00 })]
    [InlineData("LAR", new byte[] { 0xF0, 0x0F, 0x02, 0x05, 0x00, 0x20, 0x00, 0x00 })]
    [InlineData("VERW m16", new byte[] { 0xF0, 0x0F, 0x00, 0x2D, 0x00, 0x20, 0x00, 0x00 })]
    public void LockPrefixIsInvalid(string name, byte[] bytes)
    {
        var m = Flat32(bytes);
        var r = Exec(m, 0x99, 0);
        Assert.True(r.Reason == StopReason.Exception, name + ": " + r);
        Assert.Equal(new FaultInfo(ExceptionVector.UD, null), r.Fault);
        Assert.Equal(0x99UL, m.Cpu[Gpr.Rax]);
    }

    /// <summary>All 27 legacy codes have a handler and the default model offers them (Iced's CPUID features INTEL8086..X64).</summary>
    [Fact]
    public void EveryLegacyCodeIsRegisteredAndOffered()
    {
        Code[] codes =
        {
            Code.Daa, Code.Das, Code.Aaa, Code.Aas, Code.Aam_imm8, Code.Aad_imm8, Code.Salc,
            Code.Pushaw, Code.Popaw, Code.Pushad, Code.Popad, Code.Bound_r16_m1616, Code.Bound_r32_m3232,
            Code.Arpl_rm16_r16, Code.Arpl_r32m16_r32,
            Code.Verr_rm16, Code.Verr_r32m16, Code.Verr_r64m16, Code.Verw_rm16, Code.Verw_r32m16, Code.Verw_r64m16,
            Code.Lar_r16_rm16, Code.Lar_r32_r32m16, Code.Lar_r64_r64m16, Code.Lsl_r16_rm16, Code.Lsl_r32_r32m16, Code.Lsl_r64_r64m16,
        };
        Assert.Equal(27, codes.Distinct().Count());
        var model = new CpuModel();
        foreach (var code in codes)
        {
            Assert.True(Cpu.Ext.Has(code), code + " has no handler");
            Assert.True(model.OffersAll(code), code + " is not offered by the default model");
        }
    }
}
