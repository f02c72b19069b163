using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Devices;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// Instruction-caused VM exits in VMX non-root operation (SDM Vol. 3C, 25.1-25.4 and 27.2; VMX.md
/// 8.3, 9.3, 12): the unconditional exits, the exits decided by the VM-execution controls with their
/// exit qualification, instruction length and instruction information, the paths that do not exit
/// (read shadows, host-owned bits, TSC offsetting, bitmaps), and the faults that take priority.
/// </summary>
public class NonRootInstructionTests
{
    private const uint Proc2 = PrimaryProcessorBasedControls.ActivateSecondaryControls;

    /// <summary>The guest-linear addresses of one guest instruction: where it starts and where the next one starts.</summary>
    private sealed record Insn(ulong At, ulong Next)
    {
        public ulong Length => Next - At;
    }

    /// <summary>Loads guest code: <paramref name="setup"/>, then the instruction under test, then HLT.</summary>
    private static Insn Load(VmxGuest g, Action<Assembler> setup, Action<Assembler> insn, bool bits32 = false)
    {
        Label at = default, after = default;
        Action<Assembler> body = a =>
        {
            setup(a);
            at = a.CreateLabel();
            after = a.CreateLabel();
            a.Label(ref at);
            insn(a);
            a.Label(ref after);
            a.hlt();
        };
        var resolve = bits32 ? g.Guest32(body) : g.Guest(body);
        return new Insn(resolve(at), resolve(after));
    }

    private static Insn Load(VmxGuest g, Action<Assembler> insn) => Load(g, _ => { }, insn);

    /// <summary>Asserts a fault-like instruction exit: reason, qualification, guest RIP = the instruction, its length, and (when given) the instruction information.</summary>
    private static void AssertExit(VmxGuest g, Insn i, VmxExitReason reason, ulong qualification = 0, uint? info = null)
    {
        Assert.Equal(reason, g.ExitReason);
        Assert.Equal(i.At, g.R(VmcsField.GuestRip));
        Assert.Equal(i.Length, g.R(VmcsField.VmExitInstructionLength));
        Assert.Equal(qualification, g.R(VmcsField.ExitQualification));
        if (info is uint expected) Assert.Equal(expected, (uint)g.R(VmcsField.VmExitInstructionInformation));
    }

    /// <summary>Asserts the guest ran to its HLT without a VM exit.</summary>
    private static void AssertNoExit(VmxGuest g)
    {
        Assert.True(g.Cpu.InVmxNonRoot, $"left non-root: {g.Transitions.LastOrDefault()}");
        Assert.Equal(VmxTransitionKind.Entry, g.Transitions.Last().Kind);
        Assert.Equal(0xFFFF_FFFFu, g.LastGuestVector);
    }

    /// <summary>Asserts the guest took exception <paramref name="vector"/> through its own IDT (no VM exit).</summary>
    private static void AssertGuestFault(VmxGuest g, int vector)
    {
        Assert.True(g.Cpu.InVmxNonRoot, $"left non-root: {g.Transitions.LastOrDefault()}");
        Assert.Equal((uint)vector, g.LastGuestVector);
    }

    // ------------------------------------------------------------------ unconditional exits

    [Fact]
    public void CpuidExitsUnconditionallyAndChangesNoRegister()
    {
        var g = new VmxGuest();
        var i = Load(g, a => { a.mov(eax, 0); a.mov(ebx, 0x55); a.nop(); }, a => a.cpuid());
        g.Launch();
        AssertExit(g, i, VmxExitReason.Cpuid);
        Assert.Equal(2UL, i.Length);
        Assert.Equal(0x55UL, g.Cpu[Gpr.Rbx]); // host RBX is untouched by the exit and CPUID did not run
        Assert.Equal(0UL, g.R(VmcsField.VmExitInstructionInformation));
    }

