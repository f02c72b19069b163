using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// One focused test per named VM-entry check (SDM Vol. 3C, 26.1-26.4, 26.7; VMX.md section 10):
/// a valid VMCS with one field broken, asserting the check's name, its class (VMfailValid 7 for
/// control fields, VMfailValid 8 for host state, VM-entry failure with exit reason 33 and
/// qualification 0/2/4 for guest state), and that a VMfail changes nothing but RFLAGS and the
/// VM-instruction error field while a VM-entry failure changes only the exit reason and
/// qualification (plus loading host state). Also the instruction-level failures of VMLAUNCH and
/// VMRESUME, the MSR-load list failure (reason 34) and the VMX abort.
/// </summary>
public class VmEntryCheckTests
{
    // Non-canonical at 57 bits (and so at 48): base, SYSENTER and guest-RIP fields are checked at the
    // processor's maximum linear-address width, 57 with the model's LA57 (see Canonical57BitFields...).
    private const ulong NonCanonical = 0x0100_0000_0000_0000;
    private const ulong NonCanonical48 = 0x0000_8000_0000_0000; // canonical at 57 bits only
    private const ulong KData = Sys.KData;

    internal static VmxGuest NewGuest(CpuModel? model = null)
    {
        var g = VmxConformance.NewGuest(model);
        g.Guest(a => { a.nop(); a.hlt(); });
        g.W(VmcsField.ExitReason, 0x1234);        // sentinels: a VMfail must not touch them
        g.W(VmcsField.ExitQualification, 0x5678);
        return g;
    }

    private static Dictionary<VmcsField, ulong> Fields(VmxGuest g) => VmcsField.AllFields.ToDictionary(f => f, g.R);

    private static void AssertFieldsUnchangedExcept(Dictionary<VmcsField, ulong> before, VmxGuest g, params VmcsField[] except)
    {
        foreach (var (f, v) in before)
            if (!except.Contains(f)) Assert.True(v == g.R(f), $"{f} changed from 0x{v:X} to 0x{g.R(f):X}");
    }

    /// <summary>Launches; asserts VMfailValid(<paramref name="error"/>) by <paramref name="check"/> and that nothing else changed.</summary>
    internal static VmEntryFailure ExpectVmFail(int error, string check, Action<VmxGuest> breakIt, CpuModel? model = null)
    {
        var g = NewGuest(model);
        breakIt(g);
        var before = Fields(g);
        ulong cr0 = g.Cpu.Cr0Value, cr3 = g.Cpu.Cr3Value, cr4 = g.Cpu.Cr4Value, efer = g.Cpu.EferValue;
        var gprs = Enumerable.Range(0, 16).Select(i => g.Cpu[(Gpr)i]).ToArray();
        g.Launch(20);
        VmxConformance.AssertVmFailValid(g, error, 0x1234, before[VmcsField.GuestRip]);
        var failure = g.Cpu.LastVmEntryFailure;
        Assert.NotNull(failure);
        Assert.Equal(check, failure.Check);
        Assert.Equal(error == 7 ? VmEntryCheckClass.ControlFields : VmEntryCheckClass.HostState, failure.Class);
        Assert.Equal(failure, g.Transitions[0].Failure);
        AssertFieldsUnchangedExcept(before, g, VmcsField.VmInstructionError);
        Assert.False(g.Vmcs.Launched);
        Assert.Equal((cr0, cr3, cr4, efer), (g.Cpu.Cr0Value, g.Cpu.Cr3Value, g.Cpu.Cr4Value, g.Cpu.EferValue));
        Assert.Equal(gprs, Enumerable.Range(0, 16).Select(i => g.Cpu[(Gpr)i]).ToArray());
        Assert.Equal(Sys.KCode64, g.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        return failure;
    }

    internal static VmEntryFailure Control(string check, Action<VmxGuest> breakIt, CpuModel? model = null) => ExpectVmFail(7, check, breakIt, model);

    internal static VmEntryFailure Host(string check, Action<VmxGuest> breakIt, CpuModel? model = null) => ExpectVmFail(8, check, breakIt, model);

    /// <summary>Launches; asserts a VM-entry failure (reason 33 | bit 31) by <paramref name="check"/> with <paramref name="qualification"/>, host state loaded and nothing else changed.</summary>
    internal static VmEntryFailure Guest(string check, Action<VmxGuest> breakIt, uint qualification = 0, CpuModel? model = null)
    {
        var g = NewGuest(model);
        breakIt(g);
        var before = Fields(g);
        g.Launch(20);
        var failure = g.Cpu.LastVmEntryFailure;
        Assert.True(failure != null, $"expected {check}; transitions: {string.Join("; ", g.Transitions)}");
        Assert.Equal(check, failure.Check);
        Assert.Equal(VmEntryCheckClass.GuestState, failure.Class);
        Assert.Equal(qualification, failure.Qualification);
        VmxConformance.AssertEntryFailure(g, 33, qualification);
        Assert.Equal(failure, g.Transitions[0].Failure);
        AssertFieldsUnchangedExcept(before, g, VmcsField.ExitReason, VmcsField.ExitQualification);
        Assert.Equal(Sys.KCode64, g.Cpu.GetSegment(SegmentRegister.Cs).Selector);
        Assert.Equal(Sys.TssSel, g.Cpu.Tr.Selector);
        return failure;
    }

    // ------------------------------------------------------------------ control fields (26.2.1) → VMfailValid(7)

    [Fact]
    public void PinBasedAllowedSettings()
    {
        var f = Control("control.pin-based.allowed-settings", g => g.W(VmcsField.PinBasedVmExecControls, g.R(VmcsField.PinBasedVmExecControls) | PinBasedControls.ProcessPostedInterrupts));
        Assert.Equal(VmcsField.PinBasedVmExecControls, f.Field);
        Assert.Equal("26.2.1.1", f.Section);
    }

    [Fact]
    public void PrimaryAllowedSettings() =>
        Control("control.primary.allowed-settings", g => g.W(VmcsField.PrimaryProcBasedVmExecControls, g.R(VmcsField.PrimaryProcBasedVmExecControls) | 1));

    [Fact]
    public void SecondaryAllowedSettings() =>
        Control("control.secondary.allowed-settings", g => g.Controls(proc2: SecondaryProcessorBasedControls.VirtualizeApicAccesses));

    [Fact]
    public void Cr3TargetCount() => Control("control.cr3-target-count", g => g.W(VmcsField.Cr3TargetCount, 5));

    [Fact]
    public void IoBitmapAAlignment() => Control("control.io-bitmap-a", g =>
    {
        g.Controls(proc: PrimaryProcessorBasedControls.UseIoBitmaps);
        g.W(VmcsField.IoBitmapA, VmxGuest.IoBitmaps + 8);
    });

    [Fact]
    public void IoBitmapBWidth() => Control("control.io-bitmap-b", g =>
    {
        g.Controls(proc: PrimaryProcessorBasedControls.UseIoBitmaps);
        g.W(VmcsField.IoBitmapB, 1UL << g.Cpu.Model.PhysicalAddressBits);
    });

    [Fact]
    public void MsrBitmapAlignment() => Control("control.msr-bitmap", g =>
    {
        g.Controls(proc: PrimaryProcessorBasedControls.UseMsrBitmaps);
        g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap + 0x800);
    });

