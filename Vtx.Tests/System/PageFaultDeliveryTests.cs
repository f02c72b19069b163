using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// #PF delivery in IA-32e mode (SDM Vol. 3A, 6.15 "Interrupt 14", 4.7 error code): the error code
/// (P, W/R, U/S), CR2, the faulting RIP, and the double-fault rules that involve page faults
/// (Table 6-5: #PF while delivering #PF is #DF; #PF while delivering a contributory exception is
/// handled serially).
/// </summary>
public class PageFaultDeliveryTests
{
    private const uint F = (uint)Sys.Scratch;
    private const ulong Unmapped = 0x20_0000; // PD entry 1 cleared: 2 MiB .. 4 MiB not present
    private const ulong Handler = Sys.Code + 0x800;

    private static Sys Machine(int cpl)
    {
        var s = new Sys();
        s.EnterLong(cpl);
        s.W64(Sys.Pd + 8, 0);
        s.Cpu.Cr3Value = Sys.Pml4; // drop cached translations
        s.Load(a =>
        {
            LongDeliveryTests.SaveFrame64(a, 3);
            a.mov(rax, cr2);
            a.mov(__qword_ptr[F + 0x70], rax);
            a.hlt();
        }, Handler);
        s.Gate64(14, Handler);
        return s;
    }

    [Theory]
    [InlineData(0, false, 0u)]
    [InlineData(0, true, 2u)]
    [InlineData(3, false, 4u)]
    [InlineData(3, true, 6u)]
    public void NotPresentPageFaultPushesErrorCodeAndSetsCr2(int cpl, bool write, uint error)
    {
        var s = Machine(cpl);
        Label bad = default;
        var at = s.Load(a =>
        {
            bad = a.CreateLabel();
            a.mov(rbx, Unmapped + 0x123);
            a.Label(ref bad);
            if (write) a.mov(__qword_ptr[rbx], rax); else a.mov(rax, __qword_ptr[rbx]);
        });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(error, s.R64(F));
        Assert.Equal(at(bad), s.R64(F + 8));               // the faulting MOV
        Assert.Equal(Unmapped + 0x123, s.R64(F + 0x70));    // CR2
        Assert.Equal(new[] { (14, (uint?)error) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
    }

    [Fact]
    public void PageFaultWhileDeliveringPageFaultIsDoubleFault()
    {
        var s = Machine(0);
        s.Gate64(14, Handler, ist: 2);
        s.Gate64(8, Handler, ist: 1);
        s.W64(Sys.TssBase + 0x2C, Unmapped + 0x1000);    // IST2 on a not-present page
        s.Load(a => a.mov(rax, __qword_ptr[Unmapped]));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(new[] { (8, (uint?)0) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
        Assert.Equal(Unmapped + 0x1000 - 8, s.R64(F + 0x70)); // CR2: the first push of the #PF frame
    }

    [Fact]
    public void PageFaultWhileDeliveringGpIsHandledSerially()
    {
        var s = Machine(0);
        s.Gate64(13, Handler, ist: 2);
        s.Gate64(14, Handler, ist: 1);
        s.W64(Sys.TssBase + 0x2C, Unmapped + 0x1000);
        s.Load(a => { a.mov(rax, 0x8000_0000_0000_0000UL); a.mov(rax, __qword_ptr[rax]); });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(new[] { (14, (uint?)2) }, s.Events.Select(e => ((int)e.Vector, e.Error))); // supervisor write, not present
        Assert.Equal(Sys.Code + 10, s.R64(F + 8));
    }

    [Fact]
    public void PageFaultOnTheIdtDuringDeliveryOfPageFaultShutsDownWhenDoubleFaultAlsoFaults()
    {
        // IDT on a not-present page: every delivery faults, #PF → #DF → shutdown.
        var s = Machine(0);
        s.Cpu.Idtr = new DescriptorTableRegister(Unmapped, 0xFFF);
        s.Load(a => a.mov(rax, __qword_ptr[Unmapped]));
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.Shutdown, s.Run(100).Reason);
    }
}
