using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Float;
using Vtx.Tests.Core;
using Vtx.Tests.Support;
using Xunit;

namespace Vtx.Tests.Simd;

/// <summary>
/// A flat 64-bit machine holding a list of instructions, each in its own 16-byte slot followed by
/// HLT, so a property can run any of them many times without re-decoding (one machine per test).
/// </summary>
internal sealed class SimdRig
{
    /// <summary>16-byte aligned scratch data; RBX points here for the memory forms.</summary>
    public const ulong Data = 0x2_0000;

    public readonly Machine M;
    public Cpu Cpu => M.Cpu;

    public SimdRig(params Instruction[] instructions)
    {
        M = new Machine(new MachineOptions { MemoryMiB = 1, CodeSize = 64 });
        for (int k = 0; k < instructions.Length; k++)
        {
            var w = new Bytes();
            var enc = Encoder.Create(64, w);
            ulong rip = Guest.CodeBase + (ulong)k * 32;
            enc.Encode(instructions[k], rip);
            w.B.Add(0xF4); // HLT
            Assert.True(w.B.Count <= 32, "instruction too long for its slot");
            M.WriteMemory(rip, w.B.ToArray());
        }
        Cpu[Gpr.Rsp] = Guest.StackTop;
        Cpu[Gpr.Rbx] = Data;
    }

    /// <summary>Runs instruction <paramref name="k"/> once and returns the outcome.</summary>
    public RunResult Step(int k = 0)
    {
        Cpu.Rip = Guest.CodeBase + (ulong)k * 32;
        return M.Run(RunLimits.Instructions(1));
    }

    /// <summary>Runs instruction <paramref name="k"/> and asserts it retired without a fault.</summary>
    public void Ok(int k = 0, string? what = null)
    {
        var r = Step(k);
        Assert.True(r.Reason == StopReason.InstructionLimit && r.Fault is null, (what ?? "") + " did not complete: " + r);
    }

    /// <summary>Runs instruction <paramref name="k"/> and asserts it raised <paramref name="vector"/> without retiring.</summary>
    public void Faults(ExceptionVector vector, int k = 0, string? what = null)
    {
        var r = Step(k);
        Assert.True(r.Reason == StopReason.Exception && r.Fault?.Vector == vector, (what ?? "") + $" expected #{vector}, got " + r);
        Assert.Equal(Guest.CodeBase + (ulong)k * 32, Cpu.Rip);
    }

    /// <summary>Sets MMX register <paramref name="i"/> with a zero exponent, so the test sees the instruction write FFFFh.</summary>
    public void SetMm(int i, ulong v) => Cpu.SetFpuRegister(i, new Float80(v, 0));
    public ulong Mm(int i) => Cpu.GetFpuRegister(i).Significand;
    public ushort MmExp(int i) => Cpu.GetFpuRegister(i).SignExponent;

    public void W128(ulong at, UInt128 v)
    {
        var b = new byte[16];
        BitConverter.TryWriteBytes(b.AsSpan(0, 8), (ulong)v);
        BitConverter.TryWriteBytes(b.AsSpan(8, 8), (ulong)(v >> 64));
        M.WriteMemory(at, b);
    }

    public UInt128 R128(ulong at)
    {
        var b = M.ReadMemory(at, 16);
        return new UInt128(BitConverter.ToUInt64(b, 8), BitConverter.ToUInt64(b, 0));
    }

    public void W64(ulong at, ulong v) => M.WriteMemory(at, BitConverter.GetBytes(v));
    public ulong R64(ulong at) => BitConverter.ToUInt64(M.ReadMemory(at, 8), 0);

    private sealed class Bytes : CodeWriter
    {
        public readonly List<byte> B = new();
        public override void WriteByte(byte value) => B.Add(value);
    }

    // ------------------------------------------------------------------ instruction builders

    public static readonly MemoryOperand AtRbx = new(Register.RBX);

    public static Instruction I(Code c, Register a, Register b) => Instruction.Create(c, a, b);
    public static Instruction I(Code c, Register a, MemoryOperand m) => Instruction.Create(c, a, m);
    public static Instruction I(Code c, MemoryOperand m, Register b) => Instruction.Create(c, m, b);
    public static Instruction I(Code c, Register a, Register b, int imm) => Instruction.Create(c, a, b, imm);
    public static Instruction I(Code c, Register a, MemoryOperand m, int imm) => Instruction.Create(c, a, m, imm);
    public static Instruction I(Code c, MemoryOperand m, Register b, int imm) => Instruction.Create(c, m, b, imm);
    public static Instruction I(Code c, Register a, int imm) => Instruction.Create(c, a, imm);
    public static Instruction Mem(Code c, Register a, int disp) => Instruction.Create(c, a, new MemoryOperand(Register.RBX, disp));
}

