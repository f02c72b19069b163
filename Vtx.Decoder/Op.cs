namespace Vtx.Decoding;

/// <summary>
/// The handler an instruction dispatches to: a dense index chosen once at decode time, so that
/// execution is one switch and never a per-execution table lookup. Operand sizes (8/16/32/64)
/// and operand forms (register, memory, immediate) share one handler; the decoded form
/// (<see cref="DecodedInstruction"/>) carries them.
/// </summary>
/// <remarks>
/// An instruction Iced decodes but Vtx does not model maps to <see cref="Unsupported"/>, which
/// raises #UD exactly like an undefined opcode (<see cref="Invalid"/>); the host can tell them
/// apart through <see cref="DecodedInstruction.Code"/>.
/// </remarks>
public enum Op : ushort
{
    /// <summary>Undefined opcode, or a LOCK prefix on a non-lockable form: #UD (SDM Vol. 2, 2.1.1 and Vol. 3A 6.15).</summary>
    Invalid = 0,
    /// <summary>A valid instruction Vtx does not model yet: #UD.</summary>
    Unsupported,

    // ---- data movement ----
    /// <summary>MOV (all forms including moffs and the B8+r imm64 form).</summary>
    Mov,
    /// <summary>MOVZX: zero-extend the source (size in <see cref="DecodedInstruction.SrcSize"/>).</summary>
    Movzx,
    /// <summary>MOVSX / MOVSXD: sign-extend the source (size in <see cref="DecodedInstruction.SrcSize"/>).</summary>
    Movsx,
    /// <summary>XCHG (register/register, register/memory; memory form is implicitly locked).</summary>
    Xchg,
    /// <summary>XADD.</summary>
    Xadd,
    /// <summary>CMPXCHG.</summary>
    Cmpxchg,
    /// <summary>CMPXCHG8B / CMPXCHG16B (operand size 8 or 16 in <see cref="DecodedInstruction.OpSize"/>).</summary>
    CmpxchgNb,
    /// <summary>BSWAP.</summary>
    Bswap,
    /// <summary>LEA.</summary>
    Lea,
    /// <summary>PUSH r/m, r, imm.</summary>
    Push,
    /// <summary>POP r/m, r.</summary>
    Pop,
    /// <summary>PUSH FS/GS (and ES/CS/SS/DS outside 64-bit mode).</summary>
    PushSeg,
    /// <summary>POP FS/GS (and ES/SS/DS outside 64-bit mode).</summary>
    PopSeg,
    /// <summary>PUSHF/PUSHFD/PUSHFQ.</summary>
    Pushf,
    /// <summary>POPF/POPFD/POPFQ.</summary>
    Popf,
    /// <summary>ENTER imm16, imm8.</summary>
    Enter,
    /// <summary>LEAVE.</summary>
    Leave,
    /// <summary>MOVBE (load or store with byte swap).</summary>
    Movbe,
    /// <summary>CBW/CWDE/CDQE (by operand size).</summary>
    Cbw,
    /// <summary>CWD/CDQ/CQO (by operand size).</summary>
    Cwd,
    /// <summary>LAHF.</summary>
    Lahf,
    /// <summary>SAHF.</summary>
    Sahf,

