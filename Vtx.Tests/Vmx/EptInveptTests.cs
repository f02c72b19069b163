using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Cached guest-physical mappings and INVEPT (SDM Vol. 3C, 28.3; 29.4 in 2020+ editions): translations
/// derived from the EPT paging structures are cached tagged with the EPTRTA and survive VM exits and
/// entries, so a VMM that changes an EPT entry and resumes without INVEPT may see the guest still use the
/// old translation; INVEPT single-context (that EPTRTA) or all-context removes them, after which the new
/// entry is used. INVVPID and guest TLB maintenance do not touch them. Every scenario is deterministic.
/// </summary>
public class EptInveptTests
{
    private const ulong Old = Data, New = Data + 0x4000;

    /// <summary>The guest reads <see cref="Old"/>'s page twice around a VM exit (UD2); between them the VMM remaps it to <see cref="New"/>.</summary>
    private static VmxGuest ReadTwice(Action<Iced.Intel.Assembler>? between = null)
    {
        var g = WithEpt();
        g.S.W64(Old, 0x01D);
        g.S.W64(New, 0x11E);
        g.Guest(a =>
        {
            a.mov(rsi, __qword_ptr[Old]);
            a.ud2();
            between?.Invoke(a);
            a.mov(rdi, __qword_ptr[Old]);
            a.ud2();
        });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x01DUL, g.Cpu[Gpr.Rsi]);
        SetPte(g, Old, New | Leaf); // no INVEPT yet
        return g;
    }

    [Fact]
    public void WithoutInveptTheOldTranslationIsStillUsed()
    {
        var g = ReadTwice();
        Assert.True(g.Cpu.CachedGuestPhysicalMappings(Eptp) > 0);
        ResumeAfter(g);
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x01DUL, g.Cpu[Gpr.Rdi]);
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    public void AfterInveptTheNewEntryIsUsed(ulong type)
    {
        var g = ReadTwice();
        ResumeAfter(g, Invept(type, type == 1 ? Eptp : 0, g));
        Assert.Equal(0UL, g.S.R64(HostScratch + 0x10) & (ulong)(RFlags.CF | RFlags.ZF)); // VMsucceed
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x11EUL, g.Cpu[Gpr.Rdi]);
    }

    /// <summary>Single-context INVEPT for another EPTRTA leaves this one's mappings (and the descriptor's A/D bit does not matter: the tag is bits 51:12).</summary>
    [Theory]
    [InlineData(0xD_0000UL | 0x1E, 0x01DUL)]
    [InlineData(EptpAd, 0x11EUL)]
    public void SingleContextInveptOnlyDropsItsEptrta(ulong descriptor, ulong expected)
    {
        var g = ReadTwice();
        ResumeAfter(g, Invept(1, descriptor, g));
        Assert.Equal(0UL, g.S.R64(HostScratch + 0x10) & (ulong)(RFlags.CF | RFlags.ZF));
        Assert.Equal(expected, g.Cpu[Gpr.Rdi]);
    }

    /// <summary>INVVPID, and the guest's own MOV to CR3 and INVLPG, invalidate linear and combined mappings only (28.3.3.1).</summary>
    [Fact]
    public void InvvpidAndGuestTlbMaintenanceKeepGuestPhysicalMappings()
    {
        var g = ReadTwice(a => { a.mov(rax, cr3); a.mov(cr3, rax); a.invlpg(__byte_ptr[Old]); });
        g.S.W64(HostScratch + 0x20, 0);
        g.S.W64(HostScratch + 0x28, 0);
        ResumeAfter(g, a => { a.mov(ecx, 2); a.invvpid(rcx, __xmmword_ptr[HostScratch + 0x20]); });
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x01DUL, g.Cpu[Gpr.Rdi]);
    }

    /// <summary>
    /// Reduced permissions without INVEPT: the cached writable mapping still serves the write (as a
    /// processor may); after INVEPT the write is an EPT violation.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteProtectingNeedsInvept(bool invept)
    {
        var g = WithEpt();
        g.Guest(a =>
        {
            a.mov(__qword_ptr[Old], rax);
            a.ud2();
            a.mov(eax, 0x77);
            a.mov(__qword_ptr[Old], rax);
            a.ud2();
        });
        g.Launch();
        SetPte(g, Old, Old | (6 << 3) | 5); // read/execute only
        ResumeAfter(g, invept ? Invept(2, 0, g) : null);
        if (invept)
        {
            Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
            Assert.Equal(0UL, g.S.R64(Old));
        }
        else
        {
            Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
            Assert.Equal(0x77UL, g.S.R64(Old));
        }
    }

    /// <summary>With A/D flags on, a cached mapping that is already dirty serves writes without touching the entry: a VMM clearing D must INVEPT to see it set again.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ClearedDirtyFlagsAreSetAgainOnlyAfterInvept(bool invept)
    {
        var g = WithEpt(ad: true);
        g.Guest(a =>
        {
            a.mov(__qword_ptr[Old], rax);
            a.ud2();
            a.mov(__qword_ptr[Old + 8], rax);
            a.ud2();
        });
        g.Launch();
        Assert.Equal(A | D, Pte(g, Old) & (A | D));
        SetPte(g, Old, Old | Leaf); // the VMM clears A and D
        ResumeAfter(g, invept ? Invept(1, EptpAd, g) : null);
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(invept ? A | D : 0, Pte(g, Old) & (A | D));
    }

    /// <summary>An EPT violation drops the cached mapping of its address: after the VMM fixes the entry, the retried access walks again (no INVEPT needed).</summary>
    [Fact]
    public void AViolationDropsTheCachedMapping()
    {
        var g = WithEpt();
        SetPte(g, Old, Old | (6 << 3) | 5);
        g.S.W64(Old, 0x01D);
        g.S.W64(New, 0x11E);
        g.Guest(a => { a.mov(rax, __qword_ptr[Old]); a.mov(__qword_ptr[Old], rax); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        SetPte(g, Old, New | Leaf);
        g.W(VmcsField.GuestRip, g.R(VmcsField.GuestRip) - 2);
        ResumeAfter(g);
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x01DUL, g.S.R64(New)); // the write (of what was read from the old page) went through the new entry
    }

    [Fact]
    public void InveptTypeChecks()
    {
        var g = ReadTwice();
        ResumeAfter(g, Invept(1, Eptp | 0x80, g)); // bit 7 (supervisor shadow stack) not offered: VMfailValid(28)
        Assert.Equal((ulong)RFlags.ZF, g.S.R64(HostScratch + 0x10) & (ulong)(RFlags.CF | RFlags.ZF));
        Assert.Equal(0x01DUL, g.Cpu[Gpr.Rdi]); // nothing invalidated
    }
}
