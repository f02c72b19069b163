namespace Vtx.Tests.Paging;

/// <summary>
/// A deliberately plain reference model of linear-address translation, written from the SDM
/// (Vol. 3A, chapter 4) independently of <c>PageWalker</c>: each paging mode is a chain of table
/// descriptions (which linear-address bits index it, how wide its entries are, which page size an
/// entry with PS = 1 maps), walked recursively; reserved bits are listed per table as bit ranges
/// copied from the entry-format tables; access rights follow the bullets of 4.6.1 literally; and
/// accessed/dirty flags are collected during the walk and applied at the end: on success A on every
/// entry used and D on the one mapping the page for a write; on a fault A on the entries used to
/// reach the failing point, never on the entry mapping the page when the rights deny the access
/// (SDM Vol. 3A, 4.8: the flags record accesses made).
/// </summary>
internal static class ReferencePaging
{
    /// <summary>The memory the model reads and writes paging-structure entries in (little-endian, 4 or 8 bytes).</summary>
    public interface IModelMemory
    {
        ulong Get(ulong address, int bytes);
        void Set(ulong address, int bytes, ulong value);
    }

    public sealed record Registers(ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer, int MaxPhyAddr)
    {
        public bool PG => Bit(Cr0, 31);
        public bool WP => Bit(Cr0, 16);
        public bool PSE => Bit(Cr4, 4);
        public bool PAE => Bit(Cr4, 5);
        public bool PGE => Bit(Cr4, 7);
        public bool LA57 => Bit(Cr4, 12);
        public bool SMEP => Bit(Cr4, 20);
        public bool SMAP => Bit(Cr4, 21);
        public bool LME => Bit(Efer, 8);
        public bool NXE => Bit(Efer, 11);
    }

    public enum Kind { Read, Write, Fetch }

    public sealed record Access(Kind Kind, int Cpl, bool Implicit, bool Ac)
    {
        public bool UserMode => Cpl == 3 && !Implicit;
    }

    public sealed record Result(bool Ok, ulong Physical, int PageBits, bool Writable, bool User, bool Executable, bool Global, bool Dirty, uint ErrorCode, ulong Cr2);

    /// <summary>One paging structure: its name, the linear-address bits that index it, its entry size, and the page size an entry with PS = 1 maps (0: none).</summary>
    private sealed record Table(string Name, int IndexHigh, int IndexLow, int EntryBytes, int LargePageBits, Table? Next);

    private static bool Bit(ulong v, int n) => ((v >> n) & 1) != 0;

    private static ulong Field(ulong v, int high, int low) => high < low ? 0 : (v >> low) & (high - low == 63 ? ulong.MaxValue : (1UL << (high - low + 1)) - 1);

    /// <summary>Bits <paramref name="high"/>..<paramref name="low"/> set (none when high &lt; low).</summary>
    private static ulong Range(int high, int low) =>
        high < low ? 0 : (high == 63 ? ulong.MaxValue : (1UL << (high + 1)) - 1) & ~((1UL << low) - 1);

    // Paging modes as chains of tables (SDM Vol. 3A, Figures 4-2, 4-5, 4-8, 4-9).
    private static readonly Table PT32 = new("PT", 21, 12, 4, 0, null);
    private static readonly Table PD32 = new("PD", 31, 22, 4, 22, PT32);
    private static readonly Table PTPae = new("PT", 20, 12, 8, 0, null);
    private static readonly Table PDPae = new("PD", 29, 21, 8, 21, PTPae);
    private static readonly Table PT64 = new("PT", 20, 12, 8, 0, null);
    private static readonly Table PD64 = new("PD", 29, 21, 8, 21, PT64);
    private static readonly Table PDPT64 = new("PDPT", 38, 30, 8, 30, PD64);
    private static readonly Table PML4 = new("PML4", 47, 39, 8, 0, PDPT64);
    private static readonly Table PML5 = new("PML5", 56, 48, 8, 0, PML4);

