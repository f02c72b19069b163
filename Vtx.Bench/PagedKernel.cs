using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Bench;

/// <summary>
/// Issue 13's paged workload: one multiboot (v1, a.out-kludge) image that enters in 32-bit protected
/// mode, maps the first 128 MiB with 4-KiB pages through 4-level (IA-32e) paging, switches to 64-bit
/// mode, sieves the numbers below 64 Mi in a 64-MiB byte array, chases a pointer cycle through 8,192
/// pages (one node per page, a full-period LCG order, so every load misses any small TLB), prints both
/// results in hex on port E9h and leaves through the debug-exit port F4h. The same bytes run under Vtx
/// (a child process of this benchmark: <c>--paged-guest FILE</c>) and under
/// <c>qemu-system-x86_64 -accel tcg -kernel FILE</c>; whole-process wall time of each, alternated.
/// </summary>
public static class PagedKernel
{
    public const ulong LoadAddress = 0x10_0000;
    private const ulong Gdtr = LoadAddress + MultibootHeader.GdtrOffset, Entry32 = LoadAddress + 0x100, Entry64 = LoadAddress + 0x800;
    private const ulong Pml4 = 0x20_0000, Pdpt = 0x20_1000, Pd = 0x20_2000, Pt = 0x20_3000;
    private const int MappedMiB = 128, PtPages = MappedMiB / 2;    // one page table maps 2 MiB
    public const ulong Sieve = 0x100_0000, SieveSize = 64UL << 20;  // 16 MiB .. 80 MiB
    public const ulong Chase = 0x500_0000;                          // 80 MiB .. 112 MiB
    public const int ChasePages = 8192;
    public const ulong ChaseSteps = 16_000_000;
    private const ulong LcgA = 2653, LcgC = 1237;                   // a = 1 mod 4, c odd: full period mod 2^13 (Hull-Dobell)
    public const int MemoryMiB = MappedMiB;

    /// <summary>Address of node <paramref name="i"/> of the chase (a different cache line in each page).</summary>
    private static ulong Node(ulong i) => Chase + i * 4096 + ((i * 64) & 0xFC0);

    /// <summary>What the guest must print, computed here independently (a host sieve and the same LCG).</summary>
    public static string ExpectedOutput()
    {
        var composite = new bool[SieveSize];
        long primes = 0;
        for (long p = 2; p < (long)SieveSize; p++)
        {
            if (composite[p]) continue;
            primes++;
            for (long j = p * p; j < (long)SieveSize; j += p) composite[j] = true;
        }
        ulong at = 0;
        for (ulong s = 0; s < ChaseSteps; s++) at = (at * LcgA + LcgC) & (ChasePages - 1);
        return $"{primes:x16}\n{Node(at):x16}\n";
    }

