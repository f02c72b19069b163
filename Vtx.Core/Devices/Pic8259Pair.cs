namespace Vtx.Devices;

/// <summary>
/// One Intel 8259A programmable interrupt controller (Intel 8259A datasheet, "Programming the
/// 8259A": initialization command words ICW1-ICW4 and operation command words OCW1-OCW3): the
/// interrupt request register (IRR), in-service register (ISR), mask (IMR), the priority resolver
/// with rotation, edge or level sensing per line (ICW1 LTIM, or the PC's ELCR), fully nested and
/// special fully nested modes, special mask mode, normal and automatic EOI, and poll.
/// </summary>
public sealed class Pic8259
{
    private int _initStep; // 0 = ready; 2, 3, 4 = expecting that ICW on the data port
    private bool _poll;
    private byte _lines;   // input pin levels
    private readonly byte _elcrMask;
    private readonly bool _master;

    internal Pic8259(byte vectorBase, byte icw3, bool master)
    {
        _master = master;
        _elcrMask = master ? (byte)0xF8 : (byte)0xDE; // IRQ0-2, IRQ8 and IRQ13 are always edge (PIIX ELCR)
        Icw1 = 0x11;            // edge triggered, cascade, ICW4 needed
        Icw2 = vectorBase;
        Icw3 = icw3;
        Icw4 = 0x01;            // 8086/8088 mode, normal EOI
        Imr = 0xFF;
        LowestPriority = 7;
    }

    /// <summary>The last ICW1 (command port, bit 4 set): bit 0 IC4 (ICW4 follows), bit 1 SNGL (no ICW3), bit 3 LTIM (all lines level-sensitive).</summary>
    public byte Icw1 { get; private set; }

    /// <summary>The last ICW2: bits 7:3 are the vector base (T7-T3).</summary>
    public byte Icw2 { get; private set; }

    /// <summary>The last ICW3: on the master, the lines with a slave; on a slave, its cascade identity.</summary>
    public byte Icw3 { get; private set; }

    /// <summary>The last ICW4 (0 when ICW1 said none follows): bit 0 µPM (8086 mode), bit 1 AEOI, bit 4 SFNM.</summary>
    public byte Icw4 { get; private set; }

    /// <summary>The vector of line 0: ICW2 with bits 2:0 cleared (8086 mode).</summary>
    public byte VectorBase => (byte)(Icw2 & 0xF8);

    /// <summary>The interrupt mask register (OCW1): a set bit masks that line.</summary>
    public byte Imr { get; private set; }

    /// <summary>The interrupt request register: lines requesting service.</summary>
    public byte Irr { get; private set; }

    /// <summary>The in-service register: lines acknowledged and not yet ended by an EOI.</summary>
    public byte Isr { get; private set; }

    /// <summary>The edge/level control register (PIIX/ICH ports 4D0h/4D1h): a set bit makes that line level-sensitive.</summary>
    public byte Elcr { get; private set; }

    /// <summary>True when a read of the command port returns ISR (OCW3 RR=1, RIS=1); false for IRR.</summary>
    public bool ReadsIsr { get; private set; }

    /// <summary>Special mask mode (OCW3 ESMM/SMM): in-service lines that are masked do not block lower priorities.</summary>
    public bool SpecialMaskMode { get; private set; }

    /// <summary>Automatic end of interrupt (ICW4 bit 1).</summary>
    public bool AutoEoi => (Icw4 & 0x02) != 0;

    /// <summary>Special fully nested mode (ICW4 bit 4): on the master, a slave in service does not block the slave's higher requests.</summary>
    public bool SpecialFullyNested => (Icw4 & 0x10) != 0;

    /// <summary>Rotate-in-automatic-EOI mode (OCW2 R=1, SL=0, EOI=0).</summary>
    public bool RotateOnAutoEoi { get; private set; }

    /// <summary>The line with the lowest priority (7 after ICW1; changed by the OCW2 rotate and set-priority commands).</summary>
    public int LowestPriority { get; private set; }

