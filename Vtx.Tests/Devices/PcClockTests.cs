using Vtx.Devices;
using Xunit;

namespace Vtx.Tests.Devices;

/// <summary>
/// The PC platform's timed devices — 8254 PIT (Intel 8254 datasheet), CMOS RTC (MC146818A data
/// sheet), ACPI PM timer (ACPI 6.5, 4.8.3.3) — observed through their ports while the processor
/// spins, with the expected values computed here from the datasheets and the documented clock
/// conversion: a device at f Hz has seen floor(cycles × TscPerCycle × f / TscHz) ticks.
/// </summary>
public class PcClockTests
{
    internal sealed class Rig
    {
        public Machine M { get; }
        public ulong TscHz => M.Cpu.Model.TscFrequencyHz;
        public ulong TscPerCycle => M.Cpu.Model.TscPerCycle;

        public Rig(ulong tscHz = 2_000_000_000, ulong tscPerCycle = 1, int memoryMiB = 8)
        {
            M = new Machine(new MachineOptions
            {
                MemoryMiB = memoryMiB,
                Platform = MachinePlatform.Pc,
                CpuModel = new CpuModel { TscFrequencyHz = tscHz, TscPerCycle = tscPerCycle },
            });
            M.WriteMemory(0x1000, [0xEB, 0xFE]);     // jmp $
            M.Cpu.Rip = 0x1000;
        }

        public ulong Ticks(ulong hz) => (ulong)((UInt128)M.Cpu.Cycles * TscPerCycle * hz / TscHz);
        public void Spin(ulong cycles) => Assert.Equal(StopReason.CycleLimit, M.Run(new RunLimits { MaxCycles = cycles }).Reason);
        public void Out(ushort port, uint v, int size = 1) => M.Cpu.Io.Write(port, size, v);
        public uint In(ushort port, int size = 1) => M.Cpu.Io.Read(port, size);
    }

    // ------------------------------------------------------------------ PIT

    private static ushort LatchRead(Rig r, int ch)
    {
        r.Out(0x43, (uint)(ch << 6));                   // counter latch
        uint lo = r.In((ushort)(0x40 + ch)), hi = r.In((ushort)(0x40 + ch));
        return (ushort)(lo | hi << 8);
    }

    [Fact]
    public void Channel2Mode0_GatedByPort61_CountsDownAndRaisesOutAtTerminalCount()
    {
        var r = new Rig(tscHz: 10_000_000);              // 10 MHz TSC: about 8.4 cycles per PIT clock
        const uint n = 500;
        r.Out(0x61, 0x00);                               // gate low
        r.Out(0x43, 0xB0);                               // counter 2, LSB then MSB, mode 0, binary
        r.Out(0x42, n & 0xFF);
        r.Out(0x42, n >> 8);
        r.Spin(1000);
        // Gate low: the count is loaded on the next clock but does not count.
        Assert.Equal((ushort)n, LatchRead(r, 2));
        Assert.Equal(0u, r.In(0x61) & 0x20);
        r.Out(0x61, 0x01);                               // gate high: counting starts on the next clock
        ulong start = r.Ticks(Pit8254.FrequencyHz) + 1;
        bool sawHigh = false;
        for (int i = 0; i < 60; i++)
        {
            r.Spin(97);
            ulong now = r.Ticks(Pit8254.FrequencyHz);
            long elapsed = (long)now - (long)start;
            ushort expectCount = elapsed < 0 ? (ushort)n : (ushort)((n - (ulong)elapsed) & 0xFFFF); // mode 0 wraps after 0
            bool expectOut = elapsed >= n;               // OUT rises at terminal count and stays high
            Assert.Equal(expectOut, (r.In(0x61) & 0x20) != 0);
            Assert.Equal(expectCount, LatchRead(r, 2));
            sawHigh |= expectOut;
        }
        Assert.True(sawHigh);
    }

