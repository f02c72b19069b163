namespace Vtx.Devices;

/// <summary>
/// A device on the x86 I/O port bus: the 64-KiB I/O address space reached by IN, OUT, INS and OUTS
/// (SDM Vol. 1, chapter "Input/Output", "I/O Port Addressing"). The device receives every access to the ports it
/// claimed on an <see cref="IoBus"/>.
/// </summary>
/// <remarks>
/// A device sees whole accesses of 1, 2 or 4 bytes whose every port it claims; an access that
/// straddles ports claimed by different devices (or by none) is split by the bus into byte
/// accesses (see <see cref="IoBus"/>). Port-mapped registers are little-endian: the byte at
/// <c>port + i</c> is bits <c>8i+7:8i</c> of the value.
/// </remarks>
public interface IPortDevice
{
    /// <summary>An IN of <paramref name="size"/> bytes (1, 2 or 4) at <paramref name="port"/>; bits above the size are ignored.</summary>
    uint Read(ushort port, int size);

    /// <summary>An OUT of the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/> at <paramref name="port"/>.</summary>
    void Write(ushort port, int size, uint value);
}

/// <summary>
/// The machine-level controls a device may ask for. The machine implements it; devices such as
/// <see cref="DebugExitDevice"/> call it from inside an I/O access.
/// </summary>
public interface IMachineControl
{
    /// <summary>
    /// Asks the machine to stop running at the next instruction boundary (after the current
    /// instruction retires) and report <paramref name="exitCode"/> to the host.
    /// </summary>
    void RequestStop(int exitCode);
}
