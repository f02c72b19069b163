using System.Buffers.Binary;
using System.Text;
using Vtx.Memory;

namespace Vtx.Loaders;

/// <summary>Options for <see cref="LinuxLoader.Load"/>.</summary>
public sealed record LinuxBootOptions
{
    /// <summary>The kernel command line (ASCII/UTF-8, without the terminating NUL).</summary>
    public string CommandLine { get; init; } = "";

    /// <summary>The initial RAM disk (initrd/initramfs) image, or null for none.</summary>
    public byte[]? Initrd { get; init; }

    /// <summary>The physical address of the ACPI RSDP, passed in boot_params.acpi_rsdp_addr (0: none; the kernel scans for it).</summary>
    public ulong AcpiRsdp { get; init; }
}

/// <summary>What <see cref="LinuxLoader.Load"/> loaded and the entry state it calls for.</summary>
/// <param name="ProtocolVersion">The boot protocol version of the kernel (e.g. 0x020F).</param>
/// <param name="LoadAddress">Where the protected-mode kernel was loaded.</param>
/// <param name="Entry64">The 64-bit entry point: <paramref name="LoadAddress"/> + 200h.</param>
/// <param name="BootParams">The boot_params ("zero page") address, passed in RSI.</param>
/// <param name="CommandLine">The command line's address.</param>
/// <param name="Initrd">The initrd's range (length 0 when none).</param>
/// <param name="PageTables">CR3: the PML4 of the identity map of the first 4 GiB.</param>
/// <param name="Gdt">The GDT base (selectors 10h = 64-bit code, 18h = data).</param>
/// <param name="E820">The e820 map written into boot_params.</param>
public sealed record LinuxImage(ushort ProtocolVersion, ulong LoadAddress, ulong Entry64, ulong BootParams, ulong CommandLine,
                                PhysicalRange Initrd, ulong PageTables, ulong Gdt, IReadOnlyList<MultibootMemoryMapEntry> E820);

/// <summary>
/// Loads a Linux bzImage by the x86 boot protocol (Linux Documentation/arch/x86/boot.rst, "The
/// Linux/x86 Boot Protocol", and zero-page.rst) for its 64-bit entry point.
/// </summary>
/// <remarks>
/// <para>
/// Accepted: boot_flag AA55h at 1FEh, "HdrS" at 202h, protocol 2.12 or later, LOADED_HIGH, and
/// XLF_KERNEL_64 in xloadflags (the 64-bit entry at +200h). setup_sects 0 means 4. The
/// protected-mode kernel — the file from (setup_sects + 1) × 512 — is loaded at pref_address (a
/// relocatable kernel that does not fit there goes to the lowest kernel_alignment-aligned address
/// from 1 MiB that fits); init_size bytes from there must be RAM below the hole.
/// </para>
/// <para>
/// boot_params is a zeroed page at 7000h with the kernel's setup header copied at 1F1h (up to the
/// end the jump at 200h gives), then type_of_loader = FFh, CAN_USE_HEAP with heap_end_ptr = FE00h,
/// code32_start, cmd_line_ptr (the command line, NUL-terminated, at 20000h; longer than
/// cmdline_size - 1 is refused), ramdisk_image/ramdisk_size and their ext_ halves (the initrd at the
/// highest 4-KiB-aligned address below both initrd_addr_max and the end of RAM below the hole,
/// above the kernel's init_size), acpi_rsdp_addr (at 70h), and the e820 table (at 2D0h, count at
/// 1E8h) from the machine's memory map.
/// </para>
/// <para>
/// Entry state (boot.rst, "64-bit Boot Protocol"): 64-bit mode with paging on, an identity map of
/// the first 4 GiB with 2-MiB pages (PML4 at 9000h, PDPT at A000h, page directories B000h-EFFFh),
/// a GDT at 5000h with __BOOT_CS = 10h (64-bit code) and __BOOT_DS = 18h (data) loaded in CS and
/// DS/ES/SS/FS/GS, interrupts off, RSI = boot_params, other general registers 0, RIP = the 64-bit
/// entry. Everything is validated before anything is written.
/// </para>
/// </remarks>
public static class LinuxLoader
{
    /// <summary>boot_params' address.</summary>
    public const ulong BootParamsAddress = 0x7000;
    /// <summary>The command line's address.</summary>
    public const ulong CommandLineAddress = 0x20000;
    /// <summary>The GDT's address.</summary>
    public const ulong GdtAddress = 0x5000;
    /// <summary>The PML4's address.</summary>
    public const ulong PageTableAddress = 0x9000;
    /// <summary>The lowest accepted boot protocol version: 2.12 (xloadflags).</summary>
    public const ushort MinimumProtocol = 0x020C;