    /// <summary>The image: header, GDT, 32-bit set-up code at +100h, 64-bit code at +800h.</summary>
    public static byte[] Build()
    {
        var image = new byte[0x1000];
        Span<byte> s = image;
        MultibootHeader.Write(s, LoadAddress, LoadAddress + 0x1000, Entry32);

        byte[] c32 = Assemble(32, Entry32, a =>
        {
            var pd = a.CreateLabel();
            var pt = a.CreateLabel();
            a.mov(esp, 0x30_0000);
            a.mov(edi, (uint)Pml4);
            a.mov(ecx, (uint)(Pt + PtPages * 4096 - Pml4) / 4);
            a.xor(eax, eax);
            a.rep.stosd();
            a.mov(__dword_ptr[(uint)Pml4], (uint)Pdpt | 3);
            a.mov(__dword_ptr[(uint)Pdpt], (uint)Pd | 3);
            a.xor(ecx, ecx);
            a.Label(ref pd);                                   // PD[i] = PT_i | P | W
            a.lea(eax, __dword_ptr[ecx * 4 + 0]);
            a.shl(eax, 10);
            a.add(eax, (uint)Pt | 3);
            a.mov(__dword_ptr[ecx * 8 + (int)Pd], eax);
            a.inc(ecx);
            a.cmp(ecx, PtPages);
            a.jb(pd);
            a.xor(ecx, ecx);
            a.Label(ref pt);                                   // PTE j = j * 4 KiB | P | W (identity)
            a.mov(eax, ecx);
            a.shl(eax, 12);
            a.or(eax, 3);
            a.mov(__dword_ptr[ecx * 8 + (int)Pt], eax);
            a.inc(ecx);
            a.cmp(ecx, PtPages * 512);
            a.jb(pt);
            MultibootHeader.EnterLongMode(a, Pml4, Gdtr, Entry64, cr4Set: 0x20, cr0Clear: 0, cr0Set: 0x8000_0001); // PAE; PG, PE
        });
        byte[] c64 = Assemble(64, Entry64, a =>
        {
            var outer = a.CreateLabel();
            var inner = a.CreateLabel();
            var next = a.CreateLabel();
            var count = a.CreateLabel();
            var countLoop = a.CreateLabel();
            var build = a.CreateLabel();
            var chase = a.CreateLabel();
            var print = a.CreateLabel();
            var digit = a.CreateLabel();
            var dec = a.CreateLabel();
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(rsp, 0x30_0000);
            // Sieve: clear, then mark multiples of every prime p with p*p < N.
            a.mov(r8, Sieve);
            a.mov(rdi, r8);
            a.xor(eax, eax);
            a.mov(rcx, SieveSize / 8);
            a.rep.stosq();
            a.mov(ebx, 2);
            a.Label(ref outer);
            a.mov(rax, rbx);
            a.imul(rax, rbx);
            a.cmp(rax, (int)SieveSize);
            a.jae(count);
            a.cmp(__byte_ptr[r8 + rbx], 0);
            a.jne(next);
            a.Label(ref inner);
            a.mov(__byte_ptr[r8 + rax], 1);
            a.add(rax, rbx);
            a.cmp(rax, (int)SieveSize);
            a.jb(inner);
            a.Label(ref next);
            a.inc(rbx);
            a.jmp(outer);
            // Count: composites per qword by POPCNT (each byte 0 or 1); primes = N - 2 - composites.
            a.Label(ref count);
            a.xor(ecx, ecx);
            a.mov(rsi, r8);
            a.mov(rdi, Sieve + SieveSize);
            a.Label(ref countLoop);
            a.popcnt(rax, __qword_ptr[rsi]);
            a.add(rcx, rax);
            a.add(rsi, 8);
            a.cmp(rsi, rdi);
            a.jb(countLoop);
            a.mov(rax, SieveSize - 2);                        // 0 and 1 are neither (never marked)
            a.sub(rax, rcx);
            a.call(print);
            // Chase: node i holds the address of node (a*i + c) mod 8192.
            a.xor(ecx, ecx);
            a.Label(ref build);
            a.mov(rax, rcx);                                   // rdi = node(i)
            a.shl(rax, 12);
            a.mov(rdx, rcx);
            a.shl(rdx, 6);
            a.and(edx, 0xFC0);
            a.lea(rdi, __[rax + rdx]);
            a.mov(r9, Chase);
            a.add(rdi, r9);
            a.imul(rax, rcx, (int)LcgA);                        // j = (a*i + c) mod 8192
            a.add(rax, (int)LcgC);
            a.and(eax, ChasePages - 1);
            a.mov(rdx, rax);
            a.shl(rax, 12);
            a.shl(rdx, 6);
            a.and(edx, 0xFC0);
            a.add(rax, rdx);
            a.add(rax, r9);
            a.mov(__qword_ptr[rdi], rax);
            a.inc(ecx);
            a.cmp(ecx, ChasePages);
            a.jb(build);
            a.mov(rsi, Chase);                                 // node 0
            a.mov(rcx, ChaseSteps);
            a.Label(ref chase);
            a.mov(rsi, __qword_ptr[rsi]);
            a.dec(rcx);
            a.jnz(chase);
            a.mov(rax, rsi);
            a.call(print);
            a.mov(dx, 0xF4);
            a.xor(eax, eax);
            a.@out(dx, eax);                                   // debug exit (QEMU: status 1)
            a.hlt();
            // print: RAX as 16 hex digits and a newline on port E9h.
            a.Label(ref print);
            a.mov(r10, rax);
            a.mov(r11d, 16);
            a.mov(dx, 0xE9);
            a.Label(ref digit);
            a.rol(r10, 4);
            a.mov(eax, r10d);
            a.and(eax, 15);
            a.cmp(al, 10);
            a.jb(dec);
            a.add(al, (byte)('a' - 10 - '0'));
            a.Label(ref dec);
            a.add(al, (byte)'0');
            a.@out(dx, al);
            a.dec(r11d);
            a.jnz(digit);
            a.mov(al, (byte)'\n');
            a.@out(dx, al);
            a.ret();
        });
        if (c32.Length > 0x700 || c64.Length > 0x800) throw new InvalidOperationException("paged kernel code overflows its slots");
        c32.CopyTo(image, (int)(Entry32 - LoadAddress));
        c64.CopyTo(image, (int)(Entry64 - LoadAddress));
        return image;
    }

    private static byte[] Assemble(int bits, ulong at, Action<Assembler> body) => MultibootHeader.Assemble(bits, at, body);

