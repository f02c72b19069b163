using Vtx.Vmx;

namespace Vtx.Fuzz;

/// <summary>
/// A 64-bit host in VMX root operation, set up through the public API the way a hypervisor would be
/// (GDT, TSS, identity paging, IA32_FEATURE_CONTROL, VMXON/VMCLEAR/VMPTRLD run as guest code), whose
/// VMCS starts as a valid capture of the processor and then gets garbage in random fields. Its
/// "exit handler" is the fuzzer: after every exit it takes a random action and resumes.
/// </summary>
public sealed class VmxRig
{
    private const ulong Gdt = 0x1000, Tss = 0x2000, Pml4 = 0x3000, Pdpt = 0x4000, Pd = 0x5000;
    private const ulong Scratch = 0x8000, Host = 0x1_0000, Launch = Host + 0x200, ResumeStub = Host + 0x300, ExitStop = Host + 0x800;
    private const ulong VmxonRegion = 0x2_0000, VmcsRegion = 0x2_1000, GuestCode = 0x3_0000, GuestIdt = 0x4_0000, GuestHandler = 0x4_2000;
    private const ulong HostStack = 0x9_8000, GuestStack = 0x3_F000;

    /// <summary>The machine.</summary>
    public Machine Machine { get; }
    /// <summary>Every transition the processor reported.</summary>
    public List<VmxTransition> Transitions { get; } = new();
    /// <summary>VM entries attempted by VMLAUNCH/VMRESUME (successful or failed).</summary>
    public int Entries { get; private set; }
    /// <summary>The generator (advanced by the rig).</summary>
    public Rng Rng;

    private readonly Cpu _c;
    private readonly Vmcs _vmcs;
    private readonly VmxCapabilities _caps;

    /// <summary>Builds the host and a VMCS from <paramref name="rng"/>.</summary>
    public VmxRig(ref Rng rng)
    {
        Rng = rng;
        Machine = new Machine(new MachineOptions { MemoryMiB = 4 });
        _c = Machine.Cpu;
        _caps = _c.Model.Vmx ?? throw new InvalidOperationException("the default CPU model offers VMX");
        BuildHost();
        _c.VmxTransitionObserved = t =>
        {
            Transitions.Add(t);
            if (t.Kind is VmxTransitionKind.Entry or VmxTransitionKind.EntryFail or VmxTransitionKind.EntryFailure) Entries++;
        };
        _vmcs = _c.CurrentVmcs ?? throw new InvalidOperationException("VMPTRLD did not make the VMCS current");
        FillVmcs();
    }

    private void W64(ulong a, ulong v) => Machine.WriteMemory(a, BitConverter.GetBytes(v));

