using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Kit;
using Vtx.Samples;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Samples;

/// <summary>
/// The nested-hypervisor sample end to end (issue 11): L0 (root) runs L1 (non-root), which runs L2. The
/// transitions the host observes are asserted exactly, level by level — each of L1's VMX instructions exits to
/// L0 and is resumed past; each L2 exit goes to L0 and is reflected to L1 at VMCS12's host RIP — and where each
/// event went. The property runs the same L1 directly in root operation and nested under L0 and requires L1 to
/// see the same exits and L2 to end in the same state (SDM Vol. 3C: a VMM must not be able to tell).
/// </summary>
public class NestedSampleTests
{
    private const uint Nmi = 0x8000_0202, Vector30 = 0x8000_0030;

    /// <summary>
    /// A transition, with L1's VMREAD/VMWRITE round trips through L0 (exit 23/25 then the entry back into L1)
    /// folded into one step that counts them.
    /// </summary>
    private sealed record Step(string Level, VmxTransitionKind Kind, VmxExitReason Reason, uint Info, ulong Rip, int Reads = 0, int Writes = 0)
    {
        public static Step Emulated(int reads, int writes) => new("L1", VmxTransitionKind.Exit, VmxExitReason.Vmread, 0, 0, reads, writes);
    }

    private static List<Step> Fold(NestedRun r)
    {
        var steps = new List<Step>();
        var ts = r.Transitions;
        for (int i = 0; i < ts.Count; i++)
        {
            var t = ts[i];
            bool rw = t.Guest == "L1" && t.T.Kind == VmxTransitionKind.Exit && t.T.BasicReason is VmxExitReason.Vmread or VmxExitReason.Vmwrite;
            if (rw)
            {
                // The exit's own entry back must follow: same level, RIP past the instruction.
                Assert.True(i + 1 < ts.Count && ts[i + 1] is { Guest: "L1", T.Kind: VmxTransitionKind.Entry } && ts[i + 1].T.GuestRip > t.T.GuestRip,
                    $"VMREAD/VMWRITE exit at 0x{t.T.GuestRip:X} not resumed past by L0");
                int reads = t.T.BasicReason == VmxExitReason.Vmread ? 1 : 0;
                if (steps.Count > 0 && steps[^1] is { Reads: > 0 } or { Writes: > 0 })
                {
                    var last = steps[^1];
                    steps[^1] = last with { Reads = last.Reads + reads, Writes = last.Writes + 1 - reads };
                }
                else steps.Add(Step.Emulated(reads, 1 - reads));
                i++;
                continue;
            }
            steps.Add(t.T.Kind == VmxTransitionKind.Entry
                ? new Step(t.Guest, t.T.Kind, 0, t.T.InterruptionInfo, t.T.GuestRip)
                : new Step(t.Guest, t.T.Kind, t.T.BasicReason, t.T.InterruptionInfo, t.T.GuestRip));
        }
        return steps;
    }

