using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Real-address-mode interrupts and exceptions (SDM Vol. 3A, 20.1.4): the IVT at IDTR.base holds
/// 4-byte CS:IP vectors; delivery pushes FLAGS, CS, IP (no error codes), clears IF, TF, AC and RF;
/// IRET pops them back. And the RESET state (SDM Vol. 3A, 9.1.1, Table 9-1).
/// </summary>
public class RealModeDeliveryTests
{
    private const ushort HandlerSeg = 0x0200;   // handlers at 0x2000 + offset

    private static Sys Machine()
    {
        var s = new Sys();
        s.EnterReal();
        return s;
    }

    /// <summary>A handler at 0200:<paramref name="ip"/> that saves SP, the 3-word frame and its FLAGS at 0:0x8000 and IRETs.</summary>
    private static void Handler(Sys s, int vector, ushort ip, ushort save, bool iret = true)
    {
        s.Load(a =>
        {
            a.push(bp);
            a.mov(bp, sp);
            a.push(ax);
            a.push(ds);
            a.xor(ax, ax);
            a.mov(ds, ax);
            a.mov(ax, __word_ptr[bp + 2]);          // IP
            a.mov(__word_ptr[(ulong)save], ax);
            a.mov(ax, __word_ptr[bp + 4]);          // CS
            a.mov(__word_ptr[(ulong)save + 2], ax);
            a.mov(ax, __word_ptr[bp + 6]);          // FLAGS
            a.mov(__word_ptr[(ulong)save + 4], ax);
            a.lea(ax, __[bp + 2]);
            a.mov(__word_ptr[(ulong)save + 6], ax);        // SP at entry
            a.pushf();
            a.pop(ax);
            a.mov(__word_ptr[(ulong)save + 8], ax);        // FLAGS inside the handler
            a.mov(__word_ptr[(ulong)save + 10], cs);
            a.pop(ds);
            a.pop(ax);
            a.pop(bp);
            if (iret) a.iret(); else a.hlt();
        }, 0x2000UL + ip, 16);
        s.Ivt(vector, HandlerSeg, ip);
    }

    [Fact]
    public void IntNPushesFlagsCsIpAndClearsIfTfAc()
    {
        var s = Machine();
        Handler(s, 0x21, 0x10, 0x8000);
        Label after = default;
        var at = s.Load(a =>
        {
            after = a.CreateLabel();
            a.mov(ax, 0x0100);
            a.mov(ss, ax);                 // SS base 0x1000
            a.mov(sp, 0x6000);
            a.@int(0x21);
            a.Label(ref after);
            a.hlt();
        }, 0x1000, 16);
        s.Cpu.Rflags = 0x202 | 0x4_0000 | 0x1; // IF, AC, CF
        s.RunToHalt();
        Assert.Equal((ushort)at(after), s.R16(0x8000));
        Assert.Equal(0, s.R16(0x8002));
        Assert.Equal(0x203, s.R16(0x8004));              // FLAGS image (low 16 bits)
        Assert.Equal(0x6000 - 6, s.R16(0x8006));
        Assert.Equal(0, s.R16(0x8008) & 0x300);          // IF and TF cleared
        Assert.Equal(HandlerSeg, s.R16(0x800A));
        Assert.Equal((ushort)at(after), s.R16(0x1000 + 0x6000 - 6));
        // IRET restored everything, AC included (a 16-bit IRET cannot change bits 31:16: AC stays cleared).
        Assert.Equal(0x6000UL, s.Cpu[Gpr.Rsp] & 0xFFFF);
        Assert.Equal(0x203UL, s.Cpu.Rflags & 0xFFFF);
        Assert.Equal(0UL, s.Cpu.GetSelector(SegmentRegister.Cs));
    }

