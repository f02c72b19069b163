using System.Numerics;

namespace Vtx.Apic;

/// <summary>
/// The local APIC of one processor (SDM Vol. 3A, chapter 11): xAPIC registers (MMIO at the APIC
/// base) and x2APIC registers (MSRs 800h-8FFh), IA32_APIC_BASE with its state machine, interrupt
/// acceptance by priority class (IRR/ISR/TMR, TPR/PPR), EOI, the LVT (timer, LINT0, LINT1, error,
/// thermal, performance, CMCI), the timer (one-shot, periodic, TSC-deadline) on the cycle clock, and
/// the ICR (fixed, lowest-priority, NMI, INIT, SIPI; physical/logical destinations; shorthands).
/// Alone (a <see cref="Cpu"/> on its own, or a one-processor <see cref="Machine"/>), an IPI reaches
/// this APIC when it is a destination and nothing else; in a machine with several processors the
/// ICR sends through the machine's APIC bus to every local APIC it names (<see cref="Machine.Cpus"/>).
/// </summary>
public sealed class LocalApic
{
    /// <summary>Default APIC base physical address.</summary>
    public const ulong DefaultBase = 0xFEE0_0000;
    /// <summary>IA32_APIC_BASE bit 8: bootstrap processor.</summary>
    public const ulong BaseBsp = 1UL << 8;
    /// <summary>IA32_APIC_BASE bit 10: x2APIC mode.</summary>
    public const ulong BaseExtd = 1UL << 10;
    /// <summary>IA32_APIC_BASE bit 11: APIC global enable.</summary>
    public const ulong BaseEnable = 1UL << 11;
    /// <summary>IA32_TSC_DEADLINE MSR index.</summary>
    public const uint TscDeadlineMsr = 0x6E0;

    private const uint LvtMasked = 1u << 16;
    private bool _anyIrr; // cheap test for the processor's per-boundary check
    private readonly uint[] _irr = new uint[8], _isr = new uint[8], _tmr = new uint[8];
    private readonly uint[] _lvt = new uint[7]; // CMCI, timer, thermal, perf, LINT0, LINT1, error
    private const int LvtCmci = 0, LvtTimer = 1, LvtThermal = 2, LvtPerf = 3, LvtLint0 = 4, LvtLint1 = 5, LvtError = 6;
    private uint _id, _tpr, _ldr, _dfr = 0xFFFF_FFFF, _svr = 0xFF, _esr, _esrPending, _icrLow, _icrHigh, _divide;
    private uint _initialCount;
    private ulong _timerStart, _timerDeadline = ulong.MaxValue, _tscDeadline;
    private readonly Func<ulong> _clock;
    private readonly Func<ulong> _tsc;
    private readonly Action _raiseNmi;
    private readonly int _physicalAddressBits;
    private readonly ulong _tscPerCycle;

    /// <summary>Creates the APIC of the bootstrap processor with APIC ID <paramref name="id"/>, enabled in xAPIC mode at <see cref="DefaultBase"/>.</summary>
    /// <param name="clock">Current cycle count (the timer counts cycles divided by the divide configuration).</param>
    /// <param name="tsc">Current time-stamp counter (for TSC-deadline mode).</param>
    /// <param name="raiseNmi">Delivers an NMI to the processor (LVT or IPI with NMI delivery mode).</param>
    /// <param name="id">APIC ID.</param>
    /// <param name="physicalAddressBits">MAXPHYADDR, which bounds the APIC base.</param>
    /// <param name="tscPerCycle">TSC increments per cycle (to turn a TSC deadline into a cycle; 0 = the TSC stands still).</param>
    public LocalApic(Func<ulong> clock, Func<ulong> tsc, Action raiseNmi, uint id = 0, int physicalAddressBits = 46, ulong tscPerCycle = 1)
    {
        _clock = clock;
        _tsc = tsc;
        _tscPerCycle = tscPerCycle;
        _raiseNmi = raiseNmi;
        _physicalAddressBits = physicalAddressBits;
        BaseMsr = DefaultBase | BaseBsp | BaseEnable;
        _initialId = id;
        ResetState();
    }

    private uint _initialId;
    private bool _bootstrap = true;

