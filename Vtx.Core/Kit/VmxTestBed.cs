using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Kit;

/// <summary>
/// A processor in VMX root operation with a current VMCS that enters a guest in one call: the test harness for
/// VM entries, VM exits and property tests. The machine is <see cref="VmxLab"/>'s (64-bit mode, identity paging);
/// VMXON, VMCLEAR and VMPTRLD run as instructions, then the host API fills the VMCS: host state from the current
/// processor (exits land on <see cref="ExitLanding"/>), the guest state <see cref="GuestTemplate"/> (a 64-bit
/// ring-0 guest on the host's GDT and page tables), <see cref="VmxControlSet.LongModeGuest"/> adjusted by the
/// capability MSRs, and valid addresses in every pointer field, so that turning a control on needs nothing more.
/// <see cref="Launch"/> executes VMLAUNCH and runs to the first VM exit, VM-entry failure or VMfail, and
/// returns it typed (<see cref="VmxExit"/>). SDM Vol. 3C, chapters 24-27.
/// </summary>
public sealed class VmxTestBed
{
    /// <summary>Where the host executes VMLAUNCH (a VMfail continues at the HLT after it).</summary>
    public const ulong LaunchCode = VmxLab.HvCode;
    /// <summary>Where the host executes VMRESUME.</summary>
    public const ulong ResumeCode = VmxLab.HvCode + 0x200;
    /// <summary>HOST_RIP: every VM exit and VM-entry failure lands here (a HLT).</summary>
    public const ulong ExitLanding = VmxLab.HvCode + 0x800;
    /// <summary>I/O bitmap A (4 KiB, zero: no port exits).</summary>
    public const ulong IoBitmapA = 0x5_0000;
    /// <summary>I/O bitmap B (4 KiB, zero).</summary>
    public const ulong IoBitmapB = 0x5_1000;
    /// <summary>MSR bitmap (4 KiB, zero: no MSR exits).</summary>
    public const ulong MsrBitmap = 0x5_2000;
    /// <summary>MSR-store/load area (the lists' counts are 0 in the template).</summary>
    public const ulong MsrArea = 0x5_3000;
    /// <summary>Virtual-APIC page (zero).</summary>
    public const ulong VirtualApicPage = 0x5_4000;
    /// <summary>VMREAD bitmap.</summary>
    public const ulong VmreadBitmap = 0x5_5000;
    /// <summary>VMWRITE bitmap.</summary>
    public const ulong VmwriteBitmap = 0x5_6000;
    /// <summary>EPT structures identity-mapping the 2 MiB of RAM (<see cref="EptIdentityMap"/>).</summary>
    public const ulong EptTables = 0x6_0000;
    /// <summary>A valid IA32_PAT value (WB, WT, UC-, UC twice; SDM Vol. 3A, 11.12.2) for the PAT load controls.</summary>
    public const ulong ValidPat = 0x0007_0406_0007_0406;

    private readonly List<VmxTransition> _transitions = new();
    private readonly List<ScheduledEvent> _events = new();

    /// <summary>Creates the test bed on a fresh 2-MiB machine with <paramref name="model"/> (the default model if null).</summary>
    /// <exception cref="InvalidOperationException">The model offers no VMX, or VMXON/VMPTRLD failed.</exception>
    public VmxTestBed(CpuModel? model = null)
    {
        Machine = new Machine(new MachineOptions { MemoryMiB = 2, CpuModel = model });
        Lab = new VmxLab(Machine);
        var c = Cpu;
        Capabilities = c.Model.Vmx ?? throw new InvalidOperationException("the CPU model offers no VMX");
        c.FeatureControl = 5;                                 // locked, VMXON outside SMX allowed (SDM Vol. 3C, 23.7)
        c.Cr4Value |= Cr4.VMXE;
        uint rev = Capabilities.RevisionId;
        Lab.W64(VmxLab.VmxonRegion, rev);
        Lab.W64(VmxLab.VmcsRegion, rev);
        Lab.W64(VmxLab.HvData, VmxLab.VmxonRegion);
        Lab.W64(VmxLab.HvData + 8, VmxLab.VmcsRegion);
        var a = new Iced.Intel.Assembler(64);
        a.vmxon(__qword_ptr[VmxLab.HvData]);
        a.vmclear(__qword_ptr[VmxLab.HvData + 8]);
        a.vmptrld(__qword_ptr[VmxLab.HvData + 8]);
        a.hlt();
        Machine.WriteMemory(LaunchCode, VmxLab.Assemble(a, LaunchCode, out _));
        c.Rip = LaunchCode;
        var r = Machine.Run(RunLimits.Instructions(10));
        if (r.Reason != StopReason.Halted || c.CurrentVmcsPointer != VmxLab.VmcsRegion)
            throw new InvalidOperationException($"VMXON/VMPTRLD failed: {r}");
        c.Resume();
        Vmcs = c.CurrentVmcs!;
        WriteHostCode();
        c.CaptureHostState(Vmcs, ExitLanding, VmxLab.ExitStack);
        Write(VmcsField.HostEfer, c.EferValue);
        Write(VmcsField.HostPat, ValidPat);
        GuestTemplate.ApplyTo(Vmcs);
        WritePointers();
        SetControls(VmxControlSet.LongModeGuest);
        LoadGuest(g => g.Done());
        c.VmxTransitionObserved += _transitions.Add;
    }

