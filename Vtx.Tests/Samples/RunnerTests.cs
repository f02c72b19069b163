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
        { ["IMG", "--initrd"], "--initrd needs a value" },
        { ["IMG", "--ram", "99999999999"], "--ram '99999999999': not a whole number of MiB" },
        { ["IMG", "--ram", "lots"], "--ram 'lots': not a whole number of MiB" },
        { ["IMG", "--ram"], "--ram needs a value" },
        { ["IMG", "--max-instructions", "-5"], "--max-instructions '-5': not an unsigned" },
        { ["IMG", "--max-cycles", "0xZZ"], "--max-cycles '0xZZ': not an unsigned" },
        { ["IMG", "--flat", "123456789012345678901234567890"], "--flat '123456789012345678901234567890': not an unsigned" },
        { ["IMG", "--bogus"], "unexpected argument '--bogus'" },
        { ["IMG", "--gdb", "0"], "--gdb '0': not a TCP port (1-65535)" },
        { ["IMG", "--gdb", "65536"], "--gdb '65536': not a TCP port (1-65535)" },
        { ["IMG", "--gdb"], "--gdb needs a value" },
        { ["IMG", "--timing", "pentium"], "--timing 'pentium': not a timing profile (skylake, haswell, simple)" },
        { ["IMG", "IMG"], "unexpected argument" },
        { [], "no image given" },
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
            Assert.Contains(message, diag);
            Assert.Contains("usage: Vtx.Run", diag);
        }
        finally { File.Delete(path); }
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
}