    /// <summary>Reads the four PDPTEs at CR3[31:5]; null when a present one sets a reserved bit (SDM Vol. 3A, 4.4.1, Table 4-8).</summary>
    public static ulong[]? LoadPdptes(IModelMemory mem, ulong cr3, int maxPhyAddr)
    {
        var r = new ulong[4];
        for (int i = 0; i < 4; i++)
        {
            ulong e = mem.Get((Field(cr3, 31, 5) << 5) + (ulong)(8 * i), 8);
            ulong reserved = Range(2, 1) | Range(8, 5) | Range(63, maxPhyAddr);
            if (Bit(e, 0) && (e & reserved) != 0) return null;
            r[i] = e;
        }
        return r;
    }

    private sealed class Walk
    {
        public required IModelMemory Mem;
        public required Registers Regs;
        public required Access Acc;
        public required ulong Linear;
        public required bool Legacy32;
        public required bool Ia32e;
        public readonly List<(ulong Address, int Bytes, ulong Value)> Used = new();
    }

    public static Result Translate(IModelMemory mem, Registers regs, ulong[]? pdptes, ulong linear, Access acc)
    {
        if (!regs.PG)
            return new Result(true, linear, 12, true, true, true, false, true, 0, linear);
        bool legacy = !regs.PAE;
        bool ia32e = regs.PAE && regs.LME;
        if (!ia32e) linear &= 0xFFFF_FFFF;
        var w = new Walk { Mem = mem, Regs = regs, Acc = acc, Linear = linear, Legacy32 = legacy, Ia32e = ia32e };

        if (legacy) return Visit(w, PD32, Field(regs.Cr3, 31, 12) << 12);
        if (!ia32e)
        {
            ulong pdpte = pdptes![Field(linear, 31, 30)];
            if (!Bit(pdpte, 0)) return Fail(w, present: false, reserved: false);
            return Visit(w, PDPae, Field(pdpte, regs.MaxPhyAddr - 1, 12) << 12);
        }
        var root = regs.LA57 ? PML5 : PML4;
        return Visit(w, root, Field(regs.Cr3, regs.MaxPhyAddr - 1, 12) << 12);
    }

    private static Result Visit(Walk w, Table t, ulong tableAddress)
    {
        ulong entryAddress = tableAddress + Field(w.Linear, t.IndexHigh, t.IndexLow) * (ulong)t.EntryBytes;
        ulong e = w.Mem.Get(entryAddress, t.EntryBytes);
        if (!Bit(e, 0)) return Fail(w, present: false, reserved: false);

        bool large = t.LargePageBits != 0 && Bit(e, 7) && (!w.Legacy32 || w.Regs.PSE);
        if ((e & ReservedBits(w, t, large)) != 0) return Fail(w, present: true, reserved: true);
        w.Used.Add((entryAddress, t.EntryBytes, e));

        if (large) return Mapped(w, e, t.LargePageBits);
        if (t.Next is null) return Mapped(w, e, 12);
        ulong next = w.Legacy32 ? Field(e, 31, 12) << 12 : Field(e, w.Regs.MaxPhyAddr - 1, 12) << 12;
        return Visit(w, t.Next, next);
    }

    /// <summary>Reserved bits of an entry of table <paramref name="t"/> (SDM Vol. 3A, Tables 4-4 to 4-6, 4-9 to 4-11, 4-14 to 4-20).</summary>
    private static ulong ReservedBits(Walk w, Table t, bool large)
    {
        int m = w.Regs.MaxPhyAddr;
        if (w.Legacy32)
        {
            // Only the 4-MiB PDE has reserved bits: 21:(M-19) with M = min(MAXPHYADDR, 40).
            int pseM = Math.Min(m, 40);
            return large ? Range(21, pseM - 19) : 0;
        }
        ulong r = w.Ia32e ? Range(51, m) : Range(62, m);
        if (!w.Regs.NXE) r |= Range(63, 63);
        if (t == PML4 || t == PML5) r |= Range(7, 7);
        if (large) r |= Range(t.LargePageBits - 1, 13);
        return r;
    }

