using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>
/// Flat 32-bit and 16-bit code (MachineOptions.CodeSize): default operand and address sizes,
/// stack width and address wrap-around (SDM Vol. 1, 3.6 "Operand-size and address-size attributes";
/// Vol. 3A, 3.3 - offsets wrap within the segment's address size).
/// </summary>
public class LegacyModeTests
{
    [Fact]
    public void ThirtyTwoBitProgramUsesFourByteStackSlots()
    {
        var m = CoreHarness.RunToHalt(a =>
        {
            var f = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(eax, 0x1122_3344);
            a.push(eax);                 // esp -= 4
            a.push(0x55);                // push imm: 4 bytes
            a.pop(ecx);
            a.pop(edx);
            a.mov(esi, esp);
            a.call(f);                   // pushes a 4-byte return address
            a.jmp(done);
            a.Label(ref f);
            a.mov(edi, esp);
            a.mov(ebx, __dword_ptr[esp]);
            a.ret();
            a.Label(ref done);
        }, bitness: 32);
        var c = m.Cpu;
        Assert.Equal(0x55UL, c[Gpr.Rcx]);
        Assert.Equal(0x1122_3344UL, c[Gpr.Rdx]);
        Assert.Equal(Guest.StackTop, c[Gpr.Rsi]);
        Assert.Equal(Guest.StackTop - 4, c[Gpr.Rdi]);
        Assert.Equal(Guest.StackTop, c[Gpr.Rsp]);
        // The return address is the 32-bit address after the call.
        Assert.InRange(c[Gpr.Rbx], Guest.CodeBase, Guest.CodeBase + 64);
        // Slots: the CALL reused StackTop-4 for its return address; the PUSH imm32 is below it.
        Assert.Equal(c[Gpr.Rbx], BitConverter.ToUInt32(m.ReadMemory(Guest.StackTop - 4, 4)));
        Assert.Equal(new byte[] { 0x55, 0, 0, 0 }, m.ReadMemory(Guest.StackTop - 8, 4));
    }

    [Fact]
    public void ThirtyTwoBitAddressesWrapAt4GiB()
    {
        var m = CoreHarness.RunToHalt(a =>
        {
            a.mov(__dword_ptr[ebx + ecx], edx);        // 0xFFFFF000 + 0x7000 = 0x6000
            a.mov(eax, __dword_ptr[ebx + ecx * 2 - 0x7000]); // 0xFFFFF000 + 0xE000 - 0x7000 = 0x6000
            a.lea(esi, __dword_ptr[ebx + ecx]);
        }, bitness: 32, setup: c => { c[Gpr.Rbx] = 0xFFFF_F000; c[Gpr.Rcx] = 0x7000; c[Gpr.Rdx] = 0xCAFE_F00D; });
        Assert.Equal(0xCAFE_F00DUL, m.Cpu[Gpr.Rax]);
        Assert.Equal(0x6000UL, m.Cpu[Gpr.Rsi]);
        Assert.Equal(0xCAFE_F00Du, BitConverter.ToUInt32(m.ReadMemory(0x6000, 4)));
    }

