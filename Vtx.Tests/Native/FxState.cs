using System.Buffers.Binary;
using System.Text;

namespace Vtx.Tests.Native;

/// <summary>
/// The x87, MMX and SSE state exchanged with the native oracle, kept as the 512-byte image FXSAVE64/FXRSTOR64 use in
/// 64-bit mode (SDM Vol. 1, 10.5.1, Table 10-2 "Format of an FXSAVE Area in 64-bit Mode" with REX.W = 1).
/// </summary>
/// <remarks>
/// Layout: FCW @0, FSW @2 (TOP in bits 13:11), abridged FTW @4 (bit i = physical register Ri holds a value), FOP @6,
/// FIP (64-bit) @8, FDP (64-bit) @16, MXCSR @24, MXCSR_MASK @28, ST(i) in stack order (10 bytes each) @32 + 16i,
/// XMM0-15 @160 + 16i. Bytes 416..511 are reserved/available to software and never interpreted here.
/// </remarks>
public sealed class FxState
{
    /// <summary>Size of an FXSAVE area.</summary>
    public const int Size = 512;

    /// <summary>FCW after FNINIT: all six exceptions masked, 64-bit precision, round to nearest (SDM Vol. 1, 8.1.5).</summary>
    public const ushort FninitControl = 0x037F;

    /// <summary>MXCSR after RESET: all exceptions masked, round to nearest, FTZ/DAZ off (SDM Vol. 1, 10.2.3).</summary>
    public const uint DefaultMxcsr = 0x1F80;

    /// <summary>The MXCSR exception mask bits (12:7); the oracle requires all of them set on input.</summary>
    public const uint MxcsrMasks = 0x1F80;

    /// <summary>The FCW exception mask bits (5:0); the oracle requires all of them set on input.</summary>
    public const ushort FcwMasks = 0x003F;

    /// <summary>The raw 512-byte image.</summary>
    public byte[] Image { get; }

    /// <summary>Creates the FNINIT state (FCW 037Fh, FSW 0, all registers empty, pointers 0) with MXCSR 1F80h and XMM0-15 zero.</summary>
    public FxState()
    {
        Image = new byte[Size];
        Fcw = FninitControl;
        Mxcsr = DefaultMxcsr;
    }

    /// <summary>Wraps a copy of a 512-byte FXSAVE image.</summary>
    public FxState(ReadOnlySpan<byte> image)
    {
        if (image.Length != Size) throw new ArgumentException($"an FXSAVE image has {Size} bytes, got {image.Length}", nameof(image));
        Image = image.ToArray();
    }

    /// <summary>x87 control word (SDM Vol. 1, 8.1.5).</summary>
    public ushort Fcw { get => U16(0); set => W16(0, value); }

    /// <summary>x87 status word including TOP in bits 13:11 (SDM Vol. 1, 8.1.3).</summary>
    public ushort Fsw { get => U16(2); set => W16(2, value); }

    /// <summary>TOP (FSW bits 13:11).</summary>
    public int Top { get => (Fsw >> 11) & 7; set => Fsw = (ushort)((Fsw & ~0x3800) | ((value & 7) << 11)); }

    /// <summary>Abridged tag word: bit i = 1 when physical register Ri is not empty (SDM Vol. 1, 10.5.1.1).</summary>
    public byte Ftw { get => Image[4]; set => Image[4] = value; }

    /// <summary>Last x87 non-control instruction opcode, 11 bits (SDM Vol. 1, 8.1.9).</summary>
    public ushort Fop { get => U16(6); set => W16(6, value); }

    /// <summary>Last x87 non-control instruction pointer (64-bit offset in the FXSAVE64 format).</summary>
    public ulong Fip { get => BinaryPrimitives.ReadUInt64LittleEndian(Image.AsSpan(8)); set => BinaryPrimitives.WriteUInt64LittleEndian(Image.AsSpan(8), value); }

    /// <summary>Last x87 data pointer (64-bit offset in the FXSAVE64 format).</summary>
    public ulong Fdp { get => BinaryPrimitives.ReadUInt64LittleEndian(Image.AsSpan(16)); set => BinaryPrimitives.WriteUInt64LittleEndian(Image.AsSpan(16), value); }

    /// <summary>MXCSR (SDM Vol. 1, 10.2.3).</summary>
    public uint Mxcsr { get => BinaryPrimitives.ReadUInt32LittleEndian(Image.AsSpan(24)); set => BinaryPrimitives.WriteUInt32LittleEndian(Image.AsSpan(24), value); }