    // The APIC bus of a machine with several processors (null: this APIC is alone) and the signals
    // this APIC raises in its processor when a message asks for INIT or a start-up.
    internal ApicBus? Bus;
    internal Action? InitSignal;
    internal Action<byte>? StartupSignal;
    internal Action RaiseNmiSignal => _raiseNmi;

    /// <summary>The APIC ID: the 8-bit xAPIC ID (bits 31:24 of register 20h in xAPIC mode) or the 32-bit x2APIC ID.</summary>
    public uint Id => _id;

    /// <summary>The initial APIC ID the hardware assigned (CPUID.01H:EBX[31:24], the x2APIC ID); processors of a machine get 0..N-1.</summary>
    public uint InitialId => _initialId;

    /// <summary>Gives this APIC its hardware-assigned ID (machine construction: processor i gets i).</summary>
    internal void AssignInitialId(uint id)
    {
        _initialId = id;
        _id = id;
        if (X2ApicMode) _ldr = LogicalIdX2();
    }

    /// <summary>
    /// IA32_APIC_BASE.BSP (bit 8): set on the bootstrap processor, clear on application processors
    /// (SDM Vol. 3A, 9.4.1, 11.4.4); RESET keeps what the platform chose.
    /// </summary>
    internal bool Bootstrap
    {
        get => _bootstrap;
        set
        {
            _bootstrap = value;
            BaseMsr = value ? BaseMsr | BaseBsp : BaseMsr & ~BaseBsp;
        }
    }

    /// <summary>IA32_APIC_BASE (MSR 1Bh).</summary>
    public ulong BaseMsr { get; private set; }

    /// <summary>The APIC is globally enabled in xAPIC mode (MMIO registers at <see cref="BaseAddress"/>).</summary>
    public bool XApicMode => (BaseMsr & (BaseEnable | BaseExtd)) == BaseEnable;

    /// <summary>The APIC is in x2APIC mode (MSR registers).</summary>
    public bool X2ApicMode => (BaseMsr & (BaseEnable | BaseExtd)) == (BaseEnable | BaseExtd);

    /// <summary>Physical base address of the xAPIC register page.</summary>
    public ulong BaseAddress => BaseMsr & ~0xFFFUL & ((1UL << _physicalAddressBits) - 1);

    /// <summary>Software enable: SVR bit 8.</summary>
    public bool SoftwareEnabled => (BaseMsr & BaseEnable) != 0 && (_svr & 0x100) != 0;

    /// <summary>Task priority (TPR[7:0]); CR8 reads and writes TPR[7:4].</summary>
    public byte Tpr { get => (byte)_tpr; set => _tpr = value; }

