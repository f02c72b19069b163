namespace Vtx.Devices;

/// <summary>
/// The ACPI fixed-hardware registers of the PC platform (ACPI 6.5, 4.8 "ACPI Hardware Model"):
/// the PM1a event block (PM1_STS, PM1_EN) at 600h, the PM1a control block (PM1_CNT) at 604h, the
/// 32-bit power-management timer (PM_TMR, 3.579545 MHz) at 608h, and the reset register at CF9h
/// (the PIIX/ICH reset control register). The FADT the firmware writes (<see cref="Firmware.PcFirmware"/>)
/// describes exactly these.
/// </summary>
/// <remarks>
/// <para>
/// PM1_STS bits are write-one-to-clear: TMR_STS (0) is set each time bit 31 of the timer changes,
/// PWRBTN_STS (8) and WAK_STS (15) are never set here. PM1_EN enables TMR_EN (0), GBL_EN (5),
/// PWRBTN_EN (8), RTC_EN (10); an enabled status raises the SCI, IRQ 9 (level, active high).
/// PM1_CNT: SCI_EN (0) reads 1 (the FADT has no SMI command port, so the platform is always in ACPI
/// mode), BM_RLD (1) and SLP_TYP (12:10) are read/write, GBL_RLS (2) and SLP_EN (13) are write-only.
/// Writing SLP_EN with SLP_TYP = <see cref="SlpTypS5"/> (the value the DSDT's \_S5 package gives)
/// powers the machine off: the run stops with <see cref="StopReason.PowerOff"/>. Other sleep types
/// are not offered (the DSDT declares only \_S5) and are ignored. Writing bit 2 (RST_CPU) to CF9h
/// resets the machine: the run stops with <see cref="StopReason.Reset"/>. The PM timer is derived
/// from the cycle clock: floor(cycles × TscPerCycle × 3579545 / TscHz) mod 2^32.
/// </para>
/// </remarks>
public sealed class AcpiPm : IPortDevice, ITimedDevice
{
    /// <summary>The PM1a event block (4 bytes: PM1_STS, PM1_EN).</summary>
    public const ushort Pm1aEventPort = 0x600;
    /// <summary>The PM1a control block (2 bytes).</summary>
    public const ushort Pm1aControlPort = 0x604;
    /// <summary>The PM timer (4 bytes).</summary>
    public const ushort PmTimerPort = 0x608;
    /// <summary>The reset register (1 byte).</summary>
    public const ushort ResetPort = 0xCF9;
    /// <summary>The value written to the reset register to reset (FADT RESET_VALUE): RST_CPU | SYS_RST.</summary>
    public const byte ResetValue = 0x06;
    /// <summary>The PM timer frequency: 3.579545 MHz.</summary>
    public const ulong TimerHz = 3_579_545;
    /// <summary>SLP_TYP of the soft-off state S5.</summary>
    public const int SlpTypS5 = 5;
    /// <summary>The SCI's ISA interrupt.</summary>
    public const int SciIrq = 9;

    private readonly PlatformClock _clock;
    private readonly Action<bool> _sci;
    private readonly Action<StopReason> _stop;
    private ushort _sts, _en, _cnt = 1;
    private ulong _tmrEpoch; // (timer >> 31) when TMR_STS was last brought up to date
    private bool _sciLine;
    private ulong _deadline = ulong.MaxValue;

    /// <summary>Creates the block on <paramref name="clock"/>; <paramref name="sci"/> drives IRQ 9, <paramref name="stop"/> ends the run (power off, reset).</summary>
    public AcpiPm(PlatformClock clock, Action<bool> sci, Action<StopReason> stop)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(sci);
        ArgumentNullException.ThrowIfNull(stop);
        _clock = clock;
        _sci = sci;
        _stop = stop;
    }

    /// <summary>Claims 600h-60Bh and CF9h on <paramref name="bus"/>.</summary>
    public void RegisterOn(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(Pm1aEventPort, 12, this);
        bus.Register(ResetPort, 1, this);
    }

    private ulong TimerTicks => _clock.Ticks(_clock.Now, TimerHz);

    /// <summary>The PM timer value now.</summary>
    public uint Timer => (uint)TimerTicks;

    private void Update()
    {
        ulong epoch = TimerTicks >> 31;
        if (epoch != _tmrEpoch) { _sts |= 1; _tmrEpoch = epoch; }
        bool sci = (_sts & _en & 0x0521) != 0;
        if (sci != _sciLine) { _sciLine = sci; _sci(sci); }
        ulong d = ulong.MaxValue;
        if ((_en & 1) != 0 && (_sts & 1) == 0) d = Math.Max(_clock.CycleOfTick((_tmrEpoch + 1) << 31, TimerHz), _clock.Now + 1);
        if (d != _deadline) { _deadline = d; _clock.Reschedule(); }
    }

    /// <inheritdoc />
    public ulong NextDeadline => _deadline;

    /// <inheritdoc />
    public void Advance(ulong now)
    {
        _deadline = ulong.MaxValue;
        Update();
    }

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        Update();
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)ReadByte(port + i) << (8 * i);
        return v;
    }

    private byte ReadByte(int port) => port switch
    {
        0x600 => (byte)_sts,
        0x601 => (byte)(_sts >> 8),
        0x602 => (byte)_en,
        0x603 => (byte)(_en >> 8),
        0x604 => (byte)(_cnt | 1),
        0x605 => (byte)((_cnt >> 8) & ~0x20), // SLP_EN reads 0
        >= 0x608 and <= 0x60B => (byte)(Timer >> (8 * (port - 0x608))),
        ResetPort => 0,
        _ => 0xFF, // 606h-607h: not decoded by the block
    };

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        Update();
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            int p = port + i;
            switch (p)
            {
                case 0x600: _sts &= (ushort)~b; break;                 // write one to clear
                case 0x601: _sts &= (ushort)~(b << 8); break;
                case 0x602: _en = (ushort)((_en & 0xFF00) | (b & 0x21)); break;
                case 0x603: _en = (ushort)((_en & 0x00FF) | ((b & 0x05) << 8)); break;
                case 0x604: _cnt = (ushort)((_cnt & 0xFF00) | (b & 0x03) | 1); break;
                case 0x605:
                    _cnt = (ushort)((_cnt & 0x00FF) | ((b & 0x1C) << 8));
                    if ((b & 0x20) != 0 && ((b >> 2) & 7) == SlpTypS5) _stop(StopReason.PowerOff);
                    break;
                case ResetPort:
                    if ((b & 0x04) != 0) _stop(StopReason.Reset);
                    break;
            }
        }
        Update();
    }
}