    private const int HeaderEnd = 0x280;

    /// <summary>Validates and loads <paramref name="bzImage"/> into <paramref name="memory"/>.</summary>
    /// <exception cref="InvalidImageException">The image is not a loadable 64-bit bzImage, or it, the command line or the initrd do not fit (the message says why).</exception>
    public static LinuxImage Load(PhysicalMemory memory, ReadOnlySpan<byte> bzImage, LinuxBootOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        options ??= new LinuxBootOptions();
        if (options.CommandLine is null) throw new ArgumentException("CommandLine must not be null", nameof(options));
        if (bzImage.Length < HeaderEnd)
            throw new InvalidImageException($"bzImage of {bzImage.Length} bytes is shorter than the setup header (0x{HeaderEnd:X} bytes)");
        if (U16(bzImage, 0x1FE) != 0xAA55) throw new InvalidImageException($"bzImage boot_flag at 0x1FE is 0x{U16(bzImage, 0x1FE):X4}, not 0xAA55");
        if (U32(bzImage, 0x202) != 0x5372_6448) throw new InvalidImageException("bzImage has no \"HdrS\" signature at 0x202");
        ushort version = U16(bzImage, 0x206);
        if (version < MinimumProtocol)
            throw new InvalidImageException($"boot protocol {version >> 8}.{version & 0xFF:D2} is older than 2.12 (no 64-bit entry information)");
        byte loadflags = bzImage[0x211];
        if ((loadflags & 1) == 0) throw new InvalidImageException("the kernel is not a bzImage (LOADED_HIGH clear in loadflags)");
        ushort xloadflags = U16(bzImage, 0x236);
        if ((xloadflags & 1) == 0) throw new InvalidImageException("the kernel has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags)");
        int setupSects = bzImage[0x1F1] == 0 ? 4 : bzImage[0x1F1];
        int kernelOffset = (setupSects + 1) * 512;
        if (kernelOffset >= bzImage.Length)
            throw new InvalidImageException($"setup_sects {setupSects} puts the kernel at 0x{kernelOffset:X}, at or past the end of the {bzImage.Length}-byte file");
        var kernel = bzImage[kernelOffset..];
        ulong initSize = Math.Max(U32(bzImage, 0x260), (ulong)kernel.Length);
        ulong alignment = U32(bzImage, 0x230);
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) alignment = 0x20_0000;
        bool relocatable = bzImage[0x234] != 0;
        ulong pref = U64(bzImage, 0x258);
        if (pref == 0) pref = 0x10_0000;
        ulong limit = memory.LowSize;
        ulong load = pref;
        if (!LoaderMemory.Fits(load, initSize, limit) || load < 0x10_0000)
        {
            if (!relocatable)
                throw new InvalidImageException($"the kernel must be loaded at pref_address 0x{pref:X} and needs 0x{initSize:X} bytes (init_size) there, but RAM below the hole ends at 0x{limit:X}");
            load = (0x10_0000 + alignment - 1) & ~(alignment - 1);
            if (!LoaderMemory.Fits(load, initSize, limit))
                throw new InvalidImageException($"the kernel needs 0x{initSize:X} bytes (init_size) from 0x{load:X}, but RAM below the hole ends at 0x{limit:X}");
        }

        byte[] cmd = Encoding.UTF8.GetBytes(options.CommandLine + "\0");
        uint cmdlineSize = U32(bzImage, 0x238);
        if (cmdlineSize == 0) cmdlineSize = 255;
        if ((ulong)cmd.Length > (ulong)cmdlineSize + 1 || cmd.Length > 0x10000)
            throw new InvalidImageException($"the command line of {cmd.Length - 1} bytes is longer than the kernel's cmdline_size ({cmdlineSize})");
        if (!LoaderMemory.Fits(CommandLineAddress, (ulong)cmd.Length, limit))
            throw new InvalidImageException($"RAM (0x{limit:X} bytes below the hole) is too small for the command line at 0x{CommandLineAddress:X}");

