using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Vmx.EptHarness;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Mode-based execute control for EPT (SDM Vol. 3C, 28.2.1, 28.2.3.2; 29.3.3 in 2020+ editions): with
/// secondary control 22, bit 2 of an EPT entry allows fetches from supervisor-mode linear addresses and
/// bit 10 fetches from user-mode linear addresses (U/S = 1 at every guest paging level, whatever the
/// CPL); an entry is present when any of bits 2:0 or bit 10 is set; a violation reports the AND of bit 2
/// in qualification bit 5 and of bit 10 in bit 6. Without the control bit 10 is ignored.
/// </summary>
public class EptModeBasedExecuteTests
{
    public static TheoryData<bool, bool, bool, bool> Matrix()
    {
        var d = new TheoryData<bool, bool, bool, bool>();
        foreach (bool mbec in new[] { false, true })
        foreach (bool user in new[] { false, true })
        foreach (bool xs in new[] { false, true })
        foreach (bool xu in new[] { false, true })
            d.Add(mbec, user, xs, xu);
        return d;
    }

    private static VmxGuest Guest(bool mbec, bool userPage, ulong codeLeaf, ulong upper = 7 | Xu)
    {
        var g = WithEpt(proc2: mbec ? SecondaryProcessorBasedControls.ModeBasedExecuteControl : 0, upper: upper);
        // The guest's (and host's) 2-MiB identity page at 0: user (U/S = 1) or supervisor.
        g.S.W64(Sys.Pd, userPage ? 0x87UL : 0x83UL);
        SetPte(g, VmxGuest.GuestCode, VmxGuest.GuestCode | (6 << 3) | codeLeaf);
        g.Guest(a => { a.nop(); a.ud2(); });
        return g;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void FetchPermissionFollowsTheAddressMode(bool mbec, bool userPage, bool xs, bool xu)
    {
        ulong leaf = 1 | (xs ? 4UL : 0) | (xu ? Xu : 0);
        var g = Guest(mbec, userPage, leaf);
        g.Launch();
        bool allowed = mbec && userPage ? xu : xs;
        if (allowed)
        {
            Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason); // the UD2 after the NOP
            return;
        }
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        ulong qual = 4 | 1 << 3 | (xs ? 1UL << 5 : 0) | (mbec && xu ? 1UL << 6 : 0) | 0x180;
        Assert.Equal(qual, g.R(VmcsField.ExitQualification));
        Assert.Equal(VmxGuest.GuestCode, g.R(VmcsField.GuestPhysicalAddress));
    }

    /// <summary>The AND runs over every level: a user-mode fetch needs bit 10 in the PML4E, PDPTE and PDE too.</summary>
    [Fact]
    public void UserExecuteIsAndedOverAllLevels()
    {
        var g = Guest(mbec: true, userPage: true, codeLeaf: 5 | Xu, upper: 7);
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(4UL | 5 << 3 | 0x180, g.R(VmcsField.ExitQualification)); // bit 6 clear
    }

    /// <summary>Bit 10 alone makes an entry present under MBEC (a user-execute-only page); without MBEC it is not present.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void UserExecuteOnlyEntries(bool mbec)
    {
        var g = Guest(mbec, userPage: true, codeLeaf: Xu);
        g.Launch();
        if (!mbec)
        {
            Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
            Assert.Equal(0x184UL, g.R(VmcsField.ExitQualification)); // not present: no rights
            return;
        }
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        // A data read from it: a violation reporting only bit 6.
        g = Guest(mbec, userPage: true, codeLeaf: 7 | Xu);
        SetPte(g, Data, Data | (6 << 3) | Xu);
        g.Guest(a => { a.mov(rax, __qword_ptr[Data]); a.ud2(); });
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
        Assert.Equal(1UL | 1 << 6 | 0x180, g.R(VmcsField.ExitQualification));
    }

    /// <summary>The CPL does not matter: a CPL-3 fetch from a supervisor-mode address would #PF anyway, so a CPL-0 fetch from a user-mode address shows it: bit 10 decides.</summary>
    [Fact]
    public void CplZeroFetchFromAUserAddressNeedsBit10()
    {
        var g = Guest(mbec: true, userPage: true, codeLeaf: 7);
        Assert.Equal(0UL, g.R(VmcsField.GuestCsSelector) & 3);
        g.Launch();
        Assert.Equal(VmxExitReason.EptViolation, g.ExitReason);
    }

    [Fact]
    public void EntryChecksAndTheCapabilitySwitch()
    {
        var g = WithEpt();
        g.Controls(proc2: SecondaryProcessorBasedControls.ModeBasedExecuteControl);
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.Equal("control.ept.required", g.Cpu.LastVmEntryFailure!.Check);
        var caps = new VmxCapabilities
        {
            SecondaryProcessorBased = VmxCapabilities.Default.SecondaryProcessorBased with
            {
                Allowed1 = VmxCapabilities.Default.SecondaryProcessorBased.Allowed1 & ~SecondaryProcessorBasedControls.ModeBasedExecuteControl,
            },
        };
        Assert.True(caps.TryReadMsr(VmxMsr.ProcBasedCtls2, out ulong ctls2) && ((ctls2 >> 32) & SecondaryProcessorBasedControls.ModeBasedExecuteControl) == 0);
        g = WithEpt(proc2: SecondaryProcessorBasedControls.ModeBasedExecuteControl, model: new CpuModel { Vmx = caps });
        g.Guest(a => a.ud2());
        g.Launch();
        Assert.Equal("control.secondary.allowed-settings", g.Cpu.LastVmEntryFailure!.Check);
    }
}
