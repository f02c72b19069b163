using System.Buffers.Binary;
using System.Text;
using Vtx.Devices;
using Vtx.Memory;

namespace Vtx.Firmware;

/// <summary>Where <see cref="PcFirmware.Install"/> put the firmware tables.</summary>
/// <param name="Rsdp">The ACPI RSDP (revision 2).</param>
/// <param name="Rsdt">The RSDT.</param>
/// <param name="Xsdt">The XSDT.</param>
/// <param name="Fadt">The FADT (signature FACP).</param>
/// <param name="Facs">The FACS.</param>
/// <param name="Dsdt">The DSDT.</param>
/// <param name="Madt">The MADT (signature APIC).</param>
/// <param name="MpFloatingPointer">The MP floating pointer structure.</param>
/// <param name="MpConfigTable">The MP configuration table.</param>
public readonly record struct FirmwareTables(ulong Rsdp, ulong Rsdt, ulong Xsdt, ulong Fadt, ulong Facs, ulong Dsdt, ulong Madt,
                                             ulong MpFloatingPointer, ulong MpConfigTable);

/// <summary>
/// The firmware tables of the PC platform, written into the BIOS area of RAM as a PC BIOS leaves
/// them: ACPI (ACPI 6.5, chapter 5: RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT) at E0000h and the Intel
/// MultiProcessor Specification 1.4 tables (floating pointer and configuration table) at F0000h. The
/// e820/multiboot map reports A0000h-FFFFFh reserved, so kernels leave them alone.
/// </summary>
/// <remarks>
/// <para>
/// MADT: local APIC address FEE0_0000h with PCAT_COMPAT (a dual 8259 is present); one enabled local
/// APIC per processor (processor UID and APIC ID i); the I/O APIC (ID = the processor count, so it
/// does not collide with an APIC ID, at FEC0_0000h, GSI base 0); interrupt source overrides ISA IRQ 0
/// → GSI 2 (bus conforming) and IRQ 9 → GSI 9 level, active high (the SCI); a local APIC NMI on
/// LINT1 for every processor (UID FFh).
/// </para>
/// <para>
/// FADT (revision 6.5, 276 bytes): not hardware-reduced; SCI on IRQ 9; no SMI command port (the
/// platform is always in ACPI mode); PM1a event block 600h (4 bytes), PM1a control 604h (2), PM
/// timer 608h (4, 32-bit: TMR_VAL_EXT); no GPE blocks; C2/C3 not offered (latencies above the
/// limits); century in CMOS byte 32h; IAPC_BOOT_ARCH: legacy devices, no 8042, no VGA; flags
/// WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON (no fixed buttons), TMR_VAL_EXT, RESET_REG_SUP; reset
/// register: I/O port CF9h, value 06h. The FACS is given by X_FIRMWARE_CTRL only (FIRMWARE_CTRL 0,
/// as the specification requires); the DSDT by both DSDT and X_DSDT (equal). DSDT: the AML of <c>Name (_S5, Package () { 5, 5, 0, 0 })</c>, the S5 sleep type
/// <see cref="AcpiPm"/> powers off on. Every table's checksum makes its bytes sum to 0 mod 256.
/// </para>
/// <para>
/// MP tables: a floating pointer (spec revision 1.4, no default configuration, IMCR absent: virtual
/// wire mode) pointing at a configuration table with one processor entry per CPU (the first is the
/// BSP), an ISA bus, the I/O APIC, I/O interrupt entries (ExtINT on pin 0, IRQ 0 on pin 2, IRQs 1 and
/// 3-15 on their own pins, IRQ 9 level/high) and local interrupt entries (ExtINT on LINT0, NMI on LINT1).
/// </para>
/// </remarks>
public static class PcFirmware
{
    /// <summary>Where the ACPI tables start (the RSDP first): E0000h, inside the area Linux scans.</summary>
    public const ulong AcpiBase = 0xE0000;
    /// <summary>Where the MP floating pointer is: F0000h, inside the BIOS ROM area the MP specification names.</summary>
    public const ulong MpBase = 0xF0000;
    /// <summary>The OEM ID written in every table.</summary>
    public const string OemId = "VTX   ";

    /// <summary>Writes the ACPI and MP tables for <paramref name="cpus"/> processors into <paramref name="memory"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cpus"/> is not 1-64, or RAM does not reach 1 MiB.</exception>
    public static FirmwareTables Install(PhysicalMemory memory, int cpus, CpuModel model)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(model);
        if (cpus is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(cpus), cpus, "between 1 and 64 processors");
        if (!memory.IsRam(AcpiBase, 0x20000)) throw new ArgumentOutOfRangeException(nameof(memory), "the firmware tables need RAM up to 1 MiB");

