using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Iced.Intel;
using Vtx.Decoding;

namespace Vtx.Timing;

/// <summary>
/// The steady-state timing of one sequential run (basic block): the block is repeated as a loop
/// body through a deterministic model of an out-of-order core, and each instruction is given the
/// integer number of cycles between the retirement of the instruction before it and its own
/// (averaged over the measured iterations), so that the costs of a run add up to its steady-state
/// cycles per iteration. See docs/ARCHITECTURE.md, "Timing", for what is and is not modelled.
/// </summary>
/// <remarks>
/// Stages, in program order, one instruction instance at a time (older instructions choose
/// first, which is the oldest-first priority of the schedulers):
/// issue (rename/allocate, <see cref="EngineProfile.IssueWidth"/> fused µops per cycle, bounded by
/// the reorder buffer; length-changing-prefix stalls; macro-fused CMP/TEST+Jcc take one slot;
/// zero idioms and eliminated moves use no execution port) → dispatch of each µop on the eligible
/// port that is free earliest once its inputs are ready (ties: the port used least, then the
/// lowest) → completion after the form's latency (loads: L1 latency, 4 or 5 by address form;
/// store-to-load forwarding through same-address stores) → in-order retirement,
/// <see cref="EngineProfile.RetireWidth"/> fused µops per cycle.
/// Registers: 16 GPRs (a write of 8 or 16 bits merges, i.e. also reads), CF and the other
/// arithmetic flags as two renamed registers, 16 vector registers, x87/MMX as one register,
/// control/status registers as one; RSP updates by PUSH/POP/CALL/RET are done by the stack engine.
/// Not thread-safe: one instance per processor. Allocates nothing per run.
/// </remarks>
internal sealed class BlockSimulator
{
    public const int MaxRun = 255;
    private const int Window = 4096; // cycles of port reservations kept (a ring)
    private const int RegCount = 40;
    private const int RegCf = 16, RegFlags = 17, RegVec = 18, RegX87 = 34, RegCtl = 35, RegSeg = 36, RegSys = 37;
    private const int StoreRing = 32;

    private static readonly byte[] RegMap = BuildRegMap();

    private readonly InstructionInfoFactory _info = new();
    private readonly Staged[] _staged = new Staged[MaxRun];
    private readonly int[] _busy = new int[EngineProfile.MaxPorts * Window];
    private readonly int[] _portUse = new int[EngineProfile.MaxPorts];
    private readonly int[] _ready = new int[RegCount];
    private readonly int[] _version = new int[RegCount];
    private readonly int[] _rob = new int[1024];
    private readonly long[] _storeKey = new long[StoreRing];
    private readonly int[] _storeTime = new int[StoreRing];
    private readonly long[] _offsetSum = new long[MaxRun];
    private int _count;

    private struct Staged
    {
        public UopForm Form;
        public ulong Reads, Writes, AddrReads;
        public long Disp;
        public int StackInc;
        public byte Base, Index, Scale, Segment;
        public bool Lcp, FusedIntoPrev, ZeroIdiom, MoveElim, Rep;
    }

    [ThreadStatic] private static BlockSimulator? t_shared;

    /// <summary>
    /// This thread's simulator. Sharing one between processors is safe: a simulation's result depends
    /// only on the staged run and the profile (cycle numbers are relative; the rings need no clearing).
    /// </summary>
    public static BlockSimulator ForThread => t_shared ??= new BlockSimulator();

    /// <summary>The profile the simulation uses.</summary>
    public EngineProfile Profile { get; private set; } = null!;

    /// <summary>Starts staging a run costed with <paramref name="profile"/>.</summary>
    public void Begin(EngineProfile profile)
    {
        Profile = profile;
        _count = 0;
    }

    /// <summary>Instructions staged for the next <see cref="Cost(Span{DecodedInstruction}, int)"/>.</summary>
    public int Count => _count;