    // ---- arithmetic and logic ----
    /// <summary>ADD.</summary>
    Add,
    /// <summary>OR.</summary>
    Or,
    /// <summary>ADC.</summary>
    Adc,
    /// <summary>SBB.</summary>
    Sbb,
    /// <summary>AND.</summary>
    And,
    /// <summary>SUB.</summary>
    Sub,
    /// <summary>XOR.</summary>
    Xor,
    /// <summary>CMP.</summary>
    Cmp,
    /// <summary>TEST.</summary>
    Test,
    /// <summary>INC.</summary>
    Inc,
    /// <summary>DEC.</summary>
    Dec,
    /// <summary>NEG.</summary>
    Neg,
    /// <summary>NOT.</summary>
    Not,
    /// <summary>MUL (one operand, unsigned, into rDX:rAX).</summary>
    Mul,
    /// <summary>IMUL with one operand (signed, into rDX:rAX).</summary>
    Imul1,
    /// <summary>IMUL r, r/m and IMUL r, r/m, imm (truncated signed product).</summary>
    Imul,
    /// <summary>DIV (#DE on zero divisor or quotient overflow).</summary>
    Div,
    /// <summary>IDIV (#DE on zero divisor or quotient overflow).</summary>
    Idiv,
    /// <summary>ADCX (carry in and out through CF only).</summary>
    Adcx,
    /// <summary>ADOX (carry in and out through OF only).</summary>
    Adox,
    /// <summary>MULX (BMI2; flags unaffected).</summary>
    Mulx,

    // ---- shifts and rotates ----
    /// <summary>ROL.</summary>
    Rol,
    /// <summary>ROR.</summary>
    Ror,
    /// <summary>RCL.</summary>
    Rcl,
    /// <summary>RCR.</summary>
    Rcr,
    /// <summary>SHL/SAL.</summary>
    Shl,
    /// <summary>SHR.</summary>
    Shr,
    /// <summary>SAR.</summary>
    Sar,
    /// <summary>SHLD.</summary>
    Shld,
    /// <summary>SHRD.</summary>
    Shrd,
    /// <summary>SARX (BMI2).</summary>
    Sarx,
    /// <summary>SHLX (BMI2).</summary>
    Shlx,
    /// <summary>SHRX (BMI2).</summary>
    Shrx,
    /// <summary>RORX (BMI2).</summary>
    Rorx,

    // ---- bit manipulation ----
    /// <summary>BT.</summary>
    Bt,
    /// <summary>BTS.</summary>
    Bts,
    /// <summary>BTR.</summary>
    Btr,
    /// <summary>BTC.</summary>
    Btc,
    /// <summary>BSF.</summary>
    Bsf,
    /// <summary>BSR.</summary>
    Bsr,
    /// <summary>LZCNT.</summary>
    Lzcnt,
    /// <summary>TZCNT.</summary>
    Tzcnt,
    /// <summary>POPCNT.</summary>
    Popcnt,
    /// <summary>ANDN (BMI1).</summary>
    Andn,
    /// <summary>BEXTR (BMI1).</summary>
    Bextr,
    /// <summary>BLSI (BMI1).</summary>
    Blsi,
    /// <summary>BLSMSK (BMI1).</summary>
    Blsmsk,
    /// <summary>BLSR (BMI1).</summary>
    Blsr,
    /// <summary>BZHI (BMI2).</summary>
    Bzhi,
    /// <summary>PDEP (BMI2).</summary>
    Pdep,
    /// <summary>PEXT (BMI2).</summary>
    Pext,

    // ---- control flow ----
    /// <summary>JMP rel8/rel32.</summary>
    Jmp,
    /// <summary>JMP r/m (near, indirect).</summary>
    JmpIndirect,
    /// <summary>CALL rel32.</summary>
    Call,
    /// <summary>CALL r/m (near, indirect).</summary>
    CallIndirect,
    /// <summary>RET near, with optional imm16 bytes to release.</summary>
    Ret,
    /// <summary>Jcc rel8/rel32 (condition in <see cref="DecodedInstruction.Cond"/>).</summary>
    Jcc,
    /// <summary>JCXZ/JECXZ/JRCXZ (counter width is the address size).</summary>
    Jrcxz,
    /// <summary>LOOP.</summary>
    Loop,
    /// <summary>LOOPE/LOOPZ.</summary>
    Loope,
    /// <summary>LOOPNE/LOOPNZ.</summary>
    Loopne,
    /// <summary>SETcc.</summary>
    Setcc,
    /// <summary>CMOVcc.</summary>
    Cmovcc,

