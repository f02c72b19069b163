using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>
/// VMCS component encodings (SDM Vol. 3C, 24.11.2 and Appendix B): hand-written expectations for a sample of
/// fields of every Appendix B table, the table rule over the whole field list, and encoding validity over random
/// 32-bit values.
/// </summary>
public class VmcsFieldTests
{
    private const VmcsFieldWidth W16 = VmcsFieldWidth.Bits16, W64 = VmcsFieldWidth.Bits64,
        W32 = VmcsFieldWidth.Bits32, WN = VmcsFieldWidth.Natural;
    private const VmcsFieldType Ctl = VmcsFieldType.Control, Ro = VmcsFieldType.ExitInformation,
        Gst = VmcsFieldType.GuestState, Hst = VmcsFieldType.HostState;

    // Hand-written from SDM Vol. 3C, Appendix B (sections B.1.1 to B.4.4): name, encoding, width, type, index.
    public static TheoryData<string, uint, VmcsFieldWidth, VmcsFieldType, int> Samples => new()
    {
        // B.1.1 16-bit control
        { nameof(VmcsField.VirtualProcessorId), 0x0000, W16, Ctl, 0 },
        { nameof(VmcsField.PostedInterruptNotificationVector), 0x0002, W16, Ctl, 1 },
        { nameof(VmcsField.EptpIndex), 0x0004, W16, Ctl, 2 },
        // B.1.2 16-bit guest state
        { nameof(VmcsField.GuestEsSelector), 0x0800, W16, Gst, 0 },
        { nameof(VmcsField.GuestCsSelector), 0x0802, W16, Gst, 1 },
        { nameof(VmcsField.GuestTrSelector), 0x080E, W16, Gst, 7 },
        { nameof(VmcsField.GuestInterruptStatus), 0x0810, W16, Gst, 8 },
        { nameof(VmcsField.PmlIndex), 0x0812, W16, Gst, 9 },
        // B.1.3 16-bit host state
        { nameof(VmcsField.HostEsSelector), 0x0C00, W16, Hst, 0 },
        { nameof(VmcsField.HostTrSelector), 0x0C0C, W16, Hst, 6 },
        // B.2.1 64-bit control
        { nameof(VmcsField.IoBitmapA), 0x2000, W64, Ctl, 0 },
        { nameof(VmcsField.MsrBitmap), 0x2004, W64, Ctl, 2 },
        { nameof(VmcsField.TscOffset), 0x2010, W64, Ctl, 8 },
        { nameof(VmcsField.EptPointer), 0x201A, W64, Ctl, 13 },
        { nameof(VmcsField.TscMultiplier), 0x2032, W64, Ctl, 25 },
        // B.2.2 64-bit read-only data
        { nameof(VmcsField.GuestPhysicalAddress), 0x2400, W64, Ro, 0 },
        // B.2.3 64-bit guest state
        { nameof(VmcsField.VmcsLinkPointer), 0x2800, W64, Gst, 0 },
        { nameof(VmcsField.GuestEfer), 0x2806, W64, Gst, 3 },
        { nameof(VmcsField.GuestPdpte3), 0x2810, W64, Gst, 8 },
        // B.2.4 64-bit host state
        { nameof(VmcsField.HostPat), 0x2C00, W64, Hst, 0 },
        { nameof(VmcsField.HostEfer), 0x2C02, W64, Hst, 1 },
        { nameof(VmcsField.HostPerfGlobalCtrl), 0x2C04, W64, Hst, 2 },
        // B.3.1 32-bit control
        { nameof(VmcsField.PinBasedVmExecControls), 0x4000, W32, Ctl, 0 },
        { nameof(VmcsField.PrimaryProcBasedVmExecControls), 0x4002, W32, Ctl, 1 },
        { nameof(VmcsField.VmExitControls), 0x400C, W32, Ctl, 6 },
        { nameof(VmcsField.VmEntryControls), 0x4012, W32, Ctl, 9 },
        { nameof(VmcsField.SecondaryProcBasedVmExecControls), 0x401E, W32, Ctl, 15 },
        { nameof(VmcsField.PleWindow), 0x4022, W32, Ctl, 17 },
        // B.3.2 32-bit read-only data
        { nameof(VmcsField.VmInstructionError), 0x4400, W32, Ro, 0 },
        { nameof(VmcsField.ExitReason), 0x4402, W32, Ro, 1 },
        { nameof(VmcsField.VmExitInstructionInformation), 0x440E, W32, Ro, 7 },
        // B.3.3 32-bit guest state
        { nameof(VmcsField.GuestEsLimit), 0x4800, W32, Gst, 0 },
        { nameof(VmcsField.GuestCsAccessRights), 0x4816, W32, Gst, 11 },
        { nameof(VmcsField.GuestInterruptibilityState), 0x4824, W32, Gst, 18 },
        { nameof(VmcsField.GuestActivityState), 0x4826, W32, Gst, 19 },
        { nameof(VmcsField.VmxPreemptionTimerValue), 0x482E, W32, Gst, 23 },
        // B.3.4 32-bit host state
        { nameof(VmcsField.HostSysenterCs), 0x4C00, W32, Hst, 0 },
        // B.4.1 natural-width control
        { nameof(VmcsField.Cr0GuestHostMask), 0x6000, WN, Ctl, 0 },
        { nameof(VmcsField.Cr3TargetValue3), 0x600E, WN, Ctl, 7 },
        // B.4.2 natural-width read-only data
        { nameof(VmcsField.ExitQualification), 0x6400, WN, Ro, 0 },
        { nameof(VmcsField.GuestLinearAddress), 0x640A, WN, Ro, 5 },
        // B.4.3 natural-width guest state
        { nameof(VmcsField.GuestCr0), 0x6800, WN, Gst, 0 },
        { nameof(VmcsField.GuestRip), 0x681E, WN, Gst, 15 },
        { nameof(VmcsField.GuestRflags), 0x6820, WN, Gst, 16 },
        { nameof(VmcsField.GuestPendingDebugExceptions), 0x6822, WN, Gst, 17 },
        // B.4.4 natural-width host state
        { nameof(VmcsField.HostCr0), 0x6C00, WN, Hst, 0 },
        { nameof(VmcsField.HostRsp), 0x6C14, WN, Hst, 10 },
        { nameof(VmcsField.HostRip), 0x6C16, WN, Hst, 11 },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void SampleFieldsDecodeAsTheSdmTablesSay(string name, uint encoding, VmcsFieldWidth width, VmcsFieldType type, int index)
    {
        Assert.True(VmcsField.TryFromName(name, out var f));
        Assert.Equal(encoding, f.Encoding);
        Assert.Equal(width, f.Width);
        Assert.Equal(type, f.Type);
        Assert.Equal(index, f.Index);
        Assert.Equal(VmcsFieldAccess.Full, f.Access);
        Assert.True(f.IsValid);
        Assert.Equal(name, f.Name);
        Assert.Equal(encoding, (uint)typeof(VmcsEncoding).GetField(name)!.GetRawConstantValue()!);
    }

    [Fact]
    public void BriefExamples()
    {
        Assert.Equal(0x681Eu, VmcsField.GuestRip.Encoding);
        Assert.Equal(0x4000u, VmcsField.PinBasedVmExecControls.Encoding);
        Assert.Equal(0x4400u, VmcsField.VmInstructionError.Encoding);
        Assert.Equal(0x4402u, VmcsField.ExitReason.Encoding);
        Assert.Equal(VmcsField.GuestRip, new VmcsField(0x681E));
        Assert.Equal("GuestRip", VmcsField.GuestRip.ToString());
        Assert.Equal("VmcsField(0x0000482C)", new VmcsField(0x482C).ToString()); // 482Ch is not assigned
    }

    /// <summary>Every field's encoding decodes to the Appendix B table the data file lists it under.</summary>
    [Fact]
    public void EveryFieldDecodesToItsTable()
    {
        string root = VmcsFieldsGenerator.RepositoryRoot();
        var entries = VmcsFieldsGenerator.Parse(File.ReadAllText(Path.Combine(root, VmcsFieldsGenerator.DataPath)));
        var groups = new Dictionary<string, (VmcsFieldWidth, VmcsFieldType)>
        {
            ["16-bit control"] = (W16, Ctl), ["16-bit guest-state"] = (W16, Gst), ["16-bit host-state"] = (W16, Hst),
            ["64-bit control"] = (W64, Ctl), ["64-bit read-only"] = (W64, Ro), ["64-bit guest-state"] = (W64, Gst), ["64-bit host-state"] = (W64, Hst),
            ["32-bit control"] = (W32, Ctl), ["32-bit read-only"] = (W32, Ro), ["32-bit guest-state"] = (W32, Gst), ["32-bit host-state"] = (W32, Hst),
            ["natural-width control"] = (WN, Ctl), ["natural-width read-only"] = (WN, Ro), ["natural-width guest-state"] = (WN, Gst),
            ["natural-width host-state"] = (WN, Hst),
        };
        Assert.Equal(groups.Keys.Order(), entries.Select(e => e.Group).Distinct().Order());
        foreach (var e in entries)
        {
            var f = new VmcsField(e.Encoding);
            Assert.True((f.Width, f.Type) == groups[e.Group], $"line {e.Line}: {e.Name} 0x{e.Encoding:X4} decodes as {f.Width} {f.Type}, listed under {e.Group}");
        }
    }

    /// <summary>The rule over all fields: well-formed full accesses, unique, and recomposable from their decoded parts.</summary>
    [Fact]
    public void EveryFieldIsAWellFormedFullAccess()
    {
        Assert.Equal(VmcsField.AllFields.Count, VmcsField.AllFields.Distinct().Count());
        Assert.True(VmcsField.AllFields.Count >= 180);
        foreach (var f in VmcsField.AllFields)
        {
            Assert.True(f.IsValid, f.ToString());
            Assert.True(f.IsArchitectural, f.ToString());
            Assert.Equal(VmcsFieldAccess.Full, f.Access);
            Assert.Equal(0u, f.Encoding & VmcsField.ReservedMask);
            Assert.Equal(f, VmcsField.Compose(f.Width, f.Type, f.Index));
            Assert.Equal(f.Width == W64, VmcsField.IsValidEncoding(f.Encoding | 1));
            Assert.Equal(f.Type == Ro, f.IsExitInformation);
            Assert.Equal(f.Type == Ro, f.IsReadOnly(false));
            Assert.False(f.IsReadOnly(true));
            Assert.Equal(f.Width switch { W16 => 16, W32 => 32, _ => 64 }, f.ValueBits);
        }
        Assert.Equal(VmcsField.AllFields.Max(f => f.Index), VmcsField.HighestIndex);
        Assert.Equal(0x29, VmcsField.HighestIndex); // 2052h injected-event data, the highest architectural index listed
    }

    [Fact]
    public void HighAccessOf64BitFields()
    {
        var high = VmcsField.EptPointer.HighAccess;
        Assert.Equal(0x201Bu, high.Encoding);
        Assert.Equal(VmcsFieldAccess.High, high.Access);
        Assert.True(high.IsValid && high.IsArchitectural);
        Assert.Equal("EptPointerHigh", high.Name);
        Assert.Equal(VmcsField.EptPointer, high.FullAccess);
        Assert.Equal(32, high.ValueBits);
        Assert.Equal(0xFFFF_FFFFUL, high.ValueMask);
        Assert.Equal(VmxFeature.Ept, high.RequiredFeature);
        Assert.True(VmcsField.TryFromName("EptPointerHigh", out var byName) && byName == high);
        Assert.False(VmcsField.TryFromName("GuestRipHigh", out _));
        Assert.False(VmcsField.TryFromName("NoSuchField", out _));
        Assert.Throws<InvalidOperationException>(() => VmcsField.GuestRip.HighAccess);
        Assert.False(new VmcsField(0x681F).IsValid); // high access of a natural-width field
        Assert.Null(new VmcsField(0x681F).Name);
    }

    [Fact]
    public void ComposeRejectsOutOfRangeParts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => VmcsField.Compose(W32, Ctl, 512));
        Assert.Throws<ArgumentOutOfRangeException>(() => VmcsField.Compose(W32, Ctl, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => VmcsField.Compose(W32, Ctl, 0, VmcsFieldAccess.High));
        Assert.Equal(0x2001u, VmcsField.Compose(W64, Ctl, 0, VmcsFieldAccess.High).Encoding);
    }

