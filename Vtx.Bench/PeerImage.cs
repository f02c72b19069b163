using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Bench;

/// <summary>
/// Wraps one flat <see cref="Workload"/> in a multiboot (v1, a.out-kludge) kernel image so that a
/// system emulator (QEMU's TCG with <c>-kernel</c>) runs the very same code bytes with the same inputs
/// as the in-process hosts: 32-bit entry, identity map of the first GiB with 2-MiB pages (4-level
/// IA-32e paging), long mode, SSE enabled (CR4.OSFXSR/OSXMMEXCPT), the workload's initial data copied
/// to <see cref="Layout.DataAddress"/>, RSP = <see cref="Layout.StackTop"/>, then
/// <c>iterations</c> calls of the function with RDI = data address and RSI = <see cref="Workload.Arg1"/>.
/// The wrapping sum of all results and a fold of the data buffer are printed in hex on port E9h
/// (QEMU <c>-debugcon</c>, Vtx <see cref="Machine.DebugConsole"/>), then the guest leaves through the
/// debug-exit port F4h (QEMU <c>isa-debug-exit</c>: process status 1; Vtx: <see cref="StopReason.DebugExit"/>).
/// </summary>
/// <remarks>
/// The workload code sits at <see cref="CodeAddress"/> (the image's first page holds the header and the
/// wrapper); the workloads use only relative branches and reach data through RDI, so the address does
/// not change what they compute. Inside one call the guest state is the in-process hosts' state: RSP =
/// StackTop − 8 holding the return address, RDI, RSI as above.
/// </remarks>
public static class PeerImage
{
    public const ulong LoadAddress = 0x10_0000;
    private const ulong Gdtr = LoadAddress + MultibootHeader.GdtrOffset, Entry32 = LoadAddress + 0x100, Entry64 = LoadAddress + 0x400;

    /// <summary>Where the workload's code is placed in the image (one page after the load address).</summary>
    public const ulong CodeAddress = LoadAddress + 0x1000;

    /// <summary>Where the workload's initial data is carried in the image (copied to <see cref="Layout.DataAddress"/> at start).</summary>
    private const ulong DataImage = LoadAddress + 0x2000;

    private const ulong Pml4 = 0x40_0000, Pdpt = 0x40_1000, Pd = 0x40_2000;

    /// <summary>Guest RAM the image needs (page tables end at 4 MiB + 12 KiB).</summary>
    public const int MemoryMiB = 8;

    /// <summary>Instructions the wrapper retires per iteration besides the workload's own (MOV RDI, MOV RSI, CALL, ADD, DEC, JNZ).</summary>
    public const int LoopInstructions = 6;

    /// <summary>
    /// The port-E9h output of an image running <paramref name="iterations"/> calls that each return
    /// <paramref name="result"/> and leave <paramref name="data"/> in the buffer: the wrapping sum of the
    /// results, then <see cref="DataChecksum"/> of the buffer, each as 16 hex digits and a newline.
    /// </summary>
    public static string ExpectedOutput(ulong result, ulong iterations, ReadOnlySpan<byte> data) =>
        $"{unchecked(result * iterations):x16}\n{DataChecksum(data):x16}\n";

    /// <summary>The guest's fold of the data buffer: h = rol(h, 5) ^ qword, over the whole qwords.</summary>
    public static ulong DataChecksum(ReadOnlySpan<byte> data)
    {
        ulong h = 0;
        for (int i = 0; i + 8 <= data.Length; i += 8)
            h = ulong.RotateLeft(h, 5) ^ BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
        return h;
    }

    /// <summary>The workload's initial data buffer (what an image running 0 calls folds).</summary>
    public static byte[] InitialData(Workload w)
    {
        var data = new byte[w.DataBytes];
        w.InitData(data);
        return data;
    }