    [Theory]
    [InlineData(2, 1000)]
    [InlineData(3, 1000)]
    [InlineData(3, 999)]
    public void Channel0PeriodicModes_MatchTheDatasheetWaveform(int mode, int n)
    {
        var r = new Rig(tscHz: 10_000_000);
        r.Out(0x43, (uint)(0x30 | mode << 1));
        r.Out(0x40, (uint)n & 0xFF);
        r.Out(0x40, (uint)n >> 8);
        ulong start = r.Ticks(Pit8254.FrequencyHz) + 1;
        for (int i = 0; i < 80; i++)
        {
            r.Spin(331);
            ulong e = r.Ticks(Pit8254.FrequencyHz) - start;
            ulong phase = e % (ulong)n;
            // Mode 2: count n..1, OUT low while the count is 1. Mode 3: count down by 2, OUT high for the first half (rounded up).
            ushort count = mode == 2 ? (ushort)(n - (int)phase) : (ushort)(n - (int)(2 * e % (ulong)n));
            bool outHigh = mode == 2 ? phase != (ulong)n - 1 : phase < (ulong)(n + 1) / 2;
            r.Out(0x43, 0xC2);                           // read-back: latch count and status of counter 0
            uint status = r.In(0x40);
            Assert.Equal(outHigh, (status & 0x80) != 0);
            Assert.Equal(0u, status & 0x40);             // count loaded: no NULL COUNT
            Assert.Equal((uint)(0x30 | mode << 1), status & 0x3F);
            ushort got = (ushort)(r.In(0x40) | r.In(0x40) << 8);
            Assert.Equal(count, got);
        }
    }

    [Fact]
    public void ReadBackStatus_ShowsNullCountUntilLoaded_AndBcdCounting()
    {
        var r = new Rig(tscHz: 10_000_000);
        r.Out(0x43, 0x71);                               // counter 1, LSB/MSB, mode 0, BCD
        r.Out(0x43, 0xE4);                               // read-back status only, counter 1
        Assert.Equal(0x71u, r.In(0x41));                 // no OUT (mode 0 starts low), NULL COUNT, LSB/MSB, mode 0, BCD
        r.Out(0x41, 0x00);
        r.Out(0x41, 0x10);                               // BCD 1000
        r.Out(0x43, 0xE4);
        Assert.Equal(0x40u, r.In(0x41) & 0x40);          // NULL COUNT until the next clock
        ulong start = r.Ticks(Pit8254.FrequencyHz) + 1;
        r.Spin(500);
        ulong e = r.Ticks(Pit8254.FrequencyHz) - start;
        uint dec = (uint)(1000 - e);
        uint bcd = dec % 10 | (dec / 10 % 10) << 4 | (dec / 100 % 10) << 8 | (dec / 1000 % 10) << 12;
        Assert.Equal((ushort)bcd, LatchRead(r, 1));
    }

    [Fact]
    public void LsbOnlyAndMsbOnlyAccess()
    {
        var r = new Rig(tscHz: 10_000_000);
        r.Out(0x43, 0x64);                               // counter 1, MSB only, mode 2
        r.Out(0x41, 0x20);                               // count 2000h
        r.Spin(100);
        uint msb = r.In(0x41);
        Assert.InRange(msb, 0x1Fu, 0x20u);              // 2000h minus less than 100 clocks
        r.Out(0x43, 0x54);                               // counter 1, LSB only, mode 2
        r.Out(0x41, 0x80);
        Assert.InRange(r.In(0x41), 1u, 0x80u);
    }

