using Iced.Intel;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;
using E = Vtx.Vmx.VmcsEncoding;

namespace Vtx.Samples;

/// <summary>One event the guest saw through its own IDT (from <see cref="Cpu.EventDelivered"/> in VMX non-root operation).</summary>
/// <param name="Cycle">The cycle count after delivery.</param>
/// <param name="Vector">The vector delivered.</param>
/// <param name="Kind">NMI, external interrupt, exception...</param>
public sealed record GuestEvent(ulong Cycle, byte Vector, EventKind Kind);

/// <summary>
/// What one run of a small hypervisor gave: every VMX transition the host observed, the events the
/// guest took through its IDT, the hypervisor's own log (its POST codes), the addresses of the guest's
/// labelled instructions, and how the machine stopped.
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
    /// <summary>True when the hypervisor ended the machine itself with code 0 (exit code 1).</summary>
    public bool Clean => Result.Reason == StopReason.DebugExit && Result.ExitCode == 1;

    /// <summary>The 32-bit guest variable at offset <paramref name="offset"/> of the guest data page.</summary>
    public uint GuestWord(int offset) => BitConverter.ToUInt32(GuestData, offset);
}

/// <summary>
/// The guest of a scenario: code assembled at <see cref="VmxLab.GuestCode"/>, handlers for the
/// vectors it cares about (every other vector of its 64-entry IDT gets a stub that records the
/// vector at <see cref="VmxLab.GuestUnexpected"/> and halts), and named labels.
/// </summary>
internal sealed class GuestImage
{
    private readonly Dictionary<string, Label> _marks = new();
    public Assembler A { get; } = new(64);
    public Dictionary<int, Label> Handlers { get; } = new();

    /// <summary>Names the current position (the address of the next instruction).</summary>
    public Label Mark(string name)
    {
        var l = Here(name);
        _marks[name] = l;
        return l;
    }

    /// <summary>Starts the handler of <paramref name="vector"/> at the current position.</summary>
    public void Handler(int vector, string name) => Handlers[vector] = Mark(name);

    // Iced allows one label per instruction: a second name for the same position shares the label.
    private Label _last;
    private int _lastAt = -1;

    private Label Here(string name)
    {
        if (_lastAt == A.Instructions.Count) return _last;
        _last = A.CreateLabel(name);
        A.Label(ref _last);
        _lastAt = A.Instructions.Count;
        return _last;
    }

    public IReadOnlyDictionary<string, Label> Marks => _marks;
}

/// <summary>
/// The hypervisor's program: the VMX bring-up every scenario shares (CPUID and IA32_FEATURE_CONTROL
/// checks, CR0/CR4 fixed bits, VMXON, VMCLEAR, VMPTRLD, a VMWRITE of every control, host-state and
/// guest-state field, VMLAUNCH) and helpers for the scenario's own exit handler, which starts at
/// HOST_RIP. Register use: RCX holds field encodings, RAX values; VMREAD/VMWRITE failures (CF or ZF)
/// jump to <see cref="VmFail"/>.
/// </summary>
internal sealed class HvAsm
{
    public Assembler A { get; } = new(64);
    /// <summary>VMfailInvalid / VMfailValid of any VMX instruction: the hypervisor reports and stops (code 0xE0).</summary>
    public Label VmFail;
    /// <summary>The guest is done: the hypervisor powers the machine off (debug-exit code 0).</summary>
    public Label Done;
    /// <summary>An exit the scenario did not expect: the hypervisor stops with code 0xE1.</summary>
    public Label Unexpected;
    /// <summary>A control the scenario needs is not allowed by the capability MSRs: code 0xE2.</summary>
    public Label ControlUnsupported;

    /// <summary>Base of this hypervisor's variables: IA32_VMX_BASIC at +10h, SGDT/SIDT scratch at +20h, guest registers at +100h.</summary>
    public ulong Data { get; }

    public HvAsm(ulong data = VmxLab.HvData)
    {
        Data = data;
        VmFail = A.CreateLabel("vmfail");
        Done = A.CreateLabel("done");
        Unexpected = A.CreateLabel("unexpected");
        ControlUnsupported = A.CreateLabel("control-unsupported");
    }