    /// <summary>
    /// <c>--paged-guest FILE</c>: the Vtx side, in its own process so that both sides are timed alike
    /// (process start to exit). Prints the guest's port-E9h output; exit code 0 when the guest left through
    /// the debug-exit port.
    /// </summary>
    public static int RunGuest(string path)
    {
        // VTX_BENCH_TIMING=simple runs the guest with the simple profile (no block simulation, no TLB timing
        // model): for measuring what the timing models cost in host time, not for the comparison itself.
        CpuModel? model = Environment.GetEnvironmentVariable("VTX_BENCH_TIMING") == "simple" ? new CpuModel { Timing = Timing.TimingProfile.Simple } : null;
        var m = new Machine(new MachineOptions { MemoryMiB = MemoryMiB, CpuModel = model });
        m.LoadMultiboot(File.ReadAllBytes(path));
        var output = new StringBuilder();
        m.DebugConsole.Written += b => output.Append((char)b);
        var r = m.Run(new RunLimits { MaxInstructions = 100_000_000_000 });
        Console.Write(output.ToString());
        Console.Error.WriteLine($"vtx: {r.Reason}, {r.Instructions:N0} instructions, {r.Cycles:N0} cycles");
        return r.Reason == StopReason.DebugExit ? 0 : 1;
    }

    /// <summary>
    /// <c>--paged [runs]</c>: builds the image, checks the expected output, makes sure QEMU is installed
    /// (Debian's qemu-system-x86 through apt-get when it is missing and this is root), then alternates
    /// Vtx and QEMU TCG <paramref name="runs"/> times and prints the medians and the ratio.
    /// </summary>
    public static int Compare(int runs)
    {
        string path = Path.Combine(Path.GetTempPath(), "vtx-paged-kernel.bin");
        File.WriteAllBytes(path, Build());
        string expected = ExpectedOutput();
        string qemu = HostProcess.EnsureQemu();
        string self = Environment.ProcessPath ?? "dotnet";
        string selfArgs = self.EndsWith("dotnet", StringComparison.Ordinal) ? $"\"{typeof(PagedKernel).Assembly.Location}\" " : "";
        Console.WriteLine($"paged kernel: {path} ({SieveSize >> 20} MiB sieve, {ChaseSteps:N0} chase steps over {ChasePages} pages, {MemoryMiB} MiB RAM)");
        var vtx = new List<(double Wall, double Cpu)>();
        var tcg = new List<(double Wall, double Cpu)>();
        for (int i = 0; i < runs; i++)
        {
            vtx.Add(TimeProcess(self, selfArgs + $"--paged-guest \"{path}\"", expected, 0, "vtx"));
            if (qemu.Length > 0)
                tcg.Add(TimeProcess(qemu, $"-machine pc -accel tcg -cpu max -m {MemoryMiB} -display none -no-reboot -serial none -monitor none " +
                    $"-debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel \"{path}\"", expected, 1, "qemu"));
        }
        (double vw, double vc) = (Median(vtx.Select(v => v.Wall)), Median(vtx.Select(v => v.Cpu)));
        Console.WriteLine($"Vtx      median wall {vw:F2} s, CPU {vc:F2} s  (runs: {string.Join(", ", vtx.Select(v => v.Wall.ToString("F2", CultureInfo.InvariantCulture)))})");
        if (tcg.Count > 0)
        {
            (double qw, double qc) = (Median(tcg.Select(v => v.Wall)), Median(tcg.Select(v => v.Cpu)));
            Console.WriteLine($"QEMU TCG median wall {qw:F2} s, CPU {qc:F2} s  (runs: {string.Join(", ", tcg.Select(v => v.Wall.ToString("F2", CultureInfo.InvariantCulture)))})");
            Console.WriteLine($"Vtx/QEMU = {vw / qw:F2} (wall), {vc / qc:F2} (CPU time, user + system, all threads)");
        }
        else Console.WriteLine("QEMU TCG: not available (qemu-system-x86_64 not found and could not be installed)");
        return 0;
    }

    /// <summary>One timed process (<see cref="HostProcess.Time"/>), printed as it finishes.</summary>
    private static (double Wall, double Cpu) TimeProcess(string file, string args, string expected, int expectedExit, string name)
    {
        var (wall, cpu, err) = HostProcess.Time(file, args, expected, expectedExit, name);
        Console.WriteLine($"  {name,-5} {wall,7:F2} s wall, {cpu,7:F2} s CPU  {err.Trim()}");
        return (wall, cpu);
    }

    private static double Median(IEnumerable<double> values) => HostProcess.Median(values);
}
