using Vtx.Memory;
using Vtx.Memory.Paging;
using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // The VM-entry checks (SDM Vol. 3C, 26.2 and 26.3), each with a stable name, the field and
    // value it read, and its SDM section, so a failure says exactly what was wrong. The control and
    // host-state checks (26.2) may be made in any order by hardware; Vtx makes them in the order of
    // the SDM's text, controls first.

    private VmEntryFailure? _entryFailure;

    /// <summary>The failed check of the last VMLAUNCH/VMRESUME that failed with VMfailValid(7/8) or a VM-entry failure; null after a successful entry.</summary>
    public VmEntryFailure? LastVmEntryFailure => _entryFailure;

    // The current VMCS object, looked up once: VM entries and exits read and write dozens of fields.
    // Dropped wherever the set of active VMCSs changes (VMCLEAR, VMPTRLD, RESET, snapshot restore).
    private Vmcs? _vmcsCache;

    private Vmcs Vmcs
    {
        get
        {
            var c = _vmcsCache;
            if (c is not null && c.Address == _currentVmcs) return c;
            return _vmcsCache = _activeVmcs[_currentVmcs];
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private ulong F(VmcsField f) => Vmcs.Read(f);

    /// <summary>Records the first failed check; returns false so callers can write <c>return Fail(...)</c>.</summary>
    private bool Fail(VmEntryCheck check, VmcsField? field, ulong value, string description, uint qualification = 0)
    {
        _entryFailure = new VmEntryFailure(check.Class, check.Name, field, value, check.Section, description, qualification);
        return false;
    }

    private bool PhysOk(ulong pa) => (pa >> Model.PhysicalAddressBits) == 0;

    private bool PageAlignedPhys(ulong pa) => (pa & 0xFFF) == 0 && PhysOk(pa);

    private bool CheckPageField(VmcsField f, VmEntryCheck check, string what)
    {
        ulong v = F(f);
        return PageAlignedPhys(v) || Fail(check, f, v, what + " must be 4-KiB aligned and within MAXPHYADDR");
    }

    private bool CheckMsrArea(VmcsField address, VmcsField count, VmEntryCheck check)
    {
        ulong n = F(count);
        if (n == 0) return true;
        ulong a = F(address);
        if ((a & 0xF) != 0 || !PhysOk(a) || !PhysOk(a + 16 * n - 1))
            return Fail(check, address, a, "an MSR area's address must be 16-byte aligned and the whole list within MAXPHYADDR");
        return true;
    }

    /// <summary>The control fields every control-check subsection reads, read once per VM entry.</summary>
    private readonly struct ControlCheckState(uint pin, uint proc, uint proc2, uint exit, uint entry)
    {
        public readonly uint Pin = pin, Proc = proc, Proc2 = proc2, Exit = exit, Entry = entry;
    }

    /// <summary>Checks on the VM-execution, VM-exit and VM-entry control fields (SDM Vol. 3C, 26.2.1): any failure is VMfailValid(7).</summary>
    private bool CheckControls()
    {
        uint pin = (uint)F(VmcsField.PinBasedVmExecControls);
        uint proc = (uint)F(VmcsField.PrimaryProcBasedVmExecControls);
        uint proc2 = (proc & PrimaryProcessorBasedControls.ActivateSecondaryControls) != 0 ? (uint)F(VmcsField.SecondaryProcBasedVmExecControls) : 0;
        uint exit = (uint)F(VmcsField.VmExitControls);
        uint entry = (uint)F(VmcsField.VmEntryControls);
        var c = new ControlCheckState(pin, proc, proc2, exit, entry);
        return CheckExecutionControls(in c) && CheckExitControls(in c) && CheckEntryControls(in c);
    }

    /// <summary>Checks on the host-state area (SDM Vol. 3C, 26.2.2-26.2.4): any failure is VMfailValid(8).</summary>
    private bool CheckHostState() =>
        CheckHostControlRegistersAndMsrs() && CheckHostSegmentAndDescriptorTableRegisters() && CheckHostAddressSpaceSize();

    private bool GFail(VmEntryCheck check, VmcsField field, ulong value, string description, uint qualification = 0) =>
        Fail(check, field, value, description, qualification);

    /// <summary>The guest state and controls several guest-state subsections read, read once per VM entry.</summary>
    private readonly struct GuestCheckState
    {
        public uint Entry { get; init; }
        public uint Proc2 { get; init; }
        public uint Pin { get; init; }
        public bool Ia32e { get; init; }
        public bool Unrestricted { get; init; }
        public bool V86 { get; init; }
        public ulong Cr0 { get; init; }
        public ulong Cr3 { get; init; }
        public ulong Cr4 { get; init; }
        public ulong Rflags { get; init; }
        public SegmentCache Cs { get; init; }
        public SegmentCache Ss { get; init; }
        public InterruptionInfo Injection { get; init; }
    }

    /// <summary>Checks on the guest-state area (SDM Vol. 3C, 26.3.1), subsection by subsection in the SDM's order: a failure is a VM-entry failure with exit reason 33.</summary>
    private bool CheckGuestState(out PaePdptes pdptes)
    {
        pdptes = default;
        uint entry = (uint)F(VmcsField.VmEntryControls);
        uint proc = (uint)F(VmcsField.PrimaryProcBasedVmExecControls);
        uint proc2 = (proc & PrimaryProcessorBasedControls.ActivateSecondaryControls) != 0 ? (uint)F(VmcsField.SecondaryProcBasedVmExecControls) : 0;
        ulong rflags = F(VmcsField.GuestRflags);
        var s = new GuestCheckState
        {
            Entry = entry,
            Proc2 = proc2,
            Pin = (uint)F(VmcsField.PinBasedVmExecControls),
            Ia32e = (entry & EntryControls.Ia32eModeGuest) != 0,
            Unrestricted = (proc2 & SecondaryProcessorBasedControls.UnrestrictedGuest) != 0,
            V86 = (rflags & (ulong)RFlags.VM) != 0,
            Cr0 = F(VmcsField.GuestCr0),
            Cr3 = F(VmcsField.GuestCr3),
            Cr4 = F(VmcsField.GuestCr4),
            Rflags = rflags,
            Cs = new SegmentCache((ushort)F(VmcsField.GuestCsSelector), F(VmcsField.GuestCsBase), (uint)F(VmcsField.GuestCsLimit), (uint)F(VmcsField.GuestCsAccessRights)),
            Ss = new SegmentCache((ushort)F(VmcsField.GuestSsSelector), F(VmcsField.GuestSsBase), (uint)F(VmcsField.GuestSsLimit), (uint)F(VmcsField.GuestSsAccessRights)),
            Injection = new InterruptionInfo((uint)F(VmcsField.VmEntryInterruptionInformation)),
        };
        return CheckGuestControlRegistersAndMsrs(in s)
            && CheckGuestSegmentRegisters(in s)
            && CheckGuestDescriptorTableRegisters()
            && CheckGuestRipAndRflags(in s)
            && CheckGuestNonRegisterState(in s)
            && CheckGuestVmcsLinkPointer(in s)
            && CheckGuestPdptes(in s, out pdptes);
    }
}
