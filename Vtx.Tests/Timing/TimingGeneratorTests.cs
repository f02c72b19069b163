using Vtx.Timing;
using Xunit;

namespace Vtx.Tests.Timing;

/// <summary>
/// The generator's pieces on fixed inputs (no llvm-mca needed): the llvm-mca report parser on a report in
/// llvm-mca 14's layout, the port-pressure decomposition on pressures whose µops are known, and the facts parser.
/// </summary>
public class TimingGeneratorTests
{
    // Two regions as llvm-mca 14.0.6 prints them (-instruction-info -resource-pressure -iterations=12), trimmed to
    // the parts the parser reads; figures of ADD r,r and of ADD m,r on the Skylake model.
    private const string Report = """

[0] Code Region - f0

Iterations:        12
Instructions:      12
Total Cycles:      15
Total uOps:        12

Instruction Info:
[1]: #uOps
[2]: Latency
[3]: RThroughput
[4]: MayLoad
[5]: MayStore
[6]: HasSideEffects (U)

[1]    [2]    [3]    [4]    [5]    [6]    Instructions:
 1      1     0.25                        addl	%ecx, %edx


Resources:
[0]   - SKLDivider
[1]   - SKLFPDivider
[2]   - SKLPort0
[3]   - SKLPort1
[4]   - SKLPort2
[5]   - SKLPort3
[6]   - SKLPort4
[7]   - SKLPort5
[8]   - SKLPort6
[9]   - SKLPort7


Resource pressure per iteration:
[0]    [1]    [2]    [3]    [4]    [5]    [6]    [7]    [8]    [9]    
 -      -     0.25   0.25    -      -      -     0.25   0.25    -     

Resource pressure by instruction:
[0]    [1]    [2]    [3]    [4]    [5]    [6]    [7]    [8]    [9]    Instructions:
 -      -     0.25   0.25    -      -      -     0.25   0.25    -     addl	%ecx, %edx

[1] Code Region - f1

Iterations:        12
Instructions:      12
Total Cycles:      21
Total uOps:        36

Instruction Info:
[1]: #uOps
[2]: Latency
[3]: RThroughput
[4]: MayLoad
[5]: MayStore
[6]: HasSideEffects (U)

[1]    [2]    [3]    [4]    [5]    [6]    Instructions:
 3      7     1.00    *      *            addl	%edx, 8(%rbx)


Resources:
[0]   - SKLDivider
[1]   - SKLFPDivider
[2]   - SKLPort0
[3]   - SKLPort1
[4]   - SKLPort2
[5]   - SKLPort3
[6]   - SKLPort4
[7]   - SKLPort5
[8]   - SKLPort6
[9]   - SKLPort7


Resource pressure per iteration:
[0]    [1]    [2]    [3]    [4]    [5]    [6]    [7]    [8]    [9]    
 -      -     0.25   0.25   0.67   0.67   1.00   0.25   0.25   0.67   

Resource pressure by instruction:
[0]    [1]    [2]    [3]    [4]    [5]    [6]    [7]    [8]    [9]    Instructions:
 -      -     0.25   0.25   0.67   0.67   1.00   0.25   0.25   0.67   addl	%edx, 8(%rbx)
""";

    [Fact]
    public void ParsesRegionsInstructionInfoAndPressure()
    {
        var r = LlvmMca.Parse(Report);
        Assert.Equal(2, r.Count);
        var add = Assert.Single(r["f0"].Instructions);
        Assert.Equal(12, r["f0"].Iterations);
        Assert.Equal(15, r["f0"].TotalCycles);
        Assert.Equal((1, 1, 0.25, false, false, false), (add.Uops, add.Latency, add.ReciprocalThroughput, add.MayLoad, add.MayStore, add.HasSideEffects));
        Assert.Equal(0.25, add.Pressure["SKLPort6"]);
        Assert.False(add.Pressure.ContainsKey("SKLPort4"));
        var rmw = Assert.Single(r["f1"].Instructions);
        Assert.Equal((3, 7, 1.0, true, true, false), (rmw.Uops, rmw.Latency, rmw.ReciprocalThroughput, rmw.MayLoad, rmw.MayStore, rmw.HasSideEffects));
        Assert.Equal(1.0, rmw.Pressure["SKLPort4"]);
    }

    [Fact]
    public void DecomposesPressureIntoPortGroups()
    {
        var t = TimingGenerator.Targets[0];
        var r = LlvmMca.Parse(Report);
        Assert.Equal("p0156", TimingProfile.FormatPorts(TimingGenerator.Decompose(t, r["f0"].Instructions[0]).ToArray()));
        // ADD m,r: the ALU µop, the load and the STA on p237 (LLVM's group for both), the store data on p4.
        Assert.Equal("p0156+2*p237+p4", TimingProfile.FormatPorts(TimingGenerator.Decompose(t, r["f1"].Instructions[0]).ToArray()));
        // A p0156 µop and a p06 µop (ADC-like): 0.75 on ports 0 and 6, 0.25 on 1 and 5.
        var mixed = new LlvmMca.InstructionReport(2, 1, 0.5, false, false, false, "x", new Dictionary<string, double>
        {
            ["SKLPort0"] = 0.75, ["SKLPort1"] = 0.25, ["SKLPort5"] = 0.25, ["SKLPort6"] = 0.75,
        });
        Assert.Equal("p0156+p06", TimingProfile.FormatPorts(TimingGenerator.Decompose(t, mixed).ToArray()));
    }

    [Theory]
    [InlineData("fact * Add_rm32_r32 r lat=1\n")]               // no source
    [InlineData("fact * NoSuchCode r lat=1 # src\n")]
    [InlineData("fact * mn:NoSuchMnemonic r lat=1 # src\n")]
    [InlineData("fact * Add_rm32_r32 x lat=1 # src\n")]
    [InlineData("fact * Add_rm32_r32\n")]
    public void MalformedFactsAreRejected(string text) =>
        Assert.Throws<FormatException>(() => TimingGenerator.Facts.Parse(text));

    [Fact]
    public void TheFactsFileParses()
    {
        string root = TimingGenerator.RepositoryRoot();
        TimingGenerator.Facts.Parse(File.ReadAllText(Path.Combine(root, TimingGenerator.DataDir, "facts.txt")));
    }
}