    private static Result Mapped(Walk w, ulong leaf, int pageBits)
    {
        bool writable = w.Used.All(u => Bit(u.Value, 1));
        bool user = w.Used.All(u => Bit(u.Value, 2));
        bool xd = !w.Legacy32 && w.Regs.NXE && w.Used.Any(u => Bit(u.Value, 63));

        ulong physical;
        if (w.Legacy32 && pageBits == 22)
        {
            int pseM = Math.Min(w.Regs.MaxPhyAddr, 40);
            physical = (Field(leaf, 31, 22) << 22) | (Field(leaf, 13 + (pseM - 32) - 1, 13) << 32) | Field(w.Linear, 21, 0);
        }
        else
        {
            int top = w.Legacy32 ? 31 : w.Regs.MaxPhyAddr - 1;
            physical = (Field(leaf, top, pageBits) << pageBits) | Field(w.Linear, pageBits - 1, 0);
        }

        if (!RightsAllow(w, writable, user, xd)) return Fail(w, present: true, reserved: false, rightsDenied: true);

        // Success: A on every entry used, D on the entry that maps the page for a write.
        var (leafAddress, leafBytes, _) = w.Used[^1];
        SetAccessed(w);
        bool dirty = Bit(leaf, 6);
        if (w.Acc.Kind == Kind.Write)
        {
            OrInto(w.Mem, leafAddress, leafBytes, 1UL << 6);
            dirty = true;
        }
        bool global = Bit(leaf, 8) && w.Regs.PGE;
        return new Result(true, physical, pageBits, writable, user, !xd, global, dirty, 0, w.Linear);
    }

    /// <summary>SDM Vol. 3A, 4.6.1, "Determination of Access Rights", bullet by bullet.</summary>
    private static bool RightsAllow(Walk w, bool writable, bool userAddress, bool xd)
    {
        var a = w.Acc;
        var r = w.Regs;
        if (!a.UserMode)
        {
            // Supervisor-mode access.
            switch (a.Kind)
            {
                case Kind.Read:
                    if (!userAddress) return true;                      // supervisor-mode address: any
                    if (!r.SMAP) return true;                           // user-mode address, SMAP = 0
                    return a.Ac && !a.Implicit;                         // SMAP = 1: only explicit with AC = 1
                case Kind.Write:
                    if (userAddress && r.SMAP && (!a.Ac || a.Implicit)) return false;
                    return !r.WP || writable;                           // WP = 0: any; WP = 1: R/W = 1
                default:
                    if (userAddress && r.SMEP) return false;            // SMEP = 1: not from user-mode addresses
                    return !xd;                                         // NXE = 1 (not 32-bit paging): XD = 0
            }
        }
        // User-mode access: only user-mode addresses.
        if (!userAddress) return false;
        return a.Kind switch
        {
            Kind.Read => true,
            Kind.Write => writable,
            _ => !xd,
        };
    }

    private static Result Fail(Walk w, bool present, bool reserved, bool rightsDenied = false)
    {
        // Entries used to get here get A; when the rights deny the access, the last one used is the
        // entry mapping the page, which the access never reaches: it keeps its A and D as they were.
        SetAccessed(w, exceptLast: rightsDenied);
        uint code = 0;
        if (present) code |= 1;
        if (w.Acc.Kind == Kind.Write) code |= 2;
        if (w.Acc.UserMode) code |= 4;
        if (reserved) code |= 8;
        bool idReported = w.Regs.SMEP || (w.Regs.PAE && w.Regs.NXE);
        if (w.Acc.Kind == Kind.Fetch && idReported) code |= 16;
        return new Result(false, 0, 0, false, false, false, false, false, code, w.Linear);
    }

    private static void SetAccessed(Walk w, bool exceptLast = false)
    {
        for (int i = 0; i < w.Used.Count - (exceptLast ? 1 : 0); i++)
        {
            var (address, bytes, _) = w.Used[i];
            OrInto(w.Mem, address, bytes, 1UL << 5);
        }
    }

    private static void OrInto(IModelMemory mem, ulong address, int bytes, ulong bits) =>
        mem.Set(address, bytes, mem.Get(address, bytes) | bits);
}
