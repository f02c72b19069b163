namespace Vtx;

/// <summary>
/// A segment register with its hidden part — the descriptor cache loaded with the selector
/// (SDM Vol. 3A, 3.4.3). Access rights use the VMCS guest-segment format (SDM Vol. 3C, 24.4.1):
/// bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable. The limit is
/// byte-granular (already scaled when G = 1).
/// </summary>
/// <param name="Selector">The visible selector.</param>
/// <param name="Base">Segment base address.</param>
/// <param name="Limit">Segment limit in bytes (the last valid offset for expand-up segments).</param>
/// <param name="AccessRights">Access rights in the VMCS format.</param>
public readonly record struct SegmentCache(ushort Selector, ulong Base, uint Limit, uint AccessRights)
{
    /// <summary>AR bit: descriptor type S (1 = code or data).</summary>
    public const uint S = 1u << 4;
    /// <summary>AR bit: present.</summary>
    public const uint P = 1u << 7;
    /// <summary>AR bit: 64-bit code segment (CS only).</summary>
    public const uint L = 1u << 13;
    /// <summary>AR bit: default operation size / big.</summary>
    public const uint DB = 1u << 14;
    /// <summary>AR bit: granularity.</summary>
    public const uint G = 1u << 15;
    /// <summary>AR bit: segment unusable (a null selector was loaded).</summary>
    public const uint Unusable = 1u << 16;

    /// <summary>Segment type field (AR bits 3:0).</summary>
    public int Type => (int)(AccessRights & 0xF);
    /// <summary>Descriptor privilege level.</summary>
    public int Dpl => (int)((AccessRights >> 5) & 3);
    /// <summary>Present bit.</summary>
    public bool Present => (AccessRights & P) != 0;
    /// <summary>True for a code segment (S = 1, type bit 3 = 1).</summary>
    public bool IsCode => (AccessRights & S) != 0 && (AccessRights & 8) != 0;
    /// <summary>64-bit code segment (L bit).</summary>
    public bool Long => (AccessRights & L) != 0;
    /// <summary>D/B bit: 32-bit default size (code) or 32-bit stack (SS).</summary>
    public bool Big => (AccessRights & DB) != 0;
    /// <summary>True when the segment register holds a null selector in protected mode.</summary>
    public bool IsUnusable => (AccessRights & Unusable) != 0;

    /// <summary>
    /// Builds the cache from an 8-byte segment descriptor (SDM Vol. 3A, 3.4.5, Figure 3-8) and the
    /// selector that named it. System descriptors in IA-32e mode are 16 bytes; this reads only the
    /// low 8 bytes (the caller supplies base bits 63:32 where they apply).
    /// </summary>
    public static SegmentCache FromDescriptor(ushort selector, ulong descriptor)
    {
        uint limit = (uint)(descriptor & 0xFFFF) | (uint)((descriptor >> 32) & 0xF0000);
        ulong baseAddr = ((descriptor >> 16) & 0xFFFFFF) | ((descriptor >> 32) & 0xFF000000);
        uint ar = (uint)((descriptor >> 40) & 0xFF) | (uint)((descriptor >> 40) & 0xF000);
        if ((ar & G) != 0) limit = (limit << 12) | 0xFFF;
        return new SegmentCache(selector, baseAddr, limit, ar);
    }

    /// <summary>A real-mode style segment: base = selector × 16, the given limit and access rights.</summary>
    public static SegmentCache Real(ushort selector, uint limit = 0xFFFF, uint accessRights = 0x93) =>
        new(selector, (ulong)selector << 4, limit, accessRights);

    /// <summary>A flat segment (base 0, 4-GiB limit) with the given access rights.</summary>
    public static SegmentCache Flat(ushort selector, uint accessRights) => new(selector, 0, 0xFFFF_FFFF, accessRights);

    /// <summary>The null SS of IA-32e mode (SDM Vol. 3A, 5.8.6 / 6.14.4): unusable, with DPL = <paramref name="cpl"/>.</summary>
    public static SegmentCache NullStack(ushort selector, int cpl) => new(selector, 0, 0, Unusable | (uint)(cpl << 5) | DB);

    /// <summary>A null (unusable) segment.</summary>
    public static SegmentCache Null(ushort selector = 0) => new(selector, 0, 0, Unusable);
}

/// <summary>GDTR or IDTR: base and limit of a descriptor table (SDM Vol. 3A, 2.4.1 and 2.4.3).</summary>
/// <param name="Base">Linear base address.</param>
/// <param name="Limit">Table limit in bytes.</param>
public readonly record struct DescriptorTableRegister(ulong Base, ushort Limit);
