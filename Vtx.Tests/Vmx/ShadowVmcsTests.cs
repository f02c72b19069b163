using Iced.Intel;
using Vtx.Tests.SystemArchitecture;
using Vtx.Vmx;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Vmx;

/// <summary>
/// A VmxGuest set up for VMCS shadowing (SDM Vol. 3C, 24.10, 25.1.3, 30.3): a shadow VMCS region
/// (revision identifier with bit 31 set) made active and filled by the host through VMCLEAR/VMPTRLD,
/// zeroed VMREAD and VMWRITE bitmaps, "VMCS shadowing" on and the VMCS link pointer naming the shadow.
/// </summary>
internal sealed class ShadowRig
{
    public const ulong Shadow = 0x7_0000, ReadBitmap = 0x7_1000, WriteBitmap = 0x7_2000;
    private const ulong HostProc = Sys.Code + 0x400, Pointer = Sys.Scratch + 0x10;

    public VmxGuest G { get; }
    public Sys S => G.S;
    public Cpu Cpu => G.Cpu;

    public ShadowRig(CpuModel? model = null, bool shadowing = true, bool link = true)
    {
        G = new VmxGuest(model);
        S.W32(Shadow, G.Caps.RevisionId | 0x8000_0000);
        S.W32(Shadow + 4, 0);
        // The host makes the shadow VMCS active and current, then the ordinary VMCS current again.
        HostRun(a => { a.vmclear(__qword_ptr[Pointer]); a.vmptrld(__qword_ptr[Pointer]); a.hlt(); }, Shadow);
        Assert.Equal(Shadow, Cpu.CurrentVmcsPointer);
        Assert.True(G.Cpu.GetActiveVmcs(Shadow)!.IsShadow);
        HostRun(a => { a.vmptrld(__qword_ptr[Pointer]); a.hlt(); }, VmxGuest.VmcsRegion);
        Assert.Equal(VmxGuest.VmcsRegion, Cpu.CurrentVmcsPointer);
        G.Controls(proc2: shadowing ? SecondaryProcessorBasedControls.VmcsShadowing : 0);
        G.W(VmcsField.VmreadBitmapAddress, ReadBitmap);
        G.W(VmcsField.VmwriteBitmapAddress, WriteBitmap);
        G.W(VmcsField.VmcsLinkPointer, link ? Shadow : ulong.MaxValue);
    }

    /// <summary>The shadow VMCS as the processor holds it (active), read through the host API, not through VMREAD.</summary>
    public Vmcs ShadowVmcs => Cpu.GetActiveVmcs(Shadow)!;

    /// <summary>Runs host code at a spare address with the qword at <see cref="Pointer"/> = <paramref name="pointer"/>; asserts it ended at its HLT with VMsucceed.</summary>
    public void HostRun(Action<Assembler> body, ulong pointer)
    {
        S.W64(Pointer, pointer);
        S.Load(body, HostProc);
        Cpu.Rip = HostProc;
        Cpu.Rflags = 2;
        Cpu.Resume();
        var r = S.Run(20);
        Assert.Equal(StopReason.Halted, r.Reason);
        Assert.Equal(0UL, Cpu.Rflags & (ulong)RFlags.Status);
    }

    /// <summary>Sets (or clears) the bitmap bit of <paramref name="encoding"/> (byte encoding / 8, bit encoding % 8; SDM 24.6.15).</summary>
    public void SetBit(ulong bitmap, uint encoding, bool value)
    {
        ulong at = bitmap + (encoding >> 3);
        byte b = (byte)S.R32(at);
        b = value ? (byte)(b | 1 << (int)(encoding & 7)) : (byte)(b & ~(1 << (int)(encoding & 7)));
        S.W8(at, b);
    }
}

