using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Iced.Intel;
using Vtx.Decoding;
using Vtx.Execution;

namespace Vtx;

// MMX and SSE-SSE4.2 integer, data-movement, logic, shuffle and string instructions (legacy
// encodings): the shared operand plumbing. Every handler follows one order so that a fault
// commits nothing: availability checks, source operand (memory read, alignment), then the
// result is computed in locals and written last (memory first, then registers, then the MMX
// state transition, as Bochs and the SDM's "operation" sections order them).
public sealed unsafe partial class Cpu
{
    /// <summary>Variant bit: the code operates on MMX registers (set by <see cref="SiReg"/> from Iced's operand kinds).</summary>
    private const byte SiMmx = 0x80;
    /// <summary>Variant bit: the 16-byte memory operand need not be aligned (MOVUPS, MOVDQU, LDDQU, PCMPxSTRx, ...).</summary>
    private const byte SiUnaligned = 0x40;
    /// <summary>Variant bits free for the handler (operation selector, element size, ...).</summary>
    private const byte SiSel = 0x3F;

    /// <summary>A 64- or 128-bit packed value as two little-endian quadwords (an MMX value uses <see cref="Lo"/> only).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SiVec
    {
        public ulong Lo, Hi;
        public SiVec(ulong lo, ulong hi) { Lo = lo; Hi = hi; }
    }

    /// <summary>The lanes of <paramref name="v"/> as elements of <typeparamref name="T"/> (all 16 bytes' worth).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Span<T> SiL<T>(ref SiVec v) where T : unmanaged =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<SiVec, T>(ref v), 16 / Unsafe.SizeOf<T>());

    /// <summary>Registers a code of this family; the MMX bit of the variant is derived from the operand kinds.</summary>
    private static void SiReg(InstructionTable t, Code code, delegate*<Cpu, ref DecodedInstruction, void> h, byte variant = 0)
    {
        if (SiIsMmxForm(code)) variant |= SiMmx;
        t.Add(code, h, variant);
    }

    /// <summary>True for a form with an MMX register operand and no XMM operand (MOVQ2DQ/MOVDQ2Q have both and handle themselves).</summary>
    private static bool SiIsMmxForm(Code code)
    {
        var info = code.ToOpCode();
        bool mm = false, xmm = false;
        for (int i = 0; i < info.OpCount; i++)
        {
            string k = info.GetOpKind(i).ToString();
            if (k.StartsWith("mm_", StringComparison.Ordinal)) mm = true;
            else if (k.StartsWith("xmm", StringComparison.Ordinal)) xmm = true;
        }
        return mm && !xmm;
    }

    static partial void RegisterSimdInteger(InstructionTable t)
    {
        RegisterSimdMove(t);
        RegisterSimdLogicArith(t);
        RegisterSimdShuffle(t);
        RegisterSimdString(t);
    }

    // ------------------------------------------------------------------ operand helpers

    /// <summary>Vector width in bytes of the instruction: 8 for MMX forms, 16 for XMM forms.</summary>
    private static int SiWidth(ref DecodedInstruction d) => (d.Cond & SiMmx) != 0 ? 8 : 16;

    /// <summary>
    /// Checks that the instruction may execute: LOCK raises #UD (SDM Vol. 2, 2.1.2), then the MMX
    /// (SDM Vol. 3A, Table 12-1: EM #UD, TS #NM, pending x87 exception #MF) or SSE checks
    /// (SDM Vol. 3A, 13.1.3 and Table 2-2: EM or !OSFXSR #UD, TS #NM; Vol. 2, 2.4 exception classes).
    /// </summary>
    private bool SiStart(ref DecodedInstruction d)
    {
        if ((d.Flags & DecodedFlags.Lock) != 0) return Fault(ExceptionVector.UD);
        return (d.Cond & SiMmx) != 0 ? MmxAvailable() : SseAvailable();
    }

