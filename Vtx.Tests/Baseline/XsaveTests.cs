using FsCheck;
using FsCheck.Fluent;
using Vtx.Float;
using Vtx.Tests.Core;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Baseline.BaselineHarness;

namespace Vtx.Tests.Baseline;

/// <summary>
/// The XSAVE feature set with x87 and SSE state (SDM Vol. 1, chapter 13): standard and compacted
/// formats, XSTATE_BV/XCOMP_BV, the init and modified optimizations, XRSTOR's header checks and
/// initialization, XSETBV's XCR0 rules and CPUID leaf 0Dh. Offsets are those of SDM Vol. 1, 13.4.
/// </summary>
public class XsaveTests
{
    private const byte Fill = 0xA5;
    private const int XstateBv = 512, XcompBv = 520;

    private static FpState Busy() => new(0x0A7F & 0x1F3F | 0x40, 0x4123 & ~0x3800 | 0x8080, 5, 0b1010_0110, 0x5AB,
        0x1234_5678_9ABC_DEF0UL, 0x0FED_CBA9_8765_4321UL, 0, 0, 0x7F9F,
        Enumerable.Range(0, 8).Select(i => new Float80(0x8000_0000_0000_0000UL | (ulong)i * 0x0101_0101_0101UL, (ushort)(0x4000 + i))).ToArray(),
        Enumerable.Range(0, 16).Select(i => new UInt128(0x1111_1111_1111_1111UL * (ulong)(i + 1), 0xF0F0_0000_0000_0000UL + (ulong)i)).ToArray());

    /// <summary>The x87 and SSE initial configuration (SDM Vol. 1, 13.6), with a non-default MXCSR (not part of it).</summary>
    private static FpState Init() => new(0x037F, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0x3F80, new Float80[8], new UInt128[16]);

    /// <summary>Runs <paramref name="body"/> with XSAVE enabled, the area at <see cref="BaselineHarness.Area"/> filled with <paramref name="area"/>.</summary>
    private static (Machine M, RunResult R) RunX(Action<Iced.Intel.Assembler> body, FpState s, byte[]? area = null, Action<Cpu>? more = null)
    {
        var m = CoreHarness.Load(a => { a.mov(rbx, Area); body(a); a.hlt(); }, setup: c =>
        {
            s.Apply(c);
            EnableXsave(c);
            more?.Invoke(c);
        });
        m.WriteMemory(Area, area ?? Filled());
        return (m, m.Run(RunLimits.Instructions(100)));
    }

    private static byte[] Filled(int size = 1024) => Enumerable.Repeat(Fill, size).ToArray();

    private static void Mask(Iced.Intel.Assembler a, uint lo, uint hi = 0)
    {
        a.mov(eax, lo);
        a.mov(edx, hi);
    }

    private static byte[] FxsaveImage(FpState s, bool rexW)
    {
        var m = CoreHarness.Load(a => { a.mov(rbx, Area); if (rexW) a.fxsave64(__[rbx]); else a.fxsave(__[rbx]); a.hlt(); }, setup: s.Apply);
        m.WriteMemory(Area, Filled(512));
        AssertHalted(m.Run(RunLimits.Instructions(10)));
        return m.ReadMemory(Area, 512);
    }

    private static void AssertRange(byte[] want, byte[] got, int from, int to, string what) =>
        Assert.True(want.AsSpan(from, to - from).SequenceEqual(got.AsSpan(from, to - from)), $"{what}: bytes {from}..{to - 1} differ");

    private static void AssertUntouched(byte[] got, int from, int to, string what) =>
        Assert.True(got.AsSpan(from, to - from).IndexOfAnyExcept(Fill) < 0, $"{what}: bytes {from}..{to - 1} were written");

