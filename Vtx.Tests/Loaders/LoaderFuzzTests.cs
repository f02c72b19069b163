using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Loaders;
using Vtx.Memory;
using Xunit;

namespace Vtx.Tests.Loaders;

/// <summary>
/// Random and mutated images: every loader either loads them or throws
/// <see cref="InvalidImageException"/> — never an index, overflow or other host exception.
/// </summary>
public class LoaderFuzzTests
{
    /// <summary>One edit of an image: kind 0 byte, 1 u16, 2 u32, 3 u64 write; 4 truncate; 5 append.</summary>
    public readonly record struct Mutation(int Kind, int Position, ulong Value)
    {
        public override string ToString() => $"{Kind}@{Position}=0x{Value:X}";
    }

    private static readonly Func<byte[]>[] Bases =
    [
        ElfAndFlatLoaderTests.Good64,
        ElfAndFlatLoaderTests.Good32Two,
        () => MultibootHeader.ElfKernel(),
        () => MultibootHeader.ElfKernel(is64: true),
        () => MultibootHeader.AoutKernel(),
        () => MultibootHeader.AoutKernel(loadAddr: 0, prefix: 0, bodyLength: 0x40, bssExtra: 0x20),
        () => MultibootHeader.AoutKernel(loadEndZero: true),
    ];

