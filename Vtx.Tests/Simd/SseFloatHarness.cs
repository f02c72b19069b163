using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Float;
using Vtx.Tests.Core;
using Vtx.Tests.Support;
using Xunit;

namespace Vtx.Tests.Simd;

/// <summary>Runs one SSE floating-point instruction in a flat 64-bit machine, and generates operands.</summary>
internal static class SseFloatHarness
{
    /// <summary>Where memory operands live (RAX points here in the tests).</summary>
    public const ulong Data = 0x3000;

    public static byte[] Code(Action<Assembler> insn) => Guest.Assemble(a => { insn(a); a.hlt(); });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> Assembled = new();

    /// <summary><see cref="Code"/>, assembled once per <paramref name="key"/> (properties run the same forms many times).</summary>
    public static byte[] Code(string key, Action<Assembler> insn) => Assembled.GetOrAdd(key, _ => Code(insn));

    /// <summary>Loads <paramref name="code"/>, applies <paramref name="setup"/>, runs one instruction.</summary>
    public static (Machine M, RunResult R) Exec(byte[] code, Action<Machine> setup)
    {
        var m = CoreHarness.Load(code);
        m.Cpu[Gpr.Rax] = Data;
        setup(m);
        var r = m.Run(RunLimits.Instructions(1));
        return (m, r);
    }

    public static void AssertRetired(RunResult r) =>
        Assert.True(r.Reason == StopReason.InstructionLimit && r.Instructions == 1, "instruction did not retire: " + r);

    public static void AssertFault(RunResult r, ExceptionVector v, uint? error = null)
    {
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(new FaultInfo(v, error), r.Fault);
        Assert.Equal(Guest.CodeBase, r.Rip);
        Assert.Equal(0UL, r.Instructions);
    }

    public static UInt128 Pack32(uint e0, uint e1, uint e2, uint e3) =>
        new(((ulong)e3 << 32) | e2, ((ulong)e1 << 32) | e0);

    public static uint Lane32(UInt128 v, int i) => (uint)(v >> (32 * i));
    public static ulong Lane64(UInt128 v, int i) => (ulong)(v >> (64 * i));

    public static byte[] Bytes(UInt128 v)
    {
        var b = new byte[16];
        BitConverter.TryWriteBytes(b.AsSpan(0, 8), (ulong)v);
        BitConverter.TryWriteBytes(b.AsSpan(8, 8), (ulong)(v >> 64));
        return b;
    }

    // ------------------------------------------------------------------ generators

    private static Gen<uint> Bits32 => Gen.Choose(int.MinValue, int.MaxValue).Select(i => (uint)i);

    /// <summary>Notable binary32 values: ±0, denormal edges, min/max normal, ±1, ±inf, QNaN, SNaN, values near 2^24 and 2^31.</summary>
    public static readonly uint[] Special32 =
    {
        0x0000_0000, 0x8000_0000, 0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x807F_FFFF, 0x0080_0000, 0x8080_0000,
        0x7F7F_FFFF, 0xFF7F_FFFF, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0000,
        0x7FC1_2345, 0x7F80_0001, 0xFFA0_0000, 0x3F00_0000, 0x3FC0_0000, 0x4B80_0000, 0x4EFF_FFFF, 0x4F00_0000,
        0xCF00_0000, 0xCF00_0001, 0x5F00_0000, 0xDF00_0000, 0x5EFF_FFFF, 0x3F7F_FFFF, 0x0040_0000, 0x3400_0000,
    };

    /// <summary>Notable binary64 values (the binary32 list's counterparts, plus 2^31/2^63 edges).</summary>
    public static readonly ulong[] Special64 =
    {
        0, 0x8000_0000_0000_0000, 1, 0x8000_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000, 0x8010_0000_0000_0000,
        0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF, 0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x7FF0_0000_0000_0000,
        0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF0_0000_0000_0001, 0xFFF4_0000_0000_0000,
        0x7FF8_0000_1234_5678, 0x41DF_FFFF_FFC0_0000, 0x41DF_FFFF_FFE0_0000, 0x41E0_0000_0000_0000, 0xC1E0_0000_0000_0000,
        0xC1E0_0000_0010_0000, 0xC1E0_0000_0020_0000, 0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000, 0x43DF_FFFF_FFFF_FFFF,
        0x3FE0_0000_0000_0000, 0x3FF8_0000_0000_0000, 0x36A0_0000_0000_0000, 0x47EF_FFFF_E000_0000, 0x3810_0000_0000_0000,
        0x380F_FFFF_F000_0000, 0x3690_0000_0000_0000,
    };

