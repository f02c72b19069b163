using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// IA32_DEBUGCTL.BTF ("single-step on branches", SDM Vol. 3B, 18.4.1 and 18.4.3) with interrupts and exceptions, the
/// clearing of BTF when a debug exception is generated, and DR6.BT (SDM Vol. 3A, 18.2.3), which needs a hardware task
/// switch — not modelled: a TSS target raises #GP and BT stays 0.
/// </summary>
public class BtfEventTests
{
    private const ulong TF = 0x100, IF = 0x200;
    private const ulong Dr6Fixed = 0xFFFF_0FF0, BS = 1UL << 14, BT = 1UL << 15;
    private const ulong Btf = 2, Lbr = 1;
    private const ulong Handler = Sys.Code + 0x1000;

    private static Sys Long(Action<Assembler> main, out Func<Label, ulong> at)
    {
        var s = new Sys();
        s.EnterLong();
        at = s.Load(main);
        s.Cpu.Rip = Sys.Code;
        return s;
    }

    /// <summary>SDM 18.4.3: "The processor clears the BTF flag when it generates a debug exception" (LBR is kept).</summary>
    [Fact]
    public void Btf_Sdm18_4_3_ClearedWhenTheDebugExceptionIsGenerated()
    {
        Label target = default;
        var s = Long(a => { target = a.CreateLabel(); a.nop(); a.jmp(target); a.Label(ref target); a.nop(); a.hlt(); }, out var at);
        // #DB handler: read IA32_DEBUGCTL into RAX and halt.
        s.Load(a => { a.mov(ecx, (int)Msr.DebugCtl); a.rdmsr(); a.hlt(); }, Handler);
        s.Gate64(1, Handler);
        Assert.True(s.Cpu.WriteMsr(Msr.DebugCtl, Btf | Lbr));
        s.Cpu.Rflags = 2 | TF;
        s.RunToHalt();
        Assert.Equal([1], s.Events.Select(e => (int)e.Vector));          // one #DB, after the taken JMP
        Assert.Equal(at(target), s.R64(Sys.KernelStack - 40));           // its return RIP: the branch target
        Assert.Equal(Lbr, s.Cpu[Gpr.Rax]);                               // BTF cleared, LBR kept
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
        Assert.Equal(Lbr, s.Cpu.ReadMsr(Msr.DebugCtl));
    }

    /// <summary>
    /// An exception during branch stepping ends the step: the fault is delivered with no single-step #DB before it
    /// (the faulting instruction did not complete), the handler runs with TF = 0 (pushed RFLAGS.TF = 1), and BTF stays
    /// set because no debug exception was generated (SDM 18.4.1, 18.3.1.4, 6.12.1.3).
    /// </summary>
    [Fact]
    public void Btf_Sdm18_4_1_ExceptionEndsTheStepWithoutADebugException()
    {
        var s = Long(a => { a.nop(); a.ud2(); a.hlt(); }, out _);
        s.Load(a => { a.hlt(); }, Handler);
        s.Gate64(6, Handler);
        s.Gate64(1, Handler + 0x10);
        Assert.True(s.Cpu.WriteMsr(Msr.DebugCtl, Btf));
        s.Cpu.Rflags = 2 | TF;
        var r = s.RunToHalt();
        Assert.Equal(Handler + 1, r.Rip);
        Assert.Equal([6], s.Events.Select(e => (int)e.Vector));          // #UD only: the NOP took no trap under BTF
        Assert.Equal(TF, s.R64(Sys.KernelStack - 24) & TF);              // pushed RFLAGS (RIP, CS, RFLAGS, RSP, SS)
        Assert.Equal(0UL, s.Cpu.Rflags & TF);
        Assert.Equal(Btf, s.Cpu.ReadMsr(Msr.DebugCtl));
    }

    /// <summary>
    /// An external interrupt during branch stepping: delivered with no #DB (TF cleared on entry), and after the
    /// handler's IRETQ restores TF, branch stepping resumes: a non-branch takes no trap, the next taken branch does.
    /// </summary>
    [Fact]
    public void Btf_Sdm18_4_1_InterruptThenSteppingResumesAfterIret()
    {
        Label target = default;
        var s = Long(a => { target = a.CreateLabel(); a.nop(); a.nop(); a.jmp(target); a.nop(); a.Label(ref target); a.hlt(); }, out var at);
        s.Load(a => { a.iretq(); }, Handler);
        s.Gate64(0x40, Handler);
        s.Cpu.InterceptedExceptions = 1u << 1;
        Assert.True(s.Cpu.WriteMsr(Msr.DebugCtl, Btf));
        s.Cpu.Rflags = 2 | TF | IF;
        s.Cpu.RaiseInterrupt(0x40);
        var r = s.Run(100);
        Assert.True(r.Reason == StopReason.Exception && r.Fault?.Vector == ExceptionVector.DB, "expected #DB, got " + r);
        Assert.Equal(at(target), r.Rip);
        Assert.Equal([0x40], s.Events.Select(e => (int)e.Vector));      // the interrupt; the #DB stopped the run (intercepted)
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
        Assert.Equal(0UL, s.Cpu.ReadMsr(Msr.DebugCtl)!.Value & Btf);     // cleared by the #DB
    }

    /// <summary>INT n under BTF: a software interrupt is a taken branch, but its delivery clears TF, so no #DB follows (BTF stays set).</summary>
    [Fact]
    public void Btf_SoftwareInterruptTakesNoTrap()
    {
        var s = Long(a => { a.@int(0x41); a.hlt(); }, out _);
        s.Load(a => { a.hlt(); }, Handler);
        s.Gate64(0x41, Handler);
        s.Gate64(1, Handler + 0x10);
        Assert.True(s.Cpu.WriteMsr(Msr.DebugCtl, Btf));
        s.Cpu.Rflags = 2 | TF;
        var r = s.RunToHalt();
        Assert.Equal(Handler + 1, r.Rip);
        Assert.Equal([0x41], s.Events.Select(e => (int)e.Vector));
        Assert.Equal(Btf, s.Cpu.ReadMsr(Msr.DebugCtl));
    }

    /// <summary>
    /// DR6.BT (SDM 18.2.3) reports a task switch into a TSS whose T flag is 1. Hardware task switching is not modelled:
    /// a far JMP to an available 32-bit TSS (T = 1) in protected mode raises #GP(selector) and DR6.BT stays 0.
    /// </summary>
    [Fact]
    public void Dr6Bt_TaskSwitchIsNotModelled_TssTargetRaisesGp()
    {
        var s = new Sys();
        s.EnterProtected();
        const ushort tss2 = Sys.Spare;
        const ulong tssBase = 0x3800;
        s.M.WriteMemory(tssBase, new byte[0x68]);
        s.W16(tssBase + 0x64, 1);                                       // T (debug trap) flag
        s.SetGdt(tss2, Desc.Tss((uint)tssBase, 0x67));                   // available 32-bit TSS
        s.M.WriteMemory(Sys.Code, [0xEA, 0, 0, 0, 0, (byte)tss2, 0, 0xF4]); // jmp far tss2:0 (ptr16:32), hlt
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, tss2, Sys.Code);
        Assert.Equal(0UL, s.Cpu.GetDebugRegister(6) & BT);
    }
}
