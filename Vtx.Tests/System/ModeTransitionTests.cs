using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Mode transitions as system software performs them (SDM Vol. 3A, 9.9 "Mode switching", 9.8.5
/// "Initializing IA-32e mode"): real mode → protected mode → IA-32e (compatibility, 64-bit) and back,
/// and operand/address sizes in each mode (SDM Vol. 1, 3.6; Vol. 3A, 3.4.5 D/B and L).
/// </summary>
public class ModeTransitionTests
{
    private const ulong Real16 = 0x1000, Prot32 = 0x1400, Long64 = 0x1800, Compat32 = 0x1C00, Prot16 = 0x2400, BackReal = 0x2800;
    private const ulong GdtPtr = 0x0F00;

    private static Sys BuildRoundTrip(out Func<Label, ulong> p32, out Label pagingOn, out Func<Label, ulong> c32, out Label pagingOff)
    {
        var s = new Sys();
        s.EnterReal(ip: (ushort)Real16);
        // GDT pseudo-descriptor for LGDT.
        s.W16(GdtPtr, Sys.GdtLimit);
        s.W32(GdtPtr + 2, (uint)Sys.GdtBase);
        s.Load(a =>
        {
            a.cli();
            a.lgdt(__[GdtPtr]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.jmp(Sys.KCode32, (uint)Prot32);
        }, Real16, 16);
        Label on = default;
        p32 = s.Load(a =>
        {
            on = a.CreateLabel();
            a.mov(eax, Sys.KData);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(esp, (uint)Sys.KernelStack);
            a.mov(eax, cr4);
            a.or(eax, (uint)Cr4.PAE);
            a.mov(cr4, eax);
            a.mov(eax, (uint)Sys.Pml4);
            a.mov(cr3, eax);
            a.mov(ecx, Msr.Efer);
            a.rdmsr();
            a.or(eax, (uint)Efer.LME);
            a.wrmsr();
            a.mov(eax, cr0);
            a.or(eax, 0x8000_0000);
            a.mov(cr0, eax);          // IA-32e mode active, still 32-bit code: compatibility mode
            a.Label(ref on);
            a.jmp(Sys.KCode64, (uint)Long64);
        }, Prot32, 32);
        pagingOn = on;
        s.Load(a =>
        {
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.mov(rbx, rax);
            a.push(Sys.KCode32);
            a.push((int)Compat32);
            a.db(0x48, 0xCB);         // RETFQ: to the 32-bit code segment (compatibility mode)
        }, Long64, 64);
        Label off = default;
        c32 = s.Load(a =>
        {
            off = a.CreateLabel();
            a.mov(eax, cr0);
            a.and(eax, 0x7FFF_FFFF);
            a.mov(cr0, eax);          // leaving IA-32e mode: LMA = 0, legacy protected mode
            a.Label(ref off);
            a.mov(ecx, Msr.Efer);
            a.rdmsr();
            a.mov(esi, eax);          // EFER as software sees it
            a.jmp(Sys.KCode16, (uint)Prot16);
        }, Compat32, 32);
        pagingOff = off;
        s.Load(a =>
        {
            a.mov(ax, Sys.KData16);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(eax, cr0);
            a.and(eax, 0x7FFF_FFFE);
            a.mov(cr0, eax);          // real mode; CS still holds the 16-bit protected-mode cache
            a.jmp(0, (uint)BackReal);
        }, Prot16, 16);
        s.Load(a =>
        {
            a.xor(ax, ax);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(sp, 0x7000);
            a.push(0x1234);
            a.pop(dx);
            a.hlt();
        }, BackReal, 16);
        return s;
    }

    [Fact]
    public void RealToProtectedToLongAndBackToReal()
    {
        var s = BuildRoundTrip(out var p32, out var pagingOn, out var c32, out var pagingOff);
        var c = s.Cpu;
        Assert.Equal(OperatingMode.Real, c.Mode);
        Assert.Equal(16, c.CodeSize);

        Assert.Equal(StopReason.StopAddress, s.RunTo(Prot32).Reason);
        Assert.Equal(OperatingMode.Protected, c.Mode);
        Assert.Equal(32, c.CodeSize);
        Assert.Equal(Sys.KCode32, c.GetSelector(SegmentRegister.Cs));
        Assert.Equal(new DescriptorTableRegister(Sys.GdtBase, Sys.GdtLimit), c.Gdtr);
        Assert.Equal(0, c.Cpl);

        Assert.Equal(StopReason.StopAddress, s.RunTo(p32(pagingOn)).Reason);
        Assert.Equal(OperatingMode.Compatibility, c.Mode);
        Assert.NotEqual(0UL, c.EferValue & Efer.LMA);
        Assert.Equal(Sys.KData, c.GetSelector(SegmentRegister.Ss));
        Assert.Equal(Sys.KernelStack, c[Gpr.Rsp]);

        Assert.Equal(StopReason.StopAddress, s.RunTo(Long64).Reason);
        Assert.Equal(OperatingMode.Long64, c.Mode);
        Assert.Equal(64, c.CodeSize);

        Assert.Equal(StopReason.StopAddress, s.RunTo(Compat32).Reason);
        Assert.Equal(OperatingMode.Compatibility, c.Mode);
        Assert.Equal(0x1122_3344_5566_7788UL, c[Gpr.Rbx]); // upper halves survive the mode change
        Assert.Equal(Sys.KernelStack, c[Gpr.Rsp]);

        Assert.Equal(StopReason.StopAddress, s.RunTo(c32(pagingOff)).Reason);
        Assert.Equal(OperatingMode.Protected, c.Mode);
        Assert.Equal(0UL, c.EferValue & Efer.LMA);
        Assert.NotEqual(0UL, c.EferValue & Efer.LME);

        Assert.Equal(StopReason.StopAddress, s.RunTo(Prot16).Reason);
        Assert.Equal(OperatingMode.Protected, c.Mode);
        Assert.Equal(16, c.CodeSize);
        Assert.Equal(Efer.LME, c[Gpr.Rsi]); // RDMSR: LME, not LMA

        s.RunToHalt();
        Assert.Equal(OperatingMode.Real, c.Mode);
        Assert.Equal(0x1234UL, c[Gpr.Rdx] & 0xFFFF);
        Assert.Equal(0x7000UL, c[Gpr.Rsp] & 0xFFFF);
        Assert.Equal(0UL, c.GetSegmentBase(SegmentRegister.Cs));
    }

    [Fact]
    public void PagingWithLmeButWithoutPaeIsGp()
    {
        var s = new Sys();
        s.EnterProtected();
        s.Cpu.EferValue = Efer.LME;
        s.Load(a => { a.mov(eax, 0x8000_0011); a.mov(cr0, eax); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0, Sys.Code + 5);
        Assert.Equal(0UL, s.Cpu.EferValue & Efer.LMA);
        Assert.Equal(0UL, s.Cpu.Cr0Value & Cr0.PG);
    }

    [Fact]
    public void ClearingPagingIn64BitModeIsGp()
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a => { a.mov(rax, cr0); a.btr(eax, 31); a.mov(cr0, rax); });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(OperatingMode.Long64, s.Cpu.Mode);
    }

    [Fact]
    public void ChangingLmeWhilePagingIsOnIsGp()
    {
        var s = new Sys();
        s.EnterProtected();
        s.Cpu.Cr3Value = Sys.Pd32;
        s.Cpu.Cr4Value = Cr4.PSE;
        s.Cpu.Cr0Value |= Cr0.PG;
        s.Load(a => { a.mov(ecx, Msr.Efer); a.mov(eax, (uint)Efer.LME); a.xor(edx, edx); a.wrmsr(); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(0UL, s.Cpu.EferValue & Efer.LME);
    }

    [Fact]
    public void ClearingPaeWhileIa32eIsActiveIsGp()
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a => { a.xor(eax, eax); a.mov(cr4, rax); });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
    }

    [Fact]
    public void PagingWithoutProtectionIsGp()
    {
        var s = new Sys();
        s.EnterReal();
        s.Load(a => { a.mov(eax, 0x8000_0000); a.mov(cr0, eax); }, 0x1000, 16);
        s.ExpectFault(ExceptionVector.GP, 0, 0x1006);
    }

    [Fact]
    public void FarJumpToCodeSegmentWithLAndDIsGpInIa32eMode()
    {
        var s = new Sys();
        s.EnterLong();
        s.SetGdt(Sys.Spare, Desc.Code64(0) | (1UL << 54)); // L = 1 and D = 1: reserved
        s.W64(Sys.Scratch, 0x2000 | ((ulong)Sys.Spare << 32));
        s.Cpu.Rip = Sys.Code;
        // JMP FAR [abs32] (FF /5, m16:32).
        s.M.WriteMemory(Sys.Code, new byte[] { 0xFF, 0x2C, 0x25, 0x00, 0x80, 0, 0 });
        s.ExpectFault(ExceptionVector.GP, Sys.Spare, Sys.Code);
    }

    [Fact]
    public void RealModeUsesSegmentTimes16And16BitWrap()
    {
        var s = new Sys();
        s.EnterReal();
        s.Load(a =>
        {
            a.mov(ax, 0x0200);
            a.mov(ds, ax);                       // base 0x2000
            a.mov(__word_ptr[0x10], 0xBEEF);     // linear 0x2010
            a.mov(bx, 0xFFFF);
            a.mov(si, 2);
            a.mov(__byte_ptr[bx + si], 0x5A);    // offset wraps to 1: linear 0x2001
            a.push(ax);                          // 16-bit push
            a.push(eax);                         // operand-size prefix: 32-bit push
            a.mov(cx, sp);
            a.mov(edx, 0xFFFF_0001);
            a.hlt();
        }, 0x1000, 16);
        s.RunToHalt();
        Assert.Equal(0xBEEF, s.R16(0x2010));
        Assert.Equal(0x5A, s.M.ReadMemory(0x2001, 1)[0]);
        Assert.Equal(0x7C00UL - 6, s.Cpu[Gpr.Rcx]);
        Assert.Equal(0x0200UL, s.R32(0x7C00 - 6) & 0xFFFF); // EAX upper half is 0
        Assert.Equal(0xFFFF_0001UL, s.Cpu[Gpr.Rdx]);
    }

    [Fact]
    public void SixteenBitProtectedModeSegmentUsesItsBaseAnd16BitDefaults()
    {
        var s = new Sys();
        s.EnterProtected();
        s.SetGdt(Sys.Spare, Desc.Code16(0, @base: 0x2_0000));
        s.SetGdt(Sys.Spare + 8, Desc.Data16(0, @base: 0x3_0000));
        s.Load(a =>
        {
            a.mov(ax, Sys.Spare + 8);
            a.mov(ds, ax);
            a.mov(__dword_ptr[0x20], 0xCAFEBABE);   // 32-bit operand through 0x66
            a.mov(bx, 0x40);
            a.mov(__word_ptr[bx], 0x1111);           // 16-bit addressing
            a.push(ax);
            a.mov(cx, sp);
            a.hlt();
        }, 0x2_0000, 16);
        s.Load(a => a.jmp(Sys.Spare, 0), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.Cpu[Gpr.Rsp] = 0x9000;
        s.RunToHalt();
        Assert.Equal(0xCAFEBABE, s.R32(0x3_0020));
        Assert.Equal(0x1111, s.R16(0x3_0040));
        Assert.Equal(16, s.Cpu.CodeSize);
        Assert.Equal(0x2_0000UL, s.Cpu.GetSegmentBase(SegmentRegister.Cs));
        Assert.Equal(0x9000UL - 2, s.Cpu[Gpr.Rcx]);
    }

    [Fact]
    public void SixtyFourBitModeIgnoresDataSegmentBasesButNotFsGs()
    {
        var s = new Sys();
        s.EnterLong();
        s.SetGdt(Sys.Spare, Desc.Seg(0x4_0000, 0xFFFFF, Desc.DataRw, 0, db: true, g: true));
        s.Load(a =>
        {
            a.mov(eax, Sys.Spare);
            a.mov(ds, ax);
            a.mov(fs, ax);
            a.mov(__dword_ptr[0x9000], 0x11);      // DS base ignored: linear 0x9000
            a.mov(__dword_ptr.fs[0x9000], 0x22);  // FS base applies: 0x49000
            a.mov(ecx, 0xFFFF_FFFF);
            a.mov(eax, ecx);                     // 32-bit operand zero-extends
            a.mov(rdx, -1L);
            a.mov(dx, 0);                        // 16-bit operand keeps bits 63:16
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x11u, s.R32(0x9000));
        Assert.Equal(0x22u, s.R32(0x4_9000));
        Assert.Equal(0xFFFF_FFFFUL, s.Cpu[Gpr.Rax]);
        Assert.Equal(0xFFFF_FFFF_FFFF_0000UL, s.Cpu[Gpr.Rdx]);
        Assert.Equal(0x4_0000UL, s.Cpu.GetSegmentBase(SegmentRegister.Fs));
        Assert.Equal(0UL, s.Cpu.GetSegmentBase(SegmentRegister.Ds));
    }

    [Fact]
    public void AddressSizePrefixIn32BitAnd64BitModes()
    {
        var s = new Sys();
        s.EnterProtected();
        s.Load(a =>
        {
            a.mov(ebx, 0x1_FFFF);
            a.mov(esi, 0x9001);
            a.db(0x67, 0x8D, 0x00);   // lea eax, [bx+si] with a 16-bit address: (0xFFFF + 0x9001) & 0xFFFF
            a.hlt();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x9000UL, s.Cpu[Gpr.Rax]);

        var l = new Sys();
        l.EnterLong();
        l.Load(a =>
        {
            a.mov(rbx, 0x1_FFFF_FFF0UL);
            a.lea(rax, __[ebx + 0x20]);  // 32-bit address in 64-bit mode: wraps at 4 GiB
            a.hlt();
        });
        l.Cpu.Rip = Sys.Code;
        l.RunToHalt();
        Assert.Equal(0x10UL, l.Cpu[Gpr.Rax]);
    }
}
