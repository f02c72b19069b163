using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Event delivery in IA-32e mode through 64-bit gates (SDM Vol. 3A, 6.14): the frame is always
/// SS, RSP, RFLAGS, CS, RIP (+ error code) in 8-byte slots, RSP is aligned to 16 first, RSP0 is taken
/// from the TSS on a privilege change (SS becomes a null selector with RPL = new CPL), IST stacks are
/// used whatever the privilege, and IRETQ returns to the same and to an outer level.
/// </summary>
public class LongDeliveryTests
{
    private const uint F = (uint)Sys.Scratch;

    /// <summary>Copies <paramref name="n"/> qwords from [rsp + i*8] to the scratch area at <paramref name="at"/>, then RSP to at + 0x60.</summary>
    internal static void SaveFrame64(Assembler a, int n, uint at = F)
    {
        for (int i = 0; i < n; i++)
        {
            a.mov(rbp, __qword_ptr[rsp + i * 8]);
            a.mov(__qword_ptr[at + (uint)(i * 8)], rbp);
        }
        a.mov(__qword_ptr[at + 0x60], rsp);
        a.mov(__word_ptr[at + 0x68], ss);
        a.mov(__word_ptr[at + 0x6A], cs);
    }

    [Fact]
    public void SamePrivilegeInterruptAlignsRspAndAlwaysPushesSsRsp()
    {
        var s = new Sys();
        s.EnterLong();
        Label h = default, after = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); after = a.CreateLabel();
            a.mov(rsp, Sys.KernelStack - 8);       // misaligned by 8
            a.@int(0x40);
            a.Label(ref after);
            a.hlt();
            a.Label(ref h);
            SaveFrame64(a, 5);
            a.iretq();
        });
        s.Gate64(0x40, at(h));
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        s.RunToHalt();
        Assert.Equal(at(after), s.R64(F));
        Assert.Equal(Sys.KCode64, s.R64(F + 8));
        Assert.Equal(0x202UL, s.R64(F + 16));
        Assert.Equal(Sys.KernelStack - 8, s.R64(F + 24));  // the original, unaligned RSP
        Assert.Equal(Sys.KData, s.R64(F + 32));
        Assert.Equal(Sys.KernelStack - 16 - 40, s.R64(F + 0x60)); // aligned down to 16, then 5 slots
        Assert.Equal(Sys.KernelStack - 8, s.Cpu[Gpr.Rsp]);  // IRETQ popped SS:RSP
        Assert.Equal(Sys.KData, s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal(OperatingMode.Long64, s.Cpu.Mode);
    }

    [Fact]
    public void PrivilegeChangeTakesRsp0AndLoadsNullSs()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        Label h = default, after = default, done = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); after = a.CreateLabel(); done = a.CreateLabel();
            a.mov(rsp, Sys.UserStack - 0x18);
            a.@int(0x80);
            a.Label(ref after);
            a.mov(rcx, 0x5678);
            a.@int(0x81);
            a.Label(ref h);
            SaveFrame64(a, 5);
            a.iretq();
            a.Label(ref done);
            a.hlt();
        });
        s.Gate64(0x80, at(h), dpl: 3);
        s.Gate64(0x81, at(done), dpl: 3);
        s.W64(Sys.TssBase + 4, Sys.KernelStack - 8); // RSP0 misaligned: aligned to 16 too
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(after)).Reason);

        Assert.Equal(at(after), s.R64(F));
        Assert.Equal((ulong)(Sys.UCode64 | 3), s.R64(F + 8));
        Assert.Equal(0x202UL, s.R64(F + 16));
        Assert.Equal(Sys.UserStack - 0x18, s.R64(F + 24));
        Assert.Equal((ulong)(Sys.UData | 3), s.R64(F + 32));
        Assert.Equal(Sys.KernelStack - 16 - 40, s.R64(F + 0x60));
        Assert.Equal(0, s.R16(F + 0x68));            // SS = null selector, RPL 0
        Assert.Equal(Sys.KCode64, s.R16(F + 0x6A));

        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(Sys.UserStack - 0x18, s.Cpu[Gpr.Rsp]);
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal((ushort)(Sys.UCode64 | 3), s.Cpu.GetSelector(SegmentRegister.Cs));
        s.RunToHalt();
        Assert.Equal(0x5678UL, s.Cpu[Gpr.Rcx]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void IstStackIsUsedAtAnyPrivilege(int cpl)
    {
        var s = new Sys();
        s.EnterLong(cpl);
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.mov(rsp, (cpl == 0 ? Sys.KernelStack : Sys.UserStack) - 0x100);
            a.@int(0x41);
            a.Label(ref h);
            SaveFrame64(a, 5);
            a.hlt();
        });
        s.Gate64(0x41, at(h), dpl: 3, ist: 2);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(Sys.IstStack2 - 40, s.R64(F + 0x60));
        Assert.Equal((cpl == 0 ? Sys.KernelStack : Sys.UserStack) - 0x100, s.R64(F + 24));
        Assert.Equal(cpl == 0 ? Sys.KData : 0, s.R16(F + 0x68));
    }

    [Fact]
    public void FaultPushesErrorCodeAndRfAndReturnsToFaultingInstruction()
    {
        // MOV CR0 at CPL 3: #GP(0). The frame holds the error code, RIP of the MOV and RF = 1.
        var s = new Sys();
        s.EnterLong(cpl: 3);
        Label h = default, bad = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); bad = a.CreateLabel();
            a.Label(ref bad);
            a.mov(rax, cr0);
            a.hlt();
            a.Label(ref h);
            SaveFrame64(a, 6);
            a.hlt();
        });
        s.Gate64(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        s.RunToHalt();
        Assert.Equal(0UL, s.R64(F));
        Assert.Equal(at(bad), s.R64(F + 8));
        Assert.Equal((ulong)(Sys.UCode64 | 3), s.R64(F + 16));
        Assert.Equal(0x10202UL, s.R64(F + 24));
        Assert.Equal(Sys.UserStack, s.R64(F + 32));
        Assert.Equal(Sys.KernelStack - 48, s.R64(F + 0x60));
    }

    [Fact]
    public void SoftwareInterruptsDoNotSetRf()
    {
        var s = new Sys();
        s.EnterLong();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.int3();
            a.Label(ref h);
            SaveFrame64(a, 3);
            a.hlt();
        });
        s.Gate64(3, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(Sys.Code + 1, s.R64(F));
        Assert.Equal(0UL, s.R64(F + 16) & 0x10000);
    }

    [Fact]
    public void GateToNon64BitCodeSegmentIsGpSelector()
    {
        // SDM Vol. 3A, 6.14.1: the target of a 64-bit gate must be a 64-bit code segment.
        var s = new Sys();
        s.EnterLong();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.@int(0x42);
            a.Label(ref h);
            SaveFrame64(a, 2);
            a.hlt();
        });
        s.Gate64(0x42, at(h), sel: Sys.KCode32);
        s.Gate64(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((ulong)Sys.KCode32, s.R64(F));
        Assert.Equal(Sys.Code, s.R64(F + 8));
    }

    [Fact]
    public void IntNWithGateDplBelowCplIsGpAtTheInstruction()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.@int(0x90);
            a.Label(ref h);
            SaveFrame64(a, 4);
            a.hlt();
        });
        s.Gate64(0x90, at(h), dpl: 0);
        s.Gate64(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x90UL * 8 + 2, s.R64(F));
        Assert.Equal(Sys.Code, s.R64(F + 8));
        Assert.Equal(0x10000UL, s.R64(F + 24) & 0x10000); // a fault: RF set
    }

    [Fact]
    public void RealModeStyleTrapGateInIa32eModeIsGp()
    {
        // Only 64-bit interrupt/trap gates (types 14, 15) are valid in IA-32e mode: a 16-bit gate (type 6) is #GP(vector*8+2).
        var s = new Sys();
        s.EnterLong();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.@int(0x43);
            a.Label(ref h);
            SaveFrame64(a, 1);
            a.hlt();
        });
        s.W64(Sys.IdtBase + 0x43 * 16, Desc.Gate32(Sys.KCode64, (uint)at(h), 0, gate16: true));
        s.Gate64(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x43UL * 8 + 2, s.R64(F));
    }

    [Fact]
    public void IretqToCompatibilityModeAtRing3()
    {
        // IRETQ from 64-bit mode at CPL 0 to a 32-bit code segment at CPL 3: compatibility mode.
        var s = new Sys();
        s.EnterLong();
        const ulong user = Sys.Code + 0x1000;
        s.Load(a => { a.mov(eax, 0x1234_5678); a.nop(); }, user, 32);
        s.Load(a =>
        {
            a.push((int)(Sys.UData | 3));
            a.push((int)(Sys.UserStack - 4));
            a.push(0x202);
            a.push((int)(Sys.UCode32 | 3));
            a.push((int)user);
            a.iretq();
        });
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(user).Reason);
        Assert.Equal(OperatingMode.Compatibility, s.Cpu.Mode);
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(32, s.Cpu.CodeSize);
        Assert.Equal(Sys.UserStack - 4, s.Cpu[Gpr.Rsp]);
        s.Step();
        Assert.Equal(0x1234_5678UL, s.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void InterruptInCompatibilityModeUses64BitGateAndReturnsThere()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        s.LoadSegments((ushort)(Sys.UCode32 | 3), (ushort)(Sys.UData | 3));
        Assert.Equal(OperatingMode.Compatibility, s.Cpu.Mode);
        const ulong handler = Sys.Code + 0x1000;
        s.Load(a =>
        {
            SaveFrame64(a, 5);
            a.iretq();
        }, handler);
        Label after = default;
        var at = s.Load(a =>
        {
            after = a.CreateLabel();
            a.mov(esp, (uint)Sys.UserStack - 4);
            a.@int(0x80);
            a.Label(ref after);
            a.nop();
        }, bitness: 32);
        s.Gate64(0x80, handler, dpl: 3);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(after)).Reason);
        Assert.Equal(at(after), s.R64(F));
        Assert.Equal((ulong)(Sys.UCode32 | 3), s.R64(F + 8));
        Assert.Equal(Sys.UserStack - 4, s.R64(F + 24));
        Assert.Equal(OperatingMode.Compatibility, s.Cpu.Mode);
        Assert.Equal(Sys.UserStack - 4, s.Cpu[Gpr.Rsp]);
    }
    [Fact]
    public void IretdIn64BitModePopsSsAndEspAtTheSamePrivilege()
    {
        // In 64-bit mode IRET of any operand size pops SS:RSP too (SDM Vol. 2A, IRET: "IF instruction
        // began in 64-bit mode THEN GOTO RETURN-TO-OUTER-PRIVILEGE-LEVEL").
        var s = new Sys();
        s.EnterLong();
        const ulong target = Sys.Code + 0x800;
        s.Load(a => a.nop(), target);
        s.Load(a =>
        {
            a.mov(rsp, Sys.KernelStack);
            a.push(0);                       // padding so the 4-byte slots sit at a known place
            a.mov(__dword_ptr[rsp - 4], (uint)Sys.KData);      // SS
            a.mov(__dword_ptr[rsp - 8], 0x7_0000u);            // ESP
            a.mov(__dword_ptr[rsp - 12], 0x202u);              // EFLAGS
            a.mov(__dword_ptr[rsp - 16], (uint)Sys.KCode64);   // CS
            a.mov(__dword_ptr[rsp - 20], (uint)target);        // EIP
            a.sub(rsp, 20);
            a.iretd();
        });
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(target).Reason);
        Assert.Equal(0x7_0000UL, s.Cpu[Gpr.Rsp]);
        Assert.Equal(0x202UL, s.Cpu.Rflags);
    }

    [Fact]
    public void NestedInterruptWithNullSsAtRing0ReturnsWithIretq()
    {
        // After a CPL 3 -> 0 interrupt SS is null; a nested interrupt pushes SS = 0 and IRETQ may load
        // it back at CPL 0 (RPL = CPL). The outer IRETQ then returns to ring 3.
        var s = new Sys();
        s.EnterLong(cpl: 3);
        Label outer = default, inner = default, after = default;
        var at = s.Load(a =>
        {
            outer = a.CreateLabel(); inner = a.CreateLabel(); after = a.CreateLabel();
            a.@int(0x80);
            a.Label(ref after);
            a.nop();
            a.Label(ref outer);
            a.@int(0x41);                    // nested, CPL 0 -> CPL 0
            a.mov(__word_ptr[F + 0x70], ss);
            a.iretq();
            a.Label(ref inner);
            a.mov(rax, __qword_ptr[rsp + 32]);
            a.mov(__qword_ptr[F], rax);      // the SS slot of the nested frame
            a.iretq();
        });
        s.Gate64(0x80, at(outer), dpl: 3);
        s.Gate64(0x41, at(inner));
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(after)).Reason);
        Assert.Equal(0UL, s.R64(F));
        Assert.Equal(0, s.R16(F + 0x70));
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void IretqToRing3WithNullSsIsGp0()
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a =>
        {
            a.push(0);                          // SS = null
            a.push((int)Sys.UserStack);
            a.push(0x202);
            a.push((int)(Sys.UCode64 | 3));
            a.push((int)Sys.Code);
            a.iretq();
        });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(0, s.Cpu.Cpl);
    }
    [Fact]
    public void NonCanonicalRsp0FromCompatibilityModeFaultsInsteadOfWriting()
    {
        // Delivery in IA-32e mode uses 64-bit stack addresses whatever the interrupted code size: a
        // non-canonical RSP0 is a stack fault (then #DF, here on a good IST stack), and nothing is
        // written at the address its low bits alias.
        var s = new Sys();
        s.EnterLong(cpl: 3);
        s.LoadSegments((ushort)(Sys.UCode32 | 3), (ushort)(Sys.UData | 3));
        s.W64(Sys.TssBase + 4, 0x8000_0000_0009_0000UL);
        const ulong handler = Sys.Code + 0x1000;
        s.Load(a => { SaveFrame64(a, 1); a.hlt(); }, handler);
        s.Load(a => a.@int(0x80), bitness: 32);
        s.Gate64(0x80, handler, dpl: 3);
        s.Gate64(8, handler, ist: 1);
        s.M.WriteMemory(Sys.KernelStack - 0x100, new byte[0x100]);
        s.Cpu.Rip = Sys.Code;
        s.Gate64(12, handler, dpl: 0);          // #SS: also through RSP0 (CPL 3 -> 0), so #DF
        s.RunToHalt();
        Assert.Equal(new[] { (8, (uint?)0) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
        Assert.Equal(new byte[0x100], s.M.ReadMemory(Sys.KernelStack - 0x100, 0x100));

        // From 64-bit code at CPL 0 with a non-canonical RSP, INT n is #SS(0) (EXT = 0) at the INT.
        var t = new Sys();
        t.EnterLong();
        t.Load(a => { a.mov(rsp, 0x8000_0000_0000_0040UL); a.@int(0x80); });
        t.Gate64(0x80, handler);
        t.Gate64(12, handler, ist: 1);
        t.Load(a => { SaveFrame64(a, 2); a.hlt(); }, handler);
        t.Cpu.Rip = Sys.Code;
        t.RunToHalt();
        Assert.Equal(new[] { (12, (uint?)0) }, t.Events.Select(e => ((int)e.Vector, e.Error)));
        Assert.Equal(Sys.Code + 10, t.R64(F + 8));     // the INT instruction
    }

    [Fact]
    public void IntoIsInvalidIn64BitMode()
    {
        var s = new Sys();
        s.EnterLong();
        s.M.WriteMemory(Sys.Code, new byte[] { 0xCE });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.UD, null, Sys.Code);
    }
    /// <summary>
    /// Property over CPL, IST, gate type, IF and the low bits of RSP/RSP0/IST: the stack is chosen as
    /// SDM Vol. 3A 6.14.4-6.14.5 say (IST if non-zero, else RSP0 on a privilege change, else the
    /// current RSP), aligned down to 16, and the frame is always SS, RSP, RFLAGS, CS, RIP.
    /// </summary>
    [Fact]
    public void FrameLayoutProperty()
    {
        var gen =
            from cpl in Gen.Elements(0, 3)
            from ist in Gen.Choose(0, 2)
            from trap in Gen.Elements(false, true)
            from ifSet in Gen.Elements(false, true)
            from low in Gen.Choose(0, 15)
            from low0 in Gen.Choose(0, 15)
            from lowIst in Gen.Choose(0, 15)
            select (cpl, ist, trap, ifSet, low, low0, lowIst);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var s = new Sys();
            s.EnterLong(t.cpl);
            ulong rsp0 = Sys.KernelStack - 0x100 - (ulong)t.low0, ist2 = Sys.IstStack2 - 0x100 - (ulong)t.lowIst;
            s.W64(Sys.TssBase + 4, rsp0);
            s.W64(Sys.TssBase + 0x24, Sys.IstStack1);
            s.W64(Sys.TssBase + 0x2C, ist2);
            ulong oldRsp = (t.cpl == 3 ? Sys.UserStack : Sys.KernelStack) - 0x40 - (ulong)t.low;
            const ulong handler = Sys.Code + 0x800;
            s.Load(a =>
            {
                SaveFrame64(a, 5);
                a.pushfq();
                a.pop(__qword_ptr[F + 0x78]);
                a.hlt();
            }, handler);
            s.Load(a => { a.mov(rsp, oldRsp); a.@int(0x77); });
            s.Gate64(0x77, handler, dpl: 3, ist: t.ist == 0 ? 0 : 2, trap: t.trap);
            s.Cpu.Rip = Sys.Code;
            ulong flags = 0x2 | 0x1 | (t.ifSet ? 0x200UL : 0);
            s.Cpu.Rflags = flags;
            s.RunToHalt();

            ulong stackBase = t.ist != 0 ? ist2 : t.cpl == 3 ? rsp0 : oldRsp;
            Assert.Equal((stackBase & ~0xFUL) - 40, s.R64(F + 0x60));
            Assert.Equal(Sys.Code + 12, s.R64(F));                                    // after mov rsp, imm64 (10) + INT (2)
            Assert.Equal(t.cpl == 3 ? (ulong)(Sys.UCode64 | 3) : Sys.KCode64, s.R64(F + 8));
            Assert.Equal(flags, s.R64(F + 16));
            Assert.Equal(oldRsp, s.R64(F + 24));
            Assert.Equal(t.cpl == 3 ? (ulong)(Sys.UData | 3) : Sys.KData, s.R64(F + 32));
            Assert.Equal(t.cpl == 3 ? 0 : Sys.KData, s.R16(F + 0x68));             // SS in the handler
            Assert.Equal(t.trap && t.ifSet ? 0x200UL : 0, s.R64(F + 0x78) & 0x200);
            Assert.Equal(0, s.Cpu.Cpl);
        }).QuickCheckThrowOnFailure();
    }
}
