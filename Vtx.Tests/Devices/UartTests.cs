using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>The 16550A register model, driven through the I/O bus at COM1 as a guest would.</summary>
public class UartTests
{
    private const ushort Thr = 0x3F8, Ier = 0x3F9, Iir = 0x3FA, Fcr = 0x3FA, Lcr = 0x3FB, Mcr = 0x3FC, Lsr = 0x3FD, Msr = 0x3FE, Scr = 0x3FF;

    private static (IoBus Bus, Uart16550 Uart) Com1()
    {
        var bus = new IoBus();
        var uart = new Uart16550();
        bus.Register(uart.BasePort, Uart16550.PortCount, uart);
        return (bus, uart);
    }

    private static byte In(IoBus bus, ushort port) => (byte)bus.Read(port, 1);
    private static void Out(IoBus bus, ushort port, byte v) => bus.Write(port, 1, v);

    [Fact]
    public void ResetStateReadsAsA16550A()
    {
        var (bus, _) = Com1();
        Assert.Equal(0x00, In(bus, Ier));
        Assert.Equal(0x01, In(bus, Iir));   // no interrupt pending, FIFOs off
        Assert.Equal(0x00, In(bus, Lcr));
        Assert.Equal(0x00, In(bus, Mcr));
        Assert.Equal(0x60, In(bus, Lsr));   // THRE | TEMT
        Assert.Equal(0xB0, In(bus, Msr));   // DCD | DSR | CTS
    }

    [Fact]
    public void ScratchRegisterHoldsAnyByte()
    {
        var (bus, _) = Com1();
        foreach (byte v in new byte[] { 0x00, 0x55, 0xAA, 0xFF })
        {
            Out(bus, Scr, v);
            Assert.Equal(v, In(bus, Scr));
        }
    }

    [Fact]
    public void DivisorLatchIsReachedOnlyWithDlabSet()
    {
        var (bus, uart) = Com1();
        Out(bus, Ier, 0x00);
        Out(bus, Lcr, 0x80);        // DLAB
        Out(bus, Thr, 0x03);        // DLL
        Out(bus, Ier, 0x00);        // DLM
        Assert.Equal(0x03, In(bus, Thr));
        Assert.Equal(0x00, In(bus, Ier));
        Assert.Equal(3, uart.Divisor);
        Assert.Equal(38400, uart.BaudRate);
        Assert.Equal("", uart.Output); // the divisor write transmitted nothing

        Out(bus, Ier, 0x01);        // DLM = 1
        Assert.Equal(0x0103, uart.Divisor);
        Out(bus, Lcr, 0x03);        // 8N1, DLAB clear
        Assert.Equal(0x00, In(bus, Ier)); // IER was never written
        Assert.Equal(0x03, In(bus, Lcr));
        Out(bus, Thr, (byte)'A');
        Assert.Equal("A", uart.Output);
        Assert.Equal(0x0103, uart.Divisor);
    }

    [Fact]
    public void OutputGoesToTheStringTheEventAndTheWriter()
    {
        var (bus, uart) = Com1();
        var events = new List<byte>();
        var writer = new StringWriter();
        uart.Transmitted += events.Add;
        uart.OutputWriter = writer;
        Out(bus, Lcr, 0x03);
        foreach (byte b in "héllo\n"u8) Out(bus, Thr, b);
        Assert.Equal("héllo\n", uart.Output);
        Assert.Equal("héllo\n", writer.ToString());
        Assert.Equal("héllo\n"u8.ToArray(), events);
        Assert.Equal("héllo\n"u8.ToArray(), uart.OutputBytes);
        Assert.Equal(0x60, In(bus, Lsr) & 0x61); // THRE and TEMT stay set after writes, no data ready
        uart.ClearOutput();
        Assert.Equal("", uart.Output);
    }

    [Fact]
    public void TheWholeByteIsSentWhateverTheWordLength()
    {
        // As QEMU's UART: an unprogrammed LCR (5 data bits at reset) must not garble a kernel's text.
        var (bus, uart) = Com1();
        Out(bus, Lcr, 0x02);                 // 7 data bits
        Out(bus, Thr, 0xFF);
        Out(bus, Lcr, 0x00);                 // 5 data bits
        Out(bus, Thr, (byte)'h');
        Assert.Equal(new byte[] { 0xFF, (byte)'h' }, uart.OutputBytes);
    }

