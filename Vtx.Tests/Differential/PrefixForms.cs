namespace Vtx.Tests.Differential;

/// <summary>Operand layout of one opcode form in the prefix generator's own table (SDM Vol. 2, Appendix A notation).</summary>
public enum PxOperands
{
    /// <summary>No ModRM, no operand bytes beyond the immediate (CBW, CLC, string instructions, PUSHF...).</summary>
    None,
    /// <summary>ModRM: r/m is the destination, reg the source (E,G).</summary>
    EG,
    /// <summary>ModRM: reg is the destination, r/m the source (G,E).</summary>
    GE,
    /// <summary>ModRM with a /digit: r/m is the only explicit operand (group 1/2/3/4/5, SETcc, POP r/m).</summary>
    E,
    /// <summary>Register in the low three opcode bits (+ REX.B): PUSH/POP r, XCHG r,rAX, BSWAP, MOV r,imm.</summary>
    OpReg,
    /// <summary>A memory offset (moffs, 8 bytes or 4 with 67h): MOV AL/rAX, moffs and back.</summary>
    Moffs,
    /// <summary>A relative branch (rel8 / rel32 by <see cref="PxImm"/>).</summary>
    Rel,
}

/// <summary>Operand size class (SDM Vol. 2, Appendix A.2.2).</summary>
public enum PxSize
{
    /// <summary>Byte (b).</summary>
    B,
    /// <summary>Word, doubleword or quadword by 66h/REX.W (v).</summary>
    V,
    /// <summary>64 bits by default in 64-bit mode, 16 with 66h (d64: PUSH/POP, stack frames).</summary>
    D64,
    /// <summary>64 bits regardless of prefixes (f64: near branches).</summary>
    F64,
}

/// <summary>Immediate operand kind.</summary>
public enum PxImm
{
    /// <summary>No immediate.</summary>
    None,
    /// <summary>imm8 (Ib).</summary>
    B,
    /// <summary>imm8 sign-extended to the operand size (Ibs).</summary>
    Bs,
    /// <summary>imm16 for a 16-bit operand size, else imm32 (Iz).</summary>
    Z,
    /// <summary>imm16 (Iw).</summary>
    W,
    /// <summary>Full operand size: imm16/imm32/imm64 (Iv, MOV r, imm).</summary>
    V,
    /// <summary>imm16 then imm8 (ENTER).</summary>
    WB,
    /// <summary>rel8.</summary>
    Rel8,
    /// <summary>rel32.</summary>
    Rel32,
}

/// <summary>What the instruction does, as far as the generator needs to know: input constraints and the SDM's undefined results.</summary>
public enum PxSem
{
    Add, Or, Adc, Sbb, And, Sub, Xor, Cmp, Test,
    Inc, Dec, Not, Neg, Mul, Imul1, Div, Idiv, Imul,
    Rol, Ror, Rcl, Rcr, Shl, Shr, Sar,
    Shld, Shrd, Bt, Bts, Btr, Btc, Bsf, Bsr, Tzcnt, Lzcnt, Popcnt,
    Mov, Movzx, Movsx, Movsxd, Lea, Xchg, Xadd, Cmpxchg, Cmpxchg8b, Bswap, Setcc, Cmovcc,
    Push, Pop, Pushf, Popf, Enter, Leave, Cbw, Cwd, Lahf, Sahf, Xlat, FlagOp, Nop,
    Movs, Cmps, Stos, Lods, Scas,
    Jcc, Jmp, Call, Ret, Loop, Jrcxz, CallInd, JmpInd,
    /// <summary>An encoding the SDM defines as #UD in 64-bit mode.</summary>
    Invalid,
}

