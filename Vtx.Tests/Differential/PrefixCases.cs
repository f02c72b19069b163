using Iced.Intel;
using static Vtx.Tests.Differential.Layout;

namespace Vtx.Tests.Differential;

/// <summary>SplitMix64: a small, fast, replayable generator (each case is rebuilt from its own 64-bit seed).</summary>
internal sealed class PxRng(ulong seed)
{
    private ulong _s = seed;

    public ulong Next()
    {
        ulong z = _s += 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n).</summary>
    public int Below(int n) => (int)(Next() % (ulong)n);

    public bool Chance(int percent) => Below(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[Below(items.Count)];

    /// <summary>Register values: uniform 64-bit, edge values, edges ± 3, small numbers, sign/zero-extended 8/16/32-bit values.</summary>
    public ulong Value()
    {
        switch (Below(10))
        {
            case < 5: return Next();
            case 5 or 6: return Pick(Values.Edges);
            case 7: return Pick(Values.Edges) + (ulong)(long)(Below(7) - 3);
            case 8: return (ulong)Below(65);
            default:
                int size = Pick(new[] { 1, 2, 4 });
                ulong v = Next();
                return Chance(50) ? Regs.SignExtend(v, size) : v & Regs.Mask(size);
        }
    }

    public void Fill(Span<byte> bytes)
    {
        // Half of the windows use a small alphabet so that CMPS/SCAS find equal elements and REPE/REPNE stop early.
        bool small = Chance(50);
        byte a = (byte)Next(), b = (byte)Next();
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = small ? (Chance(85) ? a : b) : (byte)Next();
    }
}

/// <summary>One generated prefix-combination case: the differential case plus what the generator's own model expects.</summary>
public sealed class PxCase
{
    public required DiffCase Case { get; init; }
    public required PxForm Form { get; init; }
    /// <summary>The prefix bytes in encoding order (legacy prefixes and REX bytes before the opcode).</summary>
    public required byte[] Prefixes { get; init; }
    /// <summary>The generator's model says the host raises #UD (invalid in 64-bit mode, LOCK misuse, register form of a memory-only instruction).</summary>
    public required bool ExpectUd { get; init; }
    /// <summary>Why <see cref="ExpectUd"/> holds (empty when it does not).</summary>
    public required string UdReason { get; init; }
    /// <summary>The seed that rebuilds this case (<c>VTX_PREFIX_CASE=form-index:seed</c>).</summary>
    public required ulong Seed { get; init; }
    public required int FormIndex { get; init; }
    /// <summary>Non-empty when the generator's length model and Iced disagree (the case is then not executed).</summary>
    public string LengthDisagreement { get; init; } = "";

    /// <summary>Prefix bytes as hex, e.g. "66 F3 48".</summary>
    public string PrefixKey => Prefixes.Length == 0 ? "-" : string.Join(' ', Prefixes.Select(p => p.ToString("X2")));

    /// <summary>The set of distinct prefix kinds (order and repetition removed, REX values kept), e.g. "66+F3+REX.W".</summary>
    public string PrefixSet => Prefixes.Length == 0 ? "-" : string.Join('+', Prefixes.Distinct().OrderBy(p => p).Select(p => p.ToString("X2")));
}

/// <summary>
/// The independent prefix-combination generator: for a form of <see cref="PxTable"/> it picks random legacy prefixes
/// (66/67/F2/F3/26/2E/36/3E/64/65/F0, repeated and in any order), a REX byte (any of the 16 values, right before the
/// opcode or misplaced before a legacy prefix, where the SDM says it is ignored), a random ModRM/SIB/displacement form,
/// random full-range register values and flags, and solves the base/index registers so that the memory operand lands in
/// the scratch region or the stack image, following its own model of 64-bit effective-address calculation
/// (SDM Vol. 2A, 2.2.1: REX, RIP-relative, SIB without base, 67h 32-bit wrap-around, FS/GS bases).
/// </summary>
public static class PxGenerator
{
    private const int Rsp = 4;
    private static readonly byte[] s_legacy = [0x66, 0x67, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65];
    private static readonly ulong s_fsBase = HostSegments.FsBase(), s_gsBase = HostSegments.GsBase();

    private static bool IsBranch(PxSem s) => s is PxSem.Jcc or PxSem.Jmp or PxSem.Call or PxSem.Ret or PxSem.Loop or PxSem.Jrcxz or PxSem.CallInd or PxSem.JmpInd;

    private static bool IsString(PxSem s) => s is PxSem.Movs or PxSem.Cmps or PxSem.Stos or PxSem.Lods or PxSem.Scas;

    private static bool IsLegacy(byte b) => b is 0x66 or 0x67 or 0xF2 or 0xF3 or 0xF0 or 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65;

    /// <summary>Builds the case of <paramref name="formIndex"/> from <paramref name="seed"/> (deterministic).</summary>
    public static PxCase Make(int formIndex, ulong seed)
    {
        for (int attempt = 0; ; attempt++)
        {
            var c = TryMake(formIndex, seed + (ulong)attempt * 0x1_0000_0001UL, seed);
            if (c is not null) return c;
            if (attempt > 200) throw new InvalidOperationException($"generator could not place {PxTable.All[formIndex]} (seed {seed})");
        }
    }

    private sealed class Mem
    {
        public int Base = -1, Index = -1, Scale = 1;
        public long Disp;
        public int DispSize; // 0, 1, 4
        public bool RipRelative;
        public byte ModRm, Sib;
        public bool HasSib;
    }

