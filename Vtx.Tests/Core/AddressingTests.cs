using Vtx.Tests.Support;
using Xunit;

namespace Vtx.Tests.Core;

/// <summary>
/// Effective-address rules the host differential suite did not cover: segment overrides in 64-bit
/// mode (SDM Vol. 1, 3.3.7.1: CS/DS/ES/SS overrides are ignored; a non-canonical address raises
/// #SS(0) for a stack reference — base RSP or RBP — and #GP(0) otherwise) and the address-size
/// wrap of BT/BTS/BTR/BTC's register bit offset (SDM Vol. 2A, BT: the bit-string address is an
/// effective address, computed at the address size).
/// </summary>
public class AddressingTests
{
    private const ulong NonCanonical = 0x0000_8000_0000_0000UL;

    private static RunResult RunOne(byte[] code, Action<Cpu> setup)
    {
        var m = CoreHarness.Load(code);
        setup(m.Cpu);
        return m.Run(RunLimits.Instructions(1));
    }

    [Theory]
    // No prefix: the base decides.
    [InlineData(new byte[] { 0x48, 0x8B, 0x04, 0x24 }, 4, 12)]               // mov rax,[rsp]        #SS
    [InlineData(new byte[] { 0x48, 0x8B, 0x45, 0x08 }, 5, 12)]               // mov rax,[rbp+8]      #SS
    [InlineData(new byte[] { 0x48, 0x8B, 0x03 }, 3, 13)]                     // mov rax,[rbx]        #GP
    // CS/DS/ES/SS overrides are ignored: still the base decides.
    [InlineData(new byte[] { 0x3E, 0x48, 0x8B, 0x04, 0x24 }, 4, 12)]         // ds: mov rax,[rsp]    #SS
    [InlineData(new byte[] { 0x26, 0x48, 0x8B, 0x45, 0x08 }, 5, 12)]         // es: mov rax,[rbp+8]  #SS
    [InlineData(new byte[] { 0x2E, 0x48, 0x01, 0x04, 0x24 }, 4, 12)]         // cs: add [rsp],rax    #SS
    [InlineData(new byte[] { 0x36, 0x48, 0x8B, 0x03 }, 3, 13)]               // ss: mov rax,[rbx]    #GP
    [InlineData(new byte[] { 0x36, 0x0F, 0xAB, 0x33 }, 3, 13)]               // ss: bts [rbx],esi    #GP
    [InlineData(new byte[] { 0x3E, 0x0F, 0xAB, 0x75, 0x00 }, 5, 12)]         // ds: bts [rbp],esi    #SS
    public void NonCanonicalAddressFaultFollowsTheBaseRegister(byte[] code, int baseReg, int vector)
    {
        var r = RunOne(code, c =>
        {
            c[(Gpr)baseReg] = NonCanonical;
            c[Gpr.Rsi] = 0;
        });
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo((ExceptionVector)vector, 0), r.Fault);
        Assert.Equal(Guest.CodeBase, r.Rip);
    }

    /// <summary>An FS override is honoured (its base applies): FS:[RSP] is a reference through FS, #GP(0).</summary>
    [Fact]
    public void FsOverrideOnStackBaseAppliesFsBase()
    {
        var m = CoreHarness.Load(new byte[] { 0x64, 0x48, 0x8B, 0x04, 0x24, 0xF4 }); // mov rax,fs:[rsp]; hlt
        m.Cpu.FsBase = 0x100;
        m.Cpu[Gpr.Rsp] = 0x2000;
        m.WriteMemory(0x2100, BitConverter.GetBytes(0xABCDUL));
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10)).Reason);
        Assert.Equal(0xABCDUL, m.Cpu[Gpr.Rax]);
    }

    /// <summary>
    /// <c>67 0F AB /r</c> BTS m32, r32 with 32-bit addressing: EBX + 4 × (ESI SAR 5) wraps to 32 bits
    /// (FFFFFFF0h + 40h = 30h), so the bit lands at 30h, not above 4 GiB.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x67, 0x0F, 0xAB, 0x33 }, 0xFFFF_FFF0UL, 0x203UL, 0x30UL)]             // bts [ebx],esi: +4*10h
    [InlineData(new byte[] { 0x67, 0x48, 0x0F, 0xAB, 0x33 }, 0xFFFF_FFF8UL, 0x83UL, 0x8UL)]         // bts [ebx],rsi: +8*2
    [InlineData(new byte[] { 0x67, 0x66, 0x0F, 0xAB, 0x33 }, 0xFFFF_FFFEUL, 0x53UL, 0x8UL)]         // bts [ebx],si: +2*5
    public void BitStringAddressWrapsAtTheAddressSize(byte[] code, ulong ebx, ulong esi, ulong expectedAt)
    {
        var m = CoreHarness.Load(code.Concat(new byte[] { 0xF4 }).ToArray());
        m.Cpu[Gpr.Rbx] = ebx;
        m.Cpu[Gpr.Rsi] = esi;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal((byte)(1 << 3), m.ReadMemory(expectedAt, 1)[0]); // bit 3 of the selected word's first byte
        Assert.True((m.Cpu.Rflags & (ulong)RFlags.CF) == 0);
    }

    /// <summary>
    /// Memory accesses are canonical at the current paging width: 48 bits with CR4.LA57 = 0, 57 bits
    /// with CR4.LA57 = 1 (SDM Vol. 3A, 4.5: 5-level paging translates 57-bit linear addresses).
    /// </summary>
    [Theory]
    [InlineData(false, 0x0000_8000_0000_0000UL, true)]
    [InlineData(false, 0xFFFF_7FFF_FFFF_FFF0UL, true)]
    [InlineData(true, 0x0000_8000_0000_0000UL, false)]
    [InlineData(true, 0x00FF_FFFF_FFFF_FFF0UL, false)]
    [InlineData(true, 0xFF00_0000_0000_0000UL, false)]
    [InlineData(true, 0x0100_0000_0000_0000UL, true)]
    [InlineData(true, 0xFEFF_FFFF_FFFF_FFF0UL, true)]
    public void AccessCanonicalityFollowsCr4La57(bool la57, ulong address, bool gp)
    {
        var m = CoreHarness.Load(new byte[] { 0x48, 0x8B, 0x03, 0xF4 }); // mov rax,[rbx]; hlt
        if (la57) m.Cpu.Cr4Value |= Cr4.LA57;
        m.Cpu[Gpr.Rbx] = address;
        var r = m.Run(RunLimits.Instructions(10));
        if (gp) Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        else Assert.Equal(StopReason.Halted, r.Reason); // flat mode, paging off: beyond RAM reads all ones
    }
}
