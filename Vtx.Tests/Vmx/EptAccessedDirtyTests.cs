using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// EPT accessed and dirty flags (SDM Vol. 3C, 28.2.4; 29.3.5 in 2020+ editions): EPTP bit 6 enables
/// them; every EPT entry used by a translation gets A, the entry mapping the page gets D on a write, and
/// the processor's accesses to guest paging structures count as writes (they need EPT write permission,
/// set D, and a violation on one reports bits 0 and 1). Checked against a reference walk written here.
/// </summary>
public class EptAccessedDirtyTests
{
    private sealed record Access(int Page, bool Write);
    private sealed record Case(bool Ad, ulong[] Perms, ulong[] Flags, Access[] Accesses);

    private const int Pages = 8;

    private static readonly Gen<Case> Cases =
        from ad in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        from perms in Gen.ArrayOf(Gen.Frequency((1, Gen.Constant(0UL)), (2, Gen.Constant(1UL)), (3, Gen.Constant(3UL)), (4, Gen.Constant(7UL))), Pages)
        from flags in Gen.ArrayOf(Gen.Elements(0UL, A, D, A | D), Pages)
        from n in Gen.Choose(1, 10)
        from accesses in Gen.ArrayOf(from p in Gen.Choose(0, Pages - 1) from w in Gen.Elements(false, true) select new Access(p, w), n)
        select new Case(ad, perms, flags, accesses);

    private static ulong PageGpa(int i) => Data + (ulong)i * 0x1000;

    /// <summary>
    /// The reference: each access walks PML4E, PDPTE, PDE and PTE (the upper three are RWX). An access
    /// is allowed when the PTE is present (bits 2:0 not 0) and grants R (read) or W (write); the first
    /// that is not ends the guest with an EPT violation whose qualification is the access (bit 0 or 1),
    /// the PTE's bits 2:0 in bits 5:3 (the upper entries grant all three), and bits 7 and 8 (a linear
    /// access, the final translation). An allowed access with A/D on sets A in the PTE, and D for a
    /// write; a violation sets nothing.
    /// </summary>
    private static (ulong[] Ptes, int Violator, ulong Qual) Reference(Case c)
    {
        var pte = new ulong[Pages];
        for (int i = 0; i < Pages; i++) pte[i] = PageGpa(i) | (6 << 3) | c.Perms[i] | c.Flags[i];
        for (int k = 0; k < c.Accesses.Length; k++)
        {
            var (p, w) = (c.Accesses[k].Page, c.Accesses[k].Write);
            ulong perm = pte[p] & 7;
            bool ok = perm != 0 && (w ? (perm & 2) != 0 : (perm & 1) != 0);
            if (!ok) return (pte, k, (w ? 2UL : 1UL) | perm << 3 | 0x180);
            if (c.Ad) pte[p] |= w ? A | D : A;
        }
        return (pte, -1, 0);
    }

