using System.Diagnostics;
using System.Text;
using Iced.Intel;
using Vtx.Tests.Loaders;
using Vtx.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Boot;

/// <summary>
/// The x86-64-v2 baseline end to end: a multiboot kernel whose body is C compiled by gcc in this test
/// (-O2 -msse4.2 -mfpmath=sse; x87 long double, SSE2 double/float, SSE2-SSE4.1 integer intrinsics,
/// SSE4.2 CRC32 and PCMPISTRI, struct copies and memcpy). An Iced-assembled trampoline enters IA-32e
/// mode, enables CR4.OSFXSR/OSXMMEXCPT/OSXSAVE and XCR0 = x87 | SSE, runs FNINIT and calls the C entry,
/// which prints its results over the UART. Oracle: the same object file linked into a host program,
/// run on this machine; its stdout must equal the guest's UART output byte for byte.
/// </summary>
/// <remarks>
/// Needs every instruction family (x87, SSE float, SIMD integer, state); on a branch without one of
/// them it fails and names the instruction that raised #UD. gcc is installed once if missing (as root:
/// apt-get update; apt-get install -y gcc).
/// </remarks>
[Trait("Category", "Completeness")]
public class CompiledCKernelTests
{
    private const ulong Header = 0x10_0000, Entry32 = 0x10_0010, Code64 = 0x10_1000, Data = 0x10_2000, CEntry = 0x11_0000;
    private const ulong Gdtr = Data, Gdt = Data + 0x10;
    private const ulong Pml4 = 0x40_0000, Pdpt = 0x40_1000, Pd0 = 0x40_2000;
    private const string Flags = "-O2 -msse4.2 -mfpmath=sse -ffreestanding -fno-pic -fno-pie -mno-red-zone -fno-math-errno "
        + "-fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none";

    private readonly ITestOutputHelper _out;

    public CompiledCKernelTests(ITestOutputHelper output) => _out = output;

    /// <summary>The C sources, copied next to the test assembly by the project file (a CI build maps source paths to /_/).</summary>
    private static string SourceDir() => Path.Combine(AppContext.BaseDirectory, "CKernel");

    private static (int Code, string Out, string Err) Sh(string file, string args, string? cwd = null) => HostTools.Sh(file, args, cwd);

    /// <summary>gcc, ld and objcopy, installed once with apt-get when missing and the test runs as root.</summary>
    private static void EnsureToolchain() => HostTools.Ensure("gcc", "gcc", "ld", "objcopy");

    private static void Run(string what, string file, string args, string cwd)
    {
        var (code, so, se) = Sh(file, args, cwd);
        Assert.True(code == 0, $"{what} failed ({code}): {file} {args}\n{so}\n{se}");
    }

