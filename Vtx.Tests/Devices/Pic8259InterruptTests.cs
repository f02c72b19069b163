using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>
/// The 8259A pair raising interrupts: request/acknowledge/EOI per the Intel 8259A datasheet, checked
/// against the datasheet's rules written out in each test (priorities, cascade, AEOI, poll, ELCR).
/// </summary>
public class Pic8259InterruptTests
{
    private static (IoBus Bus, Pic8259Pair Pic, List<bool> Output) Pair(byte masterBase = 0x20, byte slaveBase = 0x28, byte icw4 = 0x01)
    {
        var bus = new IoBus();
        var pic = new Pic8259Pair();
        pic.RegisterOn(bus);
        pic.RegisterElcrOn(bus);
        var outs = new List<bool>();
        pic.OutputChanged = outs.Add;
        // ICW1 (edge, cascade, ICW4), ICW2 base, ICW3 cascade, ICW4 8086 (+ AEOI/SFNM when asked).
        bus.Write(0x20, 1, 0x11); bus.Write(0x21, 1, masterBase); bus.Write(0x21, 1, 0x04); bus.Write(0x21, 1, icw4);
        bus.Write(0xA0, 1, 0x11); bus.Write(0xA1, 1, slaveBase); bus.Write(0xA1, 1, 0x02); bus.Write(0xA1, 1, (uint)(icw4 & 0x03));
        return (bus, pic, outs);
    }

    [Fact]
    public void EdgeRequestRaisesIntAndInta_GivesVectorAndSetsIsr()
    {
        var (bus, pic, outs) = Pair();
        pic.PulseIrq(3);
        Assert.True(pic.Output);
        Assert.Equal([true], outs);
        Assert.Equal(1 << 3, pic.Master.Irr);
        Assert.Equal(0x23, pic.Acknowledge());
        Assert.Equal(0, pic.Master.Irr);              // an edge request is consumed by INTA
        Assert.Equal(1 << 3, pic.Master.Isr);
        Assert.False(pic.Output);
        bus.Write(0x20, 1, 0x20);                     // non-specific EOI
        Assert.Equal(0, pic.Master.Isr);
    }

    [Fact]
    public void FullyNested_HigherPriorityInterruptsLowerInService_LowerWaits()
    {
        var (bus, pic, _) = Pair();
        pic.PulseIrq(5);
        Assert.Equal(0x25, pic.Acknowledge());
        pic.PulseIrq(6);                              // lower priority than 5 in service: held
        Assert.False(pic.Output);
        pic.PulseIrq(1);                              // higher: nests
        Assert.True(pic.Output);
        Assert.Equal(0x21, pic.Acknowledge());
        bus.Write(0x20, 1, 0x20);                     // EOI retires the highest in service: 1
        Assert.Equal(1 << 5, pic.Master.Isr);
        Assert.False(pic.Output);
        bus.Write(0x20, 1, 0x65);                     // specific EOI for 5
        Assert.True(pic.Output);
        Assert.Equal(0x26, pic.Acknowledge());
    }

    [Fact]
    public void SimultaneousRequests_ComeOutInPriorityOrder_AndRotationChangesIt()
    {
        var (bus, pic, _) = Pair();
        foreach (int irq in new[] { 7, 4, 0, 6 }) pic.PulseIrq(irq);
        var got = new List<int>();
        while (pic.Output) { got.Add(pic.Acknowledge()); bus.Write(0x20, 1, 0x20); }
        Assert.Equal([0x20, 0x24, 0x26, 0x27], got);

        // Set priority (OCW2 R=1 SL=1 EOI=0): line 4 lowest, so 5 is highest: 5, 6, 7, 0, 1, 2, 3, 4.
        bus.Write(0x20, 1, 0xC4);
        foreach (int irq in new[] { 0, 4, 6, 3 }) pic.PulseIrq(irq);
        got.Clear();
        while (pic.Output) { got.Add(pic.Acknowledge()); bus.Write(0x20, 1, 0x20); }
        Assert.Equal([0x26, 0x20, 0x23, 0x24], got);
    }

    [Fact]
    public void MaskedLineIsHeldInIrrUntilUnmasked()
    {
        var (bus, pic, _) = Pair();
        bus.Write(0x21, 1, 0x08);
        pic.PulseIrq(3);
        Assert.False(pic.Output);
        Assert.Equal(0x08, (int)bus.Read(0x20, 1));  // IRR (OCW3 default after ICW1)
        bus.Write(0x21, 1, 0x00);
        Assert.True(pic.Output);
    }

