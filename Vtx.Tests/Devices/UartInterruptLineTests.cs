using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>
/// The 16550A's INTR output on a PC serial port (PC16550D datasheet, "Interrupt Enable Register",
/// "Interrupt Identification Register", "Modem Control Register": OUT2 gates the IRQ on PCs, loopback
/// forces the modem outputs inactive; the THRE interrupt is reset by reading IIR or writing THR and set
/// again when THR empties) and its wiring to ISA IRQ 4 on the PC platform.
/// </summary>
public class UartInterruptLineTests
{
    private const ushort Thr = 0x3F8, Ier = 0x3F9, Iir = 0x3FA, Mcr = 0x3FC;

    private static (IoBus Bus, List<bool> Levels) Com1()
    {
        var bus = new IoBus();
        var uart = new Uart16550();
        var levels = new List<bool>();
        uart.InterruptLine = levels.Add;
        bus.Register(uart.BasePort, Uart16550.PortCount, uart);
        return (bus, levels);
    }

    [Theory]
    [InlineData(0x08, true)]   // OUT2
    [InlineData(0x00, false)]  // OUT2 clear: the request does not reach the line
    [InlineData(0x18, false)]  // loopback forces OUT2 inactive
    [InlineData(0x0B, true)]   // OUT2 | RTS | DTR, as Linux's 8250 driver sets them
    public void ThreInterruptReachesTheLineOnlyThroughOut2(byte mcr, bool expected)
    {
        var (bus, levels) = Com1();
        bus.Write(Mcr, 1, mcr);
        bus.Write(Ier, 1, 0x02);  // ETBEI with THR empty: the THRE interrupt at once
        Assert.Equal(expected ? [true] : [], levels);
    }

    [Fact]
    public void ReadingIirDropsTheThreRequestAndWritingThrGivesANewEdge()
    {
        var (bus, levels) = Com1();
        bus.Write(Mcr, 1, 0x08);
        bus.Write(Ier, 1, 0x02);
        Assert.Equal(0x02, (byte)bus.Read(Iir, 1) & 0x0F);   // THRE identified, and thereby reset
        Assert.Equal([true, false], levels);
        bus.Write(Thr, 1, (byte)'x');                          // THR empties again: rising edge
        Assert.Equal([true, false, true], levels);
        bus.Write(Thr, 1, (byte)'y');                          // reset then set: low, high
        Assert.Equal([true, false, true, false, true], levels);
        bus.Write(Ier, 1, 0x00);                               // disabling the source drops the line
        Assert.Equal([true, false, true, false, true, false], levels);
    }

    [Fact]
    public void PcPlatformRoutesCom1ToIsaIrq4()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 2, Platform = MachinePlatform.Pc });
        m.Cpu.Io.Write(Mcr, 1, 0x08);
        m.Cpu.Io.Write(Ier, 1, 0x02);
        // The 8259 master's IRR bit 4 (OCW3 read IRR: 0Ah to port 20h, then read 20h).
        m.Cpu.Io.Write(0x20, 1, 0x0A);
        Assert.Equal(1u << 4, m.Cpu.Io.Read(0x20, 1) & (1u << 4));
        var plain = new Machine(new MachineOptions { MemoryMiB = 2 });
        Assert.Null(plain.Uart.InterruptLine);
    }
}
