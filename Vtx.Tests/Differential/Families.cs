using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using static Vtx.Tests.Differential.Layout;

namespace Vtx.Tests.Differential;

/// <summary>
/// The instruction-form table of the differential suite: every family lists its Iced <see cref="Code"/> values
/// (taken from Iced's opcode tables by mnemonic, so each form of each size is included: register/register,
/// register/memory, memory/register, register/immediate, memory/immediate, AH..BH and REX byte registers),
/// the input constraints that keep the host CPU from faulting, and the SDM's undefined results.
/// </summary>
public static class Families
{
    /// <summary>
    /// Codes never generated. 66h-prefixed near branches in 64-bit mode (CALL/JMP r/m16, RET/RET imm16 with a
    /// 16-bit operand size) differ between vendors: Intel ignores the prefix (SDM Vol. 2A, JMP/CALL "64-bit mode",
    /// operand size forced to 64 bits) while AMD truncates RIP to 16 bits, which would leave the landing pads and
    /// kill the test process. Far CALL/JMP load CS. BSWAP r16 is kept with its result masked.
    /// </summary>
    public static readonly HashSet<Code> Excluded =
    [
        Code.Call_rm16, Code.Jmp_rm16, Code.Retnw, Code.Retnw_imm16,
        Code.Call_m1616, Code.Call_m1632, Code.Call_m1664, Code.Jmp_m1616, Code.Jmp_m1632, Code.Jmp_m1664,
    ];

    private static readonly Code[] s_all = Enum.GetValues<Code>()
        .Where(c => CaseGeneration.IsGeneratable(c) && !Excluded.Contains(c) && !c.ToString().Contains("KNC", StringComparison.Ordinal))
        .ToArray();

    private static Code[] Of(params Mnemonic[] mnemonics) =>
        s_all.Where(c => mnemonics.Contains(c.ToOpCode().Mnemonic)).ToArray();

    private static readonly Mnemonic[] s_jcc =
    [
        Mnemonic.Jo, Mnemonic.Jno, Mnemonic.Jb, Mnemonic.Jae, Mnemonic.Je, Mnemonic.Jne, Mnemonic.Jbe, Mnemonic.Ja,
        Mnemonic.Js, Mnemonic.Jns, Mnemonic.Jp, Mnemonic.Jnp, Mnemonic.Jl, Mnemonic.Jge, Mnemonic.Jle, Mnemonic.Jg,
    ];

    private static readonly Mnemonic[] s_setcc =
    [
        Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne, Mnemonic.Setbe, Mnemonic.Seta,
        Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp, Mnemonic.Setl, Mnemonic.Setge, Mnemonic.Setle, Mnemonic.Setg,
    ];

    private static readonly Mnemonic[] s_cmovcc =
    [
        Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne, Mnemonic.Cmovbe, Mnemonic.Cmova,
        Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp, Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg,
    ];

    private const ulong Status = CF | PF | AF | ZF | SF | OF;

    // ------------------------------------------------------------------ undefined results (SDM Vol. 2)

    /// <summary>AND, OR, XOR, TEST: "The state of the AF flag is undefined." (SDM Vol. 2A AND; Vol. 2B OR, TEST, XOR).</summary>
    internal static void LogicUndefined(CaseBuilder b, Undefined u) =>
        u.MaskFlags(AF, $"SDM Vol. 2 {b.Mnemonic.ToString().ToUpperInvariant()}: the state of the AF flag is undefined");

    /// <summary>MUL (SDM Vol. 2B) and IMUL (SDM Vol. 2A): "The SF, ZF, AF, and PF flags are undefined."</summary>
    internal static void MulUndefined(CaseBuilder b, Undefined u) =>
        u.MaskFlags(SF | ZF | AF | PF, $"SDM Vol. 2 {b.Mnemonic.ToString().ToUpperInvariant()}: SF, ZF, AF and PF are undefined");

    /// <summary>DIV, IDIV (SDM Vol. 2A): "The CF, OF, SF, ZF, AF, and PF flags are undefined."</summary>
    internal static void DivUndefined(CaseBuilder b, Undefined u) =>
        u.MaskFlags(Status, $"SDM Vol. 2A {b.Mnemonic.ToString().ToUpperInvariant()}: CF, OF, SF, ZF, AF and PF are undefined");

