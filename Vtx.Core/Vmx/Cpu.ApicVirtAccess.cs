using Vtx.Vmx;

namespace Vtx;

public sealed partial class Cpu
{
    // Accesses that APIC virtualization intercepts (SDM Vol. 3C, 29.4 and 29.5):
    //  - linear accesses whose physical address lies on the APIC-access page ("virtualize APIC
    //    accesses"): virtualized to the virtual-APIC page when the controls and the page offset allow
    //    (29.4.2, 29.4.3.1), otherwise an APIC-access VM exit (44) with the page offset and the access
    //    type in the qualification (27.2.1, Table 27-6). The exit travels the fault path under a
    //    private vector (like EPT exits), so the instruction commits nothing and RIP stays on it.
    //  - RDMSR/WRMSR of 800h-8FFh with "virtualize x2APIC mode" (29.5), after the MSR bitmap said
    //    "no exit".
    // Not modelled: accesses to the APIC-access page that do not come from linear addresses (guest
    // paging-structure entries, VMCS-referenced structures: 29.4.6 leaves their treatment to the
    // implementation; Vtx lets them reach memory), and large-page translations are treated like 4-KiB
    // ones (29.4.5 allows either).

    private const byte ApicAccessExitVector = 0xFD;
    private ulong _apicAccessQual;

    // Access types of the APIC-access exit qualification, bits 15:12 (SDM Vol. 3C, Table 27-6).
    private const uint ApicAccessLinearRead = 0, ApicAccessLinearWrite = 1, ApicAccessLinearFetch = 2, ApicAccessDuringDelivery = 3;

    /// <summary>True when physical address <paramref name="pa"/> is on the APIC-access page while "virtualize APIC accesses" is in force.</summary>
    private bool IsApicAccessPage(ulong pa) => _apicAccessArmed && _nonRoot && (pa & ~0xFFFUL) == _apicAccessPage;

    /// <summary>Records an APIC-access VM exit for page offset <paramref name="offset"/> and raises it through the fault path (returns false).</summary>
    private bool RaiseApicAccessExit(uint offset, uint type)
    {
        if (_vectoringInfo != 0) type = ApicAccessDuringDelivery;
        _apicAccessQual = (offset & 0xFFF) | (ulong)type << 12;
        return Fault((ExceptionVector)ApicAccessExitVector);
    }

    /// <summary>
    /// Takes the recorded APIC-access VM exit (reason 44): fault-like, RIP at the instruction (or the
    /// boundary whose event delivery made the access, IDT-vectoring information then valid); RF saved
    /// as 1 when no event was being delivered (SDM Vol. 3C, 27.3.3).
    /// </summary>
    private void TakeApicAccessExit()
    {
        if (_vectoringInfo == 0) _rflags |= (ulong)RFlags.RF;
        VmExit(VmxExitReason.ApicAccess, _apicAccessQual, guestRip: _rip);
    }

    /// <summary>
    /// The general conditions for virtualizing an access to the APIC-access page (SDM Vol. 3C,
    /// 29.4.2, 29.4.3.1): "use TPR shadow", at most 32 bits, inside the low 4 bytes of a 16-byte
    /// aligned register, and no write of this operation virtualized before it.
    /// </summary>
    private bool ApicAccessMayVirtualize(uint offset, int size) =>
        NrProc(PrimaryProcessorBasedControls.UseTprShadow) && size <= 4 && (offset & 0xF) + (uint)size <= 4 && !_apicWriteDone;

    /// <summary>The page offsets (register starts) whose reads "APIC-register virtualization" virtualizes (SDM Vol. 3C, 29.4.2).</summary>
    private static bool ApicRegisterReadable(uint reg) => reg is 0x20 or 0x30 or 0x80 or 0xB0 or 0xD0 or 0xE0 or 0xF0
        or >= 0x100 and <= 0x270 or 0x280 or 0x300 or 0x310 or >= 0x320 and <= 0x370 or 0x380 or 0x3E0;

    /// <summary>The page offsets (register starts) whose writes "APIC-register virtualization" virtualizes (SDM Vol. 3C, 29.4.3.1).</summary>
    private static bool ApicRegisterWritable(uint reg) => reg is 0x20 or 0x80 or 0xB0 or 0xD0 or 0xE0 or 0xF0
        or 0x280 or 0x300 or 0x310 or >= 0x320 and <= 0x370 or 0x380 or 0x3E0;