    [Fact]
    public void WithoutShadowingEveryL1VmxInstructionExitsAndEveryL2EventIsReflectedThroughL0()
    {
        var s = new NestedSample();
        var w = new StringWriter();
        string answer = s.Run(w);
        string trace = w.ToString();
        var r = s.Runs[0];
        Assert.Equal(NestingMode.Nested, r.Mode);
        Assert.True(r.Clean, $"{r.Title}: {r.Result}");
        ulong spin = r.Labels["spin"], window = r.Labels["window"], vmcall = r.Labels["vmcall"];
        Assert.Equal(r.Labels["sti"] + 1 + 5, window);                // STI, then one MOV (5 bytes) in its shadow

        var steps = Fold(r);
        // Each entry into L1 is either L0's VMLAUNCH of L1, a reflection (at L1's exit handler: VMCS12's host RIP), or
        // the resume past the L1 instruction L0 just emulated: the exit right before it, at a lower RIP.
        for (int i = 1; i < steps.Count; i++)
            if (steps[i] is { Level: "L1", Kind: VmxTransitionKind.Entry } e && e.Rip != r.L1ExitHandler)
                Assert.True(steps[i - 1] is { Level: "L1", Kind: VmxTransitionKind.Exit } x && x.Rip < e.Rip, $"L1 entered at 0x{e.Rip:X} after {steps[i - 1]}");
        var shape = steps.Select(x => x.Level == "L1" && x.Rip != r.L1ExitHandler && x.Rip != L1Hypervisor.Code ? x with { Rip = 0 } : x).ToList();
        Step L1Exit(VmxExitReason reason) => new("L1", VmxTransitionKind.Exit, reason, 0, 0);
        var resumeL1 = new Step("L1", VmxTransitionKind.Entry, 0, 0, 0);
        var reflected = new Step("L1", VmxTransitionKind.Entry, 0, 0, r.L1ExitHandler);
        Step L2Entry(ulong rip, uint inject = 0) => new("L2", VmxTransitionKind.Entry, 0, inject, rip);
        Step L2Exit(VmxExitReason reason, ulong rip, uint info = 0) => new("L2", VmxTransitionKind.Exit, reason, info, rip);
        var expected = new List<Step>
        {
            new("L1", VmxTransitionKind.Entry, 0, 0, L1Hypervisor.Code),   // L0's VMLAUNCH of L1
            L1Exit(VmxExitReason.Cpuid), resumeL1,                         // L1 checks CPUID.1:ECX.VMX: CPUID always exits
            L1Exit(VmxExitReason.Vmxon), resumeL1,
            L1Exit(VmxExitReason.Vmclear), resumeL1,
            L1Exit(VmxExitReason.Vmptrld), resumeL1,
            // The bring-up's VMWRITEs: 4 controls, 14 zeroed controls, the entry injection, 20 host-state and 48 guest-state
            // fields (VmxLab.EmitBringUp), then L1's exception bitmap; the primary controls' capability MSR is L0's to answer.
            Step.Emulated(0, 1),
            L1Exit(VmxExitReason.Rdmsr), resumeL1,
            Step.Emulated(0, 87),
            L1Exit(VmxExitReason.Vmlaunch),
            L2Entry(r.Labels["start"]),                                    // VMCS02 entered: L2 runs
            L2Exit(VmxExitReason.ExceptionOrNmi, spin, Nmi),              // (a) the NMI: L2 → L0
            reflected,                                                     // L0 → L1 at its host RIP
            Step.Emulated(7, 1),                                           // 6 exit-log reads + interruptibility; the injection
            L1Exit(VmxExitReason.Vmresume),
            L2Entry(spin, Nmi),                                            // L1's injection, carried in VMCS02
            L2Exit(VmxExitReason.ExternalInterrupt, spin, Vector30),      // (b) the interrupt, acknowledged on exit: L2 → L0
            reflected,
            Step.Emulated(8, 1),                                           // 6 + RFLAGS (IF = 0) + proc controls; set interrupt-window exiting
            L1Exit(VmxExitReason.Vmresume),
            L2Entry(spin),
            L2Exit(VmxExitReason.InterruptWindow, window),                // one instruction after STI: L2 → L0
            reflected,
            Step.Emulated(7, 2),                                           // 6 + proc controls; clear the window bit, inject 0x30
            L1Exit(VmxExitReason.Vmresume),
            L2Entry(window, Vector30),
            L2Exit(VmxExitReason.Vmcall, vmcall),
            reflected,
            Step.Emulated(10, 0),                                          // 6 + L2's final RIP, RSP, RFLAGS, interruptibility
            L1Exit(VmxExitReason.Vmxoff), resumeL1,
        };
        Assert.Equal(expected, shape);
        // Every L1 exit in the list above was resumed past its instruction, every L2 exit reflected: L0's own counters agree.
        Assert.Equal(32u, r.L0ExitsFromL1[(int)VmxExitReason.Vmread]);
        Assert.Equal(92u, r.L0ExitsFromL1[(int)VmxExitReason.Vmwrite]);
        Assert.Equal(3u, r.L0ExitsFromL1[(int)VmxExitReason.Vmresume]);
        Assert.Equal(1u, r.L0ExitsFromL1[(int)VmxExitReason.Vmlaunch]);
        Assert.Equal(1u, r.L0ExitsFromL1[(int)VmxExitReason.Rdmsr]);
        foreach (var reason in new[] { VmxExitReason.ExceptionOrNmi, VmxExitReason.ExternalInterrupt, VmxExitReason.InterruptWindow, VmxExitReason.Vmcall })
            Assert.Equal(1u, r.L0ExitsFromL2[(int)reason]);
        Assert.Equal(4u, r.Reflected);
        Assert.Equal(r.RootExits, (int)(r.L0ExitsFromL1.Sum(x => x) + r.L0ExitsFromL2.Sum(x => x)));

        // What L1 saw: four exits, with the exit information L0 copied from VMCS02 into VMCS12.
        Assert.Equal(new[]
        {
            (VmxExitReason.ExceptionOrNmi, Nmi, spin),
            (VmxExitReason.ExternalInterrupt, Vector30, spin),
            (VmxExitReason.InterruptWindow, 0u, window),
            (VmxExitReason.Vmcall, 0u, vmcall),
        }, r.L1Exits.Select(e => ((VmxExitReason)e.Reason, e.InterruptionInfo, e.GuestRip)));
        Assert.Equal(3UL, r.L1Exits[3].InstructionLength);           // VMCALL: 0F 01 C1
        Assert.All(r.L1Exits, e => Assert.Equal(0u, e.IdtVectoringInfo));
        Assert.Equal(vmcall, r.Final(0));

        // Where each event went: L2's IDT, only after L1's injection reached VMCS02.
        Assert.Equal(new[] { (EventKind.Nmi, (byte)2), (EventKind.ExternalInterrupt, (byte)0x30) }, r.L2Events.Select(e => (e.Kind, e.Vector)));
        var nmiInjection = r.Transitions.First(t => t is { Guest: "L2", T.Kind: VmxTransitionKind.Entry } && t.T.InterruptionInfo == Nmi);
        var intInjection = r.Transitions.First(t => t is { Guest: "L2", T.Kind: VmxTransitionKind.Entry } && t.T.InterruptionInfo == Vector30);
        Assert.True(r.L2Events[0].Cycle >= nmiInjection.T.Cycle && r.L2Events[1].Cycle >= intInjection.T.Cycle);
        Assert.Equal(1u, r.GuestWordCount(VmxSample.NmiCount));
        Assert.Equal(0x30u, r.GuestWordCount(VmxSample.SeenVector));

        // Both hypervisors' logs, in order.
        Assert.Equal(new[]
        {
            "NMI exit, L2 not blocking virtual NMIs: inject a virtual NMI (0x80000202), VMRESUME",
            "external-interrupt exit (acknowledged) but L2 has IF = 0: hold the vector, set interrupt-window exiting, VMRESUME",
            "interrupt-window exit: clear interrupt-window exiting, inject the held vector (type 0), VMRESUME",
            "VMCALL exit: L2 is done; record its final state",
            "VMXOFF done; L1 powers the machine off",
        }, r.L1Log.Skip(3));
        Assert.Equal(new[] { "ExceptionOrNmi", "ExternalInterrupt", "InterruptWindow", "Vmcall" },
            r.L0Log.Where(l => l.StartsWith("reflected")).Select(l => l.Split('(', ')')[1]));
        Assert.Contains("entry L0 -> L2", trace);
        Assert.Contains("exit L2 -> L0", trace);
        Assert.Contains("L1 <-> L0        86 × VMWRITE", trace);          // the bring-up's, up to its log line
        Assert.Contains("exit L1 -> L0    reason 31 (Rdmsr)", trace);
        Assert.DoesNotContain("UNEXPECTED", answer);
        Assert.StartsWith("(a) the NMI exits L2 to L0 (reason 0), L0 reflects it to L1", answer);
    }

