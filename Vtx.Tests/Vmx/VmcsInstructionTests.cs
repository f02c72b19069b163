using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>VMCLEAR, VMPTRLD, VMPTRST, VMREAD and VMWRITE (SDM Vol. 3C, 30.3) run by guest code in VMX root operation.</summary>
public class VmcsInstructionTests
{
    private const ulong Vmxon = 0x2_0000, VmcsA = 0x2_1000, VmcsB = 0x2_2000, Slot = Sys.Scratch, Out = Sys.Scratch + 0x100;
    private const ulong Status = (ulong)RFlags.Status;
    private static readonly uint Revision = new VmxCapabilities().RevisionId;

    private static Sys InRoot()
    {
        var s = new Sys();
        s.EnterLong(0);
        s.Cpu.FeatureControl = 5;
        s.Cpu.Cr4Value |= Cr4.VMXE;
        s.W32(Vmxon, Revision);
        s.W32(VmcsA, Revision);
        s.W32(VmcsB, Revision);
        Exec(s, a => { a.mov(rax, Vmxon); a.mov(__qword_ptr[Slot], rax); a.vmxon(__qword_ptr[Slot]); });
        Assert.True(s.Cpu.InVmxOperation);
        return s;
    }

    /// <summary>Runs <paramref name="body"/> (ended by UD2, which stops the run) and returns RFLAGS' status bits.</summary>
    private static ulong Exec(Sys s, Action<Assembler> body)
    {
        s.Load(a => { body(a); a.ud2(); });
        s.Cpu.Rip = Sys.Code;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        var r = s.Run(1000);
        Assert.True(r.Fault?.Vector == ExceptionVector.UD && r.Rip > Sys.Code, "unexpected stop: " + r);
        return s.Cpu.Rflags & Status;
    }

    private static ulong Ptrld(Sys s, ulong pa) => Exec(s, a => { a.mov(rax, pa); a.mov(__qword_ptr[Slot], rax); a.vmptrld(__qword_ptr[Slot]); });

    private static (ulong Flags, ulong Value) ReadField(Sys s, uint encoding) =>
        (Exec(s, a => { a.mov(ecx, encoding); a.vmread(rax, rcx); a.mov(__qword_ptr[Out], rax); }), s.R64(Out));

    private static ulong WriteField(Sys s, uint encoding, ulong value) =>
        Exec(s, a => { a.mov(ecx, encoding); a.mov(rax, value); a.vmwrite(rcx, rax); });

    [Fact]
    public void VmptrldMakesTheVmcsCurrentAndVmptrstStoresItsAddress()
    {
        var s = InRoot();
        Assert.Equal(0UL, Ptrld(s, VmcsA));
        Assert.Equal(VmcsA, s.Cpu.CurrentVmcsPointer);
        Assert.Equal(0UL, Exec(s, a => a.vmptrst(__qword_ptr[Out])));
        Assert.Equal(VmcsA, s.R64(Out));
    }

    [Fact]
    public void VmptrldFailuresReportInThePreviousCurrentVmcs()
    {
        var s = InRoot();
        s.W32(VmcsB, 0x1234);
        Assert.Equal((ulong)RFlags.CF, Ptrld(s, VmcsB));                    // no current VMCS: VMfailInvalid
        Assert.Equal(0UL, Ptrld(s, VmcsA));
        Assert.Equal((ulong)RFlags.ZF, Ptrld(s, VmcsB));                    // VMfailValid(11)
        Assert.Equal(11UL, ReadField(s, VmcsField.VmInstructionError.Encoding).Value);
        Assert.Equal((ulong)RFlags.ZF, Ptrld(s, Vmxon));                    // VMfailValid(10)
        Assert.Equal(10UL, ReadField(s, VmcsField.VmInstructionError.Encoding).Value);
        Assert.Equal((ulong)RFlags.ZF, Ptrld(s, VmcsA + 8));                // VMfailValid(9)
        Assert.Equal(9UL, ReadField(s, VmcsField.VmInstructionError.Encoding).Value);
        Assert.Equal(VmcsA, s.Cpu.CurrentVmcsPointer);
    }

    [Fact]
    public void VmreadWithoutACurrentVmcsIsVmFailInvalid()
    {
        var s = InRoot();
        Assert.Equal((ulong)RFlags.CF, ReadField(s, VmcsField.GuestRip.Encoding).Flags);
    }

    [Theory]
    [InlineData(0x0000_8000u)]   // reserved bit 15
    [InlineData(0x0000_4001u)]   // high access to a 32-bit field
    [InlineData(0x0000_6FFEu)]   // no such field
    public void UnsupportedComponentsAreVmFail12(uint encoding)
    {
        var s = InRoot();
        Ptrld(s, VmcsA);
        Assert.Equal((ulong)RFlags.ZF, ReadField(s, encoding).Flags);
        Assert.Equal(12UL, ReadField(s, VmcsField.VmInstructionError.Encoding).Value);
        Assert.Equal((ulong)RFlags.ZF, WriteField(s, encoding, 1));
    }

    [Fact]
    public void HighAccessReachesBitsSixtyThreeToThirtyTwo()
    {
        var s = InRoot();
        Ptrld(s, VmcsA);
        uint tscOffset = VmcsField.TscOffset.Encoding;
        Assert.Equal(0UL, WriteField(s, tscOffset, 0x1122_3344_5566_7788));
        Assert.Equal(0x1122_3344UL, ReadField(s, tscOffset + 1).Value);
        Assert.Equal(0UL, WriteField(s, tscOffset + 1, 0xAABB_CCDD));
        Assert.Equal(0xAABB_CCDD_5566_7788UL, ReadField(s, tscOffset).Value);
    }

