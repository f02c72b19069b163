using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>The VMX capability MSRs (SDM Vol. 3C, Appendix A) and the checks derived from them.</summary>
public class VmxCapabilitiesTests
{
    private static readonly VmxControlKind[] Kinds = Enum.GetValues<VmxControlKind>();

    private static ulong Read(VmxCapabilities caps, uint msr)
    {
        Assert.True(caps.TryReadMsr(msr, out ulong v), $"MSR 0x{msr:X} should exist");
        return v;
    }

    [Fact]
    public void DefaultMsrValues()
    {
        var c = VmxCapabilities.Default;
        Assert.Empty(c.Validate());
        // BASIC: revision "VTX", 4096-byte regions, WB, INS/OUTS information, TRUE controls.
        Assert.Equal(0x00D8_1000_0056_5458UL, Read(c, VmxMsr.Basic));
        Assert.Equal(0x0000_007F_0000_0016UL, Read(c, VmxMsr.PinBasedCtls));
        Assert.Equal(0x0000_007F_0000_0016UL, Read(c, VmxMsr.TruePinBasedCtls));
        Assert.Equal(0xFFF9_FFFE_0401_E172UL, Read(c, VmxMsr.ProcBasedCtls));
        Assert.Equal(0xFFF9_FFFE_0400_6172UL, Read(c, VmxMsr.TrueProcBasedCtls));
        Assert.Equal(0x007F_EFFF_0003_6DFFUL, Read(c, VmxMsr.ExitCtls));
        Assert.Equal(0x007F_EFFF_0003_6DFBUL, Read(c, VmxMsr.TrueExitCtls));
        Assert.Equal(0x0000_DFFF_0000_11FFUL, Read(c, VmxMsr.EntryCtls));
        Assert.Equal(0x0000_DFFF_0000_11FBUL, Read(c, VmxMsr.TrueEntryCtls));
        // MISC: timer rate 5, LMA store, HLT/shutdown/wait-for-SIPI, 4 CR3 targets, 512 MSRs, VMWRITE any field, zero-length injection.
        Assert.Equal(0x6004_01E5UL, Read(c, VmxMsr.Misc));
        Assert.Equal(0x8000_0021UL, Read(c, VmxMsr.Cr0Fixed0));
        Assert.Equal(0xFFFF_FFFFUL, Read(c, VmxMsr.Cr0Fixed1));
        Assert.Equal(0x0000_2000UL, Read(c, VmxMsr.Cr4Fixed0));
        Assert.Equal(0x0036_3FBCUL, Read(c, VmxMsr.Cr4Fixed1)); // with OSFXSR, OSXMMEXCPT and OSXSAVE (the model offers FXSR, SSE and XSAVE)
        Assert.Equal(0x32UL, Read(c, VmxMsr.VmcsEnum)); // highest supported index 25: TSC multiplier (2032h)
        Assert.Equal(0x0200_54EE_0000_0000UL, Read(c, VmxMsr.ProcBasedCtls2)); // bit 14: VMCS shadowing
        Assert.Equal(0x0000_0F01_0613_4141UL, Read(c, VmxMsr.EptVpidCap));
        Assert.False(c.TryReadMsr(VmxMsr.VmFunc, out _));         // VM functions not offered
        Assert.False(c.TryReadMsr(VmxMsr.ProcBasedCtls3, out _)); // tertiary controls not offered
        Assert.False(c.TryReadMsr(VmxMsr.ExitCtls2, out _));      // secondary exit controls not offered
        Assert.False(c.TryReadMsr(0x47F, out _));
        Assert.False(c.TryReadMsr(0x494, out _));
        Assert.Equal(512, c.MaxMsrListEntries);
    }