    [Fact]
    public void WithShadowingL1sVmreadAndVmwriteStopExitingOrTheAnswerSaysShadowingIsNotOffered()
    {
        var s = new NestedSample();
        string answer = s.Run(TextWriter.Null);
        var plain = s.Runs[0];
        Assert.True(plain.Clean);
        bool offered = new Machine(new MachineOptions { MemoryMiB = 1 }).Cpu.Model.Vmx!.Offers(VmxFeature.VmcsShadowing);
        if (!offered)
        {
            Assert.Single(s.Runs);
            Assert.Contains("VMCS shadowing is not offered", answer);
            return;
        }
        var shadow = s.Runs[1];
        Assert.Equal(NestingMode.NestedShadowing, shadow.Mode);
        Assert.True(shadow.Clean, $"{shadow.Title}: {shadow.Result}");
        // L0 shadows the fields an exit handler uses on every exit: none of L1's VMREADs exit, and of its VMWRITEs only the
        // bring-up's writes of other fields do — 88 writes minus the 17 to shadowed fields (pin and primary controls, exception
        // bitmap twice, entry error code, length and interruption information, CR0/CR4 read shadows, guest CR0/CR3/CR4, RIP,
        // RSP, RFLAGS, activity and interruptibility).
        Assert.Equal(0u, shadow.L0ExitsFromL1[(int)VmxExitReason.Vmread]);
        Assert.Equal(88u - 17u, shadow.L0ExitsFromL1[(int)VmxExitReason.Vmwrite]);
        int launch = shadow.Transitions.ToList().FindIndex(t => t is { Guest: "L1", T.Kind: VmxTransitionKind.Exit, T.BasicReason: VmxExitReason.Vmlaunch });
        Assert.DoesNotContain(shadow.Transitions.Skip(launch), t => t is { Guest: "L1", T.Kind: VmxTransitionKind.Exit, T.BasicReason: VmxExitReason.Vmread or VmxExitReason.Vmwrite });
        // After L1's VMLAUNCH the two runs take the same steps, but for the emulated VMREAD/VMWRITE round trips.
        List<Step> AfterLaunch(NestedRun r) => Fold(r).SkipWhile(x => x.Reason != VmxExitReason.Vmlaunch).Where(x => x.Reads + x.Writes == 0).ToList();
        Assert.Equal(AfterLaunch(plain), AfterLaunch(shadow));
        // Everything else is the same: L1 saw the same exits, L2 took the same events, L2 ended in the same state.
        Assert.Equal(plain.L1Exits.Select(e => e with { }), shadow.L1Exits);
        Assert.Equal(plain.L1Log, shadow.L1Log);
        Assert.Equal(plain.L2Events.Select(e => (e.Kind, e.Vector)), shadow.L2Events.Select(e => (e.Kind, e.Vector)));
        Assert.Equal(plain.L2Data, shadow.L2Data);
        int saved = plain.RootExits - shadow.RootExits;
        Assert.Equal(32 + 92 - 71, saved);
        Assert.Contains($"shadowing saved {saved}", answer);
    }

