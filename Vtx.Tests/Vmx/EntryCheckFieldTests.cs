using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The named VM-entry checks <see cref="VmEntryCheckTests"/> does not reach (SDM Vol. 3C, 26.2.1-26.3.1):
/// each a valid VMCS with one field broken, asserting VMfailValid(7) / VMfailValid(8) / the VM-entry
/// failure with exit reason 33 and the check's name (the helpers of <see cref="VmEntryCheckTests"/>
/// also assert that nothing else changed). Checks on controls the default capabilities do not offer
/// use a model that offers them (<see cref="Wide"/>): the checks are the SDM's whatever the part
/// offers, and the allowed-settings check would otherwise come first.
/// </summary>
public class EntryCheckFieldTests
{
    private const ulong NonCanonical = 0x0100_0000_0000_0000;
    private const ulong Misaligned = 0x6_4008;
    private const ulong ValidEptp = 0x7_8000 | 0x1E; // WB, 4-level walk (the tables are not read by the checks)

    /// <summary>The default capabilities plus the controls these checks govern: posted interrupts, tertiary controls, APIC virtualization, VM functions (EPTP switching), PML, #VE, secondary exit controls, and CR4.CET in IA32_VMX_CR4_FIXED1.</summary>
    private static CpuModel Wide()
    {
        var d = VmxCapabilities.Default;
        return new CpuModel
        {
            Vmx = new VmxCapabilities
            {
                PinBased = d.PinBased with { Allowed1 = d.PinBased.Allowed1 | PinBasedControls.ProcessPostedInterrupts },
                PrimaryProcessorBased = d.PrimaryProcessorBased with { Allowed1 = d.PrimaryProcessorBased.Allowed1 | PrimaryProcessorBasedControls.ActivateTertiaryControls },
                SecondaryProcessorBased = d.SecondaryProcessorBased with
                {
                    Allowed1 = d.SecondaryProcessorBased.Allowed1 | SecondaryProcessorBasedControls.VirtualizeApicAccesses
                        | SecondaryProcessorBasedControls.VirtualizeX2ApicMode | SecondaryProcessorBasedControls.ApicRegisterVirtualization
                        | SecondaryProcessorBasedControls.VirtualInterruptDelivery | SecondaryProcessorBasedControls.EnableVmFunctions
                        | SecondaryProcessorBasedControls.EnablePml | SecondaryProcessorBasedControls.EptViolationVe,
                },
                Exit = d.Exit with { Allowed1 = d.Exit.Allowed1 | ExitControls.ActivateSecondaryControls },
                VmFunctions = VmFunction.EptpSwitching,
                Cr4Fixed1 = d.Cr4Fixed1 | Cr4.CET,
            },
        };
    }

    [Fact]
    public void TheWideModelIsConsistent() => Assert.Empty(Wide().Vmx!.Validate());

    // ------------------------------------------------------------------ 26.2.1 controls → VMfailValid(7)

    [Fact]
    public void TertiaryAllowedSettings() => VmEntryCheckTests.Control("control.tertiary.allowed-settings", g =>
    {
        g.Controls(proc: PrimaryProcessorBasedControls.ActivateTertiaryControls);
        g.W(VmcsField.TertiaryProcBasedVmExecControls, 1); // IA32_VMX_PROCBASED_CTLS3 allows nothing
    }, Wide());

    [Fact]
    public void X2ApicVirtualizationNeedsTheTprShadow() => VmEntryCheckTests.Control("control.tpr-shadow.required",
        g => g.Controls(proc2: SecondaryProcessorBasedControls.VirtualizeX2ApicMode), Wide());

