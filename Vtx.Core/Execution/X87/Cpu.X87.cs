using System.Runtime.CompilerServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;
using Vtx.Float;

namespace Vtx;

// x87 FPU: the common machinery every x87 handler uses (SDM Vol. 1, chapter 8): register stack and
// tags, the waiting/non-waiting entry checks (#NM, pending #MF), exception flag merging and the
// masked/unmasked responses (8.5), stack faults (8.5.1.1), and the last-instruction pointers (8.1.8, 8.1.9).
public sealed unsafe partial class Cpu
{
    // FSW bits (SDM Vol. 1, Figure 8-4); TOP lives in _fpuTop.
    private const ushort FswIE = 0x0001, FswDE = 0x0002, FswZE = 0x0004, FswOE = 0x0008, FswUE = 0x0010, FswPE = 0x0020;
    private const ushort FswSF = 0x0040, FswES = 0x0080, FswC0 = 0x0100, FswC1 = 0x0200, FswC2 = 0x0400, FswC3 = 0x4000, FswB = 0x8000;
    private const ushort FswCC = FswC0 | FswC1 | FswC2 | FswC3;

    /// <summary>Exceptions detected before the operation (SDM Vol. 1, 8.5): unmasked, the register destination is left unchanged and nothing is pushed or popped.</summary>
    private const FpExceptions X87PreComputation = FpExceptions.Invalid | FpExceptions.Denormal | FpExceptions.ZeroDivide;
    /// <summary>Exceptions that, unmasked, also keep a memory destination unwritten (SDM Vol. 1, 8.5.4-8.5.6 and the FST/FIST/FBSTP pages).</summary>
    private const FpExceptions X87MemoryAbort = X87PreComputation | FpExceptions.Overflow | FpExceptions.Underflow;

    // ------------------------------------------------------------------ stack and tags (SDM Vol. 1, 8.1.2, 8.1.7)

    /// <summary>ST(<paramref name="i"/>) by reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Float80 St(int i) => ref _fpr[(_fpuTop + i) & 7];

    /// <summary>True when ST(<paramref name="i"/>) is tagged empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool StEmpty(int i) => ((_fpuEmpty >> ((_fpuTop + i) & 7)) & 1) != 0;

    /// <summary>Writes ST(<paramref name="i"/>) and tags it non-empty.</summary>
    private void SetSt(int i, Float80 v)
    {
        int r = (_fpuTop + i) & 7;
        _fpr[r] = v;
        _fpuEmpty &= (byte)~(1 << r);
    }

    /// <summary>TOP - 1, then ST(0) = <paramref name="v"/> (the caller checked for overflow).</summary>
    private void X87Push(Float80 v)
    {
        _fpuTop = (_fpuTop - 1) & 7;
        SetSt(0, v);
    }

    /// <summary>Tags ST(0) empty, then TOP + 1.</summary>
    private void X87Pop()
    {
        _fpuEmpty |= (byte)(1 << _fpuTop);
        _fpuTop = (_fpuTop + 1) & 7;
    }

    /// <summary>Sets C1 to <paramref name="on"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetC1(bool on) => _fpuStatus = (ushort)((_fpuStatus & ~FswC1) | (on ? FswC1 : 0));

    /// <summary>The 2-bit tag of physical register <paramref name="r"/> computed from its contents (SDM Vol. 1, 8.1.7): 00 valid, 01 zero, 10 special, 11 empty.</summary>
    private int X87Tag(int r)
    {
        if (((_fpuEmpty >> r) & 1) != 0) return 3;
        Float80 v = _fpr[r];
        int e = v.Exponent;
        if (e == 0) return v.Significand == 0 ? 1 : 2;          // zero; denormal or pseudo-denormal: special
        if (e == 0x7FFF) return 2;                                // infinity, NaN, pseudo-NaN/infinity
        return (v.Significand >> 63) != 0 ? 0 : 2;                // unnormal: special (unsupported)
    }

    /// <summary>The full tag word (FSTENV/FSAVE image, SDM Vol. 1, Figure 8-7): tag of Ri in bits 2i+1:2i.</summary>
    private ushort X87TagWord()
    {
        int w = 0;
        for (int r = 0; r < 8; r++) w |= X87Tag(r) << (2 * r);
        return (ushort)w;
    }

    // ------------------------------------------------------------------ entry checks

    /// <summary>
    /// The checks every x87 instruction makes before executing (SDM Vol. 3A, Table 2-2 and 2.5;
    /// Vol. 1, 8.3.12 and 8.6): LOCK -> #UD; CR0.EM or CR0.TS -> #NM; then, for a waiting
    /// instruction, a pending unmasked exception (FSW.ES = 1) -> #MF when CR0.NE = 1.
    /// </summary>
    /// <remarks>
    /// CR0.NE = 0 selects the legacy ("MS-DOS compatible") reporting: the processor asserts FERR#,
    /// and with IGNNE# deasserted it would stop before the waiting instruction until the external
    /// interrupt FERR# drives (IRQ13 through an interrupt controller) arrives (SDM Vol. 3A, 2.5 "NE";
    /// Vol. 1, 8.7 and Appendix D). Vtx models no FERR#/IGNNE# pins, so it behaves as a platform
    /// that keeps IGNNE# asserted: the error is ignored, the waiting instruction executes, and the
    /// exception stays pending (FSW.ES stays 1) until software clears it (FNCLEX, FNINIT, FLDENV...).
    /// </remarks>
    private bool X87Enter(ref DecodedInstruction d, bool waiting)
    {
        if ((d.Flags & DecodedFlags.Lock) != 0) return Fault(ExceptionVector.UD);
        if (!X87Available()) return false;
        if (waiting && (_fpuStatus & FswES) != 0 && (_cr0 & Cr0.NE) != 0) return Fault(ExceptionVector.MF);
        return true;
    }

