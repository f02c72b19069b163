using System.Runtime.CompilerServices;

namespace Vtx.Devices;

/// <summary>One access on the I/O port bus, as reported to <see cref="IoBus.AccessObserved"/>.</summary>
/// <param name="Port">The first port of the access.</param>
/// <param name="Size">Access size in bytes: 1, 2 or 4.</param>
/// <param name="Value">The value written, or the value the read returned (masked to the size).</param>
/// <param name="IsWrite">True for OUT/OUTS, false for IN/INS.</param>
/// <param name="Claimed">True when a device claims <paramref name="Port"/>; false for an unclaimed port.</param>
public readonly record struct PortAccess(ushort Port, int Size, uint Value, bool IsWrite, bool Claimed)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{(IsWrite ? "OUT" : "IN")} 0x{Port:X4}/{Size} = 0x{Value:X}{(Claimed ? "" : " (unclaimed)")}";
}

/// <summary>A range of ports claimed by one device on an <see cref="IoBus"/>.</summary>
/// <param name="FirstPort">The first port claimed.</param>
/// <param name="Count">The number of consecutive ports claimed (at least 1).</param>
/// <param name="Device">The device that receives the accesses.</param>
public sealed record PortRange(ushort FirstPort, int Count, IPortDevice Device)
{
    /// <summary>The last port claimed.</summary>
    public ushort LastPort => (ushort)(FirstPort + Count - 1);

    /// <inheritdoc />
    public override string ToString() => $"0x{FirstPort:X4}-0x{LastPort:X4} ({Device.GetType().Name})";
}

/// <summary>
/// The x86 I/O port address space: 65,536 8-bit ports reached by IN, OUT, INS and OUTS
/// (SDM Vol. 1, chapter "Input/Output", "I/O Port Addressing"), with the devices that claim them.
/// </summary>
/// <remarks>
/// <para>
/// Reads of an unclaimed port return all ones of the access size (0xFF, 0xFFFF, 0xFFFFFFFF), the
/// value a PC's floating ISA data bus returns; writes to unclaimed ports are ignored.
/// </para>
/// <para>
/// An access of 2 or 4 bytes whose ports are all claimed by one device goes to that device whole.
/// Otherwise — it straddles two devices, a claimed and an unclaimed port, or runs past port 0xFFFF —
/// the bus splits it into byte accesses at <c>port</c>, <c>port + 1</c>, ... and assembles the
/// little-endian result, as the PC bus does for narrow devices; bytes past port 0xFFFF are
/// unclaimed. Lookup is one array index per access; instances are not thread-safe.
/// </para>
/// </remarks>
public sealed class IoBus
{
    private readonly IPortDevice?[] _byPort = new IPortDevice?[0x10000];
    private readonly List<PortRange> _ranges = new();

    /// <summary>
    /// Optional host observer called after every access (with the value read or written). Costs one
    /// null test per access when unset. Runs on the thread that executes the guest, inside the
    /// IN/OUT instruction; it must not call back into the bus.
    /// </summary>
    public Action<PortAccess>? AccessObserved { get; set; }

    /// <summary>The claimed ranges, in registration order.</summary>
    public IReadOnlyList<PortRange> Ranges => _ranges;

    /// <summary>
    /// Claims <paramref name="count"/> ports from <paramref name="firstPort"/> for <paramref name="device"/>.
    /// A device may claim several disjoint ranges.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1 or the range runs past port 0xFFFF.</exception>
    /// <exception cref="ArgumentException">A port in the range is already claimed; the message names the ports and the owner.</exception>
    public void Register(ushort firstPort, int count, IPortDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (count < 1 || firstPort + count > 0x10000)
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"port range 0x{firstPort:X4} + {count} must hold at least one port and end at or below 0xFFFF");
        var range = new PortRange(firstPort, count, device);
        foreach (var r in _ranges)
        {
            int lo = Math.Max(r.FirstPort, firstPort), hi = Math.Min(r.LastPort, range.LastPort);
            if (lo <= hi)
                throw new ArgumentException(
                    $"ports 0x{range.FirstPort:X4}-0x{range.LastPort:X4} for {device.GetType().Name} overlap ports " +
                    $"0x{lo:X4}-0x{hi:X4} already claimed by {r}", nameof(firstPort));
        }
        _ranges.Add(range);
        for (int p = firstPort; p <= range.LastPort; p++) _byPort[p] = device;
    }

    /// <summary>The device claiming <paramref name="port"/>, or null when it is unclaimed.</summary>
    public IPortDevice? DeviceAt(ushort port) => _byPort[port];

    /// <summary>Performs an IN of <paramref name="size"/> bytes (1, 2 or 4) at <paramref name="port"/>.</summary>
    /// <returns>The value read, zero-extended from the access size; all ones of the size for unclaimed ports.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 1, 2 or 4.</exception>
    public uint Read(ushort port, int size)
    {
        uint mask = SizeMask(size);
        var dev = _byPort[port];
        uint value;
        if (dev is not null && (size == 1 || IsWhole(dev, port, size)))
            value = dev.Read(port, size) & mask;
        else if (size == 1)
            value = 0xFF;
        else
            value = ReadSplit(port, size);
        AccessObserved?.Invoke(new PortAccess(port, size, value, false, dev is not null));
        return value;
    }

    /// <summary>Performs an OUT of the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/> at <paramref name="port"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 1, 2 or 4.</exception>
    public void Write(ushort port, int size, uint value)
    {
        value &= SizeMask(size);
        var dev = _byPort[port];
        if (dev is not null && (size == 1 || IsWhole(dev, port, size)))
            dev.Write(port, size, value);
        else if (size != 1)
            WriteSplit(port, size, value);
        AccessObserved?.Invoke(new PortAccess(port, size, value, true, dev is not null));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint SizeMask(int size) => size switch
    {
        1 => 0xFFu,
        2 => 0xFFFFu,
        4 => 0xFFFF_FFFFu,
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "I/O access size must be 1, 2 or 4 bytes"),
    };

    private bool IsWhole(IPortDevice dev, ushort port, int size)
    {
        int last = port + size - 1;
        if (last > 0xFFFF) return false;
        for (int p = port + 1; p <= last; p++)
            if (!ReferenceEquals(_byPort[p], dev)) return false;
        return true;
    }

    private uint ReadSplit(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++)
        {
            int p = port + i;
            var d = p <= 0xFFFF ? _byPort[p] : null;
            uint b = d is null ? 0xFFu : d.Read((ushort)p, 1) & 0xFF;
            v |= b << (8 * i);
        }
        return v;
    }

    private void WriteSplit(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
        {
            int p = port + i;
            var d = p <= 0xFFFF ? _byPort[p] : null;
            d?.Write((ushort)p, 1, (value >> (8 * i)) & 0xFF);
        }
    }
}
