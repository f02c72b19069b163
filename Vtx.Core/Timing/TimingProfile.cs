using System.Globalization;
using System.Reflection;
using Iced.Intel;

namespace Vtx.Timing;

/// <summary>
/// A named microarchitecture's timing data: front-end and back-end parameters of the core, its
/// execution ports, per-instruction-form timings (<see cref="Get"/>, an array lookup), and the system
/// costs outside the pipeline (VM entry/exit, event delivery, I/O, MSRs, CPUID, divides, REP strings,
/// page walks). A profile is DATA: it is parsed from one text file (Vtx.Core/Timing/Profiles/*.txt,
/// embedded; format in <see cref="Parse"/>), so another core is another file, not code.
/// As an <see cref="ICostModel"/> it charges each instruction's <see cref="InstructionTiming.SerialCycles"/>;
/// the "simple" profile is exactly vtx-cost-1.
/// </summary>
public sealed class TimingProfile : ICostModel
{
    private static readonly int CodeCount = Enum.GetValues<Code>().Length;
    private static readonly string[] BuiltInFiles = ["skylake-client", "haswell", "simple"];
    private static readonly Lazy<TimingProfile> SkylakeLazy = new(() => LoadBuiltIn("skylake-client"));
    private static readonly Lazy<TimingProfile> HaswellLazy = new(() => LoadBuiltIn("haswell"));
    private static readonly Lazy<TimingProfile> SimpleLazy = new(() => LoadBuiltIn("simple"));

    // Index 2*code + (memoryForm ? 1 : 0). _explicit holds what the file states; _resolved is never null
    // (the other form or the profile default fills the gaps) so that Get is one array load.
    private readonly InstructionTiming?[] _explicit;
    private readonly InstructionTiming[] _resolved;
    private readonly int[] _system;
    private readonly DivideStep[] _divide;
    private readonly RepStringTiming[] _rep;
    private readonly PortInfo[] _ports;
    private readonly TlbGeometry[] _tlb;
    private readonly CacheGeometry[] _cache;

