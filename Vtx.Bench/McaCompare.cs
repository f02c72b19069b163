using System.Globalization;
using Iced.Intel;
using Vtx.Tests.Timing;
using Vtx.Timing;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Bench;

/// <summary>A predictor of a basic block's steady-state cycles per iteration (the block run as a loop body).</summary>
public interface IBlockTimer
{
    /// <summary>The name printed in the report.</summary>
    string Name { get; }

    /// <summary>Cycles per iteration of <paramref name="block"/> (64-bit code) on <paramref name="profile"/>.</summary>
    double CyclesPerIteration(TimingProfile profile, IReadOnlyList<Instruction> block);
}

/// <summary>
/// The serial predictor: the sum of each instruction's <see cref="InstructionTiming.SerialCycles"/> (what a
/// per-instruction <see cref="ICostModel"/> charges; on the "simple" profile exactly vtx-cost-1, Vtx's clock before
/// timing profiles). A baseline for the block simulation.
/// </summary>
public sealed class SerialBlockTimer : IBlockTimer
{
    public string Name => "serial";

    public double CyclesPerIteration(TimingProfile profile, IReadOnlyList<Instruction> block)
    {
        long sum = 0;
        foreach (Instruction ins in block)
        {
            bool mem = false;
            for (int i = 0; i < ins.OpCount; i++) if (ins.GetOpKind(i) == OpKind.Memory) mem = true;
            sum += profile.Cost(ins.Code, mem);
        }
        return sum;
    }
}

/// <summary>
/// <c>mca-compare</c>: agreement of Vtx's block timing with llvm-mca-14 (LLVM 14's scheduling models) on a corpus
/// of generated, realistic integer basic blocks: ALU operations, loads, stores, read-modify-write, LEA (two
/// and three components), multiplies, CMOV/SETcc, shifts, push/pop, dependency chains of varied shapes and a
/// branch at the end of most blocks. llvm-mca runs each block for 100 iterations (Total Cycles / 100);
/// Vtx's predictors run the same block. Reports MAPE, median absolute percentage error and Kendall's τ-b
/// per profile and predictor. llvm-mca is a development oracle, about 40 % off real hardware itself (issue 10),
/// so agreement is a sanity check, not the target.
/// Usage: mca-compare [--blocks N] [--seed S] [--profile skylake|haswell|all] [--dump FILE]
/// </summary>
public static class McaCompare
{
    /// <summary>The predictors compared (the block simulation is added when the engine is present).</summary>
    public static readonly List<IBlockTimer> Timers = [new SerialBlockTimer(), new EngineBlockTimer()];

