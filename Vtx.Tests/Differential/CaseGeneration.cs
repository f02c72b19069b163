using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;

namespace Vtx.Tests.Differential;

/// <summary>How a memory operand of a family is used.</summary>
public enum MemMode
{
    /// <summary>The operand is accessed: its effective address is placed inside the scratch region.</summary>
    Access,
    /// <summary>Never accessed (LEA, NOP r/m): base and index keep their random values.</summary>
    NoAccess,
}

/// <summary>Host CPU features a family needs (checked with CPUID before running it).</summary>
[Flags]
public enum HostFeature
{
    None = 0,
    Bmi1 = 1,
    Bmi2 = 2,
    Adx = 4,
    Movbe = 8,
    Lzcnt = 16,
    Popcnt = 32,
    Cx16 = 64,
    LahfSahf64 = 128,
}

/// <summary>Operand choice for one operand slot of an instruction form.</summary>
public abstract record Opnd;
/// <summary>An explicit register (chosen by the generator).</summary>
public sealed record RegOpnd(Register Reg) : Opnd;
/// <summary>A register fixed by the form (AL, CL, RAX, ...).</summary>
public sealed record FixedRegOpnd(Register Reg) : Opnd;
/// <summary>An immediate; <see cref="U64"/> for the 64-bit MOV immediate.</summary>
public sealed record ImmOpnd(long Value, bool U64 = false) : Opnd;
/// <summary>A memory operand.</summary>
public sealed record MemOpnd(MemShape Shape) : Opnd;
/// <summary>A relative branch target (a landing pad).</summary>
public sealed record BranchOpnd(ulong Target) : Opnd;
/// <summary>An implicit string operand ([rSI] / ES:[rDI]).</summary>
public sealed record StringOpnd : Opnd;

/// <summary>Addressing form of a memory operand.</summary>
public enum MemKind
{
    /// <summary>[base + index*scale + disp], any of them optional, 64-bit addressing.</summary>
    Normal,
    /// <summary>The same with 32-bit addressing (67h).</summary>
    Addr32,
    /// <summary>[rip + disp32].</summary>
    RipRelative,
    /// <summary>[disp32] with neither base nor index (SIB form).</summary>
    Absolute,
    /// <summary>MOV moffs: a 64-bit absolute address.</summary>
    Moffs,
}

/// <summary>A memory operand's shape and where inside the scratch region it must point.</summary>
public sealed record MemShape(MemKind Kind, int Base, int Index, int Scale, long Disp, int TargetOffset, Register Segment = Register.None)
{
    /// <summary>Register number meaning "none".</summary>
    public const int None = -1;
}

/// <summary>The generated encoding choices of one case.</summary>
public sealed record Shape(Code Code, Opnd[] Ops, bool Lock, int StringAddressSize, RepPrefixKind Rep);

/// <summary>
/// A family of instruction forms tested together: the Iced codes, how operands are chosen, which registers
/// the family sets itself, how inputs are constrained (so nothing faults natively), and what the SDM leaves undefined.
/// </summary>
public sealed class Family
{
    public required string Name { get; init; }
    public required Code[] Codes { get; init; }
    public HostFeature Requires { get; init; }
    /// <summary>Architectural registers the family sets itself; never used as base/index.</summary>
    public int[] Pinned { get; init; } = [];
    /// <summary>Operand slots whose value the family sets; their registers must not double as base/index.</summary>
    public int[] ConstrainedSlots { get; init; } = [];
    /// <summary>Allowed registers per (code, slot); null allows all.</summary>
    public Func<Code, int, Register, bool>? RegFilter { get; init; }
    /// <summary>Immediate generator per (code, slot, kind); null uses the default for the kind.</summary>
    public Func<Code, int, OpCodeOperandKind, Gen<long>?>? Immediate { get; init; }
    public MemMode Memory { get; init; } = MemMode.Access;
    /// <summary>Memory operands may also be [rsp + disp] into the stack image (RSP keeps its stack value).</summary>
    public bool StackRelative { get; init; }
    /// <summary>Alignment of the memory operand's address.</summary>
    public int MemAlign { get; init; } = 1;
    /// <summary>Percentage of r/m operands that are registers.</summary>
    public int RegisterPercent { get; init; } = 50;
    /// <summary>Sets inputs that must satisfy something (no #DE, valid branch targets, ...).</summary>
    public Action<CaseBuilder>? Constrain { get; init; }
    /// <summary>Masks what the SDM leaves undefined for this case.</summary>
    public Action<CaseBuilder, Undefined>? Undefine { get; init; }
    /// <summary>Cases per run of the family's property (times VTX_DIFF_SCALE).</summary>
    public int CasesPerProperty { get; init; } = 200;

