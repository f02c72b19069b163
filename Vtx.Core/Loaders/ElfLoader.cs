using System.Buffers.Binary;
using Vtx.Memory;

namespace Vtx.Loaders;

/// <summary>ELF file class (e_ident[EI_CLASS]).</summary>
public enum ElfClass
{
    /// <summary>ELFCLASS32: 32-bit objects (i386).</summary>
    Elf32 = 1,
    /// <summary>ELFCLASS64: 64-bit objects (x86-64).</summary>
    Elf64 = 2,
}

/// <summary>One PT_LOAD program header of an ELF executable (System V gABI, "Program Header").</summary>
/// <param name="Index">The program header's index in the table.</param>
/// <param name="PhysicalAddress">p_paddr: where the segment is loaded.</param>
/// <param name="VirtualAddress">p_vaddr: where the program expects it once paging maps it.</param>
/// <param name="FileOffset">p_offset: where its bytes start in the file.</param>
/// <param name="FileSize">p_filesz: bytes copied from the file.</param>
/// <param name="MemorySize">p_memsz: bytes occupied in memory; those past p_filesz (bss) are zeroed.</param>
/// <param name="Flags">p_flags: PF_X = 1, PF_W = 2, PF_R = 4.</param>
public sealed record ElfSegment(int Index, ulong PhysicalAddress, ulong VirtualAddress, ulong FileOffset, ulong FileSize, ulong MemorySize, uint Flags)
{
    /// <summary>The guest-physical range the segment occupies.</summary>
    public PhysicalRange Range => new(PhysicalAddress, MemorySize);
}

/// <summary>A validated ELF executable: its class, machine, entry point and loadable segments.</summary>
/// <param name="Class">32- or 64-bit.</param>
/// <param name="Machine">e_machine: 3 (EM_386) or 62 (EM_X86_64).</param>
/// <param name="Entry">e_entry, as written in the file (a virtual address).</param>
/// <param name="PhysicalEntry">
/// The entry point translated to a physical address through the PT_LOAD segment whose
/// [p_vaddr, p_vaddr + p_memsz) contains it (p_paddr + (e_entry − p_vaddr)); equal to
/// <paramref name="Entry"/> when no segment contains it or the kernel is identity-mapped.
/// </param>
/// <param name="Segments">The PT_LOAD segments with a non-zero p_memsz, in program-header order.</param>
public sealed record ElfImage(ElfClass Class, ushort Machine, ulong Entry, ulong PhysicalEntry, IReadOnlyList<ElfSegment> Segments)
{
    /// <summary>The lowest p_paddr of the loaded segments.</summary>
    public ulong LowestAddress => Segments.Min(s => s.PhysicalAddress);

    /// <summary>The first address past the highest loaded segment (p_paddr + p_memsz, bss included).</summary>
    public ulong EndAddress => Segments.Max(s => s.PhysicalAddress + s.MemorySize);

    /// <summary>True when e_entry lies inside a loaded segment's virtual range.</summary>
    public bool EntryInSegment => Segments.Any(s => Entry - s.VirtualAddress < s.MemorySize);
}

/// <summary>
/// Loads little-endian x86 ELF executables (ELF32 EM_386 and ELF64 EM_X86_64, type ET_EXEC) into
/// guest-physical memory, following the System V gABI chapters "ELF Header" and "Program
/// Loading" and the ELF-64 Object File Format 1.5.
/// </summary>
/// <remarks>
/// Each PT_LOAD segment is copied to its <b>physical</b> address p_paddr — the address a bootloader
/// (and QEMU's <c>-kernel</c> for multiboot and ELF kernels) loads to while paging is off — and
/// its p_memsz − p_filesz tail (bss) is zeroed. Other program headers are ignored, as are section
/// headers. Every header field is checked before any byte is written; a defect raises
/// <see cref="InvalidImageException"/> naming the field and values. Address 0 is ordinary RAM.
/// </remarks>
public static class ElfLoader
{
    private const uint PtLoad = 1;
    private const ushort EtExec = 2;
    /// <summary>e_machine for i386.</summary>
    public const ushort EM_386 = 3;
    /// <summary>e_machine for x86-64.</summary>
    public const ushort EM_X86_64 = 62;