/// <summary>
/// VMCS shadowing (SDM Vol. 3C, 24.10 shadow VMCS, 24.6.15 VMREAD/VMWRITE bitmaps, 25.1.3 the
/// conditional VMREAD/VMWRITE exits, 26.1 and 26.3.1.5 the VM-entry rules, 30.3 VMPTRLD, VMREAD,
/// VMWRITE) and its capability reporting (IA32_VMX_PROCBASED_CTLS2[46], IA32_VMX_MISC[29]).
/// </summary>
public class ShadowVmcsTests
{
    private const uint Shadowing = SecondaryProcessorBasedControls.VmcsShadowing;
    private const ulong Sentinel = 0x5A5A_5A5A_5A5A_5A5A;

    /// <summary>A model whose IA32_VMX_PROCBASED_CTLS2 does not allow VMCS shadowing (an older part).</summary>
    private static CpuModel WithoutShadowing()
    {
        var d = VmxCapabilities.Default.SecondaryProcessorBased;
        return new CpuModel { Vmx = new VmxCapabilities { SecondaryProcessorBased = d with { Allowed1 = d.Allowed1 & ~Shadowing } } };
    }

    /// <summary>Loads guest code: <paramref name="setup"/>, the instruction under test (its address returned), then PUSHFQ; POP RDX; HLT.</summary>
    private static ulong Load(VmxGuest g, Action<Assembler> setup, Action<Assembler> insn)
    {
        Label at = default;
        var resolve = g.Guest(a =>
        {
            a.mov(rcx, Sentinel);
            a.mov(rdx, Sentinel);
            setup(a);
            at = a.CreateLabel();
            a.Label(ref at);
            insn(a);
            a.pushfq();
            a.pop(rdx);
            a.hlt();
        });
        return resolve(at);
    }

    private static void AssertRanToHalt(VmxGuest g)
    {
        Assert.True(g.Cpu.InVmxNonRoot, $"left non-root: {g.Transitions.LastOrDefault()}");
        Assert.Equal(0xFFFF_FFFFu, g.LastGuestVector);
    }

    private static ulong Status(VmxGuest g) => g.Cpu[Gpr.Rdx] & (ulong)RFlags.Status;

    // ------------------------------------------------------------------ capabilities

    [Fact]
    public void CapabilityMsrsOfferShadowingAndVmwriteToExitInformation()
    {
        var c = new VmxCapabilities();
        Assert.True(c.TryReadMsr(VmxMsr.ProcBasedCtls2, out ulong ctls2));
        Assert.Equal(1UL, (ctls2 >> (32 + 14)) & 1);   // allowed-1 of "VMCS shadowing" (A.3.3)
        Assert.Equal(0UL, ctls2 & Shadowing);          // and it may be 0
        Assert.True(c.TryReadMsr(VmxMsr.Misc, out ulong misc));
        Assert.Equal(1UL, (misc >> 29) & 1);           // VMWRITE may write VM-exit information fields (A.6)
        Assert.True(c.Offers(VmxFeature.VmcsShadowing));
        Assert.True(c.Supports(VmcsField.VmreadBitmapAddress) && c.Supports(VmcsField.VmwriteBitmapAddress));
    }

    [Fact]
    public void AModelWithoutShadowingRefusesShadowVmcsesTheBitmapFieldsAndTheControl()
    {
        var m = WithoutShadowing();
        Assert.True(m.Vmx!.TryReadMsr(VmxMsr.ProcBasedCtls2, out ulong ctls2));
        Assert.Equal(0UL, (ctls2 >> (32 + 14)) & 1);
        Assert.False(m.Vmx.Supports(VmcsField.VmreadBitmapAddress));
        Assert.Empty(m.Vmx.Validate());

        // VMPTRLD of a region with the shadow-VMCS indicator: VMfailValid(11) (SDM 30.3 VMPTRLD).
        var g = new VmxGuest(m);
        g.S.W32(ShadowRig.Shadow, g.Caps.RevisionId | 0x8000_0000);
        g.S.W64(Sys.Scratch + 0x10, ShadowRig.Shadow);
        g.S.Load(a => { a.vmptrld(__qword_ptr[Sys.Scratch + 0x10]); a.hlt(); }, Sys.Code + 0x400);
        g.Cpu.Rip = Sys.Code + 0x400;
        g.Cpu.Resume();
        g.S.Run(5);
        Assert.Equal((ulong)RFlags.ZF, g.Cpu.Rflags & (ulong)RFlags.Status);
        Assert.Equal((ulong)VmInstructionError.VmptrldIncorrectRevisionId, g.R(VmcsField.VmInstructionError));
        Assert.Equal(VmxGuest.VmcsRegion, g.Cpu.CurrentVmcsPointer);

        // VMREAD of the VMREAD-bitmap field: unsupported component, VMfailValid(12).
        g.S.Load(a => { a.mov(rbx, 0x2026); a.vmread(rax, rbx); a.hlt(); }, Sys.Code + 0x400);
        g.Cpu.Rip = Sys.Code + 0x400;
        g.Cpu.Resume();
        g.S.Run(5);
        Assert.Equal((ulong)RFlags.ZF, g.Cpu.Rflags & (ulong)RFlags.Status);
        Assert.Equal((ulong)VmInstructionError.UnsupportedVmcsComponent, g.R(VmcsField.VmInstructionError));

        // The control itself: VMfailValid(7) by the allowed settings of IA32_VMX_PROCBASED_CTLS2.
        var h = new VmxGuest(m);
        h.Controls(proc2: Shadowing);
        h.Launch();
        Assert.Equal("control.secondary.allowed-settings", h.Cpu.LastVmEntryFailure?.Check);
    }

