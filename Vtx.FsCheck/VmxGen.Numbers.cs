using FsCheck;
using FsCheck.Fluent;

namespace Vtx.Kit.Generators;

/// <summary>
/// FsCheck generators for VMX property tests on Vtx (<see cref="Vtx.Kit"/>): numbers over their full range,
/// VMCS control sets, guest states that pass VM entry or fail exactly one named check, event schedules and
/// small guest programs. Each generator is a <see cref="Gen{T}"/>; <see cref="VmxArbitraries"/> exposes them as
/// <see cref="Arbitrary{T}"/> instances for <c>[Property(Arbitrary = new[] { typeof(VmxArbitraries) })]</c>.
/// </summary>
/// <remarks>
/// Integer values are drawn from the whole range of their field, mixed with the special values VMX treats
/// differently (0, 1, all ones, powers of two, canonical boundaries), never from FsCheck's default near-zero sizes.
/// </remarks>
public static partial class VmxGen
{
    /// <summary>Any 32-bit value: uniformly over the full range, or a special value (0, 1, all ones, a power of two, a power of two minus one).</summary>
    public static Gen<uint> UInt32 { get; } = Gen.Frequency(
        (6, Gen.Choose(int.MinValue, int.MaxValue).Select(x => unchecked((uint)x))),
        (1, Gen.Elements(0u, 1u, 0xFFFF_FFFFu, 0x8000_0000u, 0x7FFF_FFFFu)),
        (2, Gen.Choose(0, 31).Select(b => 1u << b)),
        (1, Gen.Choose(0, 31).Select(b => (1u << b) - 1)));

    /// <summary>Any 64-bit value: uniformly over the full range, or a special value (0, all ones, a power of two, a power of two minus one).</summary>
    public static Gen<ulong> UInt64 { get; } = Gen.Frequency(
        (6, from hi in Gen.Choose(int.MinValue, int.MaxValue) from lo in Gen.Choose(int.MinValue, int.MaxValue)
            select (ulong)unchecked((uint)hi) << 32 | unchecked((uint)lo)),
        (1, Gen.Elements(0UL, 1UL, ulong.MaxValue, 1UL << 63)),
        (2, Gen.Choose(0, 63).Select(b => 1UL << b)),
        (1, Gen.Choose(0, 63).Select(b => (1UL << b) - 1)));

    /// <summary>A value below 2^<paramref name="bits"/> (1-64): full range over those bits, plus 0 and the maximum.</summary>
    public static Gen<ulong> Bits(int bits)
    {
        if (bits is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(bits));
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        return Gen.Frequency((8, UInt64.Select(v => v & mask)), (1, Gen.Constant(0UL)), (1, Gen.Constant(mask)));
    }

    /// <summary>
    /// A canonical address at 48 bits (so canonical at 57 bits too: bits 63:47 equal), over the whole
    /// lower and upper halves, with the boundaries 0, 7FFF_FFFF_FFFFh, FFFF_8000_0000_0000h and all ones (SDM Vol. 1, 3.3.7.1).
    /// </summary>
    public static Gen<ulong> Canonical { get; } = Gen.Frequency(
        (8, Bits(48).Select(v => (v & (1UL << 47)) != 0 ? v | 0xFFFF_0000_0000_0000 : v)),
        (1, Gen.Elements(0UL, 0x7FFF_FFFF_FFFFUL, 0xFFFF_8000_0000_0000UL, ulong.MaxValue)));

    /// <summary>
    /// An address that is not canonical at 57 bits (so not at 48 either: bits 63:56 are not all equal to bit 56),
    /// over the whole range, with the values just past each canonical boundary (SDM Vol. 1, 3.3.7.1).
    /// </summary>
    public static Gen<ulong> NonCanonical { get; } = Gen.Frequency(
        (8, UInt64.Where(v => !IsCanonical(v, 57))),
        (1, Gen.Elements(0x0100_0000_0000_0000UL, 0xFEFF_FFFF_FFFF_FFFFUL, 0x8000_0000_0000_0000UL, 0x7FFF_FFFF_FFFF_FFFFUL)));

    /// <summary>True if <paramref name="address"/> is canonical at <paramref name="width"/> bits: bits 63:width-1 all equal.</summary>
    public static bool IsCanonical(ulong address, int width) => (ulong)((long)(address << (64 - width)) >> (64 - width)) == address;

    /// <summary>A value with at least one bit set among <paramref name="mask"/> and no bit outside it: full range over the mask, and each single bit.</summary>
    public static Gen<ulong> NonzeroIn(ulong mask)
    {
        if (mask == 0) throw new ArgumentException("empty mask", nameof(mask));
        var bits = Enumerable.Range(0, 64).Where(b => (mask >> b & 1) != 0).Select(b => 1UL << b).ToArray();
        return Gen.Frequency((3, UInt64.Select(v => v & mask).Where(v => v != 0)), (2, Gen.Elements(bits)), (1, Gen.Constant(mask)));
    }
}