    [Fact]
    public void ReadOnlyDependsOnMisc29()
    {
        Assert.True(VmcsField.ExitReason.IsReadOnly(new VmxCapabilities { VmwriteToExitInformation = false }));
        Assert.False(VmcsField.ExitReason.IsReadOnly(new VmxCapabilities { VmwriteToExitInformation = true }));
        Assert.False(VmcsField.GuestRip.IsReadOnly(new VmxCapabilities { VmwriteToExitInformation = false }));
    }

    // ---- IsValidEncoding over random 32-bit values ----

    internal static readonly Gen<uint> AnyUInt = Gen.Choose(int.MinValue, int.MaxValue).Select(x => unchecked((uint)x));

    private static Arbitrary<uint> Encodings => Arb.From(Gen.OneOf(
        AnyUInt,                                                           // anything, mostly with reserved bits set
        Gen.Choose(0, 0xFFFF).Select(x => (uint)x),                        // reserved 31:16 clear
        Gen.Choose(0, 0xFFFF).Select(x => (uint)x & ~VmcsField.ReservedMask))); // all reserved bits clear

    /// <summary>Valid exactly when bits 31:16, 15 and 12 are 0 and a high access names a 64-bit field.</summary>
    [Property(MaxTest = 5000)]
    public Property ValidityIsTheReservedBitAndHighAccessRule() => Prop.ForAll(Encodings, e =>
    {
        bool reservedClear = (e >> 16) == 0 && (e & (1u << 15)) == 0 && (e & (1u << 12)) == 0;
        bool width64 = ((e >> 13) & 3) == 1;
        bool high = (e & 1) == 1;
        return VmcsField.IsValidEncoding(e) == (reservedClear && (!high || width64))
            && new VmcsField(e).IsValid == VmcsField.IsValidEncoding(e);
    });