    /// <summary>
    /// Adds the next instruction of the run being decoded: <paramref name="ins"/> is Iced's
    /// decoding (register read/write sets), <paramref name="d"/> the translated form (addressing).
    /// Beyond <see cref="MaxRun"/> instructions nothing more is staged.
    /// </summary>
    public void Stage(in Instruction ins, in DecodedInstruction d, int bitness)
    {
        if (_count >= MaxRun) return;
        ref Staged s = ref _staged[_count];
        // What Iced says about the instruction (register usage, flags, stack, operand shapes), by form: see IcedFacts.
        ref readonly IcedFacts x = ref FactsOf(in ins);
        int code = (int)ins.Code;
        bool mem = d.HasMemory && !x.LeaOrNop;
        UopForm f = mem ? Profile.Mem[code] : Profile.Reg[code];
        if (!f.Known) f = Profile.Reg[code];
        if (!f.Known)
        {
            // No data for the form: one µop on an ALU port with latency 1, plus its memory µops.
            f = new UopForm { Fused = 1, Latency = 1, Compute = 1, PortStart = 0, Flags = UopFlags.Estimated };
        }
        if (mem && (f.Flags & UopFlags.Estimated) != 0)
        {
            // A class default: the memory µops follow what the operand does (Iced's operand access).
            OpAccess acc = (d.Flags & DecodedFlags.MemA) != 0 ? x.Op0Memory ? x.Op0Access : OpAccess.ReadWrite : OpAccess.Read;
            f.Loads = (byte)(acc is OpAccess.Read or OpAccess.ReadWrite or OpAccess.CondRead or OpAccess.ReadCondWrite ? 1 : 0);
            f.Stores = (byte)(acc is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite ? 1 : 0);
        }
        if (x.Branch) f.Flags |= UopFlags.Branch;
        s = default;
        s.Base = d.Base; s.Index = d.Index; s.Scale = d.Scale; s.Segment = d.Segment; s.Disp = d.Disp;
        s.Rep = (d.Flags & (DecodedFlags.Rep | DecodedFlags.Repne)) != 0;
        ulong reads = x.Reads, writes = x.Writes;
        s.StackInc = x.StackInc;
        ulong addr = 0;
        if (mem)
        {
            if (d.Base < 16) addr |= 1UL << d.Base;
            if (d.Index < 16) addr |= 1UL << d.Index;
        }

        // Zero idioms: both sources are the same register: no input dependency, no execution µop.
        if ((f.Flags & UopFlags.ZeroIdiom) != 0 && x.SameRegs && !mem)
        {
            s.ZeroIdiom = true;
            reads = 0;
        }
        s.MoveElim = (f.Flags & UopFlags.MoveEliminated) != 0 && !mem && x.RegReg;

        // A length-changing prefix: 66h turns an imm32 into an imm16 (MOV r16, imm16 is exempt).
        s.Lcp = bitness != 16 && x.NotMovImm && (x.Imm16 || (f.Flags & UopFlags.Lcp) != 0) && d.OpSize == 2;

        // Macro-fusion with the instruction before (SDM-adjacent: Intel Optimization Manual, 3.4.2.2).
        if (_count > 0 && d.Op == Op.Jcc)
        {
            ref Staged p = ref _staged[_count - 1];
            UopFlags pf = p.Form.Flags;
            // Not RIP-relative. (Memory + immediate was meant to be excluded too, but the flag for it was cleared
            // before use from the start, so such a compare fuses; kept as it is, since costs must not change.)
            bool fusible = (pf & UopFlags.MacroFusibleFirst) != 0 && !p.FusedIntoPrev
                && !(p.Form.Loads != 0 && p.Base == DecodedInstruction.RipBase);
            int c = d.Cond;
            if ((pf & UopFlags.FuseArith) != 0 && c is 0 or 1 or 8 or 9 or 10 or 11) fusible = false;
            if ((pf & UopFlags.FuseIncDec) != 0 && c is 0 or 1 or 2 or 3 or 6 or 7 or 8 or 9 or 10 or 11) fusible = false;
            s.FusedIntoPrev = fusible;
        }
        s.Form = f;
        s.Reads = reads;
        s.Writes = writes;
        s.AddrReads = addr;
        _count++;
    }

    // ------------------------------------------------------------------ Iced's facts by form (decode speed)
    // Everything staging asks Iced (the instruction info's register usage, RFLAGS read and written, flow control,
    // the stack pointer increment, operand kinds and registers) is a function of the decoded Instruction apart from
    // its next IP and its displacement (which only locate memory, not asked for). The facts are cached per thread,
    // keyed by the Instruction's other 24 bytes compared in full, so a hit is exactly what Iced would report. The
    // layout is checked once (KeyLayoutOk); without it every instruction asks Iced.

    private struct IcedFacts
    {
        public ulong Reads, Writes;  // registers and the two flag groups, after the stack-engine rule
        public int StackInc;
        public OpAccess Op0Access;
        public bool Branch, LeaOrNop, Op0Memory, SameRegs, RegReg, Imm16, NotMovImm;
    }

    private struct FactsEntry
    {
        public ulong K0, K1, K2;
        public bool Valid;
        public IcedFacts Facts;
    }

    private const int FactsTableSize = 1 << 10;
    private FactsEntry[]? _factsTable;
    private IcedFacts _factsScratch;

    /// <summary>True when Instruction is 40 bytes whose first 16 are the next IP and the displacement and nothing else.</summary>
    private static readonly bool KeyLayoutOk = CheckKeyLayout();

    /// <summary>Whether staging caches Iced's facts by form (for tests: false means every instruction asks Iced).</summary>
    internal static bool FactsCached => KeyLayoutOk;

    private static bool CheckKeyLayout()
    {
        if (Unsafe.SizeOf<Instruction>() != 40) return false;
        Instruction t = default;
        t.NextIP = 0x1122334455667788UL;
        t.MemoryDisplacement64 = 0x99AABBCCDDEEFF01UL;
        ReadOnlySpan<ulong> w = MemoryMarshal.Cast<Instruction, ulong>(new ReadOnlySpan<Instruction>(in t));
        return w[0] == 0x1122334455667788UL && w[1] == 0x99AABBCCDDEEFF01UL && w[2] == 0 && w[3] == 0 && w[4] == 0;
    }