    public override string ToString() => Name;
}

/// <summary>Mutable view of a case under construction, given to a family's constraint and undefined-mask hooks.</summary>
public sealed class CaseBuilder
{
    internal CaseBuilder(Family family, Shape shape, ulong[] gpr, ulong rflags, byte[] scratch, byte[] stack, Random rnd)
    {
        Family = family;
        Shape = shape;
        Gpr = gpr;
        Rflags = rflags;
        Scratch = scratch;
        Stack = stack;
        Rnd = rnd;
        Info = shape.Code.ToOpCode();
    }

    public Family Family { get; }
    public Shape Shape { get; }
    public Code Code => Shape.Code;
    public OpCodeInfo Info { get; }
    public Mnemonic Mnemonic => Info.Mnemonic;
    public ulong[] Gpr { get; }
    public ulong Rflags { get; set; }
    public byte[] Scratch { get; }
    public byte[] Stack { get; }
    /// <summary>Randomness for constraints, seeded from an FsCheck-generated seed.</summary>
    public Random Rnd { get; }
    /// <summary>Address of the explicit memory operand once resolved (Access mode).</summary>
    public ulong? MemAddress { get; internal set; }
    public int MemSize { get; internal set; }
    /// <summary>FS/GS bases of the host thread (used by FS:/GS: memory operands, and given to Vtx).</summary>
    public ulong FsBase { get; internal set; }
    public ulong GsBase { get; internal set; }

    public Opnd Op(int slot) => Shape.Ops[slot];

    public bool IsMem(int slot) => Shape.Ops[slot] is MemOpnd;

    public Register? RegAt(int slot) => Shape.Ops[slot] switch
    {
        RegOpnd r => r.Reg,
        FixedRegOpnd f => f.Reg,
        _ => null,
    };

    /// <summary>Operand size in bytes of slot <paramref name="slot"/> (register size, or the memory operand size).</summary>
    public int OperandSize(int slot)
    {
        if (RegAt(slot) is Register r) return Regs.Info(r).Size;
        if (IsMem(slot)) return MemSize;
        return Info.GetOpKind(slot) switch
        {
            OpCodeOperandKind.r8_or_mem => 1,
            OpCodeOperandKind.r16_or_mem => 2,
            OpCodeOperandKind.r32_or_mem => 4,
            _ => 8,
        };
    }

    /// <summary>Current input value of slot <paramref name="slot"/> (register or memory), zero-extended.</summary>
    public ulong Get(int slot)
    {
        return Shape.Ops[slot] switch
        {
            RegOpnd r => Regs.Read(Gpr, r.Reg),
            FixedRegOpnd f => Regs.Read(Gpr, f.Reg),
            MemOpnd => ReadMem(MemAddress!.Value, MemSize),
            ImmOpnd i => (ulong)i.Value,
            _ => throw new InvalidOperationException($"slot {slot} has no value"),
        };
    }

    /// <summary>Sets the input value of slot <paramref name="slot"/> (register bits or memory bytes).</summary>
    public void Set(int slot, ulong v)
    {
        switch (Shape.Ops[slot])
        {
            case RegOpnd r: Regs.Insert(Gpr, r.Reg, v); break;
            case FixedRegOpnd f: Regs.Insert(Gpr, f.Reg, v); break;
            case MemOpnd: WriteMem(MemAddress!.Value, MemSize, v); break;
            default: throw new InvalidOperationException($"slot {slot} cannot be set");
        }
    }

    public void SetReg(Register r, ulong v) => Regs.Insert(Gpr, r, v);

    public ulong GetReg(Register r) => Regs.Read(Gpr, r);

    public byte[] ImageFor(ulong address, int length, out int offset)
    {
        if (Layout.InScratch(address, length)) { offset = (int)(address - Layout.Scratch); return Scratch; }
        if (Layout.InStackImage(address, length)) { offset = (int)(address - Layout.StackImageBase); return Stack; }
        throw new InvalidOperationException($"0x{address:X} (+{length}) is outside the scratch and stack images");
    }

    public ulong ReadMem(ulong address, int size)
    {
        size = Math.Min(size, 8);
        byte[] img = ImageFor(address, size, out int off);
        ulong v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | img[off + i];
        return v;
    }

    public void WriteMem(ulong address, int size, ulong v)
    {
        size = Math.Min(size, 8);
        byte[] img = ImageFor(address, size, out int off);
        for (int i = 0; i < size; i++) img[off + i] = (byte)(v >> (8 * i));
    }

    /// <summary>A value from the edge list or uniform, drawn from <see cref="Rnd"/>.</summary>
    public ulong RandomValue() => Rnd.Next(3) == 0 ? Values.Edges[Rnd.Next(Values.Edges.Length)] : (ulong)Rnd.NextInt64() ^ ((ulong)Rnd.Next(2) << 63);
}

