using Iced.Intel;
using Vtx.Tests.Loaders;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Boot;

/// <summary>
/// The system layer end to end: a multiboot kernel built here enters in 32-bit protected mode,
/// builds 4-level page tables, enables IA-32e paging, far-jumps to 64-bit code, loads an IDT,
/// takes local-APIC timer interrupts, sends itself an NMI through the ICR, prints over the UART
/// and leaves through the debug-exit port.
/// </summary>
public class LongModeKernelTests
{
    private const ulong Header = 0x10_0000, Entry32 = 0x10_0010, Code64 = 0x10_1000, Data = 0x10_2000;
    private const ulong Gdtr = Data, Gdt = Data + 0x10, Idtr = Data + 0x40, Ticks = Data + 0x50, NmiSeen = Data + 0x58;
    private const ulong Pml4 = 0x20_0000, Pdpt = 0x20_1000, Pd0 = 0x20_2000, Pd3 = 0x20_3000, Idt = 0x20_4000;
    private const ulong ApicBase = 0xFEE0_0000;
    private const byte TimerVector = 0x40;
    private const uint TimerCount = 5000;

    internal static byte[] BuildKernel(out ulong timerHandler, out ulong nmiHandler)
    {
        var code32 = Guest.Assemble(a =>
        {
            var fill = a.CreateLabel();
            a.mov(esp, 0x9_0000);
            // Zero the paging structures, then map 0-1 GiB with 2-MiB pages and the APIC page at 0xFEE00000.
            a.mov(edi, (uint)Pml4);
            a.mov(ecx, 4 * 1024);
            a.xor(eax, eax);
            a.rep.stosd();
            a.mov(__dword_ptr[(uint)Pml4], (uint)Pdpt | 3);
            a.mov(__dword_ptr[(uint)Pdpt], (uint)Pd0 | 3);
            a.mov(__dword_ptr[(uint)Pdpt + 3 * 8], (uint)Pd3 | 3);
            a.mov(edi, (uint)Pd0);
            a.mov(eax, 0x83);
            a.mov(ecx, 512);
            a.Label(ref fill);
            a.mov(__dword_ptr[edi], eax);
            a.add(eax, 0x20_0000);
            a.add(edi, 8);
            a.dec(ecx);
            a.jnz(fill);
            a.mov(__dword_ptr[(uint)Pd3 + 503 * 8], 0xFEE0_0093u); // 2 MiB at 0xFEE00000, PCD
            // CR4.PAE, CR3, EFER.LME, CR0.PG: IA-32e mode becomes active.
            a.mov(eax, cr4);
            a.or(eax, 0x20);
            a.mov(cr4, eax);
            a.mov(eax, (uint)Pml4);
            a.mov(cr3, eax);
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 0x100);
            a.wrmsr();
            a.mov(eax, cr0);
            a.or(eax, 0x8000_0001);
            a.mov(cr0, eax);
            a.lgdt(__fword_ptr[(uint)Gdtr]);
            a.jmp(0x08, (uint)Code64);
        }, Entry32, 32);