    private ref readonly IcedFacts FactsOf(in Instruction ins)
    {
        if (!KeyLayoutOk)
        {
            ComputeFacts(in ins, out _factsScratch);
            return ref _factsScratch;
        }
        ReadOnlySpan<ulong> w = MemoryMarshal.Cast<Instruction, ulong>(new ReadOnlySpan<Instruction>(in ins));
        ulong k0 = w[2], k1 = w[3], k2 = w[4];
        ulong h = (k0 * 0x9E3779B97F4A7C15UL) ^ (k1 * 0xC4CEB9FE1A85EC53UL) ^ (k2 * 0xFF51AFD7ED558CCDUL);
        _factsTable ??= new FactsEntry[FactsTableSize];
        ref FactsEntry e = ref _factsTable[(int)(h >> 54) & (FactsTableSize - 1)];
        if (!e.Valid || e.K0 != k0 || e.K1 != k1 || e.K2 != k2)
        {
            ComputeFacts(in ins, out e.Facts);
            e.K0 = k0; e.K1 = k1; e.K2 = k2; e.Valid = true;
        }
        return ref e.Facts;
    }

    private void ComputeFacts(in Instruction ins, out IcedFacts x)
    {
        x = default;
        // Register reads and writes (Iced's instruction info), flags as two renamed groups.
        ref readonly InstructionInfo info = ref _info.GetInfo(in ins, InstructionInfoOptions.NoMemoryUsage);
        x.Op0Access = info.GetOpAccess(0);
        ulong reads = 0, writes = 0;
        foreach (UsedRegister ur in info.GetUsedRegisters())
        {
            int m = (uint)ur.Register < (uint)RegMap.Length ? RegMap[(int)ur.Register] : 0xFF;
            if (m == 0xFF) continue;
            ulong bit = 1UL << (m & 0x3F);
            switch (ur.Access)
            {
                case OpAccess.Read or OpAccess.CondRead: reads |= bit; break;
                case OpAccess.Write or OpAccess.CondWrite:
                    writes |= bit;
                    // A partial write (8 or 16 bits, or a conditional write) merges with the old value.
                    if ((m & 0x40) != 0 || ur.Access == OpAccess.CondWrite) reads |= bit;
                    break;
                case OpAccess.ReadWrite or OpAccess.ReadCondWrite: reads |= bit; writes |= bit; break;
            }
        }
        RflagsBits fr = ins.RflagsRead, fw = ins.RflagsModified;
        const RflagsBits Arith = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.PF;
        if ((fr & RflagsBits.CF) != 0) reads |= 1UL << RegCf;
        if ((fr & Arith) != 0) reads |= 1UL << RegFlags;
        if ((fr & ~(Arith | RflagsBits.CF)) != 0) reads |= 1UL << RegSys;
        if ((fw & RflagsBits.CF) != 0) writes |= 1UL << RegCf;
        if ((fw & Arith) != 0)
        {
            writes |= 1UL << RegFlags;
            // Writing only some of OF/SF/ZF/AF/PF merges with the others.
            if ((fw & Arith) != Arith) reads |= 1UL << RegFlags;
        }
        if ((fw & ~(Arith | RflagsBits.CF)) != 0) writes |= 1UL << RegSys;
        int inc = ins.StackPointerIncrement;
        if (inc != 0 || ins.IsStackInstruction)
        {
            // The stack engine keeps RSP for PUSH/POP/CALL/RET: no dependency through it.
            x.StackInc = inc;
            if (ins.Op0Kind != OpKind.Register || ins.Op0Register.GetFullRegister() != Register.RSP)
            {
                reads &= ~(1UL << 4);
                writes &= ~(1UL << 4);
            }
        }
        x.Reads = reads;
        x.Writes = writes;
        x.Branch = ins.FlowControl is not (FlowControl.Next or FlowControl.Exception or FlowControl.Interrupt);
        x.LeaOrNop = ins.Mnemonic is Mnemonic.Lea or Mnemonic.Nop;
        x.Op0Memory = ins.Op0Kind == OpKind.Memory;
        x.SameRegs = ins.OpCount >= 2
            && (ins.OpCount == 2
                ? ins.Op0Kind == OpKind.Register && ins.Op1Kind == OpKind.Register && ins.Op0Register == ins.Op1Register
                : ins.Op1Kind == OpKind.Register && ins.Op2Kind == OpKind.Register && ins.Op1Register == ins.Op2Register);
        x.RegReg = ins.Op0Kind == OpKind.Register && ins.Op1Kind == OpKind.Register;
        x.Imm16 = ins.Op1Kind == OpKind.Immediate16 || ins.Op2Kind == OpKind.Immediate16;
        x.NotMovImm = ins.Code != Code.Mov_r16_imm16 && ins.Code != Code.Mov_r32_imm32 && ins.Code != Code.Mov_r64_imm64;
    }

    /// <summary>
    /// Simulates the staged run as a loop body and writes each instruction's cost into
    /// <paramref name="run"/> (same order as staged). Returns the cycles of one iteration
    /// (the sum of the costs, at least 1). Forgets the staged instructions.
    /// </summary>
    public int Cost(Span<DecodedInstruction> run) => Cost(run, 0);

