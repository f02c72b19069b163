using Iced.Intel;

namespace Vtx.Timing;

/// <summary>
/// Front-end and back-end facts about one instruction form that a timing model needs beyond its
/// µop count and ports (Intel 64 and IA-32 Architectures Optimization Reference Manual, ch. 2-3:
/// "Macro-Fusion", "Micro-Fusion", "Length-Changing Prefixes", "Zero Idioms", "Move Elimination").
/// </summary>
[Flags]
public enum TimingFlags : uint
{
    /// <summary>No special property.</summary>
    None = 0,
    /// <summary>With both source operands the same register (XOR/SUB/PXOR... r,r) the renamer recognises the result as zero: no execution µop and no input dependency.</summary>
    ZeroIdiom = 1 << 0,
    /// <summary>With both operands the same register the result does not depend on the input value (CMP r,r; PCMPEQ r,r: dependency-breaking but still executed).</summary>
    DependencyBreaking = 1 << 1,
    /// <summary>A register-to-register move the renamer may eliminate (MOV r32/r64, MOVZX r32,r8 on some cores): zero latency, no execution port when it succeeds.</summary>
    MoveEliminated = 1 << 2,
    /// <summary>Can be the first instruction of a macro-fused pair with a following Jcc of a kind in <see cref="InstructionTiming.FusesWith"/>.</summary>
    MacroFusibleFirst = 1 << 3,
    /// <summary>The memory form's load µop is micro-fused with its operation µop in the fused domain (decoders, µop cache, rename).</summary>
    MicroFused = 1 << 4,
    /// <summary>The memory form with an indexed address is un-laminated: its micro-fused µops split into separate fused-domain µops at rename.</summary>
    Unlaminated = 1 << 5,
    /// <summary>The encoding has an operand-size (66h) or address-size (67h) prefix that changes the immediate/displacement length: a length-changing-prefix stall in the legacy decoder.</summary>
    LengthChangingPrefixSensitive = 1 << 6,
    /// <summary>Decoded by the microcode sequencer (MSROM): more than four µops, delivered at a lower rate and not cached in the µop cache lines as ordinary µops.</summary>
    Microcoded = 1 << 7,
    /// <summary>Serialising (SDM Vol. 3A §9.3 "Serializing Instructions"): later instructions do not start until it and all earlier ones complete.</summary>
    Serializing = 1 << 8,
    /// <summary>Reads memory (LLVM "MayLoad").</summary>
    MayLoad = 1 << 9,
    /// <summary>Writes memory (LLVM "MayStore").</summary>
    MayStore = 1 << 10,
    /// <summary>Has side effects beyond its operands (LLVM "HasSideEffects"): a scheduling barrier in llvm-mca.</summary>
    HasSideEffects = 1 << 11,
    /// <summary>A branch (ends a basic block; issued to the branch port(s)).</summary>
    Branch = 1 << 12,
    /// <summary>Latency or µop count depends on operand values (DIV/IDIV, REP string, shift by CL count 0...): see <see cref="TimingProfile.DivideLatency"/> and <see cref="TimingProfile.RepStringCycles"/>.</summary>
    DataDependent = 1 << 13,
    /// <summary>The figures are not from a measurement or a scheduling model but a class default (no source had this form).</summary>
    Estimated = 1 << 14,
}

/// <summary>
/// The Jcc kinds a macro-fusible first instruction fuses with (Optimization Reference Manual §3.4.2.2,
/// "Optimizing for Macro-fusion", table of fusible pairs for Sandy Bridge and later): TEST/AND fuse with
/// every Jcc; CMP/ADD/SUB with the equality, carry and signed kinds; INC/DEC with equality and signed.
/// </summary>
[Flags]
public enum JccFusionKinds : byte
{
    /// <summary>Does not macro-fuse.</summary>
    None = 0,
    /// <summary>JE/JZ, JNE/JNZ.</summary>
    Equality = 1 << 0,
    /// <summary>JB/JC/JNAE, JAE/JNB/JNC, JBE/JNA, JA/JNBE.</summary>
    Carry = 1 << 1,
    /// <summary>JL/JNGE, JGE/JNL, JLE/JNG, JG/JNLE.</summary>
    Signed = 1 << 2,
    /// <summary>JO, JNO, JS, JNS, JP/JPE, JNP/JPO.</summary>
    Other = 1 << 3,
    /// <summary>Every Jcc kind.</summary>
    All = Equality | Carry | Signed | Other,
}

/// <summary>
/// The timing of one instruction form (an Iced <see cref="Iced.Intel.Code"/> with its register or
/// memory operand form) on one core, as a timing profile's data file states it. Immutable; built only
/// when a profile is parsed, so that the engine reads it without allocating.
/// Latencies are in core clock cycles at the nominal frequency.
/// </summary>
public sealed class InstructionTiming
{
    private readonly ushort[] _uopPorts;

