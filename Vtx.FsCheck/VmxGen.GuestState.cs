using FsCheck;
using FsCheck.Fluent;
using Vtx.Kit;
using Vtx.Vmx;

namespace Vtx.Kit.Generators;

/// <summary>
/// A VMCS state that passes every VM-entry check on <see cref="VmxTestBed"/> (SDM Vol. 3C, 26.2-26.4):
/// <see cref="Patch"/> over the test bed's template (control fields included, already adjusted by the capability MSRs).
/// </summary>
/// <param name="Controls">The requested controls the patch's control fields were adjusted from.</param>
/// <param name="Patch">The field values to write over <see cref="VmxTestBed"/>'s template.</param>
public sealed record ValidVmcs(VmxControlSet Controls, VmcsPatch Patch)
{
    /// <summary>The patch, for FsCheck's counterexample output.</summary>
    public override string ToString() => $"{Controls}; {Patch}";
}

/// <summary>
/// A VMCS state that fails exactly one named VM-entry check (<see cref="Check"/>, from <see cref="VmEntryChecks.All"/>):
/// <see cref="Patch"/> over <see cref="VmxTestBed"/>'s template (which passes every check) changes only what breaks
/// that check, and nothing any check made before it reads.
/// </summary>
/// <param name="Check">The check the state fails.</param>
/// <param name="Patch">The field values to write over <see cref="VmxTestBed"/>'s template.</param>
public sealed record BrokenVmcs(VmEntryCheck Check, VmcsPatch Patch)
{
    /// <summary>
    /// The exit qualification of the VM-entry failure for a guest-state check (SDM Vol. 3C, 26.3.1, 26.7): 4 for the
    /// VMCS link pointer (26.3.1.5), 2 for the PDPTEs (26.3.1.6), otherwise 0. 0 for VMfails.
    /// </summary>
    public ulong ExpectedQualification => Check.Name switch
    {
        "guest.vmcs-link-pointer" => 4,
        "guest.pdptes" or "guest.pdpte-fields" => 2,
        _ => 0,
    };

    /// <summary>
    /// How VMLAUNCH must fail (SDM Vol. 3C, 26.2-26.3): a control-field check is VMfailValid with VM-instruction error 7,
    /// a host-state check VMfailValid 8, a guest-state check a VM-entry failure with exit reason 33 | bit 31.
    /// </summary>
    public VmxExitKind ExpectedKind => Check.Class is VmEntryCheckClass.ControlFields or VmEntryCheckClass.HostState ? VmxExitKind.VmFail : VmxExitKind.EntryFailure;

    /// <summary>The VM-instruction error of the expected VMfailValid (7 or 8), or <see cref="VmInstructionError.None"/>.</summary>
    public VmInstructionError ExpectedError => Check.Class switch
    {
        VmEntryCheckClass.ControlFields => VmInstructionError.EntryInvalidControlFields,
        VmEntryCheckClass.HostState => VmInstructionError.EntryInvalidHostStateFields,
        _ => VmInstructionError.None,
    };

    /// <summary>The exit reason of the expected VM-entry failure (33 or 34 with bit 31 set; SDM Vol. 3C, 26.7), or 0 for a VMfail.</summary>
    public uint ExpectedExitReason => Check.Class switch
    {
        VmEntryCheckClass.GuestState => 0x8000_0000u | (uint)VmxExitReason.EntryFailureGuestState,
        VmEntryCheckClass.MsrLoading => 0x8000_0000u | (uint)VmxExitReason.EntryFailureMsrLoading,
        _ => 0,
    };

    /// <summary>True if <paramref name="exit"/> is exactly the failure the SDM defines for <see cref="Check"/>: kind, error or exit reason and qualification, and the check's name.</summary>
    public bool FailedAsExpected(VmxExit exit)
    {
        ArgumentNullException.ThrowIfNull(exit);
        return exit.Kind == ExpectedKind && exit.Failure?.Check == Check.Name
            && (ExpectedKind == VmxExitKind.VmFail
                ? exit.InstructionError == ExpectedError
                : exit.ExitReason == ExpectedExitReason && exit.Qualification == ExpectedQualification);
    }

    /// <summary>The check and the patch, for FsCheck's counterexample output.</summary>
    public override string ToString() => $"{Check.Name}: {Patch}";
}

public static partial class VmxGen
{