    /// <summary>VMWRITE <paramref name="field"/> := <paramref name="value"/>.</summary>
    public void Write(uint field, ulong value)
    {
        if (value <= int.MaxValue) A.mov(eax, (uint)value);
        else A.mov(rax, value);
        WriteFrom(field, rax);
    }

    /// <summary>VMWRITE <paramref name="field"/> := <paramref name="value"/> (any register but RCX).</summary>
    public void WriteFrom(uint field, AssemblerRegister64 value)
    {
        A.mov(ecx, field);
        A.vmwrite(rcx, value);
        A.jbe(VmFail);
    }

    /// <summary>VMREAD <paramref name="dst"/> := <paramref name="field"/> (any register but RCX).</summary>
    public void Read(AssemblerRegister64 dst, uint field)
    {
        A.mov(ecx, field);
        A.vmread(dst, rcx);
        A.jbe(VmFail);
    }

    /// <summary>Sets <paramref name="bits"/> in a 32-bit control field (read-modify-write with RAX).</summary>
    public void SetBits(uint field, uint bits)
    {
        Read(rax, field);
        A.or(eax, (int)bits);
        WriteFrom(field, rax);
    }

    /// <summary>Clears <paramref name="bits"/> in a 32-bit control field (read-modify-write with RAX).</summary>
    public void ClearBits(uint field, uint bits)
    {
        Read(rax, field);
        A.and(eax, (int)~bits);
        WriteFrom(field, rax);
    }

    /// <summary>
    /// The guest's general-purpose registers (all but RSP, which the VMCS holds): a VM exit does not save
    /// them and the host's code uses them, so the exit handler stores them first and VMRESUME restores them.
    /// </summary>
    internal static readonly AssemblerRegister64[] GuestGprs = [rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15];

    /// <summary>Stores the guest's registers (the first thing the exit handler does).</summary>
    public void SaveGuestRegisters()
    {
        for (int i = 0; i < GuestGprs.Length; i++) A.mov(__qword_ptr[Data + 0x100 + (ulong)i * 8], GuestGprs[i]);
    }

    /// <summary>Restores the guest's registers and executes VMRESUME; a VMfail falls through to <see cref="VmFail"/>.</summary>
    public void Resume()
    {
        for (int i = 0; i < GuestGprs.Length; i++) A.mov(GuestGprs[i], __qword_ptr[Data + 0x100 + (ulong)i * 8]);
        A.vmresume();
        A.jmp(VmFail);
    }

    /// <summary>Writes a progress code to the POST port 80h (clobbers AL): the hypervisor's log.</summary>
    public void Log(byte code)
    {
        A.mov(al, code);
        A.@out(0x80, al);
    }

    /// <summary>
    /// A control field adjusted by its capability MSR as a VMM must (SDM Vol. 3C, A.3-A.5): the TRUE MSR
    /// when IA32_VMX_BASIC[55] = 1, else the plain one; value = (desired | allowed-0) &amp; allowed-1, and
    /// every desired bit must survive.
    /// </summary>
    public void Control(uint field, uint plainMsr, uint trueMsr, uint desired)
    {
        A.mov(ecx, plainMsr);
        A.mov(eax, trueMsr);
        A.test(__byte_ptr[Data + 0x10 + 6], 0x80); // IA32_VMX_BASIC[55]: the TRUE capability MSRs exist
        A.cmovne(ecx, eax);
        A.rdmsr();                                      // EAX = allowed-0 (must be 1), EDX = allowed-1 (may be 1)
        A.mov(ebx, desired);
        A.or(ebx, eax);
        A.and(ebx, edx);
        A.mov(eax, ebx);
        A.and(eax, (int)desired);
        A.cmp(eax, (int)desired);
        A.jne(ControlUnsupported);
        WriteFrom(field, rbx);
    }
}

