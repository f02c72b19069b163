namespace Vtx.Memory.Paging;

/// <summary>
/// The paging mode in use, selected by CR0.PG, CR4.PAE, IA32_EFER.LME and CR4.LA57
/// (SDM Vol. 3A, 4.1.1 and Table 4-1).
/// </summary>
public enum PagingMode
{
    /// <summary>CR0.PG = 0: linear addresses are physical addresses.</summary>
    Disabled,
    /// <summary>32-bit paging (CR0.PG = 1, CR4.PAE = 0), SDM Vol. 3A, 4.3.</summary>
    Legacy32,
    /// <summary>PAE paging (CR0.PG = 1, CR4.PAE = 1, IA32_EFER.LME = 0), SDM Vol. 3A, 4.4.</summary>
    Pae,
    /// <summary>4-level paging (CR0.PG = 1, CR4.PAE = 1, IA32_EFER.LME = 1, CR4.LA57 = 0), SDM Vol. 3A, 4.5.</summary>
    Level4,
    /// <summary>5-level paging (CR0.PG = 1, CR4.PAE = 1, IA32_EFER.LME = 1, CR4.LA57 = 1), SDM Vol. 3A, 4.5.</summary>
    Level5,
}

/// <summary>Deriving the paging mode from the control registers, and the linear-address width it implies.</summary>
public static class PagingModes
{
    internal const ulong Cr0Pg = 1UL << 31;
    internal const ulong Cr4Pae = 1UL << 5;
    internal const ulong Cr4La57 = 1UL << 12;
    internal const ulong EferLme = 1UL << 8;
    internal const ulong EferLma = 1UL << 10;

    /// <summary>
    /// The paging mode selected by <paramref name="cr0"/>, <paramref name="cr4"/> and <paramref name="efer"/>
    /// (SDM Vol. 3A, 4.1.1, Table 4-1): PG = 0 disables paging; otherwise PAE = 0 selects 32-bit
    /// paging, PAE = 1 with LME = 0 PAE paging, and PAE = 1 with LME = 1 4-level or (LA57 = 1)
    /// 5-level paging. LMA is accepted in place of LME (with PG = 1 the two are equal).
    /// </summary>
    /// <remarks>
    /// The combination PG = 1, PAE = 0, LME = 1 cannot be reached (MOV to CR0 raises #GP, SDM Vol. 3A,
    /// 4.1.2); it is reported as <see cref="PagingMode.Legacy32"/>, and keeping it from happening is the caller's job.
    /// </remarks>
    public static PagingMode From(ulong cr0, ulong cr4, ulong efer)
    {
        if ((cr0 & Cr0Pg) == 0) return PagingMode.Disabled;
        if ((cr4 & Cr4Pae) == 0) return PagingMode.Legacy32;
        if ((efer & (EferLme | EferLma)) == 0) return PagingMode.Pae;
        return (cr4 & Cr4La57) != 0 ? PagingMode.Level5 : PagingMode.Level4;
    }

    /// <summary>
    /// The number of linear-address bits <paramref name="mode"/> translates: 48 for 4-level paging,
    /// 57 for 5-level paging (SDM Vol. 3A, 4.5), and 32 otherwise (linear addresses are 32 bits
    /// outside IA-32e mode, SDM Vol. 3A, 4.1.1).
    /// </summary>
    public static int LinearAddressBits(this PagingMode mode) => mode switch
    {
        PagingMode.Level4 => 48,
        PagingMode.Level5 => 57,
        _ => 32,
    };

    /// <summary>
    /// True when <paramref name="linear"/> is canonical for <paramref name="mode"/>: with 4-level
    /// (5-level) paging, bits 63:47 (63:56) all equal (SDM Vol. 3A, 4.5 and Vol. 1, 3.3.7.1). Outside
    /// IA-32e paging there is no canonicality check and the result is always true (the caller uses
    /// the low 32 bits).
    /// </summary>
    /// <remarks>A non-canonical access raises #GP(0) or #SS(0) before any page walk; the walker does not check.</remarks>
    public static bool IsCanonical(this PagingMode mode, ulong linear)
    {
        int bits = mode switch { PagingMode.Level4 => 48, PagingMode.Level5 => 57, _ => 0 };
        if (bits == 0) return true;
        int shift = 64 - bits;
        return (ulong)((long)(linear << shift) >> shift) == linear;
    }
}
