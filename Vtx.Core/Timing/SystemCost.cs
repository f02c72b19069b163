namespace Vtx.Timing;

/// <summary>
/// Costs outside the core's instruction pipeline that a profile states per machine, each from a cited
/// published measurement (the data file names the source on the line). Values are core clock cycles.
/// The enum indexes <see cref="TimingProfile.System"/> (an array lookup).
/// </summary>
public enum SystemCost
{
    /// <summary>VM entry (VMLAUNCH/VMRESUME to the first guest instruction), SDM Vol. 3C ch. 27.</summary>
    VmEntry,
    /// <summary>VM exit, the hardware part (guest instruction to the first host instruction), for exits that save no extra state (CPUID, HLT, VMCALL...), SDM Vol. 3C ch. 28.</summary>
    VmExit,
    /// <summary>VM exit caused by an external interrupt or NMI (the interrupt is acknowledged on the way).</summary>
    VmExitExternalInterrupt,
    /// <summary>VM exit caused by an EPT violation or misconfiguration (a guest-physical walk precedes it).</summary>
    VmExitEpt,
    /// <summary>VM exit on I/O instructions (exit qualification with port and size).</summary>
    VmExitIo,
    /// <summary>VM exit on RDMSR/WRMSR (MSR bitmap lookup precedes it).</summary>
    VmExitMsr,
    /// <summary>VM exit on a control-register access.</summary>
    VmExitCrAccess,
    /// <summary>VM exit on an exception or a triple fault.</summary>
    VmExitException,
    /// <summary>Delivery of an interrupt through the IDT in protected/long mode (gate read, stack switch, frame push), SDM Vol. 3A ch. 6.</summary>
    InterruptDelivery,
    /// <summary>Delivery of an exception (fault or trap) through the IDT, beyond the faulting instruction.</summary>
    ExceptionDelivery,
    /// <summary>IRET/IRETQ back from a handler.</summary>
    InterruptReturn,
    /// <summary>SYSCALL or SYSENTER.</summary>
    SystemCall,
    /// <summary>SYSRET or SYSEXIT.</summary>
    SystemReturn,
    /// <summary>IN from an I/O port (uncached, serialising with respect to later loads; the device's own latency excluded).</summary>
    IoPortRead,
    /// <summary>OUT to an I/O port.</summary>
    IoPortWrite,
    /// <summary>A load from uncacheable (UC) MMIO.</summary>
    MmioUncachedRead,
    /// <summary>A store to uncacheable (UC) MMIO.</summary>
    MmioUncachedWrite,
    /// <summary>RDMSR of an ordinary MSR.</summary>
    Rdmsr,
    /// <summary>WRMSR of an ordinary MSR (non-serialising MSRs such as the x2APIC ones excepted).</summary>
    Wrmsr,
    /// <summary>CPUID, basic leaves (0, 1, 7...).</summary>
    CpuidBasic,
    /// <summary>CPUID, cache and topology leaves (2, 4, 0Bh, 1Fh) whose answer is looked up in microcode tables.</summary>
    CpuidCacheTopology,
    /// <summary>CPUID, extended leaves (8000_0000h...).</summary>
    CpuidExtended,
    /// <summary>RDTSC.</summary>
    Rdtsc,
    /// <summary>RDTSCP.</summary>
    Rdtscp,
    /// <summary>A serialising instruction without another cost here (e.g. MOV to CR, LFENCE+drain, SERIALIZE): the pipeline drain.</summary>
    SerializingDrain,
    /// <summary>LFENCE.</summary>
    Lfence,
    /// <summary>MFENCE.</summary>
    Mfence,
    /// <summary>PAUSE (Skylake lengthened it to ~140 cycles from Haswell's ~10).</summary>
    Pause,
    /// <summary>A TLB miss that hits the second-level (STLB) TLB.</summary>
    StlbHit,
    /// <summary>A page walk after a TLB and STLB miss, with the paging-structure caches and L1D hits.</summary>
    PageWalk,
    /// <summary>A mispredicted branch: cycles lost to the front-end restart.</summary>
    BranchMispredict,
    /// <summary>HLT to the wake event (the exit from C1, not the time spent halted).</summary>
    HaltWake,
    /// <summary>XSAVE/XRSTOR-class state save of the x87/SSE state.</summary>
    XsaveRestore,
    /// <summary>INVLPG.</summary>
    Invlpg,
    /// <summary>MOV to CR3 (TLB flush without PCID).</summary>
    MovToCr3,
    /// <summary>VMREAD/VMWRITE of a VMCS field (non-shadowed), per instruction.</summary>
    VmcsAccess,
}

/// <summary>REP string kinds with throughput data (MOVS/STOS with fast strings, ERMSB; the others iterate in microcode).</summary>
public enum RepStringKind
{
    /// <summary>REP MOVS.</summary>
    Movs,
    /// <summary>REP STOS.</summary>
    Stos,
    /// <summary>REP LODS.</summary>
    Lods,
    /// <summary>REPE/REPNE SCAS.</summary>
    Scas,
    /// <summary>REPE/REPNE CMPS.</summary>
    Cmps,
}

/// <summary>
/// The data TLB structures a profile sizes (Optimization Reference Manual, the TLB parameter tables of the
/// Haswell and Skylake chapters): first-level data TLBs per page size and the second-level (shared) TLB.
/// </summary>
public enum TlbStructure
{
    /// <summary>First-level data TLB for 4-KByte pages.</summary>
    Dtlb4K,
    /// <summary>First-level data TLB for 2-MByte (and 4-MByte) pages.</summary>
    Dtlb2M,
    /// <summary>First-level data TLB for 1-GByte pages.</summary>
    Dtlb1G,
    /// <summary>Second-level TLB (STLB) for 4-KByte and 2-MByte pages.</summary>
    Stlb,
    /// <summary>Second-level TLB for 1-GByte pages (absent on Haswell).</summary>
    Stlb1G,
}