    /// <summary>
    /// As <see cref="Cost(Span{DecodedInstruction})"/> for the staged instructions from index
    /// <paramref name="first"/> on (one part of a run split at a loop head), keeping them staged.
    /// </summary>
    public int Cost(Span<DecodedInstruction> run, int first)
    {
        int n = Math.Min(_count - first, run.Length);
        if (n <= 0) return 0;
        Simulate(first, n, out long totalSum, out int window);
        int total = (int)Math.Max(1, Math.Min(65535, (2 * totalSum + window) / (2L * window)));
        int prev = 0;
        for (int i = 0; i < n; i++)
        {
            int c = i == n - 1 ? total : (int)((2 * _offsetSum[i] + window) / (2L * window));
            // Monotonic, and the run's last instruction carries at least one cycle: any loop, entered
            // anywhere in a run, passes through a run's end, so time always advances.
            c = Math.Clamp(c, prev, total - 1 < prev ? prev : total - 1);
            if (i == n - 1) c = total;
            run[i].Cost = (ushort)(c - prev);
            prev = c;
        }
        if (_staged[first + n - 1].Rep) run[n - 1].Cost = (ushort)Math.Max(1, Profile.RepIterationCycles);
        return total;
    }

    /// <summary>Cycles per iteration of the staged run as a fraction (for tests): sum of iteration cycles over the measured iterations.</summary>
    public (long Cycles, int Iterations) Measure()
    {
        Simulate(0, _count, out long total, out int window);
        _count = 0;
        return (total, window);
    }

    /// <summary>
    /// Iterations measured for a run of <paramref name="n"/> instructions, after a warm-up of
    /// <see cref="WarmIterations"/>: small blocks get a window of 12 iterations, so that throughputs of a
    /// half, a third or a quarter cycle per iteration come out exact; about 100-200 instruction instances
    /// are simulated per run (the decode-time cost).
    /// </summary>
    private static int MeasuredIterations(int n) => n <= 8 ? 12 : n <= 16 ? 4 : n <= 32 ? 2 : 1;

    private static int WarmIterations(int n) => n <= 4 ? 8 : n <= 8 ? 4 : n <= 32 ? 2 : 1;

    // Per-simulation facts of one staged instruction, resolved once before the iterations (decode speed).
    private struct Pre
    {
        public ulong Reads, Writes, AddrReads;
        public long KeyStatic;       // the address expression's part of the memory key (no register versions)
        public int Fused;            // issue/retire slots: 0 when fused into the compare before it
        public int Latency, Busy, PortStart, StackInc, Compute;
        public PreFlags Bits;
        public byte Base, Index;
    }

    [Flags]
    private enum PreFlags : ushort
    {
        Lcp = 1, Microcoded = 2, Serial = 4, Taken = 8, FusedIntoPrev = 16, ZeroIdiom = 32, MoveElim = 64,
        Load = 128, Store = 256, HasMemory = 512, SimpleAddress = 1024, StackKey = 2048, Last = 4096,
    }

    private const int T0 = 1;                 // the first cycle of every simulation (results are relative)
    private const uint PortBits = (1u << EngineProfile.MaxPorts) - 1;
    private readonly Pre[] _pre = new Pre[MaxRun];
    private readonly uint[] _busyMask = new uint[Window]; // fast path: bit p of [t - T0] = port p reserved at cycle t
    private bool _overflow;

    // Issue 13 (decode speed): the simulation loop is compiled twice, for the fast path and for the per-port ring,
    // so that the choice costs nothing per dispatch (a static abstract member folds to a constant).
    private interface IPorts { static abstract bool Ring { get; } }
    private struct FastPorts : IPorts { public static bool Ring => false; }
    private struct RingPorts : IPorts { public static bool Ring => true; }

    private void Simulate(int first, int n, out long totalSum, out int window)
    {
        window = MeasuredIterations(n);
        if (!UseCache) { Simulate(first, n, window, out totalSum); return; }
        ulong h = HashStaged(first, n); // once for the lookup and the store (decode speed)
        if (TryCached(h, first, n, out totalSum)) return;
        Simulate(first, n, window, out totalSum);
        Remember(h, first, n);
    }

    // ------------------------------------------------------------------ the result cache
    // A simulation's result is a function of the staged records alone (and the profile): the same run decoded
    // again (code rewritten in place, the same page in another code size, the same basic block at another
    // address) reuses it. A hit compares every staged record byte for byte, so it returns exactly what the
    // simulation would. Fixed storage, allocated once per simulator: a slab of staged records and their
    // retire-offset sums written as a ring, and a direct-mapped table of runs in it.

    /// <summary>Whether results are cached (tests turn it off to time or check the simulation itself).</summary>
    internal bool UseCache { get; set; } = true;

    /// <summary>Simulations answered from the cache (for tests and measurements).</summary>
    internal long CacheHits { get; private set; }

    private const int SlabSize = 1 << 14;     // staged records kept (about 1.2 MiB with their sums)
    private const int TableSize = 1 << 11;
    private Staged[]? _slab;
    private long[]? _slabSums;
    private Entry[]? _table;
    private long _slabWritten;                // records ever written to the slab (monotonic)

