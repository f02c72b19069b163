using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// An interrupt or exception from CPL 3 to a CPL-0 handler switches to the TSS's RSP0 stack and
/// writes the frame there with the new privilege's rights: the kernel stack may be a supervisor-only
/// page (U/S = 0), as every protected-mode OS has it and Linux's page-table isolation requires (its
/// entry stack is a supervisor page of the user page tables). SDM Vol. 3A, 6.14.2 (64-bit mode stack
/// frame: the new stack is the RSP0 or IST stack) and 4.6 (user-mode accesses are those made at CPL 3;
/// the frame is written after the switch to the handler's privilege level).
/// </summary>
public class SupervisorStackDeliveryTests
{
    private const uint F = (uint)Sys.Scratch;
    private const ulong SupervisorPage = 0x20_0000, KernelStackTop = 0x30_0000;

    /// <summary>A long-mode machine at CPL 3 whose RSP0 stack is in a supervisor-only 2-MiB page (2-4 MiB).</summary>
    private static Sys UserWithSupervisorStack()
    {
        var s = new Sys(memoryMiB: 8);
        s.EnterLong(cpl: 3);
        s.W64(Sys.Pd + 8, SupervisorPage | 0x83);    // present, writable, supervisor, 2 MiB
        s.W64(Sys.TssBase + 4, KernelStackTop);       // RSP0
        return s;
    }

    [Fact]
    public void SoftwareInterruptFromCpl3WritesItsFrameOnASupervisorOnlyStack()
    {
        var s = UserWithSupervisorStack();
        Iced.Intel.Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.mov(rsp, Sys.UserStack - 0x40);
            a.@int(0x41);
            a.Label(ref h);
            LongDeliveryTests.SaveFrame64(a, 5);
            a.hlt();
        });
        s.Gate64(0x41, at(h), dpl: 3);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0, s.Cpu.Cpl);
        Assert.Equal(KernelStackTop - 40, s.R64(F + 0x60));
        Assert.Equal(at(h), s.R64(F));                              // return RIP: after INT 41h
        Assert.Equal((ulong)(Sys.UCode64 | 3), s.R64(F + 8));
        Assert.Equal(Sys.UserStack - 0x40, s.R64(F + 24));
        Assert.Equal((ulong)(Sys.UData | 3), s.R64(F + 32));
    }

    [Fact]
    public void UserPageFaultIsDeliveredOnASupervisorOnlyStackWithTheUserErrorCode()
    {
        var s = UserWithSupervisorStack();
        Iced.Intel.Label h = default, faulting = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            faulting = a.CreateLabel();
            a.mov(rsp, Sys.UserStack - 0x40);
            a.Label(ref faulting);
            a.mov(__qword_ptr[SupervisorPage + 0x100], rax);   // CPL 3 write to a supervisor page
            a.hlt();
            a.Label(ref h);
            LongDeliveryTests.SaveFrame64(a, 6);
            a.hlt();
        });
        s.Gate64(14, at(h), dpl: 0);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(KernelStackTop - 48, s.R64(F + 0x60));
        Assert.Equal(7UL, s.R64(F));                                // P | W/R | U/S: the faulting access was a user write
        Assert.Equal(at(faulting), s.R64(F + 8));
        Assert.Equal((ulong)(Sys.UCode64 | 3), s.R64(F + 16));
        Assert.Equal(SupervisorPage + 0x100, s.Cpu.Cr2Value);
        Assert.Single(s.Events);
    }

    [Fact]
    public void FaultWritingTheNewStackIsASupervisorAccess()
    {
        // RSP0 in a read-only supervisor page: the first push (SS, at RSP0 - 8) faults. The #PF goes
        // through IST2 (a writable stack) and its error code says P | W/R with U/S = 0: the access
        // was made at the handler's privilege, not the interrupted program's.
        var s = UserWithSupervisorStack();
        s.W64(Sys.Pd + 8, SupervisorPage | 0x81);    // present, read-only, supervisor
        s.Cpu.Cr0Value |= Cr0.WP;                     // supervisor writes honour read-only pages
        Iced.Intel.Label h = default, pf = default, intN = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            pf = a.CreateLabel();
            intN = a.CreateLabel();
            a.Label(ref intN);
            a.@int(0x41);
            a.hlt();
            a.Label(ref h);
            a.hlt();
            a.Label(ref pf);
            LongDeliveryTests.SaveFrame64(a, 6);
            a.hlt();
        });
        s.Gate64(0x41, at(h), dpl: 3);
        s.Gate64(14, at(pf), dpl: 0, ist: 2);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(3UL, s.R64(F));                                // P | W/R, U/S = 0
        Assert.Equal(KernelStackTop - 8, s.Cpu.Cr2Value);
        Assert.Equal(at(intN), s.R64(F + 8));                       // a fault during INT n points at it
        Assert.Equal((ulong)(Sys.UCode64 | 3), s.R64(F + 16));
        Assert.Equal(Sys.IstStack2 - 48, s.R64(F + 0x60));
        Assert.Equal([(byte)14], s.Events.Select(e => e.Vector));
    }
}
