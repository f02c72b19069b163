using System.Buffers.Binary;

namespace Vtx.Tests.Loaders;

/// <summary>One program header for <see cref="ElfWriter"/>.</summary>
internal sealed record TestSegment(ulong PAddr, byte[] Data, ulong MemSize, ulong? VAddr = null, uint Flags = 5, uint Type = 1);

/// <summary>
/// A tiny ELF writer for tests: an ELF header, the program-header table right after it, then the
/// segment contents at 16-byte-aligned offsets. Enough fields can be overridden to build broken files.
/// </summary>
internal static class ElfWriter
{
    public const int Eh32 = 52, Eh64 = 64, Ph32 = 32, Ph64 = 56;

    public static byte[] Build(bool is64, ulong entry, IReadOnlyList<TestSegment> segments, ushort? machine = null, ushort type = 2)
    {
        int eh = is64 ? Eh64 : Eh32, ph = is64 ? Ph64 : Ph32;
        int offset = Align16(eh + ph * segments.Count);
        var offsets = new int[segments.Count];
        for (int i = 0; i < segments.Count; i++)
        {
            offsets[i] = offset;
            offset = Align16(offset + segments[i].Data.Length);
        }
        var f = new byte[offset];
        var s = f.AsSpan();
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = (byte)(is64 ? 2 : 1); s[5] = 1; s[6] = 1;
        W16(s, 16, type);
        W16(s, 18, machine ?? (ushort)(is64 ? 62 : 3));
        W32(s, 20, 1);
        if (is64)
        {
            W64(s, 24, entry);
            W64(s, 32, (ulong)eh);
            W16(s, 52, (ushort)eh);
            W16(s, 54, (ushort)ph);
            W16(s, 56, (ushort)segments.Count);
        }
        else
        {
            W32(s, 24, (uint)entry);
            W32(s, 28, (uint)eh);
            W16(s, 40, (ushort)eh);
            W16(s, 42, (ushort)ph);
            W16(s, 44, (ushort)segments.Count);
        }
        for (int i = 0; i < segments.Count; i++)
        {
            var g = segments[i];
            var p = s[(eh + i * ph)..];
            ulong vaddr = g.VAddr ?? g.PAddr;
            if (is64)
            {
                W32(p, 0, g.Type); W32(p, 4, g.Flags);
                W64(p, 8, (ulong)offsets[i]); W64(p, 16, vaddr); W64(p, 24, g.PAddr);
                W64(p, 32, (ulong)g.Data.Length); W64(p, 40, g.MemSize); W64(p, 48, 0x1000);
            }
            else
            {
                W32(p, 0, g.Type); W32(p, 4, (uint)offsets[i]); W32(p, 8, (uint)vaddr); W32(p, 12, (uint)g.PAddr);
                W32(p, 16, (uint)g.Data.Length); W32(p, 20, (uint)g.MemSize); W32(p, 24, g.Flags); W32(p, 28, 0x1000);
            }
            g.Data.CopyTo(s[offsets[i]..]);
        }
        return f;
    }

    /// <summary>File offset of program header <paramref name="index"/>.</summary>
    public static int PhOffset(bool is64, int index) => (is64 ? Eh64 : Eh32) + index * (is64 ? Ph64 : Ph32);

    /// <summary>File offset of the contents of the first segment.</summary>
    public static int FirstDataOffset(bool is64, int segmentCount) => Align16((is64 ? Eh64 : Eh32) + (is64 ? Ph64 : Ph32) * segmentCount);

    private static int Align16(int v) => (v + 15) & ~15;
    public static void W16(Span<byte> b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b[at..], v);
    public static void W32(Span<byte> b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b[at..], v);
    public static void W64(Span<byte> b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b[at..], v);
}

/// <summary>Multiboot v1 headers for tests.</summary>
internal static class MultibootHeader
{
    public const uint Magic = 0x1BADB002;

    /// <summary>A 12-byte header (magic, flags, checksum) or, with address fields, a 32-byte one.</summary>
    public static byte[] Build(uint flags, (uint HeaderAddr, uint LoadAddr, uint LoadEndAddr, uint BssEndAddr, uint EntryAddr)? address = null, uint? checksum = null)
    {
        var h = new byte[address is null ? 12 : 32];
        ElfWriter.W32(h, 0, Magic);
        ElfWriter.W32(h, 4, flags);
        ElfWriter.W32(h, 8, checksum ?? unchecked(0u - Magic - flags));
        if (address is { } a)
        {
            ElfWriter.W32(h, 12, a.HeaderAddr);
            ElfWriter.W32(h, 16, a.LoadAddr);
            ElfWriter.W32(h, 20, a.LoadEndAddr);
            ElfWriter.W32(h, 24, a.BssEndAddr);
            ElfWriter.W32(h, 28, a.EntryAddr);
        }
        return h;
    }

    /// <summary>
    /// An ELF32 multiboot kernel loaded at 1 MiB: one text segment holding the header followed by
    /// <paramref name="code"/>, and a data segment with bss. Entry = start of the code.
    /// </summary>
    public static byte[] ElfKernel(byte[]? code = null, bool is64 = false, uint flags = 0x3, ulong textAddr = 0x10_0000)
    {
        code ??= [0xFA, 0xF4, 0xEB, 0xFD]; // cli; hlt; jmp $-1
        var text = new byte[16 + code.Length];
        Build(flags).CopyTo(text, 0);
        code.CopyTo(text, 16);
        var data = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        return ElfWriter.Build(is64, textAddr + 16, [
            new TestSegment(textAddr, text, (ulong)text.Length),
            new TestSegment(textAddr + 0x1000, data, 0x800, Flags: 6),
        ]);
    }

    /// <summary>
    /// A flat (non-ELF) kernel using the address fields: <paramref name="prefix"/> bytes of padding,
    /// the 32-byte header, then code; loaded so that the file's first byte lands at <paramref name="loadAddr"/>.
    /// </summary>
    public static byte[] AoutKernel(uint loadAddr = 0x10_0000, int prefix = 0x40, int bodyLength = 0x200, uint bssExtra = 0x1000, bool loadEndZero = false)
    {
        int total = prefix + 32 + bodyLength;
        var f = new byte[total];
        for (int i = 0; i < total; i++) f[i] = (byte)(0xA0 + (i % 0x50));
        uint headerAddr = loadAddr + (uint)prefix;
        uint loadEnd = loadAddr + (uint)total;
        var h = Build(0x1_0003, (headerAddr, loadAddr, loadEndZero ? 0 : loadEnd, loadEnd + bssExtra, headerAddr + 32));
        h.CopyTo(f, prefix);
        return f;
    }
}