    /// <summary>The cycle at which the timer fires next, or <see cref="ulong.MaxValue"/>.</summary>
    public ulong NextTimerDeadline
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _timerDeadline;
    }

    /// <summary>True while the timer runs in periodic mode (LVT timer mode 01b, SDM Vol. 3A 11.5.4): its deadlines never run out.</summary>
    public bool TimerPeriodic => TimerMode == 1 && _timerDeadline != ulong.MaxValue;

    /// <summary>True when the LVT timer entry is masked (bit 16, SDM Vol. 3A 11.5.1): its expiries raise no interrupt.</summary>
    public bool TimerMasked => (_lvt[LvtTimer] & 0x1_0000) != 0;

    /// <summary>Power-up/RESET state (SDM Vol. 3A, 11.4.7.1): xAPIC mode at the default base, registers at their reset values.</summary>
    public void Reset()
    {
        BaseMsr = DefaultBase | (_bootstrap ? BaseBsp : 0) | BaseEnable;
        ResetState();
    }

    /// <summary>
    /// The local APIC's response to INIT (SDM Vol. 3A, 11.4.7.3 and 11.12.5.1): IA32_APIC_BASE (an MSR)
    /// keeps its value, so the APIC stays disabled, in xAPIC mode or in x2APIC mode; the APIC ID is
    /// preserved (all 32 bits in x2APIC mode, where the LDR is derived from it again); every other
    /// register returns to its power-up value (IRR/ISR/TMR, TPR, LDR, DFR, SVR = FFh, LVT masked,
    /// timer stopped, ESR, ICR).
    /// </summary>
    public void Init()
    {
        uint id = _id;
        ResetState();
        _id = id;
        if (X2ApicMode) _ldr = LogicalIdX2();
    }

    private void ResetState()
    {
        Array.Clear(_irr);
        _anyIrr = false;
        Array.Clear(_isr);
        Array.Clear(_tmr);
        for (int i = 0; i < _lvt.Length; i++) _lvt[i] = LvtMasked;
        _id = _initialId;
        _tpr = _ldr = _esr = _esrPending = _icrLow = _icrHigh = _divide = _initialCount = 0;
        _dfr = 0xFFFF_FFFF;
        _svr = 0xFF;
        _timerDeadline = ulong.MaxValue;
        _tscDeadline = 0;
    }

    /// <summary>
    /// WRMSR to IA32_APIC_BASE, following the state machine of SDM Vol. 3A, 11.12.5: disabled,
    /// xAPIC, x2APIC; EN = 0 with EXTD = 1 is invalid, x2APIC → xAPIC and disabled → x2APIC are
    /// invalid transitions (#GP). Disabling resets the APIC's state; it can be enabled again.
    /// Returns false when WRMSR must raise #GP(0).
    /// </summary>
    public bool TryWriteBaseMsr(ulong v)
    {
        ulong reserved = ~(((1UL << _physicalAddressBits) - 1) & ~0xFFFUL | BaseBsp | BaseExtd | BaseEnable);
        if ((v & reserved) != 0) return false;
        bool en = (v & BaseEnable) != 0, extd = (v & BaseExtd) != 0;
        if (!en && extd) return false;
        bool wasX2 = X2ApicMode, wasOn = (BaseMsr & BaseEnable) != 0;
        if (wasX2 && en && !extd) return false;        // x2APIC -> xAPIC
        if (!wasOn && en && extd) return false;        // disabled -> x2APIC
        v = (v & ~BaseBsp) | (BaseMsr & BaseBsp);
        BaseMsr = v;
        if (!en) ResetState();
        else if (extd && !wasX2)
        {
            // SDM Vol. 3A, 11.12.5.1: a written xAPIC ID, the LDR and ICR[63:32] are not preserved;
            // the x2APIC ID is the initial APIC ID and the LDR is derived from it.
            _id = _initialId;
            _icrHigh = 0;
            _ldr = LogicalIdX2();
        }
        return true;
    }

    private uint LogicalIdX2() => ((_id >> 4) << 16) | (1u << (int)(_id & 0xF));

    // ------------------------------------------------------------------ acceptance and delivery

    private static int Highest(uint[] bits)
    {
        for (int i = 7; i >= 0; i--)
            if (bits[i] != 0) return i * 32 + 31 - BitOperations.LeadingZeroCount(bits[i]);
        return -1;
    }

    private static void Set(uint[] bits, int v) => bits[v >> 5] |= 1u << (v & 31);
    private static void Clear(uint[] bits, int v) => bits[v >> 5] &= ~(1u << (v & 31));

    /// <summary>Processor priority: the higher of TPR and the class of the highest in-service vector (SDM Vol. 3A, 11.8.3.1).</summary>
    public uint Ppr
    {
        get
        {
            int isrv = Math.Max(Highest(_isr), 0);
            return (_tpr >> 4) >= (uint)(isrv >> 4) ? _tpr : (uint)(isrv & 0xF0);
        }
    }

    /// <summary>
    /// Accepts a fixed interrupt with <paramref name="vector"/> into the IRR (from an IPI, an LVT
    /// entry or an external source). Vectors 0-15 are illegal: the send/receive-illegal-vector
    /// error is recorded instead (ESR bit 6).
    /// </summary>
    public void Accept(byte vector, bool levelTriggered = false)
    {
        if ((BaseMsr & BaseEnable) == 0) return;
        if (vector < 16)
        {
            SignalError(1u << 6);
            return;
        }
        Set(_irr, vector);
        _anyIrr = true;
        if (levelTriggered) Set(_tmr, vector);
        else Clear(_tmr, vector);
    }

    /// <summary>True when an IRR vector outranks the processor priority, so the processor can take it when RFLAGS.IF allows.</summary>
    public bool HasDeliverable
    {
        // The processor asks at every boundary: the common "nothing requested" answer is one field test.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => _anyIrr && Deliverable();
    }

    private bool Deliverable()
    {
        if ((BaseMsr & BaseEnable) == 0) return false;
        int irrv = Highest(_irr);
        return irrv >= 0 && (uint)(irrv & 0xF0) > (Ppr & 0xF0);
    }

    /// <summary>Interrupt acknowledge: moves the highest deliverable IRR vector to the ISR and returns it (or the spurious vector when none is deliverable any more).</summary>
    public byte Acknowledge()
    {
        int irrv = Highest(_irr);
        if (irrv < 0 || (uint)(irrv & 0xF0) <= (Ppr & 0xF0)) return (byte)(_svr & 0xFF);
        Clear(_irr, irrv);
        _anyIrr = Highest(_irr) >= 0;
        Set(_isr, irrv);
        return (byte)irrv;
    }

    /// <summary>
    /// EOI: retires the highest in-service vector. When that vector was accepted level-triggered
    /// (its TMR bit is set) and SVR bit 12 (suppress EOI broadcast) is clear, the EOI is broadcast to
    /// the I/O APICs through <see cref="EoiBroadcast"/> (SDM Vol. 3A, 11.8.5).
    /// </summary>
    public void EndOfInterrupt()
    {
        int isrv = Highest(_isr);
        if (isrv < 0) return;
        Clear(_isr, isrv);
        if ((_tmr[isrv >> 5] & (1u << (isrv & 31))) != 0 && (_svr & 0x1000) == 0) EoiBroadcast?.Invoke((byte)isrv);
    }

    /// <summary>Receives the vector of an EOI for a level-triggered interrupt (the EOI message to the I/O APICs); null: no I/O APIC.</summary>
    public Action<byte>? EoiBroadcast { get; set; }

    /// <summary>
    /// True when this APIC is a destination of an interrupt message with <paramref name="destination"/>
    /// in physical (<paramref name="logical"/> false) or logical mode, by its APIC ID or its LDR/DFR
    /// (SDM Vol. 3A, 11.6.2); 0xFF (xAPIC) or FFFF_FFFFh (x2APIC) is the broadcast.
    /// </summary>
    public bool IsDestinationOf(uint destination, bool logical) => (BaseMsr & BaseEnable) != 0 && IsDestination(destination, logical);

    /// <summary>
    /// Receives an interrupt message from the system bus (an I/O APIC redirection entry or an MSI;
    /// SDM Vol. 3A, 11.6.1 delivery modes): fixed (0) and lowest priority (1) set the IRR (with TMR for
    /// level-triggered), NMI (4) raises the processor's NMI, INIT (5) signals INIT to the processor
    /// (when it belongs to a machine) and start-up (6) a SIPI with <paramref name="vector"/>. SMI (2)
    /// is dropped: Vtx has no SMM. ExtINT (7) is handled by the platform through the INTR pin
    /// (<see cref="Cpu.SetInterruptLine"/>). A disabled APIC accepts nothing.
    /// </summary>
    public void DeliverMessage(int deliveryMode, byte vector, bool levelTriggered)
    {
        if ((BaseMsr & BaseEnable) == 0) return;
        switch (deliveryMode)
        {
            case 0:
            case 1: Accept(vector, levelTriggered); break;
            case 4: _raiseNmi(); break;
            case 5: InitSignal?.Invoke(); break;
            case 6: StartupSignal?.Invoke(vector); break;
        }
    }

    /// <summary>Asserts local interrupt pin LINT0 or LINT1: delivered as the LVT entry says (fixed vector, NMI, or ignored when masked).</summary>
    public void RaiseLint(int pin)
    {
        if (pin is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(pin), pin, "LINT pins are 0 and 1");
        DeliverLvt(pin == 0 ? LvtLint0 : LvtLint1);
    }

    private void DeliverLvt(int index)
    {
        uint lvt = _lvt[index];
        if ((lvt & LvtMasked) != 0 || !SoftwareEnabled) return;
        switch ((lvt >> 8) & 7)
        {
            case 0: Accept((byte)lvt, index is LvtLint0 or LvtLint1 && (lvt & (1u << 15)) != 0); break;
            case 4: _raiseNmi(); break;
            // SMI, INIT and ExtINT are not modelled for LVT sources.
        }
    }

    private void SignalError(uint bits)
    {
        _esrPending |= bits;
        DeliverLvt(LvtError);
    }

    // ------------------------------------------------------------------ timer

    private int DivideShift => ((int)(_divide & 3) | (int)((_divide >> 1) & 4)) switch { 7 => 0, var n => n + 1 };

    private int TimerMode => (int)((_lvt[LvtTimer] >> 17) & 3);

    private void StartTimer()
    {
        if (TimerMode == 2) { _timerDeadline = ulong.MaxValue; return; }
        _timerStart = _clock();
        _timerDeadline = _initialCount == 0 ? ulong.MaxValue : _timerStart + ((ulong)_initialCount << DivideShift);
    }

    private uint CurrentCount
    {
        get
        {
            if (_initialCount == 0 || TimerMode == 2 || _timerDeadline == ulong.MaxValue) return 0;
            ulong now = _clock();
            ulong elapsed = (now - _timerStart) >> DivideShift;
            if (TimerMode == 1) return _initialCount - (uint)(elapsed % _initialCount);
            return elapsed >= _initialCount ? 0 : _initialCount - (uint)elapsed;
        }
    }

    /// <summary>Fires the timer if its deadline has passed (called by the processor at instruction boundaries).</summary>
    public void Advance(ulong now)
    {
        if (now < _timerDeadline) return;
        if (TimerMode == 2)
        {
            _timerDeadline = ulong.MaxValue;
            _tscDeadline = 0;
        }
        else if (TimerMode == 1 && _initialCount != 0)
        {
            ulong period = (ulong)_initialCount << DivideShift;
            _timerStart = _timerDeadline;
            _timerDeadline += period;
        }
        else _timerDeadline = ulong.MaxValue;
        DeliverLvt(LvtTimer);
    }

    /// <summary>Re-derives the TSC-deadline timer's cycle deadline after the TSC's relation to cycles changed.</summary>
    private void ArmTscDeadline()
    {
        if (TimerMode != 2 || _tscDeadline == 0) { if (TimerMode == 2) _timerDeadline = ulong.MaxValue; return; }
        ulong tsc = _tsc(), now = _clock();
        if (_tscDeadline <= tsc) { _timerDeadline = now; return; }
        if (_tscPerCycle == 0) { _timerDeadline = ulong.MaxValue; return; }
        // The first cycle whose TSC is at or past the deadline.
        ulong cycles = (_tscDeadline - tsc - 1) / _tscPerCycle + 1;
        _timerDeadline = now + cycles < now ? ulong.MaxValue : now + cycles;
    }

    /// <summary>The TSC was written (or its offset changed): an armed TSC deadline fires when the new TSC reaches it.</summary>
    public void TscChanged() => ArmTscDeadline();

    // ------------------------------------------------------------------ registers

    /// <summary>Reads an xAPIC register at <paramref name="offset"/> in the 4-KiB page (32-bit registers at 16-byte strides).</summary>
    public uint Read(uint offset)
    {
        offset &= 0xFF0;
        switch (offset)
        {
            case 0x20: return X2ApicMode ? _id : _id << 24;
            case 0x30: return 0x0006_0014; // version 14h, max LVT entry 6 (with CMCI)
            case 0x80: return _tpr;
            case 0x90: return 0;
            case 0xA0: return Ppr;
            case 0xD0: return _ldr;
            case 0xE0: return X2ApicMode ? 0 : _dfr;
            case 0xF0: return _svr;
            case 0x280: return _esr;
            case 0x2F0: return _lvt[LvtCmci];
            case 0x300: return _icrLow & ~(1u << 12); // delivery status: idle
            case 0x310: return _icrHigh;
            case 0x320: return _lvt[LvtTimer];
            case 0x330: return _lvt[LvtThermal];
            case 0x340: return _lvt[LvtPerf];
            case 0x350: return _lvt[LvtLint0];
            case 0x360: return _lvt[LvtLint1];
            case 0x370: return _lvt[LvtError];
            case 0x380: return _initialCount;
            case 0x390: return CurrentCount;
            case 0x3E0: return _divide;
        }
        if (offset is >= 0x100 and < 0x180) return _isr[(offset - 0x100) >> 4];
        if (offset is >= 0x180 and < 0x200) return _tmr[(offset - 0x180) >> 4];
        if (offset is >= 0x200 and < 0x280) return _irr[(offset - 0x200) >> 4];
        return 0;
    }

    /// <summary>Writes an xAPIC register at <paramref name="offset"/>; read-only registers ignore writes.</summary>
    public void Write(uint offset, uint value)
    {
        offset &= 0xFF0;
        switch (offset)
        {
            case 0x20: if (!X2ApicMode) _id = value >> 24; break;
            case 0x80: _tpr = value & 0xFF; break;
            case 0xB0: EndOfInterrupt(); break;
            case 0xD0: if (!X2ApicMode) _ldr = value & 0xFF00_0000; break;
            case 0xE0: if (!X2ApicMode) _dfr = value | 0x0FFF_FFFF; break;
            case 0xF0:
                _svr = value & 0x1FFF;
                if ((_svr & 0x100) == 0) for (int i = 0; i < _lvt.Length; i++) _lvt[i] |= LvtMasked;
                break;
            case 0x280: _esr = _esrPending; _esrPending = 0; break;
            case 0x2F0: WriteLvt(LvtCmci, value, 0x1_07FF); break;
            case 0x300: _icrLow = value & 0x000C_CFFF; SendIpi(); break;
            case 0x310: _icrHigh = value & 0xFF00_0000; break;
            case 0x320:
            {
                int oldMode = TimerMode;
                WriteLvt(LvtTimer, value, 0x7_00FF);
                // A transition to or from TSC-deadline mode disarms the timer (SDM Vol. 3A, 11.5.4.1).
                if (TimerMode != oldMode) { _initialCount = 0; _timerDeadline = ulong.MaxValue; _tscDeadline = 0; }
                break;
            }
            case 0x330: WriteLvt(LvtThermal, value, 0x1_07FF); break;
            case 0x340: WriteLvt(LvtPerf, value, 0x1_07FF); break;
            case 0x350: WriteLvt(LvtLint0, value, 0x1_A7FF); break;
            case 0x360: WriteLvt(LvtLint1, value, 0x1_A7FF); break;
            case 0x370: WriteLvt(LvtError, value, 0x1_00FF); break;
            case 0x380:
                if (TimerMode == 2) break;
                _initialCount = value;
                StartTimer();
                break;
            case 0x3E0:
                _divide = value & 0xB;
                if (_timerDeadline != ulong.MaxValue && TimerMode != 2) StartTimer();
                break;
        }
    }

    private void WriteLvt(int index, uint value, uint writable)
    {
        uint v = value & writable;
        if (!SoftwareEnabled) v |= LvtMasked;
        _lvt[index] = v;
    }

    /// <summary>
    /// Sends the IPI the ICR describes (SDM Vol. 3A, 11.6.1). Alone: fixed/lowest-priority to a
    /// destination that includes this APIC sets its IRR, NMI raises the processor's NMI, INIT and
    /// SIPI (which a processor never sends itself) do nothing. In a machine the APIC bus delivers to
    /// every destination (<see cref="ApicBus"/>). The INIT level de-assert message (delivery mode 101b,
    /// level 0, trigger mode level) only resynchronised arbitration IDs on P6-era APICs and is ignored
    /// by xAPIC/x2APIC processors: it has no effect. The send completes within the ICR write, so the
    /// delivery status bit (12) always reads idle.
    /// </summary>
    private void SendIpi()
    {
        int mode = (int)((_icrLow >> 8) & 7), shorthand = (int)((_icrLow >> 18) & 3);
        byte vector = (byte)_icrLow;
        if (mode == 5 && (_icrLow & (1u << 14)) == 0 && (_icrLow & (1u << 15)) != 0) return; // INIT level de-assert
        if (Bus is { } bus)
        {
            if (mode is 0 or 1 && vector < 16) { SignalError(1u << 5); return; } // send illegal vector
            bus.SendIpi(this, mode, shorthand, X2ApicMode ? _icrHigh : _icrHigh >> 24, (_icrLow & (1u << 11)) != 0, vector, (_icrLow & (1u << 15)) != 0);
            return;
        }
        bool toSelf = shorthand switch
        {
            1 => true,
            2 => true,
            3 => false,
            _ => IsDestination(X2ApicMode ? _icrHigh : _icrHigh >> 24, (_icrLow & (1u << 11)) != 0),
        };
        if (!toSelf) return;
        switch (mode)
        {
            case 0:
            case 1:
                if (vector < 16) SignalError(1u << 5); // send illegal vector
                else Accept(vector, (_icrLow & (1u << 15)) != 0);
                break;
            case 4: _raiseNmi(); break;
            // SMI, INIT, SIPI to this processor are not modelled (a single BSP): ignored.
        }
    }

    private bool IsDestination(uint dest, bool logical)
    {
        if (X2ApicMode)
        {
            if (dest == 0xFFFF_FFFF) return true;
            if (!logical) return dest == _id;
            return (dest >> 16) == (_ldr >> 16) && (dest & _ldr & 0xFFFF) != 0;
        }
        dest &= 0xFF;
        if (dest == 0xFF) return true;
        if (!logical) return dest == (_id & 0xFF);
        uint ldr = _ldr >> 24;
        return (_dfr >> 28) == 0xF ? (dest & ldr) != 0 : (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xF) != 0;
    }

    /// <summary>RDMSR in the x2APIC range (800h-8FFh) and IA32_TSC_DEADLINE; false when RDMSR must raise #GP(0).</summary>
    public bool TryReadMsr(uint msr, out ulong v)
    {
        v = 0;
        if (msr == TscDeadlineMsr) { v = TimerMode == 2 ? _tscDeadline : 0; return true; }
        if (!X2ApicMode || msr is < 0x800 or > 0x8FF) return false;
        uint offset = (msr - 0x800) << 4;
        if (offset is 0xB0 or 0xE0 or 0x3F0 or 0x310) return false; // write-only / not present in x2APIC
        if (offset == 0x300) { v = ((ulong)_icrHigh << 32) | (_icrLow & ~(1u << 12)); return true; }
        if (offset is 0x20 or 0x30 or 0x80 or 0xA0 or 0xD0 or 0xF0 or 0x280 or 0x2F0 or >= 0x100 and < 0x280 or >= 0x320 and <= 0x390 or 0x3E0)
        {
            v = Read(offset);
            return true;
        }
        return false;
    }

    /// <summary>WRMSR in the x2APIC range and IA32_TSC_DEADLINE; false when WRMSR must raise #GP(0).</summary>
    public bool TryWriteMsr(uint msr, ulong v)
    {
        if (msr == TscDeadlineMsr)
        {
            if (TimerMode != 2) return true; // ignored outside TSC-deadline mode
            _tscDeadline = v;
            ArmTscDeadline();
            return true;
        }
        if (!X2ApicMode || msr is < 0x800 or > 0x8FF) return false;
        uint offset = (msr - 0x800) << 4;
        switch (offset)
        {
            case 0x300:
                if ((v & 0xFFF3_2000UL) != 0) return false; // reserved (RsvdZ) ICR bits 13, 17:16, 31:20
                _icrHigh = (uint)(v >> 32);
                _icrLow = (uint)v & 0x000C_CFFF;
                SendIpi();
                return true;
            case 0x3F0: // SELF IPI
                if ((v & ~0xFFUL) != 0) return false;
                if (v < 16) SignalError(1u << 5);
                else Accept((byte)v);
                return true;
            case 0xB0:
                if (v != 0) return false;
                EndOfInterrupt();
                return true;
            case 0x80 when (v & ~0xFFUL) != 0:
            case 0x280 when v != 0: // SDM Vol. 3A, Table 11-6: a non-zero ESR write is #GP(0)
                return false;
            case 0x80: case 0xF0: case 0x280: case 0x2F0: case 0x320: case 0x330: case 0x340:
            case 0x350: case 0x360: case 0x370: case 0x380: case 0x3E0:
                if ((v >> 32) != 0) return false;
                Write(offset, (uint)v);
                return true;
            default:
                return false; // read-only or reserved
        }
    }
}