    private struct Entry
    {
        public ulong Hash;
        public long Start;                    // position of the first record in the slab (monotonic)
        public int Count;
        public EngineProfile? Profile;
    }

    private ulong HashStaged(int first, int n)
    {
        // Four independent lanes (no result depends on the hash: a hit is confirmed byte for byte), so the
        // multiplies overlap instead of forming one chain through every word of the run.
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<Staged, ulong>(_staged.AsSpan(first, n));
        ulong h0 = (ulong)n * 0x9E3779B97F4A7C15UL, h1 = 0x243F6A8885A308D3UL, h2 = 0x13198A2E03707344UL, h3 = 0xA4093822299F31D0UL;
        int i = 0;
        for (; i + 4 <= words.Length; i += 4)
        {
            h0 = (BitOperations.RotateLeft(h0, 23) ^ words[i]) * 0xFF51AFD7ED558CCDUL;
            h1 = (BitOperations.RotateLeft(h1, 23) ^ words[i + 1]) * 0xC4CEB9FE1A85EC53UL;
            h2 = (BitOperations.RotateLeft(h2, 23) ^ words[i + 2]) * 0xFF51AFD7ED558CCDUL;
            h3 = (BitOperations.RotateLeft(h3, 23) ^ words[i + 3]) * 0xC4CEB9FE1A85EC53UL;
        }
        for (; i < words.Length; i++) h0 = (BitOperations.RotateLeft(h0, 23) ^ words[i]) * 0xFF51AFD7ED558CCDUL;
        ulong h = h0 ^ BitOperations.RotateLeft(h1, 17) ^ BitOperations.RotateLeft(h2, 31) ^ BitOperations.RotateLeft(h3, 47);
        h *= 0x9E3779B97F4A7C15UL;
        return h ^ (h >> 29);
    }

    private bool TryCached(ulong h, int first, int n, out long totalSum)
    {
        totalSum = 0;
        if (_table is null) return false;
        ref Entry e = ref _table[(int)(h & (TableSize - 1))];
        if (e.Hash != h || e.Count != n || !ReferenceEquals(e.Profile, Profile) || _slabWritten - e.Start > SlabSize - n) return false;
        int at = (int)(e.Start & (SlabSize - 1));
        if (!MemoryMarshal.AsBytes(_slab.AsSpan(at, n)).SequenceEqual(MemoryMarshal.AsBytes(_staged.AsSpan(first, n)))) return false;
        _slabSums.AsSpan(at, n).CopyTo(_offsetSum);
        totalSum = _offsetSum[n - 1];
        CacheHits++;
        return true;
    }

    private void Remember(ulong h, int first, int n)
    {
        _slab ??= new Staged[SlabSize];
        _slabSums ??= new long[SlabSize];
        _table ??= new Entry[TableSize];
        // A run never straddles the ring's end.
        if ((int)(_slabWritten & (SlabSize - 1)) + n > SlabSize) _slabWritten = (_slabWritten | (SlabSize - 1)) + 1;
        int at = (int)(_slabWritten & (SlabSize - 1));
        _staged.AsSpan(first, n).CopyTo(_slab.AsSpan(at, n));
        _offsetSum.AsSpan(0, n).CopyTo(_slabSums.AsSpan(at, n));
        _table[(int)(h & (TableSize - 1))] = new Entry { Hash = h, Start = _slabWritten, Count = n, Profile = Profile };
        _slabWritten += n;
    }

    private void Simulate(int first, int n, int window, out long totalSum)
    {
        Prepare(first, n);
        // The fast path keeps each cycle's reserved ports in one word; it is exact while every cycle of the
        // simulation lies within one ring window of its first cycle (no two cycles share a ring slot). A longer
        // simulation (serialising instructions with system costs, long divides) runs again on the per-port ring.
        if (!Run(n, window, exact: false, out totalSum))
        {
            RingSimulations++;
            Run(n, window, exact: true, out totalSum);
        }
    }

    /// <summary>Simulations that exceeded the fast path's window and ran on the per-port ring (for tests).</summary>
    internal int RingSimulations { get; private set; }