    public static int Run(string[] args)
    {
        int blocks = IntArg(args, "--blocks", 2000);
        int seed = IntArg(args, "--seed", 1);
        string which = StrArg(args, "--profile", "all");
        string? dump = StrArg(args, "--dump", "");
        if (!LlvmMca.IsAvailable(out string reason))
        {
            Console.Error.WriteLine($"mca-compare: {reason}");
            return 2;
        }
        Console.WriteLine($"mca-compare: {blocks} blocks, seed {seed}, {LlvmMca.Version()}");
        List<Instruction[]> corpus = BlockCorpus.Generate(blocks, seed);
        var targets = TimingGenerator.Targets.Where(t => which == "all" || TimingProfile.ByName(which).Name == t.Profile).ToList();
        using StreamWriter? dumpWriter = string.IsNullOrEmpty(dump) ? null : new StreamWriter(dump);
        foreach (var t in targets)
        {
            TimingProfile profile = TimingProfile.ByName(t.Profile);
            var started = DateTime.UtcNow;
            double[] mca = McaCycles(t.LlvmCpu, corpus);
            double mcaSeconds = (DateTime.UtcNow - started).TotalSeconds;
            var valid = Enumerable.Range(0, corpus.Count).Where(i => mca[i] > 0).ToArray();
            Console.WriteLine();
            Console.WriteLine($"profile {profile.Name} (llvm-mca -mcpu={t.LlvmCpu}): {valid.Length} of {corpus.Count} blocks analysed by llvm-mca in {mcaSeconds:0.0} s");
            Console.WriteLine($"  {"predictor",-10} {"MAPE",8} {"median",8} {"tau-b",7} {"mean ratio",11}  {"ns/block",9}");
            foreach (IBlockTimer timer in Timers)
            {
                var vtx = new double[valid.Length];
                var ref_ = new double[valid.Length];
                var sw = System.Diagnostics.Stopwatch.StartNew();
                for (int k = 0; k < valid.Length; k++)
                {
                    vtx[k] = timer.CyclesPerIteration(profile, corpus[valid[k]]);
                    ref_[k] = mca[valid[k]];
                }
                double ns = sw.Elapsed.TotalMilliseconds * 1e6 / Math.Max(1, valid.Length);
                var (mape, median, tau, ratio) = Metrics(vtx, ref_);
                Console.WriteLine($"  {timer.Name,-10} {mape,7:0.0}% {median,7:0.0}% {tau,7:0.000} {ratio,11:0.000}  {ns,9:0}");
                // llvm-mca models no memory dependencies and chains PUSH/POP through RSP (no stack engine):
                // the same figures on the blocks where neither matters.
                int[] plain = Enumerable.Range(0, valid.Length).Where(k => !MemoryCarried(corpus[valid[k]])).ToArray();
                var (m2, md2, t2, r2) = Metrics(plain.Select(k => vtx[k]).ToArray(), plain.Select(k => ref_[k]).ToArray());
                Console.WriteLine($"  {timer.Name + "*",-10} {m2,7:0.0}% {md2,7:0.0}% {t2,7:0.000} {r2,11:0.000}  ({plain.Length} blocks without PUSH/POP or a store and a load of the same address)");
                if (dumpWriter is not null)
                    for (int k = 0; k < valid.Length; k++)
                        dumpWriter.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{profile.Name}\t{timer.Name}\t{valid[k]}\t{ref_[k]:0.00}\t{vtx[k]:0.00}\t{string.Join("; ", corpus[valid[k]].Select(x => TimingGenerator.Att(x)))}"));
            }
        }
        return 0;
    }

    /// <summary>True when the block has PUSH/POP, or stores to an address expression it also loads (a dependency through memory, which llvm-mca does not model).</summary>
    public static bool MemoryCarried(Instruction[] block)
    {
        var info = new InstructionInfoFactory();
        var loads = new HashSet<(Register, Register, int, ulong)>();
        var stores = new HashSet<(Register, Register, int, ulong)>();
        foreach (Instruction ins in block)
        {
            if (ins.Mnemonic is Mnemonic.Push or Mnemonic.Pop) return true;
            foreach (UsedMemory m in info.GetInfo(ins).GetUsedMemory())
            {
                var key = (m.Base, m.Index, m.Scale, m.Displacement);
                if (m.Access is OpAccess.Read or OpAccess.ReadWrite or OpAccess.CondRead or OpAccess.ReadCondWrite) loads.Add(key);
                if (m.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite) stores.Add(key);
            }
        }
        return loads.Overlaps(stores);
    }

    /// <summary>llvm-mca's cycles per iteration of each block (0 when it could not assemble the block).</summary>
    public static double[] McaCycles(string cpu, List<Instruction[]> corpus)
    {
        var result = new double[corpus.Count];
        const int Batch = 250;
        for (int start = 0; start < corpus.Count; start += Batch)
        {
            var regions = new List<(string, IReadOnlyList<string>)>();
            for (int i = start; i < Math.Min(corpus.Count, start + Batch); i++)
                regions.Add(("b" + i.ToString(CultureInfo.InvariantCulture), corpus[i].Select(x => TimingGenerator.Att(x)).ToList()));
            var reports = LlvmMca.Analyze(cpu, 64, 100, regions, out _);
            foreach (var (name, r) in reports)
                if (r.Iterations > 0) result[int.Parse(name[1..], CultureInfo.InvariantCulture)] = (double)r.TotalCycles / r.Iterations;
        }
        return result;
    }

