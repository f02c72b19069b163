using System.Globalization;
using System.Text;

namespace Vtx.Vmx;

/// <summary>The class of a failed VM-entry check: what the failure looks like to software (SDM Vol. 3C, 26.2-26.4, 26.7).</summary>
public enum VmEntryCheckClass
{
    /// <summary>A VM-execution, VM-exit or VM-entry control field (SDM 26.2.1): VMfailValid with error 7.</summary>
    ControlFields = 7,
    /// <summary>A host-state field (SDM 26.2.2-26.2.4): VMfailValid with error 8.</summary>
    HostState = 8,
    /// <summary>A guest-state field (SDM 26.3.1): VM-entry failure, exit reason 33 with bit 31 set.</summary>
    GuestState = 33,
    /// <summary>An entry of the VM-entry MSR-load list (SDM 26.4): VM-entry failure, exit reason 34 with bit 31 set.</summary>
    MsrLoading = 34,
}

/// <summary>
/// Which VM-entry check failed, beyond what silicon reports: the check's name, the field and value
/// that failed it, and the SDM section that defines it (2016 numbering: VM entries = chapter 26).
/// </summary>
/// <param name="Class">Control, host-state, guest-state or MSR-load check.</param>
/// <param name="Check">A stable dotted name, e.g. <c>guest.interruptibility.nmi-injection-mov-ss</c>.</param>
/// <param name="Field">The VMCS field the check reads (null for an MSR-list entry or a memory structure).</param>
/// <param name="Value">The value that failed the check.</param>
/// <param name="Section">The SDM section, e.g. "26.3.1.5".</param>
/// <param name="Description">What the check requires, in words.</param>
/// <param name="Qualification">The exit qualification a VM-entry failure reports (0, 2 PDPTEs, 3 NMI injection, 4 link pointer; for MSR loading the 1-based entry index).</param>
public sealed record VmEntryFailure(VmEntryCheckClass Class, string Check, VmcsField? Field, ulong Value, string Section,
    string Description, uint Qualification = 0)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Check} ({Class}, SDM {Section}): {Description}; " +
        (Field is { } f ? $"{f} = 0x{Value:X}" : $"value 0x{Value:X}");
}

/// <summary>What a VMX transition was.</summary>
public enum VmxTransitionKind
{
    /// <summary>A successful VMLAUNCH or VMRESUME: the processor entered VMX non-root operation.</summary>
    Entry,
    /// <summary>VMLAUNCH/VMRESUME failed before entering (VMfailInvalid or VMfailValid; SDM 26.1, 26.2).</summary>
    EntryFail,
    /// <summary>A VM-entry failure: exit reason 33/34 with bit 31 set, host state loaded (SDM 26.7).</summary>
    EntryFailure,
    /// <summary>A VM exit (SDM chapter 27).</summary>
    Exit,
    /// <summary>A VMX abort: the abort indicator was written and the processor shut down (SDM 27.7).</summary>
    Abort,
}