/// <summary>What a scenario's hypervisor puts in the VMCS and how it handles exits.</summary>
internal sealed class Scenario
{
    public required string Title { get; init; }
    /// <summary>Desired pin-based controls (adjusted by the capability MSR in the hypervisor's code).</summary>
    public uint Pin { get; init; }
    /// <summary>Desired primary processor-based controls.</summary>
    public uint Proc { get; init; }
    /// <summary>Desired VM-exit controls (a 64-bit host).</summary>
    public uint Exit { get; init; } = ExitControls.HostAddressSpaceSize;
    /// <summary>Desired VM-entry controls (a 64-bit guest).</summary>
    public uint Entry { get; init; } = EntryControls.Ia32eModeGuest;
    public ulong GuestRflags { get; init; } = 2;
    public ulong GuestInterruptibility { get; init; }
    /// <summary>VM-entry interruption information for VMLAUNCH (0: inject nothing).</summary>
    public uint LaunchInjection { get; init; }
    /// <summary>The guest program.</summary>
    public required Action<GuestImage> Guest { get; init; }
    /// <summary>The hypervisor's exit handler (HOST_RIP, after the guest's registers are saved); ends with <see cref="HvAsm.Resume"/>, or jumps to Done / Unexpected.</summary>
    public required Action<HvAsm> OnExit { get; init; }
    /// <summary>The hypervisor's log messages by POST code.</summary>
    public IReadOnlyDictionary<byte, string> Log { get; init; } = new Dictionary<byte, string>();
    /// <summary>Host-side devices: called after every transition and guest event (e.g. to post an NMI).</summary>
    public Action<VmxLab, VmxTransition?, GuestEvent?>? Devices { get; init; }
}

/// <summary>What <see cref="VmxLab.EmitBringUp"/> puts in the VMCS: regions, desired controls, the host's exit path and the guest's entry state.</summary>
internal sealed class BringUp
{
    public required ulong VmxonRegion { get; init; }
    public required ulong VmcsRegion { get; init; }
    public uint Pin { get; init; }
    public uint Proc { get; init; }
    public uint Exit { get; init; } = ExitControls.HostAddressSpaceSize;
    public uint Entry { get; init; } = EntryControls.Ia32eModeGuest;
    public uint LaunchInjection { get; init; }
    public required ulong ExitStack { get; init; }
    public required Label ExitHandler { get; init; }
    public required ulong GuestRip { get; init; }
    public required ulong GuestRsp { get; init; }
    public required ulong GuestIdt { get; init; }
    public ushort GuestIdtLimit { get; init; } = VmxLab.GuestIdtLimit;
    public ulong GuestRflags { get; init; } = 2;
    public ulong GuestInterruptibility { get; init; }
    /// <summary>The first of the three POST codes of the bring-up.</summary>
    public byte LogBase { get; init; } = 0x01;
}

/// <summary>
/// A bare-metal x86-64 machine for the VMX samples. The host API only does what firmware and a boot
/// loader would: it puts the processor in 64-bit mode (GDT, TSS, IDT, identity page tables — as
/// <c>Sys.EnterLong</c> does in the tests) and loads two images, the hypervisor and its guest. Everything
/// VMX — VMXON, the VMCS, VMLAUNCH, exit handling, VMRESUME — is the hypervisor's own code.
/// </summary>
/// <remarks>
/// Memory (2 MiB, identity-mapped with 2-MiB pages): GDT 1000h, host IDT 2000h, TSS 3000h, page tables
/// 4000h-6FFFh, hypervisor data 8000h, guest data 9000h, hypervisor code 10000h, VMXON region 20000h,
/// VMCS region 21000h, guest code 30000h (stack below 38000h), guest IDT 40000h, host stacks below 90000h
/// (boot) and 98000h (HOST_RSP).
/// </remarks>
public sealed class VmxLab
{
    public const ulong Gdt = 0x1000, HostIdt = 0x2000, Tss = 0x3000, Pml4 = 0x4000, Pdpt = 0x5000, Pd = 0x6000;
    public const ulong HvData = 0x8000, GuestData = 0x9000, HvCode = 0x1_0000, VmxonRegion = 0x2_0000, VmcsRegion = 0x2_1000;
    public const ulong GuestCode = 0x3_0000, GuestStack = 0x3_8000, GuestIdt = 0x4_0000, BootStack = 0x9_0000, ExitStack = 0x9_8000;
    public const ushort CodeSel = 0x08, DataSel = 0x10, TssSel = 0x18;
    public const ushort GdtLimit = 0x27, GuestIdtLimit = 64 * 16 - 1;

