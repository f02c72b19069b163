using Iced.Intel;
using Vtx.Tests.Vmx;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>
/// Alignment checking (issue 11, deviation 5; SDM Vol. 3A 6.15 interrupt 17 #AC, 2.5 CR0.AM, Vol. 1 3.4.3.3
/// EFLAGS.AC): with CR0.AM = 1, RFLAGS.AC = 1 and CPL 3, a data access of 2/4/8 bytes whose address is not a
/// multiple of its size raises #AC with error code 0; byte accesses, CPL 0-2, AM = 0 or AC = 0 never do.
/// </summary>
public class AlignmentCheckTests
{
    private const ulong Data = 0x10_0000;

    [Theory]
    [InlineData(4, 1, true, true, 3, false, true)]
    [InlineData(4, 4, true, true, 3, false, false)]
    [InlineData(2, 1, true, true, 3, false, true)]
    [InlineData(8, 4, true, true, 3, false, true)]
    [InlineData(8, 8, true, true, 3, false, false)]
    [InlineData(1, 3, true, true, 3, false, false)]
    [InlineData(4, 2, true, true, 3, true, true)]   // writes are checked too
    [InlineData(4, 1, false, true, 3, false, false)] // CR0.AM = 0
    [InlineData(4, 1, true, false, 3, false, false)] // RFLAGS.AC = 0
    [InlineData(4, 1, true, true, 0, false, false)]  // CPL 0
    public void MisalignedDataAccessAtCpl3WithAmAndAcIsAc0(int size, int offset, bool am, bool ac, int cpl, bool write, bool faults)
    {
        var s = new Sys();
        s.EnterLong(cpl: cpl);
        if (am) s.Cpu.Cr0Value |= Cr0.AM;
        Label access = default;
        var at = s.Load(a =>
        {
            access = a.CreateLabel();
            a.mov(rbx, (long)Data);
            if (ac) { a.pushfq(); a.or(__qword_ptr[rsp], 0x4_0000); a.popfq(); }
            a.Label(ref access);
            if (write)
                a.mov(__dword_ptr[rbx + offset], eax);
            else
                switch (size)
                {
                    case 1: a.mov(al, __byte_ptr[rbx + offset]); break;
                    case 2: a.mov(ax, __word_ptr[rbx + offset]); break;
                    case 4: a.mov(eax, __dword_ptr[rbx + offset]); break;
                    default: a.mov(rax, __qword_ptr[rbx + offset]); break;
                }
            a.ud2();
        });
        s.Cpu.Rip = Sys.Code;
        if (faults) s.ExpectFault(ExceptionVector.AC, 0, at(access));
        else s.ExpectFault(ExceptionVector.UD, null);
    }

    private static VmxGuest AcGuest(uint exceptionBitmap)
    {
        var g = new VmxGuest();
        g.UserMode();
        g.W(VmcsField.GuestCr0, g.R(VmcsField.GuestCr0) | Cr0.AM);
        g.W(VmcsField.ExceptionBitmap, exceptionBitmap);
        g.Guest(a =>
        {
            a.mov(rbx, (long)Data);
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x4_0000);
            a.popfq();
            a.mov(eax, __dword_ptr[rbx + 2]);
            a.ud2();
        });
        return g;
    }

    /// <summary>SDM Vol. 3C 25.2: #AC in a CPL-3 guest exits when exception-bitmap bit 17 is set (reason 0, vector 17, hardware exception, error code 0).</summary>
    [Fact]
    public void GuestAcExitsByTheExceptionBitmap()
    {
        var g = AcGuest(1u << 17);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal(0x8000_0B11UL, g.R(VmcsField.VmExitInterruptionInformation)); // valid, error code, type 3, vector 17
        Assert.Equal(0UL, g.R(VmcsField.VmExitInterruptionErrorCode));
    }

    /// <summary>SDM Vol. 3A 6.15 / 6.14: without the bitmap bit the guest's #AC is delivered through its IDT to the ring-0 handler (error code 0 pushed on the TSS stack).</summary>
    [Fact]
    public void GuestAcIsDeliveredThroughTheGuestIdt()
    {
        var g = AcGuest(0);
        g.Launch();
        Assert.Equal(17u, g.LastGuestVector);
        // The ring-0 handler's frame (SDM Vol. 3A 6.14.2): error code 0, the faulting MOV's RIP, the CPL-3 CS.
        ulong rsp = g.Cpu[Gpr.Rsp];
        Assert.Equal(0UL, g.S.R64(rsp));
        Assert.Equal(VmxGuest.GuestCode + 10 + 1 + 8 + 1, g.S.R64(rsp + 8)); // mov rbx,imm64 (10); pushfq (1); or qword [rsp],imm32 (8); popfq (1)
        Assert.Equal((ulong)(Sys.UCode64 | 3), g.S.R64(rsp + 16));
    }
}
