using System.Security.Cryptography;
using Vtx.Loaders;
using Vtx.Memory;
using Xunit;

namespace Vtx.Tests.Loaders;

public class ElfAndFlatLoaderTests
{
    private static PhysicalMemory Ram(ulong size = 2UL << 20, byte fill = 0xCC)
    {
        var m = new PhysicalMemory(size);
        if (fill != 0) m.Write(0, Enumerable.Repeat(fill, (int)size).ToArray());
        return m;
    }

    private static string Hash(PhysicalMemory m) => Convert.ToHexString(SHA256.HashData(m.View(0, (int)m.Size)));

    private static byte[] Read(PhysicalMemory m, ulong at, int n) => m.View(at, n).ToArray();

    // ------------------------------------------------------------------ flat

    [Fact]
    public void FlatBinaryLoadsAtPageZeroAndAtTheEndOfRam()
    {
        var m = Ram();
        var r = FlatBinaryLoader.Load(m, [1, 2, 3], 0);
        Assert.Equal(new PhysicalRange(0, 3), r);
        Assert.Equal(new byte[] { 1, 2, 3, 0xCC }, Read(m, 0, 4));
        FlatBinaryLoader.Load(m, [9, 9], m.Size - 2);
        Assert.Equal(new byte[] { 9, 9 }, Read(m, m.Size - 2, 2));
    }

    [Theory]
    [InlineData(0x20_0000UL - 1, 2)]
    [InlineData(0x20_0000UL, 1)]
    [InlineData(ulong.MaxValue, 4)]
    public void FlatBinaryOutsideRamIsRejected(ulong at, int length)
    {
        var m = Ram();
        string before = Hash(m);
        var ex = Assert.Throws<InvalidImageException>(() => FlatBinaryLoader.Load(m, new byte[length], at));
        Assert.Contains($"at 0x{at:X}", ex.Message);
        Assert.Contains("beyond the end of RAM (0x200000)", ex.Message);
        Assert.Equal(before, Hash(m));
        Assert.Throws<InvalidImageException>(() => FlatBinaryLoader.Load(m, [], 0));
    }

    // ------------------------------------------------------------------ ELF

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ElfSegmentsAreCopiedToTheirPhysicalAddressesAndBssIsZeroed(bool is64)
    {
        var m = Ram();
        byte[] text = [0x90, 0x90, 0xF4];
        byte[] data = [0x11, 0x22, 0x33, 0x44];
        var image = ElfWriter.Build(is64, 0x1001, [
            new TestSegment(0x1000, text, 3),
            new TestSegment(0x3000, data, 0x100, Flags: 6),
            new TestSegment(0x0, [], 0, Type: 4),          // PT_NOTE: ignored
        ]);
        var elf = ElfLoader.Load(m, image);
        Assert.Equal(is64 ? ElfClass.Elf64 : ElfClass.Elf32, elf.Class);
        Assert.Equal(is64 ? (ushort)62 : (ushort)3, elf.Machine);
        Assert.Equal(0x1001UL, elf.Entry);
        Assert.Equal(0x1001UL, elf.PhysicalEntry);
        Assert.Equal(2, elf.Segments.Count);
        Assert.Equal(0x1000UL, elf.LowestAddress);
        Assert.Equal(0x3100UL, elf.EndAddress);
        Assert.Equal(new ElfSegment(1, 0x3000, 0x3000, (ulong)ElfWriter.FirstDataOffset(is64, 3) + 16, 4, 0x100, 6), elf.Segments[1]);

        Assert.Equal(new byte[] { 0xCC, 0x90, 0x90, 0xF4, 0xCC }, Read(m, 0xFFF, 5));
        Assert.Equal(data, Read(m, 0x3000, 4));
        Assert.All(Read(m, 0x3004, 0xFC), b => Assert.Equal(0, b));   // bss
        Assert.Equal(0xCC, Read(m, 0x3100, 1)[0]);                    // and not one byte more
    }

    [Fact]
    public void ElfLoadsToPageZero()
    {
        var m = Ram();
        ElfLoader.Load(m, ElfWriter.Build(true, 0, [new TestSegment(0, [0xEB, 0xFE], 0x10)]));
        Assert.Equal(new byte[] { 0xEB, 0xFE, 0, 0 }, Read(m, 0, 4));
    }

