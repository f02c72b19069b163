using Vtx.Kit;
using Vtx.Vmx;

// The tests build their own L1 configurations and L2 programs for the direct-versus-nested property.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Vtx.Tests")]

namespace Vtx.Samples;

/// <summary>How L1 runs: directly in VMX root operation on Vtx, or as L0's guest (with or without VMCS shadowing).</summary>
public enum NestingMode
{
    /// <summary>L1 is the hypervisor Vtx runs (root operation); its VMX instructions are Vtx's.</summary>
    Direct,
    /// <summary>L1 runs under L0; every VMX instruction of L1 exits to L0, which emulates it.</summary>
    Nested,
    /// <summary>As <see cref="Nested"/>, with L0 using VMCS shadowing so that L1's VMREAD/VMWRITE of shadowed fields do not exit.</summary>
    NestedShadowing,
}

/// <summary>One VMX transition the host observed, with the level whose VMCS it used: "L1" (VMCS01) or "L2" (VMCS02, or VMCS12 when L1 runs directly).</summary>
/// <param name="Guest">The level entered or left.</param>
/// <param name="Host">The level in root operation: "L0" nested, "L1" direct.</param>
/// <param name="T">The transition.</param>
public sealed record LevelTransition(string Guest, string Host, VmxTransition T);

/// <summary>One exit as L1 saw it (its exit log; SDM Vol. 3C, 24.9 exit-information fields and guest RIP).</summary>
public sealed record L1Exit(uint Reason, ulong Qualification, uint InterruptionInfo, ulong InstructionLength, ulong GuestRip, uint IdtVectoringInfo);

/// <summary>
/// One run of L1 (and L2), directly or under L0 (<see cref="L1ExitHandler"/>: L1's exit handler, the host RIP of its VMCS): every transition the host observed, L2's events, both
/// hypervisors' logs, L1's exit log, L0's exit counters, and how the machine stopped.
/// </summary>
public sealed record NestedRun(string Title, NestingMode Mode, IReadOnlyList<LevelTransition> Transitions, IReadOnlyList<GuestEvent> L2Events,
    IReadOnlyList<string> L0Log, IReadOnlyList<string> L1Log, IReadOnlyList<L1Exit> L1Exits, IReadOnlyDictionary<string, ulong> Labels,
    RunResult Result, byte[] L1Data, byte[] L2Data, uint[] L0ExitsFromL1, uint[] L0ExitsFromL2, uint Reflected, ulong L1ExitHandler)
{
    /// <summary>True when L1 powered the machine off itself after VMXOFF (debug-exit code 0).</summary>
    public bool Clean => Result.Reason == StopReason.DebugExit && Result.ExitCode == 1;

    /// <summary>Exits that reached the root hypervisor: all of L0's (nested), or L1's (direct).</summary>
    public int RootExits => Transitions.Count(t => t.T.Kind is VmxTransitionKind.Exit or VmxTransitionKind.EntryFailure);

    /// <summary>The 32-bit L2 variable at <paramref name="offset"/> of L2's data page.</summary>
    public uint GuestWordCount(int offset) => BitConverter.ToUInt32(L2Data, offset);

    /// <summary>L2's final state as L1 recorded it: RIP, RSP, RFLAGS, interruptibility.</summary>
    public ulong Final(int i) => BitConverter.ToUInt64(L1Data, (int)(L1Hypervisor.Final - L1Hypervisor.Data) + 8 * i);
}

/// <summary>
/// The machine for the nested sample: <see cref="VmxLab"/>'s firmware (64-bit mode, identity paging), L2's
/// image (<see cref="VmxLab.LoadGuest"/>), L1 (<see cref="L1Hypervisor"/>) and, nested, L0
/// (<see cref="L0Hypervisor"/>), which the processor starts in.
/// </summary>
/// <remarks>
/// Memory: as <see cref="VmxLab"/> for L0 (code 10000h, VMXON 20000h, VMCS01 21000h) and L2 (code 30000h,
/// data 9000h, IDT 40000h); VMCS02 22000h, shadow VMCS 23000h, VMREAD/VMWRITE bitmaps 24000h/25000h, MSR
/// bitmap 26000h; L1 code 50000h, data 60000h, VMXON region 61000h, VMCS12 62000h, IDT 63000h, stacks 68000h
/// and 6C000h; L0 data 100000h, L0's encoding lookup 108000h.
/// </remarks>
internal sealed class NestedLab
{
    private readonly VmxLab _lab;
    private readonly TextWriter _trace;
    private readonly NestingMode _mode;
    private readonly List<LevelTransition> _transitions = new();
    private readonly List<GuestEvent> _l2Events = new();
    private readonly List<string> _l0Log = new(), _l1Log = new();
    private readonly Action<NestedLab, LevelTransition?, GuestEvent?>? _devices;
    private int _quietReads, _quietWrites;
    private bool _lastWasQuietExit;

    public Cpu Cpu => _lab.Cpu;

