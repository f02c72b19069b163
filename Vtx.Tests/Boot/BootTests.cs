using Iced.Intel;
using Vtx.Loaders;
using Vtx.Tests.Loaders;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
#pragma warning disable CS8618

namespace Vtx.Tests.Boot;

/// <summary>End-to-end: small kernels built here boot through the multiboot loader, print over the UART and leave through the debug-exit port.</summary>
public class BootTests
{
    private const ulong Text = 0x10_0000;

    /// <summary>
    /// A multiboot ELF kernel whose code (after the 16-byte header slot) is <paramref name="body"/>,
    /// assembled for 32-bit mode. The body gets the address of its "msg" label from a first pass
    /// (32-bit code has no RIP-relative addressing; instruction sizes do not depend on the value).
    /// </summary>
    internal static byte[] Kernel(Action<Assembler, uint> body)
    {
        uint msgAddr = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            var a = new Assembler(32);
            body(a, msgAddr);
            var w = new Bytes();
            var result = a.Assemble(w, Text + 16, BlockEncoderOptions.ReturnNewInstructionOffsets);
            if (pass == 1) return MultibootHeader.ElfKernel(w.ToArray());
            msgAddr = (uint)result.GetLabelRIP(MsgLabel);
        }
        throw new InvalidOperationException("unreachable");
    }

    private static Label MsgLabel;

    private sealed class Bytes : CodeWriter
    {
        private readonly List<byte> _b = new();
        public override void WriteByte(byte value) => _b.Add(value);
        public byte[] ToArray() => _b.ToArray();
    }

    /// <summary>Declares the message label at the current position.</summary>
    internal static void Message(Assembler a, string text)
    {
        MsgLabel = a.CreateLabel();
        a.Label(ref MsgLabel);
        a.db(System.Text.Encoding.ASCII.GetBytes(text));
        a.db(0);
    }

    /// <summary>Prints the zero-terminated string at <paramref name="msg"/> on COM1.</summary>
    internal static void Print(Assembler a, uint msg)
    {
        var loop = a.CreateLabel();
        var done = a.CreateLabel();
        a.mov(esi, msg);
        a.mov(dx, 0x3F8);
        a.Label(ref loop);
        a.lodsb();
        a.test(al, al);
        a.jz(done);
        a.@out(dx, al);
        a.jmp(loop);
        a.Label(ref done);
    }

    [Fact]
    public void MultibootKernelPrintsAndExitsWithItsCode()
    {
        var kernel = Kernel((a, msg) =>
        {
            var bad = a.CreateLabel();
            a.mov(esp, 0x8_0000);
            a.cmp(eax, 0x2BADB002);
            a.jne(bad);
            a.cmp(__dword_ptr[ebx + 4], 640);   // mem_lower
            a.jne(bad);
            Print(a, msg);
            a.mov(al, 0x10);
            a.@out(0xF4, al);                     // exit code (0x10 << 1) | 1
            a.Label(ref bad);
            a.mov(al, 0x7F);
            a.@out(0xF4, al);
            Message(a, "hello from a multiboot kernel\n");
        });
        var m = new Machine(new MachineOptions { MemoryMiB = 8 });
        var image = m.LoadMultiboot(kernel, new MultibootOptions { KernelName = "kernel.elf", Arguments = "quiet" });
        Assert.Equal("kernel.elf quiet", image.CommandLine);
        Assert.Equal(OperatingMode.Protected, m.Cpu.Mode);
        Assert.Equal(32, m.Cpu.CodeSize);

        var r = m.Run(RunLimits.Instructions(100_000));
        Assert.Equal(StopReason.DebugExit, r.Reason);
        Assert.Equal(0x21, r.ExitCode);
        Assert.Equal("hello from a multiboot kernel\n", m.Uart.Output);
    }

    [Fact]
    public void RunnerBootsAKernelFileAndReturnsTheExitCode()
    {
        var kernel = Kernel((a, msg) =>
        {
            Print(a, msg);
            a.mov(al, 3);
            a.@out(0xF4, al);
            Message(a, "runner ok\n");
        });
        string path = Path.Combine(Path.GetTempPath(), $"vtx-kernel-{Guid.NewGuid():N}.elf");
        File.WriteAllBytes(path, kernel);
        try
        {
            var output = new StringWriter();
            var diag = new StringWriter();
            int code = Vtx.Run.Runner.Run(new[] { path, "--ram", "16", "--trace-events" }, output, diag);
            Assert.Equal(7, code);
            Assert.Equal("runner ok\n", output.ToString());
            Assert.Contains("multiboot kernel", diag.ToString());
            Assert.Contains("DebugExit", diag.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RunnerRejectsAGarbageImageWithAClearMessage()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vtx-garbage-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, new byte[] { 1, 2, 3, 4, 5 });
        try
        {
            var diag = new StringWriter();
            int code = Vtx.Run.Runner.Run(new[] { path }, new StringWriter(), diag);
            Assert.Equal(2, code);
            Assert.Contains(path, diag.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HaltWithInterruptsOffEndsTheRun()
    {
        var kernel = MultibootHeader.ElfKernel(); // cli; hlt; jmp $-1
        var m = new Machine(new MachineOptions { MemoryMiB = 4 });
        m.LoadMultiboot(kernel);
        var r = m.Run(RunLimits.Instructions(1000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.True(m.Cpu.IsHalted);
    }
}
