using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Tests.Core;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Decoding;

/// <summary>
/// The decoded-instruction cache must be invisible to the guest: code that changes (written by the
/// guest itself or by the host) executes as its current bytes (SDM Vol. 3A, 11.6 "Self-Modifying
/// Code"), and a cache hit costs no allocation.
/// </summary>
public class DecodeCacheTests
{
    // ------------------------------------------------------------------ self-modifying code

    [Fact]
    public void GuestPatchesImmediateOfLoopBodyItAlreadyExecuted()
    {
        // add eax, imm32 runs four times; after each run the guest doubles its immediate.
        Label top = default, imm = default;
        var (code, _) = CoreHarness.AssembleWithLabels(a =>
        {
            top = a.CreateLabel();
            imm = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 4);
            a.mov(edx, 1);
            a.Label(ref top);
            a.db(0x05);                 // add eax, imm32
            a.Label(ref imm);
            a.dd(1);
            a.shl(edx, 1);
            a.mov(__dword_ptr[imm], edx);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        var m = CoreHarness.Load(code);
        var r = m.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(1UL + 2 + 4 + 8, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void GuestPatchesTheNextInstructionEachIteration()
    {
        // Each iteration first writes CL into the imm8 of the very next instruction (add ebx, imm8),
        // then executes it: iteration 1 adds 2, iteration 2 adds 1. A stale decoding would add 2 twice.
        Label top = default, imm = default;
        var (code, _) = CoreHarness.AssembleWithLabels(a =>
        {
            top = a.CreateLabel();
            imm = a.CreateLabel();
            a.xor(ebx, ebx);
            a.mov(ecx, 2);
            a.Label(ref top);
            a.mov(__byte_ptr[imm], cl);
            a.db(0x83, 0xC3);            // add ebx, imm8
            a.Label(ref imm);
            a.db(0x00);
            a.loop(top);
            a.hlt();
        });
        var m = CoreHarness.Load(code);
        var r = m.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(3UL, m.Cpu[Gpr.Rbx]);
    }

    [Fact]
    public void GuestRewritesAWholeInstructionWithADifferentOne()
    {
        // First pass: "inc eax" (FF C0); then the guest turns it into "dec eax" (FF C8) and reruns it.
        Label target = default, modrm = default, second = default;
        var (code, _) = CoreHarness.AssembleWithLabels(a =>
        {
            target = a.CreateLabel();
            modrm = a.CreateLabel();
            second = a.CreateLabel();
            a.mov(eax, 10);
            a.xor(esi, esi);
            a.Label(ref target);
            a.db(0xFF);                  // inc eax
            a.Label(ref modrm);
            a.db(0xC0);
            a.mov(edi, eax);
            a.test(esi, esi);
            a.jnz(second);
            a.inc(esi);
            a.mov(__byte_ptr[modrm], 0xC8);
            a.jmp(target);
            a.Label(ref second);
            a.hlt();
        });
        var m = CoreHarness.Load(code);
        long inv = m.Memory.DecodeCache.Invalidations;
        var r = m.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(10UL, m.Cpu[Gpr.Rax]); // +1 then -1
        Assert.True(m.Memory.DecodeCache.Invalidations > inv);
    }

    [Fact]
    public void StringStoreOverCachedCodeIsSeen()
    {
        // Code on page 0x3000 runs once (cached), then REP MOVSB copies new code over it and it runs again.
        var first = Guest.Assemble(a => { a.mov(eax, 1); a.ret(); }, 0x3000);
        var second = Guest.Assemble(a => { a.mov(eax, 2); a.ret(); }, 0x3000);
        Assert.Equal(first.Length, second.Length);
        var main = Guest.Assemble(a =>
        {
            a.mov(ebx, 0x3000);
            a.call(rbx);
            a.mov(r8, rax);
            a.mov(esi, 0x4000);
            a.mov(edi, 0x3000);
            a.mov(ecx, second.Length);
            a.rep.movsb();
            a.call(rbx);
            a.hlt();
        });
        var m = CoreHarness.Load(main);
        m.WriteMemory(0x3000, first);
        m.WriteMemory(0x4000, second);
        var r = m.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(1UL, m.Cpu[Gpr.R8]);
        Assert.Equal(2UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void PageSplittingStoreInvalidatesTheCodePageItTouches()
    {
        // A qword store at 0x2FFC covers 0x2FFC..0x3003: its upper half rewrites the first
        // instruction of a routine at 0x3000 that already ran.
        var routine = Guest.Assemble(a => { a.mov(eax, 0x11111111); a.ret(); }, 0x3000); // B8 11 11 11 11 C3
        var main = Guest.Assemble(a =>
        {
            a.mov(ebx, 0x3000);
            a.call(rbx);
            a.mov(r8, rax);
            a.mov(rcx, 0x2222_22B8_0000_0000UL); // bytes at 0x3000..0x3003: B8 22 22 22
            a.mov(__qword_ptr[0x2FFC], rcx);
            a.call(rbx);
            a.hlt();
        });
        var m = CoreHarness.Load(main);
        m.WriteMemory(0x3000, routine);
        var r = m.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(0x11111111UL, m.Cpu[Gpr.R8]);
        Assert.Equal(0x11222222UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void GuestGeneratedCodeRewrittenAfterItRanIsSeen()
    {
        // A JIT pattern: the guest writes "mov eax, imm32; ret" into a data page (so the page is
        // in the write path as plain data), calls it, rewrites the immediate, calls it again.
        var main = Guest.Assemble(a =>
        {
            a.mov(edi, 0x7000);
            a.mov(__byte_ptr[rdi], 0xB8);
            a.mov(__dword_ptr[rdi + 1], 111);
            a.mov(__byte_ptr[rdi + 5], 0xC3);
            a.call(rdi);
            a.mov(r8, rax);
            a.mov(__dword_ptr[rdi + 1], 222);
            a.call(rdi);
            a.mov(r9, rax);
            a.mov(__byte_ptr[rdi + 1], 77);   // a byte store inside the immediate
            a.call(rdi);
            a.hlt();
        });
        var m = CoreHarness.Load(main);
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        Assert.Equal(111UL, m.Cpu[Gpr.R8]);
        Assert.Equal(222UL, m.Cpu[Gpr.R9]);
        Assert.Equal(77UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void TwoProcessorsSharingMemorySeeEachOthersCodeWrites()
    {
        // CPU B writes data to a page (its write path caches it), CPU A executes code there, then
        // B rewrites the code: A must see B's new bytes.
        var mem = new Vtx.Memory.PhysicalMemory(1 << 20);
        var a = new Cpu(mem);
        var b = new Cpu(mem);
        a.SetFlatMode(64);
        b.SetFlatMode(64);
        mem.Write(0x2000, Guest.Assemble(x => { x.mov(__dword_ptr[rdi], esi); x.hlt(); }, 0x2000)); // B's code
        a.Rip = 0x3000; a[Gpr.Rsp] = 0x8000;
        b.Rip = 0x2000; b[Gpr.Rsp] = 0x9000;

        // B stores "mov eax, 1; hlt" into 0x3000 (byte by byte: B8 01 00 00 | 00 F4).
        void BStores(ulong addr, uint value)
        {
            b.Rip = 0x2000; b.Resume();
            b[Gpr.Rdi] = addr; b[Gpr.Rsi] = value;
            Assert.Equal(StopReason.Halted, b.Run(RunLimits.Instructions(10)).Reason);
        }
        BStores(0x3000, 0x0000_01B8);
        BStores(0x3004, 0x0000_F400);
        Assert.Equal(StopReason.Halted, a.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(1UL, a[Gpr.Rax]);

        BStores(0x3000, 0x0000_02B8);          // now "mov eax, 2"
        a.Rip = 0x3000; a.Resume();
        Assert.Equal(StopReason.Halted, a.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(2UL, a[Gpr.Rax]);
    }

    [Fact]
    public void ChangingTheCostModelAppliesToAlreadyDecodedCode()
    {
        var m = CoreHarness.Load(Guest.Assemble(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(rax);
            a.jmp(top);
        }), model: new CpuModel { Timing = Vtx.Timing.TimingProfile.Simple }); // the old 1-per-instruction arithmetic
        m.Run(RunLimits.Instructions(100));
        ulong c0 = m.Cpu.Cycles;
        Assert.Equal(100UL, c0); // default: 1 cycle each
        m.Cpu.CostModel = new FlatCost(7);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(700UL, r.Cycles);
        Assert.Equal("flat-7", m.Cpu.CostModel.Name);
    }

    private sealed class FlatCost(int cycles) : Vtx.Timing.ICostModel
    {
        public string Name => $"flat-{cycles}";
        public int Cost(Code code, bool memoryForm) => cycles;
    }

    // ------------------------------------------------------------------ host writes

    [Fact]
    public void CodeWrittenByTheHostAfterItRanIsRedecoded()
    {
        var m = CoreHarness.Load(Guest.Assemble(a => { a.mov(eax, 1); a.hlt(); }));
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
        Assert.True(m.Memory.DecodeCache.Contains(Guest.CodeBase >> 12));
        long inv = m.Memory.DecodeCache.Invalidations;

        // The host (a hypervisor, say) patches the immediate and restarts the guest at the same code.
        m.WriteMemory(Guest.CodeBase + 1, new byte[] { 0x2A });
        Assert.False(m.Memory.DecodeCache.Contains(Guest.CodeBase >> 12));
        Assert.Equal(inv + 1, m.Memory.DecodeCache.Invalidations);
        m.Cpu.Resume();
        m.Cpu.Rip = Guest.CodeBase;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0x2AUL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void HostWriteThroughPhysicalMemoryAlsoInvalidates()
    {
        var m = CoreHarness.Load(Guest.Assemble(a => { a.mov(eax, 1); a.hlt(); }));
        m.Run(RunLimits.Instructions(10));
        m.Memory.Write(Guest.CodeBase, Guest.Assemble(a => { a.mov(eax, 7); a.hlt(); }));
        m.Cpu.Resume();
        m.Cpu.Rip = Guest.CodeBase;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(7UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void HostWriteToAnotherPageKeepsTheCachedDecodings()
    {
        var m = CoreHarness.Load(Guest.Assemble(a => { a.mov(eax, 1); a.hlt(); }));
        m.Run(RunLimits.Instructions(10));
        long inv = m.Memory.DecodeCache.Invalidations;
        m.WriteMemory(0x5000, new byte[] { 1, 2, 3 });
        Assert.Equal(inv, m.Memory.DecodeCache.Invalidations);
        Assert.True(m.Memory.DecodeCache.Contains(Guest.CodeBase >> 12));
    }

    [Fact]
    public void HostWriteBetweenTwoStopsInTheMiddleOfALoopIsSeen()
    {
        // The guest loops "add rax, imm8" forever; the host changes the immediate between runs.
        Label top = default;
        var (code, addrOf) = CoreHarness.AssembleWithLabels(a =>
        {
            top = a.CreateLabel();
            a.Label(ref top);
            a.db(0x48, 0x83, 0xC0, 0x01); // add rax, imm8
            a.jmp(top);
        });
        var m = CoreHarness.Load(code);
        m.Run(RunLimits.Instructions(200)); // 100 iterations
        Assert.Equal(100UL, m.Cpu[Gpr.Rax]);
        m.WriteMemory(addrOf(top) + 3, new byte[] { 5 }); // 48 83 C0 ib
        m.Run(RunLimits.Instructions(200));
        Assert.Equal(100UL + 500, m.Cpu[Gpr.Rax]);
    }

    // ------------------------------------------------------------------ allocation

    [Fact]
    public void CacheHitsAllocateNothing()
    {
        // A loop that reads, writes memory and branches; decoded on the first iteration.
        var m = CoreHarness.Load(Guest.Assemble(a =>
        {
            var top = a.CreateLabel();
            a.mov(ebx, 0x6000);
            a.Label(ref top);
            a.add(__qword_ptr[rbx], rcx);
            a.mov(rax, __qword_ptr[rbx + 8]);
            a.imul(rax, rcx);
            a.push(rax);
            a.pop(rdx);
            a.dec(rcx);
            a.jnz(top);
            a.hlt();
        }));
        m.Cpu[Gpr.Rcx] = ulong.MaxValue;
        m.Run(RunLimits.Instructions(10_000)); // decode and JIT
        m.Run(RunLimits.Instructions(10_000));
        // The smallest of three windows: a one-off runtime event (JIT, GC bookkeeping) on this thread
        // cannot fail the test, while any per-hit allocation would show in every window (>= 1 MB).
        long best = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var r = m.Run(RunLimits.Instructions(1_000_000));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            Assert.Equal(1_000_000UL, r.Instructions);
            best = Math.Min(best, allocated);
        }
        Assert.True(best < 1024, $"{best} bytes allocated by 1,000,000 cached instructions");
    }

    [Fact]
    public void DecodingRewrittenCodeAgainAllocatesNothing()
    {
        // Issue 13: page records of dropped pages are reused. 3,000 straight-line instructions over three pages
        // are rewritten by the host (dropping their decodings) and run again; after the first round nothing is
        // allocated by decoding, costing (the block simulation of the default core profile) or the page records.
        var code = Guest.Assemble(a =>
        {
            for (int i = 0; i < 3000; i++)
            {
                switch (i % 5)
                {
                    case 0: a.add(rax, rcx); break;
                    case 1: a.imul(rdx, rax); break;
                    case 2: a.lea(rsi, __[rax + rdx * 4 + i]); break;
                    case 3: a.xor(ecx, 0x1234 + i); break;
                    default: a.rol(rdx, (byte)(i % 63 + 1)); break;
                }
            }
            a.hlt();
        });
        var m = CoreHarness.Load(code, memoryMiB: 4);
        void Round()
        {
            m.WriteMemory(Guest.CodeBase, code);
            m.Cpu.Resume();
            m.Cpu.Rip = Guest.CodeBase;
            Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10_000)).Reason);
        }
        for (int i = 0; i < 3; i++) Round(); // the pool fills, the JIT settles
        long best = long.MaxValue;
        long invalidations = m.Memory.DecodeCache.Invalidations;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Round();
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.True(m.Memory.DecodeCache.Invalidations >= invalidations + 3); // every round really dropped the pages
        Assert.True(best < 3000, $"{best} bytes allocated by decoding 3,000 instructions again");
    }

    [Fact]
    public void ADroppedPageRecordIsEmptyAndItsArraysServeTheNextPage()
    {
        var cache = new DecodeCache();
        DecodedPage old = cache.GetOrCreatePage(5, 64);
        byte[] nop = [0x90];
        old.Add(0x10, cache.Decode(nop, 64, out _));
        old.SealRun(1);
        Assert.False(Unsafe.IsNullRef(ref old.Lookup(0x10)));
        cache.InvalidatePage(5);
        // A processor still holding the old record finds nothing there (and decodes again through the cache) ...
        Assert.True(Unsafe.IsNullRef(ref old.Lookup(0x10)));
        Assert.Equal(0, old.Count);
        // ... while the arrays, reused by another page, hold that page's decodings only.
        DecodedPage other = cache.GetOrCreatePage(9, 64);
        Assert.True(Unsafe.IsNullRef(ref other.Lookup(0x10)));
        byte[] ret = [0xC3];
        other.Add(0x20, cache.Decode(ret, 64, out _));
        Assert.Equal(Code.Retnq, other.Lookup(0x20).Code);
        Assert.True(Unsafe.IsNullRef(ref old.Lookup(0x20)));
        // Adding to a dropped record gives it arrays of its own: the shared empty table is never written.
        old.Add(0x30, cache.Decode(nop, 64, out _));
        Assert.False(Unsafe.IsNullRef(ref old.Lookup(0x30)));
        Assert.True(Unsafe.IsNullRef(ref cache.GetOrCreatePage(11, 64).Lookup(0x30)));
        DecodedPage dropped2 = cache.GetOrCreatePage(12, 64);
        cache.InvalidatePage(12);
        Assert.True(Unsafe.IsNullRef(ref dropped2.Lookup(0x30)));
    }

    // ------------------------------------------------------------------ page-crossing instructions

    [Fact]
    public void InstructionStraddlingAPageBoundaryExecutesAndSeesWritesToTheSecondPage()
    {
        // mov rax, imm64 (10 bytes) at 0x1FFC: 4 bytes on page 1, 6 on page 2.
        const ulong at = 0x1FFC;
        var straddler = Guest.Assemble(a => { a.mov(rax, 0x1122_3344_5566_7788UL); a.hlt(); }, at);
        var m = CoreHarness.Load(straddler, at: at);
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0x1122_3344_5566_7788UL, m.Cpu[Gpr.Rax]);

        // Host rewrites the top immediate byte, which lives on the second page.
        m.WriteMemory(at + 9, new byte[] { 0xAB });
        m.Cpu.Resume();
        m.Cpu.Rip = at;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0xAB22_3344_5566_7788UL, m.Cpu[Gpr.Rax]);

        // And the first page.
        m.WriteMemory(at + 2, new byte[] { 0x00 });
        m.Cpu.Resume();
        m.Cpu.Rip = at;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0xAB22_3344_5566_7700UL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void GuestWriteToTheSecondPageOfAStraddlingInstructionIsSeenInALoop()
    {
        // The loop head "mov rax, imm64" sits 4 bytes before a page end; each iteration the guest
        // increments the immediate's top byte (on the second page) and executes the mov again.
        const ulong head = 0x1FFC;
        var loop = Guest.Assemble(a =>
        {
            var t = a.CreateLabel();
            a.Label(ref t);
            a.mov(rax, 0x0100_0000_0000_0000UL);
            a.add(rsi, rax);
            a.add(__byte_ptr[head + 9], 1);
            a.loop(t);
            a.hlt();
        }, head);
        var pre = Guest.Assemble(a => { a.xor(esi, esi); a.mov(ecx, 3); a.jmp(head); });
        Assert.True((ulong)pre.Length < head - Guest.CodeBase);
        var m = CoreHarness.Load(pre);
        m.WriteMemory(head, loop);
        var r = m.Run(RunLimits.Instructions(100));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal((1UL + 2 + 3) << 56, m.Cpu[Gpr.Rsi]);
    }

    [Fact]
    public void StraddlingIntoMemoryOutsideRamReadsOnesThenFaultsWithUd()
    {
        // 1 MiB of RAM: mov eax, imm32 with its last two immediate bytes past the end of RAM.
        const ulong ramEnd = 1UL << 20;
        var m = new Machine(new MachineOptions { MemoryMiB = 1 });
        m.WriteMemory(ramEnd - 3, new byte[] { 0xB8, 0x34, 0x12 });
        m.Cpu.Rip = ramEnd - 3;
        m.Cpu[Gpr.Rax] = 0;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(0xFFFF_1234UL, m.Cpu[Gpr.Rax]);
        // The next instruction is all FF bytes (FF /7 with ModRM FF): undefined.
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(ExceptionVector.UD, r.Fault!.Value.Vector);
        Assert.Equal(ramEnd + 2, r.Rip);
        Assert.Equal(1UL, r.Instructions);
    }

    [Fact]
    public void FetchFromOutsideRamIsUdNotAHostException()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 1 });
        foreach (ulong rip in new[] { 1UL << 20, 0x4000_0000UL, 0x7FFF_FFFF_F000UL, 0xFFFF_FFFF_FFFF_FFF0UL })
        {
            m.Cpu.Rip = rip;
            var r = m.Run(RunLimits.Instructions(10));
            Assert.Equal(StopReason.Exception, r.Reason);
            Assert.Equal(ExceptionVector.UD, r.Fault!.Value.Vector);
            Assert.Null(r.Fault!.Value.ErrorCode);
            Assert.Equal(rip, r.Rip);
            Assert.Equal(0UL, r.Instructions);
        }
    }

    [Fact]
    public void FetchFromANonCanonicalRipIsGp0()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 1 });
        m.Cpu.Rip = 0x0000_8000_0000_0000UL;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(0x0000_8000_0000_0000UL, r.Rip);
    }

    // ------------------------------------------------------------------ #UD

    public static TheoryData<string, byte[]> UndefinedEncodings => new()
    {
        { "push es (invalid in 64-bit mode)", new byte[] { 0x06 } },
        { "ud2", new byte[] { 0x0F, 0x0B } },
        { "salc / 0xD6", new byte[] { 0xD6 } },
        { "lea with register source", new byte[] { 0x48, 0x8D, 0xC0 } },
        { "lock nop", new byte[] { 0xF0, 0x90 } },
        { "lock add eax, eax (register destination)", new byte[] { 0xF0, 0x01, 0xC0 } },
        { "lock mov [rax], eax", new byte[] { 0xF0, 0x89, 0x00 } },
        { "lock cmp [rax], eax", new byte[] { 0xF0, 0x39, 0x00 } },
        { "lock inc eax", new byte[] { 0xF0, 0xFF, 0xC0 } },
        { "lock xchg eax, ecx", new byte[] { 0xF0, 0x87, 0xC8 } },
        { "all-ones bytes", new byte[] { 0xFF, 0xFF } },
    };

    [Theory]
    [MemberData(nameof(UndefinedEncodings))]
    public void UndefinedOrNonLockableLockGivesUdAtTheInstruction(string what, byte[] insn)
    {
        var code = new byte[] { 0x90, 0x48, 0xFF, 0xC3 }.Concat(insn).Concat(new byte[] { 0xF4 }).ToArray(); // nop; inc rbx; insn; hlt
        var m = CoreHarness.Load(code);
        m.Cpu[Gpr.Rax] = 0x6000;
        var before = CoreHarness.Gprs(m.Cpu);
        before[(int)Gpr.Rbx]++;
        ulong flagsAfterInc;
        var r1 = m.Run(RunLimits.Instructions(2));
        Assert.Equal(StopReason.InstructionLimit, r1.Reason);
        flagsAfterInc = m.Cpu.Rflags;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.True(r.Reason == StopReason.Exception, what + ": " + r);
        Assert.Equal(new FaultInfo(ExceptionVector.UD, null), r.Fault);
        Assert.Equal(Guest.CodeBase + 4, r.Rip);
        Assert.Equal(0UL, r.Instructions);
        Assert.Equal(2UL, m.Cpu.InstructionsRetired);
        Assert.Equal(before, CoreHarness.Gprs(m.Cpu));
        Assert.Equal(flagsAfterInc, m.Cpu.Rflags);
    }

    [Fact]
    public void LockOnALockableMemoryFormExecutes()
    {
        var m = CoreHarness.RunToHalt(a =>
        {
            a.@lock.add(__dword_ptr[rbx], eax);
            a.@lock.xadd(__qword_ptr[rbx + 8], rcx);
            a.@lock.cmpxchg(__qword_ptr[rbx + 16], rdx);
        }, setup: c => { c[Gpr.Rbx] = 0x6000; c[Gpr.Rax] = 5; c[Gpr.Rcx] = 7; c[Gpr.Rdx] = 9; });
        var mem = m.ReadMemory(0x6000, 24);
        Assert.Equal(5u, BitConverter.ToUInt32(mem, 0));
        Assert.Equal(7UL, BitConverter.ToUInt64(mem, 8));
        Assert.Equal(0UL, m.Cpu[Gpr.Rcx]);   // XADD returned the old value
        Assert.Equal(0UL, BitConverter.ToUInt64(mem, 16)); // RAX (5) != 0: no store
        Assert.Equal(0UL, m.Cpu[Gpr.Rax]);   // ... and the accumulator was loaded
    }

    [Fact]
    public void OpcodeThatIsInvalidIn64BitModeIsValidIn32BitMode()
    {
        // 06 = push es in 32-bit mode (4 bytes pushed); #UD in 64-bit mode (see the theory above).
        var m = CoreHarness.Load(new byte[] { 0x06, 0xF4 }, bitness: 32);
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(Guest.StackTop - 4, m.Cpu[Gpr.Rsp]);
    }

    // ------------------------------------------------------------------ modes

    public static TheoryData<int, byte[], Op, int, int, int> ModeDecodings => new()
    {
        // bitness, bytes, op, length, operand size, address size
        { 64, new byte[] { 0xB8, 0x78, 0x56, 0x34, 0x12 }, Op.Mov, 5, 4, 8 },
        { 32, new byte[] { 0xB8, 0x78, 0x56, 0x34, 0x12 }, Op.Mov, 5, 4, 4 },
        { 16, new byte[] { 0xB8, 0x78, 0x56, 0x34, 0x12 }, Op.Mov, 3, 2, 2 },
        { 64, new byte[] { 0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8 }, Op.Mov, 10, 8, 8 },
        { 32, new byte[] { 0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8 }, Op.Dec, 1, 4, 4 },
        { 32, new byte[] { 0x66, 0xB8, 0x34, 0x12 }, Op.Mov, 4, 2, 4 },
        { 16, new byte[] { 0x66, 0xB8, 0x78, 0x56, 0x34, 0x12 }, Op.Mov, 6, 4, 2 },
        { 64, new byte[] { 0x66, 0xB8, 0x34, 0x12 }, Op.Mov, 4, 2, 8 },
        { 64, new byte[] { 0x50 }, Op.Push, 1, 8, 8 },
        { 64, new byte[] { 0x66, 0x50 }, Op.Push, 2, 2, 8 },
        { 32, new byte[] { 0x50 }, Op.Push, 1, 4, 4 },
        { 16, new byte[] { 0x50 }, Op.Push, 1, 2, 2 },
        { 64, new byte[] { 0x8B, 0x03 }, Op.Mov, 2, 4, 8 },           // mov eax, [rbx]
        { 64, new byte[] { 0x67, 0x8B, 0x03 }, Op.Mov, 3, 4, 4 },     // mov eax, [ebx]
        { 32, new byte[] { 0x67, 0x8B, 0x00 }, Op.Mov, 3, 4, 2 },     // mov eax, [bx+si]
        { 16, new byte[] { 0x8B, 0x00 }, Op.Mov, 2, 2, 2 },           // mov ax, [bx+si]
        { 16, new byte[] { 0x67, 0x8B, 0x03 }, Op.Mov, 3, 2, 4 },     // mov ax, [ebx]
        { 64, new byte[] { 0x40 }, Op.Invalid, 1, 0, 8 },             // lone REX prefix: runs out of bytes
        { 32, new byte[] { 0x40 }, Op.Inc, 1, 4, 4 },
        { 16, new byte[] { 0x40 }, Op.Inc, 1, 2, 2 },
        { 64, new byte[] { 0xE8, 0, 0, 0, 0 }, Op.Call, 5, 8, 8 },
        { 32, new byte[] { 0xE8, 0, 0, 0, 0 }, Op.Call, 5, 4, 4 },
        { 16, new byte[] { 0xE8, 0, 0 }, Op.Call, 3, 2, 2 },
        { 64, new byte[] { 0xC3 }, Op.Ret, 1, 8, 8 },
        { 32, new byte[] { 0xC3 }, Op.Ret, 1, 4, 4 },
        { 16, new byte[] { 0xC3 }, Op.Ret, 1, 2, 2 },
    };

    [Theory]
    [MemberData(nameof(ModeDecodings))]
    public void DecodingDependsOnTheCodeSize(int bitness, byte[] bytes, Op op, int length, int opSize, int addrSize)
    {
        var cache = new DecodeCache();
        var d = cache.Decode(bytes, bitness, out bool more);
        Assert.Equal(op, d.Op);
        if (op == Op.Invalid)
        {
            Assert.True(more);
            return;
        }
        Assert.False(more);
        Assert.Equal(length, d.Length);
        Assert.Equal(opSize, d.OpSize);
        Assert.Equal(addrSize, d.AddrSize);
    }

    [Fact]
    public void DecodeReportsTruncatedInput()
    {
        var cache = new DecodeCache();
        cache.Decode(new byte[] { 0x48, 0xB8, 1, 2, 3 }, 64, out bool more);
        Assert.True(more);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Decode(new byte[] { 0x90 }, 8, out _));
    }

    [Fact]
    public void SameBytesExecuteDifferentlyIn16_32And64BitModes()
    {
        // B8 78 56 34 12 F4: 64/32-bit: mov eax, 0x12345678; hlt.
        // 16-bit: B8 78 56 = mov ax, 0x5678; 34 12 = xor al, 0x12; F4 = hlt.
        var bytes = new byte[] { 0xB8, 0x78, 0x56, 0x34, 0x12, 0xF4 };
        ulong Run(int bits)
        {
            var m = CoreHarness.Load(bytes, bitness: bits);
            m.Cpu[Gpr.Rax] = 0xAAAA_AAAA_AAAA_AAAAUL;
            Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
            return m.Cpu[Gpr.Rax];
        }
        Assert.Equal(0x12345678UL, Run(64));
        Assert.Equal(0x12345678UL, Run(32) & 0xFFFF_FFFF);
        Assert.Equal(0xAAAA_AAAA_AAAA_566AUL, Run(16)); // 16-bit writes keep bits 63:16
    }

    [Fact]
    public void SwitchingCodeSizeOnTheSamePageDoesNotReuseDecodings()
    {
        // 48 FF C0 F4: 64-bit: inc rax; hlt. 32-bit: dec eax; inc eax; hlt.
        var m = CoreHarness.Load(new byte[] { 0x48, 0xFF, 0xC0, 0xF4 });
        m.Cpu[Gpr.Rax] = 5;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(6UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(2UL, m.Cpu.InstructionsRetired);

        m.Cpu.SetFlatMode(32);
        m.Cpu.Rip = Guest.CodeBase;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(6UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(5UL, m.Cpu.InstructionsRetired);

        m.Cpu.SetFlatMode(64);
        m.Cpu.Rip = Guest.CodeBase;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(7UL, m.Cpu[Gpr.Rax]);
    }
}