    private static PxCase? TryMake(int formIndex, ulong seed, ulong caseSeed)
    {
        PxForm f = PxTable.All[formIndex];
        var rnd = new PxRng(seed);

        // ---- Prefixes ----------------------------------------------------------------------------------------
        var legacy = new List<byte>();
        int n = rnd.Below(100) switch { < 25 => 0, < 55 => 1, < 78 => 2, < 92 => 3, _ => 4 + rnd.Below(3) };
        for (int i = 0; i < n; i++) legacy.Add(rnd.Pick(s_legacy));
        if (rnd.Chance(f.Lockable ? 25 : 4)) legacy.Insert(rnd.Below(legacy.Count + 1), 0xF0);
        // 66h on near branches: Intel ignores it, AMD truncates RIP to 16 bits (AMD APM Vol. 3, "Near branches in
        // 64-bit mode"; SDM Vol. 2A JMP/CALL/RET "64-bit mode"): vendor-specific, never generated.
        if (IsBranch(f.Sem)) legacy.RemoveAll(b => b == 0x66);
        // Mandatory F3h selects POPCNT/TZCNT/LZCNT; F2h together with it is left out (which of F2h/F3h wins is not
        // architecturally defined: SDM Vol. 2A, 2.1.1, "only useful to include up to one prefix code from each group").
        if (f.Mandatory == 0xF3)
        {
            legacy.RemoveAll(b => b == 0xF2);
            legacy.Insert(rnd.Below(legacy.Count + 1), 0xF3);
        }
        else if (f.Opcode is [0x0F, 0xB8 or 0xBC or 0xBD]) legacy.RemoveAll(b => b == 0xF3); // F3 turns these into POPCNT/TZCNT/LZCNT
        // String instructions with both F2h and F3h: which repeat prefix applies is not defined (SDM 2.1.1) - not generated.
        if (IsString(f.Sem) && legacy.Contains(0xF2) && legacy.Contains(0xF3))
        {
            byte drop = rnd.Chance(50) ? (byte)0xF2 : (byte)0xF3;
            legacy.RemoveAll(b => b == drop);
        }
        // Segment overrides: FS and GS together, or a CS/DS/ES/SS override after FS/GS, leave the effective segment to
        // the vendor (SDM 2.1.1 as above; Intel keeps FS/GS, see Iced's decoder) - only one of FS/GS, and null
        // overrides only before it.
        int lastFsGs = legacy.FindLastIndex(b => b is 0x64 or 0x65);
        if (lastFsGs >= 0)
        {
            byte keep = legacy[lastFsGs];
            for (int i = legacy.Count - 1; i >= 0; i--)
                if ((legacy[i] is 0x64 or 0x65 && legacy[i] != keep) || (i > lastFsGs && legacy[i] is 0x26 or 0x2E or 0x36 or 0x3E))
                    legacy.RemoveAt(i);
        }

        // REX: right before the opcode (effective), and/or misplaced before a legacy prefix (ignored, SDM 2.2.1).
        int rexMode = rnd.Below(100) switch { < 35 => 0, < 80 => 1, < 90 => 2, _ => 3 };
        byte rex = 0;
        if (rexMode is 2 or 3)
        {
            if (legacy.Count == 0) legacy.Add(rnd.Pick(new byte[] { 0x2E, 0x3E, 0x26, 0x36 }));
            legacy.Insert(rnd.Below(legacy.Count), (byte)(0x40 | rnd.Below(16)));
        }
        if (rexMode is 1 or 3) rex = (byte)(0x40 | rnd.Below(16));

        bool Has(byte p) => legacy.Contains(p);
        bool rexW = (rex & 8) != 0, rexR = (rex & 4) != 0, rexX = (rex & 2) != 0, rexB = (rex & 1) != 0;
        bool o16 = Has(0x66), a32 = Has(0x67), lockP = Has(0xF0);
        bool rep = Has(0xF2) || Has(0xF3);
        int osz = f.Size switch
        {
            PxSize.B => 1,
            PxSize.V => rexW ? 8 : o16 ? 2 : 4,
            PxSize.D64 => rexW ? 8 : o16 ? 2 : 8, // REX.W takes precedence over 66h (SDM Vol. 2A, 2.2.1.2)
            _ => 8,
        };
        int asz = a32 ? 4 : 8;

        // ---- Register state -----------------------------------------------------------------------------------
        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++) gpr[i] = rnd.Value();
        ulong rsp = StackTop - 0x400 - 8 * (ulong)rnd.Below(0x80);
        if (rnd.Chance(10)) rsp -= (ulong)rnd.Below(8);
        gpr[Rsp] = rsp;
        ulong rflags = 0;
        foreach (ulong bit in new[] { CF, PF, AF, ZF, SF, OF, DF }) if (rnd.Chance(50)) rflags |= bit;
        var scratch = new byte[ScratchSize];
        var stack = new byte[StackImage];
        rnd.Fill(stack);

        // Registers whose values the constraints set (never base/index).
        var pinned = new HashSet<int> { Rsp };
        switch (f.Sem)
        {
            case PxSem.Div or PxSem.Idiv or PxSem.Mul or PxSem.Imul1: pinned.Add(0); pinned.Add(2); break;
            case PxSem.Movs or PxSem.Cmps or PxSem.Stos or PxSem.Lods or PxSem.Scas: pinned.UnionWith([1, 6, 7]); break;
            case PxSem.Xlat: pinned.Add(3); break;
            case PxSem.Enter or PxSem.Leave: pinned.Add(5); break;
        }