    /// <summary>
    /// A linear data read of <paramref name="size"/> bytes at physical <paramref name="pa"/> on the
    /// APIC-access page: virtualized (data from the same offset of the virtual-APIC page) when allowed —
    /// offset 80h only, or with "APIC-register virtualization" the registers of 29.4.2 — otherwise an
    /// APIC-access VM exit. Returns false when the exit was raised.
    /// </summary>
    private bool ApicAccessRead(ulong pa, int size, out ulong v)
    {
        uint offset = (uint)(pa & 0xFFF);
        bool arv = NrProc2(SecondaryProcessorBasedControls.ApicRegisterVirtualization);
        if (ApicAccessMayVirtualize(offset, size) && (arv ? ApicRegisterReadable(offset & 0xFF0) : offset == VApicTpr))
        {
            v = ReadPhysical(_nr.VirtualApic + offset, size);
            return true;
        }
        v = 0;
        return RaiseApicAccessExit(offset, ApicAccessLinearRead);
    }

    /// <summary>
    /// A linear data write on the APIC-access page: virtualized (written to the virtual-APIC page, with
    /// APIC-write emulation after the operation) for offset 80h; with virtual-interrupt delivery also
    /// B0h and 300h; with "APIC-register virtualization" the registers of 29.4.3.1. Otherwise an
    /// APIC-access VM exit. Returns false when the exit was raised.
    /// </summary>
    private bool ApicAccessWrite(ulong pa, int size, ulong v)
    {
        uint offset = (uint)(pa & 0xFFF);
        bool arv = NrProc2(SecondaryProcessorBasedControls.ApicRegisterVirtualization);
        bool vid = NrProc2(SecondaryProcessorBasedControls.VirtualInterruptDelivery);
        bool allowed = arv ? ApicRegisterWritable(offset & 0xFF0) : offset == VApicTpr || (vid && offset is VApicEoi or VApicIcrLow);
        if (!ApicAccessMayVirtualize(offset, size) || !allowed) return RaiseApicAccessExit(offset, ApicAccessLinearWrite);
        WritePhysical(_nr.VirtualApic + offset, size, v);
        _apicWriteDone = true;
        _apicWriteOffset = offset;
        RequestApicVirtTrap(TrapApicWrite);
        return true;
    }

    /// <summary>An instruction fetch from the APIC-access page: always an APIC-access VM exit (SDM Vol. 3C, 29.4.2).</summary>
    private bool ApicAccessFetch(ulong pa) => RaiseApicAccessExit((uint)(pa & 0xFFF), ApicAccessLinearFetch);

    /// <summary>
    /// RDMSR/WRMSR of an x2APIC MSR (800h-8FFh) with "virtualize x2APIC mode", when the MSR bitmap did
    /// not make it exit (SDM Vol. 3C, 29.5). RDMSR 808h reads VTPR (bytes 87h:80h of the virtual-APIC
    /// page); with "APIC-register virtualization" the MSRs of the readable registers read the 8 bytes
    /// at (ECX &amp; FFh) &lt;&lt; 4. WRMSR 808h writes VTPR (#GP if bits 63:8 are set) and TPR
    /// virtualization follows; with virtual-interrupt delivery WRMSR 80Bh (EOI; #GP unless 0) is EOI
    /// virtualization and 83Fh (SELF IPI; #GP if bits 63:8 are set) self-IPI virtualization, or an
    /// APIC-write VM exit for a vector below 16. Returns true when the instruction was handled here
    /// (virtualized or faulted); false for an MSR that behaves normally.
    /// </summary>
    private bool X2ApicMsrVirtualized(uint index, bool write)
    {
        uint offset = (index & 0xFF) << 4;
        if (!write)
        {
            bool readable = index == 0x808
                || (NrProc2(SecondaryProcessorBasedControls.ApicRegisterVirtualization)
                    && (index is 0x802 or 0x803 or 0x808 or 0x80A or 0x80D or 0x80F or >= 0x810 and <= 0x828 or 0x830 or >= 0x832 and <= 0x838 or 0x83E));
            if (!readable) return false;
            ulong v = ReadPhysical(_nr.VirtualApic + offset, 8);
            _gpr[0] = (uint)v;
            _gpr[2] = v >> 32;
            return true;
        }
        ulong value = ((ulong)(uint)_gpr[2] << 32) | (uint)_gpr[0];
        bool vid = NrProc2(SecondaryProcessorBasedControls.VirtualInterruptDelivery);
        switch (index)
        {
            case 0x808:
                if ((value >> 8) != 0) return !FaultGp0();
                WritePhysical(_nr.VirtualApic + VApicTpr, 8, value);
                RequestApicVirtTrap(TrapTpr);
                return true;
            case 0x80B when vid:
                if (value != 0) return !FaultGp0();
                VApicWrite(VApicEoi, 0);
                RequestApicVirtTrap(TrapEoi);
                return true;
            case 0x83F when vid:
                if ((value >> 8) != 0) return !FaultGp0();
                WritePhysical(_nr.VirtualApic + VApicSelfIpi, 8, value);
                _selfIpiVector = (byte)value;
                RequestApicVirtTrap(TrapSelfIpi);
                return true;
            default:
                return false;
        }
    }
}