    [Fact]
    public void SlaveRequest_CascadesThroughMasterLine2()
    {
        var (bus, pic, _) = Pair();
        pic.PulseIrq(10);
        Assert.True(pic.Output);
        Assert.Equal(0x2A, pic.Acknowledge());         // slave base + 2
        Assert.Equal(1 << 2, pic.Master.Isr);
        Assert.Equal(1 << 2, pic.Slave.Isr);
        bus.Write(0xA0, 1, 0x20);
        bus.Write(0x20, 1, 0x20);
        Assert.Equal(0, pic.Master.Isr | pic.Slave.Isr);
    }

    [Fact]
    public void AutoEoi_LeavesIsrClear()
    {
        var (_, pic, _) = Pair(icw4: 0x03);
        Assert.True(pic.Master.AutoEoi);
        pic.PulseIrq(4);
        Assert.Equal(0x24, pic.Acknowledge());
        Assert.Equal(0, pic.Master.Isr);
        pic.PulseIrq(4);
        Assert.True(pic.Output);                        // nothing in service blocks it
    }

    [Fact]
    public void Poll_ReturnsRequestingLineAndAcknowledgesIt()
    {
        var (bus, pic, _) = Pair();
        pic.PulseIrq(6);
        bus.Write(0x20, 1, 0x0C);                       // OCW3 poll
        Assert.Equal(0x86u, bus.Read(0x20, 1));         // I = 1, level 6
        Assert.Equal(1 << 6, pic.Master.Isr);
        bus.Write(0x20, 1, 0x0C);
        Assert.Equal(0x00u, bus.Read(0x20, 1));         // nothing requesting (6 is in service)
    }

    [Fact]
    public void LevelTriggeredLine_ViaElcr_FollowsTheLine()
    {
        var (bus, pic, _) = Pair();
        bus.Write(0x4D1, 1, 0xFF);
        Assert.Equal(0xDEu, bus.Read(0x4D1, 1));        // IRQ 8 and 13 cannot be level
        bus.Write(0x4D0, 1, 0xFF);
        Assert.Equal(0xF8u, bus.Read(0x4D0, 1));        // IRQ 0-2 cannot be level
        pic.SetIrq(9, true);
        Assert.True(pic.Output);
        Assert.Equal(0x29, pic.Acknowledge());
        Assert.Equal(1 << 1, pic.Slave.Irr);            // still requesting: level
        bus.Write(0xA0, 1, 0x20); bus.Write(0x20, 1, 0x20);
        Assert.True(pic.Output);                        // still high after EOI: requests again
        pic.SetIrq(9, false);
        Assert.Equal(0, pic.Slave.Irr);
        // The master latched the cascade's rising edge on line 2; with the slave's request gone, the
        // INTA finds nothing on the slave: its spurious IRQ 7 (IRQ 15), no slave ISR bit, but the
        // master's line 2 is in service (software must EOI the master for a spurious IRQ 15).
        Assert.True(pic.Output);
        Assert.Equal(0x2F, pic.Acknowledge());
        Assert.Equal(0, pic.Slave.Isr);
        Assert.Equal(1 << 2, pic.Master.Isr);
        Assert.False(pic.Output);
    }

    [Fact]
    public void RequestWithdrawnBeforeInta_GivesSpuriousIrq7WithoutIsr()
    {
        var (bus, pic, _) = Pair();
        bus.Write(0x4D0, 1, 0x08);                      // IRQ 3 level
        pic.SetIrq(3, true);
        pic.SetIrq(3, false);
        Assert.Equal(0x27, pic.Acknowledge());
        Assert.Equal(0, pic.Master.Isr);
    }

    [Fact]
    public void Icw1_ResetsEdgeLatchesMaskAndInService()
    {
        var (bus, pic, _) = Pair();
        pic.PulseIrq(3);
        pic.Acknowledge();
        pic.PulseIrq(5);
        bus.Write(0x20, 1, 0x11); bus.Write(0x21, 1, 0x30); bus.Write(0x21, 1, 0x04); bus.Write(0x21, 1, 0x01);
        Assert.Equal(0, pic.Master.Isr);
        Assert.Equal(0, pic.Master.Irr);
        Assert.Equal(0, pic.Master.Imr);
        pic.PulseIrq(5);
        Assert.Equal(0x35, pic.Acknowledge());
    }
}
