using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Iced.Intel;

namespace Vtx.Decoding;

/// <summary>
/// The decodings of one guest-physical page in one code size (16, 32 or 64-bit): a slot per byte
/// offset pointing into a dense array of <see cref="DecodedInstruction"/>. An instruction is
/// decoded the first time execution reaches its offset and reused after that; only instructions
/// whose bytes lie entirely inside the page are kept (a page-crossing instruction is decoded at
/// every execution, so that a write to either page is always seen).
/// </summary>
public sealed class DecodedPage
{
    /// <summary>The slot table of a dropped page: nothing decoded. Shared and never written.</summary>
    private static readonly ushort[] NoSlots = new ushort[4096];

    private ushort[] _slot; // 0 = not decoded, else index + 1
    private DecodedInstruction[] _insns;
    private int _count;
    private readonly DecodeCache? _owner; // the cache whose pool the arrays come from and return to

    // Issue 13, the IL tier (Vtx.Core/Execution/Tier): the compiled runs by head index, parallel to _insns.
    // Dropped exactly when the decodings they were built from can change: the page is dropped (Detach), a run
    // is sealed or re-sealed, or the instruction array is replaced (Grow). Never copied by Clone (a restored
    // snapshot compiles again).
    internal object?[]? TierRuns;

    /// <summary>Guest-physical page number (address >> 12).</summary>
    public ulong PageNumber { get; }

    /// <summary>Code size in bits (16, 32 or 64) the page was decoded in.</summary>
    public int Bitness { get; }

    /// <summary>Number of decoded instructions held.</summary>
    public int Count => _count;

    internal DecodedPage(ulong pageNumber, int bitness)
        : this(pageNumber, bitness, new ushort[4096], new DecodedInstruction[16], null)
    {
    }

    internal DecodedPage(ulong pageNumber, int bitness, ushort[] slots, DecodedInstruction[] insns, DecodeCache? owner)
    {
        PageNumber = pageNumber;
        Bitness = bitness;
        _slot = slots;
        _insns = insns;
        _owner = owner;
    }

    /// <summary>
    /// Hands the arrays back to the cache's pool (the page was dropped). The record itself stays valid and
    /// empty: a processor still holding it finds nothing and decodes again through the cache.
    /// </summary>
    internal void Detach(out ushort[]? slots, out DecodedInstruction[]? insns)
    {
        if (ReferenceEquals(_slot, NoSlots)) { slots = null; insns = null; return; }
        slots = _slot;
        insns = _insns;
        _slot = NoSlots;
        _insns = [];
        _count = 0;
        TierRuns = null;
    }

    /// <summary>Capacity of the instruction array (the tier's per-decoding arrays are this long).</summary>
    internal int Capacity => _insns.Length;

    /// <summary>The index of <paramref name="d"/> in this page's decodings, or -1 when it is not one of them (a page-crossing decoding, another page's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int IndexOf(ref DecodedInstruction d)
    {
        nint off = Unsafe.ByteOffset(ref MemoryMarshal.GetArrayDataReference(_insns), ref d);
        if ((nuint)off >= (nuint)((nint)_count * Unsafe.SizeOf<DecodedInstruction>())) return -1;
        return (int)((nuint)off / (nuint)Unsafe.SizeOf<DecodedInstruction>());
    }

