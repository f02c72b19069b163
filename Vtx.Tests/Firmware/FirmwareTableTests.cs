using System.Buffers.Binary;
using System.Text;
using Xunit;

namespace Vtx.Tests.Firmware;

/// <summary>
/// The PC platform's ACPI (ACPI 6.5, chapter 5) and MP (Intel MP specification 1.4, chapter 4)
/// tables, found and parsed back the way a kernel finds them — by scanning the BIOS area for the
/// signatures — with a parser written here, then used: the guest powers off through the FADT's
/// PM1a control block with the DSDT's \_S5 value.
/// </summary>
public class FirmwareTableTests
{
    private static Machine Pc(int memoryMiB = 64) => new(new MachineOptions { MemoryMiB = memoryMiB, Platform = MachinePlatform.Pc });

    private static byte Sum(ReadOnlySpan<byte> b) { byte s = 0; foreach (var x in b) s += x; return s; }
    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));
    private static string Sig(byte[] b, int at, int n) => Encoding.ASCII.GetString(b, at, n);

    /// <summary>Scans E0000h-FFFFFh on 16-byte boundaries for a valid RSDP (as Linux's acpi_find_root_pointer does).</summary>
    private static ulong FindRsdp(Machine m)
    {
        var area = m.ReadMemory(0xE0000, 0x20000);
        for (int i = 0; i + 36 <= area.Length; i += 16)
            if (Sig(area, i, 8) == "RSD PTR " && Sum(area.AsSpan(i, 20)) == 0) return 0xE0000 + (ulong)i;
        throw new Xunit.Sdk.XunitException("no RSDP");
    }

    /// <summary>Reads a system description table: checks its length bounds and checksum.</summary>
    private static byte[] Table(Machine m, ulong at, string signature)
    {
        var head = m.ReadMemory(at, 36);
        Assert.Equal(signature, Sig(head, 0, 4));
        uint len = U32(head, 4);
        Assert.InRange(len, 36u, 0x10000u);
        var t = m.ReadMemory(at, (int)len);
        Assert.Equal(0, Sum(t));
        return t;
    }

    [Theory]
    [InlineData(64)]
    [InlineData(5120)]
    public void AcpiTables_ParseBack_WithValidChecksumsAndTheModelledHardware(int memoryMiB)
    {
        var m = Pc(memoryMiB);
        ulong rsdpAt = FindRsdp(m);
        Assert.Equal(m.Firmware!.Value.Rsdp, rsdpAt);
        var rsdp = m.ReadMemory(rsdpAt, 36);
        Assert.Equal(2, rsdp[15]);                                    // revision 2: XSDT present
        Assert.Equal(36u, U32(rsdp, 20));
        Assert.Equal(0, Sum(rsdp));                                   // extended checksum over all 36 bytes

        var xsdt = Table(m, U64(rsdp, 24), "XSDT");
        var rsdt = Table(m, U32(rsdp, 16), "RSDT");
        int n = (xsdt.Length - 36) / 8;
        Assert.Equal(n, (rsdt.Length - 36) / 4);
        var bySig = new Dictionary<string, ulong>();
        for (int i = 0; i < n; i++)
        {
            ulong a = U64(xsdt, 36 + 8 * i);
            Assert.Equal(a, U32(rsdt, 36 + 4 * i));                    // both lists name the same tables
            bySig[Sig(m.ReadMemory(a, 4), 0, 4)] = a;
        }
        Assert.Equal(new[] { "APIC", "FACP" }, bySig.Keys.Order());

        // FADT (ACPI 6.5, Table 5.9).
        var fadt = Table(m, bySig["FACP"], "FACP");
        Assert.Equal(276, fadt.Length);
        Assert.Equal(6, fadt[8]);
        Assert.Equal(9, U16(fadt, 46));                                // SCI_INT
        Assert.Equal(0u, U32(fadt, 48));                               // no SMI_CMD: always in ACPI mode
        Assert.Equal(0x600u, U32(fadt, 56));
        Assert.Equal(0x604u, U32(fadt, 64));
        Assert.Equal(0x608u, U32(fadt, 76));
        Assert.Equal((4, 2, 4), (fadt[88], fadt[89], fadt[91]));
        uint flags = U32(fadt, 112);
        Assert.Equal(0u, flags & (1u << 20));                          // not HW_REDUCED_ACPI
        Assert.NotEqual(0u, flags & (1u << 8));                        // TMR_VAL_EXT: 32-bit PM timer
        Assert.NotEqual(0u, flags & (1u << 10));                       // RESET_REG_SUP
        Assert.Equal((byte)1, fadt[116]);                              // RESET_REG: system I/O
        Assert.Equal(0xCF9UL, U64(fadt, 120));
        Assert.Equal(6, fadt[128]);
        Assert.Equal(0x600UL, U64(fadt, 152));                         // X_PM1a_EVT_BLK address
        Assert.Equal(0x604UL, U64(fadt, 176));                         // X_PM1a_CNT_BLK
        Assert.Equal(0x608UL, U64(fadt, 212));                         // X_PM_TMR_BLK
        ulong dsdtAt = U64(fadt, 140);
        Assert.Equal(dsdtAt, U32(fadt, 40));
        Assert.Equal(0u, U32(fadt, 36));                               // FIRMWARE_CTRL 0: X_FIRMWARE_CTRL gives the FACS
        var facs = m.ReadMemory(U64(fadt, 132), 64);
        Assert.Equal("FACS", Sig(facs, 0, 4));
        Assert.Equal(64u, U32(facs, 4));
        Assert.Equal(0UL, U64(fadt, 132) & 63);                        // 64-byte aligned

        // DSDT: the \_S5 package's first element is SLP_TYPa.
        var dsdt = Table(m, dsdtAt, "DSDT");
        int s5 = dsdt.AsSpan(36).IndexOf("_S5_"u8) + 36;
        Assert.True(s5 > 36);
        Assert.Equal(0x08, dsdt[s5 - 1]);                              // NameOp
        Assert.Equal(0x12, dsdt[s5 + 4]);                              // PackageOp
        int pkgEnd = s5 + 5 + dsdt[s5 + 5];                            // one-byte PkgLength
        Assert.Equal(dsdt.Length, pkgEnd);
        Assert.Equal(4, dsdt[s5 + 6]);                                 // NumElements
        Assert.Equal(0x0A, dsdt[s5 + 7]);                              // BytePrefix
        Assert.Equal(5, dsdt[s5 + 8]);

        // MADT (ACPI 6.5, 5.2.12).
        var madt = Table(m, bySig["APIC"], "APIC");
        Assert.Equal(0xFEE0_0000u, U32(madt, 36));
        Assert.Equal(1u, U32(madt, 40) & 1);                           // PCAT_COMPAT
        var lapics = new List<(int Uid, int Id, uint Flags)>();
        var ioapics = new List<(int Id, uint Addr, uint GsiBase)>();
        var overrides = new List<(int Irq, uint Gsi, int Flags)>();
        var nmis = new List<(int Uid, int Lint)>();
        for (int i = 44; i < madt.Length;)
        {
            int type = madt[i], len = madt[i + 1];
            Assert.True(len >= 2 && i + len <= madt.Length);
            switch (type)
            {
                case 0: Assert.Equal(8, len); lapics.Add((madt[i + 2], madt[i + 3], U32(madt, i + 4))); break;
                case 1: Assert.Equal(12, len); ioapics.Add((madt[i + 2], U32(madt, i + 4), U32(madt, i + 8))); break;
                case 2: Assert.Equal(10, len); Assert.Equal(0, madt[i + 2]); overrides.Add((madt[i + 3], U32(madt, i + 4), U16(madt, i + 8))); break;
                case 4: Assert.Equal(6, len); nmis.Add((madt[i + 2], madt[i + 5])); break;
                default: Assert.Fail($"unexpected MADT entry type {type}"); break;
            }
            i += len;
        }
        Assert.Equal(new[] { (0, 0, 1u) }, lapics);
        var io = Assert.Single(ioapics);
        Assert.Equal(0xFEC0_0000u, io.Addr);
        Assert.Equal(0u, io.GsiBase);
        Assert.NotEqual(0, io.Id);                                     // not the BSP's APIC ID
        Assert.Equal(m.Platform!.IoApic.Id, io.Id);
        Assert.Contains((0, 2u, 0), overrides);
        Assert.Contains((9, 9u, 0b1101), overrides);                   // level (11b), active high (01b)
        Assert.Equal(new[] { (0xFF, 1) }, nmis);
    }

    [Fact]
    public void MpTables_ParseBack()
    {
        var m = Pc();
        var area = m.ReadMemory(0xF0000, 0x10000);
        int fp = -1;
        for (int i = 0; i + 16 <= area.Length; i += 16)
            if (Sig(area, i, 4) == "_MP_" && Sum(area.AsSpan(i, 16)) == 0) { fp = i; break; }
        Assert.True(fp >= 0);
        Assert.Equal(1, area[fp + 8]);
        Assert.Equal(4, area[fp + 9]);
        Assert.Equal(0, area[fp + 11]);                                // feature byte 1: a configuration table follows
        ulong cfgAt = U32(area, fp + 4);
        var head = m.ReadMemory(cfgAt, 44);
        Assert.Equal("PCMP", Sig(head, 0, 4));
        int len = U16(head, 4);
        var cfg = m.ReadMemory(cfgAt, len);
        Assert.Equal(0, Sum(cfg));
        Assert.Equal(0xFEE0_0000u, U32(cfg, 36));
        int count = U16(cfg, 34), cpus = 0, ioapicId = -1;
        var ints = new List<(int Type, int Flags, int Irq, int Pin)>();
        var locals = new List<(int Type, int Lint)>();
        int at = 44;
        for (int e = 0; e < count; e++)
        {
            switch (cfg[at])
            {
                case 0: cpus++; Assert.Equal(3, cfg[at + 3] & 3); at += 20; break;   // enabled BSP
                case 1: Assert.Equal("ISA   ", Sig(cfg, at + 2, 6)); at += 8; break;
                case 2: ioapicId = cfg[at + 1]; Assert.Equal(0xFEC0_0000u, U32(cfg, at + 4)); at += 8; break;
                case 3: Assert.Equal(ioapicId, cfg[at + 6]); ints.Add((cfg[at + 1], U16(cfg, at + 2), cfg[at + 5], cfg[at + 7])); at += 8; break;
                case 4: locals.Add((cfg[at + 1], cfg[at + 7])); at += 8; break;
                default: Assert.Fail($"entry type {cfg[at]}"); break;
            }
        }
        Assert.Equal(len, at);
        Assert.Equal(1, cpus);
        Assert.Equal(m.Platform!.IoApic.Id, ioapicId);
        Assert.Contains((3, 0, 0, 0), ints);                           // ExtINT on pin 0
        Assert.Contains((0, 0, 0, 2), ints);                           // IRQ 0 on pin 2
        Assert.Contains((0, 0x0D, 9, 9), ints);
        Assert.DoesNotContain(ints, i => i.Type == 0 && i.Irq == 2);
        Assert.Equal(new[] { (3, 0), (1, 1) }, locals);
    }

    [Fact]
    public void GuestPowersOff_WithTheValuesTheTablesGive()
    {
        var m = Pc();
        ulong rsdp = FindRsdp(m);
        var x = Table(m, U64(m.ReadMemory(rsdp, 36), 24), "XSDT");
        byte[]? fadt = null;
        for (int i = 36; i < x.Length; i += 8)
        {
            ulong a = U64(x, i);
            if (Sig(m.ReadMemory(a, 4), 0, 4) == "FACP") fadt = Table(m, a, "FACP");
        }
        Assert.NotNull(fadt);
        var dsdt = Table(m, U64(fadt, 140), "DSDT");
        int s5 = dsdt.AsSpan().IndexOf("_S5_"u8);
        int slpTyp = dsdt[s5 + 8];
        ushort pm1aCnt = (ushort)U32(fadt, 64);
        // mov dx, pm1aCnt; mov ax, SLP_TYP << 10 | SLP_EN; out dx, ax; hlt
        ushort v = (ushort)(slpTyp << 10 | 1 << 13);
        m.WriteMemory(0x1000, [0x66, 0xBA, (byte)pm1aCnt, (byte)(pm1aCnt >> 8), 0x66, 0xB8, (byte)v, (byte)(v >> 8), 0x66, 0xEF, 0xF4]);
        m.Cpu.Rip = 0x1000;
        var r = m.Run(RunLimits.Instructions(10));
        Assert.Equal(StopReason.PowerOff, r.Reason);
        Assert.Equal(0x100AUL, r.Rip);
    }

    [Fact]
    public void MinimalMachine_HasNoTables_AndTheSameCpuid()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 4 });
        Assert.Null(m.Firmware);
        Assert.Null(m.Platform);
        Assert.All(m.ReadMemory(0xE0000, 0x20000), b => Assert.Equal(0, b));
        Assert.True(m.Cpu.Model.Cpuid(0, 0).Eax < 0x15);
    }

    [Theory]
    [InlineData(2_000_000_000UL)]
    [InlineData(2_900_000_000UL)]
    [InlineData(1_234_567_000UL)]
    public void Cpuid15hAnd16h_GiveTheTscFrequency(ulong hz)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 4, Platform = MachinePlatform.Pc, CpuModel = new CpuModel { TscFrequencyHz = hz } });
        // cpuid for leaf 0, 15h and 16h, results stored at 0x2000.
        m.WriteMemory(0x1000, [
            0x31, 0xC0, 0x0F, 0xA2, 0x89, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00,                         // xor eax,eax; cpuid; mov [0x2000], eax
            0xB8, 0x15, 0, 0, 0, 0x0F, 0xA2,                                                      // mov eax,15h; cpuid
            0x89, 0x04, 0x25, 0x04, 0x20, 0, 0, 0x89, 0x1C, 0x25, 0x08, 0x20, 0, 0, 0x89, 0x0C, 0x25, 0x0C, 0x20, 0, 0,
            0xB8, 0x16, 0, 0, 0, 0x0F, 0xA2,                                                      // mov eax,16h; cpuid
            0x89, 0x04, 0x25, 0x10, 0x20, 0, 0, 0x89, 0x1C, 0x25, 0x14, 0x20, 0, 0, 0x89, 0x0C, 0x25, 0x18, 0x20, 0, 0,
            0xF4]);
        m.Cpu.Rip = 0x1000;
        Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(100)).Reason);
        var b = m.ReadMemory(0x2000, 0x1C);
        Assert.True(U32(b, 0) >= 0x16);
        uint den = U32(b, 4), num = U32(b, 8), crystal = U32(b, 12);
        Assert.NotEqual(0u, den);
        Assert.Equal(hz, (ulong)crystal * num / den);                  // SDM: TSC = crystal × EBX / EAX
        Assert.Equal((uint)(hz / 1_000_000), U32(b, 16));              // base MHz
        Assert.Equal(100u, U32(b, 24));                                // bus MHz
    }
}
