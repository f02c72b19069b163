using Vtx.Apic;

namespace Vtx.Devices;

/// <summary>
/// The PC platform's interrupt and timer hardware around the processors: the 8259 pair (with ELCR),
/// an I/O APIC, the 8254 PIT, the CMOS RTC and the ACPI PM block, all on one
/// <see cref="PlatformClock"/>, and the wiring between them (Intel MultiProcessor Specification 1.4,
/// 3.6 "Interrupt mode"; ACPI MADT interrupt source overrides).
/// </summary>
/// <remarks>
/// <para>
/// ISA interrupt n (<see cref="SetIrq"/>) drives 8259 line n and I/O APIC pin n, except IRQ 0 (the
/// PIT), which is I/O APIC pin 2 — the ISA override every PC firmware declares (and this platform's
/// MADT and MP table say). Pin 0 of the I/O APIC is the 8259's INT output, for ExtINT entries.
/// </para>
/// <para>
/// The 8259's INT output reaches the processor's INTR pin directly when the local APIC is globally
/// disabled, or through LINT0 when its LVT entry is unmasked with delivery mode ExtINT (the
/// "virtual wire" mode firmware leaves; SDM Vol. 3A, 11.5.1); the INTA cycle then asks the 8259 for
/// the vector. The routing is evaluated when the 8259's output changes. Messages from the I/O APIC
/// go to every processor whose local APIC is a destination (<see cref="Cpus"/>; lowest-priority
/// delivery picks one: with one processor the first destination, with several the one with the
/// lowest processor priority, ties to the lowest APIC ID — deterministic), as
/// <see cref="LocalApic.DeliverMessage"/> says; an ExtINT message asserts INTR from the 8259. A
/// local APIC's EOI of a level-triggered vector is broadcast to the I/O APIC.
/// </para>
/// </remarks>
public sealed class PcPlatform : IInterruptMessageSink
{
    /// <summary>The default nominal TSC frequency when the CPU model gives none: 2 GHz.</summary>
    public const ulong DefaultTscHz = 2_000_000_000;

    private readonly List<Cpu> _cpus = new();
    private readonly Pic8259Pair _pic;

    /// <summary>Creates the platform around <paramref name="cpu"/> (the bootstrap processor) for <paramref name="cpuCount"/> processors, wiring <paramref name="pic"/> and new devices on its I/O bus and MMIO map.</summary>
    public PcPlatform(Cpu cpu, Pic8259Pair pic, ulong tscHz, DateTime rtcStart, int cpuCount = 1)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(pic);
        _pic = pic;
        Clock = new PlatformClock(cpu, tscHz);
        IoApic = new IoApic(this, (byte)Math.Clamp(cpuCount, 1, 15)); // the MADT/MP tables give it the ID after the processors'
        Pit = new Pit8254(Clock, level => SetIrq(0, level));
        Rtc = new CmosRtc(Clock, level => SetIrq(8, level), rtcStart);
        Pm = new AcpiPm(Clock, level => SetIrq(AcpiPm.SciIrq, level), reason => (Running?.Invoke() ?? cpu).RequestPlatformStop(reason));
        Clock.Add(Pit);
        Clock.Add(Rtc);
        Clock.Add(Pm);
        pic.OutputChanged = OnPicOutput;
        pic.RegisterElcrOn(cpu.Io);
        // The SCI is level-triggered (firmware programs the ELCR for it, as a PC BIOS does for PCI and ACPI interrupts).
        pic.Write(Pic8259Pair.ElcrSlavePort, 1, 1u << (AcpiPm.SciIrq - 8));
        Pit.RegisterOn(cpu.Io);
        Rtc.RegisterOn(cpu.Io);
        Pm.RegisterOn(cpu.Io);
        cpu.Mmio.Register(IoApic.DefaultBase, 0x1000, IoApic);
        AddCpu(cpu);
    }

    /// <summary>The processors whose local APICs receive the platform's interrupts.</summary>
    public IReadOnlyList<Cpu> Cpus => _cpus;

    // Several processors: the one running its turn (device stop requests go to it) and the APIC bus.
    internal Func<Cpu>? Running;
    internal ApicBus? Bus;

    /// <summary>Attaches application processor <paramref name="cpu"/> of a multiprocessor machine: its APIC joins, and it gets the platform deadline.</summary>
    internal void AddProcessor(Cpu cpu, Func<Cpu> running, ApicBus bus)
    {
        AddCpu(cpu);
        Running = running;
        Bus = bus;
        Clock.AddProcessor(cpu, running);
    }

    /// <summary>The clock the timed devices run on.</summary>
    public PlatformClock Clock { get; }

    /// <summary>The I/O APIC at FEC0_0000h (APIC ID = the processor count, as the firmware tables say).</summary>
    public IoApic IoApic { get; }

    /// <summary>The 8254 PIT at ports 40h-43h and 61h.</summary>
    public Pit8254 Pit { get; }

    /// <summary>The CMOS RTC at ports 70h-71h.</summary>
    public CmosRtc Rtc { get; }

    /// <summary>The ACPI PM1a blocks, PM timer and reset register.</summary>
    public AcpiPm Pm { get; }

    /// <summary>The devices whose state a snapshot captures (in a fixed order).</summary>
    public IReadOnlyList<object> StatefulDevices => [IoApic, .. Pit.StateObjects, Rtc, Pm];

    /// <summary>Attaches a processor: its local APIC receives I/O APIC messages and broadcasts its EOIs to the I/O APIC.</summary>
    public void AddCpu(Cpu cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        _cpus.Add(cpu);
        cpu.Apic.EoiBroadcast = IoApic.EndOfInterrupt;
    }

    /// <summary>The I/O APIC input (global system interrupt) of ISA interrupt <paramref name="irq"/>: 2 for IRQ 0, else the same number.</summary>
    public static int GsiOfIrq(int irq) => irq == 0 ? 2 : irq;

    /// <summary>Drives ISA interrupt line <paramref name="irq"/> (0-15) to <paramref name="high"/> at the 8259 and the I/O APIC.</summary>
    public void SetIrq(int irq, bool high)
    {
        if ((uint)irq > 15) return;
        _pic.SetIrq(irq, high);
        IoApic.SetPin(GsiOfIrq(irq), high);
    }

    private void OnPicOutput(bool high)
    {
        IoApic.SetPin(0, high);
        // With more processors, only the bootstrap processor's LINT0 is wired to the 8259 (MP spec 3.6.2.2).
        var cpu = _cpus[0];
        ulong apicBase = cpu.Apic.BaseMsr;
        bool direct = (apicBase & LocalApic.BaseEnable) == 0;
        uint lint0 = cpu.Apic.Read(0x350);
        bool virtualWire = !direct && (lint0 & (1u << 16)) == 0 && ((lint0 >> 8) & 7) == 7;
        if (direct || virtualWire || !high) cpu.SetInterruptLine(high && (direct || virtualWire), _pic);
    }

    /// <inheritdoc />
    public void Deliver(in InterruptMessage message)
    {
        if (Bus is not null && message.DeliveryMode != 7)
        {
            Bus.DeliverMessage(message.Destination, message.Logical, message.DeliveryMode, message.Vector, message.Level);
            return;
        }
        foreach (var cpu in _cpus)
        {
            if (!cpu.Apic.IsDestinationOf(message.Destination, message.Logical)) continue;
            if (message.DeliveryMode == 7) cpu.SetInterruptLine(_pic.Output, _pic);
            else cpu.Apic.DeliverMessage(message.DeliveryMode, message.Vector, message.Level);
            if (message.DeliveryMode == 1) return; // lowest priority: one processor
        }
    }
}
