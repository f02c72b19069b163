using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Memory;
using Vtx.Memory.Paging;
using Vtx.Timing;

namespace Vtx;

/// <summary>
/// One x86-64 logical processor: its architectural state (SDM Vol. 1, chapter 3; Vol. 3A,
/// chapter 2) and the interpreter that runs it, one instruction boundary at a time
/// (see docs/ARCHITECTURE.md, "One instruction, end to end").
/// </summary>
/// <remarks>
/// This version runs with flat segments and paging disabled (<see cref="SetFlatMode"/>), at CPL 0,
/// in 64-, 32- or 16-bit code. Exceptions stop the run and are reported to the host in
/// <see cref="RunResult"/>; delivery through the IDT, paging and mode transitions belong to the
/// system-architecture layer. Instances are not thread-safe, except <see cref="RequestStop()"/>, which
/// another thread may call while <see cref="Run(in RunLimits)"/> executes.
/// </remarks>
public sealed unsafe partial class Cpu
{
    private readonly PhysicalMemory _mem;
    private readonly byte* _ram;
    private readonly ulong[] _gpr = new ulong[16];
    private readonly ulong[] _segBase = new ulong[6];
    private ICostModel _costModel = DefaultCostModel.Instance;
    // Timing (issue 10): the block simulation's packed profile when the cost model is a core profile
    // (null: each instruction costs what the ICostModel says). System costs come from CpuModel.Timing.
    // References, so snapshots leave them alone (host wiring, like the cost model).
    private EngineProfile? _blockTiming;
    private readonly TimingProfile _timing;
    private readonly bool[] _opEnabled;

    private ulong _rip, _nextRip;
    private ulong _csBase;
    private int _mmioGeneration;
    private bool _segChecks; // segment limit checks apply (outside 64-bit mode, some segment not flat)                       // CS base, kept out of the segment array for the fetch path
    private ulong _ipMask = ulong.MaxValue;      // 0xFFFF / 0xFFFF_FFFF outside 64-bit mode
    private ulong _linMask = ulong.MaxValue;     // linear addresses are 32-bit outside IA-32e mode
    private int _codeBits = 64;
    private int _stackSize = 8;
    private int _cpl;
    private ulong _cycles, _retired;
    private ulong _cycleBoundary = ulong.MaxValue; // REP string instructions stop iterating here
    // The run's instruction limit as a value of _retired. Each REP iteration that does not retire its
    // instruction consumes one unit of it (lowers it by one), so iterations count toward the limit.
    private ulong _insnBoundary = ulong.MaxValue;

    // Why the loop must look at something after an instruction: fault or halt (0 = nothing).
    private int _signal;
    private const int SignalFault = 1, SignalEvent = 2, SignalRefetch = 4;
    private byte _faultVector;
    private uint _faultError;
    private bool _faultHasError;

    // Fetch shortcut: the decoded page of the current code page (linear page _fetchLin).
    private DecodedPage _fetchPage;
    private ulong _fetchLin = 1; // never page-aligned: no page cached
    private readonly DecodedPage _noPage;
    private DecodedInstruction _scratch; // page-crossing or non-RAM decodings (never cached)

    /// <summary>Creates a processor attached to <paramref name="memory"/>, modelling <paramref name="model"/>.</summary>
    public Cpu(PhysicalMemory memory, CpuModel? model = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _mem = memory;
        _ram = memory.Pointer;
        Model = model ?? new CpuModel();
        _opEnabled = BuildFeatureTable(Model);
        _timing = Model.Timing ?? TimingProfile.Skylake;
        // A core profile costs runs by block simulation; the "simple" profile is vtx-cost-1's table itself.
        _blockTiming = EngineProfileAdapter.UsesEngine(_timing) ? EngineProfileAdapter.For(_timing) : null;
        _costModel = _blockTiming is null && _timing.CostModelName == DefaultCostModel.Instance.Name ? DefaultCostModel.Instance : _timing;
        InitBeyondTheCore(); // issue 10: TLB/cache timing models (Timing/Cpu.BeyondTheCore.cs)
        _noPage = new DecodedPage(ulong.MaxValue, 64); // a page number no RAM page has: never matches an invalidation
        _fetchPage = _noPage;
        _tlb = GC.AllocateArray<TlbEntry>(TlbSize * 2, pinned: true);
        FlushTlb();
        memory.CodeInvalidated += OnCodeInvalidated;
        // Any processor sharing this memory may turn a page into code: all must stop writing it directly.
        memory.CodePageMarked += EvictWritable;
        Apic = new Apic.LocalApic(() => _cycles, () => Tsc, () => _nmiPending = true, 0, Model.PhysicalAddressBits, Model.TscPerCycle);
        // A new processor starts like a new Machine: flat 64-bit mode, zeroed registers, RIP 0.
        // Reset() gives the architectural power-up state instead.
        Reset();
        SetFlatMode(64);
        _gpr[2] = 0;
        _rip = 0;
    }

    /// <summary>Memory-mapped I/O regions (host devices); they take precedence over RAM.</summary>
    public Devices.MmioMap Mmio { get; } = new();

    /// <summary>This processor's local APIC (SDM Vol. 3A, chapter 11).</summary>
    public Apic.LocalApic Apic { get; }

    /// <summary>The processor model (CPUID answers and offered features).</summary>
    public CpuModel Model { get; }

    /// <summary>The guest-physical memory this processor accesses.</summary>
    public PhysicalMemory Memory => _mem;

