using Vtx.Devices;
using Vtx.Firmware;
using Vtx.Loaders;
using Vtx.Memory;

namespace Vtx;

/// <summary>Options for creating a <see cref="Machine"/>.</summary>
public sealed record MachineOptions
{
    /// <summary>The largest <see cref="MemoryMiB"/>: 65536 (64 GiB; host memory is committed only where the guest touches it).</summary>
    public const int MaxMemoryMiB = 65536;

    /// <summary>
    /// RAM size in MiB (1 to <see cref="MaxMemoryMiB"/>). RAM starts at guest-physical address 0; what
    /// does not fit below 3 GiB (the PCI hole, where the APIC, I/O APIC and other MMIO live) is
    /// remapped from 4 GiB up (<see cref="Vtx.Memory.PhysicalMemory"/>).
    /// </summary>
    public int MemoryMiB { get; init; } = 16;

    /// <summary>
    /// The platform around the processor: <see cref="MachinePlatform.Minimal"/> (the default: UART,
    /// debug ports, a masked PIC) or <see cref="MachinePlatform.Pc"/> (adds the interrupt-raising 8259
    /// pair, I/O APIC, PIT, CMOS RTC, ACPI PM block and the ACPI/MP firmware tables).
    /// </summary>
    public MachinePlatform Platform { get; init; } = MachinePlatform.Minimal;

    /// <summary>The date and time (UTC) the CMOS RTC starts at on the <see cref="MachinePlatform.Pc"/> platform: deterministic, 2026-01-01 00:00:00 by default.</summary>
    public DateTime RtcStart { get; init; } = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    /// <summary>The processor model; the default resembles a recent Intel server core.</summary>
    public CpuModel? CpuModel { get; init; }
    /// <summary>Initial code size: 64 (64-bit mode, the default), 32 or 16, with flat segments and paging off.</summary>
    public int CodeSize { get; init; } = 64;

    /// <summary>The largest <see cref="Cpus"/>: 64 (the MADT and MP tables describe each processor; xAPIC IDs stay below FFh).</summary>
    public const int MaxCpus = 64;

    /// <summary>
    /// The number of logical processors (1 to <see cref="MaxCpus"/>; default 1). Processor 0 is the
    /// bootstrap processor and starts as a one-processor machine does; the others (APIC IDs 1..N-1)
    /// start in the wait-for-SIPI state. They share RAM, the decode cache and the devices, and run in
    /// deterministic turns on one host thread (<see cref="SmpQuantum"/>, <see cref="Machine.Run"/>).
    /// </summary>
    public int Cpus { get; init; } = 1;

    /// <summary>The default <see cref="SmpQuantum"/>: 1000 cycles (0.5 µs at the PC platform's 2 GHz).</summary>
    public const int DefaultSmpQuantum = 1000;

    /// <summary>
    /// The turn length in cycles of a multiprocessor machine (at least 1): processors run one after
    /// the other, each up to the end of the current round of this many cycles on the shared cycle
    /// clock. The same program and quantum give the same interleaving on every host; a smaller
    /// quantum interleaves more finely (what one processor writes is seen by the others sooner) and
    /// costs more host time per guest cycle. Ignored with one processor.
    /// </summary>
    public int SmpQuantum { get; init; } = DefaultSmpQuantum;
}

/// <summary>The platforms a <see cref="Machine"/> can have.</summary>
public enum MachinePlatform
{
    /// <summary>The minimal machine: COM1, the debug-exit, POST-code and debug-console ports, fw_cfg and a PIC pair that no device drives.</summary>
    Minimal,
    /// <summary>A PC: the minimal machine plus the 8259 pair raising interrupts, an I/O APIC, the 8254 PIT, the CMOS RTC, the ACPI PM block and ACPI/MP tables (<see cref="Devices.PcPlatform"/>).</summary>
    Pc,
}