    [Fact]
    public void VirtualApicAddressAlignment() => Control("control.virtual-apic-address", g =>
    {
        g.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow);
        g.W(VmcsField.VirtualApicAddress, 0x6_4010);
    });

    [Fact]
    public void TprThresholdReservedBits() => Control("control.tpr-threshold.reserved", g =>
    {
        g.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow);
        g.W(VmcsField.VirtualApicAddress, 0x6_4000);
        g.W(VmcsField.TprThreshold, 0x10);
    });

    [Fact]
    public void TprThresholdAboveVtpr()
    {
        Control("control.tpr-threshold.vtpr", g =>
        {
            g.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow);
            g.W(VmcsField.VirtualApicAddress, 0x6_4000);
            g.S.W8(0x6_4080, 0x20); // VTPR[7:4] = 2
            g.W(VmcsField.TprThreshold, 3);
        });
        // Threshold = VTPR[7:4] is allowed.
        var ok = NewGuest();
        ok.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow);
        ok.W(VmcsField.VirtualApicAddress, 0x6_4000);
        ok.S.W8(0x6_4080, 0x20);
        ok.W(VmcsField.TprThreshold, 2);
        ok.Launch(20);
        Assert.Equal(VmxTransitionKind.Entry, ok.Transitions[0].Kind);
    }

    [Fact]
    public void VirtualNmisNeedNmiExiting() =>
        Control("control.virtual-nmis.need-nmi-exiting", g => g.Controls(pin: PinBasedControls.VirtualNmis));

    [Fact]
    public void NmiWindowNeedsVirtualNmis() =>
        Control("control.nmi-window.need-virtual-nmis", g => g.Controls(pin: PinBasedControls.NmiExiting, proc: PrimaryProcessorBasedControls.NmiWindowExiting));

    [Fact]
    public void VpidMustNotBeZero() => Control("control.vpid.nonzero", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableVpid);
        g.W(VmcsField.VirtualProcessorId, 0);
    });

    [Fact]
    public void EptPointerValidity() => Control("control.eptp", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt);
        g.W(VmcsField.EptPointer, 0x1E | 1 << 7); // reserved bit 7
    });

    [Fact]
    public void UnrestrictedGuestNeedsEpt() =>
        Control("control.ept.required", g => g.Controls(proc2: SecondaryProcessorBasedControls.UnrestrictedGuest));

    [Fact]
    public void ExitAllowedSettings() => Control("control.exit.allowed-settings", g =>
        g.W(VmcsField.VmExitControls, g.R(VmcsField.VmExitControls) | ExitControls.LoadPerfGlobalCtrl));

    [Fact]
    public void SavePreemptionTimerNeedsTheTimer() => Control("control.exit.save-preemption-timer", g =>
        g.Controls(exit: ExitControls.HostAddressSpaceSize | ExitControls.SavePreemptionTimerValue));

    [Fact]
    public void ExitMsrStoreAreaAlignment() => Control("control.exit.msr-store-area", g =>
    {
        g.W(VmcsField.VmExitMsrStoreAddress, VmxGuest.MsrArea + 8);
        g.W(VmcsField.VmExitMsrStoreCount, 1);
    });

    [Fact]
    public void ExitMsrLoadAreaEndWithinWidth() => Control("control.exit.msr-load-area", g =>
    {
        // Aligned and starting within MAXPHYADDR, but the list's last byte is beyond it.
        g.W(VmcsField.VmExitMsrLoadAddress, (1UL << g.Cpu.Model.PhysicalAddressBits) - 16);
        g.W(VmcsField.VmExitMsrLoadCount, 2);
    });

    [Fact]
    public void EntryAllowedSettings() => Control("control.entry.allowed-settings", g =>
        g.W(VmcsField.VmEntryControls, g.R(VmcsField.VmEntryControls) | EntryControls.LoadPerfGlobalCtrl));

    [Fact]
    public void EntryToSmmOutsideSmm() => Control("control.entry.smm", g =>
        g.Controls(entry: EntryControls.Ia32eModeGuest | EntryControls.EntryToSmm));

    [Fact]
    public void EntryMsrLoadAreaAlignment() => Control("control.entry.msr-load-area", g =>
    {
        g.W(VmcsField.VmEntryMsrLoadAddress, VmxGuest.MsrArea + 4);
        g.W(VmcsField.VmEntryMsrLoadCount, 1);
    });

    [Fact]
    public void InjectionTypeReserved() => Control("control.injection.type", g => g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0130));

    [Theory]
    [InlineData(0x8000_0203u)] // NMI must be vector 2
    [InlineData(0x8000_0320u)] // hardware exception above 31
    [InlineData(0x8000_0701u)] // other event must be vector 0
    public void InjectionVector(uint info) => Control("control.injection.vector", g => g.W(VmcsField.VmEntryInterruptionInformation, info));

    [Theory]
    [InlineData(0x8000_030Du)] // #GP without its error code
    [InlineData(0x8000_0B06u)] // #UD with an error code
    [InlineData(0x8000_0830u)] // external interrupt with an error code
    public void InjectionDeliverErrorCode(uint info) => Control("control.injection.deliver-error-code", g => g.W(VmcsField.VmEntryInterruptionInformation, info));

    [Fact]
    public void InjectionReservedBits() => Control("control.injection.reserved", g => g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_1306));

    [Fact]
    public void InjectionErrorCodeReservedBits()
    {
        Control("control.injection.error-code-reserved", g =>
        {
            g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0B0D);
            g.W(VmcsField.VmEntryExceptionErrorCode, 0x1_0000);
        });
        // Error codes are 16-bit: bit 15 is allowed (KVM commit 567926cca99b; SDM 26.2.1.3 as corrected).
        var ok = NewGuest();
        ok.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0B0D);
        ok.W(VmcsField.VmEntryExceptionErrorCode, 0x9F00);
        ok.Launch(20);
        Assert.Equal(VmxTransitionKind.Entry, ok.Transitions[0].Kind);
    }

    [Fact]
    public void InjectionInstructionLength() => Control("control.injection.instruction-length", g =>
    {
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0480);
        g.W(VmcsField.VmEntryInstructionLength, 16);
    });

    // ------------------------------------------------------------------ host state (26.2.2-26.2.4) → VMfailValid(8)

    [Fact]
    public void HostCr0FixedBits() => Host("host.cr0.fixed-bits", g => g.W(VmcsField.HostCr0, g.R(VmcsField.HostCr0) & ~Cr0.NE));

    [Fact]
    public void HostCr4FixedBits() => Host("host.cr4.fixed-bits", g => g.W(VmcsField.HostCr4, g.R(VmcsField.HostCr4) & ~Cr4.VMXE));

    /// <summary>
    /// SDM Vol. 3C 26.2.2: the host CR0/CR4 fields must not set a bit not supported in VMX operation;
    /// IA32_VMX_CR0_FIXED1/CR4_FIXED1 bits 63:32 are 0 (A.7, A.8), so any of bits 63:32 set fails (issue 11, 1).
    /// </summary>
    [Theory]
    [InlineData(32)]
    [InlineData(47)]
    [InlineData(63)]
    public void HostCr0AndCr4UpperBitsFailTheHostChecks(int bit)
    {
        Host("host.cr0.fixed-bits", g => g.W(VmcsField.HostCr0, g.R(VmcsField.HostCr0) | 1UL << bit));
        Host("host.cr4.fixed-bits", g => g.W(VmcsField.HostCr4, g.R(VmcsField.HostCr4) | 1UL << bit));
    }

    [Fact]
    public void HostCr3Width() => Host("host.cr3.width", g => g.W(VmcsField.HostCr3, g.R(VmcsField.HostCr3) | 1UL << g.Cpu.Model.PhysicalAddressBits));

    [Fact]
    public void HostSysenterEspCanonical() => Host("host.sysenter-esp.canonical", g => g.W(VmcsField.HostSysenterEsp, NonCanonical));

    [Fact]
    public void HostSysenterEipCanonical() => Host("host.sysenter-eip.canonical", g => g.W(VmcsField.HostSysenterEip, NonCanonical));

    [Fact]
    public void HostPat() => Host("host.pat", g =>
    {
        g.Controls(exit: ExitControls.HostAddressSpaceSize | ExitControls.LoadPat);
        g.W(VmcsField.HostPat, 0x0007_0406_0007_0402); // byte 0 = 2: reserved memory type
    });

    [Fact]
    public void HostEferLmaMustMatchAddressSpaceSize() => Host("host.efer", g =>
    {
        g.Controls(exit: ExitControls.HostAddressSpaceSize | ExitControls.LoadEfer);
        g.W(VmcsField.HostEfer, Efer.SCE | Efer.LME);
    });

    [Fact]
    public void HostSelectorRplAndTi()
    {
        Host("host.selector.rpl-ti", g => g.W(VmcsField.HostDsSelector, KData | 3));
        Host("host.selector.rpl-ti", g => g.W(VmcsField.HostTrSelector, Sys.TssSel | 4));
    }

    [Fact]
    public void HostCsNonZero() => Host("host.cs.nonzero", g => g.W(VmcsField.HostCsSelector, 0));

    [Fact]
    public void HostTrNonZero() => Host("host.tr.nonzero", g => g.W(VmcsField.HostTrSelector, 0));

    [Fact]
    public void HostSsNonZeroFor32BitHost() => Host("host.ss.nonzero", g =>
    {
        g.Controls(exit: 0);
        g.W(VmcsField.HostSsSelector, 0);
    });

    [Fact]
    public void HostBasesCanonical()
    {
        foreach (var f in new[] { VmcsField.HostFsBase, VmcsField.HostGsBase, VmcsField.HostGdtrBase, VmcsField.HostIdtrBase, VmcsField.HostTrBase })
            Assert.Equal(f, Host("host.base.canonical", g => g.W(f, NonCanonical)).Field);
    }

    [Fact]
    public void HostAddressSpaceSizeInIa32eMode() => Host("host.address-space.ia32e", g => g.Controls(exit: 0));

    [Fact]
    public void HostRipCanonical() => Host("host.rip.canonical", g => g.W(VmcsField.HostRip, NonCanonical | VmxGuest.ExitStop));

    /// <summary>The host RIP is checked at the width host CR4.LA57 gives it (48 bits here), since the host runs from it at once.</summary>
    [Fact]
    public void HostRipIsCheckedAtTheHostPagingWidth() => Host("host.rip.canonical", g => g.W(VmcsField.HostRip, NonCanonical48 | VmxGuest.ExitStop));

    /// <summary>
    /// The model offers 5-level paging (CPUID.(7,0):ECX.LA57), so base-address, SYSENTER and guest-RIP
    /// fields are canonical at 57 bits whatever CR4.LA57: 0000_8000_0000_0000h passes those checks
    /// (SDM Vol. 3C, 27.2.2-27.3.1.4: "canonical", N = the processor's linear-address width; Intel
    /// 5-level paging white paper 2.6), and the entry gets past every host and guest check.
    /// </summary>
    [Fact]
    public void Canonical57BitFieldsPassTheEntryChecks()
    {
        var g = NewGuest();
        g.W(VmcsField.HostFsBase, NonCanonical48);
        g.W(VmcsField.HostGsBase, NonCanonical48 + 0x1000);
        g.W(VmcsField.HostSysenterEsp, NonCanonical48);
        g.W(VmcsField.GuestSysenterEip, NonCanonical48);
        g.W(VmcsField.GuestFsBase, NonCanonical48);
        g.W(VmcsField.GuestGdtrBase, NonCanonical48);
        g.Launch(20);
        Assert.Null(g.Cpu.LastVmEntryFailure);
        Assert.Equal(NonCanonical48, g.R(VmcsField.GuestFsBase));
    }

    /// <summary>
    /// Issue 11, 3: VMWRITE stores any value into a host-state field (SDM Vol. 3C, 31.3 VMWRITE: no check of
    /// the value), and the entry check on host IA32_SYSENTER_ESP (SDM 26.2.2: canonical) is the only one to
    /// look: 0xFF45454545000000 is non-canonical on a 48-bit processor (no LA57) -> exactly VMfailValid(8),
    /// no exception; on a processor with 5-level paging it is canonical at 57 bits, so the entry succeeds
    /// (Intel 5-level paging white paper, 2.6: VM-entry canonicality uses 57 bits).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VmwriteOfANonCanonicalHostSysenterEspFailsOnlyAtEntry(bool la57)
    {
        const ulong value = 0xFF45_4545_4500_0000;
        var model = new CpuModel { La57 = la57, Vmx = new VmxCapabilities { Cr4Fixed1 = new VmxCapabilities().Cr4Fixed1 & (la57 ? ~0UL : ~Cr4.LA57) } };
        var g = new VmxGuest(model);
        g.Guest(a => { a.nop(); a.hlt(); });
        g.W(VmcsField.ExitReason, 0x1234);
        const ulong at = Sys.Code + 0x300;
        g.S.Load(a => { a.mov(rax, unchecked((long)value)); a.mov(edx, 0x6C10); a.vmwrite(rdx, rax); a.vmlaunch(); a.hlt(); }, at);
        g.Cpu.Rip = at;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        g.S.Run(50);
        Assert.Empty(g.S.Events); // no #GP from VMWRITE or VMLAUNCH
        Assert.Equal(value, g.R(VmcsField.HostSysenterEsp));
        if (la57)
        {
            Assert.Null(g.Cpu.LastVmEntryFailure);
            Assert.Equal(VmxTransitionKind.Entry, g.Transitions[0].Kind);
            return;
        }
        Assert.False(g.Cpu.InVmxNonRoot);
        Assert.Equal(at + 3 + 10 + 5 + 3 + 1, g.Cpu.Rip); // past the HLT after VMLAUNCH
        Assert.Equal((ulong)RFlags.ZF, g.Cpu.Rflags & (ulong)RFlags.Status);
        Assert.Equal(8UL, g.R(VmcsField.VmInstructionError));
        Assert.Equal("host.sysenter-esp.canonical", g.Cpu.LastVmEntryFailure!.Check);
        Assert.Equal(0x1234UL, g.R(VmcsField.ExitReason));
    }

    [Fact]
    public void HostCr4PaeFor64BitHost() => Host("host.cr4.pae", g => g.W(VmcsField.HostCr4, Cr4.VMXE));

    // ------------------------------------------------------------------ guest state (26.3.1) → exit reason 33

    [Fact]
    public void GuestCr0FixedBits() => Guest("guest.cr0.fixed-bits", g => g.W(VmcsField.GuestCr0, g.R(VmcsField.GuestCr0) & ~Cr0.NE));

    /// <summary>
    /// SDM Vol. 3C 26.3.1.1: the guest CR0/CR4 fields must not set a bit not supported in VMX operation
    /// (only PE/PG are exempt, with unrestricted guest); bits 63:32 are 0 in the FIXED1 MSRs (A.7, A.8),
    /// so any of them set is a VM-entry failure, exit reason 33 (issue 11, 1).
    /// </summary>
    [Theory]
    [InlineData(32)]
    [InlineData(63)]
    public void GuestCr0AndCr4UpperBitsFailTheGuestChecks(int bit)
    {
        Guest("guest.cr0.fixed-bits", g => g.W(VmcsField.GuestCr0, g.R(VmcsField.GuestCr0) | 1UL << bit));
        Guest("guest.cr4.fixed-bits", g => g.W(VmcsField.GuestCr4, g.R(VmcsField.GuestCr4) | 1UL << bit));
    }

    [Fact]
    public void GuestCr4FixedBits() => Guest("guest.cr4.fixed-bits", g => g.W(VmcsField.GuestCr4, g.R(VmcsField.GuestCr4) & ~Cr4.VMXE));

    [Fact]
    public void GuestDr7UpperBitsWithLoadDebugControls() => Guest("guest.dr7.upper", g =>
    {
        g.Controls(entry: EntryControls.Ia32eModeGuest | EntryControls.LoadDebugControls);
        g.W(VmcsField.GuestDr7, 1UL << 32 | 0x400);
    });

    [Fact]
    public void GuestIa32eModeNeedsPae() => Guest("guest.ia32e.paging", g => g.W(VmcsField.GuestCr4, Cr4.VMXE));

    [Fact]
    public void GuestPcideOutsideIa32eMode() => Guest("guest.cr4.pcide", g =>
    {
        g.Controls(entry: 0);
        g.W(VmcsField.GuestCr4, g.R(VmcsField.GuestCr4) | Cr4.PCIDE);
    });

    [Fact]
    public void GuestCr3Width() => Guest("guest.cr3.width", g => g.W(VmcsField.GuestCr3, g.R(VmcsField.GuestCr3) | 1UL << g.Cpu.Model.PhysicalAddressBits));

    [Fact]
    public void GuestSysenterEspCanonical() => Guest("guest.sysenter-esp.canonical", g => g.W(VmcsField.GuestSysenterEsp, NonCanonical));

    [Fact]
    public void GuestPat() => Guest("guest.pat", g =>
    {
        g.Controls(entry: EntryControls.Ia32eModeGuest | EntryControls.LoadPat);
        g.W(VmcsField.GuestPat, 0x0007_0406_0007_0403);
    });

    [Fact]
    public void GuestEferLmaMustMatchIa32eModeGuest() => Guest("guest.efer", g =>
    {
        g.Controls(entry: EntryControls.Ia32eModeGuest | EntryControls.LoadEfer);
        g.W(VmcsField.GuestEfer, Efer.SCE | Efer.LME);
    });

    [Fact]
    public void GuestTrTi() => Guest("guest.tr.ti", g => g.W(VmcsField.GuestTrSelector, Sys.TssSel | 4));

    [Fact]
    public void GuestLdtrTi() => Guest("guest.ldtr.ti", g =>
    {
        g.W(VmcsField.GuestLdtrSelector, 0x84);
        g.W(VmcsField.GuestLdtrAccessRights, 0x82);
    });

    [Fact]
    public void GuestSsRplEqualsCsRpl() => Guest("guest.ss.rpl", g => g.W(VmcsField.GuestSsSelector, KData | 3));

    [Fact]
    public void GuestVirtual8086BaseIsSelectorTimes16() => Guest("guest.es.v86-base", g => g.W(VmcsField.GuestRflags, 0x2_0002));

    [Fact]
    public void GuestTrBaseCanonical() => Guest("guest.tr.base", g => g.W(VmcsField.GuestTrBase, NonCanonical));

    [Fact]
    public void GuestCsBaseUpperBits() => Guest("guest.cs.base", g => g.W(VmcsField.GuestCsBase, 1UL << 32));

    [Fact]
    public void GuestCsType() => Guest("guest.cs.type", g => g.W(VmcsField.GuestCsAccessRights, 0xA093));

    [Fact]
    public void GuestSsType() => Guest("guest.ss.type", g => g.W(VmcsField.GuestSsAccessRights, 0xC09B));

    [Fact]
    public void GuestDsTypeMustBeAccessed() => Guest("guest.ds.type", g => g.W(VmcsField.GuestDsAccessRights, 0xC092));

    [Fact]
    public void GuestCsS() => Guest("guest.cs.s", g => g.W(VmcsField.GuestCsAccessRights, 0xA08B));

    [Fact]
    public void GuestDsPresent() => Guest("guest.ds.present", g => g.W(VmcsField.GuestDsAccessRights, 0xC013));

    [Fact]
    public void GuestEsReservedAccessRights() => Guest("guest.es.reserved", g => g.W(VmcsField.GuestEsAccessRights, 0xC193));

    [Fact]
    public void GuestCsGranularity() => Guest("guest.cs.granularity", g =>
    {
        g.W(VmcsField.GuestCsAccessRights, 0x209B); // G = 0
        g.W(VmcsField.GuestCsLimit, 0xFFFF_FFFF);
    });

    [Fact]
    public void GuestCsDplEqualsSsDpl() => Guest("guest.cs.dpl", g => g.W(VmcsField.GuestCsAccessRights, 0xA0FB));

    [Fact]
    public void GuestSsDplEqualsSsRpl() => Guest("guest.ss.dpl", g =>
    {
        g.W(VmcsField.GuestCsSelector, Sys.KCode64 | 3);
        g.W(VmcsField.GuestSsSelector, KData | 3);
    });

    [Fact]
    public void GuestDsDplNotBelowRpl() => Guest("guest.ds.dpl", g => g.W(VmcsField.GuestDsSelector, KData | 3));

    [Fact]
    public void GuestCsLAndDb() => Guest("guest.cs.l-and-db", g => g.W(VmcsField.GuestCsAccessRights, 0xE09B));

    [Fact]
    public void GuestTrType() => Guest("guest.tr.type", g => g.W(VmcsField.GuestTrAccessRights, 0x89));

    [Fact]
    public void GuestTrAccessRights() => Guest("guest.tr.access-rights", g => g.W(VmcsField.GuestTrAccessRights, 0x9B));

    [Fact]
    public void GuestLdtrAccessRights() => Guest("guest.ldtr.access-rights", g =>
    {
        g.W(VmcsField.GuestLdtrSelector, 0x80);
        g.W(VmcsField.GuestLdtrAccessRights, 0x83);
    });

    [Fact]
    public void GuestGdtrBaseCanonical() => Guest("guest.gdtr.base", g => g.W(VmcsField.GuestGdtrBase, NonCanonical));

    [Fact]
    public void GuestIdtrLimit() => Guest("guest.idtr.limit", g => g.W(VmcsField.GuestIdtrLimit, 0x1_0000));

    [Fact]
    public void GuestRipCanonical() => Guest("guest.rip.canonical", g => g.W(VmcsField.GuestRip, NonCanonical));

    [Fact]
    public void GuestRflagsReservedBits()
    {
        Guest("guest.rflags.reserved", g => g.W(VmcsField.GuestRflags, 0x0A));
        Guest("guest.rflags.reserved", g => g.W(VmcsField.GuestRflags, 0));
    }

    [Fact]
    public void GuestRflagsVmInIa32eMode() => Guest("guest.rflags.vm", g =>
    {
        // Segments valid for virtual-8086 mode, so only the VM flag itself is wrong.
        (VmcsField Sel, VmcsField Base, VmcsField Limit, VmcsField Ar)[] segs =
        [
            (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights),
            (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights),
            (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights),
            (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights),
            (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights),
            (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights),
        ];
        foreach (var (sel, b, lim, ar) in segs)
        {
            g.W(sel, 0x3000);
            g.W(b, 0x3_0000);
            g.W(lim, 0xFFFF);
            g.W(ar, 0xF3);
        }
        g.W(VmcsField.GuestRip, 0);
        g.W(VmcsField.GuestRflags, 0x2_0002);
    });

    [Fact]
    public void GuestIfForExternalInterruptInjection() => Guest("guest.rflags.if-for-external-interrupt", g =>
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0030));

    [Fact]
    public void GuestActivityStateSupported() => Guest("guest.activity.supported", g => g.W(VmcsField.GuestActivityState, 4));

    [Fact]
    public void GuestHltNeedsCpl0() => Guest("guest.activity.hlt-needs-cpl0", g =>
    {
        g.W(VmcsField.GuestCsSelector, Sys.UCode64 | 3);
        g.W(VmcsField.GuestCsAccessRights, 0xA0FB);
        g.W(VmcsField.GuestSsSelector, Sys.UData | 3);
        g.W(VmcsField.GuestSsAccessRights, 0xC0F3);
        g.W(VmcsField.GuestActivityState, 1);
    });

    [Fact]
    public void GuestBlockingNeedsActiveState() => Guest("guest.activity.blocking-needs-active", g =>
    {
        g.W(VmcsField.GuestActivityState, 1);
        g.W(VmcsField.GuestInterruptibilityState, 2);
    });

    [Fact]
    public void GuestInjectionAllowedByActivityState()
    {
        Guest("guest.activity.injection", g =>
        {
            g.W(VmcsField.GuestActivityState, 1);
            g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0306); // #UD into HLT
        });
        Guest("guest.activity.injection", g =>
        {
            g.W(VmcsField.GuestActivityState, 2);
            g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0301); // #DB into shutdown
        });
        Guest("guest.activity.injection", g =>
        {
            g.W(VmcsField.GuestActivityState, 3);
            g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0202); // NMI into wait-for-SIPI
        });
    }

    [Fact]
    public void GuestInterruptibilityReserved() => Guest("guest.interruptibility.reserved", g => g.W(VmcsField.GuestInterruptibilityState, 0x20));

    [Fact]
    public void GuestStiAndMovSs() => Guest("guest.interruptibility.sti-and-mov-ss", g =>
    {
        g.W(VmcsField.GuestRflags, 0x202);
        g.W(VmcsField.GuestInterruptibilityState, 3);
    });

    [Fact]
    public void GuestStiNeedsIf() => Guest("guest.interruptibility.sti-needs-if", g => g.W(VmcsField.GuestInterruptibilityState, 1));

    [Fact]
    public void GuestExternalInterruptInjectionNeedsNoBlocking() => Guest("guest.interruptibility.external-interrupt-injection", g =>
    {
        g.W(VmcsField.GuestRflags, 0x202);
        g.W(VmcsField.GuestInterruptibilityState, 1);
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0030);
    });

    [Fact]
    public void GuestNmiInjectionNeedsNoMovSsBlocking() => Guest("guest.interruptibility.nmi-injection-mov-ss", g =>
    {
        g.W(VmcsField.GuestInterruptibilityState, 2);
        g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0202);
    });

    [Fact]
    public void GuestSmiBlockingOutsideSmm() => Guest("guest.interruptibility.smi", g => g.W(VmcsField.GuestInterruptibilityState, 4));

    [Fact]
    public void GuestNmiInjectionWithVirtualNmiBlocking()
    {
        Guest("guest.interruptibility.nmi-injection-virtual-nmi-blocking", g =>
        {
            g.Controls(pin: PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis);
            g.W(VmcsField.GuestInterruptibilityState, 8);
            g.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0202);
        });
        // Without virtual NMIs, bit 3 is NMI blocking and injecting an NMI is allowed.
        var ok = NewGuest();
        ok.W(VmcsField.GuestInterruptibilityState, 8);
        ok.W(VmcsField.VmEntryInterruptionInformation, 0x8000_0202);
        ok.Launch(20);
        Assert.Equal(VmxTransitionKind.Entry, ok.Transitions[0].Kind);
    }

    [Fact]
    public void GuestPendingDebugReserved() => Guest("guest.pending-debug.reserved", g => g.W(VmcsField.GuestPendingDebugExceptions, 0x10));

    [Fact]
    public void GuestPendingDebugBsMustBeSetUnderTfInAShadow() => Guest("guest.pending-debug.bs-set", g =>
    {
        g.W(VmcsField.GuestRflags, 0x102);
        g.W(VmcsField.GuestInterruptibilityState, 2);
    });

    [Fact]
    public void GuestPendingDebugBsMustBeClearWithoutTf() => Guest("guest.pending-debug.bs-clear", g =>
    {
        g.W(VmcsField.GuestActivityState, 1);
        g.W(VmcsField.GuestPendingDebugExceptions, 0x4000);
    });

    [Fact]
    public void GuestPendingDebugRtm() => Guest("guest.pending-debug.rtm", g => g.W(VmcsField.GuestPendingDebugExceptions, 0x1_1000));

    [Fact]
    public void GuestVmcsLinkPointer()
    {
        Guest("guest.vmcs-link-pointer", g => g.W(VmcsField.VmcsLinkPointer, VmxGuest.MsrArea + 0x10), qualification: 4); // not 4-KiB aligned
        Guest("guest.vmcs-link-pointer", g => g.W(VmcsField.VmcsLinkPointer, 0x7_0000), qualification: 4);              // revision 0
        Guest("guest.vmcs-link-pointer", g => g.W(VmcsField.VmcsLinkPointer, VmxGuest.VmcsRegion), qualification: 4);   // the current VMCS
        Guest("guest.vmcs-link-pointer", g =>
        {
            g.S.W32(0x7_0000, g.Caps.RevisionId | 0x8000_0000); // a shadow VMCS without VMCS shadowing
            g.W(VmcsField.VmcsLinkPointer, 0x7_0000);
        }, qualification: 4);
        // A valid (ordinary) VMCS elsewhere is accepted.
        var ok = NewGuest();
        ok.S.W32(0x7_0000, ok.Caps.RevisionId);
        ok.W(VmcsField.VmcsLinkPointer, 0x7_0000);
        ok.Launch(20);
        Assert.Equal(VmxTransitionKind.Entry, ok.Transitions[0].Kind);
    }

    [Fact]
    public void GuestPdptesUnderPaePaging() =>
        // Not an IA-32e guest: CR0.PG and CR4.PAE make it a PAE guest whose CR3 (the host's PML4,
        // entry 0 = PDPT | 7) holds a present PDPTE with reserved bits 2:1 set.
        Guest("guest.pdptes", g => g.Controls(entry: 0), qualification: 2);

    /// <summary>EPT on with a valid EPTP naming an identity map of the first GiB (one 1-GiB page).</summary>
    private static void WithEpt(VmxGuest g, uint proc2 = 0, uint entry = EntryControls.Ia32eModeGuest)
    {
        g.S.W64(0x7_8000, 0x7_9007);
        g.S.W64(0x7_9000, 0x80 | 6 << 3 | 7);
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt | proc2, entry: entry);
        g.W(VmcsField.EptPointer, 0x7_801E);
    }

    [Fact]
    public void GuestPdpteFieldsWithEpt()
    {
        // A PAE guest with EPT: the PDPTE fields are checked (present with reserved bits 2:1 → qualification 2)...
        Guest("guest.pdpte-fields", g =>
        {
            WithEpt(g, entry: 0);
            g.W(VmcsField.GuestPdpte1, 0x7);
        }, qualification: 2);
        // ...and the table CR3 points at is not (the host's PML4 has reserved PDPTE bits set, ignored here).
        var ok = NewGuest();
        WithEpt(ok, entry: 0);
        ok.Launch(1);
        Assert.Equal(VmxTransitionKind.Entry, Assert.Single(ok.Transitions).Kind);
    }

    [Fact]
    public void GuestCr0PgNeedsPeWithUnrestrictedGuest()
    {
        Guest("guest.cr0.pg-needs-pe", g =>
        {
            WithEpt(g, SecondaryProcessorBasedControls.UnrestrictedGuest);
            g.W(VmcsField.GuestCr0, g.R(VmcsField.GuestCr0) & ~Cr0.PE);
        });
        // Unrestricted guest exempts PE and PG from CR0_FIXED0: with both clear the CR0 checks pass.
        var f = Guest("guest.ia32e.paging", g =>
        {
            WithEpt(g, SecondaryProcessorBasedControls.UnrestrictedGuest);
            g.W(VmcsField.GuestCr0, g.R(VmcsField.GuestCr0) & ~(Cr0.PE | Cr0.PG));
        });
        Assert.Equal(VmcsField.GuestCr4, f.Field);
    }

    // ------------------------------------------------------------------ instruction-level failures

    [Fact]
    public void VmlaunchOnALaunchedVmcsIsVmFailValid4()
    {
        var g = NewGuest();
        g.Controls(pin: PinBasedControls.ActivatePreemptionTimer);
        g.W(VmcsField.VmxPreemptionTimerValue, 0);
        g.Launch(20);
        Assert.Equal(VmxExitReason.PreemptionTimerExpired, g.ExitReason);
        Assert.True(g.Vmcs.Launched);
        g.Transitions.Clear();
        ulong reason = g.R(VmcsField.ExitReason), rip = g.R(VmcsField.GuestRip);
        g.Launch(20);
        VmxConformance.AssertVmFailValid(g, 4, reason, rip);
        Assert.True(g.Vmcs.Launched);
        Assert.Null(g.Cpu.LastVmEntryFailure);
    }

    [Fact]
    public void VmresumeOnAClearVmcsIsVmFailValid5()
    {
        var g = NewGuest();
        var before = Fields(g);
        g.Resume(20);
        VmxConformance.AssertVmFailValid(g, 5, 0x1234, before[VmcsField.GuestRip]);
        AssertFieldsUnchangedExcept(before, g, VmcsField.VmInstructionError);
        Assert.False(g.Vmcs.Launched);
    }

    [Fact]
    public void VmresumeAfterAnExitContinuesTheGuest()
    {
        var g = NewGuest();
        g.Controls(pin: PinBasedControls.ActivatePreemptionTimer);
        g.W(VmcsField.VmxPreemptionTimerValue, 0);
        g.Launch(20);
        Assert.Equal(VmxExitReason.PreemptionTimerExpired, g.ExitReason);
        g.Controls();
        var r = g.Resume(20);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(VmxGuest.GuestCode + 2, g.Cpu.Rip);
    }

    [Fact]
    public void VmlaunchInAMovSsShadowIsVmFailValid26()
    {
        var g = NewGuest();
        g.S.W16(Sys.Scratch + 0x400, Sys.KData);
        g.S.Load(a => { a.mov(ss, __word_ptr[Sys.Scratch + 0x400]); a.vmlaunch(); a.hlt(); }, Sys.Code + 0x400);
        ulong rip = g.R(VmcsField.GuestRip);
        g.Cpu.Rip = Sys.Code + 0x400;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        var r = g.S.Run(20);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(Sys.Code + 0x400 + 7 + 3 + 1, g.Cpu.Rip); // MOV SS (7) + VMLAUNCH (3), then the HLT
        Assert.Equal((ulong)RFlags.ZF, g.Cpu.Rflags & (ulong)RFlags.Status);
        Assert.Equal(26UL, g.R(VmcsField.VmInstructionError));
        Assert.Equal(0x1234UL, g.R(VmcsField.ExitReason));
        Assert.Equal(rip, g.R(VmcsField.GuestRip));
        Assert.False(g.Vmcs.Launched);
        Assert.Equal(VmInstructionError.EntryEventsBlockedByMovSs, Assert.Single(g.Transitions).InstructionError);
    }

    [Fact]
    public void VmlaunchWithoutACurrentVmcsIsVmFailInvalid()
    {
        var g = NewGuest();
        g.S.Load(a => { a.vmclear(__qword_ptr[Sys.Scratch + 8]); a.vmlaunch(); a.hlt(); }, Sys.Code + 0x400);
        g.Cpu.Rip = Sys.Code + 0x400;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        var r = g.S.Run(20);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(ulong.MaxValue, g.Cpu.CurrentVmcsPointer);
        Assert.False(g.Cpu.InVmxNonRoot);
        Assert.Equal((ulong)RFlags.CF, g.Cpu.Rflags & (ulong)RFlags.Status);
        var t = Assert.Single(g.Transitions);
        Assert.Equal(VmxTransitionKind.EntryFail, t.Kind);
        Assert.Equal(VmInstructionError.None, t.InstructionError);
        Assert.Null(g.Cpu.LastVmEntryFailure);
    }

    // ------------------------------------------------------------------ MSR-load list (26.4) → reason 34; VMX abort (27.7)

    [Theory]
    [InlineData(0xC000_0100u, 0u, 3u)] // IA32_FS_BASE may not be loaded by the list
    [InlineData(0x808u, 0u, 3u)]       // x2APIC range
    [InlineData(0x174u, 1u, 3u)]       // reserved bits 63:32 of the entry
    [InlineData(Msr.Efer, 0u, 3u)]     // a value WRMSR would refuse (reserved EFER bit)
    public void EntryMsrLoadFailureIsReason34WithTheOneBasedIndex(uint index, uint reserved, uint expectedQualification)
    {
        var g = NewGuest();
        ulong list = VmxGuest.MsrArea;
        g.S.W64(list, Msr.SysenterEsp);
        g.S.W64(list + 8, 0x1234_5000);
        g.S.W64(list + 16, Msr.SysenterEip);
        g.S.W64(list + 24, 0x5678_9000);
        g.S.W64(list + 32, index | (ulong)reserved << 32);
        g.S.W64(list + 40, index == Msr.Efer ? 1UL << 20 | Efer.LME | Efer.LMA : 0);
        g.W(VmcsField.VmEntryMsrLoadAddress, list);
        g.W(VmcsField.VmEntryMsrLoadCount, 3);
        var before = Fields(g);
        g.Launch(20);
        VmxConformance.AssertEntryFailure(g, 34, expectedQualification);
        var failure = g.Cpu.LastVmEntryFailure!;
        Assert.Equal(VmEntryCheckClass.MsrLoading, failure.Class);
        Assert.Equal("msr-load.entry", failure.Check);
        Assert.Equal(expectedQualification, failure.Qualification);
        AssertFieldsUnchangedExcept(before, g, VmcsField.ExitReason, VmcsField.ExitQualification);
    }

    [Fact]
    public void ABadExitMsrLoadListIsAVmxAbort()
    {
        var g = NewGuest();
        g.S.W64(VmxGuest.MsrArea, 0x808); // x2APIC TPR: not loadable by the list
        g.S.W64(VmxGuest.MsrArea + 8, 0);
        g.W(VmcsField.VmExitMsrLoadAddress, VmxGuest.MsrArea);
        g.W(VmcsField.VmExitMsrLoadCount, 1);
        g.Controls(pin: PinBasedControls.ActivatePreemptionTimer);
        g.W(VmcsField.VmxPreemptionTimerValue, 0);
        Assert.Equal(0u, g.S.R32(VmxGuest.VmcsRegion + 4));
        var r = g.Launch(20);
        Assert.Equal(StopReason.Shutdown, r.Reason);
        Assert.Equal(4u, g.S.R32(VmxGuest.VmcsRegion + 4));
        Assert.Equal([VmxTransitionKind.Entry, VmxTransitionKind.Abort], g.Transitions.Select(t => t.Kind));
        Assert.Equal(4u, g.Transitions[1].ExitReason);
        Assert.False(g.Cpu.InVmxNonRoot);
    }

    [Fact]
    public void ABadExitMsrLoadListAfterAVmEntryFailureIsAlsoAVmxAbort()
    {
        var g = NewGuest();
        g.S.W64(VmxGuest.MsrArea, Msr.GsBase | 1UL << 32); // reserved bits set
        g.W(VmcsField.VmExitMsrLoadAddress, VmxGuest.MsrArea);
        g.W(VmcsField.VmExitMsrLoadCount, 1);
        g.W(VmcsField.GuestInterruptibilityState, 4); // a guest-state failure
        var r = g.Launch(20);
        Assert.Equal(StopReason.Shutdown, r.Reason);
        Assert.Equal(4u, g.S.R32(VmxGuest.VmcsRegion + 4));
        Assert.Equal(VmxTransitionKind.Abort, g.Transitions.Last().Kind);
    }
}
