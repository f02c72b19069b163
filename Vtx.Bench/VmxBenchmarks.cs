using BenchmarkDotNet.Attributes;
using Iced.Intel;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Bench;

/// <summary>
/// The cost of VMX transitions in host time: a guest loops on CPUID (an unconditional VM exit) and a
/// hypervisor's exit handler advances the guest RIP past it with VMREAD/VMWRITE and VMRESUMEs, for
/// <see cref="VmxRoundTrip.Exits"/> round trips per operation. Time per round trip = median / Exits.
/// </summary>
[MemoryDiagnoser]
public class VmxBenchmarks
{
    private VmxRoundTrip _trip = null!, _intWindow = null!, _nmiWindow = null!;

    [GlobalSetup]
    public void Setup()
    {
        _trip = VmxRoundTrip.Validated(VmxExitLoop.Cpuid);
        _intWindow = VmxRoundTrip.Validated(VmxExitLoop.InterruptWindow);
        _nmiWindow = VmxRoundTrip.Validated(VmxExitLoop.NmiWindow);
        Console.WriteLine($"// VMX round trip: {VmxRoundTrip.Exits:N0} exits + VMRESUMEs per operation, validated");
    }

    [Benchmark]
    public ulong CpuidExitRoundTrips() => _trip.Call();

    /// <summary>Issue 13: "interrupt-window exiting" on, guest IF = 1: every VM entry exits at once (reason 7).</summary>
    [Benchmark]
    public ulong InterruptWindowExitRoundTrips() => _intWindow.Call();

    /// <summary>Issue 13: virtual NMIs with "NMI-window exiting": every VM entry exits at once (reason 8).</summary>
    [Benchmark]
    public ulong NmiWindowExitRoundTrips() => _nmiWindow.Call();

    /// <summary>
    /// <c>--vmx-loop [seconds]</c>: each loop for about <paramref name="seconds"/>, printing host time per round
    /// trip and managed bytes allocated per exit (a perf target too).
    /// </summary>
    public static int Loop(double seconds)
    {
        foreach (VmxExitLoop kind in Enum.GetValues<VmxExitLoop>())
        {
            var trip = VmxRoundTrip.Validated(kind);
            for (int i = 0; i < 3; i++) trip.Call();
            long alloc0 = GC.GetAllocatedBytesForCurrentThread();
            trip.Call();
            long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
            var samples = new List<double>();
            var total = System.Diagnostics.Stopwatch.StartNew();
            while (samples.Count < 5 || total.Elapsed.TotalSeconds < seconds)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                trip.Call();
                samples.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalNanoseconds / VmxRoundTrip.Exits);
            }
            samples.Sort();
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{kind,-16} {samples[samples.Count / 2] / 1000,7:F3} us per round trip (median of {samples.Count}, best {samples[0] / 1000:F3}), {(double)alloc / VmxRoundTrip.Exits:F1} B allocated per exit"));
        }
        return 0;
    }
}

/// <summary>The exit a <see cref="VmxRoundTrip"/> loops on.</summary>
public enum VmxExitLoop
{
    /// <summary>The guest executes CPUID (exit 10); the handler advances its RIP.</summary>
    Cpuid,
    /// <summary>Interrupt-window exiting with guest IF = 1 (exit 7 at each entry).</summary>
    InterruptWindow,
    /// <summary>Virtual NMIs and NMI-window exiting (exit 8 at each entry).</summary>
    NmiWindow,
}

/// <summary>
/// A 64-bit host in VMX root operation (identity paging, VMXON and a current VMCS built by its own
/// code; host and guest state captured from the processor) whose guest does CPUID forever.
/// </summary>
public sealed class VmxRoundTrip
{
    public const int Exits = 2_000;
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, VmxonRegion = 0x5000, VmcsRegion = 0x6000, Slots = 0x7000;
    private const ulong Setup = 0x1_0000, Launcher = 0x1_0800, Handler = 0x1_1000, Guest = 0x1_2000;

    private readonly Machine _m = new(new MachineOptions { MemoryMiB = 4 });
    private readonly VmxExitLoop _kind;

    /// <summary>A round trip of <paramref name="kind"/>, checked to take exactly <see cref="Exits"/> exits of its reason.</summary>
    public static VmxRoundTrip Validated(VmxExitLoop kind)
    {
        var t = new VmxRoundTrip(kind);
        int exits = t.CountExits();
        if (exits != Exits) throw new InvalidOperationException($"{kind}: expected {Exits} exits, saw {exits}");
        return t;
    }

