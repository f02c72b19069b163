using FsCheck;
using FsCheck.Fluent;
using Vtx.Vmx;
using Xunit;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Bad guest input is normal input: a VMCS with garbage in any fields, and a guest running random
/// bytes, must end in architectural results (VMfail, entry failure, VM exits, faults, shutdown or a
/// limit) — never a host exception or a hang.
/// </summary>
public class VmxRobustnessTests
{
    private static readonly VmcsField[] Fields = VmcsField.AllFields.Where(f => VmxCapabilities.Default.Supports(f)).ToArray();

    [Fact]
    public void GarbageInVmcsFieldsAndGuestCodeNeverBreaksTheHost()
    {
        var gen =
            from count in Gen.Choose(1, 8)
            from picks in Gen.ArrayOf(Gen.Choose(0, Fields.Length - 1), count)
            from his in Gen.ArrayOf(Gen.Choose(int.MinValue, int.MaxValue), count)
            from los in Gen.ArrayOf(Gen.Choose(int.MinValue, int.MaxValue), count)
            from code in Gen.ArrayOf(Gen.Choose(0, 255), 48)
            select (picks, his, los, code);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var g = new VmxGuest();
            g.S.M.WriteMemory(VmxGuest.GuestCode, t.code.Select(b => (byte)b).ToArray());
            for (int i = 0; i < t.picks.Length; i++)
                g.W(Fields[t.picks[i]], ((ulong)(uint)t.his[i] << 32) | (uint)t.los[i]);
            var r = g.Launch(3_000);
            // Whatever happened, the machine is in a consistent, reportable state.
            Assert.True(Enum.IsDefined(r.Reason), r.ToString());
            Assert.True(r.Instructions <= 3_000);
            Assert.All(g.Transitions, tr => Assert.True(Enum.IsDefined(tr.Kind)));
            if (g.Cpu.LastVmEntryFailure is { } f) Assert.False(string.IsNullOrEmpty(f.Check));
            return true;
        }).QuickCheckThrowOnFailure();
    }
}
