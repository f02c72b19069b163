using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

/// <summary>
/// The rest of the x86-64 baseline that is neither x87 nor SIMD arithmetic: fences, prefetches,
/// cache-line flushes, XLAT, the reserved-NOP space, CRC32 and MOVNTI.
/// </summary>
public sealed unsafe partial class Cpu
{
    static partial void RegisterBaseline(InstructionTable t)
    {
        // Fences: one in-order interpreter with no store buffer already orders every access, so they
        // only have their #UD rules (feature, LOCK). Iced gives the alternative ModRM encodings their own codes.
        t.Add(Code.Lfence, &ExecNoOperation);
        t.Add(Code.Lfence_E9, &ExecNoOperation);
        t.Add(Code.Lfence_EA, &ExecNoOperation);
        t.Add(Code.Lfence_EB, &ExecNoOperation);
        t.Add(Code.Lfence_EC, &ExecNoOperation);
        t.Add(Code.Lfence_ED, &ExecNoOperation);
        t.Add(Code.Lfence_EE, &ExecNoOperation);
        t.Add(Code.Lfence_EF, &ExecNoOperation);
        t.Add(Code.Mfence, &ExecNoOperation);
        t.Add(Code.Mfence_F1, &ExecNoOperation);
        t.Add(Code.Mfence_F2, &ExecNoOperation);
        t.Add(Code.Mfence_F3, &ExecNoOperation);
        t.Add(Code.Mfence_F4, &ExecNoOperation);
        t.Add(Code.Mfence_F5, &ExecNoOperation);
        t.Add(Code.Mfence_F6, &ExecNoOperation);
        t.Add(Code.Mfence_F7, &ExecNoOperation);
        t.Add(Code.Sfence, &ExecNoOperation);
        t.Add(Code.Sfence_F9, &ExecNoOperation);
        t.Add(Code.Sfence_FA, &ExecNoOperation);
        t.Add(Code.Sfence_FB, &ExecNoOperation);
        t.Add(Code.Sfence_FC, &ExecNoOperation);
        t.Add(Code.Sfence_FD, &ExecNoOperation);
        t.Add(Code.Sfence_FE, &ExecNoOperation);
        t.Add(Code.Sfence_FF, &ExecNoOperation);

        // Prefetch hints never fault, whatever the address (SDM Vol. 2B, PREFETCHh, PREFETCHW).
        t.Add(Code.Prefetchnta_m8, &ExecNoOperation);
        t.Add(Code.Prefetcht0_m8, &ExecNoOperation);
        t.Add(Code.Prefetcht1_m8, &ExecNoOperation);
        t.Add(Code.Prefetcht2_m8, &ExecNoOperation);
        t.Add(Code.Prefetch_m8, &ExecNoOperation);
        t.Add(Code.Prefetchw_m8, &ExecNoOperation);
        t.Add(Code.Prefetchreserved3_m8, &ExecNoOperation);
        t.Add(Code.Prefetchreserved4_m8, &ExecNoOperation);
        t.Add(Code.Prefetchreserved5_m8, &ExecNoOperation);
        t.Add(Code.Prefetchreserved6_m8, &ExecNoOperation);
        t.Add(Code.Prefetchreserved7_m8, &ExecNoOperation);
        // Hints in the reserved-NOP space this model does not enumerate: NOPs (see CpuModel.OffersAll).
        t.Add(Code.Cldemote_m8, &ExecNoOperation);
        t.Add(Code.Prefetchit0_m8, &ExecNoOperation);
        t.Add(Code.Prefetchit1_m8, &ExecNoOperation);

        // The reserved-NOP space (0F 0D and 0F 18-0F 1F forms no instruction claims): no operand is
        // accessed, nothing faults (SDM Vol. 2B, NOP; Table A-3 note on 0F 18-1F). 0F 1F /0 is Op.Nop.
        t.Add(Code.Reservednop_rm16_r16_0F0D, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F0D, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F0D, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F18, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F18, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F18, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F19, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F19, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F19, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F1A, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F1A, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F1A, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F1B, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F1B, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F1B, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F1C, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F1C, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F1C, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F1D, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F1D, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F1D, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F1E, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F1E, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F1E, &ExecNoOperation);
        t.Add(Code.Reservednop_rm16_r16_0F1F, &ExecNoOperation);
        t.Add(Code.Reservednop_rm32_r32_0F1F, &ExecNoOperation);
        t.Add(Code.Reservednop_rm64_r64_0F1F, &ExecNoOperation);

        t.Add(Code.Clflush_m8, &ExecClflush);
        t.Add(Code.Clflushopt_m8, &ExecClflush);
        t.Add(Code.Xlat_m8, &ExecXlat);

        // CRC32: variant = source size in bytes.
        t.Add(Code.Crc32_r32_rm8, &ExecCrc32, 1);
        t.Add(Code.Crc32_r64_rm8, &ExecCrc32, 1);
        t.Add(Code.Crc32_r32_rm16, &ExecCrc32, 2);
        t.Add(Code.Crc32_r32_rm32, &ExecCrc32, 4);
        t.Add(Code.Crc32_r64_rm64, &ExecCrc32, 8);

        t.Add(Code.Movnti_m32_r32, &ExecMovnti, 4);
        t.Add(Code.Movnti_m64_r64, &ExecMovnti, 8);
    }

