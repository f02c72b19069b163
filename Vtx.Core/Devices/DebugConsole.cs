using System.Text;

namespace Vtx.Devices;

/// <summary>
/// The Bochs "port E9 hack" debug console, also QEMU's <c>isa-debugcon</c> (hw/char/debugcon.c):
/// every byte written to port 0xE9 is appended to a host-visible output. Reading the port returns
/// 0xE9, which guests use to detect the console (QEMU's default <c>readback</c> value).
/// </summary>
/// <remarks>The device decodes one port; wider accesses reach it as byte accesses split by the <see cref="IoBus"/>.</remarks>
public sealed class DebugConsole : IPortDevice
{
    /// <summary>The conventional port.</summary>
    public const ushort DefaultPort = 0xE9;

    private readonly MemoryStream _output = new();
    private readonly Decoder _writerDecoder = Encoding.UTF8.GetDecoder();
    private string? _outputText;

    /// <summary>Raised for every byte written, on the thread running the guest.</summary>
    public event Action<byte>? Written;

    /// <summary>Optional writer receiving the bytes decoded as UTF-8, as they are written.</summary>
    public TextWriter? OutputWriter { get; set; }

    /// <summary>Everything written so far, decoded as UTF-8 (invalid sequences become U+FFFD).</summary>
    public string Output => _outputText ??= Encoding.UTF8.GetString(_output.GetBuffer(), 0, (int)_output.Length);

    /// <summary>Everything written so far, as bytes.</summary>
    public byte[] OutputBytes => _output.ToArray();

    /// <summary>Forgets the accumulated <see cref="Output"/>.</summary>
    public void ClearOutput()
    {
        _output.SetLength(0);
        _outputText = null;
    }

    /// <inheritdoc />
    public uint Read(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (i == 0 ? 0xE9u : 0xFFu) << (8 * i);
        return v;
    }

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        _output.WriteByte(b);
        _outputText = null;
        Written?.Invoke(b);
        if (OutputWriter is { } w)
        {
            Span<byte> one = [b];
            Span<char> chars = stackalloc char[2];
            int n = _writerDecoder.GetChars(one, chars, flush: false);
            if (n > 0) w.Write(chars[..n]);
        }
    }
}
