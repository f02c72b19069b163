using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// The #PF error code of read-modify-write instructions (SDM Vol. 3A, 4.7: W/R = 1 when "the access
/// causing the fault was a write"): a locked or unlocked RMW destination is accessed for write from
/// its first access, so a fault taken before anything is written still reports W = 1 (silicon:
/// <c>0F AB 33</c> BTS [RBX],ESI on a not-present page at CPL 3 pushes 6). Instructions that only
/// read memory (CMP, TEST, BT, MOV) report W = 0. Also ENTER's check of the final stack pointer.
/// </summary>
public class RmwPageFaultTests
{
    private const ulong Unmapped = 0x20_0000; // PD entry 1 cleared: 2 MiB .. 4 MiB not present
    private const ulong ReadOnly = 0x40_0000; // PD entry 2: present, user, read-only

    private static readonly Dictionary<string, Action<Assembler>> Rmw = new()
    {
        ["add m64,r64"] = a => a.add(__qword_ptr[rbx], rax),
        ["add m32,r32"] = a => a.add(__dword_ptr[rbx], eax),
        ["add m8,imm"] = a => a.add(__byte_ptr[rbx], 5),
        ["or m32,imm"] = a => a.or(__dword_ptr[rbx], 0x100),
        ["adc m16,r16"] = a => a.adc(__word_ptr[rbx], ax),
        ["sbb m64,imm"] = a => a.sbb(__qword_ptr[rbx], 1),
        ["and m64,r64"] = a => a.and(__qword_ptr[rbx], rax),
        ["sub m32,r32"] = a => a.sub(__dword_ptr[rbx], eax),
        ["xor m64,r64"] = a => a.xor(__qword_ptr[rbx], rax),
        ["lock add m32,r32"] = a => a.@lock.add(__dword_ptr[rbx], eax),
        ["not m32"] = a => a.not(__dword_ptr[rbx]),
        ["neg m8"] = a => a.neg(__byte_ptr[rbx]),
        ["inc m64"] = a => a.inc(__qword_ptr[rbx]),
        ["dec m16"] = a => a.dec(__word_ptr[rbx]),
        ["bts m32,r32"] = a => a.bts(__dword_ptr[rbx], esi),
        ["btr m64,r64"] = a => a.btr(__qword_ptr[rbx], rsi),
        ["btc m16,imm"] = a => a.btc(__word_ptr[rbx], 3),
        ["lock bts m32,imm"] = a => a.@lock.bts(__dword_ptr[rbx], 7),
        ["xchg m64,r64"] = a => a.xchg(__qword_ptr[rbx], rax),
        ["xadd m32,r32"] = a => a.xadd(__dword_ptr[rbx], eax),
        ["cmpxchg m64,r64"] = a => a.cmpxchg(__qword_ptr[rbx], rcx),
        ["cmpxchg8b m64"] = a => a.cmpxchg8b(__qword_ptr[rbx]),
        ["cmpxchg16b m128"] = a => a.cmpxchg16b(__xmmword_ptr[rbx]),
        ["shl m32,1"] = a => a.shl(__dword_ptr[rbx], 1),
        ["sar m64,imm"] = a => a.sar(__qword_ptr[rbx], 5),
        ["rol m8,cl"] = a => a.rol(__byte_ptr[rbx], cl),
        ["rcr m16,1"] = a => a.rcr(__word_ptr[rbx], 1),
        ["shld m32,r32,imm"] = a => a.shld(__dword_ptr[rbx], eax, 3),
        ["shrd m64,r64,cl"] = a => a.shrd(__qword_ptr[rbx], rax, cl),
    };

    private static readonly Dictionary<string, Action<Assembler>> ReadOnlyForms = new()
    {
        ["cmp m64,r64"] = a => a.cmp(__qword_ptr[rbx], rax),
        ["test m32,r32"] = a => a.test(__dword_ptr[rbx], eax),
        ["bt m32,r32"] = a => a.bt(__dword_ptr[rbx], esi),
        ["mov r64,m64"] = a => a.mov(rax, __qword_ptr[rbx]),
    };

    public static TheoryData<string, int> RmwCases()
    {
        var t = new TheoryData<string, int>();
        foreach (var k in Rmw.Keys) { t.Add(k, 0); t.Add(k, 3); }
        return t;
    }

    public static TheoryData<string, int> ReadCases()
    {
        var t = new TheoryData<string, int>();
        foreach (var k in ReadOnlyForms.Keys) { t.Add(k, 0); t.Add(k, 3); }
        return t;
    }

    private static Sys Machine(int cpl, Action<Assembler> insn, ulong target)
    {
        var s = new Sys(memoryMiB: 8);
        s.EnterLong(cpl);
        s.W64(Sys.Pd + 8, 0);                           // 2 MiB .. 4 MiB: not present
        s.W64(Sys.Pd + 16, (2UL << 21) | 0x85);         // 4 MiB .. 6 MiB: present, user, read-only, A = 0
        s.Cpu.Cr3Value = Sys.Pml4;
        s.Load(insn);
        s.Cpu.Rip = Sys.Code;
        s.Cpu[Gpr.Rbx] = target;
        s.Cpu[Gpr.Rsi] = 0;
        s.Cpu[Gpr.Rcx] = 1;
        s.Cpu[Gpr.Rax] = 0x8000_0001;
        return s;
    }

    [Theory]
    [MemberData(nameof(RmwCases))]
    public void RmwOnNotPresentPageFaultsAsWrite(string name, int cpl)
    {
        var s = Machine(cpl, Rmw[name], Unmapped + 0x40);
        // P = 0, W/R = 1, U/S = CPL 3 (SDM Vol. 3A, Figure 4-12).
        s.ExpectFault(ExceptionVector.PF, 2u | (cpl == 3 ? 4u : 0u), Sys.Code);
        Assert.Equal(Unmapped + 0x40, s.Cpu.Cr2Value);
    }

