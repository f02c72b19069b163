using System.Buffers.Binary;
using System.Text;
using Vtx.Memory;

namespace Vtx.Loaders;

/// <summary>A boot module handed to a multiboot kernel (an initrd, a program, a data file).</summary>
/// <param name="Data">The module's bytes.</param>
/// <param name="CommandLine">The module string (QEMU passes the file name followed by any arguments, e.g. "initrd.img root=/dev/ram").</param>
public sealed record MultibootModule(ReadOnlyMemory<byte> Data, string CommandLine);

/// <summary>Options for <see cref="MultibootLoader.Load"/>.</summary>
public sealed record MultibootOptions
{
    /// <summary>The kernel's file name: the first word of the command line, as QEMU passes it.</summary>
    public string KernelName { get; init; } = "kernel";

    /// <summary>The kernel arguments, appended after the name and one space (QEMU's <c>-append</c>).</summary>
    public string Arguments { get; init; } = "";

    /// <summary>The modules, loaded in order after the kernel, each at a page boundary.</summary>
    public IReadOnlyList<MultibootModule> Modules { get; init; } = [];

    /// <summary>The boot loader name reported in the information structure (flag 9).</summary>
    public string BootLoaderName { get; init; } = "Vtx";

    /// <summary>
    /// Guest-physical address of the boot information area: the structure, the memory map, the
    /// module list and the strings, in that order. Must be a multiple of 8; the area must then fit
    /// in RAM and not overlap the kernel. Null (the default): the loader chooses —
    /// <see cref="MultibootLoader.DefaultInfoAddress"/> (0x9000, where QEMU puts its information
    /// structure and memory map) when the area fits there without overlapping the kernel, otherwise
    /// the first 4-KiB boundary after the kernel's highest byte (bss included), so no valid image is
    /// refused because of where the boot information would go (a real-mode style kernel linked at
    /// 0x8000, for example).
    /// </summary>
    public uint? InfoAddress { get; init; }
}

/// <summary>How a multiboot kernel was loaded.</summary>
public enum MultibootKernelFormat
{
    /// <summary>By its ELF program headers (header flag 16 clear).</summary>
    Elf,
    /// <summary>By the header's address fields, the "a.out kludge" (header flag 16 set).</summary>
    AddressFields,
}

/// <summary>One entry of the multiboot memory map (multiboot 0.6.96, 3.3 "Boot information format", mmap_*).</summary>
/// <param name="BaseAddress">base_addr.</param>
/// <param name="Length">length in bytes.</param>
/// <param name="Type">1 = available RAM, 2 = reserved.</param>
public readonly record struct MultibootMemoryMapEntry(ulong BaseAddress, ulong Length, uint Type);

/// <summary>One loaded module as listed in the information structure (mods_addr).</summary>
/// <param name="Start">mod_start: its first byte (page-aligned).</param>
/// <param name="End">mod_end: the address just past its last byte.</param>
/// <param name="StringAddress">string: address of its NUL-terminated command line.</param>
/// <param name="CommandLine">The command line itself.</param>
public readonly record struct MultibootLoadedModule(uint Start, uint End, uint StringAddress, string CommandLine);

/// <summary>
/// The machine state a multiboot kernel is entered in (multiboot 0.6.96, 3.2 "Machine state"), as
/// QEMU's <c>-kernel</c> option ROM leaves it (pc-bios/optionrom/multiboot.S): 32-bit protected
/// mode, paging off, flat 4-GiB code and data segments, A20 enabled, interrupts disabled.
/// </summary>
/// <remarks>
/// The GDTR and IDTR are undefined by the specification (the kernel must load its own before it
/// reloads a segment register); ESP is undefined (the kernel sets up its own stack). To apply:
/// load the segment caches as given (no descriptor table is read), CR0 = <see cref="Cr0"/>,
/// EFER = 0, RFLAGS = <see cref="Rflags"/>, EAX, EBX and EIP; zero the other general registers.
/// </remarks>
public sealed record MultibootEntryState
{
    /// <summary>The magic value a multiboot kernel expects in EAX.</summary>
    public const uint BootloaderMagic = 0x2BADB002;