    /// <summary>
    /// The decoding at <paramref name="offset"/> or a null reference when none is cached.
    /// Test with <see cref="Unsafe.IsNullRef{T}(ref readonly T)"/>. Allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref DecodedInstruction Lookup(int offset)
    {
        // The slot array has exactly 4096 entries and slots only hold valid indices: no bounds checks needed.
        int s = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slot), offset & 0xFFF);
        if (s == 0) return ref Unsafe.NullRef<DecodedInstruction>();
        return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_insns), s - 1);
    }

    /// <summary>
    /// Marks the <paramref name="count"/> decodings added last as one sequential run — straight-line
    /// code, each instruction followed in memory by the next — and records on each the length,
    /// size and cost of the rest of the run, so the interpreter can execute a run without a lookup
    /// or a limit check per instruction.
    /// </summary>
    public void SealRun(int count)
    {
        if (count <= 0 || count > _count || count > 255) throw new ArgumentOutOfRangeException(nameof(count), count, "not a run of added decodings");
        SealRunAt(_count - count, count);
    }

    /// <summary>
    /// As <see cref="SealRun"/>, for the <paramref name="count"/> decodings from index
    /// <paramref name="first"/> (in the order added): a run split in two (e.g. at a loop head inside it)
    /// is sealed as two runs, the first ending without <see cref="DecodedFlags.Sequential"/>.
    /// </summary>
    public void SealRunAt(int first, int count)
    {
        if (count <= 0 || first < 0 || first + count > _count || count > 255) throw new ArgumentOutOfRangeException(nameof(count), count, "not a run of added decodings");
        int end = first + count;
        TierRuns = null; // runs change: compiled runs of this page are dropped (decode misses only, rare once hot)
        uint cycles = 0;
        int bytes = 0;
        for (int i = end - 1; i >= first; i--)
        {
            ref DecodedInstruction d = ref _insns[i];
            cycles += d.Cost;
            bytes += d.Length;
            d.RunLength = (byte)(end - i);
            d.RunBytes = (ushort)bytes;
            d.RunCycles = cycles;
            if (i < end - 1) d.Flags |= DecodedFlags.Sequential;
            else d.Flags &= ~DecodedFlags.Sequential;
        }
    }

    /// <summary>
    /// The <paramref name="count"/> decodings added last, in order (the run about to be sealed), so
    /// that a timing model can set their costs before <see cref="SealRun"/> sums them.
    /// </summary>
    public Span<DecodedInstruction> Recent(int count)
    {
        if (count < 0 || count > _count) throw new ArgumentOutOfRangeException(nameof(count), count, "more than the decodings added");
        return _insns.AsSpan(_count - count, count);
    }

    /// <summary>A deep copy (for snapshots: run boundaries, and so block-simulated costs, depend on the order code was first reached).</summary>
    internal DecodedPage Clone(DecodeCache? owner)
    {
        var insns = new DecodedInstruction[Math.Max(_count, 1)];
        _insns.AsSpan(0, _count).CopyTo(insns);
        var c = new DecodedPage(PageNumber, Bitness, (ushort[])_slot.Clone(), insns, owner) { _count = _count };
        return c;
    }

    /// <summary>Stores a decoding for <paramref name="offset"/> and returns a reference to the stored copy.</summary>
    public ref DecodedInstruction Add(int offset, DecodedInstruction d)
    {
        if (_count == _insns.Length) Grow();
        _insns[_count] = d;
        _slot[offset & 0xFFF] = (ushort)(_count + 1);
        return ref _insns[_count++];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow()
    {
        if (ReferenceEquals(_slot, NoSlots))
        {
            // Added to after it was dropped (its own page was written while it was being decoded): it gets
            // arrays of its own, never the shared empty table.
            _slot = new ushort[4096];
            _insns = new DecodedInstruction[16];
            return;
        }
        DecodedInstruction[] old = _insns;
        DecodedInstruction[] bigger = _owner?.RentInstructions(Math.Max(16, old.Length * 2)) ?? new DecodedInstruction[Math.Max(16, old.Length * 2)];
        old.AsSpan(0, _count).CopyTo(bigger);
        _insns = bigger;
        TierRuns = null;
        _owner?.ReturnInstructions(old);
    }
}

/// <summary>
/// Decoded instructions cached per guest-physical page, the only user of Iced's decoder.
/// Self-modifying code stays correct because the memory system calls
/// <see cref="InvalidatePage"/> on the first write to a page that holds decodings.
/// </summary>
public sealed class DecodeCache
{
    private readonly Dictionary<ulong, DecodedPage> _pages = new();
    private readonly BoundedReader _reader = new();
    private readonly Decoder[] _decoders = new Decoder[3];
    private Instruction _last;

    /// <summary>A code reader over at most 15 bytes whose length can change between decodes (Iced's own reader's cannot).</summary>
    private sealed class BoundedReader : CodeReader
    {
        public readonly byte[] Buffer = new byte[16];
        public int Position;
        public int Length;
        public override int ReadByte() => Position < Length ? Buffer[Position++] : -1;
    }

    /// <summary>Creates an empty cache.</summary>
    public DecodeCache()
    {
        _decoders[0] = Decoder.Create(16, _reader);
        _decoders[1] = Decoder.Create(32, _reader);
        _decoders[2] = Decoder.Create(64, _reader);
    }

    /// <summary>Iced's decoding of the instruction <see cref="Decode"/> returned last (register usage for timing models).</summary>
    public ref readonly Instruction LastInstruction => ref _last;

    /// <summary>Number of pages that currently hold decodings.</summary>
    public int PageCount => _pages.Count;

    /// <summary>Total number of invalidated pages since creation (a statistic for tests and tools).</summary>
    public long Invalidations { get; private set; }

    private static ulong Key(ulong pageNumber, int bitness) => (pageNumber << 2) | (uint)(bitness >> 5);

