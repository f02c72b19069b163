using Vtx.Memory;
using Xunit;

namespace Vtx.Tests.Core;

/// <summary>The host API rejects misuse with ArgumentOutOfRangeException before touching anything.</summary>
public class HostApiTests
{
    private static Machine NewMachine() => new(new MachineOptions { MemoryMiB = 1 });

    [Theory]
    [InlineData(0x10_0000UL, 1)]            // first byte past RAM
    [InlineData(0xF_FFFFUL, 2)]             // last byte in RAM, second byte outside
    [InlineData(0x4000_0000UL, 16)]
    [InlineData(0xFFFF_FFFF_FFFF_FFFEUL, 4)] // would wrap around 2^64
    public void WriteMemoryOutsideRamThrowsNamingTheRange(ulong address, int length)
    {
        var m = NewMachine();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => m.WriteMemory(address, new byte[length]));
        Assert.Contains($"0x{address:X}", ex.Message);
        Assert.Contains("0x100000", ex.Message); // the RAM size
        // Nothing was written (the in-RAM part of a straddling range included).
        Assert.All(m.ReadMemory(0xF_F000, 0x1000), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0x10_0000UL, 1)]
    [InlineData(0xF_FFF0UL, 17)]
    [InlineData(ulong.MaxValue, 1)]
    public void ReadMemoryOutsideRamThrowsNamingTheRange(ulong address, int length)
    {
        var m = NewMachine();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => m.ReadMemory(address, length));
        Assert.Contains($"0x{address:X}", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ReadMemory(address, new byte[length]));
    }

    [Fact]
    public void AccessesEndingExactlyAtTheEndOfRamAreFine()
    {
        var m = NewMachine();
        m.WriteMemory(0xF_FFFC, new byte[] { 1, 2, 3, 4 });
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, m.ReadMemory(0xF_FFFC, 4));
        m.WriteMemory(0x10_0000, ReadOnlySpan<byte>.Empty);
        Assert.Empty(m.ReadMemory(0x10_0000, 0));
    }

    [Fact]
    public void NegativeReadLengthThrows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NewMachine().ReadMemory(0, -1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65537)]
    public void InvalidMemorySizeThrows(int mib)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Machine(new MachineOptions { MemoryMiB = mib }));
        Assert.Contains("MemoryMiB", ex.Message);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(0)]
    [InlineData(128)]
    [InlineData(63)]
    public void InvalidCodeSizeThrows(int bits)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Machine(new MachineOptions { MemoryMiB = 1, CodeSize = bits }));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewMachine().Cpu.SetFlatMode(bits));
    }

    [Theory]
    [InlineData(99)]
    [InlineData(16)]
    [InlineData(-1)]
    public void InvalidRegisterIndexThrows(int r)
    {
        var c = NewMachine().Cpu;
        Assert.Throws<ArgumentOutOfRangeException>(() => c[(Gpr)r]);
        Assert.Throws<ArgumentOutOfRangeException>(() => c[(Gpr)r] = 1);
    }

    [Fact]
    public void AllSixteenRegistersRoundTrip()
    {
        var c = NewMachine().Cpu;
        for (int i = 0; i < 16; i++) c[(Gpr)i] = 0x0101_0101_0101_0101UL * (ulong)(i + 1);
        for (int i = 0; i < 16; i++) Assert.Equal(0x0101_0101_0101_0101UL * (ulong)(i + 1), c[(Gpr)i]);
    }

    [Fact]
    public void NullArgumentsThrow()
    {
        Assert.Throws<ArgumentNullException>(() => new Cpu(null!));
        Assert.Throws<ArgumentNullException>(() => NewMachine().Cpu.CostModel = null!);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4095UL)]
    [InlineData(4097UL)]
    public void PhysicalMemoryRejectsSizesThatAreNotWholePages(ulong size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PhysicalMemory(size));
    }

    [Fact]
    public void DefaultMachineIs64BitAtCpl0WithReservedFlagBitSet()
    {
        var m = new Machine();
        Assert.Equal(64, m.Cpu.CodeSize);
        Assert.Equal(0, m.Cpu.Cpl);
        Assert.Equal(16UL << 20, m.Memory.Size);
        Assert.Equal(2UL, m.Cpu.Rflags);
        m.Cpu.Rflags = ulong.MaxValue;
        Assert.Equal(2UL, m.Cpu.Rflags & 0x802A); // bit 1 set, bits 3, 5 and 15 clear
        Assert.Equal(0UL, m.Cpu.Rflags & ~0x3F_FFFFUL); // bits 22-63 clear
    }
}