    private NestedLab(TextWriter trace, NestingMode mode, Action<NestedLab, LevelTransition?, GuestEvent?>? devices)
    {
        _trace = trace;
        _mode = mode;
        _devices = devices;
        _lab = new VmxLab(Sample.NewMachine(new MachineOptions { MemoryMiB = 2 }));
    }

    /// <summary>Runs <paramref name="cfg"/> in <paramref name="mode"/>; <paramref name="devices"/> is called after every transition and L2 event.</summary>
    /// <remarks>With <paramref name="observe"/> false nothing is traced or recorded (no transitions, events or logs): for timing the emulator alone.</remarks>
    public static NestedRun Run(TextWriter trace, L1Config cfg, NestingMode mode,
        Action<NestedLab, LevelTransition?, GuestEvent?>? devices = null, ulong maxInstructions = 2_000_000, bool observe = true) =>
        new NestedLab(trace, mode, devices).RunCore(cfg, maxInstructions, observe);

    /// <summary>Writes one trace line.</summary>
    public void Trace(ulong cycle, string ev, string fields)
    {
        Flush();
        _trace.WriteLine($"  [cycle {cycle,8}] {ev,-16} {fields}");
    }

    private NestedRun RunCore(L1Config cfg, ulong maxInstructions, bool observe)
    {
        string title = $"{cfg.Title} — {(_mode switch { NestingMode.Direct => "L1 directly in VMX root operation", NestingMode.Nested => "L1 under L0, no VMCS shadowing", _ => "L1 under L0 with VMCS shadowing" })}";
        _trace.WriteLine($"  -- {title}");
        var labels = _lab.LoadGuest(cfg.Guest);
        ulong l1ExitHandler = L1Hypervisor.Load(_lab, cfg);
        var fields = new NestedFields(Cpu.Model.Vmx!);
        if (_mode == NestingMode.Direct)
        {
            Cpu.Rip = L1Hypervisor.Code;
            Cpu[Gpr.Rsp] = L1Hypervisor.Stack;
        }
        else
        {
            L0Hypervisor.Load(_lab, fields, _mode == NestingMode.NestedShadowing);
        }
        if (observe)
        {
            _lab.M.PostCodes.CodeWritten += OnPostCode;
            Cpu.VmxTransitionObserved += OnTransition; // chained: a timeline recorder may already observe
            Cpu.EventDelivered += OnEvent;
        }
        var r = _lab.M.Run(RunLimits.Instructions(maxInstructions));
        if (r.Reason != StopReason.DebugExit || r.ExitCode != 1)
            Trace(Cpu.Cycles, "STOP", $"{r} L1-own-fault-vector={_lab.R64(L1Hypervisor.OwnFault) & 0xFFFF_FFFF} L0-host-fault-vector={_lab.R64(VmxLab.HvHostFault) & 0xFFFF_FFFF} last-entry-failure={Cpu.LastVmEntryFailure}");
        else
            Trace(Cpu.Cycles, "power off", "L1 wrote 0 to the debug-exit port after its VMXOFF");
        Flush();

        var l1Data = _lab.M.ReadMemory(L1Hypervisor.Data, 0x1000);
        var exits = new List<L1Exit>();
        int count = Math.Min(BitConverter.ToInt32(l1Data, (int)(L1Hypervisor.ExitCount - L1Hypervisor.Data)), L1Hypervisor.MaxExits);
        for (int i = 0; i < count; i++)
        {
            int o = (int)(L1Hypervisor.Log - L1Hypervisor.Data) + i * L1Hypervisor.RecordSize;
            ulong Q(int k) => BitConverter.ToUInt64(l1Data, o + 8 * k);
            exits.Add(new L1Exit((uint)Q(0), Q(1), (uint)Q(2), Q(3), Q(4), (uint)Q(5)));
        }
        uint[] Counters(ulong at) => Enumerable.Range(0, 64).Select(i => (uint)(_lab.R64(at + (ulong)i * 4) & 0xFFFF_FFFF)).ToArray();
        bool nested = _mode != NestingMode.Direct;
        return new NestedRun(title, _mode, _transitions, _l2Events, _l0Log, _l1Log, exits, labels, r, l1Data,
            _lab.M.ReadMemory(VmxLab.GuestData, 0x100),
            nested ? Counters(L0Hypervisor.L1Exits) : new uint[64], nested ? Counters(L0Hypervisor.L2Exits) : new uint[64],
            nested ? (uint)(_lab.R64(L0Hypervisor.Reflected) & 0xFFFF_FFFF) : 0, l1ExitHandler);
    }

    private (string guest, string host) Levels()
    {
        if (_mode == NestingMode.Direct) return ("L2", "L1");
        return (Cpu.CurrentVmcs?.Address == L0Hypervisor.Vmcs01 ? "L1" : "L2", "L0");
    }

