using System.Runtime.CompilerServices;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Memory.Paging;
using Vtx.Timing;

namespace Vtx;

// Issue 10, "beyond the core": costs the block simulation cannot know at decode time, charged where they
// happen, from CpuModel.Timing's data: page walks on data-TLB misses (TlbTimingModel), REP string throughput
// by size and alignment, CPUID by leaf class, MOV to CR3, uncached MMIO, and the optional cache model
// (CpuModel.CacheTiming). Extra cycles inside an instruction end the sequential run at that boundary
// (SignalEvent), so limits and events see them, as the data-dependent divide does — unless the rest of the run
// still fits every limit and deadline with them (issue 13, ChargedChangesNothing).
public sealed partial class Cpu
{
    // Host wiring (references: snapshots leave them alone).
    private TlbTimingModel? _tlbTiming;
    private CacheTimingModel? _cacheModel;
    private Action<ulong, int>? _tlbDropped;
    // Model state (value arrays and fields: snapshots copy them, so a restored machine continues with the
    // same TLB and cache contents and the same cycles).
    private ulong[] _tlbTimingState = [];
    private ulong[] _cacheState = [];
    private ushort _tlbVpid;          // the VPID that tags translations now (0 in root operation and without VPIDs)
    private int _lastWalkRefs, _lastWalkShift;
    // Issue 13: no entry tagged VPID 0000h can be in the model (set by a flush of them, cleared by an insertion
    // under VPID 0), so the flush of every VM entry and exit without VPIDs is skipped when it would drop nothing.
    private bool _tlbTimingVpid0Clean;
    private bool _cacheTiming;        // CpuModel.CacheTiming with a profile that has cache data

    // REP strings (core profiles): the instruction running now, and the one interrupted at a boundary.
    private bool _repTimed;
    private RepStringKind _repKind;
    private int _repSize;
    private long _repTotal, _repCharged;
    private bool _repAligned;
    private ulong _repRip = ulong.MaxValue, _repLeft, _repAt;

    /// <summary>Sets up the models of <see cref="CpuModel.Timing"/> (constructor).</summary>
    private void InitBeyondTheCore()
    {
        _tlbTiming = TlbTimingModel.For(_timing);
        if (_tlbTiming is not null)
        {
            _tlbTimingState = new ulong[_tlbTiming.StateLength];
            _tlbDropped = DropSoftwareTlb;
        }
        _cacheTiming = Model.CacheTiming && _timing.HasCacheModel;
        if (_cacheTiming)
        {
            _cacheModel = CacheTimingModel.For(_timing);
            _cacheState = new ulong[_cacheModel.StateLength];
        }
    }

    /// <summary>Adds cycles found inside an instruction and ends the sequential run at its boundary.</summary>
    private void ChargeExtra(int cycles)
    {
        if (cycles <= 0) return;
        _cycles += (ulong)cycles;
        _signal |= SignalEvent;
    }

    /// <summary>
    /// Issue 13: the charge of a data-TLB miss or of the cache model (timing only, no other effect): ends the sequential run
    /// at its boundary only when the rest of the run, with the extra cycles counted, might no longer fit the limits and
    /// deadlines it was admitted against. (CPUID, MOV to CR3 and device accesses keep <see cref="ChargeExtra"/>: a device
    /// read may change what is pending.)
    /// </summary>
    private void ChargeMemoryExtra(int cycles)
    {
        if (cycles <= 0) return;
        _cycles += (ulong)cycles;
        if (ChargedChangesNothing()) return;
        _signal |= SignalEvent;
    }

    /// <summary>
    /// Test hook (issue 13): when set, every charge ends the run, as before the change below; the differential tests run
    /// programs both ways and compare every boundary.
    /// </summary>
    internal bool ChargesEndRuns;

