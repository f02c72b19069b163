using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Iced.Intel;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Simd.SseFloatHarness;

namespace Vtx.Tests.Simd;

/// <summary>
/// ADD/SUB/MUL/DIV/SQRT/MIN/MAX PS/PD/SS/SD, ADDSUB, HADD/HSUB, ROUND and DPPS/DPPD against the
/// independent BigInteger model <see cref="SseFloatModel"/> (results and MXCSR flags, every rounding mode,
/// DAZ, FTZ, masked and unmasked exceptions) and, in round-to-nearest, against .NET's IEEE arithmetic.
/// </summary>
public class SseFloatArithmeticTests
{
    /// <summary>Element kind of an instruction: packed/scalar, single/double.</summary>
    internal enum Kind { Ps, Pd, Ss, Sd }

    /// <summary>One instruction form: its assembler call (xmm1, xmm2) and (xmm1, [rax]).</summary>
    internal sealed record Form(string Name, Kind Kind, Action<Assembler> Reg, Action<Assembler> Mem, Func<ulong, ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> Lane)
    {
        public override string ToString() => Name;
    }

    private static Func<ulong, ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> Arith(SseFloatModel.Op op, SseFloatFormat f) =>
        (a, b, c) => (SseFloatModel.Arith(op, f, a, b, c, out var fl), fl);

    private static Func<ulong, ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> MinMax(bool max, SseFloatFormat f) =>
        (a, b, c) =>
        {
            var r = SseFloatModel.Compare(f, a, b, false, c, out var fl);
            if (c.Daz) { if (f.IsDenormal(a)) a &= f.SignBit; if (f.IsDenormal(b)) b &= f.SignBit; }
            return (r == (max ? FpCompare.Greater : FpCompare.Less) ? a : b, fl);
        };