    /// <summary>
    /// A VMCS12 whose guest state fails a check (RFLAGS bit 1 = 0, SDM 26.3.1.4): L0's VMLAUNCH of VMCS02 ends in a VM-entry
    /// failure, which L0 reflects, so L1 gets exit reason 80000021h at its host RIP exactly as when it runs directly.
    /// A VMCS12 whose controls fail (NMI-window exiting without virtual NMIs, SDM 26.2.1.1): VMCS02's VMLAUNCH VMfails with
    /// error 7, and L0 gives L1's VMLAUNCH the same VMfailValid (ZF, error 7 in VMCS12).
    /// </summary>
    [Fact]
    public void EntryFailuresAndVmfailsOfVmcs02ReachL1AsTheyWouldDirectly()
    {
        var badGuest = Config(new Case(false, false, false, false, false, false, false, [], Broken.GuestRflags));
        foreach (var mode in new[] { NestingMode.Direct, NestingMode.Nested })
        {
            var r = NestedLab.Run(TextWriter.Null, badGuest, mode);
            Assert.True(r.Clean, $"{mode}: {r.Result}");
            var e = Assert.Single(r.L1Exits);
            Assert.Equal(0x8000_0021u, e.Reason);
            Assert.Contains("VM-entry failure: record it", r.L1Log);
            if (mode == NestingMode.Nested)
            {
                Assert.Contains(r.Transitions, t => t is { Guest: "L2", T.Kind: VmxTransitionKind.EntryFailure });
                Assert.Equal(1u, r.Reflected);
                Assert.DoesNotContain(r.Transitions, t => t is { Guest: "L2", T.Kind: VmxTransitionKind.Entry });
            }
        }
        var badControls = Config(new Case(false, false, false, false, false, false, false, [], Broken.NmiWindowWithoutVirtualNmis));
        foreach (var mode in new[] { NestingMode.Direct, NestingMode.Nested })
        {
            var r = NestedLab.Run(TextWriter.Null, badControls, mode);
            Assert.Equal(StopReason.DebugExit, r.Result.Reason);
            Assert.Equal(0xD0 << 1 | 1, r.Result.ExitCode);
            ulong flags = BitConverter.ToUInt64(r.L1Data, 0x70), error = BitConverter.ToUInt64(r.L1Data, 0x78);
            Assert.Equal(0x40UL, flags & 0x8D5);                    // VMfailValid: ZF only
            Assert.Equal((ulong)VmInstructionError.EntryInvalidControlFields, error);
            Assert.Empty(r.L1Exits);
            if (mode == NestingMode.Nested)
                Assert.Contains(r.Transitions, t => t is { Guest: "L2", T.Kind: VmxTransitionKind.EntryFail, T.InstructionError: VmInstructionError.EntryInvalidControlFields });
        }
    }

