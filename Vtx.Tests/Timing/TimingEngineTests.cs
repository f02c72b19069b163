using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Tests.Core;
using Vtx.Tests.Support;
using Vtx.Timing;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Timing;

/// <summary>
/// The steady-state block simulation on textbook cases (issue 10). Every expected figure is derived
/// in the test from the profile's stated facts (ports, latencies, widths, L1 latency, LCP penalty)
/// by the usual bound: a loop body costs the largest of its issue bound (fused µops / issue width),
/// its port bound (µops / eligible ports) and its loop-carried dependency chain.
/// </summary>
public sealed class TimingEngineTests
{
    /// <summary>
    /// Skylake's header (core parameters, ports) with a handful of forms stated as uops.info measures them
    /// on Skylake (uops.info tables, "SKL" column; Agner Fog's instruction tables agree): so the textbook
    /// cases exercise real port sets and latencies whether or not the generated data is merged.
    /// </summary>
    private static readonly Lazy<TimingProfile> Textbook = new(() => TimingProfile.Parse(
        string.Join('\n', TimingProfile.BuiltInText("skylake-client").Split('\n').Where(l => !l.StartsWith("ins ", StringComparison.Ordinal) && !l.StartsWith("alias ", StringComparison.Ordinal)))
            .Replace("profile skylake-client", "profile skylake-textbook") + """

        ins Add_rm64_imm8 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=MacroFusibleFirst fuse=Equality,Carry,Signed
        ins Add_r64_rm64 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=MacroFusibleFirst fuse=Equality,Carry,Signed
        ins Add_rm64_r64 m uops=2/4 ports=p0156+p23+p237+p4 lat=1 mlat=6 tp=1 load=1 sta=1 std=1 flags=MicroFused,MayLoad,MayStore
        ins Add_rm32_imm32 r uops=1/1 ports=p0156 lat=1 tp=0.25
        ins Add_EAX_imm32 r uops=1/1 ports=p0156 lat=1 tp=0.25
        ins Add_rm16_imm16 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=LengthChangingPrefixSensitive
        ins Add_AX_imm16 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=LengthChangingPrefixSensitive
        ins Add_rm16_imm8 r uops=1/1 ports=p0156 lat=1 tp=0.25
        ins Shl_rm64_imm8 r uops=1/1 ports=p06 lat=1 tp=0.5
        ins Imul_r64_rm64 r uops=1/1 ports=p1 lat=3 tp=1
        ins Mov_r64_rm64 m uops=1/1 ports=p23 lat=0 mlat=5 tp=0.5 load=1 flags=MayLoad
        ins Mov_r64_rm64 r uops=1/1 ports=p0156 lat=0 tp=0.25 flags=MoveEliminated
        ins Cmp_rm64_r64 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=MacroFusibleFirst fuse=Equality,Carry,Signed
        ins Cmp_r64_rm64 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=MacroFusibleFirst fuse=Equality,Carry,Signed
        ins Dec_rm64 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=MacroFusibleFirst fuse=Equality,Signed
        ins Jne_rel8_64 r uops=1/1 ports=p06 lat=1 tp=0.5 flags=Branch
        ins Jo_rel8_64 r uops=1/1 ports=p06 lat=1 tp=0.5 flags=Branch
        ins Xor_r32_rm32 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=ZeroIdiom
        ins Sub_r32_rm32 r uops=1/1 ports=p0156 lat=1 tp=0.25 flags=ZeroIdiom,MacroFusibleFirst fuse=Equality,Carry,Signed
        ins Div_rm32 r uops=10/10 ports=p0+p1+p5+p6+6*p0156 lat=26 tp=6 div=6 flags=Microcoded,DataDependent
        ins Div_rm64 r uops=36/36 ports=p0+35*p0156 lat=35 tp=21 div=21 flags=Microcoded,DataDependent

        """));

    /// <summary>The core profiles the textbook cases run on: the built-in Skylake data and the textbook forms above.</summary>
    public static TheoryData<string> CoreProfiles => new() { "skylake-client", "skylake-textbook" };

    private static TimingProfile Profile(string name) => name == "skylake-textbook" ? Textbook.Value : TimingProfile.ByName(name);

    /// <summary>Steady-state cycles per iteration of <paramref name="body"/> repeated as a loop body.</summary>
    private static double PerIteration(TimingProfile p, Action<Assembler> body)
    {
        byte[] code = Guest.Assemble(body, 0x1000);
        var cache = new DecodeCache();
        var sim = new BlockSimulator();
        sim.Begin(EngineProfileAdapter.For(p));
        for (int o = 0; o < code.Length;)
        {
            DecodedInstruction d = cache.Decode(code.AsSpan(o, Math.Min(15, code.Length - o)), 64, out _);
            sim.Stage(in cache.LastInstruction, in d, 64);
            o += d.Length;
        }
        var (cycles, iterations) = sim.Measure();
        return (double)cycles / iterations;
    }

