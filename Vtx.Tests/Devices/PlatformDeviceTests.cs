using System.Buffers.Binary;
using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>fw_cfg, the 8259 pair, debug-exit and the two sinks, driven through the I/O bus.</summary>
public class PlatformDeviceTests
{
    private sealed class StopRecorder : IMachineControl
    {
        public readonly List<int> Codes = new();
        public void RequestStop(int exitCode) => Codes.Add(exitCode);
    }

    // ------------------------------------------------------------------ fw_cfg

    private static IoBus FwCfgBus(out FwCfg fw, ulong ram = 64UL << 20, ushort cpus = 1)
    {
        var bus = new IoBus();
        fw = new FwCfg(ram, cpus);
        bus.Register(FwCfg.SelectorPort, FwCfg.PortCount, fw);
        return bus;
    }

    private static byte[] ReadItem(IoBus bus, ushort key, int length)
    {
        bus.Write(0x510, 2, key);
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)bus.Read(0x511, 1);
        return b;
    }

    [Fact]
    public void SignatureReadsQemuThenZeros()
    {
        var bus = FwCfgBus(out _);
        Assert.Equal("QEMU\0\0"u8.ToArray(), ReadItem(bus, 0x0000, 6));
        Assert.Equal("QEMU"u8.ToArray(), ReadItem(bus, 0x0000, 4)); // selecting again rewinds
    }

    [Fact]
    public void IdSaysTraditionalInterfaceOnly()
    {
        var bus = FwCfgBus(out _);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ReadItem(bus, 0x0001, 4)));
        Assert.Equal(0xFFu, bus.Read(0x514, 1)); // no DMA register
    }

    [Theory]
    [InlineData(16UL << 20)]
    [InlineData(0x1_2345_6000UL)]
    public void RamSizeIsA64BitLittleEndianItem(ulong ram)
    {
        var bus = FwCfgBus(out _, ram);
        Assert.Equal(ram, BinaryPrimitives.ReadUInt64LittleEndian(ReadItem(bus, 0x0003, 8)));
    }

    [Fact]
    public void CpuCountIsA16BitItem()
    {
        var bus = FwCfgBus(out _, cpus: 3);
        Assert.Equal(new byte[] { 3, 0, 0 }, ReadItem(bus, 0x0005, 3));
    }

    [Fact]
    public void TheFileDirectoryIsEmptyUntilFilesAreAdded()
    {
        var bus = FwCfgBus(out var fw);
        Assert.Equal(new byte[8], ReadItem(bus, 0x0019, 8)); // count 0, then past the end
        fw.AddFile("opt/vtx/test", [9, 8, 7]);
        fw.AddFile("etc/a", [1]);
        var dir = ReadItem(bus, 0x0019, 4 + 2 * 64);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(dir));
        // Sorted by name: "etc/a" first, at key 0x20.
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(4)));
        Assert.Equal(0x20, BinaryPrimitives.ReadUInt16BigEndian(dir.AsSpan(8)));
        Assert.Equal("etc/a\0"u8.ToArray(), dir.AsSpan(12, 6).ToArray());
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(68)));
        Assert.Equal(0x21, BinaryPrimitives.ReadUInt16BigEndian(dir.AsSpan(72)));
        Assert.Equal(new byte[] { 9, 8, 7, 0 }, ReadItem(bus, 0x21, 4));
        Assert.Throws<ArgumentException>(() => fw.AddFile(new string('x', 56), []));
        Assert.Throws<ArgumentException>(() => fw.SetItem(0x19, []));
        Assert.Throws<ArgumentException>(() => fw.SetItem(0x25, []));
    }

    [Fact]
    public void SelectorQuirksFollowQemu()
    {
        var bus = FwCfgBus(out var fw);
        Assert.Equal(new byte[4], ReadItem(bus, 0x1234, 4));           // unknown key: empty item
        Assert.Equal("QEMU"u8.ToArray(), ReadItem(bus, 0x4000, 4));    // write-channel bit ignored
        bus.Write(0x510, 2, 0);
        Assert.Equal((uint)'Q', bus.Read(0x510, 1));                   // a byte read at 0x510 also reads data
        Assert.Equal(0xFFFFu, bus.Read(0x510, 2));                     // wider reads are invalid: all ones
        bus.Write(0x511, 1, 0x55);                                     // data writes are ignored
        bus.Write(0x510, 1, 0x03);                                     // byte writes do not select
        Assert.Equal((uint)'E', bus.Read(0x511, 1));
        Assert.Equal(0u, fw.SelectedKey);
        fw.SetItem(0x8001, [0xAB]);                                    // arch-specific items are separate
        Assert.Equal(new byte[] { 0xAB, 0 }, ReadItem(bus, 0x8001, 2));
    }

    // ------------------------------------------------------------------ 8259 pair

    private static IoBus PicBus(out Pic8259Pair pic)
    {
        var bus = new IoBus();
        pic = new Pic8259Pair();
        pic.RegisterOn(bus);
        return bus;
    }

    [Fact]
    public void BothControllersStartMasked()
    {
        var bus = PicBus(out var pic);
        Assert.Equal(0xFFu, bus.Read(0x21, 1));
        Assert.Equal(0xFFu, bus.Read(0xA1, 1));
        Assert.Equal(0x08, pic.Master.VectorBase);
        Assert.Equal(0x70, pic.Slave.VectorBase);
        Assert.False(pic.Master.Initializing);
    }

    [Fact]
    public void TheIcwSequenceRemapsTheVectorsAndOcw1SetsTheMask()
    {
        var bus = PicBus(out var pic);
        // The classic remap to 0x20/0x28.
        bus.Write(0x20, 1, 0x11); bus.Write(0xA0, 1, 0x11);
        Assert.True(pic.Master.Initializing);
        Assert.Equal(0x00u, bus.Read(0x21, 1));                       // ICW1 clears the mask
        bus.Write(0x21, 1, 0x20); bus.Write(0xA1, 1, 0x28);           // ICW2
        bus.Write(0x21, 1, 0x04); bus.Write(0xA1, 1, 0x02);           // ICW3: slave on line 2 / identity 2
        bus.Write(0x21, 1, 0x01); bus.Write(0xA1, 1, 0x01);           // ICW4: 8086 mode
        Assert.False(pic.Master.Initializing);
        Assert.False(pic.Slave.Initializing);
        Assert.Equal(0x20, pic.Master.VectorBase);
        Assert.Equal(0x28, pic.Slave.VectorBase);
        Assert.Equal(0x04, pic.Master.Icw3);
        Assert.Equal(0x02, pic.Slave.Icw3);
        Assert.False(pic.Master.AutoEoi);

        bus.Write(0x21, 1, 0xFB);                                     // OCW1: everything but the cascade
        bus.Write(0xA1, 1, 0xFF);
        Assert.Equal(0xFBu, bus.Read(0x21, 1));
        Assert.Equal(0xFFu, bus.Read(0xA1, 1));
        Assert.Equal(0xFB, pic.Master.Imr);
    }

    [Fact]
    public void SingleModeWithoutIcw4SkipsIcw3AndIcw4()
    {
        var bus = PicBus(out var pic);
        bus.Write(0x20, 1, 0x12);                                     // ICW1: SNGL, no IC4
        bus.Write(0x21, 1, 0x48);                                     // ICW2
        Assert.False(pic.Master.Initializing);
        Assert.Equal(0x48, pic.Master.VectorBase);
        Assert.Equal(0, pic.Master.Icw4);
        bus.Write(0x21, 1, 0x3C);                                     // now OCW1
        Assert.Equal(0x3Cu, bus.Read(0x21, 1));

        bus.Write(0x20, 1, 0x13);                                     // SNGL with IC4: ICW2 then ICW4
        bus.Write(0x21, 1, 0x50);
        bus.Write(0x21, 1, 0x03);                                     // ICW4 with AEOI
        Assert.True(pic.Master.AutoEoi);
        Assert.False(pic.Master.Initializing);
    }

    [Fact]
    public void Ocw3SelectsIrrOrIsrAndOcw2IsAccepted()
    {
        var bus = PicBus(out var pic);
        Assert.Equal(0u, bus.Read(0x20, 1));                          // IRR: no line is ever raised
        bus.Write(0x20, 1, 0x0B);                                     // OCW3: read ISR
        Assert.True(pic.Master.ReadsIsr);
        Assert.Equal(0u, bus.Read(0x20, 1));
        bus.Write(0x20, 1, 0x0A);                                     // OCW3: read IRR
        Assert.False(pic.Master.ReadsIsr);
        bus.Write(0x20, 1, 0x20);                                     // OCW2: non-specific EOI
        bus.Write(0xA0, 1, 0x62);                                     // OCW2: specific EOI, level 2
        bus.Write(0x20, 1, 0xC3);                                     // OCW2: set priority, lowest = 3
        Assert.Equal(3, pic.Master.LowestPriority);
        bus.Write(0x20, 1, 0x68);                                     // OCW3: set special mask mode
        Assert.True(pic.Master.SpecialMaskMode);
        bus.Write(0x20, 1, 0x0C);                                     // OCW3: poll
        Assert.Equal(0u, bus.Read(0x20, 1));                          // no request (bit 7 clear)
        Assert.Equal(0xFFu, bus.Read(0x21, 1));                       // the poll was consumed; IMR again
    }

    // ------------------------------------------------------------------ debug exit

    [Theory]
    [InlineData(0u, 1)]
    [InlineData(1u, 3)]
    [InlineData(0x10u, 0x21)]
    [InlineData(0x7Fu, 0xFF)]
    [InlineData(0x8000_0000u, 1)]       // bit 31 shifts out in 32 bits
    [InlineData(0xFFFF_FFFFu, -1)]
    public void DebugExitCodeIsValueShiftedLeftOrOne(uint value, int expected)
    {
        Assert.Equal(expected, DebugExitDevice.ExitCodeFor(value));
        var control = new StopRecorder();
        var bus = new IoBus();
        var dev = new DebugExitDevice(control);
        bus.Register(DebugExitDevice.DefaultPort, DebugExitDevice.DefaultPortCount, dev);
        bus.Write(0xF4, 4, value);
        Assert.Equal([expected], control.Codes);
        Assert.Equal(expected, dev.ExitCode);
    }

    [Fact]
    public void DebugExitByteWriteUsesTheByteAndReadsAreAllOnes()
    {
        var control = new StopRecorder();
        var bus = new IoBus();
        var dev = new DebugExitDevice(control);
        bus.Register(0xF4, 4, dev);
        Assert.Null(dev.ExitCode);
        Assert.Equal(0xFFu, bus.Read(0xF4, 1));
        Assert.Equal(0xFFFF_FFFFu, bus.Read(0xF4, 4));
        Assert.Empty(control.Codes);
        bus.Write(0xF4, 1, 0x31);
        Assert.Equal([0x63], control.Codes);
        Assert.Throws<ArgumentNullException>(() => new DebugExitDevice(null!));
    }

    // ------------------------------------------------------------------ sinks

    [Fact]
    public void PostCodePortKeepsTheLastCode()
    {
        var bus = new IoBus();
        var post = new PostCodePort();
        var seen = new List<byte>();
        post.CodeWritten += seen.Add;
        bus.Register(PostCodePort.DefaultPort, 1, post);
        Assert.Null(post.LastCode);
        bus.Write(0x80, 1, 0x12);
        bus.Write(0x80, 1, 0xAA);
        Assert.Equal((byte)0xAA, post.LastCode);
        Assert.Equal(2, post.WriteCount);
        Assert.Equal(new byte[] { 0x12, 0xAA }, seen);
        Assert.Equal(0xFFu, bus.Read(0x80, 1));
        bus.Write(0x80, 2, 0x3456);                                   // split: only the low byte reaches 0x80
        Assert.Equal((byte)0x56, post.LastCode);
    }

    [Fact]
    public void DebugConsoleCollectsCharactersAndReadsBackE9()
    {
        var bus = new IoBus();
        var con = new DebugConsole();
        var writer = new StringWriter();
        con.OutputWriter = writer;
        bus.Register(DebugConsole.DefaultPort, 1, con);
        Assert.Equal(0xE9u, bus.Read(0xE9, 1));
        foreach (byte b in "boot ✓\n"u8) bus.Write(0xE9, 1, b);
        Assert.Equal("boot ✓\n", con.Output);
        Assert.Equal("boot ✓\n", writer.ToString());
        bus.Write(0xE9, 2, 0x2121);                                   // only the byte at 0xE9 is console
        Assert.Equal("boot ✓\n!", con.Output);
        con.ClearOutput();
        Assert.Equal("", con.Output);
        Assert.Empty(con.OutputBytes);
    }
}
