using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Hardware task switching and virtual-8086 mode are not modelled: every path into them raises the
/// #GP the model documents (never a host error), and the architectural faults around them hold —
/// IRET with NT = 1 in IA-32e mode is #GP(0) (SDM Vol. 2A, IRET), task gates are illegal in IA-32e mode.
/// </summary>
public class UnmodelledTests
{
    [Fact]
    public void FarJumpOrCallToTssOrTaskGateIsGpSelector()
    {
        foreach (bool call in new[] { false, true })
        {
            foreach (ulong desc in new[] { Desc.Tss(0x4_3000, 0x67), Desc.Seg(0, 0, 5, 0, s: false) | ((ulong)Sys.TssSel << 16) })
            {
                var s = new Sys();
                s.EnterProtected();
                s.SetGdt(Sys.Spare, desc);
                s.Load(a => { if (call) a.call(Sys.Spare, 0); else a.jmp(Sys.Spare, 0); }, bitness: 32);
                s.Cpu.Rip = Sys.Code;
                s.ExpectFault(ExceptionVector.GP, Sys.Spare, Sys.Code);
            }
        }
    }

    [Fact]
    public void TaskGateInIdtIsGp()
    {
        var s = new Sys();
        s.EnterProtected();
        s.W64(Sys.IdtBase + 0x40 * 8, Desc.Seg(0, 0, 5, 0, s: false) | ((ulong)Sys.TssSel << 16));
        s.Gate32(13, Sys.Code + 0x100);
        s.Load(a => { a.mov(__dword_ptr[0x8000], esp); a.hlt(); }, Sys.Code + 0x100, 32);
        s.Load(a => a.@int(0x40), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x40u * 8 + 2, s.R32(s.R32(0x8000)));
    }

    [Fact]
    public void IretWithNtIsGp0InProtectedAndIa32eMode()
    {
        var p = new Sys();
        p.EnterProtected();
        p.Cpu.Rflags = 0x4002; // NT
        p.Load(a => { a.push(0x202); a.push((uint)Sys.KCode32); a.push((uint)Sys.Code); a.iretd(); }, bitness: 32);
        p.Cpu.Rip = Sys.Code;
        p.ExpectFault(ExceptionVector.GP, 0);

        var l = new Sys();
        l.EnterLong();
        l.Cpu.Rflags = 0x4002;
        l.Load(a =>
        {
            a.push((int)Sys.KData);
            a.push((int)Sys.KernelStack);
            a.push(0x202);
            a.push((int)Sys.KCode64);
            a.push((int)Sys.Code);
            a.iretq();
        });
        l.Cpu.Rip = Sys.Code;
        l.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(Sys.KernelStack - 40, l.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void IretToVirtual8086ModeIsGp0()
    {
        var s = new Sys();
        s.EnterProtected();
        s.Load(a => { a.push(0x2_0202); a.push((uint)Sys.KCode32); a.push(0x100); a.iretd(); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(0UL, s.Cpu.Rflags & 0x2_0000);
    }

    [Fact]
    public void SixteenBitCallGateIsIllegalInIa32eMode()
    {
        var s = new Sys();
        s.EnterLong();
        s.SetGdt16(Sys.Spare, Desc.CallGate(Sys.KCode64, 0x100, 0, gate16: true), 0);
        s.W64(Sys.Scratch, (ulong)Sys.Spare << 32);
        s.M.WriteMemory(Sys.Code, new byte[] { 0xFF, 0x1C, 0x25, 0x00, 0x80, 0x00, 0x00 }); // call far [0x8000]
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, Sys.Spare, Sys.Code);
    }
}