    /// <summary>EIP: the kernel entry point (physical).</summary>
    public required uint Eip { get; init; }

    /// <summary>EAX: 0x2BADB002.</summary>
    public uint Eax { get; init; } = BootloaderMagic;

    /// <summary>EBX: the physical address of the multiboot information structure.</summary>
    public required uint Ebx { get; init; }

    /// <summary>CS: selector 0x08, base 0, limit 0xFFFFFFFF, 32-bit execute/read code, DPL 0 (QEMU's GDT entry 1).</summary>
    public SegmentCache CodeSegment { get; init; } =
        new(0x08, 0, 0xFFFF_FFFF, 0x0B | SegmentCache.S | SegmentCache.P | SegmentCache.DB | SegmentCache.G);

    /// <summary>DS, ES, FS, GS and SS: selector 0x10, base 0, limit 0xFFFFFFFF, 32-bit read/write data, DPL 0 (QEMU's GDT entry 2).</summary>
    public SegmentCache DataSegment { get; init; } =
        new(0x10, 0, 0xFFFF_FFFF, 0x03 | SegmentCache.S | SegmentCache.P | SegmentCache.DB | SegmentCache.G);

    /// <summary>CR0: PE set, PG clear (QEMU writes 1; ET reads as 1).</summary>
    public ulong Cr0 { get; init; } = Vtx.Cr0.PE | Vtx.Cr0.ET;

    /// <summary>RFLAGS: IF clear, VM clear, DF clear (only the reserved bit 1 set).</summary>
    public ulong Rflags { get; init; } = 0x2;

    /// <summary>The A20 gate is enabled (no address wrap at 1 MiB).</summary>
    public bool A20Enabled { get; init; } = true;

    /// <summary>The code size the processor runs in: 32.</summary>
    public int CodeSize => 32;
}

/// <summary>The result of loading a multiboot kernel: where everything went and how to enter it.</summary>
/// <param name="Format">How the kernel was loaded.</param>
/// <param name="HeaderOffset">File offset of the multiboot header.</param>
/// <param name="HeaderFlags">The header's flags word.</param>
/// <param name="Entry">The physical entry point.</param>
/// <param name="KernelSegments">The guest-physical ranges the kernel occupies (bss included).</param>
/// <param name="InfoAddress">Physical address of the information structure (EBX).</param>
/// <param name="InfoArea">The whole boot information area (structure, memory map, module list, strings).</param>
/// <param name="CommandLine">The kernel command line passed (name, a space, the arguments).</param>
/// <param name="Modules">The loaded modules.</param>
/// <param name="MemoryMap">The memory map passed.</param>
/// <param name="MemLower">mem_lower, in KiB.</param>
/// <param name="MemUpper">mem_upper, in KiB.</param>
/// <param name="EntryState">The processor state to enter the kernel with.</param>
public sealed record MultibootImage(
    MultibootKernelFormat Format,
    int HeaderOffset,
    uint HeaderFlags,
    uint Entry,
    IReadOnlyList<PhysicalRange> KernelSegments,
    uint InfoAddress,
    PhysicalRange InfoArea,
    string CommandLine,
    IReadOnlyList<MultibootLoadedModule> Modules,
    IReadOnlyList<MultibootMemoryMapEntry> MemoryMap,
    uint MemLower,
    uint MemUpper,
    MultibootEntryState EntryState)
{
    /// <summary>The first address past the kernel (its highest segment end, bss included).</summary>
    public ulong KernelEnd => KernelSegments.Max(s => s.End);
}