    /// <summary>
    /// Issue 13: whether the run may go on after extra cycles were charged inside the current instruction. The run
    /// loop admits a sequential run (executes it without looking at limits or events between its instructions) when
    /// the cycles at its start plus the cycles of its instructions stay within the cycle limit and, when something is
    /// pending, the next event deadline; it retires every instruction's cost as it completes, so <see cref="_cycles"/>
    /// is current here and the instruction's <c>RunCycles</c> is what the rest of the run (this instruction included)
    /// will add. If that still fits the limit and every deadline, each boundary left in the run lies before them, and
    /// ending the run would only make the loop find nothing and admit the rest: same boundaries, cycles and events.
    /// Otherwise (and whenever the current instruction cannot be identified: executed outside a cached page, its page
    /// dropped, VMX non-root stepping with its per-instruction bookkeeping) the run ends at this boundary as before.
    /// In the stepping loop (one instruction per step) ending or not ending the step leaves the same bookkeeping.
    /// </summary>
    private bool ChargedChangesNothing()
    {
        if (ChargesEndRuns || _vmxStep) return false;
        ulong lin = _rip + _csBase;
        if ((lin & ~0xFFFUL) != _fetchLin) return false;
        ref DecodedInstruction d = ref _fetchPage.Lookup((int)lin & 0xFFF);
        if (Unsafe.IsNullRef(ref d)) return false;
        // The admission looked at NextDeadline only when something was pending; looking at it always is stricter.
        ulong limit = Math.Min(_cycleBoundary, NextDeadline);
        return _cycles <= limit && d.RunCycles <= limit - _cycles;
    }

    // ------------------------------------------------------------------ page walks (data TLB)

    /// <summary>
    /// <see cref="Translate"/> with a TLB model: the walk as usual, then the model decides what the access cost
    /// (nothing, an STLB hit, or a walk of as many references as this one read; with EPT the two-dimensional walk,
    /// (n + 1)(m + 1) − 1 references for n guest levels and m = 4 EPT levels). Data accesses only (the ITLB is not modelled).
    /// </summary>
    private bool TranslateTimed(ulong lin, Access access, PageAccess acc, out ulong pa)
    {
        bool ok;
        int refs;
        _lastWalkRefs = 0;
        _lastWalkShift = 12; // EPT without guest paging: the linear address is the guest-physical address
        if (_eptOn)
        {
            ok = TranslateEpt(lin, access, acc, out pa);
            int n = (_cr0 & Cr0.PG) == 0 ? 0 : WalkReads(ok);
            refs = (n + 1) * (4 + 1) - 1;
        }
        else
        {
            var r = PageWalker.Walk(new PhysicalMemoryAccess(_mem), in _paging, lin, acc);
            pa = r.PhysicalAddress;
            ok = TakeWalk(in r, lin);
            refs = WalkReads(ok);
        }
        ulong ctx = _paging.Pcid | ((ulong)_tlbVpid << (int)TlbTimingModel.VpidShift) | (_eptOn ? TlbTimingModel.CombinedBit : 0);
        int shift = ok ? (_lastWalkShift == (int)PageSize.Size4MiB ? 22 : _lastWalkShift) : 0;
        if (_tlbVpid == 0) _tlbTimingVpid0Clean = false; // issue 13: the access may insert a VPID-0 entry
        var o = _tlbTiming!.Access(_tlbTimingState, lin, ctx, shift, ok && _lastGlobal && (_cr0 & Cr0.PG) != 0, out ulong page, out int evicted);
        if (evicted != 0) DropSoftwareTlb(page, evicted);
        ChargeMemoryExtra(o switch
        {
            TlbTimingModel.Outcome.L1Hit => 0,
            TlbTimingModel.Outcome.StlbHit => _tlbTiming.StlbHitCycles,
            _ => _tlbTiming.WalkPenalty(Math.Max(1, refs)),
        });
        return ok;
    }

    /// <summary>
    /// Paging-structure entries the guest walk read: one per level down to the page's size (4-level: 4 for a 4-KByte
    /// page, 3 for 2 MBytes, 2 for 1 GByte; 5-level one more; PAE 2 or 1, its PDPTEs being registers; 32-bit 2 or 1).
    /// A/D write-backs are not counted. A failed walk counts what it touched, at most the full depth.
    /// </summary>
    private int WalkReads(bool ok)
    {
        int depth = _paging.Mode switch
        {
            PagingMode.Level5 => 5,
            PagingMode.Level4 => 4,
            PagingMode.Pae or PagingMode.Legacy32 => 2,
            _ => 0,
        };
        if (!ok) return Math.Min(_lastWalkRefs, depth);
        int below = _lastWalkShift switch { 30 => 2, 21 or 22 => 1, _ => 0 };
        return Math.Max(1, depth - below);
    }