    /// <summary>The machine.</summary>
    public Machine Machine { get; }

    /// <summary>The machine's layout and helpers (<see cref="VmxLab"/>).</summary>
    public VmxLab Lab { get; }

    /// <summary>The processor.</summary>
    public Cpu Cpu => Machine.Cpu;

    /// <summary>The current VMCS.</summary>
    public Vmcs Vmcs { get; }

    /// <summary>The processor's VMX capabilities (its capability MSRs).</summary>
    public VmxCapabilities Capabilities { get; }

    /// <summary>The control fields as last set by <see cref="SetControls"/> (adjusted by the capability MSRs).</summary>
    public VmxControlSet Controls { get; private set; }

    /// <summary>
    /// The template's guest-state area (SDM Vol. 3C, 24.4): a 64-bit ring-0 guest at <see cref="VmxLab.GuestCode"/>
    /// on the host's GDT (CS 08h, data 10h, busy 64-bit TSS 18h, LDTR unusable) and identity page tables, IDT at
    /// <see cref="VmxLab.GuestIdt"/>, RFLAGS 2, active, no blocking, link pointer all ones; EFER LME|LMA and a
    /// valid PAT for the load controls.
    /// </summary>
    public static VmcsPatch GuestTemplate { get; } = BuildGuestTemplate();

    private static VmcsPatch BuildGuestTemplate()
    {
        var p = VmcsPatch.Empty
            .With(VmcsField.GuestCr0, Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG)
            .With(VmcsField.GuestCr3, VmxLab.Pml4)
            .With(VmcsField.GuestCr4, Cr4.PAE | Cr4.VMXE)
            .With(VmcsField.GuestDr7, 0x400)
            .With(VmcsField.GuestDebugCtl, 0)
            .With(VmcsField.GuestCsSelector, VmxLab.CodeSel).With(VmcsField.GuestCsBase, 0)
            .With(VmcsField.GuestCsLimit, 0xFFFF_FFFF).With(VmcsField.GuestCsAccessRights, 0xA09B);
        foreach (var (sel, b, lim, ar) in new[]
                 {
                     (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights),
                     (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights),
                     (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights),
                     (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights),
                     (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights),
                 })
            p = p.With(sel, VmxLab.DataSel).With(b, 0).With(lim, 0xFFFF_FFFF).With(ar, 0xC093);
        return p
            .With(VmcsField.GuestTrSelector, VmxLab.TssSel).With(VmcsField.GuestTrBase, VmxLab.Tss)
            .With(VmcsField.GuestTrLimit, 0x67).With(VmcsField.GuestTrAccessRights, 0x8B)
            .With(VmcsField.GuestLdtrSelector, 0).With(VmcsField.GuestLdtrBase, 0)
            .With(VmcsField.GuestLdtrLimit, 0).With(VmcsField.GuestLdtrAccessRights, 0x1_0000)
            .With(VmcsField.GuestGdtrBase, VmxLab.Gdt).With(VmcsField.GuestGdtrLimit, VmxLab.GdtLimit)
            .With(VmcsField.GuestIdtrBase, VmxLab.GuestIdt).With(VmcsField.GuestIdtrLimit, VmxLab.GuestIdtLimit)
            .With(VmcsField.GuestRip, VmxLab.GuestCode).With(VmcsField.GuestRsp, VmxLab.GuestStack).With(VmcsField.GuestRflags, 2)
            .With(VmcsField.GuestPendingDebugExceptions, 0).With(VmcsField.GuestActivityState, 0)
            .With(VmcsField.GuestInterruptibilityState, 0)
            .With(VmcsField.GuestSysenterCs, 0).With(VmcsField.GuestSysenterEsp, 0).With(VmcsField.GuestSysenterEip, 0)
            .With(VmcsField.VmcsLinkPointer, ulong.MaxValue)
            .With(VmcsField.GuestPat, ValidPat).With(VmcsField.GuestEfer, Efer.LME | Efer.LMA);
    }

