using Vtx.Execution;

namespace Vtx;

/// <summary>Control-register bits used by the model (SDM Vol. 3A, 2.5).</summary>
public static class Cr0
{
    /// <summary>Protection enable.</summary>
    public const ulong PE = 1UL << 0;
    /// <summary>Monitor coprocessor.</summary>
    public const ulong MP = 1UL << 1;
    /// <summary>Emulation.</summary>
    public const ulong EM = 1UL << 2;
    /// <summary>Task switched.</summary>
    public const ulong TS = 1UL << 3;
    /// <summary>Extension type (reads as 1).</summary>
    public const ulong ET = 1UL << 4;
    /// <summary>Numeric error.</summary>
    public const ulong NE = 1UL << 5;
    /// <summary>Write protect.</summary>
    public const ulong WP = 1UL << 16;
    /// <summary>Alignment mask.</summary>
    public const ulong AM = 1UL << 18;
    /// <summary>Not write-through.</summary>
    public const ulong NW = 1UL << 29;
    /// <summary>Cache disable.</summary>
    public const ulong CD = 1UL << 30;
    /// <summary>Paging.</summary>
    public const ulong PG = 1UL << 31;
}

/// <summary>CR4 bits used by the model (SDM Vol. 3A, 2.5).</summary>
public static class Cr4
{
    /// <summary>Virtual-8086 mode extensions.</summary>
    public const ulong VME = 1UL << 0;
    /// <summary>Protected-mode virtual interrupts.</summary>
    public const ulong PVI = 1UL << 1;
    /// <summary>Time stamp disable (RDTSC privileged).</summary>
    public const ulong TSD = 1UL << 2;
    /// <summary>Debugging extensions.</summary>
    public const ulong DE = 1UL << 3;
    /// <summary>Page size extensions.</summary>
    public const ulong PSE = 1UL << 4;
    /// <summary>Physical address extension.</summary>
    public const ulong PAE = 1UL << 5;
    /// <summary>Machine-check enable.</summary>
    public const ulong MCE = 1UL << 6;
    /// <summary>Page global enable.</summary>
    public const ulong PGE = 1UL << 7;
    /// <summary>Performance-monitoring counter enable.</summary>
    public const ulong PCE = 1UL << 8;
    /// <summary>OS FXSAVE/FXRSTOR support.</summary>
    public const ulong OSFXSR = 1UL << 9;
    /// <summary>OS unmasked SIMD exceptions.</summary>
    public const ulong OSXMMEXCPT = 1UL << 10;
    /// <summary>User-mode instruction prevention.</summary>
    public const ulong UMIP = 1UL << 11;
    /// <summary>57-bit linear addresses (5-level paging).</summary>
    public const ulong LA57 = 1UL << 12;
    /// <summary>VMX enable.</summary>
    public const ulong VMXE = 1UL << 13;
    /// <summary>SMX enable.</summary>
    public const ulong SMXE = 1UL << 14;
    /// <summary>FSGSBASE instructions enable.</summary>
    public const ulong FSGSBASE = 1UL << 16;
    /// <summary>PCID enable.</summary>
    public const ulong PCIDE = 1UL << 17;
    /// <summary>XSAVE enable.</summary>
    public const ulong OSXSAVE = 1UL << 18;
    /// <summary>Supervisor-mode execution prevention.</summary>
    public const ulong SMEP = 1UL << 20;
    /// <summary>Supervisor-mode access prevention.</summary>
    public const ulong SMAP = 1UL << 21;
    /// <summary>Bit 23: control-flow enforcement technology (not offered by the default model; named for the VMX checks that test it).</summary>
    public const ulong CET = 1UL << 23;
}

/// <summary>IA32_EFER bits (MSR C000_0080h, SDM Vol. 3A, 2.2.1).</summary>
public static class Efer
{
    /// <summary>SYSCALL enable.</summary>
    public const ulong SCE = 1UL << 0;
    /// <summary>IA-32e mode enable.</summary>
    public const ulong LME = 1UL << 8;
    /// <summary>IA-32e mode active (read-only to software).</summary>
    public const ulong LMA = 1UL << 10;
    /// <summary>Execute-disable enable.</summary>
    public const ulong NXE = 1UL << 11;
}

/// <summary>The operating mode the processor is in (SDM Vol. 3A, 2.2, Figure 2-3).</summary>
public enum OperatingMode
{
    /// <summary>Real-address mode (CR0.PE = 0).</summary>
    Real,
    /// <summary>Protected mode, legacy (not IA-32e).</summary>
    Protected,
    /// <summary>IA-32e compatibility mode (EFER.LMA = 1, CS.L = 0).</summary>
    Compatibility,
    /// <summary>IA-32e 64-bit mode (EFER.LMA = 1, CS.L = 1).</summary>
    Long64,
}

