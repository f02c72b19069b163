using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vtx.Memory.Paging;

/// <summary>
/// Everything a page walk depends on besides memory: CR0, CR3, CR4, IA32_EFER, MAXPHYADDR and (PAE
/// paging) the PDPTE registers (SDM Vol. 3A, 4.1.3 "Paging-Mode Modifiers", 4.4.1, 4.5). The
/// constructor derives the paging mode and the masks the walker needs once, so a context is meant
/// to be built when a control register changes and reused for every walk.
/// </summary>
/// <remarks>
/// Only architecturally reachable register values are meaningful: validating MOV to CR0/CR3/CR4 and
/// WRMSR (for example CR3 bits above MAXPHYADDR, PCIDE outside IA-32e mode) is the caller's job. CR4.PKE
/// and CR4.PKS are ignored: protection keys are not modelled (bits 62:59 of IA-32e paging entries are ignored).
/// </remarks>
[StructLayout(LayoutKind.Auto)]
public readonly struct PagingContext
{
    private const ulong Cr0Wp = 1UL << 16;
    private const ulong Cr4Pse = 1UL << 4, Cr4Pge = 1UL << 7, Cr4Pcide = 1UL << 17, Cr4Smep = 1UL << 20, Cr4Smap = 1UL << 21;
    private const ulong EferNxe = 1UL << 11;

    internal const int FlagWp = 1, FlagPse = 2, FlagPge = 4, FlagSmep = 8, FlagSmap = 16, FlagXd = 32, FlagFetchId = 64;

    /// <summary>
    /// Creates a context from raw register values.
    /// </summary>
    /// <param name="cr0">CR0 (PG and WP are used).</param>
    /// <param name="cr3">CR3: the root table address and, with CR4.PCIDE = 1, the PCID (bits 11:0); PWT/PCD otherwise.</param>
    /// <param name="cr4">CR4 (PSE, PAE, PGE, LA57, PCIDE, SMEP and SMAP are used).</param>
    /// <param name="efer">IA32_EFER (LME/LMA and NXE are used).</param>
    /// <param name="maxPhysicalAddressBits">MAXPHYADDR, CPUID.80000008H:EAX[7:0] (32..52); <see cref="CpuModel.PhysicalAddressBits"/>.</param>
    /// <param name="pdptes">The PDPTE registers (used by PAE paging only).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPhysicalAddressBits"/> is outside 32..52.</exception>
    public PagingContext(ulong cr0, ulong cr3, ulong cr4, ulong efer, int maxPhysicalAddressBits = 46, PaePdptes pdptes = default)
    {
        if (maxPhysicalAddressBits is < 32 or > 52)
            throw new ArgumentOutOfRangeException(nameof(maxPhysicalAddressBits), maxPhysicalAddressBits, "MAXPHYADDR must be 32..52");
        Cr0 = cr0;
        Cr3 = cr3;
        Cr4 = cr4;
        Efer = efer;
        MaxPhysicalAddressBits = maxPhysicalAddressBits;
        Pdptes = pdptes;
        Mode = PagingModes.From(cr0, cr4, efer);

        ulong aboveMax = ulong.MaxValue << maxPhysicalAddressBits;
        AddressMask = ~aboveMax & ~0xFFFUL;
        bool nxe = (efer & EferNxe) != 0;
        bool ia32e = Mode is PagingMode.Level4 or PagingMode.Level5;
        // PAE paging: bits 62:M of PDEs and PTEs are reserved; IA-32e paging: bits 51:M (52..62 are
        // ignored or protection keys). Bit 63 is XD with NXE = 1 and reserved otherwise
        // (SDM Vol. 3A, Tables 4-11 and 4-15 to 4-20).
        ulong high = ia32e ? aboveMax & ((1UL << 52) - 1) : aboveMax & ~(1UL << 63);
        ReservedHigh = nxe ? high : high | (1UL << 63);

        // 32-bit paging, 4-MiB PDE: bits (M-20):13 hold physical-address bits (M-1):32 and bits
        // 21:(M-19) are reserved, with M = min(MAXPHYADDR, 40) (SDM Vol. 3A, 4.3, Table 4-4).
        int m = Math.Min(maxPhysicalAddressBits, 40);
        Pse36HighMask = (uint)((1UL << (m - 32)) - 1);
        Pse36Reserved = (uint)(((1UL << 22) - 1) & ~((1UL << (m - 19)) - 1));

        int flags = 0;
        if ((cr0 & Cr0Wp) != 0) flags |= FlagWp;
        if ((cr4 & Cr4Pse) != 0) flags |= FlagPse;
        if ((cr4 & Cr4Pge) != 0) flags |= FlagPge;
        if ((cr4 & Cr4Smep) != 0) flags |= FlagSmep;
        if ((cr4 & Cr4Smap) != 0) flags |= FlagSmap;
        bool xd = nxe && Mode is PagingMode.Pae or PagingMode.Level4 or PagingMode.Level5;
        if (xd) flags |= FlagXd;
        // I/D is reported for fetches when SMEP = 1, or when PAE = 1 and NXE = 1 (SDM Vol. 3A, 4.7).
        if ((cr4 & Cr4Smep) != 0 || ((cr4 & PagingModes.Cr4Pae) != 0 && nxe)) flags |= FlagFetchId;
        Flags = flags;
    }

    /// <summary>CR0 as given.</summary>
    public ulong Cr0 { get; }
    /// <summary>CR3 as given.</summary>
    public ulong Cr3 { get; }
    /// <summary>CR4 as given.</summary>
    public ulong Cr4 { get; }
    /// <summary>IA32_EFER as given.</summary>
    public ulong Efer { get; }
    /// <summary>MAXPHYADDR.</summary>
    public int MaxPhysicalAddressBits { get; }
    /// <summary>The PDPTE registers (PAE paging), SDM Vol. 3A, 4.4.1.</summary>
    public PaePdptes Pdptes { get; }
    /// <summary>The paging mode, SDM Vol. 3A, Table 4-1.</summary>
    public PagingMode Mode { get; }

    /// <summary>Physical-address bits (MAXPHYADDR-1):12 of a paging-structure entry.</summary>
    internal ulong AddressMask { get; }
    /// <summary>High reserved bits of PAE/IA-32e entries, including bit 63 when XD is not enabled.</summary>
    internal ulong ReservedHigh { get; }
    /// <summary>PSE-36: mask of the physical-address bits 39:32 field of a 4-MiB PDE (after shifting right by 13).</summary>
    internal uint Pse36HighMask { get; }
    /// <summary>PSE-36: reserved bits 21:(M-19) of a 4-MiB PDE.</summary>
    internal uint Pse36Reserved { get; }
    /// <summary>Flag* bits.</summary>
    internal int Flags { get; }

    /// <summary>CR0.WP: supervisor-mode writes honour read-only pages (SDM Vol. 3A, 4.6.1).</summary>
    public bool WriteProtect => (Flags & FlagWp) != 0;
    /// <summary>CR4.PSE: 4-MiB pages in 32-bit paging (SDM Vol. 3A, 4.3).</summary>
    public bool PageSizeExtensions => (Flags & FlagPse) != 0;
    /// <summary>CR4.PGE: global pages (SDM Vol. 3A, 4.10.2.4).</summary>
    public bool GlobalPagesEnabled => (Flags & FlagPge) != 0;
    /// <summary>CR4.SMEP (SDM Vol. 3A, 4.6.1).</summary>
    public bool Smep => (Flags & FlagSmep) != 0;
    /// <summary>CR4.SMAP (SDM Vol. 3A, 4.6.1).</summary>
    public bool Smap => (Flags & FlagSmap) != 0;
    /// <summary>IA32_EFER.NXE.</summary>
    public bool Nxe => (Efer & EferNxe) != 0;
    /// <summary>Execute-disable is in effect: NXE = 1 with PAE, 4-level or 5-level paging (32-bit paging has no XD bit), SDM Vol. 3A, 4.6.1.</summary>
    public bool ExecuteDisableEnabled => (Flags & FlagXd) != 0;
    /// <summary>CR4.PCIDE.</summary>
    public bool PcidEnabled => (Cr4 & Cr4Pcide) != 0;

    /// <summary>The current PCID: CR3[11:0] with CR4.PCIDE = 1 and IA-32e paging, 0 otherwise (SDM Vol. 3A, 4.10.1).</summary>
    public ushort Pcid => PcidEnabled && Mode is PagingMode.Level4 or PagingMode.Level5 ? (ushort)(Cr3 & 0xFFF) : (ushort)0;

    /// <summary>CR3.PWT (bit 3) for the first paging-structure access: 32-bit paging, or IA-32e paging with PCIDE = 0 (SDM Vol. 3A, 4.9.2).</summary>
    public bool Cr3Pwt => UsesCr3CacheBits && (Cr3 & 0x8) != 0;
    /// <summary>CR3.PCD (bit 4) for the first paging-structure access: 32-bit paging, or IA-32e paging with PCIDE = 0 (SDM Vol. 3A, 4.9.2).</summary>
    public bool Cr3Pcd => UsesCr3CacheBits && (Cr3 & 0x10) != 0;

    private bool UsesCr3CacheBits => Mode == PagingMode.Legacy32 || (Mode is PagingMode.Level4 or PagingMode.Level5 && !PcidEnabled);

    /// <summary>
    /// Physical address of the first paging structure: the page directory (CR3[31:12]), the PDPT
    /// (CR3[31:5]), or the PML4/PML5 table (CR3[MAXPHYADDR-1:12]); 0 with paging disabled (SDM Vol. 3A, Tables 4-3, 4-7, 4-12).
    /// </summary>
    public ulong RootTableAddress => Mode switch
    {
        PagingMode.Legacy32 => Cr3 & 0xFFFF_F000,
        PagingMode.Pae => Cr3 & 0xFFFF_FFE0,
        PagingMode.Level4 or PagingMode.Level5 => Cr3 & AddressMask,
        _ => 0,
    };

    /// <summary>
    /// The #PF error code for <paramref name="access"/> given the <paramref name="cause"/> bits
    /// (<see cref="PageFaultErrorCode.None"/> for a not-present entry, <see cref="PageFaultErrorCode.Present"/>
    /// for an access-rights violation, Present | Reserved for a reserved bit): adds W/R, U/S and I/D
    /// as SDM Vol. 3A, 4.7 describes. Use it for protection faults found on a TLB hit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageFaultErrorCode FaultErrorCode(PageAccess access, PageFaultErrorCode cause)
    {
        uint e = (uint)cause;
        if (access.Kind == PageAccessKind.Write) e |= (uint)PageFaultErrorCode.Write;
        else if (access.Kind == PageAccessKind.Execute && (Flags & FlagFetchId) != 0) e |= (uint)PageFaultErrorCode.InstructionFetch;
        if (access.IsUser) e |= (uint)PageFaultErrorCode.User;
        return (PageFaultErrorCode)e;
    }

    /// <summary>Returns a copy with other PDPTE registers (after a successful <see cref="PageWalker.LoadPdptes{TMemory}"/>).</summary>
    public PagingContext WithPdptes(PaePdptes pdptes) => new(Cr0, Cr3, Cr4, Efer, MaxPhysicalAddressBits, pdptes);

    /// <inheritdoc/>
    public override string ToString() => $"{Mode} CR0=0x{Cr0:X} CR3=0x{Cr3:X} CR4=0x{Cr4:X} EFER=0x{Efer:X} MAXPHYADDR={MaxPhysicalAddressBits}";
}
