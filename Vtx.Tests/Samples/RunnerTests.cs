using Iced.Intel;
using Vtx.Tests.Loaders;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Samples;

/// <summary>
/// samples/Vtx.Run: every malformed command line exits 2 with a message naming the problem and the
/// usage text, never an unhandled exception; a multiboot kernel linked at 0x8000 (covering the
/// default boot-information area at 0x9000) boots.
/// </summary>
public class RunnerTests
{
    private static (int Code, string Diagnostics) Run(params string[] args)
    {
        var diag = new StringWriter();
        int code = Vtx.Run.Runner.Run(args, new StringWriter(), diag);
        return (code, diag.ToString());
    }

    private static string TempFile(byte[] contents)
    {
        string path = Path.Combine(Path.GetTempPath(), $"vtx-runner-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, contents);
        return path;
    }

    public static TheoryData<string[], string> BadCommandLines => new()
    {
        { ["IMG", "--ram", "0"], "--ram 0: RAM must be between 1 and 65536 MiB" },
        { ["IMG", "--ram", "-1"], "--ram -1: RAM must be between 1 and 65536 MiB" },
        { ["IMG", "--ram", "65537"], "--ram 65537: RAM must be between 1 and 65536 MiB" },
        { ["IMG", "--ram", "65G"], "--ram 66560: RAM must be between 1 and 65536 MiB" },
        { ["IMG", "--ram", "4X"], "--ram '4X': not a whole number of MiB (or of MiB/GiB with an M/G suffix)" },
        { ["IMG", "--ram", "99999999999"], "--ram '99999999999': not a whole number of MiB" },
        { ["IMG", "--ram", "lots"], "--ram 'lots': not a whole number of MiB" },
        { ["IMG", "--ram", "G"], "--ram 'G': not a whole number of MiB" },
        { ["IMG", "--ram", ""], "--ram '': not a whole number of MiB" },
        { ["IMG", "--ram"], "Required argument missing for option: '--ram'" },
        { ["IMG", "--initrd"], "Required argument missing for option: '--initrd'" },
        { ["IMG", "--module"], "Required argument missing for option: '--module'" },
        { ["IMG", "--module", ",args"], "--module ',args': no file name (FILE[,CMDLINE])" },
        { ["IMG", "--module", ""], "--module '': no file name (FILE[,CMDLINE])" },
        { ["IMG", "--ram", "4", "--ram", "8"], "Option '--ram' expects a single argument but 2 were provided" },
        { ["IMG", "--max-instructions", "-5"], "--max-instructions '-5': not an unsigned" },
        { ["IMG", "--max-instructions", "1e9"], "--max-instructions '1e9': not an unsigned" },
        { ["IMG", "--max-instructions", "18446744073709551616"], "--max-instructions '18446744073709551616': not an unsigned" },
        { ["IMG", "--max-cycles", "0xZZ"], "--max-cycles '0xZZ': not an unsigned" },
        { ["IMG", "--max-cycles", "0x"], "--max-cycles '0x': not an unsigned" },
        { ["IMG", "--flat", "123456789012345678901234567890"], "--flat '123456789012345678901234567890': not an unsigned" },
        { ["IMG", "--flat", " 12"], "--flat ' 12': not an unsigned" },
        { ["IMG", "--flat", "0x100000000"], "--flat 0x100000000: the entry point must be below 4 GiB" },
        { ["IMG", "--cpus", "0"], "--cpus '0': not a number of processors from 1 to 64" },
        { ["IMG", "--cpus", "65"], "--cpus '65': not a number of processors from 1 to 64" },
        { ["IMG", "--cpus", "two"], "--cpus 'two': not a number of processors from 1 to 64" },
        { ["IMG", "--cpus", "-1"], "--cpus '-1': not a number of processors from 1 to 64" },
        { ["IMG", "--gdb", "0"], "--gdb '0': not a TCP port (1-65535)" },
        { ["IMG", "--gdb", "65536"], "--gdb '65536': not a TCP port (1-65535)" },
        { ["IMG", "--gdb", "http"], "--gdb 'http': not a TCP port (1-65535)" },
        { ["IMG", "--gdb"], "Required argument missing for option: '--gdb'" },
        { ["IMG", "--timing", "pentium"], "--timing 'pentium': not a timing profile (skylake-client, haswell, simple)" },
        { ["IMG", "--cost-model", "k6"], "--cost-model 'k6': not a timing profile (skylake-client, haswell, simple)" },
        { ["IMG", "--cpu-model", ""], "--cpu-model '': not a timing profile (skylake-client, haswell, simple)" },
        { ["IMG", "--bogus"], "unknown option '--bogus'" },
        { ["--bogus", "IMG"], "unknown option '--bogus'" },
        { ["IMG", "IMG"], "unexpected argument" },
        { [], "Required argument 'image' missing" },
        // Typos: the closest option is suggested.
        { ["IMG", "--ramm", "64"], "unknown option '--ramm'; did you mean '--ram'?" },
        { ["--RAM", "64", "IMG"], "unknown option '--RAM'; did you mean '--ram'?" },
        { ["IMG", "-ram", "64"], "unknown option '-ram'; did you mean '--ram'?" },
        { ["IMG", "--max-inst", "5"], "unknown option '--max-inst'; did you mean '--max-instructions'?" },
        { ["IMG", "--timline", "t.html"], "unknown option '--timline'; did you mean '--timeline'?" },
        { ["IMG", "--vmxtrace", "-"], "unknown option '--vmxtrace'; did you mean '--vmx-trace'?" },
        { ["IMG", "--cpu", "2"], "unknown option '--cpu'; did you mean '--cpus'?" },
        { ["IMG", "--trace-event"], "unknown option '--trace-event'; did you mean '--trace-events'?" },
        { ["IMG", "--initrd=x", "--modul", "m"], "unknown option '--modul'; did you mean '--module'?" },
    };

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public void MalformedArgumentsExitWithUsage(string[] args, string message)
    {
        string path = TempFile(new byte[] { 0xF4 });
        try
        {
            var (code, diag) = Run(args.Select(a => a == "IMG" ? path : a).ToArray());
            Assert.Equal(2, code);
            Assert.Contains("Vtx.Run: " + message, diag);
            Assert.Contains("usage: Vtx.Run", diag);
        }
        finally { File.Delete(path); }
    }

    /// <summary>A word far from every option gets no suggestion (no nonsense "did you mean").</summary>
    [Fact]
    public void AnUnknownOptionFarFromEveryOptionIsNamedWithoutASuggestion()
    {
        var (code, diag) = Run("k.bin", "--frobnicate-the-widgets");
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--frobnicate-the-widgets'", diag);
        Assert.DoesNotContain("did you mean", diag);
    }

    /// <summary>"--" ends the options: an image whose name starts with '-' is then a file, not an unknown option.</summary>
    [Fact]
    public void AfterDoubleDashAnImageMayStartWithADash()
    {
        var (code, diag) = Run("--", "-no-such-image.bin");
        Assert.Equal(2, code);
        Assert.Contains("cannot read -no-such-image.bin", diag);
        Assert.DoesNotContain("unknown option", diag);
    }

    /// <summary>An argument starting with '@' is a path (System.CommandLine's response files are off).</summary>
    [Fact]
    public void AnAtSignArgumentIsAPathNotAResponseFile()
    {
        var (code, diag) = Run("@no-such-response-file");
        Assert.Equal(2, code);
        Assert.Contains("cannot read @no-such-response-file", diag);
    }

    /// <summary>
    /// Random command lines (option names, their typos, garbage values, quotes, control
    /// characters) never throw out of Run and end with a documented status: 0 for help only,
    /// otherwise 2 (nothing here names a loadable image), each error line naming the problem.
    /// </summary>
    [Fact]
    public void RandomCommandLinesNeverThrowAndExitWithAUsageStatus()
    {
        string[] words =
        [
            "--ram", "--cpus", "--cmdline", "--initrd", "--module", "--flat", "--pc", "--cost-model", "--cpu-model",
            "--timing", "--max-instructions", "--max-cycles", "--trace-events", "--vmx-trace", "--timeline", "--gdb",
            "--", "-", "--=", "---", "-x", "--ram=", "--gdb:", "0", "-1", "0x", "0xFFFFFFFFFFFFFFFFF", "65G", "4G",
            "simple", "haswell", "nope", "a,b", ",", "@x", "\"", "'", "\u0000", "\t", " ", "", "é", "/dev/null/x",
            "no-such-file.bin", "--he", "-?", "[diagram]", "--version",
        ];
        var rng = new Random(1234);
        for (int i = 0; i < 400; i++)
        {
            var args = new string[rng.Next(0, 7)];
            for (int j = 0; j < args.Length; j++) args[j] = words[rng.Next(words.Length)];
            var output = new StringWriter();
            var diag = new StringWriter();
            int code = Vtx.Run.Runner.Run(args, output, diag);
            string cmd = string.Join(' ', args.Select(a => $"[{a}]"));
            if (code == 0) Assert.True(output.ToString().Contains("Exit status:"), $"{cmd}: exit 0 without the help");
            else
            {
                Assert.True(code == 2, $"{cmd}: exit {code}\n{diag}");
                Assert.StartsWith("Vtx.Run: ", diag.ToString());
            }
        }
    }

    [Fact]
    public void UnreadableOrUnloadableImagesExitWith2()
    {
        var (code, diag) = Run(Path.Combine(Path.GetTempPath(), $"vtx-missing-{Guid.NewGuid():N}"));
        Assert.Equal(2, code);
        Assert.Contains("cannot read", diag);

        (code, diag) = Run(Path.GetTempPath()); // a directory
        Assert.Equal(2, code);
        Assert.Contains("cannot read", diag);

        string path = TempFile(new byte[] { 0xF4 });
        try
        {
            (code, diag) = Run(path, "--ram", "1", "--flat", "0x200000"); // beyond 1 MiB of RAM
            Assert.Equal(2, code);
            Assert.Contains(path, diag);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void LinuxBzImage_BootsOnThePcPlatformWithInitrd_AndPowersOff()
    {
        // 64-bit entry: mov dx, 604h; mov ax, SLP_TYP 5 | SLP_EN; out dx, ax.
        string kernel = TempFile(LinuxLoaderTests.BzImage([0x66, 0xBA, 0x04, 0x06, 0x66, 0xB8, 0x00, 0x34, 0x66, 0xEF, 0xF4]));
        string initrd = TempFile(new byte[] { 1, 2, 3 });
        string flat = TempFile(new byte[] { 0xF4 });
        try
        {
            var (code, diag) = Run(kernel, "--ram", "4G", "--initrd", initrd, "--cmdline", "console=ttyS0");
            Assert.Equal(0, code);
            Assert.Contains("Linux bzImage (boot protocol 2.15)", diag);
            Assert.Contains("PowerOff", diag);
            (code, diag) = Run(kernel, "--initrd", initrd + ".missing");
            Assert.Equal(2, code);
            Assert.Contains("--initrd: cannot read", diag);
            (code, diag) = Run(flat, "--flat", "0x1000", "--initrd", initrd);
            Assert.Equal(2, code);
            Assert.Contains("--initrd needs a Linux bzImage", diag);
        }
        finally { File.Delete(kernel); File.Delete(initrd); File.Delete(flat); }
    }

    /// <summary>
    /// A multiboot kernel (address fields) linked at 0x8000 with bss to 0x9040 covers 0x9000: Vtx.Run
    /// boots it, the boot information going after it; the kernel checks the flags at EBX and exits.
    /// </summary>
    [Fact]
    public void AKernelLinkedAt0x8000Boots()
    {
        const uint load = 0x8000, entry = load + 32;
        var header = MultibootHeader.Build(0x1_0000, (load, load, 0, 0x9040, entry));
        var a = new Assembler(32);
        var fail = a.CreateLabel();
        a.cmp(__dword_ptr[ebx], 0x24D);      // flags 0, 2, 3, 6, 9: the structure is really there
        a.jne(fail);
        a.cmp(eax, 0x2BADB002);
        a.jne(fail);
        a.mov(al, 3);
        a.@out(0xF4, al);
        a.hlt();
        a.Label(ref fail);
        a.mov(al, 5);
        a.@out(0xF4, al);
        a.hlt();
        var w = new ListWriter();
        a.Assemble(w, entry);
        string path = TempFile(header.Concat(w.Bytes).ToArray());
        try
        {
            var (code, diag) = Run(path, "--ram", "4");
            Assert.True(code == 7, $"exit {code}: {diag}");
            Assert.Contains("multiboot kernel", diag);
        }
        finally { File.Delete(path); }
    }

    private sealed class ListWriter : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }

    [Fact]
    public void TheProgressLineIsOnlyForAnInteractiveTerminal()
    {
        var m = new Machine(new MachineOptions { MemoryMiB = 1 });
        Assert.Null(Vtx.Run.ProgressLine.Start(m.Cpu, new StringWriter()));      // not the console
        if (Console.IsErrorRedirected) Assert.Null(Vtx.Run.ProgressLine.Start(m.Cpu, Console.Error)); // redirected, as under a test runner
        Assert.Null(m.Cpu.VmxTransitionObserved);                                 // nothing was attached
    }

    [Fact]
    public void TimingPicksTheCoreWhoseCyclesTheClockCounts()
    {
        // add eax,1; add ebx,1; add ecx,1; add edx,1; jmp back: 5 instructions, 4 independent ALU ops.
        string path = TempFile([0x83, 0xC0, 0x01, 0x83, 0xC3, 0x01, 0x83, 0xC1, 0x01, 0x83, 0xC2, 0x01, 0xEB, 0xF2]);
        ulong Cycles(string timing)
        {
            var (code, diag) = Run(path, "--flat", "0x1000", "--max-instructions", "5000", "--timing", timing);
            Assert.Equal(5, code);
            var m = System.Text.RegularExpressions.Regex.Match(diag, @"after 5000 instructions, (\d+) cycles");
            Assert.True(m.Success, diag);
            return ulong.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(5000UL, Cycles("simple"));       // vtx-cost-1: one cycle per instruction
        Assert.True(Cycles("skylake") <= 2500);        // 4-wide: the four adds and the jump overlap
        File.Delete(path);
    }
    private static (int Code, string Output, string Diagnostics) RunFull(params string[] args)
    {
        var output = new StringWriter();
        var diag = new StringWriter();
        int code = Vtx.Run.Runner.Run(args, output, diag);
        return (code, output.ToString(), diag.ToString());
    }

    private static readonly string[] Options =
    [
        "--ram", "--cpus", "--cmdline", "--initrd", "--module", "--flat", "--pc", "--cost-model", "--cpu-model", "--timing",
        "--max-instructions", "--max-cycles", "--trace-events", "--vmx-trace", "--timeline", "--gdb", "--help",
    ];

    /// <summary>-h, -? and --help print the same help on the output, status 0: every option, and every exit status with its number.</summary>
    [Fact]
    public void HelpListsEveryOptionAndEveryExitStatus()
    {
        var (code, help, diag) = RunFull("--help");
        Assert.Equal(0, code);
        Assert.Equal("", diag);
        Assert.Equal(help, RunFull("-h").Output);
        Assert.Equal(help, RunFull("-?").Output);
        Assert.Equal(help, Vtx.Run.RunnerCommand.HelpText());
        Assert.Contains("Usage:\n  Vtx.Run <image> [options]", help.ReplaceLineEndings("\n"));
        foreach (string o in Options) Assert.Contains(o, help);
        string exits = help[help.IndexOf("Exit status:", StringComparison.Ordinal)..];
        var constants = typeof(Vtx.Run.ExitCodes).GetFields().Where(f => f.IsLiteral).Select(f => (int)f.GetRawConstantValue()!).ToList();
        Assert.Equal(8, constants.Count);
        foreach (int c in constants)
            Assert.Matches($@"\n  {c} +\S", exits.ReplaceLineEndings("\n"));
        Assert.Contains("(v << 1) | 1", exits);
        // Help wins over errors elsewhere on the line (the user asked what the options are).
        Assert.Equal(0, RunFull("--bogus", "--ram", "x", "--help").Code);
    }

    /// <summary>README's Vtx.Run usage block is the --help text, line for line (trailing blanks aside), so the two cannot drift.</summary>
    [Fact]
    public void ReadmeUsageBlockIsTheHelpText()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Vtx.slnx"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("no Vtx.slnx above the test assembly");
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        const string Marker = "<!-- Vtx.Run --help (RunnerTests.ReadmeUsageBlockIsTheHelpText checks it) -->\n```text\n";
        int start = readme.IndexOf(Marker, StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md lacks the Vtx.Run --help block marker");
        start += Marker.Length;
        int end = readme.IndexOf("```\n", start, StringComparison.Ordinal);
        static string[] Lines(string t) => t.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n').Select(l => l.TrimEnd()).ToArray();
        Assert.Equal(Lines(Vtx.Run.RunnerCommand.HelpText()), Lines(readme[start..end]));
        // The exit-status table below it has the same rows.
        foreach (var (code, meaning) in Vtx.Run.ExitCodes.Table)
            Assert.Contains($"| {code} | {meaning.Replace("|", "\\|", StringComparison.Ordinal)} |\n", readme[end..]);
    }

    public static TheoryData<byte[], string[], int, string> ExitStatuses => new()
    {
        // mov al, 21h; out 0F4h, al: the debug exit, (21h << 1) | 1.
        { [0xB0, 0x21, 0xE6, 0xF4], [], (0x21 << 1) | 1, "DebugExit" },
        // cli; hlt: nothing can wake it.
        { [0xFA, 0xF4], [], 3, "Halted" },
        // push 0; push 0; lidt [esp] (limit 0); ud2: #UD, #DF and the triple fault all miss the IDT.
        { [0x6A, 0x00, 0x6A, 0x00, 0x0F, 0x01, 0x1C, 0x24, 0x0F, 0x0B], [], 4, "Shutdown" },
        // jmp $: the limits.
        { [0xEB, 0xFE], ["--max-instructions", "100"], 5, "InstructionLimit" },
        { [0xEB, 0xFE], ["--max-cycles", "0x400", "--max-instructions", "99999999"], 5, "CycleLimit" },
        // mov dx, 0CF9h; mov al, 6; out dx, al: a reset through the PC's reset control register.
        { [0x66, 0xBA, 0xF9, 0x0C, 0xB0, 0x06, 0xEE, 0xF4], ["--pc"], 6, "Reset" },
        // mov dx, 604h; mov ax, SLP_TYP 5 | SLP_EN; out dx, ax: ACPI power-off.
        { [0x66, 0xBA, 0x04, 0x06, 0x66, 0xB8, 0x00, 0x34, 0x66, 0xEF, 0xF4], ["--pc"], 0, "PowerOff" },
    };

    /// <summary>Each documented exit status, from the stop reason the last diagnostics line names.</summary>
    [Theory]
    [MemberData(nameof(ExitStatuses))]
    public void EachStopReasonHasItsDocumentedStatus(byte[] code, string[] options, int status, string reason)
    {
        string path = TempFile(code);
        try
        {
            var (exit, _, diag) = RunFull([path, "--flat", "0x1000", .. options]);
            Assert.True(exit == status, $"exit {exit}, expected {status}: {diag}");
            string last = diag.TrimEnd().Split('\n')[^1];
            Assert.StartsWith("Vtx.Run: ", last);
            Assert.Contains(reason, last);
        }
        finally { File.Delete(path); }
    }

    /// <summary>A host failure during the run (the output stream fails) is status 8 with a message, not an exception.</summary>
    [Fact]
    public void AHostFailureDuringTheRunIsStatus8()
    {
        // mov dx, 3F8h; mov al, 'A'; out dx, al; hlt: one byte to the UART, whose writer fails.
        string path = TempFile([0x66, 0xBA, 0xF8, 0x03, 0xB0, 0x41, 0xEE, 0xF4]);
        try
        {
            var diag = new StringWriter();
            int code = Vtx.Run.Runner.Run([path, "--flat", "0x1000"], new FailingWriter(), diag);
            Assert.Equal(8, code);
            Assert.Contains("Vtx.Run: host error: IOException: disk full", diag.ToString());
        }
        finally { File.Delete(path); }
    }

    private sealed class FailingWriter : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void Write(char value) => throw new IOException("disk full");
        public override void Write(ReadOnlySpan<char> buffer) => throw new IOException("disk full");
    }

    /// <summary>Files that cannot be read or written: status 2 and a message naming the option and the file.</summary>
    [Fact]
    public void MissingOrUnwritableFilesExitWith2()
    {
        string kernel = TempFile(MultibootHeader.ElfKernel());
        string missing = Path.Combine(Path.GetTempPath(), $"vtx-missing-{Guid.NewGuid():N}");
        string noDir = Path.Combine(missing, "out.json");
        try
        {
            var (code, _, diag) = RunFull(kernel, "--module", missing + ",arg");
            Assert.Equal(2, code);
            Assert.Contains($"--module: cannot read {missing}", diag);
            (code, _, diag) = RunFull(kernel, "--vmx-trace", noDir);
            Assert.Equal(2, code);
            Assert.Contains($"--vmx-trace {noDir}: cannot write", diag);
            (code, _, diag) = RunFull(kernel, "--timeline", noDir);
            Assert.Equal(2, code);
            Assert.Contains($"--timeline {noDir}: cannot write", diag);
            (code, _, diag) = RunFull(kernel, "--initrd", missing);
            Assert.Equal(2, code);
            Assert.Contains($"--initrd: cannot read {missing}", diag);
        }
        finally { File.Delete(kernel); }
    }

    /// <summary>--module needs a multiboot kernel (like --initrd needs a bzImage).</summary>
    [Fact]
    public void ModulesNeedAMultibootKernel()
    {
        string flat = TempFile([0xF4]);
        try
        {
            var (code, _, diag) = RunFull(flat, "--flat", "0x1000", "--module", flat);
            Assert.Equal(2, code);
            Assert.Contains("--module needs a multiboot kernel", diag);
        }
        finally { File.Delete(flat); }
    }

    /// <summary>
    /// --cpus N gives the machine N processors: the bootstrap processor (a flat image) sends
    /// INIT and a start-up IPI to APIC ID 1 (SDM Vol. 3A, 10.6.1 ICR; 9.4.4 MP initialization);
    /// that application processor starts in real mode at vector 08h × 4 KiB = 8000h and writes the
    /// debug exit. With --cpus 1 there is no APIC ID 1: the IPI goes nowhere and the BSP spins to
    /// the instruction limit.
    /// </summary>
    [Fact]
    public void CpusGivesTheMachineApplicationProcessorsThatStartOnSipi()
    {
        byte[] image = new byte[0x7000 + 5];
        byte[] bsp =
        [
            0xC7, 0x05, 0x10, 0x03, 0xE0, 0xFE, 0x00, 0x00, 0x00, 0x01, // mov dword [FEE00310h], 01000000h (ICR high: APIC ID 1)
            0xC7, 0x05, 0x00, 0x03, 0xE0, 0xFE, 0x00, 0x45, 0x00, 0x00, // mov dword [FEE00300h], 4500h (INIT, assert)
            0xC7, 0x05, 0x00, 0x03, 0xE0, 0xFE, 0x08, 0x46, 0x00, 0x00, // mov dword [FEE00300h], 4608h (start-up, vector 08h)
            0xF3, 0x90, 0xEB, 0xFC,                                     // spin: pause; jmp spin
        ];
        bsp.CopyTo(image, 0);
        byte[] ap = [0xB0, 0x2A, 0xE6, 0xF4, 0xF4];                      // (real mode at 8000h) mov al, 2Ah; out 0F4h, al; hlt
        ap.CopyTo(image, 0x7000);                                        // loaded at 1000h: 1000h + 7000h = 8000h
        string path = TempFile(image);
        try
        {
            var (code, _, diag) = RunFull(path, "--flat", "0x1000", "--cpus", "2", "--max-instructions", "100000");
            Assert.True(code == ((0x2A << 1) | 1), $"exit {code}: {diag}");
            Assert.Contains("DebugExit", diag);
            Assert.Contains("(cpu 1)", diag);                             // the application processor stopped the run
            (code, _, diag) = RunFull(path, "--flat", "0x1000", "--cpus", "1", "--max-instructions", "100000");
            Assert.True(code == 5, $"exit {code}: {diag}");
            Assert.Equal((0x2A << 1) | 1, RunFull(path, "--flat", "0x1000", "--cpus", "64", "--max-instructions", "100000").Code);
        }
        finally { File.Delete(path); }
    }

    /// <summary>
    /// Two --module files reach a multiboot kernel as the multiboot 0.6.96 (3.3) module list: flag
    /// 3 set, mods_count 2, each mod_start page-aligned (header flag 0) holding the file's bytes,
    /// mod_end - mod_start its length, the second after the first, and each string the file name
    /// followed by " " and the text after the comma (none for the second). The kernel checks
    /// it all and exits 21h; each failed check exits with its own number.
    /// </summary>
    [Fact]
    public void ModulesReachAMultibootKernelInTheModuleList()
    {
        var a = new Assembler(32);
        var fail = a.CreateLabel();
        void Check(byte step, Action<Label> jumpIfBad) { a.mov(cl, step); jumpIfBad(fail); }
        Check(1, l => { a.cmp(eax, 0x2BADB002); a.jne(l); });
        Check(2, l => { a.test(__dword_ptr[ebx], 8); a.jz(l); });                 // flags bit 3: mods_* valid
        Check(3, l => { a.cmp(__dword_ptr[ebx + 20], 2); a.jne(l); });            // mods_count
        a.mov(esi, __dword_ptr[ebx + 24]);                                        // mods_addr
        a.mov(edi, __dword_ptr[esi]);                                             // module 0: mod_start
        Check(4, l => { a.cmp(__dword_ptr[edi], 0x11223344); a.jne(l); });
        Check(5, l => { a.test(edi, 0xFFF); a.jnz(l); });
        Check(6, l => { a.mov(edx, __dword_ptr[esi + 4]); a.sub(edx, edi); a.cmp(edx, 5); a.jne(l); });
        Check(7, l => { a.mov(edx, __dword_ptr[esi + 16]); a.cmp(edx, __dword_ptr[esi + 4]); a.jb(l); }); // module 1 after module 0
        Check(8, l => { a.cmp(__dword_ptr[edx], 0x55667788); a.jne(l); });
        Check(9, l => { a.test(edx, 0xFFF); a.jnz(l); });
        // Module 0's string ends with " arg=1" and its NUL.
        a.mov(edi, __dword_ptr[esi + 8]);
        a.xor(eax, eax);
        a.mov(ecx, -1);
        a.cld();
        a.repne.scasb();
        Check(10, l => { a.cmp(__dword_ptr[edi - 7], 0x67726120); a.jne(l); });  // " arg"
        Check(11, l => { a.cmp(__dword_ptr[edi - 4], 0x00313D67); a.jne(l); });  // "g=1\0"
        // Module 1's string is its file name, which ends in ".mod".
        a.mov(edi, __dword_ptr[esi + 24]);
        a.mov(ecx, -1);
        a.repne.scasb();
        Check(12, l => { a.cmp(__dword_ptr[edi - 5], 0x646F6D2E); a.jne(l); });  // ".mod"
        a.mov(al, 0x21);
        a.@out(0xF4, al);
        a.hlt();
        a.Label(ref fail);
        a.mov(al, cl);
        a.@out(0xF4, al);
        a.hlt();
        var w = new ListWriter();
        a.Assemble(w, 0x10_0000 + 16);
        string kernel = TempFile(MultibootHeader.ElfKernel(w.Bytes.ToArray()));
        string mod0 = Path.Combine(Path.GetTempPath(), $"vtx-mod0-{Guid.NewGuid():N}.mod");
        string mod1 = Path.Combine(Path.GetTempPath(), $"vtx-mod1-{Guid.NewGuid():N}.mod");
        File.WriteAllBytes(mod0, [0x44, 0x33, 0x22, 0x11, 0x99]);
        File.WriteAllBytes(mod1, [0x88, 0x77, 0x66, 0x55]);
        try
        {
            var (code, _, diag) = RunFull(kernel, "--ram", "16", "--module", mod0 + ",arg=1", "--module", mod1);
            Assert.True(code == ((0x21 << 1) | 1), $"exit {code} (check {code >> 1} failed): {diag}");
        }
        finally { File.Delete(kernel); File.Delete(mod0); File.Delete(mod1); }
    }

    /// <summary>--cpu-model and --cost-model are --timing's other names, and take the profiles' aliases too.</summary>
    [Fact]
    public void CostModelAndCpuModelAreTheTimingOption()
    {
        string path = TempFile([0x83, 0xC0, 0x01, 0x83, 0xC3, 0x01, 0x83, 0xC1, 0x01, 0x83, 0xC2, 0x01, 0xEB, 0xF2]);
        try
        {
            string Last(params string[] o) => RunFull([path, "--flat", "0x1000", "--max-instructions", "5000", .. o]).Diagnostics;
            Assert.Equal(Last("--timing", "simple"), Last("--cost-model", "vtx-cost-1"));
            Assert.Equal(Last("--timing", "haswell"), Last("--cpu-model", "HSW"));
            Assert.Equal(Last(), Last("--cpu-model", "skylake-client"));       // the default
            Assert.Contains("after 5000 instructions, 5000 cycles", Last("--cpu-model", "simple")); // vtx-cost-1: one cycle per instruction
        }
        finally { File.Delete(path); }
    }
    /// <summary>'kill' from gdb ends Vtx.Run with status 7 before the guest runs on (its debug exit would give 11).</summary>
    [Fact]
    public void KillFromGdbIsStatus7()
    {
        string path = TempFile([0xB0, 0x05, 0xE6, 0xF4]);
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        int code = -1;
        var diag = new StringWriter();
        var runner = new Thread(() => code = Vtx.Run.Runner.Run([path, "--flat", "0x1000", "--gdb", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], new StringWriter(), TextWriter.Synchronized(diag)));
        runner.Start();
        Debugging.RspClient? c = null;
        for (int i = 0; i < 200 && c is null; i++)
        {
            try { c = new Debugging.RspClient(port); }
            catch (System.Net.Sockets.SocketException) { Thread.Sleep(50); }
        }
        try
        {
            Assert.NotNull(c);
            c.SendRaw(Debugging.RspClient.Frame("k"));
            Assert.True(runner.Join(20_000), "Vtx.Run did not finish");
            Assert.Equal(7, code);
            Assert.Contains("Vtx.Run: killed from gdb", diag.ToString());
        }
        finally { c?.Dispose(); File.Delete(path); }
    }
}