/// <summary>Turns a <see cref="Family"/> into FsCheck generators of <see cref="DiffCase"/>s.</summary>
public static class CaseGeneration
{
    private static readonly HashSet<OpCodeOperandKind> s_regKinds =
    [
        OpCodeOperandKind.r8_reg, OpCodeOperandKind.r8_opcode,
        OpCodeOperandKind.r16_reg, OpCodeOperandKind.r16_opcode, OpCodeOperandKind.r16_rm,
        OpCodeOperandKind.r32_reg, OpCodeOperandKind.r32_opcode, OpCodeOperandKind.r32_rm, OpCodeOperandKind.r32_vvvv,
        OpCodeOperandKind.r64_reg, OpCodeOperandKind.r64_opcode, OpCodeOperandKind.r64_rm, OpCodeOperandKind.r64_vvvv,
    ];

    private static readonly HashSet<OpCodeOperandKind> s_supportedKinds =
    [
        .. s_regKinds,
        OpCodeOperandKind.r8_or_mem, OpCodeOperandKind.r16_or_mem, OpCodeOperandKind.r32_or_mem, OpCodeOperandKind.r64_or_mem,
        OpCodeOperandKind.mem, OpCodeOperandKind.mem_offs,
        OpCodeOperandKind.imm8, OpCodeOperandKind.imm8_const_1, OpCodeOperandKind.imm8sex16, OpCodeOperandKind.imm8sex32,
        OpCodeOperandKind.imm8sex64, OpCodeOperandKind.imm16, OpCodeOperandKind.imm32, OpCodeOperandKind.imm32sex64, OpCodeOperandKind.imm64,
        OpCodeOperandKind.al, OpCodeOperandKind.ax, OpCodeOperandKind.eax, OpCodeOperandKind.rax, OpCodeOperandKind.cl,
        OpCodeOperandKind.br64_1, OpCodeOperandKind.br64_4, OpCodeOperandKind.seg_rSI, OpCodeOperandKind.es_rDI,
    ];

    /// <summary>True when every operand kind of <paramref name="code"/> can be generated here.</summary>
    public static bool IsGeneratable(Code code)
    {
        var oc = code.ToOpCode();
        if (!oc.IsInstruction || !oc.Mode64 || oc.Encoding is not (EncodingKind.Legacy or EncodingKind.VEX)) return false;
        for (int i = 0; i < oc.OpCount; i++)
            if (!s_supportedKinds.Contains(oc.GetOpKind(i))) return false;
        return true;
    }

    /// <summary>Memory operand size of <paramref name="code"/> (0 when it has none or it is not accessed).</summary>
    public static int MemorySizeOf(Code code)
    {
        var ins = default(Instruction);
        ins.Code = code;
        return ins.MemorySize.GetSize();
    }

    private static int RegSize(OpCodeOperandKind k) => k switch
    {
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.r8_or_mem => 1,
        OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_or_mem => 2,
        OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_vvvv or OpCodeOperandKind.r32_or_mem => 4,
        _ => 8,
    };

    private static Register[] RegistersOfSize(int size) => size switch
    {
        1 => Regs.R8,
        2 => Regs.R16,
        4 => Regs.R32,
        _ => Regs.R64,
    };

    private static Gen<Opnd> RegGen(Family f, Code code, int slot, int size)
    {
        var regs = RegistersOfSize(size).Where(r => f.RegFilter?.Invoke(code, slot, r) ?? true).ToArray();
        return Gen.Elements(regs).Select(r => (Opnd)new RegOpnd(r));
    }

    private static Gen<long> Disp() => Gen.Frequency(
        (3, Gen.Constant(0L)),
        (4, Gen.Choose(-128, 127).Select(x => (long)x)),
        (3, Values.Uniform64.Select(x => (long)(int)x)));