    private void Prepare(int first, int n)
    {
        bool lastFused = n >= 2 && _staged[first + n - 1].FusedIntoPrev;
        for (int i = 0; i < n; i++)
        {
            ref Staged s = ref _staged[first + i];
            ref Pre e = ref _pre[i];
            ref readonly UopForm f = ref s.Form;
            PreFlags b = 0;
            bool last = i == n - 1;
            // The block repeats, so the branch closing it is taken: it (or the compare fused with it)
            // executes on the taken-branch port.
            if ((last && (f.Flags & UopFlags.Branch) != 0) || (i == n - 2 && lastFused)) b |= PreFlags.Taken;
            if ((f.Flags & UopFlags.Serializing) != 0) b |= PreFlags.Serial;
            if ((f.Flags & UopFlags.Microcoded) != 0) b |= PreFlags.Microcoded;
            bool fusedIntoPrev = s.FusedIntoPrev && i > 0; // a run's first instruction fuses with nothing
            if (fusedIntoPrev) b |= PreFlags.FusedIntoPrev;
            if (s.Lcp) b |= PreFlags.Lcp;
            if (s.ZeroIdiom) b |= PreFlags.ZeroIdiom;
            if (s.MoveElim) b |= PreFlags.MoveElim;
            if (f.Loads != 0) b |= PreFlags.Load;
            if (f.Stores != 0) b |= PreFlags.Store;
            if (f.Loads != 0 || f.Stores != 0) b |= PreFlags.HasMemory;
            if (s.Index == DecodedInstruction.NoReg && s.Base < 16 && (ulong)s.Disp < 2048) b |= PreFlags.SimpleAddress;
            if (s.StackInc != 0) b |= PreFlags.StackKey;
            if (last) b |= PreFlags.Last;
            e.Bits = b;
            e.Fused = fusedIntoPrev ? 0 : Math.Max(1, (int)f.Fused);
            e.Latency = f.Latency;
            e.Busy = f.Busy;
            e.Compute = f.Compute;
            e.PortStart = f.PortStart;
            e.StackInc = s.StackInc;
            e.Reads = s.Reads;
            e.Writes = s.Writes;
            e.AddrReads = s.AddrReads;
            e.Base = s.Base;
            e.Index = s.Index;
            e.KeyStatic = (s.Disp * unchecked((long)0x9E3779B97F4A7C15UL))
                ^ ((long)(s.Base | (s.Index << 8) | (s.Scale << 16) | (s.Segment << 20)) * 0x6C8E9CF570932BD5L);
        }
    }

    /// <summary>One simulation of the prepared run; false when the fast path's window was exceeded (nothing is valid then).</summary>
    private bool Run(int n, int window, bool exact, out long totalSum) =>
        exact ? Run<RingPorts>(n, window, out totalSum) : Run<FastPorts>(n, window, out totalSum);

