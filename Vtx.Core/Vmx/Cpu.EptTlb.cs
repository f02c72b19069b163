using System.Runtime.InteropServices;

namespace Vtx;

public sealed partial class Cpu
{
    // Cached guest-physical mappings (SDM Vol. 3C, 28.3.1-28.3.3): translations of guest-physical
    // pages derived from the EPT paging structures, tagged with the EPTRTA (EPTP bits 51:12) they came
    // from. Like a processor's, they outlive VM exits and VM entries, MOV to CR3, INVLPG and INVVPID,
    // and are used again by a later entry with the same EPTRTA, so a VMM that edits its EPT paging
    // structures and resumes without INVEPT may see the guest use the old translation (as hardware
    // may). They go away only where the SDM says cached guest-physical mappings are invalidated:
    // INVEPT (single-context: the descriptor's EPTRTA; all-context: every EPTRTA), an EPT violation
    // (the mappings for its guest-physical address), and processor reset / snapshot restore.
    // Combined (linear) mappings live in the ordinary TLB, which VM entries and exits flush (the SDM
    // permits invalidating more than required).
    //
    // The cache is direct-mapped on the guest-physical page number, so what stays cached is a
    // deterministic function of the access sequence. An entry records the AND of the R/W/X/XU bits of
    // the walk, whether every entry of the walk had its accessed flag set, and the dirty flag of the
    // entry mapping the page: with A/D flags on, a hit needs both (and dirty for a write), so flag
    // updates and PML logging always walk. A hit whose rights deny the access is dropped and the walk
    // repeated (a processor may equally re-walk on such a hit).

    [StructLayout(LayoutKind.Auto)]
    private struct EptTlbEntry
    {
        public bool Valid;
        public bool Accessed, Dirty;
        public ulong Root;     // EPTRTA the mapping was derived from
        public ulong Gpn;      // guest-physical page number
        public ulong HostPage; // host-physical address of the 4-KByte page
        public ulong Rights;   // AND of the entries' bits 2:0 and 10
    }

    private const int EptTlbSize = 64;
    private readonly EptTlbEntry[] _eptTlb = new EptTlbEntry[EptTlbSize];

    /// <summary>
    /// Looks <paramref name="gpa"/> up among the cached guest-physical mappings of the current EPTRTA:
    /// true (with the host-physical address) when a mapping allows the access and needs no A/D update.
    /// </summary>
    private bool EptTlbLookup(ulong gpa, ulong need, bool write, out ulong hpa)
    {
        ulong gpn = gpa >> 12;
        ref EptTlbEntry t = ref _eptTlb[(int)(gpn & (EptTlbSize - 1))];
        if (t.Valid && t.Gpn == gpn && t.Root == _eptRoot)
        {
            if ((t.Rights & need) != 0 && (!_eptAd || (t.Accessed && (!write || t.Dirty))))
            {
                hpa = t.HostPage | (gpa & 0xFFF);
                return true;
            }
            t.Valid = false; // walk again: the walk decides the violation or sets the flags
        }
        hpa = 0;
        return false;
    }

    /// <summary>Caches the translation of the 4-KByte guest-physical page holding <paramref name="gpa"/> for the current EPTRTA.</summary>
    private void EptTlbFill(ulong gpa, ulong hpa, ulong rights, bool accessed, bool dirty)
    {
        ulong gpn = gpa >> 12;
        ref EptTlbEntry t = ref _eptTlb[(int)(gpn & (EptTlbSize - 1))];
        t.Valid = true;
        t.Root = _eptRoot;
        t.Gpn = gpn;
        t.HostPage = hpa & ~0xFFFUL;
        t.Rights = rights & (EptRead | EptWrite | EptExec | EptUserExec);
        t.Accessed = accessed;
        t.Dirty = dirty;
    }

    /// <summary>Drops the cached mapping of <paramref name="gpa"/> for the current EPTRTA (after an EPT violation, SDM Vol. 3C, 28.3.3.1).</summary>
    private void EptTlbInvalidate(ulong gpa)
    {
        ulong gpn = gpa >> 12;
        ref EptTlbEntry t = ref _eptTlb[(int)(gpn & (EptTlbSize - 1))];
        if (t.Valid && t.Gpn == gpn && t.Root == _eptRoot) t.Valid = false;
    }

    /// <summary>
    /// Drops the cached guest-physical mappings derived from EPTRTA <paramref name="root"/>, or all of
    /// them when null (INVEPT single-context / all-context, SDM Vol. 3C, 28.3.3.1, 30.3 INVEPT).
    /// </summary>
    private void FlushEptTlb(ulong? root = null)
    {
        for (int i = 0; i < _eptTlb.Length; i++)
        {
            ref EptTlbEntry t = ref _eptTlb[i];
            if (root is null || t.Root == root.Value) t.Valid = false;
        }
    }

    /// <summary>The number of cached guest-physical mappings (valid entries) derived from EPTRTA <paramref name="eptRoot"/> (diagnostics and tests; SDM Vol. 3C, 28.3.1).</summary>
    public int CachedGuestPhysicalMappings(ulong eptRoot)
    {
        int n = 0;
        ulong root = eptRoot & PhysAddrMask;
        foreach (var t in _eptTlb) if (t.Valid && t.Root == root) n++;
        return n;
    }
}
