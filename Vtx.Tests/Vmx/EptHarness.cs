using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// A <see cref="VmxGuest"/> with EPT identity-mapping the first 2 MiB of guest-physical memory with
/// 4-KiB pages (RWX, write-back) through the tables at <see cref="Pml4"/>..<see cref="Pt"/>, UD2 ending
/// the guest with a VM exit (exception bitmap bit 6), and helpers to edit EPT entries and to run host
/// code (INVEPT, VMCS edits) before VMRESUME.
/// </summary>
internal static class EptHarness
{
    public const ulong Pml4 = 0xC_0000, Pdpt = 0xC_1000, Pd = 0xC_2000, Pt = 0xC_3000;
    /// <summary>Write-back paging structures, 4-level walk, A/D flags off.</summary>
    public const ulong Eptp = Pml4 | 6 | (3 << 3);
    /// <summary>As <see cref="Eptp"/> with EPTP bit 6: accessed and dirty flags on.</summary>
    public const ulong EptpAd = Eptp | 0x40;
    /// <summary>Leaf attributes: memory type WB, read/write/execute.</summary>
    public const ulong Leaf = (6 << 3) | 7;
    public const ulong A = 1UL << 8, D = 1UL << 9, Xu = 1UL << 10, SuppressVe = 1UL << 63;
    /// <summary>Guest-physical pages the tests access (1 MiB and up, nothing else lives there).</summary>
    public const ulong Data = 0x10_0000;
    /// <summary>Host scratch: INVEPT descriptors and the like (not under EPT: host-physical).</summary>
    public const ulong HostScratch = 0x7_F000;

    public static VmxGuest WithEpt(bool ad = false, uint proc2 = 0, CpuModel? model = null, ulong upper = 7)
    {
        var g = new VmxGuest(model);
        BuildIdentity(g, Pml4, upper);
        g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt | proc2);
        g.W(VmcsField.EptPointer, ad ? EptpAd : Eptp);
        g.W(VmcsField.ExceptionBitmap, 1u << 6);
        return g;
    }

    /// <summary>An identity EPT hierarchy for the first 2 MiB at <paramref name="pml4"/> (PDPT, PD, PT in the next three pages).</summary>
    public static void BuildIdentity(VmxGuest g, ulong pml4, ulong upper = 7)
    {
        g.S.W64(pml4, (pml4 + 0x1000) | upper);
        g.S.W64(pml4 + 0x1000, (pml4 + 0x2000) | upper);
        g.S.W64(pml4 + 0x2000, (pml4 + 0x3000) | upper);
        for (ulong i = 0; i < 512; i++) g.S.W64(pml4 + 0x3000 + i * 8, (i << 12) | Leaf);
    }

    public static ulong PteAddress(ulong gpa, ulong pml4 = Pml4) => pml4 + 0x3000 + (gpa >> 12) * 8;
    public static void SetPte(VmxGuest g, ulong gpa, ulong entry, ulong pml4 = Pml4) => g.S.W64(PteAddress(gpa, pml4), entry);
    public static ulong Pte(VmxGuest g, ulong gpa, ulong pml4 = Pml4) => g.S.R64(PteAddress(gpa, pml4));

    /// <summary>Skips the UD2 the guest exited on, runs <paramref name="host"/> in VMX root operation, then VMRESUME to the next exit.</summary>
    public static RunResult ResumeAfter(VmxGuest g, Action<Assembler>? host = null, ulong maxInstructions = 10_000)
    {
        g.W(VmcsField.GuestRip, g.R(VmcsField.GuestRip) + 2);
        g.S.Load(a => { host?.Invoke(a); a.vmresume(); a.hlt(); }, Sys.Code + 0x400);
        g.Cpu.Rip = Sys.Code + 0x400;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        return g.S.Run(maxInstructions);
    }

    /// <summary>Host code: INVEPT of <paramref name="type"/> with descriptor EPTP <paramref name="eptp"/>; stores RFLAGS at <see cref="HostScratch"/> + 0x10.</summary>
    public static Action<Assembler> Invept(ulong type, ulong eptp, VmxGuest g)
    {
        g.S.W64(HostScratch, eptp);
        g.S.W64(HostScratch + 8, 0);
        return a =>
        {
            a.mov(rcx, type);
            a.invept(rcx, __xmmword_ptr[HostScratch]);
            a.pushfq();
            a.pop(rax);
            a.mov(__qword_ptr[HostScratch + 0x10], rax);
        };
    }
}
