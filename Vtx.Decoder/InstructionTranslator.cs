using Iced.Intel;

namespace Vtx.Decoding;

/// <summary>
/// Turns an Iced <see cref="Instruction"/> into the library's <see cref="DecodedInstruction"/>.
/// This is where operand roles are fixed (see the remarks on <see cref="DecodedInstruction"/>),
/// so handlers never look at Iced's operand kinds again.
/// </summary>
public static class InstructionTranslator
{
    /// <summary>
    /// Translates <paramref name="ins"/> (decoded by Iced in a mode of <paramref name="bitness"/> bits).
    /// Instructions Vtx does not model become <see cref="Op.Unsupported"/>; undefined ones
    /// <see cref="Op.Invalid"/>. Never throws for any decoded input.
    /// </summary>
    public static DecodedInstruction Translate(in Instruction ins, int bitness)
    {
        var d = new DecodedInstruction
        {
            Code = ins.Code,
            Length = (byte)ins.Length,
            Reg = DecodedInstruction.NoReg,
            Reg2 = DecodedInstruction.NoReg,
            Reg3 = DecodedInstruction.NoReg,
            Base = DecodedInstruction.NoReg,
            Index = DecodedInstruction.NoReg,
            Segment = 3,
            AddrSize = (byte)(bitness / 8),
        };
        if (ins.IsInvalid)
        {
            d.Op = Op.Invalid;
            return d;
        }
        Op op = OpOf(in ins);
        if (op == Op.Ext)
        {
            if (!FillExtOperands(in ins, ref d))
            {
                d.Op = Op.Unsupported;
                return d;
            }
            d.Op = op;
            if (ins.HasLockPrefix) d.Flags |= DecodedFlags.Lock;
            if (ins.HasRepePrefix) d.Flags |= DecodedFlags.Rep;
            else if (ins.HasRepnePrefix) d.Flags |= DecodedFlags.Repne;
            return d;
        }
        if (op == Op.Unsupported || !FillOperands(in ins, ref d, op, bitness))
        {
            d.Op = Op.Unsupported;
            return d;
        }
        d.Op = op;
        if (ins.HasLockPrefix) d.Flags |= DecodedFlags.Lock;
        return d;
    }

    // The Op of an Iced code, mapped once per code (decode speed): MapMnemonic reads only what the code fixes (the
    // mnemonic, operand count and kinds of register classes: a segment/control/debug register or a far/near/string
    // form is a code of its own). 0 = not mapped yet, else Op + 1; a race writes the same value.
    private static readonly ushort[] OpByCode = new ushort[Enum.GetValues<Code>().Length + 1];

    private static Op OpOf(in Instruction ins)
    {
        int c = (int)ins.Code;
        if ((uint)c >= (uint)OpByCode.Length) return MapMnemonic(ins);
        int v = OpByCode[c];
        if (v != 0) return (Op)(v - 1);
        Op op = MapMnemonic(ins);
        OpByCode[c] = (ushort)((int)op + 1);
        return op;
    }

