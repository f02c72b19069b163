using Vtx.Vmx;

namespace Vtx.Kit;

/// <summary>How a VM entry attempt (and the guest run after it) ended.</summary>
public enum VmxExitKind
{
    /// <summary>The run stopped without reaching the host's exit landing (instruction bound, halt, ...): the guest may still be in non-root operation.</summary>
    None,
    /// <summary>A VM exit after a successful VM entry (SDM Vol. 3C, chapter 27).</summary>
    Exit,
    /// <summary>A VM-entry failure: exit reason 33 or 34 with bit 31 set, host state loaded (SDM Vol. 3C, 26.7).</summary>
    EntryFailure,
    /// <summary>VMLAUNCH/VMRESUME failed as an instruction: VMfailValid with a VM-instruction error, or VMfailInvalid (SDM Vol. 3C, 26.1-26.2, 30.2).</summary>
    VmFail,
}

/// <summary>The guest state a VM exit saved in the VMCS (SDM Vol. 3C, 27.3), the fields an exit handler reads most.</summary>
/// <param name="Rip">Guest RIP (6818h).</param>
/// <param name="Rsp">Guest RSP (681Ch).</param>
/// <param name="Rflags">Guest RFLAGS (6820h).</param>
/// <param name="Cr0">Guest CR0 (6800h).</param>
/// <param name="Cr3">Guest CR3 (6802h).</param>
/// <param name="Cr4">Guest CR4 (6804h).</param>
/// <param name="Interruptibility">Guest interruptibility state (4824h).</param>
/// <param name="Activity">Guest activity state (4826h).</param>
public readonly record struct VmxGuestSnapshot(ulong Rip, ulong Rsp, ulong Rflags, ulong Cr0, ulong Cr3, ulong Cr4,
    Interruptibility Interruptibility, GuestActivity Activity);

/// <summary>
/// Typed exit information after a VM entry attempt: what ended it (<see cref="Kind"/>), the exit reason and
/// qualification, the instruction length and information, the interruption and IDT-vectoring information
/// with their error codes, the guest addresses, the VM-instruction error of a VMfail, the named check that
/// failed, and the guest state saved (SDM Vol. 3C, 24.9 VM-exit information fields, 27.2, 30.4).
/// </summary>
public sealed record VmxExit
{
    /// <summary>What ended the attempt.</summary>
    public required VmxExitKind Kind { get; init; }
    /// <summary>The full exit reason field (4402h): basic reason in bits 15:0, bit 31 for a VM-entry failure (SDM Vol. 3C, 24.9.1).</summary>
    public uint ExitReason { get; init; }
    /// <summary>The basic exit reason (bits 15:0 of <see cref="ExitReason"/>).</summary>
    public VmxExitReason BasicReason => (VmxExitReason)(ExitReason & 0xFFFF);
    /// <summary>The exit qualification (6400h; for a VM-entry failure 0, 2 (PDPTE) or 4 (link pointer), or the MSR-list entry; SDM Vol. 3C, 27.2.1, 26.7).</summary>
    public ulong Qualification { get; init; }
    /// <summary>VM-exit instruction length (440Ch; SDM Vol. 3C, 27.2.4).</summary>
    public uint InstructionLength { get; init; }
    /// <summary>VM-exit instruction information (440Eh; SDM Vol. 3C, 27.2.5).</summary>
    public uint InstructionInfo { get; init; }
    /// <summary>VM-exit interruption information (4404h; SDM Vol. 3C, 27.2.2).</summary>
    public InterruptionInfo Interruption { get; init; }
    /// <summary>VM-exit interruption error code (4406h).</summary>
    public uint InterruptionErrorCode { get; init; }
    /// <summary>IDT-vectoring information (4408h; SDM Vol. 3C, 27.2.4).</summary>
    public InterruptionInfo IdtVectoring { get; init; }
    /// <summary>IDT-vectoring error code (440Ah).</summary>
    public uint IdtVectoringErrorCode { get; init; }
    /// <summary>Guest-linear address (640Ah), for exits that report one.</summary>
    public ulong GuestLinearAddress { get; init; }
    /// <summary>Guest-physical address (2400h), for EPT exits.</summary>
    public ulong GuestPhysicalAddress { get; init; }
    /// <summary>The VM-instruction error (4400h) after a VMfailValid; <see cref="VmInstructionError.None"/> otherwise (SDM Vol. 3C, 30.4).</summary>
    public VmInstructionError InstructionError { get; init; }
    /// <summary>True for VMfailInvalid (CF = 1: no current VMCS; SDM Vol. 3C, 30.2).</summary>
    public bool FailInvalid { get; init; }
    /// <summary>The named VM-entry check that failed (VMfailValid 7/8 or a VM-entry failure), or null (<see cref="VmEntryChecks"/>).</summary>
    public VmEntryFailure? Failure { get; init; }
    /// <summary>The guest state the exit saved (after <see cref="VmxExitKind.Exit"/>).</summary>
    public VmxGuestSnapshot Guest { get; init; }
    /// <summary>Every transition observed during the attempt, in order (entries, exits, failures).</summary>
    public IReadOnlyList<VmxTransition> Transitions { get; init; } = [];
    /// <summary>How the host's run stopped.</summary>
    public RunResult Run { get; init; }