    /// <summary>The count operand of a shift/rotate (slot 1) or SHLD/SHRD (slot 2): 1, imm8 or CL.</summary>
    private static ulong Count(CaseBuilder b, int slot) => b.Op(slot) switch
    {
        ImmOpnd i => (ulong)i.Value & 0xFF,
        FixedRegOpnd { Reg: Register.CL } => b.Gpr[1] & 0xFF,
        _ => throw new InvalidOperationException("no count operand"),
    };

    /// <summary>
    /// SAL/SAR/SHL/SHR (SDM Vol. 2B): "The CF flag contains the value of the last bit shifted out of the destination
    /// operand; it is undefined for SHL and SHR instructions where the count is greater than or equal to the size
    /// (in bits) of the destination operand. The OF flag is affected only for 1-bit shifts; otherwise, it is undefined.
    /// ... If the count is 0, the flags are not affected. For a non-zero count, the AF flag is undefined."
    /// RCL/RCR/ROL/ROR (SDM Vol. 2B): "If the masked count is 0, the flags are not affected. If the masked count is 1,
    /// then the OF flag is affected, otherwise (masked count is greater than 1) the OF flag is undefined."
    /// </summary>
    internal static void ShiftUndefined(CaseBuilder b, Undefined u)
    {
        int size = b.OperandSize(0), bits = size * 8;
        int cnt = (int)(Count(b, 1) & (size == 8 ? 63u : 31u));
        if (cnt == 0) return;
        switch (b.Mnemonic)
        {
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar:
                u.MaskFlags(AF, "SDM Vol. 2B SAL/SAR/SHL/SHR: for a non-zero count, the AF flag is undefined");
                if (cnt != 1) u.MaskFlags(OF, "SDM Vol. 2B SAL/SAR/SHL/SHR: OF is affected only for 1-bit shifts; otherwise undefined");
                if (b.Mnemonic != Mnemonic.Sar && cnt >= bits)
                    u.MaskFlags(CF, "SDM Vol. 2B SAL/SAR/SHL/SHR: CF is undefined for SHL and SHR when the count is >= the operand size");
                break;
            default:
                if (cnt != 1) u.MaskFlags(OF, "SDM Vol. 2B RCL/RCR/ROL/ROR: OF is undefined when the masked count is not 1");
                break;
        }
    }

    /// <summary>
    /// SHLD/SHRD (SDM Vol. 2B): "If the count is greater than the operand size, the result is undefined." Flags: "For
    /// shifts greater than 1 bit, the OF flag is undefined. If a shift occurs, the AF flag is undefined. If the count
    /// operand is 0, the flags are not affected. If the count is greater than the operand size, the flags are undefined."
    /// </summary>
    internal static void ShiftDoubleUndefined(CaseBuilder b, Undefined u)
    {
        int size = b.OperandSize(0), bits = size * 8;
        int cnt = (int)(Count(b, 2) & (size == 8 ? 63u : 31u));
        if (cnt == 0) return;
        if (cnt > bits)
        {
            const string why = "SDM Vol. 2B SHLD/SHRD: count > operand size: result and flags undefined";
            u.MaskFlags(Status, why);
            if (b.RegAt(0) is Register r) u.MaskGpr(Regs.Info(r).Index, Regs.Bits(r), why);
            else u.MaskMemory(b.MemAddress!.Value, size, why);
            return;
        }
        u.MaskFlags(AF, "SDM Vol. 2B SHLD/SHRD: if a shift occurs, the AF flag is undefined");
        if (cnt != 1) u.MaskFlags(OF, "SDM Vol. 2B SHLD/SHRD: for shifts greater than 1 bit, OF is undefined");
    }

    /// <summary>BT/BTS/BTR/BTC (SDM Vol. 2A): "The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined."</summary>
    internal static void BitTestUndefined(CaseBuilder b, Undefined u) =>
        u.MaskFlags(OF | SF | AF | PF, $"SDM Vol. 2A {b.Mnemonic.ToString().ToUpperInvariant()}: OF, SF, AF and PF are undefined");