    /// <summary>
    /// The timing model dropped a first-level translation (page number at 2^<paramref name="shift"/>): the
    /// software TLB drops every 4-KByte entry inside it, so that it stays a subset of the model.
    /// </summary>
    private void DropSoftwareTlb(ulong page, int shift)
    {
        ulong first = (page << (shift - 12)) & TlbVpnMask, count = 1UL << (shift - 12); // compared on bits 45:0, as the tags are masked (issue 13: higher-half pages)
        if (count == 1)
        {
            int i = (int)(first & (TlbSize - 1));
            if ((_tlb[i].Tag & TlbVpnMask) == first) _tlb[i].Tag = NoTag;
            if ((_tlb[TlbSize + i].Tag & TlbVpnMask) == first) _tlb[TlbSize + i].Tag = NoTag;
            return;
        }
        for (int i = 0; i < _tlb.Length; i++)
        {
            ulong t = _tlb[i].Tag;
            if (t != NoTag && (t & TlbVpnMask) - first < count) _tlb[i].Tag = NoTag;
        }
    }

    /// <summary>MOV to CR0/CR4 changing paging bits, RESET, host CR3 loads: every modelled translation goes.</summary>
    private void TimingTlbFlushAll()
    {
        if (_tlbTiming is not null) TlbTimingModel.FlushAll(_tlbTimingState);
    }

    /// <summary>MOV to CR3 and INVPCID types 1/3: the non-global translations of the current VPID (one PCID, or all with -1). The software TLB drops at least as much.</summary>
    private void TimingTlbFlushNonGlobal(int pcid) => _tlbTiming?.FlushNonGlobal(_tlbTimingState, _tlbVpid, pcid, null);

    /// <summary>INVLPG, INVPCID type 0, INVVPID type 0: the translations covering <paramref name="lin"/> (large pages drop their 4-KByte pieces from the software TLB).</summary>
    private void TimingTlbInvalidatePage(ulong lin, ushort? vpid = null) => _tlbTiming?.InvalidatePage(_tlbTimingState, lin, vpid ?? _tlbVpid, _tlbDropped);

    /// <summary>INVVPID types 1-3 (SDM Vol. 3C, 30.3 INVVPID).</summary>
    private void TimingTlbInvvpid(ulong type, ushort vpid)
    {
        if (_tlbTiming is null) return;
        if (type == 2) _tlbTiming.FlushNonZeroVpids(_tlbTimingState, null);
        else _tlbTiming.FlushVpid(_tlbTimingState, vpid, keepGlobal: type == 3, null);
    }

    /// <summary>INVEPT (every VPID) or EPTP switching (the current one): combined mappings go (the model does not tag them with the EPTP).</summary>
    private void TimingTlbFlushCombined(bool anyVpid) => _tlbTiming?.FlushCombined(_tlbTimingState, _tlbVpid, anyVpid, null);

    /// <summary>
    /// A VM entry (<paramref name="entry"/>, to <paramref name="guestVpid"/>, 0 without "enable VPID") or a VM exit: without
    /// VPIDs the transition invalidates the mappings tagged 0000h (SDM Vol. 3C, 28.3.3.3); with them nothing goes.
    /// </summary>
    private void TimingTlbVmTransition(bool entry, ushort guestVpid)
    {
        ushort flushed = entry ? guestVpid : _tlbVpid;
        _tlbVpid = entry ? guestVpid : (ushort)0;
        if (_tlbTiming is not null && flushed == 0 && !_tlbTimingVpid0Clean)
        {
            _tlbTiming.FlushVpid(_tlbTimingState, 0, keepGlobal: false, null);
            _tlbTimingVpid0Clean = true;
        }
    }

    // ------------------------------------------------------------------ REP strings

