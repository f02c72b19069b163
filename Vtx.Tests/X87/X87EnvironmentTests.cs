using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Float;
using Vtx.Tests.SystemArchitecture;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.X87.X87Harness;

namespace Vtx.Tests.X87;

/// <summary>
/// FNSTENV/FLDENV/FNSAVE/FRSTOR images (SDM Vol. 1, Figures 8-9 to 8-12; Vol. 2A FSAVE, FRSTOR,
/// FSTENV, FLDENV): field offsets in the four layouts, the full tag word computed from the register
/// contents (Figure 8-7), real-mode 20/32-bit linear pointers, FNSTENV masking exceptions, FNSAVE
/// reinitialising, FLDENV keeping only empty/non-empty, and save/restore round trips of full-range
/// states. Reserved fields are not asserted (the SDM leaves them reserved).
/// </summary>
public class X87EnvironmentTests
{
    /// <summary>The SDM tag of a non-empty register (Figure 8-7): 00 valid, 01 zero, 10 special.</summary>
    private static int TagOf(Float80 v) =>
        v.Exponent == 0 ? (v.Significand == 0 ? 1 : 2)
        : v.Exponent == 0x7FFF ? 2
        : (v.Significand >> 63) == 0 ? 2 : 0;

    private static readonly Float80 Inf = new(0x8000_0000_0000_0000, 0x7FFF);

    [Fact]
    public void Fnstenv32BitProtectedLayoutIn64BitMode()
    {
        var p = new X87Program();
        var a = p.A;
        a.fldcw(__word_ptr[rbx + 0x100]);
        a.fld(__tword_ptr[rbx + 0x110]);   // +inf
        a.fldz();
        p.Mark("last");
        a.fld(__dword_ptr[rbx + 0x120]);    // D9 /0, [rbx+disp32]: ModR/M 83h
        a.fnstenv(__[rbx]);
        a.hlt();
        var m = p.Load(m => { W16(m, Data + 0x100, 0x0A72); WriteF80(m, Data + 0x110, Inf); W32(m, Data + 0x120, 0x3F80_0000); });
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        var c = m.Cpu;
        Assert.Equal((ushort)0x0A72, R16(m, Data + 0));
        Assert.Equal((ushort)(5 << 11), R16(m, Data + 4));
        // R5 = 1.0 valid (00), R6 = +0 (01), R7 = +inf special (10), R0-R4 empty (11).
        Assert.Equal((ushort)(0x3FF | 0b00 << 10 | 0b01 << 12 | 0b10 << 14), R16(m, Data + 8));
        Assert.Equal((uint)p["last"], R32(m, Data + 12));
        Assert.Equal(c.GetSelector(SegmentRegister.Cs), R16(m, Data + 16));
        Assert.Equal((ushort)0x183, R16(m, Data + 18) & 0x7FF);
        Assert.Equal((uint)(Data + 0x120), R32(m, Data + 20));
        Assert.Equal(c.GetSelector(SegmentRegister.Ds), R16(m, Data + 24));
        Assert.Equal(0x0A7F, c.FpuControlWord);   // FNSTENV masks all exceptions
        Assert.Equal(5, Top(c));                  // and changes nothing else
        Assert.Equal(0b1110_0000, c.FpuAbridgedTag);
    }

    [Fact]
    public void Fnstenv16BitProtectedLayout()
    {
        var p = new X87Program();
        var a = p.A;
        a.fld1();
        p.Mark("last");
        a.fld(__dword_ptr[rbx + 0x120]);
        a.db(0x66, 0xD9, 0x33);               // o16 fnstenv [rbx]: 14-byte image
        a.hlt();
        var m = p.Load(m => W32(m, Data + 0x120, 0));
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        Assert.Equal((ushort)0x037F, R16(m, Data + 0));
        Assert.Equal((ushort)(6 << 11), R16(m, Data + 2));
        Assert.Equal((ushort)(0xFFF | 0b01 << 12 | 0b00 << 14), R16(m, Data + 4));
        Assert.Equal((ushort)p["last"], R16(m, Data + 6));
        Assert.Equal(m.Cpu.GetSelector(SegmentRegister.Cs), R16(m, Data + 8));
        Assert.Equal(unchecked((ushort)(Data + 0x120)), R16(m, Data + 10));
        Assert.Equal(m.Cpu.GetSelector(SegmentRegister.Ds), R16(m, Data + 12));
        Assert.Equal(new byte[2], m.ReadMemory(Data + 14, 2));   // exactly 14 bytes written
    }