    [Fact]
    public void ThirtyTwoBitModeHasNoRexAndIncDecAreOneByte()
    {
        // 40 = inc eax, 48 = dec eax in 32-bit mode (REX prefixes in 64-bit mode).
        var m = CoreHarness.Load(new byte[] { 0x40, 0x40, 0x48, 0x41, 0xF4 }, bitness: 32);
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
        Assert.Equal(1UL, m.Cpu[Gpr.Rcx]);
        Assert.Equal(5UL, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void ThirtyTwoBitEipIsThirtyTwoBits()
    {
        var m = CoreHarness.Load(a => { a.jmp(eax); }, bitness: 32, setup: c => c[Gpr.Rax] = 0x3000);
        m.WriteMemory(0x3000, new byte[] { 0xF4 });
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0x3001UL, m.Cpu.Rip);
        m.Cpu.Rip = 0x1_0000_2000UL; // the setter keeps EIP
        Assert.Equal(0x2000UL, m.Cpu.Rip);
        Assert.Equal(32, m.Cpu.CodeSize);
    }

    [Fact]
    public void ThirtyTwoBitNoCanonicalChecks()
    {
        // The 64-bit canonical rule does not apply: high 32-bit addresses simply are not RAM.
        var m = CoreHarness.RunToHalt(a => { a.mov(eax, __dword_ptr[ebx]); a.push(eax); }, bitness: 32,
            setup: c => { c[Gpr.Rbx] = 0x8000_0000; });
        Assert.Equal(0xFFFF_FFFFUL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void SixteenBitBasics()
    {
        var m = CoreHarness.RunToHalt(a =>
        {
            var f = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(ax, 0x1234);
            a.mov(__word_ptr[bx + si], ax);      // 0xFFFF + 2 wraps to 0x0001
            a.mov(cx, __word_ptr[di]);           // di = 1
            a.push(ax);                          // 2 bytes
            a.pop(dx);
            a.mov(eax, 0x8765_4321);             // 66 prefix: 32-bit operand
            a.call(f);                           // pushes a 2-byte return address
            a.jmp(done);
            a.Label(ref f);
            a.mov(bp, sp);
            a.ret();
            a.Label(ref done);
        }, bitness: 16, setup: c =>
        {
            c[Gpr.Rbx] = 0xFFFF;
            c[Gpr.Rsi] = 2;
            c[Gpr.Rdi] = 1;
            c[Gpr.Rcx] = 0xAAAA_0000;
            c[Gpr.Rdx] = 0xBBBB_0000;
        });
        var c = m.Cpu;
        Assert.Equal(0x1234u, BitConverter.ToUInt16(m.ReadMemory(1, 2)));
        Assert.Equal(0xAAAA_1234UL, c[Gpr.Rcx]);  // a 16-bit write keeps the upper bits
        Assert.Equal(0xBBBB_1234UL, c[Gpr.Rdx]);
        Assert.Equal(0x8765_4321UL, c[Gpr.Rax]);
        Assert.Equal(0x8000UL - 2, c[Gpr.Rbp]);
        Assert.Equal(0x8000UL, c[Gpr.Rsp]);
        Assert.Equal(16, c.CodeSize);
    }

    [Fact]
    public void SixteenBitStackPointerWrapsAndKeepsTheUpperBitsOfRsp()
    {
        var m = CoreHarness.Load(a => { a.push(ax); a.pop(bx); a.hlt(); }, bitness: 16,
            setup: c => { c[Gpr.Rsp] = 0x0003_0000; c[Gpr.Rax] = 0xBEEF; });
        var r = m.Run(RunLimits.Instructions(1));
        Assert.Equal(StopReason.InstructionLimit, r.Reason);
        Assert.Equal(0x0003_FFFEUL, m.Cpu[Gpr.Rsp]);     // SP wrapped 0 -> FFFE; bits 31:16 unchanged
        Assert.Equal(0xBEEFu, BitConverter.ToUInt16(m.ReadMemory(0xFFFE, 2)));
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0x0003_0000UL, m.Cpu[Gpr.Rsp]);
        Assert.Equal(0xBEEFUL, m.Cpu[Gpr.Rbx]);
    }

    [Fact]
    public void SixteenBitIpWrapsOnJumps()
    {
        // jmp rel16 from 0x1000 by -0x2000 lands at 0xF000 (IP wraps within 64 KiB).
        var m = CoreHarness.Load(new byte[] { 0xE9, 0xFD, 0xDF }, bitness: 16); // jmp rel16: next IP 0x1003 + 0xDFFD = 0xF000
        m.WriteMemory(0xF000, new byte[] { 0xF4 });
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0xF001UL, m.Cpu.Rip);
    }

    [Fact]
    public void SixteenBitRepUsesCxSiDi()
    {
        var m = CoreHarness.RunToHalt(a => a.rep.movsb(), bitness: 16, setup: c =>
        {
            c[Gpr.Rcx] = 0x1234_0000_0004UL; // CX = 4
            c[Gpr.Rsi] = 0xFFFE;             // wraps to 0 after two bytes
            c[Gpr.Rdi] = 0x6000;
            c.Memory.Write(0xFFFE, new byte[] { 1, 2 });
            c.Memory.Write(0, new byte[] { 3, 4 });
        });
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, m.ReadMemory(0x6000, 4));
        Assert.Equal(0x1234_0000_0000UL, m.Cpu[Gpr.Rcx]);
        Assert.Equal(2UL, m.Cpu[Gpr.Rsi]);
        Assert.Equal(0x6004UL, m.Cpu[Gpr.Rdi]);
    }
}