    /// <summary>
    /// Reads the source operand B: an MMX/XMM register, or memory of the decoded size
    /// (<see cref="DecodedInstruction.OpSize"/>), zero-extended. A 16-byte legacy-SSE memory operand
    /// must be 16-byte aligned unless the code is registered <see cref="SiUnaligned"/> (SDM Vol. 1, 10.4.1.1 / 11.6.7).
    /// </summary>
    private bool SiSrc(ref DecodedInstruction d, out SiVec v)
    {
        if ((d.Flags & DecodedFlags.MemB) == 0)
        {
            v = (d.Cond & SiMmx) != 0 ? new SiVec(GetMm(d.Reg2), 0) : new SiVec(XmmLane(d.Reg2, 0), XmmLane(d.Reg2, 1));
            return true;
        }
        return SiLoad(ref d, d.OpSize, out v);
    }

    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4, 8 or 16) of the memory operand, zero-extended; 16 bytes are checked for alignment unless unaligned.</summary>
    private bool SiLoad(ref DecodedInstruction d, int size, out SiVec v)
    {
        v = default;
        ulong lin = ExtLin(ref d, size);
        bool stack = IsStackOperand(ref d);
        if (size == 16)
        {
            if ((d.Cond & SiUnaligned) == 0 && !CheckAligned(lin, 16)) return false;
            return Read128(lin, out v.Lo, out v.Hi, stack);
        }
        return Read(lin, size is 1 or 2 or 4 ? size : 8, out v.Lo, stack);
    }

    /// <summary>Writes <paramref name="size"/> bytes of <paramref name="v"/> to the memory operand (16 bytes: aligned unless unaligned, no partial write).</summary>
    private bool SiStore(ref DecodedInstruction d, int size, in SiVec v)
    {
        ulong lin = ExtLin(ref d, size);
        bool stack = IsStackOperand(ref d);
        if (size == 16)
        {
            if ((d.Cond & SiUnaligned) == 0 && !CheckAligned(lin, 16)) return false;
            return Write128(lin, v.Lo, v.Hi, stack);
        }
        return Write(lin, size, size == 8 ? v.Lo : v.Lo & ((1UL << (size * 8)) - 1), stack);
    }

    /// <summary>Register operand A (the destination) as a vector.</summary>
    private SiVec SiA(ref DecodedInstruction d) =>
        (d.Cond & SiMmx) != 0 ? new SiVec(GetMm(d.Reg), 0) : new SiVec(XmmLane(d.Reg, 0), XmmLane(d.Reg, 1));

    /// <summary>Commits the destination register A; for MMX forms this is where the x87-to-MMX transition happens (SDM Vol. 1, 9.5.1).</summary>
    private void SiSetA(ref DecodedInstruction d, in SiVec v)
    {
        if ((d.Cond & SiMmx) != 0) { EnterMmxState(); SetMm(d.Reg, v.Lo); }
        else { XmmLane(d.Reg, 0) = v.Lo; XmmLane(d.Reg, 1) = v.Hi; }
    }

    /// <summary>XMM register <paramref name="r"/> as a vector.</summary>
    private SiVec SiXmm(int r) => new(XmmLane(r, 0), XmmLane(r, 1));

    /// <summary>Writes XMM register <paramref name="r"/>.</summary>
    private void SiSetXmm(int r, in SiVec v) { XmmLane(r, 0) = v.Lo; XmmLane(r, 1) = v.Hi; }

    /// <summary>Sets the six status flags at once (PTEST, PCMPxSTRx); <paramref name="bits"/> holds CF/PF/AF/ZF/SF/OF in their RFLAGS positions.</summary>
    private void SiSetFlags(ulong bits) => SetStatus(StatusMask, bits);

    // ------------------------------------------------------------------ element-wise templates

    /// <summary>An element-wise binary operation: result = Op(destination element, source element).</summary>
    private interface ISiLane<T> where T : unmanaged
    {
        static abstract T Op(T a, T b);
    }

    /// <summary>dest[i] = Op(dest[i], src[i]) for every element of the MMX or XMM width.</summary>
    private static void SiLanewise<T, TOp>(Cpu c, ref DecodedInstruction d) where T : unmanaged where TOp : struct, ISiLane<T>
    {
        if (!c.SiStart(ref d) || !c.SiSrc(ref d, out SiVec b)) return;
        SiVec a = c.SiA(ref d);
        Span<T> x = SiL<T>(ref a), y = SiL<T>(ref b);
        int n = SiWidth(ref d) / Unsafe.SizeOf<T>();
        for (int i = 0; i < n; i++) x[i] = TOp.Op(x[i], y[i]);
        c.SiSetA(ref d, a);
    }

    /// <summary>Saturates a wide intermediate result to the element type (signed or unsigned by <typeparamref name="T"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T SiSat<T>(long v) where T : IBinaryInteger<T> => T.CreateSaturating(v);

    /// <summary>Widens an element to a long (sign- or zero-extended by <typeparamref name="T"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long SiW<T>(T v) where T : IBinaryInteger<T> => long.CreateTruncating(v);
}