    [Property(MaxTest = 60)]
    public Property EptFlagsFollowAReferenceWalk() => Prop.ForAll(Arb.From(Cases), c =>
    {
        var g = WithEpt(ad: c.Ad);
        for (int i = 0; i < Pages; i++) SetPte(g, PageGpa(i), PageGpa(i) | (6 << 3) | c.Perms[i] | c.Flags[i]);
        g.Guest(a =>
        {
            foreach (var x in c.Accesses)
            {
                if (x.Write) a.mov(__qword_ptr[PageGpa(x.Page) + 0x18], rax);
                else a.mov(rax, __qword_ptr[PageGpa(x.Page) + 0x18]);
            }
            a.ud2();
        });
        g.Launch();
        var (expected, violator, qual) = Reference(c);
        for (int i = 0; i < Pages; i++)
            Assert.True(expected[i] == Pte(g, PageGpa(i)), $"page {i}: expected 0x{expected[i]:X}, got 0x{Pte(g, PageGpa(i)):X}");
        if (violator < 0) Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        else
        {
            Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
            Assert.Equal(qual, g.R(VmcsField.ExitQualification));
            Assert.Equal(PageGpa(c.Accesses[violator].Page) + 0x18, g.R(VmcsField.GuestPhysicalAddress));
        }
        // The entries above the pages, the code page and the guest's paging structures (PML4 at 4000h,
        // PDPT at 5000h, PD at 6000h): A on every entry used when A/D flags are on, D on the code page
        // never (fetches are reads), D on the paging-structure pages always (their accesses are writes).
        ulong used = c.Ad ? A : 0;
        Assert.Equal(used, g.S.R64(Pml4) & (A | D));
        Assert.Equal(used, g.S.R64(Pdpt) & (A | D));
        Assert.Equal(used, g.S.R64(Pd) & (A | D));
        Assert.Equal(used, Pte(g, VmxGuest.GuestCode) & (A | D));
        foreach (ulong table in new[] { Sys.Pml4, Sys.Pdpt, Sys.Pd })
            Assert.Equal(c.Ad ? A | D : 0, Pte(g, table) & (A | D));
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GuestPagingStructureAccessesNeedEptWritePermissionOnlyWithAccessedDirtyFlags(bool ad)
    {
        var g = WithEpt(ad: ad);
        // The guest's tables already have their A (and D) flags: the walk itself writes nothing.
        g.S.W64(Sys.Pml4, g.S.R64(Sys.Pml4) | 0x20);
        g.S.W64(Sys.Pdpt, g.S.R64(Sys.Pdpt) | 0x20);
        for (ulong i = 0; i < 512; i++) g.S.W64(Sys.Pd + i * 8, g.S.R64(Sys.Pd + i * 8) | 0x60);
        SetPte(g, Sys.Pml4, Sys.Pml4 | (6 << 3) | 5); // read/execute: no write permission
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        if (!ad)
        {
            Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
            return;
        }
        // The first access (the fetch's walk) reads the PML4E: a write for EPT, reported as read and write,
        // a guest-linear address that is not the final translation (bit 8 clear), rights R and X.
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(3UL | 5 << 3 | 1 << 7, g.R(VmcsField.ExitQualification));
        Assert.Equal(Sys.Pml4, g.R(VmcsField.GuestPhysicalAddress));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestLinearAddress));
        Assert.Equal(0UL, Pte(g, Sys.Pml4) & (A | D));
    }

    [Fact]
    public void LargeEptPagesGetTheirFlagsInTheEntryMappingThePage()
    {
        var g = WithEpt(ad: true);
        // A 2-MiB EPT page: guest-physical 2 MiB..4 MiB onto host-physical 0..2 MiB.
        g.S.W64(Pd + 8, 0x80 | Leaf);
        g.Guest(a => { a.mov(rax, 0x1234_5678); a.mov(__qword_ptr[0x30_0018], rax); a.mov(rbx, __qword_ptr[0x21_0000]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x1234_5678UL, g.S.R64(0x10_0018));
        Assert.Equal(A | D, g.S.R64(Pd + 8) & (A | D));
        Assert.Equal(A, g.S.R64(Pdpt) & (A | D)); // non-leaf entries have no dirty flag to set
    }

    [Fact]
    public void WithoutTheCapabilityEptpBit6FailsVmEntry()
    {
        var caps = new VmxCapabilities { EptVpidCapabilities = VmxCapabilities.Default.EptVpidCapabilities & ~EptVpidCapability.AccessedDirtyFlags };
        var g = WithEpt(ad: true, model: new CpuModel { Vmx = caps });
        Assert.Equal(0UL, g.Cpu.ReadMsr(VmxMsr.EptVpidCap)!.Value & EptVpidCapability.AccessedDirtyFlags);
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.True(g.AtFailStop);
        Assert.Equal("control.eptp", g.Cpu.LastVmEntryFailure!.Check);
    }
}