    /// <summary>
    /// The cost model charging cycles per instruction: initially <see cref="CpuModel.Timing"/>. A core
    /// profile (<see cref="TimingProfile"/> other than "simple") costs each sequential run by the
    /// steady-state block simulation when the run is decoded; any other <see cref="ICostModel"/> charges
    /// its own number per instruction. Setting it drops all cached decodings (costs are resolved at decode time).
    /// </summary>
    public ICostModel CostModel
    {
        get => _costModel;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _costModel = value;
            _blockTiming = value is TimingProfile tp && EngineProfileAdapter.UsesEngine(tp) ? EngineProfileAdapter.For(tp) : null;
            _mem.DecodeCache.Clear();
            ForgetFetchPage();
        }
    }

    /// <summary>The name of the timing in force, recorded with traces and snapshots: the cost model's name (e.g. "skylake-client", "vtx-cost-1").</summary>
    public string TimingName => _costModel.Name;

    // Issue 10: the profile's system costs replace the former constants (200 per VM transition, 20 per event).
    private int SystemCycles(SystemCost c) => _timing.System(c);

    /// <summary>General-purpose register <paramref name="r"/> (all 64 bits).</summary>
    public ulong this[Gpr r]
    {
        get => _gpr[CheckGpr(r)];
        set => _gpr[CheckGpr(r)] = value;
    }

    private static int CheckGpr(Gpr r) =>
        (uint)r < 16 ? (int)r : throw new ArgumentOutOfRangeException(nameof(r), r, "not a general-purpose register (Rax..R15)");

    /// <summary>The instruction pointer (RIP; EIP/IP outside 64-bit mode).</summary>
    public ulong Rip
    {
        get => _rip;
        set => _rip = value & _ipMask;
    }

    /// <summary>RFLAGS (SDM Vol. 1, 3.4.3). Writing forces the reserved bits (bit 1 = 1; 3, 5, 15, 22-63 = 0).</summary>
    public ulong Rflags
    {
        get => ReadRflags();
        set => WriteRflags(value);
    }

    /// <summary>Cycles elapsed, charged by the cost model at each retirement (and per REP iteration).</summary>
    public ulong Cycles => _cycles;

    /// <summary>Instructions retired (a REP string instruction counts once, when it completes).</summary>
    public ulong InstructionsRetired => _retired;

    /// <summary>The time-stamp counter: <see cref="Cycles"/> × <see cref="CpuModel.TscPerCycle"/> + <see cref="TscOffset"/>.</summary>
    public ulong Tsc => _cycles * Model.TscPerCycle + TscOffset;

    // Multiprocessor machines (Machine.Smp.cs): the processors' TSCs count one shared, synchronised
    // time, as on real multi-core parts, but a processor runs its turn up to a quantum behind the one
    // before it. So that no processor reads a count below one another has already read (which software
    // sees as the TSCs running apart — Linux's warp check — though only the turn order made it), a read
    // returns at least the highest count read so far by any processor; each keeps its own offset. The
    // value is a function of the deterministic schedule and is in snapshots. Null on one processor.
    internal SmpSchedule? TscSync;

    /// <summary>The TSC as RDTSC, RDTSCP and RDMSR read it: <see cref="Tsc"/>, kept causal across processors (see <see cref="TscSync"/>).</summary>
    private ulong ReadTsc()
    {
        ulong count = _cycles * Model.TscPerCycle;
        if (TscSync is { } sync)
        {
            if (count < sync.TscSeen) count = sync.TscSeen;
            else sync.TscSeen = count;
        }
        return count + TscOffset;
    }

    /// <summary>Added to the scaled cycle count to form the TSC (a write to IA32_TSC adjusts it).</summary>
    public ulong TscOffset
    {
        get => _tscOffset;
        set { _tscOffset = value; Apic.TscChanged(); } // an armed TSC deadline follows the TSC
    }

    private ulong _tscOffset;

    /// <summary>IA32_TSC_AUX (MSR C000_0103h), returned in ECX by RDTSCP.</summary>
    public uint TscAux { get; set; }

    /// <summary>Current privilege level (0 in this version's flat mode).</summary>
    public int Cpl => _cpl;

    /// <summary>Code size in bits: 64 (64-bit mode), 32 or 16.</summary>
    public int CodeSize => _codeBits;

    /// <summary>True while the processor is in the HLT state (it leaves it for an NMI or an unmasked interrupt, or by <see cref="Resume"/>).</summary>
    public bool IsHalted => _halted;

    /// <summary>Leaves the HLT state so that <c>Run</c> continues at <see cref="Rip"/>.</summary>
    public void Resume() => _halted = false;

    /// <summary>Effective base address of segment <paramref name="seg"/> (in 64-bit mode only FS and GS have non-zero bases, SDM Vol. 3A, 3.4.4).</summary>
    public ulong GetSegmentBase(SegmentRegister seg) => _segBase[CheckSeg(seg)];

    /// <summary>FS base (IA32_FS_BASE).</summary>
    public ulong FsBase { get => _seg[4].Base; set { _seg[4] = _seg[4] with { Base = value }; ModeChanged(); } }

    /// <summary>GS base (IA32_GS_BASE).</summary>
    public ulong GsBase { get => _seg[5].Base; set { _seg[5] = _seg[5] with { Base = value }; ModeChanged(); } }

    /// <summary>Selector of segment register <paramref name="seg"/>.</summary>
    public ushort GetSelector(SegmentRegister seg) => _seg[CheckSeg(seg)].Selector;

    /// <summary>
    /// Puts the processor in flat <paramref name="codeSize"/>-bit operation with paging disabled
    /// and CPL 0, with x87/SSE enabled as for a program (CR0.MP/NE, CR4.OSFXSR/OSXMMEXCPT, FNINIT state); 64 = 64-bit mode; 32 = 32-bit protected mode with 4-GiB flat segments; 16 = 16-bit
    /// protected mode with flat 64-KiB-addressable segments. Segment bases other than FS/GS are 0.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="codeSize"/> is not 16, 32 or 64.</exception>
    public void SetFlatMode(int codeSize)
    {
        if (codeSize is not (16 or 32 or 64))
            throw new ArgumentOutOfRangeException(nameof(codeSize), codeSize, "code size must be 16, 32 or 64");
        // Flat protected mode (or 64-bit mode: EFER.LME/LMA set, CS.L = 1); paging stays off here.
        // x87 and SSE are ready as an operating system leaves them for a program: CR0.MP/NE,
        // CR4.OSFXSR/OSXMMEXCPT (as far as the model offers them), FNINIT state, MXCSR 1F80h.
        _cr0 = Cr0.PE | Cr0.ET | Cr0.NE | Cr0.MP;
        _cr4 = (_cr4 & ~(Cr4.OSFXSR | Cr4.OSXMMEXCPT)) | (Model.Fxsr ? Cr4.OSFXSR : 0) | (Model.Sse ? Cr4.OSXMMEXCPT : 0);
        InitFpuForPrograms();
        _efer = codeSize == 64 ? Efer.LME | Efer.LMA : 0;
        uint codeAr = 0x9B | (codeSize == 64 ? SegmentCache.L : codeSize == 32 ? SegmentCache.DB : 0) | SegmentCache.G;
        uint dataAr = 0x93 | (codeSize == 16 ? 0 : SegmentCache.DB) | SegmentCache.G;
        ulong fs = _seg[4].Base, gs = _seg[5].Base;
        _seg[1] = SegmentCache.Flat(0x08, codeAr);
        _seg[0] = _seg[2] = _seg[3] = SegmentCache.Flat(0x10, dataAr);
        _seg[4] = SegmentCache.Flat(0x10, dataAr) with { Base = fs };
        _seg[5] = SegmentCache.Flat(0x10, dataAr) with { Base = gs };
        _cpl = 0;
        _signal = 0;
        _halted = false;
        _shutdown = false;
        InterceptedExceptions = 0xFFFF_FFFF; // flat mode has no IDT: exceptions stop the run
        ModeChanged();
        FlushTlb();
        TimingTlbFlushAll();
    }

    private static bool[] BuildFeatureTable(CpuModel m)
    {
        var t = new bool[Enum.GetValues<Op>().Length + 1];
        Array.Fill(t, true);
        void Off(bool on, params Op[] ops) { if (!on) foreach (var o in ops) t[(int)o] = false; }
        Off(m.Movbe, Op.Movbe);
        Off(m.Popcnt, Op.Popcnt);
        Off(m.Bmi1, Op.Andn, Op.Bextr, Op.Blsi, Op.Blsmsk, Op.Blsr, Op.Tzcnt);
        Off(m.Bmi2, Op.Bzhi, Op.Mulx, Op.Pdep, Op.Pext, Op.Rorx, Op.Sarx, Op.Shlx, Op.Shrx);
        Off(m.Adx, Op.Adcx, Op.Adox);
        Off(m.Lzcnt, Op.Lzcnt);
        Off(m.Rdtscp, Op.Rdtscp);
        return t;
    }

    // ------------------------------------------------------------------ faults

    /// <summary>Records a fault for the current instruction; handlers return right after, committing nothing.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Fault(ExceptionVector vector, uint errorCode = 0, bool hasError = false)
    {
        if ((_signal & SignalFault) != 0) return false; // the first fault of an instruction wins
        _signal |= SignalFault;
        _faultVector = (byte)vector;
        _faultError = errorCode;
        _faultHasError = hasError;
        return false;
    }

    private bool FaultGp0() => Fault(ExceptionVector.GP, 0, true);

    // ------------------------------------------------------------------ run loop

    /// <summary>
    /// Runs until a limit in <paramref name="limits"/> is reached, an exception occurs, or HLT.
    /// Deterministic: the same state and limits always give the same result, counts and state
    /// (host stops — <see cref="RequestStop()"/>, <see cref="RunLimits.Cancellation"/>,
    /// <see cref="RunLimits.MaxWallTime"/> — are the exception: where they land depends on the host).
    /// Every limit bounds host time; REP iterations count toward <see cref="RunLimits.MaxInstructions"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RunResult Run(in RunLimits limits)
    {
        ulong startRetired = _retired, startCycles = _cycles;
        _insnBoundary = limits.MaxInstructions is ulong mi ? SatAdd(_retired, mi) : ulong.MaxValue;
        ulong cycleEnd = limits.MaxCycles is ulong mc ? SatAdd(_cycles, mc) : ulong.MaxValue;
        // A non-canonical value no RIP can take stands for "no stop address".
        ulong stopAt = limits.StopAddress ?? 0x8000_0000_0000_0000UL;
        _cycleBoundary = cycleEnd;
        _tierStopAt = stopAt;

        StopReason reason;
        _signal = 0;
        // Host stops (RequestStop, the cancellation token, the wall-clock budget) all raise one flag
        // that the loop reads once per iteration; nothing else is looked at unless it is set.
        HostStopWatch watch = default;
        if (limits.Cancellation.CanBeCanceled || limits.MaxWallTime is not null) watch = StartHostStopWatch(in limits);
        if (Mmio.Generation != _mmioGeneration)
        {
            // Regions changed since the last run: no TLB entry may bypass a new region.
            _mmioGeneration = Mmio.Generation;
            FlushTlb();
        }
        if (_hostDebugArmed) HostDebugRunStarts();
        while (true)
        {
            // HLT with nothing that could ever wake it ends the run at once, whatever the limits.
            if (_halted && !CanWake && HaltWakeDeadline == ulong.MaxValue) { reason = StopReason.Halted; break; }
            if (_retired >= _insnBoundary) { reason = StopReason.InstructionLimit; break; }
            if (_cycles >= cycleEnd) { reason = StopReason.CycleLimit; break; }
            if (Volatile.Read(ref _hostStop) != 0 && TakeHostStop(in limits, watch, out reason)) break;
            if (_shutdown) { reason = StopReason.Shutdown; break; }
            if (_exitCode is not null) { reason = TakeStopReason(); break; }
            if (_hostDebugArmed && HostWatchStop(out reason)) break;

            // Boundary: one test when nothing is pending; otherwise the arbiter decides.
            ulong deadline = cycleEnd;
            bool pending = EventsPending; // issue 13: runs chain only while nothing is pending (no deadline but the limits)
            if (pending)
            {
                if (Arbitrate())
                {
                    ForgetBreakpointMatches(); // the delivery's own stack accesses trap nothing
                    _signal = 0; // a VM exit taken here leaves nothing for the fetch below to handle
                    _cycles += (ulong)SystemCycles(SystemCost.InterruptDelivery); // issue 10: profile's interrupt-delivery cost
                    continue;
                }
                if (_halted)
                {
                    // Time passes in HLT until the next posted event or timer deadline. When there is
                    // none (the one just reached was masked by IF), time stands still: the check at
                    // the top ends the run.
                    ulong next = NextDeadline;
                    if (next != ulong.MaxValue || CanWake) _cycles = Math.Max(_cycles, Math.Min(next, cycleEnd));
                    continue;
                }
                deadline = Math.Min(deadline, NextDeadline);
            }
            if (_rip == stopAt) { reason = StopReason.StopAddress; break; }
            if (_hostDebugArmed && HostBreakpointStop()) { reason = StopReason.Breakpoint; break; }

            ref DecodedInstruction d = ref Fetch();
            if ((_signal & SignalFault) != 0)
            {
                if (HandleFault(out reason)) continue;
                break;
            }

            // A sequential run that ends before every limit and deadline executes with no
            // per-instruction limit check or fetch; otherwise this step executes one instruction.
            // Both give the same boundaries, counts and cycles: only the bookkeeping differs.
            // An NMI or interrupt held back only by a shadow or by IF is looked at every boundary.
            bool held = _nmiPending || _intrPending || Apic.HasDeliverable || _vmxStep;
            // RFLAGS.TF at the start of an instruction: a single-step #DB trap follows it (SDM Vol. 3A, 18.3.1.4).
            bool singleStep = (_rflags & (ulong)RFlags.TF) != 0;
            // RFLAGS.RF at the start of an instruction: cleared once it completes, unless it is an IRET (SDM Vol. 3A, 18.3.1.1).
            bool resume = (_rflags & (ulong)RFlags.RF) != 0;
            // TF or an armed DR0-DR3 breakpoint: one instruction per step, with the debug bookkeeping after it.
            bool debugStep = singleStep || _bpArmed;
            int left = _retired + d.RunLength <= _insnBoundary && _cycles + d.RunCycles <= deadline
                       && stopAt - _rip >= d.RunBytes && !held && !debugStep && !resume && !_hostDebugArmed ? int.MaxValue : 1;
            if (debugStep)
            {
                _stepFrom = _rip;
                // An enabled instruction breakpoint faults before the instruction (SDM Vol. 3A, 18.3.1.1).
                if (_bpArmed && !resume && InstructionBreakpoint())
                {
                    if (HandleFault(out reason)) continue;
                    break;
                }
            }
            if (left == int.MaxValue)
            {
                // Issue 13, the quiet fast path: nothing pending, no debug stepping, RF clear, the run
                // fits every limit. Sequential runs execute with only the per-instruction commit, and
                // a run that ends in a plain branch chains to the next run without going back through
                // the boundary tests above: such a branch changes no state those tests read (RFLAGS.TF/
                // RF/IF, pending events, host debug), and every instruction that does raises _signal
                // (POPF, STI, MMIO/APIC and port writes, HLT, VM transitions...). The next run is
                // entered only when it too fits every limit, else the full boundary path steps to it.
                _tierChain = !pending; // the chaining test's `pending`, for compiled runs that loop to their own head
                while (true)
                {
                    if (_tierEnabled)
                    {
                        // Issue 13, the IL tier (Tier/Cpu.Tier.cs): the same run, compiled once hot.
                        ref DecodedInstruction last = ref TierTry(ref d);
                        if (!Unsafe.IsNullRef(ref last))
                        {
                            d = ref last;
                            if (_signal != 0) goto signalled;
                            goto ran;
                        }
                    }
                    while (true)
                    {
                        _nextRip = (_rip + d.Length) & _ipMask;
                        Execute(ref d);
                        if (_signal != 0) goto signalled;
                        _rip = _nextRip;
                        _cycles += d.Cost;
                        _retired++;
                        if ((d.Flags & DecodedFlags.Sequential) == 0) break;
                        d = ref Unsafe.Add(ref d, 1);
                    }
                ran:
                    // The boundary tests the chained path still makes, in the order of the full path:
                    // limits, host stop, stop address, then the fetch and its fault.
                    if (pending || !ChainsAfter(d.Op) || _retired >= _insnBoundary || _cycles >= cycleEnd
                        || Volatile.Read(ref _hostStop) != 0 || _rip == stopAt) goto boundary;
                    d = ref Fetch();
                    if ((_signal & SignalFault) != 0)
                    {
                        if (HandleFault(out reason)) goto boundary;
                        goto done;
                    }
                    if (_signal != 0 || _retired + d.RunLength > _insnBoundary || _cycles + d.RunCycles > cycleEnd
                        || stopAt - _rip < d.RunBytes) goto boundary; // a run that must be stepped: the full path
                }
            signalled:
                if ((_signal & SignalFault) != 0)
                {
                    if (HandleFault(out reason)) goto boundary;
                    goto done;
                }
                _rip = _nextRip;
                _cycles += d.Cost;
                _retired++;
                bool vmTransition = (_signal & SignalVmx) != 0;
                _signal = 0;
                if (!vmTransition && _vmxStep) NonRootRetired();
                goto boundary;
            }
            while (true)
            {
                _nextRip = (_rip + d.Length) & _ipMask;
                Execute(ref d);
                if (_signal != 0)
                {
                    if ((_signal & SignalFault) != 0)
                    {
                        if (HandleFault(out reason)) break;
                        goto done;
                    }
                    // HLT, STI, MOV SS, a write to this code page...: the instruction retires, then
                    // the loop goes back to the boundary.
                    _rip = _nextRip;
                    _cycles += d.Cost;
                    _retired++;
                    // A VM entry or exit replaced the state the instruction ran in: no RF or single-step bookkeeping.
                    bool transition = (_signal & SignalVmx) != 0;
                    _signal = 0;
                    if (transition) break;
                    if (_vmxStep) NonRootRetired(); // set only in non-root operation
                    if (resume && d.Op != Op.Iret) _rflags &= ~(ulong)RFlags.RF;
                    if (debugStep) DebugStepRetired(ref d, singleStep);
                    break;
                }
                _rip = _nextRip;
                _cycles += d.Cost;
                _retired++;
                if (resume && d.Op != Op.Iret) _rflags &= ~(ulong)RFlags.RF;
                if (debugStep) DebugStepRetired(ref d, singleStep);
                if (_vmxStep) NonRootRetired();
                if ((d.Flags & DecodedFlags.Sequential) == 0 || --left == 0) break;
                d = ref Unsafe.Add(ref d, 1);
            }
        boundary:;
        }

    done:
        watch.Dispose();
        FaultInfo? fault = null;
        if (reason == StopReason.Exception)
        {
            fault = new FaultInfo((ExceptionVector)_faultVector, _faultHasError ? _faultError : null);
            _signal &= ~SignalFault;
        }
        _cycleBoundary = ulong.MaxValue;
        _lastRunBoundary = _insnBoundary; // SMP scheduling: the limit units the run consumed (Cpu.Smp.cs)
        _insnBoundary = ulong.MaxValue;
        int? exitCode = reason == StopReason.DebugExit ? _exitCode : null;
        _exitCode = null;
        return new RunResult(reason, _rip, _retired - startRetired, _cycles - startCycles, fault) { ExitCode = exitCode };
    }

    /// <summary>
    /// Records the single-step trap of an instruction that began with TF = 1 (DR6.BS); software
    /// interrupts that cleared TF on delivery take none.
    /// </summary>
    private void SingleStepTrap(ref DecodedInstruction d)
    {
        if ((_rflags & (ulong)RFlags.TF) == 0 && d.Op is Op.Int or Op.Int3 or Op.Into or Op.Int1) return;
        if ((_debugCtl & DebugCtlBtf) != 0 && !BranchTaken(ref d)) return; // BTF: branches only (SDM Vol. 3B, 18.4.3)
        _pendingDbg |= 1UL << 14;
        _dbTrapPending = true;
    }

    /// <summary>After a snapshot restore: caches are dropped and derived state is recomputed.</summary>
    internal void AfterRestore()
    {
        FlushTlb();
        FlushEptTlb();
        ModeChanged();
        _tlbTimingVpid0Clean = false; // issue 13: the restored timing-TLB state may hold VPID-0 entries
    }

    private static ulong SatAdd(ulong a, ulong b) => a + b < a ? ulong.MaxValue : a + b;

    /// <summary>
    /// A fault is pending: stop the run when the host intercepts its vector (the fault stays
    /// recorded for the result), or deliver it. Returns true to continue running.
    /// </summary>
    private bool HandleFault(out StopReason reason)
    {
        reason = StopReason.Exception;
        ForgetBreakpointMatches(); // the faulting instruction did not complete: no data breakpoint trap
        if (_faultVector == EptExitVector)
        {
            if (TakeEptExit())
            {
                _signal = 0;
                return true;
            }
            // Converted into a #VE (Cpu.Ept.cs): delivered below like any fault of the instruction.
        }
        if (_faultVector == ApicAccessExitVector)
        {
            TakeApicAccessExit();
            _signal = 0;
            return true;
        }
        if (IsIntercepted(_faultVector) || _faultVector >= 32) return false;
        _signal &= ~SignalFault;
        bool wasNonRoot = _nonRoot;
        bool delivered = DeliverEvent(_faultVector, EventKind.HardwareException, _faultError, _faultHasError, _rip);
        _signal = 0;
        // MTF: an exit becomes pending after the delivery of a fault the instruction raised (unless that caused a VM exit).
        if (wasNonRoot && _nonRoot && NrProc(Vmx.PrimaryProcessorBasedControls.MonitorTrapFlag)) { _mtfPending = true; UpdateVmxWatch(); }
        if (!delivered) { reason = StopReason.Shutdown; return false; }
        _cycles += (ulong)SystemCycles(SystemCost.ExceptionDelivery); // issue 10: profile's exception-delivery cost
        // A delivered exception counts toward the instruction limit, like a REP iteration: a guest whose
        // handler faults again and again retires nothing, and the limit must still bound the run.
        if (_insnBoundary != ulong.MaxValue && _insnBoundary > _retired) _insnBoundary--;
        return true;
    }

    // ------------------------------------------------------------------ fetch

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref DecodedInstruction Fetch()
    {
        ulong lin = _rip + _csBase;
        if ((lin & ~0xFFFUL) == _fetchLin)
        {
            ref DecodedInstruction d = ref _fetchPage.Lookup((int)lin & 0xFFF);
            if (!Unsafe.IsNullRef(ref d)) return ref d;
        }
        return ref FetchSlow(lin);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref DecodedInstruction FetchSlow(ulong lin)
    {
        lin &= _linMask;
        if (!Translate(lin, Access.Execute, out ulong pa)) return ref _scratch;
        if (_apicAccessArmed && IsApicAccessPage(pa)) { ApicAccessFetch(pa); return ref _scratch; }
        ulong ppn = pa >> 12;
        int off = (int)(pa & 0xFFF);
        DecodeCache cache = _mem.DecodeCache;
        Span<byte> buf = stackalloc byte[15];
        if (!_mem.IsRamPage(ppn))
        {
            // Fetching from outside RAM reads an unclaimed bus (all ones): never cached.
            _mem.Read(pa, buf);
            _scratch = cache.Decode(buf, _codeBits, out _);
            Finish(ref _scratch);
            CostAlone(cache);
            return ref _scratch;
        }

        DecodedPage page = cache.GetOrCreatePage(ppn, _codeBits);
        ref DecodedInstruction d = ref page.Lookup(off);
        if (Unsafe.IsNullRef(ref d))
        {
            int avail = 4096 - off;
            DecodedInstruction decoded = cache.Decode(new ReadOnlySpan<byte>(_ram + pa, Math.Min(avail, 15)), _codeBits, out bool more);
            if (more && avail < 15)
            {
                // The instruction continues on the next page: fetch that page too (it may fault) and
                // decode from both, without caching, so a write to either page is always seen.
                ulong lin2 = ((lin & ~0xFFFUL) + 4096) & _linMask;
                if (!Translate(lin2, Access.Execute, out ulong pa2)) return ref _scratch;
                new ReadOnlySpan<byte>(_ram + pa, avail).CopyTo(buf);
                _mem.Read(pa2, buf[avail..]);
                _scratch = cache.Decode(buf, _codeBits, out _);
                Finish(ref _scratch);
                CostAlone(cache);
                _scratch.RunLength = 1;
                _scratch.RunBytes = _scratch.Length;
                _scratch.RunCycles = _scratch.Cost;
                if (page.Count == 0) ForgetEmptyPage(ppn);
                return ref _scratch;
            }
            if (!_mem.IsCodePage(ppn))
            {
                _mem.MarkCodePage(ppn); // evicts write TLB entries of every processor (EvictWritable)
            }
            // Decode the straight-line run that starts here, up to a control transfer, the page end,
            // an offset decoded before, or 64 instructions, so execution can step through it.
            int start = page.Count, o = off;
            byte* pageBase = _ram + (ppn << 12);
            Span<short> offsets = stackalloc short[64]; // page offset of each instruction of the run (issue 10: loop heads)
            // Issue 10: with a core profile, the run's instructions are staged for the block simulation.
            BlockSimulator? sim = null;
            if (_blockTiming is not null) { sim = BlockSimulator.ForThread; sim.Begin(_blockTiming); }
            while (true)
            {
                Finish(ref decoded);
                sim?.Stage(in cache.LastInstruction, in decoded, _codeBits);
                offsets[page.Count - start] = (short)o;
                page.Add(o, decoded);
                o += decoded.Length;
                if (EndsRun(in decoded) || o >= 4096 || page.Count - start >= 64 || !Unsafe.IsNullRef(ref page.Lookup(o))) break;
                decoded = cache.Decode(new ReadOnlySpan<byte>(pageBase + o, Math.Min(4096 - o, 15)), _codeBits, out more);
                if (more) break; // crosses the page end: decoded when reached
            }
            int count = page.Count - start;
            if (sim is null) page.SealRun(count);
            else
            {
                // Issue 10: each instruction's cost comes from the steady state of its run as a loop body.
                // A run whose closing branch jumps back into it (a loop head after some set-up code) is
                // split there: the loop body is then its own run, costed as the loop it is.
                Span<DecodedInstruction> run = page.Recent(count);
                int split = LoopHead(run, offsets[..count]);
                if (split > 0)
                {
                    sim.Cost(run[..split], 0);
                    sim.Cost(run[split..], split);
                    page.SealRunAt(start, split);
                    page.SealRunAt(start + split, count - split);
                }
                else
                {
                    sim.Cost(run, 0);
                    page.SealRun(count);
                }
            }
            d = ref page.Lookup(off);
        }
        _fetchPage = page;
        _fetchLin = ((_rip + _csBase) & ~0xFFFUL) == (lin & ~0xFFFUL) ? lin & ~0xFFFUL : 1;
        return ref d;
    }

    /// <summary>
    /// Issue 13: the run enders after which the quiet fast path may chain to the next run: near branches,
    /// which change only RIP, RSP, general registers, status flags and memory (never TF, RF, IF, the mode
    /// or anything an event test reads), so the boundary state is the one the run started from.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ChainsAfter(Op op) =>
        op is Op.Jcc or Op.Jmp or Op.JmpIndirect or Op.Call or Op.CallIndirect or Op.Ret or Op.CallRel64 or Op.Ret64
            or Op.Loop or Op.Loope or Op.Loopne or Op.Jrcxz;

    /// <summary>Instructions after which the next instruction is not necessarily the next one in memory.</summary>
    private static bool EndsRun(in DecodedInstruction d) =>
        d.Op is Op.Jmp or Op.JmpIndirect or Op.Call or Op.CallIndirect or Op.Ret or Op.Jcc or Op.Jrcxz
            or Op.Loop or Op.Loope or Op.Loopne or Op.Hlt or Op.Invalid or Op.Unsupported or Op.Ud
            or Op.CallRel64 or Op.Ret64
            // Far transfers and events: the next instruction is at another CS:RIP (maybe another code size).
            or Op.JmpFar or Op.CallFar or Op.JmpFarIndirect or Op.CallFarIndirect or Op.RetFar or Op.Iret
            or Op.Int or Op.Int3 or Op.Into or Op.Int1 or Op.Syscall or Op.Sysret or Op.Sysenter or Op.Sysexit
        || (d.Flags & (DecodedFlags.Rep | DecodedFlags.Repne)) != 0;

    /// <summary>
    /// Issue 10: a divide's latency beyond the fastest step (which the block simulation charged), by the
    /// significant bits of the dividend (rDX:rAX; for IDIV its magnitude). The extra cycles end the run at
    /// this boundary, so that limits and events are looked at with them counted.
    /// </summary>
    private void DivideTiming(int size, bool signed, int dividendBits)
    {
        int extra = _blockTiming!.DivideExtra(size, signed, dividendBits);
        if (extra <= 0) return;
        _cycles += (ulong)extra;
        _signal |= SignalEvent;
    }

    /// <summary>
    /// Issue 10: the index inside <paramref name="run"/> that its closing relative branch targets
    /// (a loop head after set-up code), or 0 when it targets the run's start or lies outside it.
    /// </summary>
    private static int LoopHead(Span<DecodedInstruction> run, Span<short> offsets)
    {
        ref DecodedInstruction last = ref run[^1];
        if (last.Op is not (Op.Jcc or Op.Jmp or Op.Loop or Op.Loope or Op.Loopne or Op.Jrcxz)) return 0;
        long target = offsets[^1] + last.Length + last.Disp;
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] == target) return i;
        return 0;
    }

    /// <summary>Issue 10: an uncached decoding (<see cref="_scratch"/>) costed by the block simulation as a run of its own.</summary>
    private void CostAlone(DecodeCache cache)
    {
        if (_blockTiming is null) return;
        BlockSimulator sim = BlockSimulator.ForThread;
        sim.Begin(_blockTiming);
        sim.Stage(in cache.LastInstruction, in _scratch, _codeBits);
        sim.Cost(MemoryMarshal.CreateSpan(ref _scratch, 1));
    }

    private void ForgetEmptyPage(ulong ppn)
    {
        if (!_mem.IsCodePage(ppn)) _mem.DecodeCache.InvalidatePage(ppn);
    }

    /// <summary>Resolves the cost and the model's feature set into a fresh decoding.</summary>
    private void Finish(ref DecodedInstruction d)
    {
        if (d.Op == Op.Ext) FinishExt(ref d);
        if (!_opEnabled[(int)d.Op])
        {
            // Without LZCNT/BMI1, F3 0F BD/BC execute as BSR/BSF (the REP prefix is ignored); others #UD.
            d.Op = d.Op == Op.Lzcnt ? Op.Bsr : d.Op == Op.Tzcnt ? Op.Bsf : Op.Invalid;
        }
        if (_codeBits == 64 && !Model.LahfSahf64 && d.Op is Op.Lahf or Op.Sahf) d.Op = Op.Invalid;
        if (d.Op == Op.CmpxchgNb && d.OpSize == 16 && !Model.Cx16) d.Op = Op.Invalid;
        // 64-bit mode ignores CS/DS/ES/SS overrides (SDM Vol. 1, 3.3.7.1): the operand uses its default
        // segment, SS when the base is RSP/RBP, else DS; that is what decides #SS(0) or #GP(0) for a
        // non-canonical address. FS/GS overrides stay (their bases apply).
        if (_codeBits == 64 && d.HasMemory && d.Segment < 4)
            d.Segment = (byte)(d.Base is 4 or 5 ? 2 : 3);
        d.Op = Specialize(in d);
        // Issue 13: with a core profile the block simulation writes every cost (runs and lone decodings alike).
        d.Cost = _blockTiming is null ? (ushort)Math.Clamp(_costModel.Cost(d.Code, d.HasMemory), 1, 65535) : (ushort)1;
    }

    private void OnCodeInvalidated(ulong ppn)
    {
        if (_fetchPage.PageNumber != ppn) return;
        // The running sequential run may live in the dropped page: make the loop fetch again.
        ForgetFetchPage();
        _signal |= SignalRefetch;
    }

    private void ForgetFetchPage()
    {
        _fetchPage = _noPage;
        _fetchLin = 1;
    }

    // ------------------------------------------------------------------ translation and TLB

    private enum Access { Read, Write, Execute }

    // Issue 13: an entry is 32 bytes, and a hit is one compare of (page | key) against the tag — with the
    // page-crossing test folded into the same compare — and one add of the host delta to the linear address.
    [StructLayout(LayoutKind.Sequential)]
    private struct TlbEntry
    {
        public ulong Tag;       // linear page number (all 52 bits) | generation | privilege key, or ulong.MaxValue when empty
        public ulong HostDelta; // host address of the page minus its (unmasked) linear address
        public ulong Ppn;       // the physical page number (EvictWritable)
        public bool Global;     // a global translation (G = 1 with CR4.PGE): survives CR3 loads
    }

    // Tags hold the whole linear page number (bits 51:0), so that a non-canonical address (only the slow path
    // checks) never hits. There is no room left for a PCID beside it (a PCID in bits 57:46 made higher-half
    // pages of PCIDs that differ only in bits 5:0 share a tag), so the software TLB holds translations of the
    // current PCID only: a MOV CR3 that changes the PCID empties it (a cache may always drop entries; the
    // architectural TLB's PCID behaviour, as far as cycles see it, is the timing model's). Page-number
    // matches (INVLPG, the timing model's drops) compare bits 45:0, the address bits 57:12.
    private const ulong TlbVpnMask = (1UL << 46) - 1;
    // Issue 13: FlushTlb advances a generation that every tag and the key carry (bits 60:58, values 0-6, so a
    // key never equals NoTag); entries of older generations can no longer match. The array is cleared only
    // when the generation wraps, so the full flush of every VM entry and exit costs O(1) most of the time.
    private const int TlbGenShift = 58;
    private const ulong TlbGenMask = 7UL << TlbGenShift;
    private int _tlbGen;

    private const int TlbSize = 256;
    private const ulong NoTag = ulong.MaxValue;
    private readonly TlbEntry[] _tlb; // [0, TlbSize) reads, [TlbSize, 2*TlbSize) writes

    /// <summary>Drops every TLB entry and the fetch shortcut.</summary>
    private void FlushTlb()
    {
        if (++_tlbGen == 7)
        {
            _tlbGen = 0;
            for (int i = 0; i < _tlb.Length; i++) _tlb[i].Tag = NoTag;
        }
        _tlbKey = (_tlbKey & ~TlbGenMask) | ((ulong)_tlbGen << TlbGenShift);
        ForgetFetchPage();
    }

    /// <summary>
    /// Drops the non-global translations (of <paramref name="pcid"/> only, when given): what MOV CR3
    /// and INVPCID types 1 and 3 must do (SDM Vol. 3A, 4.10.4.1). Global ones may stay. The software TLB
    /// only holds translations made under the current PCID, so another PCID has nothing here to drop.
    /// </summary>
    private void FlushTlbNonGlobal(int? pcid = null)
    {
        if (pcid is int p && (ulong)p != _paging.Pcid) return;
        for (int i = 0; i < _tlb.Length; i++)
        {
            ref TlbEntry e = ref _tlb[i];
            if (e.Tag != NoTag && !e.Global) e.Tag = NoTag;
        }
        ForgetFetchPage();
    }

    /// <summary>Write entries must never point at pages holding decodings, so that writes there take the invalidating path.</summary>
    private void EvictWritable(ulong ppn)
    {
        for (int i = TlbSize; i < 2 * TlbSize; i++)
        {
            ref TlbEntry e = ref _tlb[i];
            if (e.Tag != NoTag && e.Ppn == ppn) e.Tag = NoTag;
        }
    }

    /// <summary>
    /// Linear to physical translation with its faults. Paging is disabled in this version, so a
    /// linear address is the physical address; in 64-bit mode a non-canonical address faults with
    /// #GP(0) (#SS(0) for stack references), SDM Vol. 3A, 3.3.7.1.
    /// </summary>
    private bool Translate(ulong lin, Access access, out ulong pa, bool stack = false)
    {
        if (_codeBits == 64 && !IsCanonical(lin))
        {
            pa = 0;
            return stack ? Fault(ExceptionVector.SS, 0, true) : FaultGp0();
        }
        if ((_cr0 & Cr0.PG) == 0 && !_eptOn)
        {
            pa = lin;
            _lastRights = PageRights.All;
            _lastGlobal = false;
            return true;
        }
        var kind = access switch
        {
            Access.Write => PageAccessKind.Write,
            Access.Execute => PageAccessKind.Execute,
            _ => PageAccessKind.Read,
        };
        var acc = new PageAccess(kind, _implicitAccess ? 0 : _cpl, _implicitAccess, (_rflags & (ulong)RFlags.AC) != 0);
        if (_tlbTiming is not null && access != Access.Execute) return TranslateTimed(lin, access, acc, out pa); // issue 10: page-walk timing
        if (_eptOn) return TranslateEpt(lin, access, acc, out pa);
        var r = PageWalker.Walk(new PhysicalMemoryAccess(_mem), in _paging, lin, acc);
        pa = r.PhysicalAddress;
        return TakeWalk(in r, lin);
    }

    /// <summary>Records a successful walk for the TLB fill that follows, or raises its #PF (CR2 = the linear address).</summary>
    private bool TakeWalk(in PageWalkResult r, ulong lin)
    {
        _lastWalkRefs = r.MemoryAccesses; // issue 10: the walk's size for the TLB timing model
        _lastWalkShift = (int)r.Size;
        if (!r.Success)
        {
            if ((_signal & SignalFault) == 0) _cr2BeforeFault = _cr2; // a #PF that exits in non-root leaves CR2 unchanged
            _cr2 = lin;
            return Fault(ExceptionVector.PF, (uint)r.ErrorCode, true);
        }
        _lastRights = r.Rights;
        _lastDirty = r.Dirty;
        _lastGlobal = r.Global;
        return true;
    }

    // Rights and dirty state of the last successful translation, for the TLB fill that follows it.
    private PageRights _lastRights;
    private bool _lastDirty, _lastGlobal;
    private ulong _cr2BeforeFault;
    private bool _implicitAccess;
    private PagingContext _paging;

    /// <summary>TLB tags carry the privilege class (user or supervisor) of the accesses they serve.</summary>
    private ulong TlbKey => _tlbKey;
    private ulong _tlbKey; // TlbUserKey at CPL 3 (outside implicit supervisor accesses), else 0

    /// <summary>Re-derives the TLB privilege key after CPL or the implicit-access state changed.</summary>
    private void UpdateTlbKey() =>
        _tlbKey = (_cpl == 3 && !_implicitAccess ? TlbUserKey | AlignmentKey() : 0)
                  | (_dataBpArmed || _hostWatchArmed || _cacheTiming ? TlbBreakpointKey : 0) // issue 10: the cache model sees every access
                  | ((ulong)_tlbGen << TlbGenShift); // issue 13: the flush generation
    private const ulong TlbUserKey = 1UL << 62;

    // Alignment checking active (CR0.AM, RFLAGS.AC, CPL 3, not an implicit supervisor access; SDM Vol. 3A
    // 6.15 #AC): a key bit no TLB tag carries, so every data access misses the fast path and the slow path
    // checks alignment. Kept current wherever CPL, CR0 or RFLAGS.AC change (ModeChanged, WriteRflags, STAC/CLAC).
    private const ulong TlbAlignKey = 1UL << 63;
    // Key bits no TLB entry is ever filled with (FillTlb refuses while one is set): alignment checking
    // (#AC) and armed data breakpoints (Cpu.Debug.cs) both force every data access into the slow path.
    private const ulong TlbSlowKeys = TlbAlignKey | TlbBreakpointKey;
    private ulong AlignmentKey() => (_cr0 & Cr0.AM) != 0 && (_rflags & (ulong)RFlags.AC) != 0 ? TlbAlignKey : 0;

    /// <summary>#AC(0) for a misaligned access of <paramref name="size"/> (2, 4, 8 bytes: word/dword/qword alignment) while alignment checking is active (SDM Vol. 3A 6.15, interrupt 17).</summary>
    private bool Misaligned(ulong lin, int size) =>
        (_tlbKey & TlbAlignKey) != 0 && (lin & (ulong)(size - 1)) != 0 && !Fault(ExceptionVector.AC, 0, true);

    /// <summary>Rebuilds the paging context after CR0, CR3, CR4 or EFER changed (and reloads PAE PDPTEs when required).</summary>
    private bool RefreshPaging(bool loadPdptes)
    {
        var ctx = new PagingContext(_cr0, _cr3, _cr4, _efer, Model.PhysicalAddressBits, _paging.Pdptes);
        if (loadPdptes && ctx.Mode == PagingMode.Pae)
        {
            PaePdptes pdptes;
            if (_eptOn ? !LoadPdptesEpt(_cr3, out pdptes) : !PageWalker.LoadPdptes(new PhysicalMemoryAccess(_mem), _cr3, Model.PhysicalAddressBits, out pdptes)) return false;
            ctx = ctx.WithPdptes(pdptes);
        }
        _paging = ctx;
        return true;
    }

    private void FillTlb(ulong lin, ulong pa, Access access)
    {
        ulong ppn = pa >> 12;
        if (!_mem.IsRamPage(ppn) || IsApicPage(pa) || IsApicAccessPage(pa) || (!Mmio.IsEmpty && Mmio.Intersects(pa & ~0xFFFUL, 4096))) return;
        // With SMAP, supervisor accesses to user pages depend on RFLAGS.AC: they always walk.
        if ((_cr4 & Cr4.SMAP) != 0 && (_lastRights & PageRights.User) != 0 && (TlbKey & TlbUserKey) == 0 && (_cr0 & Cr0.PG) != 0) return; // a supervisor access (the key also holds the generation)
        if ((TlbKey & TlbSlowKeys) != 0) return; // alignment checking or data breakpoints: every access takes the slow path
        ulong vpn = lin >> 12;
        int i = (int)(vpn & (TlbSize - 1));
        if (access == Access.Write)
        {
            // Only a page whose dirty flag is already set may be written without a walk.
            if (_mem.IsCodePage(ppn) || !_lastDirty && (_cr0 & Cr0.PG) != 0) return;
            i += TlbSize;
        }
        _tlb[i].Tag = vpn | TlbKey;
        _tlb[i].HostDelta = (ulong)_ram + (ppn << 12) - (vpn << 12);
        _tlb[i].Ppn = ppn;
        _tlb[i].Global = _lastGlobal && (_cr0 & Cr0.PG) != 0;
    }

    // ------------------------------------------------------------------ memory access

    /// <summary>Reads <paramref name="size"/> (1, 2, 4, 8) bytes at linear address <paramref name="lin"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Read(ulong lin, int size, out ulong v, bool stack = false)
    {
        ulong vpn = lin >> 12;
        ref TlbEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_tlb), (int)(vpn & (TlbSize - 1)));
        if (((vpn | _tlbKey) ^ e.Tag | ((lin ^ (lin + (ulong)size - 1)) >> 12)) == 0)
        {
            byte* p = (byte*)(lin + e.HostDelta);
            v = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            return true;
        }
        return ReadSlow(lin, size, out v, stack);
    }

    /// <summary>
    /// The read of a read-modify-write destination (ADD [m], r; BTS; XCHG; shifts; ...): the memory is
    /// read, but translated for write, as processors do, so a fault on it is a write fault (#PF error
    /// code W = 1, dirty flag set with the accessed flag) even though the write has not happened yet.
    /// Hits the write TLB, which the write that follows hits too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadRmw(ulong lin, int size, out ulong v, bool stack = false)
    {
        ulong vpn = lin >> 12;
        ref TlbEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_tlb), TlbSize + (int)(vpn & (TlbSize - 1)));
        if (((vpn | _tlbKey) ^ e.Tag | ((lin ^ (lin + (ulong)size - 1)) >> 12)) == 0)
        {
            byte* p = (byte*)(lin + e.HostDelta);
            v = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            return true;
        }
        return ReadRmwSlow(lin, size, out v, stack);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReadRmwSlow(ulong lin, int size, out ulong v, bool stack) => ReadSlowAs(lin, size, out v, stack, Access.Write);

    /// <summary>Writes the low <paramref name="size"/> (1, 2, 4, 8) bytes of <paramref name="v"/> at <paramref name="lin"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Write(ulong lin, int size, ulong v, bool stack = false)
    {
        ulong vpn = lin >> 12;
        ref TlbEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_tlb), TlbSize + (int)(vpn & (TlbSize - 1)));
        if (((vpn | _tlbKey) ^ e.Tag | ((lin ^ (lin + (ulong)size - 1)) >> 12)) == 0)
        {
            byte* p = (byte*)(lin + e.HostDelta);
            switch (size)
            {
                case 1: *p = (byte)v; break;
                case 2: *(ushort*)p = (ushort)v; break;
                case 4: *(uint*)p = (uint)v; break;
                default: *(ulong*)p = v; break;
            }
            return true;
        }
        return WriteSlow(lin, size, v, stack);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReadSlow(ulong lin, int size, out ulong v, bool stack) => ReadSlowAs(lin, size, out v, stack, Access.Read);

    /// <summary>
    /// The slow path of a read: segment-fault and alignment checks, data breakpoints, a page split
    /// (both pages translated before anything is read) and the TLB fill. A read-modify-write
    /// destination is translated for <see cref="Access.Write"/> (a #PF then reports W = 1).
    /// </summary>
    private bool ReadSlowAs(ulong lin, int size, out ulong v, bool stack, Access access)
    {
        v = 0;
        if ((_signal & SignalFault) != 0) return false; // a segment check already faulted this access
        if (Misaligned(lin, size)) return false;
        lin &= _linMask;
        if (_dataBpArmed) DataBreakpointCheck(lin, size, access == Access.Write);
        if (_hostWatchArmed) HostWatchCheck(lin, size, read: true, write: access == Access.Write);
        ulong end = (lin + (ulong)size - 1) & _linMask;
        if ((end >> 12) != (lin >> 12))
        {
            // Split across two pages: translate both before reading anything.
            ulong lin2 = end & ~0xFFFUL;
            if (!Translate(lin, access, out ulong pa1, stack) || !Translate(lin2, access, out ulong pa2, stack)) return false;
            int n1 = (int)(lin2 - lin);
            if (_apicAccessArmed && (IsApicAccessPage(pa1) || IsApicAccessPage(pa2))) return RaiseApicAccessExit(IsApicAccessPage(pa1) ? (uint)(pa1 & 0xFFF) : 0, ApicAccessLinearRead);
            ulong lo = ReadPhysical(pa1, n1), hi = ReadPhysical(pa2, size - n1);
            v = (lo | (hi << (n1 * 8))) & Sz.Mask(size);
            return true;
        }
        if (!Translate(lin, access, out ulong pa, stack)) return false;
        if (_apicAccessArmed && IsApicAccessPage(pa)) return ApicAccessRead(pa, size, out v);
        FillTlb(lin, pa, access);
        v = ReadPhysical(pa, size);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool WriteSlow(ulong lin, int size, ulong v, bool stack)
    {
        if ((_signal & SignalFault) != 0) return false; // a segment check already faulted this access
        if (Misaligned(lin, size)) return false;
        lin &= _linMask;
        if (_dataBpArmed) DataBreakpointCheck(lin, size, true);
        if (_hostWatchArmed) HostWatchCheck(lin, size, read: false, write: true);
        ulong end = (lin + (ulong)size - 1) & _linMask;
        if ((end >> 12) != (lin >> 12))
        {
            ulong lin2 = end & ~0xFFFUL;
            if (!Translate(lin, Access.Write, out ulong pa1, stack) || !Translate(lin2, Access.Write, out ulong pa2, stack)) return false;
            int n1 = (int)(lin2 - lin);
            if (_apicAccessArmed && (IsApicAccessPage(pa1) || IsApicAccessPage(pa2))) return RaiseApicAccessExit(IsApicAccessPage(pa1) ? (uint)(pa1 & 0xFFF) : 0, ApicAccessLinearWrite);
            WritePhysical(pa1, n1, v);
            WritePhysical(pa2, size - n1, v >> (n1 * 8));
            return true;
        }
        if (!Translate(lin, Access.Write, out ulong pa, stack)) return false;
        if (_apicAccessArmed && IsApicAccessPage(pa)) return ApicAccessWrite(pa, size, v);
        WritePhysical(pa, size, v);
        FillTlb(lin, pa, Access.Write);
        return true;
    }

    /// <summary>True when <paramref name="pa"/> lies in the xAPIC register page (which hides RAM or the bus there).</summary>
    private bool IsApicPage(ulong pa) => Apic.XApicMode && (pa & ~0xFFFUL) == Apic.BaseAddress;

    /// <summary>
    /// A physical read of 1..8 bytes inside one page, routed the way the platform decodes addresses:
    /// the local APIC page (xAPIC mode), then RAM, then the unclaimed bus (all ones).
    /// </summary>
    private ulong ReadPhysical(ulong pa, int size)
    {
        if (IsApicPage(pa))
        {
            uint reg = Apic.Read((uint)(pa & 0xFF0));
            UncachedTiming(false); // issue 10: an uncached device access
            return (reg >> (int)((pa & 3) * 8)) & Sz.Mask(Math.Min(size, 4));
        }
        if (!Mmio.IsEmpty && MmioSplitRead(pa, size, out ulong mv)) { UncachedTiming(false); return mv; } // issue 10: UC MMIO
        if (_mem.IsRamPage(pa >> 12))
        {
            if (_cacheTiming) CacheTimingLoad(pa, size); // issue 10: optional cache model
            byte* p = _ram + pa;
            return size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, 8 => *(ulong*)p, _ => ReadBytes(p, size) };
        }
        return Sz.Mask(Math.Min(size, 8));

        static ulong ReadBytes(byte* p, int n)
        {
            ulong v = 0;
            for (int i = 0; i < n; i++) v |= (ulong)p[i] << (i * 8);
            return v;
        }
    }

    /// <summary>A physical write of 1..8 bytes inside one page (routing as <see cref="ReadPhysical"/>; RAM writes drop decodings).</summary>
    private void WritePhysical(ulong pa, int size, ulong v)
    {
        if (IsApicPage(pa))
        {
            // xAPIC registers are written as aligned 32-bit quantities.
            if ((pa & 0xF) == 0 && size >= 4) Apic.Write((uint)(pa & 0xFF0), (uint)v);
            _signal |= SignalEvent; // an EOI, IPI or TPR change may change what the arbiter can deliver
            UncachedTiming(true); // issue 10: an uncached device access
            return;
        }
        if (!Mmio.IsEmpty && MmioSplitWrite(pa, size, v))
        {
            _signal |= SignalEvent; // a device may have raised an event or asked to stop
            UncachedTiming(true); // issue 10: UC MMIO
            return;
        }
        if (!_mem.IsRamPage(pa >> 12)) return;
        if (_cacheTiming) CacheTimingStore(pa, size); // issue 10: optional cache model
        if (!_mem.IsCodePage(pa >> 12))
        {
            // Issue 13: RAM without decodings (the common slow-path write: a write-TLB miss) is one store.
            byte* p = _ram + pa;
            switch (size)
            {
                case 1: *p = (byte)v; return;
                case 2: *(ushort*)p = (ushort)v; return;
                case 4: *(uint*)p = (uint)v; return;
                case 8: *(ulong*)p = v; return;
            }
        }
        Span<byte> b = stackalloc byte[8];
        MemoryMarshal.Write(b, in v);
        _mem.Write(pa, b[..size]); // drops decodings of the page when it holds code
    }
}
