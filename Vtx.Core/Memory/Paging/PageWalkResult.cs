using System.Runtime.InteropServices;

namespace Vtx.Memory.Paging;

/// <summary>The size of the page a translation maps; the value is log2 of the size in bytes (SDM Vol. 3A, 4.1.1).</summary>
public enum PageSize : byte
{
    /// <summary>No page (a failed translation).</summary>
    None = 0,
    /// <summary>4 KiB (all paging modes).</summary>
    Size4KiB = 12,
    /// <summary>2 MiB (PAE, 4-level and 5-level paging: a PDE with PS = 1).</summary>
    Size2MiB = 21,
    /// <summary>4 MiB (32-bit paging with CR4.PSE = 1: a PDE with PS = 1).</summary>
    Size4MiB = 22,
    /// <summary>1 GiB (4-level and 5-level paging: a PDPTE with PS = 1).</summary>
    Size1GiB = 30,
}

/// <summary>
/// The access rights of a translation, combined over every paging-structure entry used (SDM Vol. 3A,
/// 4.6.1 and 4.10.2.2): writable when R/W = 1 in all of them, user when U/S = 1 in all of them,
/// executable unless XD = 1 in any of them (XD exists only with IA32_EFER.NXE = 1 outside 32-bit paging).
/// </summary>
[Flags]
public enum PageRights : byte
{
    /// <summary>Read-only, supervisor-mode, execute-disabled.</summary>
    None = 0,
    /// <summary>R/W = 1 at every level.</summary>
    Writable = 1,
    /// <summary>U/S = 1 at every level (a user-mode address).</summary>
    User = 2,
    /// <summary>No level has XD = 1 (or execute-disable is not in effect).</summary>
    Executable = 4,
    /// <summary>All rights (paging disabled).</summary>
    All = Writable | User | Executable,
}

/// <summary>The page-fault (#PF, vector 14) error code bits (SDM Vol. 3A, 4.7, Figure 4-12).</summary>
[Flags]
public enum PageFaultErrorCode : uint
{
    /// <summary>No bit set: a supervisor-mode read of a not-present page.</summary>
    None = 0,
    /// <summary>P (bit 0): 0 when a paging-structure entry was not present, 1 for a protection or reserved-bit violation.</summary>
    Present = 1 << 0,
    /// <summary>W/R (bit 1): the access was a write.</summary>
    Write = 1 << 1,
    /// <summary>U/S (bit 2): the access was a user-mode access.</summary>
    User = 1 << 2,
    /// <summary>RSVD (bit 3): a reserved bit was set in a paging-structure entry.</summary>
    Reserved = 1 << 3,
    /// <summary>I/D (bit 4): an instruction fetch, reported only with CR4.SMEP = 1 or (CR4.PAE = 1 and IA32_EFER.NXE = 1).</summary>
    InstructionFetch = 1 << 4,
    /// <summary>PK (bit 5): protection-key violation (never set by this model).</summary>
    ProtectionKey = 1 << 5,
    /// <summary>SS (bit 6): shadow-stack access (never set by this model).</summary>
    ShadowStack = 1 << 6,
    /// <summary>HLAT (bit 7): HLAT paging (never set by this model).</summary>
    Hlat = 1 << 7,
    /// <summary>SGX (bit 15): SGX access-control violation (never set by this model).</summary>
    Sgx = 1 << 15,
}

/// <summary>
/// The outcome of a page walk: either a translation (physical address, page size, combined rights,
/// global and dirty state) or a page fault (the #PF error code and the linear address for CR2),
/// SDM Vol. 3A, 4.7 and 4.10.2.2.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct PageWalkResult
{
    private const byte FlagSuccess = 1, FlagGlobal = 2, FlagDirty = 4;
    private readonly byte _flags;

    private PageWalkResult(byte flags, ulong physical, ulong linear, PageSize size, PageRights rights, PageFaultErrorCode error, int accesses)
    {
        _flags = flags;
        PhysicalAddress = physical;
        LinearAddress = linear;
        Size = size;
        Rights = rights;
        ErrorCode = error;
        MemoryAccesses = accesses;
    }

    internal static PageWalkResult Translation(ulong physical, ulong linear, PageSize size, PageRights rights, bool global, bool dirty, int accesses) =>
        new((byte)(FlagSuccess | (global ? FlagGlobal : 0) | (dirty ? FlagDirty : 0)), physical, linear, size, rights, PageFaultErrorCode.None, accesses);

    internal static PageWalkResult Fault(ulong linear, PageFaultErrorCode error, int accesses) =>
        new(0, 0, linear, PageSize.None, PageRights.None, error, accesses);

    /// <summary>True when the access may proceed; false when it raises #PF with <see cref="ErrorCode"/>.</summary>
    public bool Success => (_flags & FlagSuccess) != 0;

    /// <summary>The physical address of the accessed byte (0 after a fault).</summary>
    public ulong PhysicalAddress { get; }

    /// <summary>
    /// The linear address translated, as the walker used it (the low 32 bits outside IA-32e paging).
    /// After a fault this is the value to load into CR2 (SDM Vol. 3A, 4.7).
    /// </summary>
    public ulong LinearAddress { get; }

    /// <summary>The size of the page mapped (<see cref="PageSize.None"/> after a fault).</summary>
    public PageSize Size { get; }

    /// <summary>The size of the page mapped in bytes (0 after a fault).</summary>
    public ulong SizeBytes => Size == PageSize.None ? 0 : 1UL << (int)Size;

    /// <summary>The physical address of the start of the page mapped.</summary>
    public ulong PageBase => PhysicalAddress & ~(SizeBytes - 1);

    /// <summary>The rights combined over all levels (for a TLB entry); <see cref="PageRights.None"/> after a fault.</summary>
    public PageRights Rights { get; }

    /// <summary>R/W = 1 at every level.</summary>
    public bool Writable => (Rights & PageRights.Writable) != 0;

    /// <summary>U/S = 1 at every level (a user-mode address).</summary>
    public bool User => (Rights & PageRights.User) != 0;

    /// <summary>Instruction fetches are not execute-disabled.</summary>
    public bool Executable => (Rights & PageRights.Executable) != 0;

    /// <summary>G = 1 in the entry mapping the page and CR4.PGE = 1 (SDM Vol. 3A, 4.10.2.4).</summary>
    public bool Global => (_flags & FlagGlobal) != 0;

    /// <summary>
    /// The dirty flag of the entry mapping the page is 1 after this walk (set by this write, or
    /// already set). A TLB entry filled with Dirty = false must not serve writes: a write must walk
    /// again so the processor sets D (SDM Vol. 3A, 4.8 and 4.10.2.2). True with paging disabled
    /// (there is no dirty flag to set).
    /// </summary>
    public bool Dirty => (_flags & FlagDirty) != 0;

    /// <summary>The #PF error code (meaningful only when <see cref="Success"/> is false).</summary>
    public PageFaultErrorCode ErrorCode { get; }

    /// <summary>Paging-structure reads plus accessed/dirty write-backs this walk made (PDPTE registers not counted).</summary>
    public int MemoryAccesses { get; }

    /// <inheritdoc/>
    public override string ToString() => Success
        ? $"0x{LinearAddress:X} -> 0x{PhysicalAddress:X} ({Size}, {Rights}{(Global ? ", global" : "")}{(Dirty ? ", dirty" : "")})"
        : $"#PF(0x{(uint)ErrorCode:X}) at 0x{LinearAddress:X}";
}
