using Iced.Intel;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Kit;

/// <summary>One event the guest saw through its own IDT (from <see cref="Cpu.EventDelivered"/> in VMX non-root operation; SDM Vol. 3A, 6.12).</summary>
/// <param name="Cycle">The cycle count after delivery.</param>
/// <param name="Vector">The vector delivered.</param>
/// <param name="Kind">NMI, external interrupt, exception...</param>
public sealed record GuestEvent(ulong Cycle, byte Vector, EventKind Kind);

/// <summary>
/// What one run of a <see cref="VmxScenario"/> gave: every VMX transition the host observed (SDM Vol. 3C,
/// chapters 26-27), the events the guest took through its IDT, the hypervisor's log (its POST codes), the
/// addresses of the guest's named positions, and how the machine stopped.
/// </summary>
/// <param name="Title">The scenario.</param>
/// <param name="Transitions">Every VM entry, VM exit and failed entry, in order.</param>
/// <param name="GuestEvents">Events delivered through the guest IDT, in order.</param>
/// <param name="HypervisorLog">The hypervisor's messages (POST codes written to port 80h), in order.</param>
/// <param name="Labels">Guest addresses by name (e.g. <c>"after-hlt"</c>).</param>
/// <param name="Result">How the run ended (a clean end is the hypervisor's write of 0 to the debug-exit port).</param>
/// <param name="GuestData">The guest's data page after the run (its handlers' counters).</param>
public sealed record VmxRun(string Title, IReadOnlyList<VmxTransition> Transitions, IReadOnlyList<GuestEvent> GuestEvents,
    IReadOnlyList<string> HypervisorLog, IReadOnlyDictionary<string, ulong> Labels, RunResult Result, byte[] GuestData)
{
    /// <summary>True when the hypervisor ended the machine itself with code 0 (debug-exit exit code 1).</summary>
    public bool Clean => Result.Reason == StopReason.DebugExit && Result.ExitCode == 1;

    /// <summary>The 32-bit guest variable at offset <paramref name="offset"/> of the guest data page.</summary>
    public uint GuestWord(int offset) => BitConverter.ToUInt32(GuestData, offset);

    /// <summary>The VM exits (not failed entries) with basic reason <paramref name="reason"/>, in order (SDM Vol. 3C, Appendix C).</summary>
    public IEnumerable<VmxTransition> ExitsOf(VmxExitReason reason) =>
        Transitions.Where(t => t.Kind == VmxTransitionKind.Exit && t.BasicReason == reason);
}

/// <summary>
/// A hypervisor scenario for <see cref="VmxLab.Run"/>: the controls its hypervisor asks for (adjusted by the
/// capability MSRs in the hypervisor's own code, SDM Vol. 3C, A.3-A.5), the guest's first state, the guest
/// program, the exit handler, and the devices (scheduled NMIs and interrupts).
/// </summary>
public sealed class VmxScenario
{
    /// <summary>The scenario's title (traced first).</summary>
    public required string Title { get; init; }
    /// <summary>Desired pin-based controls (SDM Vol. 3C, 24.6.1).</summary>
    public uint Pin { get; init; }
    /// <summary>Desired primary processor-based controls (SDM Vol. 3C, 24.6.2).</summary>
    public uint Proc { get; init; }
    /// <summary>Desired VM-exit controls (a 64-bit host; SDM Vol. 3C, 24.7.1).</summary>
    public uint Exit { get; init; } = ExitControls.HostAddressSpaceSize;
    /// <summary>Desired VM-entry controls (a 64-bit guest; SDM Vol. 3C, 24.8.1).</summary>
    public uint Entry { get; init; } = EntryControls.Ia32eModeGuest;
    /// <summary>The guest's first RFLAGS (2: IF = 0).</summary>
    public ulong GuestRflags { get; init; } = 2;
    /// <summary>The guest's first interruptibility state (SDM Vol. 3C, 24.4.2).</summary>
    public ulong GuestInterruptibility { get; init; }
    /// <summary>VM-entry interruption information for VMLAUNCH (0: inject nothing; SDM Vol. 3C, 24.8.3).</summary>
    public uint LaunchInjection { get; init; }
    /// <summary>The guest program.</summary>
    public required Action<GuestAssembler> Guest { get; init; }
    /// <summary>The hypervisor's exit handler (HOST_RIP, after the guest's registers are saved); ends with <see cref="HypervisorAssembler.Resume"/>, or jumps to Done / Unexpected.</summary>
    public required Action<HypervisorAssembler> OnExit { get; init; }
    /// <summary>The hypervisor's log messages by POST code (the bring-up's and failure codes have standard messages).</summary>
    public IReadOnlyDictionary<byte, string> Log { get; init; } = new Dictionary<byte, string>();
    /// <summary>NMIs and external interrupts the devices raise, each posted when its anchor happens.</summary>
    public IReadOnlyList<ScheduledEvent> Events { get; init; } = [];
    /// <summary>Host-side devices beyond <see cref="Events"/>: called after every transition and guest event.</summary>
    public Action<VmxLab, VmxTransition?, GuestEvent?>? Devices { get; init; }
    /// <summary>The run's instruction bound (<see cref="RunLimits.MaxInstructions"/>).</summary>
    public ulong MaxInstructions { get; init; } = 2_000_000;
}