    /// <summary>
    /// L0 offers L1 only what it emulates (SDM Appendix A): directly, IA32_VMX_TRUE_PROCBASED_CTLS allows "activate secondary
    /// controls" (bit 63) and IA32_VMX_PROCBASED_CTLS2 exists; under L0 the first reads with bit 63 clear and the second #GPs.
    /// </summary>
    [Fact]
    public void L0HidesTheSecondaryControlsFromL1sCapabilityMsrs()
    {
        L1Config Probe(uint msr) => Config(new Case(false, false, false, false, false, false, false, [])) with
        {
            Prelude = a =>
            {
                a.mov(ecx, msr);
                a.rdmsr();
                a.mov(__dword_ptr[L1Hypervisor.PreludeData], eax);
                a.mov(__dword_ptr[L1Hypervisor.PreludeData + 4], edx);
            },
        };
        ulong Read(NestedRun r) => BitConverter.ToUInt64(r.L1Data, (int)(L1Hypervisor.PreludeData - L1Hypervisor.Data));
        var direct = NestedLab.Run(TextWriter.Null, Probe(VmxMsr.TrueProcBasedCtls), NestingMode.Direct);
        var nested = NestedLab.Run(TextWriter.Null, Probe(VmxMsr.TrueProcBasedCtls), NestingMode.Nested);
        Assert.True(direct.Clean && nested.Clean);
        Assert.NotEqual(0UL, Read(direct) & 1UL << 63);
        Assert.Equal(Read(direct) & ~(1UL << 63), Read(nested));

        direct = NestedLab.Run(TextWriter.Null, Probe(VmxMsr.ProcBasedCtls2), NestingMode.Direct);
        nested = NestedLab.Run(TextWriter.Null, Probe(VmxMsr.ProcBasedCtls2), NestingMode.Nested);
        Assert.True(direct.Clean);
        Assert.Equal(0xD7 << 1 | 1, nested.Result.ExitCode);                 // L1's #GP stub
        Assert.Equal(13u, (uint)BitConverter.ToUInt64(nested.L1Data, (int)(L1Hypervisor.OwnFault - L1Hypervisor.Data)));
        Assert.Contains(nested.Transitions, t => t is { Guest: "L1", T.Kind: VmxTransitionKind.Entry, T.InterruptionInfo: 0x8000_0B0D });
    }