    private void BuildHost()
    {
        W64(Gdt + 0x08, 0x00AF_9B00_0000_FFFF);
        W64(Gdt + 0x10, 0x00CF_9300_0000_FFFF);
        W64(Gdt + 0x18, 0x67 | ((Tss & 0xFFFFFF) << 16) | (0x8BUL << 40));
        W64(Pml4, Pdpt | 3);
        W64(Pdpt, Pd | 3);
        for (ulong i = 0; i < 512; i++) W64(Pd + i * 8, (i << 21) | 0x83);
        _c.Gdtr = new DescriptorTableRegister(Gdt, 0x27);
        // Host IDT: every gate leads to IRETQ, so an NMI raised while the host runs returns to it.
        const ulong hostIdt = 0x6000, hostIret = 0x7000;
        var idt = new byte[256 * 16];
        for (int v = 0; v < 256; v++)
            BitConverter.TryWriteBytes(idt.AsSpan(v * 16), (hostIret & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((hostIret >> 16 & 0xFFFF) << 48));
        Machine.WriteMemory(hostIdt, idt);
        Machine.WriteMemory(hostIret, [0x48, 0xCF]);
        _c.Idtr = new DescriptorTableRegister(hostIdt, 0xFFF);
        _c.Cr4Value = Cr4.PAE | Cr4.VMXE | Cr4.OSFXSR | Cr4.OSXMMEXCPT;
        _c.EferValue = Efer.LME | Efer.LMA;
        _c.Cr0Value = Cr0.PE | Cr0.NE | Cr0.PG | Cr0.MP;
        _c.Cr3Value = Pml4;
        _c.SetSegment(SegmentRegister.Cs, new SegmentCache(0x08, 0, 0xFFFF_FFFF, 0xA09B));
        foreach (var s in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            _c.SetSegment(s, new SegmentCache(0x10, 0, 0xFFFF_FFFF, 0xC093));
        _c.Tr = new SegmentCache(0x18, Tss, 0x67, 0x8B);
        _c.FeatureControl = 5; // locked, VMX outside SMX
        _c[Gpr.Rsp] = HostStack;
        Machine.WriteMemory(VmxonRegion, BitConverter.GetBytes(_caps.RevisionId));
        Machine.WriteMemory(VmcsRegion, BitConverter.GetBytes(_caps.RevisionId));
        W64(Scratch, VmxonRegion);
        W64(Scratch + 8, VmcsRegion);
        // vmxon [Scratch]; vmclear [Scratch+8]; vmptrld [Scratch+8]; hlt (absolute disp32 addressing).
        Machine.WriteMemory(Host, [
            0xF3, 0x0F, 0xC7, 0x34, 0x25, 0x00, 0x80, 0x00, 0x00,
            0x66, 0x0F, 0xC7, 0x34, 0x25, 0x08, 0x80, 0x00, 0x00,
            0x0F, 0xC7, 0x34, 0x25, 0x08, 0x80, 0x00, 0x00,
            0xF4]);
        Machine.WriteMemory(Launch, [0x0F, 0x01, 0xC2, 0xF4]);     // vmlaunch; hlt
        Machine.WriteMemory(ResumeStub, [0x0F, 0x01, 0xC3, 0xF4]); // vmresume; hlt
        Machine.WriteMemory(ExitStop, [0xF4]);
        _c.Rip = Host;
        var r = Machine.Run(RunLimits.Instructions(100));
        if (r.Reason != StopReason.Halted || _c.CurrentVmcs is null) throw new InvalidOperationException("VMX set-up failed: " + r);
    }

    /// <summary>A valid VMCS (captured state, controls adjusted by the capability MSRs), then garbage.</summary>
    private void FillVmcs()
    {
        _c.CaptureHostState(_vmcs, ExitStop, HostStack);
        _c.CaptureGuestState(_vmcs);
        _vmcs.Write(VmcsField.GuestRip, GuestCode);
        _vmcs.Write(VmcsField.GuestRsp, GuestStack);
        _vmcs.Write(VmcsField.GuestRflags, 2 | (Rng.Chance(50) ? 0x200UL : 0));
        _vmcs.Write(VmcsField.GuestIdtrBase, GuestIdt);
        _vmcs.Write(VmcsField.GuestIdtrLimit, 0xFFF);
        _vmcs.Write(VmcsField.VmcsLinkPointer, ulong.MaxValue);
        RandomControls();
        // Guest: random code; every guest exception handler exits with VMCALL, then jumps back into the code.
        var code = new byte[0x2000];
        CodeGen.Generate(ref Rng, (CodeStyle)Rng.Below(3), 64, GuestCode, code);
        Machine.WriteMemory(GuestCode, code);
        // vmcall; jmp to GuestCode (rel32 from the end of the jmp)
        int rel = (int)((long)GuestCode - (long)(GuestHandler + 8));
        var handler = new byte[8];
        handler[0] = 0x0F; handler[1] = 0x01; handler[2] = 0xC1; handler[3] = 0xE9;
        BitConverter.TryWriteBytes(handler.AsSpan(4), rel);
        Machine.WriteMemory(GuestHandler, handler);
        var idt = new byte[256 * 16];
        for (int v = 0; v < 256; v++)
        {
            ulong lo = (GuestHandler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((GuestHandler >> 16 & 0xFFFF) << 48);
            BitConverter.TryWriteBytes(idt.AsSpan(v * 16), lo);
        }
        Machine.WriteMemory(GuestIdt, idt);
        int garbage = Rng.Chance(40) ? 0 : 1 + Rng.Below(8);
        for (int i = 0; i < garbage; i++) WriteRandomField();
    }

    private void RandomControls()
    {
        // Desired bits are sparse (and the capability MSRs then force or clear what they must), so most
        // control sets pass the checks and the guest runs; garbage fields supply the invalid ones.
        uint proc = (uint)Rng.Next() & (uint)Rng.Next() & (uint)Rng.Next();
        uint proc2 = Rng.Chance(50) ? Sparse() & _caps.AllowedSettings(VmxControlKind.SecondaryProcessorBased).Allowed1 & ~0x2u : 0; // no EPT (no EPTP set up)
        if (proc2 != 0) proc |= PrimaryProcessorBasedControls.ActivateSecondaryControls;
        _vmcs.Write(VmcsField.PinBasedVmExecControls, _caps.AdjustControls(VmxControlKind.PinBased, Sparse() & 0xFF));
        _vmcs.Write(VmcsField.PrimaryProcBasedVmExecControls, _caps.AdjustControls(VmxControlKind.PrimaryProcessorBased, proc));
        _vmcs.Write(VmcsField.SecondaryProcBasedVmExecControls, proc2);
        _vmcs.Write(VmcsField.VmExitControls, _caps.AdjustControls(VmxControlKind.Exit, ExitControls.HostAddressSpaceSize | Sparse()));
        _vmcs.Write(VmcsField.VmEntryControls, _caps.AdjustControls(VmxControlKind.Entry, EntryControls.Ia32eModeGuest | (Sparse() & ~0xE00u))); // not SMM / dual-monitor
        _vmcs.Write(VmcsField.ExceptionBitmap, Rng.Chance(50) ? (uint)Rng.Next() : 0);
    }

    private uint Sparse() => (uint)Rng.Next() & (uint)Rng.Next() & (uint)Rng.Next();

    private void WriteRandomField()
    {
        var fields = VmcsField.AllFields;
        VmcsField f = fields[Rng.Below(fields.Count)];
        // The host API writes any field, the exit-information ones too (a VMM could only with VMWRITE to them).
        _vmcs.Write(f, Rng.Value(0, 0x40_0000));
    }

    /// <summary>
    /// Launches, then after each exit (or VMfail) takes a random action and resumes, until
    /// <paramref name="entries"/> entries were attempted or the guest stops exiting. Returns the
    /// instructions retired.
    /// </summary>
    public ulong Fuzz(int entries, ulong instructionBudget, out int stops)
    {
        ulong retired = 0;
        stops = 0;
        bool launched = false;
        while (Entries < entries && stops < 4 * entries && retired < instructionBudget * 4)
        {
            _c.Rip = launched && _vmcs.Launched ? ResumeStub : Launch;
            _c.Rflags = 2;
            _c.Resume();
            var r = Machine.Run(new RunLimits { MaxInstructions = 2_000, MaxCycles = 2_000_000 });
            retired += r.Instructions;
            stops++;
            launched = true;
            // A guest that runs on without exiting gets an INIT, which exits unconditionally (reason 3).
            if (_c.InVmxNonRoot)
            {
                _c.RaiseInit();
                r = Machine.Run(new RunLimits { MaxInstructions = 10, MaxCycles = 100_000 });
                retired += r.Instructions;
                if (_c.InVmxNonRoot) break;
            }
            if (r.Reason is StopReason.Shutdown) break;
            Act();
        }
        return retired;
    }

    /// <summary>One random exit-handler action.</summary>
    private void Act()
    {
        switch (Rng.Below(8))
        {
            case 0:
            case 1:
                // Skip the exiting instruction, as a handler emulating it would.
                _vmcs.Write(VmcsField.GuestRip, _vmcs.Read(VmcsField.GuestRip) + _vmcs.Read(VmcsField.VmExitInstructionLength));
                break;
            case 2:
                // Inject an event: valid bit, random type and vector, sometimes an error code.
                uint info = 0x8000_0000u | (uint)Rng.Below(8) << 8 | (uint)Rng.Below(256) | (Rng.Chance(30) ? 0x800u : 0);
                _vmcs.Write(VmcsField.VmEntryInterruptionInformation, info);
                _vmcs.Write(VmcsField.VmEntryExceptionErrorCode, (uint)Rng.Below(0x10000));
                _vmcs.Write(VmcsField.VmEntryInstructionLength, (uint)Rng.Below(16));
                break;
            case 3:
                WriteRandomField();
                break;
            case 4:
                RandomControls();
                break;
            case 5:
                _vmcs.Write(VmcsField.GuestRip, GuestCode + (ulong)Rng.Below(0x2000));
                break;
            case 6:
                // An event from the platform while the guest runs.
                if (Rng.Chance(50)) _c.RaiseNmi(); else _c.RaiseInterrupt((byte)(32 + Rng.Below(224)));
                break;
            default:
                _vmcs.Write(VmcsField.GuestInterruptibilityState, (uint)Rng.Below(32));
                break;
        }
    }
}