    [Fact]
    public void QueuedInputSetsDataReadyAndIsReadInOrder()
    {
        var (bus, uart) = Com1();
        Out(bus, Lcr, 0x03);
        Assert.Equal(0, In(bus, Lsr) & 1);
        uart.EnqueueInput("ok");
        Assert.Equal(2, uart.PendingInput);
        Assert.Equal(0x61, In(bus, Lsr));
        Assert.Equal((byte)'o', In(bus, Thr));
        Assert.Equal(1, In(bus, Lsr) & 1);
        Assert.Equal((byte)'k', In(bus, Thr));
        Assert.Equal(0x60, In(bus, Lsr));
        Assert.Equal((byte)'k', In(bus, Thr)); // RBR keeps the last byte when empty
        // Resetting the receive FIFO does not drop input still on the line.
        uart.EnqueueInput([0x42]);
        Out(bus, Fcr, 0x07);
        Assert.Equal(0x42, In(bus, Thr));
    }

    [Fact]
    public void LoopbackReturnsTransmittedBytesAndMapsModemLines()
    {
        var (bus, uart) = Com1();
        Out(bus, Lcr, 0x03);
        uart.EnqueueInput([0x99]);         // on the line: invisible while looped back
        Out(bus, Mcr, 0x10 | 0x0A);        // LOOP | OUT2 | RTS — Linux's 8250 probe
        Assert.Equal(0x90, In(bus, Msr) & 0xF0); // DCD (from OUT2) and CTS (from RTS)
        Assert.Equal(0, In(bus, Lsr) & 1);
        Out(bus, Thr, 0x5A);
        Assert.Equal("", uart.Output);     // nothing leaves the chip
        Assert.Equal(0x61, In(bus, Lsr));
        Assert.Equal(0x5A, In(bus, Thr));
        Assert.Equal(0x60, In(bus, Lsr));

        Out(bus, Mcr, 0x10 | 0x05);        // LOOP | OUT1 | DTR
        Assert.Equal(0x60, In(bus, Msr) & 0xF0); // RI (from OUT1) and DSR (from DTR)

        Out(bus, Mcr, 0x03);               // loopback off: the line input is back, MSR reads the line
        Assert.Equal(0xB0, In(bus, Msr) & 0xF0);
        Assert.Equal(0x99, In(bus, Thr));
    }

    [Fact]
    public void ModemStatusDeltasAreLatchedUntilRead()
    {
        var (bus, _) = Com1();
        Assert.Equal(0xB0, In(bus, Msr));
        Out(bus, Mcr, 0x10 | 0x04);        // loopback with OUT1: CTS, DSR, DCD drop, RI rises
        Assert.Equal(0x40 | 0x01 | 0x02 | 0x08, In(bus, Msr)); // RI; DCTS, DDSR, DDCD
        Assert.Equal(0x40, In(bus, Msr));  // deltas cleared by the read
        Out(bus, Mcr, 0x10);               // RI falls: trailing edge
        Assert.Equal(0x04, In(bus, Msr));
    }

    [Fact]
    public void InterruptIdentificationFollowsIerAndFifoControl()
    {
        var (bus, uart) = Com1();
        Out(bus, Fcr, 0xC7);               // enable and reset FIFOs, trigger 14
        Assert.Equal(0xC1, In(bus, Iir));
        Out(bus, Ier, 0x02);               // THR-empty interrupt: THR is empty, so pending at once
        Assert.True(uart.InterruptPending);
        Assert.Equal(0xC2, In(bus, Iir));
        Assert.Equal(0xC1, In(bus, Iir));  // reading IIR cleared it
        Out(bus, Thr, (byte)'x');          // the byte leaves instantly: THR empty again
        Assert.Equal(0xC2, In(bus, Iir));
        Out(bus, Ier, 0x03);
        uart.EnqueueInput([1]);
        Assert.Equal(0xC4, In(bus, Iir));  // received data outranks THR empty
        In(bus, Thr);
        Assert.Equal(0xC1, In(bus, Iir));  // THR source was cleared by the earlier IIR read
        Out(bus, Fcr, 0x00);
        Assert.Equal(0x01, In(bus, Iir));
        Assert.Equal(0x03, In(bus, Ier));
        Out(bus, Ier, 0xFF);
        Assert.Equal(0x0F, In(bus, Ier));  // bits 7:4 are always 0
    }

    [Fact]
    public void WideAccessesAreSplitIntoRegisterBytes()
    {
        var (bus, uart) = Com1();
        Out(bus, Lcr, 0x03);
        Out(bus, Ier, 0x05);
        uart.EnqueueInput([0x41]);
        Assert.Equal(0x0541u, bus.Read(Thr, 2));       // RBR, then IER
        bus.Write(Thr, 2, 0x0042);                     // THR = 'B', IER = 0
        Assert.Equal("B", uart.Output);
        Assert.Equal(0x00, In(bus, Ier));
        Assert.Equal(0xB060_0003u, bus.Read(Lcr, 4));  // LCR, MCR, LSR, MSR
        Out(bus, Scr, 0x77);
        Assert.Equal(0xFFFF_FF77u, bus.Read(Scr, 4));  // SCR, then three unclaimed ports
    }
}