    [Fact]
    public void ApicAccessAndX2ApicVirtualizationAreExclusive() => VmEntryCheckTests.Control("control.apic-virtualization.exclusive",
        g => g.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow,
            proc2: SecondaryProcessorBasedControls.VirtualizeApicAccesses | SecondaryProcessorBasedControls.VirtualizeX2ApicMode), Wide());

    [Fact]
    public void VirtualInterruptDeliveryNeedsExternalInterruptExiting() => VmEntryCheckTests.Control("control.virtual-interrupt-delivery.need-external-interrupt-exiting",
        g => g.Controls(proc: PrimaryProcessorBasedControls.UseTprShadow, proc2: SecondaryProcessorBasedControls.VirtualInterruptDelivery), Wide());

    [Fact]
    public void PostedInterruptsNeedVirtualInterruptDelivery() => VmEntryCheckTests.Control("control.posted-interrupts",
        g => g.Controls(pin: PinBasedControls.ProcessPostedInterrupts | PinBasedControls.ExternalInterruptExiting), Wide());

    [Fact]
    public void VmFunctionsMustBeAllowed() => VmEntryCheckTests.Control("control.vm-functions.allowed", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableVmFunctions);
        g.W(VmcsField.VmFunctionControls, 2); // IA32_VMX_VMFUNC allows EPTP switching only
    }, Wide());

    [Fact]
    public void EptpSwitchingNeedsEpt() => VmEntryCheckTests.Control("control.vm-functions.eptp-switching", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableVmFunctions);
        g.W(VmcsField.VmFunctionControls, VmFunction.EptpSwitching);
    }, Wide());

    [Fact]
    public void ApicAccessAddressAlignment() => VmEntryCheckTests.Control("control.apic-access-address", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.VirtualizeApicAccesses);
        g.W(VmcsField.ApicAccessAddress, Misaligned);
    }, Wide());

    [Fact]
    public void PmlAddressAlignment() => VmEntryCheckTests.Control("control.pml-address", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt | SecondaryProcessorBasedControls.EnablePml);
        g.W(VmcsField.EptPointer, ValidEptp);
        g.W(VmcsField.PmlAddress, Misaligned);
    }, Wide());

    [Fact]
    public void VmreadBitmapAlignment() => VmEntryCheckTests.Control("control.vmread-bitmap", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.VmcsShadowing);
        g.W(VmcsField.VmreadBitmapAddress, Misaligned);
    });

    [Fact]
    public void VmwriteBitmapWidth() => VmEntryCheckTests.Control("control.vmwrite-bitmap", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.VmcsShadowing);
        g.W(VmcsField.VmwriteBitmapAddress, 1UL << g.Cpu.Model.PhysicalAddressBits);
    });

    [Fact]
    public void VeInformationAddressAlignment() => VmEntryCheckTests.Control("control.ve-information-address", g =>
    {
        g.Controls(proc2: SecondaryProcessorBasedControls.EptViolationVe);
        g.W(VmcsField.VirtualizationExceptionInformationAddress, Misaligned);
    }, Wide());

    [Fact]
    public void SecondaryExitControlsAllowedSettings() => VmEntryCheckTests.Control("control.exit.secondary-allowed-settings", g =>
    {
        g.Controls(exit: ExitControls.HostAddressSpaceSize | ExitControls.ActivateSecondaryControls);
        g.W(VmcsField.SecondaryVmExitControls, 1); // IA32_VMX_EXIT_CTLS2 allows nothing
    }, Wide());

    // ------------------------------------------------------------------ 26.2.2 host state → VMfailValid(8)

    [Fact]
    public void HostCetNeedsWp() => VmEntryCheckTests.Host("host.cr4.cet-needs-wp", g =>
    {
        g.W(VmcsField.HostCr4, g.R(VmcsField.HostCr4) | Cr4.CET);
        g.W(VmcsField.HostCr0, g.R(VmcsField.HostCr0) & ~Cr0.WP);
    }, Wide());

    // ------------------------------------------------------------------ 26.3.1 guest state → reason 33

    [Fact]
    public void GuestCetNeedsWp() => VmEntryCheckTests.Guest("guest.cr4.cet-needs-wp", g =>
    {
        g.W(VmcsField.GuestCr4, g.R(VmcsField.GuestCr4) | Cr4.CET);
        g.W(VmcsField.GuestCr0, g.R(VmcsField.GuestCr0) & ~Cr0.WP);
    }, model: Wide());

    [Fact]
    public void GuestDebugCtlReservedBits() => VmEntryCheckTests.Guest("guest.debugctl.reserved", g =>
    {
        g.Controls(entry: EntryControls.Ia32eModeGuest | EntryControls.LoadDebugControls);
        g.W(VmcsField.GuestDebugCtl, 1UL << 63);
    });

    [Fact]
    public void GuestSysenterEipCanonical() => VmEntryCheckTests.Guest("guest.sysenter-eip.canonical", g => g.W(VmcsField.GuestSysenterEip, NonCanonical));

    [Fact]
    public void GuestLdtrBaseCanonical() => VmEntryCheckTests.Guest("guest.ldtr.base", g =>
    {
        g.W(VmcsField.GuestLdtrSelector, 0x80);
        g.W(VmcsField.GuestLdtrAccessRights, 0x82);
        g.W(VmcsField.GuestLdtrLimit, 0xFFF);
        g.W(VmcsField.GuestLdtrBase, NonCanonical);
    });

    [Fact]
    public void GuestSsDplZeroWithProtectionOff() => VmEntryCheckTests.Guest("guest.ss.dpl-zero", g =>
    {
        // Unrestricted guest with CR0.PE = 0: SS.DPL must be 0 (26.3.1.2). A conforming CS keeps the CS/SS DPL rule satisfied.
        g.Controls(proc2: SecondaryProcessorBasedControls.UnrestrictedGuest | SecondaryProcessorBasedControls.EnableEpt, entry: 0);
        g.W(VmcsField.EptPointer, ValidEptp);
        g.W(VmcsField.GuestCr0, Cr0.NE | Cr0.ET);
        g.W(VmcsField.GuestCr4, g.R(VmcsField.GuestCr4) & ~Cr4.PCIDE);
        g.W(VmcsField.GuestCsAccessRights, 0xC09F);
        g.W(VmcsField.GuestSsAccessRights, 0xC0F3);
    });

    [Fact]
    public void GuestIdtrBaseCanonical() => VmEntryCheckTests.Guest("guest.idtr.base", g => g.W(VmcsField.GuestIdtrBase, NonCanonical));

    [Fact]
    public void GuestGdtrLimit() => VmEntryCheckTests.Guest("guest.gdtr.limit", g => g.W(VmcsField.GuestGdtrLimit, 0x1_0000));

    [Fact]
    public void GuestRipUpperBitsOutside64BitMode() => VmEntryCheckTests.Guest("guest.rip.upper", g =>
    {
        g.W(VmcsField.GuestCsAccessRights, 0xC09B); // IA-32e mode, CS.L = 0: compatibility mode
        g.W(VmcsField.GuestRip, 1UL << 32);
    });
}