    private TimingProfile(ProfileBuilder b)
    {
        Name = b.Name ?? throw new FormatException("profile: missing 'profile <name>' line");
        Machine = b.Machine ?? throw new FormatException($"{Name}: missing 'machine' line");
        Sources = b.Sources.ToArray();
        Version = b.Version ?? throw new FormatException($"{Name}: missing 'version' line");
        CostModelName = b.CostModelName ?? $"{Name}-{Version}";
        Aliases = b.Aliases.ToArray();
        _ports = b.Ports.OrderBy(p => p.Index).ToArray();
        for (int i = 0; i < _ports.Length; i++)
            if (_ports[i].Index != i) throw new FormatException($"{Name}: ports must be numbered 0..n-1 without gaps");
        if (_ports.Length is 0 or > 16) throw new FormatException($"{Name}: 1..16 ports required");
        ushort all = (ushort)((1 << _ports.Length) - 1);
        foreach (var t in b.Entries.Values.Concat(b.Defaults.Where(d => d is not null)!))
            foreach (ushort m in t!.UopPorts)
                if (m == 0 || (m & ~all) != 0) throw new FormatException($"{Name}: {t.Code}: port mask 0x{m:x} outside ports 0..{_ports.Length - 1}");
        foreach (var (key, value) in b.Core)
            if (value < 0) throw new FormatException($"{Name}: core {key} is negative");
        IssueWidth = b.Core.GetValueOrDefault("issue-width", 4);
        DecodeWidth = b.Core.GetValueOrDefault("decode-width", 4);
        DecodeBytesPerCycle = b.Core.GetValueOrDefault("decode-bytes-per-cycle", 16);
        UopCacheUopsPerCycle = b.Core.GetValueOrDefault("uop-cache-uops-per-cycle", 4);
        MicrocodeUopsPerCycle = b.Core.GetValueOrDefault("microcode-uops-per-cycle", 4);
        RetireWidth = b.Core.GetValueOrDefault("retire-width", 4);
        LcpStallCycles = b.Core.GetValueOrDefault("lcp-stall-cycles", 0);
        L1LoadLatency = b.Core.GetValueOrDefault("l1-load-latency", 4);
        L1LoadLatencyComplexAddress = b.Core.GetValueOrDefault("l1-load-latency-complex", L1LoadLatency);
        StoreForwardLatency = b.Core.GetValueOrDefault("store-forward-latency", 4);
        ReorderBufferSize = b.Core.GetValueOrDefault("rob-size", 224);
        SchedulerSize = b.Core.GetValueOrDefault("scheduler-size", 97);
        LoadBufferSize = b.Core.GetValueOrDefault("load-buffer-size", 72);
        StoreBufferSize = b.Core.GetValueOrDefault("store-buffer-size", 56);
        MacroFusionsPerCycle = b.Core.GetValueOrDefault("macro-fusions-per-cycle", 1);
        TakenBranchesPerCycle = b.Core.GetValueOrDefault("taken-branches-per-cycle", 1);
        MoveEliminationEnabled = b.Core.GetValueOrDefault("move-elimination", 1) != 0;
        UnlaminateIndexed = b.Core.GetValueOrDefault("unlaminate-indexed", 1) != 0;
        DefaultSerialCycles = b.Core.GetValueOrDefault("default-serial-cycles", 1);
        SlowLeaLatency = b.Core.GetValueOrDefault("slow-lea-latency", 1);
        LoadPorts = PortsWith(PortCapability.Load);
        StoreAddressPorts = PortsWith(PortCapability.StoreAddress);
        StoreDataPorts = PortsWith(PortCapability.StoreData);
        BranchPorts = PortsWith(PortCapability.Branch);

        _system = new int[Enum.GetValues<SystemCost>().Length];
        foreach (SystemCost c in Enum.GetValues<SystemCost>())
            _system[(int)c] = b.System.TryGetValue(c, out int v) ? v : throw new FormatException($"{Name}: missing 'system {Kebab(c.ToString())}'");
        _divide = b.Divide.OrderBy(d => d.OperandBits).ThenBy(d => d.Signed).ThenBy(d => d.MaxDividendBits).ToArray();
        foreach (int bits in (int[])[8, 16, 32, 64])
            foreach (bool signed in (bool[])[false, true])
                if (!_divide.Any(d => d.OperandBits == bits && d.Signed == signed && d.MaxDividendBits >= 2 * bits))
                    throw new FormatException($"{Name}: no 'div {bits} {(signed ? "signed" : "unsigned")}' step covers {2 * bits}-bit dividends");
        _rep = new RepStringTiming[Enum.GetValues<RepStringKind>().Length];
        foreach (RepStringKind k in Enum.GetValues<RepStringKind>())
        {
            // MOVS and STOS are required; LODS/SCAS/CMPS (no fast strings) default to one cycle per iteration.
            _rep[(int)k] = b.Rep.TryGetValue(k, out var r) ? r
                : k is RepStringKind.Movs or RepStringKind.Stos ? throw new FormatException($"{Name}: missing 'rep {k.ToString().ToLowerInvariant()}'")
                : new RepStringTiming(k, 0, int.MaxValue, 1, 1, 1);
        }
        _tlb = new TlbGeometry[Enum.GetValues<TlbStructure>().Length];
        foreach (var (k, g) in b.Tlb) _tlb[(int)k] = g;
        if (b.Tlb.Count > 0 && (_tlb[(int)TlbStructure.Dtlb4K].Entries == 0 || _tlb[(int)TlbStructure.Stlb].Entries == 0))
            throw new FormatException($"{Name}: a TLB model needs at least 'tlb dtlb-4k' and 'tlb stlb'");
        _cache = new CacheGeometry[Enum.GetValues<CacheLevel>().Length];
        foreach (var (k, g) in b.Cache) _cache[(int)k] = g;
        if (b.Cache.Count is > 0 and < 3) throw new FormatException($"{Name}: a cache model needs 'cache l1d', 'cache l2' and 'cache llc'");
        MemoryLatency = b.Core.GetValueOrDefault("memory-latency", 0);

        InstructionTiming defReg = b.Defaults[0] ?? throw new FormatException($"{Name}: missing 'default r' line");
        InstructionTiming defMem = b.Defaults[1] ?? throw new FormatException($"{Name}: missing 'default m' line");
        DefaultRegister = defReg;
        DefaultMemory = defMem;
        _explicit = new InstructionTiming?[CodeCount * 2];
        _resolved = new InstructionTiming[CodeCount * 2];
        foreach (var ((code, mem), t) in b.Entries) _explicit[2 * (int)code + (mem ? 1 : 0)] = t;
        for (int i = 0; i < _resolved.Length; i++)
            _resolved[i] = _explicit[i] ?? _explicit[i ^ 1] ?? ((i & 1) != 0 ? defMem : defReg);
        EntryCount = b.Entries.Count;
    }

    /// <summary>The profile's name, e.g. "skylake-client", "haswell", "simple" (named in traces and snapshots).</summary>
    public string Name { get; }

    /// <summary>Other names <see cref="ByName"/> accepts (e.g. "skylake", "skl").</summary>
    public IReadOnlyList<string> Aliases { get; }

    /// <summary>The machine the profile models, e.g. "Intel Skylake client core (6th-10th generation Core)".</summary>
    public string Machine { get; }

