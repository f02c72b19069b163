using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>INVEPT, INVVPID and VMCALL in VMX root operation (SDM Vol. 3C, 30.3).</summary>
public class VmxRootInstructionTests
{
    private const ulong Vmxon = 0x2_0000, Vmcs = 0x2_1000, Slot = Sys.Scratch, Desc = Sys.Scratch + 0x40;
    private const ulong Status = (ulong)RFlags.Status;

    private static Sys InRootWithVmcs()
    {
        var s = new Sys();
        s.EnterLong(0);
        s.Cpu.FeatureControl = 5;
        s.Cpu.Cr4Value |= Cr4.VMXE;
        uint rev = new VmxCapabilities().RevisionId;
        s.W32(Vmxon, rev);
        s.W32(Vmcs, rev);
        Exec(s, a =>
        {
            a.mov(rax, Vmxon); a.mov(__qword_ptr[Slot], rax); a.vmxon(__qword_ptr[Slot]);
            a.mov(rax, Vmcs); a.mov(__qword_ptr[Slot], rax); a.vmptrld(__qword_ptr[Slot]);
        });
        Assert.Equal(Vmcs, s.Cpu.CurrentVmcsPointer);
        return s;
    }

    private static ulong Exec(Sys s, Action<Assembler> body)
    {
        s.Load(a => { body(a); a.ud2(); });
        s.Cpu.Rip = Sys.Code;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = s.Run(1000);
        Assert.True(r.Fault?.Vector == ExceptionVector.UD && r.Rip > Sys.Code, "unexpected stop: " + r);
        return s.Cpu.Rflags & Status;
    }

    private static ulong Invept(Sys s, ulong type, ulong eptp)
    {
        s.W64(Desc, eptp);
        s.W64(Desc + 8, 0);
        return Exec(s, a => { a.mov(rcx, type); a.invept(rcx, __xmmword_ptr[Desc]); });
    }

    private static ulong Invvpid(Sys s, ulong type, ulong vpid, ulong address)
    {
        s.W64(Desc, vpid);
        s.W64(Desc + 8, address);
        return Exec(s, a => { a.mov(rcx, type); a.invvpid(rcx, __xmmword_ptr[Desc]); });
    }

    [Theory]
    [InlineData(1UL, 0x30_001EUL, 0UL)]               // single context, WB, 4-level
    [InlineData(2UL, 0UL, 0UL)]                       // all contexts: the descriptor is not checked
    [InlineData(1UL, 0x30_0018UL, 0UL)]               // UC memory type, offered
    [InlineData(1UL, 0x30_001DUL, (ulong)RFlags.ZF)]  // memory type 5: invalid
    [InlineData(1UL, 0x30_0026UL, (ulong)RFlags.ZF)]  // page-walk length 5 not offered
    [InlineData(1UL, 0x30_005EUL, 0UL)]               // A/D flags (bit 6), offered
    [InlineData(1UL, 0x30_009EUL, (ulong)RFlags.ZF)]  // supervisor shadow-stack control (bit 7) not offered
    [InlineData(3UL, 0x30_001EUL, (ulong)RFlags.ZF)]  // no such type
    public void InveptChecksTypeAndEptp(ulong type, ulong eptp, ulong flags)
    {
        var s = InRootWithVmcs();
        Assert.Equal(flags, Invept(s, type, eptp));
        if (flags != 0) Assert.Equal(VmInstructionError.InvalidInveptInvvpidOperand, s.Cpu.LastVmInstructionError);
    }

    [Theory]
    [InlineData(0UL, 1UL, 0x1000UL, 0UL)]
    [InlineData(0UL, 0UL, 0x1000UL, (ulong)RFlags.ZF)]                 // VPID 0
    [InlineData(0UL, 1UL, 0x8000_0000_0000_0000UL, (ulong)RFlags.ZF)]  // non-canonical address
    [InlineData(1UL, 5UL, 0UL, 0UL)]
    [InlineData(1UL, 0UL, 0UL, (ulong)RFlags.ZF)]
    [InlineData(2UL, 0UL, 0UL, 0UL)]                                   // all contexts: VPID ignored
    [InlineData(3UL, 7UL, 0UL, 0UL)]
    [InlineData(1UL, 0x1_0001UL, 0UL, (ulong)RFlags.ZF)]               // descriptor bits 63:16 set
    [InlineData(4UL, 1UL, 0UL, (ulong)RFlags.ZF)]
    public void InvvpidChecksTypeAndDescriptor(ulong type, ulong vpid, ulong address, ulong flags)
    {
        var s = InRootWithVmcs();
        Assert.Equal(flags, Invvpid(s, type, vpid, address));
    }

    [Fact]
    public void VmcallInRootIsVmFailValid1()
    {
        var s = InRootWithVmcs();
        Assert.Equal((ulong)RFlags.ZF, Exec(s, a => a.vmcall()));
        Assert.Equal(VmInstructionError.VmcallInVmxRoot, s.Cpu.LastVmInstructionError);
        Assert.Equal(1UL, s.Cpu.CurrentVmcs!.Read(VmcsField.VmInstructionError));
    }

    [Fact]
    public void VmcallOutsideVmxOperationIsUd()
    {
        var s = new Sys();
        s.EnterLong(0);
        s.Load(a => a.vmcall());
        s.Cpu.Rip = Sys.Code;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = s.Run(10);
        Assert.Equal(ExceptionVector.UD, r.Fault?.Vector);
        Assert.Equal(Sys.Code, r.Rip);
    }

    /// <summary>
    /// A non-canonical INVEPT/INVVPID descriptor address is #SS(0) when the memory operand is a stack
    /// reference (base RSP/RBP), #GP(0) otherwise; in 64-bit mode a DS or SS override changes neither
    /// (SDM Vol. 3C, 30.3 INVVPID / INVEPT "64-Bit Mode Exceptions"; Vol. 1, 3.3.7.1).
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x66, 0x0F, 0x38, 0x81, 0x0C, 0x24 }, 4, 12)]        // invvpid rcx,[rsp]
    [InlineData(new byte[] { 0x3E, 0x66, 0x0F, 0x38, 0x81, 0x4D, 0x00 }, 5, 12)]  // invvpid rcx,ds:[rbp]
    [InlineData(new byte[] { 0x36, 0x66, 0x0F, 0x38, 0x81, 0x0B }, 3, 13)]        // invvpid rcx,ss:[rbx]
    [InlineData(new byte[] { 0x66, 0x0F, 0x38, 0x80, 0x0C, 0x24 }, 4, 12)]        // invept rcx,[rsp]
    [InlineData(new byte[] { 0x66, 0x0F, 0x38, 0x80, 0x0B }, 3, 13)]              // invept rcx,[rbx]
    public void NonCanonicalDescriptorFaultFollowsTheBaseRegister(byte[] code, int baseReg, int vector)
    {
        var s = InRootWithVmcs();
        s.M.WriteMemory(Sys.Code, code);
        s.Cpu.Rip = Sys.Code;
        s.Cpu[Gpr.Rcx] = 1;
        ulong rsp = s.Cpu[Gpr.Rsp];
        s.Cpu[(Gpr)baseReg] = 0x0000_8000_0000_0000UL;
        s.ExpectFault((ExceptionVector)vector, 0u, Sys.Code);
        if (baseReg != 4) s.Cpu[Gpr.Rsp] = rsp;
    }
}
