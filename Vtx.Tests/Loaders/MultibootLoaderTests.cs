using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Vtx.Loaders;
using Vtx.Memory;
using Xunit;

namespace Vtx.Tests.Loaders;

public class MultibootLoaderTests
{
    private static PhysicalMemory Ram(int mib = 16) => new((ulong)mib << 20);
    private static uint R32(PhysicalMemory m, ulong at) => BinaryPrimitives.ReadUInt32LittleEndian(m.View(at, 4));
    private static ulong R64(PhysicalMemory m, ulong at) => BinaryPrimitives.ReadUInt64LittleEndian(m.View(at, 8));
    private static string Hash(PhysicalMemory m) => Convert.ToHexString(SHA256.HashData(m.View(0, (int)m.Size)));

    private static string CString(PhysicalMemory m, ulong at)
    {
        var bytes = new List<byte>();
        for (ulong a = at; m.View(a, 1)[0] != 0; a++) bytes.Add(m.View(a, 1)[0]);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    [Fact]
    public void ElfKernelIsLoadedAndEnteredInFlatProtectedMode()
    {
        var m = Ram();
        var r = MultibootLoader.Load(m, MultibootHeader.ElfKernel());
        Assert.Equal(MultibootKernelFormat.Elf, r.Format);
        Assert.Equal(0x100010u, r.Entry);
        Assert.Equal(0x3u, r.HeaderFlags);
        Assert.Equal(ElfWriter.FirstDataOffset(false, 2), r.HeaderOffset);
        Assert.Equal([new PhysicalRange(0x100000, 20), new PhysicalRange(0x101000, 0x800)], r.KernelSegments);
        Assert.Equal(0x101800UL, r.KernelEnd);
        Assert.Equal(new byte[] { 0xFA, 0xF4, 0xEB, 0xFD }, m.View(0x100010, 4).ToArray());
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 0, 0 }, m.View(0x101000, 10).ToArray());