        // ---- ModRM ---------------------------------------------------------------------------------------------
        int reg = -1, rm = -1; // register numbers (0-15) of reg and r/m (mod = 3) operands
        Mem? mem = null;
        byte opLow = 0;
        if (f.Ops == PxOperands.OpReg)
        {
            opLow = (byte)rnd.Below(8);
            reg = opLow | (rexB ? 8 : 0);
        }
        bool isMem = false;
        if (f.HasModRm)
        {
            isMem = f.RegOnly ? false : f.MemOnly ? rnd.Chance(88) : rnd.Chance(60);
            int regField = f.Digit >= 0 ? f.Digit : rnd.Below(8);
            if (f.Digit < 0) reg = regField | (rexR ? 8 : 0);
            if (!isMem)
            {
                int rmField = rnd.Below(8);
                rm = rmField | (rexB ? 8 : 0);
                mem = new Mem { ModRm = (byte)(0xC0 | (regField << 3) | rmField) };
            }
            else
            {
                mem = PickMemory(rnd, regField, rexX, rexB);
                if (mem is null) return null;
            }
        }

        // Register operands whose value the case constrains must not double as a pinned register or base/index.
        int? constrainedReg = f.Sem switch
        {
            PxSem.Div or PxSem.Idiv when !isMem => rm,
            PxSem.Bt or PxSem.Bts or PxSem.Btr or PxSem.Btc when isMem && f.Ops == PxOperands.EG => reg,
            PxSem.CallInd or PxSem.JmpInd when !isMem => rm,
            _ => null,
        };
        if (constrainedReg is int cr)
        {
            // A byte register 4-7 without REX is AH..BH, i.e. part of register 0-3.
            int arch = osz == 1 && rex == 0 && cr is >= 4 and < 8 ? cr - 4 : cr;
            if (pinned.Contains(arch)) return null;
            pinned.Add(arch);
        }
        if (mem is not null && isMem && ((mem.Base >= 0 && mem.Base != Rsp && pinned.Contains(mem.Base)) || (mem.Index >= 0 && pinned.Contains(mem.Index))))
            return null;

        bool memAccess = isMem && f.Sem is not (PxSem.Lea or PxSem.Nop);
        byte seg = legacy.LastOrDefault(b => b is 0x64 or 0x65);
        ulong segBase = seg == 0x64 ? s_fsBase : seg == 0x65 ? s_gsBase : 0;
        bool usesSegment = memAccess || f.Ops == PxOperands.Moffs || f.Sem is PxSem.Xlat or PxSem.Movs or PxSem.Cmps or PxSem.Lods;
        bool stackAccessOnly = f.Sem is PxSem.Push or PxSem.Pop or PxSem.Pushf or PxSem.Popf or PxSem.Enter or PxSem.Leave or PxSem.Call or PxSem.Ret;
        if (usesSegment && segBase != 0 && a32) return null; // a 32-bit offset cannot reach the scratch region from the FS base

        // Shift counts (imm8 and CL) are chosen before the address is solved: RCX may be a base or index register.
        ulong shiftImm = ShiftCount(rnd);
        if (f.Sem is PxSem.Rol or PxSem.Ror or PxSem.Rcl or PxSem.Rcr or PxSem.Shl or PxSem.Shr or PxSem.Sar or PxSem.Shld or PxSem.Shrd)
            gpr[1] = (gpr[1] & ~0xFFUL) | ShiftCount(rnd);

        // ---- Memory operand ------------------------------------------------------------------------------------
        int memSize = f.RmSize != 0 ? (f.RmSize == 4 && !rexW && o16 ? 4 : f.RmSize) : osz;
        if (f.Sem == PxSem.Cmpxchg8b) memSize = rexW ? 16 : 8;
        if (f.Sem is PxSem.CallInd or PxSem.JmpInd or PxSem.Push or PxSem.Pop && f.Ops == PxOperands.E) memSize = osz;
        ulong target = 0;
        bool lockedAccess = memAccess && (lockP || f.Sem == PxSem.Xchg);
        if (isMem && mem is not null)
        {
            bool stackBased = mem.Base == Rsp;
            int align = f.Sem == PxSem.Cmpxchg8b && rexW ? 16 : lockedAccess ? Math.Min(memSize, 8) : 1;
            if (stackBased)
            {
                // [rsp + index*scale + disp]: RSP keeps its stack value; the index is small, a disp32 near the stack.
                if (segBase != 0 || mem.Index == Rsp) return null;
                ulong amask = a32 ? 0xFFFF_FFFFUL : ulong.MaxValue;
                if (mem.Index >= 0) gpr[mem.Index] = ((ulong)(long)(rnd.Below(33) - 16) & amask) | (a32 ? rnd.Next() & ~0xFFFF_FFFFUL : 0);
                if (mem.DispSize == 4) mem.Disp = rnd.Below(0x1B00) - 0x1800;
                ulong bump = f.Sem == PxSem.Pop ? (ulong)osz : 0;
                ulong ea = (rsp + bump + (mem.Index >= 0 ? gpr[mem.Index] * (ulong)mem.Scale : 0) + (ulong)mem.Disp) & amask;
                if (ea < StackImageBase + 0x40 || ea + (ulong)memSize + 0x40 > StackTop) return null;
                if ((ea & (ulong)(align - 1)) != 0) return null;
                target = ea;
            }
            else if (f.Sem is PxSem.Bt or PxSem.Bts or PxSem.Btr or PxSem.Btc && f.Ops == PxOperands.EG)
                target = Scratch + 0x4000 + (ulong)rnd.Below(0x8000);
            else
                target = Scratch + 0x100 + (ulong)rnd.Below(ScratchSize - 0x200);
            target &= ~(ulong)(align - 1);
            if (!memAccess) target = rnd.Next(); // LEA and NOP compute (or ignore) any address
            if (!stackBased && !SolveAddress(rnd, mem, gpr, target, segBase, asz, memAccess)) return null;
        }