    [Fact]
    public void RealModeLayoutsHoldLinearPointersAndRoundTrip()
    {
        var s = new Sys();
        s.EnterReal();
        s.Cpu.SetSegment(SegmentRegister.Cs, SegmentCache.Real(0x1000, accessRights: 0x9B));   // base 10000h
        s.Cpu.SetSegment(SegmentRegister.Ds, SegmentCache.Real(0x2000));                      // base 20000h
        s.Cpu.Rip = 0x10;
        s.Load(a =>
        {
            a.fninit();                                    // IP 10h
            a.fld(__dword_ptr[0x30]);                      // IP 12h: D9 06 30 00 -> FOP 106h, FDP 20030h
            a.fnstenv(__[0x40]);                           // 16-bit real layout
            a.db(0x66, 0xD9, 0x36, 0x60, 0x00);            // o32 fnstenv [60h]: 32-bit real layout
            a.db(0x66, 0xD9, 0x26, 0x60, 0x00);            // o32 fldenv [60h]
            a.db(0x66, 0xD9, 0x36, 0x80, 0x00);            // o32 fnstenv [80h]
            a.hlt();
        }, 0x10010, 16);
        s.W32(0x20030, 0x3F80_0000);
        s.RunToHalt();
        // Figure 8-12 (16-bit real mode): FIP 15:0 at 6; FIP 19:16 in bits 15:12 at 8 with FOP; FDP 15:0 at 10; FDP 19:16 at 12.
        Assert.Equal((ushort)0x037F, s.R16(0x20040));
        Assert.Equal((ushort)(7 << 11), s.R16(0x20042));
        Assert.Equal((ushort)0x3FFF, s.R16(0x20044));
        Assert.Equal((ushort)0x0012, s.R16(0x20046));
        Assert.Equal((ushort)(0x1 << 12 | 0x106), s.R16(0x20048));
        Assert.Equal((ushort)0x0030, s.R16(0x2004A));
        Assert.Equal((ushort)(0x2 << 12), s.R16(0x2004C));
        // Figure 8-10 (32-bit real mode): FIP 15:0 at 12; FIP 31:16 in bits 27:12 at 16 with FOP 10:0; FDP likewise at 20/24.
        Assert.Equal((ushort)0x037F, s.R16(0x20060));
        Assert.Equal((ushort)(7 << 11), s.R16(0x20064));
        Assert.Equal((ushort)0x3FFF, s.R16(0x20068));
        Assert.Equal((ushort)0x0012, s.R16(0x2006C));
        Assert.Equal(0x1u << 12 | 0x106, s.R32(0x20070) & 0x0FFF_FFFF);
        Assert.Equal((ushort)0x0030, s.R16(0x20074));
        Assert.Equal(0x2u << 12, s.R32(0x20078) & 0x0FFF_FFFF);
        // FLDENV of that image and FNSTENV again give the same defined fields.
        foreach (ulong off in new ulong[] { 0, 4, 8, 12, 20 }) Assert.Equal(s.R16(0x20060 + off), s.R16(0x20080 + off));
        Assert.Equal(s.R32(0x20070) & 0x0FFF_FFFF, s.R32(0x20090) & 0x0FFF_FFFF);
        Assert.Equal(s.R32(0x20078) & 0x0FFF_FFFF, s.R32(0x20098) & 0x0FFF_FFFF);
    }

    private static Gen<(Float80[] Regs, byte Empty, int Top, ushort Fcw, ushort Fsw)> States =>
        from regs in Gen.ArrayOf(AnyBits, 8)
        from empty in ArbMap.Default.GeneratorFor<byte>()
        from top in Gen.Choose(0, 7)
        from fcw in ArbMap.Default.GeneratorFor<ushort>()
        from flags in ArbMap.Default.GeneratorFor<ushort>()
        let cw = (ushort)((fcw & ~0xE0C0) | 0x40)
        let sw = (ushort)(flags & 0x477F)                               // IE..SF, C0-C3
        let es = (sw & ~cw & 0x3F) != 0 ? 0x8080 : 0                    // ES and B follow the unmasked flags
        select (regs, empty, top, cw, (ushort)(sw | es | top << 11));

    private static void SetState(Cpu c, (Float80[] Regs, byte Empty, int Top, ushort Fcw, ushort Fsw) s)
    {
        for (int i = 0; i < 8; i++) c.SetFpuRegister(i, s.Regs[i]);
        c.FpuAbridgedTag = (byte)~s.Empty;
        c.FpuStatusWord = s.Fsw;
        c.FpuControlWord = s.Fcw;
    }

