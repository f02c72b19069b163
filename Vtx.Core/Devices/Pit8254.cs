namespace Vtx.Devices;

/// <summary>
/// The Intel 8254 programmable interval timer of the PC (Intel 8254 datasheet): three 16-bit
/// down-counters clocked at 1.193182 MHz, ports 40h-42h (counters 0-2) and 43h (control word), and
/// the PC's port 61h (NMI status and control: bit 0 gate of counter 2, bit 1 speaker data, bit 4
/// refresh toggle, bit 5 the output of counter 2). Counter 0's output is IRQ 0; counter 2's gate is
/// port 61h bit 0 (Linux calibrates the TSC against it when nothing else tells it the frequency).
/// </summary>
/// <remarks>
/// <para>
/// Modes 0-5 (6 and 7 alias 2 and 3), binary or BCD counting, LSB/MSB/LSB-then-MSB access, the
/// counter latch command, the read-back command (count and status latches; status = OUT, NULL
/// COUNT, RW, mode, BCD), gates (modes 0/4 pause while low; 2/3 hold OUT high and reload on the
/// rising edge; 1/5 trigger on the rising edge). The counters are not stepped: their state is
/// computed from the PIT ticks elapsed since the count was loaded, floor(cycles × TscPerCycle ×
/// 1193182 / TscHz) (<see cref="PlatformClock"/>), so reads are exact and cost nothing while the
/// guest does not look. A count written is loaded into the counting element on the next clock
/// (NULL COUNT until then), so mode 0's OUT rises N + 1 ticks after the write, as the datasheet
/// says. A new count written in mode 2 or 3 restarts the period at once (the datasheet lets the
/// current period finish first). Port 61h bit 4 toggles every 18 PIT clocks (15.085 µs, the refresh request).
/// </para>
/// </remarks>
public sealed class Pit8254 : IPortDevice, ITimedDevice
{
    /// <summary>The PIT input clock: 1.193182 MHz.</summary>
    public const ulong FrequencyHz = 1_193_182;

    /// <summary>Port of counter 0.</summary>
    public const ushort Counter0Port = 0x40;
    /// <summary>Control word port.</summary>
    public const ushort ControlPort = 0x43;
    /// <summary>The PC's system control port B (NMI status and control).</summary>
    public const ushort PortB = 0x61;

    private readonly PlatformClock _clock;
    private readonly Action<bool> _irq0;
    private readonly Channel[] _ch = { new(), new(), new() };
    private byte _portB; // bits 0 (gate 2), 1 (speaker), 2, 3 as written
    private ulong _deadline = ulong.MaxValue;

    private sealed class Channel
    {
        public int Mode;            // 0-5
        public int Rw = 3;          // 1 LSB, 2 MSB, 3 LSB then MSB
        public bool Bcd;
        public ushort Reload;       // the count register (CR)
        public bool WriteHigh;      // the next byte written is the MSB (RW = 3)
        public byte WriteLow;
        public bool ReadHigh;       // the next byte read is the MSB (RW = 3)
        public bool Loaded;         // a count has been written since the control word
        public ulong Start;         // tick at which the count was loaded into the counting element
        public bool Armed;          // counting (modes 1/5: triggered)
        public bool Gate = true;
        public ulong PausedElapsed; // ticks counted before the gate went low (modes 0/4)
        public bool Paused;
        public bool CountLatched, StatusLatched, LatchHigh;
        public ushort LatchedCount;
        public byte LatchedStatus;
    }

    /// <summary>The objects holding the counters' state (for snapshots).</summary>
    internal IReadOnlyList<object> StateObjects => [this, _ch[0], _ch[1], _ch[2]];