    // ------------------------------------------------------------------ root operation: VMPTRLD, VMPTRST, VMLAUNCH

    [Fact]
    public void AShadowVmcsCanBeMadeCurrentReadAndWrittenButNotEntered()
    {
        var r = new ShadowRig();
        var g = r.G;
        // VMPTRLD the shadow, VMWRITE/VMREAD a field, VMPTRST (SDM 30.3): all VMsucceed.
        g.S.W64(Sys.Scratch + 0x10, ShadowRig.Shadow);
        g.S.Load(a =>
        {
            a.vmptrld(__qword_ptr[Sys.Scratch + 0x10]);
            a.mov(rbx, 0x681E);            // guest RIP
            a.mov(rax, 0x1234_5678_9ABCUL);
            a.vmwrite(rbx, rax);
            a.vmread(rcx, rbx);
            a.vmptrst(__qword_ptr[Sys.Scratch + 0x18]);
            a.pushfq();
            a.pop(rdx);
            a.vmlaunch();                  // a shadow VMCS cannot be entered: VMfailInvalid (26.1)
            a.hlt();
        }, Sys.Code + 0x400);
        g.Cpu.Rip = Sys.Code + 0x400;
        g.Cpu.Rflags = 2;
        g.Cpu.Resume();
        g.S.Run(20);
        Assert.Equal(0UL, g.Cpu[Gpr.Rdx] & (ulong)RFlags.Status);
        Assert.Equal(0x1234_5678_9ABCUL, g.Cpu[Gpr.Rcx]);
        Assert.Equal(ShadowRig.Shadow, g.S.R64(Sys.Scratch + 0x18));
        Assert.Equal((ulong)RFlags.CF, g.Cpu.Rflags & (ulong)RFlags.Status);
        Assert.False(g.Cpu.InVmxNonRoot);
        Assert.Equal(0UL, r.ShadowVmcs.Read(VmcsField.VmInstructionError)); // VMfailInvalid records nothing
        Assert.Equal(0x1234_5678_9ABCUL, r.ShadowVmcs.Read(VmcsField.GuestRip));
        Assert.Equal(VmxTransitionKind.EntryFail, Assert.Single(g.Transitions).Kind);
    }

    [Fact]
    public void VmclearWritesTheShadowBackAndVmptrldFindsItAgain()
    {
        var r = new ShadowRig();
        r.ShadowVmcs.Write(VmcsField.GuestRsp, 0xFEED);
        r.HostRun(a => { a.vmclear(__qword_ptr[Sys.Scratch + 0x10]); a.hlt(); }, ShadowRig.Shadow);
        Assert.Null(r.Cpu.GetActiveVmcs(ShadowRig.Shadow));
        Assert.Equal(r.G.Caps.RevisionId | 0x8000_0000, r.S.R32(ShadowRig.Shadow)); // VMCLEAR keeps the indicator
        r.HostRun(a => { a.vmptrld(__qword_ptr[Sys.Scratch + 0x10]); a.hlt(); }, ShadowRig.Shadow);
        Assert.True(r.ShadowVmcs.IsShadow);
        Assert.Equal(0xFEEDUL, r.ShadowVmcs.Read(VmcsField.GuestRsp));
    }

