using Iced.Intel;
using Vtx.Tests.Support;
using Vtx.Timing;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Timing;

/// <summary>
/// Issue 10, "beyond the core": page walks on data-TLB misses, REP string throughput, CPUID leaf classes,
/// MOV to CR3, uncached MMIO and the optional cache model. Every expected figure is computed here from the
/// profile's cited data (TLB sizes, STLB-hit and walk cycles, fast-string start-up and rates, cache sizes and
/// latencies) by the textbook rule, never read back from a run: the programs compared execute the same
/// instruction stream, so the block simulation charges both the same and the difference is the part under test.
/// </summary>
public sealed class BeyondTheCoreTests
{
    public static TheoryData<string> CoreProfiles => new() { "skylake-client", "haswell" };

    private const ulong Pml4 = 0x10000, Pdpt = 0x11000, Pd = 0x12000, PtBase = 0x20000; // PTs at 0x20000.. (8 of them)
    private const ulong Window = 0x4000_0000;    // 1 GiB: 4-KByte pages mapped by the page tables below
    private const int WindowPages = 4096;        // 16 MiB of linear addresses over 64 KiB of physical memory
    private const ulong Frames = 0x10_0000;      // physical frames behind the window (16 of them, aliased)

    /// <summary>
    /// A 4-level paged machine: 0-2 MiB identity-mapped by one 2-MByte page (code, stack, tables) and
    /// <see cref="WindowPages"/> 4-KByte pages at <see cref="Window"/> that alias 16 physical frames (the TLB
    /// caches linear pages, so aliasing keeps memory small). The loop reads RCX rounds of RDX pages, RBX apart.
    /// </summary>
    private static Machine PagedLoop(TimingProfile p, ulong rounds, ulong pages, ulong stride, bool cacheTiming = false, bool dataBreakpoint = false)
    {
        var code = Guest.Assemble(a =>
        {
            var outer = a.CreateLabel();
            var inner = a.CreateLabel();
            a.mov(rax, dataBreakpoint ? 0xF_0001UL : 0UL);  // DR7.L0, R/W0 = 11b, LEN0 = 8 bytes at DR0 (never read), or nothing armed
            a.mov(rdi, 0x7_F000UL);
            a.mov(dr0, rdi);
            a.mov(dr7, rax);
            a.mov(rcx, rounds);
            a.Label(ref outer);
            a.mov(rsi, Window);
            a.mov(rdx, pages);
            a.Label(ref inner);
            a.mov(rax, __qword_ptr[rsi]);
            a.add(rsi, rbx);
            a.dec(rdx);
            a.jne(inner);
            a.dec(rcx);
            a.jne(outer);
            a.hlt();
        });
        var m = new Machine(new MachineOptions { MemoryMiB = 4, CpuModel = new CpuModel { Timing = p, CacheTiming = cacheTiming } });
        m.WriteMemory(Guest.CodeBase, code);
        void W(ulong at, ulong v) => m.WriteMemory(at, BitConverter.GetBytes(v));
        W(Pml4, Pdpt | 3);
        W(Pdpt, Pd | 3);
        W(Pdpt + 8, 0x30000 | 3);                                       // the window's page directory (1 GiB at Window)
        W(Pd, 0x83);                                                     // 0-2 MiB identity
        for (int t = 0; t < WindowPages / 512; t++)
        {
            W(0x30000 + 8UL * (ulong)t, (PtBase + 0x1000UL * (ulong)t) | 3);
            for (int i = 0; i < 512; i++)
                W(PtBase + 0x1000UL * (ulong)t + 8UL * (ulong)i, (Frames + 0x1000UL * (ulong)((t * 512 + i) % 16)) | 3);
        }
        m.Cpu.Cr4Value = Cr4.PAE;
        m.Cpu.Cr3Value = Pml4;
        m.Cpu.Cr0Value = m.Cpu.Cr0Value | Cr0.PG;
        m.Cpu.Rip = Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Guest.StackTop;
        m.Cpu[Gpr.Rbx] = stride;
        return m;
    }