        // ---- Encoding ------------------------------------------------------------------------------------------
        var bytes = new List<byte>(legacy);
        int prefixCount = bytes.Count;
        if (rex != 0) { bytes.Add(rex); prefixCount++; }
        byte[] prefixes = bytes.ToArray();
        for (int i = 0; i < f.Opcode.Length; i++)
            bytes.Add(i == f.Opcode.Length - 1 ? (byte)(f.Opcode[i] + opLow) : f.Opcode[i]);
        if (f.HasModRm)
        {
            bytes.Add(mem!.ModRm);
            if (mem.HasSib) bytes.Add(mem.Sib);
            for (int i = 0; i < mem.DispSize; i++) bytes.Add((byte)(mem.Disp >> (8 * i)));
        }
        int dispAt = bytes.Count - (mem?.DispSize ?? 0);
        int immSize = f.Imm switch
        {
            PxImm.B or PxImm.Bs or PxImm.Rel8 => 1,
            PxImm.Z => osz == 2 ? 2 : 4,
            PxImm.W => 2,
            PxImm.V => osz,
            PxImm.WB => 3,
            PxImm.Rel32 => 4,
            _ => 0,
        };
        int moffsSize = f.Ops == PxOperands.Moffs ? asz : 0;
        int length = bytes.Count + immSize + moffsSize;
        if (length > NativeExecutorMaxLength) return null; // > 15 bytes is #GP, which the oracle cannot survive
        ulong nextRip = CodeAddress + (ulong)length;
        if (mem is { RipRelative: true })
        {
            ulong ripBase = a32 ? nextRip & 0xFFFF_FFFF : nextRip;
            long disp = memAccess ? (long)(target - segBase - ripBase) : (long)(int)rnd.Next();
            if (disp is < int.MinValue or > int.MaxValue) return null;
            if (a32 && memAccess && ((ulong)(uint)(ripBase + (ulong)disp) + segBase != target)) return null;
            mem.Disp = disp;
            for (int i = 0; i < 4; i++) bytes[dispAt + i] = (byte)(disp >> (8 * i));
        }
        if (f.Ops == PxOperands.Moffs)
        {
            target = Scratch + 0x100 + (ulong)rnd.Below(ScratchSize - 0x200);
            ulong moffs = target - segBase;
            for (int i = 0; i < moffsSize; i++) bytes.Add((byte)(moffs >> (8 * i)));
        }

        // Immediates.
        ulong imm = rnd.Value();
        switch (f.Sem)
        {
            case PxSem.Rol or PxSem.Ror or PxSem.Rcl or PxSem.Rcr or PxSem.Shl or PxSem.Shr or PxSem.Sar or PxSem.Shld or PxSem.Shrd:
                imm = shiftImm;
                break;
            case PxSem.Ret: imm = (ulong)rnd.Below(0x200); break;
            case PxSem.Enter:
                imm = (ulong)(rnd.Chance(60) ? rnd.Below(65) : rnd.Below(0xE000));
                imm |= (ulong)(osz == 2 ? rnd.Pick(new[] { 0, 1, 32, 33, 64, 65 }) : rnd.Chance(70) ? rnd.Below(4) : rnd.Below(256)) << 16;
                break;
        }
        if (f.Imm == PxImm.Rel8)
        {
            long rel = (long)ShortBranchTarget - (long)nextRip;
            bytes.Add((byte)rel);
        }
        else if (f.Imm == PxImm.Rel32)
        {
            long rel = (long)BranchTarget - (long)nextRip;
            for (int i = 0; i < 4; i++) bytes.Add((byte)(rel >> (8 * i)));
        }
        else
            for (int i = 0; i < immSize; i++) bytes.Add((byte)(imm >> (8 * i)));
        if (bytes.Count != length) throw new InvalidOperationException("length model");

        // ---- Semantic constraints -------------------------------------------------------------------------------
        void WriteMem(ulong address, int size, ulong v)
        {
            for (int i = 0; i < size; i++)
            {
                ulong a = address + (ulong)i;
                if (InScratch(a, 1)) scratch[a - Scratch] = (byte)(v >> (8 * i));
                else if (InStackImage(a, 1)) stack[a - StackImageBase] = (byte)(v >> (8 * i));
            }
        }
        ulong ReadMem(ulong address, int size)
        {
            ulong v = 0;
            for (int i = 0; i < size; i++)
            {
                ulong a = address + (ulong)i;
                byte b = InScratch(a, 1) ? scratch[a - Scratch] : InStackImage(a, 1) ? stack[a - StackImageBase] : (byte)0;
                v |= (ulong)b << (8 * i);
            }
            return v;
        }
        // Register access at a size, honouring AH..BH (byte registers 4-7 without REX, SDM Vol. 1, 3.7.2.1).
        ulong ReadReg(int r, int size) =>
            size == 1 && rex == 0 && r is >= 4 and < 8 ? (gpr[r - 4] >> 8) & 0xFF : gpr[r] & Regs.Mask(size);
        void WriteReg(int r, int size, ulong v)
        {
            if (r == Rsp && !(size == 1 && rex == 0)) return; // RSP keeps its stack value (the native #UD path needs it)
            if (size == 1 && rex == 0 && r is >= 4 and < 8) gpr[r - 4] = (gpr[r - 4] & ~0xFF00UL) | ((v & 0xFF) << 8);
            else gpr[r] = (gpr[r] & ~Regs.Mask(size)) | (v & Regs.Mask(size));
        }
        if (memAccess)
        {
            // Random contents around the operand (a little beyond it: a wrong operand size shows up as a difference).
            ulong lo = Math.Max(target - 32, target >= Scratch && target < Scratch + ScratchSize ? Scratch : StackImageBase);
            ulong hi = Math.Min(target + (ulong)memSize + 32, InScratch(target, 1) ? Scratch + ScratchSize : StackTop);
            var window = new byte[hi - lo];
            rnd.Fill(window);
            for (int i = 0; i < window.Length; i++) WriteMem(lo + (ulong)i, 1, window[i]);
        }
        if (f.Ops == PxOperands.Moffs) WriteMem(target, 8, rnd.Next());

