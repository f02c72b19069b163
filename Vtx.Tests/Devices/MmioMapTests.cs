using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

public class MmioMapTests
{
    private static DelegateMmioDevice Echo(List<(ulong, int, ulong)>? writes = null) =>
        new((offset, size) => 0x1122_3344_5566_7788UL + offset, (o, s, v) => writes?.Add((o, s, v)));

    [Fact]
    public void TryFindHonoursBothEndsOfEachRegion()
    {
        var map = new MmioMap();
        Assert.True(map.IsEmpty);
        var a = map.Register(0xFEE0_0000, 0x1000, Echo());
        var b = map.Register(0xFEC0_0000, 0x20, Echo()); // not page-sized
        var c = map.Register(0x3, 1, Echo());           // not aligned, one byte
        Assert.False(map.IsEmpty);
        Assert.Equal([c, b, a], map.Regions);            // sorted by base

        Assert.True(map.TryFind(0xFEE0_0000, out var r) && r == a);
        Assert.True(map.TryFind(0xFEE0_0FFF, out r) && r == a);
        Assert.False(map.TryFind(0xFEE0_1000, out r));
        Assert.Null(r);
        Assert.False(map.TryFind(0xFEDF_FFFF, out _));
        Assert.True(map.TryFind(0xFEC0_001F, out r) && r == b);
        Assert.False(map.TryFind(0xFEC0_0020, out _));
        Assert.True(map.TryFind(3, out r) && r == c);
        Assert.False(map.TryFind(2, out _));
        Assert.False(map.TryFind(4, out _));
    }

    [Fact]
    public void OverlapsAreRejectedNamingBothRegions()
    {
        var map = new MmioMap();
        map.Register(0x1000, 0x100, Echo());
        var ex = Assert.Throws<ArgumentException>(() => map.Register(0x10FF, 0x10, Echo()));
        Assert.Contains("0x10FF-0x110E", ex.Message);
        Assert.Contains("0x1000-0x10FF", ex.Message);
        Assert.Throws<ArgumentException>(() => map.Register(0x0F00, 0x1000, Echo())); // covers it entirely
        map.Register(0x1100, 0x10, Echo());                                           // adjacent is fine
        map.Register(0xFFF, 1, Echo());
        Assert.Equal(3, map.Regions.Count);
        Assert.Equal(3, map.Generation);
    }

    [Fact]
    public void EmptyOrWrappingRegionsAreRejected()
    {
        var map = new MmioMap();
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Register(0x1000, 0, Echo()));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Register(ulong.MaxValue, 2, Echo()));
        map.Register(ulong.MaxValue, 1, Echo()); // the very last byte
        Assert.True(map.TryFind(ulong.MaxValue, out _));
        Assert.Throws<ArgumentNullException>(() => map.Register(0, 1, null!));
    }

    [Fact]
    public void ReadsAndWritesPassTheOffsetIntoTheRegionAndAreMasked()
    {
        var writes = new List<(ulong, int, ulong)>();
        var map = new MmioMap();
        map.Register(0xFEC0_0000, 0x100, Echo(writes));
        Assert.True(map.TryRead(0xFEC0_0010, 4, out ulong v));
        Assert.Equal(0x5566_7798UL, v);
        Assert.True(map.TryRead(0xFEC0_0000, 8, out v));
        Assert.Equal(0x1122_3344_5566_7788UL, v);
        Assert.True(map.TryWrite(0xFEC0_0020, 2, 0xAAAA_BBBB));
        Assert.Equal([(0x20UL, 2, 0xBBBBUL)], writes);
        Assert.False(map.TryRead(0xFEC0_0100, 1, out v));
        Assert.Equal(0UL, v);
        Assert.False(map.TryWrite(0, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.TryRead(0xFEC0_0000, 3, out _));
    }

    [Fact]
    public void IntersectsFindsAnyOverlapWithARange()
    {
        var map = new MmioMap();
        map.Register(0xA0000, 0x20000, Echo());
        Assert.True(map.Intersects(0x9F000, 0x1001));
        Assert.False(map.Intersects(0x9F000, 0x1000));
        Assert.True(map.Intersects(0xBFFFF, 1));
        Assert.False(map.Intersects(0xC0000, ulong.MaxValue)); // clamps instead of wrapping
        Assert.True(map.Intersects(0, ulong.MaxValue));
        Assert.False(map.Intersects(0xA0000, 0));
    }

    [Fact]
    public void ADelegateDeviceWithoutWriterIgnoresWrites()
    {
        var d = new DelegateMmioDevice((o, s) => (ulong)s);
        d.Write(0, 4, 1);
        Assert.Equal(8UL, d.Read(0, 8));
        Assert.Throws<ArgumentNullException>(() => new DelegateMmioDevice(null!));
    }
}
