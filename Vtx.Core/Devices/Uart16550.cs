using System.Text;

namespace Vtx.Devices;

/// <summary>
/// A 16550A-compatible UART (register model of the National/TI PC16550D datasheet, "Registers"
/// section, as found at COM1 = 0x3F8 on a PC): RBR/THR, IER, IIR/FCR, LCR with DLAB and the
/// divisor latch (DLL/DLM), MCR with loopback, LSR, MSR and SCR, at eight consecutive ports.
/// </summary>
/// <remarks>
/// <para>
/// Transmission is instantaneous: a byte written to THR leaves at once (to <see cref="Transmitted"/>,
/// <see cref="OutputWriter"/> and <see cref="Output"/>), so LSR.THRE and LSR.TEMT always read 1.
/// The whole byte is delivered whatever the word length, as QEMU's UART does, so a guest that
/// never programs LCR (most test kernels) still prints text. Word length, baud rate, parity and
/// stop bits are stored and read back but do not change what is delivered.
/// </para>
/// <para>
/// Input queued by the host with <see cref="EnqueueInput(ReadOnlySpan{byte})"/> waits "on the line" and is
/// received one byte per RBR read; LSR.DR is set while any is queued. The receiver never overruns
/// and never sees parity, framing or break errors. An FCR write that resets the receive FIFO does
/// not discard host input (in this model it has not arrived yet). In loopback (MCR bit 4) the line
/// is disconnected: transmitted bytes are received by the UART itself and the modem-status inputs
/// follow MCR (CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2). Outside loopback CTS, DSR and DCD
/// read as asserted (MSR = 0xB0), like QEMU's serial port on a non-tty backend.
/// </para>
/// <para>
/// IIR reports the highest-priority pending condition enabled in IER (received data 0x04, THR
/// empty 0x02, modem status 0x00; else 0x01 = none), with bits 7:6 set when the FIFOs are enabled.
/// <see cref="InterruptPending"/> is the INTR output. A machine that wires it to an interrupt line
/// sets <see cref="InterruptLine"/>: as on PC serial ports the request reaches the line only while
/// MCR.OUT2 is set (the OUT2 pin gates the IRQ driver) and not in loopback (the modem outputs are
/// then forced inactive). Writing THR resets the THR-empty interrupt and, as the byte leaves at once,
/// THR is empty again: the line drops and rises, a new edge for an edge-triggered ISA input. Wider
/// accesses are split into byte accesses at consecutive registers (an 8-bit ISA device).
/// </para>
/// </remarks>
public sealed class Uart16550 : IPortDevice
{
    /// <summary>The conventional base port of COM1.</summary>
    public const ushort Com1Port = 0x3F8;

    /// <summary>The number of ports the UART decodes.</summary>
    public const int PortCount = 8;

    /// <summary>The clock the divisor divides, as a baud rate: 1.8432 MHz / 16.</summary>
    public const int BaseBaud = 115200;

    // Register bits (PC16550D datasheet, Table II).
    private const byte LcrDlab = 0x80;
    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;
    private const byte LsrDr = 0x01, LsrThre = 0x20, LsrTemt = 0x40;
    private const byte MsrDcts = 0x01, MsrDdsr = 0x02, MsrTeri = 0x04, MsrDdcd = 0x08;
    private const byte MsrCts = 0x10, MsrDsr = 0x20, MsrRi = 0x40, MsrDcd = 0x80;
    private const byte IerRda = 0x01, IerThre = 0x02, IerMsi = 0x08;

    private readonly Queue<byte> _lineInput = new();
    private readonly Queue<byte> _loopback = new();
    private readonly MemoryStream _output = new();
    private readonly Decoder _writerDecoder = Encoding.UTF8.GetDecoder();
    private string? _outputText;

    private byte _ier, _lcr, _mcr, _scr, _fcr, _rbr;
    private ushort _divisor = 12;         // 9600 baud, QEMU's reset value
    private byte _msrInputs = MsrCts | MsrDsr | MsrDcd;
    private byte _msrDeltas;
    private bool _thrInterrupt;           // the THR-empty interrupt is pending until IIR is read or THR written
    private bool _line;                   // the level last driven on InterruptLine

