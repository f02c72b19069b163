using FsCheck;
using FsCheck.Fluent;
using Vtx.Float;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Baseline.BaselineHarness;

namespace Vtx.Tests.Baseline;

/// <summary>
/// FXSAVE/FXRSTOR and LDMXCSR/STMXCSR (SDM Vol. 1, 10.5.1, Tables 10-2 and 10-3; Vol. 2A FXSAVE,
/// FXRSTOR, LDMXCSR, STMXCSR): layouts checked byte by byte against offsets written here from the SDM,
/// round trips over full-range states, and the fault rules.
/// </summary>
public class StateSaveTests
{
    private const byte Fill = 0xA5;

    private static FpState Sample(bool wide) => new(
        Fcw: 0x0A7F & 0x1F3F | 0x40, FswNoTop: 0x4123 & ~0x3800 | 0x8080, Top: 5, Empty: 0b1010_0110, Fop: 0x5AB,
        Fip: wide ? 0x1234_5678_9ABC_DEF0UL : 0x9ABC_DEF0UL, Fdp: wide ? 0x0FED_CBA9_8765_4321UL : 0x8765_4321UL, Fcs: 0x1B, Fds: 0x23,
        Mxcsr: 0x7F9F,
        Regs: Enumerable.Range(0, 8).Select(i => new Float80(0x8000_0000_0000_0000UL | (ulong)i * 0x0101_0101_0101UL, (ushort)(0x4000 + i))).ToArray(),
        Xmm: Enumerable.Range(0, 16).Select(i => new UInt128(0x1111_1111_1111_1111UL * (ulong)(i + 1), 0xF0F0_0000_0000_0000UL + (ulong)i)).ToArray());

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FxsaveLayoutMatchesSdmTable(bool rexW)
    {
        var s = Sample(rexW);
        var m = Vtx.Tests.Core.CoreHarness.Load(a =>
        {
            a.mov(rbx, Area);
            if (rexW) a.fxsave64(__[rbx]); else a.fxsave(__[rbx]);
            a.hlt();
        }, setup: s.Apply);
        m.WriteMemory(Area, Enumerable.Repeat(Fill, 512).ToArray());
        AssertHalted(m.Run(RunLimits.Instructions(10)));
        byte[] b = m.ReadMemory(Area, 512);

        Assert.Equal(s.Fcw, U16(b, 0));                                      // FCW, bytes 1:0
        Assert.Equal((ushort)(s.FswNoTop | s.Top << 11), U16(b, 2));        // FSW with TOP in 13:11
        Assert.Equal((byte)~s.Empty, b[4]);                                  // abridged FTW: 1 = valid
        Assert.Equal(0, b[5]);                                               // reserved
        Assert.Equal(s.Fop, U16(b, 6));                                      // FOP
        if (rexW)
        {
            Assert.Equal(s.Fip, U64(b, 8));                                  // Table 10-3: FIP bits 63:0
            Assert.Equal(s.Fdp, U64(b, 16));                                 // FDP bits 63:0
        }
        else
        {
            Assert.Equal((uint)s.Fip, U32(b, 8));                            // FIP 31:0
            Assert.Equal(s.Fcs, U16(b, 12));                                 // FCS
            Assert.Equal(0, U16(b, 14));
            Assert.Equal((uint)s.Fdp, U32(b, 16));                           // FDP 31:0
            Assert.Equal(s.Fds, U16(b, 20));                                 // FDS
            Assert.Equal(0, U16(b, 22));
        }
        Assert.Equal(s.Mxcsr, U32(b, 24));                                   // MXCSR
        Assert.Equal(0xFFFFu, U32(b, 28));                                   // MXCSR_MASK
        for (int i = 0; i < 8; i++)
        {
            Float80 st = s.Regs[(s.Top + i) & 7];                            // ST(i), not Ri
            Assert.Equal(st.Significand, U64(b, 32 + 16 * i));
            Assert.Equal(st.SignExponent, U16(b, 40 + 16 * i));
            Assert.All(b.AsSpan(42 + 16 * i, 6).ToArray(), x => Assert.Equal(0, x));
        }
        for (int i = 0; i < 16; i++)                                          // XMM0-15 at 160 (64-bit mode)
        {
            Assert.Equal((ulong)s.Xmm[i], U64(b, 160 + 16 * i));
            Assert.Equal((ulong)(s.Xmm[i] >> 64), U64(b, 168 + 16 * i));
        }
        Assert.All(b.AsSpan(416, 96).ToArray(), x => Assert.Equal(Fill, x)); // reserved 463:416 and available 511:464 untouched
    }