    [Fact]
    public void PlainMsrsForceTheDefault1Class()
    {
        var c = VmxCapabilities.Default;
        (uint plain, uint trueMsr, uint default1)[] sets =
        [
            (VmxMsr.PinBasedCtls, VmxMsr.TruePinBasedCtls, PinBasedControls.Default1),
            (VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls, PrimaryProcessorBasedControls.Default1),
            (VmxMsr.ExitCtls, VmxMsr.TrueExitCtls, ExitControls.Default1),
            (VmxMsr.EntryCtls, VmxMsr.TrueEntryCtls, EntryControls.Default1),
        ];
        foreach (var (plain, trueMsr, default1) in sets)
        {
            ulong p = Read(c, plain), t = Read(c, trueMsr);
            Assert.Equal(p >> 32, t >> 32);                          // same allowed-1 settings
            Assert.Equal(default1, (uint)p & default1);                // default1 class reported must-be-1
            Assert.Equal(0u, (uint)t & ~(uint)p);                      // TRUE allowed-0 is a subset
            Assert.Equal(default1, (uint)(p >> 32) & default1);        // and the class may be 1
        }
        // The TRUE MSRs free exactly CR3-load/store exiting and the debug-control save/load.
        Assert.Equal(PrimaryProcessorBasedControls.Cr3LoadExiting | PrimaryProcessorBasedControls.Cr3StoreExiting,
            (uint)Read(c, VmxMsr.ProcBasedCtls) & ~(uint)Read(c, VmxMsr.TrueProcBasedCtls));
        Assert.Equal(ExitControls.SaveDebugControls, (uint)Read(c, VmxMsr.ExitCtls) & ~(uint)Read(c, VmxMsr.TrueExitCtls));
        Assert.Equal(EntryControls.LoadDebugControls, (uint)Read(c, VmxMsr.EntryCtls) & ~(uint)Read(c, VmxMsr.TrueEntryCtls));
    }

    [Fact]
    public void WithoutTrueControlsVmEntryChecksThePlainMsrs()
    {
        var c = new VmxCapabilities { TrueControls = false };
        for (uint msr = VmxMsr.TruePinBasedCtls; msr <= VmxMsr.TrueEntryCtls; msr++)
            Assert.False(c.TryReadMsr(msr, out _));
        Assert.Equal(0UL, Read(c, VmxMsr.Basic) & 1UL << 55);
        uint noCr3Exits = PrimaryProcessorBasedControls.Default1 & ~PrimaryProcessorBasedControls.Cr3LoadExiting;
        Assert.False(c.ControlsValid(VmxControlKind.PrimaryProcessorBased, noCr3Exits));
        Assert.True(VmxCapabilities.Default.ControlsValid(VmxControlKind.PrimaryProcessorBased, noCr3Exits & ~PrimaryProcessorBasedControls.Cr3StoreExiting));
        Assert.Equal(PrimaryProcessorBasedControls.Default1, c.AdjustControls(VmxControlKind.PrimaryProcessorBased, 0));
    }

    [Fact]
    public void MsrExistenceFollowsTheCapabilities()
    {
        var noSecondary = new VmxCapabilities
        {
            PrimaryProcessorBased = VmxCapabilities.Default.PrimaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.PrimaryProcessorBased.Allowed1 & ~PrimaryProcessorBasedControls.ActivateSecondaryControls,
            },
        };
        Assert.False(noSecondary.TryReadMsr(VmxMsr.ProcBasedCtls2, out _));
        Assert.False(noSecondary.TryReadMsr(VmxMsr.EptVpidCap, out _));
        Assert.False(noSecondary.Offers(VmxFeature.Ept));
        Assert.False(noSecondary.Supports(VmcsField.SecondaryProcBasedVmExecControls));
        Assert.False(noSecondary.Supports(VmcsField.EptPointer));
        Assert.Contains(noSecondary.Validate(), p => p.Contains("activate secondary controls"));

        var vpidOnly = new VmxCapabilities
        {
            SecondaryProcessorBased = new(0, SecondaryProcessorBasedControls.EnableVpid),
            EptVpidCapabilities = VmxCapabilities.Default.EptVpidCapabilities & EptVpidCapability.VpidMask,
        };
        Assert.Empty(vpidOnly.Validate());
        Assert.Equal(0x0000_0F01_0000_0000UL, Read(vpidOnly, VmxMsr.EptVpidCap));