    // Hypervisor variables.
    internal const ulong HvVmxonPtr = HvData, HvVmcsPtr = HvData + 8, HvBasic = HvData + 0x10, HvTable = HvData + 0x20;
    internal const ulong HvHostFault = HvData + 0x30, HvHeld = HvData + 0x40, HvGuestRegs = HvData + 0x100;
    /// <summary>Guest variable: the vector a guest stub recorded for an event it did not expect (0xFFFFFFFF: none).</summary>
    public const int GuestUnexpected = 0x10;

    private readonly TextWriter _trace;
    private readonly List<VmxTransition> _transitions = new();
    private readonly List<GuestEvent> _guestEvents = new();
    private readonly List<string> _hvLog = new();
    private Scenario? _scenario;

    public Machine M { get; }
    public Cpu Cpu => M.Cpu;

    internal VmxLab(TextWriter trace)
    {
        _trace = trace;
        M = Sample.NewMachine(new MachineOptions { MemoryMiB = 2 });
        BootLongMode();
    }

    /// <summary>Writes one trace line: cycle, event, fields.</summary>
    public void Trace(ulong cycle, string ev, string fields) =>
        _trace.WriteLine($"  [cycle {cycle,8}] {ev,-14} {fields}");

    /// <summary>The "firmware": 64-bit mode, flat segments, a busy 64-bit TSS, identity paging, the host IDT.</summary>
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

    /// <summary>Loads the scenario's guest and hypervisor images and runs the machine until the hypervisor ends it.</summary>
    internal VmxRun Run(Scenario s)
    {
        _scenario = s;
        _trace.WriteLine($"  -- {s.Title}");
        var labels = LoadGuest(s);
        LoadHypervisor(s);
        M.PostCodes.CodeWritten += code =>
        {
            string msg = s.Log.TryGetValue(code, out var m) ? m : StandardLog(code);
            _hvLog.Add(msg);
            Trace(Cpu.Cycles, "hypervisor", msg);
        };
        Cpu.VmxTransitionObserved += OnTransition; // chained: a timeline recorder may already observe
        Cpu.EventDelivered += OnEvent;
        var r = M.Run(RunLimits.Instructions(2_000_000));
        if (r.Reason != StopReason.DebugExit || r.ExitCode != 1)
            Trace(Cpu.Cycles, "STOP", $"{r} host-fault-vector={R64(HvHostFault) & 0xFFFF_FFFF} last-entry-failure={Cpu.LastVmEntryFailure}");
        else
            Trace(Cpu.Cycles, "power off", "the hypervisor wrote 0 to the debug-exit port");
        return new VmxRun(s.Title, _transitions, _guestEvents, _hvLog, labels, r, M.ReadMemory(GuestData, 0x100));
    }

