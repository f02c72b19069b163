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
/// The SSE/SSE2 conversions against the model: float-to-integer (rounded by MXCSR.RC or truncated,
/// integer indefinite with IE for NaN and out-of-range values, PE when inexact), integer-to-float,
/// float-to-float, packed XMM and MMX forms; 32- and 64-bit GPR operands (REX.W).
/// </summary>
public class SseFloatConvertTests
{
    private static readonly Gen<long> Int64s = Gen.Frequency(
        (4, Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue)).Select(t => ((long)t.Item1 << 32) | (uint)t.Item2)),
        (2, Gen.Choose(int.MinValue, int.MaxValue).Select(i => (long)i)),
        (2, Gen.Elements(0L, 1L, -1L, int.MaxValue, int.MinValue, long.MaxValue, long.MinValue, (1L << 24) + 1, (1L << 53) + 1, -(1L << 53) - 1, (1L << 62) + 1, 0x7FFF_FF80L)),
        (1, Gen.Choose(-300, 300).Select(i => (long)i)));

    // ------------------------------------------------------------------ integer -> scalar

    [Property(MaxTest = 250)]
    public Property IntegerToScalarMatchesTheModel() => Prop.ForAll(Arb.From(
        from dbl in Gen.Elements(false, true)
        from wide in Gen.Elements(false, true)
        from mem in Gen.Elements(false, true)
        from v in Int64s
        from d in Vec64
        from x in AnyMxcsr
        select (dbl, wide, mem, v, d, x)), t =>
    {
        Action<Assembler> insn = (t.dbl, t.wide, t.mem) switch
        {
            (false, false, false) => a => a.cvtsi2ss(xmm1, ebx),
            (false, false, true) => a => a.cvtsi2ss(xmm1, __dword_ptr[rax]),
            (false, true, false) => a => a.cvtsi2ss(xmm1, rbx),
            (false, true, true) => a => a.cvtsi2ss(xmm1, __qword_ptr[rax]),
            (true, false, false) => a => a.cvtsi2sd(xmm1, ebx),
            (true, false, true) => a => a.cvtsi2sd(xmm1, __dword_ptr[rax]),
            (true, true, false) => a => a.cvtsi2sd(xmm1, rbx),
            _ => a => a.cvtsi2sd(xmm1, __qword_ptr[rax]),
        };
        long value = t.wide ? t.v : (int)t.v;
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        var f = t.dbl ? SseFloatFormat.F64 : SseFloatFormat.F32;
        ulong r = SseFloatModel.FromInt(f, value, c, out var flags);
        UInt128 exp = t.dbl ? (t.d & ~(UInt128)ulong.MaxValue) | r : (t.d & ~(UInt128)0xFFFF_FFFFu) | r;
        var (m, res) = Exec(Code($"si2{t.dbl}{t.wide}{t.mem}", insn), mm =>
        {
            mm.Cpu.SetXmm(1, t.d); mm.Cpu.Mxcsr = t.x; mm.Cpu[Gpr.Rbx] = (ulong)t.v;
            mm.WriteMemory(Data, BitConverter.GetBytes(t.v));
        });
        var (mx, faults) = Outcome(t.x, flags);
        Assert.Equal(mx, m.Cpu.Mxcsr);
        if (faults) { AssertFault(res, ExceptionVector.XM); Assert.Equal(t.d, m.Cpu.GetXmm(1)); }
        else { AssertRetired(res); Assert.Equal(exp, m.Cpu.GetXmm(1)); }
    });

    // ------------------------------------------------------------------ scalar -> integer

    [Property(MaxTest = 300)]
    public Property ScalarToIntegerMatchesTheModel() => Prop.ForAll(Arb.From(
        from dbl in Gen.Elements(false, true)
        from trunc in Gen.Elements(false, true)
        from wide in Gen.Elements(false, true)
        from mem in Gen.Elements(false, true)
        from s in Gen.Frequency((3, dbl ? Vec64 : Vec32), (1, Gen.Elements(IntegerEdges(dbl))))
        from x in AnyMxcsr
        select (dbl, trunc, wide, mem, s, x)), t =>
    {
        Action<Assembler> insn = Form(t.dbl, t.trunc, t.wide, t.mem);
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        var f = t.dbl ? SseFloatFormat.F64 : SseFloatFormat.F32;
        ulong src = t.dbl ? Lane64(t.s, 0) : Lane32(t.s, 0);
        long r = SseFloatModel.ToInt(f, src, t.wide ? 64 : 32, t.trunc, c, out var flags);
        const ulong before = 0xDEAD_BEEF_CAFE_F00D;
        var (m, res) = Exec(Code($"2si{t.dbl}{t.trunc}{t.wide}{t.mem}", insn), mm => { mm.Cpu.SetXmm(2, t.s); mm.Cpu.Mxcsr = t.x; mm.Cpu[Gpr.Rbx] = before; mm.WriteMemory(Data, Bytes(t.s)); });
        var (mx, faults) = Outcome(t.x, flags);
        Assert.Equal(mx, m.Cpu.Mxcsr);
        if (faults) { AssertFault(res, ExceptionVector.XM); Assert.Equal(before, m.Cpu[Gpr.Rbx]); }
        else
        {
            AssertRetired(res);
            Assert.Equal(t.wide ? (ulong)r : (uint)(int)r, m.Cpu[Gpr.Rbx]); // a 32-bit destination is zero-extended
        }
    });

    private static Action<Assembler> Form(bool dbl, bool trunc, bool wide, bool mem) => (dbl, trunc, wide, mem) switch
    {
        (false, false, false, false) => a => a.cvtss2si(ebx, xmm2),
        (false, false, false, true) => a => a.cvtss2si(ebx, __dword_ptr[rax]),
        (false, false, true, false) => a => a.cvtss2si(rbx, xmm2),
        (false, false, true, true) => a => a.cvtss2si(rbx, __dword_ptr[rax]),
        (false, true, false, false) => a => a.cvttss2si(ebx, xmm2),
        (false, true, false, true) => a => a.cvttss2si(ebx, __dword_ptr[rax]),
        (false, true, true, false) => a => a.cvttss2si(rbx, xmm2),
        (false, true, true, true) => a => a.cvttss2si(rbx, __dword_ptr[rax]),
        (true, false, false, false) => a => a.cvtsd2si(ebx, xmm2),
        (true, false, false, true) => a => a.cvtsd2si(ebx, __qword_ptr[rax]),
        (true, false, true, false) => a => a.cvtsd2si(rbx, xmm2),
        (true, false, true, true) => a => a.cvtsd2si(rbx, __qword_ptr[rax]),
        (true, true, false, false) => a => a.cvttsd2si(ebx, xmm2),
        (true, true, false, true) => a => a.cvttsd2si(ebx, __qword_ptr[rax]),
        (true, true, true, false) => a => a.cvttsd2si(rbx, xmm2),
        _ => a => a.cvttsd2si(rbx, __qword_ptr[rax]),
    };

    /// <summary>Values at the integer-overflow edges: ±2^31, ±2^63, just inside and outside, halves near them.</summary>
    private static UInt128[] IntegerEdges(bool dbl) => dbl
        ? new UInt128[]
        {
            0x41DF_FFFF_FFC0_0000, 0x41DF_FFFF_FFE0_0000, 0x41DF_FFFF_FFF0_0000, 0x41E0_0000_0000_0000, 0xC1E0_0000_0000_0000,
            0xC1E0_0000_0010_0000, 0xC1E0_0000_0020_0000, 0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000, 0x43DF_FFFF_FFFF_FFFF,
            0xC3E0_0000_0000_0001, 0x3FE0_0000_0000_0000, 0xBFE0_0000_0000_0000, 0x3FF8_0000_0000_0000, 0x4004_0000_0000_0000,
        }
        : new UInt128[]
        {
            0x4F00_0000, 0xCF00_0000, 0xCF00_0001, 0x4EFF_FFFF, 0x5F00_0000, 0xDF00_0000, 0x5EFF_FFFF, 0xDF00_0001,
            0x3F00_0000, 0xBF00_0000, 0x3FC0_0000, 0x4020_0000, 0xC020_0000,
        };

    [Fact]
    public void InvalidConversionsGiveTheIntegerIndefinite()
    {
        foreach (var (dbl, wide, src, indefinite) in new (bool, bool, ulong, ulong)[]
        {
            (false, false, 0x7FC0_0000, 0x8000_0000),                      // QNaN
            (false, true, 0xFF80_0000, 0x8000_0000_0000_0000),             // -inf
            (false, false, 0x4F00_0000, 0x8000_0000),                      // 2^31: out of range
            (true, false, 0x41E0_0000_0000_0000, 0x8000_0000),             // 2^31
            (true, true, 0x43E0_0000_0000_0000, 0x8000_0000_0000_0000),    // 2^63
            (true, true, 0x7FF0_0000_0000_0001, 0x8000_0000_0000_0000),    // SNaN
        })
        {
            var (m, r) = Exec(Code(Form(dbl, false, wide, false)), mm => { mm.Cpu.SetXmm(2, src); mm.Cpu[Gpr.Rbx] = ulong.MaxValue; });
            AssertRetired(r);
            Assert.Equal(indefinite, m.Cpu[Gpr.Rbx]);
            Assert.Equal(0x1F81u, m.Cpu.Mxcsr);
        }
        // -2^31 converts exactly; -2^31 - 0.5 rounds (nearest-even) to -2^31 with PE, truncation too.
        var (m2, r2) = Exec(Code(Form(true, false, false, false)), mm => mm.Cpu.SetXmm(2, 0xC1E0_0000_0010_0000UL));
        AssertRetired(r2);
        Assert.Equal(0x8000_0000UL, m2.Cpu[Gpr.Rbx]);
        Assert.Equal(0x1FA0u, m2.Cpu.Mxcsr);
    }

    // ------------------------------------------------------------------ XMM <-> XMM conversions

    private sealed record XForm(string Name, Action<Assembler> Reg, Action<Assembler> Mem, bool InDouble, int InWidth, int OutWidth, int Count, bool ZeroUpper, Func<ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> Lane);

    private static Func<ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> ToInt(SseFloatFormat f, bool trunc) =>
        (v, c) => ((uint)(int)SseFloatModel.ToInt(f, v, 32, trunc, c, out var fl), fl);

    private static Func<ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> FromInt(SseFloatFormat f) =>
        (v, c) => (SseFloatModel.FromInt(f, (int)(uint)v, c, out var fl), fl);

    private static Func<ulong, SseFloatModel.Ctl, (ulong, FpExceptions)> Cvt(SseFloatFormat from, SseFloatFormat to) =>
        (v, c) => (SseFloatModel.Convert(from, to, v, c, out var fl), fl);

    private static readonly XForm[] XForms =
    {
        new("cvtss2sd", a => a.cvtss2sd(xmm1, xmm2), a => a.cvtss2sd(xmm1, __[rax]), false, 32, 64, 1, false, Cvt(SseFloatFormat.F32, SseFloatFormat.F64)),
        new("cvtsd2ss", a => a.cvtsd2ss(xmm1, xmm2), a => a.cvtsd2ss(xmm1, __[rax]), true, 64, 32, 1, false, Cvt(SseFloatFormat.F64, SseFloatFormat.F32)),
        new("cvtps2pd", a => a.cvtps2pd(xmm1, xmm2), a => a.cvtps2pd(xmm1, __[rax]), false, 32, 64, 2, false, Cvt(SseFloatFormat.F32, SseFloatFormat.F64)),
        new("cvtpd2ps", a => a.cvtpd2ps(xmm1, xmm2), a => a.cvtpd2ps(xmm1, __[rax]), true, 64, 32, 2, true, Cvt(SseFloatFormat.F64, SseFloatFormat.F32)),
        new("cvtdq2ps", a => a.cvtdq2ps(xmm1, xmm2), a => a.cvtdq2ps(xmm1, __[rax]), false, 32, 32, 4, false, FromInt(SseFloatFormat.F32)),
        new("cvtps2dq", a => a.cvtps2dq(xmm1, xmm2), a => a.cvtps2dq(xmm1, __[rax]), false, 32, 32, 4, false, ToInt(SseFloatFormat.F32, false)),
        new("cvttps2dq", a => a.cvttps2dq(xmm1, xmm2), a => a.cvttps2dq(xmm1, __[rax]), false, 32, 32, 4, false, ToInt(SseFloatFormat.F32, true)),
        new("cvtdq2pd", a => a.cvtdq2pd(xmm1, xmm2), a => a.cvtdq2pd(xmm1, __[rax]), false, 32, 64, 2, false, FromInt(SseFloatFormat.F64)),
        new("cvtpd2dq", a => a.cvtpd2dq(xmm1, xmm2), a => a.cvtpd2dq(xmm1, __[rax]), true, 64, 32, 2, true, ToInt(SseFloatFormat.F64, false)),
        new("cvttpd2dq", a => a.cvttpd2dq(xmm1, xmm2), a => a.cvttpd2dq(xmm1, __[rax]), true, 64, 32, 2, true, ToInt(SseFloatFormat.F64, true)),
    };

    private static UInt128 Field(UInt128 v, int width, int i) => (v >> (width * i)) & (width == 32 ? (UInt128)0xFFFF_FFFFu : ulong.MaxValue);

    [Property(MaxTest = 300)]
    public Property XmmConversionsMatchTheModel() => Prop.ForAll(Arb.From(
        from i in Gen.Choose(0, XForms.Length - 1)
        from mem in Gen.Elements(false, true)
        from s in XForms[i].InDouble ? Vec64 : Vec32
        from d in Vec64
        from x in AnyMxcsr
        select (i, mem, s, d, x)), t =>
    {
        var f = XForms[t.i];
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        UInt128 exp = f.ZeroUpper ? t.d & 0 : t.d;
        FpExceptions flags = 0;
        for (int k = 0; k < f.Count; k++)
        {
            var (r, fl) = f.Lane((ulong)Field(t.s, f.InWidth, k), c);
            flags |= fl;
            UInt128 mask = (f.OutWidth == 32 ? (UInt128)0xFFFF_FFFFu : ulong.MaxValue) << (f.OutWidth * k);
            exp = (exp & ~mask) | (((UInt128)r << (f.OutWidth * k)) & mask);
        }
        SseFloatArithmeticTests.Verify(Code($"{f.Name}{t.mem}", t.mem ? f.Mem : f.Reg), t.mem, t.d, t.s, t.x, exp, flags, $"{f.Name} {t.s:X32} mxcsr={t.x:X4}");
    });

    // ------------------------------------------------------------------ MMX forms

    [Property(MaxTest = 200)]
    public Property MmxConversionsMatchTheModel() => Prop.ForAll(Arb.From(
        from kind in Gen.Choose(0, 5)
        from mem in Gen.Elements(false, true)
        from s in kind is 2 or 3 ? Vec32 : kind is 4 or 5 ? Vec64 : Vec32
        from d in Vec64
        from x in AnyMxcsr
        select (kind, mem, s, d, x)), t =>
    {
        // 0 cvtpi2ps, 1 cvtpi2pd (integer sources: mm1 or m64), 2 cvtps2pi, 3 cvttps2pi, 4 cvtpd2pi, 5 cvttpd2pi (to mm0)
        Action<Assembler> insn = (t.kind, t.mem) switch
        {
            (0, false) => a => a.cvtpi2ps(xmm1, mm1),
            (0, true) => a => a.cvtpi2ps(xmm1, __[rax]),
            (1, false) => a => a.cvtpi2pd(xmm1, mm1),
            (1, true) => a => a.cvtpi2pd(xmm1, __[rax]),
            (2, false) => a => a.cvtps2pi(mm0, xmm2),
            (2, true) => a => a.cvtps2pi(mm0, __[rax]),
            (3, false) => a => a.cvttps2pi(mm0, xmm2),
            (3, true) => a => a.cvttps2pi(mm0, __[rax]),
            (4, false) => a => a.cvtpd2pi(mm0, xmm2),
            (4, true) => a => a.cvtpd2pi(mm0, __[rax]),
            (5, false) => a => a.cvttpd2pi(mm0, xmm2),
            _ => a => a.cvttpd2pi(mm0, __[rax]),
        };
        var c = SseFloatModel.Ctl.FromMxcsr(t.x);
        ulong mmIn = (ulong)t.s;
        FpExceptions flags = 0;
        UInt128 expX = t.d;
        ulong expMm = 0;
        switch (t.kind)
        {
            case 0:
                ulong lo = SseFloatModel.FromInt(SseFloatFormat.F32, (int)(uint)mmIn, c, out var f0) | (SseFloatModel.FromInt(SseFloatFormat.F32, (int)(uint)(mmIn >> 32), c, out var f1) << 32);
                flags = f0 | f1;
                expX = (t.d & ~(UInt128)ulong.MaxValue) | lo;
                break;
            case 1:
                expX = new UInt128(SseFloatModel.FromInt(SseFloatFormat.F64, (int)(uint)(mmIn >> 32), c, out _), SseFloatModel.FromInt(SseFloatFormat.F64, (int)(uint)mmIn, c, out _));
                break;
            case 2 or 3:
                expMm = (uint)(int)SseFloatModel.ToInt(SseFloatFormat.F32, Lane32(t.s, 0), 32, t.kind == 3, c, out var g0)
                    | ((ulong)(uint)(int)SseFloatModel.ToInt(SseFloatFormat.F32, Lane32(t.s, 1), 32, t.kind == 3, c, out var g1) << 32);
                flags = g0 | g1;
                break;
            default:
                expMm = (uint)(int)SseFloatModel.ToInt(SseFloatFormat.F64, Lane64(t.s, 0), 32, t.kind == 5, c, out var h0)
                    | ((ulong)(uint)(int)SseFloatModel.ToInt(SseFloatFormat.F64, Lane64(t.s, 1), 32, t.kind == 5, c, out var h1) << 32);
                flags = h0 | h1;
                break;
        }
        var (m, r) = Exec(Code($"mmx{t.kind}{t.mem}", insn), mm =>
        {
            mm.Cpu.SetXmm(1, t.d); mm.Cpu.SetXmm(2, t.s); mm.Cpu.Mxcsr = t.x; mm.WriteMemory(Data, Bytes(t.s));
            mm.Cpu.SetFpuRegister(1, new Float80(mmIn, 0xFFFF));
            mm.Cpu.SetFpuRegister(0, new Float80(0x1234, 0x4000));
        });
        var (mx, faults) = Outcome(t.x, flags);
        Assert.Equal(mx, m.Cpu.Mxcsr);
        string what = $"kind {t.kind} mem={t.mem} {t.s:X32} mxcsr={t.x:X4}";
        if (faults)
        {
            AssertFault(r, ExceptionVector.XM);
            Assert.Equal(t.d, m.Cpu.GetXmm(1));
            Assert.Equal(new Float80(0x1234, 0x4000), m.Cpu.GetFpuRegister(0));
            return;
        }
        AssertRetired(r);
        if (t.kind < 2) Assert.True(expX == m.Cpu.GetXmm(1), what);
        else Assert.Equal(new Float80(expMm, 0xFFFF), m.Cpu.GetFpuRegister(0));
    });
}
