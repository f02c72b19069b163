using System.Diagnostics;
using Vtx.Loaders;
using Vtx.Memory;
using Xunit;

namespace Vtx.Tests.Loaders;

/// <summary>
/// RAM above 2 GiB: the PC layout (RAM to 3 GiB, the PCI hole to 4 GiB, the rest remapped above 4
/// GiB), lazily backed, seen the same way by the host API, the memory map, paging and snapshots.
/// </summary>
public class HighMemoryTests
{
    [Fact]
    public void SixteenGiB_IsLaidOutAroundTheHole_AndCostsLittleUntilTouched()
    {
        long before = Process.GetCurrentProcess().WorkingSet64;
        var m = new Machine(new MachineOptions { MemoryMiB = 16 * 1024 });
        long after = Process.GetCurrentProcess().WorkingSet64;
        Assert.True(after - before < 1L << 30, $"a 16-GiB guest committed {(after - before) >> 20} MiB up front");
        var mem = m.Memory;
        Assert.Equal(16UL << 30, mem.Size);
        Assert.Equal(3UL << 30, mem.LowSize);
        Assert.Equal(13UL << 30, mem.HighSize);
        Assert.Equal((4UL + 13) << 30, mem.End);
        Assert.True(mem.IsRamPage((3UL << 30) / 4096 - 1));
        Assert.False(mem.IsRamPage((3UL << 30) / 4096));            // the hole
        Assert.False(mem.IsRamPage((4UL << 30) / 4096 - 1));
        Assert.True(mem.IsRamPage((4UL << 30) / 4096));
        Assert.True(mem.IsRamPage(mem.End / 4096 - 1));
        Assert.False(mem.IsRamPage(mem.End / 4096));

        m.WriteMemory(0x4_0000_0000, [1, 2, 3, 4]);
        m.WriteMemory(mem.End - 4, [9, 9, 9, 9]);
        Assert.Equal([1, 2, 3, 4], m.ReadMemory(0x4_0000_0000, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.WriteMemory(0xC000_0000, [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.WriteMemory(0xBFFF_FFFF, [1, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.WriteMemory(mem.End - 1, [1, 2]));
        var buf = new byte[4];
        mem.Read(0xC000_0000, buf);
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF], buf);                   // the hole reads as an unclaimed bus
        mem.Write(0xD000_0000, [1]);                                   // and ignores writes
        mem.Read(0xD000_0000, buf);
        Assert.Equal(0xFF, buf[0]);
    }

    [Fact]
    public void MemoryMap_SaysExactlyWhatExists()
    {
        var mem = new PhysicalMemory(5UL << 30);
        Assert.Equal(new[]
        {
            new MultibootMemoryMapEntry(0, 0xA0000, 1),
            new MultibootMemoryMapEntry(0xA0000, 0x60000, 2),
            new MultibootMemoryMapEntry(0x100000, (3UL << 30) - 0x100000, 1),
            new MultibootMemoryMapEntry(4UL << 30, 2UL << 30, 1),
        }, MultibootLoader.BuildMemoryMap(mem));
        var small = new PhysicalMemory(1UL << 30);
        Assert.Equal(3, MultibootLoader.BuildMemoryMap(small).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PhysicalMemory((64UL << 30) + 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Machine(new MachineOptions { MemoryMiB = 65537 }));
    }

    [Fact]
    public void GuestReachesRamAbove4GiB_ThroughPaging_AndTheHoleThroughPagingReadsOnes()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 6 * 1024 });
        // 4-level paging: identity map of the first 2 MiB; linear 4000_0000h -> physical 1_4000_0000h (a 2-MiB page
        // in the remapped RAM); linear 4020_0000h -> physical D000_0000h (the hole).
        void W64(ulong a, ulong v) => m.WriteMemory(a, BitConverter.GetBytes(v));
        W64(0x10000, 0x11000 | 3);                       // PML4[0]
        W64(0x11000, 0x12000 | 3);                       // PDPT[0]
        W64(0x11000 + 8, 0x13000 | 3);                   // PDPT[1] (1-2 GiB)
        W64(0x12000, 0x83);                              // PD[0]: 0-2 MiB
        W64(0x13000, 0x1_4000_0000UL | 0x83);            // PD[0] of 1 GiB
        W64(0x13000 + 8, 0xD000_0000UL | 0x83);
        m.Cpu.Cr4Value = 1UL << 5;
        m.Cpu.Cr3Value = 0x10000;
        m.Cpu.Cr0Value = m.Cpu.Cr0Value | 1UL << 31;
        m.WriteMemory(0x1_4000_0010, BitConverter.GetBytes(0x1122_3344_5566_7788UL));
        // mov rax, [0x40000010]; mov qword [0x40000018], rax-ish: add rax, 1; mov [0x40000020], rax; mov rbx, [0x40200000]; hlt
        m.WriteMemory(0x1000, [
            0x48, 0x8B, 0x04, 0x25, 0x10, 0x00, 0x00, 0x40,
            0x48, 0x83, 0xC0, 0x01,
            0x48, 0x89, 0x04, 0x25, 0x20, 0x00, 0x00, 0x40,
            0x48, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x20, 0x40,
            0xF4]);
        m.Cpu.Rip = 0x1000;
        m.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(0x1122_3344_5566_7788UL, m.Cpu[Gpr.Rax] - 1);
        Assert.Equal(0x1122_3344_5566_7789UL, BitConverter.ToUInt64(m.ReadMemory(0x1_4000_0020, 8)));
        Assert.Equal(ulong.MaxValue, m.Cpu[Gpr.Rbx]);
    }

    [Fact]
    public void Snapshot_OfABigMachine_RestoresHighMemory()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 5 * 1024 });
        m.WriteMemory(0x1_0000_0000, [7, 7]);
        m.WriteMemory(0x1000, [1]);
        var snap = m.Snapshot();
        Assert.Equal(5UL << 30, snap.MemorySize);
        m.WriteMemory(0x1_0000_0000, [8]);
        m.WriteMemory(0x1_2345_0000, [5]);
        m.WriteMemory(0x1000, [0]);
        m.Restore(snap);
        Assert.Equal([7, 7], m.ReadMemory(0x1_0000_0000, 2));
        Assert.Equal(0, m.ReadMemory(0x1_2345_0000, 1)[0]);
        Assert.Equal(1, m.ReadMemory(0x1000, 1)[0]);
    }
}
