using FsCheck.Xunit;
using Vtx.Kit;
using Vtx.Kit.Generators;

namespace Vtx.Tests.Kit;

/// <summary>
/// The README's "Write a VMX property test" example, compiled and run as it is printed there
/// (<see cref="ReadmeExampleTests"/> keeps the two identical).
/// </summary>
public class VmEntryProperties
{
    // README-BEGIN
    [Property(Arbitrary = new[] { typeof(VmxArbitraries) }, MaxTest = 200)]
    public bool EachBrokenCheckFailsAsTheSdmSays(BrokenVmcs broken)
    {
        var bed = new VmxTestBed();                 // 64-bit host in VMX root, a VMCS that enters
        VmxExit exit = bed.Launch(broken.Patch);    // VMLAUNCH with exactly one check broken
        return broken.FailedAsExpected(exit);       // VMfailValid(7/8) or exit 33 + qualification, that check
    }
    // README-END
}
