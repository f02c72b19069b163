using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// EPT-violation #VE (SDM Vol. 3C, 25.5.6; 26.5.7 in 2020+ editions): with the control on, a convertible
/// EPT violation — suppress #VE (bit 63) clear in the entry that decides it: the not-present entry, or the
/// entry mapping the page — becomes a virtualization exception (vector 20, a fault without error code)
/// when CR0.PE = 1, no event is being delivered and the dword at offset 4 of the information area is 0.
/// The area receives exit reason 48, FFFFFFFFh, the qualification, the guest-linear and guest-physical
/// addresses and the EPTP index (Table 25-1).
/// </summary>
public class EptVirtualizationExceptionTests
{
    private const ulong Area = 0x7_1000;
    private const ulong Frame = VmxGuest.GuestStack - 40; // the #VE frame: RIP, CS, RFLAGS, RSP, SS (no error code)

    private static VmxGuest WithVe(ushort eptpIndex = 5)
    {
        var g = WithEpt(proc2: SecondaryProcessorBasedControls.EptViolationVe);
        g.W(VmcsField.VirtualizationExceptionInformationAddress, Area);
        g.W(VmcsField.EptpIndex, eptpIndex);
        for (ulong i = 0; i < 64; i += 8) g.S.W64(Area + i, 0);
        return g;
    }

    private static void AssertArea(VmxGuest g, ulong qual, ulong gla, ulong gpa, ushort index)
    {
        Assert.Equal(48U, g.S.R32(Area));
        Assert.Equal(0xFFFF_FFFFU, g.S.R32(Area + 4));
        Assert.Equal(qual, g.S.R64(Area + 8));
        Assert.Equal(gla, g.S.R64(Area + 16));
        Assert.Equal(gpa, g.S.R64(Area + 24));
        Assert.Equal(index, g.S.R16(Area + 32));
    }

    [Fact]
    public void ConvertibleViolationIsDeliveredAsVeWithTheInformationArea()
    {
        var g = WithVe();
        SetPte(g, Data, 0); // not present, suppress #VE clear
        g.Guest(a => { a.mov(rax, __qword_ptr[Data + 0x28]); a.ud2(); });
        var r = g.Launch();
        Assert.True(g.Cpu.InVmxNonRoot, r.ToString());
        Assert.Equal(20U, g.LastGuestVector);
        Assert.DoesNotContain(g.Transitions, t => t.Kind == VmxTransitionKind.Exit);
        AssertArea(g, 0x181, Data + 0x28, Data + 0x28, 5);
        Assert.Equal(VmxGuest.GuestCode, g.S.R64(Frame));   // a fault: the instruction's address
        Assert.Equal((ulong)Sys.KCode64, g.S.R64(Frame + 8)); // no error code below it
    }