    /// <summary>Compiles the C sources; returns the host program's output, the flat kernel body and its end address (bss included).</summary>
    private static (string Expected, byte[] Body, ulong End) Compile()
    {
        EnsureToolchain();
        string dir = Directory.CreateTempSubdirectory("vtx-ckernel-").FullName;
        try
        {
            foreach (var f in new[] { "compute.c", "host.c", "kentry.c", "link.ld" })
                File.Copy(Path.Combine(SourceDir(), f), Path.Combine(dir, f));
            Run("compile compute.c", "gcc", $"{Flags} -c compute.c -o compute.o", dir);
            Run("compile kentry.c", "gcc", $"{Flags} -fno-builtin -fno-tree-loop-distribute-patterns -c kentry.c -o kentry.o", dir);
            Run("link kernel", "ld", "-T link.ld -nostdlib -static -o kernel.elf kentry.o compute.o", dir);
            Run("objcopy", "objcopy", "-O binary kernel.elf kernel.bin", dir);
            Run("link host", "gcc", "-no-pie host.c compute.o -o host", dir);
            var (code, expected, err) = Sh(Path.Combine(dir, "host"), "", dir);
            Assert.True(code == 0, "host program failed: " + err);
            var nm = Sh("nm", "kernel.elf", dir).Out;
            string endLine = nm.Split('\n').Single(l => l.EndsWith(" __bss_end", StringComparison.Ordinal));
            ulong end = Convert.ToUInt64(endLine.Split(' ')[0], 16);
            return (expected, File.ReadAllBytes(Path.Combine(dir, "kernel.bin")), end);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The multiboot image: header, 32-bit trampoline, 64-bit set-up, GDT, then the C body at <see cref="CEntry"/>.</summary>
    private static byte[] BuildKernel(byte[] body, ulong end)
    {
        var code32 = Guest.Assemble(a =>
        {
            var fill = a.CreateLabel();
            a.mov(esp, 0x9_0000);
            // Identity-map 0-1 GiB with 2-MiB pages.
            a.mov(edi, (uint)Pml4);
            a.mov(ecx, 3 * 1024);
            a.xor(eax, eax);
            a.rep.stosd();
            a.mov(__dword_ptr[(uint)Pml4], (uint)Pdpt | 3);
            a.mov(__dword_ptr[(uint)Pdpt], (uint)Pd0 | 3);
            a.mov(edi, (uint)Pd0);
            a.mov(eax, 0x83);
            a.mov(ecx, 512);
            a.Label(ref fill);
            a.mov(__dword_ptr[edi], eax);
            a.add(eax, 0x20_0000);
            a.add(edi, 8);
            a.dec(ecx);
            a.jnz(fill);
            a.mov(eax, cr4);
            a.or(eax, 0x20);                       // PAE
            a.mov(cr4, eax);
            a.mov(eax, (uint)Pml4);
            a.mov(cr3, eax);
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 0x100);                      // EFER.LME
            a.wrmsr();
            a.mov(eax, cr0);
            a.or(eax, 0x8000_0001);
            a.mov(cr0, eax);
            a.lgdt(__fword_ptr[(uint)Gdtr]);
            a.jmp(0x08, (uint)Code64);
        }, Entry32, 32);

        var code64 = Guest.Assemble(a =>
        {
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(rsp, 0x9_0000);                  // 16-byte aligned before the call
            // x87 and SSE as an OS enables them (SDM Vol. 3A, 13.1): CR0.EM = 0, MP = NE = 1;
            // CR4.OSFXSR | OSXMMEXCPT | OSXSAVE; XCR0 = x87 | SSE.
            a.mov(rax, cr0);
            a.and(rax, ~4);
            a.or(rax, 0x22);
            a.mov(cr0, rax);
            a.mov(rax, cr4);
            a.or(rax, (1 << 9) | (1 << 10) | (1 << 18));
            a.mov(cr4, rax);
            a.xor(ecx, ecx);
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xsetbv();
            a.fninit();
            a.mov(rax, CEntry);
            a.call(rax);
            a.mov(al, 0x2A);
            a.@out(0xF4, al);
            a.hlt();
        }, Code64, 64);

        var image = new byte[(int)(CEntry - Header) + body.Length];
        MultibootHeader.Build(0x3).CopyTo(image, 0);
        code32.CopyTo(image, (int)(Entry32 - Header));
        code64.CopyTo(image, (int)(Code64 - Header));
        body.CopyTo(image, (int)(CEntry - Header));
        void W16(ulong at, ushort v) => BitConverter.GetBytes(v).CopyTo(image, (int)(at - Header));
        void W32(ulong at, uint v) => BitConverter.GetBytes(v).CopyTo(image, (int)(at - Header));
        void W64(ulong at, ulong v) => BitConverter.GetBytes(v).CopyTo(image, (int)(at - Header));
        W16(Gdtr, 3 * 8 - 1);
        W32(Gdtr + 2, (uint)Gdt);
        W64(Gdt + 8, 0x00AF_9A00_0000_FFFF);   // 64-bit code, DPL 0
        W64(Gdt + 16, 0x00CF_9200_0000_FFFF);  // data
        Assert.True(end < Pml4, "the kernel's bss overlaps the page tables");
        return ElfWriter.Build(false, Entry32, [new TestSegment(Header, image, end - Header, Flags: 7)]);
    }

    [Fact]
    public void CompiledCKernelPrintsWhatTheHostComputes()
    {
        var (expected, body, end) = Compile();
        var m = new Machine(new MachineOptions { MemoryMiB = 16 });
        m.LoadMultiboot(BuildKernel(body, end));
        m.Cpu.InterceptedExceptions = 0xFFFF_FFFF; // the kernel has no IDT: an exception stops the run where it happened
        var r = m.Run(RunLimits.Instructions(50_000_000));
        if (r.Reason != StopReason.DebugExit)
        {
            var sb = new StringBuilder($"the kernel stopped with {r}");
            if (r.Reason == StopReason.Exception)
            {
                var bytes = m.ReadMemory(r.Rip, 15);
                var dec = Iced.Intel.Decoder.Create(64, bytes, r.Rip);
                dec.Decode(out var ins);
                sb.Append($": {ins} ({ins.Code}, {string.Join("+", ins.Code.CpuidFeatures())}) at {r.Rip:X}");
            }
            sb.Append("\nUART so far:\n").Append(m.Uart.Output);
            _out.WriteLine(sb.ToString());
            Assert.Fail(sb.ToString());
        }
        _out.WriteLine(m.Uart.Output);
        Assert.Equal((0x2A << 1) | 1, r.ExitCode);
        Assert.Equal(expected, m.Uart.Output);
    }
}
