using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// A guest set up for APIC virtualization (SDM Vol. 3C, chapter 29): "use TPR shadow" with a
/// virtual-APIC page at <see cref="VApic"/>, MSR bitmaps all zero (no RDMSR/WRMSR exits),
/// external-interrupt exiting with acknowledge-on-exit, RFLAGS.IF = 1, and guest handlers for every
/// vector that record the vector at Scratch+0x200 and exit with CPUID.
/// </summary>
internal static class ApicVirtGuest
{
    public const ulong VApic = 0x7_0000, AccessPage = 0x7_1000, Pid = 0x7_2000;
    public const uint Vid = SecondaryProcessorBasedControls.VirtualInterruptDelivery;
    public const uint X2 = SecondaryProcessorBasedControls.VirtualizeX2ApicMode;
    public const uint Arv = SecondaryProcessorBasedControls.ApicRegisterVirtualization;
    public const uint Vaa = SecondaryProcessorBasedControls.VirtualizeApicAccesses;

    public static VmxGuest Create(uint proc2, uint pin = PinBasedControls.ExternalInterruptExiting, uint proc = 0, byte vtpr = 0, ulong threshold = 0, CpuModel? model = null, int cpus = 1)
    {
        var g = new VmxGuest(model, cpus);
        g.Controls(pin: pin, proc: PrimaryProcessorBasedControls.UseTprShadow | PrimaryProcessorBasedControls.UseMsrBitmaps | proc, proc2: proc2,
                   exit: ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit);
        g.W(VmcsField.VirtualApicAddress, VApic);
        g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap);
        g.W(VmcsField.TprThreshold, threshold);
        g.W(VmcsField.ApicAccessAddress, AccessPage);
        g.W(VmcsField.GuestRflags, 0x202);
        g.S.W32(VApic + 0x80, vtpr);
        for (int v = 16; v < 256; v++) { int vec = v; g.SetGuestHandler(vec, a => { a.mov(__dword_ptr[Sys.Scratch + 0x200], vec); a.cpuid(); }); }
        return g;
    }

    public static void SetBit(VmxGuest g, ulong baseOffset, int vector) =>
        g.S.W32(VApic + baseOffset + (ulong)(vector >> 5) * 16, g.S.R32(VApic + baseOffset + (ulong)(vector >> 5) * 16) | 1u << (vector & 31));

    public static bool Bit(VmxGuest g, ulong baseOffset, int vector) =>
        ((g.S.R32(VApic + baseOffset + (ulong)(vector >> 5) * 16) >> (vector & 31)) & 1) != 0;

    /// <summary>The return RIP of the interrupt frame on the guest stack (the handler has pushed nothing).</summary>
    public static ulong FrameRip(VmxGuest g) => g.S.R64(g.R(VmcsField.GuestRsp));
}

/// <summary>
/// Virtual-interrupt delivery, TPR/PPR/EOI/self-IPI virtualization, virtualized x2APIC MSRs and HLT
/// (SDM Vol. 3C, 29.1, 29.2, 29.5; 26.3.2.5 for VM entry, 27.3.3 for the guest interrupt status).
/// </summary>
public class ApicVirtTests
{
    [Fact]
    public void PendingVirtualInterruptIsDeliveredThroughTheGuestIdtAtEntry()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        ApicVirtGuest.SetBit(g, 0x200, 0x31);
        ApicVirtGuest.SetBit(g, 0x200, 0x22);
        g.W(VmcsField.GuestInterruptStatus, 0x31);
        g.Guest(a => { a.nop(); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0x31u, g.LastGuestVector);
        Assert.Equal(VmxGuest.GuestCode, ApicVirtGuest.FrameRip(g)); // delivered before the first instruction
        // 29.2.2: VISR[31h] set, SVI = 31h, VPPR = 30h, VIRR[31h] cleared, RVI = 22h (the next VIRR bit).
        Assert.True(ApicVirtGuest.Bit(g, 0x100, 0x31));
        Assert.False(ApicVirtGuest.Bit(g, 0x200, 0x31));
        Assert.Equal(0x30u, g.S.R32(ApicVirtGuest.VApic + 0xA0));
        Assert.Equal(0x3122UL, g.R(VmcsField.GuestInterruptStatus));
    }

