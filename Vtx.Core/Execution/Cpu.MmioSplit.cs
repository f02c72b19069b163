using Vtx.Execution;

namespace Vtx;

public sealed unsafe partial class Cpu
{
    // Physical accesses that touch memory-mapped I/O. The common case — the whole access inside one
    // region, at a size a device accepts — is one device call. An access that straddles a region's
    // end, or runs from RAM (or the bus, or another region) into a region, is split the way a bus
    // splits it: each device sees only the bytes of its own range, as naturally aligned pieces of
    // 1, 2, 4 or 8 bytes in ascending order; the other bytes go to RAM or the unclaimed bus
    // (reads all ones, writes dropped). Nothing here throws for any guest address or size.

    /// <summary>
    /// Reads 1..8 bytes at <paramref name="pa"/> (inside one page, not the APIC page) when any of them
    /// is memory-mapped I/O; false when none is (the caller reads RAM or the bus).
    /// </summary>
    private bool MmioSplitRead(ulong pa, int size, out ulong value)
    {
        if (Mmio.TryFind(pa, out var r) && size is 1 or 2 or 4 or 8 && pa + (ulong)(size - 1) <= r.Last)
        {
            value = r.Device.Read(pa - r.Base, size) & Sz.Mask(size);
            return true;
        }
        if (r is null && !Mmio.Intersects(pa, (ulong)size)) { value = 0; return false; }
        ulong v = 0;
        for (int i = 0; i < size;)
        {
            ulong a = pa + (ulong)i;
            if (Mmio.TryFind(a, out var region))
            {
                int n = (int)Math.Min((ulong)(size - i), region.Last - a + 1);
                while (n > 0)
                {
                    int p = Piece(a, n);
                    v |= (region.Device.Read(a - region.Base, p) & Sz.Mask(p)) << (i * 8);
                    a += (ulong)p;
                    i += p;
                    n -= p;
                }
            }
            else
            {
                ulong b = _mem.IsRamPage(a >> 12) ? _ram[a] : 0xFFUL;
                v |= b << (i * 8);
                i++;
            }
        }
        value = v;
        return true;
    }

    /// <summary>Writes 1..8 bytes at <paramref name="pa"/> when any of them is memory-mapped I/O (split as <see cref="MmioSplitRead"/>); false when none is.</summary>
    private bool MmioSplitWrite(ulong pa, int size, ulong value)
    {
        if (Mmio.TryFind(pa, out var r) && size is 1 or 2 or 4 or 8 && pa + (ulong)(size - 1) <= r.Last)
        {
            r.Device.Write(pa - r.Base, size, value & Sz.Mask(size));
            return true;
        }
        if (r is null && !Mmio.Intersects(pa, (ulong)size)) return false;
        Span<byte> one = stackalloc byte[1];
        for (int i = 0; i < size;)
        {
            ulong a = pa + (ulong)i;
            if (Mmio.TryFind(a, out var region))
            {
                int n = (int)Math.Min((ulong)(size - i), region.Last - a + 1);
                while (n > 0)
                {
                    int p = Piece(a, n);
                    region.Device.Write(a - region.Base, p, (value >> (i * 8)) & Sz.Mask(p));
                    a += (ulong)p;
                    i += p;
                    n -= p;
                }
            }
            else
            {
                if (_mem.IsRamPage(a >> 12))
                {
                    one[0] = (byte)(value >> (i * 8));
                    _mem.Write(a, one); // drops decodings of the page when it holds code
                }
                i++;
            }
        }
        return true;
    }

    /// <summary>The largest of 8, 4, 2, 1 bytes that is aligned at <paramref name="a"/> and fits in <paramref name="n"/>.</summary>
    private static int Piece(ulong a, int n) =>
        n >= 8 && (a & 7) == 0 ? 8 : n >= 4 && (a & 3) == 0 ? 4 : n >= 2 && (a & 1) == 0 ? 2 : 1;
}