    /// <summary>MXCSR_MASK as FXSAVE stores it (ignored by FXRSTOR).</summary>
    public uint MxcsrMask { get => BinaryPrimitives.ReadUInt32LittleEndian(Image.AsSpan(28)); set => BinaryPrimitives.WriteUInt32LittleEndian(Image.AsSpan(28), value); }

    /// <summary>ST(<paramref name="i"/>) (stack order, relative to TOP): 64-bit significand and 16-bit sign/exponent.</summary>
    public (ulong Significand, ushort SignExponent) GetSt(int i)
    {
        var s = Image.AsSpan(32 + 16 * (i & 7));
        return (BinaryPrimitives.ReadUInt64LittleEndian(s), BinaryPrimitives.ReadUInt16LittleEndian(s[8..]));
    }

    /// <summary>Writes ST(<paramref name="i"/>) (stack order); the 6 reserved bytes of the slot are cleared.</summary>
    public void SetSt(int i, ulong significand, ushort signExponent)
    {
        var s = Image.AsSpan(32 + 16 * (i & 7), 16);
        s.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(s, significand);
        BinaryPrimitives.WriteUInt16LittleEndian(s[8..], signExponent);
    }

    /// <summary>Physical register R<paramref name="r"/> (= ST((r - TOP) mod 8)).</summary>
    public (ulong Significand, ushort SignExponent) GetPhysical(int r) => GetSt((r - Top) & 7);

    /// <summary>Writes physical register R<paramref name="r"/> (= ST((r - TOP) mod 8)); set TOP first.</summary>
    public void SetPhysical(int r, ulong significand, ushort signExponent) => SetSt((r - Top) & 7, significand, signExponent);

    /// <summary>XMM register <paramref name="i"/> (0..15).</summary>
    public UInt128 GetXmm(int i)
    {
        var s = Image.AsSpan(160 + 16 * (i & 15));
        return new UInt128(BinaryPrimitives.ReadUInt64LittleEndian(s[8..]), BinaryPrimitives.ReadUInt64LittleEndian(s));
    }

    /// <summary>Writes XMM register <paramref name="i"/> (0..15).</summary>
    public void SetXmm(int i, UInt128 value)
    {
        var s = Image.AsSpan(160 + 16 * (i & 15));
        BinaryPrimitives.WriteUInt64LittleEndian(s, (ulong)value);
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], (ulong)(value >> 64));
    }

    /// <summary>Deep copy.</summary>
    public FxState Clone() => new(Image);

    /// <summary>Why this state cannot be loaded natively without risking an x87/SIMD exception (SIGFPE), or null when it can.</summary>
    public string? UnsafeReason(uint hostMxcsrMask)
    {
        if ((Mxcsr & ~hostMxcsrMask) != 0) return $"MXCSR {Mxcsr:X8}h sets bits outside the host MXCSR_MASK {hostMxcsrMask:X8}h (FXRSTOR would raise #GP)";
        if ((Mxcsr & MxcsrMasks) != MxcsrMasks) return $"MXCSR {Mxcsr:X8}h unmasks a SIMD exception";
        if ((Fcw & FcwMasks) != FcwMasks) return $"FCW {Fcw:X4}h unmasks an x87 exception";
        if ((Fsw & 0x0080) != 0) return $"FSW {Fsw:X4}h has ES set (a pending x87 exception)";
        return null;
    }

    /// <summary>Multi-line dump (FCW/FSW/FTW/pointers/MXCSR, the stack, XMM0-15) for assertion messages.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"FCW={Fcw:X4} FSW={Fsw:X4} (TOP={Top}) FTW={Ftw:X2} FOP={Fop:X3} FIP={Fip:X} FDP={Fdp:X} MXCSR={Mxcsr:X8}\n");
        for (int i = 0; i < 8; i++)
        {
            var (sig, se) = GetSt(i);
            int phys = (Top + i) & 7;
            sb.Append($"ST{i}=R{phys} {se:X4}:{sig:X16}{((Ftw >> phys & 1) == 0 ? " (empty)" : "")}");
            sb.Append(i % 2 == 1 ? '\n' : ' ');
        }
        for (int i = 0; i < 16; i++)
        {
            sb.Append($"XMM{i,-2}={GetXmm(i):X32}");
            sb.Append(i % 2 == 1 ? '\n' : ' ');
        }
        return sb.ToString();
    }

    private ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(Image.AsSpan(o));

    private void W16(int o, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Image.AsSpan(o), v);
}