    /// <summary>
    /// Entry of the assembler's two-instruction waiting forms that Iced decodes as one (9B + FNxxx,
    /// e.g. FINIT, FSTSW, FSTENV): first the WAIT (#NM only when CR0.MP = 1 and CR0.TS = 1, then a
    /// pending #MF), then the non-waiting instruction's own #NM (CR0.EM or CR0.TS).
    /// </summary>
    private bool X87EnterWaitPrefixed(ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.Lock) != 0) return Fault(ExceptionVector.UD);
        if (!WaitChecks()) return false;
        return X87Available();
    }

    /// <summary>WAIT/FWAIT (SDM Vol. 2A "WAIT/FWAIT", Vol. 3A Table 2-2): #NM when MP = 1 and TS = 1; then a pending unmasked exception -> #MF (CR0.NE = 1).</summary>
    private bool WaitChecks()
    {
        if ((_cr0 & (Cr0.MP | Cr0.TS)) == (Cr0.MP | Cr0.TS)) return Fault(ExceptionVector.NM);
        if ((_fpuStatus & FswES) != 0 && (_cr0 & Cr0.NE) != 0) return Fault(ExceptionVector.MF);
        return true;
    }

    // ------------------------------------------------------------------ pointers (SDM Vol. 1, 8.1.8, 8.1.9)

    /// <summary>
    /// Records the last non-control instruction: FIP/FCS = this instruction's address (its first
    /// prefix), FOP = its 11-bit opcode; for a memory operand FDP/FDS = the operand's offset and
    /// segment selector. Called once the instruction can no longer fault (memory faults leave the
    /// FPU state unchanged).
    /// </summary>
    private void X87SetPointers(ref DecodedInstruction d)
    {
        _fpuOpcode = (ushort)(d.Imm & 0x7FF);
        _fpuIp = _rip;
        _fpuCs = _seg[1].Selector;
        if (d.HasMemory)
        {
            _fpuDp = Ea(ref d);
            _fpuDs = _seg[d.Segment].Selector;
        }
    }

    // ------------------------------------------------------------------ exceptions (SDM Vol. 1, 8.4, 8.5)

    /// <summary>The soft-float environment FCW describes.</summary>
    private FpEnv X87Env() => FpEnv.FromX87ControlWord(_fpuControl);

    /// <summary>
    /// ORs the exception flags <paramref name="f"/> into FSW; any unmasked one also sets ES and B
    /// (SDM Vol. 1, 8.1.3.2). Returns false when an unmasked exception of <paramref name="abortOn"/>
    /// is among them: the destination must then not be written.
    /// </summary>
    private bool X87Merge(FpExceptions f, FpExceptions abortOn)
    {
        if (f == 0) return true;
        _fpuStatus |= (ushort)(f & FpExceptions.All);
        FpExceptions unmasked = f & ~(FpExceptions)(_fpuControl & 0x3F) & FpExceptions.All;
        if (unmasked == 0) return true;
        _fpuStatus |= FswES | FswB;
        return (unmasked & abortOn) == 0;
    }

    /// <summary>
    /// The end of a register-result arithmetic instruction: C1 = rounded up, then the flags merged with
    /// <see cref="X87PreComputation"/> aborting; an abort (unmasked IE/DE/ZE) leaves C1 = 0 and the caller writes nothing.
    /// </summary>
    private bool X87MergeRounded(in FpEnv env)
    {
        SetC1(env.RoundedUp);
        if (X87Merge(env.Flags, X87PreComputation)) return true;
        SetC1(false);
        return false;
    }

    /// <summary>
    /// A stack fault (SDM Vol. 1, 8.5.1.1): IE and SF set, C1 = 1 for overflow, 0 for underflow.
    /// Returns true when IE is masked (the caller applies the masked response: the QNaN floating-point
    /// indefinite as the result); unmasked, ES and B are set and the caller changes nothing else.
    /// </summary>
    private bool X87StackFault(bool overflow)
    {
        _fpuStatus = (ushort)((_fpuStatus & ~FswC1) | FswIE | FswSF | (overflow ? FswC1 : 0));
        if ((_fpuControl & 1) != 0) return true;
        _fpuStatus |= FswES | FswB;
        return false;
    }

    // ------------------------------------------------------------------ memory helpers

    /// <summary>Reads a 10-byte operand.</summary>
    private bool ReadF80(ulong lin, out Float80 v, bool stack)
    {
        v = default;
        if (!Read(lin, 8, out ulong lo, stack) || !Read((lin + 8) & _linMask, 2, out ulong hi, stack)) return false;
        v = new Float80(lo, (ushort)hi);
        return true;
    }

    /// <summary>Writes a 10-byte operand (both parts checked for writability first).</summary>
    private bool WriteF80(ulong lin, Float80 v, bool stack)
    {
        if (!ProbeWrite(lin, 10, stack)) return false;
        return Write(lin, 8, v.Significand, stack) && Write((lin + 8) & _linMask, 2, v.SignExponent, stack);
    }

    // ------------------------------------------------------------------ registration

    static partial void RegisterX87(InstructionTable t)
    {
        RegisterX87Data(t);
        RegisterX87Arith(t);
        RegisterX87Control(t);
        RegisterX87Transcendental(t);
    }

    static partial void RegisterX87Transcendental(InstructionTable t);
}