    /// <summary>Creates the PIT on <paramref name="clock"/>, raising IRQ 0 through <paramref name="irq0"/> (called with the line level).</summary>
    public Pit8254(PlatformClock clock, Action<bool> irq0)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(irq0);
        _clock = clock;
        _irq0 = irq0;
    }

    /// <summary>Claims ports 40h-43h and 61h on <paramref name="bus"/>.</summary>
    public void RegisterOn(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(Counter0Port, 4, this);
        bus.Register(PortB, 1, this);
    }

    private ulong NowTick => _clock.Ticks(_clock.Now, FrequencyHz);

    private static uint Modulus(Channel c) => c.Reload == 0 ? (c.Bcd ? 10000u : 65536u) : c.Bcd ? FromBcd(c.Reload) : c.Reload;

    private static uint FromBcd(ushort v)
    {
        uint r = 0, mul = 1;
        for (int i = 0; i < 4; i++, mul *= 10) r += Math.Min((uint)(v >> (4 * i)) & 0xF, 9) * mul;
        return r == 0 ? 10000 : r;
    }

    private static ushort ToBcd(uint v) => (ushort)(v % 10 | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);

    /// <summary>Ticks counted since the count was loaded, or -1 when not counting (no count, waiting for a trigger, or before the load clock).</summary>
    private long Elapsed(Channel c, ulong now)
    {
        if (!c.Loaded || !c.Armed) return -1;
        if (c.Paused) return (long)c.PausedElapsed;
        return now < c.Start ? -1 : (long)(now - c.Start + c.PausedElapsed);
    }

    private uint CountAt(Channel c, ulong now)
    {
        uint n = Modulus(c);
        long d = Elapsed(c, now);
        uint v;
        if (d < 0) v = n;
        else
        {
            ulong e = (ulong)d;
            v = c.Mode switch
            {
                2 => n - (uint)(e % n),           // n .. 1, reloading after 1
                3 => n - (uint)(2 * e % n),       // counts down by two each clock
                _ => c.Bcd ? (uint)((n + 10000 - e % 10000) % 10000) : (uint)((n - e) & 0xFFFF), // wraps after 0
            };
        }
        return c.Bcd ? ToBcd(v % 10000) : v & 0xFFFF;
    }

    private bool OutAt(Channel c, ulong now)
    {
        long d = Elapsed(c, now);
        uint n = Modulus(c);
        switch (c.Mode)
        {
            case 0: return c.Loaded && d >= n;                          // low until terminal count
            case 1: return !c.Loaded || !c.Armed || d < 0 || d >= n;     // low while the one-shot runs
            case 2: return !c.Gate || d < 0 || n < 2 || (ulong)d % n != n - 1;  // low for the clock where the count is 1
            case 3: return !c.Gate || d < 0 || (ulong)d % n < (n + 1) / 2;      // high for the first half (rounded up)
            default: return d != n;                                       // 4, 5: low for one clock at terminal count
        }
    }

    /// <summary>The output of counter <paramref name="channel"/> (0-2) now.</summary>
    public bool Output(int channel) => OutAt(_ch[channel], NowTick);

    /// <summary>The current count of counter <paramref name="channel"/> (0-2), as a read would give it without a latch.</summary>
    public ushort Count(int channel) => (ushort)CountAt(_ch[channel], NowTick);

    /// <summary>The tick (of the PIT clock) after <paramref name="now"/> at which counter 0's output next rises, or <see cref="ulong.MaxValue"/>.</summary>
    private ulong NextRise(Channel c, ulong now)
    {
        long d = Elapsed(c, now);
        if (d < 0 && !(c.Loaded && c.Armed && !c.Paused)) return ulong.MaxValue;
        if (c.Paused) return ulong.MaxValue;
        ulong n = Modulus(c);
        ulong e = d < 0 ? 0 : (ulong)d;
        ulong next; // elapsed value at which OUT rises
        switch (c.Mode)
        {
            case 0: if (e >= n) return ulong.MaxValue; next = n; break;
            case 2: case 3: if (!c.Gate) return ulong.MaxValue; next = (e / n + 1) * n; break;
            case 4: if (e >= n + 1) return ulong.MaxValue; next = n + 1; break;
            default: return ulong.MaxValue; // 1, 5: counter 0's gate never rises
        }
        return c.Start + next - c.PausedElapsed;
    }

    /// <inheritdoc />
    public ulong NextDeadline => _deadline;

    /// <inheritdoc />
    public void Advance(ulong now)
    {
        if (now < _deadline) return;
        // Counter 0's output rose: an edge on IRQ 0 (missed periods merge, as an edge-latched request does).
        _irq0(true);
        _irq0(false);
        Arm();
    }

    private void Arm()
    {
        ulong tick = NextRise(_ch[0], NowTick);
        _deadline = tick == ulong.MaxValue ? ulong.MaxValue : Math.Max(_clock.CycleOfTick(tick, FrequencyHz), _clock.Now + 1);
        _clock.Reschedule();
    }

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)ReadByte((ushort)(port + i)) << (8 * i);
        return v;
    }

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++) WriteByte((ushort)(port + i), (byte)(value >> (8 * i)));
    }

    private byte ReadByte(ushort port)
    {
        if (port == PortB)
        {
            ulong now = NowTick;
            bool refresh = (now / 18 & 1) != 0; // 15.085 us is 18 PIT clocks
            return (byte)((_portB & 0x0F) | (refresh ? 0x10 : 0) | (OutAt(_ch[2], now) ? 0x20 : 0));
        }
        if (port == ControlPort) return 0xFF; // the control word register cannot be read
        var c = _ch[port - Counter0Port];
        if (c.StatusLatched)
        {
            c.StatusLatched = false;
            return c.LatchedStatus;
        }
        ushort count;
        bool latched = c.CountLatched;
        count = latched ? c.LatchedCount : (ushort)CountAt(c, NowTick);
        byte b;
        switch (c.Rw)
        {
            case 1: b = (byte)count; if (latched) c.CountLatched = false; break;
            case 2: b = (byte)(count >> 8); if (latched) c.CountLatched = false; break;
            default:
                if (latched)
                {
                    b = c.LatchHigh ? (byte)(count >> 8) : (byte)count;
                    if (c.LatchHigh) c.CountLatched = false;
                    c.LatchHigh = !c.LatchHigh;
                }
                else
                {
                    b = c.ReadHigh ? (byte)(count >> 8) : (byte)count;
                    c.ReadHigh = !c.ReadHigh;
                }
                break;
        }
        return b;
    }

    private void WriteByte(ushort port, byte v)
    {
        if (port == PortB)
        {
            bool gate = (v & 1) != 0;
            _portB = (byte)(v & 0x0F);
            SetGate(_ch[2], gate);
            return;
        }
        if (port == ControlPort) { WriteControl(v); return; }
        var c = _ch[port - Counter0Port];
        switch (c.Rw)
        {
            case 1: LoadCount(c, v); break;
            case 2: LoadCount(c, (ushort)(v << 8)); break;
            default:
                if (!c.WriteHigh) { c.WriteLow = v; c.WriteHigh = true; if (c.Mode == 0) { c.Loaded = false; } }
                else { c.WriteHigh = false; LoadCount(c, (ushort)(c.WriteLow | v << 8)); }
                break;
        }
        if (c == _ch[0]) Arm();
    }

    private void WriteControl(byte v)
    {
        int sc = v >> 6;
        if (sc == 3)
        {
            // Read-back (bits 5 = !COUNT, 4 = !STATUS, 3:1 = counters 2..0).
            ulong now = NowTick;
            for (int i = 0; i < 3; i++)
            {
                if ((v & (2 << i)) == 0) continue;
                var c = _ch[i];
                if ((v & 0x20) == 0) LatchCount(c, now);
                if ((v & 0x10) == 0 && !c.StatusLatched)
                {
                    bool nullCount = !c.Loaded || Elapsed(c, now) < 0;
                    c.LatchedStatus = (byte)((OutAt(c, now) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | c.Rw << 4 | c.Mode << 1 | (c.Bcd ? 1 : 0));
                    c.StatusLatched = true;
                }
            }
            return;
        }
        var ch = _ch[sc];
        int rw = (v >> 4) & 3;
        if (rw == 0) { LatchCount(ch, NowTick); return; } // counter latch command
        ch.Rw = rw;
        int mode = (v >> 1) & 7;
        ch.Mode = mode > 5 ? mode - 4 : mode;
        ch.Bcd = (v & 1) != 0;
        ch.Loaded = false;
        ch.Armed = false;
        ch.Paused = false;
        ch.PausedElapsed = 0;
        ch.WriteHigh = ch.ReadHigh = false;
        ch.CountLatched = ch.StatusLatched = false;
        if (ch == _ch[0]) Arm();
    }

    private void LatchCount(Channel c, ulong now)
    {
        if (c.CountLatched) return; // a second latch before the first is read is ignored
        c.LatchedCount = (ushort)CountAt(c, now);
        c.CountLatched = true;
        c.LatchHigh = false;
    }

    private void LoadCount(Channel c, ushort count)
    {
        c.Reload = count;
        c.Loaded = true;
        c.PausedElapsed = 0;
        c.Start = NowTick + 1; // loaded into the counting element on the next clock
        bool triggered = c.Mode is 1 or 5;
        c.Armed = !triggered;
        c.Paused = !triggered && !c.Gate && c.Mode is 0 or 4;
        if (c.Mode is 2 or 3 && !c.Gate) c.Armed = false; // waits for the gate to rise
    }

    private void SetGate(Channel c, bool gate)
    {
        if (gate == c.Gate) return;
        ulong now = NowTick;
        if (!gate)
        {
            if (c.Mode is 0 or 4 && c.Loaded && c.Armed && !c.Paused)
            {
                long d = Elapsed(c, now);
                c.PausedElapsed = d < 0 ? 0 : (ulong)d;
                c.Paused = true;
            }
            if (c.Mode is 2 or 3) c.Armed = false;
        }
        else
        {
            if (c.Paused)
            {
                // Counting resumes on the next clock from where it stopped.
                c.Paused = false;
                c.Start = now + 1;
            }
            else if (c.Loaded && c.Mode is 1 or 2 or 3 or 5)
            {
                // Rising gate: trigger (1, 5) or reload (2, 3) on the next clock.
                c.Start = now + 1;
                c.PausedElapsed = 0;
                c.Armed = true;
            }
        }
        c.Gate = gate;
    }
}