    private static string StandardLog(byte code) => code switch
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
        _scenario?.Devices?.Invoke(this, null, e);
    }

    /// <summary>The pin-based and primary processor-based controls these samples are about, by name: " [NMI exiting, virtual NMIs]".</summary>
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

    /// <summary>"NMI, vector 0x02", "external interrupt, vector 0x30"... for an interruption-information value.</summary>
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

    private Dictionary<string, ulong> LoadGuest(Scenario s) => LoadGuest(s.Guest);

    /// <summary>Assembles a guest image at <see cref="GuestCode"/> with its 64-entry IDT at <see cref="GuestIdt"/>; returns its labels.</summary>
    internal Dictionary<string, ulong> LoadGuest(Action<GuestImage> guest)
    {
        var g = new GuestImage();
        guest(g);
        var a = g.A;
        // Stubs for every vector the guest did not claim: record the vector and halt.
        var stubs = new Dictionary<int, Label>();
        for (int v = 0; v < 64; v++)
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
        for (int v = 0; v < 64; v++) Gate(GuestIdt, v, rip(g.Handlers.TryGetValue(v, out var h) ? h : stubs[v]));
        var labels = new Dictionary<string, ulong>();
        foreach (var (name, l) in g.Marks) labels[name] = rip(l);
        return labels;
    }

    /// <summary>
    /// Emits the VMX bring-up every hypervisor here shares, up to (not including) VMLAUNCH: CPUID and
    /// IA32_FEATURE_CONTROL checks, CR0/CR4 fixed bits, VMXON, VMCLEAR, VMPTRLD, every control (adjusted by
    /// the capability MSRs), this code's own registers as host state, and a 64-bit ring-0 guest on the same
    /// GDT and page tables (SDM Vol. 3C, 23.6-23.7, 24.2-24.8, Appendix A). Logs LogBase, +1, +2.
    /// </summary>
    internal static void EmitBringUp(HvAsm h, BringUp p, Label noVmx)
    {
        var a = h.A;
        var locked = a.CreateLabel();
        var fcOk = a.CreateLabel();

        // ---- 1. Is VMX there, and may VMXON run? (SDM Vol. 3C, 23.6, 23.7)
        a.mov(eax, 1);
        a.cpuid();
        a.bt(ecx, 5);                                   // CPUID.1:ECX.VMX
        a.jae(noVmx);
        a.mov(ecx, Msr.FeatureControl);
        a.rdmsr();
        a.test(al, 1);                                  // lock bit
        a.jne(locked);
        a.or(eax, 5);                                   // lock + enable VMXON outside SMX
        a.wrmsr();
        a.jmp(fcOk);
        a.Label(ref locked);
        a.test(al, 4);
        a.je(noVmx);
        a.Label(ref fcOk);
        // CR0 and CR4 must respect IA32_VMX_CR0/CR4_FIXED0 (bits fixed to 1) and FIXED1 (bits allowed to be 1); CR4.VMXE is in FIXED0.
        foreach (var (fixed0, cr) in new[] { (VmxMsr.Cr0Fixed0, cr0), (VmxMsr.Cr4Fixed0, cr4) })
        {
            a.mov(rbx, cr);
            a.mov(ecx, fixed0);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.or(rbx, rax);
            a.mov(ecx, fixed0 + 1);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.and(rbx, rax);
            a.mov(cr, rbx);
        }
        h.Log(p.LogBase);

        // ---- 2. VMXON, VMCLEAR, VMPTRLD: revision identifier from IA32_VMX_BASIC[30:0] (SDM Vol. 3C, 24.2, A.1).
        a.mov(ecx, VmxMsr.Basic);
        a.rdmsr();
        a.mov(__dword_ptr[h.Data + 0x10], eax);
        a.mov(__dword_ptr[h.Data + 0x14], edx);
        a.and(eax, 0x7FFF_FFFF);
        a.mov(__dword_ptr[p.VmxonRegion], eax);
        a.mov(__dword_ptr[p.VmcsRegion], eax);
        a.mov(eax, (uint)p.VmxonRegion);
        a.mov(__qword_ptr[h.Data], rax);
        a.mov(eax, (uint)p.VmcsRegion);
        a.mov(__qword_ptr[h.Data + 8], rax);
        a.vmxon(__qword_ptr[h.Data]);
        a.jbe(h.VmFail);
        a.vmclear(__qword_ptr[h.Data + 8]);
        a.jbe(h.VmFail);
        a.vmptrld(__qword_ptr[h.Data + 8]);
        a.jbe(h.VmFail);
        h.Log((byte)(p.LogBase + 1));

        // ---- 3. VM-execution, VM-exit and VM-entry controls (SDM Vol. 3C, 24.6-24.8).
        h.Control(E.PinBasedVmExecControls, VmxMsr.PinBasedCtls, VmxMsr.TruePinBasedCtls, p.Pin);
        h.Control(E.PrimaryProcBasedVmExecControls, VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls, p.Proc);
        h.Control(E.VmExitControls, VmxMsr.ExitCtls, VmxMsr.TrueExitCtls, p.Exit);
        h.Control(E.VmEntryControls, VmxMsr.EntryCtls, VmxMsr.TrueEntryCtls, p.Entry);
        foreach (uint f in new[] { E.ExceptionBitmap, E.PageFaultErrorCodeMask, E.PageFaultErrorCodeMatch, E.Cr3TargetCount,
                     E.VmExitMsrStoreCount, E.VmExitMsrLoadCount, E.VmEntryMsrLoadCount, E.VmEntryExceptionErrorCode,
                     E.VmEntryInstructionLength, E.Cr0GuestHostMask, E.Cr4GuestHostMask, E.Cr0ReadShadow, E.Cr4ReadShadow, E.TscOffset })
            h.Write(f, 0);
        h.Write(E.VmEntryInterruptionInformation, p.LaunchInjection);

        // ---- 4. Host state: this hypervisor's own registers (SDM Vol. 3C, 24.5).
        foreach (var (f, cr) in new[] { (E.HostCr0, cr0), (E.HostCr3, cr3), (E.HostCr4, cr4) })
        {
            a.mov(rax, cr);
            h.WriteFrom(f, rax);
        }
        foreach (var (f, sreg) in new[] { (E.HostCsSelector, cs), (E.HostSsSelector, ss), (E.HostDsSelector, ds), (E.HostEsSelector, es), (E.HostFsSelector, fs), (E.HostGsSelector, gs) })
        {
            a.mov(rax, sreg);
            h.WriteFrom(f, rax);
        }
        a.xor(eax, eax);
        a.str(ax);
        h.WriteFrom(E.HostTrSelector, rax);
        h.Write(E.HostTrBase, Tss);                       // the hypervisor's own TSS
        a.sgdt(__qword_ptr[h.Data + 0x20]);
        a.mov(rax, __qword_ptr[h.Data + 0x22]);
        h.WriteFrom(E.HostGdtrBase, rax);
        a.sidt(__qword_ptr[h.Data + 0x20]);
        a.mov(rax, __qword_ptr[h.Data + 0x22]);
        h.WriteFrom(E.HostIdtrBase, rax);
        foreach (var (f, msr) in new[] { (E.HostFsBase, Msr.FsBase), (E.HostGsBase, Msr.GsBase), (E.HostSysenterCs, Msr.SysenterCs),
                     (E.HostSysenterEsp, Msr.SysenterEsp), (E.HostSysenterEip, Msr.SysenterEip) })
        {
            a.mov(ecx, msr);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            h.WriteFrom(f, rax);
        }
        h.Write(E.HostRsp, p.ExitStack);
        a.lea(rax, __[p.ExitHandler]);
        h.WriteFrom(E.HostRip, rax);

        // ---- 5. Guest state: a 64-bit ring-0 guest on the same GDT and page tables, with its own IDT and stack (SDM Vol. 3C, 24.4).
        foreach (var (f, cr) in new[] { (E.GuestCr0, cr0), (E.GuestCr3, cr3), (E.GuestCr4, cr4) })
        {
            a.mov(rax, cr);
            h.WriteFrom(f, rax);
        }
        h.Write(E.GuestDr7, 0x400);
        h.Write(E.GuestCsSelector, CodeSel);
        h.Write(E.GuestCsBase, 0);
        h.Write(E.GuestCsLimit, 0xFFFF_FFFF);
        h.Write(E.GuestCsAccessRights, 0xA09B);          // present, DPL 0, execute/read accessed code, L = 1, G = 1
        foreach (var (sel, b, lim, ar) in new[]
                 {
                     (E.GuestSsSelector, E.GuestSsBase, E.GuestSsLimit, E.GuestSsAccessRights),
                     (E.GuestDsSelector, E.GuestDsBase, E.GuestDsLimit, E.GuestDsAccessRights),
                     (E.GuestEsSelector, E.GuestEsBase, E.GuestEsLimit, E.GuestEsAccessRights),
                     (E.GuestFsSelector, E.GuestFsBase, E.GuestFsLimit, E.GuestFsAccessRights),
                     (E.GuestGsSelector, E.GuestGsBase, E.GuestGsLimit, E.GuestGsAccessRights),
                 })
        {
            h.Write(sel, DataSel);
            h.Write(b, 0);
            h.Write(lim, 0xFFFF_FFFF);
            h.Write(ar, 0xC093);                          // present, DPL 0, read/write accessed data, D/B = 1, G = 1
        }
        h.Write(E.GuestTrSelector, TssSel);
        h.Write(E.GuestTrBase, Tss);
        h.Write(E.GuestTrLimit, 0x67);
        h.Write(E.GuestTrAccessRights, 0x8B);             // busy 64-bit TSS
        h.Write(E.GuestLdtrSelector, 0);
        h.Write(E.GuestLdtrAccessRights, 0x1_0000);       // unusable
        h.Write(E.GuestGdtrBase, Gdt);
        h.Write(E.GuestGdtrLimit, GdtLimit);
        h.Write(E.GuestIdtrBase, p.GuestIdt);
        h.Write(E.GuestIdtrLimit, p.GuestIdtLimit);
        h.Write(E.GuestRip, p.GuestRip);
        h.Write(E.GuestRsp, p.GuestRsp);
        h.Write(E.GuestRflags, p.GuestRflags);
        h.Write(E.GuestPendingDebugExceptions, 0);
        h.Write(E.GuestActivityState, 0);
        h.Write(E.GuestInterruptibilityState, p.GuestInterruptibility);
        h.Write(E.GuestSysenterCs, 0);
        h.Write(E.GuestSysenterEsp, 0);
        h.Write(E.GuestSysenterEip, 0);
        h.Write(E.VmcsLinkPointer, ulong.MaxValue);
        h.Log((byte)(p.LogBase + 2));
    }

    private void LoadHypervisor(Scenario s)
    {
        var h = new HvAsm();
        var a = h.A;
        var exitHandler = a.CreateLabel("exit-handler");
        var noVmx = a.CreateLabel();
        EmitBringUp(h, new BringUp
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

        a.Label(ref h.Done);
        a.xor(eax, eax);
        a.@out(0xF4, al);                                 // debug-exit: code (0 << 1) | 1 = 1
        a.hlt();
        foreach (var (label, code) in new[] { (h.VmFail, (byte)0xE0), (h.Unexpected, (byte)0xE1), (h.ControlUnsupported, (byte)0xE2), (noVmx, (byte)0xE3) })
        {
            var l = label;
            a.Label(ref l);
            h.Log(code);
            a.mov(al, code);
            a.@out(0xF4, al);
            a.hlt();
        }
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
    internal void FaultIdt(ulong idt, ulong stubs, ulong faultWord, byte exitCode)
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

    internal void Gate(ulong idt, int vector, ulong handler)
    {
        ulong lo = (handler & 0xFFFF) | ((ulong)CodeSel << 16) | (0xEUL << 40) | (1UL << 47) | (((handler >> 16) & 0xFFFF) << 48);
        W64(idt + (ulong)vector * 16, lo);
        W64(idt + (ulong)vector * 16 + 8, handler >> 32);
    }

    internal void W64(ulong a, ulong v) => M.WriteMemory(a, BitConverter.GetBytes(v));
    internal ulong R64(ulong a) => BitConverter.ToUInt64(M.ReadMemory(a, 8));

    internal static byte[] Assemble(Assembler a, ulong at, out Func<Label, ulong> rip)
    {
        var w = new Writer();
        var result = a.Assemble(w, at, BlockEncoderOptions.ReturnNewInstructionOffsets);
        rip = l => result.GetLabelRIP(l);
        return w.Bytes.ToArray();
    }

    private sealed class Writer : CodeWriter
    {
        public readonly List<byte> Bytes = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