    [Property(MaxTest = 100)]
    public Property FnsaveImageMatchesFigure8_9AndFrstorRestoresEverything() =>
        Prop.ForAll(Arb.From(States), s =>
        {
            var p = new X87Program();
            p.A.fnsave(__[rbx]);
            p.A.frstor(__[rbx]);
            p.A.fnsave(__[rbx + 0x100]);
            p.A.hlt();
            var m = p.Load(m => SetState(m.Cpu, s));
            Assert.Equal(StopReason.InstructionLimit, m.Run(RunLimits.Instructions(1)).Reason);
            // After FNSAVE: the FNINIT state.
            var c = m.Cpu;
            Assert.Equal(0x037F, c.FpuControlWord);
            Assert.Equal(0, c.FpuStatusWord);
            Assert.Equal(0, c.FpuAbridgedTag);

            // The image: FCW, FSW (with TOP), the tag word from the contents, then ST(0)..ST(7).
            Assert.Equal(s.Fcw, R16(m, Data + 0));
            Assert.Equal(s.Fsw, R16(m, Data + 4));
            int tw = 0;
            for (int r = 0; r < 8; r++) tw |= (((s.Empty >> r) & 1) != 0 ? 3 : TagOf(s.Regs[r])) << (2 * r);
            Assert.Equal((ushort)tw, R16(m, Data + 8));
            for (int i = 0; i < 8; i++) Assert.Equal(s.Regs[(s.Top + i) & 7], ReadF80(m, Data + 28 + 10 * (ulong)i));

            Assert.Equal(StopReason.InstructionLimit, m.Run(RunLimits.Instructions(1)).Reason);
            for (int i = 0; i < 8; i++) Assert.Equal(s.Regs[i], c.GetFpuRegister(i));
            Assert.Equal((byte)~s.Empty, c.FpuAbridgedTag);
            Assert.Equal(s.Fsw, c.FpuStatusWord);
            Assert.Equal(s.Fcw, c.FpuControlWord);

            Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
            Assert.Equal(m.ReadMemory(Data, 108), m.ReadMemory(Data + 0x100, 108));
        });

    [Fact]
    public void FldenvKeepsOnlyEmptyOrNotAndTheContentsDecideTheTag()
    {
        var m = Exec(a => { a.fldenv(__[rbx]); a.fnstenv(__[rbx + 0x40]); }, m =>
        {
            m.Cpu.SetFpuRegister(0, new Float80(0, 0));          // zero, image says valid
            m.Cpu.SetFpuRegister(1, One);                          // valid, image says special
            m.Cpu.SetFpuRegister(2, Inf);                          // special, image says zero
            var img = new byte[28];
            BitConverter.TryWriteBytes(img.AsSpan(0), (ushort)0x037F);
            BitConverter.TryWriteBytes(img.AsSpan(8), (ushort)(0b00 | 0b10 << 2 | 0b01 << 4 | 0xFFC0)); // R3-R7 empty
            m.WriteMemory(Data, img);
        });
        Assert.Equal((ushort)(0b01 | 0b00 << 2 | 0b10 << 4 | 0xFFC0), R16(m, Data + 0x40 + 8));
        Assert.Equal(0b0000_0111, m.Cpu.FpuAbridgedTag);
    }

    [Fact]
    public void Fnsave16BitLayoutPutsRegistersAtOffset14()
    {
        var m = Exec(a => { a.fld1(); a.fldz(); a.db(0x66, 0xDD, 0x33); },   // o16 fnsave [rbx]: 94-byte image
                     m => m.WriteMemory(Data, Enumerable.Repeat((byte)0xAA, 120).ToArray()));
        Assert.Equal(new Float80(0, 0), ReadF80(m, Data + 14));
        Assert.Equal(One, ReadF80(m, Data + 24));
        Assert.Equal((ushort)(6 << 11), R16(m, Data + 2));
        Assert.Equal(0xAA, m.ReadMemory(Data + 94, 1)[0]);
        Assert.Equal(0, m.Cpu.FpuAbridgedTag);
    }

    [Fact]
    public void FrstorWithAnUnmaskedFlagMakesItPending()
    {
        var p = new X87Program();
        p.A.frstor(__[rbx]);
        p.Mark("next");
        p.A.fld1();
        p.A.hlt();
        var m = p.Load(m =>
        {
            var img = new byte[108];
            BitConverter.TryWriteBytes(img.AsSpan(0), (ushort)0x037B);   // ZM = 0
            BitConverter.TryWriteBytes(img.AsSpan(4), (ushort)ZE);       // ZE set, ES clear in the image
            BitConverter.TryWriteBytes(img.AsSpan(8), (ushort)0xFFFF);
            m.WriteMemory(Data, img);
        });
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(new FaultInfo(ExceptionVector.MF, null), r.Fault);
        Assert.Equal(p["next"], r.Rip);
    }
}
