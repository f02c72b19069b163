using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Tests.Support;
using Vtx.Tests.SystemArchitecture;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.LegacyInstructions;

/// <summary>
/// LAR, LSL, VERR, VERW (SDM Vol. 2A LAR, LSL; Vol. 2B VERR/VERW) over generated descriptors, selectors
/// and CPLs, in protected and 64-bit mode, against a model of each page's rules written here; ARPL
/// (SDM Vol. 2A); #UD in real-address mode.
/// </summary>
public class DescriptorCheckTests
{
    private const ulong Mem = Sys.Scratch;          // the memory selector operand
    private const uint LdtLimit = 0x7F;             // 16 LDT entries
    private const ulong Sentinel32 = 0xA5A5_A5A5, Sentinel64 = 0xA5A5_A5A5_A5A5_A5A5;
    private const ulong ZF = 0x40;

    /// <summary>A generated case: the descriptor, where it sits, the selector naming it, and the CPL.</summary>
    public sealed record Case(int Type, bool S, int Dpl, bool P, bool G, uint Limit, uint Base, bool L, bool Db, bool Avl,
        bool Ti, int Index, int Rpl, int Cpl, int UpperType, bool LdtNull, ulong RcxHigh)
    {
        public ulong Descriptor => Desc.Seg(Base, Limit, Type, Dpl, S, P, L, Db, G) | (Avl ? 1UL << 52 : 0);
        public ushort Selector => (ushort)((Index << 3) | (Ti ? 4 : 0) | Rpl);
    }

