using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Kit;
using Vtx.Kit.Generators;
using Vtx.Vmx;
using Xunit;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Kit;

/// <summary>
/// The generators' promises, checked by entering the states they make on <see cref="VmxTestBed"/>: every "valid"
/// state enters; every "broken" state fails VM entry with exactly the check it names, in the way the SDM defines
/// for that check's section (26.2.1: VMfailValid 7; 26.2.2-26.2.4: VMfailValid 8; 26.3.1: VM-entry failure, exit
/// reason 33 with bit 31, qualification 4 for the link pointer of 26.3.1.5, 2 for the PDPTEs of 26.3.1.6, else
/// 0; SDM Vol. 3C, 26.1-26.3, 26.7); event schedules exit where they are scheduled; guest programs exit on each CPUID.
/// </summary>
public class KitGeneratorTests(ITestOutputHelper output)
{
    /// <summary>The outcome SDM Vol. 3C, 26.2-26.3 give a failure of <paramref name="check"/>, by its section and name.</summary>
    private static (VmxExitKind Kind, VmInstructionError Error, uint Reason, ulong Qualification) Expected(VmEntryCheck check)
    {
        string s = check.Section;
        if (s.StartsWith("26.2.1", StringComparison.Ordinal)) return (VmxExitKind.VmFail, VmInstructionError.EntryInvalidControlFields, 0, 0);
        if (s is "26.2.2" or "26.2.3" or "26.2.4") return (VmxExitKind.VmFail, VmInstructionError.EntryInvalidHostStateFields, 0, 0);
        Assert.StartsWith("26.3.1.", s);
        ulong q = check.Name == "guest.vmcs-link-pointer" ? 4UL : s == "26.3.1.6" ? 2UL : 0UL;
        return (VmxExitKind.EntryFailure, VmInstructionError.None, 0x8000_0021, q);
    }

    private static void AssertFailsExactly(BrokenVmcs broken)
    {
        var bed = new VmxTestBed();
        var exit = bed.Launch(broken.Patch, 1_000);
        var (kind, error, reason, qualification) = Expected(broken.Check);
        string what = $"{broken}: got {exit}";
        Assert.True(exit.Failure?.Check == broken.Check.Name, what);
        Assert.True(exit.Kind == kind, what);
        Assert.False(exit.Entered, what);
        if (kind == VmxExitKind.VmFail)
        {
            Assert.True(exit.InstructionError == error, what);
            Assert.Equal(VmxTransitionKind.EntryFail, Assert.Single(exit.Transitions).Kind);
            Assert.False(bed.Cpu.InVmxNonRoot);
            Assert.Equal((ulong)RFlags.ZF, bed.Cpu.Rflags & (ulong)RFlags.Status); // VMfailValid: ZF only (SDM Vol. 3C, 30.2)
        }
        else
        {
            Assert.True(exit.ExitReason == reason && exit.Qualification == qualification, what);
            Assert.Equal(VmxTestBed.ExitLanding, bed.Cpu.Rip);                       // host state loaded (26.7)
            Assert.False(bed.Cpu.InVmxNonRoot);
        }
        Assert.True(broken.FailedAsExpected(exit), what);                           // the generator's own expectation agrees
    }

    [Fact]
    public void TheTemplateEntersAndRunsTheDefaultGuestToItsVmcall()
    {
        var bed = new VmxTestBed();
        var labels = bed.LoadGuest(g => { g.A.nop(); g.Done(); });
        var exit = bed.Launch();
        Assert.Equal(VmxExitKind.Exit, exit.Kind);
        Assert.Equal(VmxExitReason.Vmcall, exit.BasicReason);
        Assert.Equal(labels["vmcall"], exit.Guest.Rip);
        Assert.Equal(3u, exit.InstructionLength);                                    // VMCALL is 0F 01 C1
        Assert.True(exit.Entered);
        Assert.Null(exit.Failure);
        bed.SkipInstruction();
        exit = bed.Resume(200);                                                      // the guest halts after VMCALL ("stuck")
        Assert.Equal(VmxExitKind.None, exit.Kind);
        Assert.True(bed.Cpu.InVmxNonRoot);
        Assert.Equal(labels["stuck"] + 1, bed.Cpu.Rip);
    }