/// <summary>
/// A bare-metal x86-64 machine for hypervisor programs. The host API only does what firmware and a boot loader
/// would: it puts the processor in 64-bit mode (GDT, busy TSS, host IDT whose fault stubs stop the machine,
/// identity page tables) and loads two images, the hypervisor and its guest. Everything VMX — VMXON, the
/// VMCS, VMLAUNCH, exit handling, VMRESUME — is the hypervisor's own code (<see cref="HypervisorAssembler"/>).
/// <see cref="Run"/> runs a <see cref="VmxScenario"/> and returns what happened (<see cref="VmxRun"/>), writing a
/// readable trace of every transition and event.
/// </summary>
/// <remarks>
/// Memory (2 MiB, identity-mapped with 2-MiB pages): GDT 1000h, host IDT 2000h, TSS 3000h, page tables
/// 4000h-6FFFh, hypervisor data 8000h, guest data 9000h, hypervisor code 10000h (host fault stubs at 1F000h),
/// VMXON region 20000h, VMCS region 21000h, guest code 30000h (stack below 38000h), guest IDT 40000h, host
/// stacks below 90000h (boot) and 98000h (HOST_RSP).
/// </remarks>
public sealed class VmxLab
{
    /// <summary>GDT: null, 64-bit code (<see cref="CodeSel"/>), flat data (<see cref="DataSel"/>), 64-bit TSS (<see cref="TssSel"/>).</summary>
    public const ulong Gdt = 0x1000;
    /// <summary>The host IDT (32 vectors, fault stubs).</summary>
    public const ulong HostIdt = 0x2000;
    /// <summary>The 64-bit TSS (RSP0 = <see cref="BootStack"/>).</summary>
    public const ulong Tss = 0x3000;
    /// <summary>PML4 of the identity map.</summary>
    public const ulong Pml4 = 0x4000;
    /// <summary>PDPT of the identity map.</summary>
    public const ulong Pdpt = 0x5000;
    /// <summary>Page directory of the identity map (2-MiB pages).</summary>
    public const ulong Pd = 0x6000;
    /// <summary>The hypervisor's variables (<see cref="HypervisorAssembler.Data"/>).</summary>
    public const ulong HvData = 0x8000;
    /// <summary>The guest's data page (returned in <see cref="VmxRun.GuestData"/>, 100h bytes).</summary>
    public const ulong GuestData = 0x9000;
    /// <summary>Where the hypervisor's code is assembled and where the processor starts.</summary>
    public const ulong HvCode = 0x1_0000;
    /// <summary>The VMXON region.</summary>
    public const ulong VmxonRegion = 0x2_0000;
    /// <summary>The VMCS region.</summary>
    public const ulong VmcsRegion = 0x2_1000;
    /// <summary>Where the guest's code is assembled (its first RIP).</summary>
    public const ulong GuestCode = 0x3_0000;
    /// <summary>The guest's first RSP.</summary>
    public const ulong GuestStack = 0x3_8000;
    /// <summary>The guest's IDT (<see cref="GuestVectors"/> 16-byte gates).</summary>
    public const ulong GuestIdt = 0x4_0000;
    /// <summary>The stack the processor starts on (and TSS.RSP0).</summary>
    public const ulong BootStack = 0x9_0000;
    /// <summary>HOST_RSP: the exit handler's stack.</summary>
    public const ulong ExitStack = 0x9_8000;
    /// <summary>The 64-bit code selector.</summary>
    public const ushort CodeSel = 0x08;
    /// <summary>The flat data selector.</summary>
    public const ushort DataSel = 0x10;
    /// <summary>The TSS selector.</summary>
    public const ushort TssSel = 0x18;
    /// <summary>The GDT limit.</summary>
    public const ushort GdtLimit = 0x27;
    /// <summary>The number of gates in the guest IDT.</summary>
    public const int GuestVectors = 64;
    /// <summary>The guest IDT limit.</summary>
    public const ushort GuestIdtLimit = GuestVectors * 16 - 1;
    /// <summary>Hypervisor variable: the vector of an exception or NMI the hypervisor itself took (FFFFFFFFh: none); the machine stops with debug-exit code 7Fh.</summary>
    public const ulong HvHostFault = HvData + 0x30;
    /// <summary>Hypervisor variable free for the scenario (e.g. a held vector).</summary>
    public const ulong HvHeld = HvData + 0x40;
    /// <summary>Guest variable: the vector a guest stub recorded for an event it did not expect (FFFFFFFFh: none).</summary>
    public const int GuestUnexpected = 0x10;

