using Vtx.Memory;

namespace Vtx;

/// <summary>Options for creating a <see cref="Machine"/>.</summary>
public sealed record MachineOptions
{
    /// <summary>RAM size in MiB (1 to 2047: RAM is one .NET array). RAM starts at guest-physical address 0.</summary>
    public int MemoryMiB { get; init; } = 16;
    /// <summary>The processor model; the default resembles a recent Intel server core.</summary>
    public CpuModel? CpuModel { get; init; }
    /// <summary>Initial code size: 64 (64-bit mode, the default), 32 or 16, with flat segments and paging off.</summary>
    public int CodeSize { get; init; } = 64;
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
public sealed class Machine
{
    /// <summary>Creates a machine with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The memory size or code size is out of range.</exception>
    public Machine(MachineOptions? options = null)
    {
        options ??= new MachineOptions();
        if (options.MemoryMiB is < 1 or > 2047)
            throw new ArgumentOutOfRangeException(nameof(options), options.MemoryMiB, "MemoryMiB must be between 1 and 2047");
        Memory = new PhysicalMemory((ulong)options.MemoryMiB << 20);
        Cpu = new Cpu(Memory, options.CpuModel);
        Cpu.SetFlatMode(options.CodeSize);
        Cpu.Rip = 0;
    }

    /// <summary>The processor.</summary>
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

    /// <summary>Runs the processor with <paramref name="limits"/>; see <see cref="Cpu.Run(in RunLimits)"/>.</summary>
    public RunResult Run(in RunLimits limits) => Cpu.Run(limits);

    private void CheckRange(ulong address, int length)
    {
        if (address > Memory.Size || (ulong)length > Memory.Size - address)
            throw new ArgumentOutOfRangeException(nameof(address),
                $"guest-physical range 0x{address:X}..0x{address + (ulong)length:X} is outside RAM (0..0x{Memory.Size:X})");
    }
}