    /// <summary>
    /// L0's operand decoding and field store against the SDM's VMREAD/VMWRITE/VMPTRST (30.3), the same directly and nested
    /// (with and without shadowing): memory source and destination (base + displacement), the high access of a 64-bit field,
    /// a 16-bit field truncating what is written, an unsupported encoding (VMfailValid, error 12), VMPTRST to memory.
    /// </summary>
    [Fact]
    public void VmreadVmwriteOperandFormsBehaveTheSameDirectlyAndNested()
    {
        const ulong d = L1Hypervisor.PreludeData;
        var cfg = Config(new Case(false, false, false, false, false, false, false, [])) with
        {
            BeforeLaunch = a =>
            {
                a.mov(rbx, d);
                a.mov(rax, 0x1234_5678_9ABC_DEF0);
                a.mov(__qword_ptr[rbx], rax);
                a.mov(ecx, VmcsEncoding.TscOffset);
                a.vmwrite(rcx, __qword_ptr[rbx]);                       // memory source
                a.vmread(__qword_ptr[rbx + 8], rcx);                    // memory destination
                a.mov(ecx, VmcsEncoding.TscOffset + 1);
                a.vmread(rax, rcx);                                     // high access: bits 63:32
                a.mov(__qword_ptr[rbx + 0x10], rax);
                a.mov(ecx, 0x0000_6C7E);                                // host-state natural width, index 0x3F: not a field
                a.vmread(rax, rcx);
                a.pushfq();
                a.pop(__qword_ptr[rbx + 0x18]);
                a.mov(ecx, VmcsEncoding.VmInstructionError);
                a.vmread(rax, rcx);
                a.mov(__qword_ptr[rbx + 0x20], rax);
                a.vmptrst(__qword_ptr[rbx + 0x28]);
                a.mov(ecx, VmcsEncoding.GuestEsSelector);
                a.mov(rax, 0xFFFF_1234);
                a.vmwrite(rcx, rax);                                    // 16-bit field: bits 15:0 kept
                a.vmread(rdx, rcx);
                a.mov(__qword_ptr[rbx + 0x30], rdx);
                a.mov(ecx, VmcsEncoding.Cr0ReadShadow);                 // a shadowed field, memory source
                a.mov(__qword_ptr[rbx + 0x38], 0x11);
                a.vmwrite(rcx, __qword_ptr[rbx + 0x38]);
                a.vmread(__qword_ptr[rbx + 0x40], rcx);
                // Put back what L2 runs with.
                a.mov(ecx, VmcsEncoding.GuestEsSelector);
                a.mov(eax, (uint)VmxLab.DataSel);
                a.vmwrite(rcx, rax);
                a.mov(ecx, VmcsEncoding.TscOffset);
                a.xor(eax, eax);
                a.vmwrite(rcx, rax);
                a.mov(ecx, VmcsEncoding.Cr0ReadShadow);
                a.vmwrite(rcx, rax);
            },
        };
        byte[]? reference = null;
        foreach (var mode in new[] { NestingMode.Direct, NestingMode.Nested, NestingMode.NestedShadowing })
        {
            var r = NestedLab.Run(TextWriter.Null, cfg, mode);
            Assert.True(r.Clean, $"{mode}: {r.Result}");
            int o = (int)(d - L1Hypervisor.Data);
            ulong Q(int k) => BitConverter.ToUInt64(r.L1Data, o + k);
            Assert.Equal(0x1234_5678_9ABC_DEF0UL, Q(8));
            Assert.Equal(0x1234_5678UL, Q(0x10));
            Assert.Equal(0x40UL, Q(0x18) & 0x8D5);                    // VMfailValid
            Assert.Equal((ulong)VmInstructionError.UnsupportedVmcsComponent, Q(0x20));
            Assert.Equal(L1Hypervisor.VmcsRegion, Q(0x28));
            Assert.Equal(0x1234UL, Q(0x30));
            Assert.Equal(0x11UL, Q(0x40));
            var bytes = r.L1Data.AsSpan(o, 0x48).ToArray();
            bytes.AsSpan(0x18, 8).Clear();                            // RFLAGS beyond the arithmetic flags is L1's own
            reference ??= bytes;
            Assert.Equal(reference, bytes);
        }
    }

