using Iced.Intel;

namespace Vtx.Fuzz;

/// <summary>The ways the fuzzer writes guest code.</summary>
public enum CodeStyle
{
    /// <summary>Uniformly random bytes.</summary>
    RandomBytes,
    /// <summary>Instructions built from prefix runs (66/67/F2/F3/segment/LOCK/REX), escape bytes, ModRM and random tails.</summary>
    PrefixBiased,
    /// <summary>A stream of valid instructions: random bytes decoded by Iced, each valid one re-encoded by Iced's encoder.</summary>
    ValidStream,
}

/// <summary>Guest-code generators.</summary>
public static class CodeGen
{
    private static readonly byte[] Prefixes = [0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0xF0];

    /// <summary>Writes <paramref name="code"/>.Length bytes of guest code for <paramref name="bits"/>-bit mode, to run at <paramref name="address"/>.</summary>
    public static void Generate(ref Rng rng, CodeStyle style, int bits, ulong address, Span<byte> code)
    {
        switch (style)
        {
            case CodeStyle.RandomBytes:
                rng.Fill(code);
                break;
            case CodeStyle.PrefixBiased:
                PrefixBiased(ref rng, bits, code);
                break;
            default:
                ValidStream(ref rng, bits, address, code);
                break;
        }
    }

    private static void PrefixBiased(ref Rng rng, int bits, Span<byte> code)
    {
        int i = 0;
        while (i < code.Length)
        {
            int prefixes = rng.Below(5);
            for (int p = 0; p < prefixes && i < code.Length; p++) code[i++] = rng.Pick(Prefixes);
            if (bits == 64 && rng.Chance(40) && i < code.Length) code[i++] = (byte)(0x40 | rng.Below(16));
            if (rng.Chance(35) && i < code.Length)
            {
                code[i++] = 0x0F;
                if (rng.Chance(20) && i < code.Length) code[i++] = rng.Pick<byte>(0x38, 0x3A);
            }
            int tail = 1 + rng.Below(7); // opcode, ModRM, SIB/displacement/immediate bytes
            for (int t = 0; t < tail && i < code.Length; t++) code[i++] = (byte)rng.Next();
        }
    }

    private static void ValidStream(ref Rng rng, int bits, ulong address, Span<byte> code)
    {
        Span<byte> random = stackalloc byte[16];
        var writer = new SpanWriter(code.Length);
        int attempts = 0;
        while (writer.Length < code.Length - 15 && attempts++ < code.Length * 4)
        {
            rng.Fill(random);
            var decoder = Decoder.Create(bits, new ByteArrayCodeReader(random.ToArray()), address + (ulong)writer.Length);
            decoder.Decode(out Instruction ins);
            if (ins.IsInvalid) continue;
            var encoder = Encoder.Create(bits, writer);
            int before = writer.Length;
            if (!encoder.TryEncode(ins, address + (ulong)before, out _, out _)) writer.Truncate(before);
        }
        writer.CopyTo(code);
        // Whatever is left is filled with random bytes (the stream's end is reached only by a jump).
        if (writer.Length < code.Length) rng.Fill(code[writer.Length..]);
    }

    /// <summary>A code writer into a bounded buffer.</summary>
    private sealed class SpanWriter(int capacity) : CodeWriter
    {
        private readonly byte[] _buf = new byte[capacity + 32];
        public int Length { get; private set; }
        public override void WriteByte(byte value) { if (Length < _buf.Length) _buf[Length++] = value; }
        public void Truncate(int length) => Length = length;
        public void CopyTo(Span<byte> dest) => _buf.AsSpan(0, Math.Min(Length, dest.Length)).CopyTo(dest);
    }
}
