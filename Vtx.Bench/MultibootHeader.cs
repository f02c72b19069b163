using System.Buffers.Binary;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Bench;

/// <summary>
/// The first bytes of the benchmarks' multiboot v1 kernels (<see cref="PagedKernel"/>, <see cref="PeerImage"/>):
/// the a.out-kludge header that QEMU's <c>-kernel</c> and Vtx's multiboot loader both accept (Multiboot
/// Specification 0.6.96, 3.1.1-3.1.3), a GDT for the switch to long mode, and the assembler both use.
/// </summary>
internal static class MultibootHeader
{
    /// <summary>Offset of the GDT in the image (null, 08h 64-bit code, 10h flat data).</summary>
    public const int GdtOffset = 0x40;

    /// <summary>Offset of the GDTR image (limit, base) for LGDT.</summary>
    public const int GdtrOffset = 0x60;

    /// <summary>
    /// Writes the header (magic, flags: page-aligned modules, memory info, address fields valid; checksum;
    /// header/load addresses = <paramref name="loadAddress"/>, load and BSS end = <paramref name="endAddress"/>,
    /// entry = <paramref name="entry32"/>, entered in 32-bit protected mode) and the GDT with its GDTR.
    /// </summary>
    public static void Write(Span<byte> s, ulong loadAddress, ulong endAddress, ulong entry32)
    {
        const uint Magic = 0x1BADB002, Flags = 1 | 2 | (1 << 16);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0..], Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], unchecked(0u - Magic - Flags));
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], (uint)loadAddress);   // header_addr
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], (uint)loadAddress);   // load_addr
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], (uint)endAddress);    // load_end_addr
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], (uint)endAddress);    // bss_end_addr
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], (uint)entry32);       // entry_addr
        BinaryPrimitives.WriteUInt64LittleEndian(s[(GdtOffset + 8)..], 0x00AF_9A00_0000_FFFFUL);
        BinaryPrimitives.WriteUInt64LittleEndian(s[(GdtOffset + 16)..], 0x00CF_9200_0000_FFFFUL);
        BinaryPrimitives.WriteUInt16LittleEndian(s[GdtrOffset..], 23);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(GdtrOffset + 2)..], (uint)(loadAddress + GdtOffset));
    }

    /// <summary>Assembles <paramref name="body"/> as <paramref name="bits"/>-bit code placed at <paramref name="at"/>.</summary>
    public static byte[] Assemble(int bits, ulong at, Action<Assembler> body)
    {
        var a = new Assembler(bits);
        body(a);
        var w = new Writer();
        a.Assemble(w, at);
        return [.. w.Bytes];
    }

    private sealed class Writer : CodeWriter
    {
        public List<byte> Bytes { get; } = [];
        public override void WriteByte(byte value) => Bytes.Add(value);
    }

    /// <summary>
    /// The 32-bit tail of the switch to IA-32e mode (SDM Vol. 3A, 10.8.5) once the page tables at
    /// <paramref name="pml4"/> are built: CR4 |= <paramref name="cr4Set"/> (which must hold PAE), CR3, EFER.LME,
    /// CR0 &amp;= ~<paramref name="cr0Clear"/> then |= <paramref name="cr0Set"/> (which must hold PG and PE), LGDT
    /// from <paramref name="gdtr"/>, and a far jump to <paramref name="entry64"/> through the 64-bit code selector 08h.
    /// </summary>
    public static void EnterLongMode(Assembler a, ulong pml4, ulong gdtr, ulong entry64, int cr4Set, int cr0Clear, uint cr0Set)
    {
        a.mov(eax, cr4);
        a.or(eax, cr4Set);
        a.mov(cr4, eax);
        a.mov(eax, (uint)pml4);
        a.mov(cr3, eax);
        a.mov(ecx, 0xC000_0080);
        a.rdmsr();
        a.or(eax, 0x100);                                  // EFER.LME
        a.wrmsr();
        a.mov(eax, cr0);
        if (cr0Clear != 0) a.and(eax, ~cr0Clear);
        a.or(eax, unchecked((int)cr0Set));
        a.mov(cr0, eax);
        a.lgdt(__fword_ptr[(uint)gdtr]);
        a.jmp(0x08, (uint)entry64);
    }
}
