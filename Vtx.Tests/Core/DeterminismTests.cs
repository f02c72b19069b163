using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Core;

/// <summary>
/// Determinism: the same program and the same stops give the same state and counters; slicing a
/// run changes nothing; cycles of straight-line code add up.
/// </summary>
public class DeterminismTests
{
    /// <summary>
    /// A program exercising most of the machinery: loops, calls, memory, multiply/divide, flags,
    /// REP strings, self-modifying code and RDTSC (whose values feed back into memory).
    /// </summary>
    private static Machine LoadWorkload(ulong seed = 0x9E37_79B9_7F4A_7C15UL)
    {
        Label top = default, f = default, imm = default, skip = default;
        var (code, _) = CoreHarness.AssembleWithLabels(a =>
        {
            top = a.CreateLabel(); f = a.CreateLabel(); imm = a.CreateLabel(); skip = a.CreateLabel();
            a.mov(r12d, 100);
            a.mov(edi, 0x10000);
            a.Label(ref top);
            a.mov(rax, r13);
            a.mov(rcx, 0x5851_F42D_4C95_7F2DUL);
            a.mul(rcx);
            a.add(rax, 0x1405_7B7E);
            a.mov(r13, rax);
            a.xor(rdx, rdx);
            a.mov(ecx, 1000003);
            a.div(rcx);
            a.mov(__qword_ptr[rdi], rdx);
            a.add(rdi, 8);
            a.call(f);
            a.db(0x48, 0x81, 0xC6);          // add rsi, imm32 (patched below)
            a.Label(ref imm);
            a.dd(1);
            a.mov(__dword_ptr[imm], eax);     // self-modifying: next iteration adds the new value
            a.test(al, 1);
            a.jz(skip);
            a.push(rdi);
            a.mov(esi, 0x10000);
            a.mov(edi, 0x30000);
            a.mov(ecx, 64);
            a.rep.movsb();
            a.pop(rdi);
            a.Label(ref skip);
            a.rdtsc();
            a.xor(__dword_ptr[0x30000], eax);
            a.dec(r12d);
            a.jnz(top);
            a.hlt();
            a.Label(ref f);
            a.push(rbx);
            a.lea(rbx, __qword_ptr[rax + rax * 4 + 7]);
            a.imul(rbx, rbx, 13);
            a.bsr(rdx, rbx);
            a.setc(dl);
            a.pop(rbx);
            a.ret();
        });
        var m = CoreHarness.Load(code);
        m.Cpu[Gpr.R13] = seed;
        return m;
    }

    [Fact]
    public void TwoFreshMachinesAgreeAtEveryStop()
    {
        var a = LoadWorkload();
        var b = LoadWorkload();
        var limits = new[]
        {
            RunLimits.Instructions(1), RunLimits.Instructions(17), new RunLimits { MaxCycles = 5 },
            new RunLimits { MaxCycles = 333 }, RunLimits.Instructions(1000), new RunLimits { MaxCycles = 1 },
            new RunLimits { StopAddress = Guest.CodeBase + 0x20 }, new RunLimits { MaxCycles = 12345 },
        };
        int stops = 0;
        for (int i = 0; ; i++)
        {
            var ra = a.Run(limits[i % limits.Length]);
            var rb = b.Run(limits[i % limits.Length]);
            Assert.Equal(ra, rb);
            Assert.Equal(CoreHarness.Fingerprint(a), CoreHarness.Fingerprint(b));
            stops++;
            if (ra.Reason == StopReason.Halted) break;
            Assert.NotEqual(StopReason.Exception, ra.Reason);
            Assert.True(i < 10_000);
        }
        Assert.True(stops > 5);
        Assert.True(a.Cpu.InstructionsRetired > 2000);
    }

