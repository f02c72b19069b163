using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// VMFUNC and VM function 0, EPTP switching (SDM Vol. 3C, 25.5.5 and the VMFUNC reference): #UD unless
/// in non-root operation with "enable VM functions" and EAX below 64; VM exit 59 for a function not
/// enabled, an index above 511 or an EPTP-list entry that is not a valid EPTP; otherwise the EPTP and
/// the EPTP index change without a VM exit and the guest sees the other EPT hierarchy at once.
/// </summary>
public class EptVmfuncTests
{
    private const ulong List = 0x7_2000;
    private const ulong Pml4B = 0xC_8000; // a second identity hierarchy that maps Data elsewhere
    private const ulong EptpB = Pml4B | 6 | (3 << 3);
    private const ulong Other = Data + 0x8000;

    private static VmxGuest WithEptpList(ulong controls = VmFunction.EptpSwitching)
    {
        var g = WithEpt(proc2: SecondaryProcessorBasedControls.EnableVmFunctions | SecondaryProcessorBasedControls.EptViolationVe);
        BuildIdentity(g, Pml4B);
        SetPte(g, Data, Other | Leaf, Pml4B);
        for (ulong i = 0; i < 512; i++) g.S.W64(List + i * 8, 0);
        g.S.W64(List, Eptp);
        g.S.W64(List + 8, EptpB);
        g.S.W64(List + 16, Pml4B | 1 | (3 << 3)); // memory type 1: not a valid EPTP
        g.S.W64(List + 24, EptpB | 0x40);          // A/D flags on
        g.W(VmcsField.VmFunctionControls, controls);
        g.W(VmcsField.EptpListAddress, List);
        g.W(VmcsField.VirtualizationExceptionInformationAddress, 0x7_1000);
        g.S.W64(Data, 0xAAAA);
        g.S.W64(Other, 0xBBBB);
        return g;
    }