    [Fact]
    public void FxsaveOutside64BitModeStoresXmm0To7Only()
    {
        var s = Sample(false);
        var m = Vtx.Tests.Core.CoreHarness.Load(a => { a.mov(ebx, (uint)Area); a.fxsave(__[ebx]); a.hlt(); }, bitness: 32, setup: s.Apply);
        m.WriteMemory(Area, Enumerable.Repeat(Fill, 512).ToArray());
        AssertHalted(m.Run(RunLimits.Instructions(10)));
        byte[] b = m.ReadMemory(Area, 512);
        Assert.Equal((ulong)s.Xmm[7], U64(b, 160 + 16 * 7));
        Assert.All(b.AsSpan(288, 224).ToArray(), x => Assert.Equal(Fill, x));
    }

    [Fact]
    public void WithoutOsfxsrFxsaveSkipsXmmAndFxrstorLeavesThem()
    {
        var s = Sample(true);
        var (m, r) = BaselineHarness.Run(a =>
        {
            a.mov(rbx, Area);
            a.fxsave64(__[rbx]);
            a.fxrstor64(__[rbx + 512]);
        }, c => { s.Apply(c); c.Cr4Value &= ~Cr4.OSFXSR; });
        AssertHalted(r);
        byte[] b = m.ReadMemory(Area, 512);
        Assert.All(b.AsSpan(160, 256).ToArray(), x => Assert.Equal(0, x));     // RAM was zero: nothing written
        Assert.Equal(s.Mxcsr, U32(b, 24));                                     // MXCSR still saved
        // The restore from an all-zero image loaded x87 state and MXCSR but left the XMM registers.
        Assert.Equal(s.Xmm[3], m.Cpu.GetXmm(3));
        Assert.Equal(0u, m.Cpu.Mxcsr);
        Assert.Equal(0x40, m.Cpu.FpuControlWord);
    }

    [Fact]
    public void FxsaveFxrstorRoundTripsAnyState()
    {
        foreach (bool rexW in new[] { false, true })
        {
            Prop.ForAll(AnyState(rexW).ToArbitrary(), s =>
            {
                var (m, r) = BaselineHarness.Run(a =>
                {
                    a.mov(rbx, Area);
                    if (rexW) a.fxsave64(__[rbx]); else a.fxsave(__[rbx]);
                }, s.Apply);
                AssertHalted(r);
                byte[] image = m.ReadMemory(Area, 512);
                // A second machine in a different state restores the image.
                var m2 = Vtx.Tests.Core.CoreHarness.Load(a =>
                {
                    a.mov(rbx, Area);
                    if (rexW) a.fxrstor64(__[rbx]); else a.fxrstor(__[rbx]);
                    a.hlt();
                }, setup: Sample(true).Apply);
                m2.WriteMemory(Area, image);
                AssertHalted(m2.Run(RunLimits.Instructions(10)));
                var c = m2.Cpu;
                Assert.Equal(s.Describe(), FpState.Of(c).Describe());
            }).Check(Config.QuickThrowOnFailure.WithMaxTest(60));
        }
    }