    [Fact]
    public void InvdExitsAtCpl0AndFaultsAtCpl3()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.invd());
        g.Launch();
        AssertExit(g, i, VmxExitReason.Invd);

        var u = new VmxGuest();
        Load(u, a => a.invd());
        u.UserMode();
        u.Launch();
        AssertGuestFault(u, 13);
    }

    [Fact]
    public void VmcallExitsAtCpl3()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.vmcall());
        g.UserMode();
        g.Launch();
        AssertExit(g, i, VmxExitReason.Vmcall);
        Assert.Equal(3UL, i.Length);
        Assert.Equal((ulong)(Sys.UCode64 | 3), g.R(VmcsField.GuestCsSelector));
    }

    /// <summary>In compatibility mode VMCALL still exits, while the other VMX instructions are #UD (their mode check comes before the exit).</summary>
    [Fact]
    public void VmcallExitsInCompatibilityModeWhereVmptrldIsUd()
    {
        var g = new VmxGuest();
        var i = Load(g, _ => { }, a => a.vmcall(), bits32: true);
        g.GuestSegment(SegmentRegister.Cs, Sys.KCode32); // IA-32e mode, CS.L = 0
        g.Launch();
        AssertExit(g, i, VmxExitReason.Vmcall);

        var h = new VmxGuest();
        Load(h, _ => { }, a => a.vmptrld(__qword_ptr[eax]), bits32: true);
        h.GuestSegment(SegmentRegister.Cs, Sys.KCode32);
        h.Launch();
        AssertGuestFault(h, 6);
    }

    [Fact]
    public void VmxInstructionsAtCpl3ExitInsteadOfFaulting()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.vmptrld(__qword_ptr[rax + 0x40]));
        g.UserMode();
        g.Launch();
        AssertExit(g, i, VmxExitReason.Vmptrld, 0x40, 0x0041_8100); // base RAX, no index, 64-bit, DS
    }

    [Fact]
    public void VmxoffAndVmresumeExit()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.vmxoff());
        g.Launch();
        AssertExit(g, i, VmxExitReason.Vmxoff);
        Assert.True(g.Cpu.InVmxOperation);

        var h = new VmxGuest();
        var j = Load(h, a => a.vmresume());
        h.Launch();
        AssertExit(h, j, VmxExitReason.Vmresume);
    }

    /// <summary>GETSEC, MONITOR, MWAIT and XSETBV: the model offers neither SMX, MONITOR/MWAIT nor CR4.OSXSAVE in VMX operation, so #UD comes first even with the exiting controls set.</summary>
    [Fact]
    public void UnofferedInstructionsAreUdBeforeAnyExit()
    {
        foreach (var code in new Action<Assembler>[] { a => a.db(0x0F, 0x37), a => a.db(0x0F, 0x01, 0xC8), a => a.db(0x0F, 0x01, 0xC9), a => a.xsetbv() })
        {
            var g = new VmxGuest();
            Load(g, code);
            g.Controls(proc: PrimaryProcessorBasedControls.MonitorExiting | PrimaryProcessorBasedControls.MwaitExiting);
            g.Launch();
            AssertGuestFault(g, 6);
        }
    }

    // ------------------------------------------------------------------ VMX instructions: qualification and instruction information

    public static TheoryData<int> VmxCases => new() { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

    /// <summary>
    /// The displacement qualification and the instruction-information field of the VMX instructions
    /// (SDM Vol. 3C, 27.2.1, 27.2.4; VMX.md 9.3.7): scaling 1:0, Reg1 6:3, address size 9:7,
    /// register operand 10, segment 17:15, index 21:18 (22 invalid), base 26:23 (27 invalid), Reg2 31:28.
    /// </summary>
    [Theory]
    [MemberData(nameof(VmxCases))]
    public void VmxInstructionExitInformation(int n)
    {
        var g = new VmxGuest();
        Label data = default;
        Action<Assembler> code = n switch
        {
            0 => a => a.vmclear(__qword_ptr[rax + rbx * 4 + 0x10]),
            1 => a => a.vmptrld(__qword_ptr[data]),
            2 => a => a.vmptrst(__qword_ptr.fs[r12 - 8]),
            3 => a => a.vmxon(__qword_ptr[rsp]),
            4 => a => a.vmread(rax, rcx),
            5 => a => a.vmread(__qword_ptr[rbx], rdx),
            6 => a => a.vmwrite(rsi, r9),
            7 => a => a.vmwrite(r10, __qword_ptr[rbp + 8]),
            8 => a => a.invept(rdx, __xmmword_ptr[rax]),
            9 => a => a.invvpid(r8, __xmmword_ptr[rcx + rdi * 8 - 0x20]),
            10 => a => a.vmclear(__qword_ptr[eax + 0x7F]),
            _ => a => a.vmxoff(),
        };
        Label at = default, after = default;
        var resolve = g.Guest(a =>
        {
            at = a.CreateLabel();
            after = a.CreateLabel();
            data = a.CreateLabel();
            a.Label(ref at);
            code(a);
            a.Label(ref after);
            a.hlt();
            a.Label(ref data);
            a.dq(0UL);
        });
        var i = new Insn(resolve(at), resolve(after));
        var (reason, qual, info) = n switch
        {
            0 => (VmxExitReason.Vmclear, 0x10UL, 0x000D_8102u),
            1 => (VmxExitReason.Vmptrld, resolve(data), 0x0841_8100u),
            2 => (VmxExitReason.Vmptrst, 0xFFFF_FFFF_FFFF_FFF8UL, 0x0642_0100u),
            3 => (VmxExitReason.Vmxon, 0UL, 0x0241_0100u),
            4 => (VmxExitReason.Vmread, 0UL, 0x1000_0400u),
            5 => (VmxExitReason.Vmread, 0UL, 0x21C1_8100u),
            6 => (VmxExitReason.Vmwrite, 0UL, 0x6000_0448u),
            7 => (VmxExitReason.Vmwrite, 8UL, 0xA2C1_0100u),
            8 => (VmxExitReason.Invept, 0UL, 0x2041_8100u),
            9 => (VmxExitReason.Invvpid, 0xFFFF_FFFF_FFFF_FFE0UL, 0x809D_8103u),
            10 => (VmxExitReason.Vmclear, 0x7FUL, 0x0041_8080u),
            _ => (VmxExitReason.Vmxoff, 0UL, 0u),
        };
        g.Launch();
        AssertExit(g, i, reason, qual, info);
    }

    // ------------------------------------------------------------------ control registers

    [Fact]
    public void MovToCr0ExitsWhenAHostOwnedBitDiffersFromTheShadow()
    {
        var g = new VmxGuest();
        ulong value = g.Cpu.Cr0Value | Cr0.TS;
        var i = Load(g, a => a.mov(rbx, value), a => a.mov(cr0, rbx));
        g.W(VmcsField.Cr0GuestHostMask, Cr0.TS);
        g.W(VmcsField.Cr0ReadShadow, 0);
        g.Launch();
        AssertExit(g, i, VmxExitReason.ControlRegisterAccess, 0x300); // CR0, MOV to CR, RBX
        Assert.Equal(0UL, g.R(VmcsField.GuestCr0) & Cr0.TS);
    }

    [Fact]
    public void MovFromCr0ReadsTheShadowAndNonExitingWritesKeepHostOwnedBits()
    {
        var g = new VmxGuest();
        ulong real = g.Cpu.Cr0Value; // TS = 0, MP = 0
        // Read CR0 (TS comes from the shadow: 1), write it back with MP set: TS matches the shadow, so no exit.
        Load(g, a => { a.mov(rax, cr0); a.mov(rcx, rax); a.or(rcx, (int)Cr0.MP); }, a => a.mov(cr0, rcx));
        g.W(VmcsField.Cr0GuestHostMask, Cr0.TS);
        g.W(VmcsField.Cr0ReadShadow, Cr0.TS);
        g.Launch();
        AssertNoExit(g);
        Assert.Equal(real | Cr0.TS, g.Cpu[Gpr.Rax]);
        Assert.Equal(real | Cr0.MP, g.Cpu.Cr0Value); // MP (guest-owned) changed, TS (host-owned) kept 0
    }

    /// <summary>With "unrestricted guest" a guest may clear CR0.PG (the PE/PG fixed bits do not apply in non-root operation); without it the write is #GP.</summary>
    [Fact]
    public void UnrestrictedGuestMayClearPaging()
    {
        foreach (bool unrestricted in new[] { true, false })
        {
            var g = new VmxGuest();
            g.Legacy32();
            const ulong eptPml4 = 0xC_0000, eptPdpt = 0xC_1000, eptPd = 0xC_2000;
            g.S.W64(eptPml4, eptPdpt | 7);
            g.S.W64(eptPdpt, eptPd | 7);
            g.S.W64(eptPd, 0 | 1 << 7 | 6 << 3 | 7); // the first 2 MiB, identity, write-back
            g.W(VmcsField.EptPointer, eptPml4 | 6 | 3 << 3);
            g.W(VmcsField.ExceptionBitmap, 1u << 13);
            var i = Load(g, a => { a.mov(eax, cr0); a.and(eax, 0x7FFF_FFFF); }, a => a.mov(cr0, eax), bits32: true);
            uint proc2 = SecondaryProcessorBasedControls.EnableEpt | (unrestricted ? SecondaryProcessorBasedControls.UnrestrictedGuest : 0);
            g.Controls(proc2: proc2, entry: 0);
            g.Launch();
            if (unrestricted)
            {
                AssertNoExit(g);
                Assert.Equal(0UL, g.Cpu.Cr0Value & Cr0.PG);
            }
            else
            {
                Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
                Assert.Equal(i.At, g.R(VmcsField.GuestRip));
            }
        }
    }

    [Fact]
    public void Cr4VmxeOwnedByTheHostIsHiddenAndKept()
    {
        var g = new VmxGuest();
        ulong real = g.Cpu.Cr4Value;
        Assert.NotEqual(0UL, real & Cr4.VMXE);
        Load(g, a => { a.mov(rax, cr4); a.mov(rcx, rax); a.or(rcx, (int)Cr4.PGE); }, a => a.mov(cr4, rcx));
        g.W(VmcsField.Cr4GuestHostMask, Cr4.VMXE);
        g.W(VmcsField.Cr4ReadShadow, 0);
        g.Launch();
        AssertNoExit(g);
        Assert.Equal(real & ~Cr4.VMXE, g.Cpu[Gpr.Rax]);
        Assert.Equal(real | Cr4.PGE, g.Cpu.Cr4Value);

        var h = new VmxGuest();
        var i = Load(h, a => { a.mov(rax, cr4); a.or(rax, (int)Cr4.VMXE); }, a => a.mov(cr4, rax));
        h.W(VmcsField.Cr4GuestHostMask, Cr4.VMXE);
        h.W(VmcsField.Cr4ReadShadow, 0);
        h.Launch();
        AssertExit(h, i, VmxExitReason.ControlRegisterAccess, 4); // CR4, MOV to CR, RAX
    }

    [Fact]
    public void MovToCr3ExitsUnlessTheValueIsACr3Target()
    {
        foreach (var (count, exits) in new[] { (0, true), (1, false), (2, false) })
        {
            var g = new VmxGuest();
            ulong current = g.Cpu.Cr3Value;
            var i = Load(g, a => a.mov(rdx, current), a => a.mov(cr3, rdx));
            g.Controls(proc: PrimaryProcessorBasedControls.Cr3LoadExiting);
            g.W(VmcsField.Cr3TargetCount, (ulong)count);
            g.W(VmcsField.Cr3TargetValue0, count == 2 ? 0x1000UL : current);
            g.W(VmcsField.Cr3TargetValue1, current);
            g.Launch();
            if (exits) AssertExit(g, i, VmxExitReason.ControlRegisterAccess, 0x203); // CR3, MOV to CR, RDX
            else AssertNoExit(g);
        }
    }

    [Fact]
    public void Cr3StoreAndCr8LoadStoreExiting()
    {
        var cases = new (uint Control, Action<Assembler> Code, ulong Qual)[]
        {
            (PrimaryProcessorBasedControls.Cr3StoreExiting, a => a.mov(rsi, cr3), 0x613),
            (PrimaryProcessorBasedControls.Cr8LoadExiting, a => a.mov(cr8, r9), 0x908),
            (PrimaryProcessorBasedControls.Cr8StoreExiting, a => a.mov(rcx, cr8), 0x118),
        };
        foreach (var (control, code, qual) in cases)
        {
            var g = new VmxGuest();
            var i = Load(g, a => a.xor(r9d, r9d), code);
            g.Controls(proc: control);
            g.Launch();
            AssertExit(g, i, VmxExitReason.ControlRegisterAccess, qual);

            var h = new VmxGuest(); // without the control: no exit
            Load(h, a => a.xor(r9d, r9d), code);
            h.Launch();
            AssertNoExit(h);
        }
    }

    [Fact]
    public void CltsFollowsTheTsMaskAndShadow()
    {
        // Host-owned TS set in the shadow: exit (qualification: access type 2).
        var g = new VmxGuest();
        var i = Load(g, a => a.clts());
        g.W(VmcsField.GuestCr0, g.Cpu.Cr0Value | Cr0.TS);
        g.W(VmcsField.Cr0GuestHostMask, Cr0.TS);
        g.W(VmcsField.Cr0ReadShadow, Cr0.TS);
        g.Launch();
        AssertExit(g, i, VmxExitReason.ControlRegisterAccess, 0x20);

        // Host-owned TS clear in the shadow: no exit and CLTS does nothing.
        var h = new VmxGuest();
        Load(h, a => a.clts());
        h.W(VmcsField.GuestCr0, h.Cpu.Cr0Value | Cr0.TS);
        h.W(VmcsField.Cr0GuestHostMask, Cr0.TS);
        h.Launch();
        AssertNoExit(h);
        Assert.NotEqual(0UL, h.Cpu.Cr0Value & Cr0.TS);

        // Guest-owned TS: CLTS clears it.
        var k = new VmxGuest();
        Load(k, a => a.clts());
        k.W(VmcsField.GuestCr0, k.Cpu.Cr0Value | Cr0.TS);
        k.Launch();
        AssertNoExit(k);
        Assert.Equal(0UL, k.Cpu.Cr0Value & Cr0.TS);
    }

    [Fact]
    public void LmswExitsWithSourceDataAndOperandAddress()
    {
        // Register operand: MP host-owned with shadow 1, source MP = 0.
        var g = new VmxGuest();
        var i = Load(g, a => a.mov(eax, 0x0009), a => a.lmsw(ax)); // PE | TS
        g.W(VmcsField.Cr0GuestHostMask, Cr0.MP);
        g.W(VmcsField.Cr0ReadShadow, Cr0.MP);
        g.Launch();
        AssertExit(g, i, VmxExitReason.ControlRegisterAccess, 0x0009_0030);
        Assert.Equal(0UL, g.R(VmcsField.GuestLinearAddress));

        // Memory operand: bit 6 and the guest-linear address of the operand.
        var h = new VmxGuest();
        h.S.W16(Sys.Scratch + 0x600, 0x000B); // PE | MP | TS
        var j = Load(h, a => a.mov(rbx, Sys.Scratch + 0x600), a => a.lmsw(__word_ptr[rbx]));
        h.W(VmcsField.Cr0GuestHostMask, Cr0.TS);
        h.W(VmcsField.Cr0ReadShadow, 0);
        h.Launch();
        AssertExit(h, j, VmxExitReason.ControlRegisterAccess, 0x000B_0070);
        Assert.Equal(Sys.Scratch + 0x600, h.R(VmcsField.GuestLinearAddress));
    }

    [Fact]
    public void LmswPeRuleAndHostOwnedBitsWithoutExit()
    {
        // PE host-owned and clear in the shadow: setting PE exits, leaving it 0 does not (LMSW cannot clear PE).
        foreach (var (source, exits) in new[] { (1, true), (0, false) })
        {
            var g = new VmxGuest();
            var i = Load(g, a => a.mov(eax, source), a => a.lmsw(ax));
            g.W(VmcsField.Cr0GuestHostMask, Cr0.PE);
            g.W(VmcsField.Cr0ReadShadow, 0);
            g.Launch();
            if (exits) AssertExit(g, i, VmxExitReason.ControlRegisterAccess, ((ulong)source << 16) | 0x30);
            else
            {
                AssertNoExit(g);
                Assert.NotEqual(0UL, g.Cpu.Cr0Value & Cr0.PE);
            }
        }

        // TS host-owned (shadow 0, real 1); the source keeps TS = 0 and sets EM: no exit, EM set, TS kept.
        var h = new VmxGuest();
        Load(h, a => a.mov(eax, 0x5), a => a.lmsw(ax)); // PE | EM
        h.W(VmcsField.GuestCr0, h.Cpu.Cr0Value | Cr0.TS);
        h.W(VmcsField.Cr0GuestHostMask, Cr0.TS);
        h.W(VmcsField.Cr0ReadShadow, 0);
        h.Launch();
        AssertNoExit(h);
        Assert.Equal(Cr0.EM | Cr0.TS, h.Cpu.Cr0Value & (Cr0.EM | Cr0.TS));
    }

    [Fact]
    public void SmswReadsHostOwnedBitsFromTheShadow()
    {
        var g = new VmxGuest();
        Load(g, a => a.smsw(eax));
        g.W(VmcsField.Cr0GuestHostMask, Cr0.TS | Cr0.MP);
        g.W(VmcsField.Cr0ReadShadow, Cr0.TS);
        g.Launch();
        AssertNoExit(g);
        Assert.Equal((g.Cpu.Cr0Value & ~Cr0.MP) | Cr0.TS, g.Cpu[Gpr.Rax]);
    }

    // ------------------------------------------------------------------ MOV DR

    [Fact]
    public void MovDrExitsWithDirectionAndRegister()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.mov(rax, dr7));
        g.Controls(proc: PrimaryProcessorBasedControls.MovDrExiting);
        g.Launch();
        AssertExit(g, i, VmxExitReason.MovDr, 0x17); // DR7, from DR, RAX

        var h = new VmxGuest();
        var j = Load(h, a => a.mov(dr3, r11));
        h.Controls(proc: PrimaryProcessorBasedControls.MovDrExiting);
        h.Launch();
        AssertExit(h, j, VmxExitReason.MovDr, 0xB03); // DR3, to DR, R11
    }

    /// <summary>MOV-DR exits take priority over the CPL #GP and the DR4/DR5 #UD (SDM Vol. 3C, 25.1.3: an exception to 25.1.1).</summary>
    [Fact]
    public void MovDrExitBeatsTheCplFaultAndTheDr4Ud()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.mov(rax, dr0));
        g.UserMode();
        g.Controls(proc: PrimaryProcessorBasedControls.MovDrExiting);
        g.Launch();
        AssertExit(g, i, VmxExitReason.MovDr, 0x10);

        var h = new VmxGuest();
        var j = Load(h, a => a.mov(rcx, dr4));
        h.W(VmcsField.GuestCr4, h.Cpu.Cr4Value | Cr4.DE);
        h.Controls(proc: PrimaryProcessorBasedControls.MovDrExiting);
        h.Launch();
        AssertExit(h, j, VmxExitReason.MovDr, 0x114);

        var k = new VmxGuest(); // without MOV-DR exiting the CPL 3 access faults in the guest
        Load(k, a => a.mov(rax, dr0));
        k.UserMode();
        k.Launch();
        AssertGuestFault(k, 13);
    }

    // ------------------------------------------------------------------ I/O

    [Fact]
    public void UnconditionalIoExitingReportsSizeDirectionAndPort()
    {
        var cases = new (Action<Assembler> Setup, Action<Assembler> Code, ulong Qual)[]
        {
            (_ => { }, a => a.@in(al, 0x80), 0x0080_0048),
            (a => a.mov(edx, 0x3F8), a => a.@out(dx, eax), 0x03F8_0003),
            (a => a.mov(edx, 0x1234), a => a.@in(ax, dx), 0x1234_0009),
            (_ => { }, a => a.@out(0x71, ax), 0x0071_0041),
        };
        foreach (var (setup, code, qual) in cases)
        {
            var g = new VmxGuest();
            var accesses = new List<PortAccess>();
            g.Cpu.Io.AccessObserved = accesses.Add;
            var i = Load(g, setup, code);
            g.Controls(proc: PrimaryProcessorBasedControls.UnconditionalIoExiting);
            g.Launch();
            AssertExit(g, i, VmxExitReason.IoInstruction, qual);
            Assert.Empty(accesses);
        }
    }

    [Fact]
    public void StringIoExitReportsLinearAddressAndInstructionInformation()
    {
        var g = new VmxGuest();
        var i = Load(g, a => { a.mov(edx, 0x2F8); a.mov(esi, 0x9000); a.mov(ecx, 4); }, a => a.rep.outsb());
        g.Controls(proc: PrimaryProcessorBasedControls.UnconditionalIoExiting);
        g.Launch();
        AssertExit(g, i, VmxExitReason.IoInstruction, 0x02F8_0030, 0x0001_8100); // 64-bit addresses, DS
        Assert.Equal(0x9000UL, g.R(VmcsField.GuestLinearAddress));
        Assert.Equal(4UL, g.Cpu[Gpr.Rcx]);

        var h = new VmxGuest();
        var j = Load(h, a => { a.mov(edx, 0x60); a.mov(edi, 0xA000); }, a => a.insw());
        h.Controls(proc: PrimaryProcessorBasedControls.UnconditionalIoExiting);
        h.Launch();
        AssertExit(h, j, VmxExitReason.IoInstruction, 0x0060_0019, 0x0000_0100); // 2 bytes, IN, string; ES
        Assert.Equal(0xA000UL, h.R(VmcsField.GuestLinearAddress));
    }

    [Fact]
    public void IoBitmapBitClearLetsTheAccessHappenAndBitSetExits()
    {
        var g = new VmxGuest();
        var accesses = new List<PortAccess>();
        g.Cpu.Io.AccessObserved = accesses.Add;
        Load(g, a => { a.mov(al, 0x5A); }, a => a.@out(0x80, al));
        SetIoBitmaps(g, 0x81); // a neighbour's bit only
        g.Controls(proc: PrimaryProcessorBasedControls.UseIoBitmaps | PrimaryProcessorBasedControls.UnconditionalIoExiting);
        g.Launch();
        AssertNoExit(g);
        Assert.Equal(0x5Au, Assert.Single(accesses, x => x.IsWrite).Value);
        Assert.Equal((byte)0x5A, g.S.M.PostCodes.LastCode);

        var h = new VmxGuest();
        var i = Load(h, a => a.mov(edx, 0x7FFF), a => a.@in(ax, dx)); // ports 7FFFh and 8000h: bitmap B decides
        SetIoBitmaps(h, 0x8000);
        h.Controls(proc: PrimaryProcessorBasedControls.UseIoBitmaps);
        h.Launch();
        AssertExit(h, i, VmxExitReason.IoInstruction, 0x7FFF_0009);

        var k = new VmxGuest();
        var j = Load(k, a => a.mov(edx, 0xFFFE), a => a.@in(eax, dx)); // wraps past FFFFh: exits with clear bitmaps
        SetIoBitmaps(k);
        k.Controls(proc: PrimaryProcessorBasedControls.UseIoBitmaps);
        k.Launch();
        AssertExit(k, j, VmxExitReason.IoInstruction, 0xFFFE_000B);
    }

    /// <summary>An OUTS exit comes before the #GP of a source offset beyond the DS limit (SDM Vol. 3C, 25.1.1); 32-bit addressing is reported in the instruction information.</summary>
    [Fact]
    public void OutsExitBeatsTheSegmentLimitFault()
    {
        foreach (bool exiting in new[] { true, false })
        {
            var g = new VmxGuest();
            g.Legacy32();
            var i = Load(g, a => { a.mov(edx, 0x80); a.mov(esi, 0x5000); }, a => a.outsb(), bits32: true);
            g.W(VmcsField.GuestDsLimit, 0xFFF);
            g.W(VmcsField.ExceptionBitmap, 1u << 13);
            g.Controls(proc: exiting ? PrimaryProcessorBasedControls.UnconditionalIoExiting : 0, entry: 0);
            g.Launch();
            if (exiting)
            {
                AssertExit(g, i, VmxExitReason.IoInstruction, 0x0080_0010, 0x0001_8080); // 32-bit addresses, DS
                Assert.Equal(0x5000UL, g.R(VmcsField.GuestLinearAddress));
            }
            else
            {
                Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
                Assert.Equal(0x8000_0B0DUL, g.R(VmcsField.VmExitInterruptionInformation));
            }
        }
    }

    /// <summary>The TSS I/O-permission #GP (CPL &gt; IOPL) takes priority over I/O exits; with IOPL = 3 the CPL 3 access exits.</summary>
    [Fact]
    public void IoPermissionFaultBeatsTheExit()
    {
        var g = new VmxGuest();
        Load(g, a => a.@in(al, 0x80));
        g.S.W16(Sys.TssBase + 0x66, 0x68); // I/O map base beyond the TSS limit: every port denied
        g.UserMode(iopl: 0);
        g.Controls(proc: PrimaryProcessorBasedControls.UnconditionalIoExiting);
        g.Launch();
        AssertGuestFault(g, 13);

        var h = new VmxGuest();
        var i = Load(h, a => a.@in(al, 0x80));
        h.UserMode(iopl: 3);
        h.Controls(proc: PrimaryProcessorBasedControls.UnconditionalIoExiting);
        h.Launch();
        AssertExit(h, i, VmxExitReason.IoInstruction, 0x0080_0048);
    }

    /// <summary>Clears both I/O bitmaps and sets the bits of <paramref name="ports"/>.</summary>
    private static void SetIoBitmaps(VmxGuest g, params int[] ports)
    {
        g.S.M.WriteMemory(VmxGuest.IoBitmaps, new byte[0x2000]);
        foreach (int p in ports)
        {
            ulong at = VmxGuest.IoBitmaps + (ulong)(p >> 3);
            g.S.W8(at, (byte)(g.S.M.ReadMemory(at, 1)[0] | 1 << (p & 7)));
        }
        g.W(VmcsField.IoBitmapA, VmxGuest.IoBitmaps);
        g.W(VmcsField.IoBitmapB, VmxGuest.IoBitmaps + 0x1000);
    }

    /// <summary>
    /// Property over the whole port space and the three access sizes: with "use I/O bitmaps" an IN
    /// exits exactly when a bit of one of its ports is set or the access wraps past FFFFh; otherwise it
    /// reads the port (the guest then reaches its HLT, which exits by "HLT exiting").
    /// </summary>
    [Fact]
    public void IoBitmapsDecideEveryPortAndSize()
    {
        var g = new VmxGuest();
        var labels = new Label[3];
        var resolve = g.Guest(a =>
        {
            for (int s = 0; s < 3; s++)
            {
                labels[s] = a.CreateLabel();
                a.Label(ref labels[s]);
                if (s == 0) a.@in(al, dx); else if (s == 1) a.@in(ax, dx); else a.@in(eax, dx);
                a.hlt();
            }
        });
        g.Controls(proc: PrimaryProcessorBasedControls.UseIoBitmaps | PrimaryProcessorBasedControls.HltExiting);
        SetIoBitmaps(g);
        bool launched = false;
        var gen =
            from port in Gen.OneOf(Gen.Choose(0, 0xFFFF), Gen.Choose(0x7FFC, 0x8003), Gen.Choose(0xFFF8, 0xFFFF))
            from sizeIndex in Gen.Choose(0, 2)
            from bits in Gen.Choose(0, 15)
            select (Port: port, SizeIndex: sizeIndex, Bits: bits);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            int size = 1 << t.SizeIndex;
            var set = Enumerable.Range(0, 4).Where(k => (t.Bits >> k & 1) != 0).Select(k => (t.Port + k) & 0xFFFF).ToArray();
            foreach (int p in set) g.S.W8(VmxGuest.IoBitmaps + (ulong)(p >> 3), (byte)(g.S.M.ReadMemory(VmxGuest.IoBitmaps + (ulong)(p >> 3), 1)[0] | 1 << (p & 7)));
            g.W(VmcsField.GuestRip, resolve(labels[t.SizeIndex]));
            g.W(VmcsField.GuestRflags, 2);
            g.Cpu[Gpr.Rdx] = (ulong)t.Port;
            // RDX of the guest is the processor's RDX at VM entry (GPRs are not part of the VMCS).
            if (launched) g.Resume(); else g.Launch();
            launched = true;
            bool wraps = t.Port + size - 1 > 0xFFFF;
            bool expected = wraps || Enumerable.Range(0, size).Any(k => (t.Bits >> k & 1) != 0);
            var reason = g.ExitReason;
            bool ok = expected
                ? reason == VmxExitReason.IoInstruction && g.R(VmcsField.ExitQualification) == ((ulong)(uint)t.Port << 16 | 8UL | (uint)(size - 1))
                : reason == VmxExitReason.Hlt;
            foreach (int p in set) g.S.W8(VmxGuest.IoBitmaps + (ulong)(p >> 3), 0);
            return ok;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(400));
    }

    // ------------------------------------------------------------------ MSRs

    [Fact]
    public void RdmsrWithoutBitmapsExitsEvenForANonExistentMsr()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.mov(ecx, 0x1234_5678), a => a.rdmsr());
        g.Launch();
        AssertExit(g, i, VmxExitReason.Rdmsr);

        var h = new VmxGuest();
        var j = Load(h, a => a.mov(ecx, 0xC000_0080), a => a.wrmsr());
        h.Launch();
        AssertExit(h, j, VmxExitReason.Wrmsr);
    }

    [Fact]
    public void RdmsrAtCpl3IsGpNotAnExit()
    {
        var g = new VmxGuest();
        Load(g, a => a.mov(ecx, 0x10), a => a.rdmsr());
        g.UserMode();
        g.Launch();
        AssertGuestFault(g, 13);
        Assert.DoesNotContain(g.Transitions, t => t.Kind == VmxTransitionKind.Exit);
    }

    [Fact]
    public void MsrBitmapsSelectReadAndWriteExitsAndOutOfRangeIndicesExit()
    {
        (uint Msr, bool Write, int BitmapOffset, bool Exits)[] cases =
        [
            (0xC000_0080, false, 1024 + (0x80 >> 3), true),   // read-high bit set: RDMSR EFER exits
            (0xC000_0080, true, 1024 + (0x80 >> 3), false),   // only the read bit: WRMSR of the same value runs
            (0x0000_0277, true, 2048 + (0x277 >> 3), true),    // write-low: WRMSR PAT exits
            (0x4000_0000, false, -1, true),                    // outside both ranges: always exits
        ];
        foreach (var (msr, write, offset, exits) in cases)
        {
            var g = new VmxGuest();
            ulong value = g.Cpu.ReadMsr(msr) ?? 0; // WRMSR writes the current value back
            var i = Load(g, a =>
            {
                a.mov(ecx, msr);
                a.mov(eax, (uint)value);
                a.mov(edx, (uint)(value >> 32));
            }, a => { if (write) a.wrmsr(); else a.rdmsr(); });
            g.S.M.WriteMemory(VmxGuest.MsrBitmap, new byte[4096]);
            if (offset >= 0) g.S.W8(VmxGuest.MsrBitmap + (ulong)offset, (byte)(1 << (int)(msr & 7)));
            g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap);
            g.Controls(proc: PrimaryProcessorBasedControls.UseMsrBitmaps);
            g.Launch();
            if (exits) AssertExit(g, i, write ? VmxExitReason.Wrmsr : VmxExitReason.Rdmsr);
            else AssertNoExit(g);
        }
    }

    /// <summary>
    /// Property over the MSR index space (both bitmap ranges, their neighbours and the full 32-bit
    /// range): RDMSR/WRMSR exit exactly when the index is outside both ranges or its bitmap bit is set;
    /// otherwise the instruction runs (an unimplemented MSR then raises #GP, which the exception
    /// bitmap turns into exit 0; an implemented one reaches the HLT, which exits by "HLT exiting").
    /// </summary>
    [Fact]
    public void MsrBitmapsDecideEveryIndex()
    {
        var g = new VmxGuest();
        Label rd = default, wr = default;
        var resolve = g.Guest(a =>
        {
            rd = a.CreateLabel();
            wr = a.CreateLabel();
            a.Label(ref rd);
            a.rdmsr();
            a.hlt();
            a.Label(ref wr);
            a.wrmsr();
            a.hlt();
        });
        g.S.M.WriteMemory(VmxGuest.MsrBitmap, new byte[4096]);
        g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap);
        g.W(VmcsField.ExceptionBitmap, 1u << 13);
        g.Controls(proc: PrimaryProcessorBasedControls.UseMsrBitmaps | PrimaryProcessorBasedControls.HltExiting);
        bool launched = false;
        var index =
            Gen.OneOf(
                Gen.Choose(0, 0x1FFF).Select(i => (uint)i),
                Gen.Choose(0, 0x1FFF).Select(i => 0xC000_0000u + (uint)i),
                Gen.Choose(0x2000, 0x3FFF).Select(i => (uint)i),
                Gen.Choose(0x2000, 0x3FFF).Select(i => 0xC000_0000u + (uint)i),
                Gen.Choose(int.MinValue, int.MaxValue).Select(i => (uint)i));
        var gen =
            from msr in index
            from write in Gen.Elements(false, true)
            from bit in Gen.Elements(false, true)
            from other in Gen.Elements(false, true)
            select (Msr: msr, Write: write, Bit: bit, Other: other);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            bool low = t.Msr <= 0x1FFF, high = t.Msr - 0xC000_0000u <= 0x1FFF;
            ulong byteAt = 0;
            if (low || high)
            {
                // This access's bit, or the same bit of the other direction's bitmap (which must not matter).
                int area = (high ? 1024 : 0) + ((t.Write ^ t.Other) ? 2048 : 0);
                byteAt = VmxGuest.MsrBitmap + (ulong)area + ((t.Msr & 0x1FFF) >> 3);
                if (t.Bit) g.S.W8(byteAt, (byte)(1 << (int)(t.Msr & 7)));
            }
            g.W(VmcsField.GuestRip, resolve(t.Write ? wr : rd));
            g.W(VmcsField.GuestRflags, 2);
            g.Cpu[Gpr.Rcx] = t.Msr;
            // WRMSR of an implemented MSR writes its current value back (accepted, no side effect).
            g.Cpu[Gpr.Rax] = 0;
            g.Cpu[Gpr.Rdx] = 0;
            if (t.Write && g.Cpu.ReadMsr(t.Msr) is ulong current)
            {
                g.Cpu[Gpr.Rax] = (uint)current;
                g.Cpu[Gpr.Rdx] = current >> 32;
            }
            if (launched) g.Resume(); else g.Launch();
            launched = true;
            if (byteAt != 0) g.S.W8(byteAt, 0);
            bool expected = !(low || high) || (t.Bit && !t.Other);
            var reason = g.ExitReason;
            var want = t.Write ? VmxExitReason.Wrmsr : VmxExitReason.Rdmsr;
            return expected ? reason == want : reason is VmxExitReason.Hlt or VmxExitReason.ExceptionOrNmi;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(400));
    }

    // ------------------------------------------------------------------ TSC

    [Fact]
    public void RdtscAndRdtscpExiting()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.rdtsc());
        g.Controls(proc: PrimaryProcessorBasedControls.RdtscExiting);
        g.Launch();
        AssertExit(g, i, VmxExitReason.Rdtsc);

        var h = new VmxGuest();
        var j = Load(h, a => a.rdtscp());
        h.Controls(proc: PrimaryProcessorBasedControls.RdtscExiting, proc2: SecondaryProcessorBasedControls.EnableRdtscp);
        h.Launch();
        AssertExit(h, j, VmxExitReason.Rdtscp);
        Assert.Equal(3UL, j.Length);
    }

    [Fact]
    public void RdtscpWithoutEnableRdtscpIsUdBeforeTheExit()
    {
        var g = new VmxGuest();
        Load(g, a => a.rdtscp());
        g.Controls(proc: PrimaryProcessorBasedControls.RdtscExiting);
        g.Launch();
        AssertGuestFault(g, 6);
    }

    /// <summary>SDM Vol. 3C 26.3 (changes to instruction behaviour in non-root operation): RDPID with "enable RDTSCP" = 0 is #UD; with it = 1 it reads IA32_TSC_AUX and does not exit (issue 11, 2).</summary>
    [Fact]
    public void RdpidWithoutEnableRdtscpIsUd()
    {
        var g = new VmxGuest();
        Load(g, a => a.rdpid(rax));
        g.Controls(proc: PrimaryProcessorBasedControls.RdtscExiting);
        g.Launch();
        AssertGuestFault(g, 6);

        var h = new VmxGuest();
        h.Cpu.TscAux = 0x1234_5678;
        h.Guest(a => { a.mov(rax, -1L); a.rdpid(rax); a.vmcall(); });
        h.Controls(proc: PrimaryProcessorBasedControls.RdtscExiting, proc2: SecondaryProcessorBasedControls.EnableRdtscp);
        h.Launch();
        Assert.Equal(VmxExitReason.Vmcall, h.ExitReason);
        Assert.Equal(0x1234_5678UL, h.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void TsdFaultAtCpl3BeatsRdtscExiting()
    {
        var g = new VmxGuest();
        Load(g, a => a.rdtsc());
        g.W(VmcsField.GuestCr4, g.Cpu.Cr4Value | Cr4.TSD);
        g.UserMode();
        g.Controls(proc: PrimaryProcessorBasedControls.RdtscExiting);
        g.Launch();
        AssertGuestFault(g, 13);
    }

    [Fact]
    public void TscOffsetIsVisibleToRdtscRdtscpAndRdmsr()
    {
        const ulong offset = 1UL << 44;
        var g = new VmxGuest();
        Load(g, a =>
        {
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rdx, rax);
            a.mov(r8, rdx);
            a.rdtscp();
            a.shl(rdx, 32);
            a.or(rdx, rax);
            a.mov(r9, rdx);
            a.mov(ecx, 0x10);
            a.rdmsr();
            a.shl(rdx, 32);
            a.or(rdx, rax);
            a.mov(r10, rdx);
        }, a => a.nop());
        g.Controls(proc: PrimaryProcessorBasedControls.UseTscOffsetting | PrimaryProcessorBasedControls.UseMsrBitmaps, proc2: SecondaryProcessorBasedControls.EnableRdtscp);
        g.S.M.WriteMemory(VmxGuest.MsrBitmap, new byte[4096]); // RDMSR of IA32_TSC does not exit
        g.W(VmcsField.MsrBitmap, VmxGuest.MsrBitmap);
        g.W(VmcsField.TscOffset, offset);
        ulong before = g.Cpu.Tsc;
        g.Launch();
        AssertNoExit(g);
        ulong after = g.Cpu.Tsc;
        foreach (var r in new[] { Gpr.R8, Gpr.R9, Gpr.R10 }) Assert.InRange(g.Cpu[r], before + offset, after + offset);
        Assert.True(g.Cpu[Gpr.R8] < g.Cpu[Gpr.R9] && g.Cpu[Gpr.R9] < g.Cpu[Gpr.R10]);
        Assert.Equal(after, g.Cpu.ReadMsr(0x10)); // the host's TSC is not offset
    }

    [Fact]
    public void TscScalingMultipliesBeforeTheOffset()
    {
        var g = new VmxGuest();
        Load(g, a => { a.rdtsc(); a.shl(rdx, 32); a.or(rdx, rax); a.mov(r8, rdx); }, a => a.nop());
        g.Controls(proc: PrimaryProcessorBasedControls.UseTscOffsetting, proc2: SecondaryProcessorBasedControls.UseTscScaling);
        g.W(VmcsField.TscMultiplier, 3UL << 48);
        g.W(VmcsField.TscOffset, 1000);
        ulong before = g.Cpu.Tsc;
        g.Launch();
        AssertNoExit(g);
        Assert.InRange(g.Cpu[Gpr.R8], 3 * before + 1000, 3 * g.Cpu.Tsc + 1000);
    }

    // ------------------------------------------------------------------ other conditional exits

    [Fact]
    public void HltPauseWbinvdAndRdpmcExiting()
    {
        var cases = new (Action<Assembler> Code, uint Proc, uint Proc2, VmxExitReason Reason)[]
        {
            (a => a.hlt(), PrimaryProcessorBasedControls.HltExiting, 0, VmxExitReason.Hlt),
            (a => a.pause(), PrimaryProcessorBasedControls.PauseExiting, 0, VmxExitReason.Pause),
            (a => a.wbinvd(), 0, SecondaryProcessorBasedControls.WbinvdExiting, VmxExitReason.Wbinvd),
            (a => a.wbnoinvd(), 0, SecondaryProcessorBasedControls.WbinvdExiting, VmxExitReason.Wbinvd),
            (a => a.rdpmc(), PrimaryProcessorBasedControls.RdpmcExiting, 0, VmxExitReason.Rdpmc),
        };
        foreach (var (code, proc, proc2, reason) in cases)
        {
            var g = new VmxGuest();
            var i = Load(g, a => a.xor(ecx, ecx), code);
            g.Controls(proc: proc, proc2: proc2);
            g.Launch();
            AssertExit(g, i, reason);
        }
    }

    [Fact]
    public void WithoutTheControlsPauseAndWbinvdRunAndRdpmcFaults()
    {
        foreach (var code in new Action<Assembler>[] { a => a.pause(), a => a.wbinvd() })
        {
            var g = new VmxGuest();
            Load(g, code);
            g.Launch();
            AssertNoExit(g);
        }
        var h = new VmxGuest();
        Load(h, a => a.rdpmc()); // no counters: #GP(0)
        h.Launch();
        AssertGuestFault(h, 13);

        var k = new VmxGuest(); // CR4.PCE = 0 at CPL 3: #GP before RDPMC exiting
        Load(k, a => a.rdpmc());
        k.UserMode();
        k.Controls(proc: PrimaryProcessorBasedControls.RdpmcExiting);
        k.Launch();
        AssertGuestFault(k, 13);
    }

    [Fact]
    public void HltAtCpl3IsGpBeforeHltExiting()
    {
        var g = new VmxGuest();
        Load(g, a => a.hlt());
        g.UserMode();
        g.Controls(proc: PrimaryProcessorBasedControls.HltExiting);
        g.Launch();
        // The #GP reached the guest handler (at CPL 0), whose own HLT then exits.
        Assert.Equal(13u, g.LastGuestVector);
        Assert.Equal(VmxExitReason.Hlt, g.ExitReason);
        Assert.Equal((ulong)Sys.KCode64, g.R(VmcsField.GuestCsSelector));
    }

    [Fact]
    public void InvlpgExitReportsTheLinearAddress()
    {
        var g = new VmxGuest();
        var i = Load(g, a => a.mov(rax, 0x1234_5000), a => a.invlpg(__[rax + 0x10]));
        g.Controls(proc: PrimaryProcessorBasedControls.InvlpgExiting);
        g.Launch();
        AssertExit(g, i, VmxExitReason.Invlpg, 0x1234_5010);

        var h = new VmxGuest(); // FS base is part of the linear address
        var j = Load(h, a => a.invlpg(__.fs[0x20]));
        h.W(VmcsField.GuestFsBase, 0x7_0000);
        h.Controls(proc: PrimaryProcessorBasedControls.InvlpgExiting);
        h.Launch();
        AssertExit(h, j, VmxExitReason.Invlpg, 0x7_0020);
    }

    [Fact]
    public void InvpcidNeedsEnableInvpcidAndExitsWithInvlpgExiting()
    {
        var g = new VmxGuest();
        Load(g, a => a.mov(eax, 2), a => a.invpcid(rax, __xmmword_ptr[rbx]));
        g.Controls(proc: PrimaryProcessorBasedControls.InvlpgExiting);
        g.Launch();
        AssertGuestFault(g, 6);

        var h = new VmxGuest();
        var i = Load(h, a => { a.mov(eax, 2); a.mov(ebx, (uint)(Sys.Scratch + 0x700)); }, a => a.invpcid(rax, __xmmword_ptr[rbx + 0x30]));
        h.Controls(proc: PrimaryProcessorBasedControls.InvlpgExiting, proc2: SecondaryProcessorBasedControls.EnableInvpcid);
        h.Launch();
        AssertExit(h, i, VmxExitReason.Invpcid, 0x30, 0x01C1_8100); // base RBX, no index, 64-bit, DS, Reg2 RAX

        var k = new VmxGuest(); // enabled, no INVLPG exiting: runs (type 2, all contexts)
        Load(k, a => { a.mov(eax, 2); a.mov(ebx, (uint)(Sys.Scratch + 0x700)); }, a => a.invpcid(rax, __xmmword_ptr[rbx]));
        k.Controls(proc2: SecondaryProcessorBasedControls.EnableInvpcid);
        k.Launch();
        AssertNoExit(k);
    }

    [Fact]
    public void DescriptorTableExitingReportsIdentityAndOperand()
    {
        var cases = new (Action<Assembler> Code, VmxExitReason Reason, ulong Qual, uint Info)[]
        {
            (a => a.sgdt(__[rax + 8]), VmxExitReason.GdtrIdtrAccess, 8, 0x0041_8900),
            (a => a.sidt(__[rbx]), VmxExitReason.GdtrIdtrAccess, 0, 0x11C1_8900),
            (a => a.lgdt(__[rcx + rdx * 2 + 4]), VmxExitReason.GdtrIdtrAccess, 4, 0x2089_8901),
            (a => a.lidt(__[rsp]), VmxExitReason.GdtrIdtrAccess, 0, 0x3241_0900),
            (a => a.sldt(eax), VmxExitReason.LdtrTrAccess, 0, 0x0000_0400),
            (a => a.str(__word_ptr[rcx]), VmxExitReason.LdtrTrAccess, 0, 0x10C1_8100),
            (a => a.lldt(__word_ptr[rdx + 4]), VmxExitReason.LdtrTrAccess, 4, 0x2141_8100),
            (a => a.ltr(si), VmxExitReason.LdtrTrAccess, 0, 0x3000_0430),
        };
        foreach (var (code, reason, qual, info) in cases)
        {
            var g = new VmxGuest();
            var i = Load(g, a => { a.mov(eax, (uint)(Sys.Scratch + 0x700)); a.mov(ebx, eax); a.mov(ecx, eax); a.xor(edx, edx); }, code);
            g.Controls(proc2: SecondaryProcessorBasedControls.DescriptorTableExiting);
            g.Launch();
            AssertExit(g, i, reason, qual, info);
        }
    }

    [Fact]
    public void DescriptorTableInstructionsRunWithoutTheControlAndUmipFaultsFirst()
    {
        var g = new VmxGuest();
        Load(g, a => a.sgdt(__[Sys.Scratch + 0x700]));
        g.Launch();
        AssertNoExit(g);
        Assert.Equal((ulong)Sys.GdtBase, g.S.R64(Sys.Scratch + 0x702));

        var h = new VmxGuest();
        Load(h, a => a.sgdt(__[Sys.Scratch + 0x700]));
        h.W(VmcsField.GuestCr4, h.Cpu.Cr4Value | Cr4.UMIP);
        h.UserMode();
        h.Controls(proc2: SecondaryProcessorBasedControls.DescriptorTableExiting);
        h.Launch();
        AssertGuestFault(h, 13);
    }

    // ------------------------------------------------------------------ task switches

    private const ushort TssA = Sys.Spare, TssBusy = Sys.Spare + 8, TaskGate = Sys.Spare + 0x10, TssSmall = Sys.Spare + 0x18, TssAbsent = Sys.Spare + 0x20;

    /// <summary>A 32-bit guest with TSS descriptors for the task-switch tests (available, busy, too small, not present) and a task gate to the available one.</summary>
    private static VmxGuest TaskGuest()
    {
        var g = new VmxGuest();
        g.Legacy32();
        g.S.SetGdt(TssA, Desc.Tss(0x3100, 0x67));
        g.S.SetGdt(TssBusy, Desc.Tss(0x3200, 0x67) | 2UL << 40);
        g.S.SetGdt(TaskGate, (ulong)TssA << 16 | 5UL << 40 | 1UL << 47);
        g.S.SetGdt(TssSmall, Desc.Tss(0x3300, 0x40));
        g.S.SetGdt(TssAbsent, Desc.Tss(0x3400, 0x67, present: false));
        return g;
    }

    [Fact]
    public void FarJmpAndCallToATssOrTaskGateExitWithTheSelectorAndSource()
    {
        var cases = new (Action<Assembler> Code, ulong Qual)[]
        {
            (a => a.jmp(TssA, 0), TssA | 2UL << 30),
            (a => a.call(TssA, 0), TssA),
            (a => a.jmp(TaskGate, 0), TssA | 2UL << 30),     // through the gate: the TSS selector from the gate
            (a => a.call(TaskGate, 0x1234), TssA),
        };
        foreach (var (code, qual) in cases)
        {
            var g = TaskGuest();
            var i = Load(g, _ => { }, code, bits32: true);
            g.Launch();
            AssertExit(g, i, VmxExitReason.TaskSwitch, qual);
            Assert.Equal(7UL, i.Length);
            Assert.Equal((ulong)Sys.TssSel, g.R(VmcsField.GuestTrSelector)); // nothing of the switch happened
            Assert.Equal(Desc.Tss(0x3100, 0x67), g.S.GdtEntry(TssA));
        }
    }

    [Fact]
    public void IretWithNtExitsWithThePreviousTaskLink()
    {
        var g = TaskGuest();
        g.S.W16(Sys.TssBase, TssBusy); // previous-task link
        var i = Load(g, _ => { }, a => a.iretd(), bits32: true);
        g.W(VmcsField.GuestRflags, 2 | (ulong)RFlags.NT);
        g.Launch();
        AssertExit(g, i, VmxExitReason.TaskSwitch, TssBusy | 1UL << 30);
        Assert.Equal(1UL, i.Length);
        Assert.Equal(VmxGuest.GuestStack, g.R(VmcsField.GuestRsp)); // a task return pops nothing
    }

    /// <summary>The checks that precede a task-switch exit raise their faults (here turned into exception exits by the bitmap): RPL above the TSS DPL (#GP), not present (#NP), limit below 67h (#TS), busy TSS for JMP (#GP), IRET to an available TSS (#TS).</summary>
    [Fact]
    public void TaskSwitchChecksFaultBeforeTheExit()
    {
        var cases = new (Action<Assembler> Code, ulong Rflags, int Vector, ushort Error)[]
        {
            (a => a.jmp((ushort)(TssA | 3), 0), 2, 13, TssA),
            (a => a.call(TssAbsent, 0), 2, 11, TssAbsent),
            (a => a.jmp(TssSmall, 0), 2, 10, TssSmall),
            (a => a.jmp(TssBusy, 0), 2, 13, TssBusy),
            (a => a.iretd(), 2 | (ulong)RFlags.NT, 10, TssA),
        };
        foreach (var (code, rflags, vector, error) in cases)
        {
            var g = TaskGuest();
            g.S.W16(Sys.TssBase, TssA); // link to an available (not busy) TSS: IRET's check fails
            var i = Load(g, _ => { }, code, bits32: true);
            g.W(VmcsField.GuestRflags, rflags);
            g.W(VmcsField.ExceptionBitmap, 1u << vector);
            g.Launch();
            Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
            Assert.Equal(0x8000_0B00UL | (uint)vector, g.R(VmcsField.VmExitInterruptionInformation));
            Assert.Equal((ulong)error, g.R(VmcsField.VmExitInterruptionErrorCode));
            Assert.Equal(i.At, g.R(VmcsField.GuestRip));
        }
    }

    [Fact]
    public void TaskSwitchAttemptsInIa32eModeAreGp()
    {
        var g = new VmxGuest();
        g.S.SetGdt16(TssA, Desc.Tss(0x3100, 0x67), 0);
        Load(g, a => a.jmp(__fword_ptr[Sys.Scratch + 0x700]));
        g.S.W32(Sys.Scratch + 0x700, 0);
        g.S.W16(Sys.Scratch + 0x704, TssA);
        g.W(VmcsField.ExceptionBitmap, 1u << 13);
        g.Launch();
        Assert.Equal(VmxExitReason.ExceptionOrNmi, g.ExitReason);
        Assert.Equal((ulong)TssA, g.R(VmcsField.VmExitInterruptionErrorCode));
    }
}