    /// <summary>Creates a UART at <paramref name="basePort"/> (default COM1, 0x3F8), in its reset state.</summary>
    public Uart16550(ushort basePort = Com1Port) => BasePort = basePort;

    /// <summary>
    /// The interrupt request line (ISA IRQ 4 for COM1 on the PC platform), driven with the UART's INTR
    /// output gated by MCR.OUT2 (and off in loopback); invoked only when the level changes. Null: not wired.
    /// </summary>
    public Action<bool>? InterruptLine { get; set; }

    /// <summary>The first of the eight ports (the caller registers <see cref="PortCount"/> ports there on the <see cref="IoBus"/>).</summary>
    public ushort BasePort { get; }

    /// <summary>Raised for every byte the guest transmits (not in loopback), on the thread running the guest.</summary>
    public event Action<byte>? Transmitted;

    /// <summary>Optional writer receiving the transmitted bytes decoded as UTF-8, as they are sent.</summary>
    public TextWriter? OutputWriter { get; set; }

    /// <summary>Everything transmitted so far, decoded as UTF-8 (invalid sequences become U+FFFD).</summary>
    public string Output => _outputText ??= Encoding.UTF8.GetString(_output.GetBuffer(), 0, (int)_output.Length);

    /// <summary>Everything transmitted so far, as bytes.</summary>
    public byte[] OutputBytes => _output.ToArray();

    /// <summary>Forgets the accumulated <see cref="Output"/>.</summary>
    public void ClearOutput()
    {
        _output.SetLength(0);
        _outputText = null;
    }