    // ------------------------------------------------------------------ XSAVE, standard format

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void XsaveStandardFormatIsTheFxsaveLayoutPlusXstateBv(bool rexW)
    {
        var s = Busy();
        var (m, r) = RunX(a => { Mask(a, 0xFFFF_FFFF, 0xFFFF_FFFF); if (rexW) a.xsave64(__[rbx]); else a.xsave(__[rbx]); }, s);
        AssertHalted(r);
        byte[] got = m.ReadMemory(Area, 1024), fx = FxsaveImage(s, rexW);
        AssertRange(fx, got, 0, 416, "legacy region");
        AssertUntouched(got, 416, 512, "bytes 511:416");
        // XSTATE_BV: RFBM bits (0, 1) = XINUSE (both components in use); other bits keep the old value.
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL & ~3UL | 3UL, U64(got, XstateBv));
        AssertUntouched(got, XcompBv, 576, "header beyond XSTATE_BV");
    }

    [Fact]
    public void XsaveWritesOnlyTheRequestedComponents()
    {
        var s = Busy();
        var fx = FxsaveImage(s, false);
        var (m, r) = RunX(a => { Mask(a, 1); a.xsave(__[rbx]); }, s);
        AssertHalted(r);
        byte[] got = m.ReadMemory(Area, 1024);
        AssertRange(fx, got, 0, 24, "x87 fields");
        AssertRange(fx, got, 32, 160, "ST0-ST7");
        AssertUntouched(got, 24, 32, "MXCSR (RFBM[1] = RFBM[2] = 0)");
        AssertUntouched(got, 160, 512, "XMM registers");
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL & ~1UL | 1UL, U64(got, XstateBv));

        (m, r) = RunX(a => { Mask(a, 2); a.xsave(__[rbx]); }, s);
        AssertHalted(r);
        got = m.ReadMemory(Area, 1024);
        AssertUntouched(got, 0, 24, "x87 fields");
        AssertUntouched(got, 32, 160, "ST0-ST7");
        AssertRange(fx, got, 24, 32, "MXCSR, MXCSR_MASK");
        AssertRange(fx, got, 160, 416, "XMM0-15");
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL & ~2UL | 2UL, U64(got, XstateBv));
    }

    [Fact]
    public void RfbmIsXcr0AndEdxEax()
    {
        var s = Busy();
        var (m, r) = RunX(a => { Mask(a, 3); a.xsave(__[rbx]); }, s, more: c => c.Xcr0 = 1);
        AssertHalted(r);
        byte[] got = m.ReadMemory(Area, 1024);
        AssertUntouched(got, 160, 512, "XMM registers (XCR0[1] = 0)");
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL & ~1UL | 1UL, U64(got, XstateBv));
    }

    // ------------------------------------------------------------------ XSAVEOPT

    [Fact]
    public void XsaveoptSkipsComponentsInInitialConfigurationButAlwaysStoresMxcsr()
    {
        var (m, r) = RunX(a => { Mask(a, 3); a.xsaveopt(__[rbx]); }, Init());
        AssertHalted(r);
        byte[] got = m.ReadMemory(Area, 1024);
        AssertUntouched(got, 0, 24, "x87 (not in use)");
        AssertUntouched(got, 32, 512, "ST and XMM (not in use)");
        Assert.Equal(0x3F80u, U32(got, 24));
        Assert.Equal(0xFFFFu, U32(got, 28));
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL & ~3UL, U64(got, XstateBv));

        // XSAVE does not optimize: it writes the initial values, with XSTATE_BV[i] = XINUSE[i] = 0.
        (m, r) = RunX(a => { Mask(a, 3); a.xsave64(__[rbx]); }, Init());
        AssertHalted(r);
        got = m.ReadMemory(Area, 1024);
        Assert.Equal(0x037F, U16(got, 0));
        Assert.Equal(0, got[4]);
        Assert.True(got.AsSpan(160, 256).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL & ~3UL, U64(got, XstateBv));
    }

    [Fact]
    public void XsaveoptSkipsComponentsUnmodifiedSinceXrstorAtTheSameAddress()
    {
        var busy = Busy();
        byte[] area = new byte[1024];
        FxsaveImage(busy, true).AsSpan(0, 512).CopyTo(area);
        BitConverter.TryWriteBytes(area.AsSpan(XstateBv), 3UL);
        byte[] other = FxsaveImage(busy with { Xmm = busy.Xmm.Select(x => ~x).ToArray() }, true);
        var m2 = CoreHarness.Load(a =>
        {
            a.mov(rbx, Area);
            Mask(a, 3);
            a.xrstor64(__[rbx]);
            a.mov(__qword_ptr[rbx + 160], 0x55);   // software changes the saved XMM0 (the SDM's caveat)
            a.mov(__qword_ptr[rbx + 32], 0x66);    // and ST0's significand
            a.xsaveopt64(__[rbx]);                 // nothing modified since: neither component is written
            a.mov(rax, __qword_ptr[rbx + 160]);
            a.mov(__qword_ptr[rbx + 0x800], rax);
            a.mov(rax, __qword_ptr[rbx + 32]);
            a.mov(__qword_ptr[rbx + 0x808], rax);
            a.mov(rcx, Area + 0x400);
            a.fxrstor64(__[rcx]);                  // modifies the SSE state (not an XRSTOR)
            Mask(a, 3);
            a.xsaveopt64(__[rbx]);                 // SSE modified: written; x87 unchanged: skipped
            a.hlt();
        }, setup: c => { busy.Apply(c); EnableXsave(c); });
        m2.WriteMemory(Area, area);
        m2.WriteMemory(Area + 0x400, other);
        AssertHalted(m2.Run(RunLimits.Instructions(100)));
        byte[] first = m2.ReadMemory(Area + 0x800, 16);
        Assert.Equal(0x55UL, U64(first, 0));
        Assert.Equal(0x66UL, U64(first, 8));
        byte[] got = m2.ReadMemory(Area, 576);
        Assert.Equal(3UL, U64(got, XstateBv));
        Assert.Equal((ulong)~busy.Xmm[0], U64(got, 160));
        Assert.Equal(0x66UL, U64(got, 32));
    }
    // ------------------------------------------------------------------ XSAVEC (compacted)

    [Fact]
    public void XsavecWritesCompactedHeaderAndOnlyComponentsInUse()
    {
        var s = Init() with { Xmm = Init().Xmm.Select((_, i) => i == 9 ? (UInt128)0xABCD : 0).ToArray() };
        var (m, r) = RunX(a => { Mask(a, 0xFFFF_FFFF, 0xFFFF_FFFF); a.xsavec64(__[rbx]); }, s);
        AssertHalted(r);
        byte[] got = m.ReadMemory(Area, 1024);
        AssertUntouched(got, 0, 24, "x87 (not in use)");
        AssertUntouched(got, 32, 160, "ST0-ST7 (not in use)");
        Assert.Equal(0x3F80u, U32(got, 24));
        Assert.Equal(0xABCDUL, U64(got, 160 + 16 * 9));
        Assert.Equal(2UL, U64(got, XstateBv));                                  // XINUSE AND RFBM
        Assert.Equal(0x8000_0000_0000_0003UL, U64(got, XcompBv));              // RFBM OR 2^63
        AssertUntouched(got, 528, 1024, "header bytes 63:16 and beyond");
    }

    // ------------------------------------------------------------------ XRSTOR

    private static byte[] Header(ulong bv, ulong comp, int dirtyByte = -1)
    {
        var area = new byte[1024];
        area[0] = 0x7F; area[1] = 0x03;                                        // a plausible FCW
        BitConverter.TryWriteBytes(area.AsSpan(24), 0x1F80u);
        BitConverter.TryWriteBytes(area.AsSpan(XstateBv), bv);
        BitConverter.TryWriteBytes(area.AsSpan(XcompBv), comp);
        if (dirtyByte >= 0) area[512 + dirtyByte] = 1;
        return area;
    }

    public static TheoryData<string, ulong, ulong, int> BadHeaders => new()
    {
        { "standard: XSTATE_BV sets a bit not in XCR0", 4, 0, -1 },
        { "standard: XCOMP_BV[62:0] not 0", 3, 1, -1 },
        { "standard: header byte 16 not 0", 3, 0, 16 },
        { "standard: header byte 23 not 0", 3, 0, 23 },
        { "compacted: XCOMP_BV sets a bit not in XCR0", 3, 0x8000_0000_0000_0007, -1 },
        { "compacted: XSTATE_BV sets a bit not in XCOMP_BV", 3, 0x8000_0000_0000_0001, -1 },
        { "compacted: XSTATE_BV[63] set", 0x8000_0000_0000_0001, 0x8000_0000_0000_0003, -1 },
        { "compacted: header byte 40 not 0", 3, 0x8000_0000_0000_0003, 40 },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void XrstorRejectsBadHeadersWithGp0AndChangesNothing(string what, ulong bv, ulong comp, int dirty)
    {
        var s = Busy();
        var (m, r) = RunX(a => { Mask(a, 3); a.xrstor64(__[rbx]); }, s, Header(bv, comp, dirty));
        AssertFault(r, ExceptionVector.GP, 0);
        Assert.True(s.Describe() == FpState.Of(m.Cpu).Describe(), what);
    }

    [Fact]
    public void StandardXrstorIgnoresHeaderBytesAbove23()
    {
        var (_, r) = RunX(a => { Mask(a, 3); a.xrstor64(__[rbx]); }, Busy(), Header(3, 0, 40));
        AssertHalted(r);
    }

    [Fact]
    public void XrstorInitializesComponentsNotInXstateBv()
    {
        // Standard form, XSTATE_BV = 0: x87 and XMM initialized, MXCSR loaded from memory (RFBM[1] = 1).
        var area = Header(0, 0);
        BitConverter.TryWriteBytes(area.AsSpan(24), 0x1234u);
        var (m, r) = RunX(a => { Mask(a, 3); a.xrstor64(__[rbx]); }, Busy(), area);
        AssertHalted(r);
        Assert.Equal((Init() with { Mxcsr = 0x1234 }).Describe(), FpState.Of(m.Cpu).Describe());

        // Compacted form, XSTATE_BV[1] = 0: MXCSR becomes 1F80h.
        area = Header(0, 0x8000_0000_0000_0003);
        BitConverter.TryWriteBytes(area.AsSpan(24), 0x1234u);
        (m, r) = RunX(a => { Mask(a, 3); a.xrstor64(__[rbx]); }, Busy(), area);
        AssertHalted(r);
        Assert.Equal((Init() with { Mxcsr = 0x1F80 }).Describe(), FpState.Of(m.Cpu).Describe());

        // RFBM = x87 only: SSE state and MXCSR untouched.
        var busy = Busy();
        (m, r) = RunX(a => { Mask(a, 1); a.xrstor64(__[rbx]); }, busy, Header(0, 0));
        AssertHalted(r);
        Assert.Equal((Init() with { Mxcsr = busy.Mxcsr, Xmm = busy.Xmm }).Describe(), FpState.Of(m.Cpu).Describe());
    }

    [Fact]
    public void XsaveFamilyFaults()
    {
        foreach (var insn in new Action<Iced.Intel.Assembler>[]
                 { a => a.xsave(__[rbx]), a => a.xsaveopt(__[rbx]), a => a.xsavec(__[rbx]), a => a.xrstor(__[rbx]) })
        {
            AssertFault(RunX(a => { Mask(a, 3); a.add(rbx, 32); insn(a); }, Busy(), Header(3, 0)).R, ExceptionVector.GP, 0);  // 64-byte alignment
            AssertFault(RunX(a => { Mask(a, 3); insn(a); }, Busy(), Header(3, 0), c => c.Cr4Value &= ~Cr4.OSXSAVE).R, ExceptionVector.UD);
            AssertFault(RunX(a => { Mask(a, 3); insn(a); }, Busy(), Header(3, 0), c => c.Cr0Value |= Cr0.TS).R, ExceptionVector.NM);
            AssertHalted(RunX(a => { Mask(a, 3); insn(a); }, Busy(), Header(3, 0), c => c.Cr0Value |= Cr0.EM).R); // EM does not apply
        }
    }

    // ------------------------------------------------------------------ round trips

    [Fact]
    public void XsaveXrstorRoundTripsAnyStateInBothFormats()
    {
        var gen = from s in AnyState(true)
                  from kind in Gen.Elements(0, 1, 2)
                  select (s, kind);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (s, kind) = t;
            var (m, r) = RunX(a =>
            {
                Mask(a, 0xFFFF_FFFF, 0xFFFF_FFFF);
                if (kind == 0) a.xsave64(__[rbx]); else if (kind == 1) a.xsaveopt64(__[rbx]); else a.xsavec64(__[rbx]);
            }, s, new byte[1024]);
            AssertHalted(r);
            byte[] image = m.ReadMemory(Area, 1024);
            var (m2, r2) = RunX(a => { Mask(a, 0xFFFF_FFFF, 0xFFFF_FFFF); a.xrstor64(__[rbx]); }, Busy(), image);
            AssertHalted(r2);
            Assert.Equal(s.Describe(), FpState.Of(m2.Cpu).Describe());
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(60));
    }

    // ------------------------------------------------------------------ XSETBV and CPUID leaf 0Dh

    [Theory]
    [InlineData(1u, 0u, true)]
    [InlineData(3u, 0u, true)]
    [InlineData(0u, 0u, false)]   // x87 (bit 0) must be 1
    [InlineData(2u, 0u, false)]
    [InlineData(5u, 0u, false)]   // AVX not supported (and needs SSE)
    [InlineData(7u, 0u, false)]
    [InlineData(3u, 1u, false)]   // EDX bit 32
    public void XsetbvAcceptsOnlySupportedXcr0Values(uint lo, uint hi, bool ok)
    {
        var (m, r) = RunX(a => { a.xor(ecx, ecx); a.mov(eax, lo); a.mov(edx, hi); a.xsetbv(); }, Busy());
        if (ok)
        {
            AssertHalted(r);
            Assert.Equal(((ulong)hi << 32) | lo, m.Cpu.Xcr0);
        }
        else AssertFault(r, ExceptionVector.GP, 0);
    }

    [Fact]
    public void XsetbvWithEcxNotZeroIsGp0()
    {
        var (_, r) = RunX(a => { a.mov(ecx, 1); a.mov(eax, 3); a.xor(edx, edx); a.xsetbv(); }, Busy());
        AssertFault(r, ExceptionVector.GP, 0);
    }

    [Fact]
    public void CpuidLeafDDescribesX87AndSseState()
    {
        var model = new CpuModel();
        foreach (ulong xcr0 in new ulong[] { 1, 3 })
        {
            var l0 = model.Cpuid(0xD, 0, xcr0);
            Assert.Equal(3u, l0.Eax);                 // x87 | SSE supported
            Assert.Equal(0u, l0.Edx);
            Assert.Equal(512u + 64u, l0.Ebx);         // legacy region + header (no extended component enabled)
            Assert.Equal(512u + 64u, l0.Ecx);
            var l1 = model.Cpuid(0xD, 1, xcr0);
            Assert.Equal(0b011u, l1.Eax);             // XSAVEOPT, XSAVEC; no XGETBV ECX=1, no XSAVES
            Assert.Equal(576u, l1.Ebx);
            Assert.Equal(0u, l1.Ecx | l1.Edx);
            for (uint sub = 2; sub < 64; sub++) Assert.Equal(default, model.Cpuid(0xD, sub, xcr0));
        }
        Assert.Equal(0xDu, model.Cpuid(0, 0).Eax);
        // Without SSE the SSE component is not offered.
        Assert.Equal(1u, new CpuModel { Sse = false }.Cpuid(0xD, 0).Eax);
    }
}