    // ------------------------------------------------------------------ non-root VMREAD/VMWRITE

    [Fact]
    public void VmreadInNonRootReadsTheShadowVmcsWhenItsBitmapBitIsClear()
    {
        var r = new ShadowRig();
        r.ShadowVmcs.Write(VmcsField.GuestRip, 0xABCD_EF01_2345UL);
        Load(r.G, a => a.mov(rbx, 0x681E), a => a.vmread(rcx, rbx));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal(0xABCD_EF01_2345UL, r.Cpu[Gpr.Rcx]);
        Assert.Equal(0UL, Status(r.G));
        Assert.Equal(VmxTransitionKind.Entry, Assert.Single(r.G.Transitions).Kind);
    }

    [Fact]
    public void VmreadToMemoryAndHighAccessOfAShadowField()
    {
        var r = new ShadowRig();
        r.ShadowVmcs.Write(VmcsField.TscOffset, 0x1122_3344_5566_7788UL);
        Load(r.G, a => { a.mov(rbx, 0x2011); a.mov(rsi, 0x7_3000); }, a => a.vmread(__qword_ptr[rsi], rbx)); // TSC offset, high
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal(0x1122_3344UL, r.S.R64(0x7_3000));
        Assert.Equal(0UL, Status(r.G));
    }

    [Fact]
    public void VmwriteInNonRootWritesTheShadowVmcsNotTheCurrentOne()
    {
        var r = new ShadowRig();
        ulong ordinaryRsp = r.G.R(VmcsField.GuestRsp);
        Load(r.G, a => { a.mov(rbx, 0x681C); a.mov(rax, 0x7777_0000UL); }, a => a.vmwrite(rbx, rax)); // guest RSP
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal(0UL, Status(r.G));
        Assert.Equal(0x7777_0000UL, r.ShadowVmcs.Read(VmcsField.GuestRsp));
        Assert.Equal(ordinaryRsp, r.G.R(VmcsField.GuestRsp));
    }

    [Fact]
    public void VmwriteOfA16BitShadowFieldTruncatesAndAnExitInformationFieldIsWritableWithMisc29()
    {
        var r = new ShadowRig();
        Load(r.G, a =>
        {
            a.mov(rbx, 0x0800);            // guest ES selector (16-bit)
            a.mov(rax, 0xFFFF_1234UL);
            a.vmwrite(rbx, rax);
            a.mov(rbx, 0x4402);            // exit reason: read-only data, writable with IA32_VMX_MISC[29]
            a.mov(rax, 0x30);
        }, a => a.vmwrite(rbx, rax));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal(0UL, Status(r.G));
        Assert.Equal(0x1234UL, r.ShadowVmcs.Read(VmcsField.GuestEsSelector));
        Assert.Equal(0x30UL, r.ShadowVmcs.Read(VmcsField.ExitReason));
    }

    [Fact]
    public void WithoutMisc29AShadowedVmwriteToAnExitInformationFieldIsVmfailValid13()
    {
        var r = new ShadowRig(new CpuModel { Vmx = new VmxCapabilities { VmwriteToExitInformation = false } });
        Load(r.G, a => { a.mov(rbx, 0x4402); a.mov(rax, 0x30); }, a => a.vmwrite(rbx, rax));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal((ulong)RFlags.ZF, Status(r.G));
        Assert.Equal(0UL, r.ShadowVmcs.Read(VmcsField.ExitReason));
        // VMfailValid records the error in the current VMCS, the ordinary one (SDM 30.2).
        Assert.Equal((ulong)VmInstructionError.VmwriteReadOnlyComponent, r.G.R(VmcsField.VmInstructionError));
    }