        var vmfunc = new VmxCapabilities
        {
            SecondaryProcessorBased = VmxCapabilities.Default.SecondaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.SecondaryProcessorBased.Allowed1 | SecondaryProcessorBasedControls.EnableVmFunctions,
            },
            VmFunctions = VmFunction.EptpSwitching,
        };
        Assert.Empty(vmfunc.Validate());
        Assert.Equal(1UL, Read(vmfunc, VmxMsr.VmFunc));
        Assert.True(vmfunc.Supports(VmcsField.EptpListAddress));
        Assert.True(vmfunc.Supports(VmcsField.VmFunctionControls));
        Assert.False(VmxCapabilities.Default.Supports(VmcsField.EptpListAddress));

        var tertiary = new VmxCapabilities
        {
            PrimaryProcessorBased = VmxCapabilities.Default.PrimaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.PrimaryProcessorBased.Allowed1 | PrimaryProcessorBasedControls.ActivateTertiaryControls,
            },
            TertiaryProcessorBasedAllowed1 = TertiaryProcessorBasedControls.VirtualizeSpecCtrl,
        };
        Assert.Empty(tertiary.Validate());
        Assert.Equal(TertiaryProcessorBasedControls.VirtualizeSpecCtrl, Read(tertiary, VmxMsr.ProcBasedCtls3));
        Assert.True(tertiary.Supports(VmcsField.TertiaryProcBasedVmExecControls));
        Assert.True(tertiary.Supports(VmcsField.SpecCtrlMask));
        Assert.False(tertiary.Supports(VmcsField.HlatPointer));
        Assert.True(tertiary.TertiaryControlsValid(TertiaryProcessorBasedControls.VirtualizeSpecCtrl));
        Assert.False(tertiary.TertiaryControlsValid(TertiaryProcessorBasedControls.EnableHlat));
        Assert.True(VmxCapabilities.Default.TertiaryControlsValid(0));
        Assert.False(VmxCapabilities.Default.TertiaryControlsValid(TertiaryProcessorBasedControls.VirtualizeSpecCtrl));
        Assert.False(VmxCapabilities.Default.SecondaryExitControlsValid(SecondaryExitControls.LoadFred));
    }

    [Fact]
    public void DefaultFieldSupport()
    {
        var c = VmxCapabilities.Default;
        VmcsField[] supported =
        [
            VmcsField.GuestRip, VmcsField.VirtualProcessorId, VmcsField.EptPointer, VmcsField.EptPointer.HighAccess,
            VmcsField.GuestPhysicalAddress, VmcsField.GuestPdpte0, VmcsField.MsrBitmap, VmcsField.VirtualApicAddress,
            VmcsField.TprThreshold, VmcsField.TscMultiplier, VmcsField.VmxPreemptionTimerValue, VmcsField.PleGap,
            VmcsField.GuestPat, VmcsField.HostPat, VmcsField.GuestEfer, VmcsField.HostEfer, VmcsField.SecondaryProcBasedVmExecControls,
            VmcsField.ExitReason, VmcsField.GuestSmbase, VmcsField.ExecutiveVmcsPointer, VmcsField.Cr3TargetValue3,
            VmcsField.VmreadBitmapAddress, VmcsField.VmwriteBitmapAddress,
        ];
        VmcsField[] unsupported =
        [
            VmcsField.PostedInterruptNotificationVector, VmcsField.PostedInterruptDescriptorAddress, VmcsField.PmlIndex,
            VmcsField.GuestInterruptStatus, VmcsField.EoiExitBitmap0, VmcsField.ApicAccessAddress, VmcsField.EptpIndex,
            VmcsField.GuestPerfGlobalCtrl, VmcsField.HostPerfGlobalCtrl, VmcsField.GuestBndcfgs, VmcsField.GuestFredConfig,
            VmcsField.HostFredConfig, VmcsField.GuestSCet, VmcsField.HostSsp, VmcsField.SharedEptPointer, VmcsField.XssExitingBitmap,
            VmcsField.TertiaryProcBasedVmExecControls, VmcsField.SecondaryVmExitControls, VmcsField.InstructionTimeoutControl,
            new VmcsField(0x482C), new VmcsField(0x681F), new VmcsField(0x1_681E),
        ];
        foreach (var f in supported) Assert.True(c.Supports(f), f.ToString());
        foreach (var f in unsupported) Assert.False(c.Supports(f), f.ToString());
        // No recent ("(new)") field is supported by default.
        Assert.DoesNotContain(VmcsField.AllFields, f => f.IsRecentAddition && c.Supports(f));
    }

    [Fact]
    public void ValidateReportsContradictions()
    {
        Assert.Contains(new VmxCapabilities { PinBased = new(0x16 | 1, 0x16) }.Validate(), p => p.Contains("allowed-0"));
        Assert.Contains(new VmxCapabilities { Exit = new(0, 0x200) }.Validate(), p => p.Contains("default1"));
        Assert.Contains(new VmxCapabilities { ExitStoresLma = false }.Validate(), p => p.Contains("MISC[5]"));
        Assert.Contains(new VmxCapabilities { VmFunctions = 1 }.Validate(), p => p.Contains("VM functions"));
        Assert.Contains(new VmxCapabilities { RegionSize = 8192 }.Validate(), p => p.Contains("region size"));
        Assert.Contains(new VmxCapabilities { Cr3TargetCount = 5 }.Validate(), p => p.Contains("CR3-target"));
        Assert.Contains(new VmxCapabilities { Cr4Fixed0 = 0 }.Validate(), p => p.Contains("VMXE"));
        Assert.Contains(new VmxCapabilities { EptVpidCapabilities = 0 }.Validate(), p => p.Contains("page-walk"));
        Assert.Contains(new VmxCapabilities { TertiaryProcessorBasedAllowed1 = 1 }.Validate(), p => p.Contains("tertiary"));
        Assert.Contains(new VmxCapabilities
        {
            SecondaryProcessorBased = new(0, SecondaryProcessorBasedControls.EnableVpid | SecondaryProcessorBasedControls.UnrestrictedGuest),
            EptVpidCapabilities = EptVpidCapability.Invvpid,
        }.Validate(), p => p.Contains("unrestricted guest requires EPT"));
    }

    // ---- ControlsValid against the MSR, over random capabilities ----

    private static readonly Gen<VmxAllowedSettings> Settings =
        from hi in VmcsFieldTests.AnyUInt
        from loMask in VmcsFieldTests.AnyUInt
        from stray in Gen.Frequency((6, Gen.Constant(0u)), (1, VmcsFieldTests.AnyUInt)) // occasionally inconsistent
        select new VmxAllowedSettings((hi & loMask & loMask >> 3) | stray, hi);

    private static readonly Gen<VmxCapabilities> Capabilities =
        from pin in Settings
        from primary in Settings
        from secondaryOn in Gen.Frequency((4, Gen.Constant(true)), (1, Gen.Constant(false)))
        from secondary in Settings
        from exit in Settings
        from entry in Settings
        from trueControls in Gen.Elements(true, false)
        select new VmxCapabilities
        {
            PinBased = pin,
            PrimaryProcessorBased = secondaryOn
                ? primary with { Allowed1 = primary.Allowed1 | PrimaryProcessorBasedControls.ActivateSecondaryControls }
                : primary,
            SecondaryProcessorBased = secondary,
            Exit = exit,
            Entry = entry,
            TrueControls = trueControls,
        };

    private static uint MsrFor(VmxControlKind kind, bool trueControls) => kind switch
    {
        VmxControlKind.PinBased => trueControls ? VmxMsr.TruePinBasedCtls : VmxMsr.PinBasedCtls,
        VmxControlKind.PrimaryProcessorBased => trueControls ? VmxMsr.TrueProcBasedCtls : VmxMsr.ProcBasedCtls,
        VmxControlKind.SecondaryProcessorBased => VmxMsr.ProcBasedCtls2,
        VmxControlKind.Exit => trueControls ? VmxMsr.TrueExitCtls : VmxMsr.ExitCtls,
        _ => trueControls ? VmxMsr.TrueEntryCtls : VmxMsr.EntryCtls,
    };

    /// <summary>
    /// ControlsValid accepts exactly the values that set every bit the MSR's allowed-0 half requires and no bit its
    /// allowed-1 half forbids, reading the MSR VM entry uses (TRUE if IA32_VMX_BASIC[55], else plain).
    /// </summary>
    [Property(MaxTest = 3000)]
    public Property ControlsValidIsTheMsrRule() => Prop.ForAll(Arb.From(
        from caps in Capabilities
        from kind in Gen.Elements(Kinds)
        from raw in VmcsFieldTests.AnyUInt
        from flip in Gen.Choose(-1, 31)
        from how in Gen.Choose(0, 2)
        select (caps, kind, raw, flip, how)), t =>
    {
        var (caps, kind, raw, flip, how) = t;
        if (!caps.TryReadMsr(MsrFor(kind, caps.TrueControls), out ulong msr))
            return kind == VmxControlKind.SecondaryProcessorBased; // only PROCBASED_CTLS2 may be absent here
        uint lo = (uint)msr, hi = (uint)(msr >> 32);
        // Values: raw; adjusted to the MSR (valid when consistent); adjusted then one bit flipped (mostly invalid).
        uint v = how switch
        {
            0 => raw,
            1 => (raw | lo) & hi,
            _ => ((raw | lo) & hi) ^ (flip < 0 ? 0 : 1u << flip),
        };
        bool expected = (v & lo) == lo && (v & ~hi) == 0;
        bool consistent = (lo & ~hi) == 0;
        return caps.ControlsValid(kind, v) == expected
            && caps.AdjustControls(kind, raw) == ((raw | lo) & hi)
            && (!consistent || caps.ControlsValid(kind, caps.AdjustControls(kind, raw)));
    });

    /// <summary>Over every 32-bit value of a small bit window: ControlsValid is the allowed-0/allowed-1 rule.</summary>
    [Fact]
    public void ControlsValidExhaustivelyOnTheDefaultPinControls()
    {
        var c = VmxCapabilities.Default;
        for (uint v = 0; v < 512; v++)
        {
            bool expected = (v & 0x16) == 0x16 && (v & ~0x7Fu) == 0;
            Assert.Equal(expected, c.ControlsValid(VmxControlKind.PinBased, v));
        }
    }

    // ---- VMCS_ENUM ----

    [Fact]
    public void VmcsEnumIsTheHighestSupportedIndexFoundByScanning()
    {
        // As kvm-unit-tests' find_vmcs_max_index: scan every encoding and keep the highest supported index.
        foreach (var caps in new[] { VmxCapabilities.Default, AllOffered() })
        {
            int highest = -1;
            for (uint e = 0; e <= 0xFFFF; e++)
                if (caps.Supports(new VmcsField(e)))
                    highest = Math.Max(highest, new VmcsField(e).Index);
            Assert.Equal((ulong)highest << 1, Read(caps, VmxMsr.VmcsEnum));
        }
        Assert.Equal(0x19, VmxCapabilities.Default.HighestSupportedIndex);
        Assert.Equal(VmcsField.AllFields.Where(f => f.RequiredFeature != VmxFeature.Seam).Max(f => f.Index), AllOffered().HighestSupportedIndex);
    }

    [Property(MaxTest = 300)]
    public Property VmcsEnumIsTheHighestSupportedIndex() => Prop.ForAll(Arb.From(Capabilities), caps =>
    {
        ulong v = caps.VmcsEnum;
        int expected = VmcsField.AllFields.Where(caps.Supports).Max(f => f.Index);
        return caps.TryReadMsr(VmxMsr.VmcsEnum, out ulong msr) && msr == v && v == (ulong)expected << 1 && (v & ~0x3FEUL) == 0;
    });

    /// <summary>Every feature on: all allowed-1 bits, tertiary and secondary-exit controls, VM functions.</summary>
    private static VmxCapabilities AllOffered() => new()
    {
        PinBased = new(0x16, 0xFFFF_FFFF),
        PrimaryProcessorBased = new(0x0400_6172, 0xFFFF_FFFF),
        SecondaryProcessorBased = new(0, 0xFFFF_FFFF),
        Exit = new(0x0003_6DFB, 0xFFFF_FFFF),
        Entry = new(0x0000_11FB, 0xFFFF_FFFF),
        TertiaryProcessorBasedAllowed1 = ulong.MaxValue,
        SecondaryExitAllowed1 = ulong.MaxValue,
        VmFunctions = VmFunction.EptpSwitching,
    };

    [Fact]
    public void EveryFeatureIsReachable()
    {
        var all = AllOffered();
        foreach (var feature in Enum.GetValues<VmxFeature>())
            Assert.Equal(feature != VmxFeature.Seam, all.Offers(feature));
        Assert.Empty(all.Validate());
    }
}
