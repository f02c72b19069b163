using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed unsafe partial class Cpu
{
    // Legacy integer and protection instructions that decode as Op.Ext: the BCD adjusts and SALC
    // (8086), PUSHA/POPA and BOUND (186/386), ARPL, LAR, LSL, VERR, VERW (286). Flags the SDM leaves
    // undefined are left unchanged (docs/ARCHITECTURE.md, "State and flags"); each handler lists them.

    static partial void RegisterLegacy(InstructionTable t)
    {
        t.Add(Code.Daa, &Daa);
        t.Add(Code.Das, &Das);
        t.Add(Code.Aaa, &Aaa);
        t.Add(Code.Aas, &Aas);
        t.Add(Code.Aam_imm8, &Aam);
        t.Add(Code.Aad_imm8, &Aad);
        t.Add(Code.Salc, &Salc);
        t.Add(Code.Pushaw, &Pusha, 2);
        t.Add(Code.Pushad, &Pusha, 4);
        t.Add(Code.Popaw, &Popa, 2);
        t.Add(Code.Popad, &Popa, 4);
        t.Add(Code.Bound_r16_m1616, &Bound, 2);
        t.Add(Code.Bound_r32_m3232, &Bound, 4);
        t.Add(Code.Arpl_rm16_r16, &Arpl);
        t.Add(Code.Arpl_r32m16_r32, &Arpl);
        t.Add(Code.Lar_r16_rm16, &Lar, 2);
        t.Add(Code.Lar_r32_r32m16, &Lar, 4);
        t.Add(Code.Lar_r64_r64m16, &Lar, 8);
        t.Add(Code.Lsl_r16_rm16, &Lsl, 2);
        t.Add(Code.Lsl_r32_r32m16, &Lsl, 4);
        t.Add(Code.Lsl_r64_r64m16, &Lsl, 8);
        t.Add(Code.Verr_rm16, &Verr);
        t.Add(Code.Verr_r32m16, &Verr);
        t.Add(Code.Verr_r64m16, &Verr);
        t.Add(Code.Verw_rm16, &Verw);
        t.Add(Code.Verw_r32m16, &Verw);
        t.Add(Code.Verw_r64m16, &Verw);
    }

    // ------------------------------------------------------------------ BCD adjusts and SALC (SDM Vol. 2A)

    /// <summary>The 8086 instructions that 64-bit mode removed raise #UD there (Iced already decodes them as invalid; kept as a guard).</summary>
    private bool Not64() => _codeBits != 64 || Fault(ExceptionVector.UD);

    /// <summary>Sets ZF/SF/PF from the byte <paramref name="al"/> and AF/CF as given; OF is kept (undefined or unaffected by the caller's page).</summary>
    private void SetBcdFlags(byte al, bool af, bool cf, ulong mask)
    {
        ulong v = (al == 0 ? ZF : 0) | ((al & 0x80) != 0 ? SF : 0) | (Sz.Parity(al) ? PF : 0) | (af ? AF : 0) | (cf ? CF : 0);
        SetStatus(mask, v);
    }

    /// <summary>DAA (SDM Vol. 2A, DAA): decimal adjust AL after addition. CF, AF per the page; SF, ZF, PF from AL; OF undefined: unchanged.</summary>
    private static void Daa(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        byte al = (byte)c._gpr[0], oldAl = al;
        bool oldCf = c.GetCF(), cf = false, af;
        if ((al & 0xF) > 9 || c.GetAF()) { cf = oldCf || al + 6 > 0xFF; al = (byte)(al + 6); af = true; }
        else af = false;
        if (oldAl > 0x99 || oldCf) { al = (byte)(al + 0x60); cf = true; }
        else cf = false;
        c.SetReg(0, 1, al);
        c.SetBcdFlags(al, af, cf, CF | AF | ZF | SF | PF);
    }

    /// <summary>DAS (SDM Vol. 2A, DAS): decimal adjust AL after subtraction. CF, AF per the page; SF, ZF, PF from AL; OF undefined: unchanged.</summary>
    private static void Das(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        byte al = (byte)c._gpr[0], oldAl = al;
        bool oldCf = c.GetCF(), cf = false, af;
        if ((al & 0xF) > 9 || c.GetAF()) { cf = oldCf || al < 6; al = (byte)(al - 6); af = true; }
        else af = false;
        if (oldAl > 0x99 || oldCf) { al = (byte)(al - 0x60); cf = true; }
        c.SetReg(0, 1, al);
        c.SetBcdFlags(al, af, cf, CF | AF | ZF | SF | PF);
    }

    /// <summary>AAA (SDM Vol. 2A, AAA): ASCII adjust after addition, AX += 106h when adjusting. AF = CF = adjusted; OF, SF, ZF, PF undefined: unchanged.</summary>
    private static void Aaa(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        ushort ax = (ushort)c._gpr[0];
        bool adjust = (ax & 0xF) > 9 || c.GetAF();
        if (adjust) ax = (ushort)(ax + 0x106);
        ax = (ushort)(ax & 0xFF0F);
        c.SetReg(0, 2, ax);
        c.SetStatus(AF | CF, adjust ? AF | CF : 0);
    }

    /// <summary>AAS (SDM Vol. 2A, AAS): ASCII adjust after subtraction, AX -= 6 then AH -= 1 when adjusting. AF = CF = adjusted; OF, SF, ZF, PF undefined: unchanged.</summary>
    private static void Aas(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        ushort ax = (ushort)c._gpr[0];
        bool adjust = (ax & 0xF) > 9 || c.GetAF();
        if (adjust) { ax = (ushort)(ax - 6); ax = (ushort)(ax - 0x100); }
        ax = (ushort)(ax & 0xFF0F);
        c.SetReg(0, 2, ax);
        c.SetStatus(AF | CF, adjust ? AF | CF : 0);
    }

    /// <summary>AAM imm8 (SDM Vol. 2A, AAM): AH = AL / imm8, AL = AL mod imm8; imm8 = 0 raises #DE. SF, ZF, PF from AL; OF, AF, CF undefined: unchanged.</summary>
    private static void Aam(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        byte imm = (byte)d.Imm;
        if (imm == 0) { c.Fault(ExceptionVector.DE); return; }
        byte al = (byte)c._gpr[0];
        byte q = (byte)(al / imm), r = (byte)(al % imm);
        c.SetReg(0, 2, (ushort)((q << 8) | r));
        c.SetBcdFlags(r, false, false, ZF | SF | PF);
    }

    /// <summary>AAD imm8 (SDM Vol. 2A, AAD): AL = (AL + AH × imm8) AND FFh, AH = 0. SF, ZF, PF from AL; OF, AF, CF undefined: unchanged.</summary>
    private static void Aad(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        ushort ax = (ushort)c._gpr[0];
        byte al = (byte)((ax & 0xFF) + (ax >> 8) * (byte)d.Imm);
        c.SetReg(0, 2, al);
        c.SetBcdFlags(al, false, false, ZF | SF | PF);
    }

    /// <summary>SALC (undocumented 8086 opcode D6, listed by Iced): AL = CF ? FFh : 00h; flags unaffected; #UD in 64-bit mode.</summary>
    private static void Salc(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        c.SetReg(0, 1, c.GetCF() ? 0xFFUL : 0);
    }

    // ------------------------------------------------------------------ PUSHA/POPA, BOUND (SDM Vol. 2B, PUSHA; POPA; Vol. 2A, BOUND)

    /// <summary>
    /// PUSHA/PUSHAD: pushes AX, CX, DX, BX, the original SP, BP, SI, DI (variant = operand size).
    /// Every slot is segment-checked and translated for writing before any is written and SP moves
    /// only at the end, so a #SS or #PF leaves no partial state (SDM Vol. 3A, 6.5).
    /// </summary>
    private static void Pusha(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        int size = d.Cond;
        ulong sp = c.Sp();
        Span<ulong> lin = stackalloc ulong[8];
        for (int i = 0; i < 8; i++)
        {
            lin[i] = c.StackLin(sp - (ulong)((i + 1) * size), size);
            if ((c._signal & SignalFault) != 0) return; // the segment check recorded #SS(0)
        }
        for (int i = 0; i < 8; i++)
            if (!c.ProbeWrite(lin[i], size, stack: true)) return;
        for (int i = 0; i < 8; i++)
        {
            ulong v = i == 4 ? sp : c._gpr[i];
            if (!c.Write(lin[i], size, v, stack: true)) return;
        }
        c.SetSp(sp - (ulong)(8 * size));
    }

    /// <summary>
    /// POPA/POPAD: pops DI, SI, BP, (the SP image, discarded), BX, DX, CX, AX (variant = operand size).
    /// All eight slots are read before any register changes, so a fault leaves no partial state.
    /// </summary>
    private static void Popa(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        int size = d.Cond;
        Span<ulong> v = stackalloc ulong[8];
        for (int i = 0; i < 8; i++)
            if (!c.Peek(size, out v[i], (ulong)(i * size))) return;
        for (int i = 0; i < 8; i++)
            if (i != 3) c.SetReg(7 - i, size, v[i]);
        c.SetSp(c.Sp() + (ulong)(8 * size));
    }

    /// <summary>
    /// BOUND r16/r32, m16&amp;16 / m32&amp;32: #BR (vector 5, a fault, no error code) when the signed index is
    /// below the lower or above the upper bound; the register form is #UD; #UD in 64-bit mode. Flags unaffected.
    /// </summary>
    private static void Bound(Cpu c, ref DecodedInstruction d)
    {
        if (!c.Not64()) return;
        if ((d.Flags & DecodedFlags.MemB) == 0) { c.Fault(ExceptionVector.UD); return; }
        int size = d.Cond;
        ulong lin = c.ExtLin(ref d, 2 * size);
        if (!c.Read(lin, size, out ulong lo, IsStackOperand(ref d))) return;
        if (!c.Read((lin + (ulong)size) & c._linMask, size, out ulong hi, IsStackOperand(ref d))) return;
        long index = size == 2 ? (short)c.GetReg(d.Reg, 2) : (int)c.GetReg(d.Reg, 4);
        long lower = size == 2 ? (short)lo : (int)lo, upper = size == 2 ? (short)hi : (int)hi;
        if (index < lower || index > upper) c.Fault(ExceptionVector.BR);
    }

    // ------------------------------------------------------------------ ARPL, LAR, LSL, VERR, VERW (SDM Vol. 2A/2B)

    /// <summary>
    /// ARPL r/m16, r16: when the destination's RPL is below the source's, it is raised to it and ZF = 1,
    /// else ZF = 0 (other flags unaffected). #UD in real and virtual-8086 mode. The destination is
    /// written back in either case (a read-modify-write, so a read-only destination faults); the
    /// 32-bit register form changes only bits 15:0.
    /// </summary>
    private static void Arpl(Cpu c, ref DecodedInstruction d)
    {
        if (c.IsRealOrV86) { c.Fault(ExceptionVector.UD); return; }
        bool mem = (d.Flags & DecodedFlags.MemA) != 0;
        ulong lin = 0, dst;
        if (mem)
        {
            lin = c.ExtLin(ref d, 2);
            if (!c.Read(lin, 2, out dst, IsStackOperand(ref d))) return;
        }
        else dst = c.GetReg(d.Reg, 2);
        ulong src = c.GetReg(d.Reg2, 2);
        bool raise = (dst & 3) < (src & 3);
        if (raise) dst = (dst & 0xFFFC) | (src & 3);
        if (mem) { if (!c.Write(lin, 2, dst, IsStackOperand(ref d))) return; }
        else c.SetReg(d.Reg, 2, dst);
        c.SetStatus(ZF, raise ? ZF : 0);
    }

    /// <summary>The 16-bit selector operand of LAR/LSL/VERR/VERW: operand <paramref name="memFlag"/> in memory (read as 16 bits) or the low word of register <paramref name="reg"/>.</summary>
    private bool ReadSelectorOperand(ref DecodedInstruction d, DecodedFlags memFlag, int reg, out ushort sel)
    {
        sel = 0;
        if ((d.Flags & memFlag) != 0)
        {
            if (!Read(ExtLin(ref d, 2), 2, out ulong v, IsStackOperand(ref d))) return false;
            sel = (ushort)v;
        }
        else sel = (ushort)GetReg(reg, 2);
        return true;
    }

    /// <summary>
    /// Fetches the descriptor <paramref name="sel"/> names for LAR/LSL/VERR/VERW: <paramref name="found"/> is false
    /// (ZF = 0, no fault) for a null selector or an index beyond the GDT/LDT limit; a #PF on the table
    /// read is a real fault (returns false).
    /// </summary>
    private bool FetchForVerify(ushort sel, out ulong desc, out bool found)
    {
        desc = 0;
        found = false;
        if ((sel & 0xFFFC) == 0 || !InDescriptorTable(sel)) return true;
        if (!ReadDescriptor(sel, out desc, out _)) return false;
        found = true;
        return true;
    }

    /// <summary>
    /// In 64-bit mode system descriptors (LDT, TSS, call gate) are 16 bytes (SDM Vol. 3A, 3.5 and 5.8.3.1):
    /// the upper 8 bytes must lie inside the table and their type field (bits 12:8 of the high dword) must be 0,
    /// else the descriptor is not valid for LAR/LSL (ZF = 0). <paramref name="ok"/> gives the verdict.
    /// </summary>
    private bool CheckUpperHalf(ushort sel, out bool ok)
    {
        ok = false;
        if ((sel & 0xFFF8) == 0xFFF8) return true;
        ushort upper = (ushort)(((sel & 0xFFF8) + 8) | (sel & 4));
        if (!InDescriptorTable(upper)) return true;
        if (!ReadDescriptor(upper, out ulong hi, out _)) return false;
        ok = ((hi >> 40) & 0x1F) == 0;
        return true;
    }

    /// <summary>
    /// The type and privilege rules shared by LAR and LSL (SDM Vol. 2A, the tables of valid descriptor types on the LAR and LSL pages):
    /// code/data segments are valid, subject to DPL ≥ CPL and DPL ≥ RPL unless conforming code; system
    /// types per the page (outside IA-32e mode: LAR 1,2,3,4,5,9,B,C and LSL 1,2,3,9,B; in IA-32e mode:
    /// LAR 2,9,B,C and LSL 2,9,B, with 16-byte descriptors in 64-bit mode), subject to the same privilege check.
    /// Present is not checked. Returns false on a fault; <paramref name="valid"/> is the ZF result.
    /// </summary>
    private bool VerifyForLarLsl(ushort sel, bool lar, out ulong desc, out bool valid)
    {
        valid = false;
        desc = 0;
        if (IsRealOrV86) return Fault(ExceptionVector.UD);
        if (!FetchForVerify(sel, out desc, out bool found)) return false;
        if (!found) return true;
        int type = (int)(desc >> 40) & 0xF, dpl = (int)(desc >> 45) & 3, rpl = sel & 3;
        bool privileged = dpl >= _cpl && dpl >= rpl;
        if ((desc & (1UL << 44)) != 0)
        {
            bool conformingCode = (type & 0xC) == 0xC;
            valid = conformingCode || privileged;
            return true;
        }
        bool ia32e = (_efer & Efer.LMA) != 0;
        bool typeOk = ia32e
            ? type is 2 or 9 or 0xB || (lar && type == 0xC)
            : type is 1 or 2 or 3 or 9 or 0xB || (lar && type is 4 or 5 or 0xC);
        if (!typeOk || !privileged) return true;
        if (_codeBits == 64 && !CheckUpperHalf(sel, out typeOk)) return false;
        valid = typeOk;
        return true;
    }

    /// <summary>
    /// LAR r, r/m16 (variant = operand size): ZF = 1 and the destination = the descriptor's second dword
    /// masked by 00F0FF00h (32/64-bit operand size, zero-extended) or FF00h (16-bit) when the descriptor is
    /// valid and visible; else ZF = 0 and the destination is unchanged. Other flags unaffected.
    /// </summary>
    private static void Lar(Cpu c, ref DecodedInstruction d)
    {
        if (c.IsRealOrV86) { c.Fault(ExceptionVector.UD); return; }
        if (!c.ReadSelectorOperand(ref d, DecodedFlags.MemB, d.Reg2, out ushort sel)) return;
        if (!c.VerifyForLarLsl(sel, lar: true, out ulong desc, out bool valid)) return;
        if (valid)
        {
            uint hi = (uint)(desc >> 32);
            int size = d.Cond;
            c.SetReg(d.Reg, size == 8 ? 4 : size, size == 2 ? hi & 0xFF00 : hi & 0x00F0FF00);
        }
        c.SetStatus(ZF, valid ? ZF : 0);
    }

    /// <summary>
    /// LSL r, r/m16 (variant = operand size): ZF = 1 and the destination = the byte-granular segment limit
    /// (raw 20-bit limit, scaled to limit × 4096 + FFFh when G = 1; truncated to 16 bits for a 16-bit
    /// operand, zero-extended for 64-bit) when valid and visible; else ZF = 0, destination unchanged.
    /// </summary>
    private static void Lsl(Cpu c, ref DecodedInstruction d)
    {
        if (c.IsRealOrV86) { c.Fault(ExceptionVector.UD); return; }
        if (!c.ReadSelectorOperand(ref d, DecodedFlags.MemB, d.Reg2, out ushort sel)) return;
        if (!c.VerifyForLarLsl(sel, lar: false, out ulong desc, out bool valid)) return;
        if (valid)
        {
            uint limit = (uint)(desc & 0xFFFF) | (uint)((desc >> 32) & 0xF0000);
            if ((desc & (1UL << 55)) != 0) limit = (limit << 12) | 0xFFF;
            int size = d.Cond;
            c.SetReg(d.Reg, size == 8 ? 4 : size, limit);
        }
        c.SetStatus(ZF, valid ? ZF : 0);
    }

    /// <summary>
    /// VERR r/m16 (SDM Vol. 2B, VERR/VERW): ZF = 1 when the selector names a code or data segment
    /// (system descriptors never) that is readable (data always, code with R = 1) and visible at CPL and
    /// RPL (DPL ≥ both, not checked for conforming code). Null or out-of-table selectors: ZF = 0. #UD in real/V86 mode.
    /// </summary>
    private static void Verr(Cpu c, ref DecodedInstruction d) => c.Verify(ref d, write: false);

    /// <summary>VERW r/m16 (SDM Vol. 2B, VERR/VERW): ZF = 1 when the selector names a writable data segment with DPL ≥ CPL and DPL ≥ RPL; else ZF = 0. #UD in real/V86 mode.</summary>
    private static void Verw(Cpu c, ref DecodedInstruction d) => c.Verify(ref d, write: true);

    private void Verify(ref DecodedInstruction d, bool write)
    {
        if (IsRealOrV86) { Fault(ExceptionVector.UD); return; }
        if (!ReadSelectorOperand(ref d, DecodedFlags.MemA, d.Reg, out ushort sel)) return;
        if (!FetchForVerify(sel, out ulong desc, out bool found)) return;
        bool ok = false;
        if (found && (desc & (1UL << 44)) != 0)
        {
            int type = (int)(desc >> 40) & 0xF, dpl = (int)(desc >> 45) & 3;
            bool code = (type & 8) != 0, conforming = code && (type & 4) != 0;
            bool privileged = conforming || (dpl >= _cpl && dpl >= (sel & 3));
            bool access = write ? !code && (type & 2) != 0 : !code || (type & 2) != 0;
            ok = privileged && access;
        }
        SetStatus(ZF, ok ? ZF : 0);
    }
}
