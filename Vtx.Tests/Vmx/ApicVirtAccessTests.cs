using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.ApicVirtGuest;

namespace Vtx.Tests.Vmx;

/// <summary>
/// "Virtualize APIC accesses" (SDM Vol. 3C, 29.4): linear accesses to the APIC-access page are
/// virtualized to the virtual-APIC page or cause APIC-access VM exits (44) whose qualification
/// carries the page offset (11:0) and the access type (15:12: 0 read, 1 write, 2 fetch, 3 during
/// event delivery; Table 27-6); APIC-write emulation after a virtualized write (29.4.3.2) with its
/// trap-like APIC-write exits (56).
/// </summary>
public class ApicVirtAccessTests
{
    private static ulong Qual(VmxGuest g) => g.R(VmcsField.ExitQualification);

    [Fact]
    public void TprReadIsVirtualizedToTheVirtualApicPage()
    {
        var g = Create(Vaa, pin: 0, vtpr: 0x70);
        g.S.W32(AccessPage + 0x80, 0xEE); // the APIC-access page's own memory is not what the guest sees
        g.Guest(a => { a.mov(eax, __dword_ptr[AccessPage + 0x80]); a.cpuid(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0x70UL, g.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void ReadOfAnotherRegisterWithoutRegisterVirtualizationExits()
    {
        var g = Create(Vaa, pin: 0);
        g.Guest(a => { a.nop(); a.mov(eax, __dword_ptr[AccessPage + 0x20]); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicAccess, g.ExitReason);
        Assert.Equal(0x020UL, Qual(g));                                   // linear read, offset 20h
        Assert.Equal(VmxGuest.GuestCode + 1, g.R(VmcsField.GuestRip));    // fault-like: RIP at the MOV
        Assert.NotEqual(0UL, g.R(VmcsField.GuestRflags) & (1UL << 16));    // RF saved 1 (27.3.3)
    }

    [Theory]
    [InlineData(0x80, 8)]  // more than 32 bits
    [InlineData(0x84, 4)]  // outside the low 4 bytes of the register
    [InlineData(0x82, 4)]  // crosses the 4-byte register
    public void ReadsThatCannotBeVirtualizedExit(int offset, int size)
    {
        var g = Create(Vaa | Arv, pin: 0);
        g.Guest(a =>
        {
            a.mov(rsi, (long)(AccessPage + (ulong)offset));
            if (size == 8) a.mov(rax, __qword_ptr[rsi]); else a.mov(eax, __dword_ptr[rsi]);
            a.hlt();
        });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicAccess, g.ExitReason);
        Assert.Equal((ulong)offset, Qual(g));
    }

    [Fact]
    public void WriteWithoutVirtualInterruptDeliveryToIcrExitsAsAWrite()
    {
        var g = Create(Vaa, pin: 0);
        g.Guest(a => { a.mov(__dword_ptr[AccessPage + 0x300], 0x4_0050); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicAccess, g.ExitReason);
        Assert.Equal(0x1300UL, Qual(g));                                  // type 1 (linear write), offset 300h
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(0u, g.S.R32(VApic + 0x300));                          // nothing written
    }

    [Fact]
    public void InstructionFetchFromTheAccessPageExits()
    {
        var g = Create(Vaa, pin: 0);
        g.Guest(a => { a.mov(eax, (int)(AccessPage + 0x10)); a.jmp(rax); });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicAccess, g.ExitReason);
        Assert.Equal(0x2010UL, Qual(g));                                  // type 2 (fetch), offset 10h
        Assert.Equal(AccessPage + 0x10, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void TprWriteIsEmulatedAndBelowTheThresholdExits43()
    {
        var g = Create(Vaa, pin: 0, vtpr: 0x50, threshold: 3);
        var after = new Label();
        var l = g.Guest(a => { a.mov(__dword_ptr[AccessPage + 0x80], 0x1234_5620); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.TprBelowThreshold, g.ExitReason);
        Assert.Equal(l(after), g.R(VmcsField.GuestRip));                   // trap-like
        Assert.Equal(0x20u, g.S.R32(VApic + 0x80));                         // bytes 81h-83h cleared by APIC-write emulation
    }

    [Fact]
    public void RegisterVirtualizationReadsAndTrapsOtherWrites()
    {
        var g = Create(Vaa | Arv, pin: 0);
        g.S.W32(VApic + 0x20, 0x0300_0000);
        var after = new Label();
        var l = g.Guest(a =>
        {
            a.mov(ebx, __dword_ptr[AccessPage + 0x20]);            // virtualized read of the APIC ID
            a.mov(__dword_ptr[AccessPage + 0x380], 12345);         // initial count: virtualized, then APIC-write exit
            after = a.CreateLabel(); a.Label(ref after); a.hlt();
        });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicWrite, g.ExitReason);
        Assert.Equal(0x380UL, Qual(g));
        Assert.Equal(l(after), g.R(VmcsField.GuestRip));
        Assert.Equal(0x0300_0000UL, g.Cpu[Gpr.Rbx]);
        Assert.Equal(12345u, g.S.R32(VApic + 0x380));
    }

    [Fact]
    public void IcrHighWriteIsVirtualizedWithoutAnExit()
    {
        var g = Create(Vaa | Arv, pin: 0);
        g.Guest(a => { a.mov(__dword_ptr[AccessPage + 0x310], unchecked((int)0xAB12_3456)); a.cpuid(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0xAB00_0000u, g.S.R32(VApic + 0x310)); // bits 23:0 cleared
    }

    [Fact]
    public void SelfIpiThroughTheIcrIsVirtualizedAndDelivered()
    {
        var g = Create(Vaa | Vid);
        var after = new Label();
        var l = g.Guest(a => { a.mov(__dword_ptr[AccessPage + 0x300], 0x4_0066); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(0x66u, g.LastGuestVector);
        Assert.Equal(l(after), FrameRip(g));
    }

    [Theory]
    [InlineData(0x0_4066)]  // no shorthand (physical destination)
    [InlineData(0x4_0466)]  // delivery mode 100b (NMI)
    [InlineData(0x4_8066)]  // level-triggered
    [InlineData(0x4_0006)]  // vector below 16
    public void OtherIcrWritesAreApicWriteExits(int icr)
    {
        var g = Create(Vaa | Vid);
        g.Guest(a => { a.mov(__dword_ptr[AccessPage + 0x300], icr); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicWrite, g.ExitReason);
        Assert.Equal(0x300UL, Qual(g));
        Assert.Equal((uint)icr, g.S.R32(VApic + 0x300));
    }

    [Fact]
    public void EoiThroughTheAccessPageIsVirtualized()
    {
        var g = Create(Vaa | Vid);
        SetBit(g, 0x100, 0x90);
        SetBit(g, 0x200, 0x42);
        g.W(VmcsField.GuestInterruptStatus, 0x90_42);
        var after = new Label();
        var l = g.Guest(a => { a.mov(__dword_ptr[AccessPage + 0xB0], 0); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(0x42u, g.LastGuestVector);
        Assert.Equal(l(after), FrameRip(g));
        Assert.False(Bit(g, 0x100, 0x90));
    }

    [Fact]
    public void AccessDuringEventDeliveryReportsType3AndIdtVectoring()
    {
        var g = Create(Vaa, pin: 0);
        g.Guest(a => a.hlt());
        g.W(VmcsField.GuestRsp, AccessPage + 0x100);                // the frame would be pushed onto the APIC-access page
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0040); // inject external interrupt 40h
        g.Launch();
        Assert.Equal(VmxExitReason.ApicAccess, g.ExitReason);
        ulong q = Qual(g);
        Assert.Equal(3UL, q >> 12);
        Assert.InRange(q & 0xFFF, 0xD8UL, 0xF8UL);
        Assert.Equal(0x8000_0040UL, g.R(VmcsField.IdtVectoringInformation));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void WithoutTheControlTheAccessPageIsOrdinaryMemory()
    {
        var g = Create(0, pin: 0);
        g.S.W32(AccessPage + 0x20, 0x5555);
        g.Guest(a => { a.mov(eax, __dword_ptr[AccessPage + 0x20]); a.cpuid(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0x5555UL, g.Cpu[Gpr.Rax]);
    }
}

/// <summary>
/// Posted-interrupt processing (SDM Vol. 3C, 29.6): the notification vector arriving as an external
/// interrupt in non-root operation with "process posted interrupts" clears ON, EOIs the local APIC,
/// moves PIR into VIRR, raises RVI and evaluates pending virtual interrupts, with no VM exit.
/// </summary>
public class PostedInterruptTests
{
    private const byte Notify = 0xF2;

    private static VmxGuest Posted()
    {
        var g = Create(Vid | X2, pin: PinBasedControls.ExternalInterruptExiting | PinBasedControls.ProcessPostedInterrupts);
        g.W(VmcsField.PostedInterruptNotificationVector, Notify);
        g.W(VmcsField.PostedInterruptDescriptorAddress, Pid);
        return g;
    }

    private static void Post(VmxGuest g, params int[] vectors)
    {
        foreach (int v in vectors) g.S.W32(Pid + (ulong)(v >> 5) * 4, g.S.R32(Pid + (ulong)(v >> 5) * 4) | 1u << (v & 31));
        g.S.W8(Pid + 32, 1); // ON
    }

    [Fact]
    public void HostNotificationMovesPirIntoVirrAndDeliversWithoutAnExit()
    {
        var g = Posted();
        Post(g, 0x51, 0x62);
        g.Guest(a => a.hlt());
        g.Cpu.RaiseInterrupt(Notify); // pending while the host runs with IF = 0
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason); // from the 62h handler: the notification itself did not exit
        Assert.Equal(0x62u, g.LastGuestVector);
        Assert.Equal(0x62_51UL, g.R(VmcsField.GuestInterruptStatus));
        Assert.True(Bit(g, 0x200, 0x51));
        for (int i = 0; i < 8; i++) Assert.Equal(0u, g.S.R32(Pid + (ulong)i * 4));
        Assert.Equal(0, g.S.R16(Pid + 32) & 1);
        Assert.DoesNotContain(g.Transitions, t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.ExternalInterrupt);
    }

    [Fact]
    public void OtherVectorsExitAsExternalInterrupts()
    {
        var g = Posted();
        Post(g, 0x51);
        g.Guest(a => a.hlt());
        g.Cpu.RaiseInterrupt(0xF3);
        g.Launch();
        Assert.Equal(VmxExitReason.ExternalInterrupt, g.ExitReason);
        Assert.Equal(0x8000_00F3UL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(1, g.S.R16(Pid + 32) & 1);                 // descriptor untouched
        Assert.Equal(1u << (0x51 & 31), g.S.R32(Pid + 8));
    }

    [Fact]
    public void GuestSelfNotificationThroughItsLocalApicWakesHlt()
    {
        var g = Posted();
        g.S.W64(Sys.Pdpt + 3 * 8, 0xC000_0000UL | 0x80 | 0x10 | 0x3); // map 3..4 GiB (the xAPIC page)
        Post(g, 0x77);
        g.S.W8(Pid + 32, 0);
        var after = new Label();
        var l = g.Guest(a =>
        {
            a.mov(rdi, unchecked((long)0xFEE0_0000UL));
            a.mov(__dword_ptr[rdi + 0xF0], 0x1FF);              // software-enable the physical APIC
            a.mov(__dword_ptr[rdi + 0x300], 0x4_0000 | Notify); // fixed IPI to self with the notification vector
            a.hlt();
            after = a.CreateLabel(); a.Label(ref after);
            a.hlt();
        });
        g.Launch();
        Assert.Equal(0x77u, g.LastGuestVector);
        // The notification was acknowledged and dismissed by the EOI of posted-interrupt processing.
        Assert.Equal(0u, g.Cpu.Apic.Read(0x100 + (Notify >> 5) * 0x10));
        Assert.Equal(0u, g.Cpu.Apic.Read(0x200 + (Notify >> 5) * 0x10));
    }

    [Fact]
    public void NotificationArrivingWhileTheGuestIsHaltedWakesIt()
    {
        var g = Posted();
        Post(g, 0x58);
        var after = new Label();
        var l = g.Guest(a => { a.hlt(); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Cpu.PostEvent(g.Cpu.Cycles + 50_000, nmi: false, vector: Notify); // long after the guest halted
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0x58u, g.LastGuestVector);
        Assert.Equal(l(after), FrameRip(g)); // HLT ended by the virtual interrupt, not by an exit
        Assert.True(g.Cpu.Cycles >= 50_000);
    }

    [Fact]
    public void EmptyPirLeavesRviUnchanged()
    {
        var g = Posted();
        g.W(VmcsField.GuestRflags, 2);
        g.W(VmcsField.GuestInterruptStatus, 0x23);
        g.Guest(a => { a.nop(); a.cpuid(); });
        g.Cpu.RaiseInterrupt(Notify);
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0x23UL, g.R(VmcsField.GuestInterruptStatus));
    }
}
