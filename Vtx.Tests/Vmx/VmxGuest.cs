using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Test harness for VM entries and exits: a 64-bit host in VMX root operation with a current VMCS
/// whose host and guest state are filled through the host API (<see cref="Cpu.CurrentVmcs"/>). The
/// guest is a 64-bit ring-0 guest sharing the host's GDT and page tables, with its own IDT at
/// <see cref="GuestIdt"/> and stack at <see cref="GuestStack"/>. The host runs <c>VMLAUNCH</c> at
/// <see cref="Sys.Code"/>; a VMfail continues at <see cref="FailStop"/>, every VM exit lands on
/// <see cref="ExitStop"/>; both are HLT with IF = 0, so the run ends there.
/// </summary>
internal sealed class VmxGuest
{
    public const ulong VmxonRegion = 0x2_0000, VmcsRegion = 0x2_1000, GuestCode = 0x3_0000, GuestStack = 0x3_8000;
    public const ulong GuestIdt = 0x4_0000, Handlers = 0x4_2000, ExitStop = Sys.Code + 0x800, FailStop = Sys.Code + 3;
    public const ulong HostStack = 0x9_8000, MsrArea = 0x5_0000, IoBitmaps = 0x6_0000, MsrBitmap = 0x6_2000;

    public Sys S { get; }
    public Cpu Cpu => S.Cpu;
    public Vmcs Vmcs => Cpu.CurrentVmcs!;
    public VmxCapabilities Caps => Cpu.Model.Vmx!;
    public List<VmxTransition> Transitions { get; } = new();
    private readonly Dictionary<int, ulong> _handlers = new();

    public VmxGuest(CpuModel? model = null, int cpus = 1, int memoryMiB = 2)
    {
        S = new Sys(memoryMiB, model, cpus);
        S.EnterLong(0);
        Cpu.FeatureControl = 5;
        Cpu.Cr4Value |= Cr4.VMXE;
        uint rev = Caps.RevisionId;
        S.W32(VmxonRegion, rev);
        S.W32(VmcsRegion, rev);
        S.W64(Sys.Scratch, VmxonRegion);
        S.W64(Sys.Scratch + 8, VmcsRegion);
        S.Load(a => { a.vmxon(__qword_ptr[Sys.Scratch]); a.vmclear(__qword_ptr[Sys.Scratch + 8]); a.vmptrld(__qword_ptr[Sys.Scratch + 8]); a.hlt(); });
        Cpu.Rip = Sys.Code;
        var r = S.Run(100);
        Assert.True(r.Reason == StopReason.Halted && Cpu.CurrentVmcsPointer == VmcsRegion, "VMX setup failed: " + r);
        Cpu.VmxTransitionObserved = Transitions.Add;
        EntryCheckCoverageTests.Record(() => Transitions.Select(t => t.Failure).Append(Cpu.LastVmEntryFailure));
        FillHostState();
        FillGuestState();
        Controls();
        // The host: VMLAUNCH, a VMfail lands on FailStop; exits land on ExitStop.
        S.Load(a => { a.vmlaunch(); a.hlt(); });
        S.Load(a => a.hlt(), ExitStop);
        // Guest exception handlers: each stores its vector at Scratch+0x200 and halts.
        for (int v = 0; v < 32; v++) SetGuestHandler(v, a => { a.mov(__dword_ptr[Sys.Scratch + 0x200], v); a.hlt(); });
    }

    public void W(VmcsField f, ulong v) => Vmcs.Write(f, v);
    public ulong R(VmcsField f) => Vmcs.Read(f);

    /// <summary>Sets the five control fields to the desired bits adjusted by the capability MSRs (default1 bits forced).</summary>
    public void Controls(uint pin = 0, uint proc = 0, uint proc2 = 0, uint exit = ExitControls.HostAddressSpaceSize, uint entry = EntryControls.Ia32eModeGuest)
    {
        W(VmcsField.PinBasedVmExecControls, Caps.AdjustControls(VmxControlKind.PinBased, pin));
        if (proc2 != 0) proc |= PrimaryProcessorBasedControls.ActivateSecondaryControls;
        W(VmcsField.PrimaryProcBasedVmExecControls, Caps.AdjustControls(VmxControlKind.PrimaryProcessorBased, proc));
        W(VmcsField.SecondaryProcBasedVmExecControls, proc2);
        W(VmcsField.VmExitControls, Caps.AdjustControls(VmxControlKind.Exit, exit));
        W(VmcsField.VmEntryControls, Caps.AdjustControls(VmxControlKind.Entry, entry));
    }

    /// <summary>Host state: the processor as it is now (64-bit, CPL 0), exits continuing at <see cref="ExitStop"/> on <see cref="HostStack"/>.</summary>
    private void FillHostState() => Cpu.CaptureHostState(Vmcs, ExitStop, HostStack);

    /// <summary>Guest state: the processor as it is now, with its own IDT, code and stack, RFLAGS = 2.</summary>
    private void FillGuestState()
    {
        Cpu.CaptureGuestState(Vmcs);
        W(VmcsField.GuestIdtrBase, GuestIdt);
        W(VmcsField.GuestIdtrLimit, 256 * 16 - 1);
        W(VmcsField.GuestRip, GuestCode);
        W(VmcsField.GuestRsp, GuestStack);
        W(VmcsField.GuestRflags, 2);
    }