    private static Gen<Opnd> MemGen(Family f, Code code)
    {
        int align = Math.Max(f.MemAlign, 1);
        var pinned = new HashSet<int>(f.Pinned);
        int[] bases = Enumerable.Range(0, 16).Where(i => !pinned.Contains(i)).ToArray();
        int[] indexes = bases.Where(i => i != 4).ToArray();
        // Targets anywhere in scratch, and one time in five straddling a page boundary (split accesses).
        Gen<int> target = Gen.Frequency(
            (4, Gen.Choose(0, Layout.ScratchSize - 32)),
            (1, from page in Gen.Choose(1, Layout.ScratchSize / 4096 - 1) from back in Gen.Choose(1, 15) select page * 4096 - back))
            .Select(t => t / align * align);
        Gen<int> baseGen = Gen.Frequency((8, Gen.Elements(bases)), (1, Gen.Constant(MemShape.None)));
        Gen<int> indexGen = Gen.Frequency((1, Gen.Elements(indexes)), (1, Gen.Constant(MemShape.None)));
        Gen<MemShape> sib =
            from kind in Gen.Frequency((6, Gen.Constant(MemKind.Normal)), (2, Gen.Constant(MemKind.Addr32)))
            from b in baseGen
            from x in indexGen
            from scale in Gen.Elements(1, 2, 4, 8)
            from disp in Disp()
            from t in target
            from seg in Gen.Frequency((14, Gen.Constant(Register.None)), (1, Gen.Constant(Register.FS)), (1, Gen.Constant(Register.GS)))
            // FS/GS overrides only with 64-bit addressing: the host's FS base is a high address that a 32-bit
            // effective address cannot offset back into scratch.
            select new MemShape(kind, b, x == b ? MemShape.None : x, scale, disp, t, kind == MemKind.Normal ? seg : Register.None);
        if (f.StackRelative)
        {
            // [rsp + disp8]: RSP keeps its stack value and the operand lies in the stack image around it.
            Gen<MemShape> rspBased =
                from kind in Gen.Frequency((4, Gen.Constant(MemKind.Normal)), (1, Gen.Constant(MemKind.Addr32)))
                from disp in Gen.Choose(-0x78, 0x78)
                select new MemShape(kind, 4, MemShape.None, 1, disp, 0);
            sib = Gen.Frequency((3, sib), (1, rspBased));
        }
        Gen<MemShape> other =
            from kind in Gen.Elements(MemKind.RipRelative, MemKind.Absolute)
            from t in target
            select new MemShape(kind, MemShape.None, MemShape.None, 1, 0, t);
        return Gen.Frequency((8, sib), (2, other))
            .Where(s => s.Base != MemShape.None || s.Index != MemShape.None || s.Kind is not (MemKind.Normal or MemKind.Addr32))
            .Select(s => (Opnd)new MemOpnd(s));
    }

    private static Gen<Opnd> MoffsGen(Family f) =>
        Gen.Choose(0, Layout.ScratchSize - 32).Select(t => (Opnd)new MemOpnd(new MemShape(MemKind.Moffs, MemShape.None, MemShape.None, 1, 0, t / Math.Max(f.MemAlign, 1) * Math.Max(f.MemAlign, 1))));

    private static Gen<long> DefaultImmediate(OpCodeOperandKind k) => k switch
    {
        OpCodeOperandKind.imm8 => Values.Immediate(1, false),
        OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 => Values.Immediate(1, true),
        OpCodeOperandKind.imm16 => Values.Immediate(2, false),
        OpCodeOperandKind.imm32 => Values.Immediate(4, false),
        OpCodeOperandKind.imm32sex64 => Values.Immediate(4, true),
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };

    private static Gen<Opnd> OperandGen(Family f, Code code, int slot, OpCodeOperandKind k)
    {
        if (s_regKinds.Contains(k)) return RegGen(f, code, slot, RegSize(k));
        switch (k)
        {
            case OpCodeOperandKind.r8_or_mem:
            case OpCodeOperandKind.r16_or_mem:
            case OpCodeOperandKind.r32_or_mem:
            case OpCodeOperandKind.r64_or_mem:
                return Gen.Frequency((f.RegisterPercent, RegGen(f, code, slot, RegSize(k))), (100 - f.RegisterPercent, MemGen(f, code)));
            case OpCodeOperandKind.mem: return MemGen(f, code);
            case OpCodeOperandKind.mem_offs: return MoffsGen(f);
            case OpCodeOperandKind.imm64: return Values.Value64.Select(v => (Opnd)new ImmOpnd((long)v, true));
            case OpCodeOperandKind.imm8_const_1: return Gen.Constant((Opnd)new ImmOpnd(1));
            case OpCodeOperandKind.al: return Gen.Constant((Opnd)new FixedRegOpnd(Register.AL));
            case OpCodeOperandKind.ax: return Gen.Constant((Opnd)new FixedRegOpnd(Register.AX));
            case OpCodeOperandKind.eax: return Gen.Constant((Opnd)new FixedRegOpnd(Register.EAX));
            case OpCodeOperandKind.rax: return Gen.Constant((Opnd)new FixedRegOpnd(Register.RAX));
            case OpCodeOperandKind.cl: return Gen.Constant((Opnd)new FixedRegOpnd(Register.CL));
            case OpCodeOperandKind.br64_1: return Gen.Constant((Opnd)new BranchOpnd(Layout.ShortBranchTarget));
            case OpCodeOperandKind.br64_4: return Gen.Constant((Opnd)new BranchOpnd(Layout.BranchTarget));
            case OpCodeOperandKind.seg_rSI:
            case OpCodeOperandKind.es_rDI: return Gen.Constant((Opnd)new StringOpnd());
            default:
                return (f.Immediate?.Invoke(code, slot, k) ?? DefaultImmediate(k)).Select(v => (Opnd)new ImmOpnd(v));
        }
    }

