using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// #DF and triple faults (SDM Vol. 3A, 6.15 "Interrupt 8", Table 6-5): a contributory exception while
/// delivering a contributory exception becomes #DF with error code 0; a fault while delivering #DF
/// shuts the processor down. Garbage descriptor-table registers end in architectural faults or
/// shutdown, never a host exception or a hang.
/// </summary>
public class DoubleFaultTests
{
    private const uint F = (uint)Sys.Scratch;

    [Fact]
    public void GpWithNotPresentHandlerBecomesDoubleFaultWithErrorCode0()
    {
        var s = new Sys();
        s.EnterProtected();
        Label df = default;
        var at = s.Load(a =>
        {
            df = a.CreateLabel();
            a.mov(ecx, 0x1F8);
            a.mov(ds, cx);          // #GP(0x1F8): beyond the GDT limit
            a.hlt();
            a.Label(ref df);
            ProtectedDeliveryTests.SaveFrame32(a, 1, F);
            a.mov(__dword_ptr[F + 4], esp);
            a.hlt();
        }, bitness: 32);
        s.Gate32(13, at(df), present: false);
        s.Gate32(8, at(df));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0u, s.R32(F));                          // #DF error code is 0
        Assert.Equal((uint)Sys.KernelStack - 16, s.R32(F + 4)); // EIP, CS, EFLAGS + error code
        Assert.Equal(new[] { (8, (uint?)0) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
        Assert.False(s.Cpu.IsShutdown);
    }

    [Fact]
    public void FaultWhileDeliveringDoubleFaultShutsDown()
    {
        var s = new Sys();
        s.EnterProtected();
        s.Load(a => { a.mov(ecx, 0x1F8); a.mov(ds, cx); a.hlt(); }, bitness: 32);
        s.Gate32(13, 0x5000, present: false);
        s.Gate32(8, 0x5000, present: false);
        s.Cpu.Rip = Sys.Code;
        var r = s.Run(1000);
        Assert.Equal(StopReason.Shutdown, r.Reason);
        Assert.True(s.Cpu.IsShutdown);
        Assert.Empty(s.Events);
        // Shutdown persists: running again does not execute anything.
        var again = s.Run(1000);
        Assert.Equal(StopReason.Shutdown, again.Reason);
        Assert.Equal(0UL, again.Instructions);
        // RESET leaves the shutdown state.
        s.Cpu.Reset();
        Assert.False(s.Cpu.IsShutdown);
        Assert.Equal(OperatingMode.Real, s.Cpu.Mode);
    }

    [Fact]
    public void LongModeDoubleFaultOnIstStack()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        Label df = default;
        var at = s.Load(a =>
        {
            df = a.CreateLabel();
            a.mov(rax, cr0);   // #GP(0) at CPL 3
            a.Label(ref df);
            LongDeliveryTests.SaveFrame64(a, 1);
            a.hlt();
        });
        s.Gate64(13, at(df), present: false);
        s.Gate64(8, at(df), ist: 1);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0UL, s.R64(F));
        Assert.Equal(Sys.IstStack1 - 48, s.R64(F + 0x60));
        Assert.Equal(new[] { (8, (uint?)0) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
    }

    [Fact]
    public void BenignThenContributoryIsHandledSerially()
    {
        // #UD (benign) whose gate is not present: #NP(6*8+2+1) is delivered, not #DF (Table 6-5).
        var s = new Sys();
        s.EnterProtected();
        Label h = default;
        var at = s.Load(a =>
        {
            h = a.CreateLabel();
            a.ud2();
            a.Label(ref h);
            ProtectedDeliveryTests.SaveFrame32(a, 2, F);
            a.hlt();
        }, bitness: 32);
        s.Gate32(6, at(h), present: false);
        s.Gate32(11, at(h));
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(6u * 8 + 2 + 1, s.R32(F));
        Assert.Equal((uint)Sys.Code, s.R32(F + 4));
        Assert.Equal(new[] { (11, (uint?)(6 * 8 + 3)) }, s.Events.Select(e => ((int)e.Vector, e.Error)));
    }

    [Fact]
    public void StackFaultDuringDeliveryToBadTssStackIsTsThenDoubleFault()
    {
        // #GP at CPL 3; TSS.SS0 is null: #TS(EXT) while delivering #GP (contributory + contributory) = #DF.
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        Label df = default;
        var at = s.Load(a =>
        {
            df = a.CreateLabel();
            a.cli();
            a.Label(ref df);
            a.hlt();
        }, bitness: 32);
        s.W16(Sys.TssBase + 8, 0);      // SS0 = null
        s.Gate32(13, at(df));
        s.Gate32(8, at(df));
        s.Cpu.Rip = Sys.Code;
        // #DF also switches to ring 0, through the same broken TSS: shutdown.
        Assert.Equal(StopReason.Shutdown, s.Run(100).Reason);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(64)]
    public void ZeroLimitIdtEndsInShutdown(int bits)
    {
        var s = new Sys();
        if (bits == 16) s.EnterReal();
        else if (bits == 32) s.EnterProtected();
        else s.EnterLong();
        s.Load(a => { a.ud2(); }, bits == 16 ? 0x1000UL : Sys.Code, bits);
        if (bits != 16) s.Cpu.Rip = Sys.Code;
        s.Cpu.Idtr = new DescriptorTableRegister(0, 0);
        var r = s.Run(1000);
        Assert.Equal(StopReason.Shutdown, r.Reason);
        Assert.True(s.Cpu.IsShutdown);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void IdtOutsideRamEndsInShutdown(int bits)
    {
        // Reads outside RAM return all ones: no valid gate, #GP, #DF, shutdown.
        var s = new Sys();
        if (bits == 32) s.EnterProtected();
        else s.EnterLong();
        s.Load(a => { a.ud2(); }, Sys.Code, bits);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Idtr = new DescriptorTableRegister(0xFFF0_0000, 0xFFFF);
        Assert.Equal(StopReason.Shutdown, s.Run(1000).Reason);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void ZeroLimitGdtMakesEveryGateTargetFaultAndShutsDown(int bits)
    {
        var s = new Sys();
        if (bits == 32) s.EnterProtected();
        else s.EnterLong();
        Label h = default;
        var at = s.Load(a => { h = a.CreateLabel(); a.@int(0x40); a.Label(ref h); a.hlt(); }, Sys.Code, bits);
        if (bits == 32) { s.Gate32(0x40, at(h)); s.Gate32(13, at(h)); s.Gate32(8, at(h)); }
        else { s.Gate64(0x40, at(h)); s.Gate64(13, at(h)); s.Gate64(8, at(h)); }
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Gdtr = new DescriptorTableRegister(0, 0);
        Assert.Equal(StopReason.Shutdown, s.Run(1000).Reason);
    }

    [Fact]
    public void RealModeIntPastIvtLimitShutsDown()
    {
        var s = new Sys();
        s.EnterReal();
        s.Load(a => { a.@int(0x21); }, 0x1000, 16);
        s.Cpu.Idtr = new DescriptorTableRegister(0, 0x0F); // vectors 0-3 only: #GP and #DF are beyond it too
        Assert.Equal(StopReason.Shutdown, s.Run(100).Reason);
    }

    /// <summary>
    /// Property: whatever IDTR and GDTR hold, a faulting program in any mode ends in a defined
    /// stop (an architectural stop reason) within the instruction limit — never a host exception.
    /// </summary>
    [Fact]
    public void GarbageTablesNeverThrowOrHang()
    {
        var gen =
            from mode in Gen.Elements(16, 32, 64)
            from idtBase in Gen.Elements(0UL, 0x2000UL, 0x1F_FFF8UL, 0xFFFF_FFF0UL, 0xFFFF_FFFF_FFFF_F000UL, 0x8000_0000_0000UL)
            from idtLimit in Gen.Elements<ushort>(0, 7, 15, 0xFF, 0xFFF, 0xFFFF)
            from gdtBase in Gen.Elements(0UL, 0x800UL, 0x1F_FFFCUL, 0xFFFF_FFF8UL, 0x8000_0000_0000UL)
            from gdtLimit in Gen.Elements<ushort>(0, 7, 0xFF, 0xFFFF)
            from insn in Gen.Elements(0, 1, 2, 3, 4)
            from garbage in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 64)
            select (mode, idtBase, idtLimit, gdtBase, gdtLimit, insn, garbage);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var s = new Sys();
            if (t.mode == 16) s.EnterReal();
            else if (t.mode == 32) s.EnterProtected();
            else s.EnterLong();
            // Garbage in the GDT/IDT area the registers may point at.
            s.M.WriteMemory(0x2000, t.garbage);
            s.M.WriteMemory(0x800, t.garbage);
            ulong code = t.mode == 16 ? 0x1000UL : Sys.Code;
            byte[] insn = t.insn switch
            {
                0 => new byte[] { 0x0F, 0x0B },             // ud2
                1 => new byte[] { 0xCD, 0x80 },             // int 0x80
                2 => new byte[] { 0xCC },                   // int3
                3 => new byte[] { 0x31, 0xC9, 0xF7, 0xF1 }, // xor ecx,ecx; div ecx
                _ => new byte[] { 0x8E, 0xD8 },             // mov ds, ax (ax = 0xFFFF)
            };
            s.M.WriteMemory(code, insn);
            s.Cpu[Gpr.Rax] = 0xFFFF;
            if (t.mode != 16) s.Cpu.Rip = code;
            s.Cpu.Idtr = new DescriptorTableRegister(t.idtBase, t.idtLimit);
            s.Cpu.Gdtr = new DescriptorTableRegister(t.gdtBase, t.gdtLimit);
            var r = s.Run(500);
            Assert.Contains(r.Reason, new[] { StopReason.Shutdown, StopReason.Halted, StopReason.InstructionLimit, StopReason.Exception });
            Assert.Equal(r.Reason == StopReason.Shutdown, s.Cpu.IsShutdown);
        }).QuickCheckThrowOnFailure();
    }
}