    private static Op MapMnemonic(in Instruction ins) => ins.Mnemonic switch
    {
        Mnemonic.Mov => MapMov(ins),
        Mnemonic.Movzx => Op.Movzx,
        Mnemonic.Movsx or Mnemonic.Movsxd => Op.Movsx,
        Mnemonic.Xchg => Op.Xchg,
        Mnemonic.Xadd => Op.Xadd,
        Mnemonic.Cmpxchg => Op.Cmpxchg,
        Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b => Op.CmpxchgNb,
        Mnemonic.Bswap => Op.Bswap,
        Mnemonic.Lea => Op.Lea,
        Mnemonic.Push => ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister() ? Op.PushSeg : Op.Push,
        Mnemonic.Pop => ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister() ? Op.PopSeg : Op.Pop,
        Mnemonic.Pushf or Mnemonic.Pushfd or Mnemonic.Pushfq => Op.Pushf,
        Mnemonic.Popf or Mnemonic.Popfd or Mnemonic.Popfq => Op.Popf,
        Mnemonic.Enter => Op.Enter,
        Mnemonic.Leave => Op.Leave,
        Mnemonic.Movbe => Op.Movbe,
        Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe => Op.Cbw,
        Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo => Op.Cwd,
        Mnemonic.Lahf => Op.Lahf,
        Mnemonic.Sahf => Op.Sahf,

        Mnemonic.Add => Op.Add,
        Mnemonic.Or => Op.Or,
        Mnemonic.Adc => Op.Adc,
        Mnemonic.Sbb => Op.Sbb,
        Mnemonic.And => Op.And,
        Mnemonic.Sub => Op.Sub,
        Mnemonic.Xor => Op.Xor,
        Mnemonic.Cmp => Op.Cmp,
        Mnemonic.Test => Op.Test,
        Mnemonic.Inc => Op.Inc,
        Mnemonic.Dec => Op.Dec,
        Mnemonic.Neg => Op.Neg,
        Mnemonic.Not => Op.Not,
        Mnemonic.Mul => Op.Mul,
        Mnemonic.Imul => ins.OpCount == 1 ? Op.Imul1 : Op.Imul,
        Mnemonic.Div => Op.Div,
        Mnemonic.Idiv => Op.Idiv,
        Mnemonic.Adcx => Op.Adcx,
        Mnemonic.Adox => Op.Adox,
        Mnemonic.Mulx => Op.Mulx,

        Mnemonic.Rol => Op.Rol,
        Mnemonic.Ror => Op.Ror,
        Mnemonic.Rcl => Op.Rcl,
        Mnemonic.Rcr => Op.Rcr,
        Mnemonic.Shl or Mnemonic.Sal => Op.Shl,
        Mnemonic.Shr => Op.Shr,
        Mnemonic.Sar => Op.Sar,
        Mnemonic.Shld => Op.Shld,
        Mnemonic.Shrd => Op.Shrd,
        Mnemonic.Sarx => Op.Sarx,
        Mnemonic.Shlx => Op.Shlx,
        Mnemonic.Shrx => Op.Shrx,
        Mnemonic.Rorx => Op.Rorx,

        Mnemonic.Bt => Op.Bt,
        Mnemonic.Bts => Op.Bts,
        Mnemonic.Btr => Op.Btr,
        Mnemonic.Btc => Op.Btc,
        Mnemonic.Bsf => Op.Bsf,
        Mnemonic.Bsr => Op.Bsr,
        Mnemonic.Lzcnt => Op.Lzcnt,
        Mnemonic.Tzcnt => Op.Tzcnt,
        Mnemonic.Popcnt => Op.Popcnt,
        Mnemonic.Andn => Op.Andn,
        Mnemonic.Bextr => Op.Bextr,
        Mnemonic.Blsi => Op.Blsi,
        Mnemonic.Blsmsk => Op.Blsmsk,
        Mnemonic.Blsr => Op.Blsr,
        Mnemonic.Bzhi => Op.Bzhi,
        Mnemonic.Pdep => Op.Pdep,
        Mnemonic.Pext => Op.Pext,

        Mnemonic.Jmp => IsNearBranch(ins.Op0Kind) ? Op.Jmp : ins.IsJmpFar ? Op.JmpFar : ins.IsJmpFarIndirect ? Op.JmpFarIndirect : Op.JmpIndirect,
        Mnemonic.Call => IsNearBranch(ins.Op0Kind) ? Op.Call : ins.IsCallFar ? Op.CallFar : ins.IsCallFarIndirect ? Op.CallFarIndirect : Op.CallIndirect,
        Mnemonic.Ret => Op.Ret,
        Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne or Mnemonic.Jbe or Mnemonic.Ja
            or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jp or Mnemonic.Jnp or Mnemonic.Jl or Mnemonic.Jge or Mnemonic.Jle or Mnemonic.Jg => Op.Jcc,
        Mnemonic.Jcxz or Mnemonic.Jecxz or Mnemonic.Jrcxz => Op.Jrcxz,
        Mnemonic.Loop => Op.Loop,
        Mnemonic.Loope => Op.Loope,
        Mnemonic.Loopne => Op.Loopne,
        Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Sete or Mnemonic.Setne or Mnemonic.Setbe or Mnemonic.Seta
            or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Setp or Mnemonic.Setnp or Mnemonic.Setl or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg => Op.Setcc,
        Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmove or Mnemonic.Cmovne or Mnemonic.Cmovbe or Mnemonic.Cmova
            or Mnemonic.Cmovs or Mnemonic.Cmovns or Mnemonic.Cmovp or Mnemonic.Cmovnp or Mnemonic.Cmovl or Mnemonic.Cmovge or Mnemonic.Cmovle or Mnemonic.Cmovg => Op.Cmovcc,

        Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsq => Op.Movs,
        // MOVSD is both the string instruction and the SSE2 move: only the string form (no XMM operand) is ours.
        Mnemonic.Movsd when ins.Op0Kind is OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemoryESRDI => Op.Movs,
        Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq => Op.Stos,
        Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq => Op.Lods,
        Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsq => Op.Cmps,
        Mnemonic.Cmpsd when ins.Op1Kind is OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemoryESRDI => Op.Cmps,
        Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq => Op.Scas,

        Mnemonic.Nop or Mnemonic.Endbr64 or Mnemonic.Endbr32 => Op.Nop,
        Mnemonic.Clc => Op.Clc,
        Mnemonic.Stc => Op.Stc,
        Mnemonic.Cmc => Op.Cmc,
        Mnemonic.Cld => Op.Cld,
        Mnemonic.Std => Op.Std,
        Mnemonic.Cpuid => Op.Cpuid,
        Mnemonic.Rdtsc => Op.Rdtsc,
        Mnemonic.Rdtscp => Op.Rdtscp,
        Mnemonic.Pause => Op.Pause,
        Mnemonic.Ud0 or Mnemonic.Ud1 or Mnemonic.Ud2 => Op.Ud,
        Mnemonic.Hlt => Op.Hlt,

        Mnemonic.Lds or Mnemonic.Les or Mnemonic.Lfs or Mnemonic.Lgs or Mnemonic.Lss => Op.LoadFarPointer,
        Mnemonic.Retf => Op.RetFar,
        Mnemonic.Iret or Mnemonic.Iretd or Mnemonic.Iretq => Op.Iret,
        Mnemonic.Int => Op.Int,
        Mnemonic.Int3 => Op.Int3,
        Mnemonic.Into => Op.Into,
        Mnemonic.Int1 => Op.Int1,
        Mnemonic.Cli => Op.Cli,
        Mnemonic.Sti => Op.Sti,
        Mnemonic.Lgdt => Op.Lgdt,
        Mnemonic.Lidt => Op.Lidt,
        Mnemonic.Lldt => Op.Lldt,
        Mnemonic.Ltr => Op.Ltr,
        Mnemonic.Sgdt => Op.Sgdt,
        Mnemonic.Sidt => Op.Sidt,
        Mnemonic.Sldt => Op.Sldt,
        Mnemonic.Str => Op.Str,
        Mnemonic.Lmsw => Op.Lmsw,
        Mnemonic.Smsw => Op.Smsw,
        Mnemonic.Clts => Op.Clts,
        Mnemonic.Invlpg => Op.Invlpg,
        Mnemonic.Invpcid => Op.Invpcid,
        Mnemonic.Wbinvd or Mnemonic.Wbnoinvd => Op.Wbinvd,
        Mnemonic.Invd => Op.Invd,
        Mnemonic.Rdmsr => Op.Rdmsr,
        Mnemonic.Wrmsr => Op.Wrmsr,
        Mnemonic.Swapgs => Op.Swapgs,
        Mnemonic.Syscall => Op.Syscall,
        Mnemonic.Sysret or Mnemonic.Sysretq => Op.Sysret,
        Mnemonic.Sysenter => Op.Sysenter,
        Mnemonic.Sysexit or Mnemonic.Sysexitq => Op.Sysexit,
        Mnemonic.In => Op.In,
        Mnemonic.Out => Op.Out,
        Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd => Op.Ins,
        Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd => Op.Outs,
        Mnemonic.Rdpid => Op.Rdpid,
        Mnemonic.Xgetbv => Op.Xgetbv,
        Mnemonic.Xsetbv => Op.Xsetbv,
        Mnemonic.Stac => Op.Stac,
        Mnemonic.Clac => Op.Clac,
        Mnemonic.Rdpmc => Op.Rdpmc,
        Mnemonic.Vmxon => Op.Vmxon,
        Mnemonic.Vmxoff => Op.Vmxoff,
        Mnemonic.Vmclear => Op.Vmclear,
        Mnemonic.Vmptrld => Op.Vmptrld,
        Mnemonic.Vmptrst => Op.Vmptrst,
        Mnemonic.Vmread => Op.Vmread,
        Mnemonic.Vmwrite => Op.Vmwrite,
        Mnemonic.Invept => Op.Invept,
        Mnemonic.Invvpid => Op.Invvpid,
        Mnemonic.Vmcall => Op.Vmcall,
        Mnemonic.Vmlaunch => Op.Vmlaunch,
        Mnemonic.Vmresume => Op.Vmresume,
        Mnemonic.Vmfunc => Op.Vmfunc,
        // Everything else goes to the processor's handler table (x87, MMX, SSE..., see Op.Ext),
        // which decides per Iced Code whether it is modelled and offered.
        _ => Op.Ext,
    };