    private static int Ports(TimingProfile p, Code code, bool memory = false)
    {
        var t = p.Get(code, memory);
        // The execution µop's ports: the entry that is not a load or store µop.
        foreach (ushort m in t.UopPorts)
            if ((m & ~(p.LoadPorts | p.StoreAddressPorts | p.StoreDataPorts)) != 0) return BitOperations.PopCount(m);
        throw new InvalidOperationException($"{code} has no execution µop");
    }

    private static int Latency(TimingProfile p, Code code) => p.Get(code, false).Latency;

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void IndependentAddsRunInParallelAndADependentChainRunsAtItsLatency(string profile)
    {
        var Skl = Profile(profile);
        int lat = Latency(Skl, Code.Add_rm64_imm8);
        int ports = Ports(Skl, Code.Add_rm64_imm8);
        // Four independent chains (flags are renamed, written but never read): issue-, port- or latency-bound.
        double expectIndependent = Math.Max(Math.Max(4.0 / Skl.IssueWidth, 4.0 / ports), lat);
        Assert.Equal(expectIndependent, PerIteration(Skl, a => { a.add(rax, 1); a.add(rbx, 1); a.add(rcx, 1); a.add(rdx, 1); }));
        // One chain through RAX: four latencies per iteration.
        Assert.Equal(4.0 * lat, PerIteration(Skl, a => { a.add(rax, 1); a.add(rax, 1); a.add(rax, 1); a.add(rax, 1); }));
        Assert.True(4.0 * lat > expectIndependent);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void ShiftsContendForTheShiftPorts(string profile)
    {
        var Skl = Profile(profile);
        // Skylake executes shifts on p0 and p6 only (Optimization Reference Manual table 2-9).
        int ports = Ports(Skl, Code.Shl_rm64_imm8);
        var regs = new[] { rax, rbx, rcx, rdx, rsi, rdi, r8, r9 };
        double expect = Math.Max(8.0 / ports, 8.0 / Skl.IssueWidth);
        Assert.Equal(expect, PerIteration(Skl, a => { foreach (var r in regs) a.shl(r, 3); }));
        // The same count of ADDs (four ALU ports) is faster whenever the shift ports are fewer.
        double adds = PerIteration(Skl, a => { foreach (var r in regs) a.add(r, 3); });
        Assert.Equal(Math.Max(8.0 / Ports(Skl, Code.Add_rm64_imm8), 8.0 / Skl.IssueWidth), adds);
    }

    [Fact]
    public void ShiftPortsOnSkylakeAreP0AndP6()
    {
        var Skl = TimingProfile.Skylake;
        var t = Skl.Get(Code.Shl_rm64_imm8, false);
        Assert.True(Skl.EntryCount > 0, "the Skylake profile has no per-instruction entries yet (tdata's generated data not merged)");
        Assert.Contains((ushort)0b0100_0001, t.UopPorts.ToArray());
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void LoadUseChainCostsTheL1LatencyBySimpleOrComplexAddress(string profile)
    {
        var Skl = Profile(profile);
        // mov rax,[rax]: a pointer chase with a simple address (base, small displacement): L1 latency
        // plus whatever execution µop the form has after the load.
        var t = Skl.Get(Code.Mov_r64_rm64, true);
        int extra = t.UopPorts.Length > t.LoadUops ? t.Latency : 0;
        Assert.Equal((double)Skl.L1LoadLatency + extra, PerIteration(Skl, a => a.mov(rax, __qword_ptr[rax])));
        Assert.Equal((double)Skl.L1LoadLatency + extra, PerIteration(Skl, a => a.mov(rax, __qword_ptr[rax + 16])));
        // An index makes the address complex: the longer latency (RBX is never written: no chain through it).
        Assert.Equal((double)Skl.L1LoadLatencyComplexAddress + extra, PerIteration(Skl, a => a.mov(rax, __qword_ptr[rax + rbx])));
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void StoreThenLoadOfTheSameAddressForwards(string profile)
    {
        var Skl = Profile(profile);
        // add [rbx], rax is load + add + store; repeated, each load waits for the previous store's data:
        // chain = store-forward latency + the add.
        var t = Skl.Get(Code.Add_rm64_r64, true);
        double chain = Skl.StoreForwardLatency + t.Latency;
        double perIt = PerIteration(Skl, a => a.add(__qword_ptr[rbx], rax));
        Assert.True(perIt >= chain, $"{perIt} < store-forward chain {chain}");
        // Different addresses (RBX advances) do not forward: throughput-bound, far below the chain.
        double moving = PerIteration(Skl, a => { a.add(__qword_ptr[rbx], rax); a.add(rbx, 8); });
        Assert.True(moving < chain, $"{moving} >= {chain}");
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void CmpJccMacroFusesIntoOneFusedMicroOp(string profile)
    {
        var Skl = Profile(profile);
        // Seven independent ADDs + CMP + JNE: fused with the CMP, the Jcc takes no issue slot, 8 fused µops.
        var regs = new[] { rbx, rcx, rdx, r8, r9, r10, r11 };
        Action<Assembler> body(bool fusible) => a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            foreach (var r in regs) a.add(r, 1);
            a.cmp(rax, rsi);
            if (fusible) a.jne(top); else a.jo(top); // CMP+JO never fuses (Optimization Reference Manual 3.4.2.2)
        };
        Assert.True(Skl.MacroFusionsPerCycle > 0);
        var cmp = Skl.Get(Code.Cmp_rm64_r64, false); // the encoding the assembler picks for cmp rax,rsi
        bool fuses = cmp.Has(TimingFlags.MacroFusibleFirst) && (cmp.FusesWith & JccFusionKinds.Equality) != 0;
        Assert.Equal((fuses ? 8.0 : 9.0) / Skl.IssueWidth, PerIteration(Skl, body(true)));
        Assert.Equal(9.0 / Skl.IssueWidth, PerIteration(Skl, body(false)));
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void XorOfARegisterWithItselfBreaksTheDependency(string profile)
    {
        var Skl = Profile(profile);
        int imulLat = Latency(Skl, Code.Imul_r64_rm64);
        int imulPorts = Ports(Skl, Code.Imul_r64_rm64);
        // Without the zero idiom the IMUL chain through RAX is loop-carried.
        Assert.Equal((double)imulLat, PerIteration(Skl, a => a.imul(rax, rbx)));
        // xor eax,eax: no input dependency (and, with the zero-idiom flag, no execution µop): only the
        // IMULs' throughput remains, far below the chain.
        double broken = PerIteration(Skl, a => { a.xor(eax, eax); a.imul(rax, rbx); });
        if (Skl.Get(Code.Xor_r32_rm32, false).Has(TimingFlags.ZeroIdiom))
            Assert.Equal(Math.Max(2.0 / Skl.IssueWidth, 1.0 / imulPorts), broken);
        Assert.True(broken < imulLat + Latency(Skl, Code.Xor_r32_rm32), $"{broken}");
        // SUB of two different registers is no idiom: the chain stays (sub's latency + imul's).
        Assert.Equal((double)imulLat + Latency(Skl, Code.Sub_r32_rm32), PerIteration(Skl, a => { a.sub(eax, ecx); a.imul(rax, rbx); }));
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void LengthChangingPrefixStallsTheFrontEnd(string profile)
    {
        var Skl = Profile(profile);
        Assert.True(Skl.LcpStallCycles > 0);
        // 66h + imm16: each instruction stalls the legacy decoder; four per iteration.
        double lcp = PerIteration(Skl, a => { a.add(ax, 0x1234); a.add(cx, 0x1234); a.add(dx, 0x1234); a.add(bx, 0x1234); });
        Assert.Equal(4.0 * Skl.LcpStallCycles, lcp);
        // The same with imm32 on 32-bit registers has no LCP.
        double plain = PerIteration(Skl, a => { a.add(esi, 0x12345678); a.add(ecx, 0x12345678); a.add(edx, 0x12345678); a.add(ebx, 0x12345678); });
        Assert.True(plain < lcp);
        // imm8 forms with 66h do not change the length: no stall.
        double imm8 = PerIteration(Skl, a => { a.add(si, 1); a.add(cx, 1); a.add(dx, 1); a.add(bx, 1); });
        Assert.Equal(plain, imm8);
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void DivLatencyFollowsTheOperandSize(string profile)
    {
        var Skl = Profile(profile);
        foreach (var (code, body) in new (Code, Action<Assembler>)[]
        {
            (Code.Div_rm32, a => { a.xor(edx, edx); a.div(ecx); }),
            (Code.Div_rm64, a => { a.xor(edx, edx); a.div(rcx); }),
        })
        {
            var t = Skl.Get(code, false);
            // The quotient (RAX) feeds the next divide: one divide latency per iteration, unless the
            // divider's occupancy is longer. A data-dependent divide is simulated at the fastest step of the
            // profile's divider table (the dividend's width adds the rest at execution).
            int bits = code == Code.Div_rm64 ? 64 : 32;
            int lat = t.Has(TimingFlags.DataDependent) && Skl.DivideSteps.Count > 0 ? Skl.DivideLatency(bits, false, 1) : t.Latency;
            double expect = Math.Max(lat, t.NonPipelinedCycles);
            Assert.Equal(expect, PerIteration(Skl, body));
        }
    }

    [Theory]
    [InlineData("skylake-client", false)]
    [InlineData("skylake-client", true)]
    [InlineData("haswell", false)]
    [InlineData("haswell", true)]
    public void A64BitDivideCostsMoreForAWiderDividend(string profile, bool signed)
    {
        var p = TimingProfile.ByName(profile);
        ulong Cycles(ulong rdx, ulong rax)
        {
            var m = CoreHarness.Load(a => { if (signed) a.idiv(rcx); else a.div(rcx); a.hlt(); }, model: new CpuModel { Timing = p });
            m.Cpu[Gpr.Rdx] = rdx;
            m.Cpu[Gpr.Rax] = rax;
            m.Cpu[Gpr.Rcx] = 0x7FFF_FFFF_FFFF_FFFF; // large enough that no quotient overflows
            var r = m.Run(RunLimits.Instructions(10));
            Assert.Equal(StopReason.Halted, r.Reason);
            return r.Cycles;
        }
        // The profile's divider steps (Agner Fog's measured ranges): a 7-bit dividend takes the first step,
        // a 105-bit one (RDX = 2^40) the widest.
        int small = p.DivideLatency(64, signed, 7), wide = p.DivideLatency(64, signed, 105);
        Assert.Equal((ulong)(wide - small), Cycles(1UL << 40, 0) - Cycles(0, 100));
        // A negative dividend counts by its magnitude: -100 is as fast as 100.
        if (signed) Assert.Equal(Cycles(0, 100), Cycles(ulong.MaxValue, unchecked((ulong)-100L)));
    }

    [Theory]
    [MemberData(nameof(CoreProfiles))]
    public void DependencyThroughTheBackEdgeIsCarriedAcrossIterations(string profile)
    {
        var Skl = Profile(profile);
        int imulLat = Latency(Skl, Code.Imul_r64_rm64);
        // imul rax,rax ; dec rcx ; jnz: the loop-carried chain is the IMUL.
        Action<Assembler> loop = a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.imul(rax, rax);
            a.dec(rcx);
            a.jnz(top);
        };
        Assert.Equal((double)imulLat, PerIteration(Skl, loop));

        // Executed: N iterations cost N times the steady-state figure (plus the HLT's run).
        const int n = 1000;
        var m = CoreHarness.Load(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, n);
            a.mov(eax, 3);
            a.Label(ref top);
            a.imul(rax, rax);
            a.dec(rcx);
            a.jnz(top);
            a.hlt();
        }, model: new CpuModel { Timing = Skl });
        var r = m.Run(RunLimits.Instructions(10_000));
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.InRange((double)r.Cycles, n * imulLat, n * imulLat + 64);
    }

    [Fact]
    public void CostsAreIntegersThatSumToTheIterationAndTheRunEndCarriesAtLeastOne()
    {
        var pool = new Action<Assembler>[]
        {
            a => a.add(rax, rbx), a => a.imul(rcx, rdx), a => a.mov(rsi, __qword_ptr[rdi + 8]), a => a.mov(__qword_ptr[rdi], rax),
            a => a.xor(eax, eax), a => a.shl(rdx, 5), a => a.lea(r8, __[rax + rbx * 4 + 3]), a => a.add(__qword_ptr[rsp + 8], rcx),
            a => a.push(rbx), a => a.pop(rbx), a => a.cmp(rax, rbx), a => a.add(ax, 0x1234), a => a.div(rcx), a => a.nop(),
            a => a.mov(r9, r10), a => a.inc(r11),
        };
        Prop.ForAll(Gen.ListOf(Gen.Choose(0, pool.Length - 1)).Where(l => l.Count is > 0 and < 60).ToArbitrary(), picks =>
        {
            byte[] code = Guest.Assemble(a =>
            {
                var top = a.CreateLabel();
                a.Label(ref top);
                foreach (int i in picks) pool[i](a);
                a.jmp(top);
            }, 0x1000);
            var cache = new DecodeCache();
            var page = cache.GetOrCreatePage(1, 64);
            var sim = new BlockSimulator();
            sim.Begin(EngineProfileAdapter.For(Textbook.Value));
            int o = 0, count = 0;
            while (o < code.Length)
            {
                DecodedInstruction d = cache.Decode(code.AsSpan(o, Math.Min(15, code.Length - o)), 64, out _);
                sim.Stage(in cache.LastInstruction, in d, 64);
                page.Add(o, d);
                o += d.Length;
                count++;
            }
            int total = sim.Cost(page.Recent(count));
            var run = page.Recent(count);
            int sum = 0;
            foreach (ref DecodedInstruction d in run) sum += d.Cost;
            return sum == total && total >= 1 && run[count - 1].Cost >= 1;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void SimpleProfileIsVtxCost1Exactly()
    {
        Action<Assembler> body = a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 50);
            a.Label(ref top);
            a.add(rax, __qword_ptr[rsp - 8]);
            a.imul(rbx, rax);
            a.mov(__qword_ptr[rsp - 16], rbx);
            a.dec(rcx);
            a.jnz(top);
            a.hlt();
        };
        var simple = CoreHarness.Load(body, model: new CpuModel { Timing = TimingProfile.Simple });
        var reference = CoreHarness.Load(body);
        reference.Cpu.CostModel = DefaultCostModel.Instance;
        var r1 = simple.Run(RunLimits.Instructions(10_000));
        var r2 = reference.Run(RunLimits.Instructions(10_000));
        Assert.Equal(StopReason.Halted, r1.Reason);
        Assert.Equal(r2.Instructions, r1.Instructions);
        Assert.Equal(r2.Cycles, r1.Cycles);
        Assert.Equal("vtx-cost-1", simple.Cpu.TimingName);
    }

    public static TheoryData<string> Profiles => new() { "skylake-client", "haswell", "simple" };

    [Theory]
    [MemberData(nameof(Profiles))]
    public void SameProgramSameCyclesAcrossSnapshotRestore(string name)
    {
        var model = new CpuModel { Timing = TimingProfile.ByName(name) };
        Action<Assembler> body = a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 400);
            a.Label(ref top);
            a.add(rax, __qword_ptr[rsp - 8]);
            a.mov(__qword_ptr[rsp - 8], rax);
            a.imul(rbx, rax);
            a.xor(edx, edx);
            a.lea(rsi, __[rsi + rbx * 2 + 1]);
            a.dec(rcx);
            a.jnz(top);
            a.hlt();
        };
        var whole = CoreHarness.Load(body, model: model);
        var rw = whole.Run(RunLimits.Instructions(100_000));
        Assert.Equal(StopReason.Halted, rw.Reason);

        var split = CoreHarness.Load(body, model: model);
        var r1 = split.Run(RunLimits.Instructions(777));
        var snap = split.Snapshot();
        Assert.Equal(split.Cpu.TimingName, snap.Timing);
        var r2 = split.Run(RunLimits.Instructions(100_000));
        Assert.Equal(rw.Cycles, r1.Cycles + r2.Cycles);
        Assert.Equal(rw.Instructions, r1.Instructions + r2.Instructions);

        // Restored into a fresh machine (cold decode cache): the same remaining cycles.
        var other = CoreHarness.Load(body, model: model);
        other.Restore(snap);
        var r3 = other.Run(RunLimits.Instructions(100_000));
        Assert.Equal(r2.Cycles, r3.Cycles);
        Assert.Equal(r2.Instructions, r3.Instructions);
    }

    [Fact]
    public void CoreProfilesBeatOneInstructionPerCycleOnIndependentCode()
    {
        Action<Assembler> body = a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 1000);
            a.Label(ref top);
            a.add(rax, 1); a.add(rbx, 1); a.add(rdx, 1); a.add(rsi, 1); a.add(rdi, 1); a.add(r8, 1);
            a.dec(rcx);
            a.jnz(top);
            a.hlt();
        };
        foreach (var p in new[] { TimingProfile.Skylake, TimingProfile.Haswell })
        {
            var m = CoreHarness.Load(body, model: new CpuModel { Timing = p });
            var r = m.Run(RunLimits.Instructions(100_000));
            Assert.Equal(StopReason.Halted, r.Reason);
            Assert.True(r.Cycles * 2 < r.Instructions, $"{p.Name}: {r.Cycles} cycles for {r.Instructions} instructions");
            Assert.Equal(p.CostModelName, m.Cpu.TimingName);
        }
    }
}