    [Fact]
    public void Port61_RefreshToggles_AndWritableBitsReadBack()
    {
        var r = new Rig(tscHz: 10_000_000);
        r.Out(0x61, 0x0F);
        var seen = new HashSet<uint>();
        for (int i = 0; i < 40; i++) { r.Spin(37); seen.Add(r.In(0x61) & 0x10); Assert.Equal(0x0Fu, r.In(0x61) & 0x0F); }
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public void GarbageProgramming_NeverThrows()
    {
        var r = new Rig(tscHz: 10_000_000);
        var rng = new Random(12);
        ushort[] ports = [0x40, 0x41, 0x42, 0x43, 0x61, 0x70, 0x71, 0x600, 0x602, 0x604, 0x608, 0x4D0, 0x4D1, 0x20, 0x21, 0xA0, 0xA1];
        for (int i = 0; i < 20000; i++)
        {
            ushort p = ports[rng.Next(ports.Length)];
            int size = rng.Next(3) switch { 0 => 1, 1 => 2, _ => 4 };
            uint v = (uint)rng.Next() ^ (uint)rng.Next() << 16;
            if (rng.Next(2) == 0) r.Out(p, v, size); else _ = r.In(p, size);
            if (i % 500 == 0)
                Assert.Contains(r.M.Run(new RunLimits { MaxCycles = 1000 }).Reason, new[] { StopReason.CycleLimit, StopReason.PowerOff });
        }
    }

    // ------------------------------------------------------------------ RTC

    private static byte Cmos(Rig r, int index) { r.Out(0x70, (uint)index); return (byte)r.In(0x71); }
    private static void SetCmos(Rig r, int index, byte v) { r.Out(0x70, (uint)index); r.Out(0x71, v); }
    private static byte Bcd(int v) => (byte)((v / 10) << 4 | v % 10);

    [Fact]
    public void Rtc_StartsAtTheHostBase_AndAdvancesWithTheCycleClock()
    {
        // One cycle = 10 ms of TSC time, so a day of guest time passes in a few million instructions.
        var r = new Rig(tscHz: 1_000_000_000, tscPerCycle: 10_000_000);
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(0x00, Cmos(r, 0));
        Assert.Equal(0x01, Cmos(r, 7));
        Assert.Equal(0x01, Cmos(r, 8));
        Assert.Equal(0x26, Cmos(r, 9));
        Assert.Equal(0x20, Cmos(r, 0x32));
        Assert.Equal((int)start.DayOfWeek + 1, Cmos(r, 6));
        Assert.Equal(0x26, Cmos(r, 0x0A));               // divider 010, rate 6
        Assert.Equal(0x02, Cmos(r, 0x0B));               // 24-hour, BCD
        Assert.Equal(0x80, Cmos(r, 0x0D));
        r.Spin(9_006_150);                               // a day, an hour, a minute and a bit
        var now = start.AddSeconds(r.Ticks(CmosRtc.TimeBaseHz) / CmosRtc.TimeBaseHz);
        Assert.Equal(Bcd(now.Second), Cmos(r, 0));
        Assert.Equal(Bcd(now.Minute), Cmos(r, 2));
        Assert.Equal(Bcd(now.Hour), Cmos(r, 4));
        Assert.Equal(Bcd(now.Day), Cmos(r, 7));
        Assert.Equal((int)now.DayOfWeek + 1, Cmos(r, 6));
        SetCmos(r, 0x0B, 0x04);                          // binary, 12-hour
        Assert.Equal(now.Minute, Cmos(r, 2));
        int h12 = now.Hour % 12 == 0 ? 12 : now.Hour % 12;
        Assert.Equal(h12 | (now.Hour >= 12 ? 0x80 : 0), Cmos(r, 4));
    }

    [Fact]
    public void Rtc_SetBitStopsUpdates_WrittenTimeResumes()
    {
        var r = new Rig(tscHz: 1_000_000_000, tscPerCycle: 1_000_000);
        SetCmos(r, 0x0B, 0x82 | 0x04);                   // SET, 24h, binary
        SetCmos(r, 4, 23); SetCmos(r, 2, 59); SetCmos(r, 0, 58);
        SetCmos(r, 7, 28); SetCmos(r, 8, 2); SetCmos(r, 9, 27);
        r.Spin(5000);
        Assert.Equal(58, Cmos(r, 0));                    // stopped
        SetCmos(r, 0x0B, 0x06);
        ulong s0 = r.Ticks(CmosRtc.TimeBaseHz) / CmosRtc.TimeBaseHz;
        r.Spin(3000);
        ulong n = r.Ticks(CmosRtc.TimeBaseHz) / CmosRtc.TimeBaseHz - s0;
        var expect = new DateTime(2027, 2, 28, 23, 59, 58).AddSeconds(n);
        Assert.Equal(expect.Second, Cmos(r, 0));
        Assert.Equal(expect.Day, Cmos(r, 7));
        Assert.Equal(expect.Month, Cmos(r, 8));           // 2027 is not a leap year: March 1st
    }

    [Fact]
    public void Rtc_PeriodicUpdateAndAlarmFlags_RaiseIrq8()
    {
        var r = new Rig(tscHz: 1_000_000_000, tscPerCycle: 1_000_000);
        Assert.Equal(0, Cmos(r, 0x0C));                  // nothing yet
        r.Spin(10);                                      // 10 ms at 1024 Hz: periodic boundaries passed
        Assert.Equal(0x40, Cmos(r, 0x0C));               // PF only (PIE off: no IRQF)
        Assert.Equal(0, Cmos(r, 0x0C));                  // read clears
        SetCmos(r, 0x0B, 0x02 | 0x20);                   // AIE
        SetCmos(r, 1, 0x03); SetCmos(r, 3, 0xC0); SetCmos(r, 5, 0xFF); // alarm at second 3 of any minute/hour
        r.M.Pic.Write(0xA1, 1, 0xFE);                    // unmask IRQ 8 at the slave (to see its request)
        r.Spin(2500);
        Assert.Equal(0, r.M.Pic.Slave.Irr & 1);          // 00:00:02: no alarm yet
        r.Spin(1000);
        Assert.Equal(1, r.M.Pic.Slave.Irr & 1);          // 00:00:03: IRQ 8 edge
        byte c = Cmos(r, 0x0C);
        Assert.Equal(0xF0, c & 0xF0);                    // IRQF, PF, AF, UF
    }

    [Fact]
    public void Cmos_MemorySizeBytesAndNmiBit()
    {
        var r = new Rig(memoryMiB: 4096 + 1024);         // 3 GiB below the hole, 2 GiB above 4 GiB
        Assert.Equal(640, Cmos(r, 0x15) | Cmos(r, 0x16) << 8);
        Assert.Equal(0xFFFF, Cmos(r, 0x17) | Cmos(r, 0x18) << 8);
        Assert.Equal(0xFFFF, Cmos(r, 0x30) | Cmos(r, 0x31) << 8);
        Assert.Equal((3072 - 16) * 16, Cmos(r, 0x34) | Cmos(r, 0x35) << 8); // 64-KiB units from 16 MiB to the hole
        Assert.Equal((2UL << 30) >> 16, (ulong)(Cmos(r, 0x5B) | Cmos(r, 0x5C) << 8 | Cmos(r, 0x5D) << 16));
        r.Out(0x70, 0x80 | 0x0A);
        Assert.True(r.M.Platform!.Rtc.NmiDisabled);
        Assert.Equal(0x26u, r.In(0x71));
        SetCmos(r, 0x40, 0x5A);
        Assert.Equal(0x5A, Cmos(r, 0x40));
        Assert.False(r.M.Platform.Rtc.NmiDisabled);
    }

    // ------------------------------------------------------------------ ACPI PM timer and fixed registers

    [Fact]
    public void PmTimer_Counts3579545HzFromTheCycleClock()
    {
        var r = new Rig(tscHz: 3_000_000_000);
        for (int i = 0; i < 5; i++)
        {
            r.Spin(12_345);
            Assert.Equal((uint)r.Ticks(AcpiPm.TimerHz), r.In(0x608, 4));
        }
        Assert.Equal(1u, r.In(0x604, 2) & 1);            // SCI_EN: always in ACPI mode
    }

    [Fact]
    public void Pm1Status_TimerCarryIsWriteOneToClear_AndRaisesSciWhenEnabled()
    {
        var r = new Rig(tscHz: 1_000_000_000, tscPerCycle: 1_000_000); // 1 ms per cycle: bit 31 flips after 600 s
        r.Out(0x602, 1, 2);                              // TMR_EN
        r.M.Pic.Write(0xA1, 1, 0xFD);                    // unmask IRQ 9 at the slave
        r.Spin(700_000);
        Assert.Equal(1u, r.In(0x600, 2) & 1);            // TMR_STS
        Assert.Equal(1 << 1, r.M.Pic.Slave.Irr & 2);     // SCI asserted (level)
        r.Out(0x600, 1, 2);
        Assert.Equal(0u, r.In(0x600, 2) & 1);
        Assert.Equal(0, r.M.Pic.Slave.Irr & 2);          // released
    }
}
