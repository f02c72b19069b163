namespace Vtx.Devices;

/// <summary>
/// A memory-mapped I/O device: registers that answer guest-physical memory accesses in place of
/// RAM (SDM Vol. 3A, chapter "Memory Cache Control": such ranges are normally uncacheable, UC).
/// </summary>
/// <remarks>
/// Offsets are relative to the region base. A device sees accesses of 1, 2, 4 or 8 bytes, in the
/// order the instruction makes them; the value is little-endian (the byte at <c>offset + i</c> is
/// bits <c>8i+7:8i</c>). A guest access that runs past the region end (or begins in RAM or another
/// region and runs into this one) is split as the bus splits it: the device sees only the bytes
/// inside its range, as pieces of 1, 2, 4 or 8 bytes aligned on their physical address, in ascending order,
/// and the other bytes go to whatever claims them (RAM, another region, or the unclaimed bus).
/// </remarks>
public interface IMmioDevice
{
    /// <summary>A read of <paramref name="size"/> bytes (1, 2, 4 or 8) at <paramref name="offset"/> into the region.</summary>
    ulong Read(ulong offset, int size);

    /// <summary>A write of the low <paramref name="size"/> bytes (1, 2, 4 or 8) of <paramref name="value"/> at <paramref name="offset"/> into the region.</summary>
    void Write(ulong offset, int size, ulong value);
}

/// <summary>
/// An <see cref="IMmioDevice"/> backed by host callbacks: the simplest way for an embedder to put
/// registers at a guest-physical address.
/// </summary>
public sealed class DelegateMmioDevice : IMmioDevice
{
    private readonly Func<ulong, int, ulong> _read;
    private readonly Action<ulong, int, ulong>? _write;

    /// <summary>
    /// Creates a device that reads through <paramref name="read"/> (offset, size → value) and writes
    /// through <paramref name="write"/> (offset, size, value); with no <paramref name="write"/>,
    /// writes are ignored (a read-only register block).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="read"/> is null.</exception>
    public DelegateMmioDevice(Func<ulong, int, ulong> read, Action<ulong, int, ulong>? write = null)
    {
        ArgumentNullException.ThrowIfNull(read);
        _read = read;
        _write = write;
    }

    /// <inheritdoc />
    public ulong Read(ulong offset, int size) => _read(offset, size);

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value) => _write?.Invoke(offset, size, value);
}

/// <summary>A guest-physical range claimed by an <see cref="IMmioDevice"/>.</summary>
/// <param name="Base">First guest-physical address of the region.</param>
/// <param name="Size">Length in bytes (at least 1).</param>
/// <param name="Device">The device answering accesses in the region.</param>
public sealed record MmioRegion(ulong Base, ulong Size, IMmioDevice Device)
{
    /// <summary>The last guest-physical address of the region (inclusive).</summary>
    public ulong Last => Base + (Size - 1);

    /// <summary>True when <paramref name="physicalAddress"/> lies in the region.</summary>
    public bool Contains(ulong physicalAddress) => physicalAddress - Base < Size;

    /// <inheritdoc />
    public override string ToString() => $"0x{Base:X}-0x{Last:X} ({Device.GetType().Name})";
}

/// <summary>
/// The memory-mapped I/O regions of a machine: non-overlapping guest-physical ranges of any size
/// and alignment (page granularity is not required), each answered by an <see cref="IMmioDevice"/>.
/// </summary>
/// <remarks>
/// The map knows nothing of RAM: whether a region hides RAM beneath it is the machine's policy
/// (the PC convention is that the device wins). Lookups are a binary search over the sorted
/// regions; <see cref="Generation"/> changes on every registration so that a processor can drop
/// any cached "this page is plain RAM" decisions. Instances are not thread-safe.
/// </remarks>
public sealed class MmioMap
{
    private MmioRegion[] _regions = [];

    /// <summary>The regions, sorted by base address.</summary>
    public IReadOnlyList<MmioRegion> Regions => _regions;

