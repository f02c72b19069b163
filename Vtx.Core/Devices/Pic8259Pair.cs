namespace Vtx.Devices;

/// <summary>
/// The register state of one Intel 8259A programmable interrupt controller (Intel 8259A datasheet,
/// "Programming the 8259A": initialization command words ICW1-ICW4 and operation command words
/// OCW1-OCW3). Read-only for the host; the guest programs it through <see cref="Pic8259Pair"/>.
/// </summary>
public sealed class Pic8259
{
    private int _initStep; // 0 = ready; 2, 3, 4 = expecting that ICW on the data port
    private bool _poll;

    internal Pic8259(byte vectorBase, byte icw3)
    {
        Icw1 = 0x11;            // edge triggered, cascade, ICW4 needed
        Icw2 = vectorBase;
        Icw3 = icw3;
        Icw4 = 0x01;            // 8086/8088 mode, normal EOI
        Imr = 0xFF;
        LowestPriority = 7;
    }

    /// <summary>The last ICW1 (command port, bit 4 set): bit 0 IC4 (ICW4 follows), bit 1 SNGL (no ICW3), bit 3 LTIM.</summary>
    public byte Icw1 { get; private set; }

    /// <summary>The last ICW2: bits 7:3 are the vector base (T7-T3).</summary>
    public byte Icw2 { get; private set; }

    /// <summary>The last ICW3: on the master, the lines with a slave; on a slave, its cascade identity.</summary>
    public byte Icw3 { get; private set; }

    /// <summary>The last ICW4 (0 when ICW1 said none follows): bit 0 µPM (8086 mode), bit 1 AEOI.</summary>
    public byte Icw4 { get; private set; }

    /// <summary>The vector of line 0: ICW2 with bits 2:0 cleared (8086 mode).</summary>
    public byte VectorBase => (byte)(Icw2 & 0xF8);

    /// <summary>The interrupt mask register (OCW1): a set bit masks that line.</summary>
    public byte Imr { get; private set; }

    /// <summary>The interrupt request register. Always 0 in this model: no line is ever raised.</summary>
    public byte Irr { get; private set; }

    /// <summary>The in-service register. Always 0 in this model: no interrupt is ever acknowledged.</summary>
    public byte Isr { get; private set; }

    /// <summary>True when a read of the command port returns ISR (OCW3 RR=1, RIS=1); false for IRR.</summary>
    public bool ReadsIsr { get; private set; }

    /// <summary>Special mask mode (OCW3 ESMM/SMM).</summary>
    public bool SpecialMaskMode { get; private set; }

    /// <summary>Automatic end of interrupt (ICW4 bit 1).</summary>
    public bool AutoEoi => (Icw4 & 0x02) != 0;

    /// <summary>Rotate-in-automatic-EOI mode (OCW2 R=1, SL=0, EOI=0).</summary>
    public bool RotateOnAutoEoi { get; private set; }

    /// <summary>The line with the lowest priority (7 after ICW1; changed by the OCW2 rotate and set-priority commands).</summary>
    public int LowestPriority { get; private set; }

    /// <summary>True between ICW1 and the last ICW the sequence calls for.</summary>
    public bool Initializing => _initStep != 0;

    internal byte ReadCommand()
    {
        if (_poll) return ReadPoll();
        return ReadsIsr ? Isr : Irr;
    }

    internal byte ReadData() => _poll ? ReadPoll() : Imr;

    private byte ReadPoll()
    {
        _poll = false;
        return 0x00; // bit 7 (I) clear: no interrupt requesting service
    }

    internal void WriteCommand(byte v)
    {
        if ((v & 0x10) != 0)
        {
            // ICW1: starts the initialization sequence and resets the chip state (datasheet, "Initialization Command Words").
            Icw1 = v;
            if ((v & 0x01) == 0) Icw4 = 0;
            Imr = 0;
            Isr = 0;
            Irr = 0;
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
        for (int i = 1; i <= 8; i++)
        {
            int l = (LowestPriority + i) & 7; // highest priority is the line after the lowest
            if ((Isr & (1 << l)) != 0)
            {
                Isr &= (byte)~(1 << l);
                level = l;
                return true;
            }
        }
        level = 0;
        return false;
    }
}

/// <summary>
/// The PC's cascaded pair of 8259A interrupt controllers: the master at ports 0x20/0x21 (command,
/// data) and the slave, on master line 2, at 0xA0/0xA1 (Intel 8259A datasheet; IBM PC/AT
/// technical reference). The guest can run the ICW1-ICW4 initialization sequence, read and write
/// the mask (OCW1), send OCW2 (EOI, rotation, priority) and OCW3 (IRR/ISR read select, poll,
/// special mask) commands, and read back what it programmed.
/// </summary>
/// <remarks>
/// <para>
/// This model never raises an interrupt: no device drives a request line, so IRR and ISR stay 0
/// and a poll reads 0 (no request). Its purpose is to let firmware and kernels that program and
/// mask the legacy PIC (usually before switching to the APIC) run unchanged.
/// </para>
/// <para>
/// The initial state is what a PC BIOS leaves: both chips initialized (edge triggered, cascaded,
/// 8086 mode), master vectors 0x08-0x0F with the slave on line 2, slave vectors 0x70-0x77 with
/// identity 2, and every line masked (IMR = 0xFF). ICW1 clears the mask, as the datasheet says.
/// The device is byte-wide; wider accesses are split into byte accesses.
/// </para>
/// </remarks>
public sealed class Pic8259Pair : IPortDevice
{
    /// <summary>Master command port (ICW1, OCW2, OCW3; reads IRR/ISR).</summary>
    public const ushort MasterCommandPort = 0x20;
    /// <summary>Master data port (ICW2-ICW4, OCW1; reads IMR).</summary>
    public const ushort MasterDataPort = 0x21;
    /// <summary>Slave command port.</summary>
    public const ushort SlaveCommandPort = 0xA0;
    /// <summary>Slave data port.</summary>
    public const ushort SlaveDataPort = 0xA1;

    /// <summary>Creates the pair in the state a PC BIOS leaves it (see the remarks).</summary>
    public Pic8259Pair()
    {
        Master = new Pic8259(0x08, 0x04);
        Slave = new Pic8259(0x70, 0x02);
    }

    /// <summary>The master controller (IRQ 0-7).</summary>
    public Pic8259 Master { get; }

    /// <summary>The slave controller (IRQ 8-15), cascaded on master line 2.</summary>
    public Pic8259 Slave { get; }

    /// <summary>Claims ports 0x20-0x21 and 0xA0-0xA1 on <paramref name="bus"/> for this pair.</summary>
    public void RegisterOn(IoBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Register(MasterCommandPort, 2, this);
        bus.Register(SlaveCommandPort, 2, this);
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
                _ => 0xFF,
            };
            v |= b << (8 * i);
        }
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
            }
        }
    }
}
