using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Tests.Vmx;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// VMX state is per processor (SDM Vol. 3C, 24.1: each logical processor has its own VMX operation):
/// processor 0 runs a hypervisor and its guest while processor 1 is not in VMX operation and sends
/// it INIT (VM exit 3 in non-root, blocked in root until the next entry, 25.2/26.6.1), SIPI to a guest
/// in the wait-for-SIPI activity state (exit 4 with the vector, 27.2.1), and a posted-interrupt
/// notification IPI after writing the descriptor in memory (29.6).
/// </summary>
public class SmpVmxTests
{
    private const ulong ApCode = 0x10_0000, Flag = 0x1F_0000;

    /// <summary>Processor 1, outside VMX, runs <paramref name="body"/> in flat 64-bit mode at 1 MiB.</summary>
    private static void StartAp(VmxGuest g, Action<Assembler> body)
    {
        var ap = g.S.M.Cpus[1];
        Assert.True(ap.IsWaitingForSipi);
        g.S.M.WriteMemory(ApCode, Support.Guest.Assemble(body, ApCode));
        ap.SetFlatMode(64);
        ap.Rip = ApCode;
        ap[Gpr.Rsp] = 0x1E_0000;
    }

    private static void SendToApic0(Assembler a, int icrLow)
    {
        a.mov(rbx, unchecked((long)0xFEE0_0000UL));
        a.mov(__dword_ptr[rbx + 0x310], 0);         // APIC ID 0, physical
        a.mov(__dword_ptr[rbx + 0x300], icrLow);
    }

    [Fact]
    public void InitFromAnotherProcessorToAGuestCausesExit3()
    {
        var g = new VmxGuest(cpus: 2);
        Label spin = default;
        var at = g.Guest(a =>
        {
            spin = a.CreateLabel();
            a.mov(__qword_ptr[(long)Flag], 1);
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
        });
        StartAp(g, a =>
        {
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.cmp(__qword_ptr[(long)Flag], 1);
            a.jne(wait);
            SendToApic0(a, 0xC500);                       // INIT, level assert, physical APIC 0
            a.mov(__dword_ptr[rbx + 0x300], 0x8500);      // INIT de-assert: no effect
            a.hlt();
        });
        var r = g.Launch(1_000_000, stopAtExit: true);
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal(0, r.CpuIndex);
        Assert.Equal(VmxExitReason.InitSignal, g.ExitReason);
        ulong rip = g.R(VmcsField.GuestRip);
        Assert.True(rip == at(spin) || rip == at(spin) + 2, $"guest RIP {rip:X}"); // at a boundary of the spin loop
        // Processor 1 never entered VMX operation and was not disturbed; processor 0 still is in VMX root.
        Assert.False(g.S.M.Cpus[1].InVmxOperation);
        Assert.True(g.Cpu.InVmxOperation);
        Assert.True(g.S.M.Cpus[1].IsHalted);
    }

    [Fact]
    public void InitToAProcessorInVmxRootIsBlockedUntilItsNextVmEntry()
    {
        var g = new VmxGuest(cpus: 2);
        g.Guest(a => { a.nop(); a.hlt(); });
        // The hypervisor waits for processor 1's flag in root operation, then launches.
        g.S.Load(a =>
        {
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.cmp(__qword_ptr[(long)Flag], 1);
            a.jne(wait);
            a.mov(__qword_ptr[(long)Flag], 2);
            a.vmlaunch();
            a.hlt();
        });
        StartAp(g, a =>
        {
            SendToApic0(a, 0x4500);                        // INIT, physical APIC 0, edge
            a.mov(__qword_ptr[(long)Flag], 1);
            a.hlt();
        });
        var r = g.Launch(1_000_000, stopAtExit: true);
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal(2UL, g.S.R64(Flag));                  // processor 0 kept running root code after the INIT
        Assert.Equal(VmxExitReason.InitSignal, g.ExitReason);
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip)); // the pending INIT exits before the first guest instruction
    }

    [Fact]
    public void SipiFromAnotherProcessorEndsWaitForSipiWithExit4AndItsVector()
    {
        var g = new VmxGuest(cpus: 2);
        g.Guest(a => { a.nop(); a.hlt(); });
        g.W(VmcsField.GuestActivityState, 3);
        StartAp(g, a =>
        {
            var delay = a.CreateLabel();
            a.mov(ecx, 300);                               // let processor 0 enter the guest first
            a.Label(ref delay);
            a.dec(ecx);
            a.jnz(delay);
            SendToApic0(a, 0x46A7);                        // start-up, vector A7h
            a.hlt();
        });
        var r = g.Launch(1_000_000, stopAtExit: true);
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal(VmxExitReason.StartupIpi, g.ExitReason);
        Assert.Equal(0xA7UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(3UL, g.R(VmcsField.GuestActivityState));
        Assert.True(g.S.M.Cpus[1].IsHalted);
    }

    [Fact]
    public void APostedInterruptNotificationFromAnotherProcessorIsProcessedWithoutAnExit()
    {
        const byte Notify = 0xF2;
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, pin: PinBasedControls.ExternalInterruptExiting | PinBasedControls.ProcessPostedInterrupts, cpus: 2);
        g.W(VmcsField.PostedInterruptNotificationVector, Notify);
        g.W(VmcsField.PostedInterruptDescriptorAddress, ApicVirtGuest.Pid);
        g.Guest(a => { a.hlt(); a.hlt(); });
        const int V = 0x58;
        StartAp(g, a =>
        {
            var delay = a.CreateLabel();
            a.mov(ecx, 300);
            a.Label(ref delay);
            a.dec(ecx);
            a.jnz(delay);
            // Post vector 58h: PIR bit, then ON (bit 256), then the notification IPI (29.6).
            a.@lock.or(__dword_ptr[(long)ApicVirtGuest.Pid + (V >> 5) * 4], 1 << (V & 31));
            a.@lock.or(__byte_ptr[(long)ApicVirtGuest.Pid + 32], 1);
            SendToApic0(a, Notify);
            a.hlt();
        });
        g.Launch(1_000_000);
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);       // from the guest's 58h handler
        Assert.Equal((uint)V, g.LastGuestVector);
        Assert.Equal(0, g.S.R16(ApicVirtGuest.Pid + 32) & 1);  // ON cleared
        Assert.Equal(0u, g.S.R32(ApicVirtGuest.Pid + (V >> 5) * 4)); // PIR moved into VIRR
        Assert.DoesNotContain(g.Transitions, t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.ExternalInterrupt);
        Assert.Equal(0u, g.Cpu.Apic.Read(0x100 + (Notify >> 5) * 0x10)); // the notification was EOI'd
    }
}