    /// <summary>True if VM entry succeeded (a VM-entry transition was observed; SDM Vol. 3C, 26.1).</summary>
    public bool Entered => Transitions.Any(t => t.Kind == VmxTransitionKind.Entry);

    /// <summary>Reads the exit-information fields and guest state from <paramref name="vmcs"/> for an attempt that ended as <paramref name="kind"/>.</summary>
    public static VmxExit Read(Vmcs vmcs, VmxExitKind kind, RunResult run, IReadOnlyList<VmxTransition> transitions, VmEntryFailure? failure, bool failInvalid = false)
    {
        ArgumentNullException.ThrowIfNull(vmcs);
        ulong R(VmcsField f) => vmcs.Read(f);
        return new VmxExit
        {
            Kind = kind,
            ExitReason = kind is VmxExitKind.Exit or VmxExitKind.EntryFailure ? (uint)R(VmcsField.ExitReason) : 0,
            Qualification = kind is VmxExitKind.Exit or VmxExitKind.EntryFailure ? R(VmcsField.ExitQualification) : 0,
            InstructionLength = (uint)R(VmcsField.VmExitInstructionLength),
            InstructionInfo = (uint)R(VmcsField.VmExitInstructionInformation),
            Interruption = new InterruptionInfo((uint)R(VmcsField.VmExitInterruptionInformation)),
            InterruptionErrorCode = (uint)R(VmcsField.VmExitInterruptionErrorCode),
            IdtVectoring = new InterruptionInfo((uint)R(VmcsField.IdtVectoringInformation)),
            IdtVectoringErrorCode = (uint)R(VmcsField.IdtVectoringErrorCode),
            GuestLinearAddress = R(VmcsField.GuestLinearAddress),
            GuestPhysicalAddress = R(VmcsField.GuestPhysicalAddress),
            InstructionError = kind == VmxExitKind.VmFail && !failInvalid ? (VmInstructionError)(uint)R(VmcsField.VmInstructionError) : VmInstructionError.None,
            FailInvalid = failInvalid,
            Failure = failure,
            Guest = new VmxGuestSnapshot(R(VmcsField.GuestRip), R(VmcsField.GuestRsp), R(VmcsField.GuestRflags), R(VmcsField.GuestCr0),
                R(VmcsField.GuestCr3), R(VmcsField.GuestCr4), (Interruptibility)(uint)R(VmcsField.GuestInterruptibilityState),
                (GuestActivity)(uint)R(VmcsField.GuestActivityState)),
            Transitions = transitions,
            Run = run,
        };
    }

    /// <summary>A one-line summary.</summary>
    public override string ToString() => Kind switch
    {
        VmxExitKind.Exit => $"VM exit {(int)BasicReason} ({BasicReason}) at guest RIP 0x{Guest.Rip:X}, qualification 0x{Qualification:X}, interruption {Interruption}",
        VmxExitKind.EntryFailure => $"VM-entry failure 0x{ExitReason:X8} ({Failure?.Check}), qualification 0x{Qualification:X}",
        VmxExitKind.VmFail => FailInvalid ? "VMfailInvalid" : $"VMfailValid({(int)InstructionError}) {InstructionError} ({Failure?.Check})",
        _ => $"no exit: {Run}",
    };
}