    public VmxRoundTrip(VmxExitLoop kind = VmxExitLoop.Cpuid)
    {
        _kind = kind;
        var c = _m.Cpu;
        W64(Pml4, Pdpt | 3);
        W64(Pdpt, Pd | 3);
        for (ulong i = 0; i < 512; i++) W64(Pd + i * 8, (i << 21) | 0x83);
        c.Cr3Value = Pml4;
        c.Cr4Value = Cr4.PAE | Cr4.VMXE;
        c.Cr0Value = Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG;
        c.Tr = new SegmentCache(0x18, 0x4000, 0x67, 0x8B); // a busy 64-bit TSS: the host TR selector must not be 0
        c.FeatureControl = 5;
        c[Gpr.Rsp] = 0x8_0000;
        uint revision = c.Model.Vmx!.RevisionId;
        W64(VmxonRegion, revision);
        W64(VmcsRegion, revision);
        W64(Slots, VmxonRegion);
        W64(Slots + 8, VmcsRegion);
        Load(Setup, a => { a.vmxon(__qword_ptr[Slots]); a.vmclear(__qword_ptr[Slots + 8]); a.vmptrld(__qword_ptr[Slots + 8]); a.hlt(); });
        Load(Launcher, a => { a.vmclear(__qword_ptr[Slots + 8]); a.vmptrld(__qword_ptr[Slots + 8]); a.vmlaunch(); a.hlt(); });
        Load(Handler, a =>
        {
            var done = a.CreateLabel();
            if (kind == VmxExitLoop.Cpuid)
            {
                a.mov(ecx, VmcsField.GuestRip.Encoding);
                a.vmread(rax, rcx);
                a.add(rax, 2);               // past the CPUID
                a.vmwrite(rcx, rax);
            }
            a.dec(r15);
            a.jz(done);
            a.vmresume();
            a.Label(ref done);
            a.hlt();
        });
        Load(Guest, a => { var top = a.CreateLabel(); a.Label(ref top); a.cpuid(); a.jmp(top); });
        c.Rip = Setup;
        var r = _m.Run(RunLimits.Instructions(100));
        var vmcs = c.CurrentVmcs ?? throw new InvalidOperationException("VMX setup failed: " + r);
        var caps = c.Model.Vmx;
        c.CaptureHostState(vmcs, Handler, 0x8_0000);
        c.CaptureGuestState(vmcs);
        vmcs.Write(VmcsField.GuestRip, Guest);
        vmcs.Write(VmcsField.GuestRsp, 0x9_0000);
        vmcs.Write(VmcsField.GuestRflags, kind == VmxExitLoop.InterruptWindow ? 0x202UL : 2);
        uint pin = kind == VmxExitLoop.NmiWindow ? PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis : 0;
        uint proc = kind switch
        {
            VmxExitLoop.InterruptWindow => PrimaryProcessorBasedControls.InterruptWindowExiting,
            VmxExitLoop.NmiWindow => PrimaryProcessorBasedControls.NmiWindowExiting,
            _ => 0u,
        };
        vmcs.Write(VmcsField.PinBasedVmExecControls, caps.AdjustControls(VmxControlKind.PinBased, pin));
        vmcs.Write(VmcsField.PrimaryProcBasedVmExecControls, caps.AdjustControls(VmxControlKind.PrimaryProcessorBased, proc));
        vmcs.Write(VmcsField.VmExitControls, caps.AdjustControls(VmxControlKind.Exit, ExitControls.HostAddressSpaceSize));
        vmcs.Write(VmcsField.VmEntryControls, caps.AdjustControls(VmxControlKind.Entry, EntryControls.Ia32eModeGuest));
    }

    /// <summary>One operation: VMCLEAR/VMPTRLD/VMLAUNCH, then <see cref="Exits"/> exits and resumes, ending in HLT in the host.</summary>
    public ulong Call()
    {
        var c = _m.Cpu;
        c.Resume();
        c.Rip = Launcher;
        c[Gpr.R15] = Exits;
        var r = _m.Run(RunLimits.Instructions(100 * (ulong)Exits));
        return r.Cycles;
    }

    /// <summary>Runs one operation with an observer and counts the exits of the loop's reason.</summary>
    public int CountExits()
    {
        int n = 0;
        VmxExitReason want = _kind switch
        {
            VmxExitLoop.InterruptWindow => VmxExitReason.InterruptWindow,
            VmxExitLoop.NmiWindow => VmxExitReason.NmiWindow,
            _ => VmxExitReason.Cpuid,
        };
        _m.Cpu.VmxTransitionObserved = t => { if (t.Kind == VmxTransitionKind.Exit && t.BasicReason == want) n++; };
        Call();
        _m.Cpu.VmxTransitionObserved = null;
        return n;
    }

    private void W64(ulong a, ulong v) => _m.WriteMemory(a, BitConverter.GetBytes(v));

    private void Load(ulong at, Action<Assembler> body)
    {
        var a = new Assembler(64);
        body(a);
        var w = new Writer();
        a.Assemble(w, at);
        _m.WriteMemory(at, w.Bytes.ToArray());
    }

    private sealed class Writer : CodeWriter
    {
        public List<byte> Bytes { get; } = new();
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
