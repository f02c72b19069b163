using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Paging;

/// <summary>
/// The TLB's architectural flush rules (SDM Vol. 3A, 4.10.4): a translation changed in memory may
/// stay stale until invalidated; MOV CR3 drops non-global translations but keeps global ones;
/// INVLPG drops the page's translation whatever it is.
/// </summary>
public class TlbTests
{
    private const ulong Pml4 = 0x10000, Pdpt = 0x11000, Pd = 0x12000, Pt = 0x13000;

    private static Machine Paged(bool global, out ulong[] results)
    {
        var code = Guest.Assemble(a =>
        {
            a.mov(rax, __qword_ptr[0x40_0000]);                 // fills the TLB
            a.mov(r8, 0x60_0003UL | (global ? 0x100UL : 0));
            a.mov(__qword_ptr[Pt], r8);                          // remap without invalidating
            a.mov(rbx, __qword_ptr[0x40_0000]);                 // may be stale
            a.mov(r9, cr3);
            a.mov(cr3, r9);                                      // drops non-global translations
            a.mov(rdx, __qword_ptr[0x40_0000]);
            a.invlpg(__byte_ptr[0x40_0000]);                     // drops this page's translation
            a.mov(rsi, __qword_ptr[0x40_0000]);
            a.hlt();
        });
        var m = Guest.Load(code, memoryMiB: 8);
        void W(ulong at, ulong v) => m.WriteMemory(at, BitConverter.GetBytes(v));
        W(Pml4, Pdpt | 3);
        W(Pdpt, Pd | 3);
        W(Pd, 0x83);                                             // 0-2 MiB identity (code, stack, tables)
        W(Pd + 2 * 8, Pt | 3);                                   // 4-6 MiB through a page table
        W(Pt, 0x50_0003UL | (global ? 0x100UL : 0));
        W(0x50_0000, 0x1111);
        W(0x60_0000, 0x2222);
        m.Cpu.Cr4Value = Cr4.PAE | Cr4.PGE;
        m.Cpu.Cr3Value = Pml4;
        m.Cpu.Cr0Value = m.Cpu.Cr0Value | Cr0.PG;
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Halted, r.Reason);
        results = new[] { m.Cpu[Gpr.Rax], m.Cpu[Gpr.Rbx], m.Cpu[Gpr.Rdx], m.Cpu[Gpr.Rsi] };
        return m;
    }

    [Fact]
    public void MovCr3DropsANonGlobalTranslation()
    {
        Paged(global: false, out var v);
        Assert.Equal(new ulong[] { 0x1111, 0x1111, 0x2222, 0x2222 }, v);
    }

    [Fact]
    public void AGlobalTranslationSurvivesMovCr3UntilInvlpg()
    {
        Paged(global: true, out var v);
        Assert.Equal(new ulong[] { 0x1111, 0x1111, 0x1111, 0x2222 }, v);
    }
}
