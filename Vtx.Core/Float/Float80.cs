namespace Vtx.Float;

/// <summary>
/// An x87 double-extended-precision value (SDM Vol. 1, 4.2.2 and 8.2): a sign bit, a 15-bit biased
/// exponent (bias 16383) and a 64-bit significand whose bit 63 is the explicit integer bit. Every
/// bit pattern is representable, including the pseudo-denormals, pseudo-NaNs, pseudo-infinities and
/// unnormals that the x87 treats as unsupported (SDM Vol. 1, 8.2.2).
/// </summary>
/// <param name="Significand">The 64-bit significand, integer bit (J) in bit 63.</param>
/// <param name="SignExponent">Bit 15: sign; bits 14:0: the biased exponent.</param>
public readonly record struct Float80(ulong Significand, ushort SignExponent)
{
    /// <summary>The exponent bias of the format (16383).</summary>
    public const int Bias = 16383;

    /// <summary>The sign bit.</summary>
    public bool Sign => (SignExponent & 0x8000) != 0;

    /// <summary>The biased exponent (0..32767).</summary>
    public int Exponent => SignExponent & 0x7FFF;

    /// <summary>+0.0.</summary>
    public static Float80 Zero => new(0, 0);

    /// <summary>The QNaN floating-point indefinite (SDM Vol. 1, Table 4-3): sign 1, exponent all ones, significand C000_0000_0000_0000h.</summary>
    public static Float80 Indefinite => new(0xC000_0000_0000_0000, 0xFFFF);

    /// <summary>The 10-byte memory image (little-endian significand, then sign and exponent).</summary>
    public void WriteTo(Span<byte> dest)
    {
        if (dest.Length < 10) throw new ArgumentException("an 80-bit value needs 10 bytes", nameof(dest));
        BitConverter.TryWriteBytes(dest, Significand);
        BitConverter.TryWriteBytes(dest[8..], SignExponent);
    }

    /// <summary>Reads a 10-byte memory image.</summary>
    public static Float80 ReadFrom(ReadOnlySpan<byte> src)
    {
        if (src.Length < 10) throw new ArgumentException("an 80-bit value needs 10 bytes", nameof(src));
        return new Float80(BitConverter.ToUInt64(src), BitConverter.ToUInt16(src[8..]));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{SignExponent:X4}:{Significand:X16}";
}
