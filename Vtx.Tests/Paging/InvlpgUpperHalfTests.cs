using Vtx.Tests.SystemArchitecture;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Paging;

/// <summary>
/// INVLPG invalidates the TLB entry of its page whatever half of the address space it is in (SDM
/// Vol. 2A, INVLPG; Vol. 3A, 4.10.4.1): after a PTE of an upper-half (kernel) address is rewritten and
/// the page invalidated, the next access uses the new translation. Linux's fixmap (early_memremap)
/// depends on it.
/// </summary>
public class InvlpgUpperHalfTests
{
    private const ulong Pdpt = 0x1C_0000, Pd = 0x1C_1000, Pt = 0x1C_2000, PageA = 0x1C_3000, PageB = 0x1C_4000;

    [Theory]
    [InlineData(0xFFFF_8000_0000_0000UL)]
    [InlineData(0xFFFF_FFFF_FF5F_F000UL)]
    [InlineData(0x0000_7FFF_FFFF_F000UL)]
    public void RewrittenPteIsSeenAfterInvlpg(ulong lin)
    {
        var s = new Sys();
        s.EnterLong(cpl: 0);
        int pml4i = (int)((lin >> 39) & 511), pdpti = (int)((lin >> 30) & 511), pdi = (int)((lin >> 21) & 511), pti = (int)((lin >> 12) & 511);
        s.W64(Sys.Pml4 + (ulong)pml4i * 8, Pdpt | 3);
        s.W64(Pdpt + (ulong)pdpti * 8, Pd | 3);
        s.W64(Pd + (ulong)pdi * 8, Pt | 3);
        s.W64(Pt + (ulong)pti * 8, PageA | 3);
        s.W64(PageA, 0xAAAA);
        s.W64(PageB, 0xBBBB);
        ulong pte = Pt + (ulong)pti * 8;
        s.Load(a =>
        {
            a.mov(rbx, lin);
            a.mov(r8, __qword_ptr[rbx]);                          // fills the TLB with lin -> A
            a.mov(rax, PageB | 3);
            a.mov(rcx, pte);
            a.mov(__qword_ptr[rcx], rax);                         // lin -> B in memory
            a.mov(r9, __qword_ptr[rbx]);                          // may still use the cached A (allowed)
            a.invlpg(__[rbx]);
            a.mov(r10, __qword_ptr[rbx]);                         // must use B
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0xAAAAUL, s.Cpu[Gpr.R8]);
        Assert.Equal(0xBBBBUL, s.Cpu[Gpr.R10]);
    }
}