        ulong Rm(int size) => isMem ? ReadMem(target, size) : ReadReg(rm, size);
        void SetRm(int size, ulong v) { if (isMem) WriteMem(target, size, v); else WriteReg(rm, size, v); }

        var u = new Undefined();
        ulong count = 0;
        bool expectUd = false;
        string udWhy = "";
        if (f.Sem == PxSem.Invalid) { expectUd = true; udWhy = "invalid in 64-bit mode (SDM Vol. 2D, Table A-2 'i64' / UD0-UD2 / JMPE)"; }
        else if (f.MemOnly && !isMem) { expectUd = true; udWhy = $"{f.Name} with a register operand is #UD (SDM Vol. 2)"; }
        else if (lockP && !(f.Lockable && isMem)) { expectUd = true; udWhy = "LOCK on a non-lockable instruction or a register destination is #UD (SDM Vol. 2B, LOCK)"; }

        switch (f.Sem)
        {
            case PxSem.Or or PxSem.And or PxSem.Xor or PxSem.Test:
                u.MaskFlags(AF, $"SDM Vol. 2 {f.Sem.ToString().ToUpperInvariant()}: AF is undefined");
                break;
            case PxSem.Mul or PxSem.Imul1 or PxSem.Imul:
                u.MaskFlags(SF | ZF | AF | PF, "SDM Vol. 2 MUL/IMUL: SF, ZF, AF and PF are undefined");
                break;
            case PxSem.Div or PxSem.Idiv:
                DivideInputs(rnd, f.Sem == PxSem.Idiv, osz, gpr, v => SetRm(osz, v));
                u.MaskFlags(Status, "SDM Vol. 2A DIV/IDIV: CF, OF, SF, ZF, AF and PF are undefined");
                break;
            case PxSem.Rol or PxSem.Ror or PxSem.Rcl or PxSem.Rcr or PxSem.Shl or PxSem.Shr or PxSem.Sar:
            {
                count = f.Opcode[0] switch { 0xD0 or 0xD1 => 1, 0xD2 or 0xD3 => gpr[1] & 0xFF, _ => imm & 0xFF };
                int cnt = (int)(count & (osz == 8 ? 63u : 31u));
                if (cnt == 0) break;
                if (f.Sem is PxSem.Shl or PxSem.Shr or PxSem.Sar)
                {
                    u.MaskFlags(AF, "SDM Vol. 2B SAL/SAR/SHL/SHR: for a non-zero count, AF is undefined");
                    if (cnt != 1) u.MaskFlags(OF, "SDM Vol. 2B SAL/SAR/SHL/SHR: OF is defined only for 1-bit shifts");
                    if (f.Sem != PxSem.Sar && cnt >= osz * 8) u.MaskFlags(CF, "SDM Vol. 2B SHL/SHR: CF undefined when the count >= the operand size");
                }
                else if (cnt != 1) u.MaskFlags(OF, "SDM Vol. 2B RCL/RCR/ROL/ROR: OF undefined when the masked count is not 1");
                break;
            }
            case PxSem.Shld or PxSem.Shrd:
            {
                count = f.Opcode[1] is 0xA4 or 0xAC ? imm & 0xFF : gpr[1] & 0xFF;
                int cnt = (int)(count & (osz == 8 ? 63u : 31u));
                if (cnt == 0) break;
                if (cnt > osz * 8)
                {
                    const string why = "SDM Vol. 2B SHLD/SHRD: count > operand size: result and flags undefined";
                    u.MaskFlags(Status, why);
                    if (isMem) u.MaskMemory(target, osz, why); else u.MaskGpr(rm, ulong.MaxValue, why);
                    break;
                }
                u.MaskFlags(AF, "SDM Vol. 2B SHLD/SHRD: if a shift occurs, AF is undefined");
                if (cnt != 1) u.MaskFlags(OF, "SDM Vol. 2B SHLD/SHRD: OF undefined for shifts greater than 1 bit");
                break;
            }
            case PxSem.Bt or PxSem.Bts or PxSem.Btr or PxSem.Btc:
                if (isMem && f.Ops == PxOperands.EG)
                {
                    // Register bit offset: signed, may address far from the operand (SDM Vol. 2A BT, "bit base/offset").
                    long bits = rnd.Chance(50) || mem!.Base == Rsp ? rnd.Below(osz * 8 * 4) - osz * 16 : rnd.Below(0x18000 * 2) - 0x18000;
                    if (osz == 2) bits = Math.Clamp(bits, short.MinValue, short.MaxValue);
                    WriteReg(reg, osz, (ulong)bits);
                    long at = (long)target + (bits >> 3);
                    // The accessed unit must stay inside what is mapped natively (scratch, or the stack for RSP-based operands).
                    bool inScratch = at >= (long)Scratch + 16 && at + 32 <= (long)Scratch + ScratchSize;
                    bool inStack = at >= (long)StackImageBase + 16 && at + 32 <= (long)StackTop;
                    if (!inScratch && !inStack) return null;
                    var win = new byte[32];
                    rnd.Fill(win);
                    for (int i = 0; i < 32; i++) WriteMem((ulong)(at - 16 + i), 1, win[i]);
                }
                u.MaskFlags(OF | SF | AF | PF, "SDM Vol. 2A BT/BTS/BTR/BTC: OF, SF, AF and PF are undefined");
                break;
            case PxSem.Bsf or PxSem.Bsr:
                if (rnd.Chance(20)) SetRm(osz, 0);
                u.MaskFlags(CF | OF | SF | AF | PF, "SDM Vol. 2A BSF/BSR: CF, OF, SF, AF and PF are undefined");
                if (Rm(osz) == 0) u.MaskGpr(reg, ulong.MaxValue, "SDM Vol. 2A BSF/BSR: the destination is undefined when the source is 0");
                break;
            case PxSem.Tzcnt or PxSem.Lzcnt:
                if (rnd.Chance(20)) SetRm(osz, 0);
                u.MaskFlags(OF | SF | PF | AF, "SDM Vol. 2 LZCNT/TZCNT: OF, SF, PF and AF are undefined");
                break;
            case PxSem.Popcnt:
                if (rnd.Chance(20)) SetRm(osz, 0);
                break;
            case PxSem.Bswap when osz == 2:
                u.MaskGpr(reg, 0xFFFF, "SDM Vol. 2A BSWAP: with a 16-bit register the result is undefined");
                break;
            case PxSem.Cmpxchg:
                if (rnd.Chance(50)) SetRm(osz, gpr[0]);
                break;
            case PxSem.Cmpxchg8b:
                if (isMem && rnd.Chance(50))
                {
                    int h = memSize / 2;
                    WriteMem(target, h, gpr[0]);
                    WriteMem(target + (ulong)h, h, gpr[2]);
                }
                break;
            case PxSem.Movs or PxSem.Cmps or PxSem.Stos or PxSem.Lods or PxSem.Scas:
                StringInputs(rnd, f.Sem, osz, asz, rep, (rflags & DF) != 0, segBase, gpr, WriteMem);
                break;
            case PxSem.Xlat:
            {
                ulong t = Scratch + 0x100 + (ulong)rnd.Below(ScratchSize - 0x200);
                ulong al = gpr[0] & 0xFF;
                ulong rbx = t - al - segBase;
                gpr[3] = a32 ? (rnd.Next() & ~0xFFFF_FFFFUL) | (rbx & 0xFFFF_FFFF) : rbx;
                WriteMem(t, 1, rnd.Next());
                break;
            }
            case PxSem.Enter:
                gpr[5] = StackTop - 0x10 - 8 * (ulong)rnd.Below(0xE1);
                break;
            case PxSem.Leave:
                gpr[5] = StackImageBase + 0x10 + 8 * (ulong)rnd.Below(0x3F1) - (rnd.Chance(20) ? (ulong)rnd.Below(8) : 0);
                break;
            case PxSem.Popf:
            {
                // Only the status flags and DF are compared; TF/AC are never popped (a native trap/#AC kills the process).
                ulong v = (rnd.Next() & (Status | DF)) | (rnd.Next() & 0xFFFF_FFFF_0000_0000UL);
                WriteMem(rsp, osz, v);
                break;
            }
            case PxSem.Ret:
                WriteMem(rsp, 8, BranchTarget);
                break;
            case PxSem.CallInd or PxSem.JmpInd:
                SetRm(8, BranchTarget);
                break;
            case PxSem.Loop when rep && f.Opcode[0] is 0xE0 or 0xE1:
                // SDM Vol. 2A, 2.1.1: repeat prefixes on non-string instructions are reserved ("may cause unpredictable
                // behavior"). Observed on the AMD EPYC host: F3h makes LOOPNE test ZF = 1 and F2h makes LOOPE test ZF = 0
                // (the prefix supplies the condition); Vtx, like Intel's documented decoding, ignores the prefix.
                u.MaskRip("SDM Vol. 2A 2.1.1: F2h/F3h on LOOPE/LOOPNE is reserved (AMD host takes the condition from the prefix)");
                if (rnd.Chance(40)) gpr[1] = rnd.Chance(50) ? 0 : 1 | (rnd.Next() & ~0xFFFF_FFFFUL);
                break;
            case PxSem.Jrcxz or PxSem.Loop:
                if (rnd.Chance(40)) gpr[1] = rnd.Chance(50) ? 0 : 1 | (rnd.Next() & ~0xFFFF_FFFFUL);
                break;
        }

