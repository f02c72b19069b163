using Vtx.Tests.Native;
using Vtx.Tests.NativeTests;
using Xunit;

namespace Vtx.Tests.Differential;

/// <summary>
/// The native oracle's x87/SSE extension: FXRSTOR64 of the input image before the instruction, FXSAVE64 after it.
/// Expected values are worked out by hand from the SDM (IEEE binary32 encodings, x87 FLD1 and the FOP formation rule).
/// </summary>
public sealed class SimdOracleTests
{
    private static FxState RandomState(Random r)
    {
        var fx = new FxState
        {
            Fcw = (ushort)(0x0040 | FxState.FcwMasks | (r.Next(4) << 10) | ((r.Next(3) is var pc && pc == 1 ? 3 : pc) << 8)),
            Fsw = (ushort)((r.Next(0x80) & 0x7F) | (r.Next(16) << 8 & 0x4700) | (r.Next(8) << 11)),
            Ftw = (byte)r.Next(256),
            Fop = (ushort)r.Next(0x800),
            Fip = (ulong)r.NextInt64(),
            Fdp = (ulong)r.NextInt64(),
            Mxcsr = FxState.MxcsrMasks | (uint)r.Next(0x40) | ((uint)r.Next(4) << 13) | (r.Next(2) == 0 ? 0x8000u : 0) | (r.Next(2) == 0 ? 0x40u : 0),
        };
        for (int i = 0; i < 8; i++) fx.SetSt(i, (ulong)r.NextInt64() | (1UL << 63), (ushort)r.Next(0x10000));
        for (int i = 0; i < 16; i++) fx.SetXmm(i, new UInt128((ulong)r.NextInt64(), (ulong)r.NextInt64()));
        return fx;
    }

    [NativeFact]
    public void NopRoundTripsTheWholeState()
    {
        using var native = new NativeExecutor();
        var r = new Random(12345);
        for (int n = 0; n < 20; n++)
        {
            FxState input = RandomState(r);
            var s = CpuSnapshot.CreateDefault();
            s.Fx = input;
            FxState output = native.Run([0x90], s).Fx!;
            Assert.Equal(input.Fcw, output.Fcw);
            Assert.Equal(input.Fsw, output.Fsw);
            Assert.Equal(input.Ftw, output.Ftw);
            Assert.Equal(input.Mxcsr, output.Mxcsr);
            for (int i = 0; i < 8; i++) Assert.Equal(input.GetSt(i), output.GetSt(i));
            for (int i = 0; i < 16; i++) Assert.Equal(input.GetXmm(i), output.GetXmm(i));
        }
    }

    [NativeFact]
    public void AddpsWithHighRegistersAndMxcsrFlags()
    {
        using var native = new NativeExecutor();
        var s = CpuSnapshot.CreateDefault();
        s.Fx = new FxState();
        // 1.5f = 3FC00000h, 2.25f = 40100000h, 3.75f = 40700000h (exact: no flag); lane 3: 1.0f + 2^-30 is inexact (PE).
        s.Fx.SetXmm(9, new UInt128(0x3F800000_3FC00000, 0x3FC00000_3FC00000));
        s.Fx.SetXmm(2, new UInt128(0x30800000_40100000, 0x40100000_40100000));
        CpuSnapshot o = native.Run([0x44, 0x0F, 0x58, 0xCA], s); // addps xmm9, xmm2
        Assert.Equal(new UInt128(0x3F800000_40700000, 0x40700000_40700000), o.Fx!.GetXmm(9));
        Assert.Equal(0x1F80u | 0x20u, o.Fx.Mxcsr); // PE (bit 5)
        Assert.Equal(s.Fx.GetXmm(2), o.Fx.GetXmm(2));
    }

    [NativeFact]
    public void Fld1PushesAndRecordsPointers()
    {
        using var native = new NativeExecutor();
        var s = CpuSnapshot.CreateDefault();
        s.Fx = new FxState();
        CpuSnapshot o = native.Run([0xD9, 0xE8], s); // fld1
        FxState fx = o.Fx!;
        Assert.Equal(7, fx.Top);
        Assert.Equal(0x80, fx.Ftw);
        Assert.Equal((0x8000_0000_0000_0000UL, (ushort)0x3FFF), fx.GetSt(0));
        // FOP = bits 2:0 of the first opcode byte, then the ModR/M byte (SDM Vol. 1, 8.1.9.1): D9 E8 -> 1E8h.
        // AMD processors store FOP/FIP/FDP with FXSAVE only while an exception is pending (FSW.ES = 1; AMD APM Vol. 4,
        // FXSAVE); observed on this AMD EPYC host despite CPUID XSaveErPtr, so the differential runner never compares them.
        if (SimdHostFeatures.IsAmd)
            Assert.Equal((0, 0UL, 0UL), (fx.Fop, fx.Fip, fx.Fdp));
        else
            Assert.Equal((0x1E8, NativeExecutor.CodeAddress), (fx.Fop, fx.Fip));
    }

    [NativeFact]
    public void ComissSetsEflags()
    {
        using var native = new NativeExecutor();
        var s = CpuSnapshot.CreateDefault();
        s.Rflags = NativeRflags.Status;
        s.Fx = new FxState();
        s.Fx.SetXmm(0, 0x7FC00000); // QNaN: unordered -> ZF PF CF = 111, OF SF AF cleared, IE (COMISS signals on QNaN)
        CpuSnapshot o = native.Run([0x0F, 0x2F, 0xC1], s); // comiss xmm0, xmm1
        Assert.Equal(NativeRflags.ZF | NativeRflags.PF | NativeRflags.CF, o.StatusFlags);
        Assert.Equal(0x1F81u, o.Fx!.Mxcsr);
    }

    [NativeFact]
    public void RefusesUnmaskedExceptions()
    {
        using var native = new NativeExecutor();
        var s = CpuSnapshot.CreateDefault();
        s.Fx = new FxState { Mxcsr = 0x1F00 };
        Assert.Throws<ArgumentException>(() => native.Run([0x90], s));
        s.Fx = new FxState { Fcw = 0x037E };
        Assert.Throws<ArgumentException>(() => native.Run([0x90], s));
        s.Fx = new FxState { Fsw = 0x0081 };
        Assert.Throws<ArgumentException>(() => native.Run([0x90], s));
        s.Fx = new FxState { Mxcsr = 0x1F80 | (1u << 20) };
        Assert.Throws<ArgumentException>(() => native.Run([0x90], s));
    }
}