        ulong rsdp = AcpiBase, xsdt = AcpiBase + 0x40, rsdt = AcpiBase + 0x80, facs = AcpiBase + 0xC0;
        ulong fadt = AcpiBase + 0x100, dsdt = AcpiBase + 0x280, madt = AcpiBase + 0x300;

        byte[] dsdtTable = Table("DSDT", 2, [0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00]);
        byte[] madtTable = Table("APIC", 5, MadtBody(cpus));
        byte[] fadtTable = Table("FACP", 6, FadtBody(facs, dsdt));
        fadtTable[131 - 0] = 5; // FADT minor version (6.5)
        Checksum(fadtTable, 9, 0, fadtTable.Length);
        var facsTable = new byte[64];
        Encoding.ASCII.GetBytes("FACS", facsTable);
        W32(facsTable, 4, 64);
        facsTable[32] = 2; // version

        var x = new byte[16];
        W64(x, 0, fadt); W64(x, 8, madt);
        byte[] xsdtTable = Table("XSDT", 1, x);
        var r = new byte[8];
        W32(r, 0, (uint)fadt); W32(r, 4, (uint)madt);
        byte[] rsdtTable = Table("RSDT", 1, r);

        var rsdpBytes = new byte[36];
        Encoding.ASCII.GetBytes("RSD PTR ", rsdpBytes);
        Encoding.ASCII.GetBytes(OemId, rsdpBytes.AsSpan(9));
        rsdpBytes[15] = 2;
        W32(rsdpBytes, 16, (uint)rsdt);
        W32(rsdpBytes, 20, 36);
        W64(rsdpBytes, 24, xsdt);
        Checksum(rsdpBytes, 8, 0, 20);
        Checksum(rsdpBytes, 32, 0, 36);

        memory.Write(rsdp, rsdpBytes);
        memory.Write(xsdt, xsdtTable);
        memory.Write(rsdt, rsdtTable);
        memory.Write(facs, facsTable);
        memory.Write(fadt, fadtTable);
        memory.Write(dsdt, dsdtTable);
        memory.Write(madt, madtTable);

