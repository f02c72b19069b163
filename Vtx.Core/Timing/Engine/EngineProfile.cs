using Iced.Intel;

namespace Vtx.Timing;

/// <summary>Per-form facts the block simulation reads, packed for speed (one entry per Iced code and operand form).</summary>
[Flags]
internal enum UopFlags : ushort
{
    None = 0,
    /// <summary>A zero idiom (XOR/SUB/PXOR... of a register with itself): no input dependency, no execution µop.</summary>
    ZeroIdiom = 1,
    /// <summary>A register move the renamer eliminates (no execution µop, zero latency).</summary>
    MoveEliminated = 2,
    /// <summary>May fuse with a following Jcc into one µop (CMP, TEST, ADD, SUB, AND, INC, DEC register/immediate forms).</summary>
    MacroFusibleFirst = 4,
    /// <summary>Carries a length-changing prefix (66h with an imm16): the legacy decoder stalls.</summary>
    Lcp = 8,
    /// <summary>Waits for every older instruction to complete and holds back every younger one (CPUID, serialising instructions).</summary>
    Serializing = 16,
    /// <summary>Microcoded (issued from the MSROM): the front end delivers it alone.</summary>
    Microcoded = 32,
    /// <summary>A branch (its µop executes on the taken-branch port when it closes the block).</summary>
    Branch = 64,
    /// <summary>Macro-fusion with a Jcc is limited to ZF/CF-and-sign conditions (CMP, ADD, SUB: not JS/JNS/JP/JNP/JO/JNO).</summary>
    FuseArith = 128,
    /// <summary>Macro-fusion with a Jcc is limited to ZF-and-sign conditions (INC, DEC: also not JB/JAE/JBE/JA).</summary>
    FuseIncDec = 256,
    /// <summary>A class default, not data for the form: memory µops are taken from the operand's access.</summary>
    Estimated = 512,
}

/// <summary>One instruction form: fused-domain µops, execution µops (port masks in the profile's pool), latency, memory µops.</summary>
internal struct UopForm
{
    /// <summary>Fused-domain µops (issue and retire slots), at least 1 for a known form.</summary>
    public ushort Fused;
    /// <summary>Cycles from the register (and loaded) inputs to the result.</summary>
    public ushort Latency;
    /// <summary>Execution µops other than loads and stores (their port masks start at <see cref="PortStart"/>).</summary>
    public byte Compute;
    /// <summary>Load µops (0 or 1 modelled; more count as one).</summary>
    public byte Loads;
    /// <summary>Store µops (store-address + store-data pairs; 0 or 1 modelled).</summary>
    public byte Stores;
    /// <summary>Cycles a non-pipelined unit (the divider) stays busy, 0 when pipelined.</summary>
    public ushort Busy;
    /// <summary>Front-end and rename facts.</summary>
    public UopFlags Flags;
    /// <summary>Index of the first compute µop's port mask in <see cref="EngineProfile.PortPool"/>.</summary>
    public int PortStart;
    /// <summary>True when the profile has data for the form.</summary>
    public readonly bool Known => Fused != 0;
}

/// <summary>
/// The timing facts of one named core in the form the block simulation reads: a dense table by
/// Iced code and operand form (register / memory), plus the core's widths, buffer sizes and
/// latencies. Built once per profile (<see cref="EngineProfileBuilder"/>); immutable afterwards.
/// </summary>
internal sealed class EngineProfile
{
    public const int MaxPorts = 12;

    internal readonly UopForm[] Reg;
    internal readonly UopForm[] Mem;
    internal ushort[] PortPool;

    public string Name { get; }
    /// <summary>Fused µops renamed/allocated per cycle (4 on Haswell and Skylake).</summary>
    public int IssueWidth { get; init; } = 4;
    /// <summary>Fused µops retired per cycle (per thread).</summary>
    public int RetireWidth { get; init; } = 4;
    /// <summary>Reorder-buffer entries (fused µops).</summary>
    public int RobSize { get; init; } = 224;
    /// <summary>Number of execution ports.</summary>
    public int Ports { get; init; } = 8;
    /// <summary>Ports executing loads.</summary>
    public ushort LoadPorts { get; init; } = 0b1100;
    /// <summary>Ports executing store-address µops.</summary>
    public ushort StoreAddressPorts { get; init; } = 0b1000_1100;
    /// <summary>Ports executing store-data µops.</summary>
    public ushort StoreDataPorts { get; init; } = 0b1_0000;
    /// <summary>Ports of a simple integer ALU µop (the form of an instruction without data).</summary>
    public ushort AluPorts { get; init; } = 0b0110_0011;
    /// <summary>Ports executing taken branches.</summary>
    public ushort TakenBranchPorts { get; init; } = 0b100_0000;
    /// <summary>L1 load-to-use latency for a simple address (base + displacement below 2048, no index).</summary>
    public int LoadLatencySimple { get; init; } = 4;
    /// <summary>L1 load-to-use latency for any other address.</summary>
    public int LoadLatency { get; init; } = 5;
    /// <summary>Store-to-load forwarding latency (store data to load result).</summary>
    public int StoreForwardLatency { get; init; } = 4;
    /// <summary>Front-end stall of one length-changing prefix in the legacy decoder.</summary>
    public int LcpPenalty { get; init; } = 3;
    /// <summary>Cost of one iteration of a REP string instruction (fast strings), at least 1.</summary>
    public int RepIterationCycles { get; init; } = 1;

