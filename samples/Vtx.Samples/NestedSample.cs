using Vtx.Kit;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Samples;

/// <summary>
/// Issue 11, "a true nested-hypervisor sample": L0 (Vtx's hypervisor, root operation) runs L1 (a
/// hypervisor, non-root), which runs L2. L0 emulates L1's VMX instructions, merges VMCS12 into VMCS02 and
/// reflects L2's exits to L1; an NMI and an external interrupt (IF = 0, interrupt window) travel through
/// the levels. Run twice: without and with VMCS shadowing. <see cref="Runs"/> holds both runs for tests.
/// </summary>
public sealed class NestedSample : Sample
{
    private readonly List<NestedRun> _runs = new();

    public override string Name => "nested";
    public override string Question => "Can a hypervisor run a hypervisor — where do an NMI and an interrupt for L2 go, and what does VMCS shadowing save?";

    /// <summary>The runs of the last <see cref="Run"/>: without, then with VMCS shadowing.</summary>
    public IReadOnlyList<NestedRun> Runs => _runs;

    /// <summary>The external interrupt's vector.</summary>
    public const byte Vector = 0x30;

    public override string Run(TextWriter trace)
    {
        _runs.Clear();
        _runs.Add(NestedLab.Run(trace, Scenario(), NestingMode.Nested, Devices()));
        bool shadowing = new Machine(new MachineOptions { MemoryMiB = 1 }).Cpu.Model.Vmx?.Offers(VmxFeature.VmcsShadowing) == true;
        if (shadowing) _runs.Add(NestedLab.Run(trace, Scenario(), NestingMode.NestedShadowing, Devices()));
        else trace.WriteLine("  -- the run with VMCS shadowing is skipped: this processor model does not offer VMCS shadowing (IA32_VMX_PROCBASED_CTLS2[46] = 0)");
        var plain = _runs[0];
        foreach (var r in _runs)
        {
            if (!r.Clean) return Fail(r, "the run did not end with L1's power-off");
            if (r.GuestWordCount(VmxSample.NmiCount) != 1) return Fail(r, "L2's NMI handler did not run exactly once");
            if (r.GuestWordCount(VmxSample.SeenVector) != Vector) return Fail(r, "L2's interrupt handler did not see vector 0x30");
        }
        uint VmreadWrite(NestedRun r) => r.L0ExitsFromL1[(int)VmxExitReason.Vmread] + r.L0ExitsFromL1[(int)VmxExitReason.Vmwrite];
        string events = "(a) the NMI exits L2 to L0 (reason 0), L0 reflects it to L1 (VMCS12 has NMI exiting), L1 injects a virtual NMI through VMCS12, " +
               "L0 copies the injection into VMCS02 and L2's handler runs; (b) vector 0x30 exits L2 to L0 (reason 1, acknowledged), is reflected, " +
               "L1 sees IF = 0 and sets interrupt-window exiting, L0 merges it into VMCS02, the window exit (reason 7, one instruction after L2's STI) " +
               "is reflected and L1 injects 0x30 into L2's handler. ";
        if (!shadowing)
            return events + $"Exits to L0: {plain.RootExits} ({VmreadWrite(plain)} of them L1's VMREAD/VMWRITE); VMCS shadowing is not offered by this processor model, so its saving is not measured.";
        var shadow = _runs[1];
        int saved = plain.RootExits - shadow.RootExits;
        return events + $"Exits to L0: {plain.RootExits} without VMCS shadowing, {shadow.RootExits} with it — " +
               $"shadowing saved {saved} ({VmreadWrite(plain)} VMREAD/VMWRITE exits became {VmreadWrite(shadow)}).";
    }

