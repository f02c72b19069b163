using System.Runtime.CompilerServices;
using Vtx.Decoding;

namespace Vtx.Memory;

/// <summary>
/// Guest-physical RAM: one flat, pinned block starting at physical address 0. Addresses outside
/// RAM read as all-ones and ignore writes (an unclaimed bus). Every write — from the guest or the
/// host — to a page that holds decoded instructions drops those decodings first, which keeps
/// self-modifying code and code written by a hypervisor correct.
/// </summary>
public sealed unsafe class PhysicalMemory
{
    private readonly byte[] _ram;
    private readonly byte* _ptr;
    private readonly byte[] _codePage; // 1 when the page holds cached decodings

    /// <summary>RAM size in bytes.</summary>
    public ulong Size { get; }

    /// <summary>The decoded-instruction cache whose pages this memory invalidates on writes.</summary>
    public DecodeCache DecodeCache { get; } = new();

    /// <summary>Called after the decodings of a page were dropped (the CPU forgets its fetch shortcuts).</summary>
    internal Action<ulong>? CodeInvalidated;

    /// <summary>Creates <paramref name="sizeBytes"/> bytes of zeroed RAM (a multiple of 4 KiB, at least 4 KiB).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is not a positive multiple of 4096 or exceeds 64 GiB.</exception>
    public PhysicalMemory(ulong sizeBytes)
    {
        if (sizeBytes == 0 || (sizeBytes & 0xFFF) != 0)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "RAM size must be a positive multiple of 4096 bytes");
        if (sizeBytes > 64UL << 30)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "RAM size must not exceed 64 GiB");
        if (sizeBytes > (ulong)Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"RAM size must not exceed {Array.MaxLength} bytes in this version");
        Size = sizeBytes;
        _ram = GC.AllocateArray<byte>((int)sizeBytes, pinned: true);
        _ptr = (byte*)Unsafe.AsPointer(ref _ram[0]);
        _codePage = new byte[sizeBytes >> 12];
    }

    /// <summary>Raw pointer to RAM (valid for the lifetime of this object; the array is pinned).</summary>
    internal byte* Pointer => _ptr;

    /// <summary>True when physical page <paramref name="pageNumber"/> is RAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsRamPage(ulong pageNumber) => pageNumber < (Size >> 12);

    /// <summary>True when the RAM page holds decoded instructions (writes to it take the invalidating path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool IsCodePage(ulong pageNumber) => _codePage[pageNumber] != 0;

    /// <summary>Called after a page became a code page (every processor drops its direct write mappings of it).</summary>
    internal Action<ulong>? CodePageMarked;

    /// <summary>Marks a RAM page as holding decodings.</summary>
    internal void MarkCodePage(ulong pageNumber)
    {
        _codePage[pageNumber] = 1;
        CodePageMarked?.Invoke(pageNumber);
    }

    /// <summary>Drops the decodings of a page that is about to be written.</summary>
    internal void InvalidateCode(ulong pageNumber)
    {
        if (pageNumber >= (ulong)_codePage.Length || _codePage[pageNumber] == 0) return;
        _codePage[pageNumber] = 0;
        DecodeCache.InvalidatePage(pageNumber);
        CodeInvalidated?.Invoke(pageNumber);
    }

    /// <summary>Reads guest-physical bytes; bytes outside RAM read as 0xFF.</summary>
    public void Read(ulong address, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length;)
        {
            ulong a = address + (ulong)i;
            if (a < Size)
            {
                int n = (int)Math.Min((ulong)(destination.Length - i), Size - a);
                new ReadOnlySpan<byte>(_ptr + a, n).CopyTo(destination[i..]);
                i += n;
            }
            else
            {
                destination[i++] = 0xFF;
            }
        }
    }

    /// <summary>Writes guest-physical bytes, dropping decodings of the pages written; bytes outside RAM are ignored.</summary>
    public void Write(ulong address, ReadOnlySpan<byte> source)
    {
        for (int i = 0; i < source.Length;)
        {
            ulong a = address + (ulong)i;
            if (a >= Size) { i++; continue; }
            ulong page = a >> 12;
            InvalidateCode(page);
            int n = (int)Math.Min((ulong)(source.Length - i), ((page + 1) << 12) - a);
            source.Slice(i, n).CopyTo(new Span<byte>(_ptr + a, n));
            i += n;
        }
    }

    /// <summary>Zero-copy view of RAM from <paramref name="address"/> (no invalidation: read-only use).</summary>
    public ReadOnlySpan<byte> View(ulong address, int length)
    {
        if (address > Size || (ulong)length > Size - address)
            throw new ArgumentOutOfRangeException(nameof(address), $"range 0x{address:X}+0x{length:X} is outside RAM (size 0x{Size:X})");
        return new ReadOnlySpan<byte>(_ptr + address, length);
    }
}