        byte[] code = bytes.ToArray();
        var decoder = Decoder.Create(64, code, CodeAddress, DecoderOptions.None);
        decoder.Decode(out Instruction ins);
        var dc = new DiffCase
        {
            Family = "prefix:" + f.Name,
            Bytes = code,
            Instruction = ins,
            Gpr = gpr,
            Rflags = rflags,
            Scratch = scratch,
            Stack = stack,
            Undefined = u,
            MemoryAddress = memAccess ? target : null,
            MemorySize = memSize,
            FsBase = s_fsBase,
            GsBase = s_gsBase,
        };
        if (!expectUd && !ins.IsInvalid && !MemoryIsSafe(ins, gpr, segBase)) return null;
        // The generator's length model and Iced (Vtx's decoder) must agree before anything runs natively: a wrong length
        // would run the landing pad's bytes as part of the instruction. A disagreement is reported, never executed.
        string lengthDisagreement = !expectUd && !ins.IsInvalid && ins.Length != code.Length
            ? $"generator length {code.Length}, Iced length {ins.Length}" : "";
        return new PxCase { Case = dc, Form = f, Prefixes = prefixes, ExpectUd = expectUd, UdReason = udWhy, Seed = caseSeed, FormIndex = formIndex, LengthDisagreement = lengthDisagreement };
    }

    private const ulong Status = Native.NativeRflags.Status;

    [ThreadStatic] private static InstructionInfoFactory? t_infoFactory;

