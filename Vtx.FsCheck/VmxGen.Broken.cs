using FsCheck;
using FsCheck.Fluent;
using Vtx.Kit;
using Vtx.Vmx;
using F = Vtx.Vmx.VmcsField;

namespace Vtx.Kit.Generators;

public static partial class VmxGen
{
    /// <summary>What a breaker knows: the model, its capabilities, and the test bed's template values it starts from.</summary>
    private sealed class Ctx(CpuModel model)
    {
        public readonly CpuModel Model = model;
        public readonly VmxCapabilities Caps = model.Vmx ?? throw new ArgumentException("the model offers no VMX", nameof(model));
        public VmxControlSet Base => VmxControlSet.LongModeGuest.Adjust(Caps);
        public VmxAllowedSettings Allowed(VmxControlKind k) => VmxControlSet.AllowedSettings(Caps, k);
        public ulong PhysMask => (1UL << Model.PhysicalAddressBits) - 1;
        /// <summary>The test bed's host CR0/CR4 (VmxLab's firmware, CR4.VMXE added for VMXON).</summary>
        public const ulong HostCr0 = Cr0.PE | Cr0.NE | Cr0.ET | Cr0.PG, HostCr4 = Cr4.PAE | Cr4.VMXE;
        public ulong T(F f) => VmxTestBed.GuestTemplate.GetOrDefault(f, 0);
        /// <summary>A patch that sets control field <paramref name="kind"/> of the template to <paramref name="value"/>.</summary>
        public VmcsPatch Ctl(VmxControlKind kind, uint value) => VmcsPatch.Empty.With(VmxControlSet.FieldOf(kind), value);
        /// <summary>Template controls with secondary controls <paramref name="proc2"/> (and "activate secondary controls").</summary>
        public VmcsPatch Secondary(uint proc2) =>
            Ctl(VmxControlKind.PrimaryProcessorBased, Base.PrimaryProcessorBased | PrimaryProcessorBasedControls.ActivateSecondaryControls)
                .With(F.SecondaryProcBasedVmExecControls, proc2);
        public bool CanPrimary(uint bits) => Allowed(VmxControlKind.PrimaryProcessorBased).MayBeOne(bits);
        public bool CanSecondary(uint bits) => CanPrimary(PrimaryProcessorBasedControls.ActivateSecondaryControls) && Allowed(VmxControlKind.SecondaryProcessorBased).MayBeOne(bits);
        /// <summary>An address that fails the "aligned to <paramref name="align"/> and below MAXPHYADDR" rule.</summary>
        public Gen<ulong> BadAddress(ulong align) => UInt64.Where(v => (v & (align - 1)) != 0 || (v & ~PhysMask) != 0);
        public Gen<ulong> AbovePhys => NonzeroIn(~PhysMask);
    }

    private sealed record Breaker(VmEntryCheck Check, Func<Ctx, bool> Applies, Func<Ctx, Gen<VmcsPatch>> Make);

    private static readonly List<Breaker> s_breakers = BuildBreakers();

    /// <summary>
    /// The named VM-entry checks <see cref="BrokenState"/> can break on a processor <paramref name="model"/>
    /// (default: <c>new CpuModel()</c>): control-field checks (26.2.1), host-state checks (26.2.2-26.2.4) and
    /// guest-state checks (26.3.1) whose precondition the model's capabilities allow. Not covered: the checks
    /// that need memory contents (virtual-APIC TPR, MSR-load entries, PAE PDPTEs, posted-interrupt descriptor) or
    /// a mode the template cannot take in one step (type-3 CS, real-address guest).
    /// </summary>
    public static IReadOnlyList<VmEntryCheck> BreakableChecks(CpuModel? model = null)
    {
        var ctx = new Ctx(model ?? new CpuModel());
        return s_breakers.Where(b => b.Applies(ctx)).Select(b => b.Check).Distinct().ToList();
    }

    /// <summary>
    /// States that fail exactly one named VM-entry check: a check picked from <see cref="BreakableChecks"/>, and a
    /// patch over <see cref="VmxTestBed"/>'s template (which passes every check) that breaks it with full-range bad
    /// values and changes nothing an earlier check reads (SDM Vol. 3C, 26.2-26.3).
    /// </summary>
    public static Gen<BrokenVmcs> BrokenState(CpuModel? model = null)
    {
        var ctx = new Ctx(model ?? new CpuModel());
        var usable = s_breakers.Where(b => b.Applies(ctx)).ToArray();
        return from b in Gen.Elements(usable) from p in b.Make(ctx) select new BrokenVmcs(b.Check, p);
    }

    /// <summary>States that fail exactly <paramref name="check"/> (see <see cref="BrokenState"/>).</summary>
    /// <exception cref="ArgumentException">The generator cannot break <paramref name="check"/> on this model.</exception>
    public static Gen<BrokenVmcs> BrokenStateFor(VmEntryCheck check, CpuModel? model = null)
    {
        ArgumentNullException.ThrowIfNull(check);
        var ctx = new Ctx(model ?? new CpuModel());
        var usable = s_breakers.Where(b => b.Check == check && b.Applies(ctx)).ToArray();
        if (usable.Length == 0) throw new ArgumentException($"no generator breaks {check.Name} on this model", nameof(check));
        return from b in Gen.Elements(usable) from p in b.Make(ctx) select new BrokenVmcs(b.Check, p);
    }

