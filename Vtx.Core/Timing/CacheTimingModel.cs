using System.Runtime.CompilerServices;

namespace Vtx.Timing;

/// <summary>
/// The optional data-cache model (<see cref="CpuModel.CacheTiming"/>, issue 10): L1D, L2 and the LLC as
/// set-associative caches of physical lines with the profile's sizes, associativity, line size and hit
/// latencies (<see cref="TimingProfile.Cache"/>), LRU replacement, filled on every miss at every level
/// (inclusive fill; no back-invalidation, no prefetchers, no other cores). It is consulted on every data access
/// (the processor sends every access down its slow path while the model is on), so its state is a function of
/// the guest's accesses only. A load pays the latency of the level that hits beyond the L1 hit the block
/// simulation assumed; a miss everywhere pays the profile's <see cref="TimingProfile.MemoryLatency"/>.
/// The state is one <c>ulong[]</c> owned by the processor (snapshots copy it): per level sets × ways tags, then
/// as many LRU stamps, then the stamp counter.
/// </summary>
internal sealed class CacheTimingModel
{
    private const int Levels = 3;
    private static readonly ConditionalWeakTable<TimingProfile, CacheTimingModel> Cache = new();
    private readonly int[] _sets = new int[Levels], _ways = new int[Levels], _lineShift = new int[Levels], _tags = new int[Levels], _stamps = new int[Levels];
    private readonly int[] _extra = new int[Levels + 1];
    private readonly int _clock;

    private CacheTimingModel(TimingProfile p)
    {
        int at = 0;
        for (int l = 0; l < Levels; l++)
        {
            CacheGeometry g = p.Cache((CacheLevel)l);
            _ways[l] = g.Ways;
            _sets[l] = g.SizeBytes / (g.Ways * g.LineBytes);
            _lineShift[l] = System.Numerics.BitOperations.Log2((uint)g.LineBytes);
            _tags[l] = at;
            at += _sets[l] * _ways[l];
            _stamps[l] = at;
            at += _sets[l] * _ways[l];
        }
        _clock = at++;
        StateLength = at;
        int l1 = p.Cache(CacheLevel.L1d).LatencyCycles;
        _extra[0] = 0;
        _extra[1] = Math.Max(0, p.Cache(CacheLevel.L2).LatencyCycles - l1);
        _extra[2] = Math.Max(0, p.Cache(CacheLevel.Llc).LatencyCycles - l1);
        _extra[3] = Math.Max(_extra[2], p.MemoryLatency - l1);
    }

    /// <summary>The model for <paramref name="p"/> (which must have cache data).</summary>
    public static CacheTimingModel For(TimingProfile p) => Cache.GetValue(p, q => new CacheTimingModel(q));

    /// <summary>Length of the state array.</summary>
    public int StateLength { get; }

    /// <summary>
    /// One access to the line holding physical address <paramref name="pa"/>: returns the cycles beyond an L1
    /// hit (0 on an L1 hit) and updates the levels (LRU stamp on a hit, fill on a miss). Stores update the same way.
    /// </summary>
    public int Access(ulong[] state, ulong pa, bool write)
    {
        ulong now = ++state[_clock];
        int hit = Levels;
        for (int l = 0; l < Levels; l++)
            if (Touch(state, l, pa, now)) { hit = l; break; }
        for (int l = 0; l < hit && l < Levels; l++) Fill(state, l, pa, now);
        return write ? 0 : _extra[hit];
    }

    private bool Touch(ulong[] state, int l, ulong pa, ulong now)
    {
        ulong line = pa >> _lineShift[l];
        int ways = _ways[l];
        int b = (int)(line & (ulong)(_sets[l] - 1)) * ways;
        ulong tag = line | 1UL << 63;
        for (int w = 0; w < ways; w++)
        {
            if (state[_tags[l] + b + w] != tag) continue;
            state[_stamps[l] + b + w] = now;
            return true;
        }
        return false;
    }

    private void Fill(ulong[] state, int l, ulong pa, ulong now)
    {
        ulong line = pa >> _lineShift[l];
        int ways = _ways[l];
        int b = (int)(line & (ulong)(_sets[l] - 1)) * ways;
        int victim = 0;
        ulong oldest = ulong.MaxValue;
        for (int w = 0; w < ways; w++)
        {
            ulong s = state[_stamps[l] + b + w];
            if (s < oldest) { oldest = s; victim = w; } // empty ways have stamp 0: taken first, lowest way first
        }
        state[_tags[l] + b + victim] = line | 1UL << 63;
        state[_stamps[l] + b + victim] = now;
    }
}