    /// <summary>
    /// BSF/BSR (SDM Vol. 2A): "If the content of the source operand is 0, the content of the destination operand is
    /// undefined." "The CF, OF, SF, AF, and PF flags are undefined."
    /// </summary>
    internal static void BitScanUndefined(CaseBuilder b, Undefined u)
    {
        string m = b.Mnemonic.ToString().ToUpperInvariant();
        u.MaskFlags(CF | OF | SF | AF | PF, $"SDM Vol. 2A {m}: CF, OF, SF, AF and PF are undefined");
        if ((b.Get(1) & Regs.Mask(b.OperandSize(0))) == 0)
            u.MaskGpr(Regs.Info(b.RegAt(0)!.Value).Index, ulong.MaxValue, $"SDM Vol. 2A {m}: destination undefined when the source is 0");
    }

    /// <summary>LZCNT (SDM Vol. 2A) / TZCNT (SDM Vol. 2B): "OF, SF, PF and AF flags are undefined."</summary>
    internal static void CountUndefined(CaseBuilder b, Undefined u) =>
        u.MaskFlags(OF | SF | PF | AF, $"SDM Vol. 2 {b.Mnemonic.ToString().ToUpperInvariant()}: OF, SF, PF and AF are undefined");

    /// <summary>
    /// BMI1/BMI2 flag results (SDM Vol. 2A/2B): ANDN "AF and PF flags are undefined"; BEXTR "AF, SF, and PF are
    /// undefined"; BLSI, BLSMSK, BLSR, BZHI "AF and PF flags are undefined"; PDEP/PEXT do not affect flags.
    /// </summary>
    internal static void BmiUndefined(CaseBuilder b, Undefined u)
    {
        string m = b.Mnemonic.ToString().ToUpperInvariant();
        switch (b.Mnemonic)
        {
            case Mnemonic.Bextr: u.MaskFlags(AF | SF | PF, $"SDM Vol. 2A BEXTR: AF, SF and PF are undefined"); break;
            case Mnemonic.Andn or Mnemonic.Blsi or Mnemonic.Blsmsk or Mnemonic.Blsr or Mnemonic.Bzhi:
                u.MaskFlags(AF | PF, $"SDM Vol. 2 {m}: AF and PF are undefined");
                break;
        }
    }

    // ------------------------------------------------------------------ input constraints

    /// <summary>DIV/IDIV: a non-zero divisor and a dividend whose quotient fits (the host would raise #DE otherwise).</summary>
    private static void DivideConstrain(CaseBuilder b)
    {
        bool signed = b.Mnemonic == Mnemonic.Idiv;
        int size = b.OperandSize(0), bits = size * 8;
        ulong m = Regs.Mask(size);
        if ((b.Get(0) & m) == 0 || b.Rnd.Next(6) == 0)
        {
            ulong d = b.RandomValue() & m;
            if (d == 0) d = 1;
            if (b.Rnd.Next(4) == 0) d = (ulong)b.Rnd.Next(1, 16) & m;
            b.Set(0, d);
        }
        Register lo = size == 1 ? Register.AL : Regs.Of(0, size);
        Register hi = size == 1 ? Register.AH : Regs.Of(2, size);
        bool divisorIsLow = b.RegAt(0) is Register dr && dr == lo;

        // Half of the time build the dividend from a random quotient and remainder, for large quotients.
        if (!divisorIsLow && b.Rnd.Next(2) == 0)
        {
            ulong dv = b.Get(0) & m;
            if (!signed)
            {
                UInt128 q = ((UInt128)b.RandomValue()) & m, r = (UInt128)((ulong)b.Rnd.NextInt64() % dv);
                UInt128 n = q * dv + r;
                b.SetReg(lo, (ulong)n & m);
                b.SetReg(hi, (ulong)(n >> bits) & m);
            }
            else
            {
                Int128 ds = (long)Regs.SignExtend(dv, size);
                Int128 q = (long)Regs.SignExtend(b.RandomValue(), size);
                Int128 r = (Int128)(b.Rnd.NextInt64() % (long)Int128.Abs(ds));
                Int128 prod = q * ds;
                if (prod < 0) r = -r;
                Int128 n = prod + r;
                b.SetReg(lo, (ulong)n & m);
                b.SetReg(hi, (ulong)(n >> bits) & m);
            }
        }
        if (!DivideFits(b, signed, size, lo, hi))
        {
            ulong dv = b.Get(0) & m;
            ulong low = b.GetReg(lo);
            if (!signed) b.SetReg(hi, b.GetReg(hi) % dv);
            else b.SetReg(hi, (low & (1UL << (bits - 1))) != 0 ? m : 0);
            if (!DivideFits(b, signed, size, lo, hi))
            {
                // Only MIN / -1 is left: change the dividend (the divisor is not the low half here).
                b.SetReg(lo, 0);
                b.SetReg(hi, 0);
            }
        }
        if (!DivideFits(b, signed, size, lo, hi))
            throw new InvalidOperationException($"generator bug: {b.Code} would fault natively");
    }

