using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Tests.Core;
using Vtx.Tests.Support;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Simd;

/// <summary>
/// Every legacy-encoded MMX/SSE-SSE4.2 code of the integer, move, logic, shuffle and string
/// mnemonics (per Iced's opcode tables) has a handler in the instruction table, so none of them
/// is silently #UD on a processor that offers its feature.
/// </summary>
public class SimdIntegerCoverageTests
{
    private static readonly HashSet<CpuidFeature> Features =
        [CpuidFeature.MMX, CpuidFeature.SSE, CpuidFeature.SSE2, CpuidFeature.SSE3, CpuidFeature.SSSE3, CpuidFeature.SSE4_1, CpuidFeature.SSE4_2];

    private static readonly string[] Prefixes =
    [
        "Movaps", "Movups", "Movapd", "Movupd", "Movss", "Movsd", "Movlps", "Movhps", "Movlpd", "Movhpd", "Movlhps", "Movhlps",
        "Movddup", "Movsldup", "Movshdup", "Movd", "Movq", "Movdqa", "Movdqu", "Movq2dq", "Movdq2q", "Movntps", "Movntpd", "Movntdq",
        "Movntq", "Movntdqa", "Lddqu", "Maskmovq", "Maskmovdqu", "Movmskps", "Movmskpd", "Pmovmskb",
        "Andps", "Andnps", "Orps", "Xorps", "Andpd", "Andnpd", "Orpd", "Xorpd", "Pand", "Pandn", "Por", "Pxor",
        "Shufps", "Shufpd", "Unpck", "Pshuf", "Punpck", "Pack", "Blend", "Pblend", "Insertps", "Extractps", "Pinsr", "Pextr",
        "Palignr", "Padd", "Psub", "Pmul", "Pmadd", "Pavg", "Psadbw", "Pmin", "Pmax", "Pabs", "Psign", "Phadd", "Phsub",
        "Pcmpeq", "Pcmpgt", "Psll", "Psrl", "Psra", "Pmovsx", "Pmovzx", "Ptest", "Mpsadbw", "Phminposuw", "Pcmpestr", "Pcmpistr", "Emms",
    ];

    [Fact]
    public void EveryCodeOfTheFamilyIsRegistered()
    {
        var missing = new List<string>();
        int count = 0;
        foreach (Code code in Enum.GetValues<Code>())
        {
            if (code.Encoding() != EncodingKind.Legacy) continue;
            var features = code.CpuidFeatures();
            if (features.Length == 0 || !features.All(Features.Contains)) continue;
            string m = code.Mnemonic().ToString();
            if (!Prefixes.Any(p => m.StartsWith(p, StringComparison.Ordinal))) continue;
            count++;
            if (!Cpu.Ext.Has(code)) missing.Add(code.ToString());
        }
        Assert.True(missing.Count == 0, "not registered: " + string.Join(", ", missing));
        Assert.True(count > 300, $"only {count} codes matched: the filter is wrong");
    }

    /// <summary>The handlers allocate nothing: a loop of MMX/SSE integer, move, shuffle and string instructions runs a million instructions with no managed allocation.</summary>
    [Fact]
    public void HandlersAllocateNothing()
    {
        var m = CoreHarness.Load(Guest.Assemble(a =>
        {
            var top = a.CreateLabel();
            a.mov(ebx, 0x6000);
            a.mov(edi, 0x6100);
            a.Label(ref top);
            a.paddb(xmm1, xmm2);
            a.pshufb(xmm1, xmm3);
            a.pcmpistri(xmm1, __xmmword_ptr[rbx], 0x0C);
            a.pcmpestrm(xmm2, xmm1, 0x44);
            a.movdqu(__xmmword_ptr[rbx + 1], xmm1);
            a.movdqa(xmm4, __xmmword_ptr[rbx]);
            a.maskmovdqu(xmm1, xmm2);
            a.paddsw(mm1, mm2);
            a.pextrw(eax, mm1, 2);
            a.pinsrb(xmm5, eax, 7);
            a.psllw(xmm5, 3);
            a.pmovzxbw(xmm6, xmm5);
            a.phaddsw(xmm6, xmm1);
            a.movd(edx, xmm6);
            a.ptest(xmm6, xmm1);
            a.pmaddwd(xmm6, __xmmword_ptr[rbx]);
            a.shufps(xmm6, xmm1, 0x4E);
            a.packuswb(xmm6, xmm1);
            a.palignr(xmm6, xmm1, 5);
            a.dec(rcx);
            a.jnz(top);
            a.hlt();
        }));
        m.Cpu[Gpr.Rcx] = ulong.MaxValue;
        m.Run(RunLimits.Instructions(10_000)); // decode and JIT
        m.Run(RunLimits.Instructions(10_000));
        long best = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var r = m.Run(RunLimits.Instructions(300_000));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(StopReason.InstructionLimit, r.Reason);
            best = Math.Min(best, allocated);
        }
        Assert.True(best < 1024, $"{best} bytes allocated by 300,000 SIMD instructions");
    }

    /// <summary>
    /// Guest bytes never crash the host: random instructions from the MMX/SSE opcode maps (0F, 66 0F,
    /// F2/F3 0F, 0F 38, 0F 3A, with REX and LOCK sometimes), random registers and addresses, each run
    /// for one instruction ends as a retired instruction or a guest exception, never a .NET exception.
    /// </summary>
    [Fact]
    public void RandomSimdBytesNeverCrashTheHost()
    {
        byte[][] escapes = [[0x0F], [0x66, 0x0F], [0xF3, 0x0F], [0xF2, 0x0F], [0x0F, 0x38], [0x66, 0x0F, 0x38], [0x0F, 0x3A], [0x66, 0x0F, 0x3A],
            [0x66, 0x48, 0x0F], [0x66, 0x4D, 0x0F, 0x3A], [0xF0, 0x66, 0x0F], [0x67, 0x66, 0x0F]];
        var gen = Gen.Zip(Gen.Zip(Gen.Choose(0, escapes.Length - 1), SimdRef.V128, (e, b) => (e, b)), SimdRef.V128, (x, regs) => (x.e, x.b, regs));
        var m = new Machine(new MachineOptions { MemoryMiB = 1, CodeSize = 64 });
        SimdRef.Check(gen, t =>
        {
            var code = new List<byte>(escapes[t.e]);
            for (int i = 0; i < 12; i++) code.Add((byte)(t.b >> (8 * i)));
            m.WriteMemory(Guest.CodeBase, code.ToArray());
            var c = m.Cpu;
            c.Rip = Guest.CodeBase;
            for (int i = 0; i < 16; i++) c[(Gpr)i] = i == 4 ? Guest.StackTop : (i % 3 == 0 ? (ulong)t.regs : (ulong)(t.regs >> 64) & 0xFFFFF);
            c.SetXmm(t.e, t.regs);
            var r = m.Run(RunLimits.Instructions(1));
            Assert.True(Enum.IsDefined(r.Reason), r.ToString());
            return true;
        }, 1500);
    }
}