        var initrd = new PhysicalRange(0, 0);
        if (options.Initrd is { Length: > 0 } rd)
        {
            ulong max = Math.Min((ulong)U32(bzImage, 0x22C), limit - 1);
            ulong top = max + 1;
            ulong at = top >= (ulong)rd.Length ? (top - (ulong)rd.Length) & ~0xFFFUL : 0;
            if (top < (ulong)rd.Length || at < load + initSize)
                throw new InvalidImageException($"the initrd of 0x{rd.Length:X} bytes does not fit between the kernel's end (0x{load + initSize:X}) and 0x{top:X} (initrd_addr_max or the end of RAM below the hole)");
            initrd = new PhysicalRange(at, (ulong)rd.Length);
        }

        var e820 = MultibootLoader.BuildMemoryMap(memory);
        if (e820.Count > 128) throw new InvalidImageException("the memory map has more than 128 entries");

        // Everything fits: write.
        LoaderMemory.Zero(memory, load, initSize);
        memory.Write(load, kernel);
        memory.Write(CommandLineAddress, cmd);
        if (options.Initrd is { Length: > 0 } r2) memory.Write(initrd.Start, r2);

        var bp = new byte[4096];
        int hdrEnd = Math.Min(0x202 + bzImage[0x201], bzImage.Length);
        hdrEnd = Math.Clamp(hdrEnd, 0x202, 0x290);
        bzImage[0x1F1..hdrEnd].CopyTo(bp.AsSpan(0x1F1));
        bp[0x210] = 0xFF;                              // type_of_loader: undefined loader
        bp[0x211] = (byte)((loadflags & ~0x20) | 0x80); // not QUIET; CAN_USE_HEAP
        W16(bp, 0x224, 0xFE00);                        // heap_end_ptr
        W32(bp, 0x214, (uint)load);                    // code32_start
        W32(bp, 0x228, (uint)CommandLineAddress);
        W32(bp, 0x218, (uint)initrd.Start);
        W32(bp, 0x21C, (uint)initrd.Length);
        W32(bp, 0x0C0, (uint)(initrd.Start >> 32));
        W32(bp, 0x0C4, (uint)(initrd.Length >> 32));
        W32(bp, 0x0C8, 0);                             // ext_cmd_line_ptr
        W64(bp, 0x070, options.AcpiRsdp);
        bp[0x1E8] = (byte)e820.Count;
        for (int i = 0; i < e820.Count; i++)
        {
            int at = 0x2D0 + i * 20;
            W64(bp, at, e820[i].BaseAddress);
            W64(bp, at + 8, e820[i].Length);
            W32(bp, at + 16, e820[i].Type);
        }
        memory.Write(BootParamsAddress, bp);

        // GDT: null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data).
        var gdt = new byte[32];
        W64(gdt, 16, 0x00AF_9A00_0000_FFFFUL);
        W64(gdt, 24, 0x00CF_9200_0000_FFFFUL);
        memory.Write(GdtAddress, gdt);

        // Identity map of the first 4 GiB: PML4[0] -> PDPT, PDPT[0..3] -> 4 page directories of 2-MiB pages.
        var pt = new byte[6 * 4096];
        W64(pt, 0, (PageTableAddress + 0x1000) | 3);
        for (int i = 0; i < 4; i++) W64(pt, 0x1000 + i * 8, (PageTableAddress + 0x2000 + (ulong)i * 0x1000) | 3);
        for (int i = 0; i < 4 * 512; i++) W64(pt, 0x2000 + i * 8, ((ulong)i << 21) | 0x83);
        memory.Write(PageTableAddress, pt);

        return new LinuxImage(version, load, load + 0x200, BootParamsAddress, CommandLineAddress, initrd, PageTableAddress, GdtAddress, e820);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
    private static void W16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    private static void W32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    private static void W64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);
}