    private bool Run<TPorts>(int n, int window, out long totalSum) where TPorts : struct, IPorts
    {
        bool exact = TPorts.Ring;
        EngineProfile p = Profile;
        int warm = WarmIterations(n);
        int iterations = warm + window;
        totalSum = 0;
        Array.Clear(_offsetSum, 0, n);
        Array.Fill(_ready, T0);
        Array.Clear(_version);
        Array.Clear(_portUse);
        _overflow = false;
        if (exact)
        {
            // A clean ring: no slot holds a cycle this simulation will look at.
            Array.Clear(_busy);
        }
        int robSize = Math.Clamp(p.RobSize, 8, _rob.Length);
        Array.Fill(_rob, T0, 0, robSize);
        int robPos = 0;
        int issueCycle = T0, issueSlots = 0, retireCycle = T0, retireSlots = 0;
        int lastComplete = T0, divFree = T0;
        int stores = 0, seq = 0;
        long spDelta = 0;
        int prevLastRetire = T0;
        int issueWidth = Math.Max(1, p.IssueWidth), retireWidth = Math.Max(1, p.RetireWidth);
        bool serialHold = false;
        uint loadPorts = p.LoadPorts & PortBits, staPorts = p.StoreAddressPorts & PortBits, stdPorts = p.StoreDataPorts & PortBits;
        uint takenPorts = p.TakenBranchPorts & PortBits;
        int loadLatSimple = p.LoadLatencySimple, loadLat = p.LoadLatency, forward = p.StoreForwardLatency, lcpPenalty = p.LcpPenalty;
        ushort[] pool = p.PortPool;
        int[] ready = _ready, version = _version, rob = _rob;
        Pre[] pre = _pre;
        uint[] busyMask = _busyMask;
        int[] portUse = _portUse;

        for (int k = 0; k < iterations; k++)
        {
            for (int i = 0; i < n; i++)
            {
                ref Pre e = ref pre[i];
                PreFlags b = e.Bits;
                seq++;
                bool serial = (b & PreFlags.Serial) != 0;
                bool fusedIntoPrev = (b & PreFlags.FusedIntoPrev) != 0;
                int fused = e.Fused;

                // ---- issue (rename/allocate)
                if ((b & PreFlags.Lcp) != 0) { issueCycle += lcpPenalty; issueSlots = 0; }
                if ((b & PreFlags.Microcoded) != 0 && issueSlots != 0) { issueCycle++; issueSlots = 0; }
                if (serial || serialHold)
                {
                    // Serialising: waits until everything older has completed (and the next waits for it).
                    int w = Math.Max(lastComplete, retireCycle);
                    if (w > issueCycle) { issueCycle = w; issueSlots = 0; }
                    serialHold = serial;
                }
                if (fused > 0)
                {
                    int ri = robPos + Math.Min(fused, robSize) - 1;
                    if (ri >= robSize) ri -= robSize;
                    int robFree = rob[ri];
                    if (robFree > issueCycle) { issueCycle = robFree; issueSlots = 0; }
                    if (issueSlots == issueWidth) { issueCycle++; issueSlots = 0; }
                    int room = issueWidth - issueSlots;
                    if (fused <= room) issueSlots += fused;
                    else
                    {
                        int left = fused - room;
                        issueSlots = issueWidth;
                        while (left > 0)
                        {
                            if (issueSlots == issueWidth) { issueCycle++; issueSlots = 0; }
                            int take = Math.Min(left, issueWidth - issueSlots);
                            issueSlots += take;
                            left -= take;
                        }
                    }
                }
                int issue = issueCycle;
                int earliest = issue + 1;

                // ---- inputs
                int src = issue;
                ulong rd = e.Reads;
                while (rd != 0) { int r = BitOperations.TrailingZeroCount(rd); rd &= rd - 1; if (ready[r] > src) src = ready[r]; }
                int addrReady = issue;
                ulong ad = e.AddrReads;
                while (ad != 0) { int r = BitOperations.TrailingZeroCount(ad); ad &= ad - 1; if (ready[r] > addrReady) addrReady = ready[r]; }

                int complete = earliest, result;
                int data = src;
                long key = 0;
                if ((b & PreFlags.HasMemory) != 0)
                {
                    if ((b & PreFlags.StackKey) != 0) key = StackKey(e.StackInc < 0 ? spDelta + e.StackInc : spDelta);
                    else
                    {
                        long vb = e.Base < 16 ? version[e.Base] : -1;
                        long vi = e.Index < 16 ? version[e.Index] : -1;
                        key = e.KeyStatic ^ ((vb << 32 ^ vi) * 0x2545F4914F6CDD1DL);
                    }
                }

                // ---- load
                if ((b & PreFlags.Load) != 0 && !fusedIntoPrev)
                {
                    int t = Dispatch<TPorts>(busyMask, portUse, loadPorts, Math.Max(addrReady, earliest));
                    int done = t + ((b & PreFlags.SimpleAddress) != 0 ? loadLatSimple : loadLat);
                    for (int j = 0, end = Math.Min(stores, StoreRing); j < end; j++)
                    {
                        int slot = (stores - 1 - j) & (StoreRing - 1);
                        if (_storeKey[slot] == key) { done = Math.Max(done, _storeTime[slot] + forward); break; }
                    }
                    if (done > data) data = done;
                    complete = Math.Max(complete, done);
                }

                // ---- execution µops
                if (fusedIntoPrev) result = Math.Max(src, issue); // executes as part of the compare's µop
                else if ((b & PreFlags.ZeroIdiom) != 0) result = issue;
                else if ((b & PreFlags.MoveElim) != 0) result = Math.Max(src, issue);
                else if (e.Compute == 0) result = (b & PreFlags.HasMemory) != 0 ? Math.Max(data, issue) : Math.Max(data, issue) + e.Latency;
                else
                {
                    int firstDisp = int.MaxValue, lastDisp = 0;
                    int start = Math.Max(data, earliest);
                    int compute = e.Compute;
                    for (int u = 0; u < compute; u++)
                    {
                        uint mask = pool[e.PortStart + u] & PortBits;
                        // A block-closing branch is taken (the block repeats): it needs the taken-branch port.
                        if ((b & PreFlags.Taken) != 0 && u == compute - 1) mask = takenPorts;
                        int at = start;
                        if (u == 0 && e.Busy != 0) at = Math.Max(at, divFree);
                        int t = Dispatch<TPorts>(busyMask, portUse, mask, at);
                        if (u == 0 && e.Busy != 0) divFree = t + e.Busy;
                        if (t < firstDisp) firstDisp = t;
                        if (t > lastDisp) lastDisp = t;
                    }
                    result = Math.Max(firstDisp + e.Latency, lastDisp + 1);
                }
                complete = Math.Max(complete, result);

                // ---- store
                if ((b & PreFlags.Store) != 0 && !fusedIntoPrev)
                {
                    int sta = Dispatch<TPorts>(busyMask, portUse, staPorts, Math.Max(addrReady, earliest));
                    int std = Dispatch<TPorts>(busyMask, portUse, stdPorts, Math.Max(result, earliest));
                    int slot = stores & (StoreRing - 1);
                    _storeKey[slot] = key;
                    _storeTime[slot] = std;
                    stores++;
                    complete = Math.Max(complete, Math.Max(sta, std) + 1);
                }
                spDelta += e.StackInc;

                // ---- results
                ulong wr = e.Writes;
                while (wr != 0) { int r = BitOperations.TrailingZeroCount(wr); wr &= wr - 1; ready[r] = result; version[r] = seq; }
                if (serial) complete = Math.Max(complete, Math.Max(lastComplete, issue) + e.Latency);
                if (complete > lastComplete) lastComplete = complete;

                // ---- retire (in order)
                if (complete > retireCycle) { retireCycle = complete; retireSlots = 0; }
                if (fused > 0)
                {
                    if (retireSlots == retireWidth) { retireCycle++; retireSlots = 0; }
                    int room = retireWidth - retireSlots;
                    if (fused <= room) retireSlots += fused;
                    else
                    {
                        int left = fused - room;
                        retireSlots = retireWidth;
                        while (left > 0)
                        {
                            if (retireSlots == retireWidth) { retireCycle++; retireSlots = 0; }
                            int take = Math.Min(left, retireWidth - retireSlots);
                            retireSlots += take;
                            left -= take;
                        }
                    }
                    int free = retireCycle + 1;
                    int ri = robPos;
                    for (int u = 0, e2 = Math.Min(fused, robSize); u < e2; u++)
                    {
                        rob[ri] = free;
                        if (++ri == robSize) ri = 0;
                    }
                    robPos = fused < robSize ? (robPos + fused >= robSize ? robPos + fused - robSize : robPos + fused) : (robPos + fused) % robSize;
                }
                if (k >= warm) _offsetSum[i] += retireCycle - prevLastRetire;
                if ((b & PreFlags.Last) != 0) prevLastRetire = retireCycle;
            }
            if (_overflow) break;
        }
        if (!exact)
        {
            // Leave the fast path's words clean for the next simulation.
            // Every reserved cycle lies before its instruction's completion, so the words set are those up to
            // lastComplete (within the window).
            int used = Math.Min(Window, lastComplete - T0 + 1);
            if (used > 0) Array.Clear(busyMask, 0, used);
            if (_overflow) return false;
        }
        totalSum = _offsetSum[n - 1];
        return true;
    }

