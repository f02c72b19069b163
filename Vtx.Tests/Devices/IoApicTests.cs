using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>
/// The 82093AA-style I/O APIC: the register file (82093AA data sheet, 3.1-3.2), the redirection
/// table semantics (edge/level, remote IRR, mask, polarity) and the EOI paths, delivering to the
/// PC machine's local APIC (SDM Vol. 3A, 11.8.5 for the EOI broadcast).
/// </summary>
public class IoApicTests
{
    private sealed class Recorder : IInterruptMessageSink
    {
        public readonly List<InterruptMessage> Got = new();
        public void Deliver(in InterruptMessage m) => Got.Add(m);
    }

    private static uint Reg(IoApic io, byte index) { io.Write(0, 4, index); return (uint)io.Read(0x10, 4); }
    private static void SetReg(IoApic io, byte index, uint v) { io.Write(0, 4, index); io.Write(0x10, 4, v); }
    private static void Entry(IoApic io, int pin, ulong e) { SetReg(io, (byte)(0x11 + 2 * pin), (uint)(e >> 32)); SetReg(io, (byte)(0x10 + 2 * pin), (uint)e); }

    [Fact]
    public void IdVersionArbitration_AndResetState()
    {
        var io = new IoApic(new Recorder(), 3);
        Assert.Equal(3u << 24, Reg(io, 0));
        Assert.Equal(0x0017_0020u, Reg(io, 1));          // version 20h, max redirection entry 23
        Assert.Equal(3u << 24, Reg(io, 2));
        SetReg(io, 0, 0xFFFF_FFFF);
        Assert.Equal(0x0F00_0000u, Reg(io, 0));          // only bits 27:24
        SetReg(io, 1, 0);
        Assert.Equal(0x0017_0020u, Reg(io, 1));          // read-only
        for (int pin = 0; pin < 24; pin++)
        {
            Assert.Equal(1u << 16, Reg(io, (byte)(0x10 + 2 * pin)));   // masked
            Assert.Equal(0u, Reg(io, (byte)(0x11 + 2 * pin)));
        }
        Assert.Equal(0u, Reg(io, 0x40));                 // past the table
        io.Write(0, 4, 0x12);
        Assert.Equal(0x12UL, io.Read(0, 4));             // IOREGSEL reads back
    }

    [Fact]
    public void RedirectionEntry_ReadOnlyBitsIgnoreWrites()
    {
        var io = new IoApic(new Recorder());
        SetReg(io, 0x10, 0xFFFF_FFFF);
        // Writable: vector, delivery mode, destination mode, polarity, trigger, mask; not 12 (status) or 14 (remote IRR).
        Assert.Equal(0x0001_AFFFu, Reg(io, 0x10));
        SetReg(io, 0x11, 0xFFFF_FFFF);
        Assert.Equal(0xFF00_0000u, Reg(io, 0x11));
    }

    [Fact]
    public void EdgeEntry_SendsOneMessagePerRisingEdge_NoneWhileMasked()
    {
        var rec = new Recorder();
        var io = new IoApic(rec);
        Entry(io, 5, 0x0300_0000_0000_0841UL);          // dest 3, logical, fixed, vector 41h, edge, active high
        io.SetPin(5, true);
        io.SetPin(5, true);                              // no new edge
        io.SetPin(5, false);
        io.SetPin(5, true);
        Assert.Equal(2, rec.Got.Count);
        Assert.Equal(new InterruptMessage(3, true, 0, 0x41, false), rec.Got[0]);
        Entry(io, 5, 0x0300_0000_0001_0841UL);          // masked
        io.SetPin(5, false); io.SetPin(5, true);
        Assert.Equal(2, rec.Got.Count);
    }

    [Fact]
    public void ActiveLowPolarity_InvertsThePin()
    {
        var rec = new Recorder();
        var io = new IoApic(rec);
        Entry(io, 7, 0x2000UL | 0x50);                   // active low, edge
        io.SetPin(7, true);
        Assert.Empty(rec.Got);
        io.SetPin(7, false);                             // low = active: edge
        Assert.Single(rec.Got);
    }

