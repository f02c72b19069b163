using Vtx.Tests.SystemArchitecture;
using Xunit;

namespace Vtx.Tests.LegacyInstructions;

/// <summary>
/// PUSHA/PUSHAD, POPA/POPAD (SDM Vol. 2B): stack image layout, the skipped SP image, and faulting
/// stacks (#SS, #PF) that must leave no partial state (SDM Vol. 3A, 6.5). BOUND (SDM Vol. 2A): signed
/// range check, #BR (vector 5, a fault) intercepted and delivered through the IDT.
/// </summary>
public class StackBoundTests
{
    private const ulong At = Sys.Code;

    /// <summary>Protected mode, CPL 0, 32-bit flat code; <paramref name="bytes"/> at <see cref="At"/>.</summary>
    private static Sys Protected(byte[] bytes, int memoryMiB = 2)
    {
        var s = new Sys(memoryMiB);
        s.EnterProtected(0);
        s.M.WriteMemory(At, bytes);
        s.Cpu.Rip = At;
        return s;
    }

    private static readonly ulong[] Values = { 0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444, 0, 0x6666_6666, 0x7777_7777, 0x8888_8888 };

    private static void SetGprs(Cpu c)
    {
        for (int i = 0; i < 8; i++) if (i != 4) c[(Gpr)i] = Values[i];
    }

    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    public void PushaStoresRegistersInOrderThenPopaRestoresThemSkippingSp(int size)
    {
        byte[] pusha = size == 4 ? new byte[] { 0x60 } : new byte[] { 0x66, 0x60 };
        byte[] popa = size == 4 ? new byte[] { 0x61 } : new byte[] { 0x66, 0x61 };
        var s = Protected(pusha.Concat(popa).ToArray());
        var c = s.Cpu;
        SetGprs(c);
        ulong sp = 0x8_0000;
        c[Gpr.Rsp] = sp;
        Assert.Equal(StopReason.InstructionLimit, s.Step().Reason);
        ulong mask = size == 4 ? 0xFFFF_FFFFUL : 0xFFFF;
        // Image from high to low addresses: AX, CX, DX, BX, original SP, BP, SI, DI.
        for (int i = 0; i < 8; i++)
        {
            ulong slot = sp - (ulong)((i + 1) * size);
            ulong expected = i == 4 ? sp & mask : Values[i] & mask;
            ulong got = size == 4 ? s.R32(slot) : s.R16(slot);
            Assert.True(expected == got, $"slot {i}: {expected:X} expected, got {got:X}");
        }
        Assert.Equal(sp - (ulong)(8 * size), c[Gpr.Rsp]);

        // Change every register and the SP image in memory: POPA restores the others and ignores the SP image.
        for (int i = 0; i < 8; i++) if (i != 4) c[(Gpr)i] = 0x5A5A_5A5A;
        if (size == 4) s.W32(sp - 20, 0xDEAD_BEEF); else s.W16(sp - 10, 0xBEEF);
        Assert.Equal(StopReason.InstructionLimit, s.Step().Reason);
        for (int i = 0; i < 8; i++)
        {
            if (i == 4) continue;
            ulong expected = size == 4 ? Values[i] : (0x5A5A_0000UL | (Values[i] & 0xFFFF));
            Assert.True(expected == c[(Gpr)i], $"reg {i}: {expected:X} expected, got {c[(Gpr)i]:X}");
        }
        Assert.Equal(sp, c[Gpr.Rsp]);
    }

