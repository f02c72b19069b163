using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Fast system calls (SDM Vol. 2B SYSCALL, SYSRET, SYSENTER, SYSEXIT; Vol. 3A 5.8.7-5.8.8), SWAPGS,
/// RDMSR/WRMSR, privileged instructions at CPL 3 and the descriptor-table instructions
/// (LGDT/LIDT/SGDT/SIDT/LLDT/SLDT/LTR/STR).
/// </summary>
public class SystemInstructionTests
{
    private const uint F = (uint)Sys.Scratch;
    private const ulong Kernel = Sys.Code + 0x800;

    private static void SetMsr(Sys s, uint index, ulong value) => Assert.True(s.Cpu.WriteMsr(index, value), $"WRMSR {index:X}");

    [Fact]
    public void SyscallSysretqRoundTrip()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        SetMsr(s, Msr.Star, (0x18UL << 48) | (0x08UL << 32));
        SetMsr(s, Msr.Lstar, Kernel);
        SetMsr(s, Msr.Fmask, 0x600);        // clear IF and DF
        s.Load(a =>
        {
            a.mov(__qword_ptr[F], rcx);
            a.mov(__qword_ptr[F + 8], r11);
            a.pushfq();
            a.pop(__qword_ptr[F + 16]);
            a.mov(__word_ptr[F + 24], cs);
            a.mov(__word_ptr[F + 26], ss);
            a.sysretq();
        }, Kernel);
        Label after = default;
        var at = s.Load(a =>
        {
            after = a.CreateLabel();
            a.syscall();
            a.Label(ref after);
            a.nop();
        });
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202 | 0x400 | 0x1; // IF, DF, CF
        Assert.Equal(StopReason.StopAddress, s.RunTo(at(after)).Reason);
        Assert.Equal(at(after), s.R64(F));                  // RCX = return RIP
        Assert.Equal(0x603UL, s.R64(F + 8));                // R11 = RFLAGS at SYSCALL
        Assert.Equal(0x003UL, s.R64(F + 16) & 0xFFF);       // FMASK cleared IF and DF
        Assert.Equal(Sys.KCode64, s.R16(F + 24));
        Assert.Equal(Sys.KData, s.R16(F + 26));
        // SYSRET: CS = STAR[63:48] + 16, SS = STAR[63:48] + 8, RPL 3; RFLAGS = R11.
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal((ushort)(Sys.UCode64 | 3), s.Cpu.GetSelector(SegmentRegister.Cs));
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal(0x603UL, s.Cpu.Rflags);
        Assert.Equal(OperatingMode.Long64, s.Cpu.Mode);
    }

    [Fact]
    public void SysretWithout64BitOperandReturnsToCompatibilityMode()
    {
        var s = new Sys();
        s.EnterLong();
        SetMsr(s, Msr.Star, 0x18UL << 48);
        const ulong user = Sys.Code + 0x1000;
        s.Load(a => a.nop(), user, 32);
        s.Load(a => { a.mov(ecx, (uint)user); a.mov(r11d, 0x202); a.sysret(); });
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(user).Reason);
        Assert.Equal(OperatingMode.Compatibility, s.Cpu.Mode);
        Assert.Equal((ushort)(Sys.UCode32 | 3), s.Cpu.GetSelector(SegmentRegister.Cs));
        Assert.Equal((ushort)(Sys.UData | 3), s.Cpu.GetSelector(SegmentRegister.Ss));
        Assert.Equal(3, s.Cpu.Cpl);
    }

    [Fact]
    public void SyscallFaults()
    {
        // EFER.SCE = 0: #UD.
        var s = new Sys();
        s.EnterLong(cpl: 3);
        s.Cpu.EferValue &= ~Efer.SCE;
        s.Load(a => a.syscall());
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.UD, null, Sys.Code);

        // SYSRET at CPL 3: #GP(0).
        var u = new Sys();
        u.EnterLong(cpl: 3);
        u.Load(a => a.sysretq());
        u.Cpu.Rip = Sys.Code;
        u.ExpectFault(ExceptionVector.GP, 0, Sys.Code);

        // SYSRET to a non-canonical RCX: #GP(0) at CPL 0, nothing loaded.
        var n = new Sys();
        n.EnterLong();
        n.Load(a => { a.mov(rcx, 0x0000_8000_0000_0000UL); a.sysretq(); });
        n.Cpu.Rip = Sys.Code;
        n.ExpectFault(ExceptionVector.GP, 0, Sys.Code + 10);
        Assert.Equal(0, n.Cpu.Cpl);
        Assert.Equal(Sys.KCode64, n.Cpu.GetSelector(SegmentRegister.Cs));
    }

    [Fact]
    public void SysenterSysexitRoundTripInProtectedMode()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        SetMsr(s, Msr.SysenterCs, Sys.KCode32);
        SetMsr(s, Msr.SysenterEsp, Sys.KernelStack - 0x10);
        SetMsr(s, Msr.SysenterEip, Kernel);
        s.Load(a =>
        {
            a.mov(__dword_ptr[F], esp);
            a.mov(__word_ptr[F + 4], cs);
            a.mov(__word_ptr[F + 6], ss);
            a.pushfd();
            a.pop(__dword_ptr[F + 8]);
            a.sysexit();              // EIP = EDX, ESP = ECX
        }, Kernel, 32);
        const ulong back = Sys.Code + 0x100;
        s.Load(a => a.nop(), back, 32);
        s.Load(a =>
        {
            a.mov(ecx, (uint)Sys.UserStack - 0x20);
            a.mov(edx, (uint)back);
            a.sysenter();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.Cpu.Rflags = 0x202;
        Assert.Equal(StopReason.StopAddress, s.RunTo(back).Reason);
        Assert.Equal((uint)Sys.KernelStack - 0x10, s.R32(F));
        Assert.Equal(Sys.KCode32, s.R16(F + 4));
        Assert.Equal(Sys.KData2, s.R16(F + 6));     // SYSENTER_CS + 8
        Assert.Equal(0u, s.R32(F + 8) & 0x200);      // IF cleared
        Assert.Equal(3, s.Cpu.Cpl);
        Assert.Equal((ushort)(Sys.UCode32b | 3), s.Cpu.GetSelector(SegmentRegister.Cs)); // SYSENTER_CS + 16
        Assert.Equal((ushort)(Sys.UData3 | 3), s.Cpu.GetSelector(SegmentRegister.Ss));   // SYSENTER_CS + 24
        Assert.Equal(Sys.UserStack - 0x20, s.Cpu[Gpr.Rsp]);
        Assert.Equal(OperatingMode.Protected, s.Cpu.Mode);
    }

    [Fact]
    public void SysenterSysexitqIn64BitMode()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        SetMsr(s, Msr.SysenterCs, Sys.KCode64);
        SetMsr(s, Msr.SysenterEsp, Sys.KernelStack);
        SetMsr(s, Msr.SysenterEip, Kernel);
        s.Load(a =>
        {
            a.mov(__word_ptr[F + 4], cs);
            a.mov(__word_ptr[F + 6], ss);
            a.mov(__qword_ptr[F + 8], rsp);
            a.sysexitq();
        }, Kernel);
        const ulong back = Sys.Code + 0x100;
        s.Load(a => a.nop(), back);
        s.Load(a => { a.mov(rcx, Sys.UserStack - 0x30); a.mov(rdx, back); a.sysenter(); });
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(StopReason.StopAddress, s.RunTo(back).Reason);
        Assert.Equal(Sys.KCode64, s.R16(F + 4));
        Assert.Equal(Sys.KData, s.R16(F + 6));
        Assert.Equal(Sys.KernelStack, s.R64(F + 8));
        Assert.Equal(OperatingMode.Long64, s.Cpu.Mode);
        Assert.Equal((ushort)(Sys.UCode64 | 3), s.Cpu.GetSelector(SegmentRegister.Cs)); // SYSENTER_CS + 32
        Assert.Equal((ushort)(Sys.UData2 | 3), s.Cpu.GetSelector(SegmentRegister.Ss));  // SYSENTER_CS + 40
        Assert.Equal(Sys.UserStack - 0x30, s.Cpu[Gpr.Rsp]);
    }

    [Fact]
    public void SysenterSysexitFaults()
    {
        // IA32_SYSENTER_CS = 0: #GP(0).
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.Load(a => a.sysenter(), bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0, Sys.Code);
        // SYSEXIT at CPL 3: #GP(0).
        var u = new Sys();
        u.EnterProtected(cpl: 3);
        SetMsr(u, Msr.SysenterCs, Sys.KCode32);
        u.Load(a => a.sysexit(), bitness: 32);
        u.Cpu.Rip = Sys.Code;
        u.ExpectFault(ExceptionVector.GP, 0, Sys.Code);
        // SYSENTER in real mode: #GP(0).
        var r = new Sys();
        r.EnterReal();
        SetMsr(r, Msr.SysenterCs, Sys.KCode32);
        r.Load(a => a.sysenter(), 0x1000, 16);
        r.ExpectFault(ExceptionVector.GP, 0, 0x1000);
    }

    [Fact]
    public void SwapgsExchangesGsBaseWithKernelGsBase()
    {
        var s = new Sys();
        s.EnterLong();
        SetMsr(s, Msr.GsBase, 0x1_1000);
        SetMsr(s, Msr.KernelGsBase, 0x2_2000);
        s.W64(0x2_2008, 0xFEED);
        s.Load(a =>
        {
            a.swapgs();
            a.mov(rax, __qword_ptr.gs[8]);
            a.mov(ecx, Msr.KernelGsBase);
            a.rdmsr();
            a.mov(ebx, eax);
            a.swapgs();
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0x1_1000UL, s.Cpu[Gpr.Rbx]);
        Assert.Equal(0x1_1000UL, s.Cpu.GsBase);
        Assert.Equal(0x2_2000UL, s.Cpu.ReadMsr(Msr.KernelGsBase));

        var u = new Sys();
        u.EnterLong(cpl: 3);
        u.Load(a => a.swapgs());
        u.Cpu.Rip = Sys.Code;
        u.ExpectFault(ExceptionVector.GP, 0, Sys.Code);

        var c = new Sys();
        c.EnterLong();
        c.LoadSegments(Sys.KCode32, Sys.KData);
        c.Load(a => a.db(0x0F, 0x01, 0xF8), bitness: 32); // SWAPGS outside 64-bit mode: #UD
        c.Cpu.Rip = Sys.Code;
        c.ExpectFault(ExceptionVector.UD, null, Sys.Code);
    }

    public static TheoryData<uint, ulong> MsrValues => new()
    {
        { Msr.Star, 0x0023_0010_0000_0000UL },
        { Msr.Lstar, 0xFFFF_8000_1234_5678UL },
        { Msr.Cstar, 0x0000_7FFF_0000_1000UL },
        { Msr.Fmask, 0x4700UL },
        { Msr.FsBase, 0xFFFF_FFFF_FFFF_F000UL },
        { Msr.GsBase, 0x1234_5678UL },
        { Msr.KernelGsBase, 0xFFFF_8880_0000_0000UL },
        { Msr.SysenterCs, 0x10UL },
        { Msr.SysenterEsp, 0xFFFF_C900_0000_0000UL },
        { Msr.SysenterEip, 0x0000_0000_C000_1000UL },
        { Msr.Pat, 0x0007_0406_0007_0406UL },
        { Msr.TscAux, 0x7UL },
        { Msr.Efer, Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE },
        { Msr.MtrrPhysBase0, 0x8000_0006UL },
        { Msr.MtrrPhysBase0 + 1, 0xF_C000_0800UL },
        { Msr.MtrrFix64K, 0x0606_0606_0505_0400UL },
        { Msr.MtrrDefType, 0xC06UL },
    };

    [Theory]
    [MemberData(nameof(MsrValues))]
    public void WrmsrRdmsrRoundTrip(uint index, ulong value)
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a =>
        {
            a.mov(ecx, index);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            a.wrmsr();
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.rdmsr();
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(value, (s.Cpu[Gpr.Rdx] << 32) | s.Cpu[Gpr.Rax]);
        Assert.Equal(value, s.Cpu.ReadMsr(index));
    }

    [Theory]
    [InlineData(true, 0x1234u, 0UL)]                              // not an MSR of the model
    [InlineData(false, 0xDEAD_0000u, 0UL)]
    [InlineData(true, Msr.Lstar, 0x0100_0000_0000_0000UL)]        // non-canonical (at 57 bits too)
    [InlineData(true, Msr.KernelGsBase, 0xFEFF_FFFF_FFFF_FFFFUL)]
    [InlineData(true, Msr.FsBase, 0x8000_0000_0000_0000UL)]
    [InlineData(true, Msr.Efer, 1UL << 2)]                        // reserved EFER bit
    [InlineData(true, Msr.Pat, 0x02UL)]                           // reserved memory type
    [InlineData(true, Msr.MtrrDefType, 0x802UL)]                  // reserved memory type
    [InlineData(true, Msr.MtrrPhysBase0, 0x8000_0002UL)]          // reserved memory type
    [InlineData(true, Msr.MtrrPhysBase0, 0x8000_0106UL)]          // reserved bits 11:8
    [InlineData(true, Msr.MtrrPhysBase0 + 1, 0xF_C000_0801UL)]    // reserved bits 10:0 of PHYSMASK
    [InlineData(true, Msr.MtrrFix64K, 0x0706_0606_0606_0606UL)]   // a fixed-range field with type 7
    [InlineData(true, Msr.MtrrCap, 0UL)]                          // read-only
    public void BadMsrAccessIsGp0(bool write, uint index, ulong value)
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a =>
        {
            a.mov(ecx, index);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            if (write) a.wrmsr(); else a.rdmsr();
        });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0, Sys.Code + 15);
        Assert.Equal((ulong)(uint)value, s.Cpu[Gpr.Rax]); // RDMSR/WRMSR committed nothing
    }

    /// <summary>
    /// MSRs holding linear addresses accept any address canonical at the processor's maximum width
    /// (57 bits: the model offers LA57) whatever CR4.LA57 (0 here), as processors with 5-level paging
    /// do (Intel 5-level paging white paper, 2.5); a descriptor-table base too (LGDT, 64-bit mode).
    /// </summary>
    [Theory]
    [InlineData(Msr.FsBase)]
    [InlineData(Msr.GsBase)]
    [InlineData(Msr.KernelGsBase)]
    [InlineData(Msr.Lstar)]
    [InlineData(Msr.Cstar)]
    [InlineData(Msr.SysenterEsp)]
    [InlineData(Msr.SysenterEip)]
    public void MsrAddressesAreCanonicalAt57Bits(uint index)
    {
        const ulong value = 0x00FF_8000_0000_1000UL; // bits 63:56 zero: canonical at 57 bits, not at 48
        var s = new Sys();
        s.EnterLong();
        s.Load(a =>
        {
            a.mov(ecx, index);
            a.mov(eax, unchecked((uint)value));
            a.mov(edx, (uint)(value >> 32));
            a.wrmsr();
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.rdmsr();
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        Assert.Equal(0UL, s.Cpu.Cr4Value & Cr4.LA57);
        s.RunToHalt();
        Assert.Equal(value, (s.Cpu[Gpr.Rdx] << 32) | (uint)s.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void FeatureControlLocksAndTscWriteMovesTheCounter()
    {
        var s = new Sys();
        s.EnterLong();
        s.Load(a =>
        {
            a.mov(ecx, Msr.FeatureControl);
            a.mov(eax, 5);              // lock + VMXON outside SMX
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, Msr.Tsc);
            a.mov(eax, 0);
            a.mov(edx, 0x10);           // TSC = 0x10_0000_0000
            a.wrmsr();
            a.rdtsc();
            a.mov(esi, eax);
            a.mov(edi, edx);
            a.mov(ecx, Msr.FeatureControl);
            a.wrmsr();                  // locked: #GP(0)
        });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(5UL, s.Cpu.ReadMsr(Msr.FeatureControl));
        Assert.Equal(0x10UL, s.Cpu[Gpr.Rdi]);
        // A few instructions later: the WRMSR that set it and the RDTSC cost what the timing profile says.
        ulong later = 100UL + (ulong)(s.Cpu.Model.Timing.System(Vtx.Timing.SystemCost.Wrmsr) + s.Cpu.Model.Timing.System(Vtx.Timing.SystemCost.Rdtsc));
        Assert.InRange(s.Cpu[Gpr.Rsi], 0UL, later * s.Cpu.Model.TscPerCycle);
    }

    [Fact]
    public void FsBaseMsrAppliesToFsAccessesAndEferShowsLma()
    {
        var s = new Sys();
        s.EnterLong();
        s.W32(0x3_0040, 0xC0FFEE);
        s.Load(a =>
        {
            a.mov(ecx, Msr.FsBase);
            a.mov(eax, 0x3_0000);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ebx, __dword_ptr.fs[0x40]);
            a.mov(ecx, Msr.Efer);
            a.rdmsr();
            a.hlt();
        });
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0xC0FFEEUL, s.Cpu[Gpr.Rbx]);
        Assert.Equal(Efer.LME | Efer.LMA | Efer.SCE, s.Cpu[Gpr.Rax]);
    }

    public static TheoryData<string> PrivilegedAtCpl3 => new()
    {
        "mov-from-cr0", "mov-to-cr3", "mov-from-dr7", "mov-to-dr0", "cli", "sti", "hlt", "lgdt", "lidt",
        "lldt", "ltr", "rdmsr", "wrmsr", "invlpg", "wbinvd", "clts", "lmsw",
    };

    [Theory]
    [MemberData(nameof(PrivilegedAtCpl3))]
    public void PrivilegedInstructionsAtCpl3AreGp0(string which)
    {
        foreach (int bits in new[] { 32, 64 })
        {
            var s = new Sys();
            if (bits == 32) s.EnterProtected(cpl: 3); else s.EnterLong(cpl: 3);
            s.Cpu.Rflags = 0x202; // IOPL 0
            s.Load(a =>
            {
                switch (which)
                {
                    case "mov-from-cr0": if (bits == 64) a.mov(rax, cr0); else a.mov(eax, cr0); break;
                    case "mov-to-cr3": if (bits == 64) a.mov(cr3, rax); else a.mov(cr3, eax); break;
                    case "mov-from-dr7": if (bits == 64) a.mov(rax, dr7); else a.mov(eax, dr7); break;
                    case "mov-to-dr0": if (bits == 64) a.mov(dr0, rax); else a.mov(dr0, eax); break;
                    case "cli": a.cli(); break;
                    case "sti": a.sti(); break;
                    case "hlt": a.hlt(); break;
                    case "lgdt": a.lgdt(__[Sys.Scratch]); break;
                    case "lidt": a.lidt(__[Sys.Scratch]); break;
                    case "lldt": a.lldt(ax); break;
                    case "ltr": a.ltr(ax); break;
                    case "rdmsr": a.rdmsr(); break;
                    case "wrmsr": a.wrmsr(); break;
                    case "invlpg": a.invlpg(__[Sys.Scratch]); break;
                    case "wbinvd": a.wbinvd(); break;
                    case "clts": a.clts(); break;
                    case "lmsw": a.lmsw(ax); break;
                }
            }, Sys.Code, bits);
            s.Cpu.Rip = Sys.Code;
            s.ExpectFault(ExceptionVector.GP, 0, Sys.Code);
            Assert.Equal(3, s.Cpu.Cpl);
        }
    }

    [Fact]
    public void CliStiAtCpl3WithIopl3AreAllowed()
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.Cpu.Rflags = 0x3202; // IOPL 3, IF
        s.Load(a => { a.cli(); a.pushfd(); a.pop(ebx); a.sti(); a.pushfd(); a.pop(ecx); a.@int(0x81); }, bitness: 32);
        s.Gate32(0x81, Sys.Code + 0x100, dpl: 3);
        s.W8(Sys.Code + 0x100, 0xF4);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal(0UL, s.Cpu[Gpr.Rbx] & 0x200);
        Assert.Equal(0x200UL, s.Cpu[Gpr.Rcx] & 0x200);
    }

    [Fact]
    public void StoreInstructionsAreNotPrivilegedWithoutUmip()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        s.Cpu.Ldtr = SegmentCache.Null(0);
        s.Load(a =>
        {
            a.sgdt(__[Sys.Scratch]);
            a.sidt(__[Sys.Scratch + 0x10]);
            a.str(bx);
            a.sldt(cx);
            a.mov(rdx, cr0);   // #GP: ends the run where we look
        });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal(Sys.GdtLimit, s.R16(Sys.Scratch));
        Assert.Equal(Sys.GdtBase, s.R64(Sys.Scratch + 2));
        Assert.Equal((ushort)(256 * 16 - 1), s.R16(Sys.Scratch + 0x10));
        Assert.Equal(Sys.IdtBase, s.R64(Sys.Scratch + 0x12));
        Assert.Equal((ulong)Sys.TssSel, s.Cpu[Gpr.Rbx] & 0xFFFF);
        Assert.Equal(0UL, s.Cpu[Gpr.Rcx] & 0xFFFF);

        var u = new Sys();
        u.EnterLong(cpl: 3);
        u.Cpu.Cr4Value |= Cr4.UMIP;
        u.Load(a => a.sgdt(__[Sys.Scratch]));
        u.Cpu.Rip = Sys.Code;
        u.ExpectFault(ExceptionVector.GP, 0, Sys.Code);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(64)]
    public void LgdtLidtSgdtSidtRoundTrip(int bits)
    {
        var s = new Sys();
        if (bits == 16) s.EnterReal(); else if (bits == 32) s.EnterProtected(); else s.EnterLong();
        ulong code = bits == 16 ? 0x1000UL : Sys.Code;
        // 64-bit mode: a base canonical at 57 bits (the model offers LA57), not at 48: accepted.
        ulong gdt = bits == 64 ? 0x00FF_5678_9ABC_D000UL : 0x89AB_CDE0UL;
        int baseBytes = bits == 64 ? 8 : 4;
        s.W16(0x9000, 0x0FFF);
        s.M.WriteMemory(0x9002, BitConverter.GetBytes(gdt).AsSpan(0, baseBytes));
        s.W16(0x9010, 0x07FF);
        s.M.WriteMemory(0x9012, BitConverter.GetBytes(gdt + 0x100).AsSpan(0, baseBytes));
        s.Load(a =>
        {
            a.lgdt(__[0x9000]);
            a.lidt(__[0x9010]);
            a.sgdt(__[0x9020]);
            a.sidt(__[0x9030]);
            a.hlt();
        }, code, bits);
        if (bits != 16) s.Cpu.Rip = code;
        s.RunToHalt();
        // A 16-bit operand size loads only 24 bits of the base (SDM Vol. 2A, LGDT).
        ulong expected = bits == 16 ? gdt & 0xFF_FFFF : gdt;
        Assert.Equal(new DescriptorTableRegister(expected, 0x0FFF), s.Cpu.Gdtr);
        Assert.Equal(new DescriptorTableRegister(expected + 0x100, 0x07FF), s.Cpu.Idtr);
        Assert.Equal(0x0FFF, s.R16(0x9020));
        Assert.Equal(0x07FF, s.R16(0x9030));
        Assert.Equal(expected, BitConverter.ToUInt64(s.M.ReadMemory(0x9022, 8).AsSpan(0, baseBytes).ToArray().Concat(new byte[8 - baseBytes]).ToArray()));
    }

    [Fact]
    public void LldtSldtAndLdtSelectorsInProtectedMode()
    {
        var s = new Sys();
        s.EnterProtected();
        s.SetGdt(Sys.Spare, Desc.Ldt((uint)Sys.LdtBase, 0x0F));
        s.W64(Sys.LdtBase + 8, Desc.Seg(0x5_0000, 0xFFFF, Desc.DataRw, 0, db: true));
        s.Load(a =>
        {
            a.mov(eax, Sys.Spare);
            a.lldt(ax);
            a.sldt(bx);
            a.mov(eax, 0x0C);               // index 1, TI = 1
            a.mov(ds, ax);
            a.mov(__dword_ptr[0x10], 0x600D);
            a.hlt();
        }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.RunToHalt();
        Assert.Equal((ulong)Sys.Spare, s.Cpu[Gpr.Rbx] & 0xFFFF);
        Assert.Equal(Sys.LdtBase, s.Cpu.Ldtr.Base);
        Assert.Equal(0x0Fu, s.Cpu.Ldtr.Limit);
        Assert.Equal(0x600Du, s.R32(0x5_0010));
        Assert.Equal(0x5_0000UL, s.Cpu.GetSegmentBase(SegmentRegister.Ds));

        // A selector beyond the LDT limit: #GP(selector with TI).
        var t = new Sys();
        t.EnterProtected();
        t.SetGdt(Sys.Spare, Desc.Ldt((uint)Sys.LdtBase, 0x0F));
        t.Load(a => { a.mov(eax, Sys.Spare); a.lldt(ax); a.mov(eax, 0x14); a.mov(ds, ax); }, bitness: 32);
        t.Cpu.Rip = Sys.Code;
        t.ExpectFault(ExceptionVector.GP, 0x14);
    }

    [Theory]
    [InlineData("not-ldt", 13, 0x10u)]
    [InlineData("ti", 13, 0x84u)]
    public void LldtFaults(string which, int vector, uint error)
    {
        var s = new Sys();
        s.EnterProtected();
        ushort sel = which == "not-ldt" ? Sys.KData : (ushort)0x84;
        s.Load(a => { a.mov(eax, sel); a.lldt(ax); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault((ExceptionVector)vector, error, Sys.Code + 5);
    }

    [Fact]
    public void LldtInRealModeIsUd()
    {
        var s = new Sys();
        s.EnterReal();
        s.Load(a => a.lldt(ax), 0x1000, 16);
        s.ExpectFault(ExceptionVector.UD, null, 0x1000);
    }

    [Fact]
    public void LtrMarksTheTssBusyAndStrReadsIt()
    {
        var s = new Sys();
        s.EnterLong();
        s.SetGdt16(Sys.Spare, Desc.Tss(0x4_3000, 0x67), 0x1);   // base bits 63:32 = 1
        Label again = default;
        var at = s.Load(a =>
        {
            again = a.CreateLabel();
            a.mov(eax, Sys.Spare);
            a.ltr(ax);
            a.str(bx);
            a.Label(ref again);
            a.ltr(ax);           // the TSS is busy now: #GP(selector)
        });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, Sys.Spare, at(again));
        Assert.Equal((ulong)Sys.Spare, s.Cpu[Gpr.Rbx] & 0xFFFF);
        Assert.Equal(0xBUL, (s.GdtEntry(Sys.Spare) >> 40) & 0xF);
        Assert.Equal(0x1_0004_3000UL, s.Cpu.Tr.Base);
        Assert.Equal(0x67u, s.Cpu.Tr.Limit);
        Assert.Equal(Sys.Spare, s.Cpu.Tr.Selector);
    }

    [Theory]
    [InlineData("null", 13, 0u)]
    [InlineData("ldt-type", 13, 0x80u)]
    [InlineData("not-present", 11, 0x80u)]
    [InlineData("ti", 13, 0x84u)]
    public void LtrFaults(string which, int vector, uint error)
    {
        var s = new Sys();
        s.EnterProtected();
        s.SetGdt(0x80, which == "ldt-type" ? Desc.Ldt(0x7000, 0xF) : Desc.Tss(0x4_3000, 0x67, present: which != "not-present"));
        ushort sel = which switch { "null" => 0, "ti" => 0x84, _ => 0x80 };
        s.Load(a => { a.mov(eax, sel); a.ltr(ax); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault((ExceptionVector)vector, error, Sys.Code + 5);
        Assert.Equal(Sys.TssSel, s.Cpu.Tr.Selector);
    }

    [Fact]
    public void RdtscIsPrivilegedOnlyWithTsd()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        s.Cpu.Cr4Value |= Cr4.TSD;
        s.Load(a => a.rdtsc());
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.GP, 0, Sys.Code);
    }
    [Fact]
    public void SyscallInCompatibilityModeIsUd()
    {
        var s = new Sys();
        s.EnterLong(cpl: 3);
        s.LoadSegments((ushort)(Sys.UCode32 | 3), (ushort)(Sys.UData | 3));
        s.M.WriteMemory(Sys.Code, new byte[] { 0x0F, 0x05 });
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.UD, null, Sys.Code);
    }

    [Fact]
    public void WrmsrCannotSetLmaAndDr4AliasesDr6UnlessDe()
    {
        var s = new Sys();
        s.EnterProtected();
        Assert.True(s.Cpu.WriteMsr(Msr.Efer, Efer.LMA | Efer.SCE));
        Assert.Equal(Efer.SCE, s.Cpu.EferValue);
        s.Load(a => { a.mov(eax, dr4); a.mov(ebx, dr6); a.mov(ecx, cr4); a.or(ecx, (uint)Cr4.DE); a.mov(cr4, ecx); a.mov(edx, dr4); }, bitness: 32);
        s.Cpu.Rip = Sys.Code;
        s.ExpectFault(ExceptionVector.UD, null);
        Assert.Equal(s.Cpu[Gpr.Rbx], s.Cpu[Gpr.Rax]);
        Assert.Equal(0xFFFF_0FF0UL, s.Cpu[Gpr.Rax] & 0xFFFF_FFFF);
    }
}