    [Fact]
    public void VirtualTprHoldsTheInterruptUntilMovToCr8LowersIt()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, vtpr: 0x40);
        ApicVirtGuest.SetBit(g, 0x200, 0x35);
        g.W(VmcsField.GuestInterruptStatus, 0x35);
        var after = new Label();
        var l = g.Guest(a => { a.nop(); a.mov(eax, 2); a.mov(cr8, rax); after = a.CreateLabel(); a.Label(ref after); a.nop(); a.hlt(); });
        g.Launch();
        Assert.Equal(0x35u, g.LastGuestVector);
        Assert.Equal(l(after), ApicVirtGuest.FrameRip(g)); // right after the MOV to CR8 (TPR virtualization, 29.1.2)
        Assert.Equal(0x20u, g.S.R32(ApicVirtGuest.VApic + 0x80));
    }

    [Fact]
    public void WithVirtualInterruptDeliveryLoweringVtprBelowTheThresholdDoesNotExit()
    {
        // 29.1.2: with virtual-interrupt delivery, TPR virtualization is PPR virtualization and evaluation only.
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, vtpr: 0x90, threshold: 8);
        g.Guest(a => { a.mov(eax, 1); a.mov(cr8, rax); a.mov(rbx, cr8); a.cpuid(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(1UL, g.Cpu[Gpr.Rbx]);
        Assert.Equal(0x10u, g.S.R32(ApicVirtGuest.VApic + 0xA0)); // VPPR = VTPR
    }

    [Fact]
    public void RflagsIfAndTheStiShadowHoldOffVirtualInterruptDelivery()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        ApicVirtGuest.SetBit(g, 0x200, 0x41);
        g.W(VmcsField.GuestInterruptStatus, 0x41);
        g.W(VmcsField.GuestRflags, 2);
        var after = new Label();
        var l = g.Guest(a => { a.nop(); a.nop(); a.sti(); a.nop(); after = a.CreateLabel(); a.Label(ref after); a.nop(); a.hlt(); });
        g.Launch();
        Assert.Equal(0x41u, g.LastGuestVector);
        Assert.Equal(l(after), ApicVirtGuest.FrameRip(g)); // not before STI, not in its shadow: after the NOP that follows it
    }

    [Fact]
    public void HltWithARecognizedVirtualInterruptWakesAndDelivers()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, vtpr: 0x50);
        ApicVirtGuest.SetBit(g, 0x200, 0x61);
        g.W(VmcsField.GuestInterruptStatus, 0x61);
        var after = new Label();
        var l = g.Guest(a => { a.hlt(); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        // Entry in the HLT activity state: the interrupt is recognized at entry and ends HLT.
        g.W(VmcsField.GuestActivityState, 1);
        g.Launch();
        Assert.Equal(0x61u, g.LastGuestVector);
        Assert.Equal(VmxGuest.GuestCode, ApicVirtGuest.FrameRip(g));
        Assert.Equal(0UL, g.R(VmcsField.GuestActivityState));
    }

    [Fact]
    public void HltWithNothingRecognizedStaysHalted()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, vtpr: 0x70);
        ApicVirtGuest.SetBit(g, 0x200, 0x61);
        g.W(VmcsField.GuestInterruptStatus, 0x61); // class 6 is not above VTPR class 7
        g.Guest(a => a.hlt());
        var r = g.Launch();
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(g.Cpu.InVmxNonRoot && g.Cpu.IsHalted);
        Assert.Equal(0x61, g.Cpu.RequestingVirtualInterrupt);
    }

    [Fact]
    public void X2ApicEoiIsVirtualizedAndTheNextInterruptFollows()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        // 71h is in service; 52h waits (class 5 below VPPR class 7).
        ApicVirtGuest.SetBit(g, 0x100, 0x71);
        ApicVirtGuest.SetBit(g, 0x200, 0x52);
        g.W(VmcsField.GuestInterruptStatus, 0x71_52);
        var after = new Label();
        var l = g.Guest(a => { a.nop(); a.mov(ecx, 0x80B); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(0x52u, g.LastGuestVector);
        Assert.Equal(l(after), ApicVirtGuest.FrameRip(g));
        Assert.False(ApicVirtGuest.Bit(g, 0x100, 0x71));
        Assert.Equal(0x52_00UL, g.R(VmcsField.GuestInterruptStatus));
    }

    [Fact]
    public void EoiWithItsEoiExitBitSetIsATrapLikeExit45()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        ApicVirtGuest.SetBit(g, 0x100, 0x71);
        g.W(VmcsField.GuestInterruptStatus, 0x71_00);
        g.W(VmcsField.EoiExitBitmap1, 1UL << (0x71 - 64));
        var after = new Label();
        var l = g.Guest(a => { a.mov(ecx, 0x80B); a.xor(eax, eax); a.xor(edx, edx); a.wrmsr(); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.VirtualizedEoi, g.ExitReason);
        Assert.Equal(0x71UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(l(after), g.R(VmcsField.GuestRip));
        Assert.Equal(0UL, g.R(VmcsField.GuestInterruptStatus));
    }

    [Fact]
    public void X2ApicSelfIpiIsVirtualized()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        var after = new Label();
        var l = g.Guest(a => { a.mov(ecx, 0x83F); a.mov(eax, 0x45); a.xor(edx, edx); a.wrmsr(); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(0x45u, g.LastGuestVector);
        Assert.Equal(l(after), ApicVirtGuest.FrameRip(g));
        Assert.True(ApicVirtGuest.Bit(g, 0x100, 0x45));
    }

    [Fact]
    public void X2ApicSelfIpiBelowSixteenIsAnApicWriteExit()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        var after = new Label();
        var l = g.Guest(a => { a.mov(ecx, 0x83F); a.mov(eax, 7); a.xor(edx, edx); a.wrmsr(); after = a.CreateLabel(); a.Label(ref after); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ApicWrite, g.ExitReason);
        Assert.Equal(0x3F0UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(l(after), g.R(VmcsField.GuestRip));
        Assert.Equal(7u, g.S.R32(ApicVirtGuest.VApic + 0x3F0));
    }

    [Fact]
    public void X2ApicTprWriteBelowThresholdExits43AndReadsBack()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.X2, pin: 0, vtpr: 0x90, threshold: 6);
        var after = new Label();
        var l = g.Guest(a =>
        {
            a.mov(ecx, 0x808); a.rdmsr(); a.mov(ebx, eax);   // EBX = VTPR
            a.mov(eax, 0x5A); a.xor(edx, edx); a.wrmsr();    // VTPR[7:4] = 5 < 6
            after = a.CreateLabel(); a.Label(ref after); a.hlt();
        });
        g.Launch();
        Assert.Equal(VmxExitReason.TprBelowThreshold, g.ExitReason);
        Assert.Equal(l(after), g.R(VmcsField.GuestRip));
        Assert.Equal(0x90UL, g.Cpu[Gpr.Rbx]);
        Assert.Equal(0x5AUL, g.S.R64(ApicVirtGuest.VApic + 0x80));
    }

    [Fact]
    public void X2ApicTprWriteWithReservedBitsIsGp()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.X2, pin: 0);
        g.Guest(a => { a.mov(ecx, 0x808); a.mov(eax, 0x100); a.xor(edx, edx); a.wrmsr(); a.hlt(); });
        g.Launch();
        Assert.Equal(13u, g.LastGuestVector);
    }

    [Fact]
    public void RegisterVirtualizationReadsX2ApicMsrsFromTheVirtualApicPage()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2 | ApicVirtGuest.Arv, vtpr: 0x30);
        g.S.W32(ApicVirtGuest.VApic + 0x20, 0x1234_5678);
        g.Guest(a => { a.mov(ecx, 0x802); a.rdmsr(); a.mov(ebx, eax); a.mov(ecx, 0x80A); a.rdmsr(); a.mov(esi, eax); a.cpuid(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
        Assert.Equal(0x1234_5678UL, g.Cpu[Gpr.Rbx]);
        Assert.Equal(0x30UL, g.Cpu[Gpr.Rsi]); // VPPR = VTPR (SVI = 0), written by PPR virtualization at entry
    }

    [Fact]
    public void UnvirtualizedX2ApicMsrBehavesNormally()
    {
        // 839h (current count) is not virtualized: with the local APIC in xAPIC mode RDMSR raises #GP.
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2 | ApicVirtGuest.Arv);
        g.Guest(a => { a.mov(ecx, 0x839); a.rdmsr(); a.hlt(); });
        g.Launch();
        Assert.Equal(13u, g.LastGuestVector);
    }

    [Fact]
    public void MsrBitmapBitStillExitsBeforeVirtualization()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2);
        g.S.W8(VmxGuest.MsrBitmap + 2048 + (0x80B >> 3), 1 << (0x80B & 7)); // write bitmap, low MSRs
        var at = new Label();
        var l = g.Guest(a => { a.mov(ecx, 0x80B); a.xor(eax, eax); a.xor(edx, edx); at = a.CreateLabel(); a.Label(ref at); a.wrmsr(); a.hlt(); });
        g.Launch();
        Assert.Equal(VmxExitReason.Wrmsr, g.ExitReason);
        Assert.Equal(l(at), g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void InterruptWindowExitingSuppressesRecognition()
    {
        // 29.2.1: with "interrupt-window exiting" = 1 no virtual interrupt is recognized; the window exits instead.
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, proc: PrimaryProcessorBasedControls.InterruptWindowExiting);
        ApicVirtGuest.SetBit(g, 0x200, 0x31);
        g.W(VmcsField.GuestInterruptStatus, 0x31);
        g.Guest(a => a.hlt());
        g.Launch();
        Assert.Equal(VmxExitReason.InterruptWindow, g.ExitReason);
        Assert.Equal(0x31UL, g.R(VmcsField.GuestInterruptStatus));
    }

    [Fact]
    public void VirtualInterruptComesAfterAnNmiAndBeforeAnExternalInterrupt()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, pin: PinBasedControls.ExternalInterruptExiting | PinBasedControls.NmiExiting);
        ApicVirtGuest.SetBit(g, 0x200, 0x31);
        g.W(VmcsField.GuestInterruptStatus, 0x31);
        g.Guest(a => a.hlt());
        // Both held pending in the host (IF = 0, NMI blocked) until VM entry loads the guest's blocking state.
        g.Cpu.NmiBlocked = true;
        g.Cpu.RaiseInterrupt(0x80);
        g.Cpu.RaiseNmi();
        g.Launch(stopAtExit: true);
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);      // the NMI first
        g.Resume();
        // Then the virtual interrupt is delivered, and only then, at the handler's first instruction,
        // does the external interrupt exit (external-interrupt exiting ignores the handler's IF = 0).
        Assert.Equal(VmxExitReason.ExternalInterrupt, g.ExitReason);
        Assert.Equal(0x8000_0080UL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(g.HandlerAddress(0x31), g.R(VmcsField.GuestRip));
        Assert.Equal(VmxGuest.GuestCode, ApicVirtGuest.FrameRip(g));
        Assert.Equal(0x3100UL, g.R(VmcsField.GuestInterruptStatus));
    }
}