    internal static readonly Form[] Forms =
    {
        new("addps", Kind.Ps, a => a.addps(xmm1, xmm2), a => a.addps(xmm1, __[rax]), Arith(SseFloatModel.Op.Add, SseFloatFormat.F32)),
        new("subps", Kind.Ps, a => a.subps(xmm1, xmm2), a => a.subps(xmm1, __[rax]), Arith(SseFloatModel.Op.Sub, SseFloatFormat.F32)),
        new("mulps", Kind.Ps, a => a.mulps(xmm1, xmm2), a => a.mulps(xmm1, __[rax]), Arith(SseFloatModel.Op.Mul, SseFloatFormat.F32)),
        new("divps", Kind.Ps, a => a.divps(xmm1, xmm2), a => a.divps(xmm1, __[rax]), Arith(SseFloatModel.Op.Div, SseFloatFormat.F32)),
        new("sqrtps", Kind.Ps, a => a.sqrtps(xmm1, xmm2), a => a.sqrtps(xmm1, __[rax]), Arith(SseFloatModel.Op.Sqrt, SseFloatFormat.F32)),
        new("minps", Kind.Ps, a => a.minps(xmm1, xmm2), a => a.minps(xmm1, __[rax]), MinMax(false, SseFloatFormat.F32)),
        new("maxps", Kind.Ps, a => a.maxps(xmm1, xmm2), a => a.maxps(xmm1, __[rax]), MinMax(true, SseFloatFormat.F32)),
        new("addss", Kind.Ss, a => a.addss(xmm1, xmm2), a => a.addss(xmm1, __[rax]), Arith(SseFloatModel.Op.Add, SseFloatFormat.F32)),
        new("subss", Kind.Ss, a => a.subss(xmm1, xmm2), a => a.subss(xmm1, __[rax]), Arith(SseFloatModel.Op.Sub, SseFloatFormat.F32)),
        new("mulss", Kind.Ss, a => a.mulss(xmm1, xmm2), a => a.mulss(xmm1, __[rax]), Arith(SseFloatModel.Op.Mul, SseFloatFormat.F32)),
        new("divss", Kind.Ss, a => a.divss(xmm1, xmm2), a => a.divss(xmm1, __[rax]), Arith(SseFloatModel.Op.Div, SseFloatFormat.F32)),
        new("sqrtss", Kind.Ss, a => a.sqrtss(xmm1, xmm2), a => a.sqrtss(xmm1, __[rax]), Arith(SseFloatModel.Op.Sqrt, SseFloatFormat.F32)),
        new("minss", Kind.Ss, a => a.minss(xmm1, xmm2), a => a.minss(xmm1, __[rax]), MinMax(false, SseFloatFormat.F32)),
        new("maxss", Kind.Ss, a => a.maxss(xmm1, xmm2), a => a.maxss(xmm1, __[rax]), MinMax(true, SseFloatFormat.F32)),
        new("addpd", Kind.Pd, a => a.addpd(xmm1, xmm2), a => a.addpd(xmm1, __[rax]), Arith(SseFloatModel.Op.Add, SseFloatFormat.F64)),
        new("subpd", Kind.Pd, a => a.subpd(xmm1, xmm2), a => a.subpd(xmm1, __[rax]), Arith(SseFloatModel.Op.Sub, SseFloatFormat.F64)),
        new("mulpd", Kind.Pd, a => a.mulpd(xmm1, xmm2), a => a.mulpd(xmm1, __[rax]), Arith(SseFloatModel.Op.Mul, SseFloatFormat.F64)),
        new("divpd", Kind.Pd, a => a.divpd(xmm1, xmm2), a => a.divpd(xmm1, __[rax]), Arith(SseFloatModel.Op.Div, SseFloatFormat.F64)),
        new("sqrtpd", Kind.Pd, a => a.sqrtpd(xmm1, xmm2), a => a.sqrtpd(xmm1, __[rax]), Arith(SseFloatModel.Op.Sqrt, SseFloatFormat.F64)),
        new("minpd", Kind.Pd, a => a.minpd(xmm1, xmm2), a => a.minpd(xmm1, __[rax]), MinMax(false, SseFloatFormat.F64)),
        new("maxpd", Kind.Pd, a => a.maxpd(xmm1, xmm2), a => a.maxpd(xmm1, __[rax]), MinMax(true, SseFloatFormat.F64)),
        new("addsd", Kind.Sd, a => a.addsd(xmm1, xmm2), a => a.addsd(xmm1, __[rax]), Arith(SseFloatModel.Op.Add, SseFloatFormat.F64)),
        new("subsd", Kind.Sd, a => a.subsd(xmm1, xmm2), a => a.subsd(xmm1, __[rax]), Arith(SseFloatModel.Op.Sub, SseFloatFormat.F64)),
        new("mulsd", Kind.Sd, a => a.mulsd(xmm1, xmm2), a => a.mulsd(xmm1, __[rax]), Arith(SseFloatModel.Op.Mul, SseFloatFormat.F64)),
        new("divsd", Kind.Sd, a => a.divsd(xmm1, xmm2), a => a.divsd(xmm1, __[rax]), Arith(SseFloatModel.Op.Div, SseFloatFormat.F64)),
        new("sqrtsd", Kind.Sd, a => a.sqrtsd(xmm1, xmm2), a => a.sqrtsd(xmm1, __[rax]), Arith(SseFloatModel.Op.Sqrt, SseFloatFormat.F64)),
        new("minsd", Kind.Sd, a => a.minsd(xmm1, xmm2), a => a.minsd(xmm1, __[rax]), MinMax(false, SseFloatFormat.F64)),
        new("maxsd", Kind.Sd, a => a.maxsd(xmm1, xmm2), a => a.maxsd(xmm1, __[rax]), MinMax(true, SseFloatFormat.F64)),
    };

    private static readonly Dictionary<(string, bool), byte[]> CodeCache = new();

    internal static byte[] CodeOf(Form f, bool mem)
    {
        lock (CodeCache)
        {
            if (!CodeCache.TryGetValue((f.Name, mem), out var code)) CodeCache[(f.Name, mem)] = code = Code(mem ? f.Mem : f.Reg);
            return code;
        }
    }