    private static List<Breaker> BuildBreakers()
    {
        var list = new List<Breaker>();
        void Add(VmEntryCheck c, Func<Ctx, Gen<VmcsPatch>> make, Func<Ctx, bool>? applies = null) => list.Add(new Breaker(c, applies ?? (_ => true), make));
        const ulong IF = 0x200, TF = 0x100;

        // ---- 26.2.1 control fields (VMfailValid 7)
        foreach (var (kind, check) in new[]
                 {
                     (VmxControlKind.PinBased, VmEntryChecks.ControlPinBasedAllowedSettings),
                     (VmxControlKind.PrimaryProcessorBased, VmEntryChecks.ControlPrimaryAllowedSettings),
                     (VmxControlKind.Exit, VmEntryChecks.ControlExitAllowedSettings),
                     (VmxControlKind.Entry, VmEntryChecks.ControlEntryAllowedSettings),
                 })
        {
            Add(check, c => ViolateAllowed(c.Allowed(kind)).Select(v => c.Ctl(kind, v)), c => ViolationBits(c.Allowed(kind)).Length > 0);
        }
        Add(VmEntryChecks.ControlSecondaryAllowedSettings,
            c => from r in UInt32 from b in Gen.Elements(ViolationBits(c.Allowed(VmxControlKind.SecondaryProcessorBased) with { Allowed0 = 0 }))
                 select c.Secondary(r & c.Allowed(VmxControlKind.SecondaryProcessorBased).Allowed1 | b),
            c => c.CanPrimary(PrimaryProcessorBasedControls.ActivateSecondaryControls) && ~c.Allowed(VmxControlKind.SecondaryProcessorBased).Allowed1 != 0);
        Add(VmEntryChecks.ControlCr3TargetCount, c => UInt32.Where(v => v > (uint)c.Caps.Cr3TargetCount).Select(v => VmcsPatch.Empty.With(F.Cr3TargetCount, v)));
        Add(VmEntryChecks.ControlVirtualNmisNeedNmiExiting,
            c => Gen.Constant(c.Ctl(VmxControlKind.PinBased, c.Base.PinBased | PinBasedControls.VirtualNmis)),
            c => c.Allowed(VmxControlKind.PinBased).MayBeOne(PinBasedControls.VirtualNmis) && c.Allowed(VmxControlKind.PinBased).MayBeZero(PinBasedControls.NmiExiting));
        Add(VmEntryChecks.ControlNmiWindowNeedVirtualNmis,
            c => Gen.Constant(c.Ctl(VmxControlKind.PrimaryProcessorBased, c.Base.PrimaryProcessorBased | PrimaryProcessorBasedControls.NmiWindowExiting)),
            c => c.CanPrimary(PrimaryProcessorBasedControls.NmiWindowExiting));
        foreach (var (check, control, field) in new[]
                 {
                     (VmEntryChecks.ControlIoBitmapA, PrimaryProcessorBasedControls.UseIoBitmaps, F.IoBitmapA),
                     (VmEntryChecks.ControlIoBitmapB, PrimaryProcessorBasedControls.UseIoBitmaps, F.IoBitmapB),
                     (VmEntryChecks.ControlMsrBitmap, PrimaryProcessorBasedControls.UseMsrBitmaps, F.MsrBitmap),
                     (VmEntryChecks.ControlVirtualApicAddress, PrimaryProcessorBasedControls.UseTprShadow, F.VirtualApicAddress),
                 })
            Add(check, c => c.BadAddress(0x1000).Select(a => c.Ctl(VmxControlKind.PrimaryProcessorBased, c.Base.PrimaryProcessorBased | control).With(field, a)),
                c => c.CanPrimary(control));
        Add(VmEntryChecks.ControlTprThresholdReserved,
            c => NonzeroIn(0xFFFF_FFF0).Select(t => c.Ctl(VmxControlKind.PrimaryProcessorBased, c.Base.PrimaryProcessorBased | PrimaryProcessorBasedControls.UseTprShadow).With(F.TprThreshold, t)),
            c => c.CanPrimary(PrimaryProcessorBasedControls.UseTprShadow));
        Add(VmEntryChecks.ControlVpidNonzero, c => Gen.Constant(c.Secondary(SecondaryProcessorBasedControls.EnableVpid).With(F.VirtualProcessorId, 0)),
            c => c.CanSecondary(SecondaryProcessorBasedControls.EnableVpid));
        Add(VmEntryChecks.ControlEptp,
            c => Gen.OneOf(
                    Gen.Elements<ulong>(1UL, 2, 3, 4, 5, 7).Select(t => VmxTestBed.EptTables | 3UL << 3 | t),                      // memory type not UC/WB
                    Gen.Elements<ulong>(0UL, 1, 2, 4, 5, 6, 7).Select(l => VmxTestBed.EptTables | l << 3 | 6),                     // walk length not 4
                    NonzeroIn(0xF80).Select(r => VmxTestBed.EptTables | 3UL << 3 | 6 | r),                                   // reserved bits 11:7
                    c.AbovePhys.Select(h => VmxTestBed.EptTables | 3UL << 3 | 6 | h))                                        // beyond MAXPHYADDR
                .Select(e => c.Secondary(SecondaryProcessorBasedControls.EnableEpt).With(F.EptPointer, e)),
            c => c.CanSecondary(SecondaryProcessorBasedControls.EnableEpt) && (c.Caps.EptVpidCapabilities & EptVpidCapability.PageWalkLength5) == 0
                 && (c.Caps.EptVpidCapabilities & (EptVpidCapability.UncacheableType | EptVpidCapability.WriteBackType)) == (EptVpidCapability.UncacheableType | EptVpidCapability.WriteBackType));
        Add(VmEntryChecks.ControlEptRequired, c => Gen.Constant(c.Secondary(SecondaryProcessorBasedControls.UnrestrictedGuest)),
            c => c.CanSecondary(SecondaryProcessorBasedControls.UnrestrictedGuest));
        Add(VmEntryChecks.ControlExitSavePreemptionTimer,
            c => Gen.Constant(c.Ctl(VmxControlKind.Exit, c.Base.Exit | ExitControls.SavePreemptionTimerValue)),
            c => c.Allowed(VmxControlKind.Exit).MayBeOne(ExitControls.SavePreemptionTimerValue) && c.Allowed(VmxControlKind.PinBased).MayBeZero(PinBasedControls.ActivatePreemptionTimer));
        foreach (var (check, count, address) in new[]
                 {
                     (VmEntryChecks.ControlExitMsrStoreArea, F.VmExitMsrStoreCount, F.VmExitMsrStoreAddress),
                     (VmEntryChecks.ControlExitMsrLoadArea, F.VmExitMsrLoadCount, F.VmExitMsrLoadAddress),
                     (VmEntryChecks.ControlEntryMsrLoadArea, F.VmEntryMsrLoadCount, F.VmEntryMsrLoadAddress),
                 })
            Add(check, c => from n in UInt32.Where(v => v != 0) from a in c.BadAddress(16) select VmcsPatch.Empty.With(count, n).With(address, a));
        Add(VmEntryChecks.ControlEntrySmm,
            c => Gen.Elements(new[] { EntryControls.EntryToSmm, EntryControls.DeactivateDualMonitorTreatment }.Where(b => c.Allowed(VmxControlKind.Entry).MayBeOne(b)).ToArray())
                .Select(b => c.Ctl(VmxControlKind.Entry, c.Base.Entry | b)),
            c => c.Allowed(VmxControlKind.Entry).MayBeOne(EntryControls.EntryToSmm) || c.Allowed(VmxControlKind.Entry).MayBeOne(EntryControls.DeactivateDualMonitorTreatment));
        static VmcsPatch Inject(uint info) => VmcsPatch.Empty.With(F.VmEntryInterruptionInformation, info);
        Add(VmEntryChecks.ControlInjectionType, c => from v in Gen.Choose(0, 255) from e in Gen.Elements<uint>(0u, 0x800u) select Inject(0x8000_0100u | (uint)v | e));
        Add(VmEntryChecks.ControlInjectionVector, c => Gen.OneOf(
            Gen.Choose(0, 255).Where(v => v != 2).Select(v => Inject(0x8000_0200u | (uint)v)),               // NMI not vector 2
            Gen.Choose(32, 255).Select(v => Inject(0x8000_0300u | (uint)v))));                               // hardware exception above 31
        Add(VmEntryChecks.ControlInjectionDeliverErrorCode, c => Gen.OneOf(
            Gen.Choose(0, 255).Select(v => Inject(0x8000_0800u | (uint)v)),                                  // external interrupt with an error code
            Gen.Constant(Inject(0x8000_0A02u)),                                                              // NMI with an error code
            from t in Gen.Elements(4u, 6u) from v in Gen.Choose(0, 255)
            select Inject(0x8000_0800u | t << 8 | (uint)v).With(F.VmEntryInstructionLength, 1)));            // software event with one
        Add(VmEntryChecks.ControlInjectionReserved, c => from v in Gen.Choose(0, 255) from r in NonzeroIn(0x7FFF_F000) select Inject(0x8000_0000u | (uint)v | (uint)r));
        Add(VmEntryChecks.ControlInjectionErrorCodeReserved,
            c => NonzeroIn(0xFFFF_0000).Select(e => Inject(0x8000_0B0Du).With(F.VmEntryExceptionErrorCode, e)));
        Add(VmEntryChecks.ControlInjectionInstructionLength,
            c => from v in Gen.Choose(0, 255) from t in Gen.Elements(4u, 5u, 6u) from l in UInt32.Where(x => x > 15)
                 select Inject(0x8000_0000u | t << 8 | (uint)v).With(F.VmEntryInstructionLength, l));

        // ---- 26.2.2-26.2.4 host state (VMfailValid 8)
        Add(VmEntryChecks.HostCr0FixedBits, c => Gen.OneOf(
            Gen.Elements(Cr0.PE, Cr0.NE, Cr0.PG).Select(b => VmcsPatch.Empty.With(F.HostCr0, Ctx.HostCr0 & ~b)),
            NonzeroIn(~c.Caps.Cr0Fixed1).Select(b => VmcsPatch.Empty.With(F.HostCr0, Ctx.HostCr0 | b))));
        Add(VmEntryChecks.HostCr4FixedBits, c => Gen.OneOf(
            Gen.Constant(VmcsPatch.Empty.With(F.HostCr4, Ctx.HostCr4 & ~Cr4.VMXE)),
            NonzeroIn(~c.Caps.Cr4Fixed1).Select(b => VmcsPatch.Empty.With(F.HostCr4, Ctx.HostCr4 | b))));
        Add(VmEntryChecks.HostCr3Width, c => c.AbovePhys.Select(h => VmcsPatch.Empty.With(F.HostCr3, VmxLab.Pml4 | h)));
        Add(VmEntryChecks.HostSysenterEspCanonical, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.HostSysenterEsp, v)));
        Add(VmEntryChecks.HostSysenterEipCanonical, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.HostSysenterEip, v)));
        Add(VmEntryChecks.HostPat, c => BadPat.Select(p => c.Ctl(VmxControlKind.Exit, c.Base.Exit | ExitControls.LoadPat).With(F.HostPat, p)),
            c => c.Allowed(VmxControlKind.Exit).MayBeOne(ExitControls.LoadPat));
        Add(VmEntryChecks.HostEfer, c => BadEfer(ia32e: true).Select(e => c.Ctl(VmxControlKind.Exit, c.Base.Exit | ExitControls.LoadEfer).With(F.HostEfer, e)),
            c => c.Allowed(VmxControlKind.Exit).MayBeOne(ExitControls.LoadEfer));
        Add(VmEntryChecks.HostSelectorRplTi, c =>
            from f in Gen.Elements(F.HostEsSelector, F.HostCsSelector, F.HostSsSelector, F.HostDsSelector, F.HostFsSelector, F.HostGsSelector, F.HostTrSelector)
            from r in Gen.Choose(1, 7)
            select VmcsPatch.Empty.With(f, (ulong)(ushort)(f == F.HostCsSelector ? VmxLab.CodeSel : f == F.HostTrSelector ? VmxLab.TssSel : VmxLab.DataSel) | (uint)r));
        Add(VmEntryChecks.HostCsNonzero, c => Gen.Constant(VmcsPatch.Empty.With(F.HostCsSelector, 0)));
        Add(VmEntryChecks.HostTrNonzero, c => Gen.Constant(VmcsPatch.Empty.With(F.HostTrSelector, 0)));
        Add(VmEntryChecks.HostBaseCanonical, c =>
            from f in Gen.Elements(F.HostFsBase, F.HostGsBase, F.HostGdtrBase, F.HostIdtrBase, F.HostTrBase)
            from v in NonCanonical
            select VmcsPatch.Empty.With(f, v));
        Add(VmEntryChecks.HostAddressSpaceIa32e, c => Gen.Constant(c.Ctl(VmxControlKind.Exit, c.Base.Exit & ~ExitControls.HostAddressSpaceSize)),
            c => c.Allowed(VmxControlKind.Exit).MayBeZero(ExitControls.HostAddressSpaceSize));
        Add(VmEntryChecks.HostCr4Pae, c => Gen.Constant(VmcsPatch.Empty.With(F.HostCr4, Ctx.HostCr4 & ~Cr4.PAE)));
        Add(VmEntryChecks.HostRipCanonical, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.HostRip, v)));

        // ---- 26.3.1.1 guest control registers, debug registers, MSRs (exit reason 33)
        Add(VmEntryChecks.GuestCr0FixedBits, c => Gen.OneOf(
            Gen.Elements(Cr0.PE, Cr0.NE, Cr0.PG).Select(b => VmcsPatch.Empty.With(F.GuestCr0, c.T(F.GuestCr0) & ~b)),
            NonzeroIn(~c.Caps.Cr0Fixed1).Select(b => VmcsPatch.Empty.With(F.GuestCr0, c.T(F.GuestCr0) | b))));
        Add(VmEntryChecks.GuestCr4FixedBits, c => Gen.OneOf(
            Gen.Constant(VmcsPatch.Empty.With(F.GuestCr4, c.T(F.GuestCr4) & ~Cr4.VMXE)),
            NonzeroIn(~c.Caps.Cr4Fixed1).Select(b => VmcsPatch.Empty.With(F.GuestCr4, c.T(F.GuestCr4) | b))));
        Add(VmEntryChecks.GuestDr7Upper, c => NonzeroIn(0xFFFF_FFFF_0000_0000).Select(h =>
            c.Ctl(VmxControlKind.Entry, c.Base.Entry | EntryControls.LoadDebugControls).With(F.GuestDr7, 0x400 | h)),
            c => c.Allowed(VmxControlKind.Entry).MayBeOne(EntryControls.LoadDebugControls));
        Add(VmEntryChecks.GuestDebugctlReserved, c => NonzeroIn(0xFFFF_FFFF_FFFF_0000).Select(v =>
            c.Ctl(VmxControlKind.Entry, c.Base.Entry | EntryControls.LoadDebugControls).With(F.GuestDebugCtl, v)),
            c => c.Allowed(VmxControlKind.Entry).MayBeOne(EntryControls.LoadDebugControls));
        Add(VmEntryChecks.GuestIa32ePaging, c => Gen.Constant(VmcsPatch.Empty.With(F.GuestCr4, c.T(F.GuestCr4) & ~Cr4.PAE)));
        Add(VmEntryChecks.GuestCr4Pcide, c => Gen.Constant(c.Ctl(VmxControlKind.Entry, c.Base.Entry & ~EntryControls.Ia32eModeGuest)
                .With(F.GuestCr4, c.T(F.GuestCr4) | Cr4.PCIDE)),
            c => (c.Caps.Cr4Fixed1 & Cr4.PCIDE) != 0 && c.Allowed(VmxControlKind.Entry).MayBeZero(EntryControls.Ia32eModeGuest));
        Add(VmEntryChecks.GuestCr3Width, c => c.AbovePhys.Select(h => VmcsPatch.Empty.With(F.GuestCr3, VmxLab.Pml4 | h)));
        Add(VmEntryChecks.GuestSysenterEspCanonical, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.GuestSysenterEsp, v)));
        Add(VmEntryChecks.GuestSysenterEipCanonical, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.GuestSysenterEip, v)));
        Add(VmEntryChecks.GuestPat, c => BadPat.Select(p => c.Ctl(VmxControlKind.Entry, c.Base.Entry | EntryControls.LoadPat).With(F.GuestPat, p)),
            c => c.Allowed(VmxControlKind.Entry).MayBeOne(EntryControls.LoadPat));
        Add(VmEntryChecks.GuestEfer, c => BadEfer(ia32e: true).Select(e => c.Ctl(VmxControlKind.Entry, c.Base.Entry | EntryControls.LoadEfer).With(F.GuestEfer, e)),
            c => c.Allowed(VmxControlKind.Entry).MayBeOne(EntryControls.LoadEfer));

        // ---- 26.3.1.2 guest segment registers
        Add(VmEntryChecks.GuestTrTi, c => Gen.Choose(0, 3).Select(r => VmcsPatch.Empty.With(F.GuestTrSelector, VmxLab.TssSel | 4UL | (ulong)r)));
        Add(VmEntryChecks.GuestLdtrTi, c => Gen.Choose(0, 0xFFFF).Select(s => UsableLdtr((ulong)s | 4, 0)));
        Add(VmEntryChecks.GuestSsRpl, c => Gen.Choose(1, 3).Select(r => VmcsPatch.Empty.With(F.GuestSsSelector, VmxLab.DataSel | (ulong)r)));
        Add(VmEntryChecks.GuestTrBase, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.GuestTrBase, v)));
        Add(VmEntryChecks.GuestLdtrBase, c => from s in Gen.Choose(0, 0xFFFF) from b in NonCanonical select UsableLdtr((ulong)s & ~4UL, b));
        var segs = VmEntryChecks.GuestSegments;
        for (int i = 0; i < 6; i++)
        {
            var (sel, bas, lim, ar) = SegmentFields(i);
            var chk = segs[i];
            bool cs = i == 1, ss = i == 2, fsgs = i is 4 or 5;
            ulong arT = cs ? 0xA09BUL : 0xC093UL;
            // Base: FS/GS canonical; CS, SS, DS, ES bits 63:32 zero.
            Add(chk.Base, c => (fsgs ? NonCanonical : NonzeroIn(0xFFFF_FFFF_0000_0000).SelectMany(h => Bits(32).Select(l => h | l)))
                .Select(v => VmcsPatch.Empty.With(bas, v)));
            // Type.
            uint[] badTypes = cs ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14] : ss ? [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15] : [0, 2, 4, 6, 8, 9, 10, 12, 13, 14];
            Add(chk.Type, c => Gen.Elements(badTypes).Select(t => VmcsPatch.Empty.With(ar, arT & ~0xFUL | t)));
            Add(chk.S, c => Gen.Constant(VmcsPatch.Empty.With(ar, arT & ~0x10UL)));
            Add(chk.Present, c => Gen.Constant(VmcsPatch.Empty.With(ar, arT & ~0x80UL)));
            Add(chk.Reserved, c => NonzeroIn(0xFFFE_0F00).Select(r => VmcsPatch.Empty.With(ar, arT | r)));
            Add(chk.Granularity, c => Gen.OneOf(
                NonzeroIn(0xFFF0_0000).SelectMany(h => Bits(20).Select(l => VmcsPatch.Empty.With(ar, arT & ~0x8000UL).With(lim, h | l))),  // G = 0, limit above 1 MiB
                Bits(32).Where(l => (l & 0xFFF) != 0xFFF).Select(l => VmcsPatch.Empty.With(lim, l))));                                   // G = 1, limit[11:0] not all ones
            if (cs)
                Add(chk.Dpl, c => Gen.Choose(1, 3).Select(d => VmcsPatch.Empty.With(ar, arT | (ulong)d << 5)));
            else if (ss)
                Add(chk.Dpl, c => Gen.Choose(1, 3).Select(d => VmcsPatch.Empty.With(ar, arT | (ulong)d << 5).With(F.GuestCsAccessRights, 0xA09BUL | (ulong)d << 5)));
            else
                Add(chk.Dpl, c => from r in Gen.Choose(1, 3) from d in Gen.Choose(0, r - 1)
                                  select VmcsPatch.Empty.With(sel, VmxLab.DataSel | (ulong)r).With(ar, arT & ~0x60UL | (ulong)d << 5));
            // Virtual-8086 mode: every segment v86-valid, then one field of this one wrong.
            int seg = i;
            Add(chk.V86Base, c => from s in V86Segments from b in UInt64 where b != (s.Sel[seg] << 4) select s.Patch.With(bas, b));
            Add(chk.V86Limit, c => from s in V86Segments from l in Bits(32).Where(l => l != 0xFFFF) select s.Patch.With(lim, l));
            Add(chk.V86AccessRights, c => from s in V86Segments from a in Bits(32).Where(a => a != 0xF3) select s.Patch.With(ar, a));
        }
        Add(VmEntryChecks.GuestCsLAndDb, c => Gen.Constant(VmcsPatch.Empty.With(F.GuestCsAccessRights, 0xA09BUL | 0x4000)));
        Add(VmEntryChecks.GuestTrType, c => Gen.OneOf(
            Gen.Elements<ulong>(0UL, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15).Select(t => VmcsPatch.Empty.With(F.GuestTrAccessRights, 0x80 | t)),
            Gen.Constant(VmcsPatch.Empty.With(F.GuestTrAccessRights, 0x1_008BUL))));
        Add(VmEntryChecks.GuestTrAccessRights, c => Gen.OneOf(
            Gen.Constant(VmcsPatch.Empty.With(F.GuestTrAccessRights, 0x9BUL)),                         // S = 1
            Gen.Constant(VmcsPatch.Empty.With(F.GuestTrAccessRights, 0x0BUL)),                         // not present
            NonzeroIn(0xFFFE_0F00).Select(r => VmcsPatch.Empty.With(F.GuestTrAccessRights, 0x8B | r)),  // reserved bits
            Gen.Constant(VmcsPatch.Empty.With(F.GuestTrAccessRights, 0x808BUL))));                     // G = 1 with limit 67h
        Add(VmEntryChecks.GuestLdtrAccessRights, c => Gen.OneOf(
            Gen.Elements<ulong>(0UL, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15).Select(t => 0x80 | t),     // not an LDT
            Gen.Constant(0x92UL), Gen.Constant(0x02UL),                                                // S = 1, not present
            NonzeroIn(0xFFFE_0F00).Select(r => 0x82 | r))                                              // reserved bits
            .Select(a => UsableLdtr(0x28, 0).With(F.GuestLdtrAccessRights, a)));

        // ---- 26.3.1.3 descriptor-table registers
        Add(VmEntryChecks.GuestGdtrBase, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.GuestGdtrBase, v)));
        Add(VmEntryChecks.GuestIdtrBase, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.GuestIdtrBase, v)));
        Add(VmEntryChecks.GuestGdtrLimit, c => NonzeroIn(0xFFFF_0000).SelectMany(h => Bits(16).Select(l => VmcsPatch.Empty.With(F.GuestGdtrLimit, h | l))));
        Add(VmEntryChecks.GuestIdtrLimit, c => NonzeroIn(0xFFFF_0000).SelectMany(h => Bits(16).Select(l => VmcsPatch.Empty.With(F.GuestIdtrLimit, h | l))));

        // ---- 26.3.1.4 RIP and RFLAGS
        Add(VmEntryChecks.GuestRipUpper, c => NonzeroIn(0xFFFF_FFFF_0000_0000).SelectMany(h => Bits(32).Select(l =>
            VmcsPatch.Empty.With(F.GuestCsAccessRights, 0xC09B).With(F.GuestRip, h | l))));           // compatibility mode (L = 0)
        Add(VmEntryChecks.GuestRipCanonical, c => NonCanonical.Select(v => VmcsPatch.Empty.With(F.GuestRip, v)));
        Add(VmEntryChecks.GuestRflagsReserved, c => Gen.OneOf(
            NonzeroIn(0xFFFF_FFFF_FFC0_8028).Select(r => VmcsPatch.Empty.With(F.GuestRflags, 2 | r)),
            Bits(22).Select(f => VmcsPatch.Empty.With(F.GuestRflags, f & 0x3D_7FD5))));                // bit 1 clear
        Add(VmEntryChecks.GuestRflagsVm, c => V86Segments.Select(s => s.Patch));
        Add(VmEntryChecks.GuestRflagsIfForExternalInterrupt, c => Gen.Choose(0, 255).Select(v => Inject(0x8000_0000u | (uint)v)));

        // ---- 26.3.1.5 non-register state
        Add(VmEntryChecks.GuestActivitySupported, c => UInt32.Where(a => a > 3 || !ActivityOffered(c.Caps, a)).Select(a => VmcsPatch.Empty.With(F.GuestActivityState, a)));
        Add(VmEntryChecks.GuestActivityHltNeedsCpl0, c => Gen.Constant(VmcsPatch.Empty
                .With(F.GuestCsSelector, VmxLab.CodeSel | 3UL).With(F.GuestCsAccessRights, 0xA0FB)
                .With(F.GuestSsSelector, VmxLab.DataSel | 3UL).With(F.GuestSsAccessRights, 0xC0F3)
                .With(F.GuestActivityState, (ulong)GuestActivity.Hlt)),
            c => c.Caps.ActivityHlt);
        Add(VmEntryChecks.GuestActivityBlockingNeedsActive, c =>
            from a in Gen.Elements(new[] { 1u, 2u, 3u }.Where(a => ActivityOffered(c.Caps, a)).ToArray())
            from b in Gen.Elements(1u, 2u)
            select VmcsPatch.Empty.With(F.GuestActivityState, a).With(F.GuestInterruptibilityState, b).With(F.GuestRflags, 2 | IF),
            c => c.Caps.ActivityHlt || c.Caps.ActivityShutdown || c.Caps.ActivityWaitForSipi);
        Add(VmEntryChecks.GuestActivityInjection, c =>
            from v in Gen.Elements<uint>(0u, 3, 4, 5, 6, 7, 16, 19, 20, 28, 31)
            select VmcsPatch.Empty.With(F.GuestActivityState, (ulong)GuestActivity.Hlt).With(F.VmEntryInterruptionInformation, 0x8000_0300u | v),
            c => c.Caps.ActivityHlt);
        Add(VmEntryChecks.GuestInterruptibilityReserved, c =>
            from r in NonzeroIn(0xFFFF_FFF0) from low in Gen.Elements<uint>(0u, 1u, 2u, 8u)
            select VmcsPatch.Empty.With(F.GuestInterruptibilityState, r | low).With(F.GuestRflags, 2 | IF));
        Add(VmEntryChecks.GuestInterruptibilityStiAndMovSs, c =>
            from n in Gen.Elements<uint>(0u, 8u) from f in Gen.Elements(2UL, 2 | IF)
            select VmcsPatch.Empty.With(F.GuestInterruptibilityState, 3 | n).With(F.GuestRflags, f));
        Add(VmEntryChecks.GuestInterruptibilityStiNeedsIf, c => Gen.Elements(1u, 9u).Select(i => VmcsPatch.Empty.With(F.GuestInterruptibilityState, i)));
        Add(VmEntryChecks.GuestInterruptibilityExternalInterruptInjection, c =>
            from b in Gen.Elements(1u, 2u) from v in Gen.Choose(0, 255)
            select Inject(0x8000_0000u | (uint)v).With(F.GuestInterruptibilityState, b).With(F.GuestRflags, 2 | IF));
        Add(VmEntryChecks.GuestInterruptibilityNmiInjectionMovSs, c => Gen.Constant(Inject(0x8000_0202u).With(F.GuestInterruptibilityState, 2)));
        Add(VmEntryChecks.GuestInterruptibilitySmi, c => Gen.Elements(4u, 12u).Select(i => VmcsPatch.Empty.With(F.GuestInterruptibilityState, i)));
        Add(VmEntryChecks.GuestInterruptibilityNmiInjectionVirtualNmiBlocking, c => Gen.Constant(
                c.Ctl(VmxControlKind.PinBased, c.Base.PinBased | PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis)
                    .With(F.GuestInterruptibilityState, 8).With(F.VmEntryInterruptionInformation, 0x8000_0202u)),
            c => c.Allowed(VmxControlKind.PinBased).MayBeOne(PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis));
        Add(VmEntryChecks.GuestPendingDebugReserved, c => NonzeroIn(~0x1_500FUL).Select(r => VmcsPatch.Empty.With(F.GuestPendingDebugExceptions, r)));
        Add(VmEntryChecks.GuestPendingDebugBsSet, c =>
            from b in Bits(4) from e in Gen.Elements<ulong>(0UL, 0x1000)
            select VmcsPatch.Empty.With(F.GuestInterruptibilityState, 1).With(F.GuestRflags, 2 | IF | TF).With(F.GuestPendingDebugExceptions, b | e));
        Add(VmEntryChecks.GuestPendingDebugBsClear, c =>
            from b in Bits(4) from hlt in Gen.Elements(false, c.Caps.ActivityHlt)
            select (hlt ? VmcsPatch.Empty.With(F.GuestActivityState, (ulong)GuestActivity.Hlt) : VmcsPatch.Empty.With(F.GuestInterruptibilityState, 2))
                .With(F.GuestPendingDebugExceptions, 0x4000 | b));
        Add(VmEntryChecks.GuestPendingDebugRtm, c => Bits(4).Select(b => VmcsPatch.Empty.With(F.GuestPendingDebugExceptions, 0x1_0000 | b)));
        Add(VmEntryChecks.GuestVmcsLinkPointer, c => c.BadAddress(0x1000).Where(v => v != ulong.MaxValue).Select(v => VmcsPatch.Empty.With(F.VmcsLinkPointer, v)));
        return list;
    }

    /// <summary>Bits whose setting the allowed settings forbid: must-be-0 bits (to set) and must-be-1 bits (to clear).</summary>
    private static uint[] ViolationBits(VmxAllowedSettings s) =>
        Enumerable.Range(0, 32).Select(b => 1u << b).Where(b => (s.Allowed1 & b) == 0 || (s.Allowed0 & b) != 0).ToArray();

    /// <summary>A control value that respects <paramref name="s"/> but for one violated bit (SDM Vol. 3C, A.3-A.5).</summary>
    private static Gen<uint> ViolateAllowed(VmxAllowedSettings s) =>
        from r in UInt32
        from b in Gen.Elements(ViolationBits(s))
        let valid = (r | s.Allowed0) & s.Allowed1
        select (s.Allowed1 & b) == 0 ? valid | b : valid & ~b;

    private static bool ActivityOffered(VmxCapabilities caps, uint a) => a switch
    {
        0 => true,
        1 => caps.ActivityHlt,
        2 => caps.ActivityShutdown,
        3 => caps.ActivityWaitForSipi,
        _ => false,
    };

    /// <summary>A PAT with one entry of a reserved memory type (2, 3, 8-255; SDM Vol. 3A, 11.12.2).</summary>
    private static Gen<ulong> BadPat =>
        from i in Gen.Choose(0, 7)
        from t in Gen.Frequency((1, Gen.Elements(2, 3)), (2, Gen.Choose(8, 255)))
        select VmxTestBed.ValidPat & ~(0xFFUL << (i * 8)) | (ulong)t << (i * 8);

    /// <summary>An EFER that fails 26.2.2/26.3.1.1 for a 64-bit host/guest with paging: reserved bits set, or LMA or LME clear.</summary>
    private static Gen<ulong> BadEfer(bool ia32e) => Gen.OneOf(
        NonzeroIn(~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)).Select(r => Efer.LME | Efer.LMA | r),
        Gen.Elements(Efer.LME, Efer.LMA, 0UL, Efer.NXE | Efer.SCE).Select(e => ia32e ? e : e | Efer.LMA));

    /// <summary>A usable LDTR (present LDT, limit FFFFh) with <paramref name="selector"/> and <paramref name="baseAddress"/>.</summary>
    private static VmcsPatch UsableLdtr(ulong selector, ulong baseAddress) => VmcsPatch.Empty
        .With(F.GuestLdtrSelector, selector).With(F.GuestLdtrBase, baseAddress).With(F.GuestLdtrLimit, 0xFFFF).With(F.GuestLdtrAccessRights, 0x82);

    private static (F Sel, F Base, F Limit, F Ar) SegmentFields(int i) => i switch
    {
        0 => (F.GuestEsSelector, F.GuestEsBase, F.GuestEsLimit, F.GuestEsAccessRights),
        1 => (F.GuestCsSelector, F.GuestCsBase, F.GuestCsLimit, F.GuestCsAccessRights),
        2 => (F.GuestSsSelector, F.GuestSsBase, F.GuestSsLimit, F.GuestSsAccessRights),
        3 => (F.GuestDsSelector, F.GuestDsBase, F.GuestDsLimit, F.GuestDsAccessRights),
        4 => (F.GuestFsSelector, F.GuestFsBase, F.GuestFsLimit, F.GuestFsAccessRights),
        _ => (F.GuestGsSelector, F.GuestGsBase, F.GuestGsLimit, F.GuestGsAccessRights),
    };

    /// <summary>RFLAGS.VM = 1 with all six segments as virtual-8086 mode requires (base = selector × 16, limit FFFFh, access rights F3h; SDM Vol. 3C, 26.3.1.2).</summary>
    private static Gen<(ulong[] Sel, VmcsPatch Patch)> V86Segments =>
        Gen.ArrayOf(Gen.Choose(0, 0xFFFF).Select(s => (ulong)s), 6).Select(sels =>
        {
            var p = VmcsPatch.Empty.With(F.GuestRflags, 2 | 1UL << 17);
            for (int i = 0; i < 6; i++)
            {
                var (sel, bas, lim, ar) = SegmentFields(i);
                p = p.With(sel, sels[i]).With(bas, sels[i] << 4).With(lim, 0xFFFF).With(ar, 0xF3);
            }
            return (sels, p);
        });
}