    [Fact]
    public void ResultsDependOnlyOnTheProgramAndItsInput()
    {
        // Same seed, same result; a different seed gives a different result (the workload is not trivial).
        string Final(ulong seed)
        {
            var m = LoadWorkload(seed);
            Assert.Equal(StopReason.Halted, m.Run(RunLimits.Instructions(10_000_000)).Reason);
            return CoreHarness.Fingerprint(m);
        }
        Assert.Equal(Final(1), Final(1));
        Assert.NotEqual(Final(1), Final(2));
    }

    /// <summary>Running in chunks of k instructions gives the final state and total cycles of a single run.</summary>
    [Property(MaxTest = 15)]
    public Property InstructionChunksGiveTheSameResult() =>
        Prop.ForAll(Arb.From(Gen.Zip(Gen.Choose(1, 200), CoreHarness.Full64)), t =>
        {
            var (k, seed) = t;
            var whole = LoadWorkload(seed);
            var rw = whole.Run(RunLimits.Instructions(10_000_000));
            Assert.Equal(StopReason.Halted, rw.Reason);

            var m = LoadWorkload(seed);
            ulong cycles = 0, insns = 0;
            RunResult r;
            do
            {
                r = m.Run(RunLimits.Instructions((ulong)k));
                // REP iterations count toward the limit without retiring (RunLimits.MaxInstructions), so a
                // chunk that ends on its limit retired at most k instructions (exactly k without a REP).
                Assert.True(r.Instructions <= (ulong)k);
                cycles += r.Cycles;
                insns += r.Instructions;
            } while (r.Reason == StopReason.InstructionLimit);
            Assert.Equal(StopReason.Halted, r.Reason);
            Assert.Equal(CoreHarness.Fingerprint(whole), CoreHarness.Fingerprint(m));
            Assert.Equal(rw.Cycles, cycles);
            Assert.Equal(rw.Instructions, insns);
        });

    /// <summary>Same with cycle budgets (which also interrupt REP strings mid-way).</summary>
    [Property(MaxTest = 15)]
    public Property CycleChunksGiveTheSameResult() =>
        Prop.ForAll(Arb.From(Gen.Zip(Gen.Choose(1, 800), CoreHarness.Full64)), t =>
        {
            var (k, seed) = t;
            var whole = LoadWorkload(seed);
            var rw = whole.Run(RunLimits.Instructions(10_000_000));
            var m = LoadWorkload(seed);
            ulong cycles = 0;
            RunResult r;
            do
            {
                r = m.Run(new RunLimits { MaxCycles = (ulong)k });
                cycles += r.Cycles;
                if (r.Reason == StopReason.CycleLimit) Assert.True(r.Cycles >= (ulong)k);
            } while (r.Reason == StopReason.CycleLimit);
            Assert.Equal(CoreHarness.Fingerprint(whole), CoreHarness.Fingerprint(m));
            Assert.Equal(rw.Cycles, cycles);
        });

    [Fact]
    public void StopAddressStopsBeforeTheInstruction()
    {
        var m = LoadWorkload();
        ulong target = Guest.CodeBase + 6; // after "mov r12d, 300" (6 bytes)
        var r = m.Run(new RunLimits { StopAddress = target });
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal(target, m.Cpu.Rip);
        Assert.Equal(1UL, r.Instructions);
        // Running again with the same stop address makes no progress (RIP is already there).
        var again = m.Run(new RunLimits { StopAddress = target });
        Assert.Equal(StopReason.StopAddress, again.Reason);
        Assert.Equal(0UL, again.Instructions);
    }

    // ------------------------------------------------------------------ additivity of cycles

    private static readonly Register[] Regs = { Register.RAX, Register.RCX, Register.RDX, Register.RSI, Register.RDI, Register.R8, Register.R9, Register.R10, Register.R11 };

