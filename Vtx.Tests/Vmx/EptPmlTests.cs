using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Page-modification logging (SDM Vol. 3C, 28.2.5; 29.3.6 in 2020+ editions): with "enable PML" and EPT
/// A/D flags on, each EPT dirty flag set from 0 to 1 writes the 4-KByte aligned guest-physical address at
/// PML address + 8 * PML index and decrements the index; an A/D update needed while the index is outside
/// 0-511 is a page-modification log-full VM exit (reason 62) and sets no flag.
/// </summary>
public class EptPmlTests
{
    private const ulong Log = 0x7_0000;
    private static ulong Page(int i) => Data + (ulong)i * 0x1000;

    private static VmxGuest WithPml(ushort index, bool ad = true)
    {
        var g = WithEpt(ad: ad, proc2: SecondaryProcessorBasedControls.EnablePml);
        g.W(VmcsField.PmlAddress, Log);
        g.W(VmcsField.PmlIndex, index);
        for (ulong i = 0; i < 512; i++) g.S.W64(Log + i * 8, 0xDEAD);
        return g;
    }

    private static void Writes(VmxGuest g, params ulong[] addresses) => g.Guest(a =>
    {
        foreach (ulong x in addresses) a.mov(__qword_ptr[x], rax);
        a.ud2();
    });

    /// <summary>
    /// The log in the order the SDM's rules dirty the pages: the first fetch walks the guest's PML4,
    /// PDPT and PD (paging-structure accesses are writes with A/D on: each dirties its page), the code
    /// page is only read, then each written page once, a second write to a dirty page logs nothing.
    /// Entries are page-aligned whatever the offset of the write.
    /// </summary>
    [Fact]
    public void DirtiedPagesAreLoggedDownwardsFromTheIndex()
    {
        var g = WithPml(511);
        Writes(g, Page(0) + 0x10, Page(3) + 0xFF8, Page(0) + 0x800, Page(5) + 1);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        ulong[] expected = [Sys.Pml4, Sys.Pdpt, Sys.Pd, Page(0), Page(3), Page(5)];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], g.S.R64(Log + (ulong)(511 - i) * 8));
        Assert.Equal(0xDEADUL, g.S.R64(Log + (ulong)(511 - expected.Length) * 8));
        Assert.Equal((ulong)(511 - expected.Length), g.R(VmcsField.PmlIndex));
    }

    [Fact]
    public void WithoutAccessedDirtyFlagsNothingIsLogged()
    {
        var g = WithPml(511, ad: false);
        Writes(g, Page(0), Page(1));
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(511UL, g.R(VmcsField.PmlIndex));
        Assert.Equal(0xDEADUL, g.S.R64(Log + 511 * 8));
    }

    /// <summary>
    /// Index 1: two entries fit (the PML4 and PDPT pages), the index wraps from 0 to FFFFh, and the PD
    /// access then needs a flag update: a log-full exit before the first instruction completes (fault-
    /// like, qualification 0), no flag set in the PD page's EPT entry. The VMM empties the log (index
    /// 511) and resumes: logging continues where it stopped.
    /// </summary>
    [Fact]
    public void LogFullExitStopsTheAccessAndResumesAfterTheVmmDrainsTheLog()
    {
        var g = WithPml(1);
        Writes(g, Page(2));
        g.Launch();
        Assert.Equal(VmxExitReason.PmlFull, g.ExitReason);
        Assert.Equal(0UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
        Assert.Equal(0xFFFFUL, g.R(VmcsField.PmlIndex));
        Assert.Equal(Sys.Pml4, g.S.R64(Log + 8));
        Assert.Equal(Sys.Pdpt, g.S.R64(Log));
        Assert.Equal(0UL, Pte(g, Sys.Pd) & (A | D));
        Assert.Equal(0UL, Pte(g, Page(2)) & (A | D));

        g.W(VmcsField.PmlIndex, 511);
        g.W(VmcsField.GuestRip, g.R(VmcsField.GuestRip) - 2); // ResumeAfter skips 2 bytes
        ResumeAfter(g);
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(Sys.Pd, g.S.R64(Log + 511 * 8));
        Assert.Equal(Page(2), g.S.R64(Log + 510 * 8));
        Assert.Equal(509UL, g.R(VmcsField.PmlIndex));
        Assert.Equal(A | D, Pte(g, Page(2)) & (A | D));
    }

    /// <summary>A full log does not matter while no flag needs setting: every page already accessed and dirty.</summary>
    [Fact]
    public void FullLogIsHarmlessWhenNoFlagChanges()
    {
        var g = WithPml(600);
        for (ulong p = 0; p < 512; p++) g.S.W64(PteAddress(p << 12), g.S.R64(PteAddress(p << 12)) | A | D);
        foreach (ulong e in new[] { Pml4, Pdpt, Pd }) g.S.W64(e, g.S.R64(e) | A);
        Writes(g, Page(0), Page(1));
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(600UL, g.R(VmcsField.PmlIndex));
    }

    /// <summary>A PML-full event while delivering an event: the exit records it as IDT-vectoring information.</summary>
    [Fact]
    public void LogFullDuringEventDeliveryRecordsIdtVectoring()
    {
        // Every EPT entry accessed and dirty but the stack page's, the log full: delivering #UD pushes onto it.
        var g2 = WithPml(0xFFFF);
        g2.W(VmcsField.ExceptionBitmap, 0);
        for (ulong p = 0; p < 512; p++) g2.S.W64(PteAddress(p << 12), g2.S.R64(PteAddress(p << 12)) | A | D);
        foreach (ulong e in new[] { Pml4, Pdpt, Pd }) g2.S.W64(e, g2.S.R64(e) | A);
        SetPte(g2, VmxGuest.GuestStack - 8, ((VmxGuest.GuestStack - 8) & ~0xFFFUL) | Leaf | A);
        g2.Guest(a => a.ud2());
        g2.Launch();
        Assert.Equal(VmxExitReason.PmlFull, g2.ExitReason);
        Assert.Equal(0x8000_0306UL, g2.R(VmcsField.IdtVectoringInformation)); // #UD, hardware exception
        Assert.Equal(VmxGuest.GuestCode, g2.R(VmcsField.GuestRip));
    }

    [Fact]
    public void EntryChecksAndTheCapabilitySwitch()
    {
        // PML needs "enable EPT" (26.2.1.1).
        var g = WithPml(511);
        g.Controls(proc2: SecondaryProcessorBasedControls.EnablePml);
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.ept.required", g.Cpu.LastVmEntryFailure!.Check);
        // The PML address must be 4-KiB aligned and within the physical-address width.
        foreach (ulong bad in new[] { Log | 8, 1UL << 50 })
        {
            g = WithPml(511);
            g.W(VmcsField.PmlAddress, bad);
            g.Guest(a => a.ud2());
            g.Launch();
            Assert.True(g.AtFailStop);
            Assert.Equal("control.pml-address", g.Cpu.LastVmEntryFailure!.Check);
        }
        // A processor without PML: the control may not be 1 and the fields do not exist.
        var caps = new VmxCapabilities
        {
            SecondaryProcessorBased = VmxCapabilities.Default.SecondaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.SecondaryProcessorBased.Allowed1 & ~SecondaryProcessorBasedControls.EnablePml,
            },
        };
        Assert.False(caps.Supports(VmcsField.PmlIndex));
        g = WithEpt(ad: true, proc2: SecondaryProcessorBasedControls.EnablePml, model: new CpuModel { Vmx = caps });
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.secondary.allowed-settings", g.Cpu.LastVmEntryFailure!.Check);
    }
}