    [Fact]
    public void EptpSwitchingChangesTheTranslationWithoutAnExit()
    {
        var g = WithEptpList();
        g.Guest(a =>
        {
            a.mov(rsi, __qword_ptr[Data]);
            a.xor(eax, eax);
            a.mov(ecx, 1);
            a.vmfunc();
            a.mov(rdi, __qword_ptr[Data]);
            a.xor(ecx, ecx);
            a.vmfunc();
            a.mov(rbx, __qword_ptr[Data]);
            a.mov(ecx, 3);
            a.vmfunc();
            a.mov(edx, 0x5555);
            a.mov(__qword_ptr[Data + 8], rdx);
            a.ud2();
        });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason); // the UD2: no exit before it
        Assert.Single(g.Transitions, t => t.Kind == VmxTransitionKind.Exit);
        Assert.Equal(0xAAAAUL, g.Cpu[Gpr.Rsi]);
        Assert.Equal(0xBBBBUL, g.Cpu[Gpr.Rdi]);
        Assert.Equal(0xAAAAUL, g.Cpu[Gpr.Rbx]);
        // The last switch (index 3) enabled A/D flags: the write through hierarchy B dirtied its entry.
        Assert.Equal(EptpB | 0x40, g.R(VmcsField.EptPointer));
        Assert.Equal(3UL, g.R(VmcsField.EptpIndex));
        Assert.Equal(A | D, Pte(g, Data, Pml4B) & (A | D));
        Assert.Equal(0UL, Pte(g, Data) & (A | D));
        Assert.Equal(0x5555UL, g.S.R64(Other + 8)); // written through B's mapping
        Assert.Equal(0UL, g.S.R64(Data + 8));
    }

    [Theory]
    [InlineData(0U, 512U)]              // index above 511
    [InlineData(0U, 0x1_0000_0001U)]    // RCX bits 63:32 are ignored: index 1, a valid switch
    [InlineData(0U, 2U)]                // the entry is not a valid EPTP
    [InlineData(0U, 100U)]              // the entry is 0: not a valid EPTP
    [InlineData(1U, 1U)]                // function 1 not enabled
    public void InvalidRequestsExitWithReason59(uint function, ulong index)
    {
        var g = WithEptpList();
        bool exits = !(function == 0 && index == 0x1_0000_0001U);
        Iced.Intel.Label vmfunc = default;
        var resolve = g.Guest(a => { a.mov(eax, function); a.mov(rcx, index); vmfunc = a.CreateLabel(); a.Label(ref vmfunc); a.vmfunc(); a.ud2(); });
        ulong at = resolve(vmfunc);
        g.Launch();
        if (!exits)
        {
            // RCX bits 63:32 are ignored: ECX = 1 switches to hierarchy B.
            Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
            Assert.Equal(EptpB, g.R(VmcsField.EptPointer));
            return;
        }
        Assert.Equal(VmxExitReason.Vmfunc, g.ExitReason);
        Assert.Equal(at, g.R(VmcsField.GuestRip)); // fault-like: the VMFUNC itself
        Assert.Equal(3UL, g.R(VmcsField.VmExitInstructionLength));
        Assert.Equal(0UL, g.R(VmcsField.ExitQualification));
        Assert.Equal(Eptp, g.R(VmcsField.EptPointer));
        Assert.Equal(0UL, g.R(VmcsField.EptpIndex));
    }

    [Theory]
    [InlineData(true, 64U)]    // EAX above 63
    [InlineData(false, 0U)]    // "enable VM functions" = 0
    public void UndefinedOpcodeCases(bool enable, uint function)
    {
        var g = WithEptpList();
        if (!enable) g.Controls(proc2: SecondaryProcessorBasedControls.EnableEpt);
        g.Guest(a => { a.mov(eax, function); a.xor(ecx, ecx); a.vmfunc(); a.nop(); });
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0306UL, g.R(VmcsField.VmExitInterruptionInformation));
    }

    [Fact]
    public void VmfuncInRootOperationIsUndefined()
    {
        var g = WithEptpList();
        g.S.Load(a => { a.xor(eax, eax); a.vmfunc(); a.hlt(); }, Sys.Code + 0x600);
        g.Cpu.Rip = Sys.Code + 0x600;
        g.Cpu.Resume();
        g.S.ExpectFault(ExceptionVector.UD, null, Sys.Code + 0x602);
    }

    /// <summary>Cached guest-physical mappings are tagged by EPTRTA: switching away and back reuses the first hierarchy's cached mapping (no INVEPT needed, none done).</summary>
    [Fact]
    public void SwitchingKeepsEachHierarchysCachedMappings()
    {
        var g = WithEptpList();
        g.Guest(a =>
        {
            a.mov(rsi, __qword_ptr[Data]);
            // A page only hierarchy A translates, in a slot of the direct-mapped cache B's translations do not
            // use: B re-translates the code page whenever the fetch leaves a run (a timing charge can end one).
            a.mov(rbx, __qword_ptr[0x2_8000]);
            a.mov(ecx, 1);
            a.xor(eax, eax);
            a.vmfunc();
            a.mov(rdi, __qword_ptr[Data]);
            a.ud2();
        });
        g.Launch();
        Assert.True(g.Cpu.CachedGuestPhysicalMappings(Eptp) > 0);
        Assert.True(g.Cpu.CachedGuestPhysicalMappings(EptpB) > 0);
    }

    [Fact]
    public void EntryChecksAndTheCapabilitySwitch()
    {
        // Only function 0 may be enabled (IA32_VMX_VMFUNC = 1).
        var g = WithEptpList(controls: 2);
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.Equal("control.vm-functions.allowed", g.Cpu.LastVmEntryFailure!.Check);
        // EPTP switching needs a 4-KiB aligned EPTP-list address.
        g = WithEptpList();
        g.W(VmcsField.EptpListAddress, List | 0x800);
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.Equal("control.vm-functions.eptp-switching", g.Cpu.LastVmEntryFailure!.Check);
        // Without VM functions: the MSR and the fields do not exist, the control may not be 1.
        var caps = new VmxCapabilities
        {
            SecondaryProcessorBased = VmxCapabilities.Default.SecondaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.SecondaryProcessorBased.Allowed1 & ~SecondaryProcessorBasedControls.EnableVmFunctions,
            },
            VmFunctions = 0,
        };
        Assert.Empty(caps.Validate());
        Assert.False(caps.TryReadMsr(VmxMsr.VmFunc, out _));
        Assert.False(caps.Supports(VmcsField.EptpListAddress));
        g = WithEpt(proc2: SecondaryProcessorBasedControls.EnableVmFunctions, model: new CpuModel { Vmx = caps });
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.Equal("control.secondary.allowed-settings", g.Cpu.LastVmEntryFailure!.Check);
    }
}