    /// <summary>MAPE and median absolute percentage error of <paramref name="predicted"/> against <paramref name="reference"/>, Kendall's τ-b between them, and the mean ratio predicted/reference.</summary>
    public static (double Mape, double Median, double Tau, double Ratio) Metrics(double[] predicted, double[] reference)
    {
        int n = predicted.Length;
        if (n == 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        var ape = new double[n];
        double ratio = 0;
        for (int i = 0; i < n; i++)
        {
            ape[i] = 100 * Math.Abs(predicted[i] - reference[i]) / reference[i];
            ratio += predicted[i] / reference[i];
        }
        double mape = ape.Average();
        Array.Sort(ape);
        double median = n % 2 == 1 ? ape[n / 2] : (ape[n / 2 - 1] + ape[n / 2]) / 2;
        return (mape, median, KendallTauB(predicted, reference), ratio / n);
    }

    /// <summary>Kendall's τ-b (ties in either variable accounted for), O(n²).</summary>
    public static double KendallTauB(double[] x, double[] y)
    {
        long concordant = 0, discordant = 0, tiesX = 0, tiesY = 0;
        for (int i = 0; i < x.Length; i++)
            for (int j = i + 1; j < x.Length; j++)
            {
                int sx = Math.Sign(x[i] - x[j]), sy = Math.Sign(y[i] - y[j]);
                if (sx == 0 && sy == 0) continue;
                if (sx == 0) tiesX++;
                else if (sy == 0) tiesY++;
                else if (sx == sy) concordant++;
                else discordant++;
            }
        double denom = Math.Sqrt((double)(concordant + discordant + tiesX) * (concordant + discordant + tiesY));
        return denom == 0 ? 0 : (concordant - discordant) / denom;
    }

    private static int IntArg(string[] args, string name, int dflt)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : dflt;
    }

    private static string StrArg(string[] args, string name, string dflt)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : dflt;
    }
}

/// <summary>
/// Generator of realistic integer basic blocks (deterministic for a seed). Each block has 3-24 instructions;
/// a block "shape" decides how registers are reused: a single dependency chain, independent streams, a
/// reduction tree, or a random mix. Memory operands use base registers the block never writes (rdi, rsi,
/// rbp, and rsp for push/pop), as compiled loops do, with varied displacements and sometimes an index.
/// </summary>
public static class BlockCorpus
{
    private static readonly AssemblerRegister64[] Pool = [rax, rbx, rcx, rdx, r8, r9, r10, r11, r12, r13, r14, r15];
    private static readonly AssemblerRegister64[] Bases = [rdi, rsi, rbp];

    public static List<Instruction[]> Generate(int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<Instruction[]>(count);
        while (list.Count < count)
        {
            Instruction[]? b = Block(rng);
            if (b is not null && b.Length > 0) list.Add(b);
        }
        return list;
    }