    private static bool DivideFits(CaseBuilder b, bool signed, int size, Register loReg, Register hiReg)
    {
        int bits = size * 8;
        ulong m = Regs.Mask(size);
        ulong d = b.Get(0) & m, lo = b.GetReg(loReg), hi = b.GetReg(hiReg);
        if (d == 0) return false;
        if (!signed)
        {
            UInt128 n = ((UInt128)hi << bits) | lo;
            return n / d <= m;
        }
        Int128 ns = (Int128)(((UInt128)hi << bits) | lo);
        int sh = 128 - 2 * bits;
        ns = (ns << sh) >> sh; // sign-extend the 2*bits-bit dividend
        Int128 q = ns / (long)Regs.SignExtend(d, size);
        Int128 max = (Int128)(long)(Regs.Mask(size) >> 1);
        return q <= max && q >= -max - 1;
    }

    /// <summary>Shift/rotate by CL: CL holds a count biased toward small values and every operand width.</summary>
    private static void CountConstrain(CaseBuilder b)
    {
        int slot = b.Mnemonic is Mnemonic.Shld or Mnemonic.Shrd ? 2 : 1;
        if (b.Op(slot) is FixedRegOpnd { Reg: Register.CL })
        {
            int c = b.Rnd.Next(10) switch { < 3 => b.Rnd.Next(0, 4), < 6 => b.Rnd.Next(4, 34), < 8 => b.Rnd.Next(34, 67), _ => b.Rnd.Next(0, 256) };
            b.SetReg(Register.CL, (ulong)c);
        }
    }

    /// <summary>BT* m, r: the signed bit offset keeps the addressed operand inside scratch.</summary>
    private static void BitTestConstrain(CaseBuilder b)
    {
        if (!b.IsMem(0) || b.Op(1) is not RegOpnd) return;
        int size = b.MemSize, bits = size * 8;
        long below = (long)(b.MemAddress!.Value - Scratch) - 8, above = (long)(Scratch + (ulong)ScratchSize - b.MemAddress.Value) - 16;
        long lo = Math.Max(-below * 8, size == 8 ? long.MinValue : -(1L << (bits - 1)));
        long hi = Math.Min(above * 8, size == 8 ? long.MaxValue : (1L << (bits - 1)) - 1);
        if (lo > 0) lo = 0;
        if (hi < 0) hi = 0;
        long v = b.Rnd.Next(2) == 0 ? Math.Clamp((long)b.Rnd.Next(-130, 130), lo, hi) : b.Rnd.NextInt64(lo, hi + 1);
        b.Set(1, (ulong)v);
    }

    private static void ZeroSourceSometimes(CaseBuilder b, int slot)
    {
        if (b.Rnd.Next(5) == 0) b.Set(slot, 0);
    }

    /// <summary>CMPXCHG: half of the time the accumulator equals the destination (the exchange happens).</summary>
    private static void CmpxchgConstrain(CaseBuilder b)
    {
        if (b.Rnd.Next(2) == 0) b.SetReg(Regs.Of(0, b.OperandSize(0)), b.Get(0));
    }

    /// <summary>CMPXCHG8B/16B: half of the time rDX:rAX equals the memory operand.</summary>
    private static void CmpxchgNbConstrain(CaseBuilder b)
    {
        if (b.Rnd.Next(2) != 0) return;
        ulong a = b.MemAddress!.Value;
        if (b.Code == Code.Cmpxchg8b_m64)
        {
            b.SetReg(Register.EAX, b.ReadMem(a, 4));
            b.SetReg(Register.EDX, b.ReadMem(a + 4, 4));
        }
        else
        {
            b.Gpr[0] = b.ReadMem(a, 8);
            b.Gpr[2] = b.ReadMem(a + 8, 8);
        }
    }

    /// <summary>JRCXZ/JECXZ/LOOPcc: counts around 0 and 1 in both the 32- and 64-bit counter.</summary>
    private static void CounterConstrain(CaseBuilder b)
    {
        ulong[] interesting = [0, 1, 2, 3, 0x1_0000_0000, 0x1_0000_0001, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000];
        if (b.Rnd.Next(4) != 0) b.Gpr[1] = interesting[b.Rnd.Next(interesting.Length)];
    }