    // ------------------------------------------------------------------ property: nested behaves like direct

    /// <summary>One generated case: L1's controls and L2's program (ops from a small menu, then VMCALL).</summary>
    public sealed record Case(bool Hlt, bool Rdtsc, bool Io, bool Mtf, bool NmiWindow, bool BpBit, bool UdBit, int[] Ops, Broken Broken = Broken.None)
    {
        public override string ToString() =>
            $"hlt={Hlt} rdtsc={Rdtsc} io={Io} mtf={Mtf} nmi-window={NmiWindow} #BP={BpBit} #UD={UdBit} broken={Broken} ops=[{string.Join(",", Ops.Select(o => OpNames[o]))}]";
    }

    /// <summary>A VMCS12 the processor refuses: a guest-state check (RFLAGS bit 1 clear: VM-entry failure, exit reason 33, SDM 26.3.1.4)
    /// or a control check (NMI-window exiting without virtual NMIs: VMfailValid 7, SDM 26.2.1.1). Nested, L0 passes these on as its
    /// VMCS02 gets them: L1 must see the same failure.</summary>
    public enum Broken { None, GuestRflags, NmiWindowWithoutVirtualNmis }

    private static readonly string[] OpNames = ["add", "cpuid", "hlt", "rdtsc", "in", "int3", "ud2", "rdmsr", "invd", "pushf"];

