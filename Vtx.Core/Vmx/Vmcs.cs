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
    // Field values in a dense array indexed by the field's position in VmcsField.AllFields; the
    // 15-bit encoding space maps to positions through one static table, so VMREAD, VMWRITE and the
    // dozens of field accesses of every VM entry and exit are array reads.
    private static readonly short[] SlotOf = BuildSlots();
    private static readonly int SlotCount = VmcsField.AllFields.Count;
    private readonly ulong[] _values = new ulong[SlotCount];

    /// <summary>Physical address of the VMCS region.</summary>
    public ulong Address { get; }

    /// <summary>Launch state: true after a successful VMLAUNCH, false after VMCLEAR ("clear").</summary>
    public bool Launched { get; set; }

    /// <summary>
    /// The shadow-VMCS indicator (bit 31 of the region's first dword) as the processor read it when the
    /// VMCS became active (SDM Vol. 3C, 24.2, 24.10): a shadow VMCS serves VMREAD/VMWRITE but not VM entry.
    /// </summary>
    public bool IsShadow { get; internal set; }

    internal Vmcs(ulong address) => Address = address;

    /// <summary>A deep copy (for machine snapshots).</summary>
    internal Vmcs Clone()
    {
        var c = new Vmcs(Address) { Launched = Launched, IsShadow = IsShadow };
        Array.Copy(_values, c._values, _values.Length);
        return c;
    }

    private static short[] BuildSlots()
    {
        var t = new short[0x8000];
        Array.Fill(t, (short)-1);
        short i = 0;
        foreach (var f in VmcsField.AllFields) t[f.FullAccess.Encoding & 0x7FFE] = i++;
        return t;
    }

    /// <summary>Bytes of the in-memory image (fits in the 4-KiB region IA32_VMX_BASIC reports).</summary>
    public static int ImageSize => 16 + 8 * SlotCount;

    // Issue 13: inlined, so that for the named (static readonly) fields every VM entry and exit uses, the
    // JIT folds the validity test and the slot to constants: a field access is one array element.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static int SlotFor(VmcsField field)
    {
        uint e = field.Encoding;
        int slot = e < 0x8000 && field.IsValid ? SlotOf[e & 0x7FFE] : -1;
        if (slot < 0) ThrowNotArchitectural(field);
        return slot;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotArchitectural(VmcsField field) =>
        throw new ArgumentOutOfRangeException(nameof(field), field, "not an architectural VMCS field encoding (see VmcsField.AllFields)");

    /// <summary>The value of a field by full or high access (high: bits 63:32 of a 64-bit field).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="field"/> is not an architectural field.</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public ulong Read(VmcsField field)
    {
        ulong v = _values[SlotFor(field)];
        return field.IsHigh ? v >> 32 : v;
    }

    /// <summary>Writes a field: the value is truncated to the field's width; a high access changes bits 63:32 only.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="field"/> is not an architectural field.</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Write(VmcsField field, ulong value)
    {
        ref ulong slot = ref _values[SlotFor(field)];
        if (field.IsHigh) slot = (slot & 0xFFFF_FFFFUL) | ((value & 0xFFFF_FFFFUL) << 32);
        else slot = value & field.ValueMask;
    }

    /// <summary>Serializes into a region image (revision id and abort indicator are kept as they are in memory).</summary>
    internal void Store(Span<byte> image)
    {
        image[8] = Launched ? (byte)1 : (byte)0;
        for (int i = 0; i < SlotCount; i++) BinaryPrimitives.WriteUInt64LittleEndian(image[(16 + 8 * i)..], _values[i]);
    }

    /// <summary>Builds the active copy from a region image written by <see cref="Store"/> (or any bytes: unknown data simply becomes field values).</summary>
    internal static Vmcs Load(ulong address, ReadOnlySpan<byte> image)
    {
        var v = new Vmcs(address) { Launched = image[8] == 1 };
        var fields = VmcsField.AllFields;
        for (int i = 0; i < SlotCount; i++)
            v._values[i] = BinaryPrimitives.ReadUInt64LittleEndian(image[(16 + 8 * i)..]) & fields[i].ValueMask;
        return v;
    }
}
