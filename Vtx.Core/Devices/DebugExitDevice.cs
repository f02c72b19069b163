namespace Vtx.Devices;

/// <summary>
/// QEMU's <c>isa-debug-exit</c> device (hw/misc/debugexit.c), conventionally configured as
/// <c>-device isa-debug-exit,iobase=0xf4,iosize=0x04</c>: a guest write of value <c>v</c> asks the
/// machine to stop with exit code <c>(v &lt;&lt; 1) | 1</c>. The exit code is therefore always odd,
/// so a test harness can tell it from an ordinary exit status of 0.
/// </summary>
/// <remarks>
/// The write value is the full access (1, 2 or 4 bytes, zero-extended), and the code is computed
/// in 32 bits: a 32-bit write of 0x8000_0000 gives 1. The device calls
/// <see cref="IMachineControl.RequestStop"/>; the machine stops at the next instruction boundary.
/// Reads return all ones (the QEMU device has no readable register).
/// </remarks>
public sealed class DebugExitDevice : IPortDevice
{
    /// <summary>The conventional port (iobase=0xf4).</summary>
    public const ushort DefaultPort = 0xF4;

    /// <summary>The conventional port count (iosize=0x04).</summary>
    public const int DefaultPortCount = 4;

    private readonly IMachineControl _machine;

    /// <summary>Creates the device; writes ask <paramref name="machine"/> to stop.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="machine"/> is null.</exception>
    public DebugExitDevice(IMachineControl machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        _machine = machine;
    }

    /// <summary>The exit code requested by the last write, or null when the guest has not written.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>The exit code QEMU reports for a write of <paramref name="value"/>: <c>(value &lt;&lt; 1) | 1</c>, in 32 bits.</summary>
    public static int ExitCodeFor(uint value) => (int)((value << 1) | 1);

    /// <inheritdoc />
    public uint Read(ushort port, int size) => size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;

    /// <inheritdoc />
    public void Write(ushort port, int size, uint value)
    {
        int code = ExitCodeFor(value);
        ExitCode = code;
        _machine.RequestStop(code);
    }
}