/// <summary>
/// The VM-entry checks on the APIC-virtualization controls (SDM Vol. 3C, 26.2.1.1; VMfailValid 7),
/// each by name, and turning the controls off in the capability MSRs.
/// </summary>
public class ApicVirtEntryCheckTests
{
    private static void Fails(string check, VmxGuest g)
    {
        g.Guest(a => a.hlt());
        g.Launch(20);
        Assert.True(g.AtFailStop, $"expected VMfailValid for {check}: {string.Join("; ", g.Transitions)}");
        Assert.Equal(7UL, g.R(VmcsField.VmInstructionError));
        Assert.Equal(check, g.Cpu.LastVmEntryFailure!.Check);
    }

    private static void Enters(VmxGuest g)
    {
        g.Guest(a => a.cpuid());
        g.Launch(20);
        Assert.Equal(VmxExitReason.Cpuid, g.ExitReason);
    }

    [Fact]
    public void VirtualApicAddressMustBeAligned()
    {
        var g = ApicVirtGuest.Create(0, pin: 0);
        g.W(VmcsField.VirtualApicAddress, ApicVirtGuest.VApic + 0x80);
        Fails("control.virtual-apic-address", g);
    }

    [Theory]
    [InlineData(ApicVirtGuest.X2)]
    [InlineData(ApicVirtGuest.Arv)]
    [InlineData(ApicVirtGuest.Vid)]
    public void ApicVirtualizationNeedsTheTprShadow(uint proc2)
    {
        var g = ApicVirtGuest.Create(proc2);
        g.W(VmcsField.PrimaryProcBasedVmExecControls, g.R(VmcsField.PrimaryProcBasedVmExecControls) & ~PrimaryProcessorBasedControls.UseTprShadow);
        Fails("control.tpr-shadow.required", g);
    }

