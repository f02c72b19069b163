using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

public sealed unsafe partial class Cpu
{
    // ------------------------------------------------------------------ the handler table

    /// <summary>The table of table-driven instructions (<see cref="Op.Ext"/>), built once from every family's registration.</summary>
    internal static readonly InstructionTable Ext = BuildExtTable();

    private static InstructionTable BuildExtTable()
    {
        var t = new InstructionTable();
        RegisterX87(t);
        RegisterSimdInteger(t);
        RegisterSseFloat(t);
        RegisterSimdState(t);
        RegisterBaseline(t);
        RegisterLegacy(t);
        return t;
    }

    // One registration per family, each in its own file: a code is modelled when it is registered.
    /// <summary>x87 FPU instructions (Execution/X87/).</summary>
    static partial void RegisterX87(InstructionTable t);
    /// <summary>MMX and SSE-SSE4.2 integer, move, shuffle, logic and string instructions (Execution/Simd/).</summary>
    static partial void RegisterSimdInteger(InstructionTable t);
    /// <summary>SSE-SSE4.1 floating-point arithmetic, comparison and conversion (Execution/Simd/).</summary>
    static partial void RegisterSseFloat(InstructionTable t);
    /// <summary>FXSAVE/FXRSTOR, XSAVE family, LDMXCSR/STMXCSR (Execution/State/).</summary>
    static partial void RegisterSimdState(InstructionTable t);
    /// <summary>Fences, prefetches, cache-line flushes, XLAT, reserved NOPs, CRC32 and the rest of the baseline.</summary>
    static partial void RegisterBaseline(InstructionTable t);
    /// <summary>Legacy integer and protection instructions: BCD adjust (DAA..AAD), SALC, PUSHA/POPA, BOUND, ARPL, LAR, LSL, VERR, VERW (Execution/Legacy/).</summary>
    static partial void RegisterLegacy(InstructionTable t);

    /// <summary>True when this processor executes <paramref name="code"/>: it has a handler and the model offers every CPUID feature Iced lists for it.</summary>
    internal bool ExtOffered(Code code) => Ext.Has(code) && Model.OffersAll(code);

    /// <summary>Resolves a fresh <see cref="Op.Ext"/> decoding: its variant, or #UD when not modelled or not offered.</summary>
    private void FinishExt(ref DecodedInstruction d)
    {
        if (!ExtOffered(d.Code)) { d.Op = Op.Invalid; return; }
        d.Cond = Ext.Variant(d.Code);
    }

    /// <summary>Runs a table-driven instruction (its code was resolved by <see cref="FinishExt"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ExecuteExt(ref DecodedInstruction d) => Ext.Handler(d.Code)(this, ref d);

    // ------------------------------------------------------------------ availability (SDM Vol. 3A, 2.5 and Table 13-?)

    /// <summary>
    /// x87 instructions: CR0.EM = 1 or CR0.TS = 1 raise #NM (SDM Vol. 3A, Table 2-2). The caller
    /// then checks for a pending unmasked x87 exception if the instruction is a waiting one.
    /// </summary>
    internal bool X87Available() => (_cr0 & (Cr0.EM | Cr0.TS)) == 0 || Fault(ExceptionVector.NM);

    /// <summary>
    /// SSE-SSE4.2 instructions (and the SSE-register forms of the state instructions): CR0.EM = 1
    /// or CR4.OSFXSR = 0 raise #UD; then CR0.TS = 1 raises #NM (SDM Vol. 3A, 13.1.3 and Table 2-2).
    /// </summary>
    internal bool SseAvailable()
    {
        if ((_cr0 & Cr0.EM) != 0 || (_cr4 & Cr4.OSFXSR) == 0) return Fault(ExceptionVector.UD);
        if ((_cr0 & Cr0.TS) != 0) return Fault(ExceptionVector.NM);
        return true;
    }

    /// <summary>
    /// MMX instructions: CR0.EM = 1 raises #UD, CR0.TS = 1 raises #NM, then a pending unmasked x87
    /// exception (FSW.ES = 1) raises #MF (SDM Vol. 3A, 12.?; MMX instructions are waiting instructions).
    /// </summary>
    internal bool MmxAvailable()
    {
        if ((_cr0 & Cr0.EM) != 0) return Fault(ExceptionVector.UD);
        if ((_cr0 & Cr0.TS) != 0) return Fault(ExceptionVector.NM);
        return (_fpuStatus & 0x80) == 0 || Fault(ExceptionVector.MF);
    }

    /// <summary>
    /// The x87-to-MMX transition every MMX instruction makes (SDM Vol. 1, 9.5.1): TOP = 0 and all
    /// tags valid. (EMMS instead empties the tags.)
    /// </summary>
    internal void EnterMmxState()
    {
        _fpuTop = 0;
        _fpuEmpty = 0;
    }