    /// <summary>True when no region is registered (lets the memory path skip the lookup entirely).</summary>
    public bool IsEmpty => _regions.Length == 0;

    /// <summary>Incremented by every successful <see cref="Register"/>.</summary>
    public int Generation { get; private set; }

    /// <summary>Claims <paramref name="size"/> bytes from <paramref name="physBase"/> for <paramref name="device"/>.</summary>
    /// <returns>The new region.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is 0 or the range wraps past 2^64.</exception>
    /// <exception cref="ArgumentException">The range overlaps a registered region; the message names both.</exception>
    public MmioRegion Register(ulong physBase, ulong size, IMmioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (size == 0 || physBase + (size - 1) < physBase)
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"MMIO region at 0x{physBase:X} must be at least one byte long and end at or below 0xFFFFFFFFFFFFFFFF");
        var region = new MmioRegion(physBase, size, device);
        foreach (var r in _regions)
        {
            if (r.Base <= region.Last && region.Base <= r.Last)
                throw new ArgumentException(
                    $"MMIO region 0x{region.Base:X}-0x{region.Last:X} for {device.GetType().Name} overlaps region {r}",
                    nameof(physBase));
        }
        var next = new MmioRegion[_regions.Length + 1];
        int i = 0;
        for (; i < _regions.Length && _regions[i].Base < physBase; i++) next[i] = _regions[i];
        next[i] = region;
        for (; i < _regions.Length; i++) next[i + 1] = _regions[i];
        _regions = next;
        Generation++;
        return region;
    }

    /// <summary>Finds the region containing guest-physical address <paramref name="pa"/>.</summary>
    /// <returns>True, with the region, when <paramref name="pa"/> is memory-mapped I/O.</returns>
    public bool TryFind(ulong pa, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MmioRegion? region)
    {
        var rs = _regions;
        int lo = 0, hi = rs.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = rs[mid];
            if (pa < r.Base) hi = mid - 1;
            else if (pa > r.Last) lo = mid + 1;
            else { region = r; return true; }
        }
        region = null;
        return false;
    }

    /// <summary>True when any byte of [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) is memory-mapped I/O.</summary>
    public bool Intersects(ulong start, ulong length)
    {
        if (length == 0) return false;
        ulong last = start + (length - 1);
        if (last < start) last = ulong.MaxValue;
        foreach (var r in _regions)
            if (r.Base <= last && start <= r.Last) return true;
        return false;
    }

    /// <summary>
    /// Reads <paramref name="size"/> bytes (1, 2, 4 or 8) at <paramref name="pa"/> from the region
    /// holding it, passing the offset into the region.
    /// </summary>
    /// <returns>False (and <paramref name="value"/> = 0) when <paramref name="pa"/> is not memory-mapped I/O.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 1, 2, 4 or 8.</exception>
    public bool TryRead(ulong pa, int size, out ulong value)
    {
        ulong mask = SizeMask(size);
        if (!TryFind(pa, out var r)) { value = 0; return false; }
        value = r.Device.Read(pa - r.Base, size) & mask;
        return true;
    }

    /// <summary>
    /// Writes the low <paramref name="size"/> bytes (1, 2, 4 or 8) of <paramref name="value"/> at
    /// <paramref name="pa"/> to the region holding it.
    /// </summary>
    /// <returns>False (nothing written) when <paramref name="pa"/> is not memory-mapped I/O.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 1, 2, 4 or 8.</exception>
    public bool TryWrite(ulong pa, int size, ulong value)
    {
        ulong mask = SizeMask(size);
        if (!TryFind(pa, out var r)) return false;
        r.Device.Write(pa - r.Base, size, value & mask);
        return true;
    }

    private static ulong SizeMask(int size) => size switch
    {
        1 => 0xFFUL,
        2 => 0xFFFFUL,
        4 => 0xFFFF_FFFFUL,
        8 => ulong.MaxValue,
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "MMIO access size must be 1, 2, 4 or 8 bytes"),
    };
}
