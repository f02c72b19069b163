using System.Buffers.Binary;
using System.Text;

namespace Vtx.Devices;

/// <summary>Selector keys of the well-known fw_cfg items (QEMU include/standard-headers/linux/qemu_fw_cfg.h).</summary>
public static class FwCfgKeys
{
    /// <summary>FW_CFG_SIGNATURE: the four bytes "QEMU".</summary>
    public const ushort Signature = 0x0000;
    /// <summary>FW_CFG_ID: 32-bit little-endian feature bitmap (bit 0 traditional interface, bit 1 DMA).</summary>
    public const ushort Id = 0x0001;
    /// <summary>FW_CFG_RAM_SIZE: 64-bit little-endian RAM size in bytes.</summary>
    public const ushort RamSize = 0x0003;
    /// <summary>FW_CFG_NB_CPUS: 16-bit little-endian number of CPUs at boot.</summary>
    public const ushort CpuCount = 0x0005;
    /// <summary>FW_CFG_FILE_DIR: the big-endian file directory.</summary>
    public const ushort FileDirectory = 0x0019;
    /// <summary>FW_CFG_FILE_FIRST: the first key used for named files.</summary>
    public const ushort FileFirst = 0x0020;
    /// <summary>FW_CFG_WRITE_CHANNEL: selector bit 14, the legacy write-mode bit (ignored for reads).</summary>
    public const ushort WriteChannel = 0x4000;
    /// <summary>FW_CFG_ARCH_LOCAL: selector bit 15, architecture-specific items.</summary>
    public const ushort ArchLocal = 0x8000;
}

/// <summary>
/// QEMU's firmware configuration device, traditional I/O-port interface on x86 (QEMU
/// docs/specs/fw_cfg.rst): a 16-bit selector register at port 0x510 and an 8-bit data register at
/// 0x511. Writing a key to the selector selects an item and rewinds its data offset to 0; each
/// byte read of the data register returns the next byte of the item, and 0 past its end.
/// </summary>
/// <remarks>
/// <para>
/// Items present: signature (0x0000) = "QEMU"; ID (0x0001) = 1 (traditional interface only — no
/// DMA, so port 0x514 is not decoded); RAM size (0x0003, 64-bit LE); CPU count (0x0005, 16-bit LE);
/// file directory (0x0019: a big-endian count followed by 64-byte entries, empty until
/// <see cref="AddFile"/>). Unknown keys select an empty item (every read returns 0).
/// </para>
/// <para>
/// Like QEMU's combined port region (hw/nvram/fw_cfg.c, <c>fw_cfg_comb_*</c>), the device decodes
/// ports 0x510-0x511 together: a 16-bit write anywhere in it selects; a byte read at either port
/// reads data; byte writes (the data-write path QEMU dropped in v2.4) are ignored; other widths
/// are invalid accesses — reads return all ones, writes are ignored. Bit 14 of the selector (write
/// channel) is ignored when choosing the item.
/// </para>
/// </remarks>
public sealed class FwCfg : IPortDevice
{
    /// <summary>The selector port on x86.</summary>
    public const ushort SelectorPort = 0x510;

    /// <summary>The data port on x86.</summary>
    public const ushort DataPort = 0x511;

    /// <summary>The number of ports decoded from <see cref="SelectorPort"/> (selector and data).</summary>
    public const int PortCount = 2;

    /// <summary>The longest file name, including its terminating NUL (FWCfgFile.name).</summary>
    public const int MaxFileNameBytes = 56;

    private readonly Dictionary<ushort, byte[]> _items = new();
    private readonly SortedDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private byte[] _current = [];
    private int _offset;

    /// <summary>Creates the device reporting <paramref name="ramSizeBytes"/> of RAM and <paramref name="cpuCount"/> CPUs.</summary>
    public FwCfg(ulong ramSizeBytes, ushort cpuCount = 1)
    {
        SetItem(FwCfgKeys.Signature, "QEMU"u8);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 1);
        SetItem(FwCfgKeys.Id, b[..4]);
        BinaryPrimitives.WriteUInt64LittleEndian(b, ramSizeBytes);
        SetItem(FwCfgKeys.RamSize, b);
        BinaryPrimitives.WriteUInt16LittleEndian(b, cpuCount);
        SetItem(FwCfgKeys.CpuCount, b[..2]);
        RebuildDirectory();
        Select(FwCfgKeys.Signature);
    }

    /// <summary>The selector value last written.</summary>
    public ushort SelectedKey { get; private set; }

    /// <summary>Sets (or replaces) the item at <paramref name="key"/> (bit 14 ignored). Takes effect at the next selection.</summary>
    /// <exception cref="ArgumentException"><paramref name="key"/> is the file directory or a file key (use <see cref="AddFile"/>).</exception>
    public void SetItem(ushort key, ReadOnlySpan<byte> data)
    {
        key = Normalize(key);
        if (key is >= FwCfgKeys.FileFirst and < FwCfgKeys.WriteChannel)
            throw new ArgumentException($"fw_cfg key 0x{key:X4} is a file slot; add files with AddFile", nameof(key));
        if (key == FwCfgKeys.FileDirectory)
            throw new ArgumentException("fw_cfg key 0x0019 is the file directory; add files with AddFile", nameof(key));
        _items[key] = data.ToArray();
    }

    /// <summary>
    /// Adds (or replaces) the named file. Files are listed in the directory sorted by name and
    /// take keys 0x0020, 0x0021, ... in that order (as current QEMU machine types do), so a key can
    /// change when a file is added; guests look keys up in the directory.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, not ASCII, or too long (55 bytes at most).</exception>
    public void AddFile(string name, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Length >= MaxFileNameBytes || !Ascii.IsValid(name) || name.Contains('\0'))
            throw new ArgumentException($"fw_cfg file name \"{name}\" must be 1 to {MaxFileNameBytes - 1} ASCII characters without NUL", nameof(name));
        if (_files.Count >= 0x4000 - FwCfgKeys.FileFirst && !_files.ContainsKey(name))
            throw new ArgumentException("fw_cfg has no free file slot", nameof(name));
        _files[name] = data.ToArray();
        RebuildDirectory();
    }

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        if (size != 1) return size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;
        return _offset < _current.Length ? _current[_offset++] : 0u;
    }

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        if (size == 2) Select((ushort)value);
    }

    private void Select(ushort key)
    {
        SelectedKey = key;
        _current = _items.TryGetValue(Normalize(key), out var item) ? item : [];
        _offset = 0;
    }

    private static ushort Normalize(ushort key) => (ushort)(key & ~FwCfgKeys.WriteChannel);

    private void RebuildDirectory()
    {
        foreach (var k in _items.Keys.Where(k => k >= FwCfgKeys.FileFirst && k < FwCfgKeys.WriteChannel).ToList())
            _items.Remove(k);
        var dir = new byte[4 + 64 * _files.Count];
        BinaryPrimitives.WriteUInt32BigEndian(dir, (uint)_files.Count);
        int i = 0;
        foreach (var (name, data) in _files)
        {
            ushort key = (ushort)(FwCfgKeys.FileFirst + i);
            var e = dir.AsSpan(4 + 64 * i, 64);
            BinaryPrimitives.WriteUInt32BigEndian(e, (uint)data.Length);
            BinaryPrimitives.WriteUInt16BigEndian(e[4..], key);
            Encoding.ASCII.GetBytes(name, e[8..]);
            _items[key] = data;
            i++;
        }
        _items[FwCfgKeys.FileDirectory] = dir;
    }
}
