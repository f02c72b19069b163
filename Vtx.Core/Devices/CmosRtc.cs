namespace Vtx.Devices;

/// <summary>
/// The PC's CMOS real-time clock and NVRAM (Motorola MC146818A data sheet, as in every PC chipset):
/// index port 70h (bit 7 disables NMI), data port 71h; registers 00h-09h time, alarm and date
/// (BCD or binary, 12- or 24-hour), status registers A-D, and CMOS bytes 0Eh-7Fh including the
/// memory-size bytes firmware leaves there. Interrupts (periodic, alarm, update-ended) go to IRQ 8.
/// </summary>
/// <remarks>
/// <para>
/// The clock is deterministic: it starts at a host-chosen date and time (<see cref="MachineOptions"/>)
/// and advances with the cycle clock through a 32.768-kHz time base derived from the TSC's nominal
/// frequency (<see cref="PlatformClock"/>); second updates happen on exact multiples of 32768 time-base
/// ticks since the machine started. Update-in-progress (register A bit 7) is set for the last 8
/// ticks (244 µs) before each update. Register B's SET bit, or a divider value of 11x in register A,
/// stops the updates; the time registers can then be written and counting resumes from them.
/// </para>
/// <para>
/// Register C (IRQF, PF, AF, UF) is computed from what happened since it was last read: PF at each
/// periodic-rate boundary (rate select RS in register A: 0 none, 1 and 2 as 8 and 9, n ≥ 3 every
/// 2^(n-1) ticks), UF at each update, AF at an update whose time matches the alarm (alarm bytes
/// C0h-FFh match anything); reading C clears it and releases IRQ 8. IRQF — (PF ∧ PIE) ∨ (AF ∧ AIE) ∨
/// (UF ∧ UIE) — rising makes an edge on IRQ 8. A date that is not a valid calendar date (a guest
/// wrote garbage) stands still instead of advancing. Register D reads 80h (valid RAM and time).
/// </para>
/// </remarks>
public sealed class CmosRtc : IPortDevice, ITimedDevice
{
    /// <summary>The index port (bit 7: NMI disable).</summary>
    public const ushort IndexPort = 0x70;
    /// <summary>The data port.</summary>
    public const ushort DataPort = 0x71;
    /// <summary>The RTC time base: 32.768 kHz.</summary>
    public const ulong TimeBaseHz = 32768;

    private readonly PlatformClock _clock;
    private readonly Action<bool> _irq8;
    private readonly byte[] _cmos = new byte[128];
    private byte _index;
    // Time fields in binary: seconds, minutes, hours (0-23), day of week (1-7), day, month, year (0-99), century.
    private int _sec, _min, _hour, _dow, _day, _mon, _year, _century;
    private ulong _syncSecond;  // the update count (seconds since start) the fields correspond to
    private ulong _syncTick;    // the time-base tick of the last flag evaluation
    private byte _regA = 0x26, _regB = 0x02, _flags; // flags: C bits 6:4
    private bool _irqLine;
    private ulong _deadline = ulong.MaxValue;

