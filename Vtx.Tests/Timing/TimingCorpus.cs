using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx.Tests.Timing;

/// <summary>
/// The instruction forms a timing profile covers: every Iced <see cref="Code"/> Vtx implements (the
/// translator maps its mnemonic to a core <see cref="Op"/>, or the extension table has a handler), in its
/// register and/or memory form (the <c>memoryForm</c> of <see cref="Vtx.Timing.ICostModel.Cost"/>: an
/// explicit memory operand), each with a representative instruction built from the opcode's operand kinds.
/// Shared by the profile generator, the staleness test and Vtx.Bench (linked there).
/// </summary>
public static class TimingCorpus
{
    /// <summary>One form: the code, whether it is the memory form, the representative instruction and its mode.</summary>
    public sealed record Form(Code Code, bool Memory, Instruction Instruction, int Bitness, byte[] Bytes);

    /// <summary>Every implemented form, in code order (register form first). Forms no operand synthesis covers are still listed (with a default instruction of the code and no bytes).</summary>
    public static IReadOnlyList<Form> ImplementedForms()
    {
        var list = new List<Form>();
        foreach (Code code in Enum.GetValues<Code>())
        {
            if (code == Code.INVALID || code is Code.DeclareByte or Code.DeclareWord or Code.DeclareDword or Code.DeclareQword || code == Code.Zero_bytes) continue;
            OpCodeInfo oc = code.ToOpCode();
            if (oc.Encoding is not (EncodingKind.Legacy or EncodingKind.VEX)) continue;
            bool hasRm = false, hasMem = false;
            for (int i = 0; i < oc.OpCount; i++)
            {
                OpCodeOperandKind k = oc.GetOpKind(i);
                if (IsRegOrMem(k)) hasRm = true;
                else if (k is OpCodeOperandKind.mem or OpCodeOperandKind.mem_offs or OpCodeOperandKind.mem_mpx or OpCodeOperandKind.mem_mib or OpCodeOperandKind.sibmem) hasMem = true;
            }
            int bitness = oc.Mode64 ? 64 : oc.Mode32 ? 32 : 16;
            foreach (bool mem in (bool[])[false, true])
            {
                if (mem ? !(hasRm || hasMem) : hasMem) continue;
                if (!TryBuild(code, mem, bitness, out Instruction ins, out byte[] bytes)) continue;
                if (!IsImplemented(ins, bitness)) continue;
                list.Add(new Form(code, mem, ins, bitness, bytes));
            }
        }
        return list;
    }

    /// <summary>True when Vtx executes the instruction (a core op, or an extension-table code with a handler).</summary>
    public static bool IsImplemented(in Instruction ins, int bitness)
    {
        DecodedInstruction d = InstructionTranslator.Translate(ins, bitness);
        return d.Op switch
        {
            Op.Invalid or Op.Unsupported => false,
            Op.Ext => Cpu.Ext.Has(ins.Code),
            _ => true,
        };
    }

    private static bool IsRegOrMem(OpCodeOperandKind k) => k is OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem
        or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_or_mem_mpx or OpCodeOperandKind.r64_or_mem or OpCodeOperandKind.r64_or_mem_mpx
        or OpCodeOperandKind.mm_or_mem or OpCodeOperandKind.xmm_or_mem or OpCodeOperandKind.ymm_or_mem or OpCodeOperandKind.k_or_mem
        or OpCodeOperandKind.bnd_or_mem_mpx;

    /// <summary>
    /// Builds a representative instruction: destination/source registers distinct (rcx/rdx/rsi, xmm1/xmm2/xmm3,
    /// st(1)), memory [rbx+8] (or [ebx+8]/[bx+8]), immediates that need their full width, branches 16 bytes
    /// ahead; then encodes and re-decodes it to check it is the same code.
    /// </summary>
    public static bool TryBuild(Code code, bool memory, int bitness, out Instruction ins, out byte[] bytes)
    {
        ins = default;
        bytes = [];
        OpCodeInfo oc = code.ToOpCode();
        var i = new Instruction { Code = code };
        const ulong Ip = 0x1000;
        i.IP = Ip;
        for (int n = 0; n < oc.OpCount; n++)
        {
            OpCodeOperandKind k = oc.GetOpKind(n);
            if (!SetOperand(ref i, n, k, memory, bitness)) return false;
        }
        var writer = new CodeWriterImpl();
        var enc = Encoder.Create(bitness, writer);
        try
        {
            if (!enc.TryEncode(i, Ip, out _, out _)) return false;
        }
        catch (Exception)
        {
            return false;
        }
        bytes = writer.ToArray();
        var dec = Decoder.Create(bitness, new ByteArrayCodeReader(bytes));
        dec.IP = Ip;
        Instruction back = dec.Decode();
        if (back.Code == Code.Wait && oc.Fwait)
        {
            // FSTENV, FSAVE, FINIT...: the WAIT-prefixed pseudo-forms, which a decoder reads as WAIT + the FN form.
            i.Length = bytes.Length;
            ins = i;
            return true;
        }
        if (back.Code != code || back.Length != bytes.Length) return false;
        ins = back;
        return true;
    }

