using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>Entering and leaving VMX operation: VMXON/VMXOFF with the checks of SDM Vol. 3C, 30.3, in their order.</summary>
public class VmxonTests
{
    private const ulong Region = 0x2_0000, PtrSlot = Sys.Scratch;
    private const ulong Status = (ulong)RFlags.Status;

    /// <summary>IA-32e mode at <paramref name="cpl"/>, VMX enabled by the firmware (FEATURE_CONTROL locked with VMX outside SMX), CR4.VMXE set.</summary>
    private static Sys Ready(int cpl = 0, bool vmxe = true, ulong featureControl = 5, uint? revision = null, ulong pointer = Region)
    {
        var s = new Sys();
        s.EnterLong(cpl);
        s.Cpu.FeatureControl = featureControl;
        if (vmxe) s.Cpu.Cr4Value |= Cr4.VMXE;
        s.W32(Region, revision ?? new VmxCapabilities().RevisionId);
        s.W64(PtrSlot, pointer);
        return s;
    }

    private static RunResult Run(Sys s, Action<Assembler> body)
    {
        s.Load(a => { body(a); a.ud2(); }); // UD2 ends the program at any CPL
        s.Cpu.Rip = Sys.Code;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        return s.Run(100);
    }

    private static void AtEnd(RunResult r) => Assert.Equal(ExceptionVector.UD, r.Fault?.Vector);

    [Fact]
    public void VmxonEntersVmxOperationWithVmSucceed()
    {
        var s = Ready();
        s.Cpu.Rflags |= Status;
        var r = Run(s, a => a.vmxon(__qword_ptr[PtrSlot]));
        AtEnd(r);
        Assert.True(s.Cpu.InVmxOperation);
        Assert.Equal(Region, s.Cpu.VmxonPointer);
        Assert.Equal(ulong.MaxValue, s.Cpu.CurrentVmcsPointer);
        Assert.Equal(0UL, s.Cpu.Rflags & Status);
    }

    [Fact]
    public void VmxonInVmxRootWithoutACurrentVmcsIsVmFailInvalid()
    {
        var s = Ready();
        var r = Run(s, a => { a.vmxon(__qword_ptr[PtrSlot]); a.vmxon(__qword_ptr[PtrSlot]); });
        AtEnd(r);
        Assert.Equal((ulong)RFlags.CF, s.Cpu.Rflags & Status);
        Assert.True(s.Cpu.InVmxOperation);
    }

    [Theory]
    [InlineData(0x2_0010UL)]               // not 4-KiB aligned
    [InlineData(1UL << 46)]                // beyond MAXPHYADDR
    public void ABadVmxonPointerIsVmFailInvalid(ulong pointer)
    {
        var s = Ready(pointer: pointer);
        AtEnd(Run(s, a => a.vmxon(__qword_ptr[PtrSlot])));
        Assert.Equal((ulong)RFlags.CF, s.Cpu.Rflags & Status);
        Assert.False(s.Cpu.InVmxOperation);
    }

    [Theory]
    [InlineData(0x1234u)]
    [InlineData(0x8056_5458u)]             // the right id with the shadow-VMCS bit set
    public void AWrongRevisionIdentifierIsVmFailInvalid(uint revision)
    {
        var s = Ready(revision: revision);
        AtEnd(Run(s, a => a.vmxon(__qword_ptr[PtrSlot])));
        Assert.Equal((ulong)RFlags.CF, s.Cpu.Rflags & Status);
        Assert.False(s.Cpu.InVmxOperation);
    }

    [Fact]
    public void WithoutCr4VmxeVmxonIsUd()
    {
        var s = Ready(vmxe: false);
        var r = Run(s, a => a.vmxon(__qword_ptr[PtrSlot]));
        Assert.Equal(ExceptionVector.UD, r.Fault?.Vector);
        Assert.Equal(Sys.Code, r.Rip);
    }

    [Theory]
    [InlineData(0UL)]  // FEATURE_CONTROL not locked
    [InlineData(1UL)]  // locked, VMX outside SMX disabled
    public void FirmwareThatDidNotEnableVmxGivesGp0(ulong featureControl)
    {
        var s = Ready(featureControl: featureControl);
        var r = Run(s, a => a.vmxon(__qword_ptr[PtrSlot]));
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.Equal(Sys.Code, r.Rip);
    }

    [Fact]
    public void VmxonAtCpl3IsGp0()
    {
        var s = Ready(cpl: 3);
        var r = Run(s, a => a.vmxon(__qword_ptr[PtrSlot]));
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
    }

    [Fact]
    public void VmxoffLeavesVmxOperationAndOutsideItIsUd()
    {
        var s = Ready();
        AtEnd(Run(s, a => { a.vmxon(__qword_ptr[PtrSlot]); a.vmxoff(); }));
        Assert.False(s.Cpu.InVmxOperation);
        Assert.Equal(0UL, s.Cpu.Rflags & Status);

        var r = Run(s, a => a.vmxoff());
        Assert.Equal(ExceptionVector.UD, r.Fault?.Vector);
        Assert.Equal(Sys.Code, r.Rip);
    }

    [Fact]
    public void InVmxOperationCr4VmxeCannotBeCleared()
    {
        var s = Ready();
        var r = Run(s, a =>
        {
            a.vmxon(__qword_ptr[PtrSlot]);
            a.mov(rax, cr4);
            a.and(rax, ~(int)Cr4.VMXE);
            a.mov(cr4, rax);
        });
        Assert.Equal(new FaultInfo(ExceptionVector.GP, 0), r.Fault);
        Assert.True(s.Cpu.InVmxOperation);
    }

    [Fact]
    public void CapabilityMsrsAndCpuidFollowTheModel()
    {
        var s = Ready();
        var caps = new VmxCapabilities();
        Assert.True(caps.TryReadMsr(0x480, out ulong basic));
        Assert.Equal(basic, s.Cpu.ReadMsr(0x480));
        Assert.Equal(caps.RevisionId, (uint)(basic & 0x7FFF_FFFF));
        Assert.NotEqual(0u, s.Cpu.Model.Cpuid(1, 0).Ecx & (1u << 5));

        var noVmx = new Machine(new MachineOptions { CpuModel = new CpuModel { Vmx = null } });
        Assert.Equal(0u, noVmx.Cpu.Model.Cpuid(1, 0).Ecx & (1u << 5));
        Assert.Null(noVmx.Cpu.ReadMsr(0x480));
    }

    [Fact]
    public void ResetLeavesVmxOperation()
    {
        var s = Ready();
        AtEnd(Run(s, a => a.vmxon(__qword_ptr[PtrSlot])));
        s.Cpu.Reset();
        Assert.False(s.Cpu.InVmxOperation);
    }
}
