namespace Vtx.Memory.Paging;

/// <summary>
/// The four PDPTE registers of PAE paging (SDM Vol. 3A, 4.4.1). They are loaded from the 32-byte
/// aligned table at CR3[31:5] by MOV to CR0/CR3/CR4 (and by task switches and VM transitions),
/// not on each walk; <see cref="PageWalker.LoadPdptes{TMemory}"/> reads and validates them.
/// </summary>
public readonly struct PaePdptes : IEquatable<PaePdptes>
{
    /// <summary>Bits of a present PDPTE that are always reserved: 2:1 and 8:5 (SDM Vol. 3A, Table 4-8).</summary>
    internal const ulong FixedReservedBits = 0x1E6;

    /// <summary>Creates the register set from four entry values (PDPTE0 maps linear addresses 0..1 GiB).</summary>
    public PaePdptes(ulong pdpte0, ulong pdpte1, ulong pdpte2, ulong pdpte3)
    {
        Pdpte0 = pdpte0;
        Pdpte1 = pdpte1;
        Pdpte2 = pdpte2;
        Pdpte3 = pdpte3;
    }

    /// <summary>PDPTE0 (linear addresses with bits 31:30 = 0).</summary>
    public ulong Pdpte0 { get; }
    /// <summary>PDPTE1 (linear addresses with bits 31:30 = 1).</summary>
    public ulong Pdpte1 { get; }
    /// <summary>PDPTE2 (linear addresses with bits 31:30 = 2).</summary>
    public ulong Pdpte2 { get; }
    /// <summary>PDPTE3 (linear addresses with bits 31:30 = 3).</summary>
    public ulong Pdpte3 { get; }

    /// <summary>PDPTE <paramref name="index"/> (0..3, i.e. linear-address bits 31:30).</summary>
    public ulong this[int index] => (index & 3) switch { 0 => Pdpte0, 1 => Pdpte1, 2 => Pdpte2, _ => Pdpte3 };

    /// <summary>
    /// True when <paramref name="pdpte"/> is present (P = 1) and sets a reserved bit: 2:1, 8:5 or
    /// 63:MAXPHYADDR (SDM Vol. 3A, 4.4.1, Table 4-8). Loading such an entry raises #GP(0).
    /// Not-present entries have no reserved bits.
    /// </summary>
    /// <param name="pdpte">The entry value.</param>
    /// <param name="maxPhysicalAddressBits">MAXPHYADDR (32..52).</param>
    public static bool HasReservedBits(ulong pdpte, int maxPhysicalAddressBits) =>
        (pdpte & 1) != 0 && (pdpte & (FixedReservedBits | (ulong.MaxValue << maxPhysicalAddressBits))) != 0;

    /// <inheritdoc/>
    public bool Equals(PaePdptes other) => Pdpte0 == other.Pdpte0 && Pdpte1 == other.Pdpte1 && Pdpte2 == other.Pdpte2 && Pdpte3 == other.Pdpte3;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PaePdptes p && Equals(p);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Pdpte0, Pdpte1, Pdpte2, Pdpte3);

    /// <summary>Value equality.</summary>
    public static bool operator ==(PaePdptes left, PaePdptes right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(PaePdptes left, PaePdptes right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => $"PDPTEs [0x{Pdpte0:X}, 0x{Pdpte1:X}, 0x{Pdpte2:X}, 0x{Pdpte3:X}]";
}
