using FsCheck;
using FsCheck.Fluent;

namespace Vtx.Tests.Differential;

/// <summary>FsCheck generators for register values, flags and immediates.</summary>
public static class Values
{
    /// <summary>Boundary values of every operand size: 0, 1, sign bits, maxima, all ones and their neighbours.</summary>
    public static readonly ulong[] Edges =
    [
        0, 1, 2, 3, 0x7F, 0x80, 0x81, 0xFE, 0xFF, 0x100,
        0x7FFF, 0x8000, 0x8001, 0xFFFE, 0xFFFF, 0x1_0000,
        0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0001,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001,
        0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFF,
        0xFFFF_FFFF_FFFF_FF80, 0xFFFF_FFFF_FFFF_8000, 0xFFFF_FFFF_8000_0000,
        0x0101_0101_0101_0101, 0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA,
    ];

    /// <summary>Uniform over the whole 64-bit range (unsized).</summary>
    public static readonly Gen<ulong> Uniform64 = ArbMap.Default.GeneratorFor<DoNotSize<ulong>>().Select(x => x.Item);

    /// <summary>
    /// Register values: mostly uniform 64-bit, mixed with edge values, edge values plus a small delta,
    /// small numbers and sign/zero-extended 8/16/32-bit values.
    /// </summary>
    public static readonly Gen<ulong> Value64 = Gen.Frequency(
        (10, Uniform64),
        (4, Gen.Elements(Edges)),
        (2, from e in Gen.Elements(Edges) from d in Gen.Choose(-3, 3) select e + (ulong)(long)d),
        (2, Gen.Choose(0, 64).Select(x => (ulong)x)),
        (2, from v in Uniform64
            from size in Gen.Elements(1, 2, 4)
            from signed in Gen.Elements(true, false)
            select signed ? Regs.SignExtend(v, size) : v & Regs.Mask(size)));

    /// <summary>Input flags: each of CF, PF, AF, ZF, SF, OF, DF independently 0 or 1.</summary>
    public static readonly Gen<ulong> Flags = Gen.Choose(0, 127).Select(bits =>
    {
        ulong f = 0;
        if ((bits & 1) != 0) f |= Layout.CF;
        if ((bits & 2) != 0) f |= Layout.PF;
        if ((bits & 4) != 0) f |= Layout.AF;
        if ((bits & 8) != 0) f |= Layout.ZF;
        if ((bits & 16) != 0) f |= Layout.SF;
        if ((bits & 32) != 0) f |= Layout.OF;
        if ((bits & 64) != 0) f |= Layout.DF;
        return f;
    });

    /// <summary>Shift/rotate counts: small counts around every operand width, plus any byte.</summary>
    public static readonly Gen<long> ShiftCount = Gen.Frequency(
        (6, Gen.Choose(0, 3)),
        (6, Gen.Choose(4, 33)),
        (4, Gen.Choose(34, 66)),
        (2, Gen.Choose(0, 255))).Select(x => (long)x);

    /// <summary>An immediate for <paramref name="size"/> bytes: edges and uniform values, as a signed value that fits.</summary>
    public static Gen<long> Immediate(int size, bool signExtended) =>
        Value64.Select(v =>
        {
            ulong m = Regs.Mask(size);
            v &= m;
            // Signed immediates are passed as their sign-extended value, unsigned ones as is.
            return signExtended ? (long)Regs.SignExtend(v, size) : (long)v;
        });

    /// <summary>Seeds for scratch/stack fill and for case-internal choices (FsCheck-generated, so replayable).</summary>
    public static readonly Gen<int> Seed = Gen.Choose(int.MinValue, int.MaxValue);
}