    /// <summary>Builds the image for <paramref name="w"/> and <paramref name="iterations"/> calls (0 = boot, print 0, exit).</summary>
    public static byte[] Build(Workload w, ulong iterations)
    {
        if (w.Code.Length > 0x1000) throw new ArgumentException($"{w.Name}: code larger than its 4-KiB slot");
        byte[] data = InitialData(w);
        var image = new byte[(int)(DataImage - LoadAddress) + data.Length];
        Span<byte> s = image;
        MultibootHeader.Write(s, LoadAddress, LoadAddress + (ulong)image.Length, Entry32);

        byte[] c32 = Assemble(32, Entry32, a =>
        {
            var pd = a.CreateLabel();
            a.mov(esp, (uint)Layout.StackTop);
            a.mov(edi, (uint)Pml4);                            // clear PML4, PDPT, PD
            a.mov(ecx, 3 * 4096 / 4);
            a.xor(eax, eax);
            a.rep.stosd();
            a.mov(__dword_ptr[(uint)Pml4], (uint)Pdpt | 3);
            a.mov(__dword_ptr[(uint)Pdpt], (uint)Pd | 3);
            a.xor(ecx, ecx);
            a.Label(ref pd);                                   // PDE i = i * 2 MiB | PS | W | P (identity)
            a.mov(eax, ecx);
            a.shl(eax, 21);
            a.or(eax, 0x83);
            a.mov(__dword_ptr[ecx * 8 + (int)Pd], eax);
            a.inc(ecx);
            a.cmp(ecx, 512);
            a.jb(pd);
            // PAE, OSFXSR, OSXMMEXCPT (the SSE workload); EM off (x87/SSE execute); PG, NE, MP, PE.
            MultibootHeader.EnterLongMode(a, Pml4, Gdtr, Entry64, cr4Set: 0x20 | 0x200 | 0x400, cr0Clear: 0x4, cr0Set: 0x8000_0023);
        });
        byte[] c64 = Assemble(64, Entry64, a =>
        {
            var loop = a.CreateLabel();
            var done = a.CreateLabel();
            var digit = a.CreateLabel();
            var fold = a.CreateLabel();
            var print = a.CreateLabel();
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(rsp, Layout.StackTop);
            if (data.Length > 0)
            {
                a.mov(rsi, DataImage);
                a.mov(rdi, Layout.DataAddress);
                a.mov(ecx, data.Length);
                a.rep.movsb();
            }
            a.fninit();                                        // FCW 037Fh as an OS (and the native host) has it; RESET gives 0040h
            a.mov(r12, iterations);                            // R12, R13: callee-saved in the System V ABI
            a.xor(r13d, r13d);
            a.test(r12, r12);
            a.jz(done);
            a.Label(ref loop);
            a.mov(rdi, Layout.DataAddress);
            a.mov(rsi, w.Arg1);
            a.call(CodeAddress);
            a.add(r13, rax);
            a.dec(r12);
            a.jnz(loop);
            a.Label(ref done);
            // Fold the data buffer (as DataChecksum does) so the buffer is checked too, not only RAX.
            a.xor(ebx, ebx);
            if (data.Length >= 8)
            {
                a.mov(rsi, Layout.DataAddress);
                a.mov(ecx, data.Length / 8);
                a.Label(ref fold);
                a.rol(rbx, 5);
                a.xor(rbx, __qword_ptr[rsi]);
                a.add(rsi, 8);
                a.dec(ecx);
                a.jnz(fold);
            }
            a.mov(r10, r13);
            a.call(print);
            a.mov(r10, rbx);
            a.call(print);
            a.mov(dx, 0xF4);
            a.xor(eax, eax);
            a.@out(dx, eax);                                   // debug exit
            a.hlt();
            // print: R10 as 16 hex digits and a newline on port E9h; branch-free (CMOV), so the instruction
            // count does not depend on the value and one more iteration adds exactly one call and the loop.
            a.Label(ref print);
            a.mov(r11d, 16);
            a.mov(dx, 0xE9);
            a.Label(ref digit);
            a.rol(r10, 4);
            a.mov(ecx, r10d);
            a.and(ecx, 15);
            a.lea(eax, __[rcx + '0']);
            a.lea(r9d, __[rcx + ('a' - 10)]);
            a.cmp(ecx, 10);
            a.cmovae(eax, r9d);
            a.@out(dx, al);
            a.dec(r11d);
            a.jnz(digit);
            a.mov(al, (byte)'\n');
            a.@out(dx, al);
            a.ret();
        });
        if (c32.Length > (int)(Entry64 - Entry32) || c64.Length > (int)(CodeAddress - Entry64))
            throw new InvalidOperationException("peer image wrapper overflows its slots");
        c32.CopyTo(image, (int)(Entry32 - LoadAddress));
        c64.CopyTo(image, (int)(Entry64 - LoadAddress));
        w.Code.CopyTo(image, (int)(CodeAddress - LoadAddress));
        data.CopyTo(image, (int)(DataImage - LoadAddress));
        return image;
    }

    /// <summary>
    /// Runs the image in Vtx's own <see cref="Machine"/> through its multiboot loader: the port-E9h output,
    /// how the run stopped and the instructions retired (the proof that the QEMU image computes what the
    /// in-process hosts compute, without QEMU).
    /// </summary>
    public static (string Output, StopReason Reason, ulong Instructions) RunInVtx(byte[] image)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = MemoryMiB });
        m.LoadMultiboot(image);
        var output = new StringBuilder();
        m.DebugConsole.Written += b => output.Append((char)b);
        RunResult r = m.Run(new RunLimits { MaxInstructions = 10_000_000_000 });
        return (output.ToString(), r.Reason, r.Instructions);
    }

    private static byte[] Assemble(int bits, ulong at, Action<Assembler> body) => MultibootHeader.Assemble(bits, at, body);
}
