using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Event delivery in legacy protected mode through 32-bit interrupt and trap gates (SDM Vol. 3A,
/// 6.12.1): stack frames, IF handling, error codes, the TSS stack switch on a privilege change,
/// software-interrupt privilege checks, and IRET back to the same and to an outer level.
/// </summary>
public class ProtectedDeliveryTests
{
    private const uint F = (uint)Sys.Scratch;

    /// <summary>Copies <paramref name="n"/> dwords from [esp + i*4] to the scratch area at <paramref name="at"/>.</summary>
    internal static void SaveFrame32(Assembler a, int n, uint at = F)
    {
        for (int i = 0; i < n; i++)
        {
            a.mov(ebp, __dword_ptr[esp + i * 4]);
            a.mov(__dword_ptr[at + (uint)(i * 4)], ebp);
        }
    }

    [Fact]
    public void InterruptGateClearsIfTrapGateKeepsItFrameIsEflagsCsEip()
    {
        var s = new Sys();
        s.EnterProtected();
        Label after40 = default, after41 = default, h40 = default, h41 = default;
        var at = s.Load(a =>
        {
            after40 = a.CreateLabel(); after41 = a.CreateLabel(); h40 = a.CreateLabel(); h41 = a.CreateLabel();
            a.mov(esp, (uint)Sys.KernelStack);
            a.@int(0x40);
            a.Label(ref after40);
            a.@int(0x41);
            a.Label(ref after41);
            a.hlt();
            a.Label(ref h40);
            SaveFrame32(a, 3, F);
            a.mov(__dword_ptr[F + 0x40], esp);
            a.pushfd();
            a.pop(__dword_ptr[F + 0x44]);
            a.iretd();
            a.Label(ref h41);
            SaveFrame32(a, 3, F + 0x20);
            a.pushfd();
            a.pop(__dword_ptr[F + 0x48]);
            a.iretd();
        }, bitness: 32);
        s.Gate32(0x40, at(h40));
        s.Gate32(0x41, at(h41), trap: true);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202 | 0x1; // IF, CF
        s.RunToHalt();

        // Frame: EIP (after INT), CS, EFLAGS (IF=1 as interrupted), no error code; ESP = top - 12.
        Assert.Equal((uint)at(after40), s.R32(F));
        Assert.Equal(Sys.KCode32, s.R32(F + 4));
        Assert.Equal(0x203u, s.R32(F + 8));
        Assert.Equal((uint)Sys.KernelStack - 12, s.R32(F + 0x40));
        Assert.Equal(0u, s.R32(F + 0x44) & 0x200);    // interrupt gate: IF = 0 in the handler
        Assert.Equal(0x200u, s.R32(F + 0x48) & 0x200); // trap gate: IF kept
        Assert.Equal((uint)at(after41), s.R32(F + 0x20));
        // IRET restored IF and the stack.
        Assert.Equal(0x203UL, s.Cpu.Rflags & 0x2FF);
        Assert.Equal(Sys.KernelStack, s.Cpu[Gpr.Rsp]);
        Assert.Equal(new[] { (byte)0x40, (byte)0x41 }, s.Events.Select(e => e.Vector));
        Assert.All(s.Events, e => Assert.Equal(EventKind.SoftwareInterrupt, e.Kind));
    }

    [Fact]
    public void IntNNeverPushesAnErrorCodeEvenForErrorCodeVectors()
    {
        // SDM Vol. 3A, 6.13: INT n for vectors 8, 10-14, 17 pushes no error code.
        var s = new Sys();
        s.EnterProtected();
        Label h = default, after = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); after = a.CreateLabel();
            a.@int(13);
            a.Label(ref after);
            a.hlt();
            a.Label(ref h);
            a.mov(__dword_ptr[F], esp);
            SaveFrame32(a, 1, F + 4);
            a.iretd();
        }, bitness: 32);
        s.Gate32(13, at(h), dpl: 0);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((uint)Sys.KernelStack - 12, s.R32(F));
        Assert.Equal((uint)at(after), s.R32(F + 4));
        Assert.Equal((13, EventKind.SoftwareInterrupt, (uint?)null), (s.Events[0].Vector, s.Events[0].Kind, s.Events[0].Error));
    }

    [Fact]
    public void FaultsPushErrorCodeAndFaultingEipWithRfSet()
    {
        // MOV DS with a selector beyond the GDT limit: #GP(selector), EIP of the MOV, RF = 1 in the image.
        var s = new Sys();
        s.EnterProtected();
        Label h = default, bad = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); bad = a.CreateLabel();
            a.mov(eax, 0x1FB);      // index 0x3F, TI = 0, RPL 3: beyond the 0xFF limit
            a.Label(ref bad);
            a.mov(ds, ax);
            a.hlt();
            a.Label(ref h);
            SaveFrame32(a, 4, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x1F8u, s.R32(F));               // error code: selector index/TI, RPL cleared
        Assert.Equal((uint)at(bad), s.R32(F + 4));    // fault: the MOV itself
        Assert.Equal(Sys.KCode32, s.R32(F + 8));
        Assert.Equal(0x10000u, s.R32(F + 12) & 0x10000); // RF
        Assert.Equal((uint)Sys.KernelStack - 16, (uint)s.Cpu[Gpr.Rsp]);
        Assert.Equal(Sys.KData, s.Cpu.GetSelector(SegmentRegister.Ds)); // unchanged by the faulting load
        Assert.Equal((13, EventKind.HardwareException, (uint?)0x1F8), (s.Events[0].Vector, s.Events[0].Kind, s.Events[0].Error));
    }

    [Theory]
    [InlineData("np-data", 11, 0x80u)]
    [InlineData("np-ss", 12, 0x80u)]
    [InlineData("code-in-ds", 13, 0x88u)]
    [InlineData("ss-rpl", 13, 0x20u)]
    public void SegmentLoadFaultsAreDeliveredWithTheirErrorCodes(string which, int vector, uint error)
    {
        var s = new Sys();
        s.EnterProtected();
        s.SetGdt(0x80, Desc.Data32(0, present: false));
        s.SetGdt(0x88, Desc.Code32(0, type: Desc.CodeX)); // execute-only code
        Label h = default, bad = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); bad = a.CreateLabel();
            a.mov(eax, which switch { "np-data" or "np-ss" => 0x80, "code-in-ds" => 0x88, _ => 0x23 });
            a.Label(ref bad);
            if (which is "np-ss" or "ss-rpl") a.mov(ss, ax);
            else a.mov(ds, ax);
            a.hlt();
            a.Label(ref h);
            SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(vector, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(error, s.R32(F));
        Assert.Equal((uint)at(bad), s.R32(F + 4));
        Assert.Equal(((byte)vector, (uint?)error), (s.Events[0].Vector, s.Events[0].Error));
    }

    [Fact]
    public void PrivilegeChangeUsesTssStackAndIretReturnsToRing3()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label h = default, after = default, done = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); after = a.CreateLabel(); done = a.CreateLabel();
            a.mov(esp, (uint)Sys.UserStack - 0x10);
            a.@int(0x80);
            a.Label(ref after);
            a.mov(ecx, 0x1234);
            a.@int(0x81);            // to a ring-0 handler that halts
            a.Label(ref h);
            SaveFrame32(a, 5, F);
            a.mov(__dword_ptr[F + 0x20], esp);
            a.mov(__word_ptr[F + 0x24], ss);
            a.mov(__word_ptr[F + 0x26], cs);
            a.iretd();
            a.Label(ref done);
            a.hlt();
        }, bitness: 32);
        s.Gate32(0x80, at(h), dpl: 3);
        s.Gate32(0x81, at(done), dpl: 3);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        Assert.Equal(3, s.Cpu.Cpl);

        var r = s.RunTo(at(after));
        Assert.Equal(StopReason.StopAddress, r.Reason);
        // Frame on the ring-0 stack from TSS.SS0:ESP0: EIP, CS, EFLAGS, ESP, SS (outermost first pushed).
        Assert.Equal((uint)at(after), s.R32(F));
        Assert.Equal((uint)(Sys.UCode32 | 3), s.R32(F + 4));
        Assert.Equal(0x202u, s.R32(F + 8));
        Assert.Equal((uint)Sys.UserStack - 0x10, s.R32(F + 12));
        Assert.Equal((uint)(Sys.UData | 3), s.R32(F + 16) & 0xFFFF);
        Assert.Equal((uint)Sys.KernelStack - 20, s.R32(F + 0x20));
        Assert.Equal(Sys.KData, s.R16(F + 0x24));
        Assert.Equal(Sys.KCode32, s.R16(F + 0x26));
        // Back at CPL 3 with the user stack.
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal((ushort)(Sys.UCode32 | 3), s.Cpu.GetSelector(SegmentRegister.Cs));
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal(Sys.UserStack - 0x10, s.Cpu[Gpr.Rsp]);
        Assert.Equal(0x202UL, s.Cpu.Rflags & 0xFFF);

        s.RunToHalt();
        Assert.Equal(0, s.Cpu.Cpl);
        Assert.Equal(0x1234UL, s.Cpu[Gpr.Rcx]);
    }

    [Fact]
    public void HardwareExceptionAtCpl3SwitchesStackAndPushesErrorCode()
    {
        // CLI at CPL 3 with IOPL 0: #GP(0), delivered on the ring-0 stack with SS:ESP of ring 3.
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label h = default, bad = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); bad = a.CreateLabel();
            a.Label(ref bad);
            a.cli();
            a.hlt();
            a.Label(ref h);
            SaveFrame32(a, 6, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        s.RunToHalt();
        Assert.Equal(0u, s.R32(F));                          // error code 0
        Assert.Equal((uint)at(bad), s.R32(F + 4));
        Assert.Equal((uint)(Sys.UCode32 | 3), s.R32(F + 8));
        Assert.Equal(0x10202u, s.R32(F + 12) & 0x10FFF);     // RF, IF as interrupted
        Assert.Equal((uint)Sys.UserStack, s.R32(F + 16));
        Assert.Equal((uint)(Sys.UData | 3), s.R32(F + 20) & 0xFFFF);
        Assert.Equal((uint)Sys.KernelStack - 24, (uint)s.Cpu[Gpr.Rsp]);
        Assert.Equal(0, s.Cpu.Cpl);
    }

    [Fact]
    public void IntNThroughGateWithDplBelowCplIsGpVectorTimes8Plus2AtTheIntInstruction()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label h = default, bad = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); bad = a.CreateLabel();
            a.Label(ref bad);
            a.@int(0x30);
            a.hlt();
            a.Label(ref h);
            SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(0x30, at(h), dpl: 0);
        s.Gate32(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x30u * 8 + 2, s.R32(F));   // IDT, EXT = 0
        Assert.Equal((uint)at(bad), s.R32(F + 4)); // a fault: the INT instruction is restarted
        Assert.Single(s.Events);
        Assert.Equal((13, EventKind.HardwareException, (uint?)(0x30 * 8 + 2)), (s.Events[0].Vector, s.Events[0].Kind, s.Events[0].Error));
    }

    [Fact]
    public void Int3IntoAndInt1AreTrapsWithTheirVectors()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label h1 = default, h3 = default, h4 = default, a3 = default, a4 = default, a1 = default, done = default;
        var at = s.Load(a =>
        {
            h1 = a.CreateLabel(); h3 = a.CreateLabel(); h4 = a.CreateLabel(); a3 = a.CreateLabel(); a4 = a.CreateLabel(); a1 = a.CreateLabel(); done = a.CreateLabel();
            a.int3();
            a.Label(ref a3);
            a.mov(eax, 0x7FFF_FFFF);
            a.add(eax, 1);             // OF = 1
            a.into();
            a.Label(ref a4);
            a.xor(eax, eax);           // OF = 0: INTO does nothing
            a.into();
            a.int1();                  // gate DPL 0: INT1 is not subject to the DPL check
            a.Label(ref a1);
            a.@int(0x81);
            a.Label(ref h3);
            SaveFrame32(a, 3, F);
            a.iretd();
            a.Label(ref h4);
            SaveFrame32(a, 3, F + 0x10);
            a.iretd();
            a.Label(ref h1);
            SaveFrame32(a, 3, F + 0x20);
            a.iretd();
            a.Label(ref done);
            a.hlt();
        }, bitness: 32);
        s.Gate32(3, at(h3), dpl: 3);
        s.Gate32(4, at(h4), dpl: 3);
        s.Gate32(1, at(h1), dpl: 0);
        s.Gate32(0x81, at(done), dpl: 3);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((uint)at(a3), s.R32(F));
        Assert.Equal((uint)at(a4), s.R32(F + 0x10));
        Assert.Equal((uint)at(a1), s.R32(F + 0x20));
        Assert.Equal(0u, s.R32(F + 8) & 0x10000);    // traps: RF not set
        Assert.Equal(0u, s.R32(F + 0x18) & 0x10000);
        Assert.Equal(
            new[] { (3, EventKind.SoftwareException), (4, EventKind.SoftwareException), (1, EventKind.PrivilegedSoftwareException), (0x81, EventKind.SoftwareInterrupt) },
            s.Events.Select(e => ((int)e.Vector, e.Kind)));
    }

    [Fact]
    public void Int3AtCpl3ThroughDpl0GateIsGp()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.int3();
            a.Label(ref h);
            SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(3, at(h), dpl: 0);
        s.Gate32(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(3u * 8 + 2, s.R32(F));
        Assert.Equal((uint)Sys.Code, s.R32(F + 4));
    }

    [Fact]
    public void ExternalInterruptAtRing3ReturnsWithIret()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label h = default, loop = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel(); loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(ebx);
            a.cmp(ebx, 100);
            a.jne(loop);
            a.@int(0x81);
            a.Label(ref h);
            a.inc(__dword_ptr[F]);
            SaveFrame32(a, 5, F + 4);
            a.iretd();
        }, bitness: 32);
        s.Gate32(0x50, at(h));
        s.Gate32(0x81, at(h) + 100, dpl: 3); // not reached before the HLT below
        s.W8(at(h) + 100, 0xF4);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        s.Step(30);
        s.Cpu.RaiseInterrupt(0x50);
        s.RunToHalt();
        Assert.Equal(1u, s.R32(F));
        Assert.Equal((uint)(Sys.UCode32 | 3), s.R32(F + 8));
        Assert.Equal((uint)Sys.UserStack, s.R32(F + 16));
        Assert.Equal(100UL, s.Cpu[Gpr.Rbx]);
        Assert.Equal((0x50, EventKind.ExternalInterrupt, (uint?)null), ((int)s.Events[0].Vector, s.Events[0].Kind, s.Events[0].Error));
    }

    [Fact]
    public void NotPresentGateForIntNIsNpWithIdtErrorCode()
    {
        var s = new Sys();
        s.EnterProtected();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.@int(0x44);
            a.Label(ref h);
            SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(0x44, at(h), present: false);
        s.Gate32(11, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x44u * 8 + 2, s.R32(F));   // EXT = 0 for INT n
        Assert.Equal((uint)Sys.Code, s.R32(F + 4));
    }

    [Fact]
    public void NotPresentGateForExternalInterruptIsNpWithExtSet()
    {
        var s = new Sys();
        s.EnterProtected();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.nop();
            a.nop();
            a.hlt();
            a.Label(ref h);
            SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(0x60, at(h), present: false);
        s.Gate32(11, at(h));
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        s.Cpu.RaiseInterrupt(0x60);
        s.RunToHalt();
        Assert.Equal(0x60u * 8 + 2 + 1, s.R32(F)); // IDT + EXT: the #NP is not a #DF (the first event is benign)
        Assert.Equal((uint)Sys.Code, s.R32(F + 4));
        Assert.Equal(new byte[] { 11 }, s.Events.Select(e => e.Vector));
    }

    [Fact]
    public void Int1GateFaultHasExtSet()
    {
        // INT1 (ICEBP) is delivered like a hardware event: a fault during its delivery has EXT = 1
        // (SDM Vol. 2A, INT n/INTO/INT3/INT1 operation: "IF instruction = INT1 THEN EXT := 1").
        var s = new Sys();
        s.EnterProtected();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.int1();
            a.Label(ref h);
            SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(1, at(h), present: false);
        s.Gate32(11, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(1u * 8 + 2 + 1, s.R32(F));
    }

    [Fact]
    public void IretToRing3NullsDataSegmentsTheOuterLevelMayNotUse()
    {
        // SDM Vol. 2A, IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL: DS/ES/FS/GS with DPL < new CPL (data or
        // non-conforming code) become null.
        var s = new Sys();
        s.EnterProtected();
        const ulong user = Sys.Code + 0x1000;
        s.Load(a => a.nop(), user, 32);
        s.Load(a =>
        {
            a.mov(eax, (uint)(Sys.UData | 3));
            a.mov(fs, ax);               // FS usable at CPL 3; DS/ES/GS stay ring-0 data
            a.push((uint)(Sys.UData | 3));
            a.push((uint)Sys.UserStack);
            a.push(0x202);
            a.push((uint)(Sys.UCode32 | 3));
            a.push((uint)user);
            a.iretd();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(user).Reason);
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(user, s.Cpu.Rip);
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rsp]);
        Assert.True(s.Cpu.GetSegment(SegmentRegister.Ds).IsUnusable);
        Assert.True(s.Cpu.GetSegment(SegmentRegister.Es).IsUnusable);
        Assert.True(s.Cpu.GetSegment(SegmentRegister.Gs).IsUnusable);
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Fs));
        Assert.Equal(0x202UL, s.Cpu.Rflags & 0xFFF);
    }
    [Fact]
    public void TssStackSelectorBeyondGdtLimitIsTs()
    {
        // SDM Vol. 2A, INT n: "IF new stack-segment selector index is not within its descriptor table
        // limits THEN #TS(SS selector + EXT)". The #TS handler runs in a conforming segment, so at
        // CPL 3 on the user stack, where the test reads the error code.
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.W16(Sys.TssBase + 8, 0x1F8);
        s.SetGdt(Sys.Spare, Desc.Code32(0, type: Desc.CodeConformingXr));
        const ulong ts = Sys.Code + 0x100;
        s.Load(a => a.nop(), ts, 32);
        s.Load(a => { a.mov(esp, (uint)Sys.UserStack); a.@int(0x80); }, bitness: 32);
        s.Gate32(0x80, Sys.Code + 0x200, dpl: 3);
        s.Gate32(10, ts, sel: Sys.Spare);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(ts).Reason);
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal((uint)Sys.UserStack - 16, (uint)s.Cpu[Gpr.Rsp]);
        Assert.Equal(0x1F8u, s.R32(Sys.UserStack - 16));              // EXT = 0: raised by INT n
        Assert.Equal((uint)Sys.Code + 5, s.R32(Sys.UserStack - 12));  // the INT instruction
        Assert.Equal(new[] { (10, (uint?)0x1F8) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
    }

    [Fact]
    public void SixteenBitInterruptGatePushesWordsAndIretReturns()
    {
        var s = new Sys();
        s.EnterProtected();
        const ulong handler = 0x9800; // a 16-bit gate holds a 16-bit offset
        s.Load(a =>
        {
            a.mov(__dword_ptr[F], esp);
            a.mov(eax, __dword_ptr[esp]);
            a.mov(__dword_ptr[F + 4], eax);
            a.mov(eax, __dword_ptr[esp + 4]);
            a.mov(__dword_ptr[F + 8], eax);
            a.iret();                           // 16-bit IRET (66 CF)
        }, handler, 32);
        s.W64(Sys.IdtBase + 0x40 * 8, Desc.Gate32(Sys.KCode32, (uint)handler, 0, gate16: true));
        s.Cpu.Rip = 0x100; // IP must fit in 16 bits to return through a 16-bit frame: run the INT at 0x100
        s.Load(a => { a.@int(0x40); a.hlt(); }, 0x100, 32);
        s.Cpu.Rflags = 0x202;
        s.RunToHalt();
        Assert.Equal((uint)Sys.KernelStack - 6, s.R32(F));
        Assert.Equal(0x102u | ((uint)Sys.KCode32 << 16), s.R32(F + 4)); // IP, CS
        Assert.Equal(0x202u, s.R32(F + 8) & 0xFFFF);                    // FLAGS
        Assert.Equal(0x103UL, s.Cpu.Rip);
        Assert.Equal(Sys.KernelStack, s.Cpu[Gpr.Rsp]);
    }
    [Fact]
    public void IretAtCpl3CannotChangeIoplOrIfButCanChangeStatusFlags()
    {
        // SDM Vol. 2A, IRET: IOPL changes only at CPL 0, IF only when CPL <= IOPL.
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        const ulong target = Sys.Code + 0x100;
        s.Load(a => a.nop(), target, 32);
        s.Load(a =>
        {
            a.push(0x3200 | 0x8D5);             // IOPL 3, IF, OF/SF/ZF/AF/PF/CF
            a.push((uint)(Sys.UCode32 | 3));
            a.push((uint)target);
            a.iretd();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x002;
        Assert.Equal(StopReason.StopAddress, s.RunTo(target).Reason);
        Assert.Equal(0x8D7UL, s.Cpu.Rflags);    // status flags changed; IOPL and IF kept
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void IntFromRing0ThroughGateToRing3CodeIsGp()
    {
        // The handler's code segment may not be less privileged than CPL: #GP(selector).
        var s = new Sys();
        s.EnterProtected();
        Label h = default;
        var at = s.Load(a => { h = a.CreateLabel(); a.@int(0x40); a.Label(ref h); SaveFrame32(a, 1, F); a.hlt(); }, bitness: 32);
        s.Gate32(0x40, at(h), dpl: 3, sel: (ushort)(Sys.UCode32 | 3));
        s.Gate32(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((uint)Sys.UCode32, s.R32(F));
    }

    [Fact]
    public void VectorBeyondIdtLimitIsGp()
    {
        var s = new Sys();
        s.EnterProtected();
        s.Cpu.Idtr = new DescriptorTableRegister(Sys.IdtBase, 0x40 * 8 - 1);
        Label h = default;
        var at = s.Load(a => { h = a.CreateLabel(); a.@int(0x40); a.Label(ref h); SaveFrame32(a, 1, F); a.hlt(); }, bitness: 32);
        s.Gate32(13, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x40u * 8 + 2, s.R32(F));
    }
    [Fact]
    public void RfFromIretLastsForOneInstruction()
    {
        // SDM Vol. 3A, 18.3.1.1: the processor clears RF after the instruction returned to completes
        // (IRET itself excepted), so a fault handler's IRET suppresses breakpoints exactly once.
        var s = new Sys();
        s.EnterProtected();
        const ulong target = Sys.Code + 0x100;
        s.Load(a => { a.nop(); a.nop(); a.hlt(); }, target, 32);
        s.Load(a =>
        {
            a.push(0x1_0002);                   // RF
            a.push((uint)Sys.KCode32);
            a.push((uint)target);
            a.iretd();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(target).Reason);
        Assert.Equal(0x1_0002UL, s.Cpu.Rflags);   // right after the IRET
        s.Step();
        Assert.Equal(0x2UL, s.Cpu.Rflags);        // the NOP completed: RF cleared
        s.Cpu.Rflags = 0x1_0002;                  // set by the host: also cleared by the next instruction
        s.RunToHalt();
        Assert.Equal(0x2UL, s.Cpu.Rflags);
    }
}
