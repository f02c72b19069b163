using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// An APIC pass-through guest (issue 11, deviation 7): no external-interrupt exiting, no APIC
/// virtualization, so the guest owns the xAPIC. It programs the APIC timer itself (SDM Vol. 3A
/// 11.5.4, periodic mode), sets IF and HLT-loops; each timer interrupt is delivered through the
/// guest IDT (SDM Vol. 3C 25.2: with "external-interrupt exiting" = 0 interrupts are delivered
/// normally in non-root operation; 26.6.1/HLT activity: an unblocked interrupt wakes the guest),
/// the handler counts it and EOIs (SDM Vol. 3A 11.8.5), and after N interrupts the guest VMCALLs.
/// </summary>
public class ApicPassThroughTests
{
    private const ulong ApicMmio = 0xFEE0_0000;
    private const uint Initial = 4000, Vector = 0x40; // a period well above the set-up (MMIO writes, page walks, VM entry)

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void GuestOwningTheXapicTakesItsOwnPeriodicTimerInterrupts(int n)
    {
        var g = new VmxGuest();
        // Map 3..4 GiB with a 1-GiB uncached page so the guest (sharing the host's tables) reaches the APIC page.
        g.S.W64(Sys.Pdpt + 3 * 8, 0xC000_0000UL | 0x80 | 0x10 | 0x3);
        g.SetGuestHandler((int)Vector, a =>
        {
            a.inc(ebx);
            a.mov(__dword_ptr[rdi + 0xB0], 0); // EOI
            a.iretq();
        });
        g.Guest(a =>
        {
            var wait = a.CreateLabel();
            a.mov(rdi, unchecked((long)ApicMmio));
            a.mov(__dword_ptr[rdi + 0xF0], 0x1FF);              // SVR: APIC software-enabled, spurious vector FFh
            a.mov(__dword_ptr[rdi + 0x3E0], 0xB);               // divide by 1
            a.mov(__dword_ptr[rdi + 0x320], 0x2_0000 | Vector); // LVT timer: periodic, unmasked
            a.xor(ebx, ebx);
            a.mov(__dword_ptr[rdi + 0x380], Initial);           // start
            a.sti();
            a.Label(ref wait);
            a.hlt();
            a.cmp(ebx, n);
            a.jb(wait);
            a.cli();
            a.vmcall();
        });
        g.Controls();
        // A cycle limit too: a guest that never finishes must fail the test, not hang it.
        g.S.W32(Sys.Scratch + 0x200, 0xFFFF_FFFF);
        g.Cpu.Rip = Sys.Code;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        ulong start = g.Cpu.Cycles;
        var r = g.S.M.Run(new RunLimits { MaxInstructions = 10_000, MaxCycles = 1_000_000 });
        Assert.True(g.R(VmcsField.ExitReason) == (ulong)VmxExitReason.Vmcall,
            $"run {r}, RIP 0x{g.Cpu.Rip:X}, RBX {g.Cpu[Gpr.Rbx]}, non-root {g.Cpu.InVmxNonRoot}, halted {g.Cpu.IsHalted}, guest vector 0x{g.LastGuestVector:X}, exit {g.R(VmcsField.ExitReason):X}, events {string.Join(";", g.S.Events)}, transitions {string.Join(";", g.Transitions)}");
        Assert.Equal((ulong)VmxExitReason.Vmcall, g.R(VmcsField.ExitReason) & 0xFFFF);
        Assert.Equal((ulong)n, g.Cpu[Gpr.Rbx]);
        Assert.Equal(0xFFFF_FFFFu, g.LastGuestVector); // no exception handler ran
        // Periodic: n interrupts take about n * Initial cycles (divide by 1), not more than n + 1 periods.
        Assert.InRange(g.Cpu.Cycles - start, (ulong)n * Initial, (ulong)(n + 1) * Initial);
        // The host's HLT after the exit (IF = 0) ends the run though the periodic timer keeps running.
        Assert.Equal(StopReason.Halted, r.Reason);
    }
}