/// <summary>Element access and construction for the reference models (written from the SDM pseudo-code, independent of Vtx).</summary>
internal static class SimdRef
{
    public static ulong Mask(int sz) => sz == 8 ? ulong.MaxValue : (1UL << (sz * 8)) - 1;

    /// <summary>Unsigned element <paramref name="i"/> of size <paramref name="sz"/> bytes.</summary>
    public static ulong U(UInt128 v, int sz, int i) => (ulong)(v >> (i * sz * 8)) & Mask(sz);

    /// <summary>Signed element.</summary>
    public static long S(UInt128 v, int sz, int i) => sz == 8 ? (long)U(v, sz, i) : (long)(U(v, sz, i) << (64 - sz * 8)) >> (64 - sz * 8);

    /// <summary>A vector of <paramref name="w"/>/<paramref name="sz"/> elements computed by <paramref name="f"/> (each truncated to the element size).</summary>
    public static UInt128 Map(int sz, int w, Func<int, long> f)
    {
        UInt128 r = 0;
        for (int i = 0; i < w / sz; i++) r |= (UInt128)((ulong)f(i) & Mask(sz)) << (i * sz * 8);
        return r;
    }

    public static long SatS(int sz, long v)
    {
        long max = (1L << (sz * 8 - 1)) - 1, min = -max - 1;
        return v > max ? max : v < min ? min : v;
    }

    public static long SatU(int sz, long v)
    {
        long max = (1L << (sz * 8)) - 1;
        return v > max ? max : v < 0 ? 0 : v;
    }

    public static UInt128 Low(UInt128 v, int w) => w == 16 ? v : v & ulong.MaxValue;

    public static string Hex(UInt128 v) => ((ulong)(v >> 64)).ToString("X16") + "_" + ((ulong)v).ToString("X16");

    // ------------------------------------------------------------------ generators

    private static readonly Gen<ulong> Random64 =
        Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue), (h, l) => ((ulong)(uint)h << 32) | (uint)l);

    /// <summary>Bytes drawn from the saturation and sign edges (00, 01, 7F, 80, FF) mixed with random bytes.</summary>
    private static readonly Gen<ulong> Edgy64 = Gen.Zip(Random64, Random64, (r, sel) =>
    {
        ulong v = 0;
        for (int i = 0; i < 8; i++)
        {
            ulong b = ((sel >> (i * 8)) & 7) switch { 0 => 0x00, 1 => 0x01, 2 => 0x7F, 3 => 0x80, 4 => 0xFF, _ => (r >> (i * 8)) & 0xFF };
            v |= b << (i * 8);
        }
        return v;
    });

    public static readonly Gen<ulong> Lane = Gen.Frequency((4, Random64), (3, Edgy64), (1, CoreHarness.Full64));

    /// <summary>Full-range 128-bit values with edge elements.</summary>
    public static readonly Gen<UInt128> V128 = Gen.Zip(Lane, Lane, (h, l) => new UInt128(h, l));

    /// <summary>Pairs of vectors, often sharing some bytes so that equal elements come up.</summary>
    public static readonly Gen<(UInt128 A, UInt128 B)> Pair = Gen.Frequency(
        (3, Gen.Zip(V128, V128, (a, b) => (a, b))),
        (2, Gen.Zip(Gen.Zip(V128, V128, (a, b) => (a, b)), V128, (p, m) =>
        {
            UInt128 bytes = 0;
            for (int i = 0; i < 16; i++) if (((ulong)(m >> (i * 8)) & 1) != 0) bytes |= (UInt128)0xFF << (i * 8);
            return (p.a, (p.a & bytes) | (p.b & ~bytes));
        })));

    public static readonly Gen<(UInt128 A, UInt128 B, UInt128 C)> Triple =
        Gen.Zip(Pair, V128, (p, c) => (p.A, p.B, c));

    public static void Check<T>(Gen<T> gen, Func<T, bool> property, int count = 60) =>
        Prop.ForAll(gen.ToArbitrary(), property).Check(Config.QuickThrowOnFailure.WithMaxTest(count));
}