    [Fact]
    public void LevelEntry_RemoteIrrHoldsUntilEoi_ThenResendsWhileActive()
    {
        var rec = new Recorder();
        var io = new IoApic(rec);
        Entry(io, 9, 0x8000UL | 0x61);                   // level, vector 61h
        io.SetPin(9, true);
        Assert.Single(rec.Got);
        Assert.True(rec.Got[0].Level);
        Assert.NotEqual(0u, Reg(io, 0x22) & (1u << 14)); // remote IRR
        io.SetPin(9, true);
        Assert.Single(rec.Got);                          // remote IRR blocks
        io.EndOfInterrupt(0x60);                         // another vector: nothing
        Assert.Single(rec.Got);
        io.EndOfInterrupt(0x61);                         // still active: sent again
        Assert.Equal(2, rec.Got.Count);
        io.SetPin(9, false);
        io.Write(0x40, 4, 0x61);                         // the directed EOI register
        Assert.Equal(0u, Reg(io, 0x22) & (1u << 14));
        Assert.Equal(2, rec.Got.Count);
    }

    [Fact]
    public void UnmaskingAnActiveLevelEntry_SendsAtOnce()
    {
        var rec = new Recorder();
        var io = new IoApic(rec);
        Entry(io, 4, 0x1_8000UL | 0x70);                 // level, masked
        io.SetPin(4, true);
        Assert.Empty(rec.Got);
        Entry(io, 4, 0x8000UL | 0x70);
        Assert.Single(rec.Got);
    }

    [Fact]
    public void OnThePcMachine_LevelInterruptReachesLocalApic_AndItsEoiIsBroadcast()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 8, Platform = MachinePlatform.Pc });
        var io = m.Platform!.IoApic;
        Entry(io, 9, 0x8000UL | 0x61);                   // level, physical destination 0 (the BSP's APIC ID)
        m.Platform.SetIrq(9, true);
        var apic = m.Cpu.Apic;
        Assert.NotEqual(0u, apic.Read(0x230) & (1u << 1));   // IRR bit 61h (bank 3, bit 1)
        Assert.NotEqual(0u, apic.Read(0x1B0) & (1u << 1));   // TMR: level
        Assert.Equal(0x61, apic.Acknowledge());
        m.Platform.SetIrq(9, false);
        apic.Write(0xB0, 0);                                  // EOI: broadcast to the I/O APIC
        Assert.Equal(0u, Reg(io, 0x22) & (1u << 14));
        // Suppressed broadcast (SVR bit 12): remote IRR stays set.
        m.Platform.SetIrq(9, true);
        Assert.Equal(0x61, apic.Acknowledge());
        apic.Write(0xF0, apic.Read(0xF0) | 0x1000);
        apic.Write(0xB0, 0);
        Assert.NotEqual(0u, Reg(io, 0x22) & (1u << 14));
    }

    [Fact]
    public void OnThePcMachine_MessageToAnotherApicId_IsNotAccepted_NmiModeRaisesNmi()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 8, Platform = MachinePlatform.Pc });
        var io = m.Platform!.IoApic;
        Entry(io, 3, 0x0500_0000_0000_0045UL);           // physical destination 5: nobody
        m.Platform.SetIrq(3, true);
        Assert.False(m.Cpu.Apic.HasDeliverable);
        Entry(io, 4, 0x400UL);                           // NMI delivery mode to APIC 0
        m.Platform.SetIrq(4, true);
        Assert.True(m.Cpu.NmiPending);
    }

    public static Arbitrary<(ulong Offset, int Size, ulong Value)[]> Accesses() =>
        Gen.ArrayOf(
            from off in Gen.Frequency((3, Gen.Elements(0UL, 0x10UL, 0x40UL)), (1, Gen.Choose(0, 0xFFF).Select(v => (ulong)v)))
            from size in Gen.Elements(1, 2, 4, 8)
            from lo in Gen.Choose(int.MinValue, int.MaxValue)
            from hi in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(int.MinValue, int.MaxValue)))
            select (off, size, ((ulong)(uint)hi << 32) | (uint)lo)).ToArbitrary();

    [Property(MaxTest = 300, Arbitrary = new[] { typeof(IoApicTests) })]
    public void GarbageProgramming_NeverThrows_AndReadOnlyFieldsHold((ulong Offset, int Size, ulong Value)[] accesses)
    {
        var rec = new Recorder();
        var io = new IoApic(rec);
        int i = 0;
        foreach (var (off, size, value) in accesses)
        {
            io.Write(off, size, value);
            io.SetPin(i++ % 26, (value & 1) != 0);       // pins 24 and 25 do not exist: ignored
            _ = io.Read(off, size);
        }
        Assert.Equal(0x0017_0020u, Reg(io, 1));
        for (int pin = 0; pin < 24; pin++) Assert.Equal(0u, Reg(io, (byte)(0x10 + 2 * pin)) & (1u << 12));
        Assert.All(rec.Got, msg => Assert.InRange(msg.DeliveryMode, 0, 7));
    }
}
