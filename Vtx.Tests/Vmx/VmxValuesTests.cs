using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// The typed VMX values (<see cref="GuestActivity"/>, <see cref="Interruptibility"/>, <see cref="InterruptionInfo"/>
/// and the exit-qualification types) against the bit layouts of SDM Vol. 3C, Tables 24-3, 24-13, 24-15,
/// 27-3, 27-4, 27-5 and 27-7 written out here, and against exits the processor produces.
/// </summary>
public class VmxValuesTests
{
    private static readonly Gen<uint> AnyUInt = VmxConformance.AnyUInt;

    [Fact]
    public void EnumValuesAreTheSdmEncodings()
    {
        Assert.Equal([0u, 1u, 2u, 3u], new[] { GuestActivity.Active, GuestActivity.Hlt, GuestActivity.Shutdown, GuestActivity.WaitForSipi }.Select(a => (uint)a));
        Assert.Equal([1u, 2u, 4u, 8u, 16u], new[] { Interruptibility.BlockingBySti, Interruptibility.BlockingByMovSs, Interruptibility.BlockingBySmi, Interruptibility.BlockingByNmi, Interruptibility.EnclaveInterruption }.Select(a => (uint)a));
        Assert.Equal([0, 1, 2, 3], new[] { ControlRegisterAccessType.MovToCr, ControlRegisterAccessType.MovFromCr, ControlRegisterAccessType.Clts, ControlRegisterAccessType.Lmsw }.Select(a => (int)a));
    }

    [Property(MaxTest = 300)]
    public Property InterruptionInfoDecodesTheTable24_13Layout() => Prop.ForAll(AnyUInt.ToArbitrary(), v =>
    {
        var i = new InterruptionInfo(v);
        return i.Vector == (v & 0xFF) && i.Type == (int)((v >> 8) & 7) && (int)i.Kind == i.Type
            && i.DeliverErrorCode == ((v & (1u << 11)) != 0) && i.NmiUnblockingDueToIret == ((v & (1u << 12)) != 0)
            && i.Valid == ((v & (1u << 31)) != 0) && i.EntryReservedBits == (v & 0x7FFF_F000);
    });

    [Property(MaxTest = 200)]
    public Property InterruptionInfoCreateIsValidTypeVectorAndErrorBit() => Prop.ForAll(
        Gen.Elements(Enum.GetValues<EventKind>()).ToArbitrary(), Gen.Choose(0, 255).ToArbitrary(), Gen.Elements(false, true).ToArbitrary(), (kind, vector, err) =>
        {
            var i = InterruptionInfo.Create(kind, (byte)vector, err);
            uint expected = 0x8000_0000u | (uint)kind << 8 | (uint)vector | (err ? 0x800u : 0);
            return i.Value == expected && i.Kind == kind && i.Vector == vector;
        });

    [Fact]
    public void OtherEventIsType7Vector0() => Assert.Equal(0x8000_0700u, InterruptionInfo.OtherEvent.Value);

    [Property(MaxTest = 200)]
    public Property ControlRegisterQualificationIsTable27_3() => Prop.ForAll(
        Gen.Choose(0, 15).ToArbitrary(), Gen.Choose(0, 0x7F).ToArbitrary(), Gen.Choose(0, 0xFFFF).ToArbitrary(),
        (cr, packed, data) =>
        {
            int access = packed & 3, reg = (packed >> 2) & 15;
            bool mem = (packed & 0x40) != 0;
            var q = ControlRegisterAccessQualification.Create(cr, (ControlRegisterAccessType)access, reg, mem, (ushort)data);
            ulong expected = (ulong)(uint)cr | (ulong)(uint)access << 4 | (mem ? 1UL << 6 : 0) | (ulong)(uint)reg << 8 | (ulong)(uint)data << 16;
            return q.Value == expected && q.ControlRegister == cr && (int)q.Access == access && q.Register == reg && q.LmswMemoryOperand == mem && q.LmswSourceData == data;
        });