/// <summary>
/// A small x86-64 machine: one <see cref="Vtx.Cpu"/> and its guest-physical RAM. The host-facing
/// entry point, shaped like the emulator APIs embedders know: create, write code and data,
/// set registers, run with limits, read the results.
/// </summary>
/// <example>
/// <code>
/// var m = new Machine(new MachineOptions { MemoryMiB = 4 });
/// m.WriteMemory(0x1000, new byte[] { 0x48, 0x01, 0xD8, 0xF4 }); // add rax, rbx; hlt
/// m.Cpu.Rip = 0x1000;
/// m.Cpu[Gpr.Rax] = 2; m.Cpu[Gpr.Rbx] = 3;
/// RunResult r = m.Run(RunLimits.Instructions(100));           // r.Reason == StopReason.Halted
/// </code>
/// </example>
public sealed partial class Machine
{
    /// <summary>Creates a machine with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The memory size or code size is out of range.</exception>
    public Machine(MachineOptions? options = null)
    {
        options ??= new MachineOptions();
        if (options.MemoryMiB is < 1 or > MachineOptions.MaxMemoryMiB)
            throw new ArgumentOutOfRangeException(nameof(options), options.MemoryMiB, $"MemoryMiB must be between 1 and {MachineOptions.MaxMemoryMiB}");
        if (options.Cpus is < 1 or > MachineOptions.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(options), options.Cpus, $"Cpus must be between 1 and {MachineOptions.MaxCpus}");
        if (options.SmpQuantum < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.SmpQuantum, "SmpQuantum must be at least 1 cycle");
        Memory = new PhysicalMemory((ulong)options.MemoryMiB << 20);
        var model = options.CpuModel;
        // The PC platform reports the TSC frequency its devices are clocked from (CPUID 15h/16h).
        if (model is null && options.Platform == MachinePlatform.Pc) model = new CpuModel { TscFrequencyHz = PcPlatform.DefaultTscHz };
        Cpu = new Cpu(Memory, model);
        Cpu.SetFlatMode(options.CodeSize);
        Cpu.Rip = 0;
        _cpus = CreateProcessors(options);

        // The PC devices every machine has (ports as QEMU's q35/pc machines place them).
        Uart = new Uart16550();
        Cpu.Io.Register(Uart16550.Com1Port, 8, Uart);
        DebugExit = new DebugExitDevice(_cpus.Length == 1 ? Cpu : new RunningCpuControl(this));
        Cpu.Io.Register(DebugExitDevice.DefaultPort, DebugExitDevice.DefaultPortCount, DebugExit);
        FwCfg = new FwCfg(Memory.Size, (ushort)_cpus.Length);
        Cpu.Io.Register(FwCfg.SelectorPort, FwCfg.PortCount, FwCfg);
        Pic = new Pic8259Pair();
        Pic.RegisterOn(Cpu.Io);
        PostCodes = new PostCodePort();
        Cpu.Io.Register(0x80, 1, PostCodes);
        DebugConsole = new DebugConsole();
        Cpu.Io.Register(0xE9, 1, DebugConsole);
        if (options.Platform == MachinePlatform.Pc)
        {
            ulong tscHz = Cpu.Model.TscFrequencyHz != 0 ? Cpu.Model.TscFrequencyHz : PcPlatform.DefaultTscHz;
            Platform = new PcPlatform(Cpu, Pic, tscHz, options.RtcStart, _cpus.Length);
            AttachPlatformProcessors();
            Platform.Rtc.SetMemorySize(Memory.LowSize, Memory.HighSize, 1);
            Uart.InterruptLine = level => Platform.SetIrq(4, level); // COM1: ISA IRQ 4
            Firmware = PcFirmware.Install(Memory, _cpus.Length, Cpu.Model);
            ApplyFirmwareApicState();
        }
    }

    /// <summary>The PC platform's devices (<see cref="MachinePlatform.Pc"/>), or null on the minimal machine.</summary>
    public PcPlatform? Platform { get; }

    /// <summary>Where the ACPI and MP tables are (<see cref="MachinePlatform.Pc"/>), or null.</summary>
    public FirmwareTables? Firmware { get; }

    /// <summary>The device objects a snapshot captures beyond the fixed ones.</summary>
    internal IReadOnlyList<object> PlatformDevices =>
        Platform is null ? [Pic.Master, Pic.Slave] : [Pic.Master, Pic.Slave, .. Platform.StatefulDevices];

    /// <summary>
    /// The local APIC state a PC BIOS leaves (MP specification 1.4, 3.6.2.2, virtual wire mode):
    /// software-enabled (SVR = 1FFh), LINT0 ExtINT (the 8259), LINT1 NMI.
    /// </summary>
    private void ApplyFirmwareApicState()
    {
        if (Platform is null) return;
        Cpu.Apic.Write(0xF0, 0x1FF);
        Cpu.Apic.Write(0x350, 0x700);
        Cpu.Apic.Write(0x360, 0x400);
    }

    /// <summary>The 16550A UART at I/O port 3F8h (COM1); its <see cref="Uart16550.Output"/> is what the guest printed.</summary>
    public Uart16550 Uart { get; }