public sealed partial class Cpu
{
    private readonly SegmentCache[] _seg = new SegmentCache[6];
    private SegmentCache _ldtr, _tr;
    private DescriptorTableRegister _gdtr, _idtr;
    private ulong _cr0 = Cr0.ET | Cr0.CD | Cr0.NW, _cr2, _cr3, _cr4, _efer, _xcr0 = 1;
    private readonly ulong[] _dr = new ulong[8];

    /// <summary>CR0 (SDM Vol. 3A, 2.5). The host setter loads it as is (no architectural checks) and re-derives the mode.</summary>
    public ulong Cr0Value { get => _cr0; set { _cr0 = value | Cr0.ET; ModeChanged(); } }

    /// <summary>CR2: the linear address of the last page fault.</summary>
    public ulong Cr2Value { get => _cr2; set => _cr2 = value; }

    /// <summary>CR3: the paging-structure base (and PCID). The host setter flushes the TLB.</summary>
    public ulong Cr3Value { get => _cr3; set { _cr3 = value; RefreshPaging(true); UpdateTlbKey(); FlushTlb(); } }

    /// <summary>CR4 (SDM Vol. 3A, 2.5). The host setter loads it as is and re-derives the mode.</summary>
    public ulong Cr4Value { get => _cr4; set { _cr4 = value; ModeChanged(); } }

    /// <summary>IA32_EFER. The host setter loads it as is (LMA included) and re-derives the mode.</summary>
    public ulong EferValue { get => _efer; set { _efer = value; ModeChanged(); } }

    /// <summary>XCR0 (extended control register 0; bit 0 always 1).</summary>
    public ulong Xcr0 { get => _xcr0; set => _xcr0 = value | 1; }

    /// <summary>Debug register DRn (n = 0..7; DR4/DR5 alias DR6/DR7 as with CR4.DE = 0).</summary>
    public ulong GetDebugRegister(int n) => _dr[CheckDr(n)];

    /// <summary>Sets debug register DRn (n = 0..7).</summary>
    public void SetDebugRegister(int n, ulong value) { _dr[CheckDr(n)] = value; DebugRegistersChanged(); }

    private static int CheckDr(int n) => n is >= 0 and <= 7 ? (n is 4 or 5 ? n + 2 : n) : throw new ArgumentOutOfRangeException(nameof(n), n, "debug registers are DR0..DR7");

    /// <summary>GDTR.</summary>
    public DescriptorTableRegister Gdtr { get => _gdtr; set => _gdtr = value; }

    /// <summary>IDTR.</summary>
    public DescriptorTableRegister Idtr { get => _idtr; set => _idtr = value; }

    /// <summary>LDTR with its hidden part.</summary>
    public SegmentCache Ldtr { get => _ldtr; set => _ldtr = value; }

    /// <summary>TR (task register) with its hidden part.</summary>
    public SegmentCache Tr { get => _tr; set => _tr = value; }

    /// <summary>The segment register <paramref name="seg"/> with its hidden part.</summary>
    public SegmentCache GetSegment(SegmentRegister seg) => _seg[CheckSeg(seg)];

    /// <summary>
    /// Loads segment register <paramref name="seg"/> with a hidden part given by the host (no
    /// descriptor-table access, no checks), then re-derives the mode; loading CS also sets CPL to
    /// its DPL (SS.DPL is the architectural CPL, SDM Vol. 3C, 24.4.1; the two agree in any
    /// consistent state).
    /// </summary>
    public void SetSegment(SegmentRegister seg, SegmentCache value)
    {
        int i = CheckSeg(seg);
        _seg[i] = value;
        if (seg == SegmentRegister.Cs) _cpl = (_cr0 & Cr0.PE) == 0 ? 0 : value.Dpl;
        ModeChanged();
    }

    private static int CheckSeg(SegmentRegister seg) =>
        (uint)seg < 6 ? (int)seg : throw new ArgumentOutOfRangeException(nameof(seg), seg, "not a segment register (Es..Gs)");

    /// <summary>The current operating mode, derived from CR0.PE, EFER.LMA and CS.L.</summary>
    public OperatingMode Mode =>
        (_cr0 & Cr0.PE) == 0 ? OperatingMode.Real
        : (_efer & Efer.LMA) == 0 ? OperatingMode.Protected
        : _seg[1].Long ? OperatingMode.Long64 : OperatingMode.Compatibility;

