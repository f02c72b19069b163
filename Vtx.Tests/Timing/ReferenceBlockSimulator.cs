// REFERENCE COPY (test oracle): Vtx.Core/Timing/Engine/BlockSimulator.cs exactly as it was at commit c9087a3,
// before the decode-speed work, with only the class name, namespace and this header changed. The optimised
// simulator must produce bit-identical costs and measurements (BlockSimulatorEquivalenceTests). Do not edit.
using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;

using Vtx.Timing;

namespace Vtx.Tests.Timing;

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
internal sealed class ReferenceBlockSimulator
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
    private int _base = 1;

    private struct Staged
    {
        public UopForm Form;
        public ulong Reads, Writes, AddrReads;
        public long Disp;
        public int StackInc;
        public byte Base, Index, Scale, Segment;
        public bool Lcp, FusedIntoPrev, ZeroIdiom, MoveElim, Rep, MemImm;
    }

    [ThreadStatic] private static ReferenceBlockSimulator? t_shared;

    /// <summary>
    /// This thread's simulator. Sharing one between processors is safe: a simulation's result depends
    /// only on the staged run and the profile (cycle numbers are relative; the rings need no clearing).
    /// </summary>
    public static ReferenceBlockSimulator ForThread => t_shared ??= new ReferenceBlockSimulator();

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
        bool mem = d.HasMemory && ins.Mnemonic != Mnemonic.Lea && ins.Mnemonic != Mnemonic.Nop;
        UopForm f = mem ? Profile.Mem[(int)ins.Code] : Profile.Reg[(int)ins.Code];
        if (!f.Known) f = Profile.Reg[(int)ins.Code];
        if (!f.Known)
        {
            // No data for the form: one µop on an ALU port with latency 1, plus its memory µops.
            f = new UopForm { Fused = 1, Latency = 1, Compute = 1, PortStart = 0, Flags = UopFlags.Estimated };
        }
        if (mem && (f.Flags & UopFlags.Estimated) != 0)
        {
            // A class default: the memory µops follow what the operand does (Iced's operand access).
            OpAccess acc = (d.Flags & DecodedFlags.MemA) != 0 ? ins.Op0Kind == OpKind.Memory ? AccessOf(in ins, 0) : OpAccess.ReadWrite : OpAccess.Read;
            f.Loads = (byte)(acc is OpAccess.Read or OpAccess.ReadWrite or OpAccess.CondRead or OpAccess.ReadCondWrite ? 1 : 0);
            f.Stores = (byte)(acc is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite ? 1 : 0);
        }
        if (ins.FlowControl is not (FlowControl.Next or FlowControl.Exception or FlowControl.Interrupt)) f.Flags |= UopFlags.Branch;
        s.MemImm = mem && (d.Flags & (DecodedFlags.ImmB | DecodedFlags.Imm3)) != 0;
        s = default;
        s.Base = d.Base; s.Index = d.Index; s.Scale = d.Scale; s.Segment = d.Segment; s.Disp = d.Disp;
        s.Rep = (d.Flags & (DecodedFlags.Rep | DecodedFlags.Repne)) != 0;

        // Register reads and writes (Iced's instruction info), flags as two renamed groups.
        ulong reads = 0, writes = 0;
        ref readonly InstructionInfo info = ref _info.GetInfo(in ins, InstructionInfoOptions.NoMemoryUsage);
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
            s.StackInc = inc;
            if (ins.Op0Kind != OpKind.Register || ins.Op0Register.GetFullRegister() != Register.RSP)
            {
                reads &= ~(1UL << 4);
                writes &= ~(1UL << 4);
            }
        }
        ulong addr = 0;
        if (mem)
        {
            if (d.Base < 16) addr |= 1UL << d.Base;
            if (d.Index < 16) addr |= 1UL << d.Index;
        }

        // Zero idioms: both sources are the same register: no input dependency, no execution µop.
        bool sameRegs = ins.OpCount >= 2 && !mem
            && (ins.OpCount == 2
                ? ins.Op0Kind == OpKind.Register && ins.Op1Kind == OpKind.Register && ins.Op0Register == ins.Op1Register
                : ins.Op1Kind == OpKind.Register && ins.Op2Kind == OpKind.Register && ins.Op1Register == ins.Op2Register);
        if ((f.Flags & UopFlags.ZeroIdiom) != 0 && sameRegs)
        {
            s.ZeroIdiom = true;
            reads = 0;
        }
        s.MoveElim = (f.Flags & UopFlags.MoveEliminated) != 0 && !mem && ins.Op0Kind == OpKind.Register && ins.Op1Kind == OpKind.Register;

        // A length-changing prefix: 66h turns an imm32 into an imm16 (MOV r16, imm16 is exempt).
        s.Lcp = bitness != 16 && ins.Code != Code.Mov_r16_imm16 && ins.Code != Code.Mov_r32_imm32 && ins.Code != Code.Mov_r64_imm64
            && (ins.Op1Kind == OpKind.Immediate16 || ins.Op2Kind == OpKind.Immediate16 || (f.Flags & UopFlags.Lcp) != 0)
            && d.OpSize == 2;

        // Macro-fusion with the instruction before (SDM-adjacent: Intel Optimization Manual, 3.4.2.2).
        if (_count > 0 && d.Op == Op.Jcc)
        {
            ref Staged p = ref _staged[_count - 1];
            UopFlags pf = p.Form.Flags;
            // Not with a memory operand and an immediate, nor RIP-relative.
            bool fusible = (pf & UopFlags.MacroFusibleFirst) != 0 && !p.FusedIntoPrev && !p.MemImm
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

    private void Simulate(int first, int n, out long totalSum, out int window)
    {
        EngineProfile p = Profile;
        window = MeasuredIterations(n);
        int warm = WarmIterations(n);
        int iterations = warm + window;
        Array.Clear(_offsetSum, 0, n);
        Array.Clear(_ready);
        Array.Clear(_version);
        Array.Clear(_portUse);
        int t0 = _base;
        for (int r = 0; r < RegCount; r++) _ready[r] = t0;
        int robSize = Math.Clamp(p.RobSize, 8, _rob.Length);
        Array.Fill(_rob, t0, 0, robSize);
        int robPos = 0;
        int issueCycle = t0, issueSlots = 0, retireCycle = t0, retireSlots = 0;
        int lastComplete = t0, divFree = t0, maxCycle = t0;
        int stores = 0, seq = 0;
        long spDelta = 0;
        int prevLastRetire = t0;
        int issueWidth = Math.Max(1, p.IssueWidth), retireWidth = Math.Max(1, p.RetireWidth);
        bool serialHold = false;
        totalSum = 0;

        for (int k = 0; k < iterations; k++)
        {
            for (int i = 0; i < n; i++)
            {
                ref Staged s = ref _staged[first + i];
                ref readonly UopForm f = ref s.Form;
                seq++;
                bool last = i == n - 1;
                // The block repeats, so the branch closing it is taken: it (or the compare fused with it)
                // executes on the taken-branch port.
                bool taken = (last && (f.Flags & UopFlags.Branch) != 0) || (i == n - 2 && _staged[first + n - 1].FusedIntoPrev);
                bool serial = (f.Flags & UopFlags.Serializing) != 0;
                bool fusedIntoPrev = s.FusedIntoPrev && i > 0; // a run's first instruction fuses with nothing
                int fused = fusedIntoPrev ? 0 : Math.Max(1, (int)f.Fused);

                // ---- issue (rename/allocate)
                if (s.Lcp) { issueCycle += p.LcpPenalty; issueSlots = 0; }
                if ((f.Flags & UopFlags.Microcoded) != 0 && issueSlots != 0) { issueCycle++; issueSlots = 0; }
                if (serial || serialHold)
                {
                    // Serialising: waits until everything older has completed (and the next waits for it).
                    int w = Math.Max(lastComplete, retireCycle);
                    if (w > issueCycle) { issueCycle = w; issueSlots = 0; }
                    serialHold = serial;
                }
                if (fused > 0)
                {
                    int robFree = _rob[(robPos + Math.Min(fused, robSize) - 1) % robSize];
                    if (robFree > issueCycle) { issueCycle = robFree; issueSlots = 0; }
                    int left = fused;
                    while (left > 0)
                    {
                        if (issueSlots == issueWidth) { issueCycle++; issueSlots = 0; }
                        int take = Math.Min(left, issueWidth - issueSlots);
                        issueSlots += take;
                        left -= take;
                    }
                }
                int issue = issueCycle;
                int earliest = issue + 1;

                // ---- inputs
                int src = issue;
                ulong rd = s.Reads;
                while (rd != 0) { int r = BitOperations.TrailingZeroCount(rd); rd &= rd - 1; if (_ready[r] > src) src = _ready[r]; }
                int addrReady = issue;
                ulong ad = s.AddrReads;
                while (ad != 0) { int r = BitOperations.TrailingZeroCount(ad); ad &= ad - 1; if (_ready[r] > addrReady) addrReady = _ready[r]; }

                int complete = earliest, result;
                int data = src;
                long key = 0;
                bool hasMem = f.Loads != 0 || f.Stores != 0;
                if (hasMem) key = s.StackInc != 0 ? StackKey(s.StackInc < 0 ? spDelta + s.StackInc : spDelta) : MemKey(in s);

                // ---- load
                if (f.Loads != 0 && !fusedIntoPrev)
                {
                    int t = Dispatch(p.LoadPorts, Math.Max(addrReady, earliest));
                    bool simple = s.Index == DecodedInstruction.NoReg && s.Base < 16 && (ulong)s.Disp < 2048;
                    int done = t + (simple ? p.LoadLatencySimple : p.LoadLatency);
                    for (int j = 0, e = Math.Min(stores, StoreRing); j < e; j++)
                    {
                        int slot = (stores - 1 - j) & (StoreRing - 1);
                        if (_storeKey[slot] == key) { done = Math.Max(done, _storeTime[slot] + p.StoreForwardLatency); break; }
                    }
                    if (done > data) data = done;
                    complete = Math.Max(complete, done);
                }

                // ---- execution µops
                if (fusedIntoPrev) result = Math.Max(src, issue); // executes as part of the compare's µop
                else if (s.ZeroIdiom) result = issue;
                else if (s.MoveElim) result = Math.Max(src, issue);
                else if (f.Compute == 0) result = f.Loads != 0 || f.Stores != 0 ? Math.Max(data, issue) : Math.Max(data, issue) + f.Latency;
                else
                {
                    int firstDisp = int.MaxValue, lastDisp = 0;
                    int start = Math.Max(data, earliest);
                    for (int u = 0; u < f.Compute; u++)
                    {
                        ushort mask = p.PortPool[f.PortStart + u];
                        // A block-closing branch is taken (the block repeats): it needs the taken-branch port.
                        if (taken && u == f.Compute - 1) mask = p.TakenBranchPorts;
                        int ready = start;
                        if (u == 0 && f.Busy != 0) ready = Math.Max(ready, divFree);
                        int t = Dispatch(mask, ready);
                        if (u == 0 && f.Busy != 0) divFree = t + f.Busy;
                        if (t < firstDisp) firstDisp = t;
                        if (t > lastDisp) lastDisp = t;
                    }
                    result = Math.Max(firstDisp + f.Latency, lastDisp + 1);
                }
                complete = Math.Max(complete, result);

                // ---- store
                if (f.Stores != 0 && !fusedIntoPrev)
                {
                    int sta = Dispatch(p.StoreAddressPorts, Math.Max(addrReady, earliest));
                    int std = Dispatch(p.StoreDataPorts, Math.Max(result, earliest));
                    int slot = stores & (StoreRing - 1);
                    _storeKey[slot] = key;
                    _storeTime[slot] = std;
                    stores++;
                    complete = Math.Max(complete, Math.Max(sta, std) + 1);
                }
                if (s.StackInc != 0) spDelta += s.StackInc;

                // ---- results
                ulong wr = s.Writes;
                while (wr != 0) { int r = BitOperations.TrailingZeroCount(wr); wr &= wr - 1; _ready[r] = result; _version[r] = seq; }
                if (serial) complete = Math.Max(complete, Math.Max(lastComplete, issue) + f.Latency);
                if (complete > lastComplete) lastComplete = complete;

                // ---- retire (in order)
                if (complete > retireCycle) { retireCycle = complete; retireSlots = 0; }
                int rleft = fused;
                while (rleft > 0)
                {
                    if (retireSlots == retireWidth) { retireCycle++; retireSlots = 0; }
                    int take = Math.Min(rleft, retireWidth - retireSlots);
                    retireSlots += take;
                    rleft -= take;
                }
                for (int u = 0; u < fused && u < robSize; u++) _rob[(robPos + u) % robSize] = retireCycle + 1;
                robPos = (robPos + fused) % robSize;
                if (retireCycle > maxCycle) maxCycle = retireCycle;
                if (k >= warm) _offsetSum[i] += retireCycle - prevLastRetire;
                if (last) prevLastRetire = retireCycle;
            }
        }
        totalSum = _offsetSum[n - 1];
        // The next simulation starts after every reservation made here (the rings need no clearing).
        _base = Math.Max(maxCycle, issueCycle) + Window;
        if (_base > 1 << 30) { Array.Clear(_busy); _base = 1; }
    }

    /// <summary>Reserves the eligible port that is free earliest at or after <paramref name="ready"/>; returns the dispatch cycle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Dispatch(ushort mask, int ready)
    {
        int bestPort = -1, bestT = int.MaxValue;
        uint m = mask;
        while (m != 0)
        {
            int port = BitOperations.TrailingZeroCount(m);
            m &= m - 1;
            if (port >= EngineProfile.MaxPorts) break;
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

    private OpAccess AccessOf(in Instruction ins, int op) => _info.GetInfo(in ins, InstructionInfoOptions.NoRegisterUsage | InstructionInfoOptions.NoMemoryUsage).GetOpAccess(op);

    private long MemKey(in Staged s)
    {
        long vb = s.Base < 16 ? _version[s.Base] : -1;
        long vi = s.Index < 16 ? _version[s.Index] : -1;
        return (s.Disp * unchecked((long)0x9E3779B97F4A7C15UL))
             ^ ((long)(s.Base | (s.Index << 8) | (s.Scale << 16) | (s.Segment << 20)) * 0x6C8E9CF570932BD5L)
             ^ ((vb << 32 ^ vi) * 0x2545F4914F6CDD1DL);
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