/// <summary>A set-associative TLB structure's size.</summary>
/// <param name="Structure">Which structure.</param>
/// <param name="Entries">Entries (0: the profile has none).</param>
/// <param name="Ways">Associativity; <paramref name="Entries"/> / <paramref name="Ways"/> sets (a power of two).</param>
public readonly record struct TlbGeometry(TlbStructure Structure, int Entries, int Ways);

/// <summary>The data cache levels a profile describes for the optional cache model (<see cref="CpuModel.CacheTiming"/>).</summary>
public enum CacheLevel
{
    /// <summary>First-level data cache.</summary>
    L1d,
    /// <summary>Second-level (mid-level) cache.</summary>
    L2,
    /// <summary>Last-level cache (the L3 slice(s) one core sees).</summary>
    Llc,
}

/// <summary>A set-associative cache level: size, associativity, line size and load-to-use latency of a hit.</summary>
/// <param name="Level">Which level.</param>
/// <param name="SizeBytes">Capacity in bytes (0: the profile has none).</param>
/// <param name="Ways">Associativity.</param>
/// <param name="LineBytes">Line size.</param>
/// <param name="LatencyCycles">Load-to-use latency of a hit in this level.</param>
public readonly record struct CacheGeometry(CacheLevel Level, int SizeBytes, int Ways, int LineBytes, int LatencyCycles);

/// <summary>
/// The divider's latency for one operand size and signedness (DIV/IDIV), as a step table by the
/// significant bits of the dividend: <see cref="TimingProfile.DivideLatency"/> takes the first step whose
/// <see cref="MaxDividendBits"/> covers the dividend.
/// </summary>
/// <param name="OperandBits">8, 16, 32 or 64.</param>
/// <param name="Signed">True for IDIV.</param>
/// <param name="MaxDividendBits">The step applies to dividends with at most this many significant bits (2× operand bits for the widest step).</param>
/// <param name="Latency">Cycles from the inputs to the quotient.</param>
/// <param name="Throughput">Cycles the divider stays busy (reciprocal throughput).</param>
public readonly record struct DivideStep(int OperandBits, bool Signed, int MaxDividendBits, int Latency, int Throughput);

/// <summary>
/// Fast-string throughput of a REP string kind (Optimization Reference Manual §3.7.6, "Enhanced REP MOVSB
/// and STOSB"): a start-up cost, then bytes per cycle, slower when the destination is not aligned; counts
/// below <see cref="FastThresholdBytes"/> run as ordinary iterations at <see cref="SlowCyclesPerIteration"/>.
/// </summary>
/// <param name="Kind">MOVS or STOS.</param>
/// <param name="StartupCycles">Fixed cost of the fast-string microcode.</param>
/// <param name="FastThresholdBytes">Byte count from which fast strings are used.</param>
/// <param name="AlignedBytesPerCycle">Throughput when source/destination are 64-byte (cache-line) aligned.</param>
/// <param name="UnalignedBytesPerCycle">Throughput otherwise.</param>
/// <param name="SlowCyclesPerIteration">Cycles per element below the threshold.</param>
public readonly record struct RepStringTiming(RepStringKind Kind, int StartupCycles, int FastThresholdBytes,
    double AlignedBytesPerCycle, double UnalignedBytesPerCycle, double SlowCyclesPerIteration);

/// <summary>What an execution port can do (the port map of Optimization Reference Manual §2.2/§2.3).</summary>
[Flags]
public enum PortCapability : uint
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>Integer ALU (ADD, logic, MOV...).</summary>
    IntAlu = 1 << 0,
    /// <summary>Shifts and rotates.</summary>
    Shift = 1 << 1,
    /// <summary>Branches (taken on the primary branch port).</summary>
    Branch = 1 << 2,
    /// <summary>Integer multiply (3-cycle multiplier).</summary>
    IntMul = 1 << 3,
    /// <summary>The (non-pipelined) divider.</summary>
    Divide = 1 << 4,
    /// <summary>Fast LEA (one or two address components).</summary>
    FastLea = 1 << 5,
    /// <summary>Slow LEA (three components), bit scans, POPCNT-class 3-cycle ops.</summary>
    SlowInt = 1 << 6,
    /// <summary>Loads (and on Skylake/Haswell also store addresses: port 2/3).</summary>
    Load = 1 << 7,
    /// <summary>Store-address generation.</summary>
    StoreAddress = 1 << 8,
    /// <summary>Store data.</summary>
    StoreData = 1 << 9,
    /// <summary>Vector integer ALU.</summary>
    VecAlu = 1 << 10,
    /// <summary>Vector shuffle.</summary>
    VecShuffle = 1 << 11,
    /// <summary>Vector/FP multiply, FMA.</summary>
    FpMul = 1 << 12,
    /// <summary>FP add.</summary>
    FpAdd = 1 << 13,
    /// <summary>FP divide/sqrt.</summary>
    FpDiv = 1 << 14,
    /// <summary>Vector shifts.</summary>
    VecShift = 1 << 15,
    /// <summary>x87 operations.</summary>
    X87 = 1 << 16,
}

/// <summary>One execution port of a profile.</summary>
/// <param name="Index">Bit position in µop port masks.</param>
/// <param name="Name">The vendor's name (e.g. "p0", LLVM's "SKLPort0").</param>
/// <param name="Capabilities">What it executes.</param>
public readonly record struct PortInfo(int Index, string Name, PortCapability Capabilities);