    /// <summary>Reserves the eligible port that is free earliest at or after <paramref name="ready"/> (ties: the port used least, then the lowest); returns the dispatch cycle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Dispatch<TPorts>(uint[] bm, int[] portUse, uint mask, int ready) where TPorts : struct, IPorts
    {
        if (mask == 0) return ready;
        if (TPorts.Ring) return DispatchRing(mask, ready);
        int rel = ready - T0;
        if ((uint)rel >= Window) { _overflow = true; return ready; }
        uint free = mask & ~bm[rel];
        if (free == 0)
        {
            rel = FirstFree(bm, mask, rel + 1);
            if (rel < 0) { _overflow = true; return ready; }
            free = mask & ~bm[rel];
        }
        int port = BitOperations.TrailingZeroCount(free);
        free &= free - 1;
        if (free != 0)
        {
            int use = portUse[port];
            do
            {
                int q = BitOperations.TrailingZeroCount(free);
                free &= free - 1;
                if (portUse[q] < use) { port = q; use = portUse[q]; }
            } while (free != 0);
        }
        bm[rel] |= 1u << port;
        portUse[port]++;
        return rel + T0;
    }

    /// <summary>
    /// The first cycle index at or after <paramref name="rel"/> where a port of <paramref name="mask"/> is free, or -1
    /// beyond the window. Eight cycles per step (decode speed: with the ports saturated a µop ready early passes
    /// many fully reserved cycles).
    /// </summary>
    private static int FirstFree(uint[] bm, uint mask, int rel)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> m = Vector256.Create(mask);
            ref uint b0 = ref MemoryMarshal.GetArrayDataReference(bm);
            for (; rel + 8 <= Window; rel += 8)
            {
                uint busy = Vector256.Equals(Vector256.LoadUnsafe(ref b0, (nuint)rel) & m, m).ExtractMostSignificantBits();
                if (busy != 0xFF) return rel + BitOperations.TrailingZeroCount(~busy);
            }
        }
        for (; rel < Window; rel++)
            if ((mask & ~bm[rel]) != 0) return rel;
        return -1;
    }

    /// <summary>The per-port ring (each slot holds the cycle it reserves, <see cref="Window"/> cycles per port): exact for simulations of any length.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int DispatchRing(uint mask, int ready)
    {
        int bestPort = -1, bestT = int.MaxValue;
        uint m = mask;
        while (m != 0)
        {
            int port = BitOperations.TrailingZeroCount(m);
            m &= m - 1;
            int baseIdx = port * Window;
            int t = ready;
            while (_busy[baseIdx + (t & (Window - 1))] == t && t - ready < Window) t++;
            if (t < bestT || (t == bestT && _portUse[port] < _portUse[bestPort])) { bestT = t; bestPort = port; }
        }
        if (bestPort < 0) return ready;
        _busy[bestPort * Window + (bestT & (Window - 1))] = bestT;
        _portUse[bestPort]++;
        return bestT;
    }

    private static long StackKey(long offset) => offset * unchecked((long)0xD6E8FEB86659FD93UL) ^ 0x5EA5EA5EA5EA5EA5L;

    private static byte[] BuildRegMap()
    {
        int max = 0;
        foreach (Register r in Enum.GetValues<Register>()) max = Math.Max(max, (int)r);
        var map = new byte[max + 1];
        Array.Fill(map, (byte)0xFF);
        for (int r = 0; r < map.Length; r++)
        {
            var reg = (Register)r;
            if (!Enum.IsDefined(reg) || reg == Register.None) continue;
            if (reg.IsGPR())
            {
                int n = reg.GetFullRegister() - Register.RAX;
                if ((uint)n < 16) map[r] = (byte)(n | (reg.IsGPR8() || reg.IsGPR16() ? 0x40 : 0));
            }
            else if (reg.IsXMM() || reg.IsYMM() || reg.IsZMM()) map[r] = (byte)(RegVec + (reg.GetNumber() & 15));
            else if (reg.IsST() || reg.IsMM()) map[r] = RegX87;
            else if (reg.IsSegmentRegister()) map[r] = RegSeg;
            else if (reg.IsK() || reg.IsCR() || reg.IsDR() || reg.IsTR()) map[r] = RegCtl;
        }
        return map;
    }
}