    /// <summary>
    /// Measures the nested machinery: L2 runs CPUID <paramref name="exits"/> times (each an exit L1 handles by skipping the
    /// instruction), once per mode; the host time per L2 exit is the difference of two runs (so L1's bring-up cancels) divided
    /// by the difference in exits. Returns one line per mode.
    /// </summary>
    public static IEnumerable<string> Measure(int exits)
    {
        static L1Config Loop(int n) => new()
        {
            Title = $"L2 runs CPUID {n} times",
            KeepGoing = true,
            Guest = g =>
            {
                var a = g.A;
                var top = g.A.CreateLabel();
                a.mov(r15d, n + 1);
                a.Label(ref top);
                a.dec(r15d);
                var end = g.A.CreateLabel();
                a.je(end);
                a.xor(eax, eax);
                a.cpuid();
                a.jmp(top);
                a.Label(ref end);
                a.nop();
                VmxSample.GuestDone(g);
            },
        };
        bool shadowing = new Machine(new MachineOptions { MemoryMiB = 1 }).Cpu.Model.Vmx?.Offers(VmxFeature.VmcsShadowing) == true;
        var modes = shadowing ? new[] { NestingMode.Direct, NestingMode.Nested, NestingMode.NestedShadowing } : new[] { NestingMode.Direct, NestingMode.Nested };
        foreach (var mode in modes)
        {
            // Processor time of this process, not wall time: the machine may be shared.
            (double ms, NestedRun run) Once(int n)
            {
                NestedLab.Run(TextWriter.Null, Loop(n), mode, maxInstructions: ulong.MaxValue, observe: false); // warm-up (JIT)
                var p = System.Diagnostics.Process.GetCurrentProcess();
                var before = p.TotalProcessorTime;
                var r = NestedLab.Run(TextWriter.Null, Loop(n), mode, maxInstructions: ulong.MaxValue, observe: false);
                p.Refresh();
                return ((p.TotalProcessorTime - before).TotalMilliseconds, r);
            }
            var small = Once(exits / 10);
            var big = Once(exits);
            long RootExits(NestedRun r) => mode == NestingMode.Direct ? exits : r.L0ExitsFromL1.Sum(x => (long)x) + r.L0ExitsFromL2.Sum(x => (long)x);
            long l2 = exits - exits / 10;
            double perExitUs = (big.ms - small.ms) * 1000 / l2;
            ulong cycles = big.run.Result.Cycles - small.run.Result.Cycles, instructions = big.run.Result.Instructions - small.run.Result.Instructions;
            string root = mode == NestingMode.Direct ? "" : $"; exits to L0 in the {exits}-exit run: {RootExits(big.run)} ({(double)(RootExits(big.run) - RootExits(small.run)) / l2:F1} per L2 exit)";
            yield return $"{mode,-16} clean={big.run.Clean}  host {perExitUs:F2} µs (processor time) per L2 exit; {(double)instructions / l2:F0} instructions, {(double)cycles / l2:F0} cycles per L2 exit{root}";
        }
    }

    private static string Fail(NestedRun r, string what) => $"UNEXPECTED ({r.Title}): {what}; run ended {r.Result}";

    /// <summary>L1's setup: NMI exiting, virtual NMIs, external-interrupt exiting with acknowledge on exit; L2 spins with IF = 0, then STI.</summary>
    internal static L1Config Scenario() => new()
    {
        Title = "L1: NMI exiting + virtual NMIs + external-interrupt exiting (acknowledge on exit); L2 spins with IF = 0, then STI",
        Pin = PinBasedControls.ExternalInterruptExiting | PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis,
        Exit = ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit,
        GuestRflags = 2,
        Guest = g =>
        {
            var a = g.A;
            g.Mark("start");
            a.mov(ecx, 5000);
            var spin = g.Mark("spin");                  // both events arrive here (IF = 0)
            a.loop(spin);
            g.Mark("sti");
            a.sti();
            g.Mark("shadow");
            a.mov(eax, 1);
            g.Mark("window");
            a.mov(eax, 2);
            VmxSample.GuestDone(g);
            VmxSample.CountingNmiHandler(g);
            g.Handler(Vector, "vector-0x30-handler");
            a.mov(__dword_ptr[VmxLab.GuestData + VmxSample.SeenVector], Vector);
            a.iretq();
        },
    };

    /// <summary>The devices: an NMI 200 cycles after L2 first runs; vector 0x30 300 cycles after the entry that gives L2 its NMI.</summary>
    internal static Action<NestedLab, LevelTransition?, GuestEvent?> Devices()
    {
        bool nmiPosted = false, intPosted = false;
        return (lab, t, _) =>
        {
            if (t is not { Guest: "L2", T.Kind: VmxTransitionKind.Entry }) return;
            if (!nmiPosted)
            {
                nmiPosted = true;
                lab.Cpu.PostEvent(t.T.Cycle + 200, nmi: true);
                lab.Trace(t.T.Cycle, "device", $"NMI scheduled for cycle {t.T.Cycle + 200}, while L2 runs");
            }
            else if (!intPosted && t.T.InterruptionInfo == VmxSample.NmiInfo)
            {
                intPosted = true;
                lab.Cpu.PostEvent(t.T.Cycle + 300, nmi: false, Vector);
                lab.Trace(t.T.Cycle, "device", $"external interrupt 0x{Vector:X2} scheduled for cycle {t.T.Cycle + 300}, while L2 runs with IF = 0");
            }
        };
    }
}
