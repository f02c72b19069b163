using System.Buffers.Binary;
using System.Text;
using Vtx.Loaders;
using Xunit;

namespace Vtx.Tests.Loaders;

/// <summary>
/// The Linux x86 boot protocol loader (Documentation/arch/x86/boot.rst, zero-page.rst) with a
/// bzImage built here from the protocol's header layout: a 64-bit "kernel" that reads its
/// boot_params through the loader's page tables and reports what it found.
/// </summary>
public class LinuxLoaderTests
{
    private const uint InitSize = 0x20_0000;

    /// <summary>
    /// A bzImage: setup_sects = 1 (setup = 2 sectors), header at 1F1h, protocol <paramref name="version"/>, and a
    /// protected-mode part whose 64-bit entry (+200h) runs <paramref name="entry64"/>.
    /// </summary>
    internal static byte[] BzImage(byte[] entry64, ushort version = 0x020F, ushort xloadflags = 0x3, byte loadflags = 0x01,
                                  ulong pref = 0x100_0000, uint cmdlineSize = 2047, uint initrdMax = 0x7FFF_FFFF, byte relocatable = 1)
    {
        var img = new byte[0x400 + 0x200 + entry64.Length];
        img[0x1F1] = 1;                                          // setup_sects
        BinaryPrimitives.WriteUInt16LittleEndian(img.AsSpan(0x1FE), 0xAA55);
        img[0x200] = 0xEB; img[0x201] = 0x66;                    // jmp to the end of the header (0x268)
        Encoding.ASCII.GetBytes("HdrS", img.AsSpan(0x202));
        BinaryPrimitives.WriteUInt16LittleEndian(img.AsSpan(0x206), version);
        img[0x211] = loadflags;
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x22C), initrdMax);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x230), 0x20_0000);  // kernel_alignment
        img[0x234] = relocatable;
        BinaryPrimitives.WriteUInt16LittleEndian(img.AsSpan(0x236), xloadflags);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x238), cmdlineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(img.AsSpan(0x258), pref);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x260), InitSize);
        img[0x400] = 0xF4;                                       // 32-bit entry (startup_32): hlt (never used here)
        entry64.CopyTo(img, 0x600);
        return img;
    }

    // mov eax,[rsi+228h]; mov ebx,[rsi+218h]; mov ecx,[rsi+21Ch]; mov rdx,[rsi+70h]; movzx ebp, byte [rsi+1E8h];
    // mov rdi, cr3; movzx r8d, byte [rax]; hlt
    private static readonly byte[] Probe =
    [
        0x8B, 0x86, 0x28, 0x02, 0x00, 0x00,
        0x8B, 0x9E, 0x18, 0x02, 0x00, 0x00,
        0x8B, 0x8E, 0x1C, 0x02, 0x00, 0x00,
        0x48, 0x8B, 0x56, 0x70,
        0x0F, 0xB6, 0xAE, 0xE8, 0x01, 0x00, 0x00,
        0x0F, 0x20, 0xDF,
        0x44, 0x0F, 0xB6, 0x00,
        0xF4,
    ];

    [Fact]
    public void SyntheticBzImage_EntersIn64BitModeWithBootParams()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 64, Platform = MachinePlatform.Pc });
        var initrd = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray();
        var img = m.LoadLinux(BzImage(Probe), new LinuxBootOptions { CommandLine = "console=ttyS0 quiet", Initrd = initrd });
        Assert.Equal(0x100_0000UL, img.LoadAddress);             // pref_address fits
        var cpu = m.Cpu;
        Assert.Equal(0x100_0200UL, cpu.Rip);
        Assert.Equal((ushort)0x10, cpu.GetSelector(SegmentRegister.Cs));
        Assert.Equal((ushort)0x18, cpu.GetSelector(SegmentRegister.Ds));
        Assert.Equal(0UL, cpu.Rflags & 0x200);                   // interrupts off
        var r = m.Run(RunLimits.Instructions(20));
        Assert.Equal(StopReason.Halted, r.Reason);

        ulong bp = cpu[Gpr.Rsi];
        Assert.Equal(0x20000UL, cpu[Gpr.Rax]);                   // cmd_line_ptr
        Assert.Equal((byte)'c', (byte)cpu[Gpr.R8]);              // read through the identity map
        Assert.Equal("console=ttyS0 quiet\0", Encoding.ASCII.GetString(m.ReadMemory(cpu[Gpr.Rax], 20)));
        // initrd: the highest 4-KiB-aligned place that ends below 64 MiB.
        ulong expectInitrd = ((64UL << 20) - (ulong)initrd.Length) & ~0xFFFUL;
        Assert.Equal(expectInitrd, cpu[Gpr.Rbx]);
        Assert.Equal((ulong)initrd.Length, cpu[Gpr.Rcx]);
        Assert.Equal(initrd, m.ReadMemory(expectInitrd, initrd.Length));
        Assert.Equal(m.Firmware!.Value.Rsdp, cpu[Gpr.Rdx]);      // acpi_rsdp_addr
        Assert.Equal(3UL, cpu[Gpr.Rbp]);                         // e820_entries
        var b = m.ReadMemory(bp, 4096);
        var e820 = Enumerable.Range(0, 3).Select(i => (BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(0x2D0 + 20 * i)),
            BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(0x2D8 + 20 * i)), BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x2E0 + 20 * i)))).ToArray();
        Assert.Equal(new[] { (0UL, 0xA0000UL, 1u), (0xA0000UL, 0x60000UL, 2u), (0x100000UL, (64UL << 20) - 0x100000, 1u) }, e820);
        Assert.Equal("HdrS", Encoding.ASCII.GetString(b, 0x202, 4));   // the setup header copied
        Assert.Equal(0xFF, b[0x210]);                             // type_of_loader
        Assert.Equal(0x100_0000u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x214))); // code32_start
        Assert.Equal(0x80 | 0x01, b[0x211] & 0x81);               // LOADED_HIGH, CAN_USE_HEAP
        // The kernel image is where the header says, and the rest of init_size is zeroed.
        Assert.Equal(0xF4, m.ReadMemory(0x100_0000, 1)[0]);
        Assert.All(m.ReadMemory(0x100_0200 + (ulong)Probe.Length, 64), x => Assert.Equal(0, x));
    }

    [Fact]
    public void AboveTheHole_E820ListsRemappedRam()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 5 * 1024, Platform = MachinePlatform.Pc });
        var img = m.LoadLinux(BzImage([0xF4]), new LinuxBootOptions { Initrd = [1, 2, 3] });
        var b = m.ReadMemory(img.BootParams, 4096);
        Assert.Equal(4, b[0x1E8]);
        Assert.Equal(4UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(0x2D0 + 60)));
        Assert.Equal(2UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(0x2D8 + 60)));
        Assert.Equal(0x7FFF_F000UL, img.Initrd.Start);              // below initrd_addr_max (2 GiB - 1), not above 4 GiB
    }

    public static TheoryData<string, byte[], string> BadImages => new()
    {
        { "short", new byte[0x100], "shorter than the setup header" },
        { "no AA55", Mutate(BzImage([0xF4]), i => i[0x1FE] = 0), "boot_flag" },
        { "no HdrS", Mutate(BzImage([0xF4]), i => i[0x202] = (byte)'X'), "HdrS" },
        { "2.11", BzImage([0xF4], version: 0x020B), "older than 2.12" },
        { "no 64-bit", BzImage([0xF4], xloadflags: 0), "XLF_KERNEL_64" },
        { "zImage", BzImage([0xF4], loadflags: 0), "LOADED_HIGH" },
        { "setup past end", Mutate(BzImage([0xF4]), i => i[0x1F1] = 0xF0), "past the end" },
        { "fixed too high", BzImage([0xF4], pref: 0x4000_0000, relocatable: 0), "pref_address" },
    };

    private static byte[] Mutate(byte[] b, Action<byte[]> f) { f(b); return b; }

    [Theory]
    [MemberData(nameof(BadImages))]
    public void BadImages_AreRefusedWithAReason_AndMemoryIsUntouched(string name, byte[] image, string reason)
    {
        _ = name;
        var m = new Machine(new MachineOptions { MemoryMiB = 64 });
        var e = Assert.Throws<InvalidImageException>(() => m.LoadLinux(image));
        Assert.Contains(reason, e.Message);
        Assert.All(m.ReadMemory(0x7000, 0x1000), x => Assert.Equal(0, x));
    }

    [Fact]
    public void CommandLineAndInitrdLimits()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 64 });
        var e = Assert.Throws<InvalidImageException>(() => m.LoadLinux(BzImage([0xF4], cmdlineSize: 8), new LinuxBootOptions { CommandLine = "123456789" }));
        Assert.Contains("cmdline_size", e.Message);
        m.LoadLinux(BzImage([0xF4], cmdlineSize: 8), new LinuxBootOptions { CommandLine = "12345678" });
        e = Assert.Throws<InvalidImageException>(() => m.LoadLinux(BzImage([0xF4]), new LinuxBootOptions { Initrd = new byte[60 << 20] }));
        Assert.Contains("initrd", e.Message);
        // initrd_addr_max is honoured.
        var img = m.LoadLinux(BzImage([0xF4], initrdMax: 0x1FF_FFFF), new LinuxBootOptions { Initrd = new byte[5000] });
        Assert.Equal((0x200_0000UL - 5000) & ~0xFFFUL, img.Initrd.Start);
    }
}
