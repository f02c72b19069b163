using FsCheck;
using FsCheck.Fluent;
using Vtx.Kit;

namespace Vtx.Kit.Generators;

/// <summary>
/// <see cref="Arbitrary{T}"/> instances of the <see cref="VmxGen"/> generators for the default processor model
/// (<c>new CpuModel()</c>), for <c>[Property(Arbitrary = new[] { typeof(VmxArbitraries) })]</c>. None shrinks:
/// a VMCS state is shrunk by hand more usefully than by FsCheck.
/// </summary>
public static class VmxArbitraries
{
    private static readonly CpuModel Model = new();

    /// <summary>Control sets that respect the default capability MSRs (<see cref="VmxGen.Controls"/>).</summary>
    public static Arbitrary<VmxControlSet> ControlSet() => Arb.From(VmxGen.Controls(Model.Vmx!));

    /// <summary>States that pass VM entry on <see cref="VmxTestBed"/> (<see cref="VmxGen.ValidState"/>).</summary>
    public static Arbitrary<ValidVmcs> Valid() => Arb.From(VmxGen.ValidState(Model));

    /// <summary>States that fail exactly one named VM-entry check (<see cref="VmxGen.BrokenState"/>).</summary>
    public static Arbitrary<BrokenVmcs> Broken() => Arb.From(VmxGen.BrokenState(Model));

    /// <summary>Event schedules (<see cref="VmxGen.Events"/> with its defaults).</summary>
    public static Arbitrary<EventSchedule> Schedule() => Arb.From(VmxGen.Events());

    /// <summary>Small 64-bit guest programs (<see cref="VmxGen.Programs"/> with its defaults).</summary>
    public static Arbitrary<GuestProgram> Program() => Arb.From(VmxGen.Programs());
}
