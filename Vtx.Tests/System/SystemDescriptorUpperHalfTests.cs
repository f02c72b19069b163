using Xunit;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// 16-byte system descriptors in IA-32e mode (SDM Vol. 3A, Figure 8-4 and 5-8): the upper half holds
/// base/offset bits 63:32 in its low doubleword, and its type field (bits 12:8 of the high
/// doubleword) must be 0. LTR of Linux's TSS descriptor, whose base is FFFF_FE00_0000_3000h, used to
/// raise #GP(40h) because the check looked at base bits instead (found booting Debian's kernel).
/// </summary>
public class SystemDescriptorUpperHalfTests
{
    private static RunResult Ltr(ulong upperHalf)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2 });
        ulong gdt = 0x800;
        // Entry 8 (selector 40h): 64-bit available TSS, limit 4087h, base bits 31:0 = 3000h, present.
        m.WriteMemory(gdt + 0x40, BitConverter.GetBytes(0x0000_8900_3000_4087UL));
        m.WriteMemory(gdt + 0x48, BitConverter.GetBytes(upperHalf));
        m.Cpu.Gdtr = new DescriptorTableRegister(gdt, 0x7F);
        m.WriteMemory(0x1000, [0xB8, 0x40, 0x00, 0x00, 0x00, 0x0F, 0x00, 0xD8, 0xF4]); // mov eax, 40h; ltr ax; hlt
        m.Cpu.Rip = 0x1000;
        var r = m.Run(RunLimits.Instructions(10));
        if (r.Reason == StopReason.Halted) Assert.Equal(0x8B, m.ReadMemory(gdt + 0x45, 1)[0]); // busy TSS
        return r;
    }

    [Fact]
    public void BaseBits63To32_AreNotTheTypeField() =>
        Assert.Equal(StopReason.Halted, Ltr(0x0000_0000_FFFF_FE00UL).Reason);

    [Fact]
    public void NonZeroUpperType_IsGeneralProtectionWithTheSelector()
    {
        var r = Ltr(0x0000_0100_FFFF_FE00UL);
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0x40), r.Fault);
    }
}