    /// <summary>The model's result of a lane-wise instruction: destination and flags.</summary>
    internal static (UInt128 Result, FpExceptions Flags) Model(Form f, UInt128 dst, UInt128 src, SseFloatModel.Ctl c)
    {
        FpExceptions all = FpExceptions.None;
        UInt128 result = dst;
        switch (f.Kind)
        {
            case Kind.Ps or Kind.Ss:
                int n32 = f.Kind == Kind.Ps ? 4 : 1;
                for (int i = 0; i < n32; i++)
                {
                    var (r, fl) = f.Lane(Lane32(dst, i), Lane32(src, i), c);
                    all |= fl;
                    result = (result & ~((UInt128)0xFFFF_FFFFu << (32 * i))) | ((UInt128)(uint)r << (32 * i));
                }
                break;
            default:
                int n64 = f.Kind == Kind.Pd ? 2 : 1;
                for (int i = 0; i < n64; i++)
                {
                    var (r, fl) = f.Lane(Lane64(dst, i), Lane64(src, i), c);
                    all |= fl;
                    result = (result & ~((UInt128)ulong.MaxValue << (64 * i))) | ((UInt128)r << (64 * i));
                }
                break;
        }
        return (result, all);
    }

    /// <summary>Runs <paramref name="code"/> on (dst, src) and checks it against the expected outcome of SDM Vol. 1, 11.5.2.1.</summary>
    internal static void Verify(byte[] code, bool mem, UInt128 dst, UInt128 src, uint mxcsr, UInt128 expected, FpExceptions flags, string what)
    {
        var (m, r) = Exec(code, mm =>
        {
            mm.Cpu.SetXmm(1, dst);
            mm.Cpu.SetXmm(2, src);
            mm.Cpu.Mxcsr = mxcsr;
            mm.WriteMemory(Data, Bytes(src));
        });
        var (expMxcsr, faults) = Outcome(mxcsr, flags);
        if (faults)
        {
            AssertFault(r, ExceptionVector.XM);
            Assert.True(dst == m.Cpu.GetXmm(1), $"{what}: destination written despite an unmasked exception");
        }
        else
        {
            AssertRetired(r);
            Assert.True(expected == m.Cpu.GetXmm(1), $"{what}: expected {expected:X32}, got {m.Cpu.GetXmm(1):X32}");
        }
        Assert.True(expMxcsr == m.Cpu.Mxcsr, $"{what}: MXCSR expected {expMxcsr:X4}, got {m.Cpu.Mxcsr:X4}");
        Assert.Equal(src, m.Cpu.GetXmm(2));
    }

    private static Gen<(Form F, bool Mem, UInt128 Dst, UInt128 Src, uint Mxcsr)> Cases(Gen<uint> mxcsr) =>
        from fi in Gen.Choose(0, Forms.Length - 1)
        let f = Forms[fi]
        from mem in Gen.Elements(false, true)
        from d in f.Kind is Kind.Ps or Kind.Ss ? Vec32 : Vec64
        from s in f.Kind is Kind.Ps or Kind.Ss ? Vec32 : Vec64
        from x in mxcsr
        select (f, mem, d, s, x);

    [Property(MaxTest = 250)]
    public Property MaskedArithmeticMatchesTheModel() => Prop.ForAll(Arb.From(Cases(MaskedMxcsr)), t =>
    {
        var (exp, flags) = Model(t.F, t.Dst, t.Src, SseFloatModel.Ctl.FromMxcsr(t.Mxcsr));
        Verify(CodeOf(t.F, t.Mem), t.Mem, t.Dst, t.Src, t.Mxcsr, exp, flags, $"{t.F} {t.Dst:X32}, {t.Src:X32} mxcsr={t.Mxcsr:X4}");
    });

    [Property(MaxTest = 300)]
    public Property UnmaskedExceptionsWriteNothingAndRaiseXm() => Prop.ForAll(Arb.From(Cases(AnyMxcsr)), t =>
    {
        var (exp, flags) = Model(t.F, t.Dst, t.Src, SseFloatModel.Ctl.FromMxcsr(t.Mxcsr));
        Verify(CodeOf(t.F, t.Mem), t.Mem, t.Dst, t.Src, t.Mxcsr, exp, flags, $"{t.F} {t.Dst:X32}, {t.Src:X32} mxcsr={t.Mxcsr:X4}");
    });

