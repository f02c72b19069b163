namespace Vtx.Devices;

/// <summary>
/// An I/O APIC in the style of the Intel 82093AA (82093AA data sheet; ICH/PCH I/O APIC, version 20h
/// with the EOI register): 24 interrupt input pins routed through a redirection table to local
/// APICs as interrupt messages, memory-mapped at FEC0_0000h by default.
/// </summary>
/// <remarks>
/// <para>
/// Registers: IOREGSEL (offset 00h, the index), IOWIN (10h, the data of the selected register) and
/// the EOI register (40h: a write of a vector clears remote IRR of every level-triggered entry with
/// that vector). Indirect registers: 00h ID (bits 27:24), 01h version (bits 7:0 = 20h, bits 23:16 =
/// the maximum redirection entry, 23), 02h arbitration ID (bits 27:24, read-only), 10h + 2n / 11h +
/// 2n the low and high halves of redirection entry n. Other indexes read 0 and ignore writes.
/// Accesses at other offsets read 0 and are ignored, whatever their size.
/// </para>
/// <para>
/// A redirection entry: vector (7:0), delivery mode (10:8: fixed, lowest priority, SMI, NMI, INIT,
/// ExtINT), destination mode (11), delivery status (12, read-only; always idle here because a
/// message is delivered at once), polarity (13, 1 = active low), remote IRR (14, read-only), trigger
/// mode (15, 1 = level), mask (16) and destination (63:56). Reset masks every entry.
/// Edge-triggered: an inactive-to-active transition of the pin sends one message (none while
/// masked). Level-triggered: while the pin is active and remote IRR is clear, a message is sent and
/// remote IRR set; an EOI for the vector (broadcast by a local APIC or written to the EOI register)
/// clears remote IRR, and a still-active pin sends again. Unmasking an entry whose level pin is active
/// sends at once; changing polarity re-evaluates the pin.
/// </para>
/// </remarks>
public sealed class IoApic : IMmioDevice
{
    /// <summary>The default base address.</summary>
    public const ulong DefaultBase = 0xFEC0_0000;
    /// <summary>The number of redirection entries (pins).</summary>
    public const int Pins = 24;
    /// <summary>The version this model reports (20h: with the EOI register).</summary>
    public const byte Version = 0x20;

    private readonly IInterruptMessageSink _sink;
    private readonly ulong[] _redir = new ulong[Pins];
    private uint _pinLevels; // physical pin levels (before polarity)
    private byte _select;
    private uint _id;

    /// <summary>Creates an I/O APIC with APIC ID <paramref name="id"/> that delivers through <paramref name="sink"/>.</summary>
    public IoApic(IInterruptMessageSink sink, byte id = 0)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _id = (uint)(id & 0xF) << 24;
        for (int i = 0; i < Pins; i++) _redir[i] = 1UL << 16;
    }

    /// <summary>The APIC ID (bits 27:24 of register 00h).</summary>
    public byte Id => (byte)(_id >> 24);

    /// <summary>Redirection entry <paramref name="pin"/> as the guest programmed it (with remote IRR and delivery status).</summary>
    public ulong RedirectionEntry(int pin) => _redir[pin];

    private const ulong Masked = 1UL << 16, Level = 1UL << 15, RemoteIrr = 1UL << 14, ActiveLow = 1UL << 13;

    private bool Active(int pin) => (((_pinLevels >> pin) & 1) != 0) ^ ((_redir[pin] & ActiveLow) != 0);

    /// <summary>Drives input pin <paramref name="pin"/> (0-23) to the electrical level <paramref name="high"/>; pins outside the table are ignored.</summary>
    public void SetPin(int pin, bool high)
    {
        if ((uint)pin >= Pins) return;
        bool wasActive = Active(pin);
        if (high) _pinLevels |= 1u << pin; else _pinLevels &= ~(1u << pin);
        bool active = Active(pin);
        ulong e = _redir[pin];
        if ((e & Level) != 0) { if (active) TrySendLevel(pin); }
        else if (active && !wasActive && (e & Masked) == 0) Send(pin);
    }

    private void TrySendLevel(int pin)
    {
        ulong e = _redir[pin];
        if ((e & (Masked | RemoteIrr)) != 0 || !Active(pin)) return;
        _redir[pin] = e | RemoteIrr;
        Send(pin);
    }

    private void Send(int pin)
    {
        ulong e = _redir[pin];
        _sink.Deliver(new InterruptMessage((uint)(e >> 56), (e & (1UL << 11)) != 0, (int)((e >> 8) & 7), (byte)e, (e & Level) != 0));
    }

    /// <summary>An EOI for <paramref name="vector"/> (the local APIC's broadcast or the EOI register): clears remote IRR of level entries with that vector.</summary>
    public void EndOfInterrupt(byte vector)
    {
        for (int i = 0; i < Pins; i++)
        {
            ulong e = _redir[i];
            if ((byte)e != vector || (e & RemoteIrr) == 0) continue;
            _redir[i] = e & ~RemoteIrr;
            if ((e & Level) != 0) TrySendLevel(i);
        }
    }

    /// <inheritdoc />
    public ulong Read(ulong offset, int size)
    {
        uint v = (offset & ~3UL) switch
        {
            0x00 => _select,
            0x10 => ReadRegister(_select),
            _ => 0,
        };
        return (v >> (int)((offset & 3) * 8)) & (size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1);
    }

    /// <inheritdoc />
    public void Write(ulong offset, int size, ulong value)
    {
        // Registers are 32 bits wide; a narrower write lands in its bytes of the register (the rest keep their value).
        int shift = (int)((offset & 3) * 8);
        uint mask = (size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1) << shift;
        uint v = (uint)(value << shift) & mask;
        switch (offset & ~3UL)
        {
            case 0x00: _select = (byte)((_select & ~mask) | v); break;
            case 0x10: WriteRegister(_select, (ReadRegister(_select) & ~mask) | v); break;
            case 0x40: EndOfInterrupt((byte)((v & mask) >> shift)); break;
        }
    }

    private uint ReadRegister(byte index)
    {
        switch (index)
        {
            case 0x00: return _id;
            case 0x01: return Version | (uint)(Pins - 1) << 16;
            case 0x02: return _id;
        }
        if (index is >= 0x10 and < 0x10 + 2 * Pins)
        {
            ulong e = _redir[(index - 0x10) >> 1];
            return (index & 1) == 0 ? (uint)e : (uint)(e >> 32);
        }
        return 0;
    }

    private void WriteRegister(byte index, uint v)
    {
        if (index == 0x00) { _id = v & 0x0F00_0000; return; }
        if (index is < 0x10 or >= 0x10 + 2 * Pins) return;
        int pin = (index - 0x10) >> 1;
        ulong e = _redir[pin];
        if ((index & 1) == 0)
        {
            // Delivery status (12) and remote IRR (14) are read-only.
            const ulong ro = (1UL << 12) | RemoteIrr;
            e = (e & (0xFFFF_FFFF_0000_0000UL | ro)) | (v & ~ro & 0x1_FFFFUL);
            // Switching to edge clears remote IRR (it has no meaning for edge entries).
            if ((e & Level) == 0) e &= ~RemoteIrr;
        }
        else e = (e & 0xFFFF_FFFFUL) | ((ulong)(v & 0xFF00_0000) << 32);
        _redir[pin] = e;
        if ((e & Level) != 0) TrySendLevel(pin);
    }
}