    [Fact]
    public void WriteToAReadOnlyPageReportsItsRights()
    {
        var g = WithVe(eptpIndex: 0x1FF);
        SetPte(g, Data, Data | (6 << 3) | 5); // read/execute, suppress #VE clear
        g.Guest(a => { a.mov(__qword_ptr[Data], rax); a.ud2(); });
        g.Launch();
        Assert.Equal(20U, g.LastGuestVector);
        AssertArea(g, 2 | 5 << 3 | 0x180, Data, Data, 0x1FF);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SuppressVeInTheLeafKeepsTheVmExit(bool suppress)
    {
        var g = WithVe();
        SetPte(g, Data, Data | (6 << 3) | 5 | (suppress ? SuppressVe : 0));
        g.Guest(a => { a.mov(__qword_ptr[Data], rax); a.ud2(); });
        g.Launch();
        if (suppress)
        {
            Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
            Assert.Equal(0U, g.S.R32(Area + 4));
        }
        else Assert.Equal(20U, g.LastGuestVector);
    }

    /// <summary>
    /// The not-present entry decides, at whatever level: a not-present PDE (2-MiB region at 2 MiB)
    /// converts with bit 63 clear and exits with it set. Bit 63 of entries that reference another table
    /// is ignored.
    /// </summary>
    [Theory]
    [InlineData(0UL, true)]
    [InlineData(1UL << 63, false)]
    public void TheNotPresentEntryDecidesAtAnyLevel(ulong pde, bool converts)
    {
        var g = WithVe();
        g.S.W64(Pd + 8, pde);
        g.S.W64(Pdpt, g.S.R64(Pdpt) | SuppressVe); // a non-leaf entry: ignored
        g.Guest(a => { a.mov(rax, __qword_ptr[0x20_0010]); a.ud2(); });
        g.Launch();
        if (converts)
        {
            Assert.Equal(20U, g.LastGuestVector);
            AssertArea(g, 0x181, 0x20_0010, 0x20_0010, 5);
        }
        else
        {
            Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
            Assert.Equal(0x181UL, g.R(VmcsField.ExitQualification));
        }
    }

    /// <summary>The semaphore: once the dword at offset 4 is not 0, violations are VM exits again until software clears it.</summary>
    [Fact]
    public void NonZeroSemaphoreKeepsTheVmExit()
    {
        var g = WithVe();
        g.S.W32(Area + 4, 0xFFFF_FFFF);
        SetPte(g, Data, 0);
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(0U, g.S.R32(Area)); // nothing written
        // The VMM clears the semaphore and resumes at the same instruction: now a #VE.
        g.S.W32(Area + 4, 0);
        g.W(VmcsField.GuestRip, g.R(VmcsField.GuestRip) - 2);
        ResumeAfter(g);
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(20U, g.LastGuestVector);
        AssertArea(g, 0x181, Data, Data, 5);
    }

    /// <summary>With exception-bitmap bit 20 the #VE itself exits (reason 0, vector 20, hardware exception, no error code); the area is written first.</summary>
    [Fact]
    public void ExceptionBitmapTurnsTheVeIntoAVmExit()
    {
        var g = WithVe();
        g.W(VmcsField.ExceptionBitmap, (1u << 6) | (1u << 20));
        SetPte(g, Data, 0);
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0314UL, g.R(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        AssertArea(g, 0x181, Data, Data, 5);
    }

    /// <summary>A violation while delivering an event through the IDT is never converted: a VM exit with IDT-vectoring information.</summary>
    [Fact]
    public void ViolationDuringEventDeliveryExits()
    {
        var g = WithVe();
        g.W(VmcsField.ExceptionBitmap, 0);
        SetPte(g, VmxGuest.GuestStack - 8, 0); // the #UD frame's page
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(0x8000_0306UL, g.R(VmcsField.IdtVectoringInformation));
        Assert.Equal(0U, g.S.R32(Area + 4));
    }

    [Fact]
    public void MisconfigurationsAreNeverConverted()
    {
        var g = WithVe();
        SetPte(g, Data, Data | (6 << 3) | 2); // write-only
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.EptMisconfiguration, g.ExitReason);
        Assert.Equal(0U, g.S.R32(Area + 4));
    }

    /// <summary>CR0.PE = 0 (an unrestricted real-mode guest): no virtualization exception, the violation exits.</summary>
    [Fact]
    public void RealModeGuestsGetVmExits()
    {
        var g = WithVe();
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt | SecondaryProcessorBasedControls.UnrestrictedGuest
            | SecondaryProcessorBasedControls.EptViolationVe, entry: 0);
        g.W(VmcsField.GuestCr0, Cr0.NE | Cr0.ET);
        g.W(VmcsField.GuestCr4, Cr4.VMXE);
        g.W(VmcsField.GuestEfer, 0);
        foreach (var (sel, b, lim, ar, v) in new[]
        {
            (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights, 0x9BUL),
            (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights, 0x93UL),
            (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights, 0x93UL),
            (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights, 0x93UL),
            (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights, 0x93UL),
            (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights, 0x93UL),
        })
        {
            g.W(sel, 0x3000);
            g.W(b, 0x3_0000);
            g.W(lim, 0xFFFF);
            g.W(ar, v);
        }
        g.W(VmcsField.GuestRip, 0);
        g.W(VmcsField.GuestRsp, 0x8000);
        g.W(VmcsField.GuestTrAccessRights, 0x8B);
        SetPte(g, 0x3_1000, 0); // DS:1000h
        g.S.Load(a => { a.mov(ax, __word_ptr[0x1000]); a.hlt(); }, VmxGuest.GuestCode, bitness: 16);
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(0x3_1000UL, g.R(VmcsField.GuestPhysicalAddress));
        Assert.Equal(0U, g.S.R32(Area + 4));
    }

    [Fact]
    public void ControlOffMeansVmExits()
    {
        var g = WithEpt();
        g.W(VmcsField.VirtualizationExceptionInformationAddress, Area);
        SetPte(g, Data, 0);
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
    }

    [Fact]
    public void EntryChecksAndTheCapabilitySwitch()
    {
        var g = WithVe();
        g.W(VmcsField.VirtualizationExceptionInformationAddress, Area | 0x10);
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.ve-information-address", g.Cpu.LastVmEntryFailure!.Check);

        var caps = new VmxCapabilities
        {
            SecondaryProcessorBased = VmxCapabilities.Default.SecondaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.SecondaryProcessorBased.Allowed1 & ~SecondaryProcessorBasedControls.EptViolationVe,
            },
        };
        Assert.False(caps.Supports(VmcsField.EptpIndex));
        Assert.False(caps.Supports(VmcsField.VirtualizationExceptionInformationAddress));
        g = WithEpt(proc2: SecondaryProcessorBasedControls.EptViolationVe, model: new CpuModel { Vmx = caps });
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.secondary.allowed-settings", g.Cpu.LastVmEntryFailure!.Check);
    }

    /// <summary>
    /// #VE is in the page-fault class of Table 6-5 (SDM Vol. 3A, 6.15): a contributory exception while
    /// delivering it (here #NP, its IDT gate not present) becomes #DF, as after a #PF.
    /// </summary>
    [Fact]
    public void AContributoryFaultWhileDeliveringVeIsADoubleFault()
    {
        var g = WithVe();
        SetPte(g, Data, 0);
        g.S.W8(VmxGuest.GuestIdt + 20 * 16 + 5, 0x0E); // gate 20: interrupt gate, not present
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        Assert.True(g.Cpu.InVmxNonRoot);
        Assert.Equal(8U, g.LastGuestVector);
        Assert.Equal(0xFFFF_FFFFU, g.S.R32(Area + 4)); // the #VE itself was recognized
    }
}