    /// <summary>Creates the RTC on <paramref name="clock"/> set to <paramref name="start"/> (UTC), raising IRQ 8 through <paramref name="irq8"/>.</summary>
    public CmosRtc(PlatformClock clock, Action<bool> irq8, DateTime start)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(irq8);
        _clock = clock;
        _irq8 = irq8;
        SetFields(start);
        _cmos[0x0D] = 0x80;
    }

    /// <summary>NMI disabled: the last write to port 70h had bit 7 set (the NMI gate on a PC; nothing on this platform raises NMIs through it).</summary>
    public bool NmiDisabled { get; private set; }

    /// <summary>Claims ports 70h-71h on <paramref name="bus"/>.</summary>
    public void RegisterOn(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(IndexPort, 2, this);
    }

    /// <summary>Sets a CMOS NVRAM byte (0Eh-7Fh) as firmware would before boot.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in 0Eh-7Fh.</exception>
    public void SetByte(int index, byte value)
    {
        if (index is < 0x0E or > 0x7F) throw new ArgumentOutOfRangeException(nameof(index), index, "CMOS NVRAM bytes are 0Eh-7Fh");
        _cmos[index] = value;
    }

    /// <summary>
    /// Stores the memory-size bytes a PC BIOS (and QEMU) leaves: 15h-16h base memory (640 KiB),
    /// 17h-18h and 30h-31h KiB above 1 MiB (at most FFFFh), 34h-35h 64-KiB units above 16 MiB below
    /// 4 GiB, 5Bh-5Dh 64-KiB units above 4 GiB, 5Fh processors - 1, and 32h the century.
    /// </summary>
    public void SetMemorySize(ulong lowBytes, ulong highBytes, int cpus)
    {
        void W16(int i, ulong v) { v = Math.Min(v, 0xFFFF); _cmos[i] = (byte)v; _cmos[i + 1] = (byte)(v >> 8); }
        W16(0x15, 640);
        ulong ext = lowBytes > 0x10_0000 ? (lowBytes - 0x10_0000) / 1024 : 0;
        W16(0x17, ext);
        W16(0x30, ext);
        W16(0x34, lowBytes > 0x100_0000 ? (lowBytes - 0x100_0000) >> 16 : 0);
        ulong high = highBytes >> 16;
        _cmos[0x5B] = (byte)high; _cmos[0x5C] = (byte)(high >> 8); _cmos[0x5D] = (byte)(high >> 16);
        _cmos[0x5F] = (byte)Math.Max(cpus - 1, 0);
    }

    private void SetFields(DateTime t)
    {
        _sec = t.Second; _min = t.Minute; _hour = t.Hour; _dow = (int)t.DayOfWeek + 1;
        _day = t.Day; _mon = t.Month; _year = t.Year % 100; _century = t.Year / 100;
    }

    private bool Stopped => (_regB & 0x80) != 0 || (_regA & 0x60) == 0x60;
    private bool Binary => (_regB & 0x04) != 0;
    private bool Hour24 => (_regB & 0x02) != 0;
    private ulong NowTick => _clock.Ticks(_clock.Now, TimeBaseHz);

    private ulong PeriodTicks => (_regA & 0x0F) switch { 0 => 0, 1 => 128, 2 => 256, var rs => 1UL << (rs - 1) };

    /// <summary>Brings the time fields and the flags up to the current tick.</summary>
    private void CatchUp()
    {
        ulong now = NowTick;
        if (now <= _syncTick) return;
        ulong last = _syncTick;
        ulong p = PeriodTicks;
        if (p != 0 && now / p > last / p) _flags |= 0x40;                      // PF
        ulong seconds = now / TimeBaseHz;
        if (!Stopped && seconds > _syncSecond)
        {
            ulong n = seconds - _syncSecond;
            _flags |= 0x10;                                                     // UF
            // Step through the updates (at most a day's worth is needed to see every alarm match).
            if (n > 86400) { AddSeconds(n - 86400); n = 86400; }
            for (ulong i = 0; i < n; i++)
            {
                AddSeconds(1);
                if (AlarmMatches()) _flags |= 0x20;                             // AF
            }
        }
        _syncSecond = seconds;
        _syncTick = now;
        UpdateIrq();
    }

    private bool ValidDate => _mon is >= 1 and <= 12 && _day >= 1 && _century is >= 0 and <= 99 && _year is >= 0 and <= 99
                              && _day <= DateTime.DaysInMonth(_century * 100 + _year == 0 ? 2000 : _century * 100 + _year, _mon)
                              && _hour is >= 0 and <= 23 && _min is >= 0 and <= 59 && _sec is >= 0 and <= 59;

    private void AddSeconds(ulong n)
    {
        if (!ValidDate) return; // garbage stands still
        int y = _century * 100 + _year;
        if (y == 0) return;
        var t = new DateTime(y, _mon, _day, _hour, _min, _sec, DateTimeKind.Utc);
        if (n > (ulong)(DateTime.MaxValue - t).TotalSeconds) return;
        var u = t.AddSeconds(n);
        long days = (long)(u.Date - t.Date).TotalDays;
        int dow = _dow is >= 1 and <= 7 ? (int)((_dow - 1 + days) % 7) + 1 : _dow;
        SetFields(u);
        _dow = dow;
    }

    private bool AlarmMatches() =>
        Match(_cmos[1], Encode(_sec)) && Match(_cmos[3], Encode(_min)) && Match(_cmos[5], EncodeHour());

    private static bool Match(byte alarm, byte now) => alarm >= 0xC0 || alarm == now;

    private byte Encode(int v) => Binary ? (byte)v : (byte)((v / 10 % 10) << 4 | v % 10);
    private int Decode(byte b) => Binary ? b : (b >> 4) * 10 + (b & 0xF);

    private byte EncodeHour()
    {
        if (Hour24) return Encode(_hour);
        int h = _hour % 12 == 0 ? 12 : _hour % 12;
        return (byte)(Encode(h) | (_hour >= 12 ? 0x80 : 0));
    }

    private int DecodeHour(byte b)
    {
        if (Hour24) return Decode(b);
        int h = Decode((byte)(b & 0x7F)) % 12;
        return (b & 0x80) != 0 ? h + 12 : h;
    }

    private void UpdateIrq()
    {
        byte b = _regB;
        bool irqf = ((_flags & 0x40) != 0 && (b & 0x40) != 0) || ((_flags & 0x20) != 0 && (b & 0x20) != 0) || ((_flags & 0x10) != 0 && (b & 0x10) != 0);
        if (irqf != _irqLine)
        {
            _irqLine = irqf;
            _irq8(irqf);
        }
        Arm();
    }

    private void Arm()
    {
        ulong d = ulong.MaxValue;
        if (!_irqLine)
        {
            ulong now = NowTick, p = PeriodTicks;
            ulong next = ulong.MaxValue;
            if ((_regB & 0x40) != 0 && p != 0) next = (now / p + 1) * p;
            if ((_regB & 0x30) != 0 && !Stopped) next = Math.Min(next, (now / TimeBaseHz + 1) * TimeBaseHz);
            if (next != ulong.MaxValue) d = Math.Max(_clock.CycleOfTick(next, TimeBaseHz), _clock.Now + 1);
        }
        if (d != _deadline)
        {
            _deadline = d;
            _clock.Reschedule();
        }
    }

    /// <inheritdoc />
    public ulong NextDeadline => _deadline;

    /// <inheritdoc />
    public void Advance(ulong now)
    {
        _deadline = ulong.MaxValue;
        CatchUp();
        Arm();
    }

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++)
            v |= (uint)(port + i == DataPort ? ReadData() : 0xFF) << (8 * i);
        return v;
    }

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            if (port + i == IndexPort) { _index = (byte)(b & 0x7F); NmiDisabled = (b & 0x80) != 0; }
            else WriteData(b);
        }
    }

    private byte ReadData()
    {
        CatchUp();
        switch (_index)
        {
            case 0x00: return Encode(_sec);
            case 0x02: return Encode(_min);
            case 0x04: return EncodeHour();
            case 0x06: return Encode(_dow);
            case 0x07: return Encode(_day);
            case 0x08: return Encode(_mon);
            case 0x09: return Encode(_year);
            case 0x32: return Encode(_century);
            case 0x0A:
            {
                bool uip = !Stopped && NowTick % TimeBaseHz >= TimeBaseHz - 8;
                return (byte)(_regA | (uip ? 0x80 : 0));
            }
            case 0x0B: return _regB;
            case 0x0C:
            {
                byte c = (byte)(_flags | (_irqLine ? 0x80 : 0));
                _flags = 0;
                UpdateIrq();
                return c;
            }
            case 0x0D: return 0x80;
            default: return _cmos[_index];
        }
    }

    private void WriteData(byte v)
    {
        CatchUp();
        switch (_index)
        {
            case 0x00: _sec = Decode((byte)(v & 0x7F)); break;
            case 0x02: _min = Decode((byte)(v & 0x7F)); break;
            case 0x04: _hour = DecodeHour(v); break;
            case 0x06: _dow = Decode(v); break;
            case 0x07: _day = Decode(v); break;
            case 0x08: _mon = Decode(v); break;
            case 0x09: _year = Decode(v); break;
            case 0x32: _century = Decode(v); break;
            case 0x0A: _regA = (byte)(v & 0x7F); break;
            case 0x0B:
                // SET clears UIE (MC146818A: "SET = 1 ... UIE is cleared").
                _regB = (v & 0x80) != 0 ? (byte)(v & ~0x10) : v;
                break;
            case 0x0C: case 0x0D: break; // read-only
            default: _cmos[_index] = v; break;
        }
        if (_index is 0x01 or 0x03 or 0x05) _cmos[_index] = v;
        // Stopping and restarting re-aligns the update count so the written time is not skipped past.
        _syncSecond = NowTick / TimeBaseHz;
        UpdateIrq();
    }
}