    [Fact]
    public void AGuestCapturedFromTheHostsModeEnters()
    {
        var bed = new VmxTestBed();
        bed.GuestFromCurrentState();
        // The host's own state (SDM Vol. 3C, 24.4): CR0, CR3, CR4 (VMXE included) and CS as the processor has them.
        Assert.Equal((bed.Cpu.Cr0Value, bed.Cpu.Cr3Value, bed.Cpu.Cr4Value), (bed.Read(VmcsField.GuestCr0), bed.Read(VmcsField.GuestCr3), bed.Read(VmcsField.GuestCr4)));
        Assert.Equal((ulong)VmxLab.CodeSel, bed.Read(VmcsField.GuestCsSelector));
        var labels = bed.LoadGuest(g => g.Done());
        var exit = bed.Launch();
        Assert.Equal((VmxExitKind.Exit, VmxExitReason.Vmcall, labels["vmcall"]), (exit.Kind, exit.BasicReason, exit.Guest.Rip));
    }

    [Property(MaxTest = 150)]
    public Property EveryValidStateEnters() => Prop.ForAll(Arb.From(VmxGen.ValidState()), v =>
    {
        var bed = new VmxTestBed();
        var exit = bed.Launch(v.Patch, 2_000);
        Assert.True(exit.Entered && exit.Failure is null && exit.Kind is VmxExitKind.Exit or VmxExitKind.None, $"{v}: {exit}");
        var entry = exit.Transitions[0];
        Assert.Equal(VmxTransitionKind.Entry, entry.Kind);
        Assert.Equal(v.Patch.GetOrDefault(VmcsField.GuestRip, 0), entry.GuestRip);
    });

    [Property(MaxTest = 400)]
    public Property EveryBrokenStateFailsWithExactlyItsCheck() => Prop.ForAll(Arb.From(VmxGen.BrokenState()), AssertFailsExactly);

    [Fact]
    public void EveryBreakableCheckIsBrokenAsNamedOnSeveralValues()
    {
        var checks = VmxGen.BreakableChecks();
        foreach (var check in checks)
            foreach (var broken in VmxGen.BrokenStateFor(check).Sample(4))
                AssertFailsExactly(broken);
        var names = checks.Select(c => c.Name).ToHashSet();
        output.WriteLine($"{checks.Count} of {VmEntryChecks.All.Count} named checks are breakable; not: " +
                         string.Join(", ", VmEntryChecks.All.Where(c => !names.Contains(c.Name)).Select(c => c.Name)));
        Assert.True(checks.Count >= 120, $"only {checks.Count} breakable checks");
        Assert.All(checks, c => Assert.Contains(c, VmEntryChecks.All));
        // Every guest segment check of 26.3.1.2 for every segment.
        foreach (var seg in VmEntryChecks.GuestSegments)
            foreach (var c in new[] { seg.Base, seg.Type, seg.S, seg.Present, seg.Reserved, seg.Granularity, seg.Dpl, seg.V86Base, seg.V86Limit, seg.V86AccessRights })
                Assert.Contains(c, checks);
    }

    [Fact]
    public void ModelsWithoutAFeatureDoNotGetItsBreakers()
    {
        var caps = new VmxCapabilities { ActivityHlt = false, ActivityShutdown = false, ActivityWaitForSipi = false };
        var model = new CpuModel { Vmx = caps };
        var checks = VmxGen.BreakableChecks(model);
        Assert.DoesNotContain(VmEntryChecks.GuestActivityHltNeedsCpl0, checks);
        Assert.DoesNotContain(VmEntryChecks.GuestActivityBlockingNeedsActive, checks);
        Assert.Throws<ArgumentException>(() => VmxGen.BrokenStateFor(VmEntryChecks.GuestActivityInjection, model));
        // HLT is now an unsupported activity state: the activity check catches it.
        foreach (var broken in VmxGen.BrokenStateFor(VmEntryChecks.GuestActivitySupported, model).Sample(10))
        {
            var bed = new VmxTestBed(model);
            var exit = bed.Launch(broken.Patch, 100);
            Assert.Equal("guest.activity.supported", exit.Failure?.Check);
        }
        var hlt = new VmxTestBed(model).Launch(VmcsPatch.Empty.With(VmcsField.GuestActivityState, 1), 100);
        Assert.Equal("guest.activity.supported", hlt.Failure?.Check);
    }