    private readonly TextWriter _trace;
    private readonly List<VmxTransition> _transitions = new();
    private readonly List<GuestEvent> _guestEvents = new();
    private readonly List<string> _hvLog = new();
    private VmxScenario? _scenario;
    private EventScheduler? _scheduler;

    /// <summary>
    /// Creates the lab on <paramref name="machine"/> (at least 2 MiB, fresh; a new 2-MiB machine if null);
    /// <paramref name="trace"/> receives the trace (none if null).
    /// </summary>
    public VmxLab(Machine? machine = null, TextWriter? trace = null)
    {
        _trace = trace ?? TextWriter.Null;
        M = machine ?? new Machine(new MachineOptions { MemoryMiB = 2 });
        BootLongMode();
    }

    /// <summary>The machine.</summary>
    public Machine M { get; }

    /// <summary>The processor.</summary>
    public Cpu Cpu => M.Cpu;

    /// <summary>Writes one trace line: cycle, event, fields.</summary>
    public void Trace(ulong cycle, string ev, string fields) =>
        _trace.WriteLine($"  [cycle {cycle,8}] {ev,-14} {fields}");

    /// <summary>The "firmware": 64-bit mode, flat segments, a busy 64-bit TSS, identity paging, the host IDT (SDM Vol. 3A, 10.8.5).</summary>
    private void BootLongMode()
    {
        W64(Gdt + CodeSel, 0x00AF_9B00_0000_FFFF);                       // 64-bit code, DPL 0, accessed
        W64(Gdt + DataSel, 0x00CF_9300_0000_FFFF);                       // flat data, DPL 0, accessed
        W64(Gdt + TssSel, 0x67 | ((Tss & 0xFF_FFFF) << 16) | (0xBUL << 40) | (1UL << 47) | ((Tss >> 24 & 0xFF) << 56));
        W64(Gdt + TssSel + 8, Tss >> 32);                                 // busy 64-bit TSS, as after LTR
        W64(Tss + 4, BootStack);                                          // RSP0
        W64(Pml4, Pdpt | 3);
        W64(Pdpt, Pd | 3);
        for (ulong i = 0; i < 512; i++) W64(Pd + i * 8, (i << 21) | 0x83);

        // Host IDT: any exception or NMI in the hypervisor records its vector and stops the machine (code 0x7F).
        FaultIdt(HostIdt, HvCode + 0xF000, HvHostFault, 0x7F);

        var c = Cpu;
        c.Cr3Value = Pml4;
        c.Cr4Value = Cr4.PAE;
        c.EferValue = Efer.LME | Efer.LMA;
        c.Cr0Value = Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG;
        c.Gdtr = new DescriptorTableRegister(Gdt, GdtLimit);
        c.Idtr = new DescriptorTableRegister(HostIdt, 32 * 16 - 1);
        c.Tr = SegmentCache.FromDescriptor(TssSel, R64(Gdt + TssSel));
        c.Ldtr = SegmentCache.Null();
        c.SetSegment(SegmentRegister.Cs, SegmentCache.FromDescriptor(CodeSel, R64(Gdt + CodeSel)));
        foreach (var s in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            c.SetSegment(s, SegmentCache.FromDescriptor(DataSel, R64(Gdt + DataSel)));
        c[Gpr.Rsp] = BootStack;
        c.Rflags = 2;
        c.InterceptedExceptions = 0; // exceptions go through the IDTs, as on bare metal
        c.Rip = HvCode;
    }

    /// <summary>
    /// Loads the scenario's guest and hypervisor images and runs the machine until the hypervisor ends it (or the
    /// scenario's instruction bound); returns every transition, guest event and log line. Use a lab once.
    /// </summary>
    public VmxRun Run(VmxScenario s)
    {
        ArgumentNullException.ThrowIfNull(s);
        _scenario = s;
        _trace.WriteLine($"  -- {s.Title}");
        var labels = LoadGuest(s.Guest);
        LoadHypervisor(s);
        M.PostCodes.CodeWritten += code =>
        {
            string msg = s.Log.TryGetValue(code, out var m) ? m : StandardLog(code);
            _hvLog.Add(msg);
            Trace(Cpu.Cycles, "hypervisor", msg);
        };
        Cpu.VmxTransitionObserved += OnTransition; // chained: a timeline recorder may already observe
        Cpu.EventDelivered += OnEvent;
        _scheduler = new EventScheduler(Cpu, s.Events, (cycle, text) => Trace(cycle, "device", text));
        _scheduler.Start();
        var r = M.Run(RunLimits.Instructions(s.MaxInstructions));
        if (r.Reason != StopReason.DebugExit || r.ExitCode != 1)
            Trace(Cpu.Cycles, "STOP", $"{r} host-fault-vector={R64(HvHostFault) & 0xFFFF_FFFF} last-entry-failure={Cpu.LastVmEntryFailure}");
        else
            Trace(Cpu.Cycles, "power off", "the hypervisor wrote 0 to the debug-exit port");
        return new VmxRun(s.Title, _transitions, _guestEvents, _hvLog, labels, r, M.ReadMemory(GuestData, 0x100));
    }

    /// <summary>The messages of the bring-up's POST codes (01h-03h) and the failure codes (E0h-E3h).</summary>
    public static string StandardLog(byte code) => code switch
    {
        0x01 => "CPUID.1:ECX.VMX = 1, IA32_FEATURE_CONTROL locked with VMXON enabled, CR0/CR4 fixed bits applied (CR4.VMXE = 1)",
        0x02 => "VMXON, VMCLEAR, VMPTRLD done: the VMCS at 0x21000 is current",
        0x03 => "controls (adjusted by the capability MSRs), host state and guest state written with VMWRITE; VMLAUNCH",
        0xE0 => "a VMX instruction failed (VMfail); stopping",
        0xE1 => "unexpected VM exit; stopping",
        0xE2 => "a control this hypervisor needs is not supported; stopping",
        0xE3 => "VMX is not available; stopping",
        _ => $"code 0x{code:X2}",
    };

    private void OnTransition(VmxTransition t)
    {
        _transitions.Add(t);
        var v = Cpu.CurrentVmcs;
        switch (t.Kind)
        {
            case VmxTransitionKind.Entry:
                ulong intr = v?.Read(VmcsField.GuestInterruptibilityState) ?? 0;
                ulong pin = v?.Read(VmcsField.PinBasedVmExecControls) ?? 0, proc = v?.Read(VmcsField.PrimaryProcBasedVmExecControls) ?? 0;
                Trace(t.Cycle, "VM entry", $"guest RIP 0x{t.GuestRip:X}  pin 0x{pin:X}{ControlNames(pin, 0)}  proc 0x{proc:X8}{ControlNames(0, proc)}  interruptibility {intr}" +
                      (t.InterruptionInfo != 0 ? $"  inject 0x{t.InterruptionInfo:X8} ({Describe(t.InterruptionInfo)})" : ""));
                break;
            case VmxTransitionKind.Exit:
                ulong saved = v?.Read(VmcsField.GuestInterruptibilityState) ?? 0;
                ulong activity = v?.Read(VmcsField.GuestActivityState) ?? 0;
                Trace(t.Cycle, "VM exit", $"reason {t.ExitReason & 0xFFFF} ({t.BasicReason})  guest RIP 0x{t.GuestRip:X}  " +
                      $"interruption-info 0x{t.InterruptionInfo:X8}" + (t.InterruptionInfo != 0 ? $" ({Describe(t.InterruptionInfo)})" : "") +
                      $"  idt-vectoring 0x{t.IdtVectoringInfo:X8}  qualification 0x{t.Qualification:X}  interruptibility {saved}" +
                      (activity == 1 ? "  activity HLT" : activity != 0 ? $"  activity {activity}" : ""));
                break;
            case VmxTransitionKind.EntryFailure:
                Trace(t.Cycle, "VM-entry fail", $"reason 0x{t.ExitReason:X8} ({t.BasicReason}, bit 31 set)  qualification 0x{t.Qualification:X}");
                Trace(t.Cycle, "", $"Cpu.LastVmEntryFailure: {Cpu.LastVmEntryFailure}");
                break;
            case VmxTransitionKind.EntryFail:
                Trace(t.Cycle, "VMfail", $"VM-instruction error {(int)t.InstructionError} ({t.InstructionError}) {t.Failure}");
                break;
            default:
                Trace(t.Cycle, "VMX abort", $"indicator {t.ExitReason}");
                break;
        }
        _scheduler?.OnTransition(t);
        _scenario?.Devices?.Invoke(this, t, null);
    }

    private void OnEvent(byte vector, EventKind kind, uint? error)
    {
        if (!Cpu.InVmxNonRoot)
        {
            Trace(Cpu.Cycles, "host event", $"vector {vector} ({kind}) in the hypervisor");
            return;
        }
        var e = new GuestEvent(Cpu.Cycles, vector, kind);
        _guestEvents.Add(e);
        Trace(Cpu.Cycles, "guest event", $"vector 0x{vector:X2} ({kind}) delivered through the guest IDT -> handler 0x{Cpu.Rip:X}");
        _scheduler?.OnGuestEvent(e.Cycle, vector);
        _scenario?.Devices?.Invoke(this, null, e);
    }

    /// <summary>The pin-based and primary processor-based controls about events, by name: " [NMI exiting, virtual NMIs]".</summary>
    private static string ControlNames(ulong pin, ulong proc)
    {
        var names = new List<string>();
        if ((pin & PinBasedControls.ExternalInterruptExiting) != 0) names.Add("external-interrupt exiting");
        if ((pin & PinBasedControls.NmiExiting) != 0) names.Add("NMI exiting");
        if ((pin & PinBasedControls.VirtualNmis) != 0) names.Add("virtual NMIs");
        if ((proc & PrimaryProcessorBasedControls.InterruptWindowExiting) != 0) names.Add("interrupt-window exiting");
        if ((proc & PrimaryProcessorBasedControls.NmiWindowExiting) != 0) names.Add("NMI-window exiting");
        return names.Count == 0 ? "" : $" [{string.Join(", ", names)}]";
    }

    /// <summary>"NMI, vector 0x02", "external interrupt, vector 0x30"... for an interruption-information value (SDM Vol. 3C, 24.9.2, Table 24-17).</summary>
    public static string Describe(uint info)
    {
        if ((info & 0x8000_0000) == 0) return "none";
        string type = ((info >> 8) & 7) switch
        {
            0 => "external interrupt",
            2 => "NMI",
            3 => "hardware exception",
            4 => "software interrupt",
            5 => "privileged software exception",
            6 => "software exception",
            7 => "other event",
            _ => "reserved type",
        };
        return $"{type}, vector 0x{info & 0xFF:X2}";
    }

    // ------------------------------------------------------------------ images

    /// <summary>
    /// Assembles a guest image at <see cref="GuestCode"/> with its <see cref="GuestVectors"/>-entry IDT at
    /// <see cref="GuestIdt"/> (64-bit interrupt gates; unclaimed vectors get stubs that record the vector at
    /// <see cref="GuestData"/> + <see cref="GuestUnexpected"/> and halt), clears the guest data page; returns the
    /// addresses of its named positions.
    /// </summary>
    public Dictionary<string, ulong> LoadGuest(Action<GuestAssembler> guest)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var g = new GuestAssembler();
        guest(g);
        var a = g.A;
        // Stubs for every vector the guest did not claim: record the vector and halt.
        var stubs = new Dictionary<int, Label>();
        for (int v = 0; v < GuestVectors; v++)
        {
            if (g.Handlers.ContainsKey(v)) continue;
            var l = a.CreateLabel();
            a.Label(ref l);
            a.mov(__dword_ptr[GuestData + GuestUnexpected], v);
            a.hlt();
            a.jmp(l);
            stubs[v] = l;
        }
        var bytes = Assemble(a, GuestCode, out var rip);
        M.WriteMemory(GuestCode, bytes);
        M.WriteMemory(GuestData, new byte[0x100]);
        W64(GuestData + GuestUnexpected, 0xFFFF_FFFF);
        for (int v = 0; v < GuestVectors; v++) Gate(GuestIdt, v, rip(g.Handlers.TryGetValue(v, out var h) ? h : stubs[v]));
        var labels = new Dictionary<string, ulong>();
        foreach (var (name, l) in g.Marks) labels[name] = rip(l);
        return labels;
    }