    private void WriteHostCode()
    {
        var a = new Iced.Intel.Assembler(64);
        a.vmlaunch();
        a.hlt();
        Machine.WriteMemory(LaunchCode, VmxLab.Assemble(a, LaunchCode, out _));
        a = new Iced.Intel.Assembler(64);
        a.vmresume();
        a.hlt();
        Machine.WriteMemory(ResumeCode, VmxLab.Assemble(a, ResumeCode, out _));
        a = new Iced.Intel.Assembler(64);
        var l = a.CreateLabel();
        a.Label(ref l);
        a.hlt();
        a.jmp(l);
        Machine.WriteMemory(ExitLanding, VmxLab.Assemble(a, ExitLanding, out _));
    }

    /// <summary>Valid addresses in the pointer fields so that any control that uses one can be turned on (SDM Vol. 3C, 26.2.1.1).</summary>
    private void WritePointers()
    {
        Write(VmcsField.IoBitmapA, IoBitmapA);
        Write(VmcsField.IoBitmapB, IoBitmapB);
        Write(VmcsField.MsrBitmap, MsrBitmap);
        Write(VmcsField.VmExitMsrStoreAddress, MsrArea);
        Write(VmcsField.VmExitMsrLoadAddress, MsrArea);
        Write(VmcsField.VmEntryMsrLoadAddress, MsrArea);
        Write(VmcsField.VirtualApicAddress, VirtualApicPage);
        Write(VmcsField.VmreadBitmapAddress, VmreadBitmap);
        Write(VmcsField.VmwriteBitmapAddress, VmwriteBitmap);
        Write(VmcsField.VirtualProcessorId, 1);
        Write(VmcsField.EptPointer, EptIdentityMap.Write(Machine, EptTables, 2UL << 20));
    }

    /// <summary>
    /// Makes the guest-state area the processor's current state (<see cref="Cpu.CaptureGuestState"/>: control
    /// registers, DR7, segment registers with their hidden parts, LDTR, TR, GDTR, SYSENTER MSRs, PAT, EFER; SDM
    /// Vol. 3C, 24.4), then the guest's own RIP (<see cref="VmxLab.GuestCode"/>), RSP, IDT and RFLAGS 2: a guest in
    /// the mode the host is in. Host code that changed the processor's mode before this call changes the guest's too.
    /// </summary>
    public void GuestFromCurrentState()
    {
        Cpu.CaptureGuestState(Vmcs);
        Write(VmcsField.GuestRip, VmxLab.GuestCode);
        Write(VmcsField.GuestRsp, VmxLab.GuestStack);
        Write(VmcsField.GuestIdtrBase, VmxLab.GuestIdt);
        Write(VmcsField.GuestIdtrLimit, VmxLab.GuestIdtLimit);
        Write(VmcsField.GuestRflags, 2);
    }

    /// <summary>Writes <paramref name="field"/> through the host API (no VMWRITE checks).</summary>
    public void Write(VmcsField field, ulong value) => Vmcs.Write(field, value);

    /// <summary>Reads <paramref name="field"/> through the host API.</summary>
    public ulong Read(VmcsField field) => Vmcs.Read(field);

    /// <summary>Writes every value of <paramref name="patch"/>.</summary>
    public void Apply(VmcsPatch patch)
    {
        ArgumentNullException.ThrowIfNull(patch);
        patch.ApplyTo(Vmcs);
    }

    /// <summary>Writes the five control fields: <paramref name="requested"/> adjusted by the capability MSRs (<see cref="VmxControlSet.Adjust"/>).</summary>
    /// <exception cref="VmxControlUnsupportedException">A requested control is not offered.</exception>
    public void SetControls(VmxControlSet requested)
    {
        Controls = requested.Adjust(Capabilities);
        foreach (var kind in VmxControlSet.Kinds) Write(VmxControlSet.FieldOf(kind), Controls[kind]);
    }

