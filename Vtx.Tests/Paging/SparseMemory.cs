using Vtx.Memory.Paging;

namespace Vtx.Tests.Paging;

/// <summary>
/// Test physical memory: sparse 4-KiB pages over a "RAM" of <see cref="RamSize"/> bytes whose
/// untouched bytes follow a fill pattern (zeros, pseudo-random garbage or all ones); above the RAM
/// size every byte reads 0xFF and writes are dropped, like <c>PhysicalMemory</c>. Counts accesses.
/// </summary>
internal sealed class SparseMemory : IPhysicalMemoryAccess, ReferencePaging.IModelMemory
{
    public enum Fill { Zero, Garbage, Ones }

    private readonly Dictionary<ulong, byte[]> _pages = new();

    public SparseMemory(ulong ramSize, Fill fill = Fill.Zero, ulong seed = 0)
    {
        RamSize = ramSize;
        FillKind = fill;
        Seed = seed;
    }

    public ulong RamSize { get; }
    public Fill FillKind { get; }
    public ulong Seed { get; }
    public int Reads { get; private set; }
    public int Writes { get; private set; }

    public byte FillByte(ulong address) => FillKind switch
    {
        Fill.Zero => 0,
        Fill.Ones => 0xFF,
        _ => (byte)(Mix(Seed ^ (address >> 3)) >> (int)((address & 7) * 8)),
    };

    private static ulong Mix(ulong z)
    {
        z += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }

    public byte GetByte(ulong address)
    {
        if (address >= RamSize) return 0xFF;
        return _pages.TryGetValue(address >> 12, out var p) ? p[address & 0xFFF] : FillByte(address);
    }

    public void SetByte(ulong address, byte value)
    {
        if (address >= RamSize) return;
        if (!_pages.TryGetValue(address >> 12, out var p))
        {
            p = FillPage(address >> 12);
            _pages[address >> 12] = p;
        }
        p[address & 0xFFF] = value;
    }

    public ulong Get(ulong address, int bytes)
    {
        ulong v = 0;
        for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | GetByte(address + (ulong)i);
        return v;
    }

    public void Set(ulong address, int bytes, ulong value)
    {
        for (int i = 0; i < bytes; i++) SetByte(address + (ulong)i, (byte)(value >> (8 * i)));
    }

    public ulong ReadU64(ulong address) { Reads++; return Get(address, 8); }
    public uint ReadU32(ulong address) { Reads++; return (uint)Get(address, 4); }
    public void WriteU64(ulong address, ulong value) { Writes++; Set(address, 8, value); }
    public void WriteU32(ulong address, uint value) { Writes++; Set(address, 4, value); }

    public SparseMemory Clone()
    {
        var c = new SparseMemory(RamSize, FillKind, Seed);
        foreach (var (k, v) in _pages) c._pages[k] = (byte[])v.Clone();
        return c;
    }

    public void ResetCounters() => Reads = Writes = 0;

    private byte[] PageOrFill(ulong page)
    {
        return _pages.TryGetValue(page, out var p) ? p : FillPage(page);
    }

    private byte[] FillPage(ulong page)
    {
        var p = new byte[4096];
        if (FillKind == Fill.Ones) p.AsSpan().Fill(0xFF);
        else if (FillKind == Fill.Garbage)
            for (int i = 0; i < 4096; i += 8)
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(i, 8), Mix(Seed ^ (((page << 12) + (ulong)i) >> 3)));
        return p;
    }

    /// <summary>Addresses (8-byte granules) whose contents differ between the two memories (same fill assumed).</summary>
    public IEnumerable<ulong> Differences(SparseMemory other)
    {
        foreach (ulong page in _pages.Keys.Union(other._pages.Keys).Order())
        {
            byte[] a = PageOrFill(page), b = other.PageOrFill(page);
            if (a.AsSpan().SequenceEqual(b)) continue;
            for (int i = 0; i < 4096; i += 8)
                if (!a.AsSpan(i, 8).SequenceEqual(b.AsSpan(i, 8))) yield return (page << 12) + (ulong)i;
        }
    }
}