    /// <summary>
    /// Re-derives everything that depends on the mode: code size, stack size, IP and linear-address
    /// widths, the effective segment bases (in 64-bit mode the bases of ES, CS, SS and DS are
    /// treated as 0, SDM Vol. 3A, 3.4.4), and forgets fetch shortcuts (decodings are per code size).
    /// </summary>
    private void ModeChanged()
    {
        RefreshPaging(false);
        DebugRegistersChanged(); // CR4.DE arms I/O breakpoints; also re-derives the TLB key
        OperatingMode mode = Mode;
        bool lma = (_efer & Efer.LMA) != 0;
        _codeBits = mode == OperatingMode.Long64 ? 64 : _seg[1].Big ? 32 : 16;
        _stackSize = _codeBits == 64 ? 8 : _seg[2].Big ? 4 : 2;
        _ipMask = _codeBits == 64 ? ulong.MaxValue : _codeBits == 32 ? 0xFFFF_FFFFUL : 0xFFFFUL;
        _linMask = lma ? ulong.MaxValue : 0xFFFF_FFFFUL;
        _canonShift = (_cr4 & Cr4.LA57) != 0 ? 64 - 57 : 64 - 48; // the access rule's width (Cpu.Segmentation.cs)
        for (int i = 0; i < 6; i++)
            _segBase[i] = mode == OperatingMode.Long64 && i < 4 ? 0 : (_seg[i].IsUnusable && mode != OperatingMode.Long64 ? 0 : _seg[i].Base);
        if (mode == OperatingMode.Long64)
        {
            _segBase[4] = _seg[4].Base;
            _segBase[5] = _seg[5].Base;
        }
        _csBase = _segBase[1];
        _rip &= _ipMask;
        // Limit checks cost nothing in 64-bit mode and with flat 4-GiB data segments (the common case).
        _segChecks = false;
        if (mode != OperatingMode.Long64)
            foreach (int i in new[] { 0, 2, 3, 4, 5, 1 })
            {
                var sc = _seg[i];
                bool flat = !sc.IsUnusable && sc.Limit == 0xFFFF_FFFF && (sc.IsCode || (sc.Type & 4) == 0);
                if (!flat && !(mode == OperatingMode.Real && sc.Limit == 0xFFFF && !sc.IsUnusable)) _segChecks = true;
            }
        ForgetFetchPage();
    }

    /// <summary>
    /// Puts the processor in its power-up/RESET state (SDM Vol. 3A, 9.1.1, Table 9-1): real mode,
    /// CS:IP = F000:FFF0 with CS base FFFF0000h, other segments base 0 limit FFFFh, CR0 = 60000010h,
    /// EDX = processor signature, RFLAGS = 2, GDTR/IDTR base 0 limit FFFFh, DR6 = FFFF0FF0h,
    /// DR7 = 400h. Counters (cycles, instructions) are not reset: time goes on.
    /// </summary>
    public void Reset() => ResetCore(init: false);

    /// <summary>
    /// RESET (<paramref name="init"/> false) or the register part of INIT (SDM Vol. 3A, 9.1, Table 9-1
    /// INIT column): INIT leaves the x87/SSE state, XCR0, CR0.CD/NW, the MSRs other than EFER and the
    /// TSC unchanged, and puts the local APIC through its INIT response instead of its reset.
    /// </summary>
    private void ResetCore(bool init)
    {
        ulong cacheBits = _cr0 & (Cr0.CD | Cr0.NW);
        Array.Clear(_gpr);
        _gpr[2] = Model.Cpuid(1, 0).Eax;
        _cr0 = Cr0.ET | (init ? cacheBits : Cr0.CD | Cr0.NW);
        _cr2 = _cr3 = _cr4 = _efer = 0;
        if (!init)
        {
            _xcr0 = 1;
            ResetFpuState();
        }
        Array.Clear(_dr);
        _dr[6] = 0xFFFF0FF0;
        _dr[7] = 0x400;
        if (!init)
        {
            _debugCtl = 0;
            _miscEnable = MiscFastStrings | MiscBtsUnavailable | MiscPebsUnavailable;
        }
        _bpMatched = 0;
        _bpHit = false;
        WriteRflags(2);
        _seg[1] = new SegmentCache(0xF000, 0xFFFF_0000, 0xFFFF, 0x9B);
        foreach (int i in new[] { 0, 2, 3, 4, 5 }) _seg[i] = new SegmentCache(0, 0, 0xFFFF, 0x93);
        _gdtr = _idtr = new DescriptorTableRegister(0, 0xFFFF);
        _ldtr = new SegmentCache(0, 0, 0xFFFF, 0x82);
        _tr = new SegmentCache(0, 0, 0xFFFF, 0x8B);
        _cpl = 0;
        _signal = 0;
        _halted = _shutdown = false;
        _nmiPending = _nmiBlocked = _intrPending = _dbTrapPending = false;
        _vmxOn = false; // RESET leaves VMX operation
        _nonRoot = false;
        _initPending = _sipiPending = false;
        _eptOn = false;
        FlushEptTlb(); // RESET: no cached guest-physical mappings survive
        _vmxStep = _vmxWatch = _preemptArmed = _mtfPending = false;
        _currentVmcs = ulong.MaxValue;
        _activeVmcs?.Clear();
        _vmcsCache = null;
        _shadow = 0;
        InterceptedExceptions = 0;
        _waitForSipi = false;
        if (init) Apic.Init();
        else Apic?.Reset(); // null only while the constructor runs its first Reset
        ModeChanged();
        _rip = 0xFFF0;
        FlushTlb();
    }
}