    /// <summary>MOV splits by operand class: segment, control and debug registers have their own handlers.</summary>
    private static Op MapMov(in Instruction ins)
    {
        for (int i = 0; i < ins.OpCount; i++)
        {
            if (ins.GetOpKind(i) != OpKind.Register) continue;
            Register r = ins.GetOpRegister(i);
            if (r.IsSegmentRegister()) return i == 0 ? Op.MovToSeg : Op.MovFromSeg;
            if (r.IsCR()) return i == 0 ? Op.MovToCr : Op.MovFromCr;
            if (r.IsDR()) return i == 0 ? Op.MovToDr : Op.MovFromDr;
        }
        return Op.Mov;
    }

    private static bool IsNearBranch(OpKind k) => k is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;

    private static bool FillOperands(in Instruction ins, ref DecodedInstruction d, Op op, int bitness)
    {
        int count = ins.OpCount;
        int size = 0;
        // Operand roles: op0 -> A; op1 -> B; op2 -> Reg3 or the third immediate. For the VEX forms
        // whose second operand is VEX.vvvv (ANDN, PDEP, PEXT, MULX), op1 -> Reg3 and op2 -> B.
        bool vvvvSecond = op is Op.Andn or Op.Pdep or Op.Pext or Op.Mulx;
        for (int i = 0; i < count; i++)
        {
            int role = i == 0 ? 0 : i == 1 ? (vvvvSecond ? 2 : 1) : (vvvvSecond ? 1 : 2);
            OpKind kind = ins.GetOpKind(i);
            switch (kind)
            {
                case OpKind.Register:
                {
                    Register r = ins.GetOpRegister(i);
                    if (r.IsSegmentRegister() && op is Op.MovToSeg or Op.MovFromSeg)
                    {
                        // The segment register goes to Extra: Segment belongs to a memory operand.
                        d.Extra = (byte)(r - Register.ES);
                        continue;
                    }
                    if (r.IsCR() || r.IsDR())
                    {
                        d.Reg3 = (byte)(r.IsCR() ? r - Register.CR0 : r - Register.DR0);
                        continue;
                    }
                    if (!TryGpr(r, out byte num, out int rsize))
                    {
                        if (r.IsSegmentRegister() && op is Op.PushSeg or Op.PopSeg)
                        {
                            d.Segment = (byte)(r - Register.ES);
                            d.OpSize = (byte)Math.Abs(ins.StackPointerIncrement);
                            return true;
                        }
                        return false;
                    }
                    if (i == 0) size = rsize;
                    if (role == 0) d.Reg = num;
                    else if (role == 1) d.Reg2 = num;
                    else d.Reg3 = num;
                    break;
                }
                case OpKind.Memory:
                    if (!FillMemory(in ins, ref d)) return false;
                    d.Flags |= role == 0 ? DecodedFlags.MemA : DecodedFlags.MemB;
                    if (i == 0) size = ins.MemorySize.GetSize();
                    break;
                case OpKind.Immediate8:
                case OpKind.Immediate8_2nd: // ENTER's nesting level
                case OpKind.Immediate16:
                case OpKind.Immediate32:
                case OpKind.Immediate64:
                case OpKind.Immediate8to16:
                case OpKind.Immediate8to32:
                case OpKind.Immediate8to64:
                case OpKind.Immediate32to64:
                    if (op == Op.Enter && i == 1) { d.Extra = (byte)ins.GetImmediate(i); break; }
                    if (op is Op.Int or Op.In or Op.Out or Op.RetFar) { d.Imm = ins.GetImmediate(i); d.Flags |= DecodedFlags.ImmB; break; }
                    d.Imm = ins.GetImmediate(i);
                    if (role == 1) d.Flags |= DecodedFlags.ImmB;
                    else if (role == 2) d.Flags |= DecodedFlags.Imm3;
                    else if (op is Op.Push or Op.Ret or Op.Enter) d.Flags |= DecodedFlags.ImmB;
                    break;
                case OpKind.FarBranch16:
                    d.Imm = ins.FarBranch16 | ((ulong)ins.FarBranchSelector << 48);
                    size = 2;
                    break;
                case OpKind.FarBranch32:
                    d.Imm = ins.FarBranch32 | ((ulong)ins.FarBranchSelector << 48);
                    size = 4;
                    break;
                case OpKind.NearBranch16:
                    d.Disp = (short)(ushort)(ins.NearBranch16 - (ushort)ins.NextIP);
                    size = 2;
                    break;
                case OpKind.NearBranch32:
                    d.Disp = (int)(ins.NearBranch32 - (uint)ins.NextIP);
                    size = 4;
                    break;
                case OpKind.NearBranch64:
                    d.Disp = (long)(ins.NearBranch64 - ins.NextIP);
                    size = 8;
                    break;
                case OpKind.MemorySegSI: case OpKind.MemorySegESI: case OpKind.MemorySegRSI:
                    d.AddrSize = kind == OpKind.MemorySegSI ? (byte)2 : kind == OpKind.MemorySegESI ? (byte)4 : (byte)8;
                    d.Segment = SegNum(ins.MemorySegment);
                    if (i == 0) size = ins.MemorySize.GetSize();
                    break;
                case OpKind.MemoryESDI: case OpKind.MemoryESEDI: case OpKind.MemoryESRDI:
                    d.AddrSize = kind == OpKind.MemoryESDI ? (byte)2 : kind == OpKind.MemoryESEDI ? (byte)4 : (byte)8;
                    if (i == 0) size = ins.MemorySize.GetSize();
                    break;
                default:
                    return false;
            }
        }

        // Sizes that the first operand does not give.
        switch (op)
        {
            case Op.Movzx:
            case Op.Movsx:
                d.SrcSize = (byte)(ins.Op1Kind == OpKind.Register ? ins.Op1Register.GetSize() : ins.MemorySize.GetSize());
                break;
            case Op.Push:
            case Op.Pop:
            case Op.Pushf:
            case Op.Popf:
                size = Math.Abs(ins.StackPointerIncrement);
                break;
            case Op.Call:
            case Op.CallIndirect:
            case Op.Jmp:
            case Op.JmpIndirect:
                if (size == 0) size = bitness == 64 ? 8 : bitness / 8;
                break;
            case Op.Ret:
                size = ins.Code switch
                {
                    Code.Retnq or Code.Retnq_imm16 => 8,
                    Code.Retnd or Code.Retnd_imm16 => 4,
                    _ => 2,
                };
                break;
            case Op.Enter:
                size = ins.Code switch { Code.Enterq_imm16_imm8 => 8, Code.Enterd_imm16_imm8 => 4, _ => 2 };
                break;
            case Op.Leave:
                size = ins.Code switch { Code.Leaveq => 8, Code.Leaved => 4, _ => 2 };
                break;
            case Op.Cbw:
                size = ins.Code switch { Code.Cdqe => 8, Code.Cwde => 4, _ => 2 };
                break;
            case Op.Cwd:
                size = ins.Code switch { Code.Cqo => 8, Code.Cdq => 4, _ => 2 };
                break;
            case Op.Jcc:
            case Op.Setcc:
            case Op.Cmovcc:
                d.Cond = (byte)(ins.ConditionCode - ConditionCode.o);
                break;
            case Op.Loop:
            case Op.Loope:
            case Op.Loopne:
                // The counter register width is the address size, which Iced names in the code.
                d.AddrSize = ins.Code.ToString() switch
                {
                    var s when s.EndsWith("_RCX", StringComparison.Ordinal) => 8,
                    var s when s.EndsWith("_ECX", StringComparison.Ordinal) => 4,
                    _ => 2,
                };
                break;
            case Op.Jrcxz:
                d.AddrSize = ins.Mnemonic switch { Mnemonic.Jrcxz => 8, Mnemonic.Jecxz => 4, _ => 2 };
                break;
            case Op.CmpxchgNb:
                size = ins.Mnemonic == Mnemonic.Cmpxchg16b ? 16 : 8;
                break;
            case Op.LoadFarPointer:
                d.Extra = ins.Mnemonic switch { Mnemonic.Les => 0, Mnemonic.Lss => 2, Mnemonic.Lds => 3, Mnemonic.Lfs => 4, _ => 5 };
                size = ins.MemorySize switch { MemorySize.SegPtr16 => 2, MemorySize.SegPtr64 => 8, _ => 4 };
                break;
            case Op.JmpFarIndirect:
            case Op.CallFarIndirect:
                // m16:16 / m16:32 / m16:64: the operand size is the offset's size.
                size = ins.MemorySize switch { MemorySize.SegPtr16 => 2, MemorySize.SegPtr64 => 8, _ => 4 };
                break;
            case Op.RetFar:
                size = ins.Code switch { Code.Retfq or Code.Retfq_imm16 => 8, Code.Retfd or Code.Retfd_imm16 => 4, _ => 2 };
                break;
            case Op.Iret:
                size = ins.Mnemonic switch { Mnemonic.Iretq => 8, Mnemonic.Iretd => 4, _ => 2 };
                break;
            case Op.Lgdt:
            case Op.Lidt:
                // The operand size (not the 6/10-byte memory size): with 16 bits only 24 bits of the base load.
                size = ins.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16 ? 2 : bitness == 64 ? 8 : 4;
                break;
            case Op.Sysret:
            case Op.Sysexit:
                size = ins.Mnemonic is Mnemonic.Sysretq or Mnemonic.Sysexitq ? 8 : 4;
                break;
            case Op.In:
            case Op.Out:
                // IN AL/AX/EAX, DX|imm8 and OUT DX|imm8, AL/AX/EAX: the size is the accumulator's.
                size = (op == Op.In ? ins.Op0Register : ins.Op1Register).GetSize();
                break;
            case Op.Ins:
            case Op.Outs:
                size = ins.MemorySize.GetSize();
                if (ins.HasRepePrefix || ins.HasRepnePrefix) d.Flags |= DecodedFlags.Rep;
                break;
            case Op.MovToCr:
            case Op.MovFromCr:
            case Op.MovToDr:
            case Op.MovFromDr:
                size = bitness == 64 ? 8 : 4;
                break;
            case Op.Movs:
            case Op.Stos:
            case Op.Lods:
            case Op.Cmps:
            case Op.Scas:
                size = ins.MemorySize.GetSize();
                if (ins.HasRepePrefix) d.Flags |= DecodedFlags.Rep;
                else if (ins.HasRepnePrefix) d.Flags |= op is Op.Cmps or Op.Scas ? DecodedFlags.Repne : DecodedFlags.Rep;
                break;
        }
        if (op is Op.Ret && (d.Flags & DecodedFlags.ImmB) == 0) d.Imm = 0;
        if (size == 0) size = bitness == 64 ? 8 : bitness / 8;
        d.OpSize = (byte)size;
        return true;
    }