        ulong mpf = MpBase, mpc = MpBase + 0x10;
        byte[] config = MpConfig(cpus, model);
        var fp = new byte[16];
        Encoding.ASCII.GetBytes("_MP_", fp);
        W32(fp, 4, (uint)mpc);
        fp[8] = 1;   // length in 16-byte units
        fp[9] = 4;   // specification revision 1.4
        Checksum(fp, 10, 0, 16);
        memory.Write(mpf, fp);
        memory.Write(mpc, config);
        return new FirmwareTables(rsdp, rsdt, xsdt, fadt, facs, dsdt, madt, mpf, mpc);
    }

    private static byte[] Table(string signature, byte revision, ReadOnlySpan<byte> body)
    {
        var t = new byte[36 + body.Length];
        Encoding.ASCII.GetBytes(signature, t);
        W32(t, 4, (uint)t.Length);
        t[8] = revision;
        Encoding.ASCII.GetBytes(OemId, t.AsSpan(10));
        Encoding.ASCII.GetBytes("VTXPC   ", t.AsSpan(16));
        W32(t, 24, 1);
        Encoding.ASCII.GetBytes("VTX ", t.AsSpan(28));
        W32(t, 32, 1);
        body.CopyTo(t.AsSpan(36));
        Checksum(t, 9, 0, t.Length);
        return t;
    }

    private static byte[] MadtBody(int cpus)
    {
        var b = new List<byte>();
        void U8(int v) => b.Add((byte)v);
        void U16(int v) { U8(v); U8(v >> 8); }
        void U32(uint v) { U16((int)(v & 0xFFFF)); U16((int)(v >> 16)); }
        U32(0xFEE0_0000);
        U32(1); // PCAT_COMPAT
        for (int i = 0; i < cpus; i++) { U8(0); U8(8); U8(i); U8(i); U32(1); }         // processor local APIC, enabled
        U8(1); U8(12); U8(cpus); U8(0); U32((uint)IoApic.DefaultBase); U32(0);          // I/O APIC
        U8(2); U8(10); U8(0); U8(0); U32(2); U16(0);                                    // IRQ 0 -> GSI 2, conforming
        U8(2); U8(10); U8(0); U8(9); U32(9); U16(0x000D);                               // IRQ 9 -> GSI 9, level, active high
        U8(4); U8(6); U8(0xFF); U16(0); U8(1);                                          // local APIC NMI on LINT1, all processors
        return b.ToArray();
    }

    private static byte[] FadtBody(ulong facs, ulong dsdt)
    {
        var f = new byte[276 - 36];
        void P32(int off, uint v) => W32(f, off - 36, v);
        void P16(int off, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(off - 36), v);
        void P8(int off, byte v) => f[off - 36] = v;
        void Gas(int off, byte space, byte bits, byte access, ulong address)
        {
            P8(off, space); P8(off + 1, bits); P8(off + 2, 0); P8(off + 3, access);
            W64(f, off + 4 - 36, address);
        }
        P32(36, 0);                    // FIRMWARE_CTRL must be 0 when X_FIRMWARE_CTRL is given (ACPI 6.5, Table 5.9)
        P32(40, (uint)dsdt);
        P16(46, AcpiPm.SciIrq);
        P32(56, AcpiPm.Pm1aEventPort);
        P32(64, AcpiPm.Pm1aControlPort);
        P32(76, AcpiPm.PmTimerPort);
        P8(88, 4); P8(89, 2); P8(91, 4);
        P16(96, 101); P16(98, 1001);   // C2, C3 not supported
        P8(108, 0x32);                 // CENTURY CMOS index
        P16(109, 0b101);               // LEGACY_DEVICES, VGA not present (no 8042)
        P32(112, 1u << 0 | 1u << 2 | 1u << 4 | 1u << 5 | 1u << 8 | 1u << 10);
        Gas(116, 1, 8, 1, AcpiPm.ResetPort);
        P8(128, AcpiPm.ResetValue);
        W64(f, 132 - 36, facs);
        W64(f, 140 - 36, dsdt);
        Gas(148, 1, 32, 2, AcpiPm.Pm1aEventPort);
        Gas(172, 1, 16, 2, AcpiPm.Pm1aControlPort);
        Gas(208, 1, 32, 3, AcpiPm.PmTimerPort);
        return f;
    }

    private static byte[] MpConfig(int cpus, CpuModel model)
    {
        var b = new List<byte>();
        void U8(int v) => b.Add((byte)v);
        void U16(int v) { U8(v); U8(v >> 8); }
        void U32(uint v) { U16((int)(v & 0xFFFF)); U16((int)(v >> 16)); }
        void Str(string s, int n) { foreach (char c in s.PadRight(n)[..n]) U8(c); }
        Str("PCMP", 4); U16(0); U8(4); U8(0);
        Str("VTX", 8); Str("VTXPC", 12);
        U32(0); U16(0); U16(0); U32(0xFEE0_0000); U16(0); U8(0); U8(0);
        int count = 0;
        var id = model.Cpuid(1, 0);
        for (int i = 0; i < cpus; i++)
        {
            U8(0); U8(i); U8(0x14); U8(1 | (i == 0 ? 2 : 0)); U32(id.Eax & 0xFFF); U32(id.Edx); U32(0); U32(0);
            count++;
        }
        U8(1); U8(0); Str("ISA", 6); count++;
        byte ioapicId = (byte)cpus;
        U8(2); U8(ioapicId); U8(IoApic.Version); U8(1); U32((uint)IoApic.DefaultBase); count++;
        void Io(int type, int flags, int irq, int pin) { U8(3); U8(type); U16(flags); U8(0); U8(irq); U8(ioapicId); U8(pin); count++; }
        Io(3, 0, 0, 0);                              // ExtINT from the 8259 on pin 0
        Io(0, 0, 0, 2);                              // IRQ 0 (PIT) on pin 2
        Io(0, 0, 1, 1);
        for (int irq = 3; irq < 16; irq++) Io(0, irq == 9 ? 0x0D : 0, irq, irq);
        U8(4); U8(3); U16(0); U8(0); U8(0); U8(0xFF); U8(0); count++;  // ExtINT on LINT0
        U8(4); U8(1); U16(0); U8(0); U8(0); U8(0xFF); U8(1); count++;  // NMI on LINT1
        var t = b.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(t.AsSpan(4), (ushort)t.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(t.AsSpan(34), (ushort)count);
        Checksum(t, 7, 0, t.Length);
        return t;
    }

    private static void Checksum(byte[] t, int at, int start, int end)
    {
        t[at] = 0;
        byte sum = 0;
        for (int i = start; i < end; i++) sum += t[i];
        t[at] = (byte)(0 - sum);
    }

    private static void W32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    private static void W64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);
}
