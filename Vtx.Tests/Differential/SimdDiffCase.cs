using System.Text;
using Iced.Intel;
using Decoder = Iced.Intel.Decoder;
using Encoder = Iced.Intel.Encoder;
using Vtx.Tests.Native;

namespace Vtx.Tests.Differential;

/// <summary>One generated table-driven case: encoded instruction, complete input state (GPRs, flags, x87/SSE, memory).</summary>
public sealed class SimdCase
{
    public required Code Code { get; init; }
    /// <summary>Reporting family (x87, mmx, sse-float, sse-int, state, baseline).</summary>
    public required string Family { get; init; }
    /// <summary>The encoding form: register/memory per operand, high registers, redundant prefix.</summary>
    public required string Form { get; init; }
    public required byte[] Bytes { get; init; }
    public required Instruction Instruction { get; init; }
    public required ulong[] Gpr { get; init; }
    public required ulong Rflags { get; init; }
    public required FxState Fx { get; init; }
    public required byte[] Scratch { get; init; }
    public required byte[] Stack { get; init; }
    public ulong? MemoryAddress { get; init; }
    public int MemorySize { get; init; }
    /// <summary>The generator seed (the whole case is a function of code, seed and immediate override).</summary>
    public int Seed { get; init; }
    /// <summary>Instructions Vtx retires: 2 for the waiting x87 forms (WAIT, then the no-wait instruction), else 1.</summary>
    public int InstructionCount { get; init; } = 1;

    public string Hex => string.Join(' ', Bytes.Select(b => b.ToString("X2")));

    public string Disassembly
    {
        get
        {
            var f = new IntelFormatter();
            f.Options.HexPrefix = "0x";
            f.Options.HexSuffix = "";
            var o = new StringOutput();
            var ins = Instruction;
            f.Format(in ins, o);
            return o.ToStringAndReset();
        }
    }

    public override string ToString() => $"{Hex}  {Disassembly}";

