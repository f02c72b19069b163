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

    /// <summary>PML4 <paramref name="pml4"/> maps the low 2 MiB (code, stack, tables) identity with one 2-MiB page through the shared PDPT and PD.</summary>
    private static void MapLowIdentity(Machine m, ulong pml4)
    {
        m.WriteMemory(pml4, BitConverter.GetBytes(Pdpt | 3));
        m.WriteMemory(Pdpt, BitConverter.GetBytes(Pd | 3));
        m.WriteMemory(Pd, BitConverter.GetBytes(0x83UL));
    }

    /// <summary>Turns 4-level paging on with <paramref name="cr4"/> and CR3 = <see cref="Pml4"/>, runs, and expects the guest's HLT.</summary>
    private static void RunPaged(Machine m, ulong cr4, int instructions)
    {
        m.Cpu.Cr4Value = cr4;
        m.Cpu.Cr3Value = Pml4;
        m.Cpu.Cr0Value = m.Cpu.Cr0Value | Cr0.PG;
        var r = m.Run(RunLimits.Instructions((ulong)instructions));
        Assert.Equal(StopReason.Halted, r.Reason);
    }

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
        MapLowIdentity(m, Pml4);
        W(Pd + 2 * 8, Pt | 3);                                   // 4-6 MiB through a page table
        W(Pt, 0x50_0003UL | (global ? 0x100UL : 0));
        W(0x50_0000, 0x1111);
        W(0x60_0000, 0x2222);
        RunPaged(m, Cr4.PAE | Cr4.PGE, 100);
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

    /// <summary>
    /// INVLPG of a higher-half (kernel) address drops its translation (SDM Vol. 3A, INVLPG; 4.10.4.1): the
    /// software TLB keys pages by the linear page number cut to the paging width, so the sign-extension bits
    /// of a canonical address do not hide the entry from INVLPG (nor alias it with a PCID).
    /// </summary>
    [Fact]
    public void InvlpgDropsAHigherHalfTranslation()
    {
        const ulong Pdpt2 = 0x14000, Pd2 = 0x15000, Pt2 = 0x16000, Kernel = 0xFFFF_8000_0000_0000;
        var code = Guest.Assemble(a =>
        {
            a.mov(rcx, Kernel);
            a.mov(rax, __qword_ptr[rcx]);                        // fills the TLB
            a.mov(r8, 0x60_0003UL);
            a.mov(__qword_ptr[Pt2], r8);                         // remap without invalidating
            a.invlpg(__byte_ptr[rcx]);
            a.mov(rsi, __qword_ptr[rcx]);
            a.hlt();
        });
        var m = Guest.Load(code, memoryMiB: 8);
        void W(ulong at, ulong v) => m.WriteMemory(at, BitConverter.GetBytes(v));
        MapLowIdentity(m, Pml4);
        W(Pml4 + 256 * 8, Pdpt2 | 3);                            // PML4 entry 256: 0xFFFF8000_00000000
        W(Pdpt2, Pd2 | 3);
        W(Pd2, Pt2 | 3);
        W(Pt2, 0x50_0003UL);
        W(0x50_0000, 0x1111);
        W(0x60_0000, 0x2222);
        RunPaged(m, Cr4.PAE, 100);
        Assert.Equal(0x1111UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(0x2222UL, m.Cpu[Gpr.Rsi]);
    }

    /// <summary>
    /// Translations are associated with the PCID they were made under, and only the current PCID's are
    /// used (SDM Vol. 3A, 4.10.1, 4.10.2.4): two address spaces that map the same higher-half address to
    /// different frames, switched by MOV CR3 with bit 63 set (no invalidation), each read their own frame.
    /// PCIDs 0 and 1 differ only in bits 5:0, which once shared tag bits with a higher-half page number.
    /// </summary>
    [Fact]
    public void PcidsKeepHigherHalfTranslationsApart()
    {
        const ulong Pml4B = 0x20000, PdptK = 0x14000, PdK = 0x15000, PtA = 0x16000, PtB = 0x17000, Kernel = 0xFFFF_8000_0000_0000;
        var code = Guest.Assemble(a =>
        {
            a.mov(rcx, Kernel);
            a.mov(rax, __qword_ptr[rcx]);                        // PCID 0 translation
            a.mov(r8, Pml4B | 1 | (1UL << 63));
            a.mov(cr3, r8);                                      // PCID 1, no invalidation
            a.mov(rbx, __qword_ptr[rcx]);                        // must walk PCID 1's tables
            a.mov(r8, Pml4 | (1UL << 63));
            a.mov(cr3, r8);                                      // back to PCID 0, no invalidation
            a.mov(rdx, __qword_ptr[rcx]);
            a.hlt();
        });
        var m = Guest.Load(code, memoryMiB: 8);
        void W(ulong at, ulong v) => m.WriteMemory(at, BitConverter.GetBytes(v));
        MapLowIdentity(m, Pml4);
        MapLowIdentity(m, Pml4B);
        W(Pml4 + 256 * 8, PdptK | 3);
        W(PdptK, PdK | 3);
        W(PdK, PtA | 3);
        W(PtA, 0x50_0003UL);
        W(Pml4B + 256 * 8, 0x18003);                              // PCID 1: its own PDPT -> PD -> PT
        W(0x18000, 0x19003);
        W(0x19000, PtB | 3);
        W(PtB, 0x60_0003UL);
        W(0x50_0000, 0x1111);
        W(0x60_0000, 0x2222);
        RunPaged(m, Cr4.PAE | Cr4.PCIDE, 100);
        Assert.Equal(new ulong[] { 0x1111, 0x2222, 0x1111 }, new[] { m.Cpu[Gpr.Rax], m.Cpu[Gpr.Rbx], m.Cpu[Gpr.Rdx] });
    }

    /// <summary>
    /// A MOV to CR4 that changes PGE invalidates every translation, global ones included (SDM Vol. 3A,
    /// 4.10.4.1), every time: 20 rounds of remap + flush + read, more than the software TLB's flush
    /// generations, each read seeing the page the entry names after the remap.
    /// </summary>
    [Fact]
    public void EveryFullFlushDropsTheOldTranslation()
    {
        var code = Guest.Assemble(a =>
        {
            var loop = a.CreateLabel();
            a.xor(esi, esi);
            a.mov(ecx, 20);
            a.Label(ref loop);
            a.mov(rax, __qword_ptr[0x40_0000]);                 // fills the TLB with the current mapping
            a.mov(r8, __qword_ptr[Pt]);
            a.xor(r8, 0x30_0000);                                // 0x50_0000 <-> 0x60_0000
            a.mov(__qword_ptr[Pt], r8);
            a.mov(r9, cr4);
            a.xor(r9, (int)Cr4.PGE);
            a.mov(cr4, r9);                                      // PGE changes: full flush
            a.mov(rdx, __qword_ptr[0x40_0000]);
            a.add(rsi, rdx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var m = Guest.Load(code, memoryMiB: 8);
        void W(ulong at, ulong v) => m.WriteMemory(at, BitConverter.GetBytes(v));
        MapLowIdentity(m, Pml4);
        W(Pd + 2 * 8, Pt | 3);
        W(Pt, 0x50_0003UL | 0x100);                              // global
        W(0x50_0000, 0x1111);
        W(0x60_0000, 0x2222);
        RunPaged(m, Cr4.PAE | Cr4.PGE, 1000);
        // Rounds alternate: after the first remap the page is 0x60_0000 (0x2222), then 0x50_0000 (0x1111), ...
        Assert.Equal(10UL * 0x2222 + 10UL * 0x1111, m.Cpu[Gpr.Rsi]);
    }
}
