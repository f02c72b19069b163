using Iced.Intel;
using Xunit;

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
}