    /// <summary>Straight-line instructions that never fault, with random registers and immediates.</summary>
    private static Gen<Action<Assembler>> StraightLineInstruction { get; } =
        (from kind in Gen.Choose(0, 19)
         from x in Gen.Choose(0, Regs.Length - 1)
         from y in Gen.Choose(0, Regs.Length - 1)
         from imm in Gen.Choose(int.MinValue, int.MaxValue)
         select (kind, x, y, imm))
           .Select(t =>
           {
               var (kind, x, y, imm) = t;
               var d = new AssemblerRegister64(Regs[x]);
               var s = new AssemblerRegister64(Regs[y]);
               Action<Assembler> emit = kind switch
               {
                   0 => a => a.add(d, s),
                   1 => a => a.sub(d, imm),
                   2 => a => a.imul(d, s),
                   3 => a => a.xor(d, s),
                   4 => a => a.mov(d, (ulong)(uint)imm * 0x1_0001UL),
                   5 => a => a.shl(d, (byte)(imm & 63)),
                   6 => a => a.mov(__qword_ptr[r12 + (imm & 0xFF8)], s),
                   7 => a => a.add(d, __qword_ptr[r12 + (imm & 0xFF8)]),
                   8 => a => a.lea(d, __qword_ptr[s + d * 4 + imm]),
                   9 => a => a.push(s),
                   10 => a => a.pop(d),
                   11 => a => a.popcnt(d, s),
                   12 => a => a.cmovb(d, s),
                   13 => a => a.adc(d, s),
                   14 => a => a.mul(s),
                   15 => a => a.bswap(d),
                   16 => a => a.rdtsc(),
                   17 => a => a.cpuid(),
                   18 => a => a.xchg(__qword_ptr[r12 + (imm & 0xFF8)], d),
                   _ => a => a.nop(),
               };
               return emit;
           });

    private static ulong CyclesOf(IReadOnlyList<Action<Assembler>> program, ulong r0)
    {
        var code = Guest.Assemble(a => { foreach (var i in program) i(a); });
        // Additivity is a property of the serial "simple" profile (vtx-cost-1: each instruction costs its own
        // number); a core profile costs a run as a whole (its steady state), so the sum need not split.
        var m = CoreHarness.Load(code, model: new CpuModel { Timing = Vtx.Timing.TimingProfile.Simple });
        for (int i = 0; i < Regs.Length; i++) m.Cpu[(Gpr)(Regs[i] - Register.RAX)] = r0 * (ulong)(i + 1);
        // The data base is R12, which no generated instruction writes (CPUID writes RBX: with an
        // out-of-range leaf its EBX is the highest basic leaf's, which may point into the code).
        m.Cpu[Gpr.R12] = 0x6000;
        m.Cpu[Gpr.Rsp] = 0x9_0000;
        var r = m.Run(new RunLimits { StopAddress = Guest.CodeBase + (ulong)code.Length, MaxInstructions = 10_000 });
        Assert.Equal(StopReason.StopAddress, r.Reason);
        Assert.Equal((ulong)program.Count, r.Instructions);
        Assert.Equal(m.Cpu.Cycles, r.Cycles);
        return r.Cycles;
    }

    /// <summary>cycles(P1;P2) = cycles(P1) + cycles(P2) for straight-line code, whatever the data.</summary>
    [Property(MaxTest = 100)]
    public Property CyclesOfStraightLineCodeAddUp() =>
        Prop.ForAll(Arb.From(Gen.Zip(Gen.Zip(Gen.ListOf(StraightLineInstruction), Gen.ListOf(StraightLineInstruction)), Gen.Zip(CoreHarness.Full64, CoreHarness.Full64))), t =>
        {
            var ((p1, p2), (v1, v2)) = t;
            var both = p1.Concat(p2).ToList();
            ulong c12 = CyclesOf(both, v1);
            ulong c1 = CyclesOf(p1.ToList(), v2);
            ulong c2 = CyclesOf(p2.ToList(), v1 ^ v2);
            Assert.Equal(c1 + c2, c12);
            Assert.True(c12 >= (ulong)both.Count); // every instruction costs at least one cycle
        });
}
