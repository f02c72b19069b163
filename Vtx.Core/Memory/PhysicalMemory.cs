using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vtx.Decoding;

namespace Vtx.Memory;

/// <summary>
/// Guest-physical RAM, laid out as on a PC: RAM from address 0 up to <see cref="LowSize"/> and, when
/// there is more RAM than fits below the PCI hole (<see cref="HoleStart"/>, 3 GiB by default), the
/// rest remapped from 4 GiB (<see cref="HighStart"/>) up. Addresses outside RAM — the hole, where the
/// APIC, IOAPIC and HPET registers live, and everything past the end — read as all-ones and ignore
/// writes (an unclaimed bus). Every write — from the guest or the host — to a page that holds decoded
/// instructions drops those decodings first, which keeps self-modifying code and code written by a
/// hypervisor correct.
/// </summary>
/// <remarks>
/// The backing store is one reservation of host virtual memory as large as the guest-physical span
/// (0 to <see cref="End"/>), so a guest-physical address is the host offset: the processor's memory
/// fast path stays one TLB compare and a pointer add. On Linux and macOS the reservation is an
/// anonymous MAP_NORESERVE mapping whose pages the host allocates (zeroed) on first touch, so an
/// unused 16-GiB guest costs only what it touches; the hole is never touched. Elsewhere it is
/// <see cref="NativeMemory.AllocZeroed(nuint)"/>. The reservation is released by the finalizer.
/// </remarks>
public sealed unsafe class PhysicalMemory
{
    /// <summary>The largest RAM size: 64 GiB.</summary>
    public const ulong MaxSize = 64UL << 30;

    /// <summary>The default start of the PCI hole below 4 GiB: 3 GiB.</summary>
    public const ulong DefaultHoleStart = 0xC000_0000;

    /// <summary>Where RAM above the hole is remapped: 4 GiB.</summary>
    public const ulong HighStart = 1UL << 32;

    private readonly byte* _ptr;
    private readonly ulong _mapped;
    private readonly bool _mmapped;
    private readonly byte[] _codePage; // 1 when the page holds cached decodings (indexed by guest page number)
    private readonly ulong _lowPages, _highPages;

    /// <summary>RAM size in bytes (<see cref="LowSize"/> + <see cref="HighSize"/>).</summary>
    public ulong Size { get; }

    /// <summary>Bytes of RAM from address 0 (below the hole).</summary>
    public ulong LowSize { get; }

    /// <summary>Bytes of RAM from <see cref="HighStart"/> (0 when all RAM fits below the hole).</summary>
    public ulong HighSize { get; }

    /// <summary>The start of the hole below 4 GiB (RAM that would lie at or above it is remapped above 4 GiB).</summary>
    public ulong HoleStart { get; }

    /// <summary>One past the highest RAM address.</summary>
    public ulong End => HighSize == 0 ? LowSize : HighStart + HighSize;

    /// <summary>The decoded-instruction cache whose pages this memory invalidates on writes.</summary>
    public DecodeCache DecodeCache { get; } = new();

    /// <summary>Called after the decodings of a page were dropped (the CPU forgets its fetch shortcuts).</summary>
    internal Action<ulong>? CodeInvalidated;

