using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vtx.Float;

namespace Vtx;

public sealed partial class Cpu
{
    // ---------------------------------------------------------------- x87 FPU (SDM Vol. 1, 8.1)
    // Physical data registers R0..R7; ST(i) is R[(TOP + i) & 7]. MMX register MMi aliases the
    // significand of Ri (SDM Vol. 1, 9.2.1).
    internal readonly Float80[] _fpr = new Float80[8];
    internal ushort _fpuControl = 0x0040;  // FCW (RESET value; FNINIT gives 037Fh)
    internal ushort _fpuStatus;            // FSW without TOP (bits 13:11 kept 0 here)
    internal int _fpuTop;                  // TOP, 0..7
    internal byte _fpuEmpty;               // abridged tag: bit i = 1 when Ri is empty (RESET: all valid)
    internal ushort _fpuOpcode;            // FOP: the last non-control instruction's opcode, 11 bits
    internal ulong _fpuIp, _fpuDp;         // FIP / FDP: offsets (64-bit in 64-bit mode)
    internal ushort _fpuCs, _fpuDs;        // FCS / FDS selectors

    // ---------------------------------------------------------------- SSE (SDM Vol. 1, 10.2)
    /// <summary>Number of 64-bit lanes kept per vector register (2 = XMM; the stride grows for YMM/ZMM).</summary>
    internal const int VecLanes = 2;
    internal readonly ulong[] _xmm = new ulong[16 * VecLanes];
    internal uint _mxcsr = MxcsrReset;

    /// <summary>MXCSR after RESET and INIT (all exceptions masked, round to nearest).</summary>
    internal const uint MxcsrReset = 0x1F80;

    /// <summary>MXCSR bits this processor implements (MXCSR_MASK: FZ, RC, masks, DAZ, flags = FFFFh).</summary>
    public const uint MxcsrMask = 0xFFFF;

    /// <summary>Lane <paramref name="lane"/> (0 = bits 63:0) of XMM register <paramref name="reg"/>, by reference, no checks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref ulong XmmLane(int reg, int lane) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_xmm), (reg & 15) * VecLanes + (lane & 1));

    /// <summary>XMM register <paramref name="reg"/> as 16 bytes, by reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Span<byte> XmmBytes(int reg) => MemoryMarshal.AsBytes(_xmm.AsSpan((reg & 15) * VecLanes, 2));

    /// <summary>
    /// x87 and SSE state after power-up or RESET (SDM Vol. 3A, Table 10-1): FCW 0040h, FSW 0, every
    /// tag 01b (zero: all registers valid), data registers +0, FIP/FDP/FOP 0, MXCSR 1F80h, XMM 0.
    /// (INIT leaves them unchanged.)
    /// </summary>
    private void ResetFpuState()
    {
        Array.Clear(_fpr);
        _fpuControl = 0x0040;
        _fpuStatus = 0;
        _fpuTop = 0;
        _fpuEmpty = 0;
        _fpuOpcode = 0;
        _fpuIp = _fpuDp = 0;
        _fpuCs = _fpuDs = 0;
        Array.Clear(_xmm);
        _mxcsr = MxcsrReset;
    }

    /// <summary>
    /// The x87/SSE set-up an operating system gives a program (used by <see cref="SetFlatMode"/>):
    /// the FNINIT state (FCW 037Fh, all registers empty) and MXCSR 1F80h.
    /// </summary>
    private void InitFpuForPrograms()
    {
        X87Reset();
        _mxcsr = MxcsrReset;
    }

    /// <summary>Reads XMM register <paramref name="index"/> (0..15), bits 127:0.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not 0..15.</exception>
    public UInt128 GetXmm(int index)
    {
        CheckXmm(index);
        return new UInt128(XmmLane(index, 1), XmmLane(index, 0));
    }

    /// <summary>Writes XMM register <paramref name="index"/> (0..15).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not 0..15.</exception>
    public void SetXmm(int index, UInt128 value)
    {
        CheckXmm(index);
        XmmLane(index, 0) = (ulong)value;
        XmmLane(index, 1) = (ulong)(value >> 64);
    }

    private static void CheckXmm(int index)
    {
        if ((uint)index > 15) throw new ArgumentOutOfRangeException(nameof(index), index, "XMM registers are numbered 0..15");
    }

    /// <summary>
    /// MXCSR (SDM Vol. 1, 10.2.3): flags (5:0), DAZ (6), masks (12:7), rounding control (14:13),
    /// flush-to-zero (15). Writing a reserved bit (31:16) throws, as LDMXCSR would raise #GP.
    /// </summary>
    /// <exception cref="ArgumentException">A bit outside <see cref="MxcsrMask"/> is set.</exception>
    public uint Mxcsr
    {
        get => _mxcsr;
        set
        {
            if ((value & ~MxcsrMask) != 0) throw new ArgumentException($"MXCSR value {value:X8}h sets reserved bits (MXCSR_MASK = {MxcsrMask:X4}h)", nameof(value));
            _mxcsr = value;
        }
    }

    /// <summary>x87 control word FCW (SDM Vol. 1, 8.1.5).</summary>
    public ushort FpuControlWord { get => _fpuControl; set => _fpuControl = (ushort)(value | 0x0040); } // bit 6 reads as 1

    /// <summary>x87 status word FSW with TOP in bits 13:11 (SDM Vol. 1, 8.1.3).</summary>
    public ushort FpuStatusWord
    {
        get => (ushort)((_fpuStatus & ~0x3800) | (_fpuTop << 11));
        set { _fpuStatus = (ushort)(value & ~0x3800); _fpuTop = (value >> 11) & 7; }
    }

    /// <summary>Abridged x87 tag word (FXSAVE format): bit i = 1 when physical register Ri holds a value.</summary>
    public byte FpuAbridgedTag { get => (byte)~_fpuEmpty; set => _fpuEmpty = (byte)~value; }

    /// <summary>Physical x87 data register R<paramref name="index"/> (0..7), whatever TOP is.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not 0..7.</exception>
    public Float80 GetFpuRegister(int index)
    {
        if ((uint)index > 7) throw new ArgumentOutOfRangeException(nameof(index), index, "x87 registers are numbered 0..7");
        return _fpr[index];
    }

    /// <summary>Writes physical x87 data register R<paramref name="index"/> (0..7); the tag is unchanged.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not 0..7.</exception>
    public void SetFpuRegister(int index, Float80 value)
    {
        if ((uint)index > 7) throw new ArgumentOutOfRangeException(nameof(index), index, "x87 registers are numbered 0..7");
        _fpr[index] = value;
    }
}