    // Divide steps by operand size index (0..3 = 8..64 bits) and signedness: (max dividend bits, latency), ascending.
    private readonly (int Bits, int Latency)[][] _div = new (int, int)[8][];

    /// <summary>Sets the divide steps (from <see cref="TimingProfile.DivideSteps"/>).</summary>
    internal void SetDivideSteps(IReadOnlyList<DivideStep> steps)
    {
        for (int k = 0; k < 8; k++)
        {
            int bits = 8 << (k >> 1);
            bool signed = (k & 1) != 0;
            var list = new List<(int, int)>();
            foreach (DivideStep d in steps)
                if (d.OperandBits == bits && d.Signed == signed) list.Add((d.MaxDividendBits, d.Latency));
            list.Sort();
            _div[k] = list.ToArray();
        }
    }

    /// <summary>The smallest divide latency of an operand size (the block simulation's figure), 0 when the profile has no steps.</summary>
    internal int DivideBase(int sizeBytes, bool signed)
    {
        var steps = _div[DivIndex(sizeBytes, signed)];
        return steps is { Length: > 0 } ? steps[0].Latency : 0;
    }

    /// <summary>
    /// Cycles a divide with a dividend of <paramref name="dividendBits"/> significant bits takes beyond
    /// <see cref="DivideBase"/> (the profile's step table; 0 when it has none). Data-dependent: charged at execution.
    /// </summary>
    internal int DivideExtra(int sizeBytes, bool signed, int dividendBits)
    {
        var steps = _div[DivIndex(sizeBytes, signed)];
        if (steps is not { Length: > 0 }) return 0;
        foreach (var (bits, latency) in steps)
            if (bits >= dividendBits) return latency - steps[0].Latency;
        return steps[^1].Latency - steps[0].Latency;
    }

    private static int DivIndex(int sizeBytes, bool signed) => (sizeBytes switch { 1 => 0, 2 => 1, 4 => 2, _ => 3 }) * 2 + (signed ? 1 : 0);

    public EngineProfile(string name, int codes)
    {
        Name = name;
        Reg = new UopForm[codes];
        Mem = new UopForm[codes];
        PortPool = new ushort[16];
    }
}

/// <summary>Fills an <see cref="EngineProfile"/> form by form (for the data adapter and for tests).</summary>
internal sealed class EngineProfileBuilder
{
    private readonly List<ushort> _pool = new();
    private readonly EngineProfile _p;

    public EngineProfileBuilder(EngineProfile p)
    {
        _p = p;
        _pool.Add(p.AluPorts); // index 0: the ALU ports, for forms without data
    }

    /// <summary>Sets the form of <paramref name="code"/> (memory form when <paramref name="memory"/>).</summary>
    public EngineProfileBuilder Set(Code code, bool memory, int fused, int latency, ReadOnlySpan<ushort> computePorts,
        int loads = 0, int stores = 0, UopFlags flags = UopFlags.None, int busy = 0)
    {
        var f = new UopForm
        {
            Fused = (ushort)Math.Clamp(fused, 1, 255),
            Latency = (ushort)Math.Clamp(latency, 0, 65535),
            Compute = (byte)Math.Min(computePorts.Length, 32),
            Loads = (byte)Math.Min(loads, 1),
            Stores = (byte)Math.Min(stores, 1),
            Busy = (ushort)Math.Clamp(busy, 0, 65535),
            Flags = flags,
            PortStart = _pool.Count,
        };
        for (int i = 0; i < f.Compute; i++) _pool.Add(computePorts[i] == 0 ? (ushort)((1 << _p.Ports) - 1) : computePorts[i]);
        (memory ? _p.Mem : _p.Reg)[(int)code] = f;
        return this;
    }

    /// <summary>Finishes the profile.</summary>
    public EngineProfile Build()
    {
        _p.PortPool = _pool.Count == 0 ? new ushort[1] : _pool.ToArray();
        return _p;
    }
}
