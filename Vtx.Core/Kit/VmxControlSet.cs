using System.Reflection;
using Vtx.Vmx;

namespace Vtx.Kit;

/// <summary>
/// The five 32-bit VMX control fields a VMCS template sets: pin-based (4000h), primary (4002h) and
/// secondary (401Eh) processor-based VM-execution controls, VM-exit controls (400Ch) and VM-entry controls
/// (4012h) (SDM Vol. 3C, 24.6.1-24.6.2, 24.7.1, 24.8.1). Values are the controls a hypervisor wants;
/// <see cref="Adjust"/> applies the capability MSRs as a VMM must before writing them (SDM A.3-A.5).
/// </summary>
/// <param name="PinBased">Pin-based VM-execution controls (<see cref="PinBasedControls"/>).</param>
/// <param name="PrimaryProcessorBased">Primary processor-based VM-execution controls (<see cref="PrimaryProcessorBasedControls"/>).</param>
/// <param name="SecondaryProcessorBased">Secondary processor-based VM-execution controls (<see cref="SecondaryProcessorBasedControls"/>); when nonzero, <see cref="Adjust"/> also requests "activate secondary controls".</param>
/// <param name="Exit">VM-exit controls (<see cref="ExitControls"/>).</param>
/// <param name="Entry">VM-entry controls (<see cref="EntryControls"/>).</param>
public readonly record struct VmxControlSet(uint PinBased, uint PrimaryProcessorBased, uint SecondaryProcessorBased, uint Exit, uint Entry)
{
    /// <summary>
    /// What a 64-bit hypervisor running a 64-bit guest needs at least: "host address-space size" (exit control 9)
    /// and "IA-32e mode guest" (entry control 9), nothing else (SDM Vol. 3C, 24.7.1, 24.8.1, 26.2.4).
    /// </summary>
    public static VmxControlSet LongModeGuest { get; } = new(0, 0, 0, ExitControls.HostAddressSpaceSize, EntryControls.Ia32eModeGuest);

    /// <summary>The value of one field of this set.</summary>
    public uint this[VmxControlKind kind] => kind switch
    {
        VmxControlKind.PinBased => PinBased,
        VmxControlKind.PrimaryProcessorBased => PrimaryProcessorBased,
        VmxControlKind.SecondaryProcessorBased => SecondaryProcessorBased,
        VmxControlKind.Exit => Exit,
        _ => Entry,
    };

    /// <summary>This set with field <paramref name="kind"/> replaced by <paramref name="value"/>.</summary>
    public VmxControlSet With(VmxControlKind kind, uint value) => kind switch
    {
        VmxControlKind.PinBased => this with { PinBased = value },
        VmxControlKind.PrimaryProcessorBased => this with { PrimaryProcessorBased = value },
        VmxControlKind.SecondaryProcessorBased => this with { SecondaryProcessorBased = value },
        VmxControlKind.Exit => this with { Exit = value },
        _ => this with { Entry = value },
    };

    /// <summary>The five control kinds in VMCS order.</summary>
    public static IReadOnlyList<VmxControlKind> Kinds { get; } =
        [VmxControlKind.PinBased, VmxControlKind.PrimaryProcessorBased, VmxControlKind.SecondaryProcessorBased, VmxControlKind.Exit, VmxControlKind.Entry];

    /// <summary>The VMCS field that holds controls of <paramref name="kind"/> (SDM Vol. 3C, Appendix B.3.1).</summary>
    public static VmcsField FieldOf(VmxControlKind kind) => kind switch
    {
        VmxControlKind.PinBased => VmcsField.PinBasedVmExecControls,
        VmxControlKind.PrimaryProcessorBased => VmcsField.PrimaryProcBasedVmExecControls,
        VmxControlKind.SecondaryProcessorBased => VmcsField.SecondaryProcBasedVmExecControls,
        VmxControlKind.Exit => VmcsField.VmExitControls,
        _ => VmcsField.VmEntryControls,
    };

    /// <summary>
    /// The capability MSR VM entry consults for <paramref name="kind"/>: the TRUE MSR when IA32_VMX_BASIC[55] = 1,
    /// else the plain one; IA32_VMX_PROCBASED_CTLS2 for secondary controls (SDM Vol. 3C, A.2-A.5).
    /// </summary>
    public static uint CapabilityMsr(VmxCapabilities caps, VmxControlKind kind)
    {
        ArgumentNullException.ThrowIfNull(caps);
        bool t = caps.TrueControls;
        return kind switch
        {
            VmxControlKind.PinBased => t ? VmxMsr.TruePinBasedCtls : VmxMsr.PinBasedCtls,
            VmxControlKind.PrimaryProcessorBased => t ? VmxMsr.TrueProcBasedCtls : VmxMsr.ProcBasedCtls,
            VmxControlKind.SecondaryProcessorBased => VmxMsr.ProcBasedCtls2,
            VmxControlKind.Exit => t ? VmxMsr.TrueExitCtls : VmxMsr.ExitCtls,
            _ => t ? VmxMsr.TrueEntryCtls : VmxMsr.EntryCtls,
        };
    }

    /// <summary>
    /// The allowed settings of <paramref name="kind"/> as software reads them with RDMSR from
    /// <see cref="CapabilityMsr"/>: bits 31:0 allowed-0 (must be 1), bits 63:32 allowed-1 (may be 1) (SDM Vol. 3C, A.3.1).
    /// A processor without secondary controls reports none allowed.
    /// </summary>
    public static VmxAllowedSettings AllowedSettings(VmxCapabilities caps, VmxControlKind kind)
    {
        ArgumentNullException.ThrowIfNull(caps);
        return caps.TryReadMsr(CapabilityMsr(caps, kind), out ulong v) ? VmxAllowedSettings.FromMsr(v) : new VmxAllowedSettings(0, 0);
    }

    /// <summary>
    /// This set adjusted by the capability MSRs as SDM Vol. 3C, A.3-A.5 (and 31.5.1) prescribe: each field becomes
    /// (requested | allowed-0) &amp; allowed-1, and "activate secondary controls" is requested when any secondary
    /// control is. Every requested bit must survive.
    /// </summary>
    /// <exception cref="VmxControlUnsupportedException">A requested control's allowed-1 bit is 0 (the CPU cannot provide it); the exception names it.</exception>
    public VmxControlSet Adjust(VmxCapabilities caps) =>
        TryAdjust(caps, out var adjusted, out var missing) ? adjusted : throw new VmxControlUnsupportedException(missing!.Value.Kind, missing.Value.Bit, caps);

    /// <summary>
    /// As <see cref="Adjust"/>, without throwing: false with the first requested control (field and bit number)
    /// whose allowed-1 setting is 0 (SDM Vol. 3C, A.3-A.5).
    /// </summary>
    public bool TryAdjust(VmxCapabilities caps, out VmxControlSet adjusted, out (VmxControlKind Kind, int Bit)? unsupported)
    {
        ArgumentNullException.ThrowIfNull(caps);
        var requested = SecondaryProcessorBased != 0
            ? this with { PrimaryProcessorBased = PrimaryProcessorBased | PrimaryProcessorBasedControls.ActivateSecondaryControls }
            : this;
        adjusted = default;
        foreach (var kind in Kinds)
        {
            uint want = requested[kind];
            var s = AllowedSettings(caps, kind);
            uint value = (want | s.Allowed0) & s.Allowed1;
            if (kind == VmxControlKind.SecondaryProcessorBased && want == 0) value = 0; // no secondary controls: the field is not used
            uint lost = want & ~value;
            if (lost != 0)
            {
                unsupported = (kind, System.Numerics.BitOperations.TrailingZeroCount(lost));
                return false;
            }
            adjusted = adjusted.With(kind, value);
        }
        unsupported = null;
        return true;
    }

    /// <summary>
    /// The SDM name of control bit <paramref name="bit"/> of <paramref name="kind"/> as Vtx spells it (the constant's
    /// name in <see cref="PinBasedControls"/> etc., e.g. "NmiExiting"), or "bit N" for a bit with no name
    /// (SDM Vol. 3C, 24.6-24.8).
    /// </summary>
    public static string ControlName(VmxControlKind kind, int bit)
    {
        var type = kind switch
        {
            VmxControlKind.PinBased => typeof(PinBasedControls),
            VmxControlKind.PrimaryProcessorBased => typeof(PrimaryProcessorBasedControls),
            VmxControlKind.SecondaryProcessorBased => typeof(SecondaryProcessorBasedControls),
            VmxControlKind.Exit => typeof(ExitControls),
            _ => typeof(EntryControls),
        };
        foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Static))
            if (f.IsLiteral && f.FieldType == typeof(uint) && f.Name != "Default1" && (uint)f.GetRawConstantValue()! == 1u << bit)
                return f.Name;
        return $"bit {bit}";
    }

    /// <summary>The set in hex, field by field.</summary>
    public override string ToString() =>
        $"pin 0x{PinBased:X8} proc 0x{PrimaryProcessorBased:X8} proc2 0x{SecondaryProcessorBased:X8} exit 0x{Exit:X8} entry 0x{Entry:X8}";
}

/// <summary>
/// A control a VMCS template requested that the processor cannot provide: its allowed-1 bit in the capability
/// MSR is 0, so VM entry would fail with VMfailValid(7) (SDM Vol. 3C, A.3-A.5, 26.2.1).
/// </summary>
public sealed class VmxControlUnsupportedException : InvalidOperationException
{
    /// <summary>Creates the exception for control bit <paramref name="bit"/> of field <paramref name="kind"/>.</summary>
    public VmxControlUnsupportedException(VmxControlKind kind, int bit, VmxCapabilities caps)
        : base($"the {kind} control {VmxControlSet.ControlName(kind, bit)} (bit {bit}) is not supported: its allowed-1 bit in " +
               $"capability MSR 0x{VmxControlSet.CapabilityMsr(caps, kind):X} is 0 (SDM Vol. 3C, A.3-A.5)")
    {
        Kind = kind;
        Bit = bit;
    }

    /// <summary>The control field.</summary>
    public VmxControlKind Kind { get; }

    /// <summary>The control's bit number in its field.</summary>
    public int Bit { get; }

    /// <summary>The control's name (<see cref="VmxControlSet.ControlName"/>).</summary>
    public string ControlName => VmxControlSet.ControlName(Kind, Bit);
}