    /// <summary>True between ICW1 and the last ICW the sequence calls for.</summary>
    public bool Initializing => _initStep != 0;

    private byte LevelLines => (Icw1 & 0x08) != 0 ? (byte)0xFF : Elcr;

    /// <summary>Drives input line <paramref name="line"/> (0-7): edge-sensitive lines latch a request on a rising edge; level-sensitive lines request while high.</summary>
    internal void SetLine(int line, bool high)
    {
        byte m = (byte)(1 << line);
        if ((LevelLines & m) != 0)
        {
            if (high) Irr |= m; else Irr &= (byte)~m;
        }
        else if (high && (_lines & m) == 0) Irr |= m;
        if (high) _lines |= m; else _lines &= (byte)~m;
    }

    internal void WriteElcr(byte v) => Elcr = (byte)(v & _elcrMask);

    // Priority of the highest-priority set bit of mask, 0 (highest) to 7; 8 when none.
    private int Priority(byte mask)
    {
        if (mask == 0) return 8;
        int add = (LowestPriority + 1) & 7, p = 0;
        while ((mask & (1 << ((p + add) & 7))) == 0) p++;
        return p;
    }

    /// <summary>The line the INT output requests service for, or -1: the highest-priority unmasked request above every in-service level.</summary>
    internal int PendingLine()
    {
        int p = Priority((byte)(Irr & ~Imr));
        if (p == 8) return -1;
        byte isr = Isr;
        if (SpecialMaskMode) isr &= (byte)~Imr;
        if (_master && SpecialFullyNested) isr &= unchecked((byte)~0x04);
        return p < Priority(isr) ? (p + LowestPriority + 1) & 7 : -1;
    }

    /// <summary>The acknowledge of <paramref name="line"/> (INTA or poll): the request moves to in-service (not with AEOI); an edge request is consumed.</summary>
    internal void Acknowledge(int line)
    {
        byte m = (byte)(1 << line);
        if ((LevelLines & m) == 0) Irr &= (byte)~m;
        if (AutoEoi)
        {
            if (RotateOnAutoEoi) LowestPriority = line;
        }
        else Isr |= m;
    }

    internal byte ReadCommand()
    {
        if (_poll) return ReadPoll();
        return ReadsIsr ? Isr : Irr;
    }

    internal byte ReadData() => _poll ? ReadPoll() : Imr;

    private byte ReadPoll()
    {
        // Poll (OCW3 P=1): the next read is the poll word; a pending request is acknowledged as by INTA.
        _poll = false;
        int line = PendingLine();
        if (line < 0) return 0x00;
        Acknowledge(line);
        return (byte)(0x80 | line);
    }

    internal void WriteCommand(byte v)
    {
        if ((v & 0x10) != 0)
        {
            // ICW1: starts the initialization sequence and resets the chip state (datasheet, "Initialization Command Words"):
            // the mask and in-service registers clear and the edge-sense latches reset (a new rising edge is needed).
            Icw1 = v;
            if ((v & 0x01) == 0) Icw4 = 0;
            Imr = 0;
            Isr = 0;
            Irr = (byte)(_lines & LevelLines);
            _lines &= LevelLines;
            ReadsIsr = false;
            SpecialMaskMode = false;
            RotateOnAutoEoi = false;
            LowestPriority = 7;
            _poll = false;
            _initStep = 2;
        }
        else if ((v & 0x08) != 0)
        {
            // OCW3: poll, read-register select, special mask mode.
            if ((v & 0x04) != 0) _poll = true;
            if ((v & 0x02) != 0) ReadsIsr = (v & 0x01) != 0;
            if ((v & 0x40) != 0) SpecialMaskMode = (v & 0x20) != 0;
        }
        else
        {
            // OCW2: R, SL, EOI in bits 7:5; level in bits 2:0.
            int level = v & 7;
            switch (v >> 5)
            {
                case 0b001: ClearHighestIsr(out _); break;                                   // non-specific EOI
                case 0b011: Isr &= (byte)~(1 << level); break;                               // specific EOI
                case 0b101: if (ClearHighestIsr(out int l)) LowestPriority = l; break;        // rotate on non-specific EOI
                case 0b100: RotateOnAutoEoi = true; break;                                   // set rotate in AEOI mode
                case 0b000: RotateOnAutoEoi = false; break;                                  // clear rotate in AEOI mode
                case 0b111: Isr &= (byte)~(1 << level); LowestPriority = level; break;       // rotate on specific EOI
                case 0b110: LowestPriority = level; break;                                   // set priority
                default: break;                                                              // 0b010: no operation
            }
        }
    }