    /// <summary>Generator of encoding choices for <paramref name="code"/> in family <paramref name="f"/>.</summary>
    public static Gen<Shape> ShapeGen(Family f, Code code)
    {
        var oc = code.ToOpCode();
        var slots = Enumerable.Range(0, oc.OpCount).Select(i => OperandGen(f, code, i, oc.GetOpKind(i))).ToArray();
        bool isString = Enumerable.Range(0, oc.OpCount).Any(i => oc.GetOpKind(i) is OpCodeOperandKind.seg_rSI or OpCodeOperandKind.es_rDI);
        bool compareString = oc.Mnemonic is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq
            or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq;
        Gen<RepPrefixKind> rep = !isString ? Gen.Constant(RepPrefixKind.None)
            : compareString ? Gen.Elements(RepPrefixKind.None, RepPrefixKind.Repe, RepPrefixKind.Repne)
            : Gen.Elements(RepPrefixKind.None, RepPrefixKind.Repe, RepPrefixKind.Repe);
        Gen<bool> lockGen = oc.CanUseLockPrefix ? Gen.Frequency((2, Gen.Constant(false)), (1, Gen.Constant(true))) : Gen.Constant(false);
        return
            from ops in Gen.CollectToArray(slots)
            from lk in lockGen
            from asz in Gen.Frequency((3, Gen.Constant(64)), (1, Gen.Constant(32)))
            from r in rep
            let shape = new Shape(code, ops, lk && ops.Length > 0 && ops[0] is MemOpnd, isString ? asz : 64, r)
            where NoAliasing(f, shape)
            select shape;
    }

    /// <summary>The memory operand's base/index must not be a register whose value the family constrains.</summary>
    private static bool NoAliasing(Family f, Shape s)
    {
        var mem = s.Ops.OfType<MemOpnd>().FirstOrDefault();
        if (mem is null || f.Memory == MemMode.NoAccess) return true;
        foreach (int slot in f.ConstrainedSlots)
        {
            if (slot >= s.Ops.Length) continue;
            Register? r = s.Ops[slot] switch { RegOpnd ro => ro.Reg, FixedRegOpnd fr => fr.Reg, _ => null };
            if (r is null) continue;
            int idx = Regs.Info(r.Value).Index;
            if (idx == mem.Shape.Base || idx == mem.Shape.Index) return false;
        }
        return true;
    }

    /// <summary>Generator of complete cases for the codes <paramref name="codes"/> of family <paramref name="f"/>.</summary>
    public static Gen<DiffCase> CaseGen(Family f, IReadOnlyList<Code> codes) =>
        (from code in Gen.Elements(codes.ToArray())
         from shape in ShapeGen(f, code)
         from gpr in Gen.ArrayOf(Values.Value64, 16)
         from flags in Values.Flags
         from seed in Values.Seed
         select Build(f, shape, gpr, flags, seed))
        .Where(c => c is not null)
        .Select(c => c!);

    public static Gen<DiffCase> CaseGen(Family f) => CaseGen(f, f.Codes);

    private static MemoryOperand ToMemoryOperand(MemShape s, long disp, bool addr32)
    {
        switch (s.Kind)
        {
            case MemKind.RipRelative:
                return new MemoryOperand(Register.RIP, Register.None, 1, (long)(Layout.Scratch + (ulong)s.TargetOffset), 8);
            case MemKind.Absolute:
                // displSize 8: [disp32] with a SIB byte and 64-bit addressing; 4: the same with a 67h prefix.
                return new MemoryOperand(Register.None, Register.None, 1, (long)(Layout.Scratch + (ulong)s.TargetOffset), (s.TargetOffset & 1) != 0 ? 4 : 8);
            case MemKind.Moffs:
                return new MemoryOperand(Register.None, Register.None, 1, (long)(Layout.Scratch + (ulong)s.TargetOffset), 8);
        }
        int size = addr32 ? 4 : 8;
        Register b = s.Base == MemShape.None ? Register.None : Regs.Of(s.Base, size);
        Register x = s.Index == MemShape.None ? Register.None : Regs.Of(s.Index, size);
        int displSize = disp == 0 ? 0 : disp is >= -128 and <= 127 ? 1 : 4;
        if (b == Register.None) displSize = 4;
        return new MemoryOperand(b, x, s.Index == MemShape.None ? 1 : s.Scale, disp, displSize, false, s.Segment);
    }

