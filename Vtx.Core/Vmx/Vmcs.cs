using System.Buffers.Binary;

namespace Vtx.Vmx;

/// <summary>
/// One VMCS as the processor holds it while it is active (SDM Vol. 3C, 24.1, 24.11): field values
/// keyed by encoding and the launch state. Its in-memory image is the library's own format —
/// revision identifier at offset 0 and VMX-abort indicator at 4 (architectural), then the launch
/// state at 8 and every architectural field's value at 16 + 8 × (its position in
/// <see cref="VmcsField.AllFields"/>) — written by VMCLEAR and read back by VMPTRLD; software must
/// use VMREAD/VMWRITE, as the SDM requires.
/// </summary>
public sealed class Vmcs
{
    private readonly Dictionary<uint, ulong> _values = new();
    private static readonly Dictionary<uint, int> Slot = BuildSlots();

    /// <summary>Physical address of the VMCS region.</summary>
    public ulong Address { get; }

    /// <summary>Launch state: true after a successful VMLAUNCH, false after VMCLEAR ("clear").</summary>
    public bool Launched { get; set; }

    internal Vmcs(ulong address) => Address = address;

    /// <summary>A deep copy (for machine snapshots).</summary>
    internal Vmcs Clone()
    {
        var c = new Vmcs(Address) { Launched = Launched };
        foreach (var kv in _values) c._values[kv.Key] = kv.Value;
        return c;
    }

    private static Dictionary<uint, int> BuildSlots()
    {
        var d = new Dictionary<uint, int>();
        int i = 0;
        foreach (var f in VmcsField.AllFields) d[f.FullAccess.Encoding] = i++;
        return d;
    }

    /// <summary>Bytes of the in-memory image (fits in the 4-KiB region IA32_VMX_BASIC reports).</summary>
    public static int ImageSize => 16 + 8 * Slot.Count;

    /// <summary>The value of a field by full or high access (high: bits 63:32 of a 64-bit field).</summary>
    public ulong Read(VmcsField field)
    {
        _values.TryGetValue(field.FullAccess.Encoding, out ulong v);
        return field.IsHigh ? v >> 32 : v;
    }

    /// <summary>Writes a field: the value is truncated to the field's width; a high access changes bits 63:32 only.</summary>
    public void Write(VmcsField field, ulong value)
    {
        uint key = field.FullAccess.Encoding;
        if (field.IsHigh)
        {
            _values.TryGetValue(key, out ulong old);
            _values[key] = (old & 0xFFFF_FFFFUL) | ((value & 0xFFFF_FFFFUL) << 32);
        }
        else _values[key] = value & field.ValueMask;
    }

    /// <summary>Serializes into a region image (revision id and abort indicator are kept as they are in memory).</summary>
    internal void Store(Span<byte> image)
    {
        image[8] = Launched ? (byte)1 : (byte)0;
        foreach (var (key, slot) in Slot)
        {
            _values.TryGetValue(key, out ulong v);
            BinaryPrimitives.WriteUInt64LittleEndian(image[(16 + 8 * slot)..], v);
        }
    }

    /// <summary>Builds the active copy from a region image written by <see cref="Store"/> (or any bytes: unknown data simply becomes field values).</summary>
    internal static Vmcs Load(ulong address, ReadOnlySpan<byte> image)
    {
        var v = new Vmcs(address) { Launched = image[8] == 1 };
        foreach (var (key, slot) in Slot)
        {
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(image[(16 + 8 * slot)..]);
            if (value != 0) v._values[key] = value & new VmcsField(key).ValueMask;
        }
        return v;
    }
}