    /// <summary>
    /// Creates <paramref name="sizeBytes"/> bytes of zeroed RAM (a multiple of 4 KiB, 4 KiB to 64 GiB),
    /// with the part beyond <paramref name="holeStart"/> remapped above 4 GiB.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is not a positive multiple of 4096 or exceeds 64 GiB; the hole start is not a multiple of 1 MiB in [1 MiB, 4 GiB].</exception>
    /// <exception cref="OutOfMemoryException">The host cannot reserve the address space.</exception>
    public PhysicalMemory(ulong sizeBytes, ulong holeStart = DefaultHoleStart)
    {
        if (sizeBytes == 0 || (sizeBytes & 0xFFF) != 0)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "RAM size must be a positive multiple of 4096 bytes");
        if (sizeBytes > MaxSize)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "RAM size must not exceed 64 GiB");
        if (holeStart is < 0x10_0000 or > HighStart || (holeStart & 0xF_FFFF) != 0)
            throw new ArgumentOutOfRangeException(nameof(holeStart), holeStart, "the hole must start at a multiple of 1 MiB between 1 MiB and 4 GiB");
        Size = sizeBytes;
        HoleStart = holeStart;
        LowSize = Math.Min(sizeBytes, holeStart);
        HighSize = sizeBytes - LowSize;
        _lowPages = LowSize >> 12;
        _highPages = HighSize >> 12;
        _mapped = End;
        if (!OperatingSystem.IsWindows())
        {
            // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE (Linux values; macOS has no NORESERVE and ignores the bit's absence).
            int flags = OperatingSystem.IsLinux() ? 0x02 | 0x20 | 0x4000 : 0x02 | 0x1000;
            void* p = Mmap(null, (nuint)_mapped, 3, flags, -1, 0);
            if (p == (void*)-1) throw new OutOfMemoryException($"cannot reserve 0x{_mapped:X} bytes of host address space for guest RAM");
            _ptr = (byte*)p;
            _mmapped = true;
        }
        else
        {
            _ptr = (byte*)NativeMemory.AllocZeroed((nuint)_mapped);
        }
        _codePage = new byte[_mapped >> 12];
        // The GC does not see native memory: tell it about what a guest typically touches, so machines
        // that are dropped are finalized (and unmapped) about as often as when RAM was a managed array.
        _pressure = (long)Math.Min(_mapped, 256UL << 20);
        GC.AddMemoryPressure(_pressure);
    }

    private readonly long _pressure;

    /// <summary>Releases the host reservation.</summary>
    ~PhysicalMemory()
    {
        if (_ptr == null) return;
        if (_mmapped) Munmap(_ptr, (nuint)_mapped);
        else NativeMemory.Free(_ptr);
        GC.RemoveMemoryPressure(_pressure);
    }

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Munmap(void* addr, nuint length);

    /// <summary>Raw pointer to guest-physical address 0 (valid for the lifetime of this object; the host offset of an address is the address).</summary>
    internal byte* Pointer => _ptr;

    /// <summary>True when physical page <paramref name="pageNumber"/> is RAM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsRamPage(ulong pageNumber) => pageNumber < _lowPages || pageNumber - (HighStart >> 12) < _highPages;

    /// <summary>True when every byte of [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>) is RAM.</summary>
    public bool IsRam(ulong address, ulong length)
    {
        if (length == 0) return address <= End;
        if (address < LowSize) return length <= LowSize - address;
        return address >= HighStart && address - HighStart < HighSize && length <= HighSize - (address - HighStart);
    }

    /// <summary>The RAM ranges (start, length): [0, <see cref="LowSize"/>) and, if any, [4 GiB, 4 GiB + <see cref="HighSize"/>).</summary>
    public IReadOnlyList<(ulong Start, ulong Length)> Ranges =>
        HighSize == 0 ? [(0, LowSize)] : [(0, LowSize), (HighStart, HighSize)];

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

    /// <summary>The number of RAM bytes from <paramref name="a"/> to the end of its RAM range (0 when <paramref name="a"/> is not RAM).</summary>
    private ulong RamRun(ulong a) =>
        a < LowSize ? LowSize - a : a >= HighStart && a - HighStart < HighSize ? HighSize - (a - HighStart) : 0;

    /// <summary>Reads guest-physical bytes; bytes outside RAM read as 0xFF.</summary>
    public void Read(ulong address, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length;)
        {
            ulong a = address + (ulong)i;
            ulong run = RamRun(a);
            if (run != 0)
            {
                int n = (int)Math.Min((ulong)(destination.Length - i), run);
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
            if (RamRun(a) == 0) { i++; continue; }
            ulong page = a >> 12;
            InvalidateCode(page);
            int n = (int)Math.Min((ulong)(source.Length - i), ((page + 1) << 12) - a);
            source.Slice(i, n).CopyTo(new Span<byte>(_ptr + a, n));
            i += n;
        }
    }

    /// <summary>Zero-copy view of RAM from <paramref name="address"/> (no invalidation: read-only use).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not entirely inside one RAM range.</exception>
    public ReadOnlySpan<byte> View(ulong address, int length)
    {
        if (length < 0 || !IsRam(address, (ulong)length))
            throw new ArgumentOutOfRangeException(nameof(address), $"range 0x{address:X}+0x{length:X} is outside RAM (0..0x{LowSize:X}{(HighSize != 0 ? $", 0x{HighStart:X}..0x{End:X}" : "")})");
        return new ReadOnlySpan<byte>(_ptr + address, length);
    }

    /// <summary>True when the 4-KiB page at <paramref name="pageNumber"/> is RAM and holds a non-zero byte (reads only; used by snapshots to skip untouched memory).</summary>
    internal bool PageHasData(ulong pageNumber)
    {
        if (!IsRamPage(pageNumber)) return false;
        var s = new ReadOnlySpan<byte>(_ptr + (pageNumber << 12), 4096);
        return s.IndexOfAnyExcept((byte)0) >= 0;
    }
}