    /// <summary>In round-to-nearest without DAZ/FTZ, the instruction gives .NET's IEEE result (NaN results excluded: .NET does not define NaN payloads).</summary>
    [Property(MaxTest = 300)]
    public Property NearestModeAgreesWithDotNet() => Prop.ForAll(Arb.From(Cases(Gen.Constant(0x1F80u))), t =>
    {
        if (t.F.Name.StartsWith("min") || t.F.Name.StartsWith("max")) return;
        var (m, r) = Exec(CodeOf(t.F, t.Mem), mm => { mm.Cpu.SetXmm(1, t.Dst); mm.Cpu.SetXmm(2, t.Src); mm.WriteMemory(Data, Bytes(t.Src)); });
        AssertRetired(r);
        UInt128 got = m.Cpu.GetXmm(1);
        string op = t.F.Name[..^2];
        if (t.F.Kind is Kind.Ps or Kind.Ss)
        {
            for (int i = 0; i < (t.F.Kind == Kind.Ps ? 4 : 1); i++)
            {
                float a = BitConverter.UInt32BitsToSingle(Lane32(t.Dst, i)), b = BitConverter.UInt32BitsToSingle(Lane32(t.Src, i));
                float e = op switch { "add" => a + b, "sub" => a - b, "mul" => a * b, "div" => a / b, _ => MathF.Sqrt(b) };
                if (!float.IsNaN(e)) Assert.Equal(BitConverter.SingleToUInt32Bits(e), Lane32(got, i));
                else Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle(Lane32(got, i))));
            }
        }
        else
        {
            for (int i = 0; i < (t.F.Kind == Kind.Pd ? 2 : 1); i++)
            {
                double a = BitConverter.UInt64BitsToDouble(Lane64(t.Dst, i)), b = BitConverter.UInt64BitsToDouble(Lane64(t.Src, i));
                double e = op switch { "add" => a + b, "sub" => a - b, "mul" => a * b, "div" => a / b, _ => Math.Sqrt(b) };
                if (!double.IsNaN(e)) Assert.Equal(BitConverter.DoubleToUInt64Bits(e), Lane64(got, i));
                else Assert.True(double.IsNaN(BitConverter.UInt64BitsToDouble(Lane64(got, i))));
            }
        }
    });

    /// <summary>The BigInteger model itself agrees with .NET in round-to-nearest (so the model's rounding is trustworthy).</summary>
    [Property(MaxTest = 500)]
    public Property ModelAgreesWithDotNetInNearestMode() => Prop.ForAll(Arb.From(Gen.Zip(Gen.Zip(F64, F64), Gen.Choose(0, 4)).Select(z => (z.Item1.Item1, z.Item1.Item2, z.Item2))), t =>
    {
        var c = SseFloatModel.Ctl.FromMxcsr(0x1F80);
        var op = (SseFloatModel.Op)t.Item3;
        double a = BitConverter.UInt64BitsToDouble(t.Item1), b = BitConverter.UInt64BitsToDouble(t.Item2);
        double e = op switch { SseFloatModel.Op.Add => a + b, SseFloatModel.Op.Sub => a - b, SseFloatModel.Op.Mul => a * b, SseFloatModel.Op.Div => a / b, _ => Math.Sqrt(b) };
        ulong r = SseFloatModel.Arith(op, SseFloatFormat.F64, t.Item1, t.Item2, c, out _);
        if (!double.IsNaN(e)) Assert.Equal(BitConverter.DoubleToUInt64Bits(e), r);
        float fa = (float)a, fb = (float)b;
        float fe = op switch { SseFloatModel.Op.Add => fa + fb, SseFloatModel.Op.Sub => fa - fb, SseFloatModel.Op.Mul => fa * fb, SseFloatModel.Op.Div => fa / fb, _ => MathF.Sqrt(fb) };
        uint r32 = (uint)SseFloatModel.Arith(op, SseFloatFormat.F32, BitConverter.SingleToUInt32Bits(fa), BitConverter.SingleToUInt32Bits(fb), c, out _);
        if (!float.IsNaN(fe)) Assert.Equal(BitConverter.SingleToUInt32Bits(fe), r32);
    });

    // ------------------------------------------------------------------ MIN/MAX rules (SDM Vol. 2, MINPS/MAXPS)

    private static UInt128 RunPs(Action<Assembler> insn, UInt128 dst, UInt128 src, uint mxcsr = 0x1F80)
    {
        var (m, r) = Exec(Code(insn), mm => { mm.Cpu.SetXmm(1, dst); mm.Cpu.SetXmm(2, src); mm.Cpu.Mxcsr = mxcsr; });
        AssertRetired(r);
        return m.Cpu.GetXmm(1);
    }

    [Fact]
    public void MinMaxReturnTheSecondOperandForNaNsAndZeros()
    {
        const uint qnan = 0x7FC0_1234, snan = 0x7F80_0001, one = 0x3F80_0000, two = 0x4000_0000, pz = 0, nz = 0x8000_0000;
        // lanes: (NaN, 1) -> 1 ; (1, QNaN) -> QNaN ; (+0, -0) -> -0 ; (-0, +0) -> +0
        var dst = Pack32(qnan, one, pz, nz);
        var src = Pack32(one, qnan, nz, pz);
        Assert.Equal(Pack32(one, qnan, nz, pz), RunPs(a => a.minps(xmm1, xmm2), dst, src));
        Assert.Equal(Pack32(one, qnan, nz, pz), RunPs(a => a.maxps(xmm1, xmm2), dst, src));
        // An SNaN second operand is returned unchanged (not quieted); ordered lanes behave normally.
        var dst2 = Pack32(one, one, two, one);
        var src2 = Pack32(snan, two, one, one);
        Assert.Equal(Pack32(snan, one, one, one), RunPs(a => a.minps(xmm1, xmm2), dst2, src2));
        Assert.Equal(Pack32(snan, two, two, one), RunPs(a => a.maxps(xmm1, xmm2), dst2, src2));
    }

    [Fact]
    public void MinMaxRaiseInvalidForAQuietNaN()
    {
        var (m, r) = Exec(Code(a => a.minss(xmm1, xmm2)), mm => { mm.Cpu.SetXmm(1, 0x3F80_0000); mm.Cpu.SetXmm(2, 0x7FC0_0000); });
        AssertRetired(r);
        Assert.Equal(0x1F81u, m.Cpu.Mxcsr); // IE: MIN/MAX are signaling comparisons
        Assert.Equal((UInt128)0x7FC0_0000, m.Cpu.GetXmm(1));
    }

    [Fact]
    public void MinMaxWithDazReturnAZeroForADenormal()
    {
        // DAZ: a denormal first operand is +0 before the compare, so min(den, 1) = +0 and no DE.
        var got = RunPs(a => a.minss(xmm1, xmm2), 0x0000_0001, 0x3F80_0000, 0x1FC0);
        Assert.Equal((UInt128)0, got);
    }

    // ------------------------------------------------------------------ ADDSUB / HADD / HSUB

    internal static readonly (string Name, bool Double, Action<Assembler> Reg, Action<Assembler> Mem, (int A, int B, bool Sub, bool FromSrcA, bool FromSrcB)[] Lanes)[] Horizontal =
    {
        ("addsubps", false, a => a.addsubps(xmm1, xmm2), a => a.addsubps(xmm1, __[rax]), new[] { (0, 0, true, false, true), (1, 1, false, false, true), (2, 2, true, false, true), (3, 3, false, false, true) }),
        ("haddps", false, a => a.haddps(xmm1, xmm2), a => a.haddps(xmm1, __[rax]), new[] { (0, 1, false, false, false), (2, 3, false, false, false), (0, 1, false, true, true), (2, 3, false, true, true) }),
        ("hsubps", false, a => a.hsubps(xmm1, xmm2), a => a.hsubps(xmm1, __[rax]), new[] { (0, 1, true, false, false), (2, 3, true, false, false), (0, 1, true, true, true), (2, 3, true, true, true) }),
        ("addsubpd", true, a => a.addsubpd(xmm1, xmm2), a => a.addsubpd(xmm1, __[rax]), new[] { (0, 0, true, false, true), (1, 1, false, false, true) }),
        ("haddpd", true, a => a.haddpd(xmm1, xmm2), a => a.haddpd(xmm1, __[rax]), new[] { (0, 1, false, false, false), (0, 1, false, true, true) }),
        ("hsubpd", true, a => a.hsubpd(xmm1, xmm2), a => a.hsubpd(xmm1, __[rax]), new[] { (0, 1, true, false, false), (0, 1, true, true, true) }),
    };

    [Property(MaxTest = 200)]
    public Property AddSubAndHorizontalMatchTheModel() => Prop.ForAll(Arb.From(
        from i in Gen.Choose(0, Horizontal.Length - 1)
        from mem in Gen.Elements(false, true)
        from d in Horizontal[i].Double ? Vec64 : Vec32
        from s in Horizontal[i].Double ? Vec64 : Vec32
        from x in AnyMxcsr
        select (i, mem, d, s, x)), t =>
    {
        var h = Horizontal[t.i];
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        UInt128 exp = 0;
        FpExceptions flags = 0;
        for (int k = 0; k < h.Lanes.Length; k++)
        {
            var l = h.Lanes[k];
            var op = l.Sub ? SseFloatModel.Op.Sub : SseFloatModel.Op.Add;
            if (h.Double)
            {
                ulong a = Lane64(l.FromSrcA ? t.s : t.d, l.A), b = Lane64(l.FromSrcB ? t.s : t.d, l.B);
                exp |= (UInt128)SseFloatModel.Arith(op, SseFloatFormat.F64, a, b, c, out var fl) << (64 * k);
                flags |= fl;
            }
            else
            {
                ulong a = Lane32(l.FromSrcA ? t.s : t.d, l.A), b = Lane32(l.FromSrcB ? t.s : t.d, l.B);
                exp |= (UInt128)(uint)SseFloatModel.Arith(op, SseFloatFormat.F32, a, b, c, out var fl) << (32 * k);
                flags |= fl;
            }
        }
        Verify(Code($"{h.Name}{t.mem}", t.mem ? h.Mem : h.Reg), t.mem, t.d, t.s, t.x, exp, flags, $"{h.Name} {t.d:X32}, {t.s:X32} mxcsr={t.x:X4}");
    });

    // ------------------------------------------------------------------ ROUND

    [Property(MaxTest = 250)]
    public Property RoundMatchesTheModel() => Prop.ForAll(Arb.From(
        from kind in Gen.Choose(0, 3)
        from mem in Gen.Elements(false, true)
        from imm in Gen.Choose(0, 15)
        from d in kind is 0 or 2 ? Vec32 : Vec64
        from s in kind is 0 or 2 ? Vec32 : Vec64
        from x in AnyMxcsr
        select (kind, mem, imm, d, s, x)), t =>
    {
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        FpRounding mode = (t.imm & 4) != 0 ? c.Mode : (FpRounding)(t.imm & 3);
        bool sp = (t.imm & 8) != 0;
        Action<Assembler> insn = (t.kind, t.mem) switch
        {
            (0, false) => a => a.roundps(xmm1, xmm2, (byte)t.imm),
            (0, true) => a => a.roundps(xmm1, __[rax], (byte)t.imm),
            (1, false) => a => a.roundpd(xmm1, xmm2, (byte)t.imm),
            (1, true) => a => a.roundpd(xmm1, __[rax], (byte)t.imm),
            (2, false) => a => a.roundss(xmm1, xmm2, (byte)t.imm),
            (2, true) => a => a.roundss(xmm1, __[rax], (byte)t.imm),
            (3, false) => a => a.roundsd(xmm1, xmm2, (byte)t.imm),
            _ => a => a.roundsd(xmm1, __[rax], (byte)t.imm),
        };
        UInt128 exp = t.d;
        FpExceptions flags = 0;
        bool single = t.kind is 0 or 2;
        int lanes = t.kind switch { 0 => 4, 1 => 2, _ => 1 };
        for (int k = 0; k < lanes; k++)
        {
            if (single)
            {
                uint r = (uint)SseFloatModel.RoundIntegral(SseFloatFormat.F32, Lane32(t.s, k), mode, sp, c, out var fl);
                exp = (exp & ~((UInt128)0xFFFF_FFFFu << (32 * k))) | ((UInt128)r << (32 * k));
                flags |= fl;
            }
            else
            {
                ulong r = SseFloatModel.RoundIntegral(SseFloatFormat.F64, Lane64(t.s, k), mode, sp, c, out var fl);
                exp = (exp & ~((UInt128)ulong.MaxValue << (64 * k))) | ((UInt128)r << (64 * k));
                flags |= fl;
            }
        }
        Verify(Code($"round{t.kind}{t.mem}{t.imm}", insn), t.mem, t.d, t.s, t.x, exp, flags, $"round{t.kind} imm={t.imm} {t.s:X32} mxcsr={t.x:X4}");
    });

    [Fact]
    public void RoundUsesTheImmediateOrMxcsrAndSuppressesPrecision()
    {
        const uint v = 0x3FC0_0000; // 1.5
        // imm 1 (down): 1.0 with PE; imm 2 (up): 2.0; imm 4 with MXCSR.RC = 3 (toward zero): 1.0; imm 8|0 (nearest, no PE): 2.0.
        var m1 = RunWith(a => a.roundss(xmm1, xmm2, 1), v, 0x1F80);
        Assert.Equal(0x3F80_0000u, (uint)m1.GetXmm(1)); Assert.Equal(0x1FA0u, m1.Mxcsr);
        Assert.Equal(0x4000_0000u, (uint)RunWith(a => a.roundss(xmm1, xmm2, 2), v, 0x1F80).GetXmm(1));
        Assert.Equal(0x3F80_0000u, (uint)RunWith(a => a.roundss(xmm1, xmm2, 4), v, 0x7F80).GetXmm(1));
        var m4 = RunWith(a => a.roundss(xmm1, xmm2, 8), v, 0x1F80);
        Assert.Equal(0x4000_0000u, (uint)m4.GetXmm(1)); Assert.Equal(0x1F80u, m4.Mxcsr);
        // Suppression also holds when PE is unmasked: no #XM.
        var m5 = RunWith(a => a.roundss(xmm1, xmm2, 9), v, 0x0F80);
        Assert.Equal(0x3F80_0000u, (uint)m5.GetXmm(1)); Assert.Equal(0x0F80u, m5.Mxcsr);
    }

    private static Cpu RunWith(Action<Assembler> insn, uint src, uint mxcsr)
    {
        var (m, r) = Exec(Code(insn), mm => { mm.Cpu.SetXmm(1, 0xDEAD_BEEF_0000_0000); mm.Cpu.SetXmm(2, src); mm.Cpu.Mxcsr = mxcsr; });
        AssertRetired(r);
        Assert.Equal(0xDEAD_BEEFu, (uint)(m.Cpu.GetXmm(1) >> 32)); // upper elements preserved
        return m.Cpu;
    }

    // ------------------------------------------------------------------ DPPS / DPPD

    [Property(MaxTest = 200)]
    public Property DotProductsFollowTheSdmSequence() => Prop.ForAll(Arb.From(
        from dbl in Gen.Elements(false, true)
        from mem in Gen.Elements(false, true)
        from imm in Gen.Choose(0, 255)
        from d in dbl ? Vec64 : Vec32
        from s in dbl ? Vec64 : Vec32
        from x in AnyMxcsr
        select (dbl, mem, imm, d, s, x)), t =>
    {
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        Action<Assembler> insn = (t.dbl, t.mem) switch
        {
            (false, false) => a => a.dpps(xmm1, xmm2, (byte)t.imm),
            (false, true) => a => a.dpps(xmm1, __[rax], (byte)t.imm),
            (true, false) => a => a.dppd(xmm1, xmm2, (byte)t.imm),
            _ => a => a.dppd(xmm1, __[rax], (byte)t.imm),
        };
        // The SDM's DP_primitive: products of selected lanes (+0.0 otherwise), pairwise sums, final sum;
        // exceptions checked per step in execution order (a step with an unmasked exception ends it).
        SseFloatFormat f = t.dbl ? SseFloatFormat.F64 : SseFloatFormat.F32;
        int n = t.dbl ? 2 : 4;
        ulong Lane(UInt128 v, int i) => t.dbl ? Lane64(v, i) : Lane32(v, i);
        uint mx = t.x;
        bool faulted = false;
        FpExceptions step = 0;
        var p = new ulong[n];
        for (int i = 0; i < n; i++)
            if ((t.imm & (0x10 << i)) != 0) { p[i] = SseFloatModel.Arith(SseFloatModel.Op.Mul, f, Lane(t.d, i), Lane(t.s, i), c, out var fl); step |= fl; }
        bool Commit(FpExceptions fl) { var (nm, fault) = Outcome(mx, fl); mx = nm; return !fault; }
        ulong sum;
        FpExceptions f1, f2, f3;
        if (!Commit(step)) faulted = true;
        if (t.dbl)
        {
            sum = SseFloatModel.Arith(SseFloatModel.Op.Add, f, p[0], p[1], c, out f1);
            if (!faulted && !Commit(f1)) faulted = true;
        }
        else
        {
            ulong t2 = SseFloatModel.Arith(SseFloatModel.Op.Add, f, p[0], p[1], c, out f1);
            ulong t3 = SseFloatModel.Arith(SseFloatModel.Op.Add, f, p[2], p[3], c, out f2);
            if (!faulted && !Commit(f1 | f2)) faulted = true;
            sum = SseFloatModel.Arith(SseFloatModel.Op.Add, f, t2, t3, c, out f3);
            if (!faulted && !Commit(f3)) faulted = true;
        }
        UInt128 exp = 0;
        for (int i = 0; i < n; i++)
            if ((t.imm & (1 << i)) != 0) exp |= (UInt128)sum << (t.dbl ? 64 * i : 32 * i);
        var (m, r) = Exec(Code($"dp{t.dbl}{t.mem}{t.imm}", insn), mm => { mm.Cpu.SetXmm(1, t.d); mm.Cpu.SetXmm(2, t.s); mm.Cpu.Mxcsr = t.x; mm.WriteMemory(Data, Bytes(t.s)); });
        string what = $"dp{(t.dbl ? "pd" : "ps")} imm={t.imm:X2} {t.d:X32}, {t.s:X32} mxcsr={t.x:X4}";
        if (faulted) { AssertFault(r, ExceptionVector.XM); Assert.True(t.d == m.Cpu.GetXmm(1), what); }
        else { AssertRetired(r); Assert.True(exp == m.Cpu.GetXmm(1), $"{what}: expected {exp:X32} got {m.Cpu.GetXmm(1):X32}"); }
        Assert.True(mx == m.Cpu.Mxcsr, $"{what}: MXCSR {mx:X4} expected, got {m.Cpu.Mxcsr:X4}");
    });

    [Fact]
    public void DppsRoundsEachStep()
    {
        // (1e8 * 1) + (1 * 1) rounds to 1e8 in binary32; + (-1e8 * 1) gives 0 (a fused sum would give 1);
        // imm8 = F1h: all four products, result to lane 0 only.
        uint big = BitConverter.SingleToUInt32Bits(1e8f), nbig = BitConverter.SingleToUInt32Bits(-1e8f), one = 0x3F80_0000;
        var got = RunPs(a => a.dpps(xmm1, xmm2, 0xF1), Pack32(big, one, nbig, 0), Pack32(one, one, one, one));
        Assert.Equal(Pack32(0, 0, 0, 0), got);
        // The pairing is (p0 + p1) + (p2 + p3): with (1e8, -1e8, 1, 0) the exact sum 1 survives (imm8 = F2h: lane 1).
        var got2 = RunPs(a => a.dpps(xmm1, xmm2, 0xF2), Pack32(big, nbig, one, 0), Pack32(one, one, one, one));
        Assert.Equal(Pack32(0, one, 0, 0), got2);
    }
}
