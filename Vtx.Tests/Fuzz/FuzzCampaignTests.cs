using Vtx.Fuzz;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Fuzz;

/// <summary>
/// The CI-sized fuzz campaign (samples/Vtx.Fuzz): random guest code in flat and paged modes (with
/// MMIO regions that accesses straddle), VMX hosts with garbage VMCS fields and random exit-handler
/// actions, and mutated boot images — every case run twice. Any host exception, run beyond its
/// bound, or difference between the two runs fails the test with the command that replays the case.
/// The long campaign is `dotnet run -c Release --project samples/Vtx.Fuzz -- --minutes 30`.
/// </summary>
public sealed class FuzzCampaignTests(ITestOutputHelper output)
{
    [Fact]
    public void CiCampaign_FindsNothing_AndCoversTheMinimum()
    {
        var report = FuzzCampaign.Run(new FuzzOptions
        {
            Seed = 20261203,
            CasesPerKind = 110,
            Kinds = [FuzzKind.Code, FuzzKind.Paged, FuzzKind.Vmx, FuzzKind.Loader],
        });
        output.WriteLine(report.ToString());
        foreach (var f in report.Findings) output.WriteLine(f.ToString());
        Assert.True(report.Findings.Count == 0, string.Join("\n", report.Findings));
        Assert.True(report.Instructions >= 1_000_000, $"only {report.Instructions:N0} guest instructions");
        Assert.True(report.VmEntries >= 10_000, $"only {report.VmEntries:N0} VM entries");
    }

    /// <summary>Cases the fuzzer once found, replayed (each a regression test).</summary>
    [Theory]
    [InlineData(FuzzKind.Code, 0x467892BE2266AA44UL)] // a guest access straddling the end of an MMIO region threw ArgumentOutOfRangeException (issue 9, defect 11)
    [InlineData(FuzzKind.Paged, 0x66D90EC80086AA4AUL)] // a loop of faulting deliveries retired nothing, so MaxInstructions alone never ended the run
    public void FoundCases_StayFixed(FuzzKind kind, ulong seed)
    {
        var f = FuzzCampaign.Check(kind, seed, new FuzzOptions(), out CaseResult r);
        output.WriteLine($"{kind} {seed:X16}: {r}");
        Assert.True(f is null, f?.ToString());
    }
}
