using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Bit 12 of the exit qualification of EPT violations and page-modification log-full events, "NMI
/// unblocking due to IRET" (SDM Vol. 3C, 27.2.1, Tables 27-7 and 27-8): set when the access was made by
/// an IRET executed with NMI blocking in effect (NMI exiting = 0 here, so the bit is defined), clear
/// otherwise; the same value goes to the #VE information area when the violation is converted.
/// </summary>
public class EptExitQualificationTests
{
    /// <summary>A guest whose IRETQ pops its frame from the <see cref="Data"/> page; <paramref name="nmiBlocked"/> sets blocking by NMI at entry.</summary>
    private static VmxGuest IretFromData(bool nmiBlocked, uint proc2 = 0, bool ad = false)
    {
        var g = WithEpt(ad: ad, proc2: proc2);
        g.W(VmcsField.GuestRsp, Data + 0x100);
        g.W(VmcsField.GuestInterruptibilityState, nmiBlocked ? 8UL : 0);
        g.Guest(a => a.iretq());
        return g;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EptViolationDuringIret(bool nmiBlocked)
    {
        var g = IretFromData(nmiBlocked);
        SetPte(g, Data, 0);
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(0x181UL | (nmiBlocked ? 1UL << 12 : 0), g.R(VmcsField.ExitQualification));
        Assert.Equal(Data + 0x100, g.R(VmcsField.GuestPhysicalAddress));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PmlFullDuringIret(bool nmiBlocked)
    {
        var g = IretFromData(nmiBlocked, SecondaryProcessorBasedControls.EnablePml, ad: true);
        g.W(VmcsField.PmlAddress, 0x7_0000);
        g.W(VmcsField.PmlIndex, 0xFFFF);
        // Everything accessed and dirty except the frame's page: only the IRET's read needs a flag.
        for (ulong p = 0; p < 512; p++) g.S.W64(PteAddress(p << 12), g.S.R64(PteAddress(p << 12)) | A | D);
        foreach (ulong e in new[] { Pml4, Pdpt, Pd }) g.S.W64(e, g.S.R64(e) | A);
        SetPte(g, Data, Data | Leaf);
        g.Launch();
        Assert.Equal(VmxExitReason.PmlFull, g.ExitReason);
        Assert.Equal(nmiBlocked ? 1UL << 12 : 0, g.R(VmcsField.ExitQualification));
    }

    [Fact]
    public void ConvertedViolationDuringIretCarriesBit12IntoTheInformationArea()
    {
        var g = IretFromData(nmiBlocked: true, SecondaryProcessorBasedControls.EptViolationVe);
        g.W(VmcsField.VirtualizationExceptionInformationAddress, 0x7_1000);
        for (ulong i = 0; i < 64; i += 8) g.S.W64(0x7_1000 + i, 0);
        SetPte(g, Data, 0);
        // The #VE frame goes on the same (unmapped) stack: that violation, during delivery, exits.
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(0x8000_0314UL, g.R(VmcsField.IdtVectoringInformation)); // delivering the #VE
        Assert.Equal(0x181UL | 1UL << 12, g.S.R64(0x7_1000 + 8));
    }
}