    /// <summary>The sources of the figures with their versions, as the data file's header cites them.</summary>
    public IReadOnlyList<string> Sources { get; }

    /// <summary>The data version (bumped whenever the figures change).</summary>
    public string Version { get; }

    /// <summary>The <see cref="ICostModel"/> name (recorded with traces): "vtx-cost-1" for the simple profile.</summary>
    public string CostModelName { get; }

    string ICostModel.Name => CostModelName;

    /// <summary>Number of instruction forms the file states explicitly.</summary>
    public int EntryCount { get; }

    /// <summary>µops renamed/allocated per cycle (fused domain).</summary>
    public int IssueWidth { get; }

    /// <summary>Instructions the legacy decoders decode per cycle.</summary>
    public int DecodeWidth { get; }

    /// <summary>Instruction bytes the legacy pre-decoder fetches per cycle.</summary>
    public int DecodeBytesPerCycle { get; }

    /// <summary>µops the decoded-µop cache (DSB) delivers per cycle.</summary>
    public int UopCacheUopsPerCycle { get; }

    /// <summary>µops the microcode sequencer (MSROM) delivers per cycle.</summary>
    public int MicrocodeUopsPerCycle { get; }

    /// <summary>µops retired per cycle.</summary>
    public int RetireWidth { get; }

    /// <summary>Cycles lost in the legacy decoder per length-changing prefix (0 for a profile that ignores LCP).</summary>
    public int LcpStallCycles { get; }

    /// <summary>L1D load-to-use latency for simple addressing (base + displacement &lt; 2048).</summary>
    public int L1LoadLatency { get; }

    /// <summary>L1D load-to-use latency with an index register or a large displacement.</summary>
    public int L1LoadLatencyComplexAddress { get; }

    /// <summary>Store-to-load forwarding latency (store data ready to the dependent load's result).</summary>
    public int StoreForwardLatency { get; }

    /// <summary>Reorder buffer entries (fused µops in flight).</summary>
    public int ReorderBufferSize { get; }

    /// <summary>Unified reservation station entries (unfused µops waiting for ports).</summary>
    public int SchedulerSize { get; }

    /// <summary>Load buffer entries.</summary>
    public int LoadBufferSize { get; }

    /// <summary>Store buffer entries.</summary>
    public int StoreBufferSize { get; }

    /// <summary>Macro-fusions the decoders make per cycle.</summary>
    public int MacroFusionsPerCycle { get; }

    /// <summary>Taken branches per cycle.</summary>
    public int TakenBranchesPerCycle { get; }

    /// <summary>True when the renamer eliminates register moves flagged <see cref="TimingFlags.MoveEliminated"/>.</summary>
    public bool MoveEliminationEnabled { get; }

    /// <summary>True when micro-fused forms with an index register are un-laminated at rename (Sandy Bridge to Skylake).</summary>
    public bool UnlaminateIndexed { get; }

    /// <summary>
    /// Latency of a "slow" LEA: three address components (base + index + displacement), or a scaled index with a
    /// base on some cores; it runs only on the <see cref="PortCapability.SlowInt"/> port(s). The entries describe
    /// the fast two-component form (Optimization Reference Manual, "LEA" in the Sandy Bridge-Skylake chapters).
    /// </summary>
    public int SlowLeaLatency { get; }

    /// <summary>Serial cost of a form the file does not state (the <see cref="ICostModel"/> view).</summary>
    public int DefaultSerialCycles { get; }

    /// <summary>The execution ports, index = bit in µop port masks.</summary>
    public IReadOnlyList<PortInfo> Ports => _ports;

    /// <summary>Ports that execute loads (mask).</summary>
    public ushort LoadPorts { get; }

    /// <summary>Ports that generate store addresses (mask).</summary>
    public ushort StoreAddressPorts { get; }

    /// <summary>Ports that take store data (mask).</summary>
    public ushort StoreDataPorts { get; }

    /// <summary>Ports that execute branches (mask).</summary>
    public ushort BranchPorts { get; }

    /// <summary>The entry used for a register form the file does not state.</summary>
    public InstructionTiming DefaultRegister { get; }

    /// <summary>The entry used for a memory form the file does not state.</summary>
    public InstructionTiming DefaultMemory { get; }

    /// <summary>
    /// The timing of the form of <paramref name="code"/>: one array load. A form the file does not state
    /// gets the other form's entry, then the profile default (check <see cref="TryGet"/> to tell).
    /// </summary>
    public InstructionTiming Get(Code code, bool memoryForm) => _resolved[2 * (int)code + (memoryForm ? 1 : 0)];

