using System.Reflection;
using System.Text;
using Iced.Intel;
using Vtx.Decoding;
using Xunit;

namespace Vtx.Tests.Baseline;

/// <summary>
/// Completeness of the handler table against the CPU model: every Iced code the translator sends to
/// the table (<see cref="Op.Ext"/>) and whose CPUID features the default model offers must have a handler,
/// otherwise the processor advertises a feature whose instructions raise #UD.
/// </summary>
/// <remarks>
/// COMPLETENESS TEST: it fails on a branch that lacks some instruction family (x87, SSE float, SIMD
/// integer...) and prints every missing code grouped by feature; it passes once all families are merged.
/// </remarks>
[Trait("Category", "Completeness")]
public class InstructionTableTests
{
    private static readonly MethodInfo MapMnemonic = typeof(InstructionTranslator).GetMethod("MapMnemonic", BindingFlags.NonPublic | BindingFlags.Static)
        ?? throw new InvalidOperationException("InstructionTranslator.MapMnemonic not found");

    /// <summary>The handler index the translator's mnemonic mapping picks for <paramref name="code"/> (string MOVSD/CMPSD are string instructions).</summary>
    internal static Op OpOf(Code code)
    {
        if (code is Code.Movsd_m32_m32 or Code.Cmpsd_m32_m32) return Op.Movs;
        var ins = new Instruction { Code = code };
        return (Op)MapMnemonic.Invoke(null, new object[] { ins })!;
    }

    /// <summary>Codes the default model offers and the translator sends to the handler table.</summary>
    internal static IEnumerable<Code> OfferedTableCodes(CpuModel model) =>
        Enum.GetValues<Code>().Where(c => c != Code.INVALID && c != Code.Zero_bytes && !c.ToString().StartsWith("DeclareData", StringComparison.Ordinal)
            && !c.ToString().StartsWith("Declare", StringComparison.Ordinal) && c.CpuidFeatures().Length > 0
            && model.OffersAll(c) && OpOf(c) == Op.Ext);

    [Fact]
    public void EveryOfferedTableCodeIsRegistered()
    {
        var model = new CpuModel();
        var missing = OfferedTableCodes(model).Where(c => !Cpu.Ext.Has(c)).ToList();
        var sb = new StringBuilder();
        sb.AppendLine($"COMPLETENESS: {missing.Count} offered codes have no handler (fails until every instruction family is merged):");
        foreach (var g in missing.GroupBy(c => string.Join("+", c.CpuidFeatures())).OrderBy(g => g.Key))
            sb.AppendLine($"  {g.Key} ({g.Count()}): {string.Join(" ", g)}");
        Assert.True(missing.Count == 0, sb.ToString());
    }

    [Fact]
    public void TheBaselineAndStateCodesAreAllRegistered()
    {
        // The part of the list this branch owns: the state instructions and the baseline instructions.
        var mine = new[]
        {
            "FXSR", "XSAVE", "XSAVEOPT", "XSAVEC", "CLFSH", "CLFLUSHOPT", "PREFETCHW", "MULTIBYTENOP",
        };
        var model = new CpuModel();
        var missing = OfferedTableCodes(model).Where(c => !Cpu.Ext.Has(c)
            && (c.CpuidFeatures().Any(f => mine.Contains(f.ToString()))
                || c is Code.Xlat_m8 or Code.Ldmxcsr_m32 or Code.Stmxcsr_m32 or Code.Movnti_m32_r32 or Code.Movnti_m64_r64
                || c.Mnemonic() is Mnemonic.Crc32 or Mnemonic.Lfence or Mnemonic.Mfence or Mnemonic.Sfence
                    or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2)).ToList();
        Assert.True(missing.Count == 0, "missing: " + string.Join(" ", missing));
        // And nothing is registered that the model could never offer by itself (no stray family).
        Assert.Contains(Code.Xrstor_mem, Cpu.Ext.Codes());
    }
}