        var s = r.EntryState;
        Assert.Equal(0x100010u, s.Eip);
        Assert.Equal(0x2BADB002u, s.Eax);
        Assert.Equal(0x9000u, s.Ebx);
        Assert.Equal(new SegmentCache(0x08, 0, 0xFFFF_FFFF, 0xC09B), s.CodeSegment);
        Assert.Equal(new SegmentCache(0x10, 0, 0xFFFF_FFFF, 0xC093), s.DataSegment);
        Assert.True(s.CodeSegment.IsCode && s.CodeSegment.Big && !s.CodeSegment.Long);
        Assert.Equal(Cr0.PE | Cr0.ET, s.Cr0);
        Assert.Equal(0UL, s.Cr0 & Cr0.PG);
        Assert.Equal(0x2UL, s.Rflags);              // IF = 0
        Assert.True(s.A20Enabled);
        Assert.Equal(32, s.CodeSize);
    }

    [Fact]
    public void InformationStructureFieldByField()
    {
        var m = Ram(16);
        byte[] initrd = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        var r = MultibootLoader.Load(m, MultibootHeader.ElfKernel(), new MultibootOptions
        {
            KernelName = "kernel.elf",
            Arguments = "arg1 arg2",
            Modules = [new MultibootModule(initrd, "initrd.img root=ram"), new MultibootModule(new byte[] { 7, 8, 9 }, "extra")],
        });
        const uint mbi = 0x9000;
        Assert.Equal(mbi, r.InfoAddress);
        uint flags = R32(m, mbi + 0);
        Assert.Equal((1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9), flags);
        Assert.Equal(640u, R32(m, mbi + 4));                         // mem_lower
        Assert.Equal(15u * 1024, R32(m, mbi + 8));                   // mem_upper: 1 MiB .. 16 MiB
        Assert.Equal(640u, r.MemLower);
        Assert.Equal(15360u, r.MemUpper);
        Assert.Equal(0u, R32(m, mbi + 12));                          // boot_device: not provided (flag 1 clear)

        uint cmdline = R32(m, mbi + 16);
        Assert.Equal("kernel.elf arg1 arg2", CString(m, cmdline));
        Assert.Equal("kernel.elf arg1 arg2", r.CommandLine);

        Assert.Equal(2u, R32(m, mbi + 20));                          // mods_count
        uint mods = R32(m, mbi + 24);
        Assert.Equal(0x102000u, R32(m, mods + 0));                   // first page after the kernel (ends 0x101800)
        Assert.Equal(0x102000u + 5000, R32(m, mods + 4));            // mod_end exclusive
        Assert.Equal("initrd.img root=ram", CString(m, R32(m, mods + 8)));
        Assert.Equal(0u, R32(m, mods + 12));
        Assert.Equal(0x104000u, R32(m, mods + 16));                  // page-aligned after the first
        Assert.Equal(0x104003u, R32(m, mods + 20));
        Assert.Equal("extra", CString(m, R32(m, mods + 24)));
        Assert.Equal(initrd, m.View(0x102000, 5000).ToArray());
        Assert.Equal(new byte[] { 7, 8, 9 }, m.View(0x104000, 3).ToArray());
        Assert.Equal([new MultibootLoadedModule(0x102000, 0x102000 + 5000, R32(m, mods + 8), "initrd.img root=ram"),
                      new MultibootLoadedModule(0x104000, 0x104003, R32(m, mods + 24), "extra")], r.Modules);

        Assert.Equal(0u, R32(m, mbi + 28));                          // syms: none
        uint mmapLength = R32(m, mbi + 44), mmapAddr = R32(m, mbi + 48);
        Assert.Equal(3u * 24, mmapLength);
        Assert.Equal(mbi + 128, mmapAddr);
        var entries = new List<(ulong, ulong, uint)>();
        for (uint at = mmapAddr; at < mmapAddr + mmapLength; at += R32(m, at) + 4)
        {
            Assert.Equal(20u, R32(m, at));                           // size, not counting itself
            entries.Add((R64(m, at + 4), R64(m, at + 12), R32(m, at + 20)));
        }
        Assert.Equal([(0UL, 0xA0000UL, 1u), (0xA0000UL, 0x60000UL, 2u), (0x100000UL, 0xF00000UL, 1u)], entries);
        Assert.Equal(entries, r.MemoryMap.Select(e => (e.BaseAddress, e.Length, e.Type)));

        Assert.Equal(0u, R32(m, mbi + 52));                          // drives
        Assert.Equal("Vtx", CString(m, R32(m, mbi + 64)));           // boot_loader_name
        Assert.Equal(0u, R32(m, mbi + 72));                          // no VBE information
        Assert.True(r.InfoArea.Start == mbi && r.InfoArea.End > mods + 32);
        Assert.True(r.InfoArea.End <= 0xA0000);
    }

    [Fact]
    public void NoArgumentsStillGiveTheNameAndASpaceLikeQemu()
    {
        var m = Ram(2);
        var r = MultibootLoader.Load(m, MultibootHeader.ElfKernel(), new MultibootOptions { KernelName = "k" });
        Assert.Equal("k ", r.CommandLine);
        Assert.Equal(0u, R32(m, 0x9000 + 20));                       // mods_count 0, flag 3 still set
        Assert.Equal(1024u, r.MemUpper);                             // 2 MiB RAM: 1 MiB above 1 MiB
    }

    [Fact]
    public void AddressFieldsLoadAFlatKernelAndZeroItsBss()
    {
        var m = Ram();
        m.Write(0x100000, Enumerable.Repeat((byte)0xCC, 0x2000).ToArray());
        var kernel = MultibootHeader.AoutKernel(loadAddr: 0x100000, prefix: 0x40, bodyLength: 0x200, bssExtra: 0x1000);
        var r = MultibootLoader.Load(m, kernel);
        Assert.Equal(MultibootKernelFormat.AddressFields, r.Format);
        Assert.Equal(0x40, r.HeaderOffset);
        Assert.Equal(0x100060u, r.Entry);                            // header_addr + 32
        Assert.Equal(kernel, m.View(0x100000, kernel.Length).ToArray());
        Assert.All(m.View(0x100000 + (ulong)kernel.Length, 0x1000).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0xCC, m.View(0x100000 + (ulong)kernel.Length + 0x1000, 1)[0]);
        Assert.Equal([new PhysicalRange(0x100000, (ulong)kernel.Length + 0x1000)], r.KernelSegments);
    }

    [Fact]
    public void AddressFieldsWithLoadEndZeroLoadTheRestOfTheFile()
    {
        var m = Ram();
        var kernel = MultibootHeader.AoutKernel(loadEndZero: true);
        var r = MultibootLoader.Load(m, kernel);
        Assert.Equal(kernel, m.View(0x100000, kernel.Length).ToArray());
        Assert.Equal(0x100000UL + (ulong)kernel.Length + 0x1000, r.KernelEnd);
    }

    [Fact]
    public void AddressFieldsMayStartLoadingPartWayIntoTheFileAndAtPageZero()
    {
        // The header sits at file offset 0x80 but header_addr - load_addr = 0x20: loading starts at file offset 0x60.
        var m = Ram(1);
        var f = new byte[0x100];
        for (int i = 0; i < f.Length; i++) f[i] = (byte)i;
        MultibootHeader.Build(0x1_0000, (0x20, 0x0, 0xA0, 0, 0x40)).CopyTo(f, 0x80);
        var r = MultibootLoader.Load(m, f);
        Assert.Equal(0x40u, r.Entry);
        Assert.Equal(f.AsSpan(0x60, 0xA0).ToArray(), m.View(0, 0xA0).ToArray());
    }

    [Fact]
    public void TheInformationAreaCanBeMoved()
    {
        var m = Ram(4);
        var r = MultibootLoader.Load(m, MultibootHeader.ElfKernel(), new MultibootOptions { InfoAddress = 0x20_0000 });
        Assert.Equal(0x20_0000u, r.EntryState.Ebx);
        Assert.Equal(0x20_0000u + 128, R32(m, 0x20_0000 + 48));
        Assert.Throws<ArgumentException>(() => MultibootLoader.Load(m, MultibootHeader.ElfKernel(), new MultibootOptions { InfoAddress = 0x9004 }));
    }

    [Fact]
    public void Elf64KernelsBelow4GiBAreAccepted()
    {
        var m = Ram(2);
        var r = MultibootLoader.Load(m, MultibootHeader.ElfKernel(is64: true));
        Assert.Equal(0x100010u, r.Entry);
    }

    [Fact]
    public void TheHeaderMustLieWhollyInTheFirst8KiB()
    {
        // A 32-byte header ending exactly at byte 8192 is found.
        var f = new byte[8192 + 16];
        MultibootHeader.Build(0x1_0000, (0x100000 + 8160, 0x100000, 0, 0, 0x100000)).CopyTo(f, 8160);
        var r = MultibootLoader.Load(Ram(2), f);
        Assert.Equal(8160, r.HeaderOffset);
        // A 12-byte header that would straddle byte 8192 is not.
        var g = new byte[8192 + 16];
        MultibootHeader.Build(0x3).CopyTo(g, 8184);
        Assert.Contains("no multiboot header", Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(Ram(2), g)).Message);
        // Nor are the address fields of a header whose first 12 bytes fit.
        var h = new byte[8192 + 64];
        MultibootHeader.Build(0x1_0000, (0x100000 + 8176, 0x100000, 0, 0, 0x100000)).CopyTo(h, 8176);
        Assert.Contains("run past the first 8192 bytes", Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(Ram(2), h)).Message);
    }

    public static TheoryData<string, Func<byte[]>, int> BrokenKernels => new()
    {
        { "no multiboot header: magic 0x1BADB002 not found", () => new byte[4096], 2 },
        { "no multiboot header", () => Place(MultibootHeader.Build(0x3), 8192, 9000), 2 },         // beyond the first 8 KiB
        { "no multiboot header", () => Place(MultibootHeader.Build(0x3), 2, 64), 2 },              // not 4-byte aligned
        { "multiboot header checksum mismatch at file offset 0x10: magic + flags + checksum = 0x00000001, must be 0",
            () => Place(MultibootHeader.Build(0x3, checksum: unchecked(0u - 0x1BADB002 - 3 + 1)), 16, 64), 2 },
        { "multiboot header flags 0x00000013 request unsupported required features (bits 0x0010)", () => MultibootHeader.ElfKernel(flags: 0x13), 2 },
        { "multiboot kernel is not an ELF image and its header does not set flag 16", () => Place(MultibootHeader.Build(0x3), 0, 64), 2 },
        { "multiboot header at file offset 0x20 sets flag 16 but its address fields (32 bytes) run past the end of the file (0x30)",
            () => Place(MultibootHeader.Build(0x1_0000), 0x20, 0x30), 2 },
        { "multiboot header_addr 0xFFF is below load_addr 0x1000",
            () => Place(MultibootHeader.Build(0x1_0000, (0xFFF, 0x1000, 0, 0, 0x1000)), 0, 64), 2 },
        { "exceeds the header's file offset 0x10: loading would start before the beginning of the file",
            () => Place(MultibootHeader.Build(0x1_0000, (0x100020, 0x100000, 0, 0, 0x100000)), 0x10, 64), 2 },
        { "multiboot load_end_addr 0xFFFFF is below load_addr 0x100000",
            () => Place(MultibootHeader.Build(0x1_0000, (0x100000, 0x100000, 0xFFFFF, 0, 0x100000)), 0, 64), 2 },
        { "multiboot load_end_addr 0x100100: 0x100 bytes from file offset 0x0 run past the end of the file (0x40)",
            () => Place(MultibootHeader.Build(0x1_0000, (0x100000, 0x100000, 0x100100, 0, 0x100000)), 0, 64), 2 },
        { "multiboot bss_end_addr 0x100020 is below the end of the loaded image 0x100040",
            () => Place(MultibootHeader.Build(0x1_0000, (0x100000, 0x100000, 0, 0x100020, 0x100000)), 0, 64), 2 },
        { "multiboot kernel 0x1FFFC0-0x200040 (load_addr to load end) lies outside RAM (0x0-0x200000)",
            () => Place(MultibootHeader.Build(0x1_0000, (0x1FFFC0, 0x1FFFC0, 0, 0, 0x1FFFC0)), 0, 0x80), 2 },
        { "ELF entry point 0x200000 is not inside any PT_LOAD segment", () => ElfEntryOutside(), 2 },
        { "ELF program header 1: segment p_paddr 0x101000 + p_memsz 0x800 = 0x101800 lies outside RAM (0x0-0x101000)",
            () => MultibootHeader.ElfKernel(), -1 },
        { "multiboot module 0 (\"big\", 0x100000 bytes) does not fit: it would occupy 0x102000-0x202000, but RAM ends at 0x200000",
            () => MultibootHeader.ElfKernel(), -2 },
        { "ELF32 e_machine 40 is not 3 (EM_386)", () => Patch16(MultibootHeader.ElfKernel(), 18, 40), 2 },
    };

    [Theory]
    [MemberData(nameof(BrokenKernels))]
    public void BrokenKernelsAreRejectedNamingTheDefectAndLeaveMemoryAlone(string message, Func<byte[]> kernel, int ramMiB)
    {
        // ramMiB -1: RAM ends at 0x101000; -2: 2 MiB with a 1-MiB module.
        var m = ramMiB == -1 ? new PhysicalMemory(0x101000) : Ram(ramMiB < 0 ? 2 : ramMiB);
        var options = ramMiB == -2 ? new MultibootOptions { Modules = [new MultibootModule(new byte[0x100000], "big")] } : null;
        string before = Hash(m);
        var ex = Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(m, kernel(), options));
        Assert.Contains(message, ex.Message);
        Assert.Equal(before, Hash(m));
    }

    [Fact]
    public void TheInformationAreaMustFitInRam()
    {
        var m = new PhysicalMemory(0x9000 + 0x1000);
        var big = new string('a', 0x1000);
        var ex = Assert.Throws<InvalidImageException>(() =>
            MultibootLoader.Load(m, Place(MultibootHeader.Build(0x1_0000, (0x1000, 0x1000, 0, 0, 0x1000)), 0, 64), new MultibootOptions { Arguments = big, InfoAddress = 0x9000 }));
        Assert.Contains("multiboot boot information area 0x9000-", ex.Message);
        Assert.Contains("lies outside RAM (0x0-0xA000)", ex.Message);
        // Chosen by the loader, it goes after the kernel (0x1000-0x1040) instead, where it fits.
        var r = MultibootLoader.Load(m, Place(MultibootHeader.Build(0x1_0000, (0x1000, 0x1000, 0, 0, 0x1000)), 0, 64), new MultibootOptions { Arguments = big });
        Assert.Equal(0x2000u, r.InfoAddress);
        Assert.Equal("kernel " + big, CString(m, R32(m, 0x2000 + 16)));
        // Nowhere to put it: the message names the area at its fallback place.
        var none = new PhysicalMemory(0x3000);
        ex = Assert.Throws<InvalidImageException>(() =>
            MultibootLoader.Load(none, Place(MultibootHeader.Build(0x1_0000, (0x1000, 0x1000, 0, 0, 0x1000)), 0, 64), new MultibootOptions { Arguments = big }));
        Assert.Contains("multiboot boot information area 0x2000-", ex.Message);
    }

    /// <summary>
    /// A kernel linked at 0x8000 (a real-mode style test image) covers the default information area
    /// at 0x9000: the loader puts the information after the kernel's highest byte instead of refusing
    /// a valid image (an explicitly requested overlapping address is still refused).
    /// </summary>
    [Fact]
    public void AKernelCoveringTheDefaultInfoAreaGetsItsInfoAfterIt()
    {
        var m = Ram(2);
        byte[] kernel = Place(MultibootHeader.Build(0x1_0000, (0x8000, 0x8000, 0, 0x9040, 0x8000)), 0, 64);
        for (int i = 48; i < 64; i++) kernel[i] = (byte)(0xC0 + i);
        var r = MultibootLoader.Load(m, kernel, new MultibootOptions { Modules = [new MultibootModule(new byte[] { 1, 2, 3 }, "mod")] });
        Assert.Equal(0xA000u, r.InfoAddress);                              // first page boundary after 0x9040
        Assert.Equal(0xA000u, r.EntryState.Ebx);
        Assert.DoesNotContain(r.KernelSegments, s => s.Overlaps(r.InfoArea));
        Assert.Equal(kernel.AsSpan(0, 64).ToArray(), m.View(0x8000, 64).ToArray()); // the image is intact
        Assert.Equal(new byte[0x1000], m.View(0x8040, 0x1000).ToArray());           // bss zeroed, not overwritten by the info
        Assert.Equal((1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9), R32(m, 0xA000));
        Assert.Equal("kernel ", CString(m, R32(m, 0xA000 + 16)));
        Assert.True(r.Modules[0].Start >= r.InfoArea.End);                 // modules still follow both
        Assert.Equal(new byte[] { 1, 2, 3 }, m.View(r.Modules[0].Start, 3).ToArray());

        var explicitAt = Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(Ram(2), kernel, new MultibootOptions { InfoAddress = 0x9000 }));
        Assert.Contains("multiboot kernel 0x8000-0x9040 overlaps the boot information area 0x9000-", explicitAt.Message);
    }

    [Fact]
    public void VideoModeFlagIsAcceptedWithoutVideoInformation()
    {
        var m = Ram(2);
        var r = MultibootLoader.Load(m, MultibootHeader.ElfKernel(flags: 0x7));
        Assert.Equal(0x7u, r.HeaderFlags);
        Assert.Equal(0u, R32(m, 0x9000) & (3u << 11));
    }

    [Fact]
    public void FindHeaderReportsTheFirstValidHeader()
    {
        var f = new byte[256];
        MultibootHeader.Build(0x3, checksum: 5).CopyTo(f, 0x10);      // bad checksum: skipped
        MultibootHeader.Build(0x2).CopyTo(f, 0x40);
        Assert.Equal((0x40, 0x2u), MultibootLoader.FindHeader(f));
    }

    private static byte[] Place(byte[] header, int at, int length)
    {
        var f = new byte[length];
        header.CopyTo(f, at);
        return f;
    }

    private static byte[] ElfEntryOutside()
    {
        var text = new byte[32];
        MultibootHeader.Build(0x3).CopyTo(text, 0);
        return ElfWriter.Build(false, 0x200000, [new TestSegment(0x100000, text, 32)]);
    }

    private static byte[] Patch16(byte[] b, int at, ushort v) { ElfWriter.W16(b, at, v); return b; }
}