    [Fact]
    public void AShadowedVmreadOfAnUnsupportedEncodingIsVmfailValid12InTheCurrentVmcs()
    {
        var r = new ShadowRig();
        Load(r.G, a => a.mov(rbx, 0x7FFE), a => a.vmread(rcx, rbx));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal((ulong)RFlags.ZF, Status(r.G));
        Assert.Equal(Sentinel, r.Cpu[Gpr.Rcx]);
        Assert.Equal((ulong)VmInstructionError.UnsupportedVmcsComponent, r.G.R(VmcsField.VmInstructionError));
        Assert.Equal(0UL, r.ShadowVmcs.Read(VmcsField.VmInstructionError));
    }

    [Fact]
    public void WithTheLinkPointerFfffShadowedAccessesAreVmfailInvalid()
    {
        var r = new ShadowRig(link: false);
        Load(r.G, a => a.mov(rbx, 0x681E), a => a.vmread(rcx, rbx));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal((ulong)RFlags.CF, Status(r.G));
        Assert.Equal(Sentinel, r.Cpu[Gpr.Rcx]);
        Assert.Equal(0UL, r.G.R(VmcsField.VmInstructionError));
    }

    [Theory]
    [InlineData(false, 0x681Eu)] // VMREAD, bitmap bit set
    [InlineData(true, 0x681Cu)]  // VMWRITE, bitmap bit set
    public void ABitmapBitOfOneMakesTheInstructionExit(bool write, uint encoding)
    {
        var r = new ShadowRig();
        r.SetBit(write ? ShadowRig.WriteBitmap : ShadowRig.ReadBitmap, encoding, true);
        r.ShadowVmcs.Write(new VmcsField(encoding), 0x42);
        ulong at = Load(r.G, a => { a.mov(rbx, encoding); a.mov(rax, 0x99); }, a => { if (write) a.vmwrite(rbx, rax); else a.vmread(rcx, rbx); });
        r.G.Launch();
        Assert.Equal(write ? VmxExitReason.Vmwrite : VmxExitReason.Vmread, r.G.ExitReason);
        Assert.Equal(at, r.G.R(VmcsField.GuestRip));
        Assert.Equal(0x42UL, r.ShadowVmcs.Read(new VmcsField(encoding)));
        Assert.Equal(Sentinel, r.Cpu[Gpr.Rcx]);
    }

    [Fact]
    public void TheOtherBitmapDoesNotDecide()
    {
        // VMREAD consults only the VMREAD bitmap: a set VMWRITE-bitmap bit for the same field changes nothing.
        var r = new ShadowRig();
        r.SetBit(ShadowRig.WriteBitmap, 0x681E, true);
        r.SetBit(ShadowRig.ReadBitmap, 0x681F, true);   // the neighbouring bit (the high access of the field)
        r.ShadowVmcs.Write(VmcsField.GuestRip, 0x77);
        Load(r.G, a => a.mov(rbx, 0x681E), a => a.vmread(rcx, rbx));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal(0x77UL, r.Cpu[Gpr.Rcx]);
    }