    /// <summary>
    /// Generic operand fill for <see cref="Op.Ext"/> instructions, whose handlers know their operand
    /// classes from the Iced code: operand 0 -> A (<see cref="DecodedInstruction.Reg"/> or memory),
    /// operand 1 -> B (<see cref="DecodedInstruction.Reg2"/>, memory or immediate), operand 2 ->
    /// <see cref="DecodedInstruction.Reg3"/> or the third immediate. Register numbers are those of
    /// the register's own file: GPRs as in <see cref="TryGpr"/>, XMM0-15 / MM0-7 / ST(0)-ST(7) as
    /// 0..15 / 0..7 / 0..7. <see cref="DecodedInstruction.OpSize"/> is the memory operand's size in
    /// bytes (0 when it does not fit a byte, e.g. the 512-byte FXSAVE area), else the size of the first
    /// GPR operand. Implicit string-style memory operands (MASKMOVDQU's [rDI]) set the address size and
    /// segment only.
    /// </summary>
    private static bool FillExtOperands(in Instruction ins, ref DecodedInstruction d)
    {
        int count = ins.OpCount;
        int size = 0;
        for (int i = 0; i < count; i++)
        {
            OpKind kind = ins.GetOpKind(i);
            switch (kind)
            {
                case OpKind.Register:
                {
                    Register r = ins.GetOpRegister(i);
                    byte num;
                    if (TryGpr(r, out num, out int rsize)) { if (size == 0) size = rsize; }
                    else if (r.IsXMM()) num = (byte)(r - Register.XMM0);
                    else if (r.IsMM()) num = (byte)(r - Register.MM0);
                    else if (r >= Register.ST0 && r <= Register.ST7) num = (byte)(r - Register.ST0);
                    else if (r.IsSegmentRegister()) num = (byte)(r - Register.ES);
                    else return false;
                    if (i == 0) d.Reg = num;
                    else if (i == 1) d.Reg2 = num;
                    else if (i == 2) d.Reg3 = num;
                    break;
                }
                case OpKind.Memory:
                {
                    if (!FillMemory(in ins, ref d)) return false;
                    d.Flags |= i == 0 ? DecodedFlags.MemA : DecodedFlags.MemB;
                    int ms = ins.MemorySize.GetSize();
                    size = ms <= 255 ? ms : 0;
                    break;
                }
                case OpKind.Immediate8:
                case OpKind.Immediate8_2nd:
                case OpKind.Immediate16:
                case OpKind.Immediate32:
                case OpKind.Immediate64:
                case OpKind.Immediate8to16:
                case OpKind.Immediate8to32:
                case OpKind.Immediate8to64:
                case OpKind.Immediate32to64:
                    if (kind == OpKind.Immediate8_2nd) { d.Extra = (byte)ins.GetImmediate(i); break; } // EXTRQ/INSERTQ
                    d.Imm = ins.GetImmediate(i);
                    d.Flags |= i <= 1 ? DecodedFlags.ImmB : DecodedFlags.Imm3;
                    break;
                case OpKind.MemorySegSI: case OpKind.MemorySegESI: case OpKind.MemorySegRSI:
                case OpKind.MemorySegDI: case OpKind.MemorySegEDI: case OpKind.MemorySegRDI:
                case OpKind.MemoryESDI: case OpKind.MemoryESEDI: case OpKind.MemoryESRDI:
                    d.AddrSize = kind is OpKind.MemorySegSI or OpKind.MemorySegDI or OpKind.MemoryESDI ? (byte)2
                        : kind is OpKind.MemorySegESI or OpKind.MemorySegEDI or OpKind.MemoryESEDI ? (byte)4 : (byte)8;
                    d.Segment = kind is OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemoryESRDI ? (byte)0 : SegNum(ins.MemorySegment);
                    break;
                default:
                    return false;
            }
        }
        d.OpSize = (byte)size;
        return true;
    }