    /// <summary>
    /// Guest states that pass every VM-entry check on <see cref="VmxTestBed"/> (SDM Vol. 3C, 26.2-26.3): controls from
    /// <see cref="EnterableControls"/>, and over the template's 64-bit ring-0 guest, full-range values wherever the
    /// checks allow them: RIP, SYSENTER, FS/GS, GDTR and IDTR bases (canonical), RSP, CR3 (below MAXPHYADDR), the
    /// optional CR0/CR4 bits, RFLAGS (every non-reserved flag but VM), the interruptibility state (STI blocking only
    /// with IF, never with MOV-SS), the activity state (active or HLT), pending debug exceptions (BS exactly when
    /// TF with blocking or HLT requires it), SYSENTER_CS, DR7, descriptor-table limits and data-segment bases.
    /// </summary>
    public static Gen<ValidVmcs> ValidState(CpuModel? model = null)
    {
        model ??= new CpuModel();
        var caps = model.Vmx ?? throw new ArgumentException("the model offers no VMX", nameof(model));
        ulong cr0Optional = Cr0.MP | Cr0.EM | Cr0.TS | Cr0.WP | Cr0.AM | Cr0.CD;
        ulong cr4Optional = caps.Cr4Fixed1 & ~(Cr4.LA57 | Cr4.PCIDE) & ~caps.Cr4Fixed0;
        const ulong flags = 0x3D_7FD5; // CF PF AF ZF SF TF IF DF OF IOPL NT RF AC VIF VIP ID, not VM (bit 17)
        var physMask = (1UL << model.PhysicalAddressBits) - 1;
        return
            from controls in EnterableControls(caps)
            from rip in Gen.Frequency((1, Gen.Constant((ulong)VmxLab.GuestCode)), (3, Canonical))
            from rsp in UInt64
            from rflags in UInt64.Select(v => v & flags | 2)
            from cr0 in UInt64.Select(v => v & cr0Optional | Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG)
            from cr3 in Gen.Frequency((1, Gen.Constant((ulong)VmxLab.Pml4)), (2, UInt64.Select(v => v & physMask & ~0xFFFUL)))
            from cr4 in UInt64.Select(v => v & cr4Optional | Cr4.PAE | Cr4.VMXE)
            from blocking in Gen.Elements(0u, 1u, 2u)
            from nmiBlocking in Gen.Elements(0u, 8u)
            from halted in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(caps.ActivityHlt)))
            from pending in UInt64.Select(v => v & 0x100F)
            from sysenterCs in UInt32
            from sysenterEsp in Canonical
            from sysenterEip in Canonical
            from fsBase in Canonical
            from gsBase in Canonical
            from dataBase in UInt32
            from gdtr in Canonical
            from idtr in Canonical
            from gdtLimit in Gen.Choose(0, 0xFFFF)
            from idtLimit in Gen.Choose(0, 0xFFFF)
            from dr7 in UInt32
            select Valid(controls, caps, rip, rsp, rflags, cr0, cr3, cr4, blocking, nmiBlocking, halted, pending, sysenterCs, sysenterEsp,
                sysenterEip, fsBase, gsBase, dataBase, gdtr, idtr, (ulong)gdtLimit, (ulong)idtLimit, dr7);
    }

    private static ValidVmcs Valid(VmxControlSet controls, VmxCapabilities caps, ulong rip, ulong rsp, ulong rflags, ulong cr0, ulong cr3, ulong cr4,
        uint blocking, uint nmiBlocking, bool halted, ulong pending, uint sysenterCs, ulong sysenterEsp, ulong sysenterEip,
        ulong fsBase, ulong gsBase, uint dataBase, ulong gdtr, ulong idtr, ulong gdtLimit, ulong idtLimit, uint dr7)
    {
        const ulong IF = 0x200, TF = 0x100;
        if (blocking == 1 && (rflags & IF) == 0) blocking = 0;          // blocking by STI needs IF = 1 (26.3.1.5)
        if (halted) blocking = 0;                                        // blocking by STI/MOV SS needs the active state
        bool bsRequired = (blocking != 0 || halted) && (rflags & TF) != 0; // BTF is 0 (DEBUGCTL 0 in the template)
        if (bsRequired) pending |= 0x4000;
        var adjusted = controls.Adjust(caps);
        var p = ControlPatch(adjusted)
            .With(VmcsField.GuestRip, rip).With(VmcsField.GuestRsp, rsp).With(VmcsField.GuestRflags, rflags)
            .With(VmcsField.GuestCr0, cr0).With(VmcsField.GuestCr3, cr3).With(VmcsField.GuestCr4, cr4)
            .With(VmcsField.GuestInterruptibilityState, blocking | nmiBlocking)
            .With(VmcsField.GuestActivityState, halted ? (ulong)GuestActivity.Hlt : 0)
            .With(VmcsField.GuestPendingDebugExceptions, pending)
            .With(VmcsField.GuestSysenterCs, sysenterCs).With(VmcsField.GuestSysenterEsp, sysenterEsp).With(VmcsField.GuestSysenterEip, sysenterEip)
            .With(VmcsField.GuestFsBase, fsBase).With(VmcsField.GuestGsBase, gsBase)
            .With(VmcsField.GuestDsBase, dataBase).With(VmcsField.GuestEsBase, dataBase).With(VmcsField.GuestSsBase, dataBase)
            .With(VmcsField.GuestGdtrBase, gdtr).With(VmcsField.GuestGdtrLimit, gdtLimit)
            .With(VmcsField.GuestIdtrBase, idtr).With(VmcsField.GuestIdtrLimit, idtLimit)
            .With(VmcsField.GuestDr7, dr7);
        return new ValidVmcs(controls, p);
    }

    /// <summary>The five control fields of <paramref name="adjusted"/> as a patch.</summary>
    public static VmcsPatch ControlPatch(VmxControlSet adjusted)
    {
        var p = VmcsPatch.Empty;
        foreach (var kind in VmxControlSet.Kinds) p = p.With(VmxControlSet.FieldOf(kind), adjusted[kind]);
        return p;
    }
}
