using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Float;
using Vtx.Tests.Support;
using Xunit;

namespace Vtx.Tests.X87;

/// <summary>
/// Guest-program helpers for the x87 tests and an independent reference model: exact rational
/// values of double-extended numbers and correct rounding of a rational to p significand bits under
/// each rounding mode (SDM Vol. 1, 4.8.4), written with BigInteger only.
/// </summary>
internal static class X87Harness
{
    /// <summary>Data area of the guest programs (RBX points here).</summary>
    public const ulong Data = 0x20000;

    public static readonly Float80 One = new(0x8000_0000_0000_0000, 0x3FFF);
    public static readonly Float80 Indefinite = new(0xC000_0000_0000_0000, 0xFFFF);

    /// <summary>A 64-bit flat machine with <paramref name="body"/> + HLT at the code base, RBX = <see cref="Data"/>.</summary>
    public static Machine Load(Action<Assembler> body, Action<Machine>? setup = null, bool hlt = true)
    {
        var code = Guest.Assemble(a => { body(a); if (hlt) a.hlt(); });
        var m = new Machine(new MachineOptions { MemoryMiB = 1, CodeSize = 64 });
        m.WriteMemory(Guest.CodeBase, code);
        m.Cpu.Rip = Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Guest.StackTop;
        m.Cpu[Gpr.Rbx] = Data;
        setup?.Invoke(m);
        return m;
    }

    /// <summary>Runs to HLT (asserting it halted).</summary>
    public static Machine Exec(Action<Assembler> body, Action<Machine>? setup = null)
    {
        var m = Load(body, setup);
        var r = m.Run(RunLimits.Instructions(10_000));
        Assert.True(r.Reason == StopReason.Halted, "guest did not halt: " + r);
        return m;
    }

    public static void WriteF80(Machine m, ulong at, Float80 v)
    {
        var b = new byte[10];
        v.WriteTo(b);
        m.WriteMemory(at, b);
    }

    public static Float80 ReadF80(Machine m, ulong at) => Float80.ReadFrom(m.ReadMemory(at, 10));
    public static void W16(Machine m, ulong at, ushort v) => m.WriteMemory(at, BitConverter.GetBytes(v));
    public static void W32(Machine m, ulong at, uint v) => m.WriteMemory(at, BitConverter.GetBytes(v));
    public static void W64(Machine m, ulong at, ulong v) => m.WriteMemory(at, BitConverter.GetBytes(v));
    public static ushort R16(Machine m, ulong at) => BitConverter.ToUInt16(m.ReadMemory(at, 2));
    public static uint R32(Machine m, ulong at) => BitConverter.ToUInt32(m.ReadMemory(at, 4));
    public static ulong R64(Machine m, ulong at) => BitConverter.ToUInt64(m.ReadMemory(at, 8));

    /// <summary>TOP from the status word.</summary>
    public static int Top(Cpu c) => (c.FpuStatusWord >> 11) & 7;

    /// <summary>ST(i) read through the host API.</summary>
    public static Float80 St(Cpu c, int i) => c.GetFpuRegister((Top(c) + i) & 7);

    /// <summary>True when ST(i) is tagged empty.</summary>
    public static bool StEmpty(Cpu c, int i) => ((c.FpuAbridgedTag >> ((Top(c) + i) & 7)) & 1) == 0;

    public const ushort IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32, SF = 64, ES = 0x80, C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, B = 0x8000;

    // ------------------------------------------------------------------ reference model

    /// <summary>Exact value of a finite x87 value as numerator / 2^shift (denominator a power of two).</summary>
    public static (BigInteger Num, BigInteger Den) Exact(Float80 v)
    {
        int e = v.Exponent == 0 ? 1 : v.Exponent;     // denormals: exponent 1 - bias, no implicit bit
        BigInteger n = v.Significand;
        if (v.Sign) n = -n;
        int scale = e - 16383 - 63;
        return scale >= 0 ? (n << scale, BigInteger.One) : (n, BigInteger.One << -scale);
    }

    /// <summary>Exact value of a binary64.</summary>
    public static (BigInteger Num, BigInteger Den) Exact(double d)
    {
        long bits = BitConverter.DoubleToInt64Bits(d);
        int e = (int)((bits >> 52) & 0x7FF);
        BigInteger m = bits & 0xF_FFFF_FFFF_FFFF;
        if (e != 0) m += BigInteger.One << 52; else e = 1;
        if (bits < 0) m = -m;
        int scale = e - 1023 - 52;
        return scale >= 0 ? (m << scale, BigInteger.One) : (m, BigInteger.One << -scale);
    }