    // ---- strings ----
    /// <summary>MOVS.</summary>
    Movs,
    /// <summary>STOS.</summary>
    Stos,
    /// <summary>LODS.</summary>
    Lods,
    /// <summary>CMPS.</summary>
    Cmps,
    /// <summary>SCAS.</summary>
    Scas,

    // ---- misc ----
    /// <summary>NOP and multi-byte NOPs (also hint NOPs Vtx treats as NOP, e.g. ENDBR64).</summary>
    Nop,
    /// <summary>CLC.</summary>
    Clc,
    /// <summary>STC.</summary>
    Stc,
    /// <summary>CMC.</summary>
    Cmc,
    /// <summary>CLD.</summary>
    Cld,
    /// <summary>STD.</summary>
    Std,
    /// <summary>CPUID (answers from the configured CPU model).</summary>
    Cpuid,
    /// <summary>RDTSC.</summary>
    Rdtsc,
    /// <summary>RDTSCP.</summary>
    Rdtscp,
    /// <summary>PAUSE.</summary>
    Pause,
    /// <summary>UD0/UD1/UD2: always #UD.</summary>
    Ud,
    /// <summary>HLT.</summary>
    Hlt,

    // ---- system instructions ----
    /// <summary>MOV Sreg, r/m16 (segment in <see cref="DecodedInstruction.Segment"/>).</summary>
    MovToSeg,
    /// <summary>MOV r/m, Sreg.</summary>
    MovFromSeg,
    /// <summary>LDS/LES/LFS/LGS/LSS: load a segment register and a general register from a far pointer.</summary>
    LoadFarPointer,
    /// <summary>JMP ptr16:16/32 (selector in <see cref="DecodedInstruction.Imm"/> bits 63:48).</summary>
    JmpFar,
    /// <summary>JMP m16:16/32/64.</summary>
    JmpFarIndirect,
    /// <summary>CALL ptr16:16/32.</summary>
    CallFar,
    /// <summary>CALL m16:16/32/64.</summary>
    CallFarIndirect,
    /// <summary>RET far [imm16].</summary>
    RetFar,
    /// <summary>IRET/IRETD/IRETQ.</summary>
    Iret,
    /// <summary>INT imm8.</summary>
    Int,
    /// <summary>INT3.</summary>
    Int3,
    /// <summary>INTO.</summary>
    Into,
    /// <summary>INT1 (ICEBP).</summary>
    Int1,
    /// <summary>CLI.</summary>
    Cli,
    /// <summary>STI.</summary>
    Sti,
    /// <summary>LGDT.</summary>
    Lgdt,
    /// <summary>LIDT.</summary>
    Lidt,
    /// <summary>LLDT.</summary>
    Lldt,
    /// <summary>LTR.</summary>
    Ltr,
    /// <summary>SGDT.</summary>
    Sgdt,
    /// <summary>SIDT.</summary>
    Sidt,
    /// <summary>SLDT.</summary>
    Sldt,
    /// <summary>STR.</summary>
    Str,
    /// <summary>LMSW.</summary>
    Lmsw,
    /// <summary>SMSW.</summary>
    Smsw,
    /// <summary>CLTS.</summary>
    Clts,
    /// <summary>MOV CRn, r (register number in <see cref="DecodedInstruction.Reg3"/>).</summary>
    MovToCr,
    /// <summary>MOV r, CRn.</summary>
    MovFromCr,
    /// <summary>MOV DRn, r.</summary>
    MovToDr,
    /// <summary>MOV r, DRn.</summary>
    MovFromDr,
    /// <summary>INVLPG.</summary>
    Invlpg,
    /// <summary>INVPCID.</summary>
    Invpcid,
    /// <summary>WBINVD / WBNOINVD.</summary>
    Wbinvd,
    /// <summary>INVD.</summary>
    Invd,
    /// <summary>RDMSR.</summary>
    Rdmsr,
    /// <summary>WRMSR.</summary>
    Wrmsr,
    /// <summary>SWAPGS.</summary>
    Swapgs,
    /// <summary>SYSCALL.</summary>
    Syscall,
    /// <summary>SYSRET.</summary>
    Sysret,
    /// <summary>SYSENTER.</summary>
    Sysenter,
    /// <summary>SYSEXIT.</summary>
    Sysexit,
    /// <summary>IN (port in DX or imm8).</summary>
    In,
    /// <summary>OUT (port in DX or imm8).</summary>
    Out,
    /// <summary>INS.</summary>
    Ins,
    /// <summary>OUTS.</summary>
    Outs,
    /// <summary>RDPID.</summary>
    Rdpid,
    /// <summary>XGETBV.</summary>
    Xgetbv,
    /// <summary>XSETBV.</summary>
    Xsetbv,
    /// <summary>STAC.</summary>
    Stac,
    /// <summary>CLAC.</summary>
    Clac,
    /// <summary>RDPMC (counter index in ECX).</summary>
    Rdpmc,