    [Property(MaxTest = 100)]
    public Property EnterableControlsEnter() => Prop.ForAll(Arb.From(VmxGen.EnterableControls(VmxCapabilities.Default)), c =>
    {
        var bed = new VmxTestBed();
        bed.SetControls(c);
        var exit = bed.Launch(null, 2_000);
        Assert.True(exit.Entered && exit.Failure is null, $"{c}: {exit}");
    });

    /// <summary>
    /// NMI exiting and external-interrupt exiting with acknowledge-on-exit (SDM Vol. 3C, 25.2, 27.2.2): each scheduled
    /// event causes one VM exit, reason 0 with interruption information 80000202h for an NMI, reason 1 with
    /// 80000000h | vector for an interrupt, in the order scheduled, no earlier than its cycle and before the next one's.
    /// </summary>
    [Property(MaxTest = 40)]
    public Property ScheduledEventsExitInOrderAtTheirCycles() => Prop.ForAll(Arb.From(VmxGen.Events(4, 200_000, 20_000)), schedule =>
    {
        var bed = new VmxTestBed();
        bed.LoadGuest(g =>
        {
            var spin = g.Mark("spin");
            g.A.nop();
            g.A.jmp(spin);
        });
        bed.SetControls(VmxControlSet.LongModeGuest with
        {
            PinBased = PinBasedControls.NmiExiting | PinBasedControls.ExternalInterruptExiting,
            Exit = ExitControls.HostAddressSpaceSize | ExitControls.AcknowledgeInterruptOnExit,
        });
        bed.Schedule(schedule.Events.ToArray());
        ulong? entryCycle = null;
        for (int k = 0; k < schedule.Events.Count; k++)
        {
            var exit = k == 0 ? bed.Launch(null, 1_000_000) : bed.Resume(1_000_000);
            entryCycle ??= exit.Transitions.First(t => t.Kind == VmxTransitionKind.Entry).Cycle;
            var e = schedule.Events[k];
            Assert.True(exit.Kind == VmxExitKind.Exit, $"{schedule}: event {k}: {exit}");
            Assert.Equal(e.Nmi ? VmxExitReason.ExceptionOrNmi : VmxExitReason.ExternalInterrupt, exit.BasicReason);
            Assert.Equal(e.Nmi ? 0x8000_0202u : 0x8000_0000u | e.Vector, exit.Interruption.Value);
            ulong at = exit.Transitions.Last().Cycle;
            Assert.True(at >= entryCycle + e.Delay, $"{schedule}: event {k} exited at cycle {at}, before {entryCycle + e.Delay}");
            if (k + 1 < schedule.Events.Count) Assert.True(at < entryCycle + schedule.Events[k + 1].Delay, $"{schedule}: event {k} exited late, at {at}");
        }
        // Nothing else is pending: the guest spins on to the instruction bound.
        var last = schedule.Events.Count == 0 ? bed.Launch(null, 5_000) : bed.Resume(5_000);
        Assert.Equal(VmxExitKind.None, last.Kind);
    });

    /// <summary>A generated program runs to its VMCALL; each CPUID exits (reason 10, unconditional in non-root operation; SDM Vol. 3C, 25.1.2) at its own address and is skipped.</summary>
    [Property(MaxTest = 60)]
    public Property GuestProgramsExitOnEachCpuidAndReachTheirEnd() => Prop.ForAll(Arb.From(VmxGen.Programs()), program =>
    {
        var bed = new VmxTestBed();
        var labels = bed.LoadGuest(g => { program.EmitTo(g); g.Done(); });
        var cpuids = program.Instructions.Select((ins, k) => (ins, k)).Where(x => x.ins.Code == Iced.Intel.Code.Cpuid).Select(x => labels[$"i{x.k}"]).ToArray();
        var exit = bed.Launch(null, 10_000);
        foreach (ulong at in cpuids)
        {
            Assert.True(exit.Kind == VmxExitKind.Exit && exit.BasicReason == VmxExitReason.Cpuid, $"{program}: {exit}");
            Assert.Equal(at, exit.Guest.Rip);
            Assert.Equal(2u, exit.InstructionLength);                                 // 0F A2
            bed.SkipInstruction();
            exit = bed.Resume(10_000);
        }
        Assert.True(exit.Kind == VmxExitKind.Exit && exit.BasicReason == VmxExitReason.Vmcall, $"{program}: {exit}");
        Assert.Equal(labels["vmcall"], exit.Guest.Rip);
        Assert.Equal(program.CpuidCount, cpuids.Length);
    });