    [Theory]
    [MemberData(nameof(RmwCases))]
    public void RmwOnReadOnlyPageFaultsAsWriteAndLeavesMemory(string name, int cpl)
    {
        ulong target = ReadOnly + 0x80;
        var s = Machine(cpl, Rmw[name], target);
        if (cpl == 0) s.Cpu.Cr0Value |= Cr0.WP; // supervisor writes honour R/W only with CR0.WP
        s.W64(target, 0x1122_3344_5566_7788);
        s.ExpectFault(ExceptionVector.PF, 3u | (cpl == 3 ? 4u : 0u), Sys.Code);
        Assert.Equal(target, s.Cpu.Cr2Value);
        Assert.Equal(0x1122_3344_5566_7788UL, s.R64(target));
    }

    [Theory]
    [MemberData(nameof(ReadCases))]
    public void ReadOnlyInstructionsFaultAsRead(string name, int cpl)
    {
        var s = Machine(cpl, ReadOnlyForms[name], Unmapped + 0x40);
        s.ExpectFault(ExceptionVector.PF, cpl == 3 ? 4u : 0u, Sys.Code);
    }

    /// <summary>
    /// The RMW forms still work on a writable page whose dirty flag is clear: the first RMW sets D
    /// (the translation is for write) and the stored result is right.
    /// </summary>
    [Fact]
    public void RmwOnCleanWritablePageSetsDirtyAndStores()
    {
        var s = Machine(3, a => { a.add(__qword_ptr[rbx], rax); a.add(__qword_ptr[rbx], rax); a.hlt(); }, ReadOnly + 8);
        s.W64(Sys.Pd + 16, (2UL << 21) | 0x87);         // writable, A = D = 0
        s.Cpu.Cr3Value = Sys.Pml4;
        s.W64(ReadOnly + 8, 5);
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = s.Run(2);
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(5UL + 2UL * 0x8000_0001, s.R64(ReadOnly + 8));
        Assert.Equal(0x60UL, s.R64(Sys.Pd + 16) & 0x60);    // A and D set
    }

    // ------------------------------------------------------------------ ENTER

    /// <summary>
    /// ENTER whose frame fits but whose final RSP (after the allocation) lies on a not-present page:
    /// #PF for a write there, with RSP and RBP unchanged (SDM Vol. 2A, ENTER: "#PF(fault-code) if a
    /// write using the final value of the stack pointer (within the current stack segment) would
    /// cause a page fault").
    /// </summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(3, 0)]
    [InlineData(0, 2)]
    public void EnterFaultsWhenTheFinalStackPointerIsNotWritable(int cpl, int level)
    {
        var s = Machine(cpl, a => a.enter(0x100, (byte)level), 0);
        s.W64(Sys.Pd + 16, 0);                            // 4 MiB .. 6 MiB not present: the final RSP lands there
        s.Cpu.Cr3Value = Sys.Pml4;
        const ulong rsp = 0x60_0020;                      // 6 MiB .. 8 MiB: writable, holds the frame
        s.Cpu[Gpr.Rsp] = rsp;
        s.Cpu[Gpr.Rbp] = rsp + 0x40;
        ulong final = rsp - 8 - 8 * (ulong)level - 0x100; // RBP, level-1 copied pointers and the frame pointer, then the allocation
        s.ExpectFault(ExceptionVector.PF, 2u | (cpl == 3 ? 4u : 0u), Sys.Code);
        Assert.Equal(final, s.Cpu.Cr2Value);
        Assert.Equal(rsp, s.Cpu[Gpr.Rsp]);
        Assert.Equal(rsp + 0x40, s.Cpu[Gpr.Rbp]);
    }

    /// <summary>
    /// ENTER in 32-bit protected mode whose final ESP wraps below an expand-up stack segment's base
    /// (offset above the limit): #SS(0), RSP and RBP unchanged (SDM Vol. 2A, ENTER: "#SS(0) if the
    /// new value of the SP or ESP register is outside the stack segment limit").
    /// </summary>
    [Fact]
    public void EnterFaultsWithSsWhenTheFinalStackPointerLeavesTheSegment()
    {
        var s = new Sys();
        s.EnterProtected();
        const ushort smallStack = Sys.Spare;
        s.SetGdt(smallStack, Desc.Seg(0, 0xFFFF, Desc.DataRw, 0, db: true));
        s.Cpu.SetSegment(SegmentRegister.Ss, s.Cache(smallStack));
        s.Load(a => a.enter(0x200, 0), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.Cpu[Gpr.Rsp] = 0x100;
        s.Cpu[Gpr.Rbp] = 0x1234;
        s.ExpectFault(ExceptionVector.SS, 0u, Sys.Code);
        Assert.Equal(0x100UL, s.Cpu[Gpr.Rsp]);
        Assert.Equal(0x1234UL, s.Cpu[Gpr.Rbp]);
    }

    [Fact]
    public void EnterWithWritableFinalStackPointerBuildsTheFrame()
    {
        var s = Machine(0, a => { a.enter(0x100, 0); a.hlt(); }, 0);
        s.Cpu[Gpr.Rsp] = 0x9_0000;
        s.Cpu[Gpr.Rbp] = 0x1234;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        Assert.Equal(StopReason.Halted, s.Run(10).Reason);
        Assert.Equal(0x9_0000UL - 8 - 0x100, s.Cpu[Gpr.Rsp]);
        Assert.Equal(0x9_0000UL - 8, s.Cpu[Gpr.Rbp]);
        Assert.Equal(0x1234UL, s.R64(0x9_0000 - 8));
    }
}
