using System.Text;
using Vtx.Vmx;

namespace Vtx.Kit;

/// <summary>One VMCS field value of a <see cref="VmcsPatch"/>.</summary>
/// <param name="Field">The field (SDM Vol. 3C, Appendix B).</param>
/// <param name="Value">The value written (truncated to the field's width, as VMWRITE does; SDM Vol. 3C, 24.11.2).</param>
public readonly record struct VmcsWrite(VmcsField Field, ulong Value)
{
    /// <summary>"GuestRip = 0x30000".</summary>
    public override string ToString() => $"{Field} = 0x{Value:X}";
}

/// <summary>
/// An ordered set of VMCS field values applied over a template: the unit the kit's generators produce (a guest
/// state, a control set, a state that breaks one VM-entry check) and <see cref="VmxTestBed.Apply"/> writes.
/// Immutable; a later write to the same field replaces the earlier one.
/// </summary>
public sealed class VmcsPatch
{
    private readonly VmcsWrite[] _writes;

    private VmcsPatch(VmcsWrite[] writes) => _writes = writes;

    /// <summary>The patch that changes nothing.</summary>
    public static VmcsPatch Empty { get; } = new([]);

    /// <summary>The field values, in order of first write.</summary>
    public IReadOnlyList<VmcsWrite> Writes => _writes;

    /// <summary>This patch with <paramref name="field"/> := <paramref name="value"/> (replacing an earlier value of the field).</summary>
    public VmcsPatch With(VmcsField field, ulong value)
    {
        int i = Array.FindIndex(_writes, w => w.Field == field);
        var copy = i >= 0 ? (VmcsWrite[])_writes.Clone() : [.. _writes, default];
        copy[i >= 0 ? i : copy.Length - 1] = new VmcsWrite(field, value);
        return new VmcsPatch(copy);
    }

    /// <summary>This patch followed by <paramref name="other"/> (whose values win).</summary>
    public VmcsPatch Then(VmcsPatch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var p = this;
        foreach (var w in other._writes) p = p.With(w.Field, w.Value);
        return p;
    }

    /// <summary>The patch's value of <paramref name="field"/>, if it writes it.</summary>
    public bool TryGet(VmcsField field, out ulong value)
    {
        foreach (var w in _writes)
            if (w.Field == field) { value = w.Value; return true; }
        value = 0;
        return false;
    }

    /// <summary>The patch's value of <paramref name="field"/>, or <paramref name="otherwise"/>.</summary>
    public ulong GetOrDefault(VmcsField field, ulong otherwise) => TryGet(field, out ulong v) ? v : otherwise;

    /// <summary>Writes every value into <paramref name="vmcs"/> through the host API (no VMWRITE checks).</summary>
    public void ApplyTo(Vmcs vmcs)
    {
        ArgumentNullException.ThrowIfNull(vmcs);
        foreach (var w in _writes) vmcs.Write(w.Field, w.Value);
    }

    /// <summary>The values as "field = value" pairs.</summary>
    public override string ToString()
    {
        if (_writes.Length == 0) return "(no change)";
        var sb = new StringBuilder();
        foreach (var w in _writes) sb.Append(sb.Length == 0 ? "" : ", ").Append(w);
        return sb.ToString();
    }
}