    /// <summary>The page record for <paramref name="pageNumber"/> in <paramref name="bitness"/>, created on first use.</summary>
    public DecodedPage GetOrCreatePage(ulong pageNumber, int bitness)
    {
        ulong key = Key(pageNumber, bitness);
        if (!_pages.TryGetValue(key, out var page))
        {
            // Sized from the page: as many entries as it held when it was last dropped (code rewritten
            // in place is decoded to about the same count again), else one run's worth; arrays of dropped
            // pages are reused.
            int hint = _sizeHints.GetValueOrDefault(key, InitialCapacity);
            page = new DecodedPage(pageNumber, bitness, RentSlots(), RentInstructions(hint), this);
            _pages.Add(key, page);
        }
        return page;
    }

    /// <summary>True when any decoding of <paramref name="pageNumber"/> is cached.</summary>
    public bool Contains(ulong pageNumber) =>
        _pages.ContainsKey(Key(pageNumber, 16)) || _pages.ContainsKey(Key(pageNumber, 32)) || _pages.ContainsKey(Key(pageNumber, 64));

    /// <summary>Drops every decoding of <paramref name="pageNumber"/> (all code sizes).</summary>
    public void InvalidatePage(ulong pageNumber)
    {
        bool any = Drop(Key(pageNumber, 16));
        any |= Drop(Key(pageNumber, 32));
        any |= Drop(Key(pageNumber, 64));
        if (any) Invalidations++;
    }

    private bool Drop(ulong key)
    {
        if (!_pages.Remove(key, out DecodedPage? page)) return false;
        if (page.Count > 0) _sizeHints[key] = page.Count;
        Recycle(page);
        return true;
    }

    private void Recycle(DecodedPage page)
    {
        page.Detach(out ushort[]? slots, out DecodedInstruction[]? insns);
        if (slots is not null) ReturnSlots(slots);
        if (insns is not null) ReturnInstructions(insns);
    }

    /// <summary>
    /// A copy of every cached decoding. Costs from a block timing model depend on where each
    /// sequential run began, i.e. on the order code was first reached: a snapshot keeps the decodings
    /// so that a restored machine continues with the same runs and the same cycles.
    /// </summary>
    public object Capture()
    {
        var copy = new Dictionary<ulong, DecodedPage>(_pages.Count);
        foreach (var (k, v) in _pages) copy.Add(k, v.Clone(null));
        return copy;
    }

    /// <summary>Replaces every cached decoding with a copy of <paramref name="image"/> (from <see cref="Capture"/>); returns the page numbers now cached.</summary>
    public IEnumerable<ulong> Restore(object image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var copy = (Dictionary<ulong, DecodedPage>)image;
        Clear();
        foreach (var (k, v) in copy) _pages.Add(k, v.Clone(this));
        var numbers = new List<ulong>(copy.Count);
        foreach (var v in copy.Values) numbers.Add(v.PageNumber);
        return numbers;
    }

    /// <summary>Drops every decoding (e.g. when the cost model changes).</summary>
    public void Clear()
    {
        Invalidations += _pages.Count;
        foreach (DecodedPage page in _pages.Values) Recycle(page);
        _pages.Clear();
    }

    // ------------------------------------------------------------------ the pool of dropped pages' arrays
    // Code that is rewritten (self-modifying code, a loader reusing memory, the host writing code, snapshot
    // restores) drops page records and decodes the same pages again: their arrays are kept and reused, up to
    // PoolBytes, so that decoding again allocates nothing. Instruction arrays are kept by power-of-two class.

    private const int InitialCapacity = 64;           // one sequential run of the longest kind
    private const long PoolBytes = 8L << 20;
    private const int Classes = 13;                   // capacities 1 .. 4096 (a page holds at most 4096)
    private readonly Stack<ushort[]> _freeSlots = new();
    private readonly Stack<DecodedInstruction[]>[] _freeInsns = NewClasses();
    private readonly Dictionary<ulong, int> _sizeHints = new();
    private long _pooled;

    private static Stack<DecodedInstruction[]>[] NewClasses()
    {
        var c = new Stack<DecodedInstruction[]>[Classes];
        for (int i = 0; i < c.Length; i++) c[i] = new Stack<DecodedInstruction[]>();
        return c;
    }

    private static int InsnBytes(int length) => length * Unsafe.SizeOf<DecodedInstruction>();

    private ushort[] RentSlots()
    {
        if (_freeSlots.TryPop(out ushort[]? s))
        {
            _pooled -= s.Length * sizeof(ushort);
            return s; // cleared when returned
        }
        return new ushort[4096];
    }

    private void ReturnSlots(ushort[] s)
    {
        if (_pooled + s.Length * sizeof(ushort) > PoolBytes) return;
        Array.Clear(s);
        _freeSlots.Push(s);
        _pooled += s.Length * sizeof(ushort);
    }

