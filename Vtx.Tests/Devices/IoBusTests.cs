using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>A device that records accesses and answers reads with a function of port and size.</summary>
internal sealed class RecordingPortDevice : IPortDevice
{
    public readonly List<(ushort Port, int Size, uint Value, bool Write)> Log = new();
    public Func<ushort, int, uint> Answer { get; set; } = (p, s) => 0x1234_5600u | (uint)(p & 0xFF);

    public uint Read(ushort port, int size)
    {
        uint v = Answer(port, size);
        Log.Add((port, size, v, false));
        return v;
    }

    public void Write(ushort port, int size, uint value) => Log.Add((port, size, value, true));
}

public class IoBusTests
{
    [Theory]
    [InlineData(1, 0xFFu)]
    [InlineData(2, 0xFFFFu)]
    [InlineData(4, 0xFFFF_FFFFu)]
    public void UnclaimedPortsReadAllOnesOfTheSize(int size, uint expected)
    {
        var bus = new IoBus();
        Assert.Equal(expected, bus.Read(0x1234, size));
        Assert.Equal(expected, bus.Read(0xFFFF, size)); // also past the last port
    }

    [Fact]
    public void UnclaimedWritesAreIgnored()
    {
        var bus = new IoBus();
        bus.Write(0x80, 1, 0x55);
        bus.Write(0xCF8, 4, 0x8000_0000);
        Assert.Equal(0xFFu, bus.Read(0x80, 1));
    }

    [Fact]
    public void ClaimedAccessesReachTheDeviceWholeAndAreMaskedToTheSize()
    {
        var bus = new IoBus();
        var d = new RecordingPortDevice { Answer = (_, _) => 0xDEAD_BEEF };
        bus.Register(0x100, 4, d);
        Assert.Equal(0xEFu, bus.Read(0x101, 1));
        Assert.Equal(0xBEEFu, bus.Read(0x100, 2));
        Assert.Equal(0xDEAD_BEEFu, bus.Read(0x100, 4));
        bus.Write(0x102, 2, 0xFFFF_ABCD);
        Assert.Equal([(0x101, 1, 0xDEAD_BEEFu, false), (0x100, 2, 0xDEAD_BEEFu, false), (0x100, 4, 0xDEAD_BEEFu, false), (0x102, 2, 0xABCDu, true)],
            d.Log.Select(l => ((int)l.Port, l.Size, l.Value, l.Write)).ToArray());
    }

    [Fact]
    public void AnAccessStraddlingDevicesIsSplitIntoBytes()
    {
        var bus = new IoBus();
        var a = new RecordingPortDevice { Answer = (p, _) => 0xA0u + (uint)(p - 0x200) };
        var b = new RecordingPortDevice { Answer = (p, _) => 0xB0u + (uint)(p - 0x202) };
        bus.Register(0x200, 2, a);
        bus.Register(0x202, 1, b);
        // 0x201 (a), 0x202 (b), 0x203 and 0x204 unclaimed.
        Assert.Equal(0xFFFF_B0A1u, bus.Read(0x201, 4));
        bus.Write(0x201, 2, 0x3322);
        Assert.Contains((0x201, 1, 0x22u, true), a.Log.Select(l => ((int)l.Port, l.Size, l.Value, l.Write)));
        Assert.Contains((0x202, 1, 0x33u, true), b.Log.Select(l => ((int)l.Port, l.Size, l.Value, l.Write)));
    }

    [Fact]
    public void BytesPastPortFFFFAreUnclaimed()
    {
        var bus = new IoBus();
        var d = new RecordingPortDevice { Answer = (p, _) => p == 0xFFFE ? 0x11u : 0x22u };
        bus.Register(0xFFFE, 2, d);
        Assert.Equal(0xFFFF_2211u, bus.Read(0xFFFE, 4));
        Assert.Equal(0xFF22u, bus.Read(0xFFFF, 2));
    }

    [Fact]
    public void OverlappingRegistrationIsRejectedNamingThePorts()
    {
        var bus = new IoBus();
        bus.Register(0x3F8, 8, new Uart16550());
        var ex = Assert.Throws<ArgumentException>(() => bus.Register(0x3FC, 8, new RecordingPortDevice()));
        Assert.Contains("0x03FC-0x0403", ex.Message);   // the requested range
        Assert.Contains("0x03FC-0x03FF", ex.Message);   // the ports in conflict
        Assert.Contains("Uart16550", ex.Message);       // the owner
        // The failed registration claimed nothing.
        Assert.Equal(0xFFu, bus.Read(0x400, 1));
        Assert.Single(bus.Ranges);
    }

    [Theory]
    [InlineData(0x10, 0)]
    [InlineData(0xFFFF, 2)]
    [InlineData(0, 0x10001)]
    public void BadRangesAreRejected(int first, int count)
    {
        var bus = new IoBus();
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Register((ushort)first, count, new RecordingPortDevice()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8)]
    public void BadAccessSizesAreRejected(int size)
    {
        var bus = new IoBus();
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Read(0, size));
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Write(0, size, 0));
    }

    [Fact]
    public void TheObserverSeesEveryAccessWithItsValue()
    {
        var bus = new IoBus();
        bus.Register(0x80, 1, new PostCodePort());
        var seen = new List<PortAccess>();
        bus.AccessObserved = seen.Add;
        bus.Write(0x80, 1, 0x1AB);
        bus.Read(0x80, 1);
        bus.Read(0x81, 2);
        Assert.Equal(
        [
            new PortAccess(0x80, 1, 0xAB, true, true),
            new PortAccess(0x80, 1, 0xFF, false, true),
            new PortAccess(0x81, 2, 0xFFFF, false, false),
        ], seen);
        bus.AccessObserved = null;
        bus.Read(0x80, 1);
        Assert.Equal(3, seen.Count);
    }

    [Fact]
    public void DeviceAtAndRangesDescribeTheClaims()
    {
        var bus = new IoBus();
        var pic = new Pic8259Pair();
        pic.RegisterOn(bus);
        Assert.Same(pic, bus.DeviceAt(0x21));
        Assert.Same(pic, bus.DeviceAt(0xA0));
        Assert.Null(bus.DeviceAt(0x22));
        Assert.Equal([(ushort)0x20, (ushort)0xA0], bus.Ranges.Select(r => r.FirstPort));
        Assert.Equal((ushort)0xA1, bus.Ranges[1].LastPort);
    }
}
