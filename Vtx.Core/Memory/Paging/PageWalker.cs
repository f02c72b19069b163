using System.Runtime.CompilerServices;

namespace Vtx.Memory.Paging;

/// <summary>
/// Linear-to-physical translation by walking the paging structures in memory: 32-bit, PAE,
/// 4-level and 5-level paging with 4-KiB, 2-MiB, 4-MiB and 1-GiB pages, reserved-bit checks,
/// access rights (R/W, U/S, XD, CR0.WP, SMEP, SMAP) and accessed/dirty updates (SDM Vol. 3A,
/// chapter 4). The walker holds no state and allocates nothing; the CPU calls it on a TLB miss.
/// </summary>
/// <remarks>
/// <para>
/// Order of checks, per entry from the root down (SDM Vol. 3A, 4.3, 4.4.2, 4.5, 4.7): P = 0 ends the
/// walk with a not-present fault (no other bit of that entry is examined); otherwise a reserved bit
/// ends it with an RSVD fault (error code P = 1, RSVD = 1); otherwise the entry either maps the page
/// or references the next structure. Once a page is mapped, the combined rights (R/W and U/S ANDed
/// over the levels, XD ORed) are checked against the access (SDM Vol. 3A, 4.6.1).
/// </para>
/// <para>
/// Accessed and dirty flags (SDM Vol. 3A, 4.8: "whenever the processor uses a paging-structure entry
/// as part of linear-address translation, it sets the accessed flag"; the dirty flag is set "whenever
/// there is a write to a linear address"): an entry counts as used once it is present and sets no
/// reserved bit. A is written (only if clear) into each such entry as the walk passes it, before the
/// next level is read, so entries above a not-present or reserved-bit fault keep their A set. The
/// entry mapping the page gets A as well when the access then fails its rights check (there is a
/// valid translation, SDM Vol. 3A, 4.7); D is set on it, together with A and in one write, only for
/// a write the rights allow, because only then does the write happen. An entry that faults is never
/// written. PDPTE registers (PAE paging) have no accessed flag. Flags are written with the entry's
/// width (32 bits in 32-bit paging, else 64) as the value just read with the flag ORed in: one
/// logical processor, so no locked update is needed.
/// </para>
/// </remarks>
public static class PageWalker
{
    private const ulong P = 1, RW = 1 << 1, US = 1 << 2, A = 1 << 5, D = 1 << 6, PS = 1 << 7, G = 1 << 8;
    private const ulong XD = 1UL << 63;

    /// <summary>
    /// Translates <paramref name="linear"/> for <paramref name="access"/> under <paramref name="context"/>,
    /// reading paging structures and writing accessed/dirty flags through <paramref name="memory"/>.
    /// </summary>
    /// <param name="memory">Physical memory holding the paging structures.</param>
    /// <param name="context">Control registers, MAXPHYADDR and PDPTE registers.</param>
    /// <param name="linear">
    /// The linear address. With 4-/5-level paging the caller has already checked it is canonical
    /// (bits 63:48 / 63:57 are not looked at); outside IA-32e paging only bits 31:0 are used; with
    /// paging disabled it is returned unchanged as the physical address (the caller applies the
    /// 32-bit linear-address width).
    /// </param>
    /// <param name="access">The kind and privilege of the access.</param>
    /// <returns>The translation, or the #PF error code and the CR2 value.</returns>
    public static PageWalkResult Walk<TMemory>(TMemory memory, in PagingContext context, ulong linear, PageAccess access)
        where TMemory : IPhysicalMemoryAccess
    {
        switch (context.Mode)
        {
            case PagingMode.Disabled:
                return PageWalkResult.Translation(linear, linear, PageSize.Size4KiB, PageRights.All, global: false, dirty: true, accesses: 0);
            case PagingMode.Legacy32:
                return Walk32(memory, in context, (uint)linear, access);
            default:
                return WalkPae(memory, in context, linear, access);
        }
    }