    internal void WriteData(byte v)
    {
        switch (_initStep)
        {
            case 2:
                Icw2 = v;
                _initStep = (Icw1 & 0x02) == 0 ? 3 : (Icw1 & 0x01) != 0 ? 4 : 0;
                break;
            case 3:
                Icw3 = v;
                _initStep = (Icw1 & 0x01) != 0 ? 4 : 0;
                break;
            case 4:
                Icw4 = v;
                _initStep = 0;
                break;
            default:
                Imr = v; // OCW1
                break;
        }
    }

    private bool ClearHighestIsr(out int level)
    {
        int p = Priority(Isr);
        if (p == 8) { level = 0; return false; }
        level = (p + LowestPriority + 1) & 7; // highest priority is the line after the lowest
        Isr &= (byte)~(1 << level);
        return true;
    }
}

/// <summary>
/// The PC's cascaded pair of 8259A interrupt controllers: the master at ports 0x20/0x21 (command,
/// data) and the slave, on master line 2, at 0xA0/0xA1, with the edge/level control registers at
/// 0x4D0/0x4D1 (Intel 8259A datasheet; IBM PC/AT technical reference; Intel PIIX/ICH ELCR). Devices
/// drive ISA lines 0-15 with <see cref="SetIrq"/>; the master's INT output is reported through
/// <see cref="OutputChanged"/> and the processor's INTA cycle (<see cref="Acknowledge"/>) returns
/// the vector.
/// </summary>
/// <remarks>
/// <para>
/// The initial state is what a PC BIOS leaves: both chips initialized (edge triggered, cascaded,
/// 8086 mode), master vectors 0x08-0x0F with the slave on line 2, slave vectors 0x70-0x77 with
/// identity 2, and every line masked (IMR = 0xFF). ICW1 clears the mask, as the datasheet says.
/// The device is byte-wide; wider accesses are split into byte accesses.
/// </para>
/// <para>
/// INTA: the master resolves its highest-priority request above every in-service level; when that is
/// line 2 the slave resolves its own and supplies the vector. A request that went away before the
/// acknowledge gives the spurious IRQ 7 vector of the chip concerned without setting its ISR bit, as
/// the datasheet describes. Edge-sensitive requests stay latched until acknowledged (even if the
/// line falls first); level-sensitive ones follow the line.
/// </para>
/// </remarks>
public sealed class Pic8259Pair : IPortDevice, IInterruptAcknowledge
{
    /// <summary>Master command port (ICW1, OCW2, OCW3; reads IRR/ISR).</summary>
    public const ushort MasterCommandPort = 0x20;
    /// <summary>Master data port (ICW2-ICW4, OCW1; reads IMR).</summary>
    public const ushort MasterDataPort = 0x21;
    /// <summary>Slave command port.</summary>
    public const ushort SlaveCommandPort = 0xA0;
    /// <summary>Slave data port.</summary>
    public const ushort SlaveDataPort = 0xA1;
    /// <summary>Master edge/level control register (ELCR1).</summary>
    public const ushort ElcrMasterPort = 0x4D0;
    /// <summary>Slave edge/level control register (ELCR2).</summary>
    public const ushort ElcrSlavePort = 0x4D1;

    private bool _output;