    /// <summary>Queues bytes for the guest to receive, in order.</summary>
    public void EnqueueInput(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) _lineInput.Enqueue(b);
        UpdateLine();
    }

    /// <summary>Queues <paramref name="text"/>, encoded as UTF-8, for the guest to receive.</summary>
    public void EnqueueInput(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        EnqueueInput(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Bytes queued and not yet read by the guest (from the line, or the loopback path in loopback).</summary>
    public int PendingInput => Receive.Count;

    /// <summary>The divisor latch (DLM:DLL).</summary>
    public ushort Divisor => _divisor;

    /// <summary>The baud rate the divisor selects (<see cref="BaseBaud"/> / divisor), or 0 when the divisor is 0.</summary>
    public int BaudRate => _divisor == 0 ? 0 : BaseBaud / _divisor;

    /// <summary>The line control register.</summary>
    public byte LineControl => _lcr;

    /// <summary>The modem control register.</summary>
    public byte ModemControl => _mcr;

    /// <summary>The interrupt enable register.</summary>
    public byte InterruptEnable => _ier;

    /// <summary>True when the UART's INTR output is asserted (IIR bit 0 = 0). Not delivered anywhere in this model.</summary>
    public bool InterruptPending => (ComputeIir() & 1) == 0;

    private bool Loopback => (_mcr & McrLoop) != 0;
    private Queue<byte> Receive => Loopback ? _loopback : _lineInput;

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++)
        {
            int p = port + i;
            uint b = p - BasePort is >= 0 and < PortCount ? ReadRegister(p - BasePort) : 0xFFu;
            v |= b << (8 * i);
        }
        UpdateLine();
        return v;
    }

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
        {
            int p = port + i;
            if (p - BasePort is >= 0 and < PortCount) WriteRegister(p - BasePort, (byte)(value >> (8 * i)));
        }
        UpdateLine();
    }

    /// <summary>Drives <see cref="InterruptLine"/> to INTR gated by OUT2 (not in loopback) when the level changed.</summary>
    private void UpdateLine()
    {
        bool level = (_mcr & (McrOut2 | McrLoop)) == McrOut2 && InterruptPending;
        if (level == _line) return;
        _line = level;
        InterruptLine?.Invoke(level);
    }

    private byte ReadRegister(int reg)
    {
        bool dlab = (_lcr & LcrDlab) != 0;
        switch (reg)
        {
            case 0:
                if (dlab) return (byte)_divisor;
                if (Receive.TryDequeue(out byte b)) _rbr = b;
                return _rbr;
            case 1:
                return dlab ? (byte)(_divisor >> 8) : _ier;
            case 2:
            {
                byte iir = ComputeIir();
                if ((iir & 0x0F) == 0x02) _thrInterrupt = false; // reading IIR clears a THR-empty source
                return iir;
            }
            case 3:
                return _lcr;
            case 4:
                return _mcr;
            case 5:
                return (byte)(LsrThre | LsrTemt | (Receive.Count > 0 ? LsrDr : 0));
            case 6:
            {
                byte msr = (byte)(_msrInputs | _msrDeltas);
                _msrDeltas = 0;
                return msr;
            }
            default:
                return _scr;
        }
    }

    private void WriteRegister(int reg, byte value)
    {
        bool dlab = (_lcr & LcrDlab) != 0;
        switch (reg)
        {
            case 0:
                if (dlab) _divisor = (ushort)((_divisor & 0xFF00) | value);
                else
                {
                    _thrInterrupt = false; // writing THR resets the THR-empty interrupt...
                    UpdateLine();
                    Transmit(value);       // ...and THR empties again at once
                }
                break;
            case 1:
                if (dlab) _divisor = (ushort)((_divisor & 0x00FF) | (value << 8));
                else
                {
                    byte old = _ier;
                    _ier = (byte)(value & 0x0F);
                    // Enabling the THR-empty interrupt while THR is empty raises it at once (the 16550A does).
                    if ((_ier & IerThre) != 0 && (old & IerThre) == 0) _thrInterrupt = true;
                }
                break;
            case 2:
                _fcr = (byte)(value & 0xC9); // FIFO enable, DMA mode, trigger level; the reset bits self-clear
                break;
            case 3:
                _lcr = value;
                break;
            case 4:
                _mcr = (byte)(value & 0x1F);
                UpdateModemInputs();
                break;
            case 5:
                break; // LSR: factory test only, writes ignored
            case 6:
                break; // MSR is read-only
            default:
                _scr = value;
                break;
        }
    }

    private void Transmit(byte value)
    {
        _thrInterrupt = true; // THR empties immediately
        if (Loopback)
        {
            _loopback.Enqueue(value);
            return;
        }
        _output.WriteByte(value);
        _outputText = null;
        Transmitted?.Invoke(value);
        if (OutputWriter is { } w)
        {
            Span<byte> one = [value];
            Span<char> chars = stackalloc char[2];
            int n = _writerDecoder.GetChars(one, chars, flush: false);
            if (n > 0) w.Write(chars[..n]);
        }
    }

    private void UpdateModemInputs()
    {
        byte inputs = Loopback
            ? (byte)(((_mcr & McrRts) != 0 ? MsrCts : 0) | ((_mcr & McrDtr) != 0 ? MsrDsr : 0)
                     | ((_mcr & McrOut1) != 0 ? MsrRi : 0) | ((_mcr & McrOut2) != 0 ? MsrDcd : 0))
            : (byte)(MsrCts | MsrDsr | MsrDcd);
        byte changed = (byte)(inputs ^ _msrInputs);
        if ((changed & MsrCts) != 0) _msrDeltas |= MsrDcts;
        if ((changed & MsrDsr) != 0) _msrDeltas |= MsrDdsr;
        if ((changed & MsrDcd) != 0) _msrDeltas |= MsrDdcd;
        if ((_msrInputs & MsrRi) != 0 && (inputs & MsrRi) == 0) _msrDeltas |= MsrTeri; // trailing edge of RI
        _msrInputs = inputs;
    }

    private byte ComputeIir()
    {
        byte fifo = (byte)((_fcr & 1) != 0 ? 0xC0 : 0);
        if ((_ier & IerRda) != 0 && Receive.Count > 0) return (byte)(fifo | 0x04);
        if ((_ier & IerThre) != 0 && _thrInterrupt) return (byte)(fifo | 0x02);
        if ((_ier & IerMsi) != 0 && _msrDeltas != 0) return (byte)(fifo | 0x00);
        return (byte)(fifo | 0x01);
    }
}