    /// <summary>
    /// Places the memory operand: computes base/index register values (and adjusts the displacement) so that the
    /// effective address is the target inside scratch. Returns the displacement to encode.
    /// </summary>
    private static long PlaceMemory(CaseBuilder b, MemShape s, int memSize, int align, out ulong address)
    {
        if (b.Family.StackRelative && s.Base == 4 && s.Kind is MemKind.Normal or MemKind.Addr32)
        {
            // POP m computes the address after incrementing RSP (SDM Vol. 2B POP); everything else before.
            ulong rsp = b.Gpr[4] + (b.Mnemonic == Mnemonic.Pop ? (ulong)memSize : 0);
            address = rsp + (ulong)s.Disp;
            if (s.Kind == MemKind.Addr32) address = (uint)address;
            return s.Disp;
        }
        int t = s.TargetOffset;
        // Keep the operand inside scratch, and naturally aligned when locked (split locks are slow natively).
        t = Math.Min(t, Layout.ScratchSize - Math.Max(memSize, 1));
        if (align > 1) t = t / align * align;
        ulong target = Layout.Scratch + (ulong)t;
        address = target;
        if (s.Kind is MemKind.RipRelative or MemKind.Absolute or MemKind.Moffs) return 0;
        bool a32 = s.Kind == MemKind.Addr32;
        long disp = s.Disp;
        int log = System.Numerics.BitOperations.Log2((uint)s.Scale);
        // With FS/GS the effective address is the target minus the segment base (64-bit wrap-around).
        target -= s.Segment == Register.FS ? b.FsBase : s.Segment == Register.GS ? b.GsBase : 0;
        if (s.Base != MemShape.None)
        {
            ulong idx = s.Index != MemShape.None ? b.Gpr[s.Index] << log : 0;
            ulong baseValue = target - (ulong)disp - idx;
            if (a32) b.Gpr[s.Base] = (b.Gpr[s.Base] & 0xFFFF_FFFF_0000_0000UL) | (uint)baseValue;
            else b.Gpr[s.Base] = baseValue;
        }
        else
        {
            // [index*scale + disp32]: make (target - disp) divisible by the scale.
            long rem = ((long)target - disp) % s.Scale;
            if (rem < 0) rem += s.Scale;
            disp += rem;
            if (disp > int.MaxValue) disp -= s.Scale;
            ulong idx = (ulong)(((long)target - disp) / s.Scale);
            if (a32) b.Gpr[s.Index] = (b.Gpr[s.Index] & 0xFFFF_FFFF_0000_0000UL) | (uint)idx;
            else b.Gpr[s.Index] = idx;
        }
        return disp;
    }