    /// <summary>Indirect CALL/JMP go to the branch landing pad; RET pops it.</summary>
    private static void BranchConstrain(CaseBuilder b)
    {
        switch (b.Code)
        {
            case Code.Call_rm64:
            case Code.Jmp_rm64:
                b.Set(0, BranchTarget);
                break;
            case Code.Retnq:
            case Code.Retnq_imm16:
                b.WriteMem(b.Gpr[4], 8, BranchTarget);
                break;
        }
    }

    /// <summary>POPF pops a random image without TF (it would trap) and AC (alignment checks at CPL 3).</summary>
    private static void FlagsStackConstrain(CaseBuilder b)
    {
        ulong v = b.RandomValue() & ~(Native.NativeRflags.TF | Native.NativeRflags.AC);
        if (b.Code == Code.Popfq) b.WriteMem(b.Gpr[4], 8, v);
        else if (b.Code == Code.Popfw) b.WriteMem(b.Gpr[4], 2, v);
    }

    /// <summary>ENTER reads frame pointers below RBP and LEAVE pops at RBP: RBP points into the stack image.</summary>
    private static void FrameConstrain(CaseBuilder b)
    {
        ulong rbp = b.Mnemonic == Mnemonic.Enter
            ? StackTop - 0x10 - 8 * (ulong)b.Rnd.Next(0, 0xE1)
            : StackImageBase + 0x10 + 8 * (ulong)b.Rnd.Next(0, 0x3F1);
        if (b.Rnd.Next(5) == 0) rbp -= (ulong)b.Rnd.Next(1, 8);
        b.Gpr[5] = rbp;
    }

    /// <summary>
    /// String instructions: rSI/rDI inside scratch (only the low 32 bits with a 67h prefix), a small rCX with a
    /// REP prefix, and for CMPS/SCAS equal runs so REPE/REPNE stop at a chosen element.
    /// </summary>
    private static void StringConstrain(CaseBuilder b)
    {
        int size = CaseGeneration.MemorySizeOf(b.Code);
        int asz = b.Shape.StringAddressSize;
        bool rep = b.Shape.Rep != RepPrefixKind.None;
        long delta = (b.Rflags & DF) != 0 ? -size : size;
        int n = rep ? (b.Rnd.Next(5) == 0 ? 0 : b.Rnd.Next(1, 10)) : 1;
        if (rep)
        {
            if (asz == 64) b.Gpr[1] = (ulong)n;
            else b.Gpr[1] = (b.Gpr[1] & 0xFFFF_FFFF_0000_0000UL) | (uint)n;
        }
        ulong src = Scratch + (ulong)b.Rnd.Next(0x200, ScratchSize - 0x200);
        ulong dst = Scratch + (ulong)b.Rnd.Next(0x200, ScratchSize - 0x200);
        if (asz == 64)
        {
            b.Gpr[6] = src;
            b.Gpr[7] = dst;
        }
        else
        {
            b.Gpr[6] = (b.Gpr[6] & 0xFFFF_FFFF_0000_0000UL) | (uint)src;
            b.Gpr[7] = (b.Gpr[7] & 0xFFFF_FFFF_0000_0000UL) | (uint)dst;
        }

        bool cmps = b.Mnemonic is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq;
        bool scas = b.Mnemonic is Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq;
        if (!cmps && !scas) return;
        int count = Math.Max(n, 1);
        int k = b.Rnd.Next(0, count + 1); // the element where REPE/REPNE stop (count: runs out)
        bool repne = b.Shape.Rep == RepPrefixKind.Repne;
        ulong acc = b.Gpr[0] & Regs.Mask(size);
        for (int i = 0; i < count; i++)
        {
            ulong s = src + (ulong)(i * delta), d = dst + (ulong)(i * delta);
            ulong want = cmps ? b.ReadMem(s, size) : acc;
            bool equal = repne ? i == k : i < k;
            if (!rep) equal = b.Rnd.Next(2) == 0;
            if (equal) b.WriteMem(d, size, want);
            else if (b.ReadMem(d, size) == want) b.WriteMem(d, size, want ^ 1);
        }
    }

    // ------------------------------------------------------------------ the table