    /// <summary>
    /// Loads the four PAE PDPTE registers from the 32-byte aligned table at CR3[31:5] (SDM Vol. 3A,
    /// 4.4.1), as MOV to CR0/CR3/CR4 does when PAE paging is (or becomes) active. Returns false,
    /// leaving <paramref name="pdptes"/> as default, when a present PDPTE sets a reserved bit (2:1, 8:5,
    /// 63:MAXPHYADDR): the caller then raises #GP(0) and keeps the old registers and control register.
    /// </summary>
    /// <param name="memory">Physical memory.</param>
    /// <param name="cr3">The (new) CR3 value; bits 31:5 locate the PDPT.</param>
    /// <param name="maxPhysicalAddressBits">MAXPHYADDR (32..52).</param>
    /// <param name="pdptes">The loaded registers.</param>
    public static bool LoadPdptes<TMemory>(TMemory memory, ulong cr3, int maxPhysicalAddressBits, out PaePdptes pdptes)
        where TMemory : IPhysicalMemoryAccess
    {
        ulong table = cr3 & 0xFFFF_FFE0;
        ulong e0 = memory.ReadU64(table), e1 = memory.ReadU64(table + 8), e2 = memory.ReadU64(table + 16), e3 = memory.ReadU64(table + 24);
        if (PaePdptes.HasReservedBits(e0, maxPhysicalAddressBits) || PaePdptes.HasReservedBits(e1, maxPhysicalAddressBits)
            || PaePdptes.HasReservedBits(e2, maxPhysicalAddressBits) || PaePdptes.HasReservedBits(e3, maxPhysicalAddressBits))
        {
            pdptes = default;
            return false;
        }
        pdptes = new PaePdptes(e0, e1, e2, e3);
        return true;
    }

    /// <summary>
    /// Whether combined <paramref name="rights"/> allow <paramref name="access"/> under <paramref name="context"/>
    /// (SDM Vol. 3A, 4.6.1): user-mode accesses need a user page (and R/W = 1 to write); supervisor
    /// writes need R/W = 1 when CR0.WP = 1; with SMAP = 1, supervisor data accesses to user pages
    /// fault unless explicit with RFLAGS.AC = 1; with SMEP = 1, supervisor fetches from user pages
    /// fault; fetches fault from execute-disabled pages. A TLB hit with cached rights uses this too;
    /// on false the error code is <c>context.FaultErrorCode(access, PageFaultErrorCode.Present)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAccessAllowed(in PagingContext context, PageAccess access, PageRights rights)
    {
        bool userPage = (rights & PageRights.User) != 0;
        if (access.IsUser)
        {
            if (!userPage) return false;
            return access.Kind switch
            {
                PageAccessKind.Write => (rights & PageRights.Writable) != 0,
                PageAccessKind.Execute => (rights & PageRights.Executable) != 0,
                _ => true,
            };
        }
        if (access.Kind == PageAccessKind.Execute)
            return (rights & PageRights.Executable) != 0 && !(userPage && context.Smep);
        // Supervisor data access: SMAP first, then CR0.WP for writes.
        if (userPage && context.Smap && (access.IsImplicitSupervisor || !access.AlignmentCheck)) return false;
        return access.Kind != PageAccessKind.Write || (rights & PageRights.Writable) != 0 || !context.WriteProtect;
    }

    // ------------------------------------------------------------------ 32-bit paging (SDM 4.3)