    private static readonly Gen<Case> Cases =
        from type in Gen.Choose(0, 15)
        from s in Gen.Elements(false, true)
        from dpl in Gen.Choose(0, 3)
        from p in Gen.Elements(false, true)
        from g in Gen.Elements(false, true)
        from limit in Gen.Frequency((3, Gen.Choose(0, 0xFFFFF)), (1, Gen.Elements(0, 0xFFFF, 0xFFFFF, 1, 0x67)))
        from b in Gen.Choose(int.MinValue, int.MaxValue)
        from l in Gen.Elements(false, true)
        from db in Gen.Elements(false, true)
        from avl in Gen.Elements(false, true)
        from ti in Gen.Elements(false, true)
        // GDT: 0 (null), 16..30 free entries, 31 (upper half beyond the limit), 32 and 0x1FFF beyond the limit.
        // LDT: 0..14, 15 (upper half beyond the limit), 16 and 0x1FFF beyond.
        from index in ti ? Gen.Frequency((8, Gen.Choose(0, 14)), (1, Gen.Elements(15, 16, 0x1FFF)))
                         : Gen.Frequency((1, Gen.Constant(0)), (8, Gen.Choose(16, 30)), (1, Gen.Elements(31, 32, 0x1FFF)))
        from rpl in Gen.Choose(0, 3)
        from cpl in Gen.Choose(0, 3)
        from upper in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(1, 31)))
        from ldtNull in Gen.Frequency((7, Gen.Constant(false)), (1, Gen.Constant(true)))
        from high in Gen.Choose(int.MinValue, int.MaxValue)
        select new Case(type, s, dpl, p, g, (uint)limit, (uint)b, l, db, avl, ti, index, rpl, cpl, upper, ldtNull, (ulong)(uint)high << 16);

    // ------------------------------------------------------------------ the model (SDM pages)

    /// <summary>Where the descriptor (8 bytes, or 16 for a 64-bit-mode system descriptor) lies inside its table.</summary>
    private static bool InTable(Case k, int bytes)
    {
        if (k.Ti && k.LdtNull) return false;
        uint limit = k.Ti ? LdtLimit : Sys.GdtLimit;
        return (uint)(k.Index * 8 + bytes - 1) <= limit;
    }

    private static bool Found(Case k) => !(k.Index == 0 && !k.Ti) && InTable(k, 8);

    private static bool Visible(Case k) => k.Dpl >= k.Cpl && k.Dpl >= k.Rpl;

    private static bool ConformingCode(Case k) => k.S && (k.Type & 0b1100) == 0b1100;

    /// <summary>LAR (the page's table of valid descriptor types); LSL the same without gates. 64-bit mode: IA-32e column, 16-byte system descriptors.</summary>
    private static bool LarLslValid(Case k, bool lar, bool mode64)
    {
        if (!Found(k)) return false;
        if (k.S) return ConformingCode(k) || Visible(k);
        int[] types = mode64
            ? (lar ? new[] { 2, 9, 11, 12 } : new[] { 2, 9, 11 })
            : (lar ? new[] { 1, 2, 3, 4, 5, 9, 11, 12 } : new[] { 1, 2, 3, 9, 11 });
        if (!types.Contains(k.Type) || !Visible(k)) return false;
        return !mode64 || (InTable(k, 16) && k.UpperType == 0);
    }

    private static bool VerrValid(Case k)
    {
        if (!Found(k) || !k.S) return false;
        bool code = (k.Type & 8) != 0;
        if (code && (k.Type & 2) == 0) return false;     // execute-only code is not readable
        return ConformingCode(k) || Visible(k);
    }

    private static bool VerwValid(Case k) => Found(k) && k.S && (k.Type & 8) == 0 && (k.Type & 2) != 0 && Visible(k);

    private static ulong AccessRights(Case k, int size) => (k.Descriptor >> 32) & (size == 2 ? 0xFF00UL : 0x00F0_FF00UL);

    private static ulong ByteLimit(Case k) => k.G ? ((ulong)k.Limit << 12) | 0xFFF : k.Limit;

    // ------------------------------------------------------------------ running

    private static readonly byte[] Code32 = Guest.Assemble(a =>
    {
        a.lar(eax, ecx);
        a.lar(dx, cx);
        a.lsl(ebx, ecx);
        a.lsl(di, __word_ptr[Mem]);
        a.verr(cx);
        a.verw(__word_ptr[Mem]);
        a.hlt();
    }, Sys.Code, 32);

    private static readonly byte[] Code64 = Guest.Assemble(a =>
    {
        a.lar(rax, rcx);
        a.lar(edx, ecx);
        a.lsl(rbx, rcx);
        a.lsl(edi, __word_ptr[Mem]);
        a.verr(cx);
        a.verw(__word_ptr[Mem]);
        a.hlt();
    }, Sys.Code, 64);

    private static Sys Setup(Case k, bool mode64)
    {
        var s = new Sys();
        if (mode64) s.EnterLong(0); else s.EnterProtected(0);
        var c = s.Cpu;
        ulong cs = mode64 ? Desc.Code64(k.Cpl) : Desc.Code32(k.Cpl);
        var cache = SegmentCache.FromDescriptor((ushort)(Sys.UCode32 | k.Cpl), cs);
        c.SetSegment(SegmentRegister.Cs, cache with { AccessRights = cache.AccessRights | 1 });
        Assert.Equal(k.Cpl, c.Cpl);
        c.Ldtr = k.LdtNull ? SegmentCache.Null() : new SegmentCache(0x88, Sys.LdtBase, LdtLimit, 0x82);
        ulong table = k.Ti ? Sys.LdtBase : Sys.GdtBase;
        if (!(k.Index == 0 && !k.Ti) && (uint)(k.Index * 8 + 7) <= (k.Ti ? LdtLimit : Sys.GdtLimit))
        {
            s.W64(table + (ulong)k.Index * 8, k.Descriptor);
            if ((uint)(k.Index * 8 + 15) <= (k.Ti ? LdtLimit : Sys.GdtLimit))
                s.W64(table + (ulong)k.Index * 8 + 8, ((ulong)k.UpperType << 40) | 0xFFFF_FFFF); // type field of the upper half, base 63:32
        }
        s.W16(Mem, k.Selector);
        s.M.WriteMemory(Sys.Code, mode64 ? Code64 : Code32);
        c.Rip = Sys.Code;
        c[Gpr.Rcx] = k.RcxHigh | k.Selector;
        ulong sentinel = mode64 ? Sentinel64 : Sentinel32;
        c[Gpr.Rax] = c[Gpr.Rbx] = c[Gpr.Rdx] = c[Gpr.Rdi] = sentinel;
        c.Rflags = 2 | 0x8D5 & ~ZF; // CF PF AF SF OF set, ZF clear: only ZF may change
        return s;
    }

    private static bool Step(Sys s, ulong flagsBefore, out bool zf)
    {
        var r = s.Step();
        ulong f = s.Cpu.Rflags;
        zf = (f & ZF) != 0;
        return r.Reason == StopReason.InstructionLimit && (f & ~ZF) == (flagsBefore & ~ZF);
    }

    private static bool Check(Case k, bool mode64)
    {
        var s = Setup(k, mode64);
        var c = s.Cpu;
        ulong flags = c.Rflags;
        ulong sentinel = mode64 ? Sentinel64 : Sentinel32;
        bool lar = LarLslValid(k, true, mode64), lsl = LarLslValid(k, false, mode64);

        // LAR r32/r64 (the 64-bit form zero-extends the 32-bit masked value).
        if (!Step(s, flags, out bool zf) || zf != lar) return false;
        if (c[Gpr.Rax] != (lar ? AccessRights(k, 4) : sentinel)) return false;
        // LAR r16 (64-bit code: LAR r32, zero-extending).
        if (!Step(s, flags, out zf) || zf != lar) return false;
        ulong expDx = !lar ? sentinel : mode64 ? AccessRights(k, 4) : (sentinel & ~0xFFFFUL) | AccessRights(k, 2);
        if (c[Gpr.Rdx] != expDx) return false;
        // LSL r32/r64.
        if (!Step(s, flags, out zf) || zf != lsl) return false;
        if (c[Gpr.Rbx] != (lsl ? ByteLimit(k) : sentinel)) return false;
        // LSL r16 / r32, m16 (memory selector).
        if (!Step(s, flags, out zf) || zf != lsl) return false;
        ulong expDi = !lsl ? sentinel : mode64 ? ByteLimit(k) : (sentinel & ~0xFFFFUL) | (ByteLimit(k) & 0xFFFF);
        if (c[Gpr.Rdi] != expDi) return false;
        // VERR r16, VERW m16.
        if (!Step(s, flags, out zf) || zf != VerrValid(k)) return false;
        if (!Step(s, flags, out zf) || zf != VerwValid(k)) return false;
        return true;
    }

    [Property(MaxTest = 300)]
    public Property ProtectedModeMatchesThePages() =>
        Prop.ForAll(Arb.From(Cases), k => Check(k, mode64: false).Label(k.ToString()));

    [Property(MaxTest = 300)]
    public Property LongModeMatchesThePages() =>
        Prop.ForAll(Arb.From(Cases), k => Check(k, mode64: true).Label(k.ToString()));

    [Fact]
    public void KnownDescriptorsGiveThePagesResults()
    {
        // A flat 4-GiB ring-3 data segment seen from CPL 3: LAR = 00C0 F300h (G, B, P, DPL 3, S, type 3; limit bits 19:16 masked off), LSL = FFFF FFFFh.
        var k = new Case(3, true, 3, true, true, 0xFFFFF, 0, false, true, false, false, 20, 3, 3, 0, false, 0);
        var s = Setup(k, false);
        s.Step(); Assert.Equal(0x00C0_F300UL, s.Cpu[Gpr.Rax]);
        s.Step(); s.Step(); Assert.Equal(0xFFFF_FFFFUL, s.Cpu[Gpr.Rbx]);
        // The same descriptor at DPL 0 seen from CPL 3: invisible, ZF = 0.
        var hidden = k with { Dpl = 0 };
        Assert.False(LarLslValid(hidden, true, false));
        Assert.True(Check(hidden, false));
        // A 16-bit TSS is valid for LAR/LSL in protected mode, not in 64-bit mode; a 64-bit call gate is valid for LAR only.
        var tss16 = k with { S = false, Type = 1, Dpl = 3 };
        Assert.True(LarLslValid(tss16, true, false) && !LarLslValid(tss16, true, true));
        Assert.True(Check(tss16, false) && Check(tss16, true));
        var gate = k with { S = false, Type = 12, Dpl = 3 };
        Assert.True(LarLslValid(gate, true, true) && !LarLslValid(gate, false, true));
        Assert.True(Check(gate, true));
    }

    // ------------------------------------------------------------------ ARPL

    [Fact]
    public void ArplRaisesTheRplAndSetsZf()
    {
        byte[] code = { 0x63, 0xC8, 0x63, 0x0D, 0x00, 0x80, 0x00, 0x00 }; // arpl ax, cx; arpl [Mem], cx
        for (int dst = 0; dst < 4; dst++)
            for (int src = 0; src < 4; src++)
            {
                var s = new Sys();
                s.EnterProtected(0);
                s.M.WriteMemory(Sys.Code, code);
                var c = s.Cpu;
                c.Rip = Sys.Code;
                c[Gpr.Rax] = 0x1234_5678UL & ~3UL | (uint)dst;
                c[Gpr.Rcx] = 0xFFFF_FFF0UL | (uint)src;
                s.W16(Mem, (ushort)(0xBEEC | dst));
                s.W16(Mem + 2, 0x7777);
                c.Rflags = 2 | 0x8D5 & ~ZF;
                bool raise = dst < src;
                int rpl = raise ? src : dst;
                s.Step();
                Assert.Equal(0x1234_5678UL & ~3UL | (uint)rpl, c[Gpr.Rax]);
                Assert.Equal(2 | 0x8D5 & ~ZF | (raise ? ZF : 0), c.Rflags);
                c.Rflags = 2 | 0x8D5 | ZF;
                s.Step();
                Assert.Equal((ushort)(0xBEEC | rpl), s.R16(Mem));
                Assert.Equal((ushort)0x7777, s.R16(Mem + 2));
                Assert.Equal(2 | 0x8D5 & ~ZF | (raise ? ZF : 0), c.Rflags);
            }
    }

    // ------------------------------------------------------------------ real mode

    [Theory]
    [InlineData("LAR", new byte[] { 0x0F, 0x02, 0xC1 })]
    [InlineData("LSL", new byte[] { 0x0F, 0x03, 0xC1 })]
    [InlineData("VERR", new byte[] { 0x0F, 0x00, 0xE1 })]
    [InlineData("VERW", new byte[] { 0x0F, 0x00, 0xE9 })]
    [InlineData("ARPL", new byte[] { 0x63, 0xC8 })]
    public void InvalidInRealMode(string name, byte[] bytes)
    {
        var s = new Sys();
        s.EnterReal();
        s.M.WriteMemory(0x1000, bytes);
        s.Cpu[Gpr.Rax] = 0x55;
        s.ExpectFault(ExceptionVector.UD, null, 0x1000);
        Assert.True(s.Cpu[Gpr.Rax] == 0x55, name);
    }
}