    /// <summary>A valid encoding is exactly its decoded width, type, index and access put back together.</summary>
    [Property(MaxTest = 5000)]
    public Property ValidEncodingsRecompose() => Prop.ForAll(Encodings, e =>
    {
        var f = new VmcsField(e);
        return !f.IsValid || VmcsField.Compose(f.Width, f.Type, f.Index, f.Access) == f;
    });

    /// <summary>Setting any reserved bit makes any encoding invalid.</summary>
    [Property(MaxTest = 2000)]
    public Property AnyReservedBitInvalidates() => Prop.ForAll(Encodings, Arb.From(Gen.Elements(
        Enumerable.Range(0, 32).Where(b => (VmcsField.ReservedMask >> b & 1) != 0).ToArray())), (e, bit) =>
        !VmcsField.IsValidEncoding(e | 1u << bit));

    /// <summary>Decoding reads only the documented bit ranges.</summary>
    [Property(MaxTest = 2000)]
    public Property DecodingReadsTheBitRanges() => Prop.ForAll(Encodings, e =>
    {
        var f = new VmcsField(e);
        return (uint)f.Access == (e & 1) && f.Index == (int)((e >> 1) & 0x1FF)
            && (uint)f.Type == ((e >> 10) & 3) && (uint)f.Width == ((e >> 13) & 3);
    });

    /// <summary>Exhaustively over the low 16 bits: the architectural accesses are the listed fields and the high halves of the 64-bit ones.</summary>
    [Fact]
    public void ArchitecturalAccessesAreTheListedFieldsAndTheirHighHalves()
    {
        var full = VmcsField.AllFields.Select(f => f.Encoding).ToHashSet();
        for (uint e = 0; e <= 0xFFFF; e++)
        {
            var f = new VmcsField(e);
            bool expected = VmcsField.IsValidEncoding(e) && full.Contains(e & ~1u);
            Assert.True(expected == f.IsArchitectural, $"0x{e:X4}");
        }
        Assert.False(new VmcsField(0x1_0000).IsArchitectural); // reserved bit 16 on an otherwise listed encoding
    }
}