/// <summary>
/// One opcode form: the opcode bytes (after any 0Fh escape is included), the ModRM /digit (-1: the reg field is an
/// operand, -2: no ModRM), operand layout, size class, immediate, and whether LOCK is allowed with a memory destination.
/// </summary>
/// <param name="Name">Readable name, e.g. "ADD Ev,Gv".</param>
/// <param name="Opcode">Opcode bytes (0F xx for the two-byte map).</param>
/// <param name="Digit">ModRM.reg /digit; -1 when reg names a register operand; -2 when there is no ModRM byte.</param>
/// <param name="Ops">Operand layout.</param>
/// <param name="Size">Operand size class of the main operand.</param>
/// <param name="Imm">Immediate kind.</param>
/// <param name="Sem">Semantics (constraints and undefined masks).</param>
/// <param name="Lockable">LOCK is legal when the destination is memory (SDM Vol. 2B, LOCK).</param>
/// <param name="Mandatory">A mandatory prefix that is part of the opcode (F3h for POPCNT/TZCNT/LZCNT), or 0.</param>
/// <param name="RmSize">Size of the r/m operand in bytes when it differs from the operand size (MOVZX/MOVSX/MOVSXD), else 0.</param>
/// <param name="MemOnly">The r/m operand must be memory (LEA, CMPXCHG8B): the register form is generated as an expected #UD.</param>
/// <param name="RegOnly">The r/m operand is generated as a register only (no memory form in the table).</param>
public sealed record PxForm(
    string Name, byte[] Opcode, int Digit, PxOperands Ops, PxSize Size, PxImm Imm, PxSem Sem,
    bool Lockable = false, byte Mandatory = 0, int RmSize = 0, bool MemOnly = false, bool RegOnly = false)
{
    /// <summary>True when the form has a ModRM byte.</summary>
    public bool HasModRm => Digit != -2;

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// The prefix generator's opcode table, written from the SDM's opcode maps (Vol. 2D, Appendix A, Tables and the
/// group table A-6), independent of Vtx's decoder and of Iced's tables: every user-mode integer instruction of the
/// one-byte and 0Fh maps that the host can run, plus encodings that are #UD in 64-bit mode.
/// </summary>
public static class PxTable
{
    private const int R = -1, NoModRm = -2;

    private static PxForm F(string name, byte[] op, int digit, PxOperands ops, PxSize size, PxImm imm, PxSem sem,
        bool lockable = false, byte mandatory = 0, int rmSize = 0, bool memOnly = false, bool regOnly = false) =>
        new(name, op, digit, ops, size, imm, sem, lockable, mandatory, rmSize, memOnly, regOnly);

    /// <summary>Every form, in opcode order.</summary>
    public static readonly PxForm[] All = Build();

    private static PxForm[] Build()
    {
        var t = new List<PxForm>();
        // ALU block 00-3F: op Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz (SDM Table A-2 rows 0-3).
        string[] alu = ["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"];
        PxSem[] aluSem = [PxSem.Add, PxSem.Or, PxSem.Adc, PxSem.Sbb, PxSem.And, PxSem.Sub, PxSem.Xor, PxSem.Cmp];
        for (int i = 0; i < 8; i++)
        {
            byte b = (byte)(i * 8);
            bool lk = aluSem[i] != PxSem.Cmp;
            t.Add(F($"{alu[i]} Eb,Gb", [b], R, PxOperands.EG, PxSize.B, PxImm.None, aluSem[i], lk));
            t.Add(F($"{alu[i]} Ev,Gv", [(byte)(b + 1)], R, PxOperands.EG, PxSize.V, PxImm.None, aluSem[i], lk));
            t.Add(F($"{alu[i]} Gb,Eb", [(byte)(b + 2)], R, PxOperands.GE, PxSize.B, PxImm.None, aluSem[i]));
            t.Add(F($"{alu[i]} Gv,Ev", [(byte)(b + 3)], R, PxOperands.GE, PxSize.V, PxImm.None, aluSem[i]));
            t.Add(F($"{alu[i]} AL,Ib", [(byte)(b + 4)], NoModRm, PxOperands.None, PxSize.B, PxImm.B, aluSem[i]));
            t.Add(F($"{alu[i]} rAX,Iz", [(byte)(b + 5)], NoModRm, PxOperands.None, PxSize.V, PxImm.Z, aluSem[i]));
            // Group 1 (80/81/83 /digit).
            t.Add(F($"{alu[i]} Eb,Ib", [0x80], i, PxOperands.E, PxSize.B, PxImm.B, aluSem[i], lk));
            t.Add(F($"{alu[i]} Ev,Iz", [0x81], i, PxOperands.E, PxSize.V, PxImm.Z, aluSem[i], lk));
            t.Add(F($"{alu[i]} Ev,Ibs", [0x83], i, PxOperands.E, PxSize.V, PxImm.Bs, aluSem[i], lk));
        }
        // Invalid in 64-bit mode (SDM Table A-2, "i64"): PUSH/POP ES/CS/SS/DS, DAA/DAS/AAA/AAS, PUSHA/POPA, far CALL/JMP
        // ptr16:xx, INTO, AAM/AAD, SALC (D6, undocumented on Intel, #UD in 64-bit mode on both vendors).
        foreach (byte b in new byte[] { 0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60, 0x61, 0xCE, 0xD6 })
            t.Add(F($"invalid {b:X2}", [b], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Invalid));
        t.Add(F("invalid D4 (AAM)", [0xD4], NoModRm, PxOperands.None, PxSize.B, PxImm.B, PxSem.Invalid));
        t.Add(F("invalid D5 (AAD)", [0xD5], NoModRm, PxOperands.None, PxSize.B, PxImm.B, PxSem.Invalid));
        t.Add(F("invalid 82 /0 (i64)", [0x82], 0, PxOperands.E, PxSize.B, PxImm.B, PxSem.Invalid));
        for (int d = 2; d < 8; d++)
            t.Add(F($"invalid FE /{d}", [0xFE], d, PxOperands.E, PxSize.B, PxImm.None, PxSem.Invalid));
        t.Add(F("invalid FF /7", [0xFF], 7, PxOperands.E, PxSize.V, PxImm.None, PxSem.Invalid));
        t.Add(F("UD2", [0x0F, 0x0B], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Invalid));
        t.Add(F("UD1 Gv,Ev", [0x0F, 0xB9], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Invalid));
        t.Add(F("JMPE (0F B8 without F3)", [0x0F, 0xB8], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Invalid, regOnly: true));

        // 50-5F PUSH/POP r64 (d64), 63 MOVSXD, 68/6A PUSH imm, 69/6B IMUL.
        t.Add(F("PUSH Zv", [0x50], NoModRm, PxOperands.OpReg, PxSize.D64, PxImm.None, PxSem.Push));
        t.Add(F("POP Zv", [0x58], NoModRm, PxOperands.OpReg, PxSize.D64, PxImm.None, PxSem.Pop));
        t.Add(F("MOVSXD Gv,Ed", [0x63], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Movsxd, rmSize: 4));
        t.Add(F("PUSH Iz", [0x68], NoModRm, PxOperands.None, PxSize.D64, PxImm.Z, PxSem.Push));
        t.Add(F("IMUL Gv,Ev,Iz", [0x69], R, PxOperands.GE, PxSize.V, PxImm.Z, PxSem.Imul));
        t.Add(F("PUSH Ibs", [0x6A], NoModRm, PxOperands.None, PxSize.D64, PxImm.Bs, PxSem.Push));
        t.Add(F("IMUL Gv,Ev,Ibs", [0x6B], R, PxOperands.GE, PxSize.V, PxImm.Bs, PxSem.Imul));
        // 70-7F Jcc rel8 (f64), 84-8F.
        for (int cc = 0; cc < 16; cc++)
        {
            t.Add(F($"J{Cc(cc)} rel8", [(byte)(0x70 + cc)], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel8, PxSem.Jcc));
            t.Add(F($"J{Cc(cc)} rel32", [0x0F, (byte)(0x80 + cc)], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel32, PxSem.Jcc));
            t.Add(F($"SET{Cc(cc)} Eb", [0x0F, (byte)(0x90 + cc)], 0, PxOperands.E, PxSize.B, PxImm.None, PxSem.Setcc));
            t.Add(F($"CMOV{Cc(cc)} Gv,Ev", [0x0F, (byte)(0x40 + cc)], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Cmovcc));
        }
        t.Add(F("TEST Eb,Gb", [0x84], R, PxOperands.EG, PxSize.B, PxImm.None, PxSem.Test));
        t.Add(F("TEST Ev,Gv", [0x85], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Test));
        t.Add(F("XCHG Eb,Gb", [0x86], R, PxOperands.EG, PxSize.B, PxImm.None, PxSem.Xchg, true));
        t.Add(F("XCHG Ev,Gv", [0x87], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Xchg, true));
        t.Add(F("MOV Eb,Gb", [0x88], R, PxOperands.EG, PxSize.B, PxImm.None, PxSem.Mov));
        t.Add(F("MOV Ev,Gv", [0x89], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Mov));
        t.Add(F("MOV Gb,Eb", [0x8A], R, PxOperands.GE, PxSize.B, PxImm.None, PxSem.Mov));
        t.Add(F("MOV Gv,Ev", [0x8B], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Mov));
        t.Add(F("LEA Gv,M", [0x8D], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Lea, memOnly: true));
        t.Add(F("POP Ev", [0x8F], 0, PxOperands.E, PxSize.D64, PxImm.None, PxSem.Pop));
        // 90-9F.
        t.Add(F("XCHG Zv,rAX / NOP", [0x90], NoModRm, PxOperands.OpReg, PxSize.V, PxImm.None, PxSem.Xchg));
        t.Add(F("CBW/CWDE/CDQE", [0x98], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Cbw));
        t.Add(F("CWD/CDQ/CQO", [0x99], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Cwd));
        t.Add(F("PUSHF", [0x9C], NoModRm, PxOperands.None, PxSize.D64, PxImm.None, PxSem.Pushf));
        t.Add(F("POPF", [0x9D], NoModRm, PxOperands.None, PxSize.D64, PxImm.None, PxSem.Popf));
        t.Add(F("SAHF", [0x9E], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Sahf));
        t.Add(F("LAHF", [0x9F], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Lahf));
        // A0-AF: moffs, strings, TEST accumulator.
        t.Add(F("MOV AL,Ob", [0xA0], NoModRm, PxOperands.Moffs, PxSize.B, PxImm.None, PxSem.Mov));
        t.Add(F("MOV rAX,Ov", [0xA1], NoModRm, PxOperands.Moffs, PxSize.V, PxImm.None, PxSem.Mov));
        t.Add(F("MOV Ob,AL", [0xA2], NoModRm, PxOperands.Moffs, PxSize.B, PxImm.None, PxSem.Mov));
        t.Add(F("MOV Ov,rAX", [0xA3], NoModRm, PxOperands.Moffs, PxSize.V, PxImm.None, PxSem.Mov));
        t.Add(F("MOVSB", [0xA4], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Movs));
        t.Add(F("MOVSv", [0xA5], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Movs));
        t.Add(F("CMPSB", [0xA6], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Cmps));
        t.Add(F("CMPSv", [0xA7], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Cmps));
        t.Add(F("TEST AL,Ib", [0xA8], NoModRm, PxOperands.None, PxSize.B, PxImm.B, PxSem.Test));
        t.Add(F("TEST rAX,Iz", [0xA9], NoModRm, PxOperands.None, PxSize.V, PxImm.Z, PxSem.Test));
        t.Add(F("STOSB", [0xAA], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Stos));
        t.Add(F("STOSv", [0xAB], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Stos));
        t.Add(F("LODSB", [0xAC], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Lods));
        t.Add(F("LODSv", [0xAD], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Lods));
        t.Add(F("SCASB", [0xAE], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Scas));
        t.Add(F("SCASv", [0xAF], NoModRm, PxOperands.None, PxSize.V, PxImm.None, PxSem.Scas));
        // B0-BF MOV r, imm.
        t.Add(F("MOV Zb,Ib", [0xB0], NoModRm, PxOperands.OpReg, PxSize.B, PxImm.B, PxSem.Mov));
        t.Add(F("MOV Zv,Iv", [0xB8], NoModRm, PxOperands.OpReg, PxSize.V, PxImm.V, PxSem.Mov));
        // Group 2 shifts: C0/C1 Ib, D0/D1 by 1, D2/D3 by CL (/6 is the SAL alias).
        PxSem[] shifts = [PxSem.Rol, PxSem.Ror, PxSem.Rcl, PxSem.Rcr, PxSem.Shl, PxSem.Shr, PxSem.Shl, PxSem.Sar];
        string[] shiftNames = ["ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL(/6)", "SAR"];
        for (int d = 0; d < 8; d++)
        {
            t.Add(F($"{shiftNames[d]} Eb,Ib", [0xC0], d, PxOperands.E, PxSize.B, PxImm.B, shifts[d]));
            t.Add(F($"{shiftNames[d]} Ev,Ib", [0xC1], d, PxOperands.E, PxSize.V, PxImm.B, shifts[d]));
            t.Add(F($"{shiftNames[d]} Eb,1", [0xD0], d, PxOperands.E, PxSize.B, PxImm.None, shifts[d]));
            t.Add(F($"{shiftNames[d]} Ev,1", [0xD1], d, PxOperands.E, PxSize.V, PxImm.None, shifts[d]));
            t.Add(F($"{shiftNames[d]} Eb,CL", [0xD2], d, PxOperands.E, PxSize.B, PxImm.None, shifts[d]));
            t.Add(F($"{shiftNames[d]} Ev,CL", [0xD3], d, PxOperands.E, PxSize.V, PxImm.None, shifts[d]));
        }
        t.Add(F("RET Iw", [0xC2], NoModRm, PxOperands.None, PxSize.F64, PxImm.W, PxSem.Ret));
        t.Add(F("RET", [0xC3], NoModRm, PxOperands.None, PxSize.F64, PxImm.None, PxSem.Ret));
        t.Add(F("MOV Eb,Ib", [0xC6], 0, PxOperands.E, PxSize.B, PxImm.B, PxSem.Mov));
        t.Add(F("MOV Ev,Iz", [0xC7], 0, PxOperands.E, PxSize.V, PxImm.Z, PxSem.Mov));
        t.Add(F("ENTER Iw,Ib", [0xC8], NoModRm, PxOperands.None, PxSize.D64, PxImm.WB, PxSem.Enter));
        t.Add(F("LEAVE", [0xC9], NoModRm, PxOperands.None, PxSize.D64, PxImm.None, PxSem.Leave));
        t.Add(F("XLAT", [0xD7], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.Xlat));
        t.Add(F("LOOPNE rel8", [0xE0], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel8, PxSem.Loop));
        t.Add(F("LOOPE rel8", [0xE1], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel8, PxSem.Loop));
        t.Add(F("LOOP rel8", [0xE2], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel8, PxSem.Loop));
        t.Add(F("JrCXZ rel8", [0xE3], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel8, PxSem.Jrcxz));
        t.Add(F("CALL rel32", [0xE8], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel32, PxSem.Call));
        t.Add(F("JMP rel32", [0xE9], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel32, PxSem.Jmp));
        t.Add(F("JMP rel8", [0xEB], NoModRm, PxOperands.Rel, PxSize.F64, PxImm.Rel8, PxSem.Jmp));
        t.Add(F("CMC", [0xF5], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.FlagOp));
        // Group 3.
        t.Add(F("TEST Eb,Ib", [0xF6], 0, PxOperands.E, PxSize.B, PxImm.B, PxSem.Test));
        t.Add(F("TEST Eb,Ib (/1)", [0xF6], 1, PxOperands.E, PxSize.B, PxImm.B, PxSem.Test));
        t.Add(F("TEST Ev,Iz", [0xF7], 0, PxOperands.E, PxSize.V, PxImm.Z, PxSem.Test));
        t.Add(F("TEST Ev,Iz (/1)", [0xF7], 1, PxOperands.E, PxSize.V, PxImm.Z, PxSem.Test));
        PxSem[] g3 = [PxSem.Not, PxSem.Neg, PxSem.Mul, PxSem.Imul1, PxSem.Div, PxSem.Idiv];
        for (int d = 2; d < 8; d++)
        {
            bool lk = d is 2 or 3;
            t.Add(F($"{g3[d - 2]} Eb", [0xF6], d, PxOperands.E, PxSize.B, PxImm.None, g3[d - 2], lk));
            t.Add(F($"{g3[d - 2]} Ev", [0xF7], d, PxOperands.E, PxSize.V, PxImm.None, g3[d - 2], lk));
        }
        foreach (var (b, name) in new[] { ((byte)0xF8, "CLC"), ((byte)0xF9, "STC"), ((byte)0xFC, "CLD"), ((byte)0xFD, "STD") })
            t.Add(F(name, [b], NoModRm, PxOperands.None, PxSize.B, PxImm.None, PxSem.FlagOp));
        // Groups 4/5.
        t.Add(F("INC Eb", [0xFE], 0, PxOperands.E, PxSize.B, PxImm.None, PxSem.Inc, true));
        t.Add(F("DEC Eb", [0xFE], 1, PxOperands.E, PxSize.B, PxImm.None, PxSem.Dec, true));
        t.Add(F("INC Ev", [0xFF], 0, PxOperands.E, PxSize.V, PxImm.None, PxSem.Inc, true));
        t.Add(F("DEC Ev", [0xFF], 1, PxOperands.E, PxSize.V, PxImm.None, PxSem.Dec, true));
        t.Add(F("CALL Ev", [0xFF], 2, PxOperands.E, PxSize.F64, PxImm.None, PxSem.CallInd));
        t.Add(F("JMP Ev", [0xFF], 4, PxOperands.E, PxSize.F64, PxImm.None, PxSem.JmpInd));
        t.Add(F("PUSH Ev", [0xFF], 6, PxOperands.E, PxSize.D64, PxImm.None, PxSem.Push));

        // Two-byte map.
        t.Add(F("NOP Ev (0F 1F /0)", [0x0F, 0x1F], 0, PxOperands.E, PxSize.V, PxImm.None, PxSem.Nop));
        t.Add(F("BT Ev,Gv", [0x0F, 0xA3], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Bt));
        t.Add(F("SHLD Ev,Gv,Ib", [0x0F, 0xA4], R, PxOperands.EG, PxSize.V, PxImm.B, PxSem.Shld));
        t.Add(F("SHLD Ev,Gv,CL", [0x0F, 0xA5], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Shld));
        t.Add(F("BTS Ev,Gv", [0x0F, 0xAB], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Bts, true));
        t.Add(F("SHRD Ev,Gv,Ib", [0x0F, 0xAC], R, PxOperands.EG, PxSize.V, PxImm.B, PxSem.Shrd));
        t.Add(F("SHRD Ev,Gv,CL", [0x0F, 0xAD], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Shrd));
        t.Add(F("IMUL Gv,Ev", [0x0F, 0xAF], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Imul));
        t.Add(F("CMPXCHG Eb,Gb", [0x0F, 0xB0], R, PxOperands.EG, PxSize.B, PxImm.None, PxSem.Cmpxchg, true));
        t.Add(F("CMPXCHG Ev,Gv", [0x0F, 0xB1], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Cmpxchg, true));
        t.Add(F("BTR Ev,Gv", [0x0F, 0xB3], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Btr, true));
        t.Add(F("MOVZX Gv,Eb", [0x0F, 0xB6], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Movzx, rmSize: 1));
        t.Add(F("MOVZX Gv,Ew", [0x0F, 0xB7], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Movzx, rmSize: 2));
        t.Add(F("POPCNT Gv,Ev", [0x0F, 0xB8], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Popcnt, mandatory: 0xF3));
        t.Add(F("BT Ev,Ib", [0x0F, 0xBA], 4, PxOperands.E, PxSize.V, PxImm.B, PxSem.Bt));
        t.Add(F("BTS Ev,Ib", [0x0F, 0xBA], 5, PxOperands.E, PxSize.V, PxImm.B, PxSem.Bts, true));
        t.Add(F("BTR Ev,Ib", [0x0F, 0xBA], 6, PxOperands.E, PxSize.V, PxImm.B, PxSem.Btr, true));
        t.Add(F("BTC Ev,Ib", [0x0F, 0xBA], 7, PxOperands.E, PxSize.V, PxImm.B, PxSem.Btc, true));
        t.Add(F("BTC Ev,Gv", [0x0F, 0xBB], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Btc, true));
        t.Add(F("BSF Gv,Ev", [0x0F, 0xBC], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Bsf));
        t.Add(F("BSR Gv,Ev", [0x0F, 0xBD], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Bsr));
        t.Add(F("TZCNT Gv,Ev", [0x0F, 0xBC], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Tzcnt, mandatory: 0xF3));
        t.Add(F("LZCNT Gv,Ev", [0x0F, 0xBD], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Lzcnt, mandatory: 0xF3));
        t.Add(F("MOVSX Gv,Eb", [0x0F, 0xBE], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Movsx, rmSize: 1));
        t.Add(F("MOVSX Gv,Ew", [0x0F, 0xBF], R, PxOperands.GE, PxSize.V, PxImm.None, PxSem.Movsx, rmSize: 2));
        t.Add(F("XADD Eb,Gb", [0x0F, 0xC0], R, PxOperands.EG, PxSize.B, PxImm.None, PxSem.Xadd, true));
        t.Add(F("XADD Ev,Gv", [0x0F, 0xC1], R, PxOperands.EG, PxSize.V, PxImm.None, PxSem.Xadd, true));
        t.Add(F("CMPXCHG8B/16B Mq", [0x0F, 0xC7], 1, PxOperands.E, PxSize.V, PxImm.None, PxSem.Cmpxchg8b, true, memOnly: true));
        t.Add(F("BSWAP Zv", [0x0F, 0xC8], NoModRm, PxOperands.OpReg, PxSize.V, PxImm.None, PxSem.Bswap));
        return t.ToArray();
    }

    private static string Cc(int cc) => cc switch
    {
        0 => "O", 1 => "NO", 2 => "B", 3 => "AE", 4 => "E", 5 => "NE", 6 => "BE", 7 => "A",
        8 => "S", 9 => "NS", 10 => "P", 11 => "NP", 12 => "L", 13 => "GE", 14 => "LE", _ => "G",
    };
}