    [Fact]
    public void EptIdentityMapTranslatesEveryAddressToItself()
    {
        const ulong at = 0x10_0000, size = 5UL << 30;
        var image = EptIdentityMap.Build(at, size);
        ulong Entry(ulong table, ulong index) => BitConverter.ToUInt64(image, (int)(table - at + index * 8));
        foreach (ulong gpa in VmxGen.UInt64.Sample(300).Select(v => v % size).Append(0UL).Append(size - 1))
        {
            // SDM Vol. 3C, 28.2.2: PML4E (bits 47:39), PDPTE (38:30), PDE (29:21) with PS = 1 maps a 2-MiB page.
            ulong pml4e = Entry(at, gpa >> 39 & 511), pdpte = Entry(pml4e & 0xF_FFFF_FFFF_F000, gpa >> 30 & 511);
            ulong pde = Entry(pdpte & 0xF_FFFF_FFFF_F000, gpa >> 21 & 511);
            Assert.Equal(7UL, pml4e & 7);
            Assert.Equal(7UL, pdpte & 0x87);                                         // RWX, not a 1-GiB page
            Assert.Equal(0x80UL | 6 << 3 | 7, pde & 0xBF);                           // PS, WB, RWX
            Assert.Equal(gpa, (pde & 0xF_FFFF_FFE0_0000) | (gpa & 0x1F_FFFF));
        }
        Assert.Equal(at | 6 | 3 << 3, EptIdentityMap.Eptp(at));
        // A guest under EPT with the test bed's map runs as before.
        var bed = new VmxTestBed();
        bed.SetControls(VmxControlSet.LongModeGuest with { SecondaryProcessorBased = SecondaryProcessorBasedControls.EnableEpt });
        var exit = bed.Launch();
        Assert.Equal((VmxExitKind.Exit, VmxExitReason.Vmcall), (exit.Kind, exit.BasicReason));
    }

    [Fact]
    public void GeneratedNumbersSpanTheirRangeAndAddressesAreWhatTheySay()
    {
        var u64 = VmxGen.UInt64.Sample(2000);
        Assert.Contains(u64, v => v > 1UL << 62);                                   // not near zero
        Assert.Contains(0UL, u64);
        Assert.Contains(ulong.MaxValue, u64);
        Assert.All(VmxGen.Canonical.Sample(500), v => Assert.True(((long)v << 16 >> 16) == (long)v, $"0x{v:X} is not canonical at 48 bits"));
        Assert.Contains(VmxGen.Canonical.Sample(500), v => v > 0xFFFF_8000_0000_0000);  // upper half too
        Assert.All(VmxGen.NonCanonical.Sample(500), v => Assert.True(((long)v << 7 >> 7) != (long)v, $"0x{v:X} is canonical at 57 bits"));
        var s = VmxGen.Events(4, 100_000, 10_000).Sample(300);
        Assert.All(s, x =>
        {
            Assert.InRange(x.Events.Count, 0, 4);
            Assert.All(x.Events, e => Assert.InRange(e.Delay, 0UL, 100_000UL));
            for (int k = 1; k < x.Events.Count; k++) Assert.True(x.Events[k].Delay >= x.Events[k - 1].Delay + 10_000);
        });
        Assert.Contains(s, x => x.Events.Count == 4);
        Assert.Contains(s, x => x.Events.Any(e => e.Delay == 0));
    }
}
