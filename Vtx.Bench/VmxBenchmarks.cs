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
    private VmxRoundTrip _trip = null!;

    [GlobalSetup]
    public void Setup()
    {
        _trip = new VmxRoundTrip();
        int exits = _trip.CountExits();
        if (exits != VmxRoundTrip.Exits) throw new InvalidOperationException($"expected {VmxRoundTrip.Exits} CPUID exits, saw {exits}");
        Console.WriteLine($"// VMX round trip: {VmxRoundTrip.Exits:N0} CPUID exits + VMRESUMEs per operation, validated");
    }

    [Benchmark]
    public ulong CpuidExitRoundTrips() => _trip.Call();
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

    public VmxRoundTrip()
    {
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
            a.mov(ecx, VmcsField.GuestRip.Encoding);
            a.vmread(rax, rcx);
            a.add(rax, 2);               // past the CPUID
            a.vmwrite(rcx, rax);
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
        vmcs.Write(VmcsField.GuestRflags, 2);
        vmcs.Write(VmcsField.PinBasedVmExecControls, caps.AdjustControls(VmxControlKind.PinBased, 0));
        vmcs.Write(VmcsField.PrimaryProcBasedVmExecControls, caps.AdjustControls(VmxControlKind.PrimaryProcessorBased, 0));
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

    /// <summary>Runs one operation with an observer and counts the CPUID exits.</summary>
    public int CountExits()
    {
        int n = 0;
        _m.Cpu.VmxTransitionObserved = t => { if (t.Kind == VmxTransitionKind.Exit && t.BasicReason == VmxExitReason.Cpuid) n++; };
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