    private static bool SetOperand(ref Instruction i, int n, OpCodeOperandKind k, bool memory, int bitness)
    {
        Register gp(Register r16, Register r32, Register r64, int size) => size == 16 ? r16 : size == 32 ? r32 : r64;
        switch (k)
        {
            case OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode: Reg(ref i, n, Register.CL); return true;
            case OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_reg_mem: Reg(ref i, n, Register.CX); return true;
            case OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_reg_mem: Reg(ref i, n, Register.ECX); return true;
            case OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_opcode or OpCodeOperandKind.r64_reg_mem: Reg(ref i, n, Register.RCX); return true;
            case OpCodeOperandKind.r16_rm: Reg(ref i, n, Register.DX); return true;
            case OpCodeOperandKind.r32_rm: Reg(ref i, n, Register.EDX); return true;
            case OpCodeOperandKind.r64_rm: Reg(ref i, n, Register.RDX); return true;
            case OpCodeOperandKind.r32_vvvv: Reg(ref i, n, Register.ESI); return true;
            case OpCodeOperandKind.r64_vvvv: Reg(ref i, n, Register.RSI); return true;
            case OpCodeOperandKind.mm_reg: Reg(ref i, n, Register.MM1); return true;
            case OpCodeOperandKind.mm_rm: Reg(ref i, n, Register.MM2); return true;
            case OpCodeOperandKind.xmm_reg: Reg(ref i, n, Register.XMM1); return true;
            case OpCodeOperandKind.xmm_rm: Reg(ref i, n, Register.XMM2); return true;
            case OpCodeOperandKind.xmm_vvvv: Reg(ref i, n, Register.XMM3); return true;
            case OpCodeOperandKind.xmm_is4: Reg(ref i, n, Register.XMM4); return true;
            case OpCodeOperandKind.ymm_reg: Reg(ref i, n, Register.YMM1); return true;
            case OpCodeOperandKind.ymm_rm: Reg(ref i, n, Register.YMM2); return true;
            case OpCodeOperandKind.ymm_vvvv: Reg(ref i, n, Register.YMM3); return true;
            case OpCodeOperandKind.seg_reg: Reg(ref i, n, n == 0 ? Register.ES : Register.DS); return true;
            case OpCodeOperandKind.cr_reg: Reg(ref i, n, Register.CR4); return true;
            case OpCodeOperandKind.dr_reg: Reg(ref i, n, Register.DR1); return true;
            case OpCodeOperandKind.es: Reg(ref i, n, Register.ES); return true;
            case OpCodeOperandKind.cs: Reg(ref i, n, Register.CS); return true;
            case OpCodeOperandKind.ss: Reg(ref i, n, Register.SS); return true;
            case OpCodeOperandKind.ds: Reg(ref i, n, Register.DS); return true;
            case OpCodeOperandKind.fs: Reg(ref i, n, Register.FS); return true;
            case OpCodeOperandKind.gs: Reg(ref i, n, Register.GS); return true;
            case OpCodeOperandKind.al: Reg(ref i, n, Register.AL); return true;
            case OpCodeOperandKind.cl: Reg(ref i, n, Register.CL); return true;
            case OpCodeOperandKind.ax: Reg(ref i, n, Register.AX); return true;
            case OpCodeOperandKind.dx: Reg(ref i, n, Register.DX); return true;
            case OpCodeOperandKind.eax: Reg(ref i, n, Register.EAX); return true;
            case OpCodeOperandKind.rax: Reg(ref i, n, Register.RAX); return true;
            case OpCodeOperandKind.st0: Reg(ref i, n, Register.ST0); return true;
            case OpCodeOperandKind.sti_opcode: Reg(ref i, n, Register.ST1); return true;
            case OpCodeOperandKind.r8_or_mem:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.DL); return true;
            case OpCodeOperandKind.r16_or_mem:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.DX); return true;
            case OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_or_mem_mpx:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.EDX); return true;
            case OpCodeOperandKind.r64_or_mem or OpCodeOperandKind.r64_or_mem_mpx:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.RDX); return true;
            case OpCodeOperandKind.mm_or_mem:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.MM2); return true;
            case OpCodeOperandKind.xmm_or_mem:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.XMM2); return true;
            case OpCodeOperandKind.ymm_or_mem:
                if (memory) return Mem(ref i, n, bitness);
                Reg(ref i, n, Register.YMM2); return true;
            case OpCodeOperandKind.mem or OpCodeOperandKind.mem_mpx or OpCodeOperandKind.mem_mib:
                return Mem(ref i, n, bitness);
            case OpCodeOperandKind.mem_offs:
                i.SetOpKind(n, OpKind.Memory);
                i.MemoryDisplacement64 = 0x2000;
                i.MemoryDisplSize = bitness == 64 ? 8 : bitness / 8;
                return true;
            case OpCodeOperandKind.imm8: i.SetOpKind(n, n >= 1 && i.GetOpKind(n - 1) == OpKind.Immediate16 ? OpKind.Immediate8_2nd : OpKind.Immediate8); if (i.GetOpKind(n) == OpKind.Immediate8_2nd) i.Immediate8_2nd = 1; else i.Immediate8 = 5; return true;
            case OpCodeOperandKind.imm8_const_1: i.SetOpKind(n, OpKind.Immediate8); i.Immediate8 = 1; return true;
            case OpCodeOperandKind.imm8sex16: i.SetOpKind(n, OpKind.Immediate8to16); i.Immediate8 = 5; return true;
            case OpCodeOperandKind.imm8sex32: i.SetOpKind(n, OpKind.Immediate8to32); i.Immediate8 = 5; return true;
            case OpCodeOperandKind.imm8sex64: i.SetOpKind(n, OpKind.Immediate8to64); i.Immediate8 = 5; return true;
            case OpCodeOperandKind.imm16: i.SetOpKind(n, OpKind.Immediate16); i.Immediate16 = 0x1234; return true;
            case OpCodeOperandKind.imm32: i.SetOpKind(n, OpKind.Immediate32); i.Immediate32 = 0x12345; return true;
            case OpCodeOperandKind.imm32sex64: i.SetOpKind(n, OpKind.Immediate32to64); i.Immediate32 = 0x12345; return true;
            case OpCodeOperandKind.imm64: i.SetOpKind(n, OpKind.Immediate64); i.Immediate64 = 0x123456789; return true;
            case OpCodeOperandKind.seg_rSI:
                i.SetOpKind(n, bitness == 64 ? OpKind.MemorySegRSI : bitness == 32 ? OpKind.MemorySegESI : OpKind.MemorySegSI); return true;
            case OpCodeOperandKind.es_rDI:
                i.SetOpKind(n, bitness == 64 ? OpKind.MemoryESRDI : bitness == 32 ? OpKind.MemoryESEDI : OpKind.MemoryESDI); return true;
            case OpCodeOperandKind.seg_rDI:
                i.SetOpKind(n, bitness == 64 ? OpKind.MemorySegRDI : bitness == 32 ? OpKind.MemorySegEDI : OpKind.MemorySegDI); return true;
            case OpCodeOperandKind.seg_rBX_al:
                i.SetOpKind(n, OpKind.Memory);
                i.MemoryBase = gp(Register.BX, Register.EBX, Register.RBX, bitness);
                i.MemoryIndex = Register.AL;
                return true;
            case OpCodeOperandKind.br16_1 or OpCodeOperandKind.br16_2: i.SetOpKind(n, OpKind.NearBranch16); i.NearBranch16 = 0x1010; return true;
            case OpCodeOperandKind.br32_1 or OpCodeOperandKind.br32_4: i.SetOpKind(n, OpKind.NearBranch32); i.NearBranch32 = 0x1010; return true;
            case OpCodeOperandKind.br64_1 or OpCodeOperandKind.br64_4: i.SetOpKind(n, OpKind.NearBranch64); i.NearBranch64 = 0x1010; return true;
            case OpCodeOperandKind.farbr2_2: i.SetOpKind(n, OpKind.FarBranch16); i.FarBranch16 = 0x1010; i.FarBranchSelector = 8; return true;
            case OpCodeOperandKind.farbr4_2: i.SetOpKind(n, OpKind.FarBranch32); i.FarBranch32 = 0x1010; i.FarBranchSelector = 8; return true;
            default: return false;
        }
    }

    private static void Reg(ref Instruction i, int n, Register r)
    {
        i.SetOpKind(n, OpKind.Register);
        i.SetOpRegister(n, r);
    }

    private static bool Mem(ref Instruction i, int n, int bitness)
    {
        i.SetOpKind(n, OpKind.Memory);
        i.MemoryBase = bitness == 64 ? Register.RBX : bitness == 32 ? Register.EBX : Register.BX;
        i.MemoryDisplacement64 = 8;
        i.MemoryDisplSize = 1;
        return true;
    }

    private sealed class CodeWriterImpl : CodeWriter
    {
        private readonly List<byte> _bytes = [];
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