    /// <summary>The entry the file states for this form, if any.</summary>
    public bool TryGet(Code code, bool memoryForm, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out InstructionTiming? timing)
    {
        timing = (uint)code < (uint)CodeCount ? _explicit[2 * (int)code + (memoryForm ? 1 : 0)] : null;
        return timing is not null;
    }

    /// <summary>Every entry the file states, in code order (register form first).</summary>
    public IEnumerable<InstructionTiming> Entries()
    {
        foreach (var t in _explicit)
            if (t is not null) yield return t;
    }

    /// <summary>A system cost in cycles (an array lookup).</summary>
    public int System(SystemCost cost) => _system[(int)cost];

    /// <summary>The divide steps, by operand size, signedness and dividend size.</summary>
    public IReadOnlyList<DivideStep> DivideSteps => _divide;

    /// <summary>
    /// DIV/IDIV latency for an operand size (8/16/32/64) and a dividend with
    /// <paramref name="dividendSignificantBits"/> significant bits (for IDIV, of its magnitude): the first
    /// step covering the dividend. Data-dependent on the cores that have it (Skylake's 64-bit divide).
    /// </summary>
    public int DivideLatency(int operandBits, bool signed, int dividendSignificantBits)
    {
        foreach (ref readonly DivideStep d in _divide.AsSpan())
            if (d.OperandBits == operandBits && d.Signed == signed && d.MaxDividendBits >= dividendSignificantBits) return d.Latency;
        throw new ArgumentOutOfRangeException(nameof(operandBits), $"no divide step for {operandBits}-bit {(signed ? "IDIV" : "DIV")} with a {dividendSignificantBits}-bit dividend");
    }

    /// <summary>The fast-string figures of a REP string kind.</summary>
    public RepStringTiming RepString(RepStringKind kind) => _rep[(int)kind];

    /// <summary>
    /// Cycles for a whole REP MOVS/STOS of <paramref name="count"/> elements of <paramref name="elementSize"/>
    /// bytes: below the fast-string threshold, per-iteration cycles; above, start-up plus bytes at the
    /// aligned or unaligned rate (rounded up). At least 1.
    /// </summary>
    public long RepStringCycles(RepStringKind kind, int elementSize, long count, bool aligned)
    {
        if (count <= 0) return 1;
        RepStringTiming r = _rep[(int)kind];
        long bytes = count * elementSize;
        if (bytes < r.FastThresholdBytes) return Math.Max(1, (long)Math.Ceiling(count * r.SlowCyclesPerIteration));
        double rate = aligned ? r.AlignedBytesPerCycle : r.UnalignedBytesPerCycle;
        return r.StartupCycles + (long)Math.Ceiling(bytes / rate);
    }

    /// <summary>
    /// Cycles a REP string of <paramref name="totalCount"/> elements has taken after its first
    /// <paramref name="done"/> elements (0 ≤ done ≤ totalCount), by the same rule as <see cref="RepStringCycles"/>
    /// (the path — per iteration or fast strings — and the rate are chosen by the whole count, as the microcode
    /// does at the start): per-iteration cycles below the threshold, else the start-up with the first element and
    /// the bytes at the rate. Non-decreasing in <paramref name="done"/>, and equal to <see cref="RepStringCycles"/>
    /// at <paramref name="totalCount"/>, so charging the differences iteration by iteration charges what was done.
    /// </summary>
    public long RepStringCyclesAfter(RepStringKind kind, int elementSize, long totalCount, long done, bool aligned)
    {
        if (done <= 0 || totalCount <= 0) return 0;
        RepStringTiming r = _rep[(int)kind];
        if (totalCount * elementSize < r.FastThresholdBytes) return Math.Max(1, (long)Math.Ceiling(done * r.SlowCyclesPerIteration));
        double rate = aligned ? r.AlignedBytesPerCycle : r.UnalignedBytesPerCycle;
        return r.StartupCycles + (long)Math.Ceiling(done * elementSize / rate);
    }

    /// <summary>The geometry of a TLB structure (<see cref="TlbGeometry.Entries"/> 0 when the profile has none).</summary>
    public TlbGeometry Tlb(TlbStructure structure) => _tlb[(int)structure];

    /// <summary>True when the profile describes its data TLBs (<c>tlb</c> lines): page walks on TLB misses are then charged.</summary>
    public bool HasTlbModel => _tlb[(int)TlbStructure.Dtlb4K].Entries > 0;

    /// <summary>The geometry and load-to-use latency of a cache level (<see cref="CacheGeometry.SizeBytes"/> 0 when the profile has none).</summary>
    public CacheGeometry Cache(CacheLevel level) => _cache[(int)level];