        ulong th = 0, nh = 0;
        byte[] code64 = Array.Empty<byte>();
        for (int pass = 0; pass < 2; pass++)
        {
            var asm = new Assembler(64);
            var timer = asm.CreateLabel();
            var nmi = asm.CreateLabel();
            var wait = asm.CreateLabel();
            var rearmDone = asm.CreateLabel();
            var msgHello = asm.CreateLabel();
            var msgNmi = asm.CreateLabel();
            var msgDone = asm.CreateLabel();
            var print = asm.CreateLabel();
            var printLoop = asm.CreateLabel();
            var printEnd = asm.CreateLabel();
            var a = asm;
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(rsp, 0x9_0000);
            a.lea(rsi, __[msgHello]);
            a.call(print);
            // IDT: vector 2 (NMI) and the timer vector, 64-bit interrupt gates to selector 8.
            a.mov(rax, Gate(nh));
            a.mov(__qword_ptr[Idt + 2 * 16], rax);
            a.mov(rax, Gate(th));
            a.mov(__qword_ptr[Idt + TimerVector * 16], rax);
            a.lidt(__[Idtr]);
            // xAPIC: software enable, one-shot timer on TimerVector, divide by 1, initial count.
            a.mov(rbx, ApicBase);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x320], TimerVector);
            a.mov(__dword_ptr[rbx + 0x3E0], 0xB);
            a.mov(__dword_ptr[rbx + 0x380], TimerCount);
            a.sti();
            a.Label(ref wait);
            a.hlt();
            a.cmp(__dword_ptr[Ticks], 3);
            a.jb(wait);
            // NMI to self through the ICR (shorthand self, delivery mode NMI), then wait for it.
            a.mov(__dword_ptr[rbx + 0x310], 0);
            a.mov(__dword_ptr[rbx + 0x300], 0x4_0400);
            var nmiWait = a.CreateLabel();
            a.Label(ref nmiWait);
            a.cmp(__dword_ptr[NmiSeen], 1);
            a.jne(nmiWait);
            a.lea(rsi, __[msgDone]);
            a.call(print);
            a.mov(al, 0x2A);
            a.@out(0xF4, al);

            a.Label(ref timer);
            a.push(rax);
            a.inc(__dword_ptr[Ticks]);
            a.cmp(__dword_ptr[Ticks], 3);
            a.jae(rearmDone);
            a.mov(__dword_ptr[rbx + 0x380], TimerCount); // one-shot: re-arm
            a.Label(ref rearmDone);
            a.mov(__dword_ptr[rbx + 0xB0], 0);            // EOI
            a.pop(rax);
            a.iretq();

            a.Label(ref nmi);
            a.mov(__dword_ptr[NmiSeen], 1);
            a.lea(rsi, __[msgNmi]);
            a.call(print);
            a.iretq();

            a.Label(ref print);
            a.mov(dx, 0x3F8);
            a.Label(ref printLoop);
            a.lodsb();
            a.test(al, al);
            a.jz(printEnd);
            a.@out(dx, al);
            a.jmp(printLoop);
            a.Label(ref printEnd);
            a.ret();

            a.Label(ref msgHello);
            a.db("long mode\n"u8.ToArray());
            a.db(0);
            a.Label(ref msgNmi);
            a.db("nmi\n"u8.ToArray());
            a.db(0);
            a.Label(ref msgDone);
            a.db("done\n"u8.ToArray());
            a.db(0);

            var w = new Writer();
            var result = a.Assemble(w, Code64, BlockEncoderOptions.ReturnNewInstructionOffsets);
            th = result.GetLabelRIP(timer);
            nh = result.GetLabelRIP(nmi);
            code64 = w.Bytes.ToArray();
        }
        timerHandler = th;
        nmiHandler = nh;

        // One segment: multiboot header, 32-bit code, 64-bit code, then GDTR/GDT/IDTR and variables.
        var image = new byte[(int)(Data - Header) + 0x100];
        MultibootHeader.Build(0x3).CopyTo(image, 0);
        code32.CopyTo(image, (int)(Entry32 - Header));
        code64.CopyTo(image, (int)(Code64 - Header));
        void W16(ulong at, ushort v) => BitConverter.GetBytes(v).CopyTo(image, (int)(at - Header));
        void W32(ulong at, uint v) => BitConverter.GetBytes(v).CopyTo(image, (int)(at - Header));
        void W64(ulong at, ulong v) => BitConverter.GetBytes(v).CopyTo(image, (int)(at - Header));
        W16(Gdtr, 3 * 8 - 1);
        W32(Gdtr + 2, (uint)Gdt);
        W64(Gdt + 8, 0x00AF_9A00_0000_FFFF);   // 64-bit code, DPL 0
        W64(Gdt + 16, 0x00CF_9200_0000_FFFF);  // data
        W16(Idtr, 256 * 16 - 1);
        W64(Idtr + 2, Idt);
        return ElfWriter.Build(false, Entry32, [new TestSegment(Header, image, (ulong)image.Length, Flags: 7)]);
    }

    /// <summary>Low quadword of a present 64-bit interrupt gate to selector 8 (handlers lie below 4 GiB).</summary>
    private static ulong Gate(ulong handler) =>
        (handler & 0xFFFF) | (0x08UL << 16) | (0x8E00UL << 32) | (((handler >> 16) & 0xFFFF) << 48);

    private sealed class Writer : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }

    [Fact]
    public void BootsToLongModeTakesTimerInterruptsAndAnIcrNmi()
    {
        var kernel = BuildKernel(out ulong timerHandler, out ulong nmiHandler);
        var m = new Machine(new MachineOptions { MemoryMiB = 16 });
        m.LoadMultiboot(kernel);
        var events = new List<(byte Vector, EventKind Kind, ulong Cycle, ulong Rip)>();
        m.Cpu.EventDelivered = (v, k, _) => events.Add((v, k, m.Cpu.Cycles, m.Cpu.Rip));

        var r = m.Run(RunLimits.Instructions(2_000_000));

        Assert.Equal(StopReason.DebugExit, r.Reason);
        Assert.Equal((0x2A << 1) | 1, r.ExitCode);
        Assert.Equal("long mode\nnmi\ndone\n", m.Uart.Output);
        Assert.Equal(OperatingMode.Long64, m.Cpu.Mode);
        Assert.Equal(3, events.Count(e => e.Vector == TimerVector && e.Kind == EventKind.ExternalInterrupt));
        Assert.Single(events, e => e.Vector == 2 && e.Kind == EventKind.Nmi);
        Assert.All(events.Where(e => e.Vector == TimerVector), e => Assert.Equal(timerHandler, e.Rip));
        Assert.Equal(nmiHandler, events.Single(e => e.Vector == 2).Rip);
    }

    [Fact]
    public void TheBootIsDeterministic()
    {
        var kernel = BuildKernel(out _, out _);
        (ulong, ulong, string) Once()
        {
            var m = new Machine(new MachineOptions { MemoryMiB = 16 });
            m.LoadMultiboot(kernel);
            var r = m.Run(RunLimits.Instructions(2_000_000));
            return (r.Instructions, r.Cycles, m.Uart.Output);
        }
        Assert.Equal(Once(), Once());
    }
}