    [Fact]
    public void ApicAccessAddressMustBeAligned()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vaa, pin: 0);
        g.W(VmcsField.ApicAccessAddress, ApicVirtGuest.AccessPage | 0x10);
        Fails("control.apic-access-address", g);
    }

    [Fact]
    public void ApicAccessAddressBeyondMaxPhyAddrFails()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vaa, pin: 0);
        g.W(VmcsField.ApicAccessAddress, 1UL << g.Cpu.Model.PhysicalAddressBits);
        Fails("control.apic-access-address", g);
    }

    [Fact]
    public void ApicAccessesAndX2ApicModeAreExclusive() =>
        Fails("control.apic-virtualization.exclusive", ApicVirtGuest.Create(ApicVirtGuest.Vaa | ApicVirtGuest.X2, pin: 0));

    [Fact]
    public void VirtualInterruptDeliveryNeedsExternalInterruptExiting() =>
        Fails("control.virtual-interrupt-delivery.need-external-interrupt-exiting", ApicVirtGuest.Create(ApicVirtGuest.Vid, pin: 0));

    [Theory]
    [InlineData(0, 0xF2, 0x7_2000, true)]   // without virtual-interrupt delivery
    [InlineData(1, 0x1F2, 0x7_2000, true)]  // notification vector bits 15:8 set
    [InlineData(1, 0xF2, 0x7_2020, true)]   // descriptor not 64-byte aligned
    [InlineData(1, 0xF2, 0x7_2000, false)]  // without acknowledge interrupt on exit
    public void PostedInterruptRequirements(int vid, int vector, long descriptor, bool ack)
    {
        var g = ApicVirtGuest.Create(vid != 0 ? ApicVirtGuest.Vid : 0, pin: PinBasedControls.ExternalInterruptExiting | PinBasedControls.ProcessPostedInterrupts);
        if (!ack) g.W(VmcsField.VmExitControls, g.R(VmcsField.VmExitControls) & ~ExitControls.AcknowledgeInterruptOnExit);
        g.W(VmcsField.PostedInterruptNotificationVector, (ulong)vector);
        g.W(VmcsField.PostedInterruptDescriptorAddress, (ulong)descriptor);
        Fails("control.posted-interrupts", g);
    }

    [Fact]
    public void WithVirtualInterruptDeliveryTheThresholdIsNotChecked()
    {
        // 26.2.1.1: bits 31:4 of the TPR threshold and the VTPR comparison apply only when VID = 0.
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid, vtpr: 0x10, threshold: 0xFFFF_FFFF);
        Enters(g);
    }

    [Fact]
    public void WithApicAccessVirtualizationTheVtprComparisonIsNotMade()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vaa, pin: 0, vtpr: 0x10, threshold: 0xF);
        Enters(g);
    }

    [Fact]
    public void ValidPostedInterruptSetupEnters()
    {
        var g = ApicVirtGuest.Create(ApicVirtGuest.Vid | ApicVirtGuest.X2, pin: PinBasedControls.ExternalInterruptExiting | PinBasedControls.ProcessPostedInterrupts);
        g.W(VmcsField.PostedInterruptNotificationVector, 0xF2);
        g.W(VmcsField.PostedInterruptDescriptorAddress, ApicVirtGuest.Pid + 0x40);
        Enters(g);
    }

    [Fact]
    public void ACpuModelWithoutVirtualInterruptDeliveryRefusesItAndHidesItsFields()
    {
        var d = VmxCapabilities.Default;
        var caps = new VmxCapabilities
        {
            PinBased = d.PinBased with { Allowed1 = d.PinBased.Allowed1 & ~PinBasedControls.ProcessPostedInterrupts },
            SecondaryProcessorBased = d.SecondaryProcessorBased with { Allowed1 = d.SecondaryProcessorBased.Allowed1 & ~(ApicVirtGuest.Vid | ApicVirtGuest.Vaa | ApicVirtGuest.X2 | ApicVirtGuest.Arv) },
        };
        Assert.Empty(caps.Validate());
        Assert.False(caps.Offers(VmxFeature.VirtualInterruptDelivery));
        Assert.False(caps.Offers(VmxFeature.PostedInterrupts));
        Assert.False(caps.Offers(VmxFeature.VirtualizeApicAccesses));
        Assert.False(caps.Supports(VmcsField.GuestInterruptStatus));
        Assert.False(caps.Supports(VmcsField.ApicAccessAddress));
        Assert.True(caps.TryReadMsr(VmxMsr.ProcBasedCtls2, out ulong ctls2));
        Assert.Equal(0UL, (ctls2 >> 32) & (ApicVirtGuest.Vid | ApicVirtGuest.Vaa | ApicVirtGuest.X2 | ApicVirtGuest.Arv));
        var g = new VmxGuest(new CpuModel { Vmx = caps });
        g.Controls(pin: PinBasedControls.ExternalInterruptExiting, proc: PrimaryProcessorBasedControls.UseTprShadow, proc2: ApicVirtGuest.Vid);
        g.W(VmcsField.VirtualApicAddress, ApicVirtGuest.VApic);
        Fails("control.secondary.allowed-settings", g);
    }
}
