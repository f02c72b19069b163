using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Tests.NativeTests;
using Xunit;
using Xunit.Abstractions;
using static Vtx.Tests.Differential.Layout;

namespace Vtx.Tests.Differential;

/// <summary>
/// Issue 13 (interpreter fast paths): sequences of up to three instructions (at most 15 bytes) run natively and in Vtx, aimed at
/// the paths that keep flags lazy across instructions that change only some of them: ROL/ROR/RCL/RCR (CF and OF
/// only; SF/ZF/AF/PF stay those of the previous producer, which Vtx keeps unmaterialized) and INC/DEC (CF kept,
/// read by the next JC/ADC/SETcc without materializing). Producers of every lazy kind (ADD/ADC/SUB/SBB/CMP,
/// logic, NEG, INC/DEC, shifts, rotates, none: flags from the input), all operand sizes, register and memory
/// destinations, counts 0, 1, imm8 (full byte, so masked counts) and CL; a consumer that reads the flags lazily
/// (SETcc, CMOVcc, ADC, SBB, RCL by 1) and then the final RFLAGS (materialized) are compared with the host.
/// </summary>
/// <remarks>
/// Undefined flags (SDM Vol. 2B: AF after a shift by a non-zero count, OF after a shift or rotate whose masked count
/// is not 1) are masked, and a consumer never reads one; everything defined must agree.
/// </remarks>
public sealed class FastPathChainTests(ITestOutputHelper output)
{
    private static readonly int[] s_regs = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]; // no RSP
    private static readonly string[] s_binary = ["Add", "Adc", "Sub", "Sbb", "Cmp", "And", "Or", "Xor", "Test"];
    private static readonly string[] s_cc = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
    private const ulong Status = CF | PF | AF | ZF | SF | OF;

    [NativeFact]
    public void RotateFlagsAfterEveryProducerMatchHostCpu()
    {
        DifferentialTests.Check("fast-path rotate chains", Chains(Kind.Rotate), 800 * DifferentialTests.Scale());
        output.WriteLine("800 producer -> ROL/ROR/RCL/RCR -> consumer chains agree with the host");
    }

    [NativeFact]
    public void IncDecCarryChainsMatchHostCpu()
    {
        DifferentialTests.Check("fast-path inc/dec chains", Chains(Kind.IncDec), 600 * DifferentialTests.Scale());
        output.WriteLine("600 producer -> INC/DEC -> consumer chains agree with the host");
    }

    /// <summary>
    /// The interpreter's fast forms (ROL/ROR/SHL/SHR/SAR reg, imm8 at 32/64 bits with any count byte; MOV m, imm at
    /// 8/32/64; MOV m8, r8; MOVZX r32/r64, m8; CMP m, imm at 8/32/64 including imm8 sign-extended) after a producer and
    /// before a consumer of their flags, against the host.
    /// </summary>
    [NativeFact]
    public void FastFormsInChainsMatchHostCpu()
    {
        DifferentialTests.Check("fast-form chains", Chains(Kind.FastForm), 800 * DifferentialTests.Scale());
        output.WriteLine("800 producer -> fast form -> consumer chains agree with the host");
    }

    private enum Kind { Rotate, IncDec, FastForm }

    /// <summary>A generated step: the instruction and the flags it leaves undefined (given the count it was built with).</summary>
    private sealed record Step(Instruction Ins, ulong Undefined, ulong Reads, ulong Writes);

    private static Gen<DiffCase> Chains(Kind kind) =>
        (from gpr in Gen.ArrayOf(Values.Value64, 16)
         from flags in Values.Flags
         from seed in Values.Seed
         from picks in Gen.ArrayOf(Gen.Choose(0, int.MaxValue), 16)
         from count in Values.ShiftCount
         select Build(kind, gpr, flags, seed, picks, (int)count))
        .Where(c => c is not null)
        .Select(c => c!);

    private static DiffCase? Build(Kind kind, ulong[] gpr, ulong flags, int seed, int[] p, int count)
    {
        bool rotate = kind == Kind.Rotate;
        var rnd = new Random(seed);
        var scratch = new byte[ScratchSize];
        rnd.NextBytes(scratch);
        var stack = new byte[StackImage];
        rnd.NextBytes(stack);
        gpr = (ulong[])gpr.Clone();
        gpr[4] = StackTop - 0x400;
        // Memory destinations are [RBX + disp8] inside the scratch region, so RBX is not a register operand then.
        bool mem = kind == Kind.FastForm || p[0] % 3 == 0;
        int[] regs = mem ? s_regs.Where(r => r != 3).ToArray() : s_regs;
        if (mem) gpr[3] = Scratch + 0x100 + (ulong)(p[1] % 0x1000) * 8 + (ulong)(p[1] % 8);
        int Reg(int i) => regs[p[i] % regs.Length];
        int Size(int i) => (p[i] % 4) switch { 0 => 1, 1 => 2, 2 => 4, _ => 8 };

        var steps = new List<Step>();
        // 1. the producer (or none: the middle instruction starts from the input flags).
        int ps = Size(2);
        Register pd = Regs.Of(Reg(3), ps), psrc = Regs.Of(Reg(4), ps);
        switch (p[5] % 7)
        {
            case 0: break;
            case 1:
            case 2:
            {
                string op = s_binary[p[6] % s_binary.Length];
                steps.Add(new(Instruction.Create(Code(op, "rm", ps, "r", ps), pd, psrc), 0, op is "Adc" or "Sbb" ? CF : 0, Status));
                break;
            }
            case 3:
            {
                string op = (p[6] % 3) switch { 0 => "Neg", 1 => "Inc", _ => "Dec" };
                steps.Add(new(Instruction.Create(Code(op, "rm", ps), pd), 0, 0, op == "Neg" ? Status : Status & ~CF));
                break;
            }
            case 4:
            {
                // SHL/SHR/SAR by imm8 1..width-1 (CF defined): AF undefined, OF undefined unless the count is 1.
                string op = (p[6] % 3) switch { 0 => "Shl", 1 => "Shr", _ => "Sar" };
                int c = 1 + p[7] % (ps * 8 - 1);
                steps.Add(new(Instruction.Create(Code(op, "rm", ps, "imm8"), pd, c), AF | (c != 1 ? OF : 0), 0, Status));
                break;
            }
            default:
            {
                // A rotate producer: a rotate after a rotate keeps the first one's producer's SF/ZF/AF/PF.
                string op = (p[6] % 2) == 0 ? "Rol" : "Ror";
                int c = p[7] % 256;
                int masked = c & (ps == 8 ? 63 : 31);
                steps.Add(new(Instruction.Create(Code(op, "rm", ps, "imm8"), pd, c), masked > 1 ? OF : 0, 0, masked != 0 ? CF | OF : 0));
                break;
            }
        }

        // 2. the instruction under test.
        int ms = Size(8);
        Register md = Regs.Of(Reg(9), ms);
        MemoryOperand mo = new(Register.RBX, (long)(p[10] % 16) * 8);
        if (rotate)
        {
            string op = (p[11] % 4) switch { 0 => "Rol", 1 => "Ror", 2 => "Rcl", _ => "Rcr" };
            int form = p[12] % 3; // 1, imm8, CL
            int c = form == 0 ? 1 : form == 1 ? count & 0xFF : (int)(gpr[1] & 0xFF);
            if (form == 2 && p[13] % 2 == 0) { gpr[1] = (gpr[1] & ~0xFFUL) | (uint)(count & 0xFF); c = count & 0xFF; }
            if (form == 2 && !mem && Reg(9) == 1) c = (int)(gpr[1] & 0xFF); // CL is also the destination
            int masked = c & (ms == 8 ? 63 : 31);
            string tail = form == 0 ? "1" : form == 1 ? "imm8" : "CL";
            Code code = Code(op, "rm", ms, tail);
            Instruction ins = form switch
            {
                0 => mem ? Instruction.Create(code, mo) : Instruction.Create(code, md),
                1 => mem ? Instruction.Create(code, mo, c) : Instruction.Create(code, md, c),
                _ => mem ? Instruction.Create(code, mo, Register.CL) : Instruction.Create(code, md, Register.CL),
            };
            ulong reads = op is "Rcl" or "Rcr" && masked != 0 ? CF : 0;
            steps.Add(new(ins, masked > 1 ? OF : 0, reads, masked != 0 ? CF | OF : 0));
        }
        else if (kind == Kind.FastForm)
        {
            int r = Reg(9);
            int c = count & 0xFF;
            int wide = p[13] % 2 == 0 ? 4 : 8;
            Register wr = Regs.Of(r, wide);
            long imm = (long)gpr[r]; // a full-range value from the register generator
            switch (p[11] % 9)
            {
                case 0:
                case 1:
                {
                    string op = (p[11] / 9 % 5) switch { 0 => "Rol", 1 => "Ror", 2 => "Shl", 3 => "Shr", _ => "Sar" };
                    int masked = c & (wide == 8 ? 63 : 31);
                    bool shift = op is "Shl" or "Shr" or "Sar";
                    ulong und = masked == 0 ? 0 : (masked > 1 ? OF : 0) | (shift ? AF : 0);
                    steps.Add(new(Instruction.Create(Code(op, "rm", wide, "imm8"), wr, c), und, 0,
                        masked == 0 ? 0 : shift ? Status : CF | OF));
                    break;
                }
                case 2:
                {
                    int ms8 = (p[11] / 9 % 3) switch { 0 => 1, 1 => 4, _ => 8 };
                    Code code = ms8 == 1 ? Iced.Intel.Code.Mov_rm8_imm8 : Code("Mov", "rm", ms8, "imm32");
                    long v = ms8 == 1 ? (byte)imm : (int)imm;
                    steps.Add(new(Instruction.Create(code, mo, (int)v), 0, 0, 0));
                    break;
                }
                case 3:
                    steps.Add(new(Instruction.Create(Iced.Intel.Code.Mov_rm8_r8, mo, p[13] % 4 == 0 ? Register.AH + r % 4 : Regs.Of(r, 1)), 0, 0, 0));
                    break;
                case 4:
                    steps.Add(new(Instruction.Create(wide == 8 ? Iced.Intel.Code.Movzx_r64_rm8 : Iced.Intel.Code.Movzx_r32_rm8, wr, mo), 0, 0, 0));
                    break;
                default:
                {
                    (Code code, long v) = (p[11] / 9 % 5) switch
                    {
                        0 => (Iced.Intel.Code.Cmp_rm8_imm8, (long)(byte)imm),
                        1 => (Iced.Intel.Code.Cmp_rm32_imm32, (long)(uint)imm),
                        2 => (Iced.Intel.Code.Cmp_rm64_imm32, (long)(int)imm),
                        3 => (Iced.Intel.Code.Cmp_rm32_imm8, (long)(int)(sbyte)imm),
                        _ => (Iced.Intel.Code.Cmp_rm64_imm8, (long)(sbyte)imm),
                    };
                    steps.Add(new(Instruction.Create(code, mo, (int)v), 0, 0, Status));
                    break;
                }
            }
        }
        else
        {
            string op = p[11] % 2 == 0 ? "Inc" : "Dec";
            Code code = Code(op, "rm", ms);
            steps.Add(new(mem ? Instruction.Create(code, mo) : Instruction.Create(code, md), 0, 0, Status & ~CF));
        }

        // 3. a consumer that reads flags lazily.
        int cs = Size(14) == 1 ? 4 : Size(14);
        Register cd = Regs.Of(Reg(15), cs), csrc = Regs.Of(Reg(0), cs);
        string cc = kind != Kind.IncDec ? s_cc[p[13] / 2 % 16] : new[] { "b", "ae", "be", "a" }[p[13] / 2 % 4];
        switch (p[12] / 3 % 5)
        {
            case 0: steps.Add(new(Instruction.Create(Enum.Parse<Code>($"Set{cc}_rm8", true), Regs.Of(Reg(15), 1)), 0, CondReads(cc), 0)); break;
            case 1: steps.Add(new(Instruction.Create(Enum.Parse<Code>($"Cmov{cc}_r{cs * 8}_rm{cs * 8}", true), cd, csrc), 0, CondReads(cc), 0)); break;
            case 2: steps.Add(new(Instruction.Create(Code("Adc", "rm", cs, "r", cs), cd, csrc), 0, CF, Status)); break;
            case 3: steps.Add(new(Instruction.Create(Code("Sbb", "rm", cs, "r", cs), cd, csrc), 0, CF, Status)); break;
            default: steps.Add(new(Instruction.Create(Code("Rcl", "rm", cs, "1"), cd), 0, CF, CF | OF)); break;
        }

        // Undefined flags flow forward until an instruction writes them; no instruction may read one.
        ulong undefined = 0;
        foreach (Step s in steps)
        {
            if ((s.Reads & undefined) != 0) return null;
            undefined = (undefined & ~s.Writes) | s.Undefined;
        }

        var writer = new Writer();
        var encoder = Iced.Intel.Encoder.Create(64, writer);
        ulong ip = CodeAddress;
        foreach (Step s in steps)
        {
            if (!encoder.TryEncode(s.Ins, ip, out uint len, out _)) return null;
            ip += len;
        }
        byte[] bytes = writer.ToArray();
        if (bytes.Length > 15) return null; // the oracle runs one unit of at most 15 bytes
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(bytes));
        decoder.IP = CodeAddress;
        decoder.Decode(out Instruction first);
        decoder.Decode(out Instruction second);

        var u = new Undefined();
        u.MaskFlags(undefined, "SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR: AF after a shift, OF after a shift or rotate by a masked count other than 1");
        return new DiffCase
        {
            Family = $"fast-path {kind} chain",
            Bytes = bytes,
            Instruction = first,
            Second = second,
            Count = steps.Count,
            Gpr = gpr,
            Rflags = flags,
            Scratch = scratch,
            Stack = stack,
            Undefined = u,
        };
    }

    /// <summary>Flags a condition code reads (SDM Vol. 1, Appendix B, Table B-1).</summary>
    private static ulong CondReads(string cc) => cc switch
    {
        "o" or "no" => OF,
        "b" or "ae" => CF,
        "e" or "ne" => ZF,
        "be" or "a" => CF | ZF,
        "s" or "ns" => SF,
        "p" or "np" => PF,
        "l" or "ge" => SF | OF,
        _ => ZF | SF | OF,
    };

    /// <summary>The Iced code named e.g. <c>Add_rm64_r64</c>, <c>Rol_rm32_imm8</c>, <c>Inc_rm8</c>.</summary>
    private static Code Code(string op, string a, int size, string? b = null, int bsize = 0)
    {
        string name = $"{op}_{a}{size * 8}" + (b is null ? "" : "_" + b + (bsize != 0 ? (bsize * 8).ToString() : ""));
        return Enum.Parse<Code>(name, true);
    }

    private sealed class Writer : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