    private static readonly Gen<ulong> Interesting = Gen.Frequency(
        (4, Gen.Elements(0UL, 1UL, 2UL, 3UL, 4UL, 0x7FUL, 0x80UL, 0xFFUL, 0xFFFFUL, 0x9000UL, 0x9FFFUL, 0xA0000UL, 0xFFFFFUL,
            0x100000UL, 0x101000UL, 0x1FFFFFUL, 0x200000UL, 0x7FFF_FFFFUL, 0x8000_0000UL, 0xFFFF_F000UL, 0xFFFF_FFFFUL,
            0x1_0000_0000UL, 0x7FFF_FFFF_FFFF_FFFFUL, 0x8000_0000_0000_0000UL, ulong.MaxValue, ulong.MaxValue - 0xF,
            0x1BADB002UL, 0x10000UL, 0x10003UL, 0x464C457FUL)),
        (2, Gen.Choose(0, 0x3000).Select(v => (ulong)v)),
        (2, Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue))
            .Select(t => ((ulong)(uint)t.Item1 << 32) | (uint)t.Item2)));

    private static readonly Gen<Mutation> AnyMutation =
        from kind in Gen.Frequency((3, Gen.Constant(0)), (2, Gen.Constant(1)), (5, Gen.Constant(2)), (3, Gen.Constant(3)),
                                   (1, Gen.Constant(4)), (1, Gen.Constant(5)))
        from pos in Gen.Frequency((6, Gen.Choose(0, 255)), (2, Gen.Choose(0, 0x400)), (1, Gen.Choose(0, 0x3000)))
        from value in Interesting
        select new Mutation(kind, pos, value);

    private static readonly Gen<(int Base, Mutation[] Mutations, bool FixChecksum)> MutatedImages =
        from b in Gen.Choose(0, Bases.Length - 1)
        from n in Gen.Choose(1, 6)
        from muts in Gen.ArrayOf(AnyMutation, n)
        from fix in Gen.Elements(false, true, true)
        select (b, muts, fix);

    private static byte[] Apply(byte[] image, IEnumerable<Mutation> mutations, bool fixChecksum)
    {
        var f = image;
        foreach (var m in mutations)
        {
            if (f.Length == 0) break;
            int p = m.Position % f.Length;
            switch (m.Kind)
            {
                case 0: f[p] = (byte)m.Value; break;
                case 1: if (p + 2 <= f.Length) BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(p), (ushort)m.Value); break;
                case 2: if (p + 4 <= f.Length) BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(p & ~3), (uint)m.Value); break;
                case 3: if ((p & ~3) + 8 <= f.Length) BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(p & ~3), m.Value); break;
                case 4: f = f[..p]; break;
                default: f = [.. f, .. new byte[(int)(m.Value % 0x2000)]]; break;
            }
        }
        if (fixChecksum)
        {
            // Re-seal every multiboot header so that the address-field checks are reached.
            for (int i = 0; i + 12 <= Math.Min(f.Length, 8192); i += 4)
                if (BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(i)) == MultibootHeader.Magic)
                {
                    uint flags = BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(i + 4));
                    BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(i + 8), unchecked(0u - MultibootHeader.Magic - flags));
                }
        }
        return f;
    }

    private static void LoadsOrRejects(Action load)
    {
        try { load(); }
        catch (InvalidImageException e) { Assert.False(string.IsNullOrWhiteSpace(e.Message)); }
    }

    private static void RunAllLoaders(PhysicalMemory ram, byte[] image)
    {
        LoadsOrRejects(() => ElfLoader.Load(ram, image));
        LoadsOrRejects(() => ElfLoader.Parse(image, ulong.MaxValue));
        LoadsOrRejects(() => MultibootLoader.Load(ram, image, new MultibootOptions
        {
            KernelName = "fuzz.elf",
            Arguments = "a b",
            Modules = [new MultibootModule(new byte[0x1800], "m0"), new MultibootModule(Array.Empty<byte>(), "empty")],
        }));
        LoadsOrRejects(() => FlatBinaryLoader.Load(ram, image, (ulong)image.Length * 0x97 % 0x20_1000));
    }

    /// <summary>
    /// The mutations are strong enough to matter: over a fixed-seed sample, the multiboot loader
    /// both loads images and rejects them for many distinct reasons.
    /// </summary>
    [Fact]
    public void MutationsReachManyDistinctOutcomes()
    {
        var ram = new PhysicalMemory(2UL << 20);
        var rng = new Random(1234);
        ulong[] values = [0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x100000, 0x9000, 0x1FFFFF, ulong.MaxValue, 3, 0x10003];
        int loaded = 0;
        var reasons = new HashSet<string>();
        for (int i = 0; i < 3000; i++)
        {
            var muts = Enumerable.Range(0, rng.Next(1, 3))
                .Select(_ => new Mutation(rng.Next(0, 4), rng.Next(0, 160), values[rng.Next(values.Length)]))
                .ToArray();
            var image = Apply(Bases[rng.Next(Bases.Length)](), muts, fixChecksum: true);
            try
            {
                MultibootLoader.Load(ram, image);
                loaded++;
            }
            catch (InvalidImageException e)
            {
                reasons.Add(new string(e.Message.TakeWhile(c => !char.IsDigit(c)).ToArray())); // the wording, not the numbers
            }
        }
        Assert.True(loaded > 100, $"only {loaded} mutated images loaded");
        Assert.True(reasons.Count >= 15, $"only {reasons.Count} distinct rejections: {string.Join(" | ", reasons)}");
    }

    [Property(MaxTest = 1500)]
    public Property MutatedImagesLoadOrThrowInvalidImageException()
    {
        var ram = new PhysicalMemory(2UL << 20);
        return Prop.ForAll(Arb.From(MutatedImages), t =>
            RunAllLoaders(ram, Apply(Bases[t.Base](), t.Mutations, t.FixChecksum)));
    }

    [Property(MaxTest = 500)]
    public Property RandomBytesLoadOrThrowInvalidImageException()
    {
        var ram = new PhysicalMemory(2UL << 20);
        var gen =
            from len in Gen.Frequency((3, Gen.Choose(0, 80)), (2, Gen.Choose(0, 600)))
            from bytes in Gen.ArrayOf(Gen.Frequency((3, Gen.Choose(0, 255)), (1, Gen.Elements(0, 0xFF, 0x7F, 0x45, 0x4C, 0x46, 1, 2))), len)
            from prefix in Gen.Elements(0, 1, 2, 3)
            select (bytes.Select(b => (byte)b).ToArray(), prefix);
        return Prop.ForAll(Arb.From(gen), t =>
        {
            var (bytes, prefix) = t;
            // Prefixes steer the bytes into the interesting paths: ELF32, ELF64, a multiboot header.
            byte[] image = prefix switch
            {
                1 when bytes.Length >= 7 => [0x7F, (byte)'E', (byte)'L', (byte)'F', 1, 1, 1, .. bytes[7..]],
                2 when bytes.Length >= 7 => [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, .. bytes[7..]],
                3 => [.. MultibootHeader.Build(BinaryPrimitives.ReadUInt32LittleEndian([.. bytes.Take(4), 0, 0, 0, 0]) & 0x1_0007), .. bytes],
                _ => bytes,
            };
            RunAllLoaders(ram, image);
        });
    }
}