    private static Instruction CreateString(Code code, int asz, RepPrefixKind rep) => code switch
    {
        Code.Movsb_m8_m8 => Instruction.CreateMovsb(asz, Register.None, rep),
        Code.Movsw_m16_m16 => Instruction.CreateMovsw(asz, Register.None, rep),
        Code.Movsd_m32_m32 => Instruction.CreateMovsd(asz, Register.None, rep),
        Code.Movsq_m64_m64 => Instruction.CreateMovsq(asz, Register.None, rep),
        Code.Cmpsb_m8_m8 => Instruction.CreateCmpsb(asz, Register.None, rep),
        Code.Cmpsw_m16_m16 => Instruction.CreateCmpsw(asz, Register.None, rep),
        Code.Cmpsd_m32_m32 => Instruction.CreateCmpsd(asz, Register.None, rep),
        Code.Cmpsq_m64_m64 => Instruction.CreateCmpsq(asz, Register.None, rep),
        Code.Lodsb_AL_m8 => Instruction.CreateLodsb(asz, Register.None, rep),
        Code.Lodsw_AX_m16 => Instruction.CreateLodsw(asz, Register.None, rep),
        Code.Lodsd_EAX_m32 => Instruction.CreateLodsd(asz, Register.None, rep),
        Code.Lodsq_RAX_m64 => Instruction.CreateLodsq(asz, Register.None, rep),
        Code.Stosb_m8_AL => Instruction.CreateStosb(asz, rep),
        Code.Stosw_m16_AX => Instruction.CreateStosw(asz, rep),
        Code.Stosd_m32_EAX => Instruction.CreateStosd(asz, rep),
        Code.Stosq_m64_RAX => Instruction.CreateStosq(asz, rep),
        Code.Scasb_AL_m8 => Instruction.CreateScasb(asz, rep),
        Code.Scasw_AX_m16 => Instruction.CreateScasw(asz, rep),
        Code.Scasd_EAX_m32 => Instruction.CreateScasd(asz, rep),
        Code.Scasq_RAX_m64 => Instruction.CreateScasq(asz, rep),
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, "not a string instruction"),
    };

    private static Instruction Create(Code code, object[] a)
    {
        static Instruction Imm1(Code c, ImmOpnd i) => i.Value is >= int.MinValue and <= int.MaxValue
            ? Instruction.Create(c, (int)i.Value) : Instruction.Create(c, (uint)i.Value);
        static Instruction RegImm(Code c, Register r, ImmOpnd i) =>
            i.U64 ? Instruction.Create(c, r, (ulong)i.Value)
            : i.Value is >= int.MinValue and <= int.MaxValue ? Instruction.Create(c, r, (int)i.Value)
            : Instruction.Create(c, r, (uint)i.Value);
        static Instruction MemImm(Code c, MemoryOperand m, ImmOpnd i) => i.Value is >= int.MinValue and <= int.MaxValue
            ? Instruction.Create(c, m, (int)i.Value) : Instruction.Create(c, m, (uint)i.Value);
        static Instruction RegRegImm(Code c, Register r1, Register r2, ImmOpnd i) => i.Value is >= int.MinValue and <= int.MaxValue
            ? Instruction.Create(c, r1, r2, (int)i.Value) : Instruction.Create(c, r1, r2, (uint)i.Value);
        static Instruction RegMemImm(Code c, Register r, MemoryOperand m, ImmOpnd i) => i.Value is >= int.MinValue and <= int.MaxValue
            ? Instruction.Create(c, r, m, (int)i.Value) : Instruction.Create(c, r, m, (uint)i.Value);

        return a switch
        {
            [] => Instruction.Create(code),
            [Register r] => Instruction.Create(code, r),
            [MemoryOperand m] => Instruction.Create(code, m),
            [ImmOpnd i] => Imm1(code, i),
            [ImmOpnd i1, ImmOpnd i2] => Instruction.Create(code, (int)i1.Value, (int)i2.Value),
            [Register r1, Register r2] => Instruction.Create(code, r1, r2),
            [Register r, MemoryOperand m] => Instruction.Create(code, r, m),
            [MemoryOperand m, Register r] => Instruction.Create(code, m, r),
            [Register r, ImmOpnd i] => RegImm(code, r, i),
            [MemoryOperand m, ImmOpnd i] => MemImm(code, m, i),
            [Register r1, Register r2, Register r3] => Instruction.Create(code, r1, r2, r3),
            [Register r1, Register r2, MemoryOperand m] => Instruction.Create(code, r1, r2, m),
            [Register r1, MemoryOperand m, Register r3] => Instruction.Create(code, r1, m, r3),
            [MemoryOperand m, Register r2, Register r3] => Instruction.Create(code, m, r2, r3),
            [Register r1, Register r2, ImmOpnd i] => RegRegImm(code, r1, r2, i),
            [Register r1, MemoryOperand m, ImmOpnd i] => RegMemImm(code, r1, m, i),
            [MemoryOperand m, Register r2, ImmOpnd i] => i.Value is >= int.MinValue and <= int.MaxValue
                ? Instruction.Create(code, m, r2, (int)i.Value) : Instruction.Create(code, m, r2, (uint)i.Value),
            _ => throw new NotSupportedException($"{code}: operand combination {string.Join(", ", a.Select(x => x.GetType().Name))}"),
        };
    }

    /// <summary>
    /// Builds a case: fills memory, sets RSP inside the stack, places the memory operand, encodes with Iced,
    /// applies the family's constraints and computes the undefined masks. Null when the choices cannot be
    /// encoded (e.g. AH with a REX prefix).
    /// </summary>
    public static DiffCase? Build(Family f, Shape shape, ulong[] gpr, ulong flags, int seed)
    {
        var rnd = new Random(seed);
        var scratch = new byte[Layout.ScratchSize];
        Fill(scratch, (ulong)seed);
        var stack = new byte[Layout.StackImage];
        Fill(stack, (ulong)seed ^ 0x9E37_79B9_7F4A_7C15UL);
        gpr = (ulong[])gpr.Clone();
        // RSP: inside the exchanged stack image with room both ways, usually 8-aligned, sometimes next to a page boundary.
        ulong rsp = Layout.StackTop - 0x200 - 8 * (ulong)rnd.Next(0, 0x2C1);
        if (rnd.Next(8) == 0) rsp = Layout.StackTop - 0x1000 + 8 - (ulong)rnd.Next(0, 16);
        if (rnd.Next(5) == 0) rsp -= (ulong)rnd.Next(1, 8);
        gpr[4] = rsp;

        var b = new CaseBuilder(f, shape, gpr, flags, scratch, stack, rnd);
        if (shape.Ops.OfType<MemOpnd>().Any(m => m.Shape.Segment != Register.None))
        {
            // The oracle runs the instruction on this thread, so this thread's bases are the ones it will use.
            b.FsBase = HostSegments.FsBase();
            b.GsBase = HostSegments.GsBase();
        }
        var info = shape.Code.ToOpCode();
        int memSize = MemorySizeOf(shape.Code);
        b.MemSize = memSize;

        // Resolve operands into Iced arguments.
        var args = new List<object>();
        bool isBranch = false, isString = false;
        foreach (var op in shape.Ops)
        {
            switch (op)
            {
                case RegOpnd r: args.Add(r.Reg); break;
                case FixedRegOpnd fr: args.Add(fr.Reg); break;
                case ImmOpnd i: args.Add(i); break;
                case BranchOpnd: isBranch = true; break;
                case StringOpnd: isString = true; break;
                case MemOpnd m:
                {
                    bool a32 = m.Shape.Kind == MemKind.Addr32;
                    long disp = m.Shape.Disp;
                    if (f.Memory == MemMode.Access)
                    {
                        bool naturallyAligned = shape.Lock || info.Mnemonic == Mnemonic.Xchg;
                        int align = Math.Max(f.MemAlign, naturallyAligned ? Math.Max(memSize, 1) : 1);
                        disp = PlaceMemory(b, m.Shape, memSize, align, out ulong address);
                        b.MemAddress = address;
                    }
                    args.Add(ToMemoryOperand(m.Shape, disp, a32));
                    break;
                }
            }
        }

        Instruction ins;
        try
        {
            if (isBranch) ins = Instruction.CreateBranch(shape.Code, ((BranchOpnd)shape.Ops[0]).Target);
            else if (isString) ins = CreateString(shape.Code, shape.StringAddressSize, shape.Rep);
            else ins = Create(shape.Code, args.ToArray());
        }
        catch (ArgumentException)
        {
            return null;
        }
        if (shape.Lock) ins.HasLockPrefix = true;

        var writer = new ByteWriter();
        var encoder = Encoder.Create(64, writer);
        if (!encoder.TryEncode(ins, Layout.CodeAddress, out _, out _)) return null;
        byte[] bytes = writer.ToArray();
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes));
        decoder.IP = Layout.CodeAddress;
        decoder.Decode(out Instruction decoded);
        if (decoded.IsInvalid || decoded.Length != bytes.Length) return null;

        f.Constrain?.Invoke(b);
        var undefined = new Undefined();
        f.Undefine?.Invoke(b, undefined);

        return new DiffCase
        {
            Family = f.Name,
            Bytes = bytes,
            Instruction = decoded,
            Gpr = b.Gpr,
            Rflags = b.Rflags,
            Scratch = scratch,
            Stack = stack,
            Undefined = undefined,
            MemoryAddress = b.MemAddress,
            MemorySize = memSize,
            FsBase = b.FsBase,
            GsBase = b.GsBase,
        };
    }

    /// <summary>
    /// Encodes a shape without memory operands at <paramref name="ip"/> (the second instruction of a flag chain).
    /// Null when it has a memory or string operand or cannot be encoded.
    /// </summary>
    public static (byte[] Bytes, Instruction Decoded)? EncodeRegisterForm(Shape shape, ulong ip)
    {
        var args = new List<object>();
        foreach (var op in shape.Ops)
        {
            switch (op)
            {
                case RegOpnd r: args.Add(r.Reg); break;
                case FixedRegOpnd fr: args.Add(fr.Reg); break;
                case ImmOpnd i: args.Add(i); break;
                case BranchOpnd: break;
                default: return null;
            }
        }
        Instruction ins;
        try
        {
            ins = shape.Ops is [BranchOpnd b] ? Instruction.CreateBranch(shape.Code, b.Target) : Create(shape.Code, args.ToArray());
        }
        catch (ArgumentException)
        {
            return null;
        }
        var writer = new ByteWriter();
        if (!Encoder.Create(64, writer).TryEncode(ins, ip, out _, out _)) return null;
        byte[] bytes = writer.ToArray();
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes));
        decoder.IP = ip;
        decoder.Decode(out Instruction decoded);
        if (decoded.IsInvalid || decoded.Length != bytes.Length) return null;
        return (bytes, decoded);
    }

    /// <summary>Fills <paramref name="buffer"/> with SplitMix64 output (seeded System.Random is far slower for 64 KiB).</summary>
    private static void Fill(byte[] buffer, ulong state)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan());
        for (int i = 0; i < words.Length; i++)
        {
            ulong z = state += 0x9E37_79B9_7F4A_7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
            words[i] = z ^ (z >> 31);
        }
    }

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