    /// <summary>Creates an entry; <paramref name="uopPorts"/> is copied.</summary>
    /// <exception cref="ArgumentException">A count is negative or inconsistent (more fused than unfused µops).</exception>
    public InstructionTiming(Code code, bool memoryForm, int fusedUops, int unfusedUops, ReadOnlySpan<ushort> uopPorts,
        int latency, int flagsLatency, int memoryLatency, double reciprocalThroughput,
        int loadUops, int storeAddressUops, int storeDataUops, int nonPipelinedCycles,
        TimingFlags flags, JccFusionKinds fusesWith, int serialCycles, TimingSource source)
    {
        if (fusedUops < 0 || unfusedUops < 0 || latency < 0 || flagsLatency < 0 || memoryLatency < 0 || loadUops < 0
            || storeAddressUops < 0 || storeDataUops < 0 || nonPipelinedCycles < 0 || reciprocalThroughput < 0)
            throw new ArgumentException($"{code}: negative timing figure");
        if (serialCycles is < 1 or > 65535) throw new ArgumentException($"{code}: serial cost {serialCycles} outside 1..65535");
        Code = code;
        MemoryForm = memoryForm;
        FusedUops = fusedUops;
        UnfusedUops = unfusedUops;
        _uopPorts = uopPorts.ToArray();
        Latency = latency;
        FlagsLatency = flagsLatency;
        MemoryLatency = memoryLatency;
        ReciprocalThroughput = reciprocalThroughput;
        LoadUops = loadUops;
        StoreAddressUops = storeAddressUops;
        StoreDataUops = storeDataUops;
        NonPipelinedCycles = nonPipelinedCycles;
        Flags = flags;
        FusesWith = fusesWith;
        SerialCycles = serialCycles;
        Source = source;
    }

    /// <summary>The Iced code of the form.</summary>
    public Code Code { get; }

    /// <summary>True for the form whose r/m operand is memory (or that always accesses memory explicitly).</summary>
    public bool MemoryForm { get; }

    /// <summary>µops in the fused domain (what the decoders, µop cache and renamer count; a micro-fused load+op counts 1).</summary>
    public int FusedUops { get; }

    /// <summary>µops in the unfused domain (what the scheduler dispatches to ports; load, STA and STD µops each count 1).</summary>
    public int UnfusedUops { get; }

    /// <summary>
    /// One port mask per unfused µop that executes on a port (bit i = port i of <see cref="TimingProfile.Ports"/>),
    /// including load, store-address and store-data µops. Eliminated µops (zero idioms, eliminated moves) and
    /// µops that need no port (NOP, FXCH on some cores) have no entry, so the length can be below <see cref="UnfusedUops"/>.
    /// </summary>
    public ReadOnlySpan<ushort> UopPorts => _uopPorts;

    /// <summary>
    /// Cycles from the register inputs being ready to the register result being ready. For a form that loads
    /// (explicitly or implicitly: POP, RET, string instructions), the cycles after the loaded data arrives, the
    /// engine adding the profile's L1 latency: 0 for a pure load (MOV r,[m]), 1 for ADD r,[m].
    /// </summary>
    public int Latency { get; }

    /// <summary>Cycles from the inputs to the flags result (equal to <see cref="Latency"/> unless the sources differ, e.g. the flags of MUL/IMUL or of a shift by CL).</summary>
    public int FlagsLatency { get; }

    /// <summary>For a form that loads: cycles from the address registers being ready to the register result as LLVM's model states it (includes its L1D load latency of 5); 0 when there is no load.</summary>
    public int MemoryLatency { get; }

    /// <summary>Steady-state cycles per instruction when independent copies run back to back (llvm-mca "RThroughput", or uops.info's measured throughput where it is preferred).</summary>
    public double ReciprocalThroughput { get; }

    /// <summary>Load µops (port 2/3 on Skylake and Haswell).</summary>
    public int LoadUops { get; }

    /// <summary>Store-address µops (STA).</summary>
    public int StoreAddressUops { get; }

    /// <summary>Store-data µops (STD).</summary>
    public int StoreDataUops { get; }

    /// <summary>Cycles a non-pipelined unit (the divider) stays busy: a later µop needing it waits that long (0 when fully pipelined).</summary>
    public int NonPipelinedCycles { get; }

    /// <summary>Front-end and rename facts.</summary>
    public TimingFlags Flags { get; }

    /// <summary>With <see cref="TimingFlags.MacroFusibleFirst"/>: the Jcc kinds it fuses with.</summary>
    public JccFusionKinds FusesWith { get; }

    /// <summary>
    /// Cycles charged when the instruction is costed on its own, serially (the <see cref="ICostModel"/> view):
    /// for the "simple" profile exactly vtx-cost-1's number; for the core profiles the latency including the
    /// memory operand, at least 1.
    /// </summary>
    public int SerialCycles { get; }

    /// <summary>Where the figures came from.</summary>
    public TimingSource Source { get; }

    /// <summary>True when <paramref name="flag"/> is set.</summary>
    public bool Has(TimingFlags flag) => (Flags & flag) == flag;

    /// <summary>The Jcc fusion kind of a condition code (Optimization Reference Manual §3.4.2.2).</summary>
    public static JccFusionKinds JccKind(ConditionCode cc) => cc switch
    {
        ConditionCode.e or ConditionCode.ne => JccFusionKinds.Equality,
        ConditionCode.b or ConditionCode.ae or ConditionCode.be or ConditionCode.a => JccFusionKinds.Carry,
        ConditionCode.l or ConditionCode.ge or ConditionCode.le or ConditionCode.g => JccFusionKinds.Signed,
        ConditionCode.None => JccFusionKinds.None,
        _ => JccFusionKinds.Other,
    };
}

/// <summary>The origin of an <see cref="InstructionTiming"/> entry, named in the data file per line.</summary>
public enum TimingSource : byte
{
    /// <summary>LLVM's scheduling model as printed by llvm-mca (version in the profile header).</summary>
    Llvm,
    /// <summary>uops.info's measured tables (preferred over LLVM where they disagree).</summary>
    UopsInfo,
    /// <summary>The hand-maintained facts file (Intel Optimization Reference Manual facts, published measurements).</summary>
    Facts,
    /// <summary>A class default: no source covered this form (flagged <see cref="TimingFlags.Estimated"/>).</summary>
    Default,
    /// <summary>Vtx's own vtx-cost-1 table (the "simple" profile).</summary>
    VtxCost1,
}