    // ---- VMX instructions ----
    /// <summary>VMXON m64.</summary>
    Vmxon,
    /// <summary>VMXOFF.</summary>
    Vmxoff,
    /// <summary>VMCLEAR m64.</summary>
    Vmclear,
    /// <summary>VMPTRLD m64.</summary>
    Vmptrld,
    /// <summary>VMPTRST m64.</summary>
    Vmptrst,
    /// <summary>VMREAD r/m, reg (A = destination, B = register holding the encoding).</summary>
    Vmread,
    /// <summary>VMWRITE reg, r/m (A = register holding the encoding, B = value).</summary>
    Vmwrite,
    /// <summary>INVEPT reg, m128.</summary>
    Invept,
    /// <summary>INVVPID reg, m128.</summary>
    Invvpid,
    /// <summary>VMCALL.</summary>
    Vmcall,
    /// <summary>VMLAUNCH.</summary>
    Vmlaunch,
    /// <summary>VMRESUME.</summary>
    Vmresume,
    /// <summary>VMFUNC (function number in EAX).</summary>
    Vmfunc,

    // ---- fast forms: chosen at decode time for the commonest (operation, form, size) triples,
    // so their handlers test no operand-form or size bits. Same semantics as the generic op. ----
    /// <summary>Fast form of ADD register, register, 64-bit.</summary>
    AddRR64,
    /// <summary>Fast form of ADD register, register, 32-bit.</summary>
    AddRR32,
    /// <summary>Fast form of ADD register, immediate, 64-bit.</summary>
    AddRI64,
    /// <summary>Fast form of ADD register, immediate, 32-bit.</summary>
    AddRI32,
    /// <summary>Fast form of ADD register, memory, 64-bit.</summary>
    AddRM64,
    /// <summary>Fast form of ADD register, memory, 32-bit.</summary>
    AddRM32,
    /// <summary>Fast form of SUB register, register, 64-bit.</summary>
    SubRR64,
    /// <summary>Fast form of SUB register, register, 32-bit.</summary>
    SubRR32,
    /// <summary>Fast form of SUB register, immediate, 64-bit.</summary>
    SubRI64,
    /// <summary>Fast form of SUB register, immediate, 32-bit.</summary>
    SubRI32,
    /// <summary>Fast form of SUB register, memory, 64-bit.</summary>
    SubRM64,
    /// <summary>Fast form of SUB register, memory, 32-bit.</summary>
    SubRM32,
    /// <summary>Fast form of CMP register, register, 64-bit.</summary>
    CmpRR64,
    /// <summary>Fast form of CMP register, register, 32-bit.</summary>
    CmpRR32,
    /// <summary>Fast form of CMP register, immediate, 64-bit.</summary>
    CmpRI64,
    /// <summary>Fast form of CMP register, immediate, 32-bit.</summary>
    CmpRI32,
    /// <summary>Fast form of CMP register, memory, 64-bit.</summary>
    CmpRM64,
    /// <summary>Fast form of CMP register, memory, 32-bit.</summary>
    CmpRM32,
    /// <summary>Fast form of AND register, register, 64-bit.</summary>
    AndRR64,
    /// <summary>Fast form of AND register, register, 32-bit.</summary>
    AndRR32,
    /// <summary>Fast form of AND register, immediate, 64-bit.</summary>
    AndRI64,
    /// <summary>Fast form of AND register, immediate, 32-bit.</summary>
    AndRI32,
    /// <summary>Fast form of AND register, memory, 64-bit.</summary>
    AndRM64,
    /// <summary>Fast form of AND register, memory, 32-bit.</summary>
    AndRM32,
    /// <summary>Fast form of OR register, register, 64-bit.</summary>
    OrRR64,
    /// <summary>Fast form of OR register, register, 32-bit.</summary>
    OrRR32,
    /// <summary>Fast form of OR register, immediate, 64-bit.</summary>
    OrRI64,
    /// <summary>Fast form of OR register, immediate, 32-bit.</summary>
    OrRI32,
    /// <summary>Fast form of OR register, memory, 64-bit.</summary>
    OrRM64,
    /// <summary>Fast form of OR register, memory, 32-bit.</summary>
    OrRM32,
    /// <summary>Fast form of XOR register, register, 64-bit.</summary>
    XorRR64,
    /// <summary>Fast form of XOR register, register, 32-bit.</summary>
    XorRR32,
    /// <summary>Fast form of XOR register, immediate, 64-bit.</summary>
    XorRI64,
    /// <summary>Fast form of XOR register, immediate, 32-bit.</summary>
    XorRI32,
    /// <summary>Fast form of XOR register, memory, 64-bit.</summary>
    XorRM64,
    /// <summary>Fast form of XOR register, memory, 32-bit.</summary>
    XorRM32,
    /// <summary>Fast form of TEST register, register, 64-bit.</summary>
    TestRR64,
    /// <summary>Fast form of TEST register, register, 32-bit.</summary>
    TestRR32,
    /// <summary>Fast form of TEST register, immediate, 64-bit.</summary>
    TestRI64,
    /// <summary>Fast form of TEST register, immediate, 32-bit.</summary>
    TestRI32,
    /// <summary>Fast form of MOV r64, r64.</summary>
    MovRR64,
    /// <summary>Fast form of MOV r32, r32.</summary>
    MovRR32,
    /// <summary>Fast form of MOV r64, imm.</summary>
    MovRI64,
    /// <summary>Fast form of MOV r32, imm.</summary>
    MovRI32,
    /// <summary>Fast form of MOV r64, m64.</summary>
    MovRM64,
    /// <summary>Fast form of MOV r32, m32.</summary>
    MovRM32,
    /// <summary>Fast form of MOV m64, r64.</summary>
    MovMR64,
    /// <summary>Fast form of MOV m32, r32.</summary>
    MovMR32,
    /// <summary>Fast form of INC r64.</summary>
    IncR64,
    /// <summary>Fast form of INC r32.</summary>
    IncR32,
    /// <summary>Fast form of DEC r64.</summary>
    DecR64,
    /// <summary>Fast form of DEC r32.</summary>
    DecR32,
    /// <summary>Fast form of PUSH r64 with a 64-bit stack.</summary>
    PushR64,
    /// <summary>Fast form of POP r64 with a 64-bit stack.</summary>
    PopR64,
    /// <summary>Fast form of CALL rel32 in 64-bit mode.</summary>
    CallRel64,
    /// <summary>Fast form of RET in 64-bit mode (no immediate).</summary>
    Ret64,
    /// <summary>Fast form of LEA r64 with 64-bit addressing.</summary>
    LeaR64,
    /// <summary>Fast form of ADD memory, register, 64-bit.</summary>
    AddMR64,
    /// <summary>Fast form of ADD memory, register, 32-bit.</summary>
    AddMR32,
    /// <summary>Fast form of SUB memory, register, 64-bit.</summary>
    SubMR64,
    /// <summary>Fast form of SUB memory, register, 32-bit.</summary>
    SubMR32,
    /// <summary>Fast form of CMP memory, register, 64-bit.</summary>
    CmpMR64,
    /// <summary>Fast form of CMP memory, register, 32-bit.</summary>
    CmpMR32,
    /// <summary>Fast form of AND memory, register, 64-bit.</summary>
    AndMR64,
    /// <summary>Fast form of AND memory, register, 32-bit.</summary>
    AndMR32,
    /// <summary>Fast form of OR memory, register, 64-bit.</summary>
    OrMR64,
    /// <summary>Fast form of OR memory, register, 32-bit.</summary>
    OrMR32,
    /// <summary>Fast form of XOR memory, register, 64-bit.</summary>
    XorMR64,
    /// <summary>Fast form of XOR memory, register, 32-bit.</summary>
    XorMR32,
    /// <summary>Fast form of TEST memory, register, 64-bit.</summary>
    TestMR64,
    /// <summary>Fast form of TEST memory, register, 32-bit.</summary>
    TestMR32,