    /// <summary>Shift counts: 0-3, around every operand width, and any byte.</summary>
    private static ulong ShiftCount(PxRng rnd) =>
        (ulong)(uint)(rnd.Below(100) switch { < 20 => rnd.Below(4), < 60 => 4 + rnd.Below(30), < 85 => 34 + rnd.Below(33), _ => rnd.Below(256) });

    private const int NativeExecutorMaxLength = Native.NativeExecutor.MaxInstructionLength;

    /// <summary>
    /// A ModRM/SIB/displacement form for a memory operand (mod 0/1/2), following SDM Vol. 2A Tables 2-2/2-3 with the
    /// 64-bit rules of 2.2.1: rm = 100b means a SIB byte (also for R12), mod = 00b rm = 101b is RIP-relative (also with
    /// REX.B), SIB index 100b without REX.X is "no index", SIB base 101b with mod = 00b is "disp32, no base".
    /// </summary>
    private static Mem? PickMemory(PxRng rnd, int regField, bool rexX, bool rexB)
    {
        var m = new Mem();
        int mod = rnd.Below(3);
        int rmField = rnd.Below(8);
        m.ModRm = (byte)((mod << 6) | (regField << 3) | rmField);
        m.DispSize = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        if (rmField == 4)
        {
            m.HasSib = true;
            int scaleBits = rnd.Below(4), indexField = rnd.Below(8), baseField = rnd.Below(8);
            m.Sib = (byte)((scaleBits << 6) | (indexField << 3) | baseField);
            m.Scale = 1 << scaleBits;
            int index = indexField | (rexX ? 8 : 0);
            m.Index = index == 4 ? -1 : index;
            if (baseField == 5 && mod == 0) { m.Base = -1; m.DispSize = 4; }
            else m.Base = baseField | (rexB ? 8 : 0);
        }
        else if (rmField == 5 && mod == 0)
        {
            m.RipRelative = true;
            m.DispSize = 4;
        }
        else m.Base = rmField | (rexB ? 8 : 0);
        if (m.DispSize == 1) m.Disp = (sbyte)rnd.Next();
        else if (m.DispSize == 4) m.Disp = rnd.Chance(50) ? (int)rnd.Next() : (sbyte)rnd.Next();
        return m;
    }

    /// <summary>
    /// Sets base/index register values (or, with neither free, checks the displacement) so that
    /// segBase + trunc_asz(base + index * scale + disp) = target (RSP-based operands are placed by the caller: RSP keeps
    /// its stack value, and POP r/m computes the address after incrementing RSP, SDM Vol. 2B POP).
    /// </summary>
    private static bool SolveAddress(PxRng rnd, Mem m, ulong[] gpr, ulong target, ulong segBase, int asz, bool access)
    {
        if (m.RipRelative) return true; // the displacement is set once the length is known
        ulong mask = asz == 4 ? 0xFFFF_FFFFUL : ulong.MaxValue;
        ulong want = (target - segBase) & mask;
        ulong disp = (ulong)m.Disp;
        if (!access)
        {
            // LEA/NOP: every register keeps its random value; nothing to solve.
            return true;
        }
        bool baseFree = m.Base >= 0 && m.Base != Rsp;
        bool indexFree = m.Index >= 0;
        ulong Upper() => asz == 4 ? rnd.Next() & ~0xFFFF_FFFFUL : 0;
        if (baseFree && indexFree && m.Base == m.Index)
        {
            ulong k = (ulong)m.Scale + 1;
            ulong v = SolveMul((want - disp) & mask, k, mask);
            if (v == ulong.MaxValue) return false;
            gpr[m.Base] = (v & mask) | Upper();
        }
        else if (baseFree)
        {
            if (indexFree) { gpr[m.Index] = rnd.Chance(50) ? rnd.Value() : (ulong)(rnd.Below(64) - 32); }
            ulong idx = indexFree ? gpr[m.Index] * (ulong)m.Scale : 0;
            gpr[m.Base] = ((want - disp - idx) & mask) | Upper();
        }
        else if (indexFree)
        {
            ulong v = SolveMul((want - disp) & mask, (ulong)m.Scale, mask);
            if (v == ulong.MaxValue) return false;
            gpr[m.Index] = (v & mask) | Upper();
        }
        else
        {
            // [disp32] alone: absolute, sign-extended in 64-bit addressing.
            if (!SolveDisp(m, ref disp, want, asz)) return false;
        }
        ulong b = m.Base >= 0 ? gpr[m.Base] : 0;
        ulong x = m.Index >= 0 ? gpr[m.Index] * (ulong)m.Scale : 0;
        return ((b + x + (ulong)m.Disp) & mask) == want;
    }

    private static bool SolveDisp(Mem m, ref ulong disp, ulong rest, int asz)
    {
        // Only a disp32 can absorb an arbitrary remainder.
        if (m.DispSize != 4) return false;
        long d = asz == 4 ? (int)(uint)((ulong)m.Disp + rest) : (long)((ulong)m.Disp + rest);
        if (d is < int.MinValue or > int.MaxValue) return false;
        m.Disp = d;
        disp = (ulong)d;
        return true;
    }

    /// <summary>x with x * k = v (mod 2^64 or 2^32), or MaxValue when there is none.</summary>
    private static ulong SolveMul(ulong v, ulong k, ulong mask)
    {
        if (k == 1) return v;
        int tz = System.Numerics.BitOperations.TrailingZeroCount(k);
        if ((v & ((1UL << tz) - 1)) != 0) return ulong.MaxValue;
        ulong odd = k >> tz, vv = v >> tz;
        ulong inv = odd; // Newton iteration for the inverse of an odd number mod 2^64
        for (int i = 0; i < 6; i++) inv *= 2 - odd * inv;
        return (vv * inv) & (mask >> tz);
    }

