using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>EPT translation, EPT violations and misconfigurations (SDM Vol. 3C, 28.2, 27.2.1).</summary>
public class EptTests
{
    private const ulong Pml4 = 0xC_0000, Pdpt = 0xC_1000, Pd = 0xC_2000, Pt = 0xC_3000;
    private const ulong Eptp = Pml4 | 6 | (3 << 3); // write-back, 4-level walk

    /// <summary>A guest with EPT identity-mapping the first 2 MiB with 4-KiB pages (RWX, write-back).</summary>
    private static VmxGuest WithEpt()
    {
        var g = new VmxGuest();
        g.S.W64(Pml4, Pdpt | 7);
        g.S.W64(Pdpt, Pd | 7);
        g.S.W64(Pd, Pt | 7);
        for (ulong i = 0; i < 512; i++) g.S.W64(Pt + i * 8, (i << 12) | (6 << 3) | 7);
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt);
        g.W(VmcsField.EptPointer, Eptp);
        g.W(VmcsField.ExceptionBitmap, 1u << 6); // UD2 ends the guest with an exit
        return g;
    }

    private static void SetPte(VmxGuest g, ulong gpa, ulong entry) => g.S.W64(Pt + (gpa >> 12) * 8, entry);

    [Fact]
    public void IdentityEptRunsTheGuestUnchanged()
    {
        var g = WithEpt();
        g.S.W64(0x9000, 0x1122_3344_5566_7788);
        g.Guest(a => { a.mov(rax, __qword_ptr[0x9000]); a.mov(__qword_ptr[0x9008], rax); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x1122_3344_5566_7788UL, g.S.R64(0x9008));
    }

    [Fact]
    public void EptRemapsAGuestPhysicalPage()
    {
        var g = WithEpt();
        g.S.W64(0x9000, 1);
        g.S.W64(0x1_F000, 2);
        SetPte(g, 0x9000, 0x1_F000 | (6 << 3) | 7);
        g.Guest(a => { a.mov(rax, __qword_ptr[0x9000]); a.ud2(); });
        g.Launch();
        Assert.Equal(2UL, g.Cpu[Gpr.Rax]);
    }

    /// <summary>
    /// EPT reaches host-physical memory above 4 GiB (SDM Vol. 3C, 28.2.2: the entry's address bits go up to
    /// MAXPHYADDR): a 6-GiB machine (RAM at 0-3 GiB and 4-7 GiB around the PCI hole), guest-physical page
    /// 9000h mapped to 1_8000_0000h (6 GiB); the guest's read and write land there and nowhere else.
    /// </summary>
    [Fact]
    public void EptMapsAGuestPageToMemoryAbove4GiB()
    {
        const ulong High = 0x1_8000_0000;
        var g = new VmxGuest(memoryMiB: 6144);
        g.S.W64(Pml4, Pdpt | 7);
        g.S.W64(Pdpt, Pd | 7);
        g.S.W64(Pd, Pt | 7);
        for (ulong i = 0; i < 512; i++) g.S.W64(Pt + i * 8, (i << 12) | (6 << 3) | 7);
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt);
        g.W(VmcsField.EptPointer, Eptp);
        g.W(VmcsField.ExceptionBitmap, 1u << 6);
        SetPte(g, 0x9000, High | (6 << 3) | 7);
        g.S.W64(High, 0x0BAD_F00D_1234_5678);
        g.S.W64(0x9000, 1);
        g.Guest(a => { a.mov(rax, __qword_ptr[0x9000]); a.mov(rbx, 0x7777UL); a.mov(__qword_ptr[0x9008], rbx); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x0BAD_F00D_1234_5678UL, g.Cpu[Gpr.Rax]);
        Assert.Equal(0x7777UL, g.S.R64(High + 8));
        Assert.Equal(0UL, g.S.R64(0x9008));                       // the guest-physical page's identity frame is untouched
    }

    [Theory]
    [InlineData(0UL, false, 0x181UL)]            // not present, read: R access, no rights, GLA valid, final translation
    [InlineData(1UL, true, 0x18AUL)]             // read-only page, write: W access, R allowed
    public void EptViolationReportsQualificationAndAddresses(ulong perm, bool write, ulong qual)
    {
        var g = WithEpt();
        SetPte(g, 0x9000, perm == 0 ? 0 : 0x9000 | (6 << 3) | perm);
        g.Guest(a =>
        {
            if (write) a.mov(__qword_ptr[0x9010], rax);
            else a.mov(rax, __qword_ptr[0x9010]);
            a.ud2();
        });
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(qual, g.R(VmcsField.ExitQualification));
        Assert.Equal(0x9010UL, g.R(VmcsField.GuestPhysicalAddress));
        Assert.Equal(0x9010UL, g.R(VmcsField.GuestLinearAddress));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestRip));
    }

    [Fact]
    public void FetchFromANonExecutablePageIsAnEptViolation()
    {
        var g = WithEpt();
        SetPte(g, VmxGuest.GuestCode, VmxGuest.GuestCode | (6 << 3) | 3);
        g.Guest(a => a.nop());
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(4UL | (3 << 3) | 0x180, g.R(VmcsField.ExitQualification));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestPhysicalAddress));
    }

    [Fact]
    public void GuestPagingStructureAccessIsReportedAsNotTheFinalTranslation()
    {
        var g = WithEpt();
        SetPte(g, Sys.Pd, 0); // the guest's page directory is not mapped by EPT
        g.Guest(a => a.nop());
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        ulong q = g.R(VmcsField.ExitQualification);
        Assert.Equal(0x81UL, q & 0x1FF); // read, GLA valid, bit 8 clear: a paging-structure access
        Assert.Equal(Sys.Pd >> 12, g.R(VmcsField.GuestPhysicalAddress) >> 12);
    }

    [Fact]
    public void WriteOnlyEntryIsAMisconfiguration()
    {
        var g = WithEpt();
        SetPte(g, 0x9000, 0x9000 | (6 << 3) | 2);
        g.Guest(a => { a.mov(rax, __qword_ptr[0x9000]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.EptMisconfiguration, g.ExitReason);
        Assert.Equal(0x9000UL, g.R(VmcsField.GuestPhysicalAddress));
    }

    [Fact]
    public void InvalidEptPointerFailsTheEntryWithVmFailValid7()
    {
        var g = WithEpt();
        g.W(VmcsField.EptPointer, Pml4 | 1 | (3 << 3)); // memory type 1 is not a valid EPT paging-structure type
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.eptp", g.Cpu.LastVmEntryFailure!.Check);
    }

    [Fact]
    public void UnrestrictedGuestRunsInRealModeThroughEpt()
    {
        var g = WithEpt();
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt | SecondaryProcessorBasedControls.UnrestrictedGuest, entry: 0);
        // A real-mode guest: CR0.PE = PG = 0, 16-bit segments with base = selector << 4.
        g.W(VmcsField.GuestCr0, Cr0.NE | Cr0.ET);
        g.W(VmcsField.GuestCr4, Cr4.VMXE);
        g.W(VmcsField.GuestEfer, 0);
        foreach (var (sel, b, lim, ar) in new[]
        {
            (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights),
            (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights),
            (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights),
            (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights),
            (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights),
            (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights),
        })
        {
            g.W(sel, 0x3000);
            g.W(b, 0x3_0000);
            g.W(lim, 0xFFFF);
            g.W(ar, sel == VmcsField.GuestCsSelector ? 0x9BUL : 0x93UL);
        }
        g.W(VmcsField.GuestRip, 0);
        g.W(VmcsField.GuestRsp, 0x8000);
        g.W(VmcsField.GuestTrAccessRights, 0x8B);
        g.S.Load(a => { a.mov(ax, 0x1234); a.mov(__word_ptr[0x100], ax); a.ud2(); }, VmxGuest.GuestCode, bitness: 16);
        // Real mode delivers #UD through the IVT at guest-physical 0: point vector 6 at a HLT.
        g.S.W16(6 * 4, 0x200);
        g.S.W16(6 * 4 + 2, 0x3000);
        g.S.W8(0x3_0200, 0xF4);
        g.W(VmcsField.ExceptionBitmap, 0);
        var r = g.Launch();
        Assert.True(g.Cpu.InVmxNonRoot, r.ToString());
        Assert.Equal(0x1234, g.S.R16(0x3_0100));
        Assert.Equal(OperatingMode.Real, g.Cpu.Mode);
    }
}