    // ---- table-driven instructions ----
    /// <summary>
    /// An instruction executed through the per-<see cref="Iced.Intel.Code"/> handler table of
    /// Vtx.Core (x87, MMX, SSE-SSE4.2, state save/restore, fences, cache control...): the decoder
    /// fills operands generically (see <see cref="DecodedInstruction"/>) and the processor resolves
    /// the handler, and the CPUID features that gate it, when it finishes the decoding. A code with
    /// no handler, or of a feature the CPU model does not offer, becomes <see cref="Invalid"/> (#UD).
    /// </summary>
        Ext,

    // ---- issue 13 (interpreter) fast forms, appended: chosen by Cpu.Specialize; same semantics as the generic op ----
    /// <summary>Fast form of ROL register, imm8 (or 1), 64-bit.</summary>
    RolRI64,
    /// <summary>Fast form of ROL register, imm8 (or 1), 32-bit.</summary>
    RolRI32,
    /// <summary>Fast form of ROR register, imm8 (or 1), 64-bit.</summary>
    RorRI64,
    /// <summary>Fast form of ROR register, imm8 (or 1), 32-bit.</summary>
    RorRI32,
    /// <summary>Fast form of SHL/SAL register, imm8 (or 1), 64-bit.</summary>
    ShlRI64,
    /// <summary>Fast form of SHL/SAL register, imm8 (or 1), 32-bit.</summary>
    ShlRI32,
    /// <summary>Fast form of SHR register, imm8 (or 1), 64-bit.</summary>
    ShrRI64,
    /// <summary>Fast form of SHR register, imm8 (or 1), 32-bit.</summary>
    ShrRI32,
    /// <summary>Fast form of SAR register, imm8 (or 1), 64-bit.</summary>
    SarRI64,
    /// <summary>Fast form of SAR register, imm8 (or 1), 32-bit.</summary>
    SarRI32,
    /// <summary>Fast form of MOV memory, imm32 sign-extended, 64-bit.</summary>
    MovMI64,
    /// <summary>Fast form of MOV memory, imm32, 32-bit.</summary>
    MovMI32,
    /// <summary>Fast form of MOV memory, imm8, 8-bit.</summary>
    MovMI8,
    /// <summary>Fast form of MOV memory, register, 8-bit.</summary>
    MovMR8,
    /// <summary>Fast form of MOVZX 32- or 64-bit register, 8-bit memory.</summary>
    MovzxRM8,
    /// <summary>Fast form of CMP memory, imm8, 8-bit.</summary>
    CmpMI8,
    /// <summary>Fast form of CMP memory, immediate, 64-bit.</summary>
    CmpMI64,
    /// <summary>Fast form of CMP memory, immediate, 32-bit.</summary>
    CmpMI32,
}