    /// <summary>Assembles the guest program (<see cref="VmxLab.LoadGuest"/>); returns the addresses of its named positions.</summary>
    public IReadOnlyDictionary<string, ulong> LoadGuest(Action<GuestAssembler> guest) => Lab.LoadGuest(guest);

    /// <summary>Adds events to raise during the next <see cref="Launch"/> or <see cref="Resume"/> (<see cref="EventAnchor.Start"/> counts from the VMLAUNCH/VMRESUME).</summary>
    public void Schedule(params ScheduledEvent[] events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _events.AddRange(events);
    }

    /// <summary>
    /// Applies <paramref name="patch"/> (if any), executes VMLAUNCH and runs until the first VM exit, VM-entry failure or
    /// VMfail, or <paramref name="maxInstructions"/> (SDM Vol. 3C, 26.1).
    /// </summary>
    public VmxExit Launch(VmcsPatch? patch = null, ulong maxInstructions = 100_000)
    {
        if (patch is not null) Apply(patch);
        return Enter(LaunchCode, maxInstructions);
    }

    /// <summary>Executes VMRESUME (after an exit) and runs until the next VM exit, VM-entry failure or VMfail.</summary>
    public VmxExit Resume(ulong maxInstructions = 100_000) => Enter(ResumeCode, maxInstructions);

    /// <summary>Runs on from where the last run stopped (e.g. after <see cref="VmxExitKind.None"/> at an instruction bound) until an exit.</summary>
    public VmxExit RunUntilExit(ulong maxInstructions = 100_000) => RunToLanding(maxInstructions, _transitions.Count);

    private VmxExit Enter(ulong code, ulong maxInstructions)
    {
        int first = _transitions.Count;
        var c = Cpu;
        if (c.InVmxNonRoot) throw new InvalidOperationException("the guest is running: use RunUntilExit");
        c.Rip = code;
        c.Rflags = 2;
        c.Resume();
        return RunToLanding(maxInstructions, first);
    }

    private VmxExit RunToLanding(ulong maxInstructions, int first)
    {
        var c = Cpu;
        EventScheduler? scheduler = null;
        Action<VmxTransition>? onTransition = null;
        if (_events.Count > 0)
        {
            scheduler = new EventScheduler(c, _events.ToArray(), null);
            _events.Clear();
            onTransition = scheduler.OnTransition;
            c.VmxTransitionObserved += onTransition;
            c.EventDelivered += OnDelivered;
            scheduler.Start();
        }
        void OnDelivered(byte vector, EventKind kind, uint? error)
        {
            if (c.InVmxNonRoot) scheduler!.OnGuestEvent(c.Cycles, vector);
        }
        RunResult r;
        try
        {
            r = Machine.Run(new RunLimits { MaxInstructions = maxInstructions, StopAddress = ExitLanding });
        }
        finally
        {
            if (scheduler is not null)
            {
                c.VmxTransitionObserved -= onTransition;
                c.EventDelivered -= OnDelivered;
            }
        }
        var seen = _transitions.Skip(first).ToArray();
        var last = seen.Length == 0 ? null : seen[^1];
        var kind = last?.Kind switch
        {
            VmxTransitionKind.Exit when !c.InVmxNonRoot => VmxExitKind.Exit,
            VmxTransitionKind.EntryFailure => VmxExitKind.EntryFailure,
            VmxTransitionKind.EntryFail => VmxExitKind.VmFail,
            _ => VmxExitKind.None,
        };
        bool failInvalid = last is null && !c.InVmxNonRoot && (c.Rflags & (ulong)RFlags.CF) != 0 && c.Rip is LaunchCode + 4 or ResumeCode + 4;
        if (failInvalid) kind = VmxExitKind.VmFail;
        var failure = kind is VmxExitKind.EntryFailure or VmxExitKind.VmFail ? c.LastVmEntryFailure : null;
        return VmxExit.Read(Vmcs, kind, r, seen, failure, failInvalid);
    }

    /// <summary>Advances the guest RIP past the instruction that caused the last exit (RIP += VM-exit instruction length; SDM Vol. 3C, 27.2.4).</summary>
    public void SkipInstruction() => Write(VmcsField.GuestRip, Read(VmcsField.GuestRip) + Read(VmcsField.VmExitInstructionLength));
}