    /// <summary>Input state for failure messages.</summary>
    public string DescribeInput()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i++)
        {
            sb.Append(Regs.Name(i).PadLeft(3)).Append('=').Append(Gpr[i].ToString("X16"));
            sb.Append(i % 4 == 3 ? "\n" : "  ");
        }
        sb.Append("flags: ").Append(Undefined.FlagNames(Rflags & Layout.Compared) is { Length: > 0 } n ? n : "(none)").Append('\n');
        sb.Append(Fx.ToString());
        if (MemoryAddress is ulong ma && Layout.InScratch(ma, 1))
        {
            int off = (int)(ma - Layout.Scratch);
            int len = Math.Clamp(MemorySize, 1, 64);
            len = Math.Min(len, Scratch.Length - off);
            sb.Append($"memory operand at 0x{ma:X} ({MemorySize} bytes): ");
            sb.Append(string.Join(' ', Scratch.AsSpan(off, len).ToArray().Select(b => b.ToString("X2"))));
            if (len < MemorySize) sb.Append(" ...");
            sb.Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>
/// Builds <see cref="SimdCase"/>s for any table-driven Iced code from its operand kinds (Iced <see cref="OpCodeInfo"/>):
/// XMM0-15 / MM0-7 / ST(i) / GPR registers, memory operands placed in the scratch region (16-byte aligned when 16 bytes
/// or more: legacy SSE alignment rule, SDM Vol. 1, 10.4.1.1), every imm8 value, and sometimes a redundant REX prefix.
/// </summary>
public static class SimdCaseBuilder
{
    /// <summary>Why a code cannot be generated (unsupported operand kind), or null.</summary>
    public static string? Unsupported(Code code)
    {
        var oc = code.ToOpCode();
        if (!oc.IsInstruction || !oc.Mode64) return "not a 64-bit mode instruction";
        if (oc.Encoding != EncodingKind.Legacy) return $"{oc.Encoding} encoding";
        for (int i = 0; i < oc.OpCount; i++)
            if (!IsSupportedKind(oc.GetOpKind(i))) return $"operand kind {oc.GetOpKind(i)}";
        return null;
    }

    private static bool IsSupportedKind(OpCodeOperandKind k) => k is
        OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm or OpCodeOperandKind.xmm_or_mem or
        OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem or
        OpCodeOperandKind.st0 or OpCodeOperandKind.sti_opcode or OpCodeOperandKind.mem or
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r64_reg or
        OpCodeOperandKind.r16_rm or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r64_rm or
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem or
        OpCodeOperandKind.r16_reg_mem or OpCodeOperandKind.r32_reg_mem or OpCodeOperandKind.r64_reg_mem or
        OpCodeOperandKind.imm8 or OpCodeOperandKind.ax or OpCodeOperandKind.al or OpCodeOperandKind.eax or OpCodeOperandKind.rax or
        OpCodeOperandKind.seg_rDI or OpCodeOperandKind.seg_rBX_al;

    /// <summary>Reporting family of <paramref name="code"/>.</summary>
    public static string FamilyOf(Code code)
    {
        var oc = code.ToOpCode();
        string m = oc.Mnemonic.ToString().ToLowerInvariant();
        if (m.StartsWith("fxsave") || m.StartsWith("fxrstor") || m.StartsWith("xsave") || m.StartsWith("xrstor")
            || m is "ldmxcsr" or "stmxcsr" or "xgetbv" or "xsetbv") return "state";
        var features = code.CpuidFeatures();
        if (features.Any(f => f is CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387)) return "x87";
        bool mm = false, xmm = false;
        for (int i = 0; i < oc.OpCount; i++)
        {
            var k = oc.GetOpKind(i);
            if (k is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem) mm = true;
            if (k is OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm or OpCodeOperandKind.xmm_or_mem) xmm = true;
        }
        if (m == "emms") mm = true;
        if (mm) return "mmx";
        if (!xmm) return "baseline";
        return IsFloat(code) ? "sse-float" : "sse-int";
    }

    private static bool IsFloat(Code code)
    {
        string m = code.ToOpCode().Mnemonic.ToString().ToLowerInvariant();
        if (m.StartsWith("cvt") || m.Contains("comis") || m.StartsWith("rcp") || m.StartsWith("rsqrt") || m.StartsWith("round")
            || m.StartsWith("dpp") || m.StartsWith("hadd") || m.StartsWith("hsub") || m.StartsWith("addsub")) return true;
        var elem = MemSizeOf(code).GetElementType();
        return elem is MemorySize.Float32 or MemorySize.Float64;
    }

    /// <summary>The memory operand size of <paramref name="code"/> as Iced describes it.</summary>
    public static MemorySize MemSizeOf(Code code)
    {
        var ins = default(Instruction);
        ins.Code = code;
        return ins.MemorySize;
    }

    private static SimdValues.LaneKind LaneOf(Code code)
    {
        var e = MemSizeOf(code).GetElementType();
        string m = code.ToOpCode().Mnemonic.ToString().ToLowerInvariant();
        return e switch
        {
            MemorySize.Float32 => SimdValues.LaneKind.Float32,
            MemorySize.Float64 => SimdValues.LaneKind.Float64,
            MemorySize.Int32 or MemorySize.UInt32 => m.StartsWith("cvt") ? SimdValues.LaneKind.Int32 : SimdValues.LaneKind.Bits,
            MemorySize.Int64 or MemorySize.UInt64 => m.StartsWith("cvt") ? SimdValues.LaneKind.Int64 : SimdValues.LaneKind.Bits,
            _ => m.EndsWith("ps") || m.EndsWith("ss") ? SimdValues.LaneKind.Float32
                : m.EndsWith("pd") || m.EndsWith("sd") ? SimdValues.LaneKind.Float64 : SimdValues.LaneKind.Bits,
        };
    }

    /// <summary>True when an imm8 operand of <paramref name="code"/> exists (the exhaustive imm8 sweep runs it 256 times).</summary>
    public static bool HasImm8(Code code)
    {
        var oc = code.ToOpCode();
        for (int i = 0; i < oc.OpCount; i++)
            if (oc.GetOpKind(i) == OpCodeOperandKind.imm8) return true;
        return false;
    }

    /// <summary>
    /// Builds a case for <paramref name="code"/> from <paramref name="seed"/> (deterministic); <paramref name="imm"/> forces
    /// the imm8 value. Null when the random choices cannot be encoded (e.g. AH with REX); the caller tries another seed.
    /// </summary>
    public static SimdCase? Build(Code code, int seed, int imm = -1)
    {
        var r = new Random(seed);
        var oc = code.ToOpCode();
        string mnemonic = oc.Mnemonic.ToString().ToLowerInvariant();
        uint hostMask = NativeExecutor.HostMxcsrMask;
        FxState fx = SimdValues.RandomState(r, LaneOf(code), hostMask);

        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++) gpr[i] = SimdValues.Int64(r);
        gpr[4] = Layout.StackTop - 0x200 - 8 * (ulong)r.Next(0, 0x200);
        ulong flags = 0;
        foreach (ulong f in new[] { Layout.CF, Layout.PF, Layout.AF, Layout.ZF, Layout.SF, Layout.OF, Layout.DF })
            if (r.Next(2) == 0) flags |= f;

        var scratch = new byte[Layout.ScratchSize];
        r.NextBytes(scratch.AsSpan(0, 0x2000));
        scratch.AsSpan(0, 0x2000).CopyTo(scratch.AsSpan(0x2000));
        var stack = new byte[Layout.StackImage];

        MemorySize ms = MemSizeOf(code);
        int memSize = Math.Max(ms.GetSize(), 1);
        int align = mnemonic.StartsWith("xsave") || mnemonic.StartsWith("xrstor") ? 64 : memSize >= 16 ? 16 : 1;
        // Memory operand: within the first 16 KiB of scratch (the filled part), sometimes across a page boundary.
        int target = r.Next(3) == 0 ? 0x1000 - r.Next(1, 16) : r.Next(0, 0x3000);
        target = Math.Min(target, 0x4000 - memSize) / align * align;
        ulong memAddr = Layout.Scratch + (ulong)target;
        bool memUsed = false;

        var args = new List<object>();
        var form = new StringBuilder();
        var usedGprs = new HashSet<int>();
        int memBase = -1, memIndex = -1;
        for (int i = 0; i < oc.OpCount; i++)
        {
            var k = oc.GetOpKind(i);
            bool pickMem = k is OpCodeOperandKind.mem || (IsRegOrMem(k) && (r.Next(2) == 0 || MemoryOnlyOnHost(code)));
            if (pickMem)
            {
                args.Add(MemoryOperandFor(r, gpr, memAddr, usedGprs, out memBase, out memIndex, out string memForm));
                memUsed = true;
                form.Append(memForm).Append(' ');
                continue;
            }
            switch (k)
            {
                case OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm or OpCodeOperandKind.xmm_or_mem:
                {
                    int x = r.Next(16);
                    args.Add(Register.XMM0 + x);
                    form.Append(x >= 8 ? "xmmH " : "xmmL ");
                    break;
                }
                case OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem:
                    args.Add(Register.MM0 + r.Next(8));
                    form.Append("mm ");
                    break;
                case OpCodeOperandKind.st0:
                    args.Add(Register.ST0);
                    form.Append("st0 ");
                    break;
                case OpCodeOperandKind.sti_opcode:
                    args.Add(Register.ST0 + r.Next(8));
                    form.Append("sti ");
                    break;
                case OpCodeOperandKind.imm8:
                    args.Add(new Imm(imm >= 0 ? imm : r.Next(2) == 0 ? r.Next(256) : r.Next(16)));
                    form.Append("imm8 ");
                    break;
                case OpCodeOperandKind.al: args.Add(Register.AL); form.Append("al "); break;
                case OpCodeOperandKind.ax: args.Add(Register.AX); form.Append("ax "); break;
                case OpCodeOperandKind.eax: args.Add(Register.EAX); form.Append("eax "); break;
                case OpCodeOperandKind.rax: args.Add(Register.RAX); form.Append("rax "); break;
                case OpCodeOperandKind.seg_rDI or OpCodeOperandKind.seg_rBX_al:
                    form.Append("implicit-mem ");
                    memUsed = true;
                    break;
                default:
                {
                    int size = GprSize(k);
                    int g = r.Next(16);
                    Register reg = Regs.Of(g, size);
                    if (size == 1 && r.Next(4) == 0 && g < 4) reg = Register.AH + g;
                    usedGprs.Add(g);
                    args.Add(reg);
                    form.Append(size == 1 ? "r8 " : size == 2 ? "r16 " : size == 4 ? "r32 " : "r64 ");
                    break;
                }
            }
        }

        Instruction ins;
        try
        {
            switch (code)
            {
                case Code.Maskmovq_rDI_mm_mm:
                    gpr[7] = memAddr;
                    ins = Instruction.CreateMaskmovq(64, (Register)args[0], (Register)args[1]);
                    break;
                case Code.Maskmovdqu_rDI_xmm_xmm:
                    gpr[7] = memAddr;
                    ins = Instruction.CreateMaskmovdqu(64, (Register)args[0], (Register)args[1]);
                    break;
                case Code.Xlat_m8:
                    gpr[3] = memAddr - (gpr[0] & 0xFF);
                    Decoder.Create(64, new ByteArrayCodeReader([0xD7])).Decode(out ins); // xlatb ([rbx+al])
                    break;
                default:
                    ins = Create(code, args);
                    break;
            }
        }
        catch (ArgumentException)
        {
            return null;
        }

        var writer = new ByteWriter();
        if (!Encoder.Create(64, writer).TryEncode(ins, Layout.CodeAddress, out _, out _)) return null;
        byte[] bytes = writer.ToArray();
        // REX/prefix variants: a redundant REX (40h, or REX.W where Iced decodes the same instruction) before the opcode.
        if (r.Next(4) == 0 && WithRedundantRex(bytes, r.Next(2) == 0 ? (byte)0x40 : (byte)0x48) is byte[] rexed)
        {
            bytes = rexed;
            form.Append("+rex");
        }
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes));
        decoder.IP = Layout.CodeAddress;
        decoder.Decode(out Instruction decoded);
        // Waiting forms (FSTENV = WAIT + FNSTENV, ...) are two instructions to the decoder: run both.
        int count = 1;
        if (oc.Fwait && bytes[0] == 0x9B)
        {
            count = 2;
            if (decoded.Code != Code.Wait) return null;
        }
        else if (decoded.IsInvalid || decoded.Length != bytes.Length || decoded.Code != code) return null;

        // Control-state loads: keep every exception masked and ES clear in the loaded image (a native #MF/#XM is a SIGFPE).
        if (memUsed) MakeLoadSafe(code, mnemonic, scratch, target, memSize, r, hostMask);

        return new SimdCase
        {
            Code = code,
            Family = FamilyOf(code),
            Form = form.ToString().Trim(),
            Bytes = bytes,
            Instruction = decoded,
            Gpr = gpr,
            Rflags = flags,
            Fx = fx,
            Scratch = scratch,
            Stack = stack,
            MemoryAddress = memUsed ? memAddr : null,
            MemorySize = memUsed ? memSize : 0,
            Seed = seed,
            InstructionCount = count,
        };
    }

    /// <summary>
    /// 0F 0D /r with a register operand is a reserved NOP for Intel but #UD on AMD, where 0F 0D is the PREFETCH/PREFETCHW
    /// group with memory operands only (AMD APM Vol. 3, PREFETCHlevel); its memory forms decode as PREFETCH/PREFETCHW, so
    /// on an AMD host these codes are not run (the runner prints why).
    /// </summary>
    public static bool MemoryOnlyOnHost(Code code) => SimdHostFeatures.IsAmd && code is Code.Reservednop_rm16_r16_0F0D
        or Code.Reservednop_rm32_r32_0F0D or Code.Reservednop_rm64_r64_0F0D;

    private static bool IsRegOrMem(OpCodeOperandKind k) => k is OpCodeOperandKind.xmm_or_mem or OpCodeOperandKind.mm_or_mem
        or OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem
        or OpCodeOperandKind.r16_reg_mem or OpCodeOperandKind.r32_reg_mem or OpCodeOperandKind.r64_reg_mem;

    private static int GprSize(OpCodeOperandKind k) => k switch
    {
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_or_mem => 1,
        OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg_mem => 2,
        OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg_mem => 4,
        _ => 8,
    };

    /// <summary>A memory operand whose effective address is <paramref name="target"/>: [rip+d], [base+d], or [base+index*s+d].</summary>
    private static MemoryOperand MemoryOperandFor(Random r, ulong[] gpr, ulong target, HashSet<int> usedGprs,
        out int memBase, out int memIndex, out string form)
    {
        memBase = memIndex = -1;
        int kind = r.Next(4);
        if (kind == 0)
        {
            form = "m(rip)";
            return new MemoryOperand(Register.RIP, Register.None, 1, (long)target, 8);
        }
        int b;
        do b = r.Next(16); while (b == 4 || usedGprs.Contains(b));
        memBase = b;
        long disp = r.Next(3) switch { 0 => 0, 1 => r.Next(-128, 128), _ => r.Next(int.MinValue, int.MaxValue) };
        if (kind == 1)
        {
            gpr[b] = target - (ulong)disp;
            form = "m(base)";
            return new MemoryOperand(Register.RAX + b, Register.None, 1, disp, disp == 0 ? 0 : disp is >= -128 and < 128 ? 1 : 4);
        }
        int x;
        do x = r.Next(16); while (x == 4 || x == b || usedGprs.Contains(x));
        memIndex = x;
        int scale = 1 << r.Next(4);
        ulong idx = gpr[x];
        gpr[b] = target - (ulong)disp - idx * (ulong)scale;
        form = "m(sib)";
        return new MemoryOperand(Register.RAX + b, Register.RAX + x, scale, disp, disp == 0 ? 0 : disp is >= -128 and < 128 ? 1 : 4);
    }

    /// <summary>
    /// For instructions that load x87/SSE control state from memory (LDMXCSR, FLDCW, FLDENV, FRSTOR, FXRSTOR), writes a
    /// loaded image that keeps every exception masked, FSW.ES clear and MXCSR within the host MXCSR_MASK.
    /// </summary>
    private static void MakeLoadSafe(Code code, string m, byte[] scratch, int off, int size, Random r, uint hostMask)
    {
        Span<byte> mem = scratch.AsSpan(off, Math.Min(size, scratch.Length - off));
        FxState safe = SimdValues.RandomState(r, SimdValues.LaneKind.Bits, hostMask);
        switch (m)
        {
            case "ldmxcsr":
                BitConverter.TryWriteBytes(mem, safe.Mxcsr);
                break;
            case "fldcw":
                BitConverter.TryWriteBytes(mem, safe.Fcw);
                break;
            case "fxrstor" or "fxrstor64":
                safe.Image.AsSpan(0, 416).CopyTo(mem);
                break;
            case "fldenv" or "frstor":
            {
                // 14/94-byte (16-bit) or 28/108-byte (32-bit) environment (SDM Vol. 1, Figures 8-9 to 8-12).
                int step = size is 14 or 94 ? 2 : 4;
                BitConverter.TryWriteBytes(mem, safe.Fcw);
                BitConverter.TryWriteBytes(mem[step..], safe.Fsw);
                if (m == "frstor")
                {
                    int regs = size is 94 ? 14 : 28;
                    for (int i = 0; i < 8; i++)
                    {
                        var (sig, se) = safe.GetSt(i);
                        BitConverter.TryWriteBytes(mem[(regs + 10 * i)..], sig);
                        BitConverter.TryWriteBytes(mem[(regs + 10 * i + 8)..], se);
                    }
                }
                break;
            }
        }
        _ = code;
    }

    /// <summary>Inserts <paramref name="rex"/> before the opcode when there is no REX yet and Iced decodes the same instruction.</summary>
    private static byte[]? WithRedundantRex(byte[] bytes, byte rex)
    {
        int p = 0;
        while (p < bytes.Length && bytes[p] is 0x66 or 0x67 or 0xF2 or 0xF3 or 0x2E or 0x36 or 0x3E or 0x26 or 0x64 or 0x65 or 0xF0) p++;
        if (p >= bytes.Length || (bytes[p] & 0xF0) == 0x40 || bytes.Length >= 15) return null;
        byte[] result = [.. bytes.AsSpan(0, p), rex, .. bytes.AsSpan(p)];
        static string Text(byte[] b)
        {
            var d = Decoder.Create(64, new ByteArrayCodeReader(b));
            d.IP = Layout.CodeAddress;
            d.Decode(out Instruction i);
            if (i.IsInvalid || i.Length != b.Length) return "";
            var f = new IntelFormatter();
            var o = new StringOutput();
            f.Format(in i, o);
            return i.Code + " " + o.ToStringAndReset();
        }
        string a = Text(bytes), c = Text(result);
        return a.Length > 0 && a == c ? result : null;
    }

    /// <summary>Iced immediate argument.</summary>
    private sealed record Imm(int Value);

    private static Instruction Create(Code code, List<object> a) => a.ToArray() switch
    {
        [] => Instruction.Create(code),
        [Register r1] => Instruction.Create(code, r1),
        [MemoryOperand m] => Instruction.Create(code, m),
        [Imm i] => Instruction.Create(code, i.Value),
        [Register r1, Register r2] => Instruction.Create(code, r1, r2),
        [Register r1, MemoryOperand m] => Instruction.Create(code, r1, m),
        [MemoryOperand m, Register r2] => Instruction.Create(code, m, r2),
        [Register r1, Imm i] => Instruction.Create(code, r1, i.Value),
        [MemoryOperand m, Imm i] => Instruction.Create(code, m, i.Value),
        [Register r1, Register r2, Imm i] => Instruction.Create(code, r1, r2, i.Value),
        [Register r1, MemoryOperand m, Imm i] => Instruction.Create(code, r1, m, i.Value),
        [MemoryOperand m, Register r2, Imm i] => Instruction.Create(code, m, r2, i.Value),
        [Register r1, Register r2, Register r3] => Instruction.Create(code, r1, r2, r3),
        [Register r1, Register r2, MemoryOperand m] => Instruction.Create(code, r1, r2, m),
        _ => throw new ArgumentException($"{code}: unsupported operand combination"),
    };

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