    /// <summary>Dividend and divisor with a quotient that fits: no #DE (the oracle cannot survive one).</summary>
    private static void DivideInputs(PxRng rnd, bool signed, int osz, ulong[] gpr, Action<ulong> setDivisor)
    {
        int bits = osz * 8;
        ulong mask = Regs.Mask(osz);
        ulong d;
        do d = rnd.Value() & mask; while (d == 0 || (signed && d == mask));
        UInt128 dividend;
        if (!signed)
        {
            ulong q = rnd.Value() & mask;
            ulong r = d == 1 ? 0 : rnd.Next() % d;
            dividend = (UInt128)q * d + r;
        }
        else
        {
            long sd = (long)Regs.SignExtend(d, osz);
            long qmax = bits == 64 ? long.MaxValue : (1L << (bits - 1)) - 1;
            long q = (long)Regs.SignExtend(rnd.Value() & mask, osz);
            if (q > qmax) q = qmax;
            long absD = sd == long.MinValue ? long.MaxValue : Math.Abs(sd);
            long r = (long)(rnd.Next() % (ulong)absD);
            Int128 prod = (Int128)q * sd;
            if (prod < 0 || (prod == 0 && rnd.Chance(50))) r = -r;
            dividend = (UInt128)(prod + r);
        }
        setDivisor(d);
        if (osz == 1)
            gpr[0] = (gpr[0] & ~0xFFFFUL) | ((ulong)dividend & 0xFFFF);
        else
        {
            ulong lo = (ulong)dividend & mask, hi = (ulong)(dividend >> bits) & mask;
            gpr[0] = (gpr[0] & ~mask) | lo;
            gpr[2] = (gpr[2] & ~mask) | hi;
        }
    }

    /// <summary>rSI/rDI/rCX for a string instruction: elements inside scratch in the direction DF selects, a small count with a repeat prefix.</summary>
    private static void StringInputs(PxRng rnd, PxSem sem, int size, int asz, bool rep, bool down, ulong segBase, ulong[] gpr, Action<ulong, int, ulong> write)
    {
        int count = rep ? (rnd.Chance(15) ? 0 : 1 + rnd.Below(12)) : 1;
        ulong mask = asz == 4 ? 0xFFFF_FFFFUL : ulong.MaxValue;
        ulong upper = asz == 4 ? rnd.Next() & ~0xFFFF_FFFFUL : 0;
        if (rep) gpr[1] = (gpr[1] & ~mask) | (uint)count;
        int span = Math.Max(count, 1) * size;
        ulong src = Scratch + 0x200 + (ulong)rnd.Below(0x6000);
        ulong dst = Scratch + 0x8000 + (ulong)rnd.Below(0x6000);
        if (down) { src += (ulong)span; dst += (ulong)span; }
        gpr[6] = ((src - segBase) & mask) | upper;
        gpr[7] = (dst & mask) | (asz == 4 ? rnd.Next() & ~0xFFFF_FFFFUL : 0);
        // Contents: random, with equal runs so REPE/REPNE CMPS/SCAS stop at a chosen element.
        int equalPrefix = rnd.Below(Math.Max(count, 1) + 1);
        ulong pattern = rnd.Next();
        for (int i = 0; i < span + 32; i++)
        {
            write(src - (ulong)span - 16 + (ulong)i, 1, rnd.Next());
            write(dst - (ulong)span - 16 + (ulong)i, 1, rnd.Next());
        }
        for (int e = 0; e < Math.Max(count, 1); e++)
        {
            long step = down ? -(long)(e * size) : e * size;
            bool equal = e < equalPrefix ? rnd.Chance(90) : rnd.Chance(10);
            ulong v = equal ? pattern : rnd.Next();
            ulong v2 = equal ? pattern : rnd.Next();
            write((ulong)((long)src + step), size, v);
            write((ulong)((long)dst + step), size, v2);
        }
        if (sem == PxSem.Scas) gpr[0] = (gpr[0] & ~Regs.Mask(size)) | (pattern & Regs.Mask(size));
    }

    /// <summary>
    /// Guard only (not an expectation): every memory access Iced finds for the encoding must land in the scratch region or
    /// the stack, so that a generator bug cannot kill the test process natively.
    /// </summary>
    private static bool MemoryIsSafe(Instruction ins, ulong[] gpr, ulong segBase)
    {
        ulong next = ins.NextIP;
        var info = (t_infoFactory ??= new InstructionInfoFactory()).GetInfo(ins);
        foreach (var m in info.GetUsedMemory())
        {
            if (m.Access == OpAccess.NoMemAccess) continue;
            ulong a = m.GetVirtualAddress(0, (Register r, int _, int _) =>
            {
                if (r == Register.None) return 0;
                if (r == Register.FS) return segBase;
                if (r == Register.GS) return segBase;
                if (r is Register.ES or Register.CS or Register.SS or Register.DS) return 0;
                if (r == Register.RIP) return next;
                if (r == Register.EIP) return (uint)next;
                var (i, size, high) = Regs.Info(r);
                return high ? (gpr[i] >> 8) & 0xFF : gpr[i] & Regs.Mask(size);
            });
            int len = Math.Max(1, m.MemorySize switch { MemorySize.UInt8 or MemorySize.Int8 => 1, _ => 16 });
            bool ok = m.Access == OpAccess.NoMemAccess || (a >= Scratch && a + (ulong)len <= Scratch + (ulong)ScratchSize)
                      || (a >= StackBase && a + (ulong)len <= StackTop + 0x1000);
            if (!ok && ins.Code is not (Code.Lea_r16_m or Code.Lea_r32_m or Code.Lea_r64_m)) return false;
        }
        return true;
    }
}