    /// <summary>True when <paramref name="image"/> starts with the ELF magic "\x7FELF".</summary>
    public static bool IsElf(ReadOnlySpan<byte> image) =>
        image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F';

    /// <summary>Validates <paramref name="image"/> and copies its PT_LOAD segments into <paramref name="memory"/>.</summary>
    /// <returns>The parsed image (entry point and segments).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="InvalidImageException">The image is malformed, unsupported, or a segment lies outside RAM.</exception>
    public static ElfImage Load(PhysicalMemory memory, ReadOnlySpan<byte> image)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var elf = Parse(image, memory.LowSize, "RAM");
        Write(memory, image, elf);
        return elf;
    }

    /// <summary>
    /// Validates <paramref name="image"/> without loading it: header fields, program-header table
    /// bounds, and each PT_LOAD segment's file range and its physical range against
    /// [0, <paramref name="ramSize"/>).
    /// </summary>
    /// <exception cref="InvalidImageException">The image is malformed, unsupported, or a segment lies outside [0, <paramref name="ramSize"/>).</exception>
    public static ElfImage Parse(ReadOnlySpan<byte> image, ulong ramSize) => Parse(image, ramSize, "RAM");

    internal static ElfImage Parse(ReadOnlySpan<byte> image, ulong limit, string limitName)
    {
        ulong fileLength = (ulong)image.Length;
        if (image.Length < 16)
            throw new InvalidImageException($"image of {image.Length} bytes is too short for an ELF identification (16 bytes)");
        if (!IsElf(image))
            throw new InvalidImageException(
                $"not an ELF image: magic is {image[0]:X2} {image[1]:X2} {image[2]:X2} {image[3]:X2}, expected 7F 45 4C 46 (\"\\x7FELF\")");
        byte cls = image[4], data = image[5], identVersion = image[6];
        if (cls is not (1 or 2))
            throw new InvalidImageException($"ELF class (e_ident[EI_CLASS]) {cls} is not supported: expected 1 (ELFCLASS32) or 2 (ELFCLASS64)");
        if (data != 1)
            throw new InvalidImageException($"ELF data encoding (e_ident[EI_DATA]) {data} is not 1 (ELFDATA2LSB, little-endian)");
        if (identVersion != 1)
            throw new InvalidImageException($"ELF identification version (e_ident[EI_VERSION]) {identVersion} is not 1 (EV_CURRENT)");
        bool is64 = cls == 2;
        int ehSize = is64 ? 64 : 52;
        if (image.Length < ehSize)
            throw new InvalidImageException($"ELF{(is64 ? 64 : 32)} header needs {ehSize} bytes but the file has {image.Length}");

        ushort type = U16(image, 16), machine = U16(image, 18);
        uint version = U32(image, 20);
        ulong entry, phoff;
        ushort phentsize, phnum;
        if (is64)
        {
            entry = U64(image, 24);
            phoff = U64(image, 32);
            phentsize = U16(image, 54);
            phnum = U16(image, 56);
        }
        else
        {
            entry = U32(image, 24);
            phoff = U32(image, 28);
            phentsize = U16(image, 42);
            phnum = U16(image, 44);
        }
        if (type != EtExec)
            throw new InvalidImageException($"ELF e_type {type} is not 2 (ET_EXEC): only executables can be loaded");
        ushort wantMachine = is64 ? EM_X86_64 : EM_386;
        if (machine != wantMachine)
            throw new InvalidImageException(
                $"ELF{(is64 ? 64 : 32)} e_machine {machine} is not {wantMachine} ({(is64 ? "EM_X86_64" : "EM_386")})");
        if (version != 1)
            throw new InvalidImageException($"ELF e_version {version} is not 1 (EV_CURRENT)");
        int phMin = is64 ? 56 : 32;
        if (phnum == 0)
            throw new InvalidImageException("ELF e_phnum is 0: the file has no program headers to load");
        if (phnum == 0xFFFF)
            throw new InvalidImageException("ELF e_phnum 0xFFFF (PN_XNUM, extended numbering in section 0) is not supported");
        if (phentsize < phMin)
            throw new InvalidImageException($"ELF e_phentsize {phentsize} is smaller than a program header ({phMin} bytes)");
        UInt128 tableEnd = (UInt128)phoff + (UInt128)phnum * phentsize;
        if (tableEnd > fileLength)
            throw new InvalidImageException(
                $"ELF program header table (e_phoff 0x{phoff:X} + {phnum} entries of {phentsize} bytes = {LoaderMemory.Hex(tableEnd)}) " +
                $"beyond end of file (0x{fileLength:X})");

        var segments = new List<ElfSegment>();
        for (int i = 0; i < phnum; i++)
        {
            var ph = image.Slice((int)phoff + i * phentsize, phMin);
            uint pType = U32(ph, 0);
            if (pType != PtLoad) continue;
            ulong offset, vaddr, paddr, filesz, memsz;
            uint flags;
            if (is64)
            {
                flags = U32(ph, 4);
                offset = U64(ph, 8);
                vaddr = U64(ph, 16);
                paddr = U64(ph, 24);
                filesz = U64(ph, 32);
                memsz = U64(ph, 40);
            }
            else
            {
                offset = U32(ph, 4);
                vaddr = U32(ph, 8);
                paddr = U32(ph, 12);
                filesz = U32(ph, 16);
                memsz = U32(ph, 20);
                flags = U32(ph, 24);
            }
            if (filesz > memsz)
                throw new InvalidImageException($"ELF program header {i}: p_filesz (0x{filesz:X}) exceeds p_memsz (0x{memsz:X})");
            UInt128 fileEnd = (UInt128)offset + filesz;
            if (fileEnd > fileLength)
                throw new InvalidImageException(
                    $"ELF program header {i}: p_offset+p_filesz ({LoaderMemory.Hex(fileEnd)}) beyond end of file (0x{fileLength:X})");
            if (memsz == 0) continue;
            UInt128 memEnd = (UInt128)paddr + memsz;
            if (memEnd > limit)
                throw new InvalidImageException(
                    $"ELF program header {i}: segment p_paddr 0x{paddr:X} + p_memsz 0x{memsz:X} = {LoaderMemory.Hex(memEnd)} " +
                    $"lies outside {limitName} (0x0-0x{limit:X})");
            segments.Add(new ElfSegment(i, paddr, vaddr, offset, filesz, memsz, flags));
        }
        if (segments.Count == 0)
            throw new InvalidImageException($"ELF image has no PT_LOAD segment with a non-zero p_memsz among its {phnum} program headers");

        ulong physicalEntry = entry;
        foreach (var s in segments)
        {
            if (entry - s.VirtualAddress < s.MemorySize)
            {
                physicalEntry = s.PhysicalAddress + (entry - s.VirtualAddress);
                break;
            }
        }
        return new ElfImage(is64 ? ElfClass.Elf64 : ElfClass.Elf32, machine, entry, physicalEntry, segments);
    }

    /// <summary>Copies the validated segments of <paramref name="elf"/> and zeroes their bss.</summary>
    internal static void Write(PhysicalMemory memory, ReadOnlySpan<byte> image, ElfImage elf)
    {
        foreach (var s in elf.Segments)
        {
            memory.Write(s.PhysicalAddress, image.Slice((int)s.FileOffset, (int)s.FileSize));
            LoaderMemory.Zero(memory, s.PhysicalAddress + s.FileSize, s.MemorySize - s.FileSize);
        }
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
}