    private static Instruction[]? Block(Random rng)
    {
        var a = new Assembler(64);
        int shape = rng.Next(4); // 0 chain, 1 independent, 2 reduction, 3 mixed
        int poolSize = shape switch { 0 => 2, 1 => 12, 2 => 6, _ => 3 + rng.Next(9) };
        int n = 3 + rng.Next(22);
        int rot = 0;
        AssemblerRegister64 Dst() => shape switch
        {
            0 => Pool[0],
            1 => Pool[rot++ % poolSize],
            2 => Pool[rng.Next(Math.Max(1, poolSize / 2))],
            _ => Pool[rng.Next(poolSize)],
        };
        AssemblerRegister64 Src() => shape == 0 ? Pool[rng.Next(2)] : Pool[rng.Next(poolSize)];
        AssemblerMemoryOperand Mem()
        {
            var b = Bases[rng.Next(Bases.Length)];
            int disp = 8 * rng.Next(-16, 64);
            if (rng.Next(5) == 0) return __qword_ptr[b + Pool[6 + rng.Next(2)] * (1 << rng.Next(4)) + disp];
            return __qword_ptr[b + disp];
        }
        bool branch = rng.Next(5) != 0;
        int body = branch ? n - 2 : n;
        for (int i = 0; i < Math.Max(1, body); i++)
        {
            var d = Dst();
            var s = Src();
            int kind = rng.Next(100);
            switch (kind)
            {
                case < 14: Alu(a, rng.Next(5), d, s); break;                                 // add/sub/and/or/xor r,r
                case < 22: AluImm(a, rng.Next(5), d, rng.Next(1, 1000)); break;              // r,imm
                case < 30: a.mov(d, s); break;
                case < 33: a.mov(new AssemblerRegister32(Reg32(d)), rng.Next(1, 100000)); break;
                case < 45: a.mov(d, Mem()); break;                                          // load
                case < 52: a.mov(Mem(), s); break;                                          // store
                case < 58: AluMem(a, rng.Next(5), d); break;                                // load + op
                case < 61: a.add(Mem(), s); break;                                          // RMW
                case < 67: a.lea(d, __[s + Pool[rng.Next(poolSize)] * (1 << rng.Next(4)) + (rng.Next(2) == 0 ? 0 : 8 * rng.Next(1, 16))]); break;
                case < 71: a.lea(d, __[s + 8 * rng.Next(1, 16)]); break;
                case < 76: a.imul(d, s); break;
                case < 78: a.imul(d, s, rng.Next(3, 100)); break;
                case < 82: Shift(a, rng.Next(3), d, rng.Next(1, 63)); break;
                case < 85: a.cmp(d, s); a.cmovne(d, s); break;
                case < 87: a.test(d, s); a.setne(new AssemblerRegister8(Reg8(d))); break;
                case < 89: a.inc(d); break;
                case < 91: a.neg(d); break;
                case < 93: a.movzx(d, new AssemblerRegister8(Reg8(s))); break;
                case < 95: a.xor(new AssemblerRegister32(Reg32(d)), new AssemblerRegister32(Reg32(d))); break; // zero idiom
                case < 97: a.push(s); a.pop(d); break;
                default: a.adc(d, s); break;
            }
        }
        if (branch)
        {
            var c = Dst();
            switch (rng.Next(3))
            {
                case 0: a.cmp(c, Src()); break;
                case 1: a.test(c, c); break;
                default: a.dec(c); break;
            }
            var label = a.CreateLabel();
            a.Label(ref label);
            a.jne(label);
        }
        // Encode and decode, so that the instructions carry their real lengths and addresses.
        var writer = new BytesWriter();
        a.Assemble(writer, 0x40_0000);
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(writer.Bytes.ToArray()));
        decoder.IP = 0x40_0000;
        var list = new List<Instruction>();
        while (decoder.IP < 0x40_0000 + (ulong)writer.Bytes.Count) list.Add(decoder.Decode());
        return list.ToArray();
    }

    private sealed class BytesWriter : CodeWriter
    {
        public readonly List<byte> Bytes = [];
        public override void WriteByte(byte value) => Bytes.Add(value);
    }

    private static void Alu(Assembler a, int op, AssemblerRegister64 d, AssemblerRegister64 s)
    {
        switch (op) { case 0: a.add(d, s); break; case 1: a.sub(d, s); break; case 2: a.and(d, s); break; case 3: a.or(d, s); break; default: a.xor(d, s); break; }
    }

    private static void AluImm(Assembler a, int op, AssemblerRegister64 d, int imm)
    {
        switch (op) { case 0: a.add(d, imm); break; case 1: a.sub(d, imm); break; case 2: a.and(d, imm); break; case 3: a.or(d, imm); break; default: a.cmp(d, imm); break; }
    }

    private static void AluMem(Assembler a, int op, AssemblerRegister64 d)
    {
        var m = __qword_ptr[rdi + 8 * op];
        switch (op) { case 0: a.add(d, m); break; case 1: a.sub(d, m); break; case 2: a.and(d, m); break; case 3: a.cmp(d, m); break; default: a.xor(d, m); break; }
    }

    private static void Shift(Assembler a, int op, AssemblerRegister64 d, int n)
    {
        switch (op) { case 0: a.shl(d, (byte)n); break; case 1: a.shr(d, (byte)n); break; default: a.sar(d, (byte)n); break; }
    }

    private static Register Reg8(AssemblerRegister64 r) => r.Value switch
    {
        Register.RAX => Register.AL, Register.RBX => Register.BL, Register.RCX => Register.CL, Register.RDX => Register.DL,
        _ => r.Value - Register.R8 + Register.R8L,
    };

    private static Register Reg32(AssemblerRegister64 r) => r.Value - Register.RAX + Register.EAX;
}