    /// <summary>The debug-exit device at port F4h: a guest write of v stops the run with exit code (v &lt;&lt; 1) | 1.</summary>
    public DebugExitDevice DebugExit { get; }

    /// <summary>QEMU-compatible fw_cfg at ports 510h/511h.</summary>
    public FwCfg FwCfg { get; }

    /// <summary>The masked 8259 interrupt-controller pair at 20h/21h and A0h/A1h.</summary>
    public Pic8259Pair Pic { get; }

    /// <summary>The POST-code sink at port 80h.</summary>
    public PostCodePort PostCodes { get; }

    /// <summary>The debug console at port E9h (Bochs/QEMU convention).</summary>
    public DebugConsole DebugConsole { get; }

    /// <summary>Memory-mapped I/O regions with host callbacks; they take precedence over RAM.</summary>
    public MmioMap Mmio => Cpu.Mmio;

    /// <summary>
    /// Loads a multiboot (v1) kernel and puts the processor in the entry state QEMU's <c>-kernel</c>
    /// gives: 32-bit protected mode with flat segments, paging off, interrupts off, EAX = 2BADB002h,
    /// EBX = the information structure, EIP = the entry point; other registers zero. Exceptions are
    /// delivered through the guest's IDT (no interception).
    /// </summary>
    /// <exception cref="InvalidImageException">
    /// The image is not a valid multiboot kernel, or it, its modules or the boot information do not
    /// fit in RAM below 4 GiB (the message says why). Memory and processor are then unchanged.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> holds a null string, a null module or module command line, or an <see cref="MultibootOptions.InfoAddress"/> that is not a multiple of 8.</exception>
    public MultibootImage LoadMultiboot(ReadOnlySpan<byte> kernel, MultibootOptions? options = null)
    {
        var image = MultibootLoader.Load(Memory, kernel, options);
        LoadMultibootState(image.EntryState);
        return image;
    }

    /// <summary>
    /// Loads an ELF32/ELF64 executable by its program headers and enters it at its physical entry
    /// point in 32-bit flat protected mode (paging off, interrupts off, exceptions delivered), as a
    /// multiboot loader would for a kernel without a multiboot header.
    /// </summary>
    /// <exception cref="InvalidImageException">The image is not a valid loadable ELF, or does not fit in RAM (the message says why).</exception>
    public ElfImage LoadElf(ReadOnlySpan<byte> image)
    {
        var elf = ElfLoader.Load(Memory, image);
        var st = new MultibootEntryState { Eip = 0, Ebx = 0 };
        EnterBareMetal(st.CodeSegment, st.DataSegment, st.Cr0, st.Rflags);
        Cpu.Rip = elf.PhysicalEntry;
        return elf;
    }

    /// <summary>
    /// Loads a Linux bzImage by the x86 boot protocol (<see cref="LinuxLoader"/>) and puts the processor
    /// in the 64-bit entry state it calls for: long mode, identity-mapped first 4 GiB, the loader's
    /// GDT (CS = 10h, data = 18h), interrupts off, RSI = boot_params, RIP = the 64-bit entry.
    /// Exceptions are delivered through the guest's IDT. On the PC platform boot_params carries the
    /// ACPI RSDP address unless <paramref name="options"/> gives one.
    /// </summary>
    /// <exception cref="InvalidImageException">The image is not a loadable 64-bit bzImage or does not fit (the message says why).</exception>
    public LinuxImage LoadLinux(ReadOnlySpan<byte> bzImage, LinuxBootOptions? options = null)
    {
        options ??= new LinuxBootOptions();
        if (options.AcpiRsdp == 0 && Firmware is { } fw) options = options with { AcpiRsdp = fw.Rsdp };
        var image = LinuxLoader.Load(Memory, bzImage, options);
        var cpu = Cpu;
        cpu.Reset();
        for (int i = 0; i < 16; i++) cpu[(Gpr)i] = 0;
        cpu.Gdtr = new DescriptorTableRegister(image.Gdt, 31);
        cpu.Cr4Value = 1UL << 5;                                  // PAE
        cpu.EferValue = 1UL << 8 | 1UL << 10;                     // LME, LMA
        cpu.Cr3Value = image.PageTables;
        cpu.Cr0Value = 1UL << 0 | 1UL << 4 | 1UL << 5 | 1UL << 31; // PE, ET, NE, PG
        cpu.Rflags = 2;
        var data = SegmentCache.Flat(0x18, 0x93 | SegmentCache.DB | SegmentCache.G);
        foreach (var seg in new[] { SegmentRegister.Es, SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Fs, SegmentRegister.Gs })
            cpu.SetSegment(seg, data);
        cpu.SetSegment(SegmentRegister.Cs, SegmentCache.Flat(0x10, 0x9B | SegmentCache.L | SegmentCache.G));
        cpu.InterceptedExceptions = 0;
        cpu[Gpr.Rsi] = image.BootParams;
        cpu.Rip = image.Entry64;
        ApplyFirmwareApicState();
        return image;
    }