    [Property(MaxTest = 200)]
    public Property DebugRegisterQualificationIsTable27_4() => Prop.ForAll(
        Gen.Choose(0, 7).ToArbitrary(), Gen.Elements(false, true).ToArbitrary(), Gen.Choose(0, 15).ToArbitrary(), (dr, from, reg) =>
        {
            var q = DebugRegisterAccessQualification.Create(dr, from, reg);
            return q.Value == ((ulong)(uint)dr | (from ? 0x10UL : 0) | (ulong)(uint)reg << 8) && q.DebugRegister == dr && q.FromDebugRegister == from && q.Register == reg;
        });

    [Property(MaxTest = 200)]
    public Property IoQualificationIsTable27_5() => Prop.ForAll(
        Gen.Elements(1, 2, 4).ToArbitrary(), Gen.Choose(0, 15).ToArbitrary(), Gen.Choose(0, 0xFFFF).ToArbitrary(), (size, flags, port) =>
        {
            bool input = (flags & 1) != 0, str = (flags & 2) != 0, rep = (flags & 4) != 0, imm = (flags & 8) != 0;
            var q = IoQualification.Create(size, input, str, rep, imm, (ushort)port);
            ulong expected = (ulong)(uint)(size - 1) | (input ? 8UL : 0) | (str ? 0x10UL : 0) | (rep ? 0x20UL : 0) | (imm ? 0x40UL : 0) | (ulong)(uint)port << 16;
            return q.Value == expected && q.Size == size && q.In == input && q.String == str && q.Rep == rep && q.ImmediatePort == imm && q.Port == port;
        });

    [Property(MaxTest = 200)]
    public Property EptViolationQualificationDecodesTable27_7() => Prop.ForAll(VmxConformance.AnyULong.ToArbitrary(), v =>
    {
        var q = new EptViolationQualification(v);
        bool B(int n) => ((v >> n) & 1) != 0;
        return q.Read == B(0) && q.Write == B(1) && q.Fetch == B(2) && q.Readable == B(3) && q.Writable == B(4) && q.Executable == B(5)
            && q.UserExecutable == B(6) && q.GuestLinearAddressValid == B(7) && q.TranslatedAccess == B(8) && q.NmiUnblockingDueToIret == B(12);
    });

    [Fact]
    public void AnIoExitDecodesThroughTheType()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(dx, 0x3F8); a.@out(dx, ax); a.hlt(); });
        g.Controls(proc: PrimaryProcessorBasedControls.UnconditionalIoExiting);
        g.Launch();
        Assert.Equal(VmxExitReason.IoInstruction, g.ExitReason);
        var q = new IoQualification(g.R(VmcsField.ExitQualification));
        Assert.Equal((2, false, false, false, (ushort)0x3F8), (q.Size, q.In, q.String, q.ImmediatePort, q.Port));
    }

    [Fact]
    public void ACr3LoadExitDecodesThroughTheType()
    {
        var g = new VmxGuest();
        g.Guest(a => { a.mov(r9, cr3); a.mov(cr3, r9); a.hlt(); });
        g.Controls(proc: PrimaryProcessorBasedControls.Cr3LoadExiting);
        g.Launch();
        Assert.Equal(VmxExitReason.ControlRegisterAccess, g.ExitReason);
        var q = new ControlRegisterAccessQualification(g.R(VmcsField.ExitQualification));
        Assert.Equal((3, ControlRegisterAccessType.MovToCr, 9), (q.ControlRegister, q.Access, q.Register));
    }

    [Fact]
    public void AnInjectedEventIsDescribedByTheType()
    {
        var info = InterruptionInfo.Create(EventKind.HardwareException, 13, deliverErrorCode: true);
        Assert.Equal("HardwareException vector 13 +error code", info.ToString());
        Assert.Equal("none", new InterruptionInfo(0x30D).ToString());
        Assert.Equal("type 7 vector 0", InterruptionInfo.OtherEvent.ToString());
    }
}