    private static readonly Gen<Case> Cases =
        from hlt in Gen.Elements(false, true)
        from rdtsc in Gen.Elements(false, true)
        from io in Gen.Elements(false, true)
        from mtf in Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true)))
        from nmiWindow in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        from bp in Gen.Elements(false, true)
        from ud in Gen.Elements(false, true)
        from n in Gen.Choose(0, 6)
        from ops in Gen.ArrayOf(Gen.Choose(0, OpNames.Length - 1), n)
        from broken in Gen.Frequency((8, Gen.Constant(Broken.None)), (1, Gen.Constant(Broken.GuestRflags)), (1, Gen.Constant(Broken.NmiWindowWithoutVirtualNmis)))
        select new Case(hlt, rdtsc, io, mtf, nmiWindow, bp, ud, ops, broken);

    /// <summary>The L1 configuration of a case. HLT and RDTSC appear only with their exiting controls: without them the
    /// outcome depends on time (HLT with IF = 0 never ends; RDTSC reads the clock), and time is what nesting changes.</summary>
    internal static L1Config Config(Case c) => new()
    {
        Title = c.ToString(),
        Pin = c.Broken == Broken.NmiWindowWithoutVirtualNmis ? PinBasedControls.NmiExiting
            : c.NmiWindow ? PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis : 0,
        GuestRflags = c.Broken == Broken.GuestRflags ? 0UL : 2UL,
        Proc = (c.Broken == Broken.NmiWindowWithoutVirtualNmis ? PrimaryProcessorBasedControls.NmiWindowExiting : 0) | (c.Hlt ? PrimaryProcessorBasedControls.HltExiting : 0) | (c.Rdtsc ? PrimaryProcessorBasedControls.RdtscExiting : 0)
               | (c.Io ? PrimaryProcessorBasedControls.UnconditionalIoExiting : 0) | (c.Mtf ? PrimaryProcessorBasedControls.MonitorTrapFlag : 0)
               | (c.NmiWindow ? PrimaryProcessorBasedControls.NmiWindowExiting : 0),
        ExceptionBitmap = (c.BpBit ? 1u << 3 : 0) | (c.UdBit ? 1u << 6 : 0),
        Guest = g =>
        {
            var a = g.A;
            g.Mark("start");
            a.mov(ebx, 0x1234_5678);
            foreach (int op in c.Ops)
            {
                switch (OpNames[op])
                {
                    case "add": a.add(rbx, 0x11); break;
                    case "cpuid": a.mov(eax, 1); a.cpuid(); break;
                    case "hlt": if (c.Hlt) a.hlt(); break;
                    case "rdtsc": if (c.Rdtsc) a.rdtsc(); break;
                    case "in": a.mov(edx, 0x1234); a.@in(al, dx); break;
                    case "int3": a.int3(); break;
                    case "ud2": a.ud2(); break;
                    case "rdmsr": a.mov(ecx, 0x10); a.rdmsr(); break;
                    case "invd": a.invd(); break;
                    default: a.pushfq(); a.pop(rsi); break;
                }
            }
            VmxSample.GuestDone(g);
            VmxSample.CountingNmiHandler(g);
            g.Handler(3, "bp-handler");
            a.inc(__dword_ptr[VmxLab.GuestData + 8]);
            a.iretq();
            g.Handler(6, "ud-handler");
            a.inc(__dword_ptr[VmxLab.GuestData + 12]);
            a.add(__qword_ptr[rsp], 2);                  // past the UD2
            a.iretq();
        },
    };

    /// <summary>
    /// Nested: "any VMCS12 that L0 accepts behaves like the same VMCS run directly" — the same L1 image, run once in
    /// root operation and once under L0, sees the same exits (reason, qualification, interruption information,
    /// instruction length, guest RIP, IDT-vectoring information), logs the same decisions, and leaves L2 with the
    /// same registers, final RIP/RSP/RFLAGS/interruptibility and data.
    /// </summary>
    [Fact]
    public void AnyVmcs12L0AcceptsBehavesLikeTheSameVmcsRunDirectly()
    {
        bool shadowing = new Machine(new MachineOptions { MemoryMiB = 1 }).Cpu.Model.Vmx!.Offers(VmxFeature.VmcsShadowing);
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var direct = NestedLab.Run(TextWriter.Null, Config(c), NestingMode.Direct);
            // A VMfail ends the run with L1's code D0h; everything else with L1's power-off after VMXOFF.
            byte expectedEnd = c.Broken == Broken.NmiWindowWithoutVirtualNmis ? (byte)0xD0 : (byte)0;
            if (direct.Result.Reason != StopReason.DebugExit || direct.Result.ExitCode != (expectedEnd << 1 | 1))
                throw new Xunit.Sdk.XunitException($"{c}: the direct run ended {direct.Result}");
            if (c.Broken == Broken.GuestRflags)
                Assert.Equal(0x8000_0021u, Assert.Single(direct.L1Exits).Reason);
            foreach (var mode in shadowing ? new[] { NestingMode.Nested, NestingMode.NestedShadowing } : new[] { NestingMode.Nested })
            {
                var nested = NestedLab.Run(TextWriter.Null, Config(c), mode);
                Assert.Equal(direct.Result.Reason, nested.Result.Reason);
                Assert.Equal(direct.Result.ExitCode, nested.Result.ExitCode);
                Assert.Equal(direct.L1Exits, nested.L1Exits);
                Assert.Equal(direct.L1Log, nested.L1Log);
                // L2's registers as L1 saved them at the last exit, its final state, and its data page.
                Assert.Equal(direct.L1Data.AsSpan(0x100, 0x100).ToArray(), nested.L1Data.AsSpan(0x100, 0x100).ToArray());
                Assert.Equal(Enumerable.Range(0, 4).Select(direct.Final), Enumerable.Range(0, 4).Select(nested.Final));
                Assert.Equal(direct.L2Data, nested.L2Data);
                // A failed VMLAUNCH: the same flags and VM-instruction error.
                Assert.Equal(direct.L1Data.AsSpan(0x70, 16).ToArray(), nested.L1Data.AsSpan(0x70, 16).ToArray());
                // And nested means nested: every exit L1 saw reached L0 first and was reflected.
                Assert.Equal((uint)direct.L1Exits.Count, nested.Reflected);
            }
            return true;
        }).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(30));
    }
}