    private static bool FillMemory(in Instruction ins, ref DecodedInstruction d)
    {
        Register b = ins.MemoryBase, x = ins.MemoryIndex;
        int asize;
        if (b == Register.RIP || b == Register.EIP)
        {
            d.Base = DecodedInstruction.RipBase;
            asize = b == Register.RIP ? 8 : 4;
            // Iced resolves RIP-relative operands to absolute addresses; keep them relative to the next instruction.
            d.Disp = (long)(ins.IPRelativeMemoryAddress - ins.NextIP);
            if (asize == 4) d.Disp = (int)d.Disp;
        }
        else
        {
            if (b != Register.None)
            {
                if (!TryGpr(b, out d.Base, out asize)) return false;
            }
            else asize = 0;
            if (x != Register.None)
            {
                if (!TryGpr(x, out d.Index, out int xs)) return false;
                if (xs != 1) asize = xs; // XLAT's AL "index": the address size is the base's (rBX)
                d.Scale = (byte)System.Numerics.BitOperations.Log2((uint)ins.MemoryIndexScale);
            }
            if (asize == 0) asize = ins.MemoryDisplSize is 2 or 4 or 8 ? ins.MemoryDisplSize : 8;
            d.Disp = asize switch
            {
                2 => (short)(ushort)ins.MemoryDisplacement64,
                4 => (int)(uint)ins.MemoryDisplacement64,
                _ => (long)ins.MemoryDisplacement64,
            };
        }
        d.AddrSize = (byte)asize;
        d.Segment = SegNum(ins.MemorySegment);
        return true;
    }

    private static byte SegNum(Register seg) => seg switch
    {
        Register.ES => 0,
        Register.CS => 1,
        Register.SS => 2,
        Register.FS => 4,
        Register.GS => 5,
        _ => 3,
    };

    /// <summary>Maps an Iced general-purpose register to the architectural number (16..19 = AH..BH) and its size.</summary>
    internal static bool TryGpr(Register r, out byte num, out int size)
    {
        if (r >= Register.AL && r <= Register.R15L)
        {
            int n = r - Register.AL;
            // Iced orders byte registers AL CL DL BL AH CH DH BH SPL BPL SIL DIL R8L..R15L.
            num = n < 4 ? (byte)n : n < 8 ? (byte)(16 + n - 4) : n < 12 ? (byte)(n - 4) : (byte)(n - 4);
            size = 1;
            return true;
        }
        if (r >= Register.AX && r <= Register.R15W) { num = (byte)(r - Register.AX); size = 2; return true; }
        if (r >= Register.EAX && r <= Register.R15D) { num = (byte)(r - Register.EAX); size = 4; return true; }
        if (r >= Register.RAX && r <= Register.R15) { num = (byte)(r - Register.RAX); size = 8; return true; }
        num = 0;
        size = 0;
        return false;
    }
}