    /// <summary>An instruction array of at least <paramref name="capacity"/> entries: a pooled one of the smallest class that fits, or a new one of that class.</summary>
    internal DecodedInstruction[] RentInstructions(int capacity)
    {
        if (capacity > 1 << (Classes - 1)) return new DecodedInstruction[capacity];
        int c = capacity <= 1 ? 0 : BitOperations.Log2((uint)capacity - 1) + 1;
        for (int k = c; k < Classes; k++)
        {
            if (_freeInsns[k].TryPop(out DecodedInstruction[]? a))
            {
                _pooled -= InsnBytes(a.Length);
                return a;
            }
        }
        return new DecodedInstruction[1 << c];
    }

    internal void ReturnInstructions(DecodedInstruction[] a)
    {
        if (a.Length == 0 || _pooled + InsnBytes(a.Length) > PoolBytes) return;
        // By the largest class it covers entirely (a trimmed snapshot copy has any length).
        int c = Math.Min(BitOperations.Log2((uint)a.Length), Classes - 1);
        _freeInsns[c].Push(a);
        _pooled += InsnBytes(a.Length);
    }

    /// <summary>
    /// Decodes one instruction from <paramref name="bytes"/> (up to 15 bytes available from the
    /// instruction's first byte) in a mode of <paramref name="bitness"/> bits.
    /// <paramref name="needMoreBytes"/> is set when the bytes ended before the instruction did.
    /// </summary>
    public DecodedInstruction Decode(ReadOnlySpan<byte> bytes, int bitness, out bool needMoreBytes)
    {
        if (bitness is not (16 or 32 or 64)) throw new ArgumentOutOfRangeException(nameof(bitness), bitness, "code size must be 16, 32 or 64");
        int n = Math.Min(bytes.Length, 15);
        bytes[..n].CopyTo(_reader.Buffer);
        _reader.Position = 0;
        // The reader ends where the available bytes end, so Iced reports NoMoreBytes at a page end.
        _reader.Length = n;
        Decoder dec = _decoders[bitness >> 5];
        dec.IP = 0x1000;
        dec.Decode(out _last);
        needMoreBytes = dec.LastError == DecoderError.NoMoreBytes;
        if (_last.Code == Code.Pause && bitness == 64 && _last.Length >= 3 && (bytes[_last.Length - 2] & 0xF1) == 0x41)
            return DecodeXchgR8(bytes[.._last.Length]);
        DecodedInstruction d = InstructionTranslator.Translate(in _last, bitness);
        if (d.Op == Op.Ext) d.Imm |= X87Opcode(bytes[..n], bitness);
        return d;
    }

    /// <summary>
    /// <c>F3 REX.B 90</c>: with REX.B the opcode 90 names R8 (XCHG r8, rAX, SDM Vol. 2B XCHG "90+rd" and Vol. 2A,
    /// 2.2.1.2), so F3h is an ignored prefix there, not PAUSE (which is F3 90 without REX.B); Iced decodes PAUSE. The
    /// instruction is decoded again without its F3h bytes (all of them are prefixes) and keeps its full length.
    /// Found by the prefix-combination differential test (<c>F3 49 90</c>: the host exchanged R8 and RAX).
    /// </summary>
    private DecodedInstruction DecodeXchgR8(ReadOnlySpan<byte> b)
    {
        int m = 0;
        for (int i = 0; i < b.Length; i++)
            if (i == b.Length - 1 || b[i] != 0xF3) _reader.Buffer[m++] = b[i];
        _reader.Position = 0;
        _reader.Length = m;
        Decoder dec = _decoders[2];
        dec.IP = 0x1000;
        dec.Decode(out _last); // the timing model sees the XCHG too
        DecodedInstruction d = InstructionTranslator.Translate(in _last, 64);
        d.Length = (byte)b.Length;
        return d;
    }

    /// <summary>
    /// The 11-bit x87 opcode (FOP) of an escape instruction (D8-DF): the low 3 bits of the first
    /// opcode byte after all prefixes and the ModR/M byte (SDM Vol. 1, 8.1.9, Figure 8-8); 0 for
    /// anything else. x87 instructions carry no immediate, so FOP travels in
    /// <see cref="DecodedInstruction.Imm"/>.
    /// </summary>
    private static ulong X87Opcode(ReadOnlySpan<byte> b, int bitness)
    {
        int i = 0;
        while (i < b.Length && b[i] is 0x66 or 0x67 or 0xF0 or 0xF2 or 0xF3 or 0x2E or 0x36 or 0x3E or 0x26 or 0x64 or 0x65) i++;
        if (bitness == 64) while (i < b.Length && (b[i] & 0xF0) == 0x40) i++;
        if (i + 1 >= b.Length || (b[i] & 0xF8) != 0xD8) return 0;
        return (ulong)(((b[i] & 7) << 8) | b[i + 1]);
    }
}