    private void LoadHypervisor(VmxScenario s)
    {
        var h = new HypervisorAssembler();
        var a = h.A;
        var exitHandler = a.CreateLabel("exit-handler");
        var noVmx = a.CreateLabel();
        h.EmitBringUp(new VmxBringUp
        {
            VmxonRegion = VmxonRegion, VmcsRegion = VmcsRegion, Pin = s.Pin, Proc = s.Proc, Exit = s.Exit, Entry = s.Entry,
            LaunchInjection = s.LaunchInjection, ExitStack = ExitStack, ExitHandler = exitHandler,
            GuestRip = GuestCode, GuestRsp = GuestStack, GuestIdt = GuestIdt, GuestIdtLimit = GuestIdtLimit,
            GuestRflags = s.GuestRflags, GuestInterruptibility = s.GuestInterruptibility,
        }, noVmx);

        // ---- 6. Launch. VMLAUNCH falls through only when it fails.
        a.vmlaunch();
        a.jmp(h.VmFail);

        // ---- 7. The exit handler: every VM exit (and VM-entry failure) lands here, on ExitStack.
        a.Label(ref exitHandler);
        h.SaveGuestRegisters();
        s.OnExit(h);
        a.jmp(h.Unexpected);

        h.EmitEndings(noVmx);
        var bytes = Assemble(a, HvCode, out _);
        if (bytes.Length > 0xF000) throw new InvalidOperationException("hypervisor image too large");
        M.WriteMemory(HvCode, bytes);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>
    /// Fills vectors 0-31 of the IDT at <paramref name="idt"/> with stubs (assembled at <paramref name="stubs"/>)
    /// that store their vector at <paramref name="faultWord"/> and stop the machine with debug-exit code
    /// <paramref name="exitCode"/>; the word starts as FFFFFFFFh ("no fault").
    /// </summary>
    public void FaultIdt(ulong idt, ulong stubs, ulong faultWord, byte exitCode)
    {
        var a = new Assembler(64);
        var labels = new Label[32];
        for (int v = 0; v < 32; v++)
        {
            labels[v] = a.CreateLabel();
            a.Label(ref labels[v]);
            a.mov(__dword_ptr[faultWord], v);
            a.mov(al, exitCode);
            a.@out(0xF4, al);
            a.hlt();
        }
        M.WriteMemory(stubs, Assemble(a, stubs, out var rip));
        for (int v = 0; v < 32; v++) Gate(idt, v, rip(labels[v]));
        W64(faultWord, 0xFFFF_FFFF);
    }

    /// <summary>Writes a 64-bit interrupt gate (type 14, DPL 0, selector <see cref="CodeSel"/>) for <paramref name="vector"/> of the IDT at <paramref name="idt"/> (SDM Vol. 3A, 6.14.1).</summary>
    public void Gate(ulong idt, int vector, ulong handler)
    {
        ulong lo = (handler & 0xFFFF) | ((ulong)CodeSel << 16) | (0xEUL << 40) | (1UL << 47) | (((handler >> 16) & 0xFFFF) << 48);
        W64(idt + (ulong)vector * 16, lo);
        W64(idt + (ulong)vector * 16 + 8, handler >> 32);
    }

    /// <summary>Writes a 64-bit value to physical memory.</summary>
    public void W64(ulong address, ulong value) => M.WriteMemory(address, BitConverter.GetBytes(value));

    /// <summary>Reads a 64-bit value from physical memory.</summary>
    public ulong R64(ulong address) => BitConverter.ToUInt64(M.ReadMemory(address, 8));

    /// <summary>Assembles <paramref name="a"/> at <paramref name="at"/>; <paramref name="rip"/> resolves a label to its address.</summary>
    public static byte[] Assemble(Assembler a, ulong at, out Func<Label, ulong> rip)
    {
        ArgumentNullException.ThrowIfNull(a);
        var w = new ByteWriter();
        var result = a.Assemble(w, at, BlockEncoderOptions.ReturnNewInstructionOffsets);
        rip = l => result.GetLabelRIP(l);
        return w.Bytes.ToArray();
    }

    private sealed class ByteWriter : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
