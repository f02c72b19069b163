using System.Runtime.InteropServices;
using Iced.Intel;

namespace Vtx.Decoding;

/// <summary>Operand-form bits of a <see cref="DecodedInstruction"/>.</summary>
[Flags]
public enum DecodedFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>Operand A (the destination, or the only operand) is the memory operand.</summary>
    MemA = 1,
    /// <summary>Operand B (the source) is the memory operand.</summary>
    MemB = 2,
    /// <summary>Operand B is the immediate <see cref="DecodedInstruction.Imm"/>.</summary>
    ImmB = 4,
    /// <summary>A third operand is the immediate <see cref="DecodedInstruction.Imm"/> (IMUL r,r/m,imm; SHLD/SHRD imm8; RORX).</summary>
    Imm3 = 8,
    /// <summary>REP/REPE prefix on a string instruction.</summary>
    Rep = 16,
    /// <summary>REPNE prefix on a string instruction.</summary>
    Repne = 32,
    /// <summary>LOCK prefix (already validated by the decoder: a LOCK on a non-lockable form decodes as <see cref="Op.Invalid"/>).</summary>
    Lock = 64,
    /// <summary>
    /// The next element of the page's decoding array is the instruction that follows this one in
    /// memory (set by <see cref="DecodedPage.SealRun"/>), so execution may step to it without a lookup.
    /// </summary>
    Sequential = 128,
}

/// <summary>
/// The library's compact, pre-digested form of one x86 instruction: everything the interpreter
/// needs, resolved once at decode time (handler, sizes, register numbers, addressing, immediate,
/// relative branch displacement, cost), so that executing it performs no lookups.
/// </summary>
/// <remarks>
/// Operand model: operand A is the destination (or the only operand), operand B the source;
/// each is a register, the memory operand or an immediate, as <see cref="Flags"/> says. A third
/// register operand (VEX.vvvv, or CL as a shift count) is <see cref="Reg3"/>. Register numbers are
/// architectural (0 = rAX ... 15 = r15); for byte registers 16..19 denote AH, CH, DH, BH.
/// Branch targets and RIP-relative displacements are relative to the next instruction, so one
/// decoding is valid wherever its physical page is mapped.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public struct DecodedInstruction
{
    /// <summary>Register number meaning "no register" for <see cref="Base"/>/<see cref="Index"/>.</summary>
    public const byte NoReg = 0xFF;
    /// <summary><see cref="Base"/> value meaning RIP-relative addressing (relative to the next instruction).</summary>
    public const byte RipBase = 0x10;

    /// <summary>Handler index.</summary>
    public Op Op;
    /// <summary>Iced <see cref="Iced.Intel.Code"/> of the instruction (diagnostics, cost tables).</summary>
    public Code Code;
    /// <summary>Instruction length in bytes (1..15).</summary>
    public byte Length;
    /// <summary>Operand size in bytes (1, 2, 4, 8; 16 for CMPXCHG16B).</summary>
    public byte OpSize;
    /// <summary>Address size in bytes (2, 4, 8).</summary>
    public byte AddrSize;
    /// <summary>Source size in bytes for MOVZX/MOVSX/MOVSXD.</summary>
    public byte SrcSize;
    /// <summary>Operand forms and prefixes.</summary>
    public DecodedFlags Flags;
    /// <summary>Register of operand A when it is a register.</summary>
    public byte Reg;
    /// <summary>Register of operand B when it is a register.</summary>
    public byte Reg2;
    /// <summary>Third register operand (VEX.vvvv, or CL as shift count), or <see cref="NoReg"/>.</summary>
    public byte Reg3;
    /// <summary>Memory base register, <see cref="RipBase"/>, or <see cref="NoReg"/>.</summary>
    public byte Base;
    /// <summary>Memory index register or <see cref="NoReg"/>.</summary>
    public byte Index;
    /// <summary>Memory index scale as a shift count (0..3).</summary>
    public byte Scale;
    /// <summary>Segment of the memory operand: 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS (for string instructions, the source segment).</summary>
    public byte Segment;
    /// <summary>
    /// Condition code 0..15 (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G) for Jcc/SETcc/CMOVcc;
    /// for <see cref="Op.Ext"/> the handler's variant, registered with the handler (one handler may serve several codes).
    /// </summary>
    public byte Cond;
    /// <summary>Second immediate (ENTER's nesting level), or the segment register a MOV Sreg / LDS-family instruction names (0 ES .. 5 GS).</summary>
    public byte Extra;
    /// <summary>Cycle cost charged when the instruction retires (per iteration for REP string instructions).</summary>
    public ushort Cost;
    /// <summary>Instructions from this one to the end of its sequential run (at least 1).</summary>
    public byte RunLength;
    /// <summary>Bytes from this instruction's start to the end of its sequential run.</summary>
    public ushort RunBytes;
    /// <summary>Cycles charged by the instructions from this one to the end of its sequential run.</summary>
    public uint RunCycles;
    /// <summary>Memory displacement, or for relative branches the target relative to the next instruction.</summary>
    public long Disp;
    /// <summary>Immediate value, sign- or zero-extended as the instruction defines.</summary>
    public ulong Imm;

    /// <summary>True when the instruction has a memory operand (A or B).</summary>
    public readonly bool HasMemory => (Flags & (DecodedFlags.MemA | DecodedFlags.MemB)) != 0;
}