    /// <summary>True when the profile describes L1D, L2 and the LLC (<c>cache</c> lines), so that <see cref="CpuModel.CacheTiming"/> can model them.</summary>
    public bool HasCacheModel => _cache[(int)CacheLevel.L1d].SizeBytes > 0;

    /// <summary>Load-to-use latency of a load served by DRAM (core <c>memory-latency</c>; 0 when not stated).</summary>
    public int MemoryLatency { get; }

    /// <inheritdoc />
    public int Cost(Code code, bool memoryForm) => Get(code, memoryForm).SerialCycles;

    /// <summary>The Skylake client profile (the default core).</summary>
    public static TimingProfile Skylake => SkylakeLazy.Value;

    /// <summary>The Haswell profile.</summary>
    public static TimingProfile Haswell => HaswellLazy.Value;

    /// <summary>The "simple" profile: vtx-cost-1, one instruction per cycle.</summary>
    public static TimingProfile Simple => SimpleLazy.Value;

    /// <summary>Names of the built-in profiles.</summary>
    public static IReadOnlyList<string> BuiltInNames => BuiltInFiles;

    /// <summary>A built-in profile by name or alias (case-insensitive): "skylake-client"/"skylake"/"skl", "haswell"/"hsw", "simple"/"vtx-cost-1".</summary>
    /// <exception cref="ArgumentException">No built-in profile has that name.</exception>
    public static TimingProfile ByName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var p in (TimingProfile[])[Skylake, Haswell, Simple])
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p;
            foreach (string a in p.Aliases)
                if (string.Equals(a, name, StringComparison.OrdinalIgnoreCase)) return p;
        }
        throw new ArgumentException($"no timing profile named '{name}' (built in: {string.Join(", ", BuiltInFiles)})", nameof(name));
    }

    /// <summary>The text of a built-in profile's data file.</summary>
    public static string BuiltInText(string fileName)
    {
        using Stream s = typeof(TimingProfile).Assembly.GetManifestResourceStream($"Vtx.Timing.Profiles.{fileName}.txt")
            ?? throw new ArgumentException($"no built-in timing profile file '{fileName}'", nameof(fileName));
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    private static TimingProfile LoadBuiltIn(string fileName) => Parse(BuiltInText(fileName));

    private ushort PortsWith(PortCapability c)
    {
        int m = 0;
        foreach (var p in _ports)
            if ((p.Capabilities & c) != 0) m |= 1 << p.Index;
        return (ushort)m;
    }

    /// <summary>
    /// Parses a profile data file. Line-oriented; '#' starts a comment (the rest of the line). Lines:
    /// <code>
    /// profile NAME                     alias NAME...            machine TEXT
    /// source TEXT (repeatable)         version TEXT             cost-model-name TEXT
    /// core KEY INT                     (issue-width, decode-width, lcp-stall-cycles, l1-load-latency, ...)
    /// port INDEX NAME CAP,CAP...       (PortCapability names)
    /// system KEY INT                   (SystemCost in kebab case: vm-entry, vm-exit-io, cpuid-basic, ...)
    /// div BITS signed|unsigned MAXDIVIDENDBITS LATENCY THROUGHPUT
    /// rep movs|stos|lods|scas|cmps STARTUP THRESHOLDBYTES ALIGNEDBPC UNALIGNEDBPC SLOWCYCLESPERITER
    /// tlb dtlb-4k|dtlb-2m|dtlb-1g|stlb|stlb-1g ENTRIES WAYS
    /// cache l1d|l2|llc SIZEBYTES WAYS LINEBYTES LATENCY
    /// default r|m FIELDS               ins CODE r|m FIELDS   (a later ins line for the same form replaces the earlier)
    /// </code>
    /// FIELDS are KEY=VALUE: uops=FUSED/UNFUSED, ports=2*p0156+p23 (uops.info notation: one µop per
    /// term and multiplicity, digits = port indices, a-f for 10-15; "-" for none), lat, flat (flags
    /// latency), mlat (memory-operand latency), tp (reciprocal throughput), load, sta, std, div
    /// (non-pipelined cycles), flags=A,B (TimingFlags), fuse=Equality,Carry (JccFusionKinds), serial
    /// (ICostModel cycles), src (TimingSource).
    /// </summary>
    /// <exception cref="FormatException">A line is malformed, a value out of range, an entry duplicated, or a required line missing (the message names the line).</exception>
    public static TimingProfile Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var b = new ProfileBuilder();
        int lineNo = 0;
        foreach (string raw in text.Split('\n'))
        {
            lineNo++;
            int hash = raw.IndexOf('#');
            string line = (hash >= 0 ? raw[..hash] : raw).Trim();
            if (line.Length == 0) continue;
            try
            {
                ParseLine(b, line);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                throw new FormatException($"timing profile line {lineNo}: {e.Message}: '{raw.TrimEnd()}'", e);
            }
        }
        return new TimingProfile(b);
    }

    private static void ParseLine(ProfileBuilder b, string line)
    {
        string[] w = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        string rest = line[w[0].Length..].Trim();
        switch (w[0])
        {
            case "profile": b.Name = One(w); break;
            case "alias": b.Aliases.AddRange(w.Skip(1)); break;
            case "machine": b.Machine = NonEmpty(rest); break;
            case "source": b.Sources.Add(NonEmpty(rest)); break;
            case "version": b.Version = One(w); break;
            case "cost-model-name": b.CostModelName = One(w); break;
            case "core":
                Arity(w, 3);
                if (!CoreKeys.Contains(w[1])) throw new FormatException($"unknown core parameter '{w[1]}'");
                if (!b.Core.TryAdd(w[1], Int(w[2]))) throw new FormatException($"core {w[1]} given twice");
                break;
            case "port":
            {
                if (w.Length < 3 || w.Length > 4) throw new FormatException("expected 'port INDEX NAME CAPS'");
                int index = Int(w[1]);
                var caps = w.Length == 4 ? ParseFlags<PortCapability>(w[3]) : PortCapability.None;
                if (b.Ports.Any(p => p.Index == index)) throw new FormatException($"port {index} given twice");
                b.Ports.Add(new PortInfo(index, w[2], caps));
                break;
            }
            case "system":
            {
                Arity(w, 3);
                if (!Enum.TryParse(Pascal(w[1]), out SystemCost c) || Kebab(c.ToString()) != w[1]) throw new FormatException($"unknown system cost '{w[1]}'");
                if (!b.System.TryAdd(c, Int(w[2]))) throw new FormatException($"system {w[1]} given twice");
                break;
            }
            case "div":
            {
                Arity(w, 6);
                int bits = Int(w[1]);
                if (bits is not (8 or 16 or 32 or 64)) throw new FormatException("divide operand size must be 8, 16, 32 or 64");
                bool signed = w[2] switch { "signed" => true, "unsigned" => false, _ => throw new FormatException("expected signed|unsigned") };
                int max = Int(w[3]);
                if (max < 1 || max > 2 * bits) throw new FormatException($"dividend bits {max} outside 1..{2 * bits}");
                b.Divide.Add(new DivideStep(bits, signed, max, Positive(w[4]), Positive(w[5])));
                break;
            }
            case "rep":
            {
                Arity(w, 7);
                RepStringKind k = w[1] switch
                {
                    "movs" => RepStringKind.Movs, "stos" => RepStringKind.Stos, "lods" => RepStringKind.Lods,
                    "scas" => RepStringKind.Scas, "cmps" => RepStringKind.Cmps, _ => throw new FormatException("expected movs|stos|lods|scas|cmps"),
                };
                var r = new RepStringTiming(k, Int(w[2]), Int(w[3]), PositiveDouble(w[4]), PositiveDouble(w[5]), PositiveDouble(w[6]));
                if (!b.Rep.TryAdd(k, r)) throw new FormatException($"rep {w[1]} given twice");
                break;
            }
            case "tlb":
            {
                Arity(w, 4);
                TlbStructure t = w[1] switch
                {
                    "dtlb-4k" => TlbStructure.Dtlb4K, "dtlb-2m" => TlbStructure.Dtlb2M, "dtlb-1g" => TlbStructure.Dtlb1G,
                    "stlb" => TlbStructure.Stlb, "stlb-1g" => TlbStructure.Stlb1G, _ => throw new FormatException("expected dtlb-4k|dtlb-2m|dtlb-1g|stlb|stlb-1g"),
                };
                int entries = Positive(w[2]), ways = Positive(w[3]);
                if (entries % ways != 0 || !IsPowerOfTwo(entries / ways)) throw new FormatException("TLB entries / ways must be a power of two (the number of sets)");
                if (!b.Tlb.TryAdd(t, new TlbGeometry(t, entries, ways))) throw new FormatException($"tlb {w[1]} given twice");
                break;
            }
            case "cache":
            {
                Arity(w, 6);
                CacheLevel l = w[1] switch { "l1d" => CacheLevel.L1d, "l2" => CacheLevel.L2, "llc" => CacheLevel.Llc, _ => throw new FormatException("expected l1d|l2|llc") };
                int size = Positive(w[2]), ways = Positive(w[3]), lineBytes = Positive(w[4]), lat = Positive(w[5]);
                if (!IsPowerOfTwo(lineBytes) || size % (ways * lineBytes) != 0 || !IsPowerOfTwo(size / (ways * lineBytes)))
                    throw new FormatException("cache line size and the number of sets (size / (ways × line)) must be powers of two");
                if (!b.Cache.TryAdd(l, new CacheGeometry(l, size, ways, lineBytes, lat))) throw new FormatException($"cache {w[1]} given twice");
                break;
            }
            case "default":
            {
                if (w.Length < 2) throw new FormatException("expected 'default r|m FIELDS'");
                bool mem = Form(w[1]);
                if (b.Defaults[mem ? 1 : 0] is not null) throw new FormatException("default given twice");
                b.Defaults[mem ? 1 : 0] = Entry(Code.INVALID, mem, w.AsSpan(2), TimingSource.Default);
                break;
            }
            case "ins":
            {
                if (w.Length < 3) throw new FormatException("expected 'ins CODE r|m FIELDS'");
                if (!Enum.TryParse(w[1], out Code code) || code.ToString() != w[1]) throw new FormatException($"unknown Iced code '{w[1]}'");
                bool mem = Form(w[2]);
                // A later line for the same form replaces the earlier one: a profile can be a built-in file with
                // overrides appended (the generated files state each form once).
                b.Entries[(code, mem)] = Entry(code, mem, w.AsSpan(3), TimingSource.Llvm);
                break;
            }
            default: throw new FormatException($"unknown line kind '{w[0]}'");
        }
    }

    private static readonly HashSet<string> CoreKeys = new(StringComparer.Ordinal)
    {
        "issue-width", "decode-width", "decode-bytes-per-cycle", "uop-cache-uops-per-cycle", "microcode-uops-per-cycle",
        "retire-width", "lcp-stall-cycles", "l1-load-latency", "l1-load-latency-complex", "store-forward-latency",
        "rob-size", "scheduler-size", "load-buffer-size", "store-buffer-size", "macro-fusions-per-cycle",
        "taken-branches-per-cycle", "move-elimination", "unlaminate-indexed", "default-serial-cycles", "slow-lea-latency",
        "memory-latency",
    };

    private static bool IsPowerOfTwo(int v) => v > 0 && (v & (v - 1)) == 0;

    private static InstructionTiming Entry(Code code, bool mem, ReadOnlySpan<string> fields, TimingSource defaultSource)
    {
        int fused = -1, unfused = -1, lat = -1, flat = -1, mlat = -1, load = 0, sta = 0, std = 0, div = 0, serial = -1;
        double tp = -1;
        ushort[] ports = [];
        TimingFlags flags = TimingFlags.None;
        JccFusionKinds fuse = JccFusionKinds.None;
        TimingSource src = defaultSource;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string f in fields)
        {
            int eq = f.IndexOf('=');
            if (eq <= 0) throw new FormatException($"field '{f}' is not KEY=VALUE");
            string k = f[..eq], v = f[(eq + 1)..];
            if (!seen.Add(k)) throw new FormatException($"field {k} given twice");
            switch (k)
            {
                case "uops":
                {
                    int slash = v.IndexOf('/');
                    if (slash < 0) throw new FormatException("uops=FUSED/UNFUSED");
                    fused = Int(v[..slash]);
                    unfused = Int(v[(slash + 1)..]);
                    break;
                }
                case "ports": ports = ParsePorts(v); break;
                case "lat": lat = Int(v); break;
                case "flat": flat = Int(v); break;
                case "mlat": mlat = Int(v); break;
                case "tp": tp = NonNegativeDouble(v); break;
                case "load": load = Int(v); break;
                case "sta": sta = Int(v); break;
                case "std": std = Int(v); break;
                case "div": div = Int(v); break;
                case "serial": serial = Int(v); break;
                case "flags": flags = ParseFlags<TimingFlags>(v); break;
                case "fuse": fuse = ParseFlags<JccFusionKinds>(v); break;
                case "src": src = Enum.TryParse(v, out TimingSource s) && s.ToString() == v ? s : throw new FormatException($"unknown source '{v}'"); break;
                default: throw new FormatException($"unknown field '{k}'");
            }
        }
        if (fused < 0) throw new FormatException("missing uops=");
        if (lat < 0) throw new FormatException("missing lat=");
        if (tp < 0) throw new FormatException("missing tp=");
        if (ports.Length > unfused) throw new FormatException($"{ports.Length} port µops but {unfused} unfused µops");
        if (fused > unfused && unfused != 0) throw new FormatException("more fused than unfused µops");
        if (fuse != JccFusionKinds.None && (flags & TimingFlags.MacroFusibleFirst) == 0) throw new FormatException("fuse= without MacroFusibleFirst");
        if (serial < 0) serial = Math.Max(1, Math.Max(lat, mlat));
        return new InstructionTiming(code, mem, fused, unfused, ports, lat, flat < 0 ? lat : flat, mlat < 0 ? 0 : mlat, tp,
            load, sta, std, div, flags, fuse, Math.Min(serial, 65535), src);
    }

    /// <summary>Parses uops.info port notation ("2*p0156+p23"; "-" for none) into one mask per µop.</summary>
    public static ushort[] ParsePorts(string v)
    {
        if (v == "-") return [];
        var list = new List<ushort>();
        foreach (string term in v.Split('+'))
        {
            int n = 1;
            string t = term;
            int star = t.IndexOf('*');
            if (star >= 0) { n = Int(t[..star]); t = t[(star + 1)..]; }
            if (n < 1 || n > 64 || t.Length < 2 || t[0] != 'p') throw new FormatException($"bad port term '{term}'");
            int mask = 0;
            foreach (char c in t.AsSpan(1))
            {
                int bit = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : throw new FormatException($"bad port '{c}' in '{term}'");
                if ((mask & (1 << bit)) != 0) throw new FormatException($"port {c} repeated in '{term}'");
                mask |= 1 << bit;
            }
            for (int i = 0; i < n; i++) list.Add((ushort)mask);
        }
        return list.ToArray();
    }

    /// <summary>Formats port masks in uops.info notation (inverse of <see cref="ParsePorts"/>): runs of equal masks as N*pXYZ, terms in order of first appearance.</summary>
    public static string FormatPorts(ReadOnlySpan<ushort> masks)
    {
        if (masks.Length == 0) return "-";
        var order = new List<ushort>();
        var count = new Dictionary<ushort, int>();
        foreach (ushort m in masks)
        {
            if (count.TryGetValue(m, out int c)) count[m] = c + 1;
            else { order.Add(m); count[m] = 1; }
        }
        var sb = new System.Text.StringBuilder();
        foreach (ushort m in order)
        {
            if (sb.Length > 0) sb.Append('+');
            if (count[m] > 1) sb.Append(count[m]).Append('*');
            sb.Append('p');
            for (int i = 0; i < 16; i++)
                if ((m & (1 << i)) != 0) sb.Append((char)(i < 10 ? '0' + i : 'a' + i - 10));
        }
        return sb.ToString();
    }

    private static T ParseFlags<T>(string v) where T : struct, Enum
    {
        ulong acc = 0;
        foreach (string part in v.Split(','))
        {
            if (!Enum.TryParse(part, out T f) || f.ToString() != part) throw new FormatException($"unknown {typeof(T).Name} '{part}'");
            acc |= Convert.ToUInt64(f, CultureInfo.InvariantCulture);
        }
        return (T)Enum.ToObject(typeof(T), acc);
    }

    private static bool Form(string s) => s switch { "r" => false, "m" => true, _ => throw new FormatException("form must be r or m") };
    private static string One(string[] w) { Arity(w, 2); return w[1]; }
    private static string NonEmpty(string s) => s.Length > 0 ? s : throw new FormatException("empty value");
    private static void Arity(string[] w, int n) { if (w.Length != n) throw new FormatException($"'{w[0]}' takes {n - 1} value(s)"); }
    private static int Int(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw new FormatException($"'{s}' is not a non-negative integer");
    private static int Positive(string s) => Int(s) is > 0 and var v ? v : throw new FormatException($"'{s}' must be positive");
    private static double NonNegativeDouble(string s) =>
        double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : throw new FormatException($"'{s}' is not a non-negative number");
    private static double PositiveDouble(string s) => NonNegativeDouble(s) is > 0 and var v ? v : throw new FormatException($"'{s}' must be positive");

    /// <summary>"VmExitIo" → "vm-exit-io".</summary>
    public static string Kebab(string pascal)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    private static string Pascal(string kebab) =>
        string.Concat(kebab.Split('-').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    private sealed class ProfileBuilder
    {
        public string? Name, Machine, Version, CostModelName;
        public readonly List<string> Aliases = [];
        public readonly List<string> Sources = [];
        public readonly Dictionary<string, int> Core = new(StringComparer.Ordinal);
        public readonly List<PortInfo> Ports = [];
        public readonly Dictionary<SystemCost, int> System = [];
        public readonly List<DivideStep> Divide = [];
        public readonly Dictionary<RepStringKind, RepStringTiming> Rep = [];
        public readonly Dictionary<TlbStructure, TlbGeometry> Tlb = [];
        public readonly Dictionary<CacheLevel, CacheGeometry> Cache = [];
        public readonly InstructionTiming?[] Defaults = new InstructionTiming?[2];
        public readonly Dictionary<(Code, bool), InstructionTiming> Entries = [];
    }
}