    [Fact]
    public void PushaOn16BitStackWrapsAtSegmentOffsetZero()
    {
        // A 16-bit stack (B = 0) with SP = 8: the slots wrap to offsets FFFEh.. of a 64-KiB segment.
        var s = Protected(new byte[] { 0x66, 0x60 });
        var c = s.Cpu;
        c.SetSegment(SegmentRegister.Ss, SegmentCache.FromDescriptor(Sys.KData16, Desc.Seg(0x2_0000, 0xFFFF, 3, 0)));
        SetGprs(c);
        c[Gpr.Rsp] = 0xAAAA_0008;
        Assert.Equal(StopReason.InstructionLimit, s.Step().Reason);
        Assert.Equal(0xAAAA_FFF8UL, c[Gpr.Rsp]);
        Assert.Equal((ushort)Values[0], s.R16(0x2_0006));      // AX at SP - 2
        Assert.Equal((ushort)Values[3], s.R16(0x2_0000));      // BX at SP - 8
        Assert.Equal((ushort)0x0008, s.R16(0x2_FFFE));         // original SP at offset FFFEh
        Assert.Equal((ushort)Values[7], s.R16(0x2_FFF8));      // DI last
    }

    [Fact]
    public void PushadStackSegmentFaultOnTheLastSlotWritesNothing()
    {
        // Expand-down data segment with limit L: offsets above L are valid. ESP = L + 1 + 28: the first
        // seven slots are valid, the eighth (DI) is at L - 3: #SS(0) with no slot written.
        const uint limit = 0x3_0000;
        var s = Protected(new byte[] { 0x60 });
        var c = s.Cpu;
        c.SetSegment(SegmentRegister.Ss, SegmentCache.FromDescriptor(Sys.KData, Desc.Seg(0, limit, 7, 0, db: true)) with { Selector = Sys.KData });
        SetGprs(c);
        ulong esp = limit + 1 + 28;
        c[Gpr.Rsp] = esp;
        byte[] before = s.M.ReadMemory(limit - 16, 64);
        s.ExpectFault(ExceptionVector.SS, 0, At);
        Assert.Equal(before, s.M.ReadMemory(limit - 16, 64));
        Assert.Equal(esp, c[Gpr.Rsp]);
    }

    [Fact]
    public void PopadStackSegmentFaultOnTheLastSlotChangesNothing()
    {
        const uint limit = 0x3_0000;
        var s = Protected(new byte[] { 0x61 });
        var c = s.Cpu;
        c.SetSegment(SegmentRegister.Ss, SegmentCache.FromDescriptor(Sys.KData, Desc.Seg(0, limit, 3, 0, db: true)));
        SetGprs(c);
        ulong esp = limit - 27; // the last slot (EAX) ends at limit + 1
        c[Gpr.Rsp] = esp;
        s.ExpectFault(ExceptionVector.SS, 0, At);
        for (int i = 0; i < 8; i++) if (i != 4) Assert.Equal(Values[i], c[(Gpr)i]);
        Assert.Equal(esp, c[Gpr.Rsp]);
    }

    /// <summary>32-bit paging with 4-MiB pages; the 4-MiB page <paramref name="notPresent"/> is not present.</summary>
    private static Sys Paged(byte[] bytes, int notPresent)
    {
        var s = Protected(bytes, memoryMiB: 16);
        s.W32(Sys.Pd32 + (ulong)notPresent * 4, 0);
        s.Cpu.Cr3Value = Sys.Pd32;
        s.Cpu.Cr4Value = Cr4.PSE;
        s.Cpu.Cr0Value |= Cr0.PG;
        return s;
    }

    [Fact]
    public void PushadPageFaultHalfWayWritesNothing()
    {
        // ESP = C0_0010h: the first four slots are in the present page at C0_0000h, the rest below it
        // in the not-present page 80_0000h-BF_FFFFh: #PF (write, supervisor, not present) and no slot written.
        var s = Paged(new byte[] { 0x60 }, notPresent: 2);
        var c = s.Cpu;
        SetGprs(c);
        c[Gpr.Rsp] = 0xC0_0010;
        s.ExpectFault(ExceptionVector.PF, 2, At);
        Assert.Equal(0xBF_FFFCUL, c.Cr2Value);
        Assert.Equal(new byte[16], s.M.ReadMemory(0xC0_0000, 16));
        Assert.Equal(0xC0_0010UL, c[Gpr.Rsp]);
    }