    /// <summary>Writes a guest IDT gate (64-bit interrupt gate) for <paramref name="vector"/> to a handler assembled from <paramref name="body"/>.</summary>
    public ulong SetGuestHandler(int vector, Action<Assembler> body)
    {
        ulong at = Handlers + (ulong)vector * 0x80;
        S.Load(body, at);
        var (lo, hi) = Desc.Gate64(Sys.KCode64, at, 0);
        S.W64(GuestIdt + (ulong)vector * 16, lo);
        S.W64(GuestIdt + (ulong)vector * 16 + 8, hi);
        _handlers[vector] = at;
        return at;
    }

    public ulong HandlerAddress(int vector) => _handlers[vector];

    /// <summary>The vector the last guest exception handler stored (0xFFFFFFFF before any).</summary>
    public uint LastGuestVector => S.R32(Sys.Scratch + 0x200);

    /// <summary>Loads the guest code and returns its label resolver.</summary>
    public Func<Label, ulong> Guest(Action<Assembler> body) => S.Load(body, GuestCode);

    /// <summary>Runs VMLAUNCH from the host and stops at the first VM exit (or VMfail, or guest stop).</summary>
    /// <remarks>With <paramref name="stopAtExit"/> the run stops on arrival at the exit landing, before the host executes anything (events still pending stay pending).</remarks>
    public RunResult Launch(ulong maxInstructions = 10_000, bool stopAtExit = false)
    {
        S.W32(Sys.Scratch + 0x200, 0xFFFF_FFFF);
        Cpu.Rip = Sys.Code;
        Cpu.Rflags = 2;
        Cpu.Resume();
        var r = stopAtExit ? S.RunTo(ExitStop, maxInstructions) : S.Run(maxInstructions);
        LastRun = r;
        return r;
    }

    public RunResult? LastRun { get; private set; }

    /// <summary>Resumes the guest with VMRESUME (after an exit), stopping at the next exit.</summary>
    public RunResult Resume(ulong maxInstructions = 10_000)
    {
        S.Load(a => { a.vmresume(); a.hlt(); }, Sys.Code + 0x200);
        Cpu.Rip = Sys.Code + 0x200;
        Cpu.Rflags = 2;
        Cpu.Resume();
        return S.Run(maxInstructions);
    }

    /// <summary>The basic exit reason of the last exit (asserting the run stopped at the exit landing).</summary>
    public VmxExitReason ExitReason
    {
        get
        {
            Assert.True((Cpu.Rip == ExitStop + 1 || Cpu.Rip == ExitStop) && !Cpu.InVmxNonRoot, $"not at the exit landing: RIP 0x{Cpu.Rip:X}, non-root {Cpu.InVmxNonRoot}, last {Transitions.LastOrDefault()}, run {LastRun}, events {string.Join(";", S.Events)}");
            return (VmxExitReason)(R(VmcsField.ExitReason) & 0xFFFF);
        }
    }

    public bool AtFailStop => Cpu.Rip == FailStop + 1 || Cpu.Rip == Sys.Code + 0x204;

    /// <summary>Guest segment fields for <paramref name="reg"/> from the GDT descriptor <paramref name="sel"/> (as loaded, accessed bit set).</summary>
    public void GuestSegment(SegmentRegister reg, ushort sel)
    {
        var sc = S.Cache(sel);
        var (fs, fb, fl, fa) = reg switch
        {
            SegmentRegister.Es => (VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights),
            SegmentRegister.Cs => (VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights),
            SegmentRegister.Ss => (VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights),
            SegmentRegister.Ds => (VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights),
            SegmentRegister.Fs => (VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights),
            _ => (VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights),
        };
        W(fs, sc.Selector);
        W(fb, sc.Base);
        W(fl, sc.Limit);
        W(fa, sc.AccessRights);
    }

    /// <summary>Starts the guest at CPL 3 in 64-bit mode (user code and data, RSP at <see cref="Sys.UserStack"/>, RFLAGS.IOPL = <paramref name="iopl"/>); its exception handlers still run at CPL 0 on the TSS stack.</summary>
    public void UserMode(int iopl = 0)
    {
        GuestSegment(SegmentRegister.Cs, Sys.UCode64 | 3);
        foreach (var r in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            GuestSegment(r, Sys.UData | 3);
        W(VmcsField.GuestRsp, Sys.UserStack);
        W(VmcsField.GuestRflags, 2UL | (ulong)(iopl & 3) << 12);
    }

    /// <summary>
    /// Makes the guest a 32-bit protected-mode guest at CPL 0 outside IA-32e mode: 32-bit paging with
    /// the 4-MiB identity pages at <see cref="Sys.Pd32"/>, flat 32-bit segments, TR = the busy 32-bit
    /// TSS at <see cref="Sys.TssBase"/>. Sets the VM-entry controls without "IA-32e mode guest" (pass
    /// <c>entry: 0</c> to later <see cref="Controls"/> calls). Its code is loaded with <see cref="Guest32"/>.
    /// </summary>
    public void Legacy32()
    {
        W(VmcsField.GuestCr0, Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG);
        W(VmcsField.GuestCr3, Sys.Pd32);
        W(VmcsField.GuestCr4, Cr4.PSE | Cr4.VMXE);
        GuestSegment(SegmentRegister.Cs, Sys.KCode32);
        foreach (var r in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            GuestSegment(r, Sys.KData);
        W(VmcsField.GuestTrSelector, Sys.TssSel);
        W(VmcsField.GuestTrBase, Sys.TssBase);
        W(VmcsField.GuestTrLimit, 0x67);
        W(VmcsField.GuestTrAccessRights, 0x8B);
        Controls(entry: 0);
    }

    /// <summary>Loads 32-bit guest code (for <see cref="Legacy32"/>) and returns its label resolver.</summary>
    public Func<Label, ulong> Guest32(Action<Assembler> body) => S.Load(body, GuestCode, 32);
}
