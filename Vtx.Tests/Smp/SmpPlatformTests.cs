using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using Vtx.Devices;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Smp;

/// <summary>
/// The PC platform with several processors: the ACPI MADT and the MP configuration table describe
/// every processor (read back by a parser written here from ACPI 6.5 5.2.5-5.2.12 and MP spec 1.4
/// chapter 4), the I/O APIC delivers to the processor its redirection entry names, a device's stop
/// request ends the run on the processor that made it, and the PIT's interrupts reach processor 1.
/// </summary>
public class SmpPlatformTests
{
    private static byte Sum(ReadOnlySpan<byte> b) { byte s = 0; foreach (byte x in b) s += x; return s; }

    private sealed record MadtLapic(byte Uid, byte ApicId, uint Flags);

    /// <summary>An independent MADT reader: RSDP → XSDT → "APIC"; checks every checksum and length on the way.</summary>
    private static (List<MadtLapic> Lapics, List<byte> IoApicIds, uint LocalApicAddress) ParseMadt(Machine m)
    {
        // RSDP: found by scanning E0000h-FFFFFh on 16-byte boundaries (ACPI 6.5, 5.2.5.1).
        ulong rsdp = 0;
        for (ulong a = 0xE0000; a < 0x100000; a += 16)
            if (Encoding.ASCII.GetString(m.ReadMemory(a, 8)) == "RSD PTR ") { rsdp = a; break; }
        Assert.NotEqual(0UL, rsdp);
        var r = m.ReadMemory(rsdp, 36);
        Assert.Equal(0, Sum(r.AsSpan(0, 20)));               // ACPI 1.0 checksum over the first 20 bytes
        Assert.Equal(2, r[15]);                              // revision 2: XSDT present
        Assert.Equal(36u, BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(20)));
        Assert.Equal(0, Sum(r));                             // extended checksum
        ulong xsdt = BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(24));
        var xh = m.ReadMemory(xsdt, 36);
        Assert.Equal("XSDT", Encoding.ASCII.GetString(xh, 0, 4));
        int xlen = (int)BinaryPrimitives.ReadUInt32LittleEndian(xh.AsSpan(4));
        var x = m.ReadMemory(xsdt, xlen);
        Assert.Equal(0, Sum(x));
        Assert.Equal(0, (xlen - 36) % 8);
        for (int off = 36; off < xlen; off += 8)
        {
            ulong t = BinaryPrimitives.ReadUInt64LittleEndian(x.AsSpan(off));
            var th = m.ReadMemory(t, 36);
            if (Encoding.ASCII.GetString(th, 0, 4) != "APIC") continue;
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(th.AsSpan(4));
            var madt = m.ReadMemory(t, len);
            Assert.Equal(0, Sum(madt));
            uint lapicAddr = BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(36));
            var lapics = new List<MadtLapic>();
            var ioapics = new List<byte>();
            int p = 44;
            while (p < len)
            {
                byte type = madt[p], elen = madt[p + 1];
                Assert.True(elen >= 2 && p + elen <= len, $"entry at {p} overruns the table");
                if (type == 0) { Assert.Equal(8, elen); lapics.Add(new MadtLapic(madt[p + 2], madt[p + 3], BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(p + 4)))); }
                if (type == 1) { Assert.Equal(12, elen); ioapics.Add(madt[p + 2]); }
                p += elen;
            }
            Assert.Equal(len, p);
            return (lapics, ioapics, lapicAddr);
        }
        throw new Xunit.Sdk.XunitException("no MADT in the XSDT");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    public void TheMadtHasOneEnabledLocalApicPerProcessor(int cpus)
    {
        var m = new Machine(new MachineOptions { Cpus = cpus, Platform = MachinePlatform.Pc, MemoryMiB = 4 });
        var (lapics, ioapics, addr) = ParseMadt(m);
        Assert.Equal(0xFEE0_0000u, addr);
        Assert.Equal(cpus, lapics.Count);
        for (int i = 0; i < cpus; i++)
        {
            Assert.Equal((byte)i, lapics[i].ApicId);
            Assert.Equal(m.Cpus[i].Apic.Id, lapics[i].ApicId); // what each processor's APIC says
            Assert.Equal(1u, lapics[i].Flags & 1);               // enabled
        }
        Assert.Equal(cpus, lapics.Select(l => l.Uid).Distinct().Count());
        Assert.Single(ioapics);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void TheMpTableHasOneProcessorEntryPerProcessorWithTheBspFirst(int cpus)
    {
        var m = new Machine(new MachineOptions { Cpus = cpus, Platform = MachinePlatform.Pc, MemoryMiB = 4 });
        // MP floating pointer: "_MP_" on a 16-byte boundary in F0000h-FFFFFh, 16 bytes summing to 0.
        ulong fp = 0;
        for (ulong a = 0xF0000; a < 0x100000; a += 16)
            if (Encoding.ASCII.GetString(m.ReadMemory(a, 4)) == "_MP_") { fp = a; break; }
        Assert.NotEqual(0UL, fp);
        var f = m.ReadMemory(fp, 16);
        Assert.Equal(0, Sum(f));
        ulong cfg = BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(4));
        var h = m.ReadMemory(cfg, 44);
        Assert.Equal("PCMP", Encoding.ASCII.GetString(h, 0, 4));
        int len = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(4));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(34));
        var t = m.ReadMemory(cfg, len);
        Assert.Equal(0, Sum(t));
        int p = 44, procs = 0, entries = 0;
        while (p < len)
        {
            byte type = t[p];
            int elen = type == 0 ? 20 : 8; // processor entries are 20 bytes, the others 8 (MP spec 4.3)
            if (type == 0)
            {
                Assert.Equal((byte)procs, t[p + 1]);            // local APIC ID
                Assert.Equal(1, t[p + 3] & 1);                   // enabled
                Assert.Equal(procs == 0 ? 2 : 0, t[p + 3] & 2);  // BSP flag on the first only
                procs++;
            }
            p += elen;
            entries++;
        }
        Assert.Equal(len, p);
        Assert.Equal(count, entries);
        Assert.Equal(cpus, procs);
    }

    private static void IoApicEntry(IoApic io, int pin, ulong e)
    {
        io.Write(0, 4, (uint)(0x11 + 2 * pin)); io.Write(0x10, 4, (uint)(e >> 32));
        io.Write(0, 4, (uint)(0x10 + 2 * pin)); io.Write(0x10, 4, (uint)e);
    }

    private static bool InIrr(Cpu c, int v) => (c.Apic.Read(0x200 + (uint)(v >> 5) * 0x10) & (1u << (v & 31))) != 0;

    [Fact]
    public void TheIoApicDeliversToTheProcessorItsRedirectionEntryNames()
    {
        var m = new Machine(new MachineOptions { Cpus = 3, Platform = MachinePlatform.Pc, MemoryMiB = 4 });
        var io = m.Platform!.IoApic;
        IoApicEntry(io, 5, (1UL << 56) | 0x65);                  // physical APIC 1, fixed, edge
        m.Platform.SetIrq(5, true);
        Assert.Equal(new[] { false, true, false }, m.Cpus.Select(c => InIrr(c, 0x65)).ToArray());
        m.Platform.SetIrq(5, false);
        // Logical flat: processors 1 and 2 set LDR bits 2 and 4; destination 06h names both.
        m.Cpus[1].Apic.Write(0xD0, 2u << 24);
        m.Cpus[2].Apic.Write(0xD0, 4u << 24);
        IoApicEntry(io, 6, (6UL << 56) | (1UL << 11) | 0x66);
        m.Platform.SetIrq(6, true);
        Assert.Equal(new[] { false, true, true }, m.Cpus.Select(c => InIrr(c, 0x66)).ToArray());
        // Lowest priority among 1 and 2: processor 2 has the lower TPR.
        m.Cpus[1].Apic.Tpr = 0x40;
        IoApicEntry(io, 7, (6UL << 56) | (1UL << 11) | (1UL << 8) | 0x67);
        m.Platform.SetIrq(7, true);
        Assert.Equal(new[] { false, false, true }, m.Cpus.Select(c => InIrr(c, 0x67)).ToArray());
        // NMI delivery mode to processor 2 only.
        IoApicEntry(io, 10, (2UL << 56) | (4UL << 8));
        m.Platform.SetIrq(10, true);
        Assert.Equal(new[] { false, false, true }, m.Cpus.Select(c => c.NmiPending).ToArray());
    }

    [Fact]
    public void ThePitInterruptRoutedToProcessor1IsTakenThereAndTheLevelEoiReachesTheIoApic()
    {
        // Processor 1 programs the I/O APIC (pin 2 = IRQ 0 → vector 30h, physical APIC 1) and the PIT
        // (channel 0, mode 2, count 1193 ≈ 1 ms), enables interrupts and halts; its handler counts to 3.
        var rig = new SmpRig(2, 1000, MachinePlatform.Pc);
        const long Ticks = 0x9000;
        Label ap = default, handler = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel(); handler = a.CreateLabel();
            a.cli();
            a.hlt();
            a.Label(ref ap);
            var loop = a.CreateLabel();
            a.mov(rbx, SmpRig.ApicBase);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(rsi, unchecked((long)IoApic.DefaultBase));
            a.mov(__dword_ptr[rsi], 0x15);                  // redirection entry 2, high: APIC 1
            a.mov(__dword_ptr[rsi + 0x10], 1 << 24);
            a.mov(__dword_ptr[rsi], 0x14);                  // low: vector 30h, fixed, edge, unmasked
            a.mov(__dword_ptr[rsi + 0x10], 0x30);
            a.mov(al, 0x34);                                 // PIT channel 0, lobyte/hibyte, mode 2
            a.@out(0x43, al);
            a.mov(al, 1193 & 0xFF);
            a.@out(0x40, al);
            a.mov(al, 1193 >> 8);
            a.@out(0x40, al);
            a.sti();
            a.Label(ref loop);
            a.hlt();
            a.cmp(__qword_ptr[Ticks], 3);
            a.jb(loop);
            a.cli();
            a.hlt();
            a.Label(ref handler);
            a.inc(__qword_ptr[Ticks]);
            a.mov(__dword_ptr[rbx + 0xB0], 0);
            a.iretq();
        });
        rig.Gate(0x30, handler);
        rig.StartHost(1, ap);
        var r = rig.Run(1_000_000);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(3UL, rig.R64(Ticks));
        var ticks = rig.Events.Where(e => e.Vector == 0x30).ToList();
        Assert.Equal(3, ticks.Count);
        Assert.All(ticks, e => Assert.Equal(1, e.Cpu));
        // Successive PIT periods are 1193 ticks of 1.193182 MHz apart on the 2 GHz cycle clock (± one cycle of rounding).
        double period = 1193 * 2e9 / 1_193_182;
        for (int k = 1; k < 3; k++) Assert.InRange(ticks[k].Cycle - ticks[k - 1].Cycle, (ulong)period - 2, (ulong)period + 2);
    }

    [Fact]
    public void ADebugExitWrittenByAnApplicationProcessorStopsTheRunThere()
    {
        var rig = new SmpRig(2, 100);
        Label ap = default, outAt = default;
        rig.Load(a =>
        {
            ap = a.CreateLabel(); outAt = a.CreateLabel();
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);
            a.Label(ref ap);
            a.mov(ecx, 500);
            var d = a.CreateLabel();
            a.Label(ref d);
            a.dec(ecx);
            a.jnz(d);
            a.mov(al, 0x21);
            a.Label(ref outAt);
            a.@out(0xF4, al);
            a.hlt();
        });
        rig.StartHost(1, ap);
        var r = rig.Run(1_000_000);
        Assert.Equal(StopReason.DebugExit, r.Reason);
        Assert.Equal(1, r.CpuIndex);
        Assert.Equal((0x21 << 1) | 1, r.ExitCode);
        Assert.Equal(rig.At(outAt) + 2, r.Rip);
        Assert.Equal(rig[1].Rip, r.Rip);
    }
}