    /// <summary>
    /// Rounds the nonzero rational <paramref name="num"/>/<paramref name="den"/> to
    /// <paramref name="p"/> significand bits under <paramref name="rc"/> (0 nearest-even, 1 down,
    /// 2 up, 3 toward zero) as a normal double-extended value (the caller keeps results in the
    /// normal range). Also reports inexactness and whether the magnitude was rounded up.
    /// </summary>
    public static Float80 Round(BigInteger num, BigInteger den, int p, int rc, out bool inexact, out bool roundedUp)
    {
        if (den.Sign < 0) { num = -num; den = -den; }
        bool neg = num.Sign < 0;
        BigInteger a = BigInteger.Abs(num);
        // Find k with 2^(p-1) <= a/den * 2^k < 2^p.
        int k = (int)(den.GetBitLength() - a.GetBitLength()) + p - 1;
        BigInteger n = k >= 0 ? a << k : a, d = k >= 0 ? den : den << -k;
        while (n >= d << p) { d <<= 1; k--; }
        while (n < d << (p - 1)) { n <<= 1; k++; }
        BigInteger m = BigInteger.DivRem(n, d, out BigInteger rem);
        inexact = !rem.IsZero;
        bool up = false;
        if (inexact)
        {
            int cmp = (rem * 2).CompareTo(d);
            up = rc switch
            {
                0 => cmp > 0 || (cmp == 0 && !m.IsEven),
                1 => neg,
                2 => !neg,
                _ => false,
            };
        }
        roundedUp = up;
        if (up) m += 1;
        if (m == BigInteger.One << p) { m >>= 1; k--; }
        int exp = p - 1 - k + 16383;
        Assert.InRange(exp, 1, 0x7FFE);
        ulong sig = (ulong)(m << (64 - p));
        return new Float80(sig, (ushort)(exp | (neg ? 0x8000 : 0)));
    }

    // ------------------------------------------------------------------ generators

    /// <summary>Finite normal double-extended values with biased exponents in [16383 - span, 16383 + span], any significand with J = 1, either sign.</summary>
    public static Gen<Float80> Normal(int span) =>
        from sig in ArbMap.Default.GeneratorFor<ulong>()
        from low in Gen.Elements(0UL, 1UL, 0xFFFF_FFFF_FFFF_FFFFUL, 0x7FFUL, 0xFFFFFFFFFFUL)
        from pick in Gen.Choose(0, 3)
        from e in Gen.Choose(16383 - span, 16383 + span)
        from neg in Gen.Elements(false, true)
        let s = pick == 0 ? low : pick == 1 ? sig ^ (sig << 17) : sig
        select new Float80(s | 0x8000_0000_0000_0000, (ushort)(e | (neg ? 0x8000 : 0)));

    /// <summary>Any 80-bit pattern, weighted toward the special encodings (zeros, denormals, pseudo-denormals, infinities, NaNs, unnormals, extremes).</summary>
    public static Gen<Float80> AnyBits =>
        Gen.OneOf(
            from sig in ArbMap.Default.GeneratorFor<ulong>()
            from se in ArbMap.Default.GeneratorFor<ushort>()
            select new Float80(sig, se),
            Gen.Elements(
                new Float80(0, 0), new Float80(0, 0x8000), new Float80(1, 0), new Float80(0x7FFF_FFFF_FFFF_FFFF, 0x8000),
                new Float80(0x8000_0000_0000_0000, 0), new Float80(0x8000_0000_0000_0000, 0x7FFF), new Float80(0x8000_0000_0000_0000, 0xFFFF),
                new Float80(0xC000_0000_0000_0000, 0xFFFF), new Float80(0xA000_0000_0000_0000, 0x7FFF), new Float80(0x4000_0000_0000_0000, 0x7FFF),
                new Float80(0, 0x7FFF), new Float80(0x1234, 0x3FFF), new Float80(0xFFFF_FFFF_FFFF_FFFF, 0x7FFE), new Float80(0x8000_0000_0000_0000, 1)),
            Normal(16000));
}

/// <summary>A guest program with labels (addresses resolved after assembly).</summary>
internal sealed class X87Program
{
    private readonly Dictionary<string, Label> _labels = new();
    private Func<Label, ulong>? _resolve;

    public Assembler A { get; } = new(64);

    /// <summary>Defines label <paramref name="name"/> at the current position.</summary>
    public void Mark(string name)
    {
        var l = A.CreateLabel(name);
        A.Label(ref l);
        _labels[name] = l;
    }

    public ulong this[string name] => _resolve!(_labels[name]);

    public Machine Load(Action<Machine>? setup = null)
    {
        var w = new ListWriter();
        var result = A.Assemble(w, Vtx.Tests.Support.Guest.CodeBase, BlockEncoderOptions.ReturnNewInstructionOffsets);
        _resolve = l => result.GetLabelRIP(l);
        var m = new Machine(new MachineOptions { MemoryMiB = 1, CodeSize = 64 });
        m.WriteMemory(Vtx.Tests.Support.Guest.CodeBase, w.Bytes.ToArray());
        m.Cpu.Rip = Vtx.Tests.Support.Guest.CodeBase;
        m.Cpu[Gpr.Rsp] = Vtx.Tests.Support.Guest.StackTop;
        m.Cpu[Gpr.Rbx] = X87Harness.Data;
        setup?.Invoke(m);
        return m;
    }

    private sealed class ListWriter : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