    /// <summary>Creates the pair in the state a PC BIOS leaves it (see the remarks).</summary>
    public Pic8259Pair()
    {
        Master = new Pic8259(0x08, 0x04, true);
        Slave = new Pic8259(0x70, 0x02, false);
    }

    /// <summary>The master controller (IRQ 0-7).</summary>
    public Pic8259 Master { get; }

    /// <summary>The slave controller (IRQ 8-15), cascaded on master line 2.</summary>
    public Pic8259 Slave { get; }

    /// <summary>Called with the new level whenever the master's INT output changes.</summary>
    public Action<bool>? OutputChanged { get; set; }

    /// <summary>The master's INT output: a request the processor has not yet acknowledged is waiting.</summary>
    public bool Output => _output;

    /// <summary>Claims ports 0x20-0x21 and 0xA0-0xA1 on <paramref name="bus"/> for this pair.</summary>
    public void RegisterOn(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(MasterCommandPort, 2, this);
        bus.Register(SlaveCommandPort, 2, this);
    }

    /// <summary>Also claims the ELCR ports 0x4D0-0x4D1 (PC platforms with a PIIX-style south bridge).</summary>
    public void RegisterElcrOn(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(ElcrMasterPort, 2, this);
    }

    /// <summary>Drives ISA interrupt line <paramref name="irq"/> (0-15; 2 is the cascade and is ignored) to <paramref name="high"/>.</summary>
    public void SetIrq(int irq, bool high)
    {
        if ((uint)irq > 15 || irq == 2) return;
        if (irq < 8) Master.SetLine(irq, high); else Slave.SetLine(irq - 8, high);
        Update();
    }

    /// <summary>A rising then falling edge on <paramref name="irq"/> (an edge-triggered device's pulse).</summary>
    public void PulseIrq(int irq)
    {
        SetIrq(irq, true);
        SetIrq(irq, false);
    }

    private void Update()
    {
        // The slave's INT output is the master's line 2.
        Master.SetLine(2, Slave.PendingLine() >= 0);
        bool o = Master.PendingLine() >= 0;
        if (o == _output) return;
        _output = o;
        OutputChanged?.Invoke(o);
    }

    /// <summary>The INTA cycle (datasheet, "Interrupt Sequence"): returns the vector of the request being acknowledged and updates IRR/ISR.</summary>
    public byte Acknowledge()
    {
        byte vector;
        int line = Master.PendingLine();
        if (line < 0) vector = (byte)(Master.VectorBase | 7); // spurious on the master
        else
        {
            Master.Acknowledge(line);
            if (line == 2)
            {
                int s = Slave.PendingLine();
                if (s < 0) vector = (byte)(Slave.VectorBase | 7); // spurious on the slave
                else
                {
                    Slave.Acknowledge(s);
                    vector = (byte)(Slave.VectorBase | s);
                }
            }
            else vector = (byte)(Master.VectorBase | line);
        }
        Update();
        return vector;
    }

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++)
        {
            uint b = (port + i) switch
            {
                MasterCommandPort => Master.ReadCommand(),
                MasterDataPort => Master.ReadData(),
                SlaveCommandPort => Slave.ReadCommand(),
                SlaveDataPort => Slave.ReadData(),
                ElcrMasterPort => Master.Elcr,
                ElcrSlavePort => Slave.Elcr,
                _ => 0xFF,
            };
            v |= b << (8 * i);
        }
        Update(); // a poll acknowledges
        return v;
    }

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            switch (port + i)
            {
                case MasterCommandPort: Master.WriteCommand(b); break;
                case MasterDataPort: Master.WriteData(b); break;
                case SlaveCommandPort: Slave.WriteCommand(b); break;
                case SlaveDataPort: Slave.WriteData(b); break;
                case ElcrMasterPort: Master.WriteElcr(b); break;
                case ElcrSlavePort: Slave.WriteElcr(b); break;
            }
        }
        Update();
    }
}
