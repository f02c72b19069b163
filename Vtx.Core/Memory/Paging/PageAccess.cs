namespace Vtx.Memory.Paging;

/// <summary>What an access through a linear address does (SDM Vol. 3A, 4.6).</summary>
public enum PageAccessKind : byte
{
    /// <summary>A data read.</summary>
    Read,
    /// <summary>A data write (including the write half of a read-modify-write).</summary>
    Write,
    /// <summary>An instruction fetch.</summary>
    Execute,
}

/// <summary>
/// One access to translate: its kind and the privilege it is made with (SDM Vol. 3A, 4.6).
/// </summary>
/// <remarks>
/// Accesses at CPL 3 are user-mode accesses, except the implicit supervisor-mode accesses that the
/// processor makes to system data structures whatever the CPL (GDT/LDT descriptor loads, IDT reads
/// on event delivery, TSS accesses); every other access at CPL &lt; 3 is an explicit supervisor-mode
/// access (SDM Vol. 3A, 4.6). RFLAGS.AC only matters for explicit supervisor-mode data accesses
/// with CR4.SMAP = 1 (SDM Vol. 3A, 4.6.1).
/// </remarks>
public readonly struct PageAccess
{
    private readonly byte _flags; // 1 user, 2 implicit supervisor, 4 AC

    /// <summary>Describes an access of <paramref name="kind"/> made at <paramref name="cpl"/>.</summary>
    /// <param name="kind">Read, write or instruction fetch.</param>
    /// <param name="cpl">The current privilege level (0..3); 3 makes a user-mode access unless <paramref name="implicitSupervisor"/>.</param>
    /// <param name="implicitSupervisor">The access is an implicit supervisor-mode access (descriptor tables, IDT, TSS), whatever the CPL.</param>
    /// <param name="alignmentCheck">RFLAGS.AC at the time of the access (used by SMAP only).</param>
    public PageAccess(PageAccessKind kind, int cpl, bool implicitSupervisor = false, bool alignmentCheck = false)
    {
        Kind = kind;
        _flags = (byte)((cpl == 3 && !implicitSupervisor ? 1 : 0) | (implicitSupervisor ? 2 : 0) | (alignmentCheck ? 4 : 0));
    }

    /// <summary>Read, write or instruction fetch.</summary>
    public PageAccessKind Kind { get; }

    /// <summary>True for a user-mode access (CPL 3 and not an implicit supervisor-mode access).</summary>
    public bool IsUser => (_flags & 1) != 0;

    /// <summary>True for an implicit supervisor-mode access (SDM Vol. 3A, 4.6).</summary>
    public bool IsImplicitSupervisor => (_flags & 2) != 0;

    /// <summary>RFLAGS.AC as given.</summary>
    public bool AlignmentCheck => (_flags & 4) != 0;

    /// <summary>A data read at <paramref name="cpl"/>.</summary>
    public static PageAccess Read(int cpl, bool alignmentCheck = false) => new(PageAccessKind.Read, cpl, false, alignmentCheck);

    /// <summary>A data write at <paramref name="cpl"/>.</summary>
    public static PageAccess Write(int cpl, bool alignmentCheck = false) => new(PageAccessKind.Write, cpl, false, alignmentCheck);

    /// <summary>An instruction fetch at <paramref name="cpl"/>.</summary>
    public static PageAccess Execute(int cpl) => new(PageAccessKind.Execute, cpl);

    /// <summary>An implicit supervisor-mode data access (descriptor table, IDT, TSS), SDM Vol. 3A, 4.6.</summary>
    public static PageAccess ImplicitSupervisor(bool write) => new(write ? PageAccessKind.Write : PageAccessKind.Read, 0, implicitSupervisor: true);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Kind} {(IsUser ? "user" : IsImplicitSupervisor ? "implicit-supervisor" : "supervisor")}{(AlignmentCheck ? " AC" : "")}";
}
