using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Samples;

/// <summary>Recursive fib(20) in the guest: the interpreter's cycle clock is deterministic.</summary>
public sealed class FibSample : Sample
{
    public override string Name => "fib";
    public override string Question => "Is a run deterministic, down to the cycle count?";

    public override string Run(TextWriter trace)
    {
        const ulong code = 0x1000;
        var bytes = Assemble(a =>
        {
            var fib = a.CreateLabel();
            var rec = a.CreateLabel();
            a.mov(edi, 20);
            a.call(fib);
            a.hlt();
            a.Label(ref fib);
            a.cmp(rdi, 2);
            a.jae(rec);
            a.mov(rax, rdi);
            a.ret();
            a.Label(ref rec);
            a.push(rdi);
            a.dec(rdi);
            a.call(fib);
            a.pop(rdi);
            a.push(rax);
            a.sub(rdi, 2);
            a.call(fib);
            a.pop(rcx);
            a.add(rax, rcx);
            a.ret();
        }, code);

        (ulong rax, RunResult r) RunOnce()
        {
            var m = Sample.NewMachine(new MachineOptions { MemoryMiB = 1 });
            m.WriteMemory(code, bytes);
            m.Cpu.Rip = code;
            m.Cpu[Gpr.Rsp] = 0x8_0000;
            var r = m.Run(RunLimits.Instructions(10_000_000));
            Trace(trace, m.Cpu, r.Reason.ToString(), $"rax={m.Cpu[Gpr.Rax]} instructions={r.Instructions} cycles={r.Cycles}");
            return (m.Cpu[Gpr.Rax], r);
        }

        var first = RunOnce();
        var second = RunOnce();
        bool same = first == second;
        return $"fib(20) = {first.rax} in {first.r.Instructions} instructions and {first.r.Cycles} cycles; " +
               (same ? "a second run gives exactly the same counts." : "a second run DIFFERED.");
    }
}

/// <summary>A guest rewrites an instruction it already ran: the decoded-instruction cache must notice.</summary>
public sealed class SelfModifyingCodeSample : Sample
{
    public override string Name => "self-modifying";
    public override string Question => "Does code that rewrites itself run its new bytes?";

    public override string Run(TextWriter trace)
    {
        const ulong code = 0x1000;
        var bytes = Assemble(a =>
        {
            var loop = a.CreateLabel();
            var imm = a.CreateLabel();
            a.xor(ebx, ebx);
            a.mov(ecx, 3);
            a.Label(ref loop);
            a.db(0x48, 0x83, 0xC3);           // add rbx, imm8 ...
            a.Label(ref imm);
            a.db(1);                          // ... whose imm8 (1) the next instruction patches
            a.mov(__byte_ptr[imm], 100);      // later iterations add 100 instead of 1
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }, code);
        var m = Sample.NewMachine(new MachineOptions { MemoryMiB = 1 });
        m.WriteMemory(code, bytes);
        m.Cpu.Rip = code;
        m.Cpu[Gpr.Rsp] = 0x8_0000;
        var r = m.Run(RunLimits.Instructions(1000));
        Trace(trace, m.Cpu, r.Reason.ToString(), $"rbx={m.Cpu[Gpr.Rbx]} decode-invalidations={m.Memory.DecodeCache.Invalidations}");
        ulong sum = m.Cpu[Gpr.Rbx];
        return sum == 201
            ? "Yes: the loop added 1, then 100 twice (rbx = 201) — the patched instruction was decoded again."
            : $"No: rbx = {sum}, expected 201.";
    }
}

/// <summary>DIV by zero: the architectural #DE, reported with the faulting RIP and no state change.</summary>
public sealed class DivideErrorSample : Sample
{
    public override string Name => "divide-error";
    public override string Question => "What does a guest get for DIV by zero?";

    public override string Run(TextWriter trace)
    {
        const ulong code = 0x1000;
        var bytes = Assemble(a =>
        {
            a.mov(eax, 1234);
            a.xor(ecx, ecx);
            a.div(rcx);
            a.hlt();
        }, code);
        var m = Sample.NewMachine(new MachineOptions { MemoryMiB = 1 });
        m.WriteMemory(code, bytes);
        m.Cpu.Rip = code;
        var r = m.Run(RunLimits.Instructions(100));
        Trace(trace, m.Cpu, r.Reason.ToString(), $"fault={r.Fault} rip=0x{r.Rip:X} rax={m.Cpu[Gpr.Rax]}");
        return $"#DE (vector {(int)(r.Fault?.Vector ?? 0)}) at RIP 0x{r.Rip:X}, the DIV itself, with RAX still {m.Cpu[Gpr.Rax]}.";
    }
}