    [Fact]
    public void PopadPageFaultHalfWayChangesNothing()
    {
        // ESP = BF_FFF0h: four slots in the present page 80_0000h-BF_FFFFh, four in the not-present page at C0_0000h.
        var s = Paged(new byte[] { 0x61 }, notPresent: 3);
        var c = s.Cpu;
        for (int i = 0; i < 16; i++) s.W8(0xBF_FFF0 + (ulong)i, 0xCC);
        SetGprs(c);
        c[Gpr.Rsp] = 0xBF_FFF0;
        s.ExpectFault(ExceptionVector.PF, 0, At);
        Assert.Equal(0xC0_0000UL, c.Cr2Value);
        for (int i = 0; i < 8; i++) if (i != 4) Assert.Equal(Values[i], c[(Gpr)i]);
        Assert.Equal(0xBF_FFF0UL, c[Gpr.Rsp]);
    }

    // ------------------------------------------------------------------ BOUND

    private const ulong Bounds = Sys.Scratch;

    public static TheoryData<int, long, long, long> BoundCases => new()
    {
        // size, index, lower, upper
        { 4, 5, 0, 10 }, { 4, 0, 0, 10 }, { 4, 10, 0, 10 }, { 4, -1, 0, 10 }, { 4, 11, 0, 10 },
        { 4, -5, -10, -1 }, { 4, 0, -10, -1 }, { 4, int.MinValue, int.MinValue, int.MaxValue }, { 4, int.MaxValue, int.MinValue, int.MaxValue },
        { 4, -1, 0, int.MaxValue }, { 4, 0x7FFF_FFFF, 0, 0x7FFF_FFFE }, { 4, 3, 5, 2 },
        { 2, 5, 0, 10 }, { 2, -1, 0, 10 }, { 2, 11, 0, 10 }, { 2, -32768, -32768, 32767 }, { 2, 32767, -32768, 32766 }, { 2, -2, -3, -2 },
    };

    [Theory]
    [MemberData(nameof(BoundCases))]
    public void BoundComparesSignedAndRaisesBrWhenOutOfRange(int size, long index, long lower, long upper)
    {
        // bound eax/ax, [Scratch] (62 05 disp32); the upper half of EAX must not matter for the 16-bit form.
        byte[] code = { 0x62, 0x05, 0x00, 0x80, 0x00, 0x00 };
        var s = Protected(size == 2 ? new byte[] { 0x66 }.Concat(code).ToArray() : code);
        if (size == 4) { s.W32(Bounds, (uint)lower); s.W32(Bounds + 4, (uint)upper); }
        else { s.W16(Bounds, (ushort)lower); s.W16(Bounds + 2, (ushort)upper); }
        s.Cpu[Gpr.Rax] = size == 4 ? (uint)index : 0x7FFF_0000UL | (ushort)index;
        bool inRange = index >= lower && index <= upper;
        if (inRange)
        {
            Assert.Equal(StopReason.InstructionLimit, s.Step().Reason);
            Assert.Equal(At + (ulong)(size == 2 ? 7 : 6), s.Cpu.Rip);
        }
        else s.ExpectFault(ExceptionVector.BR, null, At);
    }

    [Fact]
    public void BoundRangeExceededIsDeliveredAsAFaultThroughVector5()
    {
        byte[] code = { 0x62, 0x05, 0x00, 0x80, 0x00, 0x00 };
        var s = Protected(code);
        const ulong handler = Sys.Code + 0x800;
        s.W8(handler, 0xF4); // HLT
        s.Gate32(5, handler);
        s.W32(Bounds, 0); s.W32(Bounds + 4, 100);
        s.Cpu[Gpr.Rax] = 101;
        s.RunToHalt();
        Assert.Contains(s.Events, e => e.Vector == 5 && e.Error == null);
        ulong sp = s.Cpu[Gpr.Rsp];
        Assert.Equal((uint)At, s.R32(sp));                // the saved EIP is the BOUND instruction (a fault)
        Assert.Equal((uint)Sys.KCode32, s.R32(sp + 4));
    }
}