/// <summary>
/// Loads a kernel the way a multiboot-compliant boot loader does (Multiboot Specification 0.6.96)
/// and as QEMU's <c>-kernel</c> does for multiboot images (hw/i386/multiboot.c): finds and checks
/// the header, loads the kernel by its ELF program headers or by the header's address fields,
/// loads the modules, and writes the boot information structure.
/// </summary>
/// <remarks>
/// <para>
/// <b>Header.</b> The first 32-bit-aligned occurrence of magic 0x1BADB002 in the first 8192 bytes
/// whose magic + flags + checksum is 0 (mod 2^32), wholly inside those 8192 bytes. Flags bit 0
/// (page-align modules) and bit 1 (memory information) are always honoured; bit 2 (video mode) is
/// accepted and not honoured, as QEMU does (the information structure then carries no video
/// fields, which tells the kernel); any other of the "required" bits 3-15 makes the image
/// unloadable, as the specification demands. Bits 17-31 are ignored.
/// </para>
/// <para>
/// <b>Kernel.</b> With flag 16 the address fields decide (3.1.3): the file from offset
/// <c>header_offset − (header_addr − load_addr)</c> is copied to load_addr, up to load_end_addr
/// (or the end of the file when 0), and bss is zeroed up to bss_end_addr (none when 0); the entry
/// is entry_addr. Without flag 16 the kernel must be ELF: its PT_LOAD segments are copied to their
/// physical addresses (p_paddr) and the entry point is e_entry translated through the segment
/// containing it, which must exist (GRUB's rule). ELF64 kernels are accepted when they fit below
/// 4 GiB (as GRUB does; QEMU refuses them). Everything must lie in RAM below 4 GiB.
/// </para>
/// <para>
/// <b>Boot information.</b> At <see cref="MultibootOptions.InfoAddress"/> (by default 0x9000, or
/// the first page boundary after the kernel when the kernel covers 0x9000 or the area does not fit there):
/// the 88-byte information structure (zero-padded to 128 bytes), then the memory map, the module
/// list and the NUL-terminated strings. Flags: 0 (mem_lower/mem_upper), 2 (cmdline), 3 (modules,
/// even when there are none), 6 (memory map) and 9 (boot loader name); not 1 (there is no boot
/// device). mem_lower is the RAM below 640 KiB in KiB (640 when RAM reaches it; no EBDA is
/// reserved in this machine); mem_upper is the KiB of RAM from 1 MiB up to the end of RAM below
/// the PCI hole (3 GiB when RAM reaches it). The memory map lists RAM
/// [0, 640 KiB) as type 1, the legacy VGA/ROM window [640 KiB, 1 MiB) as type 2 (reserved, as
/// QEMU's BIOS reports its part of it, even though it is RAM here; the PC platform keeps its firmware
/// tables there), RAM from 1 MiB to the hole as type 1, and RAM remapped above 4 GiB as type 1. The command line is "name arguments" (QEMU's format, one space even when there are
/// no arguments). Modules go after the kernel and the information area, each at the next 4-KiB
/// boundary; mod_end is exclusive.
/// </para>
/// <para>
/// Everything is validated before anything is written; the caller applies
/// <see cref="MultibootImage.EntryState"/> to the processor.
/// </para>
/// </remarks>
public static class MultibootLoader
{
    /// <summary>The multiboot header magic.</summary>
    public const uint HeaderMagic = 0x1BADB002;

    /// <summary>The header must lie wholly in the first this-many bytes of the file.</summary>
    public const int HeaderSearchLimit = 8192;

    /// <summary>Where the boot information goes by default.</summary>
    public const uint DefaultInfoAddress = 0x9000;

    /// <summary>Header flag 16: the address fields are valid (the a.out kludge).</summary>
    public const uint FlagAddressFields = 1u << 16;

    /// <summary>Bytes reserved for the information structure before the memory map.</summary>
    public const int InfoStructureSize = 128;

    // Information-structure flags (3.3).
    private const uint InfoMemory = 1u << 0, InfoCmdline = 1u << 2, InfoMods = 1u << 3, InfoMmap = 1u << 6, InfoLoaderName = 1u << 9;
    private const uint SupportedRequiredFlags = 0x7; // bits 0-2
    private const ulong FourGiB = 1UL << 32;
    private const ulong LowMemoryEnd = 0xA0000, HighMemoryStart = 0x100000;