    private static Family Alu(string name, Mnemonic m, bool logic = false) => new()
    {
        Name = name,
        Codes = Of(m),
        Undefine = logic ? LogicUndefined : null,
        CasesPerProperty = 300,
    };

    private static Family Shift(string name, params Mnemonic[] m) => new()
    {
        Name = name,
        Codes = Of(m),
        Pinned = [1],
        Immediate = (c, slot, k) => k == OpCodeOperandKind.imm8 ? Values.ShiftCount : null,
        Constrain = CountConstrain,
        Undefine = ShiftUndefined,
        CasesPerProperty = 300,
    };

    /// <summary>All families, in the order the properties run.</summary>
    public static readonly Family[] All =
    [
        new() { Name = "mov", Codes = Of(Mnemonic.Mov), CasesPerProperty = 300 },
        new() { Name = "movzx-movsx-movsxd", Codes = Of(Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd) },
        new() { Name = "xchg", Codes = Of(Mnemonic.Xchg) },
        new() { Name = "xadd", Codes = Of(Mnemonic.Xadd) },
        new() { Name = "cmpxchg", Codes = Of(Mnemonic.Cmpxchg), Pinned = [0], Constrain = CmpxchgConstrain },
        new() { Name = "cmpxchg8b", Codes = [Code.Cmpxchg8b_m64], Pinned = [0, 1, 2, 3], MemAlign = 8, Constrain = CmpxchgNbConstrain, CasesPerProperty = 100 },
        new() { Name = "cmpxchg16b", Codes = [Code.Cmpxchg16b_m128], Requires = HostFeature.Cx16, Pinned = [0, 1, 2, 3], MemAlign = 16, Constrain = CmpxchgNbConstrain, CasesPerProperty = 100 },
        new()
        {
            Name = "bswap", Codes = Of(Mnemonic.Bswap),
            // SDM Vol. 2A BSWAP: "When the BSWAP instruction references a 16-bit register, the result is undefined."
            Undefine = (b, u) =>
            {
                if (b.Code == Code.Bswap_r16)
                    u.MaskGpr(Regs.Info(b.RegAt(0)!.Value).Index, 0xFFFF, "SDM Vol. 2A BSWAP: the result for a 16-bit register is undefined");
            },
            CasesPerProperty = 100,
        },
        new() { Name = "lea", Codes = Of(Mnemonic.Lea), Memory = MemMode.NoAccess },
        new() { Name = "push-pop", Codes = Of(Mnemonic.Push, Mnemonic.Pop), Pinned = [4], StackRelative = true },
        new() { Name = "pushf-popf", Codes = [Code.Pushfw, Code.Pushfq, Code.Popfw, Code.Popfq], Pinned = [4], Constrain = FlagsStackConstrain, CasesPerProperty = 100 },
        new()
        {
            Name = "enter-leave", Codes = Of(Mnemonic.Enter, Mnemonic.Leave), Pinned = [4, 5], Constrain = FrameConstrain,
            // A 16-bit ENTER copies frame pointers through "BP := BP - 2; Push([BP])" (SDM Vol. 2A ENTER): natively
            // that reads below 64 KiB, which is unmapped, so it only gets levels that copy nothing (0, 1 mod 32).
            // The frame size stays below 56 KiB: processors probe the final RSP (a write check without a write), and
            // below the 64 KiB stack region nothing is mapped natively.
            Immediate = (c, slot, k) => slot == 0
                ? Gen.Frequency((3, Gen.Choose(0, 64)), (2, Gen.Choose(0, 0xE000))).Select(x => (long)x)
                : c == Code.Enterw_imm16_imm8 ? Gen.Elements(0L, 1L, 32L, 33L, 64L, 65L)
                : Gen.Frequency((6, Gen.Choose(0, 3)), (3, Gen.Choose(4, 31)), (1, Gen.Choose(32, 255))).Select(x => (long)x),
        },
        new() { Name = "movbe", Codes = Of(Mnemonic.Movbe), Requires = HostFeature.Movbe, CasesPerProperty = 100 },
        new() { Name = "cbw-cwd", Codes = Of(Mnemonic.Cbw, Mnemonic.Cwde, Mnemonic.Cdqe, Mnemonic.Cwd, Mnemonic.Cdq, Mnemonic.Cqo), CasesPerProperty = 100 },
        new() { Name = "lahf-sahf", Codes = Of(Mnemonic.Lahf, Mnemonic.Sahf), Requires = HostFeature.LahfSahf64, CasesPerProperty = 100 },

        Alu("add", Mnemonic.Add),
        Alu("or", Mnemonic.Or, logic: true),
        Alu("adc", Mnemonic.Adc),
        Alu("sbb", Mnemonic.Sbb),
        Alu("and", Mnemonic.And, logic: true),
        Alu("sub", Mnemonic.Sub),
        Alu("xor", Mnemonic.Xor, logic: true),
        Alu("cmp", Mnemonic.Cmp),
        Alu("test", Mnemonic.Test, logic: true),
        new() { Name = "inc-dec", Codes = Of(Mnemonic.Inc, Mnemonic.Dec) },
        new() { Name = "neg-not", Codes = Of(Mnemonic.Neg, Mnemonic.Not) },
        new()
        {
            Name = "mul-imul1", Codes = Of(Mnemonic.Mul, Mnemonic.Imul).Where(c => c.ToOpCode().OpCount == 1).ToArray(),
            Pinned = [0, 2], Undefine = MulUndefined,
        },
        new() { Name = "imul", Codes = Of(Mnemonic.Imul).Where(c => c.ToOpCode().OpCount > 1).ToArray(), Undefine = MulUndefined },
        new()
        {
            Name = "div-idiv", Codes = Of(Mnemonic.Div, Mnemonic.Idiv), Pinned = [0, 2], ConstrainedSlots = [0],
            // DIV AH and DIV rDX always overflow (the divisor is the high half of the dividend).
            RegFilter = (c, slot, r) => Regs.Info(r) is var (idx, size, high) && !(size == 1 ? high && idx == 0 : idx == 2),
            Constrain = DivideConstrain, Undefine = DivUndefined, CasesPerProperty = 300,
        },
        new() { Name = "adcx-adox", Codes = Of(Mnemonic.Adcx, Mnemonic.Adox), Requires = HostFeature.Adx, CasesPerProperty = 100 },
        new() { Name = "mulx", Codes = Of(Mnemonic.Mulx), Requires = HostFeature.Bmi2, Pinned = [2], CasesPerProperty = 100 },

        Shift("shl-sal", Mnemonic.Shl, Mnemonic.Sal),
        Shift("shr", Mnemonic.Shr),
        Shift("sar", Mnemonic.Sar),
        Shift("rol", Mnemonic.Rol),
        Shift("ror", Mnemonic.Ror),
        Shift("rcl", Mnemonic.Rcl),
        Shift("rcr", Mnemonic.Rcr),
        new()
        {
            Name = "shld-shrd", Codes = Of(Mnemonic.Shld, Mnemonic.Shrd), Pinned = [1],
            Immediate = (c, slot, k) => Values.ShiftCount, Constrain = CountConstrain, Undefine = ShiftDoubleUndefined, CasesPerProperty = 300,
        },
        new()
        {
            Name = "sarx-shlx-shrx-rorx", Codes = Of(Mnemonic.Sarx, Mnemonic.Shlx, Mnemonic.Shrx, Mnemonic.Rorx), Requires = HostFeature.Bmi2,
            ConstrainedSlots = [2], Immediate = (c, slot, k) => Values.ShiftCount,
            Constrain = b => { if (b.Mnemonic != Mnemonic.Rorx && b.Rnd.Next(2) == 0) b.Set(2, (ulong)b.Rnd.Next(0, 70)); },
        },

        new()
        {
            Name = "bt-bts-btr-btc", Codes = Of(Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc), ConstrainedSlots = [1],
            Constrain = BitTestConstrain, Undefine = BitTestUndefined, CasesPerProperty = 300,
        },
        new()
        {
            Name = "bsf-bsr", Codes = Of(Mnemonic.Bsf, Mnemonic.Bsr), ConstrainedSlots = [1],
            Constrain = b => ZeroSourceSometimes(b, 1), Undefine = BitScanUndefined,
        },
        new() { Name = "lzcnt", Codes = Of(Mnemonic.Lzcnt), Requires = HostFeature.Lzcnt, ConstrainedSlots = [1], Constrain = b => ZeroSourceSometimes(b, 1), Undefine = CountUndefined, CasesPerProperty = 100 },
        new() { Name = "tzcnt", Codes = Of(Mnemonic.Tzcnt), Requires = HostFeature.Bmi1, ConstrainedSlots = [1], Constrain = b => ZeroSourceSometimes(b, 1), Undefine = CountUndefined, CasesPerProperty = 100 },
        new() { Name = "popcnt", Codes = Of(Mnemonic.Popcnt), Requires = HostFeature.Popcnt, ConstrainedSlots = [1], Constrain = b => ZeroSourceSometimes(b, 1), CasesPerProperty = 100 },
        new()
        {
            Name = "andn-bextr-blsi-blsmsk-blsr", Codes = Of(Mnemonic.Andn, Mnemonic.Bextr, Mnemonic.Blsi, Mnemonic.Blsmsk, Mnemonic.Blsr),
            Requires = HostFeature.Bmi1, ConstrainedSlots = [1, 2], Undefine = BmiUndefined,
            Constrain = b =>
            {
                if (b.Mnemonic == Mnemonic.Bextr && b.Rnd.Next(5) < 3)
                    b.Set(2, (b.RandomValue() & ~0xFFFFUL) | ((ulong)(uint)b.Rnd.Next(0, 70) << 8) | (uint)b.Rnd.Next(0, 70));
                if (b.Mnemonic is Mnemonic.Blsi or Mnemonic.Blsmsk or Mnemonic.Blsr) ZeroSourceSometimes(b, 1);
            },
        },
        new()
        {
            Name = "bzhi-pdep-pext", Codes = Of(Mnemonic.Bzhi, Mnemonic.Pdep, Mnemonic.Pext), Requires = HostFeature.Bmi2,
            ConstrainedSlots = [2], Undefine = BmiUndefined,
            Constrain = b =>
            {
                if (b.Mnemonic == Mnemonic.Bzhi && b.Rnd.Next(5) < 3)
                    b.Set(2, (b.RandomValue() & ~0xFFUL) | (uint)b.Rnd.Next(0, 70));
            },
        },

        new() { Name = "jcc-jmp", Codes = [.. Of(s_jcc), Code.Jmp_rel8_64, Code.Jmp_rel32_64], CasesPerProperty = 300 },
        new() { Name = "jrcxz-loop", Codes = Of(Mnemonic.Jrcxz, Mnemonic.Jecxz, Mnemonic.Loop, Mnemonic.Loope, Mnemonic.Loopne), Pinned = [1], Constrain = CounterConstrain },
        new()
        {
            Name = "call-ret-indirect", Codes = [Code.Call_rel32_64, Code.Call_rm64, Code.Jmp_rm64, Code.Retnq, Code.Retnq_imm16],
            Pinned = [4], ConstrainedSlots = [0], StackRelative = true,
            // CALL RSP would push below its own target (outside the compared images): not generated.
            RegFilter = (c, slot, r) => !(c == Code.Call_rm64 && r == Register.RSP),
            Constrain = BranchConstrain,
        },
        new() { Name = "setcc", Codes = Of(s_setcc), CasesPerProperty = 300 },
        new() { Name = "cmovcc", Codes = Of(s_cmovcc), CasesPerProperty = 300 },
        new()
        {
            Name = "string",
            Codes = Of(Mnemonic.Movsb, Mnemonic.Movsw, Mnemonic.Movsd, Mnemonic.Movsq, Mnemonic.Stosb, Mnemonic.Stosw, Mnemonic.Stosd, Mnemonic.Stosq,
                Mnemonic.Lodsb, Mnemonic.Lodsw, Mnemonic.Lodsd, Mnemonic.Lodsq, Mnemonic.Cmpsb, Mnemonic.Cmpsw, Mnemonic.Cmpsd, Mnemonic.Cmpsq,
                Mnemonic.Scasb, Mnemonic.Scasw, Mnemonic.Scasd, Mnemonic.Scasq),
            Pinned = [1, 6, 7], Constrain = StringConstrain, CasesPerProperty = 300,
        },
        new() { Name = "flag-ops", Codes = Of(Mnemonic.Clc, Mnemonic.Stc, Mnemonic.Cmc, Mnemonic.Cld, Mnemonic.Std), CasesPerProperty = 50 },
        new() { Name = "nop", Codes = Of(Mnemonic.Nop, Mnemonic.Pause, Mnemonic.Endbr64), Memory = MemMode.NoAccess, CasesPerProperty = 50 },
    ];

    public static Family Get(string name) => All.Single(f => f.Name == name);
}