    private static RunResult RunToHalt(Machine m)
    {
        var r = m.Run(RunLimits.Instructions(10_000_000));
        Assert.Equal(StopReason.Halted, r.Reason);
        return r;
    }

    /// <summary>A native 4-level walk of a 4-KByte page reads 4 entries: the profile's walk figure as it stands.</summary>
    private static long Walk(TimingProfile p) => Math.Max(p.System(SystemCost.StlbHit), p.System(SystemCost.PageWalk));

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void ThrashingTheStlbCostsAWalkPerAccessAndAResidentPageNone(string name)
    {
        var p = TimingProfile.ByName(name);
        TlbGeometry stlb = p.Tlb(TlbStructure.Stlb);
        // More pages than the STLB holds, read in order: with FIFO (and LRU) every access misses both levels.
        ulong pages = (ulong)stlb.Entries * 2, rounds = 3;
        Assert.True(pages <= WindowPages);
        var thrash = RunToHalt(PagedLoop(p, rounds, pages, 0x1000));
        var resident = RunToHalt(PagedLoop(p, rounds, pages, 0)); // the same instructions on one page: one walk in all
        Assert.Equal(resident.Instructions, thrash.Instructions);
        long expected = ((long)(rounds * pages) - 1) * Walk(p);
        Assert.Equal(expected, (long)thrash.Cycles - (long)resident.Cycles);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void PagesThatFitTheStlbButNotTheFirstLevelPayTheStlbHit(string name)
    {
        var p = TimingProfile.ByName(name);
        TlbGeometry l1 = p.Tlb(TlbStructure.Dtlb4K), stlb = p.Tlb(TlbStructure.Stlb);
        int l1Sets = l1.Entries / l1.Ways, stlbSets = stlb.Entries / stlb.Ways;
        // Pages l1Sets apart all fall in one first-level set: one more than its ways thrashes it (FIFO), while in
        // the STLB (more sets) they spread and stay. Their software-TLB slots differ, so this also checks that the
        // software TLB drops what the model evicts (else its hits would skip the STLB-hit charge).
        ulong pages = (ulong)l1.Ways + 1, rounds = 5;
        Assert.True((long)pages * l1Sets <= stlbSets); // the pages fall in distinct STLB sets
        var conflict = RunToHalt(PagedLoop(p, rounds, pages, 0x1000UL * (ulong)l1Sets));
        var resident = RunToHalt(PagedLoop(p, rounds, pages, 0));
        long expected = ((long)pages - 1) * Walk(p) + (long)((rounds - 1) * pages) * p.System(SystemCost.StlbHit);
        Assert.Equal(expected, (long)conflict.Cycles - (long)resident.Cycles);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void HostWatchpointsAndDataBreakpointsDoNotChangeGuestCycles(string name)
    {
        // With a host watchpoint or an armed data breakpoint every access takes the slow path (the software TLB
        // fills nothing), so the model is consulted on every access: the cycles must be the same.
        var p = TimingProfile.ByName(name);
        int l1Sets = p.Tlb(TlbStructure.Dtlb4K).Entries / p.Tlb(TlbStructure.Dtlb4K).Ways;
        foreach (ulong stride in (ulong[])[0x1000, 0x1000UL * (ulong)l1Sets, 0x3000])
        {
            var plain = RunToHalt(PagedLoop(p, 3, 200, stride));
            var watched = PagedLoop(p, 3, 200, stride);
            Assert.True(watched.Cpu.AddHostWatchpoint(0x7_F800, 8, WatchKind.Access)); // never touched
            var w = RunToHalt(watched);
            var breakpoint = RunToHalt(PagedLoop(p, 3, 200, stride, dataBreakpoint: true));
            var noBreakpoint = RunToHalt(PagedLoop(p, 3, 200, stride, dataBreakpoint: false));
            Assert.Equal(plain.Cycles, w.Cycles);
            Assert.Equal(plain.Instructions, w.Instructions);
            Assert.Equal(noBreakpoint.Cycles, breakpoint.Cycles);
            Assert.Equal(plain.Cycles, noBreakpoint.Cycles);
        }
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void TlbAndCacheStateSurviveASnapshot(string name)
    {
        // The model state is processor state: a restored machine continues with the same TLB/cache contents,
        // so the rest of the run costs the same as without the snapshot.
        var p = TimingProfile.ByName(name);
        foreach (bool cache in (bool[])[false, true])
        {
            var whole = RunToHalt(PagedLoop(p, 4, 200, 0x1000UL * 16, cache));
            var m = PagedLoop(p, 4, 200, 0x1000UL * 16, cache);
            var first = m.Run(RunLimits.Instructions(777));
            var snap = m.Snapshot();
            var rest = RunToHalt(m);
            Assert.Equal(whole.Cycles, first.Cycles + rest.Cycles);
            // Disturb the models (a fresh TLB and cache) and restore: the same rest again.
            m.Cpu.Cr3Value = Pml4;
            m.Restore(snap);
            var again = RunToHalt(m);
            Assert.Equal(rest.Cycles, again.Cycles);
        }
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void MovToCr3FlushesTheModelAndPaysItsCost(string name)
    {
        // MOV CR3 (no PCID) drops the non-global translations: the next round walks again; MOV CR2 (the same
        // Iced form, so the same block cost) drops nothing. CR3 also pays the profile's flush figure beyond MOV to CR.
        var p = TimingProfile.ByName(name);
        Machine Make(bool flushCr3)
        {
            var code = Guest.Assemble(a =>
            {
                a.mov(rsi, Window);
                a.mov(rax, __qword_ptr[rsi]);
                a.mov(rax, __qword_ptr[rsi + 0x1000]);
                a.mov(rdi, Pml4);
                if (flushCr3) a.mov(cr3, rdi); else a.mov(cr2, rdi);
                a.mov(rax, __qword_ptr[rsi]);
                a.mov(rax, __qword_ptr[rsi + 0x1000]);
                a.hlt();
            });
            var m = PagedLoop(p, 1, 1, 0);
            m.WriteMemory(Guest.CodeBase, code);
            return m;
        }
        var flush = RunToHalt(Make(true));
        var keep = RunToHalt(Make(false));
        long extra = Math.Max(0, p.System(SystemCost.MovToCr3) - p.Get(Code.Mov_cr_r64, false).Latency);
        Assert.Equal(2 * Walk(p) + extra, (long)flush.Cycles - (long)keep.Cycles);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void InvlpgOfALargePageDropsEveryPieceOfItFromTheSoftwareTlb(string name)
    {
        // The 2-MByte identity page is held by the model as one entry; INVLPG of one address in it drops it,
        // and every 4-KByte software entry inside it must go too (else their hits would skip the walk).
        var p = TimingProfile.ByName(name);
        Machine Make(bool watch)
        {
            var code = Guest.Assemble(a =>
            {
                a.mov(rax, __qword_ptr[0x9_0000]);
                a.mov(rax, __qword_ptr[0x9_1000]);
                a.invlpg(__byte_ptr[0x9_0000]);
                a.mov(rax, __qword_ptr[0x9_1000]);   // another 4-KByte piece of the same 2-MByte page: walks again
                a.hlt();
            });
            var m = PagedLoop(p, 1, 1, 0);
            m.WriteMemory(Guest.CodeBase, code);
            if (watch) m.Cpu.AddHostWatchpoint(0x7_F800, 8, WatchKind.Access);
            return m;
        }
        var plain = RunToHalt(Make(false));
        var watched = RunToHalt(Make(true));
        Assert.Equal(watched.Cycles, plain.Cycles);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void WithEptATlbMissCostsTheTwoDimensionalWalk(string name)
    {
        // A guest with EPT reads Data, invalidates its page (or an unrelated one: the same instruction), and reads it
        // again. The guest maps 2-MByte pages (3 guest entries read) and EPT has 4 levels: every guest entry's
        // guest-physical address and the final one take an EPT walk, (3 + 1) × (4 + 1) − 1 = 19 references.
        var p = TimingProfile.ByName(name);
        ulong Guest(ulong invalidated)
        {
            var g = Vtx.Tests.Vmx.EptHarness.WithEpt(model: new CpuModel { Timing = p });
            g.Guest(a =>
            {
                a.mov(rax, __qword_ptr[Vtx.Tests.Vmx.EptHarness.Data]);
                a.mov(rsi, invalidated);
                a.invlpg(__byte_ptr[rsi]);
                a.mov(rax, __qword_ptr[Vtx.Tests.Vmx.EptHarness.Data]);
                a.ud2();
            });
            g.Launch();
            Assert.Equal(Vtx.Vmx.VmxExitReason.ExceptionOrNmi, g.ExitReason);
            return g.Cpu.Cycles;
        }
        long again = (long)Guest(Vtx.Tests.Vmx.EptHarness.Data), kept = (long)Guest(0x40_0000);
        long walk2d = Math.Max(p.System(SystemCost.StlbHit), (p.System(SystemCost.PageWalk) * 19 + 3) / 4);
        Assert.Equal(walk2d, again - kept);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void VmTransitionsFlushTheGuestsTranslationsOnlyWithoutVpids(string name)
    {
        // SDM Vol. 3C, 28.3.3.3: without VPIDs, VM entries and exits invalidate the mappings of VPID 0000h, so the
        // guest's second read after an exit and VMRESUME walks again; with a VPID its translations survive.
        var p = TimingProfile.ByName(name);
        ulong AfterResume(bool vpid)
        {
            var g = Vtx.Tests.Vmx.EptHarness.WithEpt(proc2: vpid ? Vtx.Vmx.SecondaryProcessorBasedControls.EnableVpid : 0, model: new CpuModel { Timing = p });
            if (vpid) g.W(Vtx.Vmx.VmcsField.VirtualProcessorId, 1);
            g.Guest(a =>
            {
                a.mov(rax, __qword_ptr[Vtx.Tests.Vmx.EptHarness.Data]);
                a.ud2();
                a.mov(rax, __qword_ptr[Vtx.Tests.Vmx.EptHarness.Data]);
                a.ud2();
            });
            g.Launch();
            Assert.Equal(Vtx.Vmx.VmxExitReason.ExceptionOrNmi, g.ExitReason);
            ulong c0 = g.Cpu.Cycles;
            Vtx.Tests.Vmx.EptHarness.ResumeAfter(g);
            Assert.Equal(Vtx.Vmx.VmxExitReason.ExceptionOrNmi, g.ExitReason);
            return g.Cpu.Cycles - c0;
        }
        long walk2d = Math.Max(p.System(SystemCost.StlbHit), (p.System(SystemCost.PageWalk) * 19 + 3) / 4);
        Assert.Equal(walk2d, (long)AfterResume(vpid: false) - (long)AfterResume(vpid: true));
    }

    // ------------------------------------------------------------------ REP strings

    /// <summary>Cycles of a REP of <paramref name="count"/> elements by the profile's cited rule (ERMSB start-up + bytes / rate, or per iteration below the threshold).</summary>
    private static long RepExpected(TimingProfile p, RepStringKind kind, int size, long count, bool aligned)
    {
        RepStringTiming r = p.RepString(kind);
        if (count * size < r.FastThresholdBytes) return Math.Max(1, (long)Math.Ceiling(count * r.SlowCyclesPerIteration));
        return r.StartupCycles + (long)Math.Ceiling(count * size / (aligned ? r.AlignedBytesPerCycle : r.UnalignedBytesPerCycle));
    }

    /// <summary>Runs one REP string instruction (flat mode: no paging, no TLB) and returns its cycles, sliced into runs of <paramref name="slice"/> iterations when given.</summary>
    private static (ulong Cycles, Machine M) RunRep(TimingProfile p, Action<Assembler> rep, ulong rcx, ulong rsi, ulong rdi, ulong? slice = null, Action<Machine>? setup = null)
    {
        var code = Guest.Assemble(rep);
        var m = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Timing = p } });
        m.WriteMemory(Guest.CodeBase, code);
        m.Cpu.Rip = Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Guest.StackTop;
        m.Cpu[Gpr.Rcx] = rcx;
        m.Cpu[Gpr.Rsi] = rsi;
        m.Cpu[Gpr.Rdi] = rdi;
        setup?.Invoke(m);
        ulong end = Guest.CodeBase + (ulong)code.Length, cycles = 0;
        for (int guard = 0; m.Cpu.Rip != end && guard < 1_000_000; guard++)
        {
            var r = m.Run(new RunLimits { StopAddress = end, MaxInstructions = slice });
            cycles += r.Cycles;
        }
        Assert.Equal(end, m.Cpu.Rip);
        return (cycles, m);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void RepMovsbCostsTheFastStringRuleByCountAndAlignment(string name)
    {
        var p = TimingProfile.ByName(name);
        foreach (long n in (long[])[1, 16, 127, 128, 4096, 10_000])
        {
            foreach (bool aligned in (bool[])[true, false])
            {
                ulong src = 0x4_0000 + (aligned ? 0UL : 3UL), dst = 0x6_0000 + (aligned ? 0UL : 5UL);
                var (c, m) = RunRep(p, a => a.rep.movsb(), (ulong)n, src, dst);
                Assert.Equal(RepExpected(p, RepStringKind.Movs, 1, n, aligned), (long)c);
                Assert.Equal(0UL, m.Cpu[Gpr.Rcx]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void RepStosqIsChargedByItsBytes(string name)
    {
        var p = TimingProfile.ByName(name);
        foreach (long n in (long[])[4, 16, 512])
        {
            var (c, _) = RunRep(p, a => a.rep.stosq(), (ulong)n, 0, 0x6_0000);
            Assert.Equal(RepExpected(p, RepStringKind.Stos, 8, n, aligned: true), (long)c);
        }
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void AnInterruptedRepChargesWhatWasDoneAndTheWholeWhenContinued(string name)
    {
        // Slicing the instruction into runs of 100 iterations (RIP stays on it, the registers hold the progress)
        // charges exactly what the unsliced instruction does: the start-up once, the bytes at the rate.
        var p = TimingProfile.ByName(name);
        const long n = 3000;
        var (whole, _) = RunRep(p, a => a.rep.movsb(), n, 0x4_0000, 0x6_0000);
        var (sliced, m) = RunRep(p, a => a.rep.movsb(), n, 0x4_0000, 0x6_0000, slice: 100);
        Assert.Equal(whole, sliced);
        Assert.Equal(RepExpected(p, RepStringKind.Movs, 1, n, true), (long)whole);
        Assert.Equal(0x4_0000UL + n, m.Cpu[Gpr.Rsi]);
        // Stopped after k iterations, the instruction has been charged the rule's cycles for k elements of n.
        var c = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Timing = p } });
        c.WriteMemory(Guest.CodeBase, Guest.Assemble(a => a.rep.movsb()));
        c.Cpu.Rip = Guest.CodeBase;
        c.Cpu[Gpr.Rcx] = n;
        c.Cpu[Gpr.Rsi] = 0x4_0000;
        c.Cpu[Gpr.Rdi] = 0x6_0000;
        var r = c.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        long done = n - (long)c.Cpu[Gpr.Rcx];
        RepStringTiming rt = p.RepString(RepStringKind.Movs);
        Assert.Equal(rt.StartupCycles + (long)Math.Ceiling(done / rt.AlignedBytesPerCycle), (long)r.Cycles);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void RepneScasbStopsAtTheMatchAndPaysOnlyTheIterationsDone(string name)
    {
        var p = TimingProfile.ByName(name);
        const int at = 40;
        var (c, m) = RunRep(p, a => a.repne.scasb(), 200, 0, 0x4_0000, setup: mm =>
        {
            mm.WriteMemory(0x4_0000 + at, [0x5A]);
            mm.Cpu[Gpr.Rax] = 0x5A;
        });
        Assert.Equal(200UL - (at + 1), m.Cpu[Gpr.Rcx]);
        RepStringTiming r = p.RepString(RepStringKind.Scas);
        Assert.Equal((long)Math.Ceiling((at + 1) * r.SlowCyclesPerIteration), (long)c);
    }

    [Fact]
    public void TheSimpleProfileKeepsVtxCost1PerIteration()
    {
        // No fast strings: every iteration costs what one costs.
        var p = TimingProfile.Simple;
        var (c, _) = RunRep(p, a => a.rep.movsb(), 1000, 0x4_0000, 0x6_0000);
        var (one, _) = RunRep(p, a => a.rep.movsb(), 1, 0x4_0000, 0x6_0000);
        Assert.Equal(1000 * one, c);
    }

    // ------------------------------------------------------------------ CPUID, MMIO, ports

    private static ulong Cycles(TimingProfile p, Action<Assembler> body, Action<Machine>? setup = null)
    {
        var code = Guest.Assemble(a => { body(a); a.hlt(); });
        var m = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Timing = p } });
        m.WriteMemory(Guest.CodeBase, code);
        m.Cpu.Rip = Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Guest.StackTop;
        setup?.Invoke(m);
        return RunToHalt(m).Cycles;
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void CpuidCostsItsLeafClass(string name)
    {
        var p = TimingProfile.ByName(name);
        ulong Leaf(uint leaf) => Cycles(p, a => { a.mov(eax, leaf); a.xor(ecx, ecx); a.cpuid(); });
        long basic = (long)Leaf(0);
        Assert.Equal(basic, (long)Leaf(7));
        Assert.Equal(p.System(SystemCost.CpuidCacheTopology) - p.System(SystemCost.CpuidBasic), (long)Leaf(4) - basic);
        Assert.Equal(p.System(SystemCost.CpuidCacheTopology) - p.System(SystemCost.CpuidBasic), (long)Leaf(0xB) - basic);
        Assert.Equal(p.System(SystemCost.CpuidExtended) - p.System(SystemCost.CpuidBasic), (long)Leaf(0x8000_0000) - basic);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void UncachedApicAccessesCostTheProfilesMmioFigures(string name)
    {
        // The xAPIC page is uncached MMIO; an ordinary RAM access by the same instruction is the reference.
        var p = TimingProfile.ByName(name);
        ulong Load(uint at) => Cycles(p, a => { a.mov(ebx, at); a.mov(eax, __dword_ptr[rbx]); });
        ulong Store(uint at) => Cycles(p, a => { a.mov(ebx, at); a.xor(eax, eax); a.mov(__dword_ptr[rbx], eax); });
        Assert.Equal(p.System(SystemCost.MmioUncachedRead) - p.L1LoadLatency, (long)Load(0xFEE0_0030) - (long)Load(0x4_0000));
        Assert.Equal(p.System(SystemCost.MmioUncachedWrite), (long)Store(0xFEE0_0080) - (long)Store(0x4_0000));
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void PortIoAndPauseCostAtLeastTheirSystemFigures(string name)
    {
        var p = TimingProfile.ByName(name);
        Assert.True(Cycles(p, a => { a.mov(dx, 0x80); a.@out(dx, al); }) >= (ulong)p.System(SystemCost.IoPortWrite));
        Assert.True(Cycles(p, a => { a.mov(dx, 0x80); a.@in(al, dx); }) >= (ulong)p.System(SystemCost.IoPortRead));
        Assert.True(Cycles(p, a => a.pause()) >= (ulong)p.System(SystemCost.Pause));
    }

    // ------------------------------------------------------------------ optional cache model

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void TheCacheModelChargesTheLevelThatHits(string name)
    {
        // Flat mode (no TLB): RCX rounds over `lines` consecutive 64-byte lines. With 2 × L1 capacity, every L1 set
        // sees twice its ways cyclically (LRU: always a miss), while the L2 holds them all: after the first round
        // (from memory), every load is an L2 hit.
        var p = TimingProfile.ByName(name);
        CacheGeometry l1 = p.Cache(CacheLevel.L1d), l2 = p.Cache(CacheLevel.L2);
        long lines = 2L * l1.SizeBytes / l1.LineBytes, rounds = 3;
        Assert.True(lines * l1.LineBytes <= l2.SizeBytes / 2);
        long off = (long)LineLoop(p, lines, rounds, l1.LineBytes, cache: false);
        long on = (long)LineLoop(p, lines, rounds, l1.LineBytes, cache: true);
        long expected = lines * (p.MemoryLatency - l1.LatencyCycles) + (rounds - 1) * lines * (l2.LatencyCycles - l1.LatencyCycles);
        Assert.Equal(expected, on - off);
        // Lines that fit the L1 cost nothing after the first round.
        long small = l1.SizeBytes / l1.LineBytes / 2;
        long smallOff = (long)LineLoop(p, small, rounds, l1.LineBytes, cache: false);
        long smallOn = (long)LineLoop(p, small, rounds, l1.LineBytes, cache: true);
        Assert.Equal(small * (p.MemoryLatency - l1.LatencyCycles), smallOn - smallOff);
    }

    private static ulong LineLoop(TimingProfile p, long lines, long rounds, int lineBytes, bool cache)
    {
        var code = Guest.Assemble(a =>
        {
            var outer = a.CreateLabel();
            var inner = a.CreateLabel();
            a.mov(rcx, (ulong)rounds);
            a.Label(ref outer);
            a.mov(rsi, 0x10_0000UL);
            a.mov(rdx, (ulong)lines);
            a.Label(ref inner);
            a.mov(rax, __qword_ptr[rsi]);
            a.add(rsi, lineBytes);
            a.dec(rdx);
            a.jne(inner);
            a.dec(rcx);
            a.jne(outer);
            a.hlt();
        });
        var m = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = new CpuModel { Timing = p, CacheTiming = cache } });
        m.WriteMemory(Guest.CodeBase, code);
        m.Cpu.Rip = Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Guest.StackTop;
        return RunToHalt(m).Cycles;
    }

    [Fact]
    public void TheCacheModelIsOffByDefaultAndIgnoredByTheSimpleProfile()
    {
        Assert.False(new CpuModel().CacheTiming);
        Assert.False(TimingProfile.Simple.HasCacheModel);
        Assert.False(TimingProfile.Simple.HasTlbModel);
        Assert.True(TimingProfile.Skylake.HasCacheModel && TimingProfile.Haswell.HasTlbModel);
    }

    [Fact]
    public void TlbAndCacheLinesAreValidated()
    {
        string head = string.Join('\n', TimingProfile.BuiltInText("skylake-client").Split('\n').Where(l => !l.StartsWith("ins ", StringComparison.Ordinal)));
        Assert.Throws<FormatException>(() => TimingProfile.Parse(head + "\ntlb dtlb-4k 64 4\n"));            // given twice
        Assert.Throws<FormatException>(() => TimingProfile.Parse(head.Replace("tlb stlb 1536 12", "tlb stlb 1536 7"))); // 1536/7 sets
        Assert.Throws<FormatException>(() => TimingProfile.Parse(head.Replace("cache l2 262144 4 64 12", "cache l2 262144 3 64 12")));
        Assert.Throws<FormatException>(() => TimingProfile.Parse(head.Replace("cache llc 8388608 16 64 44", "")));    // l1d and l2 without llc
        var p = TimingProfile.Parse(head);
        Assert.Equal(new TlbGeometry(TlbStructure.Stlb, 1536, 12), p.Tlb(TlbStructure.Stlb));
    }
}
