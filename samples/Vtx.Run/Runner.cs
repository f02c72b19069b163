using System.Globalization;
using Vtx.Loaders;

namespace Vtx.Run;

/// <summary>
/// Command-line runner: boots a multiboot, ELF or flat image on a Vtx machine, streams the
/// guest's serial output, and exits with the guest's debug-exit code.
/// </summary>
public static class Runner
{
    public const string Usage =
        "usage: Vtx.Run <image> [--ram MiB] [--max-instructions N] [--max-cycles N] [--flat ADDR]\n" +
        "               [--trace-events] [--vmx-trace FILE] [--cmdline \"args\"]\n" +
        "  --vmx-trace writes every VM entry and exit as one JSON object per line (- = stderr).\n" +
        "  Multiboot kernels and ELF files are detected; --flat ADDR loads a raw image at ADDR and\n" +
        "  enters it there in 32-bit flat protected mode.\n" +
        "exit status: the guest's debug-exit code ((v << 1) | 1 for a write of v to port 0xF4);\n" +
        "  2 usage or image error, 3 halted with nothing to wake it, 4 triple fault (shutdown),\n" +
        "  5 instruction or cycle limit reached.";

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the command line <paramref name="args"/>, writing guest output to <paramref name="output"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter diagnostics)
    {
        string? path = null;
        int ram = 128;
        ulong? maxInstructions = 1_000_000_000, maxCycles = null, flat = null;
        bool trace = false;
        string? vmxTrace = null;
        string cmdline = "";
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
                switch (a)
                {
                    case "--ram": ram = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--max-instructions": maxInstructions = ParseNumber(Next()); break;
                    case "--max-cycles": maxCycles = ParseNumber(Next()); break;
                    case "--flat": flat = ParseNumber(Next()); break;
                    case "--trace-events": trace = true; break;
                    case "--vmx-trace": vmxTrace = Next(); break;
                    case "--cmdline": cmdline = Next(); break;
                    case "-h" or "--help": output.WriteLine(Usage); return 0;
                    default:
                        if (a.StartsWith('-') || path is not null) throw new ArgumentException($"unexpected argument '{a}'");
                        path = a;
                        break;
                }
            }
            if (path is null) throw new ArgumentException("no image given");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            diagnostics.WriteLine($"Vtx.Run: {e.Message}");
            diagnostics.WriteLine(Usage);
            return 2;
        }

        byte[] image;
        try { image = File.ReadAllBytes(path); }
        catch (IOException e) { diagnostics.WriteLine($"Vtx.Run: cannot read {path}: {e.Message}"); return 2; }

        var m = new Machine(new MachineOptions { MemoryMiB = ram });
        m.Uart.OutputWriter = output;
        try
        {
            if (flat is ulong at)
            {
                m.LoadFlat(image, at);
                var st = new MultibootEntryState { Eip = (uint)at, Ebx = 0 };
                m.LoadMultibootState(st);
            }
            else if (HasMultibootMagic(image))
            {
                var mb = m.LoadMultiboot(image, new MultibootOptions { KernelName = Path.GetFileName(path), Arguments = cmdline });
                diagnostics.WriteLine($"Vtx.Run: multiboot kernel, entry 0x{mb.Entry:X}, command line \"{mb.CommandLine}\"");
            }
            else
            {
                var elf = m.LoadElf(image);
                diagnostics.WriteLine($"Vtx.Run: ELF{(elf.Class == ElfClass.Elf64 ? 64 : 32)} image, entry 0x{elf.PhysicalEntry:X}");
            }
        }
        catch (InvalidImageException e)
        {
            diagnostics.WriteLine($"Vtx.Run: {path}: {e.Message}");
            return 2;
        }

        if (trace)
            m.Cpu.EventDelivered = (vector, kind, error) =>
                diagnostics.WriteLine($"  [cycle {m.Cpu.Cycles,10}] {kind} vector {vector}{(error is uint e ? $" error 0x{e:X}" : "")} rip=0x{m.Cpu.Rip:X}");

        StreamWriter? vmxFile = null;
        if (vmxTrace is not null)
        {
            TextWriter sink = vmxTrace == "-" ? diagnostics : vmxFile = new StreamWriter(vmxTrace);
            _ = new Vmx.VmxTraceWriter(m.Cpu, sink);
        }
        var r = m.Run(new RunLimits { MaxInstructions = maxInstructions, MaxCycles = maxCycles });
        vmxFile?.Dispose();
        output.Flush();
        diagnostics.WriteLine($"Vtx.Run: {r}");
        return r.Reason switch
        {
            StopReason.DebugExit => r.ExitCode ?? 0,
            StopReason.Halted => 3,
            StopReason.Shutdown => 4,
            StopReason.InstructionLimit or StopReason.CycleLimit => 5,
            _ => 2,
        };
    }

    /// <summary>True when the multiboot magic appears 4-byte aligned in the first 8 KiB (the loader then validates the header).</summary>
    private static bool HasMultibootMagic(byte[] image)
    {
        int end = Math.Min(image.Length, 8192) - 4;
        for (int i = 0; i <= end; i += 4)
            if (BitConverter.ToUInt32(image, i) == 0x1BADB002) return true;
        return false;
    }

    private static ulong ParseNumber(string s) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(s, CultureInfo.InvariantCulture);
}