    [Fact]
    public void HigherHalfSegmentsLoadAtPaddrAndTheEntryIsTranslated()
    {
        var m = Ram();
        const ulong kvirt = 0xFFFF_FFFF_8010_0000;
        var elf = ElfLoader.Load(m, ElfWriter.Build(true, kvirt + 4, [new TestSegment(0x10_0000, [1, 2, 3, 4, 5, 6], 6, VAddr: kvirt)]));
        Assert.Equal(kvirt + 4, elf.Entry);
        Assert.Equal(0x10_0004UL, elf.PhysicalEntry);
        Assert.True(elf.EntryInSegment);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, Read(m, 0x10_0000, 6));
    }

    public static TheoryData<string, Func<byte[]>> BrokenElves => new()
    {
        { "too short for an ELF identification", () => [0x7F, (byte)'E', (byte)'L'] },
        { "not an ELF image: magic is 4D 5A 90 00", () => [0x4D, 0x5A, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "ELF class (e_ident[EI_CLASS]) 3 is not supported", () => Patch(Good64(), 4, 3) },
        { "ELF data encoding (e_ident[EI_DATA]) 2 is not 1 (ELFDATA2LSB, little-endian)", () => Patch(Good64(), 5, 2) },
        { "ELF identification version (e_ident[EI_VERSION]) 0 is not 1", () => Patch(Good64(), 6, 0) },
        { "ELF64 header needs 64 bytes but the file has 40", () => Good64()[..40] },
        { "ELF e_type 3 is not 2 (ET_EXEC)", () => ElfWriter.Build(true, 0, [new TestSegment(0x1000, [1], 1)], type: 3) },
        { "ELF64 e_machine 3 is not 62 (EM_X86_64)", () => ElfWriter.Build(true, 0, [new TestSegment(0x1000, [1], 1)], machine: 3) },
        { "ELF32 e_machine 62 is not 3 (EM_386)", () => ElfWriter.Build(false, 0, [new TestSegment(0x1000, [1], 1)], machine: 62) },
        { "ELF e_phnum is 0", () => ElfWriter.Build(true, 0, []) },
        { "ELF e_phentsize 40 is smaller than a program header (56 bytes)", () => Patch16(Good64(), 54, 40) },
        { "ELF program header table (e_phoff 0x40 + 200 entries of 56 bytes = 0x2C00) beyond end of file", () => Patch16(Good64(), 56, 200) },
        { "ELF program header 0: p_filesz (0x10) exceeds p_memsz (0x8)", () => ElfWriter.Build(true, 0, [new TestSegment(0x1000, new byte[16], 8)]) },
        { "ELF program header 0: p_offset+p_filesz (0x1000000000000000F) beyond end of file (0x90)", () => Patch64(Good64(), ElfWriter.PhOffset(true, 0) + 8, ulong.MaxValue) },
        { "ELF program header 1: p_offset+p_filesz (0x100000003) beyond end of file (0xA0)", () => Patch32(Good32Two(), ElfWriter.PhOffset(false, 1) + 4, 0xFFFF_FFFF) },
        { "ELF program header 0: segment p_paddr 0x1FFFFF + p_memsz 0x2 = 0x200001 lies outside RAM (0x0-0x200000)", () => ElfWriter.Build(true, 0, [new TestSegment(0x1F_FFFF, [1], 2)]) },
        { "ELF program header 0: segment p_paddr 0xFFFFFFFFFFFFFFFF + p_memsz 0x1 = 0x10000000000000000 lies outside RAM", () => ElfWriter.Build(true, 0, [new TestSegment(ulong.MaxValue, [1], 1)]) },
        { "ELF image has no PT_LOAD segment with a non-zero p_memsz among its 2 program headers", () => ElfWriter.Build(true, 0, [new TestSegment(0x1000, [1], 1, Type: 4), new TestSegment(0x1000, [], 0)]) },
        { "ELF e_phnum 0xFFFF (PN_XNUM", () => Patch16(Good64(), 56, 0xFFFF) },
    };

    [Theory]
    [MemberData(nameof(BrokenElves))]
    public void BrokenElfFilesAreRejectedNamingTheDefectAndLeaveMemoryAlone(string message, Func<byte[]> image)
    {
        var m = Ram();
        string before = Hash(m);
        var ex = Assert.Throws<InvalidImageException>(() => ElfLoader.Load(m, image()));
        Assert.Contains(message, ex.Message);
        Assert.Equal(before, Hash(m));
    }

    [Fact]
    public void ParseValidatesWithoutWriting()
    {
        var elf = ElfLoader.Parse(Good64(), 0x10_0000);
        Assert.Single(elf.Segments);
        Assert.Throws<InvalidImageException>(() => ElfLoader.Parse(Good64(), 0x1000));
        Assert.True(ElfLoader.IsElf(Good32Two()));
        Assert.False(ElfLoader.IsElf([0x7F, (byte)'E']));
    }

    internal static byte[] Good64() => ElfWriter.Build(true, 0x1000, [new TestSegment(0x1000, [0xF4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0x20)]);

    internal static byte[] Good32Two() => ElfWriter.Build(false, 0x1000, [
        new TestSegment(0x1000, [0xF4], 1),
        new TestSegment(0x2000, [1, 2, 3, 4], 0x10),
    ]);

    private static byte[] Patch(byte[] b, int at, byte v) { b[at] = v; return b; }
    private static byte[] Patch16(byte[] b, int at, ushort v) { ElfWriter.W16(b, at, v); return b; }
    private static byte[] Patch32(byte[] b, int at, uint v) { ElfWriter.W32(b, at, v); return b; }
    private static byte[] Patch64(byte[] b, int at, ulong v) { ElfWriter.W64(b, at, v); return b; }
}