    /// <summary>binary32 operands: full range, special values, values of moderate exponent, denormals, range edges.</summary>
    public static Gen<uint> F32 { get; } = Gen.Frequency(
        (4, Bits32),
        (3, Gen.Elements(Special32)),
        (4, Gen.Zip(Bits32, Gen.Choose(127 - 30, 127 + 30)).Select(t => (t.Item1 & 0x807F_FFFF) | ((uint)t.Item2 << 23))),
        (1, Bits32.Select(v => v & 0x807F_FFFF)),
        (1, Gen.Zip(Bits32, Gen.Elements(1, 2, 24, 25, 230, 252, 253, 254)).Select(t => (t.Item1 & 0x807F_FFFF) | ((uint)t.Item2 << 23))));

    private static Gen<ulong> Bits64 => Gen.Zip(Bits32, Bits32).Select(t => ((ulong)t.Item1 << 32) | t.Item2);

    /// <summary>binary64 operands, as <see cref="F32"/>.</summary>
    public static Gen<ulong> F64 { get; } = Gen.Frequency(
        (4, Bits64),
        (3, Gen.Elements(Special64)),
        (4, Gen.Zip(Bits64, Gen.Choose(1023 - 60, 1023 + 60)).Select(t => (t.Item1 & 0x800F_FFFF_FFFF_FFFF) | ((ulong)t.Item2 << 52))),
        (1, Bits64.Select(v => v & 0x800F_FFFF_FFFF_FFFF)),
        (1, Gen.Zip(Bits64, Gen.Elements(1, 2, 53, 54, 896, 897, 1150, 2045, 2046)).Select(t => (t.Item1 & 0x800F_FFFF_FFFF_FFFF) | ((ulong)t.Item2 << 52))));

    /// <summary>MXCSR control settings with all exceptions masked: any rounding mode, DAZ, FTZ (flags clear).</summary>
    public static Gen<uint> MaskedMxcsr { get; } =
        from rc in Gen.Choose(0, 3)
        from daz in Gen.Elements(false, false, true)
        from ftz in Gen.Elements(false, false, true)
        select 0x1F80u | ((uint)rc << 13) | (daz ? 0x40u : 0) | (ftz ? 0x8000u : 0);

    /// <summary>MXCSR with random exception masks too (mostly masked, each exception sometimes unmasked).</summary>
    public static Gen<uint> AnyMxcsr { get; } =
        from x in MaskedMxcsr
        from masks in Gen.Choose(0, 63)
        from keep in Gen.Elements(true, false)
        select keep ? x : (x & ~0x1F80u) | ((uint)masks << 7);

    public static Gen<UInt128> Vec32 { get; } = Gen.Zip(Gen.Zip(F32, F32), Gen.Zip(F32, F32))
        .Select(t => Pack32(t.Item1.Item1, t.Item1.Item2, t.Item2.Item1, t.Item2.Item2));

    public static Gen<UInt128> Vec64 { get; } = Gen.Zip(F64, F64).Select(t => new UInt128(t.Item2, t.Item1));

    /// <summary>The flags an instruction with <paramref name="raised"/> leaves in MXCSR and whether it faults (SDM Vol. 1, 11.5.2.1).</summary>
    public static (uint Mxcsr, bool Faults) Outcome(uint mxcsr, FpExceptions raised)
    {
        var masks = (FpExceptions)((mxcsr >> 7) & 0x3F);
        var pre = raised & (FpExceptions.Invalid | FpExceptions.Denormal | FpExceptions.ZeroDivide);
        if ((pre & ~masks) != 0) return (mxcsr | (uint)pre, true);
        return (mxcsr | (uint)raised, (raised & ~masks) != 0);
    }
}