    /// <summary>MMX register <paramref name="reg"/> (0..7): the significand of physical register R<paramref name="reg"/>.</summary>
    internal ulong GetMm(int reg) => _fpr[reg & 7].Significand;

    /// <summary>Writes MMX register <paramref name="reg"/>: significand, and exponent/sign all ones (SDM Vol. 1, 9.5.1).</summary>
    internal void SetMm(int reg, ulong v) => _fpr[reg & 7] = new Float.Float80(v, 0xFFFF);

    // ------------------------------------------------------------------ memory operands of any size

    /// <summary>
    /// Linear address of the memory operand for an access of <paramref name="size"/> bytes (segment
    /// limit checks use that size, not <see cref="DecodedInstruction.OpSize"/>).
    /// </summary>
    internal ulong ExtLin(ref DecodedInstruction d, int size) =>
        _segChecks ? SegLinChecked(d.Segment, Ea(ref d), size) : (_segBase[d.Segment] + Ea(ref d)) & _linMask;

    /// <summary>True when the memory operand is a stack reference (SS: #SS instead of #GP for non-canonical addresses).</summary>
    internal static bool IsStackOperand(ref DecodedInstruction d) => d.Segment == 2;

    /// <summary>Alignment rule of legacy SSE 16-byte operands: a misaligned address raises #GP(0) (SDM Vol. 1, 10.4.1.1).</summary>
    internal bool CheckAligned(ulong lin, int alignment) => (lin & (ulong)(alignment - 1)) == 0 || FaultGp0();

    /// <summary>Reads 16 bytes at <paramref name="lin"/> (any alignment; faults leave no state change).</summary>
    internal bool Read128(ulong lin, out ulong lo, out ulong hi, bool stack = false)
    {
        hi = 0;
        return Read(lin, 8, out lo, stack) && Read((lin + 8) & _linMask, 8, out hi, stack);
    }

    /// <summary>Writes 16 bytes at <paramref name="lin"/>: both halves are checked for writability before either is written.</summary>
    internal bool Write128(ulong lin, ulong lo, ulong hi, bool stack = false)
    {
        if (!ProbeWrite(lin, 16, stack)) return false;
        return Write(lin, 8, lo, stack) && Write((lin + 8) & _linMask, 8, hi, stack);
    }

    /// <summary>Reads <paramref name="dest"/>.Length bytes at <paramref name="lin"/> (every page translated first).</summary>
    internal bool ReadBlock(ulong lin, Span<byte> dest, bool stack = false)
    {
        int i = 0;
        for (; i + 8 <= dest.Length; i += 8)
        {
            if (!Read((lin + (ulong)i) & _linMask, 8, out ulong v, stack)) return false;
            BitConverter.TryWriteBytes(dest[i..], v);
        }
        for (; i < dest.Length; i++)
        {
            if (!Read((lin + (ulong)i) & _linMask, 1, out ulong v, stack)) return false;
            dest[i] = (byte)v;
        }
        return true;
    }

    /// <summary>Writes <paramref name="src"/> at <paramref name="lin"/>: every page is checked for writability before any byte is written.</summary>
    internal bool WriteBlock(ulong lin, ReadOnlySpan<byte> src, bool stack = false)
    {
        if (!ProbeWrite(lin, src.Length, stack)) return false;
        int i = 0;
        for (; i + 8 <= src.Length; i += 8)
            if (!Write((lin + (ulong)i) & _linMask, 8, BitConverter.ToUInt64(src[i..]), stack)) return false;
        for (; i < src.Length; i++)
            if (!Write((lin + (ulong)i) & _linMask, 1, src[i], stack)) return false;
        return true;
    }

    /// <summary>
    /// Translates every page of [<paramref name="lin"/>, +<paramref name="size"/>) for writing, so a
    /// multi-part store faults before it writes anything (SDM Vol. 3A, 6.5: faults leave no partial result).
    /// </summary>
    internal bool ProbeWrite(ulong lin, int size, bool stack = false)
    {
        if (size <= 0) return true;
        ulong first = lin & ~0xFFFUL, last = ((lin + (ulong)size - 1) & _linMask) & ~0xFFFUL;
        if (first == last) return Translate(lin & _linMask, Access.Write, out _, stack);
        for (ulong p = lin; ; p = ((p & ~0xFFFUL) + 0x1000) & _linMask)
        {
            if (!Translate(p & _linMask, Access.Write, out _, stack)) return false;
            if ((p & ~0xFFFUL) == last) return true;
        }
    }
}