    [Fact]
    public void FaultsInRealModePushTheFaultingIpAndNoErrorCode()
    {
        var s = Machine();
        Handler(s, 0, 0x10, 0x8000, iret: false);
        Handler(s, 6, 0x80, 0x8020, iret: false);
        Handler(s, 13, 0xF0, 0x8040, iret: false);
        Label div = default;
        var at = s.Load(a =>
        {
            div = a.CreateLabel();
            a.xor(cx, cx);
            a.mov(ax, 1);
            a.Label(ref div);
            a.div(cx);
            a.hlt();
        }, 0x1000, 16);
        s.RunToHalt();
        Assert.Equal((ushort)at(div), s.R16(0x8000));
        Assert.Equal(0x7C00 - 6, s.R16(0x8006));         // three words, no error code
        Assert.Equal(new[] { (0, EventKind.HardwareException, (uint?)null) }, s.Events.Select(e => ((int)e.Vector, e.Kind, e.Error)));

        var u = Machine();
        Handler(u, 6, 0x80, 0x8020, iret: false);
        u.Load(a => a.ud2(), 0x1000, 16);
        u.RunToHalt();
        Assert.Equal(0x1000, u.R16(0x8020));
        Assert.Equal(0x7C00 - 6, u.R16(0x8026));
    }

    [Fact]
    public void ExternalInterruptAndNmiInRealMode()
    {
        var s = Machine();
        Handler(s, 0x30, 0x10, 0x8000);
        Handler(s, 2, 0x80, 0x8020);
        s.Load(a => { a.nop(); a.nop(); a.nop(); a.hlt(); }, 0x1000, 16);
        s.Cpu.Rflags = 0x202;
        s.Step(1);
        s.Cpu.RaiseInterrupt(0x30);
        s.Cpu.RaiseNmi();
        s.RunToHalt();
        // NMI first (priority), then the interrupt after the NMI handler's IRET.
        Assert.Equal(new byte[] { 2, 0x30 }, s.Events.Select(e => e.Vector));
        Assert.Equal(0x1001, s.R16(0x8020));
        Assert.Equal(0x1001, s.R16(0x8000));
    }

    [Fact]
    public void IvtBaseFollowsIdtr()
    {
        var s = Machine();
        s.Cpu.Idtr = new DescriptorTableRegister(0x4000, 0x3FF);
        s.Load(a => { a.mov(bx, 0x77); a.hlt(); }, 0x2345, 16);
        s.W16(0x4000 + 0x40 * 4, 0x0345);
        s.W16(0x4000 + 0x40 * 4 + 2, 0x0200);
        s.Load(a => a.@int(0x40), 0x1000, 16);
        s.RunToHalt();
        Assert.Equal(0x77UL, s.Cpu[Gpr.Rbx] & 0xFFFF);
        Assert.Equal((ushort)0x200, s.Cpu.GetSelector(SegmentRegister.Cs));
    }

    [Fact]
    public void ResetStateMatchesTable9_1()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 1 });
        var c = m.Cpu;
        c[Gpr.Rax] = 0x1234;
        c.Reset();
        Assert.Equal(OperatingMode.Real, c.Mode);
        Assert.Equal(0xFFF0UL, c.Rip);
        Assert.Equal(0xF000, c.GetSelector(SegmentRegister.Cs));
        Assert.Equal(0xFFFF_0000UL, c.GetSegment(SegmentRegister.Cs).Base);
        Assert.Equal(0x6000_0010UL, c.Cr0Value);
        Assert.Equal(2UL, c.Rflags);
        Assert.Equal(0UL, c[Gpr.Rax]);
        Assert.Equal(c.Model.Cpuid(1, 0).Eax, (uint)c[Gpr.Rdx]);
        Assert.Equal(new DescriptorTableRegister(0, 0xFFFF), c.Gdtr);
        Assert.Equal(new DescriptorTableRegister(0, 0xFFFF), c.Idtr);
        Assert.Equal(0xFFFF_0FF0UL, c.GetDebugRegister(6));
        Assert.Equal(0x400UL, c.GetDebugRegister(7));
        Assert.Equal(0UL, c.EferValue);
        Assert.Equal(0U, c.InterceptedExceptions);
        Assert.Equal(0, c.Cpl);
        foreach (var r in new[] { SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Ss, SegmentRegister.Fs, SegmentRegister.Gs })
        {
            var seg = c.GetSegment(r);
            Assert.Equal((0, 0UL, 0xFFFFu), (seg.Selector, seg.Base, seg.Limit));
        }
        // The first fetch is at linear FFFFFFF0h: above this machine's RAM, where the bus reads all ones.
        Assert.Equal(0xFFFF_FFF0UL, c.GetSegmentBase(SegmentRegister.Cs) + c.Rip);
    }
}