    /// <summary>Puts the processor in a multiboot-style entry state (flat 32-bit protected mode, paging off) given by <paramref name="state"/>.</summary>
    public void LoadMultibootState(MultibootEntryState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        EnterBareMetal(state.CodeSegment, state.DataSegment, state.Cr0, state.Rflags);
        Cpu[Gpr.Rax] = state.Eax;
        Cpu[Gpr.Rbx] = state.Ebx;
        Cpu.Rip = state.Eip;
    }

    /// <summary>Loads a flat binary at <paramref name="address"/> (no change to the processor state).</summary>
    /// <exception cref="InvalidImageException">The image is empty or does not lie entirely in RAM.</exception>
    public void LoadFlat(ReadOnlySpan<byte> image, ulong address) => FlatBinaryLoader.Load(Memory, image, address);

    private void EnterBareMetal(SegmentCache code, SegmentCache data, ulong cr0, ulong rflags)
    {
        var cpu = Cpu;
        cpu.Reset();
        for (int i = 0; i < 16; i++) cpu[(Gpr)i] = 0;
        cpu.Cr0Value = cr0;
        cpu.EferValue = 0;
        cpu.Rflags = rflags;
        foreach (var seg in new[] { SegmentRegister.Es, SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Fs, SegmentRegister.Gs })
            cpu.SetSegment(seg, data);
        cpu.SetSegment(SegmentRegister.Cs, code);
        cpu.InterceptedExceptions = 0;
        ApplyFirmwareApicState();
    }

    /// <summary>The processor (the bootstrap processor, <see cref="Cpus"/>[0], in a multiprocessor machine).</summary>
    public Cpu Cpu { get; }

    /// <summary>Guest-physical RAM.</summary>
    public PhysicalMemory Memory { get; }

    /// <summary>Copies <paramref name="data"/> into guest-physical memory at <paramref name="physicalAddress"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not entirely inside RAM.</exception>
    public void WriteMemory(ulong physicalAddress, ReadOnlySpan<byte> data)
    {
        CheckRange(physicalAddress, data.Length);
        Memory.Write(physicalAddress, data);
    }

    /// <summary>Copies guest-physical memory at <paramref name="physicalAddress"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not entirely inside RAM.</exception>
    public void ReadMemory(ulong physicalAddress, Span<byte> destination)
    {
        CheckRange(physicalAddress, destination.Length);
        Memory.Read(physicalAddress, destination);
    }

    /// <summary>Reads <paramref name="length"/> bytes of guest-physical memory into a new array.</summary>
    public byte[] ReadMemory(ulong physicalAddress, int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must not be negative");
        var b = new byte[length];
        ReadMemory(physicalAddress, b);
        return b;
    }

    /// <summary>
    /// Runs the machine with <paramref name="limits"/>. With one processor this is
    /// <see cref="Cpu.Run(in RunLimits)"/>. With several, the processors take deterministic turns
    /// (<see cref="MachineOptions.SmpQuantum"/>) and the limits bound the whole machine; the result
    /// says which processor stopped (<see cref="RunResult.CpuIndex"/>). See <c>Machine.Smp.cs</c>.
    /// </summary>
    public RunResult Run(in RunLimits limits) => _cpus.Length == 1 ? Cpu.Run(limits) : RunSmp(in limits);

    /// <summary>Thread-safe: asks the running (or next) run to stop at its next boundary; see <see cref="Cpu.RequestStop()"/>.</summary>
    public void RequestStop()
    {
        if (_cpus.Length == 1) Cpu.RequestStop();
        else RequestSmpStop(0);
    }

    private void CheckRange(ulong address, int length)
    {
        if (!Memory.IsRam(address, (ulong)length))
            throw new ArgumentOutOfRangeException(nameof(address),
                $"guest-physical range 0x{address:X}..0x{address + (ulong)length:X} is outside RAM (0..0x{Memory.LowSize:X}" +
                (Memory.HighSize != 0 ? $", 0x{PhysicalMemory.HighStart:X}..0x{Memory.End:X})" : ")"));
    }
}