    [Theory]
    [InlineData(0x8000UL)]                 // bit 15
    [InlineData(0x1_0000_681EUL)]          // bit 32 (a 64-bit encoding register)
    [InlineData(0x8000_0000_0000_681EUL)]
    public void AnEncodingAboveBit14Exits(ulong encoding)
    {
        var r = new ShadowRig();
        ulong at = Load(r.G, a => a.mov(rbx, encoding), a => a.vmread(rcx, rbx));
        r.G.Launch();
        Assert.Equal(VmxExitReason.Vmread, r.G.ExitReason);
        Assert.Equal(at, r.G.R(VmcsField.GuestRip));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OutsideShadowingVmreadAndVmwriteAlwaysExit(bool write)
    {
        // Without "VMCS shadowing" the link pointer must not name a shadow VMCS (26.3.1.5): FFFF..FF here.
        var r = new ShadowRig(shadowing: false, link: false);
        ulong at = Load(r.G, a => a.mov(rbx, 0x681E), a => { if (write) a.vmwrite(rbx, rax); else a.vmread(rcx, rbx); });
        r.G.Launch();
        Assert.Equal(write ? VmxExitReason.Vmwrite : VmxExitReason.Vmread, r.G.ExitReason);
        Assert.Equal(at, r.G.R(VmcsField.GuestRip));
    }

    [Fact]
    public void AtCpl3AShadowedAccessIsGpButABitmapExitComesFirst()
    {
        // SDM 30.3 VMREAD: the exit decision precedes the CPL check.
        var r = new ShadowRig();
        r.G.W(VmcsField.ExceptionBitmap, 0);
        Load(r.G, a => a.mov(rbx, 0x681E), a => a.vmread(rcx, rbx));
        r.G.UserMode();
        r.G.Launch();
        Assert.Equal(13u, r.G.LastGuestVector);   // #GP(0) through the guest IDT

        var q = new ShadowRig();
        q.SetBit(ShadowRig.ReadBitmap, 0x681E, true);
        ulong at = Load(q.G, a => a.mov(rbx, 0x681E), a => a.vmread(rcx, rbx));
        q.G.UserMode();
        q.G.Launch();
        Assert.Equal(VmxExitReason.Vmread, q.G.ExitReason);
        Assert.Equal(at, q.G.R(VmcsField.GuestRip));
    }

    [Fact]
    public void ACompatibilityModeGuestIsUdBeforeAnyShadowing()
    {
        var r = new ShadowRig();
        r.G.Guest32(a => { a.mov(ebx, 0x681E); a.vmread(ecx, ebx); a.hlt(); });
        r.G.GuestSegment(SegmentRegister.Cs, Sys.KCode32); // IA-32e mode, CS.L = 0: VMX instructions #UD (30.3)
        r.G.Launch();
        Assert.Equal(6u, r.G.LastGuestVector);
    }

    [Fact]
    public void AShadowVmcsNotActiveIsReadFromItsRegion()
    {
        // The host VMCLEARs the shadow after filling it (as hypervisors do); the processor loads it again when L1 reads it.
        var r = new ShadowRig();
        r.ShadowVmcs.Write(VmcsField.GuestCr3, 0x5000);
        r.HostRun(a => { a.vmclear(__qword_ptr[Sys.Scratch + 0x10]); a.hlt(); }, ShadowRig.Shadow);
        r.HostRun(a => { a.vmptrld(__qword_ptr[Sys.Scratch + 0x10]); a.hlt(); }, VmxGuest.VmcsRegion);
        Assert.Null(r.Cpu.GetActiveVmcs(ShadowRig.Shadow));
        Load(r.G, a => a.mov(rbx, 0x6802), a => a.vmread(rcx, rbx));
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Equal(0x5000UL, r.Cpu[Gpr.Rcx]);
    }

    // ------------------------------------------------------------------ VM-entry checks on the link pointer (26.3.1.5)

    [Theory]
    [InlineData(true, false, 0u)]   // shadowing, link names an ordinary VMCS
    [InlineData(false, true, 0u)]   // no shadowing, link names a shadow VMCS
    [InlineData(true, true, 1u)]    // shadowing, wrong revision identifier
    public void TheLinkPointerMustNameAVmcsOfTheRightKind(bool shadowing, bool shadowIndicator, uint revisionDelta)
    {
        var r = new ShadowRig(shadowing: shadowing);
        r.S.W32(ShadowRig.Shadow + 0x3000, (r.G.Caps.RevisionId + revisionDelta) | (shadowIndicator ? 0x8000_0000 : 0));
        r.G.W(VmcsField.VmcsLinkPointer, ShadowRig.Shadow + 0x3000);
        r.G.Launch();
        var f = r.Cpu.LastVmEntryFailure;
        Assert.Equal("guest.vmcs-link-pointer", f?.Check);
        VmxConformance.AssertEntryFailure(r.G, 33, 4);
    }

    [Fact]
    public void AValidShadowLinkPointerEnters()
    {
        var r = new ShadowRig();
        Load(r.G, _ => { }, a => a.nop());
        r.G.Launch();
        AssertRanToHalt(r.G);
        Assert.Null(r.Cpu.LastVmEntryFailure);
    }
}