    /// <summary>An instruction with no architectural effect once decoded (fences, prefetch hints, reserved NOPs).</summary>
    private static void ExecNoOperation(Cpu c, ref DecodedInstruction d) { }

    /// <summary>
    /// CLFLUSH/CLFLUSHOPT: no cache is modelled, so the only effect is the permission checking and faults
    /// of a byte load at the address (SDM Vol. 2A, CLFLUSH: segment checks, #PF as a read, no write and
    /// no A/D change beyond a read). The byte is not read, so a device register sees no access.
    /// </summary>
    private static void ExecClflush(Cpu c, ref DecodedInstruction d)
    {
        ulong lin = c.ExtLin(ref d, 1);
        if (c.SegmentFaulted) return;
        c.Translate(lin & c._linMask, Access.Read, out _, IsStackOperand(ref d));
    }

    /// <summary>
    /// XLAT/XLATB: AL = the byte at seg:[rBX + zero-extended AL], rBX at the address size, default
    /// segment DS with override (SDM Vol. 2B, XLAT). The decoder gives the segment and address size.
    /// </summary>
    private static void ExecXlat(Cpu c, ref DecodedInstruction d)
    {
        ulong ea = c._gpr[3] + (byte)c._gpr[0];
        ea = d.AddrSize switch { 2 => (ushort)ea, 4 => (uint)ea, _ => ea };
        ulong lin = c._segChecks ? c.SegLinChecked(d.Segment, ea, 1) : (c._segBase[d.Segment] + ea) & c._linMask;
        if (!c.Read(lin, 1, out ulong v, IsStackOperand(ref d))) return;
        c.SetReg(0, 1, v);
    }

    /// <summary>The CRC-32C polynomial 11EDC6F41h, bit-reflected (SDM Vol. 2A, CRC32).</summary>
    private const uint Crc32cReflected = 0x82F63B78;

    private static readonly uint[] Crc32cTable = BuildCrc32cTable();

    private static uint[] BuildCrc32cTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint r = i;
            for (int k = 0; k < 8; k++) r = (r & 1) != 0 ? (r >> 1) ^ Crc32cReflected : r >> 1;
            t[i] = r;
        }
        return t;
    }

    /// <summary>
    /// CRC32 r32/r64, r/m8/16/32/64: accumulates the CRC-32C of the source bytes (least significant
    /// first, reflected, no pre/post inversion) into the low 32 bits of the destination; the result is
    /// written as a 32-bit value (bits 63:32 of a 64-bit destination are cleared). Flags unchanged.
    /// A GPR instruction: no CR0/CR4 checks (SDM Vol. 2A, CRC32).
    /// </summary>
    private static void ExecCrc32(Cpu c, ref DecodedInstruction d)
    {
        int size = d.Cond;
        ulong src;
        if ((d.Flags & DecodedFlags.MemB) != 0)
        {
            if (!c.Read(c.ExtLin(ref d, size), size, out src, IsStackOperand(ref d))) return;
        }
        else src = c.GetReg(d.Reg2, size);
        uint crc = (uint)c._gpr[d.Reg & 15];
        uint[] table = Crc32cTable;
        for (int i = 0; i < size; i++)
        {
            crc = (crc >> 8) ^ table[(byte)(crc ^ src)];
            src >>= 8;
        }
        c._gpr[d.Reg & 15] = crc;
    }

    /// <summary>MOVNTI m32/m64, r: a store of the register (the non-temporal hint has no effect here; SDM Vol. 2B, MOVNTI).</summary>
    private static void ExecMovnti(Cpu c, ref DecodedInstruction d)
    {
        int size = d.Cond;
        c.Write(c.ExtLin(ref d, size), size, c.GetReg(d.Reg2, size), IsStackOperand(ref d));
    }
}
