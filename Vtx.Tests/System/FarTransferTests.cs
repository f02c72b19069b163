using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Far JMP/CALL/RET through code segments and call gates (SDM Vol. 3A, 5.8; Vol. 2A/2B JMP, CALL,
/// RET) and segment-register loads (SDM Vol. 3A, 5.5-5.7; Vol. 2B MOV, POP): privilege checks,
/// selector error codes, the call-gate stack switch with parameter copying, null selectors.
/// </summary>
public class FarTransferTests
{
    private const uint F = (uint)Sys.Scratch;

    [Fact]
    public void FarJumpLoadsCsFromDescriptorAndSetsAccessed()
    {
        var s = new Sys();
        s.EnterProtected();
        s.SetGdt(Sys.Spare, Desc.Seg(0x2_0000, 0xFFFF, Desc.CodeXr, 0, db: true)); // base 0x20000, 64 KiB
        s.Load(a => { a.mov(eax, 0xAB); a.hlt(); }, 0x2_0010, 32);
        s.Load(a => a.jmp(Sys.Spare, 0x10), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(0UL, s.GdtEntry(Sys.Spare) & (1UL << 40));
        s.RunToHalt();
        Assert.Equal(0xABUL, s.Cpu[Gpr.Rax]);
        Assert.Equal(Sys.Spare, s.Cpu.GetSelector(SegmentRegister.Cs));
        Assert.Equal(0x2_0000UL, s.Cpu.GetSegmentBase(SegmentRegister.Cs));
        Assert.Equal(0x16UL, s.Cpu.Rip);                        // EIP is an offset into CS
        Assert.NotEqual(0UL, s.GdtEntry(Sys.Spare) & (1UL << 40)); // accessed bit written back
    }

    [Fact]
    public void FarCallAndRetfAtTheSameLevel()
    {
        var s = new Sys();
        s.EnterProtected();
        const ulong callee = Sys.Code + 0x800;
        s.Load(a =>
        {
            SaveEsp(a);
            ProtectedDeliveryTests.SaveFrame32(a, 2, F);
            a.retf();
        }, callee, 32);
        Label after = default;
        var at = s.Load(a =>
        {
            after = a.CreateLabel();
            a.call(Sys.KCode32, (uint)callee);
            a.Label(ref after);
            a.hlt();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((uint)at(after), s.R32(F));
        Assert.Equal((uint)Sys.KCode32, s.R32(F + 4) & 0xFFFF);
        Assert.Equal((uint)Sys.KernelStack - 8, s.R32(F + 0x40));
        Assert.Equal(Sys.KernelStack, s.Cpu[Gpr.Rsp]);
    }

    private static void SaveEsp(Assembler a) => a.mov(__dword_ptr[F + 0x40], esp);

    [Theory]
    [InlineData("null", 13, 0u)]
    [InlineData("data", 13, 0x80u)]
    [InlineData("not-present", 11, 0x88u)]
    [InlineData("dpl0-from-cpl3", 13, 0x30u)]
    [InlineData("beyond-limit", 13, 0u)]
    [InlineData("beyond-gdt", 13, 0x1F0u)]
    public void FarJumpFaults(string which, int vector, uint error)
    {
        var s = new Sys();
        s.EnterProtected(cpl: which == "dpl0-from-cpl3" ? 3 : 0);
        s.SetGdt(0x80, Desc.Data32(0));
        s.SetGdt(0x88, Desc.Code32(0, present: false));
        s.SetGdt(0x90, Desc.Seg(0, 0xFFF, Desc.CodeXr, 0, db: true));
        ushort sel = which switch { "null" => 0, "data" => 0x80, "not-present" => 0x88, "dpl0-from-cpl3" => Sys.KCode32, "beyond-limit" => 0x90, _ => 0x1F0 };
        uint off = which == "beyond-limit" ? 0x1000u : 0x100u;
        s.Load(a => { a.nop(); a.jmp(sel, off); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault((ExceptionVector)vector, error, Sys.Code + 1);
        Assert.Equal(s.Cpu.Cpl == 3 ? (ushort)(Sys.UCode32 | 3) : Sys.KCode32, s.Cpu.GetSelector(SegmentRegister.Cs));
    }

    [Fact]
    public void ConformingCodeSegmentKeepsCpl()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.SetGdt(Sys.Spare, Desc.Code32(0, type: Desc.CodeConformingXr));
        const ulong target = Sys.Code + 0x800;
        s.Load(a => a.nop(), target, 32);
        s.Load(a => a.jmp(Sys.Spare, (uint)target), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(target).Reason);
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal((ushort)(Sys.Spare | 3), s.Cpu.GetSelector(SegmentRegister.Cs)); // RPL = CPL
    }

    [Fact]
    public void CallGateFromRing3ToRing0SwitchesStackCopiesParametersAndRetfReturns()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        const ulong kernel = Sys.Code + 0x800;
        s.SetGdt(Sys.Spare, Desc.CallGate(Sys.KCode32, kernel, dpl: 3, paramCount: 2));
        s.Load(a =>
        {
            ProtectedDeliveryTests.SaveFrame32(a, 6, F);
            SaveEsp(a);
            a.mov(__word_ptr[F + 0x44], ss);
            a.mov(__word_ptr[F + 0x46], cs);
            a.retf((ushort)8);
        }, kernel, 32);
        Label after = default;
        var at = s.Load(a =>
        {
            after = a.CreateLabel();
            a.push(0x2222);          // parameter 1 (deeper)
            a.push(0x1111);          // parameter 2 (top of stack)
            a.call((ushort)(Sys.Spare | 3), 0xDEAD);   // the offset is ignored for a gate
            a.Label(ref after);
            a.mov(ebx, esp);
            a.@int(0x81);
        }, bitness: 32);
        s.Gate32(0x81, kernel + 0x100, dpl: 3);
        s.W8(kernel + 0x100, 0xF4);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(after)).Reason);

        // Ring-0 stack from TSS.SS0:ESP0: EIP, CS, the two parameters in the caller's order, ESP, SS.
        Assert.Equal((uint)at(after), s.R32(F));
        Assert.Equal((uint)(Sys.UCode32 | 3), s.R32(F + 4) & 0xFFFF);
        Assert.Equal(0x1111u, s.R32(F + 8));
        Assert.Equal(0x2222u, s.R32(F + 12));
        Assert.Equal((uint)Sys.UserStack - 8, s.R32(F + 16));
        Assert.Equal((uint)(Sys.UData | 3), s.R32(F + 20) & 0xFFFF);
        Assert.Equal((uint)Sys.KernelStack - 24, s.R32(F + 0x40));
        Assert.Equal(Sys.KData, s.R16(F + 0x44));
        Assert.Equal(Sys.KCode32, s.R16(F + 0x46));
        // RETF 8 released the parameters on both stacks and returned to CPL 3.
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rsp]);
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        s.RunToHalt();
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rbx]);
    }

    [Theory]
    [InlineData("gate-dpl", 13, 0x80u)]
    [InlineData("gate-not-present", 11, 0x80u)]
    [InlineData("target-not-code", 13, 0x10u)]
    public void CallGateFaults(string which, int vector, uint error)
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.SetGdt(0x80, Desc.CallGate(which == "target-not-code" ? Sys.KData : Sys.KCode32, Sys.Code + 0x800,
            dpl: which == "gate-dpl" ? 0 : 3, present: which != "gate-not-present"));
        s.Load(a => a.call((ushort)0x83, 0), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault((ExceptionVector)vector, error, Sys.Code);
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void JumpThroughCallGateToMorePrivilegedCodeIsGp()
    {
        // JMP through a call gate only reaches non-conforming code at the same privilege (SDM Vol. 3A, 5.8.4).
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.SetGdt(0x80, Desc.CallGate(Sys.KCode32, Sys.Code + 0x800, dpl: 3));
        s.Load(a => a.jmp((ushort)0x83, 0), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, Sys.KCode32, Sys.Code);
    }

    [Fact]
    public void LongModeCallGateToRing0AndRetfqBack()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        const ulong kernel = Sys.Code + 0x800;
        s.SetGdt16(Sys.Spare, Desc.CallGate(Sys.KCode64, kernel, dpl: 3), Desc.CallGateHigh(kernel));
        s.Load(a =>
        {
            LongDeliveryTests.SaveFrame64(a, 4);
            a.db(0x48, 0xCB); // RETFQ
        }, kernel, 64);
        s.W64(Sys.Scratch + 0x100, 0 | ((ulong)(Sys.Spare | 3) << 32)); // m16:32 far pointer
        s.M.WriteMemory(Sys.Code, new byte[] { 0x48, 0x83, 0xEC, 0x08 });   // sub rsp, 8 (RSP = UserStack - 8)
        s.M.WriteMemory(Sys.Code + 4, new byte[] { 0xFF, 0x1C, 0x25, 0x00, 0x81, 0x00, 0x00 }); // call far [0x8100]
        s.M.WriteMemory(Sys.Code + 11, new byte[] { 0x90, 0x90 });
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(Sys.Code + 11).Reason);
        Assert.Equal(Sys.Code + 11, s.R64(F));
        Assert.Equal((ulong)(Sys.UCode64 | 3), s.R64(F + 8));
        Assert.Equal(Sys.UserStack - 8, s.R64(F + 16));
        Assert.Equal((ulong)(Sys.UData | 3), s.R64(F + 24));
        Assert.Equal(Sys.KernelStack - 32, s.R64(F + 0x60));
        Assert.Equal(0, s.R16(F + 0x68));                 // SS = null selector at CPL 0
        Assert.Equal(Sys.KCode64, s.R16(F + 0x6A));
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(Sys.UserStack - 8, s.Cpu[Gpr.Rsp]);
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal(OperatingMode.Long64, s.Cpu.Mode);
    }

    [Fact]
    public void NullSelectorsInDataRegistersAndSs()
    {
        // Protected mode: a null selector may be loaded into DS..GS, not into SS (#GP(0)).
        var s = new Sys();
        s.EnterProtected();
        Label bad = default;
        var at = s.Load(a => { bad = a.CreateLabel(); a.xor(eax, eax); a.mov(ds, ax); a.mov(es, ax); a.Label(ref bad); a.mov(ss, ax); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0, at(bad));
        Assert.True(s.Cpu.GetSegment(SegmentRegister.Ds).IsUnusable);
        Assert.True(s.Cpu.GetSegment(SegmentRegister.Es).IsUnusable);
        Assert.Equal(Sys.KData, s.Cpu.GetSelector(SegmentRegister.Ss));

        // 64-bit mode at CPL 0: a null SS with RPL = CPL is allowed; at CPL 3 it is #GP(0).
        var l = new Sys();
        l.EnterLong();
        l.Load(a => { a.xor(eax, eax); a.mov(ss, ax); a.hlt(); });
        l.Cpu.Rip = Sys.Code;
        l.RunToHalt();
        Assert.Equal(0, l.Cpu.GetSelector(SegmentRegister.Ss));
        var u = new Sys();
        u.EnterLong(cpl: 3);
        u.Load(a => { a.mov(eax, 3); a.mov(ss, ax); });
        u.Cpu.Rip = Sys.Code;
        u.ExpectFault(ExceptionVector.GP, 0, Sys.Code + 5);
    }

    [Theory]
    [InlineData(0, "ds", 0x80, 13, 0x80u)]   // execute-only code: not readable
    [InlineData(0, "ds", 0x88, 11, 0x88u)]   // not present
    [InlineData(0, "ss", 0x88, 12, 0x88u)]   // not-present stack: #SS(selector)
    [InlineData(0, "ss", 0x90, 13, 0x90u)]   // read-only data in SS
    [InlineData(0, "ss", 0x23, 13, 0x20u)]   // SS RPL/DPL != CPL
    [InlineData(3, "ds", 0x10, 13, 0x10u)]   // DPL 0 data at CPL 3
    [InlineData(0, "ds", 0x9B, 13, 0x98u)]   // RPL 3 > DPL 2... (DPL 2 data at 0x98)
    [InlineData(0, "ds", 0x0C, 13, 0x0Cu)]   // LDT selector with a null LDTR
    [InlineData(0, "ds", 0x70, 13, 0x70u)]   // system descriptor (TSS)
    public void SegmentLoadFaultsWithSelectorErrorCodes(int cpl, string reg, int sel, int vector, uint error)
    {
        var s = new Sys();
        s.EnterProtected(cpl);
        s.SetGdt(0x80, Desc.Code32(0, type: Desc.CodeX));
        s.SetGdt(0x88, Desc.Data32(0, present: false));
        s.SetGdt(0x90, Desc.Data32(0, type: 0)); // read-only
        s.SetGdt(0x98, Desc.Data32(2));
        s.Load(a => { a.mov(eax, sel); if (reg == "ss") a.mov(ss, ax); else a.mov(ds, ax); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault((ExceptionVector)vector, error, Sys.Code + 5);
    }

    [Fact]
    public void ReadableConformingCodeMayBeLoadedIntoDsAtAnyCpl()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.SetGdt(Sys.Spare, Desc.Code32(0, type: Desc.CodeConformingXr));
        s.Load(a => { a.mov(eax, (uint)(Sys.Spare | 3)); a.mov(ds, ax); a.mov(ebx, __dword_ptr[Sys.Code]); a.@int(0x81); }, bitness: 32);
        s.Gate32(0x81, Sys.Code + 0x100, dpl: 3);
        s.W8(Sys.Code + 0x100, 0xF4);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(s.R32(Sys.Code), (uint)s.Cpu[Gpr.Rbx]);
    }

    [Fact]
    public void RetfToOuterLevelNullsDataSegmentsAndChecksSs()
    {
        var s = new Sys();
        s.EnterProtected();
        const ulong user = Sys.Code + 0x800;
        s.Load(a => a.nop(), user, 32);
        s.Load(a =>
        {
            a.push((uint)(Sys.UData | 3));
            a.push((uint)Sys.UserStack);
            a.push((uint)(Sys.UCode32 | 3));
            a.push((uint)user);
            a.retf();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(user).Reason);
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal(Sys.UserStack, s.Cpu[Gpr.Rsp]);
        Assert.True(s.Cpu.GetSegment(SegmentRegister.Ds).IsUnusable);
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));

        // The same return with a ring-0 SS is #GP(SS selector), nothing committed.
        var t = new Sys();
        t.EnterProtected();
        t.Load(a =>
        {
            a.push((uint)Sys.KData);
            a.push((uint)Sys.UserStack);
            a.push((uint)(Sys.UCode32 | 3));
            a.push((uint)user);
            a.retf();
        }, bitness: 32);
        t.Cpu.Rip = Sys.Code;
        t.ExpectFault(ExceptionVector.GP, Sys.KData);
        Assert.Equal(0, t.Cpu.Cpl);
        Assert.Equal(Sys.KCode32, t.Cpu.GetSelector(SegmentRegister.Cs));
        Assert.Equal(Sys.KernelStack - 16, t.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void RetfToMorePrivilegedLevelIsGp()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.Load(a => { a.push((uint)Sys.KCode32); a.push(0x100); a.retf(); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, Sys.KCode32);
        Assert.Equal(3, s.Cpu.Cpl);
    }
    [Fact]
    public void CallGateAtTheSamePrivilegePushesCsEipOnTheCurrentStack()
    {
        var s = new Sys();
        s.EnterProtected();
        const ulong target = Sys.Code + 0x800;
        s.SetGdt(Sys.Spare, Desc.CallGate(Sys.KCode32, target, dpl: 0, paramCount: 3)); // no copy without a stack switch
        s.Load(a => { ProtectedDeliveryTests.SaveFrame32(a, 2, F); SaveEsp(a); a.retf(); }, target, 32);
        Label after = default;
        var at = s.Load(a => { after = a.CreateLabel(); a.call(Sys.Spare, 0); a.Label(ref after); a.hlt(); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((uint)at(after), s.R32(F));
        Assert.Equal((uint)Sys.KCode32, s.R32(F + 4) & 0xFFFF);
        Assert.Equal((uint)Sys.KernelStack - 8, s.R32(F + 0x40));
        Assert.Equal(Sys.KernelStack, s.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void RealModeFarCallAndRetf()
    {
        var s = new Sys();
        s.EnterReal();
        s.Load(a => { a.mov(bx, sp); a.retf(); }, 0x3010, 16);
        s.Load(a => { a.call(0x0300, 0x10); a.mov(cx, 0x99); a.hlt(); }, 0x1000, 16);
        s.RunToHalt();
        Assert.Equal(0x7C00UL - 4, s.Cpu[Gpr.Rbx] & 0xFFFF);
        Assert.Equal(0x1005, s.R16(0x7C00 - 4));   // IP after the 5-byte CALL
        Assert.Equal(0, s.R16(0x7C00 - 2));        // CS
        Assert.Equal(0x99UL, s.Cpu[Gpr.Rcx] & 0xFFFF);
        Assert.Equal(0x7C00UL, s.Cpu[Gpr.Rsp] & 0xFFFF);
    }
}