    /// <summary>Finds the multiboot header; returns its file offset and flags.</summary>
    /// <exception cref="InvalidImageException">No valid header is present.</exception>
    public static (int Offset, uint Flags) FindHeader(ReadOnlySpan<byte> kernel)
    {
        int limit = Math.Min(kernel.Length, HeaderSearchLimit);
        int badChecksumAt = -1;
        uint badSum = 0;
        for (int i = 0; i + 12 <= limit; i += 4)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(kernel[i..]) != HeaderMagic) continue;
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(kernel[(i + 4)..]);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(kernel[(i + 8)..]);
            uint sum = unchecked(HeaderMagic + flags + checksum);
            if (sum == 0) return (i, flags);
            if (badChecksumAt < 0) { badChecksumAt = i; badSum = sum; }
        }
        if (badChecksumAt >= 0)
            throw new InvalidImageException(
                $"multiboot header checksum mismatch at file offset 0x{badChecksumAt:X}: magic + flags + checksum = 0x{badSum:X8}, must be 0");
        throw new InvalidImageException(
            $"no multiboot header: magic 0x1BADB002 not found at a 4-byte-aligned offset in the first {HeaderSearchLimit} bytes (file has {kernel.Length})");
    }

    /// <summary>Loads <paramref name="kernel"/>, its modules and the boot information into <paramref name="memory"/>.</summary>
    /// <returns>Where everything went and the entry state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> holds a null string, a null module or module command line, or an <see cref="MultibootOptions.InfoAddress"/> that is not a multiple of 8.</exception>
    /// <exception cref="InvalidImageException">The kernel is not a valid multiboot image, or it, the modules or the boot information do not fit.</exception>
    public static MultibootImage Load(PhysicalMemory memory, ReadOnlySpan<byte> kernel, MultibootOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        options ??= new MultibootOptions();
        ValidateOptions(options);
        ulong limit = Math.Min(memory.LowSize, FourGiB);
        string limitName = memory.HighSize != 0 ? "RAM below the hole under 4 GiB" : "RAM";

        var (hdr, flags) = FindHeader(kernel);
        uint unsupported = flags & 0xFFFF & ~SupportedRequiredFlags & ~FlagAddressFields;
        if (unsupported != 0)
            throw new InvalidImageException(
                $"multiboot header flags 0x{flags:X8} request unsupported required features (bits 0x{unsupported:X4}); " +
                "only bits 0-2 and 16 are understood");

        // ---------------------------------------------------------------- the kernel
        MultibootKernelFormat format;
        uint entry;
        var segments = new List<PhysicalRange>();
        ElfImage? elf = null;
        ulong aoutFileOffset = 0, aoutLoadSize = 0;
        if ((flags & FlagAddressFields) != 0)
        {
            format = MultibootKernelFormat.AddressFields;
            if (hdr + 32 > kernel.Length || hdr + 32 > HeaderSearchLimit)
                throw new InvalidImageException(
                    $"multiboot header at file offset 0x{hdr:X} sets flag 16 but its address fields (32 bytes) run past " +
                    (hdr + 32 > kernel.Length ? $"the end of the file (0x{kernel.Length:X})" : $"the first {HeaderSearchLimit} bytes"));
            uint headerAddr = U32(kernel, hdr + 12), loadAddr = U32(kernel, hdr + 16), loadEndAddr = U32(kernel, hdr + 20);
            uint bssEndAddr = U32(kernel, hdr + 24);
            entry = U32(kernel, hdr + 28);
            if (headerAddr < loadAddr)
                throw new InvalidImageException($"multiboot header_addr 0x{headerAddr:X} is below load_addr 0x{loadAddr:X}");
            if (headerAddr - loadAddr > (uint)hdr)
                throw new InvalidImageException(
                    $"multiboot header_addr 0x{headerAddr:X} - load_addr 0x{loadAddr:X} = 0x{headerAddr - loadAddr:X} exceeds the header's " +
                    $"file offset 0x{hdr:X}: loading would start before the beginning of the file");
            aoutFileOffset = (ulong)hdr - (headerAddr - loadAddr);
            if (loadEndAddr != 0)
            {
                if (loadEndAddr < loadAddr)
                    throw new InvalidImageException($"multiboot load_end_addr 0x{loadEndAddr:X} is below load_addr 0x{loadAddr:X}");
                aoutLoadSize = loadEndAddr - loadAddr;
                if (aoutFileOffset + aoutLoadSize > (ulong)kernel.Length)
                    throw new InvalidImageException(
                        $"multiboot load_end_addr 0x{loadEndAddr:X}: 0x{aoutLoadSize:X} bytes from file offset 0x{aoutFileOffset:X} " +
                        $"run past the end of the file (0x{kernel.Length:X})");
            }
            else
            {
                aoutLoadSize = (ulong)kernel.Length - aoutFileOffset;
            }
            ulong memSize = aoutLoadSize;
            if (bssEndAddr != 0)
            {
                if (bssEndAddr < loadAddr + aoutLoadSize)
                    throw new InvalidImageException(
                        $"multiboot bss_end_addr 0x{bssEndAddr:X} is below the end of the loaded image 0x{loadAddr + aoutLoadSize:X}");
                memSize = bssEndAddr - loadAddr;
            }
            if (memSize == 0)
                throw new InvalidImageException("multiboot address fields load nothing: load_end_addr equals load_addr and there is no bss");
            if (!LoaderMemory.Fits(loadAddr, memSize, limit))
                throw new InvalidImageException(
                    $"multiboot kernel 0x{loadAddr:X}-0x{loadAddr + memSize:X} (load_addr to {(bssEndAddr != 0 ? "bss_end_addr" : "load end")}) " +
                    $"lies outside {limitName} (0x0-0x{limit:X})");
            segments.Add(new PhysicalRange(loadAddr, memSize));
        }
        else
        {
            format = MultibootKernelFormat.Elf;
            if (!ElfLoader.IsElf(kernel))
                throw new InvalidImageException(
                    "multiboot kernel is not an ELF image and its header does not set flag 16 (the address fields of the a.out kludge)");
            elf = ElfLoader.Parse(kernel, limit, limitName);
            if (!elf.EntryInSegment)
                throw new InvalidImageException($"ELF entry point 0x{elf.Entry:X} is not inside any PT_LOAD segment");
            entry = (uint)elf.PhysicalEntry; // below 4 GiB: the segment containing it is
            foreach (var s in elf.Segments) segments.Add(s.Range);
        }

        // ---------------------------------------------------------------- the boot information area
        string cmdline = options.KernelName + " " + options.Arguments;
        var memoryMap = BuildMemoryMap(memory);
        uint infoAddr = options.InfoAddress ?? ChooseInfoAddress(segments, InfoAreaLength(options, memoryMap.Count, cmdline), limit);
        ulong mmapAddr = infoAddr + (ulong)InfoStructureSize;
        ulong mmapLength = (ulong)memoryMap.Count * 24;
        ulong modsAddr = mmapAddr + mmapLength;                   // 8-aligned: 128 and 24 are multiples of 8
        ulong cursor = modsAddr + (ulong)options.Modules.Count * 16;
        ulong cmdlineAddr = cursor;
        byte[] cmdlineBytes = ZString(cmdline);
        cursor += (ulong)cmdlineBytes.Length;
        ulong loaderNameAddr = cursor;
        byte[] loaderNameBytes = ZString(options.BootLoaderName);
        cursor += (ulong)loaderNameBytes.Length;
        var moduleStrings = new byte[options.Modules.Count][];
        var moduleStringAddrs = new ulong[options.Modules.Count];
        for (int i = 0; i < moduleStrings.Length; i++)
        {
            moduleStrings[i] = ZString(options.Modules[i].CommandLine);
            moduleStringAddrs[i] = cursor;
            cursor += (ulong)moduleStrings[i].Length;
        }
        var infoArea = new PhysicalRange(infoAddr, cursor - infoAddr);
        if (!LoaderMemory.Fits(infoArea.Start, infoArea.Length, limit))
            throw new InvalidImageException(
                $"multiboot boot information area {infoArea} (structure, memory map, module list, strings) lies outside {limitName} (0x0-0x{limit:X})");
        foreach (var seg in segments)
            if (seg.Overlaps(infoArea))
                throw new InvalidImageException($"multiboot kernel {seg} overlaps the boot information area {infoArea}");

        // ---------------------------------------------------------------- modules
        ulong next = PageAlign(Math.Max(segments.Max(s => s.End), infoArea.End));
        var modules = new MultibootLoadedModule[options.Modules.Count];
        for (int i = 0; i < modules.Length; i++)
        {
            var m = options.Modules[i];
            ulong length = (ulong)m.Data.Length;
            if (!LoaderMemory.Fits(next, length, Math.Min(limit, uint.MaxValue))) // mod_end is a 32-bit field
                throw new InvalidImageException(
                    $"multiboot module {i} (\"{m.CommandLine}\", 0x{length:X} bytes) does not fit: it would occupy " +
                    $"0x{next:X}-{LoaderMemory.Hex((UInt128)next + length)}, but {limitName} ends at 0x{limit:X}");
            modules[i] = new MultibootLoadedModule((uint)next, (uint)(next + length), (uint)moduleStringAddrs[i], m.CommandLine);
            next = PageAlign(next + length);
        }

        // ---------------------------------------------------------------- write (nothing can fail from here)
        if (elf is not null) ElfLoader.Write(memory, kernel, elf);
        else
        {
            var seg = segments[0];
            memory.Write(seg.Start, kernel.Slice((int)aoutFileOffset, (int)aoutLoadSize));
            LoaderMemory.Zero(memory, seg.Start + aoutLoadSize, seg.Length - aoutLoadSize);
        }
        for (int i = 0; i < modules.Length; i++)
            memory.Write(modules[i].Start, options.Modules[i].Data.Span);

        uint memLower = (uint)(Math.Min(memory.LowSize, LowMemoryEnd) / 1024);
        uint memUpper = memory.LowSize > HighMemoryStart ? (uint)((Math.Min(memory.LowSize, FourGiB) - HighMemoryStart) / 1024) : 0;
        var info = new byte[cursor - infoAddr];
        var mbi = info.AsSpan();
        W32(mbi, 0, InfoMemory | InfoCmdline | InfoMods | InfoMmap | InfoLoaderName);
        W32(mbi, 4, memLower);
        W32(mbi, 8, memUpper);
        W32(mbi, 16, (uint)cmdlineAddr);
        W32(mbi, 20, (uint)modules.Length);
        W32(mbi, 24, (uint)modsAddr);
        W32(mbi, 44, (uint)mmapLength);
        W32(mbi, 48, (uint)mmapAddr);
        W32(mbi, 64, (uint)loaderNameAddr);
        for (int i = 0; i < memoryMap.Count; i++)
        {
            var e = mbi[(int)(mmapAddr - infoAddr + (ulong)i * 24)..];
            W32(e, 0, 20); // size of the entry, not counting this field
            BinaryPrimitives.WriteUInt64LittleEndian(e[4..], memoryMap[i].BaseAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(e[12..], memoryMap[i].Length);
            W32(e, 20, memoryMap[i].Type);
        }
        for (int i = 0; i < modules.Length; i++)
        {
            var e = mbi[(int)(modsAddr - infoAddr + (ulong)i * 16)..];
            W32(e, 0, modules[i].Start);
            W32(e, 4, modules[i].End);
            W32(e, 8, modules[i].StringAddress);
        }
        cmdlineBytes.CopyTo(mbi[(int)(cmdlineAddr - infoAddr)..]);
        loaderNameBytes.CopyTo(mbi[(int)(loaderNameAddr - infoAddr)..]);
        for (int i = 0; i < moduleStrings.Length; i++)
            moduleStrings[i].CopyTo(mbi[(int)(moduleStringAddrs[i] - infoAddr)..]);
        memory.Write(infoAddr, info);

        return new MultibootImage(format, hdr, flags, entry, segments, infoAddr, infoArea, cmdline, modules, memoryMap,
            memLower, memUpper, new MultibootEntryState { Eip = entry, Ebx = infoAddr });
    }

    /// <summary>The length of the boot information area (structure, memory map, module list, strings); it does not depend on where it goes.</summary>
    private static ulong InfoAreaLength(MultibootOptions o, int mmapEntries, string cmdline)
    {
        ulong n = InfoStructureSize + (ulong)mmapEntries * 24 + (ulong)o.Modules.Count * 16;
        n += (ulong)Encoding.UTF8.GetByteCount(cmdline) + 1 + (ulong)Encoding.UTF8.GetByteCount(o.BootLoaderName) + 1;
        foreach (var m in o.Modules) n += (ulong)Encoding.UTF8.GetByteCount(m.CommandLine) + 1;
        return n;
    }

    /// <summary>
    /// The automatic place of the boot information area: 0x9000 when the area fits in RAM there and
    /// misses the kernel; otherwise the first page boundary after the kernel's highest byte (the
    /// caller reports it when even that does not fit).
    /// </summary>
    private static uint ChooseInfoAddress(List<PhysicalRange> kernel, ulong length, ulong limit)
    {
        var atDefault = new PhysicalRange(DefaultInfoAddress, length);
        if (LoaderMemory.Fits(DefaultInfoAddress, length, limit) && !kernel.Any(s => s.Overlaps(atDefault))) return DefaultInfoAddress;
        ulong after = PageAlign(kernel.Max(s => s.End));
        return after > uint.MaxValue - 0xFFF ? DefaultInfoAddress : (uint)after; // beyond 4 GiB: reported as not fitting at 0x9000
    }

    /// <summary>
    /// The memory map of <paramref name="memory"/>: as <see cref="BuildMemoryMap(ulong)"/> for its RAM
    /// below the hole, then, when RAM was remapped above 4 GiB, that range as type 1 (the hole itself
    /// is not RAM and is not listed).
    /// </summary>
    public static IReadOnlyList<MultibootMemoryMapEntry> BuildMemoryMap(PhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var map = new List<MultibootMemoryMapEntry>(BuildMemoryMap(memory.LowSize));
        if (memory.HighSize != 0) map.Add(new(PhysicalMemory.HighStart, memory.HighSize, 1));
        return map;
    }

    /// <summary>The memory map reported for <paramref name="ramSize"/> bytes of hole-free RAM from address 0 (see the class remarks).</summary>
    public static IReadOnlyList<MultibootMemoryMapEntry> BuildMemoryMap(ulong ramSize)
    {
        var map = new List<MultibootMemoryMapEntry>
        {
            new(0, Math.Min(ramSize, LowMemoryEnd), 1),
            new(LowMemoryEnd, HighMemoryStart - LowMemoryEnd, 2),
        };
        if (ramSize > HighMemoryStart) map.Add(new(HighMemoryStart, ramSize - HighMemoryStart, 1));
        return map;
    }

    private static void ValidateOptions(MultibootOptions o)
    {
        if (o.KernelName is null) throw new ArgumentException("KernelName must not be null", nameof(o));
        if (o.Arguments is null) throw new ArgumentException("Arguments must not be null", nameof(o));
        if (o.BootLoaderName is null) throw new ArgumentException("BootLoaderName must not be null", nameof(o));
        if (o.Modules is null) throw new ArgumentException("Modules must not be null", nameof(o));
        for (int i = 0; i < o.Modules.Count; i++)
            if (o.Modules[i]?.CommandLine is null)
                throw new ArgumentException($"module {i} and its CommandLine must not be null", nameof(o));
        if (o.InfoAddress is uint ia && (ia & 7) != 0)
            throw new ArgumentException($"InfoAddress 0x{ia:X} must be a multiple of 8", nameof(o));
    }

    private static byte[] ZString(string s)
    {
        var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        return b;
    }

    private static ulong PageAlign(ulong a) => (a + 0xFFF) & ~0xFFFUL;
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static void W32(Span<byte> b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b[at..], v);
}
