using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Float;
using Vtx.Tests.Core;
using Vtx.Tests.Support;
using Xunit;

namespace Vtx.Tests.Baseline;

/// <summary>Helpers of the baseline tests: running a few instructions, full-range x87/SSE states, reading guest memory.</summary>
internal static class BaselineHarness
{
    /// <summary>Where the tests put save areas (64-byte aligned, in RAM, away from code and stack).</summary>
    public const ulong Area = 0x2_0000;

    /// <summary>Loads <paramref name="body"/> + HLT on a 64-bit flat machine, applies <paramref name="setup"/>, runs to HLT or a fault.</summary>
    public static (Machine M, RunResult R) Run(Action<Assembler> body, Action<Cpu>? setup = null, CpuModel? model = null, int bitness = 64)
    {
        var m = CoreHarness.Load(a => { body(a); a.hlt(); }, bitness, model, setup);
        var r = m.Run(RunLimits.Instructions(10_000));
        return (m, r);
    }

    /// <summary>Enables CR4.OSXSAVE (the flat machine already has OSFXSR/OSXMMEXCPT) and XCR0 = x87 | SSE.</summary>
    public static void EnableXsave(Cpu c)
    {
        c.Cr4Value |= Cr4.OSXSAVE;
        c.Xcr0 = 3;
    }

    public static void AssertFault(RunResult r, ExceptionVector v, uint? err = null)
    {
        Assert.Equal(StopReason.Exception, r.Reason);
        Assert.Equal(v, r.Fault!.Value.Vector);
        if (err is uint e) Assert.Equal(e, r.Fault!.Value.ErrorCode);
    }

    public static void AssertHalted(RunResult r) => Assert.True(r.Reason == StopReason.Halted, "did not halt: " + r);

    public static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    public static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    public static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    /// <summary>A complete x87/SSE register state, set and read through the processor's fields.</summary>
    public sealed record FpState(
        ushort Fcw, ushort FswNoTop, int Top, byte Empty, ushort Fop, ulong Fip, ulong Fdp, ushort Fcs, ushort Fds,
        uint Mxcsr, Float80[] Regs, UInt128[] Xmm)
    {
        public void Apply(Cpu c)
        {
            c._fpuControl = Fcw;
            c._fpuStatus = FswNoTop;
            c._fpuTop = Top;
            c._fpuEmpty = Empty;
            c._fpuOpcode = Fop;
            c._fpuIp = Fip;
            c._fpuDp = Fdp;
            c._fpuCs = Fcs;
            c._fpuDs = Fds;
            c.Mxcsr = Mxcsr;
            for (int i = 0; i < 8; i++) c.SetFpuRegister(i, Regs[i]);
            for (int i = 0; i < 16; i++) c.SetXmm(i, Xmm[i]);
        }

        public static FpState Of(Cpu c) => new(c._fpuControl, c._fpuStatus, c._fpuTop, c._fpuEmpty, c._fpuOpcode, c._fpuIp, c._fpuDp,
            c._fpuCs, c._fpuDs, c.Mxcsr, Enumerable.Range(0, 8).Select(c.GetFpuRegister).ToArray(),
            Enumerable.Range(0, 16).Select(c.GetXmm).ToArray());

        public string Describe() =>
            $"fcw={Fcw:X4} fsw={FswNoTop:X4} top={Top} empty={Empty:X2} fop={Fop:X3} fip={Fip:X} fdp={Fdp:X} fcs={Fcs:X} fds={Fds:X} mxcsr={Mxcsr:X} "
            + string.Join(",", Regs) + " " + string.Join(",", Xmm.Select(x => x.ToString("X32")));
    }

    private static readonly Gen<ulong> Full64 = CoreHarness.Full64;

    /// <summary>Full-range 80-bit values mixed with the special encodings (zeros, denormals, pseudo-denormals, infinities, NaNs, unnormals, indefinite).</summary>
    public static readonly Gen<Float80> AnyFloat80 = Gen.Frequency(
        (4, Gen.Zip(Full64, Gen.Choose(0, 0xFFFF)).Select(t => new Float80(t.Item1, (ushort)t.Item2))),
        (2, Gen.Elements(
            new Float80(0, 0), new Float80(0, 0x8000), new Float80(1, 0), new Float80(0x7FFF_FFFF_FFFF_FFFF, 0x8000),
            new Float80(0x8000_0000_0000_0000, 0), new Float80(0x8000_0000_0000_0000, 0x7FFF), new Float80(0x8000_0000_0000_0000, 0xFFFF),
            new Float80(0xC000_0000_0000_0000, 0xFFFF), new Float80(0xA000_0000_0000_0000, 0x7FFF), new Float80(0x4000_0000_0000_0000, 0x3FFF),
            new Float80(ulong.MaxValue, 0x7FFE), new Float80(0x8000_0000_0000_0000, 0x0001))));

    private static Gen<UInt128> AnyXmm => Gen.Zip(Full64, Full64).Select(t => new UInt128(t.Item1, t.Item2));

    /// <summary>Valid MXCSR values (any bit of MXCSR_MASK = FFFFh).</summary>
    private static Gen<uint> AnyMxcsr => Gen.Frequency((3, Gen.Choose(0, 0xFFFF).Select(v => (uint)v)), (1, Gen.Elements(0x1F80u, 0u, 0xFFFFu)));

    /// <summary>
    /// Full-range states. FSW's ES (bit 7) and B (bit 15) are generated consistent with the unmasked
    /// flags, as the SDM defines them (Vol. 1, 8.1.3: ES = any unmasked exception flag; B mirrors ES). With
    /// <paramref name="wideFip"/> (the REX.W format) FIP/FDP are 64-bit and FCS/FDS 0 (that format has no selectors).
    /// </summary>
    public static Gen<FpState> AnyState(bool wideFip) =>
        from fcwRaw in Gen.Choose(0, 0xFFFF)
        from fswRaw in Gen.Choose(0, 0xFFFF)
        from top in Gen.Choose(0, 7)
        from empty in Gen.Choose(0, 255)
        from fop in Gen.Choose(0, 0x7FF)
        from fip in Full64
        from fdp in Full64
        from sel in Gen.Choose(0, int.MaxValue)
        from mx in AnyMxcsr
        from regs in Gen.ArrayOf(AnyFloat80, 8)
        from xmm in Gen.ArrayOf(AnyXmm, 16)
        let fcw = (ushort)((fcwRaw & 0x1F3F) | 0x40)
        let pending = (fswRaw & ~fcw & 0x3F) != 0
        let fsw = (ushort)((pending ? fswRaw | 0x8080 : fswRaw & ~0x8080) & ~0x3800)
        select new FpState(fcw, fsw, top, (byte)empty, (ushort)fop, wideFip ? fip : (uint)fip, wideFip ? fdp : (uint)fdp,
            wideFip ? (ushort)0 : (ushort)sel, wideFip ? (ushort)0 : (ushort)(sel >> 16), mx, regs, xmm);
}
