using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Debug exceptions in root operation (SDM Vol. 3A, chapter 18; Vol. 3B 18.4 IA32_DEBUGCTL; Vol. 4
/// Table 2-2 IA32_MISC_ENABLE): DR0-DR3 instruction, data and I/O breakpoints with DR7 enables and
/// LEN alignment, DR6 status bits, general detect, TF single-step edge cases, BTF, REP strings.
/// The expected DR6/DR7 values are written out from the SDM's bit layouts, not taken from the code.
/// </summary>
public class DebugExceptionTests
{
    private const ulong TF = 0x100, RF = 0x1_0000;
    private const ulong Dr6Fixed = 0xFFFF_0FF0;       // DR6 bits 31:16 and 11:4 read 1 (SDM 18.2.3)
    private const ulong BD = 1UL << 13, BS = 1UL << 14;
    private const ulong Buf = Sys.Scratch + 0x100;

    /// <summary>DR7 for breakpoint i: L_i (or G_i), R/W, LEN encoding for <paramref name="len"/> bytes (SDM 18.2.4, Figure 18-1).</summary>
    private static ulong Dr7(int i, int rw, int len = 1, bool global = false)
    {
        ulong lenBits = len switch { 1 => 0UL, 2 => 1UL, 8 => 2UL, _ => 3UL };
        return 0x400 | (1UL << (i * 2 + (global ? 1 : 0))) | ((ulong)rw << (16 + i * 4)) | (lenBits << (18 + i * 4));
    }

    private static Sys Long(Action<Assembler> main, out Func<Label, ulong> at)
    {
        var s = new Sys();
        s.EnterLong();
        at = s.Load(main);
        s.Cpu.Rip = Sys.Code;
        return s;
    }

    private static RunResult RunExpectDb(Sys s)
    {
        s.Cpu.InterceptedExceptions = 1u << 1;
        var r = s.Run(1000);
        Assert.True(r.Reason == StopReason.Exception && r.Fault?.Vector == ExceptionVector.DB, "expected #DB, got " + r);
        return r;
    }

    // ------------------------------------------------------------------ instruction breakpoints

    /// <summary>SDM 18.3.1.1: an execute breakpoint is a fault: #DB before the instruction, RIP at it, DR6.B0, nothing of it executed.</summary>
    [Fact]
    public void InstructionBreakpoint_Sdm18_3_1_1_FaultsBeforeTheInstruction()
    {
        Label target = default;
        var s = Long(a => { target = a.CreateLabel(); a.nop(); a.Label(ref target); a.inc(rcx); a.hlt(); }, out var at);
        s.Cpu.SetDebugRegister(0, at(target));
        s.Cpu.SetDebugRegister(7, Dr7(0, 0));
        var r = RunExpectDb(s);
        Assert.Equal(at(target), r.Rip);
        Assert.Equal(1UL, r.Instructions);
        Assert.Equal(0UL, s.Cpu[Gpr.Rcx]);
        Assert.Equal(Dr6Fixed | 1, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.3.1.1: RF = 1 suppresses the instruction breakpoint for one instruction; RF is cleared after it completes.</summary>
    [Fact]
    public void InstructionBreakpoint_Sdm18_3_1_1_RfSuppressesOneInstruction()
    {
        Label loop = default;
        var s = Long(a => { loop = a.CreateLabel(); a.Label(ref loop); a.inc(rcx); a.cmp(rcx, 2); a.jne(loop); a.hlt(); }, out var at);
        s.Cpu.SetDebugRegister(3, at(loop));
        s.Cpu.SetDebugRegister(7, Dr7(3, 0, global: true));
        RunExpectDb(s);
        Assert.Equal(0UL, s.Cpu[Gpr.Rcx]);
        s.Cpu.Rflags |= RF;
        var r = RunExpectDb(s); // the second pass through the loop hits it again: RF covered one instruction only
        Assert.Equal(at(loop), r.Rip);
        Assert.Equal(1UL, s.Cpu[Gpr.Rcx]);
        Assert.Equal(0UL, s.Cpu.Rflags & RF);
        Assert.Equal(Dr6Fixed | 8, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.2.4: a breakpoint whose L and G bits are both 0 does nothing.</summary>
    [Fact]
    public void InstructionBreakpoint_Sdm18_2_4_DisabledBreakpointIsIgnored()
    {
        var s = Long(a => { a.nop(); a.nop(); a.hlt(); }, out _);
        s.Cpu.SetDebugRegister(0, Sys.Code + 1);
        s.Cpu.SetDebugRegister(7, 0x400); // R/W0 = 00b, LEN0 = 00b, L0 = G0 = 0
        s.RunToHalt();
        Assert.Equal(Dr6Fixed, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>
    /// A kernel that programs DR0/DR7 itself gets #DB through its IDT (SDM 18.3.1.1, 6.12): DR6.B0, the pushed RIP is the
    /// breakpoint, RF is 0 in the pushed image (the processor does not set it for an instruction breakpoint); the handler sets
    /// RF in the image and IRETQ, and the instruction then executes exactly once.
    /// </summary>
    [Fact]
    public void InstructionBreakpoint_Sdm18_3_1_1_KernelHandlerThroughIdt()
    {
        Label target = default;
        const ulong handler = Sys.Code + 0x400, log = Sys.Scratch;
        var s = Long(a =>
        {
            target = a.CreateLabel();
            a.lea(rax, __[target]);
            a.mov(dr0, rax);
            a.mov(eax, 0x401);
            a.mov(dr7, rax);
            a.nop();
            a.Label(ref target);
            a.inc(rcx);
            a.hlt();
        }, out var at);
        s.Load(a =>
        {
            a.mov(rax, dr6);
            a.mov(__qword_ptr[log], rax);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[log + 8], rax);
            a.mov(rax, __qword_ptr[rsp + 16]);
            a.mov(__qword_ptr[log + 16], rax);
            a.or(__qword_ptr[rsp + 16], 0x10000);
            a.iretq();
        }, handler);
        s.Gate64(1, handler);
        s.RunToHalt();
        Assert.Equal(new[] { (byte)1 }, s.Events.Select(e => e.Vector).ToArray());
        Assert.Equal(Dr6Fixed | 1, s.R64(log));
        Assert.Equal(at(target), s.R64(log + 8));
        Assert.Equal(0UL, s.R64(log + 16) & RF);
        Assert.Equal(1UL, s.Cpu[Gpr.Rcx]);
        Assert.Equal(0x401UL, s.Cpu.GetDebugRegister(7));
    }

    // ------------------------------------------------------------------ data breakpoints

    /// <summary>SDM 18.3.1.2: a data-write breakpoint is a trap: the write is done, RIP is after the instruction, DR6.B1.</summary>
    [Fact]
    public void DataWriteBreakpoint_Sdm18_3_1_2_TrapsAfterTheWrite()
    {
        Label after = default;
        var s = Long(a => { after = a.CreateLabel(); a.mov(__dword_ptr[rbx], eax); a.Label(ref after); a.nop(); a.hlt(); }, out var at);
        s.Cpu[Gpr.Rbx] = Buf;
        s.Cpu[Gpr.Rax] = 0x1234_5678;
        s.Cpu.SetDebugRegister(1, Buf + 2);
        s.Cpu.SetDebugRegister(7, Dr7(1, 1, 4));
        var r = RunExpectDb(s);
        Assert.Equal(at(after), r.Rip);
        Assert.Equal(0x1234_5678u, s.R32(Buf));
        Assert.Equal(Dr6Fixed | 2, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.2.4: R/W = 01b breaks on writes only; R/W = 11b on reads and writes.</summary>
    [Fact]
    public void DataBreakpoint_Sdm18_2_4_ReadsHitOnlyReadWriteBreakpoints()
    {
        var s = Long(a => { a.mov(eax, __dword_ptr[rbx]); a.hlt(); }, out _);
        s.Cpu[Gpr.Rbx] = Buf;
        s.Cpu.SetDebugRegister(0, Buf);
        s.Cpu.SetDebugRegister(7, Dr7(0, 1, 4));
        s.RunToHalt();
        Assert.Equal(Dr6Fixed, s.Cpu.GetDebugRegister(6));

        var t = Long(a => { a.mov(eax, __dword_ptr[rbx]); a.hlt(); }, out _);
        t.Cpu[Gpr.Rbx] = Buf;
        t.Cpu.SetDebugRegister(0, Buf);
        t.Cpu.SetDebugRegister(7, Dr7(0, 3, 4));
        var r = RunExpectDb(t);
        Assert.Equal(Sys.Code + 2, r.Rip);
        Assert.Equal(Dr6Fixed | 1, t.Cpu.GetDebugRegister(6));
    }

    /// <summary>
    /// SDM 18.2.5: the breakpoint covers LEN bytes at DRn with its low bits masked to LEN's alignment; an access hits when
    /// any byte it touches is covered. Property over breakpoint address/LEN and access offset/size, against that interval model.
    /// </summary>
    [Fact]
    public void DataBreakpoint_Sdm18_2_5_AlignmentMaskingProperty()
    {
        var gen = from len in Gen.Elements(1, 2, 4, 8)
                  from bpOff in Gen.Choose(0, 31)
                  from size in Gen.Elements(1, 2, 4, 8)
                  from accOff in Gen.Choose(0, 31)
                  select (len, bpOff, size, accOff);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (len, bpOff, size, accOff) = t;
            var s = Long(a =>
            {
                switch (size)
                {
                    case 1: a.mov(__byte_ptr[rbx], al); break;
                    case 2: a.mov(__word_ptr[rbx], ax); break;
                    case 4: a.mov(__dword_ptr[rbx], eax); break;
                    default: a.mov(__qword_ptr[rbx], rax); break;
                }
                a.hlt();
            }, out _);
            s.Cpu[Gpr.Rbx] = Buf + (ulong)accOff;
            s.Cpu.SetDebugRegister(2, Buf + (ulong)bpOff);
            s.Cpu.SetDebugRegister(7, Dr7(2, 1, len));
            long bpStart = bpOff & ~(len - 1);
            bool hit = accOff < bpStart + len && bpStart < accOff + size;
            s.Cpu.InterceptedExceptions = 1u << 1;
            var r = s.Run(10);
            Assert.Equal(hit ? StopReason.Exception : StopReason.Halted, r.Reason);
            Assert.Equal(Dr6Fixed | (hit ? 4UL : 0), s.Cpu.GetDebugRegister(6));
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>
    /// SDM 18.2.3: B0-B3 may be set for breakpoints whose conditions were met but which DR7 does not enable, when a #DB is
    /// generated for another reason; a disabled breakpoint alone raises nothing.
    /// </summary>
    [Fact]
    public void DataBreakpoint_Sdm18_2_3_MatchedButDisabledBreakpointsAreReported()
    {
        var s = Long(a => { a.mov(__byte_ptr[rbx], al); a.mov(__byte_ptr[rbx + 0x40], al); a.hlt(); }, out _);
        s.Cpu[Gpr.Rbx] = Buf;
        s.Cpu.SetDebugRegister(0, Buf + 0x40);
        s.Cpu.SetDebugRegister(1, Buf);              // R/W1 = 01b but L1 = G1 = 0
        s.Cpu.SetDebugRegister(3, Buf + 0x40);       // R/W3 = 01b, L3 = G3 = 0
        s.Cpu.SetDebugRegister(7, Dr7(0, 1) | (1UL << 20) | (1UL << 28));
        var r = RunExpectDb(s);                       // the first write matched only the disabled DR1: no trap
        Assert.Equal(Sys.Code + 5, r.Rip);
        Assert.Equal(Dr6Fixed | 1 | 8, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.3.1.2 with 18.3.1.4: a data breakpoint and a single step on the same instruction are one #DB with B0 and BS.</summary>
    [Fact]
    public void DataBreakpointAndSingleStep_Sdm18_3_OneTrapWithBothBits()
    {
        var s = Long(a => { a.mov(__byte_ptr[rbx], al); a.hlt(); }, out _);
        s.Cpu[Gpr.Rbx] = Buf;
        s.Cpu.SetDebugRegister(0, Buf);
        s.Cpu.SetDebugRegister(7, Dr7(0, 1));
        s.Cpu.Rflags = 2 | TF;
        RunExpectDb(s);
        Assert.Equal(Dr6Fixed | BS | 1, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.3.1.2, 7.3.9.2 (REP): a data breakpoint in a REP STOSB traps after the iteration that hit it, RIP still at the REP, RCX/RDI showing the progress; resuming completes it.</summary>
    [Fact]
    public void DataBreakpoint_Sdm18_3_1_2_RepStringTrapsAfterTheIteration()
    {
        var s = Long(a => { a.rep.stosb(); a.hlt(); }, out _);
        s.Cpu[Gpr.Rdi] = Buf;
        s.Cpu[Gpr.Rcx] = 8;
        s.Cpu[Gpr.Rax] = 0xAA;
        s.Cpu.SetDebugRegister(0, Buf + 3);
        s.Cpu.SetDebugRegister(7, Dr7(0, 1));
        var r = RunExpectDb(s);
        Assert.Equal(Sys.Code, r.Rip);
        Assert.Equal(4UL, s.Cpu[Gpr.Rcx]);
        Assert.Equal(Buf + 4, s.Cpu[Gpr.Rdi]);
        Assert.Equal(0xAAu, (uint)s.R32(Buf + 3) & 0xFF);
        Assert.Equal(0u, s.R32(Buf + 4));
        Assert.Equal(Dr6Fixed | 1, s.Cpu.GetDebugRegister(6));
        s.RunToHalt();
        Assert.Equal(0UL, s.Cpu[Gpr.Rcx]);
        Assert.Equal(0xAAAA_AAAA_AAAA_AAAAUL, s.R64(Buf));
    }

    /// <summary>SDM 18.3.1.2: an instruction that faults does not complete, so its data breakpoint match raises no trap.</summary>
    [Fact]
    public void DataBreakpoint_Sdm18_3_1_2_FaultingInstructionTrapsNothing()
    {
        // The write to 1 GiB (not mapped by the identity tables) matches DR0, then faults with #PF (write, not present).
        var s = Long(a => { a.mov(__byte_ptr[rbx], al); a.hlt(); }, out _);
        s.Cpu[Gpr.Rbx] = 0x4000_0000;
        s.Cpu.SetDebugRegister(0, 0x4000_0000);
        s.Cpu.SetDebugRegister(7, Dr7(0, 3));
        s.ExpectFault(ExceptionVector.PF, 2, Sys.Code);
        Assert.Equal(Dr6Fixed, s.Cpu.GetDebugRegister(6));
    }

    // ------------------------------------------------------------------ I/O breakpoints

    /// <summary>SDM 18.2.4: R/W = 10b is an I/O breakpoint with CR4.DE = 1 (trap after the IN/OUT, DR6.B2); with CR4.DE = 0 it does not break.</summary>
    [Fact]
    public void IoBreakpoint_Sdm18_2_4_NeedsCr4De()
    {
        foreach (bool de in new[] { true, false })
        {
            var s = Long(a => { a.@out(0x81, al); a.hlt(); }, out _);
            if (de) s.Cpu.Cr4Value |= Cr4.DE;
            s.Cpu.SetDebugRegister(2, 0x80);
            s.Cpu.SetDebugRegister(7, Dr7(2, 2, 2)); // ports 80h-81h
            s.Cpu.InterceptedExceptions = 1u << 1;
            var r = s.Run(10);
            Assert.Equal(de ? StopReason.Exception : StopReason.Halted, r.Reason);
            Assert.Equal(Dr6Fixed | (de ? 4UL : 0), s.Cpu.GetDebugRegister(6));
            if (de) Assert.Equal(Sys.Code + 2, r.Rip);
        }
    }

    // ------------------------------------------------------------------ general detect

    /// <summary>SDM 18.2.4 (GD): MOV DR with DR7.GD = 1 is a #DB fault before it executes, DR6.BD = 1, GD cleared on delivery.</summary>
    [Fact]
    public void GeneralDetect_Sdm18_2_4_MovDrFaultsWithBd()
    {
        var s = Long(a => { a.mov(rax, dr0); a.hlt(); }, out _);
        s.Cpu.SetDebugRegister(0, 0x1234);
        s.Cpu.SetDebugRegister(7, 0x2400);
        var r = RunExpectDb(s);
        Assert.Equal(Sys.Code, r.Rip);
        Assert.Equal(0UL, s.Cpu[Gpr.Rax]);
        Assert.Equal(Dr6Fixed | BD, s.Cpu.GetDebugRegister(6));
        Assert.Equal(0x400UL, s.Cpu.GetDebugRegister(7));
        s.RunToHalt(); // GD is clear now: the MOV executes
        Assert.Equal(0x1234UL, s.Cpu[Gpr.Rax]);
    }

    // ------------------------------------------------------------------ single step

    /// <summary>SDM 18.3.1.4: POPF that sets TF traps only after the instruction following it.</summary>
    [Fact]
    public void SingleStep_Sdm18_3_1_4_PopfSettingTfTrapsAfterTheNextInstruction()
    {
        Label after = default;
        var s = Long(a =>
        {
            after = a.CreateLabel();
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x100);
            a.popfq();
            a.nop();
            a.Label(ref after);
            a.nop();
            a.hlt();
        }, out var at);
        var r = RunExpectDb(s);
        Assert.Equal(at(after), r.Rip);
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.3.1.4, IRET: an IRETQ that sets TF traps after the first instruction it returns to; TF = 1 over an IRETQ that clears it traps after the IRETQ.</summary>
    [Fact]
    public void SingleStep_Sdm18_3_1_4_IretSettingAndClearingTf()
    {
        foreach (bool sets in new[] { true, false })
        {
            Label next = default;
            Label after = default;
            var s = Long(a =>
            {
                next = a.CreateLabel(); after = a.CreateLabel();
                a.mov(rax, rsp);
                a.push(Sys.KData);
                a.push(rax);
                a.push(sets ? 0x102 : 0x2);
                a.push(Sys.KCode64);
                a.lea(rax, __[next]);
                a.push(rax);
                if (!sets) { a.pushfq(); a.or(__qword_ptr[rsp], 0x100); a.popfq(); }
                a.iretq();
                a.Label(ref next);
                a.nop();
                a.Label(ref after);
                a.nop();
                a.hlt();
            }, out var at);
            if (!sets)
            {
                // TF is set by the POPF just before IRETQ: the first trap comes after the IRETQ itself.
                var r0 = RunExpectDb(s);
                Assert.Equal(at(next), r0.Rip);
                Assert.Equal(0UL, s.Cpu.Rflags & TF);
                s.RunToHalt();
                continue;
            }
            var r = RunExpectDb(s);
            Assert.Equal(at(after), r.Rip);
            Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
        }
    }

    /// <summary>SDM 6.8.3 / 18.3.1.4: MOV SS with TF = 1 postpones the single-step trap to after the next instruction.</summary>
    [Fact]
    public void SingleStep_Sdm6_8_3_MovSsShadowPostponesTheTrap()
    {
        Label after = default;
        var s = Long(a => { after = a.CreateLabel(); a.mov(ss, ax); a.nop(); a.Label(ref after); a.nop(); a.hlt(); }, out var at);
        s.Cpu[Gpr.Rax] = Sys.KData;
        s.Cpu.Rflags = 2 | TF;
        var r = RunExpectDb(s);
        Assert.Equal(at(after), r.Rip);
        Assert.Equal(2UL, r.Instructions);
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 6.8.3, Vol. 2B STI: the STI shadow blocks maskable interrupts only; the single-step trap after STI is taken at once.</summary>
    [Fact]
    public void SingleStep_Sdm6_8_3_StiShadowDoesNotHoldTheTrap()
    {
        var s = Long(a => { a.sti(); a.nop(); a.hlt(); }, out _);
        s.Cpu.Rflags = 2 | TF;
        var r = RunExpectDb(s);
        Assert.Equal(Sys.Code + 1, r.Rip);
        Assert.Equal(1UL, r.Instructions);
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM 18.2.4: a data-write breakpoint on the stack is hit by PUSH (an implicit stack write).</summary>
    [Fact]
    public void DataBreakpoint_Sdm18_2_4_StackWritesHit()
    {
        var s = Long(a => { a.push(rax); a.nop(); a.hlt(); }, out _);
        s.Cpu.SetDebugRegister(0, Sys.KernelStack - 8);
        s.Cpu.SetDebugRegister(7, Dr7(0, 1, 8));
        var r = RunExpectDb(s);
        Assert.Equal(Sys.Code + 1, r.Rip);
        Assert.Equal(Dr6Fixed | 1, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>
    /// SDM 18.3.1.4: TF set while SYSCALL executes (FMASK clears it) gives the trap after SYSCALL, at the LSTAR entry point,
    /// the stepped instruction being SYSCALL, not an INT n; the handler then runs without TF.
    /// </summary>
    [Fact]
    public void SingleStep_Sdm18_3_1_4_OverSyscallTrapsAtTheEntryPoint()
    {
        const ulong entry = Sys.Code + 0x500;
        var s = Long(a => { a.syscall(); a.hlt(); }, out _);
        s.Load(a => { a.nop(); a.hlt(); }, entry);
        s.Cpu.WriteMsr(Msr.Lstar, entry);
        s.Cpu.WriteMsr(Msr.Star, (ulong)Sys.KCode64 << 32);
        s.Cpu.WriteMsr(Msr.Fmask, TF);
        s.Cpu.Rflags = 2 | TF;
        var r = RunExpectDb(s);
        Assert.Equal(entry, r.Rip);
        Assert.Equal(TF, s.Cpu[Gpr.R11] & TF);
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
        s.RunToHalt();
    }

    /// <summary>SDM 18.3.1.4, REP: with TF the trap comes after every iteration, RIP on the REP until the last.</summary>
    [Fact]
    public void SingleStep_Sdm18_3_1_4_RepStringTrapsPerIteration()
    {
        var s = Long(a => { a.rep.stosb(); a.hlt(); }, out _);
        s.Cpu[Gpr.Rdi] = Buf;
        s.Cpu[Gpr.Rcx] = 3;
        s.Cpu.Rflags = 2 | TF;
        for (ulong left = 2; left > 0; left--)
        {
            var r = RunExpectDb(s);
            Assert.Equal(Sys.Code, r.Rip);
            Assert.Equal(left, s.Cpu[Gpr.Rcx]);
        }
        var last = RunExpectDb(s);
        Assert.Equal(Sys.Code + 2, last.Rip);
        Assert.Equal(0UL, s.Cpu[Gpr.Rcx]);
    }

    /// <summary>#DB delivery through the IDT (SDM 6.12, 18.3.1.4): the handler sees DR6.BS and TF in the pushed image; TF is clear inside it.</summary>
    [Fact]
    public void SingleStep_Sdm18_3_1_4_DeliveredThroughIdtWithDr6()
    {
        const ulong handler = Sys.Code + 0x400, log = Sys.Scratch;
        var s = Long(a => { a.nop(); a.nop(); a.hlt(); }, out _);
        s.Load(a =>
        {
            a.mov(rax, dr6);
            a.mov(__qword_ptr[log], rax);
            a.pushfq();
            a.pop(rax);
            a.mov(__qword_ptr[log + 8], rax);
            a.mov(rax, __qword_ptr[rsp + 16]);
            a.mov(__qword_ptr[log + 16], rax);
            a.and(__qword_ptr[rsp + 16], ~0x100);
            a.iretq();
        }, handler);
        s.Gate64(1, handler);
        s.Cpu.Rflags = 2 | TF;
        s.RunToHalt();
        Assert.Equal(new[] { (byte)1 }, s.Events.Select(e => e.Vector).ToArray());
        Assert.Equal(Dr6Fixed | BS, s.R64(log));
        Assert.Equal(0UL, s.R64(log + 8) & TF);
        Assert.Equal(TF, s.R64(log + 16) & TF);
    }

    // ------------------------------------------------------------------ IA32_DEBUGCTL

    /// <summary>SDM Vol. 3B 18.4.3: with TF and DEBUGCTL.BTF the single-step trap comes only after taken branches.</summary>
    [Fact]
    public void Btf_Sdm18_4_3_TrapsOnlyOnTakenBranches()
    {
        Label target = default;
        Label notTaken = default;
        var s = Long(a =>
        {
            target = a.CreateLabel(); notTaken = a.CreateLabel();
            a.nop();
            a.xor(eax, eax);
            a.jne(notTaken);   // ZF = 1: not taken
            a.nop();
            a.jmp(target);
            a.Label(ref notTaken);
            a.hlt();
            a.Label(ref target);
            a.nop();
            a.hlt();
        }, out var at);
        Assert.True(s.Cpu.WriteMsr(Msr.DebugCtl, 2));
        s.Cpu.Rflags = 2 | TF;
        var r = RunExpectDb(s);
        Assert.Equal(at(target), r.Rip);
        Assert.Equal(5UL, r.Instructions);
        Assert.Equal(Dr6Fixed | BS, s.Cpu.GetDebugRegister(6));
    }

    /// <summary>SDM Vol. 3B 18.4.1: IA32_DEBUGCTL accepts LBR and BTF (this model advertises no PDCM/arch LBR); other bits #GP(0).</summary>
    [Fact]
    public void DebugCtl_Sdm18_4_1_ReservedBitsGp()
    {
        var s = Long(a => { a.wrmsr(); a.rdmsr(); a.hlt(); }, out _);
        Assert.Equal(0u, s.Cpu.Model.Cpuid(1, 0).Ecx & (1u << 15));  // PDCM
        Assert.Equal(0u, s.Cpu.Model.Cpuid(7, 0).Edx & (1u << 19));  // architectural LBR
        s.Cpu[Gpr.Rcx] = Msr.DebugCtl;
        s.Cpu[Gpr.Rax] = 3;
        s.RunToHalt();
        Assert.Equal(3UL, s.Cpu[Gpr.Rax]);
        foreach (ulong bad in new[] { 1UL << 2, 1UL << 6, 1UL << 14, 1UL << 32 })
            Assert.False(s.Cpu.WriteMsr(Msr.DebugCtl, bad));
        var t = Long(a => { a.wrmsr(); a.hlt(); }, out _);
        t.Cpu[Gpr.Rcx] = Msr.DebugCtl;
        t.Cpu[Gpr.Rax] = 1u << 11; // FREEZE_PERFMON_ON_PMI: not implemented here
        t.ExpectFault(ExceptionVector.GP, 0, Sys.Code);
    }

    // ------------------------------------------------------------------ IA32_MISC_ENABLE

    /// <summary>
    /// SDM Vol. 4 Table 2-2: IA32_MISC_ENABLE reads fast strings = 1, BTS/PEBS unavailable = 1, enhanced SpeedStep = 0;
    /// xTPR disable and XD disable are writable; reserved bits #GP. XD disable hides CPUID NX and makes EFER.NXE = 1 #GP.
    /// </summary>
    [Fact]
    public void MiscEnable_Vol4Table2_2_BitsAndXdDisable()
    {
        var s = Long(a => { a.rdmsr(); a.hlt(); }, out _);
        s.Cpu[Gpr.Rcx] = Msr.MiscEnable;
        s.RunToHalt();
        ulong v = s.Cpu[Gpr.Rax] | (s.Cpu[Gpr.Rdx] << 32);
        Assert.Equal(1UL | 1UL << 11 | 1UL << 12, v);
        Assert.False(s.Cpu.WriteMsr(Msr.MiscEnable, v | 1UL << 16));  // enhanced SpeedStep not supported
        Assert.False(s.Cpu.WriteMsr(Msr.MiscEnable, v | 1UL << 40));  // reserved
        Assert.False(s.Cpu.WriteMsr(Msr.MiscEnable, v & ~(1UL << 11))); // read-only
        Assert.True(s.Cpu.WriteMsr(Msr.MiscEnable, v | 1UL << 23));
        Assert.True(s.Cpu.WriteMsr(Msr.MiscEnable, 1UL << 11 | 1UL << 12)); // fast strings off

        var t = Long(a => { a.cpuid(); a.hlt(); }, out _);
        t.Cpu.EferValue &= ~Efer.NXE;
        Assert.True(t.Cpu.WriteMsr(Msr.MiscEnable, 1UL | 1UL << 11 | 1UL << 12 | 1UL << 34));
        t.Cpu[Gpr.Rax] = 0x8000_0001;
        t.RunToHalt();
        Assert.Equal(0UL, t.Cpu[Gpr.Rdx] & (1UL << 20));
        Assert.False(t.Cpu.WriteMsr(Msr.Efer, t.Cpu.EferValue | Efer.NXE));
        Assert.True(t.Cpu.WriteMsr(Msr.MiscEnable, 1UL | 1UL << 11 | 1UL << 12));
        Assert.True(t.Cpu.WriteMsr(Msr.Efer, (t.Cpu.EferValue & ~Efer.LMA) | Efer.NXE));
    }

    // ------------------------------------------------------------------ determinism

    /// <summary>Breakpoints change no timing between identical runs: same DR6, RIP, cycles and retired count.</summary>
    [Fact]
    public void Breakpoints_AreDeterministic()
    {
        (ulong, ulong, ulong, ulong) Once()
        {
            var s = Long(a => { a.rep.stosb(); a.mov(__byte_ptr[rbx], al); a.hlt(); }, out _);
            s.Cpu[Gpr.Rdi] = Buf;
            s.Cpu[Gpr.Rcx] = 16;
            s.Cpu[Gpr.Rbx] = Buf + 0x40;
            s.Cpu.SetDebugRegister(0, Buf + 9);
            s.Cpu.SetDebugRegister(1, Buf + 0x40);
            s.Cpu.SetDebugRegister(7, Dr7(0, 1) | Dr7(1, 3));
            var r1 = RunExpectDb(s);
            var r2 = RunExpectDb(s);
            return (r1.Rip ^ r2.Rip << 1, s.Cpu.Cycles, s.Cpu.InstructionsRetired, s.Cpu.GetDebugRegister(6));
        }
        var a1 = Once();
        Assert.Equal(a1, Once());
        Assert.Equal(Dr6Fixed | 2, a1.Item4); // B0-B3 describe the latest #DB (the REP's B0 is gone: SDM 18.2.3)
    }
    /// <summary>
    /// Armed breakpoints that never match change nothing the guest can see: the same final state, retired count and cycles
    /// as with DR7 disabled (the per-step checks and the TLB slow path are bookkeeping only).
    /// </summary>
    [Fact]
    public void Breakpoints_ArmedButUnmatchedChangeNoTiming()
    {
        (ulong, ulong, ulong) Run(ulong dr7)
        {
            var s = Long(a => { a.rep.stosb(); a.mov(__qword_ptr[rbx], rax); a.add(rax, __qword_ptr[rbx]); a.push(rax); a.pop(rdx); a.hlt(); }, out _);
            s.Cpu[Gpr.Rdi] = Buf;
            s.Cpu[Gpr.Rcx] = 64;
            s.Cpu[Gpr.Rbx] = Buf + 0x80;
            s.Cpu[Gpr.Rax] = 0x1122_3344_5566_7788;
            s.Cpu.SetDebugRegister(0, Buf + 0x400);   // data, never touched
            s.Cpu.SetDebugRegister(1, Sys.Code + 0x300); // execute, never reached
            s.Cpu.SetDebugRegister(7, dr7);
            ulong c0 = s.Cpu.Cycles, i0 = s.Cpu.InstructionsRetired;
            s.RunToHalt();
            Assert.Equal(Dr6Fixed, s.Cpu.GetDebugRegister(6));
            return (s.Cpu.Cycles - c0, s.Cpu.InstructionsRetired - i0, s.Cpu[Gpr.Rdx]);
        }
        Assert.Equal(Run(0x400), Run(Dr7(0, 3, 8) | Dr7(1, 0)));
    }
}
