using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Vtx.Memory.Paging;

/// <summary>
/// Physical-memory access used by the page walker to read paging-structure entries and to write
/// accessed/dirty flags back (SDM Vol. 3A, 4.8). Implementations must not throw for any address:
/// a physical address with nothing behind it reads as all ones and ignores writes, as an unclaimed
/// bus does, so a paging structure there is garbage and (normally) faults.
/// </summary>
/// <remarks>
/// The walker is generic over the implementation: pass a struct (such as <see cref="PhysicalMemoryAccess"/>)
/// to get a specialized, allocation-free walk without interface dispatch.
/// </remarks>
public interface IPhysicalMemoryAccess
{
    /// <summary>Reads the little-endian 64-bit value at physical address <paramref name="address"/>.</summary>
    ulong ReadU64(ulong address);

    /// <summary>Reads the little-endian 32-bit value at physical address <paramref name="address"/>.</summary>
    uint ReadU32(ulong address);

    /// <summary>Writes a little-endian 64-bit value at physical address <paramref name="address"/>.</summary>
    void WriteU64(ulong address, ulong value);

    /// <summary>Writes a little-endian 32-bit value at physical address <paramref name="address"/>.</summary>
    void WriteU32(ulong address, uint value);
}

/// <summary>
/// <see cref="IPhysicalMemoryAccess"/> over <see cref="PhysicalMemory"/>: RAM reads are direct,
/// bytes outside RAM read as 0xFF, writes go through <see cref="PhysicalMemory.Write"/> (so an
/// accessed/dirty update to a page holding decoded instructions drops those decodings) and are
/// ignored outside RAM.
/// </summary>
public readonly unsafe struct PhysicalMemoryAccess : IPhysicalMemoryAccess
{
    private readonly PhysicalMemory _memory;

    /// <summary>Wraps <paramref name="memory"/>.</summary>
    public PhysicalMemoryAccess(PhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadU64(ulong address)
    {
        // Issue 13: an entry in low RAM (the page walk's usual case) is one load; anything else goes the general way.
        if (address < _memory.LowSize && _memory.LowSize - address >= 8) return BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_memory.Pointer + address, 8));
        return ReadU64Slow(address);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadU64Slow(ulong address)
    {
        if (_memory.IsRam(address, 8))
            return BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_memory.Pointer + address, 8));
        Span<byte> b = stackalloc byte[8];
        _memory.Read(address, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <inheritdoc/>
    public uint ReadU32(ulong address)
    {
        if (_memory.IsRam(address, 4))
            return BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(_memory.Pointer + address, 4));
        Span<byte> b = stackalloc byte[4];
        _memory.Read(address, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <inheritdoc/>
    public void WriteU64(ulong address, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _memory.Write(address, b);
    }

    /// <inheritdoc/>
    public void WriteU32(ulong address, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _memory.Write(address, b);
    }
}