    /// <summary>
    /// FXRSTOR then FXSAVE of an arbitrary image (valid MXCSR) gives the image back, except the fields
    /// the SDM defines as normalized: FCW reserved bits (7, 15:13 cleared, 6 set), FOP bits 15:11,
    /// FSW.ES/B (follow the unmasked flags) and the reserved bytes, which FXSAVE writes as 0.
    /// </summary>
    [Fact]
    public void FxrstorThenFxsaveReproducesTheImage()
    {
        var gen = from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(v => (byte)v), 416)
                  from mx in Gen.Choose(0, 0xFFFF)
                  from w in Gen.Elements(false, true)
                  select (bytes, mx, w);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (img, mx, rexW) = t;
            img = (byte[])img.Clone();
            BitConverter.TryWriteBytes(img.AsSpan(24), (uint)mx);
            var m = Vtx.Tests.Core.CoreHarness.Load(a =>
            {
                a.mov(rbx, Area);
                if (rexW) { a.fxrstor64(__[rbx]); a.fxsave64(__[rbx + 512]); }
                else { a.fxrstor(__[rbx]); a.fxsave(__[rbx + 512]); }
                a.hlt();
            });
            m.WriteMemory(Area, img);
            AssertHalted(m.Run(RunLimits.Instructions(10)));
            byte[] got = m.ReadMemory(Area + 512, 416);
            byte[] want = (byte[])img.Clone();
            ushort fcw = (ushort)((U16(img, 0) & 0x1F3F) | 0x40);
            BitConverter.TryWriteBytes(want.AsSpan(0), fcw);
            ushort fsw = U16(img, 2);
            fsw = (fsw & ~fcw & 0x3F) != 0 ? (ushort)(fsw | 0x8080) : (ushort)(fsw & ~0x8080);
            BitConverter.TryWriteBytes(want.AsSpan(2), fsw);
            want[5] = 0;
            BitConverter.TryWriteBytes(want.AsSpan(6), (ushort)(U16(img, 6) & 0x7FF));
            if (!rexW) { want[14] = want[15] = 0; want[22] = want[23] = 0; }
            BitConverter.TryWriteBytes(want.AsSpan(28), 0xFFFFu);
            for (int i = 0; i < 8; i++) want.AsSpan(42 + 16 * i, 6).Clear();
            Assert.Equal(Convert.ToHexString(want), Convert.ToHexString(got));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(80));
    }

    [Theory]
    [InlineData(Cr0Bit.Ts)]
    [InlineData(Cr0Bit.Em)]
    public void FxsaveAndFxrstorRaiseNmOnTsOrEm(Cr0Bit bit)
    {
        ulong flag = bit == Cr0Bit.Ts ? Cr0.TS : Cr0.EM;
        foreach (var insn in new Action<Iced.Intel.Assembler>[] { a => a.fxsave(__[rbx]), a => a.fxrstor64(__[rbx]) })
        {
            var (m, r) = BaselineHarness.Run(a => { a.mov(rbx, Area); insn(a); }, c => c.Cr0Value |= flag);
            AssertFault(r, ExceptionVector.NM);
            Assert.All(m.ReadMemory(Area, 512), x => Assert.Equal(0, x));
        }
    }

    public enum Cr0Bit { Ts, Em }

    [Fact]
    public void MisalignedAreaIsGp0AndWritesNothing()
    {
        foreach (var insn in new Action<Iced.Intel.Assembler>[] { a => a.fxsave(__[rbx + 8]), a => a.fxrstor(__[rbx + 8]) })
        {
            var (m, r) = BaselineHarness.Run(a => { a.mov(rbx, Area); insn(a); }, Sample(true).Apply);
            AssertFault(r, ExceptionVector.GP, 0);
            Assert.All(m.ReadMemory(Area, 1024), x => Assert.Equal(0, x));
        }
    }

    [Fact]
    public void FxrstorWithReservedMxcsrBitIsGp0AndLoadsNothing()
    {
        var s = Sample(true);
        var m = Vtx.Tests.Core.CoreHarness.Load(a => { a.mov(rbx, Area); a.fxrstor64(__[rbx]); a.hlt(); }, setup: s.Apply);
        var img = new byte[512];
        img[0] = 0x7F; img[1] = 0x03;
        BitConverter.TryWriteBytes(img.AsSpan(24), 0x1_1F80u); // bit 16 is outside MXCSR_MASK
        m.WriteMemory(Area, img);
        AssertFault(m.Run(RunLimits.Instructions(10)), ExceptionVector.GP, 0);
        Assert.Equal(s.Describe(), FpState.Of(m.Cpu).Describe());
    }

    // ------------------------------------------------------------------ LDMXCSR / STMXCSR

    [Fact]
    public void LdmxcsrStmxcsrRoundTripAndReservedBitsFault()
    {
        var (m, r) = BaselineHarness.Run(a =>
        {
            a.mov(rbx, Area);
            a.mov(__dword_ptr[rbx], 0xFFFF);
            a.ldmxcsr(__dword_ptr[rbx]);
            a.stmxcsr(__dword_ptr[rbx + 4]);
        });
        AssertHalted(r);
        Assert.Equal(0xFFFFu, m.Cpu.Mxcsr);
        Assert.Equal(0xFFFFu, U32(m.ReadMemory(Area, 8), 4));

        var (m2, r2) = BaselineHarness.Run(a =>
        {
            a.mov(rbx, Area);
            a.mov(__dword_ptr[rbx], 0x8000_1F80);
            a.ldmxcsr(__dword_ptr[rbx]);
        });
        AssertFault(r2, ExceptionVector.GP, 0);
        Assert.Equal(0x1F80u, m2.Cpu.Mxcsr);
    }

    [Fact]
    public void LdmxcsrFollowsSseAvailability()
    {
        Action<Iced.Intel.Assembler> body = a => { a.mov(rbx, Area); a.ldmxcsr(__dword_ptr[rbx + 0x100]); };
        AssertFault(BaselineHarness.Run(body, c => c.Cr4Value &= ~Cr4.OSFXSR).R, ExceptionVector.UD);
        AssertFault(BaselineHarness.Run(body, c => c.Cr0Value |= Cr0.EM).R, ExceptionVector.UD);
        AssertFault(BaselineHarness.Run(body, c => c.Cr0Value |= Cr0.TS).R, ExceptionVector.NM);
        AssertFault(BaselineHarness.Run(a => { a.mov(rbx, Area); a.stmxcsr(__dword_ptr[rbx]); }, c => c.Cr0Value |= Cr0.TS).R, ExceptionVector.NM);
    }
}