/// <summary>
/// One VMX transition as the host observes it (<see cref="Cpu.VmxTransitionObserved"/>): the exit
/// information fields as the VMCS holds them after the transition, plus the cycle and guest RIP.
/// </summary>
/// <param name="Kind">Entry, failed entry or exit.</param>
/// <param name="Cycle">The cycle count when the transition completed.</param>
/// <param name="ExitReason">The exit-reason field (bit 31 set for VM-entry failures; 0 for entries).</param>
/// <param name="Qualification">The exit qualification.</param>
/// <param name="InterruptionInfo">VM-exit interruption information (for an entry: the VM-entry interruption information injected).</param>
/// <param name="InterruptionErrorCode">VM-exit interruption error code (for an entry: the injected error code).</param>
/// <param name="IdtVectoringInfo">IDT-vectoring information.</param>
/// <param name="IdtVectoringErrorCode">IDT-vectoring error code.</param>
/// <param name="GuestRip">Guest RIP: where the guest starts (entry) or was left (exit).</param>
/// <param name="InstructionError">The VM-instruction error for <see cref="VmxTransitionKind.EntryFail"/> (0 for VMfailInvalid).</param>
/// <param name="Failure">The failed check, for VMfailValid 7/8 and VM-entry failures.</param>
public sealed record VmxTransition(VmxTransitionKind Kind, ulong Cycle, uint ExitReason, ulong Qualification,
    uint InterruptionInfo, uint InterruptionErrorCode, uint IdtVectoringInfo, uint IdtVectoringErrorCode, ulong GuestRip,
    VmInstructionError InstructionError = VmInstructionError.None, VmEntryFailure? Failure = null)
{
    /// <summary>The basic exit reason (bits 15:0 of the exit-reason field).</summary>
    public VmxExitReason BasicReason => (VmxExitReason)(ExitReason & 0xFFFF);

    /// <summary>One JSON object on one line (the format of <see cref="VmxTraceWriter"/>).</summary>
    public string ToJson()
    {
        var sb = new StringBuilder(192);
        sb.Append("{\"kind\":\"").Append(Kind switch
        {
            VmxTransitionKind.Entry => "entry",
            VmxTransitionKind.EntryFail => "entry-fail",
            VmxTransitionKind.EntryFailure => "entry-failure",
            VmxTransitionKind.Exit => "exit",
            _ => "abort",
        }).Append("\",\"cycle\":").Append(Cycle.ToString(CultureInfo.InvariantCulture));
        if (Kind is VmxTransitionKind.Exit or VmxTransitionKind.EntryFailure)
        {
            sb.Append(",\"reason\":").Append(ExitReason & 0xFFFF);
            sb.Append(",\"reasonName\":\"").Append(BasicReason).Append('"');
            if ((ExitReason & 0x8000_0000) != 0) sb.Append(",\"entryFailure\":true");
            sb.Append(",\"qualification\":\"0x").Append(Qualification.ToString("X", CultureInfo.InvariantCulture)).Append('"');
        }
        if (InterruptionInfo != 0) sb.Append(",\"interruptionInfo\":\"0x").Append(InterruptionInfo.ToString("X8", CultureInfo.InvariantCulture)).Append('"');
        if ((InterruptionInfo & 0x800) != 0) sb.Append(",\"interruptionError\":\"0x").Append(InterruptionErrorCode.ToString("X", CultureInfo.InvariantCulture)).Append('"');
        if (IdtVectoringInfo != 0) sb.Append(",\"idtVectoringInfo\":\"0x").Append(IdtVectoringInfo.ToString("X8", CultureInfo.InvariantCulture)).Append('"');
        if ((IdtVectoringInfo & 0x800) != 0) sb.Append(",\"idtVectoringError\":\"0x").Append(IdtVectoringErrorCode.ToString("X", CultureInfo.InvariantCulture)).Append('"');
        sb.Append(",\"guestRip\":\"0x").Append(GuestRip.ToString("X", CultureInfo.InvariantCulture)).Append('"');
        if (InstructionError != VmInstructionError.None) sb.Append(",\"vmInstructionError\":").Append((int)InstructionError);
        if (Failure is { } f)
        {
            sb.Append(",\"check\":\"").Append(f.Check).Append("\",\"section\":\"").Append(f.Section).Append('"');
            if (f.Field is { } field) sb.Append(",\"field\":\"").Append(field.ToString()).Append('"');
            sb.Append(",\"value\":\"0x").Append(f.Value.ToString("X", CultureInfo.InvariantCulture)).Append('"');
        }
        return sb.Append('}').ToString();
    }
}

/// <summary>
/// Writes every VMX transition of a processor as one JSON object per line (JSON Lines), for tools:
/// <c>{"kind":"exit","cycle":1234,"reason":7,"reasonName":"InterruptWindow",...}</c>.
/// </summary>
public sealed class VmxTraceWriter
{
    private readonly TextWriter _out;

    /// <summary>Starts tracing <paramref name="cpu"/> into <paramref name="output"/> (chains any observer already attached).</summary>
    public VmxTraceWriter(Cpu cpu, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(output);
        _out = output;
        var previous = cpu.VmxTransitionObserved;
        cpu.VmxTransitionObserved = t =>
        {
            previous?.Invoke(t);
            _out.WriteLine(t.ToJson());
        };
    }
}