    /// <summary>
    /// Start of a REP string instruction's execution: with a core profile its iterations are charged by the
    /// profile's throughput rule (<see cref="TimingProfile.RepStringCyclesAfter"/>) for the whole count, path and
    /// alignment (source and destination 64-byte aligned) chosen at the start. An instruction continued after a
    /// run boundary with nothing in between (same RIP, rCX, cycles) continues its charges; after anything else
    /// (an event, another instruction) it starts again, start-up included, as hardware restarts it.
    /// </summary>
    private void RepBegin(RepStringKind kind, int size, int asz, ulong dstOffset, int srcSeg, ulong srcOffset, bool hasSource)
    {
        if (_blockTiming is null) { _repTimed = false; return; }
        ulong mask = Sz.Mask(asz);
        ulong left = _gpr[1] & mask;
        if (!(_repRip == _rip && _repLeft == left && _repAt == _cycles && _repKind == kind && _repSize == size))
        {
            _repKind = kind;
            _repSize = size;
            _repTotal = left > long.MaxValue ? long.MaxValue : (long)left;
            _repCharged = 0;
            ulong dst = _segBase[0] + (dstOffset & mask), src = _segBase[srcSeg] + (srcOffset & mask);
            _repAligned = (dst & 63) == 0 && (!hasSource || (src & 63) == 0);
        }
        _repRip = ulong.MaxValue;
        _repTimed = true;
    }

    /// <summary>Cycles of the iteration that leaves <paramref name="leftAfter"/> elements (the profile's cumulative rule, differenced).</summary>
    private ulong RepIterationCycles(ulong leftAfter)
    {
        long done = _repTotal - (leftAfter > long.MaxValue ? long.MaxValue : (long)leftAfter);
        long t = _timing.RepStringCyclesAfter(_repKind, _repSize, _repTotal, Math.Max(done, 1), _repAligned);
        long c = Math.Max(0, t - _repCharged);
        _repCharged = Math.Max(t, _repCharged);
        return (ulong)c;
    }

    /// <summary>A timed REP yields at a boundary with <paramref name="left"/> elements to go; <paramref name="cyclesAfter"/> is the cycle count the step ends at.</summary>
    private void RepYield(ulong left, ulong cyclesAfter)
    {
        _repRip = _rip;
        _repLeft = left;
        _repAt = cyclesAfter;
        _repTimed = false;
    }

    // ------------------------------------------------------------------ CPUID, MOV to CR3, uncached MMIO

    /// <summary>CPUID's leaf class beyond the basic-leaf cost the block simulation charged (SystemCost.Cpuid*).</summary>
    private void CpuidTiming(uint leaf)
    {
        if (_blockTiming is null) return;
        SystemCost c = leaf >= 0x8000_0000 ? SystemCost.CpuidExtended
            : leaf is 2 or 4 or 0xB or 0x18 or 0x1F ? SystemCost.CpuidCacheTopology : SystemCost.CpuidBasic;
        ChargeExtra(_timing.System(c) - _timing.System(SystemCost.CpuidBasic));
    }

    /// <summary>MOV to CR3 that flushes: the profile's figure beyond what the block charged for MOV to CR.</summary>
    private void MovToCr3Timing()
    {
        if (_blockTiming is null) return;
        ChargeExtra(_timing.System(SystemCost.MovToCr3) - _timing.Get(Iced.Intel.Code.Mov_cr_r64, false).Latency);
    }

    /// <summary>
    /// An access that reached an uncached device (MMIO region or the xAPIC page): a load costs the profile's
    /// UC read beyond the L1 hit the block assumed, a store the UC write figure.
    /// </summary>
    private void UncachedTiming(bool write)
    {
        if (_blockTiming is null) return;
        ChargeExtra(write ? _timing.System(SystemCost.MmioUncachedWrite) : _timing.System(SystemCost.MmioUncachedRead) - _timing.L1LoadLatency);
    }

    // ------------------------------------------------------------------ optional cache model

    /// <summary>A load of RAM at <paramref name="pa"/> with the cache model on: the latency beyond an L1 hit.</summary>
    private void CacheTimingLoad(ulong pa, int size)
    {
        int extra = _cacheModel!.Access(_cacheState, pa, write: false);
        ulong end = pa + (ulong)size - 1;
        if ((end >> 6) != (pa >> 6)) extra = Math.Max(extra, _cacheModel.Access(_cacheState, end, write: false));
        ChargeMemoryExtra(extra);
    }

    /// <summary>A store to RAM with the cache model on: the line is allocated; the store buffer hides the latency.</summary>
    private void CacheTimingStore(ulong pa, int size)
    {
        _cacheModel!.Access(_cacheState, pa, write: true);
        ulong end = pa + (ulong)size - 1;
        if ((end >> 6) != (pa >> 6)) _cacheModel.Access(_cacheState, end, write: true);
    }
}