    [Fact]
    public void VmclearWritesTheVmcsBackAndVmptrldReadsItAgain()
    {
        var s = InRoot();
        Ptrld(s, VmcsA);
        WriteField(s, VmcsField.GuestRip.Encoding, 0xFFFF_8000_1234_5678);
        Assert.Equal(0UL, Exec(s, a => { a.mov(rax, VmcsA); a.mov(__qword_ptr[Slot], rax); a.vmclear(__qword_ptr[Slot]); }));
        Assert.Equal(ulong.MaxValue, s.Cpu.CurrentVmcsPointer);
        Assert.Equal(Revision, s.R32(VmcsA)); // the revision identifier is software's, untouched

        Ptrld(s, VmcsA);
        Assert.Equal(0xFFFF_8000_1234_5678UL, ReadField(s, VmcsField.GuestRip.Encoding).Value);
        Assert.False(s.Cpu.CurrentVmcs!.Launched);
    }

    [Fact]
    public void VmclearOfTheVmxonRegionIsVmFail3()
    {
        var s = InRoot();
        Ptrld(s, VmcsA);
        Assert.Equal((ulong)RFlags.ZF, Exec(s, a => { a.mov(rax, Vmxon); a.mov(__qword_ptr[Slot], rax); a.vmclear(__qword_ptr[Slot]); }));
        Assert.Equal(3UL, ReadField(s, VmcsField.VmInstructionError.Encoding).Value);
    }

    [Fact]
    public void VmxonInRootWithACurrentVmcsIsVmFailValid15()
    {
        var s = InRoot();
        Ptrld(s, VmcsA);
        Assert.Equal((ulong)RFlags.ZF, Exec(s, a => { a.mov(rax, Vmxon); a.mov(__qword_ptr[Slot], rax); a.vmxon(__qword_ptr[Slot]); }));
        Assert.Equal(15UL, ReadField(s, VmcsField.VmInstructionError.Encoding).Value);
    }

    [Fact]
    public void VmcsInstructionsAtCpl3AreGp0AndOutsideVmxOperationUd()
    {
        var s = new Sys();
        s.EnterLong(0);
        s.Cpu.Cr4Value |= Cr4.VMXE;
        s.Load(a => a.vmptrst(__qword_ptr[Out]));
        s.Cpu.Rip = Sys.Code;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        Assert.Equal(ExceptionVector.UD, s.Run(10).Fault?.Vector);
    }

    /// <summary>VMWRITE then VMREAD gives the value truncated to the field's width, for every supported field and random 64-bit values.</summary>
    [Fact]
    public void VmwriteVmreadRoundTripOverEverySupportedField()
    {
        var s = InRoot();
        Ptrld(s, VmcsA);
        var caps = new VmxCapabilities();
        var fields = VmcsField.AllFields.Where(f => caps.Supports(f)).ToArray();
        Assert.True(fields.Length > 100);
        var gen =
            from i in Gen.Choose(0, fields.Length - 1)
            from hi in Gen.Choose(int.MinValue, int.MaxValue)
            from lo in Gen.Choose(int.MinValue, int.MaxValue)
            select (Index: i, Value: ((ulong)(uint)hi << 32) | (uint)lo);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var f = fields[t.Index];
            ulong value = t.Value;
            ulong flags = WriteField(s, f.Encoding, value);
            var (rflags, read) = ReadField(s, f.Encoding);
            return flags == 0 && rflags == 0 && read == (value & f.ValueMask);
        }).QuickCheckThrowOnFailure();
    }
}

public class VmxSnapshotTests
{
    [Fact]
    public void ASnapshotKeepsVmxOperationAndTheActiveVmcs()
    {
        var s = new Sys();
        s.EnterLong(0);
        s.Cpu.FeatureControl = 5;
        s.Cpu.Cr4Value |= Cr4.VMXE;
        uint rev = new VmxCapabilities().RevisionId;
        s.W32(0x2_0000, rev);
        s.W32(0x2_1000, rev);
        s.W64(Sys.Scratch, 0x2_0000);
        s.W64(Sys.Scratch + 8, 0x2_1000);
        s.Load(a =>
        {
            a.vmxon(__qword_ptr[Sys.Scratch]);
            a.vmptrld(__qword_ptr[Sys.Scratch + 8]);
            a.mov(ecx, VmcsField.GuestRip.Encoding);
            a.mov(eax, 0x1234);
            a.vmwrite(rcx, rax);
            a.ud2();
        });
        s.Cpu.Rip = Sys.Code;
        s.Cpu.InterceptedExceptions = 0xFFFF_FFFF;
        s.Run(100);
        var snap = s.M.Snapshot();
        s.Cpu.CurrentVmcs!.Write(VmcsField.GuestRip, 0x9999);
        s.Cpu.Reset();
        Assert.False(s.Cpu.InVmxOperation);

        s.M.Restore(snap);
        Assert.True(s.Cpu.InVmxOperation);
        Assert.Equal(0x2_1000UL, s.Cpu.CurrentVmcsPointer);
        Assert.Equal(0x1234UL, s.Cpu.CurrentVmcs!.Read(VmcsField.GuestRip));
    }
}
