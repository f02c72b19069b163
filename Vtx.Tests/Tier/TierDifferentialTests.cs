using Iced.Intel;
using Vtx.Kit;
using Vtx.Tests.Support;
using Vtx.Vmx;
using Vtx.Tests.SystemArchitecture;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Tier;

/// <summary>
/// Issue 13, the IL tier: every scenario runs twice from the same state — interpreter only
/// (<see cref="Cpu.CompileHotRuns"/> off) and with every quiet run compiled on first use (threshold 1) —
/// through the same sequence of <see cref="Machine.Run"/> calls. The interpreter is the reference: run
/// results, all 16 GPRs, RFLAGS (materialised), RIP, CR2, cycles, retired counts, delivered events and
/// memory must be identical, and the tier must actually have compiled runs (else the test proves nothing).
/// </summary>
public class TierDifferentialTests
{
    private const ulong Data = 0x10_0000; // 1 MiB: data buffer for the flat workloads

    /// <summary>The observable state compared between the two machines.</summary>
    private static string State(Machine m, ulong memFrom, int memLen)
    {
        var c = m.Cpu;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < 16; i++) sb.Append($"r{i}={c[(Gpr)i]:X} ");
        sb.Append($"rip={c.Rip:X} rfl={c.Rflags:X} cr2={c.Cr2Value:X} cyc={c.Cycles} ret={c.InstructionsRetired} halted={c.IsHalted} ");
        sb.Append(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(m.ReadMemory(memFrom, memLen))));
        return sb.ToString();
    }

    /// <summary>Builds the machine twice (tier off, tier on at threshold 1), runs <paramref name="script"/> on both and compares everything after every run.</summary>
    private static void Differential(Func<Machine> build, Func<Machine, IEnumerable<RunResult>> script, ulong memFrom, int memLen, bool expectCompiled = true)
    {
        Machine off = build(), on = build();
        off.Cpu.CompileHotRuns = false;
        on.Cpu.CompileHotRuns = true;
        on.Cpu.TierThreshold = 1;
        using var a = script(off).GetEnumerator();
        using var b = script(on).GetEnumerator();
        int step = 0;
        while (true)
        {
            bool ha = a.MoveNext(), hb = b.MoveNext();
            Assert.Equal(ha, hb);
            if (!ha) break;
            Assert.Equal(a.Current, b.Current);
            Assert.Equal(State(off, memFrom, memLen), State(on, memFrom, memLen));
            step++;
        }
        Assert.True(step > 0);
        Assert.Equal(0, off.Cpu.CompiledRuns);
        if (expectCompiled) Assert.True(on.Cpu.CompiledRuns > 0, "the tier compiled nothing: the comparison proves nothing");
    }

    private static Func<Machine> Flat(Action<Assembler> body, Action<Machine>? setup = null) => () =>
    {
        var m = Guest.Load(Guest.Assemble(a => { body(a); a.hlt(); }), memoryMiB: 4);
        setup?.Invoke(m);
        return m;
    };

    private static IEnumerable<RunResult> ToEnd(Machine m)
    {
        yield return m.Run(RunLimits.Instructions(5_000_000));
    }

    /// <summary>Runs in slices of <paramref name="slice"/> instructions (limits land inside runs), then to the end.</summary>
    private static Func<Machine, IEnumerable<RunResult>> Sliced(ulong slice, int slices) => m => SlicedRuns(m, slice, slices);

    private static IEnumerable<RunResult> SlicedRuns(Machine m, ulong slice, int slices)
    {
        for (int i = 0; i < slices; i++) yield return m.Run(RunLimits.Instructions(slice));
        yield return m.Run(RunLimits.Instructions(5_000_000));
    }

    // ------------------------------------------------------------------ the benchmark workloads (copies of Vtx.Bench's code)

    private static void Checksum(Assembler a) => Checksum(a, 3000);

    /// <summary>The checksum loop over <paramref name="iterations"/> iterations.</summary>
    private static void Checksum(Assembler a, ulong iterations)
    {
        Label loop = a.CreateLabel(), done = a.CreateLabel();
        a.mov(rdi, Data);
        a.mov(rsi, iterations);
        a.xor(eax, eax);
        a.xor(ecx, ecx);
        a.test(rsi, rsi);
        a.jz(done);
        a.Label(ref loop);
        a.mov(edx, ecx);
        a.and(edx, 511);
        a.mov(r8, __qword_ptr[rdi + rdx * 8]);
        a.rol(rax, 13);
        a.xor(rax, r8);
        a.add(rax, rcx);
        a.inc(rcx);
        a.cmp(rcx, rsi);
        a.jb(loop);
        a.Label(ref done);
    }

    private static void Fib(Assembler a)
    {
        Label fib = a.CreateLabel(), leaf = a.CreateLabel(), end = a.CreateLabel();
        a.mov(rdi, 15UL);
        a.call(fib);
        a.jmp(end);
        a.Label(ref fib);
        a.cmp(rdi, 2);
        a.jb(leaf);
        a.push(rbx);
        a.push(rbp);
        a.mov(rbx, rdi);
        a.lea(rdi, __[rbx - 1]);
        a.call(fib);
        a.mov(rbp, rax);
        a.lea(rdi, __[rbx - 2]);
        a.call(fib);
        a.add(rax, rbp);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
        a.Label(ref leaf);
        a.mov(rax, rdi);
        a.ret();
        a.Label(ref end);
    }

    private static void Sort(Assembler a)
    {
        const int count = 256;
        Label round = a.CreateLabel(), fill = a.CreateLabel(), done = a.CreateLabel(), qs = a.CreateLabel(), qsRet = a.CreateLabel(),
              scanI = a.CreateLabel(), scanJ = a.CreateLabel(), split = a.CreateLabel(), end = a.CreateLabel();
        a.mov(rbx, Data);
        a.mov(r12, 3UL);
        a.xor(r13d, r13d);
        a.mov(r14, 0x9E37_79B9_7F4A_7C15UL);
        a.Label(ref round);
        a.xor(ecx, ecx);
        a.Label(ref fill);
        a.mov(rax, r14); a.shl(rax, 13); a.xor(r14, rax);
        a.mov(rax, r14); a.shr(rax, 7); a.xor(r14, rax);
        a.mov(rax, r14); a.shl(rax, 17); a.xor(r14, rax);
        a.mov(__qword_ptr[rbx + rcx * 8], r14);
        a.inc(ecx);
        a.cmp(ecx, count);
        a.jb(fill);
        a.mov(rdi, rbx);
        a.lea(rsi, __[rbx + (count - 1) * 8]);
        a.call(qs);
        a.add(r13, __qword_ptr[rbx + count / 2 * 8]);
        a.dec(r12);
        a.jnz(round);
        a.Label(ref done);
        a.jmp(end);
        a.Label(ref qs);
        a.cmp(rdi, rsi);
        a.jae(qsRet);
        a.mov(rax, rsi); a.sub(rax, rdi); a.shr(rax, 4);
        a.mov(r8, __qword_ptr[rdi + rax * 8]);
        a.lea(rcx, __[rdi - 8]);
        a.lea(rdx, __[rsi + 8]);
        a.Label(ref scanI);
        a.add(rcx, 8); a.cmp(__qword_ptr[rcx], r8); a.jl(scanI);
        a.Label(ref scanJ);
        a.sub(rdx, 8); a.cmp(__qword_ptr[rdx], r8); a.jg(scanJ);
        a.cmp(rcx, rdx); a.jae(split);
        a.mov(r9, __qword_ptr[rcx]); a.mov(r10, __qword_ptr[rdx]);
        a.mov(__qword_ptr[rcx], r10); a.mov(__qword_ptr[rdx], r9);
        a.jmp(scanI);
        a.Label(ref split);
        a.push(rbx); a.push(r12);
        a.lea(rbx, __[rdx + 8]); a.mov(r12, rsi); a.mov(rsi, rdx);
        a.call(qs);
        a.mov(rdi, rbx); a.mov(rsi, r12);
        a.pop(r12); a.pop(rbx);
        a.jmp(qs);
        a.Label(ref qsRet);
        a.ret();
        a.Label(ref end);
    }

    private static void InitData(Machine m)
    {
        var buf = new byte[4096];
        new Random(7).NextBytes(buf);
        m.WriteMemory(Data, buf);
    }

    public static TheoryData<string> WorkloadNames => new() { "Checksum", "Fib", "Sort" };

    private static Action<Assembler> Workload(string name) => name switch
    {
        "Checksum" => Checksum,
        "Fib" => Fib,
        _ => Sort,
    };

    [Theory]
    [MemberData(nameof(WorkloadNames))]
    public void WorkloadsGiveIdenticalResults(string name) =>
        Differential(Flat(Workload(name), InitData), ToEnd, Data, 4096);

    public static TheoryData<string, int> WorkloadSlices => new()
    {
        { "Checksum", 7 }, { "Fib", 7 }, { "Sort", 7 }, { "Checksum", 53 }, { "Fib", 53 }, { "Sort", 53 }, { "Checksum", 1001 }, { "Sort", 1001 },
    };

    /// <summary>Instruction limits that land inside runs (and inside loops a compiled run chains around itself): the compiled run is entered only when it fits, else stepped.</summary>
    [Theory]
    [MemberData(nameof(WorkloadSlices))]
    public void InstructionLimitsInsideRuns(string name, int slice) =>
        Differential(Flat(Workload(name), InitData), Sliced((ulong)slice, 300), Data, 4096);

    /// <summary>Cycle limits that land inside runs.</summary>
    [Theory]
    [MemberData(nameof(WorkloadSlices))]
    public void CycleLimitsInsideRuns(string name, int slice) =>
        Differential(Flat(Workload(name), InitData), m => CycleSlices(m, (ulong)slice), Data, 4096);

    private static IEnumerable<RunResult> CycleSlices(Machine m, ulong cycles)
    {
        for (int i = 0; i < 200; i++) yield return m.Run(new RunLimits { MaxCycles = cycles });
        yield return m.Run(RunLimits.Instructions(5_000_000));
    }

    /// <summary>A stop address in the middle of a run.</summary>
    [Fact]
    public void StopAddressInsideARun()
    {
        ulong stop = 0;
        Func<Machine> build = () =>
        {
            var m = Flat(Checksum, InitData)();
            stop = Guest.CodeBase + 0x1C + 3; // somewhere in the loop body (an instruction boundary or not: both machines agree)
            return m;
        };
        Differential(build, m => StopAt(m, stop), Data, 4096);
    }

    private static IEnumerable<RunResult> StopAt(Machine m, ulong stop)
    {
        for (int i = 0; i < 50; i++) yield return m.Run(new RunLimits { MaxInstructions = 1_000_000, StopAddress = stop + (ulong)(i % 5) });
    }

    // ------------------------------------------------------------------ random instruction sequences

    private static readonly AssemblerRegister64[] R64 = [rax, rcx, rdx, rsi, rdi, r8, r9, r10, r11, r12, r13, r14];
    private static readonly AssemblerRegister32[] R32 = [eax, ecx, edx, esi, edi, r8d, r9d, r10d, r11d, r12d, r13d, r14d];
    private static readonly ulong[] Special = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue];

    /// <summary>
    /// A loop (R15 counts, RBX points at the data buffer) whose body is <paramref name="n"/> random integer instructions:
    /// ALU register/immediate/memory forms in 8/16/32/64 bits, MOV, INC/DEC, LEA, shifts and rotates, ADC/SBB, SETcc,
    /// CMOVcc, IMUL, NEG/NOT, PUSH/POP pairs, forward Jcc over one instruction (splits runs), PUSHF/POP.
    /// </summary>
    private static Action<Assembler> RandomLoop(int seed, int n, int iterations) => a =>
    {
        var rnd = new Random(seed);
        ulong V() => rnd.Next(3) == 0 ? Special[rnd.Next(Special.Length)] : (ulong)rnd.NextInt64() ^ ((ulong)rnd.Next() << 40);
        int Imm32() => rnd.Next(4) == 0 ? (int)Special[rnd.Next(Special.Length)] : rnd.Next(int.MinValue, int.MaxValue);
        a.mov(rbx, Data);
        foreach (var r in R64) a.mov(r, V());
        a.mov(r15, (ulong)iterations);
        Label loop = a.CreateLabel();
        a.Label(ref loop);
        for (int i = 0; i < n; i++)
        {
            var x = R64[rnd.Next(R64.Length)]; var y = R64[rnd.Next(R64.Length)];
            var x32 = R32[rnd.Next(R32.Length)]; var y32 = R32[rnd.Next(R32.Length)];
            var mem = __qword_ptr[rbx + rnd.Next(0, 4088)];
            var mem32 = __dword_ptr[rbx + rnd.Next(0, 4092)];
            switch (rnd.Next(45))
            {
                case 0: a.add(x, y); break;
                case 1: a.sub(x32, y32); break;
                case 2: a.and(x, Imm32()); break;
                case 3: a.or(x32, Imm32()); break;
                case 4: a.xor(x, y); break;
                case 5: a.cmp(x, y); break;
                case 6: a.test(x32, y32); break;
                case 7: a.mov(x, y); break;
                case 8: a.mov(x32, y32); break;
                case 9: a.mov(x, V()); break;
                case 10: a.mov(x32, (uint)V()); break;
                case 11: if (rnd.Next(2) == 0) a.inc(x); else a.dec(x32); break;
                case 12: a.lea(x, __[y + x * 4 + Imm32() / 4]); break;
                case 13: a.add(x, mem); break;
                case 14: a.sub(mem32, y32); break;
                case 15: a.mov(x, mem); break;
                case 16: a.mov(mem, y); break;
                case 17: a.rol(x, (byte)rnd.Next(64)); break;
                case 18: a.shr(x32, (byte)rnd.Next(32)); break;
                case 19: a.sar(x, cl); break;
                case 20: a.adc(x, y); break;
                case 21: a.sbb(x32, Imm32()); break;
                case 22: a.setb(__byte_ptr[rbx + rnd.Next(0, 4095)]); break;
                case 23: a.cmovl(x, y); break;
                case 24: a.imul(x, y); break;
                case 25: if (rnd.Next(2) == 0) a.neg(x); else a.not(x32); break;
                case 26: a.push(x); a.pop(y); break;
                case 27:
                {
                    Label skip = a.CreateLabel();
                    switch (rnd.Next(4)) { case 0: a.jz(skip); break; case 1: a.jb(skip); break; case 2: a.jl(skip); break; default: a.jbe(skip); break; }
                    a.add(x, Imm32());
                    a.Label(ref skip);
                    break;
                }
                case 28: a.pushfq(); a.pop(x); break;
                case 29: a.cmp(x32, Imm32()); break;
                case 30: a.add(__byte_ptr[rbx + rnd.Next(0, 4095)], (byte)rnd.Next(256)); break;
                case 31: a.movzx(x32, __word_ptr[rbx + rnd.Next(0, 4094)]); break;
                case 32: a.xchg(x, y); break;
                // The interpreter's fast-form ops (shifts/rotates by an immediate, MOV m, imm, MOV m8, r8, MOVZX r, m8, CMP m, imm).
                case 34: if (rnd.Next(2) == 0) a.ror(x, (byte)rnd.Next(64)); else a.rol(x32, (byte)rnd.Next(32)); break;
                case 35: if (rnd.Next(2) == 0) a.shl(x, (byte)rnd.Next(64)); else a.shl(x32, (byte)rnd.Next(32)); break;
                case 36: if (rnd.Next(2) == 0) a.sar(x32, (byte)rnd.Next(32)); else a.shr(x, (byte)rnd.Next(64)); break;
                case 37: a.mov(mem, Imm32()); break;
                case 38: a.mov(mem32, Imm32()); break;
                case 39: a.mov(__byte_ptr[rbx + rnd.Next(0, 4095)], (byte)rnd.Next(256)); break;
                case 40: a.mov(__byte_ptr[rbx + rnd.Next(0, 4095)], rnd.Next(2) == 0 ? cl : dh); break;
                case 41: if (rnd.Next(2) == 0) a.movzx(x32, __byte_ptr[rbx + rnd.Next(0, 4095)]); else a.movzx(x, __byte_ptr[rbx + rnd.Next(0, 4095)]); break;
                case 42: a.cmp(mem, Imm32()); break;
                case 43: if (rnd.Next(2) == 0) a.cmp(mem32, Imm32()); else a.cmp(__byte_ptr[rbx + rnd.Next(0, 4095)], (byte)rnd.Next(256)); break;
                default: a.test(x, Imm32()); break;
            }
        }
        a.dec(r15);
        a.jnz(loop);
    };

    public static TheoryData<int> Seeds => new(Enumerable.Range(1, 40));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomSequencesGiveIdenticalResults(int seed) =>
        Differential(Flat(RandomLoop(seed, 80, 20), InitData), ToEnd, Data, 4096);

    [Theory]
    [InlineData(11)] [InlineData(12)] [InlineData(13)]
    public void RandomSequencesWithLimitsInsideRuns(int seed) =>
        Differential(Flat(RandomLoop(seed, 60, 10), InitData), Sliced(5, 200), Data, 4096);

    // ------------------------------------------------------------------ targeted cases

    /// <summary>
    /// Self-modifying code inside a compiled run: the loop rewrites the immediate of an instruction later in its own
    /// run; the write ends the run after it retires, the page is decoded (and compiled) again, and the new value is used.
    /// </summary>
    [Fact]
    public void SelfModifyingCodeInsideACompiledRun()
    {
        Differential(Flat(a =>
        {
            Label loop = a.CreateLabel(), patch = a.CreateLabel();
            a.mov(r15, 40UL);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.mov(ecx, r15d);
            a.inc(rdx);
            a.lea(rsi, __[patch]);
            a.mov(__dword_ptr[rsi + 1], ecx);   // rewrites the imm32 of the MOV below (B8+r id)
            a.add(rax, rdx);
            a.Label(ref patch);
            a.mov(edi, 0x1234_5678u);
            a.add(rax, rdi);
            a.dec(r15);
            a.jnz(loop);
        }), ToEnd, Guest.CodeBase, 4096);
    }

    // ------------------------------------------------------------------ chains between compiled runs

    /// <summary>
    /// Runs that end in CALL/RET/JMP/Jcc to other runs (compiled runs chain into each other without going back to the
    /// quiet loop). Every 16th iteration g rewrites the count of f's ROL, a run the loop chains into (SMC of a chained
    /// target: f's page is dropped with its compiled runs and decoded again); <paramref name="farTail"/> puts h on the
    /// next page (the chain crosses a code page and goes back through the loop's fetch).
    /// </summary>
    private static Action<Assembler> CallChain(bool farTail, ulong iterations = 300) => a =>
    {
        Label loop = a.CreateLabel(), f = a.CreateLabel(), g = a.CreateLabel(), h = a.CreateLabel(), rolAt = a.CreateLabel();
        Label skip = a.CreateLabel(), done = a.CreateLabel();
        a.mov(r15, iterations);
        a.Label(ref loop);
        a.call(f);
        a.add(rax, rdx);
        a.call(g);
        a.xor(rax, rcx);
        a.call(h);
        a.dec(r15);
        a.jnz(loop);
        a.jmp(done);
        a.Label(ref f);
        a.inc(rdx);
        a.Label(ref rolAt);
        a.rol(rdx, 5);                       // REX.W C1 /0 ib: the count is the 4th byte
        a.ret();
        a.Label(ref g);
        a.mov(ecx, r15d);
        a.test(r15, 15);
        a.jnz(skip);
        a.lea(rsi, __[rolAt]);
        a.mov(__byte_ptr[rsi + 3], cl);
        a.Label(ref skip);
        a.add(rcx, rax);
        a.ret();
        if (farTail) { a.jmp(done); for (int i = 0; i < 4096; i++) a.nop(); }
        a.Label(ref h);
        a.lea(rbx, __[rbx + rax * 2 + 1]);
        a.cmp(rbx, rdx);
        a.cmovb(rbx, rcx);
        a.ret();
        a.Label(ref done);
    };

    /// <summary>Stops at every address of the chain program in turn (run heads, chain points, mid-instruction bytes), each run bounded (the program outlasts them all).</summary>
    private static IEnumerable<RunResult> StopAtEachAddress(Machine m, ulong from, int count)
    {
        for (int i = 0; i < count; i++)
        {
            RunResult r = m.Run(new RunLimits { MaxInstructions = 500, StopAddress = from + (ulong)i });
            Assert.NotEqual(StopReason.Halted, r.Reason);
            yield return r;
        }
        yield return m.Run(RunLimits.Instructions(5_000_000));
    }

    [Theory]
    [InlineData(false)] [InlineData(true)]
    public void ChainedRunsGiveIdenticalResults(bool farTail) =>
        Differential(Flat(CallChain(farTail)), ToEnd, Guest.CodeBase, 4096 * 3);

    [Theory]
    [InlineData(false, 1)] [InlineData(false, 5)] [InlineData(true, 7)] [InlineData(false, 53)]
    public void ChainedRunsWithInstructionLimits(bool farTail, int slice) =>
        Differential(Flat(CallChain(farTail)), Sliced((ulong)slice, 400), Guest.CodeBase, 4096 * 3);

    [Theory]
    [InlineData(false, 3)] [InlineData(false, 29)] [InlineData(true, 101)]
    public void ChainedRunsWithCycleLimits(bool farTail, int slice) =>
        Differential(Flat(CallChain(farTail)), m => CycleSlices(m, (ulong)slice), Guest.CodeBase, 4096 * 3);

    [Theory]
    [InlineData(false)] [InlineData(true)]
    public void ChainedRunsWithStopAddresses(bool farTail) =>
        Differential(Flat(CallChain(farTail, 5_000)), m => StopAtEachAddress(m, Guest.CodeBase, 96), Guest.CodeBase, 4096 * 3);

    /// <summary>NMIs and interrupts posted at exact cycles land at the same boundaries between chained runs.</summary>
    [Theory]
    [InlineData(true, 97)] [InlineData(false, 1_001)] [InlineData(true, 4_321)]
    public void EventsLandIdenticallyBetweenChainedRuns(bool nmi, int at) =>
        Differential(Long(CallChain(false), s =>
        {
            s.Cpu.Rflags = 0x202;
            s.Cpu.PostEvent(s.Cpu.Cycles + (ulong)at, nmi, 0x40);
            s.Cpu.PostEvent(s.Cpu.Cycles + (ulong)at * 3, !nmi, 0x40);
        }), ToEnd, 0x9000, 0x1000);

    /// <summary>A #GP (non-canonical address) in the middle of a compiled run, intercepted: same RIP, state and fault.</summary>
    [Fact]
    public void GeneralProtectionFaultMidRun()
    {
        Differential(Flat(a =>
        {
            Label loop = a.CreateLabel();
            a.mov(r15, 30UL);
            a.mov(rbx, Data);
            a.Label(ref loop);
            a.add(rax, 3);
            a.mov(rcx, __qword_ptr[rbx]);
            a.inc(rdx);
            a.cmp(rdx, 25);
            a.cmove(rbx, r9);                    // from the 25th iteration RBX is non-canonical
            a.mov(r9, 0x8000_0000_0000_0000UL);
            a.xor(rax, rdx);
            a.dec(r15);
            a.jnz(loop);
        }, InitData), m => Faults(m), Data, 4096);
    }

    private static IEnumerable<RunResult> Faults(Machine m)
    {
        var r = m.Run(RunLimits.Instructions(1_000_000));
        Assert.Equal(StopReason.Exception, r.Reason);
        yield return r;
    }

    /// <summary>Builds a long-mode machine with a #PF/NMI/interrupt-logging IDT (the system harness) running <paramref name="body"/>.</summary>
    private static Func<Machine> Long(Action<Assembler> body, Action<Sys>? setup = null) => () =>
    {
        var s = new Sys(memoryMiB: 16);
        s.EnterLong();
        s.Load(a => { body(a); a.hlt(); }, Sys.Code, 64);
        // Handlers: log the vector's delivery count at 0x9000 + 8 * vector, skip nothing (the #PF handler maps the page).
        s.Load(a => { a.inc(__qword_ptr[0x9000 + 2 * 8]); a.iretq(); }, 0x2_0000, 64);
        s.Load(a =>
        {
            a.inc(__qword_ptr[0x9000 + 14 * 8]);
            a.mov(__qword_ptr[0x9100], rax);
            a.mov(rax, cr2);
            a.mov(__qword_ptr[0x9108], rax);
            a.mov(rax, __qword_ptr[rsp]);                   // error code
            a.mov(__qword_ptr[0x9110], rax);
            a.mov(rax, (Sys.Pd + 4 * 8));
            a.mov(__qword_ptr[rax], (int)0x87);            // map 8-10 MiB (identity, 2-MiB page)
            a.or(__qword_ptr[rax], 4 << 21);
            a.mov(rax, __qword_ptr[0x9100]);
            a.add(rsp, 8);
            a.iretq();
        }, 0x2_1000, 64);
        s.Gate64(2, 0x2_0000);
        s.Gate64(14, 0x2_1000);
        s.Gate64(0x40, 0x2_0000);
        s.Cpu.Rip = Sys.Code;
        setup?.Invoke(s);
        return s.M;
    };

    private static void PagedLoop(Assembler a)
    {
        Label loop = a.CreateLabel();
        a.mov(r15, 200UL);
        a.mov(rbx, 0x7F_F000UL);
        a.Label(ref loop);
        a.add(rax, rbx);
        a.inc(rcx);
        a.mov(rdx, __qword_ptr[rbx + rcx * 8]);           // walks into 8 MiB (not present) at iteration 512
        a.xor(rax, rdx);
        a.rol(rax, 3);
        a.mov(__qword_ptr[rbx + rcx * 8 + 8], rax);
        a.cmp(rcx, 700);
        a.jb(loop);
    }

    /// <summary>The PagedLoop walk made with the interpreter's newer memory fast forms (MOV m, imm, MOV m8, r8, MOVZX r, m8, CMP m, imm), each of which meets the not-present page in turn.</summary>
    private static void PagedLoopFastForms(Assembler a)
    {
        Label loop = a.CreateLabel();
        a.mov(r15, 200UL);
        a.mov(rbx, 0x7F_F000UL);
        a.Label(ref loop);
        a.inc(rcx);
        a.movzx(edx, __byte_ptr[rbx + rcx * 8]);          // reaches 8 MiB (not present) at iteration 512
        a.add(rax, rdx);
        a.mov(__byte_ptr[rbx + rcx * 8 + 9], al);          // and its neighbours one iteration earlier/later
        a.mov(__dword_ptr[rbx + rcx * 8 + 10], 0x1234_5678);
        a.mov(__qword_ptr[rbx + rcx * 8 + 11], -5);
        a.cmp(__qword_ptr[rbx + rcx * 8 + 3], 7);
        a.adc(rax, 1);
        a.shl(rax, 3);
        a.cmp(rcx, 700);
        a.jb(loop);
    }

    /// <summary>#PF in each of the newer memory fast forms of a compiled run, delivered through the IDT and intercepted: CR2, error code, RIP, counts identical.</summary>
    [Fact]
    public void PageFaultInNewerMemoryFastFormsIsIdentical()
    {
        Differential(Long(PagedLoopFastForms, s => s.W64(Sys.Pd + 4 * 8, 0)), ToEnd, 0x9000, 0x1000);
        Differential(Long(PagedLoopFastForms, s => { s.W64(Sys.Pd + 4 * 8, 0); s.Cpu.InterceptedExceptions = 1u << 14; }), Faults, 0x7F_F000, 0x1000);
    }

    /// <summary>A #PF mid-run, delivered through the IDT (handler maps the page and returns): CR2, error code, state identical.</summary>
    [Fact]
    public void PageFaultMidRunIsDeliveredIdentically()
    {
        Differential(Long(PagedLoop, s => s.W64(Sys.Pd + 4 * 8, 0)), ToEnd, 0x9000, 0x1000);
    }

    /// <summary>A #PF mid-run, intercepted: the run stops at the faulting instruction with the same fault and CR2.</summary>
    [Fact]
    public void PageFaultMidRunIntercepted()
    {
        Differential(Long(PagedLoop, s => { s.W64(Sys.Pd + 4 * 8, 0); s.Cpu.InterceptedExceptions = 1u << 14; }), Faults, 0x7F_F000, 0x1000);
    }

    /// <summary>NMIs and interrupts posted at exact cycles land at the same boundaries (compiled runs are entered only when they end before the deadline).</summary>
    [Theory]
    [InlineData(true, 101)]
    [InlineData(true, 5_003)]
    [InlineData(false, 777)]
    [InlineData(false, 12_345)]
    public void EventsAtExactCyclesLandIdentically(bool nmi, int at)
    {
        Differential(Long(PagedLoop, s =>
        {
            s.Cpu.Rflags = 0x202;
            s.Cpu.PostEvent(s.Cpu.Cycles + (ulong)at, nmi, 0x40);
            s.Cpu.PostEvent(s.Cpu.Cycles + (ulong)at * 3, !nmi, 0x40);
        }), ToEnd, 0x9000, 0x1000);
    }

    /// <summary>Single-stepping (RFLAGS.TF, #DB intercepted): every step stops at the same place in both.</summary>
    [Fact]
    public void SingleSteppingIsIdentical()
    {
        Differential(Flat(Fib, m => { m.Cpu.InterceptedExceptions = 1u << 1; }), m => SingleSteps(m), Data, 64, expectCompiled: false);
    }

    private static IEnumerable<RunResult> SingleSteps(Machine m)
    {
        // Warm up untraced (compiles runs), then step with TF set: compiled runs must not be entered.
        for (int i = 0; i < 30; i++) yield return m.Run(RunLimits.Instructions(37));
        for (int i = 0; i < 200; i++)
        {
            m.Cpu.Rflags |= 0x100;
            yield return m.Run(RunLimits.Instructions(1000));
        }
    }

    /// <summary>Host breakpoints set after runs were compiled: the run stops at the breakpoint in both.</summary>
    [Fact]
    public void HostBreakpointsStopIdentically()
    {
        Differential(Flat(Checksum, InitData), m => Breakpoints(m), Data, 4096);
    }

    private static IEnumerable<RunResult> Breakpoints(Machine m)
    {
        yield return m.Run(RunLimits.Instructions(2000));
        m.Cpu.AddHostBreakpoint(Guest.CodeBase + 0x2C);
        for (int i = 0; i < 20; i++) yield return m.Run(RunLimits.Instructions(100_000));
        m.Cpu.RemoveHostBreakpoint(Guest.CodeBase + 0x2C);
        yield return m.Run(RunLimits.Instructions(5_000_000));
    }

    /// <summary>A snapshot taken after runs were compiled, then restored (twice): execution after each restore is identical.</summary>
    [Fact]
    public void SnapshotRestoreAroundCompiledCode()
    {
        Differential(Flat(Sort, InitData), m => Snapshots(m), Data, 4096);
    }

    private static IEnumerable<RunResult> Snapshots(Machine m)
    {
        yield return m.Run(RunLimits.Instructions(20_000));
        var snap = m.Snapshot();
        yield return m.Run(RunLimits.Instructions(30_001));
        m.Restore(snap);
        yield return m.Run(RunLimits.Instructions(30_001));
        m.Restore(snap);
        yield return m.Run(RunLimits.Instructions(5_000_000));
    }

    /// <summary>The default threshold: runs compile only once hot, and results still match the interpreter.</summary>
    [Fact]
    public void DefaultThresholdCompilesHotRunsOnly()
    {
        // A loop entered fewer times than the threshold stays interpreted; one entered more often is compiled.
        var cold = Flat(a => Checksum(a, Cpu.DefaultTierThreshold / 2), InitData)();
        Assert.Equal(StopReason.Halted, cold.Run(RunLimits.Instructions(5_000_000)).Reason);
        Assert.Equal(0, cold.Cpu.CompiledRuns);
        Action<Assembler> hot = a => Checksum(a, 2UL * Cpu.DefaultTierThreshold);
        var m = Flat(hot, InitData)();
        Assert.True(m.Cpu.CompileHotRuns);
        Assert.Equal(Cpu.DefaultTierThreshold, m.Cpu.TierThreshold);
        var r = m.Run(RunLimits.Instructions(5_000_000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.InRange(m.Cpu.CompiledRuns, 1, 4); // the loop body (and at most a few others)
        var i = Flat(hot, InitData)();
        i.Cpu.CompileHotRuns = false;
        Assert.Equal(r, i.Run(RunLimits.Instructions(5_000_000)));
        Assert.Equal(State(i, Data, 4096), State(m, Data, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Cpu.TierThreshold = 0);
    }
    /// <summary>
    /// VMX non-root operation: a guest loop with CPUID (an unconditional VM exit, SDM Vol. 3C, 26.1.2) in the middle of
    /// a compiled run; the hypervisor skips it and resumes. Every exit (reason, guest state), the cycle and retired
    /// counts at each exit and the final state are identical.
    /// </summary>
    [Fact]
    public void NonRootExecutionWithVmExitsMidRun()
    {
        string Trace(bool tier)
        {
            var bed = new VmxTestBed();
            bed.Cpu.CompileHotRuns = tier;
            bed.Cpu.TierThreshold = 1;
            bed.LoadGuest(g =>
            {
                var a = g.A;
                Label loop = a.CreateLabel();
                a.mov(r15, 25UL);
                a.mov(r8, 0x1234_5678_9ABC_DEF0UL);
                a.Label(ref loop);
                a.add(r8, r15);
                a.rol(r8, 5);
                a.inc(r9);
                a.cpuid();
                a.xor(r10, r8);
                a.sub(r11, r9);
                a.dec(r15);
                a.jnz(loop);
                g.Done();
            });
            var sb = new System.Text.StringBuilder();
            var exit = bed.Launch(null, 100_000);
            for (int i = 0; i < 40 && exit.Kind == VmxExitKind.Exit && exit.BasicReason == VmxExitReason.Cpuid; i++)
            {
                sb.AppendLine($"{exit.ExitReason} {exit.Guest} {bed.Cpu.Cycles} {bed.Cpu.InstructionsRetired}");
                bed.SkipInstruction();
                exit = bed.Resume(100_000);
            }
            var c = bed.Cpu;
            sb.AppendLine($"{exit.Kind} {exit.ExitReason} {c.Rip:X} {c[Gpr.R8]:X} {c[Gpr.R9]:X} {c[Gpr.R10]:X} {c[Gpr.R11]:X} {c.Rflags:X} {c.Cycles} {c.InstructionsRetired}");
            if (tier) Assert.True(c.CompiledRuns > 0, "the tier compiled nothing");
            return sb.ToString();
        }
        string off = Trace(false), on = Trace(true);
        Assert.True(off.Split('\n').Length > 20, off);
        Assert.Equal(off, on);
    }
}