    private void OnTransition(VmxTransition t)
    {
        var (guest, host) = Levels();
        var lt = new LevelTransition(guest, host, t);
        _transitions.Add(lt);
        // L1's VMREAD/VMWRITE round trips through L0 are many: the trace counts them instead of listing each.
        bool quietExit = guest == "L1" && t.Kind == VmxTransitionKind.Exit && t.BasicReason is VmxExitReason.Vmread or VmxExitReason.Vmwrite;
        if (quietExit)
        {
            if (t.BasicReason == VmxExitReason.Vmread) _quietReads++;
            else _quietWrites++;
            _lastWasQuietExit = true;
        }
        else if (_lastWasQuietExit && t.Kind == VmxTransitionKind.Entry && guest == "L1")
        {
            _lastWasQuietExit = false;
        }
        else
        {
            _lastWasQuietExit = false;
            Describe(lt);
        }
        _devices?.Invoke(this, lt, null);
    }

    private void Flush()
    {
        if (_quietReads + _quietWrites == 0) return;
        string what = string.Join(", ", new[] { (_quietReads, "VMREAD"), (_quietWrites, "VMWRITE") }.Where(x => x.Item1 > 0).Select(x => $"{x.Item1} × {x.Item2}"));
        _quietReads = _quietWrites = 0;
        _trace.WriteLine($"  {"",16} {"L1 <-> L0",-16} {what}: each exits to L0 (reason 23/25), L0 emulates it on the VMCS12 field store and resumes L1");
    }

    private void Describe(LevelTransition lt)
    {
        var t = lt.T;
        string arrowIn = $"{lt.Host} -> {lt.Guest}", arrowOut = $"{lt.Guest} -> {lt.Host}";
        switch (t.Kind)
        {
            case VmxTransitionKind.Entry:
                Trace(t.Cycle, $"entry {arrowIn}", $"RIP 0x{t.GuestRip:X}" + (t.InterruptionInfo != 0 ? $"  inject 0x{t.InterruptionInfo:X8} ({VmxLab.Describe(t.InterruptionInfo)})" : ""));
                break;
            case VmxTransitionKind.Exit:
                Trace(t.Cycle, $"exit {arrowOut}", $"reason {t.ExitReason & 0xFFFF} ({t.BasicReason})  RIP 0x{t.GuestRip:X}" +
                      (t.InterruptionInfo != 0 ? $"  interruption-info 0x{t.InterruptionInfo:X8} ({VmxLab.Describe(t.InterruptionInfo)})" : ""));
                break;
            case VmxTransitionKind.EntryFailure:
                Trace(t.Cycle, $"entry-fail {lt.Guest}", $"reason 0x{t.ExitReason:X8}  {Cpu.LastVmEntryFailure}");
                break;
            case VmxTransitionKind.EntryFail:
                Trace(t.Cycle, $"VMfail {lt.Guest}", $"VM-instruction error {(int)t.InstructionError} ({t.InstructionError}) {t.Failure}");
                break;
            default:
                Trace(t.Cycle, "VMX abort", $"indicator {t.ExitReason}");
                break;
        }
    }

    private void OnPostCode(byte code)
    {
        bool fromL1 = _mode == NestingMode.Direct || Cpu.InVmxNonRoot;
        if (fromL1)
        {
            string msg = L1Hypervisor.Messages.TryGetValue(code, out var m) ? m : $"code 0x{code:X2}";
            _l1Log.Add(msg);
            Trace(Cpu.Cycles, "L1 says", msg);
        }
        else
        {
            string msg = L0Hypervisor.Messages.TryGetValue(code, out var m) ? m : $"code 0x{code:X2}";
            if (code == 0x15)
            {
                var reason = (VmxExitReason)(_lab.R64(L0Hypervisor.LastReason) & 0xFFFF);
                bool failure = (_lab.R64(L0Hypervisor.LastReason) & 0x8000_0000) != 0;
                msg = $"reflected L2's {(failure ? "VM-entry failure" : "exit")} reason {(int)reason} ({reason}) to L1: VMCS12 := VMCS02's guest state + exit information, " +
                      "VMCS01's guest state := VMCS12's host state; VMRESUME L1 at its host RIP";
            }
            if (code == 0x04 && _mode == NestingMode.NestedShadowing)
                msg += $" (VMCS shadowing on: the VMREAD/VMWRITE bitmaps pass the {NestedFields.Hot.Length} fields an exit handler uses on every exit)";
            _l0Log.Add(msg);
            Trace(Cpu.Cycles, "L0 says", msg);
        }
    }

    private void OnEvent(byte vector, EventKind kind, uint? error)
    {
        var (guest, _) = Levels();
        if (!Cpu.InVmxNonRoot || guest != "L2")
        {
            Trace(Cpu.Cycles, "event", $"vector {vector} ({kind}) in {(Cpu.InVmxNonRoot ? guest : _mode == NestingMode.Direct ? "L1" : "L0")}");
            return;
        }
        var e = new GuestEvent(Cpu.Cycles, vector, kind);
        _l2Events.Add(e);
        Trace(Cpu.Cycles, "L2 event", $"vector 0x{vector:X2} ({kind}) delivered through L2's IDT -> handler 0x{Cpu.Rip:X}");
        _devices?.Invoke(this, null, e);
    }
}