    private static PageWalkResult Walk32<TMemory>(TMemory memory, in PagingContext context, uint linear, PageAccess access)
        where TMemory : IPhysicalMemoryAccess
    {
        ulong pdeAddress = (context.Cr3 & 0xFFFF_F000) | ((ulong)(linear >> 22) << 2);
        uint pde = memory.ReadU32(pdeAddress);
        if ((pde & P) == 0) return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.None), 1);

        if ((pde & PS) != 0 && context.PageSizeExtensions)
        {
            // 4-MiB page, Table 4-4: bits 31:22 and (PSE-36) bits 20:13 give physical-address bits 31:22 and (M-1):32.
            if ((pde & context.Pse36Reserved) != 0)
                return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.Present | PageFaultErrorCode.Reserved), 1);
            ulong pa = (pde & 0xFFC0_0000UL) | ((ulong)((pde >> 13) & context.Pse36HighMask) << 32) | (linear & 0x3F_FFFFU);
            return Leaf(memory, in context, access, linear, pdeAddress, pde, wide: false, pde, 0, pa, PageSize.Size4MiB, 1);
        }

        int accesses = 1;
        if ((pde & A) == 0) { memory.WriteU32(pdeAddress, pde | (uint)A); accesses++; }
        ulong pteAddress = (pde & 0xFFFF_F000UL) | (((ulong)(linear >> 12) & 0x3FF) << 2);
        uint pte = memory.ReadU32(pteAddress);
        accesses++;
        if ((pte & P) == 0) return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.None), accesses);
        // No reserved bits in 32-bit PTEs or in PDEs referencing page tables (SDM Vol. 3A, 4.3).
        ulong pa4k = (pte & 0xFFFF_F000UL) | (linear & 0xFFFU);
        return Leaf(memory, in context, access, linear, pteAddress, pte, wide: false, pde & pte, 0, pa4k, PageSize.Size4KiB, accesses);
    }

    // ------------------------------------------------------------------ PAE, 4-level, 5-level (SDM 4.4, 4.5)

    private static PageWalkResult WalkPae<TMemory>(TMemory memory, in PagingContext context, ulong linear, PageAccess access)
        where TMemory : IPhysicalMemoryAccess
    {
        int level;
        ulong table;
        if (context.Mode == PagingMode.Pae)
        {
            linear = (uint)linear;
            // The PDPTE registers control no access rights and have no accessed flag (SDM Vol. 3A, 4.4.2).
            ulong pdpte = context.Pdptes[(int)(linear >> 30)];
            if ((pdpte & P) == 0) return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.None), 0);
            table = pdpte & context.AddressMask;
            level = 2;
        }
        else
        {
            table = context.Cr3 & context.AddressMask;
            level = context.Mode == PagingMode.Level5 ? 5 : 4;
        }

        ulong reservedHigh = context.ReservedHigh;
        ulong rightsAnd = RW | US, xdOr = 0;
        int accesses = 0;
        while (true)
        {
            int shift = 3 + 9 * level; // 12 + 9 * (level - 1): the lowest linear-address bit this level's index covers
            ulong address = table | (((linear >> shift) & 0x1FF) << 3);
            ulong entry = memory.ReadU64(address);
            accesses++;
            if ((entry & P) == 0) return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.None), accesses);

            ulong reserved = reservedHigh;
            bool mapsPage;
            if (level >= 4) { reserved |= PS; mapsPage = false; }             // PML5E, PML4E: PS is reserved
            else if (level == 1) mapsPage = true;                              // PTE
            else if ((entry & PS) != 0)
            {
                // 1-GiB PDPTE: bits 29:13 reserved; 2-MiB PDE: bits 20:13 reserved (bit 12 is PAT).
                reserved |= ((1UL << shift) - 1) & ~0x1FFFUL;
                mapsPage = true;
            }
            else mapsPage = false;
            if ((entry & reserved) != 0)
                return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.Present | PageFaultErrorCode.Reserved), accesses);

            rightsAnd &= entry;
            xdOr |= entry;
            if (mapsPage)
            {
                ulong offsetMask = (1UL << shift) - 1;
                ulong pa = (entry & context.AddressMask & ~offsetMask) | (linear & offsetMask);
                var size = shift switch { 12 => PageSize.Size4KiB, 21 => PageSize.Size2MiB, _ => PageSize.Size1GiB };
                return Leaf(memory, in context, access, linear, address, entry, wide: true, rightsAnd, xdOr, pa, size, accesses);
            }
            if ((entry & A) == 0) { memory.WriteU64(address, entry | A); accesses++; }
            table = entry & context.AddressMask;
            level--;
        }
    }

    // ------------------------------------------------------------------ the entry that maps the page

    /// <summary>Rights check, A/D update and result for the entry <paramref name="entry"/> at <paramref name="address"/> that maps the page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PageWalkResult Leaf<TMemory>(TMemory memory, in PagingContext context, PageAccess access, ulong linear,
        ulong address, ulong entry, bool wide, ulong rightsAnd, ulong xdOr, ulong physical, PageSize size, int accesses)
        where TMemory : IPhysicalMemoryAccess
    {
        var rights = (PageRights)(((rightsAnd & RW) != 0 ? 1 : 0) | ((rightsAnd & US) != 0 ? 2 : 0)
            | ((xdOr & XD) == 0 || !context.ExecuteDisableEnabled ? 4 : 0));
        // An access the rights deny faults without setting the accessed (or dirty) flag of the entry
        // that maps the page; the entries above it, used to reach it, already have A (SDM Vol. 3A,
        // 4.8: the flags record accesses made, and this one is not made; as silicon behaves).
        if (!IsAccessAllowed(in context, access, rights))
            return PageWalkResult.Fault(linear, context.FaultErrorCode(access, PageFaultErrorCode.Present), accesses);
        ulong set = access.Kind == PageAccessKind.Write ? A | D : A;
        if ((entry & set) != set)
        {
            entry |= set;
            if (wide) memory.WriteU64(address, entry);
            else memory.WriteU32(address, (uint)entry);
            accesses++;
        }
        bool global = (entry & G) != 0 && context.GlobalPagesEnabled;
        return PageWalkResult.Translation(physical, linear, size, rights, global, (entry & D) != 0, accesses);
    }
}
