namespace Vtx.Devices;

/// <summary>
/// The PC POST-code port 0x80: firmware and kernels write progress codes there (a POST card shows
/// them), and Linux uses writes to it as an I/O delay. The last code is kept for the host.
/// </summary>
/// <remarks>
/// Guest reads return 0xFF, as in QEMU (hw/i386/pc.c, <c>ioport80</c>); the host reads the last
/// code from <see cref="LastCode"/>. The device decodes one port; wider writes reach it as byte
/// accesses split by the <see cref="IoBus"/>, so only the low byte lands here.
/// </remarks>
public sealed class PostCodePort : IPortDevice
{
    /// <summary>The conventional port.</summary>
    public const ushort DefaultPort = 0x80;

    /// <summary>The last code written, or null when nothing has been written.</summary>
    public byte? LastCode { get; private set; }

    /// <summary>How many codes have been written.</summary>
    public long WriteCount { get; private set; }

    /// <summary>Raised for every code written, on the thread running the guest.</summary>
    public event Action<byte>? CodeWritten;

    /// <inheritdoc />
    public uint Read(ushort port, int size) => size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        LastCode = b;
        WriteCount++;
        CodeWritten?.Invoke(b);
    }
}
